"""Objects: named properties, `required`, additional and pattern properties, counts,
`propertyNames`, dependencies.

Every name either side declares or requires is compared through the schema that governs
it on each side (its declaration, a pattern property, `additionalProperties`, or nothing),
so moving a property between `properties` and `additionalProperties` is judged by what
values it may take, and the kind says which content model it left or entered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from baton.compiler.schema_diff.arrays import explicit, limit, relevant, within
from baton.compiler.schema_diff.bounds import compare_bound
from baton.compiler.schema_diff.content import (
    Effective,
    declared_names,
    effective_property,
    is_false,
)
from baton.compiler.schema_diff.describe import change, child, quote, subject, union_breaks
from baton.compiler.schema_diff.model import (
    BACKWARD,
    BOTH,
    BREAKS_BACKWARD,
    BREAKS_FORWARD,
    FORWARD,
    SchemaChange,
)
from baton.compiler.schema_diff.shape import Shape, Sub, is_universal, merge_subs

if TYPE_CHECKING:
    from baton.compiler.schema_diff.compare import Comparer


def compare_objects(cmp: Comparer, old: Shape, new: Shape, label: str) -> list[SchemaChange]:
    """Changes that only affect objects."""
    # A property value only matters in a direction if that side's objects can have one.
    directions = relevant(limit(old.max_props) > 0, limit(new.max_props) > 0)
    found: list[SchemaChange] = []
    required_before = {str(m.value): m.pointer for m in old.required}
    required_after = {str(m.value): m.pointer for m in new.required}
    names = declared_names(old) | declared_names(new) | set(required_before) | set(required_after)
    for name in sorted(names):
        found += _property(cmp, old, new, label, name, directions, required_before, required_after)
    found += _rest(cmp, old, new, label, directions)
    for keyword, lower in (("minProperties", True), ("maxProperties", False)):
        before = old.min_props if lower else old.max_props
        after = new.min_props if lower else new.max_props
        if lower or explicit(before) or explicit(after):
            found += compare_bound(
                before,
                after,
                lower=lower,
                integral=True,
                keyword=keyword,
                label=label,
                old_path=old.path,
                new_path=new.path,
            )
    if old.property_names is not None or new.property_names is not None:
        found += within(
            cmp.subs(
                old.property_names, new.property_names, child(label, "<name>"), old.path, new.path
            ),
            directions,
        )
    return found + _dependencies(cmp, old, new, label)


def _has_default(cmp: Comparer, sub: Sub | None) -> bool:
    if sub is None:
        return False
    return any(
        isinstance(raw := cmp.resolver.value(loc), dict) and "default" in raw for loc in sub.locs
    )


def _path(side: Effective, shape: Shape) -> str:
    return side.sub.path if side.sub is not None and side.model == "declared" else shape.path


def _property(
    cmp: Comparer,
    old: Shape,
    new: Shape,
    label: str,
    name: str,
    directions: frozenset[str],
    required_before: dict[str, str],
    required_after: dict[str, str],
) -> list[SchemaChange]:
    before, after = effective_property(old, name), effective_property(new, name)
    old_path, new_path = _path(before, old), _path(after, new)
    who = quote(child(label, name))
    if before.uncertain or after.uncertain:
        message = f"a pattern property of {subject(label)} cannot be evaluated for {who}"
        return [
            change("PATTERN_PROPERTIES_CHANGED", BOTH & directions, old_path, new_path, message)
        ]
    found: list[SchemaChange] = []
    newly_required = name in required_after and name not in required_before
    default = "_WITH_DEFAULT" if _has_default(cmp, after.sub) else ""
    declared = "declared" in (before.model, after.model)
    raw = (
        cmp.subs(before.sub, after.sub, child(label, name), old_path, new_path) if declared else []
    )
    nested = within(raw, directions)
    breaks = union_breaks(nested)
    moot = bool(raw) and not nested  # only broke a direction in which no property exists
    if before.model == "declared" and after.model == "declared":
        found += nested
    elif after.model == "declared" and (newly_required or not moot):
        if before.model != "open" and newly_required:
            newly_required = False
            kind = f"REQUIRED_PROPERTY{default}_ADDED_TO_UNOPEN_CONTENT_MODEL"
            model = "closed" if before.model == "closed" else "partially open"
            message = f"required property {who} added to a {model} content model"
            found.append(change(kind, breaks | BREAKS_BACKWARD, old_path, new_path, message))
        else:
            kind, message = _added(cmp, before, after, breaks, who)
            found.append(change(kind, breaks, old_path, new_path, message))
    elif before.model == "declared" and not moot:
        kind, message = _removed(cmp, before, after, breaks, who)
        found.append(change(kind, breaks, old_path, new_path, message))
    if newly_required:
        note = (
            " (its default does not help: validation does not fill in defaults)" if default else ""
        )
        message = f"property {who} became required at {required_after[name]}{note}"
        kind = f"REQUIRED_ATTRIBUTE{default}_ADDED"
        found.append(change(kind, BREAKS_BACKWARD, old.path, required_after[name], message))
    if name in required_before and name not in required_after:
        message = f"property {who} is no longer required"
        found.append(
            change(
                "REQUIRED_ATTRIBUTE_REMOVED",
                BREAKS_FORWARD,
                required_before[name],
                new.path,
                message,
            )
        )
    return found


def _added(
    cmp: Comparer, before: Effective, after: Effective, breaks: frozenset[str], who: str
) -> tuple[str, str]:
    if before.model == "open":
        if after.sub is None or is_universal(cmp.norm.shape(after.sub)):
            return (
                "PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL",
                f"property {who} accepting any value declared",
            )
        return (
            "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL",
            f"property {who} added to an open content model",
        )
    if before.model == "closed":
        return (
            "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
            f"optional property {who} added to a closed content model",
        )
    if FORWARD in breaks:
        return (
            "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
            f"property {who} added with values the old additional or pattern properties rejected",
        )
    return (
        "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        f"property {who} added; the old additional or pattern properties accepted its values",
    )


def _removed(
    cmp: Comparer, before: Effective, after: Effective, breaks: frozenset[str], who: str
) -> tuple[str, str]:
    if after.model == "open":
        return (
            "PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL",
            f"property {who} removed; any value is allowed there now",
        )
    if after.model == "closed":
        if before.sub is not None and cmp.norm.is_empty(before.sub):
            return (
                "PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL",
                f"property {who}, which allowed no value, removed",
            )
        return (
            "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL",
            f"property {who} removed from a closed content model; it is rejected now",
        )
    if BACKWARD in breaks:
        return (
            "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
            f"property {who} removed; the new additional or pattern properties reject some "
            "of its values",
        )
    return (
        "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        f"property {who} removed; the new additional or pattern properties accept its values",
    )


# -- names no property declares


def _additional(shape: Shape) -> Sub | None:
    merged: Sub | None = None
    for group in shape.objects:
        merged = merge_subs(merged, group.additional)
    return merged


def _model(sub: Sub | None) -> str:
    return "open" if sub is None else "closed" if is_false(sub) else "schema"


_REST_KINDS = {
    ("open", "closed"): ("ADDITIONAL_PROPERTIES_REMOVED", "no longer allows additional properties"),
    ("closed", "open"): ("ADDITIONAL_PROPERTIES_ADDED", "allows additional properties again"),
    ("open", "schema"): ("ADDITIONAL_PROPERTIES_NARROWED", "now constrains additional properties"),
    ("schema", "closed"): (
        "ADDITIONAL_PROPERTIES_NARROWED",
        "no longer allows additional properties",
    ),
    ("schema", "open"): (
        "ADDITIONAL_PROPERTIES_EXTENDED",
        "no longer constrains additional properties",
    ),
    ("closed", "schema"): (
        "ADDITIONAL_PROPERTIES_EXTENDED",
        "now allows some additional properties",
    ),
}


def _rest_change(
    cmp: Comparer,
    before: Sub | None,
    after: Sub | None,
    old: Shape,
    new: Shape,
    label: str,
    directions: frozenset[str],
) -> list[SchemaChange]:
    old_path = before.path if before is not None else old.path
    new_path = after.path if after is not None else new.path
    raw = cmp.subs(before, after, child(label, "*"), old_path, new_path)
    nested = within(raw, directions)
    models = (_model(before), _model(after))
    if models not in _REST_KINDS or (raw and not nested):
        return nested
    kind, verb = _REST_KINDS[models]
    return [change(kind, union_breaks(nested), old_path, new_path, f"{subject(label)} {verb}")]


def _rest(
    cmp: Comparer, old: Shape, new: Shape, label: str, directions: frozenset[str]
) -> list[SchemaChange]:
    before = dict(p for g in old.objects for p in g.patterns)
    after = dict(p for g in new.objects for p in g.patterns)
    rest_before, rest_after = _additional(old), _additional(new)
    if not before and not after:
        return _rest_change(cmp, rest_before, rest_after, old, new, label, directions)
    who = subject(label)
    if len(old.objects) > 1 or len(new.objects) > 1:
        if [(g.patterns, g.additional) for g in old.objects] == [
            (g.patterns, g.additional) for g in new.objects
        ]:
            return []
        message = (
            f"pattern properties of {who} changed across 'allOf' branches; not analysed in detail"
        )
        return [
            change("PATTERN_PROPERTIES_CHANGED", BOTH & directions, old.path, new.path, message)
        ]
    found: list[SchemaChange] = []
    for pattern in sorted(set(before) | set(after)):
        mine, theirs = before.get(pattern), after.get(pattern)
        label_here = child(label, f"/{pattern}/")
        if mine is not None and theirs is not None:
            found += within(cmp.subs(mine, theirs, label_here, mine.path, theirs.path), directions)
        elif theirs is not None and not before:
            # names matching it were governed by the old additionalProperties alone
            nested = within(
                cmp.subs(rest_before, theirs, label_here, old.path, theirs.path), directions
            )
            message = f"pattern property {quote(pattern)} added to {who}"
            found.append(
                change(
                    "PATTERN_PROPERTY_ADDED", union_breaks(nested), old.path, theirs.path, message
                )
            )
        elif mine is not None and not after:
            nested = within(cmp.subs(mine, rest_after, label_here, mine.path, new.path), directions)
            message = f"pattern property {quote(pattern)} removed from {who}"
            found.append(
                change(
                    "PATTERN_PROPERTY_REMOVED", union_breaks(nested), mine.path, new.path, message
                )
            )
        else:
            message = (
                f"pattern properties of {who} changed ({quote(pattern)}); not analysed in detail"
            )
            old_path = mine.path if mine is not None else old.path
            new_path = theirs.path if theirs is not None else new.path
            found.append(
                change("PATTERN_PROPERTIES_CHANGED", BOTH & directions, old_path, new_path, message)
            )
    return found + _rest_change(cmp, rest_before, rest_after, old, new, label, directions)


# -- dependencies


def _dependencies(cmp: Comparer, old: Shape, new: Shape, label: str) -> list[SchemaChange]:
    found: list[SchemaChange] = []
    before = {d.name: (d.needed, d.pointer) for d in old.dep_required}
    after = {d.name: (d.needed, d.pointer) for d in new.dep_required}
    for name in sorted(set(before) | set(after)):
        was, now = (
            before.get(name, (frozenset(), old.path)),
            after.get(name, (frozenset(), new.path)),
        )
        if was[0] == now[0]:
            continue
        more, fewer = now[0] - was[0], was[0] - now[0]
        if name not in before:
            kind = "DEPENDENCY_ARRAY_ADDED"
        elif name not in after:
            kind = "DEPENDENCY_ARRAY_REMOVED"
        else:
            kind = "DEPENDENCY_ARRAY_" + (
                "CHANGED" if more and fewer else "EXTENDED" if more else "NARROWED"
            )
        breaks = (BREAKS_BACKWARD if more else frozenset()) | (
            BREAKS_FORWARD if fewer else frozenset()
        )
        shown = ", ".join(quote(n) for n in sorted(now[0])) or "nothing"
        message = (
            f"when {quote(child(label, str(name)))} is present, {shown} must now be present too"
        )
        found.append(change(kind, breaks, was[1], now[1], message))
    schemas_before, schemas_after = dict(old.dep_schemas), dict(new.dep_schemas)
    for name in sorted(set(schemas_before) | set(schemas_after)):
        mine, theirs = schemas_before.get(name), schemas_after.get(name)
        old_path = mine.path if mine is not None else old.path
        new_path = theirs.path if theirs is not None else new.path
        nested = cmp.subs(mine, theirs, label, old_path, new_path)
        if mine is not None and theirs is not None:
            found += nested
            continue
        kind = "DEPENDENCY_SCHEMA_ADDED" if mine is None else "DEPENDENCY_SCHEMA_REMOVED"
        verb = "added to" if mine is None else "removed from"
        message = (
            f"schema applying when {quote(child(label, name))} is present {verb} {subject(label)}"
        )
        found.append(change(kind, union_breaks(nested), old_path, new_path, message))
    return found
