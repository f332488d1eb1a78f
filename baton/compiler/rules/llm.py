"""llm agents (issue 11): a model needs an output schema (B501), a prompt needs a model
(B502), OpenAI's strict mode needs a schema in its subset (B503), a provider ignores
some settings (B504), a `system_file` must exist (B505), a budget must cap something
(B506).

What a provider does with a config and a schema is the runtime's provider layer's
decision (`strict_problems`, `settings_not_sent`); the rules ask it rather than keep a
copy of its tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from baton.compiler import ir
from baton.compiler.context import LintContext
from baton.compiler.diagnostics import Report
from baton.compiler.files import Confined, confined
from baton.compiler.llmconfig import llm_config

# problems listed under a B503 finding; the rest are counted
MAX_NOTES = 5


def _rosters(ctx: LintContext) -> list[ir.Roster]:
    """Every roster of the set once (a roster file serves many workflows)."""
    rosters = {id(w.roster): w.roster for w in ctx.spec.workflows.values() if w.roster}
    rosters |= {id(r): r for r in ctx.spec.rosters.values()}
    return list(rosters.values())


def _llm_agents(ctx: LintContext) -> Iterator[tuple[ir.Agent, ir.LlmSettings]]:
    for roster in _rosters(ctx):
        for agent in roster.agents.values():
            if agent.llm is not None:
                yield agent, agent.llm


def _steps(ctx: LintContext) -> Iterator[tuple[ir.Workflow, ir.Step, ir.Agent | None]]:
    """Every step with the roster agent it names (None: no agent, or an unknown one); a
    routed step once with each agent its `route:` may choose."""
    for workflow in ctx.spec.workflows.values():
        agents = workflow.roster.agents if workflow.roster else {}
        for step in workflow.steps.values():
            if step.route and step.agent is None:
                names = dict.fromkeys(case.agent.value for case in step.route if case.agent)
                for name in names:
                    yield workflow, step, agents.get(name)
                continue
            agent = agents.get(step.agent.value) if step.agent else None
            yield workflow, step, agent


def llm_step_without_output(ctx: LintContext, report: Report) -> None:
    """A step whose agent is an llm agent has no `output:` handoff.

    Why: the handoff schema is the model's output contract: it is sent to the provider as
    the structured-output schema, and every reply is validated against it (and repaired
    against it on retry). Without one, the model has no shape to answer in and nothing
    checks what it says.

    Example: `agent: webster` (`run: {llm: ...}`) with no `output: brief@2`.
    """
    for _, step, agent in _steps(ctx):
        if agent is not None and agent.llm is not None and step.output is None:
            report(
                step.span,
                f"step '{step.id}' runs llm agent '{agent.name}' but has no 'output:' handoff; "
                "a model needs the handoff schema as its output contract",
            )


def prompt_ignored(ctx: LintContext, report: Report) -> None:
    """A step has `prompt:` but its agent is not an llm agent (or it runs a sub-workflow).

    Why: only llm agents send a prompt; any other agent receives the rendered `input`,
    and the prompt would be silently ignored.

    Example: `prompt: "Research {{ inputs.topic }}"` on a step whose agent is
    `run: {python: "agents.webster:handle"}`.
    """
    for _, step, agent in _steps(ctx):
        if step.prompt is None:
            continue
        if step.workflow is not None:
            report(
                step.prompt.span,
                f"step '{step.id}' calls workflow '{step.workflow.value}': its 'prompt' is "
                "ignored (only llm agents take a prompt)",
            )
        elif agent is not None and agent.llm is None:
            report(
                step.prompt.span,
                f"step '{step.id}' runs {agent.run.kind or 'non-llm'} agent '{agent.name}': "
                "its 'prompt' is ignored (only llm agents take a prompt); put what the agent "
                "needs in 'input'",
            )


def schema_not_strict(ctx: LintContext, report: Report) -> None:
    """A step's openai agent gets a handoff schema outside OpenAI's strict structured-output
    subset, so the schema is sent with `strict: false`: the model is asked, not forced, to
    follow it. The notes list each part of the schema at fault (a JSON pointer and the
    reason). Baton validates the reply either way, so this is a warning (`--strict` makes
    it fail): a schema in the subset saves repair rounds. Anthropic agents are not
    concerned (a forced tool).

    Why: with `strict: true` the provider constrains decoding to the schema; without it a
    reply may miss required keys, costing a `malformed_output` attempt and a retry.

    Example: an object with `additionalProperties` not false, or an optional property
    (OpenAI's strict mode wants every property in `required`; make it nullable instead).
    """
    for workflow, step, agent in _steps(ctx):
        if agent is None or agent.llm is None or agent.llm.provider != "openai":
            continue
        if step.output is None:
            continue
        version = ctx.handoff_version(workflow, step.output)
        if version is None:
            continue  # B302
        from baton.runtime import strict_problems  # only for spec sets with llm agents

        problems = strict_problems(version.schema.value)
        if not problems:
            continue
        notes = problems[:MAX_NOTES]
        if len(problems) > MAX_NOTES:
            notes.append(f"and {len(problems) - MAX_NOTES} more")
        ref = f"{step.output.handoff}@{version.version}"
        report(
            step.output.span,
            f"handoff '{ref}' is outside OpenAI's strict schema subset, so openai agent "
            f"'{agent.name}' of step '{step.id}' gets it with strict: false",
            notes=notes,
        )


def setting_not_sent(ctx: LintContext, report: Report) -> None:
    """An llm agent sets a setting its provider's API does not take, so Baton does not
    send it: `temperature`, `top_p` or `seed` on an anthropic agent (Anthropic's newer
    models refuse sampling settings; Anthropic has no seed).

    Why: the setting looks as if it made the agent deterministic or conservative, and
    has no effect.

    Example: `run: {llm: {provider: anthropic, model: claude-sonnet-4-5, temperature: 0}}`.
    """
    for agent, settings in _llm_agents(ctx):
        config = llm_config(settings)
        if config is None:
            continue  # out of range: B002
        from baton.runtime import settings_not_sent  # only for spec sets with llm agents

        for name in settings_not_sent(config):
            report(
                settings.spans.get(name, settings.span),
                f"{settings.provider} agent '{agent.name}' sets '{name}', which the "
                f"{settings.provider} API does not take; Baton does not send it",
            )


def missing_system_file(ctx: LintContext, report: Report) -> None:
    """An llm agent's `system_file` does not exist or cannot be read as UTF-8 text. The file is
    resolved relative to the file that names it and must be inside the spec root (B004
    otherwise); its text is read at compile time, so the compiled workflow holds the
    system prompt and is pinned with it.

    Why: without the file there is no system prompt to compile in.

    Example: `system_file: prompts/webster.md` with no `prompts/webster.md` next to the
    roster.
    """
    for agent, settings in _llm_agents(ctx):
        reference = settings.system_file
        if reference is None or settings.system is not None:
            continue
        file = confined(ctx.store.root, Path(reference.span.path), reference.value)
        if not isinstance(file, Confined):
            continue  # B004
        if file.path.is_file():
            problem = "cannot be read as UTF-8 text"
        else:
            problem = "is a directory, not a file" if file.path.is_dir() else "does not exist"
        looked = file.path.as_posix()
        where = f" (looked for '{looked}')" if looked != reference.value else ""
        report(
            reference.span,
            f"system_file '{reference.value}' of agent '{agent.name}' {problem}{where}",
        )


def empty_budget(ctx: LintContext, report: Report) -> None:
    """A `budget:` (of a workflow or a roster agent) sets neither `usd` nor `tokens`.

    Why: a budget with no cap never stops or flags anything; it reads as a safeguard
    that is not there.

    Example: `budget: {mode: enforce}`.
    """
    for workflow in ctx.spec.workflows.values():
        if workflow.budget and workflow.budget.usd is None and workflow.budget.tokens is None:
            report(
                workflow.budget.span,
                f"budget of workflow '{workflow.name}' caps nothing; set 'usd', 'tokens' or both",
            )
    for roster in _rosters(ctx):
        for agent in roster.agents.values():
            if agent.budget and agent.budget.usd is None and agent.budget.tokens is None:
                report(
                    agent.budget.span,
                    f"budget of agent '{agent.name}' caps nothing; set 'usd', 'tokens' or both",
                )
