"""Group commit across runs: the drivers of one process share each transaction.

Within one run, a driver already commits the results of its parallel steps together.
Across runs (many runs driven by one process, or a run and its child runs), each driver
would otherwise wait for its own fsync in turn. Here the first driver to arrive becomes
the leader: it takes every batch waiting at that moment and commits them in one
transaction; drivers that arrive while it writes wait, and the next leader takes them
all. With one driver alone this is just its own commit, with no thread hop.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from runtime.store.records import Batch
from runtime.store.sqlite import Store


@dataclass
class _Waiting:
    batch: Batch
    done: bool = False
    error: BaseException | None = None


class GroupCommit:
    """Commits batches from many threads together, on one shared connection."""

    def __init__(self, path: Path) -> None:
        self._store = Store(path, shared=True)
        self._leader = threading.Lock()
        self._changed = threading.Condition()
        self._waiting: list[_Waiting] = []
        self.users = 0  # drivers using it (see `group_commit`)

    def append(self, batch: Batch) -> None:
        """Make `batch` durable (with whatever else is waiting); raises its own error."""
        if batch.empty:
            return
        mine = _Waiting(batch)
        with self._changed:
            self._waiting.append(mine)
        while not mine.done:
            if self._leader.acquire(blocking=False):
                try:
                    self._commit_waiting()
                finally:
                    self._leader.release()
                with self._changed:
                    self._changed.notify_all()
            else:
                with self._changed:
                    # woken by the leader; the timeout only guards against a lost wakeup
                    self._changed.wait_for(lambda: mine.done, timeout=0.05)
        if mine.error is not None:
            raise mine.error

    def _commit_waiting(self) -> None:
        with self._changed:
            taken, self._waiting = self._waiting, []
        if not taken:
            return
        try:
            results: list[BaseException | None] = list(
                self._store.append_many([w.batch for w in taken])
            )
        except BaseException as error:  # the transaction itself failed: all of them did
            results = [error] * len(taken)
        for waiting, result in zip(taken, results, strict=True):
            waiting.error = result
            waiting.done = True

    def close(self) -> None:
        self._store.close()


_groups: dict[Path, GroupCommit] = {}
_groups_lock = threading.Lock()


@contextmanager
def group_commit(path: Path) -> Iterator[GroupCommit]:
    """The process's group committer for the database at `path`, while in use."""
    key = path.resolve()
    with _groups_lock:
        group = _groups.get(key)
        if group is None:
            group = _groups[key] = GroupCommit(key)
        group.users += 1
    try:
        yield group
    finally:
        with _groups_lock:
            group.users -= 1
            if group.users == 0:
                del _groups[key]
                group.close()
