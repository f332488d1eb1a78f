"""What the rules read: the spec set and what the pipeline's stages derived from it.

Each derived field is computed once, by its stage (compiler.pipeline.STAGES), before any
rule runs: the problems the front end found, the graphs, the delegation chains and the
template references.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from baton.compiler import ir
from baton.compiler.chains import StepChain
from baton.compiler.diagnostics import Problem
from baton.compiler.graphs import SpecGraphs
from baton.compiler.references import Read
from baton.compiler.refs import SchemaStore
from baton.compiler.schema_walk import SchemaAt
from baton.compiler.span import Span

# the schema of a workflow without `result:`: an empty object
EMPTY_RESULT: dict[str, object] = {"type": "object", "additionalProperties": False}


@dataclass
class LintContext:
    """The spec set being linted and the results of the analysis stages."""

    spec: ir.SpecSet
    # hand-built spec sets (tests) get the working directory as their root
    store: SchemaStore = field(default_factory=lambda: SchemaStore(Path()))
    # stage `structure` and `resolve`: not a valid spec (B002) / a roster that does not
    # resolve (B205)
    invalid: tuple[Problem, ...] = ()
    unresolved: tuple[Problem, ...] = ()
    graphs: SpecGraphs = field(default_factory=lambda: SpecGraphs({}, {}))  # build_graphs
    chains: tuple[StepChain, ...] = ()  # stage `delegation_chains`
    reads: tuple[Read, ...] = ()  # stage `references`
    probe_tools: bool = False  # `baton lint --probe-tools`: start MCP servers to list them

    # -- handoffs

    def handoff_version(self, workflow: ir.Workflow, ref: ir.OutputRef) -> ir.HandoffVersion | None:
        handoff = workflow.handoffs.get(ref.handoff)
        if handoff is None or not handoff.versions:
            return None
        return handoff.versions.get(ref.version if ref.version is not None else handoff.latest)

    # -- step graph

    def known_needs(self, workflow: ir.Workflow) -> dict[str, list[str]]:
        """Each step's `needs` that name existing steps (others are B102)."""
        return self.graphs.steps[workflow.name].needs

    def is_upstream(self, workflow: ir.Workflow, step: str, candidate: str) -> bool:
        """Whether `candidate` is in `step`'s transitive `needs`."""
        return self.graphs.steps[workflow.name].is_upstream(step, candidate)

    # -- what a step produces

    def step_output(
        self, workflow: ir.Workflow, step: ir.Step, _depth: int = 0, item: bool = False
    ) -> SchemaAt | None:
        """The schema of a step's output (a child's result for a sub-workflow step); a
        map step's is an array of its handoff (`item`: the handoff, one item's output)."""
        if step.map is not None and not item:
            one = self.step_output(workflow, step, _depth, item=True)
            if one is None:
                return None
            return SchemaAt({"type": "array", "items": one.value}, one.base, one.document)
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

    @property
    def calls(self) -> dict[str, list[str]]:
        """Workflow -> the workflows its steps call (known ones only)."""
        return self.graphs.calls


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
