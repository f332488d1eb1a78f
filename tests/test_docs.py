"""The docs follow the code: docs/rules.md is generated from the rule table, and
docs/spec.md mentions every key the spec format's JSON Schema accepts."""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from typing import Any

from baton.compiler.rules.docs import REGENERATE, render_rules_markdown
from baton.compiler.rules.registry import RULES

ROOT = Path(__file__).resolve().parent.parent
RULES_MD = ROOT / "docs" / "rules.md"
SPEC_MD = ROOT / "docs" / "spec.md"
SPEC_SCHEMA = ROOT / "baton" / "compiler" / "data" / "spec.schema.json"


def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SPEC_SCHEMA.read_text("utf-8"))
    return schema


def _properties(node: dict[str, Any]) -> set[str]:
    return set(node.get("properties", {}))


def _mentioned(key: str, text: str) -> bool:
    """A key counts as documented when it is written as code (`key`, `key: ...`) or as a
    mapping key in a YAML example (`key:` at the start of a line or in a flow mapping)."""
    name = re.escape(key)
    as_code = re.search(rf"`{name}(`|:|@)", text)
    as_yaml_key = re.search(rf"(^|[{{,]|- )\s*{name}:", text, re.MULTILINE)
    return bool(as_code or as_yaml_key)


def _undocumented(keys: set[str]) -> list[str]:
    text = SPEC_MD.read_text("utf-8")
    return sorted(key for key in keys if not _mentioned(key, text))


def test_rules_md_is_generated_from_the_rule_table() -> None:
    expected = render_rules_markdown()
    actual = RULES_MD.read_text("utf-8") if RULES_MD.exists() else ""
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                actual.splitlines(keepends=True),
                expected.splitlines(keepends=True),
                "docs/rules.md (checked in)",
                "docs/rules.md (generated)",
            )
        )
        raise AssertionError(
            f"docs/rules.md is stale; regenerate it with `{REGENERATE}`\n{diff[:4000]}"
        )


def test_rules_md_has_a_section_per_rule() -> None:
    text = RULES_MD.read_text("utf-8")
    for rule in RULES:
        assert f"\n## {rule.id} {rule.name}\n" in text
        assert f'<a id="{rule.id.lower()}"></a>' in text  # the anchor SARIF links to


def test_spec_md_mentions_every_top_level_key() -> None:
    schema = _schema()
    defs = schema["$defs"]
    keys = (
        _properties(schema) | _properties(defs["workflow_file"]) | _properties(defs["roster_file"])
    )
    assert {"baton", "kind", "name", "steps", "agents"} <= keys  # the parse found them
    missing = _undocumented(keys)
    assert not missing, f"docs/spec.md does not document top-level keys: {missing}"


def test_spec_md_mentions_every_step_key() -> None:
    keys = _properties(_schema()["$defs"]["step"])
    assert {"agent", "needs", "input", "output"} <= keys
    missing = _undocumented(keys)
    assert not missing, f"docs/spec.md does not document step keys: {missing}"


def test_spec_md_mentions_every_nested_key() -> None:
    """Agents, run kinds, price, llm settings, budgets, policy, handoffs, retry, backoff,
    approval, quality."""
    defs = _schema()["$defs"]
    agent = defs["agent"]
    nested = [
        agent,
        agent["properties"]["run"],
        agent["properties"]["price"],
        defs["llm"],
        defs["budget"],
        defs["policy"],
        defs["handoff"],
        defs["retry"],
        defs["retry"]["properties"]["backoff"],
        defs["approval"],
        defs["quality"],
        defs["quality"]["properties"]["checks"]["items"],
    ]
    keys = set().union(*(_properties(node) for node in nested))
    missing = _undocumented(keys)
    assert not missing, f"docs/spec.md does not document keys: {missing}"


def test_mentioned_recognises_code_and_yaml_keys() -> None:
    assert _mentioned("needs", "a step's `needs` list")
    assert _mentioned("timeout", "    timeout: 2m")
    assert _mentioned("jitter", "backoff: {initial: 1s, jitter: 0.1}")
    assert not _mentioned("jitter", "we add some jitter to backoff")
