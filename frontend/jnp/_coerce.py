"""From user operands to values a primitive accepts: the array-like check, JAX's dtype
promotion (with weak types) and NumPy broadcasting.

Everything that depends only on the operands' types is decided once per type
signature and cached as a *plan*: one converter per operand (or None). Applying
a plan is then a few calls, which keeps eager ``x + 1`` cheap.

An operand's signature is ``(shape, dtype, weak)`` for Arrays and tracers, and
the Python type for Python scalars, whose dtype depends only on their type.
"""

from __future__ import annotations

import functools
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from llax.config import config
from llax.frontend.core import Array, Tracer, bind
from llax.frontend.jnp._dtypes import to_inexact
from llax.ir import dtypes
from llax.ir import prims as P
from llax.ir.promotion import dtype_of_value, reject_masked, result_type
from llax.ir.reference import reference

PY_SCALARS = (bool, int, float, complex)
Converter = Callable[[Any], Any]


# ---------------------------------------------------------------------------------------------
# Operands


def arraylike_error(name: str, x: Any, position: int) -> TypeError:
    return TypeError(f"{name} requires ndarray or scalar arguments, got {type(x)} at "
                     f"position {position}.")


def is_arraylike(x: Any) -> bool:
    return isinstance(x, (Array, Tracer, np.ndarray, np.generic, bool, int, float, complex))


def from_numpy(x: np.ndarray | np.generic, where: str) -> Array:
    """A NumPy value as an Array of its canonical dtype (a copy: Arrays freeze their buffer)."""
    reject_masked(x)
    if x.dtype not in dtypes.SUPPORTED:
        raise TypeError(f"{where}: value of dtype {x.dtype} is not a valid llax array type; "
                        "only bool, integer, floating and complex arrays are supported")
    return Array(np.array(x, dtype=dtypes.canonicalize(x.dtype)))


def as_operand(x: Any, name: str, position: int = 0) -> Any:
    """An operand llax can type: Arrays, tracers and Python scalars pass through; NumPy
    values become Arrays; anything else (lists included, as in JAX) raises TypeError."""
    if isinstance(x, (Array, Tracer)):
        return x
    if isinstance(x, (np.ndarray, np.generic)):
        return from_numpy(x, name)
    if type(x) in PY_SCALARS:
        return x
    if isinstance(x, (int, float, complex)):  # subclasses such as IntEnum: typed, not weak
        dt, weak = dtype_of_value(x)
        return Array(np.array(x, dtype=dt), weak)
    raise arraylike_error(name, x, position)


def as_array(x: Any, name: str, position: int = 0) -> Any:
    """Like ``as_operand`` but Python scalars become weakly typed Arrays too."""
    x = as_operand(x, name, position)
    if type(x) in PY_SCALARS:
        dt, weak = dtype_of_value(x)
        return scalar_constant(x, dt, weak)
    return x


def signature(x: Any) -> Any:
    """What a plan depends on: ``(shape, dtype, weak)``, or the type of anything else."""
    t = type(x)
    if t is Array:
        v = x._value
        return v.shape, v.dtype, x.weak_type
    if t is Tracer:
        ty = x.ir_var.type
        return ty.shape, ty.dtype, ty.weak
    return t


def typed_signature(sig: Any) -> tuple[tuple[int, ...], np.dtype, bool]:
    """``(shape, dtype, weak)`` of a signature; Python scalars get their (weak) default type."""
    if type(sig) is tuple:
        return sig
    if sig is bool:
        return (), dtypes.bool_, False
    if sig is int:
        return (), dtypes.default_int(), True
    if sig is complex:
        return (), dtypes.default_complex(), True
    return (), dtypes.default_float(), True


def shape_of(x: Any) -> tuple[int, ...]:
    return x.shape if isinstance(x, (Array, Tracer)) else np.shape(x)


def dtype_and_weak(x: Any) -> tuple[np.dtype, bool]:
    if isinstance(x, (Array, Tracer)):
        return x.dtype, x.weak_type
    return dtype_of_value(x)


