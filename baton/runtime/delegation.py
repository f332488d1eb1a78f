"""Delegation at run time: an agent hands work to another agent while its attempt runs.

A python agent calls `req.delegate(agent, input, output="handoff@version")`; command
and http agents POST the same three fields to `BATON_DELEGATE_URL`
(runtime.agents.delegate_server). Either way the request ends up in
`DelegationContext.delegate`, which:

1. checks the delegation against the roster (`check`): the agent exists, is not already
   in the chain (a loop), the last agent of the chain may delegate to it (its
   `delegates_to`), and the chain stays within `max_delegation_depth` delegations;
2. records `delegation_requested` (and `delegation_denied` when refused) through the
   driver's `DelegationHost`, durably, before anything else happens;
3. gives the delegation an idempotency key derived from its parent's (the step's key,
   or the delegating delegation's), the delegate and its place among the parent's
   delegations; a resumed attempt that asks again gets the stored output (recorded
   with `reused: true`) and nobody is called twice;
4. calls the delegate (its request carries the longer chain and its own delegation
   context, so it may delegate in turn), validates its output against the handoff and
   records `delegation_completed` with the output and its checksum, or
   `delegation_failed`.

A refused delegation raises `AgentFailure(acl_denied)` into the agent, and the step
fails with `acl_denied` even if the agent catches it: a denial is never silently
dropped (`AttemptDelegations.denials`).
"""

from __future__ import annotations

import difflib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from baton.runtime.agents.envelope import AgentCall, AgentFailure, json_problem, plain
from baton.runtime.canonical import checksum
from baton.runtime.core import events as ev
from baton.runtime.model import JSON, FailureClass, Request, Step, Usage, Workflow

CallAgent = Callable[[AgentCall], Any]  # -> runtime.agents.AgentReply


class DelegationHost(Protocol):
    """What a driver provides: durable recording, and the delegations already done."""

    def record(self, bodies: list[ev.EventBody]) -> None:
        """Append the events to the run's log; returns once they are durable. Raises
        AgentFailure when the attempt is no longer live (timed out, cancelled)."""

    def completed(self, key: str) -> tuple[JSON, str] | None:
        """(output, checksum) of a completed delegation with this key, else None."""


@dataclass(frozen=True)
class Denial:
    """Why a delegation is refused: `reason` is not_allowed | loop | depth | unknown_agent."""

    reason: str
    message: str


