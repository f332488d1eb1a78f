"""`baton graph` of a routed step in dot and JSON: a decision node with one labelled edge
per case (the mermaid form is checked with the others in test_graph_mermaid.py)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from baton.cli import cli

ROUTES = Path(__file__).resolve().parents[1] / "golden" / "lint" / "ok" / "routes"


def _graph(fmt: str) -> str:
    result = CliRunner().invoke(cli, ["graph", str(ROUTES / "wf.yaml"), "--format", fmt])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_dot_draws_a_diamond_and_a_labelled_edge_per_case() -> None:
    dot = _graph("dot")
    assert '"handle" [label="handle\\nroute: 3 cases", shape=diamond];' in dot
    edges = [line.strip() for line in dot.splitlines() if line.strip().startswith('"handle" ->')]
    assert edges == [
        '"handle" -> "handle#route1" [label="steps.classify.output.kind == \'bug\'"];',
        '"handle" -> "handle#route2" [label="steps.classify.output.kind == \'feature\'"];',
        '"handle" -> "handle#route3" [label="default"];',
    ]
    assert '"handle#route2" [label="workflow: feature_flow", shape=ellipse, peripheries=2];' in dot


def test_json_lists_the_cases_in_order() -> None:
    data = json.loads(_graph("json"))
    handle = next(step for step in data["steps"] if step["id"] == "handle")
    assert handle["route"] == [
        {"when": "steps.classify.output.kind == 'bug'", "agent": "fixer", "workflow": None},
        {
            "when": "steps.classify.output.kind == 'feature'",
            "agent": None,
            "workflow": "feature_flow",
        },
        {"when": None, "agent": "helper", "workflow": None},
    ]
    classify = next(step for step in data["steps"] if step["id"] == "classify")
    assert "route" not in classify
