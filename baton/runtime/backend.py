"""Where runs live, behind one interface: `LocalBackend` and `TemporalBackend`.

The local backend keeps every run in one SQLite database and drives a run in the process
that starts (or resumes) it. The Temporal backend starts runs on a Temporal cluster,
whose workers (`baton worker`) drive them; this process only follows them. A caller
picks a backend once and then makes the same calls whatever it picked; the shapes are
the local backend's (`runtime.api`): a `RunState`, a log as `baton events --json` prints
it, "applied" or a `RunError` for a decision.
"""

from __future__ import annotations

import asyncio
import gc
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from baton.runtime import api
from baton.runtime.api import DriveResult, Load, LoadedWorkflow, OnEvent, RunError
from baton.runtime.core.budget import RAISE_BUDGET, BudgetRefused, decode_limits
from baton.runtime.core.state import RunState
from baton.runtime.model import JSON
from baton.runtime.store.sqlite import AfterCommit

if TYPE_CHECKING:
    from baton.runtime.temporal.client import Target

__all__ = ["Backend", "Follow", "LocalBackend", "TemporalBackend", "serve_temporal_worker"]


@dataclass(frozen=True)
class Follow:
    """How the caller follows a run it starts or resumes: `on_event` sees each new
    event once; `detach` returns as soon as only a person's decision can move it."""

    detach: bool = False
    on_event: OnEvent | None = None


class Backend(Protocol):
    """What the command line does with runs, on any backend."""

    @property
    def name(self) -> str:
        """`local` or `temporal`, as `--backend` spells it."""
        ...

    @property
    def drives_itself(self) -> bool:
        """Whether a run goes on without the process that started it (Temporal's
        workers drive it): no `baton resume` after an interruption or a decision."""
        ...

    def start(
        self, loaded: LoadedWorkflow, inputs: JSON, run_id: str, follow: Follow
    ) -> DriveResult:
        """Validate the input and start the run; RunExists if the id is taken."""
        ...

    def resume(
        self, run_id: str, load: Load, allow_spec_change: bool, follow: Follow
    ) -> DriveResult:
        """Continue the run from where its log ends (or follow it, where it goes on
        by itself) until it ends or, with `follow.detach`, waits for a person."""
        ...

    def redrive(
        self,
        run_id: str,
        load: Load,
        steps: tuple[str, ...],
        by: str,
        allow_spec_change: bool,
        follow: Follow,
    ) -> DriveResult:
        """Take a failed run up again (`baton retry`): its failed steps (or `steps`) and
        those skipped or cancelled because of them start over; then as `resume`."""
        ...

    def existing(self, run_id: str) -> RunState | None:
        """The run's state if the id was ever used, else None."""
        ...

    def state(self, run_id: str) -> RunState:
        """The run's materialized state (`baton show --json`); UnknownRun if none."""
        ...

    def events(self, run_id: str) -> list[dict[str, JSON]]:
        """The run's log as `baton events --json` prints it."""
        ...

    def decide(
        self,
        kind: str,
        run_id: str,
        step: str | None,
        principal: str,
        comment: str,
        channel: str = "",
        shown_sha256: str | None = None,
    ) -> str:
        """approve | reject | cancel | raise_budget: "applied", or what happened instead.

        raise_budget: `step` names the agent (None: the run's budget), `comment` holds
        the new limits (runtime.core.budget.encode_limits). `channel`: how an approval
        or rejection came (cli, web, api), recorded in its event. `shown_sha256`: the
        sha256 of what the decider was shown (runtime.approval_subject), which binds
        a grant."""
        ...

    def idle(self, state: RunState) -> bool:
        """Whether nothing drives the run although it has not ended and waits for no
        person: it moves on only with `baton resume`."""
        ...


