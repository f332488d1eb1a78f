"""Refusals a user can cause, each one clean: one `error: ...` line, exit 2, nothing
written. Real `baton` processes (bytes on the command line, another user where a
directory must be read-only for it) and real SQLite files.

Also the messages around a run: the closing line of `run` and `resume` printed once,
`status` of a run that nothing drives, an agent's traceback in its `attempt_failed`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rc_support import BATON, baton, env, ledger, rows

from baton.runtime import api
from baton.runtime.driver.attempt import TRACEBACK_CHARS
from baton.runtime.store.schema import SCHEMA_V1

TOPIC = json.dumps({"topic": "tea"})


def one_error(result: subprocess.CompletedProcess[Any], *parts: str) -> str:
    """The single `error: ...` line a refusal prints, checked for `parts`."""
    stderr = result.stderr.decode() if isinstance(result.stderr, bytes) else result.stderr
    assert result.returncode == 2, (result.stdout, stderr)
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


# -- --input that is not text


def test_input_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_bytes(b'{"topic":\n "caf\xe9"}')
    result = baton(tmp_path, "run", "rc_workflows:CRASH", "--input", "@bad.json")
    line = one_error(result)
    assert line == (
        "error: input file 'bad.json' is not UTF-8: byte 0xe9 at offset 15 (line 2) "
        "cannot be decoded"
    )
    assert not (tmp_path / "baton.db").exists() and not ledger(tmp_path)


def _run_bytes(tmp: Path, text: bytes) -> subprocess.CompletedProcess[bytes]:
    """`baton run` with `--input` given as raw bytes, as a shell passes them."""
    argv = [BATON.encode(), b"run", b"rc_workflows:CRASH", b"--input", text, b"--run-id", b"b"]
    argv += [b"--db", str(tmp / "baton.db").encode()]
    return subprocess.run(argv, cwd=tmp, env=env(tmp), capture_output=True, timeout=60)


def test_input_argument_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    result = _run_bytes(tmp_path, b'{"topic": "caf\xe9"}')
    assert one_error(result) == (
        "error: --input is not UTF-8: byte 0xe9 at character 15 cannot be decoded"
    )
    assert not (tmp_path / "baton.db").exists() and not ledger(tmp_path)


def test_input_escaping_a_lone_surrogate_is_refused_and_no_run_is_recorded(
    tmp_path: Path,
) -> None:
    # a database with a run in it already: the refusal adds no run and no event
    assert baton(tmp_path, "run", "rc_workflows:INNER", "--input", TOPIC).returncode == 0
    db = tmp_path / "baton.db"
    before = rows(db, "SELECT count(*) FROM runs"), rows(db, "SELECT count(*) FROM events")
    calls = len(ledger(tmp_path))
    result = _run_bytes(tmp_path, b'{"topic": "ok", "n": 1, "x": ["\\udc80"]}')
    assert one_error(result) == (
        "error: --input is not valid Unicode: the string at /x/0 holds the lone surrogate "
        "\\udc80 (half of a UTF-16 pair, not a character)"
    )
    assert (rows(db, "SELECT count(*) FROM runs"), rows(db, "SELECT count(*) FROM events")) == (
        before
    )
    assert len(ledger(tmp_path)) == calls


def test_the_runtime_refuses_a_lone_surrogate_itself(tmp_path: Path) -> None:
    from rc_workflows import CRASH

    loaded = api.LoadedWorkflow(CRASH, "pin", "rc_workflows:CRASH")
    db = tmp_path / "baton.db"
    with pytest.raises(api.RunError, match=r"the string at /topic holds the lone surrogate"):
        api.start_run(db, loaded, {"topic": "a\udc80"}, "r1")
    assert not db.exists()


# -- a database this process may read but not write


def _without_override() -> list[str]:
    """A command prefix under which permission bits bind: root ignores them through its
    CAP_DAC_OVERRIDE, so as root `baton` runs without it (and its kin) via setpriv."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot drop CAP_DAC_OVERRIDE")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner"]


