"""Route rules: a step's `route:` cases each name one runner, are all reachable, compare
fields with values those fields can hold, cover an enum when there is no default, and
run sub-workflows that produce the step's output.

The candidate agents themselves are judged by the agent and delegation rules (B201,
B202, B203, B206) as if each were the step's agent (compiler.chains); the cases' `when`
by the data-flow rules (B101-B105), as the step's `if:`.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote, urlparse

from baton.compiler import ir
from baton.compiler.context import LintContext, reference_span
from baton.compiler.diagnostics import Report, did_you_mean
from baton.compiler.refs import Resolved
from baton.compiler.route_conditions import comparisons, shape
from baton.compiler.schema_walk import Missing, SchemaAt, descend
from baton.compiler.span import Span
from baton.compiler.templates import Reference

_MAX_REF_HOPS = 64


def _routed(ctx: LintContext) -> list[tuple[ir.Workflow, ir.Step]]:
    return [
        (workflow, step)
        for workflow in ctx.spec.workflows.values()
        for step in workflow.steps.values()
        if step.route
    ]


def route_target(ctx: LintContext, report: Report) -> None:
    """A routed step also has `agent:` or `workflow:`, or a `route:` case names both an
    agent and a workflow, or neither.

    Why: a step's runner is chosen one way: fixed (`agent`/`workflow`) or by rule
    (`route`); a case that names two runners, or none, cannot be run.

    Example: `handle: {agent: mario, route: [{agent: fixer}]}`.
    """
    for _, step in _routed(ctx):
        for fixed in (step.agent, step.workflow):
            if fixed is not None:
                key = "agent" if fixed is step.agent else "workflow"
                report(
                    fixed.span,
                    f"step '{step.id}' has both 'route' and '{key}'; a routed step's "
                    f"runners are its route's cases: remove '{key}' or 'route'",
                )
        for index, case in enumerate(step.route):
            if case.agent and case.workflow:
                report(
                    case.workflow.span,
                    f"step '{step.id}': route case {index + 1} names both agent "
                    f"'{case.agent.value}' and workflow '{case.workflow.value}'; a case "
                    "runs one of them",
                )
            elif case.target is None:
                report(
                    case.span,
                    f"step '{step.id}': route case {index + 1} needs 'agent' or 'workflow' "
                    "(who runs the step when it is chosen)",
                )


def unreachable_case(ctx: LintContext, report: Report) -> None:
    """A `route:` case comes after the default (the case without `when`).

    Why: the default matches always, so the cases after it can never be chosen; cases
    are tried in order and the first match wins.

    Example: `route: [{agent: mario}, {when: "...", agent: fixer}]`.
    """
    for _, step in _routed(ctx):
        default = next((i for i, case in enumerate(step.route) if case.when is None), None)
        if default is None:
            continue
        for index in range(default + 1, len(step.route)):
            case = step.route[index]
            report(
                case.when.span if case.when else case.span,
                f"step '{step.id}': route case {index + 1} is unreachable: it comes after "
                f"the default (case {default + 1}, without `when`), which always matches; "
                "the default must be last",
            )


def literal_not_in_enum(ctx: LintContext, report: Report) -> None:
    """A `route:` case's `when` compares a field with a literal its schema's `enum` or
    `const` does not allow.

    Why: the comparison can never hold (or always holds, with `!=`): usually a typo,
    which would silently send every run to another case.

    Example: `when: "steps.classify.output.kind == 'bgu'"` when kind is `[bug, feature]`.
    """
    for workflow, step in _routed(ctx):
        for case in step.route:
            if case.when is None:
                continue
            for compared in comparisons(case.when.source):
                allowed = _allowed_values(ctx, workflow, compared.reference)
                if allowed is None:
                    continue
                for literal in compared.literals:
                    # `1 == true` in Python: a literal must match a value of its own type
                    if any(v == literal and type(v) is type(literal) for v in allowed):
                        continue
                    words = [str(v) for v in allowed if isinstance(v, str)]
                    hint = did_you_mean(literal, words) if isinstance(literal, str) else ""
                    report(
                        _literal_span(case.when, literal),
                        f"step '{step.id}': '{compared.reference.text}' is never "
                        f"{json.dumps(literal)}{hint}; its schema allows "
                        f"{', '.join(json.dumps(v) for v in allowed)}",
                    )


def not_exhaustive(ctx: LintContext, report: Report) -> None:
    """A `route:` without a default compares one enum field and leaves some of its values
    to no case (like a `match` that is not exhaustive).

    Why: a run whose value is not covered fails the step with `no_route`; add the missing
    cases or a default.

    Example: cases for `bug` and `feature` over `kind: enum [bug, feature, question]`.
    """
    for workflow, step in _routed(ctx):
        if any(case.when is None for case in step.route):
            continue
        reference: Reference | None = None
        covered: list[object] = []
        for case in step.route:
            assert case.when is not None
            found = shape(case.when.source)
            if found.reference is None:
                break  # a condition the linter cannot enumerate: cannot tell
            if reference is not None and (found.reference.root, found.reference.path) != (
                reference.root,
                reference.path,
            ):
                break
            reference = found.reference
            covered += found.values
        else:
            if reference is None:
                continue
            allowed = _allowed_values(ctx, workflow, reference)
            if allowed is None:
                continue
            missing = [v for v in allowed if v not in covered]
            if missing:
                report(
                    step.route[0].span,
                    f"step '{step.id}': its route has no default and no case for "
                    f"'{reference.text}' {', '.join(json.dumps(v) for v in missing)}: such a "
                    "run fails the step with no_route; add those cases or a default",
                )


def workflow_output(ctx: LintContext, report: Report) -> None:
    """A `route:` case's sub-workflow does not return the step's `output:` handoff (nor a
    version its data is compatible with, backward, as B303 judges versions), or a routed
    step with a sub-workflow case declares no `output:`.

    Why: whichever case runs, the step's output is read downstream as its declared
    handoff; a candidate returning something else breaks every reader on that path only.

    Example: `output: answer@1` but `feature_flow`'s result step outputs `brief@1`.
    """
    for workflow, step in _routed(ctx):
        for case in step.route:
            if case.workflow is None or case.agent is not None:
                continue
            child = ctx.spec.workflows.get(case.workflow.value)
            if child is None:
                continue  # B205 reports the unknown workflow
            if step.output is None:
                report(
                    case.workflow.span,
                    f"step '{step.id}' routes to workflow '{child.name}' but declares no "
                    "'output': a routed step declares the handoff every case produces",
                )
                continue
            produced = _result_ref(ctx, child)
            if produced is None:
                continue  # a child without a result, or an unknown handoff: other rules
            child_workflow, ref = produced
            declared = _version(workflow, step.output)
            version = _version(child_workflow, ref)
            if declared is None or version is None:
                continue
            wanted = f"{step.output.handoff}@{declared.version}"
            got = f"{ref.handoff}@{version.version}"
            if ref.handoff != step.output.handoff:
                report(
                    case.workflow.span,
                    f"step '{step.id}': workflow '{child.name}' returns '{got}', not the "
                    f"step's output '{wanted}'",
                )
                continue
            problem = _incompatible(ctx, version, declared)
            if problem:
                report(
                    case.workflow.span,
                    f"step '{step.id}': workflow '{child.name}' returns '{got}' as it "
                    f"defines it, which the step's output '{wanted}' does not accept: {problem}",
                )


# -- helpers


def _literal_span(template: ir.Template, literal: object) -> Span:
    if isinstance(literal, str):
        for quote in ("'", '"'):
            span = reference_span(template, f"{quote}{literal}{quote}")
            if span is not template.span:
                return span
    return template.span


def _schema_at(ctx: LintContext, workflow: ir.Workflow, ref: Reference) -> SchemaAt | None:
    """The schema of the value `ref` reads, when the linter knows it."""
    at: SchemaAt | None
    if ref.root == "steps" and len(ref.path) >= 2 and ref.path[1] == "output":
        producer = workflow.steps.get(str(ref.path[0]))
        at = ctx.step_output(workflow, producer) if producer else None
        path = ref.path[2:]
    elif ref.root == "inputs" and ref.path:
        at, path = ctx.inputs_schema(workflow), ref.path
    else:
        return None
    for part in path:
        if at is None:
            return None
        found = descend(at, part, ctx.store)
        if found is None or isinstance(found, Missing):
            return None  # B105 reports a missing field
        at = found
    return _deref(ctx, at) if at is not None else None


def _deref(ctx: LintContext, at: SchemaAt) -> SchemaAt | None:
    for _ in range(_MAX_REF_HOPS):
        value = at.value
        if not (isinstance(value, dict) and isinstance(value.get("$ref"), str)):
            return at
        resolved = ctx.store.resolve(str(value["$ref"]), at.base, at.document, None)
        if not isinstance(resolved, Resolved):
            return None
        at = SchemaAt(resolved.value, resolved.base, resolved.document, resolved.node)
    return None


def _allowed_values(ctx: LintContext, workflow: ir.Workflow, ref: Reference) -> list[object] | None:
    """The values the field's `enum` (or `const`) allows; None when it does not say."""
    at = _schema_at(ctx, workflow, ref)
    if at is None or not isinstance(at.value, dict):
        return None
    if "const" in at.value:
        return [at.value["const"]]
    values = at.value.get("enum")
    return list(values) if isinstance(values, list) and values else None


