"""No spec content can change a generated module's code.

Hostile strings (quotes, triple quotes, backslashes, newlines, `#`, `{{`, unicode line
separators, NUL, Python keywords, code) go in everywhere a spec puts text: step ids,
workflow, handoff, agent and role names, descriptions, enum values, property names,
patterns, defaults, templates, an llm agent's model, URL, key variable, system prompt,
stop sequences and step prompts, even the spec path. The IR is built directly, so the
linter's identifier rules do not protect the emitter. Then: the module parses, its only
comments are the ones codegen writes, importing it has no side effect, and every value
in it equals the spec value it came from.
"""

from __future__ import annotations

import ast
import io
import json
import os
import tokenize
import typing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import baton.runtime as rt
from baton.compiler import ir
from baton.compiler.codegen import compile_specs, load_module_from_source
from baton.compiler.codegen.emit import emit_workflow
from baton.compiler.context import LintContext
from baton.compiler.refs import SchemaStore
from baton.compiler.span import Span
from baton.runtime.lifecycle import TRANSITIONS
from codegen.codegen_shapes import NASTY

MARKER = "BATON_INJECTED"
PAYLOADS = [
    f"__import__('pathlib').Path('{MARKER}').touch()",
    f'"""; open("{MARKER}", "w"); """',
    f"'''\nopen('{MARKER}', 'w')\n'''",
    f"\nopen('{MARKER}', 'w')\n",
    f"\"}}\nopen('{MARKER}', 'w')\n#",
    "print('PWNED')",
    "\u2028print('PWNED')\u2029",
    "\\\nprint('PWNED')",
]
hostile = st.lists(
    st.sampled_from(NASTY + PAYLOADS) | st.text(max_size=4), min_size=1, max_size=5
).map("".join)


def _span(path: str, line: int) -> Span:
    return Span(path, line, 1)


@st.composite
def workflows(draw: st.DrawFn) -> tuple[ir.Workflow, str, dict[str, Any]]:
    """A workflow IR full of hostile text, its spec path, and the schemas it holds."""
    path = draw(hostile)
    line = iter(range(1, 10_000))

    def span() -> Span:
        return _span(path, next(line))

    def name(value: str) -> ir.Name:
        return ir.Name(value, span())

    props = draw(st.lists(hostile, min_size=1, max_size=4, unique=True))
    enum = draw(st.lists(hostile, min_size=1, max_size=3, unique=True))
    schema: dict[str, Any] = {
        "type": "object",
        "required": props[:1],
        "additionalProperties": False,
        "properties": {
            p: {"type": "string", "pattern": draw(hostile), "default": draw(hostile)} for p in props
        },
    }
    schema["properties"][props[0]] = {"enum": enum, "description": draw(hostile)}
    inputs = {"type": "object", "properties": {draw(hostile): {"type": "string"}}}
    agent_name, role = draw(hostile), draw(hostile)
    agent = ir.Agent(
        agent_name,
        span(),
        ir.AgentRun("command", (draw(hostile), draw(hostile)), span()),
        (name(agent_name),),
        None,
        draw(hostile),
    )
    model_name = draw(hostile.filter(lambda text: text != agent_name))
    provider = draw(st.sampled_from(["anthropic", "openai"]))
    model_id = draw(hostile.filter(bool))  # the runtime refuses an empty model (so does B002)
    model = ir.Agent(
        model_name,
        span(),
        ir.AgentRun("llm", f"{provider}:{model_id}", span()),
        (),
        None,
        draw(hostile),
        llm=ir.LlmSettings(
            provider,
            model_id,
            span(),
            base_url=draw(hostile),
            api_key_env=draw(hostile),
            system=draw(hostile),
            temperature=0.5,
            stop=tuple(draw(st.lists(hostile, max_size=3))),
            timeout_ms=1500,
        ),
        budget=ir.Budget(span(), usd=2.5, mode="audit"),
    )
    roster = ir.Roster(
        "<inline>",
        span(),
        {agent_name: agent, model_name: model},
        {role: (name(draw(hostile)),)},
        ir.Policy(),
    )
    handoff = draw(hostile)
    schema_span = span()
    handoffs = {
        handoff: ir.Handoff(
            handoff,
            span(),
            "none",
            {1: ir.HandoffVersion(1, schema_span, ir.Schema(schema, schema_span, None, Path("x")))},
            draw(hostile),
        )
    }
    step_ids = draw(st.lists(hostile, min_size=1, max_size=4, unique=True))
    steps: dict[str, ir.Step] = {}
    for index, step_id in enumerate(step_ids):
        text, key = draw(hostile), draw(hostile)
        template = ir.Template(text, span(), False)
        steps[step_id] = ir.Step(
            id=step_id,
            span=span(),
            agent=name(agent_name),
            workflow=None,
            delegated_by=None,
            needs=(name(step_ids[index - 1]),) if index else (),
            condition=ir.Template(draw(hostile), span(), True),
            input=ir.InputValue({key: [text, draw(hostile)]}, (((key, 0), template),), span()),
            output=ir.OutputRef(handoff, 1, span()),
            timeout_ms=1000,
            retry=ir.RetryPolicy(3, ("timeout",)),
            effect="external",
            approval=ir.Approval(name(role), "before", span()),
            quality=ir.Quality(
                0.5, (ir.QualityCheck(ir.Template(draw(hostile), span(), True)),), span()
            ),
            name=draw(hostile),
            description=draw(hostile),
            prompt=ir.Template(draw(hostile), span(), False),
        )
    workflow = ir.Workflow(
        name=draw(hostile),
        span=span(),
        path=path,
        version=1,
        roster_ref=None,
        roster=roster,
        owner=name(agent_name),
        inputs=ir.Schema(inputs, span(), None, Path("x")),
        handoffs=handoffs,
        steps=steps,
        result=None,
        description=draw(hostile),
        budget=ir.Budget(span(), tokens=1000),
    )
    return workflow, path, {"handoff": schema, "inputs": inputs}


