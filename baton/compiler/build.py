"""Build IR from a structurally checked file.

The builder is tolerant: a value of the wrong shape (already a B002 finding) is left
out rather than raising, so the other rules still judge the rest of the file.
"""

from __future__ import annotations

import re
from pathlib import Path

from baton.compiler import ir
from baton.compiler.files import Confined, confined
from baton.compiler.refs import Resolved, SchemaStore
from baton.compiler.templates import is_template
from baton.compiler.tooldefs import roster_tools
from baton.compiler.yamlnodes import YMap, YNode, YScalar, YSeq

_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}
_NO_RETRY = ir.RetryPolicy()  # frozen: one for every step that writes no `retry`


def duration_ms(text: str) -> int | None:
    """Milliseconds in a duration, or None when it is not one.

    >>> duration_ms("2m"), duration_ms("1.5s"), duration_ms("5x")
    (120000, 1500, None)
    """
    match = _DURATION.match(text)
    if not match:
        return None
    return round(float(match.group(1)) * _UNIT_MS[match.group(2)])


def _str(node: YNode | None) -> str | None:
    if isinstance(node, YScalar) and isinstance(node.value, str):
        return node.value
    return None


def _int(node: YNode | None) -> int | None:
    if isinstance(node, YScalar) and type(node.value) is int:
        return node.value
    return None


def _num(node: YNode | None) -> float | None:
    if isinstance(node, YScalar) and type(node.value) in (int, float):
        return float(node.value)  # type: ignore[arg-type]
    return None


def _or(value: float | None, default: float) -> float:
    """`value` unless it is missing: unlike `or`, an explicit 0 is kept."""
    return default if value is None else value


def _name(node: YNode | None) -> ir.Name | None:
    text = _str(node)
    return ir.Name(text, node.span) if text is not None and node is not None else None


def _names(node: YNode | None) -> tuple[ir.Name, ...]:
    if isinstance(node, YScalar):
        one = _name(node)
        return (one,) if one else ()
    if isinstance(node, YSeq):
        return tuple(n for n in (_name(item) for item in node.items) if n)
    return ()


def _map(node: YNode | None) -> YMap | None:
    return node if isinstance(node, YMap) else None


def template_of(node: YScalar, is_expression: bool) -> ir.Template:
    """A template for a scalar; quoted scalars' text starts one column after the quote."""
    offset = 1 if node.style in ('"', "'") else 0
    return ir.Template(str(node.value), node.span, is_expression, offset)


def _input_value(node: YNode) -> ir.InputValue:
    found: list[tuple[tuple[str | int, ...], ir.Template]] = []

    def walk(current: YNode, path: tuple[str | int, ...]) -> None:
        if isinstance(current, YScalar):
            if isinstance(current.value, str) and is_template(current.value):
                found.append((path, template_of(current, is_expression=False)))
        elif isinstance(current, YSeq):
            for index, item in enumerate(current.items):
                walk(item, (*path, index))
        else:
            for key, _, value in current.items():
                walk(value, (*path, key))

    walk(node, ())
    return ir.InputValue(node.data, tuple(found), node.span)


