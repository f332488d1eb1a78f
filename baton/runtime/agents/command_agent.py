"""`command: [argv...]`: an agent run as a subprocess, JSON in, JSON out.

The request goes to stdin as one JSON object, the reply envelope comes back on stdout;
stderr is for the agent's own logs (its tail is kept when the agent fails). The
environment adds `BATON_WORKFLOW`, `BATON_RUN_ID`, `BATON_STEP`, `BATON_ATTEMPT` and
`BATON_IDEMPOTENCY_KEY`, so a shell script can dedupe without parsing the request, and
`BATON_DELEGATE_URL`, where it may delegate (runtime.agents.delegate_server).

Relative paths start from the roster file's directory (the agent binding's `directory`
under the workflow's root), not from the caller's working directory: the program when
written as a path (`./agents/x.sh`, `agents/x.sh`) and any argument written as an
explicitly relative path (`./x.py`, `../x.py`). Other arguments are passed as written, and
the process runs in the caller's working directory.

The process starts in a session (and process group) of its own; on timeout the whole
group is killed with SIGKILL and the child reaped, so helpers it spawned (a shell
pipeline, a browser) do not outlive the attempt. A helper that moves itself to another
session escapes this, as it would escape any supervisor short of a cgroup.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
from pathlib import Path
from typing import Any

from baton.runtime.agents.envelope import (
    AgentCall,
    AgentFailure,
    AgentReply,
    reply_from,
    request_json,
)
from baton.runtime.model import FailureClass

STDERR_TAIL_CHARS = 2000
STDOUT_HEAD_CHARS = 200


def argv_of(target: str | tuple[str, ...], directory: str | None = None) -> list[str]:
    """The argv of a command target; a single string is split like a shell would.
    Relative paths (see the module docstring) resolve against `directory` if given.

    >>> argv_of(["./x.sh", "-v", "./in.json", "data/y", "../z"], "/srv/specs")
    ['/srv/specs/x.sh', '-v', '/srv/specs/in.json', 'data/y', '/srv/z']
    >>> argv_of("python3 -m agents.x", "/srv/specs")
    ['python3', '-m', 'agents.x']
    """
    argv = shlex.split(target) if isinstance(target, str) else list(target)
    if directory is None:
        return argv
    return [
        os.path.normpath(Path(directory) / arg) if _relative_path(arg, index) else arg
        for index, arg in enumerate(argv)
    ]


def _relative_path(arg: str, index: int) -> bool:
    if arg.startswith(("./", "../")):
        return True
    # the program: exec resolves a name with a slash against the working directory
    return index == 0 and "/" in arg and not Path(arg).is_absolute()


def agent_directory(call: AgentCall) -> str | None:
    """Where the agent's relative paths start: its roster's directory, or None when the
    workflow's root is unknown (a workflow built by hand: the working directory)."""
    if not call.root:
        return None
    return os.path.normpath((Path(call.root) / call.binding.directory).absolute())


def agent_env(call: AgentCall) -> dict[str, str]:
    """The subprocess environment: the parent's, plus the attempt's identity."""
    request = call.request
    env = {
        **os.environ,
        "BATON_WORKFLOW": request.workflow,
        "BATON_RUN_ID": request.run_id,
        "BATON_STEP": request.step,
        "BATON_ATTEMPT": str(request.attempt),
        "BATON_IDEMPOTENCY_KEY": request.idempotency_key,
    }
    env.pop("BATON_DELEGATE_URL", None)  # never a parent attempt's
    if request.delegation is not None:
        env["BATON_DELEGATE_URL"] = request.delegation.url
    return env


def call_command(call: AgentCall) -> AgentReply:
    """Run the command once; timeout kills its process group."""
    argv = argv_of(call.binding.target, agent_directory(call))
    if not argv:
        raise AgentFailure(FailureClass.AGENT_ERROR, "a command agent needs a non-empty argv")
    payload = json.dumps(request_json(call.request), ensure_ascii=False).encode()
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=agent_env(call),
            start_new_session=True,
        )
    except OSError as error:
        raise AgentFailure(
            FailureClass.AGENT_ERROR, f"cannot start {shlex.join(argv)}: {error.strerror or error}"
        ) from error
    try:
        stdout, stderr = process.communicate(payload, timeout=call.timeout_s)
    except subprocess.TimeoutExpired:
        kill_group(process)
        raise AgentFailure(
            FailureClass.TIMEOUT,
            f"{shlex.join(argv)} did not reply within {call.timeout_ms} ms; "
            "its process group was killed",
        ) from None
    except BaseException:
        kill_group(process)  # interrupted (Ctrl-C, driver shutdown): leave no orphans
        raise
    if process.returncode != 0:
        raise AgentFailure(
            FailureClass.AGENT_ERROR,
            f"{shlex.join(argv)} {_exit_status(process.returncode)}{_tail(stderr)}",
        )
    return reply_from(_parse(stdout, argv), call.binding, bare_allowed=False)


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process's whole group, reap the process, close our pipe ends.

    Not `communicate()` after the kill: a helper that left the group may hold stdout
    open, and draining would wait for it.
    """
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()  # the group is gone (or not ours): at least the child
    process.wait()
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def _parse(stdout: bytes, argv: list[str]) -> Any:
    try:
        return json.loads(stdout.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as error:
        head = stdout[:STDOUT_HEAD_CHARS].decode("utf-8", "replace").strip()
        shown = f": {head!r}" if head else " (stdout is empty)"
        raise AgentFailure(
            FailureClass.MALFORMED_OUTPUT,
            f"{shlex.join(argv)} wrote something other than JSON to stdout ({error}){shown}",
        ) from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _exit_status(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


def _tail(stderr: bytes) -> str:
    text = stderr.decode("utf-8", "replace").strip()
    if not text:
        return ""
    if len(text) > STDERR_TAIL_CHARS:
        text = "..." + text[-STDERR_TAIL_CHARS:]
    return f"; stderr:\n{text}"
