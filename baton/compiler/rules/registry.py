"""The rule table: every lint rule with its id, name, severity and check, in one place.

Ids are stable forever; new rules get new ids. `docs/rules.md` is generated from this
table (`python -m baton.compiler.rules.docs`) and a test fails when it drifts.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import cast

from baton.compiler.context import LintContext
from baton.compiler.diagnostics import Diagnostic, Report, Reporter, Severity
from baton.compiler.rules import (
    agents,
    approval_timeouts,
    approvals,
    compatibility,
    dataflow,
    delegation,
    dependencies,
    fallbacks,
    files,
    llm,
    maps,
    notify,
    reviews,
    routes,
    schemas,
    syntax,
    tools,
)

# a rule reports through a reporter bound to its id: `def unknown_agent(ctx, report)`
Check = Callable[[LintContext, Report], None]
# the older form, a generator of Diagnostic("B201", ...) values; still run as written
LegacyCheck = Callable[[LintContext], Iterator[Diagnostic]]


@dataclass(frozen=True)
class Rule:
    """A lint rule: `check` reports its findings; its docstring is the rule's documentation."""

    id: str
    name: str
    severity: Severity
    summary: str
    check: Check | LegacyCheck
    # False for a boundary, not an opinion: no ignore comment, --ignore or --select hides it
    silenceable: bool = True

    @property
    def docs(self) -> str:
        return inspect.cleandoc(self.check.__doc__ or "")

    def run(self, ctx: LintContext) -> list[Diagnostic]:
        """The rule's findings on a spec set, each stamped with this rule's id and severity."""
        findings: list[Diagnostic] = []
        if len(inspect.signature(self.check).parameters) == 1:
            findings.extend(cast(LegacyCheck, self.check)(ctx))
        else:
            cast(Check, self.check)(ctx, Reporter(self.id, self.severity, findings))
        return findings


E, W = Severity.ERROR, Severity.WARNING

