"""The local driver's delivery thread: POSTs off the run's hot path.

The driver hands it the notifications a commit opened (`observe`) or that a resumed
log still owes (`recover`); the thread POSTs each when due, one at a time, and leaves
the outcome as an event body (`take`) that the driver appends with its next commit.
The run's loop never waits for a webhook: a slow one delays only other notifications.
When the run ends (or waits for a decision) the driver gives delivery a short grace
(`settle`); what is still open then stays open in the log, for the run's next driver.
"""

from __future__ import annotations

import heapq
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import replace

from baton.runtime.core import events as ev
from baton.runtime.model import Workflow
from baton.runtime.notify.outbox import Notification, Outbox, backoff_ms
from baton.runtime.notify.post import Tried, deliver

log = logging.getLogger("baton.notify")
DEFAULT_GRACE_MS = 10_000


def grace_ms(option: int | None = None) -> int:
    """How long a driver waits for webhooks once its run ended or waits: `option`, else
    `BATON_NOTIFY_GRACE_MS`, else 10 s."""
    if option is not None:
        return option
    text = os.environ.get("BATON_NOTIFY_GRACE_MS", "").strip()
    return int(text) if text.isdigit() else DEFAULT_GRACE_MS


class Notifier:
    """Delivers one run's notifications from a daemon thread."""

    def __init__(self, workflow: Workflow, clock: Callable[[], int]) -> None:
        self.workflow = workflow
        self.clock = clock
        self.outbox = Outbox(workflow.name, workflow.notify)
        self._queue: list[tuple[int, int, str, Notification]] = []  # (due, seq, sink, n)
        self._results: list[ev.EventBody] = []
        self._busy = False
        self._closed = False
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None

    # -- the driver's side

    def observe(self, events: list[ev.Event]) -> None:
        """Queue what newly committed events open (their delivery records are ours)."""
        for event in events:
            self._queue_all(self.outbox.observe(event))

    def recover(self, events: list[ev.Event]) -> None:
        """Queue what a stored log still owes (a resumed run)."""
        self._queue_all(self.outbox.fold(events))

    def take(self) -> list[ev.EventBody]:
        """The outcomes since the last call, to append to the run's log."""
        with self._lock:
            taken, self._results = self._results, []
        return taken

    def settle(self, deadline_ms: int) -> bool:
        """Wait until nothing is due before `deadline_ms` and no POST is in flight, or
        until an outcome arrives; True when no more outcomes are coming before then."""
        with self._lock:
            while not self._results:
                due_soon = self._queue and self._queue[0][0] <= deadline_ms
                if not (self._busy or due_soon):
                    return True
                left = deadline_ms - self.clock()
                if left <= 0:
                    return True
                self._lock.wait(min(left, 200) / 1000)
            return False

    def close(self) -> None:
        """Stop after the POST in flight (its outcome is dropped: redelivered later,
        with the same key)."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()

    # -- the thread

    def _queue_all(self, found: list[Notification]) -> None:
        if not found:
            return
        with self._lock:
            for n in found:
                heapq.heappush(self._queue, (n.due_ms, n.trigger_seq, n.key, n))
            self._lock.notify_all()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name=f"baton-notify-{self.workflow.name}", daemon=True
                )
                self._thread.start()

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._closed:
                    if self._queue and self._queue[0][0] <= self.clock():
                        break
                    wait = 1.0 if not self._queue else (self._queue[0][0] - self.clock()) / 1000
                    self._lock.wait(max(min(wait, 1.0), 0.01))
                if self._closed:
                    return
                n = heapq.heappop(self._queue)[3]
                self._busy = True
            try:
                outcome = self._try(n)
            finally:
                with self._lock:
                    self._busy = False
                    self._lock.notify_all()
            with self._lock:
                if self._closed:
                    return
                self._record(n, outcome)
                self._lock.notify_all()

    def _try(self, n: Notification) -> Tried:
        sink = self.workflow.notify[n.sink - 1]
        try:
            return deliver(n, sink, self.workflow.console_url)
        except Exception as error:  # a bug must not kill the thread (nor leak the URL)
            log.error("notification %s: internal error %s", n.key, type(error).__name__)
            return Tried(False, None, f"internal error: {type(error).__name__}")

    def _record(self, n: Notification, outcome: Tried) -> None:
        """The outcome as an event body; a failure that may be tried again is queued."""
        attempts = n.attempts + 1
        if outcome.ok:
            assert outcome.status is not None
            self._results.append(
                ev.NotificationSent(
                    notification=n.key,
                    trigger=n.trigger,
                    trigger_seq=n.trigger_seq,
                    sink=n.sink,
                    attempts=attempts,
                    status=outcome.status,
                )
            )
            return
        sink = self.workflow.notify[n.sink - 1]
        final = not outcome.retryable or attempts >= sink.max_attempts
        retry_at = None if final else self.clock() + backoff_ms(attempts)
        log.warning(
            "notification %s (%s, sink %d) attempt %d failed: %s",
            n.key[:12],
            n.trigger,
            n.sink,
            attempts,
            outcome.message,
        )
        self._results.append(
            ev.NotificationFailed(
                notification=n.key,
                trigger=n.trigger,
                trigger_seq=n.trigger_seq,
                sink=n.sink,
                attempts=attempts,
                status=outcome.status,
                message=outcome.message,
                final=final,
                retry_at_ms=retry_at,
            )
        )
        if retry_at is not None:
            again = replace(n, attempts=attempts, due_ms=retry_at)
            heapq.heappush(self._queue, (retry_at, again.trigger_seq, again.key, again))
