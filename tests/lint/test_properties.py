"""Property tests of the linter, with networkx and the file system as oracles.

1. Random step graphs: B101 agrees with networkx on acyclicity, reports exactly one cycle
   per non-trivial strongly connected component, and each reported cycle is a real
   closed walk through all of its component.
2. Random mutations of the example specs never crash the linter (or its formatters),
   and every finding points at a real place: a file of the set or one it references,
   1 <= line <= lines + 1, col >= 1.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from baton.compiler.formats import FORMATS, render
from baton.compiler.pipeline import lint

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / "specs"
CYCLE_MESSAGE = re.compile(r"^dependency cycle in workflow 'graph': (.+)$")

PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("BATON_PROPERTY_EXAMPLES", "80")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


# -- random step graphs


@st.composite
def step_graphs(draw: st.DrawFn) -> tuple[list[str], set[tuple[str, str]]]:
    """(steps in file order, edges step -> a step it needs); cyclic or not, self-loops too."""
    count = draw(st.integers(min_value=1, max_value=9))
    names = [f"s{index}" for index in range(count)]
    order = draw(st.permutations(names))
    pairs = st.tuples(st.sampled_from(names), st.sampled_from(names))
    edges = draw(st.sets(pairs, max_size=count * 3))
    if draw(st.booleans()):  # half the graphs acyclic: keep edges that go "down" only
        edges = {(a, b) for a, b in edges if names.index(a) > names.index(b)}
    return list(order), edges


def workflow_yaml(order: list[str], edges: set[tuple[str, str]]) -> str:
    lines = [
        "baton: 1",
        "name: graph",
        "agents:",
        "  solo: {run: {builtin: echo}}",
        "owner: solo",
        "steps:",
    ]
    for step in order:
        needs = sorted(b for a, b in edges if a == step)
        lines += [f"  {step}:", "    agent: solo", f"    needs: [{', '.join(needs)}]"]
    return "\n".join(lines) + "\n"


@PROPERTY_SETTINGS
@given(graph=step_graphs())
def test_b101_agrees_with_networkx(graph: tuple[list[str], set[tuple[str, str]]]) -> None:
    order, edges = graph
    with tempfile.TemporaryDirectory() as directory:
        spec = Path(directory) / "wf.yaml"
        spec.write_text(workflow_yaml(order, edges), "utf-8")
        result = lint([directory])
    assert [d for d in result.diagnostics if d.rule != "B101"] == []
    cycles = []
    for finding in result.diagnostics:
        match = CYCLE_MESSAGE.match(finding.message)
        assert match, finding.message
        cycles.append((finding, match.group(1).split(" -> ")))

    oracle: nx.DiGraph[str] = nx.DiGraph()
    oracle.add_nodes_from(order)
    oracle.add_edges_from(edges)
    components = [
        frozenset(c)
        for c in nx.strongly_connected_components(oracle)
        if len(c) > 1 or oracle.has_edge(next(iter(c)), next(iter(c)))
    ]

    assert (not cycles) == nx.is_directed_acyclic_graph(oracle)
    assert len(cycles) == len(components)  # exactly one finding per component
    reported = [frozenset(path) for _, path in cycles]
    assert set(reported) == set(components)  # each covers exactly one whole component
    assert set().union(*reported) == set().union(*components)
    for finding, path in cycles:
        assert path[0] == path[-1]
        assert all(oracle.has_edge(a, b) for a, b in itertools.pairwise(path))
        # reported from the step of its cycle written first, at that step's key
        first = min(set(path), key=order.index)
        assert path[0] == first
        assert finding.span.line == 7 + 3 * order.index(first)
        assert finding.span.col == 3


# -- random mutations of the example specs

SPEC_FILES = sorted(p.relative_to(SPECS).as_posix() for p in SPECS.rglob("*.yaml"))
# the mutations also hit the JSON schema file the workflows `$ref`
MUTABLE_FILES = sorted(
    p.relative_to(SPECS).as_posix() for p in SPECS.rglob("*") if p.suffix in (".yaml", ".json")
)
JUNK = [
    b"\x00",
    b"\xff\xfe",
    b"\t",
    b"\x0c",
    b"\r",
    b"\xe2\x80\xa8",
    b"{{",
    b"}}",
    b"]",
    b"&a *a",
    b"- ",
    b": ",
    b"'",
    b"\xc3",
]
REPLACEMENTS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "{{ steps.nope.output }}",
            "{{ inputs.topic.__class__ }}",
            "{{ steps.research.output.summary[0].x }}",
            "{% for x in y %}",
            "{{ unclosed",
            "webster",
            "brief@99",
            "5x",
            "research",
            "external",
            "#/nope",
            "schemas/missing.json",
        ]
    ),
    st.lists(st.sampled_from(["research", "audit", "x", "mario", "timeout"]), max_size=3),
    st.just({"$ref": "schemas/brief.v1.json#/properties"}),
    st.just({"type": "object", "properties": {"a": {"type": "strng"}}}),
)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a node of a YAML document (mapping keys and list indexes)."""
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _paths(value, (*prefix, index))
    return found


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


