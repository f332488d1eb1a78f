"""What the runtime's hot path skips, and why it still holds: the run's row rewritten
only now and then (readers fold the rest of the log), a run created by its driver's
first commit, the lease released by a run's last commit, the process's group committer
kept open between runs (never on a replaced file), builtin agents run in the driver's
thread, the log in a table that appends (schema 2, migrated from 1)."""

from __future__ import annotations

import itertools
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from rc_support import baton, normalized, rows
from rc_workflows import CRASH, SLOW, text_step, workflow

from baton.runtime import api
from baton.runtime.core import events as ev
from baton.runtime.core.apply import apply, fold
from baton.runtime.core.plan import run_started, workflow_pin
from baton.runtime.driver.attempt import default_call_agent
from baton.runtime.driver.local import DriverOptions, LocalDriver
from baton.runtime.store import RunExists, Store
from baton.runtime.store.records import Batch
from baton.runtime.store.rows import RUN_COLUMNS
from baton.runtime.store.schema import SCHEMA_V1, SCHEMA_VERSION, _statements

CHAIN = workflow(
    "chain",
    *(
        text_step(f"s{i}", needs=(f"s{i - 1}",) if i else (), input={"text": f"s{i}"})
        for i in range(12)
    ),
    result="s11",
)


def _stored(db: Path, run_id: str) -> tuple[dict[str, Any], str | None]:
    with sqlite3.connect(db) as connection:
        state, owner = connection.execute(
            "SELECT state, lease_owner FROM runs WHERE run_id = ?", (run_id,)
        ).fetchone()
    return json.loads(state), owner


def test_a_state_behind_its_log_is_folded_forward(tmp_path: Path) -> None:
    db = tmp_path / "baton.db"
    with Store(db) as store:
        event = ev.Event(1, "r", 1000, "trace", run_started(CRASH, {"topic": "t"}, "pin", "s"))
        state = apply(None, event)
        store.create_run(event, state, "me", 1000)
        log = [event]
        for body in (ev.RunResumed(owner="me", spec_sha256="pin"), ev.CancelRequested(by="x")):
            event = ev.Event(state.last_seq + 1, "r", 2000, "trace", body)
            state = apply(state, event)
            log.append(event)
            store.append_many([Batch([event], state, "me", 2000, snapshot=False)])
        raw, _ = _stored(db, "r")
        assert raw["last_seq"] == 1  # the row still holds the state of event 1
        loaded = store.load_state("r")
        assert loaded.to_json() == fold(log).to_json() == state.to_json()
        assert loaded.cancel_requested and loaded.resumes == 1
        [summary] = store.list_runs()
        assert summary.updated_ms == 2000


def test_a_finished_run_has_its_whole_state_in_its_row(tmp_path: Path) -> None:
    db = tmp_path / "baton.db"
    loaded = api.LoadedWorkflow(CHAIN, workflow_pin(CHAIN), "chain")
    result = api.start_run(db, loaded, {"topic": "tea"}, "run")
    assert result.state.outcome == "succeeded"
    raw, owner = _stored(db, "run")
    assert owner is None  # the last commit released the lease
    with Store(db) as store:
        events = store.load_events("run")
    assert raw["last_seq"] == len(events) and raw["status"] == "succeeded"
    assert raw == json.loads(fold(events).stored_json())
    assert all(record["output"] is None for record in raw["steps"].values())


def test_a_taken_run_id_is_refused_at_the_first_commit(tmp_path: Path) -> None:
    db = tmp_path / "baton.db"
    loaded = api.LoadedWorkflow(CHAIN, workflow_pin(CHAIN), "chain")
    api.start_run(db, loaded, {"topic": "tea"}, "run")
    with Store(db) as store:
        before = store.load_events("run")
    try:
        api.start_run(db, loaded, {"topic": "coffee"}, "run")
    except RunExists:
        pass
    else:
        raise AssertionError("a run id was started twice")
    with Store(db) as store:
        assert store.load_events("run") == before


def test_a_replaced_database_file_is_never_written_through_an_old_connection(
    tmp_path: Path,
) -> None:
    db = tmp_path / "baton.db"
    loaded = api.LoadedWorkflow(CHAIN, workflow_pin(CHAIN), "chain")
    api.start_run(db, loaded, {"topic": "tea"}, "one")  # leaves its committer open
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    api.start_run(db, loaded, {"topic": "tea"}, "two")
    with Store(db) as store:
        assert [run.run_id for run in store.list_runs()] == ["two"]
        assert store.load_state("two").outcome == "succeeded"


def test_only_agents_that_answer_at_once_run_in_the_driver_thread(tmp_path: Path) -> None:
    wf = workflow(
        "mixed",
        text_step("echoed"),
        text_step("slept", "sleep"),
    )
    with Store(tmp_path / "baton.db") as store:
        driver = LocalDriver(store, wf)
        assert driver.options.call_agent is default_call_agent
        assert driver._inline(wf.step("echoed"))
        assert not driver._inline(wf.step("slept"))  # it waits: a worker thread
        custom = LocalDriver(store, wf, DriverOptions(call_agent=lambda call: None))
        assert not custom._inline(wf.step("echoed"))  # a caller's own agents: threads
        assert not LocalDriver(store, SLOW)._inline(SLOW.step("s0"))


