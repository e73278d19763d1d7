"""``llax.scipy.linalg``: SciPy's linear algebra as JAX provides it.

The decompositions are thin wrappers that translate SciPy's conventions (``lower=``,
``trans=``, ``(c, lower)`` and ``(lu, piv)`` pairs, ``mode='full'``) onto
``llax.numpy.linalg`` and the ``lu``/``triangular_solve`` primitives. The matrix builders
(``block_diag``, ``toeplitz``) are index arithmetic, and ``expm`` is the Padé
approximant with scaling and squaring (Higham 2005) that JAX uses: orders 3/5/7 in
float32 and up to 13 in float64, chosen per matrix by its 1-norm.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from llax.frontend import jnp, lax
from llax.frontend.jnp import _lu
from llax.frontend.jnp._coerce import promote_dtypes
from llax.frontend.lax_linalg import lu_pivots_to_permutation
from llax.ir import dtypes

__all__ = ["block_diag", "cho_factor", "cho_solve", "cholesky", "det", "eigh", "expm", "inv",
           "lu", "lu_factor", "lu_solve", "qr", "solve", "solve_triangular", "svd",
           "toeplitz"]


def _inexact(name: str, *args: Any) -> list[Any]:
    return [jnp.asarray(a) for a in promote_dtypes(name, list(args), "inexact")]


# ---------------------------------------------------------------------------------------------
# Matrix builders


def block_diag(*arrs: Any) -> Any:
    """The block-diagonal matrix of ``arrs`` (each at least 2-D, promoted to one dtype)."""
    if not arrs:
        return jnp.zeros((1, 0))
    arrs = [jnp.atleast_2d(a) for a in promote_dtypes("block_diag", list(arrs))]
    if any(a.ndim != 2 for a in arrs):
        raise ValueError("Arguments to jax.scipy.linalg.block_diag must have at most 2 "
                         "dimensions, got " + ", ".join(str(a.shape) for a in arrs))
    width = sum(a.shape[1] for a in arrs)
    rows, left = [], 0
    for a in arrs:
        pads = [(0, 0), (left, width - left - a.shape[1])]
        rows.append(jnp.concatenate([jnp.zeros((a.shape[0], pads[1][0]), a.dtype), a,
                                     jnp.zeros((a.shape[0], pads[1][1]), a.dtype)], axis=1))
        left += a.shape[1]
    return jnp.concatenate(rows, axis=0)


def toeplitz(c: Any, r: Any = None) -> Any:
    """The Toeplitz matrix with first column ``c`` and first row ``r`` (``r[0]`` ignored;
    ``conj(c)`` by default). Leading axes of ``c`` and ``r`` are batch axes."""
    if r is None:
        c = jnp.asarray(c)
        r = jnp.conj(c) if dtypes.kind(np.dtype(c.dtype)) == "c" else c
    c, r = promote_dtypes("toeplitz", [c, r])
    c, r = jnp.atleast_1d(c), jnp.atleast_1d(r)
    batch = jnp.broadcast_shapes(c.shape[:-1], r.shape[:-1])
    c = jnp.broadcast_to(c, batch + c.shape[-1:])
    r = jnp.broadcast_to(r, batch + r.shape[-1:])
    m, n = c.shape[-1], r.shape[-1]
    values = jnp.concatenate([jnp.flip(c, -1), r[..., 1:]], axis=-1)
    index = (m - 1) - np.arange(m)[:, None] + np.arange(n)[None, :]
    return jnp.take(values, jnp.asarray(index.astype(np.int32)), axis=-1)


# ---------------------------------------------------------------------------------------------
# Matrix exponential

_PADE = {
    3: (120., 60., 12., 1.),
    5: (30240., 15120., 3360., 420., 30., 1.),
    7: (17297280., 8648640., 1995840., 277200., 25200., 1512., 56., 1.),
    9: (17643225600., 8821612800., 2075673600., 302702400., 30270240., 2162160., 110880.,
        3960., 90., 1.),
    13: (64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800.,
         129060195264000., 10559470521600., 670442572800., 33522128640., 1323241920.,
         40840800., 960960., 16380., 182., 1.),
}
# (the largest 1-norm each order handles, the order past the last one) per dtype.
_PADE_BOUNDS = {
    np.dtype(np.float32): ((4.258730016922831e-001, 1.880152677804762e+000), (3, 5, 7),
                           3.925724783138660),
    np.dtype(np.float64): ((1.495585217958292e-002, 2.539398330063230e-001,
                            9.504178996162932e-001, 2.097847961257068e+000),
                           (3, 5, 7, 9, 13), 5.371920351148152),
}


def _mm(a: Any, b: Any) -> Any:
    return jnp.matmul(a, b)  # (float32 products are exact-precision on the CPU)


def _pade_terms(a: Any, order: int) -> tuple[Any, Any]:
    """U (odd powers) and V (even powers) of the order-``order`` Padé approximant, so that
    exp(A) ~ (V - U)^-1 (V + U)."""
    b = _PADE[order]
    ident = jnp.eye(a.shape[-1], dtype=a.dtype)
    a2 = _mm(a, a)
    if order == 13:
        a4 = _mm(a2, a2)
        a6 = _mm(a4, a2)
        u = _mm(a, _mm(a6, b[13] * a6 + b[11] * a4 + b[9] * a2)
                + b[7] * a6 + b[5] * a4 + b[3] * a2 + b[1] * ident)
        v = (_mm(a6, b[12] * a6 + b[10] * a4 + b[8] * a2)
             + b[6] * a6 + b[4] * a4 + b[2] * a2 + b[0] * ident)
        return u, v
    powers = [ident, a2]
    while len(powers) <= order // 2:
        powers.append(_mm(powers[-1], a2))
    odd = sum(b[2 * k + 1] * p for k, p in enumerate(powers))
    even = sum(b[2 * k] * p for k, p in enumerate(powers))
    return _mm(a, odd), even


def expm(A: Any, *, upper_triangular: bool = False, max_squarings: int = 16) -> Any:  # noqa: N803
    """exp(A) of a (stack of) square matrices; NaN where more than ``max_squarings``
    squarings would be needed."""
    (a,) = _inexact("expm", A)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"Expected A to be a (batched) square matrix, got A.shape={a.shape}.")
    real = np.dtype(a.dtype).type(0).real.dtype  # complex matrices use their parts' bounds
    if real not in _PADE_BOUNDS:
        raise TypeError(f"A.dtype={a.dtype} is not supported.")
    if a.shape[-1] == 0:
        return a
    bounds, orders, max_norm = _PADE_BOUNDS[real]
    norm1 = jnp.max(jnp.sum(jnp.abs(a), axis=-2), axis=-1)
    n_squarings = jnp.maximum(0, jnp.floor(jnp.log2(norm1 / max_norm)))
    scaled = a / (2 ** n_squarings)[..., None, None]
    choice = jnp.digitize(norm1, jnp.asarray(np.asarray(bounds, real)))[..., None, None]
    u = v = None
    for i, order in enumerate(orders):
        ui, vi = _pade_terms(scaled, order)
        u = ui if u is None else jnp.where(choice == i, ui, u)
        v = vi if v is None else jnp.where(choice == i, vi, v)
    p, q = u + v, v - u
    r = solve_triangular(q, p) if upper_triangular else jnp.linalg.solve(q, p)
    steps = n_squarings[..., None, None]

    def square(i: Any, r: Any) -> Any:
        return jnp.where(i < steps, _mm(r, r), r)

    r = lax.fori_loop(0, int(max_squarings), square, r)
    return jnp.where(steps > max_squarings, math.nan, r)


# ---------------------------------------------------------------------------------------------
# Cholesky


def cholesky(a: Any, lower: bool = False, overwrite_a: bool = False,
             check_finite: bool = True) -> Any:
    """The Cholesky factor: upper ``U`` (``a = U^H U``) by default, lower with ``lower``."""
    del overwrite_a, check_finite
    (a,) = _inexact("cholesky", a)
    return jnp.linalg.cholesky(a, upper=not lower)


def cho_factor(a: Any, lower: bool = False, overwrite_a: bool = False,
               check_finite: bool = True) -> tuple[Any, bool]:
    """``(c, lower)`` for ``cho_solve``; ``c`` is the Cholesky factor."""
    del overwrite_a, check_finite
    return cholesky(a, lower=lower), lower


def cho_solve(c_and_lower: tuple[Any, bool], b: Any, overwrite_b: bool = False,
              check_finite: bool = True) -> Any:
    """``x`` with ``A x = b`` from ``cho_factor(A)``."""
    del overwrite_b, check_finite
    c, lower = c_and_lower
    c, b = _inexact("cho_solve", c, b)
    # A = L L^H = U^H U: the conjugate transpose ('C') where the factor is transposed.
    first = solve_triangular(c, b, trans=0 if lower else 2, lower=lower)
    return solve_triangular(c, first, trans=2 if lower else 0, lower=lower)


# ---------------------------------------------------------------------------------------------
# Triangular solves and LU


_TRANS = {0: 0, 1: 1, 2: 2, "N": 0, "T": 1, "C": 2}


def solve_triangular(a: Any, b: Any, trans: int | str = 0, lower: bool = False,
                     unit_diagonal: bool = False, overwrite_b: bool = False, debug: Any = None,
                     check_finite: bool = True) -> Any:
    """``x`` with ``op(a) x = b`` for triangular ``a`` (``trans``: 0/'N', 1/'T', 2/'C');
    ``b`` is a vector or a matrix per ``a``."""
    del overwrite_b, debug, check_finite
    if trans not in _TRANS:
        raise ValueError(f"Invalid 'trans' value {trans}")
    t = _TRANS[trans]
    a, b = _inexact("solve_triangular", a, b)
    vector = a.ndim == b.ndim + 1
    if vector:
        b = b[..., None]
    batch = jnp.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = jnp.broadcast_to(a, batch + a.shape[-2:])
    b = jnp.broadcast_to(b, batch + b.shape[-2:])
    x = _lu.triangular_solve(a, b, left_side=True, lower=lower, transpose_a=t > 0,
                             conjugate_a=t == 2, unit_diagonal=unit_diagonal)
    return x[..., 0] if vector else x


def lu_factor(a: Any, overwrite_a: bool = False, check_finite: bool = True) -> tuple[Any, Any]:
    """``(lu, piv)``: the packed factors and LAPACK's row-swap pivots."""
    del overwrite_a, check_finite
    (a,) = _inexact("lu_factor", a)
    lu_, pivots, _ = _lu.lu(a)
    return lu_, pivots


