"""Every JVP and batching rule with scalar, broadcast and weak-typed operands in every position.

The rules see operands the user never writes: ``vmap`` leaves an unbatched rank-0 operand
of an elementwise op at rank 0 beside a batched array, JVP rules emit ops on tangents of
rank-0 values, and weak-typed Python scalars reach every position. Each case here is one
primitive applied in the IR (``bind``, which takes a rank-0 operand beside shaped ones as
the IR does) with one operand position in turn given as

- ``scalar``: a rank-0 float32 argument beside full-shape ones;
- ``py``: a Python float argument (weak-typed, rank 0);
- ``const``: a weak-typed constant the function closes over (a literal, no tangent);
- ``bcast``: a lower-rank argument broadcast to the full shape inside the function;

and is transformed every way that composes rules: ``jvp``, ``grad`` of the sum, ``vmap``
with that operand batched and the others not and the other way round, ``vmap(grad)``,
``grad(vmap)``, ``vmap(jvp)`` and ``jvp(vmap)``. The oracle is JAX running the same function
(its rank-0 operands broadcast explicitly where ``jax.lax`` wants equal shapes, which
changes no value): values, dtypes and weak types must agree. The registry walk at the end
fails for a primitive with a JVP or batching rule that no case here reaches (or that is not
listed with the test that covers it).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np
import pytest

import llax
from llax.frontend.core import Array, bind
from llax.ir.primitive import PRIMITIVES

jnp = jax.numpy

F32, I32, BOOL = np.dtype(np.float32), np.dtype(np.int32), np.dtype(np.bool_)
FLOAT0 = np.dtype([("float0", np.void, 0)])
M = (2, 3)  # the per-example shape of full operands
B = 2       # the batch size
CONST = 0.7  # the value of a weak constant operand


# ---------------------------------------------------------------------------------------------
# One function, two systems: ``m.op(name, *operands, **params)`` applies a primitive


def _full_shape(args: Sequence[Any]) -> tuple[int, ...]:
    return max((tuple(np.shape(a)) for a in args), key=len)


class _Llax:
    """Primitives bound in the IR as they are: rank-0 operands stay rank 0."""

    api = llax
    numpy = llax.numpy
    lax = llax.lax

    @staticmethod
    def op(name: str, *args: Any, **params: Any) -> Any:
        return bind(PRIMITIVES[name], args, params)

    @staticmethod
    def weak(value: float) -> Any:
        return Array(np.asarray(value, F32), True)

    @staticmethod
    def broadcast(x: Any, shape: tuple[int, ...], dims: tuple[int, ...]) -> Any:
        return llax.lax.broadcast_in_dim(x, shape, dims)


_JAX_NAMES = {"and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor",
              "not": "bitwise_not", "select_n": "select_n", "max": "max", "min": "min"}


def _fma(x, y, z):
    return jax.lax.add(jax.lax.mul(x, y), z)


class _Jax:
    """The same primitives through ``jax.lax``, rank-0 operands of elementwise ops broadcast
    to the full shape first (jax.lax asks for equal shapes; the values are the same)."""

    api = jax
    numpy = jnp
    lax = jax.lax

    @staticmethod
    def op(name: str, *args: Any, **params: Any) -> Any:
        fn = _fma if name == "fma" else getattr(jax.lax, _JAX_NAMES.get(name, name))
        shape = _full_shape(args)
        args = [a if np.shape(a) == shape else jnp.broadcast_to(a, shape) for a in args]
        return fn(*args, **params)

    @staticmethod
    def weak(value: float) -> Any:
        return jnp.asarray(value)  # a Python scalar made an array: weak float32

    @staticmethod
    def broadcast(x: Any, shape: tuple[int, ...], dims: tuple[int, ...]) -> Any:
        return jax.lax.broadcast_in_dim(x, shape, dims)


LLAX, JAX = _Llax(), _Jax()


# ---------------------------------------------------------------------------------------------
# Cases


Gen = Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]


def uniform(lo: float = -2.0, hi: float = 2.0) -> Gen:
    return lambda rng, shape: rng.uniform(lo, hi, shape).astype(F32)


def ints(lo: int, hi: int) -> Gen:
    return lambda rng, shape: rng.integers(lo, hi + 1, shape).astype(I32)


def bools() -> Gen:
    return lambda rng, shape: rng.random(shape) < 0.5


@dataclass
class Arg:
    """One argument: its per-example shape and values; ``py`` makes it a Python scalar
    (weak-typed, never batched)."""

    shape: tuple[int, ...]
    gen: Gen
    py: bool = False

    def value(self, rng: np.random.Generator) -> Any:
        v = self.gen(rng, self.shape)
        return v.item() if self.py else v

    def batched(self, rng: np.random.Generator) -> np.ndarray:
        return self.gen(rng, (B, *self.shape))

    def differentiable(self) -> bool:
        return self.gen(np.random.default_rng(0), (2,)).dtype.kind == "f"


@dataclass
class Case:
    """``build(m)`` is the function of the ``args`` under test, written against ``m``."""

    label: str
    build: Callable[[Any], Callable]
    args: list[Arg]
    # Transformations to leave out, with why (e.g. no derivative).
    skip: frozenset[str] = field(default_factory=frozenset)
    rtol: float = 2e-5


CASES: dict[str, list[Case]] = {}


def add_case(prim: str, case: Case) -> None:
    CASES.setdefault(prim, []).append(case)


def _elementwise_variants(name: str, gens: Sequence[Gen], positions: Sequence[int],
                          apply: Callable[..., Any] | None = None,
                          shaped: Sequence[int] = (), skip: frozenset[str] = frozenset(),
                          rtol: float = 2e-5, full_only: Sequence[int] = ()) -> None:
    """Cases for an elementwise-style primitive: all operands full, then each position in
    ``positions`` in turn a rank-0 argument, a Python float, a weak constant and a
    broadcast lower-rank argument. ``apply(m, *operands)`` applies the op (default:
    ``m.op(name, ...)``); operands in ``full_only`` are never rank 0 (clamp's x)."""
    n = len(gens)
    apply = apply or (lambda m, *xs: m.op(name, *xs))

    def make(kind: str, p: int | None) -> Case:
        args: list[Arg] = []
        slots: list[Any] = []  # per operand: ("arg", index) or ("const",) or ("bcast", index)
        for i, g in enumerate(gens):
            if i != p or kind == "full":
                slots.append(("arg", len(args)))
                args.append(Arg(M, g))
            elif kind == "scalar":
                slots.append(("arg", len(args)))
                args.append(Arg((), g))
            elif kind == "py":
                slots.append(("arg", len(args)))
                args.append(Arg((), g, py=True))
            elif kind == "const":
                slots.append(("const",))
            else:  # bcast: a row broadcast down the columns
                slots.append(("bcast", len(args)))
                args.append(Arg(M[1:], g))

        def build(m):
            def fn(*xs):
                ops = []
                for s in slots:
                    if s[0] == "arg":
                        ops.append(xs[s[1]])
                    elif s[0] == "const":
                        ops.append(m.weak(CONST))
                    else:
                        ops.append(m.broadcast(xs[s[1]], M, (1,)))
                return apply(m, *ops)

            return fn

        label = f"{name}[{kind}]" if p is None else f"{name}[{p}={kind}]"
        return Case(label, build, args, skip, rtol)

    add_case(name, make("full", None))
    for p in positions:
        kinds = ("bcast",) if p in full_only else ("scalar", "py", "const", "bcast")
        for kind in kinds:
            if kind == "const" and not Arg((), gens[p]).differentiable():
                continue
            add_case(name, make(kind, p))
    del n


U = uniform()
POS = uniform(0.3, 2.0)
UNIT = uniform(-0.8, 0.8)

# Unary primitives: a Python float, or a row broadcast (one operand: nothing to mix).
_UNARY_DOMAINS = {
    "log": POS, "sqrt": POS, "rsqrt": POS, "log1p": POS, "acosh": uniform(1.2, 3.0),
    "asin": UNIT, "acos": UNIT, "atanh": UNIT, "erf_inv": UNIT, "tan": uniform(-1.0, 1.0),
}
_UNARY = ("neg abs exp exp2 log log1p expm1 tanh logistic sin cos tan asin acos atan sinh cosh "
          "asinh acosh atanh sqrt rsqrt cbrt erf erfc erf_inv square sign floor ceil "
          "stop_gradient").split()


def _unary_fn(name: str) -> Callable[[Any], Callable]:
    if name == "stop_gradient":  # a product, so that something is differentiated
        return lambda m: lambda x: m.op("mul", m.lax.stop_gradient(x), x)
    return lambda m: lambda x: m.op(name, x)


for _name in _UNARY:
    _gen = _UNARY_DOMAINS.get(_name, U)
    add_case(_name, Case(f"{_name}[py]", _unary_fn(_name), [Arg((), _gen, py=True)]))
    # A broadcast operand: the unary op's tangent and cotangent go through broadcast_in_dim.
    add_case(_name, Case(f"{_name}[bcast]", lambda m, n=_name: (
        lambda x: _unary_fn(n)(m)(m.broadcast(x, M, (1,)))), [Arg(M[1:], _gen)]))

for _name, _y in (("integer_pow", 3), ("integer_pow", -2), ("integer_pow", 0)):
    for _arg, _kind in ((Arg(M, POS), "full"), (Arg((), POS), "scalar"),
                        (Arg((), POS, py=True), "py")):
        add_case(_name, Case(f"integer_pow{_y}[{_kind}]",
                             lambda m, y=_y: lambda x: m.op("integer_pow", x, y=y), [_arg]))
# round: JAX's rounding_method param; as a product so that the result is differentiated.
for _arg, _kind in ((Arg(M, U), "full"), (Arg((), U, py=True), "py")):
    add_case("round", Case(f"round[{_kind}]", lambda m: lambda x: m.op(
        "mul", m.op("round", x, rounding_method=1), x), [_arg]))
    add_case("convert_element_type", Case(
        f"convert_element_type[{_kind}]", lambda m: lambda x: m.op(
            "mul", x, m.lax.convert_element_type(m.lax.convert_element_type(x, np.float16),
                                                 np.float32)), [_arg], rtol=1e-3))

for _name in "add sub mul max min atan2 nextafter".split():
    _elementwise_variants(_name, [U, U], (0, 1),
                          skip=frozenset({"d"}) if _name == "nextafter" else frozenset())
_elementwise_variants("div", [U, POS], (0, 1))
_elementwise_variants("rem", [U, POS], (0, 1))
_elementwise_variants("pow", [POS, U], (0, 1))
_elementwise_variants("fma", [U, U, U], (0, 1, 2))
# select_n: a predicate (bool or int32 index) and float cases, any of them rank 0.
_elementwise_variants("select_n", [bools(), U, U], (0, 1, 2))
_elementwise_variants("select_n", [ints(0, 2), U, U, U], (0,))
# clamp: the bounds may be rank 0, x decides the shape.
_elementwise_variants("clamp", [uniform(-2, -0.5), U, uniform(0.5, 2)], (0, 1, 2),
                      full_only=(1,))


# Comparisons and logic have no derivative: the cases select between their float operands
# by the result, so the derivative goes through select_n with the comparison's operands
# rank 0, Python floats and constants.
def _select_by(name: str) -> Callable[..., Any]:
    return lambda m, x, y: m.op("select_n", m.op(name, x, y), *_full_pair(m, x, y))


def _full_pair(m, x, y):
    shape = _full_shape([x, y])
    return [v if np.shape(v) == shape else m.broadcast(v, shape, ()) for v in (x, y)]


for _name in "eq ne lt le gt ge".split():
    _elementwise_variants(_name, [U, U], (0, 1), apply=_select_by(_name))


def _bits(name: str) -> Callable[..., Any]:
    # Integer ops on the float operands' rounded values, deciding a select.
    def apply(m, x, y):
        xi, yi = (m.lax.convert_element_type(v, np.int32) for v in (x, y))
        bits = m.op(name, xi, yi)
        pick = m.op("ne", m.op("and", bits, m.lax.convert_element_type(1, np.int32)),
                    m.lax.convert_element_type(0, np.int32))
        return m.op("select_n", pick, *_full_pair(m, x, y))

    return apply


# (One position each: the rule is the same for every position of these.)
for _name, _p in (("and", 0), ("or", 1), ("xor", 0), ("shift_left", 1),
                  ("shift_right_logical", 0), ("shift_right_arithmetic", 1)):
    _elementwise_variants(_name, [uniform(0, 6), uniform(0, 3)], (_p,), apply=_bits(_name))


# ---------------------------------------------------------------------------------------------
# Structural ops, reductions, contractions, indexing: scalar and broadcast operands where the
# op takes them


def _case(prim: str, label: str, build: Callable[[Any], Callable], *args: Arg,
          rtol: float = 2e-5, skip: Sequence[str] = ()) -> None:
    add_case(prim, Case(f"{prim}[{label}]", build, list(args), frozenset(skip), rtol))


def _times(m, x, y):
    return m.op("mul", x, y)


# broadcast_in_dim of a rank-0 value, a row, a size-1 dimension stretched.
for _label, _arg, _dims in (("scalar", Arg((), U), ()), ("py", Arg((), U, py=True), ()),
                            ("row", Arg(M[1:], U), (1,)), ("stretch", Arg((1, M[1]), U), (0, 1))):
    _case("broadcast_in_dim", _label, lambda m, d=_dims: lambda x, y: _times(
        m, m.broadcast(x, M, d), y), _arg, Arg(M, U))
for _label, _arg in (("full", Arg(M, U)), ("bcast", Arg(M[1:], U))):
    _src = (lambda m, x: x) if _label == "full" else (lambda m, x: m.broadcast(x, M, (1,)))
    _case("reshape", _label, lambda m, s=_src: lambda x: m.lax.reshape(s(m, x), (3, 2)), _arg)
    _case("transpose", _label, lambda m, s=_src: lambda x: m.lax.transpose(s(m, x), (1, 0)),
          _arg)
    _case("rev", _label, lambda m, s=_src: lambda x: _times(m, m.lax.rev(s(m, x), (1,)),
                                                           s(m, x)), _arg)
    _case("slice", _label, lambda m, s=_src: lambda x: m.lax.slice(s(m, x), (0, 1), (2, 3)),
          _arg)
    _case("squeeze", _label, lambda m, s=_src: lambda x: m.lax.squeeze(
        m.lax.slice(s(m, x), (0, 0), (1, 3)), (0,)), _arg)
    for _red in ("reduce_sum", "reduce_max", "reduce_min", "reduce_prod"):
        _case(_red, _label, lambda m, s=_src, r=_red: lambda x: getattr(m.lax, r)(
            s(m, x), (1,)), _arg)
    _case("argmax", _label, lambda m, s=_src: lambda x: _times(m, m.lax.convert_element_type(
        m.lax.argmax(s(m, x), 1, np.int32), np.float32), m.lax.reduce_sum(s(m, x), (1,))), _arg)
    _case("argmin", _label, lambda m, s=_src: lambda x: _times(m, m.lax.convert_element_type(
        m.lax.argmin(s(m, x), 0, np.int32), np.float32), m.lax.reduce_sum(s(m, x), (0,))), _arg)
    _case("sort", _label, lambda m, s=_src: lambda x: m.lax.sort(s(m, x), dimension=1), _arg)
    _case("sort", f"{_label},key-val", lambda m, s=_src: lambda x, y: m.lax.sort(
        (s(m, x), y), dimension=0, num_keys=1)[1], _arg, Arg(M, U))

# reshape of a scalar (to rank 2 and back), a Python float among them.
for _label, _arg in (("scalar", Arg((), U)), ("py", Arg((), U, py=True))):
    _case("reshape", _label, lambda m: lambda x, y: _times(
        m, m.broadcast(m.lax.reshape(x, (1, 1)), M, (0, 1)), y), _arg, Arg(M, U))

# pad: the padding value is rank 0 (an argument, a Python float, a constant).
for _label, _args, _val in (("value", (Arg(M, U), Arg((), U)), None),
                            ("py-value", (Arg(M, U), Arg((), U, py=True)), None),
                            ("const-value", (Arg(M, U),), CONST),
                            ("bcast", (Arg(M[1:], U), Arg((), U)), None)):
    def _pad_build(m, label=_label, val=_val):
        def fn(x, *v):
            if label == "bcast":
                x = m.broadcast(x, M, (1,))
            value = m.weak(val) if val is not None else v[0]
            return m.lax.pad(x, value, ((1, 0, 1), (0, 2, 0)))

        return fn

    _case("pad", _label, _pad_build, *_args)

# concatenate with a broadcast operand in either position.
for _p in range(2):
    _case("concatenate", f"{_p}=bcast", lambda m, p=_p: lambda x, y: m.lax.concatenate(
        [m.broadcast(x, M, (1,)), y][::1 if p == 0 else -1], 0), Arg(M[1:], U), Arg(M, U))
_case("concatenate", "full", lambda m: lambda x, y: m.lax.concatenate([x, y], 1),
      Arg(M, U), Arg(M, U))


def _dot(m, x, y, lc, rc):
    return m.lax.dot_general(x, y, ((lc, rc), ((), ())))


_case("dot_general", "mat-vec", lambda m: lambda x, y: _dot(m, x, y, (1,), (0,)),
      Arg(M, U), Arg(M[1:], U))
_case("dot_general", "vec-mat", lambda m: lambda x, y: _dot(m, x, y, (0,), (1,)),
      Arg(M[1:], U), Arg(M, U))
_case("dot_general", "0=bcast", lambda m: lambda x, y: _dot(
    m, m.broadcast(x, M, (1,)), y, (1,), (1,)), Arg(M[1:], U), Arg(M, U))
_case("dot_general", "1=bcast", lambda m: lambda x, y: _dot(
    m, x, m.broadcast(y, M, (1,)), (0,), (0,)), Arg(M, U), Arg(M[1:], U))
_case("dot_general", "scalar", lambda m: lambda x, y: _dot(m, x, y, (), ()),
      Arg((), U), Arg(M, U))
_case("dot_general", "batch", lambda m: lambda x, y: m.lax.dot_general(
    x, y, (((2,), (1,)), ((0,), (0,)))), Arg((2, 3, 4), U), Arg((2, 4, 2), U))

# dynamic slices: the start indices are rank-0 integer arguments (batched or not), Python
# ints, or constants; the operand full or broadcast.
for _label, _x in (("full", Arg(M, U)), ("bcast", Arg(M[1:], U))):
    _src = (lambda m, x: x) if _label == "full" else (lambda m, x: m.broadcast(x, M, (1,)))
    _case("dynamic_slice", _label, lambda m, s=_src: lambda x, i, j: m.lax.dynamic_slice(
        s(m, x), (i, j), (1, 2)), _x, Arg((), ints(0, 2)), Arg((), ints(-1, 3)))
    _case("dynamic_slice", f"{_label},py", lambda m, s=_src: lambda x, j: m.lax.dynamic_slice(
        s(m, x), (1, j), (1, 2)), _x, Arg((), ints(0, 2), py=True))
    _case("dynamic_update_slice", _label, lambda m, s=_src: lambda x, u, i: (
        m.lax.dynamic_update_slice(s(m, x), u, (i, 1))), _x, Arg((1, 2), U), Arg((), ints(0, 2)))
    _case("dynamic_update_slice", f"{_label},bcast-update", lambda m, s=_src: lambda x, u, i: (
        m.lax.dynamic_update_slice(s(m, x), m.broadcast(u, (2, 2), (1,)), (0, i))),
        _x, Arg((2,), U), Arg((), ints(0, 2)))

# gather and the scatters, through indexing: indices batched or not, the operand full or
# broadcast, the updates rank 0 (an argument, a Python float, a constant) or full.
def distinct(n: int) -> Gen:
    """Index vectors of ``n`` distinct entries in [0, n) (so every scatter is determined)."""
    def gen(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        rows = [rng.permutation(n) for _ in range(int(np.prod(shape[:-1])))]
        return np.array(rows, I32).reshape(shape)

    return gen


_IDX = Arg((2,), distinct(2))
for _label, _x in (("full", Arg(M, U)), ("bcast", Arg(M[1:], U))):
    _src = (lambda m, x: m.numpy.asarray(x)) if _label == "full" else (
        lambda m, x: m.broadcast(x, M, (1,)))
    _case("gather", _label, lambda m, s=_src: lambda x, i: s(m, x)[i], _x, _IDX)
    _case("gather", f"{_label},2d", lambda m, s=_src: lambda x, i: s(m, x)[i, i + 1], _x, _IDX)
    for _method in ("add", "multiply", "set", "min", "max"):
        _prim = {"add": "scatter-add", "multiply": "scatter-mul", "set": "scatter",
                 "min": "scatter-min", "max": "scatter-max"}[_method]

        def _update(m, x, i, u, k=_method):
            return getattr(x.at[i], k)(u, unique_indices=True)

        _case(_prim, f"{_label},scalar-update", lambda m, s=_src, f=_update: lambda x, i, u: (
            f(m, s(m, x), i, u)), _x, _IDX, Arg((), U))
        if _label == "bcast":
            continue
        _case(_prim, f"{_label},py-update", lambda m, s=_src, f=_update: lambda x, i, u: (
            f(m, s(m, x), i, u)), _x, _IDX, Arg((), U, py=True))
        _case(_prim, f"{_label},const-update", lambda m, s=_src, f=_update: lambda x, i: (
            f(m, s(m, x), i, m.weak(CONST))), _x, _IDX)
        _case(_prim, f"{_label},row-update", lambda m, s=_src, f=_update: lambda x, i, u: (
            f(m, s(m, x), i, u)), _x, _IDX, Arg(M[1:], U))

for _label, _u in (("scalar-update", Arg((), U)), ("py-update", Arg((), U, py=True))):
    _case("scatter-sub", _label, lambda m: lambda x, i, u: m.numpy.asarray(x).at[i].subtract(
        u, unique_indices=True), Arg(M, U), _IDX, _u)


# ---------------------------------------------------------------------------------------------
# Ops with regions and user rules: operands rank 0, Python floats, constants

# A nested jit (one jit op with its own region) taking the mixed operands.
_elementwise_variants("jit", [U, U], (0, 1), apply=lambda m, x, y: m.api.jit(
    lambda a, b: m.op("mul", m.op("sin", a), b))(x, y))


def _cond_build(m, const=False):
    def fn(p, x, *s):
        s = m.weak(CONST) if const else s[0]
        return m.lax.cond(p > 0, lambda a, b: _times(m, a, b), lambda a, b: m.op("sub", a, b),
                          x, s)

    return fn


for _label, _args in (("scalar", (Arg((), U), Arg(M, U), Arg((), U))),
                      ("py", (Arg((), U), Arg(M, U), Arg((), U, py=True))),
                      ("py-predicate", (Arg((), U, py=True), Arg(M, U), Arg((), U)))):
    _case("cond", _label, _cond_build, *_args)
_case("cond", "const", lambda m: _cond_build(m, const=True), Arg((), U), Arg(M, U))


def _fori_build(m):
    def fn(x, s):
        return m.lax.fori_loop(0, 3, lambda i, c: m.op("add", _times(m, c, s), x), x)

    return fn


def _while_build(m):
    # A loop with a differentiable carry would need reverse-mode through while (neither
    # system has it): the carry counts, the value is a product outside.
    def fn(x, s):
        n = m.lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, _times(m, c[1], s)),
                             (0, s))[1]
        return _times(m, x, n)

    return fn


