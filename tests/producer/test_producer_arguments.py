"""``identify()``/``track()`` with any arguments: a ValidationError naming them, or a message a worker accepts.

Against a real RabbitMQ vhost: what the producer publishes is taken off the queue and
run through the worker's own checks (the consumer's guard, the task's argument check,
the wire schema).
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from hypothesis import event, given, note, settings
from hypothesis import strategies as st
from kombu import Connection
from marshmallow import ValidationError

from sendx_worker import identify, track
from sendx_worker.celery_app import create_app
from sendx_worker.limits import MAX_CUSTOM_FIELD_VALUE, MAX_KWARGSREPR, MAX_TAGS
from sendx_worker.settings import load_settings
from sendx_worker.topology import dead_letter_queue, work_queue
from tests.conftest import scrub_environment
from tests.support.acceptance import worker_refusal
from tests.support.brokers import IsolatedBroker, rabbitmq_vhost


class Producer:
    """A producer app on its own vhost, and the queue its messages land on."""

    def __init__(self, broker: IsolatedBroker, data_dir: Path) -> None:
        self.app: Celery = create_app(load_settings({"CELERY_BROKER_URL": broker.url, "SENDX_DATA_DIR": str(data_dir)}))
        self.connection = Connection(broker.url)
        channel = self.connection.default_channel
        self.queue = work_queue()(channel)
        self.queue.declare()
        dead_letter_queue()(channel).declare()

    def taken(self) -> Any:
        """The one message published since the last call (None if none)."""
        message = self.queue.get(no_ack=True, accept=["json"])
        if message is not None:
            assert self.queue.get(no_ack=True, accept=["json"]) is None, "one call published twice"
        return message

    def close(self) -> None:
        self.connection.close()
        self.app.close()


@pytest.fixture(scope="module")
def producer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Producer]:
    with pytest.MonkeyPatch.context() as monkeypatch, rabbitmq_vhost() as broker:
        scrub_environment(monkeypatch)
        made = Producer(broker, tmp_path_factory.mktemp("producer"))
        try:
            yield made
        finally:
            made.close()


# -- strategies: anything at all, and the plausible values mixed in ----------------------------

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.binary(max_size=20)
    | st.dates()
    | st.datetimes()
)
ANYTHING = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        | st.tuples(inner, inner)
        | st.frozensets(st.integers() | st.text(max_size=4), max_size=3)
    ),
    max_leaves=8,
)
# Text with what real data holds, and what breaks it: controls, NUL, lone surrogates, astral characters.
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40) | st.sampled_from(
    ["John", "", " ", "a\x00b", "\ud800", "line\nbreak", "\x1b[31mred", "é", "😀", "++1", "--2.5", "++x"]
)
EMAILS = st.emails() | st.sampled_from(["john@example.com", " john@example.com\n", "not-an-address", "@", "a@b"])
TAGS = st.lists(TEXT, max_size=5) | st.sets(st.text(string.ascii_letters, min_size=1, max_size=5), max_size=3)
CUSTOM_FIELDS = st.dictionaries(TEXT, TEXT | ANYTHING, max_size=4)
TEAMS = st.sampled_from(["eu", "", " ", "a\nb", "t" * 65, "\ud800"]) | st.text(max_size=70)


def no_delay(value: Any) -> bool:
    """A delay that is accepted sends the message to the broker's delay queues, not to ``sendx``: left out."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return not value > 0
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware <= datetime.now(UTC)
    return True


OPTIONS = st.fixed_dictionaries(
    {},
    optional={
        "countdown": (st.integers(-5, 0) | st.floats() | ANYTHING).filter(no_delay),
        "priority": st.integers(-1, 300) | ANYTHING,
        "task_id": st.uuids().map(str) | TEXT,
        "headers": st.dictionaries(TEXT, TEXT | st.integers(), max_size=2) | ANYTHING,
        "eta": (st.just(datetime(2020, 1, 1, tzinfo=UTC)) | ANYTHING).filter(no_delay),
        "expires": st.just(timedelta(days=1)).map(lambda d: datetime.now(UTC) + d)
        | st.integers(-1, 0)
        | st.integers(60, 100)
        | ANYTHING.filter(lambda v: not isinstance(v, int | float) or isinstance(v, bool) or v <= 0 or v >= 60),
    },
)


