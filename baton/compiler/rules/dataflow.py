"""Data-flow rules: every name a template reads exists, is upstream, and is typed.

References come from the jinja2 AST (compiler.templates); fields are checked against
the producer's JSON Schema through `$ref`, `items`, nested objects and sub-workflow
results (compiler.schema_walk).
"""

from __future__ import annotations

from baton.compiler.context import LintContext, reference_span
from baton.compiler.diagnostics import Report, choices_text, did_you_mean
from baton.compiler.schema_walk import Missing, SchemaAt, walk
from baton.compiler.templates import Reference

SCOPE = ("inputs", "run", "steps")
RUN_FIELDS = ("id", "workflow")


def undefined_name(ctx: LintContext, report: Report) -> None:
    """A template reads a name that does not exist: an unknown root (`foo`), an unknown
    step (`steps.nope`), a step attribute other than `output`, an unknown `run` field, or an
    input the inputs schema does not define (`inputs.nope`).

    Why: rendering is strict (an undefined name is an error, never an empty string), so the
    step would fail at run time; the linter says so before anything runs.

    Example: `{{ steps.reserch.output.summary }}` when the step is `research`.
    """
    for read in ctx.reads:
        ref, workflow = read.reference, read.workflow
        scope = (*SCOPE, "output") if read.in_quality_check else SCOPE
        if read.step.map is not None:  # a map step's item (compiler.rules.maps)
            scope = (*scope, read.step.map.var.value)
        # the span and wording only for a finding: most reads have none
        where = read.step.id
        if ref.root not in scope:
            report(
                reference_span(read.template, ref.text),
                f"undefined name '{ref.root}' in step '{where}'{did_you_mean(ref.root, scope)}; "
                f"names in scope are {choices_text(scope)}",
            )
        elif ref.root == "steps" and ref.path:
            target = ref.path[0]
            if str(target) not in workflow.steps:
                report(
                    reference_span(read.template, ref.text),
                    f"'{ref.text}' in step '{where}' reads unknown step '{target}'"
                    f"{did_you_mean(str(target), workflow.steps)}",
                )
            elif len(ref.path) > 1 and ref.path[1] != "output":
                report(
                    reference_span(read.template, ref.text),
                    f"'{ref.text}' in step '{where}': a step has only 'output', "
                    f"not '{ref.path[1]}'",
                )
        elif ref.root == "run" and ref.path and ref.path[0] not in RUN_FIELDS:
            report(
                reference_span(read.template, ref.text),
                f"'{ref.text}' in step '{where}': 'run' has {choices_text(RUN_FIELDS)}",
            )
        elif ref.root == "inputs" and ref.path:
            inputs = ctx.inputs_schema(workflow)
            missing = walk(inputs, ref.path[:1], ctx.store) if inputs else None
            if missing:
                report(
                    reference_span(read.template, ref.text),
                    f"'{ref.text}' in step '{where}' reads input '{ref.path[0]}' that the "
                    f"inputs schema does not define; {missing[1].reason}",
                )


def race(ctx: LintContext, report: Report) -> None:
    """A template reads `steps.X` but X is not upstream of the step (not in its transitive
    `needs`).

    Why: without the dependency the two steps may run in parallel, and the read races the
    write; the output may not exist yet.

    Example: `deliver` reads `{{ steps.audit.output }}` but needs only `research`.
    """
    for read in ctx.reads:
        ref = read.reference
        if ref.root != "steps" or not ref.path or str(ref.path[0]) not in read.workflow.steps:
            continue
        target = str(ref.path[0])
        if target == read.step.id:
            if not read.in_quality_check:
                report(
                    reference_span(read.template, ref.text),
                    f"step '{read.step.id}' reads its own output '{ref.text}'; "
                    "use 'output' in quality checks",
                )
        elif not ctx.is_upstream(read.workflow, read.step.id, target):
            report(
                reference_span(read.template, ref.text),
                f"step '{read.step.id}' reads '{ref.text}' but '{target}' is not upstream; "
                f"add '{target}' to its needs",
            )


def unknown_field(ctx: LintContext, report: Report) -> None:
    """A template reads a field the producer's schema does not define, or indexes into a
    value that is not an object or array.

    Why: the field would be undefined at run time. The check follows `$ref`, `items`,
    `prefixItems`, nested objects, combinators and sub-workflow results.

    Example: `{{ steps.research.output.summry }}` when the brief defines `summary`.
    """
    walked: dict[tuple[object, ...], tuple[object, object, tuple[int, Missing] | None]] = {}
    for read in ctx.reads:
        ref, workflow = read.reference, read.workflow
        at: SchemaAt | None
        if ref.root == "steps" and len(ref.path) >= 2 and ref.path[1] == "output":
            producer = workflow.steps.get(str(ref.path[0]))
            if producer is None:
                continue
            at, path, prefix = ctx.step_output(workflow, producer), ref.path[2:], 3
        elif ref.root == "output" and read.in_quality_check:
            # a map step's quality checks judge one item's output
            at, path, prefix = ctx.step_output(workflow, read.step, item=True), ref.path, 1
        elif ref.root == "inputs" and len(ref.path) > 1:
            at, path, prefix = ctx.inputs_schema(workflow), ref.path, 1
        else:
            continue
        if at is None:
            continue
        # steps that read the same field of the same handoff walk its schema once; the
        # entry keeps the schema alive, so its id cannot name another one meanwhile
        key = (id(at.value), id(at.document), at.base, path)
        known = walked.get(key)
        if known is None or known[0] is not at.value or known[1] is not at.document:
            known = walked[key] = (at.value, at.document, walk(at, path, ctx.store))
        missing = known[2]
        if missing is None:
            continue
        index, why = missing
        if ref.root == "inputs" and index == 0:
            continue  # an unknown input is B103
        shown = Reference(ref.root, ref.path[: prefix - 1 + index + 1], ref.lineno).text
        report(
            reference_span(read.template, ref.text),
            f"'{shown}' in step '{read.step.id}' reads undefined field '{why.part}'"
            f"{_suggest(why.reason, why.part)}; {why.reason}",
        )


def _suggest(reason: str, part: str | int) -> str:
    if not isinstance(part, str) or "defines" not in reason:
        return ""
    known = [k.strip(" '") for k in reason.split("defines", 1)[1].split(",")]
    return did_you_mean(part, known)
