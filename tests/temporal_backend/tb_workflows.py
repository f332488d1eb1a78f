"""Workflows built by hand for the Temporal backend tests (`tb_workflows:NAME`).

Only builtin agents, which are deterministic and append every call to the
`BATON_LEDGER` file: `echo`, `flaky` (fails before attempt `succeed_on_attempt`),
`fail`, `malformed`, `sleep`.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

from baton.runtime.agents import AgentFailure
from baton.runtime.model import (
    AgentBinding,
    AgentKind,
    Approval,
    ApprovalStage,
    Budget,
    BudgetMode,
    Effect,
    FailureClass,
    Fallback,
    Handoff,
    Map,
    OnExhausted,
    Request,
    RetryPolicy,
    Review,
    Step,
    Template,
    Workflow,
)

TEXT = Handoff(
    "text",
    1,
    {
        "type": "object",
        "required": ["text"],
        "additionalProperties": False,
        "properties": {"text": {"type": "string"}},
    },
)
INPUTS = {
    "type": "object",
    "required": ["topic"],
    "additionalProperties": False,
    "properties": {"topic": {"type": "string", "minLength": 1}},
}
AGENTS = tuple(
    AgentBinding(name, AgentKind.BUILTIN, name)
    for name in ("echo", "flaky", "fail", "malformed", "sleep")
)
APPROVERS = (("manager", ("alice", "bob")), ("ceo", ("carol",)))
RETRIED = (FailureClass.AGENT_ERROR, FailureClass.MALFORMED_OUTPUT, FailureClass.TIMEOUT)
FAST_RETRY = RetryPolicy(max_attempts=3, on=RETRIED, initial_ms=1, max_ms=5)
# a backoff long enough to be a real durable timer on Temporal
TIMED_RETRY = RetryPolicy(max_attempts=3, on=RETRIED, initial_ms=200, multiplier=2, max_ms=1000)


def workflow(
    name: str,
    *steps: Step,
    result: str | None = None,
    agents: tuple[AgentBinding, ...] = AGENTS,
) -> Workflow:
    """A workflow of `steps`, generations derived from their needs."""
    done: set[str] = set()
    generations = []
    remaining = list(steps)
    while remaining:
        ready = tuple(s.id for s in remaining if set(s.needs) <= done)
        assert ready, "a cycle"
        generations.append(ready)
        done |= set(ready)
        remaining = [s for s in remaining if s.id not in done]
    return Workflow(
        name=name,
        version=1,
        spec_path=f"{name}.yaml",
        spec_sha256="0" * 64,
        steps=steps,
        generations=tuple(generations),
        inputs_schema=INPUTS,
        agents=agents,
        approvers=APPROVERS,
        result=result,
    )


def text_step(step_id: str, agent: str = "echo", **fields: object) -> Step:
    """A step whose agent answers `{"text": ...}` (echo and friends return their input)."""
    fields.setdefault("input", {"text": f"{step_id}: {{{{ inputs.topic }}}}"})
    fields.setdefault("output", TEXT)
    return Step(step_id, f"{step_id}.yaml:1", agent=agent, **fields)  # type: ignore[arg-type]


def sleeper(step_id: str, seconds: float, **fields: object) -> Step:
    fields.setdefault("input", {"seconds": seconds, "output": {"text": step_id}})
    return text_step(step_id, "sleep", **fields)


# a fan-out, a retried step with a real backoff, an approval-gated external effect
FANOUT = workflow(
    "fanout",
    text_step("fetch"),
    text_step(
        "left",
        "flaky",
        needs=("fetch",),
        input={"succeed_on_attempt": 3, "output": {"text": "{{ steps.fetch.output.text }}+l"}},
        retry=TIMED_RETRY,
    ),
    text_step("right", needs=("fetch",), input={"text": "{{ steps.fetch.output.text }}+r"}),
    text_step(
        "deliver",
        needs=("left", "right"),
        input={"text": "{{ steps.left.output.text }}|{{ steps.right.output.text }}"},
        effect=Effect.EXTERNAL,
        approval=Approval("manager"),
    ),
    text_step("summary", needs=("deliver",), input={"text": "{{ steps.deliver.output.text }}!"}),
    result="summary",
)

# the first failure fails the run; the step in motion beside it is cancelled
FAILING = workflow(
    "failing",
    text_step("doomed", "fail", input={"message": "the builtin agent says no"}),
    sleeper("beside", 0.5),
    text_step("never", needs=("doomed", "beside")),
)

# a class that is never retried, whatever the policy says
NOT_RETRIED = workflow(
    "not_retried",
    text_step(
        "denied",
        "fail",
        input={"failure": "acl_denied"},
        retry=RetryPolicy(max_attempts=5, on=tuple(FailureClass), initial_ms=1),
    ),
)

# an output that never validates: retried, never committed
MALFORMED = workflow(
    "malformed_outputs",
    text_step("bad", "malformed", retry=FAST_RETRY),
    text_step("never", needs=("bad",)),
)

# Baton's own timeout, retried by Baton's policy (Temporal retries nothing)
TIMEOUTS = workflow(
    "timeouts",
    sleeper(
        "slowpoke",
        30,
        timeout_ms=700,
        retry=RetryPolicy(max_attempts=2, on=(FailureClass.TIMEOUT,), initial_ms=1),
    ),
)

# on a worker with one activity slot, HOG's attempt keeps QUEUED's waiting past its timeout
HOG = workflow("hog", sleeper("hog", 3, timeout_ms=20_000))
QUEUED = workflow("queued", text_step("starved", timeout_ms=800))

# a review after validation, a skipped branch, a skip that propagates
REVIEWED = workflow(
    "reviewed",
    text_step("draft", approval=Approval("manager", ApprovalStage.AFTER)),
    text_step(
        "branch",
        needs=("draft",),
        condition=Template("inputs.topic == 'never'", is_expression=True),
    ),
    text_step("after_branch", needs=("branch",)),
    text_step("final", needs=("draft",), input={"text": "{{ steps.draft.output.text }}"}),
    result="final",
)

# a sub-workflow step: `child` runs workflow `inner` as a child run
INNER = workflow(
    "inner",
    text_step("condense", input={"text": "short {{ inputs.topic }}"}),
    result="condense",
)
PARENT = workflow(
    "parent",
    text_step("start"),
    Step(
        "child",
        "parent.yaml:9",
        workflow="inner",
        needs=("start",),
        input={"topic": "{{ steps.start.output.text }}"},
        output=TEXT,
    ),
    text_step("after", needs=("child",), input={"text": "{{ steps.child.output.text }}"}),
    result="after",
)

# sequential sleeps: a worker can be killed while the middle one runs
SLOW = workflow(
    "slow",
    sleeper("first", 0.2),
    sleeper("middle", 1.5, needs=("first",), effect=Effect.EXTERNAL),
    sleeper("last", 0.2, needs=("middle",)),
    result="last",
)

# parallel sleeps: more than one worker's share at once
WIDE = workflow(
    "wide",
    *(sleeper(f"w{index}", 0.6) for index in range(8)),
    text_step("join", needs=tuple(f"w{index}" for index in range(8))),
    result="join",
)

# run-time delegation: `boss` may delegate to `helper`; `rogue` may delegate to nobody


def boss(req: Request[Any]) -> dict[str, str]:
    """Asks `helper` (allowed by the roster), then answers with what it said."""
    said = req.delegate("helper", {"text": f"help with {req.input['text']}"}, output="text@1")
    return {"text": f"boss: {said['text']}"}


def rogue(req: Request[Any]) -> dict[str, str]:
    """Tries to delegate to `outsider` (not allowed), swallows the refusal, carries on."""
    with contextlib.suppress(AgentFailure):
        req.delegate("outsider", {"text": "psst"}, output="text@1")
    return {"text": "carried on"}


DELEGATION_AGENTS = (
    *AGENTS,
    AgentBinding("boss", AgentKind.PYTHON, "tb_workflows:boss", delegates_to=("helper",)),
    AgentBinding("helper", AgentKind.BUILTIN, "echo"),
    AgentBinding("rogue", AgentKind.PYTHON, "tb_workflows:rogue"),
    AgentBinding("outsider", AgentKind.BUILTIN, "echo"),
)
DELEGATING = workflow(
    "delegating",
    text_step("ask", "boss"),
    text_step("after", needs=("ask",), input={"text": "{{ steps.ask.output.text }}"}),
    result="after",
    agents=DELEGATION_AGENTS,
)
DENIED = workflow("denied", text_step("sneak", "rogue"), agents=DELEGATION_AGENTS)

# retries exhausted with agent_error: the first fallback listing it (`backup`) commits
FALLBACK = workflow(
    "fallback",
    text_step(
        "research",
        "fail",
        input={"text": "{{ inputs.topic }}"},
        retry=FAST_RETRY,
        fallbacks=(
            Fallback(on=(FailureClass.RATE_LIMITED,), agent="fail"),
            Fallback(on=(FailureClass.AGENT_ERROR, FailureClass.TIMEOUT), agent="backup"),
        ),
    ),
    text_step("summary", needs=("research",), input={"text": "{{ steps.research.output.text }}!"}),
    agents=(*AGENTS, AgentBinding("backup", AgentKind.BUILTIN, "echo")),
)

# map: `plan` echoes a list of items; `each` runs `flaky` once per item: "a" at once, "b"
# on its second attempt, "c" never (dropped: tolerate 1); output [a, b, null]
PLAN = Handoff(
    "plan", 1, {"type": "object", "required": ["items"], "properties": {"items": {"type": "array"}}}
)


def _mapped(name: str, concurrency: int) -> Workflow:
    items = [
        {"succeed_on_attempt": attempt, "output": {"text": f"{text} {{{{ inputs.topic }}}}"}}
        for text, attempt in (("a", 1), ("b", 2), ("c", 9), ("d", 1))
    ]
    return workflow(
        name,
        text_step("plan", input={"items": items}, output=PLAN),
        text_step(
            "each",
            "flaky",
            needs=("plan",),
            input="{{ item }}",
            retry=FAST_RETRY,
            map=Map(
                Template("steps.plan.output.items", is_expression=True),
                "item",
                max_concurrency=concurrency,
                tolerate=1,
            ),
        ),
        text_step(
            "summary",
            needs=("each",),
            input={"text": "{{ steps.each.output[1].text }} of {{ steps.each.output | length }}"},
        ),
        result="summary",
    )


MAPPED = _mapped("mapped", 1)  # one item at a time: the same event order on both backends
MAPPED_WIDE = _mapped("mapped_wide", 3)

WORKFLOWS = {
    w.name: w
    for w in (
        FANOUT,
        FAILING,
        NOT_RETRIED,
        MALFORMED,
        TIMEOUTS,
        REVIEWED,
        INNER,
        PARENT,
        SLOW,
        WIDE,
    )
}


def costly(req: Request[Any]) -> dict[str, Any]:
    """Reports usage, as a model would: `{"text", "tokens", "usd"}` in, `{"text"}` out."""
    data = req.input
    usage = {"tokens_in": int(data["tokens"]), "cost_usd": float(data["usd"])}
    return {"output": {"text": data["text"]}, "usage": usage}


def _costly_step(step_id: str, **fields: object) -> Step:
    fields.setdefault("input", {"text": step_id, "tokens": 1000, "usd": 0.015})
    return text_step(step_id, "costly", **fields)


# the run may spend $0.02 (enforced), `costly` 1500 tokens (audited): `c` waits for a raise
BUDGETED = dataclasses.replace(
    workflow(
        "budgeted",
        _costly_step("a"),
        _costly_step("b", needs=("a",)),
        _costly_step("c", needs=("b",)),
        result="c",
        agents=(
            *AGENTS,
            AgentBinding(
                "costly",
                AgentKind.PYTHON,
                "tb_workflows:costly",
                budget=Budget(tokens=1500, mode=BudgetMode.AUDIT),
            ),
        ),
    ),
    budget=Budget(usd=0.02),
)


# review loops (runtime.core.review): the reviewer (echo) fails round 1 and passes round 2
VERDICT = Handoff(
    "verdict",
    1,
    {
        "type": "object",
        "required": ["verdict", "notes"],
        "additionalProperties": False,
        "properties": {"verdict": {"enum": ["pass", "fail"]}, "notes": {"type": "string"}},
    },
)


def _review_loop(name: str, passing_round: int, on_exhausted: OnExhausted) -> Workflow:
    review = Review(
        by="echo",
        output=VERDICT,
        pass_when=Template("review.verdict == 'pass'", is_expression=True),
        feedback=Template("{{ review.notes }}"),
        input={
            "verdict": f"{{{{ 'pass' if round == {passing_round} else 'fail' }}}}",
            "notes": "round {{ round }}: more on {{ output.text }}",
        },
        max_rounds=2,
        on_exhausted=on_exhausted,
        escalate_to="manager" if on_exhausted is OnExhausted.ESCALATE else None,
    )
    return workflow(
        name,
        text_step(
            "research",
            "flaky",
            input={"succeed_on_attempt": 1, "output": {"text": "t"}},
            review=review,
        ),
        text_step(
            "summary", needs=("research",), input={"text": "{{ steps.research.output.text }}!"}
        ),
        result="summary",
    )


REVIEW_LOOP = _review_loop("review_loop", 2, OnExhausted.FAIL)
# never passes: escalated to a manager after two rounds
REVIEW_LOOP_ESCALATED = _review_loop("review_loop_escalated", 3, OnExhausted.ESCALATE)
