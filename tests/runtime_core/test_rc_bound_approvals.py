"""Approvals bound to what was shown (runtime.approval_subject, runtime.core.approvals).

Real `baton` processes on a real SQLite database. `baton approve` records the sha256 of
the subject (stage before: the rendered input the agent will get) and prints it; when
the run goes on and the step would get something else, the grant is void
(`approval_voided`, both hashes) and the gate asks again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rc_support import baton, env, ledger, shown

from baton.runtime.core.apply import fold
from baton.runtime.store import Store

INPUT = json.dumps({"topic": "tea"})
VARIANT_B = {"RC_PEOPLE_VARIANT": "b"}


def _events(tmp: Path, run_id: str) -> list[dict[str, Any]]:
    result = baton(tmp, "events", run_id, "--json")
    assert result.returncode == 0, result.stderr
    events: list[dict[str, Any]] = json.loads(result.stdout)
    return events


def _folds_to_stored(tmp: Path, run_id: str) -> None:
    with Store(tmp / "baton.db") as store:
        assert fold(store.load_events(run_id)).to_json() == store.load_state(run_id).to_json()


def _subject_sha256(tmp: Path, run_id: str, step: str, variant: str = "a") -> str:
    """The subject's sha256 computed in this process, as the CLI and console do."""
    import subprocess
    import sys

    code = (
        "from pathlib import Path; from baton.commands._load import load_spec; "
        "from baton.runtime import api; from baton.runtime.approval_subject import subject; "
        f"state = api.get_state(Path({str(tmp / 'baton.db')!r}), {run_id!r}); "
        f"print(subject(load_spec(state.spec).workflow, state, {step!r}).sha256)"
    )
    environ = env(tmp, RC_PEOPLE_VARIANT=variant)
    result = subprocess.run(
        [sys.executable, "-c", code], env=environ, capture_output=True, text=True, cwd=tmp
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _waiting(tmp: Path, run_id: str, spec: str = "rc_people:BOUND") -> None:
    started = baton(tmp, "run", spec, "--input", INPUT, "--run-id", run_id, "--detach")
    assert started.returncode == 3, (started.stdout, started.stderr)


def test_a_grant_records_and_prints_what_was_shown(tmp_path: Path) -> None:
    _waiting(tmp_path, "b1")
    expected = _subject_sha256(tmp_path, "b1", "deliver")
    approved = baton(tmp_path, "approve", "b1", "deliver", "--as", "alice")
    assert approved.returncode == 0, approved.stderr
    assert f"subject sha256: {expected}" in approved.stdout
    [granted] = [e for e in _events(tmp_path, "b1") if e["type"] == "approval_granted"]
    assert granted["data"]["shown_sha256"] == expected
    assert shown(tmp_path, "b1")["steps"]["deliver"]["approval"]["shown_sha256"] == expected
    done = baton(tmp_path, "resume", "b1")
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert not [e for e in _events(tmp_path, "b1") if e["type"] == "approval_voided"]
    assert shown(tmp_path, "b1")["result"] == {"text": "fetch: tea [a]!"}
    _folds_to_stored(tmp_path, "b1")


def test_a_stage_after_subject_is_the_output(tmp_path: Path) -> None:
    _waiting(tmp_path, "b2", "rc_people:BOUND_AFTER")
    from baton.runtime.canonical import checksum

    subject = {"step": "draft", "stage": "after", "output": {"text": "draft: tea"}}
    approved = baton(tmp_path, "approve", "b2", "draft", "--as", "alice")
    assert approved.returncode == 0, approved.stderr
    assert f"subject sha256: {checksum(subject)}" in approved.stdout
    assert baton(tmp_path, "resume", "b2").returncode == 0
    assert shown(tmp_path, "b2")["status"] == "succeeded"


def test_a_changed_input_voids_the_grant_and_asks_again(tmp_path: Path) -> None:
    _waiting(tmp_path, "b3")
    shown_a = _subject_sha256(tmp_path, "b3", "deliver")
    assert baton(tmp_path, "approve", "b3", "deliver", "--as", "alice").returncode == 0
    calls_before = len(ledger(tmp_path))

    # the template changed under the run: the step would get another input
    resumed = baton(tmp_path, "resume", "b3", "--detach", extra_env=VARIANT_B)
    assert resumed.returncode == 3, (resumed.stdout, resumed.stderr)
    [voided] = [e for e in _events(tmp_path, "b3") if e["type"] == "approval_voided"]
    shown_b = _subject_sha256(tmp_path, "b3", "deliver", "b")
    assert shown_b != shown_a
    assert voided["step"] == "deliver"
    assert voided["data"] == {
        "role": "manager",
        "stage": "before",
        "principal": "alice",
        "shown_sha256": shown_a,
        "current_sha256": shown_b,
    }
    state = shown(tmp_path, "b3")
    assert state["status"] == "waiting" and state["waiting_on"] == ["approval"]
    approval = state["steps"]["deliver"]["approval"]
    assert approval["decision"] is None and approval["voided"] == 1
    assert len(ledger(tmp_path)) == calls_before  # the agent was not called
    _folds_to_stored(tmp_path, "b3")

    # asked again: a decision on what it gets now goes through
    again = baton(tmp_path, "approve", "b3", "deliver", "--as", "bob", extra_env=VARIANT_B)
    assert again.returncode == 0 and f"subject sha256: {shown_b}" in again.stdout
    done = baton(tmp_path, "resume", "b3", extra_env=VARIANT_B)
    assert done.returncode == 0, (done.stdout, done.stderr)
    final = shown(tmp_path, "b3")
    assert final["result"] == {"text": "fetch: tea [b]!"}
    assert final["steps"]["deliver"]["approval"]["principal"] == "bob"
    _folds_to_stored(tmp_path, "b3")


def test_a_stale_shown_sha256_is_refused(tmp_path: Path) -> None:
    _waiting(tmp_path, "b4")
    before = _events(tmp_path, "b4")
    stale = baton(
        tmp_path, "approve", "b4", "deliver", "--as", "alice", "--shown-sha256", "ab" * 32
    )
    assert stale.returncode == 2
    assert "what step 'deliver' would get has changed since it was shown" in stale.stderr
    assert len(stale.stderr.strip().splitlines()) <= 2  # the identity warning, the refusal
    assert _events(tmp_path, "b4") == before
    current = _subject_sha256(tmp_path, "b4", "deliver")
    ok = baton(tmp_path, "approve", "b4", "deliver", "--as", "alice", "--shown-sha256", current)
    assert ok.returncode == 0, ok.stderr


@pytest.mark.parametrize("kill_after", [1, 2])
def test_sigkill_after_approval_voided_then_resume(tmp_path: Path, kill_after: int) -> None:
    """Killed at each commit of the resume that voids the grant (`run_resumed`, then
    `approval_voided`), a resume ends where an uncrashed one does: waiting, one void."""
    _waiting(tmp_path, "b5")
    assert baton(tmp_path, "approve", "b5", "deliver", "--as", "alice").returncode == 0
    with Store(tmp_path / "baton.db") as store:
        before = len(store.load_events("b5"))
    killer = {**VARIANT_B, "BATON_TEST_KILL_AFTER_EVENT": str(kill_after)}
    crashed = baton(tmp_path, "resume", "b5", "--detach", extra_env=killer)
    types = [e["type"] for e in _events(tmp_path, "b5")][before:]
    if crashed.returncode == -9:
        assert types[-1] in ("run_resumed", "approval_voided"), types
        _folds_to_stored(tmp_path, "b5")
        resumed = baton(tmp_path, "resume", "b5", "--detach", extra_env=VARIANT_B)
        assert resumed.returncode == 3, (resumed.stdout, resumed.stderr)
    else:  # one commit held both: nothing to kill after
        assert crashed.returncode == 3, (crashed.stdout, crashed.stderr)
    types = [e["type"] for e in _events(tmp_path, "b5")]
    assert types.count("approval_voided") == 1
    state = shown(tmp_path, "b5")
    assert state["status"] == "waiting"
    assert state["steps"]["deliver"]["approval"]["voided"] == 1
    _folds_to_stored(tmp_path, "b5")
