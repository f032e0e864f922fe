"""A Flask app that mounts the sendx-worker console at /ops/sendx, for its own logged-in admins."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask, session
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from sendx_worker.console import create_console


def create_app() -> Flask:
    """Your app, with the console mounted at a prefix: the console builds its URLs from it."""
    app = Flask(__name__)
    app.secret_key = os.environ.get("FLASK_SECRET_KEY", "example-only-not-a-secret")

    def authorize(environ: Mapping[str, Any]) -> str | None:
        # Your login view sets session["user"] and session["admin"]; the console asks
        # Flask's own session (the same signed cookie) who is there. None refuses (403).
        with app.request_context(dict(environ)):
            return session.get("user") if session.get("admin") else None

    console = create_console(authorize=authorize)
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/ops/sendx": console})  # type: ignore[method-assign]
    return app
