"""``llax.lax``: the primitives under JAX's ``lax`` names and signatures.

Unlike ``llax.numpy`` these do not promote: array operands of an elementwise op
must share one dtype (TypeError otherwise), and a Python scalar takes the dtype
of the array operands when it is of a compatible kind (an int for integer and
floating arrays, a float for floating arrays, a bool for bool arrays). Shapes
must have equal ranks (rank 0 broadcasts); size-1 dimensions broadcast, as in
current JAX.
"""

from __future__ import annotations

import builtins
import enum
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from llax.frontend.collectives import axis_index, pmax, pmean, pmin, psum  # noqa: F401
from llax.frontend.control_flow import (  # noqa: F401
    associative_scan,
    cond,
    fori_loop,
    scan,
    switch,
    while_loop,
)
from llax.frontend.control_flow import map_over as map  # noqa: F401, A004
from llax.frontend.core import Array, bind, current_trace
from llax.frontend.jnp._coerce import (
    PY_SCALARS,
    as_array,
    as_operand,
    convert,
    dtype_and_weak,
    scalar_constant,
)
from llax.frontend.jnp._coerce import broadcast_in_dim as _broadcast_in_dim
from llax.frontend.jnp._dtypes import requested_dtype
from llax.ir import dtypes
from llax.ir import prims as P
from llax.ir.prims.indexing import (
    GatherDimensionNumbers,
    GatherScatterMode,
    ScatterDimensionNumbers,
    as_gather_dnums,
    as_scatter_dnums,
)
from llax.ir.prims.reduce import PRECISION_NAMES, Precision
from llax.ir.promotion import dtype_of_value

_NO_PARAMS: dict = {}
Shape = Sequence[int]


class RoundingMethod(enum.IntEnum):
    """How ``round`` breaks ties: away from zero (``lax.round``'s default) or to even."""

    AWAY_FROM_ZERO = 0
    TO_NEAREST_EVEN = 1


# ---------------------------------------------------------------------------------------------
# Operand checking


# A Python scalar may stand for a value of these dtype kinds.
_SCALAR_KINDS = {bool: "b", int: "iufc", float: "fc", complex: "c"}


def _dtype_error(name: str, dts: Sequence[np.dtype], jnp_name: str | None) -> TypeError:
    tip = (f" (Tip: jnp.{jnp_name} is a similar function that does automatic type promotion "
           "on inputs).") if jnp_name else "."
    return TypeError(f"lax.{name} requires arguments to have the same dtypes, got "
                     f"{', '.join(str(d) for d in dts)}{tip}")


def _same_dtype(name: str, args: Sequence[Any], jnp_name: str | None = None) -> list[Any]:
    """Operands with one dtype: Python scalars take the dtype of the array operands."""
    ops = [as_operand(a, name, i) for i, a in enumerate(args)]
    arrays = [a for a in ops if type(a) not in PY_SCALARS]
    if not arrays:
        typed = [dtype_of_value(a) for a in ops]
        if len({d for d, _ in typed}) > 1:
            raise _dtype_error(name, [d for d, _ in typed], jnp_name)
        return [scalar_constant(a, d, w) for a, (d, w) in zip(ops, typed)]
    dt = arrays[0].dtype
    if any(a.dtype != dt for a in arrays):
        raise _dtype_error(name, [dtype_and_weak(a)[0] for a in ops], jnp_name)
    kind = "b" if dt == dtypes.bool_ else dtypes.kind(dt)
    out = []
    for a in ops:
        if type(a) in PY_SCALARS:
            if kind not in _SCALAR_KINDS[type(a)]:
                raise _dtype_error(name, [dtype_and_weak(o)[0] for o in ops], jnp_name)
            a = scalar_constant(a, dt, True)
        out.append(a)
    return out


def _same_shape(name: str, ops: list[Any]) -> list[Any]:
    """Equal ranks (rank 0 excepted); size-1 dimensions broadcast."""
    shapes = [a.shape for a in ops]
    ranked = [s for s in shapes if s != ()]
    if len({len(s) for s in ranked}) > 1:
        raise TypeError(f"{name}: arrays must have the same number of dimensions, got "
                        f"{', '.join(str(s) for s in shapes)}")
    if len(set(ranked)) <= 1:
        return ops
    target = []
    for sizes in zip(*ranked):
        big = {n for n in sizes if n != 1}
        if len(big) > 1:
            raise TypeError(f"{name} got incompatible shapes for broadcasting: "
                            f"{', '.join(str(s) for s in shapes)}.")
        target.append(big.pop() if big else 1)
    shape = tuple(target)
    return [a if a.shape in ((), shape) else
            _broadcast_in_dim(a, shape, tuple(range(len(shape)))) for a in ops]


# Where lax is stricter than the primitive's own rule: abs of unsigned or bool values
# and population_count of bools are errors in JAX.
_KINDS = {"abs": "fi", "population_count": "iu"}


def _unary(prim: P.Primitive, name: str):
    kinds = _KINDS.get(name)

    def fn(x: Any) -> Any:
        x = as_array(x, name)
        if kinds is not None and dtypes.kind(x.dtype) not in kinds:
            raise TypeError(f"{name} does not accept dtype {x.dtype}")
        return bind(prim, (x,), _NO_PARAMS)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise ``{prim.name}``."
    return fn


def _binary(prim: P.Primitive, name: str, jnp_name: str | None):
    def fn(x: Any, y: Any) -> Any:
        return bind(prim, tuple(_same_shape(name, _same_dtype(name, (x, y), jnp_name))),
                    _NO_PARAMS)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise ``{prim.name}``; operands must have equal dtypes."
    return fn


# ---------------------------------------------------------------------------------------------
# Elementwise

neg, sign, abs, exp, exp2, log, log1p, expm1, tanh, logistic = (
    _unary(p, n) for p, n in ((P.neg, "neg"), (P.sign, "sign"), (P.abs, "abs"),
                              (P.exp, "exp"), (P.exp2, "exp2"), (P.log, "log"),
                              (P.log1p, "log1p"), (P.expm1, "expm1"), (P.tanh, "tanh"),
                              (P.logistic, "logistic")))
sin, cos, tan, asin, acos, atan, sinh, cosh, asinh, acosh, atanh = (
    _unary(getattr(P, n), n)
    for n in "sin cos tan asin acos atan sinh cosh asinh acosh atanh".split())
sqrt, rsqrt, cbrt, floor, ceil, erf, erfc, erf_inv, is_finite, square = (
    _unary(getattr(P, n), n)
    for n in "sqrt rsqrt cbrt floor ceil erf erfc erf_inv is_finite square".split())
bitwise_not = _unary(P.not_, "bitwise_not")
population_count = _unary(P.population_count, "population_count")


