"""What a successful SendX call returns: small, typed and immutable."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["Contact", "IdentifyResult", "TrackResult"]

_CONTACT_KEYS = ("email", "firstName", "lastName", "company", "birthday", "tags", "customFields", "encryptedId")


@dataclass(frozen=True)
class Contact:
    """The contact as SendX's v1 identify answer describes it (every field optional)."""

    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    birthday: str | None = None
    tags: tuple[str, ...] = ()
    custom_fields: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    encrypted_id: str | None = None

    @classmethod
    def from_wire(cls, data: Any) -> Contact | None:
        """Parse a contact object leniently; None unless it looks like a contact."""
        if not isinstance(data, Mapping) or not any(key in data for key in _CONTACT_KEYS):
            return None
        return cls(
            email=_text(data.get("email")),
            first_name=_text(data.get("firstName")),
            last_name=_text(data.get("lastName")),
            company=_text(data.get("company")),
            birthday=_text(data.get("birthday")),
            tags=_tags(data.get("tags")),
            custom_fields=_custom_fields(data.get("customFields")),
            encrypted_id=_text(data.get("encryptedId")),
        )


@dataclass(frozen=True)
class IdentifyResult:
    """A successful identify: the HTTP status, the contact when SendX sent it back, the time taken."""

    status: int
    contact: Contact | None
    elapsed_s: float


@dataclass(frozen=True)
class TrackResult:
    """A successful track: the HTTP status and the time taken."""

    status: int
    elapsed_s: float


def contact_in(body: Any) -> Contact | None:
    """The contact in a response body (its ``data``), if there is one."""
    if not isinstance(body, Mapping):
        return None
    return Contact.from_wire(body.get("data"))


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return str(value)


def _tags(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        return ()
    return tuple(str(tag) for tag in value if isinstance(tag, str | int | float) and not isinstance(tag, bool))


def _custom_fields(value: Any) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        return MappingProxyType({})
    fields = {str(name): _text(v) for name, v in value.items()}
    return MappingProxyType({name: v for name, v in fields.items() if v is not None})
