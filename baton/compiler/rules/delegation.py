"""Delegation rules: agents exist, chains obey the roster's ACL, have no loops, and stay
within `max_delegation_depth`, through `delegated_by` and sub-workflows across files.

The chains themselves are computed once, before the rules run (compiler.chains).
"""

from __future__ import annotations

from baton.compiler.chains import StepChain
from baton.compiler.context import LintContext
from baton.compiler.diagnostics import Report, choices_text, did_you_mean
from baton.compiler.graph import find_cycles, generations


def _chain_text(chain: StepChain) -> str:
    return " -> ".join(link.agent for link in chain.links)


def _context(chain: StepChain) -> str:
    text = f" (when run from {' -> '.join(chain.via)})" if chain.via else ""
    if chain.fallback is not None:
        text += f" (its fallback agent '{chain.fallback}')"
    if chain.route is not None:
        text += f" (its route candidate '{chain.route}')"
    if chain.reviewer is not None:
        text += f" (its reviewer '{chain.reviewer}')"
    return text


def unknown_agent(ctx: LintContext, report: Report) -> None:
    """A step, owner, `delegated_by`, `fallback:` entry, `review.by` or `delegates_to`
    names an agent the roster does not define (or the workflow has no roster).

    Why: there is nobody to run the step, or the ACL names a ghost.

    Example: `agent: webstr` when the roster defines `webster`.
    """
    for workflow in ctx.spec.workflows.values():
        roster = workflow.roster
        if roster is None and workflow.roster_ref is not None:
            continue  # the roster did not load (B205); its agents are unknown, not missing
        agents = roster.agents if roster else {}
        names = [workflow.owner] if workflow.owner else []
        for step in workflow.steps.values():
            names += [n for n in (step.agent, step.delegated_by) if n]
            names += [entry.agent for entry in step.fallbacks]
            names += [case.agent for case in step.route if case.agent]
            names += [step.review.by] if step.review is not None else []
        for name in names:
            if name.value not in agents:
                known = (
                    f"; agents are {choices_text(agents)}"
                    if roster
                    else ("; the workflow has no roster (add `roster:` or inline `agents:`)")
                )
                report(
                    name.span,
                    f"unknown agent '{name.value}'{did_you_mean(name.value, agents)}{known}",
                )
    for roster in ctx.spec.rosters.values():
        for agent in roster.agents.values():
            for target in agent.delegates_to:
                if target.value not in roster.agents:
                    report(
                        target.span,
                        f"agent '{agent.name}' delegates to unknown agent '{target.value}'"
                        f"{did_you_mean(target.value, roster.agents)}",
                    )


def acl_violation(ctx: LintContext, report: Report) -> None:
    """A delegation in a step's chain is not allowed by the roster's `delegates_to`
    (a step's `fallback:` agents and its reviewer are judged in the step's agent's place).

    Why: the ACL is the contract of who may hand work to whom; a spec that breaks it
    would be refused at run time.

    Example: owner `mario` may delegate to `[webster]`, but a step has `agent: scribe`.
    """
    for chain in ctx.chains:
        roster = chain.workflow.roster
        if roster is None:
            continue
        for index in range(max(chain.inherited, 1), len(chain.links)):
            source, target = chain.links[index - 1], chain.links[index]
            agent = roster.agents.get(source.agent)
            if agent is None or target.agent not in roster.agents:
                continue  # B201
            allowed = [n.value for n in agent.delegates_to]
            if target.agent not in allowed:
                report(
                    target.span,
                    f"agent '{source.agent}' may not delegate to '{target.agent}' in step "
                    f"'{chain.step.id}'{_context(chain)}; its delegates_to is "
                    f"{choices_text(allowed) if allowed else 'empty'}",
                )


