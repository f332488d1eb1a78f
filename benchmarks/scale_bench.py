"""Scale benchmark (issue 15): per-step cost as a run grows, and a local worker pool.

    python benchmarks/scale_bench.py [--rounds 3] [--runs 100] [--steps 20] [--jobs 2]

All in one invocation, on one machine (the load average is recorded):

- **Marginal per-step cost** of a chain of builtin `echo` steps (runtime_bench's chain):
  the marginal cost on an N-step chain is (T(N) - T(N/10)) / (N - N/10), for N = 100 and
  N = 1,000 (median of `--rounds` runs of each length, rounds interleaved); next to the
  SQLite WAL+FULL committed-insert floor measured in the same rounds. Targets: the
  1,000-step figure within 1.2x of the 100-step one (flat), and at most 2.5x the floor.
- **Concurrent runs**: `--runs` runs x `--steps` steps, in one process (runtime_bench's
  threads, one run each, group commit) and through `baton worker --local -j N` (the
  runs enqueued once the workers are up, the clock running from the first enqueue to
  the last run's end); LangGraph (SqliteSaver, durability sync) and DBOS (SQLite) on the
  same shape, one thread per run. Target: the pool at least 2x the single process, and
  above the peers.

Prints a table and writes benchmarks/results/scale.json. The peers need the
`bench-runtime` extra (a separate environment: `UV_PROJECT_ENVIRONMENT=.venv-bench uv sync
--locked --extra dev --extra bench-runtime`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "benchmarks"
RESULTS = HERE / "results" / "scale.json"
for path in (str(HERE), str(ROOT)):
    if path not in sys.path:
        sys.path.insert(0, path)

import runtime_bench  # noqa: E402
import runtime_peers  # noqa: E402

FLAT_TARGET = 1.2
FLOOR_TARGET = 2.5
POOL_TARGET = 2.0


def marginal(rounds: int, base: Path | None) -> dict[str, Any]:
    lengths = (10, 100, 1000)
    seconds: dict[int, list[float]] = {n: [] for n in lengths}
    floor: list[float] = []
    with tempfile.TemporaryDirectory(prefix="baton-scale-", dir=base) as tmp:
        chains = {}
        for n in lengths:
            directory = Path(tmp) / f"c{n}"
            directory.mkdir()
            chains[n] = runtime_bench.BatonSequential(directory, n)
            chains[n].run_once()  # warm-up
        for _ in range(rounds):
            for n in lengths:
                seconds[n].append(chains[n].run_once())
            row = runtime_peers.measure_sqlite_floor(steps=100, runs=1, warmup=1, base=base)
            floor.append(row["run_ms"] / 100)
    median = {n: statistics.median(seconds[n]) for n in lengths}
    m100 = (median[100] - median[10]) * 1000 / 90
    m1000 = (median[1000] - median[100]) * 1000 / 900
    floor_ms = statistics.median(floor)
    return {
        "run_s": {str(n): median[n] for n in lengths},
        "marginal_ms_100": m100,
        "marginal_ms_1000": m1000,
        "flat_ratio": m1000 / m100,
        "floor_ms": floor_ms,
        "floor_ratio_1000": m1000 / floor_ms,
        "floor_ratio_100": m100 / floor_ms,
    }


def pool(runs: int, steps: int, jobs: int, base: Path | None) -> dict[str, Any]:
    from baton.runtime.api import get_state
    from baton.runtime.pool import enqueue
    from baton.runtime.store import Store

    with tempfile.TemporaryDirectory(prefix="baton-pool-", dir=base) as tmp:
        directory = Path(tmp)
        loaded = runtime_bench.load_chain(directory, steps)
        db = directory / "baton.db"
        Store(db).close()
        baton = Path(sys.executable).parent / "baton"
        workers = subprocess.Popen(
            [str(baton), "worker", "--local", "-j", str(jobs), "--db", str(db)],
            cwd=directory,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:  # every worker up (its heartbeat in)
                with Store(db) as store:
                    if len(store.workers()) >= jobs:
                        break
                time.sleep(0.1)
            started = time.perf_counter()
            ids = [f"p{index}" for index in range(runs)]
            for run_id in ids:
                enqueue(db, loaded, runtime_bench.INPUTS, run_id)
            import sqlite3

            while True:
                with sqlite3.connect(db) as conn:
                    left = conn.execute(
                        "SELECT count(*) FROM runs WHERE status NOT IN ('succeeded', 'failed')"
                    ).fetchone()[0]
                if not left:
                    break
                time.sleep(0.02)
            elapsed = time.perf_counter() - started
        finally:
            workers.terminate()
            workers.wait(60)
        failed = [r for r in ids if get_state(db, r).outcome != "succeeded"]
        if failed:
            raise RuntimeError(f"{len(failed)} pool runs failed: {failed[:3]}")
    return {
        "jobs": jobs,
        "runs": runs,
        "steps": steps,
        "wall_s": elapsed,
        "steps_per_s": runs * steps / elapsed,
    }


def _threads(count: int, one: Any) -> float:
    errors: list[str] = []
    barrier = threading.Barrier(count + 1)

    def body(index: int) -> None:
        barrier.wait()
        try:
            one(index)
        except Exception as error:
            errors.append(repr(error))

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"{len(errors)} runs failed, first: {errors[0]}")
    return time.perf_counter() - started


def langgraph_concurrent(runs: int, steps: int, base: Path | None) -> dict[str, Any]:
    import itertools
    import sqlite3
    from typing import TypedDict

    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        n: int

    builder = StateGraph(State)
    names = [f"s{index}" for index in range(steps)]
    for index, name in enumerate(names):
        builder.add_node(name, lambda state, i=index: {"n": i})  # type: ignore[misc]
    builder.add_edge(START, names[0])
    for before, after in itertools.pairwise(names):
        builder.add_edge(before, after)
    builder.add_edge(names[-1], END)
    with tempfile.TemporaryDirectory(prefix="lg-", dir=base) as tmp:
        conn = sqlite3.connect(Path(tmp) / "cp.sqlite", check_same_thread=False)
        saver = SqliteSaver(conn)
        saver.setup()
        graph = builder.compile(checkpointer=saver)

        def one(index: int) -> None:
            config: Any = {"configurable": {"thread_id": uuid.uuid4().hex}}
            result = graph.invoke({"n": -1}, config, durability="sync")
            if result["n"] != steps - 1:
                raise RuntimeError(f"LangGraph returned {result}")

        _threads(max(1, runs // 10), one)  # warm-up
        elapsed = _threads(runs, one)
        conn.close()
    return {"runs": runs, "steps": steps, "wall_s": elapsed, "steps_per_s": runs * steps / elapsed}


def dbos_concurrent(runs: int, steps: int, base: Path | None) -> dict[str, Any]:
    from dbos import DBOS, DBOSConfig, SetWorkflowID

    sequential = runtime_peers._dbos_workflow()
    with tempfile.TemporaryDirectory(prefix="dbos-", dir=base) as tmp:
        config: DBOSConfig = {
            "name": "baton-scale-peer",
            "system_database_url": f"sqlite:///{Path(tmp) / 'dbos.sqlite'}",
            "log_level": "WARNING",
            "application_version": "baton-scale-peer",
        }
        DBOS(config=config)
        try:
            DBOS.launch()

            def one(index: int) -> None:
                with SetWorkflowID(f"peer-{uuid.uuid4().hex}"):
                    sequential(steps)

            _threads(max(1, runs // 10), one)
            elapsed = _threads(runs, one)
        finally:
            DBOS.destroy()
    return {"runs": runs, "steps": steps, "wall_s": elapsed, "steps_per_s": runs * steps / elapsed}


def _guard(name: str, measure: Any) -> dict[str, Any]:
    try:
        result: dict[str, Any] = measure()
        return result
    except Exception as error:  # a peer that cannot run here must not stop the rest
        return {"error": f"{name}: {type(error).__name__}: {error}"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    load_start = os.getloadavg()
    result: dict[str, Any] = {
        "machine": runtime_bench.machine(),
        "commit": runtime_bench.git("rev-parse", "--short", "HEAD"),
        "load_average_start": load_start,
        "marginal": marginal(args.rounds, args.dir),
        "single_process": runtime_bench.measure_concurrent(args.steps, args.runs, 1, args.dir),
        "pool": _guard("pool", lambda: pool(args.runs, args.steps, args.jobs, args.dir)),
        "langgraph": _guard(
            "langgraph", lambda: langgraph_concurrent(args.runs, args.steps, args.dir)
        ),
        "dbos": _guard("dbos", lambda: dbos_concurrent(args.runs, args.steps, args.dir)),
        "load_average_end": os.getloadavg(),
        "peer_versions": runtime_peers.peer_versions(),
    }
    m = result["marginal"]
    single = result["single_process"].get("steps_per_s", 0.0)
    pooled = result["pool"].get("steps_per_s", 0.0)
    result["verdicts"] = {
        "flat": m["flat_ratio"] <= FLAT_TARGET,
        "floor": m["floor_ratio_1000"] <= FLOOR_TARGET,
        "pool_vs_single": pooled / single if single else None,
        "pool_2x": bool(single) and pooled >= POOL_TARGET * single,
        "pool_above_peers": all(
            pooled > result[p].get("steps_per_s", 0.0) for p in ("langgraph", "dbos")
        ),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"load average {load_start} -> {result['load_average_end']}")
    print(
        f"marginal ms/step: 100-step {m['marginal_ms_100']:.3f}, "
        f"1000-step {m['marginal_ms_1000']:.3f} (x{m['flat_ratio']:.2f}); "
        f"floor {m['floor_ms']:.3f} (1000-step x{m['floor_ratio_1000']:.2f})"
    )
    for name in ("single_process", "pool", "langgraph", "dbos"):
        row = result[name]
        print(f"{name:15} {row.get('steps_per_s', 0):8.0f} steps/s  {row.get('error', '')}")
    print(json.dumps(result["verdicts"]))


if __name__ == "__main__":
    main()
