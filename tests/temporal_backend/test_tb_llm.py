"""Differential, llm agents: the same workflow on both backends against the same fake
model server (tests/llm/fake_providers.py). The Temporal attempt activity calls the same
adapter, so a reply rejected by its schema is repaired the same way: the same requests
go over the wire (the repair conversation rebuilt from the log, the same idempotency
key), and the final states and per-step events agree."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tb_support import (
    BATON,
    normalized,
    per_step_events,
    run_local,
    run_temporal,
    stop_process,
    wait_for,
    worker_in_thread,
)

from baton.commands._load import load_spec
from baton.runtime import api
from baton.runtime.temporal import client

TESTS = Path(__file__).resolve().parent.parent
for folder in ("llm", "llm_e2e"):
    if str(TESTS / folder) not in sys.path:
        sys.path.insert(0, str(TESTS / folder))

from fake_providers import API_KEY, KEY_VARIABLE, FakeProvider, model_answer  # noqa: E402

GOOD = {"summary": "Tides follow the moon.", "confidence": 0.8}
BAD = {"summary": 42, "confidence": 0.8}
INPUTS = {"topic": "tides", "channel": "hello"}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    server = FakeProvider(expected_key=API_KEY).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def loaded(fake: FakeProvider) -> Iterator[api.LoadedWorkflow]:
    saved = {name: os.environ.get(name) for name in ("BATON_TEST_LLM_URL", KEY_VARIABLE)}
    os.environ["BATON_TEST_LLM_URL"] = fake.openai_base_url
    os.environ[KEY_VARIABLE] = API_KEY
    import llm_flows

    importlib.reload(llm_flows)  # its agent's URL is read at import
    try:
        yield load_spec("llm_flows:RESEARCH")
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="module")
def worker(temporal_server: str, loaded: api.LoadedWorkflow) -> Iterator[client.Target]:
    queue = f"tb-llm-{uuid.uuid4().hex[:12]}"
    with worker_in_thread(temporal_server, queue, [loaded]) as target:
        yield target


def test_llm_repair_agrees_on_both_backends(
    tmp_path: Path, fake: FakeProvider, loaded: api.LoadedWorkflow, worker: client.Target
) -> None:
    run_id = f"llm-{uuid.uuid4().hex[:8]}"
    fake.script(model_answer("openai", BAD), model_answer("openai", GOOD))
    local, local_log = run_local(tmp_path / "baton.db", loaded, INPUTS, run_id, [])
    fake.script(model_answer("openai", BAD), model_answer("openai", GOOD))
    remote, remote_log = run_temporal(worker, loaded, INPUTS, run_id, [])

    assert local.status == remote.status == "succeeded"
    ours, theirs = normalized(local.to_json()), normalized(remote.to_json())
    ours.pop("last_seq"), theirs.pop("last_seq")
    assert theirs == ours
    assert per_step_events(remote_log) == per_step_events(local_log)
    # the same four requests, byte for byte: first try and repair, on each backend
    requests: list[Any] = [(r.headers["idempotency-key"], r.body) for r in fake.received[-4:]]
    assert requests[:2] == requests[2:]
    assert requests[0][1] != requests[1][1]  # the repair sent the reply and its errors
    assert remote.steps["research"].output == GOOD
    assert remote.steps["research"].usage.tokens_in > 0


def test_a_worker_replays_a_cassette_recorded_locally(
    tmp_path: Path, temporal_server: str, unique_task_queue: str
) -> None:
    """`baton run --cassette-mode record` on the local backend, then the same workflow on
    Temporal through `baton worker --cassette` with the model server gone."""
    server = FakeProvider().start()
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS / "llm_e2e"), os.environ.get("PYTHONPATH", "")]),
        "BATON_TEST_LLM_URL": server.openai_base_url,
        KEY_VARIABLE: API_KEY,
    }
    environment.pop("BATON_TEST_KILL_AFTER_EVENT", None)
    cassette = str(tmp_path / "cassette")
    run = ["llm_flows:RESEARCH", "--input", json.dumps(INPUTS)]
    try:
        server.script(model_answer("openai", BAD), model_answer("openai", GOOD))
        recorded = subprocess.run(
            [
                BATON,
                "run",
                *run,
                "--db",
                str(tmp_path / "baton.db"),
                "--cassette",
                cassette,
                "--cassette-mode",
                "record",
            ],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert recorded.returncode == 0, recorded.stderr
    finally:
        server.stop()
    environment[KEY_VARIABLE] = ""  # replay needs no key
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [
            BATON,
            "worker",
            "llm_flows:RESEARCH",
            "--address",
            temporal_server,
            "--task-queue",
            unique_task_queue,
            "--cassette",
            cassette,
        ],
        cwd=tmp_path,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        wait_for(
            lambda: "polling task queue" in (tmp_path / "worker.log").read_text(),
            60,
            "the worker to poll",
        )
        on = ["--backend", "temporal", "--address", temporal_server]
        replayed = subprocess.run(
            [BATON, "run", *run, *on, "--task-queue", unique_task_queue, "--run-id", "tb-llm-1"],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert replayed.returncode == 0, replayed.stdout + replayed.stderr
        assert '"summary":"Tides follow the moon."' in replayed.stdout
    finally:
        stop_process(worker)