for _label, _s in (("scalar", Arg((), uniform(0.5, 1.0))),
                   ("py", Arg((), uniform(0.5, 1.0), py=True))):
    _case("scan", f"fori,{_label}", _fori_build, Arg(M, U), _s)
    _case("while", _label, _while_build, Arg(M, U), _s, skip=("grad",))
    _case("scan", f"carry,{_label}", lambda m: lambda xs, s: m.lax.scan(
        lambda c, x: (m.op("add", _times(m, c, s), m.numpy.sum(x)), _times(m, c, x)), s, xs)[1],
        Arg(M, U), _s)


def _custom_jvp_build(m):
    @m.api.custom_jvp
    def f(x, y):
        return _times(m, m.op("sin", x), y)

    @f.defjvp
    def f_jvp(primals, tangents):
        (x, y), (tx, ty) = primals, tangents
        return f(x, y), m.op("add", _times(m, _times(m, m.op("cos", x), y), tx),
                             _times(m, m.op("sin", x), ty))

    return f


def _custom_vjp_build(m):
    @m.api.custom_vjp
    def f(x, y):
        return _times(m, m.op("sin", x), y)

    def fwd(x, y):
        return f(x, y), (x, y)

    def bwd(res, ct):
        x, y = res
        dx = _times(m, _times(m, m.op("cos", x), y), ct)
        dy = _times(m, m.op("sin", x), ct)
        return (m.numpy.sum(dx) if np.shape(x) == () else dx,
                m.numpy.sum(dy) if np.shape(y) == () else dy)

    f.defvjp(fwd, bwd)
    return f


