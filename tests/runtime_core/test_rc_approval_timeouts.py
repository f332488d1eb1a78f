"""Approval timeouts and escalation on the local backend (runtime.core.approvals).

Real `baton` processes. A gate with `timeout_ms` that nobody decides in time records
`approval_timed_out`, then its action: `approval_rejected` (by `baton`, channel
`timeout`) or `approval_escalated` (to `escalate_to`, once). The driver that stays (a
`baton resume` without `--detach`) fires the timer; a detached run's timer fires in a
later `resume`. No timed assertions: the tests read the events and the state.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from rc_support import baton, shown

from baton.runtime.core.apply import fold
from baton.runtime.store import Store

INPUT = json.dumps({"topic": "tea"})


def _events(tmp: Path, run_id: str) -> list[dict[str, Any]]:
    result = baton(tmp, "events", run_id, "--json")
    assert result.returncode == 0, result.stderr
    events: list[dict[str, Any]] = json.loads(result.stdout)
    return events


def _types(tmp: Path, run_id: str) -> list[str]:
    return [e["type"] for e in _events(tmp, run_id)]


def _folds_to_stored(tmp: Path, run_id: str) -> None:
    with Store(tmp / "baton.db") as store:
        assert fold(store.load_events(run_id)).to_json() == store.load_state(run_id).to_json()


def _waiting(tmp: Path, spec: str, run_id: str) -> None:
    started = baton(tmp, "run", spec, "--input", INPUT, "--run-id", run_id, "--detach")
    assert started.returncode == 3, (started.stdout, started.stderr)
    assert shown(tmp, run_id)["status"] == "waiting"


def test_no_decision_in_time_rejects(tmp_path: Path) -> None:
    _waiting(tmp_path, "rc_people:TIMEOUT_REJECT", "t1")
    # a driver that stays fires the timer when it falls due
    ended = baton(tmp_path, "resume", "t1")
    assert ended.returncode == 1, (ended.stdout, ended.stderr)
    events = _events(tmp_path, "t1")
    types = [e["type"] for e in events]
    at = types.index("approval_timed_out")
    assert types[at + 1] == "approval_rejected"
    timed_out, rejected = events[at], events[at + 1]
    assert timed_out["step"] == "deliver"
    assert timed_out["data"] == {
        "role": "manager",
        "stage": "before",
        "timeout_ms": 1000,
        "action": "reject",
    }
    assert rejected["data"]["principal"] == "baton"
    assert rejected["data"]["channel"] == "timeout"
    assert rejected["data"]["comment"] == "no decision within 1s"
    state = shown(tmp_path, "t1")
    assert state["status"] == "failed"
    assert state["steps"]["deliver"]["error"]["failure"] == "rejected"
    assert state["steps"]["deliver"]["approval"]["decision"] == "rejected"
    _folds_to_stored(tmp_path, "t1")


def test_escalation_asks_the_escalation_role(tmp_path: Path) -> None:
    _waiting(tmp_path, "rc_people:TIMEOUT_ESCALATE", "t2")
    # a detached resume fires the timer once it is due; poll until it has
    deadline = time.monotonic() + 60
    while "approval_escalated" not in _types(tmp_path, "t2"):
        assert time.monotonic() < deadline, _types(tmp_path, "t2")
        resumed = baton(tmp_path, "resume", "t2", "--detach")
        assert resumed.returncode == 3, (resumed.stdout, resumed.stderr)
        time.sleep(0.2)
    events = _events(tmp_path, "t2")
    [escalated] = [e for e in events if e["type"] == "approval_escalated"]
    assert escalated["data"] == {"stage": "before", "from_role": "manager", "role": "ceo"}
    [timed_out] = [e for e in events if e["type"] == "approval_timed_out"]
    assert timed_out["data"]["action"] == "escalate"
    approval = shown(tmp_path, "t2")["steps"]["deliver"]["approval"]
    assert (approval["role"], approval["escalated_from"]) == ("ceo", "manager")
    assert approval["decision"] is None

    # the gate's own role no longer decides it; the escalation role does
    refused = baton(tmp_path, "approve", "t2", "deliver", "--as", "alice")
    assert refused.returncode == 2 and "needs role 'ceo'" in refused.stderr
    assert baton(tmp_path, "approve", "t2", "deliver", "--as", "carol").returncode == 0
    done = baton(tmp_path, "resume", "t2")
    assert done.returncode == 0, (done.stdout, done.stderr)
    final = shown(tmp_path, "t2")
    assert final["status"] == "succeeded"
    assert final["steps"]["deliver"]["approval"]["principal"] == "carol"
    _folds_to_stored(tmp_path, "t2")


def test_an_escalation_nobody_decides_is_rejected(tmp_path: Path) -> None:
    _waiting(tmp_path, "rc_people:TIMEOUT_ESCALATE", "t3")
    ended = baton(tmp_path, "resume", "t3")  # stays: escalates, then rejects
    assert ended.returncode == 1, (ended.stdout, ended.stderr)
    people = [
        (e["type"], e["data"].get("action") or e["data"].get("role"))
        for e in _events(tmp_path, "t3")
        if e["type"].startswith("approval_")
    ]
    assert people == [
        ("approval_requested", "manager"),
        ("approval_timed_out", "escalate"),
        ("approval_escalated", "ceo"),
        ("approval_timed_out", "reject"),
        ("approval_rejected", "ceo"),
    ]
    assert shown(tmp_path, "t3")["status"] == "failed"
    _folds_to_stored(tmp_path, "t3")

    # the pure core at the boundary no local commit stops at (a timeout and its action
    # share one): a log that ends with `approval_timed_out` goes on with its action
    from rc_people import TIMEOUT_ESCALATE

    from baton.runtime.core import commands as cmd
    from baton.runtime.core.decide import decide

    with Store(tmp_path / "baton.db") as store:
        log = store.load_events("t3")
    cuts = [i for i, e in enumerate(log) if e.type == "approval_timed_out"]
    followers = []
    for cut in cuts:
        state = fold(log[: cut + 1])
        [command] = decide(TIMEOUT_ESCALATE, state, log[cut].ts)
        assert isinstance(command, cmd.RecordEvent)
        assert command.body == log[cut + 1].body
        followers.append(command.body.TYPE)
    assert followers == ["approval_escalated", "approval_rejected"]


@pytest.mark.parametrize("spec", ["TIMEOUT_REJECT", "TIMEOUT_ESCALATE"])
def test_sigkill_after_each_timeout_event_then_resume(tmp_path: Path, spec: str) -> None:
    """Killed right after each commit of the resume that fires the timers, a resume
    ends as an uncrashed one does (the same approval events, once each)."""
    reference = tmp_path / "reference"
    reference.mkdir()
    _waiting(reference, f"rc_people:{spec}", "k")
    assert baton(reference, "resume", "k").returncode == 1
    expected = [e for e in _types(reference, "k") if e.startswith("approval_")]
    with Store(reference / "baton.db") as store:
        total = len(store.load_events("k"))
    kill_after = 1
    while True:
        tmp = tmp_path / f"kill{kill_after}"
        tmp.mkdir()
        _waiting(tmp, f"rc_people:{spec}", "k")
        with Store(tmp / "baton.db") as store:
            before = len(store.load_events("k"))
        if before + kill_after >= total:
            break
        crashed = baton(
            tmp, "resume", "k", extra_env={"BATON_TEST_KILL_AFTER_EVENT": str(kill_after)}
        )
        if crashed.returncode != -9:
            break
        _folds_to_stored(tmp, "k")
        ended = baton(tmp, "resume", "k")
        assert ended.returncode == 1, (kill_after, ended.stdout, ended.stderr)
        got = [e for e in _types(tmp, "k") if e.startswith("approval_")]
        assert got == expected, kill_after
        assert shown(tmp, "k")["steps"]["deliver"]["error"]["failure"] == "rejected"
        _folds_to_stored(tmp, "k")
        kill_after += 1
    assert kill_after > 1  # at least one boundary was crashed at
