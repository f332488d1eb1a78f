"""`builtin: NAME`: agents shipped with Baton, for demos and for testing the runtime.

- `echo`: the output is the input.
- `demo.*`: deterministic demo agents (runtime.agents.demo).
- `fail`: always fails, with `agent_error` or the class named by input `failure`.
- `flaky`: fails attempts before input `succeed_on_attempt` (default 2), then echoes.
- `sleep`: sleeps input `seconds` (a timeout if that exceeds the call's timeout), then
  echoes.
- `malformed`: an output its schema rejects.

`flaky` and `sleep` echo input `output` when the input has one (so a test can choose
an output that fits the step's handoff), else the whole input.

If the environment variable `BATON_LEDGER` names a file, every call appends one JSON
line `{"agent", "step", "attempt", "idempotency_key", "run_id"}` to it, flushed and
fsynced before the agent does anything: the crash-safety tests read it to prove that
no committed step's agent was called again.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import time
from collections.abc import Callable

from baton.runtime.agents.demo import demo_output
from baton.runtime.agents.envelope import AgentCall, AgentFailure, plain
from baton.runtime.model import JSON, FailureClass
from baton.runtime.validate import is_valid

LEDGER_ENV = "BATON_LEDGER"


def call_builtin(call: AgentCall) -> JSON:
    """Run builtin agent `call.binding.target`; returns its output (or raises)."""
    name = call.binding.target
    if not isinstance(name, str) or not (name in _AGENTS or name.startswith(FAMILIES)):
        raise AgentFailure(FailureClass.AGENT_ERROR, _unknown(str(name)))
    record(call)
    if name.startswith(FAMILIES):
        request = call.request
        return demo_output(name, plain(request.input), request.output_schema, request.feedback)
    return _AGENTS[name](call)


def answers_at_once(name: str) -> bool:
    """Whether builtin `name` answers without waiting on anything (all but `sleep`), so
    a driver may call it in its own thread rather than hand it to a worker thread."""
    return name in _AT_ONCE or name.startswith("demo.")


def record(call: AgentCall) -> None:
    """Append this call to the ledger file named by BATON_LEDGER, durably."""
    path = os.environ.get(LEDGER_ENV)
    if not path:
        return
    request = call.request
    line = json.dumps(
        {
            "agent": call.binding.name,
            "step": request.step,
            "attempt": request.attempt,
            "idempotency_key": request.idempotency_key,
            "run_id": request.run_id,
        },
        sort_keys=True,
    )
    try:
        # one write() on an O_APPEND descriptor: lines from parallel steps never interleave
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as error:
        # a call the ledger cannot prove must not look like a call that never happened
        raise AgentFailure(
            FailureClass.AGENT_ERROR, f"cannot write the ledger {path}: {error}"
        ) from error


def _echo(call: AgentCall) -> JSON:
    return plain(call.request.input)


def _fail(call: AgentCall) -> JSON:
    agent_input = _object_input(call)
    raise AgentFailure(
        _failure_class(agent_input),
        str(agent_input.get("message", "the builtin agent 'fail' always fails")),
    )


def _flaky(call: AgentCall) -> JSON:
    agent_input = _object_input(call)
    succeed_on = agent_input.get("succeed_on_attempt", 2)
    if not isinstance(succeed_on, int) or isinstance(succeed_on, bool):
        raise AgentFailure(FailureClass.AGENT_ERROR, "flaky: succeed_on_attempt must be an integer")
    attempt = call.request.attempt
    if attempt < succeed_on:
        raise AgentFailure(
            _failure_class(agent_input),
            f"flaky: attempt {attempt} fails (attempt {succeed_on} will succeed)",
        )
    return _echoed(call)


def _sleep(call: AgentCall) -> JSON:
    seconds = _object_input(call).get("seconds", 0)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds >= 0:
        raise AgentFailure(FailureClass.AGENT_ERROR, "sleep: seconds must be a number >= 0")
    if not math.isfinite(seconds) or seconds > call.timeout_s:
        time.sleep(call.timeout_s)
        raise AgentFailure(
            FailureClass.TIMEOUT, f"sleep: {seconds} s exceeds the {call.timeout_ms} ms timeout"
        )
    time.sleep(seconds)
    return _echoed(call)


def _malformed(call: AgentCall) -> JSON:
    schema = call.request.output_schema
    candidates: list[JSON] = [{"baton_malformed": True}, "baton_malformed", 0, None, []]
    for candidate in candidates:
        if schema is None or not is_valid(schema, candidate):
            return candidate
    # a schema that accepts all of these accepts (nearly) anything: nothing to break
    raise AgentFailure(
        FailureClass.MALFORMED_OUTPUT, "malformed: the output schema accepts any output"
    )


def _echoed(call: AgentCall) -> JSON:
    agent_input = plain(call.request.input)
    if isinstance(agent_input, dict) and "output" in agent_input:
        return agent_input["output"]
    return agent_input


def _object_input(call: AgentCall) -> dict[str, JSON]:
    agent_input = plain(call.request.input)
    return agent_input if isinstance(agent_input, dict) else {}


def _failure_class(agent_input: dict[str, JSON]) -> FailureClass:
    name = agent_input.get("failure", FailureClass.AGENT_ERROR.value)
    try:
        return FailureClass(name)
    except ValueError:
        return FailureClass.AGENT_ERROR


def _unknown(name: str) -> str:
    known = sorted([*_AGENTS, "demo.*"])
    message = f"unknown builtin agent {name!r} (builtins: {', '.join(known)})"
    close = difflib.get_close_matches(name, known, n=1)
    return message + (f"; did you mean {close[0]!r}?" if close else "")


_AGENTS: dict[str, Callable[[AgentCall], JSON]] = {
    "echo": _echo,
    "fail": _fail,
    "flaky": _flaky,
    "sleep": _sleep,
    "malformed": _malformed,
}
_AT_ONCE = frozenset({"echo", "fail", "flaky", "malformed"})
# what the linter knows as builtins (compiler/rules/agents.py keeps a copy; a test compares)
NAMES = tuple(sorted(_AGENTS))
FAMILIES = ("demo.",)  # any `demo.NAME` is a builtin
