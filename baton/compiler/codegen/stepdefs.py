"""IR -> the runtime's public types, as Python expressions (`rt.Step(...)`, `rt.Workflow(...)`).

Every value is a literal from compiler.codegen.literals; every name it refers to is one the
runtime exports to generated code (`rt.X`, X in `runtime.exported`) or an identifier the
emitter claimed. Enum members come from the runtime's own enums (failure classes, effects,
stages, agent kinds), so IR that never went through the linter cannot smuggle in an
attribute name. A keyword equal to the runtime type's own default is left out: a step
with the default retry policy does not spell the policy out.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import baton.runtime as rt
from baton.compiler import ir
from baton.compiler.codegen import literals
from baton.compiler.codegen.layout import Doc, Text, call, sequence
from baton.compiler.files import absolute
from baton.compiler.llmconfig import llm_config
from baton.compiler.span import Span

E = TypeVar("E", bound=StrEnum)


class CodegenError(ValueError):
    """IR that has no faithful translation (the linter rejects such specs first)."""


def runtime(name: str) -> str:
    """`rt.<name>` for a name the runtime exports to generated code.

    >>> runtime("Step")
    'rt.Step'
    """
    if name not in rt.exported:
        raise CodegenError(f"the runtime does not export {name!r} to generated code")
    return f"rt.{name}"


def enum_value(enum: type[E], spec_value: str) -> E:
    """The runtime's enum member for a spec value, or a CodegenError listing the choices."""
    try:
        return enum(spec_value)
    except ValueError:
        choices = ", ".join(sorted(m.value for m in enum))
        raise CodegenError(
            f"unknown {enum.__name__} {spec_value!r}; expected one of {choices}"
        ) from None


def member(value: StrEnum) -> Doc:
    """`rt.<Enum>.<MEMBER>` for a member of a runtime enum.

    >>> member(rt.FailureClass.TIMEOUT).text
    'rt.FailureClass.TIMEOUT'
    """
    return Text(f"{runtime(type(value).__name__)}.{value.name}")


def _defaults(cls: type[Any]) -> dict[str, object]:
    """The defaults of a runtime dataclass's fields (those that have one)."""
    found: dict[str, object] = {}
    for spec in dataclasses.fields(cls):
        if spec.default is not dataclasses.MISSING:
            found[spec.name] = spec.default
        elif spec.default_factory is not dataclasses.MISSING:
            found[spec.name] = spec.default_factory()
    return found


def construct(cls: type[Any], fields: dict[str, tuple[object, Doc]]) -> Doc:
    """`rt.<cls>(...)` with the keywords whose value differs from the runtime's default.

    `fields` maps a keyword to (its value as the runtime would hold it, its source).
    """
    defaults = _defaults(cls)
    keywords = {
        name: source
        for name, (value, source) in fields.items()
        if name not in defaults or value != defaults[name]
    }
    return call(runtime(cls.__name__), **keywords)


# The directory spec paths are shown relative to while compiling in memory (`baton run
# SPEC`): the spec's own, so that the compiled source, and the run's pin over it, are the
# same whatever the working directory (a context variable: compiles run on many threads).
_display_root: ContextVar[str | None] = ContextVar("display_root", default=None)


@contextmanager
def paths_shown_relative_to(directory: Path) -> Iterator[None]:
    """Show spec paths relative to `directory` in the code compiled within."""
    token = _display_root.set(str(directory.resolve()))
    try:
        yield
    finally:
        _display_root.reset(token)


def display_path(path: str) -> str:
    """A spec path as generated code shows it: relative to the working directory when it
    can be, so no absolute path of the machine that compiled ends up in a checked-in file
    (relative to the directory `paths_shown_relative_to` names, if any: always).
    """
    root = _display_root.get()
    if root is not None:
        return os.path.relpath(Path(path).resolve(), root).replace(os.sep, "/")
    if Path(path).is_absolute():
        relative = os.path.relpath(path)
        if not relative.startswith(".."):
            return relative.replace(os.sep, "/")
    return path.replace(os.sep, "/")


def spec_line(span: Span) -> str:
    """`file.yaml:LINE`, how a runtime error names the spec line."""
    return f"{display_path(span.path)}:{span.line}"


def strings(values: tuple[str, ...] | list[str]) -> Doc:
    return sequence("()", [literals.value(v) for v in values])


