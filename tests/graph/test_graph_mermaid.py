"""`baton graph --format mermaid`: the output parses, whatever the steps are called and
whatever their labels hold.

Two checks of the same diagrams. A strict structural one in Python (always runs): every
line is one of the few forms the renderer writes, node ids are internal (`n0`, `n1`, ...)
and every label decodes back to the step's text. And the real mermaid parser (the
`mermaid` package's flowchart parser under node with jsdom, tests/graph/mermaid): it runs
when `make test-mermaid` has installed it (`npm ci`); with BATON_REQUIRE_MERMAID=1 (set by
that target, and so by CI) a missing parser is a failure, not a skip.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from baton.cli import cli
from baton.compiler import ir
from baton.compiler.graph_routes import case_label, case_target
from baton.compiler.graphreview import back_label, review_label
from baton.compiler.graphview import _label, graph_mermaid
from baton.compiler.pipeline import load_spec_set

REPO = Path(__file__).resolve().parents[2]
HARNESS = Path(__file__).parent / "mermaid"

# words mermaid's flowchart grammar reads as keywords, directions or edge ends where a
# node id is expected; all of them are valid step ids
KEYWORDS = (
    *("end", "graph", "subgraph", "class", "classdef", "style", "linkstyle", "click"),
    *("call", "href", "flowchart", "interpolate", "default", "direction", "td", "tb"),
    *("bt", "lr", "rl", "o", "x", "v", "acctitle", "accdescr"),
)
# label text mermaid would otherwise read as markup, the end of a label, or markdown
HOSTILE = "inputs.n > 1 and inputs.s != \"a#b\" and '<b>x</b>' != '&amp;' and '#quot;' != '`m`'"


def keyword_spec(directory: Path) -> Path:
    """A workflow whose steps are all called after mermaid keywords, in a chain, with every
    kind of node (plain, approval, sub-workflow) and hostile text in every label part."""
    lines = ["baton: 1", "name: keywords", "steps:"]
    previous = None
    for index, step in enumerate(KEYWORDS):
        lines.append(f"  {step}:")
        if index % 3 == 2:
            lines.append("    workflow: other")
        else:
            lines.append('    agent: "a<b>&c #1"')
        if index % 3 == 1:
            lines.append('    approval: {role: "r&d <ops> \\"q\\"", stage: after}')
            lines.append("    effect: external")
        if index % 4 == 0:
            lines.append(f"    if: {json.dumps(HOSTILE)}")
        if previous:
            lines.append(f"    needs: [{previous}]")
        previous = step
    path = directory / "keywords.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def workflow_of(path: Path) -> ir.Workflow:
    (workflow,) = load_spec_set([str(path)]).spec.workflows.values()
    return workflow


def example_workflows() -> list[ir.Workflow]:
    return list(load_spec_set([str(REPO / "specs")]).spec.workflows.values())


# -- what the diagram should say


def expected(workflow: ir.Workflow) -> dict[str, Any]:
    """Node id -> (shape, label), edges and classes, written from the IR, not the output."""
    index = {step_id: position for position, step_id in enumerate(workflow.steps)}
    node = {step_id: f"n{position}" for step_id, position in index.items()}
    nodes = {}
    cases = []  # a routed step's case nodes and edges (compiler.graph_routes)
    for step in workflow.steps.values():
        shape = "hexagon" if step.approval else "subroutine" if step.workflow else "square"
        if step.route and not step.approval:
            shape = "diamond"
        if shape == "square" and step.map:
            shape = "lean_right"
        nodes[node[step.id]] = (shape, _label(step))
        if step.route and not step.approval:
            for number, case in enumerate(step.route, start=1):
                routed = case.workflow is not None and case.agent is None
                target = f"{node[step.id]}r{number}"
                nodes[target] = ("subroutine" if routed else "stadium", case_target(case))
                cases.append((node[step.id], target))
    # in file order of the needed step, then of the needing one
    edges = cases + [
        (f"n{source}", f"n{target}")
        for source, target in sorted(
            (index[need.value], index[step.id])
            for step in workflow.steps.values()
            for need in step.needs
            if need.value in workflow.steps
        )
    ]
    external = sorted(node[s.id] for s in workflow.steps.values() if s.effect == "external")
    # review loops: the reviewer node r<i> of step n<i>, its edge in, the dashed edge back
    reviews = [
        (f"r{index[s.id]}", review_label(s, s.review), back_label(s.review))
        for s in workflow.steps.values()
        if s.review is not None
    ]
    return {"nodes": nodes, "edges": edges, "external": external, "reviews": reviews}


# -- the structural check


_NODE = re.compile(
    r'^    (?P<id>n\d+(?:r\d+)?)(?:\["(?P<square>[^"]*)"\]|\{\{"(?P<hexagon>[^"]*)"\}\}'
    r'|\[\["(?P<subroutine>[^"]*)"\]\]|\{"(?P<diamond>[^"]*)"\}|\(\["(?P<stadium>[^"]*)"\]\)'
    r'|\[/"(?P<lean_right>[^"]*)"/\])$'
)
_EDGE = re.compile(r"^    (n\d+) --> (n\d+)$")
_CASE_EDGE = re.compile(r'^    (n\d+) -->\|"(?P<label>[^"]*)"\| (n\d+r\d+)$')  # a route case
_CLASS = re.compile(r"^    class (n\d+(?:,n\d+)*) external$")
_CLASSDEF = "    classDef external stroke:#d33,stroke-width:3px"
_REVIEW_NODE = re.compile(r'^    (r\d+)\(\["([^"]*)"\]\)$')
_REVIEW_EDGE = re.compile(r"^    n(\d+) --> r(\d+)$")
_BACK_EDGE = re.compile(r'^    r(\d+) -\.->\|"([^"]*)"\| n(\d+)$')
# inside a label: text without quotes, markup characters or backticks, entity codes, and
# `<br/>` line breaks
_LABEL = re.compile(r'^(?:[^"<>&#`]|#(?:\d+|[a-z]+);|<br/>)*$')


def decode_label(text: str) -> str:
    """A label as mermaid shows it: `#35;` and `#quot;` are entity codes, `<br/>` breaks."""
    entities = re.sub(r"#(\d+|[a-z]+);", lambda m: f"&{'#' if m[1].isdigit() else ''}{m[1]};", text)
    return html.unescape(entities.replace("<br/>", "\n"))


def structure(diagram: str) -> dict[str, Any]:
    """The diagram read back by the strict grammar; AssertionError on any other line."""
    lines = diagram.splitlines()
    assert lines[0] == "flowchart TD"
    nodes: dict[str, tuple[str, str]] = {}
    edges: list[tuple[str, str]] = []
    external: list[str] = []
    reviews: list[tuple[str, str, str]] = []
    for line in lines[1:]:
        if match := _REVIEW_NODE.match(line):
            assert _LABEL.match(match[2]), line
            reviews.append((match[1], decode_label(match[2]), ""))
        elif match := _REVIEW_EDGE.match(line):
            assert match[1] == match[2] and reviews[-1][0] == f"r{match[2]}", line
        elif match := _BACK_EDGE.match(line):
            assert match[1] == match[3] and reviews[-1][0] == f"r{match[1]}", line
            reviews[-1] = (*reviews[-1][:2], decode_label(match[2]))
        elif match := _NODE.match(line):
            shapes = ("square", "hexagon", "subroutine", "diamond", "stadium", "lean_right")
            shape = next(k for k in shapes if match[k] is not None)
            assert _LABEL.match(match[shape]), line
            nodes[match["id"]] = (shape, decode_label(match[shape]))
        elif match := _EDGE.match(line):
            edges.append((match[1], match[2]))
        elif match := _CASE_EDGE.match(line):
            assert _LABEL.match(match["label"]), line
            edges.append((match[1], match[3]))
        elif match := _CLASS.match(line):
            external = sorted(match[1].split(","))
        else:
            assert line == _CLASSDEF, line
    return {"nodes": nodes, "edges": edges, "external": external, "reviews": reviews}


def test_keyword_steps_have_internal_ids_and_their_names_in_labels(tmp_path: Path) -> None:
    workflow = workflow_of(keyword_spec(tmp_path))
    diagram = graph_mermaid(workflow)
    assert structure(diagram) == expected(workflow)
    assert structure(diagram)["nodes"]["n0"][1].startswith("end\n")
    assert "#lt;b#gt;" in diagram and "#amp;" in diagram and "#35;" in diagram


def test_every_example_workflow_has_the_expected_structure() -> None:
    for workflow in example_workflows():
        assert structure(graph_mermaid(workflow)) == expected(workflow), workflow.name


def route_spec(directory: Path) -> Path:
    """A routed step between two others: an agent case, a sub-workflow case and a
    default, hostile text in a condition."""
    text = f"""baton: 1
