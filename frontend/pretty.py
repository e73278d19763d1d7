"""A small pretty-printing document algebra: text, breaks, nesting and groups.

The layout rule is the one JAX's jaxpr printer follows (Wadler/Lindig style):
a ``group`` prints on one line, its breaks as their flat text, when all of the
group so printed fits in the rest of the line; otherwise the group's own breaks
become newlines indented to the enclosing ``nest`` level, and each group inside
it decides again. Only the group itself must fit, not what follows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class Doc:
    __slots__ = ()

    def __add__(self, other: Doc) -> Doc:
        return concat([self, other])

    def format(self, width: int = 80) -> str:
        return _layout(self, width)

    def __str__(self) -> str:
        return self.format()


@dataclass(frozen=True, eq=False)
class Text(Doc):
    text: str


@dataclass(frozen=True, eq=False)
class Concat(Doc):
    children: tuple[Doc, ...]


@dataclass(frozen=True, eq=False)
class Break(Doc):
    flat: str  # printed instead of the newline when the enclosing group is flat


@dataclass(frozen=True, eq=False)
class Nest(Doc):
    indent: int
    child: Doc


@dataclass(frozen=True, eq=False)
class Group(Doc):
    child: Doc


def text(s: str) -> Doc:
    return Text(s)


def nil() -> Doc:
    return Text("")


def concat(children: Sequence[Doc]) -> Doc:
    return Concat(tuple(children))


def brk(flat: str = " ") -> Doc:
    return Break(flat)


def nest(indent: int, child: Doc) -> Doc:
    return Nest(indent, child)


def group(child: Doc) -> Doc:
    return Group(child)


def join(sep: Doc, docs: Sequence[Doc]) -> Doc:
    docs = list(docs)
    if not docs:
        return nil()
    parts = [docs[0]]
    for d in docs[1:]:
        parts += [sep, d]
    return concat(parts)


def _flat_width_fits(doc: Doc, room: int) -> bool:
    """Whether ``doc`` printed flat takes at most ``room`` columns."""
    stack = [doc]
    while stack and room >= 0:
        d = stack.pop()
        if isinstance(d, Text):
            room -= len(d.text)
        elif isinstance(d, Break):
            room -= len(d.flat)
        elif isinstance(d, Concat):
            stack.extend(reversed(d.children))
        else:  # Nest, Group
            stack.append(d.child)
    return room >= 0


def _layout(doc: Doc, width: int) -> str:
    out: list[str] = []
    column = 0
    # (indent, flat?, doc), the next to print last; the top level is not flat.
    stack: list[tuple[int, bool, Doc]] = [(0, False, doc)]
    while stack:
        indent, flat, d = stack.pop()
        if isinstance(d, Text):
            out.append(d.text)
            column += len(d.text)
        elif isinstance(d, Break):
            if flat:
                out.append(d.flat)
                column += len(d.flat)
            else:
                out.append("\n" + " " * indent)
                column = indent
        elif isinstance(d, Concat):
            stack.extend((indent, flat, c) for c in reversed(d.children))
        elif isinstance(d, Nest):
            stack.append((indent + d.indent, flat, d.child))
        else:
            assert isinstance(d, Group)
            stack.append((indent, flat or _flat_width_fits(d.child, width - column), d.child))
    return "".join(out)


__all__ = ["Doc", "brk", "concat", "group", "join", "nest", "nil", "text"]
