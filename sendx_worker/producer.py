"""The producer API for web apps: validate now, deliver later.

``identify()`` and ``track()`` raise ``marshmallow.ValidationError`` naming each bad
argument before anything is enqueued, so a signup handler learns about bad input at
once instead of from a dead letter; whatever they enqueue, a worker accepts. A
keyword that does not exist (``firstname=``) is a ``TypeError``, as in any Python
call. Publishing retries through a broker blip; if the broker stays down they raise
one :class:`~sendx_worker.errors.PublishError`.

Each event is stamped with when it happened (``occurred_at``: the call, or a moment the
app gives for a backfill), and the worker applies a contact's events in that order.

Where a validated message goes is a seam: the broker, unless a :class:`Publisher` is
installed with :func:`use_publisher`. The testing kit (:mod:`sendx_worker.testing`)
installs one to record calls without a broker, or to hand them to a worker in the test.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Protocol

from celery import Celery
from celery.result import AsyncResult
from marshmallow import ValidationError

from .errors import PublishError
from .limits import MAX_TAGS, team_problem
from .masking import mask_broker_url, masked_repr
from .publish_options import check_options
from .schemas import identify_payload, track_payload
from .settings import Flavor
from .stamps import MAX_FUTURE_SKEW_S, StampError, format_stamp, stamp_from_datetime, stamp_now

__all__ = [
    "PUBLISH_RETRY_POLICY",
    "Publisher",
    "identify",
    "installed_publisher",
    "publish_to_broker",
    "track",
    "use_publisher",
]

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
    occurred_at: datetime | None = None,
    app: Celery | None = None,
    **options: Any,
) -> AsyncResult:
    """Validate and enqueue an identify (create or update ``email``'s contact).

    ``occurred_at`` (timezone-aware) is when the change happened, for a backfill from
    the app's own records; by default, the call. The worker applies each contact's
    events in that order. ``options`` are Celery's publishing options ``countdown``,
    ``eta``, ``expires``, ``priority``, ``task_id`` and ``headers`` (see
    :mod:`sendx_worker.publish_options`).
    """
    celery = _app(app)
    payload, options, stamp = _validated(
        celery,
        "identify",
        team,
        occurred_at,
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
    return _publish(celery, "sendx.identify_contact", payload, team, stamp, options)


def track(
    email: str,
    *,
    add_tags: Iterable[str] | None = None,
    remove_tags: Iterable[str] | None = None,
    team: str | None = None,
    occurred_at: datetime | None = None,
    app: Celery | None = None,
    **options: Any,
) -> AsyncResult:
    """Validate and enqueue a track (add and remove ``email``'s tags); the rest as for :func:`identify`."""
    celery = _app(app)
    payload, options, stamp = _validated(
        celery,
        "track",
        team,
        occurred_at,
        options,
        lambda flavor: track_payload(flavor, email=email, add_tags=_listed(add_tags), remove_tags=_listed(remove_tags)),
    )
    return _publish(celery, "sendx.track_tags", payload, team, stamp, options)


class Publisher(Protocol):
    """Takes the messages ``identify()``/``track()`` have validated, instead of the broker."""

    def flavor(self, app: Celery) -> Flavor:
        """The API flavor to validate for (``app`` is the one the call named, or the default)."""

    def publish(self, app: Celery, task: str, kwargs: dict[str, Any], options: dict[str, Any]) -> AsyncResult:
        """Take one validated message: the task name, its kwargs, the caller's apply_async options."""


# The installed publishers, innermost last; empty in production (one truth test per call).
# Process-wide rather than context-local on purpose: a test's recorder must also see the
# calls made by threads the test starts (a live server, an executor), which do not
# inherit a context variable.
_publishers: list[Publisher] = []


@contextmanager
def use_publisher(publisher: Publisher) -> Iterator[Publisher]:
    """Send every ``identify()``/``track()`` of this process to ``publisher`` while inside."""
    _publishers.append(publisher)
    try:
        yield publisher
    finally:
        _publishers.remove(publisher)


def installed_publisher() -> Publisher | None:
    """The innermost installed publisher; None when messages go to the broker."""
    return _publishers[-1] if _publishers else None


def _app(app: Celery | None) -> Celery:
    if app is None:
        from .celery_app import app as default_app

        return default_app
    if not isinstance(app, Celery):
        raise ValidationError({"app": [f"Must be a Celery app, not {type(app).__name__}."]})
    return app


def _validated(
    app: Celery,
    function: str,
    team: Any,
    occurred_at: Any,
    options: dict[str, Any],
    load: Callable[[Flavor], dict[str, Any]],
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The wire payload, the publishing options and the stamp; one ValidationError naming every bad argument."""
    flavor, max_delay_s = _rules(app)
    errors: dict[str, Any] = {}
    payload: dict[str, Any] = {}
    stamp = ""
    try:
        options = check_options(function, options, max_delay_s=max_delay_s)
    except ValidationError as exc:
        errors.update(_messages(exc))
    problem = None if team is None else team_problem(team)
    if problem is not None:
        errors["team"] = [problem]
    try:
        stamp = _stamp(occurred_at)
    except ValidationError as exc:
        errors.update(_messages(exc))
    try:
        payload = load(flavor)
    except ValidationError as exc:
        errors.update(_messages(exc))
    if errors:
        raise ValidationError(errors)
    return payload, options, stamp


def _rules(app: Celery) -> tuple[Flavor, float | None]:
    """The API flavor to validate for, and the longest publishing delay the broker allows."""
    publisher = installed_publisher()
    if publisher is not None:
        return publisher.flavor(app), None
    from .celery_app import settings_of

    settings = settings_of(app)
    # On RabbitMQ a delay waits in the broker; elsewhere the worker holds the message.
    amqp = settings.effective_broker_url.startswith(("amqp:", "amqps:", "pyamqp:"))
    return settings.api_flavor, None if amqp else settings.retry_cap_s


def _stamp(occurred_at: Any) -> str:
    """The event's ``occurred_at`` text: the given moment, or now (ordered within this process)."""
    if occurred_at is None:
        return format_stamp(stamp_now())
    try:
        stamp = stamp_from_datetime(occurred_at)
    except StampError as exc:
        raise ValidationError({"occurred_at": [str(exc).capitalize() + "."]}) from None
    if stamp - stamp_now() > MAX_FUTURE_SKEW_S * 1_000_000:
        raise ValidationError(
            {"occurred_at": [f"Must not be more than {MAX_FUTURE_SKEW_S:g} s in the future (is the clock right?)."]}
        )
    return format_stamp(stamp)


def _messages(exc: ValidationError) -> dict[str, Any]:
    return exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}


def _listed(tags: Any) -> Any:
    """Tags as a list, for any iterable of them (taking one more than the limit at most)."""
    if tags is None or isinstance(tags, str | bytes | bytearray | Mapping) or not isinstance(tags, Iterable):
        return tags  # the schema says what is wrong with it
    return list(itertools.islice(tags, MAX_TAGS + 1))


def _publish(
    app: Celery, task: str, payload: dict[str, Any], team: str | None, occurred_at: str, options: dict[str, Any]
) -> AsyncResult:
    kwargs: dict[str, Any] = {"payload": payload}
    if team is not None:
        kwargs["team"] = team
    kwargs["occurred_at"] = occurred_at
    if _publishers:
        return _publishers[-1].publish(app, task, kwargs, options)
    return publish_to_broker(app, task, kwargs, options)


def publish_to_broker(app: Celery, task: str, kwargs: dict[str, Any], options: dict[str, Any]) -> AsyncResult:
    """Publish one validated message on ``app``'s broker, riding out a blip; raises PublishError."""
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
        broker = mask_broker_url(app.conf.broker_url or "")
        raise PublishError(f"could not publish {task} to the broker at {broker}: {type(exc).__name__}: {exc}") from exc
