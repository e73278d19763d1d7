"""Elementwise ``llax.numpy`` functions, built from two tables.

Each function promotes its operands under a policy (see ``_coerce.POLICIES``)
and then applies an implementation chosen by the dtype it computes in: usually
one primitive, sometimes a short composition (floor_divide, hypot...) or the
identity (``floor`` of an integer). Both choices are made once per operand type
signature and cached, so a repeated call is a dict lookup plus the ``bind``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from llax.config import config
from llax.frontend import core
from llax.frontend.core import Array, Tracer, bind
from llax.frontend.custom_derivatives import custom_jvp
from llax.frontend.jnp import _coerce
from llax.frontend.jnp._coerce import (
    as_operand,
    broadcast_to_shape,
    checked_signature,
    convert,
    dtype_and_weak,
    make_plan,
    promote,
    scalar_constant,
    signature,
)
from llax.frontend.jnp._ufunc_class import check_call_keywords, ufunc
from llax.ir import dtypes
from llax.ir import prims as P

_NO_PARAMS: dict = {}
Impl = Callable[..., Any]


def _prim(prim: P.Primitive, **params: Any) -> Impl:
    if len(params) == 0:
        params = _NO_PARAMS
    return lambda *args: bind(prim, args, params)


def _const(value: float | int | bool, x: Any) -> Any:
    """A weak constant of ``x``'s dtype (what a Python literal in the formula would be)."""
    return scalar_constant(value, x.dtype, True)


def _strong_const(value: float | int | bool, x: Any) -> Any:
    return scalar_constant(value, x.dtype, False)


def _identity(x: Any) -> Any:
    return x


def _select(pred: Any, on_true: Any, on_false: Any) -> Any:
    # select_n wants cases of one shape: rank-0 constants in the formulas are broadcast.
    shape = max((pred.shape, on_true.shape, on_false.shape), key=len)
    if on_true.shape != shape:
        on_true = broadcast_to_shape(on_true, shape)
    if on_false.shape != shape:
        on_false = broadcast_to_shape(on_false, shape)
    if pred.shape not in ((), shape):
        pred = broadcast_to_shape(pred, shape)
    return bind(P.select_n, (pred, on_false, on_true), _NO_PARAMS)


def _full_like_bool(x: Any, value: bool, keep_weak: bool = False) -> Any:
    # keep_weak: JAX's isnan(2) is a weak bool (it is x != x), isinf(2) is not.
    const = scalar_constant(value, dtypes.bool_, keep_weak and bool(x.weak_type))
    if not x.shape:
        return const
    return bind(P.broadcast_in_dim, (const,), {"shape": x.shape, "broadcast_dimensions": ()})


# Primitive shorthands used by the compositions below.
_add, _sub, _mul, _div, _rem = (_prim(p) for p in (P.add, P.sub, P.mul, P.div, P.rem))
_eq, _ne, _lt, _gt = (_prim(p) for p in (P.eq, P.ne, P.lt, P.gt))
_and, _or, _not = _prim(P.and_), _prim(P.or_), _prim(P.not_)
_abs, _neg, _sign, _max, _min = (_prim(p) for p in (P.abs, P.neg, P.sign, P.max, P.min))
_sqrt, _log, _sin, _floor, _ceil = (_prim(p) for p in (P.sqrt, P.log, P.sin, P.floor, P.ceil))
_log1p = _prim(P.log1p)


# ---------------------------------------------------------------------------------------------
# Compositions, written for operands already promoted to a common dtype.


def _isnan(x: Any) -> Any:
    return _ne(x, x)


def _signbit(x: Any) -> Any:
    if dtypes.kind(x.dtype) == "f":
        # The sign bit itself (set for -0.0 and for NaNs like the CPU's default one), read
        # as a signed integer of the same width, as JAX does.
        signed = np.dtype(f"i{x.dtype.itemsize}")
        bits = bind(P.bitcast_convert_type, (x,), {"new_dtype": signed})
        return _lt(bits, _strong_const(0, bits))
    if dtypes.kind(x.dtype) == "i":
        return _lt(x, _strong_const(0, x))
    return _full_like_bool(x, False)


def _log_base(base: float) -> Impl:
    """``log(x)`` in ``base``, in JAX's ops: log10 is ``log(x) * (1 / log(10))`` (a constant
    rounded once), log2 is ``log(x) / log(2)``; the constants are strong, so the result is
    never weak (as in JAX). A complex logarithm's parts are scaled apart."""

    def log_base(x: Any) -> Any:
        part = dtypes.real_part(x.dtype)
        if base == 10.0:
            factor = scalar_constant(1 / math.log(10), part, False)
            scale = lambda v: _mul(v, factor)  # noqa: E731
        else:
            denominator = _log(scalar_constant(base, part, False))
            scale = lambda v: _div(v, denominator)  # noqa: E731
        out = _log(x)
        if dtypes.kind(x.dtype) != "c":
            return scale(out)
        parts = (bind(P.real, (out,), _NO_PARAMS), bind(P.imag, (out,), _NO_PARAMS))
        return bind(P.complex, tuple(scale(p) for p in parts), _NO_PARAMS)

    return log_base


