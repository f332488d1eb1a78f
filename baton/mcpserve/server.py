"""The MCP side of `baton mcp serve`: the SDK's `MCPServer` over stdio, one tool per
operation of `service.Service`.

The SDK is imported here only, and this module only by the `serve` command, so `baton
--help` and `baton lint` never import it. Tools are plain functions: the SDK derives
each input schema from the signature, runs a synchronous tool in a worker thread (a run
driven to its first wait does not block the protocol), and turns a `ToolError` into a
tool result with `is_error` set and the message as its text, never a traceback. The
SDK also claims fd 1 for the protocol and points it at stderr, so nothing an agent
process prints can corrupt the stream.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from baton.mcpserve.service import ClientError, Service

T = TypeVar("T")

INSTRUCTIONS = (
    "Baton runs declarative multi-agent workflows durably. list_workflows shows what can "
    "run and the input each takes; start_run drives a run to its first approval or its "
    "end; run_status reads a run; list_approvals shows what waits for a decision, with "
    "the exact input or output decided on; approve and reject decide as this server's "
    "principal."
)


def build(service: Service) -> Any:
    """The MCPServer with Baton's tools (typed `Any`: the SDK is imported lazily)."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    app = MCPServer("baton", instructions=INSTRUCTIONS, log_level="WARNING")

    def answer(work: Callable[[], T]) -> T:
        try:
            return work()
        except ClientError as error:
            raise ToolError(str(error)) from None

    @app.tool()
    def list_workflows() -> list[dict[str, Any]]:
        """The workflows this server can start: name, version, description, the JSON
        Schema of their input, their steps and the roles their approvals need."""
        return answer(service.list_workflows)

    @app.tool()
    def start_run(
        workflow: str,
        input: dict[str, Any] | str | None = None,
        run_id: str | None = None,
    ) -> dict[str, Any]:
        """Start a run of `workflow` with `input` (a JSON object, or its JSON text) and
        drive it until it waits for an approval or ends; returns its status, the gates
        it waits for, and its result or error. `run_id` names the run (default: a new
        id)."""
        return answer(lambda: service.start_run(workflow, input, run_id))

    @app.tool()
    def list_runs() -> list[dict[str, Any]]:
        """The runs in Baton's database, newest first: id, workflow, status."""
        return answer(service.list_runs)

    @app.tool()
    def run_status(run_id: str) -> dict[str, Any]:
        """A run's status, the gates it waits for, its result or error, and its whole
        state (steps, outputs, checksums, approvals, usage), as `baton show --json`."""
        return answer(lambda: service.run_status(run_id))

    @app.tool()
    def list_approvals() -> list[dict[str, Any]]:
        """Every approval waiting for a decision, oldest first: run, step, role, who
        holds the role, and the exact input (stage before) or output (stage after) it
        decides on, with its sha256 (`shown_sha256`)."""
        return answer(service.list_approvals)

    @app.tool()
    def approve(
        run_id: str, step: str, comment: str = "", shown_sha256: str | None = None
    ) -> dict[str, Any]:
        """Approve the gated `step` of `run_id` as this server's principal, then continue
        the run to its next wait or its end. `shown_sha256` (from list_approvals)
        refuses the decision if what the step would get changed since."""
        return answer(lambda: service.decide("approve", run_id, step, comment, shown_sha256))

    @app.tool()
    def reject(
        run_id: str, step: str, comment: str = "", shown_sha256: str | None = None
    ) -> dict[str, Any]:
        """Reject the gated `step` of `run_id` as this server's principal: the step
        fails (class `rejected`), and so does the run."""
        return answer(lambda: service.decide("reject", run_id, step, comment, shown_sha256))

    return app


def serve_stdio(service: Service) -> None:
    """Serve MCP on stdin/stdout until the client closes stdin."""
    build(service).run("stdio")
