"""`anyOf` / `oneOf` and `not`.

Choices are compared in disjunctive form: each side becomes a list of branches (the
parent's constraints merged into each), every old branch must fit some new branch for
backward compatibility, every new branch some old one for forward. A `oneOf` on the
receiving side also needs the value to miss every other branch, which `disjoint` must
prove. Branches are paired up for reporting so that the changes inside a changed branch
are listed, not just "the branch changed".
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from baton.compiler.schema_diff.describe import change, subject, union_breaks
from baton.compiler.schema_diff.feasible import finish
from baton.compiler.schema_diff.model import (
    BACKWARD,
    BOTH,
    BREAKS_BACKWARD,
    BREAKS_FORWARD,
    BREAKS_NOTHING,
    FORWARD,
    SchemaChange,
)
from baton.compiler.schema_diff.shape import Shape, intersect

if TYPE_CHECKING:
    from baton.compiler.schema_diff.compare import Comparer

_MAX_BRANCHES = 64


@dataclass(frozen=True)
class Branch:
    """One alternative of a schema in disjunctive form."""

    shape: Shape
    pointer: str
    exclusions: tuple[Shape, ...] = ()  # `oneOf` siblings a value must not match


def expand(cmp: Comparer, shape: Shape) -> list[Branch] | None:
    """The alternatives of a shape; None when there are too many to compare."""
    if not shape.choices:
        return [Branch(shape, shape.path)]
    first, rest = shape.choices[0], shape.choices[1:]
    base = replace(shape, choices=rest)
    result: list[Branch] = []
    for index, option in enumerate(first.branches):
        merged = finish(intersect(base, option), cmp.norm.is_empty)
        merged = replace(merged, path=first.pointers[index])
        if merged.empty:
            continue
        exclusions: tuple[Shape, ...] = ()
        if first.keyword == "oneOf":
            exclusions = tuple(
                finish(intersect(base, other), cmp.norm.is_empty)
                for position, other in enumerate(first.branches)
                if position != index
            )
        inner = expand(cmp, merged)
        if inner is None:
            return None
        result += [Branch(b.shape, b.pointer, exclusions + b.exclusions) for b in inner]
        if len(result) > _MAX_BRANCHES:
            return None
    return result


def _keywords(shape: Shape) -> str:
    return "/".join(choice.written for choice in shape.choices) or "a single schema"


@dataclass(frozen=True)
class _Coverage:
    """Which old alternative fits which new one (backward) and the reverse (forward)."""

    pairs: dict[tuple[int, int], list[SchemaChange]]
    fits_new: dict[tuple[int, int], bool]  # old i fits new j (and misses j's oneOf siblings)
    fits_old: dict[tuple[int, int], bool]  # new j fits old i (and misses i's oneOf siblings)
    old_covered: list[bool]
    new_covered: list[bool]


def _cover(cmp: Comparer, before: list[Branch], after: list[Branch], label: str) -> _Coverage:
    pairs = {
        (i, j): cmp.shapes(a.shape, b.shape, label)
        for i, a in enumerate(before)
        for j, b in enumerate(after)
    }
    fits_new = {
        key: BACKWARD not in union_breaks(found)
        and all(cmp.disjoint(before[key[0]].shape, x) for x in after[key[1]].exclusions)
        for key, found in pairs.items()
    }
    fits_old = {
        key: FORWARD not in union_breaks(found)
        and all(cmp.disjoint(after[key[1]].shape, x) for x in before[key[0]].exclusions)
        for key, found in pairs.items()
    }
    return _Coverage(
        pairs,
        fits_new,
        fits_old,
        [any(fits_new[(i, j)] for j in range(len(after))) for i in range(len(before))],
        [any(fits_old[(i, j)] for i in range(len(before))) for j in range(len(after))],
    )


def _pair_up(cover: _Coverage) -> list[tuple[int, int]]:
    # Equivalent pairs first, then the pairs with the fewest breaking differences, then
    # the same position: so a changed branch is reported against its own old version.
    def rank(key: tuple[int, int]) -> tuple[bool, int, int, tuple[int, int]]:
        exact = cover.fits_new[key] and cover.fits_old[key]
        breaking = sum(1 for found in cover.pairs[key] if found.breaks)
        return (not exact, breaking, abs(key[0] - key[1]), key)

    matched: list[tuple[int, int]] = []
    for i, j in sorted(cover.pairs, key=rank):
        if all(i != a and j != b for a, b in matched):
            matched.append((i, j))
    return matched


def _report(
    cover: _Coverage, before: list[Branch], after: list[Branch], old: Shape, new: Shape, who: str
) -> list[SchemaChange]:
    found: list[SchemaChange] = []
    matched = _pair_up(cover)
    for i, j in matched:
        # a difference inside a pair only breaks a direction the pairing fails to cover
        allowed = (BREAKS_NOTHING if cover.old_covered[i] else BREAKS_BACKWARD) | (
            BREAKS_NOTHING if cover.new_covered[j] else BREAKS_FORWARD
        )
        found += [replace(c, breaks=c.breaks & allowed) for c in cover.pairs[(i, j)]]
    for i, branch in enumerate(before):
        if all(i != a for a, _ in matched):
            kept = cover.old_covered[i]
            lost = (
                "its values are still accepted" if kept else "values it accepted are now rejected"
            )
            message = f"branch {branch.pointer} of {who} removed; {lost}"
            breaks = BREAKS_NOTHING if kept else BREAKS_BACKWARD
            found.append(change("SUM_TYPE_NARROWED", breaks, branch.pointer, new.path, message))
    for j, branch in enumerate(after):
        if all(j != b for _, b in matched):
            known = cover.new_covered[j]
            gained = (
                "its values were already accepted"
                if known
                else "it accepts values the old schema rejected"
            )
            message = f"branch {branch.pointer} added to {who}; {gained}"
            breaks = BREAKS_NOTHING if known else BREAKS_FORWARD
            found.append(change("SUM_TYPE_EXTENDED", breaks, old.path, branch.pointer, message))
    return found


def _exclusivity(old: Shape, new: Shape, missing: frozenset[str], who: str) -> SchemaChange:
    # Coverage failed although no paired difference says so: only `oneOf` exclusivity
    # (a value matching several branches) can be the cause.
    old_pointer = old.choices[0].pointer if old.choices else old.path
    new_pointer = new.choices[0].pointer if new.choices else new.path
    switched = (
        len(old.choices) == len(new.choices) == 1
        and old.choices[0].written != new.choices[0].written
    )
    if switched:
        message = (
            f"{who} changed from {_keywords(old)} to {_keywords(new)}; "
            "a value may now match no branch or more than one"
        )
        return change("COMBINED_TYPE_CHANGED", missing, old_pointer, new_pointer, message)
    message = (
        f"branches of {who} changed; a value may now match no branch "
        "or more than one 'oneOf' branch"
    )
    return change("COMBINED_TYPE_SUBSCHEMAS_CHANGED", missing, old_pointer, new_pointer, message)


def compare_choices(cmp: Comparer, old: Shape, new: Shape, label: str) -> list[SchemaChange]:
    """Changes between schemas of which at least one has `anyOf` / `oneOf` left."""
    who = subject(label)
    shared = [choice for choice in old.choices if choice in new.choices]
    if shared:
        # The same anyOf / oneOf on both sides is the same conjunct: comparing the rest
        # suffices (and overlapping oneOf branches could not be proven exclusive).
        old = replace(old, choices=tuple(c for c in old.choices if c not in shared))
        new = replace(new, choices=tuple(c for c in new.choices if c not in shared))
        if not old.choices and not new.choices:
            return cmp.plain(old, new, label)
    before, after = expand(cmp, old), expand(cmp, new)
    if before is None or after is None:
        message = (
            f"{who} has too many anyOf/oneOf combinations to compare; "
            "assumed to break both directions"
        )
        return [change("COMBINED_TYPE_SUBSCHEMAS_CHANGED", BOTH, old.path, new.path, message)]
    if not before or not after:  # every alternative of a side is impossible
        return cmp.shapes(
            old if before else replace(old, empty=True),
            new if after else replace(new, empty=True),
            label,
        )
    cover = _cover(cmp, before, after, label)
    found = _report(cover, before, after, old, new, who)
    needed = (BREAKS_NOTHING if all(cover.old_covered) else BREAKS_BACKWARD) | (
        BREAKS_NOTHING if all(cover.new_covered) else BREAKS_FORWARD
    )
    missing = needed - union_breaks(found)
    if missing:
        found.append(_exclusivity(old, new, missing, who))
    return found


def _excluded(cmp: Comparer, side: Shape, negated: Shape) -> bool:
    # every value of `side` certainly avoids `negated`
    if negated in side.nots or any(cmp.subset(negated, own) for own in side.nots):
        return True
    return cmp.disjoint(replace(side, nots=()), negated)


def compare_nots(cmp: Comparer, old: Shape, new: Shape, label: str) -> list[SchemaChange]:
    """`not`: NEW's must exclude nothing OLD accepts (backward), and the reverse."""
    if not old.nots and not new.nots:
        return []
    who = subject(label)
    new_unmet = [n for n in new.nots if not _excluded(cmp, old, n)]
    old_unmet = [o for o in old.nots if not _excluded(cmp, new, o)]
    if len(old.nots) == 1 and len(new.nots) == 1 and (new_unmet or old_unmet):
        breaks = (BREAKS_BACKWARD if new_unmet else BREAKS_NOTHING) | (
            BREAKS_FORWARD if old_unmet else BREAKS_NOTHING
        )
        if breaks == BOTH:
            kind, verb = "NOT_TYPE_CHANGED", "changed"
        elif breaks == BREAKS_BACKWARD:
            kind, verb = "NOT_TYPE_EXTENDED", "now excludes more values"
        else:
            kind, verb = "NOT_TYPE_NARROWED", "now excludes fewer values"
        message = f"the 'not' schema of {who} {verb}"
        return [change(kind, breaks, old.nots[0].path, new.nots[0].path, message)]
    found = [
        change(
            "NOT_TYPE_ADDED",
            BREAKS_BACKWARD,
            old.path,
            n.path,
            f"{who} now excludes the values of a 'not' schema",
        )
        for n in new_unmet
    ]
    return found + [
        change(
            "NOT_TYPE_REMOVED",
            BREAKS_FORWARD,
            o.path,
            new.path,
            f"{who} no longer excludes the values of a 'not' schema",
        )
        for o in old_unmet
    ]
