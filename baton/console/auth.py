"""Who is at the console: principals' tokens, sessions, CSRF tokens, login rate limit.

A person logs in with their principal's token (`baton principal add`); the API takes
the same token as `Authorization: Bearer`. A login opens a server-side session: its
id (256 random bits) is the only thing in the cookie (HttpOnly, SameSite=Strict, and
Secure when serve may be reached remotely, i.e. behind TLS), and the session lives in
this process's memory only, so there is no signing secret to keep and a restart logs
everyone out. The token itself is never kept: the session holds its sha256, and every
request checks that sha256 against the database again, so a revoked token (and every
session opened with it) stops working at once.

Each session has its own CSRF token (another 256 random bits): every state-changing
request with a cookie must carry it (the hidden form field `csrf`, or the header
`X-CSRF-Token`). Bearer requests carry no cookie, so they need none.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from baton.runtime.identity import token_hash
from baton.runtime.store import Store

COOKIE = "baton_session"
SESSION_S = 12 * 3600
LOGIN_FAILURES = 10  # failed logins per client per window before refusing (429)
LOGIN_WINDOW_S = 60.0


@dataclass(frozen=True)
class Session:
    principal: str
    token_sha256: str
    csrf: str
    expires: float  # time.monotonic()


def principal_of(db: Path, token: str) -> tuple[str, str] | None:
    """(principal, token sha256) if `token` is a live principal's token, else None.
    Every row is compared, in constant time per row, whatever matches."""
    given = token_hash(token.strip()).encode("ascii")
    found: tuple[str, str] | None = None
    with Store(db, readonly=True) as store:
        for name, stored, _, revoked in store.principals():
            if hmac.compare_digest(given, stored.encode("ascii")) and revoked is None:
                found = (name, stored)
    return found


def still_live(db: Path, principal: str, sha256: str) -> bool:
    """Whether `principal` still holds the token whose hash is `sha256` (not revoked)."""
    with Store(db, readonly=True) as store:
        return any(
            name == principal and hmac.compare_digest(stored, sha256) and revoked is None
            for name, stored, _, revoked in store.principals()
        )


class Sessions:
    """Open sessions by id, in memory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, Session] = {}

    def open(self, principal: str, sha256: str) -> tuple[str, Session]:
        session_id = secrets.token_urlsafe(32)
        session = Session(
            principal, sha256, secrets.token_urlsafe(32), time.monotonic() + SESSION_S
        )
        with self._lock:
            self._expire()
            self._open[session_id] = session
        return session_id, session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        with self._lock:
            session = self._open.get(session_id)
            if session is not None and session.expires < time.monotonic():
                del self._open[session_id]
                return None
            return session

    def close(self, session_id: str | None) -> None:
        with self._lock:
            self._open.pop(session_id or "", None)

    def _expire(self) -> None:
        now = time.monotonic()
        for key in [k for k, s in self._open.items() if s.expires < now]:
            del self._open[key]


def csrf_ok(session: Session, given: str | None) -> bool:
    encoded = (given or "").encode("utf-8", "replace")  # any text: never a TypeError
    return bool(given) and hmac.compare_digest(session.csrf.encode(), encoded)


class LoginLimiter:
    """At most LOGIN_FAILURES failed logins per client within LOGIN_WINDOW_S; a client
    over it is refused (even with a right token) until its oldest failure ages out."""

    def __init__(self, failures: int = LOGIN_FAILURES, window_s: float = LOGIN_WINDOW_S) -> None:
        self._failures = failures
        self._window = window_s
        self._lock = threading.Lock()
        self._seen: dict[str, deque[float]] = {}

    def blocked(self, client: str) -> bool:
        with self._lock:
            recent = self._recent(client)
            return len(recent) >= self._failures

    def failed(self, client: str) -> None:
        with self._lock:
            self._recent(client).append(time.monotonic())
            if len(self._seen) > 10_000:  # a flood of clients must not grow memory forever
                self._seen = {k: v for k, v in self._seen.items() if v}

    def _recent(self, client: str) -> deque[float]:
        recent = self._seen.setdefault(client, deque())
        horizon = time.monotonic() - self._window
        while recent and recent[0] < horizon:
            recent.popleft()
        return recent
