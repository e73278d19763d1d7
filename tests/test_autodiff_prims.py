"""Per-primitive autodiff tests, walking the primitive registry.

For every differentiable primitive, in float64: the JVP against central finite
differences in a random direction, the VJP against the JVP by the inner-product
test (<vjp(ct), t> == <ct, jvp(t)>), on several shapes (rank 0 against a shape
for elementwise operands, so broadcasting must be undone by summing
cotangents; empty shapes), eagerly and under ``llax.jit``, and the same
derivatives from JAX. Points where a primitive is not smooth (ties, kinks,
zeros, bounds) are checked against JAX only. The transformed Functions are run
through the IR verifier.

A primitive without cases here and without a stated reason why it cannot be
differentiated fails the registry walk.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np
import pytest

import llax
from llax.frontend.autodiff import trace_flat
from llax.frontend.core import bind
from llax.ir import prims as P
from llax.ir.primitive import PRIMITIVES
from llax.ir.types import TensorType
from llax.ir.verifier import verify
from llax.tests.test_linalg_lapack import check_linalg_primitive
from llax.transforms.jvp import jvp_function, jvp_rules, zero_tangent
from llax.transforms.partial_eval import partial_eval
from llax.transforms.staging import build_function
from llax.transforms.transpose import transpose_function, transpose_rules
from tests.jnp_oracle import x64_mode
from tests.test_complex_autodiff import check_complex_primitive

F64, F32, I32 = np.dtype(np.float64), np.dtype(np.float32), np.dtype(np.int32)
FLOAT0 = np.dtype([("float0", np.void, 0)])

# Primitives with no derivative, and why. The registry walk accepts these and nothing else
# without a JVP rule or a zero-tangent entry.
NOT_DIFFERENTIABLE = {
    "geqrf": "JAX defines none either: qr is differentiated as a whole (its JVP rule), and "
             "geqrf is only its first step (test_linalg_qr.py)",
    "householder_product": "JAX defines none either: qr is differentiated as a whole "
                           "(test_linalg_qr.py)",
    "custom_lin": "what forward mode leaves of a custom_vjp_call: only ever transposed (its "
                  "transpose runs the user's bwd); JAX's custom_lin has no JVP either",
    "pmax": "JAX defines no derivative for pmax (differentiating it raises NotImplementedError)",
    "pmin": "JAX defines no derivative for pmin (differentiating it raises NotImplementedError)",
    "nextafter": "JAX defines no derivative for nextafter (differentiating it raises "
                 "NotImplementedError); it is not piecewise constant, so a zero tangent "
                 "would be wrong",
}


@pytest.fixture(autouse=True)
def _x64() -> Iterator[None]:
    with x64_mode(True):
        yield


# ---------------------------------------------------------------------------------------------
# The two namespaces a case runs on: llax and JAX


class _LlaxLax:
    """``llax.lax`` plus jax.lax's gather/scatter functions (llax reaches those primitives
    through indexing only), so that one case definition runs on both systems."""

    GatherDimensionNumbers = P.GatherDimensionNumbers
    ScatterDimensionNumbers = P.ScatterDimensionNumbers

    def __getattr__(self, name: str) -> Any:
        return getattr(llax.lax, name)

    @staticmethod
    def gather(operand, start_indices, dimension_numbers, slice_sizes, *, mode=None,
               fill_value=None, indices_are_sorted=False, unique_indices=False):
        return P.gather.bind(operand, start_indices, dimension_numbers=dimension_numbers,
                             slice_sizes=tuple(slice_sizes),
                             mode=P.GatherScatterMode.from_any(mode), fill_value=fill_value,
                             indices_are_sorted=indices_are_sorted,
                             unique_indices=unique_indices)


def _llax_scatter(prim):
    def scatter(operand, scatter_indices, updates, dimension_numbers, *,
                indices_are_sorted=False, unique_indices=False, mode=None):
        return prim.bind(operand, scatter_indices, updates, dimension_numbers=dimension_numbers,
                         mode=P.GatherScatterMode.from_any(mode),
                         indices_are_sorted=indices_are_sorted, unique_indices=unique_indices)

    return staticmethod(scatter)


for _p in P.SCATTERS:
    setattr(_LlaxLax, _p.name.replace("-", "_"), _llax_scatter(_p))


class _Llax:
    lax = _LlaxLax()
    numpy = llax.numpy
    custom_jvp = llax.custom_jvp
    custom_vjp = llax.custom_vjp
    jit = staticmethod(llax.jit)


LLAX = _Llax()


# ---------------------------------------------------------------------------------------------
# Cases


@dataclass
class Case:
    """``build(m)`` gives the function of float arrays to differentiate, written against the
    namespace ``m`` (llax's or JAX's); ``args`` are its inputs."""

    label: str
    build: Callable[[Any], Callable]
    args: tuple[np.ndarray, ...]
    fd: bool = True        # smooth at args: check the JVP against finite differences
    jvp: bool = True       # forward mode is defined (not for custom_vjp)
    jax: bool = True       # compare with JAX's derivatives
    zero: bool = False     # the tangent must be exactly zero (non-smooth primitives)
    rtol: float = 1e-6     # JVP vs finite differences; float32 cases get looser ones
    # The JVP's primal output against the eager value: bit for bit unless set. (Eager control
    # flow runs native code, a transformed function evaluated eagerly the NumPy interpreter,
    # whose transcendental functions may differ in the last bit.)
    primal_rtol: float = 0.0


_rng = np.random.default_rng(0)


def u(shape: Sequence[int] = (), lo: float = -2.0, hi: float = 2.0, dtype=F64) -> np.ndarray:
    """Uniform in [lo, hi)."""
    return _rng.uniform(lo, hi, tuple(shape)).astype(dtype)


def away(shape: Sequence[int] = (), lo: float = 0.2, hi: float = 2.0) -> np.ndarray:
    """Magnitudes in [lo, hi) with random signs: away from zero."""
    return u(shape, lo, hi) * _rng.choice([-1.0, 1.0], tuple(shape))


def arr(values: Any, dtype=F64) -> np.ndarray:
    return np.asarray(values, dtype)


CASES: dict[str, list[Case]] = {}


def add(prim: str, label: str, build: Callable[[Any], Callable], *args: np.ndarray,
        **flags: Any) -> None:
    CASES.setdefault(prim, []).append(Case(f"{prim}:{label}", build, tuple(args), **flags))


def lax_fn(name: str, *pre: Any, **params: Any) -> Callable[[Any], Callable]:
    """``m.lax.<name>(*args, *pre, **params)`` as a case builder."""
    return lambda m: lambda *a: getattr(m.lax, name)(*a, *pre, **params)


def to_float(m: Any, x: Any) -> Any:
    return m.lax.convert_element_type(x, np.float64)


UNARY_SHAPES = [(), (7,), (2, 3), (0,)]

# Unary primitives and the domain of their inputs (where they are smooth).
UNARY = {
    "neg": lambda s: u(s, -3, 3), "abs": lambda s: away(s, 0.1, 3), "exp": u,
    "exp2": u, "log": lambda s: u(s, 0.1, 4), "log1p": lambda s: u(s, -0.9, 3), "expm1": u,
    "tanh": u, "logistic": lambda s: u(s, -3, 3), "sin": lambda s: u(s, -3, 3),
    "cos": lambda s: u(s, -3, 3), "tan": lambda s: u(s, -1.2, 1.2),
    "asin": lambda s: u(s, -0.9, 0.9), "acos": lambda s: u(s, -0.9, 0.9),
    "atan": lambda s: u(s, -3, 3), "sinh": u, "cosh": u, "asinh": lambda s: u(s, -3, 3),
    "acosh": lambda s: u(s, 1.1, 4), "atanh": lambda s: u(s, -0.9, 0.9),
    "sqrt": lambda s: u(s, 0.1, 4), "rsqrt": lambda s: u(s, 0.1, 4),
    "cbrt": lambda s: away(s, 0.1, 3), "erf": u, "erfc": u,
    "erf_inv": lambda s: u(s, -0.9, 0.9), "square": lambda s: u(s, -3, 3),
}
for _name, _domain in UNARY.items():
    for _s in UNARY_SHAPES:
        add(_name, str(_s), lax_fn(_name), _domain(_s))
    # Used twice: the cotangents of both uses add up.
    add(_name, "times x", lambda m, n=_name: lambda x: m.lax.mul(getattr(m.lax, n)(x), x),
        _domain((4,)))

# Kinks and singular points: JAX decides.
add("abs", "at 0", lax_fn("abs"), arr([0.0, -0.0, 1.0, -2.0]), fd=False)
add("sqrt", "at 0", lax_fn("sqrt"), arr([0.0, 4.0]), fd=False)
add("cbrt", "at 0", lax_fn("cbrt"), arr([0.0, -8.0]), fd=False)
add("acos", "at +-1", lax_fn("acos"), arr([1.0, -1.0, 0.0]), fd=False)
add("log", "at 0", lax_fn("log"), arr([0.0, 1.0]), fd=False)

# Piecewise-constant unary primitives: zero tangents (JAX's too).
for _name in ("sign", "floor", "ceil", "stop_gradient"):
    for _s in UNARY_SHAPES:
        # (stop_gradient's value does change with x: only its derivative is defined zero.)
        add(_name, str(_s), lax_fn(_name), away(_s, 0.1, 3) + 0.5, zero=True,
            fd=_name != "stop_gradient")
    add(_name, "times x", lambda m, n=_name: lambda x: m.lax.mul(getattr(m.lax, n)(x), x),
        away((5,), 0.1, 3) + 0.5, fd=_name != "stop_gradient")
add("sign", "at 0", lax_fn("sign"), arr([0.0, -0.0, 1.0]), zero=True, fd=False)
for _method in (0, 1):
    for _s in UNARY_SHAPES:
        add("round", f"method {_method} {_s}", lax_fn("round", _method), u(_s, -4, 4),
            zero=True)
    add("round", f"method {_method} at .5",
        lambda m, k=_method: lambda x: m.lax.mul(m.lax.round(x, k), x),
        arr([0.5, 1.5, -2.5, 3.0]), fd=False)
add("is_finite", "bool", lax_fn("is_finite"), u((5,)))
add("is_finite", "as float", lambda m: lambda x: m.lax.mul(to_float(m, m.lax.is_finite(x)), x),
    arr([1.0, np.inf, -2.0]), fd=False)

for _n in (0, 1, 2, 3, -2):
    for _s in [(), (5,), (2, 3), (0,)]:
        add("integer_pow", f"n={_n} {_s}", lax_fn("integer_pow", _n), away(_s, 0.3, 2))
    if _n >= 0:
        add("integer_pow", f"n={_n} at 0", lax_fn("integer_pow", _n), arr([0.0, 1.5]),
            fd=False)

# convert_element_type: float32 <-> float64 (the float32 side rules out finite differences;
# JAX checks those), and to integers and bool, which have no tangent.
add("convert_element_type", "f64->f32", lax_fn("convert_element_type", np.float32),
    u((2, 3)), fd=False)
add("convert_element_type", "f32->f64", lax_fn("convert_element_type", np.float64),
    u((2, 3), dtype=F32), fd=False)
add("convert_element_type", "f64->i32", lax_fn("convert_element_type", np.int32),
    u((4,), -4, 4))
add("convert_element_type", "f64->i32->f64",
    lambda m: lambda x: m.lax.mul(to_float(m, m.lax.convert_element_type(x, np.int32)), x),
    u((4,), -4, 4))

# fma: JAX has no such op (its CPU compiler fuses mul+add): checked against finite differences.
for _shapes in (((5,), (5,), (5,)), ((), (2, 3), ()), ((2, 3), (), (2, 3))):
    add("fma", f"{_shapes}", lambda m: lambda x, y, z: bind(P.fma, (x, y, z), {}),
        *(u(s) for s in _shapes), jax=False)

# bitcast_convert_type: reinterpreted bits have no derivative; a float64 seen as int64 and
# back is the same number, with a zero tangent (as JAX).
add("bitcast_convert_type", "f64->i64->f64",
    lambda m: lambda x: m.lax.bitcast_convert_type(
        m.lax.bitcast_convert_type(x, np.int64), np.float64),
    u((4,)), fd=False, zero=True)


def _as_bool(m: Any) -> Callable:
    return lambda x: m.lax.mul(to_float(m, m.lax.convert_element_type(x, np.bool_)),
                               m.lax.sin(x))


add("convert_element_type", "f64->bool", _as_bool, arr([0.5, 1.5, -2.0]))
add("convert_element_type", "f64->bool at 0", _as_bool, arr([0.0, -0.0, 1.0]), fd=False)

BINARY_SHAPES = [((), ()), ((5,), (5,)), ((2, 3), (2, 3)), ((), (2, 3)), ((2, 3), ()),
                 ((0,), (0,)), ((), (0,))]
BINARY = {
    "add": (u, u), "sub": (u, u), "mul": (u, u), "max": (u, u), "min": (u, u),
    "div": (u, lambda s: away(s, 0.5, 3)),
    "rem": (lambda s: u(s, -4, 4), lambda s: away(s, 0.7, 2)),
    "pow": (lambda s: u(s, 0.2, 3), u),
    "atan2": (lambda s: u(s, -3, 3), lambda s: u(s, -3, 3)),
}
for _name, (_dx, _dy) in BINARY.items():
    for _sx, _sy in BINARY_SHAPES:
        add(_name, f"{_sx} {_sy}", lax_fn(_name), _dx(_sx), _dy(_sy))
    # One operand used in both places: its cotangents add up.
    # (Positive operands: pow needs them, div and rem need a sum away from 0.)
    add(_name, "x op x", lambda m, n=_name: lambda x: getattr(m.lax, n)(x, x),
        u((3,), 0.5, 2), fd=_name not in ("max", "min"))
    add(_name, "x op scalar x", lambda m, n=_name: lambda x: getattr(m.lax, n)(
        x, m.lax.reduce_sum(x, (0,))), u((3,), 0.5, 2))

# Ties and zeros: JAX decides (max/min split the tangent in halves at ties).
_ties = (arr([1.0, 2.0, 3.0, -1.0]), arr([1.0, 0.0, 3.0, 4.0]))
for _name in ("max", "min"):
    add(_name, "ties", lax_fn(_name), *_ties, fd=False)
    add(_name, "tie with a scalar", lax_fn(_name), arr(2.0), arr([2.0, 1.0, 3.0, 2.0]),
        fd=False)
add("pow", "at 0", lax_fn("pow"), arr([0.0, 0.0, 0.0, 2.0, 0.0]),
    arr([1.0, 2.0, 0.5, 0.0, -1.0]), fd=False)
# 0 ** 0 with an integer exponent (JAX keeps it integer; llax's pow sees it converted): the
# base's derivative is 0. (JAX's rule for a float exponent gives 0 * inf = nan there.)
add("pow", "0 ** integer", lambda m: lambda x: m.numpy.power(x, idx([0, 1, 2, 0, 3])),
    arr([0.0, 0.0, 0.0, 1.5, -2.0]), fd=False)
add("pow", "negative base", lax_fn("pow"), arr([-2.0, -0.5]), arr([2.0, 3.0]), fd=False)
add("atan2", "at 0", lax_fn("atan2"), arr([0.0, 1.0]), arr([0.0, 0.0]), fd=False)
add("rem", "at 0", lax_fn("rem"), arr([0.0, 3.0]), arr([2.0, 1.5]), fd=False)
add("div", "by 0", lax_fn("div"), arr([1.0, 0.0]), arr([0.0, 2.0]), fd=False)

# Comparisons and other zero-derivative binary primitives.
for _name in ("eq", "ne", "lt", "le", "gt", "ge"):
    add(_name, "bool", lax_fn(_name), u((5,)), u((5,)))
    add(_name, "scalar bool", lax_fn(_name), u(()), u((2, 3)))
    add(_name, "as float", lambda m, n=_name: lambda x, y: m.lax.mul(
        to_float(m, getattr(m.lax, n)(x, y)), m.lax.sub(x, y)), u((5,)), u((5,)))
    add(_name, "ties", lambda m, n=_name: lambda x, y: m.lax.mul(
        to_float(m, getattr(m.lax, n)(x, y)), m.lax.sub(x, y)), *_ties, fd=False)


def _ints(m: Any, x: Any, scale: float = 8.0) -> Any:
    return m.lax.convert_element_type(m.lax.mul(x, scale), np.int32)


# Integer primitives: the float output depends on x through them only as a coefficient.
for _name, _op in [("and", "bitwise_and"), ("or", "bitwise_or"), ("xor", "bitwise_xor"),
                   ("shift_left", "shift_left"),
                   ("shift_right_logical", "shift_right_logical"),
                   ("shift_right_arithmetic", "shift_right_arithmetic")]:
    add(_name, "coefficient", lambda m, o=_op: lambda x, y: m.lax.mul(
        to_float(m, getattr(m.lax, o)(_ints(m, x), _ints(m, y, 0.5))), x),
        u((6,), -4, 4), u((6,), 0.1, 7.9))
for _name, _op in [("not", "bitwise_not"), ("population_count", "population_count")]:
    add(_name, "coefficient", lambda m, o=_op: lambda x: m.lax.mul(
        to_float(m, getattr(m.lax, o)(_ints(m, x))), x), u((6,), -4, 4))
add("clz", "coefficient", lambda m: lambda x: m.lax.mul(
    to_float(m, m.lax.clz(_ints(m, x))), x), u((6,), -4, 4))
for _name in ("cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp"):
    add(_name, "axis 1", lax_fn(_name, 1), u((3, 4), 0.5, 1.5))
    add(_name, "axis 0 reverse", lax_fn(_name, 0, True), u((3, 4), 0.5, 1.5))
    add(_name, "empty", lax_fn(_name, 0), u((0, 2), 0.5, 1.5))
add("reduce_precision", "float64 format", lax_fn("reduce_precision", 11, 52), u((5,)))
def _threefry_bits(m: Any) -> Callable:
    """Random bits hashed from x's integer part: a coefficient with no derivative."""
    def bits(x):
        counts = m.lax.convert_element_type(_ints(m, x), np.uint32)
        key = m.lax.convert_element_type(7, np.uint32)
        if m is LLAX:
            y0, y1 = bind(P.threefry2x32, (key, key, counts, counts), {})
        else:
            from jax.extend.random import threefry2x32_p
            y0, y1 = threefry2x32_p.bind(key, key, counts, counts)
        hashed = m.lax.shift_right_logical(m.lax.bitwise_xor(y0, y1), np.uint32(29))
        return m.lax.mul(to_float(m, hashed), x)

    return bits


