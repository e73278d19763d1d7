"""Operators, methods and properties of llax Arrays and tracers, against JAX's arrays."""

from __future__ import annotations

import operator

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import llax
import llax.numpy as lnp
from llax.frontend.array_methods import METHODS
from llax.frontend.core import Array, Tracer
from llax.tests.jnp_oracle import assert_same, check_many, sample

BINARY_OPERATORS = [operator.add, operator.sub, operator.mul, operator.truediv,
                    operator.floordiv, operator.mod, operator.pow, operator.and_, operator.or_,
                    operator.xor, operator.lshift, operator.rshift, operator.eq, operator.ne,
                    operator.lt, operator.le, operator.gt, operator.ge, divmod]
UNARY_OPERATORS = [operator.neg, operator.pos, operator.abs, operator.invert]


@pytest.mark.parametrize("dtype", ["float32", "int32", "bool"])
def test_operators(dtype: str) -> None:
    x = sample(dtype, (13,))
    y = np.roll(sample(dtype, (13,), seed=1), 3)
    if dtype == "int32":
        y = np.abs(y) % 4  # small, non-negative exponents and shift counts
    cases = {}
    for op in BINARY_OPERATORS:
        name = op.__name__
        cases[name] = (lambda a, b, op=op: op(lnp.asarray(a), lnp.asarray(b)),
                       lambda a, b, op=op: op(jnp.asarray(a), jnp.asarray(b)))
        for s in (2, 1.5, True):
            cases[f"{name} scalar {s!r}"] = (lambda a, b, op=op, s=s: op(lnp.asarray(a), s),
                                             lambda a, b, op=op, s=s: op(jnp.asarray(a), s))
            cases[f"{name} reflected {s!r}"] = (lambda a, b, op=op, s=s: op(s, lnp.asarray(a)),
                                                lambda a, b, op=op, s=s: op(s, jnp.asarray(a)))
    for op in UNARY_OPERATORS:
        cases[op.__name__] = (lambda a, b, op=op: op(lnp.asarray(a)),
                              lambda a, b, op=op: op(jnp.asarray(a)))
    check_many(cases, x, y)


def test_matmul_operators() -> None:
    x, y = sample("float32", (2, 3), special=False), sample("float32", (3, 4), special=False)
    check_many({"matmul": (lambda a, b: lnp.asarray(a) @ b, lambda a, b: jnp.asarray(a) @ b),
                "rmatmul": (lambda a, b: a @ lnp.asarray(b), lambda a, b: a @ jnp.asarray(b))},
               x, y)


def test_numpy_operands_on_the_left() -> None:
    x = lnp.asarray(np.arange(3.0, dtype=np.float32))
    for left in (np.float32(2), np.ones(3, np.float32), np.int32(2)):
        out = left * x
        assert isinstance(out, Array)
        assert_same(out, left * jnp.asarray(np.arange(3.0, dtype=np.float32)))


def test_unsupported_operands_give_python_errors() -> None:
    x = lnp.ones(3)
    with pytest.raises(TypeError, match="unsupported operand"):
        x + [1]
    with pytest.raises(TypeError):
        "a" * x
    assert (x == None) is False  # noqa: E711 - NotImplemented falls back to identity
    with pytest.raises(NotImplementedError):
        pow(x, 2, 3)


METHOD_CASES = {
    "reshape *": lambda x: x.reshape(3, 8), "reshape tuple": lambda x: x.reshape((3, -1)),
    "reshape -1": lambda x: x.reshape(-1), "reshape F": lambda x: x.reshape(4, 6, order="F"),
    "T": lambda x: x.T, "mT": lambda x: x.mT, "transpose": lambda x: x.transpose(),
    "transpose *": lambda x: x.transpose(2, 0, 1),
    "transpose tuple": lambda x: x.transpose((1, 0, 2)),
    "astype": lambda x: x.astype("int32"), "astype bool": lambda x: x.astype(bool),
    "sum": lambda x: x.sum(), "sum axis": lambda x: x.sum(1, keepdims=True),
    "mean": lambda x: x.mean(axis=(0, 2)), "max": lambda x: x.max(0), "min": lambda x: x.min(),
    "prod": lambda x: x.prod(-1), "argmax": lambda x: x.argmax(), "argmin": lambda x: x.argmin(1),
    "std": lambda x: x.std(0), "any": lambda x: x.any(1),
    "all": lambda x: x.all(), "swapaxes": lambda x: x.swapaxes(0, 2),
    "squeeze": lambda x: x[None].squeeze(0), "flatten": lambda x: x.flatten(),
    "ravel": lambda x: x.ravel(), "dot": lambda x: x[0].dot(x[1].T), "clip": lambda x: x.clip(0, 1),
    "conj": lambda x: x.conj(), "conjugate": lambda x: x.conjugate(), "real": lambda x: x.real,
    "imag": lambda x: x.imag, "copy": lambda x: x.copy(),
    "getitem": lambda x: x[0, 1:, ::2],
    "sort": lambda x: x.sort(axis=1), "sort descending": lambda x: x.sort(descending=True),
    "argsort": lambda x: x.argsort(0), "take": lambda x: x.take(np.array([3, 0, 5]), axis=None),
}


