"""Routed workflows for the Temporal backend tests (`tb_routes:NAME`), as
tests/runtime_core/rc_routes.py: `classify` echoes the topic as a `kind`; `handle` is
routed on it: `bug` -> agent `fixer` (flaky: its retry runs fixer again), `feature` ->
sub-workflow `route_inner`, the rest -> `helper` (ROUTE) or no case (ROUTE_STRICT)."""

from __future__ import annotations

from tb_workflows import AGENTS, FAST_RETRY, TEXT, text_step, workflow

from baton.runtime.model import (
    AgentBinding,
    AgentKind,
    Handoff,
    RouteCase,
    Step,
    Template,
    Workflow,
)

KIND = Handoff(
    "kind",
    1,
    {
        "type": "object",
        "required": ["kind"],
        "additionalProperties": False,
        "properties": {"kind": {"enum": ["bug", "feature", "question"]}},
    },
)
ROUTE_AGENTS = (
    *AGENTS,
    AgentBinding("fixer", AgentKind.BUILTIN, "flaky"),
    AgentBinding("helper", AgentKind.BUILTIN, "flaky"),
)
BUG = Template("steps.classify.output.kind == 'bug'", is_expression=True, spec="route.yaml:9")
FEATURE = Template("steps.classify.output.kind == 'feature'", is_expression=True)


def _routed(name: str, *cases: RouteCase) -> Workflow:
    return workflow(
        name,
        Step(
            "classify",
            "route.yaml:5",
            agent="echo",
            input={"kind": "{{ inputs.topic }}"},
            output=KIND,
        ),
        Step(
            "handle",
            "route.yaml:8",
            needs=("classify",),
            route=cases,
            input={
                "succeed_on_attempt": 2,
                "output": {"text": "handled {{ steps.classify.output.kind }}"},
                "topic": "{{ inputs.topic }}",
            },
            output=TEXT,
            retry=FAST_RETRY,
        ),
        text_step("after", needs=("handle",), input={"text": "{{ steps.handle.output.text }}!"}),
        result="after",
        agents=ROUTE_AGENTS,
    )


ROUTE_INNER = Workflow(
    name="route_inner",
    version=1,
    spec_path="route_inner.yaml",
    spec_sha256="0" * 64,
    steps=(text_step("condense", input={"text": "inner {{ inputs.topic }}"}),),
    generations=(("condense",),),
    result="condense",
    agents=ROUTE_AGENTS,
)
ROUTE = _routed(
    "route",
    RouteCase(when=BUG, agent="fixer"),
    RouteCase(when=FEATURE, workflow="route_inner"),
    RouteCase(agent="helper"),
)
ROUTE_STRICT = _routed(
    "route_strict",
    RouteCase(when=BUG, agent="fixer"),
    RouteCase(when=FEATURE, workflow="route_inner"),
)
WORKFLOWS = {w.name: w for w in (ROUTE, ROUTE_STRICT, ROUTE_INNER)}
