"""The web console and JSON API of `baton serve`: a Starlette application.

Pages are rendered on the server by jinja2 with autoescaping on: every value from a run
(inputs, outputs, errors, comments) is data and shows as text. The
Content-Security-Policy allows scripts only from /static (no inline script), so even a
value that escaped escaping could not run. docs/console.md describes the pages, the
API and the security model.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from baton.console import auth, views
from baton.console.sources import ConsoleSource, runs_version
from baton.runtime import api
from baton.runtime.core.approvals import principals_for
from baton.runtime.core.decisions import APPROVE, REJECT
from baton.runtime.core.tool_approvals import is_tool
from baton.runtime.model import StepState

HERE = Path(__file__).resolve().parent
MAX_BODY = 64 * 1024  # a form or API body larger than this is refused (413)
MAX_COMMENT = 4000
PER_PAGE = 25
MAX_PER_PAGE = 200
LOGIN_COOKIE = "baton_login"  # the login form's own CSRF value (double submit)
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        b"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


class Problem(Exception):
    """A request refused with an HTTP status and a message for the person or client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Config:
    db: Path  # the principals (tokens) live here, on either backend
    source: ConsoleSource  # the runs: this database's, or a Temporal cluster's
    load: views.LoadWorkflow
    remote: bool = False  # bound beyond loopback (behind TLS): cookies get `Secure`