# ---------------------------------------------------------------------------------------------
# Constants and single conversions


# Threads: the cached Arrays are immutable and equal for equal keys, so a race on a miss
# stores equal values, and a clear() racing with a read only turns the read into a miss.
# (The same holds for the per-plan scalar caches below; the lru_caches lock themselves.)
_CONSTANTS: dict[tuple, Array] = {}
_MAX_CONSTANTS = 4096


def scalar_constant(x: bool | int | float | complex, dtype: np.dtype, weak: bool) -> Array:
    """A Python scalar as a rank-0 Array of ``dtype``: a literal once traced, never an op."""
    # -0.0 == 0.0 and nan != nan: such floats would alias or never hit, so skip the cache
    # (and complex numbers, whose parts' zeros could alias the same way).
    cacheable = type(x) is not complex and (type(x) is not float or (x == x and x != 0.0))
    key = (type(x), x, dtype, weak)
    if cacheable:
        hit = _CONSTANTS.get(key)
        if hit is not None:
            return hit
    if type(x) is int:
        check_python_int(x)
        # Python ints wrap into narrower integer dtypes, as in JAX (int8 array + 300).
        value = np.array(x, dtype=np.int64).astype(dtype)
    else:
        value = np.array(x, dtype=dtype)
    out = Array(value, weak)
    if cacheable:
        if len(_CONSTANTS) >= _MAX_CONSTANTS:
            _CONSTANTS.clear()
        _CONSTANTS[key] = out
    return out


def check_python_int(x: int) -> None:
    info = np.iinfo(dtypes.default_int())
    if not info.min <= x <= info.max:
        raise OverflowError(f"Python int {x} too large to convert to {info.dtype}")


def convert(x: Any, dtype: np.dtype, weak: bool = False) -> Any:
    """``convert_element_type`` unless ``x`` already has this dtype and weak flag.

    Python scalars are converted right away (to a constant, as JAX folds them),
    with the primitive's own semantics (float to int truncates and saturates).
    """
    if type(x) in PY_SCALARS:
        # From the 64-bit value straight to the target: a single rounding.
        value = reference[P.convert_element_type](np.asarray(x), new_dtype=dtype)
        return Array(np.asarray(value, dtype=dtype), weak)
    dt, w = dtype_and_weak(x)
    if dt == dtype and w == weak:
        return x
    return bind(P.convert_element_type, (x,), {"new_dtype": dtype, "weak_type": weak})


def broadcast_in_dim(x: Any, shape: tuple[int, ...], dims: tuple[int, ...]) -> Any:
    return bind(P.broadcast_in_dim, (x,), {"shape": shape, "broadcast_dimensions": dims})


def broadcast_to_shape(x: Any, shape: tuple[int, ...]) -> Any:
    """Broadcast ``x`` (rank <= len(shape), NumPy rules already checked) to ``shape``."""
    x_shape = shape_of(x)
    if x_shape == shape:
        return x
    lead = len(shape) - len(x_shape)
    return broadcast_in_dim(x, shape, tuple(range(lead, len(shape))))


# ---------------------------------------------------------------------------------------------
# Promotion plans


def _promote(dt: np.dtype, weak: bool) -> tuple[np.dtype, bool]:
    return dt, weak


def _numeric(dt: np.dtype, weak: bool) -> tuple[np.dtype, bool]:
    # Arithmetic that has no boolean meaning (floor_divide, power, shifts) counts bools as
    # int32, even under x64 (JAX's choice).
    return (dtypes.int32, False) if dt == dtypes.bool_ else (dt, weak)


def _inexact_strong(dt: np.dtype, weak: bool) -> tuple[np.dtype, bool]:
    # Ops that reach floats through an explicit cast to the default float (rint, as JAX's
    # astype(float_)) lose the weak flag on the way: int32 gives float64 under x64.
    return (dt, weak) if dtypes.kind(dt) in "fc" else (dtypes.default_float(), False)


def _to_bool(dt: np.dtype, weak: bool) -> tuple[np.dtype, bool]:
    return dtypes.bool_, False


