"""The agent adapters against real agents: subprocesses, an HTTP server on loopback,
functions in this module, and the builtins."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from baton.runtime.agents import AgentCall, AgentFailure, AgentReply, call_agent
from baton.runtime.model import AgentBinding, AgentKind, FailureClass, Request, Usage
from baton.runtime.validate import validate

SCRIPT = str(Path(__file__).parent / "agents" / "scripted.py")
BRIEF = {
    "type": "object",
    "required": ["summary"],
    "additionalProperties": False,
    "properties": {
        "summary": {"type": "string", "minLength": 1},
        "sources": {"type": "array", "items": {"type": "string"}},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    },
}


def make_call(
    kind: AgentKind,
    target: str | tuple[str, ...],
    agent_input: Any = None,
    *,
    schema: Any = None,
    timeout_ms: int = 10_000,
    attempt: int = 1,
    prices: tuple[float, float] = (0.0, 0.0),
    step: str = "research",
) -> AgentCall:
    binding = AgentBinding("webster", kind, target, (), *prices)
    request = Request(
        workflow="research_report",
        run_id="run-1",
        step=step,
        attempt=attempt,
        idempotency_key="key-123",
        input=agent_input,
        output_schema=schema,
        delegation_chain=("mario", "webster"),
    )
    return AgentCall(binding, request, timeout_ms)


def failure_of(call: AgentCall) -> AgentFailure:
    with pytest.raises(AgentFailure) as caught:
        call_agent(call)
    return caught.value


# -- command agents


def command(agent_input: Any, **kwargs: Any) -> AgentCall:
    return make_call(AgentKind.COMMAND, (sys.executable, SCRIPT), agent_input, **kwargs)


def test_command_envelope_with_usage_gets_cost_from_prices() -> None:
    call = command(
        {"output": {"summary": "ok"}, "usage": {"tokens_in": 1000, "tokens_out": 2000}},
        prices=(3.0, 15.0),
    )
    reply = call_agent(call)
    assert reply == AgentReply({"summary": "ok"}, Usage(1000, 2000, 0.033))


def test_command_usage_with_its_own_cost_is_kept() -> None:
    usage = {"tokens_in": 10, "tokens_out": 20, "cost_usd": 0.5}
    reply = call_agent(command({"output": 1, "usage": usage}, prices=(3.0, 15.0)))
    assert reply.usage == Usage(10, 20, 0.5)


def test_command_receives_the_request_and_the_baton_environment() -> None:
    reply = call_agent(command({"mode": "env"}, attempt=3, step="audit"))
    assert reply.output == {
        "BATON_ATTEMPT": "3",
        "BATON_IDEMPOTENCY_KEY": "key-123",
        "BATON_RUN_ID": "run-1",
        "BATON_STEP": "audit",
        "BATON_WORKFLOW": "research_report",
        "request_step": "audit",
    }


def test_command_nonzero_exit_is_an_agent_error_with_the_stderr_tail() -> None:
    failure = failure_of(command({"mode": "exit", "code": 3, "stderr": "x" * 5000 + "boom"}))
    assert failure.failure == FailureClass.AGENT_ERROR
    assert "exited with status 3" in failure.message
    assert failure.message.endswith("boom")
    assert len(failure.message) < 2300  # the tail, not all 5000 characters


def test_command_stdout_not_json_is_malformed_output() -> None:
    failure = failure_of(command({"mode": "garbage"}))
    assert failure.failure == FailureClass.MALFORMED_OUTPUT
    assert "this is not JSON" in failure.message


def test_command_reply_without_envelope_is_malformed_output() -> None:
    failure = failure_of(command({"mode": "bare", "output": {"summary": "x"}}))
    assert failure.failure == FailureClass.MALFORMED_OUTPUT
    assert "not an envelope" in failure.message


def test_command_malformed_usage_is_malformed_output() -> None:
    failure = failure_of(command({"output": 1, "usage": {"tokens_in": -1}}))
    assert failure.failure == FailureClass.MALFORMED_OUTPUT
    assert "usage.tokens_in" in failure.message


def test_command_that_cannot_start_is_an_agent_error(tmp_path: Path) -> None:
    call = make_call(AgentKind.COMMAND, (str(tmp_path / "missing-binary"),), {})
    failure = failure_of(call)
    assert failure.failure == FailureClass.AGENT_ERROR
    assert "cannot start" in failure.message


def _gone(pid: int) -> bool:
    """Dead: no such process, or a zombie (dead, waiting for whoever reaps orphans)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def test_command_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    call = command({"mode": "hang_with_child", "pid_file": str(pid_file)}, timeout_ms=1500)
    started = time.monotonic()
    failure = failure_of(call)
    assert failure.failure == FailureClass.TIMEOUT
    assert "process group was killed" in failure.message
    assert time.monotonic() - started < 5
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _gone(child), f"the agent's child {child} survived the timeout"