add("threefry2x32", "coefficient", _threefry_bits, u((6,), 0.1, 4))
for _name in ("reduce_and", "reduce_or", "reduce_xor"):
    add(_name, "coefficient", lambda m, n=_name: lambda x: m.lax.mul(
        to_float(m, getattr(m.lax, n)(m.lax.gt(x, 0.0), (1,))), m.lax.reduce_sum(x, (1,))),
        u((3, 4)))
for _name in ("argmax", "argmin"):
    add(_name, "coefficient", lambda m, n=_name: lambda x: m.lax.mul(
        to_float(m, getattr(m.lax, n)(x, 1, np.int32)), m.lax.reduce_sum(x, (1,))), u((3, 4)))
    add(_name, "ints", lambda m, n=_name: lambda x: getattr(m.lax, n)(x, 0, np.int32), u((5,)))
add("iota", "coefficient", lambda m: lambda x: m.lax.mul(m.lax.iota(np.float64, 5), x),
    u((5,)))
add("iota", "int coefficient", lambda m: lambda x: m.lax.mul(
    to_float(m, m.lax.iota(np.int32, 5)), x), u((5,)))

# select_n: the predicate is a constant; the cases are differentiated.
_pred = np.array([True, False, True, True, False])
add("select_n", "bool () pred", lambda m: lambda a, b: m.lax.select_n(np.bool_(True), a, b),
    u((5,)), u((5,)))