# How the common dtype of the operands becomes the dtype an op computes in.
POLICIES: dict[str, Callable[[np.dtype, bool], tuple[np.dtype, bool]]] = {
    "promote": _promote, "inexact": to_inexact, "numeric": _numeric, "bool": _to_bool,
    "inexact_strong": _inexact_strong,
}


@functools.lru_cache(maxsize=4096)
def broadcast_shapes(name: str, shapes: tuple[tuple[int, ...], ...]) -> tuple[int, ...]:
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for d in range(rank):
        sizes = {s[d - rank + len(s)] for s in shapes if d - rank + len(s) >= 0}
        sizes.discard(1)
        if len(sizes) > 1:
            # ValueError, as JAX raises for jnp broadcasting (lax-level mismatches are TypeError).
            raise ValueError(f"{name} got incompatible shapes for broadcasting: "
                             f"{', '.join(str(tuple(s)) for s in shapes)}.")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def _operand_converter(sig: Any, dtype: np.dtype, weak: bool,
                       shape: tuple[int, ...]) -> Converter | None:
    steps: list[Converter] = []
    if type(sig) is tuple:
        x_shape, x_dtype, x_weak = sig
        if (x_dtype, x_weak) != (dtype, weak):
            params = {"new_dtype": dtype, "weak_type": weak}
            steps.append(lambda x: bind(P.convert_element_type, (x,), params))
    else:
        x_shape = ()
        steps.append(_scalar_converter(dtype, weak))
    if x_shape != shape and x_shape != ():  # rank 0 broadcasts inside the primitive
        dims = tuple(range(len(shape) - len(x_shape), len(shape)))
        bparams = {"shape": shape, "broadcast_dimensions": dims}
        steps.append(lambda x: bind(P.broadcast_in_dim, (x,), bparams))
    if not steps:
        return None
    if len(steps) == 1:
        return steps[0]
    first, second = steps
    return lambda x: second(first(x))


def _scalar_converter(dtype: np.dtype, weak: bool) -> Converter:
    """Python scalars (all of one type, the plan's) to constants, with a per-plan cache."""
    cache: dict[Any, Array] = {}

    def convert_scalar(x: Any) -> Array:
        hit = cache.get(x)
        if hit is None:
            hit = scalar_constant(x, dtype, weak)
            # Never store 0.0 (-0.0 would find it) or NaN (never found); keep it small.
            # Nor complex numbers, whose zero parts alias the same way.
            if (type(x) is not complex and (x == x and x != 0.0 or type(x) is not float)
                    and len(cache) < 256):
                cache[x] = hit
        return hit

    return convert_scalar


class Plan:
    """How to bring a tuple of operands to a common dtype and shape."""

    __slots__ = ("converters", "dtype", "weak", "shape")

    def __init__(self, converters: tuple[Converter | None, ...], dtype: np.dtype, weak: bool,
                 shape: tuple[int, ...]) -> None:
        self.converters = converters
        self.dtype = dtype
        self.weak = weak
        self.shape = shape


def make_plan(name: str, sigs: tuple, policy: str = "promote") -> Plan:
    """Plan the promotion of operands with signatures ``sigs`` (see ``signature``)."""
    return _make_plan(name, sigs, policy, bool(config.jax_enable_x64))


@functools.lru_cache(maxsize=4096)
def _make_plan(name: str, sigs: tuple, policy: str, x64: bool) -> Plan:
    typed = [typed_signature(s) for s in sigs]
    dt, weak = result_type(*((d, w) for _, d, w in typed))
    dt, weak = POLICIES[policy](dt, weak)
    shape = broadcast_shapes(name, tuple(s for s, _, _ in typed))
    convs = tuple(_operand_converter(s, dt, weak, shape) for s in sigs)
    return Plan(convs, dt, weak, shape)


# ---------------------------------------------------------------------------------------------
# jax_numpy_rank_promotion: "allow" (NumPy's rule), "warn" or "raise" when operands of
# different ranks (scalars aside) are broadcast together.

