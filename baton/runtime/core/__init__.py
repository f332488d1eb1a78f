"""The pure, deterministic core of the runtime: no I/O, no clock, no randomness.

`apply(state, event) -> state` folds a run's event log into its state;
`decide(workflow, state, now_ms) -> [command]` says what to do next. Drivers (local
SQLite, Temporal) execute the commands and append the events; replaying a log through
`apply` reproduces the state exactly.
"""

from baton.runtime.core.apply import IllegalTransition, apply, fold
from baton.runtime.core.commands import Command, event_for
from baton.runtime.core.decide import decide
from baton.runtime.core.events import Event, EventBody
from baton.runtime.core.outcome import AttemptOutcome, outcome_events
from baton.runtime.core.plan import run_started
from baton.runtime.core.state import RunState, StepRecord

__all__ = [
    "AttemptOutcome",
    "Command",
    "Event",
    "EventBody",
    "IllegalTransition",
    "RunState",
    "StepRecord",
    "apply",
    "decide",
    "event_for",
    "fold",
    "outcome_events",
    "run_started",
]
