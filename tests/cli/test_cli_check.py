"""``sendx-worker check`` against the real emulator, real brokers, a real TLS server and real workers."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sendx_worker.emulator import Emulator
from sendx_worker.flow.breaker import BreakerPolicy, SharedBreaker
from sendx_worker.state import open_store
from tests.cli.conftest import API_KEY, TEAM_ID, CliResult
from tests.delivery.conftest import Stack
from tests.support.waiting import wait_for


def lines(result: CliResult) -> dict[str, tuple[str, str]]:
    """``{name: (status, detail)}`` from check's output."""
    found = {}
    for line in result.out.splitlines():
        status, name, detail = line.split(maxsplit=2)
        found[name] = (status, detail)
    return found


def test_all_ok_against_a_running_emulator_and_rabbitmq_then_fail_once_sendx_is_gone(
    cli: Callable[..., CliResult], stack: Stack
) -> None:
    result = cli("check", "--timeout", "2")
    assert result.code == 0, result.output
    found = lines(result)
    assert list(found) == ["configuration", "broker", "state", "circuit", "sendx", "workers"]
    assert found["circuit"] == ("ok", "default team: closed")
    assert found["state"] == ("ok", f"{stack.env['SENDX_STATE_URL']} (per-contact ordering on)")
    assert found["configuration"] == ("ok", f"flavor v1, team {TEAM_ID}, API key set")
    vhost = stack.broker.url.rsplit("/", 1)[1]
    assert found["broker"] == ("ok", f"amqp://guest:**@127.0.0.1:5672/{vhost}")
    assert found["sendx"] == (
        "ok",
        f"{stack.emulator.base_url('v1')}: 127.0.0.1 resolves to 127.0.0.1, TCP port {stack.emulator.port} open",
    )
    assert found["workers"] == ("warn", "no worker answered within 1.5 s")
    assert API_KEY not in result.output
    assert "guest:guest" not in result.output

    stack.emulator.stop()
    stopped = cli("check", "--timeout", "2")
    assert stopped.code == 1
    status, detail = lines(stopped)["sendx"]
    assert status == "FAIL"
    assert f"TCP connection to 127.0.0.1 port {stack.emulator.port} failed" in detail


