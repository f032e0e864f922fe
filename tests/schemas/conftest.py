"""Each schema rule is tested from both sides: Python kwargs and the wire dict."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from marshmallow import ValidationError

from sendx_worker.schemas import identify_payload, load_identify_wire, load_track_wire, track_payload
from sendx_worker.schemas.casing import camelcase

EMAIL = "john@example.com"


@dataclass(frozen=True)
class Side:
    """One way into the schemas: Python keyword arguments, or a wire dict from the queue."""

    name: str
    key: Callable[[str], str]

    def identify(self, flavor: Any = "v1", **kwargs: Any) -> dict[str, Any]:
        if self.name == "python":
            return identify_payload(flavor, **kwargs)
        return load_identify_wire(_wire(kwargs), flavor)

    def track(self, flavor: Any = "v1", **kwargs: Any) -> dict[str, Any]:
        if self.name == "python":
            return track_payload(flavor, **kwargs)
        return load_track_wire(_wire(kwargs), flavor)

    def errors(self, flavor: Any = "v1", **kwargs: Any) -> dict[str, Any]:
        """The messages of an identify that must fail."""
        return _messages(lambda: self.identify(flavor, **kwargs))

    def track_errors(self, flavor: Any = "v1", **kwargs: Any) -> dict[str, Any]:
        """The messages of a track that must fail."""
        return _messages(lambda: self.track(flavor, **kwargs))


def _wire(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {camelcase(name): value for name, value in kwargs.items()}


def _messages(call: Callable[[], object]) -> dict[str, Any]:
    with pytest.raises(ValidationError) as info:
        call()
    messages = info.value.messages
    assert isinstance(messages, dict)
    return messages


@pytest.fixture(params=["python", "wire"])
def side(request: pytest.FixtureRequest) -> Side:
    return Side("python", str) if request.param == "python" else Side("wire", camelcase)
