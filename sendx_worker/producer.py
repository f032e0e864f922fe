"""The producer API for web apps: validate now, deliver later.

``identify()`` and ``track()`` raise ``marshmallow.ValidationError`` naming each bad
field before anything is enqueued, so a signup handler learns about bad input at
once instead of from a dead letter. Publishing retries through a broker blip; if
the broker stays down they raise one :class:`~sendx_worker.errors.PublishError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from celery import Celery
from celery.result import AsyncResult

from .errors import PublishError
from .masking import mask_broker_url, mask_payload
from .schemas import identify_payload, track_payload
from .settings import Flavor

__all__ = ["PUBLISH_RETRY_POLICY", "identify", "track"]

# Rides out a broker restart or a failover (about 10 s in all) without making a
# signup wait much longer than that when the broker is really gone.
PUBLISH_RETRY_POLICY: Mapping[str, float] = {
    "max_retries": 5,
    "interval_start": 0.2,
    "interval_step": 0.8,
    "interval_max": 3.0,
}


def identify(
    email: str,
    *,
    new_email: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    company: str | None = None,
    birthday: str | None = None,
    custom_fields: Mapping[str, str] | None = None,
    tags: Iterable[str] | None = None,
    team: str | None = None,
    app: Celery | None = None,
    **options: Any,
) -> AsyncResult:
    """Validate and enqueue an identify (create or update ``email``'s contact).

    ``options`` are passed to Celery's ``apply_async`` (``countdown``, ``priority``, ``headers``...).
    """
    celery = _app(app)
    payload = identify_payload(
        _flavor(celery),
        email=email,
        new_email=new_email,
        first_name=first_name,
        last_name=last_name,
        company=company,
        birthday=birthday,
        custom_fields=dict(custom_fields) if custom_fields is not None else None,
        tags=list(tags) if tags is not None and not isinstance(tags, str) else tags,
    )
    return _publish(celery, "sendx.identify_contact", payload, team, options)


def track(
    email: str,
    *,
    add_tags: Iterable[str] | None = None,
    remove_tags: Iterable[str] | None = None,
    team: str | None = None,
    app: Celery | None = None,
    **options: Any,
) -> AsyncResult:
    """Validate and enqueue a track (add and remove ``email``'s tags)."""
    celery = _app(app)
    payload = track_payload(
        _flavor(celery),
        email=email,
        add_tags=list(add_tags) if add_tags is not None and not isinstance(add_tags, str) else add_tags,
        remove_tags=list(remove_tags) if remove_tags is not None and not isinstance(remove_tags, str) else remove_tags,
    )
    return _publish(celery, "sendx.track_tags", payload, team, options)


def _app(app: Celery | None) -> Celery:
    if app is not None:
        return app
    from .celery_app import app as default_app

    return default_app


def _flavor(app: Celery) -> Flavor:
    from .celery_app import settings_of

    return settings_of(app).api_flavor


def _publish(app: Celery, task: str, payload: dict[str, Any], team: str | None, options: dict[str, Any]) -> AsyncResult:
    kwargs: dict[str, Any] = {"payload": payload}
    if team is not None:
        kwargs["team"] = team
    masked = mask_payload(kwargs)
    try:
        return app.send_task(
            task,
            kwargs=kwargs,
            retry=True,
            retry_policy=dict(PUBLISH_RETRY_POLICY),
            # What Celery logs and shows in events: never a plain e-mail address.
            argsrepr="()",
            kwargsrepr=repr(masked),
            **options,
        )
    except Exception as exc:
        if isinstance(exc, PublishError):
            raise
        broker = mask_broker_url(app.conf.broker_url or "")
        raise PublishError(f"could not publish {task} to the broker at {broker}: {type(exc).__name__}: {exc}") from exc
