"""``llax.numpy.linalg``: norms, and the decompositions ``cholesky``, ``qr`` (in
``_triangular``), ``eigh`` and ``svd`` (in ``_jacobi``), ``eig`` and ``eigvals`` (in
``_eig``); ``solve``, ``inv``, ``det``, ``slogdet`` (in ``_lu``) and the rest (in
``_linalg_more``). Float and complex matrices alike."""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

from llax.frontend import lax
from llax.frontend.jnp import _reductions as R
from llax.frontend.jnp._coerce import as_array, convert
from llax.frontend.jnp._dtypes import to_inexact
from llax.frontend.jnp._eig import EigResult, eig, eigvals  # noqa: F401 - re-exported
from llax.frontend.jnp._jacobi import EighResult, SVDResult, eigh, svd  # noqa: F401 - re-exported
from llax.frontend.jnp._linalg_more import (  # noqa: F401 - re-exported
    cond,
    cross,
    diagonal,
    eigvalsh,
    lstsq,
    matmul,
    matrix_norm,
    matrix_power,
    matrix_rank,
    matrix_transpose,
    multi_dot,
    outer,
    pinv,
    svdvals,
    tensordot,
    tensorinv,
    tensorsolve,
    trace,
    vecdot,
    vector_norm,
)
from llax.frontend.jnp._lu import SlogdetResult, det, inv, slogdet, solve  # noqa: F401
from llax.frontend.jnp._manipulation import expand_dims
from llax.frontend.jnp._triangular import QRResult, cholesky, qr  # noqa: F401 - re-exported
from llax.frontend.jnp._ufuncs import UFUNCS, power
from llax.ir import dtypes

_abs, _sqrt, _multiply, _not_equal = (UFUNCS[n] for n in ("abs", "sqrt", "multiply",
                                                          "not_equal"))


def _sum_of_squares(x: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    """sqrt(sum |x|^2): for complex x, of the real x * conj(x), as JAX."""
    if dtypes.kind(x.dtype) == "c":
        from llax.frontend import jnp

        squares = jnp.real(_multiply(x, jnp.conj(x)))
    else:
        squares = _multiply(x, x)
    return _sqrt(R.sum(squares, axis=axes, keepdims=keepdims))


def _vector_norm(x: Any, ord: Any, axis: int, keepdims: bool) -> Any:
    if ord is None or ord == 2:
        return _sum_of_squares(x, (axis,), keepdims)
    if isinstance(ord, str):
        raise ValueError(f"Invalid order '{ord}' for vector norm.")
    if ord == math.inf:
        return R.max(_abs(x), axis=axis, keepdims=keepdims)
    if ord == -math.inf:
        return R.min(_abs(x), axis=axis, keepdims=keepdims)
    if ord == 0:
        return R.sum(convert(_not_equal(x, 0), x.dtype), axis=axis, keepdims=keepdims)
    if ord == 1:
        return R.sum(_abs(x), axis=axis, keepdims=keepdims)
    total = R.sum(power(_abs(x), ord), axis=axis, keepdims=keepdims)
    return power(total, 1.0 / ord)


def _matrix_norm(x: Any, ord: Any, axes: tuple[int, int], keepdims: bool) -> Any:
    row, col = axes
    if ord is None or ord == "fro":
        return _sum_of_squares(x, axes, keepdims)
    if ord in (1, -1, math.inf, -math.inf):
        # 1: the largest column sum (sum over rows first); inf: the largest row sum.
        first, second = (row, col) if ord in (1, -1) else (col, row)
        pick = R.max if ord > 0 else R.min
        sums = R.sum(_abs(x), axis=first)
        out = pick(sums, axis=second - (second > first))
        if keepdims:
            out = expand_dims(out, tuple(sorted(axes)))
        return out
    if ord in ("nuc", 2, -2):
        # From the singular values of the matrices, moved to the last two axes.
        rest = [d for d in range(x.ndim) if d not in axes]
        s = svd(lax.transpose(x, (*rest, row, col)), compute_uv=False)
        out = {"nuc": R.sum, 2: R.max, -2: R.min}[ord](s, axis=-1)
        if keepdims:
            out = expand_dims(out, tuple(sorted(axes)))
        return out
    raise ValueError(f"Invalid order '{ord}' for matrix norm.")


def norm(x: Any, ord: Any = None, axis: int | Sequence[int] | None = None,
         keepdims: bool = False) -> Any:
    """Vector norms (one axis) and matrix norms (two axes); ``axis=None`` with ``ord=None``
    is the 2-norm of the flattened array."""
    x = as_array(x, "norm")
    x = convert(x, *to_inexact(x.dtype, x.weak_type))
    if axis is None:
        if ord is None:
            return _sum_of_squares(x, tuple(range(x.ndim)), keepdims)
        axes = tuple(range(x.ndim))
    else:
        items = axis if isinstance(axis, (tuple, list)) else (axis,)
        axes = tuple(operator.index(a) % max(x.ndim, 1) for a in items)
        if len(set(axes)) != len(axes):
            raise ValueError(f"norm: duplicate axes in {axis}")
    if len(axes) == 1:
        return _vector_norm(x, ord, axes[0], keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, ord, (axes[0], axes[1]), keepdims)
    raise ValueError("Improper number of dimensions to norm.")
