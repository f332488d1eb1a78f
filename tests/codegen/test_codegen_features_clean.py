"""What each spec feature compiles to is ruff- and mypy --strict-clean: the golden ok case
of every feature compiled into one tree, checked by one ruff and one mypy run (a mypy
start-up per feature cost ~20 s each). Each feature's own test checks its content."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from baton.commands.compile import compile_command
from codegen.codegen_support import ROOT

BIN = Path(sys.executable).parent
OK = ROOT / "tests" / "golden" / "lint" / "ok"
# each feature's ok case: what its generated code must type-check with
FEATURES = ("routes", "reviews", "maps", "notify", "approval_timeouts", "fallbacks", "tools")


def test_every_feature_compiles_clean(tmp_path: Path, mypy_cache: str) -> None:
    out = tmp_path / "out"
    for feature in FEATURES:
        result = CliRunner().invoke(compile_command, [str(OK / feature), "-o", str(out / feature)])
        assert result.exit_code == 0, (feature, result.output)
        assert (out / feature / "__init__.py").exists(), feature
    config = str(ROOT / "pyproject.toml")
    for command in (
        (str(BIN / "ruff"), "format", "--check", "--config", config, str(out)),
        (str(BIN / "ruff"), "check", "--config", config, str(out)),
        (
            str(BIN / "mypy"),
            "--strict",
            "--cache-dir",
            mypy_cache,
            *(str(out / f) for f in FEATURES),
        ),
    ):
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
