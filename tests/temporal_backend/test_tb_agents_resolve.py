"""Agents resolve from the spec set on the Temporal backend too: a `baton worker` started
in one directory runs a spec set that lives in another, started by `baton run --backend
temporal` from a third; its python agent imports from the spec root and its command
agent's relative paths start at the roster's directory, as on the local backend."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from agent_project import write_project
from tb_support import BATON, start_worker_process, stop_process


def test_agents_resolve_on_a_worker_in_another_directory(
    tmp_path: Path, temporal_server: str, unique_task_queue: str
) -> None:
    specs = write_project(tmp_path / "project")
    worker_home = tmp_path / "worker"
    worker_home.mkdir()
    worker = start_worker_process(
        worker_home, temporal_server, unique_task_queue, str(specs / "wf.yaml")
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    try:
        on_temporal = ("--backend", "temporal", "--address", temporal_server)
        on_temporal += ("--task-queue", unique_task_queue)
        ran = subprocess.run(
            [BATON, "run", "../project/specs/wf.yaml", "--input", '{"text": "Hi"}', *on_temporal],
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        stop_process(worker)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    match = re.search(r"succeeded; result: (.*)$", ran.stdout, re.MULTILINE)
    assert match, ran.stdout
    assert json.loads(match.group(1)) == {"text": "hi! (quietly)"}
