"""`baton lint` as users and CI call it: exit codes, rule selection, project settings, and
the four output formats (SARIF checked against the official 2.1.0 schema)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema  # type: ignore[import-untyped, unused-ignore]
import pytest
from click.testing import CliRunner, Result

from baton.cli import cli
from baton.compiler.rules.registry import RULES

REPO = Path(__file__).resolve().parents[2]
SARIF_SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"

ROSTER = """\
baton: 1
kind: roster
agents:
  mario:
    run: {builtin: echo}
    delegates_to: [webster]
  webster:
    run: {builtin: echo}
    delegates_to: []
approvers:
  manager: [alice]
"""
CLEAN = """\
baton: 1
name: clean
roster: roster.yaml
owner: mario
steps:
  research:
    agent: webster
"""
# one warning (B304, line 9) and nothing else
WARNING_ONLY = """\
baton: 1
name: loose
roster: roster.yaml
owner: mario
handoffs:
  brief:
    versions:
      1:
        type: object
        properties:
          summary: {type: string}
steps:
  research:
    agent: webster
    output: brief
"""
# one error (B102 at 9:13) and one warning (B304 at 15:9)
ERROR_AND_WARNING = """\
baton: 1
name: broken
roster: roster.yaml
owner: mario
steps:
  research:
    agent: webster
  audit:
    needs: [reserch]
    agent: webster
handoffs:
  brief:
    versions:
      1:
        type: object
        properties:
          summary: {type: string}
"""
FINDING = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<rule>B\d{3}) (\w+): .+$")


@pytest.fixture(autouse=True)
def isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test runs in an empty directory: no pyproject.toml of the repository applies."""
    work = tmp_path / "project"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def spec_set(name: str, workflow: str) -> str:
    """A spec directory (relative to the cwd) with the roster and one workflow file."""
    directory = Path(name)
    directory.mkdir()
    (directory / "roster.yaml").write_text(ROSTER)
    (directory / "wf.yaml").write_text(workflow)
    return name


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, ["lint", *args])
    assert "Traceback" not in result.output
    return result


def rules_in(result: Result) -> list[str]:
    return [m.group("rule") for line in result.stdout.splitlines() if (m := FINDING.match(line))]


# -- exit codes


def test_clean_set_exits_0_and_prints_only_the_summary() -> None:
    result = run(spec_set("specs", CLEAN))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == "2 files checked: 0 errors, 0 warnings\n"


def test_warnings_alone_exit_0() -> None:
    result = run(spec_set("specs", WARNING_ONLY))
    assert result.exit_code == 0
    assert rules_in(result) == ["B304"]
    assert "0 errors, 1 warning\n" in result.stderr


def test_strict_makes_a_warning_fail() -> None:
    result = run("--strict", spec_set("specs", WARNING_ONLY))
    assert result.exit_code == 1
    assert rules_in(result) == ["B304"]


def test_an_error_exits_1() -> None:
    result = run(spec_set("specs", ERROR_AND_WARNING))
    assert result.exit_code == 1
    assert rules_in(result) == ["B102", "B304"]
    assert "1 error, 1 warning\n" in result.stderr


