"""Generated models agree with their JSON Schemas; bundling makes schemas self-contained.

The schema is the authority and the models are for typing, so the property that matters
is one-directional: every instance the schema accepts parses with the model (and dumps
back to the same JSON). hypothesis-jsonschema draws the instances from the schema.
"""

from __future__ import annotations

import importlib
import json
import types
import typing
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from pydantic import BaseModel

import generated
from baton.compiler.codegen.bundle import bundle
from baton.compiler.codegen.models import ModelBuilder
from baton.compiler.codegen.naming import Namer
from baton.compiler.refs import SchemaStore
from codegen.codegen_support import ROOT, patch_hypothesis_jsonschema

patch_hypothesis_jsonschema()


def _contracts(module: types.ModuleType) -> list[tuple[str, Any, type[BaseModel]]]:
    """(label, schema, model) for the run input and every handoff version of a module."""
    workflow = module.WORKFLOW
    found = [(f"{workflow.name} input", workflow.inputs_schema, workflow.input_model)]
    for value in vars(module).values():
        if type(value).__name__ == "Handoff" and type(value).__module__.startswith("baton.runtime"):
            found.append((f"{workflow.name} {value.ref}", value.schema, value.model))
    return found


def _all_contracts(rich: types.ModuleType) -> list[tuple[str, Any, type[BaseModel]]]:
    modules = [importlib.import_module(f"generated.{m}") for m in generated.MODULES.values()]
    return [c for module in [*modules, rich] for c in _contracts(module)]


def _generatable(schema: Any) -> bool:
    """hypothesis-jsonschema cannot draw from recursive schemas (tested by hand below)."""
    from hypothesis_jsonschema._resolve import resolve_all_refs

    try:
        resolve_all_refs(schema)
    except RecursionError:
        return False
    return True


def test_every_handoff_is_covered(rich: types.ModuleType) -> None:
    labels = {label for label, _, _ in _all_contracts(rich)}
    assert {"research_report brief@1", "research_report brief@2", "summarize input"} <= labels
    assert {"rich_shapes order@1", "rich_shapes tree@1", "rich_shapes scalar@2"} <= labels


@pytest.fixture(scope="module")
def drawable(rich: types.ModuleType) -> list[tuple[str, Any, type[BaseModel], Any]]:
    """Every contract hypothesis-jsonschema can draw from, with its strategy built once."""
    return [(*c, from_schema(c[1])) for c in _all_contracts(rich) if _generatable(c[1])]


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(data=st.data())
def test_schema_valid_instances_parse_with_the_model(
    drawable: list[tuple[str, Any, type[BaseModel], Any]], data: st.DataObject
) -> None:
    label, schema, model, instances = data.draw(st.sampled_from(drawable), label="contract")
    instance = data.draw(instances, label="instance")
    jsonschema.validate(instance, schema)  # hypothesis-jsonschema is right
    parsed = model.model_validate(instance)
    dumped = parsed.model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert json.dumps(dumped, sort_keys=True) == json.dumps(instance, sort_keys=True), label


# -- the mapping, shape by shape


def _field(rich: types.ModuleType, model: str, name: str) -> Any:
    return getattr(rich, model).model_fields[name]


def test_closed_objects_forbid_extra_and_open_ones_allow_it(rich: types.ModuleType) -> None:
    assert rich.OrderV1.model_config["extra"] == "forbid"
    assert rich.OrderV1Choice1.model_config["extra"] == "allow"


def test_nested_objects_and_arrays_of_objects_are_models(rich: types.ModuleType) -> None:
    lines = _field(rich, "OrderV1", "lines")
    assert lines.annotation == list[rich.OrderV1LinesItem]
    assert _field(rich, "OrderV1", "total").annotation is rich.OrderV1Money
    assert _field(rich, "OrderV1LinesItem", "price").annotation == rich.OrderV1Money | None


def test_enums_become_literals(rich: types.ModuleType) -> None:
    verdict = importlib.import_module("generated.research_report").VerdictV1
    assert verdict.model_fields["verdict"].annotation == typing.Literal["pass", "fail"]
    mode = _field(rich, "RichShapesInput", "mode")
    assert mode.annotation == typing.Literal["fast", "thorough"] | None
    assert mode.default == "fast"
    assert (
        _field(rich, "OrderV1Money", "currency").annotation == typing.Literal["EUR", "USD", "JPY"]
    )


def test_awkward_property_names_get_aliases(rich: types.ModuleType) -> None:
    fields = rich.OrderV1.model_fields
    aliases = {name: field.alias for name, field in fields.items() if field.alias}
    assert aliases == {
        "class_": "class",
        "x_request_id": "x-request-id",
        "json_": "json",
        "f_model_dump": "model_dump",
    }
    parsed = rich.OrderV1.model_validate(
        {
            "id": "ABC-1",
            "lines": [],
            "total": {"amount": 1, "currency": "EUR"},
            "class": "vip",
            "x-request-id": "r1",
        }
    )
    assert parsed.class_ == "vip" and parsed.x_request_id == "r1" and parsed.json_ is False


def test_defaults_are_kept_when_they_fit_the_type(rich: types.ModuleType) -> None:
    assert _field(rich, "OrderV1", "flags").default == [True, False]
    level = _field(rich, "OrderV1", "level")  # `type: integer, default: "high"`
    assert level.default == "high" and level.annotation is Any
    unicode_name = _field(rich, "OrderV1", "unicode_name")
    assert unicode_name.default == "naïve \u2013 日本語 \u2028 line"


def test_outside_the_subset_is_json(rich: types.ModuleType) -> None:
    assert _field(rich, "OrderV1", "anything").annotation is Any
    assert _field(rich, "OrderV1", "meta").annotation == dict[str, Any] | None
    # recursion would need forward references: the recursive part is JSON
    assert _field(rich, "TreeV1Node", "children").annotation == list[Any] | None


