"""Baton's retry loop around one model call, and the faults it tells apart.

The SDKs' own retries are off (`max_retries=0`): every retry is made here, so each can be
counted, given to the caller (`on_retry`, for the event log) and bounded.

- 429, 5xx and connection errors are retried, at most `transport_retries` times, after
  the wait the server asks for (`Retry-After`: seconds or an HTTP date; or the
  `retry-after-ms` both providers send) or else an exponential backoff with jitter. A
  server that asks for more than `MAX_WAIT_S` is not waited for: the call fails at once
  and the step's retry policy, which can wait across a resume, takes over.
- Then the call fails: `rate_limited` for a 429, `agent_error` otherwise.
- A timeout is not retried here (the model may still be generating, and billing, the
  first answer): it fails the call with class `timeout`.
- 401 and 403 fail at once, naming the variable the key came from; other 4xx too.
"""

from __future__ import annotations

import contextlib
import datetime
import email.utils
import json
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from baton.runtime.llm.errors import (
    AGENT_ERROR,
    RATE_LIMITED,
    TIMEOUT,
    LlmError,
    TransportRetry,
)
from baton.runtime.llm.redact import scrub

MAX_WAIT_S = 30.0  # the longest Retry-After honoured inside one call
BACKOFF_BASE_S = 0.5  # first retry without Retry-After: 0.25-0.5 s, then doubling
BACKOFF_MAX_S = 8.0
ERROR_DETAIL_CHARS = 300
BODY_HEAD_BYTES = 200
IDEMPOTENCY_HEADER = "Idempotency-Key"  # the attempt's key, on every request


@dataclass(frozen=True)
class WireRequest:
    """One request as it goes on the wire: provider, URL path, JSON body (no headers)."""

    provider: str
    path: str
    body: dict[str, Any]


@dataclass(frozen=True)
class WireResponse:
    """A successful (2xx) response: its JSON body and the provider's request id."""

    body: Any
    request_id: str | None