def test_a_missing_key_fails_the_configuration_and_the_rest_is_still_checked(
    cli: Callable[..., CliResult], emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENDX_BASE_URL", emulator.base_url("v1"))
    result = cli("check", "--timeout", "2")
    assert result.code == 1
    found = lines(result)
    assert found["configuration"] == (
        "FAIL",
        "SENDX_API_KEY: is not set; the worker refuses to call SendX without it",
    )
    assert found["broker"][0] == "ok"
    assert found["broker"][1].startswith("embedded (files in ")
    assert found["state"][0] == "ok" and found["state"][1].startswith("sqlite:///")
    assert found["sendx"][0] == "ok"
    assert found["workers"][0] == "warn"


def test_an_invalid_variable_is_named_and_the_network_checks_are_skipped(
    cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENDX_API_FLAVOR", "v2")
    result = cli("check")
    assert result.code == 1
    assert lines(result) == {
        "configuration": ("FAIL", "SENDX_API_FLAVOR: must be 'v1' or 'rest', not 'v2'"),
        "broker": ("skip", "the configuration is invalid"),
        "state": ("skip", "the configuration is invalid"),
        "circuit": ("skip", "the configuration is invalid"),
        "sendx": ("skip", "the configuration is invalid"),
        "workers": ("skip", "the configuration is invalid"),
    }


def test_an_unreachable_broker_fails_without_showing_its_password(
    cli: Callable[..., CliResult], emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "CELERY_BROKER_URL": "amqp://guest:hunter2@127.0.0.1:1//",
        "SENDX_API_KEY": API_KEY,
        "SENDX_TEAM_ID": TEAM_ID,
        "SENDX_BASE_URL": emulator.base_url("v1"),
    }.items():
        monkeypatch.setenv(name, value)
    result = cli("check", "--timeout", "2")
    assert result.code == 1
    found = lines(result)
    assert found["broker"][0] == "FAIL"
    assert found["broker"][1].startswith("amqp://guest:**@127.0.0.1:1//: ")
    assert found["workers"] == ("skip", "the broker is unreachable")
    assert found["state"][0] == "FAIL" and found["state"][1].startswith("SENDX_STATE_URL: is required")
    assert "hunter2" not in result.output


def test_an_unreachable_state_store_fails_without_showing_its_password(
    cli: Callable[..., CliResult], stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENDX_STATE_URL", "redis://:hunter2@127.0.0.1:1/0")
    result = cli("check", "--timeout", "2")
    assert result.code == 1
    status, detail = lines(result)["state"]
    assert status == "FAIL"
    assert detail.startswith("state store redis://***@127.0.0.1:1/0: ") and "messages wait" in detail
    assert "hunter2" not in result.output
    monkeypatch.setenv("SENDX_ORDERING", "off")
    assert lines(cli("check", "--timeout", "2"))["state"] == (
        "skip",
        "SENDX_ORDERING=off: contacts' events are delivered unordered",
    )


def test_a_worker_that_saw_sendx_reject_the_key_makes_check_fail(cli: Callable[..., CliResult], stack: Stack) -> None:
    stack.emulator.set_teams({TEAM_ID: "the-key-sendx-expects"})
    worker = stack.start_worker()
    healthy = cli("check", "--timeout", "2")
    assert healthy.code == 0, healthy.output
    assert lines(healthy)["workers"] == (
        "ok",
        f"1 answered ({worker.name}); none saw SendX reject the credentials",
    )

    stack.identify({"email": "kim@example.com", "firstName": "Kim"})

    wait_for(lambda: any(r["status"] == 401 for r in stack.api_requests("kim@example.com")), what="a 401")
    wait_for(lambda: worker.saw("SendX rejected the credentials"), what="the worker to log the rejection")
    rejected = cli("check", "--timeout", "2")
    assert rejected.code == 1
    status, detail = lines(rejected)["workers"]
    assert status == "FAIL"
    assert detail.startswith(f"SendX rejected the credentials (401/403) seen by {worker.name} (")
    assert "fix SENDX_API_KEY/SENDX_TEAM_ID" in detail
    assert API_KEY not in rejected.output + healthy.output


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert, key)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[int]:
    """A TLS server on 127.0.0.1 that completes handshakes; its port."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                pass  # the client refused our certificate, or went away

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        listener.close()
        thread.join(timeout=10)


def test_https_needs_a_verified_tls_handshake(
    cli: Callable[..., CliResult],
    tls_server: int,
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SENDX_API_KEY", API_KEY)
    monkeypatch.setenv("SENDX_TEAM_ID", TEAM_ID)
    monkeypatch.setenv("SENDX_BASE_URL", f"https://127.0.0.1:{tls_server}/api/v1")
    untrusted = lines(cli("check", "--timeout", "2"))["sendx"]
    assert untrusted[0] == "FAIL"
    assert "TLS handshake with 127.0.0.1 failed" in untrusted[1]
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted[1]

    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # now our certificate is a trusted root
    trusted = lines(cli("check", "--timeout", "2"))["sendx"]
    assert trusted[0] == "ok"
    assert trusted[1].endswith(f"TCP port {tls_server} open, TLSv1.3")

    # Or trusted through the CA bundle the worker uses (REQUESTS_CA_BUNDLE, in the settings).
    monkeypatch.delenv("SSL_CERT_FILE")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))
    found = lines(cli("check", "--timeout", "2"))
    assert found["configuration"][1].endswith(f", CA bundle {certificate[0]}")
    assert found["sendx"] == trusted


def test_behind_a_proxy_check_reaches_the_proxy_and_never_shows_its_password(
    cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as proxy:
        port = proxy.getsockname()[1]
        monkeypatch.setenv("SENDX_API_KEY", API_KEY)
        monkeypatch.setenv("SENDX_TEAM_ID", TEAM_ID)
        monkeypatch.setenv("HTTPS_PROXY", f"http://bob:hunter2@127.0.0.1:{port}")
        result = cli("check", "--timeout", "2")
    found = lines(result)
    assert found["configuration"][1].endswith(f", proxy http://***@127.0.0.1:{port}")
    assert found["sendx"] == (
        "ok",
        f"https://app.sendx.io/api/v1: through the proxy http://***@127.0.0.1:{port}: "
        f"127.0.0.1 resolves to 127.0.0.1, TCP port {port} open",
    )
    assert "hunter2" not in result.output


def test_check_hears_a_worker_on_redis(emulator: Emulator, tmp_path: Path) -> None:
    # The workers' replies come back on a queue consumed without acknowledgements; on our
    # Redis transport they were put back after every delivery, and check never returned.
    from tests.cli.conftest import run_module
    from tests.support.brokers import isolated_broker

    with isolated_broker("redis", tmp_path) as broker:
        stack = Stack(broker, emulator, tmp_path)
        try:
            worker = stack.start_worker()
            result = run_module("check", "--timeout", "2", env=stack.env, timeout=60)
            assert result.code == 0, result.output
            assert lines(result)["workers"] == (
                "ok",
                f"1 answered ({worker.name}); none saw SendX reject the credentials",
            )
        finally:
            stack.close()


def test_an_open_circuit_fails_check_and_says_when_the_next_probe_goes(
    cli: Callable[..., CliResult], emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENDX_BASE_URL", emulator.base_url("v1"))
    monkeypatch.setenv("SENDX_API_KEY", API_KEY)
    monkeypatch.setenv("SENDX_TEAM_ID", TEAM_ID)
    monkeypatch.setenv("SENDX_DATA_DIR", str(tmp_path))
    store = open_store(f"sqlite:///{(tmp_path / 'state.sqlite3').resolve()}")
    try:
        SharedBreaker(store, None, BreakerPolicy(30, 300, 15), jitter=lambda: 0).trip(time.time())
    finally:
        store.close()
    result = cli("check", "--timeout", "2")
    assert result.code == 1
    status, detail = lines(result)["circuit"]
    assert status == "FAIL"
    assert detail.startswith("default team: open for ") and "(transient), next probe in " in detail
    monkeypatch.setenv("SENDX_FLOW_CONTROL", "off")
    assert lines(cli("check", "--timeout", "2"))["circuit"][0] == "skip"
