"""llax.scipy.linalg against jax.scipy.linalg (jax 0.10.2 as the oracle) and against the
defining identities: block_diag, toeplitz, expm (every Padé order and squaring count,
batched, jitted, vmapped, differentiated), and the SciPy-convention wrappers of the
factorizations (cholesky, cho_factor/cho_solve, solve_triangular, lu, lu_factor,
lu_solve, qr, svd, eigh, inv, det, solve)."""

from __future__ import annotations

import jax
import jax.scipy.linalg as JL
import numpy as np
import pytest

import llax
import llax.scipy.linalg as LL

_rng = np.random.default_rng(3)
A = _rng.normal(size=(4, 4)).astype(np.float32)
SPD = (A @ A.T + 4 * np.eye(4)).astype(np.float32)
B = _rng.normal(size=(4, 2)).astype(np.float32)
V = B[:, 0]


def _close(got, want, tol=2e-5):
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype and g.shape == w.shape
        finite = np.abs(w[np.isfinite(w)])
        scale = max(1.0, float(finite.max())) if finite.size else 1.0
        np.testing.assert_allclose(g, w, rtol=0, atol=tol * scale, equal_nan=True)


def test_block_diag():
    parts = (A[:2, :3], np.float32(5), np.ones((1, 2), np.int32), np.zeros((0, 2), np.float32))
    _close(LL.block_diag(*parts), JL.block_diag(*parts))
    _close(LL.block_diag(), JL.block_diag())
    _close(LL.block_diag(np.arange(3)), JL.block_diag(np.arange(3)))
    _close(llax.jit(LL.block_diag)(A, B), JL.block_diag(A, B))
    with pytest.raises(ValueError):
        LL.block_diag(np.ones((2, 2, 2)))


def test_toeplitz():
    _close(LL.toeplitz(V), JL.toeplitz(V))
    _close(LL.toeplitz(V, B[:3, 1]), JL.toeplitz(V, B[:3, 1]))
    _close(LL.toeplitz(A), JL.toeplitz(A))  # leading axes are a batch
    _close(LL.toeplitz(np.arange(3, dtype=np.int32)), JL.toeplitz(np.arange(3, dtype=np.int32)))
    _close(LL.toeplitz(2.0), JL.toeplitz(2.0))
    _close(llax.jit(LL.toeplitz)(V, V[:2]), JL.toeplitz(V, V[:2]))


@pytest.mark.parametrize("scale", [0.05, 0.3, 1.0, 4.0, 40.0])
def test_expm_orders_and_squarings(scale):
    a = A * scale / 4
    _close(LL.expm(a), JL.expm(a), 1e-5)
    _close(llax.jit(LL.expm)(a), JL.expm(a), 1e-5)


def test_expm_batch_flags_and_limits():
    stack = np.stack([A / 10, A, 5 * A])
    _close(LL.expm(stack), JL.expm(stack), 1e-5)
    _close(llax.vmap(LL.expm)(stack), jax.vmap(JL.expm)(stack), 1e-5)
    up = np.triu(A)
    _close(LL.expm(up, upper_triangular=True), JL.expm(up, upper_triangular=True), 1e-5)
    _close(LL.expm(100 * A, max_squarings=4), JL.expm(100 * A, max_squarings=4))  # NaN
    _close(LL.expm(np.zeros((0, 0), np.float32)), JL.expm(np.zeros((0, 0), np.float32)))
    _close(LL.expm(np.eye(3, dtype=np.int32)), JL.expm(np.eye(3, dtype=np.int32)), 1e-6)
    with pytest.raises(ValueError):
        LL.expm(V)
    # exp(A) exp(-A) = I
    np.testing.assert_allclose(np.asarray(LL.expm(A)) @ np.asarray(LL.expm(-A)),
                               np.eye(4), atol=1e-4)


def test_expm_gradient():
    f_l = lambda a: (LL.expm(a) * B[:, :1]).sum()  # noqa: E731
    f_j = lambda a: (JL.expm(a) * B[:, :1]).sum()  # noqa: E731
    _close(llax.grad(f_l)(A / 3), jax.grad(f_j)(A / 3), 1e-4)


def test_cholesky_and_cho_solve():
    _close(LL.cholesky(SPD), JL.cholesky(SPD))
    _close(LL.cholesky(SPD, lower=True), JL.cholesky(SPD, lower=True))
    for lower in (False, True):
        c_l, c_j = LL.cho_factor(SPD, lower=lower), JL.cho_factor(SPD, lower=lower)
        assert c_l[1] == c_j[1]
        _close(LL.cho_solve(c_l, B), JL.cho_solve(c_j, B))
        _close(LL.cho_solve(c_l, V), JL.cho_solve(c_j, V))
    x = np.asarray(LL.cho_solve(LL.cho_factor(SPD), B))
    np.testing.assert_allclose(SPD @ x, B, atol=1e-4)


