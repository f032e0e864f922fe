"""The sendx-worker console inside this Django project, at /ops/sendx/, for staff only."""

from __future__ import annotations

import io
from functools import cache
from typing import Any

from django.contrib.auth.decorators import user_passes_test
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from sendx_worker.console import ConsoleApp, create_console, remote_user

MOUNT = "/ops/sendx"


@cache
def console() -> ConsoleApp:
    """One console per process, built on first use from the environment (CELERY_BROKER_URL, SENDX_*)."""
    # Django has authenticated the user already: the console trusts REMOTE_USER, set below.
    return create_console(authorize=remote_user)


@csrf_exempt  # the console checks its own POSTs: same origin, and its own form token
@user_passes_test(lambda user: user.is_staff)
def sendx_console(request: HttpRequest, path: str = "/") -> HttpResponse:
    """Hand the request to the console's WSGI app, mounted under MOUNT, as the logged-in user."""
    environ = {
        **request.META,
        "wsgi.input": io.BytesIO(request.body),
        "SCRIPT_NAME": request.META.get("SCRIPT_NAME", "").rstrip("/") + MOUNT,
        "PATH_INFO": path,
        "REMOTE_USER": request.user.get_username(),
    }
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        answer.update(status=status, headers=headers)

    body = b"".join(console()(environ, start_response))
    response = HttpResponse(body, status=int(answer["status"].split()[0]))
    for name, value in answer["headers"]:
        if name.lower() == "set-cookie":
            response.cookies.load(value)  # Django sends its cookies itself
        else:
            response[name] = value
    return response
