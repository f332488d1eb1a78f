"""A commit's rows: encoded before its transaction, written in a few statements.

The database's write lock is the one thing the processes of a worker pool share, so a
transaction holds it for as short a time as it can (measured in docs/benchmarks.md, "the
local worker pool": with the rows written one statement each, the write lock was held
for most of the run, a third of it by the fsync and the rest by some 7 statements per
run's batch, each giving up Python's GIL to the threads of the other runs and waiting to
get it back):

- `encode` turns a batch into rows (JSON text, tuples) with no database: the run's own
  thread does it before handing the batch to the group committer (store.group).
- `write_together` writes the batches of many runs with one statement per table: one
  read of every run's lease holder and log end, then multi-row INSERTs and UPDATE ...
  FROM (VALUES ...) for the rows of all the batches that passed. A batch that fails its
  check (a lost lease, a log that moved on, a run id taken) is left out and reported,
  as `Store.append_many` does with a savepoint per batch; any error SQLite raises sends
  the caller back to that path (each batch on its own), which finds the culprit.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from baton.runtime.core.events import Event, StepCommitted, StepValidated
from baton.runtime.core.state import RunState
from baton.runtime.store import lease as leases
from baton.runtime.store.errors import LeaseLost, RunExists, StoreError, UnknownRun
from baton.runtime.store.records import Batch

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
# parameters per statement: within the oldest limit SQLite may be built with (999)
MAX_PARAMETERS = 999


def dumps(value: Any) -> str:
    """json.dumps(value, separators=(",", ":"), ensure_ascii=False), one encoder for all."""
    return _ENCODER.encode(value)


@dataclass(frozen=True)
class EventRows:
    """A batch's events as rows, and the output rows they write (encoded, no SQL)."""

    events: list[tuple[Any, ...]]
    # per step_validated: its output row; per step_committed: (seq, idempotency key)
    outputs: list[tuple[tuple[Any, ...] | None, tuple[Any, ...] | None]]


@dataclass(frozen=True)
class Encoded:
    """What a batch writes, encoded before its transaction."""

    state_json: str | None  # the run's row's state (a new run, or a snapshot)
    events: EventRows


def encode(batch: Batch) -> Encoded:
    """`batch` encoded for `Store.append_many` (pure: no database)."""
    state_json = batch.state.stored_json() if batch.create or batch.snapshot else None
    return Encoded(state_json, event_rows(batch.events))


def event_rows(events: Sequence[Event]) -> EventRows:
    rows = []
    outputs: list[tuple[tuple[Any, ...] | None, tuple[Any, ...] | None]] = []
    for event in events:
        data = event.body.data()
        body = event.body
        if isinstance(body, StepValidated):
            del data["output"]  # stored once, in outputs
            output = (
                body.idempotency_key,
                event.run_id,
                body.step,
                body.attempt,
                body.checksum,
                dumps(body.output),
            )
            outputs.append((output, None))
        elif isinstance(body, StepCommitted):
            outputs.append((None, (event.seq, body.idempotency_key)))
        rows.append(
            (
                event.run_id,
                event.seq,
                event.step,
                event.attempt,
                event.ts,
                event.trace_id,
                event.type,
                dumps(data),
            )
        )
    return EventRows(rows, outputs)


RUN_COLUMNS = (
    "run_id, workflow, version, spec_sha256, spec, status, parent_run_id, trace_id, "
    "created_ms, updated_ms, last_seq, state, lease_owner, lease_expires_ms"
)


def run_row(state: RunState, state_json: str, owner: str | None, now_ms: int) -> tuple[Any, ...]:
    """A new run's row (RUN_COLUMNS), leased to `owner` (None: no lease)."""
    parent = state.parent["run_id"] if state.parent else None
    return (
        state.run_id,
        state.workflow,
        state.version,
        state.spec_sha256,
        state.spec,
        state.status,
        parent,
        state.trace_id,
        state.started_ms,
        state.updated_ms,
        state.last_seq,
        state_json,
        owner,
        None if owner is None else now_ms + leases.lease_ms(),
    )


def sqlite_writes_together(batches: Sequence[Batch]) -> bool:
    """Whether `write_together` can take these batches: one per run (a run's batches
    follow each other), and an SQLite with UPDATE ... FROM (3.33) and JSON functions
    (built in from 3.38; where they are missing, SQLite's error sends the caller to a
    savepoint per batch)."""
    if sqlite3.sqlite_version_info < (3, 33, 0):
        return False
    return len({batch.state.run_id for batch in batches}) == len(batches)