for _label, _args in (("scalar", (Arg((), U), Arg(M, U))), ("py", (Arg((), U, py=True),
                                                                  Arg(M, U))),
                      ("full", (Arg(M, U), Arg(M, U)))):
    _case("custom_jvp_call", _label, _custom_jvp_build, *_args)
    _case("custom_vjp_call", _label, _custom_vjp_build, *_args,
          skip=("jvp", "vmap(jvp)", "jvp(vmap)"))


# ---------------------------------------------------------------------------------------------
# Running a case


@dataclass
class Data:
    args: list[Any]      # per example
    tangents: list[Any]  # per example
    batched: list[Any]   # per argument: B examples stacked at axis 0


def data_for(case: Case) -> Data:
    rng = np.random.default_rng(zlib.crc32(case.label.encode()))
    args = [a.value(rng) for a in case.args]
    tangents = []
    for a, v in zip(case.args, args):
        if not a.differentiable():
            tangents.append(np.zeros(np.shape(v), FLOAT0))
        else:
            t = rng.standard_normal(a.shape).astype(F32)
            tangents.append(float(t) if a.py else t)
    return Data(args, tangents, [a.batched(rng) for a in case.args])


Pattern = tuple[int | None, ...]


def in_axes_patterns(case: Case) -> list[Pattern]:
    """Each batchable argument alone batched (at axis 0, the others unbatched), and every
    batchable argument batched (at its last axis, so operands of different ranks carry the
    batch at different positions)."""
    n = len(case.args)
    batchable = [not a.py for a in case.args]
    pats: list[Pattern] = [tuple(0 if i == k else None for i in range(n))
                           for k in range(n) if batchable[k]]
    if sum(batchable) > 1:
        pats.append(tuple(-1 if b else None for b in batchable))
    return pats


