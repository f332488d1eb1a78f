"""Crash safety, the key test: kill -9 a run at every event boundary, then resume it.

`BATON_TEST_KILL_AFTER_EVENT=N` makes a `baton` process SIGKILL itself right after
the commit that makes its N-th event durable. For every N the run is driven to its end
(resume, approve, resume) and compared with a run that never crashed:

- the final state of every run (child runs too) is the same, apart from timestamps and
  restart counts;
- no step committed before the crash had its agent called again (the ledger);
- each output is committed once; no event is lost or duplicated (the log at the crash
  is a prefix of the final log, numbered without gaps);
- an external effect started but not committed runs again under the same key, and the
  log records it as a restart;
- folding each final log gives the stored state.

Two workflows: a hand-built one with a fan-out and a retried step, and the research
pipeline of specs/ (compiled into generated/) with its condition, approval-gated
external effect and sub-workflow.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rc_support import baton, ledger, normalized, rows

from baton.runtime import api
from baton.runtime.core.apply import fold
from baton.runtime.store import Store

RUN = "crash-run"
WORKFLOWS = {
    "rc_workflows:CRASH": {"topic": "tea"},
    "research_report": {"topic": "tea", "client": "acme"},
    # a routed step whose chosen case is a sub-workflow (and a retried agent step)
    "rc_routes:ROUTE": {"topic": "feature"},
    # review loops: two revisions, then a pass; an exhausted loop escalated to a person
    "rc_workflows:REVIEW": {"topic": "fail fail pass"},
    "rc_workflows:REVIEW_ESCALATE": {"topic": "fail"},
    # a verdict outside its handoff: `review_failed`, the run fails (ENDS)
    "rc_workflows:REVIEW#review_failed": {"topic": "maybe"},
}
# how a workflow's run ends when it is not `succeeded` (a `#...` suffix names a case)
ENDS = {"rc_workflows:REVIEW#review_failed": "failed"}
# the step each workflow waits on for a person
GATED = {"rc_workflows:REVIEW_ESCALATE": "research"}
lock = threading.Lock()


@dataclass
class Crash:
    """What was durable when the process died."""

    events: dict[str, list[tuple[Any, ...]]]  # by run
    committed_keys: set[str]
    ledger_calls: int
    durable: int  # events of all runs, the boundary the process died at
    repeated: bool = False  # another kill point already died at this boundary


def _events(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    if not db.exists():
        return {}
    found: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows(db, "SELECT run_id, seq, type, step, attempt, data FROM events ORDER BY seq"):
        found.setdefault(row[0], []).append(row[1:])
    return found


def _count(db: Path) -> int:
    return sum(len(events) for events in _events(db).values())


def _status(db: Path) -> str:
    found = rows(db, "SELECT status FROM runs WHERE run_id = ?", RUN)
    return str(found[0][0]) if found else "absent"


def drive(tmp: Path, spec: str, kill_after: int | None, seen: set[int]) -> Crash | None:
    """Run `spec` to its end, killing the process that commits event `kill_after`.

    Returns early, `repeated`, when the crash left a log already in `seen` (several
    kill points fall in one group commit: one of them is enough).
    """
    db = tmp / "baton.db"
    crash: Crash | None = None
    inputs = json.dumps(WORKFLOWS[spec])
    end = ENDS.get(spec, "succeeded")
    codes = (0, 3) if end == "succeeded" else (1, 3)  # 1: the command's run failed
    commands = [("run", spec.partition("#")[0], "--input", inputs, "--run-id", RUN, "--detach")]
    for _ in range(8):
        if commands:
            args = commands.pop()
        elif _status(db) == "waiting":
            # the decision, in this process: only run processes are killed
            api.approve(db, RUN, GATED.get(spec, "deliver"), "alice")
            continue
        else:
            args = ("resume", RUN, "--detach")
        extra = {}
        if kill_after is not None and crash is None:
            remaining = kill_after - _count(db)
            if remaining > 0:
                extra["BATON_TEST_KILL_AFTER_EVENT"] = str(remaining)
        result = baton(tmp, *args, extra_env=extra)
        if result.returncode == -9:
            found = _events(db)
            total = sum(len(events) for events in found.values())
            assert total >= kill_after  # type: ignore[operator]
            committed = {
                json.loads(row[4])["idempotency_key"]
                for events in found.values()
                for row in events
                if row[1] == "step_committed"
            }
            crash = Crash(found, committed, len(ledger(tmp)), total)
            with lock:
                crash.repeated = total in seen
                seen.add(total)
            if crash.repeated:
                return crash
        else:
            assert result.returncode in codes, (args, result.stdout, result.stderr)
        if _status(db) == end:
            return crash
    raise AssertionError(f"run did not finish: {_status(db)}")


def _states(db: Path) -> dict[str, dict[str, Any]]:
    with Store(db) as store:
        return {run.run_id: store.load_state(run.run_id).to_json() for run in store.list_runs()}


@pytest.mark.parametrize("spec", sorted(WORKFLOWS))
def test_kill_at_every_event_boundary(tmp_path: Path, spec: str) -> None:
    reference_dir = tmp_path / "reference"
    reference_dir.mkdir()
    assert drive(reference_dir, spec, None, set()) is None
    reference = _states(reference_dir / "baton.db")
    total = _count(reference_dir / "baton.db")
    assert total > 20 or spec in ENDS  # a short failing run: every boundary all the same
    # the event a `#name` case is about is in the log, so it is one of the kill points
    kinds = {row[1] for found in _events(reference_dir / "baton.db").values() for row in found}
    assert spec.partition("#")[2] in kinds | {""}
    seen: set[int] = set()

    def walk(points: range) -> None:
        # a kill after event N dies at the first commit boundary >= N: after dying at
        # boundary B, every N <= B gives the same crash, so skip to B + 1
        died_at = 0
        for kill_after in points:
            if kill_after <= died_at:
                continue
            tmp = tmp_path / f"kill-{kill_after}"
            tmp.mkdir()
            crash = drive(tmp, spec, kill_after, seen)
            if crash is None:
                continue  # event N is the approval, recorded by this (unkilled) process
            died_at = crash.durable
            if not crash.repeated:
                check(tmp, crash, reference)

    workers = 3
    with ThreadPoolExecutor(max_workers=workers) as pool:
        size = -(-(total - 1) // workers)
        chunks = [range(1 + i * size, min(total, 1 + (i + 1) * size)) for i in range(workers)]
        list(pool.map(walk, chunks))
    # distinct crash points: every commit boundary of the run (parallel steps share some)
    assert len(seen) >= total // 3, sorted(seen)


def check(tmp: Path, crash: Crash, reference: dict[str, dict[str, Any]]) -> None:
    db = tmp / "baton.db"
    states = _states(db)
    assert states.keys() == reference.keys()
    after = _events(db)
    for run_id, final in states.items():
        ignore = {"last_seq": 0}
        assert normalized(final) | ignore == normalized(reference[run_id]) | ignore
        with Store(db) as store:
            events = store.load_events(run_id)
        # folding the log gives the stored state
        assert fold(events).to_json() == final
        # nothing lost or duplicated: the durable log at the crash is a prefix, seqs 1..n
        assert [row[0] for row in after[run_id]] == list(range(1, len(after[run_id]) + 1))
        before = crash.events.get(run_id, [])
        assert after[run_id][: len(before)] == before
        # each output committed once, and stored once (a review loop's rounds that were
        # sent back, or whose review failed, stored theirs, never committed)
        commits = [e.step for e in events if e.type == "step_committed"]
        assert sorted(commits) == sorted(set(commits))
        outputs = rows(db, "SELECT committed_seq FROM outputs WHERE run_id = ?", run_id)
        revised = sum(e.type in ("revision_requested", "review_failed") for e in events)
        assert len(outputs) == len(commits) + revised
        assert sum(bool(seq) for (seq,) in outputs) == len(commits)
        # an effect started before the crash and not committed ran again under its key
        started = {json.loads(r[4])["idempotency_key"] for r in before if r[1] == "attempt_started"}
        for event in events:
            if event.type == "attempt_started" and getattr(event.body, "restart", False):
                assert event.body.idempotency_key in started - crash.committed_keys
        for step, record in final["steps"].items():
            if record["external"] and record["idempotency_key"] in started - crash.committed_keys:
                assert record["restarts"] == 1
                restarted = [e for e in events if e.type == "attempt_started" and e.step == step]
                assert [e.body.restart for e in restarted] == [False, True]
    # no committed step's agent was called again, nor a reviewer whose verdict (or its
    # failure) was durable
    calls_after = ledger(tmp)[crash.ledger_calls :]
    assert not {c["idempotency_key"] for c in calls_after} & crash.committed_keys
    assert not {c["idempotency_key"] for c in calls_after} & _judged(crash)


REVIEW_ENDS = ("review_passed", "revision_requested", "review_exhausted", "review_failed")


def _judged(crash: Crash) -> set[str]:
    """The review keys whose round had its outcome recorded before the crash."""
    keys: dict[tuple[Any, ...], str] = {}
    judged = set()
    for events in crash.events.values():
        for _, kind, step, _, data in events:
            body = json.loads(data)
            if kind == "review_started":
                keys[(step, body["round"])] = body["idempotency_key"]
            elif kind in REVIEW_ENDS:
                judged.add(keys[(step, body["round"])])
    return judged
