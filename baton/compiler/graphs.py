"""The graphs of a spec set, built once (a stage of the pipeline): each workflow's step
graph with every step's transitive `needs`, and the workflow call graph.

The algorithms on them (order, generations, cycles) are in compiler.graph.
"""

from __future__ import annotations

from dataclasses import dataclass

from baton.compiler import ir


@dataclass(frozen=True)
class StepGraph:
    """One workflow's steps and what each needs.

    `upstream` holds each step's transitive needs as a bitset (a Python int, bit
    `index[step]`): linear in memory and fast for 10k-step chains, where sets of
    ancestors would be quadratic.
    """

    needs: dict[str, list[str]]  # step -> the steps it needs that exist (others are B102)
    index: dict[str, int]  # step -> its bit
    upstream: dict[str, int]  # step -> the bits of its transitive needs
    acyclic: bool = True  # no cycle through `needs` (B101 looks for them only otherwise)

    def is_upstream(self, step: str, candidate: str) -> bool:
        """Whether `candidate` is in `step`'s transitive `needs`."""
        position = self.index.get(candidate)
        return position is not None and bool(self.upstream.get(step, 0) >> position & 1)


@dataclass(frozen=True)
class SpecGraphs:
    """The step graph of every workflow, and which workflows call which."""

    steps: dict[str, StepGraph]  # workflow name -> its step graph
    calls: dict[str, list[str]]  # workflow -> the known workflows its steps call, sorted


def build_graphs(spec: ir.SpecSet) -> SpecGraphs:
    """The graphs of every workflow in the spec set."""
    return SpecGraphs(
        {name: step_graph(workflow) for name, workflow in spec.workflows.items()},
        {name: _callees(workflow, spec) for name, workflow in spec.workflows.items()},
    )


def step_graph(workflow: ir.Workflow) -> StepGraph:
    """A workflow's step graph; a cycle (B101) is cut where the walk meets it."""
    needs = {
        step_id: [n.value for n in step.needs if n.value in workflow.steps]
        for step_id, step in workflow.steps.items()
    }
    index = {step_id: position for position, step_id in enumerate(workflow.steps)}
    closure: dict[str, int] = {}
    open_nodes: set[str] = set()  # on the DFS stack: meeting one again closes a cycle
    acyclic = True
    for start in workflow.steps:
        if start in closure:
            continue
        # iterative post-order DFS; a node on the stack is treated as done (cycle)
        stack: list[tuple[str, int]] = [(start, 0)]
        closure[start] = 0
        open_nodes.add(start)
        while stack:
            node, next_child = stack[-1]
            deps = needs[node]
            if next_child < len(deps):
                stack[-1] = (node, next_child + 1)
                dep = deps[next_child]
                if dep not in closure:
                    closure[dep] = 0
                    open_nodes.add(dep)
                    stack.append((dep, 0))
                elif dep in open_nodes:
                    acyclic = False
                continue
            stack.pop()
            open_nodes.discard(node)
            bits = 0
            for dep in deps:
                bits |= closure[dep] | (1 << index[dep])
            closure[node] = bits
    return StepGraph(needs, index, closure, acyclic)


def _callees(workflow: ir.Workflow, spec: ir.SpecSet) -> list[str]:
    called: set[str] = set()
    for step in workflow.steps.values():
        names = [step.workflow] if step.workflow else []
        names += [case.workflow for case in step.route if case.workflow]  # route targets
        called.update(name.value for name in names if name.value in spec.workflows)
    return sorted(called)
