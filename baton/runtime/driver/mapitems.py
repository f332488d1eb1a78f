"""The local driver's part in map steps (runtime.core.mapping): run an item's attempt
in a worker, and record its outcome while it is still the item's live attempt.

Items run like any attempt (`execute_attempt`), the item bound to the step's `as:` name
in its templates, under the item's own idempotency key; the core decides how many run
at once (`max_concurrency`), so every `StartItem` the loop receives is dispatched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from baton.runtime.core.map_commands import StartItem
from baton.runtime.core.mapping import item_events, item_live, item_scope
from baton.runtime.core.outcome import AttemptOutcome
from baton.runtime.core.state import RunState
from baton.runtime.driver.attempt import CallAgent, execute_attempt
from baton.runtime.driver.journal import Journal
from baton.runtime.driver.workers import WORKERS
from baton.runtime.model import FailureClass, Step, Workflow
from baton.runtime.taint import untrusted_paths

log = logging.getLogger("baton.runtime")

Report = Callable[[StartItem, AttemptOutcome], None]


def dispatch_item(
    workflow: Workflow,
    step: Step,
    state: RunState,
    command: StartItem,
    call_agent: CallAgent,
    report: Report,
    inline: bool,
) -> None:
    """Run item `command.index`'s attempt (in the caller's thread when `inline`)."""
    scope = item_scope(state.scope(), step, command.item)
    tainted = [s for s, record in state.steps.items() if record.untrusted_sources]
    untrusted = untrusted_paths(workflow, tainted)
    attempt = command.as_attempt()

    def work() -> None:
        try:
            outcome = execute_attempt(
                workflow, step, attempt, state.run_id, scope, call_agent, untrusted=untrusted
            )
        except Exception as error:  # a bug below us must not hang the run
            log.exception("attempt %s crashed", command.attempt_id)
            outcome = AttemptOutcome(
                step=step.id,
                attempt=command.attempt,
                latency_ms=0,
                failure=FailureClass.AGENT_ERROR,
                message=f"internal error: {error!r}",
                received=False,
            )
        report(command, outcome)

    if inline:
        work()
    else:
        WORKERS.submit(work)


def take_item(journal: Journal, command: StartItem, outcome: AttemptOutcome, now: int) -> None:
    """Record an item attempt's outcome, unless it is no longer the item's live attempt
    (timed out, its step failed, the run ended)."""
    if not item_live(journal.state, command):
        log.info("late result of %s discarded", command.attempt_id)
        return
    for body in item_events(outcome, command.index):
        journal.emit(body, now)


def prune_items(in_flight: dict[tuple[str, int], int], state: RunState) -> None:
    """Forget item attempts that ended without their worker (timed out, cancelled)."""
    for (step, index), attempt in list(in_flight.items()):
        record = state.steps[step]
        item = record.map.active.get(index) if record.map is not None else None
        if item is None or not item.attempt_open or item.attempts != attempt:
            del in_flight[(step, index)]