add("select_n", "bool pred", lambda m: lambda a, b: m.lax.select_n(_pred, a, b),
    u((5,)), u((5,)))
add("select_n", "int32 pred, 3 cases", lambda m: lambda a, b, c: m.lax.select_n(
    np.array([[0, 1, 2], [2, 1, 0]], np.int32), a, b, c), u((2, 3)), u((2, 3)), u((2, 3)))
add("select_n", "scalars", lambda m: lambda a, b: m.lax.select_n(np.bool_(False), a, b),
    u(()), u(()))
add("select_n", "same case twice", lambda m: lambda a: m.lax.select_n(_pred, a, a), u((5,)))



def _clamp(m: Any) -> Callable:
    def f(lo, x, hi):
        if m is jax:  # JAX's clamp JVP fails on rank-0 bounds of a shaped operand: broadcast
            lo, hi = (jax.numpy.broadcast_to(b, x.shape) for b in (lo, hi))
        return m.lax.clamp(lo, x, hi)

    return f


# clamp(lo, x, hi): away from the bounds, then at them (JAX decides).
for _slo, _sx, _shi in [((), (), ()), ((), (5,), ()), ((2, 3), (2, 3), (2, 3)),
                        ((4,), (4,), ()), ((), (0,), ())]:
    add("clamp", f"{_slo} {_sx} {_shi}", _clamp, u(_slo, -1.5, -0.5), u(_sx),
        u(_shi, 0.5, 1.5))
add("clamp", "at the bounds", _clamp, arr([-1.0, -1.0, 0.0, 2.0, 1.0]),
    arr([-1.0, 1.0, 0.0, 2.0, 0.0]), arr([1.0, 1.0, 0.0, 2.0, -1.0]), fd=False)
add("clamp", "scalar bounds hit", _clamp, arr(-1.0), arr([-1.0, 0.5, 1.0, 3.0]), arr(1.0),
    fd=False)

# ---------------------------------------------------------------------------------------------
# Shape ops

for _shape, _out, _dims in [((3,), (2, 3), (1,)), ((3, 1), (3, 4), (0, 1)), ((), (2, 2), ()),
                            ((1, 3), (2, 4, 3), (1, 2)),
                            ((2,), (2, 0), (0,)), ((1,), (5,), (0,))]:
    add("broadcast_in_dim", f"{_shape}->{_out}", lax_fn("broadcast_in_dim", _out, _dims),
        u(_shape))
for _shape, _out in [((2, 3), (3, 2)), ((6,), (1, 2, 3)), ((), (1, 1)), ((0, 3), (3, 0)),
                     ((2, 3, 1), (6,))]:
    add("reshape", f"{_shape}->{_out}", lax_fn("reshape", _out), u(_shape))
for _shape, _perm in [((2, 3, 4), (2, 0, 1)), ((2, 3), (1, 0)), ((5,), (0,)),
                      ((0, 2), (1, 0))]:
    add("transpose", f"{_shape} {_perm}", lax_fn("transpose", _perm), u(_shape))
for _shape, _dims in [((1, 3, 1), (0, 2)), ((1,), (0,)), ((2, 1, 3), (1,))]:
    add("squeeze", f"{_shape} {_dims}", lax_fn("squeeze", _dims), u(_shape))
for _shape, _dims in [((3, 4), (0,)), ((3, 4), (0, 1)), ((5,), (0,)), ((3, 4), ())]:
    add("rev", f"{_shape} {_dims}", lax_fn("rev", _dims), u(_shape))
for _shape, _start, _limit, _strides in [
        ((7,), (1,), (6,), (2,)), ((5, 6), (1, 0), (4, 6), (2, 3)), ((5,), (2,), (2,), None),
        ((7,), (0,), (7,), (3,)), ((4,), (1,), (4,), None), ((3, 4), (0, 1), (3, 2), (5, 1))]:
    add("slice", f"{_shape} {_start}:{_limit}:{_strides}",
        lax_fn("slice", _start, _limit, _strides), u(_shape))
add("slice", "of x and x", lambda m: lambda x: m.lax.add(
    m.lax.slice(x, (0,), (3,)), m.lax.slice(x, (2,), (5,))), u((5,)))

for _shape, _starts, _sizes in [((6,), (2,), (3,)), ((4, 5), (1, 2), (2, 2)),
                                ((6,), (5,), (3,)), ((6,), (-2,), (3,)), ((4,), (1,), (0,))]:
    add("dynamic_slice", f"{_shape} at {_starts} size {_sizes}",
        lambda m, st=_starts, sz=_sizes: lambda x: m.lax.dynamic_slice(
            x, [np.int32(i) for i in st], sz), u(_shape))
for _shape, _ushape, _starts in [((6,), (3,), (2,)), ((4, 5), (2, 3), (3, 4)),
                                 ((4, 5), (2, 3), (1, 0)), ((4,), (0,), (1,)),
                                 ((3,), (3,), (0,))]:
    add("dynamic_update_slice", f"{_shape} <- {_ushape} at {_starts}",
        lambda m, st=_starts: lambda x, up: m.lax.dynamic_update_slice(
            x, up, [np.int32(i) for i in st]), u(_shape), u(_ushape))

add("concatenate", "rows", lambda m: lambda a, b, c: m.lax.concatenate([a, b, c], 0),
    u((2, 3)), u((1, 3)), u((4, 3)))
add("concatenate", "columns with an empty one", lambda m: lambda a, b, c: m.lax.concatenate(
    [a, b, c], 1), u((2, 1)), u((2, 0)), u((2, 3)))
add("concatenate", "x with itself", lambda m: lambda a: m.lax.concatenate([a, a], 0), u((3,)))

for _shape, _config in [((5,), [(2, 1, 1)]), ((5,), [(-1, -2, 2)]),
                        ((3, 4), [(1, -1, 0), (-2, 3, 1)]), ((4,), [(-2, -2, 1)]),
                        ((2,), [(-3, 0, 1)]), ((0,), [(1, 2, 3)]),
                        ((2, 3), [(0, 0, 0), (0, 0, 0)])]:
    add("pad", f"{_shape} {_config}",
        lambda m, c=_config: lambda x, v: m.lax.pad(x, v, c), u(_shape), u(()))

# ---------------------------------------------------------------------------------------------
# Reductions and contractions

for _shape, _axes in [((3, 4), (0,)), ((3, 4), (1,)), ((3, 4), (0, 1)), ((3, 4), ()),
                      ((0, 3), (1,)), ((0, 3), (0,)), ((), ())]:
    add("reduce_sum", f"{_shape} {_axes}", lax_fn("reduce_sum", _axes), u(_shape))
    add("reduce_prod", f"{_shape} {_axes}", lax_fn("reduce_prod", _axes), away(_shape, 0.5, 1.5))
    for _name in ("reduce_max", "reduce_min"):
        if 0 not in _shape:  # the max of nothing is -inf: no derivative
            add(_name, f"{_shape} {_axes}", lax_fn(_name, _axes), u(_shape))
