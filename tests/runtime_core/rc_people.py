"""Workflows of the runtime tests of gates over time (`baton run rc_people:NAME`):
approvals bound to what was shown, approval timeouts and escalation.

`RC_PEOPLE_VARIANT` (read at import) changes what the gated step of `BOUND` renders,
as an edited template would: a run resumed under another variant would give the step
another input than the one its approver was shown.
"""

from __future__ import annotations

import os

from rc_workflows import text_step, workflow

from baton.runtime.model import Approval, ApprovalStage, Workflow

VARIANT = os.environ.get("RC_PEOPLE_VARIANT", "a")

BOUND = workflow(
    "bound",
    text_step("fetch"),
    text_step(
        "deliver",
        needs=("fetch",),
        input={"text": f"{{{{ steps.fetch.output.text }}}} [{VARIANT}]"},
        approval=Approval("manager"),
    ),
    text_step("summary", needs=("deliver",), input={"text": "{{ steps.deliver.output.text }}!"}),
    result="summary",
)

# stage after: the approver sees the output
BOUND_AFTER = workflow(
    "bound_after",
    text_step("draft", approval=Approval("manager", ApprovalStage.AFTER)),
    result="draft",
)


def _timed(name: str, approval: Approval) -> Workflow:
    return workflow(
        name,
        text_step("fetch"),
        text_step("deliver", needs=("fetch",), approval=approval),
        result="deliver",
    )


# no decision within 1 s: rejected
TIMEOUT_REJECT = _timed("timeout_reject", Approval("manager", timeout_ms=1000))
# no decision within 1 s: the ceo is asked (for 1 s more, then it is rejected)
TIMEOUT_ESCALATE = _timed(
    "timeout_escalate",
    Approval("manager", timeout_ms=1000, on_timeout="escalate", escalate_to="ceo"),
)
