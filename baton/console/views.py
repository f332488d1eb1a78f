"""What a person sees of runs and approvals: one view model for `baton approvals` and
the web console (`baton serve`), so both show exactly the same values.

Nothing here cuts a value: the command line cuts for the terminal unless `--full`, the
console folds long values into collapsible blocks, and `--json` / the API give them
whole. A view is plain data (`to_json`), never HTML: the templates escape every value.

The subject of an approval is what the approver decides on: before a step runs (stage
`before`), the input its agent will receive, rendered now from the run's committed
outputs exactly as the driver renders it (untrusted values sanitized the same way);
after it ran (stage `after`), its validated output. `shown_subject` also returns the
sha256 of the subject's canonical JSON, which the console sends back with a decision
(`shown_sha256`) so a decision is refused when the subject changed meanwhile.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baton.console.context import rendered_prompt, reviews_of
from baton.runtime import api
from baton.runtime.core.approvals import principals_for
from baton.runtime.core.decide import steps_by_id
from baton.runtime.core.state import RunState, StepRecord
from baton.runtime.model import JSON, StepState, Workflow

if TYPE_CHECKING:
    from baton.console.sources import ConsoleSource

# spec (as a run recorded it) -> its workflow with its pin; raises LoadFailed
LoadWorkflow = Callable[[str], api.LoadedWorkflow]

_AWAITING = (StepState.AWAITING_APPROVAL, StepState.AWAITING_REVIEW)


class LoadFailed(Exception):
    """The workflow of a run cannot be loaded (its spec is gone, or has lint errors)."""


@dataclass(frozen=True)
class Subject:
    """What a decision is about: `kind` input (stage before), output (stage after) or
    tool_call (stage tool: {tool, name, arguments, step, attempt, key}), its value, and
    the sha256 of the value's canonical JSON. `problem`: why the value
    cannot be shown (then `value` is None and `sha256` is empty)."""

    kind: str
    value: JSON
    sha256: str
    problem: str = ""
    prompt: JSON = None  # stage before, an llm step: the prompt its agent will get


def shown_subject(state: RunState, step: str, workflow: Workflow | None) -> Subject:
    """The subject of `step`'s gate as it stands now, with its sha256: the value the
    runtime binds decisions to (runtime.approval_subject), shown as it is hashed.

    The one place that says what an approver is shown (the console and `baton
    approvals`); decisions carry its sha256 back as `shown_sha256`."""
    from baton.runtime.approval_subject import NoSubject, subject, tool_subject

    called = tool_subject(state, step)
    if called is not None:  # a model's tool call: the whole subject is what is shown
        return Subject("tool_call", called.value, called.sha256)
    record = state.steps[step]
    stage = record.approval.stage if record.approval is not None else "before"
    kind = "output" if stage in ("after", "escalation") else "input"
    if workflow is None:
        return Subject(
            kind, None, "", "the run's spec cannot be loaded, so its input cannot be rendered"
        )
    try:
        found = subject(workflow, state, step)
    except NoSubject as error:
        return Subject(kind, None, "", str(error))
    # shown: the input (or output) and the prompt; hashed: the whole subject (step,
    # stage, agent and prompt too, all on the page), so a decision is void if any of
    # them changes
    return Subject(kind, found.value.get(kind), found.sha256, prompt=found.value.get("prompt"))


@dataclass(frozen=True)
class RenderProblem:
    message: str


def rendered_input(state: RunState, step: str, workflow: Workflow | None) -> JSON | RenderProblem:
    """`step`'s input rendered from the run's committed outputs, as the driver renders
    it for an attempt; a RenderProblem when it cannot be (no workflow, needs not
    committed, a template error)."""
    if workflow is None:
        return RenderProblem("the run's spec cannot be loaded, so its input cannot be rendered")
    found = steps_by_id(workflow).get(step)
    if found is None:
        return RenderProblem(f"the spec no longer has step '{step}'")
    waiting = [need for need in found.needs if state.steps[need].state is not StepState.COMMITTED]
    if waiting:
        return RenderProblem(f"not rendered yet: it waits for {', '.join(waiting)}")
    from baton.runtime.render import RenderError, render_input
    from baton.runtime.sanitize import sanitizer
    from baton.runtime.taint import untrusted_paths

    tainted = [name for name, record in state.steps.items() if record.untrusted_sources]
    try:
        return render_input(
            found.input,
            state.scope(),
            untrusted=untrusted_paths(workflow, tainted),
            sanitize=sanitizer(workflow.untrusted_token_budget),
            where=f"step '{step}' ({found.spec})",
        )
    except RenderError as error:
        return RenderProblem(f"cannot render the input: {error}")


# -- approvals


@dataclass(frozen=True)
class PendingApproval:
    """One gate waiting for a decision, with exactly what is decided."""

    run_id: str
    workflow: str
    version: int
    step: str
    role: str
    stage: str
    principals: tuple[str, ...]
    requested_ms: int
    agent: str | None
    subject: Subject
    spec_changed: bool = False  # the spec on disk is not the one the run was pinned to
    reviews: tuple[dict[str, JSON], ...] = ()  # the step's review verdicts (reviews_of)

    def to_json(self) -> dict[str, JSON]:
        return {
            "run_id": self.run_id,
            "workflow": self.workflow,
            "version": self.version,
            "step": self.step,
            "role": self.role,
            "stage": self.stage,
            "principals": list(self.principals),
            "requested_ms": self.requested_ms,
            "agent": self.agent,
            "subject": self.subject.kind,
            "value": self.subject.value,
            "shown_sha256": self.subject.sha256 or None,
            "prompt": self.subject.prompt,
            "problem": self.subject.problem or None,
            "spec_changed": self.spec_changed,
            "reviews": list(self.reviews),
        }


class Workflows:
    """Each run's workflow loaded once per spec pin (loading compiles the spec)."""

    def __init__(self, load: LoadWorkflow | None) -> None:
        self._load = load
        self._cache: dict[tuple[str, float], tuple[Workflow | None, str]] = {}

    def of(self, state: RunState) -> tuple[Workflow | None, bool]:
        """The run's workflow (None if it cannot be loaded) and whether its spec
        changed since the run started."""
        if self._load is None:
            return None, False
        try:
            stamp = Path(state.spec).stat().st_mtime
        except (OSError, ValueError):
            stamp = 0.0
        key = (state.spec, stamp)
        if key not in self._cache:
            try:
                loaded = self._load(state.spec)
                entry: tuple[Workflow | None, str] = (loaded.workflow, loaded.pin)
            except LoadFailed:
                entry = (None, "")
            if len(self._cache) > 256:
                self._cache.clear()
            self._cache[key] = entry
        workflow, pin = self._cache[key]
        return workflow, bool(pin) and pin != state.spec_sha256