def clz(x: Any) -> Any:
    """Elementwise count of leading zero bits of an integer array (its width for 0)."""
    x = as_array(x, "clz")
    if dtypes.kind(x.dtype) not in "iu" or dtypes.is_bool(x.dtype):
        raise TypeError(f"clz does not accept dtype {x.dtype}. Accepted dtypes are subtypes "
                        "of integer.")
    return bind(P.clz, (x,), _NO_PARAMS)


def _static_int(value: Any, what: str) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be a concrete integer, got {value!r}") from None


def reduce_precision(operand: Any, exponent_bits: int, mantissa_bits: int) -> Any:
    """``operand`` rounded to a float format of ``exponent_bits`` exponent and
    ``mantissa_bits`` mantissa bits, kept in its dtype (XLA's ReducePrecision)."""
    params = {"exponent_bits": _static_int(exponent_bits,
                                           "exponent_bits argument of lax.reduce_precision"),
              "mantissa_bits": _static_int(mantissa_bits,
                                           "mantissa_bits argument of lax.reduce_precision")}
    return bind(P.reduce_precision, (as_array(operand, "reduce_precision"),), params)


def reciprocal(x: Any) -> Any:
    """``1 / x`` elementwise (of an inexact array)."""
    x = as_array(x, "reciprocal")
    return div(scalar_constant(1, x.dtype, x.weak_type), x)

add = _binary(P.add, "add", "add")
sub = _binary(P.sub, "sub", "subtract")
mul = _binary(P.mul, "mul", "multiply")
div = _binary(P.div, "div", "divide")
rem = _binary(P.rem, "rem", "remainder")
max = _binary(P.max, "max", "maximum")
min = _binary(P.min, "min", "minimum")
atan2 = _binary(P.atan2, "atan2", "arctan2")
_nextafter = _binary(P.nextafter, "nextafter", "nextafter")


def nextafter(x1: Any, x2: Any) -> Any:
    """The next float after ``x1`` towards ``x2``, elementwise."""
    return _nextafter(x1, x2)
eq, ne, lt, le, gt, ge = (
    _binary(getattr(P, n), n, j) for n, j in (
        ("eq", "equal"), ("ne", "not_equal"), ("lt", "less"), ("le", "less_equal"),
        ("gt", "greater"), ("ge", "greater_equal")))
bitwise_and = _binary(P.and_, "bitwise_and", "bitwise_and")
bitwise_or = _binary(P.or_, "bitwise_or", "bitwise_or")
bitwise_xor = _binary(P.xor, "bitwise_xor", "bitwise_xor")
shift_left = _binary(P.shift_left, "shift_left", "left_shift")
shift_right_logical = _binary(P.shift_right_logical, "shift_right_logical", "right_shift")
shift_right_arithmetic = _binary(P.shift_right_arithmetic, "shift_right_arithmetic",
                                 "right_shift")


def pow(x: Any, y: Any) -> Any:  # noqa: A001 - lax's name
    """``x ** y`` for floating ``x``; an integer exponent is converted to ``x``'s dtype."""
    x = as_array(x, "pow")
    y = as_operand(y, "pow", 1)
    if type(y) not in PY_SCALARS and dtypes.kind(y.dtype) in "iu" and dtypes.kind(x.dtype) == "f":
        y = convert(y, x.dtype, y.weak_type)
    return bind(P.pow, tuple(_same_shape("pow", _same_dtype("pow", (x, y), "power"))),
                _NO_PARAMS)


def lgamma(x: Any) -> Any:
    """log |Gamma(x)| of a float array, with JAX's values (XLA's Lanczos expansion)."""
    from llax.frontend.xla_math import lgamma as lanczos_lgamma  # (it builds on lax)

    return lanczos_lgamma(x)


def digamma(x: Any) -> Any:
    """Gamma'(x) / Gamma(x) of a float array, with JAX's values (XLA's Lanczos expansion)."""
    from llax.frontend.xla_math import digamma as lanczos_digamma

    return lanczos_digamma(x)


def igamma(a: Any, x: Any) -> Any:
    """P(a, x), the regularised lower incomplete gamma function (XLA's series and
    continued fraction, JAX's values)."""
    from llax.frontend.xla_math.igamma import igamma as xla_igamma

    return xla_igamma(a, x)


def igammac(a: Any, x: Any) -> Any:
    """Q(a, x) = 1 - P(a, x), the regularised upper incomplete gamma function."""
    from llax.frontend.xla_math.igamma import igammac as xla_igammac

    return xla_igammac(a, x)


def igamma_grad_a(a: Any, x: Any) -> Any:
    """dP(a, x)/da."""
    from llax.frontend.xla_math.igamma import igamma_grad_a as xla_igamma_grad_a

    return xla_igamma_grad_a(a, x)


def random_gamma_grad(a: Any, x: Any) -> Any:
    """The derivative of a Gamma(a, 1) draw ``x`` with respect to ``a`` at a fixed
    quantile: -(dP/da) / (dP/dx)."""
    from llax.frontend.xla_math.igamma import random_gamma_grad as xla_random_gamma_grad

    return xla_random_gamma_grad(a, x)


def integer_pow(x: Any, y: int) -> Any:
    return bind(P.integer_pow, (as_array(x, "integer_pow"),), {"y": operator.index(y)})


def round(x: Any, rounding_method: int = RoundingMethod.AWAY_FROM_ZERO) -> Any:  # noqa: A001
    return bind(P.round, (as_array(x, "round"),), {"rounding_method": int(rounding_method)})


def select_n(which: Any, *cases: Any) -> Any:
    """``cases[which]`` elementwise; ``which`` is bool (two cases) or an integer."""
    if not cases:
        raise ValueError("select_n called with no cases")
    which = as_array(which, "select_n")
    cases = tuple(_same_dtype("select_n", cases, "where"))
    shapes = {c.shape for c in cases}
    if len(shapes) > 1:
        raise TypeError(f"select cases must have the same shapes, got "
                        f"{[c.shape for c in cases]}.")
    if which.shape not in ((), cases[0].shape):
        raise TypeError(f"select `which` must be scalar or have the same shape as cases, got "
                        f"`which` shape {which.shape} but case shape {cases[0].shape}.")
    return bind(P.select_n, (which, *cases), _NO_PARAMS)


def select(pred: Any, on_true: Any, on_false: Any) -> Any:
    """``on_true`` where ``pred`` else ``on_false`` (select_n with the cases swapped)."""
    return select_n(pred, on_false, on_true)


def clamp(min: Any, x: Any, max: Any) -> Any:  # noqa: A002 - lax's names
    lo, x, hi = _same_dtype("clamp", (min, x, max), "clip")
    return bind(P.clamp, (lo, x, hi), _NO_PARAMS)


def convert_element_type(operand: Any, new_dtype: Any) -> Any:
    dt = requested_dtype(new_dtype, "convert_element_type")
    return convert(as_operand(operand, "convert_element_type"), dt, False)


