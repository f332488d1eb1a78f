"""`baton trace RUN`: a run as a timeline in the terminal, built from its event log.

One bar per step on a shared time axis: `█` an attempt that succeeded (or runs), `▒` one
that failed, was interrupted or cancelled, `░` the backoff before a retry, `·` a wait
for an approval or a review. Below the chart, each step's attempts with their start
(relative to the run's), latency, outcome, tokens and cost, the delegations they made,
and who approved what.
"""

from __future__ import annotations

import json
import shutil

import click

from baton.commands._backend import local_backend
from baton.commands._common import compact, db_option, duration, refusals
from baton.runtime.api import Attempt, StepTimeline, Timeline

BAR_OK, BAR_FAILED, BAR_RETRY, BAR_WAIT = "█", "▒", "░", "·"


@click.command("trace")
@click.argument("run_id", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="The timeline as JSON.")
@click.option("--width", type=click.IntRange(10, 400), help="Width of the time axis.")
@db_option
@refusals
def trace_command(run_id: str, as_json: bool, width: int | None, db: str | None) -> None:
    """Show RUN as a timeline: steps as bars on a time axis, attempts, waits, retries."""
    timeline = local_backend(db).timeline(run_id)
    if as_json:
        click.echo(json.dumps(timeline.to_json(), indent=2, ensure_ascii=False))
        return
    for line in render(timeline, width):
        click.echo(line)


def render(timeline: Timeline, width: int | None = None) -> list[str]:
    """The timeline as lines of text."""
    label = max([len(step.step) for step in timeline.steps] + [4])
    if width is None:
        width = max(20, min(100, shutil.get_terminal_size((100, 24)).columns - label - 4))
    totals = timeline.state.totals()
    lines = [
        f"run {timeline.run_id}: {timeline.workflow} v{timeline.version}, {timeline.status}, "
        f"{duration(timeline.duration_ms)}",
        f"  trace {timeline.trace_id}; {totals['attempts']} attempts, "
        f"{totals['tokens_in']}+{totals['tokens_out']} tokens, ${totals['cost_usd']:.4f}",
    ]
    if timeline.error:
        lines.append(f"  error: {timeline.error.get('message', '')}")
    lines.append("")
    axis = _Axis(timeline.start_ms, timeline.end_ms, width)
    lines.append(" " * (label + 2) + axis.ruler())
    for step in timeline.steps:
        lines.append(f"{step.step.ljust(label)}  {_bar(step, axis)}  {step.state}")
    lines.append(
        f"{''.ljust(label)}  {BAR_OK} attempt  {BAR_FAILED} failed attempt  "
        f"{BAR_RETRY} retry backoff  {BAR_WAIT} waiting for a person"
    )
    for step in timeline.steps:
        lines.append("")
        lines.extend(_details(step, timeline))
    return lines


