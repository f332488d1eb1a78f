"""Fallback rules: a step's `fallback:` entries can catch what they list, and run an
agent in the step's agent's place.

The fallback agents themselves are judged by the agent and delegation rules (B201,
B202, B203, B206) as if each were the step's agent (compiler.chains).
"""

from __future__ import annotations

from baton.compiler.context import LintContext
from baton.compiler.diagnostics import Report


def fallback_never_caught(ctx: LintContext, report: Report) -> None:
    """A `fallback:` entry lists a failure class the runtime never retries (`acl_denied`,
    `rejected`, `cancelled`): such a failure ends the step, no fallback runs.

    Why: a refused delegation, a person's rejection or a cancel is a decision, not a
    fault another agent could work around; listing it suggests a safety net that is not
    there.

    Example: `fallback: [{on: [timeout, acl_denied], agent: webster_backup}]`.
    """
    entries = [
        (step, entry)
        for workflow in ctx.spec.workflows.values()
        for step in workflow.steps.values()
        for entry in step.fallbacks
    ]
    if not entries:
        return
    # imported here, not at module level: a spec set without fallbacks lints without
    # loading the runtime. Classes no step is ever retried-out with end the step at once.
    from baton.runtime import NEVER_RETRIED

    never_caught = {failure.value for failure in NEVER_RETRIED}
    for step, entry in entries:
        for name in entry.on:
            if name.value in never_caught:
                report(
                    name.span,
                    f"step '{step.id}': fallback '{entry.agent.value}' lists "
                    f"'{name.value}', which never falls back (the runtime never "
                    "retries it: the step fails at once)",
                )


def fallback_without_agent(ctx: LintContext, report: Report) -> None:
    """A step with `fallback:` runs a sub-workflow, not an agent.

    Why: a fallback agent runs the step in its agent's place; a sub-workflow step has no
    agent to replace (its child run has its own steps, retries and fallbacks).

    Example: `publish: {workflow: publish_post, fallback: [{on: [timeout], agent: b}]}`.
    """
    for workflow in ctx.spec.workflows.values():
        for step in workflow.steps.values():
            # a routed step whose candidates are all agents has an agent to replace
            routed = bool(step.route) and all(case.agent for case in step.route)
            if step.fallbacks and step.agent is None and not routed:
                report(
                    step.fallbacks[0].span,
                    f"step '{step.id}' has `fallback:` but no `agent:`; a fallback agent "
                    "takes the place of the step's agent",
                )
