"""Compile benchmark: `baton compile` as a whole process, and the import cost of its output.

Run with `python benchmarks/compile_bench.py` (or `make bench` once wired).

What it measures (medians of N runs, wall clock and CPU of the child process):

- `baton compile specs/ -o TMP`: the example specs, whole process (interpreter start,
  imports, lint, codegen, writing). Target: under 1 s.
- `baton compile DIR -o TMP` on 100 generated workflows of 20 steps each (a seeded random
  DAG per workflow, three handoffs with two versions, a shared roster file, templates
  reading upstream outputs, some retries and approvals): codegen at scale.
- Importing one generated module (`generated.research_report`) in a fresh interpreter
  after `import baton.runtime`: the cost a run pays for its compiled workflow beyond the
  runtime's own import. Target: under 50 ms. A module defines its pydantic models on
  first use, so this imports no pydantic; reported also with pydantic already imported,
  and as the first use of a model after the import (defining every model of the module,
  importing pydantic if needed, and building one model's validator).

It prints a table and writes benchmarks/results/compile.json.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "compile.json"
SEED = 20240601
WORKFLOWS, STEPS = 100, 20
TARGETS = {  # case -> (target seconds, what it is compared against)
    "compile specs/": (1.0, "whole process, wall clock"),
    "import module beyond runtime": (0.050, "wall clock inside the process"),
}

ROSTER = """\
baton: 1
kind: roster
agents:
  lead: {run: {builtin: echo}, delegates_to: [worker, reviewer]}
  worker: {run: {builtin: echo}, delegates_to: []}
  reviewer: {run: {builtin: echo}, delegates_to: []}
approvers:
  manager: [alice, bob]
