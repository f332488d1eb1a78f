"""The values the store reads and writes besides events and states."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from baton.runtime.core.events import Event
from baton.runtime.core.state import RunState


@dataclass(frozen=True)
class RunSummary:
    """A row of `baton runs`."""

    run_id: str
    workflow: str
    version: int
    status: str
    parent_run_id: str | None
    created_ms: int
    updated_ms: int
    totals: dict[str, Any]
    waiting_on: tuple[str, ...] = ()  # approval, budget (runtime.core.state.waiting_on)
    budgets: dict[str, Any] = field(default_factory=dict)  # caps by scope (core.budget)


@dataclass(frozen=True)
class Batch:
    """What one commit of one run writes: its new events and state, renewing its lease.

    `create`: the batch starts the run (its first event is `run_started`): the run's row
    is inserted, with `owner` holding the lease (RunExists if the run id is taken).
    `snapshot`: the run's row gets the new state; without it, the row keeps an older
    one and readers fold the log's later events into it (see `Store.load_state`).
    """

    events: Sequence[Event]
    state: RunState
    owner: str
    now_ms: int
    inbox_outcomes: Sequence[tuple[int, str]] = ()
    create: bool = False
    snapshot: bool = True

    @property
    def empty(self) -> bool:
        return not self.events and not self.inbox_outcomes


@dataclass(frozen=True)
class InboxRequest:
    """A decision another process left for the run's driver."""

    id: int
    run_id: str
    kind: str  # approve | reject | cancel
    step: str | None
    principal: str | None
    comment: str | None
    ts: int
    channel: str | None = None  # cli | web | api (None: before identity)
    shown_sha256: str | None = None  # what the decider was shown (runtime.approval_subject)
