"""Workflows built by hand for the runtime tests, run as `baton run rc_workflows:NAME`.

They use only builtin agents (`echo`, `flaky`, `fail`, `malformed`, `sleep`), which
append every call to the `BATON_LEDGER` file: the tests read it to count agent calls.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

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
    OnExhausted,
    Request,
    RetryPolicy,
    Review,
    Step,
    Template,
    Tool,
    ToolKind,
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
    "properties": {"topic": {"type": "string", "minLength": 1}, "n": {"type": "integer"}},
}
AGENTS = tuple(
    AgentBinding(name, AgentKind.BUILTIN, name)
    for name in ("echo", "flaky", "fail", "malformed", "sleep")
)
APPROVERS = (("manager", ("alice", "bob")), ("ceo", ("carol",)))
FAST_RETRY = RetryPolicy(
    max_attempts=3,
    on=(FailureClass.AGENT_ERROR, FailureClass.MALFORMED_OUTPUT, FailureClass.TIMEOUT),
    initial_ms=1,
    max_ms=5,
)


def workflow(name: str, *steps: Step, result: str | None = None, **extra: object) -> Workflow:
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
        approvers=APPROVERS,
        result=result,
        **{"agents": AGENTS, **extra},  # type: ignore[arg-type]
    )


def text_step(step_id: str, agent: str = "echo", **fields: object) -> Step:
    """A step whose agent answers `{"text": ...}` (echo and friends return their input)."""
    fields.setdefault("input", {"text": f"{step_id}: {{{{ inputs.topic }}}}"})
    fields.setdefault("output", TEXT)
    return Step(step_id, f"{step_id}.yaml:1", agent=agent, **fields)  # type: ignore[arg-type]


# The crash-safety workflow: a fan-out, a retried step, an approval-gated external
# effect, a result. Small enough to kill at every event boundary.
CRASH = workflow(
    "crashy",
    text_step("fetch"),
    text_step(
        "left",
        "flaky",
        needs=("fetch",),
        input={"succeed_on_attempt": 2, "output": {"text": "{{ steps.fetch.output.text }}+l"}},
        retry=FAST_RETRY,
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

# Three sequential steps that each sleep: long enough for two resumers to overlap.
SLOW = workflow(
    "slow",
    *(
        text_step(
            f"s{i}",
            "sleep",
            needs=(f"s{i - 1}",) if i else (),
            input={"seconds": 0.3, "output": {"text": f"s{i}"}},
        )
        for i in range(3)
    ),
    result="s2",
)

# One step that sleeps far longer than any test: something to cancel while it runs.
LONG = workflow(
    "long",
    text_step(
        "nap", "sleep", input={"seconds": 60, "output": {"text": "late"}}, timeout_ms=120_000
    ),
    text_step("after", needs=("nap",)),
)

# A chain longer than the stored state's least rewrite interval (128 events): its row
# is rewritten once per 150 events (driver.journal), the crash test's boundaries.
CHAIN_150 = workflow(
    "chain_150",
    *(
        text_step(f"s{i}", needs=(f"s{i - 1}",) if i else (), input={"text": f"s{i}"})
        for i in range(150)
    ),
    result="s149",
)

# A gate after validation (review), a skipped branch, a skip that propagates.
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

# A step that never produces a valid output, and one that is never retried.
MALFORMED = workflow(
    "malformed_outputs",
    text_step("bad", "malformed", retry=FAST_RETRY),
    text_step("never", needs=("bad",)),
)
NOT_RETRIED = workflow(
    "not_retried",
    text_step(
        "rejected_class",
        "fail",
        input={"failure": "acl_denied"},
        retry=RetryPolicy(max_attempts=5, on=tuple(FailureClass), initial_ms=1),
    ),
)

# A sub-workflow step: `child` runs workflow `inner` as a child run.
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


def costly(request: Request[Any]) -> dict[str, Any]:
    """A python agent that reports usage, as a model would: its input says how much
    (`{"text", "tokens", "usd"}`); it answers `{"text"}` and appends to the ledger."""
    path = os.environ.get("BATON_LEDGER")
    if path:
        line = {
            "agent": "costly",
            "step": request.step,
            "attempt": request.attempt,
            "idempotency_key": request.idempotency_key,
            "run_id": request.run_id,
        }
        with open(path, "a") as ledger:
            ledger.write(json.dumps(line, sort_keys=True) + "\n")
    data = request.input
    usage = {"tokens_in": int(data.get("tokens", 0)), "cost_usd": float(data.get("usd", 0.0))}
    return {"output": {"text": data["text"]}, "usage": usage}


def costly_agent(budget: Budget | None = None, name: str = "costly") -> AgentBinding:
    return AgentBinding(name, AgentKind.PYTHON, "rc_workflows:costly", budget=budget)


def costly_step(step_id: str, tokens: int, usd: float, **fields: object) -> Step:
    fields.setdefault("input", {"text": step_id, "tokens": tokens, "usd": usd})
    return text_step(step_id, str(fields.pop("agent", "costly")), **fields)


# Budgets: the run may spend $0.02 (enforced); `costly`'s share is audited at 1500
# tokens. `a` and `b` spend $0.015 and 1000 tokens each: `c` finds both caps crossed,
# so the run waits (and the audit is recorded) until the run's budget is raised.
BUDGETED = workflow(
    "budgeted",
    costly_step("a", 1000, 0.015),
    costly_step("b", 1000, 0.015, needs=("a",)),
    costly_step("c", 1000, 0.015, needs=("b",)),
    text_step("d", needs=("c",), input={"text": "{{ steps.c.output.text }}!"}),
    result="d",
    budget=Budget(usd=0.02),
    agents=(*AGENTS, costly_agent(Budget(tokens=1500, mode=BudgetMode.AUDIT))),
)


def until_fixed(request: Request[Any]) -> dict[str, Any]:
    """A python agent that fails until the file its input names (`marker`, relative to
    the working directory) exists: a cause someone fixes, then `baton retry`. Appends
    every call to the ledger."""
    path = os.environ.get("BATON_LEDGER")
    if path:
        line = {
            "agent": "until_fixed",
            "step": request.step,
            "attempt": request.attempt,
            "idempotency_key": request.idempotency_key,
            "run_id": request.run_id,
        }
        with open(path, "a") as ledger:
            ledger.write(json.dumps(line, sort_keys=True) + "\n")
    if not Path(str(request.input["marker"])).exists():
        raise RuntimeError(f"{request.input['marker']} is missing")
    return {"output": {"text": f"{request.step} fixed"}}


UNTIL_FIXED = AgentBinding("until_fixed", AgentKind.PYTHON, "rc_workflows:until_fixed")


def fixable_step(step_id: str, marker: str, **fields: object) -> Step:
    fields.setdefault("input", {"marker": marker})
    return text_step(step_id, "until_fixed", **fields)


# Redrive: `fetch` commits, `left` fails (3 attempts) until `left.fixed` exists; `right`
# commits or is cancelled; `deliver` (gated, external) and `summary` are cancelled. A
# step skipped by its condition stays skipped.
REDRIVE = workflow(
    "redrive",
    text_step("fetch"),
    fixable_step("left", "left.fixed", needs=("fetch",), retry=FAST_RETRY),
    text_step("right", needs=("fetch",), input={"text": "{{ steps.fetch.output.text }}+r"}),
    text_step(
        "branch",
        needs=("fetch",),
        condition=Template("inputs.topic == 'never'", is_expression=True),
    ),
    text_step(
        "deliver",
        needs=("left", "right"),
        input={"text": "{{ steps.left.output.text }}|{{ steps.right.output.text }}"},
        effect=Effect.EXTERNAL,
    ),
    text_step("summary", needs=("deliver",), input={"text": "{{ steps.deliver.output.text }}!"}),
    result="summary",
    agents=(*AGENTS, UNTIL_FIXED),
)
# Two steps that fail in parallel, each until its own marker exists (no retries)
TWO_FAIL = workflow(
    "two_fail",
    fixable_step("a", "a.fixed"),
    fixable_step("b", "b.fixed"),
    text_step("join", needs=("a", "b")),
    agents=(*AGENTS, UNTIL_FIXED),
)
WORKFLOWS = {
    w.name: w
    for w in (
        CRASH,
        SLOW,
        LONG,
        REVIEWED,
        MALFORMED,
        NOT_RETRIED,
        INNER,
        PARENT,
        BUDGETED,
        REDRIVE,
        TWO_FAIL,
    )
}


# Fallbacks: `research`'s own agent fails (class chosen by its input) or times out; the
# first fallback listing the class runs the step. `backup` echoes, `backup_fail` fails.
LOOSE = Handoff(
    "loose",
    1,
    {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}},
)
FALLBACK_AGENTS = (
    *AGENTS,
    AgentBinding("backup", AgentKind.BUILTIN, "echo"),
    AgentBinding("backup_fail", AgentKind.BUILTIN, "fail"),
)


def _fallback_workflow(
    name: str, failure: str, fallbacks: tuple[Fallback, ...], agent: str = "fail", **step: Any
) -> Workflow:
    return workflow(
        name,
        text_step(
            "research",
            agent,
            input={"text": "{{ inputs.topic }}", "failure": failure, "seconds": 5},
            output=LOOSE,
            fallbacks=fallbacks,
            **{"retry": FAST_RETRY, **step},
        ),
        text_step(
            "summary", needs=("research",), input={"text": "{{ steps.research.output.text }}!"}
        ),
        result="summary",
        agents=FALLBACK_AGENTS,
    )


# agent_error, 3 attempts: the first entry does not list it, the second takes over
FALLBACK = _fallback_workflow(
    "fallback",
    "agent_error",
    (
        Fallback(on=(FailureClass.RATE_LIMITED,), agent="backup_fail"),
        Fallback(on=(FailureClass.TIMEOUT, FailureClass.AGENT_ERROR), agent="backup"),
    ),
)
# a real timeout (sleep past the step's timeout), no retries: the backup runs at once
FALLBACK_TIMEOUT = _fallback_workflow(
    "fallback_timeout",
    "agent_error",
    (Fallback(on=(FailureClass.TIMEOUT,), agent="backup"),),
    agent="sleep",
    timeout_ms=300,
    retry=RetryPolicy(),
)
# rate_limited is listed by no entry: the step fails as without fallbacks
FALLBACK_UNLISTED = _fallback_workflow(
    "fallback_unlisted",
    "rate_limited",
    (Fallback(on=(FailureClass.TIMEOUT, FailureClass.AGENT_ERROR), agent="backup"),),
)
# the primary times out; the fallback fails with its own class (rate_limited)
FALLBACK_FAILS = _fallback_workflow(
    "fallback_fails",
    "rate_limited",
    (Fallback(on=(FailureClass.TIMEOUT,), agent="backup_fail"),),
    agent="sleep",
    timeout_ms=300,
    retry=RetryPolicy(),
)


# Review loops: `drafter` writes draft N in round N (N = its feedback so far + 1); the
# `auditor` reads the verdict of round N from the run's topic ("fail fail pass": the
# third round passes), its notes name the draft. Both append every call to the ledger.
VERDICT = Handoff(
    "verdict",
    1,
    {
        "type": "object",
        "required": ["verdict", "notes"],
        "additionalProperties": False,
        "properties": {
            "verdict": {"type": "string", "enum": ["pass", "fail"]},
            "notes": {"type": "string"},
        },
    },
)


def _ledger(agent: str, request: Request[Any], **extra: object) -> None:
    path = os.environ.get("BATON_LEDGER")
    if path:
        line = {
            "agent": agent,
            "step": request.step,
            "attempt": request.attempt,
            "idempotency_key": request.idempotency_key,
            "run_id": request.run_id,
            **extra,
        }
        with open(path, "a") as ledger:
            ledger.write(json.dumps(line, sort_keys=True) + "\n")


def drafter(request: Request[Any]) -> dict[str, Any]:
    """Draft N in round N; `flaky_first` in its input: each round's first try fails."""
    _ledger("drafter", request, feedback=list(request.feedback))
    round_ = len(request.feedback) + 1
    return {"output": {"text": f"draft {round_} of {request.input['text']}"}}


