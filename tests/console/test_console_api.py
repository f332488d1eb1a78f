"""The JSON API and the pages of a real `baton serve` on 127.0.0.1: identity, roles,
CSRF, bad input (400/404/409, never 500), escaping, and secrets kept out of pages."""

from __future__ import annotations

import json
import re
from pathlib import Path

from console_support import (
    XSS,
    Server,
    baton,
    cookie_pair,
    rows,
    run_status,
    start_waiting,
    wait_for,
)

SHA = re.compile(r'name="shown_sha256" value="([0-9a-f]{64})"')
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def decisions(db: Path) -> list[tuple[str, str]]:
    return [
        (kind, json.loads(data).get("channel", ""))
        for kind, data in rows(
            db,
            "SELECT type, data FROM events WHERE type IN ('approval_granted', 'approval_rejected')",
        )
    ]


def test_api_lists_runs_and_the_exact_approval(server: Server) -> None:
    runs = server.api("GET", "/api/runs").json()
    assert [r["run_id"] for r in runs["runs"]] == ["r1"]
    assert runs["runs"][0]["waiting_on"] == ["approval"] and runs["total"] == 1
    [pending] = server.api("GET", "/api/approvals").json()["approvals"]
    assert (pending["step"], pending["role"], pending["stage"]) == ("publish", "manager", "before")
    assert pending["value"] == {"text": XSS}  # exactly the input the agent will get, uncut
    detail = server.api("GET", "/api/runs/r1").json()
    steps = {s["step"]: s for s in detail["steps"]}
    assert steps["draft"]["output"] == {"text": XSS} and steps["publish"]["input"] == {"text": XSS}
    assert detail["approvals"][0]["shown_sha256"] == pending["shown_sha256"]
    events = server.api("GET", "/api/runs/r1/events").json()
    types = [e["type"] for e in events]
    assert types[0] == "run_started" and types[-1] == "approval_requested"
    assert events[-1]["step"] == "publish"


def test_api_decision_continues_the_run_and_is_recorded(server: Server) -> None:
    [pending] = server.api("GET", "/api/approvals").json()["approvals"]
    decided = server.api(
        "POST",
        "/api/decide",
        data={
            "run_id": "r1",
            "step": "publish",
            "decision": "approve",
            "comment": "fine",
            "shown_sha256": pending["shown_sha256"],
        },
    )
    assert decided.status == 200, decided.body
    assert decided.json()["channel"] == "api" and decided.json()["role"] == "manager"
    wait_for(lambda: run_status(server.db, "r1") == "succeeded", "r1 succeeded")
    [(data,)] = rows(server.db, "SELECT data FROM events WHERE type = 'approval_granted'")
    recorded = json.loads(data)
    assert (recorded["principal"], recorded["role"], recorded["channel"]) == (
        "alice",
        "manager",
        "api",
    )
    assert recorded["comment"] == "fine"
    again = server.api(
        "POST", "/api/decide", data={"run_id": "r1", "step": "publish", "decision": "approve"}
    )
    assert again.status == 409 and "not waiting" in again.json()["error"]
    assert server.api("GET", "/api/approvals").json()["approvals"] == []


def test_a_principal_without_the_role_cannot_decide(server: Server) -> None:
    refused = server.api(
        "POST",
        "/api/decide",
        who="carol",
        data={"run_id": "r1", "step": "publish", "decision": "approve"},
    )
    assert refused.status == 403 and "needs role 'manager'" in refused.json()["error"]
    assert decisions(server.db) == []
    assert run_status(server.db, "r1") == "waiting"


def test_a_decision_on_what_changed_since_shown_is_refused(server: Server) -> None:
    refused = server.api(
        "POST",
        "/api/decide",
        data={"run_id": "r1", "step": "publish", "decision": "approve", "shown_sha256": "0" * 64},
    )
    assert refused.status == 409 and "changed since it was shown" in refused.json()["error"]
    assert decisions(server.db) == []


def test_wrong_and_revoked_tokens(server: Server) -> None:
    server.tokens["mallory"] = "baton_" + "x" * 43
    assert server.api("GET", "/api/runs", who="mallory").status == 401
    assert server.api("GET", "/api/runs", who=None).status == 401
    basic = server.request("GET", "/api/runs", headers={"Authorization": "Basic YTpi"})
    assert basic.status == 401
    cookie, _ = server.login("carol")
    assert server.request("GET", "/runs", headers={"Cookie": cookie}).status == 200
    assert server.api("GET", "/api/runs", who="carol").status == 200
    assert baton(server.tmp, "principal", "revoke", "carol").returncode == 0
    # at once: the API token and the session opened with it
    assert server.api("GET", "/api/runs", who="carol").status == 401
    page = server.request("GET", "/runs", headers={"Cookie": cookie})
    assert page.status == 303 and page.header("location") == "/login"


