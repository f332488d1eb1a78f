"""LLM step benchmark (issue 11): Baton's overhead per `llm` step over a raw SDK call.

    python benchmarks/llm_bench.py [--steps 20] [--rounds 15] [--calls 20]

Both sides talk to the same local server (tests/llm/fake_providers.py: a real HTTP
server on 127.0.0.1 speaking the OpenAI Chat Completions wire format, answering at once
with a valid structured reply), in the same process, interleaved round by round so a
change of the machine's load hits both alike:

- **raw SDK**: `openai.OpenAI(base_url=..., max_retries=0)` and
  `client.chat.completions.create(model, messages, response_format=json_schema)`, the
  reply's JSON parsed: what a hand-written agent does at the least. Per call.
- **Baton**: a workflow of `--steps` sequential steps, each an `llm` agent (spec compiled
  in memory as `baton run SPEC` does) with a `prompt:` template reading the run input,
  run by `runtime.api.start_run` on a SQLite file: the prompt rendered and sanitized,
  the request built, the call (same SDK, same server), the reply validated against the
  handoff, checksummed and committed, events durable (WAL, synchronous=FULL). Per step
  = the run's wall time / steps.
- **Baton, echo**: the same chain with the builtin `echo` agent (no model call): the
  runtime's own per-step cost, for reference.

Overhead = Baton per step - raw SDK per call (medians over rounds). Target: <= 1.5 ms.
Prints a table and writes benchmarks/results/llm.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "llm.json"
for extra in (ROOT / "tests" / "llm", ROOT):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from fake_providers import FakeProvider, openai_reply  # noqa: E402

TARGET_MS = 1.5
SCHEMA = {
    "type": "object",
    "required": ["text"],
    "additionalProperties": False,
    "properties": {"text": {"type": "string"}},
}
REPLY = {"text": "a short answer"}
INPUTS = {"topic": "durable workflows"}


def chain_spec(steps: int, run: str) -> str:
    lines = [
        "baton: 1",
        "name: llm_chain",
        "owner: bench",
        "agents:",
        f"  bench: {{run: {run}}}",
        "inputs:",
        "  type: object",
        "  required: [topic]",
        "  additionalProperties: false",
        "  properties: {topic: {type: string}}",
        "handoffs:",
        "  answer:",
        "    versions:",
        f"      1: {json.dumps(SCHEMA)}",
        "steps:",
    ]
    for index in range(steps):
        lines += [
            f"  s{index}:",
            "    agent: bench",
            *([f"    needs: [s{index - 1}]"] if index else []),
            '    prompt: "Answer about {{ inputs.topic }}."',
            '    input: {text: "{{ inputs.topic }}"}',
            "    output: answer@1",
        ]
    lines.append(f"result: s{steps - 1}")
    return "\n".join(lines) + "\n"


class Server:
    """The fake provider, answering every request at once with a valid reply."""

    def __init__(self) -> None:
        self.fake = FakeProvider().start()

    def refill(self, count: int) -> None:
        self.fake.script(*[openai_reply(REPLY)] * count)
        self.fake.received.clear()

    @property
    def base_url(self) -> str:
        return self.fake.openai_base_url

    def stop(self) -> None:
        self.fake.stop()


def raw_sdk_round(server: Server, calls: int) -> float:
    """Seconds per call of the bare SDK, over `calls` calls (client built once)."""
    import openai

    client = openai.OpenAI(base_url=server.base_url, api_key="bench", max_retries=0)
    server.refill(calls)
    started = time.perf_counter()
    for _ in range(calls):
        completion = client.chat.completions.create(
            model="scripted",
            messages=[
                {"role": "system", "content": "You answer briefly."},
                {"role": "user", "content": f"Answer about {INPUTS['topic']}."},
            ],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": SCHEMA, "strict": True},
            },
        )
        json.loads(completion.choices[0].message.content or "")
    return (time.perf_counter() - started) / calls


class BatonChain:
    def __init__(self, directory: Path, steps: int, run: str, label: str) -> None:
        from baton.commands._load import load_spec
        from baton.runtime import api

        self.api = api
        self.steps = steps
        self.label = label
        spec = directory / f"{label}.yaml"
        spec.write_text(chain_spec(steps, run), encoding="utf-8")
        self.loaded = load_spec(str(spec))
        self.db = directory / f"{label}.db"
        self.count = 0

    def round(self, server: Server) -> float:
        """Seconds per step of one run of the chain."""
        server.refill(self.steps)
        run_id = f"{self.label}-{self.count}"
        self.count += 1
        started = time.perf_counter()
        result = self.api.start_run(self.db, self.loaded, INPUTS, run_id)
        elapsed = time.perf_counter() - started
        if result.state.outcome != "succeeded":
            raise RuntimeError(f"run {run_id} ended {result.state.outcome}: {result.state.error}")
        return elapsed / self.steps


def git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=20, help="raw SDK calls per round")
    args = parser.parse_args(argv)

    server = Server()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            llm = f"{{llm: {{provider: openai, model: scripted, base_url: '{server.base_url}'}}}}"
            chains = [
                BatonChain(Path(tmp), args.steps, llm, "llm"),
                BatonChain(Path(tmp), args.steps, "{builtin: echo}", "echo"),
            ]
            samples: dict[str, list[float]] = {"raw": [], "llm": [], "echo": []}
            # warm-up: imports, the SDK client, SQLite files, compiled templates
            raw_sdk_round(server, 3)
            for chain in chains:
                chain.round(server)
            for index in range(args.rounds):
                order = ["raw", "llm", "echo"]
                order = order[index % 3 :] + order[: index % 3]
                for name in order:
                    if name == "raw":
                        samples["raw"].append(raw_sdk_round(server, args.calls))
                    else:
                        chain = chains[0] if name == "llm" else chains[1]
                        samples[name].append(chain.round(server))
    finally:
        server.stop()

    medians = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    overhead = medians["llm"] - medians["raw"]
    rows = [
        ("raw SDK call (openai, json_schema)", medians["raw"]),
        (f"Baton llm step ({args.steps}-step chain)", medians["llm"]),
        (f"Baton echo step ({args.steps}-step chain, no model)", medians["echo"]),
    ]
    print(f"{'case':<48} {'ms':>8}")
    for label, value in rows:
        print(f"{label:<48} {value:8.3f}")
    verdict = "met" if overhead <= TARGET_MS else "missed"
    print(f"{'overhead per llm step over the raw call':<48} {overhead:8.3f}  "
          f"(target <= {TARGET_MS} ms: {verdict})")  # fmt: skip

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "llm",
                "commit": git("rev-parse", "--short", "HEAD"),
                "machine": {
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "load_average": os.getloadavg(),
                },
                "steps": args.steps,
                "rounds": args.rounds,
                "calls_per_round": args.calls,
                "median_ms": medians,
                "samples_ms": {k: [v * 1000 for v in vs] for k, vs in samples.items()},
                "overhead_ms": overhead,
                "target_ms": TARGET_MS,
                "verdict": verdict,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
