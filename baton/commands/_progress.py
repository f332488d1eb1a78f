"""Live progress of a run: a rich table on a terminal, plain lines when piped.

Both read the same committed events (the driver calls them after each commit, possibly
from a child run's thread, hence the lock). Plain lines are stable enough to grep. How
the followed run ended is left to the command's closing line, printed once; a child
run's end is a progress line like any other.
"""

from __future__ import annotations

import json
import sys
import threading
from types import TracebackType
from typing import Any

import click

from baton.commands._common import compact, duration
from baton.runtime.api import RunState
from baton.runtime.api import events as ev
from baton.runtime.core.route import describe as describe_route


def describe(event: ev.Event, state: RunState) -> str | None:
    """One line for an event worth showing, else None (e.g. `output_received`)."""
    body = event.body
    step = f"{event.step}: " if event.step else ""
    match body:
        case ev.RunStarted():
            return f"run {event.run_id} started: {body.workflow} v{body.version}"
        case ev.RunResumed():
            interrupted = [s for s, r in state.steps.items() if r.interrupted]
            again = f"; running again: {', '.join(interrupted)}" if interrupted else ""
            return f"run {event.run_id} resumed{again}"
        case ev.RunRedriven():
            who = f" by {body.by}" if body.by else ""
            return f"run {event.run_id} redriven{who}: {', '.join(body.steps)} back to pending"
        case ev.AttemptStarted():
            if body.restart:
                what = (
                    "external effect run again"
                    if body.external
                    else "interrupted attempt run again"
                )
                approval = state.steps[body.step].approval
                if approval is not None and approval.stage == "tool" and approval.decision:
                    called = (approval.tool or {}).get("subject") or {}
                    name = called.get("name") if isinstance(called, dict) else None
                    what = f"run again after the decision on tool call {name}"
                return f"{step}attempt {body.attempt}: {what} (same idempotency key)"
            return f"{step}attempt {body.attempt} started"
        case ev.MapStarted():
            return f"{step}mapping over {body.count} item(s)"
        case ev.MapItemFailed():
            return (
                f"{step}item {body.index} attempt {body.attempt} failed ({body.failure}): "
                f"{body.message}"
            )
        case ev.MapItemDropped():
            return f"{step}item {body.index} dropped (its slot is null): {body.message}"
        case ev.OutputRejected():
            return f"{step}output rejected ({body.failure}): {body.message}"
        case ev.AttemptFailed():
            return f"{step}attempt {body.attempt} failed ({body.failure}): {body.message}"
        case ev.RetryScheduled():
            return f"{step}attempt {body.attempt} in {duration(body.delay_ms)}"
        case ev.RouteSelected():
            return f"{step}routed: {describe_route(body.case, body.kind, body.target, body.reads)}"
        case ev.ReviewStarted():
            again = ": interrupted review run again" if body.restart else ""
            return f"{step}review round {body.round} by {body.agent}{again}"
        case ev.ReviewPassed():
            return f"{step}review passed in round {body.round}"
        case ev.RevisionRequested():
            return f"{step}revision requested (round {body.round}): {_short(body.feedback)}"
        case ev.ReviewExhausted():
            return f"{step}review not passed after {body.round} rounds: {body.on_exhausted}"
        case ev.ReviewFailed():
            return f"{step}review failed ({body.failure}): {body.message}"
        case ev.StepCommitted():
            latency = state.steps[body.step].latency_ms
            return f"{step}committed ({duration(latency)})"
        case ev.StepSkipped():
            return f"{step}skipped: {body.reason}"
        case ev.StepFailed():
            return f"{step}failed ({body.failure}): {body.message}"
        case ev.ApprovalRequested():
            what = {
                "before": "approval",
                "escalation": "a decision on its exhausted review loop",
            }.get(body.stage, "review of its output")
            return (
                f"{step}waiting for {what} by role '{body.role}': "
                f"baton approve {event.run_id} {body.step} --as PRINCIPAL"
            )
        case ev.ToolApprovalRequested():  # runtime.core.tool_approvals
            return (
                f"{step}tool call {body.name} {_short(json.dumps(body.arguments))} waits for "
                f"approval by role '{body.role}': baton approve {event.run_id} {body.step} "
                "--as PRINCIPAL"
            )
        case ev.ApprovalGranted():
            return f"{step}approved by {body.principal}" + _comment(body.comment)
        case ev.ApprovalRejected():
            return f"{step}rejected by {body.principal}" + _comment(body.comment)
        case ev.ApprovalVoided() if body.stage == "tool":  # runtime.core.tool_approvals
            return f"{step}grant by {body.principal} void: the model asked for another call"
        case ev.ApprovalVoided():  # runtime.core.approvals
            return (
                f"{step}approval by {body.principal} void: it was shown "
                f"{body.shown_sha256[:12]}, the step would now get {body.current_sha256[:12]}; "
                f"asked again: baton approve {event.run_id} {body.step} --as PRINCIPAL"
            )
        case ev.ApprovalTimedOut():
            then = "escalating" if body.action == "escalate" else "rejecting"
            return (
                f"{step}no decision by role '{body.role}' within "
                f"{duration(body.timeout_ms)}; {then}"
            )
        case ev.ApprovalEscalated():
            return (
                f"{step}escalated to role '{body.role}': "
                f"baton approve {event.run_id} {body.step} --as PRINCIPAL"
            )
        case ev.BudgetExceeded():
            whose = f"agent {body.agent}'s" if body.agent else "the run's"
            reached = f"{whose} {body.measure} budget reached ({body.spent} of {body.limit})"
            if body.mode != "enforce":
                return f"{step}{reached}; audit only, going on"
            flag = f" --agent {body.agent}" if body.agent else ""
            return (
                f"{step}{reached}; waiting: "
                f"baton resume {event.run_id} --raise-budget {body.measure}=N{flag}"
            )
        case ev.BudgetRaised():
            whose = f"agent {body.agent}'s" if body.agent else "the run's"
            limits = [f"usd={body.usd:g}" if body.usd is not None else "", ""]
            limits[1] = f"tokens={body.tokens}" if body.tokens is not None else ""
            new = ", ".join(limit for limit in limits if limit)
            return f"run {event.run_id}: {whose} budget raised to {new} by {body.by}"
        case ev.CancelRequested():
            return f"run {event.run_id}: cancel requested"
        case ev.RunSucceeded():
            return f"run {event.run_id} succeeded: result {compact(state.result)}"
        case ev.RunFailed():
            return f"run {event.run_id} failed: {body.message}"
        case ev.RunCancelled():
            return f"run {event.run_id} cancelled"
        case ev.NotificationSent():
            return (
                f"run {event.run_id}: notification for {body.trigger} sent to sink "
                f"{body.sink} (HTTP {body.status}, attempt {body.attempts})"
            )
        case ev.NotificationFailed():
            then = "gave up" if body.final else "will retry"
            return (
                f"run {event.run_id}: notification for {body.trigger} to sink {body.sink} "
                f"failed (attempt {body.attempts}): {body.message}; {then}"
            )
    return None


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _comment(comment: str) -> str:
    return f": {comment}" if comment else ""


