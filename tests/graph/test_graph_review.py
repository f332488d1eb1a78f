"""`baton graph` draws a review loop: a reviewer node fed by the step, and a dashed
back edge from the reviewer to the step (mermaid `-.->`, dot `style=dashed`)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from test_graph_mermaid import expected, structure, workflow_of

from baton.cli import cli
from baton.compiler.graphview import graph_mermaid

CASE = Path(__file__).resolve().parents[1] / "golden" / "lint" / "ok" / "reviews" / "wf.yaml"


def test_mermaid_draws_the_loop_as_a_dashed_back_edge() -> None:
    workflow = workflow_of(CASE)
    diagram = graph_mermaid(workflow)
    assert structure(diagram) == expected(workflow)
    lines = diagram.splitlines()
    assert "    n0 --> r0" in lines
    assert '    r0 -.->|"revise (max 3 rounds)"| n0' in lines
    assert '    r1 -.->|"revise (max 6 rounds)"| n1' in lines
    reviewer = next(line for line in lines if line.startswith("    r0(["))
    assert "by: auditor" in reviewer and "on_exhausted: escalate" in reviewer


def test_dot_and_json_show_the_review() -> None:
    runner = CliRunner()
    dot = runner.invoke(cli, ["graph", str(CASE), "--format", "dot"])
    assert dot.exit_code == 0, dot.output
    assert '"research (review)" -> "research" [style=dashed' in dot.stdout
    shown = runner.invoke(cli, ["graph", str(CASE), "--format", "json"])
    assert shown.exit_code == 0, shown.output
    steps = {step["id"]: step for step in json.loads(shown.stdout)["steps"]}
    assert steps["research"]["review"] == {
        "by": "auditor",
        "output": "verdict@1",
        "pass_when": "review.verdict == 'pass'",
        "max_rounds": 3,
        "on_exhausted": "escalate",
        "escalate_to": "manager",
    }
    assert steps["polish"]["review"]["on_exhausted"] == "accept"
