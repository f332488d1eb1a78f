"""A run's fixed plan, taken from its compiled workflow when it starts. Pure.

`run_started` builds the first event: the steps in plan order, each step's lifecycle
triggers, its approval gate, and its *shape* (needs, output handoff and schema), which is
what a resumed run compares to decide whether a changed spec is still compatible.
"""

from __future__ import annotations

from baton.runtime.canonical import checksum
from baton.runtime.core.budget import pinned_budgets
from baton.runtime.core.events import RunStarted
from baton.runtime.lifecycle import TRANSITIONS, applicable_triggers
from baton.runtime.model import JSON, Approval, Step, Workflow


def plan_order(workflow: Workflow) -> tuple[str, ...]:
    """Step ids generation by generation (the order `decide` looks at them)."""
    ordered = [step for generation in workflow.generations for step in generation]
    listed = set(ordered)
    ordered += [step.id for step in workflow.steps if step.id not in listed]
    return tuple(ordered)


def triggers_of(step: Step, workflow: Workflow | None = None) -> tuple[str, ...]:
    """The lifecycle triggers the step was compiled with (derived if codegen left none),
    plus `await_tool_approval` when an agent that may run it can call a tool with
    `approval:` (a roster fact, not the step's: known here, when the run starts)."""
    triggers = _compiled_triggers(step)
    if workflow is None or not waits_for_tool_approvals(workflow, step):
        return triggers
    wanted = {*triggers, "await_tool_approval"}
    return tuple(t.trigger for t in TRANSITIONS if t.trigger in wanted)


def waits_for_tool_approvals(workflow: Workflow, step: Step) -> bool:
    """Whether an agent that may run `step` (its own, a fallback, a route's) may call a
    tool with `approval:` (runtime.tools). A map step's items cannot wait for one."""
    if step.map is not None:
        return False
    agents = {step.agent, *(f.agent for f in step.fallbacks), *(c.agent for c in step.route)}
    approved = {tool.name for tool in workflow.tools if tool.approval_role is not None}
    for binding in workflow.agents:
        if binding.name in agents and approved & set(binding.tools):
            return True
    return False


def _compiled_triggers(step: Step) -> tuple[str, ...]:
    if step.transitions:
        return step.transitions
    approval = step.approval
    return applicable_triggers(
        approval is not None,
        approval.stage if approval else None,
        step.retry.max_attempts > 1,
        bool(step.fallbacks),
        bool(step.route),
        step.review.on_exhausted.value if step.review is not None else None,
    )


def step_shape(step: Step) -> str:
    """What must not change under a resumed run: dependencies and the output contract."""
    output = f"{step.output.ref}#{checksum(step.output.schema)[:16]}" if step.output else "-"
    return f"needs={','.join(sorted(step.needs))};output={output};workflow={step.workflow or '-'}"


def shape(workflow: Workflow) -> dict[str, str]:
    """Each step's shape; computed once per workflow object (every run start needs it,
    and each shape hashes an output schema)."""
    known = _SHAPES.get(id(workflow))
    if known is None or known[0] is not workflow:
        known = (workflow, {step.id: step_shape(step) for step in workflow.steps})
        if len(_SHAPES) > 64:
            _SHAPES.clear()
        _SHAPES[id(workflow)] = known
    return dict(known[1])


# id -> (the workflow, kept alive so that its id is not reused; its steps' shapes)
_SHAPES: dict[int, tuple[Workflow, dict[str, str]]] = {}


def shape_changes(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """Why a changed spec is incompatible with a run (empty when it is compatible).

    >>> shape_changes({"a": "x", "b": "y"}, {"a": "z", "c": "y"})
    ["step 'a' changed its needs or output handoff", "step 'b' was removed", "step 'c' was added"]
    """
    changes = []
    for step in sorted(old.keys() | new.keys()):
        if step not in new:
            changes.append(f"step '{step}' was removed")
        elif step not in old:
            changes.append(f"step '{step}' was added")
        elif old[step] != new[step]:
            changes.append(f"step '{step}' changed its needs or output handoff")
    return changes


def timeout_gate(workflow: Workflow, approval: Approval) -> dict[str, JSON]:
    """A gate's timeout, in `run_started`: what happens without a decision in time."""
    escalate_to = approval.escalate_to
    return {
        "timeout_ms": approval.timeout_ms,
        "on_timeout": approval.on_timeout,
        "escalate_to": escalate_to,
        "escalate_principals": list(workflow.principals(escalate_to)) if escalate_to else [],
    }


def run_started(
    workflow: Workflow,
    inputs: JSON,
    pin: str,
    spec: str,
    parent: dict[str, str] | None = None,
) -> RunStarted:
    """The first event of a run of `workflow`, pinned to `pin` (see `workflow_pin`)."""
    gates: dict[str, dict[str, JSON]] = {}
    for step in workflow.steps:
        escalate_to = step.review.escalate_to if step.review is not None else None
        if step.approval is None and escalate_to is not None:
            # an exhausted review loop's escalation: decided like an after-stage gate
            gates[step.id] = {
                "role": escalate_to,
                "stage": "escalation",
                "principals": list(workflow.principals(escalate_to)),
            }
        if step.approval is not None:
            role = step.approval.role
            gates[step.id] = {
                "role": role,
                "stage": step.approval.stage.value,
                "principals": list(workflow.principals(role)),
            }
            if step.approval.timeout_ms is not None:  # runtime.core.approvals
                gates[step.id].update(timeout_gate(workflow, step.approval))
    return RunStarted(
        workflow=workflow.name,
        version=workflow.version,
        spec_sha256=pin,
        spec=spec,
        inputs=inputs,
        steps=plan_order(workflow),
        triggers={step.id: triggers_of(step, workflow) for step in workflow.steps},
        gates=gates,
        result_step=workflow.result,
        parent=parent,
        shape=shape(workflow),
        budgets=pinned_budgets(workflow),
    )


def workflow_pin(workflow: Workflow, module_source: str | None = None) -> str:
    """The sha256 a run is pinned to: the spec's, plus the compiled module's if known."""
    if module_source is None:
        return workflow.spec_sha256
    return checksum([workflow.spec_sha256, module_source])
