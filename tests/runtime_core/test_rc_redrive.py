"""Redrive (`baton retry RUN`): a failed run goes on once the cause is fixed.

Real `baton` processes on a real SQLite database. `rc_workflows:REDRIVE` has a step
(`left`) whose agent fails until the file `left.fixed` exists in the working directory:
the run fails, the file is created, `baton retry` finishes the run without calling any
committed step's agent again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rc_support import baton, ledger, normalized, rows, shown

from baton.runtime.core.apply import fold
from baton.runtime.store import Store

RUN = "rd"
INPUT = json.dumps({"topic": "tea"})


def _failed_run(tmp: Path, spec: str = "rc_workflows:REDRIVE", run_id: str = RUN) -> None:
    started = baton(tmp, "run", spec, "--input", INPUT, "--run-id", run_id)
    assert started.returncode == 1, (started.stdout, started.stderr)
    assert shown(tmp, run_id)["status"] == "failed"


def _events(tmp: Path, run_id: str = RUN) -> list[dict[str, Any]]:
    result = baton(tmp, "events", run_id, "--json")
    assert result.returncode == 0, result.stderr
    events: list[dict[str, Any]] = json.loads(result.stdout)
    return events


def _folds_to_stored(tmp: Path, run_id: str = RUN) -> None:
    """Folding the log gives the state the store keeps (and `baton show` prints)."""
    with Store(tmp / "baton.db") as store:
        assert fold(store.load_events(run_id)).to_json() == store.load_state(run_id).to_json()
    assert fold_json(tmp, run_id) == shown(tmp, run_id)


def fold_json(tmp: Path, run_id: str) -> dict[str, Any]:
    with Store(tmp / "baton.db") as store:
        return fold(store.load_events(run_id)).to_json()


def test_a_redrive_after_the_fix_finishes_the_run(tmp_path: Path) -> None:
    _failed_run(tmp_path)
    failed = shown(tmp_path, RUN)
    assert failed["steps"]["left"]["state"] == "failed"
    assert failed["steps"]["left"]["attempts"] == 3
    assert {failed["steps"][s]["state"] for s in ("deliver", "summary")} == {"cancelled"}
    committed_keys = {
        failed["steps"][s]["idempotency_key"]
        for s in failed["steps"]
        if failed["steps"][s]["state"] == "committed"
    }
    assert failed["steps"]["fetch"]["state"] == "committed"
    calls_before = len(ledger(tmp_path))

    # not fixed yet: a fresh budget of 3 attempts, numbered on (4, 5, 6), then it fails
    again = baton(tmp_path, "retry", RUN, "--as", "alice")
    assert again.returncode == 1, (again.stdout, again.stderr)
    assert f"run {RUN} redriven by alice: left, deliver, summary back to pending" in again.stdout
    assert "left: attempt 4 started" in again.stdout
    state = shown(tmp_path, RUN)
    assert state["status"] == "failed" and state["redrives"] == 1
    assert state["steps"]["left"]["attempts"] == 6
    assert "(after 3 attempts)" in state["error"]["message"]
    _folds_to_stored(tmp_path)

    (tmp_path / "left.fixed").write_text("")
    fixed = baton(tmp_path, "retry", RUN, "--as", "bob")
    assert fixed.returncode == 0, (fixed.stdout, fixed.stderr)
    assert f"run {RUN} succeeded" in fixed.stdout
    final = shown(tmp_path, RUN)
    assert final["status"] == "succeeded" and final["redrives"] == 2
    assert final["result"] == {"text": "left fixed|fetch: tea+r!"}
    assert final["error"] is None
    left = final["steps"]["left"]
    assert (left["state"], left["attempts"], left["attempt_base"]) == ("committed", 7, 6)
    assert final["steps"]["branch"]["state"] == "skipped"  # its condition, not a failure
    assert "attempt_base" not in final["steps"]["fetch"]  # never redriven: as it always was

    # committed steps were never called again; the redriven step kept its key and
    # numbered its attempts on (attempt ids unique)
    calls = ledger(tmp_path)
    after = calls[calls_before:]
    assert not {c["idempotency_key"] for c in after} & committed_keys
    assert [c["step"] for c in calls].count("fetch") == 1
    lefts = [c for c in calls if c["step"] == "left"]
    assert [c["attempt"] for c in lefts] == [1, 2, 3, 4, 5, 6, 7]
    assert len({c["idempotency_key"] for c in lefts}) == 1
    started = [e for e in _events(tmp_path) if e["type"] == "attempt_started"]
    ids = [e["data"]["attempt_id"] for e in started]
    assert len(ids) == len(set(ids))

    redriven = [e for e in _events(tmp_path) if e["type"] == "run_redriven"]
    assert [e["data"]["by"] for e in redriven] == ["alice", "bob"]
    assert all(e["data"]["steps"] == ["left", "deliver", "summary"] for e in redriven)
    assert all(e["data"]["requested"] == [] and e["ts"] > 0 for e in redriven)
    _folds_to_stored(tmp_path)
    assert rows(tmp_path / "baton.db", "SELECT status FROM runs WHERE run_id = ?", RUN) == [
        ("succeeded",)
    ]


def test_step_selects_what_is_redriven(tmp_path: Path) -> None:
    _failed_run(tmp_path, "rc_workflows:TWO_FAIL")
    state = shown(tmp_path, RUN)
    assert state["steps"]["join"]["state"] == "cancelled"
    (tmp_path / "a.fixed").write_text("")
    (tmp_path / "b.fixed").write_text("")
    if state["steps"]["b"]["state"] == "failed":
        # both failed: naming one would fail the run again at once
        only_a = baton(tmp_path, "retry", RUN, "--step", "a")
        assert only_a.returncode == 2
        assert "step 'b' failed too and is not named" in only_a.stderr
        named: tuple[str, ...] = ("--step", "a", "--step", "b")
        requested = ["a", "b"]
    else:  # `b` was still running when `a` failed: cancelled, so it goes back with `a`
        named, requested = ("--step", "a"), ["a"]
    result = baton(tmp_path, "retry", RUN, *named)
    assert result.returncode == 0, (result.stdout, result.stderr)
    [redriven] = [e for e in _events(tmp_path) if e["type"] == "run_redriven"]
    assert redriven["data"]["requested"] == requested
    assert redriven["data"]["steps"] == ["a", "b", "join"]
    assert shown(tmp_path, RUN)["status"] == "succeeded"
    _folds_to_stored(tmp_path)


def test_refusals(tmp_path: Path) -> None:
    _failed_run(tmp_path)
    before = _events(tmp_path)
    refused = {
        ("--step", "nope"): "unknown step 'nope' in run 'rd'; steps are branch, deliver,",
        ("--step", "fetch"): "step 'fetch' is committed: committed steps never run again",
        ("--step", "branch"): "step 'branch' was skipped (if: inputs.topic == 'never' is false)",
        ("--step", "deliver"): "step 'left' failed too and is not named",
    }
    for args, message in refused.items():
        result = baton(tmp_path, "retry", RUN, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert result.stderr.startswith(f"error: {message}"), (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1
    unknown = baton(tmp_path, "retry", "zz")
    assert unknown.returncode == 2 and "unknown run 'zz'" in unknown.stderr
    temporal = baton(tmp_path, "retry", RUN, "--backend", "temporal", "--address", "127.0.0.1:1")
    assert temporal.returncode == 2  # Temporal redrives too (tests/temporal_backend)
    assert "cannot reach Temporal at 127.0.0.1:1" in temporal.stderr
    assert _events(tmp_path) == before  # nothing was recorded

    # a run that succeeded cannot be redriven
    (tmp_path / "left.fixed").write_text("")
    assert baton(tmp_path, "retry", RUN).returncode == 0
    done = baton(tmp_path, "retry", RUN)
    assert done.returncode == 2
    assert done.stderr == f"error: run '{RUN}' succeeded: only a failed run can be redriven\n"

    # nor a run that is waiting (for an approval here)
    waiting = baton(
        tmp_path, "run", "rc_workflows:CRASH", "--input", INPUT, "--run-id", "w", "--detach"
    )
    assert waiting.returncode == 3, (waiting.stdout, waiting.stderr)
    result = baton(tmp_path, "retry", "w")
    assert result.returncode == 2
    assert result.stderr.startswith("error: run 'w' is waiting, not failed")


def test_a_crash_right_after_run_redriven_then_resume(tmp_path: Path) -> None:
    """SIGKILL right after `run_redriven` is durable: the run is running again, and
    `baton resume` ends it as an uncrashed redrive does."""
    final = {}
    for name, kill in (("reference", None), ("crashed", "1")):
        tmp = tmp_path / name
        tmp.mkdir()
        _failed_run(tmp)
        (tmp / "left.fixed").write_text("")
        calls_before = len(ledger(tmp))
        extra = {"BATON_TEST_KILL_AFTER_EVENT": kill} if kill else {}
        result = baton(tmp, "retry", RUN, "--as", "alice", extra_env=extra)
        if kill:
            assert result.returncode == -9, (result.stdout, result.stderr)
            events = _events(tmp)
            assert events[-1]["type"] == "run_redriven"
            assert shown(tmp, RUN)["status"] == "running"
            assert len(ledger(tmp)) == calls_before  # no agent was called
            _folds_to_stored(tmp)
            again = baton(tmp, "retry", RUN)  # it is running now: resume, not retry
            assert again.returncode == 2 and "is running, not failed" in again.stderr
            result = baton(tmp, "resume", RUN)
        assert result.returncode == 0, (result.stdout, result.stderr)
        final[name] = shown(tmp, RUN)
        _folds_to_stored(tmp)
        calls = ledger(tmp)[calls_before:]
        assert [c["step"] for c in calls] == ["left", "deliver", "summary"]
    ignore = {"last_seq": 0}
    assert normalized(final["crashed"]) | ignore == normalized(final["reference"]) | ignore


def test_the_fold_takes_run_redriven_only_on_a_failed_run(tmp_path: Path) -> None:
    """The pure core: `run_redriven` is the one event an ended run takes, and only a
    failed one; the refusals come from `redrive_event` before anything is written."""
    import pytest

    from baton.runtime.core import events as ev
    from baton.runtime.core.apply import IllegalTransition, apply
    from baton.runtime.core.redrive import RedriveRefused, redrive_event

    _failed_run(tmp_path)
    with Store(tmp_path / "baton.db") as store:
        log = store.load_events(RUN)
    state = fold(log)
    body = redrive_event(state, by="carol")
    assert body.steps == ("left", "deliver", "summary")
    redriven = apply(state, ev.Event(state.last_seq + 1, RUN, 1, state.trace_id, body))
    assert redriven.status == "running" and redriven.redrives == 1
    assert [redriven.steps[s].state.value for s in body.steps] == ["pending"] * 3
    assert redriven.steps["left"].attempt_base == 3
    with pytest.raises(IllegalTransition):  # a second one: the run has not ended
        apply(redriven, ev.Event(redriven.last_seq + 1, RUN, 2, state.trace_id, body))
    with pytest.raises(RedriveRefused, match="is running, not failed"):
        redrive_event(redriven)
    with pytest.raises(IllegalTransition, match="cannot be redriven from 'committed'"):
        bad = ev.RunRedriven(by="", steps=("fetch",))
        apply(state, ev.Event(state.last_seq + 1, RUN, 1, state.trace_id, bad))


def test_a_rejected_gate_asks_again_after_a_redrive(tmp_path: Path) -> None:
    """Approvals keep working: a step failed by a rejection goes back to pending, asks
    for approval again, and the run ends once it is granted; nothing committed reruns."""
    started = baton(
        tmp_path, "run", "rc_workflows:CRASH", "--input", INPUT, "--run-id", "g", "--detach"
    )
    assert started.returncode == 3, (started.stdout, started.stderr)
    assert baton(tmp_path, "reject", "g", "deliver", "--as", "alice").returncode == 0
    failed = shown(tmp_path, "g")
    assert failed["status"] == "failed" and failed["error"]["failure"] == "rejected"
    calls_before = ledger(tmp_path)

    again = baton(tmp_path, "retry", "g", "--as", "bob", "--detach")
    assert again.returncode == 3, (again.stdout, again.stderr)
    assert "run g redriven by bob: deliver, summary back to pending" in again.stdout
    waiting = shown(tmp_path, "g")
    assert waiting["status"] == "waiting" and waiting["waiting_on"] == ["approval"]
    assert waiting["steps"]["deliver"]["approval"]["decision"] is None
    assert baton(tmp_path, "approve", "g", "deliver", "--as", "carol").returncode == 2
    assert baton(tmp_path, "approve", "g", "deliver", "--as", "alice").returncode == 0
    done = baton(tmp_path, "resume", "g")
    assert done.returncode == 0, (done.stdout, done.stderr)
    final = shown(tmp_path, "g")
    assert final["status"] == "succeeded"
    assert final["steps"]["deliver"]["approval"]["principal"] == "alice"
    calls = ledger(tmp_path)[len(calls_before) :]
    assert [c["step"] for c in calls] == ["deliver", "summary"]
    assert [c["attempt"] for c in calls] == [1, 1]  # a rejection started no attempt
    _folds_to_stored(tmp_path, "g")