# reduce_prod is a polynomial: finite differences hold at zeros too.
_zeros = away((3, 4), 0.5, 1.5)
_zeros[0, 1] = 0.0                     # one zero in row 0
_zeros[1, 0] = _zeros[1, 3] = 0.0      # two zeros in row 1
for _axes in [(1,), (0,), (0, 1)]:
    add("reduce_prod", f"with zeros {_axes}", lax_fn("reduce_prod", _axes), _zeros)
add("reduce_prod", "all zeros", lax_fn("reduce_prod", (0,)), np.zeros(3))
_one_zero = away((4,), 0.5, 1.5)
_one_zero[2] = 0.0
add("reduce_prod", "one zero", lax_fn("reduce_prod", (0,)), _one_zero)
_ties_m = arr([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [-1.0, 0.0, 0.5]])
for _name in ("reduce_max", "reduce_min"):
    for _axes in [(1,), (0,), (0, 1)]:
        add(_name, f"ties {_axes}", lax_fn(_name, _axes), _ties_m, fd=False)

_DOTS = [
    ("matmul", (3, 4), (4, 5), (((1,), (0,)), ((), ()))),
    ("batched", (2, 3, 4), (2, 4, 5), (((2,), (1,)), ((0,), (0,)))),
    ("transposed contracting", (4, 3), (5, 4), (((0,), (1,)), ((), ()))),
    ("batch dims inside", (3, 2, 4), (4, 5, 2), (((2,), (0,)), ((1,), (2,)))),
    ("two contracting, crossed", (2, 3, 4), (4, 3, 5), (((1, 2), (1, 0)), ((), ()))),
    ("two batch dims, crossed", (2, 3, 4), (3, 4, 2), (((2,), (1,)), ((0, 1), (2, 0)))),
    ("vector dot", (4,), (4,), (((0,), (0,)), ((), ()))),
    ("outer", (3,), (4,), (((), ()), ((), ()))),
    ("matvec", (3, 4), (4,), (((1,), (0,)), ((), ()))),
    ("empty contraction", (3, 0), (0, 2), (((1,), (0,)), ((), ()))),
]
for _label, _ls, _rs, _dn in _DOTS:
    add("dot_general", _label, lax_fn("dot_general", _dn), u(_ls), u(_rs))
add("dot_general", "x with itself", lambda m: lambda a: m.lax.dot_general(
    a, a, (((1,), (1,)), ((), ()))), u((3, 4)))
add("dot_general", "f32 to f64", lambda m: lambda a, b: m.lax.dot_general(
    a, b, (((1,), (0,)), ((), ())), preferred_element_type=np.float64),
    u((3, 4), dtype=F32), u((4, 2), dtype=F32), fd=False)

# sort: tangents follow the sorting permutation (a gather; its transpose a scatter-add).
# Convolutions and windows (their full coverage: test_lax_conv.py, test_lax_windows.py).
add("conv_general_dilated", "strided, dilated, padded", lambda m: lambda x, w:
    m.lax.conv_general_dilated(x, w, (2, 1), ((1, 0), (0, 1)), (1, 2), (2, 1)),
    u((2, 3, 5, 4)), u((4, 3, 2, 2)))
add("conv_general_dilated", "NHWC, groups", lambda m: lambda x, w: m.lax.conv_general_dilated(
    x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=2),
    u((2, 4, 5, 4)), u((3, 2, 2, 6)))
for _name, _op, _init in [("reduce_window_sum", "add", 0.0), ("reduce_window_max", "max",
                                                                -np.inf),
                          ("reduce_window_min", "min", np.inf)]:
    add(_name, "pool", lambda m, o=_op, i=_init: lambda x: m.lax.reduce_window(
        x, i, getattr(m.lax, o), (2, 3), (1, 2), "SAME"), away((5, 6)))


def _select_and(kind: str) -> Callable[[Any], Callable]:
    """``select_and_gather_add`` / ``select_and_scatter_add`` over 2x2 windows (stride 2) of
    a fixed operand: JAX keeps them private."""
    operand = away((4, 6))

    def build(m: Any) -> Callable:
        if m is jax:
            from jax._src.lax import windowed_reductions as w

            gather = lambda t: w._select_and_gather_add(  # noqa: E731
                t, operand, jax.lax.ge_p, (2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1), (1, 1))
            scatter = lambda s: w._select_and_scatter_add(  # noqa: E731
                s, operand, jax.lax.ge_p, (2, 2), (2, 2), ((0, 0), (0, 0)))
        else:
            gather = lambda t: m.lax.select_and_gather_add(  # noqa: E731
                t, operand, "ge", (2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1), (1, 1))
            scatter = lambda s: m.lax.select_and_scatter_add(  # noqa: E731
                s, operand, "ge", (2, 2), (2, 2), ((0, 0), (0, 0)))
        return gather if kind == "gather" else scatter

    return build


add("select_and_gather_add", "2x2 pool", _select_and("gather"), u((4, 6)))
add("select_and_scatter_add", "2x2 pool", _select_and("scatter"), u((2, 3)))

add("sort", "1-D", lax_fn("sort"), u((7,)))
add("sort", "columns", lambda m: lambda x: m.lax.sort(x, dimension=0), u((4, 3)))
add("sort", "key and value", lambda m: lambda k, v: m.lax.sort((k, v), num_keys=1),
    u((2, 5)), u((2, 5)))
add("sort", "int key", lambda m: lambda k, v: m.lax.sort(
    (m.lax.convert_element_type(m.lax.floor(k), np.int32), v, k), num_keys=2)[1:],
    u((6,)), u((6,)))
add("sort", "empty", lax_fn("sort"), u((0,)))
# Equal keys: the permutation is the stable one (JAX decides).
add("sort", "ties", lax_fn("sort"), arr([1.0, 0.0, 1.0, 2.0, 0.0, -0.0]), fd=False)

# ---------------------------------------------------------------------------------------------
# Gathers and scatters


def gdn(m: Any, offset, collapsed, start_map, obatch=(), ibatch=()) -> Any:
    return m.lax.GatherDimensionNumbers(offset_dims=offset, collapsed_slice_dims=collapsed,
                                        start_index_map=start_map, operand_batching_dims=obatch,
                                        start_indices_batching_dims=ibatch)


def sdn(m: Any, window, inserted, to_operand, obatch=(), ibatch=()) -> Any:
    return m.lax.ScatterDimensionNumbers(update_window_dims=window,
                                         inserted_window_dims=inserted,
                                         scatter_dims_to_operand_dims=to_operand,
                                         operand_batching_dims=obatch,
                                         scatter_indices_batching_dims=ibatch)


def idx(values: Any) -> np.ndarray:
    return np.asarray(values, np.int32)


_GATHERS = [
    # label, operand shape, indices, dimension numbers, slice sizes, mode, fill value
    ("rows, repeated", (5, 3), idx([[0], [3], [3], [1]]), ((1,), (0,), (0,)), (1, 3), "clip",
     None),
    ("overlapping windows", (7,), idx([[1], [4], [3]]), ((1,), (), (0,)), (3,), "clip", None),
    ("points", (4, 5), idx([[0, 1], [3, 4], [0, 1]]), ((), (0, 1), (0, 1)), (1, 1), "clip",
     None),
    ("crossed start map", (4, 5), idx([[1, 2], [0, 3]]), ((1, 2), (), (1, 0)), (2, 2), "clip",
     None),
    ("clipped", (6,), idx([[-2], [4], [9]]), ((1,), (), (0,)), (3,), "clip", None),
    ("filled", (6,), idx([[-2], [2], [9]]), ((1,), (), (0,)), (3,), "fill", 0.5),
    ("filled with nan", (6,), idx([[-2], [2], [9]]), ((1,), (), (0,)), (3,), "fill", None),
    ("batching dims", (2, 5, 3), idx([[[0], [4], [4]], [[2], [1], [0]]]),
     ((2,), (1,), (1,), (0,), (0,)), (1, 1, 3), "clip", None),
    ("no indices", (4, 3), np.zeros((0, 1), np.int32), ((1,), (0,), (0,)), (1, 3), "clip",
     None),
    ("promised in bounds", (5, 3), idx([[4], [0]]), ((1,), (0,), (0,)), (1, 3),
     "promise_in_bounds", None),
]
for _label, _shape, _ix, _dn, _sizes, _mode, _fill in _GATHERS:
    add("gather", _label, lambda m, ix=_ix, dn=_dn, sz=_sizes, md=_mode, fv=_fill: lambda x:
        m.lax.gather(x, ix, gdn(m, *dn), sz, mode=md, fill_value=fv), u(_shape),
        fd=_fill is not None or _mode != "fill")

