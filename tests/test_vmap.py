"""``llax.vmap``: JAX's semantics and error messages, collectives, composition, batched IR.

JAX (installed for the tests) is the oracle for results and for the wording of
errors; NumPy stacking of per-example results is the oracle for composite
programs. Per-primitive rules are covered in test_vmap_rules.py.
"""

from __future__ import annotations

import functools
import os
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest

import llax
import llax.numpy as lnp
from llax import lax
from llax.ir.core import walk_ops
from llax.ir.printer import print_function
from llax.tests.jnp_oracle import assert_same, jax

jnp = jax.numpy
GOLDEN = Path(__file__).parent / "golden" / "vmap"

rng = np.random.default_rng(0)
X = rng.standard_normal((3, 4)).astype(np.float32)
Y = rng.standard_normal((5, 4)).astype(np.float32)
Z = rng.standard_normal((4, 4)).astype(np.float32)
V = rng.standard_normal((3, 4, 2)).astype(np.float32)


def assert_tree_same(got, want, what: str, rtol: float = 1e-6, atol: float = 1e-6) -> None:
    """Same pytree structure, shapes, dtypes and values (and weak types, where JAX returns
    a jax Array: an unbatched argument passed through comes back as it was given)."""
    got_leaves, got_tree = llax.tree_util.tree_flatten(got)
    want_leaves, want_tree = jax.tree_util.tree_flatten(want)
    assert str(got_tree) == str(want_tree), f"{what}: {got_tree} != {want_tree}"
    for g, w in zip(got_leaves, want_leaves):
        if isinstance(w, jax.Array):
            assert_same(g, w, rtol=rtol, atol=atol, what=what)
        else:
            np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=rtol, atol=atol,
                                       err_msg=what)
            assert np.asarray(g).dtype == np.asarray(w).dtype, what


def same_as_jax(make, *, jit: bool = True) -> None:
    """``make(vmap, numpy_module)`` builds the same call for llax and JAX; results agree.

    With ``jit`` the llax call is also made under ``llax.jit`` of a function of no
    arguments that closes over the inputs, so the batched ops are compiled.
    """
    want = make(jax.vmap, jnp)
    assert_tree_same(make(llax.vmap, lnp), want, "eager")
    if jit:
        assert_tree_same(llax.jit(lambda: make(llax.vmap, lnp))(), want, "jit")


def ops_of(fn) -> list[str]:
    return [op.prim.name for op in walk_ops(fn)]


def traced(f, *args):
    return llax.make_jaxpr(f)(*args).jaxpr.function


# ---------------------------------------------------------------------------------------------
# in_axes and out_axes


Pair = namedtuple("Pair", "u v")

