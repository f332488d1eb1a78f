"""Start, decide and read Baton runs on Temporal: what `--backend temporal` calls.

The shapes are the local backend's (`runtime.api`): a run's log is a list of events as
`baton events --json` prints them, its state the `RunState` whose `to_json` is
`state.json`, decisions return "applied" or raise `RunError` with the refusal. The run
id is the Temporal workflow id, and a workflow id is never reused (not even after the
run ended), so Temporal itself refuses to start a run id twice.

A running run is read with the `baton_events` query (answered by a worker that has the
run cached, or replays it); a finished run from its result in the history, so it reads
with no worker at all. The state is always the fold of the log.

Every function is async; `blocking` runs one from synchronous code (the command line).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from baton.runtime.api import LoadedWorkflow, RunError, check_run_id, validate_inputs
from baton.runtime.core import events as ev
from baton.runtime.core.apply import apply, fold
from baton.runtime.core.decisions import APPROVE, CANCEL, REJECT, DecisionRefused, decision_event
from baton.runtime.core.state import RunState
from baton.runtime.model import JSON
from baton.runtime.store.errors import RunExists, StoreError, UnknownRun
from baton.runtime.temporal.catalog import WorkflowRef
from baton.runtime.temporal.messages import (
    DECISION_UPDATE,
    DEFAULT_HEARTBEAT_MS,
    DEFAULT_TASK_QUEUE,
    EVENTS_QUERY,
    WORKFLOW_TYPE,
    RunInput,
    event_from_json,
)

T = TypeVar("T")
OnEvent = Callable[[ev.Event, RunState], None]
QUERY_TIMEOUT = timedelta(seconds=15)  # no worker answered: say so rather than hang


@dataclass(frozen=True)
class Target:
    """Where runs live: the cluster's frontend, the namespace, the workers' task queue."""

    address: str
    namespace: str = "default"
    task_queue: str = DEFAULT_TASK_QUEUE


def blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to its end on a fresh event loop (for synchronous callers).

    The Temporal client it used is collected before this returns: a client that lives
    on until the interpreter shuts down (in a reference cycle, or held by the frames of
    a refusal's traceback) can crash the process in the SDK's native code on the way
    out. So a refusal leaves without its traceback and context.
    """
    refusal: RunError | StoreError | None = None
    try:
        return asyncio.run(coroutine)
    except (RunError, StoreError) as error:
        error.__context__ = error.__cause__ = None
        refusal = error.with_traceback(None)
    finally:
        del coroutine
        gc.collect()
    raise refusal


async def connect(target: Target) -> Client:
    try:
        return await Client.connect(**connect_options(target.address, target.namespace))
    except RuntimeError as error:  # the SDK's connection failure
        raise RunError(f"cannot reach Temporal at {target.address}: {error}") from None


def connect_options(address: str, namespace: str) -> dict[str, Any]:
    """`Client.connect` arguments: Temporal's own environment configuration (TLS
    certificates, API key, gRPC metadata: `TEMPORAL_*` variables and the profile in
    `temporal.toml`), with Baton's address and namespace over it."""
    from temporalio.envconfig import ClientConfig

    try:
        options: dict[str, Any] = dict(ClientConfig.load_client_connect_config())
    except Exception as error:  # a malformed config file or variable
        raise RunError(f"cannot read Temporal's client configuration: {error}") from None
    options.update(target_host=address, namespace=namespace)
    return options


# -- starting


async def start(
    client: Client,
    target: Target,
    loaded: LoadedWorkflow,
    inputs: JSON,
    run_id: str,
    heartbeat_ms: int = DEFAULT_HEARTBEAT_MS,
) -> WorkflowHandle[Any, Any]:
    """Validate the input and start the run; RunExists if its id was ever used."""
    check_run_id(run_id)
    validate_inputs(loaded.workflow, inputs)
    request = RunInput(
        run_id=run_id,
        ref=WorkflowRef.of(loaded),
        pin=loaded.pin,
        spec=loaded.spec,
        inputs=inputs,
        heartbeat_ms=heartbeat_ms,
    )
    try:
        return await client.start_workflow(
            WORKFLOW_TYPE,
            request.to_json(),
            id=run_id,
            task_queue=target.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            static_summary=f"{loaded.workflow.name} v{loaded.workflow.version}",
        )
    except WorkflowAlreadyStartedError:
        raise RunExists(run_id) from None


