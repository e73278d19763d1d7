"""vectorize, frompyfunc, apply_along_axis, apply_over_axes and fromfunction of
``llax.numpy`` against JAX: signatures, excluded arguments, broadcasting, errors,
jit, grad and vmap."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import llax
import llax.numpy as lnp
from llax.tests.jnp_oracle import assert_same, sample

X = sample("float32", (4, 3), special=False)
Y = sample("float32", (3,), seed=1, special=False)


def both(make, *args, rtol=1e-5, **kwargs):
    """``make(numpy_module)`` called on ``args`` in llax and in JAX."""
    got = make(lnp)(*args, **kwargs)
    want = make(jnp)(*args, **kwargs)
    assert_same(got, want, rtol=rtol, atol=1e-6)
    return got


VECTORIZE = {
    "elementwise": (lambda m: m.vectorize(lambda a, b: a * b + 1), (X, Y)),
    "scalar arg": (lambda m: m.vectorize(lambda a, b: a - b), (X, 2.0)),
    "dot": (lambda m: m.vectorize(lambda a, b: m.dot(a, b), signature="(n),(n)->()"),
            (X, Y)),
    "two outputs": (lambda m: m.vectorize(lambda a: (m.sum(a), m.max(a)),
                                          signature="(n)->(),()"), (X,)),
    "outer": (lambda m: m.vectorize(m.outer, signature="(n),(k)->(n,k)"),
              (X[:, None, :], X[None, :2, :])),
    "matvec": (lambda m: m.vectorize(m.matmul, signature="(n,k),(k)->(n)"),
               (np.stack([X[:3], X[1:]]), Y)),
    "reverse": (lambda m: m.vectorize(lambda a: a[::-1], signature="(n)->(n)"), (X,)),
    "size-1 loop dims": (lambda m: m.vectorize(lambda a, b: a + b, signature="(),()->()"),
                         (X[:1], Y[:, None, None])),
    "excluded position": (lambda m: m.vectorize(lambda a, p: a ** p, excluded={1}), (X, 2)),
    "none arg": (lambda m: m.vectorize(lambda a, b: a if b is None else a + b), (X, None)),
}


@pytest.mark.parametrize("name", sorted(VECTORIZE))
def test_vectorize_matches_jax(name):
    make, args = VECTORIZE[name]
    want = both(make, *args)
    # Under jit the array arguments are traced; the others stay Python values.
    traced = [i for i, a in enumerate(args) if isinstance(a, np.ndarray)]

    def call(*arrays):
        full = list(args)
        for i, a in zip(traced, arrays):
            full[i] = a
        return make(lnp)(*full)

    assert_same(llax.jit(call)(*[args[i] for i in traced]), want, rtol=1e-5, atol=1e-6)


def test_vectorize_excluded_keyword_and_kwargs():
    def f(a, *, scale, offset=0.0):
        return a * scale + offset

    both(lambda m: m.vectorize(f, excluded={"scale"}), X, scale=np.float32(3.0))
    both(lambda m: m.vectorize(f, excluded={"scale", "offset"}), X, scale=2.0, offset=1.0)


def test_vectorize_errors_as_in_jax():
    cases = [
        (lambda m: m.vectorize(lambda a: a, signature="(n->()"), (X,)),
        (lambda m: m.vectorize(lambda a: a, signature=" (n) -> (n) "), (X,)),
        (lambda m: m.vectorize(lambda a, b: a, signature="(n),(n)->()"), (X, np.ones(4))),
        (lambda m: m.vectorize(lambda a: a, signature="(n,m)->()"), (Y,)),
        (lambda m: m.vectorize(lambda a: a, signature="(n)->()"), (X, X)),
        (lambda m: m.vectorize(lambda a: a, signature="(n)->(),()"), (X,)),
        (lambda m: m.vectorize(lambda a: (a, a), signature="(n)->()"), (X,)),
        (lambda m: m.vectorize(lambda a: a[:2], signature="(n)->(n)"), (X,)),
        (lambda m: m.vectorize(lambda a: a, excluded={-1}), (X,)),
        (lambda m: m.vectorize(lambda a: a, excluded={1.5}), (X,)),
    ]
    for make, args in cases:
        with pytest.raises(Exception) as jax_error:
            make(jnp)(*args)
        with pytest.raises(jax_error.type):
            make(lnp)(*args)


def test_vectorize_gradient_and_nested_vmap():
    f = lambda m: m.vectorize(lambda a, b: m.dot(a, b) ** 2, signature="(n),(n)->()")  # noqa: E731
    want = jax.grad(lambda x: jnp.sum(f(jnp)(x, Y)))(X)
    assert_same(llax.grad(lambda x: lnp.sum(f(lnp)(x, Y)))(X), want, rtol=1e-5)
    batch = np.stack([X, X * 2])
    assert_same(llax.vmap(lambda x: f(lnp)(x, Y))(batch), jax.vmap(lambda x: f(jnp)(x, Y))(batch),
                rtol=1e-5)


def test_frompyfunc():
    both(lambda m: m.frompyfunc(lambda a, b: a * b + 1, 2, 1), X, Y)
    both(lambda m: m.frompyfunc(lambda a, b: a * b + 1, 2, 1), 2.0, 3.0)
    both(lambda m: m.frompyfunc(lambda a: (a, -a), 1, 2), Y)
    add = {m: m.frompyfunc(lambda a, b: a + b, 2, 1, identity=0) for m in (lnp, jnp)}
    for kwargs in [{}, {"axis": 1}, {"axis": None}, {"axis": 0, "keepdims": True},
                   {"axis": 1, "initial": 10.0}, {"axis": 1, "where": X > 0, "initial": 0.0}]:
        assert_same(add[lnp].reduce(X, **kwargs), add[jnp].reduce(X, **kwargs), rtol=1e-5)
    assert_same(add[lnp].reduce(np.zeros((0, 3), np.float32)),
                add[jnp].reduce(np.zeros((0, 3), np.float32)))
    assert_same(add[lnp].accumulate(X), add[jnp].accumulate(X), rtol=1e-5)
    assert_same(add[lnp].accumulate(X, axis=1), add[jnp].accumulate(X, axis=1), rtol=1e-5)
    assert_same(add[lnp].outer(Y, X), add[jnp].outer(Y, X))
    mul = {m: m.frompyfunc(lambda a, b: a * b, 2, 1) for m in (lnp, jnp)}
    assert_same(mul[lnp].reduce(X, axis=0), mul[jnp].reduce(X, axis=0), rtol=1e-5)
    with pytest.raises(ValueError):
        mul[lnp].reduce(np.zeros((0,), np.float32))
    with pytest.raises(ValueError):
        lnp.frompyfunc(lambda a: a, 1, 1).reduce(X)
    assert repr(add[lnp]) == "<jnp.ufunc '<lambda>'>"
    assert_same(llax.jit(lambda x: add[lnp].reduce(x, axis=1))(X), add[jnp].reduce(X, axis=1),
                rtol=1e-5)


CUBE = sample("float32", (2, 3, 4), special=False)


def test_apply_along_axis():
    for axis in (0, 1, 2, -1):
        both(lambda m, axis=axis: lambda a: m.apply_along_axis(m.sum, axis, a), CUBE)
        both(lambda m, axis=axis: lambda a: m.apply_along_axis(
            lambda v: m.stack([v.min(), v.max(), v.mean()]), axis, a), CUBE)
        both(lambda m, axis=axis: lambda a: m.apply_along_axis(
            lambda v: m.outer(v, v), axis, a), CUBE)
    both(lambda m: lambda a: m.apply_along_axis(lambda v, p, q=1.0: v ** p + q, 1, a, 2, q=3.0),
         CUBE)
    want = jax.grad(lambda a: jnp.sum(jnp.apply_along_axis(jnp.prod, 1, a)))(CUBE)
    assert_same(llax.grad(lambda a: lnp.sum(lnp.apply_along_axis(lnp.prod, 1, a)))(CUBE), want,
                rtol=1e-5)
    assert_same(llax.jit(lambda a: lnp.apply_along_axis(lnp.cumsum if hasattr(lnp, "cumsum")
                                                        else lnp.sort, 2, a))(CUBE),
                jnp.apply_along_axis(jnp.cumsum if hasattr(lnp, "cumsum") else jnp.sort, 2,
                                     CUBE), rtol=1e-5)


def test_apply_over_axes():
    both(lambda m: lambda a: m.apply_over_axes(m.sum, a, [0, 2]), CUBE)
    both(lambda m: lambda a: m.apply_over_axes(lambda x, ax: m.max(x, ax, keepdims=True), a,
                                               (1,)), CUBE)
    both(lambda m: lambda a: m.apply_over_axes(m.mean, a, []), CUBE)
    for m in (jnp, lnp):
        with pytest.raises(ValueError):
            m.apply_over_axes(lambda x, ax, m=m: m.sum(x), CUBE, [0])


def test_fromfunction():
    both(lambda m: lambda: m.fromfunction(lambda i, j: i * 10 + j, (3, 4)))
    both(lambda m: lambda: m.fromfunction(lambda i, j: i * 10 + j, (3, 4), dtype=m.int32))
    both(lambda m: lambda: m.fromfunction(lambda i: i ** 2, 5))
    both(lambda m: lambda: m.fromfunction(lambda i, j, k: i + j * k, (2, 3, 2)))
    both(lambda m: lambda: m.fromfunction(lambda i, j: i == j, (3, 3), dtype=m.int32))
    both(lambda m: lambda: m.fromfunction(lambda i, j: i - j, (0, 3)))
    assert_same(llax.jit(lambda s: lnp.fromfunction(lambda i, j: i * s + j, (3, 2)))(2.0),
                jnp.fromfunction(lambda i, j: i * 2.0 + j, (3, 2)))


def test_frompyfunc_gives_a_jnp_ufunc_as_in_jax():
    ours = lnp.frompyfunc(lambda a, b: a * b + 1, 2, 1, identity=0)
    theirs = jnp.frompyfunc(lambda a, b: a * b + 1, 2, 1, identity=0)
    assert isinstance(ours, lnp.ufunc)
    assert (ours.nin, ours.nout, ours.identity) == (theirs.nin, theirs.nout, theirs.identity)
    x = np.arange(4.0, dtype=np.float32)
    assert_same(ours(x, 2.0), theirs(x, 2.0))
    assert_same(ours.reduce(x), theirs.reduce(x))
    assert_same(ours.accumulate(x), theirs.accumulate(x))
    assert_same(ours.outer(x[:2], x), theirs.outer(x[:2], x))
