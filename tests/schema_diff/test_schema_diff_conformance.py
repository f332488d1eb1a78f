"""Conformance with Atlassian json-schema-diff's verdicts (see data/README.md).

Backward compatible exactly when the case says nothing was `removed`, forward compatible
when nothing was `added`. Agreement must stay >= 95% in each direction, and every case we
disagree with must be listed in KNOWN_DISAGREEMENTS with the reason, so that the set
cannot drift silently in either direction.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from baton.compiler.schema_diff import breaks_mode, diff_schemas

CASES_FILE = Path(__file__).parent / "data" / "json-schema-diff-cases.json"
MINIMUM_AGREEMENT = 0.95

# case id -> why our verdict differs. Empty: the checker agrees with every case. (The
# cases where json-schema-diff proves compatibility by set algebra that a structural
# checker would miss - unions of ranges, De Morgan, contradictions through `not` - are
# handled by normalization; see docs/compatibility.md.)
KNOWN_DISAGREEMENTS: dict[str, str] = {}


def _cases() -> list[tuple[str, dict[str, Any]]]:
    cases = json.loads(CASES_FILE.read_text(encoding="utf-8"))
    return [(f"case-{index:03d}", case) for index, case in enumerate(cases)]


def test_case_file_is_complete() -> None:
    assert len(_cases()) == 155


def test_agreement_with_json_schema_diff() -> None:
    cases = _cases()
    disagreements: dict[str, str] = {}
    agree = {"backward": 0, "forward": 0}
    for case_id, case in cases:
        changes = diff_schemas(case["old"], case["new"])
        expected = {"backward": not case["removed"], "forward": not case["added"]}
        for direction, compatible in expected.items():
            if breaks_mode(changes, direction) != compatible:
                agree[direction] += 1
            else:
                disagreements[case_id] = (
                    f"{direction}: expected {'compatible' if compatible else 'incompatible'} "
                    f"({case['description']!r})"
                )
    ratios = {direction: count / len(cases) for direction, count in agree.items()}
    print(
        f"\njson-schema-diff conformance: backward {agree['backward']}/{len(cases)} "
        f"({ratios['backward']:.1%}), forward {agree['forward']}/{len(cases)} "
        f"({ratios['forward']:.1%})"
    )
    assert all(ratio >= MINIMUM_AGREEMENT for ratio in ratios.values()), ratios
    unexpected = {k: v for k, v in disagreements.items() if k not in KNOWN_DISAGREEMENTS}
    fixed = sorted(set(KNOWN_DISAGREEMENTS) - set(disagreements))
    assert not unexpected, f"new disagreements (fix, or list them with a reason): {unexpected}"
    assert not fixed, f"listed disagreements that now agree (remove them): {fixed}"
