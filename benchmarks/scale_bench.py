"""Scale benchmark (issue 15): per-step cost as a run grows, and a local worker pool.

    python benchmarks/scale_bench.py [--rounds 3] [--pool-rounds 3] [--runs 100] [--steps 20]
                                     [--jobs 2] [--no-peers] [--no-marginal]

All in one invocation, on one machine (the load average is recorded):

- **Marginal per-step cost** of a chain of builtin `echo` steps (runtime_bench's chain):
  the marginal cost on an N-step chain is (T(N) - T(N/10)) / (N - N/10), for N = 100 and
  N = 1,000 (median of `--rounds` runs of each length, rounds interleaved); next to the
  SQLite WAL+FULL committed-insert floor measured in the same rounds. Targets: the
  1,000-step figure within 1.2x of the 100-step one (flat), and at most 2.5x the floor.
- **Concurrent runs**: `--runs` runs x `--steps` steps: in one process (runtime_bench's
  threads, one run each, group commit); through `baton worker --local -j 1` and `-j N`
  (after an untimed warm-up batch, as the single process has; the clock runs from the
  enqueue of the runs, one transaction, to the last run's end); LangGraph (SqliteSaver,
  durability sync) and DBOS (SQLite) on the same shape, one thread per run, each in a
  process of its own. `--pool-rounds` interleaved rounds of all five, medians shown.
  Targets: `-j N` at least 2x the single process, and above the peers.

Prints a table (one row each: one process, -j 1, -j N, LangGraph, DBOS, with every
round's figure and the load average at its start in the JSON) and writes
benchmarks/results/scale.json. The peers need the `bench-runtime` extra in the same
environment: `UV_PROJECT_ENVIRONMENT=.venv .venv/bin/uv sync --locked --extra dev --extra
bench --extra bench-runtime`. `--no-peers` and `--no-marginal` leave those parts out.
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
# The single-process figure issue 15 stated when it was filed (100 runs x 20 steps, this
# VM): its target reads "at least 2x today's single-process figure". The single process
# has since become faster itself, so the verdicts give both ratios: against that figure,
# and against the single process measured in the same run.
FILED_SINGLE_PROCESS = 1060.0


def marginal(rounds: int, base: Path | None) -> dict[str, Any]:
    lengths = (10, 100, 1000)
    seconds: dict[int, list[float]] = {n: [] for n in lengths}
    cpu: dict[int, list[float]] = {n: [] for n in lengths}  # this process's CPU time
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
                before = time.process_time()
                seconds[n].append(chains[n].run_once())
                cpu[n].append(time.process_time() - before)
            row = runtime_peers.measure_sqlite_floor(steps=100, runs=1, warmup=1, base=base)
            floor.append(row["run_ms"] / 100)
    median = {n: statistics.median(seconds[n]) for n in lengths}
    m100 = (median[100] - median[10]) * 1000 / 90
    m1000 = (median[1000] - median[100]) * 1000 / 900
    floor_ms = statistics.median(floor)
    # CPU time as well: wall time includes the fsyncs and whatever else the machine
    # runs, and on a shared VM that noise can move the wall ratio by 0.1 between runs
    cpu_median = {n: statistics.median(cpu[n]) for n in lengths}
    c100 = (cpu_median[100] - cpu_median[10]) * 1000 / 90
    c1000 = (cpu_median[1000] - cpu_median[100]) * 1000 / 900
    return {
        "run_s": {str(n): median[n] for n in lengths},
        "marginal_ms_100": m100,
        "marginal_ms_1000": m1000,
        "flat_ratio": m1000 / m100,
        "floor_ms": floor_ms,
        "floor_ratio_1000": m1000 / floor_ms,
        "floor_ratio_100": m100 / floor_ms,
        "cpu_marginal_ms_100": c100,
        "cpu_marginal_ms_1000": c1000,
        "cpu_flat_ratio": c1000 / c100,
        "run_s_all": {str(n): seconds[n] for n in lengths},
    }


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a live process used so far (/proc/PID/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def pool(runs: int, steps: int, jobs: int, base: Path | None) -> dict[str, Any]:
    """`baton worker --local -j JOBS` driving RUNS queued runs of STEPS steps.

    As the single process's measurement does, a warm-up batch (RUNS/10 runs) goes
    through the workers first, untimed (each worker's imports, compiled templates and
    schemas, its database connections). Then the clock runs from the enqueue of the
    RUNS runs (`enqueue_many`: one transaction) to the end of the last one. Each worker
    may drive all RUNS at once (`--runs-per-worker RUNS`, as the single process drives
    RUNS threads); the workers share them out (runtime.pool.Worker._claim).
    """
    import sqlite3

    from baton.runtime.api import get_state
    from baton.runtime.pool import enqueue_many
    from baton.runtime.store import Store

    with tempfile.TemporaryDirectory(prefix="baton-pool-", dir=base) as tmp:
        directory = Path(tmp)
        loaded = runtime_bench.load_chain(directory, steps)
        db = directory / "baton.db"
        Store(db).close()
        baton = Path(sys.executable).parent / "baton"
        argv = [str(baton), "worker", "--local", "-j", str(jobs), "--db", str(db)]
        workers = subprocess.Popen(
            [*argv, "--runs-per-worker", str(runs)], cwd=directory, stderr=subprocess.DEVNULL
        )
        watch = sqlite3.connect(db)

        def left() -> int:
            return int(
                watch.execute(
                    "SELECT count(*) FROM runs WHERE status NOT IN ('succeeded', 'failed')"
                ).fetchone()[0]
            )

        def drive(label: str, count: int) -> tuple[float, float]:
            enqueue_many(db, loaded, [(runtime_bench.INPUTS, f"{label}{i}") for i in range(count)])
            enqueued = time.perf_counter()
            while left():
                time.sleep(0.005)
            return enqueued, time.perf_counter()

        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:  # every worker up (its heartbeat in)
                with Store(db) as store:
                    if len(store.workers()) >= jobs:
                        break
                time.sleep(0.05)
            drive("warm", max(1, runs // 10))
            pids = _children(workers.pid) if jobs > 1 else [workers.pid]
            cpu = [_cpu_s(pid) for pid in pids]
            started = time.perf_counter()
            enqueued, ended = drive("p", runs)
            elapsed = ended - started
            cpu = [_cpu_s(pid) - before for pid, before in zip(pids, cpu, strict=True)]
        finally:
            watch.close()
            workers.terminate()
            workers.wait(60)
        ids = [f"p{index}" for index in range(runs)]
        failed = [r for r in ids if get_state(db, r).outcome != "succeeded"]
        if failed:
            raise RuntimeError(f"{len(failed)} pool runs failed: {failed[:3]}")
    return {
        "jobs": jobs,
        "runs": runs,
        "steps": steps,
        "wall_s": elapsed,
        "enqueue_s": enqueued - started,
        "steps_per_s": runs * steps / elapsed,
        "worker_cpu_s": cpu,
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


PEERS = {"langgraph": langgraph_concurrent, "dbos": dbos_concurrent}


def peer(name: str, runs: int, steps: int, base: Path | None) -> dict[str, Any]:
    """A peer measured in a process of its own (as Baton's single process and workers
    are): DBOS keeps a global registry, and no peer warms another's imports."""
    argv = [sys.executable, __file__, "--child-peer", name, "--runs", str(runs)]
    argv += ["--steps", str(steps)] + (["--dir", str(base)] if base is not None else [])
    done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        return {"error": f"{name}: exit {done.returncode}: {done.stderr.strip()[-500:]}"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _guard(name: str, measure: Any) -> dict[str, Any]:
    try:
        result: dict[str, Any] = measure()
        return result
    except Exception as error:  # a peer that cannot run here must not stop the rest
        return {"error": f"{name}: {type(error).__name__}: {error}"}


def concurrent(args: argparse.Namespace) -> dict[str, Any]:
    """One-process Baton, the pool with -j 1 and -j JOBS, LangGraph and DBOS, in
    `--pool-rounds` interleaved rounds (so a change in the machine's load hits each
    alike); each row's median, each measurement with the load average at its start."""
    rows: dict[str, str] = {
        "single_process": "baton, one process",
        "pool_j1": "baton worker --local -j 1",
        f"pool_j{args.jobs}": f"baton worker --local -j {args.jobs}",
    }
    if not args.no_peers:
        rows |= {"langgraph": "LangGraph (SqliteSaver, sync)", "dbos": "DBOS (SQLite)"}
    measure: dict[str, Any] = {
        "single_process": lambda: runtime_bench.measure_concurrent(
            args.steps, args.runs, 1, args.dir
        ),
        "pool_j1": lambda: pool(args.runs, args.steps, 1, args.dir),
        f"pool_j{args.jobs}": lambda: pool(args.runs, args.steps, args.jobs, args.dir),
        "langgraph": lambda: peer("langgraph", args.runs, args.steps, args.dir),
        "dbos": lambda: peer("dbos", args.runs, args.steps, args.dir),
    }
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in rows}
    for round_index in range(args.pool_rounds):
        for name in rows:
            load = os.getloadavg()[0]
            row = _guard(name, measure[name])
            row["load_1m"] = load
            samples[name].append(row)
            rate = row.get("steps_per_s")
            shown = f"{rate:8.0f} steps/s" if rate else row.get("error", "")[:200]
            print(f"  round {round_index + 1} {name:15} {shown}  (load {load:.2f})", flush=True)
    out: dict[str, Any] = {}
    for name, label in rows.items():
        good = [row for row in samples[name] if "steps_per_s" in row]
        out[name] = {
            "label": label,
            "steps_per_s": statistics.median(r["steps_per_s"] for r in good) if good else None,
            "samples": samples[name],
        }
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the marginal cost")
    parser.add_argument("--pool-rounds", type=int, default=3, help="rounds of the concurrent rows")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--no-marginal", action="store_true", help="only the concurrent rows")
    parser.add_argument("--no-peers", action="store_true", help="leave LangGraph and DBOS out")
    parser.add_argument("--child-peer", choices=sorted(PEERS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_peer:
        print(json.dumps(PEERS[args.child_peer](args.runs, args.steps, args.dir)))
        return
    load_start = os.getloadavg()
    print(f"load average at start {load_start} ({os.cpu_count()} CPUs)", flush=True)
    result: dict[str, Any] = {
        "machine": runtime_bench.machine(),
        "commit": runtime_bench.git("rev-parse", "--short", "HEAD"),
        "load_average_start": load_start,
    }
    if not args.no_marginal:
        result["marginal"] = marginal(args.rounds, args.dir)
    result["concurrent"] = concurrent(args)
    result["load_average_end"] = os.getloadavg()
    result["peer_versions"] = runtime_peers.peer_versions()
    rows = result["concurrent"]
    single = rows["single_process"]["steps_per_s"] or 0.0
    pooled = rows[f"pool_j{args.jobs}"]["steps_per_s"] or 0.0
    verdicts: dict[str, Any] = {
        "pool_vs_single": pooled / single if single else None,
        "pool_2x": bool(single) and pooled >= POOL_TARGET * single,
        "pool_vs_filed_single": pooled / FILED_SINGLE_PROCESS,
        "pool_2x_filed_single": pooled >= POOL_TARGET * FILED_SINGLE_PROCESS,
    }
    if not args.no_peers:
        verdicts["pool_above_peers"] = all(
            pooled > (rows[p]["steps_per_s"] or 0.0) for p in ("langgraph", "dbos")
        )
    if "marginal" in result:
        m = result["marginal"]
        verdicts |= {"flat": m["flat_ratio"] <= FLAT_TARGET}
        verdicts |= {"floor": m["floor_ratio_1000"] <= FLOOR_TARGET}
    result["verdicts"] = verdicts
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"load average {load_start} -> {result['load_average_end']}")
    if "marginal" in result:
        m = result["marginal"]
        print(
            f"marginal ms/step: 100-step {m['marginal_ms_100']:.3f}, "
            f"1000-step {m['marginal_ms_1000']:.3f} (x{m['flat_ratio']:.2f}); "
            f"floor {m['floor_ms']:.3f} (1000-step x{m['floor_ratio_1000']:.2f}); "
            f"CPU ms/step: 100-step {m['cpu_marginal_ms_100']:.3f}, "
            f"1000-step {m['cpu_marginal_ms_1000']:.3f} (x{m['cpu_flat_ratio']:.2f})"
        )
    print(
        f"\n{args.runs} concurrent runs x {args.steps} builtin echo steps, "
        f"median of {args.pool_rounds} interleaved rounds:"
    )
    print(f"  {'':32} {'steps/s':>9} {'x one process':>14}  per round")
    for row in rows.values():
        rate = row["steps_per_s"]
        ratio = f"{rate / single:13.2f}x" if rate and single else f"{'-':>14}"
        each = ", ".join(
            f"{s['steps_per_s']:.0f}" if "steps_per_s" in s else "error" for s in row["samples"]
        )
        shown = f"{rate:9.0f}" if rate else f"{'-':>9}"
        print(f"  {row['label']:32} {shown} {ratio}  {each}")
    print(json.dumps(verdicts))


if __name__ == "__main__":
    main()
