"""`baton serve --backend temporal` against a real Temporal dev server: the console lists
a gated run from Temporal's visibility API, shows the exact input the agent will get,
refuses a principal without the role (403) and a stale subject (409), and a principal
with the role approves through the API (Bearer): the decision is the workflow's Update,
the worker (in this process) finishes the run, and the console reads its end. Principals
stay in the local database `--db`."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any

from console_support import XSS, add_principal, baton, start_server, wait_for, write_specs
from temporalio.client import Client

from baton.commands._load import load_spec
from baton.runtime.approval_subject import subject
from baton.runtime.core.state import RunState
from baton.runtime.temporal import client

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "temporal_backend"))
from tb_support import worker_in_thread


def test_serve_reads_and_decides_runs_on_temporal(tmp_path: Path, temporal_server: str) -> None:
    write_specs(tmp_path)
    loaded = load_spec(str(tmp_path / "notes.yaml"))
    queue = f"console-{uuid.uuid4().hex[:12]}"
    run_id = f"ct-{uuid.uuid4().hex[:8]}"
    tokens = {name: add_principal(tmp_path, name) for name in ("alice", "carol")}
    with worker_in_thread(temporal_server, queue, [loaded]) as target:

        async def start(connection: Client) -> tuple[RunState, bool]:
            await client.start(connection, target, loaded, {"text": XSS}, run_id)
            return await client.watch(connection, run_id, detach=True, poll_s=0.05)

        waiting_state, waiting = client.blocking(client.with_client(target, start))
        assert waiting
        server = start_server(
            tmp_path,
            "--backend",
            "temporal",
            "--address",
            temporal_server,
            "--task-queue",
            queue,
        )
        server.tokens = tokens
        try:
            # visibility is eventually consistent: the run is listed once indexed
            wait_for(lambda: server.api("GET", "/api/runs").json()["total"] == 1, "the run listed")
            [row] = server.api("GET", "/api/runs").json()["runs"]
            assert (row["run_id"], row["workflow"], row["status"]) == (run_id, "notes", "waiting")
            assert row["waiting_on"] == ["approval"]

            [pending] = server.api("GET", "/api/approvals").json()["approvals"]
            assert (pending["run_id"], pending["step"]) == (run_id, "publish")
            assert (pending["role"], pending["stage"]) == ("manager", "before")
            assert pending["value"] == {"text": XSS}  # exactly what the agent will get
            shown = subject(loaded.workflow, waiting_state, "publish").sha256
            assert pending["shown_sha256"] == shown

            # `baton approvals` reads the same gates from Temporal
            listed = baton(
                tmp_path,
                "approvals",
                "--json",
                "--backend",
                "temporal",
                "--address",
                temporal_server,
                "--task-queue",
                queue,
            )
            assert listed.returncode == 0, listed.stderr
            assert json.loads(listed.stdout) == [pending]

            # the pages read Temporal too, and escape the run's values
            cookie, _ = server.login("alice")
            page = server.request("GET", "/approvals", headers={"Cookie": cookie})
            assert page.status == 200 and XSS not in page.body
            assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in page.body

            decision: dict[str, Any] = {
                "run_id": run_id,
                "step": "publish",
                "decision": "approve",
                "comment": "ok on temporal",
            }
            refused = server.api("POST", "/api/decide", who="carol", data=decision)
            assert refused.status == 403 and "needs role 'manager'" in refused.json()["error"]
            stale = server.api("POST", "/api/decide", data={**decision, "shown_sha256": "0" * 64})
            assert stale.status == 409 and "changed since it was shown" in stale.json()["error"]

            decided = server.api("POST", "/api/decide", data={**decision, "shown_sha256": shown})
            assert decided.status == 200, decided.body
            assert decided.json()["outcome"] == "applied"
            assert (decided.json()["channel"], decided.json()["role"]) == ("api", "manager")

            async def finish(connection: Client) -> tuple[RunState, list[dict[str, Any]]]:
                final, _ = await client.watch(connection, run_id, poll_s=0.05)
                return final, await client.events(connection, run_id)

            final, log = client.blocking(client.with_client(target, finish))
            assert final.status == "succeeded"
            [granted] = [e["data"] for e in log if e["type"] == "approval_granted"]
            assert (granted["principal"], granted["role"], granted["channel"]) == (
                "alice",
                "manager",
                "api",
            )
            assert (granted["comment"], granted["shown_sha256"]) == ("ok on temporal", shown)

            # the ended run, read back through the console from its result on Temporal
            detail = server.api("GET", f"/api/runs/{run_id}").json()
            assert detail["run"]["status"] == "succeeded" and detail["approvals"] == []
            events = server.api("GET", f"/api/runs/{run_id}/events").json()
            assert events == log
            assert server.api("GET", "/api/approvals").json()["approvals"] == []
            page = server.request("GET", f"/runs/{run_id}", headers={"Cookie": cookie})
            assert page.status == 200 and 'id="run-status">succeeded' in page.body
            assert "granted by alice as manager via api" in page.body and XSS not in page.body
            again = server.api("POST", "/api/decide", data=decision)
            assert again.status == 409
            assert server.api("GET", "/api/runs/nope-1").status == 404
        finally:
            output = server.stop()
    assert "Traceback" not in output  # and it stopped its Temporal client cleanly
    for token in tokens.values():
        assert token not in output
