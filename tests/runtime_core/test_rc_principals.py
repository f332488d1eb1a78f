"""Identity (`baton principal`, `approve --as X` with X's token): real `baton`
processes on a real SQLite database; the token is only ever shown once."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from rc_support import BATON, env, rows

from baton.runtime import api
from baton.runtime.core.apply import fold
from baton.runtime.store import Store

TOPIC = json.dumps({"topic": "tea"})


def run(tmp: Path, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    """`baton ARGS --db tmp/baton.db`, stdin not a terminal, BATON_TOKEN only if given."""
    values = env(tmp)
    values.pop("BATON_TOKEN", None)
    if token is not None:
        values["BATON_TOKEN"] = token
    return subprocess.run(
        [BATON, *args, "--db", str(tmp / "baton.db")],
        cwd=tmp,
        env=values,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _waiting(tmp: Path, run_id: str) -> None:
    started = run(
        tmp, "run", "rc_workflows:CRASH", "--input", TOPIC, "--run-id", run_id, "--detach"
    )
    assert started.returncode == 3, started.stdout + started.stderr


def _add(tmp: Path, name: str) -> str:
    added = run(tmp, "principal", "add", name)
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip()
    assert token.startswith("baton_") and len(token) > 40
    return token


def _approval(tmp: Path, run_id: str) -> dict[str, Any]:
    shown = run(tmp, "show", run_id, "--json")
    assert shown.returncode == 0, shown.stderr
    approval: dict[str, Any] = json.loads(shown.stdout)["steps"]["deliver"]["approval"]
    return approval


def _decisions(tmp: Path) -> int:
    return rows(
        tmp / "baton.db",
        "SELECT count(*) FROM events WHERE type IN ('approval_granted', 'approval_rejected')",
    )[0][0]


def test_add_list_revoke(tmp_path: Path) -> None:
    empty = run(tmp_path, "principal", "list")
    assert empty.returncode == 0 and "no principals" in empty.stdout
    token = _add(tmp_path, "alice")
    assert run(tmp_path, "principal", "add", "alice").returncode == 2  # the name is taken
    _add(tmp_path, "bob")
    listed = run(tmp_path, "principal", "list")
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["NAME", "CREATED", "REVOKED"]
    assert [line.split()[0] for line in lines[1:]] == ["alice", "bob"]
    assert lines[1].endswith("-")
    revoked = run(tmp_path, "principal", "revoke", "alice")
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    again = run(tmp_path, "principal", "revoke", "alice")
    assert again.returncode == 2 and again.stderr.startswith("error: ")
    assert run(tmp_path, "principal", "revoke", "nobody").returncode == 2
    after = run(tmp_path, "principal", "list").stdout.splitlines()
    assert not after[1].endswith("  -") and after[2].endswith("-")
    stored = rows(tmp_path / "baton.db", "SELECT name, token_sha256 FROM principals")
    assert all(token not in value for row in stored for value in row)
    assert token not in listed.stdout + after[1]


def test_without_principals_approval_warns_and_works(tmp_path: Path) -> None:
    _waiting(tmp_path, "r")
    approved = run(tmp_path, "approve", "r", "deliver", "--as", "alice")
    assert approved.returncode == 0, approved.stderr
    assert "approved by alice" in approved.stdout
    warnings = [line for line in approved.stderr.splitlines() if line]
    assert len(warnings) == 1 and "identity is unverified" in warnings[0]
    approval = _approval(tmp_path, "r")
    assert approval["principal"] == "alice" and approval["channel"] == "cli"


def test_with_principals_the_token_decides(tmp_path: Path) -> None:
    _waiting(tmp_path, "r")
    alice = _add(tmp_path, "alice")
    bob = _add(tmp_path, "bob")
    outputs: list[str] = []

    def refused(result: subprocess.CompletedProcess[str]) -> None:
        outputs.append(result.stdout + result.stderr)
        assert result.returncode == 2, result.stdout + result.stderr
        assert result.stdout == "" and len(result.stderr.splitlines()) == 1
        assert result.stderr.startswith("error: ")
        assert _decisions(tmp_path) == 0
        assert rows(tmp_path / "baton.db", "SELECT count(*) FROM inbox") == [(0,)]

    refused(run(tmp_path, "approve", "r", "deliver", "--as", "alice"))  # no token
    refused(run(tmp_path, "approve", "r", "deliver", "--as", "alice", token=bob))  # bob's
    refused(run(tmp_path, "approve", "r", "deliver", "--as", "alice", token=alice + "x"))
    refused(run(tmp_path, "reject", "r", "deliver", "--as", "alice", token="baton_guess"))
    assert run(tmp_path, "principal", "revoke", "bob").returncode == 0
    refused(run(tmp_path, "approve", "r", "deliver", "--as", "bob", token=bob))  # revoked
    # the role is still the roster's: carol has a token but not the role
    carol = _add(tmp_path, "carol")
    refused(run(tmp_path, "approve", "r", "deliver", "--as", "carol", token=carol))
    assert "needs role 'manager'" in outputs[-1]

    approved = run(
        tmp_path, "approve", "r", "deliver", "--as", "alice", "--comment", "ok", token=alice
    )
    outputs.append(approved.stdout + approved.stderr)
    assert approved.returncode == 0, approved.stderr
    assert "approved by alice" in approved.stdout and "unverified" not in approved.stderr
    approval = _approval(tmp_path, "r")
    assert approval["principal"] == "alice" and approval["role"] == "manager"
    assert approval["channel"] == "cli" and approval["decided_ms"] >= approval["requested_ms"]
    events = json.loads(run(tmp_path, "events", "r", "--json").stdout)
    granted = [e for e in events if e["type"] == "approval_granted"]
    assert len(granted) == 1 and granted[0]["ts"] > 0
    assert {k: granted[0]["data"][k] for k in ("principal", "role", "channel")} == {
        "principal": "alice",
        "role": "manager",
        "channel": "cli",
    }
    listed = run(tmp_path, "events", "r")
    shown = run(tmp_path, "show", "r")
    assert "channel" in listed.stdout and "via cli" in shown.stdout
    resumed = run(tmp_path, "resume", "r")
    assert resumed.returncode == 0, resumed.stderr
    outputs += [listed.stdout, shown.stdout, resumed.stdout + resumed.stderr]
    outputs.append(run(tmp_path, "events", "r", "--json").stdout)
    outputs.append(run(tmp_path, "principal", "list").stdout)

    # no token anywhere: not in the database file (nor its WAL), nor in any output
    for name in ("baton.db", "baton.db-wal"):
        path = tmp_path / name
        if path.exists():
            data = path.read_bytes()
            for token in (alice, bob, carol):
                assert token.encode() not in data
    for output in outputs:
        for token in (alice, bob, carol):
            assert token not in output


def test_fold_equals_stored_state_with_channel(tmp_path: Path) -> None:
    _waiting(tmp_path, "r")
    token = _add(tmp_path, "bob")
    approved = run(tmp_path, "approve", "r", "deliver", "--as", "bob", token=token)
    assert approved.returncode == 0, approved.stderr
    assert run(tmp_path, "resume", "r").returncode == 0
    db = tmp_path / "baton.db"
    with Store(db) as store:
        events = store.load_events("r")
    stored = api.get_state(db, "r")
    assert fold(events).to_json() == stored.to_json()
    raw = json.loads(rows(db, "SELECT state FROM runs WHERE run_id = 'r'")[0][0])
    assert raw["steps"]["deliver"]["approval"]["channel"] == "cli"
    assert stored.steps["deliver"].approval is not None
    assert stored.steps["deliver"].approval.channel == "cli"


def test_a_v2_database_migrates_to_v3_and_v2_batons_refuse_it(tmp_path: Path) -> None:
    from baton.runtime.store import schema

    db = tmp_path / "baton.db"
    with sqlite3.connect(db, isolation_level=None) as connection:  # a Baton that knew v2
        for _, script in schema.MIGRATIONS[:2]:
            for statement in schema._statements(script):
                connection.execute(statement)
        connection.execute("INSERT INTO meta VALUES ('schema_version', '2')")
    token = _add(tmp_path, "alice")  # migrates: the principals table and the inbox channel
    assert schema.SCHEMA_VERSION == 5
    assert rows(db, "SELECT value FROM meta WHERE key = 'schema_version'") == [("5",)]
    assert rows(db, "SELECT name FROM principals") == [("alice",)]
    assert "channel" in [row[1] for row in rows(db, "PRAGMA table_info(inbox)")]
    assert token.encode() not in db.read_bytes()
    with sqlite3.connect(db, isolation_level=None) as connection:  # as v2 Batons check it
        assert schema.current_version(connection) > 2


def test_on_a_terminal_the_token_is_asked_without_echo(tmp_path: Path) -> None:
    import os
    import pty

    _waiting(tmp_path, "r")
    token = _add(tmp_path, "alice")
    values = env(tmp_path)
    values.pop("BATON_TOKEN", None)
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [BATON, "approve", "r", "deliver", "--as", "alice", "--db", str(tmp_path / "baton.db")],
        cwd=tmp_path,
        env=values,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    seen = b""
    while b"token for alice" not in seen:
        chunk = os.read(controller, 1024)
        assert chunk, seen
        seen += chunk
    os.write(controller, token.encode() + b"\n")
    assert process.wait(timeout=60) == 0
    while True:
        try:
            chunk = os.read(controller, 1024)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        seen += chunk
    os.close(controller)
    assert b"approved by alice" in seen and token.encode() not in seen
    assert _approval(tmp_path, "r")["channel"] == "cli"
