"""`baton` as a real process forked from a warm interpreter, for tests that start hundreds.

The crash tests start a `baton` process for every kill point and every resume (several
hundred per test); most of each one's time was the interpreter start-up and the imports,
not the run. Here one server process per test process (a "zygote", started with the
same interpreter and environment as `baton` gets) imports the CLI and the runtime once;
each call connects to it over a Unix socket, and it forks a waiter that forks the
command: the real command line (`baton.cli.main`) in its own directory, environment,
stdout and stderr. The command is a real process: the runtime's SIGKILL hook
(BATON_TEST_KILL_AFTER_EVENT) kills it for real, its SQLite connection and threads die
with it, and the waiter reports the real wait status (-9 as `subprocess` reports it).
Only the exec of a fresh interpreter is skipped; the tests of the installed `baton`
executable itself use rc_support.baton.
"""

from __future__ import annotations

import atexit
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

# what `baton run/resume/retry` imports; the zygote imports them before any fork
PRELOAD = (
    "baton.cli",
    "baton.commands.run",
    "baton.commands._backend",
    "baton.commands.inspect",
    "baton.commands.decide",
    "baton.runtime.api",
    "baton.runtime.driver.local",
    "baton.runtime.agents.builtin",
    "baton.runtime.agents.python_agent",
)
_server: tuple[subprocess.Popen[bytes], str] | None = None
_lock = threading.Lock()
_own_path: list[str] = []  # in the zygote: the entries its PYTHONPATH put on sys.path


def _address(env: dict[str, str]) -> str:
    global _server
    with _lock:
        if _server is None or _server[0].poll() is not None:
            where = tempfile.mkdtemp(prefix="baton-zygote-")
            address = str(Path(where) / "socket")
            # its stdin stays open while this process lives: EOF tells it to go
            process = subprocess.Popen(
                [sys.executable, __file__, address],
                env={k: v for k, v in env.items() if not k.startswith("BATON_TEST_")},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
            assert process.stdout is not None
            ready = process.stdout.readline()  # the socket is listening
            assert ready == b"ready\n", ready
            atexit.register(process.kill)
            atexit.register(shutil.rmtree, where, True)  # the socket's directory
            _server = (process, address)
        return _server[1]


def run_forked(
    argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `baton ARGV` in `cwd` with exactly `env`; never raises on a non-zero exit.

    The command's sys.path has `env`'s PYTHONPATH in front, as a fresh interpreter's
    would; modules the zygote imported (PRELOAD) are not imported again."""
    address = _address(env)
    with tempfile.TemporaryDirectory(prefix="baton-fork-") as scratch:
        out, err = str(Path(scratch) / "out"), str(Path(scratch) / "err")
        request = {"argv": argv, "cwd": str(cwd), "env": env, "out": out, "err": err}
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(timeout)
            connection.connect(address)
            connection.sendall(json.dumps(request).encode("utf-8") + b"\n")
            replies = connection.makefile("rb")
            pid = int(replies.readline())  # the command's
            try:
                reply = replies.readline()
            except TimeoutError:
                os.kill(pid, signal.SIGKILL)
                raise subprocess.TimeoutExpired(["baton", *argv], timeout) from None
        status = json.loads(reply)  # the waiter's report: returncode as subprocess has it
        return subprocess.CompletedProcess(
            ["baton", *argv],
            int(status),
            Path(out).read_text(encoding="utf-8"),
            Path(err).read_text(encoding="utf-8"),
        )


# -- the zygote (this file run as a script)


def _serve(address: str) -> None:
    global _own_path
    _own_path = _pythonpath(os.environ.get("PYTHONPATH"))
    for module in PRELOAD:
        __import__(module)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # waiters are reaped by the kernel
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen(64)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    watch = selectors.DefaultSelector()
    watch.register(listener, selectors.EVENT_READ)
    watch.register(sys.stdin, selectors.EVENT_READ)
    while True:
        if any(key.fileobj is sys.stdin for key, _ in watch.select()):
            return  # the test process is gone
        connection, _ = listener.accept()
        if os.fork() == 0:  # the waiter
            listener.close()
            sys.stdin.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            request = json.loads(connection.makefile("rb").readline())
            pid = os.fork()
            if pid == 0:
                connection.close()
                _command(request)  # never returns
            connection.sendall(f"{pid}\n".encode())
            _, status = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(status)  # -9 for a SIGKILL
            connection.sendall(f"{code}\n".encode())
            os._exit(0)
        connection.close()


def _pythonpath(value: str | None) -> list[str]:
    """sys.path's entries from PYTHONPATH, as site makes them (an empty one is the cwd)."""
    # abspath, not resolve: site keeps symlinks
    return [os.path.abspath(p) for p in value.split(os.pathsep)] if value else []  # noqa: PTH100


def _command(request: dict[str, Any]) -> None:
    """The forked command: the real command line; never returns."""
    atexit._clear()  # only what the command registers runs at its exit (telemetry flush)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    for fd, path in ((0, os.devnull), (1, request["out"]), (2, request["err"])):
        flags = os.O_RDONLY if fd == 0 else os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        target = os.open(path, flags, 0o600)
        os.dup2(target, fd)
        os.close(target)
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.argv = ["baton", *request["argv"]]
    # PYTHONPATH as a fresh interpreter would read it: in front of the rest of sys.path
    # and the script's directory first: the `baton` executable's, not this file's
    base = [p for p in sys.path[1:] if p not in _own_path]
    base.insert(0, str(Path(sys.executable).parent))
    sys.path[:] = [*_pythonpath(request["env"].get("PYTHONPATH")), *base]
    from baton.cli import main

    # SystemExit (or an error) goes up through the zygote's loop to the top: the
    # interpreter exits as a `baton` process does (atexit, objects finalized: SQLite
    # connections closed, the WAL checkpointed) with the same status and traceback
    main(request["argv"])
    raise SystemExit(0)


if __name__ == "__main__":
    _serve(sys.argv[1])
