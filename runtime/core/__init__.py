"""The pure, deterministic core of the runtime: no I/O, no clock, no randomness.

`apply(state, event) -> state` folds a run's event log into its state;
`decide(workflow, state, now_ms) -> [command]` says what to do next. Drivers (local
SQLite, Temporal) execute the commands and append the events; replaying a log through
`apply` reproduces the state exactly.
"""

from runtime.core.apply import IllegalTransition, apply, fold
from runtime.core.commands import Command, event_for
from runtime.core.decide import decide
from runtime.core.events import Event, EventBody
from runtime.core.outcome import AttemptOutcome, outcome_events
from runtime.core.plan import run_started
from runtime.core.state import RunState, StepRecord

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
