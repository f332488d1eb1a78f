"""Rules about the step graph: cycles and unknown steps."""

from __future__ import annotations

from baton.compiler.context import LintContext
from baton.compiler.diagnostics import Report, choices_text, did_you_mean
from baton.compiler.graph import find_cycles


def dependency_cycle(ctx: LintContext, report: Report) -> None:
    """Steps depend on each other in a loop through `needs`.

    Why: no step of the loop can ever start; the run would hang. Every cycle is reported
    once (one per strongly connected component), as its whole path, from the step written
    first.

    Example: `a` needs `b`, `b` needs `c`, `c` needs `a`: `a -> b -> c -> a`.
    """
    for workflow in ctx.spec.workflows.values():
        if ctx.graphs.steps[workflow.name].acyclic:  # found while building the graph
            continue
        needs = ctx.known_needs(workflow)
        order = {step_id: index for index, step_id in enumerate(workflow.steps)}
        for cycle in find_cycles(needs, needs, order):
            first = workflow.steps[cycle[0]]
            report(
                first.span,
                f"dependency cycle in workflow '{workflow.name}': {' -> '.join(cycle)}",
            )


def unknown_step(ctx: LintContext, report: Report) -> None:
    """`needs` (or `result`) names a step that does not exist in the workflow.

    Why: the dependency is silently missing, so the step could run before the data it
    needs exists.

    Example: `needs: [reserch]` when the step is called `research`.
    """
    for workflow in ctx.spec.workflows.values():
        names = list(workflow.steps)
        for step in workflow.steps.values():
            for need in step.needs:
                if need.value not in workflow.steps:
                    report(
                        need.span,
                        f"step '{step.id}' needs unknown step '{need.value}'"
                        f"{did_you_mean(need.value, names)}; steps are {choices_text(names)}",
                    )
        if workflow.result and workflow.result.value not in workflow.steps:
            report(
                workflow.result.span,
                f"result names unknown step '{workflow.result.value}'"
                f"{did_you_mean(workflow.result.value, names)}",
            )
