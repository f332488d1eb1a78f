"""The run commands through click's test runner: exit codes, refusals, approvals,
reviews, skips, malformed outputs, cancel, sub-workflows, spec pinning, dry runs."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from rc_support import HERE, ledger, rows

from baton.cli import cli


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BATON_LEDGER", str(tmp_path / "ledger.jsonl"))
    monkeypatch.setenv("BATON_DB", str(tmp_path / "baton.db"))
    return tmp_path


def baton(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def show(run_id: str) -> dict[str, Any]:
    result = baton("show", run_id, "--json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


TOPIC = json.dumps({"topic": "tea"})


def test_approval_flow_detached(workdir: Path) -> None:
    run = baton("run", "rc_workflows:CRASH", "--input", TOPIC, "--run-id", "r1", "--detach")
    assert run.exit_code == 3, run.output
    assert "waiting for a decision on deliver (role 'manager')" in run.stdout
    assert show("r1")["status"] == "waiting"
    approved = baton("approve", "r1", "deliver", "--as", "alice", "--comment", "looks good")
    assert approved.exit_code == 0 and "approved by alice" in approved.stdout
    resumed = baton("resume", "r1")
    assert resumed.exit_code == 0, resumed.output
    state = show("r1")
    assert state["status"] == "succeeded"
    assert state["result"] == {"text": "fetch: tea+l|fetch: tea+r!"}
    approval = state["steps"]["deliver"]["approval"]
    assert approval["principal"] == "alice" and approval["comment"] == "looks good"
    assert approval["role"] == "manager" and approval["decided_ms"] >= approval["requested_ms"]
    assert state["steps"]["left"]["attempts"] == 2
    granted = [e for e in json.loads(baton("events", "r1", "--json").stdout) if e["step"]]
    assert {"seq", "type", "run_id", "step", "attempt", "ts", "trace_id", "data"} <= set(granted[0])


def test_an_existing_run_id_is_never_started_twice(workdir: Path) -> None:
    args = ("run", "rc_workflows:REVIEWED", "--input", TOPIC, "--run-id", "once", "--detach")
    assert baton(*args).exit_code == 3
    calls = len(ledger(workdir))
    again = baton(*args)
    assert again.exit_code == 3
    assert "run once already exists (waiting); not started again" in again.stdout
    assert len(ledger(workdir)) == calls
    assert rows(workdir / "baton.db", "SELECT count(*) FROM events WHERE type = 'run_started'") == [
        (1,)
    ]


def test_rejection_fails_the_step_and_the_run(workdir: Path) -> None:
    assert (
        baton("run", "rc_workflows:CRASH", "--input", TOPIC, "--run-id", "r", "--detach").exit_code
        == 3
    )
    rejected = baton("reject", "r", "deliver", "--as", "bob", "--comment", "not now")
    assert rejected.exit_code == 0, rejected.output
    state = show("r")
    assert state["status"] == "failed"  # recorded by the rejecting process itself
    assert state["steps"]["deliver"]["error"] == {
        "failure": "rejected",
        "message": "rejected by bob: not now",
    }
    assert state["steps"]["summary"]["state"] == "cancelled"
    assert baton("resume", "r").exit_code == 1


def test_review_after_validation_and_skip_propagation(workdir: Path) -> None:
    run = baton("run", "rc_workflows:REVIEWED", "--input", TOPIC, "--run-id", "rv", "--detach")
    assert run.exit_code == 3
    state = show("rv")
    assert state["steps"]["draft"]["state"] == "awaiting_review"
    assert state["steps"]["draft"]["output"] == {"text": "draft: tea"}  # shown to the reviewer
    assert baton("approve", "rv", "draft", "--as", "bob").exit_code == 0
    assert baton("resume", "rv").exit_code == 0
    steps = show("rv")["steps"]
    assert steps["branch"]["state"] == steps["after_branch"]["state"] == "skipped"
    assert steps["after_branch"]["skip_reason"] == "needs 'branch', which was skipped"
    assert steps["final"]["output"] == {"text": "draft: tea"}


def test_refusals_are_clear_and_write_nothing(workdir: Path) -> None:
    assert (
        baton("run", "rc_workflows:CRASH", "--input", TOPIC, "--run-id", "r", "--detach").exit_code
        == 3
    )
    before = rows(workdir / "baton.db", "SELECT count(*) FROM events")
    cases = {
        ("approve", "r", "deliver", "--as", "carol"): (
            "'carol' may not decide step 'deliver': it needs role 'manager' (alice, bob)"
        ),
        ("approve", "r", "nope", "--as", "alice"): "unknown step 'nope' in run 'r'; steps are",
        ("approve", "r", "fetch", "--as", "alice"): "step 'fetch' has no approval gate",
        ("approve", "zz", "deliver", "--as", "alice"): "unknown run 'zz'",
        ("status", "zz"): "unknown run 'zz'",
        ("show", "zz"): "unknown run 'zz'",
        ("events", "zz"): "unknown run 'zz'",
        ("resume", "zz"): "unknown run 'zz'",
        ("cancel", "zz"): "unknown run 'zz'",
    }
    for args, message in cases.items():
        result = CliRunner().invoke(cli, list(args))
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.output
    assert rows(workdir / "baton.db", "SELECT count(*) FROM events") == before


def test_bad_input_reports_pointers_and_writes_nothing(workdir: Path) -> None:
    bad = json.dumps({"topic": "", "n": "x", "extra": 1})
    result = baton("run", "rc_workflows:CRASH", "--input", bad)
    assert result.exit_code == 2
    assert "input does not match the inputs schema of 'crashy'" in result.stderr
    for pointer in ("/topic", "/n", "(root)"):
        assert pointer in result.stderr
    not_json = baton("run", "rc_workflows:CRASH", "--input", "{topic")
    assert not_json.exit_code == 2 and "--input is not valid JSON" in not_json.stderr
    missing = baton("run", "rc_workflows:CRASH", "--input", "@nope.json")
    assert missing.exit_code == 2 and "cannot read input file 'nope.json'" in missing.stderr
    assert not (workdir / "baton.db").exists() and not ledger(workdir)


def test_a_corrupt_database_is_refused_untouched(workdir: Path) -> None:
    db = workdir / "baton.db"
    db.write_bytes(b"this is not a database" * 100)
    for args in (("runs",), ("status", "r"), ("run", "rc_workflows:CRASH", "--input", TOPIC)):
        result = CliRunner().invoke(cli, list(args))
        assert result.exit_code == 2, result.output
        assert f"cannot open database '{db}'" in result.stderr
    assert db.read_bytes() == b"this is not a database" * 100
    assert not ledger(workdir)


def test_dry_run_touches_neither_agents_nor_the_database(workdir: Path) -> None:
    result = baton("run", "rc_workflows:CRASH", "--dry-run", "--input", TOPIC)
    assert result.exit_code == 0, result.output
    assert (
        "deliver: agent echo; needs left, right; output text@1; approval by manager"
        in result.stdout
    )
    assert '"text": "fetch: tea+l|fetch: tea+r"' not in result.stdout  # example data, not a run
    assert "dry run: no agent called, nothing written" in result.stdout
    assert not (workdir / "baton.db").exists() and not ledger(workdir)
    assert not (workdir / ".baton").exists()


def test_malformed_outputs_are_never_committed(workdir: Path) -> None:
    result = baton("run", "rc_workflows:MALFORMED", "--input", TOPIC, "--run-id", "m")
    assert result.exit_code == 1
    state = show("m")
    bad = state["steps"]["bad"]
    assert bad["state"] == "failed" and bad["attempts"] == 3 and bad["output"] is None
    assert bad["error"]["failure"] == "malformed_output"
    assert bad["error"]["errors"][0]["pointer"] == ""
    assert state["steps"]["never"]["state"] == "cancelled"
    assert rows(workdir / "baton.db", "SELECT count(*) FROM outputs") == [(0,)]
    rejected = [
        e
        for e in json.loads(baton("events", "m", "--json").stdout)
        if e["type"] == "output_rejected"
    ]
    assert len(rejected) == 3 and all(e["data"]["errors"] for e in rejected)


def test_never_retried_class_gets_one_attempt(workdir: Path) -> None:
    assert (
        baton("run", "rc_workflows:NOT_RETRIED", "--input", TOPIC, "--run-id", "n").exit_code == 1
    )
    step = show("n")["steps"]["rejected_class"]
    assert step["attempts"] == 1 and step["error"]["failure"] == "acl_denied"
    assert len(ledger(workdir)) == 1


def test_cancel_a_waiting_run(workdir: Path) -> None:
    assert (
        baton("run", "rc_workflows:CRASH", "--input", TOPIC, "--run-id", "c", "--detach").exit_code
        == 3
    )
    result = baton("cancel", "c")
    assert result.exit_code == 0 and "c: cancelled" in result.stdout
    state = show("c")
    assert state["status"] == "cancelled"
    assert state["steps"]["deliver"]["state"] == state["steps"]["summary"]["state"] == "cancelled"
    assert baton("status", "c").stdout.startswith("run c: crashy v1, cancelled")
    again = CliRunner().invoke(cli, ["cancel", "c"])
    assert again.exit_code == 2 and "has already been cancelled" in again.stderr
    assert baton("resume", "c").exit_code == 1


def test_a_sub_workflow_runs_as_a_child_run(workdir: Path) -> None:
    result = baton("run", "rc_workflows:PARENT", "--input", TOPIC, "--run-id", "p")
    assert result.exit_code == 0, result.output
    state = show("p")
    assert state["steps"]["child"]["child_run_id"] == "p:child:1"
    assert state["result"] == {"text": "short start: tea"}
    child = show("p:child:1")
    assert child["parent"] == {"run_id": "p", "step": "child"}
    assert child["result"] == {"text": "short start: tea"}
    assert "p:child:1" in baton("runs").stdout


def test_resume_refuses_a_changed_spec(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = workdir / "pinned_flow.py"
    shutil.copy(HERE / "rc_workflows.py", module)
    monkeypatch.syspath_prepend(str(workdir))
    run = baton("run", "pinned_flow:CRASH", "--input", TOPIC, "--run-id", "s", "--detach")
    assert run.exit_code == 3
    assert baton("approve", "s", "deliver", "--as", "alice").exit_code == 0
    module.write_text(module.read_text() + "\n# a harmless edit\n")
    sys.modules.pop("pinned_flow", None)
    refused = CliRunner().invoke(cli, ["resume", "s"])
    assert refused.exit_code == 2
    assert "was started from another version of pinned_flow:CRASH" in refused.stderr
    assert "--allow-spec-change" in refused.stderr
    allowed = baton("resume", "s", "--allow-spec-change")
    assert allowed.exit_code == 0, allowed.output
    events = json.loads(baton("events", "s", "--json").stdout)
    resumed = [e for e in events if e["type"] == "run_resumed"]
    assert resumed[-1]["data"]["spec_changed"] is True


def test_an_incompatible_spec_change_is_refused(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = workdir / "changing_flow.py"
    shutil.copy(HERE / "rc_workflows.py", module)
    monkeypatch.syspath_prepend(str(workdir))
    assert (
        baton("run", "changing_flow:CRASH", "--input", TOPIC, "--run-id", "x", "--detach").exit_code
        == 3
    )
    source = module.read_text().replace('needs=("deliver",)', "needs=()")
    module.write_text(source)
    sys.modules.pop("changing_flow", None)
    refused = CliRunner().invoke(cli, ["resume", "x", "--allow-spec-change"])
    assert refused.exit_code == 2
    assert "step 'summary' changed its needs or output handoff" in refused.stderr