def write_together(
    db: sqlite3.Connection, batches: Sequence[Batch], encoded: Sequence[Encoded]
) -> list[StoreError | None]:
    """Write the batches of several runs (one each) in the open transaction; each
    batch's error, or None. Raises sqlite3.Error when SQLite refuses a statement."""
    found = _leases_and_ends(db, [batch.state.run_id for batch in batches])
    results = [_check(batch, found) for batch in batches]
    ok = [(b, e) for b, e, r in zip(batches, encoded, results, strict=True) if r is None]
    created = [
        run_row(b.state, e.state_json, b.owner, b.now_ms)
        for b, e in ok
        if b.create and e.state_json is not None
    ]
    _insert(db, "runs", RUN_COLUMNS, created)
    snapshots = [_snapshot_row(b, e.state_json) for b, e in ok if not b.create and b.snapshot]
    _update_runs(db, snapshots)
    outputs = [out for _, e in ok for out, _ in e.events.outputs if out is not None]
    _insert(
        db,
        "outputs",
        "idempotency_key, run_id, step, attempt, checksum, output",
        outputs,
        " ON CONFLICT(idempotency_key) DO NOTHING",
    )
    committed = [done for _, e in ok for _, done in e.events.outputs if done is not None]
    for chunk in _chunks(committed, 2):
        db.execute(
            f"WITH v(seq, key) AS (VALUES {_marks(len(chunk), 2)}) "
            "UPDATE outputs SET committed_seq = v.seq FROM v "
            "WHERE outputs.idempotency_key = v.key AND outputs.committed_seq IS NULL",
            [value for row in chunk for value in row],
        )
    events = [row for _, e in ok for row in e.events.events]
    _insert(db, "events", "run_id, seq, step, attempt, ts, trace_id, type, data", events)
    inbox = [(outcome, request) for b, _ in ok for request, outcome in b.inbox_outcomes]
    if inbox:
        db.executemany("UPDATE inbox SET outcome = ? WHERE id = ?", inbox)
    return results


def _leases_and_ends(
    db: sqlite3.Connection, ids: Sequence[str]
) -> dict[str, tuple[str | None, int | None]]:
    """Each run's lease holder and the seq its log ends at, by run (a run not found is
    missing). Read as one JSON row: each row a statement returns costs a hand-over of
    the GIL, and with the threads of a hundred runs waiting for it that was most of the
    transaction's time (docs/benchmarks.md)."""
    found: dict[str, tuple[str | None, int | None]] = {}
    for chunk in _chunks(ids, 1):
        marks = ",".join("?" * len(chunk))
        (text,) = db.execute(
            "SELECT json_group_array(json_array(run_id, lease_owner, "
            "(SELECT max(seq) FROM events WHERE run_id = runs.run_id))) "
            f"FROM runs WHERE run_id IN ({marks})",
            chunk,
        ).fetchone()
        for run_id, holder, last_seq in json.loads(text):
            found[run_id] = (holder, last_seq)
    return found


def _check(batch: Batch, found: dict[str, tuple[str | None, int | None]]) -> StoreError | None:
    """Why `batch` may not be written (as `Store._append` would refuse it), or None."""
    run_id = batch.state.run_id
    row = found.get(run_id)
    if batch.create:
        return RunExists(run_id) if row is not None else None
    if row is None:
        return UnknownRun(run_id)
    holder, last_seq = row
    if holder != batch.owner:
        return LeaseLost(run_id, holder)
    return log_gap(batch, last_seq)


def log_gap(batch: Batch, last_seq: int | None) -> StoreError | None:
    """Why `batch` does not continue a log ending at `last_seq`, or None."""
    if batch.events and batch.events[0].seq != (last_seq or 0) + 1:
        return StoreError(
            f"run '{batch.state.run_id}': batch starts at {batch.events[0].seq}, "
            f"log is at {last_seq}"
        )
    return None


def snapshot_values(batch: Batch, state_json: str | None) -> tuple[Any, ...]:
    """What a batch rewrites in its run's row: status, spec, updated, last seq, state,
    and its lease renewed (released by the batch that ends the run: nothing more to
    drive, which spares the driver a transaction of its own for that)."""
    state = batch.state
    ended = state.outcome is not None
    return (
        state.status,
        state.spec_sha256,
        state.updated_ms,
        state.last_seq,
        state_json,
        None if ended else batch.owner,
        None if ended else batch.now_ms + leases.lease_ms(),
    )


def _snapshot_row(batch: Batch, state_json: str | None) -> tuple[Any, ...]:
    return (batch.state.run_id, *snapshot_values(batch, state_json))


def _update_runs(db: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    for chunk in _chunks(rows, 8):
        db.execute(
            "WITH v(run_id, status, spec_sha256, updated_ms, last_seq, state, lease_owner, "
            f"lease_expires_ms) AS (VALUES {_marks(len(chunk), 8)}) "
            "UPDATE runs SET status = v.status, spec_sha256 = v.spec_sha256, "
            "updated_ms = v.updated_ms, last_seq = v.last_seq, state = v.state, "
            "lease_owner = v.lease_owner, lease_expires_ms = v.lease_expires_ms "
            "FROM v WHERE runs.run_id = v.run_id",
            [value for row in chunk for value in row],
        )


def _insert(
    db: sqlite3.Connection, table: str, columns: str, rows: list[tuple[Any, ...]], tail: str = ""
) -> None:
    width = columns.count(",") + 1
    for chunk in _chunks(rows, width):
        db.execute(
            f"INSERT INTO {table}({columns}) VALUES {_marks(len(chunk), width)}{tail}",
            [value for row in chunk for value in row],
        )


def _marks(rows: int, width: int) -> str:
    one = "(" + ",".join("?" * width) + ")"
    return ",".join([one] * rows)


def _chunks(items: Sequence[Any], width: int) -> Iterator[Sequence[Any]]:
    """`items` in slices whose parameters (`width` each) fit in one statement."""
    size = MAX_PARAMETERS // width
    for start in range(0, len(items), size):
        yield items[start : start + size]
