"""How `baton graph` draws a routed step (`route:`): the step is a decision node, with
one labelled edge per case (solid: a review loop's back edge is the dashed one) to the
agent or sub-workflow it chooses (`default` for the case without `when`). Its
dependents hang off the decision node, as for any step."""

from __future__ import annotations

from collections.abc import Callable

from baton.compiler import ir


def case_label(case: ir.RouteCase) -> str:
    """The edge's label: the case's condition, or `default`."""
    return case.when.source.strip() if case.when else "default"


def case_target(case: ir.RouteCase) -> str:
    """The case node's label: `agent: X` or `workflow: X`."""
    if case.workflow and not case.agent:
        return f"workflow: {case.workflow.value}"
    return f"agent: {case.agent.value}" if case.agent else "?"


def mermaid_cases(step: ir.Step, node: str, text: Callable[[str], str]) -> list[str]:
    """The case nodes of a routed step drawn as mermaid node `node`, and their edges."""
    lines = []
    for index, case in enumerate(step.route, start=1):
        target = f"{node}r{index}"
        shape = ('[["', '"]]') if case.workflow and not case.agent else ('(["', '"])')
        lines.append(f"    {target}{shape[0]}{text(case_target(case))}{shape[1]}")
        lines.append(f'    {node} -->|"{text(case_label(case))}"| {target}')
    return lines


def dot_cases(step: ir.Step, text: Callable[[str], str]) -> list[str]:
    """The case nodes of a routed step in dot, and their labelled edges."""
    lines = []
    for index, case in enumerate(step.route, start=1):
        target = f"{step.id}#route{index}"
        extra = ", peripheries=2" if case.workflow and not case.agent else ""
        lines.append(
            f'    "{text(target)}" [label="{text(case_target(case))}", shape=ellipse{extra}];'
        )
        lines.append(
            f'    "{text(step.id)}" -> "{text(target)}" [label="{text(case_label(case))}"];'
        )
    return lines


def route_json(step: ir.Step) -> list[dict[str, str | None]]:
    return [
        {
            "when": case.when.source if case.when else None,
            "agent": case.agent.value if case.agent else None,
            "workflow": case.workflow.value if case.workflow else None,
        }
        for case in step.route
    ]
