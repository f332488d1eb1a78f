"""Which notifications a run's log owes: a pure fold over its events.

A trigger event (one a sink subscribes to) opens one notification per subscribed sink;
`notification_sent`, or a `notification_failed` that is final, closes it; a failed POST
that will be tried again records how many tries it took and when the next is due, so a
resumed driver goes on with the same backoff.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

from baton.runtime.core import events as ev
from baton.runtime.model import JSON, NotifySink

# the fields of a trigger event a message may show (short values; never an output)
_CONTEXT_FIELDS = (
    "step",
    "role",
    "stage",
    "principal",
    "comment",
    "failure",
    "message",
    "by",
    "cap",
    "agent",
    "measure",
    "spent",
    "limit",
    "tool",  # the roster tool of a call waiting for approval (its arguments: never)
)


def notification_key(run_id: str, trigger_seq: int, sink: int) -> str:
    """The notification's Idempotency-Key: the same on every try and after a crash.

    >>> notification_key("r1", 7, 1) == notification_key("r1", 7, 1) != notification_key("r1", 7, 2)
    True
    """
    text = f"baton-notification\0{run_id}\0{trigger_seq}\0{sink}"
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Notification:
    """What one sink is owed for one event: who, what, and how far delivery got."""

    key: str
    run_id: str
    workflow: str
    trigger: str  # the event's type
    trigger_seq: int
    ts: int  # the event's time (ms)
    sink: int  # 1-based, in the roster's `notify:`
    context: dict[str, JSON] = field(default_factory=dict)
    attempts: int = 0  # POSTs that failed so far
    due_ms: int = 0  # the next POST not before this

    def to_json(self) -> dict[str, JSON]:
        return {
            "key": self.key,
            "run_id": self.run_id,
            "workflow": self.workflow,
            "trigger": self.trigger,
            "trigger_seq": self.trigger_seq,
            "ts": self.ts,
            "sink": self.sink,
            "context": dict(self.context),
            "attempts": self.attempts,
            "due_ms": self.due_ms,
        }

    @classmethod
    def from_json(cls, data: dict[str, JSON]) -> Notification:
        return cls(
            key=str(data["key"]),
            run_id=str(data["run_id"]),
            workflow=str(data["workflow"]),
            trigger=str(data["trigger"]),
            trigger_seq=int(data["trigger_seq"]),
            ts=int(data["ts"]),
            sink=int(data["sink"]),
            context=dict(data.get("context") or {}),
            attempts=int(data.get("attempts") or 0),
            due_ms=int(data.get("due_ms") or 0),
        )


class Outbox:
    """The open notifications of one run, folded event by event."""

    def __init__(self, workflow: str, sinks: tuple[NotifySink, ...]) -> None:
        self.workflow = workflow
        self.sinks = sinks
        self.open: dict[str, Notification] = {}

    def observe(self, event: ev.Event) -> list[Notification]:
        """Fold one event; the notifications it opens (none for most events)."""
        body = event.body
        if isinstance(body, ev.NotificationSent):
            self.open.pop(body.notification, None)
            return []
        if isinstance(body, ev.NotificationFailed):
            known = self.open.get(body.notification)
            if body.final:
                self.open.pop(body.notification, None)
            elif known is not None:
                self.open[body.notification] = replace(
                    known, attempts=body.attempts, due_ms=body.retry_at_ms or 0
                )
            return []
        opened = []
        for index, sink in enumerate(self.sinks, start=1):
            if event.type not in sink.events:
                continue
            data = body.data()
            context = {name: data[name] for name in _CONTEXT_FIELDS if data.get(name) is not None}
            if event.step is not None:
                context["step"] = event.step
            notification = Notification(
                key=notification_key(event.run_id, event.seq, index),
                run_id=event.run_id,
                workflow=self.workflow,
                trigger=event.type,
                trigger_seq=event.seq,
                ts=event.ts,
                sink=index,
                context=context,
                due_ms=event.ts,
            )
            self.open[notification.key] = notification
            opened.append(notification)
        return opened

    def fold(self, events: list[ev.Event]) -> list[Notification]:
        """Fold a whole log (or its tail); what is still open, oldest first."""
        for event in events:
            self.observe(event)
        return sorted(self.open.values(), key=lambda n: (n.trigger_seq, n.sink))


def backoff_ms(failed_attempts: int) -> int:
    """How long after the `failed_attempts`-th failed POST the next goes: 1 s, doubling,
    at most a minute.

    >>> [backoff_ms(n) for n in (1, 2, 3, 8)]
    [1000, 2000, 4000, 60000]
    """
    return int(min(1000 * 2 ** (failed_attempts - 1), 60_000))