def _result_ref(
    ctx: LintContext, child: ir.Workflow, depth: int = 0
) -> tuple[ir.Workflow, ir.OutputRef] | None:
    """The handoff a workflow returns: its result step's `output:` (through nested
    sub-workflows), with the workflow that declares it."""
    if child.result is None or depth > len(ctx.spec.workflows):
        return None
    step = child.steps.get(child.result.value)
    if step is None:
        return None
    if step.workflow is not None:
        nested = ctx.spec.workflows.get(step.workflow.value)
        return _result_ref(ctx, nested, depth + 1) if nested else None
    return (child, step.output) if step.output else None


def _version(workflow: ir.Workflow, ref: ir.OutputRef) -> ir.HandoffVersion | None:
    handoff = workflow.handoffs.get(ref.handoff)
    if handoff is None or not handoff.versions:
        return None
    return handoff.versions.get(ref.version if ref.version is not None else handoff.latest)


def _incompatible(
    ctx: LintContext, produced: ir.HandoffVersion, declared: ir.HandoffVersion
) -> str:
    """Why data valid under `produced` may be invalid under `declared` ("" when it is
    not: the same schema, or a change B303 calls backward compatible)."""
    if produced.schema.value == declared.schema.value:
        return ""
    from baton.compiler.files import Refusal, confined
    from baton.compiler.schema_diff import breaks_mode, diff_schemas

    def load_ref(uri: str) -> object:
        path = unquote(urlparse(uri).path)
        file = confined(ctx.store.root, Path(path), path)
        if isinstance(file, Refusal):
            raise ValueError(f"$ref {file}")
        loaded, findings = ctx.store.load(file)
        if loaded.root is None:
            raise ValueError(findings[0].message if findings else f"cannot load {uri}")
        return loaded.root.data

    try:
        changes = diff_schemas(
            produced.schema.value,
            declared.schema.value,
            load_ref=load_ref,
            old_uri=produced.schema.base.resolve().as_uri(),
            new_uri=declared.schema.base.resolve().as_uri(),
        )
    except (OSError, ValueError):
        return ""  # an unresolvable $ref is B305
    if not breaks_mode(changes, "backward"):
        return ""
    broken = [c for c in changes if "backward" in c.breaks]
    return "; ".join(f"{c.kind}: {c.message}" for c in broken[:3])
