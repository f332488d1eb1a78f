"""What `baton mcp serve` does for an MCP client, with no MCP in it: list workflows,
start a run, read a run, list approvals, decide one as the server's principal.

Every refusal is a `ClientError` whose message says what was wrong (the server turns it
into an MCP tool error); nothing here prints. The workflows are the SPECS the server was
started with, compiled once; a run's own spec is loaded as `baton serve` loads it (the
path it recorded, else a spec of the same name among SPECS), to show and bind what an
approval decides on.

Identity: the principal (`--as NAME`) and its token (`BATON_TOKEN`, read once at start
and kept out of the environment, so no agent process the server starts inherits it)
are checked against the principals table on every decision, exactly as `baton approve`
checks them; the decision is recorded with channel `mcp` and the sha256 of its
subject (runtime.approval_subject). Messages never hold the token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baton.runtime import api, identity
from baton.runtime.backend import Follow, LocalBackend
from baton.runtime.model import JSON

CHANNEL = "mcp"
SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_COMMENT = 2000


class ClientError(Exception):
    """A request the client got wrong, or Baton refuses; the message says why."""


@dataclass(frozen=True)
class Principal:
    """Who decides through this server: `name` (None: decisions are refused) and the
    token that proves it ("" when none was given)."""

    name: str | None
    token: str

    def __repr__(self) -> str:  # never the token, even in a debugger or a log line
        return f"Principal(name={self.name!r}, token={'<set>' if self.token else '<unset>'})"


class Service:
    """The operations behind the MCP tools, on the local database `db`."""

    def __init__(
        self,
        db: Path,
        workflows: dict[str, api.LoadedWorkflow],
        load: api.Load,
        principal: Principal,
    ) -> None:
        from baton.console.views import Workflows

        self.db = db
        self.workflows = workflows
        self.backend = LocalBackend(db)
        self._load = load
        self._views = Workflows(self._load_or_fail)
        self._principal = principal

    def _load_or_fail(self, spec: str) -> api.LoadedWorkflow:
        return self._load(spec)

    # -- workflows and runs

    def list_workflows(self) -> list[dict[str, JSON]]:
        """Each workflow a run can start: name, version, description, its input schema,
        its steps, and the roles its approval gates need."""
        listed: list[dict[str, JSON]] = []
        for name, loaded in sorted(self.workflows.items()):
            workflow = loaded.workflow
            gates: list[JSON] = [
                {
                    "step": step.id,
                    "role": step.approval.role,
                    "stage": str(step.approval.stage.value),
                }
                for step in workflow.steps
                if step.approval is not None
            ]
            listed.append(
                {
                    "name": name,
                    "version": workflow.version,
                    "description": workflow.description,
                    "spec": loaded.spec,
                    "inputs_schema": workflow.inputs_schema,
                    "steps": [step.id for step in workflow.steps],
                    "approvals": gates,
                }
            )
        return listed

    def start_run(self, workflow: str, inputs: Any, run_id: str | None) -> dict[str, JSON]:
        """Start a run and drive it to its first wait (an approval) or its end, as `baton
        run --detach` does; the run's summary."""
        loaded = self.workflows.get(workflow)
        if loaded is None:
            known = ", ".join(sorted(self.workflows)) or "none (start the server with SPECS)"
            raise ClientError(f"unknown workflow '{workflow}'; workflows: {known}")
        if isinstance(inputs, str):
            inputs = _json_object(inputs)
        if inputs is None:
            inputs = {}
        found = api.lone_surrogate(inputs)
        if found is not None:
            raise ClientError(f"input is not valid Unicode at {found[0] or '(root)'}")
        if run_id is not None:
            try:
                api.check_run_id(run_id)
            except api.RunError as error:
                raise ClientError(str(error)) from None
            if self.backend.existing(run_id) is not None:
                raise ClientError(f"run '{run_id}' already exists; not started again")
        run_id = run_id or api.new_run_id(loaded.workflow.name)
        try:
            result = self.backend.start(loaded, inputs, run_id, Follow(detach=True))
        except api.RunExists:
            raise ClientError(f"run '{run_id}' already exists; not started again") from None
        except (api.RunError, api.StoreError) as error:
            raise ClientError(str(error)) from None
        return summary(result.state)

    def list_runs(self) -> list[dict[str, JSON]]:
        """The database's runs, newest first: id, workflow, status."""
        return [
            {
                "run_id": run.run_id,
                "workflow": run.workflow,
                "version": run.version,
                "status": run.status,
                "created_ms": run.created_ms,
            }
            for run in self.backend.runs()
        ]

    def run_status(self, run_id: str) -> dict[str, JSON]:
        """The run's summary and its whole materialized state (`baton show --json`)."""
        state = self._state(run_id)
        shown = summary(state)
        shown["state"] = state.to_json()
        return shown

    def _state(self, run_id: str) -> api.RunState:
        if not isinstance(run_id, str) or not run_id:
            raise ClientError("run_id must be a run's id (see list_runs)")
        try:
            return self.backend.state(run_id)
        except api.UnknownRun:
            raise ClientError(f"unknown run '{run_id}' (see list_runs)") from None
        except (api.RunError, api.StoreError) as error:
            raise ClientError(str(error)) from None

    # -- approvals

    def list_approvals(self) -> list[dict[str, JSON]]:
        """Every gate waiting for a decision (`baton approvals --json`)."""
        from baton.console.sources import LocalSource
        from baton.console.views import pending_approvals

        try:
            pending = pending_approvals(LocalSource(self.db), self._views)
            return [p.to_json() for p in pending]
        except api.StoreError as error:
            raise ClientError(str(error)) from None

    def decide(
        self, kind: str, run_id: str, step: str, comment: str, shown_sha256: str | None
    ) -> dict[str, JSON]:
        """Record the server's principal's decision on `step` of `run_id`, bound to the
        subject's sha256, then continue the run to its next wait or its end."""
        if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
            raise ClientError(f"comment must be a string of at most {MAX_COMMENT} characters")
        if shown_sha256 is not None and not SHA256.match(shown_sha256):
            raise ClientError("shown_sha256 must be 64 lowercase hex digits (list_approvals)")
        name = self._prove()
        state = self._state(run_id)
        sha256 = self._subject_sha256(state, step, shown_sha256)
        try:
            outcome = self.backend.decide(
                kind, run_id, step, name, comment, CHANNEL, shown_sha256=sha256
            )
        except (api.RunError, api.StoreError) as error:
            raise ClientError(str(error)) from None
        decided: dict[str, JSON] = {
            "run_id": run_id,
            "step": step,
            "decision": kind,
            "principal": name,
            "channel": CHANNEL,
            "outcome": outcome,
            "subject_sha256": sha256,
        }
        decided["run"] = self._continue(run_id)
        return decided

    def _prove(self) -> str:
        """The principal's name once its token is proven (when principals exist)."""
        name = self._principal.name
        if name is None:
            raise ClientError(
                "this server decides as nobody: start it with `baton mcp serve --as NAME` "
                "and NAME's token in BATON_TOKEN"
            )
        try:
            if not identity.enforced(self.db):
                return name  # no principals yet: identity is unverified, as on the CLI
            if not self._principal.token:
                raise ClientError(
                    f"principal '{name}' needs its token: set BATON_TOKEN in the "
                    "server's environment"
                )
            identity.verify(self.db, name, self._principal.token)
        except identity.IdentityError as error:
            raise ClientError(str(error)) from None
        except api.StoreError as error:
            raise ClientError(str(error)) from None
        return name

    def _subject_sha256(self, state: api.RunState, step: str, shown: str | None) -> str | None:
        """The sha256 of what the gate shows now, which binds the decision; `shown`, if
        given, must still be it. None when the run's spec cannot be loaded here."""
        from baton.runtime.approval_subject import NoSubject, subject

        workflow, _ = self._views.of(state)
        if workflow is None:
            return shown
        try:
            current = subject(workflow, state, step).sha256
        except NoSubject:
            return shown  # the decision itself is refused with the reason
        if shown is not None and shown != current:
            raise ClientError(
                f"what step '{step}' would get has changed since it was shown "
                f"(shown {shown[:12]}, now {current[:12]}): list the approvals again"
            )
        return current

    def _continue(self, run_id: str) -> dict[str, JSON]:
        """Drive the run (its top run, for a child's gate) to its next wait or its end,
        as `baton resume --detach` would; another process driving it applies the
        decision itself."""
        from baton.console.driving import root_run
        from baton.console.views import LoadFailed

        state = self._state(run_id)
        top = root_run(self.db, state)
        try:
            result = self.backend.resume(top, self._load, False, Follow(detach=True))
        except api.RunBusy:
            shown = summary(self._state(run_id))
            shown["note"] = "another process drives this run; it applies the decision"
            return shown
        except (api.RunError, api.StoreError, LoadFailed) as error:
            shown = summary(self._state(run_id))
            shown["note"] = f"not continued here: {error}"
            return shown
        return summary(result.state if top == run_id else self._state(run_id))


def summary(state: api.RunState) -> dict[str, JSON]:
    """A run in a few fields: status, the gates it waits on, its result or error."""
    waiting: list[JSON] = [
        {"step": step, "role": record.approval.role, "stage": str(record.approval.stage)}
        for step, record in state.steps.items()
        if record.approval is not None and record.approval.decision is None
    ]
    shown: dict[str, JSON] = {
        "run_id": state.run_id,
        "workflow": state.workflow,
        "status": state.status,
        "steps": {step: state.steps[step].state.value for step in state.plan},
    }
    if waiting and state.outcome is None:
        shown["waiting_for"] = waiting
    if state.status == "succeeded":
        shown["result"] = state.result
    if state.error:
        shown["error"] = state.error
    return shown


def _json_object(text: str) -> Any:
    import json

    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ClientError(
            f"input is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None
    except RecursionError:
        raise ClientError("input is nested too deeply to read") from None