_RANK_PROMOTION_DOCS = "https://docs.jax.dev/en/latest/rank_promotion_warning.html"
# Functions that broadcast their operands without the check, as JAX's do.
_UNCHECKED_RANKS = frozenset({"where"})
# True while some thread may have a mode other than "allow": only then does ``promote`` look
# at ranks, and do the ufuncs build checking plans (see _ufuncs.py).
rank_checks_on = False


_RANK_CHECKS_LOCK = threading.Lock()


def _update_rank_checks(flag: str) -> None:
    global rank_checks_on
    if flag == "jax_numpy_rank_promotion":
        with _RANK_CHECKS_LOCK:  # (the last of two racing threads to write saw both changes)
            rank_checks_on = (config.global_value(flag) != "allow"
                              or config.scoped_anywhere(flag))


config.on_update(_update_rank_checks)
_update_rank_checks("jax_numpy_rank_promotion")  # the environment may have set it


def ranks_differ(shapes: Sequence[tuple[int, ...]]) -> bool:
    """Whether broadcasting ``shapes`` promotes ranks (rank-0 operands do not count)."""
    return len({len(s) for s in shapes if s}) > 1


def check_rank_promotion(name: str, shapes: Sequence[tuple[int, ...]]) -> None:
    """Warn or raise, as this thread's ``jax_numpy_rank_promotion`` says, when ``name``
    broadcasts operands of different ranks."""
    mode = config.jax_numpy_rank_promotion
    if mode == "allow" or name in _UNCHECKED_RANKS or not ranks_differ(shapes):
        return
    listed = " ".join(map(str, shapes))
    if mode == "warn":
        warnings.warn(f"Following NumPy automatic rank promotion for {name} on shapes "
                      f"{listed}. Set the jax_numpy_rank_promotion config option to 'allow' "
                      f"to disable this warning; for more information, see "
                      f"{_RANK_PROMOTION_DOCS}.", stacklevel=3)
    else:
        raise ValueError(f"Operands could not be broadcast together for {name} on shapes "
                         f"{listed} and with the config option "
                         f"jax_numpy_rank_promotion='raise'. For more information, see "
                         f"{_RANK_PROMOTION_DOCS}.")


def sig_shape(sig: Any) -> tuple[int, ...]:
    """The shape of an operand of signature ``sig`` (a Python scalar's is ())."""
    return sig[0] if type(sig) is tuple else ()


def checked_signature(x: Any, name: str, position: int) -> tuple[Any, Any]:
    """``(operand, signature)``, converting NumPy values and rejecting non-arrays."""
    sig = signature(x)
    if type(sig) is tuple or sig in PY_SCALARS:
        return x, sig
    x = as_operand(x, name, position)
    return x, signature(x)


def promote(name: str, args: Sequence[Any], policy: str = "promote") -> tuple[list[Any], Plan]:
    """Promote ``args`` to one dtype (by ``policy``) and, NumPy style, one shape.

    Rank-0 operands stay rank 0: elementwise primitives broadcast them (as in JAX's jaxprs).
    """
    ops, sigs = [], []
    for i, a in enumerate(args):
        a, s = checked_signature(a, name, i)
        ops.append(a)
        sigs.append(s)
    if rank_checks_on:
        check_rank_promotion(name, [sig_shape(s) for s in sigs])
    plan = make_plan(name, tuple(sigs), policy)
    return [a if c is None else c(a) for a, c in zip(ops, plan.converters)], plan


def promote_dtypes(name: str, args: Sequence[Any], policy: str = "promote") -> list[Any]:
    """Promote ``args`` to one dtype (Python scalars become Arrays); shapes are left alone."""
    ops = [as_operand(a, name, i) for i, a in enumerate(args)]
    typed = [dtype_and_weak(a) for a in ops]
    dt, weak = POLICIES[policy](*result_type(*typed))
    return [scalar_constant(a, dt, weak) if type(a) in PY_SCALARS else convert(a, dt, weak)
            for a in ops]
