"""Generated code is formatted (ruff format), lint-clean (ruff) and type-clean (mypy --strict),
for the checked-in modules and for a batch of awkward random spec sets; literals evaluate
to exactly the text they came from.
"""

from __future__ import annotations

import ast
import random
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from baton.commands.compile import compile_command
from baton.compiler.codegen import literals
from baton.compiler.codegen.naming import (
    BASEMODEL_ATTRIBUTES,
    PROTECTED_PREFIXES,
    Namer,
    is_field_name,
)
from codegen.codegen_shapes import NASTY, write_spec_set
from codegen.codegen_support import ROOT

BIN = Path(sys.executable).parent


def _tool(*command: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True)


@pytest.fixture(scope="module")
def random_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twelve random workflows of ten steps, compiled into a package directory."""
    root = tmp_path_factory.mktemp("random")
    write_spec_set(root / "specs", seed=20240601, workflows=12, steps=10)
    out = root / "out"
    result = CliRunner().invoke(compile_command, [str(root / "specs"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("target", ["generated", "random"])
def test_ruff_format_and_ruff_check_pass(target: str, random_package: Path) -> None:
    path = str(ROOT / "generated") if target == "generated" else str(random_package)
    config = str(ROOT / "pyproject.toml")
    formatted = _tool(str(BIN / "ruff"), "format", "--check", "--diff", "--config", config, path)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    checked = _tool(str(BIN / "ruff"), "check", "--config", config, path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_mypy_strict_passes_on_random_modules(random_package: Path, mypy_cache: str) -> None:
    done = _tool(str(BIN / "mypy"), "--strict", "--cache-dir", mypy_cache, str(random_package))
    assert done.returncode == 0, done.stdout + done.stderr


def test_random_modules_import(random_package: Path) -> None:
    from baton.compiler.codegen import load_workflow_from_source

    modules = sorted(random_package.glob("*.py"))
    assert len(modules) == 13
    for path in modules:
        if path.name != "__init__.py":
            workflow = load_workflow_from_source(path.read_text(), path.stem)
            assert len(workflow.steps) == 10


def test_string_literals_are_exact_and_ruff_stable(tmp_path: Path) -> None:
    rng = random.Random(7)
    alphabet = [*NASTY, "a", " ", "'", '"', "\\", "\x7f", "\U0001f600", "\ud800", "é", "\t"]
    texts = ["", *("".join(rng.choices(alphabet, k=rng.randint(1, 8))) for _ in range(400))]
    source = "X = [\n" + "".join(f"    {literals.string(t)},\n" for t in texts) + "]\n"
    assert ast.literal_eval(source.split(" = ", 1)[1]) == texts
    path = tmp_path / "strings.py"
    path.write_text(source, encoding="utf-8", errors="surrogatepass")
    done = _tool(str(BIN / "ruff"), "format", "--check", "--diff", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


@given(st.text())
def test_every_string_literal_evaluates_to_its_text(text: str) -> None:
    literal = literals.string(text)
    assert "\n" not in literal and "\r" not in literal and "\u2028" not in literal
    assert all(char.isprintable() for char in literal)
    assert ast.literal_eval(literal) == text


@given(st.text())
def test_comment_text_stays_on_its_line(text: str) -> None:
    comment = literals.comment_text(text)
    assert all(char.isprintable() for char in comment)
    assert comment.splitlines() in ([comment], [])


@given(st.floats() | st.integers())
def test_numbers_evaluate_to_themselves(number: float) -> None:
    value = eval(literals.number(number))  # float("inf") is an expression, not a literal
    assert value == number or (value != value and number != number)


def test_pydantic_attributes_are_reserved() -> None:
    """A field named like a BaseModel attribute would shadow it (warning or error)."""
    public = {
        name
        for name in dir(BaseModel) + dir(type(BaseModel))
        if not name.startswith("_") and not name.startswith(PROTECTED_PREFIXES)
    }
    assert public <= BASEMODEL_ATTRIBUTES | {"model_fields", "model_computed_fields"}
    assert not any(is_field_name(name) for name in public)


def test_namer_never_hands_out_a_keyword_or_a_taken_name() -> None:
    namer = Namer({"rt"})
    assert [namer.claim(n) for n in ("class", "rt", "match", "x", "x")] == [
        "class_2",
        "rt_2",
        "match",
        "x",
        "x_2",
    ]


GOOD_AGENT = """
import baton.runtime as rt
from generated.research_report import (
    OUTPUT_MODELS,
    BriefV2,
    ResearchReportInput,
    Step,
    research_output,
)


def handle(req: rt.Request[ResearchReportInput]) -> BriefV2:
    return BriefV2(summary=req.input.topic, sources=[req.input.client])


def confidence(value: rt.JSON) -> float | None:
    assert OUTPUT_MODELS[Step.RESEARCH] is BriefV2
    return research_output(value).confidence
"""
BAD_AGENT = """
import baton.runtime as rt
from generated.research_report import BriefV2, ResearchReportInput, VerdictV1


def handle(req: rt.Request[ResearchReportInput]) -> BriefV2:
    return VerdictV1(verdict="maybe")
"""


def test_agent_code_is_type_checked_against_the_generated_types(
    tmp_path: Path, mypy_cache: str
) -> None:
    """`def handle(req: rt.Request[ResearchReportInput]) -> BriefV2` is checked by mypy."""
    (tmp_path / "good_agent.py").write_text(GOOD_AGENT)
    (tmp_path / "bad_agent.py").write_text(BAD_AGENT)
    mypy = str(BIN / "mypy")
    good = _tool(mypy, "--strict", "--cache-dir", mypy_cache, str(tmp_path / "good_agent.py"))
    assert good.returncode == 0, good.stdout
    bad = _tool(mypy, "--strict", "--cache-dir", mypy_cache, str(tmp_path / "bad_agent.py"))
    assert 'got "VerdictV1", expected "BriefV2"' in bad.stdout
    assert "expected \"Literal['pass', 'fail']\"" in bad.stdout
