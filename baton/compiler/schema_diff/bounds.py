"""Lower and upper limits: numeric bounds, lengths, item and property counts."""

from __future__ import annotations

import math
from fractions import Fraction

from baton.compiler.schema_diff.describe import change, subject
from baton.compiler.schema_diff.model import BREAKS_BACKWARD, BREAKS_FORWARD, SchemaChange
from baton.compiler.schema_diff.shape import Bound
from baton.compiler.schema_diff.values import show_number

_LOOSEST = (Fraction(-(10**400)), 0)


def kind_prefix(keyword: str) -> str:
    """The kind prefix of a keyword.

    >>> kind_prefix("exclusiveMaximum"), kind_prefix("minItems")
    ('EXCLUSIVE_MAXIMUM', 'MIN_ITEMS')
    """
    return "".join("_" + c if c.isupper() else c.upper() for c in keyword).lstrip("_")


def human(keyword: str) -> str:
    """A keyword as words.

    >>> human("exclusiveMaximum"), human("maxLength")
    ('exclusive maximum', 'max length')
    """
    return kind_prefix(keyword).lower().replace("_", " ")


def _rank(bound: Bound | None, lower: bool, integral: bool) -> tuple[Fraction, int]:
    # Larger rank = stricter bound. Over integers only, 0.5 < x is the same as 1 <= x.
    if bound is None:
        return _LOOSEST
    value, exclusive = bound.value, bound.exclusive
    if integral:
        if lower:
            whole = math.floor(value) + 1 if exclusive else math.ceil(value)
            return (Fraction(whole), 0)
        whole = math.ceil(value) - 1 if exclusive else math.floor(value)
        return (Fraction(-whole), 0)
    return (value if lower else -value, int(exclusive))


def compare_bound(
    old: Bound | None,
    new: Bound | None,
    *,
    lower: bool,
    integral: bool,
    keyword: str | None,
    label: str,
    old_path: str,
    new_path: str,
) -> list[SchemaChange]:
    """The change of one limit. `keyword` names count limits (`maxItems`, ...); numeric
    bounds are named by their own keyword (`minimum` or `exclusiveMinimum`)."""
    old_rank, new_rank = _rank(old, lower, integral), _rank(new, lower, integral)
    if old_rank == new_rank:
        return []
    breaks = BREAKS_BACKWARD if new_rank > old_rank else BREAKS_FORWARD
    who = subject(label)
    old_pointer = old.pointer if old is not None else old_path
    new_pointer = new.pointer if new is not None else new_path
    if old is None:
        assert new is not None
        name = keyword or new.keyword
        kind = f"{kind_prefix(name)}_ADDED"
        message = f"{human(name)} {show_number(new.value)} added to {who}"
    elif new is None:
        name = keyword or old.keyword
        kind = f"{kind_prefix(name)}_REMOVED"
        message = f"{human(name)} {show_number(old.value)} removed from {who}"
    elif keyword or old.keyword == new.keyword:
        name = keyword or new.keyword
        verb = "increased" if new.value > old.value else "decreased"
        kind = f"{kind_prefix(name)}_{verb.upper()}"
        message = (
            f"{human(name)} of {who} {verb} from {show_number(old.value)} "
            f"to {show_number(new.value)}"
        )
    else:
        kind = f"{kind_prefix(new.keyword)}_ADDED"
        side = "lower" if lower else "upper"
        message = (
            f"{side} bound of {who} changed from {human(old.keyword)} "
            f"{show_number(old.value)} to {human(new.keyword)} {show_number(new.value)}"
        )
    return [change(kind, breaks, old_pointer, new_pointer, message)]
