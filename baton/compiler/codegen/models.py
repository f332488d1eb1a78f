"""JSON Schema -> pydantic model specs (what to emit, not how to print it).

The models are for typing; the JSON Schema stays the authority and the runtime validates
every output against it. So the mapping must never reject data the schema accepts: where
a schema says something a Python type cannot say exactly, the type is widened (to a
union, to `dict[str, rt.JSON]`, to `rt.JSON`) rather than narrowed. The exact subset is
documented in docs/codegen.md; roughly: `type` (one or a list), `properties`, `required`,
`additionalProperties` (false or a schema), `items`, `enum`, `const`, local `$ref`,
`anyOf`/`oneOf` without `type`, and `default`. Validation keywords (`minLength`,
`pattern`, `maximum`, ...) restrict values, not types, and are left to the schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from baton.compiler.codegen.naming import (
    ANNOTATION_NAMES,
    BASEMODEL_ATTRIBUTES,
    MAX_IDENTIFIER,
    PROTECTED_PREFIXES,
    Namer,
    is_field_name,
    lower_snake,
    pascal,
)
from baton.compiler.codegen.pytypes import (
    JSON_TYPE,
    NONE_TYPE,
    DictOf,
    ListOf,
    Lit,
    Named,
    PyType,
    optional,
    union,
)
from baton.compiler.refs import follow_pointer
from baton.compiler.yamlnodes import JSON

_SCALARS: dict[str, PyType] = {
    "string": Named("str"),
    "integer": Named("int"),
    # JSON Schema numbers include integers of any size; `float` alone would turn big ones
    # into an overflow error, so ints stay ints
    "number": union([Named("int"), Named("float")]),
    "boolean": Named("bool"),
    "null": NONE_TYPE,
}


@dataclass(frozen=True)
class FieldSpec:
    """One model field: its Python name, the JSON property it reads, its type."""

    name: str
    alias: str | None  # the property name, when it cannot be the field name
    type: PyType
    required: bool
    default: JSON = None  # for optional fields: the schema's default, or None


@dataclass
class ModelSpec:
    """A model class: an object model with fields, or a RootModel around `root`."""

    name: str
    doc: str
    fields: list[FieldSpec] = field(default_factory=list)
    extra: str = "allow"  # forbid | allow
    root: PyType | None = None


@dataclass
class _Document:
    """One top-level schema being mapped: the root its local `$ref`s point into."""

    root: JSON
    name: str
    memo: dict[str, PyType] = field(default_factory=dict)
    in_progress: set[str] = field(default_factory=set)


def _is_object_model(schema: dict[str, JSON]) -> bool:
    """An object schema that declares properties or is closed: worth a class."""
    return isinstance(schema.get("properties"), dict) or schema.get("additionalProperties") is False


def _literal_type(values: list[JSON]) -> PyType:
    """`Literal[...]` (and None) for enum/const values, or JSON when a value has none."""
    members: list[str | int | bool] = []
    has_none = False
    for value in values:
        if value is None:
            has_none = True
        elif isinstance(value, str | int) and not any(
            type(value) is type(m) and value == m for m in members
        ):
            members.append(value)
        elif not isinstance(value, str | int):
            return JSON_TYPE  # floats, arrays, objects: no Literal for them
    if not members:
        return NONE_TYPE if has_none else JSON_TYPE
    return union([Lit(tuple(members)), *([NONE_TYPE] if has_none else [])])


class ModelBuilder:
    """Builds model specs for the schemas of one module, sharing its class namespace."""

    def __init__(self, namer: Namer) -> None:
        self.namer = namer
        self.models: list[ModelSpec] = []  # dependencies before their users

    def top_level(self, schema: JSON, name: str, doc: str) -> str:
        """Define the class `name` (claimed as is or with a suffix) for a whole schema."""
        class_name = self.namer.claim(name, separator="")
        document = _Document(schema, class_name)
        document.in_progress.add("")  # a `$ref: "#"` inside is recursion: typed as JSON
        if isinstance(schema, dict) and "object" in _types(schema) and _is_object_model(schema):
            self._object_model(schema, class_name, doc, document)
        else:
            root = self._type(schema, class_name, document)
            self.models.append(ModelSpec(class_name, doc, root=root))
        return class_name

    # -- types

    def _type(self, schema: JSON, hint: str, document: _Document) -> PyType:
        if not isinstance(schema, dict):
            return JSON_TYPE  # `true`, `false`
        ref = schema.get("$ref")
        if isinstance(ref, str):
            return self._ref(ref, document)
        if "const" in schema:
            return _literal_type([schema["const"]])
        if isinstance(schema.get("enum"), list):
            return _literal_type(schema["enum"])  # type: ignore[arg-type]
        types = _types(schema)
        if types:
            return union([self._typed(schema, t, hint, document) for t in types])
        for keyword in ("anyOf", "oneOf"):
            branches = schema.get(keyword)
            if isinstance(branches, list) and branches:
                return union(
                    [
                        self._type(branch, f"{hint}{index}", document)
                        for index, branch in enumerate(branches, 1)
                    ]
                )
        return JSON_TYPE  # no `type`: any JSON value may be valid

    def _typed(self, schema: dict[str, JSON], kind: str, hint: str, document: _Document) -> PyType:
        if kind in _SCALARS:
            return _SCALARS[kind]
        if kind == "array":
            items = schema.get("items")
            if "prefixItems" in schema or not isinstance(items, dict):
                return ListOf(JSON_TYPE)
            return ListOf(self._type(items, f"{hint}Item", document))
        if kind == "object":
            if _is_object_model(schema):
                name = self.namer.claim(pascal(hint)[:MAX_IDENTIFIER], separator="")
                return Named(self._object_model(schema, name, None, document))
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict) and "patternProperties" not in schema:
                return DictOf(self._type(extra, f"{hint}Value", document))
            return DictOf(JSON_TYPE)
        return JSON_TYPE

    def _ref(self, ref: str, document: _Document) -> PyType:
        if not ref.startswith("#"):
            return JSON_TYPE  # bundling made every supported ref local
        pointer = ref[1:]
        if pointer in document.memo:
            return document.memo[pointer]
        if pointer in document.in_progress:
            return JSON_TYPE  # a recursive schema: Python types would need forward refs
        found = follow_pointer(document.root, None, pointer)
        if found is None:
            return JSON_TYPE
        last = pointer.rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~")
        document.in_progress.add(pointer)
        resolved = self._type(found[0], document.name + pascal(last, "Ref"), document)
        document.in_progress.discard(pointer)
        document.memo[pointer] = resolved
        return resolved

    # -- object models

    def _object_model(
        self, schema: dict[str, JSON], class_name: str, doc: str | None, document: _Document
    ) -> str:
        raw = schema.get("properties")
        properties: dict[str, JSON] = raw if isinstance(raw, dict) else {}
        listed = schema.get("required")
        required = {r for r in listed if isinstance(r, str)} if isinstance(listed, list) else set()
        # types first: nested classes claim their names before fields are named, so no
        # field can shadow a class that a later annotation in this body refers to
        types = {
            prop: self._type(sub, class_name + pascal(prop, "Field"), document)
            for prop, sub in properties.items()
        }
        names = _field_names(list(properties), self.namer.used | ANNOTATION_NAMES)
        fields = []
        for prop, sub in properties.items():
            field_type = types[prop]
            alias = None if names[prop] == prop else prop
            if prop in required:
                fields.append(FieldSpec(names[prop], alias, field_type, True))
                continue
            if isinstance(sub, dict) and "default" in sub:
                default = sub["default"]
                if not field_type.admits(default):
                    field_type = JSON_TYPE  # a default of another type: say nothing false
                fields.append(FieldSpec(names[prop], alias, field_type, False, default))
            else:
                fields.append(FieldSpec(names[prop], alias, optional(field_type), False))
        closed = schema.get("additionalProperties") is False and not schema.get("patternProperties")
        self.models.append(
            ModelSpec(
                class_name,
                doc or f"Part of {document.name}.",
                fields,
                "forbid" if closed else "allow",
            )
        )
        return class_name


def _types(schema: dict[str, JSON]) -> list[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list) and all(isinstance(t, str) for t in declared):
        return [str(t) for t in declared]
    return []


def _field_names(properties: list[str], reserved: set[str]) -> dict[str, str]:
    """Field name per property: itself when it is a safe identifier, else a safe name.

    Properties that can keep their name claim it first, so a renamed one (`class` ->
    `class_`) never takes the name of a property spelled that way.

    >>> _field_names(["topic", "class", "class_", "x-y", "json"], set())
    {'topic': 'topic', 'class': 'class_2', 'class_': 'class_', 'x-y': 'x_y', 'json': 'json_'}
    """
    namer = Namer(reserved | BASEMODEL_ATTRIBUTES | ANNOTATION_NAMES)
    names = {p: namer.claim(p) for p in properties if is_field_name(p, namer.used)}
    for prop in properties:
        if prop in names:
            continue
        candidate = lower_snake(prop, "field")
        if candidate.startswith(PROTECTED_PREFIXES):
            candidate = f"f_{candidate}"
        elif not is_field_name(candidate, namer.used) and is_field_name(
            f"{candidate}_", namer.used
        ):
            candidate = f"{candidate}_"  # `class` -> `class_`, `json` -> `json_`
        names[prop] = namer.claim(candidate)  # adds a suffix if taken or a keyword
    return {prop: names[prop] for prop in properties}
