"""Observability through real runs: one span per run, step and attempt exported to the
SDK's in-memory exporter and checked field by field; JSON log lines (`--log-json`);
`baton trace`, `baton runs` and `baton show` with tokens and the roster's prices."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from trust_flows import OBSERVED
from trust_support import baton, run_here

from baton.runtime import api, telemetry
from baton.runtime.store import Store

INPUTS = {"topic": "tea", "chain": ["commander", "helper"]}
COST = round((1000 * 3.0 + 200 * 15.0) / 1_000_000, 10)  # the roster's price for `priced`


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def _by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, ReadableSpan]:
    return {span.name: span for span in spans}


def test_one_span_per_run_step_and_attempt(
    tmp_path: Path, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    db = tmp_path / "baton.db"
    state = run_here(db, OBSERVED, INPUTS, "obs-1").state
    assert state.status == "succeeded", state.error
    with Store(db) as store:
        telemetry.export_run(store.load_events, "obs-1", provider)
    spans = exporter.get_finished_spans()
    names = sorted(span.name for span in spans)
    assert names == [
        "baton.attempt first#1",
        "baton.attempt first#2",
        "baton.attempt second#1",
        "baton.attempt third#1",
        "baton.run observed",
        "baton.step first",
        "baton.step second",
        "baton.step third",
    ]
    by_name = _by_name(spans)
    run = by_name["baton.run observed"]
    # the run's stored trace id is the trace's
    assert all(span.context.trace_id == int(state.trace_id, 16) for span in spans)
    assert run.parent is not None and run.parent.is_remote
    assert dict(run.attributes or {}) == {
        "workflow": "observed",
        "version": 1,
        "run_id": "obs-1",
        "latency_ms": state.totals()["duration_ms"],
        "tokens_in": 1010,
        "tokens_out": 205,
        "cost_usd": COST,
        "attempt": 4,
        "status": "succeeded",
        # spend per agent (budgets: runtime.core.budget)
        **{
            f"agent.{agent}.{key}": getattr(usage, key)
            for agent, usage in state.agent_usage.items()
            for key in ("tokens_in", "tokens_out", "cost_usd")
        },
    }
    assert sum(usage.tokens_in for usage in state.agent_usage.values()) == 1010
    for step in ("first", "second", "third"):
        step_span = by_name[f"baton.step {step}"]
        assert step_span.parent is not None
        assert step_span.parent.span_id == run.context.span_id
    first_1, first_2 = by_name["baton.attempt first#1"], by_name["baton.attempt first#2"]
    assert first_1.parent is not None
    assert first_1.parent.span_id == by_name["baton.step first"].context.span_id
    key = state.steps["first"].idempotency_key
    assert dict(first_1.attributes or {}) == {
        "workflow": "observed",
        "run_id": "obs-1",
        "step": "first",
        "attempt": 1,
        "agent": "flaky",
        "latency_ms": first_1.attributes["latency_ms"],  # type: ignore[index]
        "tokens_in": 0,
        "tokens_out": 0,
        "cost_usd": 0.0,
        "status": "agent_error",
        "idempotency_key": key,
        "restart": False,
    }
    assert first_1.status.status_code is StatusCode.ERROR
    assert "flaky: attempt 1 fails" in (first_1.status.description or "")
    assert first_2.attributes["status"] == "ok"  # type: ignore[index]
    assert first_2.status.status_code is StatusCode.UNSET
    second = dict(by_name["baton.attempt second#1"].attributes or {})
    assert (second["agent"], second["tokens_in"], second["tokens_out"]) == ("priced", 1000, 200)
    assert second["cost_usd"] == COST
    assert second["latency_ms"] == state.steps["second"].latency_ms
    third = by_name["baton.attempt third#1"]
    # the delegates' usage (the command agent reports 10+5 tokens) counts for the attempt
    assert (third.attributes["tokens_in"], third.attributes["tokens_out"]) == (10, 5)  # type: ignore[index]
    delegations = [event for event in third.events if event.name == "delegation"]
    assert [dict(event.attributes or {})["chain"] for event in delegations] == [
        "lead -> commander",
        "lead -> commander -> helper",
    ]
    step_first = dict(by_name["baton.step first"].attributes or {})
    assert (step_first["status"], step_first["attempt"]) == ("committed", 2)
    assert step_first["checksum"] == state.steps["first"].checksum
    retry = [e.name for e in by_name["baton.step first"].events]
    assert retry == ["retry scheduled"]
    # times are the log's: attempts inside their step, steps inside the run
    for span in spans:
        assert span.start_time is not None and span.end_time is not None
        assert run.start_time <= span.start_time <= span.end_time <= run.end_time  # type: ignore[operator]


def test_a_failed_run_has_error_spans(
    tmp_path: Path, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    db = tmp_path / "baton.db"
    inputs = {"topic": "tea", "chain": ["outsider"]}
    from trust_flows import DELEGATING

    state = run_here(db, DELEGATING, inputs, "obs-fail").state
    assert state.status == "failed"
    with Store(db) as store:
        telemetry.export_run(store.load_events, "obs-fail", provider)
    by_name = _by_name(exporter.get_finished_spans())
    attempt = by_name["baton.attempt main#1"]
    assert attempt.attributes["status"] == "acl_denied"  # type: ignore[index]
    assert attempt.status.status_code is StatusCode.ERROR
    assert by_name["baton.step main"].status.status_code is StatusCode.ERROR
    assert by_name["baton.run delegating"].status.status_code is StatusCode.ERROR
    [event] = [e for e in attempt.events if e.name == "delegation"]
    assert dict(event.attributes or {})["status"] == "denied"


def test_spans_are_exported_when_a_run_ends_if_a_provider_is_set(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    if telemetry.tracing_enabled():
        pytest.skip("a global tracer provider is already set in this process")
    trace.set_tracer_provider(provider)
    state = run_here(tmp_path / "baton.db", OBSERVED, INPUTS, "obs-auto").state
    names = {span.name for span in exporter.get_finished_spans()}
    assert "baton.run observed" in names and "baton.attempt first#2" in names
    assert {span.context.trace_id for span in exporter.get_finished_spans()} == {
        int(state.trace_id, 16)
    }


def test_otel_variables_configure_the_sdk(tmp_path: Path) -> None:
    result = baton(
        tmp_path,
        "run",
        "trust_flows:OBSERVED",
        "--run-id",
        "obs-env",
        "--input",
        json.dumps(INPUTS),
        extra_env={"OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "baton-test"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"name": "baton.run observed"' in result.stdout
    assert '"name": "baton.attempt second#1"' in result.stdout
    assert '"service.name": "baton-test"' in result.stdout


def test_log_json_writes_one_line_per_attempt(tmp_path: Path) -> None:
    result = baton(
        tmp_path,
        "run",
        "trust_flows:OBSERVED",
        "--run-id",
        "obs-log",
        "--input",
        json.dumps(INPUTS),
        "--log-json",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert [(line["step"], line["attempt"], line["status"]) for line in lines] == [
        ("first", 1, "agent_error"),
        ("first", 2, "ok"),
        ("second", 1, "ok"),
        ("third", 1, "ok"),
    ]
    trace_id = api.get_state(tmp_path / "baton.db", "obs-log").trace_id
    required = {
        "workflow",
        "run_id",
        "step",
        "attempt",
        "agent",
        "latency_ms",
        "tokens_in",
        "tokens_out",
        "cost_usd",
        "status",
        "trace_id",
    }
    for line in lines:
        assert required <= line.keys()
        assert (line["workflow"], line["run_id"], line["trace_id"]) == (
            "observed",
            "obs-log",
            trace_id,
        )
    second = lines[2]
    assert (second["agent"], second["tokens_in"], second["tokens_out"]) == ("priced", 1000, 200)
    assert second["cost_usd"] == COST
    assert lines[0]["level"] == "error" and "flaky: attempt 1 fails" in lines[0]["message"]


def test_baton_trace_draws_the_timeline(tmp_path: Path) -> None:
    ran = baton(
        tmp_path, "run", "trust_flows:OBSERVED", "--run-id", "obs-tr", "--input", json.dumps(INPUTS)
    )
    assert ran.returncode == 0, ran.stderr
    result = baton(tmp_path, "trace", "obs-tr", "--width", "40")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    lines = out.splitlines()
    assert lines[0].startswith("run obs-tr: observed v1, succeeded, ")
    assert "4 attempts, 1010+205 tokens, $0.0060" in lines[1]
    ruler = next(i for i, line in enumerate(lines) if line.strip().startswith("0 "))
    bars = {line.split()[0]: line for line in lines[ruler + 1 : ruler + 4]}
    assert set(bars) == {"first", "second", "third"}
    width = len("second") + 2
    assert all(len(bar) == width + 40 + 2 + len("committed") for bar in bars.values())
    assert "▒" in bars["first"] and "█" in bars["first"]  # the failed attempt, then the good one
    assert "#1 at +" in out and "agent_error: flaky: attempt 1 fails" in out
    assert "retry after" in out
    assert "delegation lead -> commander -> helper: ok" in out
    timeline: dict[str, Any] = json.loads(baton(tmp_path, "trace", "obs-tr", "--json").stdout)
    assert [s["step"] for s in timeline["steps"]] == ["first", "second", "third"]
    assert [a["status"] for a in timeline["steps"][0]["attempts"]] == ["agent_error", "ok"]
    assert timeline["steps"][0]["waits"][0]["kind"] == "retry"


def test_trace_shows_the_wait_for_an_approval(tmp_path: Path) -> None:
    started = baton(
        tmp_path,
        "run",
        "trust_flows:GATED",
        "--run-id",
        "gate-tr",
        "--input",
        '{"topic": "t"}',
        "--detach",
    )
    assert started.returncode == 3
    assert baton(tmp_path, "approve", "gate-tr", "consume", "--as", "alice").returncode == 0
    assert baton(tmp_path, "resume", "gate-tr").returncode == 0
    out = baton(tmp_path, "trace", "gate-tr", "--width", "30").stdout
    consume = next(line for line in out.splitlines() if line.startswith("consume "))
    assert "·" in consume and "█" in consume
    assert "approval: waited" in out and "approved by alice as manager" in out


def test_runs_and_show_total_tokens_and_cost(tmp_path: Path) -> None:
    ran = baton(
        tmp_path,
        "run",
        "trust_flows:OBSERVED",
        "--run-id",
        "obs-cost",
        "--input",
        json.dumps(INPUTS),
    )
    assert ran.returncode == 0, ran.stderr
    runs = baton(tmp_path, "runs").stdout.splitlines()
    header, row = runs[0].split(), runs[1].split()
    assert header == ["RUN", "WORKFLOW", "STATUS", "STEPS", "DURATION", "TOKENS", "COST", "STARTED"]
    assert row[0] == "obs-cost" and row[3] == "succeeded" and row[4] == "3/3"
    assert "1215" in row and "$0.0060" in row
    shown = baton(tmp_path, "show", "obs-cost").stdout
    assert "totals: 4 attempts, 1010+205 tokens, $0.0060" in shown
