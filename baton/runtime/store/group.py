"""Group commit across runs: the drivers of one process share each transaction.

Within one run, a driver already commits the results of its parallel steps together.
Across runs (many runs driven by one process, or a run and its child runs), each driver
would otherwise wait for its own fsync in turn. Here the first driver to arrive becomes
the leader: it takes every batch waiting at that moment and commits them in one
transaction; drivers that arrive while it writes wait, and the next leader takes them
all. With one driver alone this is just its own commit, with no thread hop.

The leader first waits for the database's write turn (store.writelock), then takes the
batches: with several processes writing one database (the worker pool), the batches
that arrive while another process commits join this one's next commit. Each batch is
encoded by its own driver's thread before it waits (store.rows), so the leader's
transaction holds the write lock for SQLite's work only.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from baton.runtime.store.records import Batch
from baton.runtime.store.rows import Encoded, encode
from baton.runtime.store.sqlite import AfterCommit, Store


@dataclass
class _Waiting:
    batch: Batch
    encoded: Encoded
    done: bool = False
    error: BaseException | None = None
    wake: threading.Event = field(default_factory=threading.Event)


class GroupCommit:
    """Commits batches from many threads together, on one shared connection."""

    def __init__(self, path: Path, after_commit: AfterCommit | None = None) -> None:
        self._store = Store(path, shared=True, after_commit=after_commit)
        self.file_id = _file_id(path)  # the file this connection writes to
        self._leader = threading.Lock()
        self._lock = threading.Lock()  # guards `_waiting`
        self._waiting: list[_Waiting] = []
        self.users = 0  # drivers using it (see `group_commit`)

    def append(self, batch: Batch) -> None:
        """Make `batch` durable (with whatever else is waiting); raises its own error."""
        if batch.empty:
            return
        # encoded here, in the run's own thread: the leader's transaction holds the
        # database's write lock only for SQLite's work (store.writelock)
        mine = _Waiting(batch, encode(batch))
        with self._lock:
            self._waiting.append(mine)
        while not mine.done:
            if self._leader.acquire(blocking=False):
                try:
                    # the database's write turn first, then the batches: those that
                    # arrive while another process writes join this commit
                    with self._store.turn():
                        self._commit_waiting()
                finally:
                    self._leader.release()
                self._wake_next()
            else:
                # woken when its batch is durable, or to lead the next commit (each
                # waiter has its own event: waking every waiter at every commit cost
                # more than the commits with a hundred runs); the timeout only guards
                # against a lost wakeup
                mine.wake.wait(timeout=0.05)
                mine.wake.clear()
        if mine.error is not None:
            raise mine.error

    def _commit_waiting(self) -> None:
        with self._lock:
            taken, self._waiting = self._waiting, []
        if not taken:
            return
        try:
            results: list[BaseException | None] = list(
                self._store.append_many([w.batch for w in taken], [w.encoded for w in taken])
            )
        except BaseException as error:  # the transaction itself failed: all of them did
            results = [error] * len(taken)
        for waiting, result in zip(taken, results, strict=True):
            waiting.error = result
            waiting.done = True
            waiting.wake.set()

    def _wake_next(self) -> None:
        """Batches that arrived during a commit need a leader: wake the oldest one's
        thread (a thread arriving meanwhile may lead first; then it does the same)."""
        with self._lock:
            first = self._waiting[0] if self._waiting else None
        if first is not None:
            first.wake.set()

    def close(self) -> None:
        self._store.close()


# Committers no run uses any more stay open (the most recent few): closing the last
# connection to a database checkpoints its WAL into the file and deletes it, two more
# fsyncs, which a process running one run after another would pay for every run.
IDLE_KEPT = 4
# by database and `after_commit` hook (one committer per hook: a commit calls one hook)
_groups: dict[tuple[Path, AfterCommit | None], GroupCommit] = {}  # least recently used first
_groups_lock = threading.Lock()


@contextmanager
def group_commit(path: Path, after_commit: AfterCommit | None = None) -> Iterator[GroupCommit]:
    """The process's group committer for the database at `path`, while in use."""
    resolved = path.resolve()
    key = (resolved, after_commit)
    with _groups_lock:
        group = _groups.pop(key, None)
        if group is not None and group.users == 0 and group.file_id != _file_id(resolved):
            group.close()  # the file was replaced or removed: never write to the old one
            group = None
        if group is None:
            group = GroupCommit(resolved, after_commit)
        _groups[key] = group  # now the most recently used
        group.users += 1
    try:
        yield group
    finally:
        with _groups_lock:
            group.users -= 1
            idle = [k for k, g in _groups.items() if g.users == 0]
            for old in idle[: max(0, len(idle) - IDLE_KEPT)]:
                _groups.pop(old).close()


@atexit.register
def _close_idle() -> None:
    with _groups_lock:
        for key in [k for k, g in _groups.items() if g.users == 0]:
            _groups.pop(key).close()


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_dev, status.st_ino
