"""Donation end to end: a donated Array's buffer becomes the output's buffer.

``jit(f, donate_argnums=...)`` lets the ``inplace`` pass put results in donated inputs'
buffers; the kernel then computes them there (no output pointer, no copy) and the entry
returns the donated input's own ndarray. Checked here: output addresses against the
donated input's address recorded before the call; the generated code (the kernel's
parameters, no n-sized copy); results against the reference interpreter or NumPy; that
nothing the caller can still read is ever written (inputs not donated, donated NumPy
arrays, buffers some other name still holds); and deletion of the donated Arrays.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pytest

import llax
import llax.numpy as lnp
from llax import lax
from llax.codegen import native
from llax.codegen.target import compile_module
from llax.tests.codegen_util import assert_same


def address(a) -> int:
    return np.asarray(a).__array_interface__["data"][0]


def kernel_params(llvm: str) -> int:
    """How many pointers the kernel takes (inputs, then the outputs it is given)."""
    header = re.search(r'define internal void @"llax_kernel"\((.*)\)', llvm)
    return len(re.findall(r"\bptr\b", header.group(1)))


def interpreted(f: Callable, *args):
    """The reference result: ``f`` on the interpreter, on private copies of the arguments."""
    copies = [llax.tree_util.tree_map(np.array, a) for a in args]
    return llax.jit(f, backend="interpreter")(*copies)


def test_update_is_computed_in_the_donated_buffer() -> None:
    f = llax.jit(lambda x: x.at[0].set(1.0), donate_argnums=0)
    values = np.arange(2.0, 10.0, dtype=np.float32)
    x = lnp.asarray(values)
    before = address(x)
    out = f(x)
    assert address(out) == before
    want = values.copy()
    want[0] = 1.0
    assert_same(np.asarray(out), want)
    assert not np.asarray(out).flags.writeable  # read-only, like every output
    assert x.is_deleted()
    with pytest.raises(RuntimeError, match="Array has been deleted"):
        f(x)
    # The kernel has no output pointer: it writes the one input it is given.
    assert kernel_params(f.lower(lnp.asarray(values)).as_text("llvm")) == 1


def test_fori_loop_of_updates_on_a_donated_array_copies_nothing() -> None:
    n, steps = 10**6, 10_000

    def f(x):
        return lax.fori_loop(0, steps, lambda i, x: x.at[i % n].set(x[i % n] * 2 + 1), x)

    values = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    g = llax.jit(f, donate_argnums=0)
    lowered = g.lower(lnp.asarray(values))
    x = lnp.asarray(values)
    before = address(x)
    out = g(x)
    assert address(out) == before
    want = values.copy()
    for i in range(steps):
        want[i % n] = want[i % n] * np.float32(2) + np.float32(1)
    assert_same(np.asarray(out), want)
    for stage in ("llvm", "llvm-opt"):
        text = lowered.as_text(stage)
        assert not re.findall(rf"memcpy[^\n]*i64 {4 * n}\b", text), stage
    assert kernel_params(lowered.as_text("llvm")) == 1
    # The same loop without donation copies its input into a fresh output once.
    plain = llax.jit(f).lower(lnp.asarray(values)).as_text("llvm")
    assert len(re.findall(rf"memcpy[^\n]*i64 {4 * n}\b", plain)) == 1


@pytest.mark.parametrize("n", [5, 100_000])  # one kernel call runs with the GIL released
def test_training_step_reuses_the_parameter_buffer(n) -> None:
    rng = np.random.default_rng(1)
    p0, g0 = (rng.standard_normal(n).astype(np.float32) for _ in range(2))
    step = llax.jit(lambda p, g: p - 0.1 * g, donate_argnums=0)
    p, g = lnp.asarray(p0), lnp.asarray(g0)
    g_address = address(g)
    want = p0
    for _ in range(3):
        before = address(p)
        p = step(p, g)
        assert address(p) == before
        want = want - np.float32(0.1) * g0
        assert_same(np.asarray(p), want)
    # The gradient, not donated, is never written and never taken.
    assert not g.is_deleted() and address(g) == g_address
    assert_same(np.asarray(g), g0)


def test_inputs_not_donated_are_never_written() -> None:
    def f(x, y):
        return x.at[1].add(y[0]), y * 2.0

    x0, y0 = np.arange(4.0, dtype=np.float32), np.arange(10.0, 14.0, dtype=np.float32)
    x, y = lnp.asarray(x0), lnp.asarray(y0)
    ya = address(y)
    a, b = llax.jit(f, donate_argnums=0)(x, y)
    want_a, want_b = interpreted(f, x0, y0)
    assert_same(np.asarray(a), np.asarray(want_a))
    assert_same(np.asarray(b), np.asarray(want_b))
    assert_same(np.asarray(y), y0)
    assert address(b) != ya and x.is_deleted()


def test_donated_numpy_arrays_are_never_modified() -> None:
    f = llax.jit(lambda x: lax.fori_loop(0, 4, lambda i, x: x.at[i].set(-1.0), x),
                 donate_argnums=0)
    x = np.arange(6.0, dtype=np.float32)
    out = f(x)
    assert_same(x, np.arange(6.0, dtype=np.float32))
    assert address(out) != address(x)
    assert_same(np.asarray(out), np.array([-1, -1, -1, -1, 4, 5], np.float32))
    assert not np.asarray(out).flags.writeable


def warmed(f: Callable, *args) -> Callable:
    """``f`` after one call on fresh arrays like ``args``: later calls take the fast path."""
    f(*[lnp.asarray(np.asarray(a)) for a in args])
    return f


@pytest.mark.parametrize("warm", [False, True])
@pytest.mark.parametrize("hold", [
    lambda x: np.asarray(x),  # a NumPy name for the Array's own buffer
    lambda x: np.asarray(x)[2:],  # a view into it
    lambda x: memoryview(np.asarray(x)),
    lambda x: x.reshape(2, 4),  # Arrays that eager ops made as views of it
    lambda x: x[2:],
], ids=["ndarray", "ndarray-view", "memoryview", "reshaped-Array", "sliced-Array"])
def test_a_buffer_held_elsewhere_is_copied_not_written(hold, warm) -> None:
    values = np.arange(8.0, dtype=np.float32)
    x = lnp.asarray(values)
    f = llax.jit(lambda x: x.at[3].set(0.0), donate_argnums=0)
    if warm:
        f = warmed(f, x)
    held = hold(x)
    seen = np.array(held)
    out = f(x)
    assert_same(np.array(held), seen)
    assert address(out) != address(held)
    want = values.copy()
    want[3] = 0.0
    assert_same(np.asarray(out), want)
    assert x.is_deleted()  # given up all the same, as JAX does


def test_two_outputs_of_the_donated_type_only_one_takes_it() -> None:
    def f(x):
        return x * 2.0, x + 1.0

    values = np.arange(6.0, dtype=np.float32)
    x = lnp.asarray(values)
    before = address(x)
    a, b = llax.jit(f, donate_argnums=0)(x)
    assert [address(a), address(b)].count(before) == 1
    assert address(a) != address(b)
    assert_same(np.asarray(a), values * 2)
    assert_same(np.asarray(b), values + 1)


def test_the_same_result_twice_is_one_buffer_and_one_copy() -> None:
    def f(x):
        y = x.at[0].set(5.0)
        return y, y

    values = np.arange(6.0, dtype=np.float32)
    x = lnp.asarray(values)
    before = address(x)
    a, b = llax.jit(f, donate_argnums=0)(x)
    assert address(a) == before and address(b) != before
    want = values.copy()
    want[0] = 5.0
    assert_same(np.asarray(a), want)
    assert_same(np.asarray(b), want)


@pytest.mark.parametrize("twice", [False, True])
def test_identity_returns_the_donated_array_itself(twice) -> None:
    f = llax.jit((lambda x: (x, x)) if twice else (lambda x: x), donate_argnums=0)
    values = np.arange(5, dtype=np.int32)
    x = lnp.asarray(values)
    before = address(x)
    out = f(x)
    outs = list(out) if twice else [out]
    assert address(outs[0]) == before
    if twice:
        assert address(outs[1]) != before
    for o in outs:
        assert_same(np.asarray(o), values)
        assert not np.asarray(o).flags.writeable
    assert x.is_deleted()


@pytest.mark.parametrize("leaves", [2, 5])  # 5 params + 5 grads: the table-driven entry
def test_donated_parameter_dict(leaves) -> None:
    rng = np.random.default_rng(2)
    shapes = [(3, 4), (4,), (2, 2), (7,), ()][:leaves]
    names = [f"w{k}" for k in range(leaves)]

    def sgd(params, grads):
        return {k: params[k] - 0.5 * grads[k] for k in params}

    p0 = {k: rng.standard_normal(s).astype(np.float32) for k, s in zip(names, shapes)}
    g0 = {k: rng.standard_normal(s).astype(np.float32) for k, s in zip(names, shapes)}
    params = {k: lnp.asarray(v) for k, v in p0.items()}
    grads = {k: lnp.asarray(v) for k, v in g0.items()}
    before = {k: address(v) for k, v in params.items()}
    new = llax.jit(sgd, donate_argnums=0)(params, grads)
    want = interpreted(sgd, p0, g0)
    for k in names:
        assert address(new[k]) == before[k], k
        assert_same(np.asarray(new[k]), np.asarray(want[k]), what=k)
        assert params[k].is_deleted() and not grads[k].is_deleted()
        assert_same(np.asarray(grads[k]), g0[k])


def test_fast_path_calls_check_and_delete_like_the_first() -> None:
    f = warmed(llax.jit(lambda x, y: x + y, donate_argnums=0), np.ones(3, np.float32),
               np.ones(3, np.float32))
    x, y = lnp.ones(3), lnp.ones(3)
    with pytest.raises(ValueError, match="donated"):
        f(x, x)
    assert not x.is_deleted()
    before = address(x)
    out = f(x, y)
    assert address(out) == before and x.is_deleted() and not y.is_deleted()
    assert_same(np.asarray(out), np.full(3, 2, np.float32))
    with pytest.raises(RuntimeError, match="Array has been deleted"):
        f(x, y)
    # A non-contiguous buffer, refused by the native entry, goes the general way.
    t = lnp.asarray(np.arange(9.0, dtype=np.float32).reshape(3, 3)).T[0]
    assert_same(np.asarray(f(t, y)), np.array([1, 4, 7], np.float32))


def test_unusable_donation_warns_on_every_call() -> None:
    f = llax.jit(lambda x, y: (x * 2.0).sum() + y, donate_argnums=(0, 1))
    for _ in range(3):
        x, y = lnp.ones(4), lnp.ones(())
        with pytest.warns(UserWarning, match=r"not usable: float32\[4\]"):
            out = f(x, y)
        assert_same(np.asarray(out), np.float32(9.0))
        assert not x.is_deleted() and y.is_deleted()


def test_donated_keyword_argument() -> None:
    # Keyword leaves are flattened in key order ("a" before "x"), not in the order passed.
    f = llax.jit(lambda x, a: x * 3.0 + a, donate_argnames="x")
    x0, a0 = np.arange(4.0, dtype=np.float32), np.full(4, 0.5, np.float32)
    x, a = lnp.asarray(x0), lnp.asarray(a0)
    before = address(x)
    out = f(x=x, a=a)
    assert address(out) == before
    assert_same(np.asarray(out), x0 * 3 + a0)
    assert x.is_deleted() and not a.is_deleted()
    assert_same(np.asarray(a), a0)


LOOPS = {
    # traced bounds: a while loop; updated in place
    "while": lambda x, n: lax.fori_loop(0, n, lambda i, x: x.at[i].add(1.0) * 0.5, x),
    # a reversal reads what an in-place update would overwrite: two buffers, swapped
    "while-swapped": lambda x, n: lax.fori_loop(0, n, lambda i, x: lnp.flip(x) * 0.5 + i, x),
    "scan-swapped": lambda x, n: lax.fori_loop(0, 5, lambda i, x: lnp.flip(x) * 0.5 + i, x),
    # a carry and stacked outputs (sums: to rounding, their order is the code's own)
    "scan-ys": lambda x, n: lax.scan(lambda c, t: (c * 0.5 + t, c.sum()), x,
                                     lnp.arange(6.0))[::-1],
}


@pytest.mark.parametrize("size", [4, 1000])  # a small carry lives on the stack
@pytest.mark.parametrize("name", list(LOOPS))
def test_loop_carry_starts_in_the_donated_buffer(name, size) -> None:
    f = LOOPS[name]
    values = np.random.default_rng(3).standard_normal(size).astype(np.float32)
    x = lnp.asarray(values)
    before = address(x)
    got = llax.tree_util.tree_leaves(llax.jit(f, donate_argnums=0)(x, 7))
    want = llax.tree_util.tree_leaves(interpreted(f, values, np.int32(7)))
    assert address(got[-1]) == before  # the carry
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-5)


@pytest.mark.parametrize("pred", [False, True])
def test_cond_on_a_donated_array(pred) -> None:
    def f(p, x):
        return lax.cond(p, lambda x: x.at[0].set(1.0), lambda x: x * 2.0, x)

    values = np.arange(2.0, 12.0, dtype=np.float32)
    out = llax.jit(f, donate_argnums=1)(pred, lnp.asarray(values))
    assert_same(np.asarray(out), np.asarray(interpreted(f, np.bool_(pred), values)))


def test_lowered_and_compiled_call_donates_too() -> None:
    f = llax.jit(lambda x: x.at[2].set(9.0), donate_argnums=0)
    values = np.zeros(4, np.float32)
    compiled = f.lower(lnp.asarray(values)).compile()
    x = lnp.asarray(values)
    before = address(x)
    out = compiled(x)
    assert address(out) == before and x.is_deleted()
    assert_same(np.asarray(out), np.array([0, 0, 9, 0], np.float32))


def test_entry_reuse_is_checked() -> None:
    from llax.codegen.lower import lower_function
    from llax.frontend.compile import optimize

    traced = llax.make_jaxpr(lambda x: x + 1.0)(np.zeros(3, np.float32)).jaxpr.function
    fn = optimize(traced, donated=frozenset({0}))
    kernel = lower_function(fn, frozenset({0}))
    assert kernel.reuse == (0,)
    kernel_fn = kernel.module.get_global(kernel.name)
    spec = [((3,), np.float32)]
    with pytest.raises(ValueError, match="cannot reuse input 0"):
        native.add_entry(kernel.module, kernel_fn, [((4,), np.float32)], spec, name="e",
                         reuse=[0])
    with pytest.raises(ValueError, match="no such input"):
        native.add_entry(kernel.module, kernel_fn, spec, spec, name="e", reuse=[1])
    entry = native.add_entry(kernel.module, kernel_fn, spec, spec, name="e", reuse=[0])
    call = native.make_callable(compile_module(str(kernel.module), "e"), entry)
    buf = np.arange(3.0, dtype=np.float32)
    assert call.__self__.reuse == [0]
    out = call(buf)
    assert out is buf  # the same object, returned read-only
    assert_same(out, np.arange(1.0, 4.0, dtype=np.float32))
    assert not out.flags.writeable
    with pytest.raises(Exception, match="donated parameters"):
        lower_function(fn, frozenset({1}))
