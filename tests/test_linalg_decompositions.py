"""``llax.numpy.linalg``'s decompositions (cholesky, qr, eigh, svd) against NumPy's LAPACK
and live JAX.

Random well-conditioned matrices of sizes 1 to 40, as stacks ``(2, 3, n, n)`` (every
decomposition batches over leading axes), float32 and float64 (x64): reconstruction
residuals relative to the input's norm within ``100 eps n``, orthonormality within the
same, eigenvalues and singular values against NumPy's relative to the largest, and
vectors against NumPy's after fixing their signs (their tolerance grows with
``1 / gap`` to the nearest other eigenvalue, as perturbation theory says). Then
jit and vmap, JAX's special cases (NaN Cholesky factors, ``UPLO``, ``hermitian``,
QR modes, empty matrices), derivatives, and JAX's errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jjnp
import numpy as np
import pytest

import llax
import llax.numpy as jnp
from tests.jnp_oracle import x64_mode

SIZES = [1, 2, 3, 5, 16, 40]
DTYPES = [np.float32, np.float64]
BATCH = (2, 3)


@pytest.fixture(params=DTYPES, ids=["f32", "f64"])
def dtype(request: pytest.FixtureRequest) -> Any:
    with x64_mode(request.param == np.float64):
        yield request.param


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def general(shape: tuple[int, ...], dtype: Any, seed: int = 0) -> np.ndarray:
    """Gaussian matrices: condition numbers of a few times ``n``."""
    return rng(seed).standard_normal(shape).astype(dtype)


def symmetric(n: int, dtype: Any, seed: int = 0) -> np.ndarray:
    a = rng(seed).standard_normal((*BATCH, n, n))
    return (a + a.swapaxes(-1, -2)).astype(dtype)


def positive_definite(n: int, dtype: Any, seed: int = 0) -> np.ndarray:
    a = rng(seed).standard_normal((*BATCH, n, n))
    return (a @ a.swapaxes(-1, -2) / n + np.eye(n)).astype(dtype)


def tol(dtype: Any, n: int) -> float:
    return 100 * float(np.finfo(dtype).eps) * max(n, 1)


def relative(got: np.ndarray, want: np.ndarray) -> float:
    """Largest error over the largest entry of each matrix of a stack."""
    scale = np.max(np.abs(want), axis=(-2, -1), keepdims=True)
    return float(np.max(np.abs(got - want) / np.where(scale == 0, 1, scale)))


def orthonormality(q: np.ndarray, columns: bool = True) -> float:
    q = q.astype(np.float64)
    gram = q.swapaxes(-1, -2) @ q if columns else q @ q.swapaxes(-1, -2)
    return float(np.max(np.abs(gram - np.eye(gram.shape[-1]))))


def sign_fixed(v: np.ndarray) -> np.ndarray:
    """Columns signed so that each one's largest-magnitude entry is positive."""
    pick = np.take_along_axis(v, np.argmax(np.abs(v), axis=-2)[..., None, :], axis=-2)
    return v * np.where(pick < 0, -1, 1)


def vector_tolerance(values: np.ndarray, dtype: Any, n: int) -> np.ndarray:
    """Per vector: ``tol * scale / gap``, the first-order error bound for an eigenvector
    (or singular vector) whose value is ``gap`` from the nearest other."""
    values = values.astype(np.float64)
    gaps = np.abs(values[..., :, None] - values[..., None, :])
    gaps = np.where(np.eye(values.shape[-1], dtype=bool), np.inf, gaps)
    scale = np.max(np.abs(values), axis=-1, keepdims=True)
    return tol(dtype, n) * np.maximum(1, scale / np.min(gaps, axis=-1))


def assert_vectors(got: np.ndarray, want: np.ndarray, values: np.ndarray, dtype: Any,
                   n: int) -> None:
    err = np.max(np.abs(sign_fixed(got) - sign_fixed(want)), axis=-2)
    assert np.all(err <= vector_tolerance(values, dtype, n)), float(np.max(err))


# ---------------------------------------------------------------------------------------------
# Accuracy on stacks of random matrices


