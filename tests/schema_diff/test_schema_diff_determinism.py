"""Output does not depend on hash seeds: every conformance case, golden case and kind
example renders byte-identically under different PYTHONHASHSEED values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
SCRIPT = """
import json, pathlib
from baton.compiler.schema_diff import KIND_TABLE, diff_schemas, render_json
here = pathlib.Path("tests/schema_diff")
load = lambda path: json.loads(path.read_text())
pairs = [(c["old"], c["new"]) for c in load(here / "data/json-schema-diff-cases.json")]
for old in sorted((here / "golden").glob("*.old.json")):
    new = old.with_name(old.name.replace(".old.", ".new."))
    pairs.append((load(old), load(new)))
pairs += [(k.old, k.new) for k in KIND_TABLE]
for old, new in pairs:
    print(render_json(diff_schemas(old, new), "full"))
    print(render_json(diff_schemas(new, old), "full"))
"""


def _run(seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_output_is_independent_of_hash_seed() -> None:
    outputs = {seed: _run(seed) for seed in ("0", "1", "4242")}
    assert len(set(outputs.values())) == 1, "output differs between PYTHONHASHSEED values"