def _scale(factor: float) -> Impl:
    return lambda x: _mul(x, _const(factor, x))


def _sinc(x: Any) -> Any:
    pi_x = _mul(_const(math.pi, x), x)
    is_zero = _eq(pi_x, _const(0, x))
    safe = _select(is_zero, _const(1, x), pi_x)
    return _select(is_zero, _const(1, x), _div(_sin(safe), safe))


def _trunc(x: Any) -> Any:
    return _select(_lt(x, _const(0, x)), _ceil(x), _floor(x))


def _logical_not(x: Any) -> Any:
    return _not(x if x.dtype == dtypes.bool_ else _ne(x, _const(0, x)))


def _floor_divide(x: Any, y: Any) -> Any:
    if dtypes.kind(x.dtype) == "u":
        return _div(x, y)
    if dtypes.kind(x.dtype) == "i":
        # Truncating division, moved down by one where the signs differ and it was inexact.
        q = _div(x, y)
        inexact = _ne(_rem(x, y), _const(0, x))
        return _select(_and(_ne(_sign(x), _sign(y)), inexact), _sub(q, _const(1, q)), q)
    # NumPy's float algorithm: divide the exact multiple, then fix the rounding.
    mod = _rem(x, y)
    div = _div(_select(_eq(y, _const(0, y)), x, _sub(x, mod)), y)
    fix = _and(_ne(mod, _const(0, mod)), _ne(_sign(y), _sign(mod)))
    q = _select(fix, _sub(div, _const(1, div)), div)
    return bind(P.round, (q,), {"rounding_method": 0})


def _remainder(x: Any, y: Any) -> Any:
    if dtypes.kind(x.dtype) == "u":
        return _rem(x, _select(_eq(y, _const(0, y)), _const(1, y), y))
    if dtypes.kind(x.dtype) == "i":
        y = _select(_eq(y, _const(0, y)), _const(1, y), y)
    r = _rem(x, y)
    # rem takes the dividend's sign; Python's mod takes the divisor's.
    fix = _and(_ne(_lt(r, _const(0, r)), _lt(y, _const(0, y))), _ne(r, _const(0, r)))
    return _select(fix, _add(r, y), r)


def _fmod(x: Any, y: Any) -> Any:
    if dtypes.kind(x.dtype) in "iu":
        y = _select(_eq(y, _const(0, y)), _const(1, y), y)
    return _rem(x, y)


def _nan_ignoring(pick: Impl, beats: Impl) -> Impl:
    """fmax/fmin: ``x`` where it beats ``y`` or ``y`` is NaN, else ``y`` (JAX's formula, so
    the gradient at ties goes to ``y``, as in JAX)."""

    def fn(x: Any, y: Any) -> Any:
        if dtypes.kind(x.dtype) != "f":
            return pick(x, y)
        return _select(_or(beats(x, y), _isnan(y)), x, y)

    return fn


def _hypot(x: Any, y: Any) -> Any:
    # Scale by the larger magnitude so squares cannot overflow; infinities win over NaN.
    x, y = _abs(x), _abs(y)
    inf = _const(math.inf, x)
    any_inf = _or(_eq(x, inf), _eq(y, inf))
    big, small = _max(x, y), _min(x, y)
    safe_big = _select(_eq(big, _const(0, big)), _const(1, big), big)
    ratio = _div(small, safe_big)
    out = _select(any_inf, inf, _mul(big, _sqrt(_add(_const(1, x), _mul(ratio, ratio)))))
    # JAX's result is weak only when it is a scalar (weak operands of rank > 0 meet the
    # strong infinity it broadcasts).
    return convert(out, out.dtype, False) if out.shape and out.weak_type else out


def _heaviside(x: Any, h0: Any) -> Any:
    # 0 below zero, 1 above, h0 at zero, and NaN stays NaN (as in NumPy).
    zero, one = _const(0, x), _const(1, x)
    step = _select(_lt(x, zero), zero, _select(_gt(x, zero), one, x))
    return _select(_eq(x, zero), h0, step)


def _copysign(x: Any, y: Any) -> Any:
    magnitude = _abs(x)
    return _select(_signbit(y), _neg(magnitude), magnitude)


