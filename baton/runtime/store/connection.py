"""Opening the run database: for writing (WAL, synchronous=FULL, migrated to the current
schema) or for reading only (a `mode=ro` connection: no migration, no checkpoint, no
journal files it must create).

Commands that only read (`baton runs`, `status`, `show`, `events`, `trace`) open the
database read-only, so they work on a database in a directory they may not write to (a
CI artifact, another user's runs). Commands that write refuse such a database before
they write anything, with one sentence saying it is read-only.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from baton.runtime.store.errors import StoreError
from baton.runtime.store.schema import SCHEMA_VERSION, SchemaTooNew, current_version, migrate
from baton.runtime.store.writelock import turn

SQLITE_READONLY = 8  # the primary result code of every SQLITE_READONLY_* extended code


class ReadOnlyDatabase(StoreError):
    """A database this process may read but not write."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"database '{path}' is read-only ({reason}); runs cannot be recorded there: "
            "choose another with --db or BATON_DB (`baton runs`, `status` and `show` can "
            "still read this one)"
        )
        self.path = path


def open_for_writing(path: Path, shared: bool) -> sqlite3.Connection:
    """A connection in autocommit mode on a database brought to the current schema.

    `shared`: used from several threads, one at a time (the group committer).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreError(f"cannot create the directory of database '{path}': {error}") from None
    reason = _not_writable(path)
    if reason is not None:  # refuse before SQLite creates or writes any file
        raise ReadOnlyDatabase(path, reason)
    try:
        db = sqlite3.connect(path, isolation_level=None, timeout=30.0, check_same_thread=not shared)
    except sqlite3.Error as error:
        raise _cannot_open(path, error) from error
    try:
        db.execute("PRAGMA synchronous=FULL")  # this connection's setting: no lock
        if _ready(db):  # the common case: a database in WAL mode, at the current schema
            return db
        # in the writers' turn (store.writelock): switching a new file to WAL needs it
        # alone, and SQLite answers a concurrent switch "database is locked" at once,
        # without waiting (seen with ten threads opening one new database)
        with turn(path.resolve()):
            db.execute("PRAGMA journal_mode=WAL")
            migrate(db)
    except SchemaTooNew as error:
        db.close()
        raise StoreError(f"database '{path}' was written by a newer Baton: {error}") from error
    except sqlite3.Error as error:
        db.close()
        raise _cannot_open(path, error) from error
    except BaseException:
        db.close()
        raise
    return db


def _ready(db: sqlite3.Connection) -> bool:
    """Whether the database is in WAL mode at the current schema already: then opening
    it writes nothing and needs no writers' turn (each run a pool worker drives opens a
    connection; waiting for the turn put every open behind the commits in flight)."""
    (mode,) = db.execute("PRAGMA journal_mode").fetchone()
    return str(mode).lower() == "wal" and current_version(db) == SCHEMA_VERSION


def open_for_reading(path: Path) -> sqlite3.Connection:
    """A read-only connection (`mode=ro`): it never migrates, checkpoints or writes.

    A WAL database needs its `-shm` file to be read; where that file cannot be created
    (a directory this process may not write to) and no `-wal` file exists, every
    committed transaction is in the database file itself, which is then read as
    immutable (SQLite takes no locks and needs no `-shm`).
    """
    if not path.exists():
        raise StoreError(f"database '{path}' does not exist")
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    try:
        db = _connect_and_check(uri)
    except sqlite3.Error as error:
        if not (is_read_only_error(error) and not Path(f"{path}-wal").exists()):
            raise _cannot_open(path, error) from error
        try:
            db = _connect_and_check(uri + "&immutable=1")
        except sqlite3.Error as again:
            raise _cannot_open(path, again) from again
    try:
        version = current_version(db)
    except sqlite3.Error as error:
        db.close()
        raise _cannot_open(path, error) from error
    if version > SCHEMA_VERSION:
        db.close()
        raise StoreError(
            f"database '{path}' was written by a newer Baton: schema version {version}; "
            f"this Baton knows up to {SCHEMA_VERSION}"
        )
    if version == 0 and _has_tables(db):
        db.close()
        raise StoreError(
            f"cannot open database '{path}': it has no Baton tables "
            "(is it a Baton database? use --db or BATON_DB to choose another)"
        )
    return db


def is_empty(db: sqlite3.Connection) -> bool:
    """Whether the database has no tables yet (a new, empty file): it holds no runs."""
    return not _has_tables(db)


def _has_tables(db: sqlite3.Connection) -> bool:
    return (
        db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' LIMIT 1").fetchone()
        is not None
    )


def _connect_and_check(uri: str) -> sqlite3.Connection:
    # the first read opens the journal files: a connection that cannot read fails here
    db = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30.0)
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error:
        db.close()
        raise
    return db


def _not_writable(path: Path) -> str | None:
    """Why this process cannot write the database at `path` (None: it can, as far as
    the file system says; SQLite's own refusal is still reported as read-only)."""
    directory = path.parent
    try:
        if os.statvfs(directory).f_flag & os.ST_RDONLY:
            return f"'{directory}' is on a read-only file system"
    except OSError:
        pass
    if path.exists() and not os.access(path, os.W_OK):
        return "the file is not writable"
    if not os.access(directory, os.W_OK | os.X_OK):
        # SQLite creates its journal files (-wal, -shm) next to the database
        return f"its directory '{directory}' is not writable"
    return None


def _cannot_open(path: Path, error: sqlite3.Error) -> StoreError:
    if is_read_only_error(error):
        return ReadOnlyDatabase(path, f"SQLite: {error}")
    return StoreError(
        f"cannot open database '{path}': {error} "
        "(is it a Baton database? use --db or BATON_DB to choose another)"
    )


def is_read_only_error(error: sqlite3.Error) -> bool:
    """Whether SQLite refused a write because the database (or its directory, or its
    file system) is read-only: any SQLITE_READONLY_* code."""
    code = int(getattr(error, "sqlite_errorcode", 0) or 0)
    return code & 0xFF == SQLITE_READONLY