def lu_solve(lu_and_piv: tuple[Any, Any], b: Any, trans: int = 0, overwrite_b: bool = False,
             check_finite: bool = True) -> Any:
    """``x`` with ``A x = b`` (``trans=0``), ``A^T x = b`` (1) or ``A^H x = b`` (2) from
    ``lu_factor(A)``."""
    del overwrite_b, check_finite
    lu_, pivots = lu_and_piv
    if trans not in (0, 1, 2):
        raise ValueError("'trans' value must be 0, 1, or 2.")
    lu_, b = _inexact("lu_solve", lu_, b)
    m = lu_.shape[-1]
    perm = lu_pivots_to_permutation(pivots, m)
    vector = b.ndim == lu_.ndim - 1
    if vector:
        b = b[..., None]
    batch = jnp.broadcast_shapes(lu_.shape[:-2], b.shape[:-2])
    conjugate = trans == 2 and dtypes.kind(lu_.dtype) == "c"  # A^H x = b is A^T conj(x) = conj(b)
    b = jnp.conj(b) if conjugate else b
    x = _lu.lu_solve(jnp.broadcast_to(lu_, batch + lu_.shape[-2:]),
                     jnp.broadcast_to(perm, batch + perm.shape[-1:]),
                     jnp.broadcast_to(b, batch + b.shape[-2:]), transpose=trans != 0)
    x = jnp.conj(x) if conjugate else x
    return x[..., 0] if vector else x


