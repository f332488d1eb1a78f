"""Crash safety of map steps: kill -9 a map run at every event boundary, then resume.

As test_rc_crash.py (whose `check` this reuses: same final state as a run that never
crashed, the log at the crash a prefix of the final one, each output committed once,
the fold of the log is the stored state, no committed step's agent called again), plus
what a map adds: every `map_*` event boundary is a kill point; the items come from
`map_started` (the same on resume); no item whose output was recorded before the crash
had its agent called again; each item succeeded once; an item attempt running at the
crash runs again under its key (`restart`).

The workflow: `plan`, then `research_each` (an approval-gated external map over four
items: one retried, one dropped under `tolerate: 1`), then `summary`.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rc_support import baton, ledger, rows
from test_rc_crash import Crash, _count, _events, _states, _status, check

from baton.runtime import api
from baton.runtime.store import Store

RUN = "crash-run"  # test_rc_crash's `_status` reads this run
SPEC = "rc_maps:MAP_CRASH"
INPUTS = {"topics": ["a", "flaky:b", "c", "bad:d"], "wait_for": 1}
lock = threading.Lock()


def drive(tmp: Path, kill_after: int | None, seen: set[int]) -> Crash | None:
    """Run the map workflow to its end, killing the process that commits event
    `kill_after` (as test_rc_crash.drive, with this workflow's gate)."""
    db = tmp / "baton.db"
    crash: Crash | None = None
    commands = [("run", SPEC, "--input", json.dumps(INPUTS), "--run-id", RUN, "--detach")]
    for _ in range(8):
        if commands:
            args = commands.pop()
        elif _status(db) == "waiting":
            api.approve(db, RUN, "research_each", "alice")
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
            assert result.returncode in (0, 3), (args, result.stdout, result.stderr)
        if _status(db) == "succeeded":
            return crash
    raise AssertionError(f"run did not finish: {_status(db)}")


def check_items(tmp: Path, crash: Crash) -> int:
    """What a map adds to test_rc_crash.check; how many item attempts were restarted."""
    db = tmp / "baton.db"
    with Store(db) as store:
        events = store.load_events(RUN)
    before = crash.events.get(RUN, [])
    # the items are the ones recorded when the step started
    started = [e for e in events if e.type == "map_started"]
    assert len(started) == 1 and started[0].body.items == INPUTS["topics"]  # type: ignore[attr-defined]
    # each item succeeded once; none recorded before the crash was called again
    succeeded = [e.body.index for e in events if e.type == "map_item_succeeded"]  # type: ignore[attr-defined]
    assert sorted(succeeded) == sorted(set(succeeded)) == [0, 1, 2]
    done_keys = set()
    item_keys = {}
    for row in before:
        data = json.loads(row[4])
        if row[1] == "map_item_started":
            item_keys[data["index"]] = data["idempotency_key"]
        if row[1] == "map_item_succeeded":
            done_keys.add(item_keys[data["index"]])
    calls_after = ledger(tmp)[crash.ledger_calls :]
    assert not {c["idempotency_key"] for c in calls_after} & done_keys
    # an item restarted after the crash is one whose attempt was open at the crash
    restarts = 0
    for event in events:
        if event.type == "map_item_started" and event.body.restart:  # type: ignore[attr-defined]
            assert event.body.idempotency_key in item_keys.values()  # type: ignore[attr-defined]
            assert event.body.idempotency_key not in done_keys  # type: ignore[attr-defined]
            restarts += 1
    # the committed output: three items' outputs and the dropped one's null slot
    output = rows(
        db, "SELECT output FROM outputs WHERE run_id = ? AND step = ?", RUN, "research_each"
    )
    assert json.loads(output[0][0]) == [
        {"summary": "about a"},
        {"summary": "about flaky:b"},
        {"summary": "about c"},
        None,
    ]
    return restarts


def test_kill_a_map_run_at_every_event_boundary(tmp_path: Path) -> None:
    reference_dir = tmp_path / "reference"
    reference_dir.mkdir()
    assert drive(reference_dir, None, set()) is None
    reference: dict[str, dict[str, Any]] = _states(reference_dir / "baton.db")
    total = _count(reference_dir / "baton.db")
    kinds = {row[1] for row in _events(reference_dir / "baton.db")[RUN]}
    assert {
        "map_started",
        "map_item_started",
        "map_item_succeeded",
        "map_item_failed",
        "map_item_retry_scheduled",
        "map_item_dropped",
    } <= kinds
    seen: set[int] = set()
    restarted: list[int] = []

    def walk(points: range) -> None:
        died_at = 0
        for kill_after in points:
            if kill_after <= died_at:
                continue
            tmp = tmp_path / f"kill-{kill_after}"
            tmp.mkdir()
            crash = drive(tmp, kill_after, seen)
            if crash is None:
                continue  # event N is the approval, recorded by this (unkilled) process
            died_at = crash.durable
            if not crash.repeated:
                check(tmp, crash, reference)
                restarted.append(check_items(tmp, crash))

    workers = 2
    with ThreadPoolExecutor(max_workers=workers) as pool:
        size = -(-(total - 1) // workers)
        chunks = [range(1 + i * size, min(total, 1 + (i + 1) * size)) for i in range(workers)]
        list(pool.map(walk, chunks))
    assert len(seen) >= total // 3, sorted(seen)
    assert sum(restarted) > 0  # some crash fell while an item's attempt ran