# -- http agents


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/reply":
            reply = {
                "output": {"input": body["input"], "key": self.headers["Idempotency-Key"]},
                "usage": {"tokens_in": 2_000_000, "tokens_out": 0},
            }
            self._send(200, json.dumps(reply).encode())
        elif self.path == "/error":
            self._send(500, b"database is down")
        elif self.path == "/garbage":
            self._send(200, b"<html>not json</html>")
        elif self.path == "/slow":
            time.sleep(1.0)
            self._send(200, b'{"output": 1}')
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/reply")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._send(404, b"no such agent")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_http_posts_the_request_with_the_idempotency_key(server: str) -> None:
    reply = call_agent(
        make_call(AgentKind.HTTP, f"{server}/reply", {"topic": "tea"}, prices=(1.5, 0))
    )
    assert reply.output == {"input": {"topic": "tea"}, "key": "key-123"}
    assert reply.usage == Usage(2_000_000, 0, 3.0)


def test_http_error_status_is_an_agent_error_with_the_body(server: str) -> None:
    failure = failure_of(make_call(AgentKind.HTTP, f"{server}/error", {}))
    assert failure.failure == FailureClass.AGENT_ERROR
    assert "HTTP 500" in failure.message
    assert "database is down" in failure.message


def test_http_redirect_is_not_followed(server: str) -> None:
    failure = failure_of(make_call(AgentKind.HTTP, f"{server}/redirect", {}))
    assert failure.failure == FailureClass.AGENT_ERROR
    assert "HTTP 302" in failure.message


def test_http_body_not_json_is_malformed_output(server: str) -> None:
    failure = failure_of(make_call(AgentKind.HTTP, f"{server}/garbage", {}))
    assert failure.failure == FailureClass.MALFORMED_OUTPUT


def test_http_timeout(server: str) -> None:
    started = time.monotonic()
    failure = failure_of(make_call(AgentKind.HTTP, f"{server}/slow", {}, timeout_ms=200))
    assert failure.failure == FailureClass.TIMEOUT
    assert time.monotonic() - started < 0.9


def test_http_connection_refused_is_an_agent_error() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nobody listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    failure = failure_of(make_call(AgentKind.HTTP, f"http://127.0.0.1:{port}/", {}))
    assert failure.failure == FailureClass.AGENT_ERROR
    assert "cannot reach" in failure.message


# -- python agents (targets are functions of this module)

TARGET = __name__
release = threading.Event()


class Brief(BaseModel):
    summary: str
    sources: list[str] = []


def bare(request: Request[Any]) -> Any:
    return {"summary": request.input["topic"], "step": request.step}


def enveloped(request: Request[Any]) -> Any:
    return {"output": {"summary": "x"}, "usage": {"tokens_in": 500_000, "tokens_out": 100_000}}


def model(request: Request[Any]) -> Brief:
    return Brief(summary="from a model", sources=["a"])


async def coroutine(request: Request[Any]) -> Any:
    await asyncio.sleep(0)
    return {"summary": "async"}


def boom(request: Request[Any]) -> Any:
    raise ValueError("the model refused")


def chooses_class(request: Request[Any]) -> Any:
    raise AgentFailure(FailureClass.MALFORMED_OUTPUT, "I know this answer is unusable")


