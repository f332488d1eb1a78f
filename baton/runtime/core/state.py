"""The materialized state of a run: what folding its event log yields.

`RunState` and `StepRecord` are frozen values; `runtime.core.apply` builds new ones.
`to_json` is the `state.json` view (`baton show --json`); the fields it derives
(`status`, `result`, `totals`) are computed from the stored ones, never stored apart, so
they cannot disagree with them.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from baton.runtime.core.index import index_of
from baton.runtime.core.map_state import MapRecord
from baton.runtime.lifecycle import TERMINAL
from baton.runtime.model import JSON, StepState

# run statuses, as `baton status` and `state.json` show them
RUNNING = "running"
WAITING = "waiting"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
FINAL_STATUSES = frozenset({SUCCEEDED, FAILED, CANCELLED})

V = TypeVar("V")
_FIXED_AT_START = ("inputs", "plan", "triggers", "gates", "shape", "parent", "spec", "trace_id")


def evolve(value: V, **changes: Any) -> V:
    """`dataclasses.replace` without running `__init__` again: a fold applies thousands
    of events, and replace costs ten times more. For this module's frozen dataclasses,
    whose fields are their whole state (a cached serialization is dropped)."""
    unknown = changes.keys() - _FIELDS[type(value)]
    if unknown:
        raise TypeError(f"{type(value).__name__} has no field {sorted(unknown)[0]!r}")
    new: V = object.__new__(type(value))
    new.__dict__.update(value.__dict__)
    new.__dict__.pop("stored_json", None)
    new.__dict__.update(changes)
    return new


# json.dumps(separators=(",", ":"), ensure_ascii=False), without a new encoder per call
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)

_IN_MOTION = frozenset({StepState.RUNNING, StepState.RETRYING, StepState.VALIDATED})
_AWAITING_HUMAN = frozenset({StepState.AWAITING_APPROVAL, StepState.AWAITING_REVIEW})


@dataclass(frozen=True)
class UsageTotals:
    """Tokens and cost an agent reported, summed over attempts."""

    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0

    def to_json(self) -> dict[str, JSON]:
        return {
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost_usd": self.cost_usd,
        }

    def plus(self, usage: dict[str, JSON]) -> UsageTotals:
        return UsageTotals(
            self.tokens_in + int(usage.get("tokens_in") or 0),
            self.tokens_out + int(usage.get("tokens_out") or 0),
            self.cost_usd + float(usage.get("cost_usd") or 0.0),
        )


@dataclass(frozen=True)
class ApprovalRecord:
    """A gate's request and, once given, its decision (who, when, role, comment)."""

    role: str
    stage: str
    requested_ms: int
    decision: str | None = None  # granted | rejected
    principal: str | None = None
    comment: str | None = None
    decided_ms: int | None = None
    channel: str | None = None  # cli | web | api: how the decision came
    # runtime.core.approvals: the sha256 of what the decider was shown; grants voided
    # so far; whether the request timed out (its follow-up not yet recorded); the role
    # it was escalated from. In the JSON only when set (older states look the same).
    shown_sha256: str | None = None
    voided: int = 0
    timed_out: bool = False
    escalated_from: str | None = None
    # stage `tool` (runtime.tools): the call waiting, {"subject": {tool, name, arguments,
    # step, attempt, key}, "sha256", "principals"}; in the JSON only when set
    tool: dict[str, JSON] | None = None


