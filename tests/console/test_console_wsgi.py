"""The console's WSGI app called directly: who may look, what may change anything, headers, paging, filters.

On the embedded broker with records written the way a worker writes them; the browser
suite (test_console_browser.py) does the same through Chromium with real workers.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterator

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sendx_worker.console import BreakerStatus, ConsoleApp, remote_user
from sendx_worker.console.guard import CSRF_COOKIE, is_loopback
from sendx_worker.console.records import PAGE_SIZE, contact_key
from sendx_worker.console.render import PAYLOAD_LIMIT, printable
from sendx_worker.deadletter import DeadLetterQueue
from tests.console.conftest import call, csrf_of, fabricated
from tests.support.brokers import IsolatedBroker

TOKEN = "a-console-token-0123456789"
MakeConsole = Callable[..., ConsoleApp]
AddRecords = Callable[..., None]


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_every_page_carries_the_security_headers_and_payload_pages_are_not_stored(
    embedded: IsolatedBroker, make_console: MakeConsole, add_records: AddRecords
) -> None:
    console = make_console()
    add_records(console, fabricated("a" * 32, "ann@example.com"))
    for path in ("/dead", "/dead/" + "a" * 32):
        page = call(console, "GET", path)
        assert page.status == 200, page.body
        policy = page.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert page.headers["Referrer-Policy"] == "same-origin"
        assert page.headers["Cache-Control"] == "no-store"
        assert "<script>" not in page.body  # the one script is external
    static = call(console, "GET", "/static/console.js")
    assert static.headers["Content-Type"].startswith("text/javascript")
    assert static.headers["Cache-Control"].startswith("public")
    assert call(console, "GET", "/static/../settings.py").status == 404


def test_without_authentication_only_loopback_clients_asking_for_a_loopback_host_are_served(
    embedded: IsolatedBroker, make_console: MakeConsole
) -> None:
    console = make_console()
    assert call(console, "GET", "/dead").status == 200
    assert call(console, "GET", "/dead", remote="::1", host="[::1]:8026").status == 200
    assert call(console, "GET", "/dead", host="localhost:8026").status == 200
    assert call(console, "GET", "/dead", remote="10.1.2.3").status == 403
    # DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1.
    rebound = call(console, "GET", "/dead", host="evil.example:8026")
    assert rebound.status == 403
    assert "SENDX_CONSOLE_TOKEN" in rebound.body


def test_a_configured_token_or_user_is_required_and_compared_exactly(
    embedded: IsolatedBroker, make_console: MakeConsole
) -> None:
    console = make_console({"SENDX_CONSOLE_TOKEN": TOKEN, "SENDX_CONSOLE_USERS": "alice:alice-password"})
    refused = call(console, "GET", "/dead")
    assert refused.status == 401
    assert refused.headers["WWW-Authenticate"].startswith('Basic realm="sendx-worker console"')
    assert call(console, "GET", "/dead", remote="10.1.2.3", host="ops.example", headers=basic("bob", TOKEN)).status
    for headers in (
        {"Authorization": f"Bearer {TOKEN}"},
        basic("anyone", TOKEN),
        basic("alice", "alice-password"),
    ):
        assert call(console, "GET", "/dead", remote="10.1.2.3", host="ops.example", headers=headers).status == 200
    for headers in (
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Bearer {TOKEN[:-1]}"},
        basic("alice", "wrong-password"),
        basic("mallory", "alice-password"),
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": TOKEN},
    ):
        assert call(console, "GET", "/dead", headers=headers).status == 401, headers
    page = call(console, "GET", "/dead", headers=basic("alice", "alice-password"))
    assert '<span class="who">alice</span>' in page.body


def test_a_host_app_authorizes_with_its_own_function_and_urls_follow_its_prefix(
    embedded: IsolatedBroker, make_console: MakeConsole
) -> None:
    console = make_console(authorize=remote_user)
    assert call(console, "GET", "/dead").status == 403  # even from loopback: the host decides
    page = call(
        console, "GET", "/dead", remote="10.1.2.3", host="app.example", script_name="/ops/sendx",
        environ={"REMOTE_USER": "carol"},
    )  # fmt: skip
    assert page.status == 200
    assert '<span class="who">carol</span>' in page.body
    assert 'href="/ops/sendx/static/console.css"' in page.body
    assert 'action="/ops/sendx/dead"' in page.body
    assert "Path=/ops/sendx;" in page.headers["Set-Cookie"]


def test_state_changes_need_a_same_origin_post_with_the_form_token(
    embedded: IsolatedBroker, make_console: MakeConsole, add_records: AddRecords
) -> None:
    console = make_console()
    add_records(console, *(fabricated(f"{n:032x}", f"p{n}@example.com") for n in range(6)))
    token, same_origin = csrf_of(console)
    form = {"csrf": token, "id": f"{0:032x}", "confirm": "yes"}

    assert call(console, "GET", "/dead/purge").status == 405
    refusals = {
        "no token": ({"Sec-Fetch-Site": "same-origin", "Cookie": same_origin["Cookie"]}, {**form, "csrf": ""}),
        "no cookie": ({"Sec-Fetch-Site": "same-origin"}, form),
        "another token": ({**same_origin, "Cookie": f"{CSRF_COOKIE}=something-else"}, form),
        "cross-site": ({**same_origin, "Sec-Fetch-Site": "cross-site"}, form),
        "same-site": ({**same_origin, "Sec-Fetch-Site": "same-site"}, form),
        "foreign Origin": ({"Cookie": same_origin["Cookie"], "Origin": "http://evil.example"}, form),
        "null Origin": ({"Cookie": same_origin["Cookie"], "Origin": "null"}, form),
        "foreign Referer": ({"Cookie": same_origin["Cookie"], "Referer": "http://evil.example/x"}, form),
    }
    for why, (headers, sent) in refusals.items():
        answer = call(console, "POST", "/dead/purge", form=sent, headers=headers)
        assert answer.status == 403, why
    assert len(DeadLetterQueue(console.app.connection_for_write).records()) == 6

    accepted = [
        same_origin,
        {"Cookie": same_origin["Cookie"], "Origin": "http://127.0.0.1:8026"},
        {"Cookie": same_origin["Cookie"], "Referer": "http://127.0.0.1:8026/dead"},
        {"Cookie": same_origin["Cookie"]},  # an old client sending neither: the token decides
    ]
    for number, headers in enumerate(accepted):
        answer = call(console, "POST", "/dead/purge", form={**form, "id": f"{number:032x}"}, headers=headers)
        assert answer.status == 303, answer.body
    assert len(DeadLetterQueue(console.app.connection_for_write).records()) == 2
    json_post = call(console, "POST", "/dead/purge", form=form, headers={**same_origin, "Content-Type": "text/json"})
    assert json_post.status == 415


def test_read_only_hides_the_actions_and_refuses_them(
    embedded: IsolatedBroker, make_console: MakeConsole, add_records: AddRecords
) -> None:
    console = make_console({"SENDX_CONSOLE_READ_ONLY": "1"})
    add_records(console, fabricated("b" * 32, "bo@example.com"))
    for path in ("/dead", "/dead/" + "b" * 32):
        page = call(console, "GET", path)
        assert page.status == 200
        assert "read-only" in page.body
        assert '<form method="post"' not in page.body
        assert "Replay" not in page.body and "Purge" not in page.body
    token, headers = csrf_of(console)
    for path in ("/dead/replay", "/dead/purge"):
        answer = call(console, "POST", path, form={"csrf": token, "id": "b" * 32, "confirm": "yes"}, headers=headers)
        assert (answer.status, answer.body) == (403, "the console is read-only\n")
    assert len(DeadLetterQueue(console.app.connection_for_write).records()) == 1


def test_the_table_is_paged_newest_first_and_filtered_by_reason_status_team_age_and_exact_email(
    embedded: IsolatedBroker, make_console: MakeConsole, add_records: AddRecords
) -> None:
    console = make_console()
    records = [fabricated(f"{n:032x}", f"user{n}@example.com", age_s=10 * n + 30) for n in range(PAGE_SIZE + 12)]
    records += [
        fabricated("c" * 32, "Cy@Example.com", reason="invalid_payload", status=None, team="eu", age_s=3 * 86400),
        fabricated("d" * 32, "dee@example.com", reason="retries_exhausted", status=503, age_s=10 * 86400),
    ]
    add_records(console, *records)
    first = call(console, "GET", "/dead")
    assert f"{len(records)} of {len(records)}" in first.body
    assert first.body.index(f"{0:032x}") < first.body.index(f"{1:032x}")  # newest first
    assert first.body.count('name="id" value=') == PAGE_SIZE
    second = call(console, "GET", "/dead", query="page=2")
    assert second.body.count('name="id" value=') == len(records) - PAGE_SIZE
    assert "page 2 of 2" in second.body
    assert "user0@example.com" not in first.body and "u***@example.com" in first.body

    def ids(query: str) -> set[str]:
        page = call(console, "GET", "/dead", query=query)
        assert page.status == 200, page.body
        return {record.id for record in records if f'name="id" value="{record.id}"' in page.body}

    assert ids("reason=invalid_payload") == {"c" * 32}
    assert ids("status=none") == {"c" * 32}
    assert ids("status=503") == {"d" * 32}
    assert ids("team=eu") == {"c" * 32}
    assert ids("team=-&reason=retries_exhausted") == {"d" * 32}
    assert ids("age=gt1d") == {"c" * 32, "d" * 32}
    assert ids("age=gt7d") == {"d" * 32}
    assert len(ids("age=1h")) == PAGE_SIZE  # the first page of the 62 recent ones
    assert ids("reason=nonsense&age=gt7d") == {"d" * 32}  # an unknown value filters nothing

    search = call(console, "GET", "/dead", query="email=+cy@example.COM+")
    assert search.status == 303
    assert "cy%40" not in search.location.lower() and "cy@" not in search.location.lower()
    assert f"contact={contact_key('cy@example.com')}" in search.location
    found = call(console, "GET", "/dead", query=search.location.split("?", 1)[1])
    assert 'name="id" value="' + "c" * 32 in found.body
    assert found.body.count('name="id" value=') == 1
    assert "e-mail c***@example.COM" in found.body
    assert "Cy@Example.com" not in found.body and "cy@example.com" not in found.body.lower()
    assert ids("contact=" + contact_key("nobody@example.com")) == set()


def test_the_detail_page_shows_the_evidence_and_the_payload_masked_escaped_and_cut(
    embedded: IsolatedBroker, make_console: MakeConsole, add_records: AddRecords
) -> None:
    console = make_console()
    hostile = "<script>window.pwned=1</script>\x1b[31mred\x1b]8;;http://evil.example\x07link\u202ereversed"
    record = fabricated(
        "e" * 32,
        "eve@example.com",
        error=f"SendX said {hostile} about eve@example.com",
        payload={"email": "eve@example.com", "firstName": hostile, "zNotes": "x" * PAYLOAD_LIMIT},
        evidence={"method": "POST", "path": "/api/v1/contact/identify", "sendx_message": hostile, "status": 422},
    )
    add_records(console, record)
    page = call(console, "GET", "/dead/" + "e" * 32)
    assert page.status == 200
    assert "<script>window" not in page.body
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in page.body
    assert "\x1b" not in page.body and "\x07" not in page.body and "\u202e" not in page.body
    assert "\\x1b[31mred" in page.body  # the error text shows the escape, inert
    assert "\\u001b[31mred" in page.body  # the payload is JSON: control characters escaped
    assert "eve@example.com" not in page.body
    assert "e***@example.com" in page.body
    assert f"cut at {PAYLOAD_LIMIT} characters" in page.body
    assert "POST /api/v1/contact/identify" in page.body
    assert call(console, "GET", "/dead/" + "f" * 32).status == 404


@given(st.text(max_size=200))
def test_printable_text_never_holds_a_control_character_or_an_address(text: str) -> None:
    shown = printable(text + " ann@example.com")
    assert not any(ord(ch) < 32 and ch not in "\t\n" for ch in shown)
    assert not any(0x7F <= ord(ch) <= 0x9F or 0x202A <= ord(ch) <= 0x202E for ch in shown)
    assert "ann@example.com" not in shown


def test_purge_asks_first_then_deletes_and_logs_who_and_what_masked(
    embedded: IsolatedBroker, make_console: MakeConsole, add_records: AddRecords, caplog: pytest.LogCaptureFixture
) -> None:
    console = make_console({"SENDX_CONSOLE_USERS": "alice:alice-password"})
    add_records(console, *(fabricated(f"{n:032x}", f"p{n}@example.com", reason="poison") for n in range(3)))
    add_records(console, fabricated("9" * 32, "keep@example.com"))
    auth = basic("alice", "alice-password")
    token, headers = csrf_of(console, headers=auth)
    headers = {**headers, **auth}
    form = {"csrf": token, "scope": "matching", "reason": "poison"}
    asked = call(console, "POST", "/dead/purge", form=form, headers=headers)
    assert asked.status == 200
    assert "Delete 3 dead letter(s) for good?" in asked.body
    assert len(DeadLetterQueue(console.app.connection_for_write).records()) == 4
    until = asked.body.split('name="until" value="', 1)[1].split('"', 1)[0]
    caplog.set_level(logging.INFO, logger="sendx_worker.console.actions")
    done = call(
        console,
        "POST",
        "/dead/purge",
        form={"csrf": token, "scope": "matching", "reason": "poison", "until": until, "confirm": "yes"},
        headers=headers,
    )
    assert done.status == 303
    assert "notice=purged&n_purged=3" in done.location
    assert [r.id for r in DeadLetterQueue(console.app.connection_for_write).records()] == ["9" * 32]
    (line,) = [r for r in caplog.records if r.name == "sendx_worker.console.actions"]
    fields = line.sendx  # type: ignore[attr-defined]
    assert (fields["action"], fields["who"], fields["count"]) == ("purge", "alice", 3)
    assert "p***@example.com" in fields["emails"] and "p0@example.com" not in str(fields)
    assert "reason poison" in fields["filter"]


def test_the_breaker_panel_shows_the_fleets_circuit_or_says_not_available_without_flow_control(
    embedded: IsolatedBroker, make_console: MakeConsole
) -> None:
    plain = call(make_console({"SENDX_FLOW_CONTROL": "off"}), "GET", "/")
    assert plain.status == 200
    assert 'id="breaker-unavailable"' in plain.body
    live = call(make_console({"SENDX_API_KEY": "k" * 16, "SENDX_TEAM_ID": "t"}), "GET", "/")
    assert '<dd class="state-closed">closed</dd>' in live.body and "default team" in live.body
    opened = BreakerStatus(available=True, state="open", limit=4.0, facts={"opened": "12 s ago"})
    page = call(make_console(breaker=lambda: opened), "GET", "/")
    assert '<dd class="state-open">open</dd>' in page.body
    assert "<dd>4.0</dd>" in page.body and "12 s ago" in page.body


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.9.9.9", True), ("::1", True), ("[::1]", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("10.0.0.5", False), ("example.com", False), ("localhost.evil", False)],
)  # fmt: skip
def test_loopback_addresses_are_recognised(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def _start_replay_job(console: ConsoleApp, rate: str, **filters: str) -> str:
    token, headers = csrf_of(console)
    form = {"csrf": token, "scope": "matching", **filters}
    asked = call(console, "POST", "/dead/replay", form=form, headers=headers)
    assert asked.status == 200, asked.body
    until = asked.body.split('name="until" value="', 1)[1].split('"', 1)[0]
    started = call(
        console, "POST", "/dead/replay", form={**form, "until": until, "confirm": "yes", "rate": rate}, headers=headers
    )
    assert started.status == 303, started.body
    return started.location.rsplit("/", 1)[1]


def test_replay_all_matching_runs_as_a_job_that_reports_progress_and_stops_when_the_breaker_opens(
    embedded: IsolatedBroker, make_console: MakeConsole, add_records: AddRecords
) -> None:
    asked = 0

    def breaker() -> BreakerStatus:
        nonlocal asked
        asked += 1
        # Closed for the first three replays, then open.
        return BreakerStatus(available=True, state="closed" if asked <= 3 else "open")

    console = make_console(breaker=breaker)
    add_records(console, *(fabricated(f"{n:032x}", f"r{n}@example.com") for n in range(8)))
    add_records(console, fabricated("f" * 32, "other@example.com", reason="invalid_payload"))
    job_id = _start_replay_job(console, "50", reason="rejected")
    job = console.jobs.get(job_id)
    assert job is not None
    job.join(timeout=60)
    view = job.view()
    assert (view.state, view.done, view.total) == ("stopped", 3, 8)
    assert "circuit breaker is open" in view.message
    page = call(console, "GET", f"/jobs/{job_id}")
    assert 'id="job-state" class="state-stopped">stopped' in page.body
    assert '<span id="job-done">3</span> of <span id="job-total">8</span>' in page.body
    left = DeadLetterQueue(console.app.connection_for_write).records()
    assert len(left) == 6  # 5 rejected left in place, and the invalid_payload one never matched
    from sendx_worker.console.queues import probe_queues

    assert probe_queues(console.app).ready == 3  # the three replayed tasks, back on `sendx`


def test_a_replay_job_with_the_breaker_closed_replays_everything_matching_then_its_page_stops_refreshing(
    embedded: IsolatedBroker, make_console: MakeConsole, add_records: AddRecords
) -> None:
    console = make_console()
    add_records(console, *(fabricated(f"{n:032x}", f"r{n}@example.com", team="eu") for n in range(5)))
    add_records(console, fabricated("f" * 32, "other@example.com"))
    job_id = _start_replay_job(console, "20", team="eu")
    job = console.jobs.get(job_id)
    assert job is not None
    job.join(timeout=60)
    assert (job.view().state, job.view().done) == ("finished", 5)
    assert [r.id for r in DeadLetterQueue(console.app.connection_for_write).records()] == ["f" * 32]
    assert 'http-equiv="refresh"' not in call(console, "GET", f"/jobs/{job_id}").body
    assert call(console, "GET", "/jobs/0123456789ab").status == 404


def test_an_unreachable_broker_is_said_without_its_password(make_console: MakeConsole) -> None:
    console = make_console({"CELERY_BROKER_URL": "amqp://guest:hunter2-secret@127.0.0.1:1//"})
    overview = call(console, "GET", "/")
    assert overview.status == 200
    assert "The broker could not be read: OperationalError: [Errno 111] Connection refused" in overview.body
    assert "amqp://***@127.0.0.1:1//" in overview.body
    listing = call(console, "GET", "/dead")
    assert listing.status == 503
    assert listing.body.startswith("the console failed: ")
    assert "hunter2" not in overview.body + listing.body


@pytest.fixture(scope="module")
def fuzzed_console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleApp]:
    """One console with a few records, shared by the examples of the property tests below."""
    from sendx_worker.console import create_console
    from sendx_worker.settings import load_settings

    folder = tmp_path_factory.mktemp("fuzzed")
    console = create_console(load_settings({"SENDX_DATA_DIR": str(folder), "SENDX_CONSOLE_TOKEN": TOKEN}))
    DeadLetterQueue(console.app.connection_for_write).add(
        [fabricated(f"{n:032x}", f"f{n}@example.com", team="eu" if n % 2 else None) for n in range(5)]
    )
    yield console
    console.close()


QUERY_NAMES = st.sampled_from(["reason", "status", "team", "age", "email", "contact", "shown", "page", "until", "x"])


@given(st.lists(st.tuples(QUERY_NAMES, st.text(max_size=60)), max_size=6))
def test_any_query_string_is_a_page_or_a_redirect_never_an_error_or_an_echo(
    fuzzed_console: ConsoleApp, pairs: list[tuple[str, str]]
) -> None:
    from urllib.parse import urlencode

    answer = call(fuzzed_console, "GET", "/dead", query=urlencode(pairs), headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status in (200, 303), answer.body
    for _, value in pairs:
        if "<" in value:
            assert value not in answer.body  # escaped wherever it shows


@given(st.text(max_size=80))
def test_any_authorization_header_is_refused_unless_it_holds_the_token(fuzzed_console: ConsoleApp, value: str) -> None:
    assume(TOKEN not in value)
    assert call(fuzzed_console, "GET", "/dead", headers={"Authorization": value}).status == 401
    assert call(fuzzed_console, "GET", "/dead", headers={"Authorization": f"Bearer {value}"}).status == 401


def test_a_running_replay_job_refreshes_its_page_and_can_be_cancelled(
    embedded: IsolatedBroker, make_console: MakeConsole, add_records: AddRecords, caplog: pytest.LogCaptureFixture
) -> None:
    console = make_console()
    add_records(console, *(fabricated(f"{n:032x}", f"slow{n}@example.com") for n in range(5)))
    job_id = _start_replay_job(console, "0.2")  # one every five seconds: still running below
    running = call(console, "GET", f"/jobs/{job_id}")
    assert 'http-equiv="refresh" content="2"' in running.body
    assert 'id="cancel-job"' in running.body
    caplog.set_level(logging.INFO, logger="sendx_worker.console.actions")
    token, headers = csrf_of(console)
    cancelled = call(console, "POST", f"/jobs/{job_id}/cancel", form={"csrf": token}, headers=headers)
    assert cancelled.status == 303
    job = console.jobs.get(job_id)
    assert job is not None and job.view().state == "cancelled"
    assert job.view().done < 5
    actions = [r.sendx["action"] for r in caplog.records if r.name == "sendx_worker.console.actions"]  # type: ignore[attr-defined]
    assert "cancel_replay_job" in actions and "replay_matching" in actions
    assert len(DeadLetterQueue(console.app.connection_for_write).records()) == 5 - job.view().done