def not_json(request: Request[Any]) -> Any:
    return {"when": object()}


def hangs(request: Request[Any]) -> Any:
    release.wait(10)
    return {"summary": "too late"}


def python(name: str, agent_input: Any = None, **kwargs: Any) -> AgentCall:
    return make_call(AgentKind.PYTHON, f"{TARGET}:{name}", agent_input, **kwargs)


def test_python_bare_output() -> None:
    reply = call_agent(python("bare", {"topic": "tea"}))
    assert reply == AgentReply({"summary": "tea", "step": "research"}, Usage())


def test_python_envelope_priced() -> None:
    reply = call_agent(python("enveloped", prices=(2.0, 10.0)))
    assert reply.usage == Usage(500_000, 100_000, 2.0)


def test_python_pydantic_model_and_coroutine() -> None:
    assert call_agent(python("model")).output == {"summary": "from a model", "sources": ["a"]}
    assert call_agent(python("coroutine")).output == {"summary": "async"}


def test_python_exception_is_an_agent_error() -> None:
    failure = failure_of(python("boom"))
    assert failure.failure == FailureClass.AGENT_ERROR
    assert "ValueError: the model refused" in failure.message


def test_python_agent_may_choose_its_failure_class() -> None:
    assert failure_of(python("chooses_class")).failure == FailureClass.MALFORMED_OUTPUT


def test_python_output_that_is_not_json_is_malformed() -> None:
    failure = failure_of(python("not_json"))
    assert failure.failure == FailureClass.MALFORMED_OUTPUT
    assert "output.when is a Python object, not JSON" in failure.message


def test_python_timeout() -> None:
    release.clear()
    started = time.monotonic()
    try:
        failure = failure_of(python("hangs", timeout_ms=200))
    finally:
        release.set()  # let the abandoned worker thread finish
    assert failure.failure == FailureClass.TIMEOUT
    assert "cannot be killed" in failure.message
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("no_colon", "must be 'package.module:function'"),
        ("baton_no_such_module:f", "ModuleNotFoundError"),
        (f"{TARGET}:no_such_function", "AttributeError"),
        (f"{TARGET}:TARGET", "is not callable"),
    ],
)
def test_python_bad_target_is_an_agent_error(target: str, expected: str) -> None:
    failure = failure_of(make_call(AgentKind.PYTHON, target, {}))
    assert failure.failure == FailureClass.AGENT_ERROR
    assert expected in failure.message


# -- builtins


def builtin(name: str, agent_input: Any = None, **kwargs: Any) -> AgentCall:
    return make_call(AgentKind.BUILTIN, name, agent_input, **kwargs)


def test_echo_returns_its_input_even_when_it_looks_like_an_envelope() -> None:
    assert call_agent(builtin("echo", {"output": 1})).output == {"output": 1}


def test_demo_agents_run_the_research_pipeline() -> None:
    verdict = {
        "type": "object",
        "required": ["verdict"],
        "additionalProperties": False,
        "properties": {"verdict": {"enum": ["pass", "fail"]}, "notes": {"type": "string"}},
    }
    receipt = {
        "type": "object",
        "required": ["delivered_to", "reference"],
        "additionalProperties": False,
        "properties": {"delivered_to": {"type": "string"}, "reference": {"type": "string"}},
    }
    brief = call_agent(builtin("demo.research", {"topic": "Tea", "context": ""}, schema=BRIEF))
    assert validate(BRIEF, brief.output) == []
    assert brief.output["summary"].startswith("Tea")
    audit_input = {"summary": brief.output["summary"], "sources": brief.output["sources"]}
    audit = call_agent(builtin("demo.audit", audit_input, schema=verdict)).output
    assert audit["verdict"] == "pass"
    assert "3 sources" in audit["notes"]
    receipt_out = call_agent(
        builtin("demo.deliver", {"client": "ACME", "brief": brief.output}, schema=receipt)
    ).output
    assert receipt_out["delivered_to"] == "ACME"
    assert validate(receipt, receipt_out) == []