def template(source: ir.Template) -> Doc:
    keywords: dict[str, Doc] = {}
    if source.is_expression:
        keywords["is_expression"] = Text("True")
    keywords["spec"] = literals.value(spec_line(source.span))
    return call(runtime("Template"), literals.value(source.source), **keywords)


def can_retry(step: ir.Step) -> bool:
    """Whether a failed attempt of `step` can ever get another one (the runtime never
    retries some failure classes, whatever `retry.on` says)."""
    return step.retry.max_attempts > 1 and any(c not in rt.NEVER_RETRIED for c in step.retry.on)


def triggers(step: ir.Step) -> tuple[str, ...]:
    """The lifecycle triggers that apply to `step`, from the runtime's trigger table."""
    stage = enum_value(rt.ApprovalStage, step.approval.stage) if step.approval else None
    return rt.applicable_triggers(
        step.approval is not None,
        stage,
        can_retry(step),
        bool(step.fallbacks),
        bool(step.route),
        step.review.on_exhausted if step.review is not None else None,
    )


def runtime_retry(policy: ir.RetryPolicy) -> rt.RetryPolicy:
    """The retry policy as the runtime holds it."""
    backoff = policy.backoff
    return rt.RetryPolicy(
        max_attempts=policy.max_attempts,
        on=tuple(enum_value(rt.FailureClass, c) for c in policy.on),
        initial_ms=backoff.initial_ms,
        multiplier=backoff.multiplier,
        max_ms=backoff.max_ms,
        jitter=backoff.jitter,
    )


def retry_policy(policy: rt.RetryPolicy) -> Doc:
    return construct(
        rt.RetryPolicy,
        {
            "max_attempts": (policy.max_attempts, literals.value(policy.max_attempts)),
            "on": (policy.on, sequence("()", [member(c) for c in policy.on])),
            "initial_ms": (policy.initial_ms, literals.value(policy.initial_ms)),
            "multiplier": (policy.multiplier, literals.value(float(policy.multiplier))),
            "max_ms": (policy.max_ms, literals.value(policy.max_ms)),
            "jitter": (policy.jitter, literals.value(float(policy.jitter))),
        },
    )


def runtime_fallbacks(step: ir.Step) -> tuple[rt.Fallback, ...]:
    """The step's `fallback:` entries as the runtime holds them (classes as written,
    each once)."""
    return tuple(
        rt.Fallback(
            on=tuple(
                enum_value(rt.FailureClass, c)
                for c in dict.fromkeys(name.value for name in entry.on)
            ),
            agent=entry.agent.value,
        )
        for entry in step.fallbacks
    )


def fallbacks(values: tuple[rt.Fallback, ...]) -> Doc:
    """`(rt.Fallback(on=(...), agent="..."), ...)`."""
    return sequence(
        "()",
        [
            construct(
                rt.Fallback,
                {
                    "on": (entry.on, sequence("()", [member(c) for c in entry.on])),
                    "agent": (entry.agent, literals.value(entry.agent)),
                },
            )
            for entry in values
        ],
    )


def route(step: ir.Step) -> Doc:
    """`(rt.RouteCase(when=rt.Template(...), agent="..."), ...)`, in the spec's order."""
    cases = []
    for case in step.route:
        agent = case.agent.value if case.agent else None
        workflow = case.workflow.value if case.workflow else None
        fields: dict[str, tuple[object, Doc]] = {}
        if case.when is not None:
            fields["when"] = (case.when, template(case.when))
        fields["agent"] = (agent, literals.value(agent))
        fields["workflow"] = (workflow, literals.value(workflow))
        cases.append(construct(rt.RouteCase, fields))
    return sequence("()", cases)


def map_over(spec: ir.Map) -> Doc:
    """`rt.Map(over=rt.Template(...), var="...", ...)`: the numbers the rules accepted,
    the runtime's defaults for those not written."""
    fields: dict[str, tuple[object, Doc]] = {
        "over": (spec.over, template(spec.over)),
        "var": (spec.var.value, literals.value(spec.var.value)),
    }
    if spec.max_concurrency is not None:
        fields["max_concurrency"] = (spec.max_concurrency, literals.value(spec.max_concurrency))
    if spec.tolerate is not None:
        fields["tolerate"] = (spec.tolerate, literals.value(spec.tolerate))
    return construct(rt.Map, fields)


