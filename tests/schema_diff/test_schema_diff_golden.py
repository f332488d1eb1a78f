"""Golden text output: `golden/NAME.old.json` against `NAME.new.json` must print exactly
`NAME.out` (mode backward, as `baton schema diff` does by default).

Regenerate after an intended change with:

    BATON_UPDATE_GOLDEN=1 .venv/bin/pytest tests/schema_diff/test_schema_diff_golden.py

and review the diff of the `.out` files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from baton.compiler.schema_diff import diff_schemas, render_text

GOLDEN = Path(__file__).parent / "golden"
NAMES = sorted(path.name.removesuffix(".old.json") for path in GOLDEN.glob("*.old.json"))


def test_golden_cases_exist() -> None:
    assert NAMES, f"no golden cases in {GOLDEN}"


@pytest.mark.parametrize("name", NAMES)
def test_golden_output(name: str) -> None:
    old = json.loads((GOLDEN / f"{name}.old.json").read_text(encoding="utf-8"))
    new = json.loads((GOLDEN / f"{name}.new.json").read_text(encoding="utf-8"))
    actual = render_text(diff_schemas(old, new), "backward")
    expected_file = GOLDEN / f"{name}.out"
    if os.environ.get("BATON_UPDATE_GOLDEN") == "1":
        expected_file.write_text(actual, encoding="utf-8")
    assert expected_file.exists(), f"missing {expected_file}; run with BATON_UPDATE_GOLDEN=1"
    expected = expected_file.read_text(encoding="utf-8")
    assert actual == expected, (
        f"{name}: output changed; if intended, regenerate with BATON_UPDATE_GOLDEN=1\n{actual}"
    )
