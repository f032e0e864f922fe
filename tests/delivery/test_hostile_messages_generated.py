"""Generated hostile messages, in batches, through one long-lived worker per broker.

Each message is a valid task message with one or more breakages drawn from every way a
message can be wrong (each enough to make it invalid): its headers, content type and
encoding, its body, its arguments, its payload. Every one must end as one
``invalid_payload`` dead letter after one delivery, with nothing sent to SendX, and a
valid message sent right after must be delivered by the same worker.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from sendx_worker.limits import MAX_DEPTH
from tests.delivery.hostile import Hostile, hostile_stack
from tests.support.raw_messages import EMBED, IDENTIFY, TRACK, RawMessage, task_message
from tests.support.shapes import nested

BROKERS = ["rabbitmq", "redis", "filesystem"]
SENDX_TASKS = (IDENTIFY, TRACK)


@pytest.fixture(scope="module", params=BROKERS)
def hostile(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    with hostile_stack(request.param, tmp_path_factory.mktemp(request.param)) as found:
        yield found


# -- values ---------------------------------------------------------------------------------

# Header values must travel in AMQP tables too: UTF-8 text (no lone surrogates), 64-bit integers.
HEADER_TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
# (RabbitMQ 3.10 closes the connection with INTERNAL_ERROR on an infinite double in a header.)
HEADER_SCALARS = (
    st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False) | HEADER_TEXT
)
HEADER_VALUES = st.recursive(
    HEADER_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(HEADER_TEXT, inner, max_size=3),
    max_leaves=6,
)
# Body values: any JSON, lone surrogates and all.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(st.characters(codec=None)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
TRUTHY_NON_TEXT = HEADER_VALUES.filter(lambda v: v is not None and not isinstance(v, str))


def deep_body(depth: int) -> bytes:
    """A task body whose payload nests ``depth`` levels, written out (json.dumps itself cannot, past ~1,000)."""
    payload = b'{"a": ' * depth + b"1" + b"}" * depth
    return b'[[], {"payload": ' + payload + b'}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]'


def is_time_limit(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(
            item is None or (isinstance(item, int | float) and not isinstance(item, bool) and item >= 0)
            for item in value
        )
    )


# -- breakages: each takes a valid message's parts and makes the message invalid -----------------

Parts = dict[str, Any]  # task, headers, content_type, content_encoding, body (list or bytes)
Breakage = Callable[[Parts], Parts]


def header(name: str, values: st.SearchStrategy[Any]) -> st.SearchStrategy[Breakage]:
    return values.map(lambda value: lambda parts: {**parts, "headers": {**parts["headers"], name: value}})


def well_formed(body: Any) -> bool:
    """Still Celery's [args, kwargs, embed] with a payload object (an earlier breakage may have replaced it)."""
    return (
        isinstance(body, list)
        and len(body) == 3
        and isinstance(body[1], dict)
        and isinstance(body[1].get("payload"), dict)
    )


def body_change(edit: Callable[[list[Any]], Any]) -> Breakage:
    """A breakage of the body's parts; a body an earlier breakage already broke is left as it is."""
    return lambda parts: {**parts, "body": edit(parts["body"])} if well_formed(parts["body"]) else parts