@pytest.mark.parametrize("n", SIZES)
def test_cholesky(n: int, dtype: Any) -> None:
    a = positive_definite(n, dtype)
    factor = np.asarray(jnp.linalg.cholesky(a))
    assert factor.dtype == dtype and factor.shape == a.shape
    assert np.all(np.triu(factor, 1) == 0)
    assert relative(factor @ factor.swapaxes(-1, -2), a) <= tol(dtype, n)
    assert relative(factor, np.linalg.cholesky(a)) <= tol(dtype, n)
    assert relative(factor, np.asarray(jjnp.linalg.cholesky(a))) <= tol(dtype, n)


@pytest.mark.parametrize("n", SIZES)
def test_qr(n: int, dtype: Any) -> None:
    a = general((*BATCH, n + 2, n), dtype)
    q, r = (np.asarray(x) for x in jnp.linalg.qr(a))
    assert q.shape == (*BATCH, n + 2, n) and r.shape == (*BATCH, n, n) and q.dtype == dtype
    assert np.all(np.tril(r, -1) == 0)
    assert relative(q @ r, a) <= tol(dtype, n)
    assert orthonormality(q) <= tol(dtype, n)
    # Householder with LAPACK's beta = -sign(alpha) ||x||: the same signs as LAPACK.
    want_q, want_r = np.linalg.qr(a)
    assert relative(q, want_q) <= tol(dtype, n) and relative(r, want_r) <= tol(dtype, n)


@pytest.mark.parametrize("n", SIZES)
def test_eigh(n: int, dtype: Any) -> None:
    a = symmetric(n, dtype)
    w, v = (np.asarray(x) for x in jnp.linalg.eigh(a))
    assert w.shape == (*BATCH, n) and v.shape == a.shape and w.dtype == v.dtype == dtype
    assert np.all(np.diff(w, axis=-1) >= 0)
    assert relative((v * w[..., None, :]) @ v.swapaxes(-1, -2), a) <= tol(dtype, n)
    assert orthonormality(v) <= tol(dtype, n)
    want_w, want_v = np.linalg.eigh(a.astype(np.float64))
    scale = np.max(np.abs(want_w), axis=-1, keepdims=True)
    assert np.max(np.abs(w - want_w) / scale) <= tol(dtype, n)
    assert_vectors(v, want_v, want_w, dtype, n)


def check_svd(a: np.ndarray, full: bool, dtype: Any) -> None:
    u, s, vh = (np.asarray(x) for x in jnp.linalg.svd(a, full_matrices=full))
    rows, cols = a.shape[-2:]
    k = min(rows, cols)
    assert u.shape == (*a.shape[:-2], rows, rows if full else k)
    assert vh.shape == (*a.shape[:-2], cols if full else k, cols)
    assert s.shape == (*a.shape[:-2], k) and u.dtype == s.dtype == vh.dtype == dtype
    assert np.all(np.diff(s, axis=-1) <= 0)
    assert relative((u[..., :, :k] * s[..., None, :]) @ vh[..., :k, :], a) <= tol(dtype, k)
    assert orthonormality(u) <= tol(dtype, k)
    assert orthonormality(vh, columns=False) <= tol(dtype, k)
    want_u, want_s, want_vh = np.linalg.svd(a.astype(np.float64), full_matrices=False)
    assert np.max(np.abs(s - want_s) / want_s[..., :1]) <= tol(dtype, k)
    assert_vectors(u[..., :, :k], want_u, want_s, dtype, k)
    assert_vectors(vh[..., :k, :].swapaxes(-1, -2), want_vh.swapaxes(-1, -2), want_s, dtype, k)


@pytest.mark.parametrize("n", SIZES)
def test_svd(n: int, dtype: Any) -> None:
    check_svd(general((*BATCH, n + 3, n), dtype), True, dtype)


def test_svd_wide_reduced_and_values_only(dtype: Any) -> None:
    n = 5
    wide = general((*BATCH, n, n + 3), dtype, seed=1)
    check_svd(wide, True, dtype)
    check_svd(wide, False, dtype)
    tall = general((*BATCH, n + 3, n), dtype, seed=2)
    check_svd(tall, False, dtype)
    want = np.linalg.svd(tall.astype(np.float64), compute_uv=False)
    values = np.asarray(jnp.linalg.svd(tall, compute_uv=False))
    assert np.max(np.abs(values - want) / want[..., :1]) <= tol(dtype, n)


