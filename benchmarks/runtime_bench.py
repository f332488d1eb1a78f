"""Runtime benchmark (issue 4, "Speed"): Baton's local runtime next to its peers, one run.

    python benchmarks/runtime_bench.py [--rounds 30] [--runs 10] [--peers langgraph dbos ...]

What it measures, all in one invocation on one machine:

- **Sequential**: a workflow of `--steps` (20) sequential no-op steps, each the builtin
  `echo` agent with a one-field handoff (`{text}`, validated, checksummed, committed),
  its input a template reading the step before. The spec is written to a temp dir and
  compiled in memory exactly as `baton run SPEC` does; each timed run is one
  `runtime.api.start_run` call (open the store, record the run, drive every step, close)
  on one database file. Per-step overhead = the run's wall time / steps, median over the
  timed runs (after `--warmup` untimed ones); the process CPU time per step too.
  The same chain with a python agent (a function returning its input) is measured
  alongside: a builtin agent that answers at once runs in the driver's thread, a python
  agent in worker threads (so that its timeout holds), which costs thread hand-offs.
- **The floor**, in the same loop: SQLite WAL + `synchronous=FULL`, one committed INSERT
  per step (`runtime_peers.measure_sqlite_floor`, one timed run after an untimed one).
  `--rounds` rounds of one floor run and one run of each Baton chain, the order rotating,
  so that a change of the machine's load or disk latency hits all alike; the ratio is
  reported as the ratio of the medians and as the median of the per-round ratios.
- **Peers** (`benchmarks/runtime_peers.py`, `--runs` timed runs each): LangGraph +
  SqliteSaver (durability sync), DBOS on SQLite, Temporal's dev server with one activity
  per step. A peer that cannot run here is reported with its error; the rest go on.
- **Concurrent**: `--concurrent` (100) runs x `--steps` steps started at once, one thread
  each (the drivers of one process group-commit their events), in a fresh child process
  so that its peak RSS is its own: steps per second (all steps / wall time until the last
  run ended) and peak RSS (`ru_maxrss`), median of `--concurrent-rounds` (3) batches
  after one untimed batch of a tenth the size.

Targets (DESIGN.md, "Performance targets"): per-step overhead <= 2.5x the floor of the
same run; concurrent steps/s above one commit per floor time (1000 / floor ms).

Prints a table and writes benchmarks/results/runtime.json (machine, load average,
Python, commit, versions, every figure). The peers need the `bench-runtime` extra.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "benchmarks"
RESULTS = HERE / "results" / "runtime.json"
if str(HERE) not in sys.path:  # the sibling runtime_peers, under its own module name
    sys.path.insert(0, str(HERE))
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import runtime_peers  # noqa: E402

PER_STEP_TARGET = 2.5  # x the floor measured in the same run
PEERS = ("langgraph", "dbos", "temporal")
INPUTS = {"topic": "durable multi-agent workflows"}


ECHO = "{builtin: echo}"
PYTHON_NOOP = '{python: "bench_noop_agent:noop"}'
NOOP_MODULE = '''"""A python agent that does nothing: its output is its input."""


def noop(request):
    return {"text": request.input["text"]}
'''


def chain_spec(steps: int, run: str = ECHO) -> str:
    """A workflow of `steps` no-op steps in a chain, each reading the output before it;
    `run` is the agent's `run:` (the builtin `echo`, or a python function)."""
    lines = [
        "baton: 1",
        "name: bench_chain",
        "version: 1",
        "description: Sequential no-op steps for the runtime benchmark.",
        "owner: lead",
        "agents:",
        "  lead:",
        f"    run: {run}",
        "    delegates_to: []",
        "inputs:",
        "  type: object",
        "  required: [topic]",
        "  additionalProperties: false",
        "  properties:",
        "    topic: {type: string}",
        "handoffs:",
        "  note:",
        "    versions:",
        "      1:",
        "        type: object",
        "        required: [text]",
        "        additionalProperties: false",
        "        properties:",
        "          text: {type: string}",
        "steps:",
    ]
    for index in range(steps):
        source = f"steps.s{index - 1:03d}.output.text" if index else "inputs.topic"
        lines += [f"  s{index:03d}:", "    agent: lead"]
        if index:
            lines.append(f"    needs: [s{index - 1:03d}]")
        lines += [f'    input: {{text: "{{{{ {source} }}}}"}}', "    output: note@1"]
    lines.append(f"result: s{steps - 1:03d}")
    return "\n".join(lines) + "\n"


