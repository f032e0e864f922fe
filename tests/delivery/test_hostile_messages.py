"""Each message that used to kill a worker, vanish, stall it or loop: now one ``invalid_payload`` dead letter.

One long-lived worker per broker (see :mod:`tests.delivery.hostile`). The classes that
depend on AMQP's own properties and headers run on RabbitMQ; those whose path differs
by transport (Redis's and the embedded broker's envelopes, their delivery counts) run
on all three brokers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from sendx_worker.limits import (
    MAX_CUSTOM_FIELD_VALUE,
    MAX_MESSAGE_BYTES,
    MAX_PAYLOAD_BYTES,
    MAX_RAW_BODY_TEXT,
    MAX_TAGS,
)
from tests.delivery.hostile import Hostile, hostile_stack
from tests.support.raw_messages import EMBED, IDENTIFY, TRACK, drop_broker_file, push_redis_item, task_message
from tests.support.shapes import nested

BROKERS = ["rabbitmq", "redis", "filesystem"]
VALID = {"email": "someone@example.com"}


@pytest.fixture(scope="module", params=BROKERS)
def hostile(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    with hostile_stack(request.param, tmp_path_factory.mktemp(request.param)) as found:
        yield found


def on(kind: str) -> pytest.MarkDecorator:
    """Run a test on one broker only (its properties or transport are what the test is about)."""
    return pytest.mark.parametrize("hostile", [kind], indirect=True, scope="module")


# -- the message kills the worker process ----------------------------------------------

BODIES_CELERY_CANNOT_UNPACK = {
    "null": b"null",
    "empty array": b"[]",
    "two items": json.dumps([[], {"payload": VALID}]).encode(),
    "four items": json.dumps([[], {"payload": VALID}, EMBED, {}]).encode(),
    "an object": json.dumps({"payload": VALID}).encode(),
    "a number": b"5",
}


@pytest.mark.parametrize("body", BODIES_CELERY_CANNOT_UNPACK.values(), ids=BODIES_CELERY_CANNOT_UNPACK.keys())
def test_a_body_celery_cannot_unpack_is_dead_lettered(hostile: Hostile, body: bytes) -> None:
    (record,) = hostile.each_dead_lettered_once(lambda: hostile.publish([task_message(body=body)]))
    assert "body" in record.error


@on("rabbitmq")
def test_a_message_without_a_content_type_is_dead_lettered(hostile: Hostile) -> None:
    message = task_message(VALID)
    hostile.each_dead_lettered_once(
        lambda: hostile.publish([replace(message, content_type=None, content_encoding=None)])
    )


def test_a_message_without_an_id_header_is_dead_lettered(hostile: Hostile) -> None:
    (record,) = hostile.each_dead_lettered_once(lambda: hostile.publish([task_message(VALID).without_header("id")]))
    assert "'id'" in record.error


@on("rabbitmq")
def test_a_task_header_that_is_a_list_is_dead_lettered(hostile: Hostile) -> None:
    hostile.each_dead_lettered_once(lambda: hostile.publish([task_message(VALID).with_headers(task=[IDENTIFY])]))


@pytest.mark.parametrize("timelimit", [5, [1, 2, 3], "10", [1, "x"]], ids=["number", "triple", "text", "not numbers"])
def test_a_timelimit_that_is_not_a_pair_of_seconds_is_dead_lettered(hostile: Hostile, timelimit: Any) -> None:
    (record,) = hostile.each_dead_lettered_once(
        lambda: hostile.publish([task_message(VALID).with_headers(timelimit=timelimit)])
    )
    assert "timelimit" in record.error


@pytest.mark.parametrize("item", [b"5", b"[]", b'"sendx"', b"null", b"\x80 not json", b'{"body": "x"}'])
@on("redis")
def test_an_item_pushed_raw_onto_the_redis_list_is_dead_lettered_with_its_bytes(hostile: Hostile, item: bytes) -> None:
    (record,) = hostile.each_dead_lettered_once(lambda: push_redis_item(hostile.stack.broker.url, item))
    assert record.evidence["raw_body"] == item.decode("utf-8", "backslashreplace")


@pytest.mark.parametrize("content", [b"5", b"", b"\x80 not json", b'{"headers": []}'])
@on("filesystem")
def test_a_file_the_embedded_broker_cannot_read_is_dead_lettered(hostile: Hostile, content: bytes) -> None:
    (record,) = hostile.each_dead_lettered_once(lambda: drop_broker_file(hostile.broker_folder, content))
    assert record.evidence["raw_body"] == content.decode("utf-8", "backslashreplace")


# -- the message is acknowledged and lost, with no dead letter -------------------------


@pytest.mark.parametrize("retries", ["abc", "1", -1, 1.5, [0]])
def test_a_retries_header_that_is_not_a_count_is_dead_lettered(hostile: Hostile, retries: Any) -> None:
    (record,) = hostile.each_dead_lettered_once(
        lambda: hostile.publish([task_message(VALID).with_headers(retries=retries)])
    )
    assert "retries" in record.error


@pytest.mark.parametrize("kwargs", [[], "payload", 5, None], ids=["array", "string", "number", "null"])
def test_kwargs_that_are_not_an_object_are_dead_lettered(hostile: Hostile, kwargs: Any) -> None:
    (record,) = hostile.each_dead_lettered_once(lambda: hostile.publish([task_message(body=[[], kwargs, EMBED])]))
    assert "kwargs" in record.error


@pytest.mark.parametrize("args", [{}, "x", 5, None], ids=["object", "string", "number", "null"])
def test_args_that_are_not_an_array_are_dead_lettered(hostile: Hostile, args: Any) -> None:
    (record,) = hostile.each_dead_lettered_once(
        lambda: hostile.publish([task_message(body=[args, {"payload": VALID}, EMBED])])
    )
    assert "args" in record.error


@pytest.mark.parametrize(
    ("task", "body"),
    [
        ("celery.accumulate", [[1, 2], {}, EMBED]),
        ("celery.chunks", [[], {"task": {"task": IDENTIFY}, "it": [], "n": 1}, EMBED]),
        ("celery.backend_cleanup", [[], {}, EMBED]),
        ("celery.ping", [[], {}, EMBED]),
    ],
)
def test_celerys_own_tasks_are_dead_lettered_not_run(hostile: Hostile, task: str, body: Any) -> None:
    (record,) = hostile.each_dead_lettered_once(lambda: hostile.publish([task_message(task=task, body=body)]))
    assert task in record.error
    assert record.task == task


@pytest.mark.parametrize(
    "headers",
    [{"stamped_headers": 5}, {"stamped_headers": [["x"]]}, {"stamped_headers": ["a"], "stamps": 7}],
    ids=["stamped_headers a number", "a list in stamped_headers", "stamps a number"],
)
def test_celerys_stamping_headers_of_the_wrong_shape_are_dead_lettered(
    hostile: Hostile, headers: dict[str, Any]
) -> None:
    # Found with a probe beyond the list: Celery iterates stamped_headers when it
    # checks for revoked tasks, and raised in the consumer.
    (record,) = hostile.each_dead_lettered_once(lambda: hostile.publish([task_message(VALID).with_headers(**headers)]))
    assert "stamp" in record.error


# -- the message is held forever with no outcome ---------------------------------------


@pytest.mark.parametrize("embed", ["x", [], 5, {"callbacks": [{"task": "celery.ping"}]}, {"other": 1}])
def test_an_embed_that_is_not_an_empty_object_is_dead_lettered(hostile: Hostile, embed: Any) -> None:
    hostile.each_dead_lettered_once(lambda: hostile.publish([task_message(body=[[], {"payload": VALID}, embed])]))


def test_a_bare_string_body_is_dead_lettered(hostile: Hostile) -> None:
    hostile.each_dead_lettered_once(lambda: hostile.publish([task_message(body=b'"sendx.identify_contact"')]))


@pytest.mark.parametrize("shadow", [5, ["x"], {"a": 1}, True])
def test_a_shadow_header_that_is_not_text_is_dead_lettered(hostile: Hostile, shadow: Any) -> None:
    hostile.each_dead_lettered_once(lambda: hostile.publish([task_message(VALID).with_headers(shadow=shadow)]))


# -- the message loops --------------------------------------------------------------------


@pytest.mark.parametrize(
    "custom_fields",
    [{"a": 1}, {"a": None}, {"a": True}, {"a": ["++1"]}, {"a": {"b": "c"}}, "++1", ["++1"], 7],
    ids=["number", "null", "bool", "list", "object", "fields a string", "fields a list", "fields a number"],
)
def test_custom_fields_that_are_not_strings_are_dead_lettered_on_the_first_delivery(
    hostile: Hostile, custom_fields: Any
) -> None:
    payload = {"email": "loop@example.com", "customFields": custom_fields}
    (record,) = hostile.each_dead_lettered_once(lambda: hostile.publish([task_message(payload)]))
    assert "customFields" in record.error


def test_a_deeply_nested_payload_is_dead_lettered_and_the_dead_letters_stay_readable(hostile: Hostile) -> None:
    payload = {"email": "deep@example.com", "customFields": nested(600)}
    (record,) = hostile.each_dead_lettered_once(lambda: hostile.publish([task_message(payload)]))
    assert "nested deeper than" in record.error
    json.dumps(record.to_dict(), indent=2)  # what `dead list --json` and `dead show` print


@on("rabbitmq")
def test_a_forged_delivery_count_does_not_condemn_a_valid_message(hostile: Hostile) -> None:
    email = "forged-count@example.com"
    hostile.clear_dead_letters()
    hostile.publish([task_message({"email": email, "lastName": "Forged"}).with_headers(**{"x-delivery-count": 99})])
    hostile.stack.wait_contact(email, lastName="Forged")
    assert hostile.stack.dead_letters() == []


@on("rabbitmq")
@pytest.mark.parametrize("count", ["many", -5, None, [1]])
def test_a_nonsensical_delivery_count_does_not_condemn_a_valid_message(hostile: Hostile, count: Any) -> None:
    email = f"count-{str(count).strip('[]-')}@example.com"
    hostile.clear_dead_letters()
    hostile.publish([task_message({"email": email, "company": "Counted"}).with_headers(**{"x-delivery-count": count})])
    hostile.stack.wait_contact(email, company="Counted")
    assert hostile.stack.dead_letters() == []


# -- the message freezes the worker -------------------------------------------------------


def test_a_huge_unknown_field_name_without_an_at_sign_does_not_freeze_the_worker(hostile: Hostile) -> None:
    # Masking the error text took quadratic time on such a name (40 KB: 4.9 s; this one, minutes).
    payload = {"email": "freeze@example.com", "x" * 250_000: "1"}
    (record,) = hostile.each_dead_lettered_once(lambda: hostile.publish([task_message(payload)]))
    assert "Unknown field" in record.error


# -- and the rest of the message: every task argument is checked ----------------------


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"payload": VALID, "colour": "blue"}, "colour"),
        ({"payload": VALID, "self": 1}, "self"),
        ({"payload": VALID, "team": 5}, "team"),
        ({"payload": VALID, "team": ""}, "team"),
        ({"payload": VALID, "team": "a\nb"}, "team"),
        ({"payload": VALID, "team": "t" * 65}, "team"),
        ({"payload": VALID, "occurred_at": "yesterday"}, "occurred_at"),
        ({"payload": VALID, "occurred_at": 5}, "occurred_at"),
        ({}, "payload"),
    ],
    ids=["unknown", "self", "team number", "team empty", "team control", "team long", "stamp", "stamp number", "none"],
)
def test_every_task_argument_is_checked_and_named(hostile: Hostile, kwargs: dict[str, Any], named: str) -> None:
    (record,) = hostile.each_dead_lettered_once(lambda: hostile.publish([task_message(kwargs=kwargs)]))
    assert named in record.error


def test_positional_arguments_are_dead_lettered(hostile: Hostile) -> None:
    (record,) = hostile.each_dead_lettered_once(
        lambda: hostile.publish([task_message(body=[[VALID], {"payload": VALID}, EMBED])])
    )
    assert "keyword arguments only" in record.error


def test_a_track_with_tags_that_are_not_strings_is_dead_lettered(hostile: Hostile) -> None:
    payload = {"email": "tags@example.com", "addTags": [1, None, ["x"]]}
    (record,) = hostile.each_dead_lettered_once(lambda: hostile.publish([task_message(payload, task=TRACK)]))
    assert "addTags" in record.error


# -- what SendX cannot take, and the limits ---------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "surrogate@example.com", "firstName": "\ud800"},
        {"email": "surrogate@example.com", "customFields": {"Note": "x\udfff"}},
        {"email": "surrogate@example.com", "tags": ["\udbff"]},
    ],
    ids=["name", "custom field", "tag"],
)
def test_a_lone_surrogate_is_dead_lettered_not_retried_as_if_sendx_were_down(
    hostile: Hostile, payload: dict[str, Any]
) -> None:
    (record,) = hostile.each_dead_lettered_once(lambda: hostile.publish([task_message(payload)]))
    assert "lone surrogate" in record.error


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({"email": "n@example.com", "tags": [f"t{i}" for i in range(MAX_TAGS + 1)]}, "tags: At most 1000"),
        ({"email": "n@example.com", "customFields": {"n": "v" * (MAX_CUSTOM_FIELD_VALUE + 1)}}, "at most 65536"),
        ({"email": "n@example.com", "customFields": {f"f{i}": "v" for i in range(1001)}}, "At most 1000 custom"),
        (
            {"email": "n@example.com", "customFields": {name: "v" * MAX_CUSTOM_FIELD_VALUE for name in "abcd"}},
            f"at most {MAX_PAYLOAD_BYTES} bytes",
        ),
        ({"email": "n@example.com", "firstName": "\x00"}, "firstName: Must not contain control characters"),
        ({"email": "n@example.com", "fistName": None}, "fistName: Unknown field."),
    ],
    ids=["tags", "custom field value", "custom fields", "payload size", "NUL", "unknown null field"],
)
def test_each_limit_and_unsendable_text_is_dead_lettered_naming_the_field(
    hostile: Hostile, payload: dict[str, Any], named: str
) -> None:
    (record,) = hostile.each_dead_lettered_once(lambda: hostile.publish([task_message(payload)]))
    assert named in record.error


def test_a_message_over_the_size_limit_is_dead_lettered_unread(hostile: Hostile) -> None:
    payload = {"email": "big@example.com", "customFields": {f"f{i}": "v" * 60_000 for i in range(5)}}
    (record,) = hostile.each_dead_lettered_once(lambda: hostile.publish([task_message(payload)]))
    assert f"at most {MAX_MESSAGE_BYTES} are accepted" in record.error
    assert record.payload is None
    assert len(record.evidence["raw_body"]) <= MAX_RAW_BODY_TEXT + 1  # and an ellipsis
