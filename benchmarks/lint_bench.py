"""Lint benchmark: `baton lint` as a whole process, side by side with its peers.

Run with `make bench` (installs the `bench` extra) or `python benchmarks/lint_bench.py`.

What it measures, all in one run on one machine (medians of N runs, whole process:
interpreter start, imports, parsing, checks, output):

- `baton lint FILE` on generated workflows of 100, 1000, 5000 and 10000 steps, shaped as
  a chain and as a seeded random DAG (each step needs 1-3 random earlier steps). Every
  workflow is valid: a small inline roster, one closed handoff, and each step's input is a
  template reading an upstream step's output, so the data-flow rules do real work.
- `statelint` (PyPI, a Python port of awslabs/statelint) on a 5000-state Amazon States
  Language chain (Pass states linked by `Next`): the peer for the 5000-step chain.
- `check-jsonschema --schemafile baton/compiler/data/spec.schema.json specs/research_report.yaml`
  (schema validation only) against `baton lint specs/` (the whole linter on the examples).

It prints a table and writes benchmarks/results/lint.json with the machine, the Python
version, every case's median and the ratios against their targets (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "lint.json"
SPEC_SCHEMA = ROOT / "baton" / "compiler" / "data" / "spec.schema.json"
SIZES = (100, 1000, 5000, 10000)
STATELINT_STATES = 5000
SEED = 20240601

# ratio name -> (numerator case, denominator case, target, how the target compares)
TARGETS = {
    "dag_10k_over_1k": ("baton dag 10000", "baton dag 1000", 11.0, "<="),
    "chain_10k_over_1k": ("baton chain 10000", "baton chain 1000", 11.0, "<="),
    "baton_chain_5k_over_statelint_5k": ("baton chain 5000", "statelint chain 5000", 2.0, "<="),
    "baton_specs_over_check_jsonschema": (
        "baton lint specs/",
        "check-jsonschema research_report.yaml",
        1.0,
        "<",
    ),
}


@dataclass
class Case:
    """One timed command: its wall-clock times and its CPU (user + sys) times."""

    name: str
    tool: str
    size: int | None
    argv: list[str]
    times_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)

    @property
    def median_s(self) -> float:
        return statistics.median(self.times_s)

    @property
    def cpu_median_s(self) -> float:
        return statistics.median(self.cpu_s)


# -- spec generation


def _step_name(index: int) -> str:
    return f"s{index:05d}"


def workflow_yaml(name: str, needs: list[list[int]]) -> str:
    """A valid workflow whose step i needs the steps in needs[i] (all earlier)."""
    lines = [
        "baton: 1",
        f"name: {name}",
        "owner: lead",
        "agents:",
        "  lead:",
        "    run: {builtin: echo}",
        "    delegates_to: [worker]",
        "  worker:",
        "    run: {builtin: echo}",
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
    for index, upstream in enumerate(needs):
        lines += [f"  {_step_name(index)}:", "    agent: worker"]
        if upstream:
            names = ", ".join(_step_name(u) for u in upstream)
            source = f"steps.{_step_name(upstream[0])}.output.text"
            lines.append(f"    needs: [{names}]")
        else:
            source = "inputs.topic"
        lines += [f'    input: {{text: "{{{{ {source} }}}}"}}', "    output: note@1"]
    lines.append(f"result: {_step_name(len(needs) - 1)}")
    return "\n".join(lines) + "\n"


def chain_needs(size: int) -> list[list[int]]:
    return [[index - 1] if index else [] for index in range(size)]


def dag_needs(size: int, seed: int) -> list[list[int]]:
    """Each step after the first needs 1-3 distinct random earlier steps (seeded)."""
    rng = random.Random(seed)
    needs: list[list[int]] = [[]]
    for index in range(1, size):
        count = min(index, rng.randint(1, 3))
        needs.append(sorted(rng.sample(range(index), count)))
    return needs


def asl_chain(states: int) -> str:
    """An Amazon States Language machine of `states` Pass states linked by `Next`."""
    machine: dict[str, object] = {"StartAt": "S0", "States": {}}
    body: dict[str, object] = {}
    for index in range(states):
        state: dict[str, object] = {"Type": "Pass"}
        if index + 1 < states:
            state["Next"] = f"S{index + 1}"
        else:
            state["End"] = True
        body[f"S{index}"] = state
    machine["States"] = body
    return json.dumps(machine, indent=2) + "\n"


def write_spec(directory: Path, name: str, text: str) -> Path:
    """Each spec in its own directory: `baton lint FILE` lints the file's directory too."""
    folder = directory / name
    folder.mkdir()
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# -- timing