def load_chain(directory: Path, steps: int, run: str = ECHO) -> Any:
    """The chain workflow, compiled in memory from a spec file as `baton run` does."""
    from baton.commands._load import load_spec

    if run == PYTHON_NOOP:
        (directory / "bench_noop_agent.py").write_text(NOOP_MODULE, encoding="utf-8")
        if str(directory) not in sys.path:
            sys.path.insert(0, str(directory))
    spec = directory / "bench_chain.yaml"
    spec.write_text(chain_spec(steps, run), encoding="utf-8")
    return load_spec(str(spec))


class BatonSequential:
    """Sequential runs of the chain on one database file (kept across rounds)."""

    def __init__(self, directory: Path, steps: int, run: str = ECHO) -> None:
        from baton.runtime import api

        self.api = api
        self.steps = steps
        self.db = directory / "baton.db"
        self.loaded = load_chain(directory, steps, run)
        self.count = 0
        self.seconds: list[float] = []
        self.cpu: list[float] = []

    def run_once(self) -> float:
        run_id = f"seq-{self.count}"
        self.count += 1
        started = time.perf_counter()
        result = self.api.start_run(self.db, self.loaded, INPUTS, run_id)
        elapsed = time.perf_counter() - started
        if result.state.outcome != "succeeded":
            raise RuntimeError(f"run {run_id} ended {result.state.outcome}: {result.state.error}")
        return elapsed

    def timed(self) -> None:
        cpu = time.process_time()
        self.seconds.append(self.run_once())
        self.cpu.append(time.process_time() - cpu)

    def summary(self, floor_seconds: list[float]) -> dict[str, Any]:
        import sqlite3

        with sqlite3.connect(self.db) as db:
            row = db.execute(
                "SELECT count(*) * 1.0 / count(DISTINCT run_id) FROM events"
            ).fetchone()
        pairs = [b / f for b, f in zip(self.seconds, floor_seconds, strict=True)]
        result: dict[str, Any] = runtime_peers.summarize(
            self.seconds,
            self.steps,
            events_per_run=float(round(float(row[0]))),
            cpu_per_step_ms=statistics.median(self.cpu) * 1000 / self.steps,
            paired_ratio_median=statistics.median(pairs),
        )
        return result


def measure_sequential(
    steps: int, rounds: int, warmup: int, base: Path | None
) -> dict[str, dict[str, Any]]:
    """The floor and Baton (echo agent; python no-op agent) from `rounds` rounds of one
    floor run (in a fresh database, after one untimed run) and one run of each Baton
    variant, the order rotating, so that a change of the machine's load or disk latency
    hits all of them alike."""
    floor_seconds: list[float] = []

    def floor_once() -> None:
        row = runtime_peers.measure_sqlite_floor(steps=steps, runs=1, warmup=1, base=base)
        floor_seconds.append(row["run_ms"] / 1000)

    with (
        tempfile.TemporaryDirectory(prefix="baton-bench-", dir=base) as echo_dir,
        tempfile.TemporaryDirectory(prefix="baton-bench-py-", dir=base) as python_dir,
    ):
        echo = BatonSequential(Path(echo_dir), steps)
        python = BatonSequential(Path(python_dir), steps, PYTHON_NOOP)
        for _ in range(warmup):
            echo.run_once()
            python.run_once()
        order = [floor_once, echo.timed, python.timed]
        for index in range(rounds):
            shift = index % len(order)
            for measure in order[shift:] + order[:shift]:
                measure()
        return {
            "sqlite_floor": runtime_peers.summarize(floor_seconds, steps),
            "baton": echo.summary(floor_seconds),
            "baton_python_agent": python.summary(floor_seconds),
        }


def measure_peers(
    steps: int, runs: int, warmup: int, peers: tuple[str, ...], base: Path | None
) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    for name in peers:
        try:
            results[name] = runtime_peers.MEASURES[name](
                steps=steps, runs=runs, warmup=warmup, base=base
            )
        except Exception as error:  # a peer that cannot run here must not stop the rest
            results[name] = {"error": f"{type(error).__name__}: {error}"}
    return results


