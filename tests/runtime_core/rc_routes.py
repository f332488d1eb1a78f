"""Routed workflows for the runtime tests, run as `baton run rc_routes:NAME`.

`classify` echoes the run's topic as a `kind` (bug, feature, question); `handle` is
routed on it: `bug` -> agent `fixer`, `feature` -> sub-workflow `route_inner`, the rest ->
agent `helper` (ROUTE) or no case at all (ROUTE_STRICT). `fixer` and `helper` are
`flaky`: their first attempt fails, the retry (same agent: the choice holds) succeeds.
"""

from __future__ import annotations

from rc_workflows import AGENTS, FAST_RETRY, TEXT, text_step, workflow

from baton.runtime.model import (
    AgentBinding,
    AgentKind,
    FailureClass,
    Fallback,
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
    AgentBinding("broken", AgentKind.BUILTIN, "fail"),
    AgentBinding("backup", AgentKind.BUILTIN, "flaky"),
)


def when(source: str) -> Template:
    return Template(source, is_expression=True, spec="route.yaml:9")


BUG = when("steps.classify.output.kind == 'bug'")
FEATURE = when("steps.classify.output.kind == 'feature'")


def _routed(name: str, *cases: RouteCase, **step: object) -> Workflow:
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
            delegation_chain=(),
            **{"retry": FAST_RETRY, **step},  # type: ignore[arg-type]
        ),
        text_step("after", needs=("handle",), input={"text": "{{ steps.handle.output.text }}!"}),
        result="after",
        agents=ROUTE_AGENTS,
    )


# the child a `feature` runs: any input; its result is the step's output (`text`)
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
# no default: a `question` matches no case and fails the step with no_route
ROUTE_STRICT = _routed(
    "route_strict",
    RouteCase(when=BUG, agent="fixer"),
    RouteCase(when=FEATURE, workflow="route_inner"),
)
# a case whose condition reads a name that does not exist: the run cannot go on
ROUTE_BROKEN = _routed(
    "route_broken",
    RouteCase(when=when("steps.classify.output.nope.deeper == 1"), agent="fixer"),
    RouteCase(agent="helper"),
)
# the chosen agent keeps failing: its fallback takes over the routed step
ROUTE_FALLBACK = _routed(
    "route_fallback",
    RouteCase(when=BUG, agent="broken"),
    RouteCase(agent="helper"),
    fallbacks=(Fallback(on=(FailureClass.AGENT_ERROR,), agent="backup"),),
)

WORKFLOWS = {w.name: w for w in (ROUTE, ROUTE_STRICT, ROUTE_BROKEN, ROUTE_FALLBACK, ROUTE_INNER)}