def bitcast_convert_type(operand: Any, new_dtype: Any) -> Any:
    """``operand``'s bits read as ``new_dtype`` (of the same width)."""
    dt = requested_dtype(new_dtype, "bitcast_convert_type")
    return bind(P.bitcast_convert_type, (as_operand(operand, "bitcast_convert_type"),),
                {"new_dtype": dt})


# ---------------------------------------------------------------------------------------------
# Shapes


def _shape_tuple(shape: Any, what: str = "shape") -> tuple[int, ...]:
    try:
        return tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"{what} must be a sequence of integers, got {shape!r}") from None


def broadcast_in_dim(operand: Any, shape: Shape, broadcast_dimensions: Sequence[int]) -> Any:
    x = as_array(operand, "broadcast_in_dim")
    shape = _shape_tuple(shape)
    dims = _shape_tuple(broadcast_dimensions, "broadcast_dimensions")
    if x.shape == shape and dims == tuple(range(len(shape))):
        return x
    return _broadcast_in_dim(x, shape, dims)


def broadcast(operand: Any, sizes: Shape) -> Any:
    """Add leading dimensions of the given sizes."""
    x = as_array(operand, "broadcast")
    sizes = _shape_tuple(sizes, "sizes")
    return broadcast_in_dim(x, sizes + x.shape, tuple(range(len(sizes), len(sizes) + x.ndim)))


def broadcast_to_rank(x: Any, rank: int) -> Any:
    x = as_array(x, "broadcast_to_rank")
    return x if x.ndim >= rank else broadcast(x, (1,) * (rank - x.ndim))


def reshape(operand: Any, new_sizes: Shape, dimensions: Sequence[int] | None = None) -> Any:
    """Row-major reshape, after transposing by ``dimensions`` if given."""
    x = as_array(operand, "reshape")
    new_sizes = _shape_tuple(new_sizes, "new_sizes")
    if dimensions is not None and tuple(dimensions) != tuple(range(x.ndim)):
        x = transpose(x, dimensions)
    if x.shape == new_sizes:
        return x
    return bind(P.reshape, (x,), {"new_sizes": new_sizes, "dimensions": None})


def transpose(operand: Any, permutation: Sequence[int]) -> Any:
    x = as_array(operand, "transpose")
    perm = _shape_tuple(permutation, "permutation")
    if perm == tuple(range(x.ndim)) and isinstance(x, Array):
        return x
    return bind(P.transpose, (x,), {"permutation": perm})


def _normalize_dims(dims: Sequence[int], ndim: int, name: str) -> tuple[int, ...]:
    out = []
    for d in dims:
        d = operator.index(d)
        if not -ndim <= d < ndim:
            raise ValueError(f"{name}: dimension {d} is out of range for rank {ndim}")
        out.append(d % ndim)
    return tuple(out)


def squeeze(array: Any, dimensions: Sequence[int]) -> Any:
    x = as_array(array, "squeeze")
    dims = tuple(sorted(set(_normalize_dims(dimensions, x.ndim, "squeeze"))))
    return bind(P.squeeze, (x,), {"dimensions": dims})


def expand_dims(array: Any, dimensions: Sequence[int]) -> Any:
    """Insert size-1 dimensions at ``dimensions`` (positions in the result)."""
    x = as_array(array, "expand_dims")
    out_rank = x.ndim + len(dimensions)
    new = set(_normalize_dims(dimensions, out_rank, "expand_dims"))
    if len(new) != len(dimensions):
        raise ValueError(f"expand_dims: repeated dimension in {tuple(dimensions)}")
    kept = [i for i in range(out_rank) if i not in new]
    shape = [1] * out_rank
    for i, n in zip(kept, x.shape):
        shape[i] = n
    return _broadcast_in_dim(x, tuple(shape), tuple(kept))


def rev(operand: Any, dimensions: Sequence[int]) -> Any:
    return bind(P.rev, (as_array(operand, "rev"),), {"dimensions": _shape_tuple(dimensions)})


def slice(operand: Any, start_indices: Shape, limit_indices: Shape,  # noqa: A001
          strides: Shape | None = None) -> Any:
    x = as_array(operand, "slice")
    params = {"start_indices": _shape_tuple(start_indices, "start_indices"),
              "limit_indices": _shape_tuple(limit_indices, "limit_indices"),
              "strides": None if strides is None else _shape_tuple(strides, "strides")}
    return bind(P.slice, (x,), params)


def slice_in_dim(operand: Any, start_index: int | None, limit_index: int | None,
                 stride: int = 1, axis: int = 0) -> Any:
    """``operand[start:limit:stride]`` along ``axis``; negative indices count from the end."""
    x = as_array(operand, "slice_in_dim")
    axis = _normalize_dims((axis,), x.ndim, "slice_in_dim")[0]
    size = x.shape[axis]
    start = 0 if start_index is None else operator.index(start_index)
    limit = size if limit_index is None else operator.index(limit_index)
    start, limit = (start + size if start < 0 else start), (limit + size if limit < 0 else limit)
    starts, limits, strides = [0] * x.ndim, list(x.shape), [1] * x.ndim
    starts[axis], limits[axis], strides[axis] = start, limit, operator.index(stride)
    return slice(x, starts, limits, strides)


def index_in_dim(operand: Any, index: int, axis: int = 0, keepdims: bool = True) -> Any:
    x = as_array(operand, "index_in_dim")
    axis = _normalize_dims((axis,), x.ndim, "index_in_dim")[0]
    index = operator.index(index)
    size = x.shape[axis]
    if not -size <= index < size:
        raise IndexError(f"index {index} is out of bounds for axis {axis} with size {size}")
    index %= size
    out = slice_in_dim(x, index, index + 1, 1, axis)
    return out if keepdims else squeeze(out, (axis,))


def _start_index(index: Any, size: int, name: str) -> Any:
    """A dynamic start index as an integer scalar; negative indices count from the end."""
    if isinstance(index, (int, np.integer)) and not isinstance(index, (bool, np.bool_)):
        # Static: wrap a negative index, then clamp in Python ints (as the op would), so an
        # index of any integer type or size, e.g. np.uint32(4e9), becomes a default int.
        index = int(index)
        index = index + size if index < 0 else index
        index = 0 if index < 0 else size if index > size else index  # (min/max are lax's here)
        return scalar_constant(index, dtypes.default_int(), True)
    index = as_array(index, name)
    if index.shape != () or dtypes.kind(index.dtype) not in "iu":
        raise TypeError(f"index arguments to {name} must be integer scalars, got "
                        f"{index.dtype}{list(index.shape)}")
    if dtypes.kind(index.dtype) == "u":
        return index
    zero, n = scalar_constant(0, index.dtype, True), scalar_constant(size, index.dtype, True)
    negative = bind(P.lt, (index, zero), _NO_PARAMS)
    return bind(P.select_n, (negative, index, bind(P.add, (index, n), _NO_PARAMS)), _NO_PARAMS)