def _at(x: np.ndarray, axis: int | None) -> np.ndarray:
    return x if axis is None else np.moveaxis(x, 0, axis)


def batched_args(d: Data, pat: Pattern) -> list[Any]:
    return [v if ax is None else _at(b, ax) for v, b, ax in zip(d.args, d.batched, pat)]


def example(d: Data, pat: Pattern, i: int) -> list[Any]:
    """The arguments of example ``i`` of the batch ``batched_args(d, pat)``."""
    return [v if ax is None else b[i] for v, b, ax in zip(d.args, d.batched, pat)]


def batched_tangents(case: Case, d: Data, pat: Pattern) -> list[Any]:
    """Tangents for ``jvp(vmap)``: example i of a batched argument gets ``(i + 1) * t``."""
    out = []
    for t, a, b, ax in zip(d.tangents, case.args, d.batched, pat):
        if ax is None or not a.differentiable():
            out.append(t if ax is None else np.zeros(np.shape(_at(b, ax)), FLOAT0))
        else:
            out.append(_at(np.stack([(i + 1) * np.asarray(t, F32) for i in range(B)]), ax))
    return out


def example_tangents(case: Case, d: Data, pat: Pattern, i: int) -> list[Any]:
    return [t if ax is None or not a.differentiable() else (i + 1) * np.asarray(t, F32)
            for t, a, ax in zip(d.tangents, case.args, pat)]


