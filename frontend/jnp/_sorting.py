"""Sorting in ``llax.numpy``: ``sort`` and ``argsort`` (JAX's semantics), on ``lax.sort``.

Floats sort with -0.0 equal to 0.0 and NaNs last. A descending sort is the
ascending one reversed; a stable descending ``argsort`` sorts the reversed
array (and reversed positions) and reverses the result, which keeps equal
elements in their original order, as JAX does.
"""

from __future__ import annotations

import operator
from typing import Any

from llax.frontend import lax
from llax.frontend.jnp._coerce import as_array
from llax.frontend.jnp._dtypes import requested_dtype
from llax.frontend.jnp._manipulation import ravel
from llax.frontend.jnp._reductions import canonical_axes
from llax.ir import dtypes


def _check_unsupported(name: str, kind: Any, order: Any) -> None:
    if kind is not None:
        raise TypeError(f"'kind' argument to {name} is not supported. Use stable=True or "
                        "stable=False to specify sort stability.")
    if order is not None:
        raise TypeError(f"'order' argument to {name} is not supported.")


def _operand(a: Any, axis: int | None, name: str) -> tuple[Any, int]:
    x = as_array(a, name)
    if axis is None:
        return ravel(x), 0
    return x, canonical_axes(operator.index(axis), x.ndim)[0]


def sort(a: Any, axis: int | None = -1, *, kind: None = None, order: None = None,
         stable: bool = True, descending: bool = False) -> Any:
    """``a`` sorted along ``axis`` (the flattened ``a`` if None)."""
    _check_unsupported("sort", kind, order)
    x, axis = _operand(a, axis, "sort")
    out = lax.sort(x, dimension=axis, is_stable=stable)
    return lax.rev(out, (axis,)) if descending else out


def argsort(a: Any, axis: int | None = -1, *, kind: None = None, order: None = None,
            stable: bool = True, descending: bool = False, dtype: Any = None) -> Any:
    """The indices that sort ``a`` along ``axis`` (of the flattened ``a`` if None); ``dtype``
    defaults to the default integer type."""
    _check_unsupported("argsort", kind, order)
    x, axis = _operand(a, axis, "argsort")
    index_dtype = dtypes.default_int() if dtype is None else requested_dtype(dtype, "argsort")
    positions = lax.broadcasted_iota(index_dtype, x.shape, axis)
    if descending and stable:
        x, positions = lax.rev(x, (axis,)), lax.rev(positions, (axis,))
    _, indices = lax.sort_key_val(x, positions, dimension=axis, is_stable=stable)
    return lax.rev(indices, (axis,)) if descending else indices
