"""The SQLite event store on its own: schema versions, leases and fencing, atomic
batches, outputs stored once."""

from __future__ import annotations

import dataclasses
import socket
import sqlite3
import threading
from pathlib import Path

import pytest
from rc_workflows import CRASH

from baton.runtime.core import events as ev
from baton.runtime.core.apply import apply
from baton.runtime.core.plan import run_started
from baton.runtime.core.state import RunState
from baton.runtime.store import LeaseLost, RunExists, Store, StoreError, UnknownRun
from baton.runtime.store.group import group_commit
from baton.runtime.store.records import Batch
from baton.runtime.store.schema import SCHEMA_VERSION
from baton.runtime.store.writelock import turn


def _new_run(store: Store, owner: str = "me", run_id: str = "r") -> RunState:
    event = ev.Event(1, run_id, 1000, "trace", run_started(CRASH, {"topic": "t"}, "pin", "spec"))
    state = apply(None, event)
    store.create_run(event, state, owner, 1000)
    return state


def _next(state: RunState, body: ev.EventBody) -> tuple[ev.Event, RunState]:
    event = ev.Event(state.last_seq + 1, state.run_id, 2000, state.trace_id, body)
    return event, apply(state, event)


def test_a_new_database_has_the_current_schema(tmp_path: Path) -> None:
    with Store(tmp_path / "sub" / "baton.db") as store:
        assert store.list_runs() == []
    with sqlite3.connect(tmp_path / "sub" / "baton.db") as db:
        version = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        mode = db.execute("PRAGMA journal_mode").fetchone()
    assert version == (str(SCHEMA_VERSION),) and mode == ("wal",)


def test_threads_opening_one_new_database_at_once_all_succeed(tmp_path: Path) -> None:
    # switching a new file to WAL is answered "database is locked" at once, without the
    # busy handler, when another connection switches it too: ~1 in 75 such races failed
    # before opening took the writers' turn (store.writelock)
    def open_it(db: Path, barrier: threading.Barrier, errors: list[str]) -> None:
        barrier.wait()
        try:
            Store(db).close()
        except StoreError as error:
            errors.append(str(error))

    for trial in range(100):
        barrier = threading.Barrier(10)
        errors: list[str] = []
        arguments = (tmp_path / f"new-{trial}.db", barrier, errors)
        threads = [threading.Thread(target=open_it, args=arguments) for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [], f"trial {trial}: {errors[0]}"


def test_opening_a_ready_database_does_not_wait_for_the_writers(tmp_path: Path) -> None:
    # a database in WAL mode at the current schema is opened without the writers' turn
    # (a pool worker opens one connection per run it drives: each used to queue behind
    # the commits in flight); a new one still takes it (the test above)
    db = tmp_path / "baton.db"
    Store(db).close()
    opened = threading.Event()

    def open_it() -> None:
        with Store(db) as store:
            assert store.list_runs() == []
        opened.set()

    with turn(db.resolve()):  # another writer's turn, held throughout
        thread = threading.Thread(target=open_it, daemon=True)
        thread.start()
        assert opened.wait(timeout=30), "opening waited for the writers' turn"
    thread.join()


def test_a_database_from_a_newer_baton_is_refused(tmp_path: Path) -> None:
    Store(tmp_path / "baton.db").close()
    with sqlite3.connect(tmp_path / "baton.db") as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="written by a newer Baton: schema version 99"):
        Store(tmp_path / "baton.db")


def test_unknown_and_duplicate_runs(tmp_path: Path) -> None:
    with Store(tmp_path / "baton.db") as store:
        _new_run(store)
        with pytest.raises(RunExists):
            _new_run(store)
        with pytest.raises(UnknownRun, match="unknown run 'nope'"):
            store.load_state("nope")
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "missing.db", create=False)


