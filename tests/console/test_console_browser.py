"""The console in a real headless Chromium (Debian's, driven by Playwright): RabbitMQ, real workers, the emulator.

Set SCREENSHOTS_DIR=docs to refresh the screenshots in docs/ (taken here at 1366x768).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sendx_worker.console import ConsoleApp
from sendx_worker.console.guard import CSRF_COOKIE
from tests.console.conftest import Served, fabricated
from tests.delivery.conftest import Stack
from tests.support.brokers import IsolatedBroker, rabbitmq_vhost
from tests.support.waiting import wait_for

playwright = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAPTOP = {"width": 1366, "height": 768}
TOKEN = "browser-test-token-0123456789"
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium for the module; each test gets a fresh context (cookies, storage)."""
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def rabbitmq() -> Iterator[IsolatedBroker]:
    with rabbitmq_vhost() as broker:
        yield broker


@pytest.fixture
def stack(rabbitmq: IsolatedBroker, stack_on: Callable[[IsolatedBroker], Stack]) -> Stack:
    return stack_on(rabbitmq)


@pytest.fixture
def open_console(
    browser: Any,
    stack: Stack,
    make_console: Callable[..., ConsoleApp],
    served: Callable[[ConsoleApp], Served],
) -> Iterator[Callable[..., tuple[Any, Served]]]:
    """Serve a console for the stack and open a page on it: ``open_console(env={...}, credentials=...)``."""
    contexts: list[Any] = []

    def open_page(
        env: dict[str, str] | None = None, credentials: dict[str, str] | None = None, **kwargs: Any
    ) -> tuple[Any, Served]:
        console = make_console({**stack.env, **(env or {})}, sample_interval_s=1.0, **kwargs)
        server = served(console)
        context = browser.new_context(viewport=LAPTOP, http_credentials=credentials)
        context.set_default_timeout(WAIT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("dialog", lambda dialog: pytest.fail(f"a dialog opened: {dialog.message}"))
        return page, server

    yield open_page
    for context in contexts:
        context.close()


def screenshot(page: Any, name: str, tmp_path: Path) -> None:
    folder = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / name), full_page=False)


def rows(page: Any) -> Any:
    return page.locator("#dead-letters tbody tr[data-id]")


def rejected_by_sendx(stack: Stack, *emails: str) -> None:
    """Dead letters made the real way: a worker, and the emulator answering 422 once to each address."""
    stack.emulator.set_faults(script={email: [422] for email in emails})
    if not stack.workers:
        stack.start_worker()
    for email in emails:
        stack.identify({"email": email, "firstName": email.split("@")[0].title()})
    stack.wait_dead_letters(len(emails))


def test_the_overview_shows_the_real_depth_of_the_queue_and_the_workers(
    open_console: Callable[..., tuple[Any, Served]], stack: Stack, tmp_path: Path
) -> None:
    page, server = open_console()
    for number in range(7):
        stack.identify({"email": f"waiting{number}@example.com", "firstName": "Wai"})
    page.goto(server.url + "/")
    playwright.expect(page.locator("#queue-sendx .depth")).to_have_text("7")
    playwright.expect(page.locator("#no-workers")).to_be_visible()
    # The fleet's circuit, read from the state store the workers share: no call has failed yet.
    playwright.expect(page.locator("#breaker .state-closed")).to_have_text("closed")

    worker = stack.start_worker()
    wait_for(lambda: len(stack.api_requests()) >= 7, timeout=60, what="the 7 delivered")
    rejected_by_sendx(stack, "dora@example.com")

    def caught_up() -> bool:
        page.reload()
        return page.locator("#queue-sendx .depth").inner_text() == "0" and worker.name in page.content()

    try:
        wait_for(caught_up, timeout=60, interval=1.0, what="the overview with the queue drained and the worker")
    except AssertionError:
        print(page.locator("main").inner_text())
        raise
    playwright.expect(page.locator("#queue-dead .depth")).to_have_text("1")
    assert "guest:guest" not in page.content() and "amqp://***@127.0.0.1" in page.content()
    screenshot(page, "console-overview.png", tmp_path)