def lu(a: Any, permute_l: bool = False, overwrite_a: bool = False,
       check_finite: bool = True) -> tuple[Any, ...]:
    """``(p, l, u)`` with ``a = p @ l @ u`` (``(p @ l, u)`` with ``permute_l``)."""
    del overwrite_a, check_finite
    (a,) = _inexact("lu", a)
    lu_, _, perm = _lu.lu(a)
    m, n = a.shape[-2:]
    k = min(m, n)
    real = np.dtype(a.dtype).type(0).real.dtype  # P is real for complex a too, as JAX's
    p = (perm[..., None, :] == jnp.arange(m, dtype=perm.dtype)[:, None]).astype(real)
    strictly_lower = np.tri(m, k, -1, dtype=bool)
    l_ = jnp.where(strictly_lower, lu_[..., :, :k], 0) + jnp.eye(m, k, dtype=a.dtype)
    u = jnp.where(~np.tri(k, n, -1, dtype=bool), lu_[..., :k, :], 0)
    if permute_l:
        return jnp.matmul(p, l_), u
    return p, l_, u


# ---------------------------------------------------------------------------------------------
# The rest of the decompositions, and inv/det/solve


def qr(a: Any, overwrite_a: bool = False, lwork: Any = None, mode: str = "full",
       pivoting: bool = False, check_finite: bool = True) -> tuple[Any, ...]:
    """QR with SciPy's modes: 'full' (complete Q), 'economic', 'r' (``(r,)``), 'raw'."""
    del overwrite_a, lwork, check_finite
    if pivoting:
        raise NotImplementedError("qr with pivoting=True is not implemented in llax")
    modes = {"full": "complete", "economic": "reduced", "r": "complete", "raw": "raw"}
    if mode not in modes:
        raise ValueError(f"Unsupported QR decomposition mode '{mode}'")
    (a,) = _inexact("qr", a)
    out = jnp.linalg.qr(a, mode=modes[mode])
    if mode == "r":  # SciPy's R is the complete one, (m, n)
        return (out[1],)
    return tuple(out)


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True, overwrite_a: bool = False,
        check_finite: bool = True, lapack_driver: str = "gesdd") -> Any:
    """The singular value decomposition ``(u, s, vh)`` (or ``s``)."""
    del overwrite_a, check_finite, lapack_driver
    (a,) = _inexact("svd", a)
    out = jnp.linalg.svd(a, full_matrices=full_matrices, compute_uv=compute_uv)
    return tuple(out) if compute_uv else out


