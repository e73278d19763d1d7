"""float0 tangents out of jit and vmap, against JAX.

``jvp`` gives integer outputs float0 tangents and ``grad(..., allow_int=True)`` gives
integer inputs float0 gradients. Returned from a jitted function (or a vmapped one) they
come back as in JAX: NumPy arrays of dtype float0 with the primal's shape (the batch axis
included under vmap), every other result unchanged.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
import pytest

import llax
import llax.numpy as jnp

FLOAT0 = np.dtype([("float0", np.void, 0)])
X = np.asarray([0.5, 1.5, -2.0], np.float32)
I = np.asarray([1, 2, 3], np.int32)


def f(m, x, i):
    return {"scaled": x * i, "twice": i * 2, "pair": (m.sin(x), i > 1)}


def _cases(api, m) -> dict[str, Any]:
    tx, ti = np.ones(3, np.float32), np.zeros(3, FLOAT0)
    return {
        "jvp": lambda x, i: api.jvp(lambda a, b: f(m, a, b), (x, i), (tx, ti)),
        "grad-allow-int": lambda x, i: api.grad(
            lambda a, b: m.sum(a * b), argnums=(0, 1), allow_int=True)(x, i),
        "value-and-grad-int": lambda x, i: api.value_and_grad(
            lambda a, b: m.sum(a * b), argnums=1, allow_int=True)(x, i),
        "vjp": lambda x, i: api.vjp(lambda a, b: m.sum(a * b), x, i)[1](np.float32(1.0)),
        "only-float0": lambda x, i: api.jvp(lambda b: b * 3, (i,), (ti,))[1],
        "vmap-jvp": lambda x, i: api.vmap(lambda a, b: api.jvp(
            lambda p, q: (p * q, q + 1), (a, b), (np.float32(1.0), np.zeros((), FLOAT0))))(x, i),
        "vmap-out-axes-none": lambda x, i: api.vmap(lambda a, b: api.jvp(
            lambda p, q: (p * q, q + 1), (a, b), (np.float32(1.0), np.zeros((), FLOAT0))),
            out_axes=(0, (0, None)))(x, i),
    }


def _leaves(tree: Any) -> list[Any]:
    return jax.tree_util.tree_leaves(tree, is_leaf=lambda v: isinstance(v, llax.Array))


def _check(got: Any, want: Any, what: str) -> None:
    assert jax.tree_util.tree_structure(_as_numpy(got)) == \
        jax.tree_util.tree_structure(_as_numpy(want)), what
    for k, (g, w) in enumerate(zip(_leaves(got), _leaves(want))):
        at = f"{what} (result {k})"
        gv, wv = np.asarray(g), np.asarray(w)
        assert gv.dtype == wv.dtype and gv.shape == wv.shape, \
            f"{at}: {gv.dtype}{gv.shape}, JAX {wv.dtype}{wv.shape}"
        if wv.dtype == FLOAT0:
            assert isinstance(g, np.ndarray), f"{at}: a float0 result is a NumPy array"
        else:
            np.testing.assert_allclose(gv, wv, rtol=1e-6, err_msg=at)


def _as_numpy(tree: Any) -> Any:
    return jax.tree_util.tree_map(np.asarray, tree,
                                  is_leaf=lambda v: isinstance(v, llax.Array))


@pytest.mark.parametrize("name", sorted(_cases(jax, jax.numpy)))
def test_float0_results_of_jit_match_jax(name: str) -> None:
    want = jax.jit(_cases(jax, jax.numpy)[name])(X, I)
    fn = llax.jit(_cases(llax, jnp)[name])
    for call in range(3):  # the first call compiles; later ones take the cached paths
        _check(fn(X, I), want, f"{name} (call {call})")
    _check(_cases(llax, jnp)[name](X, I), want, f"{name} (eager)")


def test_issue_example() -> None:
    # jit(lambda x, i: jax.jvp(f, (x, i), (tx, ti))) with ti a float0 zero.
    def g(x, i):
        return x * i, i * 2

    ti = np.zeros(3, FLOAT0)
    primal, tangent = llax.jit(lambda x, i: llax.jvp(g, (x, i), (np.ones(3, np.float32), ti)))(
        X, I)
    np.testing.assert_allclose(np.asarray(tangent[0]), I.astype(np.float32))
    assert isinstance(tangent[1], np.ndarray) and tangent[1].dtype == FLOAT0
    assert tangent[1].shape == (3,)
    assert llax.dtypes.float0 == FLOAT0 if hasattr(llax, "dtypes") else True


def test_jit_of_function_returning_only_float0() -> None:
    out = llax.jit(lambda i: llax.grad(lambda b: jnp.sum(b * 1.0), allow_int=True)(i))(I)
    assert isinstance(out, np.ndarray) and out.dtype == FLOAT0 and out.shape == (3,)
