"""The local worker pool with real processes: `baton run --queue` only records a run,
`baton worker --local` processes claim and drive them; workers killed at random
(SIGKILL) under load lose nothing and double nothing."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections import Counter, defaultdict
from pathlib import Path

from rc_support import BATON, baton, env, ledger, rows

STEPS = 5


def _spec(tmp: Path, seconds: float) -> Path:
    """A chain of STEPS steps of the builtin `sleep` (each call goes to the ledger)."""
    lines = [
        "baton: 1",
        "name: pooled",
        "version: 1",
        "description: A chain for the worker pool tests.",
        "owner: lead",
        "agents:",
        "  lead:",
        "    run: {builtin: sleep}",
        "    delegates_to: []",
        "inputs:",
        "  type: object",
        "  required: [topic]",
        "  properties:",
        "    topic: {type: string}",
        "handoffs:",
        "  note:",
        "    versions:",
        "      1:",
        "        type: object",
        "        required: [text]",
        "        properties:",
        "          text: {type: string}",
        "steps:",
    ]
    for index in range(STEPS):
        lines += [f"  s{index}:", "    agent: lead"]
        if index:
            lines.append(f"    needs: [s{index - 1}]")
        lines.append(
            f'    input: {{seconds: {seconds}, output: {{text: "{{{{ inputs.topic }}}}"}}}}'
        )
        lines.append("    output: note@1")
    lines.append(f"result: s{STEPS - 1}")
    path = tmp / "pooled.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _worker(tmp: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [BATON, "worker", "--local", "--db", str(tmp / "baton.db"), *extra],
        cwd=tmp,
        env=env(tmp, BATON_LEASE_MS="3000"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _statuses(db: Path) -> Counter[str]:
    return Counter(status for (status,) in rows(db, "SELECT status FROM runs"))


def _driving(db: Path, workers: list[subprocess.Popen[str]]) -> list[int]:
    """The workers (by index) that hold the lease of a run already under way."""
    owners = rows(db, "SELECT lease_owner FROM runs WHERE lease_owner IS NOT NULL AND last_seq > 1")
    pids = {str(owner).split(":")[1] for (owner,) in owners}
    return [index for index, worker in enumerate(workers) if str(worker.pid) in pids]


def _wait(condition: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def _enqueue(tmp: Path, spec: Path, count: int) -> list[str]:
    run_ids = [f"r{index:02d}" for index in range(count)]
    for run_id in run_ids:
        topic = json.dumps({"topic": run_id})
        done = baton(tmp, "run", str(spec), "--queue", "--run-id", run_id, "--input", topic)
        assert done.returncode == 0, done.stderr
        assert f"run {run_id} queued" in done.stdout
    return run_ids


def test_a_queued_run_is_driven_by_a_worker(tmp_path: Path) -> None:
    spec = _spec(tmp_path, 0)
    [run_id] = _enqueue(tmp_path, spec, 1)
    db = tmp_path / "baton.db"
    assert rows(db, "SELECT status, lease_owner, last_seq FROM runs") == [("running", None, 1)]
    assert not ledger(tmp_path)  # queued: no agent called
    worker = _worker(tmp_path)
    try:
        _wait(lambda: _statuses(db) == Counter(succeeded=1), 60, "the run to succeed")
        again = baton(tmp_path, "run", str(spec), "--detach", "--run-id", "r99", "--input", "{}")
        # with a worker alive, --detach only enqueues (the input is checked first)
        assert again.returncode == 2 and "topic" in again.stderr + again.stdout
        detached = baton(
            tmp_path, "run", str(spec), "--detach", "--run-id", "r98", "--input", '{"topic":"x"}'
        )
        assert detached.returncode == 0 and "run r98 queued" in detached.stdout
        _wait(lambda: _statuses(db) == Counter(succeeded=2), 60, "the detached run")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
    assert worker.returncode == 0, worker.stderr.read() if worker.stderr else ""
    types = [t for (t,) in rows(db, "SELECT type FROM events WHERE run_id = ?", run_id)]
    assert "run_resumed" not in types  # a queued run starts as if `baton run` drove it
    assert types.count("step_committed") == STEPS and types[-1] == "run_succeeded"
    shown = baton(tmp_path, "status", run_id)
    assert shown.returncode == 0 and "succeeded" in shown.stdout
    assert not rows(db, "SELECT key FROM meta WHERE key LIKE 'worker:%'")  # it said goodbye


def test_workers_killed_at_random_lose_and_double_nothing(tmp_path: Path) -> None:
    spec = _spec(tmp_path, 0.05)
    run_ids = _enqueue(tmp_path, spec, 16)
    db = tmp_path / "baton.db"
    chance = random.Random(os.environ.get("BATON_POOL_SEED", "15"))
    workers = [_worker(tmp_path, "--runs-per-worker", "4") for _ in range(3)]
    kills = 0
    try:
        # kill, at a random moment, a worker that drives a run (some of whose events are
        # in), and start another in its place
        while kills < 8 and _statuses(db)["running"]:
            time.sleep(chance.uniform(0.1, 0.5))
            holders = _driving(db, workers)
            if not holders:
                continue
            victim = chance.choice(holders)
            workers[victim].kill()  # SIGKILL: no cleanup, its leases stay behind
            workers[victim].wait()
            kills += 1
            workers[victim] = _worker(tmp_path, "--runs-per-worker", "4")
        _wait(lambda: _statuses(db) == Counter(succeeded=len(run_ids)), 180, "every run")
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(30)
    assert kills >= 1
    calls = defaultdict(list)
    for call in ledger(tmp_path):
        calls[(call["run_id"], call["step"])].append(call)
    taken_over = 0
    for run_id in run_ids:
        types = [t for (t,) in rows(db, "SELECT type FROM events WHERE run_id = ?", run_id)]
        taken_over += types.count("run_resumed")
        committed = rows(
            db,
            "SELECT step, count(*) FROM events WHERE run_id = ? AND type = 'step_committed' "
            "GROUP BY step",
            run_id,
        )
        assert sorted(committed) == [(f"s{i}", 1) for i in range(STEPS)], run_id
        outputs = rows(
            db,
            "SELECT step, idempotency_key FROM outputs "
            "WHERE run_id = ? AND committed_seq IS NOT NULL",
            run_id,
        )
        assert sorted(step for step, _ in outputs) == [f"s{i}" for i in range(STEPS)]
        for step, key in outputs:
            made = calls[(run_id, step)]
            # the step's side effects: at least one call, every one under the committed
            # output's key (a call cut short by a kill is made again with the same key)
            assert made and {call["idempotency_key"] for call in made} == {key}, (run_id, step)
    assert taken_over >= 1  # some run changed hands: the kills landed mid-run
