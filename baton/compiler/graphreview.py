"""`baton graph` for review loops: each reviewed step gets a reviewer node, fed by the
step's output, and a dashed back edge from the reviewer to the step (the loop:
`revise`, at most `max_rounds` rounds). Called by compiler.graphview."""

from __future__ import annotations

from collections.abc import Callable

from baton.compiler import ir


def _reviewed(workflow: ir.Workflow) -> list[tuple[int, ir.Step, ir.Review]]:
    return [
        (position, step, step.review)
        for position, step in enumerate(workflow.steps.values())
        if step.review is not None
    ]


def review_label(step: ir.Step, review: ir.Review) -> str:
    """The reviewer node's label: who, the verdict handoff, when it passes."""
    parts = [f"review of {step.id}", f"by: {review.by.value}"]
    if review.output is not None:
        version = f"@{review.output.version}" if review.output.version else ""
        parts.append(f"verdict: {review.output.handoff}{version}")
    if review.pass_when is not None:
        parts.append(f"pass_when: {review.pass_when.source.strip()}")
    parts.append(f"on_exhausted: {review.on_exhausted}")
    return "\n".join(parts)


def back_label(review: ir.Review) -> str:
    return f"revise (max {review.max_rounds} rounds)"


def mermaid_lines(workflow: ir.Workflow, text: Callable[[str], str]) -> list[str]:
    """Nodes `r<i>` (the reviewer of node `n<i>`), the step's edge to it, and the dashed
    back edge; `text` escapes a label."""
    lines = []
    for position, step, review in _reviewed(workflow):
        lines.append(f'    r{position}(["{text(review_label(step, review))}"])')
        lines.append(f"    n{position} --> r{position}")
        lines.append(f'    r{position} -.->|"{text(back_label(review))}"| n{position}')
    return lines


def dot_lines(workflow: ir.Workflow, text: Callable[[str], str]) -> list[str]:
    lines = []
    for _, step, review in _reviewed(workflow):
        reviewer = f"{step.id} (review)"
        label = text(review_label(step, review))
        lines.append(f'    "{text(reviewer)}" [label="{label}", shape=ellipse];')
        lines.append(f'    "{step.id}" -> "{text(reviewer)}";')
        back = text(back_label(review))
        lines.append(f'    "{text(reviewer)}" -> "{step.id}" [style=dashed, label="{back}"];')
    return lines


def review_json(step: ir.Step) -> dict[str, object] | None:
    review = step.review
    if review is None:
        return None
    output = None
    if review.output is not None:
        version = f"@{review.output.version}" if review.output.version else ""
        output = f"{review.output.handoff}{version}"
    return {
        "by": review.by.value,
        "output": output,
        "pass_when": review.pass_when.source if review.pass_when else None,
        "max_rounds": review.max_rounds,
        "on_exhausted": review.on_exhausted,
        "escalate_to": review.escalate_to.value if review.escalate_to else None,
    }
