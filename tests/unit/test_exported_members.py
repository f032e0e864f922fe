"""The public surface of ``sendx_worker`` is exactly what ``__all__`` promises."""

from __future__ import annotations

import subprocess
import sys

import sendx_worker


def test_every_exported_name_resolves() -> None:
    for name in sendx_worker.__all__:
        assert getattr(sendx_worker, name) is not None, name


def test_the_public_surface_is_stable() -> None:
    assert sorted(sendx_worker.__all__) == sorted(
        [
            "identify",
            "track",
            "app",
            "create_app",
            "Settings",
            "load_settings",
            "ApiError",
            "AuthError",
            "ConfigurationError",
            "ConnectionFailed",
            "ContactNotFound",
            "InvalidPayload",
            "PermanentError",
            "PublishError",
            "RateLimited",
            "Rejected",
            "SendxError",
            "ServerError",
            "TransientError",
            "__version__",
        ]
    )


def test_the_celery_app_is_importable_as_sendx_worker_app() -> None:
    from celery import Celery

    assert isinstance(sendx_worker.app, Celery)
    sendx_worker.app.loader.import_default_modules()  # what `celery worker` does at start
    assert {"sendx.identify_contact", "sendx.track_tags"} <= set(sendx_worker.app.tasks.keys())


def test_importing_the_package_does_not_import_celery() -> None:
    code = "import sys, sendx_worker; print('celery' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