AXES_CASES = {
    "default": lambda vmap, np_: vmap(lambda a: a * 2 + 1)(X),
    "axis 1": lambda vmap, np_: vmap(lambda a: a.sum(), in_axes=1)(X),
    "axis -1": lambda vmap, np_: vmap(lambda a: a @ a.T, in_axes=-1)(V),
    "tuple with None": lambda vmap, np_: vmap(lambda a, b: a @ b, in_axes=(0, None))(X, Z),
    "list": lambda vmap, np_: vmap(lambda a, b: a - b, in_axes=[1, 0])(X.T, X),
    "scalar unmapped": lambda vmap, np_: vmap(lambda a, s: a * s, in_axes=(0, None))(X, 3.0),
    "pytree prefix": lambda vmap, np_: vmap(
        lambda p, a: p["w"] @ a + p["b"], in_axes=({"w": None, "b": 0}, 1))(
        {"w": Z, "b": X}, X.T),
    "tuple leaf axes": lambda vmap, np_: vmap(lambda t: t[0] + t[1], in_axes=((0, 1),))(
        (X, X.T)),
    "list argument": lambda vmap, np_: vmap(lambda xs: xs[0] * xs[1])([X, X]),
    "kwargs mapped over 0": lambda vmap, np_: vmap(lambda a, b: a + b, in_axes=(1,))(X.T, b=X),
    "axis_size, nothing mapped": lambda vmap, np_: vmap(lambda a: a + 1, in_axes=None,
                                                        axis_size=2)(X),
    "axis_size agrees": lambda vmap, np_: vmap(lambda a: a, axis_size=3)(X),
    "out_axes 1": lambda vmap, np_: vmap(lambda a: a * a, in_axes=1, out_axes=1)(V),
    "out_axes -1": lambda vmap, np_: vmap(lambda a: a.T, out_axes=-1)(V),
    "out_axes tuple with None": lambda vmap, np_: vmap(
        lambda a, b: (a + b, b * 2), in_axes=(0, None), out_axes=(0, None))(X, Z[0]),
    "out_axes pytree": lambda vmap, np_: vmap(
        lambda a: {"u": a, "v": 2.0 * np_.ones(3)}, out_axes={"u": 1, "v": None})(X),
    "unbatched output broadcast": lambda vmap, np_: vmap(lambda a, b: b, in_axes=(0, None))(X, Z),
    "python scalar output": lambda vmap, np_: vmap(lambda a: (a, 2.0))(X),
    "namedtuple output": lambda vmap, np_: vmap(lambda a: Pair(a.sum(), a.max()))(X),
    "none in output": lambda vmap, np_: vmap(lambda a: (a, None))(X)[0],
    "non-array unmapped argument": lambda vmap, np_: vmap(lambda a, s: a * len(s),
                                                          in_axes=(0, None))(X, "abc"),
    "empty batch": lambda vmap, np_: vmap(lambda a: a * 2)(np.zeros((0, 3), np.float32)),
}


@pytest.mark.parametrize("name", list(AXES_CASES))
def test_axes_like_jax(name: str) -> None:
    same_as_jax(AXES_CASES[name])


def test_unmapped_argument_is_concrete_in_python_control_flow() -> None:
    # As in JAX: arguments mapped with None reach the function as they are.
    def f(a, flip):
        return -a if flip > 0 else a

    for flip in (1.0, -1.0):
        same_as_jax(lambda vmap, np_, s=flip: vmap(f, in_axes=(0, None))(X, s), jit=False)
    with pytest.raises(llax.errors.TracerBoolConversionError):
        llax.vmap(lambda a: a if a.sum() > 0 else -a)(X)


def test_eager_vmap_traces_every_call() -> None:
    calls = []

    def f(a):
        calls.append(1)
        return a + 1

    g = llax.vmap(f)
    g(X), g(X)
    assert len(calls) == 2


# ---------------------------------------------------------------------------------------------
# Errors: JAX's types and wording


def same_error(make, exc: type[Exception], prefix_only: str | None = None) -> None:
    with pytest.raises(exc) as want:
        make(jax.vmap)
    with pytest.raises(exc) as got:
        make(llax.vmap)
    if prefix_only is None:
        assert str(got.value) == str(want.value)
    else:
        assert str(got.value).startswith(prefix_only) and str(want.value).startswith(prefix_only)


