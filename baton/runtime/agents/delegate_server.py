"""Run-time delegation for command and http agents: a loopback HTTP endpoint.

A command agent finds `BATON_DELEGATE_URL` in its environment (and, like an http agent,
`delegate_url` in its request; http agents also get the `Baton-Delegate-URL` header).
It POSTs `{"agent": NAME, "input": {...}, "output": "handoff@version"}` there, while it
runs, and gets back:

- `200 {"output": ...}`: the delegate's output, valid against the handoff;
- `403 {"error": "acl_denied", "message": ...}`: refused (the step will fail with
  `acl_denied` whatever the agent replies);
- `422` (`malformed_output`), `504` (`timeout`), `502` (`agent_error`): the delegate
  failed; `400` for a request that is not such an object; `404` for a URL that is not
  (or no longer) valid.

The server listens on 127.0.0.1 only, on a port chosen by the system, started on first
use and shared by every attempt in the process. Each attempt's URL holds a random token
of its own, withdrawn when the attempt ends: the URL is the capability.
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from baton.runtime.agents.envelope import AgentFailure
from baton.runtime.model import Delegator, FailureClass

MAX_REQUEST_BYTES = 64 * 1024 * 1024
STATUS = {
    FailureClass.ACL_DENIED: 403,
    FailureClass.MALFORMED_OUTPUT: 422,
    FailureClass.TIMEOUT: 504,
}

_contexts: dict[str, Delegator] = {}
_lock = threading.Lock()
_server: ThreadingHTTPServer | None = None


def register(context: Delegator) -> str:
    """A new token for `context`; starts the server if needed."""
    token = secrets.token_urlsafe(24)
    with _lock:
        _ensure_server()
        _contexts[token] = context
    return token


def unregister(token: str) -> None:
    with _lock:
        _contexts.pop(token, None)


def url_of(token: str) -> str:
    assert _server is not None, "register() starts the server"
    host, port = _server.server_address[:2]
    return f"http://{host!s}:{port}/delegate/{token}"


def _ensure_server() -> None:
    global _server
    if _server is None:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        threading.Thread(
            target=server.serve_forever, name="baton-delegate-server", daemon=True
        ).start()
        _server = server


class _Handler(BaseHTTPRequestHandler):
    server_version = "baton-delegate"

    def do_POST(self) -> None:
        token = self.path.removeprefix("/delegate/")
        with _lock:
            context = _contexts.get(token) if self.path.startswith("/delegate/") else None
        if context is None:
            self._reply(404, {"error": "not_found", "message": "no such delegation endpoint"})
            return
        request = self._request()
        if isinstance(request, str):
            self._reply(400, {"error": "bad_request", "message": request})
            return
        try:
            output = context.delegate(request["agent"], request.get("input"), request["output"])
        except AgentFailure as failure:
            status = STATUS.get(failure.failure, 502)
            self._reply(status, {"error": failure.failure.value, "message": failure.message})
            return
        self._reply(200, {"output": output})

    def _request(self) -> dict[str, Any] | str:
        """The request object, or what is wrong with it."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return "a Content-Length header is required"
        if not 0 < length <= MAX_REQUEST_BYTES:
            return f"the body must be 1 to {MAX_REQUEST_BYTES} bytes"
        try:
            body = json.loads(self.rfile.read(length).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            return f"the body is not JSON: {error}"
        if not (
            isinstance(body, dict)
            and isinstance(body.get("agent"), str)
            and isinstance(body.get("output"), str)
        ):
            return 'expected {"agent": NAME, "input": ..., "output": "handoff@version"}'
        return body

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the run's log records every delegation; no access log on stderr
