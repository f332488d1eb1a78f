"""Review loops (validation loops): a reviewer agent judges a step's output. Pure.

A round is the producer's attempt(s) (its retry policy applies inside the round) and
then the review of the output they validated:

    validated --start_review--> reviewing     `review_started` (the reviewer is called)
    reviewing --end_review----> validated     `review_passed`: on to the commit
                                              `review_exhausted`: fail | accept | escalate
    reviewing --revise--------> retrying      `revision_requested`: the next round
    reviewing --fail----------> failed        after `review_failed` (no usable verdict)

The step's record keeps the loop in `StepRecord.review` (see `progress`). The names are
not the after-stage approval's: that one is `request_review` / `awaiting_review`, which
an `escalate` reuses to ask a person once the rounds are exhausted.

Keys: round 1's producer uses the step's idempotency key, round N > 1 a key derived
from it (each round's output is a new output, stored and committed under its own key);
the reviewer of round N has a key of its own, derived from the step's too. After a
redrive of the run, the loop starts over under keys derived from the redrive's number.

Quality: `score` = (max_rounds - rounds_used + 1) / max_rounds when a review passes
(1.0 in the first round), 0.0 when the rounds were exhausted.
"""

from __future__ import annotations

import json
from typing import Any

from baton.runtime.canonical import attempt_id, checksum
from baton.runtime.core import commands as cmd
from baton.runtime.core import events as ev
from baton.runtime.core.outcome import AttemptOutcome
from baton.runtime.model import JSON, OnExhausted, Step, StepState

S = StepState
REVIEW_EXHAUSTED = "review_exhausted"  # the failure class of an exhausted `fail` loop

# the states of `StepRecord.review["status"]` within a round
OPEN = ""  # the round's output is not reviewed yet
PASSED = "passed"
EXHAUSTED = "exhausted"
FAILED = "failed"


def round_key(step_key: str, round_: int, redrives: int = 0) -> str:
    """The producer's key in round `round_`: the step's own in round 1. After the run's
    `redrives`-th redrive the loop starts over under keys of its own (an output is
    stored once per key: a redriven round 1 must not meet the first run's).

    >>> round_key("k", 1)
    'k'
    >>> round_key("k", 2) == checksum(["k", "round", 2])
    True
    >>> round_key("k", 1, redrives=1) == checksum(["k", "round", 1, "redrive", 1])
    True
    """
    if redrives:
        return checksum([step_key, "round", round_, "redrive", redrives])
    return step_key if round_ <= 1 else checksum([step_key, "round", round_])


def review_key(step_key: str, round_: int, redrives: int = 0) -> str:
    """The reviewer's key in round `round_` (never a producer's)."""
    if redrives:
        return checksum([step_key, "review", round_, "redrive", redrives])
    return checksum([step_key, "review", round_])


def progress(record: Any) -> dict[str, JSON]:
    """A step's review loop so far: `round` (1-based, the round in progress),
    `feedback` (sent back so far, oldest first), `status`, and once reviewed `verdict`,
    `reviewer`; once over `rounds` (used), `score`, and `on_exhausted` if exhausted."""
    review: dict[str, JSON] | None = record.review
    return review if review is not None else {"round": 1, "feedback": [], "status": OPEN}


def score(rounds_used: int, max_rounds: int, passed: bool) -> float:
    """The step's review quality: the share of the round budget left, counting the
    round that passed; 0.0 for an exhausted loop.

    >>> [score(r, 3, True) for r in (1, 2, 3)] + [score(3, 3, False)]
    [1.0, 0.6667, 0.3333, 0.0]
    """
    if not passed or max_rounds < 1:
        return 0.0
    return round((max_rounds - rounds_used + 1) / max_rounds, 4)


# -- decide


def producer_call(state: Any, step_key: str, record: Any) -> tuple[str, tuple[str, ...]]:
    """(key, feedback) of the producer's next attempt in the round in progress."""
    loop = progress(record)
    feedback = tuple(str(f) for f in loop.get("feedback") or ())
    return round_key(step_key, int(loop["round"]), state.redrives), feedback


def revisions(record: Any) -> tuple[dict[str, JSON], ...]:
    """The rounds sent back so far, oldest first, as entries of `StartAttempt.history`:
    {"round", "reply" (the output, as JSON text), "feedback", "errors": []}. An llm
    producer's conversation replays each as its reply and the reviewer's feedback."""
    loop = progress(record)
    pairs = zip(loop.get("replies") or [], loop.get("feedback") or [], strict=False)
    return tuple(
        {"round": index + 1, "reply": reply, "feedback": feedback, "errors": []}
        for index, (reply, feedback) in enumerate(pairs)
    )


