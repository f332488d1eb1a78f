"""The console in a real browser: Debian's headless chromium (/usr/bin/chromium) driven
by Playwright (no browser download). Log in, see the exact input in the inbox with the
XSS payload as text (and no script run), approve, and watch the run page turn to
succeeded by itself; the role and CSRF refusals.

Without chromium these tests skip, saying why; under CI (CI=1) they fail instead, since
`.ci/run` installs it.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_support import XSS, Server, rows, run_status

CHROMIUM = os.environ.get("BATON_CHROMIUM", "/usr/bin/chromium")
# where the screenshots of docs/console.md come from (BATON_SCREENSHOTS=1 writes them)
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "images"


def _chromium() -> str:
    found = CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium")
    if found:
        return found
    message = (
        f"no chromium at {CHROMIUM}: install Debian's package (`apt-get install -y chromium`) "
        "or set BATON_CHROMIUM"
    )
    if os.environ.get("CI"):
        pytest.fail(message + " (CI=1: the browser tests must run)")
    pytest.skip(message)


@pytest.fixture
def browser() -> Iterator[Any]:
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def _page(browser: Any, server: Server) -> tuple[Any, list[str]]:
    """A fresh browser context; the console messages and dialogs it saw (a dialog would
    mean a script ran)."""
    context = browser.new_context(base_url=f"http://127.0.0.1:{server.port}")
    page = context.new_page()
    seen: list[str] = []
    page.on("dialog", lambda dialog: (seen.append("dialog: " + dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: seen.append(f"pageerror: {error}"))
    return page, seen


def _login(page: Any, who: str, server: Server) -> None:
    page.goto("/login")
    page.fill("input[name=token]", server.tokens[who])
    page.click("button[type=submit]")
    page.wait_for_url("**/approvals")


def _shot(page: Any, name: str) -> None:
    if os.environ.get("BATON_SCREENSHOTS"):
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / name), full_page=True)


def test_approve_in_the_inbox_and_watch_the_run_finish(browser: Any, server: Server) -> None:
    page, seen = _page(browser, server)
    _login(page, "alice", server)
    approval = page.locator("article.approval[data-run=r1][data-step=publish]")
    assert approval.locator(".role").inner_text() == "manager"
    shown = json.loads(approval.locator("pre").inner_text())
    assert shown == {"text": XSS}  # the exact input the agent will get, as text
    assert page.evaluate("window.__xss") is None  # neither the script nor onerror ran
    assert page.locator("main img").count() == 0 and page.locator("main script").count() == 0
    _shot(page, "console-approvals.png")
    page.goto("/runs/r1")
    assert page.locator("#run-status").inner_text() == "waiting"
    assert page.evaluate("window.__xss") is None
    # approve from the inbox in a second tab; the run page, left open, follows by itself
    inbox = page.context.new_page()
    inbox.goto("/approvals")
    decide = inbox.locator("article.approval[data-run=r1][data-step=publish]")
    decide.locator("textarea[name=comment]").fill("looks right")
    decide.locator("button.approve").click()
    inbox.wait_for_url("**/approvals?decided=approved*")
    assert "Step publish of r1 approved" in inbox.locator(".notice").inner_text()
    page.wait_for_selector("#run-status.succeeded", timeout=60_000)
    assert page.locator("#step-publish").get_attribute("data-state") == "committed"
    assert "granted by alice as manager via web" in page.locator("#step-publish").inner_text()
    _shot(page, "console-run.png")
    assert run_status(server.db, "r1") == "succeeded"
    [(data,)] = rows(server.db, "SELECT data FROM events WHERE type = 'approval_granted'")
    recorded = json.loads(data)
    assert (recorded["principal"], recorded["channel"], recorded["comment"]) == (
        "alice",
        "web",
        "looks right",
    )
    page.goto("/runs")
    assert page.locator("tr.run[data-run=r1] .status").inner_text() == "succeeded"
    _shot(page, "console-runs.png")
    assert seen == []


def test_the_inbox_updates_itself_while_runs_move(browser: Any, server: Server) -> None:
    from console_support import start_waiting

    page, seen = _page(browser, server)
    _login(page, "alice", server)
    assert page.locator("article.approval").count() == 1
    start_waiting(server.tmp, "r2", text="second")  # another process starts a run
    page.wait_for_selector("article.approval[data-run=r2]", timeout=60_000)
    assert page.locator("article.approval").count() == 2
    assert seen == []


def test_role_and_csrf_refusals_in_the_browser(browser: Any, server: Server) -> None:
    page, _ = _page(browser, server)
    _login(page, "carol", server)  # role ceo, not manager
    approval = page.locator("article.approval[data-run=r1]")
    assert approval.locator("form.decide").count() == 0
    assert "do not hold role manager" in approval.inner_text()
    # a hand-made form post as carol is refused by the server too
    csrf = page.locator("form.logout input[name=csrf]").get_attribute("value")
    answer = page.request.post(
        "/approvals/decide",
        form={
            "csrf": csrf,
            "run_id": "r1",
            "step": "publish",
            "decision": "approve",
            "shown_sha256": "0" * 64,
        },
    )
    assert answer.status == 403
    # alice, with the CSRF field tampered with in the page: refused, nothing recorded
    page2, _ = _page(browser, server)
    _login(page2, "alice", server)
    form = page2.locator("article.approval[data-run=r1] form.decide")
    form.locator("input[name=csrf]").evaluate("field => { field.value = 'forged' }")
    form.locator("button.approve").click()
    assert page2.locator("main h1").inner_text() == "403"
    assert "CSRF" in page2.locator("main .error").inner_text()
    assert (
        rows(
            server.db,
            "SELECT count(*) FROM events WHERE type IN ('approval_granted', 'approval_rejected')",
        )[0][0]
        == 0
    )
    assert run_status(server.db, "r1") == "waiting"