def test_a_version_1_database_is_migrated_with_its_log(tmp_path: Path) -> None:
    current = tmp_path / "now.db"
    loaded = api.LoadedWorkflow(CHAIN, workflow_pin(CHAIN), "chain")
    api.start_run(current, loaded, {"topic": "tea"}, "run")
    old = tmp_path / "old.db"  # the same run, in a database of schema version 1
    with sqlite3.connect(old) as db:
        for statement in _statements(SCHEMA_V1):
            db.execute(statement)
        db.execute("INSERT INTO meta(key, value) VALUES ('schema_version', '1')")
        db.execute("ATTACH DATABASE ? AS now", (str(current),))
        db.execute(f"INSERT INTO runs({RUN_COLUMNS}) SELECT {RUN_COLUMNS} FROM now.runs")
        db.execute(
            "INSERT INTO events SELECT run_id, seq, step, attempt, ts, trace_id, type, data "
            "FROM now.events"
        )
        db.execute("INSERT INTO outputs SELECT * FROM now.outputs")
    with Store(old) as store, Store(current) as reference:
        assert store.load_events("run") == reference.load_events("run")
        assert store.load_state("run").to_json() == reference.load_state("run").to_json()
    with sqlite3.connect(old) as db:
        [version] = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        indexes = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
        columns = [row[1] for row in db.execute("PRAGMA table_info(runs)")]
    assert version == str(SCHEMA_VERSION) == "5"
    assert "outputs_by_run" not in indexes and "events_v2" not in indexes
    assert "principals" in indexes  # v3: identity
    assert columns[-1] == "state" and "runs_v5" not in indexes  # v5: the state last


def _long_chain(steps: int) -> api.LoadedWorkflow:
    chain = workflow(
        "long_chain",
        *(
            text_step(f"s{i}", needs=(f"s{i - 1}",) if i else (), input={"text": f"s{i}"})
            for i in range(steps)
        ),
        result=f"s{steps - 1}",
    )
    return api.LoadedWorkflow(chain, workflow_pin(chain), "long_chain")


def test_the_row_is_rewritten_once_per_steps_worth_of_events(tmp_path: Path) -> None:
    """The stored state is rewritten when as many events as the run has steps (at least
    128) followed it: each step's share of the rewrites does not grow with the run. At
    every commit, the row's state folded forward with the log is the fold of the log."""
    db = tmp_path / "baton.db"
    steps = 300
    snapshots: list[int] = []  # the row's last_seq after each commit, when it moved
    checks = 0

    def after_commit(count: int) -> None:
        nonlocal checks
        with sqlite3.connect(db) as connection:
            (seq,) = connection.execute("SELECT last_seq FROM runs").fetchone()
        if not snapshots or snapshots[-1] != seq:
            snapshots.append(seq)
            with Store(db) as store:  # right after a rewrite: the row is the fold
                assert store.load_state("run").to_json() == fold(store.load_events("run")).to_json()
                checks += 1

    options = DriverOptions(after_commit=after_commit)
    result = api.start_run(db, _long_chain(steps), {"topic": "t"}, "run", options)
    assert result.state.outcome == "succeeded"
    events = result.state.last_seq
    assert events > 3 * steps  # started, validated and committed per step, at least
    gaps = [later - earlier for earlier, later in itertools.pairwise(snapshots)]
    # the last rewrite is the run's end (a status change), however near the one before
    assert gaps[:-1] and all(gap >= steps for gap in gaps[:-1]), snapshots
    assert len(snapshots) <= events // steps + 2 < events // 128, snapshots
    assert snapshots[-1] == events and checks == len(snapshots)


@pytest.mark.parametrize("kill_after", [150, 151, 302, 305, 306])
def test_a_crash_around_a_rewrite_of_the_row_resumes_to_the_same_run(
    tmp_path: Path, kill_after: int
) -> None:
    """SIGKILL right after the commit that makes event N durable, around the commits
    that rewrite a 150-step run's row (at events 1, 154 and 306 here): the row is then
    149 events behind the log (N=150), just rewritten (151, 305, 306) or 148 behind
    (302). `baton resume` ends the run as one that never crashed, and the stored state
    is the fold of the log."""
    start = ("run", "rc_workflows:CHAIN_150", "--input", '{"topic": "t"}', "--run-id", "r")
    crashed = baton(tmp_path, *start, extra_env={"BATON_TEST_KILL_AFTER_EVENT": str(kill_after)})
    assert crashed.returncode == -9, crashed.stderr
    at_crash = rows(tmp_path / "baton.db", "SELECT seq, type FROM events ORDER BY seq")
    [(row_seq,)] = rows(tmp_path / "baton.db", "SELECT last_seq FROM runs")
    assert row_seq <= len(at_crash)  # the row as of some event: the log's end, or before
    assert len(at_crash) >= kill_after
    resumed = baton(tmp_path, "resume", "r")
    assert resumed.returncode == 0, resumed.stderr
    final = rows(tmp_path / "baton.db", "SELECT seq, type FROM events ORDER BY seq")
    assert final[: len(at_crash)] == at_crash  # nothing lost or rewritten
    assert [seq for seq, _ in final] == list(range(1, len(final) + 1))
    with Store(tmp_path / "baton.db") as store:
        state = store.load_state("r")
        assert state.outcome == "succeeded"
        assert state.to_json() == fold(store.load_events("r")).to_json()
    reference = tmp_path / "reference"
    reference.mkdir()
    assert baton(reference, *start).returncode == 0
    with Store(reference / "baton.db") as store:
        clean = store.load_state("r")
    ignore = {"last_seq": 0}  # a resumed run has its `run_resumed` (and restarts) more
    assert normalized(state.to_json()) | ignore == normalized(clean.to_json()) | ignore