"""


@dataclass
class Case:
    """One timed measurement and its samples."""

    name: str
    detail: str
    times_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)

    @property
    def median_s(self) -> float:
        return statistics.median(self.times_s)


def workflow_yaml(name: str, rng: random.Random) -> str:
    """A valid workflow of STEPS steps in a random DAG, with realistic policies."""
    lines = [
        "baton: 1",
        f"name: {name}",
        "version: 2",
        f"description: Generated workflow {name} for the compile benchmark.",
        "roster: roster.yaml",
        "owner: lead",
        "inputs:",
        "  type: object",
        "  required: [topic, client]",
        "  additionalProperties: false",
        "  properties:",
        "    topic: {type: string, maxLength: 200}",
        "    client: {type: string}",
        "    notes: {type: string, x-baton-trust: untrusted}",
        "handoffs:",
    ]
    for handoff in ("brief", "verdict", "receipt"):
        lines += [f"  {handoff}:", "    compatibility: backward", "    versions:"]
        for version in (1, 2):
            lines += [
                f"      {version}:",
                "        type: object",
                "        required: [summary, status]",
                "        additionalProperties: false",
                "        properties:",
                "          summary: {type: string, minLength: 1}",
                "          status: {enum: [ok, retry, fail]}",
                "          sources: {type: array, items: {type: string}}",
                "          items:",
                "            type: array",
                "            items:",
                "              type: object",
                "              required: [id]",
                "              additionalProperties: false",
                "              properties: {id: {type: integer}, label: {type: string}}",
            ]
            if version == 2:
                lines.append("          confidence: {type: number, minimum: 0, maximum: 1}")
    lines.append("steps:")
    for index in range(STEPS):
        step = f"step_{index:02d}"
        lines += [f"  {step}:", f"    agent: {rng.choice(['worker', 'reviewer'])}"]
        if index:
            upstream = sorted(rng.sample(range(index), min(index, rng.randint(1, 3))))
            lines.append(f"    needs: [{', '.join(f'step_{u:02d}' for u in upstream)}]")
            source = f"steps.step_{upstream[0]:02d}.output.summary"
        else:
            source = "inputs.topic"
        lines += [
            "    input:",
            f'      text: "{{{{ {source} }}}}"',
            '      client: "Client {{ inputs.client }}"',
            f"    output: {rng.choice(['brief', 'verdict', 'receipt'])}@{rng.choice([1, 2])}",
            f"    timeout: {rng.choice(['30s', '2m', '5m'])}",
        ]
        if rng.random() < 0.4:
            lines.append("    retry: {max_attempts: 3, on: [timeout, agent_error]}")
        if rng.random() < 0.15:
            lines += ["    effect: external", "    approval: {role: manager}"]
    lines.append(f"result: step_{STEPS - 1:02d}")
    return "\n".join(lines) + "\n"


def write_spec_set(directory: Path) -> None:
    rng = random.Random(SEED)
    directory.mkdir(parents=True)
    (directory / "roster.yaml").write_text(ROSTER, encoding="utf-8")
    for index in range(WORKFLOWS):
        name = f"flow_{index:03d}"
        (directory / f"{name}.yaml").write_text(workflow_yaml(name, rng), encoding="utf-8")


def compile_argv() -> tuple[list[str], str]:
    """`baton compile` when the CLI has it, else the same click command run directly."""
    baton = Path(sys.executable).parent / "baton"
    probe = subprocess.run([str(baton), "compile", "--help"], capture_output=True, check=False)
    if probe.returncode == 0:
        return [str(baton), "compile"], "baton compile"
    code = "from baton.commands.compile import compile_command; compile_command()"
    return [sys.executable, "-c", code], "python -c compile_command() (baton compile unregistered)"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_process(case: Case, argv: list[str], runs: int) -> None:
    subprocess.run(argv, cwd=ROOT, capture_output=True, check=False)  # warm-up, untimed
    for _ in range(runs):
        cpu_before = _children_cpu()
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
        case.times_s.append(time.perf_counter() - start)
        case.cpu_s.append(_children_cpu() - cpu_before)
        if done.returncode != 0:
            sys.exit(f"failed ({done.returncode}): {' '.join(argv)}\n{done.stdout}{done.stderr}")


_IMPORT_PROBE = """
import time
{preload}
start, cpu = time.perf_counter(), time.process_time()
{statement}
print(time.perf_counter() - start, time.process_time() - cpu)
"""
# timed after the module's import (which is in the preload)
_FIRST_USE = "m.parse_input({'topic': 't', 'client': 'c'})"


def time_import(
    case: Case,
    preload: str,
    runs: int,
    module: str = "generated.research_report",
    statement: str | None = None,
) -> None:
    if statement is None:
        statement = f"import {module}"
    else:  # time `statement` after importing the module (as `m`)
        preload = f"{preload}\nimport {module} as m"
    code = _IMPORT_PROBE.format(preload=preload, statement=statement)
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, check=True)
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
        )
        wall, cpu = done.stdout.split()
        case.times_s.append(float(wall))
        case.cpu_s.append(float(cpu))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per case (median reported)")
    args = parser.parse_args()
    compile_cmd, command_name = compile_argv()
    load_before = os.getloadavg()
    cases: list[Case] = []
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        examples = Case("compile specs/", "the example specs (2 workflows), whole process")
        time_process(examples, [*compile_cmd, "specs/", "-o", str(work / "a")], args.runs)
        cases.append(examples)
        specs = work / "many"
        write_spec_set(specs)
        many = Case(
            f"compile {WORKFLOWS} x {STEPS} steps",
            f"{WORKFLOWS} generated workflows of {STEPS} steps, whole process",
        )
        time_process(many, [*compile_cmd, str(specs), "-o", str(work / "b")], args.runs)
        cases.append(many)
        modules = len(list((work / "b").glob("*.py")))
    runtime = Case("import runtime", "the runtime package alone, for comparison")
    time_import(runtime, "", args.runs * 3, module="baton.runtime")
    beyond = Case("import module beyond runtime", "generated.research_report after runtime")
    time_import(beyond, "import baton.runtime", args.runs * 3)
    own = Case(
        "import module beyond runtime+pydantic",
        "the same, pydantic already imported: the module's own cost",
    )
    preload = "import baton.runtime\nfrom pydantic import BaseModel, ConfigDict, Field, RootModel"
    time_import(own, preload, args.runs * 3)
    first_use = Case(
        "first use of a model after import",
        "parse_input({...}) after the import: defines the models (imports pydantic)",
    )
    time_import(first_use, "import baton.runtime", args.runs * 3, statement=_FIRST_USE)
    cases += [runtime, beyond, own, first_use]

    print(f"{'case':40} {'median':>10} {'cpu':>8}  target")
    for case in cases:
        target = TARGETS.get(case.name)
        verdict = ""
        if target:
            verdict = (
                f"< {target[0] * 1000:.0f} ms: {'ok' if case.median_s < target[0] else 'MISSED'}"
            )
        cpu = f"{statistics.median(case.cpu_s) * 1000:7.0f}ms" if case.cpu_s else " " * 9
        print(f"{case.name:40} {case.median_s * 1000:8.1f}ms {cpu}  {verdict}")
    per_step = cases[1].median_s / (WORKFLOWS * STEPS)
    print(f"({modules} files written for {WORKFLOWS} workflows; {per_step * 1e6:.0f} us per step)")

    load_after = os.getloadavg()
    print(f"load average {load_before[0]:.2f} at the start, {load_after[0]:.2f} at the end")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": "compile",
        "command": command_name,
        "commit": commit,
        "load_average": {"start": round(load_before[0], 2), "end": round(load_after[0], 2)},
        "cpus": os.cpu_count(),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
        },
        "runs": args.runs,
        "cases": [
            {
                "name": case.name,
                "detail": case.detail,
                "median_s": round(case.median_s, 6),
                "cpu_median_s": round(statistics.median(case.cpu_s), 6) if case.cpu_s else None,
                "times_s": [round(t, 6) for t in case.times_s],
            }
            for case in cases
        ],
        "targets": {
            name: {
                "target_s": target,
                "measured_s": round(next(c.median_s for c in cases if c.name == name), 6),
                "met": next(c.median_s for c in cases if c.name == name) < target,
                "how": how,
            }
            for name, (target, how) in TARGETS.items()
        },
    }
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