class _Axis:
    def __init__(self, start_ms: int, end_ms: int, width: int) -> None:
        self.start, self.span, self.width = start_ms, max(end_ms - start_ms, 1), width

    def column(self, ms: int) -> int:
        return min(self.width - 1, max(0, (ms - self.start) * (self.width - 1) // self.span))

    def ruler(self) -> str:
        """`0` at the left, the run's duration at the right."""
        end = duration(self.span)
        return "0" + " " * max(1, self.width - 1 - len(end)) + end


def _bar(step: StepTimeline, axis: _Axis) -> str:
    cells = [" "] * axis.width

    def paint(start: int | None, end: int | None, char: str) -> None:
        if start is None:
            return
        first = axis.column(start)
        last = axis.column(end if end is not None else axis.start + axis.span)
        for column in range(first, max(first, last) + 1):
            cells[column] = char

    for wait in step.waits:
        paint(wait.start_ms, wait.end_ms, BAR_RETRY if wait.kind == "retry" else BAR_WAIT)
    for attempt in step.attempts:
        char = BAR_OK if attempt.status in ("ok", "running") else BAR_FAILED
        paint(attempt.start_ms, attempt.end_ms, char)
    for items in step.map.items.values() if step.map is not None else ():
        for item in items:
            paint(item.start_ms, item.end_ms, BAR_OK if item.status == "ok" else BAR_FAILED)
    return "".join(cells)


def _details(step: StepTimeline, timeline: Timeline) -> list[str]:
    record = timeline.state.steps[step.step]
    head = f"{step.step}" + (f" ({step.agent})" if step.agent else "") + f": {step.state}"
    if step.detail:
        head += f": {step.detail}"
    lines = [head]
    for wait in step.waits:
        if wait.kind == "retry":
            continue
        if wait.kind in ("fallback", "review_round"):
            continue  # above the attempt it starts; below the attempt it reviews
        if wait.kind == "route":
            lines.append(f"  route: {wait.detail}")
            continue
        took = duration(wait.end_ms - wait.start_ms) if wait.end_ms is not None else "still"
        lines.append(f"  {wait.kind}: waited {took}; {wait.detail}")
    for attempt in step.attempts:
        lines.extend(
            f"  fallback: {wait.detail}"
            for wait in step.waits
            if wait.kind == "fallback" and wait.attempt == attempt.attempt and not attempt.restart
        )
        lines.append("  " + _attempt_line(attempt, timeline.start_ms))
        lines.extend(
            f"  {wait.detail}"
            for wait in step.waits
            if wait.kind == "review_round" and wait.attempt == attempt.attempt
        )
        for delegation in attempt.delegations:
            chain = " -> ".join(delegation.chain)
            message = f": {delegation.message}" if delegation.message else ""
            lines.append(f"      delegation {chain}: {delegation.status}{message}")
        if attempt.child_run_id:
            lines.append(
                f"      child run {attempt.child_run_id}: `baton trace {attempt.child_run_id}`"
            )
        retry = next(
            (w for w in step.waits if w.kind == "retry" and w.start_ms >= attempt.start_ms), None
        )
        if retry is not None and attempt.status not in ("ok", "running"):
            lines.append(f"      retry after {duration((retry.end_ms or 0) - retry.start_ms)}")
    if step.map is not None:
        lines.extend(_item_lines(step, timeline.start_ms))
    if record.quality_score is not None:
        lines.append(f"  quality score {record.quality_score:.2f}")
    if record.untrusted_sources:
        lines.append(f"  untrusted input from {', '.join(record.untrusted_sources)}")
    if record.output is not None and record.checksum:
        lines.append(f"  output {compact(record.output, 80)}")
    return lines


def _item_lines(step: StepTimeline, run_start: int) -> list[str]:
    """A map step's items: how many, then each started item's attempts."""
    assert step.map is not None
    mapped = step.map
    dropped = f", {len(mapped.dropped)} dropped (null)" if mapped.dropped else ""
    lines = [f"  map over {mapped.count} item(s){dropped}"]
    for index in sorted(mapped.items):
        for item in mapped.items[index]:
            latency = duration(item.latency_ms) if item.latency_ms is not None else "-"
            message = f": {item.message}" if item.message else ""
            restart = " (run again after a crash)" if item.restart else ""
            offset = duration(item.start_ms - run_start)
            lines.append(
                f"  item {index} #{item.attempt} at +{offset}, {latency}, "
                f"{item.status}{message}{restart}"
            )
    return lines


def _attempt_line(attempt: Attempt, run_start: int) -> str:
    offset = duration(attempt.start_ms - run_start)
    latency = duration(attempt.latency_ms) if attempt.latency_ms is not None else "-"
    usage = attempt.usage
    restart = " (run again after a crash)" if attempt.restart else ""
    message = f": {attempt.message}" if attempt.message else ""
    return (
        f"#{attempt.attempt} at +{offset}, {latency}, {attempt.status}{message}{restart}; "
        f"{usage.tokens_in}+{usage.tokens_out} tokens, ${usage.cost_usd:.4f}"
    )
