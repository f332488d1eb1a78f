"""Workflows of the Temporal tests of people and failures over time (`tb_people:NAME`):
redrive (`baton retry`), approvals bound to what was shown, approval timeouts.

`until_fixed` fails until the file its input names exists (an absolute path, from the
run's input): the cause someone fixes before `baton retry`. It appends each call to
that path + `.ledger` (the in-process worker has no `BATON_LEDGER`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tb_workflows import AGENTS, FAST_RETRY, text_step, workflow

from baton.runtime.model import AgentBinding, AgentKind, Approval, Request, Workflow


def until_fixed(request: Request[Any]) -> dict[str, Any]:
    marker = Path(str(request.input["marker"]))
    line = {"step": request.step, "attempt": request.attempt, "key": request.idempotency_key}
    with open(f"{marker}.ledger", "a") as ledger:
        ledger.write(json.dumps(line) + "\n")
    if not marker.exists():
        raise RuntimeError(f"{marker.name} is missing")
    return {"output": {"text": f"{request.step} fixed"}}


UNTIL_FIXED = AgentBinding("until_fixed", AgentKind.PYTHON, "tb_people:until_fixed")

# `fetch` commits; `left` fails (3 attempts) until the marker exists; `summary` needs it
REDRIVE = workflow(
    "tb_redrive",
    text_step("fetch"),
    text_step(
        "left",
        "until_fixed",
        needs=("fetch",),
        input={"marker": "{{ inputs.topic }}"},
        retry=FAST_RETRY,
    ),
    text_step(
        "summary",
        needs=("left",),
        input={"text": "{{ steps.fetch.output.text }}|{{ steps.left.output.text }}"},
    ),
    result="summary",
    agents=(*AGENTS, UNTIL_FIXED),
)

# a gate before `deliver`: its subject is the rendered input
BOUND = workflow(
    "tb_bound",
    text_step("fetch"),
    text_step(
        "deliver",
        needs=("fetch",),
        input={"text": "{{ steps.fetch.output.text }}+d"},
        approval=Approval("manager"),
    ),
    result="deliver",
)


def _timed(name: str, approval: Approval) -> Workflow:
    return workflow(
        name,
        text_step("fetch"),
        text_step("deliver", needs=("fetch",), approval=approval),
        result="deliver",
    )


# no decision within 1 s: rejected; or the ceo is asked (1 s more, then rejected)
TIMEOUT_REJECT = _timed("tb_timeout_reject", Approval("manager", timeout_ms=1000))
TIMEOUT_ESCALATE = _timed(
    "tb_timeout_escalate",
    Approval("manager", timeout_ms=1000, on_timeout="escalate", escalate_to="ceo"),
)