def dynamic_slice(operand: Any, start_indices: Sequence[Any], slice_sizes: Shape) -> Any:
    """A ``slice_sizes`` block at ``start_indices``, clamped to stay inside ``operand``."""
    x = as_array(operand, "dynamic_slice")
    if len(start_indices) != x.ndim:
        raise TypeError(f"dynamic_slice: needs {x.ndim} start indices for an operand of shape "
                        f"{x.shape}, got {len(start_indices)}")
    starts = [_start_index(i, n, "dynamic_slice") for i, n in zip(start_indices, x.shape)]
    return bind(P.dynamic_slice, (x, *starts),
                {"slice_sizes": _shape_tuple(slice_sizes, "slice_sizes")})


def dynamic_slice_in_dim(operand: Any, start_index: Any, slice_size: int, axis: int = 0) -> Any:
    x = as_array(operand, "dynamic_slice_in_dim")
    axis = _normalize_dims((axis,), x.ndim, "dynamic_slice_in_dim")[0]
    starts: list[Any] = [0] * x.ndim
    sizes = list(x.shape)
    starts[axis], sizes[axis] = start_index, operator.index(slice_size)
    return dynamic_slice(x, starts, sizes)


def dynamic_index_in_dim(operand: Any, index: Any, axis: int = 0, keepdims: bool = True) -> Any:
    x = as_array(operand, "dynamic_index_in_dim")
    axis = _normalize_dims((axis,), x.ndim, "dynamic_index_in_dim")[0]
    out = dynamic_slice_in_dim(x, index, 1, axis)
    return out if keepdims else squeeze(out, (axis,))


def dynamic_update_slice(operand: Any, update: Any, start_indices: Sequence[Any]) -> Any:
    """``operand`` with ``update`` written at ``start_indices`` (clamped to fit)."""
    x, upd = _same_dtype("dynamic_update_slice", (operand, update))
    if len(start_indices) != x.ndim:
        raise TypeError(f"dynamic_update_slice: needs {x.ndim} start indices for an operand "
                        f"of shape {x.shape}, got {len(start_indices)}")
    starts = [_start_index(i, n, "dynamic_update_slice")
              for i, n in zip(start_indices, x.shape)]
    return bind(P.dynamic_update_slice, (x, upd, *starts), _NO_PARAMS)


def dynamic_update_slice_in_dim(operand: Any, update: Any, start_index: Any, axis: int) -> Any:
    x = as_array(operand, "dynamic_update_slice_in_dim")
    axis = _normalize_dims((axis,), x.ndim, "dynamic_update_slice_in_dim")[0]
    starts: list[Any] = [0] * x.ndim
    starts[axis] = start_index
    return dynamic_update_slice(x, update, starts)


def dynamic_update_index_in_dim(operand: Any, update: Any, index: Any, axis: int) -> Any:
    x = as_array(operand, "dynamic_update_index_in_dim")
    axis = _normalize_dims((axis,), x.ndim, "dynamic_update_index_in_dim")[0]
    upd = as_array(update, "dynamic_update_index_in_dim", 1)
    if upd.ndim == x.ndim - 1:
        upd = expand_dims(upd, (axis,))
    return dynamic_update_slice_in_dim(x, upd, index, axis)


def concatenate(operands: Sequence[Any], dimension: int) -> Any:
    ops = _same_dtype("concatenate", operands, "concatenate")
    if len(ops) == 1:
        return ops[0]
    return bind(P.concatenate, tuple(ops), {"dimension": operator.index(dimension)})


def pad(operand: Any, padding_value: Any,
        padding_config: Sequence[tuple[int, int, int]]) -> Any:
    """Pad with ``(low, high, interior)`` per dimension; negative low/high crop."""
    x, value = _same_dtype("pad", (operand, padding_value))
    config = tuple(tuple(operator.index(v) for v in c) for c in padding_config)
    return bind(P.pad, (x, value), {"padding_config": config})


# ---------------------------------------------------------------------------------------------
# Creation


def iota(dtype: Any, size: int) -> Any:
    return broadcasted_iota(dtype, (size,), 0)


def broadcasted_iota(dtype: Any, shape: Shape, dimension: int) -> Any:
    params = {"dtype": requested_dtype(dtype, "iota"), "shape": _shape_tuple(shape),
              "dimension": operator.index(dimension)}
    return bind(P.iota, (), params)


def full(shape: Shape, fill_value: Any, dtype: Any = None) -> Any:
    """An array of ``shape`` filled with the scalar ``fill_value``."""
    shape = _shape_tuple((shape,) if isinstance(shape, (int, np.integer)) else shape)
    value = as_operand(fill_value, "full")
    if type(value) not in PY_SCALARS and value.shape != ():
        raise TypeError(f"full must be called with scalar fill_value, got fill_value.shape "
                        f"{value.shape}.")
    if dtype is None:
        value = as_array(value, "full")
    else:
        value = convert(value, requested_dtype(dtype, "full"), False)
    return _filled(value, shape)


def _filled(value: Any, shape: tuple[int, ...]) -> Any:
    """``value`` broadcast to ``shape``: an op when tracing, a fresh contiguous buffer when
    eager (a broadcast view would be a zero-strided array that native code cannot take)."""
    if current_trace() is None and isinstance(value, Array):
        return Array(np.full(shape, np.asarray(value), dtype=value.dtype), value.weak_type)
    if shape == () and tuple(value.shape) == ():
        return value  # a scalar already (a literal when traced): no op, as in JAX
    return _broadcast_in_dim(value, shape, ())


def full_like(x: Any, fill_value: Any, dtype: Any = None, shape: Shape | None = None) -> Any:
    """``full`` with ``x``'s shape and dtype (and weak type, unless ``dtype`` is given)."""
    x = as_array(x, "full_like")
    dt = x.dtype if dtype is None else requested_dtype(dtype, "full_like")
    weak = dtype is None and x.weak_type
    value = convert(as_operand(fill_value, "full_like", 1), dt, weak)
    if value.shape != ():
        raise TypeError(f"full_like must be called with a scalar fill_value, got shape "
                        f"{value.shape}")
    out_shape = x.shape if shape is None else _shape_tuple(shape)
    return _filled(value, out_shape)


def zeros_like_array(x: Any) -> Any:
    return full_like(x, 0)


# ---------------------------------------------------------------------------------------------
# Reductions and contractions


def _reducer(prim: P.Primitive, name: str):
    def fn(operand: Any, axes: Sequence[int]) -> Any:
        return bind(prim, (as_array(operand, name),), {"axes": _shape_tuple(axes, "axes")})

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``{prim.name}`` over ``axes``."
    return fn


