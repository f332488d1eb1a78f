"""Observability: OpenTelemetry spans for runs, steps and attempts, and JSON log lines.

**Spans.** When a run ends, its timeline (runtime.timeline, built from the event log)
becomes one span per run (`baton.run`), per step (`baton.step`, a child of the run) and
per attempt (`baton.attempt`, a child of its step), with the times the log recorded, so
a run that crossed several processes (a crash, a wait for approval of a day) is still
one trace. A sub-workflow's child run nests under the attempt that ran it. Attributes:
`workflow`, `run_id`, `step`, `attempt`, `agent`, `latency_ms`, `tokens_in`,
`tokens_out`, `cost_usd`, `status` (each where it applies), plus `idempotency_key`,
`restart` and `quality_score`; approvals, retries and delegations are span events. An
attempt or a run that failed has status ERROR.

The trace id is the run's `trace_id` (stored with the run and in every event; a child
run shares its parent's): the run span's parent is a remote span context with that
trace id and a span id derived from the run id.

Spans go through the OpenTelemetry API (`opentelemetry-api`, a core dependency). They
are exported only if a tracer provider is configured: by the application, or by
`configure_from_env()` (called by `baton run` and `baton resume`), which installs the
SDK when the standard variables ask for it (`OTEL_TRACES_EXPORTER=otlp|console`, or an
`OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`) and `pip install 'baton-workflows[otel]'`
provided the SDK and the OTLP exporter. `OTEL_SDK_DISABLED=true` turns it off.

JSON log lines with the same fields (`--log-json`) are `runtime.attempt_log`'s.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from baton.runtime.core import events as ev
from baton.runtime.core.state import RunState
from baton.runtime.timeline import Attempt, StepTimeline, Timeline, build

log = logging.getLogger("baton.runtime")

TRACER_NAME = "baton"
MS = 1_000_000  # nanoseconds


# -- spans


def export_run(
    load_events: Callable[[str], list[ev.Event]],
    run_id: str,
    tracer_provider: Any = None,
    parent: Any = None,
) -> Timeline:
    """Emit the spans of run `run_id` (and of its child runs); returns its timeline.

    `load_events(run_id)` gives a run's log; `tracer_provider` defaults to the global
    one; `parent` is an OpenTelemetry context (a child run's: its attempt's span).
    """
    from opentelemetry import trace

    timeline = build(load_events(run_id))
    provider = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
    tracer = provider.get_tracer(TRACER_NAME)
    context = parent if parent is not None else _run_parent(timeline)
    run_span = tracer.start_span(
        f"baton.run {timeline.workflow}",
        context=context,
        start_time=timeline.start_ms * MS,
        attributes=_clean(_run_attributes(timeline)),
    )
    if timeline.status == "failed":
        _fail(run_span, str((timeline.error or {}).get("message", "")))
    run_context = trace.set_span_in_context(run_span)
    for step in timeline.steps:
        if step.start_ms is not None:
            _export_step(tracer, timeline, step, run_context, load_events, provider)
    run_span.end(end_time=timeline.end_ms * MS)
    return timeline


def _export_step(
    tracer: Any,
    timeline: Timeline,
    step: StepTimeline,
    run_context: Any,
    load_events: Callable[[str], list[ev.Event]],
    provider: Any,
) -> None:
    from opentelemetry import trace

    record = timeline.state.steps[step.step]
    usage = record.usage
    start = step.start_ms or timeline.start_ms
    end = step.end_ms if step.end_ms is not None else timeline.end_ms
    attributes = {
        "workflow": timeline.workflow,
        "run_id": timeline.run_id,
        "step": step.step,
        "agent": step.agent,
        "attempt": record.attempts,
        "latency_ms": end - start,
        "tokens_in": usage.tokens_in,
        "tokens_out": usage.tokens_out,
        "cost_usd": usage.cost_usd,
        "status": step.state,
        "quality_score": record.quality_score,
        "checksum": record.checksum,
        "untrusted_sources": list(record.untrusted_sources) or None,
    }
    span = tracer.start_span(
        f"baton.step {step.step}",
        context=run_context,
        start_time=start * MS,
        attributes=_clean(attributes),
    )
    for wait in step.waits:
        # "approval requested" / "review requested" ... "decided"; "retry scheduled"
        begun = "scheduled" if wait.kind in ("retry", "fallback", "route") else "requested"
        span.add_event(f"{wait.kind} {begun}", {"detail": wait.detail}, wait.start_ms * MS)
        if wait.end_ms is not None and wait.kind not in ("retry", "fallback", "route"):
            span.add_event(f"{wait.kind} decided", {"detail": wait.detail}, wait.end_ms * MS)
    if step.state == "failed":
        _fail(span, step.detail)
    step_context = trace.set_span_in_context(span)
    for attempt in step.attempts:
        attempt_span = _export_attempt(tracer, timeline, attempt, step_context, end)
        if attempt.child_run_id is not None:
            child_context = trace.set_span_in_context(attempt_span)
            try:
                export_run(load_events, attempt.child_run_id, provider, child_context)
            except Exception as error:  # a child never started (or is unreadable)
                log.debug("no spans for child run %s: %s", attempt.child_run_id, error)
        attempt_span.end(end_time=(attempt.end_ms or end) * MS)
    span.end(end_time=end * MS)


def _export_attempt(
    tracer: Any, timeline: Timeline, attempt: Attempt, step_context: Any, step_end: int
) -> Any:
    span = tracer.start_span(
        f"baton.attempt {attempt.step}#{attempt.attempt}",
        context=step_context,
        start_time=attempt.start_ms * MS,
        attributes=_clean(attempt_fields(timeline.workflow, timeline.run_id, attempt)),
    )
    for delegation in attempt.delegations:
        span.add_event(
            "delegation",
            _clean(
                {
                    "agent": delegation.agent,
                    "chain": " -> ".join(delegation.chain),
                    "status": delegation.status,
                    "message": delegation.message or None,
                    "idempotency_key": delegation.idempotency_key,
                }
            ),
            timestamp=delegation.start_ms * MS,
        )
    if attempt.status not in ("ok", "running"):
        _fail(span, attempt.message or attempt.status)
    return span


def attempt_fields(workflow: str, run_id: str, attempt: Attempt) -> dict[str, Any]:
    """The fields of an attempt's span and of its log line."""
    end = attempt.end_ms if attempt.end_ms is not None else attempt.start_ms
    latency = attempt.latency_ms if attempt.latency_ms is not None else end - attempt.start_ms
    fields = {
        "workflow": workflow,
        "run_id": run_id,
        "step": attempt.step,
        "attempt": attempt.attempt,
        "agent": attempt.agent,
        "latency_ms": latency,
        "tokens_in": attempt.usage.tokens_in,
        "tokens_out": attempt.usage.tokens_out,
        "cost_usd": round(attempt.usage.cost_usd, 10),
        "status": attempt.status,
        "idempotency_key": attempt.idempotency_key,
        "restart": attempt.restart,
    }
    if attempt.llm:
        # OpenTelemetry's semantic conventions for generative AI (gen_ai.*)
        fields.update(
            {
                "gen_ai.system": attempt.llm.get("provider"),
                "gen_ai.request.model": attempt.llm.get("model"),
                "gen_ai.response.model": attempt.llm.get("response_model"),
                "gen_ai.usage.input_tokens": attempt.usage.tokens_in,
                "gen_ai.usage.output_tokens": attempt.usage.tokens_out,
            }
        )
    return fields