def outcome(producer: Producer, call: Any) -> str:
    """Run ``call``; a ValidationError must publish nothing, a success one message the worker accepts."""
    try:
        result = call()
    except ValidationError as exc:
        note(f"ValidationError: {exc.messages}")
        assert isinstance(exc.messages, dict) and exc.messages
        assert producer.taken() is None
        event("refused")
        return "refused"
    message = producer.taken()
    assert message is not None
    assert message.headers["id"] == result.id
    assert worker_refusal(message) is None
    assert len(message.headers["kwargsrepr"]) <= MAX_KWARGSREPR
    event("enqueued")
    return "enqueued"


# Plausible values for every argument; each example makes up to two of them hostile, so that
# the rest of a call is valid and what is wrong is found (or let through) on its own.
NAME = st.text(st.characters(categories=["L", "N", "P", "Zs"]), min_size=1, max_size=20).filter(str.strip)
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "email": st.emails(),
    "new_email": st.none() | st.emails(),
    "first_name": st.none() | NAME,
    "last_name": st.none() | NAME,
    "company": st.none() | NAME,
    "birthday": st.none() | st.dates() | st.dates().map(str),
    "custom_fields": st.none() | st.dictionaries(NAME, NAME | st.sampled_from(["++1", "--2.5", "line\nbreak"])),
    "tags": st.none() | st.lists(NAME, max_size=4) | st.sets(NAME, max_size=3),
    "add_tags": st.lists(NAME, min_size=1, max_size=3),
    "remove_tags": st.none() | st.lists(NAME, max_size=3),
    "team": st.none() | st.sampled_from(["eu", "us-east", "Team ü"]),
    "options": st.just({})
    | st.fixed_dictionaries(
        {}, optional={"priority": st.integers(0, 9), "task_id": st.uuids().map(str), "headers": st.just({"a": "b"})}
    ),
}
HOSTILE: dict[str, st.SearchStrategy[Any]] = {
    "email": EMAILS | ANYTHING,
    "new_email": EMAILS | ANYTHING,
    "first_name": TEXT | ANYTHING,
    "last_name": TEXT | ANYTHING,
    "company": TEXT | ANYTHING,
    "birthday": st.dates().map(str) | TEXT | ANYTHING,
    "custom_fields": CUSTOM_FIELDS | ANYTHING,
    "tags": TAGS | ANYTHING,
    "add_tags": TAGS | ANYTHING,
    "remove_tags": TAGS | ANYTHING,
    "team": TEAMS | ANYTHING,
    "options": OPTIONS,
}
IDENTIFY_ARGUMENTS = [
    "email", "new_email", "first_name", "last_name", "company", "birthday", "custom_fields", "tags", "team", "options"
]  # fmt: skip
TRACK_ARGUMENTS = ["email", "add_tags", "remove_tags", "team", "options"]


@st.composite
def arguments(draw: st.DrawFn, names: list[str]) -> dict[str, Any]:
    hostile = draw(st.sets(st.sampled_from(names), max_size=2))
    return {name: draw(HOSTILE[name] if name in hostile else PLAUSIBLE[name]) for name in names}


@settings(max_examples=3 * settings.default.max_examples)  # cheap: three times the profile's
@given(arguments=arguments(IDENTIFY_ARGUMENTS))
def test_identify_raises_validation_error_or_enqueues_what_a_worker_accepts(
    producer: Producer, arguments: dict[str, Any]
) -> None:
    options = arguments.pop("options")
    outcome(producer, lambda: identify(app=producer.app, **arguments, **options))


@settings(max_examples=3 * settings.default.max_examples)
@given(arguments=arguments(TRACK_ARGUMENTS))
def test_track_raises_validation_error_or_enqueues_what_a_worker_accepts(
    producer: Producer, arguments: dict[str, Any]
) -> None:
    options = arguments.pop("options")
    outcome(producer, lambda: track(app=producer.app, **arguments, **options))