_SCATTERS = [
    # label, operand shape, indices, updates shape, dimension numbers, mode, unique
    ("rows, repeated", (5, 3), idx([[0], [2], [0]]), (3, 3), ((1,), (0,), (0,)), "clip", False),
    ("overlapping windows", (7,), idx([[1], [3]]), (2, 3), ((1,), (), (0,)), "clip", False),
    ("points", (4, 5), idx([[0, 1], [3, 4], [0, 1]]), (3,), ((), (0, 1), (0, 1)), "clip",
     False),
    ("dropped", (6,), idx([[1], [9], [-3]]), (3,), ((), (0,), (0,)), "drop", False),
    ("dropped windows", (6,), idx([[1], [5]]), (2, 2), ((1,), (), (0,)), "drop", False),
    ("clipped", (6,), idx([[8]]), (1, 2), ((1,), (), (0,)), "clip", False),
    ("batching dims", (2, 5, 3), idx([[[0], [4], [4]], [[2], [1], [0]]]), (2, 3, 3),
     ((2,), (1,), (1,), (0,), (0,)), "clip", False),
    ("unique", (5, 3), idx([[0], [3]]), (2, 3), ((1,), (0,), (0,)), "clip", True),
    ("no updates", (4,), np.zeros((0, 1), np.int32), (0,), ((), (0,), (0,)), "clip", False),
]


def _scatter_case(prim: str, label: str, shape, ix, ushape, dn, mode, unique, operand, updates,
                  **flags: Any) -> None:
    op = prim.replace("-", "_")
    add(prim, label, lambda m: lambda x, up: getattr(m.lax, op)(
        x, ix, up, sdn(m, *dn), mode=mode, unique_indices=unique), operand, updates, **flags)


for _label, _shape, _ix, _ushape, _dn, _mode, _unique in _SCATTERS:
    for _prim in ("scatter-add", "scatter-sub"):
        _scatter_case(_prim, _label, _shape, _ix, _ushape, _dn, _mode, _unique, u(_shape),
                      u(_ushape))
    # scatter: which of repeated indices wins is the implementation's choice (JAX's too),
    # but the derivative must agree with the value.
    _scatter_case("scatter", _label, _shape, _ix, _ushape, _dn, _mode, _unique, u(_shape),
                  u(_ushape))
    # Distinct values (no ties), so the extrema are smooth.
    _vals = _rng.permutation(int(np.prod(_shape)) + int(np.prod(_ushape))) / 4.0 - 3.0
    for _prim in ("scatter-max", "scatter-min"):
        # (JAX's scatter-max/min JVP ignores the mode: its inner gathers drop what a clip
        # scatter clamped, giving inf and nan. Finite differences decide there.)
        _scatter_case(_prim, _label, _shape, _ix, _ushape, _dn, _mode, _unique,
                      _vals[:int(np.prod(_shape))].reshape(_shape),
                      _vals[int(np.prod(_shape)):].reshape(_ushape), jax=_label != "clipped")
    # scatter-mul: differentiable in the updates only with unique indices (as in JAX).
    if _unique or _label == "no updates":
        _scatter_case("scatter-mul", _label, _shape, _ix, _ushape, _dn, _mode, True,
                      u(_shape), u(_ushape))
    else:
        _up = u(_ushape)
        add("scatter-mul", f"{_label}, operand only",
            lambda m, ix=_ix, dn=_dn, md=_mode, up=_up: lambda x: m.lax.scatter_mul(
                x, ix, up, sdn(m, *dn), mode=md), u(_shape))
# Ties between the operand and updates, and among updates: JAX decides.
for _prim in ("scatter-max", "scatter-min"):
    _scatter_case(_prim, "ties", (4,), idx([[0], [0], [1], [2]]), (4,), ((), (0,), (0,)),
                  "clip", False, arr([1.0, 2.0, 5.0, 0.0]), arr([1.0, 1.0, 2.0, 0.0]),
                  fd=False)

# ---------------------------------------------------------------------------------------------
# Ops with regions


def _custom_jvp_sin_times_x(m: Any) -> Callable:
    f = m.custom_jvp(lambda x: m.lax.mul(m.lax.sin(x), x))

    @f.defjvp
    def f_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        deriv = m.lax.add(m.lax.mul(m.lax.cos(x), x), m.lax.sin(x))
        return f(x), m.lax.mul(t, deriv)

    return lambda x: m.lax.add(m.lax.mul(f(x), 2.0), x)


def _custom_jvp_halved(m: Any) -> Callable:
    # A rule that is not the function's derivative: only the rule counts.
    f = m.custom_jvp(lambda x, y: m.lax.mul(x, y))

    @f.defjvp
    def f_jvp(primals, tangents):
        (x, y), (tx, ty) = primals, tangents
        return f(x, y), m.lax.add(m.lax.mul(m.lax.mul(tx, y), 0.5), m.lax.mul(ty, x))

    return lambda x, y: m.lax.sin(f(x, y))


def _custom_jvp_defjvps(m: Any) -> Callable:
    f = m.custom_jvp(lambda x, y: m.lax.mul(m.lax.exp(x), y))
    f.defjvps(lambda tx, ans, x, y: m.lax.mul(tx, ans),
              lambda ty, ans, x, y: m.lax.mul(ty, m.lax.exp(x)))
    return f


add("custom_jvp_call", "sin(x) x", _custom_jvp_sin_times_x, u((4,)))
add("custom_jvp_call", "scalar", _custom_jvp_sin_times_x, u(()))
add("custom_jvp_call", "own rule", _custom_jvp_halved, u((3,)), u((3,)), fd=False)
add("custom_jvp_call", "defjvps", _custom_jvp_defjvps, u((3,)), u((3,)))


def _custom_vjp_sin_times_x(m: Any) -> Callable:
    f = m.custom_vjp(lambda x: m.lax.mul(m.lax.sin(x), x))

    def fwd(x):
        return f(x), x

    def bwd(x, ct):
        return (m.lax.mul(ct, m.lax.add(m.lax.mul(m.lax.cos(x), x), m.lax.sin(x))),)

    f.defvjp(fwd, bwd)
    return lambda x: m.lax.add(m.lax.mul(f(x), 2.0), x)


def _custom_vjp_pair(m: Any) -> Callable:
    # Two arguments, a residual that is a pair, and a zero (None) cotangent.
    f = m.custom_vjp(lambda x, y: m.lax.mul(m.lax.exp(x), y))

    def fwd(x, y):
        e = m.lax.exp(x)
        return m.lax.mul(e, y), (e, y)

    def bwd(res, ct):
        e, y = res
        return m.lax.mul(m.lax.mul(ct, e), y), None

    f.defvjp(fwd, bwd)
    return lambda x, y: m.lax.add(f(x, y), m.lax.mul(y, y))


add("custom_vjp_call", "sin(x) x", _custom_vjp_sin_times_x, u((4,)), jvp=False)
add("custom_vjp_call", "scalar", _custom_vjp_sin_times_x, u(()), jvp=False)
add("custom_vjp_call", "own rule", _custom_vjp_pair, u((3,)), u((3,)), jvp=False, fd=False)


def _nested_jit(m: Any) -> Callable:
    # A jitted function called inside the traced one: one jit op (JAX's equation) whose
    # transformation rules inline its region.
    g = m.jit(lambda x, y: m.lax.mul(m.lax.sin(x), y))
    return lambda x, y: m.lax.add(g(x, y), x)


add("jit", "nested", _nested_jit, u((3,)), u((3,)))
add("jit", "scalar", _nested_jit, u(()), u(()))


def _fusion(m: Any) -> Callable:
    # llax only: fusion ops come from the fusion pass; here one is bound directly.
    ty = TensorType((5,), F64)
    body = build_function(lambda a, b: [llax.lax.mul(llax.lax.sin(a), b), llax.lax.add(a, b)],
                          [ty, ty], "body")
    reduce = build_function(lambda a: [llax.lax.reduce_sum(llax.lax.mul(a, a), (0,))], [ty],
                            "reduction")

    def f(x, y):
        s, t = bind(P.fusion, (x, y), {}, (body,))
        (r,) = bind(P.fusion, (s,), {}, (reduce,))
        return llax.lax.mul(t, r), s

    return f


add("fusion", "two fusions", _fusion, u((5,)), u((5,)), jax=False)


# Control flow. Each region reads closed-over values (consts) somewhere, so their tangents
# and cotangents go through the op's operands.


def _cond_by_sign(m: Any) -> Callable:
    def f(x, y):
        return m.lax.cond(m.numpy.sum(x) > 0, lambda a: m.numpy.sin(a) * y,
                          lambda a: a * a - y, x)

    return f


def _switch_pair(m: Any, index: int) -> Callable:
    # Three branches, two outputs.
    branches = [lambda a, b: (a * b, m.numpy.exp(a)),
                lambda a, b: (m.numpy.cos(a), a + b),
                lambda a, b: (b, m.numpy.tanh(a) * b)]
    return lambda x, y: m.lax.switch(index, branches, x, y)