def at_validated(
    state: Any, step: Step, record: Any, step_key: str
) -> tuple[bool, cmd.Command | None]:
    """At `validated`: (whether the review loop holds the step, its command). Not held:
    the output passed (or an exhausted loop accepts it): on to the gate or the commit."""
    assert step.review is not None
    loop = progress(record)
    status = loop.get("status")
    if status == OPEN:
        round_ = int(loop["round"])
        key = review_key(step_key, round_, state.redrives)
        return True, cmd.StartAttempt(
            step=step.id,
            attempt=record.attempts,
            idempotency_key=key,
            attempt_id=attempt_id(key, 1),
            external=False,
            agent=step.review.by,
            review=round_,
        )
    if status == EXHAUSTED:
        how = loop.get("on_exhausted")
        rounds = loop.get("rounds")
        if how == OnExhausted.FAIL.value:
            message = f"the review by {step.review.by} did not pass in {rounds} round(s)"
            return True, cmd.FailStep(step.id, REVIEW_EXHAUSTED, message)
        if how == OnExhausted.ESCALATE.value:
            gate = state.gates.get(step.id)
            if gate is not None and gate.get("stage") == "escalation":
                return True, cmd.RequestApproval(step.id, str(gate["role"]), "escalation")
    return False, None


def at_reviewing(
    state: Any, step: Step, record: Any, step_key: str, now_ms: int
) -> tuple[cmd.Command | None, int | None]:
    """At `reviewing`: restart an interrupted review, time it out, or fail the step
    whose reviewer gave no usable verdict; (command, when a deadline falls due)."""
    assert step.review is not None
    loop = progress(record)
    round_ = int(loop["round"])
    if record.attempt_open:
        if record.interrupted:
            key = review_key(step_key, round_, state.redrives)
            return cmd.StartAttempt(
                step=step.id,
                attempt=record.attempts,
                idempotency_key=key,
                attempt_id=attempt_id(key, 1),
                external=False,
                restart=True,
                agent=step.review.by,
                review=round_,
            ), None
        deadline = int(loop.get("started_ms") or 0) + step.timeout_ms
        if now_ms >= deadline:
            return cmd.TimeoutAttempt(step.id, record.attempts, step.timeout_ms, round_), None
        return None, deadline
    if loop.get("status") == FAILED:
        error = record.error or {}
        message = f"the review by {step.review.by} failed: {error.get('message', '')}"
        return cmd.FailStep(step.id, str(error.get("failure", "")), message), None
    return None, None


def live(record: Any, command: cmd.StartAttempt) -> bool:
    """Whether `command`'s attempt (a producer's or a reviewer's) is still the live one:
    its result may be recorded."""
    return (
        record.state is (S.REVIEWING if command.review else S.RUNNING)
        and record.attempt_open
        and not record.interrupted
        and record.attempts == command.attempt
    )


# -- the driver's side: the reviewer's outcome, and the events that record it


def review_scope(scope: dict[str, JSON], record: Any) -> dict[str, JSON]:
    """What a reviewer's input, `pass_when` and `feedback` read: the run's scope, the
    output under review (`output`) and the round (`round`, 1-based)."""
    return {**scope, "output": record.output, "round": progress(record)["round"]}


def judged(
    step: Step, round_: int, outcome: AttemptOutcome, scope: dict[str, JSON]
) -> AttemptOutcome:
    """The reviewer's attempt outcome with its verdict judged: `review` set to
    {round, passed, feedback, max_rounds, on_exhausted}. A verdict that did not validate,
    or a `pass_when`/`feedback` that cannot be evaluated, is a failed review."""
    import dataclasses

    from baton.runtime.model import FailureClass
    from baton.runtime.render import RenderError, evaluate_condition, render_input

    assert step.review is not None
    review = step.review
    facts: dict[str, JSON] = {
        "round": round_,
        "max_rounds": review.max_rounds,
        "on_exhausted": review.on_exhausted.value,
    }
    if outcome.failure is not None:
        return dataclasses.replace(outcome, review={**facts, "passed": False})
    verdict = outcome.output
    where = {**scope, "review": verdict}
    try:
        passed = evaluate_condition(review.pass_when, where)
        if review.feedback is None:
            feedback: JSON = verdict
        else:
            feedback = render_input(
                review.feedback.source, where, where=f"step '{step.id}' review feedback"
            )
    except RenderError as error:
        return dataclasses.replace(
            outcome,
            failure=FailureClass.AGENT_ERROR,
            message=f"cannot judge the verdict: {error}",
            review={**facts, "passed": False},
        )
    if not isinstance(feedback, str):
        feedback = json.dumps(feedback, ensure_ascii=False, sort_keys=True)
    return dataclasses.replace(outcome, review={**facts, "passed": passed, "feedback": feedback})