class Run:
    """A case's function and its derivatives in system ``m``."""

    def __init__(self, m, case: Case) -> None:
        self.m, self.case, self.fn = m, case, case.build(m)
        self.diff = tuple(i for i, a in enumerate(case.args) if a.differentiable())
        skip = case.skip
        self.derivatives = "d" not in skip and bool(self.diff)
        self.has_jvp = self.derivatives and "jvp" not in skip
        self.has_grad = self.derivatives and "grad" not in skip
        self.grad = m.api.grad(self.total, argnums=self.diff) if self.has_grad else None

    def total(self, *xs: Any) -> Any:
        return self.m.numpy.sum(self.fn(*xs))

    def jvp(self, args: Sequence[Any], tangents: Sequence[Any]) -> Any:
        return self.m.api.jvp(self.fn, tuple(args), tuple(tangents))

    def base(self, d: Data, args: Sequence[Any] | None = None) -> dict[str, Any]:
        """The function, its JVP and its gradient (at ``args``, by default the data's)."""
        args = d.args if args is None else args
        out = {"f": self.fn(*args)}
        if self.has_jvp:
            out["jvp"] = self.jvp(args, d.tangents)
        if self.has_grad:
            out["grad"] = self.grad(*args)
        return out

    def batched(self, d: Data) -> dict[str, Any]:
        """Every composition of vmap with the derivatives, for every in_axes pattern."""
        api, fn = self.m.api, self.fn
        out: dict[str, Any] = {}
        for pat in in_axes_patterns(self.case):
            args = batched_args(d, pat)
            out[f"vmap{pat}"] = api.vmap(fn, in_axes=pat)(*args)
            if self.has_grad:
                out[f"vmap(grad){pat}"] = api.vmap(self.grad, in_axes=pat)(*args)
                out[f"grad(vmap){pat}"] = api.grad(
                    lambda *xs, p=pat: self.m.numpy.sum(api.vmap(fn, in_axes=p)(*xs)),
                    argnums=self.diff)(*args)
            if self.has_jvp:
                out[f"vmap(jvp){pat}"] = api.vmap(lambda *xs: self.jvp(xs, d.tangents),
                                                  in_axes=pat)(*args)
                out[f"jvp(vmap){pat}"] = api.jvp(api.vmap(fn, in_axes=pat), tuple(args),
                                                 tuple(batched_tangents(self.case, d, pat)))
        return out

    def looped(self, d: Data) -> dict[str, Any]:
        """What ``batched`` must give, from the unbatched function and derivatives applied
        to one example at a time: ``Expected`` leaves, whose weak flag is the examples'."""
        out: dict[str, Any] = {}
        for pat in in_axes_patterns(self.case):
            examples = [example(d, pat, i) for i in range(B)]
            out[f"vmap{pat}"] = stack([self.fn(*e) for e in examples])
            if self.has_grad:
                grads = [self.grad(*e) for e in examples]
                out[f"vmap(grad){pat}"] = stack(grads)
                # An unbatched argument's cotangent is the sum over the examples.
                out[f"grad(vmap){pat}"] = tuple(
                    stack([g[j] for g in grads], reduce=pat[k] is None, axis=pat[k] or 0)
                    for j, k in enumerate(self.diff))
            if self.has_jvp:
                out[f"vmap(jvp){pat}"] = stack([self.jvp(e, d.tangents) for e in examples])
                out[f"jvp(vmap){pat}"] = stack([
                    self.jvp(e, example_tangents(self.case, d, pat, i))
                    for i, e in enumerate(examples)])
        return out


