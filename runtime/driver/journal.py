"""A run's state together with the events not yet committed: the unit of group commit.

A driver emits events into the journal (each is applied at once, so `decide` sees it),
then commits them all in one transaction. Decisions other processes left in the inbox
are taken here too, so the driver and a process that only records a decision
(`baton approve`, `baton cancel`) record them the same way.
"""

from __future__ import annotations

import logging

from runtime.core.apply import apply
from runtime.core.commands import event_for
from runtime.core.decisions import DecisionRefused, decision_event, run_end
from runtime.core.events import Event, EventBody, StepCommitted
from runtime.core.state import RunState
from runtime.model import StepState
from runtime.store import Store
from runtime.store.group import GroupCommit
from runtime.store.records import Batch

log = logging.getLogger("baton.runtime")
COMMITTED = StepState.COMMITTED


class Journal:
    """The state of one run and its pending batch of events."""

    def __init__(self, state: RunState) -> None:
        self.state = state
        self.pending: list[Event] = []
        self.inbox_outcomes: list[tuple[int, str]] = []

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
        for request in store.open_requests(self.state.run_id):
            try:
                body = decision_event(
                    self.state, request.kind, request.step, request.principal, request.comment
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
        if group is not None:
            group.append(Batch(self.pending, self.state, owner, now_ms, self.inbox_outcomes))
        else:
            store.append(self.pending, self.state, owner, now_ms, self.inbox_outcomes)
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
