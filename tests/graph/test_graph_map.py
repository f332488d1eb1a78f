"""`baton graph` shows a map step as one: a lean_right node (mermaid), a stacked box (dot),
a `map` object (json), each labelled with what it maps over."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from test_graph_mermaid import (  # noqa: F401 (`mermaid` is a fixture)
    expected,
    mermaid,
    parsed_structure,
    structure,
    workflow_of,
)

from baton.cli import cli
from baton.compiler.graphview import graph_dot, graph_json, graph_mermaid

SPEC = Path(__file__).resolve().parents[1] / "golden" / "lint" / "ok" / "maps" / "wf.yaml"
LABEL = "map over steps.plan.output.subtopics as subtopic (2 at once, tolerate 1)"


def test_mermaid_draws_a_map_step_lean_right_and_says_over_what() -> None:
    workflow = workflow_of(SPEC)
    diagram = graph_mermaid(workflow)
    nodes = structure(diagram)["nodes"]
    assert structure(diagram) == expected(workflow)
    shape, label = nodes["n1"]
    assert shape == "lean_right" and LABEL in label.split("\n")
    assert nodes["n0"][0] == "square"  # `plan` is an ordinary step
    assert "map over inputs.extra as item (4 at once)" in nodes["n2"][1]


def test_dot_and_json_show_the_map() -> None:
    workflow = workflow_of(SPEC)
    dot = graph_dot(workflow)
    line = next(x for x in dot.splitlines() if x.startswith('    "research_each" ['))
    assert "shape=box3d" in line and LABEL in line
    steps = {s["id"]: s for s in graph_json(workflow)["steps"]}  # type: ignore[attr-defined]
    assert steps["research_each"]["map"] == {
        "over": "steps.plan.output.subtopics",
        "as": "subtopic",
        "max_concurrency": 2,
        "tolerate": 1,
    }
    assert steps["plan"]["map"] is None


def test_baton_graph_json_on_the_command_line() -> None:
    result = CliRunner().invoke(cli, ["graph", str(SPEC), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [s["id"] for s in data["steps"] if s["map"]] == ["research_each", "each_extra"]


def test_the_real_mermaid_parser_reads_a_map_step(
    mermaid: Callable[[list[str]], list[dict[str, Any]]],  # noqa: F811
) -> None:
    workflow = workflow_of(SPEC)
    (result,) = mermaid([graph_mermaid(workflow)])
    assert parsed_structure(result) == expected(workflow)
