"""Budgets: enforce stops before the attempt that would start over a cap and the run
waits; `baton resume --raise-budget` records who raised it and the run finishes; audit
records the crossing once and goes on; SIGKILL at each budget event, then resume: the
same final state as a run that never crashed.

Real `baton` subprocesses on a real SQLite file; the workflow (`rc_workflows.BUDGETED`)
is built by hand, its `costly` python agent reports usage as a model would.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from rc_support import baton, ledger, normalized, rows, shown

from baton.runtime.core.apply import fold
from baton.runtime.store import Store

SPEC = "rc_workflows:BUDGETED"
RUN = "budget-run"
INPUT = json.dumps({"topic": "tea"})


def _events(tmp: Path) -> list[dict[str, Any]]:
    result = baton(tmp, "events", RUN, "--json")
    assert result.returncode == 0, result.stderr
    events: list[dict[str, Any]] = json.loads(result.stdout)
    return events


def _of(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [event for event in events if event["type"] == kind]


def _start(tmp: Path) -> None:
    result = baton(tmp, "run", SPEC, "--input", INPUT, "--run-id", RUN, "--detach")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "--raise-budget usd=N" in result.stdout


def test_enforce_stops_before_the_call_and_the_run_waits(tmp_path: Path) -> None:
    _start(tmp_path)
    # `c` would start at $0.03 of $0.02: its agent was never called
    assert [c["step"] for c in ledger(tmp_path) if c["agent"] == "costly"] == ["a", "b"]
    state = shown(tmp_path, RUN)
    assert state["status"] == "waiting" and state["waiting_on"] == ["budget"]
    assert state["steps"]["c"]["state"] == "pending" and state["steps"]["c"]["attempts"] == 0
    assert state["budget_wait"] == {
        "step": "c",
        "cap": "run",
        "agent": None,
        "measure": "usd",
        "spent": 0.03,
        "limit": 0.02,
    }
    # spend per step and per agent
    assert state["steps"]["a"]["usage"] == {"tokens_in": 1000, "tokens_out": 0, "cost_usd": 0.015}
    assert state["steps"]["a"]["agent"] == "costly"
    assert state["agents"]["costly"]["tokens_in"] == 2000
    exceeded = _of(_events(tmp_path), "budget_exceeded")
    assert [(e["step"], e["data"]["cap"], e["data"]["mode"]) for e in exceeded] == [
        ("c", "run", "enforce"),
        ("c", "agent", "audit"),
    ]
    status = baton(tmp_path, "status", RUN)
    assert "waiting on budget" in status.stdout and "before step c" in status.stdout
    show = baton(tmp_path, "show", RUN)
    assert "budget of the run (enforce): $0.0300 of $0.02" in show.stdout
    assert "agent costly: 2000+0 tokens, $0.0300" in show.stdout
    runs = baton(tmp_path, "runs")
    assert "waiting on budget" in runs.stdout and "$0.0300/$0.02" in runs.stdout
    # resuming without a raise changes nothing: still waiting, still no call
    again = baton(tmp_path, "resume", RUN, "--detach")
    assert again.returncode == 3 and len(ledger(tmp_path)) == 2, again.stdout


def test_resume_raise_budget_continues_and_finishes(tmp_path: Path) -> None:
    _start(tmp_path)
    raised = baton(tmp_path, "resume", RUN, "--raise-budget", "usd=1", "--as", "alice", "--detach")
    assert raised.returncode == 0, raised.stdout + raised.stderr
    assert "the run's budget raised to usd=1 by alice" in raised.stdout
    state = shown(tmp_path, RUN)
    assert state["status"] == "succeeded" and state["result"] == {"text": "c!"}
    assert state["budgets"]["run"] == {"usd": 1.0, "tokens": None, "mode": "enforce"}
    assert state["budget_wait"] is None
    [event] = _of(_events(tmp_path), "budget_raised")
    assert event["data"] == {
        "cap": "run",
        "agent": None,
        "usd": 1.0,
        "tokens": None,
        "by": "alice",
        "previous": {"usd": 0.02, "tokens": None},
    }
    assert event["ts"] > 0
    # the audited agent cap was recorded once, though two attempts started over it
    assert len(_of(_events(tmp_path), "budget_exceeded")) == 2
    assert [c["step"] for c in ledger(tmp_path) if c["agent"] == "costly"] == ["a", "b", "c"]


def test_raises_that_are_refused(tmp_path: Path) -> None:
    _start(tmp_path)
    low = baton(tmp_path, "resume", RUN, "--raise-budget", "usd=0.03")
    assert low.returncode == 2
    assert "cannot set the usd budget of the run to 0.03: $0.0300 spent already" in low.stderr
    unknown = baton(tmp_path, "resume", RUN, "--raise-budget", "usd=1", "--agent", "echo")
    assert unknown.returncode == 2
    assert "agent 'echo' has no budget to raise" in unknown.stderr
    typo = baton(tmp_path, "resume", RUN, "--raise-budget", "dollars=1")
    assert typo.returncode == 2 and "usd=N or tokens=N" in typo.stderr
    nothing = baton(tmp_path, "resume", RUN, "--agent", "costly")
    assert nothing.returncode == 2 and "--agent goes with --raise-budget" in nothing.stderr
    assert not _of(_events(tmp_path), "budget_raised")
    assert shown(tmp_path, RUN)["status"] == "waiting"


def test_a_raise_is_kept_by_later_resumes(tmp_path: Path) -> None:
    """The raised limit is state (folded from the log), not an option of one process."""
    _start(tmp_path)
    raised = baton(
        tmp_path, "resume", RUN, "--raise-budget", "tokens=2500", "--agent", "costly", "--detach"
    )
    # the agent's (audited) share was raised, the run's enforced cap still holds it
    assert raised.returncode == 3, raised.stdout + raised.stderr
    state = shown(tmp_path, RUN)
    assert state["budgets"]["agent:costly"]["tokens"] == 2500
    assert state["status"] == "waiting"
    done = baton(tmp_path, "resume", RUN, "--raise-budget", "usd=0.05", "--detach")
    assert done.returncode == 0, done.stdout + done.stderr
    state = shown(tmp_path, RUN)
    assert state["budgets"]["agent:costly"]["tokens"] == 2500  # kept
    assert state["status"] == "succeeded"
    with Store(tmp_path / "baton.db") as store:
        assert fold(store.load_events(RUN)).to_json() == store.load_state(RUN).to_json()


# -- crashes at the budget events


def _count(db: Path) -> int:
    return len(rows(db, "SELECT seq FROM events")) if db.exists() else 0


def _status(db: Path) -> str:
    if not db.exists():
        return "absent"
    try:
        found = rows(db, "SELECT status FROM runs WHERE run_id = ?", RUN)
    except sqlite3.OperationalError:  # a process is creating the database just now
        return "absent"
    return str(found[0][0]) if found else "absent"


def drive(tmp: Path, kill_after: int | None) -> str | None:
    """Run to the end: run, then (waiting on budget) resume with a raise, then resume;
    the process that commits event `kill_after` SIGKILLs itself. The type of the last
    event durable when it died (None: nothing died)."""
    db = tmp / "baton.db"
    died: str | None = None
    raised = False
    for _ in range(8):
        if _status(db) == "absent":
            args: tuple[str, ...] = ("run", SPEC, "--input", INPUT, "--run-id", RUN, "--detach")
        elif _status(db) == "waiting" and not raised:
            args = ("resume", RUN, "--raise-budget", "usd=1", "--as", "ops", "--detach")
        else:
            args = ("resume", RUN, "--detach")
        extra = {}
        if kill_after is not None and not died and kill_after > _count(db):
            extra["BATON_TEST_KILL_AFTER_EVENT"] = str(kill_after - _count(db))
        result = baton(tmp, *args, extra_env=extra)
        if "--raise-budget" in args and result.returncode in (0, 3, -9):
            raised = raised or bool(rows(db, "SELECT 1 FROM events WHERE type='budget_raised'"))
        if result.returncode == -9:
            [(died,)] = rows(db, "SELECT type FROM events ORDER BY seq DESC LIMIT 1")
        else:
            assert result.returncode in (0, 3), (args, result.stdout, result.stderr)
        if _status(db) == "succeeded":
            return died
    raise AssertionError(f"run did not finish: {_status(db)}")


def _final(tmp: Path) -> dict[str, Any]:
    with Store(tmp / "baton.db") as store:
        state = store.load_state(RUN).to_json()
        assert fold(store.load_events(RUN)).to_json() == state
    return state


@pytest.mark.parametrize("event", ["budget_exceeded", "budget_raised"])
def test_sigkill_at_a_budget_event_then_resume(tmp_path: Path, event: str) -> None:
    reference_dir = tmp_path / "reference"
    reference_dir.mkdir()
    assert drive(reference_dir, None) is None
    reference = _final(reference_dir)
    seqs = [
        seq
        for (seq,) in rows(
            reference_dir / "baton.db", "SELECT seq FROM events WHERE type = ?", event
        )
    ]
    assert seqs
    for seq in seqs:
        tmp = tmp_path / f"kill-{seq}"
        tmp.mkdir()
        # it died right after the commit that made that event durable
        assert drive(tmp, seq) == event
        final = _final(tmp)
        ignore = {"last_seq": 0}
        assert normalized(final) | ignore == normalized(reference) | ignore
        # no step's agent was called twice (the agent is not external: a call cut short
        # could be repeated, but these kills fall between attempts)
        steps = [c["step"] for c in ledger(tmp) if c["agent"] == "costly"]
        assert sorted(steps) == ["a", "b", "c"]


def test_the_run_span_carries_spend_per_agent_and_the_budgets(tmp_path: Path) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from baton.runtime import telemetry

    _start(tmp_path)
    raised = baton(tmp_path, "resume", RUN, "--raise-budget", "usd=1", "--detach")
    assert raised.returncode == 0, raised.stdout + raised.stderr
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with Store(tmp_path / "baton.db") as store:
        telemetry.export_run(store.load_events, RUN, provider)
    [run_span] = [
        span for span in exporter.get_finished_spans() if span.name.startswith("baton.run")
    ]
    attributes = dict(run_span.attributes or {})
    assert attributes["agent.costly.tokens_in"] == 3000
    assert attributes["agent.costly.cost_usd"] == pytest.approx(0.045)
    assert attributes["budget.run.usd"] == 1.0 and attributes["budget.run.mode"] == "enforce"
    assert attributes["budget.agent:costly.tokens"] == 1500
    assert attributes["budget.exceeded"] == ("agent:costly.tokens",)


def test_a_raise_reaches_the_process_that_waits_in_the_foreground(tmp_path: Path) -> None:
    import subprocess
    import time

    from rc_support import BATON, env

    args = [
        BATON,
        "run",
        SPEC,
        "--input",
        INPUT,
        "--run-id",
        RUN,
        "--db",
        str(tmp_path / "baton.db"),
    ]
    foreground = subprocess.Popen(
        args, cwd=tmp_path, env=env(tmp_path), stdout=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if (tmp_path / "baton.db").exists() and _status(tmp_path / "baton.db") == "waiting":
                break
            time.sleep(0.1)
        raised = baton(tmp_path, "resume", RUN, "--raise-budget", "usd=1", "--as", "bob")
        assert raised.returncode == 0, raised.stdout + raised.stderr
        out, _ = foreground.communicate(timeout=30)
    finally:
        foreground.kill()
    assert foreground.returncode == 0
    assert "waiting: baton resume budget-run --raise-budget usd=N" in out
    assert "the run's budget raised to usd=1 by bob" in out
    assert shown(tmp_path, RUN)["status"] == "succeeded"
