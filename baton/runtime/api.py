"""The runtime's facade: what the command line (and the Temporal backend) calls.

Every function takes the database path and opens (and closes) its own store, so a
caller never handles connections. Errors a user can cause are exceptions with a clear
message (`RunError` and `runtime.store.StoreError` subclasses); the command line prints
them without a traceback.

The runtime never imports the compiler: a caller that needs to load a workflow by its
spec (`resume_run`) passes a `load` function.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from baton.runtime.core.decisions import APPROVE, CANCEL, REJECT, DecisionRefused, decision_event
from baton.runtime.core.plan import shape, shape_changes
from baton.runtime.core.state import RunState
from baton.runtime.driver.journal import settle
from baton.runtime.driver.local import (
    DriveResult,
    DriverOptions,
    LocalDriver,
    OnEvent,
    RunBusy,
    now_ms,
)
from baton.runtime.model import JSON, Workflow
from baton.runtime.store import RunSummary, Store, new_owner
from baton.runtime.store.errors import RunExists, StoreError, UnknownRun
from baton.runtime.telemetry import export_finished
from baton.runtime.timeline import Timeline
from baton.runtime.timeline import build as build_timeline

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class RunError(Exception):
    """A request the runtime refuses; the message says why and what to do."""


class InvalidInput(RunError):
    """The run input fails the workflow's inputs schema; `issues` are (pointer, message)."""

    def __init__(self, workflow: str, issues: list[tuple[str, str]]) -> None:
        lines = [f"  {pointer or '(root)'}: {message}" for pointer, message in issues]
        super().__init__(
            f"input does not match the inputs schema of '{workflow}':\n" + "\n".join(lines)
        )
        self.issues = issues


@dataclass(frozen=True)
class LoadedWorkflow:
    """A workflow ready to run: pinned by `pin`, found again later by `spec`."""

    workflow: Workflow
    pin: str
    spec: str
    resolver: Callable[[str], Workflow] | None = None


Load = Callable[[str], LoadedWorkflow]

__all__ = [
    "DriveResult",
    "DriverOptions",
    "InvalidInput",
    "LoadedWorkflow",
    "OnEvent",
    "RunBusy",
    "RunError",
    "RunExists",
    "StoreError",
    "UnknownRun",
    "approve",
    "cancel",
    "check_run_id",
    "get_events",
    "get_state",
    "get_timeline",
    "list_runs",
    "new_run_id",
    "reject",
    "resume_run",
    "start_run",
    "validate_inputs",
]


def new_run_id(workflow: str) -> str:
    return f"{workflow}-{uuid.uuid4().hex[:10]}"


def check_run_id(run_id: str) -> None:
    if not RUN_ID.match(run_id):
        raise RunError(
            f"invalid run id '{run_id}': use letters, digits, '.', '_' and '-' "
            "(at most 128, starting with a letter or digit)"
        )


def validate_inputs(workflow: Workflow, inputs: JSON) -> None:
    """Raise InvalidInput with every failing JSON pointer."""
    if workflow.inputs_schema is None:
        return
    from baton.runtime.validate import validate

    issues = validate(workflow.inputs_schema, inputs)
    if issues:
        raise InvalidInput(workflow.name, [(i.pointer, i.message) for i in issues])


def start_run(
    db: Path,
    loaded: LoadedWorkflow,
    inputs: JSON,
    run_id: str,
    options: DriverOptions | None = None,
) -> DriveResult:
    """Validate the input, record the run and drive it; RunExists for a known id."""
    check_run_id(run_id)
    validate_inputs(loaded.workflow, inputs)
    options = replace(options or DriverOptions(), resolver=loaded.resolver)
    with Store(db) as store:
        driver = LocalDriver(store, loaded.workflow, options)
        result = driver.start(run_id, inputs, loaded.pin, loaded.spec)
    export_finished(db, result.state)  # spans, once the run has ended (runtime.telemetry)
    return result


