"""Start a stdio MCP server so it dies with the process that started it (Linux).

The SDK starts a stdio server in a new session (its own process group) and stops it
when the client leaves; a driver killed with SIGKILL never leaves, and a server busy in
a tool call (a blocking thread) does not exit on the end of its stdin, so it would run
on, orphaned. Run as `python -I orphan_guard.py PARENT_PID PROGRAM ARGS...`, this asks
the kernel for SIGKILL when the parent goes (`prctl(PR_SET_PDEATHSIG)`, which survives
the exec), checks the parent is still the one it was started by (it may have died
before the request), then execs the server in its place: same pid, pipes, directory
and environment. Only the server itself is covered: processes it starts are its own to
stop. Standard library only, and run by path, so it imports nothing of Baton.

Note: the "parent" the kernel watches is the thread that spawned the server, the MCP
connection's own thread (runtime.tools.mcp_client), which lives until the connection
is closed, by which time the server has been stopped.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
EXIT_CANNOT_START = 127


def main(argv: list[str]) -> None:
    parent, program = int(argv[0]), argv[1:]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        print(f"orphan guard: prctl failed (errno {ctypes.get_errno()})", file=sys.stderr)
    if os.getppid() != parent:  # the parent died before the request took effect
        sys.exit(EXIT_CANNOT_START)
    try:
        os.execvp(program[0], program)
    except OSError as error:
        print(f"cannot start {program[0]}: {error.strerror}", file=sys.stderr)
        sys.exit(EXIT_CANNOT_START)


if __name__ == "__main__":
    main(sys.argv[1:])
