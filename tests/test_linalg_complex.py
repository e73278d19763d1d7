"""Complex matrices through ``llax.numpy.linalg`` (solve, inv, det, slogdet, cholesky, eigh,
svd, pinv, lstsq, norm): values against live JAX and the defining identities, batched,
eager and under jit (which interprets complex code today); gradients of real-valued
losses against JAX's (its conventions: conjugate transposes, real eigenvalues and
singular values)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jjnp
import numpy as np
import pytest

import llax
import llax.numpy as jnp
from tests.jnp_oracle import x64_mode

N = np.asarray


@pytest.fixture(params=[np.complex64, np.complex128], ids=["c64", "c128"])
def dtype(request: pytest.FixtureRequest) -> Any:
    with x64_mode(request.param == np.complex128):
        yield request.param


def _tol(dtype: Any) -> float:
    return 2e-4 if np.dtype(dtype) == np.complex64 else 1e-10


def _c(dtype: Any, *shape: int, seed: int = 0) -> np.ndarray:
    r = np.random.default_rng(seed)
    return (r.standard_normal(shape) + 1j * r.standard_normal(shape)).astype(dtype)


def _hermitian_pd(dtype: Any, *shape: int) -> np.ndarray:
    a = _c(dtype, *shape, seed=7)
    return (a @ np.conj(np.swapaxes(a, -1, -2)) + shape[-1] * np.eye(shape[-1])).astype(dtype)


def _close(got: Any, want: Any, dtype: Any) -> None:
    got, want = N(got), N(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    scale = max(1.0, float(np.abs(want).max(initial=0)))
    np.testing.assert_allclose(got, want, atol=_tol(dtype) * scale, rtol=_tol(dtype))


def test_solve_inv_det_slogdet(dtype: Any) -> None:
    a, b = _c(dtype, 2, 4, 4), _c(dtype, 2, 4, 3, seed=1)
    _close(jnp.linalg.solve(a, b), jjnp.linalg.solve(a, b), dtype)
    _close(llax.jit(jnp.linalg.solve)(a, b), jjnp.linalg.solve(a, b), dtype)
    inv = jnp.linalg.inv(a)
    np.testing.assert_allclose(N(inv) @ a, np.broadcast_to(np.eye(4), a.shape),
                               atol=10 * _tol(dtype))
    for n in (2, 3, 4):
        sub = a[:, :n, :n]
        _close(jnp.linalg.det(sub), jjnp.linalg.det(sub), dtype)
        for got, want in zip(jnp.linalg.slogdet(sub), jjnp.linalg.slogdet(sub)):
            _close(got, want, dtype)


def test_cholesky_eigh_svd_identities(dtype: Any) -> None:
    h = _hermitian_pd(dtype, 2, 5, 5)
    for upper in (False, True):
        _close(jnp.linalg.cholesky(h, upper=upper), jjnp.linalg.cholesky(h, upper=upper), dtype)
    w, v = jnp.linalg.eigh(h)
    jw = jjnp.linalg.eigh(h)[0]
    _close(w, jw, dtype)
    np.testing.assert_allclose(h @ N(v), N(v) * N(w)[..., None, :], atol=50 * _tol(dtype))
    _close(jnp.linalg.eigvalsh(h, UPLO="U"), jjnp.linalg.eigvalsh(h, UPLO="U"), dtype)
    for shape in [(2, 4, 4), (5, 3), (3, 5)]:
        a = _c(dtype, *shape, seed=2)
        u, s, vh = jnp.linalg.svd(a, full_matrices=False)
        _close(s, jjnp.linalg.svd(a, compute_uv=False), dtype)
        np.testing.assert_allclose((N(u) * N(s)[..., None, :]) @ N(vh), a, atol=10 * _tol(dtype))
        _close(llax.jit(lambda x: jnp.linalg.svd(x, compute_uv=False))(a),
               jjnp.linalg.svd(a, compute_uv=False), dtype)
        for ord_ in (None, "fro", "nuc", 2, -2, 1, -1, np.inf):
            _close(jnp.linalg.norm(a, ord=ord_, axis=(-2, -1)),
                   jjnp.linalg.norm(a, ord=ord_, axis=(-2, -1)), dtype)
    _close(jnp.linalg.svd(h, hermitian=True)[1], jjnp.linalg.svd(h, hermitian=True)[1], dtype)


def test_pinv_lstsq(dtype: Any) -> None:
    for shape in [(5, 3), (3, 5)]:
        a = _c(dtype, *shape, seed=3)
        _close(jnp.linalg.pinv(a), jjnp.linalg.pinv(a), dtype)
        b = _c(dtype, shape[0], 2, seed=4)
        for got, want in zip(jnp.linalg.lstsq(a, b), jjnp.linalg.lstsq(a, b)):
            _close(got, want, dtype)


def test_vmap_matches_loop() -> None:
    a = _c(np.complex64, 3, 4, 4)
    for f in (jnp.linalg.inv, jnp.linalg.det, lambda x: jnp.linalg.svd(x, compute_uv=False)):
        np.testing.assert_allclose(N(llax.vmap(f)(a)), np.stack([N(f(x)) for x in a]),
                                   rtol=1e-5, atol=1e-6)


LOSSES = {
    "solve": lambda np_, a: np_.sum(np_.abs(np_.linalg.solve(a, a[..., :2] + 1)) ** 2),
    "inv": lambda np_, a: np_.sum(np_.real(np_.linalg.inv(a)) * 2 + np_.imag(np_.linalg.inv(a))),
    "det": lambda np_, a: np_.sum(np_.abs(np_.linalg.det(a))),
    "slogdet": lambda np_, a: np_.sum(np_.linalg.slogdet(a)[1]
                                      + np_.imag(np_.linalg.slogdet(a)[0])),
    "cholesky": lambda np_, a: np_.sum(np_.abs(np_.linalg.cholesky(a @ np_.conj(a.mT) + 4
                                                                    * np_.eye(4))) ** 2),
    "eigh": lambda np_, a: np_.sum(np_.linalg.eigh(a)[0] ** 3)
    + np_.sum(np_.abs(np_.linalg.eigh(a)[1]) ** 2 * np_.arange(4.0)),
    "svd": lambda np_, a: np_.sum(np_.linalg.svd(a, full_matrices=False)[1] ** 2)
    + np_.sum(np_.abs(np_.linalg.svd(a, full_matrices=False)[0]) ** 2 * np_.arange(4.0)),
    "norm2": lambda np_, a: np_.sum(np_.linalg.norm(a, ord=2, axis=(-2, -1))),
    "pinv": lambda np_, a: np_.sum(np_.abs(np_.linalg.pinv(a)) ** 2),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_grads_match_jax(name: str) -> None:
    a = _c(np.complex64, 2, 4, 4, seed=5)
    loss = LOSSES[name]
    got = llax.grad(lambda x: loss(jnp, x))(a)
    want = jax.grad(lambda x: loss(jjnp, x))(a)
    assert got.dtype == want.dtype
    scale = max(1.0, float(np.abs(N(want)).max()))
    np.testing.assert_allclose(N(got), N(want), atol=1e-3 * scale)


def test_scipy_linalg_complex(dtype: Any) -> None:
    import jax.scipy.linalg as jsl

    import llax.scipy.linalg as lsl

    a, b = _c(dtype, 4, 4), _c(dtype, 4, 2, seed=1)
    h = _hermitian_pd(dtype, 4, 4)
    for lower in (False, True):
        _close(lsl.cho_solve(lsl.cho_factor(h, lower=lower), b),
               jsl.cho_solve(jsl.cho_factor(h, lower=lower), b), dtype)
    for trans in (0, 1, 2):
        _close(lsl.lu_solve(lsl.lu_factor(a), b, trans=trans),
               jsl.lu_solve(jsl.lu_factor(a), b, trans=trans), dtype)
        _close(lsl.solve_triangular(np.triu(a), b, trans=trans),
               jsl.solve_triangular(np.triu(a), b, trans=trans), dtype)
    for got, want in zip(lsl.lu(a), jsl.lu(a)):
        _close(got, want, dtype)
    for scale in (0.3, 3.0):
        _close(lsl.expm(a * scale), jsl.expm(a * scale), dtype)
