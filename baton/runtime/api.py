"""The runtime's facade: what the command line (and the Temporal backend) calls.

Every function takes the database path and opens (and closes) its own store, so a
caller never handles connections. Errors a user can cause are exceptions with a clear
message (`RunError` and `runtime.store.StoreError` subclasses); the command line prints
them without a traceback.

The runtime never imports the compiler: a caller that needs to load a workflow by its
spec (`resume_run`) passes a `load` function.
"""

from __future__ import annotations

import atexit
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from baton.runtime.checksums import Mismatch, step_mismatches
from baton.runtime.core import events
from baton.runtime.core.decisions import APPROVE, CANCEL, REJECT, DecisionRefused, decision_event
from baton.runtime.core.plan import shape, shape_changes, workflow_pin
from baton.runtime.core.redrive import RedriveRefused, redrive_event
from baton.runtime.core.state import WAITING, RunState
from baton.runtime.driver.journal import settle
from baton.runtime.driver.local import (
    DriveResult,
    DriverOptions,
    LocalDriver,
    OnEvent,
    RunBusy,
    now_ms,
)
from baton.runtime.model import JSON, StepState, Workflow
from baton.runtime.store import RunSummary, Store, db_path, new_owner
from baton.runtime.store.connection import ReadOnlyDatabase
from baton.runtime.store.errors import RunExists, StoreError, UnknownRun
from baton.runtime.store.sqlite import AfterCommit
from baton.runtime.telemetry import export_finished
from baton.runtime.timeline import Attempt, StepTimeline, Timeline
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
    "APPROVE",
    "CANCEL",
    "JSON",
    "REJECT",
    "Attempt",
    "DriveResult",
    "DriverOptions",
    "InvalidInput",
    "Load",
    "LoadedWorkflow",
    "Mismatch",
    "OnEvent",
    "ReadOnlyDatabase",
    "RunBusy",
    "RunError",
    "RunExists",
    "RunState",
    "RunSummary",
    "StepTimeline",
    "StoreError",
    "Timeline",
    "UnknownRun",
    "Workflow",
    "approve",
    "cancel",
    "check_run_id",
    "db_path",
    "dry_run",
    "events",
    "get_events",
    "get_state",
    "get_timeline",
    "is_idle",
    "list_runs",
    "lone_surrogate",
    "new_run_id",
    "observers",
    "raise_budget",
    "reject",
    "resume_run",
    "start_run",
    "step_mismatches",
    "validate_inputs",
    "workflow_pin",
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
    """Raise InvalidInput with every failing JSON pointer (RunError for a string that
    is not Unicode text, which no schema can accept and no database can store)."""
    where = lone_surrogate(inputs)
    if where is not None:
        pointer, character = where
        raise RunError(
            f"input is not valid Unicode: the string at {pointer or '(root)'} holds the lone "
            f"surrogate \\u{ord(character):04x} (half of a UTF-16 pair, not a character)"
        )
    if workflow.inputs_schema is None:
        return
    from baton.runtime.validate import validate

    issues = validate(workflow.inputs_schema, inputs)
    if issues:
        raise InvalidInput(workflow.name, [(i.pointer, i.message) for i in issues])