ERROR_CASES = {
    "two sizes": (lambda vmap: vmap(lambda a, b: a + b)(X, Y), ValueError),
    "size along axis 1": (lambda vmap: vmap(lambda a, b: a, in_axes=(0, 1))(X, Y), ValueError),
    "three sizes": (lambda vmap: vmap(lambda a, b, c: a)(X, Y, Z), ValueError),
    "most axes": (lambda vmap: vmap(lambda a, b, c, d: a)(X, Y, X, Z), ValueError),
    "axis_size disagrees": (lambda vmap: vmap(lambda a, b: a, axis_size=4)(X, X), ValueError),
    "pytree argument names": (lambda vmap: vmap(lambda a: a)([X, Y]), ValueError),
    "kwargs names": (lambda vmap: vmap(lambda a, b: a + b)(X, b=Y), ValueError),
    "in_axes length": (lambda vmap: vmap(lambda a, b: a, in_axes=(0, 0, 0))(X, X), ValueError),
    "axis out of range": (lambda vmap: vmap(lambda a: a, in_axes=2)(X), ValueError),
    "negative axis out of range": (lambda vmap: vmap(lambda a: a, in_axes=-3)(X), ValueError),
    "scalar mapped": (lambda vmap: vmap(lambda a: a)(3.0), ValueError),
    "nothing mapped": (lambda vmap: vmap(lambda a: a, in_axes=None)(X), ValueError),
    "no arguments": (lambda vmap: vmap(lambda: 1.0)(), ValueError),
    "out_axes None of a batched output": (lambda vmap: vmap(lambda a: a, out_axes=None)(X),
                                          ValueError),
    "out_axes None in a pytree": (lambda vmap: vmap(
        lambda a: {"u": a, "v": a[0]}, out_axes={"u": 1, "v": None})(X), ValueError),
    "out_axes out of range": (lambda vmap: vmap(lambda a: a, out_axes=3)(X), ValueError),
    "negative out_axes out of range": (lambda vmap: vmap(lambda a: a, out_axes=-3)(X),
                                       ValueError),
    "in_axes a dict": (lambda vmap: vmap(lambda a: a, in_axes={"a": 0})(X), TypeError),
    "in_axes a float": (lambda vmap: vmap(lambda a: a, in_axes=0.5)(X), TypeError),
    "in_axes leaf a string": (lambda vmap: vmap(lambda a, b: a, in_axes=(0, "a"))(X, X),
                              TypeError),
    "out_axes leaf a string": (lambda vmap: vmap(lambda a: a, out_axes="a")(X), TypeError),
    "not an array": (lambda vmap: vmap(lambda a: a)("abc"), TypeError),
    "not callable": (lambda vmap: vmap(3), TypeError),
}


@pytest.mark.parametrize("name", list(ERROR_CASES))
def test_errors_like_jax(name: str) -> None:
    make, exc = ERROR_CASES[name]
    same_error(make, exc)


@pytest.mark.parametrize("make", [
    lambda vmap: vmap(lambda a: a, in_axes=([0, 0, 0],))([X, X]),
    lambda vmap: vmap(lambda a, b: a, in_axes=(0, {"q": 0}))(X, {"p": X}),
])
def test_in_axes_not_a_prefix(make) -> None:
    same_error(make, ValueError, "vmap in_axes specification must be a tree prefix of the "
                                 "corresponding value")


def test_out_axes_not_a_prefix() -> None:
    same_error(lambda vmap: vmap(lambda a: (a, a), out_axes=(0,))(X), ValueError,
               "vmap out_axes specification must be a tree prefix of the corresponding value")


# ---------------------------------------------------------------------------------------------
# Collectives


