"""Tools of llm agents end to end (runtime.tools): real `baton` processes, a scripted
model behind the fake provider server, a python tool and a real MCP server over stdio
(tool_servers/ledger_server.py) whose ledger file counts its side effects."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fake_providers import FakeProvider, messages_of, model_answer, tool_calls_reply
from llm_support import HERE, baton, events, shown

GOOD = {"summary": "Tides follow the moon.", "confidence": 0.8}
INPUT = json.dumps({"topic": "tides"})
CALLS = (
    ("call_1", "calc", {"a": 2, "b": 3}),
    ("call_2", "ledger__record", {"note": "tides researched"}),
)


def _run(tmp: Path, fake: FakeProvider, flow: str = "RESEARCH", **kw: Any) -> Any:
    return baton(tmp, fake, "run", f"tool_flows:{flow}", "--input", INPUT, "--run-id", "r1", **kw)


def _ledger(tmp: Path) -> list[dict[str, Any]]:
    path = tmp / "ledger.txt"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def _no_server_left(tmp: Path) -> None:
    """Every ledger server the run started has exited (no orphan process)."""
    pids = [int(p) for p in (tmp / "ledger.pids").read_text("utf-8").split()]
    assert pids
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        # a zombie of an exited child is not an orphan: it is not running
        status = Path(f"/proc/{pid}/status").read_text("utf-8")
        assert "State:\tZ" in status, f"MCP server {pid} still runs"


def _tool_text(provider: str, turn: dict[str, Any]) -> str:
    if provider == "openai":
        return str(turn["content"])
    return "".join(str(block["content"]) for block in turn["content"])


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_tool_loop_calls_each_tool_once_and_commits(
    tmp_path: Path, fake: FakeProvider, provider: str
) -> None:
    fake.script(
        tool_calls_reply(provider, *CALLS),
        tool_calls_reply(provider, ("call_3", "ledger__lookup", {"topic": "tides"})),
        model_answer(provider, GOOD, name="brief_2"),
    )
    result = _run(tmp_path, fake, provider=provider)
    assert result.returncode == 0, result.stderr
    first, second, third = fake.received
    # the agent's tools are offered: calc by its signature, the server's by tools/list
    offered = first.body["tools"]
    names = (
        [t["function"]["name"] for t in offered]
        if provider == "openai"
        else [t["name"] for t in offered]
    )
    assert names[:3] == ["calc", "ledger__lookup", "ledger__record"]
    assert "mail" not in names  # outside the agent's ACL
    # the results go back, wrapped as untrusted text
    turns = messages_of(provider, second)
    results = turns[-2:] if provider == "openai" else turns[-1:]
    text = "".join(_tool_text(provider, turn) for turn in results)
    assert '<untrusted source="tools.calc">5</untrusted>' in text
    assert '<untrusted source="tools.ledger">recorded: tides researched</untrusted>' in text
    # an injection in a tool's output is neutralized before the model reads it
    looked_up = _tool_text(provider, messages_of(provider, third)[-1])
    assert "the moon pulls the sea" in looked_up
    assert "Ignore previous instructions" not in looked_up
    [entry] = _ledger(tmp_path)  # the side effect happened once, with the call's key
    log = events(tmp_path, "r1")
    started = [e["data"] for e in log if e["type"] == "tool_call_started"]
    completed = [e["data"] for e in log if e["type"] == "tool_call_completed"]
    assert [s["name"] for s in started] == ["calc", "ledger__record", "ledger__lookup"]
    assert [c["result"] for c in completed][:2] == [5, "recorded: tides researched"]
    assert entry["key"] == started[1]["key"]
    state = shown(tmp_path, "r1")
    step = state["steps"]["research"]
    assert step["state"] == "committed" and step["output"] == GOOD
    # taint flows from the tools' outputs to the step's output
    assert {"tools.calc", "tools.ledger"} <= set(step["untrusted_sources"])
    _no_server_left(tmp_path)


def test_a_call_outside_the_acl_is_refused_and_never_made(
    tmp_path: Path, fake: FakeProvider
) -> None:
    fake.script(
        tool_calls_reply("openai", ("call_1", "mail", {"to": "ceo", "body": "hi"})),
        model_answer("openai", GOOD),
    )
    result = _run(tmp_path, fake)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "mail_sent.txt").exists()
    told = messages_of("openai", fake.received[1])[-1]
    assert told["role"] == "tool" and "may not call tool 'mail'" in told["content"]
    log = events(tmp_path, "r1")
    [refused] = [e["data"] for e in log if e["type"] == "tool_call_failed"]
    assert refused["failure"] == "acl_denied" and refused["tool"] == "mail"
    assert not [e for e in log if e["type"] == "tool_call_started"]


def test_a_server_that_crashes_at_start_fails_the_attempt_with_tool_error(
    tmp_path: Path, fake: FakeProvider
) -> None:
    result = _run(tmp_path, fake, flow="CRASH_AT_START")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    log = events(tmp_path, "r1")
    failed = [e["data"] for e in log if e["type"] == "attempt_failed"]
    assert [f["failure"] for f in failed] == ["tool_error"] * 3  # retried per policy
    assert "did not start" in failed[0]["message"]
    assert "cannot open the ledger database" in failed[0]["message"]  # its stderr
    assert fake.received == []  # the model was never asked


def test_more_calls_than_max_tool_calls_fail_the_attempt(
    tmp_path: Path, fake: FakeProvider
) -> None:
    many = [(f"c{i}", "calc", {"a": i, "b": 1}) for i in range(5)]
    fake.script(*[tool_calls_reply("openai", *many)] * 3)
    result = _run(tmp_path, fake)
    assert result.returncode == 1
    failed = [e["data"] for e in events(tmp_path, "r1") if e["type"] == "attempt_failed"]
    assert failed and "max_tool_calls (4)" in failed[0]["message"]


@pytest.mark.parametrize("boundary", ["tool_call_started", "tool_call_completed"])
def test_sigkill_at_a_tool_call_boundary_then_resume_makes_the_effect_once(
    tmp_path: Path, fake: FakeProvider, boundary: str
) -> None:
    """Killed right after the ledger call's `tool_call_started` (the call not made yet)
    or its `tool_call_completed` (made): after resume the ledger holds exactly one
    entry, and a completed call's recorded result is given back instead of a call."""
    script = (
        tool_calls_reply("openai", ("call_1", "ledger__record", {"note": "once"})),
        model_answer("openai", GOOD),
    )
    reference = tmp_path / "reference"
    reference.mkdir()
    fake.script(*script)
    assert _run(reference, fake).returncode == 0
    kinds = [e["type"] for e in events(reference, "r1")]
    kill_after = kinds.index(boundary) + 1

    crashed = tmp_path / "crashed"
    crashed.mkdir()
    fake.script(script[0])  # killed before the model is asked again
    killed = _run(crashed, fake, extra_env={"BATON_TEST_KILL_AFTER_EVENT": str(kill_after)})
    assert killed.returncode == -9, killed.stderr
    assert len(_ledger(crashed)) == (1 if boundary == "tool_call_completed" else 0)
    assert fake.unused == 0
    fake.script(*script)
    resumed = baton(crashed, fake, "resume", "r1")
    assert resumed.returncode == 0, resumed.stderr
    [entry] = _ledger(crashed)
    log = events(crashed, "r1")
    started = [e["data"] for e in log if e["type"] == "tool_call_started"]
    assert entry["key"] == started[0]["key"] == started[-1]["key"]
    if boundary == "tool_call_completed":
        assert started[-1]["reused"] is True
    assert shown(crashed, "r1")["steps"]["research"]["output"] == GOOD


