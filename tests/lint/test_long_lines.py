"""The text format's source excerpt: a long line is cut to a window around the column at
fault, with `…` where it was cut, and the caret still under the right character."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from baton.cli import cli
from baton.compiler.diagnostics import Diagnostic, Severity
from baton.compiler.formats import render_text
from baton.compiler.span import Span

ROSTER = """\
baton: 1
kind: roster
agents:
  webster:
    run: {builtin: echo}
    delegates_to: []
"""


def _excerpt(line: str, col: int) -> tuple[str, str]:
    finding = Diagnostic("B102", Severity.ERROR, Span("wf.yaml", 1, col), "message")
    _, source, caret = render_text(finding, {"wf.yaml": [line]}).splitlines()
    return source, caret


@pytest.mark.parametrize("col", [1, 2, 50, 51, 52, 5_000, 9_949, 9_950, 9_951, 10_000])
def test_a_10000_character_line_shows_a_window_around_the_column(col: int) -> None:
    line = "".join(chr(ord("a") + i % 26) for i in range(10_000))
    source, caret = _excerpt(line, col)
    assert source.startswith("  ") and caret.endswith("^") and set(caret[:-1]) == {" "}
    shown = source[2:]
    assert len(shown.strip("…")) == 100
    assert shown.startswith("…") == (col > 51)
    assert shown.endswith("…") == (col < 9_951)
    # the caret is under the character at `col`, its neighbour to the left before it
    at = caret.index("^")
    assert source[at] == line[col - 1]
    if col > 1 and source[at - 1] != "…":
        assert source[at - 1] == line[col - 2]


def test_short_lines_are_shown_whole() -> None:
    line = "x" * 100
    assert _excerpt(line, 100) == ("  " + line, "  " + " " * 99 + "^")


def test_lint_cuts_a_long_line_around_the_finding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("specs").mkdir()
    Path("specs/roster.yaml").write_text(ROSTER)
    pad = "x" * 9_000
    Path("specs/wf.yaml").write_text(
        "baton: 1\nname: broken\nroster: roster.yaml\nowner: webster\nsteps:\n"
        "  research:\n    agent: webster\n"
        f'  audit: {{input: {{pad: "{pad}"}}, needs: [reserch], agent: webster}}\n'
    )
    result = CliRunner().invoke(cli, ["lint", "specs"])
    assert result.exit_code == 1
    head, source, caret = result.stdout.splitlines()[:3]
    assert head.startswith("specs/wf.yaml:8:9037: B102 error: step 'audit' needs unknown step")
    assert source.startswith("  …xxx") and len(source) < 110
    assert source[caret.index("^") :].startswith("reserch]")