reduce_sum = _reducer(P.reduce_sum, "reduce_sum")
reduce_prod = _reducer(P.reduce_prod, "reduce_prod")
reduce_max = _reducer(P.reduce_max, "reduce_max")
reduce_min = _reducer(P.reduce_min, "reduce_min")
reduce_and = _reducer(P.reduce_and, "reduce_and")
reduce_or = _reducer(P.reduce_or, "reduce_or")
reduce_xor = _reducer(P.reduce_xor, "reduce_xor")


def argmax(operand: Any, axis: int, index_dtype: Any) -> Any:
    params = {"axes": (operator.index(axis),),
              "index_dtype": requested_dtype(index_dtype, "argmax")}
    return bind(P.argmax, (as_array(operand, "argmax"),), params)


def argmin(operand: Any, axis: int, index_dtype: Any) -> Any:
    params = {"axes": (operator.index(axis),),
              "index_dtype": requested_dtype(index_dtype, "argmin")}
    return bind(P.argmin, (as_array(operand, "argmin"),), params)


# ---------------------------------------------------------------------------------------------
# Sorting


def _sort_dimension(dimension: int, ndim: int) -> int:
    dimension = operator.index(dimension)
    if not -ndim <= dimension < ndim:
        raise ValueError(f"axis {dimension} is out of bounds for array of dimension {ndim}")
    return dimension % ndim


def sort(operand: Any, dimension: int = -1, is_stable: bool = True, num_keys: int = 1) -> Any:
    """Sort ``operand`` (an array, or a sequence of equally shaped arrays permuted together,
    ordered by their first ``num_keys``) along ``dimension``. Floats: -0.0 equals 0.0, NaNs
    go last. A sequence gives a tuple back."""
    single = not isinstance(operand, (tuple, list))
    given = [operand] if single else list(operand)
    if not given:
        raise ValueError("lax.sort needs at least one operand")
    ops = [as_array(x, "sort", i) for i, x in enumerate(given)]
    num_keys = operator.index(num_keys)
    if not 1 <= num_keys <= len(ops):
        raise ValueError(f"num_keys={num_keys} must be between 1 and len(operand)={len(ops)}")
    for x in ops[1:]:
        if x.shape != ops[0].shape:
            raise TypeError("Arguments to sort must have equal shapes, got: "
                            + " ".join(str(y.shape) for y in ops))
    params = {"dimension": _sort_dimension(dimension, ops[0].ndim),
              "is_stable": bool(is_stable), "num_keys": num_keys}
    outs = bind(P.sort, ops, params)
    return outs[0] if single else tuple(outs)


def sort_key_val(keys: Any, values: Any, dimension: int = -1,
                 is_stable: bool = True) -> tuple[Any, Any]:
    """``keys`` sorted along ``dimension``, and ``values`` permuted the same way."""
    return sort((keys, values), dimension, is_stable, 1)


def _descending_key(x: Any) -> Any:
    """Integers whose ascending order is ``x``'s descending total order: for floats the
    order of their bits (-NaN < -inf < ... < -0.0 < +0.0 < ... < +inf < +NaN), as top_k's."""
    if dtypes.kind(x.dtype) != "f":
        return bind(P.not_, (x,), _NO_PARAMS)  # ~x reverses integer and bool order exactly
    width = 8 * x.dtype.itemsize
    ints = np.dtype(f"int{width}")
    bits = bitcast_convert_type(x, ints)
    # A negative float's magnitude bits count the wrong way: flip them.
    sign = bind(P.shift_right_arithmetic, (bits, Array(np.array(width - 1, ints))), _NO_PARAMS)
    magnitude = Array(np.array((1 << (width - 1)) - 1, ints))
    ordered = bind(P.xor, (bits, bind(P.and_, (sign, magnitude), _NO_PARAMS)), _NO_PARAMS)
    return bind(P.not_, (ordered,), _NO_PARAMS)


def top_k(operand: Any, k: int, *, axis: int = -1) -> list[Any]:
    """The ``k`` largest entries along ``axis`` in descending order, and their (int32)
    indices; equal entries come lowest index first. Floats are ordered by their bits, so
    -0.0 < 0.0 and NaNs of either sign sit at either end."""
    x = as_array(operand, "top_k")
    k = operator.index(k)
    if k < 0:
        raise ValueError(f"k argument to top_k must be nonnegative, got {k}")
    axis = _sort_dimension(axis, x.ndim)
    if k > x.shape[axis]:
        raise ValueError("k argument to top_k must be no larger than size along axis; got "
                         f"k={k} with shape={list(x.shape)} and axis={axis}")
    index = broadcasted_iota(np.int32, x.shape, axis)
    _, values, indices = sort((_descending_key(x), x, index), axis, True, 1)
    # A list, as JAX's (its primitive's results).
    return [slice_in_dim(values, 0, k, 1, axis), slice_in_dim(indices, 0, k, 1, axis)]


DimensionNumbers = tuple[tuple[Sequence[int], Sequence[int]], tuple[Sequence[int], Sequence[int]]]
DotDimensionNumbers = DimensionNumbers  # JAX's name for the same type


PrecisionLike = Any


def canonicalize_precision(precision: Any) -> tuple[Precision, Precision] | None:
    """A precision argument as a pair of ``Precision`` values (one per operand), or None."""
    if precision is None:
        return None
    if isinstance(precision, str) and precision in PRECISION_NAMES:
        return Precision(precision), Precision(precision)
    if isinstance(precision, Precision):
        return precision, precision
    if isinstance(precision, (list, tuple)) and len(precision) == 2:
        if all(isinstance(p, Precision) for p in precision):
            return precision[0], precision[1]
        if all(isinstance(p, str) and p in PRECISION_NAMES for p in precision):
            return Precision(precision[0]), Precision(precision[1])
    names = list(PRECISION_NAMES)
    raise ValueError("Precision argument must be one of:\n"
                     "- None,\n"
                     f"- a string in {names},\n"
                     "- a lax.Precision value,\n"
                     "- a tuple of two lax.Precision values or strings,\n"
                     "- a lax.DotAlgorithmPreset or the name of one of these presets, or\n"
                     "- a lax.DotAlgorithm value;\n"
                     f"but got {precision}.")


def dot_general(lhs: Any, rhs: Any, dimension_numbers: DimensionNumbers,
                precision: Any = None, preferred_element_type: Any = None) -> Any:
    """Contract ``lhs`` and ``rhs``: out = batch dims + lhs free dims + rhs free dims."""
    (lc, rc), (lb, rb) = dimension_numbers
    dn = ((_shape_tuple(lc), _shape_tuple(rc)), (_shape_tuple(lb), _shape_tuple(rb)))
    # Recorded as JAX records it; the CPU computes at full precision whatever it says.
    precision = canonicalize_precision(precision)
    x = as_array(lhs, "dot_general")
    y = as_array(rhs, "dot_general", 1)
    pet = None if preferred_element_type is None else \
        requested_dtype(preferred_element_type, "dot_general")
    if x.dtype != y.dtype:
        if pet is None:
            raise TypeError(f"dot_general requires operands of the same dtype, got {x.dtype} "
                            f"and {y.dtype}")
        x, y = convert(x, pet), convert(y, pet)
    return bind(P.dot_general, (x, y), {"dimension_numbers": dn, "precision": precision,
                                        "preferred_element_type": pet})