def test_svd_of_rank_deficient_matrices_keeps_u_orthonormal() -> None:
    x = general((2, 7, 3), np.float32, seed=3)
    a = x @ general((2, 3, 5), np.float32, seed=4)  # rank 3 of 5
    u, s, vh = (np.asarray(y) for y in jnp.linalg.svd(a))
    assert orthonormality(u) <= tol(np.float32, 7)
    assert orthonormality(vh, columns=False) <= tol(np.float32, 7)
    assert np.all(s[:, 3:] <= tol(np.float32, 7) * s[:, :1])
    assert relative((u[..., :5] * s[..., None, :]) @ vh, a) <= tol(np.float32, 7)


def test_eigh_of_repeated_eigenvalues() -> None:
    q = np.linalg.qr(general((6, 6), np.float64, seed=5))[0]
    a = ((q * np.array([1.0, 1, 1, 2, 2, 5])) @ q.T).astype(np.float32)
    w, v = (np.asarray(x) for x in jnp.linalg.eigh(a))
    np.testing.assert_allclose(w, [1, 1, 1, 2, 2, 5], atol=tol(np.float32, 6))
    assert orthonormality(v) <= tol(np.float32, 6)
    assert relative((v * w) @ v.T, a) <= tol(np.float32, 6)


# ---------------------------------------------------------------------------------------------
# jit and vmap agree with eager calls

FUNCTIONS: dict[str, tuple[Callable, Callable[[np.ndarray], np.ndarray]]] = {
    "cholesky": (jnp.linalg.cholesky, lambda a: a @ a.swapaxes(-1, -2) + np.eye(a.shape[-1])),
    "qr": (jnp.linalg.qr, lambda a: a),
    "eigh": (jnp.linalg.eigh, lambda a: a + a.swapaxes(-1, -2)),
    "svd": (lambda a: jnp.linalg.svd(a, full_matrices=False), lambda a: a[..., :3, :]),
}


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_jit_and_vmap_agree_with_eager(name: str) -> None:
    fn, prepare = FUNCTIONS[name]
    a = prepare(general((3, 5, 5), np.float32, seed=6)).astype(np.float32)
    eager = [np.asarray(x) for x in jax.tree.leaves(tuple(fn(a)) if isinstance(fn(a), tuple)
                                                     else fn(a))]
    for transformed in (llax.jit(fn), llax.vmap(fn)):
        out = transformed(a)
        got = [np.asarray(x) for x in (out if isinstance(out, tuple) else [out])]
        for g, e in zip(got, eager, strict=True):
            np.testing.assert_allclose(g, e, rtol=0, atol=tol(np.float32, 5))


def test_result_types_are_named_tuples() -> None:
    a = np.eye(3, dtype=np.float32)
    assert jnp.linalg.eigh(a)._fields == ("eigenvalues", "eigenvectors")
    assert jnp.linalg.svd(a)._fields == ("U", "S", "Vh")
    assert jnp.linalg.qr(a)._fields == ("Q", "R")
    assert isinstance(jnp.linalg.qr(a, mode="r"), llax.Array)


# ---------------------------------------------------------------------------------------------
# JAX's special cases


def test_cholesky_of_matrices_that_are_not_positive_definite_is_nan_as_jax() -> None:
    a = np.array([[[1.0, 2.0], [2.0, 1.0]], [[2.0, 0.0], [0.0, 1.0]]], np.float32)
    got, want = np.asarray(jnp.linalg.cholesky(a)), np.asarray(jjnp.linalg.cholesky(a))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got[1], want[1], rtol=1e-5)
    assert np.all(got[0][np.triu_indices(2, 1)] == 0)


@pytest.mark.parametrize("kwargs", [{}, {"upper": True}, {"symmetrize_input": False},
                                    {"upper": True, "symmetrize_input": False}])
def test_cholesky_options_as_jax(kwargs: dict) -> None:
    a = np.array([[4.0, 5.0], [1.0, 2.0]], np.float32)  # only its lower triangle is PD
    a = a if "symmetrize_input" in kwargs else a @ a.T
    np.testing.assert_allclose(np.asarray(jnp.linalg.cholesky(a, **kwargs)),
                               np.asarray(jjnp.linalg.cholesky(a, **kwargs)), rtol=1e-5)


