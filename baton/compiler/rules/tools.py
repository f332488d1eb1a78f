"""Tool rules: what model agents may call is declared, effectful tools are gated, and
untrusted text cannot steer an effectful tool without a person in between (B700-B706)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from baton.compiler import ir
from baton.compiler.context import LintContext
from baton.compiler.diagnostics import Report, choices_text, did_you_mean
from baton.compiler.graph import topological_order
from baton.compiler.rules.approvals import _untrusted_source, tainted_steps


def _rosters(ctx: LintContext) -> Iterator[ir.Roster]:
    yield from (ctx.spec.rosters[key] for key in sorted(ctx.spec.rosters))


def unknown_tool(ctx: LintContext, report: Report) -> None:
    """An agent's `tools:` names a tool its roster's `tools:` does not declare.

    Why: the tool list is the agent's ACL; a name that matches nothing is a typo, and
    the agent would run without the tool it was meant to have.

    Example: `tools: [githib]` when the roster declares `github` and `calc`.
    """
    for roster in _rosters(ctx):
        for agent in roster.agents.values():
            for name in agent.tools:
                if name.value not in roster.tools:
                    report(
                        name.span,
                        f"agent '{agent.name}' names unknown tool '{name.value}'"
                        f"{did_you_mean(name.value, roster.tools)}; tools are "
                        f"{choices_text(roster.tools)}",
                    )


def tool_without_approval(ctx: LintContext, report: Report) -> None:
    """A tool with `effect: external` has no `approval:` (unless the roster's policy sets
    `require_approval_for_external: false`).

    Why: a model decides when to call a tool and with what; a call that sends mail or
    pays cannot be undone, so a person with the right role signs off each one.

    Example: `mail: {mcp: {url: ...}, effect: external}` with no approval.
    """
    for roster in _rosters(ctx):
        if not roster.policy.require_approval_for_external:
            continue
        for tool in roster.tools.values():
            if tool.effect == "external" and tool.approval_role is None:
                report(
                    tool.effect_span or tool.span,
                    f"tool '{tool.name}' has effect 'external' but no approval; add "
                    "`approval: {role: ...}`",
                )


def unknown_tool_role(ctx: LintContext, report: Report) -> None:
    """A tool's `approval:` names a role the roster's `approvers` does not define.

    Why: nobody could approve a call; the run would wait forever.

    Example: `approval: {role: manger}` when the roles are `manager` and `ceo`.
    """
    for roster in _rosters(ctx):
        for tool in roster.tools.values():
            role = tool.approval_role
            if role is not None and role.value and role.value not in roster.approvers:
                report(
                    role.span,
                    f"tool '{tool.name}': unknown approver role '{role.value}'"
                    f"{did_you_mean(role.value, roster.approvers)}; roles are "
                    f"{choices_text(roster.approvers)}",
                )


def tools_on_non_llm_agent(ctx: LintContext, report: Report) -> None:
    """An agent that is not an `llm` agent has `tools:` or `max_tool_calls:`.

    Why: tools are offered to a model by Baton's llm adapter; a python, command or http
    agent never sees them, so the setting would silently do nothing.

    Example: `mario: {run: {python: "agents:mario"}, tools: [calc]}`.
    """
    for roster in _rosters(ctx):
        for agent in roster.agents.values():
            if agent.run.kind in ("llm", "") or not (agent.tools or agent.max_tool_calls):
                continue
            report(
                agent.tools_span or agent.span,
                f"agent '{agent.name}' is a {agent.run.kind} agent: only llm agents call "
                "tools; remove `tools:` / `max_tool_calls:`",
            )


def tool_without_source(ctx: LintContext, report: Report) -> None:
    """A tool names neither an MCP server (`mcp: {command: [...]}` or `mcp: {url: ...}`)
    nor a python function (`python: "module:function"`), or names both.

    Why: Baton would not know what to start or call.

    Example: `calc: {description: "adds numbers"}`.
    """
    for roster in _rosters(ctx):
        for tool in roster.tools.values():
            sources = [key for key in ("mcp", "python") if _declares(tool, key)]
            if tool.kind == "" or len(sources) > 1:
                report(
                    tool.span,
                    f"tool '{tool.name}' must name exactly one of `mcp: {{command: [...]}}`, "
                    '`mcp: {url: ...}` or `python: "module:function"`',
                )


def _declares(tool: ir.Tool, key: str) -> bool:
    return key in tool.sources


def untrusted_to_tool(ctx: LintContext, report: Report) -> None:
    """Untrusted data can reach a tool with `effect: external` and no `approval:`.

    Why: a tool's output (a web page, an issue body) and untrusted inputs can carry
    prompt injections; the model reads them and chooses the next call's arguments. An
    injected instruction must not reach an irreversible call without a person looking.
    The data reaches the tool when the step's agent reads untrusted data (an untrusted
    input, or the output of a step that read some or called tools), or when the agent
    has another tool (every tool output is untrusted).

    Example: `webster` has tools `[search, mail]`, `mail` is external and unapproved
    (the policy allows it): a search result can make the model send mail.
    """
    for workflow in ctx.spec.workflows.values():
        roster = workflow.roster
        if roster is None or not roster.tools:
            continue
        tainted = _tainted(ctx, workflow, roster)
        for step in workflow.steps.values():
            agent = roster.agents.get(step.agent.value) if step.agent else None
            if agent is None:
                continue
            declared = [roster.tools[n.value] for n in agent.tools if n.value in roster.tools]
            for tool in declared:
                if tool.effect != "external" or tool.approval_role is not None:
                    continue
                source = _step_source(ctx, workflow, step, tainted)
                others = sorted(t.name for t in declared if t.name != tool.name)
                if source is None and others:
                    source = f"the output of tool '{others[0]}'"
                if source is not None:
                    report(
                        step.agent.span if step.agent else step.span,
                        f"untrusted data from {source} can reach external tool "
                        f"'{tool.name}' (agent '{agent.name}', step '{step.id}') with no "
                        "approval in between; add `approval: {role: ...}` to the tool",
                    )


def _step_source(
    ctx: LintContext, workflow: ir.Workflow, step: ir.Step, tainted: set[str]
) -> str | None:
    for read in ctx.reads:
        if read.workflow is workflow and read.step is step:
            found = _untrusted_source(
                ctx, workflow, read.reference.root, read.reference.path, tainted
            )
            if found:
                return found
    return None


def _tainted(ctx: LintContext, workflow: ir.Workflow, roster: ir.Roster) -> set[str]:
    """B403's tainted steps, plus every unapproved step whose agent calls tools (tool
    outputs are untrusted), and what reads them in turn."""
    tainted = tainted_steps(ctx, workflow)
    needs = ctx.known_needs(workflow)
    for step_id in topological_order(needs, needs) or list(workflow.steps):
        step = workflow.steps[step_id]
        if step.approval is not None or step_id in tainted:
            continue
        agent = roster.agents.get(step.agent.value) if step.agent else None
        if (agent is not None and agent.tools) or _step_source(ctx, workflow, step, tainted):
            tainted.add(step_id)
    return tainted


def tool_approval_cannot_wait(ctx: LintContext, report: Report) -> None:
    """A map step's agent, or a review loop's reviewer, may call a tool with
    `approval:`.

    Why: each call of such a tool waits for a person, and only a step's own attempt can
    stop and wait (runtime.core.tool_approvals); an item of a map step or a reviewer's
    verdict cannot, so when its model asks for the call the attempt fails with
    `agent_error`, not retried.

    Example: a map step `send_each` whose agent has `tools: [mail]`, and `mail` has
    `approval: {role: manager}`.
    """
    for workflow in ctx.spec.workflows.values():
        roster = workflow.roster
        if roster is None or not roster.tools:
            continue
        for step in workflow.steps.values():
            runners = []
            if step.map is not None and step.agent is not None:
                runners.append((step.agent, f"runs the items of map step '{step.id}'"))
            if step.review is not None:
                runners.append((step.review.by, f"reviews step '{step.id}'"))
            for name, role in runners:
                agent = roster.agents.get(name.value)
                if agent is None:
                    continue
                approved = sorted(
                    n.value
                    for n in agent.tools
                    if n.value in roster.tools and roster.tools[n.value].approval_role
                )
                if approved:
                    report(
                        name.span,
                        f"agent '{agent.name}' {role} and may call tool '{approved[0]}', "
                        "whose calls wait for an approval: that attempt cannot wait, so "
                        "such a call fails it; give this agent no approved tool",
                    )


def tool_only_unknown(ctx: LintContext, report: Report) -> None:
    """With `baton lint --probe-tools`: a tool's `only:` names a tool its MCP server does
    not list, or the server cannot be started and listed at all.

    Why: the agent would be offered nothing under that name. Off by default: probing
    starts the servers, and lint does not run user code unless asked to.

    Example: `only: [send_mesage]` when the server lists `send_message`.
    """
    if not ctx.probe_tools:
        return
    from baton.runtime import probe_tool_names  # only when asked: it loads the MCP SDK

    for roster in _rosters(ctx):
        for tool in roster.tools.values():
            if not tool.only or tool.kind not in ("mcp_stdio", "mcp_http"):
                continue
            listed, problem = probe_tool_names(
                tool.kind, tool.target, str(Path(tool.span.path).parent), tool.name
            )
            if problem is not None:
                report(tool.target_span, f"cannot list the tools of '{tool.name}': {problem}")
                continue
            for name in tool.only:
                if name.value not in listed:
                    report(
                        name.span,
                        f"tool '{tool.name}': its server lists no tool '{name.value}'"
                        f"{did_you_mean(name.value, listed)}; it lists {choices_text(listed)}",
                    )
