"""General eigendecomposition (``linalg.eig``, ``eigvals``, ``lax.linalg.eig``) and what is
built on it (``jnp.roots``, ``jnp.poly`` of a matrix), against live JAX and the defining
identities ``a v = v diag(w)`` (right) and ``u^H a = diag(w) u^H`` (left).

Eigenvalues come in LAPACK geev's order, which two LAPACK builds need not share, so they
are compared sorted; vectors are compared by their identities and geev's normalisation
(unit 2-norm, largest component real).
"""

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


@pytest.fixture(params=[np.float32, np.float64], ids=["f32", "f64"])
def dtype(request: pytest.FixtureRequest) -> Any:
    with x64_mode(request.param == np.float64):
        yield request.param


def _tol(dtype: Any) -> float:
    return 1e-4 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-10


def _matrices(dtype: Any, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    r = np.random.default_rng(seed)
    x = r.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * r.standard_normal(shape)
    return x.astype(dtype)


def _sorted(w: Any) -> np.ndarray:
    return np.sort_complex(N(w).astype(np.complex128))


def _check_right(a: np.ndarray, w: Any, v: Any, tol: float) -> None:
    w, v = N(w), N(v)
    scale = max(1.0, np.abs(a).max())
    assert np.abs(a @ v - v * w[..., None, :]).max() <= tol * scale * a.shape[-1]
    assert np.allclose(np.linalg.norm(v, axis=-2), 1, atol=tol)
    lead = np.take_along_axis(v, np.argmax(np.abs(v), axis=-2)[..., None, :], axis=-2)
    assert np.abs(lead.imag).max() <= tol


@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (5, 5), (2, 3, 6, 6)])
@pytest.mark.parametrize("cplx", [False, True], ids=["real", "complex"])
def test_eig_identities_and_jax(dtype: Any, shape: tuple[int, ...], cplx: bool) -> None:
    dt = np.dtype(dtype) if not cplx else np.result_type(dtype, np.complex64)
    a = _matrices(dt, shape)
    w, v = jnp.linalg.eig(a)
    jw = jjnp.linalg.eig(a)[0]
    assert w.dtype == jw.dtype and v.dtype == jw.dtype and v.shape == a.shape
    _check_right(a, w, v, _tol(dt))
    for got, want in zip(_sorted(w).reshape(-1, shape[-1]), _sorted(jw).reshape(-1, shape[-1])):
        np.testing.assert_allclose(got, want, rtol=_tol(dt), atol=_tol(dt) * 10)
    np.testing.assert_allclose(_sorted(jnp.linalg.eigvals(a)), _sorted(w), rtol=_tol(dt))
    np.testing.assert_allclose(_sorted(llax.jit(jnp.linalg.eigvals)(a)), _sorted(w),
                               rtol=_tol(dt))


def test_lax_eig_left_and_right_vectors(dtype: Any) -> None:
    a = _matrices(dtype, (3, 5, 5), seed=1)
    w, vl, vr = llax.lax.linalg.eig(a)
    _check_right(a, w, vr, _tol(dtype))
    # Left eigenvectors: u^H a = w u^H, i.e. a^H u = conj(w) u.
    ah = np.conj(np.swapaxes(a, -1, -2))
    _check_right(ah, np.conj(N(w)), vl, _tol(dtype))
    only_w = llax.lax.linalg.eig(a, compute_left_eigenvectors=False,
                                 compute_right_eigenvectors=False)
    assert len(only_w) == 1
    assert len(llax.lax.linalg.eig(a, compute_left_eigenvectors=False)) == 2


def test_eig_empty_and_vmap() -> None:
    w, v = jnp.linalg.eig(np.zeros((2, 0, 0), np.float32))
    jw, jv = jjnp.linalg.eig(np.zeros((2, 0, 0), np.float32))
    assert (w.shape, v.shape, w.dtype) == (jw.shape, jv.shape, jw.dtype)
    a = _matrices(np.float32, (4, 3, 3), seed=2)
    np.testing.assert_allclose(N(llax.vmap(jnp.linalg.eigvals)(a)),
                               np.stack([N(jnp.linalg.eigvals(x)) for x in a]), rtol=1e-6)


