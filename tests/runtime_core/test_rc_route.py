"""Routing: a routed step's runner is chosen once, when it becomes ready
(`route_selected`), and holds for its retries, its fallbacks and across a crash.

Real `baton` processes on a real SQLite database, the workflows of rc_routes.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rc_routes import ROUTE
from rc_support import baton, ledger, normalized, shown

from baton.runtime.core import route
from baton.runtime.core.apply import fold
from baton.runtime.model import RouteCase, Step, Template
from baton.runtime.store import Store

RUN = "rt"


def _run(tmp: Path, name: str, topic: str, expect: int, run_id: str = RUN) -> dict[str, Any]:
    result = baton(
        tmp, "run", f"rc_routes:{name}", "--input", json.dumps({"topic": topic}), "--run-id", run_id
    )
    assert result.returncode == expect, (result.stdout, result.stderr)
    _folds_to_stored(tmp, run_id)
    return shown(tmp, run_id)


def _events(tmp: Path, run_id: str = RUN) -> list[dict[str, Any]]:
    result = baton(tmp, "events", run_id, "--json")
    assert result.returncode == 0, result.stderr
    events: list[dict[str, Any]] = json.loads(result.stdout)
    return events


def _folds_to_stored(tmp: Path, run_id: str) -> None:
    with Store(tmp / "baton.db") as store:
        assert fold(store.load_events(run_id)).to_json() == store.load_state(run_id).to_json()


def _calls(tmp: Path, step: str = "handle") -> list[tuple[str, int]]:
    return [(c["agent"], c["attempt"]) for c in ledger(tmp) if c["step"] == step]


def _selected(tmp: Path, run_id: str = RUN) -> list[dict[str, Any]]:
    return [e for e in _events(tmp, run_id) if e["type"] == "route_selected"]


def test_the_first_matching_case_runs_the_step_and_its_retries(tmp_path: Path) -> None:
    state = _run(tmp_path, "ROUTE", "bug", 0)
    assert state["status"] == "succeeded"
    assert state["result"] == {"text": "handled bug!"}
    handle = state["steps"]["handle"]
    assert handle["route"] == {"case": 1, "kind": "agent", "target": "fixer"}
    assert handle["agent"] == "fixer"
    # fixer's first attempt fails; the retry is fixer's again: the choice holds
    assert _calls(tmp_path) == [("fixer", 1), ("fixer", 2)]
    selected = _selected(tmp_path)
    assert len(selected) == 1
    assert selected[0]["step"] == "handle"
    assert selected[0]["data"] == {
        "case": 1,
        "kind": "agent",
        "target": "fixer",
        "reads": {"steps.classify.output.kind": "bug"},
    }
    types = [e["type"] for e in _events(tmp_path) if e["step"] == "handle"]
    assert types[0] == "route_selected"  # recorded before the first attempt
    assert types[1] == "attempt_started"


def test_the_default_runs_when_no_condition_holds(tmp_path: Path) -> None:
    state = _run(tmp_path, "ROUTE", "question", 0)
    assert state["result"] == {"text": "handled question!"}
    assert state["steps"]["handle"]["route"] == {"case": 3, "kind": "agent", "target": "helper"}
    assert {agent for agent, _ in _calls(tmp_path)} == {"helper"}
    # both conditions were evaluated: the value they read is recorded once
    assert _selected(tmp_path)[0]["data"]["reads"] == {"steps.classify.output.kind": "question"}


def test_a_sub_workflow_case_runs_a_child_run(tmp_path: Path) -> None:
    state = _run(tmp_path, "ROUTE", "feature", 0)
    assert state["result"] == {"text": "inner feature!"}
    handle = state["steps"]["handle"]
    assert handle["route"] == {"case": 2, "kind": "workflow", "target": "route_inner"}
    assert handle["child_run_id"] == f"{RUN}:handle:1"
    assert _calls(tmp_path) == []  # no agent of the parent ran it
    assert [c["step"] for c in ledger(tmp_path) if c["run_id"] == f"{RUN}:handle:1"] == ["condense"]
    child = shown(tmp_path, f"{RUN}:handle:1")
    assert child["status"] == "succeeded"
    assert child["parent"] == {"run_id": RUN, "step": "handle"}


def test_no_match_and_no_default_fails_the_step_with_no_route(tmp_path: Path) -> None:
    state = _run(tmp_path, "ROUTE_STRICT", "question", 1)
    assert state["status"] == "failed"
    handle = state["steps"]["handle"]
    assert handle["state"] == "failed"
    assert handle["attempts"] == 0
    assert handle["route"] == {"case": 0}
    assert handle["error"]["failure"] == "no_route"
    assert state["error"]["failure"] == "no_route"
    assert state["steps"]["after"]["state"] == "cancelled"
    assert _calls(tmp_path) == []
    assert _selected(tmp_path)[0]["data"] == {
        "case": 0,
        "kind": "",
        "target": "",
        "reads": {"steps.classify.output.kind": "question"},
    }
    for command in ("show", "events", "trace"):
        result = baton(tmp_path, command, RUN)
        assert result.returncode == 0, result.stderr
        assert "no case matched" in result.stdout or "no_route" in result.stdout, command


def test_a_condition_that_cannot_be_evaluated_fails_the_run(tmp_path: Path) -> None:
    state = _run(tmp_path, "ROUTE_BROKEN", "bug", 1)
    assert state["status"] == "failed"
    assert state["error"]["failure"] == "condition_error"
    assert "route case 1" in state["error"]["message"]
    assert "nope" in state["error"]["message"]
    assert _selected(tmp_path) == []
    assert _calls(tmp_path) == []


def test_a_fallback_replaces_the_routed_agent(tmp_path: Path) -> None:
    state = _run(tmp_path, "ROUTE_FALLBACK", "bug", 0)
    assert state["result"] == {"text": "handled bug!"}
    handle = state["steps"]["handle"]
    assert handle["route"] == {"case": 1, "kind": "agent", "target": "broken"}
    assert handle["fallback"] == 1
    assert _calls(tmp_path) == [("broken", 1), ("broken", 2), ("broken", 3), ("backup", 4)]
    assert len(_selected(tmp_path)) == 1


def test_show_events_trace_and_progress_show_the_choice(tmp_path: Path) -> None:
    result = baton(
        tmp_path, "run", "rc_routes:ROUTE", "--input", '{"topic": "feature"}', "--run-id", RUN
    )
    assert result.returncode == 0, result.stderr
    assert "handle: routed: case 2: workflow route_inner" in result.stdout
    shown_text = baton(tmp_path, "show", RUN).stdout
    assert "route: case 2: workflow route_inner" in shown_text
    events = baton(tmp_path, "events", RUN).stdout
    assert "route_selected" in events
    trace = baton(tmp_path, "trace", RUN).stdout
    assert 'route: case 2: workflow route_inner (steps.classify.output.kind = "feature")' in trace


def _comparable(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in normalized(state).items() if k != "last_seq"}


@pytest.mark.parametrize("topic", ["bug", "feature"])
def test_a_crash_right_after_route_selected_resumes_to_the_same_end(
    tmp_path: Path, topic: str
) -> None:
    clean_dir = tmp_path / "clean"
    clean_dir.mkdir()
    clean = _run(clean_dir, "ROUTE", topic, 0)
    seq = next(e["seq"] for e in _selected(clean_dir))

    crash_dir = tmp_path / "crash"
    crash_dir.mkdir()
    killed = baton(
        crash_dir,
        "run",
        "rc_routes:ROUTE",
        "--input",
        json.dumps({"topic": topic}),
        "--run-id",
        RUN,
        extra_env={"BATON_TEST_KILL_AFTER_EVENT": str(seq)},
    )
    assert killed.returncode == -9, (killed.stdout, killed.stderr)
    logged = [e["type"] for e in _events(crash_dir)]
    assert "route_selected" in logged
    assert "step_committed" not in logged[logged.index("route_selected") :]
    calls_before = len(ledger(crash_dir))
    resumed = baton(crash_dir, "resume", RUN)
    assert resumed.returncode == 0, (resumed.stdout, resumed.stderr)
    _folds_to_stored(crash_dir, RUN)
    final = shown(crash_dir, RUN)
    assert final["resumes"] == 1
    assert _comparable(final) == _comparable(clean)
    # routed once: the resume kept the recorded choice
    assert len(_selected(crash_dir)) == 1
    # nothing committed before the crash ran again
    before = ledger(crash_dir)[:calls_before]
    after = ledger(crash_dir)[calls_before:]
    committed = {c["idempotency_key"] for c in before if c["step"] == "classify"}
    assert not committed & {c["idempotency_key"] for c in after}
    commits = [e["step"] for e in _events(crash_dir) if e["type"] == "step_committed"]
    assert len(commits) == len(set(commits))


def test_a_crash_right_after_a_no_match_resumes_to_no_route(tmp_path: Path) -> None:
    clean_dir = tmp_path / "clean"
    clean_dir.mkdir()
    clean = _run(clean_dir, "ROUTE_STRICT", "question", 1)
    seq = next(e["seq"] for e in _selected(clean_dir))
    crash_dir = tmp_path / "crash"
    crash_dir.mkdir()
    killed = baton(
        crash_dir,
        "run",
        "rc_routes:ROUTE_STRICT",
        "--input",
        '{"topic": "question"}',
        "--run-id",
        RUN,
        extra_env={"BATON_TEST_KILL_AFTER_EVENT": str(seq)},
    )
    assert killed.returncode == -9, (killed.stdout, killed.stderr)
    resumed = baton(crash_dir, "resume", RUN)
    assert resumed.returncode == 1, (resumed.stdout, resumed.stderr)
    _folds_to_stored(crash_dir, RUN)
    final = shown(crash_dir, RUN)
    assert _comparable(final) == _comparable(clean)
    assert len(_selected(crash_dir)) == 1


# -- the selection itself, against a simple model


KINDS = ["bug", "feature", "question"]


@settings(deadline=None)  # the first call imports the template sandbox
@given(
    cases=st.lists(
        st.tuples(st.one_of(st.none(), st.sampled_from(KINDS)), st.sampled_from(["a", "b", "c"])),
        min_size=1,
        max_size=5,
    ),
    kind=st.sampled_from(KINDS),
    workflow_target=st.booleans(),
)
def test_selection_is_the_first_matching_case(
    cases: list[tuple[str | None, str]], kind: str, workflow_target: bool
) -> None:
    step = Step(
        "handle",
        "route.yaml:1",
        route=tuple(
            RouteCase(
                when=Template(f"inputs.kind == '{value}'", True) if value else None,
                agent=None if workflow_target else target,
                workflow=target if workflow_target else None,
            )
            for value, target in cases
        ),
    )
    chosen = route.select(step, {"inputs": {"kind": kind}, "steps": {}, "run": {}})
    # the model: the first case that is a default or names this kind
    expected = next((i for i, (value, _) in enumerate(cases, start=1) if value in (None, kind)), 0)
    assert chosen.case == expected
    if expected:
        assert chosen.target == cases[expected - 1][1]
        assert chosen.kind == ("workflow" if workflow_target else "agent")
    else:
        assert (chosen.kind, chosen.target) == ("", "")
    # the conditions evaluated up to the choice read the kind (a default reads nothing)
    evaluated = cases[:expected] if expected else cases
    assert chosen.reads == ({"inputs.kind": kind} if any(v for v, _ in evaluated) else {})


def test_route_workflow_is_importable() -> None:
    assert [case.agent or case.workflow for case in ROUTE.step("handle").route] == [
        "fixer",
        "route_inner",
        "helper",
    ]


def test_a_redrive_chooses_again(tmp_path: Path) -> None:
    """A redrive starts the step afresh: its route is evaluated again (with the same
    committed outputs, the same answer: here, no case again)."""
    _run(tmp_path, "ROUTE_STRICT", "question", 1)
    retried = baton(tmp_path, "retry", RUN)
    assert retried.returncode == 1, (retried.stdout, retried.stderr)
    _folds_to_stored(tmp_path, RUN)
    state = shown(tmp_path, RUN)
    assert state["redrives"] == 1
    assert state["steps"]["handle"]["error"]["failure"] == "no_route"
    assert [e["data"]["case"] for e in _selected(tmp_path)] == [0, 0]
    assert _calls(tmp_path) == []
