"""JSON log lines: one per finished attempt (`baton run --log-json`).

`AttemptLog` is an `on_event` observer (the driver calls it after each commit, from the
run's thread or a child run's): it follows each attempt from `attempt_started` to its
outcome and writes one JSON object with the fields of the attempt's span
(runtime.telemetry): `workflow`, `run_id`, `step`, `attempt`, `agent`, `latency_ms`,
`tokens_in`, `tokens_out`, `cost_usd`, `status`, plus `trace_id`, `ts`, `level` and, for
a failure, `message`.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from typing import IO

from baton.runtime.core import events as ev
from baton.runtime.core.state import RunState
from baton.runtime.model import JSON
from baton.runtime.telemetry import attempt_fields
from baton.runtime.timeline import Attempt


class AttemptLog:
    """An `on_event` observer writing one JSON line per finished attempt to `stream`."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self._lock = threading.Lock()
        self._open: dict[tuple[str, str | None, int | None], Attempt] = {}

    def __call__(self, event: ev.Event, state: RunState) -> None:
        body = event.body
        key = (event.run_id, event.step, event.attempt)
        with self._lock:
            if isinstance(body, ev.AttemptStarted):
                self._open[key] = Attempt(
                    step=body.step,
                    attempt=body.attempt,
                    agent=body.agent,
                    start_ms=event.ts,
                    restart=body.restart,
                    idempotency_key=body.idempotency_key,
                )
                return
            attempt = self._open.get(key)
            if attempt is None:
                return
            match body:
                case ev.OutputReceived():
                    attempt.latency_ms = body.latency_ms
                    attempt.usage.add(body.usage)
                case ev.DelegationCompleted() | ev.DelegationFailed():
                    attempt.usage.add(body.usage)
                case ev.StepValidated():
                    self._finish(key, event, state, "ok", "")
                case ev.OutputRejected():
                    self._finish(key, event, state, body.failure, body.message)
                case ev.ToolApprovalRequested():  # stopped to wait for a person
                    attempt.latency_ms = body.latency_ms
                    attempt.usage.add(body.usage)
                    self._finish(key, event, state, "awaiting_approval", "")
                case ev.AttemptFailed():
                    attempt.latency_ms = body.latency_ms
                    attempt.usage.add(body.usage)
                    self._finish(key, event, state, body.failure, body.message)

    def _finish(
        self,
        key: tuple[str, str | None, int | None],
        event: ev.Event,
        state: RunState,
        status: str,
        message: str,
    ) -> None:
        attempt = self._open.pop(key)
        attempt.end_ms, attempt.status = event.ts, status
        line: dict[str, JSON] = {
            "ts": event.ts,
            "level": "info" if status == "ok" else "error",
            "event": "attempt",
            **attempt_fields(state.workflow, state.run_id, attempt),
            "trace_id": event.trace_id,
        }
        if message:
            line["message"] = message
        self.stream.write(json.dumps(line, ensure_ascii=False) + "\n")
        self.stream.flush()


def fan_out(
    *observers: Callable[[ev.Event, RunState], None] | None,
) -> Callable[[ev.Event, RunState], None]:
    """One `on_event` callback that calls each observer in turn."""
    chosen = [observer for observer in observers if observer is not None]

    def notify(event: ev.Event, state: RunState) -> None:
        for observer in chosen:
            observer(event, state)

    return notify


__all__ = ["AttemptLog", "fan_out"]
