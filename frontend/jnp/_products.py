"""Products in ``llax.numpy``: matmul, dot, vdot, inner, outer, tensordot.

All of them promote their operands and contract with one ``dot_general``,
whose output is (batch dims, lhs free dims, rhs free dims); only ``matmul``
with a batched right operand and an unbatched left one needs a transpose after.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

from llax.frontend import lax
from llax.frontend.core import bind
from llax.frontend.jnp._coerce import broadcast_shapes, broadcast_to_shape, promote_dtypes
from llax.frontend.jnp._dtypes import maybe_requested_dtype
from llax.frontend.jnp._manipulation import ravel, reshape
from llax.frontend.jnp._ufuncs import UFUNCS
from llax.ir import dtypes
from llax.ir import prims as P

_multiply = UFUNCS["multiply"]


def _operands(name: str, a: Any, b: Any, preferred: Any) -> tuple[Any, Any, Any]:
    x, y = promote_dtypes(name, [a, b])
    return x, y, maybe_requested_dtype(preferred, name) or x.dtype


def _contract(name: str, x: Any, y: Any, x_axes: Sequence[int], y_axes: Sequence[int],
              batch: Sequence[int] = (), out_dtype: Any = None) -> Any:
    for i, j in zip(x_axes, y_axes):
        if x.shape[i] != y.shape[j]:
            raise TypeError(f"{name}: contracting dimensions must have the same size, got "
                            f"shapes {x.shape} and {y.shape} (axis {i} of size {x.shape[i]} "
                            f"against axis {j} of size {y.shape[j]})")
    dn = ((tuple(x_axes), tuple(y_axes)), (tuple(batch), tuple(batch)))
    return bind(P.dot_general, (x, y), {"dimension_numbers": dn, "precision": None,
                                        "preferred_element_type": out_dtype or x.dtype})


def matmul(a: Any, b: Any, *, precision: Any = None, preferred_element_type: Any = None) -> Any:
    """Matrix product with NumPy's rules: 1-d operands are promoted to matrices (and the
    added dimension dropped), and leading batch dimensions broadcast."""
    x, y, dt = _operands("matmul", a, b, preferred_element_type)
    if x.ndim == 0 or y.ndim == 0:
        raise ValueError(f"matmul: operands must have at least one dimension, got shapes "
                         f"{x.shape} and {y.shape}")
    y_axis = 0 if y.ndim == 1 else y.ndim - 2
    x_batch, y_batch = x.shape[:-2], y.shape[:-2]
    if not (x_batch and y_batch):
        out = _contract("matmul", x, y, (x.ndim - 1,), (y_axis,), out_dtype=dt)
        if x.ndim == 2 and y_batch:
            # dot_general gives (m, *batch, n); matmul wants (*batch, m, n).
            nb = len(y_batch)
            out = lax.transpose(out, (*range(1, nb + 1), 0, nb + 1))
        return out
    batch = broadcast_shapes("matmul", (x_batch, y_batch))
    x = broadcast_to_shape(x, batch + x.shape[-2:])
    y = broadcast_to_shape(y, batch + y.shape[-2:])
    nb = len(batch)
    return _contract("matmul", x, y, (nb + 1,), (nb,), tuple(range(nb)), dt)


def dot(a: Any, b: Any, *, precision: Any = None, preferred_element_type: Any = None) -> Any:
    """NumPy's dot: a sum product over the last axis of ``a`` and the second-to-last of ``b``."""
    x, y, dt = _operands("dot", a, b, preferred_element_type)
    if x.ndim == 0 or y.ndim == 0:
        return _multiply(x, y)
    return _contract("dot", x, y, (x.ndim - 1,), (0 if y.ndim == 1 else y.ndim - 2,),
                     out_dtype=dt)


def vdot(a: Any, b: Any, *, precision: Any = None, preferred_element_type: Any = None) -> Any:
    x, y, dt = _operands("vdot", a, b, preferred_element_type)
    x, y = ravel(x), ravel(y)
    if dtypes.kind(x.dtype) == "c":  # vdot conjugates its first operand
        from llax.frontend.jnp._ufuncs import UFUNCS

        x = UFUNCS["conjugate"](x)
    return _contract("vdot", x, y, (0,), (0,), out_dtype=dt)


def inner(a: Any, b: Any, *, precision: Any = None, preferred_element_type: Any = None) -> Any:
    x, y, dt = _operands("inner", a, b, preferred_element_type)
    if x.ndim == 0 or y.ndim == 0:
        return _multiply(x, y)
    return _contract("inner", x, y, (x.ndim - 1,), (y.ndim - 1,), out_dtype=dt)


def outer(a: Any, b: Any, out: None = None) -> Any:
    if out is not None:
        raise NotImplementedError("The 'out' argument to jnp.outer is not supported.")
    x, y = promote_dtypes("outer", [a, b])
    x, y = ravel(x), ravel(y)
    return _multiply(reshape(x, (x.shape[0], 1)), y)


def tensordot(a: Any, b: Any, axes: int | Sequence[Any] = 2, *, precision: Any = None,
              preferred_element_type: Any = None) -> Any:
    """Contract the last ``axes`` axes of ``a`` with the first of ``b``, or the given pairs."""
    x, y, dt = _operands("tensordot", a, b, preferred_element_type)
    if isinstance(axes, (int,)) or (hasattr(axes, "__index__") and not isinstance(axes, tuple)):
        n = operator.index(axes)
        if n < 0 or n > min(x.ndim, y.ndim):
            raise TypeError(f"tensordot: axes={n} must be between 0 and the smaller rank "
                            f"of shapes {x.shape} and {y.shape}")
        x_axes, y_axes = tuple(range(x.ndim - n, x.ndim)), tuple(range(n))
    else:
        ax, bx = axes
        ax = (ax,) if isinstance(ax, int) else tuple(ax)
        bx = (bx,) if isinstance(bx, int) else tuple(bx)
        if len(ax) != len(bx):
            raise TypeError(f"tensordot: axes lists must have equal length, got {ax} and {bx}")
        x_axes = tuple(operator.index(i) % x.ndim for i in ax)
        y_axes = tuple(operator.index(i) % y.ndim for i in bx)
    return _contract("tensordot", x, y, x_axes, y_axes, out_dtype=dt)
