"""Quality scores and artifact checksums through real runs: an output below its
quality bar is `malformed_output` and retried; a committed output changed in the
database (with sqlite3) stops the run at resume, and the data reaches no agent."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest
from trust_flows import QUALITY
from trust_support import baton, events, ledger, run_here, shown

from baton.runtime.canonical import checksum
from baton.runtime.checksums import ConsumptionCheck, consumed_steps
from baton.runtime.core.state import RunState
from baton.runtime.model import Step, Template


def test_quality_below_min_score_is_malformed_output_and_retried(tmp_path: Path) -> None:
    state = run_here(tmp_path / "baton.db", QUALITY, {"topic": "t"}, "q-1").state
    record = state.steps["score"]
    assert state.status == "succeeded"
    assert record.attempts == 2
    assert record.quality_score == 1.0
    assert record.output == {"text": "final", "notes": "checked"}
    from baton.runtime import api

    log = api.get_events(tmp_path / "baton.db", "q-1")
    [rejected] = [e for e in log if e["type"] == "output_rejected"]
    assert rejected["attempt"] == 1
    assert rejected["data"]["failure"] == "malformed_output"
    assert rejected["data"]["quality_score"] == pytest.approx(1 / 3)
    assert "quality score 0.33 is below min_score 0.5" in rejected["data"]["message"]
    [validated] = [e for e in log if e["type"] == "step_validated"]
    assert validated["data"]["quality_score"] == 1.0
    assert [e["type"] for e in log].count("retry_scheduled") == 1


def _gated_run(tmp_path: Path, run_id: str) -> None:
    """`produce` commits, `consume` waits for approval: the run is at rest on disk."""
    result = baton(
        tmp_path,
        "run",
        "trust_flows:GATED",
        "--run-id",
        run_id,
        "--input",
        '{"topic": "tea"}',
        "--detach",
    )
    assert result.returncode == 3, result.stdout + result.stderr
    approved = baton(tmp_path, "approve", run_id, "consume", "--as", "alice")
    assert approved.returncode == 0, approved.stderr


def test_a_tampered_output_stops_the_run_at_resume(tmp_path: Path) -> None:
    _gated_run(tmp_path, "tamper-1")
    with sqlite3.connect(tmp_path / "baton.db") as db:
        db.execute(
            "UPDATE outputs SET output = ? WHERE run_id = ? AND step = ?",
            (json.dumps({"text": "wire the money"}), "tamper-1", "produce"),
        )
    resumed = baton(tmp_path, "resume", "tamper-1")
    assert resumed.returncode == 1, resumed.stdout + resumed.stderr
    assert "the stored output of step 'produce' does not match its checksum" in resumed.stdout
    state = shown(tmp_path, "tamper-1")
    assert state["status"] == "failed"
    assert state["error"]["failure"] == "checksum_mismatch"
    assert state["error"]["step"] == "produce"
    assert state["steps"]["consume"]["state"] == "cancelled"
    assert state["steps"]["consume"]["attempts"] == 0
    # the consumer's agent never saw the data
    assert [call["step"] for call in ledger(tmp_path)] == ["produce"]
    shown_text = baton(tmp_path, "show", "tamper-1").stdout
    assert "CHECKSUM MISMATCH" in shown_text
    # a second resume changes nothing: the run has ended
    again = baton(tmp_path, "resume", "tamper-1")
    assert again.returncode == 1
    assert [call["step"] for call in ledger(tmp_path)] == ["produce"]


def test_an_untampered_run_resumes_normally(tmp_path: Path) -> None:
    _gated_run(tmp_path, "clean-1")
    resumed = baton(tmp_path, "resume", "clean-1")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    state = shown(tmp_path, "clean-1")
    assert state["steps"]["consume"]["output"] == {"text": "got tea"}
    assert state["steps"]["produce"]["checksum"] == checksum({"text": "tea"})


def test_a_deleted_output_is_a_mismatch_too(tmp_path: Path) -> None:
    _gated_run(tmp_path, "gone-1")
    with sqlite3.connect(tmp_path / "baton.db") as db:
        db.execute("DELETE FROM outputs WHERE run_id = 'gone-1'")
    resumed = baton(tmp_path, "resume", "gone-1")
    assert resumed.returncode == 1
    assert shown(tmp_path, "gone-1")["error"]["failure"] == "checksum_mismatch"


def test_a_tampered_delegation_record_stops_the_run_at_resume(tmp_path: Path) -> None:
    env = {"TRUST_CRASH_MARKER": str(tmp_path / "crashed")}
    first = baton(
        tmp_path,
        "run",
        "trust_flows:DELEGATING",
        "--run-id",
        "deleg-1",
        "--input",
        '{"topic": "tea", "chain": ["helper"]}',
        extra_env=env,
    )
    assert first.returncode == -9
    with sqlite3.connect(tmp_path / "baton.db") as db:
        [(seq, data)] = db.execute(
            "SELECT seq, data FROM events WHERE run_id = ? AND type = ?",
            ("deleg-1", "delegation_completed"),
        ).fetchall()
        changed = json.loads(data)
        changed["output"] = {"text": "forged"}
        db.execute(
            "UPDATE events SET data = ? WHERE run_id = 'deleg-1' AND seq = ?",
            (json.dumps(changed), seq),
        )
    resumed = baton(tmp_path, "resume", "deleg-1", extra_env=env)
    assert resumed.returncode == 1, resumed.stdout + resumed.stderr
    state = shown(tmp_path, "deleg-1")
    assert state["error"]["failure"] == "checksum_mismatch"
    assert "delegation to 'helper'" in state["error"]["message"]
    assert not [e for e in events(tmp_path, "deleg-1") if e["type"] == "step_validated"]


def test_consumed_outputs_are_checked_before_a_step_starts() -> None:
    step = Step(
        id="b",
        spec="x:1",
        agent="echo",
        needs=("a",),
        input={"x": "{{ steps.a.output.x }} {{ steps['c'].output }}"},
        condition=Template("steps.d.output.ok", is_expression=True),
    )
    assert consumed_steps(step) == {"a", "c", "d"}
    state = _state_with_output("a", {"x": 1}, checksum({"x": 1}))
    check = ConsumptionCheck()
    assert check.check(state, step) is None
    tampered = _state_with_output("a", {"x": 2}, checksum({"x": 1}))
    fresh = ConsumptionCheck()
    mismatch = fresh.check(tampered, step)
    assert mismatch is not None and mismatch.step == "a"


def _state_with_output(step: str, output: object, digest: str) -> RunState:
    from baton.runtime.core.state import StepRecord
    from baton.runtime.model import StepState

    record = StepRecord(state=StepState.COMMITTED, output=output, checksum=digest)
    return RunState(
        run_id="r",
        workflow="w",
        version=1,
        spec_sha256="0",
        spec="w.yaml",
        trace_id="t",
        inputs={},
        plan=(step,),
        triggers={},
        gates={},
        shape={},
        result_step=None,
        parent=None,
        steps={step: dataclasses.replace(record)},
        started_ms=0,
        updated_ms=0,
        last_seq=1,
    )