def resume_run(
    db: Path,
    run_id: str,
    load: Load,
    allow_spec_change: bool = False,
    options: DriverOptions | None = None,
) -> DriveResult:
    """Drive a run on from where its log ends.

    Refuses (RunError) when the run's spec changed since it started, unless
    `allow_spec_change` and the change keeps every step's needs and output handoff.
    """
    with Store(db, create=False) as store:
        state = store.load_state(run_id)
        if state.outcome is not None:
            return DriveResult(state)
        loaded = load(state.spec)
        changed = loaded.pin != state.spec_sha256
        if changed:
            _check_spec_change(state, loaded, allow_spec_change)
        options = replace(options or DriverOptions(), resolver=loaded.resolver)
        driver = LocalDriver(store, loaded.workflow, options)
        result = driver.resume(run_id, loaded.pin, spec_changed=changed)
    export_finished(db, result.state)
    return result


def _check_spec_change(state: RunState, loaded: LoadedWorkflow, allowed: bool) -> None:
    pinned, now = state.spec_sha256[:12], loaded.pin[:12]
    if not allowed:
        raise RunError(
            f"run '{state.run_id}' was started from another version of {state.spec} "
            f"(pinned sha256 {pinned}..., now {now}...); not resuming it on a different spec. "
            "Restore the spec, or pass --allow-spec-change to continue on the new one "
            "(allowed when every step keeps its needs and output handoff)"
        )
    changes = shape_changes(state.shape, shape(loaded.workflow))
    if changes:
        raise RunError(
            f"run '{state.run_id}': the spec changed incompatibly since the run started: "
            + "; ".join(changes)
        )


def _decide(
    db: Path,
    run_id: str,
    kind: str,
    step: str | None,
    principal: str | None,
    comment: str | None,
    wait_s: float,
) -> str:
    """Record a decision: refuse at once if the run's state does not allow it, else
    leave it in the inbox and record it now (or let the live driver record it)."""
    with Store(db, create=False) as store:
        state = store.load_state(run_id)
        try:
            decision_event(state, kind, step, principal, comment)
        except DecisionRefused as refusal:
            raise RunError(str(refusal)) from None
        request = store.post_request(run_id, kind, now_ms(), step, principal, comment)
        if not settle(store, run_id, new_owner(), now_ms()):
            deadline = time.monotonic() + wait_s
            while store.request_outcome(request) is None and time.monotonic() < deadline:
                time.sleep(0.05)
        outcome = store.request_outcome(request)
    if outcome is None:
        return "recorded; the process driving the run will apply it"
    if outcome.startswith("refused: "):
        raise RunError(outcome.removeprefix("refused: "))
    return outcome


def approve(
    db: Path, run_id: str, step: str, principal: str, comment: str = "", wait_s: float = 10.0
) -> str:
    """Grant a gated step; RunError if the principal lacks its role (or it is not waiting)."""
    return _decide(db, run_id, APPROVE, step, principal, comment, wait_s)


def reject(
    db: Path, run_id: str, step: str, principal: str, comment: str = "", wait_s: float = 10.0
) -> str:
    """Reject a gated step: it fails with class `rejected`, and so does the run."""
    return _decide(db, run_id, REJECT, step, principal, comment, wait_s)


def cancel(db: Path, run_id: str, by: str = "", wait_s: float = 10.0) -> str:
    """Cancel a run: every step still in motion is cancelled."""
    return _decide(db, run_id, CANCEL, None, by, None, wait_s)


def get_state(db: Path, run_id: str) -> RunState:
    with Store(db, create=False) as store:
        return store.load_state(run_id)


def get_events(db: Path, run_id: str) -> list[dict[str, Any]]:
    """The run's log in the shape `baton events --json` prints."""
    with Store(db, create=False) as store:
        return [event.to_json() for event in store.load_events(run_id)]


def get_timeline(db: Path, run_id: str) -> Timeline:
    """The run's timeline, from its log (`baton trace`)."""
    with Store(db, create=False) as store:
        return build_timeline(store.load_events(run_id))


def list_runs(db: Path) -> list[RunSummary]:
    if not db.exists():
        return []
    with Store(db, create=False) as store:
        return store.list_runs()
