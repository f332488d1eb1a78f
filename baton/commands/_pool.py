"""`baton worker --local`: the process side of the local worker pool (runtime.pool).

With `-j 1` this process is the worker. With `-j N` it supervises N worker processes
(each `baton worker --local -j 1` on the same database), starts again one that died
(a crash: its runs are taken over by the others at once, as their leases' holder is a
dead process), and on SIGINT or SIGTERM stops them all.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import click

from baton.commands._common import database
from baton.commands._load import load_spec
from baton.runtime.api import LoadedWorkflow, RunError
from baton.runtime.pool import Load, Worker


def serve_local_pool(
    db_option: str | None, root: str | None, jobs: int, runs: int, grace_s: float
) -> None:
    db = database(db_option)
    if jobs == 1:
        _serve_one(db, root, runs, grace_s)
    else:
        _supervise(db_option, root, jobs, runs, grace_s)


def _serve_one(db: Path, root: str | None, runs: int, grace_s: float) -> None:
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    worker = Worker(db, _loader(root), concurrency=runs, grace_s=grace_s)
    click.echo(f"baton worker {worker.owner}: driving runs of {db}", err=True)
    worker.serve(stop)
    click.echo(f"baton worker {worker.owner} stopped", err=True)


def _loader(root: str | None) -> Load:
    """Each run's spec, loaded once per file version (the pin tells a changed file)."""
    cache: dict[tuple[str, int, int], LoadedWorkflow] = {}
    lock = threading.Lock()

    def load(spec: str) -> LoadedWorkflow:
        path = Path(spec)
        stamp = path.stat() if path.is_file() else None
        key = (spec, stamp.st_mtime_ns if stamp else 0, stamp.st_size if stamp else 0)
        with lock:
            if key not in cache:
                try:
                    cache[key] = load_spec(spec, root)
                except click.UsageError as error:
                    raise RunError(f"cannot load the spec of the run: {error.message}") from None
            return cache[key]

    return load


def _supervise(db: str | None, root: str | None, jobs: int, runs: int, grace_s: float) -> None:
    argv = [sys.executable, "-c", "from baton.cli import main; main()", "worker", "--local"]
    argv += ["-j", "1", "--runs-per-worker", str(runs), "--graceful-shutdown", str(grace_s)]
    if db is not None:
        argv += ["--db", db]
    if root is not None:
        argv += ["--root", root]
    stopping = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    children = [subprocess.Popen(argv) for _ in range(jobs)]
    click.echo(f"baton worker pool: {jobs} processes", err=True)
    while not stopping.is_set():
        for index, child in enumerate(children):
            if child.poll() is not None:  # died: another takes its place
                click.echo(f"worker {child.pid} exited ({child.returncode}); restarting", err=True)
                children[index] = subprocess.Popen(argv)
        stopping.wait(0.5)
    for child in children:
        child.terminate()
    deadline = time.monotonic() + grace_s + 5
    for child in children:
        try:
            child.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