# --- concurrent runs, in a child process of their own ---


def concurrent_child(steps: int, runs: int, rounds: int, base: Path | None) -> dict[str, Any]:
    """Run in the child: `rounds` batches of `runs` concurrent runs (after a warm-up)."""
    import psutil  # type: ignore[import-untyped]

    from baton.runtime import api

    process = psutil.Process()
    batches: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="baton-bench-conc-", dir=base) as tmp:
        directory = Path(tmp)
        loaded = load_chain(directory, steps)
        db = directory / "baton.db"
        rss_before = process.memory_info().rss

        def batch(label: str, count: int) -> float:
            errors: list[str] = []
            barrier = threading.Barrier(count + 1)

            def one(index: int) -> None:
                barrier.wait()
                try:
                    result = api.start_run(db, loaded, INPUTS, f"{label}-{index}")
                    if result.state.outcome != "succeeded":
                        errors.append(f"{label}-{index}: {result.state.outcome}")
                except Exception as error:
                    errors.append(f"{label}-{index}: {error!r}")

            threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
            for thread in threads:
                thread.start()
            barrier.wait()
            started = time.perf_counter()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
            if errors:
                raise RuntimeError(f"{len(errors)} runs failed, first: {errors[0]}")
            return elapsed

        batch("warmup", max(1, runs // 10))
        for index in range(rounds):
            seconds = batch(f"c{index}", runs)
            batches.append({"wall_s": seconds, "steps_per_s": runs * steps / seconds})
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "runs": runs,
        "steps": steps,
        "rounds": rounds,
        "steps_per_s": statistics.median(b["steps_per_s"] for b in batches),
        "steps_per_s_min": min(b["steps_per_s"] for b in batches),
        "steps_per_s_max": max(b["steps_per_s"] for b in batches),
        "wall_s": statistics.median(b["wall_s"] for b in batches),
        "batches": batches,
        "peak_rss_mb": peak_kb / 1024,
        "rss_before_runs_mb": rss_before / 2**20,
    }


def measure_concurrent(steps: int, runs: int, rounds: int, base: Path | None) -> dict[str, Any]:
    argv = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child-concurrent",
        "--steps",
        str(steps),
        "--concurrent",
        str(runs),
        "--concurrent-rounds",
        str(rounds),
    ]
    if base is not None:
        argv += ["--dir", str(base)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        return {"error": f"exit {done.returncode}: {done.stderr.strip()[-2000:]}"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --- the record ---


def machine() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "processor": model,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
    }


def git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout.strip()


def verdicts(
    baton: dict[str, Any], floor: dict[str, Any], concurrent: dict[str, Any]
) -> dict[str, Any]:
    ratio = baton["per_step_ms"] / floor["per_step_ms"]
    floor_rate = 1000 / floor["per_step_ms"]
    out: dict[str, Any] = {
        "per_step": {
            "target": f"<= {PER_STEP_TARGET}x the floor",
            "ratio": round(ratio, 2),
            "met": ratio <= PER_STEP_TARGET,
        },
    }
    if "steps_per_s" in concurrent:
        out["concurrent"] = {
            "target": "steps/s > one commit per floor time (1000 / floor ms)",
            "floor_commits_per_s": round(floor_rate, 1),
            "steps_per_s": round(concurrent["steps_per_s"], 1),
            "ratio": round(concurrent["steps_per_s"] / floor_rate, 2),
            "met": concurrent["steps_per_s"] > floor_rate,
        }
    return out


def table(
    rows: dict[str, dict[str, Any]], floor_ms: float, steps: int, runs_note: str
) -> list[str]:
    header = (
        f"{'system':<22} {'per step ms':>11} {'min':>8} {'max':>8} {'run ms':>9} {'x floor':>8}"
    )
    lines = [f"{steps} sequential no-op steps, per-step medians ({runs_note})", header]
    lines.append("-" * len(header))
    for name, row in rows.items():
        if "error" in row:
            lines.append(f"{name:<22} not measured: {row['error'][:100]}")
            continue
        lines.append(
            f"{name:<22} {row['per_step_ms']:>11.3f} {row['per_step_ms_min']:>8.3f} "
            f"{row['per_step_ms_max']:>8.3f} {row['run_ms']:>9.1f} "
            f"{row['per_step_ms'] / floor_ms:>8.2f}"
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=30, help="timed floor/Baton run pairs")
    parser.add_argument("--runs", type=int, default=10, help="timed runs per peer")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--peers", nargs="*", choices=PEERS, default=list(PEERS))
    parser.add_argument("--concurrent", type=int, default=100, help="concurrent runs (0: skip)")
    parser.add_argument("--concurrent-rounds", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="parent of the temp dirs")
    parser.add_argument("--output", type=Path, default=RESULTS, help="the JSON result file")
    parser.add_argument("--child-concurrent", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_concurrent:
        result = concurrent_child(args.steps, args.concurrent, args.concurrent_rounds, args.dir)
        print(json.dumps(result))
        return
    logging.getLogger("dbos").setLevel(logging.WARNING)

    load_start = os.getloadavg()
    started = time.time()
    sequential = measure_sequential(args.steps, args.rounds, args.warmup, args.dir)
    floor, baton = sequential["sqlite_floor"], sequential["baton"]
    peers = measure_peers(args.steps, args.runs, 1, tuple(args.peers), args.dir)
    concurrent: dict[str, Any] = {}
    if args.concurrent:
        concurrent = measure_concurrent(
            args.steps, args.concurrent, args.concurrent_rounds, args.dir
        )
    load_end = os.getloadavg()

    rows = {
        "sqlite floor (WAL+FULL)": floor,
        "baton local, echo": baton,
        "baton local, python": sequential["baton_python_agent"],
        **peers,
    }
    note = f"{args.rounds} paired runs of the floor and Baton, {args.runs} runs per peer"
    lines = table(rows, floor["per_step_ms"], args.steps, note)
    checks = verdicts(baton, floor, concurrent)
    per_step = checks["per_step"]
    lines.append(
        f"baton / floor = {per_step['ratio']:.2f} (target <= {PER_STEP_TARGET}): "
        + ("met" if per_step["met"] else "MISSED")
        + f"; median of the paired ratios {baton['paired_ratio_median']:.2f}; "
        + f"Baton CPU {baton['cpu_per_step_ms']:.3f} ms per step ({baton['events_per_run']:.0f}"
        + " events per run)"
    )
    if "error" in concurrent:
        lines.append(f"concurrent: not measured: {concurrent['error'][:300]}")
    elif concurrent:
        c = checks["concurrent"]
        lines.append(
            f"{args.concurrent} concurrent runs x {args.steps} steps: "
            f"{concurrent['steps_per_s']:.0f} steps/s (min {concurrent['steps_per_s_min']:.0f}, "
            f"max {concurrent['steps_per_s_max']:.0f}), peak RSS {concurrent['peak_rss_mb']:.0f} MB"
            f" ({concurrent['rss_before_runs_mb']:.0f} MB before the runs); one commit per floor "
            f"time = {c['floor_commits_per_s']:.0f}/s: " + ("met" if c["met"] else "MISSED")
        )
    lines.append(
        f"load average {load_start[0]:.2f} at the start, {load_end[0]:.2f} at the end "
        f"({os.cpu_count()} cpus)"
    )
    print("\n".join(lines))

    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    payload = {
        "benchmark": "runtime",
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(started)),
        "commit": git("rev-parse", "--short", "HEAD"),
        "work_tree_changed": dirty,
        "machine": machine(),
        "load_average": {
            "start": [round(x, 2) for x in load_start],
            "end": [round(x, 2) for x in load_end],
        },
        "versions": {**runtime_peers.peer_versions(), "python": platform.python_version()},
        "parameters": {
            "steps": args.steps,
            "runs": args.runs,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "concurrent": args.concurrent,
            "concurrent_rounds": args.concurrent_rounds,
        },
        "sequential": {**sequential, **peers},
        "concurrent": concurrent,
        "targets": checks,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    shown = args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output
    print(f"wrote {shown}")


if __name__ == "__main__":
    main()
