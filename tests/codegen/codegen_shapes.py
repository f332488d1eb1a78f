"""Random spec sets that lint clean but stress the code generator.

Seeded `random.Random` (not hypothesis) so that one batch of workflows can be compiled
once and checked with one `ruff` and one `mypy` run: long and awkward names, long enum
values, keyword and non-identifier property names, nested objects and arrays, unions,
defaults, descriptions and templates full of quotes, backslashes and unicode.
Spec files are written as JSON, which is YAML.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

# text that must survive as data: quotes, triple quotes, escapes, comment and template
# markers, line separators, NUL, bidi and zero-width characters, wide characters
NASTY = [
    '"',
    "'",
    '"""',
    "'''",
    "\\",
    "\\n",
    "\n",
    "\r\n",
    "\t",
    "#",
    "# noqa",
    "{{",
    "}}",
    "\u2028",
    "\u2029",
    "\x00",
    "\x85",
    "\u202e",
    "\u200b",
    "\ufeff",
    "日本語",
    "naïve",
    "class",
    "import os",
    "__import__('os').system('echo pwned')",
    "\"); print('pwned'); (\"",
    "{0}",
    "%s",
]
PROPERTY_NAMES = [
    "class",
    "import",
    "def",
    "match",
    "type",
    "str",
    "int",
    "list",
    "json",
    "schema",
    "model_config",
    "model_dump",
    "model_name",
    "_private",
    "__dunder__",
    "x-request-id",
    "2nd",
    "with space",
    'quote"d',
    "apos'trophe",
    "back\\slash",
    "new\nline",
    "ünïcödé",
    "日本",
    "",
    "CamelCase",
    "a" * 70,
]


def nasty_text(rng: random.Random, words: int = 6, template_safe: bool = False) -> str:
    """Words and nasty fragments; `template_safe` leaves out `{{`/`}}` (jinja syntax)."""
    fragments = [f for f in NASTY if not (template_safe and f in ("{{", "}}"))]
    pick = [rng.choice(fragments) if rng.random() < 0.5 else "lorem " for _ in range(words)]
    return "".join(pick)


def identifier(rng: random.Random, prefix: str) -> str:
    """A spec identifier (`^[a-z][a-z0-9_]*$`): sometimes a keyword, sometimes long."""
    roll = rng.random()
    if roll < 0.15:
        return rng.choice(
            ["class", "import", "from", "match", "none", "true", "step", "rt", "enum"]
        )
    if roll < 0.3:
        return prefix + "_" + "very_long_name_" * rng.randint(3, 6)
    return f"{prefix}{rng.randint(0, 999)}"


def schema(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    """A JSON Schema from the mapped subset, plus some outside it."""
    kinds = ["string", "integer", "number", "boolean", "enum", "array", "object", "nullable"]
    kinds += ["anyof", "any", "const", "dict"] if depth < 3 else []
    kind = rng.choice(kinds if depth < 3 else kinds[:5])
    if kind in ("string", "integer", "number", "boolean"):
        out: dict[str, Any] = {"type": kind}
        if kind == "string" and rng.random() < 0.3:
            out["pattern"] = rng.choice(["^[\"'#{}]*$", "^\\\\d+\\n?$", "^.{0,5}$"])
        if rng.random() < 0.3:
            out["description"] = nasty_text(rng)
        return out
    if kind == "enum":
        values: list[Any] = [nasty_text(rng, rng.randint(1, 12)) for _ in range(rng.randint(1, 6))]
        values += [rng.randint(-5, 5)] if rng.random() < 0.3 else []
        values += [None] if rng.random() < 0.2 else []
        return {"enum": list(dict.fromkeys(values))}
    if kind == "const":
        return {"const": rng.choice([nasty_text(rng), 7, True, None])}
    if kind == "nullable":
        return {"type": [rng.choice(["string", "integer"]), "null"]}
    if kind == "array":
        return {"type": "array", "items": schema(rng, depth + 1)}
    if kind == "anyof":
        return {"anyOf": [schema(rng, depth + 1) for _ in range(rng.randint(2, 4))]}
    if kind == "any":
        return {}
    if kind == "dict":
        return {"type": "object", "additionalProperties": schema(rng, depth + 1)}
    return object_schema(rng, depth + 1)


def object_schema(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    names = rng.sample(PROPERTY_NAMES, rng.randint(0, 4))
    names += [f"field_{i}_{'x' * rng.randint(0, 40)}" for i in range(rng.randint(1, 4))]
    properties = {name: schema(rng, depth) for name in names}
    for sub in properties.values():
        if rng.random() < 0.2 and sub.get("type") == "string":
            sub["default"] = nasty_text(rng)
        elif rng.random() < 0.1 and sub.get("type") == "integer":
            sub["default"] = "not an integer"  # a default that does not fit its type
    required = [n for n in names if rng.random() < 0.5]
    out: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
    out["additionalProperties"] = rng.random() < 0.6 and False
    return out


def workflow(rng: random.Random, name: str, steps: int) -> dict[str, Any]:
    agents = {f"agent{i}": {"run": {"builtin": f"demo.{i}"}, "delegates_to": []} for i in range(3)}
    agents["boss"] = {"run": {"python": "agents.boss:handle"}, "delegates_to": sorted(agents)}
    handoffs: dict[str, Any] = {}
    for _ in range(rng.randint(1, 3)):
        versions = {str(v): object_schema(rng) for v in range(1, rng.randint(2, 3))}
        handoffs[identifier(rng, "handoff")] = {"compatibility": "none", "versions": versions}
    ids: list[str] = []
    step_specs: dict[str, Any] = {}
    for index in range(steps):
        step_id = identifier(rng, "step")
        while step_id in step_specs:
            step_id += "_x"
        step: dict[str, Any] = {"agent": rng.choice(sorted(agents)[:3])}
        if ids:
            step["needs"] = sorted(set(rng.sample(ids, min(len(ids), rng.randint(1, 3)))))
        handoff = rng.choice(sorted(handoffs))
        step["output"] = f"{handoff}@{rng.choice(sorted(handoffs[handoff]['versions']))}"
        step["description"] = nasty_text(rng, 12)
        step["input"] = {
            nasty_text(rng, 2): f"{nasty_text(rng, 3, True)} {{{{ run.id }}}}",
            "n": index,
        }
        if rng.random() < 0.3:
            step["retry"] = {"max_attempts": 3, "on": ["timeout"], "backoff": {"initial": "2s"}}
        if rng.random() < 0.3:
            step["approval"] = {"role": "lead", "stage": rng.choice(["before", "after"])}
            step["effect"] = "external" if step["approval"]["stage"] == "before" else "none"
        if rng.random() < 0.2:
            step["quality"] = {"min_score": 0.5, "checks": [{"expr": "output is defined"}]}
        step_specs[step_id] = step
        ids.append(step_id)
    return {
        "baton": 1,
        "name": name,
        "description": nasty_text(rng, 20),
        "owner": "boss",
        "agents": agents,
        "approvers": {"lead": ['dana "the boss"']},
        "inputs": object_schema(rng),
        "handoffs": handoffs,
        "steps": step_specs,
    }


def write_spec_set(directory: Path, seed: int, workflows: int, steps: int) -> list[Path]:
    """Write `workflows` random workflow files into `directory`; their paths."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(workflows):
        name = identifier(rng, "flow") + f"_{index}"
        path = directory / f"w{index}.yaml"
        path.write_text(json.dumps(workflow(rng, name, steps), indent=1), encoding="utf-8")
        paths.append(path)
    return paths