def _reader(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`baton ARGS --db tmp/runs/baton.db`, as a process that permission bits bind."""
    return subprocess.run(
        [*_without_override(), BATON, *args, "--db", str(tmp / "runs" / "baton.db")],
        cwd=tmp,
        env=env(tmp),
        capture_output=True,
        text=True,
        timeout=60,
    )


def _probe_read_only(directory: Path) -> None:
    """Skip, saying why, if `directory` is writable even so (e.g. not root, but with
    CAP_DAC_OVERRIDE granted some other way)."""
    probe = subprocess.run([*_without_override(), "touch", str(directory / "probe")])
    if probe.returncode == 0:
        (directory / "probe").unlink()
        pytest.skip("a 0555 directory is still writable for the test's `baton` process")


@pytest.fixture
def read_only_db(tmp_path: Path) -> Iterator[Path]:
    """`runs/baton.db` with a finished run `done` and a run `waits` waiting for a
    decision, in a directory the `baton` processes below may not write to."""
    runs = tmp_path / "runs"
    runs.mkdir()
    made = baton(tmp_path, "run", "rc_workflows:INNER", "--input", TOPIC, "--run-id", "done")
    assert made.returncode == 0, made.stderr
    waiting = ("run", "rc_workflows:CRASH", "--input", TOPIC, "--run-id", "waits", "--detach")
    assert baton(tmp_path, *waiting).returncode == 3
    (tmp_path / "baton.db").rename(runs / "baton.db")
    assert sorted(p.name for p in runs.iterdir()) == ["baton.db"]  # WAL checkpointed
    runs.chmod(0o555)
    try:
        _probe_read_only(runs)
        yield runs / "baton.db"
    finally:
        runs.chmod(0o755)  # so that pytest can remove it


def test_run_on_a_read_only_database_is_refused_before_writing(read_only_db: Path) -> None:
    tmp = read_only_db.parent.parent
    before = read_only_db.read_bytes()
    result = _reader(tmp, "run", "rc_workflows:INNER", "--input", TOPIC, "--run-id", "new")
    line = one_error(result, f"database '{read_only_db}' is read-only")
    assert f"its directory '{read_only_db.parent}' is not writable" in line
    assert result.stdout == ""  # no progress line: nothing was started
    for args in (("approve", "waits", "deliver", "--as", "alice"), ("cancel", "waits")):
        one_error(_reader(tmp, *args), "is read-only")
    assert read_only_db.read_bytes() == before
    assert sorted(p.name for p in read_only_db.parent.iterdir()) == ["baton.db"]


def test_a_read_only_database_can_still_be_read(read_only_db: Path) -> None:
    tmp = read_only_db.parent.parent
    before = read_only_db.read_bytes()
    runs = _reader(tmp, "runs")
    assert runs.returncode == 0, runs.stderr
    assert [line.split()[:3] for line in runs.stdout.splitlines()[1:]] == [
        ["waits", "crashy", "v1"],
        ["done", "inner", "v1"],
    ]
    status = _reader(tmp, "status", "waits")
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines()[0] == "run waits: crashy v1, waiting"
    assert "deliver: awaiting_approval (needs role 'manager')" in status.stdout
    shown = _reader(tmp, "show", "done", "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["result"] == {"text": "short tea"}
    events = _reader(tmp, "events", "done", "--json")
    assert events.returncode == 0 and json.loads(events.stdout)[-1]["type"] == "run_succeeded"
    trace = _reader(tmp, "trace", "done")
    assert trace.returncode == 0 and trace.stdout.startswith("run done: inner v1, succeeded")
    one_error(_reader(tmp, "status", "nope"), "unknown run 'nope'")
    # read-only for real: no checkpoint, no journal files, not a byte changed
    assert read_only_db.read_bytes() == before
    assert sorted(p.name for p in read_only_db.parent.iterdir()) == ["baton.db"]


def test_a_read_only_file_is_refused_for_writing_and_read(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    made = baton(tmp_path, "run", "rc_workflows:INNER", "--input", TOPIC, "--run-id", "one")
    assert made.returncode == 0
    db = tmp_path / "runs" / "baton.db"
    (tmp_path / "baton.db").rename(db)
    db.chmod(0o444)
    before = db.read_bytes()
    refused = _reader(tmp_path, "run", "rc_workflows:INNER", "--input", TOPIC)
    one_error(refused, f"database '{db}' is read-only (the file is not writable)")
    listed = _reader(tmp_path, "runs")
    assert listed.returncode == 0 and "inner v1" in listed.stdout
    assert db.read_bytes() == before


def test_readers_never_migrate_an_older_database(tmp_path: Path) -> None:
    """A schema-1 database (the log in a table keyed by run and seq) is read as it is."""
    made = baton(tmp_path, "run", "rc_workflows:INNER", "--input", TOPIC, "--run-id", "old")
    assert made.returncode == 0
    old = tmp_path / "v1.db"
    import sqlite3

    from baton.runtime.store.rows import RUN_COLUMNS

    with sqlite3.connect(old) as db:
        db.executescript(SCHEMA_V1)
        db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
        db.execute("ATTACH ? AS v2", (str(tmp_path / "baton.db"),))
        db.execute(f"INSERT INTO runs({RUN_COLUMNS}) SELECT {RUN_COLUMNS} FROM v2.runs")
        db.execute(
            "INSERT INTO events SELECT run_id, seq, step, attempt, ts, trace_id, type, data "
            "FROM v2.events"
        )
        db.execute("INSERT INTO outputs SELECT * FROM v2.outputs")
    before = old.read_bytes()
    for args in (("status", "old"), ("show", "old", "--json"), ("runs",)):
        result = subprocess.run(
            [BATON, *args, "--db", str(old)], capture_output=True, text=True, env=env(tmp_path)
        )
        assert result.returncode == 0, result.stderr
    assert old.read_bytes() == before
    assert rows(old, "SELECT value FROM meta WHERE key = 'schema_version'") == [("1",)]


# -- the closing line of `run` and `resume`


def test_the_closing_line_is_printed_once(tmp_path: Path) -> None:
    start = ("run", "rc_workflows:CRASH", "--input", TOPIC, "--run-id", "c", "--detach")
    assert baton(tmp_path, *start).returncode == 3
    assert baton(tmp_path, "approve", "c", "deliver", "--as", "alice").returncode == 0
    resumed = baton(tmp_path, "resume", "c")
    assert resumed.returncode == 0, resumed.stderr
    ends = [line for line in resumed.stdout.splitlines() if line.startswith("run c ")]
    assert ends == [
        "run c resumed",
        'run c succeeded; result: {"text":"fetch: tea+l|fetch: tea+r!"}',
    ]

    failed = baton(tmp_path, "run", "rc_workflows:NOT_RETRIED", "--input", TOPIC, "--run-id", "f")
    assert failed.returncode == 1
    assert [line for line in failed.stdout.splitlines() if line.startswith("run f ")] == [
        "run f started: not_retried v1",
        "run f failed: step 'rejected_class' failed: the builtin agent 'fail' always fails",
    ]


def test_a_child_runs_end_is_still_a_progress_line(tmp_path: Path) -> None:
    result = baton(tmp_path, "run", "rc_workflows:PARENT", "--input", TOPIC, "--run-id", "p")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("[p:child:1] run p:child:1 succeeded: result ") for line in lines)
    assert len([line for line in lines if line.startswith("run p succeeded")]) == 1
    assert lines[-1].startswith("run p succeeded; result: ")


# -- `status` of a run that nothing drives


def test_status_says_when_nothing_drives_a_run(tmp_path: Path) -> None:
    start = ("run", "rc_workflows:CRASH", "--input", TOPIC, "--run-id", "i", "--detach")
    assert baton(tmp_path, *start).returncode == 3
    waiting = baton(tmp_path, "status", "i")
    assert waiting.returncode == 0 and "idle" not in waiting.stdout  # it waits for a person
    assert baton(tmp_path, "approve", "i", "deliver", "--as", "alice").returncode == 0
    approved = baton(tmp_path, "status", "i")
    assert approved.returncode == 0
    assert approved.stdout.splitlines()[0] == "run i: crashy v1, running"
    assert approved.stdout.splitlines()[-1] == (
        "idle: no process is driving this run; continue it with `baton resume i`"
    )
    assert baton(tmp_path, "resume", "i").returncode == 0
    assert "idle" not in baton(tmp_path, "status", "i").stdout


def test_status_of_a_killed_run_is_idle_and_of_a_driven_run_is_not(tmp_path: Path) -> None:
    # killed once its first attempt is durable: `nap` (a 60 s sleep) never ran
    kill = {"BATON_TEST_KILL_AFTER_EVENT": "2"}
    start = ("run", "rc_workflows:LONG", "--input", TOPIC, "--run-id", "k")
    assert baton(tmp_path, *start, extra_env=kill).returncode == -9
    status = baton(tmp_path, "status", "k")
    assert status.stdout.splitlines()[0] == "run k: long v1, running"
    assert status.stdout.splitlines()[-1] == (
        "idle: no process is driving this run; continue it with `baton resume k`"
    )

    driving = subprocess.Popen(
        [BATON, "resume", "k", "--db", str(tmp_path / "baton.db")],
        cwd=tmp_path,
        env=env(tmp_path),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert driving.stdout is not None
        while "attempt 1: interrupted attempt run again" not in driving.stdout.readline():
            pass  # `nap` sleeps now, in the resuming process
        while_driven = baton(tmp_path, "status", "k")
        assert while_driven.returncode == 0
        assert "idle" not in while_driven.stdout, while_driven.stdout
    finally:
        assert baton(tmp_path, "cancel", "k").returncode == 0
        assert driving.wait(timeout=60) == 1


def test_a_child_run_waiting_for_a_person_keeps_its_parent_from_idling(tmp_path: Path) -> None:
    from rc_workflows import CRASH, PARENT

    parent = PARENT
    db = tmp_path / "baton.db"
    child = {"inner": CRASH}
    loaded = api.LoadedWorkflow(parent, "pin", "rc_workflows:PARENT", child.__getitem__)
    options = api.DriverOptions(detach=True)
    os.environ["BATON_LEDGER"] = str(tmp_path / "ledger.jsonl")
    try:
        result = api.start_run(db, loaded, {"topic": "tea"}, "pp", options)
    finally:
        del os.environ["BATON_LEDGER"]
    assert result.detached and result.state.status == "running"  # its child step runs
    assert not api.is_idle(db, api.get_state(db, "pp"))
    child_id = result.state.steps["child"].child_run_id
    assert child_id is not None and api.get_state(db, child_id).status == "waiting"
    api.approve(db, child_id, "deliver", "alice")
    assert api.is_idle(db, api.get_state(db, "pp"))  # now only `resume` moves it


# -- an agent's exception


def test_an_agent_exception_keeps_its_traceback(tmp_path: Path) -> None:
    result = baton(tmp_path, "run", "rc_broken:BROKEN", "--input", TOPIC, "--run-id", "x")
    assert result.returncode == 1
    assert "parse: attempt 1 failed (agent_error): python agent 'rc_broken:explode' raised " in (
        result.stdout
    )
    log = json.loads(baton(tmp_path, "events", "x", "--json").stdout)
    [failed] = [event for event in log if event["type"] == "attempt_failed"]
    trace = failed["data"]["traceback"]
    assert trace.startswith("Traceback (most recent call last):\n")
    assert 'rc_broken.py", line' in trace and "in explode" in trace and "in _parse" in trace
    assert trace.rstrip().endswith("ValueError: cannot parse 'parse: tea'")
    assert "baton/runtime" not in trace  # the agent's own frames, not Baton's
    state = json.loads(baton(tmp_path, "show", "x", "--json").stdout)
    assert state["steps"]["parse"]["error"]["traceback"] == trace
    text = baton(tmp_path, "events", "x").stdout.splitlines()
    at = next(i for i, line in enumerate(text) if "attempt_failed" in line)
    assert "traceback" not in text[at]
    assert text[at + 1] == "      | Traceback (most recent call last):"
    assert text[at + 1 + len(trace.rstrip().splitlines()) - 1].endswith("cannot parse 'parse: tea'")


def test_an_agent_traceback_is_bounded(tmp_path: Path) -> None:
    result = baton(tmp_path, "run", "rc_broken:DEEP", "--input", TOPIC, "--run-id", "d")
    assert result.returncode == 1
    log = json.loads(baton(tmp_path, "events", "d", "--json").stdout)
    [failed] = [event for event in log if event["type"] == "attempt_failed"]
    trace = failed["data"]["traceback"]
    head, _, kept = trace.partition("\n")
    assert head.startswith("[") and head.endswith(" characters cut]")
    assert len(kept) == TRACEBACK_CHARS
    assert kept.endswith("x" * 100 + "\n")  # the end, where it was raised, is kept


def test_other_failures_have_no_traceback(tmp_path: Path) -> None:
    start = ("run", "rc_workflows:CRASH", "--input", TOPIC, "--run-id", "o", "--detach")
    assert baton(tmp_path, *start).returncode == 3
    log = json.loads(baton(tmp_path, "events", "o", "--json").stdout)
    failures = [event for event in log if event["type"] == "attempt_failed"]
    assert failures  # the flaky builtin failed once
    assert all(event["data"]["traceback"] is None for event in failures)


# -- the crash tests' hook


def test_the_kill_hook_is_the_stores_after_commit(tmp_path: Path) -> None:
    from rc_workflows import INNER

    counted: list[int] = []
    loaded = api.LoadedWorkflow(INNER, "pin", "rc_workflows:INNER")
    options = api.DriverOptions(after_commit=counted.append)
    result = api.start_run(tmp_path / "baton.db", loaded, {"topic": "tea"}, "h", options)
    assert result.state.status == "succeeded"
    assert sum(counted) == result.state.last_seq  # every event, counted once
    assert len(counted) >= 2  # the run's start is a commit of its own


def test_a_bad_kill_hook_value_is_a_usage_error(tmp_path: Path) -> None:
    result = baton(
        tmp_path,
        "run",
        "rc_workflows:INNER",
        "--input",
        TOPIC,
        extra_env={"BATON_TEST_KILL_AFTER_EVENT": "soon"},
    )
    assert result.returncode == 2
    assert "BATON_TEST_KILL_AFTER_EVENT must be a whole number, not 'soon'" in result.stderr
    assert not (tmp_path / "baton.db").exists()


# -- a spec file's pin does not depend on the working directory


def test_resume_from_another_directory_is_not_a_spec_change(tmp_path: Path) -> None:
    from rc_support import ROOT

    project = tmp_path / "project"
    shutil.copytree(ROOT / "specs", project / "specs")
    db = str(tmp_path / "baton.db")

    def run_in(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [BATON, *args, "--db", db],
            cwd=cwd,
            env=env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )

    inputs = json.dumps({"topic": "tea", "client": "acme"})
    start = ("run", "specs/research_report.yaml", "--input", inputs, "--run-id", "w", "--detach")
    assert run_in(project, *start).returncode == 3
    assert run_in(tmp_path, "approve", "w", "deliver", "--as", "alice").returncode == 0
    resumed = run_in(project / "specs", "resume", "w")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.splitlines()[-1].startswith("run w succeeded; result: ")
