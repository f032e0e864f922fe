"""Producers that don't install sendx-worker: plain Celery, and the raw message over bare AMQP."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

from examples.foreign_producer import enqueue_with_celery, publish_raw, raw_message
from tests.delivery.conftest import Stack
from tests.observability.conftest import (
    EU_API_KEY,
    EU_TEAM_ID,
    REPO,
    assert_doc_quotes_examples,
    example_blocks,
    json_blocks,
)
from tests.support.waiting import wait_for

DOC = REPO / "docs" / "recipes" / "other-languages.md"
PLACEHOLDER = "<task id>"


def documented_message() -> dict[str, Any]:
    """The message shown in the doc (the JSON block that has headers)."""
    (found,) = [block for block in json_blocks(DOC) if isinstance(block, dict) and "headers" in block]
    return found


def with_id(message: dict[str, Any], task_id: str) -> dict[str, Any]:
    return json.loads(json.dumps(message).replace(PLACEHOLDER, task_id))


def test_the_documented_message_is_the_one_the_example_publishes() -> None:
    shown = documented_message()
    payload, stamp = shown["body"][1]["payload"], shown["body"][1]["occurred_at"]
    assert json.loads(json.dumps(raw_message(payload, task_id=PLACEHOLDER, occurred_at=stamp))) == shown
    assert shown["headers"]["kwargsrepr"] == (
        "{'payload': {'email': 'j***@example.com', 'firstName': 'John', 'tags': ['Developer']}, "
        f"'occurred_at': '{stamp}'}}"
    )


def test_the_documented_code_is_the_example_code() -> None:
    assert_doc_quotes_examples(DOC, "examples/foreign_producer.py")
    assert len(example_blocks(DOC)) == 2


def test_foreign_producers_reach_sendx_through_a_worker(stack: Stack) -> None:
    worker = stack.start_worker(SENDX_TEAMS=json.dumps({"eu": {"api_key": EU_API_KEY, "team_id": EU_TEAM_ID}}))
    url = stack.broker.url

    # 1. The raw message exactly as the doc shows it, published with py-amqp alone.
    doc_id = str(uuid.uuid4())
    publish_raw(url, with_id(documented_message(), doc_id))
    # 2. The same for another team, built by the example.
    publish_raw(url, raw_message({"email": "eve@example.com", "lastName": "Eu"}, team="eu"))
    # 3. The bare minimum the doc says a worker needs: the task and id headers and the body.
    minimal = copy.deepcopy(raw_message({"email": "min@example.com", "company": "Tiny"}))
    minimal["headers"] = {key: minimal["headers"][key] for key in ("task", "id")}
    minimal["properties"] = {"content_type": "application/json", "content_encoding": "utf-8"}
    publish_raw(url, minimal)
    # 4. Plain Celery, send_task by name.
    celery_id = enqueue_with_celery(url, {"email": "cel@example.com", "firstName": "Cel"})

    stack.wait_contact("john@example.com", firstName="John", tags=["Developer"])
    stack.wait_contact("min@example.com", company="Tiny")
    stack.wait_contact("cel@example.com", firstName="Cel")
    wait_for(lambda: stack.emulator.contact("eve@example.com", team_id=EU_TEAM_ID), what="eve in the eu team")
    assert stack.emulator.contact("eve@example.com") is None
    # Our own line, by task id: the messages were taken as the tasks their producers meant.
    for task_id in (doc_id, celery_id):
        wait_for(lambda: worker.saw(f"delivered task=sendx.identify_contact task_id={task_id} "), what=task_id)  # noqa: B023
    assert "john@example.com" not in worker.log()
    assert "cel@example.com" not in worker.log()
    assert stack.dead_letters() == []
