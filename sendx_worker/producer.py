"""The producer API for web apps: validate now, deliver later.

``identify()`` and ``track()`` raise ``marshmallow.ValidationError`` naming each bad
argument before anything is enqueued, so a signup handler learns about bad input at
once instead of from a dead letter; whatever they enqueue, a worker accepts. A
keyword that does not exist (``firstname=``) is a ``TypeError``, as in any Python
call. Publishing retries through a broker blip; if the broker stays down they raise
one :class:`~sendx_worker.errors.PublishError`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from celery import Celery
from celery.result import AsyncResult
from kombu.utils.url import maybe_sanitize_url
from marshmallow import ValidationError

from .errors import PublishError
from .limits import MAX_TAGS, team_problem
from .masking import masked_repr
from .publish_options import check_options
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

    ``options`` are Celery's publishing options ``countdown``, ``eta``, ``expires``,
    ``priority``, ``task_id`` and ``headers`` (see :mod:`sendx_worker.publish_options`).
    """
    celery = _app(app)
    payload, options = _validated(
        celery,
        "identify",
        team,
        options,
        lambda flavor: identify_payload(
            flavor,
            email=email,
            new_email=new_email,
            first_name=first_name,
            last_name=last_name,
            company=company,
            birthday=birthday,
            custom_fields=dict(custom_fields) if isinstance(custom_fields, Mapping) else custom_fields,
            tags=_listed(tags),
        ),
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
    """Validate and enqueue a track (add and remove ``email``'s tags); ``options`` as for :func:`identify`."""
    celery = _app(app)
    payload, options = _validated(
        celery,
        "track",
        team,
        options,
        lambda flavor: track_payload(flavor, email=email, add_tags=_listed(add_tags), remove_tags=_listed(remove_tags)),
    )
    return _publish(celery, "sendx.track_tags", payload, team, options)


def _app(app: Celery | None) -> Celery:
    if app is None:
        from .celery_app import app as default_app

        return default_app
    if not isinstance(app, Celery):
        raise ValidationError({"app": [f"Must be a Celery app, not {type(app).__name__}."]})
    return app


def _validated(
    app: Celery, function: str, team: Any, options: dict[str, Any], load: Callable[[Flavor], dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The wire payload and the publishing options; one ValidationError naming every bad argument."""
    from .celery_app import settings_of

    settings = settings_of(app)
    # On RabbitMQ a delay waits in the broker; elsewhere the worker holds the message.
    amqp = settings.effective_broker_url.startswith(("amqp:", "amqps:", "pyamqp:"))
    errors: dict[str, Any] = {}
    payload: dict[str, Any] = {}
    try:
        options = check_options(function, options, max_delay_s=None if amqp else settings.retry_cap_s)
    except ValidationError as exc:
        errors.update(_messages(exc))
    problem = None if team is None else team_problem(team)
    if problem is not None:
        errors["team"] = [problem]
    try:
        payload = load(settings.api_flavor)
    except ValidationError as exc:
        errors.update(_messages(exc))
    if errors:
        raise ValidationError(errors)
    return payload, options


def _messages(exc: ValidationError) -> dict[str, Any]:
    return exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}


def _listed(tags: Any) -> Any:
    """Tags as a list, for any iterable of them (taking one more than the limit at most)."""
    if tags is None or isinstance(tags, str | bytes | bytearray | Mapping) or not isinstance(tags, Iterable):
        return tags  # the schema says what is wrong with it
    return list(itertools.islice(tags, MAX_TAGS + 1))


def _publish(app: Celery, task: str, payload: dict[str, Any], team: str | None, options: dict[str, Any]) -> AsyncResult:
    kwargs: dict[str, Any] = {"payload": payload}
    if team is not None:
        kwargs["team"] = team
    try:
        return app.send_task(
            task,
            kwargs=kwargs,
            retry=True,
            retry_policy=dict(PUBLISH_RETRY_POLICY),
            # What Celery logs and shows in events: never a plain e-mail address.
            argsrepr="()",
            kwargsrepr=masked_repr(kwargs),
            **options,
        )
    except Exception as exc:
        if isinstance(exc, PublishError):
            raise
        broker = maybe_sanitize_url(app.conf.broker_url or "")
        raise PublishError(f"could not publish {task} to the broker at {broker}: {type(exc).__name__}: {exc}") from exc
