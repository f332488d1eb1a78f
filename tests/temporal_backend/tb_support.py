"""Helpers for the Temporal backend tests: a worker in this process or as a real
`baton worker` subprocess, runs on either backend, and the views the tests compare."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from baton.runtime import api
from baton.runtime.core.apply import apply
from baton.runtime.core.state import RunState
from baton.runtime.temporal import client
from baton.runtime.temporal.messages import event_from_json
from baton.runtime.temporal.worker import WorkerOptions, build_worker, host, sandbox_runner
from baton.runtime.temporal.workflow import BatonWorkflow

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BATON = str(Path(sys.executable).parent / "baton")

# what differs between two runs of the same workflow for reasons of time, process or backend
VOLATILE_RUN = ("trace_id", "started_ms", "updated_ms", "finished_ms", "resumes", "totals")
VOLATILE_STEP = ("started_ms", "finished_ms", "latency_ms", "restarts", "interrupted", "usage")


# -- workers


@contextmanager
def worker_in_thread(
    address: str,
    task_queue: str,
    loaded: list[api.LoadedWorkflow],
    options: WorkerOptions | None = None,
) -> Iterator[client.Target]:
    """A worker on `task_queue` in a thread of this process, hosting `loaded`."""
    options = options or WorkerOptions()
    host(loaded, None)
    ready = threading.Event()
    failure: list[BaseException] = []
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        connection = await Client.connect(address)
        chosen = dataclasses.replace(options, task_queue=task_queue)
        async with build_worker(connection, chosen):
            ready.set()
            await stop.wait()

    def run() -> None:
        try:
            loop.run_until_complete(serve())
        except BaseException as error:
            failure.append(error)
            ready.set()

    thread = threading.Thread(target=run, name=f"worker-{task_queue}", daemon=True)
    thread.start()
    assert ready.wait(30), "the worker did not start"
    if failure:
        raise failure[0]
    try:
        yield client.Target(address, "default", task_queue)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)


def worker_env(tmp: Path, **extra: str) -> dict[str, str]:
    values = dict(os.environ)
    values["PYTHONPATH"] = os.pathsep.join([str(HERE), values.get("PYTHONPATH", "")])
    values["BATON_LEDGER"] = str(tmp / "ledger.jsonl")
    values.update(extra)
    return values


def start_worker_process(
    tmp: Path, address: str, task_queue: str, *specs: str, extra: tuple[str, ...] = ()
) -> subprocess.Popen[str]:
    """`baton worker` as a real subprocess; returns once it polls."""
    log = (tmp / f"worker-{time.monotonic_ns()}.log").open("w")
    process = subprocess.Popen(
        [BATON, "worker", *specs, "--address", address, "--task-queue", task_queue, *extra],
        cwd=tmp,
        env=worker_env(tmp),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while "polling task queue" not in Path(log.name).read_text():
        assert process.poll() is None, Path(log.name).read_text()
        assert time.monotonic() < deadline, "the worker did not start"
        time.sleep(0.05)
    return process


def stop_process(process: subprocess.Popen[str], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)


def ledger(tmp: Path) -> list[dict[str, Any]]:
    path = tmp / "ledger.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


# -- runs on either backend

Decide = tuple[str, str | None, str]  # (kind, step, principal): sent when the run waits


def run_local(
    db: Path, loaded: api.LoadedWorkflow, inputs: Any, run_id: str, decisions: list[Decide]
) -> tuple[RunState, list[dict[str, Any]]]:
    """A run on the local backend to its end, deciding each gate as the list says."""
    pending = list(decisions)
    options = api.DriverOptions(detach=True)
    result = api.start_run(db, loaded, inputs, run_id, options)
    while result.detached:
        kind, step, principal = pending.pop(0)
        if kind == "cancel":
            api.cancel(db, run_id, by=principal)
        else:
            assert step is not None
            decide = api.approve if kind == "approve" else api.reject
            decide(db, run_id, step, principal)
        result = api.resume_run(db, run_id, lambda spec: loaded, options=options)
    return result.state, api.get_events(db, run_id)


def run_temporal(
    target: client.Target,
    loaded: api.LoadedWorkflow,
    inputs: Any,
    run_id: str,
    decisions: list[Decide],
    heartbeat_ms: int = 10_000,
) -> tuple[RunState, list[dict[str, Any]]]:
    """The same run on Temporal: started, decided through the Update, read back."""

    async def go(connection: Client) -> tuple[RunState, list[dict[str, Any]]]:
        await client.start(connection, target, loaded, inputs, run_id, heartbeat_ms)
        pending = list(decisions)
        while True:
            state, waiting = await client.watch(connection, run_id, detach=True, poll_s=0.05)
            if not waiting:
                return state, await client.events(connection, run_id)
            kind, step, principal = pending.pop(0)
            await client.decide(connection, run_id, kind, step, principal)

    return client.blocking(client.with_client(target, go))


# -- what the tests compare


def normalized(state: dict[str, Any]) -> dict[str, Any]:
    """A state without what time, processes and the backend change."""
    data = {k: v for k, v in state.items() if k not in VOLATILE_RUN}
    data["spec_sha256"] = None
    steps = {}
    for step, record in state["steps"].items():
        steps[step] = {k: v for k, v in record.items() if k not in VOLATILE_STEP}
        if steps[step].get("approval"):
            approval = dict(steps[step]["approval"])
            approval.pop("requested_ms")
            approval.pop("decided_ms")
            steps[step]["approval"] = approval
        if steps[step].get("retry_due_ms") is not None:
            steps[step]["retry_due_ms"] = "set"
    data["steps"] = steps
    return data


def step_histories(log: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each step's states in the order the log moved it (folding the log)."""
    state: RunState | None = None
    histories: dict[str, list[str]] = {}
    for data in log:
        state = apply(state, event_from_json(data))
        for step, record in state.steps.items():
            seen = histories.setdefault(step, [])
            if not seen or seen[-1] != record.state.value:
                seen.append(record.state.value)
    return histories


def per_step_events(log: list[dict[str, Any]]) -> dict[str, list[tuple[str, Any]]]:
    """Each step's events (type, attempt) in log order."""
    found: dict[str, list[tuple[str, Any]]] = {}
    for event in log:
        if event["step"] is not None:
            found.setdefault(event["step"], []).append((event["type"], event["attempt"]))
    return found


def replay_failures(histories: list[WorkflowHistory]) -> list[str]:
    """Replay each history through `BatonWorkflow` in the worker's sandbox; what failed."""
    replayer = Replayer(workflows=[BatonWorkflow], workflow_runner=sandbox_runner())

    async def replay() -> list[str]:
        failures = []
        for history in histories:
            result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
            if result.replay_failure is not None:
                failures.append(f"{history.workflow_id}: {result.replay_failure!r}")
        return failures

    return asyncio.run(replay())


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
