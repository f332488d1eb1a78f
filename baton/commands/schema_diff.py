"""`baton schema diff OLD NEW`: every change between two JSON Schemas and what it breaks."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import click

from baton.compiler.files import spec_root, within
from baton.compiler.schema_diff import breaks_mode, diff_schemas, render_json, render_text

# spec.yaml#handoff@version: a handoff's schema as the spec declares it
_HANDOFF = re.compile(r"^(?P<path>.+)#(?P<handoff>[A-Za-z0-9_.\-]+)@(?P<version>\d+)$")


class InputError(click.ClickException):
    """An unreadable or invalid input file (exit 2, one line, no traceback)."""

    exit_code = 2


def _parse(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"cannot read '{path}': no such file") from None
    except UnicodeDecodeError:
        raise InputError(f"cannot read '{path}': not UTF-8 text") from None
    except OSError as error:
        raise InputError(f"cannot read '{path}': {error.strerror or error}") from None
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            where = f"line {error.lineno}, column {error.colno}"
            raise InputError(f"'{path}' is not valid JSON ({where}): {error.msg}") from None
    import yaml  # YAML for .yaml, .yml and anything else (JSON is YAML too)

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise InputError(f"'{path}' is not valid YAML{where}: {problem}") from None


def _check_schema(schema: object, name: str) -> None:
    if not isinstance(schema, dict | bool):
        found = "nothing" if schema is None else type(schema).__name__
        raise InputError(
            f"'{name}' is not a JSON Schema: expected an object or a boolean, found {found}"
        )
    import jsonschema_rs  # only when a file is actually checked

    try:
        jsonschema_rs.meta.validate(schema)
    except (ValueError, jsonschema_rs.ReferencingError) as error:
        path = "/".join(str(part) for part in getattr(error, "instance_path", []))
        detail = str(getattr(error, "message", None) or error).splitlines()[0]
        raise InputError(f"'{name}' is not a valid JSON Schema at '/{path}': {detail}") from None


def _load_file(uri: str, root: Path) -> object:
    """`load_ref` for the checker: referenced files, relative to the referring file, and
    only inside `root` (compiler.files: a file outside it is never read)."""
    parsed = urlparse(uri)
    if parsed.scheme not in ("", "file"):
        raise InputError(f"cannot resolve $ref '{uri}': only local files are supported")
    path = Path(unquote(parsed.path))
    if not within(root, path):
        raise InputError(
            f"cannot resolve $ref '{uri}': it is outside '{root}', the directory of the "
            "schemas compared; it was not read"
        )
    schema = _parse(path)
    _check_schema(schema, str(path))
    return schema


def _load_handoff(argument: str, match: re.Match[str]) -> tuple[object, str]:
    path = Path(match["path"])
    handoff, version = match["handoff"], int(match["version"])
    if not path.is_file():
        raise InputError(f"cannot read '{path}': no such file")
    # the spec-set loader is imported only when a handoff is named: plain schema files
    # diff without it
    from baton.compiler.api import load_handoff_schema

    try:
        schema = load_handoff_schema(path, handoff, version)
    except click.ClickException:
        raise
    except Exception as error:
        raise InputError(
            f"cannot load handoff '{handoff}' version {version} from '{path}': {error}"
        ) from None
    _check_schema(schema, argument)
    return schema, path.resolve().as_uri()


def _file_of(argument: str) -> str:
    """The file an OLD/NEW argument reads (the spec of `spec.yaml#handoff@1`)."""
    match = _HANDOFF.match(argument)
    return match["path"] if match and not Path(argument).exists() else argument


def _load(argument: str) -> tuple[object, str]:
    """A schema named on the command line, and the URI its relative refs resolve against."""
    match = _HANDOFF.match(argument)
    if match and not Path(argument).exists():
        return _load_handoff(argument, match)
    path = Path(argument)
    schema = _parse(path)
    _check_schema(schema, argument)
    return schema, path.resolve().as_uri()


@click.command("diff")
@click.argument("old", metavar="OLD")
@click.argument("new", metavar="NEW")
@click.option(
    "--mode",
    type=click.Choice(["backward", "forward", "full"]),
    default="backward",
    show_default=True,
    help="Compatibility to check: backward (new reads old data), forward, or full.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def diff_command(old: str, new: str, mode: str, fmt: str) -> None:
    """Compare two JSON Schemas and report every change with its kind and pointer.

    OLD and NEW are .json / .yaml files, or SPEC.yaml#HANDOFF@VERSION for a handoff
    declared in a spec. Relative $refs resolve against the file that holds them.

    Exit 0 when MODE holds, 1 when a change breaks it, 2 for unreadable or invalid input.
    """
    old_schema, old_uri = _load(old)
    new_schema, new_uri = _load(new)
    root = spec_root([_file_of(old), _file_of(new)])

    def load_ref(uri: str) -> object:
        return _load_file(uri, root)

    changes = diff_schemas(
        old_schema, new_schema, load_ref=load_ref, old_uri=old_uri, new_uri=new_uri
    )
    render = render_json if fmt == "json" else render_text
    click.echo(render(changes, mode), nl=False)
    click.get_current_context().exit(1 if breaks_mode(changes, mode) else 0)
