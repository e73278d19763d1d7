"""Read the printer's text back into a Function (see ``llax.ir.printer`` for the format).

Grammar (whitespace and newlines are insignificant; ``#`` starts a comment)::

    function := '{' 'lambda' ['@' (NAME | STRING)] binder* ';' binder* '.'
                'let' eqn* 'in' '(' [atom (',' atom)* [',']] ')' '}'
    binder   := (NAME | '_') ':' type
    type     := NAME '[' [INT (',' INT)*] ']' ['{' 'weak' '}']
    eqn      := binder* '=' NAME ['[' (NAME '=' value)* ']'] atom* function*
    atom     := NAME | literal
    literal  := (element | list) ':' type
    list     := '[' [(element | list) (',' (element | list))*] ']'
    element  := NUMBER | 'True' | 'False' | 'nan' | 'inf' | '-inf' | HEX (float bits)
    value    := NUMBER | STRING | 'True' | 'False' | 'None' | dtype | '(' values ')'

An operand list ends where the next binder (``NAME ':'`` or ``_``), ``in`` or a
region's ``{`` begins. Each function, region or not, has its own scope: a region
reads only its own parameters and the values it defines.
"""

from __future__ import annotations

import ast
import enum
import re
from dataclasses import dataclass
from typing import Any

import ml_dtypes
import numpy as np

from llax.ir import dtypes
from llax.ir.core import Atom, Function, Literal, Op, Params, Var
from llax.ir.primitive import PRIMITIVES, abstract_eval, infer_types, region_params
from llax.ir.types import TensorType


class ParseError(ValueError):
    """Bad IR text; the message says where (line:column) and shows the line."""


# Enum-valued op params, printed as ``Class.MEMBER``; modules defining them register here.
PARAM_ENUMS: dict[str, type[enum.Enum]] = {}

_TOKEN = re.compile(r"""
    (?P<space>\s+|\#[^\n]*)
  | (?P<number>-?(?:0x[0-9a-fA-F]+|(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?|inf\b|nan\b))
  | (?P<string>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[{}\[\](),;.:=@?])
""", re.VERBOSE)


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # 'number', 'string', 'name', 'punct' or 'eof'
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ParseError(_where(text, pos, f"unexpected character {text[pos]!r}"))
        if m.lastgroup != "space":
            tokens.append(Token(m.lastgroup, m.group(), pos))
        pos = m.end()
    tokens.append(Token("eof", "", len(text)))
    return tokens


def _where(text: str, pos: int, message: str) -> str:
    line = text.count("\n", 0, pos) + 1
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    source = text[start:end if end >= 0 else len(text)]
    col = pos - start + 1
    return f"line {line}, column {col}: {message}\n  {source}\n  {' ' * (col - 1)}^"


def parse_function(text: str) -> Function:
    """Parse the text of one function; constvars (before ``;``) become its leading params."""
    return parse_with_consts(text)[0]


