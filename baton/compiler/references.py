"""Template references: every name every parseable template reads, with where it was
written, extracted once per spec set (a stage of the pipeline) for the data-flow rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from baton.compiler import ir
from baton.compiler.templates import Reference, parse_template


@dataclass(frozen=True)
class Read:
    """One reference in one template of one step."""

    workflow: ir.Workflow
    step: ir.Step
    template: ir.Template
    reference: Reference
    in_quality_check: bool


def template_reads(spec: ir.SpecSet) -> tuple[Read, ...]:
    """Every reference of every template that parses (B010 reports the others)."""
    found: list[Read] = []
    for workflow in spec.workflows.values():
        for step in workflow.steps.values():
            quality = {id(c.expr) for c in step.quality.checks} if step.quality else set()
            for template in step.templates():
                parsed = parse_template(template.source, template.is_expression)
                if parsed.error:
                    continue
                in_check = id(template) in quality
                for reference in parsed.references:
                    found.append(Read(workflow, step, template, reference, in_check))
    return tuple(found)
