"""The state store: a small store shared by every worker, for what must be decided fleet-wide.

Per-contact ordering and deduplication keep each contact's entry here; the circuit
breaker and the adaptive rate keep their shared values here. One interface
(:class:`StateStore`), one backend per kind of server:

==========================  ============================================================
``SENDX_STATE_URL``         backend
==========================  ============================================================
``redis://``, ``rediss://``  :class:`~.redis.RedisStore` (the default on a Redis broker:
                             the broker's own Redis)
``postgresql://``            :class:`~.postgres.PostgresStore` (psycopg 3; extra
                             ``postgresql``)
``sqlite:///path``           :class:`~.sqlite.SqliteStore` (the default on the embedded
                             broker: ``$SENDX_DATA_DIR/state.sqlite3``)
``memory://``                :class:`~.memory.MemoryStore` (one process; tests)
==========================  ============================================================
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..errors import ConfigurationError
from .base import StateStore, contact_key
from .contact import ContactState, Move, Pending

__all__ = [
    "STATE_SCHEMES",
    "ContactState",
    "Move",
    "Pending",
    "StateStore",
    "contact_key",
    "open_store",
    "sqlite_path",
    "state_url_problem",
]

STATE_SCHEMES = ("redis", "rediss", "postgresql", "postgres", "sqlite", "memory")


def state_url_problem(url: str) -> str | None:
    """What is wrong with ``url`` as a state store URL, or None."""
    scheme = urlsplit(url).scheme
    if scheme not in STATE_SCHEMES:
        return f"must start with one of {', '.join(s + '://' for s in STATE_SCHEMES)}"
    if scheme == "sqlite" and not sqlite_path(url).name:
        return "must name a file, e.g. sqlite:////var/lib/sendx/state.sqlite3"
    return None


def sqlite_path(url: str) -> Path:
    """The file of a ``sqlite:///relative`` or ``sqlite:////absolute`` URL."""
    return Path(unquote(urlsplit(url).path[1:] if url.startswith("sqlite:///") else urlsplit(url).path))


def open_store(url: str) -> StateStore:
    """The store at ``url``; raises ConfigurationError for a URL no backend takes.

    Raises StoreUnavailable when a server-backed store cannot be reached at once
    (PostgreSQL connects here; Redis on first use).
    """
    problem = state_url_problem(url)
    if problem is not None:
        raise ConfigurationError("SENDX_STATE_URL", problem)
    scheme = urlsplit(url).scheme
    if scheme in ("redis", "rediss"):
        from .redis import RedisStore

        return RedisStore(url)
    if scheme in ("postgresql", "postgres"):
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise ConfigurationError(
                "SENDX_STATE_URL", "a postgresql:// store needs psycopg: pip install 'sendx-worker[postgresql]'"
            ) from None
        from .postgres import PostgresStore

        return PostgresStore(url)
    if scheme == "sqlite":
        from .sqlite import SqliteStore

        return SqliteStore(sqlite_path(url))
    from .memory import MemoryStore

    return MemoryStore()
