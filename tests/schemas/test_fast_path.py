"""The worker's validation fast path against marshmallow, on generated payloads (a differential test).

For every payload: when the fast path accepts it, marshmallow accepts it too, with the
identical result (keys, values, and their order); when the fast path declines, the
worker's answer is marshmallow's, error messages included. The payloads are the
producers' own shape, that shape bent (whitespace, nulls, control characters, lone
surrogates, numbers, over-long values, unknown and snake_case keys, tuples), and any
JSON.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import event, given, note, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from sendx_worker.schemas import identify_payload, load_identify_wire, load_track_wire, track_payload
from sendx_worker.schemas.fast import fast_identify, fast_track
from sendx_worker.schemas.identify import _WIRE_VALIDATORS as IDENTIFY_VALIDATORS
from sendx_worker.schemas.track import _WIRE_VALIDATORS as TRACK_VALIDATORS
from tests.schemas.test_schema_properties import JSON, identify_wire_dict, track_wire_dict

FLAVORS = ["v1", "rest"]

PLAIN = st.text(st.characters(codec="utf-8", categories=["L", "N", "Zs", "P"]), min_size=1, max_size=20)
ODD = st.sampled_from(
    [
        " padded ",
        "",
        " ",
        "\ud800x",
        "a\x00b",
        "tab\tok",
        "line\nbreak",
        "x" * 256,
        "x" * 255,
        "++1",
        "--2.5",
        "++",
        "++x",
        "--",
        "Ünïcödé",
        "1989-03-03",
        "1989-02-30",
        "89-3-3",
    ]
)
TEXT = PLAIN | ODD
EMAILS = (
    st.sampled_from(
        [
            "john@example.com",
            "jane.doe+tag@sub.example.org",
            " john@example.com",
            "john@example.com\n",
            "nope",
            "a@b",
            "\ud800@example.com",
            "a\x00@example.com",
            "x" * 250 + "@example.com",
            "ünï@exämple.com",
        ]
    )
    | st.emails()
)
VALUE = TEXT | st.none() | st.integers() | st.floats(allow_nan=False) | st.booleans() | JSON
GOOD_EMAIL = st.sampled_from(["john@example.com", "jane.doe+tag@sub.example.org"])
TAGS = (
    st.lists(PLAIN, min_size=1, max_size=3) | st.lists(TEXT, max_size=5) | st.lists(TEXT, max_size=3).map(tuple) | VALUE
)
CUSTOM = st.dictionaries(TEXT, TEXT | VALUE, max_size=4) | VALUE


def producers_identify() -> st.SearchStrategy[dict[str, Any]]:
    """The producers' identify shape, every part of it also bent."""
    return st.fixed_dictionaries(
        {"email": GOOD_EMAIL | EMAILS},
        optional={
            "newEmail": EMAILS | VALUE,
            "firstName": TEXT | VALUE,
            "lastName": TEXT,
            "company": TEXT,
            "birthday": st.dates().map(str) | TEXT | VALUE,
            "customFields": CUSTOM,
            "tags": TAGS,
            "first_name": TEXT,
            "unknown": VALUE,
        },
    )


def producers_track() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"email": GOOD_EMAIL | EMAILS},
        optional={"addTags": TAGS, "removeTags": TAGS, "add_tags": TAGS, "unknown": VALUE},
    )


def marshmallow_says(load: Any, payload: Any, flavor: str) -> tuple[str, Any]:
    try:
        return "accepted", load(payload, flavor, fast=False)
    except ValidationError as exc:
        return "refused", exc.messages


def nested_order(value: Any) -> Any:
    """``value`` with every dict's key order made visible (dicts compare equal in any order)."""
    if isinstance(value, dict):
        return [(key, nested_order(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [nested_order(item) for item in value]
    return value


def check(load: Any, fast: Any, payload: Any, flavor: str) -> None:
    note(repr(payload))
    verdict, expected = marshmallow_says(load, payload, flavor)
    quick = fast(payload)
    event(f"fast path {'declined' if quick is None else 'accepted'}, marshmallow {verdict}")
    if quick is not None:
        assert verdict == "accepted", f"the fast path accepted what marshmallow refuses: {expected}"
        assert nested_order(quick) == nested_order(expected)
    # Whatever the fast path did, the worker's answer is marshmallow's.
    if verdict == "accepted":
        assert nested_order(load(payload, flavor)) == nested_order(expected)
    else:
        with pytest.raises(ValidationError) as refused:
            load(payload, flavor)
        assert refused.value.messages == expected


@pytest.mark.parametrize("flavor", FLAVORS)
@settings(max_examples=400)
@given(payload=producers_identify() | identify_wire_dict() | JSON)
def test_identify_fast_path_accepts_only_what_marshmallow_accepts_with_the_same_result(
    flavor: str, payload: Any
) -> None:
    check(load_identify_wire, lambda p: fast_identify(p, flavor, IDENTIFY_VALIDATORS[flavor]), payload, flavor)


@pytest.mark.parametrize("flavor", FLAVORS)
@settings(max_examples=400)
@given(payload=producers_track() | track_wire_dict() | JSON)
def test_track_fast_path_accepts_only_what_marshmallow_accepts_with_the_same_result(flavor: str, payload: Any) -> None:
    check(load_track_wire, lambda p: fast_track(p, TRACK_VALIDATORS[flavor]), payload, flavor)


@given(
    first_name=st.none() | PLAIN,
    tags=st.lists(PLAIN, max_size=4),
    custom=st.dictionaries(PLAIN, PLAIN | st.sampled_from(["++1", "--2"]), max_size=3),
)
def test_what_identify_enqueues_takes_the_fast_path(
    first_name: str | None, tags: list[str], custom: dict[str, str]
) -> None:
    try:
        wire = identify_payload("v1", email="john@example.com", first_name=first_name, tags=tags, custom_fields=custom)
    except ValidationError:
        return  # refused by identify(): never enqueued
    assert fast_identify(wire, "v1", IDENTIFY_VALIDATORS["v1"]) == load_identify_wire(wire, "v1", fast=False)


@given(add=st.lists(PLAIN, max_size=4), remove=st.lists(PLAIN, max_size=4))
def test_what_track_enqueues_takes_the_fast_path(add: list[str], remove: list[str]) -> None:
    try:
        wire = track_payload("v1", email="john@example.com", add_tags=add, remove_tags=remove)
    except ValidationError:
        return  # nothing to add or remove, or one tag both ways: never enqueued
    assert fast_track(wire, TRACK_VALIDATORS["v1"]) == load_track_wire(wire, "v1", fast=False)
