"""The classification table: every status from 100 to 599, every exception in requests."""

from __future__ import annotations

import http.client
import inspect
import socket

import pytest
import requests
import requests.exceptions
import urllib3.exceptions

from sendx_worker.client import classify, is_transient
from sendx_worker.client.classify import body_reports_failure
from sendx_worker.errors import (
    ApiError,
    AuthError,
    ConnectionFailed,
    ContactNotFound,
    InvalidPayload,
    RateLimited,
    Rejected,
    ServerError,
    TransientError,
)

Expected = tuple[type[ApiError], bool] | None


def expected_for_status(status: int, operation: str) -> Expected:
    """The contract, written out independently of the implementation."""
    special: dict[int, tuple[type[ApiError], bool]] = {
        401: (AuthError, False),
        403: (AuthError, False),
        408: (ServerError, False),
        429: (RateLimited, False),
        503: (ServerError, False),
        # Redirects that mean "send it elsewhere": nothing was applied here.
        301: (ServerError, False),
        307: (ServerError, False),
        308: (ServerError, False),
    }
    if operation == "track":
        special[404] = (ContactNotFound, False)
    if status in special:
        return special[status]
    if 200 <= status <= 299:
        return None
    if 400 <= status <= 499:
        return (Rejected, False)
    # 500, 502, 504 and the other 5xx; 302/303 (answers after processing a
    # POST) and the other 3xx; a stray 1xx: all may have been applied.
    return (ServerError, True)


@pytest.mark.parametrize("status", range(100, 600))
def test_every_status_is_classified_as_the_contract_says(status: int) -> None:
    for operation in ("identify", "track"):
        verdict = classify(status, operation=operation)
        got = None if verdict is None else (verdict.error, verdict.may_have_reached_sendx)
        assert got == expected_for_status(status, operation), f"{status} on {operation}: got {got}"


@pytest.mark.parametrize("status", range(100, 600))
def test_is_transient_agrees_with_the_error_class(status: int) -> None:
    expected = expected_for_status(status, "identify")
    transient = expected is not None and issubclass(expected[0], TransientError)
    assert is_transient(status) is transient, f"is_transient({status})"


def test_transient_statuses_are_exactly_408_429_1xx_3xx_and_5xx() -> None:
    transient = {status for status in range(100, 600) if is_transient(status)}
    assert transient == {408, 429} | set(range(100, 200)) | set(range(300, 400)) | set(range(500, 600))


def test_a_2xx_whose_body_says_error_is_rejected_and_may_have_been_applied() -> None:
    verdict = classify(200, operation="identify", body_failed=True)
    assert verdict is not None
    assert (verdict.error, verdict.may_have_reached_sendx) == (Rejected, True)


def test_a_404_on_identify_is_a_plain_rejection_not_a_missing_contact() -> None:
    verdict = classify(404, operation="identify")
    assert verdict is not None and verdict.error is Rejected


# Every exception class requests.exceptions defines or re-exports, with its verdict.
EXCEPTION_TABLE: dict[str, tuple[type[ApiError], bool]] = {
    "RequestException": (ConnectionFailed, True),
    "ConnectionError": (ConnectionFailed, True),  # bare: we cannot tell, so assume it left
    "ConnectTimeout": (ConnectionFailed, False),
    "ReadTimeout": (ConnectionFailed, True),
    "Timeout": (ConnectionFailed, True),
    "SSLError": (ConnectionFailed, False),
    "ProxyError": (ConnectionFailed, False),
    "ChunkedEncodingError": (ConnectionFailed, True),
    "ContentDecodingError": (ConnectionFailed, True),
    "JSONDecodeError": (ConnectionFailed, True),
    "InvalidJSONError": (InvalidPayload, False),
    "InvalidHeader": (AuthError, False),
    "InvalidURL": (ConnectionFailed, False),
    "InvalidProxyURL": (ConnectionFailed, False),
    "InvalidSchema": (ConnectionFailed, False),
    "MissingSchema": (ConnectionFailed, False),
    "URLRequired": (ConnectionFailed, False),
    "TooManyRedirects": (ServerError, True),
    "RetryError": (ServerError, True),
    "HTTPError": (ServerError, True),
    "StreamConsumedError": (ConnectionFailed, True),
    "UnrewindableBodyError": (ConnectionFailed, True),
    # Not requests' own errors (urllib3's base error, json's decode error):
    # never raised by a call, and treated as "unknown, may have left".
    "BaseHTTPError": (ConnectionFailed, True),
    "CompatJSONDecodeError": (ConnectionFailed, True),
}
WARNINGS = {"RequestsWarning", "FileModeWarning", "RequestsDependencyWarning"}