def test_bad_ids_and_paging_are_400_or_404(server: Server) -> None:
    cases = {
        "/api/runs/nope": 404,
        "/api/runs/..%2F..%2Fetc": 404,  # decoded to a path no route has
        "/api/runs/%3Cscript%3E": 400,
        "/api/runs/nope/events": 404,
        "/api/runs?page=0": 400,
        "/api/runs?page=-1": 400,
        "/api/runs?page=abc": 400,
        "/api/runs?per_page=100000": 400,
        "/api/runs?status=bogus": 400,
        "/api/runs?workflow=%3Cx%3E": 400,
        "/api/nothing-here": 404,
        "/poll?view=run&run=nope": 404,
        "/poll?view=elsewhere": 400,
    }
    for path, status in cases.items():
        answer = server.api("GET", path)
        assert answer.status == status, (path, answer.status, answer.body)
        assert "error" in answer.json()
    assert server.api("GET", "/api/runs?page=99").json()["runs"] == []  # beyond the end: empty
    bad_bodies: list[object] = [
        "not json",
        [],
        {"run_id": "r1", "step": "publish", "decision": "maybe"},
        {"run_id": "r1", "step": "publish", "decision": "approve", "comment": "x" * 5000},
        {"run_id": 5, "step": "publish", "decision": "approve"},
        {"run_id": "r1", "step": "publish", "decision": "approve", "shown_sha256": "zz"},
    ]
    for body in bad_bodies:
        raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        answer = server.request(
            "POST", "/api/decide", raw, {"Authorization": f"Bearer {server.tokens['alice']}"}
        )
        assert answer.status == 400, (body, answer.body)
    unknown_step = server.api(
        "POST", "/api/decide", data={"run_id": "r1", "step": "nope", "decision": "approve"}
    )
    assert unknown_step.status == 404
    ungated = server.api(
        "POST", "/api/decide", data={"run_id": "r1", "step": "draft", "decision": "approve"}
    )
    assert ungated.status == 409
    huge = server.request(
        "POST",
        "/api/decide",
        b"{" + b" " * 70_000 + b"}",
        {"Authorization": f"Bearer {server.tokens['alice']}"},
    )
    assert huge.status == 413
    cookie, _ = server.login("alice")
    for path, status in (("/runs/nope", 404), ("/runs/a%20b", 400), ("/runs?page=x", 400)):
        page = server.request("GET", path, headers={"Cookie": cookie})
        assert page.status == status, (path, page.body)
    assert decisions(server.db) == []


