"""Hooks for Baton's own crash tests. Nothing here acts unless a test sets its variable.

`BATON_TEST_KILL_AFTER_EVENT=N` makes a `baton` process SIGKILL itself right after the
commit that makes its N-th event durable (counted over every run the process drives),
so that the crash tests can kill a run at every event boundary. The command line
installs the hook as the store's `after_commit`; the store itself knows nothing of it.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Mapping

KILL_AFTER_EVENT = "BATON_TEST_KILL_AFTER_EVENT"


class HookError(ValueError):
    """The test variable holds something that is not a number of events."""


def kill_after_event_hook(
    environ: Mapping[str, str] = os.environ,
) -> Callable[[int], None] | None:
    """The SIGKILL hook if `BATON_TEST_KILL_AFTER_EVENT` asks for one, else None."""
    text = environ.get(KILL_AFTER_EVENT, "").strip()
    if not text:
        return None
    try:
        kill_after = int(text)
    except ValueError:
        raise HookError(f"{KILL_AFTER_EVENT} must be a whole number, not {text!r}") from None
    if kill_after <= 0:
        return None
    committed = 0
    lock = threading.Lock()  # commits come from drivers of child runs too

    def after_commit(count: int) -> None:
        nonlocal committed
        with lock:
            committed += count
            if committed >= kill_after:
                os.kill(os.getpid(), signal.SIGKILL)

    return after_commit
