"""Who drives a run: a lease in the run's row (owner id + expiry), renewed while held.

Only the lease holder appends to a run's log (the store checks the owner inside every
append transaction, so a process that lost its lease cannot write). A lease whose
holder is a dead process on this host is taken over at once; otherwise it must expire.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass

DEFAULT_LEASE_MS = 30_000


def lease_ms() -> int:
    """How long a lease lasts unless renewed (`BATON_LEASE_MS`, for tests)."""
    return int(os.environ.get("BATON_LEASE_MS", DEFAULT_LEASE_MS))


def new_owner() -> str:
    """A lease owner id: host, process, and a nonce (one per driver)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder_is_dead(owner: str) -> bool:
    """Whether `owner` was a process on this host that no longer exists."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, someone else's
    return False


def is_live(holder: str | None, expires_ms: int | None, now_ms: int) -> bool:
    """Whether a lease (or a worker's heartbeat) held by `holder` until `expires_ms` is
    live: held, not expired, and not by a dead process on this host."""
    return holder is not None and (expires_ms or 0) > now_ms and not holder_is_dead(holder)


@dataclass(frozen=True)
class LeaseHolder:
    """The process that holds a run's lease, for messages."""

    owner: str
    expires_ms: int

    def describe(self, now_ms: int) -> str:
        host, _, rest = self.owner.partition(":")
        pid = rest.partition(":")[0]
        seconds = max(0, (self.expires_ms - now_ms) // 1000)
        return f"process {pid} on {host} (lease expires in {seconds}s)"
