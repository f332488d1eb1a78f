"""Model specs -> pydantic class source, laid out as ruff would.

The classes are written into an indented block (`Nested`): a generated module writes
them twice, identically, under `if TYPE_CHECKING:` for type checkers and in the body of
the function that defines them on first use (see emit.py).

One layout problem is particular to models: a field whose annotation does not fit on its
line. Ruff would wrap the annotation in parentheses, one union member per line; instead
the annotation becomes a module-level `TypeAlias` right before the class (readable, and
simple to lay out exactly).
"""

from __future__ import annotations

from baton.compiler.codegen import literals
from baton.compiler.codegen.layout import INDENT, LINE_WIDTH, Doc, call, statement, width
from baton.compiler.codegen.models import FieldSpec, ModelSpec
from baton.compiler.codegen.naming import MAX_IDENTIFIER, Namer, pascal
from baton.compiler.codegen.pytypes import DictOf, ListOf, Lit, Named, PyType, UnionOf
from baton.compiler.codegen.sections import Nested, docstring

# The runtime validates with the JSON Schema, never with the models; they are for agent
# code. So their validators are built on first use, not when the module is imported.
_DEFER = "defer_build=True"
# room for an alias's name and `: TypeAlias = dict[str, ...]` around a part (an alias
# line is indented as a class line: add that indentation)
_ALIAS_PART_WIDTH = LINE_WIDTH - MAX_IDENTIFIER - len(": TypeAlias = dict[str, ]")


class ModelWriter:
    """Writes model classes (and the aliases their long annotations need) to a module."""

    def __init__(self, namer: Namer, out: Nested) -> None:
        self.namer = namer
        self.out = out
        self.base = out.indent  # the indentation of a class line
        self.body = out.indent + INDENT  # of a line in a class body
        self.defined: list[str] = []  # classes and aliases, in the order written

    def write(self, model: ModelSpec) -> None:
        if model.root is not None:
            room = width(f"{self.base}class {model.name}(RootModel[]):")
            root = self._fit(model.root, model.name + "Root", room)
            self.out.use("RootModel")
            self.out.use("ConfigDict")
            body = [
                docstring(model.doc, self.body),
                "",
                f"{self.body}model_config = ConfigDict({_DEFER})",
            ]
            self.out.definition(f"{self.base}class {model.name}(RootModel[{root.flat()}]):", body)
            self.defined.append(model.name)
            return
        self.out.use("ConfigDict")
        self.out.use("BaseModel")
        body = [
            docstring(model.doc, self.body),
            "",
            f'{self.body}model_config = ConfigDict(extra="{model.extra}", {_DEFER})',
        ]
        if model.fields:
            body.append("")
        body += [self._field(model, spec) for spec in model.fields]
        self.out.definition(f"{self.base}class {model.name}(BaseModel):", body)
        self.defined.append(model.name)

    def _field(self, model: ModelSpec, spec: FieldSpec) -> str:
        default: Doc | None = None
        if spec.alias is not None:
            keywords = {} if spec.required else {"default": literals.value(spec.default)}
            default = call("Field", **keywords, alias=literals.value(spec.alias))
            self.out.use("Field")
        elif not spec.required:
            default = literals.value(spec.default)
        room = width(f"{self.body}{spec.name}: ")
        if default is not None:
            # a breakable default starts with its opening bracket on this line
            room += width(" = " + (default.flat() if not default.breakable() else "Field("))
        annotation = self._fit(spec.type, model.name + pascal(spec.name), room)
        head = f"{spec.name}: {annotation.flat()}"
        if default is None:
            return self.body + head
        return statement(f"{head} = ", default, self.body)

    def _fit(self, annotation: PyType, hint: str, room: int) -> PyType:
        """`annotation`, or an alias for it when it does not fit after `room` columns."""
        self._uses(annotation)
        if room + width(annotation.flat()) <= LINE_WIDTH:
            return annotation
        return self._alias(annotation, hint)

    def _alias(self, annotation: PyType, hint: str) -> Named:
        part_width = _ALIAS_PART_WIDTH - width(self.base)
        inner = annotation
        # a long part inside `list[...]`, `dict[...]` or a union gets its own alias first:
        # ruff breaks a one-element subscript in a way this layout does not model
        if isinstance(annotation, ListOf) and width(annotation.item.flat()) > part_width:
            inner = ListOf(self._alias(annotation.item, hint + "Item"))
        elif isinstance(annotation, DictOf) and width(annotation.value.flat()) > part_width:
            inner = DictOf(self._alias(annotation.value, hint + "Value"))
        elif isinstance(annotation, UnionOf):
            inner = UnionOf(
                tuple(
                    self._alias(member, f"{hint}{index}")
                    if isinstance(member, ListOf | DictOf) and width(member.flat()) > part_width
                    else member
                    for index, member in enumerate(annotation.members, 1)
                )
            )
        name = self.namer.claim(pascal(hint, "Alias"), separator="")
        self.out.use("TypeAlias")
        self.out.statement(statement(f"{name}: TypeAlias = ", inner.doc(), self.base))
        self.defined.append(name)
        return Named(name)

    def _uses(self, annotation: PyType) -> None:
        """Record the imports an annotation needs (`Literal`)."""
        if isinstance(annotation, Lit):
            self.out.use("Literal")
        elif isinstance(annotation, ListOf):
            self._uses(annotation.item)
        elif isinstance(annotation, DictOf):
            self._uses(annotation.value)
        elif isinstance(annotation, UnionOf):
            for member in annotation.members:
                self._uses(member)
