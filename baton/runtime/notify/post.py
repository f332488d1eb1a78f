"""One delivery try: read the sink's variables, build and sign the body, POST it.

The outcome's message is built from fixed words, the HTTP status and the names of the
variables: never the URL (it is a secret: a webhook URL is a credential), the signing
secret, or what the receiver answered (a body may echo what it was sent).
"""

from __future__ import annotations

import http.client
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

from baton.runtime.model import NotifySink
from baton.runtime.notify.messages import body
from baton.runtime.notify.outbox import Notification
from baton.runtime.notify.signing import signed_headers


@dataclass(frozen=True)
class Tried:
    """How one POST went: `status` when the receiver answered; `retryable` False when
    another try cannot help (a variable is missing or holds no http(s) URL)."""

    ok: bool
    status: int | None
    message: str = ""
    retryable: bool = True


def deliver(
    n: Notification,
    sink: NotifySink,
    console_url: str | None,
    environ: Mapping[str, str] | None = None,
) -> Tried:
    """POST notification `n` to `sink` once (timeout: the sink's)."""
    env = os.environ if environ is None else environ
    url = env.get(sink.url_env, "").strip()
    if not url:
        return Tried(False, None, f"environment variable {sink.url_env} is not set", False)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return Tried(False, None, f"{sink.url_env} does not hold an http(s) URL", False)
    secret = None
    if sink.secret_env is not None:
        secret = env.get(sink.secret_env, "")
        if not secret:
            return Tried(
                False,
                None,
                f"environment variable {sink.secret_env} (the signing secret) is not set: "
                "not sent unsigned",
                False,
            )
    payload = body(n, sink.format, console_url)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "baton-notify/1",
        "Idempotency-Key": n.key,
        "X-Baton-Event": n.trigger,
        "X-Baton-Delivery": str(n.attempts + 1),
    }
    if secret is not None:
        headers.update(signed_headers(secret, int(time.time()), payload))
    request = urllib.request.Request(url, data=payload, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=sink.timeout_ms / 1000) as response:
            status = int(response.status)
            response.read(1024)  # drained, never kept
    except urllib.error.HTTPError as error:
        error.close()
        return Tried(False, error.code, f"HTTP {error.code}")
    except TimeoutError:
        return Tried(False, None, f"no answer within {sink.timeout_ms} ms")
    except urllib.error.URLError as error:
        return Tried(False, None, f"cannot connect: {_reason(error.reason)}")
    except (OSError, http.client.HTTPException, ValueError) as error:
        return Tried(False, None, f"cannot deliver: {_reason(error)}")
    if 200 <= status < 300:
        return Tried(True, status)
    return Tried(False, status, f"HTTP {status}")


def _reason(reason: object) -> str:
    """A cause without its text when that text could hold the URL or a reply: the
    class name, and an OS error's own description."""
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, OSError) and reason.strerror:
        return f"{type(reason).__name__} ({reason.strerror})"
    return type(reason).__name__


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer (3xx), not followed: the body and its signature were
    made for the URL the variable names, and a webhook has no business redirecting."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)