def parse_with_consts(text: str) -> tuple[Function, int]:
    """Parse one function; also return how many params were printed before ``;``."""
    p = _Parser(text)
    fn, n_consts = p.function([])
    p.expect("eof")
    return fn, n_consts


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.all_names: set[str] = set()  # names are unique across the whole text

    # -- token helpers -------------------------------------------------------------------------

    def peek(self, k: int = 0) -> Token:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def at(self, text: str, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok.text == text and tok.kind in ("punct", "name")

    def next(self) -> Token:
        tok = self.peek()
        self.i += 1
        return tok

    def error(self, message: str, tok: Token | None = None) -> ParseError:
        return ParseError(_where(self.text, (tok or self.peek()).pos, message))

    def expect(self, what: str) -> Token:
        """Consume a token of kind ``what`` ('name', 'number', 'eof') or with that exact text."""
        tok = self.peek()
        if tok.kind == what or (tok.text == what and tok.kind in ("punct", "name")):
            return self.next()
        found = "end of input" if tok.kind == "eof" else repr(tok.text)
        raise self.error(f"expected {what if what in ('name', 'number', 'eof') else repr(what)}, "
                         f"found {found}")

    # -- functions -----------------------------------------------------------------------------

    def function(self, outer: list[dict[str, Var]]) -> tuple[Function, int]:
        """``outer`` holds the enclosing scopes, only to explain unbound names."""
        self.expect("{")
        self.expect("lambda")
        name = "main"
        if self.at("@"):
            self.next()
            tok = self.next()
            if tok.kind == "string":
                name = ast.literal_eval(tok.text)
            elif tok.kind == "name":
                name = tok.text
            else:
                raise self.error("expected a function name after '@'", tok)
        env: dict[str, Var] = {}
        scopes = [*outer, env]
        consts = self.binders(env)
        self.expect(";")
        params = self.binders(env)
        self.expect(".")
        self.expect("let")
        ops = []
        while not self.at("in"):
            ops.append(self.eqn(scopes))
        self.expect("in")
        self.expect("(")
        results = []
        while not self.at(")"):
            results.append(self.atom(scopes))
            if not self.at(")"):
                self.expect(",")
        self.expect(")")
        self.expect("}")
        return Function(tuple(consts + params), tuple(ops), tuple(results), name), len(consts)

    def at_binder(self) -> bool:
        tok = self.peek()
        return tok.kind == "name" and self.at(":", 1) and tok.text not in ("True", "False")

    def binders(self, env: dict[str, Var]) -> list[Var]:
        out = []
        while self.at_binder():
            tok = self.next()
            self.expect(":")
            var = Var(self.type())
            if tok.text != "_":
                if tok.text in self.all_names:
                    raise self.error(f"redefinition of variable {tok.text!r}", tok)
                self.all_names.add(tok.text)
                env[tok.text] = var
            out.append(var)
        return out

    def type(self) -> TensorType:
        tok = self.expect("name")
        dtype = dtypes.FROM_SHORT_NAME.get(tok.text)
        if dtype is None:
            raise self.error(f"unknown dtype {tok.text!r} (expected one of "
                             f"{', '.join(dtypes.FROM_SHORT_NAME)})", tok)
        self.expect("[")
        shape = []
        while not self.at("]"):
            dim = self.expect("number")
            if not dim.text.isdigit():
                raise self.error(f"bad dimension {dim.text!r}: expected a non-negative integer",
                                 dim)
            shape.append(int(dim.text))
            if not self.at("]"):
                self.expect(",")
        self.expect("]")
        weak = self.at("{") and self.at("weak", 1)
        if weak:
            self.next()
            self.next()
            self.expect("}")
        return TensorType(tuple(shape), dtype, weak)

    # -- equations -----------------------------------------------------------------------------

    def eqn(self, scopes: list[dict[str, Var]]) -> Op:
        start = self.peek()
        if not (self.at_binder() or self.at("=")):
            raise self.error(f"expected an equation or 'in', found {start.text!r}")
        env = scopes[-1]
        # Outputs are bound only after the operands and regions are read: an op cannot read
        # its own results.
        pending: dict[str, Var] = {}
        outputs = self.binders(pending)
        self.expect("=")
        prim_tok = self.expect("name")
        prim = PRIMITIVES.get(prim_tok.text)
        if prim is None:
            raise self.error(f"unknown primitive {prim_tok.text!r}", prim_tok)
        params = self.params(scopes) if self.at_params() else Params()
        params, regions = self.named_regions(prim, params, prim_tok)
        inputs = []
        while not (self.at_binder() or self.at("=") or self.at("in") or self.at("{")):
            inputs.append(self.atom(scopes))
        while self.at("{"):
            regions.append(self.function(scopes)[0])
        env.update(pending)
        op = Op(prim, tuple(inputs), tuple(outputs), params, tuple(regions))
        self.check_types(op, start)
        return op

    def check_types(self, op: Op, tok: Token) -> None:
        if op.prim not in abstract_eval:
            raise self.error(f"primitive {op.prim.name!r} has no abstract evaluation rule", tok)
        try:
            types = infer_types(op.prim, tuple(a.type for a in op.inputs), op.params, op.regions)
        except Exception as e:  # the rule's own message says what is wrong
            raise self.error(f"{op.prim.name}: {e}", tok) from e
        declared = tuple(v.type for v in op.outputs)
        if types != declared:
            raise self.error(f"{op.prim.name}: declared output types "
                             f"({', '.join(map(str, declared))}) differ from the inferred "
                             f"({', '.join(map(str, types))})", tok)

    def at_params(self) -> bool:
        # '[' NAME '=' opens params; '[' anything else is a list literal operand.
        return self.at("[") and self.peek(1).kind == "name" and self.at("=", 2)

    def params(self, scopes: list[dict[str, Var]]) -> Params:
        self.expect("[")
        items: dict[str, Any] = {}
        while not self.at("]"):
            key = self.expect("name")
            if key.text in items:
                raise self.error(f"repeated parameter {key.text!r}", key)
            self.expect("=")
            items[key.text] = self.value(scopes)
        self.expect("]")
        return Params(items)

    def named_regions(self, prim, params: Params, tok: Token) -> tuple[Params, list[Function]]:
        """Take the regions printed as params (``primitive.region_params``) out of ``params``."""
        names = region_params.get(prim)
        found = {k: v for k, v in params.items() if _holds_regions(v)}
        if names is None:
            if found:
                raise self.error(f"{prim.name} has no region parameters, got "
                                 f"{', '.join(found)}", tok)
            return params, []
        expected = (names,) if isinstance(names, str) else names
        if not found:
            return params, []  # regions may follow the operands instead
        if set(found) != set(expected):
            raise self.error(f"{prim.name} expects region parameters {', '.join(expected)}, "
                             f"got {', '.join(found)}", tok)
        if isinstance(names, str):
            regions = list(found[names])
        else:
            regions = [found[n] for n in names]
        if not all(isinstance(r, Function) for r in regions):
            raise self.error(f"{prim.name}: a region parameter holds a non-function value", tok)
        rest = {k: v for k, v in params.items() if k not in found}
        return Params(rest), regions

    def value(self, scopes: list[dict[str, Var]]) -> Any:
        if self.at("{"):
            return self.function(scopes)[0]
        tok = self.next()
        if tok.kind == "number":
            if tok.text.lstrip("-").startswith("0x"):
                raise self.error("hex numbers are only allowed in float literals", tok)
            return int(tok.text) if tok.text.lstrip("-").isdigit() else float(tok.text)
        if tok.kind == "string":
            return ast.literal_eval(tok.text)
        if tok.kind == "name":
            consts = {"True": True, "False": False, "None": None}
            if tok.text in consts:
                return consts[tok.text]
            if tok.text in dtypes.FROM_SHORT_NAME:
                return dtypes.FROM_SHORT_NAME[tok.text]
            enum_type = PARAM_ENUMS.get(tok.text)
            if enum_type is not None and self.at("."):
                self.expect(".")
                member = self.expect("name")
                if member.text not in enum_type.__members__:
                    raise self.error(f"{tok.text} has no member {member.text!r}", member)
                return enum_type[member.text]
            raise self.error(f"unknown parameter value {tok.text!r} (expected a number, a "
                             "string, a dtype, True, False, None or a tuple)", tok)
        if tok.text == "(":
            items = []
            while not self.at(")"):
                items.append(self.value(scopes))
                if not self.at(")") and not isinstance(items[-1], Function):
                    self.expect(",")  # regions in a tuple are separated by newlines only
            self.expect(")")
            return tuple(items)
        raise self.error(f"expected a parameter value, found {tok.text!r}", tok)

    # -- operands ------------------------------------------------------------------------------

    def atom(self, scopes: list[dict[str, Var]]) -> Atom:
        tok = self.peek()
        if tok.kind == "number" or self.at("[") or tok.text in ("True", "False"):
            return self.literal()
        if self.at("?"):
            raise self.error("unbound variable: '?' names mark values the printer found no "
                             "definition for")
        tok = self.expect("name")
        var = scopes[-1].get(tok.text)
        if var is None:
            hint = ""
            if any(tok.text in s for s in scopes[:-1]):
                hint = (" (it belongs to an enclosing function; a region may read only its "
                        "own parameters and the values it defines)")
            raise self.error(f"unbound variable {tok.text!r}{hint}", tok)
        return var

    def literal(self) -> Literal:
        start = self.peek()
        tree = self.nested()
        self.expect(":")
        type = self.type()
        try:
            shape = _nested_shape(tree)
            # An empty list cannot show the dims below it: [] is f32[0,3], [[], []] is f32[2,0,5].
            empty_prefix = shape[-1:] == (0,) and type.shape[:len(shape)] == shape
            if shape != type.shape and not empty_prefix:
                raise ValueError(f"the list has shape {shape}")
            flat = np.empty(len(_flatten(tree)), type.dtype)
            for i, tok in enumerate(_flatten(tree)):
                flat[i] = _convert(tok, type.dtype)  # same-dtype assignment keeps the bits
        except ValueError as e:
            raise self.error(f"bad literal of type {type}: {e}", start) from e
        return Literal(flat.reshape(type.shape), type)

    def nested(self) -> Any:
        """An element token, or a list of nested items."""
        if not self.at("["):
            tok = self.next()
            if tok.kind != "number" and tok.text not in ("True", "False"):
                raise self.error(f"expected a literal element, found {tok.text!r}", tok)
            return tok
        self.next()
        items = []
        while not self.at("]"):
            items.append(self.nested())
            if not self.at("]"):
                self.expect(",")
        self.expect("]")
        return items


def _holds_regions(value: Any) -> bool:
    return isinstance(value, Function) or (
        isinstance(value, tuple) and any(isinstance(v, Function) for v in value))


def _nested_shape(tree: Any) -> tuple[int, ...]:
    if not isinstance(tree, list):
        return ()
    inner = {_nested_shape(t) for t in tree}
    if len(inner) > 1:
        raise ValueError("ragged list literal")
    return (len(tree), *(inner.pop() if inner else ()))


def _flatten(tree: Any) -> list[Token]:
    if not isinstance(tree, list):
        return [tree]
    return [tok for t in tree for tok in _flatten(t)]


def _convert(tok: Token, dtype: np.dtype) -> np.ndarray:
    """One literal element as a 0-d array of ``dtype``, bit-exact for floats."""
    text = tok.text
    if dtype == dtypes.bool_:
        if text not in ("True", "False"):
            raise ValueError(f"{text!r} is not True or False")
        return np.array(text == "True")
    if text in ("True", "False"):
        raise ValueError(f"{text} is not a {dtypes.short_name(dtype)} value")
    if text.lstrip("-").startswith("0x"):
        if not dtypes.is_float(dtype) or text.startswith("-"):
            raise ValueError(f"hex {text!r} is allowed only as the bits of a float")
        bits = int(text, 16)
        if bits >= 1 << (8 * dtype.itemsize):
            raise ValueError(f"{text} has too many bits for {dtypes.short_name(dtype)}")
        return np.array(bits, dtype=f"u{dtype.itemsize}").view(dtype)
    if dtypes.is_float(dtype):
        return np.array(float(text), dtype)
    if not text.lstrip("-").isdigit():
        raise ValueError(f"{text!r} is not an integer")
    info = ml_dtypes.iinfo(dtype)  # (NumPy's iinfo does not know int4 & co.)
    if not info.min <= int(text) <= info.max:
        raise ValueError(f"{text} is out of range for {dtypes.short_name(dtype)}")
    return np.array(int(text), dtype)
