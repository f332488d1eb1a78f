"""A review loop's reviewer attempt, as both backends run it (runtime.core.review).

The reviewer runs as the step's agent would, in its place: its input is the review's
`input:` (default `{output: <the output under review>}`), its output is validated
against the review's handoff, and its verdict is judged (`pass_when`, `feedback`) in
the same worker, so the driver only records the events `review_events` makes of it.
A reviewer never delegates at run time and has no fallbacks, retries or quality bar.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

from baton.runtime.core.commands import StartAttempt
from baton.runtime.core.outcome import AttemptOutcome
from baton.runtime.core.review import judged
from baton.runtime.driver.attempt import CallAgent, execute_attempt
from baton.runtime.model import JSON, Step, Workflow

DEFAULT_INPUT = {"output": "{{ output }}"}


def reviewer_step(step: Step) -> Step:
    """`step` as its reviewer runs it."""
    review = step.review
    assert review is not None, "a reviewer attempt of a step without `review:`"
    # called as the step's agent is: in its place at the end of the step's chain
    chain = step.delegation_chain
    if chain and chain[-1] == step.agent:
        chain = (*chain[:-1], review.by)
    return dataclasses.replace(
        step,
        agent=review.by,
        workflow=None,
        input=review.input if review.input is not None else DEFAULT_INPUT,
        output=review.output,
        templates=(),
        prompt=None,
        quality=None,
        fallbacks=(),
        review=None,
        delegation_chain=chain,
        description=f"Review the output of step '{step.id}'"
        + (f" ({step.description.strip()})" if step.description else ""),
    )


def execute_review(
    workflow: Workflow,
    step: Step,
    command: StartAttempt,
    run_id: str,
    scope: dict[str, JSON],
    call_agent: CallAgent,
    untrusted: Collection[str] | None,
) -> AttemptOutcome:
    """Call the reviewer of round `command.review`; its outcome, judged."""
    reviewer = reviewer_step(step)
    plain = dataclasses.replace(command, review=0, history=(), feedback=())
    outcome = execute_attempt(
        workflow,
        reviewer,
        plain,
        run_id,
        scope,
        call_agent,
        untrusted=untrusted,
    )
    return judged(step, command.review, outcome, scope)
