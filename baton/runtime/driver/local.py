"""The local driver: executes the core's commands against the SQLite store.

One loop per run, in the calling thread; agents run in a pool of worker threads (the
steps of a generation in parallel). Each turn of the loop: take the results that arrived and the
decisions other processes left, ask `decide` until it has nothing more to say, commit
everything in one transaction (group commit: results of parallel steps share it), and
only then start the agents whose `attempt_started` is now durable (the outbox rule:
an external effect is recorded before it happens).

A run is driven by the holder of its lease; a crash leaves the lease to expire (or to
be taken over at once when its holder is a dead process on this host), and `resume`
runs interrupted attempts again under the same idempotency key.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from baton.runtime.checksums import (
    ConsumptionCheck,
    delegation_mismatches,
    failure_event,
    step_mismatches,
)
from baton.runtime.core import commands as cmd
from baton.runtime.core import events as ev
from baton.runtime.core import review
from baton.runtime.core.apply import apply
from baton.runtime.core.decide import decide, steps_by_id
from baton.runtime.core.map_commands import RetryItem, StartItem, StartMap
from baton.runtime.core.outcome import AttemptOutcome, outcome_events
from baton.runtime.core.plan import run_started, workflow_pin
from baton.runtime.core.redrive import redrive_event
from baton.runtime.core.state import WAITING, RunState
from baton.runtime.driver.attempt import (
    CallAgent,
    ChildResult,
    ChildWaiting,
    default_call_agent,
    execute_attempt,
)
from baton.runtime.driver.delegations import Delegations, RecordRequest
from baton.runtime.driver.journal import Journal
from baton.runtime.driver.mapitems import dispatch_item, prune_items, take_item
from baton.runtime.driver.workers import WORKERS
from baton.runtime.model import JSON, AgentKind, FailureClass, Step, Workflow
from baton.runtime.notify.local import Notifier, grace_ms
from baton.runtime.store import Store, new_owner
from baton.runtime.store.errors import StoreError
from baton.runtime.store.group import GroupCommit, group_commit
from baton.runtime.store.lease import lease_ms
from baton.runtime.store.sqlite import AfterCommit
from baton.runtime.taint import untrusted_paths

log = logging.getLogger("baton.runtime")

OnEvent = Callable[[ev.Event, RunState], None]


def now_ms() -> int:
    return int(time.time() * 1000)


class RunBusy(StoreError):
    """Another live process drives the run: this one refuses rather than double work."""

    def __init__(self, run_id: str, holder: str) -> None:
        super().__init__(f"run '{run_id}' is being driven by {holder}; not resuming it twice")
        self.run_id = run_id


@dataclass(frozen=True)
class DriverOptions:
    """How a driver behaves; tests replace the clock, the jitter and the agents."""

    detach: bool = False  # return when only a human decision can move the run
    call_agent: CallAgent = default_call_agent
    resolver: Callable[[str], Workflow] | None = None  # sub-workflows by name
    on_event: OnEvent | None = None  # after each commit, for progress output
    poll_ms: int = 200  # how often to look for decisions from other processes
    clock: Callable[[], int] = now_ms
    jitter: Callable[[], float] = random.random
    stop: threading.Event | None = None  # set when a parent run ends: cancel this child
    after_commit: AfterCommit | None = None  # given to every store it writes with
    # how long a run that ended (or waits for a decision) waits for its webhooks before
    # the driver returns; None: `BATON_NOTIFY_GRACE_MS`, else 10 s (runtime.notify)
    notify_grace_ms: int | None = None


@dataclass(frozen=True)
class DriveResult:
    state: RunState
    detached: bool = False  # returned waiting for a decision (with `detach`)


@dataclass(frozen=True)
class _Done:
    """A worker's report: the attempt's outcome, or that its child run is waiting."""

    command: cmd.StartAttempt | StartItem  # an attempt of a step, or of a map step's item
    outcome: AttemptOutcome | None


class LocalDriver:
    """Drives runs of one workflow in one store; one instance per thread."""

    def __init__(self, store: Store, workflow: Workflow, options: DriverOptions | None = None):
        self.store = store
        self.workflow = workflow
        self.options = options or DriverOptions()
        self.owner = new_owner()
        self._inline_steps: dict[
            tuple[str, str | None], bool
        ] = {}  # step -> whether its agent runs inline
        self.delegations = Delegations()
        self.integrity = ConsumptionCheck()
        self.notifier: Notifier | None = None  # while a run with webhooks is driven

    # -- entry points

    def start(
        self,
        run_id: str,
        inputs: JSON,
        pin: str,
        spec: str,
        parent: dict[str, str] | None = None,
        trace_id: str | None = None,
    ) -> DriveResult:
        """Record a new run and drive it; raises RunExists for a known run id.

        `trace_id`: the trace the run joins (a child run joins its parent's); else new.
        """
        now = self.options.clock()
        body = run_started(self.workflow, inputs, pin, spec, parent)
        event = ev.Event(1, run_id, now, trace_id or uuid.uuid4().hex, body)
        state = apply(None, event)
        try:
            return self._drive(Journal(state, start=event))
        finally:
            self.store.release_lease(run_id, self.owner)

    def resume(
        self,
        run_id: str,
        pin: str,
        spec_changed: bool = False,
        queued: bool = False,
        held: bool = False,
        state: RunState | None = None,
    ) -> DriveResult:
        """Take a run over and drive it on; raises RunBusy if a live process drives it.
        `queued`: a run only recorded so far (`runtime.pool.enqueue`), which starts
        without a `run_resumed` (nothing of it ran before). `held`: `self.owner` holds
        the run's lease already (a pool worker claims leases in batches); then `state`
        may be the run's state as read under that lease (not read again)."""
        now = self.options.clock()
        holder = None if held else self.store.acquire_lease(run_id, self.owner, now)
        if holder is not None:
            raise RunBusy(run_id, holder.describe(now))
        try:
            if not (held and state is not None and state.run_id == run_id):
                state = self.store.load_state(run_id)  # read now, under the lease
            journal = Journal(state)
            if journal.state.outcome is not None:  # only its notifications may be owed
                self._open_notifications(journal)
                return self._deliver_notifications(journal, DriveResult(journal.state))
            if not (queued and journal.state.last_seq == 1):
                journal.emit(ev.RunResumed(self.owner, pin, spec_changed), now)
            tampered = self._verify_stored(journal.state)
            if tampered is not None:
                journal.emit(tampered, now)  # the run stops; no step sees the data
            return self._drive(journal)
        finally:
            self.store.release_lease(run_id, self.owner)

    def redrive(
        self,
        run_id: str,
        pin: str,
        named: tuple[str, ...] = (),
        by: str = "",
        spec_changed: bool = False,
    ) -> DriveResult:
        """Take a failed run up again (`run_redriven`, durable on its own), then drive
        it on like `resume`; raises RunBusy, or RedriveRefused if the run does not
        allow it (checked again here, under the lease)."""
        now = self.options.clock()
        holder = self.store.acquire_lease(run_id, self.owner, now)
        if holder is not None:
            raise RunBusy(run_id, holder.describe(now))
        try:
            journal = Journal(self.store.load_state(run_id))
            journal.emit(redrive_event(journal.state, named, by), now)
            # committed before anything else: a crash from here on leaves a running run
            # that `baton resume` continues
            self._notify(journal.commit(self.store, self.owner, now), journal.state)
            journal.emit(ev.RunResumed(self.owner, pin, spec_changed), now)
            tampered = self._verify_stored(journal.state)
            if tampered is not None:
                journal.emit(tampered, now)
            return self._drive(journal)
        finally:
            self.store.release_lease(run_id, self.owner)

    # -- the loop

    def _drive(self, journal: Journal) -> DriveResult:
        self._open_notifications(journal)
        with group_commit(self.store.path, self.options.after_commit) as group:
            if not journal.created:  # a new run: record `run_started` (RunExists if taken)
                now = self.options.clock()
                self._notify(journal.commit(self.store, self.owner, now, group), journal.state)
            result = self._loop(journal, group)
        return self._deliver_notifications(journal, result)

    def _loop(self, journal: Journal, group: GroupCommit) -> DriveResult:
        options = self.options
        done: queue.Queue[_Done | RecordRequest] = queue.Queue()
        in_flight: dict[str, int] = {}  # step -> attempt whose result we wait for
        items_in_flight: dict[tuple[str, int], int] = {}  # (map step, index) -> attempt
        children_stop = threading.Event()
        arrived: list[_Done | RecordRequest] = []
        last_poll = -(10**15)
        last_write = options.clock()
        while True:
            now = options.clock()
            for report in arrived:
                if isinstance(report, RecordRequest):  # a delegation, while its attempt runs
                    self.delegations.take(journal, report, now)
                    continue
                if isinstance(report.command, StartItem):  # a map step's item
                    items_in_flight.pop((report.command.step, report.command.index), None)
                    if report.outcome is not None:
                        take_item(journal, report.command, report.outcome, now)
                    continue
                if in_flight.get(report.command.step) == report.command.attempt:
                    del in_flight[report.command.step]
                self._take(journal, report, now)
            arrived = []
            if now - last_poll >= options.poll_ms:
                journal.take_requests(self.store, now)
                last_poll = now
            if self.notifier is not None:  # webhook outcomes join this turn's commit
                for body in self.notifier.take():
                    journal.emit(body, now)
            if _parent_ended(options.stop, journal.state):
                journal.emit(ev.CancelRequested(by="parent run ended"), now)
            to_start, wake_at = self._decide(journal, now)
            written = journal.commit(self.store, self.owner, now, group)
            self.delegations.committed()
            if written:
                last_write = now
                self._notify(written, journal.state)
            state = journal.state
            _prune(in_flight, state)
            prune_items(items_in_flight, state)
            for command in to_start:
                if isinstance(command, StartItem):
                    items_in_flight[(command.step, command.index)] = command.attempt
                    self._dispatch_item(state, command, done)
                    continue
                in_flight[command.step] = command.attempt
                self._dispatch(state, command, done, children_stop)
            if state.outcome is not None:
                children_stop.set()
                self.delegations.abandon()
                return DriveResult(state)
            # only a decision can move it (an approval's timeout, if any, fires in a
            # later `resume` or a driver that stays: runtime.core.approvals)
            if (
                options.detach
                and not in_flight
                and not items_in_flight
                and (wake_at is None or state.status == WAITING)
            ):
                return DriveResult(state, detached=True)
            timeout_ms = options.poll_ms if wake_at is None else min(options.poll_ms, wake_at - now)
            try:
                arrived.append(done.get(timeout=max(timeout_ms, 0) / 1000))
                while True:  # whatever else finished meanwhile joins the same commit
                    arrived.append(done.get_nowait())
            except queue.Empty:
                pass
            if options.clock() - last_write > lease_ms() // 3:
                self.store.renew_lease(state.run_id, self.owner, options.clock())
                last_write = options.clock()

    def _decide(
        self, journal: Journal, now: int
    ) -> tuple[list[cmd.StartAttempt | StartItem], int | None]:
        """Execute what `decide` says until it says nothing new; the attempts to start."""
        to_start: list[cmd.StartAttempt | StartItem] = []
        while True:
            wake_at = None
            actions = []
            for command in decide(self.workflow, journal.state, now):
                if isinstance(command, cmd.Wait):
                    wake_at = command.until_ms
                else:
                    actions.append(command)
            if not actions:
                return to_start, wake_at
            for command in actions:
                if isinstance(command, cmd.StartAttempt | StartMap):
                    step = steps_by_id(self.workflow)[command.step]
                    mismatch = self.integrity.check(journal.state, step)
                    if mismatch is not None:  # the run stops before the data is used
                        journal.emit(failure_event(mismatch), now)
                        return [], None
                retry = isinstance(command, cmd.ScheduleRetry | RetryItem)
                jitter = self.options.jitter() if retry else 0.0
                body = cmd.event_for(command, now, jitter)
                assert body is not None
                journal.emit(body, now)
                if isinstance(command, cmd.StartAttempt | StartItem):
                    to_start.append(command)

    def _take(self, journal: Journal, report: _Done, now: int) -> None:
        """Record a worker's outcome, unless the attempt is no longer the live one."""
        command = report.command
        assert isinstance(command, cmd.StartAttempt)
        record = journal.state.steps[command.step]
        if not review.live(record, command):  # a producer's attempt, or a reviewer's
            log.info("late result of %s discarded", command.attempt_id)
            return
        if report.outcome is None:
            return  # its child run waits for a decision; `resume` picks it up again
        for body in outcome_events(report.outcome, command.idempotency_key):
            journal.emit(body, now)
        if report.outcome.checksum is not None:  # hashed from the value now in the state
            self.integrity.verified.add((command.step, report.outcome.checksum))

    def _dispatch(
        self,
        state: RunState,
        command: cmd.StartAttempt,
        done: queue.Queue[_Done | RecordRequest],
        children_stop: threading.Event,
    ) -> None:
        step = steps_by_id(self.workflow)[command.step]
        scope = state.scope()
        if command.review:  # a reviewer reads the output under review
            scope = review.review_scope(scope, state.steps[step.id])
        parent = {"run_id": state.run_id, "step": step.id}
        tainted = state.tainted_steps()
        untrusted = untrusted_paths(self.workflow, tainted)
        host = self.delegations.host(command, done, step.timeout_ms)

        def run_child(name: str, child_run_id: str, inputs: JSON) -> ChildResult:
            return self._run_child(
                name, child_run_id, inputs, parent, children_stop, state.trace_id
            )

        def work() -> None:
            try:
                outcome: AttemptOutcome | None = execute_attempt(
                    self.workflow,
                    step,
                    command,
                    state.run_id,
                    scope,
                    self.options.call_agent,
                    run_child,
                    untrusted=untrusted,
                    delegation_host=host,
                )
            except ChildWaiting:
                outcome = None
            except Exception as error:  # a bug below us must not hang the run
                log.exception("attempt %s crashed", command.attempt_id)
                outcome = AttemptOutcome(
                    step=step.id,
                    attempt=command.attempt,
                    latency_ms=0,
                    failure=FailureClass.AGENT_ERROR,
                    message=f"internal error: {error!r}",
                    received=False,
                )
            done.put(_Done(command, outcome))

        if self._inline(step, command.agent):
            work()  # its agent answers at once: a thread hop would cost more than the call
        else:
            WORKERS.submit(work)

    def _dispatch_item(
        self, state: RunState, command: StartItem, done: queue.Queue[_Done | RecordRequest]
    ) -> None:
        """Run a map step's item (runtime.driver.mapitems)."""
        step = steps_by_id(self.workflow)[command.step]

        def report(item: StartItem, outcome: AttemptOutcome) -> None:
            done.put(_Done(item, outcome))

        inline = self._inline(step, command.agent)
        dispatch_item(self.workflow, step, state, command, self.options.call_agent, report, inline)

    def _inline(self, step: Step, agent: str | None = None) -> bool:
        """Whether `step`'s attempts run in the driver's thread: a builtin agent that
        answers without waiting (`echo`, `demo.*`; not `sleep`), called the default way.
        Anything that may block keeps a worker thread, so that the loop stays free to
        time it out and to take a cancel."""
        if self.options.call_agent is not default_call_agent:
            return False
        if step.agent is None or step.workflow is not None:
            return False
        agent = agent or step.agent
        known = self._inline_steps.get((step.id, agent))
        if known is None:
            from baton.runtime.agents.builtin import answers_at_once

            try:
                binding = self.workflow.agent(agent)
            except KeyError:  # the attempt reports it, from a worker as any failure
                binding = None
            known = self._inline_steps[(step.id, agent)] = (
                binding is not None
                and binding.kind is AgentKind.BUILTIN
                and isinstance(binding.target, str)
                and answers_at_once(binding.target)
            )
        return known

    def _run_child(
        self,
        name: str,
        child_run_id: str,
        inputs: JSON,
        parent: dict[str, str],
        stop: threading.Event,
        trace_id: str | None = None,
    ) -> ChildResult:
        """Start (or resume) a sub-workflow's child run in this thread, and wait for it."""
        from baton.runtime.validate import validate

        if self.options.resolver is None:
            return ChildResult("failed", message=f"no workflow '{name}' is known to this run")
        try:
            workflow = self.options.resolver(name)
        except KeyError:
            return ChildResult("failed", message=f"unknown workflow '{name}'")
        if workflow.inputs_schema is not None:
            issues = validate(workflow.inputs_schema, inputs)
            if issues:
                where = issues[0].pointer or "(root)"
                return ChildResult(
                    "failed", message=f"invalid input at {where}: {issues[0].message}"
                )
        options = dataclasses.replace(self.options, stop=stop)
        # a connection of this thread's own
        with Store(self.store.path, after_commit=options.after_commit) as store:
            driver = LocalDriver(store, workflow, options)
            pin = workflow_pin(workflow)
            if store.has_run(child_run_id):
                result = driver.resume(child_run_id, pin)
            else:
                result = driver.start(
                    child_run_id, inputs, pin, workflow.spec_path, parent, trace_id
                )
        if result.detached:
            return ChildResult("waiting")
        state = result.state
        message = str((state.error or {}).get("message", ""))
        return ChildResult(state.status, state.result, message)

    def _verify_stored(self, state: RunState) -> ev.RunFailed | None:
        """Check every output the database gave back against its checksum (and load
        the run's completed delegations); the failure that stops a tampered run."""
        completed, broken = delegation_mismatches(self.store.load_events(state.run_id))
        self.delegations.completed.update(completed)
        broken = step_mismatches(state) + broken
        if broken:
            return failure_event(broken[0])
        self.integrity.verified.update(
            (step, record.checksum) for step, record in state.steps.items() if record.checksum
        )
        return None

    # -- notifications (runtime.notify): delivered by a thread, recorded by the loop

    def _open_notifications(self, journal: Journal) -> None:
        """Start the delivery thread of a workflow with webhooks; a stored run's log
        tells what it still owes."""
        if not self.workflow.notify or self.notifier is not None:
            return
        self.notifier = Notifier(self.workflow, self.options.clock)
        if journal.created:
            self.notifier.recover(self.store.load_events(journal.state.run_id))

    def _deliver_notifications(self, journal: Journal, result: DriveResult) -> DriveResult:
        """Give the webhooks a grace once the run ended or waits: record what they
        answer in time; what is still open stays owed in the log (`baton resume`)."""
        notifier = self.notifier
        if notifier is None:
            return result
        try:
            deadline = self.options.clock() + grace_ms(self.options.notify_grace_ms)
            while True:
                quiet = notifier.settle(deadline)
                bodies = notifier.take()
                if bodies and not self._record_notifications(journal, bodies):
                    break
                if quiet:
                    break
        finally:
            notifier.close()
            self.notifier = None
        return DriveResult(journal.state, result.detached)

    def _record_notifications(self, journal: Journal, bodies: list[ev.EventBody]) -> bool:
        """Append delivery outcomes after the loop; False if the run is another's now."""
        now = self.options.clock()
        if journal.state.outcome is not None:  # its last batch released the lease
            holder = self.store.acquire_lease(journal.state.run_id, self.owner, now)
            if holder is not None:
                log.info("notification outcomes left to %s", holder.describe(now))
                return False
        for body in bodies:
            journal.emit(body, now)
        self._notify(journal.commit(self.store, self.owner, now), journal.state)
        return True

    def _notify(self, events: list[ev.Event], state: RunState) -> None:
        if self.notifier is not None:
            self.notifier.observe(events)
        if self.options.on_event is not None:
            for event in events:
                self.options.on_event(event, state)


def _parent_ended(stop: threading.Event | None, state: RunState) -> bool:
    """A child run whose parent ended (failed, cancelled) is cancelled too."""
    if stop is None or not stop.is_set():
        return False
    return not state.cancel_requested and state.outcome is None


def _prune(in_flight: dict[str, int], state: RunState) -> None:
    """Forget attempts that ended without their worker (timed out, cancelled)."""
    for step, attempt in list(in_flight.items()):
        record = state.steps[step]
        if not (record.attempt_open and record.attempts == attempt):
            del in_flight[step]
