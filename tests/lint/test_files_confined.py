"""Files a spec names stay inside the spec root (rule B004), and nothing outside it is
ever read or printed.

Each spec set sits in a directory next to a secrets file that holds a unique marker.
The references that try to reach it (`../`, an absolute path, a `file://` URL, a symlink
inside the root, a `roster:`, a symlinked spec file) are findings, and no output of
`baton lint` (four formats), `baton compile` or `baton run` contains a byte of the
marker. Before B004, `$ref: ../secret.env` printed the file's first line in the finding.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from baton.compiler.codegen import compile_specs
from baton.compiler.formats import FORMATS, render
from baton.compiler.pipeline import LintOptions, UsageError, lint

BATON = str(Path(sys.executable).parent / "baton")
MARKER = "baton-secret-7f3a9c41"
# what a leak would have printed: YAML reads this as one string, a schema it is not
SECRET = f"API_TOKEN={MARKER}\n"

HEADER = """\
baton: 1
name: leaky
owner: mario
agents:
  mario:
    run: {builtin: echo}
steps:
  research:
    agent: mario
    output: brief
handoffs:
  brief:
    versions:
"""


def project(tmp_path: Path) -> Path:
    """tmp/secret.env next to tmp/specs/, the spec set; returns the specs directory."""
    (tmp_path / "secret.env").write_text(SECRET)
    specs = tmp_path / "specs"
    (specs / "schemas").mkdir(parents=True)
    return specs


def versions(*refs: str) -> str:
    """The workflow with one handoff version per `$ref`."""
    lines = "".join(f"      {n}: {{$ref: {json.dumps(ref)}}}\n" for n, ref in enumerate(refs, 1))
    return HEADER + lines


def assert_no_leak(text: str) -> None:
    assert MARKER not in text
    assert "API_TOKEN" not in text


def findings(specs: Path, root: str | None = None) -> list[tuple[str, str, int, int]]:
    result = lint([str(specs)], LintOptions(root=root))
    for fmt in FORMATS:
        assert_no_leak(render(result.diagnostics, fmt, result.sources))
    return [(d.rule, d.span.path, d.span.line, d.span.col) for d in result.diagnostics]


# -- each way out is B004, at the reference, and nothing is read


@pytest.mark.parametrize(
    "reference",
    ["../secret.env", "../../{name}/secret.env", "{tmp}/secret.env", "file://{tmp}/secret.env"],
    ids=["dotdot", "out-and-back-in", "absolute", "file-url"],
)
def test_a_ref_outside_the_root_is_b004(tmp_path: Path, reference: str) -> None:
    specs = project(tmp_path)
    ref = reference.format(tmp=tmp_path, name=tmp_path.name)
    (specs / "wf.yaml").write_text(versions(ref))
    wf = str(specs / "wf.yaml")
    assert findings(specs) == [("B004", wf, 14, 17)]
    message = lint([str(specs)]).diagnostics[0].message
    assert f"'{ref}'" in message  # the reference as written
    assert f"spec root '{specs}'" in message


def test_a_symlink_inside_the_root_that_points_outside_is_b004(tmp_path: Path) -> None:
    specs = project(tmp_path)
    (specs / "schemas" / "brief.json").symlink_to(tmp_path / "secret.env")
    (specs / "wf.yaml").write_text(versions("schemas/brief.json"))
    [finding] = lint([str(specs)]).diagnostics
    assert (finding.rule, finding.span.line) == ("B004", 14)
    assert "'schemas/brief.json' is a symlink to a file outside the spec root" in finding.message
    assert findings(specs) == [("B004", str(specs / "wf.yaml"), 14, 17)]


def test_a_nested_ref_in_a_schema_file_is_checked_too(tmp_path: Path) -> None:
    specs = project(tmp_path)
    (specs / "schemas" / "brief.json").write_text(
        '{"type": "object", "required": [], "additionalProperties": false,\n'
        ' "properties": {"x": {"$ref": "../../secret.env"}}}\n'
    )
    (specs / "wf.yaml").write_text(versions("schemas/brief.json"))
    assert findings(specs) == [("B004", str(specs / "schemas" / "brief.json"), 2, 31)]


def test_a_roster_outside_the_root_is_b004(tmp_path: Path) -> None:
    specs = project(tmp_path)
    (specs / "wf.yaml").write_text(
        "baton: 1\nname: team\nroster: ../secret.env\nowner: mario\n"
        "steps:\n  plan:\n    agent: mario\n"
    )
    assert findings(specs) == [("B004", str(specs / "wf.yaml"), 3, 9)]


def test_a_symlinked_spec_file_is_not_read(tmp_path: Path) -> None:
    specs = project(tmp_path)
    (specs / "evil.yaml").symlink_to(tmp_path / "secret.env")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "more.yaml").write_text(SECRET)
    (specs / "linked").symlink_to(outside, target_is_directory=True)
    assert findings(specs) == [("B004", str(specs / "evil.yaml"), 1, 1)]


def test_b004_cannot_be_silenced(tmp_path: Path) -> None:
    specs = project(tmp_path)
    (specs / "wf.yaml").write_text(
        versions("../secret.env").replace("versions:\n", "versions:  # baton: ignore[B004]\n")
        + "      2: {$ref: ../secret.env}  # baton: ignore[B004]\n"
    )
    options = LintOptions(ignore=("B004",), select=("B3",))
    result = lint([str(specs)], options)
    assert [d.rule for d in result.diagnostics] == ["B004", "B004"]


# -- the root can be widened, and must hold what is linted


def test_root_widens_the_boundary(tmp_path: Path) -> None:
    specs = project(tmp_path)
    (tmp_path / "shared.json").write_text('{"type": "string"}\n')
    (specs / "wf.yaml").write_text(versions("../shared.json"))
    assert [f[0] for f in findings(specs)] == ["B004"]
    assert findings(specs, root=str(tmp_path)) == []


def test_a_path_outside_the_root_is_a_usage_error(tmp_path: Path) -> None:
    specs = project(tmp_path)
    (specs / "wf.yaml").write_text(versions("schemas/x.json"))
    with pytest.raises(UsageError, match="is outside the spec root"):
        lint([str(specs)], LintOptions(root=str(specs / "schemas")))


def test_an_invalid_schema_file_in_the_root_is_described_not_quoted(tmp_path: Path) -> None:
    """B301 quotes at most a short value: a long one (a whole file) is described."""
    specs = project(tmp_path)
    (specs / "schemas" / "notes.json").write_text(json.dumps(f"{'x' * 60} {MARKER}") + "\n")
    (specs / "wf.yaml").write_text(versions("schemas/notes.json"))
    [finding] = lint([str(specs)]).diagnostics
    assert finding.rule == "B301"
    assert "a string of 82 characters is not of types" in finding.message
    assert MARKER not in finding.message


# -- the whole command line, as real processes


def leaky_project(tmp_path: Path) -> Path:
    """A spec set with every way out at once."""
    specs = project(tmp_path)
    (specs / "schemas" / "link.json").symlink_to(tmp_path / "secret.env")
    (specs / "evil.yaml").symlink_to(tmp_path / "secret.env")
    secret = str(tmp_path / "secret.env")
    workflow = versions("../secret.env", secret, f"file://{secret}", "schemas/link.json")
    (specs / "wf.yaml").write_text(workflow + "inputs: {$ref: ../secret.env}\n")
    (specs / "team.yaml").write_text(
        "baton: 1\nname: team\nroster: ../secret.env\nowner: mario\n"
        "steps:\n  plan:\n    agent: mario\n"
    )
    return specs


def baton(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    return subprocess.run(
        [BATON, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_lint_prints_no_byte_of_the_secret(tmp_path: Path, fmt: str) -> None:
    leaky_project(tmp_path)
    result = baton(tmp_path, "lint", "specs", "--format", fmt)
    assert result.returncode == 1, result.stderr
    assert_no_leak(result.stdout + result.stderr)
    assert result.stdout.count("B004") >= 7  # each way out (sarif also lists the rule)
    assert "Traceback" not in result.stderr


def test_compile_and_run_print_no_byte_of_the_secret(tmp_path: Path) -> None:
    leaky_project(tmp_path)
    compiled = baton(tmp_path, "compile", "specs", "-o", "out")
    assert compiled.returncode == 1, compiled.stderr
    assert "B004" in compiled.stdout
    assert not (tmp_path / "out").exists()
    ran = baton(tmp_path, "run", "specs/wf.yaml", "--db", str(tmp_path / "runs.db"))
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "B004" in ran.stderr and "not run: lint errors" in ran.stderr
    for result in (compiled, ran):
        assert_no_leak(result.stdout + result.stderr)
        assert "Traceback" not in result.stderr


def test_root_from_the_command_line_and_from_pyproject(tmp_path: Path) -> None:
    specs = project(tmp_path)
    (tmp_path / "shared.json").write_text('{"type": "string"}\n')
    (specs / "wf.yaml").write_text(versions("../shared.json"))
    assert baton(tmp_path, "lint", "specs").returncode == 1
    assert baton(tmp_path, "lint", "specs", "--root", ".").returncode == 0
    (tmp_path / "pyproject.toml").write_text('[tool.baton.lint]\nroot = "."\n')
    widened = baton(specs, "lint", ".")  # the setting is relative to the pyproject.toml
    assert widened.returncode == 0, widened.stdout + widened.stderr
    narrowed = baton(tmp_path, "lint", "specs", "--root", "specs/schemas")
    assert narrowed.returncode == 2
    assert "path 'specs' is outside the spec root 'specs/schemas'" in narrowed.stderr


def test_schema_diff_reads_no_ref_outside_the_compared_schemas_directory(tmp_path: Path) -> None:
    """`baton schema diff` follows `$ref`s only inside the directory of the files given."""
    specs = project(tmp_path)
    (tmp_path / "token.json").write_text(json.dumps({"type": MARKER}))  # not a schema
    (specs / "old.json").write_text('{"type": "object"}\n')
    (specs / "new.json").write_text('{"$ref": "../token.json"}\n')
    result = baton(tmp_path, "schema", "diff", "specs/old.json", "specs/new.json")
    assert result.returncode == 2
    assert "'specs', the directory of the schemas compared; it was not read" in result.stderr
    assert_no_leak(result.stdout + result.stderr)


# -- an llm agent's system prompt file


def _llm_workflow(system_file: str) -> str:
    return (
        "baton: 1\nname: modelled\nagents:\n  webster:\n    run:\n      llm:\n"
        "        provider: openai\n        model: gpt-4.1-mini\n"
        f"        system_file: {json.dumps(system_file)}\n"
        "handoffs:\n  note:\n    versions:\n      1:\n        type: object\n"
        "        required: [text]\n        additionalProperties: false\n"
        "        properties: {text: {type: string}}\n"
        "steps:\n  research:\n    agent: webster\n    output: note\n"
    )


@pytest.mark.parametrize(
    "reference",
    ["../secret.env", "{tmp}/secret.env", "file://{tmp}/secret.env", "prompts/linked.md"],
    ids=["dotdot", "absolute", "file-url", "symlink"],
)
def test_a_system_file_outside_the_root_is_b004_and_never_compiled_in(
    tmp_path: Path, reference: str
) -> None:
    specs = project(tmp_path)
    (specs / "prompts").mkdir()
    (specs / "prompts" / "linked.md").symlink_to(tmp_path / "secret.env")
    ref = reference.format(tmp=tmp_path)
    (specs / "wf.yaml").write_text(_llm_workflow(ref))
    assert findings(specs) == [("B004", str(specs / "wf.yaml"), 9, 22)]
    result = lint([str(specs)])
    (agent,) = result.spec.workflows["modelled"].roster.agents.values()  # type: ignore[union-attr]
    assert agent.llm is not None and agent.llm.system is None  # refused: never opened
    compiled = compile_specs([str(specs)])
    assert not compiled.ok and compiled.modules == {}


def test_a_system_file_inside_the_root_is_read_into_the_ir(tmp_path: Path) -> None:
    specs = project(tmp_path)
    (specs / "prompts").mkdir()
    (specs / "prompts" / "webster.md").write_text("You are Webster.\n")
    (specs / "wf.yaml").write_text(_llm_workflow("prompts/webster.md"))
    result = lint([str(specs)])
    assert result.diagnostics == []
    (agent,) = result.spec.workflows["modelled"].roster.agents.values()  # type: ignore[union-attr]
    assert agent.llm is not None and agent.llm.system == "You are Webster.\n"
