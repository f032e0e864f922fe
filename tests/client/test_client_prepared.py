"""Requests prepared once and handed to the session's adapter: on the wire, what ``Session.request`` sent."""

from __future__ import annotations

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from sendx_stub_server import API_KEY, Reply, StubServer

from sendx_worker.client import SendxClient
from sendx_worker.client.session import PinnedAdapter
from sendx_worker.settings import Credentials, Flavor

IGNORED = {"Host"}  # the stub's port differs between the two servers


def sent_by_session(url: str, params: dict[str, str], headers: dict[str, str], body: bytes) -> None:
    """The call as the client made it before: ``Session.request`` with the environment off."""
    with requests.Session() as session:
        session.trust_env = False
        session.request("POST", url, params=params, data=body, headers=headers, allow_redirects=False)


@pytest.mark.parametrize(("flavor", "operation"), [("v1", "identify"), ("v1", "track"), ("rest", "identify")])
def test_each_call_sends_the_headers_query_and_body_that_session_request_sent(
    credentials: Credentials, flavor: Flavor, operation: str
) -> None:
    payload = {"email": "a+b@example.com", "firstName": "Zoë", "addTags": ["x y"], "removeTags": []}
    if operation == "identify":
        payload = {"email": "a+b@example.com", "firstName": "Zoë"}
    ours, theirs = StubServer().start(), StubServer().start()
    try:
        client = SendxClient(base_url=ours.url, flavor=flavor, credentials=credentials)
        send = client.identify if operation == "identify" else client.track
        assert send(payload).status == 200
        call = client._builder.build(operation, payload)  # type: ignore[arg-type]
        url = call.url.replace(ours.url, theirs.url)
        sent_by_session(url, dict(call.params), dict(call.headers), call.encoded_body())
        (mine,), (reference,) = ours.received, theirs.received
    finally:
        ours.stop()
        theirs.stop()
    assert list(mine.headers) == list(reference.headers)
    assert {k: v for k, v in mine.headers.items() if k not in IGNORED} == {
        k: v for k, v in reference.headers.items() if k not in IGNORED
    }
    assert (mine.path, mine.query, mine.body) == (reference.path, reference.query, reference.body)


@given(email=st.emails())
def test_a_v1_track_puts_any_address_in_the_query_as_requests_encodes_it(email: str) -> None:
    url = SendxClient(
        base_url="https://app.sendx.io/api/v1", flavor="v1", credentials=Credentials(api_key=API_KEY, team_id="t")
    )
    call = url._builder.build("track", {"email": email, "addTags": [], "removeTags": []})
    expected = requests.Request("POST", call.url, params=dict(call.params)).prepare().url
    assert url._url_of(call) == expected


def test_a_second_call_reuses_what_was_prepared_with_its_own_body(stub: StubServer, credentials: Credentials) -> None:
    client = SendxClient(base_url=stub.url, flavor="v1", credentials=credentials)
    stub.script(Reply(200), Reply(201, b""))
    assert client.identify({"email": "a@b.io"}).status == 200
    assert client.identify({"email": "c@d.io", "tags": ["x"]}).status == 201
    bodies = [received.body for received in stub.received]
    assert bodies == [{"email": "a@b.io"}, {"email": "c@d.io", "tags": ["x"]}]
    assert [received.headers["Content-Length"] for received in stub.received] == [
        str(len(b'{"email":"a@b.io"}')),
        str(len(b'{"email":"c@d.io","tags":["x"]}')),
    ]


def test_a_cookie_sendx_sets_is_not_sent_back(stub: StubServer, credentials: Credentials) -> None:
    stub.script(Reply(200, headers={"Set-Cookie": "session=abc; Path=/"}), Reply(200))
    client = SendxClient(base_url=stub.url, flavor="v1", credentials=credentials)
    client.identify({"email": "a@b.io"})
    client.identify({"email": "a@b.io"})
    assert "Cookie" not in stub.received[1].headers


def test_the_adapter_sets_up_a_new_pool_when_its_pool_was_closed(credentials: Credentials) -> None:
    # One pool per adapter (pool_connections=1): a second host closes the first host's
    # pool, which the adapter must not hand out again.
    first, second = StubServer().start(), StubServer().start()
    try:
        with requests.Session() as session:
            session.trust_env = False
            session.mount("http://", PinnedAdapter(pool_connections=1, pool_maxsize=1, max_retries=0))
            statuses = [session.post(f"{stub.url}/x", data=b"{}").status_code for stub in (first, second, first)]
        assert statuses == [200, 200, 200]
        assert (len(first.received), len(second.received)) == (2, 1)
    finally:
        first.stop()
        second.stop()


def test_a_client_closed_and_used_again_sets_up_its_pool_again(stub: StubServer, credentials: Credentials) -> None:
    client = SendxClient(base_url=stub.url, flavor="v1", credentials=credentials)
    client.identify({"email": "a@b.io"})
    adapter = client._sessions.get().get_adapter(stub.url)
    adapter.close()  # what the session's close does, as a worker's shutdown or a test would
    assert client.identify({"email": "a@b.io"}).status == 200