def test_a_recursive_schema_parses_to_any_depth(rich: types.ModuleType) -> None:
    assert not _generatable(rich.TREE_V1.schema)
    tree = {"root": {"name": "a", "children": [{"name": "b", "children": [{"name": "c"}]}]}}
    jsonschema.validate(tree, rich.TREE_V1.schema)
    parsed = rich.TreeV1.model_validate(tree)
    assert parsed.model_dump(exclude_unset=True) == tree


def test_non_object_handoffs_are_root_models(rich: types.ModuleType) -> None:
    assert rich.ScalarV1.model_validate(["a"]).root == ["a"]
    assert rich.ScalarV2.model_validate("yes").root == "yes"


def _annotations(schema: Any) -> dict[str, str]:
    builder = ModelBuilder(Namer())
    builder.top_level(schema, "M", "doc")
    return {f.name: f.type.flat() for f in builder.models[-1].fields}


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "string"}, "str"),
        ({"type": "number"}, "int | float"),
        ({"type": ["integer", "null"]}, "int | None"),
        ({"type": "array"}, "list[rt.JSON]"),
        ({"type": "array", "prefixItems": [{"type": "string"}]}, "list[rt.JSON]"),
        ({"type": "object", "additionalProperties": {"type": "integer"}}, "dict[str, int]"),
        ({"properties": {"a": {"type": "string"}}}, "rt.JSON"),  # no `type`: any JSON
        ({"enum": [1, "a", True, None]}, "Literal[1, 'a', True] | None"),
        ({"enum": [1.5]}, "rt.JSON"),
        ({"const": None}, "None"),
        ({"anyOf": [{"type": "string"}, {"type": "boolean"}]}, "str | bool"),
        ({"anyOf": [{"type": "string"}, {}]}, "rt.JSON"),
        ({"allOf": [{"type": "string"}]}, "rt.JSON"),
        (True, "rt.JSON"),
    ],
)
def test_type_mapping(schema: Any, expected: str) -> None:
    top = {"type": "object", "required": ["x"], "properties": {"x": schema}}
    assert _annotations(top)["x"] == expected.replace("'", '"')


# -- bundling


def _write(directory: Path, files: dict[str, Any]) -> None:
    for name, content in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(json.dumps(content))


def test_bundle_inlines_files_and_rewrites_their_local_refs(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "lib/a.json": {
                "$id": "https://example.com/a.json",
                "$defs": {"x": {"$ref": "#/$defs/y"}, "y": {"$ref": "b.json"}},
            },
            "lib/b.json": {"enum": [{"$ref": "not a ref"}]},
        },
    )
    schema = {
        "properties": {
            "$ref": {"$ref": "lib/a.json#/$defs/x"},
            "const": {"const": {"$ref": "data, not a ref"}},
        },
        "$defs": {"lib_a.json": {}},
    }
    bundled = bundle(schema, tmp_path / "spec.yaml", SchemaStore(tmp_path))
    assert bundled["properties"]["$ref"] == {"$ref": "#/$defs/lib_a.json_2/$defs/x"}
    assert bundled["properties"]["const"] == {"const": {"$ref": "data, not a ref"}}
    assert list(bundled["$defs"]) == ["lib_a.json", "lib_a.json_2", "lib_b.json"]
    assert bundled["$defs"]["lib_a.json_2"] == {
        "$defs": {
            "x": {"$ref": "#/$defs/lib_a.json_2/$defs/y"},
            "y": {"$ref": "#/$defs/lib_b.json"},
        }
    }
    validator = jsonschema.Draft202012Validator(bundled)
    assert validator.is_valid({"$ref": {"$ref": "not a ref"}})
    assert not validator.is_valid({"$ref": {"$ref": "other"}})


def test_bundle_handles_files_that_refer_to_each_other(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "a.json": {"type": "object", "properties": {"b": {"$ref": "b.json"}}},
            "b.json": {"type": "array", "items": {"$ref": "a.json"}},
        },
    )
    bundled = bundle({"$ref": "a.json"}, tmp_path / "spec.yaml", SchemaStore(tmp_path))
    assert bundled == {
        "$ref": "#/$defs/a.json",
        "$defs": {
            "a.json": {"type": "object", "properties": {"b": {"$ref": "#/$defs/b.json"}}},
            "b.json": {"type": "array", "items": {"$ref": "#/$defs/a.json"}},
        },
    }
    validator = jsonschema.Draft202012Validator(bundled)
    assert validator.is_valid({"b": [{"b": []}]})
    assert not validator.is_valid({"b": [{"b": 1}]})


def test_bundle_leaves_a_self_contained_schema_equal() -> None:
    schema = json.loads((ROOT / "specs/schemas/brief.v1.json").read_text())
    assert bundle(schema, ROOT / "specs/schemas/brief.v1.json", SchemaStore(ROOT)) == schema


def test_the_checked_in_handoffs_carry_bundled_schemas(rich: types.ModuleType) -> None:
    schema = rich.ORDER_V1.schema
    assert "schemas_common.json" in schema["$defs"]
    refs = json.dumps(schema).split('"$ref": ')[1:]
    assert all(ref.startswith('"#/') for ref in refs)
    instance = {
        "id": "ABC-1",
        "lines": [{"sku": "s", "qty": 1, "price": {"amount": 2.5, "currency": "JPY"}}],
        "total": {"amount": 2.5, "currency": "JPY"},
        "tags": ["short"],
    }
    jsonschema.validate(instance, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**instance, "tags": ["x" * 21]}, schema)  # tags.json maxLength
