"""What the LU factorization gives: ``lu`` and ``triangular_solve`` (llax.lax.linalg's
two primitives), and ``solve``, ``inv``, ``det``, ``slogdet`` of ``llax.numpy.linalg``.

A square system ``A x = b`` is ``P A = L U``: permute b's rows, then two triangular
solves. Derivatives come from the primitives' rules (transforms.linalg_rules).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

import llax.transforms.linalg_rules  # noqa: F401  (registers the primitives' rules)
from llax.frontend import lax
from llax.frontend.core import bind
from llax.frontend.custom_derivatives import custom_jvp
from llax.frontend.jnp._coerce import broadcast_shapes, broadcast_to_shape, promote_dtypes
from llax.frontend.jnp._matrix_ops import _FLOATS, diagonal, matrix_stack, permute_rows
from llax.ir import prims as P


def lu(x: Any) -> tuple[Any, Any, Any]:
    """``lax.linalg.lu``: ``(lu, pivots, permutation)`` of every matrix of ``x``, with
    ``x[..., permutation, :] = L U``."""
    x = matrix_stack(x, "lu")
    return tuple(bind(P.lu, (x,), {}))


def triangular_solve(a: Any, b: Any, *, left_side: bool = False, lower: bool = False,
                     transpose_a: bool = False, conjugate_a: bool = False,
                     unit_diagonal: bool = False) -> Any:
    """``lax.linalg.triangular_solve``: ``x`` with ``op(a) x = b`` (``left_side``) or
    ``x op(a) = b``; ``b`` may be one vector per matrix when solving on the left...
    as JAX, ``b`` must have ``a``'s batch dimensions."""
    a, b = _float_pair(a, b, "triangular_solve")
    squeeze = b.ndim == a.ndim - 1
    if squeeze:  # a vector right-hand side, as JAX accepts
        b = lax.expand_dims(b, (b.ndim if left_side else b.ndim - 1,))
    x = bind(P.triangular_solve, (a, b), {
        "left_side": bool(left_side), "lower": bool(lower), "transpose_a": bool(transpose_a),
        "conjugate_a": bool(conjugate_a), "unit_diagonal": bool(unit_diagonal)})
    return lax.squeeze(x, (x.ndim - 1 if left_side else x.ndim - 2,)) if squeeze else x


def _float_pair(a: Any, b: Any, name: str) -> tuple[Any, Any]:
    a, b = promote_dtypes(f"jnp.linalg.{name}", (a, b), "inexact")
    if np.dtype(a.dtype) not in _FLOATS:
        raise NotImplementedError(f"jnp.linalg.{name}: unsupported dtype {a.dtype} (float32 "
                                  "and float64 only)")
    return a, b


def _square(a: Any, name: str) -> Any:
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"Argument to {name}() must have shape [..., n, n], got "
                         f"{tuple(a.shape)}")
    return a


def lu_solve(lu_: Any, perm: Any, b: Any, transpose: bool = False) -> Any:
    """``x`` with ``A x = b`` (or ``A^T x = b``) from A's factorization; ``b`` is a stack
    ``(..., m, n)`` with the factors' batch dimensions."""
    unit = {"conjugate_a": False}
    if not transpose:
        pb = permute_rows(b, perm)
        y = bind(P.triangular_solve, (lu_, pb), dict(unit, left_side=True, lower=True,
                                                      transpose_a=False, unit_diagonal=True))
        return bind(P.triangular_solve, (lu_, y), dict(unit, left_side=True, lower=False,
                                                        transpose_a=False,
                                                        unit_diagonal=False))
    # A^T = U^T L^T P: solve U^T, then L^T, then undo the permutation.
    y = bind(P.triangular_solve, (lu_, b), dict(unit, left_side=True, lower=False,
                                                 transpose_a=True, unit_diagonal=False))
    z = bind(P.triangular_solve, (lu_, y), dict(unit, left_side=True, lower=True,
                                                 transpose_a=True, unit_diagonal=True))
    return permute_rows(z, _inverse_permutation(perm))


def _inverse_permutation(perm: Any) -> Any:
    iota = lax.broadcasted_iota(perm.dtype, perm.shape, perm.ndim - 1)
    return lax.sort((perm, iota), dimension=perm.ndim - 1, num_keys=1)[1]