def test_default_path_is_specs() -> None:
    spec_set("specs", ERROR_AND_WARNING)
    result = run()
    assert result.exit_code == 1
    assert rules_in(result) == ["B102", "B304"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no_such_dir"], "path 'no_such_dir' does not exist"),
        (["--format", "xml", "."], "Invalid value for '--format'"),
        (["--select", "B1O1", "."], "unknown rule 'B1O1' in --select"),
        (["--ignore", "X", "."], "unknown rule 'X' in --ignore"),
        (["--no-such-option"], "No such option"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_internal_error_exits_2_not_1(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug in baton must not look like findings to CI (exit 1 means "the specs are bad")."""

    def broken_lint(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr("baton.commands.lint.lint", broken_lint)
    result = CliRunner().invoke(cli, ["lint", spec_set("specs", CLEAN)])
    assert result.exit_code == 2
    assert "internal error: RuntimeError: boom" in result.stderr
    assert result.stdout == ""


# -- rule selection


@pytest.mark.parametrize(
    ("args", "rules", "exit_code"),
    [
        ([], ["B102", "B304"], 1),
        (["--select", "B1"], ["B102"], 1),
        (["--select", "b304"], ["B304"], 0),
        (["--select", "B102,B304"], ["B102", "B304"], 1),
        (["--ignore", "B304"], ["B102"], 1),
        (["--ignore", "B1"], ["B304"], 0),
        (["--ignore", "B1, B3"], [], 0),
        (["--select", "B1", "--ignore", "B102"], [], 0),
        (["--select", "B3", "--strict"], ["B304"], 1),
    ],
)
def test_select_and_ignore(args: list[str], rules: list[str], exit_code: int) -> None:
    result = run(*args, spec_set("specs", ERROR_AND_WARNING))
    assert rules_in(result) == rules
    assert result.exit_code == exit_code


# -- [tool.baton.lint] in pyproject.toml


def write_pyproject(body: str) -> None:
    Path("pyproject.toml").write_text(f"[project]\nname = 'demo'\n\n[tool.baton.lint]\n{body}\n")


@pytest.mark.parametrize(
    ("settings", "args", "rules", "exit_code"),
    [
        ('ignore = ["B102"]', [], ["B304"], 0),
        ('select = ["B3"]', [], ["B304"], 0),
        ('select = ["b1"]', [], ["B102"], 1),
        ('select = ["B3"]', ["--select", "B1"], ["B102"], 1),  # the command line wins
        ('ignore = ["B102"]', ["--ignore", "B304"], [], 0),  # both ignore lists apply
        ('ignore = ["B102"]\nstrict = true', [], ["B304"], 1),
        ("strict = false", ["--strict", "--ignore", "B1"], ["B304"], 1),
    ],
)
def test_pyproject_settings(
    settings: str, args: list[str], rules: list[str], exit_code: int
) -> None:
    write_pyproject(settings)
    result = run(*args, spec_set("specs", ERROR_AND_WARNING))
    assert rules_in(result) == rules
    assert result.exit_code == exit_code


def test_pyproject_is_found_from_a_subdirectory(monkeypatch: pytest.MonkeyPatch) -> None:
    write_pyproject('ignore = ["B1", "B3"]')
    spec_set("specs", ERROR_AND_WARNING)
    monkeypatch.chdir("specs")
    result = run(".")
    assert result.exit_code == 0
    assert rules_in(result) == []


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ('selct = ["B1"]', "unknown key 'selct' in [tool.baton.lint]"),
        ('ignore = "B102"', "ignore must be a list of rule ids"),
        ('strict = "yes"', "strict must be true or false"),
        ('select = ["B9"]', "unknown rule 'B9' in [tool.baton.lint] select"),
        ("ignore = [", "cannot read settings"),
    ],
)
def test_bad_pyproject_settings_are_usage_errors(settings: str, message: str) -> None:
    write_pyproject(settings)
    result = run(spec_set("specs", CLEAN))
    assert result.exit_code == 2
    assert message in result.stderr


# -- output formats


def test_text_format_shows_the_source_line_and_a_caret() -> None:
    result = run(spec_set("specs", ERROR_AND_WARNING))
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "specs/wf.yaml:9:13: B102 error: step 'audit' needs unknown step 'reserch' "
        "(did you mean 'research'?); steps are 'audit', 'research'"
    )
    assert lines[1] == "      needs: [reserch]"
    assert lines[2] == "  " + " " * 12 + "^"
    assert lines[1][lines[2].index("^") :].startswith("reserch")
    assert lines[3].startswith("specs/wf.yaml:15:9: B304 warning: loose object schema")
    assert lines[5].index("^") == lines[4].index("type: object")


def test_text_caret_under_a_reference_inside_a_template() -> None:
    workflow = CLEAN + "    input: {topic: '{{ inputs.topik }}'}\n"
    result = run(spec_set("specs", workflow))
    source, caret = result.stdout.splitlines()[1:3]
    assert source[caret.index("^") :].startswith("inputs.topik")


def test_json_format() -> None:
    result = run("--format", "json", spec_set("specs", ERROR_AND_WARNING))
    assert result.exit_code == 1
    findings = json.loads(result.stdout)
    assert [(f["rule"], f["severity"], f["line"], f["column"]) for f in findings] == [
        ("B102", "error", 9, 13),
        ("B304", "warning", 15, 9),
    ]
    for finding in findings:
        assert set(finding) == {"rule", "severity", "path", "line", "column", "message", "notes"}
        assert finding["path"] == "specs/wf.yaml"
        assert isinstance(finding["message"], str) and finding["message"]
    assert result.stderr == ""  # machine formats print no summary


def test_json_format_of_a_clean_set_is_an_empty_list() -> None:
    result = run("--format", "json", spec_set("specs", CLEAN))
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []


def test_github_format() -> None:
    result = run("--format", "github", spec_set("specs", ERROR_AND_WARNING))
    lines = result.stdout.splitlines()
    assert lines == [
        "::error file=specs/wf.yaml,line=9,col=13,title=B102::B102: step 'audit' needs unknown "
        "step 'reserch' (did you mean 'research'?); steps are 'audit', 'research'",
        "::warning file=specs/wf.yaml,line=15,col=9,title=B304::B304: loose object schema in "
        "handoff 'brief@1' at '/': no explicit 'required' or 'additionalProperties'",
    ]
    shape = re.compile(r"^::(error|warning) file=[^,:]+,line=\d+,col=\d+,title=B\d{3}::.+$")
    assert all(shape.match(line) for line in lines)


def test_github_format_escapes_what_would_break_the_command() -> None:
    spec_set("odd,dir: x", ERROR_AND_WARNING)
    result = run("--format", "github", "odd,dir: x")
    assert result.stdout.startswith("::error file=odd%2Cdir%3A x/wf.yaml,line=9,col=13,")


def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or bool(urlsplit(value).scheme)


def _is_uri_reference(value: object) -> bool:
    return not isinstance(value, str) or not re.search(r"[\s\\]", value)


def sarif_validator() -> Any:
    """A draft-04 validator for the official schema; `uri` formats checked too (jsonschema
    skips them unless optional packages are installed)."""
    schema = json.loads(SARIF_SCHEMA.read_text("utf-8"))
    formats = jsonschema.FormatChecker()
    formats.checks("uri")(_is_uri)
    formats.checks("uri-reference")(_is_uri_reference)
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema, format_checker=formats)


@pytest.mark.parametrize("workflow", [ERROR_AND_WARNING, CLEAN], ids=["findings", "clean"])
def test_sarif_is_valid_sarif_2_1_0(workflow: str) -> None:
    result = run("--format", "sarif", spec_set("specs", workflow))
    log = json.loads(result.stdout)
    errors = sorted(sarif_validator().iter_errors(log), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
    assert log["version"] == "2.1.0"
    (sarif_run,) = log["runs"]
    driver = sarif_run["tool"]["driver"]
    assert [rule["id"] for rule in driver["rules"]] == [rule.id for rule in RULES]
    expected = 2 if workflow is ERROR_AND_WARNING else 0
    assert len(sarif_run["results"]) == expected
    assert sarif_run["columnKind"] == "unicodeCodePoints"
    for rule in driver["rules"]:
        assert rule["help"]["text"] and rule["help"]["markdown"], rule["id"]
        assert rule["helpUri"].startswith("https://"), rule["id"]


def test_sarif_rule_help_is_the_rule_documentation() -> None:
    """`help` is what docs/rules.md says about the rule, and `helpUri` lands on that section."""
    driver = json.loads(run("--format", "sarif", spec_set("specs", CLEAN)).stdout)["runs"][0]
    rules_md = (REPO / "docs" / "rules.md").read_text("utf-8")
    for sarif_rule, rule in zip(driver["tool"]["driver"]["rules"], RULES, strict=True):
        markdown = sarif_rule["help"]["markdown"]
        # the section of docs/rules.md: the anchor, the heading, the severity line, the help
        anchor = urlsplit(sarif_rule["helpUri"]).fragment
        section = f'<a id="{anchor}"></a>\n\n## {rule.id} {rule.name}\n\n'
        assert section in rules_md, rule.id
        assert f"\n\n{markdown}\n" in rules_md.split(section, 1)[1].split("\n## ", 1)[0]
        assert urlsplit(sarif_rule["helpUri"]).path.endswith("/docs/rules.md")
        # the plain text says the same without markdown emphasis
        first = rule.docs.split("\n\n", 1)[0]
        assert sarif_rule["help"]["text"].startswith(" ".join(first.split())), rule.id
        assert "**" not in sarif_rule["help"]["text"]
        silence = f"ignore[{rule.id}]" if rule.silenceable else "cannot be silenced"
        assert silence in sarif_rule["help"]["text"], rule.id


def test_sarif_columns_count_code_points_not_utf16_units() -> None:
    """`columnKind: unicodeCodePoints` is true: a character outside the BMP (two UTF-16
    units) before a finding on the same line counts once."""
    workflow = CLEAN + '    input: {note: "\U0001f600 {{ steps.nope.output }}"}\n'
    log = json.loads(run("--format", "sarif", spec_set("specs", workflow)).stdout)
    assert not list(sarif_validator().iter_errors(log))
    (result,) = log["runs"][0]["results"]
    assert result["ruleId"] == "B103"
    line = workflow.splitlines()[7]
    before = line[: line.index("steps.nope")]
    # code points: the reference's index in the Python string, 1-based
    assert result["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 8,
        "startColumn": len(before) + 1,
    }
    assert len(before.encode("utf-16-le")) // 2 == len(before) + 1  # UTF-16 would say 1 more


def test_sarif_results_carry_rule_level_and_location() -> None:
    result = run("--format", "sarif", spec_set("specs", ERROR_AND_WARNING))
    sarif_run = json.loads(result.stdout)["runs"][0]
    rules = sarif_run["tool"]["driver"]["rules"]
    found = []
    for sarif_result in sarif_run["results"]:
        (location,) = sarif_result["locations"]
        physical = location["physicalLocation"]
        assert rules[sarif_result["ruleIndex"]]["id"] == sarif_result["ruleId"]
        found.append(
            (
                sarif_result["ruleId"],
                sarif_result["level"],
                physical["artifactLocation"]["uri"],
                physical["region"]["startLine"],
                physical["region"]["startColumn"],
            )
        )
    assert found == [
        ("B102", "error", "specs/wf.yaml", 9, 13),
        ("B304", "warning", "specs/wf.yaml", 15, 9),
    ]


def test_the_sarif_validator_rejects_a_broken_log() -> None:
    """The schema check above can fail: a zero line number, an unknown level or column
    kind, a `help` without its text: none of them is SARIF."""
    result = run("--format", "sarif", spec_set("specs", ERROR_AND_WARNING))
    log = json.loads(result.stdout)
    log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    log["runs"][0]["results"][1]["level"] = "fatal"
    log["runs"][0]["columnKind"] = "bytes"
    del log["runs"][0]["tool"]["driver"]["rules"][0]["help"]["text"]
    assert len(list(sarif_validator().iter_errors(log))) == 4


# -- the real command, as the README runs it


def test_baton_lint_specs_as_a_subprocess() -> None:
    baton = Path(sys.executable).parent / "baton"
    if not baton.exists():  # pragma: no cover - an environment without the console script
        found = shutil.which("baton")
        assert found, "the `baton` console script is not installed"
        baton = Path(found)
    completed = subprocess.run(
        [str(baton), "lint", "specs/"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout == ""
    assert re.fullmatch(r"\d+ files checked: 0 errors, 0 warnings\n", completed.stderr)


def test_the_executable_flushes_findings_before_its_quick_exit() -> None:
    """`baton lint` as its own process leaves with os._exit (no interpreter shutdown):
    its findings, block-buffered into a pipe, and its exit code are those of the
    command run in-process."""
    baton = Path(sys.executable).parent / "baton"
    assert baton.exists(), "the `baton` console script is not installed"
    spec_set("specs", ERROR_AND_WARNING)
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    for fmt in ("json", "text"):
        in_process = run("--format", fmt, "specs")
        completed = subprocess.run(
            [str(baton), "lint", "--format", fmt, "specs"],
            env=buffered,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert completed.returncode == in_process.exit_code == 1
        assert completed.stdout == in_process.stdout != ""
        assert completed.stderr == in_process.stderr
    assert completed.stderr.endswith("1 error, 1 warning\n"), completed.stderr


def test_sarif_uri_of_a_path_with_spaces_is_a_valid_uri_reference() -> None:
    spec_set("my specs", ERROR_AND_WARNING)
    result = run("--format", "sarif", "my specs")
    log = json.loads(result.stdout)
    assert not list(sarif_validator().iter_errors(log))
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in log["runs"][0]["results"]
    }
    assert uris == {"my%20specs/wf.yaml"}
