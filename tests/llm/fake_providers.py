"""A real HTTP server on 127.0.0.1 that speaks the OpenAI Chat Completions
(`POST /v1/chat/completions`) and Anthropic Messages (`POST /v1/messages`) wire formats,
with a scripted model behind it.

Each test queues what the "model" answers, in order (`FakeProvider.script`): a JSON body,
a status with headers (`Retry-After`), a delay, or a dropped connection. The server
records every request it receives (path, headers, body, arrival time), so tests assert
on what went over the wire and when, not on what Baton says it sent.

With `expected_key` set, a request carrying another key is answered 401 with a message
that quotes the key it got in full (worse than OpenAI, which masks most of it), so the
tests can prove Baton keeps a key out of its errors even when a server echoes it.
"""

from __future__ import annotations

import collections
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from baton.runtime.llm import LlmConfig

# a key shaped like a real one; the tests check it never shows up where it must not
API_KEY = "sk-baton-test-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
KEY_VARIABLE = "BATON_TEST_LLM_KEY"
MODELS = {"openai": "gpt-fake-1", "anthropic": "claude-fake-1"}

OPENAI_PATH = "/v1/chat/completions"
ANTHROPIC_PATH = "/v1/messages"


@dataclass(frozen=True)
class Scripted:
    """One scripted answer: `body` (JSON, or bytes sent as they are), status, headers,
    a delay before answering, or `drop` (close the connection without a response)."""

    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    drop: bool = False


@dataclass(frozen=True)
class Received:
    """One request as the server saw it; header names lowercased."""

    path: str
    headers: dict[str, str]
    body: Any
    at: float  # time.monotonic() when the request had been read


def openai_reply(
    content: Any,
    *,
    prompt_tokens: int = 21,
    completion_tokens: int = 9,
    model: str = "gpt-fake-1",
    finish_reason: str = "stop",
    refusal: str | None = None,
    request_id: str = "req_openai_1",
) -> Scripted:
    """A Chat Completions answer; `content` that is not a string is sent as its JSON."""
    text = content if isinstance(content, str) or content is None else json.dumps(content)
    body = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": refusal},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
    return Scripted(body, headers={"x-request-id": request_id})


def anthropic_reply(
    tool_input: Any,
    *,
    tool_name: str = "output",
    input_tokens: int = 30,
    output_tokens: int = 12,
    cache_read_input_tokens: int = 0,
    model: str = "claude-fake-1",
    stop_reason: str = "tool_use",
    text: str | None = None,
    request_id: str = "req_anthropic_1",
) -> Scripted:
    """A Messages answer calling `tool_name` with `tool_input` (no call if it is None)."""
    content: list[dict[str, Any]] = []
    if text is not None:
        content.append({"type": "text", "text": text})
    if tool_input is not None:
        content.append(
            {"type": "tool_use", "id": "toolu_fake", "name": tool_name, "input": tool_input}
        )
    body = {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": cache_read_input_tokens,
        },
    }
    return Scripted(body, headers={"request-id": request_id})


def error_reply(status: int, message: str, **headers: str) -> Scripted:
    """An error in the shape both APIs use: `{"error": {"type", "message"}}`."""
    body = {"type": "error", "error": {"type": f"http_{status}", "message": message}}
    names = {name.replace("_", "-"): value for name, value in headers.items()}
    return Scripted(body, status=status, headers=names)


