"""Map rules: a step's `map:` reads a list, names its item well, and runs within bounds.

`over` is one of the step's templates, so the data-flow rules judge it like any read
(B103 unknown name, B104 not upstream, B105 unknown field); the item's name is in scope
for the map step's own templates (and only there: elsewhere it is B103). These rules
add what is particular to a map: `over` must read an array, the item's fields must be
the array's items' fields, and the item's name and numbers must make sense.
"""

from __future__ import annotations

from collections.abc import Iterator

from baton.compiler import ir
from baton.compiler.context import LintContext, reference_span
from baton.compiler.diagnostics import Report
from baton.compiler.rules.dataflow import _suggest
from baton.compiler.schema_walk import SchemaAt, _deref, _kinds, _types, descend, walk
from baton.compiler.templates import Reference, parse_template

RESERVED = ("inputs", "steps", "output", "run")


def _maps(ctx: LintContext) -> Iterator[tuple[ir.Workflow, ir.Step, ir.Map]]:
    for workflow in ctx.spec.workflows.values():
        for step in workflow.steps.values():
            if step.map is not None:
                yield workflow, step, step.map


def _over(ctx: LintContext, workflow: ir.Workflow, spec: ir.Map) -> SchemaAt | None:
    """The schema of the field `over` reads, when it is one read the schemas can type;
    None when they cannot tell (an expression, an open schema, an unknown field: B105)."""
    parsed = parse_template(spec.over.source, is_expression=True)
    if parsed.error or len(parsed.references) != 1:
        return None
    ref = parsed.references[0]
    if spec.over.source.strip() != ref.text:
        return None  # an expression around the read (a filter, a slice): not typed here
    at: SchemaAt | None
    if ref.root == "steps" and len(ref.path) >= 2 and ref.path[1] == "output":
        producer = workflow.steps.get(str(ref.path[0]))
        at = ctx.step_output(workflow, producer) if producer is not None else None
        path = ref.path[2:]
    elif ref.root == "inputs":
        at, path = ctx.inputs_schema(workflow), ref.path
    else:
        return None
    for part in path:
        if at is None:
            return None
        found = descend(at, part, ctx.store)
        at = found if isinstance(found, SchemaAt) else None
    return at


def map_over_not_array(ctx: LintContext, report: Report) -> None:
    """A step's `map.over` reads a field whose schema says it is not an array.

    Why: a map step runs once per item of a list; over anything else the run would fail
    when the step starts (`map_error`). The field's type comes from the producer's
    handoff (or the inputs schema), through `$ref`s and nested objects.

    Example: `map: {over: "steps.plan.output.title", as: t}` when `title` is a string.
    """
    for workflow, step, spec in _maps(ctx):
        at = _over(ctx, workflow, spec)
        resolved = _deref(at, ctx.store) if at is not None else None
        if resolved is None or not isinstance(resolved.value, dict):
            continue
        types = _types(resolved.value)
        if types and "array" not in types:
            report(
                spec.over.span,
                f"step '{step.id}': map.over '{spec.over.source}' is {_kinds(types)}, "
                "not an array; a map runs once per item of a list",
            )


def map_item_unknown_field(ctx: LintContext, report: Report) -> None:
    """A map step's template reads a field of its item (`as:`) that the items of the
    list `over` reads do not define.

    Why: the item is one element of that array; a field its schema does not define
    would be undefined when the item's attempt renders its input.

    Example: `input: {topic: "{{ subtopic.titel }}"}` when the items define `title`.
    """
    for read in ctx.reads:
        spec = read.step.map
        if spec is None or read.reference.root != spec.var.value or not read.reference.path:
            continue
        if read.template is spec.over or spec.var.value in RESERVED:
            continue  # `over` reads the run, not the item; a reserved name is B632
        at = _over(ctx, read.workflow, spec)
        item = descend(at, 0, ctx.store) if at is not None else None
        if not isinstance(item, SchemaAt):
            continue
        missing = walk(item, read.reference.path, ctx.store)
        if missing is None:
            continue
        index, why = missing
        shown = Reference(spec.var.value, read.reference.path[: index + 1], 1).text
        report(
            reference_span(read.template, read.reference.text),
            f"'{shown}' in step '{read.step.id}' reads undefined field '{why.part}' of the "
            f"map's item{_suggest(why.reason, why.part)}; {why.reason}",
        )


def map_var_shadows(ctx: LintContext, report: Report) -> None:
    """A map's item name (`as:`) is one of the names templates already have: `inputs`,
    `steps`, `output` or `run`.

    Why: the item would hide the run's inputs, the steps' outputs (or, in quality
    checks, the output being judged) from the step's templates.

    Example: `map: {over: "steps.plan.output.subtopics", as: steps}`.
    """
    for _, step, spec in _maps(ctx):
        if spec.var.value in RESERVED:
            report(
                spec.var.span,
                f"step '{step.id}': map.as '{spec.var.value}' hides the '{spec.var.value}' "
                "that templates read; name the item something else (e.g. 'item')",
            )


def map_concurrency_below_one(ctx: LintContext, report: Report) -> None:
    """A map's `max_concurrency` is below 1.

    Why: at most that many items run at once; with none allowed, no item would ever
    start and the step would never finish.

    Example: `map: {over: "steps.plan.output.subtopics", as: s, max_concurrency: 0}`.
    """
    for _, step, spec in _maps(ctx):
        if spec.max_concurrency is not None and spec.max_concurrency < 1:
            report(
                spec.max_concurrency_span or spec.span,
                f"step '{step.id}': map.max_concurrency is {spec.max_concurrency}; "
                "at least 1 item must be able to run",
            )


def map_tolerate_negative(ctx: LintContext, report: Report) -> None:
    """A map's `tolerate` is negative.

    Why: it counts the items that may fail (their slots are null) before the step fails;
    0, the default, lets none fail.

    Example: `map: {over: "steps.plan.output.subtopics", as: s, tolerate: -1}`.
    """
    for _, step, spec in _maps(ctx):
        if spec.tolerate is not None and spec.tolerate < 0:
            report(
                spec.tolerate_span or spec.span,
                f"step '{step.id}': map.tolerate is {spec.tolerate}; it counts the items "
                "that may fail, 0 or more",
            )


def map_without_agent(ctx: LintContext, report: Report) -> None:
    """A step with `map:` runs a sub-workflow, not an agent.

    Why: a map runs the step's agent once per item; a sub-workflow step's child run has
    no item to run per (map inside the child instead).

    Example: `publish: {workflow: publish_post, map: {over: "...", as: post}}`.
    """
    for _, step, spec in _maps(ctx):
        if step.agent is None:
            report(
                spec.span,
                f"step '{step.id}' has `map:` but no `agent:`; a map runs the step's "
                "agent once per item",
            )
