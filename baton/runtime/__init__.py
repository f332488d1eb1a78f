"""Baton's runtime: the public types compiled workflows are made of, and their execution.

`exported` lists the names generated modules refer to (as `rt.<name>`); codegen writes no
other (as jinja's compiler writes its generated import line from `runtime.exported`).
`__all__` adds what the compiler reads from here at compile time instead of keeping its
own copies: the lifecycle trigger table (`applicable_triggers`), the failure classes the
runtime never retries (`NEVER_RETRIED`), the enums, and what the linter says about llm
agents (`strict_problems`, `settings_not_sent`: pure functions that load no SDK).
Everything else in this package may change without notice.
"""

from typing import TYPE_CHECKING, Any

from baton.runtime.lifecycle import StepLifecycle, applicable_triggers
from baton.runtime.llm.config import LlmConfig

if TYPE_CHECKING:
    from baton.runtime.llm.providers import settings_not_sent
    from baton.runtime.llm.structured import strict_problems
    from baton.runtime.tools.probe import probe_tool_names
from baton.runtime.model import (
    JSON,
    NEVER_RETRIED,
    NOTIFY_EVENTS,
    AgentBinding,
    AgentKind,
    Approval,
    ApprovalStage,
    Budget,
    BudgetMode,
    Effect,
    FailureClass,
    Fallback,
    Handoff,
    LazyModels,
    Map,
    ModelRef,
    NotifyFormat,
    NotifySink,
    OnExhausted,
    Quality,
    QualityCheck,
    Request,
    RetryPolicy,
    Review,
    RouteCase,
    Step,
    StepState,
    Template,
    Tool,
    ToolKind,
    Usage,
    Workflow,
)

# the names generated code uses: a compiled module is `import baton.runtime as rt` plus these
exported = [
    "JSON",
    "AgentBinding",
    "AgentKind",
    "Approval",
    "ApprovalStage",
    "Budget",
    "BudgetMode",
    "Effect",
    "FailureClass",
    "Fallback",
    "Handoff",
    "LazyModels",
    "LlmConfig",
    "Map",
    "OnExhausted",
    "NotifyFormat",
    "NotifySink",
    "Quality",
    "QualityCheck",
    "Request",
    "RetryPolicy",
    "RouteCase",
    "Review",
    "Step",
    "Template",
    "Tool",
    "ToolKind",
    "Workflow",
]

# the public API: what generated code uses, plus what agents and the compiler read
__all__ = [
    "JSON",
    "NEVER_RETRIED",
    "NOTIFY_EVENTS",
    "AgentBinding",
    "AgentKind",
    "Approval",
    "ApprovalStage",
    "Budget",
    "BudgetMode",
    "Effect",
    "FailureClass",
    "Fallback",
    "Handoff",
    "LazyModels",
    "LlmConfig",
    "Map",
    "ModelRef",
    "NotifyFormat",
    "NotifySink",
    "OnExhausted",
    "Quality",
    "QualityCheck",
    "Request",
    "RetryPolicy",
    "Review",
    "RouteCase",
    "Step",
    "StepLifecycle",
    "StepState",
    "Template",
    "Tool",
    "ToolKind",
    "Usage",
    "Workflow",
    "applicable_triggers",
    "exported",
    "probe_tool_names",
    "settings_not_sent",
    "strict_problems",
]


if not TYPE_CHECKING:
    # the linter's two llm questions, imported when first asked: a plain `import
    # baton.runtime` (every run, every generated module) loads no provider module
    _LAZY = {
        "settings_not_sent": "baton.runtime.llm.providers",
        "strict_problems": "baton.runtime.llm.structured",
        "probe_tool_names": "baton.runtime.tools.probe",  # `baton lint --probe-tools`
    }

    def __getattr__(name: str) -> Any:
        if name not in _LAZY:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
