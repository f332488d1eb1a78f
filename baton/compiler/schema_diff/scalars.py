"""Keyword families without subschemas: `type`, `enum` / `const`, numbers, strings, and
the keywords the checker does not analyse."""

from __future__ import annotations

from fractions import Fraction
from urllib.parse import urlparse

from baton.compiler.schema_diff.bounds import compare_bound
from baton.compiler.schema_diff.describe import change, quote, subject
from baton.compiler.schema_diff.model import (
    BOTH,
    BREAKS_BACKWARD,
    BREAKS_FORWARD,
    BREAKS_NOTHING,
    SchemaChange,
)
from baton.compiler.schema_diff.shape import Mark, Shape
from baton.compiler.schema_diff.values import ALL_TYPES, show_number, show_types

_IMPLICIT = {"boolean": frozenset({"true", "false"}), "null": frozenset({"null"})}


def _types_text(types: frozenset[str]) -> str:
    return "any type" if types == ALL_TYPES else show_types(types)


def compare_types(old: Shape, new: Shape, label: str) -> list[SchemaChange]:
    """`type` (and what `enum`, `const` or `not` imply about it)."""
    if old.types == new.types:
        return []
    if old.types < new.types:
        kind, verb, breaks = "TYPE_EXTENDED", "extended", BREAKS_FORWARD
    elif new.types < old.types:
        kind, verb, breaks = "TYPE_NARROWED", "narrowed", BREAKS_BACKWARD
    else:
        kind, verb, breaks = "TYPE_CHANGED", "changed", BOTH
    message = (
        f"type of {subject(label)} {verb} from {_types_text(old.types)} to {_types_text(new.types)}"
    )
    return [
        change(kind, breaks, old.type_pointer or old.path, new.type_pointer or new.path, message)
    ]


def _value_set(shape: Shape) -> frozenset[str] | None:
    # booleans and null have finitely many values: {type: boolean} is enum [false, true]
    if shape.values is not None:
        return shape.values
    if shape.types <= set(_IMPLICIT):
        return frozenset().union(*(_IMPLICIT[atom] for atom in shape.types))
    return None


def _listed(keys: frozenset[str], limit: int = 5) -> str:
    shown = sorted(keys)
    more = f", ... ({len(shown) - limit} more)" if len(shown) > limit else ""
    return "[" + ", ".join(shown[:limit]) + more + "]"


def compare_values(old: Shape, new: Shape, label: str) -> list[SchemaChange]:
    """`enum` and `const`."""
    if old.values is None and new.values is None:
        return []
    before, after = _value_set(old), _value_set(new)
    if before == after:
        return []
    who = subject(label)
    old_pointer, new_pointer = old.values_pointer or old.path, new.values_pointer or new.path
    if before is None or after is None:
        breaks = BREAKS_BACKWARD if before is None else BREAKS_FORWARD
    else:
        breaks = (BREAKS_BACKWARD if before - after else BREAKS_NOTHING) | (
            BREAKS_FORWARD if after - before else BREAKS_NOTHING
        )
    if old.values is None:
        assert new.values is not None
        if new.values_keyword == "const":
            kind, message = "CONST_ADDED", f"{who} is now fixed to const {next(iter(new.values))}"
        else:
            kind, message = (
                "ENUM_ARRAY_ADDED",
                f"{who} is now restricted to enum {_listed(new.values)}",
            )
    elif new.values is None:
        if old.values_keyword == "const":
            kind, message = "CONST_REMOVED", f"const {next(iter(old.values))} of {who} removed"
        else:
            kind, message = "ENUM_ARRAY_REMOVED", f"enum {_listed(old.values)} of {who} removed"
    elif old.values_keyword == new.values_keyword == "const":
        kind = "CONST_CHANGED"
        message = (
            f"const of {who} changed from {next(iter(old.values))} to {next(iter(new.values))}"
        )
    else:
        gone, came = old.values - new.values, new.values - old.values
        parts = []
        if came:
            parts.append(f"{_listed(came)} now allowed")
        if gone:
            parts.append(f"{_listed(gone)} no longer allowed")
        verb = "changed" if gone and came else "narrowed" if gone else "extended"
        kind = f"ENUM_ARRAY_{verb.upper()}"
        message = f"enum of {who} {verb}: {', '.join(parts)}"
    return [change(kind, breaks, old_pointer, new_pointer, message)]


def _implied(step: Fraction, steps: set[Fraction], integers_only: bool) -> bool:
    # every multiple of some step in `steps` is a multiple of `step`
    if integers_only and (1 / step).denominator == 1:
        return True
    return any((other / step).denominator == 1 for other in steps)


def compare_numbers(old: Shape, new: Shape, label: str, integers_only: bool) -> list[SchemaChange]:
    """`minimum`, `maximum`, their exclusive forms, and `multipleOf`."""
    found: list[SchemaChange] = []
    for lower in (True, False):
        found += compare_bound(
            old.lower if lower else old.upper,
            new.lower if lower else new.upper,
            lower=lower,
            integral=integers_only,
            keyword=None,
            label=label,
            old_path=old.path,
            new_path=new.path,
        )
    return found + _multiples(old, new, label, integers_only)


