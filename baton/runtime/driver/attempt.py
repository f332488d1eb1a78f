"""One attempt of one step: render its input, call its agent (or run its child
workflow), validate the output, score it. The part of a run that does I/O per step,
shared by every driver (the Temporal backend runs it as its activity).

Never raises for a problem of the agent's or of the data: every way an attempt can go
wrong is an `AttemptOutcome` with its failure class.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baton.runtime.canonical import canonical_json, checksum
from baton.runtime.core.commands import StartAttempt
from baton.runtime.core.outcome import AttemptOutcome
from baton.runtime.core.route import as_started
from baton.runtime.model import JSON, AgentKind, FailureClass, Request, Step, Usage, Workflow
from baton.runtime.render import RenderError, quality_score, render_input
from baton.runtime.sanitize import sanitizer
from baton.runtime.taint import found_sources, untrusted_paths, untrusted_sources
from baton.runtime.tools.errors import ToolApprovalNeeded
from baton.runtime.validate import validate

if TYPE_CHECKING:
    from baton.runtime.delegation import DelegationHost

TRACEBACK_CHARS = 8000  # kept of an agent's traceback in its `attempt_failed` event
_RUNTIME_DIR = str(Path(__file__).resolve().parent.parent)  # Baton's own frames start here


@dataclass(frozen=True)
class ChildResult:
    """How a sub-workflow's child run ended (`waiting`: it needs a human decision)."""

    status: str
    result: JSON = None
    message: str = ""


CallAgent = Callable[[Any], Any]  # runtime.agents.call_agent: AgentCall -> AgentReply
RunChild = Callable[[str, str, JSON], ChildResult]  # (workflow, child run id, input)


class ChildWaiting(Exception):
    """The child run waits for a human and this process detaches: the attempt stays
    open, and `baton resume` of the parent picks the child up again."""


def default_call_agent(call: Any) -> Any:
    from baton.runtime.agents import call_agent

    return call_agent(call)


def as_run_by(step: Step, agent: str) -> Step:
    """`step` as its fallback `agent` runs it: in the step's agent's place, also at the
    end of its delegation chain."""
    chain = step.delegation_chain
    if chain and chain[-1] == step.agent:
        chain = (*chain[:-1], agent)
    return dataclasses.replace(step, agent=agent, delegation_chain=chain)