COLLECTIVE_CASES = {
    "psum": lambda vmap, lax_: vmap(lambda a: lax_.psum(a, "i"), axis_name="i")(X),
    "pmean": lambda vmap, lax_: vmap(lambda a: lax_.pmean(a, "i"), axis_name="i")(X),
    "pmean of ints": lambda vmap, lax_: vmap(lambda a: lax_.pmean(a, "i"), axis_name="i")(
        np.arange(12, dtype=np.int32).reshape(3, 4)),
    "pmax": lambda vmap, lax_: vmap(lambda a: lax_.pmax(a, "i"), axis_name="i")(X),
    "pmin": lambda vmap, lax_: vmap(lambda a: lax_.pmin(a, "i"), axis_name="i")(X),
    "axis_index": lambda vmap, lax_: vmap(lambda a: a * lax_.axis_index("i"), axis_name="i")(X),
    "psum of an unmapped value": lambda vmap, lax_: vmap(
        lambda a, b: lax_.psum(b, "i") + a, in_axes=(0, None), axis_name="i")(X, Z[0]),
    "psum of a constant": lambda vmap, lax_: vmap(lambda a: lax_.psum(1, "i"), axis_name="i")(X),
    "psum of bools counts": lambda vmap, lax_: vmap(lambda a: lax_.psum(a > 0, "i"),
                                                    axis_name="i")(X),
    "psum of a pytree": lambda vmap, lax_: vmap(
        lambda a: lax_.psum({"a": a, "b": 1.0}, "i"), axis_name="i")(X),
    "normalise over the batch": lambda vmap, lax_: vmap(
        lambda a: a - lax_.pmean(a, "i"), axis_name="i", in_axes=1, out_axes=1)(X),
    "out_axes None of a psum": lambda vmap, lax_: vmap(
        lambda a: lax_.psum(a, "i"), axis_name="i", out_axes=None)(X),
    "nested, outer name": lambda vmap, lax_: vmap(vmap(
        lambda a: lax_.psum(a, "i"), axis_name="j"), axis_name="i")(V),
    "nested, inner name": lambda vmap, lax_: vmap(vmap(
        lambda a: lax_.psum(a, "j"), axis_name="j"), axis_name="i")(V),
    "nested, both names": lambda vmap, lax_: vmap(vmap(
        lambda a: lax_.psum(a, ("i", "j")), axis_name="j"), axis_name="i")(V),
    "nested axis_index": lambda vmap, lax_: vmap(vmap(
        lambda a: lax_.axis_index("i") * 10 + lax_.axis_index("j"), axis_name="j"),
        axis_name="i")(V),
    "pmax over an unmapped value": lambda vmap, lax_: vmap(
        lambda a, b: lax_.pmax(b, "i") * a, in_axes=(0, None), axis_name="i")(X, Z[0]),
}


@pytest.mark.parametrize("name", list(COLLECTIVE_CASES))
def test_collectives_match_jax(name: str) -> None:
    make = COLLECTIVE_CASES[name]
    same_as_jax(lambda vmap, np_: make(vmap, lax if np_ is lnp else jax.lax))


def test_collective_ops_are_gone_after_vmap() -> None:
    fn = traced(llax.vmap(lambda a: a - lax.pmean(a, "i") + lax.axis_index("i"),
                          axis_name="i"), X)
    assert not {"psum", "pmax", "pmin", "axis_index"} & set(ops_of(fn))
    assert "reduce_sum" in ops_of(fn) and "iota" in ops_of(fn)


def test_unbound_axis_names() -> None:
    with pytest.raises(NameError) as e:
        lax.psum(X, "i")
    with pytest.raises(NameError) as je:
        jax.lax.psum(X, "i")
    assert str(e.value) == str(je.value) == "unbound axis name: i"
    with pytest.raises(NameError, match="unbound axis name: j"):
        llax.vmap(lambda a: lax.psum(a, "j"), axis_name="i")(X)
    with pytest.raises(NameError, match="unbound axis name: j"):
        llax.jit(llax.vmap(lambda a: lax.axis_index("j"), axis_name="i"))(X)
    with pytest.raises(NameError, match="unbound axis name: i"):
        llax.jit(lambda a: lax.pmax(a, "i"))(X)


# ---------------------------------------------------------------------------------------------
# Composition


def _mlp(np_, params, x):
    (w1, b1), (w2, b2) = params
    h = np_.tanh(x @ w1 + b1)
    return np_.sum(h @ w2 + b2)


PARAMS = [(rng.standard_normal((4, 8)).astype(np.float32), np.zeros(8, np.float32)),
          (rng.standard_normal((8, 2)).astype(np.float32), np.ones(2, np.float32))]


def _loss(np_, w, x, y):
    return np_.sum((np_.tanh(x @ w) - y) ** 2)


W = rng.standard_normal((4, 3)).astype(np.float32)
YS = rng.standard_normal((3, 3)).astype(np.float32)

