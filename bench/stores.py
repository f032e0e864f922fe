"""The state store a worker configuration uses, emptied before each run.

Per-contact ordering (on by default) keeps an entry per contact in the state store;
an entry left by the previous run would change what the next one reads and writes
(its finished events, its stamps), so each run starts from an empty store, whichever
configuration ran before it. A configuration names its own store in its environment
(``SENDX_STATE_URL``); otherwise the broker's (:meth:`bench.common.Broker.env`).

``{data_dir}`` in a configuration's environment stands for the broker's folder, so a
SQLite store lives in the sitting's temporary folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

__all__ = ["POSTGRES_STATE_URL", "expand", "reset_state"]

# The bench's own schema in the test database, dropped before each run.
POSTGRES_SCHEMA = "sendx_bench"
POSTGRES_STATE_URL = f"postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{POSTGRES_SCHEMA}"


def expand(env: Mapping[str, str], data_dir: Path) -> dict[str, str]:
    """``env`` with ``{data_dir}`` replaced by the broker's folder."""
    return {name: value.replace("{data_dir}", str(data_dir)) for name, value in env.items()}


def reset_state(env: Mapping[str, str]) -> None:
    """Empty the state store that ``env`` points a worker at (nothing when ordering is off)."""
    if env.get("SENDX_ORDERING", "on") == "off":
        return
    url = env.get("SENDX_STATE_URL") or _default_url(env)
    if url.startswith(("redis://", "rediss://")):
        _reset_redis(url)
    elif url.startswith(("postgresql://", "postgres://")):
        _reset_postgres(url)
    elif url.startswith("sqlite:///"):
        from sendx_worker.state import sqlite_path

        path = sqlite_path(url)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def _default_url(env: Mapping[str, str]) -> str:
    # The worker's own default (sendx_worker.settings): the broker's Redis, else SQLite
    # under SENDX_DATA_DIR beside the embedded broker.
    broker = env.get("CELERY_BROKER_URL", "")
    if broker.startswith(("redis://", "rediss://")):
        return broker
    if not broker and env.get("SENDX_DATA_DIR"):
        return f"sqlite:///{Path(env['SENDX_DATA_DIR']) / 'state.sqlite3'}"
    return ""


def _reset_redis(url: str) -> None:
    import redis

    from sendx_worker.state.redis import CONTACT_PREFIX, VALUE_PREFIX

    client = redis.Redis.from_url(url)
    try:
        for prefix in (CONTACT_PREFIX, VALUE_PREFIX):
            batch = list(client.scan_iter(match=f"{prefix}*", count=1000))
            for start in range(0, len(batch), 1000):
                client.delete(*batch[start : start + 1000])
    finally:
        client.close()


def _reset_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(url.split("?", 1)[0], autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA IF EXISTS {POSTGRES_SCHEMA} CASCADE")
        connection.execute(f"CREATE SCHEMA {POSTGRES_SCHEMA}")