RULES: tuple[Rule, ...] = (
    Rule("B001", "yaml-syntax", E, "YAML syntax error", syntax.yaml_syntax),
    Rule(
        "B002",
        "invalid-spec",
        E,
        "not a valid spec: unknown key, wrong type, missing required key, bad identifier "
        "or duration",
        syntax.invalid_spec,
    ),
    Rule("B003", "duplicate-key", E, "duplicate key in a YAML mapping", syntax.duplicate_key),
    Rule(
        "B004",
        "file-outside-root",
        E,
        "a spec names a file outside the spec root (or a URL); it is not read",
        files.file_outside_root,
        silenceable=False,
    ),
    Rule(
        "B010",
        "template-syntax",
        E,
        "template or expression does not parse, or uses a construct the sandbox forbids",
        syntax.template_syntax,
    ),
    Rule(
        "B101",
        "dependency-cycle",
        E,
        "dependency cycle; the message lists the whole cycle",
        dependencies.dependency_cycle,
    ),
    Rule(
        "B102",
        "unknown-step",
        E,
        "`needs` names a step that does not exist",
        dependencies.unknown_step,
    ),
    Rule(
        "B103",
        "undefined-name",
        E,
        "a template references an undefined name",
        dataflow.undefined_name,
    ),
    Rule(
        "B104",
        "racy-read",
        E,
        "a template reads `steps.X` but X is not upstream: a race",
        dataflow.race,
    ),
    Rule(
        "B105",
        "unknown-field",
        E,
        "a template reads a field the producer's schema does not define",
        dataflow.unknown_field,
    ),
    Rule("B201", "unknown-agent", E, "unknown agent", delegation.unknown_agent),
    Rule(
        "B202",
        "acl-violation",
        E,
        "the delegator may not delegate to that agent",
        delegation.acl_violation,
    ),
    Rule(
        "B203",
        "delegation-loop",
        E,
        "an agent appears twice in a delegation chain",
        delegation.delegation_loop,
    ),
    Rule(
        "B204",
        "subworkflow-cycle",
        E,
        "workflows call each other in a loop",
        delegation.subworkflow_cycle,
    ),
    Rule(
        "B205",
        "unknown-reference",
        E,
        "unknown workflow, roster or file reference",
        delegation.unknown_reference,
    ),
    Rule(
        "B206",
        "delegation-too-deep",
        E,
        "delegation chain longer than `max_delegation_depth`",
        delegation.chain_too_long,
    ),
    Rule(
        "B207",
        "roster-delegation-cycle",
        W,
        "the roster's `delegates_to` graph has a cycle",
        delegation.roster_cycle,
    ),
    Rule(
        "B208",
        "unknown-builtin",
        E,
        "`run: {builtin: NAME}` names a builtin agent Baton does not ship",
        agents.unknown_builtin,
    ),
    Rule(
        "B209",
        "python-agent-not-found",
        W,
        "a python agent's module is neither under the spec root nor installed",
        agents.python_agent_not_found,
    ),
    Rule(
        "B301",
        "invalid-schema",
        E,
        "a schema is not valid JSON Schema (draft 2020-12)",
        schemas.invalid_schema,
    ),
    Rule(
        "B302", "unknown-handoff", E, "unknown handoff or handoff version", schemas.unknown_handoff
    ),
    Rule(
        "B303",
        "incompatible-handoff",
        E,
        "a handoff version breaks the declared compatibility with the previous version",
        compatibility.incompatible_handoff,
    ),
    Rule(
        "B304",
        "loose-schema",
        W,
        "loose handoff schema: an object schema without explicit `required` and "
        "`additionalProperties`",
        schemas.loose_schema,
    ),
    Rule("B305", "unresolved-ref", E, "`$ref` cannot be resolved", schemas.unresolved_ref),
    Rule(
        "B401",
        "missing-approval",
        E,
        "`effect: external` without an approval",
        approvals.missing_approval,
    ),
    Rule("B402", "unknown-role", E, "unknown approver role", approvals.unknown_role),
    Rule(
        "B403",
        "untrusted-to-effect",
        W,
        "untrusted data reaches an `effect: external` step with no approval in between",
        approvals.untrusted_to_effect,
    ),
    Rule(
        "B450",
        "escalate-unknown-role",
        E,
        "an approval's `escalate_to` names a role the roster's `approvers` does not define",
        approval_timeouts.escalate_unknown_role,
    ),
    Rule(
        "B451",
        "escalate-without-target",
        E,
        "`on_timeout: escalate` without `escalate_to`",
        approval_timeouts.escalate_without_target,
    ),
    Rule(
        "B452",
        "approval-timeout-not-positive",
        E,
        "an approval `timeout` of zero: nobody could ever decide it",
        approval_timeouts.timeout_not_positive,
    ),
    Rule(
        "B453",
        "timeout-keys-without-timeout",
        W,
        "`on_timeout` or `escalate_to` on an approval without `timeout` (never happens)",
        approval_timeouts.timeout_keys_without_timeout,
    ),
    Rule(
        "B454",
        "escalate-to-same-role",
        W,
        "an approval's `escalate_to` is its own `role`",
        approval_timeouts.escalate_to_same_role,
    ),
    Rule(
        "B455",
        "escalate-never-asked",
        W,
        "`escalate_to` while `on_timeout` is `reject`: the escalation role is never asked",
        approval_timeouts.escalate_without_escalation,
    ),
    Rule(
        "B460",
        "unknown-notify-event",
        E,
        "a `notify:` entry names an event Baton never notifies about",
        notify.unknown_notify_event,
    ),
    Rule(
        "B461",
        "secret-in-spec",
        E,
        "`url_env` or `secret_env` is not an environment variable name (a URL or a secret "
        "written into the spec)",
        notify.secret_in_spec,
        silenceable=False,
    ),
    Rule(
        "B462",
        "console-url-not-http",
        E,
        "`console_url` is not an absolute http(s) URL",
        notify.console_url_not_http,
    ),
    Rule(
        "B501",
        "llm-step-without-output",
        E,
        "a step runs an llm agent but has no `output:` handoff (a model needs a schema)",
        llm.llm_step_without_output,
    ),
    Rule(
        "B502",
        "prompt-ignored",
        W,
        "a step has `prompt:` but its agent is not an llm agent",
        llm.prompt_ignored,
    ),
    Rule(
        "B503",
        "schema-not-strict",
        W,
        "an openai agent's handoff schema is outside OpenAI's strict subset (sent with "
        "strict: false)",
        llm.schema_not_strict,
    ),
    Rule(
        "B504",
        "setting-not-sent",
        W,
        "an llm agent sets a setting its provider does not take (anthropic: temperature, "
        "top_p, seed)",
        llm.setting_not_sent,
    ),
    Rule(
        "B505",
        "missing-system-file",
        E,
        "an llm agent's `system_file` does not exist or cannot be read",
        llm.missing_system_file,
    ),
    Rule(
        "B506",
        "empty-budget",
        E,
        "a `budget:` sets neither `usd` nor `tokens`",
        llm.empty_budget,
    ),
    Rule(
        "B601",
        "fallback-never-caught",
        W,
        "a `fallback:` entry lists a class the runtime never retries (acl_denied, rejected, "
        "cancelled): it never falls back",
        fallbacks.fallback_never_caught,
    ),
    Rule(
        "B602",
        "fallback-without-agent",
        E,
        "a step with `fallback:` has no `agent:` to replace (a sub-workflow step)",
        fallbacks.fallback_without_agent,
    ),
    Rule(
        "B610",
        "route-target",
        E,
        "a routed step also has `agent:`/`workflow:`, or a `route:` case names both or neither",
        routes.route_target,
    ),
    Rule(
        "B611",
        "route-unreachable-case",
        E,
        "a `route:` case after the default (the case without `when`) can never be chosen",
        routes.unreachable_case,
    ),
    Rule(
        "B612",
        "route-literal-not-in-enum",
        E,
        "a `route:` case compares a field with a literal its `enum`/`const` does not allow",
        routes.literal_not_in_enum,
    ),
    Rule(
        "B613",
        "route-not-exhaustive",
        W,
        "a `route:` without a default leaves values of the enum it compares to no case",
        routes.not_exhaustive,
    ),
    Rule(
        "B614",
        "route-workflow-output",
        E,
        "a `route:` case's sub-workflow does not return the step's `output:` handoff",
        routes.workflow_output,
    ),
    Rule(
        "B630",
        "map-over-not-array",
        E,
        "a step's `map.over` reads a field whose schema says it is not an array",
        maps.map_over_not_array,
    ),
    Rule(
        "B631",
        "map-item-unknown-field",
        E,
        "a map step reads a field of its item that the list's items do not define",
        maps.map_item_unknown_field,
    ),
    Rule(
        "B632",
        "map-var-shadows",
        E,
        "a map's `as:` is `inputs`, `steps`, `output` or `run`: it would hide them",
        maps.map_var_shadows,
    ),
    Rule(
        "B633",
        "map-concurrency-below-one",
        E,
        "a map's `max_concurrency` is below 1: no item could run",
        maps.map_concurrency_below_one,
    ),
    Rule(
        "B634",
        "map-tolerate-negative",
        E,
        "a map's `tolerate` is negative",
        maps.map_tolerate_negative,
    ),
    Rule(
        "B635",
        "map-without-agent",
        E,
        "a step with `map:` has no `agent:` (a sub-workflow step)",
        maps.map_without_agent,
    ),
    # review loops (rules/reviews.py); B620-B629 are theirs
    Rule(
        "B620",
        "self-review",
        E,
        "a step's reviewer is its producer or in its chain",
        reviews.self_review,
    ),
    Rule(
        "B621",
        "review-without-agent",
        E,
        "a step with `review:` has no `agent:` to revise (a sub-workflow step)",
        reviews.review_without_agent,
    ),
    Rule(
        "B622",
        "review-unknown-handoff",
        E,
        "a review's `output:` names an unknown handoff or version",
        reviews.review_unknown_handoff,
    ),
    Rule(
        "B623",
        "review-unknown-field",
        E,
        "a review's `pass_when`, `feedback` or `input` reads a name or field that does not exist",
        reviews.review_unknown_field,
    ),
    Rule(
        "B624",
        "too-many-review-rounds",
        E,
        "`max_rounds` is above the roster policy's `max_review_rounds` (default 5)",
        reviews.too_many_rounds,
    ),
    Rule(
        "B625",
        "escalate-unknown-role",
        E,
        "`on_exhausted: escalate` without `escalate_to`, or to a role no approver holds",
        reviews.escalate_unknown_role,
    ),
    Rule(
        "B626",
        "escalate-with-approval",
        E,
        "a step with `approval:` also escalates its review (one gate a step)",
        reviews.escalate_with_approval,
    ),
    Rule(
        "B627",
        "escalate-to-unused",
        W,
        "`escalate_to` without `on_exhausted: escalate`",
        reviews.escalate_to_unused,
    ),
    Rule(
        "B700",
        "unknown-tool",
        E,
        "an agent names a tool the roster does not declare",
        tools.unknown_tool,
    ),
    Rule(
        "B701",
        "tool-without-approval",
        E,
        "a tool with `effect: external` has no approval",
        tools.tool_without_approval,
    ),
    Rule(
        "B702",
        "untrusted-to-tool",
        W,
        "untrusted data can reach an `effect: external` tool with no approval in between",
        tools.untrusted_to_tool,
    ),
    Rule(
        "B703",
        "tool-only-unknown",
        E,
        "`only:` names a tool the MCP server does not list (checked with --probe-tools)",
        tools.tool_only_unknown,
    ),
    Rule(
        "B704",
        "tools-on-non-llm-agent",
        E,
        "an agent that is not an llm agent has `tools:` or `max_tool_calls:`",
        tools.tools_on_non_llm_agent,
    ),
    Rule(
        "B705",
        "unknown-tool-role",
        E,
        "a tool's approval names an unknown role",
        tools.unknown_tool_role,
    ),
    Rule(
        "B706",
        "tool-without-source",
        E,
        "a tool names neither an MCP server nor a python function, or both",
        tools.tool_without_source,
    ),
    Rule(
        "B707",
        "tool-approval-cannot-wait",
        W,
        "a map step's agent or a reviewer may call a tool with `approval:` (it cannot wait)",
        tools.tool_approval_cannot_wait,
    ),
)