COMPOSITIONS = {
    "nested vmap": lambda vmap, np_, jit, grad: vmap(vmap(
        lambda a, b: a * b, in_axes=(0, None)), in_axes=(None, 0))(X[0], Y[:, 0]),
    "nested vmap, axis 1 outside": lambda vmap, np_, jit, grad: vmap(
        vmap(lambda a: a @ a), in_axes=1)(V),
    "vmap of jit": lambda vmap, np_, jit, grad: vmap(jit(lambda a: np_.exp(a).T @ a))(V),
    "jit of vmap of vmap": lambda vmap, np_, jit, grad: jit(vmap(vmap(np_.sum)))(V),
    "vmap of jit of vmap": lambda vmap, np_, jit, grad: vmap(jit(vmap(
        lambda a: a.max())), in_axes=2)(V),
    "vmap of grad": lambda vmap, np_, jit, grad: vmap(grad(functools.partial(_mlp, np_)),
                                                      in_axes=(None, 0))(PARAMS, X),
    "per-example gradients": lambda vmap, np_, jit, grad: jit(vmap(
        grad(functools.partial(_loss, np_)), in_axes=(None, 0, 0)))(W, X, YS),
    "grad of vmap": lambda vmap, np_, jit, grad: grad(lambda w: np_.sum(vmap(
        functools.partial(_loss, np_), in_axes=(None, 0, 0))(w, X, YS)))(W),
    "grad of vmap with a collective": lambda vmap, np_, jit, grad: grad(lambda w: np_.sum(vmap(
        lambda x: (lax if np_ is lnp else jax.lax).pmean(np_.tanh(x @ w), "i") ** 2,
        axis_name="i")(X)))(W),
    "vmap of grad with a collective": lambda vmap, np_, jit, grad: vmap(grad(
        lambda x: np_.sum((lax if np_ is lnp else jax.lax).psum(np_.sin(x), "i") ** 2)),
        axis_name="i")(X),
    "vmap of grad of vmap": lambda vmap, np_, jit, grad: vmap(grad(lambda w, x: np_.sum(
        vmap(lambda r: np_.tanh(r @ w))(x))), in_axes=(None, 0))(W, V.transpose(0, 2, 1)),
}


@pytest.mark.parametrize("name", list(COMPOSITIONS))
def test_compositions_like_jax(name: str) -> None:
    make = COMPOSITIONS[name]
    want = make(jax.vmap, jnp, jax.jit, jax.grad)
    got = make(llax.vmap, lnp, llax.jit, llax.grad)
    assert_tree_same(got, want, name, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# Composite programs against per-example results


def _softmax(x):
    e = lnp.exp(x - lnp.max(x))
    return e / lnp.sum(e)


def _layernorm(x, g):
    mu = lnp.mean(x)
    return g * (x - mu) / lnp.sqrt(lnp.var(x) + 1e-5)


I3 = np.array([2, 0, 4], np.int32)
ROWS = rng.standard_normal((3, 5, 4)).astype(np.float32)

PROGRAMS = {
    "softmax": (_softmax, (0,), [X]),
    "layernorm with shared gain": (_layernorm, (0, None), [X, Z[0]]),
    "index with a mapped scalar": (lambda m, i: m[i], (0, 0), [ROWS, I3]),
    # Unmapped arguments reach the function as they are (NumPy here), as in JAX.
    "index a shared table": (lambda m, i: lnp.asarray(m)[i], (None, 0), [ROWS[0], I3]),
    "index a mapped table": (lambda m, i: m[i], (0, None), [ROWS, 1]),
    "gather rows": (lambda m, i: m[i] * 2, (0, 0), [ROWS, np.array([[1, 3], [0, 0], [4, 2]],
                                                                   np.int32)]),
    "at[i].set": (lambda m, i, v: lnp.asarray(m).at[i].set(v), (0, 0, 0), [ROWS, I3, X]),
    "at[i].add shared values": (lambda m, i, v: lnp.asarray(m).at[i].add(v), (0, 0, None),
                                [ROWS, I3, X[0]]),
    "dynamic_slice": (lambda m, i: lax.dynamic_slice(m, (i, 1), (2, 3)), (None, 0),
                      [ROWS[0], I3]),
    "dynamic_update_slice": (lambda m, u, i: lax.dynamic_update_slice(m, u, (i, 0)), (0, None, 0),
                             [ROWS, np.ones((2, 4), np.float32), I3]),
    "where and argmax": (lambda a: lnp.where(a > 0, a, 0.0).argmax(), (0,), [X]),
    "one-hot by iota": (lambda i: (lnp.arange(5) == i).astype(lnp.float32), (0,), [I3]),
    "reshape, transpose, concatenate": (lambda a: lnp.concatenate(
        [a.reshape(2, 2).T, a.reshape(2, 2)], axis=1).ravel(), (1,), [X.T]),
    "matrix-vector": (lambda v: Z @ v, (0,), [X]),
    "outer product": (lambda u, v: lnp.outer(u, v), (0, 0), [X, X]),
    "pad with a mapped value": (lambda a, c: lax.pad(a, c, [(1, 2, 1)]), (0, 0), [X, X[:, 0]]),
}


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_program_equals_stacked_examples(name: str) -> None:
    f, in_axes, args = PROGRAMS[name]
    size = next(np.shape(a)[ax] for a, ax in zip(args, in_axes) if ax is not None)
    examples = [[a if ax is None else np.take(a, b, axis=ax) for a, ax in zip(args, in_axes)]
                for b in range(size)]
    want = np.stack([np.asarray(f(*ex)) for ex in examples])
    for got in (llax.vmap(f, in_axes=in_axes)(*args),
                llax.jit(llax.vmap(f, in_axes=in_axes))(*args)):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6, err_msg=name)
        assert np.asarray(got).dtype == want.dtype


