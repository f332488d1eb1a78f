"""The command line on both backends, as real processes: `baton worker` (its working
directory elsewhere, so a run's pin must not depend on it), `baton run --backend temporal
--detach` (exit 3), `baton approve` refused for a principal without the role (exit 2) and
granted by alice, `baton resume --backend temporal` following the run to its end (its
closing line printed once), `baton status|show|events --backend temporal`, and a second
start of the same run id, refused by Temporal itself. `baton show --json` prints the same
`state.json` view as the local backend's for the same run."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

from tb_support import (
    BATON,
    ROOT,
    normalized,
    per_step_events,
    start_worker_process,
    step_histories,
    stop_process,
)

from baton.runtime.temporal import client

SPEC = "specs/research_report.yaml"
INPUTS = json.dumps({"topic": "durable multi-agent workflows", "client": "acme"})


def baton(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BATON, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_command_line_on_temporal(
    tmp_path: Path, temporal_server: str, unique_task_queue: str
) -> None:
    worker = start_worker_process(tmp_path, temporal_server, unique_task_queue, str(ROOT / "specs"))
    run_id = f"cli-{uuid.uuid4().hex[:8]}"
    on = ("--backend", "temporal", "--address", temporal_server)
    on += ("--task-queue", unique_task_queue)
    try:
        started = baton("run", SPEC, "--input", INPUTS, "--run-id", run_id, "--detach", *on)
        assert started.returncode == 3, started.stdout + started.stderr
        assert f"baton approve {run_id} STEP --as PRINCIPAL --backend temporal" in started.stdout
        assert "deliver: waiting for approval by role 'manager'" in started.stdout

        refused = baton("approve", run_id, "deliver", "--as", "mallory", *on)
        assert refused.returncode == 2
        # no principal exists in this database: the decision goes on, unverified, and says so
        assert refused.stderr.strip().splitlines() == [
            "warning: identity is unverified (no principals; see `baton principal add`)",
            "error: 'mallory' may not decide step 'deliver': it needs role 'manager' (alice, bob)",
        ]
        granted = baton("approve", run_id, "deliver", "--as", "alice", "--comment", "ship it", *on)
        assert granted.returncode == 0, granted.stderr
        first, bound = granted.stdout.strip().splitlines()
        assert first == f"{run_id}: step deliver approved by alice"
        assert bound.startswith("subject sha256: ")  # the grant is bound to what it shows

        # the workers go on by themselves; `resume` follows the run to its end
        followed = baton("resume", run_id, *on)
        assert followed.returncode == 0, followed.stdout + followed.stderr
        ends = [line for line in followed.stdout.splitlines() if line.startswith(f"run {run_id} ")]
        assert len(ends) == 1 and ends[0].startswith(f"run {run_id} succeeded; result: ")
        target = client.Target(temporal_server, "default", unique_task_queue)
        state = client.blocking(client.with_client(target, lambda c: client.state(c, run_id)))
        assert state.is_final()
        status = baton("status", run_id, *on)
        assert status.returncode == 0
        assert status.stdout.splitlines()[0] == f"run {run_id}: research_report v3, succeeded"
        shown = baton("show", run_id, "--json", *on)
        events = baton("events", run_id, "--json", *on)
        assert shown.returncode == events.returncode == 0
        remote_state: dict[str, Any] = json.loads(shown.stdout)
        remote_log: list[dict[str, Any]] = json.loads(events.stdout)

        again = baton("run", SPEC, "--input", INPUTS, "--run-id", run_id, *on)
        assert again.returncode == 0
        assert again.stdout.strip() == f"run {run_id} already exists (succeeded); not started again"
    finally:
        stop_process(worker)

    # the same run on the local backend, through the same commands
    db = ("--db", str(tmp_path / "baton.db"))
    assert (
        baton("run", SPEC, "--input", INPUTS, "--run-id", run_id, "--detach", *db).returncode == 3
    )
    assert (
        baton("approve", run_id, "deliver", "--as", "alice", "--comment", "ship it", *db).returncode
        == 0
    )
    assert baton("resume", run_id, *db).returncode == 0
    local_state = json.loads(baton("show", run_id, "--json", *db).stdout)
    local_log = json.loads(baton("events", run_id, "--json", *db).stdout)

    assert remote_state.keys() == local_state.keys()
    assert remote_state["steps"]["deliver"].keys() == local_state["steps"]["deliver"].keys()
    ignore = {"last_seq": None}  # the local run's resume adds a `run_resumed`
    assert normalized(remote_state) | ignore == normalized(local_state) | ignore
    assert step_histories(remote_log) == step_histories(local_log)
    assert per_step_events(remote_log) == per_step_events(local_log)
    assert [e.keys() for e in remote_log] == [e.keys() for e in remote_log[:1]] * len(remote_log)
    assert remote_log[0].keys() == local_log[0].keys()
