"""The SendX client: one attempt per call, no sleeping, no retry loop.

Retrying is the broker's job: a failed call raises an error from
:mod:`sendx_worker.errors` that says whether a retry may help
(:class:`~sendx_worker.errors.TransientError`) and whether SendX may already
have applied the request (``may_have_reached_sendx``).
"""

from __future__ import annotations

import importlib.metadata
import logging
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.util import Timeout

from ..errors import ApiError
from ..masking import mask_email
from ..settings import Credentials, Flavor, Settings
from .classify import Operation
from .failures import decode_body, error_from_exception, error_from_response
from .flavors import PreparedCall, RequestBuilder
from .results import IdentifyResult, TrackResult, contact_in
from .session import ThreadSessions, new_request, remembered, request_headers, url_with_query

__all__ = ["CONNECT_TIMEOUT_CAP_S", "OnResponse", "SendxClient"]

logger = logging.getLogger(__name__)

OnResponse = Callable[[str, int | None, float], None]
"""Called after every attempt with (operation, HTTP status or None, elapsed seconds)."""

# A TCP connect either succeeds within a couple of round trips or not at all;
# just over 3 s lets one SYN retransmission through without holding a worker
# slot for the whole read timeout on a dead host.
CONNECT_TIMEOUT_CAP_S = 3.05


class SendxClient:
    """Calls SendX's identify and track endpoints in the v1 or rest flavor; thread-safe."""

    def __init__(
        self,
        *,
        base_url: str,
        flavor: Flavor,
        credentials: Credentials,
        timeout_s: float = 10.0,
        pool_size: int = 10,
        on_response: OnResponse | None = None,
        proxy: str | None = None,
        ca_bundle: str | None = None,
    ) -> None:
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, not {timeout_s!r}")
        self._builder = RequestBuilder(
            flavor=flavor, base_url=base_url, credentials=credentials, user_agent=_user_agent()
        )
        self._secret = credentials.api_key
        self._team_id = credentials.team_id
        self.timeout: tuple[float, float] = (min(timeout_s, CONNECT_TIMEOUT_CAP_S), timeout_s)
        # Prepared once: what every call sends, and urllib3's form of the timeouts.
        self._headers = request_headers(self._builder.base_url, self._builder.headers)
        self._urls: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
        self._timeout = Timeout(connect=self.timeout[0], read=self.timeout[1])
        # Every call goes to base_url (redirects are not followed): one scheme, one proxy.
        proxies = {urlsplit(self._builder.base_url).scheme: proxy} if proxy else {}
        self._sessions = ThreadSessions(
            pool_size=pool_size, proxies=proxies, verify=ca_bundle if ca_bundle is not None else True
        )
        self._on_response = on_response

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        team: str | None = None,
        *,
        pool_size: int = 10,
        on_response: OnResponse | None = None,
    ) -> SendxClient:
        """A client for ``team`` (None: the default team) configured from ``settings``.

        Its proxy is the one the settings' proxy variables give for the base URL
        (none when ``NO_PROXY`` covers its host), and its CA bundle the settings' one.
        """
        return cls(
            base_url=settings.base_url,
            flavor=settings.api_flavor,
            credentials=settings.credentials_for(team),
            timeout_s=settings.timeout_s,
            pool_size=pool_size,
            on_response=on_response,
            proxy=settings.proxies.for_url(settings.base_url),
            ca_bundle=None if settings.ca_bundle is None else str(settings.ca_bundle),
        )

    @property
    def flavor(self) -> Flavor:
        """``"v1"`` or ``"rest"``."""
        return self._builder.flavor

    @property
    def base_url(self) -> str:
        """The base URL, without a trailing slash."""
        return self._builder.base_url

    @property
    def pool_size(self) -> int:
        """Connections kept per thread's session: size it to the worker concurrency."""
        return self._sessions.pool_size

    def identify(self, payload: Mapping[str, Any]) -> IdentifyResult:
        """Create or update a contact; ``payload`` is the validated camelCase identify body."""
        status, body, elapsed = self._call("identify", payload)
        return IdentifyResult(status=status, contact=contact_in(body), elapsed_s=elapsed)

    def track(self, payload: Mapping[str, Any]) -> TrackResult:
        """Add and remove tags; ``payload`` is ``{"email", "addTags", "removeTags"}``."""
        status, _body, elapsed = self._call("track", payload)
        return TrackResult(status=status, elapsed_s=elapsed)

    def close(self) -> None:
        """Close the connections; the client stays usable and reconnects on the next call."""
        self._sessions.close()

    def __enter__(self) -> SendxClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SendxClient(flavor={self.flavor!r}, base_url={self.base_url!r}, team_id={self._team_id!r})"

    def _call(self, operation: Operation, payload: Mapping[str, Any]) -> tuple[int, Any, float]:
        call = self._builder.build(operation, payload)
        data = call.encoded_body()
        response: requests.Response | None = None
        error: ApiError | None = None
        started = time.perf_counter()
        try:
            response = self._send(call, data)
        except requests.RequestException as exc:
            # Built here, raised below: outside the except block the error does
            # not carry requests' exception (whose text holds the URL) as context.
            error = error_from_exception(call, exc)
        elapsed = time.perf_counter() - started
        self._notify(operation, None if response is None else response.status_code, elapsed)
        debug = logger.isEnabledFor(logging.DEBUG)  # the e-mail is masked only for a line that is written
        if response is None:
            assert error is not None
            if debug:
                logger.debug("sendx %s email=%s failed after %.3fs: %s", operation, _who(payload), elapsed, error)
            raise error
        body = decode_body(response, secret=self._secret)
        error = error_from_response(call, response, body)
        if error is not None:
            if debug:
                logger.debug("sendx %s email=%s failed after %.3fs: %s", operation, _who(payload), elapsed, error)
            raise error
        if debug:
            status = response.status_code
            logger.debug("sendx %s email=%s status=%d elapsed=%.3fs", operation, _who(payload), status, elapsed)
        return response.status_code, body, elapsed

    def _send(self, call: PreparedCall, data: bytes) -> requests.Response:
        return self._sessions.send(
            new_request(call.method, self._url_of(call), self._headers, data), timeout=self._timeout
        )

    def _url_of(self, call: PreparedCall) -> str:
        return remembered(
            self._urls, (call.url, tuple(call.params.items())), lambda: url_with_query(call.url, call.params)
        )

    def _notify(self, operation: Operation, status: int | None, elapsed: float) -> None:
        if self._on_response is None:
            return
        try:
            self._on_response(operation, status, elapsed)
        except Exception:
            # A metrics hook must never turn a delivered call into a failed one.
            logger.debug("on_response hook failed for %s", operation, exc_info=True)


def _who(payload: Mapping[str, Any]) -> str:
    return mask_email(str(payload.get("email", "")))


def _user_agent() -> str:
    # Read late: the package's __init__ imports the Celery app, which may import this module.
    version = getattr(sys.modules.get("sendx_worker"), "__version__", None)
    if not isinstance(version, str):
        try:
            version = importlib.metadata.version("sendx-worker")
        except importlib.metadata.PackageNotFoundError:
            version = "unknown"
    return f"sendx-worker/{version}"
