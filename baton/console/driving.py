"""`baton serve` as a local driver: once a decision is recorded for a run, continue the
run in a background thread, as `baton resume RUN --detach` would.

The run's lease (runtime.store.lease) keeps this safe: if another process drives the
run, `resume` refuses (RunBusy) and that process applies the decision itself; two
decisions for the same run while it is being continued start no second thread here,
the thread just goes round once more.
"""

from __future__ import annotations

import logging
import threading

from baton.console.views import LoadFailed
from baton.runtime import api
from baton.runtime.backend import Follow, LocalBackend

log = logging.getLogger("baton.console")


class Continuer:
    """Continues runs after decisions; at most one thread per run."""

    def __init__(self, backend: LocalBackend, load: api.Load) -> None:
        self._backend = backend
        self._load = load
        self._lock = threading.Lock()
        self._active: set[str] = set()
        self._again: set[str] = set()
        self._threads: list[threading.Thread] = []
        self.problems: dict[str, str] = {}  # run id -> why it could not be continued

    def kick(self, run_id: str) -> None:
        with self._lock:
            if run_id in self._active:
                self._again.add(run_id)
                return
            self._active.add(run_id)
            thread = threading.Thread(
                target=self._drive, args=(run_id,), name=f"baton-serve-{run_id}", daemon=True
            )
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def busy(self) -> bool:
        with self._lock:
            return bool(self._active)

    def _drive(self, run_id: str) -> None:
        while True:
            try:
                self._backend.resume(run_id, self._load, False, Follow(detach=True))
                self.problems.pop(run_id, None)
            except api.RunBusy:
                pass  # another process drives it, and applies the decision itself
            except (api.RunError, api.StoreError, LoadFailed) as error:
                self.problems[run_id] = str(error)
                log.warning("cannot continue run %s: %s", run_id, error)
            except Exception:  # a bug must not kill the server; the run stays resumable
                self.problems[run_id] = "an internal error stopped it; see the server log"
                log.exception("continuing run %s failed", run_id)
            with self._lock:
                if run_id in self._again:
                    self._again.discard(run_id)
                    continue
                self._active.discard(run_id)
                return
