"""Routing: who runs a routed step (`route:`), chosen once, when it becomes ready. Pure.

`select` tries the cases in order against the run's scope; the first whose `when`
holds (or the default, without `when`) wins. `decide` records the choice as
`route_selected` before any attempt starts (StepRecord.route), and from then on the
step's attempts, retries, restarts after a resume and fallbacks all run the recorded
target: the choice is never made again for that step (a redrive, which starts the step
afresh, chooses again). No match and no default: the step fails with `no_route`.

The values the evaluated conditions read are recorded with the choice, so `baton
events`/`trace` can say why a case was chosen.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from functools import lru_cache
from typing import Any

from baton.runtime.core import commands as cmd
from baton.runtime.core.state import StepRecord
from baton.runtime.model import JSON, FailureClass, Step

AGENT = "agent"
WORKFLOW = "workflow"


class RouteError(Exception):
    """A case's `when` cannot be evaluated (an undefined name, a type error)."""

    def __init__(self, case: int, source: str, reason: str) -> None:
        super().__init__(f"cannot evaluate route case {case} when: {source}: {reason}")


def select(step: Step, scope: dict[str, JSON]) -> cmd.SelectRoute:
    """The case that runs `step` in this scope (case 0: none); raises RouteError."""
    from baton.runtime.render import RenderError, evaluate, evaluate_condition

    reads: dict[str, JSON] = {}
    for index, case in enumerate(step.route, start=1):
        if case.when is not None:
            for text in reads_of(case.when.source):
                if text in reads:
                    continue
                # an undefined name is left out: the condition's own error says so
                with contextlib.suppress(RenderError):
                    reads[text] = _json(evaluate(text, scope))
            try:
                holds = evaluate_condition(case.when, scope)
            except RenderError as error:
                raise RouteError(index, case.when.source, str(error)) from None
            if not holds:
                continue
        kind, target = (WORKFLOW, case.workflow) if case.workflow else (AGENT, case.agent)
        return cmd.SelectRoute(step.id, index, kind, target or "", reads)
    return cmd.SelectRoute(step.id, 0, reads=reads)


def chosen(step: Step, record: StepRecord | None) -> tuple[str, str] | None:
    """(kind, target) recorded for a routed step; None before the choice (or no match)."""
    if not step.route or record is None or not record.route:
        return None
    kind, target = record.route.get("kind"), record.route.get("target")
    if not isinstance(kind, str) or not isinstance(target, str) or not target:
        return None
    return kind, target


def routed_agent(step: Step, record: StepRecord | None) -> str | None:
    """The agent the route chose, or the step's own (None for a workflow)."""
    choice = chosen(step, record)
    if choice is None:
        return step.agent
    return choice[1] if choice[0] == AGENT else None


def routed_workflow(step: Step, record: StepRecord | None) -> str | None:
    """The sub-workflow the step runs: the route's choice, or the step's own."""
    choice = chosen(step, record)
    if choice is None:
        return step.workflow
    return choice[1] if choice[0] == WORKFLOW else None


def unmatched(step: Step, record: StepRecord) -> cmd.FailStep | None:
    """The failure of a routed step none of whose cases matched (recorded as case 0)."""
    if not step.route or record.route is None or record.route.get("case") != 0:
        return None
    return cmd.FailStep(
        step.id,
        FailureClass.NO_ROUTE.value,
        f"no case of its route matched and it has no default ({len(step.route)} cases)",
    )


def as_started(step: Step, command: cmd.StartAttempt) -> Step:
    """`step` as the attempt `command` starts runs it: a routed step with its chosen
    sub-workflow, or its chosen (or fallback) agent at the end of its delegation chain,
    so that the attempt, its delegations and its child run see an ordinary step."""
    if not step.route:
        return step
    if command.workflow is not None:
        return dataclasses.replace(step, workflow=command.workflow, agent=None)
    if command.agent is None:
        return step
    chain = step.delegation_chain
    if not chain or chain[-1] != command.agent:
        chain = (*chain, command.agent)
    return dataclasses.replace(step, agent=command.agent, delegation_chain=chain)


def describe(case: int, kind: str, target: str, reads: dict[str, JSON] | None = None) -> str:
    """A choice for people: `case 2: workflow feature_flow (steps.x.output.kind = "bug")`.

    >>> describe(0, "", "", {"inputs.kind": "other"})
    'no case matched (inputs.kind = "other")'
    """
    text = f"case {case}: {kind} {target}" if case else "no case matched"
    if reads:
        shown = ", ".join(f"{name} = {_short(value)}" for name, value in reads.items())
        text += f" ({shown})"
    return text


def _short(value: JSON, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def targets(step: Step) -> tuple[str, ...]:
    """The sub-workflows a routed step may run (to resolve them ahead of time)."""
    return tuple(case.workflow for case in step.route if case.workflow)


@lru_cache(maxsize=1024)
def reads_of(source: str) -> tuple[str, ...]:
    """The references an expression reads (`steps.classify.output.kind`), as written
    with constant paths, in order, each once."""
    from jinja2 import nodes
    from jinja2.exceptions import TemplateSyntaxError
    from jinja2.parser import Parser
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    try:
        parser = Parser(ImmutableSandboxedEnvironment(), source, state="variable")
        tree = parser.parse_expression()
    except TemplateSyntaxError:
        return ()
    found: list[str] = []

    def chain(node: Any) -> str | None:
        parts: list[str] = []
        while True:
            if isinstance(node, nodes.Getattr):
                parts.append(f".{node.attr}")
                node = node.node
            elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
                parts.append(f"[{node.arg.value!r}]")
                node = node.node
            elif isinstance(node, nodes.Name):
                return node.name + "".join(reversed(parts))
            else:
                return None

    def visit(node: Any) -> None:
        if isinstance(node, nodes.Getattr | nodes.Getitem | nodes.Name):
            text = chain(node)
            if text is not None:
                if text not in found and _is_value(text):
                    found.append(text)
                return
        for child in node.iter_child_nodes():
            visit(child)

    visit(tree)
    return tuple(found)


def _is_value(text: str) -> bool:
    """A read of the scope, not a jinja literal name (`true`, `none`...)."""
    return text not in ("true", "false", "none", "True", "False", "None")


def _json(value: Any) -> JSON:
    """A value read from the scope, as the log stores it (scope values are JSON)."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return str(value)
