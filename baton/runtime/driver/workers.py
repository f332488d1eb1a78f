"""A pool of daemon threads for agent attempts, shared by every run in the process.

Starting a thread per attempt cost about 2 ms here (most of a no-op step); a parked
worker takes a task in microseconds. Workers are daemon threads, unlike
`concurrent.futures`' (which the interpreter joins at exit): an attempt a run abandoned
(timed out, cancelled) must never keep the process alive. A pool never refuses work:
with no idle worker it starts one, so a stuck agent cannot starve the others.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

IDLE_SECONDS = 30.0  # an idle worker exits after this long


class Workers:
    def __init__(self) -> None:
        self._tasks: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0

    def submit(self, task: Callable[[], None]) -> None:
        with self._lock:
            spawn = self._idle == 0
            if not spawn:
                self._idle -= 1  # that worker is now spoken for
        self._tasks.put(task)
        if spawn:
            threading.Thread(target=self._work, name="baton-worker", daemon=True).start()

    def _work(self) -> None:
        while True:
            try:
                task = self._tasks.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._idle > 0:
                        self._idle -= 1
                        return
                continue  # a task is on its way to this worker
            task()
            with self._lock:
                self._idle += 1


WORKERS = Workers()