def test_demo_agents_are_deterministic_and_always_valid() -> None:
    schema = {
        "type": "object",
        "required": ["summary", "n"],
        "properties": {"summary": {"type": "string", "maxLength": 5}, "n": {"type": "integer"}},
    }
    first = call_agent(builtin("demo.anything", {"text": "a long text here"}, schema=schema))
    again = call_agent(builtin("demo.anything", {"text": "a long text here"}, schema=schema))
    assert first == again
    assert validate(schema, first.output) == []  # the 16-character text did not fit


def test_flaky_fails_until_its_attempt() -> None:
    agent_input = {"succeed_on_attempt": 3, "output": {"summary": "finally"}}
    for attempt in (1, 2):
        failure = failure_of(builtin("flaky", agent_input, attempt=attempt))
        assert failure.failure == FailureClass.AGENT_ERROR
    assert call_agent(builtin("flaky", agent_input, attempt=3)).output == {"summary": "finally"}


def test_fail_and_its_failure_class() -> None:
    assert failure_of(builtin("fail", {})).failure == FailureClass.AGENT_ERROR
    assert failure_of(builtin("fail", {"failure": "timeout"})).failure == FailureClass.TIMEOUT


def test_sleep_echoes_or_times_out() -> None:
    assert call_agent(builtin("sleep", {"seconds": 0.01, "output": 7})).output == 7
    failure = failure_of(builtin("sleep", {"seconds": 5}, timeout_ms=50))
    assert failure.failure == FailureClass.TIMEOUT


def test_malformed_returns_an_output_its_schema_rejects() -> None:
    output = call_agent(builtin("malformed", {}, schema=BRIEF)).output
    assert validate(BRIEF, output) != []


def test_unknown_builtin_suggests_a_name() -> None:
    failure = failure_of(builtin("ecko"))
    assert failure.failure == FailureClass.AGENT_ERROR
    assert "did you mean 'echo'?" in failure.message


def test_ledger_records_every_builtin_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = tmp_path / "ledger.jsonl"
    monkeypatch.setenv("BATON_LEDGER", str(ledger))
    call_agent(builtin("echo", {}, attempt=1))
    failure_of(builtin("flaky", {}, attempt=1))
    call_agent(builtin("demo.research", {"topic": "x"}, schema=BRIEF, attempt=2))
    lines = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert [line["attempt"] for line in lines] == [1, 1, 2]
    assert lines[0] == {
        "agent": "webster",
        "attempt": 1,
        "idempotency_key": "key-123",
        "run_id": "run-1",
        "step": "research",
    }


def test_ledger_lines_from_parallel_calls_do_not_interleave(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    monkeypatch.setenv("BATON_LEDGER", str(ledger))
    threads = [
        threading.Thread(target=call_agent, args=(builtin("echo", {}, attempt=n),))
        for n in range(1, 21)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    attempts = sorted(json.loads(line)["attempt"] for line in ledger.read_text().splitlines())
    assert attempts == list(range(1, 21))


def test_a_call_needs_a_positive_timeout() -> None:
    with pytest.raises(ValueError, match="timeout_ms"):
        builtin("echo", timeout_ms=0)


def test_agent_failure_pickles() -> None:
    import pickle

    failure = pickle.loads(pickle.dumps(AgentFailure(FailureClass.TIMEOUT, "slow")))
    assert (failure.failure, failure.message, str(failure)) == (
        FailureClass.TIMEOUT,
        "slow",
        "timeout: slow",
    )


def test_no_agent_thread_leaks_after_many_python_calls() -> None:
    for _ in range(50):
        call_agent(python("bare", {"topic": "t"}))
    workers = [t for t in threading.enumerate() if t.name == "baton-agent"]
    assert len(workers) <= 4  # reused, not one per call


def test_a_model_reply_goes_out_by_alias_without_unset_fields() -> None:
    from pydantic import BaseModel, ConfigDict, Field

    from baton.runtime.agents.envelope import plain

    class Reply(BaseModel):
        model_config = ConfigDict(populate_by_name=True)
        class_: str = Field(alias="class")
        notes: str | None = None

    assert plain(Reply(class_="a")) == {"class": "a"}
