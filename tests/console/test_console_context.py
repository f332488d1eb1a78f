"""Approvals with context, on a real `baton serve`: an escalated review loop shows its
last output (what a grant commits) with every verdict (reviewer, outcome, feedback), an
llm step waiting before it runs shows the prompt its model would get; all of it escaped
in the pages. A grant bound to the shown output commits it."""

from __future__ import annotations

from pathlib import Path

from console_support import (
    XSS,
    add_principal,
    run_status,
    start_server,
    start_waiting,
    wait_for,
    write_specs,
)

ESCAPED = "&lt;script&gt;window.__xss = 1&lt;/script&gt;"


def test_review_verdicts_and_prompt_are_shown_with_the_gate(tmp_path: Path) -> None:
    write_specs(tmp_path)
    start_waiting(tmp_path, "c1", spec="context.yaml")
    server = start_server(tmp_path)
    server.tokens = {"alice": add_principal(tmp_path, "alice")}
    try:
        pending = {p["step"]: p for p in server.api("GET", "/api/approvals").json()["approvals"]}
        draft, ask = pending["draft"], pending["ask"]
        assert (draft["stage"], draft["subject"], draft["value"]) == (
            "escalation",
            "output",
            {"text": XSS},
        )
        notes = f"say more than {XSS}"
        verdict = {"verdict": "revise", "notes": notes}
        assert draft["reviews"] == [
            {
                "round": 1,
                "reviewer": "critic",
                "outcome": "revision requested",
                "verdict": verdict,
                "feedback": notes,
            },
            {
                "round": 2,
                "reviewer": "critic",
                "outcome": "exhausted",
                "verdict": verdict,
                "feedback": notes,
            },
        ]
        assert (ask["stage"], ask["prompt"]) == ("before", f"Summarize {XSS} for the team.")
        assert ask["reviews"] == [] and draft["prompt"] is None
        steps = {s["step"]: s for s in server.api("GET", "/api/runs/c1").json()["steps"]}
        assert steps["ask"]["prompt"] == ask["prompt"] and steps["draft"]["prompt"] is None
        assert steps["draft"]["reviews"] == draft["reviews"] and steps["ask"]["reviews"] == []

        cookie, _ = server.login("alice")
        for path in ("/approvals", "/runs/c1"):
            page = server.request("GET", path, headers={"Cookie": cookie})
            assert page.status == 200 and XSS not in page.body
            assert "Review verdicts" in page.body and "revision requested" in page.body
            assert f"say more than {ESCAPED}" in page.body
            assert f"Summarize {ESCAPED}" in page.body
        run_page = server.request("GET", "/runs/c1", headers={"Cookie": cookie}).body
        assert 'id="prompt-ask"' in run_page  # the step's own prompt, besides its gate's

        decided = server.api(
            "POST",
            "/api/decide",
            data={
                "run_id": "c1",
                "step": "draft",
                "decision": "approve",
                "shown_sha256": draft["shown_sha256"],
            },
        )
        assert decided.status == 200, decided.body

        def committed() -> bool:
            steps = {s["step"]: s for s in server.api("GET", "/api/runs/c1").json()["steps"]}
            return steps["draft"]["state"] == "committed"

        wait_for(committed, "the escalated output committed")
        assert run_status(server.db, "c1") == "waiting"  # `ask` still waits for its gate
        [left] = server.api("GET", "/api/approvals").json()["approvals"]
        assert left["step"] == "ask"
    finally:
        server.stop()