def kwargs_change(change: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[Breakage]:
    return change.map(lambda extra: body_change(lambda body: [body[0], {**body[1], **extra}, body[2]]))


def payload_change(change: st.SearchStrategy[Any]) -> st.SearchStrategy[Breakage]:
    def apply(edit: Callable[[dict[str, Any]], Any]) -> Breakage:
        return body_change(lambda body: [body[0], {**body[1], "payload": edit(dict(body[1]["payload"]))}, body[2]])

    return change.map(apply)


def with_field(name: str, value: Any) -> Callable[[dict[str, Any]], Any]:
    return lambda payload: {**payload, name: value}


NOT_JSON_TYPES = st.text(min_size=1, max_size=20).filter(lambda t: t != "application/json")
NOT_UTF8 = st.text(min_size=1, max_size=12).filter(lambda t: t.lower() not in ("utf-8", "utf8"))
BAD_BODIES = JSON.filter(
    lambda body: (
        not (
            isinstance(body, list)
            and len(body) == 3
            and isinstance(body[0], list)
            and isinstance(body[1], dict)
            and isinstance(body[2], dict | None)
        )
    )
)

BREAKAGES: st.SearchStrategy[Breakage] = st.one_of(
    header("task", HEADER_VALUES.filter(lambda v: v not in SENDX_TASKS)),
    header("task", st.sampled_from(["celery.accumulate", "celery.chunks", "celery.backend_cleanup", "celery.map"])),
    header("id", st.none() | TRUTHY_NON_TEXT | st.sampled_from(["", "a\nb", "x" * 256, "\x1b[2J"])),
    header("retries", HEADER_VALUES.filter(lambda v: v is not None and not (type(v) is int and 0 <= v <= 10**6))),
    header("timelimit", HEADER_VALUES.filter(lambda v: v is not None and not is_time_limit(v))),
    header("shadow", TRUTHY_NON_TEXT),
    header("eta", TRUTHY_NON_TEXT | st.sampled_from(["tomorrow", "2020-13-45", "now", "9999-99-99T00:00:00"])),
    header("expires", TRUTHY_NON_TEXT | st.just("2001-01-01T00:00:00+00:00")),
    header("argsrepr", TRUTHY_NON_TEXT),
    header("callbacks", st.lists(HEADER_TEXT, min_size=1, max_size=2)),
    header("stamped_headers", TRUTHY_NON_TEXT.filter(lambda v: not (isinstance(v, list) and all(
        isinstance(name, str) for name in v)))),
    header("stamps", TRUTHY_NON_TEXT.filter(lambda v: not isinstance(v, dict))),
    NOT_JSON_TYPES.map(lambda ct: lambda parts: {**parts, "content_type": ct}),
    NOT_UTF8.map(lambda ce: lambda parts: {**parts, "content_encoding": ce}),
    BAD_BODIES.map(lambda body: lambda parts: {**parts, "body": body}),
    st.binary(max_size=40).map(lambda raw: lambda parts: {**parts, "body": b"\x80" + raw}),
    st.lists(JSON, min_size=1, max_size=2).map(lambda args: body_change(lambda body: [args, body[1], body[2]])),
    (JSON.filter(lambda e: e is not None and not isinstance(e, dict)) | st.just({"chain": [{"task": "celery.map"}]}))
    .map(lambda embed: body_change(lambda body: [body[0], body[1], embed])),
    kwargs_change(st.dictionaries(st.text(min_size=1, max_size=8), JSON, min_size=1, max_size=2).filter(
        lambda extra: any(name not in ("payload", "team", "occurred_at") for name in extra)
    )),
    kwargs_change(st.fixed_dictionaries({"team": JSON.filter(lambda t: t is not None and not isinstance(t, str))
                                         | st.sampled_from(["", " ", "a\tb", "t" * 65, "\ud800"])})),
    kwargs_change(st.fixed_dictionaries({"occurred_at": JSON.filter(lambda v: v is not None)
                                         | st.sampled_from(["yesterday", "2026-11-28T02:27:04", ""])})),
    payload_change(JSON.map(lambda value: lambda payload: value)),  # the payload replaced by any JSON...
    payload_change(JSON.filter(lambda v: v is not None and not isinstance(v, str)).map(
        lambda v: with_field("firstName", v))),
    payload_change(st.dictionaries(st.text(max_size=6), JSON.filter(lambda v: not isinstance(v, str)), min_size=1,
                                   max_size=2).map(lambda fields: with_field("customFields", fields))),
    payload_change(st.sampled_from(["a\x00b", "\ud800", "\x1b[31m", "x" * 256]).map(
        lambda text: with_field("company", text))),
    payload_change(st.integers(MAX_DEPTH, 900).map(lambda depth: with_field("customFields", nested(depth)))),
    st.integers(900, 5_000).map(lambda depth: lambda parts: {**parts, "body": deep_body(depth)}),
    payload_change(st.text(min_size=1, max_size=10).filter(lambda n: n not in ("email", "firstName", "lastName",
        "company", "birthday", "customFields", "tags", "newEmail")).map(lambda name: with_field(name, None))),
    payload_change(st.just(lambda payload: {k: v for k, v in payload.items() if k != "email"})),
)  # fmt: skip


def broken_message(breakages: list[Breakage]) -> RawMessage:
    """A valid identify for a fresh address, with every breakage applied in turn."""
    valid = task_message({"email": f"gen-{uuid.uuid4().hex[:10]}@example.com", "firstName": "Gen"})
    parts: Parts = {
        "headers": dict(valid.headers or {}),
        "content_type": valid.content_type,
        "content_encoding": valid.content_encoding,
        "body": [[], {"payload": {"email": f"gen-{uuid.uuid4().hex[:10]}@example.com", "firstName": "Gen"}}, EMBED],
    }
    for breakage in breakages:
        parts = breakage(parts)
    body = parts["body"]
    encoded = body if isinstance(body, bytes) else _json_bytes(body)
    return replace(
        valid,
        body=encoded,
        headers=parts["headers"],
        content_type=parts["content_type"],
        content_encoding=parts["content_encoding"],
    )


def _json_bytes(body: Any) -> bytes:
    return json.dumps(body).encode()


MESSAGES = st.lists(st.lists(BREAKAGES, min_size=1, max_size=3).map(broken_message), min_size=5, max_size=15)


@pytest.mark.timeout(900)  # the "dev" profile's hundreds of batches
@settings(
    max_examples=max(10, settings.default.max_examples // 3),  # each example is a batch through a real worker
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(messages=MESSAGES)
def test_every_generated_hostile_message_is_dead_lettered_once_and_the_worker_carries_on(
    hostile: Hostile, messages: list[RawMessage]
) -> None:
    for message in messages:
        note(f"{message.content_type} {message.content_encoding} {message.headers} {message.body[:300]!r}")
    hostile.each_dead_lettered_once(lambda: hostile.publish(messages), count=len(messages))
