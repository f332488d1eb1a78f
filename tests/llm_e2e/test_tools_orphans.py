"""No MCP server outlives a SIGKILLed driver: a run's llm agent is in the middle of a
call to a stdio MCP server whose tool blocks (tool_servers/blocking_server.py) when the
`baton` process driving it is killed with SIGKILL; the server must exit by itself (it
is not left running, orphaned), and `baton resume` then finishes the run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from fake_providers import FakeProvider, model_answer, tool_calls_reply
from llm_support import BATON, baton, env, events, shown

GOOD = {"summary": "Tides follow the moon.", "confidence": 0.8}
WAIT_S = 60.0  # a bounded wait for something to happen, not a claim about speed


def _running(pid: int) -> bool:
    """Whether `pid` still runs (a zombie, exited but not reaped yet, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        status = Path(f"/proc/{pid}/status").read_text("utf-8")
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def _wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_a_sigkilled_driver_leaves_no_mcp_server_running(
    tmp_path: Path, fake: FakeProvider
) -> None:
    script = (
        tool_calls_reply("openai", ("call_1", "blocker__wait_here", {"note": "tides"})),
        model_answer("openai", GOOD),
    )
    fake.script(script[0])
    command = [BATON, "run", "orphan_flows:BLOCKING", "--input", json.dumps({"topic": "tides"})]
    driver = subprocess.Popen(
        [*command, "--run-id", "r1", "--db", str(tmp_path / "baton.db")],
        cwd=tmp_path,
        env=env(fake),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for((tmp_path / "blocked-once").exists, "the tool call never started")
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait(30)
    [server] = [int(p) for p in (tmp_path / "blocking.pids").read_text("utf-8").split()]
    _wait_for(lambda: not _running(server), f"MCP server {server} outlived its driver")

    fake.script(*script)
    resumed = baton(tmp_path, fake, "resume", "r1")
    assert resumed.returncode == 0, resumed.stderr
    assert shown(tmp_path, "r1")["steps"]["research"]["output"] == GOOD
    completed = [e["data"] for e in events(tmp_path, "r1") if e["type"] == "tool_call_completed"]
    assert [c["result"] for c in completed] == ["waited: tides"]
    pids = [int(p) for p in (tmp_path / "blocking.pids").read_text("utf-8").split()]
    assert len(pids) == 2 and not any(_running(pid) for pid in pids)
