"""Example leaf values for runtime.examples: strings, numbers, and regex matches.

Each function proposes candidates in order of preference; runtime.examples keeps the
first one the real validator accepts, so these may guess (a regex read with Python's
parser, a format example) without ever producing a wrong answer.
"""

from __future__ import annotations

import importlib
import math
import re
import uuid
from fractions import Fraction
from typing import Any

WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")


class NoCandidate(Exception):
    """This conjunction has no candidate the generator can find; callers may back off."""


def strings(nodes: list[dict[str, Any]], hint: str, seed: int) -> list[str]:
    shortest = max((node.get("minLength", 0) for node in nodes), default=0)
    longest = min((node["maxLength"] for node in nodes if "maxLength" in node), default=None)
    patterns = [node["pattern"] for node in nodes if isinstance(node.get("pattern"), str)]
    formats = [node["format"] for node in nodes if isinstance(node.get("format"), str)]
    word = WORDS[seed % len(WORDS)]
    out: list[str] = []
    for fmt in formats[:1]:
        known = _format_example(fmt, hint, seed)
        if known is not None:
            out.append(known)
    if patterns:
        for extra_repeats in (0, 1, 2, 4, 8, 16, 64):
            matched = _from_regex(patterns[0], extra_repeats)
            if matched is None:
                break
            out.extend(_fit(matched, shortest, longest))
    out.extend(_fit(f"{hint} {word}" if hint else word, shortest, longest))
    for other in (word, WORDS[(seed + 1) % len(WORDS)], "example text"):
        out.extend(_fit(other, shortest, longest))
    return out


def _fit(text: str, shortest: int, longest: int | None) -> list[str]:
    """`text`, padded or cut to the length bounds (both ends, for unanchored patterns)."""
    out = [text]
    if len(text) < shortest:
        filler = "x" * (shortest - len(text))
        out = [text + filler, filler + text]
    if longest is not None:
        out = [item[:longest] for item in out]
    return out


def _format_example(fmt: str, hint: str, seed: int) -> str | None:
    day = seed % 28 + 1
    slug = re.sub(r"[^a-z0-9]+", "-", hint.lower()).strip("-") or "item"
    examples = {
        "date-time": f"2024-01-{day:02d}T12:00:00Z",
        "date": f"2024-01-{day:02d}",
        "time": "12:00:00Z",
        "duration": f"P{day}D",
        "email": f"user{seed % 100}@example.com",
        "idn-email": f"user{seed % 100}@example.com",
        "hostname": f"{slug}.example.com",
        "idn-hostname": f"{slug}.example.com",
        "ipv4": f"192.0.2.{seed % 254 + 1}",
        "ipv6": f"2001:db8::{seed % 0xFFFF + 1:x}",
        "uri": f"https://example.com/{slug}/{seed % 1000}",
        "uri-reference": f"https://example.com/{slug}/{seed % 1000}",
        "iri": f"https://example.com/{slug}/{seed % 1000}",
        "iri-reference": f"https://example.com/{slug}/{seed % 1000}",
        "uri-template": f"https://example.com/{slug}/{{id}}",
        "uuid": str(uuid.UUID(int=seed % (1 << 128), version=4)),
        "json-pointer": f"/{slug}",
        "relative-json-pointer": "0",
        "regex": "^[a-z]+$",
    }
    return examples.get(fmt)


def numbers(nodes: list[dict[str, Any]], integer: bool, seed: int) -> list[int | float]:
    """Candidates inside every bound, on every `multipleOf`, varied by the seed."""
    low, low_open, high, high_open = _bounds(nodes)
    steps = [
        Fraction(str(node["multipleOf"])) for node in nodes if _is_number(node.get("multipleOf"))
    ]
    step = Fraction(1) if integer else Fraction(1, 100)
    for each in steps:
        step = _lcm(step, each)
    # a window of multiples of `step` inside the bounds; pick one by the seed
    first = math.floor(low / step) + 1 if low is not None and low_open else None
    if low is not None and not low_open:
        first = math.ceil(low / step)
    last = math.ceil(high / step) - 1 if high is not None and high_open else None
    if high is not None and not high_open:
        last = math.floor(high / step)
    if first is None and last is None:
        first, last = 0, int(100 / step) if not integer else 99
    elif first is None:
        assert last is not None
        first = last - min(99, int(100 / step))
    elif last is None:
        last = first + min(99, int(100 / step))
    if first > last:
        raise NoCandidate("the numeric bounds leave no value")
    span = last - first + 1
    picks = [first + (seed + offset) % span for offset in (0, 1, 2)] + [first, last]
    out: list[int | float] = []
    for multiple in dict.fromkeys(picks):  # without repeats, in order
        exact = step * multiple
        out.append(int(exact) if exact.denominator == 1 else float(exact))
    return out


