"""Render a workflow's step DAG as mermaid, Graphviz dot or JSON."""

from __future__ import annotations

import json

from baton.compiler import graphreview, ir
from baton.compiler.graph import generations
from baton.compiler.graph_routes import dot_cases, mermaid_cases, route_json

GRAPH_FORMATS = ("mermaid", "dot", "json")


def _label(step: ir.Step) -> str:
    runner = f"agent: {step.agent.value}" if step.agent else ""
    if step.workflow:
        runner = f"workflow: {step.workflow.value}"
    if step.route:
        runner = f"route: {len(step.route)} cases"
    parts = [step.id, runner]
    if step.map:
        parts.append(_map_label(step.map))
    if step.approval:
        parts.append(f"approval: {step.approval.role.value} ({step.approval.stage})")
    if step.effect == "external":
        parts.append("effect: external")
    if step.condition:
        parts.append(f"if: {step.condition.source.strip()}")
    return "\n".join(p for p in parts if p)


def _map_label(spec: ir.Map) -> str:
    """`map over steps.plan.output.subtopics as subtopic (4 at once)`."""
    concurrency = spec.max_concurrency if spec.max_concurrency is not None else 4
    tolerate = f", tolerate {spec.tolerate}" if spec.tolerate else ""
    return (
        f"map over {spec.over.source.strip()} as {spec.var.value} ({concurrency} at once{tolerate})"
    )


def _map_json(spec: ir.Map | None) -> dict[str, object] | None:
    if spec is None:
        return None
    return {
        "over": spec.over.source,
        "as": spec.var.value,
        "max_concurrency": spec.max_concurrency if spec.max_concurrency is not None else 4,
        "tolerate": spec.tolerate or 0,
    }


def _edges(workflow: ir.Workflow) -> list[tuple[str, str]]:
    return sorted(
        (need.value, step.id)
        for step in workflow.steps.values()
        for need in step.needs
        if need.value in workflow.steps
    )


def graph_json(workflow: ir.Workflow) -> dict[str, object]:
    needs = {s: [n.value for n in step.needs] for s, step in workflow.steps.items()}
    return {
        "workflow": workflow.name,
        "version": workflow.version,
        "steps": [
            {
                "id": step.id,
                "agent": step.agent.value if step.agent else None,
                "workflow": step.workflow.value if step.workflow else None,
                **({"route": route_json(step)} if step.route else {}),
                "needs": [n.value for n in step.needs],
                "effect": step.effect,
                "map": _map_json(step.map),
                "approval": (
                    {"role": step.approval.role.value, "stage": step.approval.stage}
                    if step.approval
                    else None
                ),
                "output": (
                    f"{step.output.handoff}@{step.output.version}"
                    if step.output and step.output.version
                    else (step.output.handoff if step.output else None)
                ),
                "review": graphreview.review_json(step),
            }
            for step in workflow.steps.values()
        ],
        "edges": [list(edge) for edge in _edges(workflow)],
        "generations": generations(needs, needs),
    }


# `#` first: the entity codes written for the others start with it. A label between
# backticks would be read as markdown.
_MERMAID_ENTITIES = (
    ("#", "#35;"),
    ('"', "#quot;"),
    ("&", "#amp;"),
    ("<", "#lt;"),
    (">", "#gt;"),
    ("`", "#96;"),
)


def _mermaid_text(text: str) -> str:
    """Text for a quoted mermaid label: what mermaid would read as markup, as the end of
    the label or as a markdown label becomes an entity code; a line break is `<br/>`.

    >>> _mermaid_text('a < b & "c" #1\\nnext')
    'a #lt; b #amp; #quot;c#quot; #35;1<br/>next'
    """
    for char, entity in _MERMAID_ENTITIES:
        text = text.replace(char, entity)
    return "<br/>".join(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))


def graph_mermaid(workflow: ir.Workflow) -> str:
    """A `flowchart TD`. Nodes get internal ids (`n0`, `n1`, ...) in file order and show the
    step id in their label: a step may be called `end`, `graph` or `class`, which mermaid
    reads as keywords where a node id is expected."""
    index = {step_id: position for position, step_id in enumerate(workflow.steps)}
    node = {step_id: f"n{position}" for step_id, position in index.items()}
    lines = ["flowchart TD"]
    for step in workflow.steps.values():
        label = _mermaid_text(_label(step))
        if step.approval:
            lines.append(f'    {node[step.id]}{{{{"{label}"}}}}')
        elif step.route:  # a decision, and the runners it chooses between
            lines.append(f'    {node[step.id]}{{"{label}"}}')
            lines += mermaid_cases(step, node[step.id], _mermaid_text)
        elif step.workflow:
            lines.append(f'    {node[step.id]}[["{label}"]]')
        elif step.map:  # one step, many items: a slanted node, its label says over what
            lines.append(f'    {node[step.id]}[/"{label}"/]')
        else:
            lines.append(f'    {node[step.id]}["{label}"]')
    edges = sorted((index[source], index[target]) for source, target in _edges(workflow))
    lines += [f"    n{source} --> n{target}" for source, target in edges]
    lines += graphreview.mermaid_lines(workflow, _mermaid_text)  # dashed back edges
    external = [node[s.id] for s in workflow.steps.values() if s.effect == "external"]
    if external:
        lines.append("    classDef external stroke:#d33,stroke-width:3px")
        lines.append(f"    class {','.join(external)} external")
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def graph_dot(workflow: ir.Workflow) -> str:
    lines = [f'digraph "{_dot_text(workflow.name)}" {{', "    rankdir=TB;", "    node [shape=box];"]
    for step in workflow.steps.values():
        attrs = [f'label="{_dot_text(_label(step))}"']
        if step.approval:
            attrs.append("shape=hexagon")
        if step.workflow:
            attrs.append("peripheries=2")
        if step.route and not step.approval:
            attrs.append("shape=diamond")
        if step.map and not step.approval:
            attrs.append("shape=box3d")  # stacked: one step, many items
        if step.effect == "external":
            attrs.append('color="red"')
        lines.append(f'    "{step.id}" [{", ".join(attrs)}];')
        lines += dot_cases(step, _dot_text)
    for source, target in _edges(workflow):
        lines.append(f'    "{source}" -> "{target}";')
    lines += graphreview.dot_lines(workflow, _dot_text)
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_graph(workflow: ir.Workflow, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(graph_json(workflow), indent=2) + "\n"
    if fmt == "dot":
        return graph_dot(workflow)
    return graph_mermaid(workflow)