name: routed
steps:
  first: {{agent: a}}
  end:
    needs: [first]
    route:
      - when: {json.dumps(HOSTILE)}
        agent: "a<b>&c #1"
      - when: "inputs.kind == 'x'"
        workflow: other
      - agent: b
  last: {{agent: a, needs: [end]}}
"""
    path = directory / "routed.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_route_is_a_decision_with_one_labelled_edge_per_case(tmp_path: Path) -> None:
    workflow = workflow_of(route_spec(tmp_path))
    diagram = graph_mermaid(workflow)
    assert structure(diagram) == expected(workflow)
    labels = [m["label"] for m in map(_CASE_EDGE.match, diagram.splitlines()) if m]
    step = workflow.steps["end"]
    assert [decode_label(label) for label in labels] == [case_label(c) for c in step.route]
    assert labels[-1] == "default"
    assert structure(diagram)["nodes"]["n1"] == ("diamond", "end\nroute: 3 cases")
    assert structure(diagram)["nodes"]["n1r2"] == ("subroutine", "workflow: other")


def test_the_structural_check_can_fail() -> None:
    """A bare keyword as a node id, or a raw quote in a label, is not accepted."""
    with pytest.raises(AssertionError):
        structure('flowchart TD\n    end["end"]\n')
    with pytest.raises(AssertionError):
        structure('flowchart TD\n    n0["say "hi""]\n')
    with pytest.raises(AssertionError):
        structure('flowchart TD\n    n0["a <b>"]\n')


def test_baton_graph_prints_the_diagram(tmp_path: Path) -> None:
    path = keyword_spec(tmp_path)
    result = CliRunner().invoke(cli, ["graph", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout == graph_mermaid(workflow_of(path))


# -- the real parser


@pytest.fixture(scope="module")
def mermaid() -> Callable[[list[str]], list[dict[str, Any]]]:
    """Parse diagrams with the real mermaid parser (see the module docstring)."""
    node = shutil.which("node")
    installed = (HARNESS / "node_modules" / "mermaid").is_dir()
    if node is None or not installed:
        reason = "node is not installed" if node is None else "run `make test-mermaid`"
        if os.environ.get("BATON_REQUIRE_MERMAID") == "1":
            pytest.fail(f"the mermaid parser is required but unavailable: {reason}")
        pytest.skip(f"the mermaid parser is not installed: {reason}")

    def parse(diagrams: list[str]) -> list[dict[str, Any]]:
        completed = subprocess.run(
            [node, str(HARNESS / "parse.mjs")],
            input=json.dumps(diagrams),
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        results: list[dict[str, Any]] = json.loads(completed.stdout)
        return results

    return parse


def _directory(path: Path) -> Path:
    path.mkdir()
    return path


def parsed_structure(result: dict[str, Any]) -> dict[str, Any]:
    assert result["ok"], result.get("error")
    assert result["type"] == "flowchart-v2"
    # a review loop's reviewer node r<i>, its edge in and its dashed edge back (with a label)
    reviewers = {n["id"]: n["label"] for n in result["nodes"] if re.fullmatch(r"r\d+", n["id"])}
    back = {}
    for start, _, label, stroke in result["edges"]:
        if start in reviewers:
            assert stroke == "dotted", (start, stroke)
            back[start] = label
    return {
        "nodes": {
            n["id"]: (n["shape"], n["label"]) for n in result["nodes"] if n["id"] not in reviewers
        },
        "edges": [
            (start, end)
            for start, end, _, _ in result["edges"]
            if start not in reviewers and end not in reviewers
        ],
        "external": sorted(i for i, classes in result["classes"].items() if "external" in classes),
        "reviews": [(r, label, back.get(r, "")) for r, label in reviewers.items()],
    }


def test_mermaid_parses_keyword_steps_and_hostile_labels(
    mermaid: Callable[[list[str]], list[dict[str, Any]]], tmp_path: Path
) -> None:
    workflows = [
        workflow_of(keyword_spec(_directory(tmp_path / "keywords"))),
        workflow_of(route_spec(_directory(tmp_path / "routed"))),
        *example_workflows(),
    ]
    results = mermaid([graph_mermaid(w) for w in workflows])
    for workflow, result in zip(workflows, results, strict=True):
        assert parsed_structure(result) == expected(workflow), workflow.name


def test_mermaid_rejects_what_the_renderer_must_not_write(
    mermaid: Callable[[list[str]], list[dict[str, Any]]],
) -> None:
    """The parser check can fail: a keyword as a node id does not parse, and a raw `#...;`
    in a label is shown as something else than was written."""
    keyword, entity = mermaid(['flowchart TD\n    end["end"]\n', 'flowchart TD\n    n0["#35;"]\n'])
    assert not keyword["ok"]
    assert entity["ok"] and entity["nodes"][0]["label"] == "#"