def runtime_review(loop: ir.Review, handoff: str) -> Doc:
    """`rt.Review(...)`: a step's review loop; `handoff` names the verdict's constant."""
    if loop.pass_when is None:
        raise CodegenError("a review without `pass_when` (the linter reports it: B002)")
    how = enum_value(rt.OnExhausted, loop.on_exhausted)
    escalate_to = loop.escalate_to.value if loop.escalate_to else None
    fields: dict[str, tuple[object, Doc]] = {
        "by": (loop.by.value, literals.value(loop.by.value)),
        "output": (handoff, Text(handoff)),
        "pass_when": (loop.pass_when, template(loop.pass_when)),
    }
    if loop.feedback is not None:
        fields["feedback"] = (loop.feedback, template(loop.feedback))
    if loop.input is not None:
        fields["input"] = (loop.input.data, literals.value(loop.input.data))
    fields |= {
        "max_rounds": (loop.max_rounds, literals.value(loop.max_rounds)),
        "on_exhausted": (how, member(how)),
        "escalate_to": (escalate_to, literals.value(escalate_to)),
    }
    return construct(rt.Review, fields)


def approval(gate: ir.Approval) -> Doc:
    from baton.compiler.build import duration_ms

    stage = enum_value(rt.ApprovalStage, gate.stage)
    timeout_ms = duration_ms(gate.timeout.value) if gate.timeout else None
    on_timeout = gate.on_timeout.value if gate.on_timeout else "reject"
    escalate_to = gate.escalate_to.value if gate.escalate_to else None
    return construct(
        rt.Approval,
        {
            "role": (gate.role.value, literals.value(gate.role.value)),
            "stage": (stage, member(stage)),
            "timeout_ms": (timeout_ms, literals.value(timeout_ms)),
            "on_timeout": (on_timeout, literals.value(on_timeout)),
            "escalate_to": (escalate_to, literals.value(escalate_to)),
        },
    )


def quality(checks: ir.Quality) -> Doc:
    return call(
        runtime("Quality"),
        min_score=literals.value(float(checks.min_score)),
        checks=sequence(
            "()",
            [
                construct(
                    rt.QualityCheck,
                    {
                        "expr": (check.expr, template(check.expr)),
                        "weight": (check.weight, literals.value(float(check.weight))),
                    },
                )
                for check in checks.checks
            ],
        ),
    )


def input_templates(step: ir.Step) -> Doc:
    """`((path, rt.Template(...)), ...)`: each template leaf of the input, where it sits."""
    found = step.input.templates if step.input else ()
    return sequence(
        "()",
        [sequence("()", [literals.value(path), template(source)]) for path, source in found],
    )


def step(
    definition: ir.Step,
    members: dict[str, str],
    handoff: str | None,
    chain: tuple[str, ...],
    review_handoff: str | None = None,
) -> Doc:
    """`rt.Step(...)` for one step; `members` maps step ids to `Step.X` member names;
    `review_handoff`: the constant of its review loop's verdict handoff."""
    needs = sorted(dict.fromkeys(n.value for n in definition.needs), key=list(members).index)
    agent = definition.agent.value if definition.agent else None
    workflow = definition.workflow.value if definition.workflow else None
    retry = runtime_retry(definition.retry)
    effect = enum_value(rt.Effect, definition.effect)
    transitions = triggers(definition)
    fields: dict[str, tuple[object, Doc]] = {
        "id": (definition.id, Text(f"Step.{members[definition.id]}")),
        "spec": (spec_line(definition.span), literals.value(spec_line(definition.span))),
        "name": (definition.name, literals.value(definition.name)),
        "description": (definition.description, literals.value(definition.description)),
        "agent": (agent, literals.value(agent)),
        "workflow": (workflow, literals.value(workflow)),
        "needs": (tuple(needs), sequence("()", [Text(f"Step.{members[n]}") for n in needs])),
    }
    if definition.condition is not None:
        fields["condition"] = (definition.condition, template(definition.condition))
    if definition.input is not None:
        fields["input"] = (definition.input.data, literals.value(definition.input.data))
        fields["templates"] = (definition.input.templates, input_templates(definition))
    fields |= {
        "output": (handoff, Text(handoff or "None")),
        "timeout_ms": (definition.timeout_ms, literals.value(definition.timeout_ms)),
        "retry": (retry, retry_policy(retry)),
        "effect": (effect, member(effect)),
    }
    if definition.fallbacks:
        caught = runtime_fallbacks(definition)
        fields["fallbacks"] = (caught, fallbacks(caught))
    if definition.route:
        fields["route"] = (definition.route, route(definition))
    if definition.map is not None:
        fields["map"] = (definition.map, map_over(definition.map))
    if definition.review is not None and review_handoff is not None:
        fields["review"] = (definition.review, runtime_review(definition.review, review_handoff))
    if definition.approval is not None:
        fields["approval"] = (definition.approval, approval(definition.approval))
    if definition.quality is not None:
        fields["quality"] = (definition.quality, quality(definition.quality))
    fields["delegation_chain"] = (chain, strings(chain))
    fields["transitions"] = (transitions, strings(transitions))
    if definition.prompt is not None:
        fields["prompt"] = (definition.prompt, template(definition.prompt))
    return construct(rt.Step, fields)


