"""`baton serve` as a local driver: once a decision is recorded for a run, continue the
run in a background thread, as `baton resume RUN --detach` would.

The run's lease (runtime.store.lease) keeps this safe: if another process drives the
run, `resume` refuses (RunBusy) and that process applies the decision itself; two
decisions for the same run while it is being continued start no second thread here,
the thread just goes round once more.

`watch` also picks up decisions that came another way (`baton approve` on the command
line while serve runs): a run with a decided gate that no process drives is continued
too. Runs that stopped for another reason (an interrupted driver) are left to `baton
resume`: serve continues only what a person's decision moved.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from baton.console.views import LoadFailed
from baton.runtime import api
from baton.runtime.backend import Follow, LocalBackend
from baton.runtime.core.state import RunState
from baton.runtime.model import StepState

log = logging.getLogger("baton.console")
RETRY_FAILED_S = 60.0  # a run serve could not continue is tried again after this


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
        self._failed_at: dict[str, float] = {}  # run id -> when it last could not (monotonic)

    def kick(self, run_id: str) -> None:
        """Continue `run_id` (a top run: see `root_run`) in the background."""
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

    def watch(self, db: Path, every_s: float = 1.0) -> threading.Event:
        """Look every `every_s` for runs a decision moved that nothing drives, and
        continue them; set the returned event to stop."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(every_s):
                try:
                    for run_id in decided_and_idle(db):
                        failed = self._failed_at.get(run_id)
                        if failed is None or time.monotonic() - failed > RETRY_FAILED_S:
                            self.kick(run_id)
                except (api.RunError, api.StoreError) as error:
                    log.warning("cannot look for decided runs: %s", error)

        threading.Thread(target=loop, name="baton-serve-watch", daemon=True).start()
        return stop

    def _remember_failure(self, run_id: str) -> None:
        self._failed_at[run_id] = time.monotonic()

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
                self._remember_failure(run_id)
                log.warning("cannot continue run %s: %s", run_id, error)
            except Exception:  # a bug must not kill the server; the run stays resumable
                self.problems[run_id] = "an internal error stopped it; see the server log"
                self._remember_failure(run_id)
                log.exception("continuing run %s failed", run_id)
            with self._lock:
                if run_id in self._again:
                    self._again.discard(run_id)
                    continue
                self._active.discard(run_id)
                return


def root_run(db: Path, state: RunState) -> str:
    """The top run of a sub-workflow's child run (itself for a top run): continuing
    the top run drives its waiting children too, as `baton resume` does."""
    seen = {state.run_id}
    while state.parent is not None:
        parent = state.parent.get("run_id")
        if not parent or parent in seen:
            break
        seen.add(parent)
        try:
            state = api.get_state(db, parent)
        except (api.RunError, api.StoreError):
            break
    return state.run_id


def decided_and_idle(db: Path) -> list[str]:
    """The (top) runs with a granted gate that has not moved yet and no live driver."""
    found = []
    for summary in api.list_runs(db):
        if summary.status != "running":
            continue
        state = api.get_state(db, summary.run_id)
        if _decided_gate(state) and api.is_idle(db, state):
            found.append(root_run(db, state))
    return found


def _decided_gate(state: RunState) -> bool:
    return any(
        record.state in (StepState.AWAITING_APPROVAL, StepState.AWAITING_REVIEW)
        and record.approval is not None
        and record.approval.decision == "granted"
        for record in state.steps.values()
    )
