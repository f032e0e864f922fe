"""Fixtures for the console: real brokers, the emulator, real workers, the WSGI app called directly or served."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from sendx_worker.console import ConsoleApp, create_console
from sendx_worker.console.guard import CSRF_COOKIE
from sendx_worker.console.serve import ConsoleServer, serve
from sendx_worker.deadletter import DeadLetterQueue, DeadLetterRecord, iso_utc
from sendx_worker.emulator import Emulator
from sendx_worker.settings import load_settings
from tests.delivery.conftest import API_KEY, TEAM_ID, Stack
from tests.support.brokers import IsolatedBroker, filesystem_folder, isolated_broker

__all__ = ["API_KEY", "TEAM_ID", "Answer", "call", "fabricated", "served"]


@dataclass
class Answer:
    """One response of the WSGI app."""

    status: int
    headers: dict[str, str]
    body: str
    cookies: dict[str, str] = field(default_factory=dict)

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")


def call(
    console: ConsoleApp,
    method: str,
    path: str,
    *,
    query: str = "",
    form: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    remote: str = "127.0.0.1",
    host: str = "127.0.0.1:8026",
    script_name: str = "",
    environ: Mapping[str, Any] | None = None,
) -> Answer:
    """Call the WSGI app directly, as a server would (no HTTP, no server thread)."""
    body = urlencode(form or {}, doseq=True).encode() if form is not None else b""
    env: dict[str, Any] = {
        **(environ or {}),
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8026",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": remote,
        "HTTP_HOST": host,
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "CONTENT_LENGTH": str(len(body)),
    }
    if form is not None:
        env["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
    for name, value in (headers or {}).items():
        if name.lower() == "content-type":
            env["CONTENT_TYPE"] = value
        else:
            env["HTTP_" + name.upper().replace("-", "_")] = value
    started: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
        started["status"] = int(status.split()[0])
        started["headers"] = response_headers

    chunks = console(env, start_response)
    text = b"".join(chunks).decode()
    cookies = {}
    for name, value in started["headers"]:
        if name == "Set-Cookie":
            key, _, rest = value.partition("=")
            cookies[key] = rest.split(";")[0]
    return Answer(started["status"], dict(started["headers"]), text, cookies)


def fabricated(
    record_id: str,
    email: str,
    *,
    reason: str = "rejected",
    status: int | None = 422,
    team: str | None = None,
    age_s: float = 60.0,
    error: str = "SendX answered 422",
    payload: Any = None,
    task: str = "sendx.identify_contact",
    evidence: dict[str, Any] | None = None,
    now: float | None = None,
) -> DeadLetterRecord:
    """A dead-letter record as a worker writes it, dead-lettered ``age_s`` ago."""
    import time

    at = (now if now is not None else time.time()) - age_s
    return DeadLetterRecord.from_dict(
        {
            "id": record_id,
            "task": task,
            "payload": payload if payload is not None else {"email": email, "firstName": "X"},
            "reason": reason,
            "status": status,
            "error": error,
            "attempts": 1,
            "first_attempt_at": iso_utc(at - 1),
            "dead_lettered_at": iso_utc(at),
            "team": team,
            "evidence": evidence or {"method": "POST", "path": "/api/v1/contact/identify", "sendx_message": error},
        }
    )


@pytest.fixture
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[IsolatedBroker]:
    """The embedded broker under tmp_path (the test's SENDX_DATA_DIR)."""
    with filesystem_folder(tmp_path) as broker:
        yield broker


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(host="127.0.0.1", port=0, teams={TEAM_ID: API_KEY}) as emu:
        yield emu


@pytest.fixture
def make_console(tmp_path: Path) -> Iterator[Callable[..., ConsoleApp]]:
    """Build consoles for an environment (closed at the end); keyword arguments go to create_console."""
    made: list[ConsoleApp] = []

    def build(env: Mapping[str, str] | None = None, **kwargs: Any) -> ConsoleApp:
        settings = load_settings({"SENDX_DATA_DIR": str(tmp_path), **(env or {})})
        console = create_console(settings, **kwargs)
        made.append(console)
        return console

    yield build
    for console in made:
        console.close()


@pytest.fixture
def add_records(tmp_path: Path) -> Callable[..., None]:
    """Publish records to a console's dead-letter queue."""

    def add(console: ConsoleApp, *records: DeadLetterRecord) -> None:
        DeadLetterQueue(console.app.connection_for_write).add(records)
        console.book.forget()

    return add


def csrf_of(console: ConsoleApp, **kwargs: Any) -> tuple[str, dict[str, str]]:
    """A form token and the Cookie header that goes with it, as a page hands them out."""
    page = call(console, "GET", "/dead", **kwargs)
    token = page.cookies[CSRF_COOKIE]
    return token, {"Cookie": f"{CSRF_COOKIE}={token}", "Sec-Fetch-Site": "same-origin"}


class Served:
    """A console served over HTTP by its real server, in a thread."""

    def __init__(self, console: ConsoleApp) -> None:
        self.console = console
        self.server: ConsoleServer = serve(console, "127.0.0.1", 0)
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)


@pytest.fixture
def served() -> Iterator[Callable[[ConsoleApp], Served]]:
    started: list[Served] = []

    def start(console: ConsoleApp) -> Served:
        found = Served(console)
        started.append(found)
        return found

    yield start
    for found in started:
        found.close()


@pytest.fixture(params=["rabbitmq", "redis", "filesystem"])
def any_broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IsolatedBroker]:
    with isolated_broker(request.param, tmp_path) as found:
        yield found


@pytest.fixture
def stack_on(emulator: Emulator, tmp_path: Path) -> Iterator[Callable[[IsolatedBroker], Stack]]:
    """A delivery stack (workers, producer app) on a given broker and the emulator."""
    built: list[Stack] = []

    def make(broker: IsolatedBroker) -> Stack:
        stack = Stack(broker, emulator, tmp_path)
        built.append(stack)
        return stack

    yield make
    for stack in built:
        stack.close()
