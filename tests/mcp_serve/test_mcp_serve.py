"""`baton mcp serve` end to end: a real server process over stdio, the `mcp` SDK's client,
a real SQLite database with principals made by `baton principal add`, and the example
research pipeline (specs/research_report.yaml), which waits for role manager at `deliver`
(alice and bob hold it; carol holds ceo)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp_session import BATON, ROOT, McpServe

SPEC = str(ROOT / "specs" / "research_report.yaml")
INPUT = {"topic": "durable multi-agent workflows", "client": "acme"}
TOOLS = [
    "approve",
    "list_approvals",
    "list_runs",
    "list_workflows",
    "reject",
    "run_status",
    "start_run",
]


def baton(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BATON, *args, "--db", str(workdir / "baton.db")],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """A database with principals alice (role manager) and carol (role ceo)."""
    workdir = tmp_path_factory.mktemp("mcp")
    tokens = {}
    for name in ("alice", "carol"):
        added = baton(workdir, "principal", "add", name)
        assert added.returncode == 0, added.stderr
        tokens[name] = added.stdout.strip()
    yield workdir, tokens


@pytest.fixture(scope="module")
def alice(world: tuple[Path, dict[str, str]]) -> Iterator[McpServe]:
    workdir, tokens = world
    server = McpServe(workdir, SPEC, "--as", "alice", token=tokens["alice"])
    try:
        yield server
    finally:
        server.close()


def _waiting_run(server: McpServe, run_id: str) -> dict[str, object]:
    started = server.ok("start_run", workflow="research_report", input=INPUT, run_id=run_id)
    assert started["status"] == "waiting", started
    assert started["waiting_for"] == [{"step": "deliver", "role": "manager", "stage": "before"}]
    return started


def test_tools_and_workflows_are_listed(alice: McpServe) -> None:
    assert alice.tools() == TOOLS
    [workflow] = alice.ok("list_workflows")
    assert workflow["name"] == "research_report"
    assert workflow["approvals"] == [{"step": "deliver", "role": "manager", "stage": "before"}]
    assert workflow["inputs_schema"]["required"] == ["topic", "client"]


def test_a_run_waits_is_approved_by_a_principal_and_finishes(
    alice: McpServe, world: tuple[Path, dict[str, str]]
) -> None:
    workdir, tokens = world
    _waiting_run(alice, "mcp-ok")
    [pending] = [p for p in alice.ok("list_approvals") if p["run_id"] == "mcp-ok"]
    assert pending["step"] == "deliver" and pending["role"] == "manager"
    assert pending["value"]["client"] == "acme"  # exactly what deliver will get
    decided = alice.ok(
        "approve",
        run_id="mcp-ok",
        step="deliver",
        comment="ship it",
        shown_sha256=pending["shown_sha256"],
    )
    assert decided["outcome"] == "applied" and decided["principal"] == "alice"
    assert decided["run"]["status"] == "succeeded", decided
    status = alice.ok("run_status", run_id="mcp-ok")
    assert status["status"] == "succeeded"
    approval = status["state"]["steps"]["deliver"]["approval"]
    assert approval["principal"] == "alice" and approval["channel"] == "mcp"
    events = baton(workdir, "events", "mcp-ok", "--json")
    granted = [e["data"] for e in json.loads(events.stdout) if e["type"] == "approval_granted"]
    assert granted[0]["channel"] == "mcp"
    assert granted[0]["shown_sha256"] == pending["shown_sha256"]
    # the token is in no output: not the events, not the state, not the server's log
    for text in (events.stdout, json.dumps(status), alice.stderr()):
        assert tokens["alice"] not in text


def test_decisions_by_a_principal_without_the_role_or_a_bad_token_are_refused(
    alice: McpServe, world: tuple[Path, dict[str, str]]
) -> None:
    workdir, tokens = world
    _waiting_run(alice, "mcp-refused")
    carol = McpServe(workdir, "--as", "carol", token=tokens["carol"])
    try:
        refused = carol.refused("approve", run_id="mcp-refused", step="deliver")
        assert "'carol' may not decide step 'deliver': it needs role 'manager'" in refused
    finally:
        carol.close()
    wrong = "baton_not-the-token"
    impostor = McpServe(workdir, "--as", "alice", token=wrong)
    try:
        refused = impostor.refused("reject", run_id="mcp-refused", step="deliver")
        assert "the token does not prove principal 'alice'" in refused
        assert wrong not in refused and wrong not in impostor.stderr()
    finally:
        impostor.close()
    assert alice.ok("run_status", run_id="mcp-refused")["status"] == "waiting"  # undecided


def test_client_mistakes_are_clear_tool_errors(alice: McpServe) -> None:
    unknown = alice.refused("run_status", run_id="no-such-run")
    assert "unknown run 'no-such-run' (see list_runs)" in unknown
    assert "unknown run 'no-such-run'" in alice.refused("approve", run_id="no-such-run", step="x")
    assert "unknown workflow 'nope'" in alice.refused("start_run", workflow="nope")
    bad_json = alice.refused("start_run", workflow="research_report", input="{topic: 1")
    assert "input is not valid JSON" in bad_json
    missing = alice.refused("start_run", workflow="research_report", input={"topic": "x"})
    assert "inputs schema" in missing and "client" in missing
    _waiting_run(alice, "mcp-mistakes")
    wrong_step = alice.refused("approve", run_id="mcp-mistakes", step="research")
    assert "step 'research' has no approval gate" in wrong_step
    rejected = alice.ok("reject", run_id="mcp-mistakes", step="deliver", comment="not now")
    assert rejected["outcome"] == "applied" and rejected["run"]["status"] == "failed"
    approval = alice.ok("run_status", run_id="mcp-mistakes")["state"]["steps"]["deliver"]
    assert approval["approval"]["decision"] == "rejected"
    assert approval["approval"]["channel"] == "mcp"
    assert "Traceback" not in alice.stderr()


def test_help_and_lint_do_not_import_the_sdk() -> None:
    """The SDK is imported when `baton mcp serve` serves, not by `baton --help`, `baton
    mcp serve --help` or `baton lint`."""
    import sys

    code = (
        "import sys\nfrom baton.cli import main\n"
        "for argv in (['--help'], ['mcp', 'serve', '--help'], ['lint', sys.argv[1]]):\n"
        "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
        "print('mcp' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, SPEC], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "False"
