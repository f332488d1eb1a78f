"""The three-layer example (specs/research_team.yaml, research_brief.yaml, team_roster.yaml)
end to end with its demo agents: the dispatcher's answer routes a research request to the
research sub-workflow, whose review loop sends webster's first brief back once; a question
goes to mario. What `make run` shows, checked on the events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.runtime_core.rc_support import ROOT, baton, shown

SPEC = str(ROOT / "specs" / "research_team.yaml")


def events(tmp: Path, run_id: str) -> list[dict[str, Any]]:
    result = baton(tmp, "events", run_id, "--json")
    assert result.returncode == 0, result.stderr
    found: list[dict[str, Any]] = json.loads(result.stdout)
    return found


def test_a_research_request_is_routed_and_revised_once(tmp_path: Path) -> None:
    request = json.dumps({"request": "durable multi-agent workflows"})
    result = baton(tmp_path, "run", SPEC, "--run-id", "t1", "--input", request)
    assert result.returncode == 0, result.stderr
    [routed] = [e for e in events(tmp_path, "t1") if e["type"] == "route_selected"]
    assert (routed["data"]["case"], routed["data"]["target"]) == (1, "research_brief")
    child = [e["type"] for e in events(tmp_path, "t1:answer:1")]
    loop = [t for t in child if t.startswith(("review", "revision"))]
    assert loop == ["review_started", "revision_requested", "review_started", "review_passed"]
    state = shown(tmp_path, "t1")
    assert state["status"] == "succeeded"
    assert any("/primary/" in source for source in state["result"]["sources"])
    assert "Revised after review: Cite at least one primary source." in state["result"]["summary"]


def test_a_question_goes_to_mario(tmp_path: Path) -> None:
    request = json.dumps({"request": "what is a handoff?"})
    result = baton(tmp_path, "run", SPEC, "--run-id", "t2", "--input", request)
    assert result.returncode == 0, result.stderr
    [routed] = [e for e in events(tmp_path, "t2") if e["type"] == "route_selected"]
    assert (routed["data"]["case"], routed["data"]["target"]) == (2, "mario")
    state = shown(tmp_path, "t2")
    assert state["status"] == "succeeded"
    assert state["steps"]["answer"]["route"] == {"case": 2, "kind": "agent", "target": "mario"}
    assert not [e for e in events(tmp_path, "t2") if e["type"].startswith("review")]
