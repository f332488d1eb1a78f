"""`http: URL`: an agent behind an HTTP endpoint: POST the request, read the envelope.

Headers: `Content-Type: application/json`, `Idempotency-Key` (the step's key, so the
service can dedupe a resumed attempt), `Baton-Attempt` and, when the agent may delegate,
`Baton-Delegate-URL` (runtime.agents.delegate_server). Standard library only
(urllib), no new dependency.

- The timeout bounds connecting, each read, and the whole body (checked between reads).
- Redirects are not followed: urllib would turn a redirected POST into a GET without
  the request, so a 3xx is reported as the error it is.
- Proxies from the environment apply, except for loopback addresses.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from baton.runtime.agents.envelope import (
    AgentCall,
    AgentFailure,
    AgentReply,
    reply_from,
    request_json,
)
from baton.runtime.model import FailureClass

MAX_REPLY_BYTES = 64 * 1024 * 1024
ERROR_BODY_CHARS = 500
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError with the 3xx status


_openers = {
    "proxied": urllib.request.build_opener(_NoRedirect),
    "direct": urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({})),
}


def call_http(call: AgentCall) -> AgentReply:
    """POST the request as JSON; the response body is the reply envelope."""
    url = call.binding.target
    if not isinstance(url, str):
        raise AgentFailure(FailureClass.AGENT_ERROR, "an http agent's target is one URL")
    payload = request_json(call.request)
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Idempotency-Key": call.request.idempotency_key,
        "Baton-Attempt": str(call.request.attempt),
    }
    if "delegate_url" in payload:
        headers["Baton-Delegate-URL"] = str(payload["delegate_url"])
    request = urllib.request.Request(
        url,
        data=json.dumps(payload, ensure_ascii=False).encode(),
        method="POST",
        headers=headers,
    )
    host = urllib.parse.urlsplit(url).hostname or ""
    opener = _openers["direct" if host in LOOPBACK_HOSTS else "proxied"]
    deadline = time.monotonic() + call.timeout_s
    try:
        with opener.open(request, timeout=call.timeout_s) as response:
            body = _read(response, deadline)
    except urllib.error.HTTPError as error:
        raise AgentFailure(
            FailureClass.AGENT_ERROR,
            f"{url} answered HTTP {error.code} {error.reason}{_body(error)}",
        ) from None
    except TimeoutError:
        raise _timeout(url, call.timeout_ms) from None
    except urllib.error.URLError as error:
        if isinstance(error.reason, TimeoutError):
            raise _timeout(url, call.timeout_ms) from None
        raise AgentFailure(
            FailureClass.AGENT_ERROR, f"cannot reach {url}: {error.reason}"
        ) from None
    except (http.client.HTTPException, OSError) as error:
        raise AgentFailure(
            FailureClass.AGENT_ERROR, f"{url} failed: {type(error).__name__}: {error}"
        ) from None
    try:
        raw = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as error:
        head = body[:200].decode("utf-8", "replace").strip()
        raise AgentFailure(
            FailureClass.MALFORMED_OUTPUT,
            f"{url} replied with something other than JSON ({error}): {head!r}",
        ) from None
    return reply_from(raw, call.binding, bare_allowed=False)


def _read(response: Any, deadline: float) -> bytes:
    """The body, in chunks, giving up at the deadline or past MAX_REPLY_BYTES."""
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise TimeoutError
        chunk = response.read1(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_REPLY_BYTES:
            raise AgentFailure(
                FailureClass.MALFORMED_OUTPUT, f"the reply is larger than {MAX_REPLY_BYTES} bytes"
            )
        chunks.append(chunk)


def _timeout(url: str, timeout_ms: int) -> AgentFailure:
    return AgentFailure(FailureClass.TIMEOUT, f"{url} did not reply within {timeout_ms} ms")


def _body(error: urllib.error.HTTPError) -> str:
    try:
        text = error.read(ERROR_BODY_CHARS * 4).decode("utf-8", "replace").strip()
    except Exception:  # the error body is a courtesy; never let it mask the status
        return ""
    return f": {text[:ERROR_BODY_CHARS]}" if text else ""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
