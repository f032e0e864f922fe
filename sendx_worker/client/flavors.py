"""How each SendX API flavor shapes a request: URL, headers, query and body.

=========  =====================================  ==========================================
           v1                                     rest
=========  =====================================  ==========================================
auth       header ``api_key``, query ``team_id``  header ``X-Team-ApiKey``
identify   body as given                          body as given, minus ``birthday``
track      ``email`` moved to the query           body as given (``email`` in the body)
=========  =====================================  ==========================================

The REST API has no ``birthday`` field (SENDX_API.md; the official SDK's
``IdentifyRequest`` has none), so the rest flavor leaves it out rather than send
SendX a field it does not define.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigurationError, InvalidPayload
from ..settings import Credentials, Flavor
from .classify import Operation

__all__ = ["PreparedCall", "RequestBuilder", "check_base_url"]

_PATHS: Mapping[Operation, str] = {"identify": "/contact/identify", "track": "/contact/track"}
_REST_ONLY_FIELDS_DROPPED = ("birthday",)


@dataclass(frozen=True)
class PreparedCall:
    """One request ready to send; ``path`` has no query string and no secret."""

    operation: Operation
    method: str
    url: str
    path: str
    params: Mapping[str, str]
    headers: Mapping[str, str] = field(repr=False)
    body: Mapping[str, Any]

    def encoded_body(self) -> bytes:
        """The body as compact UTF-8 JSON; raises InvalidPayload if it is not JSON."""
        try:
            text = json.dumps(self.body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise InvalidPayload(f"the {self.operation} payload is not JSON-serializable: {exc}") from None
        return text.encode("utf-8")


class RequestBuilder:
    """Builds :class:`PreparedCall` objects for one flavor, base URL and set of credentials."""

    def __init__(self, *, flavor: Flavor, base_url: str, credentials: Credentials, user_agent: str) -> None:
        if flavor not in ("v1", "rest"):
            raise ConfigurationError("SENDX_API_FLAVOR", f"must be 'v1' or 'rest', not {flavor!r}")
        check_base_url(base_url)
        key = credentials.api_key
        if not key or key != key.strip() or any(ch.isspace() or not ch.isprintable() for ch in key):
            raise ConfigurationError("SENDX_API_KEY", "must be a non-empty key without spaces or control characters")
        if flavor == "v1" and not credentials.team_id:
            raise ConfigurationError("SENDX_TEAM_ID", "a team id is required with SENDX_API_FLAVOR=v1")
        self.flavor: Flavor = flavor
        self.base_url = base_url.rstrip("/")
        self._base_path = urlsplit(self.base_url).path
        self._team_id = credentials.team_id or ""
        auth_header = "api_key" if flavor == "v1" else "X-Team-ApiKey"
        # Read-only and shared by every call: built once.
        self.headers: Mapping[str, str] = MappingProxyType(
            {
                auth_header: key,
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": user_agent,
            }
        )

    def build(self, operation: Operation, payload: Mapping[str, Any]) -> PreparedCall:
        """The request for ``operation`` with ``payload`` (wire format, camelCase)."""
        body = dict(payload)
        params: dict[str, str] = {}
        if self.flavor == "v1":
            params["team_id"] = self._team_id
            if operation == "track":
                email = body.pop("email", None)
                if not isinstance(email, str) or not email:
                    raise InvalidPayload("a track payload needs an email", messages={"email": ["Missing data."]})
                params["email"] = email
        elif operation == "identify":
            for name in _REST_ONLY_FIELDS_DROPPED:
                body.pop(name, None)
        suffix = _PATHS[operation]
        return PreparedCall(
            operation=operation,
            method="POST",
            url=self.base_url + suffix,
            path=self._base_path + suffix,
            params=params,
            headers=self.headers,
            body=body,
        )


def check_base_url(url: str) -> None:
    """Raise ConfigurationError unless ``url`` is https, or http on a loopback host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError("SENDX_BASE_URL", f"must be an http(s) URL, not {url!r}")
    if parts.query or parts.fragment:
        raise ConfigurationError("SENDX_BASE_URL", "must not have a query string or fragment")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigurationError(
            "SENDX_BASE_URL", "must use https (plain http is allowed only for a loopback host such as the emulator)"
        )


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