@custom_jvp
def _logaddexp(x: Any, y: Any) -> Any:
    """``log(exp(x) + exp(y))`` as ``max + log1p(exp(-|x - y|))``, which cannot overflow."""
    delta = _sub(x, y)
    stable = _add(_max(x, y), _log1p(bind(P.exp, (_neg(_abs(delta)),), _NO_PARAMS)))
    # delta is NaN for a NaN operand or for infinities of one sign: x + y is then right.
    return _select(_isnan(delta), _add(x, y), stable)


def _finite_or_zero_at_inf(x: Any) -> Any:
    return _select(_eq(x, _const(math.inf, x)), _const(0, x), x)


@_logaddexp.defjvp
def _logaddexp_jvp(primals: tuple, tangents: tuple) -> tuple:
    # d/dx = exp(x - out), with +inf read as 0 so that inf - inf gives no NaN (JAX's rule).
    (x, y), (tx, ty) = primals, tangents
    out = _logaddexp(x, y)
    safe_out = _finite_or_zero_at_inf(out)

    def weight(v: Any) -> Any:
        return bind(P.exp, (_sub(_finite_or_zero_at_inf(v), safe_out),), _NO_PARAMS)

    return out, _add(_mul(tx, weight(x)), _mul(ty, weight(y)))


def _wrap_between(x: Any, half: float) -> Any:
    """``x`` moved into ``[-half, half)`` by whole periods of ``2 * half``."""
    shifted = _rem(_add(x, _const(half, x)), _const(2 * half, x))
    shifted = _select(_lt(shifted, _const(0, shifted)), _add(shifted, _const(2 * half, x)),
                      shifted)
    return _sub(shifted, _const(half, x))


def _complex_logaddexp(x: Any, y: Any) -> Any:
    # exp of the sum less twice the (lexicographic) maximum: the larger term factored out;
    # the imaginary part is a phase, so it is wrapped into [-pi, pi).
    top = _max(x, y)
    delta = _sub(_add(x, y), _mul(top, _const(2, top)))
    out = _add(top, _log1p(bind(P.exp, (delta,), _NO_PARAMS)))
    parts = (bind(P.real, (out,), _NO_PARAMS), bind(P.imag, (out,), _NO_PARAMS))
    return bind(P.complex, (parts[0], _wrap_between(parts[1], math.pi)), _NO_PARAMS)


def _complex_arctan2(y: Any, x: Any) -> Any:
    # The angle of the point (x, y) continued to complex coordinates:
    # -i log((x + i y) / sqrt(x^2 + y^2)).
    i = _const(1j, x)
    unit = _div(_add(x, _mul(i, y)), bind(P.sqrt, (_add(_mul(x, x), _mul(y, y)),), _NO_PARAMS))
    return _mul(_neg(i), _log(unit))


def _of_parts(test: Impl, combine: Impl) -> Impl:
    """A complex value's class from its parts' (``combine`` of ``test`` on real and imag;
    weak in, weak out, as JAX's logical combination of the parts)."""
    def classify(z: Any) -> Any:
        parts = (bind(P.real, (z,), _NO_PARAMS), bind(P.imag, (z,), _NO_PARAMS))
        return combine(*(test(p) for p in parts))

    return classify


def _isinf_real(x: Any) -> Any:
    return _eq(_abs(x), _strong_const(math.inf, x))


_complex_isfinite = _of_parts(_prim(P.is_finite), lambda a, b: _and(a, b))
_complex_isnan = _of_parts(_isnan, lambda a, b: _or(a, b))
_complex_isinf = _of_parts(_isinf_real, lambda a, b: _or(a, b))


def _right_shift(x: Any, y: Any) -> Any:
    prim = P.shift_right_arithmetic if dtypes.kind(x.dtype) == "i" else P.shift_right_logical
    return bind(prim, (x, y), _NO_PARAMS)


def _by_kind(float_impl: Impl, other: Impl) -> Callable[[np.dtype], Impl]:
    return lambda dt: float_impl if dtypes.kind(dt) == "f" else other


def _by_bool(bool_impl: Impl, other: Impl) -> Callable[[np.dtype], Impl]:
    return lambda dt: bool_impl if dt == dtypes.bool_ else other


def _always(impl: Impl) -> Callable[[np.dtype], Impl]:
    return lambda dt: impl


def _reject_bool(name: str, impl: Impl) -> Callable[[np.dtype], Impl]:
    def select(dt: np.dtype) -> Impl:
        if dt == dtypes.bool_:
            raise TypeError(f"{name} does not accept dtype bool")
        return impl

    return select


def _identity_unless_signed(impl: Impl) -> Callable[[np.dtype], Impl]:
    return lambda dt: impl if dtypes.kind(dt) in "ifc" else _identity