class SecurityHeaders:
    """Adds the CSP and friends to every response, errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    h for h in message.get("headers", []) if h[0] not in dict(SECURITY_HEADERS)
                ]
                message["headers"] = headers + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, with_headers)


def _environment() -> Environment:
    from baton.commands._common import clock, duration

    env = Environment(
        loader=PackageLoader("baton.console", "templates"),
        autoescape=select_autoescape(["html"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["clock"] = clock
    env.filters["duration"] = duration
    env.filters["pretty"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False)
    env.filters["usd"] = lambda value: f"${float(value or 0):.4f}"
    return env


def create_app(config: Config) -> Starlette:
    env = _environment()
    sessions = auth.Sessions()
    limiter = auth.LoginLimiter()
    workflows = views.Workflows(config.load)
    cookie_flags = {"httponly": True, "samesite": "strict", "secure": config.remote, "path": "/"}

    # -- helpers

    def page(request: Request, name: str, http_status: int = 200, **context: Any) -> HTMLResponse:
        session = _session(request)
        html = env.get_template(name).render(session=session, path=request.url.path, **context)
        return HTMLResponse(html, status_code=http_status)

    def _session(request: Request) -> auth.Session | None:
        return sessions.get(request.cookies.get(auth.COOKIE))

    async def who(request: Request, api_call: bool) -> tuple[str, auth.Session | None]:
        """The principal making the request (and its session, for a cookie); Problem
        401 unless a live token or session proves one."""
        header = request.headers.get("authorization", "")
        if api_call and header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Problem(401, "use Authorization: Bearer TOKEN")
            found = await run_in_threadpool(auth.principal_of, config.db, token)
            if found is None:
                raise Problem(401, "the token is not a live principal's token (wrong, or revoked)")
            return found[0], None
        session = _session(request)
        if session is None:
            raise Problem(401, "log in first")
        live = await run_in_threadpool(
            auth.still_live, config.db, session.principal, session.token_sha256
        )
        if not live:
            sessions.close(request.cookies.get(auth.COOKIE))
            raise Problem(401, "your principal's token was revoked; log in again")
        return session.principal, session

    async def form(request: Request) -> dict[str, str]:
        body = await _body(request)
        try:
            fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
        except (UnicodeDecodeError, ValueError):
            raise Problem(400, "the form could not be read") from None
        return {key: values[0] for key, values in fields.items()}

    async def html_guard(request: Request) -> tuple[str, auth.Session | None] | Response:
        try:
            return await who(request, api_call=False)
        except Problem:
            return RedirectResponse("/login", status_code=303)

    # -- pages

    async def index(request: Request) -> Response:
        return RedirectResponse("/runs", status_code=303)

    async def login_page(request: Request) -> Response:
        nonce = request.cookies.get(LOGIN_COOKIE) or _nonce()
        none = not await run_in_threadpool(_any_principal, config.db)
        response = page(request, "login.html", nonce=nonce, no_principals=none, error=None)
        response.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, **cookie_flags)  # type: ignore[arg-type]
        return response

    async def login(request: Request) -> Response:
        client = request.client.host if request.client else "?"
        fields = await form(request)
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        given = fields.get("csrf", "").encode("utf-8", "replace")
        if not nonce or not hmac.compare_digest(nonce.encode("utf-8", "replace"), given):
            raise Problem(
                403, "the login form expired or did not come from this console; reload it"
            )
        if limiter.blocked(client):
            return page(
                request,
                "login.html",
                429,
                nonce=nonce,
                no_principals=False,
                error="too many failed logins; wait a minute",
            )
        found = await run_in_threadpool(auth.principal_of, config.db, fields.get("token", ""))
        if found is None:
            limiter.failed(client)
            return page(
                request,
                "login.html",
                401,
                nonce=nonce,
                no_principals=False,
                error="that token is not a live principal's token",
            )
        session_id, _ = sessions.open(*found)
        response = RedirectResponse("/approvals", status_code=303)
        response.set_cookie(auth.COOKIE, session_id, max_age=auth.SESSION_S, **cookie_flags)  # type: ignore[arg-type]
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    async def logout(request: Request) -> Response:
        session = _session(request)
        fields = await form(request)
        if session is None or not auth.csrf_ok(session, fields.get("csrf")):
            raise Problem(403, "missing or wrong CSRF token")
        sessions.close(request.cookies.get(auth.COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(auth.COOKIE, path="/")
        return response

    async def runs_page(request: Request) -> Response:
        guard = await html_guard(request)
        if isinstance(guard, Response):
            return guard
        status, workflow, number, per_page = _run_filters(request)
        summaries = await run_in_threadpool(_summaries, config)
        listing = views.run_rows(summaries, status, workflow, number, per_page)
        version = runs_version(summaries)

        def link(to_page: int) -> str:
            query = {"status": status or "", "workflow": workflow or "", "page": to_page}
            return "/runs?" + urlencode({k: v for k, v in query.items() if v})

        return page(
            request,
            "runs.html",
            listing=listing,
            status=status,
            workflow=workflow,
            statuses=views.RUN_STATUSES,
            link=link,
            version=version,
            poll="/poll?view=runs",
        )

    async def run_page(request: Request) -> Response:
        guard = await html_guard(request)
        if isinstance(guard, Response):
            return guard
        run_id = _run_id(request)
        detail = await run_in_threadpool(_run_detail, config, workflows, run_id)
        return page(
            request,
            "run.html",
            **detail,
            version=_run_version(detail["state"]),
            poll=f"/poll?view=run&run={run_id}",
            problem=config.source.problem(run_id),
        )

    async def approvals_page(request: Request) -> Response:
        guard = await html_guard(request)
        if isinstance(guard, Response):
            return guard
        principal = guard[0]
        pending = await run_in_threadpool(_pending, config, workflows)
        version = runs_version(await run_in_threadpool(_summaries, config))
        notice = request.query_params.get("decided")
        return page(
            request,
            "approvals.html",
            pending=pending,
            principal=principal,
            version=version,
            poll="/poll?view=approvals",
            notice=notice if notice in _NOTICES else None,
            notices=_NOTICES,
            run=request.query_params.get("run", ""),
            step=request.query_params.get("step", ""),
        )

    async def decide_form(request: Request) -> Response:
        principal, session = await who(request, api_call=False)
        fields = await form(request)
        assert session is not None
        if not auth.csrf_ok(session, fields.get("csrf")):
            raise Problem(403, "missing or wrong CSRF token")
        sha = fields.get("shown_sha256", "")
        if not sha:
            raise Problem(400, "the decision does not say what it was shown (shown_sha256)")
        result = await run_in_threadpool(_decide, config, workflows, principal, fields, "web")
        back = fields.get("back", "")
        if back.startswith("/runs/") and RUN_ID.match(back.removeprefix("/runs/")):
            return RedirectResponse(back, status_code=303)  # only a run page: no open redirect
        past = "approved" if result["decision"] == APPROVE else "rejected"
        query = urlencode({"decided": past, "run": result["run_id"], "step": result["step"]})
        return RedirectResponse(f"/approvals?{query}", status_code=303)

    async def poll(request: Request) -> Response:
        await who(request, api_call=True)
        view = request.query_params.get("view", "")
        if view == "run":
            run_id = _run_id(request, request.query_params.get("run", ""))
            state = await run_in_threadpool(_state, config, run_id)
            return JSONResponse({"version": _run_version(state)})
        if view in ("runs", "approvals"):
            summaries = await run_in_threadpool(_summaries, config)
            return JSONResponse({"version": runs_version(summaries)})
        raise Problem(400, "view must be runs, run or approvals")

    # -- the JSON API

    async def api_runs(request: Request) -> Response:
        await who(request, api_call=True)
        status, workflow, number, per_page = _run_filters(request)
        summaries = await run_in_threadpool(_summaries, config)
        listing = views.run_rows(summaries, status, workflow, number, per_page)
        return JSONResponse(listing.to_json())

    async def api_run(request: Request) -> Response:
        await who(request, api_call=True)
        detail = await run_in_threadpool(_run_detail, config, workflows, _run_id(request))
        state = detail["state"]
        return JSONResponse(
            {
                "run": state.to_json(),
                "steps": [step.to_json() for step in detail["steps"]],
                "timeline": detail["timeline"],
                "approvals": [p.to_json() for p in detail["pending"]],
            }
        )

    async def api_events(request: Request) -> Response:
        await who(request, api_call=True)
        run_id = _run_id(request)
        events = await run_in_threadpool(_events, config, run_id)  # 404: an unknown run
        return JSONResponse(events)

    async def api_approvals(request: Request) -> Response:
        await who(request, api_call=True)
        pending = await run_in_threadpool(_pending, config, workflows)
        return JSONResponse({"approvals": [p.to_json() for p in pending]})

    async def api_decide(request: Request) -> Response:
        principal, session = await who(request, api_call=True)
        if session is not None and not auth.csrf_ok(session, request.headers.get("x-csrf-token")):
            raise Problem(403, "missing or wrong CSRF token (X-CSRF-Token)")
        body = await _body(request)
        try:
            fields = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise Problem(400, "the body is not JSON") from None
        if not isinstance(fields, dict):
            raise Problem(400, "the body must be a JSON object")
        channel = "web" if session is not None else "api"
        result = await run_in_threadpool(_decide, config, workflows, principal, fields, channel)
        return JSONResponse(result)

    # -- errors

    async def problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        if request.url.path.startswith(("/api/", "/poll")):
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        return page(request, "error.html", exc.status, status=exc.status, message=exc.message)

    async def not_found(request: Request, exc: Exception) -> Response:
        return await problem(request, Problem(404, "no such page"))

    routes = [
        Route("/", index),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/runs", runs_page),
        Route("/runs/{run_id}", run_page),
        Route("/approvals", approvals_page, methods=["GET"]),
        Route("/approvals/decide", decide_form, methods=["POST"]),
        Route("/poll", poll),
        Route("/api/runs", api_runs),
        Route("/api/runs/{run_id}", api_run),
        Route("/api/runs/{run_id}/events", api_events),
        Route("/api/approvals", api_approvals),
        Route("/api/decide", api_decide, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [Middleware(SecurityHeaders)]
    if not config.remote:  # a page elsewhere must not reach us by rebinding its DNS name
        middleware.append(
            Middleware(
                TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost", "[::1]", "::1"]
            )
        )
    return Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={Problem: problem, 404: not_found},
    )


_NOTICES = {"approved": "approved", "rejected": "rejected"}


async def _body(request: Request) -> bytes:
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise Problem(413, f"the body is larger than {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _nonce() -> str:
    return secrets.token_urlsafe(32)


def _any_principal(db: Path) -> bool:
    from baton.runtime import identity

    return identity.enforced(db)


# a run id as `baton run --run-id` takes it, and a child run's (`PARENT:STEP:N`)
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,1023}$")


def _check_run_id(run_id: str) -> None:
    if not RUN_ID.match(run_id):
        raise Problem(
            400,
            "invalid run id: use letters, digits, '.', '_', ':' and '-', "
            "starting with a letter or digit",
        )


def _run_id(request: Request, given: str | None = None) -> str:
    run_id = given if given is not None else str(request.path_params.get("run_id", ""))
    _check_run_id(run_id)
    return run_id


_NUMBER = re.compile(r"^[0-9]{1,6}$")


def _run_filters(request: Request) -> tuple[str | None, str | None, int, int]:
    query = request.query_params
    status = query.get("status") or None
    if status is not None and status not in views.RUN_STATUSES:
        raise Problem(400, f"status must be one of {', '.join(views.RUN_STATUSES)}")
    workflow = query.get("workflow") or None
    if workflow is not None and not re.match(r"^[A-Za-z0-9_.-]{1,128}$", workflow):
        raise Problem(400, "workflow must be a workflow name")
    numbers = []
    for name, default, top in (("page", 1, 10**6), ("per_page", PER_PAGE, MAX_PER_PAGE)):
        text = query.get(name, str(default))
        if not _NUMBER.match(text) or not 1 <= int(text) <= top:
            raise Problem(400, f"{name} must be a whole number from 1 to {top}")
        numbers.append(int(text))
    return status, workflow, numbers[0], numbers[1]


def _unreadable(config: Config, error: Exception) -> Problem:
    where = "the database" if config.source.name == "local" else "Temporal"
    return Problem(503, f"{where} cannot be read: {error}")


def _state(config: Config, run_id: str) -> api.RunState:
    try:
        return config.source.state(run_id)
    except api.UnknownRun:
        raise Problem(404, f"no run '{run_id}'") from None
    except (api.StoreError, api.RunError) as error:
        raise _unreadable(config, error) from None


def _events(config: Config, run_id: str) -> list[dict[str, Any]]:
    try:
        return config.source.events(run_id)
    except api.UnknownRun:
        raise Problem(404, f"no run '{run_id}'") from None
    except (api.StoreError, api.RunError) as error:
        raise _unreadable(config, error) from None


def _summaries(config: Config) -> list[api.RunSummary]:
    try:
        return config.source.summaries()
    except (api.StoreError, api.RunError) as error:
        raise _unreadable(config, error) from None


def _pending(config: Config, workflows: views.Workflows) -> list[views.PendingApproval]:
    try:
        return views.pending_approvals(config.source, workflows)
    except (api.StoreError, api.RunError) as error:
        raise _unreadable(config, error) from None


def _run_detail(config: Config, workflows: views.Workflows, run_id: str) -> dict[str, Any]:
    state = _state(config, run_id)
    workflow, changed = workflows.of(state)
    events = _events(config, run_id)
    timeline = _timeline(events)
    return {
        "state": state,
        "steps": views.step_views(state, workflow, events),
        "timeline": timeline,
        "events": events,
        "pending": views.pending_in(state, workflows, lambda: events),
        "spec_changed": changed,
        "totals": state.totals(),
    }


def _timeline(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The run's timeline (`baton trace`), from the log already read for the page."""
    from baton.runtime.temporal.messages import event_from_json
    from baton.runtime.timeline import build

    return build([event_from_json(data) for data in events]).to_json()