def test_dead_letters_from_a_real_worker_appear_filter_search_and_replay_one(
    open_console: Callable[..., tuple[Any, Served]], stack: Stack, tmp_path: Path
) -> None:
    rejected_by_sendx(stack, "ann@example.com", "bob@example.com", "cy@example.com")
    stack.identify({"email": "not-an-address"})  # invalid_payload
    stack.wait_dead_letters(4)
    page, server = open_console()
    page.goto(server.url + "/dead")
    playwright.expect(rows(page)).to_have_count(4)
    playwright.expect(page.get_by_text("a***@example.com")).to_be_visible()
    assert "ann@example.com" not in page.content()
    screenshot(page, "console-dead-letters.png", tmp_path)

    page.select_option("select[name=reason]", "rejected")
    page.click("#apply-filter")
    playwright.expect(rows(page)).to_have_count(3)
    page.select_option("select[name=reason]", "")
    page.fill("input[name=email]", "Bob@Example.com")
    page.click("#apply-filter")
    playwright.expect(rows(page)).to_have_count(1)
    playwright.expect(rows(page).first.locator(".email")).to_have_text("b***@example.com")
    assert "bob" not in page.url.lower()

    rows(page).first.locator("a").click()
    playwright.expect(page.locator("#record")).to_contain_text("422")
    playwright.expect(page.locator("#evidence")).to_contain_text("POST /api/v1/contact/identify")
    page.click("#replay-one")
    playwright.expect(page.locator(".notice").first).to_contain_text("Replayed 1 dead letter(s)")
    stack.wait_contact("bob@example.com", firstName="Bob")
    assert [r["status"] for r in stack.api_requests("bob@example.com")] == [422, 200]
    assert {record.payload.get("email") for record in stack.dead_letters()} == {
        "ann@example.com", "cy@example.com", "not-an-address"
    }  # fmt: skip


def test_replay_all_matching_shows_the_count_then_delivers_them_all_at_the_rate_given(
    open_console: Callable[..., tuple[Any, Served]], stack: Stack
) -> None:
    emails = [f"batch{n}@example.com" for n in range(6)]
    rejected_by_sendx(stack, *emails)
    stack.identify({"email": "not-an-address"})
    stack.wait_dead_letters(7)
    page, server = open_console()
    page.goto(server.url + "/dead?reason=rejected")
    page.click("#replay-matching")
    playwright.expect(page.locator("h1")).to_have_text("Replay 6 dead letter(s)?")
    page.fill("#rate", "3")
    page.click("#confirm-replay")
    playwright.expect(page.locator("#job-state")).to_have_text("finished")  # the page reloads itself
    playwright.expect(page.locator("#job-done")).to_have_text("6")
    for email in emails:
        stack.wait_contact(email)
    assert [record.reason for record in stack.dead_letters()] == ["invalid_payload"]


def test_purge_asks_first_then_deletes(open_console: Callable[..., tuple[Any, Served]], stack: Stack) -> None:
    rejected_by_sendx(stack, "gus@example.com", "hal@example.com", "ida@example.com")
    page, server = open_console()
    page.goto(server.url + "/dead")
    playwright.expect(rows(page)).to_have_count(3)
    gus, hal = (record.id for record in stack.dead_letters() if record.payload["email"] != "ida@example.com")
    page.check(f"input[name=id][value='{gus}']")
    page.check(f"input[name=id][value='{hal}']")
    page.click("#purge-selected")
    playwright.expect(page.locator("h1")).to_have_text("Delete 2 dead letter(s) for good?")
    assert len(stack.dead_letters()) == 3  # asking deletes nothing
    page.click("#confirm-purge")
    playwright.expect(page.locator(".notice").first).to_contain_text("Deleted 2 dead letter(s)")
    playwright.expect(rows(page)).to_have_count(1)
    assert [record.payload["email"] for record in stack.dead_letters()] == ["ida@example.com"]
    assert stack.emulator.contact("gus@example.com") is None


class _Attacker(BaseHTTPRequestHandler):
    page = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def test_a_cross_origin_post_is_refused_even_with_the_form_token(
    open_console: Callable[..., tuple[Any, Served]], stack: Stack, add_records: Callable[..., None]
) -> None:
    page, server = open_console()
    add_records(server.console, fabricated("a" * 32, "ann@example.com"))
    page.goto(server.url + "/dead")
    playwright.expect(rows(page)).to_have_count(1)
    token = next(c["value"] for c in page.context.cookies() if c["name"] == CSRF_COOKIE)
    # Another site (localhost is not 127.0.0.1's site) that knows the token and auto-submits a purge.
    _Attacker.page = f"""<form method="post" action="{server.url}/dead/purge">
      <input name="csrf" value="{token}"><input name="id" value="{"a" * 32}"><input name="confirm" value="yes">
    </form><script>document.forms[0].submit()</script>""".encode()
    attacker = ThreadingHTTPServer(("127.0.0.1", 0), _Attacker)
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    try:
        with page.expect_navigation(url=f"{server.url}/dead/purge") as navigation:
            page.goto(f"http://localhost:{attacker.server_address[1]}/")
        response = navigation.value
        assert response.status == 403
        assert "refused" in page.content()
    finally:
        attacker.shutdown()
        attacker.server_close()
    assert [record.id for record in server.console.book.queue.records()] == ["a" * 32]


def answers_to(page: Any, url: str) -> list[int]:
    """The statuses the server answered a navigation with (Chromium may give up on a 401 with an error)."""
    statuses: list[int] = []
    page.on("response", lambda response: statuses.append(response.status))
    try:
        page.goto(url)
    except playwright.Error as exc:
        assert "ERR_INVALID_AUTH_CREDENTIALS" in str(exc)
    return statuses


