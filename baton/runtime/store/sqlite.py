"""The local event store: one SQLite file (WAL, synchronous=FULL) holding every run.

Every write is one transaction: a batch of events, the outputs they validate (stored
once, under the step's idempotency key, never inside the event or the state), the
run's new materialized state and a renewed lease. A batch is all or nothing, so a crash
leaves the log at a batch boundary and the state always equals the fold of the log.

`after_commit`, if given, is called with the number of events each commit made durable,
right after it (the crash tests kill the process there: runtime.testing).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

from baton.runtime.core.events import (
    Event,
    EventFormatError,
    StepValidated,
    body_from_data,
)
from baton.runtime.core.state import FINAL_STATUSES, RunState
from baton.runtime.store import lease as leases
from baton.runtime.store.connection import (
    ReadOnlyDatabase,
    is_empty,
    is_read_only_error,
    open_for_reading,
    open_for_writing,
)
from baton.runtime.store.errors import LeaseLost, RunExists, StoreError, UnknownRun
from baton.runtime.store.records import Batch, InboxRequest, RunSummary
from baton.runtime.store.rows import (
    Encoded,
    EventRows,
    encode,
    event_rows,
    log_gap,
    run_row,
    snapshot_values,
    sqlite_writes_together,
    write_together,
)
from baton.runtime.store.writelock import turn

DEFAULT_DB = Path(".baton") / "baton.db"
AfterCommit = Callable[[int], None]  # called with the number of events a commit made durable


def db_path(option: str | None = None) -> Path:
    """`--db`, else `BATON_DB`, else `.baton/baton.db`."""
    return Path(option or os.environ.get("BATON_DB") or DEFAULT_DB)


class Store:
    """A connection to the event store (one per thread, unless `shared`).

    `create`: create the database if it does not exist. `readonly`: read through a
    `mode=ro` connection, which never migrates, checkpoints or writes (the read-only
    commands); a write then fails. `after_commit`: see the module docstring.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        create: bool = True,
        shared: bool = False,
        readonly: bool = False,
        after_commit: AfterCommit | None = None,
    ) -> None:
        self.path = Path(path)
        self.after_commit = after_commit
        self._empty = False  # read-only on a file with no tables yet: it holds no runs
        self._writers: Path | None = None  # the key of its writers' queue (writelock)
        if readonly:
            self._db = open_for_reading(self.path)
            self._empty = is_empty(self._db)
            return
        if not create and not self.path.exists():
            raise StoreError(f"database '{self.path}' does not exist")
        self._db = open_for_writing(self.path, shared)
        self._writers = self.path.resolve()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def turn(self) -> contextlib.AbstractContextManager[None]:
        """This writer's turn on the database (store.writelock), held across calls: a
        group committer takes it before it takes the batches waiting."""
        return turn(self._writers) if self._writers else contextlib.nullcontext()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (BEGIN IMMEDIATE): all or nothing.
        The writers of one database take turns (store.writelock) rather than poll."""
        with self.turn():
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as error:
                raise self._error(error) from error
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException as error:
                self._db.execute("ROLLBACK")
                if isinstance(error, sqlite3.Error):
                    raise self._error(error) from error
                raise

    def _error(self, error: sqlite3.Error) -> StoreError:
        if is_read_only_error(error):
            return ReadOnlyDatabase(self.path, f"SQLite: {error}")
        return StoreError(f"database '{self.path}': {error}")

    def _committed(self, count: int) -> None:
        if self.after_commit is not None and count:
            self.after_commit(count)

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        if self._empty:  # no tables to read (and a read-only store may not create them)
            return []
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as error:
            raise StoreError(f"database '{self.path}': {error}") from error

    # -- runs and their logs

    def create_run(self, event: Event, state: RunState, owner: str | None, now_ms: int) -> None:
        """Record a new run (its `run_started` event) and give `owner` its lease (None:
        no lease, a run queued for the worker pool)."""
        self.create_runs([(event, state)], owner, now_ms)

    def create_runs(
        self, runs: Sequence[tuple[Event, RunState]], owner: str | None, now_ms: int
    ) -> None:
        """Record several new runs in one transaction (all or none: RunExists if one of
        the ids is taken), each leased to `owner` (None: no lease)."""
        encoded = [(state, state.stored_json(), event_rows([event])) for event, state in runs]
        with self._write() as db:
            for state, state_json, rows in encoded:
                self._insert_run(db, state, state_json, owner, now_ms)
                self._insert_events(db, rows)
        self._committed(len(runs))

    def _insert_run(
        self,
        db: sqlite3.Connection,
        state: RunState,
        state_json: str,
        owner: str | None,
        now_ms: int,
    ) -> None:
        if db.execute("SELECT 1 FROM runs WHERE run_id = ?", (state.run_id,)).fetchone():
            raise RunExists(state.run_id)
        db.execute(
            "INSERT INTO runs(run_id, workflow, version, spec_sha256, spec, status, "
            "parent_run_id, trace_id, created_ms, updated_ms, last_seq, state, "
            "lease_owner, lease_expires_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            run_row(state, state_json, owner, now_ms),
        )

    def append(
        self,
        events: Sequence[Event],
        state: RunState,
        owner: str,
        now_ms: int,
        inbox_outcomes: Sequence[tuple[int, str]] = (),
    ) -> None:
        """Append a batch to a run's log with its new state, in one transaction.

        Raises LeaseLost if `owner` no longer holds the run (nothing is written).
        """
        batch = Batch(events, state, owner, now_ms, inbox_outcomes)
        if batch.empty:
            return
        encoded = encode(batch)
        with self._write() as db:
            self._append(db, batch, encoded)
        self._committed(len(events))

    def append_many(
        self, batches: Sequence[Batch], encoded: Sequence[Encoded] | None = None
    ) -> list[StoreError | None]:
        """Append batches of several runs in one transaction (one fsync for all).

        Each batch is all or nothing on its own (a savepoint): one that fails (a lost
        lease) is rolled back and reported in its place, the others commit.
        `encoded`: each batch's `encode`, done already (by the thread of its run).
        """
        if encoded is None:
            encoded = [encode(batch) for batch in batches]
        if len(batches) > 1 and sqlite_writes_together(batches):
            try:
                with self._write() as db:
                    together = write_together(db, batches, encoded)
            except StoreError:
                pass  # an error SQLite raised: each batch on its own, below, finds its own
            else:
                self._committed(
                    sum(len(b.events) for b, r in zip(batches, together, strict=True) if r is None)
                )
                return together
        if len(batches) == 1:  # alone: the transaction is the batch, no savepoint needed
            try:
                with self._write() as db:
                    try:
                        self._append(db, batches[0], encoded[0])
                    except (StoreError, sqlite3.Error) as error:
                        raise _BatchFailed(_store_error(error)) from error
            except _BatchFailed as failed:
                return [failed.error]
            self._committed(len(batches[0].events))
            return [None]
        results: list[StoreError | None] = []
        with self._write() as db:
            for batch, rows in zip(batches, encoded, strict=True):
                db.execute("SAVEPOINT batch")
                try:
                    self._append(db, batch, rows)
                except (StoreError, sqlite3.Error) as error:
                    db.execute("ROLLBACK TO batch")
                    results.append(_store_error(error))
                else:
                    results.append(None)
                db.execute("RELEASE batch")
        self._committed(
            sum(len(b.events) for b, r in zip(batches, results, strict=True) if r is None)
        )
        return results

    def _append(self, db: sqlite3.Connection, batch: Batch, encoded: Encoded) -> None:
        state = batch.state
        if batch.create:
            assert encoded.state_json is not None
            self._insert_run(db, state, encoded.state_json, batch.owner, batch.now_ms)
        else:
            self._update_run(db, batch, encoded.state_json)
        self._insert_events(db, encoded.events)
        if batch.inbox_outcomes:
            db.executemany(
                "UPDATE inbox SET outcome = ? WHERE id = ?",
                [(outcome, request) for request, outcome in batch.inbox_outcomes],
            )

    def _update_run(self, db: sqlite3.Connection, batch: Batch, state_json: str | None) -> None:
        """Check that `batch.owner` holds the run and that the batch continues its log;
        with `batch.snapshot`, rewrite the run's row: state, status, renewed lease."""
        state = batch.state
        if batch.snapshot:
            cursor = db.execute(
                "UPDATE runs SET status = ?, spec_sha256 = ?, updated_ms = ?, last_seq = ?, "
                "state = ?, lease_owner = ?, lease_expires_ms = ? "
                "WHERE run_id = ? AND lease_owner = ?",
                (*snapshot_values(batch, state_json), state.run_id, batch.owner),
            )
            if cursor.rowcount != 1:
                self._refuse(db, state.run_id, batch.owner)
            last_seq = self._last_seq(db, state.run_id) if batch.events else None
        else:  # one query: the lease's holder and where the log ends
            row = db.execute(
                "SELECT lease_owner, (SELECT max(seq) FROM events WHERE run_id = ?) "
                "FROM runs WHERE run_id = ?",
                (state.run_id, state.run_id),
            ).fetchone()
            if row is None or row[0] != batch.owner:
                self._refuse(db, state.run_id, batch.owner)
            last_seq = row[1]
        gap = log_gap(batch, last_seq)
        if gap is not None:
            raise gap

    def _last_seq(self, db: sqlite3.Connection, run_id: str) -> int | None:
        row = db.execute("SELECT max(seq) FROM events WHERE run_id = ?", (run_id,)).fetchone()
        return None if row is None else row[0]

    def _refuse(self, db: sqlite3.Connection, run_id: str, owner: str) -> NoReturn:
        """Why a batch may not be appended: an unknown run, or one `owner` does not hold."""
        row = db.execute("SELECT lease_owner FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise UnknownRun(run_id)
        raise LeaseLost(run_id, row[0])

    def _insert_events(self, db: sqlite3.Connection, rows: EventRows) -> None:
        """The rows `event_rows` made, in their order: a validated output before the
        commit that marks it, within the same batch."""
        for output, committed in rows.outputs:
            if output is not None:
                db.execute(
                    "INSERT INTO outputs(idempotency_key, run_id, step, attempt, checksum, output)"
                    " VALUES (?,?,?,?,?,?) ON CONFLICT(idempotency_key) DO NOTHING",
                    output,
                )
            if committed is not None:
                db.execute(
                    "UPDATE outputs SET committed_seq = ? "
                    "WHERE idempotency_key = ? AND committed_seq IS NULL",
                    committed,
                )
        db.executemany(
            "INSERT INTO events(run_id, seq, step, attempt, ts, trace_id, type, data) "
            "VALUES (?,?,?,?,?,?,?,?)",
            rows.events,
        )

    def has_run(self, run_id: str) -> bool:
        return bool(self._read("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)))

    def load_state(self, run_id: str) -> RunState:
        """The materialized state, with each validated output put back in its step.

        The run's row holds the state as of some event (a driver does not rewrite it at
        every commit); the log's events after that one are folded in, so this is always
        the fold of the whole log.
        """
        rows = self._read("SELECT state FROM runs WHERE run_id = ?", (run_id,))
        if not rows:
            raise UnknownRun(run_id)
        try:
            state = RunState.from_json(json.loads(rows[0][0]))
        except (ValueError, KeyError, TypeError) as error:
            raise StoreError(f"run '{run_id}': stored state is unreadable ({error})") from error
        validated = [
            record.idempotency_key
            for record in state.steps.values()
            if record.checksum is not None and record.idempotency_key is not None
        ]
        outputs = self.outputs_by_key(run_id, validated)
        steps = {
            step: dataclasses.replace(record, output=outputs[record.idempotency_key])
            if record.checksum is not None and record.idempotency_key in outputs
            else record
            for step, record in state.steps.items()
        }
        return self._fold_later_events(dataclasses.replace(state, steps=steps))

    def _fold_later_events(self, state: RunState) -> RunState:
        """A stored state brought up to date with the log's events after it (if any)."""
        from baton.runtime.core.apply import IllegalTransition, apply

        try:
            for event in self.load_events(state.run_id, state.last_seq):
                state = apply(state, event)
        except IllegalTransition as error:
            raise StoreError(
                f"run '{state.run_id}': the log does not follow the stored state ({error})"
            ) from error
        return state

    def load_events(self, run_id: str, after_seq: int = 0) -> list[Event]:
        """A run's log (from `after_seq` on), outputs put back in `step_validated`."""
        rows = self._read(
            "SELECT seq, step, attempt, ts, trace_id, type, data FROM events "
            "WHERE run_id = ? AND seq > ? ORDER BY seq",
            (run_id, after_seq),
        )
        if not rows and after_seq == 0 and not self.has_run(run_id):
            raise UnknownRun(run_id)
        parsed = []
        for seq, step, attempt, ts, trace_id, event_type, data in rows:
            try:
                values = json.loads(data)
                key = values["idempotency_key"] if event_type == StepValidated.TYPE else None
            except (ValueError, KeyError) as error:
                raise StoreError(f"run '{run_id}': event {seq} is unreadable ({error})") from error
            parsed.append((seq, step, attempt, ts, trace_id, event_type, values, key))
        outputs = self.outputs_by_key(run_id, [key for *_, key in parsed if key is not None])
        events = []
        for seq, step, attempt, ts, trace_id, event_type, values, key in parsed:
            if key is not None:
                values["output"] = outputs.get(key)
            try:
                body = body_from_data(event_type, step, attempt, values)
            except (ValueError, KeyError, EventFormatError) as error:
                raise StoreError(f"run '{run_id}': event {seq} is unreadable ({error})") from error
            events.append(Event(seq, run_id, ts, trace_id, body))
        return events

    def outputs(self, run_id: str) -> dict[str, Any]:
        """Every validated output of a run, by idempotency key."""
        rows = self._read("SELECT idempotency_key, output FROM outputs WHERE run_id = ?", (run_id,))
        try:
            return {key: json.loads(text) for key, text in rows}
        except ValueError as error:
            raise StoreError(f"run '{run_id}': a stored output is unreadable") from error

    def outputs_by_key(self, run_id: str, keys: Iterable[str]) -> dict[str, Any]:
        """The validated outputs of a run stored under `keys` (idempotency keys), by key."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, Any] = {}
        for start in range(0, len(wanted), 500):  # within SQLite's limit on parameters
            chunk = wanted[start : start + 500]
            rows = self._read(
                "SELECT idempotency_key, output FROM outputs WHERE idempotency_key IN "
                f"({','.join('?' * len(chunk))})",
                chunk,
            )
            for key, text in rows:
                try:
                    found[key] = json.loads(text)
                except ValueError as error:
                    raise StoreError(f"run '{run_id}': a stored output is unreadable") from error
        return found

    def list_runs(self, limit: int = 1000) -> list[RunSummary]:
        rows = self._read(
            "SELECT run_id, workflow, version, status, parent_run_id, created_ms, updated_ms, "
            "state FROM runs ORDER BY created_ms DESC, run_id LIMIT ?",
            (limit,),
        )
        summaries = []
        for run_id, workflow, version, status, parent, created, updated, state in rows:
            try:
                stored = RunState.from_json(json.loads(state))
                if status not in FINAL_STATUSES:  # its log may be ahead of its row
                    stored = self.load_state(run_id)
                    updated = stored.updated_ms
                totals = stored.totals()
                waiting_on, budgets = tuple(stored.waiting_on), stored.budgets
            except (ValueError, KeyError, TypeError, StoreError):
                totals, waiting_on, budgets = {}, (), {}
            summaries.append(
                RunSummary(
                    run_id,
                    workflow,
                    version,
                    status,
                    parent,
                    created,
                    updated,
                    totals,
                    waiting_on,
                    budgets,
                )
            )
        return summaries

    # -- leases

    def acquire_lease(self, run_id: str, owner: str, now_ms: int) -> leases.LeaseHolder | None:
        """Take the run's lease for `owner`; None when taken, else who holds it."""
        with self._write() as db:
            row = db.execute(
                "SELECT lease_owner, lease_expires_ms FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
            if row is None:
                raise UnknownRun(run_id)
            holder, expires = row
            if not _lease_free(holder, expires, owner, now_ms):
                return leases.LeaseHolder(holder, expires or 0)
            db.execute(
                "UPDATE runs SET lease_owner = ?, lease_expires_ms = ? WHERE run_id = ?",
                (owner, now_ms + leases.lease_ms(), run_id),
            )
        return None

    def claim_runs(self, wanted: Sequence[tuple[str, str]], now_ms: int) -> list[str]:
        """Take the leases of several runs in one transaction, each for its own owner
        (`wanted`: (run, owner) pairs): the runs taken. A run is taken if it can still
        move (running, not waiting for a decision) and its lease is free, as in
        `acquire_lease`; others are skipped (another worker was first)."""
        taken = []
        with self._write() as db:
            for run_id, owner in wanted:
                row = db.execute(
                    "SELECT lease_owner, lease_expires_ms FROM runs "
                    "WHERE run_id = ? AND status = 'running'",
                    (run_id,),
                ).fetchone()
                if row is None or not _lease_free(row[0], row[1], owner, now_ms):
                    continue
                db.execute(
                    "UPDATE runs SET lease_owner = ?, lease_expires_ms = ? WHERE run_id = ?",
                    (owner, now_ms + leases.lease_ms(), run_id),
                )
                taken.append(run_id)
        return taken

    def live_lease(self, run_id: str, now_ms: int) -> leases.LeaseHolder | None:
        """Who drives the run now: a lease that has not expired and whose holder is not
        a dead process on this host (what `acquire_lease` would not take over); None
        when nothing drives it. Reads only."""
        rows = self._read(
            "SELECT lease_owner, lease_expires_ms FROM runs WHERE run_id = ?", (run_id,)
        )
        if not rows:
            raise UnknownRun(run_id)
        holder, expires = rows[0]
        if not leases.is_live(holder, expires, now_ms):
            return None
        return leases.LeaseHolder(holder, expires or 0)

    def renew_lease(self, run_id: str, owner: str, now_ms: int) -> None:
        with self._write() as db:
            cursor = db.execute(
                "UPDATE runs SET lease_expires_ms = ? WHERE run_id = ? AND lease_owner = ?",
                (now_ms + leases.lease_ms(), run_id, owner),
            )
            if cursor.rowcount == 0:
                raise LeaseLost(run_id, None)

    def release_lease(self, run_id: str, owner: str) -> None:
        held = self._read(
            "SELECT 1 FROM runs WHERE run_id = ? AND lease_owner = ?", (run_id, owner)
        )
        if not held:  # released already (a run's last batch does it): no transaction
            return
        with self._write() as db:
            db.execute(
                "UPDATE runs SET lease_owner = NULL, lease_expires_ms = NULL "
                "WHERE run_id = ? AND lease_owner = ?",
                (run_id, owner),
            )

    # -- the local worker pool (runtime.pool)

    def movable_runs(self) -> list[tuple[str, str | None, int | None]]:
        """(run, lease holder, lease expiry) of each top-level run whose stored status is
        running, oldest first: what a worker may claim if its lease is free."""
        rows = self._read(
            "SELECT run_id, lease_owner, lease_expires_ms FROM runs "
            "WHERE status = 'running' AND parent_run_id IS NULL ORDER BY created_ms, run_id"
        )
        return [(str(run), holder, expires) for run, holder, expires in rows]

    def data_version(self) -> int:
        """A number that changes when another connection commits to the database (SQLite's
        `data_version`): a worker looks for runs again only when it changed."""
        return int(self._read("PRAGMA data_version")[0][0])

    def beat(self, worker: str, expires_ms: int | None, forget_before_ms: int = 0) -> None:
        """Record that `worker` is alive until `expires_ms` (None: it left), in `meta`;
        forget workers whose last beat expired before `forget_before_ms`."""
        key = f"worker:{worker}"
        with self._write() as db:
            if expires_ms is None:
                db.execute("DELETE FROM meta WHERE key = ?", (key,))
                return
            db.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, str(expires_ms)),
            )
            db.execute(
                "DELETE FROM meta WHERE key LIKE 'worker:%' AND CAST(value AS INTEGER) < ?",
                (forget_before_ms,),
            )

    def workers(self) -> list[tuple[str, int]]:
        """(worker, alive until) of every worker that beat (`beat`)."""
        rows = self._read("SELECT key, value FROM meta WHERE key LIKE 'worker:%'")
        return [(str(key).removeprefix("worker:"), int(value)) for key, value in rows]

    # -- the inbox: decisions from other processes

    def post_request(
        self,
        run_id: str,
        kind: str,
        ts: int,
        step: str | None = None,
        principal: str | None = None,
        comment: str | None = None,
        channel: str | None = None,
        shown_sha256: str | None = None,
    ) -> int:
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO inbox(run_id, kind, step, principal, comment, ts, channel, "
                "shown_sha256) VALUES (?,?,?,?,?,?,?,?)",
                (run_id, kind, step, principal, comment, ts, channel, shown_sha256),
            )
            request = cursor.lastrowid
        assert request is not None
        return request

    def open_requests(self, run_id: str) -> list[InboxRequest]:
        rows = self._read(
            "SELECT id, run_id, kind, step, principal, comment, ts, channel, shown_sha256 "
            "FROM inbox "
            "WHERE run_id = ? AND outcome IS NULL ORDER BY id",
            (run_id,),
        )
        return [InboxRequest(*row) for row in rows]

    def request_outcome(self, request: int) -> str | None:
        rows = self._read("SELECT outcome FROM inbox WHERE id = ?", (request,))
        return rows[0][0] if rows else None

    # -- principals: who may decide (runtime.identity); only tokens' hashes are kept

    def add_principal(self, name: str, token_sha256: str, created_ms: int) -> bool:
        """Add a principal; False if the name is taken (revoked names stay taken)."""
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO principals(name, token_sha256, created_ms) VALUES (?,?,?) "
                "ON CONFLICT(name) DO NOTHING",
                (name, token_sha256, created_ms),
            )
            return cursor.rowcount == 1

    def revoke_principal(self, name: str, revoked_ms: int) -> bool:
        """Revoke a principal's token; False if there is no such live principal."""
        with self._write() as db:
            cursor = db.execute(
                "UPDATE principals SET revoked_ms = ? WHERE name = ? AND revoked_ms IS NULL",
                (revoked_ms, name),
            )
            return cursor.rowcount == 1

    def principals(self) -> list[tuple[str, str, int, int | None]]:
        """(name, token_sha256, created_ms, revoked_ms) of every principal, by name."""
        rows = self._read(
            "SELECT name, token_sha256, created_ms, revoked_ms FROM principals ORDER BY name"
        )
        return [(str(n), str(h), int(c), None if r is None else int(r)) for n, h, c, r in rows]


def _lease_free(holder: str | None, expires: int | None, owner: str, now_ms: int) -> bool:
    """Whether `owner` may take a lease held by `holder` until `expires`: its own, or
    not live (none held, expired, or held by a dead process on this host)."""
    return holder == owner or not leases.is_live(holder, expires, now_ms)


class _BatchFailed(Exception):
    """A lone batch failed: its transaction is rolled back and the error reported."""

    def __init__(self, error: StoreError) -> None:
        super().__init__(str(error))
        self.error = error


def _store_error(error: StoreError | sqlite3.Error) -> StoreError:
    return error if isinstance(error, StoreError) else StoreError(str(error))
