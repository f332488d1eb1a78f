"""Folding the event log reproduces the stored state, for random map runs (hypothesis).

As test_rc_fold.py (whose invariants this checks too), with a map step: random items
(that answer, flake, fail or answer malformed output), random `max_concurrency`,
`tolerate`, retry policy and approval gate, through the real driver on a real SQLite
file. Beyond fold == stored state: each item settles once; a committed map's output
has one slot per item, null exactly for the dropped ones, at most `tolerate` of them;
no item used more attempts than its retry budget.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rc_maps import _map_workflow
from test_rc_fold import check_invariants

from baton.runtime import api
from baton.runtime.core.plan import workflow_pin
from baton.runtime.model import Approval, ApprovalStage, FailureClass, RetryPolicy, Workflow
from baton.runtime.store import Store

ITEMS = ("a", "flaky:b", "bad:c", "wrong:d")


@st.composite
def map_workflows(draw: st.DrawFn) -> Workflow:
    approval = None
    if draw(st.booleans()):
        approval = Approval("manager", draw(st.sampled_from(list(ApprovalStage))))
    retry = RetryPolicy(
        max_attempts=draw(st.integers(1, 3)),
        on=(FailureClass.AGENT_ERROR, FailureClass.MALFORMED_OUTPUT),
        initial_ms=1,
        max_ms=2,
    )
    return _map_workflow(
        "random_map",
        tolerate=draw(st.integers(0, 2)),
        concurrency=draw(st.integers(1, 3)),
        retry=retry,
        approval=approval,
    )


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    wf=map_workflows(),
    topics=st.lists(st.sampled_from(ITEMS), max_size=5),
    approve=st.booleans(),
)
def test_fold_of_a_map_run_is_the_stored_state(
    tmp_path_factory: Any, wf: Workflow, topics: list[str], approve: bool
) -> None:
    db = tmp_path_factory.mktemp("mapfold") / "baton.db"
    loaded = api.LoadedWorkflow(wf, workflow_pin(wf), "random_map")
    options = api.DriverOptions(detach=True, poll_ms=5)
    inputs = {"topics": topics, "wait_for": 1}
    result = api.start_run(db, loaded, inputs, "run", options)
    for _ in range(3):  # the gate, decided as it comes
        state = result.state
        if state.outcome is not None:
            break
        decide = api.approve if approve else api.reject
        decide(db, "run", "research_each", "alice", "random")
        result = api.resume_run(db, "run", lambda spec: loaded, options=options)
    state = api.get_state(db, "run")
    assert state.outcome is not None
    stored = state.to_json()
    check_invariants(db, wf, stored)
    step = wf.steps[1]
    assert step.map is not None
    record = state.steps["research_each"]
    with Store(db) as store:
        events = store.load_events("run")
    settled = [
        e.body.index  # type: ignore[attr-defined]
        for e in events
        if e.type in ("map_item_succeeded", "map_item_dropped")
    ]
    assert len(settled) == len(set(settled))
    if record.map is not None:
        assert record.map.items == tuple(topics)
        assert len(record.map.dropped) <= step.map.tolerate
        for item in record.map.active.values():
            assert item.attempts <= step.retry.max_attempts
    if record.state.value == "committed":
        output = record.output
        assert isinstance(output, list) and len(output) == len(topics)
        assert record.map is not None
        nulls = [i for i, slot in enumerate(output) if slot is None]
        assert nulls == sorted(record.map.dropped)
        for slot, topic in zip(output, topics, strict=True):
            assert slot is None or slot == {"summary": f"about {topic}"}
        # only items that can fail were dropped (a flaky one, when it has one attempt)
        can_fail = ("bad:", "wrong:") if step.retry.max_attempts > 1 else ("bad:", "wrong:", "fl")
        assert all(topics[i].startswith(can_fail) for i in nulls)
    attempts: dict[int, int] = {}
    for e in events:
        if e.type == "map_item_started" and not e.body.restart:  # type: ignore[attr-defined]
            index = e.body.index  # type: ignore[attr-defined]
            attempts[index] = attempts.get(index, 0) + 1
    assert all(n <= step.retry.max_attempts for n in attempts.values())
