"""The shipped cassette of specs/tools_team.yaml (model agents with tools) replays with
no model server and no key, as `make run` does, with the example's real MCP servers:
the run waits for the mail's approval with the exact call shown, and once approved the
mail is sent exactly once. If the example changes what it sends, this fails and says
how to re-record (tests/llm_e2e/tools_cassette.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from test_example_cassette import nothing_listens
from tools_cassette import BRIEF, CASSETTE, DELIVERY, INPUTS, MAIL, PORT, ROOT, copy_example

BATON = str(Path(sys.executable).parent / "baton")
RECORD = "\nre-record: python tests/llm_e2e/tools_cassette.py"


def test_the_tools_example_replays_offline_and_mails_once_approved(tmp_path: Path) -> None:
    assert nothing_listens(PORT), "the replay must not reach a server"
    spec = copy_example(tmp_path)  # its outbox is written next to the copy
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}

    def baton(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [BATON, *args, "--db", str(tmp_path / "replay.db")],
            capture_output=True, text=True, env=env, cwd=tmp_path, check=False,
        )  # fmt: skip

    tape = ("--cassette", str(CASSETTE))
    ran = baton("run", str(spec), "--input", json.dumps(INPUTS), "--run-id", "t", "--detach", *tape)
    assert ran.returncode == 3, ran.stdout + ran.stderr + RECORD
    outbox = tmp_path / ".baton" / "outbox.jsonl"
    assert not outbox.exists()
    [pending] = json.loads(baton("approvals", "--json").stdout)
    assert (pending["step"], pending["stage"], pending["role"]) == ("deliver", "tool", "manager")
    assert pending["value"]["name"] == "mail__send_message"
    assert pending["value"]["arguments"] == MAIL
    approved = baton("approve", "t", "deliver", "--as", "alice")
    assert approved.returncode == 0, approved.stderr
    resumed = baton("resume", "t", *tape)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr + RECORD
    [sent] = [json.loads(line) for line in outbox.read_text("utf-8").splitlines()]
    assert {k: sent[k] for k in MAIL} == MAIL and sent["key"]
    state = json.loads(baton("show", "t", "--json").stdout)
    assert state["status"] == "succeeded"
    assert state["steps"]["research"]["output"] == BRIEF
    assert state["steps"]["deliver"]["output"] == DELIVERY
    # what the search tool returned is untrusted, and so is the brief made from it
    assert "tools.search" in state["steps"]["research"]["untrusted_sources"]
    assert str(ROOT) not in "".join(p.read_text() for p in CASSETTE.glob("*.json"))
