"""Review loops against a model of the loop (hypothesis): for random verdict sequences,
round budgets and `on_exhausted`, the real driver on a real SQLite file ends where a
ten-line model of the loop says, after as many rounds, having sent each round's
feedback to the next.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rc_workflows import review_workflow

from baton.runtime import api
from baton.runtime.core.apply import fold
from baton.runtime.core.plan import workflow_pin
from baton.runtime.model import OnExhausted
from baton.runtime.store import Store


def model(verdicts: list[str], max_rounds: int, on_exhausted: OnExhausted) -> tuple[str, int]:
    """(the step's final state, rounds used): the loop as the docs describe it."""
    for round_ in range(1, max_rounds + 1):
        verdict = verdicts[min(round_, len(verdicts)) - 1]  # the auditor repeats its last
        if verdict == "pass":
            return "committed", round_
    return ("failed" if on_exhausted is OnExhausted.FAIL else "committed"), max_rounds


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    verdicts=st.lists(st.sampled_from(["pass", "fail"]), min_size=1, max_size=5),
    max_rounds=st.integers(1, 4),
    on_exhausted=st.sampled_from([OnExhausted.FAIL, OnExhausted.ACCEPT]),
)
def test_the_loop_ends_as_the_model_says(
    tmp_path_factory: Any, verdicts: list[str], max_rounds: int, on_exhausted: OnExhausted
) -> None:
    db = tmp_path_factory.mktemp("review") / "baton.db"
    wf = review_workflow("review_model", on_exhausted, max_rounds)
    loaded = api.LoadedWorkflow(wf, workflow_pin(wf), "review_model")
    options = api.DriverOptions(poll_ms=5)
    api.start_run(db, loaded, {"topic": " ".join(verdicts)}, "run", options)
    state = api.get_state(db, "run")
    expected_state, rounds = model(verdicts, max_rounds, on_exhausted)
    research = state.steps["research"]
    assert research.state.value == expected_state
    assert research.review is not None
    assert research.review["rounds"] == rounds
    assert research.attempts == rounds  # the drafter never fails: one attempt a round
    # the feedback sent back: one entry per round that did not pass (the last's too,
    # when the rounds ran out)
    notes = [
        f"fix draft {n}"
        for n in range(1, rounds + (0 if research.review["status"] == "passed" else 1))
    ]
    assert research.review["feedback"] == notes
    if expected_state == "committed":
        assert state.status == "succeeded"
        assert state.result == {"text": f"draft {rounds} of tea!"}
    else:
        assert research.error is not None and research.error["failure"] == "review_exhausted"
    with Store(db) as store:
        events = store.load_events("run")
    assert fold(events).to_json() == state.to_json()
    kinds = [e.type for e in events]
    assert kinds.count("review_started") == rounds
    assert kinds.count("revision_requested") == rounds - 1
    assert kinds.count("review_passed") + kinds.count("review_exhausted") == 1
