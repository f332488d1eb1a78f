"""A review loop's reviewer attempt, as both backends run it (runtime.core.review).

The reviewer runs as the step's agent would, in its place: its input is the review's
`input:` (default `{output: <the output under review>}`), its output is validated
against the review's handoff, and its verdict is judged (`pass_when`, `feedback`) in
the same worker, so the driver only records the events `review_events` makes of it.
A reviewer never delegates at run time and has no fallbacks, retries or quality bar.

Taint: the output under review is untrusted where the step's output is (the producer
received untrusted data), so the reviewer's input renders it sanitized and wrapped. A
reviewer whose input (or tools) carried untrusted data may have been steered by it:
its feedback is sanitized and wrapped as `<untrusted source="review.STEP">` before it
is recorded, so the producer's next round gets it as untrusted text, and the revised
output is tainted by it (runtime.driver.attempt reads the wrapper back).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

from baton.runtime.core.commands import StartAttempt
from baton.runtime.core.outcome import AttemptOutcome
from baton.runtime.core.review import judged
from baton.runtime.driver.attempt import CallAgent, execute_attempt
from baton.runtime.model import JSON, Step, Workflow
from baton.runtime.sanitize import sanitize
from baton.runtime.taint import untrusted_paths

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
    paths = untrusted_paths(workflow) if untrusted is None else tuple(untrusted)
    outcome = execute_attempt(
        workflow,
        reviewer,
        plain,
        run_id,
        scope,
        call_agent,
        untrusted=(*paths, *under_review(step.id, paths)),
    )
    outcome = judged(step, command.review, outcome, scope)
    facts = outcome.review or {}
    feedback = facts.get("feedback")
    if outcome.untrusted_sources and isinstance(feedback, str):
        wrapped = sanitize(feedback_source(step.id), feedback, workflow.untrusted_token_budget)
        outcome = dataclasses.replace(outcome, review={**facts, "feedback": wrapped})
    return outcome


def feedback_source(step_id: str) -> str:
    """The untrusted source a tainted reviewer's feedback is wrapped as."""
    return f"review.{step_id}"


def under_review(step_id: str, paths: Collection[str]) -> tuple[str, ...]:
    """The reviewer's scope name `output` is the step's output: untrusted where it is.

    >>> under_review("research", ["inputs.h", "steps.research.output", "steps.x.output"])
    ('output',)
    >>> under_review("research", ["steps.research.output.sources.*.text"])
    ('output.sources.*.text',)
    """
    own = f"steps.{step_id}.output"
    return tuple(
        "output" + path[len(own) :] for path in paths if path == own or path.startswith(own + ".")
    )
