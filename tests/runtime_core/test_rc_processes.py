"""Several real processes on one run: two resumers, a decision from another terminal
while `baton run` waits, a cancel while a step runs."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from collections import Counter
from pathlib import Path

from rc_support import BATON, baton, env, ledger, rows

TOPIC = json.dumps({"topic": "tea"})


def _status(db: Path, run_id: str) -> str:
    try:
        found = rows(db, "SELECT status FROM runs WHERE run_id = ?", run_id)
    except sqlite3.OperationalError:  # not created yet
        return "absent"
    return str(found[0][0]) if found else "absent"


def _popen(tmp: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [BATON, *args, "--db", str(tmp / "baton.db")],
        cwd=tmp,
        env=env(tmp),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(condition: object, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_two_resumers_never_both_drive_a_run(tmp_path: Path) -> None:
    # crash the run right after its first attempt is durable, before the agent ran
    crashed = baton(
        tmp_path,
        "run",
        "rc_workflows:SLOW",
        "--input",
        TOPIC,
        "--run-id",
        "slow",
        extra_env={"BATON_TEST_KILL_AFTER_EVENT": "2"},
    )
    assert crashed.returncode == -9
    assert ledger(tmp_path) == []
    first, second = _popen(tmp_path, "resume", "slow"), _popen(tmp_path, "resume", "slow")
    outcomes = sorted(
        (process.wait(timeout=60), process.stdout.read() + process.stderr.read())  # type: ignore[union-attr]
        for process in (first, second)
    )
    assert outcomes[0][0] == 0, outcomes
    # the other one either refused (another process drives the run) or found it done
    assert outcomes[1][0] in (0, 2), outcomes
    if outcomes[1][0] == 2:
        assert "is being driven by process" in outcomes[1][1]
    calls = Counter(call["idempotency_key"] for call in ledger(tmp_path))
    assert len(calls) == 3 and set(calls.values()) == {1}, calls
    resumed = rows(tmp_path / "baton.db", "SELECT count(*) FROM events WHERE type = 'run_resumed'")
    assert resumed == [(1,)]
    assert _status(tmp_path / "baton.db", "slow") == "succeeded"


def test_a_waiting_run_takes_a_decision_from_another_process(tmp_path: Path) -> None:
    db = tmp_path / "baton.db"
    running = _popen(tmp_path, "run", "rc_workflows:CRASH", "--input", TOPIC, "--run-id", "fg")
    _wait_for(lambda: _status(db, "fg") == "waiting")
    refused = baton(tmp_path, "approve", "fg", "deliver", "--as", "carol")
    assert refused.returncode == 2 and "needs role 'manager'" in refused.stderr
    approved = baton(tmp_path, "approve", "fg", "deliver", "--as", "bob")
    assert approved.returncode == 0, approved.stderr
    assert "step deliver approved by bob" in approved.stdout
    assert running.wait(timeout=30) == 0
    output = running.stdout.read()  # type: ignore[union-attr]
    assert "deliver: waiting for approval by role 'manager'" in output
    assert "deliver: approved by bob" in output
    assert "run fg succeeded" in output


def test_cancel_while_a_step_runs(tmp_path: Path) -> None:
    db = tmp_path / "baton.db"
    running = _popen(tmp_path, "run", "rc_workflows:LONG", "--input", TOPIC, "--run-id", "cx")
    _wait_for(lambda: _status(db, "cx") == "running" and len(ledger(tmp_path)) >= 1)
    cancelled = baton(tmp_path, "cancel", "cx")
    assert cancelled.returncode == 0, cancelled.stderr
    assert running.wait(timeout=30) == 1  # at once: the sleeping agent is abandoned
    assert "run cx cancelled" in running.stdout.read()  # type: ignore[union-attr]
    assert _status(db, "cx") == "cancelled"
    states = rows(db, "SELECT state FROM runs WHERE run_id = 'cx'")
    steps = json.loads(states[0][0])["steps"]
    assert {record["state"] for record in steps.values()} == {"cancelled"}