def _bounds(nodes: list[dict[str, Any]]) -> tuple[Fraction | None, bool, Fraction | None, bool]:
    """The tightest lower and upper bound and whether each is exclusive."""
    low: Fraction | None = None
    low_open = False
    high: Fraction | None = None
    high_open = False
    for node in nodes:
        for key, is_open in (("minimum", False), ("exclusiveMinimum", True)):
            if _is_number(node.get(key)):
                bound = Fraction(str(node[key]))
                if low is None or bound > low or (bound == low and is_open):
                    low, low_open = bound, is_open
        for key, is_open in (("maximum", False), ("exclusiveMaximum", True)):
            if _is_number(node.get(key)):
                bound = Fraction(str(node[key]))
                if high is None or bound < high or (bound == high and is_open):
                    high, high_open = bound, is_open
    return low, low_open, high, high_open


def _lcm(a: Fraction, b: Fraction) -> Fraction:
    """The least common multiple of two positive rationals."""
    numerator = math.lcm(a.numerator * b.denominator, b.numerator * a.denominator)
    return Fraction(numerator, a.denominator * b.denominator)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# -- regular expressions: a matching string from the pattern's parse tree

_parser: Any = importlib.import_module("re._parser")  # the stdlib's own regex parser
_CATEGORY_CHARS = {
    "CATEGORY_DIGIT": "0",
    "CATEGORY_NOT_DIGIT": "a",
    "CATEGORY_WORD": "a",
    "CATEGORY_NOT_WORD": "-",
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_SPACE": "a",
}


def _from_regex(pattern: str, extra_repeats: int) -> str | None:
    """A string matching `pattern`, each repetition `extra_repeats` above its minimum.

    Best effort (ECMAScript patterns are read with Python's parser; lookarounds are
    ignored): the caller validates what it gets. None when the pattern is beyond it.

    >>> _from_regex(r"^[A-Z]{2}-\\d{3}$", 0)
    'AA-000'
    """
    try:
        tree = _parser.parse(pattern)
        return _emit(list(tree), extra_repeats, {})
    except (re.error, _Unsupported, RecursionError, ValueError, OverflowError):
        return None


class _Unsupported(Exception):
    pass


def _emit(items: list[Any], extra: int, groups: dict[int, str]) -> str:
    out: list[str] = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "NOT_LITERAL":
            out.append("a" if arg != ord("a") else "b")
        elif name == "ANY":
            out.append("a")
        elif name == "IN":
            out.append(_class_char(arg))
        elif name == "BRANCH":
            out.append(_emit(list(arg[1][0]), extra, groups))
        elif name == "SUBPATTERN":
            text = _emit(list(arg[3]), extra, groups)
            if arg[0] is not None:
                groups[arg[0]] = text
            out.append(text)
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = arg
            count = low + extra if high == _parser.MAXREPEAT else min(low + extra, high)
            out.append(_emit(list(sub), extra, groups) * count)
        elif name == "ATOMIC_GROUP":
            out.append(_emit(list(arg), extra, groups))
        elif name == "GROUPREF":
            out.append(groups.get(arg, ""))
        elif name == "GROUPREF_EXISTS":
            out.append(_emit(list(arg[1]), extra, groups))
        elif name in ("AT", "ASSERT", "ASSERT_NOT"):
            continue
        else:
            raise _Unsupported(name)
    return "".join(out)


def _class_char(items: list[Any]) -> str:
    """A character inside a `[...]` class (or outside it, for `[^...]`)."""
    negated = bool(items) and str(items[0][0]) == "NEGATE"
    if not negated:
        op, arg = items[0]
        name = str(op)
        if name == "LITERAL":
            return chr(arg)
        if name == "RANGE":
            return chr(arg[0])
        if name == "CATEGORY":
            return _CATEGORY_CHARS.get(str(arg), "a")
        raise _Unsupported(name)
    for candidate in "axz0_- .~AZ":
        if not any(_in_class(op, arg, candidate) for op, arg in items[1:]):
            return candidate
    raise _Unsupported("negated class")


def _in_class(op: Any, arg: Any, char: str) -> bool:
    name = str(op)
    if name == "LITERAL":
        return bool(chr(arg) == char)
    if name == "RANGE":
        return bool(arg[0] <= ord(char) <= arg[1])
    if name == "CATEGORY":
        text = str(arg)
        positive = {"CATEGORY_DIGIT": r"\d", "CATEGORY_WORD": r"\w", "CATEGORY_SPACE": r"\s"}
        for key, pattern in positive.items():
            if text == key:
                return re.fullmatch(pattern, char) is not None
            if text == key.replace("CATEGORY_", "CATEGORY_NOT_"):
                return re.fullmatch(pattern, char) is None
    return True  # unknown: assume it matches, so the candidate is not chosen
