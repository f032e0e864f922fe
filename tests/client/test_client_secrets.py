"""The API key never leaves the client: not in errors, their evidence, tracebacks or logs."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable

import pytest
from sendx_stub_server import API_KEY, Reply, StubServer

from sendx_worker.client import SendxClient
from sendx_worker.errors import (
    ApiError,
    AuthError,
    ConnectionFailed,
    ContactNotFound,
    InvalidPayload,
    RateLimited,
    Rejected,
    ServerError,
)
from sendx_worker.settings import Credentials

IDENTIFY = {"email": "john@example.com", "firstName": "John"}
TRACK = {"email": "john@example.com", "addTags": ["paid"], "removeTags": []}
# SendX echoing our key back is unlikely, but nothing we keep may carry it.
ECHO = {"status": "error", "message": f"bad key {API_KEY}", "key": API_KEY}

Case = tuple[type[ApiError], Callable[[StubServer, SendxClient, SendxClient], object]]


def call(reply: Reply, operation: str = "identify") -> Callable[[StubServer, SendxClient, SendxClient], object]:
    def run(stub: StubServer, client: SendxClient, down: SendxClient) -> object:
        stub.script(reply)
        return client.track(TRACK) if operation == "track" else client.identify(IDENTIFY)

    return run


CASES: dict[str, Case] = {
    "refused": (ConnectionFailed, lambda stub, client, down: down.identify(IDENTIFY)),
    "reset": (ConnectionFailed, call(Reply(action="reset"))),
    "closed": (ConnectionFailed, call(Reply(action="close"))),
    "read-timeout": (ConnectionFailed, call(Reply(action="hang"))),
    "429": (RateLimited, call(Reply(429, ECHO, {"Retry-After": "3"}))),
    "503": (ServerError, call(Reply(503, ECHO))),
    "302": (ServerError, call(Reply(302, ECHO, {"Location": f"https://x.example/?k={API_KEY}"}))),
    "401": (AuthError, call(Reply(401, ECHO))),
    "403": (AuthError, call(Reply(403, ECHO))),
    "422": (Rejected, call(Reply(422, ECHO))),
    "404-track": (ContactNotFound, call(Reply(404, ECHO), "track")),
    "200-error-body": (Rejected, call(Reply(200, ECHO))),
    "not-json": (InvalidPayload, lambda stub, client, down: client.identify({"email": "a@b.io", "x": {1, 2}})),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_no_error_kind_shows_the_api_key_anywhere(
    case: str, stub: StubServer, closed_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    credentials = Credentials(api_key=API_KEY, team_id="team-1")
    client = SendxClient(base_url=stub.url, flavor="v1", credentials=credentials, timeout_s=0.3)
    down = SendxClient(base_url=f"http://127.0.0.1:{closed_port}/api/v1", flavor="v1", credentials=credentials)
    expected, trigger = CASES[case]
    with pytest.raises(ApiError) as caught:
        trigger(stub, client, down)
    err = caught.value
    assert type(err) is expected
    exposed = {
        "str": str(err),
        "repr": repr(err),
        "evidence": json.dumps(err.evidence(), default=repr),
        "attributes": repr(vars(err)),
        "traceback": "".join(traceback.format_exception(err)),
        "logs": caplog.text,
    }
    leaks = [where for where, text in exposed.items() if API_KEY in text]
    assert leaks == [], f"the API key leaked through {leaks}"
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("sendx_worker"))
    assert ours or expected is InvalidPayload, "the client logged the failure (an unsent payload is not logged)"
    assert "john@example.com" not in ours and "john%40example.com" not in ours
