"""What the LU factorization gives: ``lu`` and ``triangular_solve`` (llax.lax.linalg's
two primitives), and ``solve``, ``inv``, ``det``, ``slogdet`` of ``llax.numpy.linalg``,
for float and complex matrices.

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
from llax.frontend.jnp._linalg_coerce import INEXACT, inexact_stack
from llax.frontend.jnp._matrix_ops import diagonal, permute_rows
from llax.ir import dtypes
from llax.ir import prims as P


def lu(x: Any) -> tuple[Any, Any, Any]:
    """``lax.linalg.lu``: ``(lu, pivots, permutation)`` of every matrix of ``x``, with
    ``x[..., permutation, :] = L U``."""
    x = inexact_stack(x, "lu")
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
    if np.dtype(a.dtype) not in INEXACT:
        raise NotImplementedError(f"jnp.linalg.{name}: unsupported dtype {a.dtype}")
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
    a = inexact_stack(a, "inv")
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


def _jnp() -> Any:
    from llax.frontend import jnp

    return jnp


def _parity(pivots: Any) -> Any:
    """The number of row swaps each factorization made."""
    iota = lax.broadcasted_iota(pivots.dtype, pivots.shape, pivots.ndim - 1)
    return lax.reduce_sum(lax.convert_element_type(lax.ne(pivots, iota), np.int32),
                          (pivots.ndim - 1,))


def _parity_sign(odd_count: Any, dtype: np.dtype) -> Any:
    """+1 for an even count, -1 for an odd one."""
    odd_count = lax.convert_element_type(odd_count, np.int32)
    odd = lax.convert_element_type(lax.rem(odd_count, lax.full(odd_count.shape, 2, np.int32)),
                                   dtype)
    return lax.sub(lax.full(odd.shape, 1, dtype), lax.mul(lax.full(odd.shape, 2, dtype), odd))


def slogdet(a: Any, *, method: str | None = None) -> SlogdetResult:
    """``(sign, log|det|)`` of every matrix of ``a``; a singular matrix gives
    ``(0, -inf)``. ``sign`` has ``a``'s dtype (a unit complex number for complex ``a``),
    ``logabsdet`` is real. ``method``: ``'lu'`` (the default) or ``'qr'``."""
    a = _square(inexact_stack(a, "slogdet"), "slogdet")
    if method in (None, "lu"):
        return SlogdetResult(*_slogdet_lu(a))
    if method == "qr":
        if dtypes.kind(a.dtype) == "c":
            raise NotImplementedError("slogdet method='qr' not implemented for complex inputs")
        return SlogdetResult(*_slogdet_qr(a))
    raise ValueError(f"Unknown slogdet method '{method}'. Supported methods are 'lu' "
                     "(`None`), and 'qr'.")


def _signed_log_product(diag: Any, negated: Any) -> tuple[Any, Any]:
    """``(sign, log|prod diag|)`` of a triangular factor's diagonal, the sign flipped where
    ``negated`` (an int count, odd = flip); ``(0, -inf)`` where a diagonal entry is 0."""
    jnp = _jnp()
    dtype = np.dtype(diag.dtype)
    is_zero = jnp.any(diag == 0, axis=-1)
    if dtypes.kind(dtype) == "c":
        sign = jnp.prod(diag / jnp.abs(diag).astype(dtype), axis=-1)
    else:
        sign = jnp.ones(diag.shape[:-1], dtype)
        negated = negated + jnp.sum((diag < 0).astype(np.int32), axis=-1)
    sign = jnp.where(is_zero, jnp.zeros((), dtype), sign * _parity_sign(negated, dtype))
    logdet = jnp.sum(jnp.log(jnp.abs(diag)), axis=-1)
    return sign, jnp.where(is_zero, jnp.asarray(-np.inf, logdet.dtype), logdet)


@custom_jvp
def _slogdet_lu(a: Any) -> tuple[Any, Any]:
    lu_, pivots, _ = bind(P.lu, (a,), {})
    return _signed_log_product(diagonal(lu_), _parity(pivots))


@custom_jvp
def _slogdet_qr(a: Any) -> tuple[Any, Any]:
    from llax.frontend.jnp._triangular import lax_qr

    q, r = lax_qr(a, full_matrices=False)
    # det Q of a product of n Householder reflectors H_j = I - tau_j v v^H: each has
    # determinant 1 - tau_j (v^H v = 2 / tau for a real reflector: det -1 unless tau = 0).
    q_sign, _ = _slogdet_lu(q)
    sign, logdet = _signed_log_product(diagonal(r), lax.full(q_sign.shape, 0, np.int32))
    return lax.mul(sign, q_sign), logdet


def _slogdet_jvp(primals: tuple, tangents: tuple) -> tuple:
    """JAX's rule: ``d log|det a| = Re tr(a^-1 da)``; the sign's tangent is 0 for real
    ``a`` and ``i Im tr(a^-1 da) sign`` for complex."""
    jnp = _jnp()
    (a,), (da,) = primals, tangents
    sign, logdet = _slogdet_lu(a)
    lu_, _, perm = bind(P.lu, (a,), {})
    traced = jnp.trace(lu_solve(lu_, perm, da), axis1=-1, axis2=-2)  # linear in da
    if dtypes.kind(np.dtype(a.dtype)) == "c":
        return (sign, logdet), ((traced - jnp.real(traced).astype(traced.dtype)) * sign,
                                jnp.real(traced))
    return (sign, logdet), (jnp.zeros_like(sign), traced)


_slogdet_lu.defjvp(_slogdet_jvp)
_slogdet_qr.defjvp(_slogdet_jvp)


def det(a: Any) -> Any:
    """The determinant of every matrix of ``a``: closed forms for 2x2 and 3x3 (as JAX),
    else from the LU factorization; its derivative is the adjugate's (finite at singular
    matrices too, as JAX's)."""
    a = _square(inexact_stack(a, "det"), "_det")
    n = a.shape[-1]
    if n == 2:
        return _entry(a, 0, 0) * _entry(a, 1, 1) - _entry(a, 0, 1) * _entry(a, 1, 0)
    if n == 3:
        e = lambda i, j: _entry(a, i, j)  # noqa: E731
        return (e(0, 0) * e(1, 1) * e(2, 2) + e(0, 1) * e(1, 2) * e(2, 0)
                + e(0, 2) * e(1, 0) * e(2, 1) - e(0, 2) * e(1, 1) * e(2, 0)
                - e(0, 0) * e(1, 2) * e(2, 1) - e(0, 1) * e(1, 0) * e(2, 2))
    return _det(a)


