"""Python literals for spec values: the only way user text enters a generated module.

Every string is escaped here (never pasted into source), so no spec content can end a
string, open a comment or start a new line: quotes and backslashes are escaped, and every
character Python does not call printable (newlines, NUL, U+2028/U+2029, bidi and
zero-width controls) becomes an escape sequence. The result is what `ruff format` would
print: double quotes unless the text holds more double than single quotes, lowercase hex.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from baton.compiler.codegen.layout import Bracket, Doc, Item, Pair, Text, sequence

_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}
# past this many digits Python refuses int <-> decimal text; hex has no such limit
_MAX_DECIMAL = 10**4000


class LiteralError(ValueError):
    """A value that has no Python literal (not JSON-like)."""


def _escape(char: str, quote: str) -> str:
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    if char == quote:
        return "\\" + char
    if char.isprintable():
        return char
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def string(text: str) -> str:
    """A string literal that evaluates to `text`, quoted as ruff prefers.

    >>> print(string('say "hi"'), string("it's"), string("a\\nb\\u2028"), string('"\\''))
    'say "hi"' "it's" "a\\nb\\u2028" "\\"'"
    """
    quote = "'" if text.count('"') > text.count("'") else '"'
    if text.isprintable():  # the common case: only backslashes and the quote to escape
        return quote + text.replace("\\", "\\\\").replace(quote, "\\" + quote) + quote
    return quote + "".join(_escape(char, quote) for char in text) + quote


def comment_text(text: str) -> str:
    """`text` made safe inside a `#` comment: nothing in it can end the line.

    >>> comment_text("specs/a.yaml:3"), comment_text("x\\ny")
    ('specs/a.yaml:3', 'x\\\\ny')
    """
    return "".join(
        char if char.isprintable() and char != "\\" else _escape(char, "") for char in text
    )


def number(value: int | float) -> str:
    """A numeric literal (or the expression for inf and nan) equal to `value`.

    >>> number(3), number(0.5), number(1e100), number(-1e-05), number(float("-inf"))
    ('3', '0.5', '1e100', '-1e-05', '-float("inf")')
    """
    if isinstance(value, int):
        if abs(value) >= _MAX_DECIMAL:
            sign = "-" if value < 0 else ""
            return f"{sign}0x{abs(value):X}"
        return str(value)
    if math.isnan(value):
        return 'float("nan")'
    if math.isinf(value):
        return 'float("inf")' if value > 0 else '-float("inf")'
    return repr(value).replace("e+", "e")  # ruff drops the redundant exponent sign


def value(data: object) -> Doc:
    """A literal for JSON-like data: dicts with string keys, lists, tuples, scalars."""
    if data is None or isinstance(data, bool):
        return Text(repr(data))
    if isinstance(data, int | float):
        return Text(number(data))
    if isinstance(data, str):
        return Text(string(data))
    if isinstance(data, Mapping):
        items = []
        for key, item in data.items():
            if not isinstance(key, str):
                raise LiteralError(f"mapping key {key!r} is not a string")
            items.append(Item(Pair(f"{string(key)}: ", value(item))))
        return Bracket("{", tuple(items), "}")
    if isinstance(data, tuple):
        return sequence("()", [value(item) for item in data])
    if isinstance(data, Sequence):
        return sequence("[]", [value(item) for item in data])
    raise LiteralError(f"no literal for a value of type {type(data).__name__}")