def eigh(a: Any, b: Any = None, lower: bool = True, eigvals_only: bool = False,
         overwrite_a: bool = False, overwrite_b: bool = False, turbo: bool = True,
         eigvals: None = None, type: int = 1, check_finite: bool = True) -> Any:  # noqa: A002
    """Eigenvalues (ascending) and eigenvectors of a symmetric matrix, read from its
    ``lower`` (or upper) triangle."""
    del overwrite_a, overwrite_b, turbo, check_finite
    if b is not None:
        raise NotImplementedError("Only the b=None case of eigh is implemented")
    if type != 1:
        raise NotImplementedError("Only the type=1 case of eigh is implemented.")
    if eigvals is not None:
        raise NotImplementedError("Only the eigvals=None case of eigh is implemented.")
    (a,) = _inexact("eigh", a)
    w, v = jnp.linalg.eigh(a, UPLO="L" if lower else "U", symmetrize_input=False)
    return w if eigvals_only else (w, v)


def inv(a: Any, overwrite_a: bool = False, check_finite: bool = True) -> Any:
    del overwrite_a, check_finite
    return jnp.linalg.inv(a)


def det(a: Any, overwrite_a: bool = False, check_finite: bool = True) -> Any:
    del overwrite_a, check_finite
    return jnp.linalg.det(a)


def solve(a: Any, b: Any, lower: bool = False, overwrite_a: bool = False,
          overwrite_b: bool = False, debug: bool = False, check_finite: bool = True,
          assume_a: str = "gen") -> Any:
    """``x`` with ``a x = b``; ``assume_a='pos'`` solves through the Cholesky factor."""
    del overwrite_a, overwrite_b, debug, check_finite
    if assume_a not in {"gen", "sym", "her", "pos"}:
        raise ValueError(f"Expected assume_a to be one of {{'gen', 'sym', 'her', 'pos'}}; "
                         f"got {assume_a!r}")
    if assume_a != "pos":
        return jnp.linalg.solve(a, b)
    a, b = _inexact("solve", a, b)
    return cho_solve(cho_factor(a, lower=lower), b)