@dataclass(frozen=True)
class StepRecord:
    """One step of one run.

    `attempt_open` is true from `attempt_started` until the attempt's outcome; an open
    attempt that belonged to a process which is gone is `interrupted` (set by
    `run_resumed`) and will be run again with the same key.
    """

    state: StepState = StepState.PENDING
    attempts: int = 0
    restarts: int = 0
    idempotency_key: str | None = None
    attempt_open: bool = False
    interrupted: bool = False
    external: bool = False
    started_ms: int | None = None
    finished_ms: int | None = None
    output: JSON = None
    checksum: str | None = None
    quality_score: float | None = None
    latency_ms: int | None = None
    usage: UsageTotals = field(default_factory=UsageTotals)
    error: dict[str, JSON] | None = None
    approval: ApprovalRecord | None = None
    retry_due_ms: int | None = None
    skip_reason: str | None = None
    child_run_id: str | None = None
    dropped_commits: int = 0
    untrusted_sources: tuple[str, ...] = ()  # untrusted values its input received (taint)
    # a model's rejected replies, oldest first: {"attempt", "reply", "errors" [{pointer,
    # message}], "parsed"} (parsed false: the reply held no JSON at all). The next attempt
    # rebuilds its conversation from them (runtime.agents.llm_agent), after a resume too
    repairs: tuple[dict[str, JSON], ...] = ()
    agent: str | None = None  # who ran its latest attempt
    # attempts made before the step's latest redrive (`run_redriven`): its retry budget
    # counts only the attempts after them
    attempt_base: int = 0
    # the step's fallback in use (1-based index into `Step.fallbacks`; 0: its own agent)
    fallback: int = 0
    # a routed step's choice (`route_selected`): {"case": 1-based index, "kind": "agent" |
    # "workflow", "target": name}; {"case": 0}: no case matched. None: not chosen yet
    route: dict[str, JSON] | None = None
    # a map step's items (runtime.core.mapping); None for other steps
    map: MapRecord | None = None
    # a review loop's progress (runtime.core.review.progress); None: no review yet
    review: dict[str, JSON] | None = None
    # the decisions on tool calls of its latest attempt (runtime.tools), oldest first:
    # {"key", "sha256", "decision", "principal", "role", "comment"}; the attempt run again
    # after each gets them all (core.commands.StartAttempt.tool_decisions)
    tool_decisions: tuple[dict[str, JSON], ...] = ()

    def to_json(self) -> dict[str, JSON]:
        # by hand, not dataclasses.asdict: that deep-copies every output, and the
        # driver serializes the state at every commit
        data = {name: getattr(self, name) for name in _STEP_FIELDS}
        data["state"] = self.state.value
        data["usage"] = self.usage.to_json()
        data["untrusted_sources"] = list(self.untrusted_sources)
        if self.repairs:
            data["repairs"] = list(self.repairs)
        else:  # steps of other agents look as they always did
            del data["repairs"]
        if not self.attempt_base:  # nor do steps never redriven
            del data["attempt_base"]
        if not self.fallback:  # nor steps no fallback took over
            del data["fallback"]
        if self.route is None:  # nor steps without a route
            del data["route"]
        if self.map is None:  # nor steps that map over no list
            del data["map"]
        else:
            data["map"] = self.map.to_json()
        if self.review is None:  # nor steps without a review loop
            del data["review"]
        if self.tool_decisions:  # nor steps whose tool calls nobody decided
            data["tool_decisions"] = list(self.tool_decisions)
        else:
            del data["tool_decisions"]
        if self.approval is not None:
            data["approval"] = {
                name: getattr(self.approval, name)
                for name in _APPROVAL_FIELDS
                if name not in _APPROVAL_OPTIONAL or getattr(self.approval, name)
            }
        return data

    @cached_property
    def stored_json(self) -> str:
        """This record as the store keeps it (output left out: the outputs table has it);
        cached, so a commit re-serializes only the steps that changed."""
        data = self.to_json()
        data["output"] = None
        return _COMPACT.encode(data)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StepRecord:
        values = dict(data)
        values["state"] = StepState(values["state"])
        values["usage"] = UsageTotals(**values["usage"])
        values["untrusted_sources"] = tuple(values.get("untrusted_sources") or ())
        values["repairs"] = tuple(values.get("repairs") or ())
        values["tool_decisions"] = tuple(values.get("tool_decisions") or ())
        if values.get("approval") is not None:
            values["approval"] = ApprovalRecord(**values["approval"])
        if values.get("map") is not None:
            values["map"] = MapRecord.from_json(values["map"])
        return cls(**values)


_STEP_FIELDS = tuple(f.name for f in dataclasses.fields(StepRecord))
_APPROVAL_FIELDS = tuple(f.name for f in dataclasses.fields(ApprovalRecord))
_APPROVAL_OPTIONAL = frozenset({"shown_sha256", "voided", "timed_out", "escalated_from", "tool"})