def check(workflow: Workflow, chain: tuple[str, ...], agent: str) -> Denial | None:
    """Whether the last agent of `chain` may delegate to `agent`; None when it may.

    >>> from baton.runtime.model import AgentBinding, AgentKind
    >>> wf = Workflow("w", 1, "w.yaml", "0", (), (), max_delegation_depth=2, agents=(
    ...     AgentBinding("a", AgentKind.BUILTIN, "echo", ("b",)),
    ...     AgentBinding("b", AgentKind.BUILTIN, "echo", ("a", "c")),
    ...     AgentBinding("c", AgentKind.BUILTIN, "echo", ("d",)),
    ...     AgentBinding("d", AgentKind.BUILTIN, "echo")))
    >>> check(wf, ("a",), "b") is None, check(wf, ("a", "b"), "a").reason
    (True, 'loop')
    >>> check(wf, ("a",), "c").reason, check(wf, ("a", "b", "c"), "d").reason
    ('not_allowed', 'depth')
    """
    names = sorted(binding.name for binding in workflow.agents)
    proposed = " -> ".join((*chain, agent))
    if agent not in names:
        close = difflib.get_close_matches(agent, names, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return Denial(
            "unknown_agent",
            f"unknown agent '{agent}'{hint} (agents: {', '.join(names) or 'none'})",
        )
    if agent in chain:
        return Denial("loop", f"delegation loop: '{agent}' is already in the chain {proposed}")
    delegator = chain[-1] if chain else workflow.owner
    try:
        allowed = workflow.agent(delegator).delegates_to if delegator else ()
    except KeyError:
        allowed = ()
    if agent not in allowed:
        listed = ", ".join(sorted(allowed)) or "nobody"
        return Denial(
            "not_allowed",
            f"'{delegator}' may not delegate to '{agent}' (its delegates_to: {listed}); "
            f"chain {proposed}",
        )
    delegations = len(chain)  # the chain with `agent` has one link fewer than agents
    if delegations > workflow.max_delegation_depth:
        return Denial(
            "depth",
            f"chain {proposed} has {delegations} delegations; "
            f"max_delegation_depth is {workflow.max_delegation_depth}",
        )
    return None


def delegation_key(parent_key: str, agent: str, ordinal: int) -> str:
    """The idempotency key of the `ordinal`-th delegation (1-based) made under
    `parent_key`, to `agent`: the same when a resumed attempt asks again.

    >>> delegation_key("k", "auditor", 1) == delegation_key("k", "auditor", 1)
    True
    >>> delegation_key("k", "auditor", 1) == delegation_key("k", "auditor", 2)
    False
    """
    return checksum(["delegation", parent_key, agent, ordinal])


@dataclass
class AttemptDelegations:
    """What every delegation of one attempt shares, however deeply nested."""

    workflow: Workflow
    step: Step
    run_id: str
    attempt: int
    host: DelegationHost
    call_agent: CallAgent
    timeout_ms: int
    denials: list[str] = field(default_factory=list)
    _open: list[DelegationContext] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def root(self, chain: tuple[str, ...], key: str) -> DelegationContext:
        """The context the step's own agent gets."""
        return self._context(chain, key)

    def _context(self, chain: tuple[str, ...], key: str) -> DelegationContext:
        context = DelegationContext(self, chain, key)
        with self._lock:
            self._open.append(context)
        return context

    def close(self) -> None:
        """Withdraw every context's URL (the attempt is over)."""
        with self._lock:
            contexts, self._open = self._open, []
        for context in contexts:
            context.close()


class DelegationContext:
    """One agent's power to delegate: its chain and its idempotency key (the parent of
    the keys of its delegations). Implements `runtime.model.Delegator`."""

    def __init__(self, attempt: AttemptDelegations, chain: tuple[str, ...], key: str) -> None:
        self.attempt = attempt
        self.chain = chain
        self.parent_key = key
        self._count = 0
        self._lock = threading.Lock()
        self._token: str | None = None

    @property
    def url(self) -> str:
        """Where command and http agents POST a delegation (served on 127.0.0.1)."""
        from baton.runtime.agents import delegate_server

        with self._lock:
            if self._token is None:
                self._token = delegate_server.register(self)
            return delegate_server.url_of(self._token)

    def close(self) -> None:
        with self._lock:
            token, self._token = self._token, None
        if token is not None:  # the server is imported (and started) only once used
            from baton.runtime.agents import delegate_server

            delegate_server.unregister(token)

    def delegate(self, agent: str, input: JSON, output: str) -> JSON:
        """Delegate to `agent`; its output, valid against handoff `output`."""
        shared = self.attempt
        workflow, step = shared.workflow, shared.step
        if not isinstance(agent, str) or not isinstance(output, str):
            raise AgentFailure(
                FailureClass.AGENT_ERROR,
                "delegate(agent, input, output): agent and output "
                "are strings (output names a handoff: 'name@version')",
            )
        try:
            handoff = workflow.handoff(output)
        except KeyError:
            known = sorted({h.ref for h in workflow.handoffs} | _step_refs(workflow))
            raise AgentFailure(
                FailureClass.AGENT_ERROR,
                f"delegation to '{agent}': unknown handoff '{output}' "
                f"(handoffs: {', '.join(known) or 'none'})",
            ) from None
        payload = plain(input)
        problem = json_problem(payload, "input")
        if problem is not None:
            raise AgentFailure(FailureClass.AGENT_ERROR, f"delegation to '{agent}': {problem}")
        with self._lock:
            self._count += 1
            ordinal = self._count
        key = delegation_key(self.parent_key, agent, ordinal)
        chain = (*self.chain, agent)
        where: dict[str, Any] = {"step": step.id, "attempt": shared.attempt, "agent": agent}
        requested = ev.DelegationRequested(
            **where, chain=chain, idempotency_key=key, parent_key=self.parent_key, output=output
        )
        denial = check(workflow, self.chain, agent)
        if denial is not None:
            shared.denials.append(denial.message)
            shared.host.record(
                [
                    requested,
                    ev.DelegationDenied(
                        **where,
                        chain=chain,
                        idempotency_key=key,
                        reason=denial.reason,
                        message=denial.message,
                    ),
                ]
            )
            raise AgentFailure(FailureClass.ACL_DENIED, f"delegation denied: {denial.message}")
        stored = shared.host.completed(key)
        if stored is not None:
            shared.host.record([replace(requested, reused=True)])
            return stored[0]
        shared.host.record([requested])
        return self._call(agent, payload, handoff.ref, handoff.schema, chain, key, where)

    def _call(
        self,
        agent: str,
        payload: JSON,
        ref: str,
        schema: JSON,
        chain: tuple[str, ...],
        key: str,
        where: dict[str, Any],
    ) -> JSON:
        from baton.runtime.validate import validate

        shared = self.attempt
        started = time.monotonic()
        child = shared._context(chain, key)
        request = Request(
            workflow=shared.workflow.name,
            run_id=shared.run_id,
            step=shared.step.id,
            attempt=shared.attempt,
            idempotency_key=key,
            input=payload,
            output_schema=schema,
            delegation_chain=chain,
            delegation=child,
        )
        try:
            reply = shared.call_agent(
                AgentCall(
                    shared.workflow.agent(agent),
                    request,
                    shared.timeout_ms,
                    shared.workflow.root,
                )
            )
        except AgentFailure as failure:
            shared.host.record(
                [
                    ev.DelegationFailed(
                        **where,
                        idempotency_key=key,
                        failure=failure.failure.value,
                        message=failure.message,
                        latency_ms=_since(started),
                    )
                ]
            )
            raise AgentFailure(
                failure.failure, f"delegation to '{agent}' failed: {failure.message}"
            ) from None
        finally:
            child.close()
        usage = usage_json(reply.usage)
        issues = validate(schema, reply.output)
        if issues:
            errors = tuple({"pointer": i.pointer, "message": i.message} for i in issues)
            message = (
                f"the output of delegate '{agent}' does not match {ref}: "
                f"{errors[0]['pointer'] or '(root)'}: {errors[0]['message']}"
            )
            shared.host.record(
                [
                    ev.DelegationFailed(
                        **where,
                        idempotency_key=key,
                        failure=FailureClass.MALFORMED_OUTPUT.value,
                        message=message,
                        errors=errors,
                        latency_ms=_since(started),
                        usage=usage,
                    )
                ]
            )
            raise AgentFailure(FailureClass.MALFORMED_OUTPUT, message)
        shared.host.record(
            [
                ev.DelegationCompleted(
                    **where,
                    idempotency_key=key,
                    checksum=checksum(reply.output),
                    output=reply.output,
                    latency_ms=_since(started),
                    usage=usage,
                )
            ]
        )
        output: JSON = reply.output
        return output


def usage_json(usage: Usage | None) -> dict[str, JSON]:
    if usage is None:
        return {}
    return {
        "tokens_in": usage.tokens_in,
        "tokens_out": usage.tokens_out,
        "cost_usd": usage.cost_usd,
    }


def _step_refs(workflow: Workflow) -> set[str]:
    return {step.output.ref for step in workflow.steps if step.output is not None}


def _since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def root_chain(step: Step) -> tuple[str, ...]:
    """The chain a step's own agent delegates from: its compiled chain, ending with it."""
    chain = step.delegation_chain
    if step.agent is not None and (not chain or chain[-1] != step.agent):
        chain = (*chain, step.agent)
    return chain


__all__ = [
    "AttemptDelegations",
    "DelegationContext",
    "DelegationHost",
    "Denial",
    "check",
    "delegation_key",
    "root_chain",
]