def _run_attributes(timeline: Timeline) -> dict[str, Any]:
    state = timeline.state
    totals = state.totals()
    attributes: dict[str, Any] = {
        "workflow": timeline.workflow,
        "version": timeline.version,
        "run_id": timeline.run_id,
        "latency_ms": timeline.duration_ms,
        "tokens_in": totals["tokens_in"],
        "tokens_out": totals["tokens_out"],
        "cost_usd": totals["cost_usd"],
        "attempt": totals["attempts"],
        "status": timeline.status,
    }
    return attributes | _spend_attributes(state)


def _spend_attributes(state: RunState) -> dict[str, Any]:
    """Spend per agent (`agent.NAME.cost_usd`, ...), each budget's limits as they ended
    (`budget.run.usd`, `budget.agent:NAME.tokens`, `budget.run.mode`) and the caps that
    were crossed (`budget.exceeded`: `run.usd`, ...)."""
    attributes: dict[str, Any] = {}
    for agent, usage in sorted(state.agent_usage.items()):
        attributes[f"agent.{agent}.tokens_in"] = usage.tokens_in
        attributes[f"agent.{agent}.tokens_out"] = usage.tokens_out
        attributes[f"agent.{agent}.cost_usd"] = usage.cost_usd
    for scope, cap in sorted(state.budgets.items()):
        for key in ("usd", "tokens", "mode"):
            attributes[f"budget.{scope}.{key}"] = cap.get(key)
    if state.budget_crossed:
        attributes["budget.exceeded"] = list(state.budget_crossed)
    return attributes


