"""Principals: who may decide a gate, each proven by a token (`baton principal`).

A token is 32 random bytes (`secrets.token_urlsafe(32)`, prefixed `baton_`), shown once
when its principal is added. The database keeps only its sha256: a keyed or slow hash
(HMAC, bcrypt, argon2) guards guessable secrets such as passwords, and a 256-bit random
token cannot be guessed, so a plain sha256 leaks nothing usable. Tokens are compared
with `hmac.compare_digest`. Roles are not here: they come from the roster's `approvers`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path

from baton.runtime.store import Store

TOKEN_PREFIX = "baton_"
CHANNELS = ("cli", "web", "api", "mcp")  # how a decision came (mcp: `baton mcp serve`)


@dataclass(frozen=True)
class Principal:
    """A row of `baton principal list` (never the token or its hash)."""

    name: str
    created_ms: int
    revoked_ms: int | None

    @property
    def revoked(self) -> bool:
        return self.revoked_ms is not None


class IdentityError(Exception):
    """A principal cannot be added or revoked, or a token does not prove who it claims."""


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add(db: Path, name: str, now_ms: int) -> str:
    """Add principal `name`; its token, to show once (only its hash is stored)."""
    if not name.strip() or name != name.strip():
        raise IdentityError("a principal needs a name without leading or trailing spaces")
    token = new_token()
    with Store(db) as store:
        if not store.add_principal(name, token_hash(token), now_ms):
            raise IdentityError(f"principal '{name}' already exists")
    return token


def revoke(db: Path, name: str, now_ms: int) -> None:
    with Store(db) as store:
        if not store.revoke_principal(name, now_ms):
            raise IdentityError(f"no principal '{name}' to revoke (unknown or already revoked)")


def listing(db: Path) -> list[Principal]:
    if not db.exists():
        return []
    with Store(db) as store:  # writable: an older database gets the principals table
        return [
            Principal(name, created, revoked) for name, _, created, revoked in store.principals()
        ]


def enforced(db: Path) -> bool:
    """Whether decisions need a token: some principal exists that is not revoked."""
    return any(not principal.revoked for principal in listing(db))


def verify(db: Path, name: str, token: str) -> None:
    """IdentityError unless `token` is the live token of principal `name`. The message
    never holds the token, and says the same for an unknown name, a revoked principal
    and a wrong token."""
    given = token_hash(token.strip()).encode("ascii")
    ok = False
    with Store(db) as store:
        for row_name, stored, _, revoked in store.principals():
            match = hmac.compare_digest(given, stored.encode("ascii"))
            if row_name == name and match and revoked is None:
                ok = True
    if not ok:
        raise IdentityError(f"the token does not prove principal '{name}' (wrong, or revoked)")
