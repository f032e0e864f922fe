"""``sendx-worker dead`` with any record on the queue: huge, deep, binary, escape sequences, foreign, broken.

Each is put on a real RabbitMQ ``sendx.dead_letter`` the way it could get there (a record
of ours, another program's publish, the broker's own dead-lettering); then every dead
command must work, and nothing a terminal would act on reaches the operator's terminal.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import amqp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sendx_worker.deadletter import DeadLetterQueue, DeadLetterRecord, iso_utc, record_from_message
from sendx_worker.deadletter.record import RECORD_HEADER
from sendx_worker.topology import DEAD_LETTER_EXCHANGE, DEAD_LETTER_ROUTING_KEY
from tests.cli.conftest import CliResult
from tests.delivery.conftest import Stack
from tests.support.shapes import nested

ESCAPES = "\x1b[2J\x1b]0;owned\x07\x9b31m\r\x08\u202e"


def publish_raw(url: str, body: bytes, headers: dict[str, Any] | None, content_type: str = "application/json") -> None:
    """Publish to ``sendx.dead_letter`` with py-amqp, as another program could."""
    parts = urlsplit(url)
    connection = amqp.Connection(
        host=f"{parts.hostname}:{parts.port}",
        userid="guest",
        password="guest",
        virtual_host=unquote(parts.path[1:]),
        confirm_publish=True,
    )
    connection.connect()
    try:
        properties: dict[str, Any] = {"content_type": content_type, "delivery_mode": 2}
        if headers is not None:
            properties["application_headers"] = headers
        connection.channel().basic_publish(
            amqp.Message(body, **properties), exchange=DEAD_LETTER_EXCHANGE.name, routing_key=DEAD_LETTER_ROUTING_KEY
        )
    finally:
        connection.close()


def record(record_id: str, **changes: Any) -> DeadLetterRecord:
    fields: dict[str, Any] = {
        "id": record_id,
        "task": "sendx.identify_contact",
        "payload": {"email": "ann@example.com"},
        "reason": "invalid_payload",
        "status": None,
        "error": "bad",
        "attempts": 1,
        "first_attempt_at": iso_utc(),
        "dead_lettered_at": iso_utc(),
        **changes,
    }
    return DeadLetterRecord(**fields)


@pytest.fixture
def hostile_records(stack: Stack) -> Iterator[Stack]:
    """Every kind of dead letter at once, on the stack's RabbitMQ vhost (the topology declared)."""
    queue = DeadLetterQueue(stack.app.connection_for_write)
    queue.add(
        [
            record("deep" + "0" * 28, payload={"email": "d@example.com", "customFields": nested(600)}),
            record("esc" + ESCAPES, task="sendx." + ESCAPES, error=ESCAPES, payload={"email": ESCAPES + "@x.com"}),
            record("huge" + "0" * 28, payload={"email": "h@example.com", "customFields": {"n": "x" * 300_000}}),
            record("surr" + "0" * 28, payload={"email": "s\ud800@example.com", "tags": ["\udfff"]}),
        ]
    )
    url = stack.broker.url
    mark = {RECORD_HEADER: 1}
    publish_raw(url, b'{"id": "wrong", "attempts": "x", "status": "422", "reason": 5, "evidence": [1]}', mark)
    publish_raw(url, b'{"payload": NaN, "error": {"a": 1}}', mark)  # no id at all
    publish_raw(url, b'{"id": "types", "payload": {"__type__": "bytes", "__value__": "AAE="}}', mark)
    publish_raw(url, b"\x80\x81 not json at all", mark, content_type="application/octet-stream")
    publish_raw(url, b"[]", None)
    publish_raw(
        url,
        json.dumps([[], {"payload": {"email": "p@example.com", "c": nested(700)}}, {}]).encode(),
        {"task": "sendx.identify_contact", "id": "poisoned", "x-death": [{"reason": "delivery_limit", "count": 21}]},
    )
    return stack


def assert_terminal_safe(text: str) -> None:
    assert all(char.isprintable() or char == "\n" for char in text), [c for c in text if not c.isprintable()][:5]


def test_list_show_replay_and_purge_work_with_every_kind_of_record(
    cli: Callable[..., CliResult], hostile_records: Stack
) -> None:
    listed = cli("dead", "list")
    assert listed.code == 0, listed.err
    assert len(listed.out.splitlines()) == 1 + 10
    assert_terminal_safe(listed.output)
    assert "\\x1b[2J" in listed.out  # shown escaped

    as_json = cli("dead", "list", "--json")
    assert as_json.code == 0, as_json.err
    assert_terminal_safe(as_json.output)
    data = json.loads(as_json.out, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))
    assert len(data) == 10
    ids = [item["id"] for item in data]
    assert len(set(ids)) == 10
    again = cli("dead", "list", "--json").out
    assert again == as_json.out  # ids and all: the same every time

    for record_id in ids:
        shown = cli("dead", "show", record_id)
        assert shown.code == 0, (record_id, shown.err)
        assert_terminal_safe(shown.output)
        assert json.loads(shown.out)["id"] == record_id

    replayed = cli("dead", "replay", "--all")
    assert replayed.code == 1  # some hold no sendx task: named, kept
    assert_terminal_safe(replayed.output)
    assert "Traceback" not in replayed.err
    left = json.loads(cli("dead", "list", "--json").out)
    assert left and all(item["task"] not in ("sendx.identify_contact", "sendx.track_tags") for item in left)

    purged = cli("dead", "purge", "--all", "--yes")
    assert (purged.code, purged.out) == (0, f"deleted {len(left)} dead letter(s)\n")
    assert cli("dead", "list").out == "no dead letters\n"


# -- reading any message as a record, generated ------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(st.characters(codec=None)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=10,
)
FIELDS = st.sampled_from(
    ["id", "task", "payload", "reason", "status", "error", "attempts", "first_attempt_at", "dead_lettered_at",
     "task_id", "team", "evidence", "version"]
)  # fmt: skip
BODIES = st.dictionaries(FIELDS, JSON | st.binary(max_size=4) | st.just(nested(800))) | JSON
HEADERS = (
    st.none()
    | JSON
    | st.fixed_dictionaries(
        {}, optional={RECORD_HEADER: JSON, "x-death": JSON, "task": JSON, "id": JSON, "x-delivery-count": JSON}
    )
)


@settings(max_examples=3 * settings.default.max_examples)  # cheap: three times the profile's
@given(body=BODIES, headers=HEADERS, raw=st.none() | st.binary(max_size=50))
def test_any_message_reads_as_a_record_that_prints_as_json(body: Any, headers: Any, raw: bytes | None) -> None:
    found = record_from_message(body, headers, raw=raw)
    text = json.dumps(found.to_dict(), indent=2, allow_nan=False)
    assert record_from_message(found.to_dict(), {RECORD_HEADER: 1}) == found  # a record reads back as itself
    text.encode("ascii")
