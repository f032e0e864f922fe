"""The recorder's contact() is what SendX holds after the worker delivers the same calls."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sendx_worker import identify, track
from sendx_worker.testing import EmulatorControls, Recorder, ThreadWorker

EMAILS = ("ada@example.com", "bob@example.com")
TAGS = ("trial user", "paid user", "Developer")

tags = st.lists(st.sampled_from(TAGS), unique=True, max_size=2)
custom_fields = st.dictionaries(
    st.sampled_from(("Logins", "Plan")),
    st.one_of(st.sampled_from(("++1", "--2", "++0.5", "7", "pro")), st.integers(0, 9).map(str)),
    max_size=2,
)
identify_call = st.builds(
    lambda email, name, tags, fields: ("identify", email, {"first_name": name, "tags": tags, "custom_fields": fields}),
    st.sampled_from(EMAILS),
    st.sampled_from((None, "Ada", "Bob", "Zed")),
    tags,
    custom_fields,
)


@st.composite
def track_call(draw: st.DrawFn) -> tuple[str, str, dict[str, Any]]:
    added = draw(tags)
    removed = draw(st.lists(st.sampled_from([t for t in TAGS if t not in added]), unique=True, max_size=2))
    if not added and not removed:
        added = [TAGS[0]]
    return ("track", draw(st.sampled_from(EMAILS)), {"add_tags": added, "remove_tags": removed})


@st.composite
def histories(draw: st.DrawFn) -> list[tuple[str, str, dict[str, Any]]]:
    calls = draw(st.lists(st.one_of(identify_call, track_call()), min_size=1, max_size=8))
    # Each contact starts with an identify: a track that races ahead of it is retried
    # until the contact exists, an order the recorder does not try to predict.
    created: set[str] = set()
    kept = []
    for call in calls:
        if call[0] == "identify":
            created.add(call[1])
        if call[1] in created:
            kept.append(call)
    return kept


@given(history=histories())
def test_the_recorders_contact_is_what_the_emulator_holds_after_delivery(
    history: list[tuple[str, str, dict[str, Any]]], sendx_worker: ThreadWorker, sendx_emulator: EmulatorControls
) -> None:
    sendx_emulator.emulator.reset()
    recorder = Recorder()
    with recorder.recording():
        for operation, email, fields in history:
            (identify if operation == "identify" else track)(email, **fields)
    sendx_worker.drain()
    for email in EMAILS:
        assert _fields(recorder.contact(email)) == _fields(sendx_emulator.contact(email)), history


def _fields(contact: dict[str, Any] | None) -> dict[str, Any] | None:
    if contact is None:
        return None
    return {name: value for name, value in contact.items() if not name.startswith("encrypted")}
