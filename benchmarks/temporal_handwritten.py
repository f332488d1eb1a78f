"""The hand-written Temporal baseline of issue 7: one activity per step, steps in sequence.

`benchmarks/temporal_bench.py` runs the same 20-step workflow through Baton-on-Temporal and
through this workflow, in one run, and compares them (target: Baton <= 1.2x). The workflow is
what a Temporal user would write by hand for a chain of no-op steps: a loop awaiting
`execute_activity` once per step, default retry policy, a start-to-close timeout, the default
(sandboxed) workflow runner, an async activity that returns its input.

Timing protocol (use the same for the Baton side): a worker is already polling the task queue;
one timed run is `start_workflow` -> `result()`, measured by the client in the worker's
process; `warmup` untimed runs come first (the first workflow task on a fresh worker pays for
loading the workflow module into the sandbox).

    python benchmarks/temporal_handwritten.py [--steps 20] [--runs 5]   # starts a dev server
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

WORKFLOW_NAME = "HandwrittenSequential"
ACTIVITY_NAME = "handwritten_noop"
STEP_TIMEOUT = timedelta(seconds=30)


@activity.defn(name=ACTIVITY_NAME)
async def noop_step(index: int) -> int:
    """One no-op step: returns its input."""
    return index


@workflow.defn(name=WORKFLOW_NAME)
class HandwrittenSequential:
    """`steps` activities, each started after the previous one completed."""

    @workflow.run
    async def run(self, steps: int) -> int:
        total = 0
        for index in range(steps):
            total += await workflow.execute_activity(
                noop_step, index, start_to_close_timeout=STEP_TIMEOUT
            )
        return total


def worker_for(client: Client, task_queue: str) -> Worker:
    """A worker hosting the hand-written workflow and its activity on `task_queue`."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[HandwrittenSequential],
        activities=[noop_step],
    )


async def timed_runs(
    client: Client, task_queue: str, *, steps: int, runs: int, warmup: int = 1
) -> list[float]:
    """Seconds of each of `runs` workflow runs (after `warmup` untimed ones); worker polling."""
    expected = steps * (steps - 1) // 2
    seconds: list[float] = []
    for index in range(warmup + runs):
        workflow_id = f"handwritten-{steps}-{uuid.uuid4().hex}"
        started = time.perf_counter()
        result = await client.execute_workflow(
            HandwrittenSequential.run, steps, id=workflow_id, task_queue=task_queue
        )
        elapsed = time.perf_counter() - started
        if result != expected:
            raise RuntimeError(f"{workflow_id} returned {result}, expected {expected}")
        if index >= warmup:
            seconds.append(elapsed)
    return seconds


async def handwritten_runs(
    address: str, *, steps: int = 20, runs: int = 1, warmup: int = 1, namespace: str = "default"
) -> list[float]:
    """Connect to `address`, run a worker on a fresh task queue, return `timed_runs` seconds."""
    client = await Client.connect(address, namespace=namespace)
    task_queue = f"handwritten-{uuid.uuid4().hex}"
    async with worker_for(client, task_queue):
        return await timed_runs(client, task_queue, steps=steps, runs=runs, warmup=warmup)


def run_handwritten(address: str, steps: int = 20, *, warmup: int = 1) -> float:
    """Seconds for one run of the `steps`-step hand-written workflow on the server at `address`.

    Starts a worker on a unique task queue, does `warmup` untimed runs, times one run, stops
    the worker. Synchronous (its own event loop): call it from outside a running loop, or
    await `handwritten_runs` instead.
    """
    return asyncio.run(handwritten_runs(address, steps=steps, runs=1, warmup=warmup))[0]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--address", help="use this server instead of starting a dev server")
    parser.add_argument("--memory", action="store_true", help="dev server with in-memory store")
    args = parser.parse_args(argv)

    def report(address: str) -> None:
        seconds = asyncio.run(handwritten_runs(address, steps=args.steps, runs=args.runs))
        median = statistics.median(seconds)
        print(
            f"hand-written Temporal, {args.steps} steps: run {median * 1000:.1f} ms, "
            f"per step {median * 1000 / args.steps:.2f} ms "
            f"(median of {args.runs}; runs {', '.join(f'{s * 1000:.0f}' for s in seconds)} ms)"
        )

    if args.address:
        report(args.address)
        return
    from temporal_dev import start_dev_server  # benchmarks/ is on sys.path when run as a script

    with start_dev_server(persistent=not args.memory) as server:
        print(f"dev server {server.address} ready in {server.startup_seconds:.2f} s")
        report(server.address)


if __name__ == "__main__":
    # import under the module's own name: Temporal's sandbox re-imports workflow modules by name
    import temporal_handwritten

    temporal_handwritten.main()
