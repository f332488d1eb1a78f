"""`max_concurrency`: how many calls one agent has in flight, across a process.

One semaphore per (agent, limit), shared by every thread of the process (the local
driver runs a generation's steps in threads; a Temporal worker runs activities in a
thread pool). A slot is held for one HTTP request, not across the waits between
retries, so a backing-off call does not block its siblings.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

_semaphores: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_lock = threading.Lock()


def limiter(agent: str, limit: int | None) -> contextlib.AbstractContextManager[None]:
    """A context manager holding one of the agent's `limit` slots (none when no limit)."""
    if limit is None:
        return contextlib.nullcontext()
    return _slot(_semaphore(agent, limit))


def _semaphore(agent: str, limit: int) -> threading.BoundedSemaphore:
    if limit < 1:
        raise ValueError(f"max_concurrency must be >= 1, not {limit}")
    with _lock:
        semaphore = _semaphores.get((agent, limit))
        if semaphore is None:
            semaphore = _semaphores[(agent, limit)] = threading.BoundedSemaphore(limit)
        return semaphore


@contextlib.contextmanager
def _slot(semaphore: threading.BoundedSemaphore) -> Iterator[None]:
    with semaphore:
        yield