@dataclass(frozen=True)
class LocalBackend:
    """Runs in the SQLite database at `db`, driven by the process that calls.

    `after_commit` is given to every store this backend writes with (runtime.testing).
    """

    db: Path
    after_commit: AfterCommit | None = None

    @property
    def name(self) -> str:
        return "local"

    @property
    def drives_itself(self) -> bool:
        return False

    def start(
        self, loaded: LoadedWorkflow, inputs: JSON, run_id: str, follow: Follow
    ) -> DriveResult:
        return api.start_run(self.db, loaded, inputs, run_id, self._options(follow))

    def resume(
        self, run_id: str, load: Load, allow_spec_change: bool, follow: Follow
    ) -> DriveResult:
        return api.resume_run(self.db, run_id, load, allow_spec_change, self._options(follow))

    def redrive(
        self,
        run_id: str,
        load: Load,
        steps: tuple[str, ...],
        by: str,
        allow_spec_change: bool,
        follow: Follow,
    ) -> DriveResult:
        return api.redrive_run(
            self.db, run_id, load, steps, by, allow_spec_change, self._options(follow)
        )

    def existing(self, run_id: str) -> RunState | None:
        if not self.db.exists():  # looking must not create the database
            return None
        try:
            return api.get_state(self.db, run_id)
        except api.UnknownRun:
            return None

    def state(self, run_id: str) -> RunState:
        return api.get_state(self.db, run_id)

    def events(self, run_id: str) -> list[dict[str, JSON]]:
        return api.get_events(self.db, run_id)

    def decide(
        self,
        kind: str,
        run_id: str,
        step: str | None,
        principal: str,
        comment: str,
        channel: str = "",
        shown_sha256: str | None = None,
    ) -> str:
        if kind == api.CANCEL:
            return api.cancel(self.db, run_id, by=principal)
        if kind == RAISE_BUDGET:  # `step`: the agent (None: the run); `comment`: the limits
            try:
                limits = decode_limits(comment)
            except BudgetRefused as refusal:
                raise RunError(str(refusal)) from None
            return api.raise_budget(
                self.db, run_id, step, limits, principal, after_commit=self.after_commit
            )
        if step is None:
            raise RunError(f"{kind} needs a step")
        decision = api.approve if kind == api.APPROVE else api.reject
        return decision(
            self.db, run_id, step, principal, comment, channel=channel, shown_sha256=shown_sha256
        )

    def idle(self, state: RunState) -> bool:
        return api.is_idle(self.db, state)

    def runs(self) -> list[api.RunSummary]:
        """Every run in the database, newest first (none if there is no database)."""
        return api.list_runs(self.db)

    def timeline(self, run_id: str) -> api.Timeline:
        return api.get_timeline(self.db, run_id)

    def _options(self, follow: Follow) -> api.DriverOptions:
        return api.DriverOptions(
            detach=follow.detach, on_event=follow.on_event, after_commit=self.after_commit
        )