# ---------------------------------------------------------------------------------------------
# The batched IR


def test_golden_batched_matvec() -> None:
    # A matrix times a batch of vectors must be one matrix-matrix product: no loop, no
    # per-example ops, no broadcast of the matrix, no transpose of the result.
    a = lnp.asarray(np.arange(12, dtype=np.float32).reshape(3, 4))

    def matvec(v):
        return a @ v

    fn = traced(llax.vmap(matvec), np.zeros((8, 4), np.float32))
    assert ops_of(fn) == ["dot_general"]
    path = GOLDEN / "matvec.ir"
    text = print_function(fn) + "\n"
    if os.environ.get("LLAX_UPDATE_GOLDEN"):  # after an intended change; review the diff
        path.write_text(text)
    assert text == path.read_text()


def test_unbatched_operands_stay_unbatched() -> None:
    w = lnp.asarray(Z)
    fn = traced(llax.vmap(lambda x: x * 2.0 + w[0]), X)
    assert ops_of(fn).count("broadcast_in_dim") == 1  # w[0] spread along the batch, once
    assert "transpose" not in ops_of(fn)
    # Work that does not depend on the example is done once, unbatched.
    fn = traced(llax.vmap(lambda x: x + lnp.tanh(w).sum(0)), X)
    (tanh,) = [op for op in fn.ops if op.prim.name == "tanh"]
    assert tanh.outputs[0].type.shape == (4, 4)


def test_batch_axis_stays_where_it_is() -> None:
    fn = traced(llax.vmap(lambda a: lnp.sin(a) * a, in_axes=1, out_axes=1), X)
    assert ops_of(fn) == ["sin", "mul"]


def test_per_example_gradients_ir() -> None:
    loss = functools.partial(_loss, lnp)
    fn = traced(llax.vmap(llax.grad(loss), in_axes=(None, 0, 0)), W, X, YS)
    names = ops_of(fn)
    assert names.count("dot_general") == 2  # the forward x @ w and the per-example outer product
    assert not {"gather", "scatter", "concatenate"} & set(names)


def test_verifier_runs_on_batched_functions(monkeypatch) -> None:
    # conftest turns llax_verify on, so every vmap in the tests verifies what it built.
    from llax.ir import verifier

    seen = []
    monkeypatch.setattr(verifier, "verify", seen.append)
    llax.vmap(lambda a: a + 1)(X)
    assert [fn.name for fn in seen] == ["vmap_<lambda>"]


# ---------------------------------------------------------------------------------------------
# Functions with custom derivatives: their rules are batched along with them. The rules
# below differ from the true derivatives (factors 2 and 3), so using them is visible.


