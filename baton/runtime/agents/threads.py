"""Run a function in a worker thread and stop waiting for it after a timeout.

Python cannot kill a thread: a python agent that overruns its timeout keeps running in
the background until it returns on its own, and its late result is dropped. Workers are
daemon threads, so an overrunning agent never keeps the process from exiting, and they
are reused (starting a thread per call would cost a good share of a step's overhead).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

# an idle worker exits after this long, so a burst of parallel steps leaves no threads
IDLE_SECONDS = 30.0


class Overran(Exception):
    """The function did not return in time (it may still be running)."""


class _Job:
    __slots__ = ("done", "error", "function", "result")

    def __init__(self, function: Callable[[], Any]) -> None:
        self.function = function
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.function()
        except BaseException as error:  # delivered to the caller, who decides
            self.error = error
        finally:
            self.done.set()


class _Pool:
    """Daemon workers taking jobs from one queue; grows when all are busy."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0

    def submit(self, job: _Job) -> None:
        # claiming an idle worker and queueing the job happen under one lock, so a worker
        # that times out (below) never leaves a claimed job behind
        with self._lock:
            if self._idle:
                self._idle -= 1
                self._jobs.put(job)
                return
        threading.Thread(target=self._work, args=(job,), name="baton-agent", daemon=True).start()

    def _work(self, job: _Job) -> None:
        job.run()
        while True:
            with self._lock:
                self._idle += 1
            try:
                job = self._jobs.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._jobs.empty():
                        self._idle -= 1
                        return
                job = self._jobs.get()
            job.run()


_pool = _Pool()


def run_with_timeout(function: Callable[[], Any], timeout_s: float) -> Any:
    """`function()` in a worker thread; its exception re-raised here; Overran on timeout."""
    job = _Job(function)
    _pool.submit(job)
    if not job.done.wait(timeout_s):
        raise Overran
    if job.error is not None:
        raise job.error
    return job.result
