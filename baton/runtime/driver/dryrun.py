"""`baton run --dry-run`: the plan of a run, executing nothing and writing nothing.

Every step's input is rendered, and every `if:` evaluated, against example outputs
derived from the handoff schemas (and the given input, or an example of the inputs
schema), so a template that cannot render shows up before any agent is called.
"""

from __future__ import annotations

from dataclasses import dataclass

from baton.runtime.core.plan import plan_order
from baton.runtime.examples import ExampleError, example_from_schema
from baton.runtime.model import JSON, Effect, Step, Workflow
from baton.runtime.render import RenderError, evaluate_condition, render_input


@dataclass(frozen=True)
class PlannedStep:
    """One step as the run would see it, with example data."""

    step: Step
    generation: int
    input: JSON = None
    condition: bool | None = None  # the `if:` with example data; None without one
    problem: str | None = None  # a template or example that failed


@dataclass(frozen=True)
class Plan:
    workflow: Workflow
    inputs: JSON
    steps: tuple[PlannedStep, ...]

    @property
    def problems(self) -> list[str]:
        return [f"step '{p.step.id}': {p.problem}" for p in self.steps if p.problem]


def dry_run(workflow: Workflow, inputs: JSON | None) -> Plan:
    """The plan with every template rendered on example data; calls nothing."""
    if inputs is None:
        inputs = _example(workflow.inputs_schema) if workflow.inputs_schema is not None else {}
    generation_of = {
        step: index for index, generation in enumerate(workflow.generations) for step in generation
    }
    outputs: dict[str, JSON] = {}
    for step in workflow.steps:
        try:
            outputs[step.id] = _example(step.output.schema) if step.output else {}
        except ExampleError:
            outputs[step.id] = {}
    scope = {
        "inputs": inputs,
        "steps": {step: {"output": output} for step, output in outputs.items()},
        "run": {"id": "dry-run", "workflow": workflow.name},
    }
    planned = []
    for step_id in plan_order(workflow):
        step = workflow.step(step_id)
        condition = None
        problem = None
        rendered: JSON = None
        try:
            if step.condition is not None:
                condition = evaluate_condition(step.condition, scope)
            rendered = render_input(step.input, scope, where=f"step '{step.id}' ({step.spec})")
        except RenderError as error:
            problem = str(error)
        planned.append(
            PlannedStep(step, generation_of.get(step_id, 0), rendered, condition, problem)
        )
    return Plan(workflow, inputs, tuple(planned))


def describe(plan: Plan) -> list[str]:
    """The plan as lines for the terminal: generations, gates, effects, inputs."""
    import json

    workflow = plan.workflow
    lines = [f"plan of {workflow.name} v{workflow.version} ({workflow.spec_path})"]
    current = -1
    for planned in plan.steps:
        step = planned.step
        if planned.generation != current:
            current = planned.generation
            lines.append(f"generation {current + 1}:")
        runs = f"workflow {step.workflow}" if step.workflow else f"agent {step.agent}"
        notes = [runs]
        if step.needs:
            notes.append(f"needs {', '.join(step.needs)}")
        if step.output is not None:
            notes.append(f"output {step.output.ref}")
        if step.approval is not None:
            notes.append(f"approval by {step.approval.role} ({step.approval.stage.value})")
        if step.effect is Effect.EXTERNAL:
            notes.append("effect external")
        if step.retry.max_attempts > 1:
            notes.append(f"up to {step.retry.max_attempts} attempts")
        lines.append(f"  {step.id}: {'; '.join(notes)}")
        if step.condition is not None:
            shown = "?" if planned.condition is None else str(planned.condition).lower()
            lines.append(f"    if {step.condition.source}  (with example data: {shown})")
        if planned.problem:
            lines.append(f"    error: {planned.problem}")
        else:
            text = json.dumps(planned.input, ensure_ascii=False)
            lines.append(f"    input: {text if len(text) <= 200 else text[:199] + '...'}")
    if workflow.result:
        lines.append(f"result: {workflow.result}")
    return lines


def _example(schema: JSON) -> JSON:
    return example_from_schema(schema)
