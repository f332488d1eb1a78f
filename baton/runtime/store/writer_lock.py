"""Whose turn it is to write: a blocking file lock beside the database, across processes.

SQLite lets one writer in at a time; the others retry with sleeps that grow to 100 ms,
so several processes writing one file (the local worker pool) spent most of their time
asleep. A blocking `flock` on `DB-write.lock` hands the turn over as soon as it is free.
Within a process the lock is taken once at a time (the OS lock belongs to the open file,
shared by the process's threads), through a thread lock around it. Where no lock file
can be made (a read-only directory), writers fall back to SQLite's own waiting.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


_FILES: dict[str, tuple[threading.RLock, int | None]] = {}
_GUARD = threading.Lock()
_HELD = threading.local()  # how deep this thread holds each database's turn


def _lock_for(path: Path) -> tuple[threading.RLock, int | None]:
    key = str(path.resolve())
    with _GUARD:
        found = _FILES.get(key)
        if found is None:
            try:
                fd: int | None = os.open(f"{key}-write.lock", os.O_RDWR | os.O_CREAT, 0o644)
            except OSError:
                fd = None
            found = _FILES[key] = (threading.RLock(), fd)
        return found


@contextmanager
def writer_turn(path: Path) -> Iterator[None]:
    """Hold the database's write turn (this process's threads, then other processes)."""
    lock, fd = _lock_for(path)
    with lock:
        depth: dict[int, int] = _HELD.__dict__.setdefault("depth", {})
        outer = depth.get(id(lock), 0) == 0  # a nested write keeps the turn it has
        depth[id(lock)] = depth.get(id(lock), 0) + 1
        try:
            if fd is not None and outer:
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fd is not None and outer:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            depth[id(lock)] -= 1