@pytest.mark.parametrize("uplo", [None, "L", "U"])
@pytest.mark.parametrize("symmetrize", [True, False])
def test_eigh_triangle_choice_as_jax(uplo: str | None, symmetrize: bool) -> None:
    a = np.array([[1.0, 5.0, -2.0], [0.5, 2.0, 3.0], [1.0, -1.0, 0.0]], np.float32)
    got = jnp.linalg.eigh(a, UPLO=uplo, symmetrize_input=symmetrize)
    want = jjnp.linalg.eigh(a, UPLO=uplo, symmetrize_input=symmetrize)
    np.testing.assert_allclose(np.asarray(got[0]), np.asarray(want[0]), atol=1e-5)
    np.testing.assert_allclose(sign_fixed(np.asarray(got[1])), sign_fixed(np.asarray(want[1])),
                               atol=1e-5)


def test_hermitian_svd_as_jax() -> None:
    a = symmetric(5, np.float32, seed=7)[0, 0]
    u, s, vh = (np.asarray(x) for x in jnp.linalg.svd(a, hermitian=True))
    ju, js, jvh = (np.asarray(x) for x in jjnp.linalg.svd(a, hermitian=True))
    np.testing.assert_allclose(s, js, rtol=1e-5)
    # JAX's recipe: U the eigenvectors by |w| descending, Vh = (U sign(w))^T.
    np.testing.assert_allclose(sign_fixed(u), sign_fixed(ju), atol=1e-5)
    np.testing.assert_allclose(u * np.sign(np.diag(vh @ u)), vh.T, atol=1e-6)
    np.testing.assert_allclose(np.sign(np.diag(vh @ u)), np.sign(np.diag(jvh @ ju)))
    np.testing.assert_allclose(np.asarray(jnp.linalg.svd(a, hermitian=True, compute_uv=False)),
                               js, rtol=1e-5)


@pytest.mark.parametrize("shape", [(4, 6), (6, 4), (5, 5)])
@pytest.mark.parametrize("mode", ["reduced", "complete", "r", "raw"])
def test_qr_modes_as_jax(shape: tuple[int, int], mode: str) -> None:
    a = general(shape, np.float32, seed=8)
    got, want = jnp.linalg.qr(a, mode=mode), jjnp.linalg.qr(a, mode=mode)
    got_leaves, want_leaves = jax.tree.leaves(got), jax.tree.leaves(want)
    assert type(got).__name__ == type(want).__name__ or mode in ("r", "raw")
    for g, w in zip(got_leaves, want_leaves, strict=True):
        assert g.shape == w.shape
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), atol=2e-6)


@pytest.mark.parametrize("shape", [(0, 0), (0, 3), (3, 0), (2, 0, 0)])
def test_empty_matrices_have_jax_shapes(shape: tuple[int, ...]) -> None:
    a = np.zeros(shape, np.float32)
    cases = [lambda m: m.linalg.qr(a), lambda m: m.linalg.qr(a, mode="complete"),
             lambda m: m.linalg.svd(a), lambda m: m.linalg.svd(a, full_matrices=False)]
    if shape[-1] == shape[-2]:
        cases += [lambda m: m.linalg.cholesky(a), lambda m: m.linalg.eigh(a)]
    for case in cases:
        got, want = jax.tree.leaves(case(jnp)), jax.tree.leaves(case(jjnp))
        assert [g.shape for g in got] == [w.shape for w in want]
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(np.asarray(g), np.asarray(w))


def test_integer_input_promotes_as_jax() -> None:
    a = np.array([[2, 1], [1, 2]], np.int32)
    for name in ("cholesky", "eigh", "svd", "qr"):
        got = jax.tree.leaves(getattr(jnp.linalg, name)(a))
        want = jax.tree.leaves(getattr(jjnp.linalg, name)(a))
        assert [g.dtype for g in got] == [w.dtype for w in want], name


# ---------------------------------------------------------------------------------------------
# Derivatives


def test_grad_of_cholesky_matches_jax() -> None:
    a = positive_definite(6, np.float32, seed=9)[0, 0]
    weights = general((6, 6), np.float32, seed=10)

    def loss(m: Any) -> Callable:
        return lambda x: (m.linalg.cholesky(x) * weights).sum()

    want = np.asarray(jax.grad(loss(jjnp))(a))
    for grad in (llax.grad(loss(jnp)), llax.jit(llax.grad(loss(jnp)))):
        np.testing.assert_allclose(np.asarray(grad(a)), want, atol=1e-5 * np.abs(want).max())
    stack = np.stack([a, a + np.eye(a.shape[-1], dtype=np.float32)])
    want = np.asarray(jax.vmap(jax.grad(loss(jjnp)))(stack))
    np.testing.assert_allclose(np.asarray(llax.vmap(llax.grad(loss(jnp)))(stack)), want,
                               atol=1e-5 * np.abs(want).max())


