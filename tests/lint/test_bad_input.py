"""Hostile and broken input through the CLI: a finding or a clear error, never a traceback,
and always fast."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from baton.cli import cli
from baton.compiler.loader import MAX_DEPTH, MAX_FILE_BYTES, load_text

SECONDS = 10.0  # generous for 2 busy cores; each case takes well under a second alone


def run_lint(*args: str) -> tuple[Result, float]:
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["lint", *args])
    return result, time.monotonic() - started


def assert_no_traceback(result: Result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output


# -- writers of bad files


def binary(path: Path) -> None:
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4)


def huge(path: Path) -> None:
    with path.open("wb") as handle:  # sparse: no bytes are written
        handle.truncate(MAX_FILE_BYTES + 1)


def nested_flow(path: Path) -> None:
    depth = 10_000
    path.write_text("baton: 1\nname: deep\nsteps: " + "[" * depth + "]" * depth + "\n")


def nested_flow_100k(path: Path) -> None:
    """Deep enough to overflow the C stack of PyYAML's composer, were it reached."""
    depth = 100_000
    path.write_text("baton: 1\nname: deep\nsteps: " + "[" * depth + "]" * depth + "\n")


def nested_block(path: Path) -> None:
    path.write_text(
        "baton: 1\nname: deep\nsteps:\n  s:\n    input:\n      " + "- " * 10_000 + "x\n"
    )


def not_utf8(path: Path) -> None:
    path.write_bytes(b"baton: 1\nname: caf\xe9\nsteps: {}\n")