def _conj(x: Any) -> Any:
    return bind(P.conj, (x,), {"input_dtype": x.dtype})


def _zeros_keep_weak(x: Any) -> Any:
    # imag of a real value: zeros of its dtype, weak if it is (JAX's imag(2.0) is weak).
    zero = scalar_constant(0, x.dtype, bool(x.weak_type))
    if not x.shape:
        return zero
    return bind(P.broadcast_in_dim, (zero,), {"shape": x.shape, "broadcast_dimensions": ()})


def _if_complex(complex_impl: Impl, other: Impl) -> Callable[[np.dtype], Impl]:
    return lambda dt: complex_impl if dtypes.kind(dt) == "c" else other


def _partwise(impl: Impl) -> Impl:
    """A real function applied to a complex value's real and imaginary parts apart."""
    def apply(z: Any) -> Any:
        parts = (bind(P.real, (z,), _NO_PARAMS), bind(P.imag, (z,), _NO_PARAMS))
        return bind(P.complex, tuple(impl(p) for p in parts), _NO_PARAMS)

    return apply


def _real_only(name: str, select: Callable[[np.dtype], Impl],
               error: type[Exception] = TypeError) -> Callable[[np.dtype], Impl]:
    """``select``, refusing complex operands (as JAX does) rather than give a real answer."""
    def choose(dt: np.dtype) -> Impl:
        if dtypes.kind(dt) == "c":
            raise error(f"{name} does not support complex-valued inputs (got {dt})")
        return select(dt)

    return choose


def _lexicographic(strict: Impl, real_cmp: Impl) -> Impl:
    """JAX's complex ordering: by real part, then imaginary part."""
    def compare(x: Any, y: Any) -> Any:
        if dtypes.kind(x.dtype) != "c":
            return real_cmp(x, y)
        xr, yr = bind(P.real, (x,), _NO_PARAMS), bind(P.real, (y,), _NO_PARAMS)
        xi, yi = bind(P.imag, (x,), _NO_PARAMS), bind(P.imag, (y,), _NO_PARAMS)
        return _or(strict(xr, yr), _and(_eq(xr, yr), real_cmp(xi, yi)))

    return compare


# ---------------------------------------------------------------------------------------------
# The ufunc objects


class _Ufunc:
    """Common part of unary and binary ufuncs: the per-signature plan cache."""

    def __init__(self, name: str, policy: str, select_impl: Callable[[np.dtype], Impl],
                 doc: str = "") -> None:
        self.__name__ = self.__qualname__ = name
        self.__doc__ = doc or f"Elementwise ``{name}`` with NumPy broadcasting and JAX promotion."
        self.policy = policy
        self.select_impl = select_impl
        self._plans: dict[tuple, tuple] = {}
        _ALL_UFUNCS.append(self)

    def _build(self, key: tuple) -> tuple:
        plan = make_plan(self.__name__, key[1:], self.policy)
        impl = self.select_impl(plan.dtype)
        if core._eager_check is not None:  # debug_nans / debug_infs: JAX's jit boundary
            impl = core.checked_as_one(self.__name__, impl)
        if _coerce.rank_checks_on:
            shapes = [_coerce.sig_shape(s) for s in key[1:]]
            if _coerce.ranks_differ(shapes):
                impl = _rank_checked(self.__name__, shapes, impl)
        entry = (*plan.converters, impl)
        if len(self._plans) > 4096:
            self._plans.clear()
        self._plans[key] = entry
        return entry

    def __repr__(self) -> str:
        return f"<llax.numpy ufunc {self.__name__}>"


_ALL_UFUNCS: list[_Ufunc] = []


def _rank_checked(name: str, shapes: list[tuple[int, ...]], impl: Impl) -> Impl:
    """``impl`` preceded by the rank-promotion check: built into the cached plans of
    rank-promoting signatures only while the check may be on, so plain calls pay nothing."""
    def checked(*args: Any) -> Any:
        _coerce.check_rank_promotion(name, shapes)
        return impl(*args)

    return checked


def _forget_plans(flag: str) -> None:
    """A change of jax_numpy_rank_promotion, jax_debug_nans or jax_debug_infs: plans built
    with (or without) their checks are stale."""
    if flag in ("jax_numpy_rank_promotion", "jax_debug_nans", "jax_debug_infs"):
        for ufunc in _ALL_UFUNCS:
            ufunc._plans.clear()


config.on_update(_forget_plans)


class UnaryUfunc(_Ufunc):
    nin = 1

    def __call__(self, x: Any, /) -> Any:
        key = (config.jax_enable_x64, signature(x))
        entry = self._plans.get(key)
        if entry is None:
            x, sig = checked_signature(x, self.__name__, 0)
            key = (key[0], sig)
            entry = self._plans.get(key) or self._build(key)
        convert, impl = entry
        return impl(x if convert is None else convert(x))


