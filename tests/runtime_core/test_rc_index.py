"""The step index (`runtime.core.index`) that `apply` keeps equals one built from scratch,
at every event of random runs, and never hides a step that `decide` would move.

The random workflows are the fold property's (test_rc_fold: DAGs of echoing, failing,
flaky and malformed agents, retries, fallbacks, conditions, gates, budgets), run by the
real driver on a real SQLite file; their logs are then folded event by event.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rc_workflows import text_step, workflow
from test_rc_fold import workflows

from baton.runtime import api
from baton.runtime.core.apply import apply
from baton.runtime.core.decide import _advance, decide, steps_by_id
from baton.runtime.core.index import Graph, StepIndex, index_of, needs_of
from baton.runtime.core.plan import workflow_pin
from baton.runtime.core.state import RunState
from baton.runtime.lifecycle import TERMINAL
from baton.runtime.model import Workflow
from baton.runtime.store import Store


def _fresh(state: RunState) -> StepIndex:
    return StepIndex(Graph(state.plan, state.shape), state.steps)


def _same(kept: StepIndex, fresh: StepIndex) -> None:
    assert kept.by_state == fresh.by_state
    assert kept.ready == fresh.ready
    assert kept.unmet == fresh.unmet and kept.skipped_needs == fresh.skipped_needs
    assert kept.outputs == fresh.outputs
    assert kept.tainted == fresh.tainted
    assert kept.candidates() == fresh.candidates()


def _check_log(wf: Workflow, run_id: str, db: Any) -> int:
    """Fold the run's log event by event, checking the kept index at each; the count."""
    with Store(db) as store:
        events = store.load_events(run_id)
        loaded = store.load_state(run_id)  # from its row: no index yet, built when asked
    steps = steps_by_id(wf)
    state: RunState | None = None
    kept_once = False
    for event in events:
        state = apply(state, event)
        kept = state.__dict__.get("_step_index")
        kept_once = kept_once or kept is not None
        index = index_of(state)  # the kept one if up to date, else built now
        fresh = _fresh(state)
        _same(index, fresh)
        if state.outcome is None:
            # nothing the index leaves out would move: every step decide skips stays put
            for step_id, record in state.steps.items():
                if step_id in fresh.candidates() or record.state in TERMINAL:
                    continue
                found, due = _advance(state, steps[step_id], record, event.ts)
                assert (found, due) == (None, None), step_id
            # decide on a copy that has no index (built afresh) says the same
            copy = dataclasses.replace(state)
            assert "_step_index" not in copy.__dict__
            assert decide(wf, copy, event.ts) == decide(wf, state, event.ts)
            assert copy.status == state.status and copy.scope() == state.scope()
    assert state is not None and kept_once  # apply kept it along the way
    _same(index_of(loaded), _fresh(state))  # a stored snapshot rebuilds the same
    return len(events)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(wf=workflows(), decisions=st.lists(st.booleans(), min_size=6, max_size=6))
def test_the_kept_index_is_the_one_built_from_scratch(
    tmp_path_factory: Any, wf: Workflow, decisions: list[bool]
) -> None:
    db = tmp_path_factory.mktemp("index") / "baton.db"
    loaded = api.LoadedWorkflow(wf, workflow_pin(wf), "random")
    options = api.DriverOptions(detach=True, poll_ms=5)
    result = api.start_run(db, loaded, {"topic": "tea"}, "run", options)
    for approve in decisions:
        state = result.state
        if state.outcome is not None:
            break
        waiting = [s for s, r in state.steps.items() if r.approval and not r.approval.decision]
        if state.budget_wait is not None:
            agent = state.budget_wait["agent"]
            api.raise_budget(db, "run", agent, {str(state.budget_wait["measure"]): 1e9}, "ops")
        else:
            (api.approve if approve else api.reject)(db, "run", waiting[0], "alice", "random")
        result = api.resume_run(db, "run", lambda spec: loaded, options=options)
    assert _check_log(wf, "run", db) > 1


def test_a_redriven_run_rebuilds_its_index(tmp_path: Any) -> None:
    """`run_redriven` puts steps back to pending outside `_put`: the index is rebuilt."""
    wf = workflow("redo", text_step("a", "fail"), text_step("b", needs=("a",)))
    loaded = api.LoadedWorkflow(wf, workflow_pin(wf), "redo")
    db = tmp_path / "baton.db"
    failed = api.start_run(db, loaded, {"topic": "tea"}, "run")
    assert failed.state.outcome == "failed"
    again = api.redrive_run(db, "run", lambda spec: loaded)
    assert again.state.outcome == "failed" and again.state.redrives == 1
    assert _check_log(wf, "run", db) > 4


def test_needs_are_read_from_the_shape() -> None:
    assert needs_of("needs=a,b;output=-;workflow=-") == ("a", "b")
    assert needs_of("needs=;output=-;workflow=-") == ()
    assert needs_of("") == ()
    graph = Graph(("a", "b", "c"), {"b": "needs=a;output=-", "c": "needs=a,b;output=-"})
    assert graph.dependents == {"a": ("b", "c"), "b": ("c",), "c": ()}
    assert graph.needs == {"a": (), "b": ("a",), "c": ("a", "b")}