def _mutate_tree(draw: st.DrawFn, text: str) -> str:
    data = yaml.safe_load(text)
    paths = [p for p in _paths(data) if p]
    path = draw(st.sampled_from(paths))
    parent, last = _parent(data, path), path[-1]
    action = draw(st.sampled_from(["delete", "rename", "replace"]))
    if action == "delete":
        del parent[last]
    elif action == "rename" and isinstance(parent, dict):
        new_key = draw(st.sampled_from(["nedds", "Agent", "on", "1", "x-y", "steps", ""]))
        parent[new_key] = parent.pop(last)
    else:
        parent[last] = draw(REPLACEMENTS)
    return yaml.safe_dump(data, sort_keys=draw(st.booleans()), allow_unicode=True)


def _mutate_bytes(draw: st.DrawFn, raw: bytes) -> bytes:
    lines = raw.splitlines(keepends=True)
    action = draw(st.sampled_from(["duplicate", "truncate", "junk", "swap"]))
    if action == "duplicate" and lines:
        index = draw(st.integers(0, len(lines) - 1))
        return b"".join([*lines[: index + 1], lines[index], *lines[index + 1 :]])
    if action == "truncate":
        return raw[: draw(st.integers(0, len(raw)))]
    if action == "swap" and len(lines) > 1:
        index = draw(st.integers(0, len(lines) - 2))
        lines[index], lines[index + 1] = lines[index + 1], lines[index]
        return b"".join(lines)
    at = draw(st.integers(0, len(raw)))
    return raw[:at] + draw(st.sampled_from(JUNK)) + raw[at:]


@st.composite
def mutated_spec_sets(draw: st.DrawFn) -> tuple[str, bytes]:
    """(the file of specs/ to replace, its new bytes), after one to three mutations."""
    target = draw(st.sampled_from(MUTABLE_FILES))
    raw = (SPECS / target).read_bytes()
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            try:
                raw = _mutate_tree(draw, raw.decode("utf-8")).encode("utf-8")
            except (UnicodeDecodeError, yaml.YAMLError, TypeError, IndexError):
                raw = _mutate_bytes(draw, raw)  # no longer a tree to edit
        else:
            raw = _mutate_bytes(draw, raw)
    return target, raw


def _line_count(path: Path) -> int:
    """Lines as YAML counts them: U+2028 and NEL break lines too, in text that decodes."""
    raw = path.read_bytes()
    try:
        return len(raw.decode("utf-8-sig").splitlines())
    except UnicodeDecodeError:
        return len(raw.splitlines())


@PROPERTY_SETTINGS
@given(mutation=mutated_spec_sets())
def test_mutated_specs_never_crash_and_locate_findings(mutation: tuple[str, bytes]) -> None:
    target, raw = mutation
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory) / "specs"
        shutil.copytree(SPECS, root)
        (root / target).write_bytes(raw)
        result = lint([str(root)])
        for finding in result.diagnostics:
            span = finding.span
            where = Path(span.path)
            assert where.is_file(), f"{finding}: no such file"
            assert root.resolve() in where.resolve().parents, f"{finding}: outside the set"
            assert 1 <= span.line <= _line_count(where) + 1, finding
            assert span.col >= 1, finding
        for fmt in FORMATS:
            assert isinstance(render(result.diagnostics, fmt, result.sources), str)
        json.loads(render(result.diagnostics, "sarif", result.sources))


@pytest.mark.parametrize("name", SPEC_FILES)
def test_unmutated_examples_are_clean(name: str) -> None:
    """The property above starts from clean specs: each finding is the mutation's doing."""
    result = lint([str(SPECS / name)])
    assert result.diagnostics == []