def _strings(value: Any) -> set[str]:
    """Every string in a JSON-like value, keys included."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set(value).union(*(_strings(v) for v in value.values()))
    if isinstance(value, list | tuple):
        return set().union(*(_strings(v) for v in value))
    return set()


def _spec_strings(workflow: ir.Workflow, sha256: str) -> set[str]:
    found = {workflow.name, workflow.path, sha256, workflow.description or ""}
    roster = workflow.roster
    assert roster is not None
    found.add(".")  # the spec root of a hand-built spec set (SpecSet.root)
    for agent in roster.agents.values():
        target = agent.run.target
        found |= {agent.name, *(target if isinstance(target, tuple) else (target,))}
        found |= {n.value for n in agent.delegates_to}
        if agent.llm is not None:
            settings = agent.llm
            found |= {settings.provider, settings.model, f"{settings.provider}:{settings.model}"}
            found |= {settings.base_url or "", settings.api_key_env or "", settings.system or ""}
            found |= set(settings.stop)
        # where a command agent is defined, relative to the root (from its span's path)
        found.add(os.path.relpath(Path(agent.span.path).parent.absolute()).replace(os.sep, "/"))
    for role, principals in roster.approvers.items():
        found |= {role, *(p.value for p in principals)}
    for handoff in workflow.handoffs.values():
        found.add(handoff.name)
        for version in handoff.versions.values():
            found |= _strings(version.schema.value)
    found |= _strings(workflow.inputs.value if workflow.inputs else {})
    for step in workflow.steps.values():
        found |= {step.id, step.name or "", step.description or ""}
        found.add(f"{step.span.path}:{step.span.line}")
        found |= {f"{t.span.path}:{t.span.line}" for t in step.templates()}
        found |= {t.source for t in step.templates()}
        found |= _strings(step.input.data if step.input else None)
        found |= {
            str(part) for path, _ in (step.input.templates if step.input else ()) for part in path
        }
    return found


def _docstrings(tree: ast.Module) -> set[int]:
    """ids of the Constant nodes that are docstrings."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(case=workflows(), sha256=hostile)