@dataclass
class Expected:
    """An expected result: its value and weak flag."""

    value: np.ndarray
    weak_type: bool


def stack(results: list[Any], axis: int = 0, reduce: bool = False) -> Any:
    """Per-example results (pytrees) stacked at ``axis`` (summed if ``reduce``)."""
    def one(*xs: Any) -> Expected:
        values = [np.asarray(x) for x in xs]
        weak = {_weak(x) for x in xs}
        assert len(weak) == 1, "examples differ in weak type"
        if values[0].dtype == FLOAT0:
            return Expected(np.zeros(np.shape(np.stack(
                [np.zeros(v.shape) for v in values], axis)), FLOAT0), False)
        joined = np.sum(values, 0) if reduce else np.stack(values, axis)
        return Expected(joined.astype(values[0].dtype), weak.pop())

    return jax.tree_util.tree_map(one, *results, is_leaf=lambda v: isinstance(v, Array))


def _leaves(x: Any) -> list[Any]:
    return jax.tree_util.tree_leaves(x, is_leaf=lambda v: isinstance(v, Array))


def _weak(x: Any) -> bool:
    return bool(getattr(x, "weak_type", False))


def compare(case: Case, what: str, got: Any, want: Any) -> None:
    """llax's results against the expected ones (JAX's, or ``Expected`` from a loop over
    the examples): shape, dtype, weak type and value of every leaf."""
    got_leaves = _leaves(got)
    want_leaves = jax.tree_util.tree_leaves(
        want, is_leaf=lambda v: isinstance(v, (Array, Expected)))
    where = f"{case.label}: {what}"
    assert len(got_leaves) == len(want_leaves), \
        f"{where}: {len(got_leaves)} results, expected {len(want_leaves)}"
    for k, (g, w) in enumerate(zip(got_leaves, want_leaves)):
        gv = np.asarray(g)
        wv = w.value if isinstance(w, Expected) else np.asarray(w)
        at = f"{where} (result {k})"
        assert gv.shape == wv.shape, f"{at}: shape {gv.shape}, expected {wv.shape}"
        assert gv.dtype == wv.dtype, f"{at}: dtype {gv.dtype}, expected {wv.dtype}"
        if wv.dtype == FLOAT0:
            continue
        assert _weak(g) == _weak(w), f"{at}: weak_type {_weak(g)}, expected {_weak(w)}"
        if wv.dtype.kind == "f":
            scale = 1.0 + float(np.max(np.abs(wv), initial=0.0))
            np.testing.assert_allclose(gv, wv, rtol=case.rtol, atol=case.rtol * scale,
                                       err_msg=at)
        else:
            np.testing.assert_array_equal(gv, wv, err_msg=at)


