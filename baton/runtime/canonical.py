"""Canonical JSON, checksums and the keys that make steps idempotent.

`canonical_json` follows RFC 8785 (JSON Canonicalization Scheme): object keys sorted by
their UTF-16 code units, no insignificant whitespace, UTF-8, only the escapes JSON
requires, numbers in ECMAScript's shortest form (`1.0` is `1`, `1e-7` is `1e-7`,
`1e21` is `1e+21`). One departure, on purpose: Python integers are written exactly,
even beyond 2**53, where RFC 8785 would round them through a double; rounding would
give two different outputs the same checksum.

A committed output's checksum is computed over these bytes, so it does not depend on
how a dict was built or which JSON library stored it.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

# The C-accelerated escaper json.dumps uses with ensure_ascii=False: it escapes `"`, `\`
# and control characters (\b \f \n \r \t, others as lowercase \u00XX), exactly
# RFC 8785's rule, and writes every other character as itself.
_escape_string: Any = json.encoder.encode_basestring


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 canonical form of a JSON value, as UTF-8 bytes.

    Raises ValueError for NaN or infinities and for strings that are not valid Unicode
    (lone surrogates), TypeError for anything that is not JSON (a set, a non-string key).

    >>> canonical_json({"b": [1.0, 0.5, 1e-7], "a": "\\u20ac\\n"})
    b'{"a":"\\xe2\\x82\\xac\\\\n","b":[1,0.5,1e-7]}'
    """
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts).encode("utf-8")


def checksum(value: Any) -> str:
    """sha256 hex digest of the canonical JSON of `value`.

    >>> checksum({"a": 1}) == checksum({"a": 1.0})
    True
    """
    return hashlib.sha256(canonical_json(value)).hexdigest()


def idempotency_key(workflow: str, version: int, run_id: str, step: str) -> str:
    """The key of one step of one run: the same across attempts and resumes.

    Hashing a canonical array (not a joined string) keeps ("a:b", "c") and ("a", "b:c")
    apart.

    >>> len(idempotency_key("research_report", 3, "run-1", "research"))
    64
    >>> idempotency_key("w", 1, "r", "s") == checksum(["w", 1, "r", "s"])
    True
    """
    if type(version) is not int:
        return checksum([workflow, version, run_id, step])
    # the canonical JSON of that array, written directly (one is hashed per attempt)
    text = f"[{_escape_string(workflow)},{version},{_escape_string(run_id)},{_escape_string(step)}]"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def attempt_id(key: str, attempt: int) -> str:
    """One try of a step: its idempotency key and the 1-based attempt number.

    >>> attempt_id("abc", 2)
    'abc:2'
    """
    return f"{key}:{attempt}"


def format_number(number: int | float) -> str:
    """A number as ECMAScript's Number.prototype.toString writes it (RFC 8785 3.2.2.3).

    >>> [format_number(x) for x in (1.0, -0.0, 1e21, 1e-7, 0.000001, 123.5, 10**30)]
    ['1', '0', '1e+21', '1e-7', '0.000001', '123.5', '1000000000000000000000000000000']
    """
    if isinstance(number, int):
        return str(number)
    if not math.isfinite(number):
        raise ValueError(f"{number!r} is not a JSON number")
    if number == 0:
        return "0"  # -0.0 too, as ECMAScript does
    sign = "-" if number < 0 else ""
    # repr() gives the shortest digits that round-trip, like ECMAScript; only the layout
    # (where the point goes, when to use an exponent) differs, so redo that part.
    mantissa, _, exponent_text = repr(abs(number)).partition("e")
    integer_part, _, fraction = mantissa.partition(".")
    all_digits = integer_part + fraction
    stripped = all_digits.lstrip("0")
    leading_zeros = len(all_digits) - len(stripped)
    digits = stripped.rstrip("0")
    # value = 0.<digits> * 10**point, in ECMAScript's terms n = point, k = len(digits)
    point = len(integer_part) - leading_zeros + (int(exponent_text) if exponent_text else 0)
    k = len(digits)
    if k <= point <= 21:
        return sign + digits + "0" * (point - k)
    if 0 < point <= 21:
        return sign + digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * -point + digits
    exponent = point - 1
    exponent_sign = "+" if exponent >= 0 else "-"
    head = digits[0] + ("." + digits[1:] if k > 1 else "")
    return f"{sign}{head}e{exponent_sign}{abs(exponent)}"


def _utf16_order(key: str) -> bytes:
    # RFC 8785 sorts by UTF-16 code units; big-endian UTF-16 bytes compare the same way.
    # It differs from code-point order only for astral characters vs U+E000..U+FFFF.
    return key.encode("utf-16-be", "surrogatepass")


def _write(value: Any, parts: list[str]) -> None:
    # bool before int: True is an int in Python
    if value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif isinstance(value, str):
        parts.append(_escape_string(value))
    elif isinstance(value, int | float):
        parts.append(format_number(value))
    elif isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"object keys must be strings, not {type(key).__name__}")
        parts.append("{")
        for index, key in enumerate(sorted(value, key=_utf16_order)):
            if index:
                parts.append(",")
            parts.append(_escape_string(key))
            parts.append(":")
            _write(value[key], parts)
        parts.append("}")
    elif isinstance(value, list | tuple):
        parts.append("[")
        for index, item in enumerate(value):
            if index:
                parts.append(",")
            _write(item, parts)
        parts.append("]")
    else:
        raise TypeError(f"a {type(value).__name__} is not a JSON value")
