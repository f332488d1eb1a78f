"""Approval timeout rules (B450-B459): a gate's `timeout`, `on_timeout` and
`escalate_to` must describe something the runtime can do (runtime.core.approvals).

The format of `timeout` (a duration) and the values of `on_timeout` are the spec
schema's (B002); these rules judge what the schema cannot: the escalation role, the
pairing of the keys, a timeout of zero.
"""

from __future__ import annotations

from collections.abc import Iterator

from baton.compiler import ir
from baton.compiler.build import duration_ms
from baton.compiler.context import LintContext
from baton.compiler.diagnostics import Report, choices_text, did_you_mean


def _gates(ctx: LintContext) -> Iterator[tuple[ir.Workflow, ir.Step, ir.Approval]]:
    for workflow in ctx.spec.workflows.values():
        for step in workflow.steps.values():
            if step.approval is not None:
                yield workflow, step, step.approval


def escalate_unknown_role(ctx: LintContext, report: Report) -> None:
    """`escalate_to` names a role the roster's `approvers` does not define.

    Why: once the timeout passes, the request would go to nobody and the run would wait
    forever for a person who cannot exist.

    Example: `approval: {role: manager, timeout: 4h, on_timeout: escalate, escalate_to: ceoo}`.
    """
    for workflow, _step, gate in _gates(ctx):
        target = gate.escalate_to
        if target is None or (workflow.roster is None and workflow.roster_ref is not None):
            continue  # the roster did not load (B205): its roles are unknown, not missing
        roles = workflow.roster.approvers if workflow.roster else {}
        if target.value not in roles:
            report(
                target.span,
                f"unknown approver role '{target.value}' in `escalate_to`"
                f"{did_you_mean(target.value, roles)}; roles are {choices_text(roles)}",
            )


def escalate_without_target(ctx: LintContext, report: Report) -> None:
    """`on_timeout: escalate` without `escalate_to`.

    Why: an escalation needs a role to go to; without one the runtime would have to
    guess (Baton does not: it is an error).

    Example: `approval: {role: manager, timeout: 4h, on_timeout: escalate}`.
    """
    for _workflow, step, gate in _gates(ctx):
        if gate.on_timeout and gate.on_timeout.value == "escalate" and gate.escalate_to is None:
            report(
                gate.on_timeout.span,
                f"step '{step.id}': `on_timeout: escalate` needs `escalate_to: ROLE` "
                "(the approver role asked once the timeout passes)",
            )


def timeout_not_positive(ctx: LintContext, report: Report) -> None:
    """An approval `timeout` of zero (`0s`, `0ms`, `0.0004s`).

    Why: the request would time out the moment it is made: nobody could ever decide it.

    Example: `approval: {role: manager, timeout: 0s}`.
    """
    for _workflow, step, gate in _gates(ctx):
        if gate.timeout is None:
            continue
        ms = duration_ms(gate.timeout.value)
        if ms is not None and ms <= 0:  # not a duration at all is the schema's (B002)
            report(
                gate.timeout.span,
                f"step '{step.id}': approval timeout '{gate.timeout.value}' is not positive; "
                "give the approvers some time (e.g. 4h), or leave `timeout` out",
            )


def timeout_keys_without_timeout(ctx: LintContext, report: Report) -> None:
    """`on_timeout` or `escalate_to` on an approval without `timeout`.

    Why: without a timeout the request waits for a decision forever, so what happens on
    timeout never happens; the keys suggest a deadline that is not there.

    Example: `approval: {role: manager, on_timeout: escalate, escalate_to: ceo}`.
    """
    for _workflow, step, gate in _gates(ctx):
        if gate.timeout is not None:
            continue
        for key, name in (("on_timeout", gate.on_timeout), ("escalate_to", gate.escalate_to)):
            if name is not None:
                report(
                    name.span,
                    f"step '{step.id}': `{key}` has no effect without an approval `timeout`",
                )


def escalate_to_same_role(ctx: LintContext, report: Report) -> None:
    """`escalate_to` is the gate's own `role`.

    Why: an escalation asks someone else; asking the same people again only delays the
    rejection.

    Example: `approval: {role: manager, timeout: 4h, on_timeout: escalate, escalate_to: manager}`.
    """
    for _workflow, step, gate in _gates(ctx):
        target = gate.escalate_to
        if target is not None and target.value == gate.role.value:
            report(
                target.span,
                f"step '{step.id}': `escalate_to` is the gate's own role '{target.value}'",
            )


def escalate_without_escalation(ctx: LintContext, report: Report) -> None:
    """`escalate_to` with `on_timeout` other than `escalate` (or left out: `reject`).

    Why: the request is rejected on timeout; the escalation role is never asked.

    Example: `approval: {role: manager, timeout: 4h, escalate_to: ceo}`.
    """
    for _workflow, step, gate in _gates(ctx):
        if gate.timeout is None or gate.escalate_to is None:
            continue
        action = gate.on_timeout.value if gate.on_timeout else "reject"
        if action != "escalate":
            report(
                gate.escalate_to.span,
                f"step '{step.id}': `escalate_to` is never asked: `on_timeout` is "
                f"'{action}' (set `on_timeout: escalate`)",
            )
