"""Review loops: a reviewer judges a step's output; the producer revises with the
reviewer's feedback until a review passes, or the rounds run out (fail, accept or
escalate to a person).

Real `baton` processes on a real SQLite database; the workflows of rc_workflows.py
(`drafter` writes draft N in round N, the `auditor` reads the verdicts of the rounds
from the run's topic).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rc_support import baton, ledger, shown

from baton.runtime import api
from baton.runtime.core.apply import fold
from baton.runtime.core.review import review_key, round_key
from baton.runtime.store import Store

RUN = "rv"


def _run(tmp: Path, name: str, verdicts: str, expect: int) -> dict[str, Any]:
    topic = json.dumps({"topic": verdicts})
    result = baton(tmp, "run", f"rc_workflows:{name}", "--input", topic, "--run-id", RUN)
    assert result.returncode == expect, (result.stdout, result.stderr)
    _folds_to_stored(tmp)
    return shown(tmp, RUN)


def _folds_to_stored(tmp: Path) -> None:
    with Store(tmp / "baton.db") as store:
        assert fold(store.load_events(RUN)).to_json() == store.load_state(RUN).to_json()


def _events(tmp: Path) -> list[dict[str, Any]]:
    result = baton(tmp, "events", RUN, "--json")
    assert result.returncode == 0, result.stderr
    events: list[dict[str, Any]] = json.loads(result.stdout)
    return events


def _types(tmp: Path) -> list[str]:
    review = {"review_started", "review_passed", "revision_requested", "review_exhausted"}
    return [e["type"] for e in _events(tmp) if e["type"] in review | {"step_committed"}]


def _calls(tmp: Path) -> list[tuple[str, int]]:
    return [(c["agent"], c["attempt"]) for c in ledger(tmp) if c["step"] == "research"]


def test_a_review_that_passes_in_the_first_round_commits_at_once(tmp_path: Path) -> None:
    state = _run(tmp_path, "REVIEW", "pass", 0)
    assert state["status"] == "succeeded"
    assert state["result"] == {"text": "draft 1 of tea!"}
    research = state["steps"]["research"]
    assert research["review"]["status"] == "passed"
    assert research["review"]["rounds"] == 1
    assert research["review"]["score"] == 1.0
    assert research["review"]["feedback"] == []
    assert _calls(tmp_path) == [("drafter", 1), ("auditor", 1)]
    assert _types(tmp_path) == [
        "review_started",
        "review_passed",
        "step_committed",
        "step_committed",
    ]


def test_a_revision_gets_the_feedback_in_its_request_under_a_new_key(tmp_path: Path) -> None:
    state = _run(tmp_path, "REVIEW", "fail pass", 0)
    assert state["result"] == {"text": "draft 2 of tea!"}
    research = state["steps"]["research"]
    assert research["review"]["rounds"] == 2
    assert research["review"]["score"] == pytest.approx(2 / 3, abs=1e-4)
    assert research["review"]["feedback"] == ["fix draft 1"]
    calls = [c for c in ledger(tmp_path) if c["step"] == "research"]
    assert [(c["agent"], c.get("feedback")) for c in calls] == [
        ("drafter", []),
        ("auditor", None),
        ("drafter", ["fix draft 1"]),
        ("auditor", None),
    ]
    # keys per round, derived from the step's; the reviewer's are its own
    step_key = calls[0]["idempotency_key"]
    assert [c["idempotency_key"] for c in calls] == [
        step_key,
        review_key(step_key, 1),
        round_key(step_key, 2),
        review_key(step_key, 2),
    ]
    assert research["idempotency_key"] == round_key(step_key, 2)
    requested = [e for e in _events(tmp_path) if e["type"] == "revision_requested"]
    assert len(requested) == 1
    assert requested[0]["data"]["round"] == 1
    assert requested[0]["data"]["feedback"] == "fix draft 1"
    # show and trace say how many rounds it took
    trace = baton(tmp_path, "trace", RUN)
    assert trace.returncode == 0, trace.stderr
    assert "review round 1 (auditor): revision requested: fix draft 1" in trace.stdout
    assert "review round 2 (auditor): passed" in trace.stdout


def test_exhausted_with_fail_fails_the_step_as_review_exhausted(tmp_path: Path) -> None:
    state = _run(tmp_path, "REVIEW", "fail fail fail", 1)
    assert state["status"] == "failed"
    research = state["steps"]["research"]
    assert research["state"] == "failed"
    assert research["error"]["failure"] == "review_exhausted"
    assert research["review"]["status"] == "exhausted"
    assert research["review"]["score"] == 0.0
    assert state["steps"]["summary"]["state"] == "cancelled"
    rounds = [("drafter", n) for n in (1, 2, 3)]
    assert _calls(tmp_path) == [call for n in range(3) for call in (rounds[n], ("auditor", n + 1))]
    exhausted = [e for e in _events(tmp_path) if e["type"] == "review_exhausted"]
    assert [e["data"]["round"] for e in exhausted] == [3]
    assert exhausted[0]["data"]["on_exhausted"] == "fail"


def test_exhausted_with_accept_commits_the_last_output(tmp_path: Path) -> None:
    state = _run(tmp_path, "REVIEW_ACCEPT", "fail", 0)
    assert state["result"] == {"text": "draft 3 of tea!"}
    research = state["steps"]["research"]
    assert research["review"]["status"] == "exhausted"
    assert research["review"]["on_exhausted"] == "accept"
    assert research["review"]["score"] == 0.0


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_exhausted_with_escalate_asks_the_role(tmp_path: Path, decision: str) -> None:
    topic = json.dumps({"topic": "fail"})
    args = ("run", "rc_workflows:REVIEW_ESCALATE", "--input", topic, "--run-id", RUN, "--detach")
    result = baton(tmp_path, *args)
    assert result.returncode == 3, (result.stdout, result.stderr)  # waiting for a person
    assert "role 'manager'" in result.stdout
    assert "research: review not passed after 3 rounds: escalate" in result.stdout
    assert "waiting for a decision on its exhausted review loop" in result.stdout
    text = baton(tmp_path, "show", RUN)
    assert "review: round 3, exhausted (escalate), score 0.0" in text.stdout
    state = shown(tmp_path, RUN)
    research = state["steps"]["research"]
    assert research["state"] == "awaiting_review"
    assert research["approval"]["role"] == "manager"
    assert research["approval"]["stage"] == "escalation"
    assert research["output"] == {"text": "draft 3 of tea"}  # the last output, for the person
    assert research["review"]["verdict"] == {"verdict": "fail", "notes": "fix draft 3"}
    db = tmp_path / "baton.db"
    with pytest.raises(api.RunError, match="needs role 'manager'"):
        api.approve(db, RUN, "research", "carol")  # carol is the ceo, not a manager
    if decision == "approve":
        api.approve(db, RUN, "research", "alice")
    else:
        api.reject(db, RUN, "research", "alice", "not good enough")
    resumed = baton(tmp_path, "resume", RUN)
    state = shown(tmp_path, RUN)
    _folds_to_stored(tmp_path)
    if decision == "approve":
        assert resumed.returncode == 0, resumed.stderr
        assert state["status"] == "succeeded"
        assert state["result"] == {"text": "draft 3 of tea!"}
    else:
        assert state["status"] == "failed"
        assert state["steps"]["research"]["error"]["failure"] == "rejected"
    drafts = [c for c in _calls(tmp_path) if c[0] == "drafter"]
    assert drafts == [("drafter", 1), ("drafter", 2), ("drafter", 3)]


def test_a_verdict_that_breaks_its_handoff_fails_the_step(tmp_path: Path) -> None:
    state = _run(tmp_path, "REVIEW", "maybe", 1)
    research = state["steps"]["research"]
    assert research["state"] == "failed"
    assert research["error"]["failure"] == "malformed_output"
    assert "the review by auditor failed" in research["error"]["message"]
    assert [e["type"] for e in _events(tmp_path) if e["type"].startswith("review")] == [
        "review_started",
        "review_failed",
    ]


def test_a_redrive_starts_the_loop_over_under_keys_of_its_own(tmp_path: Path) -> None:
    state = _run(tmp_path, "REVIEW", "fail", 1)
    assert state["steps"]["research"]["error"]["failure"] == "review_exhausted"
    (tmp_path / "pass.marker").write_text("fixed")
    result = baton(tmp_path, "retry", RUN)
    assert result.returncode == 0, (result.stdout, result.stderr)
    _folds_to_stored(tmp_path)
    state = shown(tmp_path, RUN)
    assert state["status"] == "succeeded"
    assert state["result"] == {"text": "draft 1 of tea!"}
    research = state["steps"]["research"]
    assert research["review"]["rounds"] == 1 and research["review"]["feedback"] == []
    keys = [c["idempotency_key"] for c in ledger(tmp_path) if c["step"] == "research"]
    assert len(keys) == len(set(keys)) == 8  # three rounds, then one more: all new keys
    # the output shown is the redriven round's, which its checksum matches
    assert "CHECKSUM MISMATCH" not in baton(tmp_path, "show", RUN).stdout
