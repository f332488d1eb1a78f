"""IR -> the runtime's public types, as Python expressions (`rt.Step(...)`, `rt.Workflow(...)`).

Every value is a literal from compiler.codegen.literals; every name it refers to is an
exported runtime name (`rt.X`, X in `runtime.__all__`) or an identifier the emitter
claimed. Enum values the runtime defines (failure classes, effects, stages, agent
kinds) are checked here, so IR that never went through the linter cannot smuggle in an
attribute name.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from baton.compiler import ir
from baton.compiler.codegen import literals
from baton.compiler.codegen.layout import Doc, Text, call, sequence
from baton.compiler.files import absolute
from baton.compiler.span import Span

# spec value -> runtime enum member, for the runtime's StrEnums (runtime/model.py)
FAILURE_CLASSES = {
    "timeout": "TIMEOUT",
    "malformed_output": "MALFORMED_OUTPUT",
    "agent_error": "AGENT_ERROR",
    "acl_denied": "ACL_DENIED",
    "rejected": "REJECTED",
    "cancelled": "CANCELLED",
}
# failure classes the runtime never retries: a step whose `on` lists only these cannot retry
NEVER_RETRIED = frozenset({"acl_denied", "rejected", "cancelled"})
EFFECTS = {"none": "NONE", "external": "EXTERNAL"}
STAGES = {"before": "BEFORE", "after": "AFTER"}
AGENT_KINDS = {"python": "PYTHON", "command": "COMMAND", "http": "HTTP", "builtin": "BUILTIN"}


class CodegenError(ValueError):
    """IR that has no faithful translation (the linter rejects such specs first)."""


def member(enum: str, table: dict[str, str], spec_value: str) -> Doc:
    """`rt.<Enum>.<MEMBER>` for a spec value, or a CodegenError listing the choices."""
    if spec_value not in table:
        choices = ", ".join(sorted(table))
        raise CodegenError(f"unknown {enum} {spec_value!r}; expected one of {choices}")
    return Text(f"rt.{enum}.{table[spec_value]}")


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
    return call("rt.Template", literals.value(source.source), **keywords)


def can_retry(step: ir.Step) -> bool:
    """Whether a failed attempt of `step` can ever get another one."""
    return step.retry.max_attempts > 1 and any(c not in NEVER_RETRIED for c in step.retry.on)


def retry_policy(policy: ir.RetryPolicy) -> Doc:
    backoff = policy.backoff
    return call(
        "rt.RetryPolicy",
        max_attempts=literals.value(policy.max_attempts),
        on=sequence("()", [member("FailureClass", FAILURE_CLASSES, c) for c in policy.on]),
        initial_ms=literals.value(backoff.initial_ms),
        multiplier=literals.value(float(backoff.multiplier)),
        max_ms=literals.value(backoff.max_ms),
        jitter=literals.value(float(backoff.jitter)),
    )


def approval(gate: ir.Approval | None) -> Doc:
    if gate is None:
        return Text("None")
    return call(
        "rt.Approval",
        role=literals.value(gate.role.value),
        stage=member("ApprovalStage", STAGES, gate.stage),
    )


def quality(checks: ir.Quality | None) -> Doc:
    if checks is None:
        return Text("None")
    return call(
        "rt.Quality",
        min_score=literals.value(float(checks.min_score)),
        checks=sequence(
            "()",
            [
                call(
                    "rt.QualityCheck",
                    expr=template(check.expr),
                    weight=literals.value(float(check.weight)),
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
    triggers: tuple[str, ...],
) -> Doc:
    """`rt.Step(...)` for one step; `members` maps step ids to `Step.X` member names."""
    keywords: dict[str, Doc] = {
        "id": Text(f"Step.{members[definition.id]}"),
        "spec": literals.value(spec_line(definition.span)),
    }
    if definition.name is not None:
        keywords["name"] = literals.value(definition.name)
    if definition.description is not None:
        keywords["description"] = literals.value(definition.description)
    if definition.agent is not None:
        keywords["agent"] = literals.value(definition.agent.value)
    if definition.workflow is not None:
        keywords["workflow"] = literals.value(definition.workflow.value)
    needs = sorted(dict.fromkeys(n.value for n in definition.needs), key=list(members).index)
    keywords["needs"] = sequence("()", [Text(f"Step.{members[n]}") for n in needs])
    if definition.condition is not None:
        keywords["condition"] = template(definition.condition)
    if definition.input is not None:
        keywords["input"] = literals.value(definition.input.data)
        keywords["templates"] = input_templates(definition)
    keywords["output"] = Text(handoff or "None")
    keywords["timeout_ms"] = literals.value(definition.timeout_ms)
    keywords["retry"] = retry_policy(definition.retry)
    keywords["effect"] = member("Effect", EFFECTS, definition.effect)
    keywords["approval"] = approval(definition.approval)
    keywords["quality"] = quality(definition.quality)
    keywords["delegation_chain"] = strings(chain)
    keywords["transitions"] = strings(triggers)
    return call("rt.Step", **keywords)


def agent_binding(agent: ir.Agent, root: str = ".") -> Doc:
    """`rt.AgentBinding(...)`; a command agent defined outside the root directory itself
    records its roster's directory (relative to `root`): its relative paths start there."""
    target = agent.run.target
    keywords: dict[str, Doc] = {
        "name": literals.value(agent.name),
        "kind": member("AgentKind", AGENT_KINDS, agent.run.kind),
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
    return call("rt.AgentBinding", **keywords)


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