def tool(name: str) -> str:
    """A console script installed next to this interpreter (the venv's bin/)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        sys.exit(f"{path} not found; install the bench extra: pip install -e '.[dev,bench]'")
    return str(path)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def child_env() -> dict[str, str]:
    """The environment of every timed command, with bytecode caching on.

    With PYTHONDONTWRITEBYTECODE set (some sandboxes and CI images set it) no tool could
    keep the `.pyc` files the warm-up writes, and every run would compile every imported
    module from source: that measures the compiler of CPython, not the linters, and
    penalizes the tool with the most Python code. Installed tools have their `.pyc`."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_once(case: Case, cwd: Path) -> tuple[float, float]:
    """(wall-clock, CPU) seconds of one run; a failing run, or a finding on a generated
    spec (which must be valid), stops the benchmark.

    CPU time is recorded too because it is far less disturbed than wall time when other
    work shares the machine's cores."""
    cpu_before = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(
        case.argv, cwd=cwd, capture_output=True, text=True, check=False, env=child_env()
    )
    elapsed = time.perf_counter() - start
    cpu = _children_cpu() - cpu_before
    if done.returncode != 0 or (case.tool == "baton" and done.stdout):
        sys.exit(
            f"benchmark command failed ({done.returncode}): {' '.join(case.argv)}\n"
            f"{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return elapsed, cpu


def measure(cases: list[Case], runs: int, cwd: Path) -> None:
    """One untimed warm-up per case (page cache, .pyc files), then `runs` rounds.

    Each round runs every case once, so a burst of other work on the machine spreads over
    all cases instead of skewing the one that happened to be running.
    """
    for case in cases:
        print(f"warm-up: {case.name}", file=sys.stderr, flush=True)
        run_once(case, cwd)
    for round_number in range(1, runs + 1):
        print(f"round {round_number}/{runs}", file=sys.stderr, flush=True)
        for case in cases:
            wall, cpu = run_once(case, cwd)
            case.times_s.append(wall)
            case.cpu_s.append(cpu)


# -- report


def cpu_model() -> str | None:
    """The CPU's model name on Linux (platform.processor() is often empty there)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return None


def machine_info() -> dict[str, object]:
    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    import yaml

    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": cpu_model() or platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "pyyaml_c_loader": hasattr(yaml, "CSafeLoader"),
        "versions": {
            dist: version(dist)
            for dist in ("baton-workflows", "statelint", "check-jsonschema", "pyyaml")
        },
    }


def source_state() -> dict[str, object]:
    """The commit measured, and whether the work tree had changes on top of it."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
            )
        except (OSError, subprocess.CalledProcessError):
            return None
        return done.stdout.strip()

    # --no-optional-locks: read only, never refresh the index of a tree others work in
    status = git("--no-optional-locks", "status", "--porcelain", "--untracked-files=no")
    dirty = bool(status) if status is not None else None
    return {"commit": git("rev-parse", "HEAD"), "dirty": dirty}


def ratios(cases: dict[str, Case]) -> dict[str, dict[str, object]]:
    """Each target ratio on wall-clock medians (the measure judged), and on CPU medians."""
    out: dict[str, dict[str, object]] = {}
    for name, (top, bottom, target, compare) in TARGETS.items():
        value = cases[top].median_s / cases[bottom].median_s
        met = value <= target if compare == "<=" else value < target
        out[name] = {
            "numerator": top,
            "denominator": bottom,
            "value": round(value, 3),
            "cpu_value": round(cases[top].cpu_median_s / cases[bottom].cpu_median_s, 3),
            "target": f"{compare} {target:g}",
            "met": met,
        }
    return out