def dot(lhs: Any, rhs: Any, precision: Any = None, preferred_element_type: Any = None) -> Any:
    """Vector/matrix products of rank-1 and rank-2 operands."""
    x, y = as_array(lhs, "dot"), as_array(rhs, "dot", 1)
    if 1 <= x.ndim <= 2 and 1 <= y.ndim <= 2:
        dn = (((x.ndim - 1,), (0,)), ((), ()))
        return dot_general(x, y, dn, precision, preferred_element_type)
    raise ValueError("lax.dot: dimension_numbers must be specified when not performing "
                     "simple un-batched matrix-matrix, matrix-vector, or vector-vector "
                     f"products; got lhs_shape={x.shape} rhs_shape={y.shape}")


def batch_matmul(lhs: Any, rhs: Any, precision: Any = None) -> Any:
    """Matrix products over matching leading batch dimensions."""
    x, y = as_array(lhs, "batch_matmul"), as_array(rhs, "batch_matmul", 1)
    if x.ndim < 2 or x.ndim != y.ndim:
        raise ValueError(f"batch_matmul requires operands of equal rank >= 2, got shapes "
                         f"{x.shape} and {y.shape}")
    batch = tuple(range(x.ndim - 2))
    return dot_general(x, y, (((x.ndim - 1,), (y.ndim - 2,)), (batch, batch)), precision)


# ---------------------------------------------------------------------------------------------
# Differentiation


def stop_gradient(x: Any) -> Any:
    """``x`` with derivatives blocked: every floating leaf of the pytree is a constant to
    differentiation (``stop_gradient`` op); other leaves pass through."""
    from llax.frontend.tree_util import tree_map

    def stop(leaf: Any) -> Any:
        leaf = as_array(leaf, "stop_gradient")
        if dtypes.kind(leaf.dtype) != "f":
            return leaf
        return bind(P.stop_gradient, (leaf,), _NO_PARAMS)

    return tree_map(stop, x)


# Complex numbers (JAX's lax.complex, real, imag, conj).
real, imag = _unary(P.real, "real"), _unary(P.imag, "imag")


def complex(x: Any, y: Any) -> Any:  # noqa: A001 - JAX's name
    """``x + 1j * y`` from float parts of one dtype."""
    return bind(P.complex, tuple(_same_shape("complex", _same_dtype("complex", (x, y)))),
                _NO_PARAMS)


def conj(x: Any) -> Any:
    """The complex conjugate (a real operand becomes complex with a +0 imaginary part, as
    in JAX)."""
    x = as_array(x, "conj")
    if dtypes.kind(x.dtype) != "c":
        return convert_element_type(x, dtypes.complex_of(x.dtype))
    return bind(P.conj, (x,), {"input_dtype": x.dtype})


# ---------------------------------------------------------------------------------------------
# General reductions, shapes and dtypes, gather and scatter (JAX's lax API)


def _is_identity(init: Any, value: Any) -> bool:
    """Whether the init value is concretely the scalar ``value`` (a monoid's identity)."""
    from llax.frontend.core import Tracer, concrete_value

    if isinstance(init, Tracer):
        return False
    v = np.asarray(concrete_value(init)[0] if isinstance(init, Array) else init)
    return v.shape == () and bool(np.equal(v, value))


def _monoid_reducer(computation: Any, inits: list[Any]) -> Any:
    """The reduce primitive ``computation`` with ``inits`` amounts to (JAX's recognised
    monoids: lax.add/mul/max/min, and the bitwise ones on integers and bools), or None."""
    if len(inits) != 1:
        return None
    (init,) = inits
    dt = dtype_and_weak(init)[0]
    intlike = dtypes.is_bool(dt) or dtypes.kind(dt) in "iu"
    if computation is add:
        return reduce_sum if _is_identity(init, 0) else None
    if computation is mul:
        return reduce_prod if _is_identity(init, 1) else None
    if computation is bitwise_or and intlike:
        return reduce_or if _is_identity(init, np.array(0).astype(dt)) else None
    if computation is bitwise_and and intlike:
        return reduce_and if _is_identity(init, np.array(-1).astype(dt)) else None
    if computation is bitwise_xor and intlike:
        return reduce_xor if _is_identity(init, np.array(0).astype(dt)) else None
    if computation in (max, min):
        lowest = computation is max
        if dtypes.kind(dt) in "fc":
            identity = -np.inf if lowest else np.inf
        elif dtypes.is_bool(dt):
            identity = not lowest
        else:
            info = np.iinfo(dt)
            identity = info.min if lowest else info.max
        if _is_identity(init, identity):
            return reduce_max if lowest else reduce_min
    return None


def reduce(operands: Any, init_values: Any, computation: Any,
           dimensions: Sequence[int]) -> Any:
    """Reduce ``operands`` (an array or a pytree of equally shaped arrays) over
    ``dimensions`` by ``computation(accumulated, element)``, starting from the scalar
    ``init_values`` (the same pytree). With one operand, ``lax.add``/``mul``/``max``/``min``
    (or a bitwise op on integers) and its identity, this is the matching ``reduce_*``
    primitive, as in JAX; otherwise the elements are folded in along the reduced
    dimensions in order (a ``scan``), ``computation`` applied to whole rows at once."""
    from llax.frontend.tree_util import tree_flatten, tree_unflatten

    flat_ops, op_tree = tree_flatten(operands)
    flat_inits, init_tree = tree_flatten(init_values)
    if op_tree != init_tree:
        raise ValueError("Operands must have the same tree structure as init_values: "
                         f"{op_tree} vs. {init_tree}")
    if len(flat_ops) != len(flat_inits):
        raise ValueError("Must have same total number of operands as init_values:  "
                         f"{len(flat_ops)} vs. {len(flat_inits)}")
    dims = _shape_tuple(dimensions, "dimensions")
    ops = [as_array(x, "reduce", i) for i, x in enumerate(flat_ops)]
    reducer = _monoid_reducer(computation, flat_inits)
    if reducer is not None:
        (x,), (init,) = ops, flat_inits
        weak = x.weak_type and dtype_and_weak(init)[1]
        out = reducer(x, dims)
        return out if out.weak_type == weak else convert(out, out.dtype, weak)
    return tree_unflatten(op_tree, _fold(ops, flat_inits, computation, dims, init_tree))


