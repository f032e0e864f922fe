"""The demo's sample events: fake people signing up, upgrading, logging in, and one bad update."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from celery import Celery

__all__ = ["MIN_EVENTS", "DemoEvent", "DemoPlan", "plan_events"]

MIN_EVENTS = 3
#: From this many events on, the demo includes the race of an upgrade and a retried signup.
RACE_FROM = 8

# Fake people, on example.com (reserved for examples: nobody receives this mail).
PEOPLE = (
    ("Ada", "Lovelace", "Analytical Engines"),
    ("Grace", "Hopper", "Compilers Inc"),
    ("Alan", "Turing", "Bletchley Park"),
    ("Katherine", "Johnson", "Langley"),
    ("Edsger", "Dijkstra", "Shortest Paths"),
    ("Barbara", "Liskov", "Substitution Co"),
    ("Donald", "Knuth", "TeX Users"),
    ("Margaret", "Hamilton", "Apollo Software"),
    ("Dennis", "Ritchie", "Bell Labs"),
    ("Frances", "Allen", "Optimizers"),
)


@dataclass(frozen=True)
class DemoEvent:
    """One call to ``identify()`` or ``track()``."""

    kind: Literal["identify", "track"]
    email: str
    label: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def enqueue(self, app: Celery) -> str:
        """Validate and publish it through the producer API; the task id."""
        from ..producer import identify, track  # Celery: imported when used (see .common)

        send: Callable[..., Any] = identify if self.kind == "identify" else track
        return str(send(self.email, app=app, **self.kwargs).id)


@dataclass(frozen=True)
class DemoPlan:
    """Signups first (so that every contact exists), then the updates that build on them.

    ``race``: a signup whose first attempt SendX fails (503), so that it is retried after
    the same person's upgrade (a plan change and a tag change), sent just after it, has
    landed: ordering keeps the upgrade's plan and tags, whichever lands first.
    """

    signups: list[DemoEvent]
    updates: list[DemoEvent]
    race: list[DemoEvent] = field(default_factory=list)

    @property
    def total(self) -> int:
        """How many events in all."""
        return len(self.signups) + len(self.updates) + len(self.race)

    @property
    def emails(self) -> list[str]:
        """The contacts the demo creates, in signup order."""
        return [event.email for event in self.signups] + [event.email for event in self.race[:1]]

    @property
    def race_email(self) -> str | None:
        """The racing person's address (SendX fails their first request), if the plan has a race."""
        return self.race[0].email if self.race else None

    def summary(self) -> str:
        """``9 signups, 5 upgrades, 5 logins, 1 bad update``."""
        counts: dict[str, int] = {}
        for event in [*self.signups, *self.race, *self.updates]:
            counts[event.label] = counts.get(event.label, 0) + 1
        return ", ".join(f"{count} {label}{'s' if count > 1 else ''}" for label, count in counts.items())


def _email(first: str, last: str, index: int) -> str:
    suffix = "" if index < len(PEOPLE) else str(index // len(PEOPLE) + 1)
    return f"{first.lower()}.{last.lower()}{suffix}@example.com"


def plan_events(total: int) -> DemoPlan:
    """``total`` events (at least MIN_EVENTS): ~40% signups, one bad update, upgrades and logins."""
    total = max(total, MIN_EVENTS)
    signup_count = max(1, round(total * 0.4))
    racing = 3 if total >= RACE_FROM else 0
    rest = total - signup_count - 1 - racing
    upgrade_count = rest // 2
    login_count = rest - upgrade_count
    signups = []
    for index in range(signup_count):
        first, last, company = PEOPLE[index % len(PEOPLE)]
        signups.append(
            DemoEvent(
                "identify",
                _email(first, last, index),
                "signup",
                {
                    "first_name": first,
                    "last_name": last,
                    "company": company,
                    "tags": ["trial user"],
                    "custom_fields": {"Plan": "Trial", "Signup source": "web"},
                },
            )
        )
    emails = [event.email for event in signups]
    updates = [
        DemoEvent(
            "track", emails[i % len(emails)], "upgrade", {"add_tags": ["paid user"], "remove_tags": ["trial user"]}
        )
        for i in range(upgrade_count)
    ]
    updates += [
        DemoEvent("identify", emails[-1 - i % len(emails)], "login", {"custom_fields": {"Logins": "++1"}})
        for i in range(login_count)
    ]
    # Valid for our schema ("++1" is a fine increment), but Plan holds text: SendX answers 422
    # and the worker dead-letters it as `rejected`, with SendX's message as evidence.
    updates.append(DemoEvent("identify", emails[0], "bad update", {"custom_fields": {"Plan": "++1"}}))
    race: list[DemoEvent] = []
    if racing:
        first, last, company = PEOPLE[signup_count % len(PEOPLE)]
        email = _email(first, last, signup_count)
        signup = dict(signups[0].kwargs, first_name=first, last_name=last, company=company)
        race = [
            DemoEvent("identify", email, "signup", signup),
            DemoEvent("identify", email, "upgrade", {"custom_fields": {"Plan": "Paid"}}),
            DemoEvent("track", email, "upgrade", {"add_tags": ["paid user"], "remove_tags": ["trial user"]}),
        ]
    return DemoPlan(signups, updates, race)
