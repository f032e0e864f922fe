"""``sendx_recorder``: ``identify()``/``track()`` recorded at enqueue, with no broker, and asserted on.

Calls are validated exactly as in production (the same schemas, the same flavor), so a
call that would raise ``ValidationError`` in production raises it here too, and is not
recorded. While a worker fixture is active as well, each recorded call is also handed
to it, so a test can both assert on what was sent and watch it being delivered.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..emulator.store import ContactStore
from ..emulator.wire import Rejection, parse_identify, parse_track
from ..schemas.casing import camelcase
from ..settings import Flavor, load_settings
from ..stamps import stamp_now
from .calls import OPERATIONS, RecordedCall, describe_call, describe_fields, in_event_order, python_name

if TYPE_CHECKING:
    from celery import Celery
    from celery.result import AsyncResult

    from ..producer import Publisher

__all__ = ["Recorder"]

_IDENTIFY_FIELDS = ("new_email", "first_name", "last_name", "company", "birthday", "custom_fields", "tags")
# The emulator's store keeps contacts per team; these calls name the team or not.
_DEFAULT_TEAM = ""


class Recorder:
    """Records every ``identify()``/``track()`` of this process while :meth:`recording`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[RecordedCall] = []
        self._next: Publisher | None = None

    # -- the producer seam (sendx_worker.producer.Publisher) --------------------------------

    def flavor(self, app: Celery) -> Flavor:
        """The flavor production would validate for: the app's settings, or the environment's."""
        if self._next is not None:
            return self._next.flavor(app)
        from ..celery_app import app as default_app
        from ..celery_app import settings_of

        if app is default_app and not app.configured:
            # What the default app would read when configured, without configuring it
            # (which would create the embedded broker's folder in the working directory).
            return load_settings().api_flavor
        return settings_of(app).api_flavor

    def publish(self, app: Celery, task: str, kwargs: dict[str, Any], options: dict[str, Any]) -> AsyncResult:
        """Record one validated message; hand it on to a worker fixture if one is active."""
        options = dict(options)
        task_id = str(options.setdefault("task_id", str(uuid.uuid4())))
        with self._lock:
            call = RecordedCall(
                operation=OPERATIONS[task],
                task=task,
                kwargs=dict(kwargs),
                options={name: value for name, value in options.items() if name != "task_id"},
                task_id=task_id,
                flavor=self.flavor(app),
                sequence=len(self._calls),
                recorded_stamp=stamp_now(),
            )
            self._calls.append(call)
        if self._next is not None:
            return self._next.publish(app, task, kwargs, options)
        from celery.result import EagerResult

        # EagerResult: an AsyncResult that needs no result backend (nothing runs).
        return EagerResult(task_id, None, "PENDING", name=task)

    @contextmanager
    def recording(self) -> Iterator[Recorder]:
        """Record while inside; calls pass on to a publisher already installed (a worker fixture)."""
        from ..producer import installed_publisher, use_publisher

        self._next = installed_publisher()
        try:
            with use_publisher(self):
                yield self
        finally:
            self._next = None

    # -- what was recorded ------------------------------------------------------------------

    @property
    def calls(self) -> list[RecordedCall]:
        """Every recorded call, in call order."""
        with self._lock:
            return list(self._calls)

    def calls_for(self, email: str, operation: str | None = None) -> list[RecordedCall]:
        """The calls about ``email`` (``operation``: only "identify" or "track")."""
        wanted = email.strip()
        return [
            call for call in self.calls if call.email == wanted and (operation is None or call.operation == operation)
        ]

    def clear(self) -> None:
        """Forget the calls recorded so far (say, those a test's set-up made)."""
        with self._lock:
            self._calls.clear()

    def contact(self, email: str, team: str | None = None) -> dict[str, Any] | None:
        """The contact as SendX would hold it after the recorded calls (None if they create none).

        The calls are applied in event order (:func:`~sendx_worker.testing.calls.in_event_order`)
        with the SendX emulator's own merge semantics: properties overwrite, tags accumulate,
        track adds then removes, custom fields merge and ``++``/``--`` count. A call SendX
        would refuse changes nothing, as in SendX: a track before the contact exists (404),
        an increment of a field that is not a number (422).
        """
        store = ContactStore()
        for call in in_event_order(self.calls):
            if call.team != team:
                continue
            try:
                if call.operation == "identify":
                    store.identify(_DEFAULT_TEAM, parse_identify(call.payload, call.flavor))
                else:
                    # The task payload carries the e-mail in the body (v1 moves it to the query).
                    store.track(_DEFAULT_TEAM, parse_track(call.payload, "rest", None))
            except Rejection:
                continue
        return store.get(_DEFAULT_TEAM, email.strip())

    # -- assertions -------------------------------------------------------------------------

    def assert_identified(self, email: str, **fields: Any) -> RecordedCall:
        """Assert an ``identify(email, ...)`` was made with each of ``fields`` as given; return it.

        ``fields`` are ``identify()``'s own arguments (``first_name="Ada"``, ``tags=[...]``,
        ``custom_fields={...}``); fields not named are not checked. Tags compare as a set.
        """
        unknown = sorted(set(fields) - set(_IDENTIFY_FIELDS))
        if unknown:
            raise TypeError(f"assert_identified() has no field {unknown[0]!r}; fields: {', '.join(_IDENTIFY_FIELDS)}")
        expected = {camelcase(name): value for name, value in fields.items()}
        return self._assert_sent("identify", email, expected, describe_fields(expected))

    def assert_tracked(
        self, email: str, added: list[str] | None = None, removed: list[str] | None = None
    ) -> RecordedCall:
        """Assert a ``track(email, ...)`` added exactly ``added`` and removed exactly ``removed``; return it.

        Each compares as a set; one left out is not checked.
        """
        expected: dict[str, Any] = {}
        if added is not None:
            expected["addTags"] = list(added)
        if removed is not None:
            expected["removeTags"] = list(removed)
        named = (("added", added), ("removed", removed))
        wanted = ", ".join(f"{name}={value!r}" for name, value in named if value is not None)
        return self._assert_sent("track", email, expected, wanted)

    def assert_nothing_sent(self) -> None:
        """Assert that no ``identify()``/``track()`` was made."""
        calls = self.calls
        if calls:
            raise AssertionError(
                f"expected no identify()/track() calls, but {len(calls)} were made:\n" + _listing(calls)
            )

    def _assert_sent(self, operation: str, email: str, expected: Mapping[str, Any], wanted: str) -> RecordedCall:
        candidates = self.calls_for(email, operation)
        for call in candidates:
            if not _differences(call.payload, expected):
                return call
        what = f"{operation}({email!r}{', ' + wanted if wanted else ''})"
        if candidates:
            lines = [
                f"  {describe_call(call)}\n    differs: {'; '.join(_differences(call.payload, expected))}"
                for call in candidates
            ]
            detail = f"{operation}() calls for {email!r}:\n" + "\n".join(lines)
        else:
            others = self.calls
            detail = f"no {operation}() for {email!r} at all; " + (
                f"the calls made:\n{_listing(others)}" if others else "no identify()/track() call was made"
            )
        raise AssertionError(f"expected {what}; {detail}")


def _same_tags(sent: Any, expected: Any) -> bool:
    return isinstance(sent, list) and sorted(sent) == sorted(expected)


_COMPARE: Mapping[str, Callable[[Any, Any], bool]] = {
    "tags": _same_tags,
    "addTags": _same_tags,
    "removeTags": _same_tags,
}


# What assert_tracked() calls the track fields (its arguments' names).
_LABELS = {"addTags": "added", "removeTags": "removed"}


def _differences(payload: Mapping[str, Any], expected: Mapping[str, Any]) -> list[str]:
    found = []
    for name, value in expected.items():
        compare = _COMPARE.get(name)
        # A tag list left out was sent as no tags; any other field left out was not sent.
        sent = payload.get(name, [] if compare is not None else None)
        same = compare(sent, value) if compare is not None else sent == value
        if sent is None or not same:
            shown = "not sent" if sent is None else f"sent {sent!r}"
            found.append(f"{_LABELS.get(name) or python_name(name)} {shown}, expected {value!r}")
    return found


def _listing(calls: list[RecordedCall]) -> str:
    return "\n".join(f"  {describe_call(call)}" for call in calls)