def test_eig_errors_match_jax() -> None:
    for bad in (np.zeros((3, 4), np.float32), np.zeros(3, np.float32)):
        with pytest.raises((ValueError, TypeError)):
            jjnp.linalg.eig(bad)
        with pytest.raises((ValueError, TypeError)):
            jnp.linalg.eig(bad)


def _real_loss(eigvals: Any, np_: Any) -> Any:
    def loss(a: Any) -> Any:
        w = eigvals(a)
        return np_.sum(np_.real(w) ** 2 + 3 * np_.imag(w) * np_.real(w))

    return loss


@pytest.mark.parametrize("jit", [False, True])
def test_eigvals_grad_matches_jax(jit: bool) -> None:
    a = _matrices(np.float32, (2, 4, 4), seed=3)
    g = llax.grad(_real_loss(jnp.linalg.eigvals, jnp))
    if jit:
        g = llax.jit(g)
    want = jax.grad(_real_loss(jjnp.linalg.eigvals, jjnp))(a)
    np.testing.assert_allclose(N(g(a)), N(want), rtol=1e-3, atol=1e-4)


def test_eigenvector_grads_need_opt_in_as_jax() -> None:
    a = _matrices(np.float32, (4, 4), seed=4)
    with pytest.raises(NotImplementedError, match="enable_eigvec_derivs"):
        llax.grad(lambda x: jnp.sum(jnp.real(jnp.linalg.eig(x)[1])))(a)

    def loss(lax_linalg: Any, np_: Any, left: bool) -> Any:
        def f(x: Any) -> Any:
            outs = lax_linalg.eig(x, compute_left_eigenvectors=left, enable_eigvec_derivs=True)
            weights = np_.arange(4.0)
            return sum(np_.sum(np_.real(v * np_.conj(v)) * weights + np_.real(v ** 2))
                       for v in outs[1:])

        return f

    for left in (True,):  # the left vectors' rule runs the right vectors' too
        got = llax.grad(loss(llax.lax.linalg, jnp, left))(a)
        want = jax.grad(loss(jax.lax.linalg, jjnp, left))(a)
        np.testing.assert_allclose(N(got), N(want), rtol=2e-3, atol=2e-4)


@pytest.mark.parametrize("p", [[0, 0, 1, -3, 2], [1, 2, 3], [0, 0, 0], [5], [1, 0, 0, 1],
                               [2, 0, 0], [1, -6, 11, -6]])
@pytest.mark.parametrize("strip", [True, False])
def test_roots_match_jax(p: list, strip: bool) -> None:
    p = np.asarray(p, np.float32)
    got, want = jnp.roots(p, strip_zeros=strip), jjnp.roots(p, strip_zeros=strip)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(_sorted(got), _sorted(want), rtol=1e-4, atol=1e-5)


def test_roots_under_jit() -> None:
    p = np.asarray([0, 1, -3, 2], np.float32)
    got = llax.jit(lambda q: jnp.roots(q, strip_zeros=False))(p)
    np.testing.assert_allclose(_sorted(got), _sorted(jjnp.roots(p, strip_zeros=False)))
    with pytest.raises(Exception, match="strip_zeros=False"):
        llax.jit(jnp.roots)(p)


def test_poly_of_a_matrix_matches_jax() -> None:
    x = np.asarray([[2, 1, 5], [3, 4, 7], [1, 3, 5]], np.float32)
    got, want = jnp.poly(x), jjnp.poly(x)
    assert got.dtype == want.dtype
    np.testing.assert_allclose(N(got), N(want), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(N(jnp.poly(np.float32([1, 2]))), [1, -3, 2])
