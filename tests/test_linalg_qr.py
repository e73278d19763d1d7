"""QR on LAPACK (``geqrf`` + ``householder_product``, JAX's pair) and the determinant's
derivative, against live JAX and the defining identities: ``Q R = A`` with ``Q``
orthonormal (unitary) and ``R`` upper triangular, for every ``mode``, tall, wide, square,
batched and empty, float32 and float64 (x64), real and complex; gradients of ``qr``
(JAX's rule, all shapes it supports) and of ``det`` at singular matrices (finite, JAX's
adjugate) against JAX.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jjnp
import numpy as np
import pytest
from jax._src.lax.linalg import geqrf as jax_geqrf

import llax
import llax.numpy as jnp
from tests.jnp_oracle import x64_mode

N = np.asarray
SHAPES = [(5, 3), (3, 5), (1, 1), (2, 3, 6, 4), (2, 4, 6)]


@pytest.fixture(params=[np.float32, np.float64], ids=["f32", "f64"])
def dtype(request: pytest.FixtureRequest) -> Any:
    with x64_mode(request.param == np.float64):
        yield request.param


def _matrices(dtype: Any, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    r = np.random.default_rng(seed)
    x = r.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * r.standard_normal(shape)
    return x.astype(dtype)


def _eps(dtype: Any) -> float:
    return float(np.finfo(np.dtype(dtype)).eps)


def _check_qr(a: np.ndarray, q: Any, r: Any) -> None:
    q, r = N(q), N(r)
    tol = 50 * _eps(a.dtype) * max(a.shape[-2:])
    k = q.shape[-1]
    qh = np.conj(np.swapaxes(q, -1, -2))
    assert np.abs(qh @ q - np.eye(k)).max() <= tol
    assert np.abs(np.tril(r, -1)).max(initial=0) == 0
    assert np.abs(q @ r - a).max(initial=0) <= tol * max(1.0, np.abs(a).max(initial=0))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("mode", ["reduced", "complete", "r", "raw"])
@pytest.mark.parametrize("cplx", [False, True], ids=["real", "complex"])
def test_qr_modes_identities_and_jax(dtype: Any, shape: tuple[int, ...], mode: str,
                                     cplx: bool) -> None:
    dt = np.result_type(dtype, np.complex64) if cplx else np.dtype(dtype)
    a = _matrices(dt, shape)
    got, want = jnp.linalg.qr(a, mode=mode), jjnp.linalg.qr(a, mode=mode)
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        # Same algorithm (Householder, LAPACK's signs): the factors agree with JAX's.
        np.testing.assert_allclose(N(g), N(w), atol=200 * _eps(dt) * max(shape[-2:]))
    if mode in ("reduced", "complete"):
        _check_qr(a, *got)
        _check_qr(a, *llax.jit(lambda x: jnp.linalg.qr(x, mode=mode))(a))


def test_lax_qr_geqrf_householder_product(dtype: Any) -> None:
    a = _matrices(dtype, (3, 6, 4), seed=1)
    for full in (True, False):
        q, r = llax.lax.linalg.qr(a, full_matrices=full)
        jq, jr = jax.lax.linalg.qr(a, full_matrices=full)
        assert q.shape == jq.shape and r.shape == jr.shape
        _check_qr(a, q, r)
    packed, taus = llax.lax.linalg.geqrf(a)
    jpacked, jtaus = jax_geqrf(a)  # not exported by jax.lax.linalg, but its primitive
    tol = 200 * _eps(dtype) * 6
    np.testing.assert_allclose(N(packed), N(jpacked), atol=tol)
    np.testing.assert_allclose(N(taus), N(jtaus), atol=tol)
    q = llax.lax.linalg.householder_product(packed, taus)
    np.testing.assert_allclose(N(q), N(jax.lax.linalg.householder_product(jpacked, jtaus)),
                               atol=tol)
    jitted = llax.jit(llax.lax.linalg.householder_product)(packed, taus)
    np.testing.assert_allclose(N(jitted), N(q), atol=tol)


def test_qr_empty_and_vmap() -> None:
    for shape in [(0, 0), (3, 0), (0, 3), (2, 0, 4)]:
        a = np.zeros(shape, np.float32)
        for mode in ("reduced", "complete"):
            q, r = jnp.linalg.qr(a, mode=mode)
            jq, jr = jjnp.linalg.qr(a, mode=mode)
            assert q.shape == jq.shape and r.shape == jr.shape
            np.testing.assert_array_equal(N(q), N(jq))
    a = _matrices(np.float32, (4, 5, 3), seed=2)
    q, r = llax.vmap(jnp.linalg.qr)(a)
    for i in range(4):
        qi, ri = jnp.linalg.qr(a[i])
        np.testing.assert_allclose(N(q[i]), N(qi), atol=1e-6)
        np.testing.assert_allclose(N(r[i]), N(ri), atol=1e-6)


def test_qr_errors() -> None:
    with pytest.raises(ValueError, match="Unsupported QR decomposition mode"):
        jnp.linalg.qr(np.eye(3, dtype=np.float32), mode="bogus")
    with pytest.raises(TypeError):
        jnp.linalg.qr(np.ones(3, np.float32))


def _qr_loss(np_: Any, qr: Any, mode: str) -> Any:
    def loss(a: Any) -> Any:
        q, r = qr(a, mode=mode)
        w = np_.arange(q.shape[-1], dtype=np.float32)
        return (np_.sum(np_.real(q) * w) + np_.sum(np_.abs(r) ** 2)
                + np_.sum(np_.sin(np_.real(q) + np_.imag(q) if q.dtype.kind == "c" else q)))

    return loss


@pytest.mark.parametrize("shape,mode,cplx", [
    ((5, 3), "reduced", False), ((3, 5), "reduced", False), ((2, 6, 4), "complete", False),
    ((4, 4), "reduced", True), ((5, 3), "complete", True)])
def test_qr_grad_matches_jax(shape: tuple[int, ...], mode: str, cplx: bool) -> None:
    a = _matrices(np.complex64 if cplx else np.float32, shape, seed=3)
    got = llax.grad(_qr_loss(jnp, jnp.linalg.qr, mode))(a)
    want = jax.grad(_qr_loss(jjnp, jjnp.linalg.qr, mode))(a)
    np.testing.assert_allclose(N(got), N(want), rtol=1e-3, atol=1e-4)
    if shape == (5, 3) and not cplx:
        jitted = llax.jit(llax.grad(_qr_loss(jnp, jnp.linalg.qr, mode)))(a)
        np.testing.assert_allclose(N(jitted), N(want), rtol=1e-3, atol=1e-4)


def _singular(kind: str) -> np.ndarray:
    r = np.random.default_rng(4)
    if kind == "rank n-1":
        return r.standard_normal((5, 4)) @ r.standard_normal((4, 5))
    if kind == "rank n-2":
        return r.standard_normal((5, 3)) @ r.standard_normal((3, 5))
    if kind == "zero":
        return np.zeros((5, 5))
    if kind == "2x2":
        return np.array([[1.0, 2.0], [2.0, 4.0]])
    if kind == "3x3":
        return np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 1.0, 1.0]])
    return r.standard_normal((2, 5, 5))


@pytest.mark.parametrize("kind", ["rank n-1", "rank n-2", "zero", "2x2", "3x3", "regular"])
def test_det_grad_is_jax_adjugate(kind: str) -> None:
    with x64_mode(True):  # exact singularity survives rounding better in float64
        a = _singular(kind)
        got = llax.grad(lambda x: jnp.sum(jnp.linalg.det(x)))(a)
        want = jax.grad(lambda x: jjnp.sum(jjnp.linalg.det(x)))(a)
        assert np.isfinite(N(got)).all()
        np.testing.assert_allclose(N(got), N(want), rtol=1e-6, atol=1e-8)
        if kind == "rank n-1":
            jitted = llax.jit(llax.grad(lambda x: jnp.sum(jnp.linalg.det(x))))(a)
            np.testing.assert_allclose(N(jitted), N(want), rtol=1e-6, atol=1e-8)
        # The adjugate: adj(a) a = det(a) I.
        adj_t = N(got)
        np.testing.assert_allclose(np.swapaxes(adj_t, -1, -2) @ a,
                                   N(jnp.linalg.det(a))[..., None, None] * np.eye(a.shape[-1]),
                                   atol=1e-8 * max(1.0, np.abs(a).max()) ** a.shape[-1])


@pytest.mark.parametrize("method,cplx", [(None, False), (None, True), ("qr", False)])
def test_slogdet_values_and_grad(method: str | None, cplx: bool) -> None:
    a = _matrices(np.complex64 if cplx else np.float32, (2, 4, 4), seed=5)
    sign, logdet = jnp.linalg.slogdet(a, method=method)
    jsign, jlogdet = jjnp.linalg.slogdet(a, method=method)
    assert sign.dtype == jsign.dtype and logdet.dtype == jlogdet.dtype
    np.testing.assert_allclose(N(sign), N(jsign), atol=1e-5)
    np.testing.assert_allclose(N(logdet), N(jlogdet), atol=1e-5)

    def loss(np_: Any) -> Any:
        def f(x: Any) -> Any:
            s, ld = np_.linalg.slogdet(x, method=method)
            return np_.sum(ld) + np_.sum(np_.real(s) * 2 + np_.imag(s))

        return f

    np.testing.assert_allclose(N(llax.grad(loss(jnp))(a)), N(jax.grad(loss(jjnp))(a)),
                               rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="Unknown slogdet method"):
        jnp.linalg.slogdet(a, method="bogus")


def test_slogdet_qr_refuses_complex_as_jax() -> None:
    a = _matrices(np.complex64, (3, 3))
    with pytest.raises(NotImplementedError, match="method='qr' not implemented for complex"):
        jjnp.linalg.slogdet(a, method="qr")
    with pytest.raises(NotImplementedError, match="method='qr' not implemented for complex"):
        jnp.linalg.slogdet(a, method="qr")


def test_lax_linalg_cholesky_eigh_svd_symmetric_product() -> None:
    r = np.random.default_rng(6)
    a = r.standard_normal((2, 4, 4)).astype(np.float32)
    h = a @ np.swapaxes(a, -1, -2) + 4 * np.eye(4, dtype=np.float32)
    np.testing.assert_allclose(N(llax.lax.linalg.cholesky(h)),
                               N(jax.lax.linalg.cholesky(h)), atol=1e-5)
    for symmetrize in (True, False):
        x = h if symmetrize else np.tril(h)
        v, w = llax.lax.linalg.eigh(x, symmetrize_input=symmetrize)
        np.testing.assert_allclose(N(w), N(jax.lax.linalg.eigh(h)[1]), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(h @ N(v), N(v) * N(w)[..., None, :], atol=1e-4)
    u, s, vt = llax.lax.linalg.svd(a, full_matrices=False)
    ju, js, jvt = jax.lax.linalg.svd(a, full_matrices=False)
    assert (u.shape, s.shape, vt.shape) == (ju.shape, js.shape, jvt.shape)
    np.testing.assert_allclose(N(s), N(js), rtol=1e-5)
    np.testing.assert_allclose((N(u) * N(s)[..., None, :]) @ N(vt), a, atol=1e-5)
    np.testing.assert_allclose(N(llax.lax.linalg.svd(a, compute_uv=False)), N(js), rtol=1e-5)
    c = r.standard_normal((2, 4, 4)).astype(np.float32)
    for sym in (False, True):
        got = llax.lax.linalg.symmetric_product(a, c, alpha=2.0, beta=0.5, symmetrize_output=sym)
        want = jax.lax.linalg.symmetric_product(a, c, alpha=2.0, beta=0.5,
                                                symmetrize_output=sym)
        np.testing.assert_allclose(N(got), N(want), rtol=1e-5, atol=1e-5)
    assert {e.name for e in llax.lax.linalg.SvdAlgorithm} == {
        e.name for e in jax.lax.linalg.SvdAlgorithm}


@pytest.mark.parametrize("shape", [(2, 0, 0), (0, 3, 3), (0, 0)])
@pytest.mark.parametrize("dt", [np.float32, np.complex64])
def test_empty_det_inv_slogdet_solve(shape: tuple[int, ...], dt: Any) -> None:
    z = np.zeros(shape, dt)
    for name in ("det", "inv", "slogdet"):
        want = getattr(jjnp.linalg, name)(z)
        want = want if isinstance(want, tuple) else (want,)
        for fn in (getattr(jnp.linalg, name), llax.jit(getattr(jnp.linalg, name))):
            got = fn(z)
            got = got if isinstance(got, tuple) else (got,)
            for g, w in zip(got, want):
                assert g.shape == w.shape and g.dtype == w.dtype
                np.testing.assert_array_equal(N(g), N(w))
    assert jnp.linalg.solve(z, z).shape == jjnp.linalg.solve(z, z).shape


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 4)])
@pytest.mark.parametrize("cplx", [False, True], ids=["real", "complex"])
def test_ormqr_matches_jax(shape: tuple[int, ...], cplx: bool) -> None:
    a = _matrices(np.complex64 if cplx else np.float32, shape, seed=8)
    h, taus = jjnp.linalg.qr(a, mode="raw")
    h = np.swapaxes(N(h), -1, -2)
    m = shape[-2]
    r = np.random.default_rng(9)
    for left in (True, False):
        for transpose in (False, True):
            c = r.standard_normal((*shape[:-2], m, 2) if left else (*shape[:-2], 2, m))
            c = c.astype(a.dtype)
            got = llax.lax.linalg.ormqr(h, N(taus), c, left=left, transpose=transpose)
            want = jax.lax.linalg.ormqr(h, taus, c, left=left, transpose=transpose)
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_allclose(N(got), N(want), atol=1e-5)


def test_tridiagonal_solve_and_cholesky_update_match_jax() -> None:
    r = np.random.default_rng(10)
    dl, d, du = (r.standard_normal((2, 5)).astype(np.float32) for _ in range(3))
    d = d + 4
    b = r.standard_normal((2, 5, 3)).astype(np.float32)
    got = llax.lax.linalg.tridiagonal_solve(dl, d, du, b)
    np.testing.assert_allclose(N(got), N(jax.lax.linalg.tridiagonal_solve(dl, d, du, b)),
                               atol=1e-5)
    g = llax.grad(lambda x: jnp.sum(llax.lax.linalg.tridiagonal_solve(dl, x, du, b) ** 2))(d)
    w = jax.grad(lambda x: jjnp.sum(jax.lax.linalg.tridiagonal_solve(dl, x, du, b) ** 2))(d)
    np.testing.assert_allclose(N(g), N(w), rtol=1e-4, atol=1e-5)
    a = r.standard_normal((4, 4))
    upper = np.linalg.cholesky(a @ a.T + 4 * np.eye(4)).T.astype(np.float32)
    v = r.standard_normal(4).astype(np.float32)
    np.testing.assert_allclose(N(llax.lax.linalg.cholesky_update(upper, v)),
                               N(jax.lax.linalg.cholesky_update(upper, v)), atol=1e-5)