def _aval_text(x: Any) -> str:
    """A value's type as JAX's errors print it: ``ShapedArray(int32[], weak_type=True)``."""
    weak = ", weak_type=True" if x.weak_type else ""
    return f"ShapedArray({x.dtype.name}[{','.join(str(n) for n in x.shape)}]{weak})"


def _fold(ops: list[Any], flat_inits: list[Any], computation: Any, dims: tuple[int, ...],
          tree: Any) -> list[Any]:
    """The general ``reduce``: a scan over the reduced elements, carrying one partial
    result per kept element."""
    from llax.frontend.tree_util import tree_flatten, tree_unflatten

    inits = [as_array(v, "reduce", i) for i, v in enumerate(flat_inits)]
    if any(v.shape != () for v in inits):
        raise ValueError(f"reduce found non-scalar initial value: {[v.shape for v in inits]}")
    if [x.dtype for x in ops] != [v.dtype for v in inits]:
        raise TypeError("reduce operand dtypes should match corresponding initial value "
                        f"dtypes, got operands=[{', '.join(_aval_text(x) for x in ops)}] and "
                        f"initial_values=[{', '.join(_aval_text(v) for v in inits)}]")
    shape = ops[0].shape
    if any(x.shape != shape for x in ops):
        raise ValueError(f"reduce operands must have equal shapes, got "
                         f"{[x.shape for x in ops]}")
    ndim = len(shape)
    if len(set(dims)) != len(dims) or any(not 0 <= d < ndim for d in dims):
        raise ValueError(f"reduce: invalid dimensions {dims} for operands of rank {ndim}")
    kept = [d for d in range(ndim) if d not in dims]
    rest = tuple(shape[d] for d in kept)
    count = int(np.prod([shape[d] for d in dims], dtype=np.int64))
    # The reduced elements lead, flattened, so that the scan walks them one row at a time.
    rows = [reshape(transpose(x, (*dims, *kept)), (count, *rest)) for x in ops]
    starts = [full(rest, v) if rest else v for v in inits]
    starts = [convert(st, x.dtype, x.weak_type and v.weak_type)
              for st, x, v in zip(starts, ops, inits)]

    def step(carry: list[Any], row: list[Any]) -> tuple[list[Any], None]:
        out = computation(tree_unflatten(tree, carry), tree_unflatten(tree, row))
        flat, out_tree = tree_flatten(out)
        if out_tree != tree:
            raise TypeError(f"reduce: the computation must return the structure of "
                            f"init_values ({tree}), got {out_tree}")
        return [convert(as_array(o, "reduce"), c.dtype, c.weak_type)
                for o, c in zip(flat, carry)], None

    result, _ = scan(step, starts, rows, length=count)
    return list(result)


def broadcast_shapes(*shapes: Sequence[int]) -> tuple[int, ...]:
    """The shape NumPy broadcasting gives ``shapes`` (size-1 dimensions stretch, missing
    leading ones are added)."""
    given = [tuple(shape) for shape in shapes]
    for shape in given:
        if any(not isinstance(d, (int, np.integer)) or d < 0 for d in shape):
            raise TypeError("Only non-negative indices are allowed when broadcasting static "
                            f"shapes, but got shape {shape}.")
    if not given:
        return ()
    rank = builtins.max(len(s) for s in given)
    out = []
    for d in range(rank):
        sizes = {s[d - rank + len(s)] for s in given if d - rank + len(s) >= 0}
        sizes.discard(1)
        if len(sizes) > 1:
            raise ValueError(f"Incompatible shapes for broadcasting: shapes={given}")
        out.append(int(sizes.pop()) if sizes else 1)
    return tuple(out)


def dtype(x: Any) -> np.dtype:
    """The dtype of a value or a dtype-like, narrowed as the x64 flag says (JAX's
    ``lax.dtype``)."""
    from llax.frontend.core import Tracer

    if x is None:
        raise ValueError(f"Invalid argument to dtype: {x}.")
    if isinstance(x, (Array, Tracer)):
        return np.dtype(x.dtype)
    if isinstance(x, (bool, int, float, builtins.complex, np.generic, np.ndarray)):
        return dtype_of_value(x)[0]
    try:
        return dtypes.canonicalize(np.dtype(x))
    except TypeError:
        raise TypeError(f"Cannot determine dtype of {x}") from None


def gather(operand: Any, start_indices: Any, dimension_numbers: GatherDimensionNumbers,
           slice_sizes: Shape, *, unique_indices: bool = False, indices_are_sorted: bool = False,
           mode: str | GatherScatterMode | None = None, fill_value: Any = None) -> Any:
    """XLA's Gather: slices of ``operand`` of ``slice_sizes`` at ``start_indices``."""
    x = as_array(operand, "gather")
    idx = as_array(start_indices, "gather", 1)
    params = {"dimension_numbers": as_gather_dnums(dimension_numbers),
              "slice_sizes": _shape_tuple(slice_sizes, "slice_sizes"),
              "mode": GatherScatterMode.from_any(mode),
              "fill_value": None if fill_value is None else np.asarray(fill_value).item(),
              "indices_are_sorted": bool(indices_are_sorted),
              "unique_indices": bool(unique_indices)}
    return bind(P.gather, (x, idx), params)


def _scatter_fn(prim: P.Primitive, name: str):
    def fn(operand: Any, scatter_indices: Any, updates: Any,
           dimension_numbers: ScatterDimensionNumbers, *, indices_are_sorted: bool = False,
           unique_indices: bool = False, mode: str | GatherScatterMode | None = None) -> Any:
        x, upd = _same_dtype(name, (operand, updates))
        idx = as_array(scatter_indices, name, 1)
        params = {"dimension_numbers": as_scatter_dnums(dimension_numbers),
                  "mode": GatherScatterMode.from_any(mode),
                  "indices_are_sorted": bool(indices_are_sorted),
                  "unique_indices": bool(unique_indices)}
        return bind(prim, (x, idx, upd), params)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"XLA's Scatter: ``updates`` combined into ``operand`` by ``{prim.name}``."
    return fn


scatter = _scatter_fn(P.scatter, "scatter")
scatter_add = _scatter_fn(P.scatter_add, "scatter_add")
scatter_sub = _scatter_fn(P.scatter_sub, "scatter_sub")
scatter_mul = _scatter_fn(P.scatter_mul, "scatter_mul")
scatter_min = _scatter_fn(P.scatter_min, "scatter_min")
scatter_max = _scatter_fn(P.scatter_max, "scatter_max")


# ---------------------------------------------------------------------------------------------
# Smaller pieces of JAX's lax: splitting and stacking, special functions, primitives by name