def _multiples(old: Shape, new: Shape, label: str, integers_only: bool) -> list[SchemaChange]:
    before = {b.value: b.pointer for b in old.multiple_of}
    after = {b.value: b.pointer for b in new.multiple_of}
    if set(before) == set(after):
        return []
    who = subject(label)

    def breaks_of(added: set[Fraction], removed: set[Fraction]) -> frozenset[str]:
        backward = any(not _implied(s, set(before), integers_only) for s in added)
        forward = any(not _implied(s, set(after), integers_only) for s in removed)
        return (BREAKS_BACKWARD if backward else BREAKS_NOTHING) | (
            BREAKS_FORWARD if forward else BREAKS_NOTHING
        )

    added, removed = set(after) - set(before), set(before) - set(after)
    if len(added) == 1 and len(removed) == 1:
        (was,), (now,) = removed, added
        verb = (
            "EXPANDED"
            if (now / was).denominator == 1
            else "REDUCED"
            if (was / now).denominator == 1
            else "CHANGED"
        )
        message = f"multipleOf of {who} changed from {show_number(was)} to {show_number(now)}"
        return [
            change(
                f"MULTIPLE_OF_{verb}", breaks_of(added, removed), before[was], after[now], message
            )
        ]
    found = [
        change(
            "MULTIPLE_OF_ADDED",
            breaks_of({step}, set()),
            old.path,
            after[step],
            f"{who} must now be a multiple of {show_number(step)}",
        )
        for step in sorted(added)
    ]
    return found + [
        change(
            "MULTIPLE_OF_REMOVED",
            breaks_of(set(), {step}),
            before[step],
            new.path,
            f"{who} no longer needs to be a multiple of {show_number(step)}",
        )
        for step in sorted(removed)
    ]


def _text_marks(
    keyword: str,
    before: tuple[Mark, ...],
    after: tuple[Mark, ...],
    old: Shape,
    new: Shape,
    label: str,
) -> list[SchemaChange]:
    old_marks = {str(m.value): m.pointer for m in before}
    new_marks = {str(m.value): m.pointer for m in after}
    added, removed = (
        sorted(set(new_marks) - set(old_marks)),
        sorted(set(old_marks) - set(new_marks)),
    )
    prefix, who = keyword.upper(), subject(label)
    if len(added) == 1 and len(removed) == 1:
        message = f"{keyword} of {who} changed from {quote(removed[0])} to {quote(added[0])}"
        return [
            change(f"{prefix}_CHANGED", BOTH, old_marks[removed[0]], new_marks[added[0]], message)
        ]
    found = [
        change(
            f"{prefix}_ADDED",
            BREAKS_BACKWARD,
            old.path,
            new_marks[text],
            f"{keyword} {quote(text)} added to {who}",
        )
        for text in added
    ]
    return found + [
        change(
            f"{prefix}_REMOVED",
            BREAKS_FORWARD,
            old_marks[text],
            new.path,
            f"{keyword} {quote(text)} removed from {who}",
        )
        for text in removed
    ]


def compare_strings(old: Shape, new: Shape, label: str) -> list[SchemaChange]:
    """`minLength`, `maxLength`, `pattern`, `format`."""
    found: list[SchemaChange] = []
    for keyword, lower in (("minLength", True), ("maxLength", False)):
        found += compare_bound(
            old.min_length if lower else old.max_length,
            new.min_length if lower else new.max_length,
            lower=lower,
            integral=True,
            keyword=keyword,
            label=label,
            old_path=old.path,
            new_path=new.path,
        )
    found += _text_marks("pattern", old.patterns, new.patterns, old, new, label)
    return found + _text_marks("format", old.formats, new.formats, old, new, label)


def _absolute(ref: object) -> bool:
    return isinstance(ref, str) and bool(urlparse(ref).scheme)


def compare_unanalysed(old: Shape, new: Shape, label: str) -> list[SchemaChange]:
    """Keywords the checker cannot see through: any difference breaks both directions."""
    who = subject(label)
    before = {m.value: m.pointer for m in old.opaque}
    after = {m.value: m.pointer for m in new.opaque}
    found = []
    for value in sorted(set(before) ^ set(after), key=repr):
        keyword = str(value[0]) if isinstance(value, tuple) else str(value)
        found.append(
            change(
                "UNCHECKED_KEYWORD_CHANGED",
                BOTH,
                before.get(value, old.path),
                after.get(value, new.path),
                f"keyword {quote(keyword)} of {who} changed; it is not analysed, so the change "
                "is assumed to break both directions",
            )
        )
    both_sides = {m.value for m in old.unresolved} & {m.value for m in new.unresolved}
    for side, marks in (("old", old.unresolved), ("new", new.unresolved)):
        for mark in marks:
            if mark.value in both_sides and _absolute(mark.value):
                continue  # the same absolute URI on both sides is the same schema
            pointers = (mark.pointer, new.path) if side == "old" else (old.path, mark.pointer)
            found.append(
                change(
                    "REF_UNRESOLVED",
                    BOTH,
                    *pointers,
                    f"cannot resolve $ref {quote(str(mark.value))} in the {side} schema; "
                    "assumed to break both directions",
                )
            )
    return found