# -- random spec sets: every rule on every kind of cross-reference

AGENTS = ["ann", "bob", "cy"]
STEPS = ["s0", "s1", "s2", "s3"]
WORKFLOWS = ["w0", "w1", "w2"]
READS = [
    "inputs.topic",
    "inputs.nope",
    "inputs.history",
    "steps.{step}.output",
    "steps.{step}.output.summary",
    "steps.{step}.output.items[0].name",
    "steps.{step}.output.summary.deeper",
    "steps.{step}.outputs",
    "run.id",
    "nope",
]
HANDOFF = {
    "versions": {
        1: {
            "type": "object",
            "required": ["summary"],
            "additionalProperties": False,
            "properties": {
                "summary": {"type": "string", "x-baton-trust": "untrusted"},
                "items": {"type": "array", "items": {"$ref": "#/$defs/item"}},
            },
            "$defs": {"item": {"type": "object", "properties": {"name": {"type": "string"}}}},
        }
    }
}


@st.composite
def random_spec_sets(draw: st.DrawFn) -> dict[str, str]:
    """A roster and one to three workflows that refer to each other at random."""
    roster = {
        "baton": 1,
        "kind": "roster",
        "agents": {
            agent: {
                "run": {"builtin": "echo"},
                "delegates_to": draw(st.lists(st.sampled_from(AGENTS), unique=True)),
            }
            for agent in AGENTS
        },
        "approvers": {"manager": ["alice"]},
        "policy": {
            "max_delegation_depth": draw(st.integers(1, 3)),
            "require_approval_for_external": draw(st.booleans()),
        },
    }
    files = {"roster.yaml": yaml.safe_dump(roster)}
    names = WORKFLOWS[: draw(st.integers(1, len(WORKFLOWS)))]
    for name in names:
        steps: dict[str, Any] = {}
        for step in STEPS[: draw(st.integers(1, len(STEPS)))]:
            body: dict[str, Any] = {"needs": draw(st.lists(st.sampled_from(STEPS), max_size=2))}
            if draw(st.integers(0, 3)) == 0:
                body["workflow"] = draw(st.sampled_from([*WORKFLOWS, "ghost"]))
            else:
                body["agent"] = draw(st.sampled_from([*AGENTS, "ghost"]))
                body["output"] = draw(st.sampled_from(["brief", "brief@1", "brief@2", "nope"]))
            if draw(st.booleans()):
                body["delegated_by"] = draw(st.sampled_from(AGENTS))
            reads = draw(st.lists(st.sampled_from(READS), max_size=3))
            body["input"] = {
                f"x{index}": "{{ " + read.format(step=draw(st.sampled_from(STEPS))) + " }}"
                for index, read in enumerate(reads)
            }
            if draw(st.booleans()):
                body["effect"] = "external"
            if draw(st.booleans()):
                body["approval"] = {"role": draw(st.sampled_from(["manager", "cfo"]))}
            steps[step] = body
        workflow = {
            "baton": 1,
            "name": name,
            "roster": "roster.yaml",
            "owner": draw(st.sampled_from(AGENTS)),
            "inputs": {
                "type": "object",
                "properties": {
                    "topic": {"type": "string"},
                    "history": {"type": "string", "x-baton-trust": "untrusted"},
                },
            },
            "handoffs": {"brief": HANDOFF},
            "steps": steps,
        }
        if draw(st.booleans()):
            workflow["result"] = draw(st.sampled_from(STEPS))
        files[f"{name}.yaml"] = yaml.safe_dump(workflow, sort_keys=False)
    return files


@PROPERTY_SETTINGS
@given(files=random_spec_sets())
def test_random_spec_sets_lint_without_crashing(files: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        for name, text in files.items():
            (Path(directory) / name).write_text(text, "utf-8")
        first = lint([directory])
        again = lint([directory])
        for finding in first.diagnostics:
            lines = files[Path(finding.span.path).name].splitlines()
            assert 1 <= finding.span.line <= len(lines), finding
            assert 1 <= finding.span.col <= len(lines[finding.span.line - 1]) + 1, finding
            assert finding.message and "<" not in finding.message, finding  # no reprs
    assert first.diagnostics == again.diagnostics  # deterministic
    for fmt in FORMATS:
        assert isinstance(render(first.diagnostics, fmt, first.sources), str)
