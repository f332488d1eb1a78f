"""The batches of several runs written with one statement per table (store.rows): the
same refusals as a savepoint per batch, and runs driven together fold to what is stored;
the writers of one database take turns (store.writelock) across threads and processes."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

from rc_workflows import CRASH, text_step, workflow

from baton.runtime import api
from baton.runtime.core import events as ev
from baton.runtime.core.apply import apply, fold
from baton.runtime.core.plan import run_started, workflow_pin
from baton.runtime.core.state import RunState
from baton.runtime.store import LeaseLost, RunExists, Store, StoreError
from baton.runtime.store.records import Batch

CHAIN = workflow(
    "chain",
    *(
        text_step(f"s{i}", needs=(f"s{i - 1}",) if i else (), input={"text": f"s{i}"})
        for i in range(4)
    ),
    result="s3",
)


def _started(run_id: str) -> tuple[ev.Event, RunState]:
    event = ev.Event(1, run_id, 1000, "trace", run_started(CRASH, {"topic": "t"}, "pin", "spec"))
    return event, apply(None, event)


def _next(state: RunState, body: ev.EventBody) -> Batch:
    event = ev.Event(state.last_seq + 1, state.run_id, 2000, state.trace_id, body)
    return Batch([event], apply(state, event), "me", 2000)


def test_each_batch_written_together_is_refused_as_on_its_own(tmp_path: Path) -> None:
    with Store(tmp_path / "baton.db") as store:
        runs = {}
        for run_id in ("good", "taken", "behind", "quiet", "old"):
            event, state = _started(run_id)
            store.create_run(event, state, "me", 1000)
            runs[run_id] = state
        store.acquire_lease("taken", "someone else", 10**12)  # its lease expired long ago
        cancel = ev.CancelRequested(by="x")
        moved = _next(runs["behind"], ev.RunResumed(owner="me", spec_sha256="pin"))
        store.append(moved.events, moved.state, "me", 2000)  # its log moved on: at 2
        fresh_event, fresh = _started("fresh")
        again_event, again = _started("old")
        statements: list[str] = []
        store._db.set_trace_callback(statements.append)  # what SQLite is asked to run
        results = store.append_many(
            [
                _next(runs["good"], cancel),
                _next(runs["taken"], cancel),
                _next(runs["behind"], cancel),  # built on the log at 1
                Batch([fresh_event], fresh, "me", 2000, create=True),
                Batch([again_event], again, "me", 2000, create=True),  # a taken run id
                dataclasses.replace(_next(runs["quiet"], cancel), snapshot=False),
            ]
        )
        store._db.set_trace_callback(None)
        # one transaction, one statement per table: no savepoint per batch
        assert not [sql for sql in statements if "SAVEPOINT" in sql]
        assert len([sql for sql in statements if sql.startswith("INSERT INTO events")]) == 1
        assert results[0] is None and results[3] is None and results[5] is None
        assert isinstance(results[1], LeaseLost) and results[1].holder == "someone else"
        assert isinstance(results[2], StoreError) and "log is at 2" in str(results[2])
        assert isinstance(results[4], RunExists)
        assert store.load_state("good").cancel_requested
        assert not store.load_state("taken").cancel_requested
        assert not store.load_state("behind").cancel_requested
        assert store.load_state("fresh").last_seq == 1
        assert [e.seq for e in store.load_events("good")] == [1, 2]
        assert store.load_state("quiet").cancel_requested  # its row behind, its log not


def test_runs_driven_together_fold_to_their_stored_state(tmp_path: Path) -> None:
    db = tmp_path / "baton.db"
    loaded = api.LoadedWorkflow(CHAIN, workflow_pin(CHAIN), "chain")
    sizes: list[int] = []
    options = api.DriverOptions(after_commit=sizes.append)
    threads = [
        threading.Thread(
            target=api.start_run, args=(db, loaded, {"topic": "tea"}, f"r{i}", options)
        )
        for i in range(12)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with Store(db) as store:
        for i in range(12):
            events = store.load_events(f"r{i}")
            state = store.load_state(f"r{i}")
            assert state.outcome == "succeeded"
            assert state.to_json() == fold(events).to_json()
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT run_id, state, lease_owner FROM runs").fetchall()
        committed = connection.execute(
            "SELECT count(*) FROM outputs WHERE committed_seq IS NOT NULL"
        ).fetchone()[0]
    assert len(rows) == 12 and all(owner is None for _, _, owner in rows)
    for run_id, text, _ in rows:
        assert json.loads(text)["status"] == "succeeded", run_id
    assert committed == 12 * 4
    assert sum(sizes) == sum(len(Store(db).load_events(f"r{i}")) for i in range(12))


TURNS = """
import sys, time
from pathlib import Path
from baton.runtime.store.writelock import turn
marks = Path(sys.argv[2])
with turn(Path(sys.argv[1])):
    marks.write_text("in")
    print("in", flush=True)
    time.sleep(0.3)
    marks.write_text("in, left")
"""


def test_writers_take_turns_across_processes(tmp_path: Path) -> None:
    from baton.runtime.store.writelock import turn

    db, marks = (tmp_path / "baton.db").resolve(), tmp_path / "marks"
    holder = subprocess.Popen(
        [sys.executable, "-c", TURNS, str(db), str(marks)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    assert holder.stdout.readline() == "in\n"  # the other process has its turn
    with turn(db):  # so this one waits until that turn ends
        assert marks.read_text() == "in, left"
    assert holder.wait(10) == 0
