"""The installed product adds one import name, `baton`, and stays out of a user project's way.

A wheel is built from a copy of the sources, installed into a fresh virtual environment
(offline, its dependencies those of the suite's own environment), and used from a user project
that holds its own `runtime/`, `compiler/` and `generated/` packages: lint, compile and run
must all see Baton's code as `baton.*` and the project's code as the project's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UV = str(Path(sys.executable).parent / "uv")

ROSTER = """\
baton: 1
kind: roster
agents:
  shouter:
    description: Says it loudly
    run: {python: "myagents:shout"}
  echoer:
    description: Repeats its input
    run: {builtin: echo}
"""

SPEC = """\
baton: 1
name: hello
description: Greets, in the user's own project.
roster: roster.yaml
owner: shouter
inputs:
  type: object
  required: [name]
  additionalProperties: false
  properties:
    name: {type: string}
handoffs:
  greeting:
    versions:
      1:
        type: object
        required: [text]
        additionalProperties: false
        properties:
          text: {type: string}
steps:
  greet:
    agent: shouter
    input: {text: "hello {{ inputs.name }}"}
    output: greeting@1
result: greet
"""

# The user's own packages named like Baton's old top-level packages (`generated/` is what
# `baton compile` writes into the project). The agent proves at
# run time that `runtime` is still the user's package, not Baton's.
USER_FILES = {
    "runtime/__init__.py": 'OWNER = "user"\n',
    "compiler/__init__.py": "raise ImportError(\"the user's compiler package is not Baton's\")\n",
    "myagents.py": (
        "import runtime\n\n\n"
        "def shout(req):\n"
        '    assert runtime.OWNER == "user"\n'
        '    return {"text": req.input["text"].upper()}\n'
    ),
    "roster.yaml": ROSTER,
    "hello.yaml": SPEC,
}


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of the sources (the work tree gets no build/ or egg-info)."""
    source = tmp_path_factory.mktemp("source")
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copy(ROOT / "README.md", source)
    shutil.copytree(ROOT / "baton", source / "baton", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "generated", source / "generated")  # present, yet not packaged
    dist = tmp_path_factory.mktemp("dist")
    run(UV, "build", "--wheel", "--offline", "--quiet", "-o", str(dist), cwd=source)
    [built] = dist.glob("*.whl")
    return built


def test_wheel_holds_only_the_baton_package(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
    assert tops == {"baton", "baton_workflows-0.1.0.dist-info"}


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str]]:
    """A fresh environment with the wheel installed (its dependencies the suite's own), and
    the site-packages entries the wheel itself added."""
    where = tmp_path_factory.mktemp("venv") / "env"
    run(UV, "venv", "--quiet", "--python", sys.executable, str(where), cwd=where.parent)
    python = str(where / "bin" / "python")
    [site] = (where / "lib").glob("python3.*/site-packages")
    run(UV, "pip", "install", "--offline", "--quiet", "--python", python, str(wheel), "--no-deps",
        cwd=where)  # fmt: skip
    alone = {entry.name for entry in site.iterdir()}
    # its dependencies: the ones this suite runs on (installed from uv.lock), as a path
    # entry after the environment's own site-packages. Not `uv pip install`: offline, that
    # resolves from uv's registry cache, which `uv sync` from the lock does not fill. A
    # path entry's own .pth files are not run, so the suite's editable install of Baton
    # stays out and `baton` is the wheel's.
    (site / "suite_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return where, alone


def test_install_adds_one_import_name(installed: tuple[Path, set[str]]) -> None:
    """The wheel on its own (no dependencies) adds `baton` and its dist-info, nothing else."""
    _, alone = installed
    assert {name for name in alone if not name.startswith("_")} == {
        "baton",
        "baton_workflows-0.1.0.dist-info",
    }


def test_user_project_with_same_named_packages(
    installed: tuple[Path, set[str]], tmp_path: Path
) -> None:
    venv, _ = installed
    project = tmp_path / "project"
    for name, text in USER_FILES.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    baton = str(venv / "bin" / "baton")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"

    assert "0 errors" in run(baton, "lint", ".", cwd=project, env=env)
    run(baton, "compile", ".", "-o", "generated/", cwd=project, env=env)
    assert (project / "generated" / "hello.py").exists()
    assert "import baton.runtime as rt" in (project / "generated" / "hello.py").read_text()

    db = str(tmp_path / "runs.db")
    for target, run_id in (("hello", "by-name"), ("hello.yaml", "by-file")):
        run(
            baton, "run", target, "--db", db, "--run-id", run_id,
            "--input", '{"name": "ada"}', cwd=project, env=env,
        )  # fmt: skip
        shown = run(baton, "show", run_id, "--db", db, "--json", cwd=project, env=env)
        assert '"HELLO ADA"' in shown
        assert '"succeeded"' in shown
