"""The fast path for plain references agrees with jinja2's parser."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from baton.compiler import templates

names = st.sampled_from(
    ["steps", "inputs", "run", "a", "b_2", "output", "true", "none", "not", "x"]
)
parts = st.lists(
    st.one_of(names.map(lambda n: f".{n}"), st.integers(0, 12).map(lambda i: f"[{i}]")), max_size=4
)
reference = st.builds(lambda root, rest: root + "".join(rest), names, parts)
text = st.sampled_from(["", " ", "hello ", "\n", "}}", "{ ", " - "])
segment = st.builds(
    lambda ref, pad: "{{" + pad + ref + pad + "}}", reference, st.sampled_from(["", " ", "  "])
)
template = st.lists(st.tuples(text, segment), min_size=1, max_size=3).map(
    lambda pieces: "".join(t + s for t, s in pieces)
)


def _slow(source: str, is_expression: bool) -> templates.ParsedTemplate:
    templates.parse_template.cache_clear()
    original = templates._fast_parse
    templates._fast_parse = lambda *_: None  # type: ignore[assignment]
    try:
        return templates.parse_template(source, is_expression)
    finally:
        templates._fast_parse = original  # type: ignore[assignment]
        templates.parse_template.cache_clear()


@settings(max_examples=200, deadline=None)
@given(template)
def test_fast_path_matches_jinja_for_templates(source: str) -> None:
    fast = templates._fast_parse(source, False)
    if fast is not None:
        assert fast == _slow(source, False)


@settings(max_examples=200, deadline=None)
@given(reference)
def test_fast_path_matches_jinja_for_expressions(source: str) -> None:
    fast = templates._fast_parse(source, True)
    if fast is not None:
        assert fast == _slow(source, True)


def test_fast_path_takes_the_common_case() -> None:
    assert templates._fast_parse("{{ steps.research.output.sources[0] }}", False) is not None
    assert templates._fast_parse("{{ inputs.x | default('') }}", False) is None