def shown_command(argv: list[str], tmp: Path) -> str:
    """The command without machine-specific paths: tools by name, files relative."""
    parts = [Path(argv[0]).name]
    for arg in argv[1:]:
        if arg.startswith(str(tmp)):
            arg = "$TMP" + arg[len(str(tmp)) :]
        elif arg.startswith(str(ROOT)):
            arg = os.path.relpath(arg, ROOT)
        parts.append(arg)
    return " ".join(parts)


def print_table(cases: list[Case], report: dict[str, dict[str, object]]) -> None:
    width = max(len(c.name) for c in cases)
    print(f"{'case':<{width}}  {'median':>9}  {'min':>9}  {'max':>9}  {'cpu median':>10}")
    for case in cases:
        print(
            f"{case.name:<{width}}  {case.median_s:>8.3f}s  {min(case.times_s):>8.3f}s  "
            f"{max(case.times_s):>8.3f}s  {case.cpu_median_s:>9.3f}s"
        )
    print()
    for name, ratio in report.items():
        verdict = "met" if ratio["met"] else "MISSED"
        print(
            f"{name:<36} {ratio['value']:>7}  (target {ratio['target']}: {verdict}; "
            f"on CPU time {ratio['cpu_value']})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per case (median)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write JSON")
    args = parser.parse_args()

    baton, statelint, check_jsonschema = tool("baton"), tool("statelint"), tool("check-jsonschema")
    # other work on the machine skews whole-process timings; the load average records it
    load_start = os.getloadavg()
    source = source_state()
    cases: list[Case] = [
        Case("python -c pass (floor)", "python", None, [sys.executable, "-c", "pass"]),
        Case(
            "check-jsonschema research_report.yaml",
            "check-jsonschema",
            None,
            [
                check_jsonschema,
                "--schemafile",
                str(SPEC_SCHEMA),
                str(ROOT / "specs" / "research_report.yaml"),
            ],
        ),
        Case("baton lint specs/", "baton", None, [baton, "lint", str(ROOT / "specs")]),
    ]
    with tempfile.TemporaryDirectory(prefix="baton-lint-bench-") as tmp:
        directory = Path(tmp)
        for size in SIZES:
            for shape, needs in (
                ("chain", chain_needs(size)),
                ("dag", dag_needs(size, SEED + size)),
            ):
                name = f"{shape}_{size}"
                path = write_spec(directory, name, workflow_yaml(name, needs))
                cases.append(
                    Case(f"baton {shape} {size}", "baton", size, [baton, "lint", str(path)])
                )
        asl = directory / "asl_chain.json"
        asl.write_text(asl_chain(STATELINT_STATES), encoding="utf-8")
        cases.append(
            Case(
                f"statelint chain {STATELINT_STATES}",
                "statelint",
                STATELINT_STATES,
                [statelint, str(asl)],
            )
        )
        measure(cases, args.runs, directory)

    load_end = os.getloadavg()
    by_name = {case.name: case for case in cases}
    report = ratios(by_name)
    print_table(cases, report)
    result = {
        "benchmark": "lint",
        "method": "whole process, subprocess wall clock; one warm-up per case (which "
        "writes .pyc files: PYTHONDONTWRITEBYTECODE is unset for the commands), then rounds "
        "that run every case once; median per case",
        "runs": args.runs,
        "seed": SEED,
        "machine": machine_info(),
        "source": source,
        "load_average_1_5_15": {
            "start": [round(x, 2) for x in load_start],
            "end": [round(x, 2) for x in load_end],
        },
        "cases": [
            {
                "name": case.name,
                "tool": case.tool,
                "size": case.size,
                "median_s": round(case.median_s, 4),
                "times_s": [round(t, 4) for t in case.times_s],
                "cpu_median_s": round(case.cpu_median_s, 4),
                "cpu_s": [round(t, 4) for t in case.cpu_s],
                "command": shown_command(case.argv, directory),
            }
            for case in cases
        ],
        "ratios": report,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