class BinaryUfunc(_Ufunc):
    nin = 2

    def __call__(self, x: Any, y: Any, /) -> Any:
        key = (config.jax_enable_x64, signature(x), signature(y))
        entry = self._plans.get(key)
        if entry is None:
            x, sx = checked_signature(x, self.__name__, 0)
            y, sy = checked_signature(y, self.__name__, 1)
            key = (key[0], sx, sy)
            entry = self._plans.get(key) or self._build(key)
        cx, cy, impl = entry
        return impl(x if cx is None else cx(x), y if cy is None else cy(y))


class UnaryNumpyUfunc(UnaryUfunc, ufunc):
    """A unary function that JAX makes a ``jnp.ufunc``: the fast call, plus the ufunc
    methods and attributes."""

    def __init__(self, name: str, policy: str, select_impl: Callable[[np.dtype], Impl],
                 identity: Any = None) -> None:
        super().__init__(name, policy, select_impl)
        self._set_ufunc_props(self, 1, 1, None, identity)

    def __call__(self, x: Any, /, *, out: None = None, where: None = None) -> Any:
        # UnaryUfunc.__call__ written out, so the plain call costs no extra Python call.
        if out is not None or where is not None:
            check_call_keywords(self, out, where)
        key = (config.jax_enable_x64, signature(x))
        entry = self._plans.get(key)
        if entry is None:
            x, sig = checked_signature(x, self.__name__, 0)
            key = (key[0], sig)
            entry = self._plans.get(key) or self._build(key)
        convert, impl = entry
        return impl(x if convert is None else convert(x))

    # One object per name: compared and hashed by identity (its ``_func`` is itself).
    __eq__, __hash__ = object.__eq__, object.__hash__
    __repr__ = ufunc.__repr__
    nin = ufunc.nin  # read-only, as the other ufunc attributes


class BinaryNumpyUfunc(BinaryUfunc, ufunc):
    """A binary function that JAX makes a ``jnp.ufunc`` (``add``, ``maximum``, ...)."""

    def __init__(self, name: str, policy: str, select_impl: Callable[[np.dtype], Impl],
                 identity: Any = None) -> None:
        super().__init__(name, policy, select_impl)
        self._set_ufunc_props(self, 2, 1, None, identity)

    def __call__(self, x: Any, y: Any, /, *, out: None = None, where: None = None) -> Any:
        # BinaryUfunc.__call__ written out (see UnaryNumpyUfunc.__call__).
        if out is not None or where is not None:
            check_call_keywords(self, out, where)
        key = (config.jax_enable_x64, signature(x), signature(y))
        entry = self._plans.get(key)
        if entry is None:
            x, sx = checked_signature(x, self.__name__, 0)
            y, sy = checked_signature(y, self.__name__, 1)
            key = (key[0], sx, sy)
            entry = self._plans.get(key) or self._build(key)
        cx, cy, impl = entry
        return impl(x if cx is None else cx(x), y if cy is None else cy(y))

    __eq__, __hash__ = object.__eq__, object.__hash__
    __repr__ = ufunc.__repr__
    nin = ufunc.nin


# The functions that are ``jnp.ufunc`` objects in JAX, with their identities. (Their
# specialised methods, such as ``add.reduce`` as ``sum``, are attached by _ufunc_methods.)
NUMPY_UFUNC_IDENTITIES: dict[str, Any] = {
    "add": 0, "multiply": 1, "subtract": None, "maximum": None, "minimum": None,
    "bitwise_and": -1, "bitwise_or": 0, "bitwise_xor": 0, "logical_and": True,
    "logical_or": False, "logical_xor": False, "logaddexp": -math.inf, "negative": None,
}

