"""The local driver's side of run-time delegation (runtime.delegation).

An agent delegates from a worker thread, but only the driver's loop writes the run's
log. So the worker's `AttemptHost.record` puts a `RecordRequest` on the loop's queue and
waits; the loop emits the events (if the attempt is still the live one), commits them
with everything else of that turn, and only then releases the worker
(`Delegations.committed`): a delegation is durable before its delegate is called.

`Delegations.completed` remembers every completed delegation of the run (loaded from
the log on resume), so a resumed attempt that asks again gets the stored output.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from typing import Any

from baton.runtime.agents.envelope import AgentFailure
from baton.runtime.core import events as ev
from baton.runtime.core.commands import StartAttempt
from baton.runtime.driver.journal import Journal
from baton.runtime.model import JSON, FailureClass, StepState


@dataclass
class RecordRequest:
    """A worker asks the loop to make `bodies` durable for its attempt."""

    command: StartAttempt
    bodies: list[ev.EventBody]
    done: threading.Event = field(default_factory=threading.Event)
    error: str | None = None


class Delegations:
    """The driver's record of a run's delegations (used from the loop's thread)."""

    def __init__(self) -> None:
        self.completed: dict[str, tuple[JSON, str]] = {}
        self._waiting: list[RecordRequest] = []

    def host(self, command: StartAttempt, outbox: queue.Queue[Any], timeout_ms: int) -> AttemptHost:
        return AttemptHost(command, outbox, self.completed, timeout_ms)

    def take(self, journal: Journal, request: RecordRequest, now_ms: int) -> None:
        """Emit a worker's events, or refuse them if its attempt is over."""
        command = request.command
        record = journal.state.steps[command.step]
        live = (
            journal.state.outcome is None
            and record.state is StepState.RUNNING
            and record.attempt_open
            and not record.interrupted
            and record.attempts == command.attempt
        )
        if not live:
            request.error = f"attempt {command.attempt} of step '{command.step}' is over"
            request.done.set()
            return
        for body in request.bodies:
            journal.emit(body, now_ms)
        self._waiting.append(request)

    def committed(self) -> None:
        """The events taken so far are durable: release their workers."""
        waiting, self._waiting = self._waiting, []
        for request in waiting:
            for body in request.bodies:
                if isinstance(body, ev.DelegationCompleted):
                    self.completed[body.idempotency_key] = (body.output, body.checksum)
                elif isinstance(body, ev.ToolCallCompleted):  # runtime.tools reuses it
                    self.completed[body.key] = (body.result, body.checksum)
            request.done.set()

    def abandon(self) -> None:
        """The loop is ending: nothing more will be recorded."""
        waiting, self._waiting = self._waiting, []
        for request in waiting:
            request.error = "the run's driver stopped"
            request.done.set()


class AttemptHost:
    """`runtime.delegation.DelegationHost` for one attempt run by the local driver."""

    def __init__(
        self,
        command: StartAttempt,
        outbox: queue.Queue[Any],
        completed: dict[str, tuple[JSON, str]],
        timeout_ms: int,
    ) -> None:
        self.command = command
        self.outbox = outbox
        self._completed = completed
        self.timeout_s = timeout_ms / 1000

    def record(self, bodies: list[ev.EventBody]) -> None:
        request = RecordRequest(self.command, bodies)
        self.outbox.put(request)
        if not request.done.wait(self.timeout_s):
            raise AgentFailure(FailureClass.TIMEOUT, "the delegation could not be recorded in time")
        if request.error is not None:
            raise AgentFailure(FailureClass.CANCELLED, request.error)

    def completed(self, key: str) -> tuple[JSON, str] | None:
        return self._completed.get(key)