@pytest.mark.parametrize("trans", [0, 1, 2, "N", "T", "C"])
@pytest.mark.parametrize("lower", [False, True])
def test_solve_triangular(trans, lower):
    _close(LL.solve_triangular(SPD, B, trans=trans, lower=lower),
           JL.solve_triangular(SPD, B, trans=trans, lower=lower))
    _close(LL.solve_triangular(SPD, V, trans=trans, lower=lower, unit_diagonal=True),
           JL.solve_triangular(SPD, V, trans=trans, lower=lower, unit_diagonal=True))


def test_solve_triangular_batched_jit_grad_and_errors():
    stack = np.stack([SPD, SPD.T])
    _close(LL.solve_triangular(stack, np.stack([B, B]), lower=True),
           JL.solve_triangular(stack, np.stack([B, B]), lower=True))
    _close(llax.jit(LL.solve_triangular, static_argnames="lower")(SPD, B, lower=True),
           JL.solve_triangular(SPD, B, lower=True))
    g_l = llax.grad(lambda a, b: LL.solve_triangular(a, b, lower=True).sum(), (0, 1))(SPD, B)
    g_j = jax.grad(lambda a, b: JL.solve_triangular(a, b, lower=True).sum(), (0, 1))(SPD, B)
    _close(tuple(g_l), tuple(g_j), 1e-4)
    with pytest.raises(ValueError):
        LL.solve_triangular(SPD, B, trans=3)


@pytest.mark.parametrize("shape", [(4, 4), (3, 4), (4, 3)])
def test_lu(shape):
    a = A[: shape[0], : shape[1]]
    _close(LL.lu(a), JL.lu(a))
    _close(LL.lu(a, permute_l=True), JL.lu(a, permute_l=True))
    p, l_, u = (np.asarray(t) for t in LL.lu(a))
    np.testing.assert_allclose(p @ l_ @ u, a, atol=1e-5)


def test_lu_factor_and_solve():
    _close(LL.lu_factor(A), JL.lu_factor(A))
    for trans in (0, 1):
        _close(LL.lu_solve(LL.lu_factor(A), B, trans=trans),
               JL.lu_solve(JL.lu_factor(A), B, trans=trans))
    _close(LL.lu_solve(LL.lu_factor(A), V), JL.lu_solve(JL.lu_factor(A), V))
    x = np.asarray(LL.lu_solve(LL.lu_factor(A), B))
    np.testing.assert_allclose(A @ x, B, atol=1e-4)


@pytest.mark.parametrize("mode", ["full", "economic", "r"])
def test_qr(mode):
    a = A[:, :3]
    _close(LL.qr(a, mode=mode), JL.qr(a, mode=mode))
    with pytest.raises(ValueError):
        LL.qr(a, mode="bogus")


def test_svd_eigh_inv_det_solve():
    _close(LL.svd(A, compute_uv=False), JL.svd(A, compute_uv=False))
    u, s, vh = (np.asarray(t) for t in LL.svd(A, full_matrices=False))
    np.testing.assert_allclose(u * s @ vh, A, atol=1e-5)
    _close(LL.eigh(SPD, eigvals_only=True), JL.eigh(SPD, eigvals_only=True))
    _close(LL.eigh(SPD, lower=False, eigvals_only=True),
           JL.eigh(SPD, lower=False, eigvals_only=True))
    # Only the named triangle is read, as in SciPy and NumPy (JAX 0.10.2's CPU eigh gives
    # other values for a matrix holding one triangle, so NumPy is the oracle here).
    for lower, half in ((True, np.tril(SPD)), (False, np.triu(SPD))):
        w, v = (np.asarray(t) for t in LL.eigh(half, lower=lower))
        np.testing.assert_allclose(v * w @ v.T, SPD, atol=1e-4)
        np.testing.assert_allclose(w, np.linalg.eigvalsh(SPD), rtol=1e-5)
    _close(LL.inv(A), JL.inv(A), 1e-4)
    _close(LL.det(A), JL.det(A))
    _close(LL.solve(A, B), JL.solve(A, B), 1e-4)
    _close(LL.solve(SPD, B, assume_a="pos"), JL.solve(SPD, B, assume_a="pos"))
    with pytest.raises(ValueError):
        LL.solve(A, B, assume_a="bogus")
    with pytest.raises(NotImplementedError):
        LL.eigh(SPD, SPD)
