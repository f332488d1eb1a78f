"""`baton graph SPEC`: a file draws its workflow; a directory its one workflow, or the
one `--workflow` names; anything else is a usage error that lists the choices."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from baton.cli import cli

ROSTER = """\
baton: 1
kind: roster
agents:
  webster:
    run: {builtin: echo}
    delegates_to: []
"""


def workflow(name: str) -> str:
    return (
        f"baton: 1\nname: {name}\nroster: roster.yaml\nowner: webster\n"
        "steps:\n  first:\n    agent: webster\n  second:\n    agent: webster\n"
        "    needs: [first]\n"
    )


@pytest.fixture
def specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    directory = tmp_path / "specs"
    directory.mkdir()
    (directory / "roster.yaml").write_text(ROSTER)
    (directory / "one.yaml").write_text(workflow("one"))
    return directory


def graph(*args: str) -> Result:
    result = CliRunner().invoke(cli, ["graph", *args])
    assert "Traceback" not in result.output
    return result


def test_a_directory_with_one_workflow_draws_it(specs: Path) -> None:
    by_file = graph("specs/one.yaml")
    for given in ("specs", "specs/", str(specs)):
        result = graph(given)
        assert result.exit_code == 0, result.output
        assert result.stdout == by_file.stdout
    assert "n0 --> n1" in by_file.stdout
    assert '    n0["first<br/>agent: webster"]' in by_file.stdout.splitlines()


def test_the_current_directory_is_a_directory_too(
    specs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(specs)
    result = graph(".", "--format", "json")
    assert result.exit_code == 0, result.output
    assert '"workflow": "one"' in result.stdout


def test_a_directory_with_several_workflows_needs_a_name(specs: Path) -> None:
    (specs / "two.yaml").write_text(workflow("two"))
    result = graph("specs")
    assert result.exit_code == 2
    assert "'specs' holds 2 workflows; name one with --workflow (one, two)" in result.stderr
    named = graph("specs", "--workflow", "two", "--format", "json")
    assert named.exit_code == 0 and '"workflow": "two"' in named.stdout


def test_a_directory_without_workflows_is_a_usage_error(specs: Path) -> None:
    (specs / "one.yaml").unlink()
    result = graph("specs")
    assert result.exit_code == 2
    assert "'specs' holds 0 workflows" in result.stderr