def solve(a: Any, b: Any) -> Any:
    """``x`` with ``a @ x = b``: ``b`` is one vector ``(m,)`` or a stack ``(..., m, n)``
    (batch dimensions broadcast)."""
    a, b = _float_pair(a, b, "solve")
    if a.ndim < 2:
        raise ValueError(f"left hand array must be at least two dimensional; got "
                         f"a.shape={tuple(a.shape)}")
    if (b.ndim > 1 and a.ndim == b.ndim + 1 and a.shape[-1] == b.shape[-1]
            and a.shape[-1] != b.shape[-2]):
        raise ValueError(f"Invalid shapes for solve: {tuple(a.shape)}, {tuple(b.shape)}. "
                         "Prior to JAX v0.5.0, this would have been treated as a batched "
                         "1-dimensional solve. To recover this behavior, use "
                         "solve(a, b[..., None]).squeeze(-1).")
    m = a.shape[-1]
    if a.shape[-2] != m:
        raise ValueError(f"solve: a must be a stack of square matrices, got shape "
                         f"{tuple(a.shape)}")
    vector = b.ndim == 1
    if vector:
        b = lax.expand_dims(b, (1,))
    if b.shape[-2] != m:
        raise ValueError(f"solve: a of shape {tuple(a.shape)} and b of shape "
                         f"{tuple(b.shape) if not vector else (m,)} do not fit")
    batch = broadcast_shapes("solve", (tuple(a.shape[:-2]), tuple(b.shape[:-2])))
    a = broadcast_to_shape(a, (*batch, m, m))
    b = broadcast_to_shape(b, (*batch, *b.shape[-2:]))
    x = _square_solve(a, b)
    return lax.squeeze(x, (x.ndim - 1,)) if vector else x


@custom_jvp
def _square_solve(a: Any, b: Any) -> Any:
    """``a^-1 b`` for stacks of equal batch shape, by one LU factorization."""
    lu_, _, perm = bind(P.lu, (a,), {})
    return lu_solve(lu_, perm, b)


@_square_solve.defjvp
def _square_solve_jvp(primals: tuple, tangents: tuple) -> tuple:
    """``dx = a^-1 (db - da x)``, solved with the primal's factorization (as JAX's solve
    differentiates), rather than differentiating the factorization itself."""
    a, b = primals
    da, db = tangents
    lu_, _, perm = bind(P.lu, (a,), {})
    x = lu_solve(lu_, perm, b)
    batch = tuple(range(a.ndim - 2))
    dax = lax.dot_general(da, x, (((a.ndim - 1,), (x.ndim - 2,)), (batch, batch)))
    return x, lu_solve(lu_, perm, lax.sub(db, dax))


def inv(a: Any) -> Any:
    """The inverse of every matrix of ``a`` (``nan``/``inf`` where one is singular)."""
    a = matrix_stack(a, "inv")
    if a.shape[-1] != a.shape[-2]:
        raise ValueError(f"Argument to inv must have shape [..., n, n], got "
                         f"{tuple(a.shape)}.")
    eye = lax.broadcast_in_dim(lax.convert_element_type(
        lax.eq(lax.broadcasted_iota(np.int32, a.shape[-2:], 0),
               lax.broadcasted_iota(np.int32, a.shape[-2:], 1)), a.dtype),
        a.shape, (a.ndim - 2, a.ndim - 1))
    return solve(a, eye)


class SlogdetResult(NamedTuple):
    sign: Any
    logabsdet: Any


def _count(mask: Any) -> Any:
    return lax.reduce_sum(lax.convert_element_type(mask, np.int32), (mask.ndim - 1,))


def _parity_sign(odd_count: Any, dtype: np.dtype) -> Any:
    """+1 for an even count, -1 for an odd one."""
    odd = lax.convert_element_type(lax.rem(odd_count, lax.full(odd_count.shape, 2, np.int32)),
                                   dtype)
    return lax.sub(lax.full(odd.shape, 1, dtype), lax.mul(lax.full(odd.shape, 2, dtype), odd))


def _factor(a: Any) -> tuple[Any, Any]:
    """U's diagonal and the number of row swaps of every matrix's factorization."""
    lu_, pivots, _ = bind(P.lu, (a,), {})
    iota = lax.broadcasted_iota(pivots.dtype, pivots.shape, pivots.ndim - 1)
    return diagonal(lu_), _count(lax.ne(pivots, iota))


def slogdet(a: Any, *, method: str | None = None) -> SlogdetResult:
    """``(sign, log|det|)`` of every matrix of ``a``, from its LU factorization; a
    singular matrix gives ``(0, -inf)``."""
    a = _square(matrix_stack(a, "slogdet"), "slogdet")
    if method not in (None, "lu"):
        if method == "qr":
            raise NotImplementedError("slogdet: method='qr' is not supported yet")
        raise ValueError(f"Unknown slogdet method '{method}'. Supported methods are 'lu' "
                         "(`None`), and 'qr'.")
    diag, swaps = _factor(a)
    zeros = lax.full(diag.shape, 0, diag.dtype)
    negatives = _count(lax.lt(diag, zeros))
    singular = lax.reduce_or(lax.eq(diag, zeros), (diag.ndim - 1,))
    sign = lax.select(singular, lax.full(swaps.shape, 0, a.dtype),
                      _parity_sign(lax.add(swaps, negatives), a.dtype))
    logdet = lax.reduce_sum(lax.log(lax.abs(diag)), (diag.ndim - 1,))
    logdet = lax.select(singular, lax.full(logdet.shape, -np.inf, a.dtype), logdet)
    return SlogdetResult(sign, logdet)


def det(a: Any) -> Any:
    """The determinant of every matrix of ``a``: the product of U's diagonal, signed by
    the row swaps."""
    a = _square(matrix_stack(a, "det"), "_det")
    diag, swaps = _factor(a)
    return lax.mul(_parity_sign(swaps, a.dtype), lax.reduce_prod(diag, (diag.ndim - 1,)))
