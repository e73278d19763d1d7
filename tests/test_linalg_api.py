"""``llax.numpy.linalg``'s public names vs ``jax.numpy.linalg``: every name present, each
function's results (values, shapes, dtypes) vs JAX and NumPy eagerly and under jit, the
decompositions' identities (eigh, cholesky, svd from LAPACK), gradients vs JAX, vmap vs a
loop, float64 under x64."""

import jax
import jax.numpy as jjnp
import numpy as np
import pytest

import llax
import llax.numpy as jnp

rng = np.random.default_rng(7)
A = rng.standard_normal((4, 4)).astype(np.float32)
R = rng.standard_normal((5, 3)).astype(np.float32)
B = rng.standard_normal(5).astype(np.float32)
S = (A @ A.T + np.eye(4, dtype=np.float32)).astype(np.float32)

# Complex eigenvalues need complex dtypes, which llax does not have yet.
NOT_YET = {"eig", "eigvals"}


def test_every_public_name_is_there():
    names = {n for n in dir(jjnp.linalg) if not n.startswith("_")}
    missing = sorted(n for n in names - NOT_YET if not hasattr(jnp.linalg, n))
    assert not missing, missing


def _leaves(x):
    return [np.asarray(v) for v in jax.tree.leaves(tuple(x) if isinstance(x, tuple) else x)]


CASES = [
    ("eigvalsh", (S,), {}), ("svdvals", (R,), {}),
    *[("matrix_power", (A,), {"n": n}) for n in (0, 3, 5, -3)],
    ("multi_dot", ([R.T, R, A[:3, :3], B[:3]],), {}),
    ("multi_dot", ([B, R, R.T],), {}),
    ("matrix_rank", (R,), {}), ("matrix_rank", (np.ones((3, 3), np.float32),), {}),
    ("matrix_rank", (np.ones((2, 3, 3), np.float32),), {"rtol": 0.5}),
    ("matrix_rank", (np.arange(3.0),), {}),
    ("pinv", (R,), {}), ("pinv", (R.T,), {}), ("pinv", (S,), {"hermitian": True}),
    ("lstsq", (R, B), {}), ("lstsq", (R, R[:, :2]), {}), ("lstsq", (R.T, B[:3]), {}),
    *[("cond", (A,), {"p": p}) for p in (None, -2, 1, -np.inf, "nuc")],
    *[("norm", (A,), {"ord": o}) for o in (None, "fro", "nuc", 1, -1, 2, -2, np.inf,
                                            -np.inf)],
    ("norm", (R[None],), {"ord": 2, "axis": (2, 1), "keepdims": True}),
    *[("vector_norm", (R,), {"ord": o}) for o in (0, -np.inf, 3)],
    ("vector_norm", (R,), {"axis": 0, "keepdims": True}),
    ("matrix_norm", (R,), {"ord": "nuc"}), ("matrix_norm", (R[None],), {"keepdims": True}),
    ("tensorinv", (rng.standard_normal((4, 6, 8, 3)).astype(np.float32),), {"ind": 2}),
    ("tensorsolve", (rng.standard_normal((6, 2, 3)).astype(np.float32),
                     rng.standard_normal(6).astype(np.float32)), {}),
    ("matrix_transpose", (R,), {}), ("outer", (B, B[:2]), {}),
    ("cross", (R[:, :3], R[::-1, :3]), {}), ("diagonal", (R,), {"offset": 1}),
    ("trace", (R,), {}), ("matmul", (R.T, R), {}), ("tensordot", (R, R), {"axes": 2}),
    ("vecdot", (R, R), {}),
    ("solve", (A, B[:4]), {}), ("inv", (A,), {}), ("det", (A,), {}), ("slogdet", (A,), {}),
    ("cholesky", (S,), {}), ("cholesky", (S,), {"upper": True}),
    ("det", (np.arange(9).reshape(3, 3),), {}), ("inv", (np.eye(3, dtype=np.int32),), {}),
]


REPEATED = {"matrix_power", "cond", "norm", "vector_norm"}
FIRST = {n: next(k for c, _, k in CASES if c == n) for n in REPEATED}