def test_with_a_token_configured_a_request_without_it_is_refused(
    open_console: Callable[..., tuple[Any, Served]], stack: Stack, browser: Any
) -> None:
    page, server = open_console(env={"SENDX_CONSOLE_TOKEN": TOKEN})
    assert set(answers_to(page, server.url + "/dead")) == {401}
    for password, allowed in (("not-the-token", False), (TOKEN, True)):
        context = browser.new_context(viewport=LAPTOP, http_credentials={"username": "ops", "password": password})
        try:
            tab = context.new_page()
            statuses = answers_to(tab, server.url + "/dead")
            if allowed:
                assert statuses[-1] == 200
                playwright.expect(tab.locator(".who")).to_have_text("ops (token)")
            else:
                assert statuses and set(statuses) == {401}
        finally:
            context.close()


def test_read_only_mode_hides_the_actions_and_refuses_a_forged_post(
    open_console: Callable[..., tuple[Any, Served]], stack: Stack, add_records: Callable[..., None]
) -> None:
    page, server = open_console(read_only=True)
    add_records(server.console, fabricated("b" * 32, "bo@example.com"))
    page.goto(server.url + "/dead")
    playwright.expect(page.locator("#read-only")).to_be_visible()
    playwright.expect(rows(page)).to_have_count(1)
    for hidden in ("#replay-selected", "#purge-selected", "#replay-matching", "#purge-matching", "input[name=id]"):
        playwright.expect(page.locator(hidden)).to_have_count(0)
    page.goto(server.url + "/dead/" + "b" * 32)
    playwright.expect(page.locator("#replay-one")).to_have_count(0)
    playwright.expect(page.locator("#purge-one")).to_have_count(0)
    token = next(c["value"] for c in page.context.cookies() if c["name"] == CSRF_COOKIE)
    with page.expect_navigation() as navigation:
        page.evaluate(
            """([action, token, id]) => {
                const form = document.createElement("form");
                form.method = "post"; form.action = action;
                for (const [name, value] of [["csrf", token], ["id", id], ["confirm", "yes"]]) {
                    const input = document.createElement("input"); input.name = name; input.value = value;
                    form.appendChild(input);
                }
                document.body.appendChild(form); form.submit();
            }""",
            [server.url + "/dead/purge", token, "b" * 32],
        )
    assert navigation.value.status == 403
    assert "the console is read-only" in page.content()
    assert len(server.console.book.queue.records()) == 1


def test_a_payload_holding_script_and_terminal_escapes_renders_inert(
    open_console: Callable[..., tuple[Any, Served]], stack: Stack, add_records: Callable[..., None]
) -> None:
    hostile = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">\x1b[2J\x1b[31mRED\x07\u202eevil'
    page, server = open_console()
    add_records(
        server.console,
        fabricated(
            "c" * 32,
            "cy@example.com",
            error=f"SendX said: {hostile}",
            payload={"email": "cy@example.com", "firstName": hostile, "customFields": {hostile: hostile}},
            team=hostile,
            evidence={"method": "POST", "path": "/api/v1/contact/identify", "sendx_message": hostile},
        ),
    )
    page.goto(server.url + "/dead")
    playwright.expect(rows(page)).to_have_count(1)
    rows(page).first.locator("a").click()
    playwright.expect(page.locator("#payload")).to_contain_text("<script>window.pwned=1</script>")
    playwright.expect(page.locator("#payload")).to_contain_text("\\u001b[2J\\u001b[31mRED")
    playwright.expect(page.locator("#error")).to_contain_text("\\x1b[2J\\x1b[31mRED\\x07")
    playwright.expect(page.locator("#sendx-message")).to_contain_text('<img src=x onerror="window.pwned=2">')
    assert page.evaluate("window.pwned") is None
    assert page.locator("img").count() == 0
    text = page.locator("main").inner_text()
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "cy@example.com" not in page.content()


def test_reading_works_with_javascript_off(
    browser: Any, stack: Stack, make_console: Callable[..., ConsoleApp], served: Callable[[ConsoleApp], Served],
    add_records: Callable[..., None],
) -> None:  # fmt: skip
    server = served(make_console(stack.env))
    add_records(server.console, fabricated("d" * 32, "dee@example.com", reason="poison", status=None))
    add_records(server.console, fabricated("e" * 32, "eve@example.com"))
    context = browser.new_context(viewport=LAPTOP, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(server.url + "/")
        playwright.expect(page.locator("#queue-dead .depth")).to_have_text("2")
        page.goto(server.url + "/dead")
        playwright.expect(rows(page)).to_have_count(2)
        playwright.expect(page.locator("#select-all")).to_be_hidden()  # the one script's checkbox
        page.select_option("select[name=reason]", "poison")
        page.click("#apply-filter")
        playwright.expect(rows(page)).to_have_count(1)
        rows(page).first.locator("a").click()
        playwright.expect(page.locator("#payload")).to_contain_text('"email": "d***@example.com"')
    finally:
        context.close()