def llm(agent: ir.Agent, settings: ir.LlmSettings) -> Doc:
    """`rt.LlmConfig(...)` for an llm agent, the runtime's defaults left out."""
    config = llm_config(settings)
    if config is None:
        raise CodegenError(f"agent {agent.name!r} has llm settings out of range")
    values = {spec.name: getattr(config, spec.name) for spec in dataclasses.fields(config)}
    return construct(
        rt.LlmConfig, {name: (value, literals.value(value)) for name, value in values.items()}
    )


def budget(spec: ir.Budget) -> Doc:
    """`rt.Budget(...)`: a workflow's cap per run, or an agent's share of one."""
    mode = enum_value(rt.BudgetMode, spec.mode)
    usd = None if spec.usd is None else float(spec.usd)
    return construct(
        rt.Budget,
        {
            "usd": (usd, literals.value(usd)),
            "tokens": (spec.tokens, literals.value(spec.tokens)),
            "mode": (mode, member(mode)),
        },
    )


def agent_binding(agent: ir.Agent, root: str = ".") -> Doc:
    """`rt.AgentBinding(...)`; a command agent defined outside the root directory itself
    records its roster's directory (relative to `root`): its relative paths start there."""
    target = agent.run.target
    keywords: dict[str, Doc] = {
        "name": literals.value(agent.name),
        "kind": member(enum_value(rt.AgentKind, agent.run.kind)),
        "target": strings(target) if isinstance(target, tuple) else literals.value(target),
        "delegates_to": strings([n.value for n in agent.delegates_to]),
    }
    if agent.price is not None:
        keywords["input_price_per_mtok"] = literals.value(float(agent.price.input_per_mtok))
        keywords["output_price_per_mtok"] = literals.value(float(agent.price.output_per_mtok))
    if agent.run.kind == "command":
        defined_in = absolute(Path(agent.span.path).parent)
        directory = os.path.relpath(defined_in, absolute(root)).replace(os.sep, "/")
        if directory != ".":
            keywords["directory"] = literals.value(directory)
    if agent.llm is not None:
        keywords["llm"] = llm(agent, agent.llm)
    if agent.budget is not None:
        keywords["budget"] = budget(agent.budget)
    from baton.compiler.codegen import tooldefs  # it builds on this module

    keywords.update(tooldefs.agent_tool_keywords(agent))
    return call(runtime("AgentBinding"), **keywords)


def approvers(roster: ir.Roster | None) -> Doc:
    if roster is None:
        return sequence("()", [])
    return sequence(
        "()",
        [
            sequence("()", [literals.value(role), strings([p.value for p in principals])])
            for role, principals in sorted(roster.approvers.items())
        ],
    )


def notify_sinks(roster: ir.Roster) -> Doc:
    """`(rt.NotifySink(...), ...)`: the roster's webhooks, by the names of the variables
    that hold their URL and secret (never a value: B461 refuses a URL in the spec)."""
    sinks = []
    for sink in roster.notify:
        if sink.url_env is None:
            continue  # B002 reported it
        form = enum_value(rt.NotifyFormat, sink.format)
        secret = sink.secret_env.value if sink.secret_env is not None else None
        sinks.append(
            construct(
                rt.NotifySink,
                {
                    "url_env": (sink.url_env.value, literals.value(sink.url_env.value)),
                    "events": ((), strings([name.value for name in sink.events])),
                    "format": (form, member(form)),
                    "secret_env": (secret, literals.value(secret)),
                    "timeout_ms": (sink.timeout_ms, literals.value(sink.timeout_ms)),
                    "max_attempts": (sink.max_attempts, literals.value(sink.max_attempts)),
                },
            )
        )
    return sequence("()", sinks)