def _with_custom_jvp(custom_jvp, np_):
    @custom_jvp
    def f(x, w):
        return np_.sin(x) * w

    @f.defjvp
    def f_jvp(primals, tangents):
        (x, w), (tx, tw) = primals, tangents
        return f(x, w), 2.0 * np_.cos(x) * w * tx + 3.0 * np_.sin(x) * tw

    return f


def _with_custom_vjp(custom_vjp, np_):
    @custom_vjp
    def f(x, w):
        return np_.sin(x) * w

    def fwd(x, w):
        return f(x, w), (np_.cos(x), x, w)

    def bwd(res, g):
        c, x, w = res
        return 2.0 * c * w * g, 3.0 * np_.sin(x) * g

    f.defvjp(fwd, bwd)
    return f


CUSTOM_CASES = {
    "vmap": lambda vmap, grad, jit, np_, f: vmap(f, in_axes=(0, None))(X, Z[0]),
    "jit of vmap": lambda vmap, grad, jit, np_, f: jit(vmap(f, in_axes=(0, None)))(X, Z[0]),
    "grad of vmap, one argument unmapped": lambda vmap, grad, jit, np_, f: grad(
        lambda x, w: np_.sum(vmap(f, in_axes=(0, None))(x, w)), argnums=(0, 1))(X, Z[0]),
    "grad of vmap along axis 1": lambda vmap, grad, jit, np_, f: grad(
        lambda x, w: np_.sum(vmap(f, in_axes=1)(x, w) ** 2), argnums=(0, 1))(X, X),
    "jit of grad of vmap": lambda vmap, grad, jit, np_, f: jit(grad(
        lambda x, w: np_.sum(vmap(f, in_axes=(0, None))(x, w)), argnums=(0, 1)))(X, Z[0]),
    "vmap of grad": lambda vmap, grad, jit, np_, f: vmap(grad(
        lambda x, w: np_.sum(f(x, w)), argnums=(0, 1)), in_axes=(0, None))(X, Z[0]),
}


@pytest.mark.parametrize("kind", ["custom_jvp", "custom_vjp"])
@pytest.mark.parametrize("case", list(CUSTOM_CASES))
def test_custom_derivatives_under_vmap(kind: str, case: str) -> None:
    make = {"custom_jvp": _with_custom_jvp, "custom_vjp": _with_custom_vjp}[kind]
    run = CUSTOM_CASES[case]
    want = run(jax.vmap, jax.grad, jax.jit, jnp, make(getattr(jax, kind), jnp))
    got = run(llax.vmap, llax.grad, llax.jit, lnp, make(getattr(llax, kind), lnp))
    assert_tree_same(got, want, f"{kind}: {case}", rtol=1e-5, atol=1e-6)


def test_custom_lin_batched_and_transposed() -> None:
    # What forward mode leaves of a custom_vjp function (custom_lin), batched over its
    # tangent and then transposed, runs the user's bwd on the whole batch.
    from llax.ir.interpreter import evaluate_function
    from llax.ir.verifier import verify
    from llax.transforms.batching import batch_function
    from llax.transforms.transpose import transpose_function

    f = _with_custom_vjp(llax.custom_vjp, lnp)
    fn = traced(lambda x, w, t: llax.jvp(lambda x: f(x, w), (x,), (t,))[1], X[0], Z[0], X[0])
    assert "custom_lin" in ops_of(fn) and len(fn.params) == 3
    batched, (out_dim,) = batch_function(fn, [None, None, 0], 3)
    verify(batched)
    assert "custom_lin" in ops_of(batched)
    cts = rng.standard_normal((3, 4)).astype(np.float32)
    (got,) = evaluate_function(transpose_function(batched, [False, False, True])[0],
                               [X[0], Z[0], np.moveaxis(cts, 0, out_dim)])
    want = 2.0 * np.cos(X[0]) * Z[0] * cts  # the custom bwd, for every example
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