Log = Callable[[], list[dict[str, JSON]]]  # a run's events, read only if needed


def pending_in(
    state: RunState, workflows: Workflows, log: Log | None = None
) -> list[PendingApproval]:
    """The gates of one run that wait for a decision, in plan order; with `log`, each
    with its step's review verdicts."""
    pending = []
    workflow: Workflow | None = None
    changed = False
    loaded = False
    events: list[dict[str, JSON]] | None = None
    for step in state.plan:
        record = state.steps[step]
        approval = record.approval
        if record.state not in _AWAITING or approval is None or approval.decision is not None:
            continue
        if not loaded:
            workflow, changed = workflows.of(state)
            loaded = True
        role, holders = principals_for(state, step)  # the escalation role's, once escalated
        reviewed = record.review is not None and log is not None
        if reviewed and events is None and log is not None:
            events = log()
        pending.append(
            PendingApproval(
                run_id=state.run_id,
                workflow=state.workflow,
                version=state.version,
                step=step,
                role=role,
                stage=approval.stage,
                principals=tuple(holders),
                requested_ms=approval.requested_ms,
                agent=_agent_of(workflow, step, record),
                subject=shown_subject(state, step, workflow),
                spec_changed=changed,
                reviews=tuple(reviews_of(events or [], step)) if reviewed else (),
            )
        )
    return pending


def pending_approvals(source: ConsoleSource, workflows: Workflows) -> list[PendingApproval]:
    """Every gate waiting for a decision across the source's runs, oldest request
    first."""
    found: list[PendingApproval] = []
    for summary in source.summaries():
        if summary.status not in ("waiting", "running"):  # an ended run waits for nobody
            continue
        try:
            state = source.state(summary.run_id)
        except (api.StoreError, api.RunError):
            continue
        found.extend(pending_in(state, workflows, functools.partial(source.events, state.run_id)))
    return sorted(found, key=lambda p: (p.requested_ms, p.run_id, p.step))


def _agent_of(workflow: Workflow | None, step: str, record: StepRecord) -> str | None:
    if record.agent:
        return record.agent
    if workflow is None:
        return None
    found = steps_by_id(workflow).get(step)
    return found.agent if found is not None else None


# -- runs


@dataclass(frozen=True)
class RunRow:
    """A row of the runs list."""

    run_id: str
    workflow: str
    version: int
    status: str
    started_ms: int
    duration_ms: int | None
    cost_usd: float
    tokens: int
    waiting_on: tuple[str, ...]
    parent_run_id: str | None

    def to_json(self) -> dict[str, JSON]:
        return {
            "run_id": self.run_id,
            "workflow": self.workflow,
            "version": self.version,
            "status": self.status,
            "started_ms": self.started_ms,
            "duration_ms": self.duration_ms,
            "cost_usd": self.cost_usd,
            "tokens": self.tokens,
            "waiting_on": list(self.waiting_on),
            "parent_run_id": self.parent_run_id,
        }


