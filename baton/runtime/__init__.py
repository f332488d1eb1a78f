"""Baton's runtime: the public types compiled workflows are made of, and their execution.

Generated code imports only the names in `__all__` (as jinja's generated code imports only
`runtime.exported`); everything else in this package may change without notice.
"""

from baton.runtime.lifecycle import StepLifecycle
from baton.runtime.model import (
    JSON,
    AgentBinding,
    AgentKind,
    Approval,
    ApprovalStage,
    Effect,
    FailureClass,
    Handoff,
    Quality,
    QualityCheck,
    Request,
    RetryPolicy,
    Step,
    StepState,
    Template,
    Usage,
    Workflow,
)

__all__ = [
    "JSON",
    "AgentBinding",
    "AgentKind",
    "Approval",
    "ApprovalStage",
    "Effect",
    "FailureClass",
    "Handoff",
    "Quality",
    "QualityCheck",
    "Request",
    "RetryPolicy",
    "Step",
    "StepLifecycle",
    "StepState",
    "Template",
    "Usage",
    "Workflow",
]
