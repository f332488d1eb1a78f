"""Map steps: one attempt per item of a list (`map:` in a spec). Pure.

A map step is one step of the lifecycle: `map_started` moves it pending -> running (its
attempt is the map as a whole) and records the list `over` evaluated to, once, so a
resumed run maps over the same items. Each item is a durable child of the step: its own
idempotency key (the step's key and the index), its own attempts and retry budget (the
step's policy), `map_item_started` before its agent is called, then
`map_item_succeeded` or `map_item_failed`; a failed item is retried
(`map_item_retry_scheduled`), dropped (`map_item_dropped`, its slot null, while at most
`tolerate` are) or fails the step. At most `max_concurrency` items are in motion (running
or waiting for a retry) at once; items start in index order. Once every item is settled
the step is validated with the list of the items' outputs, in item order, and commits
as any step does.

Costs: `decide` looks only at the items in motion (at most `max_concurrency`), and an
item event rebuilds only their records; a finished item writes its slot into `results`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from baton.runtime.canonical import attempt_id
from baton.runtime.core import events as ev
from baton.runtime.core.apply import IllegalTransition, _move, _put, _record, _spent
from baton.runtime.core.commands import CommitStep, FailStep, FinishRun
from baton.runtime.core.map_commands import (
    DropItem,
    FinishMap,
    MapCommand,
    RetryItem,
    StartItem,
    StartMap,
    TimeoutItem,
    item_key,
)
from baton.runtime.core.map_state import ItemRecord, MapRecord
from baton.runtime.core.outcome import AttemptOutcome
from baton.runtime.core.state import RunState, StepRecord, evolve
from baton.runtime.model import JSON, Effect, FailureClass, Map, Step, StepState

# -- decide


def begin(state: RunState, step: Step, attempt: int, key: str) -> StartMap | FinishRun:
    """A map step's start: its list, evaluated now; a run whose list cannot be had fails
    (as one whose `if:` cannot be evaluated)."""
    from baton.runtime.render import RenderError, evaluate

    assert step.map is not None
    source = step.map.over.source
    try:
        items = evaluate(step.map.over, state.scope())
    except RenderError as error:
        items, problem = None, f"cannot evaluate map.over: {source}: {error}"
    else:
        problem = f"map.over: {source} is {_kind(items)}, not a list"
    if not isinstance(items, list):
        return FinishRun("failed", step=step.id, failure="map_error", message=problem)
    return StartMap(step.id, attempt, key, tuple(items), step.agent)


def advance(
    state: RunState, step: Step, record: StepRecord, now_ms: int
) -> tuple[MapCommand | CommitStep | FailStep | None, int | None]:
    """A running map step's next command (one per call, as for any step), and when a
    timer of its items falls due. Looks only at the items in motion."""
    spec = step.map
    mapped = record.map
    assert spec is not None and mapped is not None and record.idempotency_key is not None
    if mapped.settled:
        finish = FinishMap(
            step.id,
            record.attempts,
            record.idempotency_key,
            mapped.results,
            mapped.untrusted_sources,
        )
        return finish, None
    due: int | None = None
    for index in sorted(mapped.active):
        item = mapped.active[index]
        if item.attempt_open:
            if item.epoch < state.resumes:  # its process is gone: run it again
                return _start_item(state, step, record, index, item.attempts, restart=True), None
            deadline = (item.started_ms or 0) + step.timeout_ms
            if now_ms >= deadline:
                return TimeoutItem(step.id, index, item.attempts, step.timeout_ms), None
            due = deadline if due is None else min(due, deadline)
        elif item.retry_due_ms is not None:
            if now_ms >= item.retry_due_ms:
                return _start_item(state, step, record, index, item.attempts + 1), None
            due = item.retry_due_ms if due is None else min(due, item.retry_due_ms)
        else:  # its attempt failed: retry it, drop it, or the step fails
            return _failed_item(step, mapped, index, item), None
    if mapped.started < mapped.count and len(mapped.active) < spec.max_concurrency:
        return _start_item(state, step, record, mapped.started, 1), None
    return None, due


def _failed_item(
    step: Step, mapped: MapRecord, index: int, item: ItemRecord
) -> RetryItem | DropItem | FailStep:
    assert step.map is not None
    error = item.error or {}
    failure = str(error.get("failure", ""))
    try:
        failure_class = FailureClass(failure)
    except ValueError:
        failure_class = FailureClass.AGENT_ERROR
    retryable = error.get("retryable", True) is not False
    if retryable and step.retry.retries(failure_class, item.attempts):
        return RetryItem(step.id, index, item.attempts, step.retry)
    message = str(error.get("message", ""))
    if item.attempts > 1:
        message = f"{message} (after {item.attempts} attempts)"
    if len(mapped.dropped) < step.map.tolerate:
        return DropItem(step.id, index, failure, message)
    allowed = step.map.tolerate
    return FailStep(
        step.id,
        failure,
        f"item {index} failed: {message} "
        f"({len(mapped.dropped) + 1} failed item(s); map.tolerate is {allowed})",
    )


def _start_item(
    state: RunState,
    step: Step,
    record: StepRecord,
    index: int,
    attempt: int,
    restart: bool = False,
) -> StartItem:
    assert record.map is not None and record.idempotency_key is not None
    key = item_key(record.idempotency_key, index)
    # a map started again (a redrive: the step's attempt 2...) numbers its items' attempts
    # anew; their ids name the map's attempt too, so that every attempt id stays unique
    if record.attempts > 1:
        attempt_ids = f"{key}:{record.attempts}.{attempt}"
    else:
        attempt_ids = attempt_id(key, attempt)
    return StartItem(
        step=step.id,
        index=index,
        attempt=attempt,
        idempotency_key=key,
        attempt_id=attempt_ids,
        item=record.map.items[index],
        external=step.effect is Effect.EXTERNAL,
        restart=restart,
        agent=step.agent,
    )


def _kind(value: object) -> str:
    names = {dict: "an object", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), f"a {type(value).__name__}")


# -- apply


def apply_map(state: RunState, ts: int, body: ev.EventBody) -> RunState:
    """Fold one map event (`apply` sends them here)."""
    if isinstance(body, ev.MapStarted):
        record = _move(state, body.step, "start")
        if body.attempt != record.attempts + 1:
            raise IllegalTransition(f"step '{body.step}': attempt {body.attempt} out of order")
        items = tuple(body.items) if isinstance(body.items, list) else ()
        if len(items) != body.count:
            raise IllegalTransition(
                f"step '{body.step}': map of {body.count} items lists {len(items)}"
            )
        record = evolve(
            record,
            agent=body.agent,
            attempts=body.attempt,
            attempt_open=True,
            idempotency_key=body.idempotency_key,
            started_ms=ts,
            retry_due_ms=None,
            map=MapRecord(items=items, results=(None,) * len(items)),
        )
        return _put(state, body.step, record)
    assert isinstance(
        body,
        ev.MapItemStarted
        | ev.MapItemSucceeded
        | ev.MapItemFailed
        | ev.MapItemRetryScheduled
        | ev.MapItemDropped,
    )
    record, mapped = _mapping(state, body.step)
    index = body.index
    match body:
        case ev.MapItemStarted():
            mapped = _item_started(state, body, mapped, ts)
        case ev.MapItemSucceeded():
            _open_item(mapped, body.step, index, body.attempt)
            results = (*mapped.results[:index], body.output, *mapped.results[index + 1 :])
            active = {i: item for i, item in mapped.active.items() if i != index}
            mapped = _replace(
                mapped, active=active, results=results, succeeded=mapped.succeeded + 1
            )
            if body.untrusted_sources:  # the taint of its input: the step's, once validated
                sources = tuple(sorted({*mapped.untrusted_sources, *body.untrusted_sources}))
                mapped = _replace(mapped, untrusted_sources=sources)
            record = evolve(record, usage=record.usage.plus(body.usage))
        case ev.MapItemFailed():
            item = _open_item(mapped, body.step, index, body.attempt)
            error: dict[str, JSON] = {
                "failure": body.failure,
                "message": body.message,
                "attempt": body.attempt,
            }
            if not body.retryable:
                error["retryable"] = False
            item = dataclasses.replace(item, attempt_open=False, error=error)
            mapped = _replace(mapped, active={**mapped.active, index: item})
            record = evolve(record, usage=record.usage.plus(body.usage))
        case ev.MapItemRetryScheduled():
            item = _between(mapped, body.step, index)
            if body.attempt != item.attempts + 1:
                raise IllegalTransition(f"step '{body.step}' item {index}: retry out of order")
            item = dataclasses.replace(item, retry_due_ms=body.due_ms)
            mapped = _replace(mapped, active={**mapped.active, index: item})
        case ev.MapItemDropped():
            _between(mapped, body.step, index)
            active = {i: item for i, item in mapped.active.items() if i != index}
            mapped = _replace(mapped, active=active, dropped=(*mapped.dropped, index))
    state = _put(state, body.step, evolve(record, map=mapped))
    if isinstance(body, ev.MapItemSucceeded | ev.MapItemFailed):
        state = _spent(state, record.agent, body.usage)
    return state


def _mapping(state: RunState, step: str) -> tuple[StepRecord, MapRecord]:
    record = _record(state, step)
    if record.map is None or record.state is not StepState.RUNNING or not record.attempt_open:
        raise IllegalTransition(f"step '{step}' is not mapping")
    return record, record.map


def _item_started(
    state: RunState, body: ev.MapItemStarted, mapped: MapRecord, ts: int
) -> MapRecord:
    index = body.index
    if body.restart:
        item = _open_item(mapped, body.step, index, body.attempt)
        if item.epoch >= state.resumes:
            raise IllegalTransition(f"step '{body.step}' item {index}: restart of a live attempt")
        item = dataclasses.replace(
            item, epoch=state.resumes, restarts=item.restarts + 1, started_ms=ts
        )
        return _replace(mapped, active={**mapped.active, index: item})
    if index == mapped.started and index < mapped.count and body.attempt == 1:
        item = ItemRecord()  # the next item starts
        started = mapped.started + 1
    else:
        item = _between(mapped, body.step, index)
        if item.retry_due_ms is None or body.attempt != item.attempts + 1:
            raise IllegalTransition(f"step '{body.step}' item {index}: attempt out of order")
        started = mapped.started
    item = dataclasses.replace(
        item,
        attempts=body.attempt,
        attempt_open=True,
        started_ms=ts,
        epoch=state.resumes,
        error=None,
        retry_due_ms=None,
    )
    return _replace(
        mapped,
        started=started,
        active={**mapped.active, index: item},
        item_attempts=mapped.item_attempts + 1,
    )


def _open_item(mapped: MapRecord, step: str, index: int, attempt: int) -> ItemRecord:
    item = mapped.active.get(index)
    if item is None or not item.attempt_open or item.attempts != attempt:
        raise IllegalTransition(f"step '{step}' item {index}: attempt {attempt} is not open")
    return item


def _between(mapped: MapRecord, step: str, index: int) -> ItemRecord:
    """An item whose attempt failed (before its retry or drop)."""
    item = mapped.active.get(index)
    if item is None or item.attempt_open:
        raise IllegalTransition(f"step '{step}' item {index} has no failed attempt")
    return item


def _replace(mapped: MapRecord, **changes: object) -> MapRecord:
    return dataclasses.replace(mapped, **changes)  # type: ignore[arg-type]


# -- what a driver records of an item's attempt


def item_events(outcome: AttemptOutcome, index: int) -> list[ev.EventBody]:
    """`map_item_succeeded` or `map_item_failed` for one item attempt's outcome."""
    if outcome.failure is None and outcome.received:
        assert outcome.checksum is not None, "a validated output has a checksum"
        return [
            ev.MapItemSucceeded(
                step=outcome.step,
                attempt=outcome.attempt,
                index=index,
                checksum=outcome.checksum,
                output=outcome.output,
                latency_ms=outcome.latency_ms,
                usage=outcome.usage,
                untrusted_sources=outcome.untrusted_sources,
            )
        ]
    return [
        ev.MapItemFailed(
            step=outcome.step,
            attempt=outcome.attempt,
            index=index,
            failure=(outcome.failure or FailureClass.AGENT_ERROR).value,
            message=outcome.message,
            latency_ms=outcome.latency_ms,
            usage=outcome.usage,
            retryable=outcome.retryable,
        )
    ]


