"""Golden diagnostics, in the style of actionlint's testdata.

`tests/golden/lint/err/<case>/` holds one spec set and `expected.out`, the exact
findings as `path:line:col: RULE severity: message` (paths relative to the case).
`tests/golden/lint/ok/<case>/` holds spec sets that must lint clean, warnings included.

Each case is linted from inside its directory, so paths in locations and messages are
relative and the expectations do not depend on where the repository is checked out.
`BATON_UPDATE_GOLDEN=1 pytest tests/lint/test_golden.py` rewrites every expected.out;
read the diff before committing it: a wrong finding is a compiler bug, not a new truth.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from baton.compiler.pipeline import LintOptions, lint
from baton.compiler.rules.registry import RULES

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "lint"
ERR_CASES = sorted(p for p in (GOLDEN / "err").iterdir() if p.is_dir())
OK_CASES = sorted(p for p in (GOLDEN / "ok").iterdir() if p.is_dir())
UPDATE = os.environ.get("BATON_UPDATE_GOLDEN") == "1"
# every rule has at least one err case (B303 is also tested with the checker's own suite)
NOT_COVERED_HERE: set[str] = set()


def findings_of(case: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The findings for a case directory, one line each, as expected.out holds them."""
    monkeypatch.chdir(case)
    # a case with a `probe-tools` file is linted as `baton lint --probe-tools` (B703)
    result = lint(["."], LintOptions(probe_tools=(case / "probe-tools").is_file()))
    return [
        f"{d.span.path}:{d.span.line}:{d.span.col}: {d.rule} {d.severity.value}: {d.message}"
        for d in result.diagnostics
    ]


@pytest.mark.parametrize("case", ERR_CASES, ids=[p.name for p in ERR_CASES])
def test_err_case(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected_file = case / "expected.out"
    actual = findings_of(case, monkeypatch)
    if UPDATE:
        expected_file.write_text("".join(line + "\n" for line in actual), "utf-8")
    expected = expected_file.read_text("utf-8").splitlines()
    assert actual == expected
    assert actual, "an err case must have at least one finding"


@pytest.mark.parametrize("case", OK_CASES, ids=[p.name for p in OK_CASES])
def test_ok_case(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert findings_of(case, monkeypatch) == []


def test_every_rule_has_an_err_case() -> None:
    seen = set()
    for case in ERR_CASES:
        for line in (case / "expected.out").read_text("utf-8").splitlines():
            seen.add(line.split(": ", 2)[1].split()[0])
    missing = {rule.id for rule in RULES} - NOT_COVERED_HERE - seen
    assert not missing, f"rules without a golden err case: {sorted(missing)}"


def test_cases_are_spec_sets() -> None:
    for case in ERR_CASES + OK_CASES:
        assert list(case.rglob("*.y*ml")), f"{case} has no spec file"
    for case in ERR_CASES:
        assert (case / "expected.out").is_file(), f"{case} has no expected.out"
