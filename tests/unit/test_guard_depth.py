"""The guard's depth check, skipped when the message's text cannot nest too deep: the same verdicts."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sendx_worker.worker.guard import BODY_DEPTH, _body_problem, _brackets
from tests.support.shapes import nested

LEAVES = st.none() | st.integers() | st.text(alphabet='ab[]{}"\\', max_size=6)
JSON = st.recursive(
    LEAVES, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
)


def body_of(payload: Any) -> list[Any]:
    return [[], {"payload": payload}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}]


@given(payload=JSON | st.integers(min_value=BODY_DEPTH - 6, max_value=BODY_DEPTH + 3).map(nested))
def test_the_counted_brackets_give_the_verdict_the_walk_gives(payload: Any) -> None:
    body = body_of(payload)
    for text in (json.dumps(body), json.dumps(body).encode(), json.dumps(body, ensure_ascii=False)):
        assert _body_problem(body, _brackets(text)) == _body_problem(body)


def test_a_body_nested_too_deep_is_refused_whatever_its_text_says() -> None:
    body = body_of(nested(BODY_DEPTH))
    assert _body_problem(body, _brackets(json.dumps(body))) is not None
    assert _body_problem(body, None) is not None
