"""Codegen: a linted spec set -> one typed Python module per workflow (`baton compile`).

`compile_specs` runs the whole pipeline (compiler.pipeline.STAGES): lint (load, structure,
IR, analysis, rules); stop at the first error finding; then `emit_package`, for each
workflow asked for, bundles its schemas, maps them to pydantic models and emits the module
(compiler.codegen.emit). `load_workflow_from_source` turns a module's source back into
the `runtime.Workflow` it defines, without writing it anywhere (`baton run SPEC` compiles
in memory).
"""

from __future__ import annotations

import itertools
import sys
import types
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from baton.compiler.chains import top_level_chains
from baton.compiler.codegen.emit import GENERATED_MARK, emit_workflow
from baton.compiler.codegen.literals import string
from baton.compiler.codegen.naming import Namer, lower_snake
from baton.compiler.codegen.sections import allow_long_lines
from baton.compiler.codegen.stepdefs import CodegenError, display_path, paths_shown_relative_to
from baton.compiler.context import LintContext
from baton.compiler.diagnostics import Diagnostic, Severity
from baton.compiler.pipeline import LintOptions, run

if TYPE_CHECKING:
    from baton import runtime

PACKAGE_INIT = "__init__.py"
_loaded_modules = itertools.count(1)


@dataclass(frozen=True)
class CompileResult:
    """Findings of the lint, and the modules (file name -> source) when there is no error."""

    diagnostics: list[Diagnostic]
    modules: dict[str, str]
    sources: dict[str, tuple[str, ...]] = field(default_factory=dict)  # for rendering findings
    workflows: dict[str, str] = field(default_factory=dict)  # workflow name -> module file

    @property
    def ok(self) -> bool:
        return not any(d.severity is Severity.ERROR for d in self.diagnostics)


def compile_specs(paths: Sequence[str], options: LintOptions | None = None) -> CompileResult:
    """Lint the spec set at `paths` and, when it has no error, generate its modules.

    The modules are the workflows of the files asked for (a directory asks for all of
    them), plus the package's `__init__.py`; deterministic, byte for byte. `options` are
    the lint's rule selection (a project's `[tool.baton.lint]`).
    """
    done = run(paths, options)
    return CompileResult(done.diagnostics, done.modules, done.sources, done.compiled)


def emit_package(ctx: LintContext, asked: set[str]) -> tuple[dict[str, str], dict[str, str]]:
    """(file name -> module source, workflow name -> module) for the workflows of the
    files asked for, and the package's `__init__.py`."""
    spec = ctx.spec
    modules: dict[str, str] = {}
    file_names = Namer({"__init__"})
    workflows: dict[str, str] = {}
    chains = top_level_chains(ctx.chains)
    for name in sorted(spec.workflows):
        workflow = spec.workflows[name]
        if workflow.path not in asked:
            continue
        module = file_names.claim(lower_snake(name, "workflow"))
        sha256 = spec.hashes.get(workflow.path, "")
        path = display_path(workflow.path)
        modules[f"{module}.py"] = emit_workflow(ctx, workflow, path, sha256, chains)
        workflows[name] = module
    modules[PACKAGE_INIT] = package_init(workflows)
    return modules, workflows


def package_init(workflows: dict[str, str]) -> str:
    """The generated package's `__init__.py`: which module holds which workflow."""
    entries = "".join(
        f"    {string(name)}: {string(module)},\n" for name, module in workflows.items()
    )
    table = f"{{\n{entries}}}" if entries else "{}"
    return allow_long_lines(
        f"{GENERATED_MARK} compile. DO NOT EDIT.\n"
        '"""Workflows compiled by `baton compile`, one module per workflow.\n'
        "\n"
        "Regenerate with `make generate`; `make test` fails when this package is stale.\n"
        '"""\n'
        "\n"
        "# workflow name -> the module of this package that defines it\n"
        f"MODULES: dict[str, str] = {table}\n"
    )


def load_module_from_source(source: str, module_name: str) -> types.ModuleType:
    """Execute a generated module's source in a fresh module object and return it.

    The module is registered in `sys.modules` under a private, unique name first, so
    pydantic can resolve the module's own names (forward references) while and after it
    builds the models; nothing is written to disk and no real module name is shadowed.
    """
    private = f"_baton_compiled_{lower_snake(module_name, 'workflow')}_{next(_loaded_modules)}"
    module = types.ModuleType(private)
    module.__file__ = f"<baton compile: {module_name}>"
    sys.modules[private] = module
    try:
        exec(compile(source, module.__file__, "exec"), module.__dict__)
    except BaseException:
        del sys.modules[private]
        raise
    return module


def load_workflow_from_source(source: str, module_name: str) -> runtime.Workflow:
    """The `WORKFLOW` a generated module's source defines (see load_module_from_source)."""
    from baton import runtime

    module = load_module_from_source(source, module_name)
    workflow = getattr(module, "WORKFLOW", None)
    if not isinstance(workflow, runtime.Workflow):
        del sys.modules[module.__name__]
        raise CodegenError(f"module {module_name!r} defines no WORKFLOW of type runtime.Workflow")
    return workflow


__all__ = [
    "CodegenError",
    "CompileResult",
    "compile_specs",
    "display_path",
    "emit_package",
    "load_module_from_source",
    "load_workflow_from_source",
    "package_init",
    "paths_shown_relative_to",
]
