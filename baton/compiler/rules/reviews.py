"""Review-loop rules: a step's `review:` has a reviewer that is not its producer, a
verdict handoff its templates can read, a round budget within the roster's policy, and
a person to escalate to when it says so.

The reviewer itself is judged by the agent and delegation rules (B201, B202, B203,
B206) as if it were the step's agent (compiler.chains, `StepChain.reviewer`).
"""

from __future__ import annotations

from baton.compiler import ir
from baton.compiler.context import LintContext, reference_span
from baton.compiler.diagnostics import Report, choices_text, did_you_mean
from baton.compiler.schema_walk import SchemaAt, walk
from baton.compiler.templates import Reference, parse_template

# what a reviewer's input reads; `pass_when` and `feedback` read the verdict too
INPUT_SCOPE = ("output", "round", "inputs", "steps", "run")
VERDICT_SCOPE = ("review", *INPUT_SCOPE)


def _reviewed(ctx: LintContext) -> list[tuple[ir.Workflow, ir.Step, ir.Review]]:
    return [
        (workflow, step, step.review)
        for workflow in ctx.spec.workflows.values()
        for step in workflow.steps.values()
        if step.review is not None
    ]


def self_review(ctx: LintContext, report: Report) -> None:
    """A step's reviewer is its own agent, one of its fallback agents, or an agent in
    its delegation chain (the owner, `delegated_by`).

    Why: a review by the producer, or by someone who handed it the work, is no
    independent check: the loop would pass what it should send back.

    Example: `research: {agent: webster, review: {by: webster, ...}}`.
    """
    reported: set[tuple[str, str]] = set()
    for chain in ctx.chains:
        review = chain.step.review
        if review is None or chain.reviewer is not None:
            continue
        where = (chain.workflow.name, chain.step.id)
        agents = [link.agent for link in chain.links]
        if review.by.value in agents and where not in reported:
            reported.add(where)
            role = "its producer" if review.by.value == agents[-1] else "in its delegation chain"
            report(
                review.by.span,
                f"step '{chain.step.id}' is reviewed by '{review.by.value}', {role} "
                f"({' -> '.join(agents)}); a reviewer must be another agent",
            )


def review_without_agent(ctx: LintContext, report: Report) -> None:
    """A step with `review:` runs a sub-workflow, not an agent.

    Why: the loop sends the reviewer's feedback back to the step's agent; a
    sub-workflow step has no agent to revise its output (review inside the child).

    Example: `publish: {workflow: publish_post, review: {by: auditor, ...}}`.
    """
    for _, step, review in _reviewed(ctx):
        if step.agent is None:
            report(
                review.span,
                f"step '{step.id}' has `review:` but no `agent:`; the reviewer's feedback "
                "goes back to the step's agent",
            )


def review_unknown_handoff(ctx: LintContext, report: Report) -> None:
    """A review's `output:` names a handoff (or a version of it) the workflow does not
    define.

    Why: the verdict is validated against that handoff, and `pass_when` and `feedback`
    are typed by it.

    Example: `review: {by: auditor, output: verdikt@1, ...}` when the handoff is `verdict`.
    """
    for workflow, step, review in _reviewed(ctx):
        ref = review.output
        if ref is None:
            continue
        handoff = workflow.handoffs.get(ref.handoff)
        if handoff is None:
            report(
                ref.span,
                f"step '{step.id}': review output '{ref.handoff}' is not a handoff of "
                f"workflow '{workflow.name}'{did_you_mean(ref.handoff, workflow.handoffs)}",
            )
        elif ctx.handoff_version(workflow, ref) is None:
            report(
                ref.span,
                f"step '{step.id}': handoff '{ref.handoff}' has no version {ref.version}; "
                f"versions are {choices_text([str(v) for v in sorted(handoff.versions)])}",
            )


def review_unknown_field(ctx: LintContext, report: Report) -> None:
    """A review's `pass_when`, `feedback` or `input` reads a name or a field that does
    not exist: `review.X` not in the verdict handoff, `output.X` not in the step's
    output, an unknown input, an unknown step or one not upstream, or a template that
    does not parse.

    Why: the verdict would be judged on an undefined value (rendering is strict: the
    review fails at run time); like B105, the linter knows the schemas.

    Example: `pass_when: "review.verdit == 'pass'"` when the handoff defines `verdict`.
    """
    for workflow, step, review in _reviewed(ctx):
        templates: list[tuple[ir.Template, tuple[str, ...]]] = [
            (t, INPUT_SCOPE) for _, t in (review.input.templates if review.input else ())
        ]
        templates += [(t, VERDICT_SCOPE) for t in (review.pass_when, review.feedback) if t]
        for template, scope in templates:
            parsed = parse_template(template.source, template.is_expression)
            if parsed.error is not None:
                report(template.span, f"step '{step.id}' review: {parsed.error}")
                continue
            for ref in parsed.references:
                problem = _problem(ctx, workflow, step, review, ref, scope)
                if problem is not None:
                    report(
                        reference_span(template, ref.text),
                        f"'{ref.text}' in step '{step.id}' review {problem}",
                    )


