"""The local worker pool: processes that claim runs from the SQLite database and drive them.

`baton run --queue` only records a run (`enqueue`: its `run_started`, no lease); any
process running a `Worker` (`baton worker --local`) claims runs that can move and drives
each under its lease, in a thread of its own, until the run ends or waits for a person.
A run can move when its stored status is running (not final, not waiting for a
decision), it is a top-level run (a child run is driven by its parent's driver) and its
lease is free: never taken (a queued run), released (a decision was recorded while no
process drove it), expired, or held by a dead process on this host (a worker killed
mid-run: its runs are taken over at once, and their interrupted attempts run again under
the same idempotency keys, as `baton resume` does).

Claiming is the lease itself (`Store.claim_runs`: the leases of a batch of runs in one
IMMEDIATE transaction, each checked again inside it), so two workers never drive one
run; a worker that lost a lease cannot write (the store checks the owner in every
append). `Worker.serve` is the reusable claim/drive loop (a web console can run it in a
thread); `pool_running` says whether a worker is alive, from the heartbeats workers keep
in the `meta` table (no schema change).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from baton.runtime.api import (
    DriverOptions,
    LoadedWorkflow,
    RunError,
    check_run_id,
    validate_inputs,
)
from baton.runtime.core import events as ev
from baton.runtime.core.apply import apply
from baton.runtime.core.plan import run_started
from baton.runtime.core.state import RunState
from baton.runtime.driver.local import LocalDriver, RunBusy, now_ms
from baton.runtime.model import JSON
from baton.runtime.store import Store, new_owner
from baton.runtime.store import lease as leases
from baton.runtime.store.errors import StoreError
from baton.runtime.telemetry import export_finished

log = logging.getLogger("baton.runtime.pool")

Load = Callable[[str], LoadedWorkflow]
RETRY_AFTER_S = 30.0  # a run a worker could not drive (its spec is gone) is tried again
TICK_S = 0.02  # how often an idle worker checks whether the database changed


def enqueue(db: Path, loaded: LoadedWorkflow, inputs: JSON, run_id: str) -> RunState:
    """Record a new run for a worker to drive: validated, its `run_started` durable,
    no lease held. RunExists for a known id."""
    [state] = enqueue_many(db, loaded, [(inputs, run_id)])
    return state


def enqueue_many(
    db: Path, loaded: LoadedWorkflow, runs: Sequence[tuple[JSON, str]]
) -> list[RunState]:
    """`enqueue` for several runs (inputs, run id) of one workflow, in one transaction
    (one fsync): all are recorded, or none (RunExists if an id is taken)."""
    now = now_ms()
    started = []
    for inputs, run_id in runs:
        check_run_id(run_id)
        validate_inputs(loaded.workflow, inputs)
        body = run_started(loaded.workflow, inputs, loaded.pin, loaded.spec)
        event = ev.Event(1, run_id, now, uuid.uuid4().hex, body)
        started.append((event, apply(None, event)))
    with Store(db) as store:
        store.create_runs(started, None, now)
    return [state for _, state in started]


def claimable(store: Store, now: int, skip: set[str] | None = None) -> tuple[list[str], int]:
    """Top-level runs that can move and whose lease is free, oldest first, and how
    many others a live process holds (reads only: the claim is `Store.claim_runs`,
    which checks again)."""
    free, held = [], 0
    for run_id, holder, expires in store.movable_runs():
        if skip and run_id in skip:
            continue
        if not leases.is_live(holder, expires, now):
            free.append(run_id)
        else:
            held += 1
    return free, held


def drive_claimed(
    db: Path,
    run_id: str,
    load: Load,
    options: DriverOptions | None = None,
    owner: str | None = None,
) -> RunState | None:
    """Claim `run_id` and drive it until it ends or waits for a person; None if another
    process holds it. A run never driven (queued) starts without `run_resumed`.
    `owner`: the lease is held already, by `owner` (`Worker` claims runs in batches);
    it is released if the run cannot be driven here."""
    options = replace(options or DriverOptions(), detach=True)
    with Store(db, create=False, after_commit=options.after_commit) as store:
        try:
            state = store.load_state(run_id)
            if state.outcome is not None:
                if owner is not None:
                    store.release_lease(run_id, owner)
                return state
            loaded = load(state.spec)
            if loaded.pin != state.spec_sha256:
                raise RunError(
                    f"run '{run_id}' was started from another version of {state.spec}; "
                    "a worker does not continue it on a different spec (use `baton resume`)"
                )
        except BaseException:
            if owner is not None:  # a run this worker cannot drive is left to others
                store.release_lease(run_id, owner)
            raise
        driver = LocalDriver(store, loaded.workflow, replace(options, resolver=loaded.resolver))
        if owner is not None:
            driver.owner = owner
        try:
            result = driver.resume(
                run_id,
                loaded.pin,
                queued=state.last_seq == 1,
                held=owner is not None,
                state=state,  # read under the lease when it is held
            )
        except RunBusy:
            return None
    export_finished(db, result.state)
    return result.state


@dataclass
class Worker:
    """One process's claim/drive loop over the database at `db` (see `serve`)."""

    db: Path
    load: Load
    concurrency: int = 16  # runs driven at once by this process, one thread each
    poll_s: float = 0.2  # how often an idle worker looks for runs
    grace_s: float = 30.0  # on stop, how long the runs in hand get to end or wait
    options: DriverOptions = field(default_factory=DriverOptions)
    on_finish: Callable[[str, RunState | None], None] | None = None
    owner: str = field(default_factory=new_owner)
    _active: set[str] = field(default_factory=set)
    _failed: dict[str, float] = field(default_factory=dict)  # run -> when to try again
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _freed: threading.Event = field(default_factory=threading.Event)  # a run let go
    _seen: dict[str, float] = field(default_factory=dict)  # free run -> first seen free

    def serve(self, stop: threading.Event) -> None:
        """Claim and drive runs until `stop` is set; then give the runs in hand
        `grace_s` to end or wait (a run still driven after that is left to its lease,
        which another worker takes over once this process is gone).

        The worker looks for runs when one of its runs let go, every `poll_s` (a lease
        can expire with no commit), and, while it drives none, when the database
        changed (SQLite's `data_version`, checked every TICK_S: a queued run is picked
        up at once). It claims runs in batches, their leases all taken in one
        transaction, on one connection kept for the loop."""
        threads: list[threading.Thread] = []
        last_beat = -1e9
        store: Store | None = None
        version: int | None = None  # the database's data_version at the last look
        looked = -1e9  # when this worker last looked for runs
        while not stop.is_set():
            now = time.monotonic()
            if now - last_beat > leases.lease_ms() / 4000:
                self._heartbeat()
                last_beat = now
            threads = [thread for thread in threads if thread.is_alive()]
            freed = self._freed.is_set()
            self._freed.clear()  # a run let go from here on wakes the wait below
            free = self.concurrency - len(threads)
            claimed: list[tuple[str, str]] = []
            if store is None and now - looked >= self.poll_s:  # not yet, or it failed
                store, looked = self._open(), now
            if free > 0 and store is not None:
                # idle, a commit may be runs queued: look at once; busy, the commits are
                # mostly its own runs' (looking costs a scan of the runs: the GIL its
                # drivers need), so it looks when one of them let go, or every poll_s
                current = self._version(store) if not threads else version
                if freed or current != version or now - looked >= self.poll_s:
                    claimed = self._claim(store, free)
                    version, looked = current, now
            for run_id, owner in claimed:
                thread = threading.Thread(
                    target=self._drive,
                    args=(run_id, owner),
                    name=f"baton-{run_id}",
                    daemon=True,
                )
                thread.start()
                threads.append(thread)
            if not claimed:
                self._freed.wait(TICK_S)
        if store is not None:
            store.close()
        deadline = time.monotonic() + self.grace_s
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._heartbeat(leaving=True)

    def _open(self) -> Store | None:
        try:
            return Store(self.db)
        except StoreError as error:
            log.warning("worker %s: cannot open %s: %s", self.owner, self.db, error)
            return None

    def _version(self, store: Store) -> int | None:
        try:
            return store.data_version()
        except StoreError:
            return None  # never equal to the last one: the worker looks (and says why)

    def _claim(self, store: Store, limit: int) -> list[tuple[str, str]]:
        """Runs this worker now holds the leases of (run, lease owner), at most `limit`.

        Its share: the runs that can move, free or held by a live process, divided by
        the live workers, less the runs it drives (so two workers woken by one batch of
        queued runs take half each, rather than the first taking all). A run left free
        for `poll_s` since this worker first saw it is anybody's (the other workers are
        full, or gone). Each run gets a lease owner of its own (`new_owner`: this
        process and a nonce), as a driver of `baton resume` would."""
        now = time.monotonic()
        with self._lock:
            mine = len(self._active)
            skip = set(self._active) | {r for r, until in self._failed.items() if until > now}
        try:
            free, held = claimable(store, now_ms(), skip)
            workers = self._live_workers(store)
        except StoreError as error:
            log.warning("worker %s: cannot read %s: %s", self.owner, self.db, error)
            return []
        self._seen = {run_id: self._seen.get(run_id, now) for run_id in free}
        share = -(-(len(free) + held + mine) // workers) - mine  # ceil, less what it has
        left = [run_id for run_id in free if now - self._seen[run_id] >= self.poll_s]
        fresh = [run_id for run_id in free if now - self._seen[run_id] < self.poll_s]
        wanted = [(run_id, new_owner()) for run_id in (left + fresh[: max(0, share)])[:limit]]
        if not wanted:
            return []
        try:
            taken = set(store.claim_runs(wanted, now_ms()))
        except StoreError as error:
            log.warning("worker %s: cannot claim runs of %s: %s", self.owner, self.db, error)
            return []
        claimed = [(run_id, owner) for run_id, owner in wanted if run_id in taken]
        with self._lock:
            self._active.update(run_id for run_id, _ in claimed)
        return claimed

    def _live_workers(self, store: Store) -> int:
        """How many workers are alive on this database (this one at least)."""
        now = now_ms()
        alive = {owner for owner, until in store.workers() if leases.is_live(owner, until, now)}
        return len(alive | {self.owner})

    def _drive(self, run_id: str, owner: str) -> None:
        state: RunState | None = None
        try:
            state = drive_claimed(self.db, run_id, self.load, self.options, owner)
        except (RunError, StoreError) as error:  # a spec gone or changed, a lost lease
            log.warning("worker %s: run %s: %s", self.owner, run_id, error)
            self._later(run_id)
        except Exception:  # a bug must not stop this worker's other runs
            log.exception("worker %s: run %s crashed", self.owner, run_id)
            self._later(run_id)
        finally:
            with self._lock:
                self._active.discard(run_id)
            self._freed.set()
        if self.on_finish is not None:
            self.on_finish(run_id, state)

    def _later(self, run_id: str) -> None:
        with self._lock:
            self._failed[run_id] = time.monotonic() + RETRY_AFTER_S

    def _heartbeat(self, leaving: bool = False) -> None:
        """Say this worker is alive (`pool_running`) until a lease's length from now."""
        try:
            with Store(self.db) as store:
                now = now_ms()
                expires = None if leaving else now + leases.lease_ms()
                store.beat(self.owner, expires, forget_before_ms=now - 10 * leases.lease_ms())
        except StoreError as error:
            log.warning("worker %s: heartbeat: %s", self.owner, error)


def pool_running(db: Path) -> bool:
    """Whether a worker (`baton worker --local`) is alive on the database at `db`."""
    if not db.exists():
        return False
    now = now_ms()
    with Store(db, readonly=True) as store:
        workers = store.workers()
    return any(leases.is_live(owner, until, now) for owner, until in workers)
