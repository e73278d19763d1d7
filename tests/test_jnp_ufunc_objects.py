"""``jnp.ufunc`` and the ufunc objects of ``llax.numpy`` (``add.reduce``, ``multiply.outer``,
``maximum.reduceat``...) against JAX's: attributes, every method on float32/int32/bool,
eager and jitted, errors, gradients, and vmap against a loop."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import llax
import llax.numpy as lnp
from llax.tests.jnp_oracle import assert_grads_match_jax, assert_same, check_many, sample

UFUNC_NAMES = sorted(n for n in dir(jnp) if isinstance(getattr(jnp, n), jnp.ufunc))
BINARY = [n for n in UFUNC_NAMES if getattr(jnp, n).nin == 2]
REPEATED = np.array([0, 2, 0, 3, 2, 0])  # indices with repeats, for ``at``
SEGMENTS = np.array([0, 2, 1, 3])  # reduceat bounds, one not increasing


def test_the_same_names_are_ufuncs_as_in_jax():
    assert len(UFUNC_NAMES) == 14
    ours = {n for n in dir(lnp) if isinstance(getattr(lnp, n), lnp.ufunc)}
    assert ours == set(UFUNC_NAMES)
    assert not isinstance(lnp.sin, lnp.ufunc) and not isinstance(lnp.divide, lnp.ufunc)


@pytest.mark.parametrize("name", UFUNC_NAMES)
def test_attributes(name: str):
    ours, theirs = getattr(lnp, name), getattr(jnp, name)
    assert (ours.nin, ours.nout, ours.nargs) == (theirs.nin, theirs.nout, theirs.nargs)
    assert ours.identity == theirs.identity and type(ours.identity) is type(theirs.identity)
    assert ours.__name__ == theirs.__name__ == name
    assert repr(ours) == repr(theirs) == f"<jnp.ufunc '{name}'>"
    with pytest.raises(AttributeError):
        ours.nin = 3
    assert ours == ours and hash(ours) == hash(ours) and ours != lnp.sin


def _method_cases(name: str, which: tuple[str, ...] | None = None) -> dict:
    def case(fn):
        return (lambda x: fn(getattr(lnp, name), x), lambda x: fn(getattr(jnp, name), x))

    cases = {
        "reduce": case(lambda u, x: u.reduce(x)),
        "reduce axis=1 keepdims": case(lambda u, x: u.reduce(x, axis=1, keepdims=True)),
        "reduce axis=None initial": case(lambda u, x: u.reduce(x, axis=None, initial=x[0, 0])),
        "reduce where": case(lambda u, x: u.reduce(x, axis=-1, where=x[0] > x[1],
                                                   initial=x[1, 1])),
        "reduce dtype": case(lambda u, x: u.reduce(x, dtype="int32")
                             if u.__name__ not in ("maximum", "minimum") else u.reduce(x)),
        "accumulate": case(lambda u, x: u.accumulate(x)),
        "accumulate axis=1": case(lambda u, x: u.accumulate(x, axis=1)),
        "outer": case(lambda u, x: u.outer(x[:2], x[0, :3])),
        "at": case(lambda u, x: u.at(x, REPEATED, x[0, 3], inplace=False)),
        "at values": case(lambda u, x: u.at(x, (REPEATED[:4], np.array([1, 0, 1, 3])), x[0],
                                            inplace=False)),
        "reduceat": case(lambda u, x: u.reduceat(x, SEGMENTS, axis=1)),
    }
    return cases if which is None else {k: cases[k] for k in which}


# Each ufunc with every method on the dtype it is meant for; the other dtypes below.
NATURAL_DTYPE = {"bitwise_and": "int32", "bitwise_or": "int32", "bitwise_xor": "int32",
                 "logical_and": "bool", "logical_or": "bool", "logical_xor": "bool"}


@pytest.mark.parametrize("name", BINARY)
def test_binary_methods(name: str):
    dtype = NATURAL_DTYPE.get(name, "float32")
    cases = _method_cases(name)
    if name in ("add", "maximum"):  # a mask without ``initial`` needs an identity
        cases["reduce where, no initial"] = (
            lambda x: getattr(lnp, name).reduce(x, axis=None, where=x > x[0, 0]),
            lambda x: getattr(jnp, name).reduce(x, axis=None, where=x > x[0, 0]))
    # (Jitted for a few; test_jit_of_methods covers the rest under jit.)
    check_many(cases, sample(dtype, (5, 4), special=False),
               jit=name in ("add", "subtract", "logical_and", "bitwise_or"))


@pytest.mark.parametrize("dtype", ["float32", "int32", "bool"])
def test_binary_methods_on_every_dtype(dtype: str):
    """The main methods of every binary ufunc on each dtype (where JAX refuses the dtype,
    as for bitwise ops of floats, llax must raise too)."""
    x = sample(dtype, (5, 4), special=False) % (3 if dtype == "int32" else 2 ** 31)
    cases = {f"{name}.{case}": fns for name in BINARY for case, fns in
             _method_cases(name, ("reduce", "accumulate", "at", "outer")).items()}
    check_many(cases, x, jit=False)


@pytest.mark.parametrize("name", ["add", "maximum", "logaddexp", "subtract"])
def test_special_values(name: str):
    x = sample("float32", (5, 4))  # infinities and NaNs
    cases = {k: v for k, v in _method_cases(name).items()
             if k in ("reduce", "accumulate", "at", "reduceat", "outer")}
    check_many(cases, x, jit=False)


@pytest.mark.parametrize("dtype", ["float32", "int32", "bool"])
def test_negative_methods(dtype: str):
    x = sample(dtype, (5, 4))
    cases = {
        "call": (lambda x: lnp.negative(x), lambda x: jnp.negative(x)),
        "at": (lambda x: lnp.negative.at(x, REPEATED, inplace=False),
               lambda x: jnp.negative.at(x, REPEATED, inplace=False)),
        "at one": (lambda x: lnp.negative.at(x, 1, inplace=False),
                   lambda x: jnp.negative.at(x, 1, inplace=False)),
    }
    check_many(cases, x)
    for method in ["reduce", "accumulate", "outer", "reduceat"]:
        with pytest.raises(ValueError, match="binary"):
            args = (x, x) if method == "outer" else (x, np.array([0])) if method == "reduceat" \
                else (x,)
            getattr(lnp.negative, method)(*args)


def test_python_scalars_and_weak_types():
    for fn in [lambda m: m.add.outer(m.arange(3), 2.0), lambda m: m.add.outer(2, 3.0),
               lambda m: m.multiply(2, 3.0), lambda m: m.maximum.accumulate(m.arange(4.0)),
               lambda m: m.subtract.reduce(m.arange(5.0)),
               lambda m: m.add.at(m.arange(4), np.array([1, 1]), 2.5, inplace=False),
               lambda m: m.maximum.at(m.arange(4), np.array([1, 1]), 2.5, inplace=False),
               lambda m: m.logaddexp.reduce(m.arange(3.0), initial=1.0),
               lambda m: m.bitwise_xor.reduce(m.arange(9, dtype=m.uint8), initial=3)]:
        assert_same(fn(lnp), fn(jnp))


def test_empty_operands():
    cases = {}
    for name in BINARY:
        ours, theirs = getattr(lnp, name), getattr(jnp, name)
        for case, fn in {"reduce": lambda u, x: u.reduce(x),
                         "reduce axis 1": lambda u, x: u.reduce(x, axis=1),
                         "accumulate": lambda u, x: u.accumulate(x),
                         "outer": lambda u, x: u.outer(x, x[:, 0])}.items():
            cases[f"{name}.{case}"] = (lambda x, u=ours, fn=fn: fn(u, x),
                                       lambda x, u=theirs, fn=fn: fn(u, x))
    for dtype in ("float32", "int32"):  # (errors for those refusing a dtype, as JAX)
        check_many(cases, np.zeros((0, 3), dtype), jit=False)


def test_errors_match_jax():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    for m in (lnp, jnp):
        with pytest.raises(NotImplementedError):
            m.add.at(x, 0, 1.0)  # inplace=True, the default, is impossible
        with pytest.raises(NotImplementedError):
            m.add(x, x, out=x)
        with pytest.raises(NotImplementedError):
            m.add(x, x, where=x > 1)
        with pytest.raises(NotImplementedError):
            m.add.reduce(x, out=1)  # (JAX wants a hashable ``out``)
        with pytest.raises(ValueError, match="identity"):
            m.maximum.reduce(x, where=x > 1)
        with pytest.raises(ValueError, match="dtype=bool"):
            m.add.reduce(x, where=np.ones(3, np.int32))
        with pytest.raises(ValueError, match="identity"):
            m.minimum.reduce(np.zeros((0, 2), np.float32))
        with pytest.raises(ValueError, match="integer"):
            m.bitwise_or.reduce(x)
        with pytest.raises(TypeError):
            m.add.at(m.asarray(x), [0, 1], 1.0, inplace=False)  # lists are not indices
        with pytest.raises(TypeError):
            m.add.reduceat(x, [0, 1])
        with pytest.raises(TypeError):
            m.add.reduce([1, 2])
        with pytest.raises(ValueError, match="multiple axes"):
            m.subtract.accumulate(x, axis=None)
        with pytest.raises(ValueError, match="one-dimensional"):
            m.add.reduceat(x, np.zeros((1, 1), np.int32))
        with pytest.raises(TypeError):
            m.subtract(np.ones(2, bool), np.ones(2, bool))
        with pytest.raises(NotImplementedError):  # no gradient of repeated products
            (jax.grad if m is jnp else llax.grad)(lambda v, m=m: m.multiply.at(
                v, np.array([0, 0]), v[2], inplace=False).sum())(x[0])


def test_jit_of_methods():
    x = sample("float32", (5, 4), special=False)
    for fn in [lambda m, x: m.add.reduce(x, axis=1), lambda m, x: m.multiply.outer(x[0], x[1]),
               lambda m, x: m.maximum.reduceat(x, SEGMENTS),
               lambda m, x: m.subtract.accumulate(x, axis=1),
               lambda m, x: m.add.at(x, REPEATED, x[0], inplace=False)]:
        assert_same(llax.jit(lambda x, fn=fn: fn(lnp, x))(x),
                    jax.jit(lambda x, fn=fn: fn(jnp, x))(x))


def test_gradients_match_jax():
    x = np.abs(sample("float32", (5, 4), special=False)) + 0.5
    assert_grads_match_jax([
        lambda m, x: m.multiply.reduce(x, axis=1), lambda m, x: m.logaddexp.reduce(x),
        lambda m, x: m.subtract.accumulate(x), lambda m, x: m.minimum.accumulate(x),
        lambda m, x: m.multiply.outer(x[0], x[:, 1]),
        lambda m, x: m.add.at(x, REPEATED, x[1] * 2, inplace=False),
        lambda m, x: m.maximum.reduceat(x, SEGMENTS),
    ], x, rtol=1e-4)


def test_gradient_against_finite_differences():
    x = np.abs(sample("float32", (6,), special=False)).astype(np.float64) + 0.5

    def f(v):
        return lnp.sum(lnp.subtract.accumulate(v) * lnp.logaddexp.accumulate(v))

    grad = np.asarray(llax.grad(f)(x.astype(np.float32)))
    eps = 1e-3
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = eps
        fd = (float(f((x + e).astype(np.float32))) - float(f((x - e).astype(np.float32))))
        np.testing.assert_allclose(grad[i], fd / (2 * eps), rtol=2e-2, atol=2e-2)


def test_vmap_matches_a_loop():
    x = sample("float32", (3, 5, 4), special=False)
    for fn in [lambda r: lnp.add.reduce(r, axis=1), lambda r: lnp.maximum.accumulate(r),
               lambda r: lnp.subtract.reduce(r), lambda r: lnp.multiply.outer(r[0], r[1]),
               lambda r: lnp.add.at(r, REPEATED, r[0], inplace=False),
               lambda r: lnp.minimum.reduceat(r, SEGMENTS),
               lambda r: lnp.logaddexp.accumulate(r, axis=1)]:
        batched = llax.vmap(fn)(x)
        for i in range(x.shape[0]):
            np.testing.assert_allclose(np.asarray(batched[i]), np.asarray(fn(x[i])), rtol=1e-6)


def _fma(a, b):
    return a * b + 1


def test_user_defined_ufunc():
    x = sample("float32", (4, 3), special=False)
    ours, theirs = lnp.ufunc(_fma, 2, 1, identity=None), jnp.ufunc(_fma, 2, 1, identity=None)
    assert repr(ours) == repr(theirs) == "<jnp.ufunc '_fma'>"
    assert (ours.nin, ours.nout, ours.nargs, ours.identity) == (2, 1, 2, None)
    assert ours == lnp.ufunc(_fma, 2, 1) and hash(ours) == hash(lnp.ufunc(_fma, 2, 1))
    assert ours != lnp.ufunc(_fma, 2, 1, name="other")
    cases = {
        "call": (lambda x: ours(x, x[0]), lambda x: theirs(x, x[0])),
        "reduce": (lambda x: ours.reduce(x), lambda x: theirs.reduce(x)),
        "reduce axis=None": (lambda x: ours.reduce(x, axis=None, keepdims=True),
                             lambda x: theirs.reduce(x, axis=None, keepdims=True)),
        "accumulate": (lambda x: ours.accumulate(x, axis=1),
                       lambda x: theirs.accumulate(x, axis=1)),
        "outer": (lambda x: ours.outer(x[0], x[1]), lambda x: theirs.outer(x[0], x[1])),
        "at": (lambda x: ours.at(x, REPEATED[:3], x[0], inplace=False),
               lambda x: theirs.at(x, REPEATED[:3], x[0], inplace=False)),
        "reduceat": (lambda x: ours.reduceat(x, np.array([0, 2])),
                     lambda x: theirs.reduceat(x, np.array([0, 2]))),
    }
    check_many(cases, x)
    with pytest.raises(ValueError, match="identity"):
        ours.reduce(np.zeros((0,), np.float32))
    # Replacement methods are used where given.
    fast = lnp.ufunc(_fma, 2, 1, reduce=lambda a, **kw: "replaced")
    assert fast.reduce(x) == "replaced"


def test_plain_calls_unchanged():
    for name in UFUNC_NAMES:
        x = sample("int32" if name.startswith("bitwise") else "float32", (4,))
        args = (x,) if getattr(jnp, name).nin == 1 else (x, 2)
        assert_same(getattr(lnp, name)(*args), getattr(jnp, name)(*args))
