"""SendX's official Python SDK (PyPI ``sendx`` 2.0.0) works against the emulator's rest flavor."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sendx_python_sdk.api.tracking_api import TrackingApi
from sendx_python_sdk.api_client import ApiClient
from sendx_python_sdk.configuration import Configuration
from sendx_python_sdk.exceptions import ApiException, NotFoundException, UnauthorizedException
from sendx_python_sdk.models.identify_request import IdentifyRequest
from sendx_python_sdk.models.identify_response import IdentifyResponse
from sendx_python_sdk.models.track_request import TrackRequest
from sendx_python_sdk.models.track_response import TrackResponse

from sendx_worker.emulator import Emulator

KEY = "key-1"  # the emu fixture's key for team-1 (conftest.py)
JOHN = "john@example.com"


def tracking_api(emu: Emulator, key: str) -> Iterator[TrackingApi]:
    """The SDK's TrackingApi aimed at the emulator, with ``key`` as the team API key."""
    configuration = Configuration(host=emu.base_url("rest"), api_key={"TeamApiKey": key})
    with ApiClient(configuration) as client:
        yield TrackingApi(client)


@pytest.fixture
def sdk(emu: Emulator) -> Iterator[TrackingApi]:
    """The SDK with the right key."""
    yield from tracking_api(emu, KEY)


@pytest.fixture
def sdk_with_wrong_key(emu: Emulator) -> Iterator[TrackingApi]:
    """The SDK with a key the emulator does not accept."""
    yield from tracking_api(emu, "wrong-key")


def test_the_sdk_identifies_and_tracks_and_parses_the_answers(emu: Emulator, sdk: TrackingApi) -> None:
    identified = sdk.identify_contact(
        IdentifyRequest(email=JOHN, firstName="John", tags=["trial user"], customFields={"Logins": "++1"})
    )
    tracked = sdk.track_contact(TrackRequest(email=JOHN, addTags=["paid user"], removeTags=["trial user"]))
    assert isinstance(identified, IdentifyResponse)
    assert isinstance(tracked, TrackResponse)
    assert (identified.status, identified.message) == ("200", "OK")
    assert (tracked.status, tracked.message) == ("200", "OK")
    contact = emu.contact(JOHN)
    assert contact is not None
    assert (contact["firstName"], contact["tags"], contact["customFields"]) == ("John", ["paid user"], {"Logins": "1"})


def test_the_sdk_sends_its_key_in_the_x_team_apikey_header(emu: Emulator, sdk: TrackingApi) -> None:
    sdk.identify_contact(IdentifyRequest(email=JOHN))
    (entry,) = emu.requests()
    headers = {name.lower(): value for name, value in entry["headers"].items()}
    assert headers["x-team-apikey"] == KEY
    assert entry["path"] == "/api/v1/rest/contact/identify"


def test_the_sdk_raises_unauthorized_for_a_wrong_key(emu: Emulator, sdk_with_wrong_key: TrackingApi) -> None:
    with pytest.raises(UnauthorizedException) as caught:
        sdk_with_wrong_key.identify_contact(IdentifyRequest(email=JOHN))
    assert isinstance(caught.value, ApiException)
    assert caught.value.status == 401
    assert emu.contact(JOHN) is None


def test_the_sdk_raises_not_found_for_tracking_an_unknown_contact(sdk: TrackingApi) -> None:
    with pytest.raises(NotFoundException) as caught:
        sdk.track_contact(TrackRequest(email="nobody@example.com", addTags=["paid user"]))
    assert caught.value.status == 404
