"""Delegation chains: who hands each step to whom, computed once per spec set (a stage of
the pipeline). The delegation rules judge them; codegen writes the top-level ones into
each compiled step.

A step's chain is the chain of the run that contains it, then the owner, then
`delegated_by` if it differs, then the agent; a sub-workflow step extends it into the
child run with the child's owner. An agent handing a step to itself is no delegation.
A step's `fallback:` agents each get the chain the step's agent has, with the fallback
agent in its place (`StepChain.fallback`): the rules judge them as the step's agent;
so is a `review:` loop's reviewer (`StepChain.reviewer`).
A routed step's (`route:`) candidates likewise: each agent in the agent's place, each
sub-workflow as a sub-workflow step (`StepChain.route`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from baton.compiler import ir
from baton.compiler.span import Span


@dataclass(frozen=True)
class ChainLink:
    """An agent in a chain and the node that put it there."""

    agent: str
    span: Span


@dataclass(frozen=True)
class StepChain:
    """A step's delegation chain in one calling context."""

    workflow: ir.Workflow
    step: ir.Step
    links: tuple[ChainLink, ...]
    inherited: int  # how many links came from the calling run
    via: tuple[str, ...]  # the sub-workflow steps that led here, e.g. ("parent.step",)
    fallback: str | None = None  # the fallback agent this chain runs the step with
    route: str | None = None  # the `route:` candidate (agent or workflow) of this chain
    reviewer: str | None = None  # the review loop's reviewer, in the step agent's place


def _collapse(links: list[ChainLink]) -> list[ChainLink]:
    out: list[ChainLink] = []
    for link in links:
        if not out or out[-1].agent != link.agent:
            out.append(link)
    return out


def delegation_chains(spec: ir.SpecSet) -> tuple[StepChain, ...]:
    """Every step's chain in every context it can run in, top-level runs first."""
    chains: list[StepChain] = []
    # a workflow reached again with the same inherited agents yields the same chains:
    # without this, workflows calling each other in a diamond take exponential time
    visited: set[tuple[str, tuple[str, ...], frozenset[str]]] = set()

    def visit(workflow: ir.Workflow, prefix: list[ChainLink], via: tuple[str, ...]) -> None:
        running = frozenset({v.split(".")[0] for v in via} | {workflow.name})
        key = (workflow.name, tuple(link.agent for link in _collapse(prefix)), running)
        if key in visited:
            return
        visited.add(key)
        for step in workflow.steps.values():
            new: list[ChainLink] = []
            if workflow.owner:
                new.append(ChainLink(workflow.owner.value, workflow.owner.span))
            if step.delegated_by:
                new.append(ChainLink(step.delegated_by.value, step.delegated_by.span))
            child = spec.workflows.get(step.workflow.value) if step.workflow else None
            if step.agent:
                new.append(ChainLink(step.agent.value, step.agent.span))
            elif child and child.owner and step.workflow:
                new.append(ChainLink(child.owner.value, step.workflow.span))
            links = _collapse(prefix + new)
            inherited = len(_collapse(prefix))
            chains.append(StepChain(workflow, step, tuple(links), inherited, via))
            if step.agent:
                for entry in step.fallbacks:
                    instead = [*new[:-1], ChainLink(entry.agent.value, entry.agent.span)]
                    fallback_links = tuple(_collapse(prefix + instead))
                    chains.append(
                        StepChain(workflow, step, fallback_links, inherited, via, entry.agent.value)
                    )
                if step.review is not None:  # the reviewer is called as the step's agent is
                    by = step.review.by
                    instead = [*new[:-1], ChainLink(by.value, by.span)]
                    reviewer_links = tuple(_collapse(prefix + instead))
                    chains.append(
                        StepChain(workflow, step, reviewer_links, inherited, via, reviewer=by.value)
                    )
            if step.route and step.agent is None and step.workflow is None:
                _route_chains(spec, workflow, step, new, prefix, via, chains, visit)
            label = f"{workflow.name}.{step.id}"
            # a step with both `agent` and `workflow` (B002) starts no child run
            if child and step.agent is None and child.name not in running:
                visit(child, links, (*via, label))

    for workflow in spec.workflows.values():
        visit(workflow, [], ())
    return tuple(chains)


TopLevelChains = dict[str, dict[str, tuple[str, ...]]]  # workflow -> step id -> its agents


def top_level_chains(chains: tuple[StepChain, ...]) -> TopLevelChains:
    """Each step's chain when its workflow runs as a top-level run: what a compiled step
    carries (the runtime extends it for a child run)."""
    found: TopLevelChains = {}
    for chain in chains:
        if (
            not chain.via
            and chain.fallback is None
            and chain.route is None
            and chain.reviewer is None
        ):
            agents = tuple(link.agent for link in chain.links)
            found.setdefault(chain.workflow.name, {})[chain.step.id] = agents
    return found


def _route_chains(
    spec: ir.SpecSet,
    workflow: ir.Workflow,
    step: ir.Step,
    new: list[ChainLink],
    prefix: list[ChainLink],
    via: tuple[str, ...],
    chains: list[StepChain],
    visit: Callable[[ir.Workflow, list[ChainLink], tuple[str, ...]], None],
) -> None:
    """A routed step's candidate chains: each agent (and fallback agent) at the end of
    the step's chain; each sub-workflow through its owner, into the child run."""
    inherited = len(_collapse(prefix))
    running = {v.split(".")[0] for v in via} | {workflow.name}
    runners: list[tuple[ir.Name, str | None]] = [
        (case.agent, None) for case in step.route if case.agent
    ]
    runners += [(entry.agent, entry.agent.value) for entry in step.fallbacks]
    for agent, fallback in runners:
        links = tuple(_collapse([*prefix, *new, ChainLink(agent.value, agent.span)]))
        chains.append(StepChain(workflow, step, links, inherited, via, fallback, agent.value))
    for case in step.route:
        child = spec.workflows.get(case.workflow.value) if case.workflow else None
        if child is None or case.workflow is None:
            continue
        owner = [ChainLink(child.owner.value, case.workflow.span)] if child.owner else []
        links = tuple(_collapse([*prefix, *new, *owner]))
        chains.append(StepChain(workflow, step, links, inherited, via, None, child.name))
        if child.name not in running:
            visit(child, list(links), (*via, f"{workflow.name}.{step.id}"))
