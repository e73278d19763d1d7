"""``llax.numpy.einsum`` and ``einsum_path`` against JAX: specs with contractions,
batch labels, diagonals, broadcasting ellipses, every optimize setting, dtypes,
gradients, vmap, and the lowering (each contraction one dot_general)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import llax
import llax.numpy as lnp
from llax.tests.jnp_oracle import assert_same, check, primitive_names, sample

# spec -> operand shapes
SPECS = {
    "ij,jk->ik": [(3, 4), (4, 5)],
    "ij,jk": [(3, 4), (4, 5)],
    "bij,bjk->bik": [(2, 3, 4), (2, 4, 5)],
    "bij,bkj->bki": [(2, 3, 4), (2, 5, 4)],
    "i,i": [(4,), (4,)],
    "i,i->i": [(4,), (4,)],
    "i,j->ij": [(3,), (4,)],
    "ij->ji": [(3, 4)],
    "ij->": [(3, 4)],
    "ij->j": [(3, 4)],
    "ii->i": [(3, 3)],
    "ii": [(3, 3)],
    "iij,jk->ik": [(3, 3, 4), (4, 2)],
    "iji->j": [(3, 4, 3)],
    "ij,ij->ij": [(3, 4), (3, 4)],
    "ij,ij->": [(3, 4), (3, 4)],
    "ijk,ikl->jl": [(2, 3, 4), (2, 4, 5)],
    "ij,jk,kl->il": [(3, 4), (4, 5), (5, 2)],
    "abc,cd,db->a": [(2, 3, 4), (4, 5), (5, 3)],
    "ab,bc,cd,de->ae": [(2, 3), (3, 4), (4, 5), (5, 2)],
    "...ij,...jk->...ik": [(2, 3, 4), (1, 4, 5)],
    "...i,...i": [(2, 1, 3), (4, 3)],
    "i...,i...->...": [(3, 2), (3, 2)],
    "ij,j->i": [(3, 1), (4,)],
    "ij,kj->ik": [(1, 4), (3, 4)],
    "i,ij,j->": [(3,), (3, 4), (4,)],
    "ijk->kji": [(2, 3, 4)],
    "ab,ab,ab->": [(2, 3), (2, 3), (2, 3)],
}


def _operands(shapes, dtype):
    return [sample(dtype, s, seed=i, special=False) for i, s in enumerate(shapes)]


@pytest.mark.parametrize("spec", sorted(SPECS))
def test_specs_match_jax(spec):
    for dtype in ("float32", "int32"):
        ops = _operands(SPECS[spec], dtype)
        check(lambda *a: lnp.einsum(spec, *a), lambda *a: jnp.einsum(spec, *a), *ops,
              jit=dtype == "float32", rtol=1e-5, atol=1e-4)


def test_bool_and_mixed_dtypes():
    b = _operands([(3, 4), (4, 5)], "bool")
    check(lambda x, y: lnp.einsum("ij,jk->ik", x, y),
          lambda x, y: jnp.einsum("ij,jk->ik", x, y), *b)
    x, y = sample("int32", (3, 4)), sample("float32", (4, 5))
    check(lambda x, y: lnp.einsum("ij,jk->ik", x, y),
          lambda x, y: jnp.einsum("ij,jk->ik", x, y), x, y)


def test_python_scalars_and_weak_types():
    x = sample("float32", (3,))
    check(lambda x: lnp.einsum(",i->i", 2.0, x), lambda x: jnp.einsum(",i->i", 2.0, x), x)
    check(lambda s: lnp.einsum(",->", s, 3.0), lambda s: jnp.einsum(",->", s, 3.0), 2.0,
          jit=False)


def test_preferred_element_type():
    x, y = sample("int32", (3, 4)), sample("int32", (4, 5), seed=2)
    for pet in (np.float32, np.int32):
        check(lambda x, y, p=pet: lnp.einsum("ij,jk->ik", x, y, preferred_element_type=p),
              lambda x, y, p=pet: jnp.einsum("ij,jk->ik", x, y, preferred_element_type=p),
              x, y)
    b = sample("bool", (3, 4))
    check(lambda b: lnp.einsum("ij->i", b, preferred_element_type=np.int32),
          lambda b: jnp.einsum("ij->i", b, preferred_element_type=np.int32), b)


@pytest.mark.parametrize("optimize", [True, False, "greedy", "optimal", "auto", "dp",
                                      [(0, 2), (0, 1)]])
def test_optimize_settings_and_path(optimize):
    ops = _operands([(3, 4), (4, 5), (5, 2)], "float32")
    spec = "ij,jk,kl->il"
    assert_same(lnp.einsum(spec, *ops, optimize=optimize),
                jnp.einsum(spec, *ops, optimize=optimize), rtol=1e-5, atol=1e-5)
    got_path, _ = lnp.einsum_path(spec, *ops, optimize=optimize)
    want_path, _ = jnp.einsum_path(spec, *ops, optimize=optimize)
    assert got_path == want_path


def test_interleaved_operands():
    x = sample("float32", (3, 3), special=False)
    y = sample("float32", (3, 4), seed=1, special=False)
    check(lambda x, y: lnp.einsum(x, [0, 1], y, [1, 2]),
          lambda x, y: jnp.einsum(x, [0, 1], y, [1, 2]), x, y)
    check(lambda x, y: lnp.einsum(x, [0, 1], y, [1, 2], [2, 0]),
          lambda x, y: jnp.einsum(x, [0, 1], y, [1, 2], [2, 0]), x, y)
    check(lambda x: lnp.einsum(x, [0, 0]), lambda x: jnp.einsum(x, [0, 0]), x)
    check(lambda x: lnp.einsum(x, [Ellipsis, 1], [1]),
          lambda x: jnp.einsum(x, [Ellipsis, 1], [1]), x)


def test_empty_operands():
    x, y = np.zeros((0, 4), np.float32), np.ones((4, 5), np.float32)
    check(lambda x, y: lnp.einsum("ij,jk->ik", x, y),
          lambda x, y: jnp.einsum("ij,jk->ik", x, y), x, y)
    x, y = np.zeros((3, 0), np.float32), np.zeros((0, 5), np.float32)
    check(lambda x, y: lnp.einsum("ij,jk->ik", x, y),
          lambda x, y: jnp.einsum("ij,jk->ik", x, y), x, y)


def test_errors_as_in_jax():
    x = sample("float32", (3, 4))
    for bad in [lambda m: m.einsum("ij,jk->ik", x, x),  # mismatched sizes
                lambda m: m.einsum("ij->ik", x),  # output label not in the inputs
                lambda m: m.einsum("i->i", x),  # wrong number of labels
                lambda m: m.einsum("ij,jk->ik", x)]:  # too few operands
        with pytest.raises(ValueError):
            bad(jnp)
        with pytest.raises(ValueError):
            bad(lnp)
    with pytest.raises(NotImplementedError):
        lnp.einsum("ij->ij", x, out=x)


def test_contractions_lower_to_dot_general():
    a = sample("float32", (2, 3, 4))
    b = sample("float32", (2, 4, 5))
    assert primitive_names(lambda a, b: lnp.einsum("bij,bjk->bik", a, b), a, b) == \
        ["dot_general"]
    names = primitive_names(lambda x, y, z: lnp.einsum("ij,jk,kl->il", x, y, z),
                            a[0], a[0].T, a[0])
    assert names.count("dot_general") == 2
    assert "mul" not in names and "reduce_sum" not in names
    # A transposed output takes the operand order that needs no transpose, as JAX does.
    assert primitive_names(lambda a, b: lnp.einsum("bij,bkj->bki", a, b), a,
                           np.swapaxes(b, 1, 2).copy()) == ["dot_general"]


GRAD_SPECS = ["ij,jk->ik", "bij,bjk->bik", "ii->i", "ij,jk,kl->", "i,i", "...i,...i"]


@pytest.mark.parametrize("spec", GRAD_SPECS)
def test_gradients_match_jax(spec):
    shapes = {"ij,jk->ik": [(3, 4), (4, 5)], "bij,bjk->bik": [(2, 3, 4), (2, 4, 5)],
              "ii->i": [(3, 3)], "ij,jk,kl->": [(3, 4), (4, 5), (5, 2)],
              "i,i": [(4,), (4,)], "...i,...i": [(2, 3), (3,)]}[spec]
    ops = _operands(shapes, "float32")
    argnums = tuple(range(len(ops)))

    def loss(m):
        return lambda *a: m.sum(m.sin(m.einsum(spec, *a)))

    want = jax.grad(loss(jnp), argnums)(*ops)
    assert_same(llax.grad(loss(lnp), argnums)(*ops), want, rtol=1e-4, atol=1e-5)
    assert_same(llax.jit(llax.grad(loss(lnp), argnums))(*ops), want, rtol=1e-4, atol=1e-5)


def test_vmap_matches_a_loop():
    x = sample("float32", (4, 3, 5), special=False)
    y = sample("float32", (5, 2), seed=1, special=False)
    f = lambda x: lnp.einsum("ij,jk->ik", x, y)  # noqa: E731
    got = llax.vmap(f)(x)
    assert_same(got, lnp.stack([f(v) for v in x]), rtol=1e-5)
    assert_same(got, jax.vmap(lambda x: jnp.einsum("ij,jk->ik", x, y))(x), rtol=1e-5)
    g = lambda x, y: lnp.einsum("ii,i->", x, y)  # noqa: E731
    sq = sample("float32", (4, 3, 3), special=False)
    v = sample("float32", (4, 3), special=False)
    assert_same(llax.vmap(g)(sq, v), lnp.stack([g(a, b) for a, b in zip(sq, v)]), rtol=1e-5)