def alias_bomb(path: Path) -> None:
    lines = ["baton: 1", "name: lol", "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, 10):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    lines.append("steps: {s: {agent: x, input: *l9}}")
    path.write_text("\n".join(lines) + "\n")


def recursive_alias(path: Path) -> None:
    path.write_text("baton: 1\nname: loop\nsteps: &s {a: {agent: x, input: *s}}\n")


def empty(path: Path) -> None:
    path.write_text("")


def only_comments(path: Path) -> None:
    path.write_text("# nothing here yet\n")


def a_list(path: Path) -> None:
    path.write_text("- baton: 1\n- name: listed\n")


def a_scalar(path: Path) -> None:
    path.write_text("just some text\n")


def control_character(path: Path) -> None:
    path.write_bytes(b"baton: 1\nname: ctl # caf\xc3\xa9 \x0c\nsteps: {}\n")


def multiple_documents(path: Path) -> None:
    path.write_text("baton: 1\nname: one\n---\nbaton: 1\nname: two\n")


def python_tag(path: Path) -> None:
    path.write_text("baton: 1\nname: !!python/object:os.system echo\nsteps: {}\n")


@dataclass(frozen=True)
class BadFile:
    write: Callable[[Path], None]
    rule: str
    message: str  # a part of the finding's message
    line: int
    col: int


BAD_FILES = {
    "binary": BadFile(binary, "B001", "binary file", 1, 1),
    "huge": BadFile(huge, "B001", f"the limit is {MAX_FILE_BYTES}", 1, 1),
    "nested_flow": BadFile(nested_flow, "B001", f"nesting deeper than {MAX_DEPTH}", 3, 208),
    "nested_flow_100k": BadFile(nested_flow_100k, "B001", "nesting deeper than", 3, 208),
    "nested_block": BadFile(nested_block, "B001", f"nesting deeper than {MAX_DEPTH}", 6, 403),
    "not_utf8": BadFile(not_utf8, "B001", "not valid UTF-8", 2, 10),
    "alias_bomb": BadFile(alias_bomb, "B001", "alias bomb", 9, 5),
    "recursive_alias": BadFile(recursive_alias, "B001", "recursive alias", 3, 8),
    "empty": BadFile(empty, "B001", "file is empty", 1, 1),
    "only_comments": BadFile(only_comments, "B001", "file is empty", 1, 1),
    "a_list": BadFile(a_list, "B002", "expected a mapping at the top level, got a list", 1, 1),
    "a_scalar": BadFile(a_scalar, "B002", "expected a mapping at the top level", 1, 1),
    "control_character": BadFile(control_character, "B001", "0x000c is not allowed", 2, 18),
    "multiple_documents": BadFile(multiple_documents, "B001", "single document", 3, 1),
    "python_tag": BadFile(python_tag, "B001", "unsupported YAML tag", 2, 7),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_is_a_finding(name: str, tmp_path: Path) -> None:
    bad = BAD_FILES[name]
    bad.write(tmp_path / "spec.yaml")
    result, seconds = run_lint(str(tmp_path), "--format", "json")
    assert_no_traceback(result)
    assert result.exit_code == 1, result.output
    assert seconds < SECONDS
    (finding,) = json.loads(result.stdout)
    assert finding["path"] == str(tmp_path / "spec.yaml")
    assert (finding["rule"], finding["line"], finding["column"]) == (bad.rule, bad.line, bad.col)
    assert finding["severity"] == "error"
    assert bad.message in finding["message"]


def test_bad_file_does_not_stop_the_others(tmp_path: Path) -> None:
    for name, bad in BAD_FILES.items():
        bad.write(tmp_path / f"{name}.yaml")
    (tmp_path / "good.yaml").write_text(
        "baton: 1\nname: good\nagents: {a: {run: {builtin: echo}}}\nowner: a\n"
        "steps:\n  s: {agent: a, needs: [nope]}\n"
    )
    result, seconds = run_lint(str(tmp_path))
    assert_no_traceback(result)
    assert result.exit_code == 1
    assert seconds < 2 * SECONDS
    assert f"{tmp_path / 'good.yaml'}:6:25: B102 error:" in result.stdout
    for name in BAD_FILES:
        assert f"{tmp_path / name}.yaml:" in result.stdout, name


def test_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir"
    result, _ = run_lint(str(missing))
    assert_no_traceback(result)
    assert result.exit_code == 2
    assert f"path '{missing}' does not exist" in result.stderr
    assert result.stdout == ""


def test_unreadable_referenced_schema_is_a_finding(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "brief.json").write_bytes(b"{\x00\x01 not json")
    (tmp_path / "wf.yaml").write_text(
        "baton: 1\nname: refs\nagents: {a: {run: {builtin: echo}}}\nowner: a\n"
        "handoffs:\n  brief:\n    versions:\n      1: {$ref: schemas/brief.json}\n"
        "steps:\n  s: {agent: a, output: brief}\n"
    )
    result, _ = run_lint(str(tmp_path))
    assert_no_traceback(result)
    assert result.exit_code == 1
    assert f"{tmp_path / 'wf.yaml'}:8:17: B305 error: cannot resolve $ref" in result.stdout
    assert "binary file" in result.stdout


def test_diamond_of_sub_workflows_is_fast(tmp_path: Path) -> None:
    """Each of 14 workflows calls the next from 3 steps: 3**13 paths to the last one.
    Delegation chains are followed per distinct caller context, not per path."""
    levels, fan = 14, 3
    for level in range(levels):
        if level < levels - 1:
            steps = "".join(f"  call{j}: {{workflow: w{level + 1}}}\n" for j in range(fan))
        else:
            steps = "  leaf: {agent: b, delegated_by: a}\n"
        (tmp_path / f"w{level}.yaml").write_text(
            f"baton: 1\nname: w{level}\nowner: a\nsteps:\n{steps}"
            "agents:\n  a: {run: {builtin: echo}, delegates_to: [b]}\n"
            "  b: {run: {builtin: echo}, delegates_to: [a]}\n"
            "policy: {max_delegation_depth: 1}\n"
        )
    result, seconds = run_lint(str(tmp_path), "--format", "json")
    assert_no_traceback(result)
    assert seconds < SECONDS
    findings = [(f["rule"], Path(f["path"]).name) for f in json.loads(result.stdout)]
    # B207 per inline roster; the leaf's own chain a -> a -> b is fine (1 delegation)
    assert sorted(set(findings)) == sorted(("B207", f"w{level}.yaml") for level in range(levels))


@pytest.mark.parametrize(
    "prefix",
    ["", "'[[[', ", '"[\\"[", ', "# [[[\n  ", "['''[', x], "],
    ids=["plain", "single_quoted", "double_quoted", "comment", "closed_collection"],
)
def test_flow_depth_position_skips_quotes_and_comments(prefix: str) -> None:
    """The position of the first level past MAX_DEPTH is the same whatever precedes it
    in the flow collection (PyYAML 6.0.2's event stream and 6.0.4's refusal alike)."""
    deep = "[" * 300 + "]" * 300
    text = f"baton: 1\nname: deep\nsteps: [{prefix}{deep}]\n"
    _, findings = load_text("deep.yaml", text)
    [finding] = findings
    assert finding.message == f"nesting deeper than {MAX_DEPTH} levels"
    line = text.count("\n", 0, text.index(deep)) + 1
    column = text.index(deep) - text.rfind("\n", 0, text.index(deep))
    assert (finding.span.line, finding.span.col) == (line, column + MAX_DEPTH - 1)
