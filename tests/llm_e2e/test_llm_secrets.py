"""The API key never leaves the environment: not in the database (file and WAL), the
events, the state, the spans, the JSON log lines or the terminal, even when the server
answers 401 with a body that quotes it. And the attempt spans of llm agents carry the
OpenTelemetry GenAI attributes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fake_providers import KEY_VARIABLE, FakeProvider, model_answer
from llm_support import baton
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from baton.runtime import telemetry
from baton.runtime.store import Store

GOOD = {"summary": "Tides follow the moon.", "confidence": 0.8}
INPUT = json.dumps({"topic": "tides", "channel": "hello"})
MARKER = "sk-marker-5b2c0e7d41a94f6f8d3e9c1b7a2f6e0d"  # held by the variable, nowhere else


def _spans(db: Path, run_id: str) -> list[dict[str, Any]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with Store(db) as store:
        telemetry.export_run(store.load_events, run_id, provider)
    return [json.loads(span.to_json()) for span in exporter.get_finished_spans()]


def _everything(tmp: Path, run_id: str, *outputs: str) -> str:
    """Every place Baton writes to, as text (the database files as raw bytes)."""
    found = list(outputs)
    for path in tmp.glob("baton.db*"):  # the database, its -wal and -shm
        found.append(path.read_bytes().decode("latin-1"))
    for command in (
        ("events", run_id, "--json"),
        ("show", run_id, "--json"),
        ("trace", run_id),
        ("runs",),
    ):
        result = baton(tmp, None, *command)
        found += [result.stdout, result.stderr]
    found.append(json.dumps(_spans(tmp / "baton.db", run_id)))
    return "\n".join(found)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_the_key_is_nowhere_after_a_run(tmp_path: Path, provider: str) -> None:
    server = FakeProvider(expected_key=MARKER).start()
    try:
        server.script(model_answer(provider, GOOD, name="brief_2"))
        result = baton(
            tmp_path,
            server,
            "run",
            "llm_flows:RESEARCH",
            "--input",
            INPUT,
            "--run-id",
            "s1",
            "--log-json",
            provider=provider,
            extra_env={KEY_VARIABLE: MARKER},
        )
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    assert len(server.received) == 1  # the key was sent, and accepted
    written = _everything(tmp_path, "s1", result.stdout, result.stderr)
    assert "gpt-fake-1" in written or "claude-fake-1" in written  # we looked at real output
    assert MARKER not in written


def test_the_key_is_nowhere_after_a_401_that_quotes_it(tmp_path: Path) -> None:
    server = FakeProvider(expected_key="sk-the-right-key-000000000000").start()
    try:
        result = baton(
            tmp_path,
            server,
            "run",
            "llm_flows:RESEARCH",
            "--input",
            INPUT,
            "--run-id",
            "s1",
            "--log-json",
            extra_env={KEY_VARIABLE: MARKER},
        )
    finally:
        server.stop()
    assert result.returncode == 1
    assert len(server.received) == 1  # not retried
    written = _everything(tmp_path, "s1", result.stdout, result.stderr)
    assert KEY_VARIABLE in written  # the message names the variable ...
    assert MARKER not in written  # ... never the key the server echoed


def test_attempt_spans_carry_gen_ai_attributes(tmp_path: Path, fake: FakeProvider) -> None:
    fake.script(model_answer("openai", GOOD, prompt_tokens=1000, completion_tokens=100))
    result = baton(tmp_path, fake, "run", "llm_flows:RESEARCH", "--input", INPUT, "--run-id", "t1")
    assert result.returncode == 0, result.stderr
    spans = {span["name"]: span for span in _spans(tmp_path / "baton.db", "t1")}
    attempt = spans["baton.attempt research#1"]["attributes"]
    assert attempt["gen_ai.system"] == "openai"
    assert attempt["gen_ai.request.model"] == "gpt-fake-1"
    assert attempt["gen_ai.response.model"] == "gpt-fake-1"
    assert attempt["gen_ai.usage.input_tokens"] == 1000
    assert attempt["gen_ai.usage.output_tokens"] == 100
    assert attempt["cost_usd"] == pytest.approx((1000 * 0.4 + 100 * 1.6) / 1e6)
    # tokens and cost in the run's views too
    runs = baton(tmp_path, None, "runs")
    assert runs.returncode == 0, runs.stderr
    [row] = [line.split() for line in runs.stdout.splitlines() if line.startswith("t1 ")]
    assert "1100" in row and "$0.0006" in row
    trace = baton(tmp_path, None, "trace", "t1")
    assert trace.returncode == 0, trace.stderr
    assert "#1 at" in trace.stdout and "1000+100 tokens, $0.0006" in trace.stdout
