"""The console as a WSGI application: routing, the guard on every request, rendering.

``create_console()`` builds one for the environment's settings; ``sendx-worker
console`` serves it, and a host app can mount it at a prefix (it builds every URL
from ``SCRIPT_NAME``). See docs/recipes/console-django.md and console-flask.md.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from importlib import resources
from typing import Any

from celery import Celery
from kombu.exceptions import OperationalError

from ..proxies import redact_url
from ..settings import Settings, load_settings
from .actions import Actions
from .breaker import BreakerProvider, breaker_status
from .errors import describe_error
from .guard import CSRF_COOKIE, CSRF_FIELD, Authorize, Guard, new_csrf_token
from .http import HTTPError, Request, Response
from .jobs import Jobs
from .queues import broker_kind, probe_queues
from .records import RecordBook
from .render import environment
from .sampler import INTERVAL_S, Sample, Sampler
from .workers import ask_workers

__all__ = ["ConsoleApp", "create_console"]

logger = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
Handler = Callable[["ConsoleApp", Request, re.Match[str]], Response]

STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


class ConsoleApp:
    """The operator's console for one broker: a WSGI callable."""

    def __init__(
        self,
        app: Celery,
        settings: Settings,
        *,
        authorize: Authorize | None = None,
        read_only: bool | None = None,
        breaker: BreakerProvider | None = None,
        sample_interval_s: float = INTERVAL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.settings = settings
        self.clock = clock
        self.guard = Guard(
            settings.console,
            authorize=authorize,
            read_only=settings.console.read_only if read_only is None else read_only,
        )
        self.breaker: BreakerProvider = breaker or (lambda: breaker_status(settings))
        from ..deadletter import DeadLetterQueue

        self.book = RecordBook(DeadLetterQueue(app.connection_for_write), clock=clock)
        self.actions = Actions(app, self.book, clock=clock)
        self.jobs = Jobs()
        self.sampler = Sampler(self._sample, interval_s=sample_interval_s, clock=clock)
        self.broker = broker_kind(app)
        self.broker_url = redact_url(settings.effective_broker_url)
        self.templates = environment()
        from . import pages

        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("GET", re.compile(r"/"), pages.overview),
            ("GET", re.compile(r"/dead"), pages.dead_list),
            ("GET", re.compile(r"/dead/(?P<id>[^/]{1,200})"), pages.dead_detail),
            ("POST", re.compile(r"/dead/replay"), pages.replay),
            ("POST", re.compile(r"/dead/purge"), pages.purge),
            ("GET", re.compile(r"/jobs/(?P<id>[0-9a-f]{12})"), pages.job),
            ("POST", re.compile(r"/jobs/(?P<id>[0-9a-f]{12})/cancel"), pages.cancel_job),
            ("GET", re.compile(r"/static/(?P<name>console\.(css|js))"), _static),
        ]

    def __call__(self, environ: Mapping[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self._respond(request)
        except HTTPError as exc:
            response = Response.text(exc.status, exc.message, exc.headers)
        except Exception as exc:
            logger.error("console request failed: %s %s", request.method, request.path, exc_info=True)
            # Most often the broker is down; the text names the error, never the broker's password.
            unreachable = isinstance(exc, OSError | OperationalError)
            status = HTTPStatus.SERVICE_UNAVAILABLE if unreachable else HTTPStatus.INTERNAL_SERVER_ERROR
            response = Response.text(status, f"the console failed: {describe_error(exc, self.settings)}")
        start_response(response.status_line(), response.wsgi_headers())
        return [b"" if request.method == "HEAD" else response.body]

    def _respond(self, request: Request) -> Response:
        request.user = self.guard.identify(request)
        method = "GET" if request.method == "HEAD" else request.method
        # Fixed paths first, so that /dead/purge is never taken for the dead letter "purge".
        routes = sorted(self._routes, key=lambda route: bool(route[1].groupindex))
        for literal in (True, False):
            allowed = []
            for route_method, pattern, handler in routes:
                match = pattern.fullmatch(request.path)
                if match is None or bool(pattern.groupindex) == literal:
                    continue
                if route_method != method:
                    allowed.append(route_method)
                    continue
                if method == "POST":
                    self.guard.check_change(request, request.cookies.get(CSRF_COOKIE))
                return handler(self, request, match)
            if allowed:
                raise HTTPError(HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed", [("Allow", ", ".join(allowed))])
        raise HTTPError(HTTPStatus.NOT_FOUND, "not found")

    def render(self, request: Request, template: str, **values: Any) -> Response:
        """A page: the template with the request, the user and the form token (set as a cookie if new)."""
        token = request.cookies.get(CSRF_COOKIE) or ""
        headers = []
        if not token:
            token = new_csrf_token()
            secure = "; Secure" if request.scheme == "https" else ""
            path = request.script_name or "/"
            headers.append(("Set-Cookie", f"{CSRF_COOKIE}={token}; Path={path}; HttpOnly; SameSite=Strict{secure}"))
        body = self.templates.get_template(template).render(
            request=request,
            url=request.url,
            who=request.user,
            read_only=self.guard.read_only,
            csrf_field=CSRF_FIELD,
            csrf=token,
            broker=self.broker,
            broker_url=self.broker_url,
            refresh=values.pop("refresh", None),
            **values,
        )
        return Response(body.encode(), headers=headers)

    def _sample(self) -> Sample:
        at = self.clock()
        queues = workers = None
        queue_error = worker_error = None
        try:
            queues = probe_queues(self.app)
        except Exception as exc:
            queue_error = describe_error(exc, self.settings)
        try:
            workers = ask_workers(self.app)
        except Exception as exc:
            worker_error = describe_error(exc, self.settings)
        return Sample(at, queues, workers, queue_error, worker_error)

    def close(self) -> None:
        """Stop the sampler and the jobs, and release the broker connections."""
        self.jobs.cancel_all()
        self.sampler.stop()
        self.app.close()


def _static(console: ConsoleApp, request: Request, match: re.Match[str]) -> Response:
    name = match["name"]
    data = resources.files("sendx_worker.console").joinpath("static", name).read_bytes()
    return Response(data, content_type=STATIC_TYPES[name[name.rfind(".") :]], no_store=False)


def create_console(
    settings: Settings | None = None,
    *,
    app: Celery | None = None,
    authorize: Authorize | None = None,
    read_only: bool | None = None,
    breaker: BreakerProvider | None = None,
    sample_interval_s: float = INTERVAL_S,
) -> ConsoleApp:
    """The console WSGI app for ``settings`` (default: the environment's).

    ``authorize(environ)`` returns who is asking, or None to refuse: for a host app
    that authenticates its users itself (``remote_user`` trusts ``REMOTE_USER``).
    Without it, ``SENDX_CONSOLE_TOKEN``/``SENDX_CONSOLE_USERS`` are required, else
    only loopback clients are served. ``read_only`` overrides ``SENDX_CONSOLE_READ_ONLY``;
    ``breaker`` replaces the circuit breaker's provider; ``sample_interval_s`` is how
    often the queues and workers are sampled for the overview's rates.
    """
    from ..cli.broker import pinned_app

    resolved = settings if settings is not None else load_settings()
    return ConsoleApp(
        app if app is not None else pinned_app(resolved),
        resolved,
        authorize=authorize,
        read_only=read_only,
        breaker=breaker,
        sample_interval_s=sample_interval_s,
    )
