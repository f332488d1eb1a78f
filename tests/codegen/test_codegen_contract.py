"""Generated code and the runtime's public contract.

Generated modules refer to the runtime only through `runtime.exported`; the values they
hold come from the runtime's own enums and trigger table; a keyword is left out only where
the runtime's default is the value the spec asked for.
"""

from __future__ import annotations

import ast
import importlib
import types

import pytest

import baton.runtime as rt
import generated
from baton.compiler import ir
from baton.compiler.codegen import CompileResult
from baton.compiler.codegen.stepdefs import CodegenError, enum_value, runtime
from baton.compiler.pipeline import load_spec_set
from codegen.codegen_support import FIXTURES, ROOT


def _runtime_names(source: str) -> set[str]:
    """Every `rt.<name>` a module's code refers to."""
    return {
        node.attr
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "rt"
    }


def test_generated_code_uses_only_what_the_runtime_exports(examples: CompileResult) -> None:
    used = set().union(*(_runtime_names(s) for s in examples.modules.values()))
    assert used <= set(rt.exported), sorted(used - set(rt.exported))
    assert {"Step", "Workflow", "RetryPolicy", "FailureClass", "Effect"} <= used


def test_exported_is_part_of_the_public_api() -> None:
    assert set(rt.exported) <= set(rt.__all__)
    for name in rt.__all__:
        assert hasattr(rt, name), name


def test_codegen_refuses_a_name_the_runtime_does_not_export() -> None:
    assert runtime("RetryPolicy") == "rt.RetryPolicy"
    with pytest.raises(CodegenError, match="does not export 'StepLifecycle'"):
        runtime("StepLifecycle")  # public, but not for generated code


def test_enum_values_come_from_the_runtime_enums() -> None:
    for enum in (rt.FailureClass, rt.Effect, rt.ApprovalStage, rt.AgentKind):
        for value in enum:
            assert enum_value(enum, value.value) is value
    with pytest.raises(CodegenError, match="expected one of acl_denied, agent_error, cancelled"):
        enum_value(rt.FailureClass, "flaky")


# -- compiled values are the spec's values, defaults included


def _compiled_and_ir(rich: types.ModuleType) -> list[tuple[rt.Step, ir.Step]]:
    modules = [importlib.import_module(f"generated.{m}") for m in generated.MODULES.values()]
    modules.append(rich)
    spec = load_spec_set([str(ROOT / "specs"), str(FIXTURES)]).spec
    pairs = []
    for module in modules:
        workflow = spec.workflows[module.WORKFLOW.name]
        for step in module.WORKFLOW.steps:
            pairs.append((step, workflow.steps[step.id]))
    return pairs


def test_every_policy_is_the_one_the_spec_asked_for(rich: types.ModuleType) -> None:
    """Leaving a default keyword out must not change a value: each compiled step holds the
    timeout, retry policy, effect, approval and quality weights of its spec."""
    pairs = _compiled_and_ir(rich)
    for compiled, step in pairs:
        backoff = step.retry.backoff
        assert compiled.timeout_ms == step.timeout_ms, step.id
        assert (
            compiled.retry.max_attempts,
            tuple(compiled.retry.on),
            compiled.retry.initial_ms,
            compiled.retry.multiplier,
            compiled.retry.max_ms,
            compiled.retry.jitter,
        ) == (
            step.retry.max_attempts,
            step.retry.on,
            backoff.initial_ms,
            backoff.multiplier,
            backoff.max_ms,
            backoff.jitter,
        ), step.id
        assert compiled.effect.value == step.effect, step.id
        if step.approval is None:
            assert compiled.approval is None
        else:
            assert compiled.approval is not None
            assert (compiled.approval.role, compiled.approval.stage.value) == (
                step.approval.role.value,
                step.approval.stage,
            )
        weights = [c.weight for c in step.quality.checks] if step.quality else []
        compiled_weights = [c.weight for c in compiled.quality.checks] if compiled.quality else []
        assert compiled_weights == weights, step.id
    # the fixtures exercise both sides: defaults left out and every field spelled
    assert any(c.retry == rt.RetryPolicy() for c, _ in pairs)
    assert any(c.quality and any(k.weight != 1.0 for k in c.quality.checks) for c, _ in pairs)
    assert any(c.retry.initial_ms != 1000 and c.retry.jitter != 0.1 for c, _ in pairs)
    assert any(c.approval and c.approval.stage is rt.ApprovalStage.AFTER for c, _ in pairs)


def test_default_policies_are_not_spelled_out(examples: CompileResult) -> None:
    """A step with the default retry policy has no `retry=`; an approval before the step
    (the default stage) does not name its stage; only non-default backoff fields appear."""
    source = examples.modules["research_report.py"]
    steps = ast.parse(source)
    calls = [
        node
        for node in ast.walk(steps)
        if isinstance(node, ast.Call) and ast.unparse(node.func) in ("rt.Step", "rt.Approval")
    ]
    keywords = {
        (ast.unparse(call.func), _step_id(call)): {k.arg for k in call.keywords} for call in calls
    }
    assert "retry" not in keywords[("rt.Step", "Step.AUDIT")]
    assert "effect" not in keywords[("rt.Step", "Step.AUDIT")]
    assert {"retry", "timeout_ms"} <= keywords[("rt.Step", "Step.RESEARCH")]
    assert keywords[("rt.Approval", None)] == {"role"}
    assert "rt.RetryPolicy(\n            max_attempts=3,\n            on=(" in source
    assert "initial_ms" not in source and "jitter" not in source


def _step_id(call: ast.Call) -> str | None:
    return next((ast.unparse(k.value) for k in call.keywords if k.arg == "id"), None)


def test_the_compiler_imports_only_the_runtimes_public_api() -> None:
    """`baton.runtime` (and its `model` of public types), never the runtime's internals."""
    compiler = ROOT / "baton" / "compiler"
    for path in compiler.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                if name.startswith("baton.runtime"):
                    assert name in ("baton.runtime", "baton.runtime.model"), (path, name)