def test_grad_of_qr_matches_jax() -> None:
    a = general((5, 3), np.float32, seed=11)
    weights = general((5, 3), np.float32, seed=12)

    def loss(m: Any) -> Callable:
        def f(x: Any) -> Any:
            q, r = m.linalg.qr(x)
            return (q * weights).sum() + (r * weights[:3]).sum()
        return f

    want = np.asarray(jax.grad(loss(jjnp))(a))
    np.testing.assert_allclose(np.asarray(llax.grad(loss(jnp))(a)), want,
                               atol=1e-5 * np.abs(want).max())


def test_grad_of_eigh_matches_jax() -> None:
    """eigh has its own derivative rule (its sweeps are a while loop, which reverse mode
    cannot differentiate); the loss is invariant to the eigenvectors' signs."""
    a = symmetric(5, np.float32, seed=13)[0]
    weights = general((3, 5, 5), np.float32, seed=14)

    def loss(m: Any) -> Callable:
        def f(x: Any) -> Any:
            w, v = m.linalg.eigh(x)
            return (w * w).sum() + (v * v[..., :1, :] * weights).sum()
        return f

    want = np.asarray(jax.grad(loss(jjnp))(a))
    for grad in (llax.grad(loss(jnp)), llax.jit(llax.grad(loss(jnp)))):
        np.testing.assert_allclose(np.asarray(grad(a)), want, atol=1e-5 * np.abs(want).max())
    stack = np.stack([a, a + np.eye(a.shape[-1], dtype=np.float32)])
    want = np.asarray(jax.vmap(jax.grad(loss(jjnp)))(stack))
    np.testing.assert_allclose(np.asarray(llax.vmap(llax.grad(loss(jnp)))(stack)), want,
                               atol=1e-5 * np.abs(want).max())


# ---------------------------------------------------------------------------------------------
# Errors

ERRORS = [
    ("cholesky rank 1", lambda m: m.linalg.cholesky(np.ones(3, np.float32))),
    ("cholesky not square", lambda m: m.linalg.cholesky(np.ones((2, 3), np.float32))),
    ("cholesky not square, unsymmetrized",
     lambda m: m.linalg.cholesky(np.ones((2, 3), np.float32), symmetrize_input=False)),
    ("cholesky list", lambda m: m.linalg.cholesky([[1.0, 0.0], [0.0, 1.0]])),
    ("qr rank 1", lambda m: m.linalg.qr(np.ones(3, np.float32))),
    ("qr scalar", lambda m: m.linalg.qr(1.0)),
    ("qr mode", lambda m: m.linalg.qr(np.eye(2, dtype=np.float32), mode="economic")),
    ("eigh rank 1", lambda m: m.linalg.eigh(np.ones(3, np.float32))),
    ("eigh not square", lambda m: m.linalg.eigh(np.ones((2, 3), np.float32))),
    ("eigh not square, unsymmetrized",
     lambda m: m.linalg.eigh(np.ones((2, 3), np.float32), symmetrize_input=False)),
    ("eigh UPLO", lambda m: m.linalg.eigh(np.eye(2, dtype=np.float32), UPLO="X")),
    ("svd rank 0", lambda m: m.linalg.svd(np.float32(1.0))),
    ("svd rank 1", lambda m: m.linalg.svd(np.ones(3, np.float32))),
    ("svd hermitian not square",
     lambda m: m.linalg.svd(np.ones((2, 3), np.float32), hermitian=True)),
    ("float16", lambda m: m.linalg.cholesky(np.eye(2, dtype=np.float16))),
]


@pytest.mark.parametrize("what, call", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_match_jax(what: str, call: Callable) -> None:
    try:
        call(jjnp)
    except Exception as e:  # noqa: BLE001 - the type is what is compared
        want: type[BaseException] = type(e)
    else:
        pytest.fail(f"JAX accepts {what}")
    with pytest.raises(want):
        call(jnp)