def test_csrf_is_required_for_every_state_change(server: Server) -> None:
    cookie, _ = server.login("alice")
    inbox = server.request("GET", "/approvals", headers={"Cookie": cookie}).body
    sha = SHA.search(inbox)
    csrf = CSRF.search(inbox)
    assert sha is not None and csrf is not None
    fields = {"run_id": "r1", "step": "publish", "decision": "approve", "shown_sha256": sha[1]}
    assert server.form("/approvals/decide", fields, cookie).status == 403  # no token
    wrong = {**fields, "csrf": "A" * len(csrf[1])}
    assert server.form("/approvals/decide", wrong, cookie).status == 403
    other_cookie, _ = server.login("alice")  # another session's token is not this one's
    assert server.form("/approvals/decide", {**fields, "csrf": csrf[1]}, other_cookie).status == 403
    api_with_cookie = server.request(
        "POST",
        "/api/decide",
        json.dumps({"run_id": "r1", "step": "publish", "decision": "approve"}).encode(),
        {"Cookie": cookie},
    )
    assert api_with_cookie.status == 403
    assert server.form("/logout", {}, cookie).status == 403
    assert server.form("/login", {"token": server.tokens["alice"]}).status == 403  # no nonce
    odd = server.form("/login", {"csrf": "é", "token": "ü"}, "baton_login=abc")
    assert odd.status == 403  # not a 500
    raw = server.request(
        "POST", "/login", b"csrf=\xff\xfe", {"Cookie": "baton_login=abc",
        "Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert raw.status == 400
    assert server.form("/approvals/decide", {**fields, "csrf": "ü"}, cookie).status == 403
    assert decisions(server.db) == []
    elsewhere = {**fields, "csrf": csrf[1], "back": "https://evil.example/"}
    ok = server.form("/approvals/decide", elsewhere, cookie)  # never an open redirect
    assert ok.status == 303
    assert (ok.header("location") or "").startswith("/approvals?decided=approved")
    wait_for(lambda: run_status(server.db, "r1") == "succeeded", "r1 succeeded")
    assert decisions(server.db) == [("approval_granted", "web")]


def test_cookie_flags_and_security_headers(server: Server) -> None:
    _, answer = server.login("alice")
    [session] = [c for c in answer.cookies() if c.startswith("baton_session=")]
    flags = {part.strip().lower() for part in session.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= flags
    assert "secure" not in flags  # loopback, plain HTTP; --allow-remote adds Secure
    page = server.request("GET", "/login")
    csp = page.header("content-security-policy") or ""
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.header("x-frame-options") == "DENY"
    rebound = server.request("GET", "/login", headers={"Host": "evil.example:8700"})
    assert rebound.status == 400  # DNS rebinding: only loopback host names


def test_login_attempts_are_rate_limited(server: Server) -> None:
    page = server.request("GET", "/login")
    nonce_cookie = cookie_pair(page.cookies(), "baton_login")
    nonce = nonce_cookie.split("=", 1)[1]
    for _ in range(10):
        wrong = server.form("/login", {"csrf": nonce, "token": "baton_wrong"}, nonce_cookie)
        assert wrong.status == 401
    right = server.form("/login", {"csrf": nonce, "token": server.tokens["alice"]}, nonce_cookie)
    assert right.status == 429 and "baton_session" not in " ".join(right.cookies())


def test_pages_escape_agent_output(server: Server) -> None:
    cookie, _ = server.login("alice")
    for path in ("/approvals", "/runs/r1", "/runs"):
        body = server.request("GET", path, headers={"Cookie": cookie}).body
        assert "<script>window" not in body and "<img src=x" not in body
        assert "<script" not in body.replace('<script src="/static/console.js" defer>', "")
    inbox = server.request("GET", "/approvals", headers={"Cookie": cookie}).body
    assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in inbox


def test_tokens_never_reach_pages_events_or_logs(server: Server) -> None:
    cookie, _ = server.login("alice")
    session_id = cookie.split("=", 1)[1]
    server.request("GET", "/login?token=" + server.tokens["carol"])  # a token in a URL
    seen = [
        server.request("GET", p, headers={"Cookie": cookie}).body
        for p in ("/runs", "/runs/r1", "/approvals")
    ]
    seen += [server.api("GET", p).body for p in ("/api/runs", "/api/runs/r1", "/api/approvals")]
    [pending] = server.api("GET", "/api/approvals").json()["approvals"]
    decided = server.api(
        "POST",
        "/api/decide",
        data={
            "run_id": "r1",
            "step": "publish",
            "decision": "approve",
            "shown_sha256": pending["shown_sha256"],
        },
    )
    seen.append(decided.body)
    wait_for(lambda: run_status(server.db, "r1") == "succeeded", "r1 succeeded")
    seen.append(server.api("GET", "/api/runs/r1/events").body)
    log = server.stop()
    with_db = [*seen, log, server.db.read_bytes().decode("latin-1")]
    for secret in (*server.tokens.values(), session_id):
        for text in with_db:
            assert secret not in text


def test_decision_on_output_of_a_stage_after_gate(server: Server) -> None:
    start_waiting(server.tmp, "r2", text="plain", spec="reviewed.yaml")
    pending = {p["run_id"]: p for p in server.api("GET", "/api/approvals").json()["approvals"]}
    after = pending["r2"]
    assert (after["stage"], after["subject"], after["value"]) == (
        "after",
        "output",
        {"text": "plain"},
    )
    rejected = server.api(
        "POST",
        "/api/decide",
        data={
            "run_id": "r2",
            "step": "publish",
            "decision": "reject",
            "comment": "no",
            "shown_sha256": after["shown_sha256"],
        },
    )
    assert rejected.status == 200, rejected.body
    wait_for(lambda: run_status(server.db, "r2") == "failed", "r2 failed")
    assert run_status(server.db, "r1") == "waiting"
    cookie, _ = server.login("alice")
    page = server.request("GET", "/runs/r2", headers={"Cookie": cookie})
    assert page.status == 200
    assert 'id="run-status">failed<' in page.body and "rejected by alice: no" in page.body
    listing = server.request("GET", "/runs?status=failed", headers={"Cookie": cookie}).body
    assert 'data-run="r2"' in listing and 'data-run="r1"' not in listing


def test_remote_bind_is_refused_without_allow_remote(tmp_path: Path) -> None:
    for host in ("0.0.0.0", "192.0.2.1", "example.com", "::"):
        refused = baton(tmp_path, "serve", "--host", host, "--port", "1")
        assert refused.returncode == 2
        assert "--allow-remote" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "baton.db").exists()


def test_a_decision_from_the_cli_is_continued_by_serve(server: Server) -> None:
    """`baton approve` while serve runs: serve sees the decided gate that nothing drives
    and continues the run (no `baton resume`)."""
    approved = baton(
        server.tmp, "approve", "r1", "publish", "--as", "alice", token=server.tokens["alice"]
    )
    assert approved.returncode == 0, approved.stderr
    wait_for(lambda: run_status(server.db, "r1") == "succeeded", "r1 continued by serve")
    assert decisions(server.db) == [("approval_granted", "cli")]


def test_never_two_drivers_a_live_driver_applies_the_decision(server: Server) -> None:
    """A `baton run` that waits in the foreground drives its run (holds the lease):
    a decision through the API is applied by it, and serve does not resume the run."""
    import subprocess

    from console_support import BATON

    driver = subprocess.Popen(
        [BATON, "run", "notes.yaml", "--run-id", "r3", "--input", '{"text": "held"}',
         "--db", str(server.db)],
        cwd=server.tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for(
            lambda: (
                bool(rows(server.db, "SELECT 1 FROM runs WHERE run_id = 'r3'"))
                and run_status(server.db, "r3") == "waiting"
            ),
            "r3 waiting",
        )
        [pending] = [
            p
            for p in server.api("GET", "/api/approvals").json()["approvals"]
            if p["run_id"] == "r3"
        ]
        decided = server.api(
            "POST",
            "/api/decide",
            data={"run_id": "r3", "step": "publish", "decision": "approve",
                  "shown_sha256": pending["shown_sha256"]},
        )  # fmt: skip
        assert decided.status == 200, decided.body
        out, err = driver.communicate(timeout=120)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == 0, out + err
    assert run_status(server.db, "r3") == "succeeded"
    resumed = rows(
        server.db, "SELECT count(*) FROM events WHERE run_id = 'r3' AND type = 'run_resumed'"
    )
    assert resumed == [(0,)]  # serve never took the run over
    attempts = rows(
        server.db,
        "SELECT step, count(*) FROM events WHERE run_id = 'r3' AND type = 'attempt_started' "
        "GROUP BY step ORDER BY step",
    )
    assert attempts == [("draft", 1), ("publish", 1)]


def test_a_decision_in_a_child_run_continues_its_parent(server: Server) -> None:
    start_waiting(server.tmp, "p1", text="nested", spec="parent.yaml")
    [pending] = [
        p for p in server.api("GET", "/api/approvals").json()["approvals"] if p["run_id"] != "r1"
    ]
    assert pending["run_id"] == "p1:child:1" and pending["value"] == {"text": "nested"}
    page = server.api("GET", "/api/runs/p1:child:1").json()
    assert page["run"]["parent"]["run_id"] == "p1"
    decided = server.api(
        "POST",
        "/api/decide",
        data={"run_id": "p1:child:1", "step": "publish", "decision": "approve",
              "shown_sha256": pending["shown_sha256"]},
    )  # fmt: skip
    assert decided.status == 200, decided.body
    wait_for(lambda: run_status(server.db, "p1") == "succeeded", "the parent run succeeded")
    assert run_status(server.db, "p1:child:1") == "succeeded"


def test_a_port_in_use_is_one_clear_error(server: Server) -> None:
    taken = baton(server.tmp, "serve", "--port", str(server.port))
    assert taken.returncode == 2
    assert f"cannot listen on 127.0.0.1:{server.port}" in taken.stderr
    assert "Traceback" not in taken.stderr


def test_allow_remote_marks_the_session_cookie_secure(tmp_path: Path) -> None:
    from console_support import add_principal, start_server, write_specs

    write_specs(tmp_path)
    token = add_principal(tmp_path, "alice")
    remote = start_server(tmp_path, "--host", "0.0.0.0", "--allow-remote")
    remote.tokens = {"alice": token}
    try:
        _, answer = remote.login("alice")
        [session] = [c for c in answer.cookies() if c.startswith("baton_session=")]
        flags = {part.strip().lower() for part in session.split(";")[1:]}
        assert {"secure", "httponly", "samesite=strict"} <= flags
    finally:
        remote.stop()