def lone_surrogate(value: JSON, pointer: str = "") -> tuple[str, str] | None:
    """The JSON pointer and character of the first lone surrogate in `value`'s strings
    (keys too), or None.

    >>> lone_surrogate({"a": ["ok", "x\\udc80"]})
    ('/a/1', '\\udc80')
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")  # refuses exactly the lone surrogates, at C speed
        except UnicodeEncodeError as error:
            return pointer, value[error.start]
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            step = "/" + str(key).replace("~", "~0").replace("/", "~1")
            found = lone_surrogate(str(key), pointer + step) or lone_surrogate(item, pointer + step)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = lone_surrogate(item, f"{pointer}/{index}")
            if found is not None:
                return found
    return None


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
    with Store(db, after_commit=options.after_commit) as store:
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
    options = options or DriverOptions()
    with Store(db, create=False, after_commit=options.after_commit) as store:
        state = store.load_state(run_id)
        if state.outcome is not None:
            return _notify_ended(store, state, load, options)
        loaded = load(state.spec)
        changed = loaded.pin != state.spec_sha256
        if changed:
            _check_spec_change(state, loaded, allow_spec_change)
        options = replace(options, resolver=loaded.resolver)
        driver = LocalDriver(store, loaded.workflow, options)
        result = driver.resume(run_id, loaded.pin, spec_changed=changed)
    export_finished(db, result.state)
    return result


def _notify_ended(store: Store, state: RunState, load: Load, options: DriverOptions) -> DriveResult:
    """An ended run owes at most its notifications (runtime.notify): delivered if its
    workflow (as its spec says now) has webhooks; nothing else is done."""
    try:
        loaded = load(state.spec)
    except Exception:  # whatever the caller's loader raises (a spec gone, now invalid)
        return DriveResult(state)  # no webhooks to read: nothing is delivered
    if not loaded.workflow.notify:
        return DriveResult(state)
    return LocalDriver(store, loaded.workflow, options).resume(state.run_id, loaded.pin)


def redrive_run(
    db: Path,
    run_id: str,
    load: Load,
    steps: tuple[str, ...] = (),
    by: str = "",
    allow_spec_change: bool = False,
    options: DriverOptions | None = None,
) -> DriveResult:
    """Take a failed run up again (`baton retry`): its failed steps (or `steps`), and
    those skipped or cancelled because of them, go back to pending with fresh attempt
    budgets (`run_redriven`: who, when, which steps); then drive it on like `resume`.

    RunError if the run did not fail, a step cannot be redriven, or its spec changed
    (as for `resume_run`)."""
    options = options or DriverOptions()
    with Store(db, create=False, after_commit=options.after_commit) as store:
        state = store.load_state(run_id)
        try:
            redrive_event(state, steps, by)  # refuse before loading the spec
        except RedriveRefused as refusal:
            raise RunError(str(refusal)) from None
        loaded = load(state.spec)
        changed = loaded.pin != state.spec_sha256
        if changed:
            _check_spec_change(state, loaded, allow_spec_change)
        options = replace(options, resolver=loaded.resolver)
        driver = LocalDriver(store, loaded.workflow, options)
        try:
            result = driver.redrive(run_id, loaded.pin, steps, by, spec_changed=changed)
        except RedriveRefused as refusal:  # the run moved on in between
            raise RunError(str(refusal)) from None
    export_finished(db, result.state)
    return result


def check_spec_change(state: RunState, loaded: LoadedWorkflow, allowed: bool) -> None:
    """RunError unless a changed spec may drive the run: `allowed`, and compatible
    (every step keeps its needs and output handoff). Also for the Temporal backend."""
    _check_spec_change(state, loaded, allowed)


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
    after_commit: AfterCommit | None = None,
    channel: str | None = None,
    shown_sha256: str | None = None,
) -> str:
    """Record a decision: refuse at once if the run's state does not allow it, else
    leave it in the inbox and record it now (or let the live driver record it).
    `shown_sha256`: what the decider was shown (runtime.approval_subject)."""
    with Store(db, create=False, after_commit=after_commit) as store:
        state = store.load_state(run_id)
        try:
            decision_event(state, kind, step, principal, comment, channel, shown_sha256)
        except DecisionRefused as refusal:
            raise RunError(str(refusal)) from None
        request = store.post_request(
            run_id, kind, now_ms(), step, principal, comment, channel, shown_sha256
        )
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


def raise_budget(
    db: Path,
    run_id: str,
    agent: str | None,
    limits: dict[str, float],
    by: str,
    wait_s: float = 10.0,
    after_commit: AfterCommit | None = None,
) -> str:
    """Raise a budget of the run (`agent` None) or of one agent's share to `limits`
    (`usd`, `tokens`); recorded as `budget_raised` (who, when, the new limits) like a
    decision. RunError if the scope has no budget or a limit is not above its spend."""
    from baton.runtime.core.budget import RAISE_BUDGET, encode_limits

    comment = encode_limits(limits)
    return _decide(db, run_id, RAISE_BUDGET, agent, by, comment, wait_s, after_commit)


def approve(
    db: Path,
    run_id: str,
    step: str,
    principal: str,
    comment: str = "",
    wait_s: float = 10.0,
    channel: str = "",
    shown_sha256: str | None = None,
) -> str:
    """Grant a gated step; RunError if the principal lacks its role (or it is not waiting).
    `shown_sha256` binds the grant to what was shown (runtime.approval_subject)."""
    return _decide(
        db, run_id, APPROVE, step, principal, comment, wait_s, None, channel, shown_sha256
    )


def reject(
    db: Path,
    run_id: str,
    step: str,
    principal: str,
    comment: str = "",
    wait_s: float = 10.0,
    channel: str = "",
    shown_sha256: str | None = None,
) -> str:
    """Reject a gated step: it fails with class `rejected`, and so does the run."""
    return _decide(
        db, run_id, REJECT, step, principal, comment, wait_s, None, channel, shown_sha256
    )


def cancel(db: Path, run_id: str, by: str = "", wait_s: float = 10.0) -> str:
    """Cancel a run: every step still in motion is cancelled."""
    return _decide(db, run_id, CANCEL, None, by, None, wait_s)


def get_state(db: Path, run_id: str) -> RunState:
    with Store(db, readonly=True) as store:
        return store.load_state(run_id)


def get_events(db: Path, run_id: str) -> list[dict[str, Any]]:
    """The run's log in the shape `baton events --json` prints."""
    with Store(db, readonly=True) as store:
        return [event.to_json() for event in store.load_events(run_id)]