@dataclass(frozen=True)
class RunState:
    """A run: what it runs, its plan (fixed at start), its steps and its outcome."""

    run_id: str
    workflow: str
    version: int
    spec_sha256: str
    spec: str
    trace_id: str
    inputs: JSON
    plan: tuple[str, ...]
    triggers: dict[str, tuple[str, ...]]
    gates: dict[str, dict[str, JSON]]
    shape: dict[str, str]
    result_step: str | None
    parent: dict[str, str] | None
    steps: dict[str, StepRecord]
    started_ms: int
    updated_ms: int
    last_seq: int
    outcome: str | None = None  # succeeded | failed | cancelled once the run ended
    error: dict[str, JSON] | None = None
    cancel_requested: bool = False
    finished_ms: int | None = None
    resumes: int = 0
    redrives: int = 0  # `run_redriven` events: how often the failed run was taken up again
    # budgets (runtime.core.budget): the caps by scope (`run`, `agent:NAME`), pinned at
    # start and raised by `budget_raised`; what each agent spent; the enforced crossing
    # the run waits on (None: none); the audit crossings already recorded
    budgets: dict[str, dict[str, JSON]] = field(default_factory=dict)
    agent_usage: dict[str, UsageTotals] = field(default_factory=dict)
    budget_wait: dict[str, JSON] | None = None
    budget_crossed: tuple[str, ...] = ()

    # -- derived views

    @property
    def status(self) -> str:
        """running | waiting (only a human decision can move it) | a final status.

        A decision is an approval, or a raise of the budget the run waits on (while it
        waits, a step between attempts does not move: its next attempt is held back)."""
        if self.outcome is not None:
            return self.outcome
        blocked = self.budget_wait is not None
        undecided = moving = False
        by_state = index_of(self).by_state  # the steps in each state, without a scan
        for awaiting in _AWAITING_HUMAN:
            for step in by_state[awaiting]:
                record = self.steps[step]
                decided = record.approval is not None and record.approval.decision is not None
                moving = moving or decided
                undecided = undecided or not decided
        for in_motion in _IN_MOTION:
            if by_state[in_motion]:
                moving = moving or not (blocked and in_motion is StepState.RETRYING)
        waiting = (undecided or blocked) and not moving and not self.cancel_requested
        return WAITING if waiting else RUNNING

    @property
    def waiting_on(self) -> list[str]:
        """What decisions the run waits for: `approval`, `budget` (empty unless waiting)."""
        if self.status != WAITING:
            return []
        on = []
        if any(
            r.state in _AWAITING_HUMAN and (r.approval is None or r.approval.decision is None)
            for r in self.steps.values()
        ):
            on.append("approval")
        if self.budget_wait is not None:
            on.append("budget")
        return on

    @property
    def result(self) -> JSON:
        """The `result` step's output once the run succeeded; `{}` without a result step."""
        if self.outcome != SUCCEEDED:
            return None
        if self.result_step is None:
            return {}
        return self.steps[self.result_step].output

    def totals(self) -> dict[str, JSON]:
        # one pass, plain numbers: this runs at every commit
        attempts = restarts = tokens_in = tokens_out = latency = 0
        cost = 0.0
        by_state: dict[StepState, int] = {}
        for record in self.steps.values():
            attempts += record.attempts
            restarts += record.restarts
            usage = record.usage
            tokens_in += usage.tokens_in
            tokens_out += usage.tokens_out
            cost += usage.cost_usd
            latency += record.latency_ms or 0
            by_state[record.state] = by_state.get(record.state, 0) + 1
        end = self.finished_ms if self.finished_ms is not None else self.updated_ms
        return {
            "attempts": attempts,
            "restarts": restarts,
            "tokens_in": tokens_in,
            "tokens_out": tokens_out,
            "cost_usd": cost,
            "latency_ms": latency,
            "duration_ms": end - self.started_ms,
            "steps": {state.value: count for state, count in sorted(by_state.items())},
        }

    def is_final(self) -> bool:
        return self.outcome is not None

    def active_steps(self) -> list[str]:
        return [step for step in self.plan if self.steps[step].state not in TERMINAL]

    def scope(self) -> dict[str, JSON]:
        """What templates and `if:` expressions may read: committed outputs only."""
        return {
            "inputs": self.inputs,
            # a copy of the index's mapping (kept by `apply`): no walk over the steps
            "steps": dict(index_of(self).outputs),
            "run": {"id": self.run_id, "workflow": self.workflow},
        }

    def tainted_steps(self) -> set[str]:
        """The steps that received untrusted data (`untrusted_sources`), from the index."""
        return set(index_of(self).tainted)

    # -- serialization

    def to_json(self) -> dict[str, JSON]:
        """The `state.json` view; stored fields first, then the derived ones."""
        data = self._head()
        data["steps"] = {step: self.steps[step].to_json() for step in self.plan}
        data["totals"] = self.totals()
        return data

    def stored_json(self) -> str:
        """`to_json` as the store keeps it, without outputs (the outputs table has them).

        Built from each step's cached text: a commit serializes only what changed.
        """
        # `_head` without the fields fixed at start (in `fixed_json`), in its order;
        # built directly, as this runs at every commit
        head = {
            "run_id": self.run_id,
            "workflow": self.workflow,
            "version": self.version,
            "spec_sha256": self.spec_sha256,
            "status": self.status,
            "result": None,
            "result_step": self.result_step,
            "error": self.error,
            "started_ms": self.started_ms,
            "updated_ms": self.updated_ms,
            "finished_ms": self.finished_ms,
            "last_seq": self.last_seq,
            "outcome": self.outcome,
            "cancel_requested": self.cancel_requested,
            "resumes": self.resumes,
            **self._redrive_json(),
            "totals": self.totals(),
            **self._budget_json(),
        }
        steps = ",".join(
            f"{quoted}:{self.steps[step].stored_json}" for step, quoted in self.quoted_plan
        )
        text = _COMPACT.encode(head)
        return f'{text[:-1]},{self.fixed_json},"steps":{{{steps}}}}}'

    @cached_property
    def quoted_plan(self) -> tuple[tuple[str, str], ...]:
        return tuple((step, json.dumps(step, ensure_ascii=False)) for step in self.plan)

    @cached_property
    def fixed_json(self) -> str:
        """The part of `stored_json` a run never changes after it starts, serialized once
        (`evolve` carries it over: no event changes these fields)."""
        head = self._head()
        fixed = {k: head[k] for k in _FIXED_AT_START}
        return json.dumps(fixed, separators=(",", ":"), ensure_ascii=False)[1:-1]

    def _head(self) -> dict[str, JSON]:
        return {
            "run_id": self.run_id,
            "workflow": self.workflow,
            "version": self.version,
            "spec_sha256": self.spec_sha256,
            "spec": self.spec,
            "status": self.status,
            "inputs": self.inputs,
            "result": self.result,
            "result_step": self.result_step,
            "error": self.error,
            "trace_id": self.trace_id,
            "parent": self.parent,
            "started_ms": self.started_ms,
            "updated_ms": self.updated_ms,
            "finished_ms": self.finished_ms,
            "last_seq": self.last_seq,
            "outcome": self.outcome,
            "cancel_requested": self.cancel_requested,
            "resumes": self.resumes,
            **self._redrive_json(),
            **self._budget_json(),
            "plan": list(self.plan),
            "triggers": {step: list(triggers) for step, triggers in self.triggers.items()},
            "gates": self.gates,
            "shape": self.shape,
        }

    def _redrive_json(self) -> dict[str, JSON]:
        # runs never redriven look as they always did
        return {"redrives": self.redrives} if self.redrives else {}

    def _budget_json(self) -> dict[str, JSON]:
        return {
            "waiting_on": self.waiting_on,
            "budgets": self.budgets,
            "budget_wait": self.budget_wait,
            "budget_crossed": list(self.budget_crossed),
            "agents": {name: usage.to_json() for name, usage in sorted(self.agent_usage.items())},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunState:
        """Inverse of `to_json` (derived fields are recomputed, not read)."""
        return cls(
            run_id=data["run_id"],
            workflow=data["workflow"],
            version=data["version"],
            spec_sha256=data["spec_sha256"],
            spec=data["spec"],
            trace_id=data["trace_id"],
            inputs=data["inputs"],
            plan=tuple(data["plan"]),
            triggers={step: tuple(t) for step, t in data["triggers"].items()},
            gates=data["gates"],
            shape=data["shape"],
            result_step=data["result_step"],
            parent=data["parent"],
            steps={step: StepRecord.from_json(r) for step, r in data["steps"].items()},
            started_ms=data["started_ms"],
            updated_ms=data["updated_ms"],
            last_seq=data["last_seq"],
            outcome=data["outcome"],
            error=data["error"],
            cancel_requested=data["cancel_requested"],
            finished_ms=data["finished_ms"],
            resumes=data["resumes"],
            redrives=data.get("redrives") or 0,
            budgets=data.get("budgets") or {},
            agent_usage={
                name: UsageTotals(**usage) for name, usage in (data.get("agents") or {}).items()
            },
            budget_wait=data.get("budget_wait"),
            budget_crossed=tuple(data.get("budget_crossed") or ()),
        )


_FIELDS: dict[type, frozenset[str]] = {
    cls: frozenset(f.name for f in dataclasses.fields(cls))
    for cls in (StepRecord, RunState, ApprovalRecord, UsageTotals)
}