def exception_classes() -> dict[str, type[BaseException]]:
    return {
        name: cls
        for name, cls in inspect.getmembers(requests.exceptions, inspect.isclass)
        if issubclass(cls, BaseException)
    }


def instance_of(cls: type[BaseException]) -> BaseException:
    if issubclass(cls, ValueError) and "JSONDecodeError" in cls.__name__:
        return cls("Expecting value", "", 0)
    return cls()


def test_the_exception_table_covers_every_class_requests_defines() -> None:
    found = exception_classes()
    errors = {name for name, cls in found.items() if not issubclass(cls, Warning)}
    assert errors == set(EXCEPTION_TABLE), "classify the new requests exception classes"
    assert set(found) - errors == WARNINGS


@pytest.mark.parametrize("name", sorted(EXCEPTION_TABLE))
def test_every_requests_exception_is_classified_as_the_table_says(name: str) -> None:
    exc = instance_of(exception_classes()[name])
    verdict = classify(exc, operation="identify")
    assert verdict is not None
    assert (verdict.error, verdict.may_have_reached_sendx) == EXCEPTION_TABLE[name]
    assert verdict.what, "an exception verdict names what happened"


def wrapped(reason: BaseException, cause: BaseException | None = None) -> requests.ConnectionError:
    """A ConnectionError as requests raises it for a failed connect (MaxRetryError inside)."""
    if cause is not None:
        reason.__cause__ = cause
    return requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/api/v1/contact/identify", reason))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("exc", "reached", "what"),
    [
        (
            wrapped(urllib3.exceptions.NewConnectionError(None, "failed"), ConnectionRefusedError(111, "refused")),  # type: ignore[arg-type]
            False,
            "connection refused",
        ),
        (wrapped(urllib3.exceptions.NameResolutionError("h", None, socket.gaierror(-2, "x"))), False, "DNS"),  # type: ignore[arg-type]
        (wrapped(urllib3.exceptions.NewConnectionError(None, "no route")), False, "could not connect"),  # type: ignore[arg-type]
        (requests.ConnectionError(urllib3.exceptions.ClosedPoolError(None, "closed")), False, "closed"),  # type: ignore[arg-type]
        (
            requests.ConnectionError(
                urllib3.exceptions.ProtocolError("Connection aborted.", http.client.RemoteDisconnected("gone"))
            ),
            True,
            "dropped",
        ),
        (
            requests.ConnectionError(
                urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))
            ),
            True,
            "dropped",
        ),
    ],
    ids=["refused", "dns", "no-route", "closed-pool", "remote-disconnected", "reset"],
)
def test_a_connection_error_says_whether_the_request_left(
    exc: requests.ConnectionError, reached: bool, what: str
) -> None:
    verdict = classify(exc, operation="track")
    assert verdict is not None
    assert verdict.error is ConnectionFailed
    assert verdict.may_have_reached_sendx is reached
    assert what in verdict.what


def test_an_http_error_with_a_response_is_classified_by_its_status() -> None:
    response = requests.Response()
    response.status_code = 429
    verdict = classify(requests.HTTPError(response=response), operation="identify")
    assert verdict is not None and verdict.error is RateLimited


@pytest.mark.parametrize(
    ("body", "failed"),
    [
        ({"status": "200", "message": "OK"}, False),
        ({"status": 200}, False),
        ({"status": "error", "message": "bad"}, True),
        ({"status": "ERROR"}, True),
        ({"status": "failed"}, True),
        ({"status": "422"}, True),
        ({"status": 500}, True),
        ({"status": 404.0}, True),
        ({"status": "600"}, False),
        ({"status": True}, False),
        ({"status": None}, False),
        ({"message": "OK"}, False),
        ("error", False),
        (None, False),
        ([{"status": "error"}], False),
    ],
)
def test_a_body_reports_failure_only_through_its_status_field(body: object, failed: bool) -> None:
    assert body_reports_failure(body) is failed
