"""Safe Python identifiers for names that come from specs.

Spec names are user data. The linter restricts most of them to `^[a-z][a-z0-9_]*$`, but
that still admits keywords (`class`, `import`) and names that shadow what a generated
module relies on (`rt`, `BaseModel`, `json` on a pydantic model). Codegen must also be safe
on IR that never went through the linter (the injection tests build it directly), so every
identifier it emits is derived here: ASCII letters, digits and underscores only, never a
keyword, never reserved, unique in its namespace. The spec value itself is always emitted
as a string literal next to the identifier, so nothing is lost.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable

# derived names are capped so that a pathological spec name cannot blow up every line
MAX_IDENTIFIER = 40

_NON_WORD = re.compile(r"[^A-Za-z0-9]+")
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")

# Attributes of pydantic's BaseModel (and its metaclass) that a field would shadow:
# pydantic warns or refuses, and mypy reports an incompatible override. Fields starting
# with `model_dump` or `model_validate` are pydantic's protected namespace.
# tests/codegen/test_naming.py checks this list against the installed pydantic.
BASEMODEL_ATTRIBUTES = frozenset(
    {
        "construct",
        "copy",
        "dict",
        "from_orm",
        "json",
        "model_computed_fields",
        "model_config",
        "model_construct",
        "model_copy",
        "model_dump",
        "model_dump_json",
        "model_extra",
        "model_fields",
        "model_fields_set",
        "model_json_schema",
        "model_parametrized_name",
        "model_post_init",
        "model_rebuild",
        "model_validate",
        "model_validate_json",
        "model_validate_strings",
        "mro",
        "parse_file",
        "parse_obj",
        "parse_raw",
        "register",
        "schema",
        "schema_json",
        "update_forward_refs",
        "validate",
    }
)
PROTECTED_PREFIXES = ("model_dump", "model_validate")

# names the annotations of a generated model refer to: a field with one of these names
# would shadow it for every later annotation in the class body
ANNOTATION_NAMES = frozenset({"None", "bool", "dict", "float", "int", "list", "str", "type"})


def _words(text: str) -> list[str]:
    """ASCII words of `text`, splitting camelCase too.

    >>> _words("brief_v2"), _words("fooBar baz"), _words("élan!")
    (['brief', 'v2'], ['foo', 'Bar', 'baz'], ['lan'])
    """
    spaced = _CAMEL_BOUNDARY.sub(" ", text)
    return [word for word in _NON_WORD.split(spaced) if word]


def pascal(text: str, fallback: str = "Model") -> str:
    """A PascalCase class name for `text`.

    >>> pascal("research_report"), pascal("brief"), pascal("2 fast"), pascal("")
    ('ResearchReport', 'Brief', 'M2Fast', 'Model')
    """
    name = "".join(word[:1].upper() + word[1:] for word in _words(text)) or fallback
    if name[0].isdigit():
        name = fallback[0].upper() + name
    return name[:MAX_IDENTIFIER]


def upper_snake(text: str, fallback: str = "ITEM") -> str:
    """An UPPER_SNAKE name for `text` (constants, enum members).

    >>> upper_snake("research"), upper_snake("publish summary"), upper_snake("9 lives")
    ('RESEARCH', 'PUBLISH_SUMMARY', 'N9_LIVES')
    """
    name = "_".join(word.upper() for word in _words(text)) or fallback
    if name[0].isdigit():
        name = "N" + name
    return name[:MAX_IDENTIFIER]


def lower_snake(text: str, fallback: str = "item") -> str:
    """A lower_snake name for `text` (functions, fields, modules).

    >>> lower_snake("research"), lower_snake("Brief-V2"), lower_snake("1st")
    ('research', 'brief_v2', 'n1st')
    """
    name = "_".join(word.lower() for word in _words(text)) or fallback
    if name[0].isdigit():
        name = "n" + name
    return name[:MAX_IDENTIFIER]


def is_plain_identifier(text: str) -> bool:
    """An ASCII identifier that is not a keyword nor private (soft keywords are names).

    >>> [is_plain_identifier(t) for t in ("topic", "class", "match", "_x", "a-b", "é")]
    [True, False, True, False, False, False]
    """
    return (
        text.isascii()
        and text.isidentifier()
        and not keyword.iskeyword(text)
        and not text.startswith("_")
    )


def is_field_name(text: str, reserved: Iterable[str] = ()) -> bool:
    """Whether a JSON property name can be a pydantic field name as it is."""
    return (
        is_plain_identifier(text)
        and len(text) <= MAX_IDENTIFIER
        and not text.startswith(PROTECTED_PREFIXES)
        and text not in BASEMODEL_ATTRIBUTES
        and text not in ANNOTATION_NAMES
        and text not in set(reserved)
    )


class Namer:
    """Hands out unique identifiers in one namespace (a module, a class).

    >>> namer = Namer({"rt"})
    >>> namer.claim("rt"), namer.claim("brief"), namer.claim("brief")
    ('rt_2', 'brief', 'brief_2')
    >>> Namer().claim("BriefV2", separator=""), Namer({"BriefV2"}).claim("BriefV2", separator="")
    ('BriefV2', 'BriefV22')
    """

    def __init__(self, reserved: Iterable[str] = ()) -> None:
        self.used: set[str] = set(reserved)

    def claim(self, candidate: str, separator: str = "_") -> str:
        """`candidate`, or `candidate` with the smallest free numeric suffix."""
        if not (candidate.isascii() and candidate.isidentifier()):
            raise ValueError(f"not an identifier: {candidate!r}")  # a bug in a caller
        name = candidate
        suffix = 2
        # soft keywords (`match`, `type`) are legal names; reserve them via `used`
        while name in self.used or keyword.iskeyword(name):
            name = f"{candidate}{separator}{suffix}"
            suffix += 1
        self.used.add(name)
        return name
