"""The LAPACK-backed linear algebra: the ``lu`` and ``triangular_solve`` primitives (NumPy
reference vs compiled LAPACK, their defining identities, JVP/transpose/batching rules) and
``jnp.linalg.solve``, ``inv``, ``det``, ``slogdet`` vs NumPy and JAX."""

import itertools

import jax
import jax.numpy as jjnp
import numpy as np
import pytest

import llax
import llax.numpy as jnp
from llax.frontend import lax_linalg as LL
from llax.frontend.core import bind
from llax.ir import prims as P
from llax.ir.reference import reference

rng = np.random.default_rng(0)


def _well_conditioned(shape, dtype=np.float32):
    n = shape[-1]
    return (rng.standard_normal(shape) + 2 * n ** 0.5 * np.eye(n)).astype(dtype)


def _lu(x):
    return bind(P.lu, (x,), {})


@pytest.mark.parametrize("shape", [(5, 5), (3, 4, 4), (6, 4), (4, 6), (2, 3, 1, 1), (0, 3, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lu_identity_and_reference(shape, dtype):
    a = rng.standard_normal(shape).astype(dtype)
    with _x64(dtype == np.float64):
        lu, piv, perm = (np.asarray(o) for o in llax.jit(_lu)(a))
    ref = reference[P.lu](a)
    assert lu.dtype == dtype and piv.dtype == np.int32 and perm.dtype == np.int32
    np.testing.assert_array_equal(piv, ref[1])
    np.testing.assert_array_equal(perm, ref[2])
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(lu, ref[0], rtol=tol * 10, atol=tol * 10)
    *_, m, n = shape
    k = min(m, n)
    lower = np.tril(lu[..., :, :k], -1) + np.eye(m, k, dtype=dtype)
    upper = np.triu(lu[..., :k, :])
    permuted = np.take_along_axis(a, perm[..., None], axis=-2)
    np.testing.assert_allclose(lower @ upper, permuted, atol=tol * 10)


class _x64:
    def __init__(self, on):
        self.on = on

    def __enter__(self):
        self.old = llax.config.jax_enable_x64
        llax.config.update("jax_enable_x64", self.on)

    def __exit__(self, *exc):
        llax.config.update("jax_enable_x64", self.old)


def test_lu_matches_jax():
    a = rng.standard_normal((3, 5, 5)).astype(np.float32)
    ours = llax.jit(_lu)(a)
    theirs = jax.lax.linalg.lu(a)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(np.asarray(o), np.asarray(t), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("left_side,lower,transpose_a,unit_diagonal",
                         # every side, triangle and transpose; the unit diagonal with both
                         # triangles and both sides
                         [(ls, lo, tr, ls != lo) for ls, lo, tr in
                          itertools.product([True, False], repeat=3)])
def test_triangular_solve_vs_jax(left_side, lower, transpose_a, unit_diagonal):
    a = _well_conditioned((2, 4, 4))
    b = rng.standard_normal((2, 4, 3) if left_side else (2, 3, 4)).astype(np.float32)
    params = dict(left_side=left_side, lower=lower, transpose_a=transpose_a,
                  unit_diagonal=unit_diagonal)
    expect = jax.lax.linalg.triangular_solve(a, b, **params)
    ref = reference[P.triangular_solve](a, b, conjugate_a=False, **params)
    got = llax.jit(lambda a, b: bind(P.triangular_solve, (a, b),
                                     dict(params, conjugate_a=False)))(a, b)
    np.testing.assert_allclose(ref, expect, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(got), expect, rtol=1e-4, atol=1e-5)
    # grad with respect to both operands, eagerly and under jit, vs JAX.
    w = rng.standard_normal(b.shape).astype(np.float32)

    def loss(mod):
        solve = LL.triangular_solve if mod is llax else mod.lax.linalg.triangular_solve
        return lambda a, b: (solve(a, b, **params) * w).sum()

    ga = jax.grad(loss(jax), (0, 1))(a, b)
    gl = llax.jit(llax.grad(loss(llax), (0, 1)))(a, b)
    for x, y in zip(gl, ga):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=2e-3, atol=2e-4)


def test_triangular_solve_vmap_vs_loop():
    a = _well_conditioned((3, 4, 4))
    b = rng.standard_normal((3, 4, 2)).astype(np.float32)
    f = LL.triangular_solve
    got = llax.vmap(lambda a, b: f(a, b, left_side=True, lower=True))(a, b)
    loop = np.stack([np.asarray(f(a[i], b[i], left_side=True, lower=True)) for i in range(3)])
    np.testing.assert_allclose(np.asarray(got), loop, rtol=1e-5, atol=1e-6)
    # one operand unbatched
    got = llax.jit(llax.vmap(lambda b: f(a[0], b, left_side=True, lower=False)))(b)
    loop = np.stack([np.asarray(f(a[0], b[i], left_side=True, lower=False)) for i in range(3)])
    np.testing.assert_allclose(np.asarray(got), loop, rtol=1e-5, atol=1e-6)


def test_lu_jvp_vs_jax_and_finite_differences():
    a = rng.standard_normal((4, 4)).astype(np.float64)
    da = rng.standard_normal((4, 4)).astype(np.float64)
    with _x64(True):
        (lu, _, _), (dlu, _, _) = llax.jvp(LL.lu, (a,), (da,))
        eps = 1e-6
        plus = np.asarray(LL.lu(a + eps * da)[0])
        minus = np.asarray(LL.lu(a - eps * da)[0])
    np.testing.assert_allclose(np.asarray(dlu), (plus - minus) / (2 * eps), rtol=1e-5,
                               atol=1e-6)
    _, (jdlu, _, _) = jax.jvp(jax.lax.linalg.lu, (a.astype(np.float32),),
                              (da.astype(np.float32),))
    np.testing.assert_allclose(np.asarray(dlu), np.asarray(jdlu), rtol=1e-3, atol=1e-4)


def test_lu_rectangular_jvp_vs_jax():
    for shape in [(5, 3), (3, 5)]:
        a = rng.standard_normal(shape).astype(np.float32)
        da = rng.standard_normal(shape).astype(np.float32)
        _, (dlu, _, _) = llax.jit(lambda a, da: llax.jvp(LL.lu, (a,), (da,)))(a, da)
        _, (jdlu, _, _) = jax.jvp(jax.lax.linalg.lu, (a,), (da,))
        np.testing.assert_allclose(np.asarray(dlu), np.asarray(jdlu), rtol=1e-4, atol=1e-4)


def test_lu_vmap_vs_loop():
    a = rng.standard_normal((3, 2, 4, 4)).astype(np.float32)
    got = llax.vmap(LL.lu, in_axes=1)(a)
    for i in range(2):
        each = LL.lu(a[:, i])
        for g, e in zip(got, each):
            np.testing.assert_array_equal(np.asarray(g)[i], np.asarray(e))


# --- jnp.linalg -----------------------------------------------------------------------------

@pytest.mark.parametrize("a_shape,b_shape", [((4, 4), (4,)), ((4, 4), (4, 3)),
                                             ((2, 4, 4), (4, 3)), ((4, 4), (3, 4, 2)),
                                             ((2, 3, 3), (2, 3, 1)), ((0, 3, 3), (3,))])
def test_solve_vs_jax(a_shape, b_shape):
    a = _well_conditioned(a_shape)
    b = rng.standard_normal(b_shape).astype(np.float32)
    expect = jjnp.linalg.solve(a, b)
    for run in (lambda f: f, llax.jit):
        got = run(jnp.linalg.solve)(a, b)
        assert got.shape == expect.shape and got.dtype == expect.dtype
        np.testing.assert_allclose(np.asarray(got), np.asarray(expect), rtol=1e-4, atol=1e-5)


def test_solve_dtypes_and_errors():
    a = np.eye(3, dtype=np.int32) * 2
    b = np.arange(3, dtype=np.int32)
    got = jnp.linalg.solve(a, b)
    assert got.dtype == jjnp.linalg.solve(a, b).dtype
    np.testing.assert_allclose(np.asarray(got), [0, 0.5, 1])
    with pytest.raises(ValueError):
        jnp.linalg.solve(np.ones(3), np.ones(3))
    with pytest.raises(ValueError):
        jnp.linalg.solve(np.ones((2, 3, 3)), np.ones((4, 3)))


def test_solve_grad_and_vmap_vs_jax():
    a = _well_conditioned((4, 4))
    b = rng.standard_normal((4, 2)).astype(np.float32)

    def loss(mod):
        return lambda a, b: (mod.numpy.linalg.solve(a, b) ** 2).sum()

    expect = jax.grad(loss(jax), (0, 1))(a, b)
    got = llax.jit(llax.grad(loss(llax), (0, 1)))(a, b)
    for g, e in zip(got, expect):
        np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=1e-3, atol=1e-4)
    stack = _well_conditioned((5, 4, 4))
    got = llax.vmap(jnp.linalg.solve, (0, None))(stack, b)
    loop = np.stack([np.linalg.solve(s, b) for s in stack])
    np.testing.assert_allclose(np.asarray(got), loop, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape", [(4, 4), (3, 5, 5), (1, 1), (0, 2, 2)])
def test_inv_identity_and_vs_numpy(shape):
    a = _well_conditioned(shape)
    for run in (lambda f: f, llax.jit):
        got = np.asarray(run(jnp.linalg.inv)(a))
        np.testing.assert_allclose(a @ got, np.broadcast_to(np.eye(shape[-1]), shape),
                                   atol=1e-5)
        np.testing.assert_allclose(got, np.linalg.inv(a), rtol=1e-4, atol=1e-5)


def test_inv_grad_vs_jax():
    a = _well_conditioned((3, 3))
    got = llax.grad(lambda a: jnp.linalg.inv(a)[0].sum())(a)
    expect = jax.grad(lambda a: jjnp.linalg.inv(a)[0].sum())(a)
    np.testing.assert_allclose(np.asarray(got), np.asarray(expect), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape", [(4, 4), (2, 5, 5), (2, 2), (3, 3), (1, 1)])
def test_det_slogdet_vs_numpy_and_jax(shape):
    a = rng.standard_normal(shape).astype(np.float32)
    for run in (lambda f: f, llax.jit):
        np.testing.assert_allclose(np.asarray(run(jnp.linalg.det)(a)), np.linalg.det(a),
                                   rtol=1e-4, atol=1e-5)
        sign, logdet = run(jnp.linalg.slogdet)(a)
        esign, elogdet = np.linalg.slogdet(a)
        np.testing.assert_array_equal(np.asarray(sign), esign)
        np.testing.assert_allclose(np.asarray(logdet), elogdet, rtol=1e-4, atol=1e-5)
    gd = llax.grad(lambda a: jnp.linalg.det(a).sum())(a)
    np.testing.assert_allclose(np.asarray(gd),
                               np.asarray(jax.grad(lambda a: jjnp.linalg.det(a).sum())(a)),
                               rtol=1e-3, atol=1e-4)
    gl = llax.jit(llax.grad(lambda a: jnp.linalg.slogdet(a)[1].sum()))(a)
    np.testing.assert_allclose(np.asarray(gl), np.linalg.inv(a).swapaxes(-1, -2), rtol=1e-3,
                               atol=1e-4)


def test_slogdet_singular_and_result_type():
    a = np.array([[1.0, 2.0], [2.0, 4.0]], np.float32)
    a3 = np.zeros((3, 3), np.float32)
    for x in (a, a3):
        sign, logdet = jnp.linalg.slogdet(x)
        assert float(sign) == 0 and float(logdet) == -np.inf
    res = jnp.linalg.slogdet(np.eye(3))
    assert type(res).__name__ == "SlogdetResult" and res.sign.dtype == np.float32
    with pytest.raises(ValueError):
        jnp.linalg.det(np.ones((2, 3)))


def test_det_vmap_vs_loop():
    a = rng.standard_normal((4, 3, 3)).astype(np.float32)
    got = llax.vmap(jnp.linalg.det)(a)
    np.testing.assert_allclose(np.asarray(got), np.linalg.det(a), rtol=1e-4, atol=1e-5)


def test_nan_input_gives_nan_like_jax():
    # LAPACKE refuses NaN input (info < 0): results are NaN, as JAX's, never stale values.
    a = np.eye(3, dtype=np.float32)
    a[0, 1] = a[1, 0] = np.nan
    for name in ("det", "inv", "eigvalsh", "svdvals", "cholesky"):
        got = np.asarray(llax.jit(getattr(jnp.linalg, name))(a))
        assert np.isnan(got).any(), name
        assert np.isnan(got).any() == np.isnan(np.asarray(getattr(jjnp.linalg, name)(a))).any()


# --- every linear-algebra primitive: vmap vs a loop, JVP vs finite differences, grad vs JAX
# (the registry walks of test_vmap_rules, test_rule_positions and test_autodiff_prims point
# here) --------------------------------------------------------------------------------------

def _primitive_case(name):
    """(llax function, jax function, operands) exercising primitive ``name``."""
    a = _well_conditioned((4, 4)).astype(np.float64)
    sym = a @ a.T
    b = rng.standard_normal((4, 2))
    ts = dict(left_side=True, lower=True, transpose_a=False, unit_diagonal=False)
    return {
        "lu": (lambda x: LL.lu(x)[0], lambda x: jax.lax.linalg.lu(x)[0], (a,)),
        "triangular_solve": (lambda x, y: LL.triangular_solve(x, y, **ts),
                             lambda x, y: jax.lax.linalg.triangular_solve(x, y, **ts), (a, b)),
        "cholesky": (jnp.linalg.cholesky, jjnp.linalg.cholesky, (sym,)),
        "eigh": (lambda x: jnp.linalg.eigh(x)[0], lambda x: jjnp.linalg.eigh(x)[0], (sym,)),
        "svd": (lambda x: jnp.linalg.svd(x, compute_uv=False),
                lambda x: jjnp.linalg.svd(x, compute_uv=False), (a,)),
    }[name]


def check_linalg_primitive(name):
    fn, jfn, args = _primitive_case(name)
    with _x64(True):
        # vmap (batch axis 1 on the first operand) vs a loop
        stacked = [np.stack([x, 1.1 * x], axis=1 if k == 0 else 0) for k, x in enumerate(args)]
        got = np.asarray(llax.vmap(fn, in_axes=(1,) + (0,) * (len(args) - 1))(*stacked))
        loop = np.stack([np.asarray(fn(stacked[0][:, i], *[s[i] for s in stacked[1:]]))
                         for i in range(2)])
        np.testing.assert_allclose(got, loop, rtol=1e-10, atol=1e-10)
        # JVP vs central differences, along a symmetric direction
        ts = [rng.standard_normal(x.shape) for x in args]
        ts = [(t + t.T) / 2 if t.shape[-1] == t.shape[-2] else t for t in ts]
        _, tangent = llax.jvp(fn, args, tuple(ts))
        eps = 1e-6
        plus = np.asarray(fn(*[x + eps * t for x, t in zip(args, ts)]))
        minus = np.asarray(fn(*[x - eps * t for x, t in zip(args, ts)]))
        np.testing.assert_allclose(np.asarray(tangent), (plus - minus) / (2 * eps), rtol=1e-5,
                                   atol=1e-6)
    # grad of a weighted sum (jitted) vs JAX's, in float32
    args32 = [x.astype(np.float32) for x in args]
    w = rng.standard_normal(np.shape(jfn(*args32))).astype(np.float32)
    got = llax.jit(llax.grad(lambda *x: (fn(*x) * w).sum(), tuple(range(len(args)))))(*args32)
    expect = jax.grad(lambda *x: (jfn(*x) * w).sum(), tuple(range(len(args))))(*args32)
    for g, e in zip(got, expect):
        np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("name", ["lu", "triangular_solve", "cholesky", "eigh", "svd"])
def test_linalg_primitive_rules(name):
    check_linalg_primitive(name)