def jax_values(cases: list[Case], data: list[Data]) -> list[dict[str, Any]]:
    """JAX's function values, JVPs and gradients of all the cases, in one jax.jit (eager
    JAX compiles every op; Python-float arguments become weak float32 values either way)."""
    runs = [Run(JAX, c) for c in cases]
    return jax.jit(lambda args: [r.base(d, a) for r, d, a in zip(runs, data, args)])(
        [d.args for d in data])


def check_primitive(name: str) -> list[str]:
    cases = CASES[name]
    data = [data_for(c) for c in cases]
    failures: list[str] = []
    try:
        want_values = jax_values(cases, data)
    except Exception as e:
        return [f"{name}: JAX fails: {type(e).__name__}: {str(e).splitlines()[0]}"]
    for case, d, want in zip(cases, data, want_values):
        try:
            run = Run(LLAX, case)
            base = run.base(d)
            assert base.keys() == want.keys(), (sorted(base), sorted(want))
            for what in want:
                compare(case, what, base[what], want[what])
            got, looped = run.batched(d), run.looped(d)
            assert got.keys() == looped.keys(), (sorted(got), sorted(looped))
            for what in looped:
                compare(case, what, got[what], looped[what])
        except Exception as e:
            failures.append(f"{case.label}: {type(e).__name__}: {str(e).splitlines()[0][:300]}")
    return failures


@pytest.fixture(autouse=True)
def _float32() -> Any:
    from tests.jnp_oracle import x64_mode

    with x64_mode(False):
        yield


