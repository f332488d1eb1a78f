"""Approval rules: irreversible effects are gated, roles exist, untrusted data is reviewed
before it can cause an effect."""

from __future__ import annotations

from baton.compiler import ir
from baton.compiler.context import LintContext, reference_span
from baton.compiler.diagnostics import Report, choices_text, did_you_mean
from baton.compiler.graph import topological_order
from baton.compiler.schema_walk import contains_untrusted, is_untrusted


def missing_approval(ctx: LintContext, report: Report) -> None:
    """A step with `effect: external` has no `approval:` (unless the roster's policy sets
    `require_approval_for_external: false`).

    Why: an external effect (an email, a payment, a deploy) cannot be undone; a person
    with the right role signs off first.

    Example: `deliver: {agent: mario, effect: external}` with no approval.
    """
    for workflow in ctx.spec.workflows.values():
        roster = workflow.roster
        if roster and not roster.policy.require_approval_for_external:
            continue
        for step in workflow.steps.values():
            if step.effect == "external" and step.approval is None:
                report(
                    step.span,
                    f"step '{step.id}' has effect 'external' but no approval; add "
                    "`approval: {role: ...}`",
                )


def unknown_role(ctx: LintContext, report: Report) -> None:
    """An approval names a role the roster's `approvers` does not define.

    Why: nobody could approve; the run would wait forever.

    Example: `approval: {role: manger}` when the roles are `manager` and `ceo`.
    """
    for workflow in ctx.spec.workflows.values():
        if workflow.roster is None and workflow.roster_ref is not None:
            continue  # the roster did not load (B205); its roles are unknown, not missing
        roles = workflow.roster.approvers if workflow.roster else {}
        for step in workflow.steps.values():
            role = step.approval.role if step.approval else None
            if role and role.value and role.value not in roles:  # no role at all is B002
                report(
                    role.span,
                    f"unknown approver role '{role.value}'{did_you_mean(role.value, roles)}; "
                    f"roles are {choices_text(roles)}",
                )


def untrusted_to_effect(ctx: LintContext, report: Report) -> None:
    """Untrusted data (`x-baton-trust: untrusted`) reaches an `effect: external` step with no
    approval in between.

    Why: channel history and web content can carry prompt injections; an injected
    instruction must not reach an irreversible action without a person looking.
    Taint follows handoffs: a step that reads untrusted data produces untrusted output,
    unless the step itself is approved.

    Example: `deliver` (external, unapproved, policy allows it) reads
    `{{ steps.research.output }}` and `research` read `inputs.channel_history`.
    """
    for workflow in ctx.spec.workflows.values():
        if not has_untrusted_sources(ctx, workflow):
            continue
        tainted = tainted_steps(ctx, workflow)
        for read in ctx.reads:
            if read.workflow is not workflow:
                continue
            step = read.step
            if step.effect != "external" or step.approval is not None:
                continue
            source = _untrusted_source(
                ctx, workflow, read.reference.root, read.reference.path, tainted
            )
            if source:
                report(
                    reference_span(read.template, read.reference.text),
                    f"untrusted data from {source} reaches external step '{step.id}' with no "
                    "approval in between",
                )


def _untrusted_source(
    ctx: LintContext,
    workflow: ir.Workflow,
    root: str,
    path: tuple[str | int, ...],
    tainted: set[str],
) -> str | None:
    if root == "inputs":
        at = ctx.inputs_schema(workflow)
        if at and is_untrusted(at, path, ctx.store):
            return "'inputs" + "".join(f".{p}" for p in path) + "'"
    if root == "steps" and len(path) >= 1:
        producer = workflow.steps.get(str(path[0]))
        if producer is None:
            return None
        if producer.id in tainted:
            return f"step '{producer.id}'"
        at = ctx.step_output(workflow, producer)
        if at and is_untrusted(at, path[2:], ctx.store):
            return f"the output of step '{producer.id}'"
    return None


def has_untrusted_sources(ctx: LintContext, workflow: ir.Workflow) -> bool:
    """Whether any input or handoff schema of the workflow (or a child's) marks data untrusted."""
    schemas = [ctx.inputs_schema(workflow)]
    schemas += [ctx.step_output(workflow, step) for step in workflow.steps.values()]
    # many steps share one handoff: walk each distinct schema once, not once per step
    distinct = {(id(at.value), id(at.document), at.base): at for at in schemas if at}
    return any(contains_untrusted(at, ctx.store) for at in distinct.values())


def tainted_steps(ctx: LintContext, workflow: ir.Workflow) -> set[str]:
    """Steps whose output carries untrusted data: they read some and are not approved."""
    needs = ctx.known_needs(workflow)
    order = topological_order(needs, needs) or list(workflow.steps)
    by_step: dict[str, list[tuple[str, tuple[str | int, ...]]]] = {}
    for read in ctx.reads:
        if read.workflow is workflow:
            by_step.setdefault(read.step.id, []).append((read.reference.root, read.reference.path))
    tainted: set[str] = set()
    for step_id in order:
        step = workflow.steps[step_id]
        if step.approval is not None:
            continue
        if any(
            _untrusted_source(ctx, workflow, root, path, tainted)
            for root, path in by_step.get(step_id, [])
        ):
            tainted.add(step_id)
    return tainted