def _run_version(state: api.RunState) -> str:
    return f"{state.last_seq}:{state.status}"


def _decide(
    config: Config,
    workflows: views.Workflows,
    principal: str,
    fields: dict[str, Any],
    channel: str,
) -> dict[str, Any]:
    """Record `principal`'s decision on a gate, then continue the run here. Problem
    400 (bad fields), 403 (no role), 404 (unknown run or step), 409 (not waiting, or
    what was shown changed)."""
    run_id = fields.get("run_id")
    step = fields.get("step")
    decision = fields.get("decision")
    comment = fields.get("comment", "")
    shown = fields.get("shown_sha256")
    if not isinstance(run_id, str) or not isinstance(step, str):
        raise Problem(400, "run_id and step must be strings")
    if decision not in (APPROVE, REJECT):
        raise Problem(400, "decision must be approve or reject")
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
        raise Problem(400, f"comment must be a string of at most {MAX_COMMENT} characters")
    if shown is not None and (not isinstance(shown, str) or not re.match(r"^[0-9a-f]{64}$", shown)):
        raise Problem(400, "shown_sha256 must be 64 lowercase hex digits")
    _check_run_id(run_id)
    state = _state(config, run_id)
    if step not in state.steps:
        raise Problem(404, f"run '{run_id}' has no step '{step}'")
    gate = state.gates.get(step)
    if gate is None and not is_tool(state.steps[step].approval):  # a tool call has no gate
        raise Problem(409, f"step '{step}' has no approval gate")
    role, holders = principals_for(state, step)  # the escalation role's, once escalated
    if principal not in holders:
        raise Problem(403, f"'{principal}' may not decide step '{step}': it needs role '{role}'")
    record = state.steps[step]
    waiting = record.state in (StepState.AWAITING_APPROVAL, StepState.AWAITING_REVIEW)
    if state.outcome is not None or not waiting or record.approval is None:
        raise Problem(
            409, f"step '{step}' is not waiting for approval (it is {record.state.value})"
        )
    if record.approval.decision is not None:
        raise Problem(409, f"step '{step}' was already {record.approval.decision}")
    if shown is not None:
        workflow, _ = workflows.of(state)
        now = views.shown_subject(state, step, workflow)
        if now.sha256 != shown:
            raise Problem(
                409,
                f"what step '{step}' would be decided on changed since it was shown; "
                "look at it again",
            )
    try:
        # locally, this console then continues the run; on Temporal its workers do
        outcome = config.source.decide(decision, run_id, step, principal, comment, channel, shown)
    except api.RunError as error:
        raise Problem(409, str(error)) from None
    return {
        "run_id": run_id,
        "step": step,
        "decision": decision,
        "principal": principal,
        "role": str(gate["role"]) if gate is not None else role,
        "channel": channel,
        "outcome": outcome,
    }