def auditor(request: Request[Any]) -> dict[str, Any]:
    """The verdict of the round its draft names, from the list in `verdicts`."""
    _ledger("auditor", request)
    draft = str(request.input["draft"])
    round_ = int(draft.split()[1])
    verdicts = str(request.input["verdicts"]).split()
    verdict = verdicts[min(round_, len(verdicts)) - 1]
    if Path("pass.marker").exists():  # someone fixed the cause (then `baton retry`)
        verdict = "pass"
    return {"output": {"verdict": verdict, "notes": f"fix {draft.split(' of ')[0]}"}}


REVIEW_AGENTS = (
    *AGENTS,
    AgentBinding("drafter", AgentKind.PYTHON, "rc_workflows:drafter"),
    AgentBinding("auditor", AgentKind.PYTHON, "rc_workflows:auditor"),
)


def review_workflow(
    name: str, on_exhausted: OnExhausted = OnExhausted.FAIL, max_rounds: int = 3
) -> Workflow:
    """`research` (drafter, reviewed by the auditor), then `summary` (echo)."""
    review = Review(
        by="auditor",
        output=VERDICT,
        pass_when=Template("review.verdict == 'pass'", is_expression=True),
        feedback=Template("{{ review.notes }}"),
        input={"draft": "{{ output.text }}", "verdicts": "{{ inputs.topic }}"},
        max_rounds=max_rounds,
        on_exhausted=on_exhausted,
        escalate_to="manager" if on_exhausted is OnExhausted.ESCALATE else None,
    )
    return workflow(
        name,
        text_step("research", "drafter", input={"text": "tea"}, output=LOOSE, review=review),
        text_step(
            "summary", needs=("research",), input={"text": "{{ steps.research.output.text }}!"}
        ),
        result="summary",
        agents=REVIEW_AGENTS,
    )


