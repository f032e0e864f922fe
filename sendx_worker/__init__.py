"""sendx-worker: SendX contact updates delivered reliably by Celery workers.

::

    from sendx_worker import identify, track
    identify("john@example.com", first_name="John", tags=["Developer"])
    track("john@example.com", add_tags=["paid user"], remove_tags=["trial user"])
"""

from .celery_app import app, create_app
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
from .producer import identify, track
from .settings import Settings, load_settings

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