class Fault(Exception):
    """Why one HTTP request failed (internal: the loop turns it into an LlmError).

    `kind`: "status" (an HTTP error status), "connection", "timeout", or "bad_response"
    (2xx whose body is not JSON). `detail` is Baton's own text, not an SDK message.
    """

    def __init__(
        self,
        kind: str,
        detail: str,
        *,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(kind, detail)
        self.kind = kind
        self.detail = detail
        self.status = status
        self.retry_after_s = retry_after_s

    @property
    def retried(self) -> bool:
        """Whether another request may succeed: 429, 5xx, or a connection error."""
        if self.kind == "connection":
            return True
        return (
            self.kind == "status"
            and self.status is not None
            and (self.status == 429 or self.status >= 500)
        )


@dataclass(frozen=True)
class CallSite:
    """What a failure message names: the provider, its URL, where the key came from."""

    provider: str
    url: str
    key_variable: str | None
    timeout_s: float
    secrets: tuple[str, ...] = field(default=(), repr=False)


def send_with_retries(
    send: Callable[[], WireResponse],
    site: CallSite,
    retries: int,
    *,
    on_retry: Callable[[TransportRetry], None] | None = None,
    slot: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[WireResponse, tuple[TransportRetry, ...]]:
    """`send()` until it succeeds, a fault is final, or the retries are spent.

    `slot` is entered around each request (not the waits between them): the agent's
    concurrency limit (runtime.llm.concurrency).
    """
    made: list[TransportRetry] = []
    for number in range(retries + 1):
        try:
            with slot():
                return send(), tuple(made)
        except Fault as caught:
            fault = caught
        if not fault.retried or number == retries:
            break
        wait = wait_before_retry(fault, number, random.random())
        if wait is None:
            break
        retry = TransportRetry(fault.status, scrub(fault.detail, site.secrets), wait)
        made.append(retry)
        if on_retry is not None:
            on_retry(retry)
        sleep(wait)
    # raised here, outside the except block: the SDK exception (which holds the request
    # and its Authorization header) must not ride along as __context__
    raise failure(fault, site, tuple(made))


def failure(fault: Fault, site: CallSite, retries: tuple[TransportRetry, ...]) -> LlmError:
    """The LlmError for the fault that ended a call; its message is scrubbed."""
    where = f"{site.provider} at {site.url}"
    requests = len(retries) + 1
    after = f" after {requests} requests" if retries else ""
    status = fault.status
    failure_class, retryable = AGENT_ERROR, True
    if fault.kind == "timeout":
        failure_class = TIMEOUT
        message = f"{where} did not answer within {site.timeout_s:g} s"
    elif fault.kind == "connection":
        message = f"cannot reach {where}{after}: {fault.detail}"
    elif fault.kind == "bad_response":
        message = f"{where} answered with a body that is not JSON: {fault.detail}"
    elif status in (401, 403):
        retryable = False
        message = f"{where} answered HTTP {status}{_detail(fault)}; {_key_hint(site, status)}"
    elif status == 429:
        failure_class = RATE_LIMITED
        message = f"{where} is rate limiting (HTTP 429){after}{_detail(fault)}"
        if fault.retry_after_s is not None and fault.retry_after_s > MAX_WAIT_S:
            message += (
                f"; it asked to wait {fault.retry_after_s:g} s, longer than the "
                f"{MAX_WAIT_S:g} s Baton waits inside an attempt"
            )
    else:
        retryable = fault.retried or status == 408
        message = f"{where} answered HTTP {status}{after}{_detail(fault)}"
    return LlmError(
        failure_class,
        scrub(message, site.secrets),
        retryable=retryable,
        status=status,
        retries=retries,
    )


def _detail(fault: Fault) -> str:
    text = " ".join(fault.detail.split())
    if len(text) > ERROR_DETAIL_CHARS:
        text = text[:ERROR_DETAIL_CHARS] + "..."
    return f": {text}" if text else ""


def _key_hint(site: CallSite, status: int) -> str:
    verb = "rejected" if status == 401 else "is not allowed to use"
    if site.key_variable is None:
        return (
            "no API key was sent (no api_key_env is set for this agent); set api_key_env "
            "to the name of the variable that holds the key"
        )
    if status == 401:
        return f"the server {verb} the API key in environment variable {site.key_variable!r}"
    return (
        f"the API key in environment variable {site.key_variable!r} {verb} this model or endpoint"
    )


def decode(content: bytes, request_id: str | None) -> WireResponse:
    """A 2xx body as JSON; a body that is not JSON is a `bad_response` fault."""
    try:
        return WireResponse(json.loads(content), request_id)
    except ValueError as error:
        head = content[:BODY_HEAD_BYTES].decode("utf-8", "replace")
        raise Fault("bad_response", f"{error}; it starts {head!r}") from None


# -- waiting


def wait_before_retry(fault: Fault, retry_number: int, sample: float) -> float | None:
    """Seconds to wait before retry `retry_number` (0-based): the server's Retry-After
    when it sent one, else backoff; None when the server asks for more than MAX_WAIT_S.

    >>> wait_before_retry(Fault("status", "", status=429, retry_after_s=1.0), 0, 0.3)
    1.0
    >>> wait_before_retry(Fault("status", "", status=429, retry_after_s=120.0), 0, 0.3) is None
    True
    """
    if fault.retry_after_s is not None:
        if fault.retry_after_s > MAX_WAIT_S:
            return None
        return max(0.0, fault.retry_after_s)
    return backoff_s(retry_number, sample)


def backoff_s(retry_number: int, sample: float) -> float:
    """Exponential backoff with jitter: `sample` in [0, 1) picks a point in the upper
    half of the window, so waits grow without lockstep between parallel steps.

    >>> [backoff_s(n, 0.0) for n in range(6)]
    [0.25, 0.5, 1.0, 2.0, 4.0, 4.0]
    >>> backoff_s(0, 0.999) <= 0.5
    True
    """
    window = min(BACKOFF_BASE_S * 2.0**retry_number, BACKOFF_MAX_S)
    return window * (0.5 + 0.5 * sample)


def retry_after_s(headers: Mapping[str, str], now: float) -> float | None:
    """The wait a response asks for, in seconds: `retry-after-ms` (milliseconds, sent by
    OpenAI and Anthropic), else `Retry-After` as seconds or an HTTP date; None when it
    asks for none (or says something unreadable). `headers` must be case-insensitive
    (the SDKs' httpx headers are) or have lowercase names.

    >>> retry_after_s({"retry-after": "2"}, 0.0)
    2.0
    >>> retry_after_s({"retry-after": "Thu, 01 Jan 1970 00:00:10 GMT"}, 4.0)
    6.0
    >>> retry_after_s({"retry-after-ms": "1500", "retry-after": "9"}, 0.0)
    1.5
    >>> retry_after_s({"retry-after": "soon"}, 0.0) is None
    True
    """
    milliseconds = _number(headers.get("retry-after-ms"))
    if milliseconds is not None:
        return max(0.0, milliseconds / 1000)
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _number(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        moment = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # an HTTP date is GMT; a zone-less one is read as such
        moment = moment.replace(tzinfo=datetime.UTC)
    return max(0.0, moment.timestamp() - now)


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None