class Progress:
    """Show a run's events as they commit; use as a context manager around the run."""

    def __init__(self, run_id: str | None, live: bool | None = None) -> None:
        self.run_id = run_id
        self.live = sys.stdout.isatty() if live is None else live
        self._lock = threading.Lock()
        self._display: Any = None
        self._state: RunState | None = None

    def __enter__(self) -> Progress:
        if self.live:
            from rich.console import Console
            from rich.live import Live

            self._display = Live(console=Console(), auto_refresh=False, transient=False)
            self._display.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._display is not None:
            self._display.stop()

    def __call__(self, event: ev.Event, state: RunState) -> None:
        top = self.run_id is None or event.run_id == self.run_id
        line = None if top and event.type in ev.TERMINAL_EVENTS else describe(event, state)
        with self._lock:
            if self._display is None:
                if line is not None:
                    click.echo(line if top else f"[{event.run_id}] {line}")
                return
            if top:
                self._state = state
            if line is not None and (not top or event.type not in _IN_TABLE):
                self._display.console.print(line if top else f"[{event.run_id}] {line}")
            if self._state is not None:
                self._display.update(_table(self._state), refresh=True)


# shown by the table itself; other events also get a line above it
_IN_TABLE = frozenset({"attempt_started", "step_committed", "run_started"})

_STYLE = {
    "committed": "green",
    "failed": "red",
    "cancelled": "red",
    "skipped": "dim",
    "running": "cyan",
    "retrying": "yellow",
    "awaiting_approval": "magenta",
    "awaiting_review": "magenta",
    "reviewing": "cyan",
}


def _table(state: RunState) -> Any:
    from rich.table import Table

    table = Table(title=f"{state.run_id}: {state.workflow} v{state.version} - {state.status}")
    for column in ("step", "state", "attempts", "latency", "note"):
        table.add_column(column)
    for step in state.plan:
        record = state.steps[step]
        note = ""
        if record.error:
            note = str(record.error.get("message", ""))[:60]
        elif record.skip_reason:
            note = record.skip_reason[:60]
        elif record.approval and record.approval.decision is None:
            note = f"needs role '{record.approval.role}'"
        style = _STYLE.get(record.state.value, "")
        table.add_row(
            step,
            f"[{style}]{record.state.value}[/]" if style else record.state.value,
            str(record.attempts),
            duration(record.latency_ms),
            note,
        )
    return table