# name -> (promotion policy, implementation for the computation dtype)
UNARY: dict[str, tuple[str, Callable[[np.dtype], Impl]]] = {
    **{name: ("inexact", _always(_prim(prim))) for name, prim in {
        "exp": P.exp, "exp2": P.exp2, "expm1": P.expm1, "log": P.log, "log1p": P.log1p,
        "sqrt": P.sqrt, "cbrt": P.cbrt, "sin": P.sin, "cos": P.cos, "tan": P.tan,
        "arcsin": P.asin, "arccos": P.acos, "arctan": P.atan, "sinh": P.sinh, "cosh": P.cosh,
        "tanh": P.tanh, "arcsinh": P.asinh, "arccosh": P.acosh, "arctanh": P.atanh,
    }.items()},
    "log2": ("inexact", _always(_log_base(2.0))),
    "log10": ("inexact", _always(_log_base(10.0))),
    "reciprocal": ("inexact", _always(_prim(P.integer_pow, y=-1))),
    "deg2rad": ("inexact", _always(_scale(math.pi / 180))),
    "rad2deg": ("inexact", _always(_scale(180 / math.pi))),
    "radians": ("inexact", _always(_scale(math.pi / 180))),
    "degrees": ("inexact", _always(_scale(180 / math.pi))),
    "sinc": ("inexact", _always(_sinc)),
    "fabs": ("inexact", _real_only("fabs", _always(_abs))),
    "rint": ("inexact_strong", _if_complex(_partwise(_prim(P.round, rounding_method=1)),
                                           _prim(P.round, rounding_method=1))),
    "negative": ("promote", _always(_neg)),
    "positive": ("promote", _always(_identity)),
    "abs": ("promote", _identity_unless_signed(_abs)),
    "sign": ("promote", _reject_bool("sign", _sign)),
    "square": ("numeric", _always(_prim(P.square))),
    "floor": ("promote", _real_only("floor", _by_kind(_floor, _identity))),
    "ceil": ("promote", _real_only("ceil", _by_kind(_ceil, _identity))),
    "trunc": ("promote", _real_only("trunc", _by_kind(_trunc, _identity))),
    "fix": ("promote", _real_only("fix", _by_kind(_trunc, _identity))),
    "isnan": ("promote", lambda dt: _complex_isnan if dtypes.kind(dt) == "c" else
              _by_kind(_isnan, lambda x: _full_like_bool(x, False, keep_weak=True))(dt)),
    "isinf": ("promote", lambda dt: _complex_isinf if dtypes.kind(dt) == "c" else
              _by_kind(_isinf_real, lambda x: _full_like_bool(x, False))(dt)),
    "isfinite": ("promote", lambda dt: _complex_isfinite if dtypes.kind(dt) == "c" else
                 _by_kind(_prim(P.is_finite), lambda x: _full_like_bool(x, True))(dt)),
    "signbit": ("promote", _real_only("signbit", _always(_signbit), ValueError)),
    "logical_not": ("promote", _always(_logical_not)),
    "bitwise_not": ("promote", _always(_not)),
    "real": ("promote", _if_complex(_prim(P.real), _identity)),
    "imag": ("promote", _if_complex(_prim(P.imag), _zeros_keep_weak)),
    "conjugate": ("promote", _if_complex(_conj, _identity)),
}
UNARY_ALIASES = {"absolute": "abs", "invert": "bitwise_not", "conj": "conjugate",
                 "asin": "arcsin", "acos": "arccos", "atan": "arctan", "asinh": "arcsinh",
                 "acosh": "arccosh", "atanh": "arctanh", "bitwise_invert": "bitwise_not"}

BINARY: dict[str, tuple[str, Callable[[np.dtype], Impl]]] = {
    "add": ("promote", _by_bool(_or, _add)),
    "multiply": ("promote", _by_bool(_and, _mul)),
    "subtract": ("promote", _always(_sub)),
    "divide": ("inexact", _always(_div)),
    "floor_divide": ("numeric", _always(_floor_divide)),
    "remainder": ("numeric", _always(_remainder)),
    "fmod": ("numeric", _always(_fmod)),
    "float_power": ("inexact", _always(_prim(P.pow))),
    "maximum": ("promote", _always(_max)),
    "minimum": ("promote", _always(_min)),
    "fmax": ("promote", _always(_nan_ignoring(_max, _gt))),
    "fmin": ("promote", _always(_nan_ignoring(_min, _lt))),
    "arctan2": ("inexact", _if_complex(_complex_arctan2, _prim(P.atan2))),
    "logaddexp": ("inexact", _if_complex(_complex_logaddexp, _logaddexp)),
    "hypot": ("inexact", _real_only("hypot", _always(_hypot))),
    "heaviside": ("inexact", _always(_heaviside)),
    "copysign": ("inexact", _real_only("copysign", _always(_copysign))),
    "nextafter": ("inexact", _always(_prim(P.nextafter))),
    "logical_and": ("bool", _always(_and)),
    "logical_or": ("bool", _always(_or)),
    "logical_xor": ("bool", _always(_prim(P.xor))),
    "bitwise_and": ("promote", _always(_and)),
    "bitwise_or": ("promote", _always(_or)),
    "bitwise_xor": ("promote", _always(_prim(P.xor))),
    "left_shift": ("numeric", _always(_prim(P.shift_left))),
    "right_shift": ("numeric", _always(_right_shift)),
    "equal": ("promote", _always(_eq)),
    "not_equal": ("promote", _always(_ne)),
    "less": ("promote", _always(_lexicographic(_lt, _lt))),
    "less_equal": ("promote", _always(_lexicographic(_lt, _prim(P.le)))),
    "greater": ("promote", _always(_lexicographic(_gt, _gt))),
    "greater_equal": ("promote", _always(_lexicographic(_gt, _prim(P.ge)))),
}
BINARY_ALIASES = {"true_divide": "divide", "mod": "remainder",
                  "atan2": "arctan2", "bitwise_left_shift": "left_shift",
                  "bitwise_right_shift": "right_shift"}


