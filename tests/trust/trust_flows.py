"""Workflows and python agents for the trust tests, run as `baton run trust_flows:NAME`
(the tests put this directory on PYTHONPATH) or through `runtime.api` in-process.

`relay` is a python agent that delegates along `input.chain` (each delegate relays
the rest of the chain); `echo` (builtin) ends a chain by returning its input. Builtin
agents append every call to `BATON_LEDGER`, which the tests read to count calls.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from baton.runtime.agents import AgentFailure
from baton.runtime.model import (
    AgentBinding,
    AgentKind,
    Approval,
    FailureClass,
    Handoff,
    Quality,
    QualityCheck,
    Request,
    RetryPolicy,
    Step,
    Template,
    Usage,
    Workflow,
)

HERE = Path(__file__).resolve().parent

NOTE = Handoff(
    "note",
    1,
    {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}},
)
STRICT = Handoff(
    "strict",
    1,
    {
        "type": "object",
        "required": ["verdict"],
        "additionalProperties": False,
        "properties": {"verdict": {"enum": ["pass", "fail"]}},
    },
)
INPUTS = {
    "type": "object",
    "properties": {
        "topic": {"type": "string"},
        "chain": {"type": "array", "items": {"type": "string"}},
        "history": {"type": "string", "x-baton-trust": "untrusted"},
        "messages": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"text": {"type": "string", "x-baton-trust": "untrusted"}},
            },
        },
    },
}
RETRY_ALL = RetryPolicy(
    max_attempts=3,
    on=(FailureClass.AGENT_ERROR, FailureClass.MALFORMED_OUTPUT, FailureClass.TIMEOUT),
    initial_ms=1,
    max_ms=5,
)
COMMAND = (sys.executable, str(HERE / "trust_command_agent.py"))

AGENTS = (
    AgentBinding("lead", AgentKind.PYTHON, "trust_flows:relay", ("middle", "helper", "commander")),
    AgentBinding("middle", AgentKind.PYTHON, "trust_flows:relay", ("deep", "lead", "helper")),
    AgentBinding("deep", AgentKind.PYTHON, "trust_flows:relay", ("deeper",)),
    AgentBinding("deeper", AgentKind.BUILTIN, "echo"),
    AgentBinding("helper", AgentKind.BUILTIN, "echo"),
    AgentBinding("outsider", AgentKind.BUILTIN, "echo"),
    AgentBinding("commander", AgentKind.COMMAND, COMMAND, ("helper",)),
    AgentBinding("echo", AgentKind.BUILTIN, "echo"),
    AgentBinding("scorer", AgentKind.PYTHON, "trust_flows:improving"),
    AgentBinding(
        "priced",
        AgentKind.PYTHON,
        "trust_flows:priced",
        input_price_per_mtok=3.0,
        output_price_per_mtok=15.0,
    ),
    AgentBinding("flaky", AgentKind.BUILTIN, "flaky"),
)


def workflow(name: str, *steps: Step, **extra: Any) -> Workflow:
    done: set[str] = set()
    generations = []
    remaining = list(steps)
    while remaining:
        ready = tuple(s.id for s in remaining if set(s.needs) <= done)
        generations.append(ready)
        done |= set(ready)
        remaining = [s for s in remaining if s.id not in done]
    extra.setdefault("max_delegation_depth", 3)
    return Workflow(
        name=name,
        version=1,
        spec_path=f"{name}.yaml",
        spec_sha256="0" * 64,
        steps=steps,
        generations=tuple(generations),
        inputs_schema=INPUTS,
        agents=AGENTS,
        approvers=(("manager", ("alice",)),),
        owner="lead",
        handoffs=(NOTE, STRICT),
        **extra,
    )


def relay_step(step_id: str = "main", agent: str = "lead", **fields: Any) -> Step:
    fields.setdefault("retry", RETRY_ALL)
    return Step(
        id=step_id,
        spec=f"trust.yaml:{step_id}",
        agent=agent,
        input={
            "chain": "{{ inputs.chain }}",
            "text": "{{ inputs.topic }}",
            "output": "{{ inputs.output | default('note@1') }}",
            "catch": "{{ inputs.catch | default(false) }}",
        },
        output=NOTE,
        delegation_chain=(agent,),
        timeout_ms=20_000,
        **fields,
    )


# -- workflows

DELEGATING = workflow("delegating", relay_step())
SHALLOW = workflow("shallow", relay_step(), max_delegation_depth=2)
COMMANDING = workflow("commanding", relay_step(agent="commander"))

# an approval gate between the producer and the consumer: the run can be stopped there
GATED = workflow(
    "gated",
    Step(
        id="produce",
        spec="trust.yaml:produce",
        agent="echo",
        input={"text": "{{ inputs.topic }}"},
        output=NOTE,
    ),
    Step(
        id="consume",
        spec="trust.yaml:consume",
        agent="echo",
        needs=("produce",),
        input={"text": "got {{ steps.produce.output.text }}"},
        output=NOTE,
        approval=Approval("manager"),
    ),
)

# untrusted input rendered into an echo agent's input, then into the next step's
TAINTED = workflow(
    "tainted",
    Step(
        id="read",
        spec="trust.yaml:read",
        agent="echo",
        input={
            "text": "Summarize: {{ inputs.history }}",
            "first": "{{ inputs.messages[0].text }}",
            "topic": "{{ inputs.topic }}",
        },
        output=NOTE,
    ),
    Step(
        id="write",
        spec="trust.yaml:write",
        agent="echo",
        needs=("read",),
        input={"text": "{{ steps.read.output.text }}", "topic": "{{ inputs.topic }}"},
        output=NOTE,
    ),
    Step(
        id="clean",
        spec="trust.yaml:clean",
        agent="echo",
        input={"text": "{{ inputs.topic }}"},
        output=NOTE,
    ),
    untrusted_token_budget=50,
)

# an output below its quality bar is malformed_output and retried
QUALITY = workflow(
    "quality",
    Step(
        id="score",
        spec="trust.yaml:score",
        agent="scorer",
        input={"topic": "{{ inputs.topic }}"},
        output=NOTE,
        retry=RETRY_ALL,
        quality=Quality(
            min_score=0.5,
            checks=(
                QualityCheck(Template("output.notes is defined", is_expression=True), 2.0),
                QualityCheck(Template("output.text | length > 0", is_expression=True), 1.0),
            ),
        ),
    ),
)

# tokens priced by the roster, a retry, and a delegation: for spans, logs and totals
OBSERVED = workflow(
    "observed",
    Step(
        id="first",
        spec="trust.yaml:first",
        agent="flaky",
        input={"output": {"text": "{{ inputs.topic }}"}, "succeed_on_attempt": 2},
        output=NOTE,
        retry=RETRY_ALL,
    ),
    Step(
        id="second",
        spec="trust.yaml:second",
        agent="priced",
        needs=("first",),
        input={"text": "{{ steps.first.output.text }}"},
        output=NOTE,
    ),
    relay_step("third", needs=("second",)),
)


# -- agents


def relay(req: Request[Any]) -> Any:
    """Delegate along `input.chain`; `catch` swallows a refusal and answers anyway;
    `crash_marker` makes the process SIGKILL itself once, right after delegating."""
    data = dict(req.input)
    chain = list(data.get("chain") or [])
    if not chain:
        return {"text": data.get("text", "")}
    first, rest = chain[0], chain[1:]
    try:
        out = req.delegate(first, {**data, "chain": rest}, output=data.get("output", "note@1"))
    except AgentFailure:
        if data.get("catch"):
            return {"text": "carried on regardless"}
        raise
    marker = data.get("crash_marker") or os.environ.get("TRUST_CRASH_MARKER")
    if marker and not Path(marker).exists():
        Path(marker).write_text("crashed once")
        os.kill(os.getpid(), signal.SIGKILL)
    counter = os.environ.get("TRUST_RELAY_CALLS")
    if counter:
        with Path(counter).open("a") as handle:
            handle.write(f"{req.step}#{req.attempt}\n")
    return {"text": f"{req.delegation_chain[-1]} relayed: {out['text']}"}


def improving(req: Request[Any]) -> Any:
    """Attempt 1 answers without `notes` (quality 1/3), later attempts with them."""
    if req.attempt == 1:
        return {"text": "draft"}
    return {"text": "final", "notes": "checked"}


def priced(req: Request[Any]) -> Any:
    """Reports tokens but no cost: the roster's prices make the cost."""
    from baton.runtime.agents import AgentReply

    return AgentReply({"text": f"priced {req.input['text']}"}, Usage(1000, 200))


def refuse(req: Request[Any]) -> Any:
    raise AgentFailure(FailureClass.AGENT_ERROR, "no")