REVIEW = review_workflow("review")
REVIEW_ACCEPT = review_workflow("review_accept", OnExhausted.ACCEPT)
REVIEW_ESCALATE = review_workflow("review_escalate", OnExhausted.ESCALATE)


# -- a model agent's tool call that waits for a person (runtime.core.tool_approvals)

PAID: list[int] = []  # the `pay` tool's side effects, in this process


def pay(amount: int) -> str:
    """Pay an amount (an external effect: every call needs a manager)."""
    PAID.append(amount)
    return f"paid {amount}"


PAY = Tool(
    "pay", ToolKind.PYTHON, "rc_workflows:pay", effect=Effect.EXTERNAL, approval_role="manager"
)
# its adapter is the scripted model of `tool_model`: it never runs as a python agent
TOOLED = AgentBinding("tooled", AgentKind.PYTHON, "rc_workflows:pay", tools=("pay",))


def tool_model(call: Any) -> Any:
    """The driver's `call_agent`: agent `tooled` is a scripted model that asks for one
    call of `pay` through the real toolbox (durable, approved per call), then answers
    with what it was told; every other agent is called as usual."""
    from baton.runtime.agents.envelope import AgentReply
    from baton.runtime.driver.attempt import default_call_agent
    from baton.runtime.tools.toolbox import Toolbox

    if call.binding.name != "tooled":
        return default_call_agent(call)
    toolbox = Toolbox(
        call.tools,
        call.binding,
        call.request,
        call.host,
        call.root,
        decisions=call.tool_decisions,
    )
    try:
        told = toolbox.call(1, "pay", {"amount": len(call.request.step)})
    finally:
        toolbox.close()
    return AgentReply({"text": "paid" if "paid" in told else "refused"})
