"""``python -m bench state-size``: what the state store holds per contact, on each backend.

Writes N contacts as a worker leaves them after an identify with five fields
(firstName, lastName, company and two custom fields) and five tags, and a few
finished events each, then measures the store's size: Redis ``MEMORY USAGE`` of the
keys, PostgreSQL's table and index sizes, the SQLite file. The bytes per contact,
and a projection to a million contacts, are what docs/SCALING.md quotes.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sendx_worker.ordering.plan import PROPERTIES
from sendx_worker.state import ContactState, Pending, contact_key, open_store

from .common import REDIS_URL, command_line, machine, save_results

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
MILLION = 1_000_000


def _entry(events: int) -> ContactState:
    now = int(time.time())
    stamp = time.time_ns() // 1000
    fields = {name: stamp for name in PROPERTIES[:3]} | {"c:Plan": stamp, "c:Signup source": stamp}
    tags = {tag: stamp for tag in ("trial user", "paid user", "Developer", "newsletter", "beta")}
    done = {uuid.uuid4().hex: now for _ in range(events)}
    return ContactState(fields=fields, tags=tags, done=done, known=True)


def _fill(url: str, contacts: int, events: int) -> None:
    store = open_store(url)
    try:
        for number in range(contacts):
            key = contact_key(None, f"user{number}@example.com")
            owner = uuid.uuid4().hex[:16]
            store.begin(key, owner, lease_s=30, keep_s=864000, event="e", mark=Pending(1, owner))
            store.finish(key, owner, _entry(events), keep_s=864000)
    finally:
        store.close()


def _redis_bytes() -> int:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    total = 0
    for key in client.scan_iter(match="sendx:c:*", count=1000):
        total += int(client.memory_usage(key, samples=0) or 0)
    return total


def _postgres_bytes(url: str) -> int:
    import psycopg

    # The URL's search_path names the benchmark's own schema.
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("VACUUM ANALYZE sendx_contacts")
        row = db.execute("SELECT pg_total_relation_size('sendx_contacts'::regclass)").fetchone()
        return int(row[0]) if row else 0


@contextmanager
def fresh_store(kind: str) -> Iterator[str]:
    """The URL of an empty store of ``kind`` (redis, postgresql, sqlite), emptied or dropped afterwards.

    Yields after the store's own set-up, so that what is measured in it is the contacts'.
    """
    if kind == "redis":
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()
        try:
            yield REDIS_URL
        finally:
            redis.Redis.from_url(REDIS_URL).flushdb()
    elif kind == "postgresql":
        import psycopg

        schema = f"sendx_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(POSTGRES_URL, autocommit=True) as db:
            db.execute(f'CREATE SCHEMA "{schema}"')
        try:
            yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
        finally:
            with psycopg.connect(POSTGRES_URL, autocommit=True) as db:
                db.execute(f'DROP SCHEMA "{schema}" CASCADE')
    elif kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="sendx-bench-state-") as folder:
            yield f"sqlite:///{Path(folder) / 'state.sqlite3'}"
    else:
        raise ValueError(f"no store {kind!r}: one of redis, postgresql, sqlite")


def _size(kind: str, url: str) -> int:
    if kind == "redis":
        return _redis_bytes()
    if kind == "postgresql":
        return _postgres_bytes(url)
    import sqlite3

    path = url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("VACUUM")
    return os.path.getsize(path)


def measure(kind: str, contacts: int, events: int) -> dict[str, Any]:
    """Fill a fresh store of ``kind`` and return its size."""
    with fresh_store(kind) as url:
        _fill(url, contacts, events)
        size = _size(kind, url)
    per_contact = size / contacts
    return {
        "store": kind,
        "contacts": contacts,
        "done_events_each": events,
        "bytes": size,
        "bytes_per_contact": round(per_contact),
        "million_contacts_mb": round(per_contact * MILLION / 1e6),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench state-size", description=__doc__)
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=3, help="finished event ids kept per contact (default 3)")
    parser.add_argument("--stores", nargs="+", default=["redis", "postgresql", "sqlite"])
    parser.add_argument("--name", default="state-size")
    args = parser.parse_args(argv)
    rows = [measure(kind, args.contacts, args.events) for kind in args.stores]
    headers = ["store", "contacts", "done events each", "bytes per contact", "1,000,000 contacts (MB)"]
    table = [
        [r["store"], r["contacts"], r["done_events_each"], r["bytes_per_contact"], r["million_contacts_mb"]]
        for r in rows
    ]
    print("| " + " | ".join(headers) + " |")
    print("|" + "---|" * len(headers))
    for row in table:
        print("| " + " | ".join(f"{value:,}" if isinstance(value, int) else str(value) for value in row) + " |")
    path = save_results(args.name, {"command": command_line(), "machine": machine(), "rows": rows})
    print(f"(results in {path})")
    return 0