# -- the classes the issue found, each by name ---------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"custom_fields": 5}, "custom_fields"),
        ({"custom_fields": "abc"}, "custom_fields"),
        ({"custom_fields": ["a", "b"]}, "custom_fields"),
        ({"tags": 5}, "tags"),
        ({"tags": b"abc"}, "tags"),
        ({"tags": {"a": "b"}}, "tags"),
        ({"team": 5}, "team"),
        ({"team": object()}, "team"),
        ({"team": ""}, "team"),
        ({"first_name": "\ud800"}, "first_name"),
        ({"custom_fields": {"Note": "bad \udfff"}}, "custom_fields"),
        ({"tags": ["a\x00b"]}, "tags"),
        ({"custom_fields": {"n": "x" * (MAX_CUSTOM_FIELD_VALUE + 1)}}, "custom_fields"),
        ({"tags": [f"t{i}" for i in range(MAX_TAGS + 1)]}, "tags"),
        ({"tags": (f"t{i}" for i in range(10**9))}, "tags"),
        ({"custom_fields": {f"f{i}": "x" * 60_000 for i in range(5)}}, "payload"),
        ({"countdown": -1}, "countdown"),
        ({"countdown": "soon"}, "countdown"),
        ({"priority": 1000}, "priority"),
        ({"headers": {"retries": "x"}}, "headers"),
        ({"task_id": ""}, "task_id"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_identify_names_the_bad_argument_in_a_validation_error(
    producer: Producer, arguments: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValidationError) as info:
        identify("john@example.com", app=producer.app, **arguments)
    assert named in info.value.messages
    assert producer.taken() is None


@pytest.mark.parametrize("arguments", [{"add_tags": 5}, {"remove_tags": object()}, {"add_tags": ["a"], "team": 5}])
def test_track_names_the_bad_argument_in_a_validation_error(producer: Producer, arguments: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as info:
        track("john@example.com", app=producer.app, **arguments)
    assert set(info.value.messages) & set(arguments)


def test_every_bad_argument_is_named_at_once(producer: Producer) -> None:
    with pytest.raises(ValidationError) as info:
        identify("nope", first_name=5, team=5, priority=-1, app=producer.app)
    assert set(info.value.messages) == {"email", "first_name", "team", "priority"}


@pytest.mark.parametrize("keyword", ["firstname", "custom_field", "tag", "queue", "serializer", "link"])
def test_a_keyword_identify_does_not_have_is_a_type_error_like_in_any_call(producer: Producer, keyword: str) -> None:
    with pytest.raises(TypeError, match=f"unexpected keyword argument '{keyword}'"):
        identify("john@example.com", app=producer.app, **{keyword: "x"})
    assert producer.taken() is None


def test_a_keyword_track_does_not_have_is_a_type_error(producer: Producer) -> None:
    with pytest.raises(TypeError, match="'add_tag'"):
        track("john@example.com", add_tag=["x"], app=producer.app)


def test_an_app_that_is_not_a_celery_app_is_named(producer: Producer) -> None:
    with pytest.raises(ValidationError) as info:
        identify("john@example.com", app="sendx")  # type: ignore[arg-type]
    assert "app" in info.value.messages


def test_thousands_of_tags_are_refused_by_name_not_by_the_broker(producer: Producer) -> None:
    # Unbounded, kwargsrepr carried 13,000 tags in a header and the publish failed (FrameError).
    with pytest.raises(ValidationError) as info:
        identify("john@example.com", tags=[f"tag {i}" for i in range(13_000)], app=producer.app)
    assert "1000" in str(info.value.messages["tags"])


def test_the_most_tags_allowed_are_published_with_a_bounded_kwargsrepr(producer: Producer) -> None:
    result = identify("john@example.com", tags=[f"tag {i}" for i in range(MAX_TAGS)], app=producer.app)
    message = producer.taken()
    assert message.headers["id"] == result.id
    assert len(message.headers["kwargsrepr"]) <= MAX_KWARGSREPR
    assert worker_refusal(message) is None


def test_a_60_kb_custom_field_value_is_published_and_accepted(producer: Producer) -> None:
    # The figure (milliseconds, not 13 s) is bench/producer_large.py's; here only that it works.
    identify("john@example.com", custom_fields={"Notes": "n" * 60_000}, app=producer.app)
    assert worker_refusal(producer.taken()) is None


def test_the_documented_publishing_options_are_passed_to_celery(producer: Producer) -> None:
    result = identify(
        "john@example.com", priority=3, headers={"trace": "abc"}, task_id="my-id-1", countdown=0, app=producer.app
    )
    message = producer.taken()
    assert (result.id, message.headers["id"], message.headers["trace"]) == ("my-id-1", "my-id-1", "abc")
    assert worker_refusal(message) is None
