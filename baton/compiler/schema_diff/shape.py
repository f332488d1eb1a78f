"""The normal form schemas are compared in.

A `Shape` is one schema with `allOf` and `$ref` merged in: a conjunction of constraints,
each gated by the type atoms it applies to, plus what cannot be merged (`not`, `anyOf` /
`oneOf` choices, keywords the checker does not analyse). Subschemas below it (properties,
items, ...) stay unnormalized `Sub`s, so recursive schemas are only unfolded on demand.

Fields that only say where something was written (`pointer`, `path`) are excluded from
equality, so two shapes are equal when they accept the same constraints.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field, replace
from fractions import Fraction

from baton.compiler.schema_diff.resolve import Loc
from baton.compiler.schema_diff.values import ALL_TYPES


@dataclass(frozen=True)
class Sub:
    """A subschema: the conjunction of the raw schemas at `locs` (no locs means `true`)."""

    locs: tuple[Loc, ...] = field(compare=False)
    key: tuple[str, ...]  # sorted content keys of `locs`
    path: str = field(compare=False)  # where it is written, for pointers in changes


def merge_subs(first: Sub | None, second: Sub | None) -> Sub | None:
    """The conjunction of two subschemas (None is `true`)."""
    if first is None or second is None:
        return first if second is None else second
    return Sub(first.locs + second.locs, tuple(sorted(first.key + second.key)), first.path)


@dataclass(frozen=True)
class Mark:
    """A value together with the pointer it was written at."""

    value: Hashable
    pointer: str = field(default="", compare=False)


@dataclass(frozen=True)
class Bound:
    """A numeric or count limit: `minimum`, `exclusiveMaximum`, `maxLength`, ..."""

    value: Fraction
    exclusive: bool = False
    keyword: str = field(default="", compare=False)
    pointer: str = field(default="", compare=False)


@dataclass(frozen=True)
class ObjGroup:
    """`properties`, `patternProperties` and `additionalProperties` of one schema object.

    They stay grouped: `additionalProperties` only exempts names its own siblings declare.
    """

    properties: tuple[tuple[str, Sub], ...] = ()
    patterns: tuple[tuple[str, Sub], ...] = ()
    additional: Sub | None = None  # None: absent, the content model is open
    pointer: str = field(default="", compare=False)

    @property
    def open(self) -> bool:
        """No pattern or additional-properties rule: only named constraints."""
        return not self.patterns and self.additional is None


@dataclass(frozen=True)
class Dependency:
    """`dependentRequired`: when `name` is present, `needed` must be too."""

    name: str
    needed: frozenset[str]
    pointer: str = field(default="", compare=False)


@dataclass(frozen=True)
class Contains:
    """`contains` with its `minContains` / `maxContains`."""

    schema: Sub
    minimum: int = 1
    maximum: int | None = None
    pointer: str = field(default="", compare=False)


@dataclass(frozen=True)
class Choice:
    """An `anyOf` or `oneOf` that could not be merged into its parent."""

    keyword: str  # anyOf, or oneOf when its branches may overlap
    branches: tuple[Shape, ...]
    pointers: tuple[str, ...] = field(default=(), compare=False)
    pointer: str = field(default="", compare=False)
    written: str = field(default="", compare=False)  # the keyword in the schema


@dataclass(frozen=True)
class Shape:
    """One schema in normal form (see the module docstring)."""

    path: str = field(default="#", compare=False)
    empty: bool = False
    types: frozenset[str] = ALL_TYPES
    type_pointer: str = field(default="", compare=False)
    values: frozenset[str] | None = None  # canonical keys allowed by enum / const
    values_keyword: str = field(default="", compare=False)
    values_pointer: str = field(default="", compare=False)
    lower: Bound | None = None
    upper: Bound | None = None
    multiple_of: tuple[Bound, ...] = ()
    min_length: Bound | None = None
    max_length: Bound | None = None
    patterns: tuple[Mark, ...] = ()
    formats: tuple[Mark, ...] = ()
    min_items: Bound | None = None
    max_items: Bound | None = None
    prefix: tuple[Sub, ...] = ()
    rest: Sub | None = None
    unique: Mark | None = None
    contains: tuple[Contains, ...] = ()
    objects: tuple[ObjGroup, ...] = ()
    required: tuple[Mark, ...] = ()
    min_props: Bound | None = None
    max_props: Bound | None = None
    property_names: Sub | None = None
    dep_required: tuple[Dependency, ...] = ()
    dep_schemas: tuple[tuple[str, Sub], ...] = ()
    nots: tuple[Shape, ...] = ()
    choices: tuple[Choice, ...] = ()
    opaque: tuple[Mark, ...] = ()  # keywords not analysed, keyed by content
    unresolved: tuple[Mark, ...] = ()  # $refs that could not be resolved


UNIVERSAL = Shape()


def empty_shape(path: str) -> Shape:
    """The schema that accepts nothing."""
    return Shape(path=path, empty=True, types=frozenset())


def is_universal(shape: Shape) -> bool:
    """Whether the shape accepts every value."""
    return shape == UNIVERSAL


def is_type_only(shape: Shape) -> bool:
    """Whether the shape constrains nothing but the type."""
    return not shape.empty and replace(shape, types=ALL_TYPES) == UNIVERSAL


# -- intersection: what `allOf` means


def tighter_lower(a: Bound | None, b: Bound | None) -> Bound | None:
    """The stricter of two lower bounds (None is no bound)."""
    if a is None or b is None:
        return a if b is None else b
    return b if (b.value, b.exclusive) > (a.value, a.exclusive) else a


def tighter_upper(a: Bound | None, b: Bound | None) -> Bound | None:
    """The stricter of two upper bounds (None is no bound)."""
    if a is None or b is None:
        return a if b is None else b
    return b if (b.value, not b.exclusive) < (a.value, not a.exclusive) else a


def _marks(a: tuple[Mark, ...], b: tuple[Mark, ...]) -> tuple[Mark, ...]:
    seen = {mark.value for mark in a}
    return a + tuple(mark for mark in b if mark.value not in seen)


def _prefix(a: Shape, b: Shape) -> tuple[Sub, ...]:
    # Past its own prefixItems, each side's `items` applies to the other's positions.
    merged = []
    for index in range(max(len(a.prefix), len(b.prefix))):
        mine = a.prefix[index] if index < len(a.prefix) else a.rest
        theirs = b.prefix[index] if index < len(b.prefix) else b.rest
        both = merge_subs(mine, theirs)
        merged.append(both if both is not None else Sub((), (), a.path))
    return tuple(merged)


def _merge_group(a: ObjGroup, b: ObjGroup) -> ObjGroup:
    names = dict(a.properties)
    for name, sub in b.properties:
        names[name] = merge_subs(names.get(name), sub) or sub
    return replace(a, properties=tuple(sorted(names.items())))


def merge_groups(groups: tuple[ObjGroup, ...]) -> tuple[ObjGroup, ...]:
    """Fold groups that only name properties into one, or into a group declaring them all."""
    plain = [group for group in groups if group.open]
    ruled = [group for group in groups if not group.open]
    if not plain:
        return tuple(ruled)
    folded = plain[0]
    for group in plain[1:]:
        folded = _merge_group(folded, group)
    names = {name for name, _ in folded.properties}
    for index, group in enumerate(ruled):
        if names <= {name for name, _ in group.properties}:
            ruled[index] = _merge_group(group, folded)
            return tuple(ruled)
    return (folded, *ruled)


def _dependencies(a: tuple[Dependency, ...], b: tuple[Dependency, ...]) -> tuple[Dependency, ...]:
    merged: dict[str, Dependency] = {}
    for dependency in a + b:
        before = merged.get(dependency.name)
        if before is not None:
            dependency = replace(before, needed=before.needed | dependency.needed)
        merged[dependency.name] = dependency
    return tuple(merged[name] for name in sorted(merged))


def _dep_schemas(
    a: tuple[tuple[str, Sub], ...], b: tuple[tuple[str, Sub], ...]
) -> tuple[tuple[str, Sub], ...]:
    merged: dict[str, Sub] = dict(a)
    for name, sub in b:
        merged[name] = merge_subs(merged.get(name), sub) or sub
    return tuple(sorted(merged.items()))


def intersect(a: Shape, b: Shape) -> Shape:
    """The shape accepting exactly what both accept (not yet checked for feasibility)."""
    if a.empty or b.empty:
        return empty_shape(a.path)
    if a.values is not None and b.values is not None:
        values: frozenset[str] | None = a.values & b.values
    else:
        values = a.values if b.values is None else b.values
    own = b if b.values is not None else a
    return Shape(
        path=a.path,
        types=a.types & b.types,
        type_pointer=b.type_pointer if b.types != ALL_TYPES else a.type_pointer,
        values=values,
        values_keyword=own.values_keyword,
        values_pointer=own.values_pointer,
        lower=tighter_lower(a.lower, b.lower),
        upper=tighter_upper(a.upper, b.upper),
        multiple_of=tuple(sorted(set(a.multiple_of) | set(b.multiple_of), key=lambda m: m.value)),
        min_length=tighter_lower(a.min_length, b.min_length),
        max_length=tighter_upper(a.max_length, b.max_length),
        patterns=_marks(a.patterns, b.patterns),
        formats=_marks(a.formats, b.formats),
        min_items=tighter_lower(a.min_items, b.min_items),
        max_items=tighter_upper(a.max_items, b.max_items),
        prefix=_prefix(a, b),
        rest=merge_subs(a.rest, b.rest),
        unique=a.unique or b.unique,
        contains=a.contains + tuple(c for c in b.contains if c not in a.contains),
        objects=merge_groups(a.objects + b.objects),
        required=tuple(sorted(_marks(a.required, b.required), key=lambda m: str(m.value))),
        min_props=tighter_lower(a.min_props, b.min_props),
        max_props=tighter_upper(a.max_props, b.max_props),
        property_names=merge_subs(a.property_names, b.property_names),
        dep_required=_dependencies(a.dep_required, b.dep_required),
        dep_schemas=_dep_schemas(a.dep_schemas, b.dep_schemas),
        nots=a.nots + b.nots,
        choices=a.choices + b.choices,
        opaque=_marks(a.opaque, b.opaque),
        unresolved=_marks(a.unresolved, b.unresolved),
    )