def get_timeline(db: Path, run_id: str) -> Timeline:
    """The run's timeline, from its log (`baton trace`)."""
    with Store(db, readonly=True) as store:
        return build_timeline(store.load_events(run_id))


def list_runs(db: Path) -> list[RunSummary]:
    if not db.exists():
        return []
    with Store(db, readonly=True) as store:
        return store.list_runs()


def is_idle(db: Path, state: RunState) -> bool:
    """Whether nothing drives the run though it has not ended and waits for no person.

    Its process stopped (interrupted, killed, or it detached and a decision has been
    recorded since): no live lease, and no approval of it or of a child run it waits
    for is open. Only `resume_run` moves such a run on.
    """
    if state.outcome is not None or state.status == WAITING:
        return False
    with Store(db, readonly=True) as store:
        if store.live_lease(state.run_id, now_ms()) is not None:
            return False
        return not _child_waits(store, state)


def _child_waits(store: Store, state: RunState) -> bool:
    """Whether a sub-workflow step of the run waits for its child run, and that child
    (or one of its own children) waits for a person's decision."""
    for record in state.steps.values():
        child_id = record.child_run_id
        if record.state is not StepState.RUNNING or not child_id or not store.has_run(child_id):
            continue
        child = store.load_state(child_id)
        if child.status == WAITING or _child_waits(store, child):
            return True
    return False


def observers(on_event: OnEvent | None, attempt_log: IO[str] | None = None) -> OnEvent:
    """`on_event`, and a JSON line per finished attempt on `attempt_log` if given; spans
    are exported when a run ends if the standard OTEL_* variables ask for them."""
    from baton.runtime import telemetry
    from baton.runtime.attempt_log import AttemptLog, fan_out

    if telemetry.configure_from_env():
        atexit.register(telemetry.shutdown)  # flush the exporter before the process exits
    return fan_out(on_event, AttemptLog(attempt_log) if attempt_log is not None else None)


def dry_run(workflow: Workflow, inputs: JSON | None) -> tuple[list[str], list[str]]:
    """The plan of a run with example data, as lines, and its problems; nothing runs
    and nothing is written."""
    from baton.runtime.driver.dryrun import describe
    from baton.runtime.driver.dryrun import dry_run as plan_run

    if inputs is not None:
        validate_inputs(workflow, inputs)
    plan = plan_run(workflow, inputs)
    return describe(plan), plan.problems
