"""A reviewer that read untrusted data writes untrusted feedback: it reaches the producer
sanitized and wrapped as `<untrusted source="review.STEP">`, and the revised output is
tainted by it (runtime.driver.review). Real `baton` processes, rc_review_taint.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rc_review_taint import NOTES
from rc_support import baton, ledger, shown

from baton.runtime.core.apply import fold
from baton.runtime.sanitize import sanitize
from baton.runtime.store import Store

RUN = "rt"
WRAPPED = '<untrusted source="review.research">'


def _run(tmp: Path, name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    topic = json.dumps({"topic": "tea"})
    result = baton(tmp, "run", f"rc_review_taint:{name}", "--input", topic, "--run-id", RUN)
    assert result.returncode == 0, (result.stdout, result.stderr)
    with Store(tmp / "baton.db") as store:
        assert fold(store.load_events(RUN)).to_json() == store.load_state(RUN).to_json()
    events = json.loads(baton(tmp, "events", RUN, "--json").stdout)
    return shown(tmp, RUN), events


def test_a_tainted_reviewers_feedback_is_sanitized_wrapped_and_taints_the_revision(
    tmp_path: Path,
) -> None:
    state, events = _run(tmp_path, "TAINTED")
    # the output under review reached the reviewer as untrusted text
    reviews = [c for c in ledger(tmp_path) if c["agent"] == "steered"]
    assert reviews[0]["input"]["draft"].startswith('<untrusted source="output.text">draft 1')
    # the feedback recorded and sent back: wrapped, the injected line neutralized
    (revision,) = [e for e in events if e["type"] == "revision_requested"]
    feedback = revision["data"]["feedback"]
    assert feedback == sanitize("review.research", NOTES, 10**6)
    assert feedback.startswith(WRAPPED) and "Cite a source." in feedback
    assert "ignore all previous instructions" not in feedback
    assert "[baton: removed an instruction-like line (role-marker)]" in feedback
    drafts = [c for c in ledger(tmp_path) if c["agent"] == "drafter"]
    assert [d["feedback"] for d in drafts] == [[], [feedback]]
    # the revised output is tainted by the feedback as well as by the topic, and so is
    # what reads it
    research = state["steps"]["research"]
    assert research["review"]["feedback"] == [feedback]
    assert set(research["untrusted_sources"]) == {"inputs.topic", "review.research"}
    assert state["steps"]["summary"]["untrusted_sources"] == ["steps.research.output"]


def test_a_reviewer_that_read_only_trusted_data_sends_its_feedback_as_is(
    tmp_path: Path,
) -> None:
    state, events = _run(tmp_path, "CLEAN")
    (revision,) = [e for e in events if e["type"] == "revision_requested"]
    assert revision["data"]["feedback"] == NOTES
    reviews = [c for c in ledger(tmp_path) if c["agent"] == "steered"]
    assert reviews[0]["input"]["draft"] == "draft 1: tea"
    assert state["steps"]["research"]["untrusted_sources"] == []