def execute_attempt(
    workflow: Workflow,
    step: Step,
    command: StartAttempt,
    run_id: str,
    scope: dict[str, JSON],
    call_agent: CallAgent = default_call_agent,
    run_child: RunChild | None = None,
    *,
    untrusted: Collection[str] | None = None,
    delegation_host: DelegationHost | None = None,
) -> AttemptOutcome:
    """Run the attempt `command` describes; raises only ChildWaiting.

    `untrusted`: the run's untrusted paths (`runtime.taint.untrusted_paths` with the
    run's tainted steps); None takes the schemas' marks only. Every untrusted string is
    sanitized where the input renders it. `delegation_host`: lets the agent delegate
    while it runs (runtime.delegation); without one, `req.delegate` is unavailable.
    With `command.tool_approvals` the attempt may stop to wait for a person's decision
    on a tool call (its outcome then has `tool_approval`); without (a map's item, a
    reviewer, a run whose plan predates the tool's approval) such a call fails it.
    """
    if command.review:  # a review loop's reviewer (runtime.driver.review)
        from baton.runtime.driver.review import execute_review

        return execute_review(workflow, step, command, run_id, scope, call_agent, untrusted)
    started = time.monotonic()
    step = as_started(step, command)  # a routed step: as its chosen target runs it
    if command.agent is not None and step.agent is not None and command.agent != step.agent:
        step = as_run_by(step, command.agent)

    def failed(
        failure: FailureClass,
        message: str,
        usage: Usage | None = None,
        agent_traceback: str | None = None,
        reply: str | None = None,
        retryable: bool = True,
        llm: dict[str, JSON] | None = None,
    ) -> AttemptOutcome:
        return AttemptOutcome(
            step=step.id,
            attempt=command.attempt,
            latency_ms=_since(started),
            usage=_usage(usage),
            failure=failure,
            message=message,
            received=False,
            traceback=agent_traceback,
            reply=reply,
            retryable=retryable,
            llm=llm,
        )

    paths = untrusted_paths(workflow) if untrusted is None else tuple(untrusted)
    if step.map is not None:  # a map's item: untrusted where its list is
        from baton.runtime.core.mapping import item_untrusted

        paths = (*paths, *item_untrusted(paths, step.map))
    try:
        rendered = render_input(
            step.input,
            scope,
            untrusted=paths,
            sanitize=sanitizer(workflow.untrusted_token_budget),
            where=f"step '{step.id}' ({step.spec})",
        )
    except RenderError as error:
        return failed(FailureClass.AGENT_ERROR, f"cannot render the input: {error}")
    try:
        prompt = render_prompt(workflow, step, scope, paths)
    except RenderError as error:
        return failed(FailureClass.AGENT_ERROR, f"cannot render the prompt: {error}")
    # what the agent reads is its input and its prompt: an untrusted value that reaches
    # only the prompt taints the output all the same
    read: JSON = rendered if prompt is None else [rendered, prompt]
    sources = untrusted_sources(read, paths) if paths else ()
    if command.feedback:  # a tainted reviewer's feedback is wrapped (runtime.driver.review)
        sources = (*sources, *dict.fromkeys(found_sources(list(command.feedback))))
    usage: Usage | None = None
    raw_text: str | None = None
    llm: dict[str, JSON] | None = None
    if step.workflow is not None:
        if run_child is None:
            return failed(FailureClass.AGENT_ERROR, "sub-workflows are not available here")
        child = run_child(step.workflow, command.child_run_id or "", rendered)
        if child.status == "waiting":
            raise ChildWaiting(command.child_run_id)
        if child.status != "succeeded":
            failure = (
                FailureClass.CANCELLED if child.status == "cancelled" else FailureClass.AGENT_ERROR
            )
            return failed(
                failure, f"child run '{command.child_run_id}' {child.status}: {child.message}"
            )
        output = child.result
    else:
        from baton.runtime.agents import AgentCall, AgentFailure

        assert step.agent is not None, "a step runs an agent or a workflow"
        delegations = None
        if delegation_host is not None:
            from baton.runtime.delegation import AttemptDelegations, root_chain

            delegations = AttemptDelegations(
                workflow,
                step,
                run_id,
                command.attempt,
                delegation_host,
                call_agent,
                step.timeout_ms,
            )
        request = Request(
            workflow=workflow.name,
            run_id=run_id,
            step=step.id,
            attempt=command.attempt,
            idempotency_key=command.idempotency_key,
            input=rendered,
            output_schema=step.output.schema if step.output else None,
            delegation_chain=step.delegation_chain,
            feedback=command.feedback,
            delegation=delegations.root(root_chain(step), command.idempotency_key)
            if delegations is not None
            else None,
        )
        binding = workflow.agent(step.agent)
        if binding.kind is AgentKind.LLM and binding.llm is not None:
            llm = {"provider": binding.llm.provider, "model": binding.llm.model}
        try:
            call = AgentCall(
                binding,
                request,
                step.timeout_ms,
                workflow.root,
                prompt=prompt,
                description=step.description,
                output_ref=step.output.ref if step.output else None,
                history=command.history,
                host=delegation_host,
                tools=workflow.tools,
                untrusted_budget=workflow.untrusted_token_budget,
                tool_decisions=command.tool_decisions,
            )
            reply = call_agent(call)
        except ToolApprovalNeeded as pause:
            if not command.tool_approvals:
                return failed(
                    FailureClass.AGENT_ERROR,
                    f"tool call {pause.request.get('name')!r} needs a person's approval, and "
                    "this attempt cannot wait for one (a map step's item, a reviewer, or a "
                    "run started before the tool needed approval)",
                    pause.usage,
                    retryable=False,
                    llm=llm,
                )
            return _waiting(workflow, step.id, command.attempt, pause, started, llm)
        except AgentFailure as failure:
            if delegations is not None and delegations.denials:
                return failed(FailureClass.ACL_DENIED, _denied(delegations.denials))
            raised = failure.__cause__ if binding.kind is AgentKind.PYTHON else None
            return failed(
                failure.failure,
                failure.message,
                agent_traceback=_traceback(raised),
                reply=failure.reply,
                retryable=failure.retryable,
                llm=llm,
            )
        finally:
            if delegations is not None:
                delegations.close()
        output, usage, raw_text = reply.output, reply.usage, reply.raw_text
        llm = reply.llm or llm
        sources = (*sources, *getattr(reply, "untrusted", ()))  # tool outputs taint it
        if delegations is not None and delegations.denials:
            # a refused delegation fails the step even if the agent carried on
            return failed(FailureClass.ACL_DENIED, _denied(delegations.denials), usage, llm=llm)
    return judge(
        step,
        command.attempt,
        output,
        _usage(usage),
        _since(started),
        scope,
        untrusted_sources=sources,
        reply=raw_text,
        llm=llm,
    )


def _waiting(
    workflow: Workflow,
    step: str,
    attempt: int,
    pause: ToolApprovalNeeded,
    started: float,
    llm: dict[str, JSON] | None,
) -> AttemptOutcome:
    """The outcome of an attempt stopped at a tool call a person must decide on: who may
    (the role's holders in the roster now) and what they decide (core.tool_approvals)."""
    request = dict(pause.request)
    request["principals"] = list(workflow.principals(str(request["role"])))
    return AttemptOutcome(
        step=step,
        attempt=attempt,
        latency_ms=_since(started),
        usage=_usage(pause.usage if isinstance(pause.usage, Usage) else None),
        received=False,
        llm=llm,
        tool_approval=request,
        voided=tuple(pause.voided),
    )


