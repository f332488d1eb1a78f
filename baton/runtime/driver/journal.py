"""A run's state together with the events not yet committed: the unit of group commit.

A driver emits events into the journal (each is applied at once, so `decide` sees it),
then commits them all in one transaction. Decisions other processes left in the inbox
are taken here too, so the driver and a process that only records a decision
(`baton approve`, `baton cancel`) record them the same way.
"""

from __future__ import annotations

import logging

from baton.runtime.core.apply import apply
from baton.runtime.core.commands import event_for
from baton.runtime.core.decisions import DecisionRefused, decision_event, run_end
from baton.runtime.core.events import Event, EventBody, StepCommitted
from baton.runtime.core.state import RunState
from baton.runtime.model import StepState
from baton.runtime.store import Store
from baton.runtime.store.group import GroupCommit
from baton.runtime.store.lease import lease_ms
from baton.runtime.store.records import Batch

log = logging.getLogger("baton.runtime")
COMMITTED = StepState.COMMITTED
# A driver rewrites the run's row (its stored state, status and lease) only when as many
# events as the run has steps (at least SNAPSHOT_EVERY) came after the stored state, when
# the run's status changes, when it ends, and often enough to keep its lease; in between,
# a commit writes just the new events (and outputs), and readers fold the log's events
# after the stored state into it (`Store.load_state`). The state grows with the steps, so
# a fixed interval made each step's share of the rewrites grow with the run (0.37 ->
# 0.55 ms CPU per step from a 100- to a 1,000-step chain); an interval proportional to
# the state keeps it constant, as a log compacted when it outgrows its snapshot does.
# A reader then folds at most about one event per step: the order of reading the state.
SNAPSHOT_EVERY = 128


class Journal:
    """The state of one run and its pending batch of events."""

    def __init__(self, state: RunState, start: Event | None = None) -> None:
        """`start`: a new run's `run_started` (`state` is what it yields); the first
        `commit` records it, creating the run."""
        self.state = state
        self.pending: list[Event] = [] if start is None else [start]
        self.inbox_outcomes: list[tuple[int, str]] = []
        self.created = start is None  # whether the run's row exists in the store
        # the run's row: the state as of event `snapshot_seq` (None: not known), with
        # that state's status, the lease renewed at `snapshot_ms`
        self.snapshot_seq: int | None = None
        self.snapshot_status = ""
        self.snapshot_ms = 0

    def emit(self, body: EventBody, now_ms: int) -> RunState:
        """Apply an event now; it becomes durable at the next `commit`."""
        event = Event(self.state.last_seq + 1, self.state.run_id, now_ms, self.state.trace_id, body)
        if isinstance(body, StepCommitted) and self.state.steps[body.step].state is COMMITTED:
            log.warning("second commit of %s (key %s) dropped", body.step, body.idempotency_key)
        self.state = apply(self.state, event)
        self.pending.append(event)
        return self.state

    def take_requests(self, store: Store, now_ms: int) -> None:
        """Record the decisions waiting in the inbox (or why each was refused)."""
        if not self.created:
            return  # a run not yet recorded has no inbox
        for request in store.open_requests(self.state.run_id):
            try:
                body = decision_event(
                    self.state,
                    request.kind,
                    request.step,
                    request.principal,
                    request.comment,
                    request.channel,
                    request.shown_sha256,
                )
            except DecisionRefused as refusal:
                self.inbox_outcomes.append((request.id, f"refused: {refusal}"))
                continue
            self.emit(body, now_ms)
            self.inbox_outcomes.append((request.id, "applied"))

    def end_if_due(self, now_ms: int) -> None:
        """End the run if a decision ended it (a rejection fails it, a cancel cancels it)."""
        ending = run_end(self.state)
        if ending is not None:
            body = event_for(ending, now_ms)
            assert body is not None
            self.emit(body, now_ms)

    def commit(
        self, store: Store, owner: str, now_ms: int, group: GroupCommit | None = None
    ) -> list[Event]:
        """Make the pending batch durable in one transaction (shared with other runs'
        batches through `group`); returns what it wrote."""
        if not self.pending and not self.inbox_outcomes:
            return []
        state = self.state
        snapshot = (
            self.snapshot_seq is None
            or state.last_seq - self.snapshot_seq >= max(SNAPSHOT_EVERY, len(state.steps))
            or state.outcome is not None
            or state.status != self.snapshot_status
            or now_ms - self.snapshot_ms >= lease_ms() // 4  # the row's write renews the lease
        )
        batch = Batch(
            self.pending,
            state,
            owner,
            now_ms,
            self.inbox_outcomes,
            create=not self.created,
            snapshot=snapshot,
        )
        if group is not None:
            group.append(batch)
        elif batch.create:
            [error] = store.append_many([batch])
            if error is not None:
                raise error
        else:
            store.append(self.pending, self.state, owner, now_ms, self.inbox_outcomes)
        self.created = True
        if snapshot or batch.create or group is None:  # `store.append` always writes it
            self.snapshot_seq, self.snapshot_status = state.last_seq, state.status
            self.snapshot_ms = now_ms
        written, self.pending, self.inbox_outcomes = self.pending, [], []
        return written


def settle(store: Store, run_id: str, owner: str, now_ms: int) -> bool:
    """Record a run's pending decisions if no process drives it; False if one does.

    Takes the lease only for this one transaction. Starting agents is left to the
    run's next driver (`baton resume`).
    """
    if store.acquire_lease(run_id, owner, now_ms) is not None:
        return False
    try:
        journal = Journal(store.load_state(run_id))
        journal.take_requests(store, now_ms)  # on an ended run, each is refused as such
        journal.end_if_due(now_ms)
        journal.commit(store, owner, now_ms)
    finally:
        store.release_lease(run_id, owner)
    return True