@pytest.mark.parametrize("name,args,kwargs", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_vs_jax_eager_and_jit(name, args, kwargs):
    expect = _leaves(getattr(jjnp.linalg, name)(*args, **kwargs))
    fn = getattr(jnp.linalg, name)
    # The ord/exponent families share their code paths: eagerly only their first variant.
    runs = (llax.jit,) if name in REPEATED and kwargs is not FIRST[name] else (
        lambda f: f, llax.jit)
    for run in runs:
        got = _leaves(run(lambda *a: fn(*a, **kwargs))(*args))
        assert len(got) == len(expect)
        for g, e in zip(got, expect):
            assert g.shape == e.shape and g.dtype == e.dtype, (g.shape, e.shape, g.dtype, e.dtype)
            np.testing.assert_allclose(g, e, rtol=2e-4, atol=2e-4)


@pytest.mark.parametrize("name,args", [
    ("matrix_power", (A, 2.5)), ("matrix_power", (R, 2)), ("outer", (R, B)),
    ("cross", (R[:, :2], R[:, :2])), ("tensorinv", (R, 1)), ("cond", (np.ones(3),)),
    ("matrix_transpose", (B,)), ("lstsq", (R, B[:3])), ("multi_dot", ([R],)),
])
def test_errors_like_jax(name, args):
    with pytest.raises(Exception) as theirs:
        getattr(jjnp.linalg, name)(*args)
    with pytest.raises(type(theirs.value)):
        getattr(jnp.linalg, name)(*args)


def test_eigh_identities_and_vmap():
    stack = np.stack([S, S * 2, S + np.eye(4, dtype=np.float32)])
    for run in (lambda f: f, llax.jit, llax.vmap):
        w, v = (np.asarray(x) for x in run(jnp.linalg.eigh)(stack))
        np.testing.assert_allclose((v * w[:, None, :]) @ v.swapaxes(-1, -2), stack, atol=2e-4)
        np.testing.assert_allclose(w, np.linalg.eigvalsh(stack), rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(v.swapaxes(-1, -2) @ v, np.broadcast_to(np.eye(4), v.shape),
                                   atol=1e-5)


def test_svd_identities_vs_numpy():
    for shape in [(5, 3), (3, 5), (2, 4, 4)]:
        a = rng.standard_normal(shape).astype(np.float32)
        for full in (True, False):
            u, s, vt = (np.asarray(x) for x in llax.jit(
                lambda x, full=full: jnp.linalg.svd(x, full_matrices=full))(a))
            k = s.shape[-1]
            np.testing.assert_allclose((u[..., :k] * s[..., None, :]) @ vt[..., :k, :], a,
                                       atol=2e-5)
            np.testing.assert_allclose(s, np.linalg.svd(a, compute_uv=False), rtol=1e-5,
                                       atol=1e-5)
            assert u.shape == np.linalg.svd(a, full_matrices=full)[0].shape


@pytest.mark.parametrize("name", ["eigh_values", "eigh_vectors", "cholesky", "svd", "pinv",
                                  "nuc", "lstsq", "matrix_power"])
def test_grads_vs_jax(name):
    w = rng.standard_normal((4, 4)).astype(np.float32)
    fns = {
        "eigh_values": lambda m: lambda x: (m.numpy.linalg.eigh(x)[0] * w[0]).sum(),
        "eigh_vectors": lambda m: lambda x: (m.numpy.linalg.eigh(x)[1] ** 2 * w).sum(),
        "cholesky": lambda m: lambda x: (m.numpy.linalg.cholesky(x) * w).sum(),
        "svd": lambda m: lambda x: ((m.numpy.linalg.svd(x, full_matrices=False)[0] ** 2
                                     * w).sum() + m.numpy.linalg.svd(x, compute_uv=False).sum()),
        "pinv": lambda m: lambda x: (m.numpy.linalg.pinv(x) * w).sum(),
        "nuc": lambda m: lambda x: m.numpy.linalg.norm(x, "nuc"),
        "lstsq": lambda m: lambda x: (m.numpy.linalg.lstsq(x, w[0])[0] ** 2).sum(),
        "matrix_power": lambda m: lambda x: (m.numpy.linalg.matrix_power(x, -2) * w).sum(),
    }
    x = S if name in ("eigh_values", "eigh_vectors", "cholesky") else A
    got = llax.jit(llax.grad(fns[name](llax)))(x)
    expect = jax.grad(fns[name](jax))(x)
    np.testing.assert_allclose(np.asarray(got), np.asarray(expect), rtol=2e-3, atol=2e-3)


def test_float64_under_x64():
    old = llax.config.jax_enable_x64
    llax.config.update("jax_enable_x64", True)
    try:
        a = rng.standard_normal((5, 5))
        s = a @ a.T + np.eye(5)
        for name, args in [("solve", (a, a[0])), ("inv", (a,)), ("det", (a,)),
                           ("eigvalsh", (s,)), ("cholesky", (s,)), ("svdvals", (a,)),
                           ("pinv", (a,))]:
            expect = getattr(np.linalg, name if name != "svdvals" else "svd")(
                *args, **({"compute_uv": False} if name == "svdvals" else {}))
            got = llax.jit(getattr(jnp.linalg, name))(*args)
            assert np.asarray(got).dtype == np.float64, name
            np.testing.assert_allclose(np.asarray(got), expect, rtol=1e-10, atol=1e-10)
    finally:
        llax.config.update("jax_enable_x64", old)
