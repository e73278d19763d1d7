"""``lax.psum``, ``pmean``, ``pmax``, ``pmin`` and ``axis_index``: collectives over named axes.

An axis name is bound while a transformation that maps over it (``vmap`` with
``axis_name=``) traces its function: ``bound_axis`` keeps that dynamic scope, so
using a name no enclosing transformation binds raises NameError at the call, as
in JAX, rather than when the program is compiled. The transformation then turns
the collective ops into reductions over its batch dimension
(transforms/batching_rules.py).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Hashable, Iterator
from typing import Any

import numpy as np

from llax.frontend.core import bind, bound_axes
from llax.frontend.jnp._coerce import as_array, convert
from llax.frontend.tree_util import tree_map
from llax.ir import dtypes
from llax.ir import prims as P


@contextlib.contextmanager
def bound_axis(name: Hashable | None, size: int) -> Iterator[None]:
    """Bind ``name`` (if not None) to a mapped axis of ``size`` while tracing."""
    if name is None:
        yield
        return
    axes = bound_axes()  # the calling thread's, like its traces
    axes.append((name, size))
    try:
        yield
    finally:
        axes.pop()


def _axis_size(name: Hashable, what: str) -> int:
    axes = bound_axes()
    for bound, size in reversed(axes):
        if bound == name:
            return size
    if not axes:
        raise NameError(f"unbound axis name: {name}")
    raise NameError(f"Found an unbound axis name: {name}. To fix this, please call {what} "
                    f"under a vmap with axis_name={name!r}.")


def _names(axis_name: Any, what: str) -> tuple[Hashable, ...]:
    names = tuple(axis_name) if isinstance(axis_name, (tuple, list)) else (axis_name,)
    for n in names:
        _axis_size(n, what)
    return names


def _reduce(prim: P.Primitive, what: str, x: Any, axis_name: Any,
            axis_index_groups: Any) -> Any:
    if axis_index_groups is not None:
        raise NotImplementedError(f"{what}: axis_index_groups is not supported by llax")
    names = _names(axis_name, what)

    def one(leaf: Any) -> Any:
        leaf = as_array(leaf, what)
        if prim is P.psum and leaf.dtype == dtypes.bool_:  # JAX counts the True values
            leaf = convert(leaf, np.dtype(np.int32), False)
        return bind(prim, (leaf,), {"axes": names})

    return tree_map(one, x)


def psum(x: Any, axis_name: Any, *, axis_index_groups: Any = None) -> Any:
    """The sum of ``x`` over the named mapped axis (or axes); ``x`` may be a pytree.

    A value that is the same for every example is multiplied by the axis size.
    """
    return _reduce(P.psum, "psum", x, axis_name, axis_index_groups)


def pmax(x: Any, axis_name: Any, *, axis_index_groups: Any = None) -> Any:
    """The maximum of ``x`` over the named mapped axis (or axes)."""
    return _reduce(P.pmax, "pmax", x, axis_name, axis_index_groups)


def pmin(x: Any, axis_name: Any, *, axis_index_groups: Any = None) -> Any:
    """The minimum of ``x`` over the named mapped axis (or axes)."""
    return _reduce(P.pmin, "pmin", x, axis_name, axis_index_groups)


def pmean(x: Any, axis_name: Any, *, axis_index_groups: Any = None) -> Any:
    """The mean of ``x`` over the named mapped axis (or axes): a psum divided by the
    number of examples (true division, so integers give floats, as in JAX)."""
    total = psum(x, axis_name, axis_index_groups=axis_index_groups)
    n = math.prod(_axis_size(a, "pmean") for a in _names(axis_name, "pmean"))
    return tree_map(lambda t: t / n, total)


def axis_index(axis_name: Hashable) -> Any:
    """The position of the current example along the named mapped axis (int32)."""
    _axis_size(axis_name, "axis_index")
    return bind(P.axis_index, (), {"axis_name": axis_name})
