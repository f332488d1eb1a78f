"""`baton approvals` (cut, --full, --json) and `baton show --json`, which cut nothing:
real `baton` processes on a real SQLite database."""

from __future__ import annotations

import json
from pathlib import Path

from console_support import XSS, baton, start_waiting, write_specs

LONG = "lorem ipsum " * 500  # 6,000 characters


def test_approvals_cut_full_and_json(tmp_path: Path) -> None:
    write_specs(tmp_path)
    assert baton(tmp_path, "approvals").stdout.strip() == "no approvals waiting"
    start_waiting(tmp_path, "long", text=LONG)
    start_waiting(tmp_path, "xss", text=XSS)
    start_waiting(tmp_path, "after", text="done", spec="reviewed.yaml")
    listed = baton(tmp_path, "approvals")
    assert listed.returncode == 0, listed.stderr
    assert "long  step publish  role manager (alice)  stage before" in listed.stdout
    assert "after  step publish  role manager (alice)  stage after" in listed.stdout
    assert LONG not in listed.stdout and "..." in listed.stdout  # cut for the terminal
    assert 'output to commit: {"text":"done"}' in listed.stdout
    full = baton(tmp_path, "approvals", "--full")
    assert json.dumps(LONG) in full.stdout  # whole, as indented JSON
    as_json = json.loads(baton(tmp_path, "approvals", "--json").stdout)
    by_run = {p["run_id"]: p for p in as_json}
    assert by_run["long"]["value"] == {"text": LONG}
    assert by_run["xss"]["value"] == {"text": XSS}
    assert (by_run["after"]["subject"], by_run["after"]["value"]) == ("output", {"text": "done"})
    assert all(len(p["shown_sha256"]) == 64 for p in as_json)
    # the sha256 the runtime binds decisions to (runtime.approval_subject): the input
    # shown, with the step, its stage and agent
    from baton.runtime.canonical import checksum

    subject = {"step": "publish", "stage": "before", "agent": by_run["long"]["agent"]}
    assert by_run["long"]["shown_sha256"] == checksum({**subject, "input": {"text": LONG}})


def test_show_json_cuts_nothing(tmp_path: Path) -> None:
    write_specs(tmp_path)
    start_waiting(tmp_path, "long", text=LONG)
    shown = baton(tmp_path, "show", "long", "--json")
    state = json.loads(shown.stdout)
    assert state["inputs"]["text"] == LONG
    assert state["steps"]["draft"]["output"] == {"text": LONG}


def test_approvals_says_why_an_input_cannot_be_rendered(tmp_path: Path) -> None:
    write_specs(tmp_path)
    start_waiting(tmp_path, "gone")
    (tmp_path / "notes.yaml").unlink()  # the spec the run started from is gone
    listed = baton(tmp_path, "approvals")
    assert listed.returncode == 0 and "Traceback" not in listed.stderr
    assert "input: the run's spec cannot be loaded" in listed.stdout
    [pending] = json.loads(baton(tmp_path, "approvals", "--json").stdout)
    assert pending["value"] is None and pending["shown_sha256"] is None