async def watch(
    client: Client,
    run_id: str,
    *,
    detach: bool = False,
    on_event: OnEvent | None = None,
    poll_s: float = 0.2,
) -> tuple[RunState, bool]:
    """Follow a run until it ends (or, with `detach`, waits for a decision): the state,
    and whether it returned waiting. `on_event` sees each new event once."""
    state: RunState | None = None
    while True:
        after = 0 if state is None else state.last_seq
        for data in await events(client, run_id, after_seq=after):
            event = event_from_json(data)
            state = apply(state, event)
            if on_event is not None:
                on_event(event, state)
        if state is not None and state.is_final():
            return state, False
        if state is not None and detach and state.status == "waiting":
            return state, True
        await asyncio.sleep(poll_s)


async def redrive(
    client: Client,
    target: Target,
    load: Callable[[str], LoadedWorkflow],
    run_id: str,
    steps: tuple[str, ...] = (),
    by: str = "",
    allow_spec_change: bool = False,
    heartbeat_ms: int = DEFAULT_HEARTBEAT_MS,
) -> RunState:
    """Take a failed run up again (`baton retry`): a new execution of the run's
    workflow id goes on from its log (`runtime.temporal.redrive`); the state it was
    taken up from. RunError if the run did not fail, a step cannot be redriven, or its
    spec changed (as on the local backend)."""
    from baton.runtime.api import check_spec_change
    from baton.runtime.core.redrive import RedriveRefused, redrive_event
    from baton.runtime.temporal.redrive import request as redrive_request

    log = await events(client, run_id)
    current = fold([event_from_json(data) for data in log])
    try:
        redrive_event(current, steps, by)  # refuse before loading the spec
    except RedriveRefused as refusal:
        raise RunError(str(refusal)) from None
    loaded = load(current.spec)
    if loaded.pin != current.spec_sha256:
        check_spec_change(current, loaded, allow_spec_change)
    handle = client.get_workflow_handle(run_id)
    if await _status(handle, run_id) is not WorkflowExecutionStatus.COMPLETED:
        raise RunError(f"run '{run_id}' has not closed on Temporal; not redriving it")
    request = RunInput(
        run_id=run_id,
        ref=WorkflowRef.of(loaded),
        pin=loaded.pin,
        spec=loaded.spec,
        inputs=current.inputs,
        parent=current.parent,
        heartbeat_ms=heartbeat_ms,
        trace_id=current.trace_id,
        log=log,
        redrive=redrive_request(steps, by),
    )
    try:
        # the same workflow id again: a new execution, allowed once the last one closed
        # (a second redrive racing this one finds it running and is refused)
        await client.start_workflow(
            WORKFLOW_TYPE,
            request.to_json(),
            id=run_id,
            task_queue=target.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            static_summary=f"{loaded.workflow.name} v{loaded.workflow.version} (redrive)",
        )
    except WorkflowAlreadyStartedError:
        raise RunError(f"run '{run_id}' is being redriven already") from None
    return current


# -- reading


async def events(client: Client, run_id: str, after_seq: int = 0) -> list[dict[str, JSON]]:
    """The run's log after event `after_seq`, in the shape `baton events --json` prints."""
    handle = client.get_workflow_handle(run_id)
    status = await _status(handle, run_id)
    if status is WorkflowExecutionStatus.COMPLETED:
        log: list[dict[str, JSON]] = await handle.result()
        return log[after_seq:]
    return await _query_events(handle, run_id, after_seq)