def _entry(a: Any, i: int, j: int) -> Any:
    return a[..., i, j]


@custom_jvp
def _det(a: Any) -> Any:
    sign, logdet = _slogdet_lu(a)
    jnp = _jnp()
    return sign * jnp.exp(logdet).astype(sign.dtype)


@_det.defjvp
def _det_jvp(primals: tuple, tangents: tuple) -> tuple:
    (a,), (da,) = primals, tangents
    value, adjugate_da = _cofactor_solve(a, da)
    return value, _jnp().trace(adjugate_da, axis1=-1, axis2=-2)


def _cofactor_solve(a: Any, b: Any) -> tuple[Any, Any]:
    """``(det a, adj(a) b)``, with ``adj(a) = det(a) a^-1`` where that exists, and also
    where ``a`` has rank ``n - 1`` (then only U's last pivot is zero: the product skips
    it) or less (then the adjugate is 0): the derivative of the determinant, finite
    everywhere, by JAX's method."""
    jnp = _jnp()
    n = a.shape[-1]
    if n == 0:  # det of a 0x0 matrix is 1; its adjugate is empty
        return jnp.ones(a.shape[:-2], a.dtype), b
    if n == 1:
        return a[..., 0, 0], b
    lu_, pivots, perm = bind(P.lu, (a,), {})
    dtype = np.dtype(a.dtype)
    diag = diagonal(lu_)
    sign = _parity_sign(_parity(pivots), dtype)
    # partial[..., -1] is det a; partial[..., -2] is det(a) / u_nn.
    partial = jnp.cumprod(diag, axis=-1) * sign[..., None]
    last = (n - 1) * n + (n - 1)
    flat = jnp.reshape(lu_, (*lu_.shape[:-2], n * n))
    corner = (1 / partial[..., -2])[..., None]
    flat = jnp.concatenate([flat[..., :last], corner], axis=-1)
    lu_ = jnp.reshape(flat, lu_.shape)
    ones = jnp.ones((*b.shape[:-1], 1), dtype)
    upper = dict(left_side=True, lower=False, transpose_a=False, conjugate_a=False,
                 unit_diagonal=False)
    probe = bind(P.triangular_solve, (lu_, ones), upper)
    # Rank below n - 1: the corner's fix is not enough and the solve overflows; the
    # adjugate is 0 there.
    low_rank = jnp.any(jnp.logical_or(jnp.isnan(probe), jnp.isinf(probe)), axis=(-2, -1))
    low_rank = low_rank[..., None, None]
    zero = jnp.zeros((), dtype)
    x = jnp.where(low_rank, zero, b)
    x = permute_rows(x, perm)
    x = bind(P.triangular_solve, (lu_, x), dict(upper, lower=True, unit_diagonal=True))
    x = jnp.concatenate([x[..., :-1, :] * partial[..., -1, None, None], x[..., -1:, :]],
                        axis=-2)
    x = bind(P.triangular_solve, (lu_, x), upper)
    return partial[..., -1], jnp.where(low_rank, zero, x)
