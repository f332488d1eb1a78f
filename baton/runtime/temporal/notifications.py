"""Notifications on Temporal: each is one `baton_notify` activity, retried by Temporal.

The workflow side (`Deliveries`, called from `BatonWorkflow`): every event the run
records goes through the same `Outbox` fold as on the local backend; each notification
it opens starts an activity at once (the run's loop never waits for it) whose retry
policy is the sink's (`max_attempts`, backoff from 1 s doubling to a minute). Its outcome
is recorded as `notification_sent` (with the attempt that got through) or a final
`notification_failed`; the retries in between are in Temporal's history, not the run's
log. A run that ends waits for its notifications before its workflow completes, so
every outcome is in the log the workflow returns.

The activity side (`notify_activity`, hosted by the worker): one POST per activity
attempt through `runtime.notify.post`, in the worker's environment (the URL and secret
variables are read there). A failure another try cannot fix (a variable is missing) is
non-retryable.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from baton.runtime.core import events as ev
from baton.runtime.model import JSON, NotifyFormat, NotifySink, Workflow
from baton.runtime.notify.outbox import Notification, Outbox

NOTIFY_ACTIVITY = "baton_notify"
FAILED = "NotificationFailed"


def _sink_json(sink: NotifySink) -> dict[str, JSON]:
    return {
        "url_env": sink.url_env,
        "events": list(sink.events),
        "format": sink.format.value,
        "secret_env": sink.secret_env,
        "timeout_ms": sink.timeout_ms,
        "max_attempts": sink.max_attempts,
    }


def _sink_of(data: dict[str, Any]) -> NotifySink:
    return NotifySink(
        url_env=str(data["url_env"]),
        events=tuple(data["events"]),
        format=NotifyFormat(data["format"]),
        secret_env=data.get("secret_env"),
        timeout_ms=int(data["timeout_ms"]),
        max_attempts=int(data["max_attempts"]),
    )


class Deliveries:
    """The workflow's side: what the log opens, the activities in flight, outcomes."""

    def __init__(self, compiled: Workflow) -> None:
        self.workflow = compiled
        self.outbox = Outbox(compiled.name, compiled.notify) if compiled.notify else None
        self.due: list[Notification] = []
        self.running: dict[str, asyncio.Task[Any]] = {}
        self.finished: list[tuple[Notification, asyncio.Task[Any]]] = []

    def observe(self, event: ev.Event) -> None:
        if self.outbox is not None:
            self.due.extend(self.outbox.observe(event))

    def start(self) -> None:
        """Start an activity for each notification opened since the last call."""
        due, self.due = self.due, []
        for n in due:
            sink = self.workflow.notify[n.sink - 1]
            task = workflow.start_activity(
                NOTIFY_ACTIVITY,
                {
                    "notification": n.to_json(),
                    "sink": _sink_json(sink),
                    "console_url": self.workflow.console_url,
                },
                # the POST has its own timeout; this only bounds a stuck worker
                start_to_close_timeout=timedelta(milliseconds=sink.timeout_ms + 10_000),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=1),
                    backoff_coefficient=2.0,
                    maximum_interval=timedelta(seconds=60),
                    maximum_attempts=sink.max_attempts,
                    non_retryable_error_types=[f"{FAILED}.final"],
                ),
                activity_id=f"notify-{n.key[:24]}",
                summary=f"notify {n.trigger} (sink {n.sink})",
            )
            self.running[n.key] = task
            task.add_done_callback(self._on_done(n))

    def _on_done(self, n: Notification) -> Any:
        def done(task: asyncio.Task[Any]) -> None:
            self.finished.append((n, task))

        return done

    def take(self) -> list[ev.EventBody]:
        """The outcomes of finished activities, as events to record."""
        finished, self.finished = self.finished, []
        bodies: list[ev.EventBody] = []
        for n, task in finished:
            self.running.pop(n.key, None)
            bodies.append(_outcome(n, task, self.workflow.notify[n.sink - 1]))
        return bodies

    @property
    def busy(self) -> bool:
        return bool(self.due or self.running)


def _outcome(n: Notification, task: asyncio.Task[Any], sink: NotifySink) -> ev.EventBody:
    common: dict[str, Any] = {
        "notification": n.key,
        "trigger": n.trigger,
        "trigger_seq": n.trigger_seq,
        "sink": n.sink,
    }
    try:
        result = task.result()
    except ActivityError as error:
        cause = error.cause
        details: dict[str, Any] = {}
        message = "no answer from the worker"
        if isinstance(cause, ApplicationError):
            message = cause.message
            if cause.details and isinstance(cause.details[0], dict):
                details = cause.details[0]
        return ev.NotificationFailed(
            **common,
            attempts=int(details.get("attempts") or sink.max_attempts),
            status=details.get("status"),
            message=message,
            final=True,
        )
    except BaseException:  # cancelled with the workflow: owed still, recorded as such
        return ev.NotificationFailed(
            **common, attempts=0, status=None, message="cancelled", final=True
        )
    return ev.NotificationSent(
        **common, attempts=int(result["attempts"]), status=int(result["status"])
    )


@activity.defn(name=NOTIFY_ACTIVITY)
async def notify_activity(data: dict[str, Any]) -> dict[str, JSON]:
    """One POST; raises (an ApplicationError without the URL) so Temporal retries."""
    from baton.runtime.notify.post import deliver

    attempt = activity.info().attempt
    n = replace(Notification.from_json(data["notification"]), attempts=attempt - 1)
    sink = _sink_of(data["sink"])
    tried = await asyncio.to_thread(deliver, n, sink, data.get("console_url"))
    if tried.ok:
        return {"status": tried.status, "attempts": attempt}
    raise ApplicationError(
        tried.message,
        {"status": tried.status, "attempts": attempt},
        type=FAILED if tried.retryable else f"{FAILED}.final",
        non_retryable=not tried.retryable,
    )
