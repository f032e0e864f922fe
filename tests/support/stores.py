"""Real state stores for tests, each isolated: a Redis database, a PostgreSQL schema, a file."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from .brokers import redis_database

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
STORE_KINDS = ["memory", "sqlite", "redis", "postgresql"]


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A state URL whose tables live in a schema of their own, dropped afterwards."""
    schema = f"sendx_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as db:
        db.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as db:
            db.execute(f'DROP SCHEMA "{schema}" CASCADE')


@contextmanager
def isolated_state_url(kind: str, data_dir: Path) -> Iterator[str]:
    """A state store URL of ``kind`` that only this test uses."""
    if kind == "memory":
        yield "memory://"
    elif kind == "sqlite":
        yield f"sqlite:///{data_dir / 'state.sqlite3'}"
    elif kind == "redis":
        with redis_database() as broker:
            yield broker.url
    elif kind == "postgresql":
        with postgres_schema() as url:
            yield url
    else:
        raise ValueError(f"no state store kind {kind!r}")
