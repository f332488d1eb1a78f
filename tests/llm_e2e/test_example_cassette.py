"""The shipped cassette of specs/llm_research.yaml replays with no server and no key, as
`make run` does: if the example changes what it sends, this fails and says how to
re-record (tests/llm_e2e/example_cassette.py)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from example_cassette import BRIEF, CASSETTE, INPUTS, PORT, ROOT, SPEC, VERDICT

BATON = str(Path(sys.executable).parent / "baton")


def nothing_listens(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_the_example_replays_offline(tmp_path: Path) -> None:
    assert nothing_listens(PORT), "the replay must not reach a server"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    db = str(tmp_path / "replay.db")
    args = ["--db", db]
    ran = subprocess.run(
        [BATON, "run", str(SPEC), "--input", json.dumps(INPUTS), "--run-id", "replayed",
         "--cassette", str(CASSETTE), *args],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, (
        ran.stdout + ran.stderr + "\nre-record: python tests/llm_e2e/example_cassette.py"
    )
    shown = subprocess.run(
        [BATON, "show", "replayed", "--json", *args],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=True,
    )  # fmt: skip
    state = json.loads(shown.stdout)
    assert state["status"] == "succeeded"
    assert state["steps"]["research"]["output"] == BRIEF
    assert state["steps"]["research"]["attempts"] == 2  # the repair round is replayed too
    assert state["steps"]["audit"]["output"] == VERDICT
    assert state["totals"]["tokens_in"] > 0
    assert str(ROOT) not in "".join(p.read_text() for p in CASSETTE.glob("*.json"))
