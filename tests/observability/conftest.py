"""Fixtures for metrics, teams, masking and the recipes: RabbitMQ vhosts, the emulator, workers."""

from __future__ import annotations

import json
import re
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from kombu import Connection, Message

from sendx_worker import celery_app
from sendx_worker.celery_app import create_app
from sendx_worker.emulator import Emulator
from sendx_worker.topology import WORK_QUEUE, dead_letter_queue, work_queue
from tests.delivery.conftest import API_KEY, TEAM_ID, Stack
from tests.support import brokers

EU_TEAM_ID = "team-eu"
EU_API_KEY = "eu-key-5ecret"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def rabbitmq() -> Iterator[brokers.IsolatedBroker]:
    """A RabbitMQ vhost of this test's own."""
    with brokers.rabbitmq_vhost() as broker:
        yield broker


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """The emulator with two teams: the default one (first) and "team-eu"."""
    with Emulator(host="127.0.0.1", port=0, teams={TEAM_ID: API_KEY, EU_TEAM_ID: EU_API_KEY}) as emu:
        yield emu


@pytest.fixture
def stack(rabbitmq: brokers.IsolatedBroker, emulator: Emulator, tmp_path: Path) -> Iterator[Stack]:
    """Workers on a RabbitMQ vhost delivering to the two-team emulator."""
    built = Stack(rabbitmq, emulator, tmp_path)
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def default_app(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Celery]:
    """``sendx_worker``'s default app as a fresh web process gets it: configured from the environment.

    The environment is the stack's; ``identify()``/``track()`` called without ``app=``
    use this app, exactly as in a web app that sets CELERY_BROKER_URL and friends.
    """
    for name, value in stack.env.items():
        monkeypatch.setenv(name, value)
    fresh = create_app()
    monkeypatch.setattr(celery_app, "app", fresh)
    try:
        yield fresh
    finally:
        fresh.close()


def declare_topology(url: str) -> None:
    """Declare ``sendx`` and ``sendx.dead_letter`` exactly as a worker does at start."""
    with Connection(url) as conn:
        channel = conn.default_channel
        work_queue()(channel).declare()
        dead_letter_queue()(channel).declare()


def queue_depth(url: str, queue: str = WORK_QUEUE) -> int:
    """Messages ready in ``queue`` (a passive declare: fails if the queue does not exist)."""
    with Connection(url) as conn:
        ok = conn.default_channel.queue_declare(queue=queue, passive=True)
        return int(ok.message_count)


def drain(url: str, limit: int = 100) -> list[Message]:
    """Take every ready message off ``sendx`` (acknowledged), oldest first."""
    found: list[Message] = []
    with Connection(url) as conn:
        queue = work_queue()(conn.default_channel)
        while len(found) < limit:
            message = queue.get(no_ack=True, accept=["json"])
            if message is None:
                return found
            found.append(message)
    return found


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape(port: int) -> str:
    """The text of ``/metrics`` on ``port``."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text: str = response.read().decode()
        return text


def documented_blocks(doc: Path, language: str) -> list[str]:
    """The fenced ``language`` code blocks of a Markdown file."""
    return re.findall(rf"```{language}\n(.*?)```", doc.read_text(), flags=re.DOTALL)


def example_blocks(doc: Path) -> list[tuple[Path, str]]:
    """The doc's Python blocks that quote an example file (first line ``# examples/...``), with that file."""
    found = []
    for block in documented_blocks(doc, "python"):
        first, _, rest = block.partition("\n")
        if first.startswith("# examples/"):
            found.append((REPO / first[2:].strip(), rest.strip()))
    return found


def assert_doc_quotes_examples(doc: Path, *files: str) -> None:
    """Every example block of ``doc`` is a verbatim part of its file, and each of ``files`` is quoted."""
    blocks = example_blocks(doc)
    for path, code in blocks:
        assert code in path.read_text(), f"{doc.name} quotes {path.relative_to(REPO)} but the code differs"
    quoted = {str(path.relative_to(REPO)) for path, _ in blocks}
    assert set(files) <= quoted, f"{doc.name} should quote {sorted(set(files) - quoted)}"


def json_blocks(doc: Path) -> list[Any]:
    """The fenced ``json`` blocks of a Markdown file, parsed."""
    return [json.loads(block) for block in documented_blocks(doc, "json")]
