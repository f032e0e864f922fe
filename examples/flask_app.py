"""A Flask app that hands contact updates to sendx-worker (docs/recipes/flask.md).

Run it with ``flask --app examples.flask_app run`` after setting CELERY_BROKER_URL
to the broker the worker consumes from.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request
from marshmallow import ValidationError

from sendx_worker import PublishError, identify, track


def create_app() -> Flask:
    """The application: two endpoints that enqueue, and the two errors they can meet."""
    app = Flask(__name__)

    @app.post("/signup")
    def signup() -> Any:
        data = request.get_json(silent=True) or {}
        result = identify(
            data.get("email"),
            first_name=data.get("first_name"),
            last_name=data.get("last_name"),
            tags=["Signed up"],
        )
        return jsonify(task_id=result.id), 202

    @app.post("/upgrade")
    def upgrade() -> Any:
        data = request.get_json(silent=True) or {}
        result = track(data.get("email"), add_tags=["paid user"], remove_tags=["trial user"])
        return jsonify(task_id=result.id), 202

    @app.errorhandler(ValidationError)
    def invalid(error: ValidationError) -> Any:
        # Raised before anything is enqueued; ``messages`` names each bad field.
        return jsonify(errors=error.messages), 400

    @app.errorhandler(PublishError)
    def broker_down(error: PublishError) -> Any:
        # The broker stayed unreachable through the publish retries (about ten seconds).
        app.logger.error("could not enqueue for SendX: %s", error)
        return jsonify(error="temporarily unavailable, please retry"), 503, {"Retry-After": "30"}

    return app


app = create_app()