@pytest.mark.parametrize("name", sorted(CASES))
def test_rule_positions(name: str) -> None:
    failures = check_primitive(name)
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------------------------------------
# The registry walk

# Primitives with a JVP or batching rule that the cases above do not reach, and where their
# rules are exercised instead.
ELSEWHERE = {
    **{name: "linear algebra: vmap, JVP and grad vs JAX in test_linalg_lapack.py"
       for name in ("lu", "triangular_solve", "cholesky", "eigh", "svd")},
    **{name: "linear algebra: vmap, JVP and grad vs JAX in test_linalg_eig.py and "
              "test_linalg_qr.py" for name in ("eig", "geqrf", "householder_product")},
    "fft": "linear: vmap vs loop, grad/jacfwd/jacrev/vjp vs JAX, transposes vs the matrix "
           "(test_fft.py)",
    "conv_general_dilated": "bilinear, two operands of their own ranks: JVP and grad vs JAX, "
                            "the VJP by the inner-product test, vmap of each operand vs JAX "
                            "(test_lax_conv.py)",
    **{name: "windows over the operand's own axes: grad vs JAX and finite differences, "
             "vmap vs a loop (test_lax_windows.py)"
       for name in ("reduce_window_sum", "reduce_window_max", "reduce_window_min",
                    "select_and_gather_add", "select_and_scatter_add")},
    **{name: "an axis param: JVP/grad vs JAX and finite differences, vmap vs a loop "
             "(test_lax_cumulative.py)"
       for name in ("cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp")},
    "clz": "integer only, no tangent; the unary batching rule (test_lax_more.py)",
    "reduce_precision": "one operand: jvp/vjp/vmap vs JAX (test_lax_more.py)",
    "fusion": "only the fusion pass makes it, after every transformation (test_fuse.py)",
    "psum": "needs a named axis (test_vmap.py, test_autodiff_prims.py)",
    "pmax": "needs a named axis (test_vmap.py)",
    "pmin": "needs a named axis (test_vmap.py)",
    "axis_index": "needs a named axis (test_vmap.py)",
    "custom_lin": "made by linearizing a custom_vjp_call, which the custom_vjp_call cases do",
    "iota": "no operands: never batched, no tangent",
    "threefry2x32": "uint32 bits only, no tangent (test_vmap_rules.py, test_random.py)",
    "bitcast_convert_type": "no tangent; its batching rule is the unary one (test_vmap_rules.py)",
    "population_count": "integer only, no tangent; the unary batching rule (test_vmap_rules.py)",
    "not": "integer/bool only, no tangent; the unary batching rule (test_vmap_rules.py)",
    "is_finite": "bool result, no tangent; the unary batching rule (test_vmap_rules.py)",
    "reduce_and": "bool only: the reduction batching rule (test_vmap_rules.py)",
    "reduce_or": "bool only: the reduction batching rule (test_vmap_rules.py)",
    "reduce_xor": "bool only: the reduction batching rule (test_vmap_rules.py)",
    "debug_callback": "an effect with no value to differentiate (test_callbacks.py)",
    "debug_print": "an effect with no value to differentiate (test_callbacks.py)",
    "io_callback": "an effect; JAX does not differentiate it either (test_callbacks.py)",
    "pure_callback": "a host function: its vmap_method options (test_callbacks.py)",
    **{name: "complex operands: grad, jvp, vmap(grad) vs JAX (test_complex_autodiff.py)"
       for name in ("complex", "real", "imag", "conj")},
}


def test_every_rule_is_exercised() -> None:
    from llax.transforms.batching import axis_batching_rules, batching_rules
    from llax.transforms.jvp import jvp_rules, zero_tangent

    ruled = {n for n, p in PRIMITIVES.items()
             if p in jvp_rules or p in zero_tangent or p in batching_rules
             or p in axis_batching_rules}
    missing = sorted(ruled - set(CASES) - set(ELSEWHERE))
    assert not missing, f"rules with no case here and no reason: {missing}"
    assert set(CASES) <= set(PRIMITIVES), sorted(set(CASES) - set(PRIMITIVES))
    assert not set(CASES) & set(ELSEWHERE), sorted(set(CASES) & set(ELSEWHERE))


def test_issue_examples() -> None:
    """The reports that started this file: vmap(grad) of a ReLU network over examples, a
    where under vmap under grad, and a per-example logsumexp under grad."""
    rng = np.random.default_rng(0)
    w1, w2 = rng.standard_normal((8, 16)).astype(F32), rng.standard_normal((16,)).astype(F32)
    xs = rng.standard_normal((5, 8)).astype(F32)

    def loss(api, params, x):
        a, b = params
        return api.numpy.sum(api.numpy.maximum(0, x @ a) * b)

    for fn in (lambda api: api.vmap(api.grad(lambda p, x: loss(api, p, x)),
                                    in_axes=(None, 0))((w1, w2), xs),
               lambda api: api.grad(lambda x: api.numpy.sum(api.vmap(
                   lambda v: api.numpy.where(v > 0, v, 0.))(x)))(xs),
               lambda api: api.grad(lambda x: api.numpy.sum(api.vmap(
                   api.scipy.special.logsumexp)(x)))(xs)):
        got, want = fn(llax), fn(jax)
        for g, w in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
            np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=2e-5, atol=2e-5)