def _cond_int_operand(m: Any) -> Callable:
    # An integer operand and an integer output next to the float ones.
    def f(x):
        n = m.lax.convert_element_type(m.numpy.sum(x), np.int32)
        return m.lax.cond(n > 1, lambda a, k: (a * k, k + 1), lambda a, k: (-a, k), x, n)

    return f


def add_control_flow(prim: str, label: str, build: Callable[[Any], Callable],
                     *args: np.ndarray) -> None:
    add(prim, label, build, *args, primal_rtol=1e-15)


add_control_flow("cond", "true branch", _cond_by_sign, u((3,), 0.2, 2), u((3,)))
add_control_flow("cond", "false branch", _cond_by_sign, u((3,), -2, -0.2), u((3,)))
for _i in range(3):
    add_control_flow("cond", f"switch branch {_i}", lambda m, i=_i: _switch_pair(m, i),
                     u((2,)), u((2,)))
add_control_flow("cond", "int operand", _cond_int_operand, u((3,), 0.5, 2))


def _scan_rnn(m: Any) -> Callable:
    # consts (W), a carry, xs and ys.
    def f(w, h, xs):
        return m.lax.scan(lambda h, x: (m.numpy.tanh(w @ h + x), h * x), h, xs)

    return f


def _scan_pytree(m: Any, reverse: bool) -> Callable:
    # A carry that is a pytree, two xs, two ys, a carry whose tangent starts zero (the
    # constant 1.0) and turns non-zero, and an integer carry without a tangent.
    def step(carry, xs):
        i, (a, b) = carry["i"], carry["ab"]
        x, z = xs
        fi = m.lax.convert_element_type(i, np.float64)
        new = {"i": i + 1, "ab": (a * m.numpy.cos(x) + b, b * z + fi)}
        return new, {"y": a * z, "s": m.numpy.sum(a)}

    def f(a, xs, zs):
        init = {"i": np.int32(0), "ab": (a, m.numpy.ones(()))}
        carry, ys = m.lax.scan(step, init, (xs, zs), reverse=reverse)
        return (*carry["ab"], ys["y"], ys["s"])  # (the harness takes tuples of arrays)

    return f


def _scan_nested(m: Any) -> Callable:
    def f(c, xs):
        def outer(c, x):
            inner, ys = m.lax.scan(lambda d, z: (m.numpy.sin(d) * z + c, d), c, x)
            return inner, ys

        return m.lax.scan(outer, c, xs)

    return f


add_control_flow("scan", "rnn", _scan_rnn, u((3, 3), -0.5, 0.5), u((3,)), u((5, 3)))
add_control_flow("scan", "pytree", lambda m: _scan_pytree(m, False), u((2,)), u((4, 2)),
                 u((4,)))
add_control_flow("scan", "pytree reverse", lambda m: _scan_pytree(m, True), u((2,)),
                 u((4, 2)), u((4,)))
add_control_flow("scan", "nested", _scan_nested, u(()), u((3, 2)))
add_control_flow("scan", "length 0", _scan_rnn, u((3, 3)), u((3,)), u((0, 3)))
add_control_flow("scan", "fori_loop", lambda m: lambda x, y: m.lax.fori_loop(
    0, 4, lambda i, c: m.numpy.sin(c) * y + m.lax.convert_element_type(i, np.float64), x),
    u((2,)), u((2,)))
add_control_flow("scan", "map", lambda m: lambda xs, y: m.lax.map(lambda x: m.numpy.exp(x) * y, xs),
    u((4, 2)), u((2,)))


# ---------------------------------------------------------------------------------------------
# Running a case


def leaves(x: Any) -> list[Any]:
    return list(x) if isinstance(x, (tuple, list)) else [x]


def is_float(x: Any) -> bool:
    return np.dtype(x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype).kind == "f"


@dataclass
class Data:
    """A case's inputs, a random direction and a random output cotangent."""

    args: tuple[np.ndarray, ...]
    ts: tuple[np.ndarray, ...]
    cts: list[np.ndarray]
    float_outs: list[bool]
    tuple_out: bool  # fn returns a tuple (else one array)

    def out_tree(self, values: Sequence[Any]) -> Any:
        """``values`` in the structure of the function's output."""
        return tuple(values) if self.tuple_out else values[0]


def data_for(case: Case, fn: Callable) -> Data:
    rng = np.random.default_rng(zlib.crc32(case.label.encode()))
    ts = tuple(rng.standard_normal(a.shape).astype(a.dtype) for a in case.args)
    out = fn(*case.args)
    outs = [np.asarray(o) for o in leaves(out)]
    cts = [rng.standard_normal(o.shape).astype(o.dtype) for o in outs if is_float(o)]
    return Data(case.args, ts, cts, [is_float(o) for o in outs], isinstance(out, (tuple, list)))


def scale_of(*xs: Any) -> float:
    finite = [np.abs(np.asarray(x, F64)) for x in xs if np.asarray(x).size]
    finite = [a[np.isfinite(a)] for a in finite]
    return 1.0 + max((float(a.max()) for a in finite if a.size), default=0.0)


def close(got: Any, want: Any, rtol: float, what: str, atol: float | None = None) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    np.testing.assert_allclose(got.astype(F64), want.astype(F64), rtol=rtol,
                               atol=rtol * scale_of(want) if atol is None else atol,
                               equal_nan=True, err_msg=what)


def inner(xs: Sequence[Any], ys: Sequence[Any]) -> float:
    return float(sum(np.sum(np.asarray(x, F64) * np.asarray(y, F64)) for x, y in zip(xs, ys)))


def all_finite(*groups: Sequence[Any]) -> bool:
    return all(np.all(np.isfinite(np.asarray(x, F64))) for g in groups for x in g)


def finite_differences(fn: Callable, d: Data, eps: float = 1e-6) -> list[np.ndarray]:
    """Central differences of every output of ``fn`` at ``d.args`` along ``d.ts``."""
    plus = leaves(fn(*(a + eps * t for a, t in zip(d.args, d.ts))))
    minus = leaves(fn(*(a - eps * t for a, t in zip(d.args, d.ts))))
    return [(np.asarray(p, F64) - np.asarray(m, F64)) / (2 * eps) for p, m in zip(plus, minus)]


def eager_derivatives(case: Case, fn: Callable, d: Data) -> tuple[list | None, list | None]:
    """(JVP tangents of the float outputs, VJP cotangents), eagerly, with their checks."""
    low = any(a.dtype == F32 for a in d.args) or any(
        np.asarray(o).dtype == F32 for o in leaves(fn(*d.args)))
    rtol = 1e-5 if low else 1e-9
    tans = None
    if case.jvp:
        out, tan = llax.jvp(fn, d.args, d.ts)
        close_outs = [np.asarray(o) for o in leaves(fn(*d.args))]
        for o, want in zip(leaves(out), close_outs):
            if case.primal_rtol:
                close(o, want, case.primal_rtol, f"{case.label}: primal")
            else:
                np.testing.assert_array_equal(np.asarray(o), want,
                                              err_msg=f"{case.label}: primal")
        tans = []
        for o, t in zip(leaves(out), leaves(tan)):
            if is_float(o):
                assert np.asarray(t).dtype == np.asarray(o).dtype, case.label
                tans.append(np.asarray(t))
            else:  # integer and bool results have float0 tangents, as in JAX
                assert np.asarray(t).dtype == FLOAT0, f"{case.label}: {np.asarray(t).dtype}"
                assert np.asarray(t).shape == np.asarray(o).shape, case.label
        if case.zero:
            for t in tans:
                np.testing.assert_array_equal(t, np.zeros_like(t), err_msg=case.label)
        if case.fd and not low:
            fds = [fd for fd, f in zip(finite_differences(fn, d), d.float_outs) if f]
            for t, fd, o in zip(tans, fds, [o for o in leaves(out) if is_float(o)]):
                close(t, fd, case.rtol, f"{case.label}: JVP vs finite differences",
                      atol=1e-8 * scale_of(o, t))
    cts = None
    if all(d.float_outs):  # (an integer output's cotangent would be float0)
        _, pullback = llax.vjp(fn, *d.args)
        cts = [np.asarray(c) for c in pullback(d.out_tree(d.cts))]
        for c, a in zip(cts, d.args):
            assert c.shape == a.shape and c.dtype == a.dtype, f"{case.label}: {c.dtype}"
        if tans is not None and all_finite(cts, tans, d.cts):
            # The inner-product test: the VJP is the transpose of the JVP.
            lhs, rhs = inner(cts, d.ts), inner(d.cts, tans)
            size = inner([np.abs(c) for c in cts], [np.abs(t) for t in d.ts]) + \
                inner([np.abs(c) for c in d.cts], [np.abs(t) for t in tans])
            assert abs(lhs - rhs) <= rtol * (1.0 + size), \
                f"{case.label}: <vjp(ct), t> = {lhs} but <ct, jvp(t)> = {rhs}"
        elif tans is None and case.fd and not low:
            # No forward mode (custom_vjp): the VJP against finite differences directly.
            lhs, rhs = inner(cts, d.ts), inner(d.cts, finite_differences(fn, d))
            assert abs(lhs - rhs) <= case.rtol * (1.0 + abs(rhs)), \
                f"{case.label}: <vjp(ct), t> = {lhs} but finite differences give {rhs}"
    return tans, cts


