"""What an approver sees besides the subject of a gate: the review loop's verdicts
(from the run's log) and an llm step's rendered prompt. Both are untrusted agent text:
plain data here, escaped by the templates."""

from __future__ import annotations

from collections.abc import Sequence

from baton.runtime.core.decide import steps_by_id
from baton.runtime.core.state import RunState
from baton.runtime.model import JSON, Workflow

REVIEW_OUTCOMES = {
    "review_passed": "passed",
    "revision_requested": "revision requested",
    "review_exhausted": "exhausted",
}


def reviews_of(events: Sequence[dict[str, JSON]], step: str) -> list[dict[str, JSON]]:
    """The review verdicts of `step`'s review loop, oldest first: round, reviewer (the
    agent its `review_started` called), outcome, verdict, feedback. Untrusted: the
    reviewer is an agent, so the templates escape all of it."""
    reviewer: dict[JSON, JSON] = {}
    found: list[dict[str, JSON]] = []
    for event in events:
        data = event.get("data")
        if event.get("step") != step or not isinstance(data, dict):
            continue
        kind = event.get("type")
        if kind == "review_started":
            reviewer[data.get("round")] = data.get("agent")
        elif isinstance(kind, str) and kind in REVIEW_OUTCOMES:
            found.append(
                {
                    "round": data.get("round"),
                    "reviewer": reviewer.get(data.get("round")),
                    "outcome": REVIEW_OUTCOMES[kind],
                    "verdict": data.get("verdict"),
                    "feedback": data.get("feedback"),
                }
            )
    return found


def rendered_prompt(state: RunState, step: str, workflow: Workflow | None) -> str | None:
    """`step`'s `prompt:` rendered as `rendered_input` renders its input (the same
    scope, untrusted values sanitized the same way); None without a prompt, or when
    it cannot be rendered (the input says why)."""
    found = steps_by_id(workflow).get(step) if workflow is not None else None
    if workflow is None or found is None or found.prompt is None:
        return None
    from baton.runtime.driver.attempt import render_prompt
    from baton.runtime.render import RenderError
    from baton.runtime.taint import untrusted_paths

    tainted = [name for name, record in state.steps.items() if record.untrusted_sources]
    try:
        return render_prompt(workflow, found, state.scope(), untrusted_paths(workflow, tainted))
    except RenderError:
        return None
