"""What the Temporal backend sends through Temporal: plain JSON, built and read here.

Temporal stores every workflow input, activity input and result in the run's history,
as JSON through its default data converter. Plain dicts keep that converter out of the
runtime's types (no enum or tuple guessing), and keep the history readable in the
Temporal UI.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from baton.runtime.core.commands import StartAttempt
from baton.runtime.core.events import Event, EventBody, body_from_data
from baton.runtime.core.outcome import AttemptOutcome
from baton.runtime.model import JSON, FailureClass
from baton.runtime.temporal.catalog import WorkflowRef

WORKFLOW_TYPE = "BatonWorkflow"
ATTEMPT_ACTIVITY = "baton_attempt"
DECISION_UPDATE = "baton_decision"
RECORD_UPDATE = "baton_record"  # an attempt's delegation events, sent by its activity
STATE_QUERY = "baton_state"
EVENTS_QUERY = "baton_events"
DEFAULT_TASK_QUEUE = "baton"
DEFAULT_HEARTBEAT_MS = 10_000  # a worker that died is noticed this long after its last beat


@dataclass(frozen=True)
class RunInput:
    """The input of one `BatonWorkflow` run: the run's id (its workflow id), what it runs
    and the `run_started` fields the local backend takes from its caller."""

    run_id: str
    ref: WorkflowRef
    pin: str
    spec: str
    inputs: JSON
    parent: dict[str, str] | None = None
    heartbeat_ms: int = DEFAULT_HEARTBEAT_MS
    trace_id: str | None = None  # a child run joins its parent's trace
    # a redrive (`baton retry`): a new execution of the same workflow id that goes on
    # from `log` (the run's events so far) after recording `run_redriven` with `redrive`
    # ({"by", "steps": the steps named}); runtime.temporal.redrive
    log: list[dict[str, JSON]] | None = None
    redrive: dict[str, JSON] | None = None

    def to_json(self) -> dict[str, JSON]:
        extra: dict[str, JSON] = {}
        if self.log is not None:  # only a redrive's input carries them
            extra = {"log": list(self.log), "redrive": self.redrive}
        return {
            **extra,
            "run_id": self.run_id,
            "ref": self.ref.to_json(),
            "pin": self.pin,
            "spec": self.spec,
            "inputs": self.inputs,
            "parent": self.parent,
            "heartbeat_ms": self.heartbeat_ms,
            "trace_id": self.trace_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunInput:
        return cls(
            run_id=data["run_id"],
            ref=WorkflowRef.from_json(data["ref"]),
            pin=data["pin"],
            spec=data["spec"],
            inputs=data["inputs"],
            parent=data.get("parent"),
            heartbeat_ms=int(data.get("heartbeat_ms", DEFAULT_HEARTBEAT_MS)),
            trace_id=data.get("trace_id"),
            log=data.get("log"),
            redrive=data.get("redrive"),
        )


def attempt_input(
    ref: WorkflowRef,
    run_id: str,
    command: StartAttempt,
    scope: dict[str, JSON],
    tainted: list[str],
    child: str | dict[str, JSON] | None = None,
    delegations: dict[str, JSON] | None = None,
) -> dict[str, JSON]:
    """The attempt activity's input: what `execute_attempt` needs besides the workflow.

    `tainted`: the run's steps whose outputs carry untrusted data (so the activity
    sanitizes them as the local driver does). `child`, for a sub-workflow step:
    "prepare" (render its input), then how its child run ended (judge the result).
    `delegations`: the step's completed delegations, key -> [output, checksum] (a
    restarted attempt that asks again reuses them).
    """
    return {
        "ref": ref.to_json(),
        "run_id": run_id,
        "command": {name: getattr(command, name) for name in _COMMAND_FIELDS},
        "scope": scope,
        "tainted": tainted,
        "child": child,
        "delegations": delegations or {},
    }


def command_of(data: dict[str, Any]) -> StartAttempt:
    fields = data["command"]
    values = {name: fields[name] for name in _COMMAND_FIELDS if name in fields}
    values["history"] = tuple(values.get("history") or ())  # a list, once through JSON
    values["feedback"] = tuple(values.get("feedback") or ())
    values["tool_decisions"] = tuple(values.get("tool_decisions") or ())
    return StartAttempt(**values)


_COMMAND_FIELDS = tuple(f.name for f in dataclasses.fields(StartAttempt))


def outcome_to_json(outcome: AttemptOutcome) -> dict[str, JSON]:
    """Every field of the outcome (whatever fields it has), as JSON."""
    data: dict[str, JSON] = {}
    for name in _OUTCOME_FIELDS:
        value = getattr(outcome, name)
        data[name] = list(value) if isinstance(value, tuple) else value
    data["failure"] = outcome.failure.value if outcome.failure is not None else None
    return data


def outcome_from_json(data: dict[str, Any]) -> AttemptOutcome:
    values = {name: value for name, value in data.items() if name in _OUTCOME_FIELDS}
    for name in _OUTCOME_TUPLES & values.keys():
        values[name] = tuple(values[name] or ())
    if values.get("failure") is not None:
        values["failure"] = FailureClass(values["failure"])
    return AttemptOutcome(**values)


_OUTCOME_FIELDS = tuple(f.name for f in dataclasses.fields(AttemptOutcome))
_OUTCOME_TUPLES = frozenset(
    f.name for f in dataclasses.fields(AttemptOutcome) if str(f.type).startswith("tuple")
)


def body_to_json(body: EventBody) -> dict[str, JSON]:
    return {
        "type": body.TYPE,
        "step": getattr(body, "step", None),
        "attempt": getattr(body, "attempt", None),
        "data": body.data(),
    }


def body_from_json(data: dict[str, Any]) -> EventBody:
    return body_from_data(data["type"], data["step"], data["attempt"], data["data"])


def event_from_json(data: dict[str, Any]) -> Event:
    """Inverse of `Event.to_json` (the shape `baton events --json` prints)."""
    body = body_from_data(data["type"], data["step"], data["attempt"], data["data"])
    return Event(data["seq"], data["run_id"], data["ts"], data["trace_id"], body)