def _run_parent(timeline: Timeline) -> Any:
    """A remote parent carrying the run's stored trace id (None if it is not one)."""
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    try:
        trace_id = int(timeline.trace_id, 16)
    except ValueError:
        return None
    if not 0 < trace_id < 2**128:
        return None
    span_id = int(hashlib.sha256(timeline.run_id.encode()).hexdigest()[:16], 16) or 1
    remote = SpanContext(
        trace_id=trace_id,
        span_id=span_id,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    return trace.set_span_in_context(NonRecordingSpan(remote))


def _fail(span: Any, message: str) -> None:
    from opentelemetry.trace import Status, StatusCode

    span.set_status(Status(StatusCode.ERROR, message[:500]))


def _clean(attributes: dict[str, Any]) -> dict[str, Any]:
    """OpenTelemetry attributes may not be None."""
    return {key: value for key, value in attributes.items() if value is not None}


def tracing_enabled(tracer_provider: Any = None) -> bool:
    """Whether spans would go anywhere: a provider other than the API's default."""
    from opentelemetry import trace

    provider = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
    return not isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider)


def export_finished(db: Path, state: RunState, tracer_provider: Any = None) -> None:
    """Emit the spans of a run that ended, if tracing is enabled; never raises."""
    if state.outcome is None:
        return
    try:
        if not tracing_enabled(tracer_provider):
            return
        from baton.runtime.store import Store

        with Store(db, create=False) as store:
            export_run(store.load_events, state.run_id, tracer_provider)
    except Exception:  # telemetry must never fail a run
        log.warning("could not export the spans of run %s", state.run_id, exc_info=True)


_configured = False
_configure_lock = threading.Lock()


def configure_from_env() -> bool:
    """Install the OpenTelemetry SDK's tracer provider if the standard `OTEL_*`
    variables ask for an exporter; True when spans will be exported."""
    global _configured
    with _configure_lock:
        if _configured:
            return True
        if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
            return False
        exporters = os.environ.get("OTEL_TRACES_EXPORTER", "").lower()
        endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
            "OTEL_EXPORTER_OTLP_ENDPOINT"
        )
        names = [n.strip() for n in exporters.split(",") if n.strip() and n.strip() != "none"]
        if not names and endpoint:
            names = ["otlp"]
        if not names:
            return False
        try:
            from opentelemetry import trace
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import (
                BatchSpanProcessor,
                ConsoleSpanExporter,
                SimpleSpanProcessor,
            )
        except ImportError:
            log.warning(
                "OTEL_* asks for trace export but the OpenTelemetry SDK is not installed: "
                "pip install 'baton-workflows[otel]'"
            )
            return False
        resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "baton")})
        provider = TracerProvider(resource=resource)
        for name in names:
            if name == "console":
                provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
            elif name == "otlp":
                try:
                    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                        OTLPSpanExporter,
                    )
                except ImportError:
                    log.warning(
                        "OTEL_TRACES_EXPORTER=otlp needs the OTLP exporter: "
                        "pip install 'baton-workflows[otel]'"
                    )
                    continue
                provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
            else:
                log.warning("unknown OTEL_TRACES_EXPORTER %r (known: otlp, console)", name)
        trace.set_tracer_provider(provider)
        _configured = True
        return True


def shutdown() -> None:
    """Flush the exporters (the CLI calls this before it exits)."""
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    flush = getattr(provider, "shutdown", None)
    if callable(flush):
        flush()


__all__ = [
    "attempt_fields",
    "configure_from_env",
    "export_finished",
    "export_run",
    "shutdown",
    "tracing_enabled",
]
