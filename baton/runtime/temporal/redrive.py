"""Redrive on Temporal (`baton retry --backend temporal`): a new execution goes on.

A Baton run on Temporal is one workflow id. When the run fails its execution completes
(with the log as its result, readable with no worker), as a local run ends. A redrive
starts a *new execution of the same workflow id* (Temporal allows a closed id to run
again with `ALLOW_DUPLICATE`) whose input carries the run's log so far and the redrive
request. The new execution folds that log back into the same `RunState` (so committed
steps are committed, with their outputs and keys, and never run again), records
`run_redriven` exactly as the local driver does (`runtime.core.redrive`), then
`run_resumed`, and goes on with the same loop. Its result is the whole log, the old
events and the new, so the run still reads as one log under one run id.

Why not keep a failed execution open, waiting for a redrive signal? A failed run would
hold a workflow open (and a worker's cache) for the whole retention window, a failed
child run would never return to its parent, and reading a failed run would need a
worker; a closed execution needs none of that, and the event model stays the local one.
"""

from __future__ import annotations

from typing import Any

from baton.runtime.core import events as ev
from baton.runtime.core.apply import fold
from baton.runtime.core.redrive import RedriveRefused, redrive_event
from baton.runtime.core.state import RunState
from baton.runtime.model import JSON
from baton.runtime.temporal.messages import event_from_json

OWNER = "temporal"


def request(named: tuple[str, ...], by: str) -> dict[str, JSON]:
    """The `redrive` field of the new execution's input."""
    return {"by": by, "steps": list(named)}


def continue_from(
    log: list[dict[str, Any]], redrive: dict[str, Any] | None, pin: str
) -> tuple[list[ev.Event], RunState, list[ev.EventBody]]:
    """The run's events so far, their state, and the bodies the new execution records
    first: `run_redriven` then `run_resumed` (none if the redrive is refused: the run
    moved on since the client checked it; the execution then ends with the log as is)."""
    events = [event_from_json(data) for data in log]
    state = fold(events)
    redrive = redrive or {}
    named = tuple(str(step) for step in redrive.get("steps") or ())
    try:
        redriven = redrive_event(state, named, str(redrive.get("by") or ""))
    except RedriveRefused:
        return events, state, []
    resumed = ev.RunResumed(OWNER, pin, spec_changed=pin != state.spec_sha256)
    return events, state, [redriven, resumed]