def test_hostile_ir_cannot_change_the_code(
    case: tuple[ir.Workflow, str, dict[str, Any]],
    sha256: str,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    workflow, path, schemas = case
    spec = ir.SpecSet({workflow.name: workflow}, {}, {}, {})
    context = LintContext(spec, SchemaStore(Path()))
    source = emit_workflow(context, workflow, path, sha256)

    tree = ast.parse(source)
    comments = [
        token.string
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
    ]
    allowed = ("# Code generated by baton from ", "# ruff: noqa: E501", "# -- ", "# spec: ")
    assert all(comment.startswith(allowed) for comment in comments), comments
    assert sum(c.startswith("# spec: ") for c in comments) == len(workflow.steps)
    assert source.count("\n# Code generated") == 0 and source.startswith("# Code generated")

    docstrings = _docstrings(tree)
    constants = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        if id(node) not in docstrings
    }
    # and the names of what `_models()` defines, by which `rt.LazyModels` serves them
    defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
    defined |= {
        target.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Assign | ast.AnnAssign)
        for target in (n.targets if isinstance(n, ast.Assign) else [n.target])
        if isinstance(target, ast.Name)
    }
    vocabulary = {"forbid", "allow", *(t.trigger for t in TRANSITIONS), *defined}
    assert constants <= _spec_strings(workflow, sha256) | vocabulary

    os.chdir(tmp_path)
    before = sorted(tmp_path.iterdir())
    module = load_module_from_source(source, "hostile")
    assert sorted(tmp_path.iterdir()) == before
    assert not (tmp_path / MARKER).exists()
    assert capfd.readouterr() == ("", "")

    compiled = module.WORKFLOW
    assert (compiled.name, compiled.spec_path, compiled.spec_sha256) == (
        workflow.name,
        path,
        sha256,
    )
    assert compiled.description == workflow.description
    assert [m.value for m in module.Step] == list(workflow.steps)
    for step in compiled.steps:
        spec = workflow.steps[step.id]
        assert (step.name, step.description, step.agent) == (
            spec.name,
            spec.description,
            spec.agent.value,
        )
        assert step.spec == f"{path}:{spec.span.line}"
        assert spec.input is not None and step.input == spec.input.data
        assert [(p, t.source, t.spec) for p, t in step.templates] == [
            (p, t.source, f"{path}:{t.span.line}") for p, t in spec.input.templates
        ]
        assert step.condition is not None and spec.condition is not None
        assert step.condition.source == spec.condition.source
        assert step.quality is not None and spec.quality is not None
        assert step.quality.checks[0].expr.source == spec.quality.checks[0].expr.source
        assert step.approval is not None and spec.approval is not None
        assert step.approval.role == spec.approval.role.value
        assert step.needs == tuple(n.value for n in spec.needs)
        assert step.prompt is not None and spec.prompt is not None
        assert (step.prompt.source, step.prompt.spec) == (
            spec.prompt.source,
            f"{path}:{spec.prompt.span.line}",
        )
        assert step.output is not None and step.output.schema == schemas["handoff"]
        _check_model(step.output.model, schemas["handoff"])
    assert compiled.inputs_schema == schemas["inputs"]
    _check_model(compiled.input_model, schemas["inputs"])
    roster = workflow.roster
    assert roster is not None
    assert [(a.name, a.delegates_to) for a in compiled.agents] == [
        (a.name, tuple(n.value for n in a.delegates_to))
        for a in sorted(roster.agents.values(), key=lambda agent: agent.name)
    ]
    for binding in compiled.agents:
        agent = roster.agents[binding.name]
        if agent.llm is None:
            assert (binding.target, binding.llm, binding.budget) == (agent.run.target, None, None)
            continue
        settings = agent.llm
        assert binding.kind is rt.AgentKind.LLM
        assert binding.target == f"{settings.provider}:{settings.model}"
        assert binding.llm == rt.LlmConfig(
            settings.provider,
            settings.model,
            base_url=settings.base_url,
            api_key_env=settings.api_key_env,
            system=settings.system,
            temperature=settings.temperature,
            stop=settings.stop,
            timeout_s=1.5,
        )
        assert binding.budget == rt.Budget(usd=2.5, mode=rt.BudgetMode.AUDIT)
    assert compiled.budget == rt.Budget(tokens=1000)
    assert compiled.approvers == tuple(
        (role, tuple(p.value for p in principals))
        for role, principals in sorted(roster.approvers.items())
    )