def render_prompt(
    workflow: Workflow, step: Step, scope: dict[str, JSON], untrusted: Collection[str]
) -> str | None:
    """The step's `prompt:` rendered as its input is (same scope, untrusted values
    sanitized and wrapped the same way); None without one. A prompt that renders to
    something other than a string (a bare `{{ steps.x.output }}`) is sent as its JSON."""
    if step.prompt is None:
        return None
    rendered = render_input(
        step.prompt.source,
        scope,
        untrusted=untrusted,
        sanitize=sanitizer(workflow.untrusted_token_budget),
        where=f"step '{step.id}' prompt ({step.prompt.spec or step.spec})",
    )
    if isinstance(rendered, str):
        return rendered
    return canonical_json(rendered).decode("utf-8")


def _traceback(error: BaseException | None) -> str | None:
    """The traceback of what a python agent raised (the python adapter keeps it as its
    failure's cause), from the agent's own code on: Baton's frames that called it are
    left out, and so are locals. At most TRACEBACK_CHARS, keeping the end, where the
    exception was raised. None without one (an adapter's own refusal)."""
    if error is None:
        return None
    frames = traceback.extract_tb(error.__traceback__)
    skip = 0
    while skip < len(frames) and _callers_frame(frames[skip].filename):
        skip += 1
    shown = traceback.TracebackException.from_exception(error)
    shown.stack = traceback.StackSummary.from_list(frames[skip:])
    text = "".join(shown.format())
    if len(text) > TRACEBACK_CHARS:
        cut = len(text) - TRACEBACK_CHARS
        text = f"[{cut} characters cut]\n" + text[cut:]
    return text


def _callers_frame(filename: str) -> bool:
    """A frame of Baton's runtime or of the import machinery, which called the agent."""
    return filename.startswith((_RUNTIME_DIR, "<frozen importlib"))


def _denied(denials: list[str]) -> str:
    more = f" (and {len(denials) - 1} more)" if len(denials) > 1 else ""
    return f"delegation denied: {denials[0]}{more}"


def judge(
    step: Step,
    attempt: int,
    output: JSON,
    usage: dict[str, JSON],
    latency_ms: int,
    scope: dict[str, JSON],
    *,
    untrusted_sources: tuple[str, ...] = (),
    reply: str | None = None,
    llm: dict[str, JSON] | None = None,
) -> AttemptOutcome:
    """Validate and score an output: validated (with its checksum) or rejected.

    Quality checks run after validation, on the raw output (`output` in their scope).
    `reply`: the text a model wrote the output as, kept with a rejection (the repair
    loop sends it back); `llm`: the model that answered (llm agents).
    """

    def rejected(
        message: str, errors: list[dict[str, str]], score: float | None = None
    ) -> AttemptOutcome:
        return AttemptOutcome(
            step=step.id,
            attempt=attempt,
            latency_ms=latency_ms,
            usage=usage,
            failure=FailureClass.MALFORMED_OUTPUT,
            message=message,
            errors=tuple(errors),
            quality_score=score,
            preview=_preview(output),
            reply=reply,
            llm=llm,
        )

    try:
        digest = checksum(output)
    except (TypeError, ValueError) as error:
        return rejected(
            f"the output is not JSON: {error}", [{"pointer": "", "message": str(error)}]
        )
    if step.output is not None:
        issues = validate(step.output.schema, output)
        if issues:
            errors = [{"pointer": issue.pointer, "message": issue.message} for issue in issues]
            first = errors[0]
            return rejected(
                f"output does not match {step.output.ref}: "
                f"{first['pointer'] or '(root)'}: {first['message']}"
                + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""),
                errors,
            )
    elif step.workflow is None and output not in (None, {}):
        message = "a step without `output:` must return an empty output ({} or null)"
        return rejected(message, [{"pointer": "", "message": message}])
    score = None
    if step.quality is not None:
        score = quality_score(step.quality, {**scope, "output": output})
        if score < step.quality.min_score:
            message = f"quality score {score:.2f} is below min_score {step.quality.min_score}"
            return rejected(message, [{"pointer": "", "message": message}], score)
    return AttemptOutcome(
        step=step.id,
        attempt=attempt,
        latency_ms=latency_ms,
        usage=usage,
        output=output,
        checksum=digest,
        quality_score=score,
        untrusted_sources=untrusted_sources,
        llm=llm,
    )


def _since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _usage(usage: Usage | None) -> dict[str, JSON]:
    if usage is None:
        return {}
    return {
        "tokens_in": usage.tokens_in,
        "tokens_out": usage.tokens_out,
        "cost_usd": usage.cost_usd,
    }


def _preview(output: JSON) -> str:
    try:
        return canonical_json(output).decode("utf-8")[:2000]
    except (TypeError, ValueError):
        return repr(output)[:2000]