def split(operand: Any, sizes: Sequence[int], axis: int = 0) -> list[Any]:
    """Consecutive pieces of ``operand`` along ``axis`` of the given ``sizes``."""
    x = as_array(operand, "split")
    sizes = _shape_tuple(sizes, "sizes")
    axis = _sort_dimension(axis, x.ndim)
    if any(n < 0 for n in sizes):
        raise ValueError(f"Sizes passed to split must be nonnegative, got {list(sizes)}")
    if sum(sizes) != x.shape[axis]:
        raise ValueError(f"Sum of sizes {sum(sizes)} must be equal to dimension {axis} of the "
                         f"operand shape {list(x.shape)}")
    out, start = [], 0
    for n in sizes:
        out.append(slice_in_dim(x, start, start + n, 1, axis))
        start += n
    return out


def stack(operands: Sequence[Any], axis: int = 0) -> Any:
    """Equally shaped arrays joined along a new ``axis``."""
    arrays = [as_array(x, "stack", i) for i, x in enumerate(operands)]
    if not arrays:
        raise IndexError("list index out of range")  # what JAX's raises
    if len({a.shape for a in arrays}) > 1:
        raise ValueError("All input arrays must have the same shape. Got "
                         f"{', '.join(str(a.shape) for a in arrays)}.")
    axis = _sort_dimension(axis, arrays[0].ndim + 1)
    return concatenate([expand_dims(a, (axis,)) for a in arrays], axis)


def unstack(x: Any, axis: int = 0) -> tuple[Any, ...]:
    """The slices of ``x`` along ``axis``, that axis dropped."""
    arr = as_array(x, "unstack")
    axis = _sort_dimension(axis, arr.ndim)
    return tuple(squeeze(slice_in_dim(arr, i, i + 1, 1, axis), (axis,))
                 for i in range(arr.shape[axis]))


def collapse(operand: Any, start_dimension: int, stop_dimension: int | None = None) -> Any:
    """``operand`` with its dimensions ``start_dimension:stop_dimension`` merged into one."""
    x = as_array(operand, "collapse")
    lo, hi, _ = builtins.slice(start_dimension, stop_dimension).indices(x.ndim)
    if hi < lo:
        raise ValueError(f"Invalid dimension range passed to collapse: {x.shape}"
                         f"[{start_dimension}:{stop_dimension}]")
    size = int(np.prod(x.shape[lo:hi], dtype=np.int64))
    return reshape(x, (*x.shape[:lo], size, *x.shape[hi:]))


def broadcast_like(arr: Any, like_arr: Any) -> Any:
    """``arr`` broadcast (NumPy's rules) to the shape of ``like_arr``."""
    x = as_array(arr, "broadcast_like")
    like = as_array(like_arr, "broadcast_like", 1)
    shape, lead = tuple(like.shape), len(like.shape) - x.ndim
    if lead < 0 or any(n not in (1, m) for n, m in zip(x.shape, shape[lead:])):
        raise ValueError(f"Incompatible types for broadcasting: input type={_short_type(x)} "
                         f"and requested type={_short_type(like, x.dtype)}")
    kept = [d for d, (n, m) in enumerate(zip(x.shape, shape[lead:])) if n == m]
    if len(kept) != x.ndim:
        x = reshape(x, tuple(x.shape[d] for d in kept))
    return broadcast_in_dim(x, shape, tuple(lead + d for d in kept))


def _short_type(x: Any, dtype: Any = None) -> str:
    return f"{np.dtype(dtype or x.dtype).name}[{','.join(str(n) for n in x.shape)}]"


def optimization_barrier(operand: Any, /) -> Any:
    """The values of ``operand`` (a pytree) unchanged. XLA keeps computations from moving
    across it; llax's passes have no such motion to prevent (its common-subexpression
    elimination may still merge values on either side)."""
    from llax.frontend.tree_util import tree_map

    return tree_map(lambda v: as_array(v, "optimization_barrier"), operand)


def _float_args(name: str, args: Sequence[Any]) -> list[Any]:
    ops = _same_shape(name, _same_dtype(name, args))
    if dtypes.kind(ops[0].dtype) != "f":
        raise TypeError(f"{name} does not accept dtype {ops[0].dtype}. Accepted dtypes are "
                        "subtypes of floating.")
    return ops


def zeta(x: Any, q: Any) -> Any:
    """The Hurwitz zeta function ``sum((n + q) ** -x for n >= 0)``."""
    from llax.frontend.scipy import special

    return special.zeta(*_float_args("zeta", (x, q)))


def polygamma(m: Any, x: Any) -> Any:
    """The ``m``-th derivative of the digamma function."""
    from llax.frontend.scipy import special

    m, x = _float_args("polygamma", (m, x))
    if m.shape != x.shape:
        m = _broadcast_in_dim(m, x.shape, ()) if m.shape == () else m
        x = _broadcast_in_dim(x, m.shape, ()) if x.shape == () else x
    # A float order, as XLA's: NaN unless it is a non-negative integer.
    whole = bind(P.and_, (eq(floor(m), m), ge(m, scalar_constant(0, m.dtype, True))),
                 _NO_PARAMS)
    value = special.polygamma(convert(select(whole, m, full_like(m, 0)), np.dtype(np.int32)),
                              x)
    return select(whole, convert(value, x.dtype, x.weak_type), full_like(value, np.nan))


def bessel_i0e(x: Any) -> Any:
    """The exponentially scaled modified Bessel function of order 0: ``exp(-|x|) I0(x)``."""
    from llax.frontend.scipy import special

    return special.i0e(*_float_args("bessel_i0e", (x,)))


def bessel_i1e(x: Any) -> Any:
    """The exponentially scaled modified Bessel function of order 1: ``exp(-|x|) I1(x)``."""
    from llax.frontend.scipy import special

    return special.i1e(*_float_args("bessel_i1e", (x,)))


def betainc(a: Any, b: Any, x: Any) -> Any:
    """The regularised incomplete beta function ``I_x(a, b)``."""
    from llax.frontend.scipy import special

    return special.betainc(*_float_args("betainc", (a, b, x)))


def _primitive_aliases() -> dict[str, P.Primitive]:
    """JAX's ``lax.<name>_p`` objects: llax's primitive of that name, where it has one (a
    jaxpr interpreter compares ``eqn.primitive`` with them, or binds them)."""
    from llax.ir.primitive import PRIMITIVES

    aliases = {f"{name.replace('-', '_')}_p": prim for name, prim in PRIMITIVES.items()}
    return {k: v for k, v in aliases.items() if k.isidentifier() and not k.startswith("_")}


globals().update({k: v for k, v in _primitive_aliases().items() if k not in globals()})

from llax.frontend.lax_conv import *  # noqa: E402,F403  (convolutions)
from llax.frontend.lax_cumulative import *  # noqa: E402,F403  (cumsum, cummax, ...)
from llax.frontend.lax_fft import FftType, fft  # noqa: E402,F401  (JAX's lax.fft, lax.FftType)
from llax.frontend.lax_windows import *  # noqa: E402,F403  (reduce_window, pooling)