def delegation_loop(ctx: LintContext, report: Report) -> None:
    """An agent appears twice in a step's delegation chain.

    Why: work handed back to an agent already waiting on it is how agents ping-pong
    forever; the chain must be a path.

    Example: a sub-workflow owned by `mario`, called from a step that `mario` delegated
    through `webster`: `mario -> webster -> mario`.
    """
    for chain in ctx.chains:
        seen: set[str] = set()
        for link in chain.links:
            if link.agent in seen:
                report(
                    chain.links[-1].span,
                    f"delegation loop in step '{chain.step.id}'{_context(chain)}: agent "
                    f"'{link.agent}' appears twice in {_chain_text(chain)}",
                )
                break
            seen.add(link.agent)


def subworkflow_cycle(ctx: LintContext, report: Report) -> None:
    """Workflows call each other in a loop through sub-workflow steps (across files).

    Why: each run would start a child run of itself, without end.

    Example: `triage` has a step `workflow: escalate` and `escalate` one with
    `workflow: triage`.
    """
    calls = ctx.calls
    if generations(calls, calls) is not None:
        return
    order = {name: index for index, name in enumerate(sorted(calls))}
    for cycle in find_cycles(calls, calls, order):
        workflow = ctx.spec.workflows[cycle[0]]
        callee = cycle[1]
        span = next(
            (
                s.workflow.span
                for s in workflow.steps.values()
                if s.workflow and s.workflow.value == callee
            ),
            workflow.span,
        )
        report(span, f"sub-workflow cycle: {' -> '.join(cycle)}")


def unknown_reference(ctx: LintContext, report: Report) -> None:
    """A step names a workflow that is not in the spec set, or `roster:` names a file that
    does not exist or is not a roster.

    Why: the reference cannot be run; often it is a typo or a file left out of the set.

    Example: `workflow: sumarize` when the spec set defines `summarize`.
    """
    for problem in ctx.unresolved:  # rosters, found while resolving the set
        report(problem.span, problem.message)
    for workflow in ctx.spec.workflows.values():
        for step in workflow.steps.values():
            called = [step.workflow] if step.workflow else []
            called += [case.workflow for case in step.route if case.workflow]  # route targets
            for name in called:
                if name.value in ctx.spec.workflows:
                    continue
                report(
                    name.span,
                    f"unknown workflow '{name.value}'"
                    f"{did_you_mean(name.value, ctx.spec.workflows)}; workflows are "
                    f"{choices_text(ctx.spec.workflows)}",
                )


def chain_too_long(ctx: LintContext, report: Report) -> None:
    """A step's delegation chain has more delegations than `max_delegation_depth`.

    Why: long chains multiply latency, cost and the chance of a dropped instruction; the
    roster's policy caps them (default 3).

    Example: `a -> b -> c -> d -> e` (4 delegations) with `max_delegation_depth: 3`.
    """
    for chain in ctx.chains:
        roster = chain.workflow.roster
        limit = roster.policy.max_delegation_depth if roster else 3
        if len(chain.links) - 1 > limit:
            report(
                chain.links[-1].span,
                f"delegation chain of step '{chain.step.id}'{_context(chain)} has "
                f"{len(chain.links) - 1} delegations, more than max_delegation_depth {limit}: "
                f"{_chain_text(chain)}",
            )


def roster_cycle(ctx: LintContext, report: Report) -> None:
    """The roster's `delegates_to` graph has a cycle.

    Why: the ACL then allows delegation loops at run time (the runtime still blocks them,
    but the roster invites them).

    Example: `mario` delegates to `webster` and `webster` to `mario`.
    """
    for roster in ctx.spec.rosters.values():
        edges = {
            # delegating to oneself is no delegation: a self-edge cannot loop
            name: [t.value for t in agent.delegates_to if t.value in roster.agents.keys() - {name}]
            for name, agent in roster.agents.items()
        }
        if generations(edges, edges) is not None:
            continue
        order = {name: index for index, name in enumerate(roster.agents)}
        for cycle in find_cycles(edges, edges, order):
            agent = roster.agents[cycle[0]]
            report(
                agent.delegates_to_span or agent.span,
                f"delegation cycle in the roster: {' -> '.join(cycle)}",
            )
