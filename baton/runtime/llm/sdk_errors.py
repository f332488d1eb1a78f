"""SDK exceptions as transport faults, read the same way for `openai` and `anthropic`.

Both SDKs (generated from the same template) raise `APIStatusError` (with `status_code`,
`response`, `body`), `APITimeoutError` and `APIConnectionError` (the cause in
`__cause__`). Only the status, the headers that say how long to wait, the error body's
`message` and the cause's type and text are kept; never the SDK's message, the request,
or the response object.
"""

from __future__ import annotations

import time
from typing import Any

from baton.runtime.llm.transport import Fault, retry_after_s


def fault_from(error: BaseException, sdk: Any) -> Fault | None:
    """The fault behind an exception raised by `sdk` (the module); None if it is not a
    transport failure (a bug to let through)."""
    if isinstance(error, sdk.APIStatusError):
        return Fault(
            "status",
            error_message(error.body),
            status=int(error.status_code),
            retry_after_s=retry_after_s(error.response.headers, time.time()),
        )
    if isinstance(error, sdk.APITimeoutError):
        return Fault("timeout", "the request timed out")
    if isinstance(error, sdk.APIConnectionError):
        return Fault("connection", describe_cause(error))
    return None


def error_message(body: object) -> str:
    """The human part of an error body: `{"error": {"message": ...}}` (OpenAI, and
    Anthropic's `{"type": "error", "error": {...}}`), the error object itself (the SDKs
    pass it unwrapped), or a plain-text body.

    >>> error_message({"type": "error",
    ...                "error": {"type": "overloaded_error", "message": "Overloaded"}})
    'overloaded_error: Overloaded'
    >>> error_message("upstream connect error")
    'upstream connect error'
    """
    inner = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(inner, dict):
        message = inner.get("message")
        kind = inner.get("type") or inner.get("code")
        text = str(message) if message is not None else ""
        if isinstance(kind, str) and kind and kind not in text:
            text = f"{kind}: {text}" if text else kind
        return text
    if isinstance(inner, str):
        return inner.strip()
    return ""


def describe_cause(error: BaseException) -> str:
    """What the network said: the underlying exception's type and text."""
    cause = error.__cause__ or error.__context__
    if cause is None:
        return "connection error"
    text = str(cause).strip()
    return f"{type(cause).__name__}: {text}" if text else type(cause).__name__
