"""The writers of one database take turns in a queue that wakes the next one at once.

SQLite lets one connection write at a time. A connection that finds the write lock
taken waits in SQLite's busy handler, which polls: it sleeps 1, 2, 5, 10, 15, 20, 25,
25, 25, 50, 50, then 100 ms between tries, and gives up after the connection's timeout.
When writers follow each other closely (a process's group committer commits again as
soon as it is done; several pool workers do the same), a waiting writer mostly finds
the lock taken again when it wakes, so it sleeps longer and longer: measured with pool
workers, lease claims waited 250 to 700 ms on average and up to 4 s behind commits of a
few ms each (docs/benchmarks.md, "the local worker pool").

So each write transaction first takes this lock: a lock per process (threads of one
process queue on it) and a `flock` on a file beside the database (processes queue on
it; the kernel wakes a waiter when the holder lets go, and releases the lock of a
process that dies). Neither is needed for correctness: SQLite's own locking still
decides who writes, and where `flock` is not available (some network file systems)
the writers fall back to the busy handler.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

SUFFIX = "-writer"  # the lock file: `baton.db-writer`, beside `baton.db-wal`


@dataclass
class _Turn:
    """The queue of one database's writers in this process."""

    path: str
    threads: threading.RLock = field(default_factory=threading.RLock)
    depth: int = 0  # nested write transactions of the thread that holds `threads`
    fd: int | None = None
    pid: int = 0  # the process that opened `fd` (a forked child opens its own)

    def enter(self) -> None:
        self.threads.acquire()
        self.depth += 1
        if self.depth > 1:
            return  # this thread holds the file lock already
        try:
            if self.fd is None or self.pid != os.getpid():
                # never the parent's descriptor: a forked child would share its lock
                self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
                self.pid = os.getpid()
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except OSError:
            self._forget()  # no file lock here: SQLite's busy handler orders the processes

    def leave(self) -> None:
        try:
            self.depth -= 1
            if self.depth == 0 and self.fd is not None and self.pid == os.getpid():
                try:
                    fcntl.flock(self.fd, fcntl.LOCK_UN)
                except OSError:
                    self._forget()
        finally:
            self.threads.release()

    def _forget(self) -> None:
        if self.fd is not None and self.pid == os.getpid():
            with contextlib.suppress(OSError):
                os.close(self.fd)
        self.fd = None


_turns: dict[str, _Turn] = {}
_turns_lock = threading.Lock()


def _after_fork() -> None:
    """A forked child starts with no queues (a parent's thread may have held one)."""
    global _turns_lock
    _turns.clear()
    _turns_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork)


@contextlib.contextmanager
def turn(database: Path) -> Iterator[None]:
    """Wait for this writer's turn on `database` (a resolved path), and hold it."""
    key = str(database)
    with _turns_lock:
        queue = _turns.get(key)
        if queue is None:
            queue = _turns[key] = _Turn(key + SUFFIX)
    queue.enter()
    try:
        yield
    finally:
        queue.leave()