class FakeProvider:
    """The server and its script; `start()` binds a free port on 127.0.0.1."""

    def __init__(self, expected_key: str | None = None) -> None:
        self.expected_key = expected_key
        self.received: list[Received] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._script: collections.deque[Scripted] = collections.deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        # called in the server's thread right after an answer went out (crash tests stop
        # the client there: the reply has arrived, nothing of it is committed yet)
        self.after_answer: Callable[[Received], None] | None = None

    # -- life cycle

    def start(self, port: int = 0) -> FakeProvider:
        server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self.port = int(server.server_address[1])
        # a short poll interval: stop() (after every test) waits up to one interval
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """As the openai SDK takes it: ending in /v1."""
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """As the anthropic SDK takes it: the host (it adds /v1/messages)."""
        return self.url

    # -- the script

    def script(self, *answers: Scripted) -> None:
        with self._lock:
            self._script.extend(answers)

    @property
    def unused(self) -> int:
        with self._lock:
            return len(self._script)

    def _next(self, received: Received) -> Scripted:
        with self._lock:
            self.received.append(received)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            if self.expected_key is not None:
                sent = key_in(received.headers)
                if sent != self.expected_key:
                    return error_reply(401, f"Incorrect API key provided: {sent}.")
            if not self._script:
                return error_reply(500, "the fake model has no scripted answer left")
            return self._script.popleft()

    def _done(self) -> None:
        with self._lock:
            self._in_flight -= 1


def key_in(headers: dict[str, str]) -> str:
    """The key a request carried: `x-api-key`, or `Authorization: Bearer` (which both
    SDKs send today)."""
    if "x-api-key" in headers:
        return headers["x-api-key"]
    return headers.get("authorization", "").removeprefix("Bearer ")


def _handler_for(fake: FakeProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
            headers = {name.lower(): value for name, value in self.headers.items()}
            received = Received(self.path, headers, body, time.monotonic())
            if self.path not in (OPENAI_PATH, ANTHROPIC_PATH):
                with fake._lock:
                    fake.received.append(received)
                self._send(error_reply(404, f"no route for {self.path}"))
                return
            answer = fake._next(received)
            try:
                if answer.delay_s:
                    time.sleep(answer.delay_s)
            finally:
                # before the reply goes out: once the client has it, it may send the next
                # request, which must not find this one still counted as in flight
                fake._done()
            if answer.drop:
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            self._send(answer)
            if fake.after_answer is not None:
                fake.after_answer(received)

        def _send(self, answer: Scripted) -> None:
            data = (
                answer.body
                if isinstance(answer.body, bytes)
                else json.dumps(answer.body).encode("utf-8")
            )
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def config_for(provider: str, fake: FakeProvider, **overrides: Any) -> LlmConfig:
    """An agent of `provider` pointed at `fake`, its key in KEY_VARIABLE."""
    values: dict[str, Any] = {
        "base_url": fake.openai_base_url if provider == "openai" else fake.anthropic_base_url,
        "api_key_env": KEY_VARIABLE,
        "timeout_s": 10.0,
    }
    values.update(overrides)
    return LlmConfig(provider, MODELS[provider], **values)


def model_answer(provider: str, value: Any, *, name: str = "output", **extra: Any) -> Scripted:
    """The model answering `value` the way `provider` carries structured output: as the
    message content (OpenAI) or as the input of the forced tool `name` (Anthropic)."""
    if provider == "openai":
        return openai_reply(value, **extra)
    return anthropic_reply(value, tool_name=name, **extra)


def messages_of(provider: str, received: Received) -> list[dict[str, Any]]:
    """The turns of a received request, without OpenAI's system message."""
    turns: list[dict[str, Any]] = received.body["messages"]
    return [turn for turn in turns if turn["role"] != "system"]


def tool_calls_reply(provider: str, *calls: tuple[str, str, dict[str, Any]]) -> Scripted:
    """The model asking for tool calls, each `(call id, tool name, arguments)`: OpenAI's
    `message.tool_calls` (arguments as a JSON string) or Anthropic's `tool_use` blocks."""
    if provider == "openai":
        body = openai_reply(None, finish_reason="tool_calls").body
        body["choices"][0]["message"]["tool_calls"] = [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
            for call_id, name, arguments in calls
        ]
        return Scripted(body, headers={"x-request-id": "req_openai_tools"})
    body = anthropic_reply(None).body
    body["content"] = [
        {"type": "tool_use", "id": call_id, "name": name, "input": arguments}
        for call_id, name, arguments in calls
    ]
    return Scripted(body, headers={"request-id": "req_anthropic_tools"})