def _check_model(model: Any, schema: dict[str, Any]) -> None:
    """The model reads exactly the schema's properties, with its enums and defaults."""
    fields = model.model_fields
    read = {name: name if field.alias is None else field.alias for name, field in fields.items()}
    assert set(read.values()) == set(schema["properties"])
    for name, field in fields.items():
        sub = schema["properties"][read[name]]
        if "enum" in sub:
            assert set(typing.get_args(field.annotation)) == set(sub["enum"])
        if "default" in sub:
            assert field.default == sub["default"]


# -- through the front door: spec text the linter accepts


def _text_spec(texts: list[str]) -> dict[str, Any]:
    a, b, c, d = texts
    return {
        "baton": 1,
        "name": "match",  # keywords pass the spec's identifier pattern
        "description": a,
        "owner": "boss",
        "agents": {
            "boss": {"run": {"command": ["x", b]}, "description": c, "delegates_to": ["writer"]},
            "writer": {
                "run": {"llm": {"provider": "openai", "model": c, "system": a, "stop": [b, d]}}
            },
        },
        "approvers": {"lead": [d]},
        "handoffs": {
            "import": {
                "description": a,
                "versions": {
                    "1": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": [b],
                        "properties": {
                            b: {"enum": [a, c, d]},
                            c: {"type": "string", "default": d, "description": a},
                            d + "_": {"type": "string", "pattern": "^[\"'#{}\\\\]*$"},
                        },
                    }
                },
            }
        },
        "steps": {
            "class": {
                "agent": "boss",
                "name": a,
                "description": b,
                "input": {c: f"{d} {{{{ run.id }}}} {b}", d: [a, {"k": c}]},
                "output": "import@1",
                "if": f"run.id != {json.dumps(a)}",
                "approval": {"role": "lead", "description": c},
            },
            "def": {
                "agent": "writer",
                "needs": ["class"],
                "prompt": f"{b} {{{{ run.id }}}}\n{d}",
                "output": "import@1",
            },
        },
    }


template_safe = st.lists(
    st.sampled_from([f for f in NASTY + PAYLOADS if "{" not in f and "}" not in f])
    # JSON escapes astral characters as surrogate pairs, which YAML refuses: stay in the BMP
    | st.text(
        alphabet=st.characters(
            max_codepoint=0xFFFF, exclude_categories=["Cs"], exclude_characters="{}%#"
        ),
        max_size=4,
    ),
    min_size=1,
    max_size=4,
).map("".join)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(texts=st.lists(template_safe, min_size=4, max_size=4, unique=True))
def test_hostile_spec_text_round_trips(
    texts: list[str], tmp_path_factory: pytest.TempPathFactory, capfd: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path_factory.mktemp("spec")
    (directory / "hostile.yaml").write_text(json.dumps(_text_spec(texts)))
    result = compile_specs([str(directory)])
    assert result.ok or result.modules == {}
    assume(result.ok)  # text the linter refuses (an empty principal) is not compiled at all
    module = load_module_from_source(result.modules["match.py"], "match")
    assert capfd.readouterr() == ("", "")
    a, b, c, d = texts
    workflow = module.WORKFLOW
    step = workflow.step("class")
    assert (workflow.description, step.name, step.description) == (a, a, b)
    assert step.input == {c: f"{d} {{{{ run.id }}}} {b}", d: [a, {"k": c}]}
    assert step.templates[0][1].source == f"{d} {{{{ run.id }}}} {b}"
    assert workflow.agents[0].target == ("x", b)
    assert workflow.approvers == (("lead", (d,)),)
    writer = workflow.agents[1]
    assert writer.llm is not None
    assert (writer.target, writer.llm.model, writer.llm.system) == (f"openai:{c}", c, a)
    assert writer.llm.stop == (b, d)
    assert workflow.step("def").prompt.source == f"{b} {{{{ run.id }}}}\n{d}"
    schema = step.output.schema
    assert schema["properties"][b] == {"enum": [a, c, d]}
    _check_model(step.output.model, schema)
