"""The one-pass event builder (baton/compiler/yamlevents.py) against the compose-based
loader it replaced (tests/lint/compose_loader.py, the oracle): on generated YAML, with
anchors, aliases, tags, duplicate and non-scalar keys, merge keys, several documents and
random damage, both give the same nodes (values, types, spans, styles) and the same
findings, in the same order."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from baton.compiler.loader import load_text
from baton.compiler.yamlnodes import YMap, YNode, YSeq
from tests.lint import compose_loader
from tests.lint.test_properties import PROPERTY_SETTINGS

SCALARS = [
    "a", "s00001", "on", "yes", "No", "true", "False", "null", "~", "", "1", "-2", "0x1f",
    "1.5", ".nan", ".inf", "1e3", "2024-01-01", "<<", "x y", "'q'", '"d"', "'it''s'",
    '"\\t"', "!!str 1", "!!int 7", "!!float 2", "!foo bar", "! 12", "!!binary aGk=",
    "!!merge <<", "!!bool on", "!!null ''", "{{ steps.a.output.text }}",
]  # fmt: skip


def shape(node: YNode | None) -> Any:
    """Everything a node holds, for comparison (YNodes compare by identity)."""
    if node is None:
        return None
    if isinstance(node, YMap):
        entries = tuple((shape(k), shape(v)) for k, v in node.entries)
        return ("map", node.span, entries, sorted(node.keys()))
    if isinstance(node, YSeq):
        return ("seq", node.span, tuple(shape(item) for item in node.items))
    value = node.value
    return ("scalar", node.span, type(value).__name__, repr(value), node.style)


@st.composite
def documents(draw: st.DrawFn, depth: int = 0, indent: int = 0) -> str:
    """A node in block or flow style; maps and lists nest, with anchors and aliases."""
    pad = " " * indent
    kinds = ["scalar", "scalar", "alias", "map", "map", "seq", "flow"]
    kind = draw(st.sampled_from(kinds if depth < 4 else kinds[:3]))
    anchor = f"&{draw(st.sampled_from('abc'))} " if draw(st.integers(0, 3)) == 0 else ""
    if kind == "scalar":
        return anchor + draw(st.sampled_from(SCALARS))
    if kind == "alias":
        return f"*{draw(st.sampled_from('aabcd'))}"
    if kind == "flow":
        items = draw(
            st.lists(
                st.sampled_from([*SCALARS[:18], "*a", "[x, y]", "{k: v}", "[[[]]]"]), max_size=4
            )
        )
        if draw(st.booleans()):
            return anchor + "[" + ", ".join(items) + "]"
        keys = draw(
            st.lists(
                st.sampled_from(["k", "k", "1", "on", "[z]", "*a", "<<", "? q"]),
                min_size=len(items),
                max_size=len(items),
            )
        )
        return anchor + "{" + ", ".join(f"{k}: {v}" for k, v in zip(keys, items, strict=True)) + "}"
    children = draw(st.lists(documents(depth + 1, indent + 2), min_size=1, max_size=4))
    lines = []
    for child in children:
        if kind == "map":
            key = draw(
                st.sampled_from(
                    [
                        "k",
                        "k",
                        "m",
                        "1",
                        "true",
                        "<<",
                        "*a",
                        "&d key",
                        "!!str x",
                        "? [x, y]\n" + pad,
                    ]
                )
            )
            lines.append(f"{pad}{key}:" + _nested(child, indent))
        else:
            lines.append(f"{pad}-" + _nested(child, indent))
    text = "\n".join(lines)
    return (anchor + "\n" + text) if anchor else ("\n" + text if depth else text)


def _nested(child: str, indent: int) -> str:
    return child if child.startswith("\n") else " " + child


@given(
    body=documents(),
    extra=st.sampled_from(["", "\n---\nb: 2", "\n...\n", "\nz: *c", "\n- x"]),
    damage=st.one_of(
        st.none(), st.tuples(st.integers(0, 400), st.sampled_from(list(":[]{}-&*!'\"\t#?|>,\n ")))
    ),
)
@PROPERTY_SETTINGS
def test_event_builder_matches_the_compose_loader(
    body: str, extra: str, damage: tuple[int, str] | None
) -> None:
    text = body + extra + "\n"
    if damage is not None:
        at = damage[0] % (len(text) + 1)
        text = text[:at] + damage[1] + text[at:]
    new, new_findings = load_text("f.yaml", text)
    try:
        old, old_findings = compose_loader.load_text("f.yaml", text)
    except ValueError:  # the old loader crashed on `!!int seven`; the new one reports it
        assert new.root is None and new_findings[0].rule == "B001", text
        assert "is not a valid value for the tag" in new_findings[0].message
        return
    assert new_findings == old_findings, text
    assert shape(new.root) == shape(old.root), text
    assert new.lines == old.lines


# ten times more nodes per level, six levels: 2 million nodes once aliases are expanded
ALIAS_BOMB = (
    "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]\n"
        for previous, name in zip("abcde", "bcdef", strict=True)
    )
    + "g: [*f, *f]\n"
)


@pytest.mark.parametrize(
    "text",
    [
        "a: &x [1, *x]\n",  # recursive alias
        "a: &x 1\nb: &x 2\n",  # duplicate anchor
        "a: *nope\n",  # undefined alias
        "- 1\n---\n- 2\n",  # two documents
        "a: &x {k: 1, k: 2}\nb: *x\nc: *x\n",  # duplicate keys, again in each expansion
        "? [a, b]\n: 1\nc: {<<: 1}\n",  # a list as a key, before a merge key
        "a: !!python/object 1\n",  # an unsupported tag
        "a:\n" + "".join("  " * i + "- \n" for i in range(1, 205)),  # deep block nesting
        "a: " + "[" * 210 + "]" * 210 + "\n",  # deep flow nesting, few indicators
        "a: " + "[" * 1200 + "\n",  # flow nesting libyaml refuses
        "x: " + "[" * 300 + "]" * 300 + "\n" + "k: v\n" * 5_100,  # deep, many indicators
        "k: v\n" * 5_100 + "a: *b\nc: " + "[" * 300 + "]" * 300 + "\n",  # composer error first
        ALIAS_BOMB,
        "",
        "# only a comment\n",
        "a: 1\n\x07",
    ],
)
def test_event_builder_matches_on_hard_cases(text: str) -> None:
    new, new_findings = load_text("f.yaml", text)
    old, old_findings = compose_loader.load_text("f.yaml", text)
    assert new_findings == old_findings
    assert shape(new.root) == shape(old.root)