@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_methods(dtype: str) -> None:
    x = sample(dtype, (2, 3, 4), special=False)
    cases = {name: (lambda a, f=f: f(lnp.asarray(a)), lambda a, f=f: f(jnp.asarray(a)))
             for name, f in METHOD_CASES.items()}
    cases["round"] = (lambda a: lnp.asarray(a).round(1), lambda a: jnp.asarray(a).round(1))
    check_many(cases, x)


def test_var_method() -> None:
    x = sample("float32", (2, 3), special=False)
    assert_same(lnp.asarray(x).var(ddof=1), jnp.asarray(x).var(ddof=1))


def test_var_method_on_tracers() -> None:
    x = sample("float32", (2, 3), special=False)
    assert_same(llax.jit(lambda a: a.var(ddof=1))(x), jnp.asarray(x).var(ddof=1))


def test_properties_and_conversions() -> None:
    x, jx = lnp.ones((2, 3), lnp.int8), jnp.ones((2, 3), jnp.int8)
    assert (x.itemsize, x.nbytes, x.size, x.ndim, x.shape) == \
        (jx.itemsize, jx.nbytes, jx.size, jx.ndim, jx.shape)
    assert_same(round(lnp.asarray(2.5)), round(jnp.asarray(2.5)))


def test_same_table_on_arrays_and_tracers() -> None:
    for name in METHODS:
        assert getattr(Array, name) is METHODS[name]
        assert getattr(Tracer, name) is METHODS[name]


def test_methods_under_jit_see_tracers() -> None:
    seen = []

    def f(x):
        seen.append(type(x))
        return (x + 1).sum(0).T.reshape(-1).astype(int)

    out = llax.jit(f)(np.ones((2, 3), np.float32))
    assert seen == [Tracer]
    np.testing.assert_array_equal(out, np.full(3, 4))


def test_at_is_delegated() -> None:
    x = lnp.zeros(3)
    assert_same(x.at[1].set(2.0), jnp.zeros(3).at[1].set(2.0))


def test_item_assignment_is_refused() -> None:
    with pytest.raises(TypeError, match="immutable"):
        lnp.ones(3)[0] = 1


@pytest.mark.parametrize("call", [
    lambda x: x.cumsum(), lambda x: x.cumprod(axis=1), lambda x: x.ptp(),
    lambda x: x.diagonal(), lambda x: x.repeat(2, axis=0),
    lambda x: x.ravel().searchsorted(2.5),
    lambda x: x.compress(np.array([True, False]), axis=0),
    lambda x: x.ravel().nonzero(size=4), lambda x: x.astype(np.int32).ravel()[:2].choose(
        [np.arange(2), np.arange(2) * 10], mode="clip"),
])
@pytest.mark.parametrize("jit", [False, True])
def test_numpy_methods_as_jax(call, jit):
    import jax

    x = np.arange(6, dtype=np.float32).reshape(2, 3) % 4
    ours = (llax.jit(call) if jit else call)(llax.numpy.asarray(x))
    theirs = call(jax.numpy.asarray(x))
    for a, b in zip(jax.tree_util.tree_leaves(theirs), llax.tree_util.tree_leaves(ours)):
        np.testing.assert_array_equal(b, a)
        assert np.asarray(b).dtype == np.asarray(a).dtype


def test_trace_method_on_arrays():
    x = np.arange(9, dtype=np.float32).reshape(3, 3)
    assert float(llax.numpy.asarray(x).trace()) == np.trace(x)


def test_trace_method_on_tracers():
    """``x.trace()`` is the method under every transformation (the tracer keeps its trace in
    a private attribute)."""
    x = np.arange(9, dtype=np.float32).reshape(3, 3)
    batch = np.arange(18, dtype=np.float32).reshape(2, 3, 3)
    assert float(llax.jit(lambda a: a.trace())(x)) == np.trace(x)
    assert float(llax.jit(lambda a: a.trace(1))(x)) == np.trace(x, 1)
    np.testing.assert_array_equal(llax.grad(lambda a: a.trace())(x),
                                  jax.grad(lambda a: a.trace())(x))
    np.testing.assert_array_equal(llax.vmap(lambda a: a.trace())(batch),
                                  [np.trace(b) for b in batch])
    assert_same(llax.jit(lambda a: a.trace(dtype=lnp.int32))(x),
                jax.jit(lambda a: a.trace(dtype=jnp.int32))(x))
