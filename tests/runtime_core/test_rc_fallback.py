"""Fallbacks: once a step's retries are exhausted with a class a `fallback:` entry
lists, that entry's agent runs the step (`fallback_started`).

Real `baton` processes on a real SQLite database, the workflows of rc_workflows.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rc_support import baton, ledger, normalized, shown

from baton.runtime.core.apply import fold
from baton.runtime.store import Store

RUN = "fb"
INPUT = json.dumps({"topic": "tea"})


def _run(tmp: Path, name: str, expect: int, run_id: str = RUN) -> dict[str, Any]:
    result = baton(tmp, "run", f"rc_workflows:{name}", "--input", INPUT, "--run-id", run_id)
    assert result.returncode == expect, (result.stdout, result.stderr)
    _folds_to_stored(tmp, run_id)
    return shown(tmp, run_id)


def _events(tmp: Path, run_id: str = RUN) -> list[dict[str, Any]]:
    result = baton(tmp, "events", run_id, "--json")
    assert result.returncode == 0, result.stderr
    events: list[dict[str, Any]] = json.loads(result.stdout)
    return events


def _folds_to_stored(tmp: Path, run_id: str) -> None:
    with Store(tmp / "baton.db") as store:
        assert fold(store.load_events(run_id)).to_json() == store.load_state(run_id).to_json()


def _comparable(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in normalized(state).items() if k != "last_seq"}


def _calls(tmp: Path, step: str = "research") -> list[tuple[str, int]]:
    return [(c["agent"], c["attempt"]) for c in ledger(tmp) if c["step"] == step]


def test_the_first_fallback_listing_the_class_commits_the_step(tmp_path: Path) -> None:
    state = _run(tmp_path, "FALLBACK", 0)
    assert state["status"] == "succeeded"
    assert state["result"] == {"text": "tea!"}
    research = state["steps"]["research"]
    assert research["state"] == "committed"
    assert research["agent"] == "backup"
    assert research["fallback"] == 2
    assert research["attempts"] == 4
    # three tries of its own agent, then the backup (attempt numbers go on, same key)
    assert _calls(tmp_path) == [("fail", 1), ("fail", 2), ("fail", 3), ("backup", 4)]
    keys = {c["idempotency_key"] for c in ledger(tmp_path) if c["step"] == "research"}
    assert len(keys) == 1
    started = [e for e in _events(tmp_path) if e["type"] == "fallback_started"]
    assert len(started) == 1
    assert started[0]["step"] == "research"
    assert started[0]["attempt"] == 4
    data = started[0]["data"]
    assert data["agent"] == "backup"
    assert data["index"] == 2
    assert data["failure"] == "agent_error"
    assert data["previous_agent"] == "fail"
    attempts = [e for e in _events(tmp_path) if e["type"] == "attempt_started"]
    ids = [e["data"]["attempt_id"] for e in attempts]
    assert len(set(ids)) == len(ids)


def test_a_timeout_falls_back_and_show_events_trace_say_so(tmp_path: Path) -> None:
    state = _run(tmp_path, "FALLBACK_TIMEOUT", 0)
    assert state["status"] == "succeeded"
    assert _calls(tmp_path) == [("sleep", 1), ("backup", 2)]
    started = [e for e in _events(tmp_path) if e["type"] == "fallback_started"]
    assert [e["data"]["failure"] for e in started] == ["timeout"]
    for command in ("show", "events", "trace"):
        result = baton(tmp_path, command, RUN)
        assert result.returncode == 0, result.stderr
        assert "backup" in result.stdout, (command, result.stdout)
    events = baton(tmp_path, "events", RUN)
    assert "fallback_started" in events.stdout


def test_a_class_no_entry_lists_fails_the_step_as_before(tmp_path: Path) -> None:
    state = _run(tmp_path, "FALLBACK_UNLISTED", 1)
    research = state["steps"]["research"]
    assert research["state"] == "failed"
    assert research["error"]["failure"] == "rate_limited"
    assert "fallback" not in research
    assert {agent for agent, _ in _calls(tmp_path)} == {"fail"}
    assert not [e for e in _events(tmp_path) if e["type"] == "fallback_started"]


def test_a_failing_fallback_fails_the_step_with_its_class(tmp_path: Path) -> None:
    state = _run(tmp_path, "FALLBACK_FAILS", 1)
    research = state["steps"]["research"]
    assert research["state"] == "failed"
    assert research["error"]["failure"] == "rate_limited"
    assert research["agent"] == "backup_fail"
    assert state["error"]["failure"] == "rate_limited"
    assert _calls(tmp_path) == [("sleep", 1), ("backup_fail", 2)]


def test_a_crash_right_after_fallback_started_resumes_to_the_same_end(tmp_path: Path) -> None:
    clean_dir = tmp_path / "clean"
    clean_dir.mkdir()
    clean = _run(clean_dir, "FALLBACK", 0, run_id=RUN)
    seq = next(e["seq"] for e in _events(clean_dir) if e["type"] == "fallback_started")

    crash_dir = tmp_path / "crash"
    crash_dir.mkdir()
    killed = baton(
        crash_dir,
        "run",
        "rc_workflows:FALLBACK",
        "--input",
        INPUT,
        "--run-id",
        RUN,
        extra_env={"BATON_TEST_KILL_AFTER_EVENT": str(seq)},
    )
    assert killed.returncode == -9, (killed.stdout, killed.stderr)
    # the kill falls on the commit that made fallback_started durable (group commits
    # may carry the backup's attempt_started with it)
    logged = [e["type"] for e in _events(crash_dir)]
    assert "fallback_started" in logged
    assert "step_committed" not in logged[logged.index("fallback_started") :]
    calls_before = len(ledger(crash_dir))
    resumed = baton(crash_dir, "resume", RUN)
    assert resumed.returncode == 0, (resumed.stdout, resumed.stderr)
    _folds_to_stored(crash_dir, RUN)
    final = shown(crash_dir, RUN)
    # the same end, apart from the resume's own events (run_resumed, a restart)
    assert final["resumes"] == 1
    assert _comparable(final) == _comparable(clean)
    # the primary's attempts are done: only the backup (its attempt, same key) and the
    # steps after it are called
    after = ledger(crash_dir)[calls_before:]
    assert {c["agent"] for c in after} <= {"backup", "echo"}
    assert {(c["agent"], c["attempt"]) for c in after if c["step"] == "research"} == {("backup", 4)}
    committed = {
        c["idempotency_key"] for c in ledger(crash_dir)[:calls_before] if c["agent"] == "echo"
    }
    assert not committed & {c["idempotency_key"] for c in after if c["agent"] == "echo"}
