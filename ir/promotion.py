"""JAX's type promotion: the dtype lattice, weak types, and the dtypes of Python values.

Promotion is a join on a small partial order of dtypes. Besides the fixed-width
dtypes it holds three *weak* nodes, ``i*``, ``f*`` and ``c*``, the types of Python ``int``,
``float`` and ``complex``: they sit below every fixed-width integer (resp. float, complex), so a
Python scalar takes on the width of the array it meets (``int8 + 1 -> int8``).
A result is weak when it lands on a weak node or every operand was weak (bool never is).

bfloat16 sits beside float16 (their join is float32). The 8/6/4-bit floats and the 4/2/1-bit
integers sit just above ``f*`` (resp. ``i*``) with nothing above them: they take Python
scalars and narrower kinds, but meet any other fixed-width type only by an error
(``TypePromotionError``), as in JAX, where they never promote implicitly.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from llax.config import config
from llax.ir import dtypes


class TypePromotionError(ValueError):
    """Operand dtypes that have no implicit promotion (JAX's ``jax.dtypes.TypePromotionError``)."""


_WEAK_INT, _WEAK_FLOAT, _WEAK_COMPLEX = "i*", "f*", "c*"
_NARROW_FLOAT_NODES = tuple(dtypes.SHORT_NAMES[dt] for dt in dtypes.NARROW_FLOATS.values())
_NARROW_INT_NODES = tuple(dtypes.SHORT_NAMES[dt] for dt in dtypes.NARROW_INTS.values())
_WEAK_NODES = (_WEAK_INT, _WEAK_FLOAT, _WEAK_COMPLEX)

# Each node's immediate successors; every other relation follows by transitivity.
# No integer type holds both the u64 and the i64 ranges, so those two (and
# anything joined with them across signedness) meet only at the floats.
_EDGES: dict[str, tuple[str, ...]] = {
    "bool": (_WEAK_INT,),
    _WEAK_INT: ("u8", "i8", *_NARROW_INT_NODES),
    "u8": ("u16", "i16"),
    "u16": ("u32", "i32"),
    "u32": ("u64", "i64"),
    "u64": (_WEAK_FLOAT,),
    "i8": ("i16",),
    "i16": ("i32",),
    "i32": ("i64",),
    "i64": (_WEAK_FLOAT,),
    _WEAK_FLOAT: ("f16", "bf16", *_NARROW_FLOAT_NODES, _WEAK_COMPLEX),
    "f16": ("f32",),
    "bf16": ("f32",),
    "f32": ("f64", "c64"),
    "f64": ("c128",),
    _WEAK_COMPLEX: ("c64",),
    "c64": ("c128",),
    "c128": (),
    **dict.fromkeys(_NARROW_FLOAT_NODES + _NARROW_INT_NODES, ()),
}
# With x64 off, no promotion may create a 64-bit type out of narrower ones. The
# only join that would is u32 with a signed int (-> i64), so the 32-bit lattice
# routes u32 up to i32 instead. Note this changes promote_types too, which
# otherwise leaves 64-bit types alone when they are given to it.
_EDGES_X32: dict[str, tuple[str, ...]] = {**_EDGES, "u32": ("u64", "i32")}

# Named as dtypes, the weak nodes are Python's int, float and complex, i.e. 64-bit.
# (result_type re-widths weak results to the default width anyway.)
_NODE_DTYPE: dict[str, np.dtype] = {
    **dtypes.FROM_SHORT_NAME, _WEAK_INT: dtypes.int64, _WEAK_FLOAT: dtypes.float64,
    _WEAK_COMPLEX: dtypes.complex128,
}
# Weak values always carry the default width of their kind.
_DEFAULT_OF_KIND: dict[str, Callable[[], np.dtype]] = {
    "i": dtypes.default_int, "u": dtypes.default_uint, "f": dtypes.default_float,
    "c": dtypes.default_complex,
}


def _upper_bounds(edges: dict[str, tuple[str, ...]]) -> dict[str, frozenset[str]]:
    """Each node's set of upper bounds: itself and everything reachable from it."""
    bounds: dict[str, frozenset[str]] = {}

    def visit(node: str) -> frozenset[str]:
        if node not in bounds:
            bounds[node] = frozenset({node}).union(*(visit(up) for up in edges[node]))
        return bounds[node]

    for node in edges:
        visit(node)
    return bounds


_UPPER_BOUNDS: dict[bool, dict[str, frozenset[str]]] = {
    True: _upper_bounds(_EDGES), False: _upper_bounds(_EDGES_X32),
}


def _join(nodes: Iterable[str], x64: bool) -> str:
    """Least upper bound of ``nodes`` on the lattice for the given x64 mode."""
    bounds = _UPPER_BOUNDS[x64]
    nodes = tuple(nodes)
    common = frozenset.intersection(*(bounds[n] for n in nodes))
    if not common:
        raise _no_promotion(nodes)
    # Any common bound's own bounds lie inside ``common``; the least one's are all of it.
    least = [c for c in common if bounds[c] == common]
    if len(least) != 1:  # only reachable if _EDGES is edited into a non-lattice
        raise AssertionError(f"promotion lattice has no unique join of {sorted(nodes)}")
    return least[0]


def _no_promotion(nodes: tuple[str, ...]) -> TypePromotionError:
    # A weak node is a Python scalar's type: name it so (float64 would mislead).
    weak_names = {_WEAK_INT: "int (weak)", _WEAK_FLOAT: "float (weak)",
                  _WEAK_COMPLEX: "complex (weak)"}
    names = tuple(sorted(weak_names.get(n) or str(_NODE_DTYPE[n]) for n in set(nodes)))
    narrow = [n for n in nodes if n in _NARROW_FLOAT_NODES + _NARROW_INT_NODES]
    why = ""
    if narrow:
        dt = _NODE_DTYPE[narrow[0]]
        what = "floats" if dtypes.is_float(dt) else "integers"
        why = (f" The {dtypes.bit_width(dt)}-bit {what} never promote implicitly, so that no "
               "widening happens unnoticed.")
    return TypePromotionError(
        f"Input dtypes {names} have no available implicit dtype promotion path.{why} Convert "
        "the inputs to a common dtype explicitly, e.g. x.astype('float32').")


def _node(dtype: np.dtype, weak: bool) -> str:
    # A weak bool has no weak node: bool is already the bottom of the lattice.
    # A weak unsigned joins as i*, the same as a Python int.
    kind = dtypes.kind(dtype)
    if weak and kind in "iu":
        return _WEAK_INT
    if weak and kind == "f":
        return _WEAK_FLOAT
    if weak and kind == "c":
        return _WEAK_COMPLEX
    return dtypes.SHORT_NAMES[dtype]


def _supported(dtype_like: Any, where: str) -> np.dtype:
    """``np.dtype(dtype_like)`` if llax supports it, without x64 narrowing."""
    # np.dtype(int) is int64, but JAX reads the Python types as weak; refuse
    # them rather than silently give a different answer.
    if any(dtype_like is t for t in (int, float, complex)):
        raise TypeError(f"{where}: got the Python type {dtype_like.__name__}; pass a dtype, "
                        "or use result_type with a weak operand for Python scalars")
    try:
        dt = np.dtype(dtype_like)
    except TypeError as e:
        raise TypeError(f"{where}: {dtype_like!r} is not a valid dtype") from e
    if dt not in dtypes.SUPPORTED:
        raise TypeError(f"{where}: dtype {dt} is not supported by llax")
    return dt


def promote_types(a: Any, b: Any) -> np.dtype:
    """The dtype a binary op on (non-weak) ``a`` and ``b`` computes in, as ``jnp.promote_types``.

    Like JAX, this neither narrows its inputs nor its result: ``int64`` with x64 off
    stays ``int64``, and ``int8`` with ``uint64`` gives ``float64`` in both modes.
    The x64 flag only selects the lattice (``uint32`` with ``int32`` is ``int32``
    with x64 off, ``int64`` with it on). Arguments must be hashable dtype-likes.
    """
    return _promote_types(a, b, bool(config.jax_enable_x64))


@functools.lru_cache(maxsize=1024)
def _promote_types(a: Any, b: Any, x64: bool) -> np.dtype:
    nodes = (dtypes.SHORT_NAMES[_supported(t, "promote_types")] for t in (a, b))
    return _NODE_DTYPE[_join(nodes, x64)]


def result_type(*operands: tuple[Any, bool]) -> tuple[np.dtype, bool]:
    """Result ``(dtype, weak)`` of an op on ``(dtype, weak)`` operands, as JAX's ``result_type``.

    Operand dtypes are narrowed first when x64 is off, so the result is always a
    dtype llax can hold. A weak result always has the default width of its kind.
    """
    if not operands:
        raise ValueError("result_type: needs at least one operand")
    return _result_type(bool(config.jax_enable_x64), operands)


@functools.lru_cache(maxsize=4096)
def _result_type(x64: bool, operands: tuple[tuple[Any, bool], ...]) -> tuple[np.dtype, bool]:
    dts = [dtypes.canonicalize(d, where="result_type") for d, _ in operands]
    weaks = [bool(w) for _, w in operands]
    if all(weaks):
        # Joining the weak nodes would forget a weak unsigned's kind (it joins as
        # i*), so an all-weak expression joins the fixed-width types and marks
        # the outcome weak.
        node = _join({dtypes.SHORT_NAMES[d] for d in dts}, x64)
        weak = True
    else:
        node = _join({_node(d, w) for d, w in zip(dts, weaks, strict=True)}, x64)
        weak = node in _WEAK_NODES
    dt = _NODE_DTYPE[node]
    if dt == dtypes.bool_:  # bools are never weak
        return dt, False
    return (_DEFAULT_OF_KIND[dtypes.kind(dt)](), True) if weak else (dt, False)


def _scalar_dtype(x: Any, where: str) -> tuple[np.dtype, bool]:
    # NumPy scalars first: np.float64 subclasses float but carries an explicit dtype.
    if isinstance(x, np.generic):
        return dtypes.canonicalize(x.dtype, where=where), False
    if type(x) is bool:  # JAX gives Python bools no weak type
        return dtypes.bool_, False
    if type(x) is int:
        return dtypes.default_int(), True
    if type(x) is float:
        return dtypes.default_float(), True
    if type(x) is complex:
        return dtypes.default_complex(), True
    # Subclasses such as IntEnum are not weak in JAX, which types them through NumPy.
    if isinstance(x, int):
        return dtypes.default_int(), False
    if isinstance(x, float):
        return dtypes.default_float(), False
    if isinstance(x, complex):
        return dtypes.default_complex(), False
    raise TypeError(f"{where}: value {x!r:.80} of type {type(x)} is not a valid JAX type "
                    "(expected an array or a Python or NumPy scalar)")


def python_scalar_dtype(x: Any) -> tuple[np.dtype, bool]:
    """``(dtype, weak)`` JAX gives a Python bool/int/float/complex or a NumPy scalar.

    Python int, float and complex are weak with the default width; Python bool and NumPy
    scalars are not weak.
    """
    return _scalar_dtype(x, "python_scalar_dtype")


def dtype_of_value(x: Any) -> tuple[np.dtype, bool]:
    """``(dtype, weak)`` of a NumPy array or scalar or a Python scalar; arrays are never weak."""
    if isinstance(x, np.ndarray):
        reject_masked(x)
        return dtypes.canonicalize(x.dtype, where="dtype_of_value"), False
    return _scalar_dtype(x, "dtype_of_value")


def reject_masked(x: np.ndarray) -> None:
    """JAX's ValueError for a NumPy masked array, whose mask would otherwise be dropped
    without a word (the data under it taken as valid values)."""
    if type(x) is not np.ndarray and isinstance(x, np.ma.MaskedArray):
        raise ValueError("numpy masked arrays are not supported as direct inputs to JAX "
                         "functions. Use arr.filled() to convert the value to a standard "
                         "numpy array.")
