"""The `baton` command line: wires the compiler and the runtime, nothing else.

Subcommands are imported when they run, so `baton --help` and `baton lint` do not pay
for the runtime, pydantic or networkx.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
from typing import Any

import click

# command name -> "module:attribute" of its click command
COMMANDS = {
    "lint": "baton.commands.lint:lint_command",
    "compile": "baton.commands.compile:compile_command",
    "graph": "baton.commands.graph:graph_command",
    "schema": "baton.commands.schema:schema_group",
    "run": "baton.commands.run:run_command",
    "resume": "baton.commands.run:resume_command",
    "retry": "baton.commands.run:retry_command",
    "runs": "baton.commands.inspect:runs_command",
    "status": "baton.commands.inspect:status_command",
    "show": "baton.commands.inspect:show_command",
    "events": "baton.commands.inspect:events_command",
    "trace": "baton.commands.trace:trace_command",
    "approve": "baton.commands.decide:approve_command",
    "reject": "baton.commands.decide:reject_command",
    "cancel": "baton.commands.decide:cancel_command",
    "worker": "baton.commands.worker:worker_command",
    "principal": "baton.commands.principal:principal_group",
    "serve": "baton.commands.serve:serve_command",
    "approvals": "baton.commands.approvals:approvals_command",
    "mcp": "baton.commands.mcp_serve:mcp_group",
}


# command name -> its one-line summary, so `baton --help` imports no command module
SUMMARIES = {
    "lint": "Lint spec files and directories.",
    "compile": "Compile specs to typed Python modules.",
    "graph": "Print a workflow's step graph (mermaid, dot, json).",
    "schema": "JSON Schemas: the spec format, handoff compatibility.",
    "run": "Start a run of a workflow.",
    "resume": "Continue a run from its event log.",
    "retry": "Redrive a failed run from its failed steps.",
    "runs": "List runs with status, duration, tokens and cost.",
    "status": "Show a run's status and its steps' states.",
    "show": "Show a run's materialized state.",
    "events": "Print a run's event log.",
    "trace": "Draw a run as a timeline.",
    "approve": "Approve a step waiting for a decision.",
    "reject": "Reject a step waiting for a decision.",
    "cancel": "Cancel a run.",
    "worker": "Run a Temporal worker, or a local worker pool (--local).",
    "principal": "Add, list or revoke principals (who decides, with a token).",
    "serve": "Serve the web console and JSON API; continue runs as decisions arrive.",
    "approvals": "List the approvals waiting, with exactly what is decided.",
    "mcp": "Serve Baton over MCP (stdio): workflows, runs, approvals.",
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # click's default imports every command for its short help (~0.5 s here)
        with formatter.section("Commands"):
            formatter.write_dl([(name, SUMMARIES[name]) for name in self.list_commands(ctx)])

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="baton-workflows", prog_name="baton")
def cli() -> None:
    """Baton: declarative workflow specs for multi-agent systems.

    Lint specs, compile them to typed state machines, and run them durably.
    """


# One-shot commands: they read files, print and exit, keeping no state worth finalizing.
# As their own process (not under CliRunner) they run without the cyclic GC and leave
# with os._exit: on a 5,000-step spec the GC's passes over the IR cost ~0.1 s, and
# freeing the IR's million objects at shutdown another ~0.1 s (mypy exits the same way).
BATCH_COMMANDS = frozenset({"lint", "compile", "graph"})


def main(argv: Any = None) -> None:
    """The command line, for callers in Python: exits by SystemExit, as click does."""
    cli.main(args=argv, prog_name="baton")


def entry() -> None:
    """The `baton` executable (the console script): `main`, plus the batch commands'
    run without the cyclic GC and their quick exit."""
    args = sys.argv[1:]
    command = next((arg for arg in args if not arg.startswith("-")), None)
    if command not in BATCH_COMMANDS:
        main(args)
        return
    gc.disable()
    try:
        main(args)
        code = 0
    except SystemExit as done:
        if done.code is None or isinstance(done.code, int):
            code = done.code or 0
        else:  # a message exit, printed as the interpreter would
            sys.stderr.write(f"{done.code}\n")
            code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:  # a closed pipe, a full disk: as the interpreter's exit says it
            code = code or 120
    os._exit(code)
