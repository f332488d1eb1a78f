"""What the rules read: the spec set plus derived lookups, computed once and cached."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from baton.compiler import ir
from baton.compiler.refs import SchemaStore
from baton.compiler.schema_walk import SchemaAt
from baton.compiler.span import Span

# the schema of a workflow without `result:`: an empty object
EMPTY_RESULT: dict[str, object] = {"type": "object", "additionalProperties": False}


@dataclass
class LintContext:
    """The spec set being linted and the lookups rules share."""

    spec: ir.SpecSet
    # hand-built spec sets (tests) get the working directory as their root
    store: SchemaStore = field(default_factory=lambda: SchemaStore(Path()))
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

    def is_upstream(self, workflow: ir.Workflow, step: str, candidate: str) -> bool:
        """Whether `candidate` is in `step`'s transitive `needs`."""
        index, closure = self._upstream[workflow.name]
        position = index.get(candidate)
        return position is not None and bool(closure.get(step, 0) >> position & 1)

    @cached_property
    def _upstream(self) -> dict[str, tuple[dict[str, int], dict[str, int]]]:
        """Per workflow: step -> bit position, and step -> bitset of its ancestors.

        Bitsets (Python ints) keep this linear in memory and fast for 10k-step chains,
        where sets of ancestors would be quadratic. Cycles (B101) are cut arbitrarily.
        """
        result: dict[str, tuple[dict[str, int], dict[str, int]]] = {}
        for workflow in self.spec.workflows.values():
            needs = self.known_needs(workflow)
            index = {step_id: position for position, step_id in enumerate(workflow.steps)}
            closure: dict[str, int] = {}
            for start in workflow.steps:
                if start in closure:
                    continue
                # iterative post-order DFS; a node on the stack is treated as done (cycle)
                stack: list[tuple[str, int]] = [(start, 0)]
                closure[start] = 0
                while stack:
                    node, next_child = stack[-1]
                    deps = needs[node]
                    if next_child < len(deps):
                        stack[-1] = (node, next_child + 1)
                        dep = deps[next_child]
                        if dep not in closure:
                            closure[dep] = 0
                            stack.append((dep, 0))
                        continue
                    stack.pop()
                    bits = 0
                    for dep in deps:
                        bits |= closure[dep] | (1 << index[dep])
                    closure[node] = bits
            result[workflow.name] = (index, closure)
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
    index = _find_reference(template.source, text)
    single_line = "\n" not in template.source and template.span.line == template.span.end_line
    if index < 0 or not single_line:
        return template.span
    return template.span.shifted(template.content_offset + index)


def _find_reference(source: str, text: str) -> int:
    """Where `text` is written as a whole reference, not as the start of a longer one.

    >>> _find_reference("{{ a.bc }} {{ a.b }}", "a.b"), _find_reference("a.b == 1", "a.b")
    (14, 0)
    """
    start = 0
    while (index := source.find(text, start)) >= 0:
        after = source[index + len(text) : index + len(text) + 1]
        before = source[index - 1 : index]
        if not _is_name_char(after) and not (_is_name_char(before) or before == "."):
            return index
        start = index + 1
    return -1


def _is_name_char(char: str) -> bool:
    return char.isalnum() or char == "_"