def _build_namespace() -> dict[str, _Ufunc]:
    out: dict[str, _Ufunc] = {}
    for name, (policy, select) in UNARY.items():
        if name in NUMPY_UFUNC_IDENTITIES:
            out[name] = UnaryNumpyUfunc(name, policy, select, NUMPY_UFUNC_IDENTITIES[name])
        else:
            out[name] = UnaryUfunc(name, policy, select)
    for name, (policy, select) in BINARY.items():
        if name in NUMPY_UFUNC_IDENTITIES:
            out[name] = BinaryNumpyUfunc(name, policy, select, NUMPY_UFUNC_IDENTITIES[name])
        else:
            out[name] = BinaryUfunc(name, policy, select)
    for alias, target in {**UNARY_ALIASES, **BINARY_ALIASES}.items():
        out[alias] = out[target]
    return out


class _Fmod(BinaryUfunc):
    """``fmod``: integer divisors of zero read as one (as in JAX), but only when the operands'
    own common dtype is an integer; two bools divide as int32, where ``x % 0`` is ``x``."""

    def __call__(self, x: Any, y: Any, /) -> Any:
        if dtype_and_weak(as_operand(x, "fmod", 0))[0] == dtypes.bool_ and \
                dtype_and_weak(as_operand(y, "fmod", 1))[0] == dtypes.bool_:
            (x, y), _ = promote("fmod", [x, y], "numeric")
            return _rem(x, y)
        return super().__call__(x, y)


UFUNCS = _build_namespace()
UFUNCS["fmod"] = _Fmod("fmod", *BINARY["fmod"])


# ---------------------------------------------------------------------------------------------
# Elementwise functions whose behaviour depends on more than the operand types


def power(x1: Any, x2: Any, /) -> Any:
    """``x1 ** x2``. A static integer exponent gives ``integer_pow``, as in JAX."""
    if isinstance(x2, (int, np.integer)):  # bools too: ``x ** True`` is integer_pow[y=1]
        # The base meets a weak int: floats and ints keep their dtype, bools count as ints.
        (base,), _ = promote("power", [x1], "numeric")
        return bind(P.integer_pow, (base,), {"y": int(x2)})
    x2 = as_operand(x2, "power", 1)
    exponent_dtype, exponent_weak = dtype_and_weak(x2)
    (x1, x2), plan = promote("power", [x1, x2], "numeric")
    if dtypes.kind(plan.dtype) in "fc":
        if dtypes.kind(exponent_dtype) in "iu" and not exponent_weak and plan.weak:
            # A strong integer exponent makes the result strong, even for a weak base (JAX).
            x1, x2 = convert(x1, plan.dtype), convert(x2, plan.dtype)
        return bind(P.pow, (x1, x2), _NO_PARAMS)
    # The integer loop gives a strong result unless the exponent was weak too (JAX).
    return _integer_power(x1, x2, plan.shape, plan.weak and exponent_weak)


# Integer powers square over this many exponent bits: exponents past 63 overflow anyway
# for |x| > 1 (JAX's choice too, so out-of-range exponents give the same wrapped values).
_EXPONENT_BITS = 6


def _integer_power(x: Any, y: Any, shape: tuple[int, ...], weak: bool) -> Any:
    """Integer ``x ** y`` by binary exponentiation; ``0 ** y`` is 0 for any ``y != 0``."""
    known = _known_value(y)
    if known is not None and known.ndim == 0 and known < 0:
        raise TypeError(f"Integers cannot be raised to negative powers, got exponent {known}")
    bits = _EXPONENT_BITS
    if known is not None and known.size and 0 <= known.min() and known.max() < 2 ** bits:
        bits = int(known.max()).bit_length()  # the same result with fewer ops
    x, y = broadcast_to_shape(x, shape), broadcast_to_shape(y, shape)
    zero_x, zero_y, one = _const(0, x), _const(0, y), _const(1, y)
    acc = _select(_and(_eq(x, zero_x), _ne(y, zero_y)), scalar_constant(0, x.dtype, weak),
                  scalar_constant(1, x.dtype, weak))
    if acc.shape != shape:
        acc = broadcast_to_shape(acc, shape)
    for i in range(bits):
        acc = _select(_ne(_and(y, one), zero_y), _mul(acc, x), acc)
        if i + 1 < bits:
            x = _mul(x, x)
            y = bind(P.shift_right_logical, (y, one), _NO_PARAMS)
    return acc


