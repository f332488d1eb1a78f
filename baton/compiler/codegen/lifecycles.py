"""Which lifecycle triggers apply to a step, and the typed stub class that declares them.

The step state machine is the runtime's (runtime/lifecycle.py, on `transitions`). A
generated module declares, per distinct trigger set, a `StepLifecycle` subclass with one
typed stub per trigger; the runtime builds the machine with `model_override=True`, which
binds the real trigger over each stub and adds nothing else. So `mypy --strict` knows
every trigger a step has, and a trigger a step does not have does not exist on it.
"""

from __future__ import annotations

from baton.compiler import ir
from baton.compiler.codegen.layout import INDENT
from baton.compiler.codegen.sections import docstring
from baton.compiler.codegen.stepdefs import can_retry

# the runtime's trigger table order (runtime/lifecycle.py TRANSITIONS); a test keeps
# this in step with runtime.applicable_triggers
TRIGGERS = (
    "request_approval",
    "start",
    "validate",
    "schedule_retry",
    "request_review",
    "commit",
    "fail",
    "skip",
    "cancel",
)


def triggers_for(step: ir.Step) -> tuple[str, ...]:
    """The lifecycle triggers that apply to a step (runtime.applicable_triggers)."""
    stage = step.approval.stage if step.approval else None
    excluded = set()
    if stage != "before":
        excluded.add("request_approval")
    if stage != "after":
        excluded.add("request_review")
    if not can_retry(step):
        excluded.add("schedule_retry")
    return tuple(t for t in TRIGGERS if t not in excluded)


def lifecycle_class(triggers: tuple[str, ...]) -> str:
    """A name for the lifecycle of steps with these triggers.

    >>> lifecycle_class(("start",)), lifecycle_class(("request_review", "schedule_retry"))
    ('PlainLifecycle', 'ReviewRetryLifecycle')
    """
    parts = [
        word
        for trigger, word in (
            ("request_approval", "Approval"),
            ("request_review", "Review"),
            ("schedule_retry", "Retry"),
        )
        if trigger in triggers
    ]
    return "".join(parts or ["Plain"]) + "Lifecycle"


def lifecycle_body(triggers: tuple[str, ...]) -> list[str]:
    """The class body: a docstring and one stub per trigger, replaced at run time."""
    body = [docstring(f"The lifecycle of steps with triggers: {', '.join(triggers)}.")]
    for trigger in triggers:
        body += [
            "",
            f"{INDENT}def {trigger}(self) -> bool:",
            f"{INDENT * 2}raise NotImplementedError",
        ]
    return body