def test_a_process_that_lost_its_lease_cannot_append(tmp_path: Path) -> None:
    with Store(tmp_path / "baton.db") as store:
        state = _new_run(store, owner="old")
        assert store.acquire_lease("r", "new", 1000) is not None  # still held by "old"
        assert store.acquire_lease("r", "new", 10**15) is None  # expired: taken over
        event, after = _next(state, ev.CancelRequested(by="x"))
        with pytest.raises(LeaseLost):
            store.append([event], after, "old", 2000)
        with pytest.raises(LeaseLost):
            store.renew_lease("r", "old", 2000)
        assert store.load_state("r").last_seq == 1  # nothing written
        store.append([event], after, "new", 2000)
        assert store.load_state("r").cancel_requested


def test_a_dead_holder_is_taken_over_at_once(tmp_path: Path) -> None:
    dead = f"{socket.gethostname()}:{2**22 + 12345}:nonce"  # above the default pid_max
    with Store(tmp_path / "baton.db") as store:
        _new_run(store, owner=dead)
        assert store.acquire_lease("r", "me", 1000) is None
        _new_run(store, owner=f"{socket.gethostname()}:1:nonce", run_id="alive")  # pid 1 lives
        holder = store.acquire_lease("alive", "me", 1000)
        assert holder is not None and "process 1 on" in holder.describe(1000)


def test_a_batch_is_all_or_nothing(tmp_path: Path) -> None:
    with Store(tmp_path / "baton.db") as store:
        state = _new_run(store)
        event, after = _next(state, ev.CancelRequested(by="x"))
        wrong = dataclasses.replace(event, seq=7)
        with pytest.raises(StoreError, match="batch starts at 7, log is at 1"):
            store.append([wrong], after, "me", 2000)
        assert len(store.load_events("r")) == 1


def test_outputs_are_stored_once_under_their_key(tmp_path: Path) -> None:
    with Store(tmp_path / "baton.db") as store:
        state = _new_run(store)
        batch = []
        for body in (
            ev.AttemptStarted(step="fetch", attempt=1, idempotency_key="k", attempt_id="k:1"),
            ev.StepValidated(
                step="fetch", attempt=1, idempotency_key="k", checksum="c", output={"text": "x"}
            ),
            ev.StepCommitted(step="fetch", attempt=1, idempotency_key="k", checksum="c"),
        ):
            event, state = _next(state, body)
            batch.append(event)
        store.append(batch, state, "me", 2000)
        assert store.load_state("r").steps["fetch"].output == {"text": "x"}
        assert store.load_events("r")[2].body == batch[1].body
    with sqlite3.connect(tmp_path / "baton.db") as db:
        stored = db.execute("SELECT output, committed_seq FROM outputs").fetchall()
        data = db.execute("SELECT data FROM events WHERE type = 'step_validated'").fetchone()
        state_row = db.execute("SELECT state FROM runs").fetchone()
    assert stored == [('{"text":"x"}', 4)]
    assert "output" not in data[0] and '"text":"x"' not in state_row[0]


def test_batches_of_several_runs_share_a_transaction(tmp_path: Path) -> None:
    with Store(tmp_path / "baton.db") as store:
        one, two = _new_run(store, run_id="one"), _new_run(store, run_id="two")
        event_one, after_one = _next(one, ev.CancelRequested(by="x"))
        event_two, after_two = _next(two, ev.CancelRequested(by="y"))
        results = store.append_many(
            [
                Batch([event_one], after_one, "me", 2000),
                Batch([event_two], after_two, "not me", 2000),
            ]
        )
        assert results[0] is None and isinstance(results[1], LeaseLost)
        assert store.load_state("one").cancel_requested
        assert not store.load_state("two").cancel_requested  # rolled back on its own


def test_group_commit_of_concurrent_runs(tmp_path: Path) -> None:
    db = tmp_path / "baton.db"
    with Store(db) as store:
        states = [_new_run(store, run_id=f"r{i}") for i in range(8)]
    errors: list[BaseException] = []

    def drive(state: RunState) -> None:
        try:
            with group_commit(db) as group:
                for _ in range(5):
                    event, state = _next(state, ev.RunResumed(owner="me", spec_sha256="pin"))
                    group.append(Batch([event], state, "me", 2000))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=drive, args=(state,)) for state in states]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with Store(db) as store:
        assert all(store.load_state(s.run_id).resumes == 5 for s in states)
        assert all(len(store.load_events(s.run_id)) == 6 for s in states)
