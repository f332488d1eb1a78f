"""A real `baton serve` on 127.0.0.1 over a real SQLite database with waiting runs, and a
small HTTP client that follows no redirects and keeps cookies by hand."""

from __future__ import annotations

import http.client
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

BATON = str(Path(sys.executable).parent / "baton")
XSS = '<script>window.__xss = 1</script>"><img src=x onerror="window.__xss = 2">'

ROSTER = """\
baton: 1
kind: roster
agents:
  writer:
    description: Writes notes
    run: {builtin: echo}
approvers:
  manager: [alice]
  ceo: [carol]
"""

NOTES = """\
baton: 1
name: notes
version: 1
roster: roster.yaml
owner: writer
inputs:
  type: object
  required: [text]
  properties:
    text: {type: string}
handoffs:
  note:
    versions:
      1:
        type: object
        required: [text]
        additionalProperties: false
        properties:
          text: {type: string}
steps:
  draft:
    agent: writer
    input:
      text: "{{ inputs.text }}"
    output: note@1
  publish:
    agent: writer
    needs: [draft]
    approval: {role: manager, stage: before}
    input:
      text: "{{ steps.draft.output.text }}"
    output: note@1
result: publish
"""

# the gate after the step: the approver decides on its validated output
REVIEWED = NOTES.replace("name: notes", "name: reviewed").replace("stage: before", "stage: after")


# a sub-workflow step: its child run waits at `publish`, and the parent waits for it
PARENT = """\
baton: 1
name: parent
version: 1
roster: roster.yaml
owner: writer
inputs:
  type: object
  required: [text]
  properties:
    text: {type: string}
steps:
  child:
    workflow: notes
    input:
      text: "{{ inputs.text }}"
result: child
"""


# approvals with context: `draft`'s review loop never passes and escalates to a person
# (who decides on its last output, with the verdicts); `ask` (an llm step, never called)
# waits before it runs, with the prompt its model would get
CONTEXT = """\
baton: 1
name: context
version: 1
owner: writer
agents:
  writer: {run: {builtin: echo}, delegates_to: [critic, model]}
  critic: {run: {builtin: echo}}
  model:
    run:
      llm: {provider: openai, model: scripted, base_url: "http://127.0.0.1:9/v1"}
approvers:
  manager: [alice]
inputs:
  type: object
  required: [text]
  properties:
    text: {type: string}
handoffs:
  note:
    versions:
      1:
        type: object
        required: [text]
        properties:
          text: {type: string}
  verdict:
    versions:
      1:
        type: object
        required: [verdict, notes]
        properties:
          verdict: {type: string}
          notes: {type: string}
steps:
  draft:
    agent: writer
    input:
      text: "{{ inputs.text }}"
    output: note@1
    review:
      by: critic
      output: verdict@1
      input: {verdict: revise, notes: "say more than {{ output.text }}"}
      pass_when: "review.verdict == 'pass'"
      feedback: "{{ review.notes }}"
      max_rounds: 2
      on_exhausted: escalate
      escalate_to: {role: manager}
  ask:
    agent: model
    approval: {role: manager, stage: before}
    prompt: "Summarize {{ inputs.text }} for the team."
    output: note@1
"""


def baton(tmp: Path, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("BATON_TOKEN", None)
    if token is not None:
        env["BATON_TOKEN"] = token
    return subprocess.run(
        [BATON, *args, "--db", str(tmp / "baton.db")],
        cwd=tmp,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def write_specs(tmp: Path) -> None:
    (tmp / "roster.yaml").write_text(ROSTER)
    (tmp / "notes.yaml").write_text(NOTES)
    (tmp / "reviewed.yaml").write_text(REVIEWED)
    (tmp / "parent.yaml").write_text(PARENT)
    (tmp / "context.yaml").write_text(CONTEXT)


def start_waiting(tmp: Path, run_id: str, text: str = XSS, spec: str = "notes.yaml") -> None:
    started = baton(
        tmp, "run", spec, "--input", json.dumps({"text": text}), "--run-id", run_id, "--detach"
    )
    assert started.returncode == 3, started.stdout + started.stderr


def add_principal(tmp: Path, name: str) -> str:
    added = baton(tmp, "principal", "add", name)
    assert added.returncode == 0, added.stderr
    return added.stdout.strip()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rows(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql, params).fetchall()


def run_status(db: Path, run_id: str) -> str:
    state = json.loads(rows(db, "SELECT state FROM runs WHERE run_id = ?", run_id)[0][0])
    return str(state.get("outcome") or state.get("status"))


def wait_for(check: Any, what: str, deadline_s: float = 60.0) -> None:
    """Poll `check()` until true; fail naming `what` if it never becomes true."""
    end = time.monotonic() + deadline_s
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.05)


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: str

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def cookies(self) -> list[str]:
        return [value for key, value in self.headers if key.lower() == "set-cookie"]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Server:
    tmp: Path
    port: int
    process: subprocess.Popen[str]
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def db(self) -> Path:
        return self.tmp / "baton.db"

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            answer = connection.getresponse()
            return Response(answer.status, answer.getheaders(), answer.read().decode("utf-8"))
        finally:
            connection.close()

    def api(self, method: str, path: str, who: str | None = "alice", data: Any = None) -> Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        body = None
        if data is not None:
            body = json.dumps(data).encode()
            headers["Content-Type"] = "application/json"
        return self.request(method, path, body, headers)

    def form(self, path: str, fields: dict[str, str], cookie: str = "") -> Response:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if cookie:
            headers["Cookie"] = cookie
        return self.request("POST", path, urlencode(fields).encode(), headers)

    def login(self, who: str) -> tuple[str, Response]:
        """Log in as `who` through the form; the session cookie ("name=value")."""
        page = self.request("GET", "/login")
        nonce_cookie = cookie_pair(page.cookies(), "baton_login")
        nonce = nonce_cookie.split("=", 1)[1]
        answer = self.form("/login", {"csrf": nonce, "token": self.tokens[who]}, nonce_cookie)
        assert answer.status == 303, answer.body
        return cookie_pair(answer.cookies(), "baton_session"), answer

    def stop(self) -> str:
        """Stop the server; what it wrote on stderr and stdout."""
        self.process.terminate()
        try:
            out, err = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
        return out + err


def cookie_pair(cookies: list[str], name: str) -> str:
    for cookie in cookies:
        pair = cookie.split(";", 1)[0]
        if pair.startswith(name + "="):
            return pair
    raise AssertionError(f"no {name} cookie in {cookies}")


def start_server(tmp: Path, *extra: str) -> Server:
    port = free_port()
    process = subprocess.Popen(
        [BATON, "serve", "--db", str(tmp / "baton.db"), "--port", str(port), *extra],
        cwd=tmp,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    server = Server(tmp, port, process)

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"baton serve exited: {server.stop()}")
        try:
            return server.request("GET", "/login").status == 200
        except OSError:
            return False

    wait_for(ready, "baton serve answering")
    return server
