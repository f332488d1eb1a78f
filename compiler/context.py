"""What the rules read: the spec set plus derived lookups, computed once and cached."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from compiler import ir
from compiler.refs import SchemaStore
from compiler.schema_walk import SchemaAt
from compiler.span import Span

# the schema of a workflow without `result:`: an empty object
EMPTY_RESULT: dict[str, object] = {"type": "object", "additionalProperties": False}


@dataclass
class LintContext:
    """The spec set being linted and the lookups rules share."""

    spec: ir.SpecSet
    store: SchemaStore = field(default_factory=SchemaStore)
    memo: dict[str, object] = field(default_factory=dict)

    # -- rosters and handoffs

    def roster(self, workflow: ir.Workflow) -> ir.Roster | None:
        return workflow.roster

    def handoff_version(self, workflow: ir.Workflow, ref: ir.OutputRef) -> ir.HandoffVersion | None:
        handoff = workflow.handoffs.get(ref.handoff)
        if handoff is None or not handoff.versions:
            return None
        return handoff.versions.get(ref.version if ref.version is not None else handoff.latest)

    # -- step graph

    def known_needs(self, workflow: ir.Workflow) -> dict[str, list[str]]:
        """Each step's `needs` that name existing steps (others are B102)."""
        return {
            step_id: [n.value for n in step.needs if n.value in workflow.steps]
            for step_id, step in workflow.steps.items()
        }

    def upstream(self, workflow: ir.Workflow) -> dict[str, set[str]]:
        """Each step's transitive `needs`; safe on cyclic graphs (B101 reports those)."""
        return self._upstream[workflow.name]

    @cached_property
    def _upstream(self) -> dict[str, dict[str, set[str]]]:
        result: dict[str, dict[str, set[str]]] = {}
        for workflow in self.spec.workflows.values():
            needs = self.known_needs(workflow)
            closure: dict[str, set[str]] = {}
            for start in needs:
                seen: set[str] = set()
                stack = list(needs[start])
                while stack:
                    node = stack.pop()
                    if node in seen:
                        continue
                    seen.add(node)
                    if node in closure:
                        seen |= closure[node]
                    else:
                        stack.extend(needs[node])
                closure[start] = seen
            result[workflow.name] = closure
        return result

    # -- what a step produces

    def step_output(self, workflow: ir.Workflow, step: ir.Step, _depth: int = 0) -> SchemaAt | None:
        """The schema of a step's output (a child's result for a sub-workflow step)."""
        if step.workflow is not None:
            child = self.spec.workflows.get(step.workflow.value)
            if child is None or _depth > len(self.spec.workflows):
                return None
            if child.result is None:
                return SchemaAt(EMPTY_RESULT, Path(child.path), EMPTY_RESULT)  # type: ignore[arg-type]
            result_step = child.steps.get(child.result.value)
            return self.step_output(child, result_step, _depth + 1) if result_step else None
        if step.output is None:
            return SchemaAt(EMPTY_RESULT, Path(workflow.path), EMPTY_RESULT)  # type: ignore[arg-type]
        version = self.handoff_version(workflow, step.output)
        if version is None:
            return None
        schema = version.schema
        return SchemaAt(schema.value, schema.base, schema.value, schema.node)

    def inputs_schema(self, workflow: ir.Workflow) -> SchemaAt | None:
        if workflow.inputs is None:
            return SchemaAt(EMPTY_RESULT, Path(workflow.path), EMPTY_RESULT)  # type: ignore[arg-type]
        schema = workflow.inputs
        return SchemaAt(schema.value, schema.base, schema.value, schema.node)

    # -- workflow call graph

    @cached_property
    def calls(self) -> dict[str, list[str]]:
        """Workflow -> the workflows its steps call (known ones only)."""
        return {
            name: sorted(
                {
                    step.workflow.value
                    for step in workflow.steps.values()
                    if step.workflow and step.workflow.value in self.spec.workflows
                }
            )
            for name, workflow in self.spec.workflows.items()
        }


def reference_span(template: ir.Template, text: str) -> Span:
    """Where `text` (a reference) sits inside a template's scalar, when it can tell."""
    index = template.source.find(text)
    single_line = "\n" not in template.source and template.span.line == template.span.end_line
    if index < 0 or not single_line:
        return template.span
    return template.span.shifted(template.content_offset + index)
