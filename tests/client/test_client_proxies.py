"""Proxies and the CA bundle come from the settings, once; requests no longer reads the environment per call."""

from __future__ import annotations

import base64
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sendx_stub_server import API_KEY, TEAM_ID, StubServer

from sendx_worker.client import SendxClient
from sendx_worker.client.session import ThreadSessions
from sendx_worker.errors import ConnectionFailed
from sendx_worker.settings import Settings, load_settings
from tests.support.forward_proxy import ForwardProxy


def settings_for(base_url: str, **environ: str) -> Settings:
    return load_settings({"SENDX_API_KEY": API_KEY, "SENDX_TEAM_ID": TEAM_ID, "SENDX_BASE_URL": base_url, **environ})


def test_each_session_ignores_the_environment_and_uses_the_proxies_and_bundle_it_was_given() -> None:
    session = ThreadSessions(pool_size=1, proxies={"https": "http://proxy:3128"}, verify="/etc/bundle.pem").get()
    assert session.trust_env is False
    assert session.proxies == {"https": "http://proxy:3128"}
    assert session.verify == "/etc/bundle.pem"
    plain = ThreadSessions(pool_size=1).get()
    assert (plain.trust_env, plain.proxies, plain.verify) == (False, {}, True)


def test_with_http_proxy_set_the_clients_calls_go_through_the_proxy(emulator: Any) -> None:
    with ForwardProxy() as proxy:
        settings = settings_for(emulator.base_url("v1"), HTTP_PROXY=proxy.url_with_credentials("bob", "hunter2"))
        with SendxClient.from_settings(settings) as client:
            client.identify({"email": "ada@example.com", "firstName": "Ada"})
            client.track({"email": "ada@example.com", "addTags": ["paid"], "removeTags": []})
            assert "hunter2" not in repr(client)
        relayed = proxy.requests

    base = emulator.base_url("v1")
    assert [(r.method, r.target.split("?")[0]) for r in relayed] == [
        ("POST", f"{base}/contact/identify"),
        ("POST", f"{base}/contact/track"),
    ]
    # requests sends the proxy URL's credentials to the proxy, and only there.
    expected = "Basic " + base64.b64encode(b"bob:hunter2").decode()
    assert all(r.headers.get("Proxy-Authorization") == expected for r in relayed)
    assert emulator.contact("ada@example.com")["firstName"] == "Ada"
    assert len(emulator.requests()) == 2
    assert all("Proxy-Authorization" not in entry["headers"] for entry in emulator.requests())


def test_with_no_proxy_covering_the_host_the_calls_go_direct(emulator: Any) -> None:
    with ForwardProxy() as proxy:
        settings = settings_for(emulator.base_url("v1"), HTTP_PROXY=proxy.url, NO_PROXY="localhost,127.0.0.1")
        with SendxClient.from_settings(settings) as client:
            client.identify({"email": "ada@example.com", "firstName": "Ada"})
        assert proxy.requests == []
    assert emulator.contact("ada@example.com")["firstName"] == "Ada"


def test_proxy_variables_set_after_start_up_are_not_read(
    emulator: Any, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = SendxClient.from_settings(settings_for(emulator.base_url("v1")))
    # With trust_env on, requests would send this call to a proxy that refuses connections.
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{closed_port}")
    with client:
        client.identify({"email": "ada@example.com"})
    assert emulator.contact("ada@example.com") is not None


def test_a_netrc_entry_for_the_host_adds_no_authorization_header(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password netrc-secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    with SendxClient.from_settings(settings_for(emulator.base_url("v1"))) as client:
        client.identify({"email": "ada@example.com"})
    (entry,) = emulator.requests()
    assert "Authorization" not in entry["headers"]
    assert entry["headers"]["api_key"] == API_KEY


@pytest.fixture
def tls_stub(tmp_path: Path) -> Any:
    """The stub server over TLS with a self-signed certificate for 127.0.0.1; yields (server, cert path)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    stub = StubServer()
    stub.server.socket = context.wrap_socket(stub.server.socket, server_side=True)
    stub.start()
    try:
        yield stub, cert
    finally:
        stub.stop()


def test_the_ca_bundle_from_the_settings_verifies_sendx_and_the_environment_is_not_read(
    tls_stub: tuple[StubServer, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    stub, cert = tls_stub
    base_url = stub.url.replace("http://", "https://")
    with SendxClient.from_settings(settings_for(base_url, REQUESTS_CA_BUNDLE=str(cert))) as client:
        assert client.identify({"email": "ada@example.com"}).status == 200

    # Without it in the settings, the variable set in the environment changes nothing.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    with SendxClient.from_settings(settings_for(base_url)) as client, pytest.raises(ConnectionFailed) as caught:
        client.identify({"email": "ada@example.com"})
    assert "TLS" in str(caught.value)
    assert len(stub.received) == 1
