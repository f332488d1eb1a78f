"""`baton schema diff` through click's CliRunner: exit codes, formats, files and refs."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from baton.commands.schema_diff import diff_command

OPEN = {"type": "object", "properties": {"id": {"type": "string"}}}
NARROWER = {"type": "object", "properties": {"id": {"type": "string", "maxLength": 8}}}


def _write(path: Path, value: object) -> str:
    path.write_text(json.dumps(value), encoding="utf-8")
    return str(path)


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(diff_command, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def test_identical_schemas_exit_0(tmp_path: Path) -> None:
    old = _write(tmp_path / "old.json", OPEN)
    code, output = _run(old, old)
    assert code == 0
    assert output == "no changes: compatible (mode backward)\n"


def test_breaking_change_exits_1_in_the_broken_mode_only(tmp_path: Path) -> None:
    old, new = _write(tmp_path / "old.json", OPEN), _write(tmp_path / "new.json", NARROWER)
    code, output = _run(old, new)
    assert code == 1
    assert output.splitlines()[0] == (
        "error  MAX_LENGTH_ADDED  breaks backward  #/properties/id -> "
        "#/properties/id/maxLength: max length 8 added to 'id'"
    )
    assert _run(old, new, "--mode", "forward")[0] == 0
    assert _run(old, new, "--mode", "full")[0] == 1
    assert _run(new, old, "--mode", "forward")[0] == 1


def test_json_format(tmp_path: Path) -> None:
    old, new = _write(tmp_path / "old.json", OPEN), _write(tmp_path / "new.json", NARROWER)
    code, output = _run(old, new, "--format", "json", "--mode", "forward")
    assert code == 0
    document = json.loads(output)
    assert document["mode"] == "forward"
    assert document["compatible"] is True
    assert document["changes"] == [
        {
            "kind": "MAX_LENGTH_ADDED",
            "severity": "error",
            "breaks": ["backward"],
            "old_pointer": "#/properties/id",
            "new_pointer": "#/properties/id/maxLength",
            "message": "max length 8 added to 'id'",
        }
    ]


def test_yaml_with_relative_ref_to_a_sibling_file(tmp_path: Path) -> None:
    for version, limit in (("v1", 100), ("v2", 50)):
        folder = tmp_path / version
        folder.mkdir()
        (folder / "handoff.yaml").write_text(
            "type: object\n"
            "properties:\n"
            "  summary: {$ref: 'common.yaml#/$defs/summary'}\n"
            "required: [summary]\n",
            encoding="utf-8",
        )
        (folder / "common.yaml").write_text(
            f"$defs:\n  summary: {{type: string, maxLength: {limit}}}\n", encoding="utf-8"
        )
    code, output = _run(str(tmp_path / "v1/handoff.yaml"), str(tmp_path / "v2/handoff.yaml"))
    assert code == 1
    assert output.splitlines()[0] == (
        "error  MAX_LENGTH_DECREASED  breaks backward  common.yaml#/$defs/summary/maxLength -> "
        "../v2/common.yaml#/$defs/summary/maxLength: "
        "max length of 'summary' decreased from 100 to 50"
    )


def test_missing_file_exits_2_with_its_name(tmp_path: Path) -> None:
    old = _write(tmp_path / "old.json", OPEN)
    code, output = _run(old, str(tmp_path / "nope.json"))
    assert code == 2
    assert "nope.json': no such file" in output
    assert "Traceback" not in output


def test_invalid_json_exits_2_with_position(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": ', encoding="utf-8")
    code, output = _run(str(bad), str(bad))
    assert code == 2
    assert "bad.json' is not valid JSON (line 1, column 10)" in output


def test_invalid_yaml_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("type: [object\n", encoding="utf-8")
    code, output = _run(str(bad), str(bad))
    assert code == 2
    assert "bad.yaml' is not valid YAML (line 2" in output


def test_not_a_schema_exits_2(tmp_path: Path) -> None:
    listed, typo = (
        _write(tmp_path / "list.json", [1, 2]),
        _write(tmp_path / "typo.json", {"type": "strin"}),
    )
    code, output = _run(listed, listed)
    assert code == 2
    assert "expected an object or a boolean, found list" in output
    code, output = _run(typo, typo)
    assert code == 2
    assert "typo.json' is not a valid JSON Schema at '/type'" in output


def test_missing_ref_target_exits_2(tmp_path: Path) -> None:
    old = _write(tmp_path / "old.json", {"$ref": "gone.json"})
    code, output = _run(old, old)
    assert code == 2
    assert "gone.json': no such file" in output


def test_handoff_reference_to_a_missing_spec_exits_2(tmp_path: Path) -> None:
    old = _write(tmp_path / "old.json", OPEN)
    code, output = _run(old, str(tmp_path / "spec.yaml") + "#report@2")
    assert code == 2
    assert "spec.yaml': no such file" in output


def test_absurdly_deep_schemas_are_reported_not_crashed(tmp_path: Path) -> None:
    deep: object = {"type": "string"}
    for _ in range(300):  # JSON itself still parses this deep; the comparison does not
        deep = {"type": "object", "properties": {"x": deep}}
    path = _write(tmp_path / "deep.json", deep)
    code, output = _run(path, path)
    assert code == 1
    assert "nest too deeply" in output
