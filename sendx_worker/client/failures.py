"""Turn a failed attempt into the right :mod:`sendx_worker.errors` exception, with its evidence.

The decision is :func:`.classify.classify`; this module only gathers the facts
(status, SendX's message, the decoded body, ``Retry-After``) and writes a short
message fit for a log line. Secrets stay out: the path never has the query
string, the API key is scrubbed from anything SendX echoed back, and e-mail
addresses in the message are masked (the raw body stays in the evidence, next
to the payload it belongs to).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import requests

from ..errors import ApiError, InvalidPayload
from ..masking import mask_text
from .classify import Verdict, body_reports_failure, classify
from .flavors import PreparedCall
from .retry_after import parse_retry_after

__all__ = ["BODY_LIMIT", "decode_body", "error_from_exception", "error_from_response"]

BODY_LIMIT = 2000  # characters of an error body kept as evidence
_MESSAGE_LIMIT = 200  # characters of SendX's message in our one-line message


def decode_body(response: requests.Response, *, secret: str) -> Any:
    """The body as JSON when it parses, else as (truncated) text; None when empty."""
    text = _scrub(_text_of(response), secret)
    if not text.strip():
        return None
    try:
        decoded = json.loads(text)
    except ValueError:
        return _truncate(text, BODY_LIMIT)
    if len(text) > BODY_LIMIT:
        return _truncate(text, BODY_LIMIT)
    return decoded


def error_from_response(
    call: PreparedCall,
    response: requests.Response,
    body: Any,
    *,
    now: Callable[[], datetime] | None = None,
) -> ApiError | None:
    """The error for this response, or None when it is a success."""
    status = response.status_code
    failed = 200 <= status < 300 and body_reports_failure(body)
    verdict = classify(status, operation=call.operation, body_failed=failed)
    if verdict is None:
        return None
    sendx_message = _sendx_message(body)
    retry_after = response.headers.get("Retry-After")
    retry_after_s = parse_retry_after(retry_after) if now is None else parse_retry_after(retry_after, now=now)
    message = f"SendX answered {status} {_reason(response)}"
    if failed:
        message += " but reported an error"
    if 300 <= status < 400:
        message += f" (redirect to {_without_query(response.headers.get('Location', '?'))}, not followed)"
    if sendx_message:
        message += f": {mask_text(_truncate(sendx_message, _MESSAGE_LIMIT))}"
    return _build(
        verdict, message, call, status=status, sendx_message=sendx_message, body=body, retry_after_s=retry_after_s
    )


def error_from_exception(call: PreparedCall, exc: requests.RequestException) -> ApiError:
    """The error for an attempt that raised instead of answering."""
    verdict = classify(exc, operation=call.operation)
    assert verdict is not None  # an exception is never a success
    detail = _os_detail(exc)
    message = f"SendX could not be reached: {verdict.what}"
    if verdict.may_have_reached_sendx:
        message = f"SendX call failed: {verdict.what}"
    if detail and detail.lower() not in message.lower():
        message += f" ({detail})"
    return _build(verdict, message, call, status=None, sendx_message=None, body=None, retry_after_s=None)


def _build(
    verdict: Verdict,
    message: str,
    call: PreparedCall,
    *,
    status: int | None,
    sendx_message: str | None,
    body: Any,
    retry_after_s: float | None,
) -> ApiError:
    if issubclass(verdict.error, InvalidPayload):
        return verdict.error(message)
    return verdict.error(
        message,
        method=call.method,
        path=call.path,
        status=status,
        sendx_message=sendx_message,
        body=body,
        retry_after_s=retry_after_s,
        may_have_reached_sendx=verdict.may_have_reached_sendx,
    )


def _text_of(response: requests.Response) -> str:
    # Not response.text: without a declared charset it runs charset detection on
    # every response. SendX answers JSON, which is UTF-8.
    try:
        return response.content.decode(response.encoding or "utf-8", errors="replace")
    except LookupError:
        return response.content.decode("utf-8", errors="replace")


def _sendx_message(body: Any) -> str | None:
    if isinstance(body, Mapping):
        message = body.get("message")
        if message is None:
            message = body.get("error")
        if isinstance(message, str | int | float) and not isinstance(message, bool) and str(message).strip():
            return str(message).strip()
        return None
    if isinstance(body, str) and body.strip() and len(body) <= _MESSAGE_LIMIT and "<" not in body:
        return body.strip()  # a short plain-text answer is the message; HTML pages are not
    return None


def _reason(response: requests.Response) -> str:
    try:
        return HTTPStatus(response.status_code).phrase
    except ValueError:
        return response.reason or "(unknown status)"


def _os_detail(exc: BaseException) -> str:
    """The OS's own words for the innermost socket error ("Connection refused"), if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    found = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and isinstance(current.strerror, str):
            found = current.strerror
        nested = getattr(current, "reason", None)
        if not isinstance(nested, BaseException):
            nested = next((a for a in current.args if isinstance(a, BaseException)), None)
        current = nested or current.__cause__ or current.__context__
    return found


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return parts._replace(query="", fragment="").geturl()


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _scrub(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text
