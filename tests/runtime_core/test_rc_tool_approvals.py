"""Tool call approvals in the pure core and the local driver, in process: the scripted
model of rc_workflows.tool_model asks for one call of `pay` (every call needs a manager)
through the real toolbox, on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

from rc_workflows import AGENTS, PAY, TOOLED, text_step, tool_model, workflow

from baton.runtime import api
from baton.runtime.core.apply import fold
from baton.runtime.core.plan import run_started, workflow_pin
from baton.runtime.model import Map, Template
from baton.runtime.store import Store

OPTIONS = api.DriverOptions(detach=True, poll_ms=5, call_agent=tool_model)


def _loaded(*steps: object) -> api.LoadedWorkflow:
    wf = workflow("paying", *steps, agents=(*AGENTS, TOOLED), tools=(PAY,))  # type: ignore[arg-type]
    return api.LoadedWorkflow(wf, workflow_pin(wf), "paying")


def test_the_plan_lets_only_a_step_whose_agent_may_call_an_approved_tool_wait() -> None:
    loaded = _loaded(
        text_step("pays", "tooled"),
        text_step("echoes", "echo"),
        text_step(
            "maps", "tooled", map=Map(over=Template("['a', 'b']", is_expression=True), var="x")
        ),
    )
    triggers = run_started(loaded.workflow, {"topic": "t"}, loaded.pin, "paying").triggers
    assert "await_tool_approval" in triggers["pays"]
    assert "await_tool_approval" not in triggers["echoes"]
    assert "await_tool_approval" not in triggers["maps"]  # an item cannot wait


def test_a_map_item_cannot_wait_and_fails_instead_of_calling(tmp_path: Path) -> None:
    mapped = Map(over=Template("['a', 'b']", is_expression=True), var="x")
    loaded = _loaded(text_step("maps", "tooled", map=mapped))
    db = tmp_path / "baton.db"
    result = api.start_run(db, loaded, {"topic": "t"}, "run", OPTIONS)
    state = result.state
    assert state.outcome == "failed"
    with Store(db) as store:
        log = store.load_events("run")
    failed = [e.body for e in log if e.type == "map_item_failed"]
    assert failed and all("cannot wait" in f.message for f in failed)
    assert not [e for e in log if e.type in ("tool_call_started", "tool_approval_requested")]
    assert fold(log).to_json() == state.to_json()


def test_approve_then_the_call_is_made_once_and_the_step_commits(tmp_path: Path) -> None:
    from rc_workflows import PAID

    loaded = _loaded(text_step("pays", "tooled"))
    db = tmp_path / "baton.db"
    paid = len(PAID)
    result = api.start_run(db, loaded, {"topic": "t"}, "run", OPTIONS)
    assert result.state.status == "waiting" and len(PAID) == paid
    record = result.state.steps["pays"]
    assert record.approval is not None and record.approval.stage == "tool"
    api.approve(db, "run", "pays", "alice")
    result = api.resume_run(db, "run", lambda spec: loaded, options=OPTIONS)
    assert result.state.outcome == "succeeded"
    assert result.state.steps["pays"].output == {"text": "paid"}
    assert len(PAID) == paid + 1
    with Store(db) as store:
        assert fold(store.load_events("run")).to_json() == result.state.to_json()