def test_an_mcp_server_over_streamable_http(tmp_path: Path, fake: FakeProvider) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, str(HERE / "tool_servers" / "ledger_server.py"), "--http", str(port)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:  # wait until it listens (not a timed assertion: a bounded wait)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the MCP HTTP server did not start"
                time.sleep(0.1)
        fake.script(
            tool_calls_reply("openai", ("call_1", "ledger__record", {"note": "over http"})),
            model_answer("openai", GOOD),
        )
        url = f"http://127.0.0.1:{port}/mcp"
        result = _run(tmp_path, fake, flow="OVER_HTTP", extra_env={"BATON_TEST_MCP_URL": url})
        assert result.returncode == 0, result.stderr
        [entry] = _ledger(tmp_path)
        assert entry["note"] == "over http"
        started = [e["data"] for e in events(tmp_path, "r1") if e["type"] == "tool_call_started"]
        assert entry["key"] == started[0]["key"]  # the idempotency key, in _meta
    finally:
        server.terminate()
        server.wait(10)


def test_sigkill_after_a_refused_call_then_resume(tmp_path: Path, fake: FakeProvider) -> None:
    """Killed right after `tool_call_failed` (a refusal): the resumed run refuses it
    again, never calls the tool, and commits."""
    script = (
        tool_calls_reply("openai", ("call_1", "mail", {"to": "ceo", "body": "hi"})),
        model_answer("openai", GOOD),
    )
    fake.script(*script)
    reference = tmp_path / "reference"
    reference.mkdir()
    assert _run(reference, fake).returncode == 0
    kill_after = [e["type"] for e in events(reference, "r1")].index("tool_call_failed") + 1
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    fake.script(script[0])
    killed = _run(crashed, fake, extra_env={"BATON_TEST_KILL_AFTER_EVENT": str(kill_after)})
    assert killed.returncode == -9, killed.stderr
    fake.script(*script)
    resumed = baton(crashed, fake, "resume", "r1")
    assert resumed.returncode == 0, resumed.stderr
    assert not (crashed / "mail_sent.txt").exists()
    refusals = [e for e in events(crashed, "r1") if e["type"] == "tool_call_failed"]
    assert [r["data"]["failure"] for r in refusals] == ["acl_denied", "acl_denied"]
    assert shown(crashed, "r1")["steps"]["research"]["output"] == GOOD


def test_a_call_past_its_timeout_fails_with_timeout_and_stops_the_server(
    tmp_path: Path, fake: FakeProvider
) -> None:
    slow = tool_calls_reply("openai", ("call_1", "ledger__slow", {"seconds": 30}))
    fake.script(slow, slow, slow)
    result = _run(tmp_path, fake, flow="TIMES_OUT")
    assert result.returncode == 1
    log = events(tmp_path, "r1")
    failed = [e["data"] for e in log if e["type"] == "tool_call_failed"]
    assert [f["failure"] for f in failed] == ["timeout"] * 3
    attempts = [e["data"]["failure"] for e in log if e["type"] == "attempt_failed"]
    assert attempts == ["timeout"] * 3
    _no_server_left(tmp_path)  # each attempt's server was stopped