def _problem(
    ctx: LintContext,
    workflow: ir.Workflow,
    step: ir.Step,
    review: ir.Review,
    ref: Reference,
    scope: tuple[str, ...],
) -> str | None:
    """What is wrong with one reference of a review template (None: nothing)."""
    if ref.root not in scope:
        return (
            f"reads undefined name '{ref.root}'{did_you_mean(ref.root, scope)}; "
            f"names in scope are {choices_text(scope)}"
        )
    at: SchemaAt | None = None
    path: tuple[str | int, ...] = ref.path
    if ref.root == "review" and review.output is not None:
        version = ctx.handoff_version(workflow, review.output)
        if version is not None:
            schema = version.schema
            at = SchemaAt(schema.value, schema.base, schema.value, schema.node)
    elif ref.root == "output":
        at = ctx.step_output(workflow, step)
    elif ref.root == "inputs" and ref.path:
        at = ctx.inputs_schema(workflow)
    elif ref.root == "steps" and ref.path:
        target = str(ref.path[0])
        producer = workflow.steps.get(target)
        if producer is None:
            return f"reads unknown step '{target}'{did_you_mean(target, workflow.steps)}"
        if target == step.id or not ctx.is_upstream(workflow, step.id, target):
            return f"reads step '{target}', which is not upstream of '{step.id}' (add it to needs)"
        if len(ref.path) < 2 or ref.path[1] != "output":
            return None
        at, path = ctx.step_output(workflow, producer), ref.path[2:]
    if at is None or not path:
        return None
    missing = walk(at, path, ctx.store)
    if missing is None:
        return None
    _, why = missing
    return f"reads undefined field '{why.part}'; {why.reason}"


def too_many_rounds(ctx: LintContext, report: Report) -> None:
    """A review's `max_rounds` is above the roster policy's `max_review_rounds`
    (default 5).

    Why: every round calls the producer and the reviewer again; the roster caps how
    much a loop may cost, as `max_delegation_depth` caps chains.

    Example: `max_rounds: 8` with no `policy: {max_review_rounds: ...}` in the roster.
    """
    for workflow, step, review in _reviewed(ctx):
        roster = workflow.roster
        limit = roster.policy.max_review_rounds if roster else ir.DEFAULT_MAX_REVIEW_ROUNDS
        if review.max_rounds > limit:
            report(
                review.max_rounds_span or review.span,
                f"step '{step.id}': max_rounds {review.max_rounds} is more than the roster "
                f"policy's max_review_rounds {limit}",
            )


def escalate_unknown_role(ctx: LintContext, report: Report) -> None:
    """A review with `on_exhausted: escalate` has no `escalate_to: {role: ...}`, or
    names a role the roster's `approvers` do not define.

    Why: nobody could decide the escalated step; the run would wait forever.

    Example: `on_exhausted: escalate, escalate_to: {role: manger}`.
    """
    for workflow, step, review in _reviewed(ctx):
        if review.on_exhausted != "escalate":
            continue
        approvers = workflow.roster.approvers if workflow.roster else {}
        if review.escalate_to is None:
            report(
                review.on_exhausted_span or review.span,
                f"step '{step.id}': on_exhausted: escalate needs `escalate_to: {{role: ...}}`"
                f"; roles are {choices_text(approvers) if approvers else 'none'}",
            )
        elif review.escalate_to.value not in approvers:
            role = review.escalate_to.value
            report(
                review.escalate_to.span,
                f"step '{step.id}': unknown role '{role}'{did_you_mean(role, approvers)}; "
                f"roles are {choices_text(approvers) if approvers else 'none'}",
            )


def escalate_with_approval(ctx: LintContext, report: Report) -> None:
    """A step with `approval:` also escalates its exhausted review to a person.

    Why: a step has one gate; an escalation asks a person as an after-stage approval
    does. Put the role in one place: drop `approval:` (the escalation asks when the
    loop is exhausted) or use `on_exhausted: fail` (the approval decides the rest).

    Example: `approval: {role: manager, stage: after}` with `on_exhausted: escalate`.
    """
    for _, step, review in _reviewed(ctx):
        if review.on_exhausted == "escalate" and step.approval is not None:
            report(
                review.on_exhausted_span or review.span,
                f"step '{step.id}' has `approval:` and escalates its review; a step has one gate",
            )


def escalate_to_unused(ctx: LintContext, report: Report) -> None:
    """A review names `escalate_to` but does not escalate (`on_exhausted` is `fail` or
    `accept`).

    Why: nobody is ever asked; the role suggests a safety net that is not there.

    Example: `escalate_to: {role: manager}` without `on_exhausted: escalate`.
    """
    for _, step, review in _reviewed(ctx):
        if review.escalate_to is not None and review.on_exhausted != "escalate":
            report(
                review.escalate_to.span,
                f"step '{step.id}': escalate_to is unused with on_exhausted: {review.on_exhausted}",
            )
