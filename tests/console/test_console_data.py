"""The console's data layer on RabbitMQ, Redis and the embedded broker, with real workers and the emulator."""

from __future__ import annotations

from collections.abc import Callable

from sendx_worker.console import ConsoleApp
from sendx_worker.console.queues import probe_queues
from sendx_worker.console.workers import ask_workers
from sendx_worker.emulator import Emulator
from tests.console.conftest import call
from tests.delivery.conftest import TEAM_ID, Stack
from tests.support.brokers import IsolatedBroker
from tests.support.waiting import wait_for


def test_depths_retries_workers_replay_and_purge_on_each_broker(
    any_broker: IsolatedBroker, stack_on: Callable[[IsolatedBroker], Stack], make_console: Callable[..., ConsoleApp]
) -> None:
    stack = stack_on(any_broker)
    console = make_console(stack.env)
    for n in range(4):
        stack.identify({"email": f"queued{n}@example.com"})
    depths = wait_for(lambda: (d := probe_queues(console.app)).ready == 4 and d, timeout=30, what="4 ready")
    assert depths.dead_letters == 0
    assert ask_workers(console.app, timeout_s=0.5) == []

    stack.emulator.set_faults(
        script={
            "rej1@example.com": [422],
            "rej2@example.com": [422],
            # A retry that waits a minute: in the broker's delayed queues, or held by the worker.
            "later@example.com": [{"status": 429, "retry_after": 60}],
        }
    )
    worker = stack.start_worker(SENDX_RETRY_CAP_S="120")
    for email in ("rej1@example.com", "rej2@example.com", "later@example.com"):
        stack.identify({"email": email, "firstName": email[:3].title()})
    stack.wait_dead_letters(2)

    def settled() -> object:
        found = probe_queues(console.app)
        return found if (found.ready, found.retry_waiting, found.dead_letters) == (0, 1, 2) else None

    wait_for(settled, timeout=60, interval=0.3, what="the queue drained, one retry waiting, two dead letters")
    (view,) = wait_for(lambda: ask_workers(console.app), timeout=30, what="the worker's answer")
    assert view.name == worker.name
    assert not view.auth_rejected_recently
    wait_for(lambda: (ask_workers(console.app) or [view])[0].processed, timeout=30, what="a finished task counted")
    if any_broker.kind != "rabbitmq":  # on RabbitMQ the broker holds the retry, not the worker
        assert wait_for(lambda: ask_workers(console.app)[0].scheduled, timeout=30, what="the held retry") == 1

    records = {record.payload["email"]: record for record in console.book.all()}
    replayed = console.actions.replay_ids({records["rej1@example.com"].id}, "tester")
    assert [record.id for record in replayed.done] == [records["rej1@example.com"].id]
    stack.wait_contact("rej1@example.com", firstName="Rej")
    purged = console.actions.purge("tester", {records["rej2@example.com"].id})
    assert len(purged.done) == 1
    assert console.book.all() == []
    assert stack.emulator.contact("rej2@example.com") is None


def test_workers_that_saw_sendx_reject_the_credentials_are_flagged_on_the_overview(
    embedded: IsolatedBroker,
    stack_on: Callable[[IsolatedBroker], Stack],
    make_console: Callable[..., ConsoleApp],
    emulator: Emulator,
) -> None:
    stack = stack_on(embedded)
    emulator.set_teams({TEAM_ID: "the-real-key"})
    stack.start_worker()
    stack.identify({"email": "eve@example.com"})
    wait_for(lambda: stack.api_requests("eve@example.com"), timeout=60, what="a rejected attempt")
    console = make_console(stack.env)
    (view,) = wait_for(lambda: ask_workers(console.app), timeout=30, what="the worker's answer")
    assert view.auth_rejected_recently and view.auth_rejections >= 1
    page = call(console, "GET", "/")
    assert 'id="auth-rejected"' in page.body
    assert "SendX rejected the credentials recently, seen by 1 worker(s)" in page.body
    assert "the-real-key" not in page.body and stack.env["SENDX_API_KEY"] not in page.body
