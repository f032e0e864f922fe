"""sendx-worker: SendX contact updates delivered reliably by Celery workers.

::

    from sendx_worker import identify, track
    identify("john@example.com", first_name="John", tags=["Developer"])
    track("john@example.com", add_tags=["paid user"], remove_tags=["trial user"])
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import (
    ApiError,
    AuthError,
    ConfigurationError,
    ConnectionFailed,
    ContactNotFound,
    InvalidPayload,
    PermanentError,
    PublishError,
    RateLimited,
    Rejected,
    SendxError,
    ServerError,
    TransientError,
)
from .lazy import lazy_exports
from .settings import Settings, load_settings

if TYPE_CHECKING:
    from .celery_app import app, create_app
    from .producer import identify, track

__version__ = "0.1.0"

__all__ = [
    # Errors
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
    # Configuration
    "Settings",
    "TransientError",
    # Metadata
    "__version__",
    # The Celery app
    "app",
    "create_app",
    # Producing
    "identify",
    "load_settings",
    "track",
]


# Celery is imported on first use, not by `import sendx_worker`: the emulator and
# most CLI commands start faster, and `celery -A sendx_worker` still finds `app`.
_LAZY = {
    "app": ".celery_app",
    "create_app": ".celery_app",
    "identify": ".producer",
    "track": ".producer",
}

__getattr__ = lazy_exports(__name__, _LAZY, globals())
