"""Canonical JSON (RFC 8785 style), checksums and idempotency keys."""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from baton.runtime.canonical import attempt_id, canonical_json, checksum, idempotency_key


def test_rfc8785_sample() -> None:
    # RFC 8785 section 3.2.2, as JSON text parsed by Python's json module
    text = (
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        ' "literals": [null, true, false]}'
    )
    expected = (
        '{"literals":[null,true,false],'
        '"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical_json(json.loads(text)) == expected.encode()


def test_rfc8785_key_order_is_by_utf16_code_units() -> None:
    # RFC 8785 section 3.2.3: the emoji (a surrogate pair, D83D...) sorts before U+FB33
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    keys = list(json.loads(canonical_json(value)))
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


@pytest.mark.parametrize(
    ("bits", "expected"),
    [  # RFC 8785 appendix B
        (0x0000000000000000, "0"),
        (0x8000000000000000, "0"),
        (0x0000000000000001, "5e-324"),
        (0x8000000000000001, "-5e-324"),
        (0x7FEFFFFFFFFFFFFF, "1.7976931348623157e+308"),
        (0xFFEFFFFFFFFFFFFF, "-1.7976931348623157e+308"),
        (0x4340000000000000, "9007199254740992"),
        (0xC340000000000000, "-9007199254740992"),
        (0x4430000000000000, "295147905179352830000"),
        (0x44B52D02C7E14AF5, "9.999999999999997e+22"),
        (0x44B52D02C7E14AF6, "1e+23"),
        (0x44B52D02C7E14AF7, "1.0000000000000001e+23"),
        (0x444B1AE4D6E2EF4E, "999999999999999700000"),
        (0x444B1AE4D6E2EF4F, "999999999999999900000"),
        (0x444B1AE4D6E2EF50, "1e+21"),
        (0x3EB0C6F7A0B5ED8C, "9.999999999999997e-7"),
        (0x3EB0C6F7A0B5ED8D, "0.000001"),
        (0x41B3DE4355555553, "333333333.3333332"),
        (0x41B3DE4355555554, "333333333.33333325"),
        (0x41B3DE4355555555, "333333333.3333333"),
        (0x41B3DE4355555556, "333333333.3333334"),
        (0x41B3DE4355555557, "333333333.33333343"),
        (0xBECBF647612F3696, "-0.0000033333333333333333"),
        (0x43143FF3C1CB0959, "1424953923781206.2"),
    ],
)
def test_rfc8785_numbers(bits: int, expected: str) -> None:
    (number,) = struct.unpack(">d", bits.to_bytes(8, "big"))
    assert canonical_json(number) == expected.encode()


def test_no_whitespace_utf8_and_minimal_escapes() -> None:
    value = {"b": [1, 2.0, {"z": None, "a": "é\t\u2028"}], "a": True}
    assert canonical_json(value) == '{"a":true,"b":[1,2,{"a":"é\\t\u2028","z":null}]}'.encode()


def test_integers_are_exact() -> None:
    assert canonical_json(2**64 + 1) == b"18446744073709551617"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, {"a": [math.nan]}])
def test_nan_and_infinity_are_refused(bad: Any) -> None:
    with pytest.raises(ValueError):
        canonical_json(bad)


@pytest.mark.parametrize("bad", [{1: "a"}, {"a": {1, 2}}, object(), b"bytes"])
def test_non_json_values_are_refused(bad: Any) -> None:
    with pytest.raises(TypeError):
        canonical_json(bad)


def test_lone_surrogates_are_refused() -> None:
    with pytest.raises(ValueError):
        canonical_json("\ud800")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=15,
)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_canonical_form_is_a_fixed_point(value: Any) -> None:
    once = canonical_json(value)
    assert canonical_json(json.loads(once)) == once


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_numbers_round_trip_exactly(number: float) -> None:
    assert float(json.loads(canonical_json(number))) == number


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(), st.integers(), max_size=6), st.randoms())
def test_checksum_ignores_key_insertion_order(value: dict[str, int], rng: Any) -> None:
    items = list(value.items())
    rng.shuffle(items)
    assert checksum(dict(items)) == checksum(value)


def test_idempotency_key_and_attempt_id() -> None:
    key = idempotency_key("research_report", 3, "run-1", "research")
    assert key == checksum(["research_report", 3, "run-1", "research"])
    assert len(key) == 64
    assert idempotency_key("research_report", 3, "run-1", "research") == key
    others = {
        idempotency_key("research_report", 4, "run-1", "research"),
        idempotency_key("research_report", 3, "run-2", "research"),
        idempotency_key("research_report", 3, "run-1", "audit"),
        idempotency_key("other", 3, "run-1", "research"),
    }
    assert key not in others
    assert len(others) == 4
    # an array, not a joined string: moving a separator changes the key
    assert idempotency_key("a", 1, "b:c", "d") != idempotency_key("a", 1, "b", "c:d")
    assert attempt_id(key, 2) == f"{key}:2"