def _known_value(x: Any) -> np.ndarray | None:
    """``x``'s value when it is known while tracing (always, for concrete Arrays)."""
    if isinstance(x, Array):
        return np.asarray(x)
    if isinstance(x, Tracer):
        return x.val
    return None


def round(a: Any, decimals: int = 0, out: None = None) -> Any:  # noqa: A001 - NumPy's name
    """Round half to even, to ``decimals`` places (negative: to tens, hundreds...)."""
    if out is not None:
        raise NotImplementedError("The 'out' argument to jnp.round is not supported.")
    decimals = int(decimals)
    (a,), plan = promote("round", [a])
    if plan.dtype == dtypes.bool_:
        raise ValueError("round: data type bool is not supported (round takes numbers)")
    if dtypes.kind(plan.dtype) in "iu":
        return a if decimals >= 0 else _round_int(a, 10 ** -decimals)
    if dtypes.kind(plan.dtype) == "c":  # each part rounded, as in JAX
        return _partwise(lambda part: round(part, decimals))(a)
    if decimals == 0:
        return bind(P.round, (a,), {"rounding_method": 1})
    factor = _const(10.0 ** decimals, a)
    return _div(bind(P.round, (_mul(a, factor),), {"rounding_method": 1}), factor)


def _round_int(a: Any, factor: int) -> Any:
    # Integers to a multiple of ``factor``, half to even, in exact integer arithmetic.
    f = _const(factor, a)
    q = _floor_divide(a, f)
    r2 = _mul(_sub(a, _mul(q, f)), _const(2, a))
    odd = _ne(_rem(q, _const(2, q)), _const(0, q))
    up = _or(_gt(r2, f), _and(_eq(r2, f), odd))
    return _mul(_select(up, _add(q, _const(1, q)), q), f)


around = round


# ---------------------------------------------------------------------------------------------
# Complex numbers: parts, conjugate, angle, and the complex/real predicates


def angle(z: Any, deg: bool = False) -> Any:
    """The argument of ``z`` (radians, or degrees if ``deg``), as ``jnp.angle``."""
    z = as_operand(z, "angle")
    dt, _ = dtype_and_weak(z)
    if dtypes.kind(dt) == "c":
        (z,), _ = promote("angle", [z])
        re, im = UFUNCS["real"](z), UFUNCS["imag"](z)
    else:
        # JAX computes a real operand's angle in the default float (strong), except for
        # float arrays, which keep their dtype.
        keep = dtypes.kind(dt) == "f" and np.ndim(z) > 0
        re = convert(z, dt if keep else dtypes.default_float(), False)
        im = _zeros_keep_weak(re)
    out = bind(P.atan2, (im, re), _NO_PARAMS)
    return _mul(out, _const(180 / math.pi, out)) if deg else out


def iscomplexobj(x: Any) -> bool:
    """True when ``x``'s dtype is complex (whatever its values)."""
    if x is None:
        return False
    dt = x.dtype if hasattr(x, "dtype") else dtype_and_weak(as_operand(x, "iscomplexobj"))[0]
    return dtypes.kind(np.dtype(dt)) == "c"


def isrealobj(x: Any) -> bool:
    return not iscomplexobj(x)


def iscomplex(x: Any) -> Any:
    """Elementwise: True where the imaginary part is nonzero."""
    im = UFUNCS["imag"](x)
    return bind(P.ne, (im, _const(0, im)), _NO_PARAMS)


def isreal(x: Any) -> Any:
    """Elementwise: True where the imaginary part is zero (always, for real dtypes)."""
    im = UFUNCS["imag"](x)
    return bind(P.eq, (im, _const(0, im)), _NO_PARAMS)


def sort_complex(a: Any) -> Any:
    """``a`` sorted along its last axis by real part, then imaginary part, as complex."""
    from llax.frontend import lax

    (a,), _ = promote("sort_complex", [a], "inexact")
    if dtypes.kind(a.dtype) != "c":
        a = convert(a, dtypes.complex_of(a.dtype), False)
    if a.ndim == 0:
        return a
    re, im = lax.sort((UFUNCS["real"](a), UFUNCS["imag"](a)), dimension=-1, num_keys=2)
    return bind(P.complex, (re, im), _NO_PARAMS)


COMPLEX_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "angle": angle, "iscomplexobj": iscomplexobj, "isrealobj": isrealobj,
    "iscomplex": iscomplex, "isreal": isreal, "sort_complex": sort_complex,
}
