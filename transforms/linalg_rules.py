"""JVP, transpose and batching rules of the linear-algebra primitives (ir.prims.linalg).

Imported by llax.frontend.jnp.linalg, which registers them with the transformations.

- ``lu``: the tangent of ``P A = L U`` is ``L (L^-1 P dA U^-1)_strict-lower + (L^-1 P dA
  U^-1)_upper U`` (the standard result, as JAX differentiates it); pivots and permutation
  are piecewise constant (zero tangents).
- ``triangular_solve``: linear in ``b`` (its transpose solves with ``op(a)^T``); in ``a``,
  ``d(op(a)^-1 b) = -op(a)^-1 op(da) x`` on ``a``'s read triangle.
- Batching: every operand's batch axis moved to the front, where both primitives already
  take a stack of matrices.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from llax.frontend import lax
from llax.frontend.core import bind
from llax.frontend.jnp._matrix_ops import (
    identity,
    keep_triangle,
    matmul,
    permute_rows,
    transpose_last,
    triangle_mask,
)
from llax.ir import prims as P
from llax.transforms.batching import batching_rules
from llax.transforms.batching_rules import batch_at, batch_size, move_axis
from llax.transforms.jvp import add_any, jvp_rules
from llax.transforms.transpose import is_linear, transpose_rules


def _strictly_lower(x: Any) -> Any:
    return lax.select(triangle_mask(x.shape, lower=True, strict=True), x,
                      lax.full(x.shape, 0, x.dtype))


def _solve(a: Any, b: Any, **params: Any) -> Any:
    return bind(P.triangular_solve, (a, b), params)


# --- lu ------------------------------------------------------------------------------------

def _lu_jvp(primals, tangents):
    (a,), (da,) = primals, tangents
    lu, pivots, perm = bind(P.lu, (a,), {})
    if da is None:
        return [lu, pivots, perm], [None, None, None]
    *batch, m, n = a.shape
    k = min(m, n)
    nd = a.ndim
    # P dA: the tangent's rows in the factorization's order.
    pda = permute_rows(da, perm)
    # L (m x m, unit lower) and U (n x n: the factor's k rows, padded with identity rows).
    no_pad = [(0, 0, 0)] * (nd - 2)
    lower = _strictly_lower(lax.slice(lu, (0,) * nd, (*batch, m, k)))
    lower = lax.pad(lower, np.zeros((), a.dtype), [*no_pad, (0, 0, 0), (0, m - k, 0)])
    lower = lax.add(lower, identity((*batch, m, m), a.dtype))
    upper = keep_triangle(lax.slice(lu, (0,) * nd, (*batch, k, n)), lower=False)
    upper = lax.pad(upper, np.zeros((), a.dtype), [*no_pad, (0, n - k, 0), (0, 0, 0)])
    tail = lax.pad(identity((*batch, n - k, n - k), a.dtype), np.zeros((), a.dtype),
                   [*no_pad, (k, 0, 0), (k, 0, 0)])
    upper = lax.add(upper, tail)
    la = _solve(lower, pda, left_side=True, lower=True, transpose_a=False, conjugate_a=False,
                unit_diagonal=True)
    lau = _solve(upper, la, left_side=False, lower=False, transpose_a=False,
                 conjugate_a=False, unit_diagonal=False)
    dl = matmul(lower, _strictly_lower(lau))
    du = matmul(keep_triangle(lau, lower=False), upper)
    return [lu, pivots, perm], [add_any(dl, du), None, None]


jvp_rules[P.lu] = _lu_jvp


def _lu_batch(args, dims):
    (x,), (d,) = args, dims
    outs = bind(P.lu, (move_axis(x, d, 0),), {})
    return outs, [0, 0, 0]


batching_rules[P.lu] = _lu_batch


# --- triangular_solve ----------------------------------------------------------------------

def _read_triangle(da: Any, lower: bool, unit_diagonal: bool) -> Any:
    """The part of ``da`` the solve reads: its triangle, without the diagonal if unit."""
    mask = triangle_mask(da.shape, lower, strict=unit_diagonal)
    return lax.select(mask, da, lax.full(da.shape, 0, da.dtype))


def _triangular_solve_jvp(primals, tangents, **params):
    a, b = primals
    da, db = tangents
    x = _solve(a, b, **params)
    dx = None if db is None else _solve(a, db, **params)
    if da is not None:
        op_da = _read_triangle(da, params["lower"], params["unit_diagonal"])
        if params["transpose_a"]:
            op_da = transpose_last(op_da)
        op_da = lax.neg(op_da)
        # x = op(a)^-1 b: dx = op(a)^-1 (-op(da)) x (left), x (-op(da)) op(a)^-1 (right).
        prod = matmul(op_da, x) if params["left_side"] else matmul(x, op_da)
        term = _solve(a, prod, **params)
        dx = term if dx is None else add_any(dx, term)
    return x, dx


jvp_rules[P.triangular_solve] = _triangular_solve_jvp


def _triangular_solve_t(ct, a, b, **params):
    if is_linear(a):
        raise NotImplementedError("triangular_solve is not linear in its matrix a")
    return [None, _solve(a, ct, **dict(params, transpose_a=not params["transpose_a"]))]


transpose_rules[P.triangular_solve] = _triangular_solve_t


def _triangular_solve_batch(args, dims, **params):
    size = batch_size(args, dims)
    a, b = (batch_at(x, d, size, 0) for x, d in zip(args, dims))
    return _solve(a, b, **params), 0


batching_rules[P.triangular_solve] = _triangular_solve_batch


# --- cholesky: dL = L Phi(L^-1 dA L^-T), Phi taking the lower triangle with the diagonal
# halved (JAX's rule; dA symmetrized from the lower triangle the primitive reads) ------------

def _cholesky_jvp(primals, tangents):
    (a,), (da,) = primals, tangents
    factor = bind(P.cholesky, (a,), {})
    if da is None:
        return factor, None
    lower_da = keep_triangle(da, lower=True)
    strict = _strictly_lower(da)
    sym = lax.add(lower_da, _adjoint(strict))  # Hermitian, from the triangle read
    complex_ = a.dtype.kind == "c"
    tmp = _solve(factor, sym, left_side=False, lower=True, transpose_a=True,
                 conjugate_a=complex_, unit_diagonal=False)
    inner = _solve(factor, tmp, left_side=True, lower=True, transpose_a=False,
                   conjugate_a=False, unit_diagonal=False)
    eye = identity(a.shape, a.dtype)
    halve = lax.sub(lax.full(a.shape, 1, a.dtype), lax.mul(lax.full(a.shape, 0.5, a.dtype), eye))
    phi = lax.mul(keep_triangle(inner, lower=True), halve)
    return factor, matmul(factor, phi)


jvp_rules[P.cholesky] = _cholesky_jvp


def _front_batch(prim):
    def rule(args, dims, **params):
        (x,), (d,) = args, dims
        outs = bind(prim, (move_axis(x, d, 0),), params)
        return outs, ([0] * len(outs) if prim.multiple_results else 0)

    return rule


batching_rules[P.cholesky] = _front_batch(P.cholesky)
batching_rules[P.eigh] = _front_batch(P.eigh)


# --- eigh: with A = V diag(w) V^T and B = V^T dA V (dA symmetrized from the read triangle):
# dw = diag(B), dV = V (F * B) with F_ij = 1 / (w_j - w_i) off the diagonal --------------------

def _eigh_jvp(primals, tangents, **params):
    (a,), (da,) = primals, tangents
    v, w = bind(P.eigh, (a,), params)
    if da is None:
        return [v, w], [None, None]
    lower = params["lower"]
    part = keep_triangle(da, lower)
    strict = lax.select(triangle_mask(da.shape, lower, strict=True), da,
                        lax.full(da.shape, 0, da.dtype))
    sym = lax.add(part, transpose_last(strict))
    b = matmul(transpose_last(v), matmul(sym, v))
    eye = identity(a.shape, a.dtype)
    batch = tuple(range(a.ndim - 2))
    gaps = lax.sub(lax.broadcast_in_dim(w, a.shape, (*batch, a.ndim - 1)),
                   lax.broadcast_in_dim(w, a.shape, (*batch, a.ndim - 2)))
    f = lax.sub(lax.div(lax.full(a.shape, 1, a.dtype), lax.add(eye, gaps)), eye)
    dw = lax.reduce_sum(lax.mul(b, eye), (a.ndim - 1,))
    return [v, w], [matmul(v, lax.mul(f, b)), dw]


jvp_rules[P.eigh] = _eigh_jvp


# --- svd: with dS = U^T dA V, ds = diag(dS); U and V rotate by the antisymmetric parts of dS
# scaled by 1 / (s_j^2 - s_i^2), plus the components outside their spans (JAX's rule) ----------

def _svd_jvp(primals, tangents, *, full_matrices, compute_uv, subset_by_index=None,
             algorithm=None):
    (a,), (da,) = primals, tangents
    params = {"subset_by_index": subset_by_index, "algorithm": algorithm}
    if compute_uv and full_matrices:
        raise NotImplementedError("Singular value decomposition JVP not implemented for full "
                                  "matrices")
    s, u, vt = bind(P.svd, (a,), dict(params, full_matrices=False, compute_uv=True))
    if da is None:
        outs = [s, u, vt] if compute_uv else [s]
        return outs, [None] * len(outs)
    dtype = a.dtype
    ut, v = _adjoint(u), _adjoint(vt)
    k = s.shape[-1]
    shape = (*s.shape, k)
    batch = tuple(range(s.ndim - 1))
    row = lax.broadcast_in_dim(s, shape, (*batch, s.ndim))  # s_j at (i, j)
    col = lax.broadcast_in_dim(s, shape, (*batch, s.ndim - 1))  # s_i at (i, j)
    ds_full = matmul(matmul(ut, da), v)
    eye = identity(shape, dtype)
    ds = lax.reduce_sum(lax.mul(ds_full, eye), (ds_full.ndim - 1,))
    if dtype.kind == "c":
        ds = lax.real(ds)
    if not compute_uv:
        return [s], [ds]
    real = s.dtype
    as_a = lambda x: lax.convert_element_type(x, dtype)  # noqa: E731
    zero = lax.full(shape, 0, real)
    one = lax.full(shape, 1, real)
    diffs = lax.mul(lax.add(row, col), lax.sub(row, col))
    is_zero = lax.convert_element_type(lax.eq(diffs, zero), real)
    f = as_a(lax.sub(lax.div(one, lax.add(diffs, is_zero)), is_zero))
    dss = lax.mul(as_a(row), ds_full)
    sds = lax.mul(as_a(col), ds_full)
    s_zero = lax.convert_element_type(lax.eq(s, lax.full(s.shape, 0, real)), real)
    s_inv = lax.sub(lax.div(lax.full(s.shape, 1, real), lax.add(s, s_zero)), s_zero)
    s_inv_mat = as_a(lax.mul(identity(shape, real),
                             lax.broadcast_in_dim(s_inv, shape, (*batch, s.ndim))))
    half = lax.full(shape, 0.5, dtype)
    du_dv_diag = lax.mul(lax.mul(half, lax.sub(ds_full, _adjoint(ds_full))), s_inv_mat)
    du = matmul(u, lax.add(lax.mul(f, lax.add(dss, _adjoint(dss))), du_dv_diag))
    dv = matmul(v, lax.mul(f, lax.add(sds, _adjoint(sds))))
    m, n = a.shape[-2:]
    if m > n:
        dav = matmul(da, v)
        extra = lax.sub(dav, matmul(u, matmul(ut, dav)))
        du = lax.add(du, lax.div(extra, as_a(lax.broadcast_in_dim(s, extra.shape,
                                                                    (*batch, s.ndim)))))
    if n > m:
        dahu = matmul(_adjoint(da), u)
        extra = lax.sub(dahu, matmul(v, matmul(vt, dahu)))
        dv = lax.add(dv, lax.div(extra, as_a(lax.broadcast_in_dim(s, extra.shape,
                                                                    (*batch, s.ndim)))))
    return [s, u, vt], [ds, du, _adjoint(dv)]


jvp_rules[P.svd] = _svd_jvp
batching_rules[P.svd] = _front_batch(P.svd)


# --- eig: with A V = V diag(w) (V the right eigenvectors) and P = V^-1 dA V, dw = diag(P);
# eigenvectors (only with enable_eigvec_derivs, as JAX) from first-order perturbation theory
# under geev's normalisation (unit 2-norm, largest component real) ------------------------------

def _complex_solve(a: Any, b: Any) -> Any:
    """``a^-1 b`` by a pivoted LU of ``a`` (a stack); linear in ``b``."""
    from llax.frontend.jnp._lu import lu_solve

    lu_, _, perm = bind(P.lu, (a,), {})
    return lu_solve(lu_, perm, b)


def _adjoint(x: Any) -> Any:
    x = transpose_last(x)
    return lax.conj(x) if x.dtype.kind == "c" else x


def _eig_vector_jvp(w: Any, v: Any, da: Any) -> tuple[Any, Any]:
    shape = v.shape
    nd = v.ndim
    batch = tuple(range(nd - 2))
    eye = identity(shape, v.dtype)
    gaps = lax.sub(lax.broadcast_in_dim(w, shape, (*batch, nd - 1)),
                   lax.broadcast_in_dim(w, shape, (*batch, nd - 2)))
    f = lax.sub(lax.div(lax.full(shape, 1, v.dtype), lax.add(eye, gaps)), eye)
    p = matmul(_complex_solve(v, da), v)
    dw = lax.reduce_sum(lax.mul(p, eye), (nd - 1,))
    u = matmul(v, lax.mul(f, p))
    # dv_j = u_j + c_j v_j; the normalisation's two real conditions fix
    # c_j = -Re(v_j^H u_j) - i Im(u_kj) / v_kj, k the row of v_j's largest component.
    re_v, im_v = lax.real(v), lax.imag(v)
    k = lax.argmax(lax.add(lax.mul(re_v, re_v), lax.mul(im_v, im_v)), nd - 2, np.int32)
    rows = lax.broadcasted_iota(np.int32, shape, nd - 2)
    mask = lax.convert_element_type(lax.eq(rows, lax.broadcast_in_dim(k, shape, (*batch,
                                                                              nd - 1))),
                                    v.dtype)
    re = lax.neg(lax.real(lax.reduce_sum(lax.mul(lax.conj(v), u), (nd - 2,))))
    im = lax.neg(lax.div(lax.imag(lax.reduce_sum(lax.mul(mask, u), (nd - 2,))),
                         lax.real(lax.reduce_sum(lax.mul(mask, v), (nd - 2,)))))
    c = lax.complex(re, im)
    return dw, lax.add(u, lax.mul(v, lax.broadcast_in_dim(c, shape, (*batch, nd - 1))))


def _eig_jvp(primals, tangents, *, compute_left_eigenvectors, compute_right_eigenvectors,
             enable_eigvec_derivs=False, implementation=None):
    (a,), (da,) = primals, tangents
    left, right = compute_left_eigenvectors, compute_right_eigenvectors
    if (left or right) and not enable_eigvec_derivs:
        raise NotImplementedError(
            "Derivatives of non-symmetric eigenvectors are only valid under assumptions on the "
            "input that JAX cannot check (see the enable_eigvec_derivs argument to "
            "jax.lax.linalg.eig). Pass enable_eigvec_derivs=True to jax.lax.linalg.eig to opt "
            "in. See https://github.com/jax-ml/jax/issues/2748 for discussion.")
    params = {"compute_left_eigenvectors": left, "compute_right_eigenvectors": True,
              "enable_eigvec_derivs": enable_eigvec_derivs, "implementation": implementation}
    outs = bind(P.eig, (a,), params)
    w, vr = outs[0], outs[-1]
    primal = [w] + ([outs[1]] if left else []) + ([vr] if right else [])
    if da is None:
        return primal, [None] * len(primal)
    da = lax.convert_element_type(da, vr.dtype)
    if not (left or right):
        p = _complex_solve(vr, da)
        return primal, [lax.reduce_sum(lax.mul(p, transpose_last(vr)), (vr.ndim - 1,))]
    dw, dvr = _eig_vector_jvp(w, vr, da)
    tangent = [dw]
    if left:
        tangent.append(_eig_vector_jvp(lax.conj(w), outs[1], _adjoint(da))[1])
    if right:
        tangent.append(dvr)
    return primal, tangent


jvp_rules[P.eig] = _eig_jvp
batching_rules[P.eig] = _front_batch(P.eig)
batching_rules[P.geqrf] = _front_batch(P.geqrf)


def _householder_product_batch(args, dims):
    size = batch_size(args, dims)
    a, taus = (batch_at(x, d, size, 0) for x, d in zip(args, dims))
    return bind(P.householder_product, (a, taus), {}), 0


batching_rules[P.householder_product] = _householder_product_batch