def check_against_jax(cases: list[Case], data: list[Data],
                      expected: list[tuple[list | None, list | None]]) -> None:
    """JAX's JVPs and VJPs of the same functions (all in one jax.jit: eager JAX would
    compile every op), against ours."""

    def derivatives(case: Case, d: Data, args, ts, cts) -> tuple[list | None, list | None]:
        jfn = case.build(jax)
        tans = vcts = None
        if case.jvp:
            out, tan = jax.jvp(jfn, tuple(args), tuple(ts))
            for t in leaves(tan):
                assert is_float(t) or t.dtype == FLOAT0, case.label
            tans = [t for o, t in zip(leaves(out), leaves(tan)) if is_float(o)]
        if all(d.float_outs):
            vcts = list(jax.vjp(jfn, *args)[1](d.out_tree(cts)))
        return tans, vcts

    for case, d in zip(cases, data):
        if not case.jvp:  # custom_vjp: no forward mode in either system
            with pytest.raises(TypeError, match="custom_vjp"):
                jax.jvp(case.build(jax), d.args, d.ts)
            with pytest.raises(TypeError, match="custom_vjp"):
                llax.jvp(case.build(LLAX), d.args, d.ts)
    inputs = [(list(d.args), list(d.ts), list(d.cts)) for d in data]
    want = jax.jit(lambda inputs: [derivatives(c, d, *i) for c, d, i in zip(cases, data, inputs)]
                   )(inputs)
    for case, d, (tans, cts), (jtans, jcts) in zip(cases, data, expected, want):
        rtol = 1e-5 if any(a.dtype == F32 for a in d.args) else 1e-8
        for what, ours, theirs in (("JVP", tans, jtans), ("VJP", cts, jcts)):
            for got, w in zip(ours or [], theirs or []):
                assert got.dtype == np.asarray(w).dtype, f"{case.label}: {what} dtype vs JAX"
                close(got, w, rtol, f"{case.label}: {what} vs JAX")


def check_jit(cases: list[Case], fns: list[Callable], data: list[Data],
              expected: list[tuple[list | None, list | None]], backend: str = "native") -> None:
    """All the cases' JVPs and VJPs in one jitted function, against the eager values."""

    def derivatives(case: Case, fn: Callable, d: Data, args, ts, cts) -> list:
        outs = []
        if case.jvp:
            out, tan = llax.jvp(fn, tuple(args), tuple(ts))
            outs += [t for o, t in zip(leaves(out), leaves(tan)) if is_float(o)]
        if all(d.float_outs):
            outs += list(llax.vjp(fn, *args)[1](d.out_tree(cts)))
        return outs

    def run_all(inputs):
        return [derivatives(c, f, d, *i) for c, f, d, i in zip(cases, fns, data, inputs)]

    inputs = [(list(d.args), list(d.ts), list(d.cts)) for d in data]
    try:
        got = llax.jit(run_all, backend=backend)(inputs)
    except Exception:
        for c, f, d, i in zip(cases, fns, data, inputs):  # name the case that fails
            try:
                llax.jit(lambda i, c=c, f=f, d=d: derivatives(c, f, d, *i),
                         backend=backend)(i)
            except Exception as e:
                raise AssertionError(f"{c.label} fails under jit: {type(e).__name__}: {e}") \
                    from e
        raise
    for case, g, (tans, cts) in zip(cases, got, expected):
        want = (tans or []) + (cts or [])
        assert len(g) == len(want), case.label
        for x, y in zip(g, want):
            assert np.asarray(x).dtype == y.dtype, f"{case.label}: dtype under jit"
            close(x, y, 1e-5 if y.dtype == F32 else 1e-9, f"{case.label}: jit vs eager")


def verify_transforms(case: Case, fn: Callable) -> None:
    """The IR verifier on the JVP, its split into known and linear parts, and the transpose
    (the transformations do not go through the pass manager, which verifies passes)."""
    traced = trace_flat(fn, list(case.args), case.label)
    n_capt, n_res = len(traced.captured), len(traced.fn.results)
    diff = [True] * len(case.args)
    jfn, consts = jvp_function(traced.fn, [False] * n_capt + diff)
    verify(jfn)
    split = partial_eval(jfn, [False] * (len(consts) + len(traced.fn.params)) + diff,
                         [False] * n_res + [True] * n_res)
    verify(split.known)
    verify(split.staged)
    n_lin = len(split.staged.params) - split.num_residuals
    if all(r.type.dtype.kind == "f" for r in traced.fn.results):
        verify(transpose_function(split.staged, [False] * split.num_residuals + [True] * n_lin)[0])


def check_cases(name: str, cases: list[Case]) -> None:
    fns, data, expected = [], [], []
    for case in cases:
        fn = case.build(LLAX)
        eqns = llax.make_jaxpr(fn)(*case.args).jaxpr.eqns
        assert name in {e.primitive.name for e in eqns}, \
            f"{case.label} does not use {name}: {[e.primitive.name for e in eqns]}"
        d = data_for(case, fn)
        tans, cts = eager_derivatives(case, fn, d)
        verify_transforms(case, fn)
        fns.append(fn)
        data.append(d)
        expected.append((tans, cts))
    with_jax = [i for i, c in enumerate(cases) if c.jax]
    if with_jax:
        check_against_jax(*([seq[i] for i in with_jax] for seq in (cases, data, expected)))
    check_jit(cases, fns, data, expected)


# ---------------------------------------------------------------------------------------------
# The registry walk


DIFFERENTIATED = sorted(n for n in PRIMITIVES if n not in NOT_DIFFERENTIABLE)


def test_every_primitive_has_a_rule_or_a_reason():
    missing = []
    for name, prim in PRIMITIVES.items():
        if name in NOT_DIFFERENTIABLE:
            assert NOT_DIFFERENTIABLE[name].strip(), name
            assert prim not in jvp_rules and prim not in zero_tangent, \
                f"{name} is listed as not differentiable but has a rule"
        elif prim in zero_tangent:
            assert zero_tangent[prim].strip(), f"{name}: a zero tangent needs a reason"
            assert prim not in jvp_rules, f"{name} has both a JVP rule and a zero tangent"
        elif prim not in jvp_rules:
            missing.append(name)
    assert not missing, f"primitives with no JVP rule and no stated reason: {missing}"
    assert set(NOT_DIFFERENTIABLE) <= set(PRIMITIVES)


def test_rule_tables_hold_registered_primitives_only():
    registered = set(PRIMITIVES.values())
    for table in (jvp_rules, zero_tangent, transpose_rules):
        assert set(table) <= registered


def test_every_case_names_a_primitive():
    assert set(CASES) <= set(PRIMITIVES)
    assert not set(CASES) & set(NOT_DIFFERENTIABLE)


@pytest.mark.parametrize("name", DIFFERENTIATED)
def test_primitive(name: str):
    """JVP vs finite differences, VJP vs JVP, JAX, the verifier and jit, for every case of
    ``name``; a differentiable primitive without cases fails here."""
    special = SPECIAL.get(name)
    if special is not None:
        special()
        return
    assert name in CASES, f"no autodiff test case for primitive {name!r}: add one"
    check_cases(name, CASES[name])


# ---------------------------------------------------------------------------------------------
# Collectives: differentiated inside vmap, which binds their axis


def _psum_functions(m: Any) -> dict[str, Callable]:
    lax = m.lax

    def g(x):
        return lax.mul(lax.psum(lax.sin(x), "i"), x)

    def jvp(xs, ts):
        return m.vmap(lambda x, t: m.jvp(g, (x,), (t,)), axis_name="i")(xs, ts)

    def vjp(xs, cs):
        return m.vmap(lambda x, c: m.vjp(g, x)[1](c)[0], axis_name="i")(xs, cs)

    def grad_mean(xs):
        return m.vmap(m.grad(lambda x: lax.pmean(lax.mul(x, x), "i")), axis_name="i")(xs)

    def grad_unbatched(xs, w):
        # w is the same on every example: its cotangents from all examples add up.
        return m.vmap(lambda x: m.grad(lambda w: lax.psum(lax.mul(w, x), "i"))(w),
                      axis_name="i")(xs)

    return {"batched": g, "jvp": jvp, "vjp": vjp, "grad_mean": grad_mean,
            "grad_unbatched": grad_unbatched}