def item_live(state: RunState, command: StartItem) -> bool:
    """Whether an item attempt's result is still wanted (its attempt the open one)."""
    record = state.steps.get(command.step)
    if record is None or record.map is None or record.state is not StepState.RUNNING:
        return False
    item = record.map.active.get(command.index)
    return (
        item is not None
        and item.attempt_open
        and item.attempts == command.attempt
        and item.epoch >= state.resumes
    )


def next_item_due(state: RunState) -> int | None:
    """When the next item retry falls due, over the run's map steps (a driver whose
    attempts time out by themselves needs no other timer); None: none waits."""
    due: int | None = None
    for record in state.steps.values():
        if record.map is None or record.state is not StepState.RUNNING:
            continue
        for item in record.map.active.values():
            if item.retry_due_ms is not None and (due is None or item.retry_due_ms < due):
                due = item.retry_due_ms
    return due


def item_untrusted(paths: Iterable[str], spec: Map) -> tuple[str, ...]:
    """The untrusted paths below a map's item (`as:`), from the run's untrusted `paths`:
    the item is wholly untrusted when `over` reads at or below an untrusted path, and
    its parts are where an untrusted path runs through the list's items (`*` or an
    index). Only for an `over` that is a plain dotted read.

    >>> from baton.runtime.model import Template
    >>> m = Map(Template("steps.plan.output.subtopics", True), "s")
    >>> item_untrusted(["steps.plan.output"], m), item_untrusted(["inputs.x"], m)
    (('s',), ())
    >>> item_untrusted(["steps.plan.output.subtopics.*.text"], m)
    ('s.text',)
    """
    over = spec.over.source.strip().split(".")
    if not all(part.isidentifier() for part in over):
        return ()
    found: list[str] = []
    for path in paths:
        parts = path.split(".")
        shared = min(len(parts), len(over))
        if any(p != "*" and p != o for p, o in zip(parts[:shared], over[:shared], strict=True)):
            continue
        if len(parts) <= len(over):
            found.append(spec.var)  # the list, or something above it, is untrusted
        elif parts[len(over)] == "*" or parts[len(over)].isdigit():
            found.append(".".join([spec.var, *parts[len(over) + 1 :]]))
    return tuple(dict.fromkeys(found))


def item_scope(scope: dict[str, JSON], step: Step, item: JSON) -> dict[str, JSON]:
    """The scope an item's templates render in: the run's, with the item as `as:`."""
    assert step.map is not None
    return {**scope, step.map.var: item}
