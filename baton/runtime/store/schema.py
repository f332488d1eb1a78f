"""The event store's tables, and the migrations that bring a database up to date.

`meta.schema_version` says which migrations a database has had. Migrations only ever
append to `MIGRATIONS`; each runs in the same transaction as the version bump, so a
database is never left between two versions.
"""

from __future__ import annotations

import sqlite3

SCHEMA_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

-- one row per run: the materialized state (without outputs) and the run's lease
CREATE TABLE runs (
  run_id TEXT PRIMARY KEY,
  workflow TEXT NOT NULL,
  version INTEGER NOT NULL,
  spec_sha256 TEXT NOT NULL,
  spec TEXT NOT NULL,
  status TEXT NOT NULL,
  parent_run_id TEXT,
  trace_id TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  state TEXT NOT NULL,
  lease_owner TEXT,
  lease_expires_ms INTEGER
);

-- the log: append-only, numbered per run; (run_id, seq) cannot repeat
CREATE TABLE events (
  run_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  step TEXT,
  attempt INTEGER,
  ts INTEGER NOT NULL,
  trace_id TEXT NOT NULL,
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

-- each validated output once, under its step's idempotency key; committed_seq is the
-- event that committed it
CREATE TABLE outputs (
  idempotency_key TEXT PRIMARY KEY,
  run_id TEXT NOT NULL,
  step TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  checksum TEXT NOT NULL,
  output TEXT NOT NULL,
  committed_seq INTEGER
);
CREATE INDEX outputs_by_run ON outputs(run_id);

-- decisions from other processes (approve, reject, cancel) for the run's driver; the
-- driver records them as events and sets `outcome` in the same transaction
CREATE TABLE inbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  step TEXT,
  principal TEXT,
  comment TEXT,
  ts INTEGER NOT NULL,
  outcome TEXT
);
CREATE INDEX inbox_open ON inbox(run_id) WHERE outcome IS NULL;
"""

# v2: fewer pages written (to the WAL, and synced) per commit. The log in a table with a
# rowid: appended events go to the end of that table and of a small index on (run_id,
# seq); in v1's table keyed by (run_id, seq) each commit's events landed in the middle of
# the tree, splitting and rewriting about four pages per commit. Outputs are looked up
# by their keys (which the log and the state hold), so the index by run goes.
SCHEMA_V2 = """
CREATE TABLE events_v2 (
  id INTEGER PRIMARY KEY,
  run_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  step TEXT,
  attempt INTEGER,
  ts INTEGER NOT NULL,
  trace_id TEXT NOT NULL,
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  UNIQUE (run_id, seq)
);
INSERT INTO events_v2(run_id, seq, step, attempt, ts, trace_id, type, data)
  SELECT run_id, seq, step, attempt, ts, trace_id, type, data FROM events ORDER BY run_id, seq;
DROP TABLE events;
ALTER TABLE events_v2 RENAME TO events;
DROP INDEX outputs_by_run;
"""

# v3: identity. `principals` holds who may decide (`baton principal`): a name, the
# sha256 of its token (never the token), when it was added and revoked. The inbox
# carries the channel a decision came through (cli; web and api are reserved).
SCHEMA_V3 = """
CREATE TABLE principals (
  name TEXT PRIMARY KEY,
  token_sha256 TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  revoked_ms INTEGER
);
ALTER TABLE inbox ADD COLUMN channel TEXT;
"""

# v4: approvals bound to what was shown. A decision in the inbox carries the sha256
# of the subject its decider saw (runtime.approval_subject).
SCHEMA_V4 = """
ALTER TABLE inbox ADD COLUMN shown_sha256 TEXT;
"""

# v5: the run's stored state is the row's last column. A commit reads the row's lease
# holder; SQLite keeps a large value's tail in a chain of overflow pages and reaches a
# column stored after it only by walking that chain, so with the state before the lease
# that read grew with the run (15 -> 169 us per step from a 1,000- to a 3,000-step
# chain). Columns before the state are read from the row's first page.
SCHEMA_V5 = """
CREATE TABLE runs_v5 (
  run_id TEXT PRIMARY KEY,
  workflow TEXT NOT NULL,
  version INTEGER NOT NULL,
  spec_sha256 TEXT NOT NULL,
  spec TEXT NOT NULL,
  status TEXT NOT NULL,
  parent_run_id TEXT,
  trace_id TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  lease_owner TEXT,
  lease_expires_ms INTEGER,
  state TEXT NOT NULL
);
INSERT INTO runs_v5(run_id, workflow, version, spec_sha256, spec, status, parent_run_id,
  trace_id, created_ms, updated_ms, last_seq, lease_owner, lease_expires_ms, state)
  SELECT run_id, workflow, version, spec_sha256, spec, status, parent_run_id, trace_id,
  created_ms, updated_ms, last_seq, lease_owner, lease_expires_ms, state FROM runs;
DROP TABLE runs;
ALTER TABLE runs_v5 RENAME TO runs;
"""

# (version, script): applied in order to databases below that version
MIGRATIONS: tuple[tuple[int, str], ...] = (
    (1, SCHEMA_V1),
    (2, SCHEMA_V2),
    (3, SCHEMA_V3),
    (4, SCHEMA_V4),
    (5, SCHEMA_V5),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


class SchemaTooNew(Exception):
    """The database was written by a newer Baton."""


def current_version(connection: sqlite3.Connection) -> int:
    has_meta = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    if not has_meta:
        return 0
    row = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def migrate(connection: sqlite3.Connection) -> None:
    """Bring the database to SCHEMA_VERSION (a connection in autocommit mode)."""
    if current_version(connection) == SCHEMA_VERSION:
        return
    connection.execute("BEGIN IMMEDIATE")
    try:
        version = current_version(connection)  # again, now that we hold the write lock
        if version > SCHEMA_VERSION:
            raise SchemaTooNew(f"schema version {version}; this Baton knows up to {SCHEMA_VERSION}")
        for target, script in MIGRATIONS:
            if target > version:
                for statement in _statements(script):
                    connection.execute(statement)
        connection.execute(
            "INSERT INTO meta(key, value) VALUES ('schema_version', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (str(SCHEMA_VERSION),),
        )
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def _statements(script: str) -> list[str]:
    # executescript() would commit the open transaction; run statement by statement
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]