def check_psum() -> None:
    xs, ts, cs, w, v = u((4, 3)), u((4, 3)), u((4, 3)), u(()), u((4,))
    ours, theirs = _psum_functions(llax), _psum_functions(jax)

    def batched(xs):
        return llax.vmap(ours["batched"], axis_name="i")(xs)

    out, tan = ours["jvp"](xs, ts)
    eps = 1e-6
    fd = (np.asarray(batched(xs + eps * ts)) - np.asarray(batched(xs - eps * ts))) / (2 * eps)
    close(tan, fd, 1e-6, "psum: JVP vs finite differences")
    ct = np.asarray(ours["vjp"](xs, cs))
    lhs, rhs = inner([ct], [ts]), inner([cs], [tan])
    assert abs(lhs - rhs) <= 1e-9 * (1 + abs(lhs)), f"psum: {lhs} != {rhs}"
    for key, args in [("jvp", (xs, ts)), ("vjp", (xs, cs)), ("grad_mean", (v,)),
                      ("grad_unbatched", (v, w))]:
        want = theirs[key](*args)
        got = ours[key](*args)
        for g, wv in zip(leaves(got), leaves(want)):
            close(g, wv, 1e-9, f"psum: {key} vs JAX")
        jitted = llax.jit(ours[key])(*args)
        for g, wv in zip(leaves(jitted), leaves(want)):
            close(g, wv, 1e-9, f"psum: {key} under jit vs JAX")


def check_axis_index() -> None:
    xs, ts = u((4,)), u((4,))

    def make(m):
        def g(x):
            return m.lax.mul(m.lax.convert_element_type(m.lax.axis_index("i"), np.float64), x)

        return lambda xs, ts: m.vmap(lambda x, t: m.jvp(g, (x,), (t,)), axis_name="i")(xs, ts)

    want = make(jax)(xs, ts)
    for got in (make(llax)(xs, ts), llax.jit(make(llax))(xs, ts)):
        for g, w in zip(got, want):
            close(g, w, 1e-12, "axis_index vs JAX")


def _while_sin(m: Any) -> Callable:
    # An integer counter, a float carry and a closed-over value.
    def f(x, y):
        def body(c):
            i, a = c
            return i + 1, m.numpy.sin(a) * y + a

        return m.lax.while_loop(lambda c: c[0] < 4, body, (0, x))[1]

    return f


WHILE_ERROR = ("Reverse-mode differentiation does not work for lax.while_loop or lax.fori_loop "
               "with dynamic start/stop values. Try using lax.scan, or using fori_loop with "
               "static start/stop.")


def check_while() -> None:
    """Forward mode against finite differences, JAX and jit; reverse mode is JAX's error."""
    case = Case("while:sin", _while_sin, (u((3,)), u((3,))))
    fn = case.build(LLAX)
    d = data_for(case, fn)
    out, tan = llax.jvp(fn, d.args, d.ts)
    (fd,) = finite_differences(fn, d)
    close(tan, fd, 1e-6, "while: JVP vs finite differences", atol=1e-8 * scale_of(out, tan))
    want_out, want_tan = jax.jvp(case.build(jax), d.args, d.ts)
    close(out, want_out, 1e-12, "while: primal vs JAX")
    close(tan, want_tan, 1e-12, "while: JVP vs JAX")
    jitted = llax.jit(lambda a, t: llax.jvp(fn, a, t))
    for got, want in zip(jitted(d.args, d.ts), (want_out, want_tan)):
        close(got, want, 1e-12, "while: JVP under jit vs JAX")
    verify(jvp_function(trace_flat(fn, list(d.args), "while").fn, [True, True])[0])
    for m in (llax, jax):
        with pytest.raises(ValueError) as e:
            m.vjp(case.build(m), *d.args)[1](d.cts[0])
        assert str(e.value) == WHILE_ERROR


def check_effect_callback(name: str) -> Callable[[], None]:
    """debug_print / debug_callback: differentiating runs the callback on the primals and
    leaves the derivative of the rest unchanged (more in test_callbacks.py)."""
    def check() -> None:
        seen = []
        call = {"debug_print": lambda x: llax.debug.print("{}", x),
                "debug_callback": lambda x: llax.debug.callback(seen.append, x)}[name]

        def f(x):
            call(x)
            return llax.numpy.sin(x) * x

        for g in (llax.grad(f), llax.jit(llax.grad(f))):
            seen.clear()
            np.testing.assert_allclose(g(0.75), np.cos(0.75) * 0.75 + np.sin(0.75), rtol=1e-12)
            if name == "debug_callback":
                assert [float(v) for v in seen] == [0.75]
    return check


def check_refused_callback(name: str, message: str) -> Callable[[], None]:
    """pure_callback / io_callback: differentiating raises JAX's error."""
    def check() -> None:
        fn = {"pure_callback": llax.pure_callback,
              "io_callback": llax.experimental.io_callback}[name]
        sds = llax.ShapeDtypeStruct((), np.float64)
        with pytest.raises(ValueError, match=message):
            llax.grad(lambda x: fn(np.sin, sds, x))(0.5)
    return check


def check_eig() -> None:
    """eig's JVP (eigenvalues): grad of a real function of the eigenvalues vs JAX (the
    eigenvector rules are in test_linalg_eig.py)."""
    a = np.random.default_rng(0).standard_normal((4, 4)).astype(np.float32)

    def loss(m: Any, x: Any) -> Any:
        w = m.numpy.linalg.eigvals(x)
        return m.numpy.sum(m.numpy.real(w) ** 2 + m.numpy.imag(w) * 0.5)

    got = llax.grad(lambda x: loss(llax, x))(a)
    want = jax.grad(lambda x: loss(jax, x))(a)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-5)


def check_fft() -> None:
    """fft's JVP and transpose (it is linear): grad through rfft and irfft vs JAX, and jit;
    every transform's rules are in test_fft.py."""
    x = np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32)

    def loss(m: Any, v: Any) -> Any:
        spectrum = m.numpy.fft.rfft(v * v)
        return m.numpy.sum(m.numpy.fft.irfft(spectrum * spectrum, n=8)) + m.numpy.sum(
            m.numpy.abs(spectrum))

    want = np.asarray(jax.grad(lambda v: loss(jax, v))(x))
    for grad in (llax.grad(lambda v: loss(llax, v)), llax.jit(llax.grad(lambda v: loss(llax, v)))):
        np.testing.assert_allclose(np.asarray(grad(x)), want, rtol=1e-4, atol=1e-4)


SPECIAL: dict[str, Callable[[], None]] = {
    "eig": check_eig, "fft": check_fft,
    **{name: functools.partial(check_linalg_primitive, name)
       for name in ("lu", "triangular_solve", "cholesky", "eigh", "svd")},
    "psum": check_psum, "axis_index": check_axis_index, "while": check_while,
    "debug_print": check_effect_callback("debug_print"),
    "debug_callback": check_effect_callback("debug_callback"),
    "pure_callback": check_refused_callback("pure_callback", "Pure callbacks do not support JVP"),
    "io_callback": check_refused_callback("io_callback", "IO callbacks do not support JVP"),
    **{name: functools.partial(check_complex_primitive, name)
       for name in ("complex", "real", "imag", "conj")},
}


@pytest.mark.parametrize("name", ["pmax", "pmin"])
def test_pmax_pmin_have_no_derivative_as_in_jax(name: str):
    xs = u((3,))
    for m in (llax, jax):
        fn = getattr(m.lax, name)
        with pytest.raises(NotImplementedError):
            m.vmap(lambda x, fn=fn, m=m: m.jvp(lambda x: fn(x, "i"), (x,), (x,)),
                   axis_name="i")(xs)


def test_nextafter_has_no_derivative_as_in_jax():
    x, y = u((3,)), u((3,))
    for m in (llax, jax):
        with pytest.raises(NotImplementedError):
            m.jvp(m.lax.nextafter, (x, y), (x, y))
        with pytest.raises(NotImplementedError):
            m.grad(lambda x, m=m: m.lax.reduce_sum(m.lax.nextafter(x, y), (0,)))(x)


# ---------------------------------------------------------------------------------------------
# Accumulation and broadcasting through whole functions


def test_value_used_many_times_accumulates_cotangents():
    def f(x):
        return x * x + llax.numpy.sin(x) * x

    for x in (0.3, -1.7, 2.0):
        want = 2 * x + np.cos(x) * x + np.sin(x)
        close(llax.grad(f)(x), want, 1e-12, f"grad at {x}")
        close(llax.jit(llax.grad(f))(x), want, 1e-12, f"jit(grad) at {x}")


def test_broadcast_scalar_operand_sums_cotangents():
    v = u((3, 4))

    def f(s, v):
        return llax.lax.reduce_sum(llax.lax.add(llax.lax.mul(s, v), s), (0, 1))

    gs, gv = llax.grad(f, argnums=(0, 1))(np.float64(0.7), v)
    close(gs, v.sum() + v.size, 1e-12, "scalar operand's cotangent")
    close(gv, np.full_like(v, 0.7), 1e-12, "array operand's cotangent")


def test_transpose_of_custom_lin_runs_bwd():
    # custom_lin is never differentiated, only transposed: reverse mode of a custom_vjp.
    assert P.custom_lin in transpose_rules
    case = CASES["custom_vjp_call"][0]
    traced = trace_flat(case.build(LLAX), list(case.args), "f")
    jfn, _ = jvp_function(traced.fn, [False] * len(traced.captured) + [True])
    assert "custom_lin" in {op.prim.name for op in jfn.ops}