async def state(client: Client, run_id: str) -> RunState:
    """The run's materialized state (`baton show --json`): the fold of its log."""
    return fold([event_from_json(data) for data in await events(client, run_id)])


async def _status(handle: WorkflowHandle[Any, Any], run_id: str) -> WorkflowExecutionStatus | None:
    try:
        return (await handle.describe()).status
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            raise UnknownRun(run_id) from None
        raise RunError(f"cannot read run '{run_id}' from Temporal: {error.message}") from None


async def _query_events(
    handle: WorkflowHandle[Any, Any], run_id: str, after_seq: int
) -> list[dict[str, JSON]]:
    deadline = time.monotonic() + QUERY_TIMEOUT.total_seconds()
    while True:
        try:
            log: list[dict[str, JSON]] = await handle.query(
                EVENTS_QUERY, after_seq, rpc_timeout=QUERY_TIMEOUT
            )
            return log
        except (WorkflowQueryFailedError, WorkflowQueryRejectedError, RPCError) as error:
            if "failed state" in str(error):  # the workers cannot run it: say why
                raise RunError(
                    f"run '{run_id}' is stuck: {await _task_failure(handle) or error}"
                ) from None
            # the first workflow task may not have run yet; a worker may be restarting
            if time.monotonic() >= deadline:
                raise RunError(
                    f"no worker answered for run '{run_id}' "
                    f"(is `baton worker` running on its task queue?): {error}"
                ) from None
        await asyncio.sleep(0.2)


async def _task_failure(handle: WorkflowHandle[Any, Any]) -> str | None:
    """Why the run's last workflow task failed on its worker, from the history."""
    message = None
    async for event in handle.fetch_history_events():
        if event.HasField("workflow_task_failed_event_attributes"):
            message = event.workflow_task_failed_event_attributes.failure.message
    return message


# -- decisions


async def decide(
    client: Client,
    run_id: str,
    kind: str,
    step: str | None = None,
    principal: str | None = None,
    comment: str | None = None,
    channel: str = "",
    shown_sha256: str | None = None,
) -> str:
    """Send a decision (approve, reject, cancel) as the run's `baton_decision` Update.
    `channel` (cli, web, api) travels in the Update and is recorded in the event; the
    principal's token was checked by the caller (the CLI, against its local database).

    Checked against the run's state here first, so a refusal reads as on the local
    backend; the workflow's validator checks it again against the state it has then.
    """
    current = await state(client, run_id)
    try:
        decision_event(current, kind, step, principal, comment, channel, shown_sha256)
    except DecisionRefused as refusal:
        raise RunError(str(refusal)) from None
    handle = client.get_workflow_handle(run_id)
    request = {
        "kind": kind,
        "step": step,
        "principal": principal,
        "comment": comment or "",
        "channel": channel,
    }
    if shown_sha256:  # what the decider was shown (runtime.approval_subject)
        request["shown_sha256"] = shown_sha256
    try:
        outcome: str = await handle.execute_update(DECISION_UPDATE, request)
        return outcome
    except WorkflowUpdateFailedError as error:
        cause = error.cause
        raise RunError(str(getattr(cause, "message", None) or cause or error)) from None
    except RPCError as error:  # the run ended in between
        raise RunError(f"run '{run_id}' did not take the decision: {error.message}") from None


async def approve(client: Client, run_id: str, step: str, principal: str, comment: str = "") -> str:
    return await decide(client, run_id, APPROVE, step, principal, comment)


async def reject(client: Client, run_id: str, step: str, principal: str, comment: str = "") -> str:
    return await decide(client, run_id, REJECT, step, principal, comment)


async def cancel(client: Client, run_id: str, by: str = "") -> str:
    return await decide(client, run_id, CANCEL, None, by, None)


async def with_client(target: Target, use: Callable[[Client], Awaitable[T]]) -> T:
    """Connect to `target` and call `use` with the client."""
    return await use(await connect(target))