def review_events(outcome: AttemptOutcome, attempt: int) -> list[ev.EventBody]:
    """How the log records a reviewer's outcome (`AttemptOutcome.review` set)."""
    facts = outcome.review or {}
    round_ = int(facts.get("round") or 1)
    common: dict[str, Any] = {
        "step": outcome.step,
        "attempt": attempt,
        "round": round_,
        "latency_ms": outcome.latency_ms,
        "usage": outcome.usage,
    }
    if outcome.failure is not None:
        return [ev.ReviewFailed(failure=outcome.failure.value, message=outcome.message, **common)]
    if facts.get("passed"):
        quality = score(round_, int(facts.get("max_rounds") or round_), True)
        return [ev.ReviewPassed(verdict=outcome.output, score=quality, **common)]
    feedback = str(facts.get("feedback", ""))
    if round_ < int(facts.get("max_rounds") or 1):
        return [ev.RevisionRequested(verdict=outcome.output, feedback=feedback, **common)]
    how = str(facts.get("on_exhausted") or OnExhausted.FAIL.value)
    return [
        ev.ReviewExhausted(verdict=outcome.output, feedback=feedback, on_exhausted=how, **common)
    ]


# -- apply


def started(record: Any, body: ev.ReviewStarted, ts: int) -> dict[str, Any]:
    """The record's changes for `review_started` (the lifecycle move is the caller's)."""
    loop = progress(record)
    if body.round != loop["round"]:
        raise ValueError(f"review of round {body.round} while round {loop['round']} runs")
    if body.restart:
        return {
            "interrupted": False,
            "restarts": record.restarts + 1,
            "review": {**loop, "started_ms": ts},
        }
    if loop.get("status") != OPEN:
        raise ValueError(f"round {body.round} was already reviewed")
    return {
        "attempt_open": True,
        "interrupted": False,
        "review": {**loop, "reviewer": body.agent, "started_ms": ts},
    }


def ended(record: Any, body: ev.EventBody, ts: int) -> dict[str, Any]:
    """The record's changes for a reviewer's outcome (`review_passed`, ...)."""
    loop = dict(progress(record))
    loop.pop("started_ms", None)
    round_ = int(loop["round"])
    if getattr(body, "round", None) != round_:
        raise ValueError(f"a verdict for round {getattr(body, 'round', None)}, not {round_}")
    changes: dict[str, Any] = {"attempt_open": False}
    match body:
        case ev.ReviewPassed():
            loop.update(status=PASSED, verdict=body.verdict, rounds=round_, score=body.score)
        case ev.RevisionRequested():
            # the output sent back, as text: an llm producer's conversation replays it
            reply = json.dumps(record.output, ensure_ascii=False, sort_keys=True)
            loop.update(
                status=OPEN,
                verdict=body.verdict,
                round=round_ + 1,
                feedback=[*(loop.get("feedback") or []), body.feedback],
                replies=[*(loop.get("replies") or []), reply],
            )
            # the next round: a fresh attempt budget, a new conversation, due at once; the
            # output sent back is no longer the step's (it lives on in `replies`), so the
            # record holds none, as a state loaded from the store (whose outputs are found
            # by the round's key) does
            changes.update(
                attempt_base=record.attempts,
                repairs=(),
                retry_due_ms=ts,
                output=None,
                checksum=None,
            )
        case ev.ReviewExhausted():
            loop.update(
                status=EXHAUSTED,
                verdict=body.verdict,
                rounds=round_,
                score=0.0,
                on_exhausted=body.on_exhausted,
                feedback=[*(loop.get("feedback") or []), body.feedback],
            )
        case ev.ReviewFailed():
            loop.update(status=FAILED)
            changes["error"] = {"failure": body.failure, "message": body.message}
    changes["review"] = loop
    return changes


TRIGGER = {
    ev.ReviewPassed: "end_review",
    ev.ReviewExhausted: "end_review",
    ev.RevisionRequested: "revise",
}
