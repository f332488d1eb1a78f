"""`baton run --dry-run`: the plan of a run, executing nothing and writing nothing.

Every step's input is rendered, and every `if:` evaluated, against example outputs
derived from the handoff schemas (and the given input, or an example of the inputs
schema), so a template that cannot render shows up before any agent is called. An `llm`
step also shows the request its first attempt would send (runtime.llm.build_request:
the body, messages and output schema, untrusted values sanitized as in a run), with no
call made and no key read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from baton.runtime.core.plan import plan_order
from baton.runtime.examples import ExampleError, example_from_schema
from baton.runtime.model import JSON, AgentKind, Effect, Request, Step, Workflow
from baton.runtime.render import RenderError, evaluate_condition, render_input
from baton.runtime.sanitize import sanitizer
from baton.runtime.taint import untrusted_paths


@dataclass(frozen=True)
class PlannedStep:
    """One step as the run would see it, with example data."""

    step: Step
    generation: int
    input: JSON = None
    condition: bool | None = None  # the `if:` with example data; None without one
    problem: str | None = None  # a template or example that failed
    # an llm step: the request it would send, {"provider", "path", "body"}
    request: dict[str, Any] | None = None


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
            request = _llm_request(workflow, step, scope)
        except RenderError as error:
            problem = str(error)
            request = None
        planned.append(
            PlannedStep(step, generation_of.get(step_id, 0), rendered, condition, problem, request)
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
        if step.route:  # chosen when the step is ready: the cases, in order
            runs = "route " + " | ".join(
                f"{case.when.source if case.when else 'default'} -> "
                f"{'workflow ' + case.workflow if case.workflow else 'agent ' + str(case.agent)}"
                for case in step.route
            )
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
        if planned.request is not None:
            request = planned.request
            lines.append(f"    request: {request['provider']} POST {request['path']}")
            body = json.dumps(request["body"], ensure_ascii=False, indent=2)
            lines.extend(f"      {line}" for line in body.splitlines())
    if workflow.result:
        lines.append(f"result: {workflow.result}")
    return lines


def _llm_request(workflow: Workflow, step: Step, scope: dict[str, JSON]) -> dict[str, Any] | None:
    """The request an llm step's first attempt would send; None for other steps.
    Rendered as `execute_attempt` renders it: untrusted values sanitized and wrapped."""
    if step.agent is None or step.workflow is not None:
        return None
    try:
        binding = workflow.agent(step.agent)
    except KeyError:
        return None
    if binding.kind is not AgentKind.LLM or binding.llm is None:
        return None
    from baton.runtime.agents.envelope import AgentCall
    from baton.runtime.agents.llm_agent import request_for
    from baton.runtime.driver.attempt import render_prompt

    paths = untrusted_paths(workflow)
    where = f"step '{step.id}' ({step.spec})"
    rendered = render_input(
        step.input,
        scope,
        untrusted=paths,
        sanitize=sanitizer(workflow.untrusted_token_budget),
        where=where,
    )
    request = Request(
        workflow=workflow.name,
        run_id="dry-run",
        step=step.id,
        attempt=1,
        idempotency_key="dry-run",
        input=rendered,
        output_schema=step.output.schema if step.output else None,
        delegation_chain=step.delegation_chain,
    )
    call = AgentCall(
        binding,
        request,
        step.timeout_ms,
        workflow.root,
        prompt=render_prompt(workflow, step, scope, paths),
        description=step.description,
        output_ref=step.output.ref if step.output else None,
    )
    wire = request_for(call)
    return {"provider": wire.provider, "path": wire.path, "body": wire.body}


def _example(schema: JSON) -> JSON:
    return example_from_schema(schema)
