"""What a person approves: the subject of a waiting gate, and its sha256.

A decision is bound to what the decider was shown. For a gate of stage `before` that is
exactly what the step's agent will receive: its rendered input (untrusted values
sanitized and wrapped as the attempt renders them), its rendered prompt if it has one,
and which agent runs it; for stage `after`, the validated output; for stage
`escalation` (a review loop that did not pass, `on_exhausted: escalate`), the last
output, which a grant commits. The subject is plain JSON; its sha256 is that of its
canonical JSON (RFC 8785, `runtime.canonical`), so the command line, the web console
and the run's driver compute the same hash from the same state and spec.

Callers: `baton approve/reject` (prints the hash and records it with the decision),
the console and its API (the same), and `runtime.core.approvals`, which compares the
hash recorded with a grant against the subject when the run goes on: if they differ
(a spec change, a redrive), the grant is void and the gate asks again.

A model's tool call waiting for a person (stage `tool`) has its own subject: the tool,
the function called, its arguments, the step, the attempt and the call's key, recorded
with the request (`tool_subject`); the toolbox binds the decision to its sha256.

Pure: it reads the run's state and the compiled workflow, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from baton.runtime.canonical import canonical_json, checksum
from baton.runtime.core.state import RunState
from baton.runtime.model import JSON, Workflow


class NoSubject(ValueError):
    """The step has no approval gate, or the workflow does not know it."""


@dataclass(frozen=True)
class Subject:
    """A gate's subject: `value` (JSON), its canonical `text` and `sha256`."""

    step: str
    stage: str
    value: dict[str, JSON]

    @property
    def text(self) -> str:
        return canonical_json(self.value).decode("utf-8")

    @property
    def sha256(self) -> str:
        return checksum(self.value)

    def to_json(self) -> dict[str, JSON]:
        return {
            "step": self.step,
            "stage": self.stage,
            "sha256": self.sha256,
            "subject": self.value,
        }


def tool_subject(state: RunState, step_id: str) -> Subject | None:
    """The subject of a model's tool call waiting for a person (stage `tool`:
    runtime.core.tool_approvals), from the run's state alone; None for other gates."""
    record = state.steps.get(step_id)
    approval = record.approval if record is not None else None
    if approval is None or approval.stage != "tool" or approval.tool is None:
        return None
    value = approval.tool.get("subject")
    return Subject(step_id, "tool", dict(value) if isinstance(value, dict) else {})


def subject(workflow: Workflow | None, state: RunState, step_id: str) -> Subject:
    """The subject of `step_id`'s gate as the run stands now; NoSubject if ungated. A
    tool call's needs no workflow (`tool_subject`); every other gate's does."""
    from baton.runtime.core.decide import agent_of, steps_by_id

    called = tool_subject(state, step_id)
    if called is not None:
        return called
    if workflow is None:
        raise NoSubject(f"the spec of run '{state.run_id}' is needed to show step '{step_id}'")

    step = steps_by_id(workflow).get(step_id)
    gate = state.gates.get(step_id)
    record = state.steps.get(step_id)
    if step is None or gate is None or record is None:
        raise NoSubject(f"step '{step_id}' has no approval gate in run '{state.run_id}'")
    stage = record.approval.stage if record.approval is not None else str(gate["stage"])
    value: dict[str, JSON] = {"step": step_id, "stage": stage}
    if stage in ("after", "escalation"):  # escalation: the last output of a review
        value["output"] = record.output  # loop that did not pass, committed if granted
        return Subject(step_id, stage, value)
    value["agent"] = agent_of(step, record)
    value.update(_rendered(workflow, state, step_id))
    return Subject(step_id, stage, value)


def subject_sha256(workflow: Workflow, state: RunState, step_id: str) -> str:
    """The sha256 of `step_id`'s subject now (see `subject`)."""
    return subject(workflow, state, step_id).sha256


def _rendered(workflow: Workflow, state: RunState, step_id: str) -> dict[str, JSON]:
    """The input (and prompt) the step's next attempt renders, as `execute_attempt`
    renders them; a template that does not render is shown as its error."""
    from baton.runtime.core.decide import steps_by_id
    from baton.runtime.driver.attempt import render_prompt
    from baton.runtime.render import RenderError, render_input
    from baton.runtime.sanitize import sanitizer
    from baton.runtime.taint import untrusted_paths

    step = steps_by_id(workflow)[step_id]
    scope = state.scope()
    tainted = [name for name, record in state.steps.items() if record.untrusted_sources]
    paths = untrusted_paths(workflow, tainted)
    try:
        rendered: JSON = render_input(
            step.input,
            scope,
            untrusted=paths,
            sanitize=sanitizer(workflow.untrusted_token_budget),
            where=f"step '{step.id}' ({step.spec})",
        )
        prompt = render_prompt(workflow, step, scope, paths)
    except RenderError as error:
        return {"error": f"cannot render the input: {error}"}
    value: dict[str, JSON] = {"input": rendered}
    if prompt is not None:
        value["prompt"] = prompt
    return value
