"""The cassette `make run` replays for specs/tools_team.yaml (model agents with tools):
its model calls, recorded once against the scripted provider server, with the example's
real MCP servers (specs/tools/) answering the tool calls.

    python tests/llm_e2e/tools_cassette.py    # (re)record after changing the example

The script: webster searches, then answers with a brief citing what it found; the
courier asks to mail it, which waits for a manager (alice); once approved, the courier's
attempt runs again (its first request is the same, so the same reply is recorded) and
the mail is sent, then the courier reports. The run is recorded in a copy of the
example's files (`copy_example`), so the outbox is written there, not in the checkout.
tests/llm_e2e/test_tools_cassette.py replays it with no server running.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "llm"))

from fake_providers import FakeProvider, model_answer, tool_calls_reply  # noqa: E402

CASSETTE = ROOT / "specs" / "cassettes" / "tools_team"
PORT = 8765  # the example roster's base_url
INPUTS = {"topic": "durable multi-agent workflows", "recipient": "client@acme.example"}
BRIEF = {
    "summary": "A durable workflow keeps an event log, so a crashed chain of agents resumes "
    "where it stopped and calls no agent twice.",
    "sources": ["https://docs.temporal.io/workflows", "docs/runtime.md"],
}
MAIL = {
    "to": INPUTS["recipient"],
    "subject": f"Brief: {INPUTS['topic']}",
    "body": BRIEF["summary"],
}
DELIVERY = {"to": INPUTS["recipient"], "status": "sent"}
BATON = str(Path(sys.executable).parent / "baton")


def script() -> list[object]:
    search = ("call_1", "search__search", {"query": INPUTS["topic"]})
    mail = tool_calls_reply("openai", ("call_1", "mail__send_message", MAIL))
    return [
        tool_calls_reply("openai", search),
        model_answer("openai", BRIEF),
        mail,  # waits for the manager
        mail,  # the same first request once approved: the attempt runs again
        model_answer("openai", DELIVERY),
    ]


def copy_example(into: Path) -> Path:
    """The example's files in `into/specs` (the spec, its roster, prompts, servers)."""
    specs = into / "specs"
    specs.mkdir(parents=True)
    for name in ("tools_team.yaml", "tools_roster.yaml"):
        shutil.copy(ROOT / "specs" / name, specs / name)
    for folder in ("tools", "prompts"):
        shutil.copytree(ROOT / "specs" / folder, specs / folder)
    return specs / "tools_team.yaml"


def baton(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BATON, *args, "--db", str(tmp / "record.db")],
        capture_output=True, text=True, env=dict(os.environ), cwd=tmp, check=False,
    )  # fmt: skip


def record() -> None:
    fake = FakeProvider().start(PORT)
    tape = ["--cassette", str(CASSETTE), "--cassette-mode", "record"]
    try:
        fake.script(*script())  # type: ignore[arg-type]
        for old in CASSETTE.glob("*.json"):
            old.unlink()
        with tempfile.TemporaryDirectory() as directory:
            tmp = Path(directory)
            spec = copy_example(tmp)
            steps = [
                (3, ["run", str(spec), "--input", json.dumps(INPUTS), "--run-id", "t",
                     "--detach", *tape]),
                (0, ["approve", "t", "deliver", "--as", "alice"]),
                (0, ["resume", "t", *tape]),
            ]  # fmt: skip
            for expected, args in steps:
                result = baton(tmp, *args)
                print(result.stdout + result.stderr, end="")
                if result.returncode != expected:
                    raise SystemExit(f"recording failed: {args[0]} exited {result.returncode}")
        if fake.unused:
            raise SystemExit(f"recording failed ({fake.unused} scripted answers unused)")
    finally:
        fake.stop()
    print(f"recorded {len(list(CASSETTE.glob('*.json')))} entries in {CASSETTE.relative_to(ROOT)}")


if __name__ == "__main__":
    record()