@dataclass(frozen=True)
class RunPage:
    """A page of runs: the rows, the filters applied, and how many match."""

    rows: list[RunRow]
    total: int
    page: int
    per_page: int
    workflows: list[str] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    def to_json(self) -> dict[str, JSON]:
        return {
            "runs": [row.to_json() for row in self.rows],
            "total": self.total,
            "page": self.page,
            "per_page": self.per_page,
            "pages": self.pages,
        }


RUN_STATUSES = ("running", "waiting", "succeeded", "failed", "cancelled")


def run_rows(
    summaries: Sequence[api.RunSummary],
    status: str | None,
    workflow: str | None,
    page: int,
    per_page: int,
) -> RunPage:
    """Runs newest first, filtered by status and workflow, one page of them."""
    names = sorted({s.workflow for s in summaries})
    chosen = [
        s
        for s in summaries
        if (status is None or s.status == status) and (workflow is None or s.workflow == workflow)
    ]
    start = (page - 1) * per_page
    rows = []
    for s in chosen[start : start + per_page]:
        totals = s.totals
        rows.append(
            RunRow(
                run_id=s.run_id,
                workflow=s.workflow,
                version=s.version,
                status=s.status,
                started_ms=s.created_ms,
                duration_ms=_int_or_none(totals.get("duration_ms")),
                cost_usd=float(totals.get("cost_usd", 0.0) or 0.0),
                tokens=int(totals.get("tokens_in", 0) or 0) + int(totals.get("tokens_out", 0) or 0),
                waiting_on=tuple(s.waiting_on),
                parent_run_id=s.parent_run_id,
            )
        )
    return RunPage(rows, len(chosen), page, per_page, names)


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None


@dataclass(frozen=True)
class StepView:
    """One step of the run page: its state, needs, input (rendered) and output."""

    step: str
    state: str
    needs: tuple[str, ...]
    agent: str | None
    attempts: int
    usage: dict[str, JSON]
    input: JSON
    input_problem: str
    output: JSON
    has_output: bool
    checksum: str | None
    error: dict[str, JSON] | None
    approval: dict[str, JSON] | None
    skip_reason: str | None
    child_run_id: str | None
    reviews: tuple[dict[str, JSON], ...] = ()  # its review loop's verdicts (reviews_of)
    prompt: str | None = None  # an llm step's prompt, rendered as its input is

    def to_json(self) -> dict[str, JSON]:
        return {
            "step": self.step,
            "state": self.state,
            "needs": list(self.needs),
            "agent": self.agent,
            "attempts": self.attempts,
            "usage": self.usage,
            "input": self.input,
            "input_problem": self.input_problem or None,
            "output": self.output,
            "checksum": self.checksum,
            "error": self.error,
            "approval": self.approval,
            "skip_reason": self.skip_reason,
            "child_run_id": self.child_run_id,
            "reviews": list(self.reviews),
            "prompt": self.prompt,
        }


def step_views(
    state: RunState, workflow: Workflow | None, events: Sequence[dict[str, JSON]] = ()
) -> list[StepView]:
    """Every step of the run, in plan order, with its input rendered where it can be
    (and, from the run's `events`, its review verdicts)."""
    by_id = steps_by_id(workflow) if workflow is not None else {}
    views = []
    for step in state.plan:
        record = state.steps[step]
        found = by_id.get(step)
        rendered: JSON | RenderProblem
        if record.state is StepState.SKIPPED:
            rendered = RenderProblem("skipped: it never received an input")
        else:
            rendered = rendered_input(state, step, workflow)
        problem = rendered.message if isinstance(rendered, RenderProblem) else ""
        approval = record.to_json().get("approval")
        views.append(
            StepView(
                step=step,
                state=record.state.value,
                needs=tuple(found.needs) if found is not None else (),
                agent=_agent_of(workflow, step, record),
                attempts=record.attempts,
                usage=record.usage.to_json(),
                input=None if problem else rendered,
                input_problem=problem,
                output=record.output,
                has_output=record.checksum is not None
                or record.state in (StepState.VALIDATED, StepState.AWAITING_REVIEW),
                checksum=record.checksum,
                error=record.error,
                approval=approval if isinstance(approval, dict) else None,
                skip_reason=record.skip_reason,
                child_run_id=record.child_run_id,
                reviews=tuple(reviews_of(events, step)) if record.review is not None else (),
                prompt=None if problem else rendered_prompt(state, step, workflow),
            )
        )
    return views
