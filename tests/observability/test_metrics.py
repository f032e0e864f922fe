"""Prometheus metrics: the observer on its own, and a real worker scraped over HTTP."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from sendx_worker.celery_app import create_app
from sendx_worker.errors import ConfigurationError
from sendx_worker.metrics import PrometheusObserver, require_prometheus_client, serve_metrics
from sendx_worker.observe import NullObserver, observer_of
from sendx_worker.settings import load_settings
from sendx_worker.worker.metrics_hook import install_metrics, uses_prefork
from tests.delivery.conftest import Stack
from tests.observability.conftest import REPO, free_port, scrape
from tests.support.waiting import wait_for

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str, prefix: str = "sendx_") -> Samples:
    """Every ``sendx_*`` sample of a scrape, keyed by (name, labels)."""
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith(prefix) and not sample.name.endswith("_created"):
                found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


# --- the observer, against a private registry -------------------------------------------


def test_the_observer_counts_outcomes_dead_letters_latency_and_attempts_in_flight() -> None:
    registry = CollectorRegistry()
    observer = PrometheusObserver(registry)
    value = registry.get_sample_value

    observer.task_started("identify")
    observer.task_started("identify")
    assert value("sendx_tasks_in_flight", {"operation": "identify"}) == 2
    observer.task_finished("identify", "delivered")
    observer.task_finished("identify", "retried")
    observer.task_started("track")
    observer.dead_lettered("track", "rejected")
    observer.task_finished("track", "dead_lettered")
    observer.sendx_call("identify", 200, 0.03)
    observer.sendx_call("identify", 503, 0.2)
    observer.sendx_call("identify", None, 2.0)

    assert value("sendx_tasks_in_flight", {"operation": "identify"}) == 0
    assert value("sendx_tasks_in_flight", {"operation": "track"}) == 0
    assert value("sendx_tasks_total", {"operation": "identify", "outcome": "delivered"}) == 1
    assert value("sendx_tasks_total", {"operation": "identify", "outcome": "retried"}) == 1
    assert value("sendx_tasks_total", {"operation": "track", "outcome": "dead_lettered"}) == 1
    assert value("sendx_dead_letters_total", {"operation": "track", "reason": "rejected"}) == 1
    assert value("sendx_request_seconds_count", {"operation": "identify", "status": "200"}) == 1
    assert value("sendx_request_seconds_count", {"operation": "identify", "status": "503"}) == 1
    assert value("sendx_request_seconds_count", {"operation": "identify", "status": "none"}) == 1
    assert value("sendx_request_seconds_sum", {"operation": "identify", "status": "none"}) == 2.0
    assert value("sendx_request_seconds_bucket", {"operation": "identify", "status": "200", "le": "0.05"}) == 1


def test_every_outcome_and_reason_series_exists_at_zero_before_anything_happens() -> None:
    registry = CollectorRegistry()
    PrometheusObserver(registry)
    value = registry.get_sample_value
    for operation in ("identify", "track"):
        assert value("sendx_tasks_in_flight", {"operation": operation}) == 0
        for outcome in ("delivered", "retried", "dead_lettered", "requeued"):
            assert value("sendx_tasks_total", {"operation": operation, "outcome": outcome}) == 0
        for reason in ("invalid_payload", "rejected", "retries_exhausted", "ambiguous_increment", "poison"):
            assert value("sendx_dead_letters_total", {"operation": operation, "reason": reason}) == 0


def test_a_broken_metric_update_never_reaches_the_delivery() -> None:
    registry = CollectorRegistry()
    observer = PrometheusObserver(registry)
    observer.sendx_call("identify", 200, "not seconds")  # type: ignore[arg-type]  # raises inside, is swallowed
    observer.sendx_call("identify", 200, 0.1)
    assert registry.get_sample_value("sendx_request_seconds_count", {"operation": "identify", "status": "200"}) == 1


def test_without_prometheus_client_the_error_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # makes the import fail
    with pytest.raises(ConfigurationError) as caught:
        require_prometheus_client()
    assert str(caught.value) == (
        "SENDX_METRICS_PORT: metrics need the prometheus-client package: pip install 'sendx-worker[metrics]'"
    )


# --- the start-up hook, in process ---------------------------------------------------------


def test_metrics_are_off_without_sendx_metrics_port() -> None:
    app = create_app(load_settings({"SENDX_API_KEY": "k", "SENDX_TEAM_ID": "t"}))
    assert install_metrics(app, registry=CollectorRegistry()) is None
    assert isinstance(observer_of(app), NullObserver)


def test_with_sendx_metrics_port_the_hook_serves_metrics_and_attaches_the_observer() -> None:
    port = free_port()
    app = create_app(load_settings({"SENDX_METRICS_PORT": str(port)}))
    served = install_metrics(app, registry=CollectorRegistry())
    assert served is not None
    try:
        assert served.port == port
        assert isinstance(observer_of(app), PrometheusObserver)
        observer_of(app).task_finished("track", "delivered")
        found = samples(scrape(port))
        assert found[key("sendx_tasks_total", operation="track", outcome="delivered")] == 1
    finally:
        served.close()


def test_a_second_process_on_the_same_machine_takes_the_next_free_port() -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        registry = CollectorRegistry()
        PrometheusObserver(registry)
        served = serve_metrics(port, registry=registry)
        try:
            assert port < served.port < port + 32
            assert "sendx_tasks_total" in scrape(served.port)
        finally:
            served.close()


def test_the_prefork_pool_is_recognised_whatever_form_celery_gives_it() -> None:
    from celery.concurrency.prefork import TaskPool as PreforkPool
    from celery.concurrency.thread import TaskPool as ThreadPool

    assert uses_prefork(None)
    assert uses_prefork("prefork")
    assert uses_prefork(PreforkPool)
    assert not uses_prefork("threads")
    assert not uses_prefork(ThreadPool)


def test_the_app_celery_finds_registers_the_metrics_hook() -> None:
    # In a fresh interpreter, loading the app the way `celery -A sendx_worker worker` does.
    code = (
        "from celery import signals\n"
        "from celery.app.utils import find_app\n"
        "find_app('sendx_worker')\n"
        "names = [getattr(r[1], '__module__', '') for r in signals.worker_init.receivers]\n"
        "print('sendx_worker.worker.metrics_hook' in names)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "True", result.stderr


# --- a real worker, scraped over HTTP -------------------------------------------------------


def test_a_worker_exposes_exact_counts_after_delivering_retrying_and_dead_lettering(stack: Stack) -> None:
    port = free_port()
    stack.emulator.set_faults(
        script={"rae@example.com": [503, 200], "rob@example.com": [503, 200], "dan@example.com": [422]}
    )
    stack.start_worker(SENDX_METRICS_PORT=str(port))
    for email in ("ann@example.com", "bea@example.com", "cal@example.com", "rae@example.com", "rob@example.com"):
        stack.identify({"email": email, "firstName": "X"})
    stack.identify({"email": "dan@example.com", "company": "Acme"})
    stack.wait_contact("ann@example.com")  # a track that overtook the identify would meet a 404
    stack.track({"email": "ann@example.com", "addTags": ["paid user"], "removeTags": []})

    wait_for(lambda: len(stack.emulator.requests()) >= 9, timeout=60, what="9 requests to SendX")
    expected = {
        key("sendx_tasks_total", operation="identify", outcome="delivered"): 5,
        key("sendx_tasks_total", operation="identify", outcome="retried"): 2,
        key("sendx_tasks_total", operation="identify", outcome="dead_lettered"): 1,
        key("sendx_tasks_total", operation="identify", outcome="requeued"): 0,
        key("sendx_tasks_total", operation="track", outcome="delivered"): 1,
        key("sendx_tasks_total", operation="track", outcome="retried"): 0,
        key("sendx_dead_letters_total", operation="identify", reason="rejected"): 1,
        key("sendx_dead_letters_total", operation="identify", reason="invalid_payload"): 0,
        key("sendx_request_seconds_count", operation="identify", status="200"): 5,
        key("sendx_request_seconds_count", operation="identify", status="503"): 2,
        key("sendx_request_seconds_count", operation="identify", status="422"): 1,
        key("sendx_request_seconds_count", operation="track", status="200"): 1,
        key("sendx_tasks_in_flight", operation="identify"): 0,
        key("sendx_tasks_in_flight", operation="track"): 0,
    }

    def settled() -> Samples | None:
        found = samples(scrape(port))
        return found if all(found.get(k) == v for k, v in expected.items()) else None

    try:
        found = wait_for(settled, timeout=30, interval=0.2, what="the expected counts on /metrics")
    except AssertionError:
        raise AssertionError(f"/metrics never matched; last scrape:\n{scrape(port)}") from None
    # Nothing else was counted: no other status, outcome or reason moved off zero.
    moved = {k: v for k, v in found.items() if v and k[0] in ("sendx_tasks_total", "sendx_dead_letters_total")}
    assert moved == {
        k: v for k, v in expected.items() if v and k[0] in ("sendx_tasks_total", "sendx_dead_letters_total")
    }
    statuses = {dict(k[1])["status"] for k in found if k[0] == "sendx_request_seconds_count"}
    assert statuses == {"200", "503", "422"}
    assert len(stack.dead_letters()) == 1


def test_two_workers_on_one_machine_serve_metrics_on_consecutive_ports(stack: Stack) -> None:
    port = free_port()
    first = stack.start_worker(SENDX_METRICS_PORT=str(port))
    second = stack.start_worker(SENDX_METRICS_PORT=str(port))
    wait_for(lambda: first.saw("metrics served") and second.saw("metrics served"), what="both workers' metrics")
    assert first.saw(f"metrics served port={port} ")
    assert second.saw("metrics served port=")
    (line,) = [x for x in second.lines if "metrics served" in x]
    second_port = int(line.split("port=")[1].split()[0])
    assert port < second_port < port + 32
    for served in (port, second_port):
        assert "sendx_tasks_total" in scrape(served)


def test_a_worker_asked_for_metrics_without_prometheus_client_stops_with_one_line(stack: Stack, tmp_path: Path) -> None:
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "prometheus_client.py").write_text("raise ImportError('No module named prometheus_client')\n")
    worker = stack.start_worker(wait_ready=False, SENDX_METRICS_PORT=str(free_port()), PYTHONPATH=f"{shadow}:{REPO}")
    wait_for(worker.exited, timeout=60, what="the worker to exit")
    assert worker.process is not None and worker.process.returncode == 1
    assert (
        "error: SENDX_METRICS_PORT: metrics need the prometheus-client package: pip install 'sendx-worker[metrics]'"
        in (worker.log())
    )
    assert "Traceback" not in worker.log()
    assert not worker.saw(" ready.")


def test_an_event_a_newer_one_replaced_counts_as_superseded_and_calls_nothing(stack: Stack) -> None:
    from sendx_worker.stamps import format_stamp, stamp_now

    port = free_port()
    stack.start_worker(SENDX_METRICS_PORT=str(port))
    hour_ago = stamp_now() - 3_600_000_000
    stack.identify({"email": "sup@example.com", "firstName": "Newer"}, occurred_at=format_stamp(hour_ago + 1))
    stack.wait_contact("sup@example.com", firstName="Newer")
    stack.identify({"email": "sup@example.com", "firstName": "Older"}, occurred_at=format_stamp(hour_ago))
    superseded = key("sendx_tasks_total", operation="identify", outcome="superseded")
    found = wait_for(lambda: (s := samples(scrape(port))).get(superseded) == 1 and s, timeout=30, what="superseded 1")
    assert found[key("sendx_tasks_total", operation="identify", outcome="delivered")] == 1
    assert len(stack.api_requests("sup@example.com")) == 1
    assert key("sendx_lease_wait_seconds_count") in found