class Builder:
    """Builds rosters and workflows of one spec set (schemas `$ref`'d through `store`)."""

    def __init__(self, store: SchemaStore) -> None:
        self.store = store

    # -- schemas

    def schema(self, node: YNode, path: str) -> ir.Schema:
        """A schema as written; a top-level `{$ref: file}` is replaced by the file's content."""
        base = Path(path)
        ref = _str(node.get("$ref")) if isinstance(node, YMap) else None
        if isinstance(node, YMap) and ref is not None and len(node.entries) == 1:
            resolved = self.store.resolve(ref, base, node.data, node)
            # an unresolvable ref stays as written; rule B305 (B004 outside the root) reports it
            if isinstance(resolved, Resolved) and not ref.startswith("#"):
                return ir.Schema(resolved.value, node.span, resolved.node, resolved.base)
        return ir.Schema(node.data, node.span, node, base)

    # -- rosters

    def system_prompt(self, reference: str, path: str) -> str | None:
        """The text of a `system_file`, written in the file `path`: None when it leaves
        the spec root (never opened; B004) or cannot be read as UTF-8 text (B505)."""
        file = confined(self.store.root, Path(path), reference)
        if not isinstance(file, Confined):
            return None
        try:
            return file.path.read_text("utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def llm(self, node: YMap, path: str) -> ir.LlmSettings:
        """A `run: {llm: ...}` block; values of the wrong shape (B002) are left out."""
        system = _str(node.get("system"))
        system_file = _name(node.get("system_file"))
        if system_file is not None and system is None:
            system = self.system_prompt(system_file.value, path)
        stop = tuple(name.value for name in _names(node.get("stop")))  # a string or a list
        timeout = duration_ms(_str(node.get("timeout")) or "")
        return ir.LlmSettings(
            provider=_str(node.get("provider")) or "",
            model=_str(node.get("model")) or "",
            span=node.span,
            base_url=_str(node.get("base_url")),
            api_key_env=_str(node.get("api_key_env")),
            system=system,
            system_file=system_file,
            temperature=_num(node.get("temperature")),
            max_tokens=_int(node.get("max_tokens")),
            top_p=_num(node.get("top_p")),
            seed=_int(node.get("seed")),
            stop=stop,
            max_concurrency=_int(node.get("max_concurrency")),
            timeout_ms=timeout if timeout else None,
            transport_retries=_int(node.get("transport_retries")),
            spans={key: value.span for key, _, value in node.items()},
        )

    def budget(self, node: YNode | None) -> ir.Budget | None:
        if not isinstance(node, YMap):
            return None
        return ir.Budget(
            node.span,
            usd=_num(node.get("usd")),
            tokens=_int(node.get("tokens")),
            mode=_str(node.get("mode")) or "enforce",
        )

    def agent(self, name: str, key: YScalar, node: YMap) -> ir.Agent:
        run = _map(node.get("run"))
        # a missing or malformed `run` is B002; the agent still exists for the other rules
        kind = ""
        target: str | tuple[str, ...] = ""
        target_span = None
        llm = None
        if run is not None and len(run.entries) == 1:
            kind, _, target_node = next(run.items())
            target_span = target_node.span
            if kind == "llm" and isinstance(target_node, YMap):
                llm = self.llm(target_node, key.span.path)
                target = f"{llm.provider}:{llm.model}"
            else:
                target = (
                    tuple(str(item.data) for item in target_node.items)
                    if isinstance(target_node, YSeq)
                    else str(target_node.data)
                )
        delegates = node.get("delegates_to")
        tools = node.get("tools")
        price_node = _map(node.get("price"))
        price = None
        if price_node:
            price = ir.Price(
                _num(price_node.get("input_per_mtok")) or 0.0,
                _num(price_node.get("output_per_mtok")) or 0.0,
            )
        return ir.Agent(
            name=name,
            span=key.span,
            run=ir.AgentRun(kind, target, (run or node).span, target_span),
            delegates_to=_names(delegates),
            delegates_to_span=delegates.span if delegates else None,
            description=_str(node.get("description")),
            price=price,
            llm=llm,
            budget=self.budget(node.get("budget")),
            tools=_names(tools),
            tools_span=tools.span if tools is not None else None,
            max_tool_calls=_int(node.get("max_tool_calls")),
        )

    def roster(self, key: str, node: YMap) -> ir.Roster:
        agents: dict[str, ir.Agent] = {}
        for name, key_node, value in (_map(node.get("agents")) or YMap((), node.span)).items():
            if isinstance(value, YMap):
                agents[name] = self.agent(name, key_node, value)
        approvers = {
            role: _names(principals)
            for role, _, principals in (_map(node.get("approvers")) or YMap((), node.span)).items()
        }
        policy_node = _map(node.get("policy"))
        policy = ir.Policy()
        if policy_node:
            depth = _int(policy_node.get("max_delegation_depth"))
            require = policy_node.get("require_approval_for_external")
            rounds = _int(policy_node.get("max_review_rounds"))
            policy = ir.Policy(
                max_review_rounds=rounds if rounds and rounds > 0 else policy.max_review_rounds,
                max_delegation_depth=depth if depth and depth > 0 else policy.max_delegation_depth,
                require_approval_for_external=(
                    require.value
                    if isinstance(require, YScalar) and isinstance(require.value, bool)
                    else True
                ),
            )
        return ir.Roster(
            key,
            node.span,
            agents,
            approvers,
            policy,
            description=_str(node.get("description")),
            notify=_notify_sinks(node.get("notify")),
            console_url=_name(node.get("console_url")),
            tools=roster_tools(node.get("tools")),
        )

    # -- workflows

    def handoff(self, name: str, key: YScalar, node: YMap, path: str) -> ir.Handoff:
        versions: dict[int, ir.HandoffVersion] = {}
        for version, version_key, schema_node in (
            _map(node.get("versions")) or YMap((), node.span)
        ).items():
            if version.isdigit() and int(version) > 0:
                versions[int(version)] = ir.HandoffVersion(
                    int(version), version_key.span, self.schema(schema_node, path)
                )
        return ir.Handoff(
            name=name,
            span=key.span,
            compatibility=_str(node.get("compatibility")) or "backward",
            versions=versions,
            description=_str(node.get("description")),
        )

    def retry(self, node: YMap | None) -> ir.RetryPolicy:
        if node is None:
            return _NO_RETRY
        backoff_node = _map(node.get("backoff"))
        backoff = ir.Backoff()
        if backoff_node:
            backoff = ir.Backoff(
                initial_ms=round(
                    _or(duration_ms(_str(backoff_node.get("initial")) or ""), backoff.initial_ms)
                ),
                multiplier=_or(_num(backoff_node.get("multiplier")), backoff.multiplier),
                max_ms=round(_or(duration_ms(_str(backoff_node.get("max")) or ""), backoff.max_ms)),
                jitter=_or(_num(backoff_node.get("jitter")), backoff.jitter),
            )
        on = tuple(sorted({name.value for name in _names(node.get("on"))}))
        attempts = _int(node.get("max_attempts"))
        return ir.RetryPolicy(
            max_attempts=attempts if attempts and attempts > 0 else 1, on=on, backoff=backoff
        )

    def step(self, step_id: str, key: YScalar, node: YMap) -> ir.Step:
        # a step names a few of its ~20 keys: one dict of what is written, then C-level
        # lookups (a YMap.get per key was a fifth of building a 5,000-step workflow)
        written = node.by_name()
        get = written.get
        output = None
        if (output_node := get("output")) and (text := _str(output_node)):
            handoff, _, version = text.partition("@")
            output = ir.OutputRef(
                handoff, int(version) if version.isdigit() else None, output_node.span
            )
        condition = None
        if isinstance(cond := get("if"), YScalar) and isinstance(cond.value, str):
            condition = template_of(cond, is_expression=True)
        approval = None
        if approval_node := _map(get("approval")):
            # without a valid `role` (B002) it is still an approval: B401 must not fire
            role = _name(approval_node.get("role")) or ir.Name("", approval_node.span)
            approval = ir.Approval(
                role,
                _str(approval_node.get("stage")) or "before",
                approval_node.span,
                _str(approval_node.get("description")),
                timeout=_name(approval_node.get("timeout")),
                on_timeout=_name(approval_node.get("on_timeout")),
                escalate_to=_name(approval_node.get("escalate_to")),
            )
        quality = None
        if quality_node := _map(get("quality")):
            checks = []
            checks_node = quality_node.get("checks")
            check_nodes = checks_node.items if isinstance(checks_node, YSeq) else ()
            for check in (n for n in check_nodes if isinstance(n, YMap)):
                expr = check.get("expr")
                if isinstance(expr, YScalar) and isinstance(expr.value, str):
                    weight = _num(check.get("weight"))
                    checks.append(
                        ir.QualityCheck(
                            template_of(expr, is_expression=True),
                            weight if weight and weight > 0 else 1.0,
                            _str(check.get("description")),
                        )
                    )
            min_score = _num(quality_node.get("min_score"))
            quality = ir.Quality(
                min_score if min_score is not None else 0.0, tuple(checks), quality_node.span
            )
        input_node = get("input")
        prompt = None
        if isinstance(prompt_node := get("prompt"), YScalar) and isinstance(prompt_node.value, str):
            prompt = template_of(prompt_node, is_expression=False)
        return ir.Step(
            id=step_id,
            span=key.span,
            agent=_name(get("agent")),
            workflow=_name(get("workflow")) if "workflow" in written else None,
            delegated_by=_name(get("delegated_by")) if "delegated_by" in written else None,
            needs=_names(get("needs")),
            condition=condition,
            input=_input_value(input_node) if input_node is not None else None,
            output=output,
            timeout_ms=(duration_ms(_str(get("timeout")) or "") if "timeout" in written else None)
            or ir.DEFAULT_TIMEOUT_MS,
            retry=self.retry(_map(get("retry"))) if "retry" in written else _NO_RETRY,
            effect=(_str(get("effect")) if "effect" in written else None) or "none",
            approval=approval,
            quality=quality,
            name=_str(get("name")) if "name" in written else None,
            description=_str(get("description")) if "description" in written else None,
            prompt=prompt,
            # the keys most steps leave out: not even a call for them
            fallbacks=_fallbacks(get("fallback")) if "fallback" in written else (),
            route=_route(get("route")) if "route" in written else (),
            map=_map_of(_map(get("map"))) if "map" in written else None,
            review=_review(get("review")) if "review" in written else None,
        )

    def workflow(self, path: str, root: YMap) -> ir.Workflow | None:
        name = _str(root.get("name"))
        if name is None:
            return None
        inline_roster = None
        inline_keys = ("agents", "approvers", "policy", "notify", "console_url", "tools")
        if any(root.get(key) is not None for key in inline_keys):
            inline_roster = self.roster(f"<inline:{name}>", root)
        handoffs = {
            handoff_name: self.handoff(handoff_name, key, value, path)
            for handoff_name, key, value in (
                _map(root.get("handoffs")) or YMap((), root.span)
            ).items()
            if isinstance(value, YMap)
        }
        steps = {
            step_id: self.step(step_id, key, value)
            for step_id, key, value in (_map(root.get("steps")) or YMap((), root.span)).items()
            if isinstance(value, YMap)
        }
        inputs = root.get("inputs")
        budget = _int(root.get("untrusted_token_budget"))
        name_node = root.get("name")
        return ir.Workflow(
            name=name,
            span=name_node.span if name_node else root.span,
            path=path,
            version=_int(root.get("version")) or 1,
            roster_ref=_name(root.get("roster")),
            roster=inline_roster,
            owner=_name(root.get("owner")),
            inputs=self.schema(inputs, path) if inputs is not None else None,
            handoffs=handoffs,
            steps=steps,
            result=_name(root.get("result")),
            untrusted_token_budget=budget
            if budget and budget > 0
            else ir.DEFAULT_UNTRUSTED_TOKEN_BUDGET,
            description=_str(root.get("description")),
            budget=self.budget(root.get("budget")),
        )


def file_kind(root: YNode) -> str | None:
    """`workflow`, `roster`, or None for a file that is not a mapping."""
    if not isinstance(root, YMap):
        return None
    return _str(root.get("kind")) or "workflow"


def _fallbacks(node: YNode | None) -> tuple[ir.Fallback, ...]:
    """The `fallback:` entries with an agent (the schema reports the others: B002)."""
    if not isinstance(node, YSeq):
        return ()
    found = []
    for entry in node.items:
        if not isinstance(entry, YMap):
            continue
        agent = _name(entry.get("agent"))
        if agent is not None:
            found.append(ir.Fallback(_names(entry.get("on")), agent, entry.span))
    return tuple(found)


def _route(node: YNode | None) -> tuple[ir.RouteCase, ...]:
    """The `route:` cases, in order (a malformed entry is B002)."""
    if not isinstance(node, YSeq):
        return ()
    cases = []
    for entry in node.items:
        if not isinstance(entry, YMap):
            continue
        when = entry.get("when")
        condition = (
            template_of(when, is_expression=True)
            if isinstance(when, YScalar) and isinstance(when.value, str)
            else None
        )
        cases.append(
            ir.RouteCase(
                condition, _name(entry.get("agent")), _name(entry.get("workflow")), entry.span
            )
        )
    return tuple(cases)


def _map_of(node: YMap | None) -> ir.Map | None:
    """A step's `map:`, when it has a string `over` and an `as` (the schema reports the
    others: B002)."""
    if node is None:
        return None
    over, var = node.get("over"), _name(node.get("as"))
    if not (isinstance(over, YScalar) and isinstance(over.value, str)) or var is None:
        return None
    concurrency, tolerate = node.get("max_concurrency"), node.get("tolerate")
    return ir.Map(
        template_of(over, is_expression=True),
        var,
        node.span,
        _int(concurrency),
        concurrency.span if concurrency is not None else None,
        _int(tolerate),
        tolerate.span if tolerate is not None else None,
    )


def _review(node: YNode | None) -> ir.Review | None:
    """A step's `review:` with a reviewer (the schema reports the rest: B002)."""
    if not isinstance(node, YMap):
        return None
    by = _name(node.get("by"))
    if by is None:
        return None
    output = None
    if (output_node := node.get("output")) and (text := _str(output_node)):
        handoff, _, version = text.partition("@")
        output = ir.OutputRef(
            handoff, int(version) if version.isdigit() else None, output_node.span
        )
    templates = []
    for key, is_expression in (("pass_when", True), ("feedback", False)):
        found = node.get(key)
        templates.append(
            template_of(found, is_expression)
            if isinstance(found, YScalar) and isinstance(found.value, str)
            else None
        )
    rounds_node = node.get("max_rounds")
    rounds = _int(rounds_node)
    how_node = node.get("on_exhausted")
    escalate = _map(node.get("escalate_to"))
    input_node = node.get("input")
    return ir.Review(
        by=by,
        output=output,
        input=_input_value(input_node) if input_node is not None else None,
        pass_when=templates[0],
        feedback=templates[1],
        max_rounds=rounds if rounds and rounds > 0 else 3,
        on_exhausted=_str(how_node) or "fail",
        escalate_to=_name(escalate.get("role")) if escalate else None,
        span=node.span,
        max_rounds_span=rounds_node.span if rounds_node is not None else None,
        on_exhausted_span=how_node.span if how_node is not None else None,
    )


def _notify_sinks(node: YNode | None) -> tuple[ir.NotifySink, ...]:
    """The `notify:` entries that are mappings (the schema reports the others: B002)."""
    if not isinstance(node, YSeq):
        return ()
    sinks = []
    for entry in node.items:
        if not isinstance(entry, YMap):
            continue
        timeout = duration_ms(_str(entry.get("timeout")) or "")
        attempts = _int(entry.get("max_attempts"))
        sinks.append(
            ir.NotifySink(
                span=entry.span,
                url_env=_name(entry.get("url_env")),
                events=_names(entry.get("events")),
                format=_str(entry.get("format")) or "json",
                secret_env=_name(entry.get("secret_env")),
                timeout_ms=timeout if timeout else 5000,
                max_attempts=attempts if attempts and attempts > 0 else 5,
            )
        )
    return tuple(sinks)
