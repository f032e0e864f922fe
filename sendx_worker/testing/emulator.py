"""``sendx_emulator``: the SendX emulator on a free loopback port, its faults as methods.

Faults apply to the API requests that come next, from any client (the worker fixture,
your own code, an SDK); ``email=`` narrows a scripted fault to one contact's requests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ..emulator import Emulator

__all__ = ["API_KEY", "TEAM_ID", "EmulatorControls", "RateLimitUnsupported"]

#: The credentials the emulator accepts and the worker fixture uses.
TEAM_ID = "team-1"
API_KEY = "test-key"

# The script key whose steps serve any request (sendx_worker.emulator.faults.ANY_EMAIL).
_ANY = "*"
# A scripted timeout answers only after this long; the worker's read timeout gives up first.
_SLOW_S = 30.0


class RateLimitUnsupported(NotImplementedError):
    """Raised when the installed emulator has no token-bucket rate limit to set."""


class EmulatorControls:
    """A started :class:`~sendx_worker.emulator.Emulator` and the faults a test injects into it."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self.emulator.url

    def base_url(self, flavor: Literal["v1", "rest"] = "v1") -> str:
        """What ``SENDX_BASE_URL`` is set to, to point a client at the emulator."""
        return self.emulator.base_url(flavor)

    # -- faults --------------------------------------------------------------------------------

    def fail_next(self, n: int = 1, status: int = 503, *, email: str | None = None, retry_after: Any = None) -> None:
        """Answer the next ``n`` API requests (``email``'s only, if given) with ``status``, applying nothing.

        ``retry_after`` (seconds) adds a ``Retry-After`` header; a 429 gets the emulator's default one.
        """
        step: Any = status if retry_after is None else {"status": status, "retry_after": retry_after}
        self._script(email, [step] * _count(n))

    def timeout_next(self, n: int = 1, *, email: str | None = None) -> None:
        """Leave the next ``n`` API requests unanswered until the client's read timeout gives up."""
        self._script(email, ["timeout"] * _count(n))

    def reset_next(self, n: int = 1, *, email: str | None = None) -> None:
        """Drop the connection of the next ``n`` API requests without an answer."""
        self._script(email, ["reset"] * _count(n))

    def latency(self, ms: float) -> None:
        """Wait ``ms`` milliseconds before every answer from now on (0 to stop)."""
        self.emulator.set_faults(latency_ms=ms)

    def rate_limit(self, per_second: float | str | None, *, burst: float | None = None) -> None:
        """Answer 429 with ``Retry-After`` above ``per_second`` requests per second (None: no limit).

        ``per_second`` is a number or ``"200/s"``; ``burst`` is how many may come at once
        (default one second's worth, at least 1). Setting it starts with a full bucket;
        ``emulator.stats()["rate_limited"]`` counts the 429s it answered.
        Raises RateLimitUnsupported when this emulator has no token-bucket rate limit.
        """
        try:
            self.emulator.set_faults(rate_limit=per_second, rate_limit_burst=burst)
        except ValueError as exc:
            if "rate_limit" in str(exc) and "unknown" in str(exc):
                raise RateLimitUnsupported(
                    "this emulator has no token-bucket rate limit (set_faults(rate_limit=...)); "
                    "use fail_next(n, status=429) to script 429s"
                ) from None
            raise

    def outage(self, kind: Literal["refuse", "reset"] = "refuse") -> AbstractContextManager[None]:
        """SendX is down from now on: ``"refuse"`` refuses connections, ``"reset"`` resets them.

        Ends with :meth:`end_outage`, or use it as a context manager: ``with emulator.outage(): ...``.
        """
        self.emulator.set_faults(outage=kind)
        return self._until_the_end_of_the_outage()

    @contextmanager
    def _until_the_end_of_the_outage(self) -> Iterator[None]:
        try:
            yield
        finally:
            self.end_outage()

    def end_outage(self) -> None:
        """SendX is back (on the same port)."""
        self.emulator.set_faults(outage=None)

    def heal(self) -> None:
        """Clear every fault: no outage, no latency, no scripted answers (contacts and the log stay)."""
        self.emulator.set_faults(outage=None, latency_ms=0, error_rate=0, throttle_rate=0, timeout_rate=0)
        scripted = self.emulator.faults()["script"]
        self.emulator.set_faults(script={key: [] for key in scripted})
        with suppress(RateLimitUnsupported):
            self.rate_limit(None)

    # -- what SendX holds and received ---------------------------------------------------------

    def contact(self, email: str) -> dict[str, Any] | None:
        """The contact as SendX holds it now, or None."""
        return self.emulator.contact(email)

    @property
    def contacts(self) -> dict[str, dict[str, Any]]:
        """Every contact SendX holds now, by e-mail."""
        return self.emulator.contacts()

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every API request received, oldest first: method, path, query, headers, body, status."""
        return self.emulator.requests()

    def requests_for(self, email: str) -> list[dict[str, Any]]:
        """The API requests about ``email`` (in the body, or the query for a v1 track)."""
        found = []
        for entry in self.requests:
            body = entry.get("body")
            named = body.get("email") if isinstance(body, dict) else None
            if email in (named, entry.get("query", {}).get("email")):
                found.append(entry)
        return found

    def _script(self, email: str | None, steps: list[Any]) -> None:
        key = _ANY if email is None else email
        # Appended to what is still scripted for that key, so that two calls add up.
        pending = self.emulator.faults()["script"].get(key, [])
        self.emulator.set_faults(script={key: [*pending, *steps]})


def _count(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a whole number of at least 1, not {n!r}")
    return n