@dataclass(frozen=True)
class TemporalBackend:
    """Runs on a Temporal cluster: its frontend `address`, `namespace`, and the task
    queue its Baton workers poll. `heartbeat_ms`: how soon an attempt of a worker that
    died runs again elsewhere (None: the default)."""

    address: str | None
    namespace: str = "default"
    task_queue: str = "baton"
    heartbeat_ms: int | None = None

    @property
    def name(self) -> str:
        return "temporal"

    @property
    def drives_itself(self) -> bool:
        return True

    def start(
        self, loaded: LoadedWorkflow, inputs: JSON, run_id: str, follow: Follow
    ) -> DriveResult:
        """The run id is the workflow id: Temporal itself refuses a second start of it."""
        from baton.runtime.temporal import client
        from baton.runtime.temporal.messages import DEFAULT_HEARTBEAT_MS

        target = self.target()
        heartbeat_ms = self.heartbeat_ms or DEFAULT_HEARTBEAT_MS

        async def go(connection: Any) -> DriveResult:
            await client.start(connection, target, loaded, inputs, run_id, heartbeat_ms)
            return await _watch(connection, run_id, follow)

        return client.blocking(client.with_client(target, go))

    def resume(
        self, run_id: str, load: Load, allow_spec_change: bool, follow: Follow
    ) -> DriveResult:
        """The workers drive the run (on the spec they were given): follow it from
        where its log is now, as a local resume shows only what it adds."""
        from baton.runtime.temporal import client

        async def go(connection: Any) -> DriveResult:
            seen = (await client.state(connection, run_id)).last_seq

            def newer(event: api.events.Event, state: RunState) -> None:
                if event.seq > seen and follow.on_event is not None:
                    follow.on_event(event, state)

            return await _watch(connection, run_id, Follow(follow.detach, newer))

        return client.blocking(client.with_client(self.target(), go))

    def redrive(
        self,
        run_id: str,
        load: Load,
        steps: tuple[str, ...],
        by: str,
        allow_spec_change: bool,
        follow: Follow,
    ) -> DriveResult:
        """A new execution of the run's workflow id goes on from its log (see
        `runtime.temporal.redrive`); followed from the events it adds."""
        from baton.runtime.temporal import client
        from baton.runtime.temporal.messages import DEFAULT_HEARTBEAT_MS

        target = self.target()
        heartbeat_ms = self.heartbeat_ms or DEFAULT_HEARTBEAT_MS

        async def go(connection: Any) -> DriveResult:
            before = await client.redrive(
                connection, target, load, run_id, steps, by, allow_spec_change, heartbeat_ms
            )

            def newer(event: api.events.Event, state: RunState) -> None:
                if event.seq > before.last_seq and follow.on_event is not None:
                    follow.on_event(event, state)

            return await _watch(connection, run_id, Follow(follow.detach, newer))

        return client.blocking(client.with_client(target, go))

    def existing(self, run_id: str) -> RunState | None:
        try:
            return self.state(run_id)
        except api.UnknownRun:
            return None

    def state(self, run_id: str) -> RunState:
        from baton.runtime.temporal import client

        return client.blocking(client.with_client(self.target(), lambda c: client.state(c, run_id)))

    def events(self, run_id: str) -> list[dict[str, JSON]]:
        from baton.runtime.temporal import client

        return client.blocking(
            client.with_client(self.target(), lambda c: client.events(c, run_id))
        )

    def decide(
        self,
        kind: str,
        run_id: str,
        step: str | None,
        principal: str,
        comment: str,
        channel: str = "",
        shown_sha256: str | None = None,
    ) -> str:
        from baton.runtime.temporal import client

        return client.blocking(
            client.with_client(
                self.target(),
                lambda c: client.decide(
                    c, run_id, kind, step, principal, comment, channel, shown_sha256
                ),
            )
        )

    def idle(self, state: RunState) -> bool:
        return False  # a run that has not ended waits for a worker, never for `resume`

    def target(self) -> Target:
        """Where the runs are; RunError without an address."""
        from baton.runtime.temporal.client import Target

        if not self.address:
            raise RunError(
                "--backend temporal needs --address HOST:PORT (or BATON_TEMPORAL_ADDRESS)"
            )
        return Target(self.address, self.namespace, self.task_queue)


async def _watch(connection: Any, run_id: str, follow: Follow) -> DriveResult:
    from baton.runtime.temporal import client

    state, detached = await client.watch(
        connection, run_id, detach=follow.detach, on_event=follow.on_event
    )
    return DriveResult(state, detached)


def serve_temporal_worker(
    target: TemporalBackend,
    workflows: list[LoadedWorkflow],
    load: Load,
    *,
    max_concurrent_attempts: int,
    sticky_timeout_s: float,
    graceful_shutdown_s: float,
    identity: str,
    ready: Callable[[], None],
) -> None:
    """Be a Temporal worker for Baton runs until SIGINT or SIGTERM: host `workflows`
    (and what `load` loads by name when a run needs it), poll `target`'s task queue;
    RunError if it cannot connect."""
    from baton.runtime.temporal.worker import WorkerOptions, host, run_worker

    address = target.target().address
    host(workflows, load)
    options = WorkerOptions(
        task_queue=target.task_queue,
        max_concurrent_activities=max_concurrent_attempts,
        sticky_timeout_s=sticky_timeout_s,
        graceful_shutdown_s=graceful_shutdown_s,
        identity=identity,
    )

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await run_worker(address, target.namespace, options, stop=stop, ready=lambda _: ready())

    try:
        asyncio.run(serve())
    except (RuntimeError, RunError) as error:  # the SDK cannot connect, or its config
        failure: str | None = f"cannot run a worker against {address}: {error}"
    else:
        failure = None
    gc.collect()  # the client, before the interpreter shuts down (see client.blocking)
    if failure is not None:
        raise RunError(failure)
