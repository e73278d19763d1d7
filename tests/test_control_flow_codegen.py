"""Compiled cond / switch / while / fori_loop / scan against the reference interpreter (the
same optimised IR, evaluated with NumPy) and JAX; the ``aliases`` buffer assignment
(hand-annotated here: the inplace pass is not in the pipeline yet), and the structure of the
generated loops (no copy and no allocation per iteration, xs slices read in place)."""

from __future__ import annotations

import re
from collections.abc import Callable

import jax
import networkx as nx
import numpy as np
import pytest

import llax
import llax.numpy as lnp
from llax import lax
from llax.codegen import compile_native
from llax.codegen.emitter import LoweringError
from llax.config import config
from llax.frontend.compile import optimize
from llax.ir import prims as P
from llax.ir.core import Function, Op
from llax.ir.interpreter import evaluate_function
from llax.tests.codegen_util import assert_same

# The pipeline with the inplace pass (buffer reuse), whether or not the default runs it.
INPLACE = "simplify,cse,dce,fuse,inplace"
NO_INPLACE = "simplify,cse,dce,fuse"  # buffer reuse is annotated by hand in these tests


def _leaves(tree) -> list[np.ndarray]:
    return [np.asarray(v) for v in jax.tree_util.tree_leaves(tree)]


def check(make: Callable, *args, rtol: float = 0.0, atol: float = 0.0, jax_too: bool = True):
    """``make(lax, jnp)`` compiled by llax (with and without the inplace pass) against the
    interpreter and against JAX, to ``rtol``/``atol`` (exactly by default; transcendentals
    and sums are not bit for bit NumPy's); the arguments must come back unchanged."""
    args = [np.asarray(a) for a in args]
    before = [a.copy() for a in args]
    f = make(lax, lnp)
    want = _leaves(llax.jit(f, backend="interpreter")(*args))
    for pipeline in (NO_INPLACE, INPLACE):
        got = _leaves(llax.jit(f, pipeline=pipeline)(*args))
        assert len(got) == len(want)
        for k, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, rtol, atol, what=f"result {k} vs the interpreter ({pipeline})")
    if jax_too:
        ref = _leaves(jax.jit(make(jax.lax, jax.numpy))(*args))
        for k, (g, r) in enumerate(zip(got, ref)):
            assert (g.shape, g.dtype) == (r.shape, r.dtype), (k, g.shape, r.shape, g.dtype)
            np.testing.assert_allclose(g, r, rtol=rtol, atol=atol, err_msg=f"result {k} vs JAX")
    for a, b in zip(args, before):
        assert_same(a, b, what="an input after the call")
    return got


def _values(dtype, shape, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if np.dtype(dtype) == np.bool_:
        return rng.random(shape) < 0.5
    if np.dtype(dtype).kind == "f":
        return rng.uniform(-2, 2, shape).astype(dtype)
    return rng.integers(-50, 50, shape).astype(dtype)


DTYPES = [np.float32, np.int32, np.bool_]
SHAPES = [(), (5,), (0,), (3, 40)]


# --- cond / switch -----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("pred", [True, False])
def test_cond(dtype, shape, pred) -> None:
    def make(lax, jnp):
        def f(p, x, y, s):
            # Results passed through, returned twice, broadcast from a scalar.
            return lax.cond(p, lambda x, y: (jnp.maximum(x, y), y, jnp.maximum(x, s)),
                            lambda x, y: (x, x, y), x, y)
        return f

    x, y = _values(dtype, shape, 1), _values(dtype, shape, 2)
    check(make, np.bool_(pred), x, y, _values(dtype, (), 3))


@pytest.mark.parametrize("index", [-1, 0, 1, 2, 7])
def test_switch_clamps_the_index(index) -> None:
    def make(lax, jnp):
        def f(i, x):
            return lax.switch(i, [lambda x: x * 2.0, lambda x: jnp.sin(x), lambda x: -x], x)
        return f

    check(make, np.int32(index), _values(np.float32, (100,)), rtol=1e-6)


def test_cond_with_constant_results_and_literal_index() -> None:
    def make(lax, jnp):
        def f(x):
            a = lax.cond(True, lambda x: jnp.zeros_like(x), lambda x: x, x)
            b = lax.switch(1, [lambda x: x, lambda x: jnp.full_like(x, 3.0)], x)
            return a, b, lax.cond(x[0] > 0, lambda x: jnp.ones(3), lambda x: jnp.arange(3.0), x)
        return f

    for sign in (1, -1):
        check(make, sign * np.ones(4, np.float32))


# --- while ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("steps", [0, 1, 4])
def test_while(dtype, shape, steps) -> None:
    def make(lax, jnp):
        def f(n, x, y):
            def body(c):
                i, x, y = c
                x = x ^ y if x.dtype == np.bool_ else x * 2 + y
                return i + 1, x, y  # y passes through unchanged
            return lax.while_loop(lambda c: c[0] < n, body, (0, x, y))
        return f

    check(make, np.int32(steps), _values(dtype, shape, 1), _values(dtype, shape, 2))


@pytest.mark.parametrize("steps", [0, 1, 2, 3])
def test_while_double_buffered_carry(steps) -> None:
    # A carry too big for registers that the body cannot update in place (a reversal reads
    # other elements): two buffers swapped every iteration, the result in either.
    def make(lax, jnp):
        def f(n, x):
            return lax.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1][::-1] + 1.0),
                                  (0, x))
        return f

    check(make, np.int32(steps), np.arange(1000, dtype=np.float32))


def test_while_cond_reads_consts_and_carry() -> None:
    def make(lax, jnp):
        def f(a, tol):
            def body(c):
                x, k = c
                return 0.5 * (x + a / x), k + 1
            return lax.while_loop(lambda c: jnp.max(jnp.abs(c[0] * c[0] - a)) > tol, body, (a, 0))
        return f

    a = np.random.default_rng(0).uniform(0.5, 100, 3000).astype(np.float32)
    x, k = check(make, a, np.float32(1e-3), rtol=1e-6)
    np.testing.assert_allclose(x, np.sqrt(a.astype(np.float64)), rtol=1e-6)
    assert 3 <= k <= 12


# --- fori_loop ---------------------------------------------------------------------------------

@pytest.mark.parametrize("traced_bounds", [False, True])
@pytest.mark.parametrize("upper", [0, 1, 5])
def test_fori_loop(traced_bounds, upper) -> None:
    def make(lax, jnp):
        def f(lo, hi, x):
            lo, hi = (lo, hi) if traced_bounds else (0, upper)
            return lax.fori_loop(lo, hi, lambda i, x: x.at[i % 7].add(i * x[0] + 1.0), x)
        return f

    check(make, np.int32(0), np.int32(upper), np.arange(7, dtype=np.float32))


# --- scan ----------------------------------------------------------------------------------

@pytest.mark.parametrize("length", [0, 1, 2, 3, 8])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("width", [3, 100])  # carry in registers / in two swapped buffers
def test_scan(length, reverse, width) -> None:
    def make(lax, jnp):
        def f(c0, xs, w):
            def step(c, x):
                new = c[::-1] * 0.5 + x * w
                return new, (new, c, jnp.sum(x), x)  # carry as ys, old carry, reduction, slice
            return lax.scan(step, c0, xs, reverse=reverse)
        return f

    check(make, _values(np.float32, (width,)), _values(np.float32, (length, width), 1),
          np.float32(0.25), rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_scan_dtypes_and_empty_slices(dtype) -> None:
    def make(lax, jnp):
        def f(c0, xs, empty):
            def step(c, xe):
                x, e = xe
                c = c | x if c.dtype == np.bool_ else c + x
                return c, (c, e)
            return lax.scan(step, c0, (xs, empty))
        return f

    check(make, _values(dtype, (4,)), _values(dtype, (6, 4), 1), np.zeros((6, 0), dtype))


@pytest.mark.parametrize("unroll", [1, 2, 3, True])
def test_scan_unroll_is_only_a_hint(unroll) -> None:
    def make(lax, jnp):
        def f(xs):
            return lax.scan(lambda c, x: (c * 0.5 + x, c), 0.0, xs, unroll=unroll)
        return f

    check(make, _values(np.float32, (7,)), rtol=1e-6)
    xs = _values(np.float32, (7,))
    llvm = compile_native(fn := _traced(make(lax, lnp), xs), fn).stages["llvm"]
    count = min(7, 7 if unroll is True else unroll)
    assert (f'!"llvm.loop.unroll.count", i32 {count} ' in llvm) == (count > 1)


def test_scan_of_only_consts_and_no_carry() -> None:
    def make(lax, jnp):
        def f(w, xs):
            return lax.map(lambda x: jnp.dot(w, x), xs)
        return f

    check(make, _values(np.float32, (5, 6)), _values(np.float32, (4, 6), 1), rtol=1e-5)


def test_rnn_scan_with_dots_and_gathers() -> None:
    def make(lax, jnp):
        def f(w, u, emb, tokens, h0):
            def step(h, t):
                h = jnp.tanh(w @ h + u @ emb[t])  # dots, a gather, a fusion
                return h, jnp.max(h)
            return lax.scan(step, h0, tokens)
        return f

    rng = np.random.default_rng(0)
    h, d = 64, 32
    check(make, (rng.standard_normal((h, h)) / 8).astype(np.float32),
          (rng.standard_normal((h, d)) / 6).astype(np.float32),
          rng.standard_normal((10, d)).astype(np.float32),
          rng.integers(0, 10, 50).astype(np.int32), np.zeros(h, np.float32), rtol=2e-5,
          atol=1e-6)


def test_histogram_by_scatter_in_a_loop() -> None:
    def make(lax, jnp):
        def f(xs):
            def step(counts, x):
                return counts.at[x].add(1), counts[x]
            return lax.scan(step, jnp.zeros(16, jnp.int32), xs)
        return f

    check(make, np.random.default_rng(0).integers(0, 16, 200).astype(np.int32))


# --- nesting ---------------------------------------------------------------------------------

def test_scan_in_while_in_cond() -> None:
    def make(lax, jnp):
        def inner(x):
            return lax.scan(lambda c, r: (c + r, c * r), jnp.zeros_like(x[0]), x)

        def loop(x):
            def body(c):
                i, x, acc = c
                s, ys = inner(x)
                return i + 1, x * 0.5 + ys, acc + s
            return lax.while_loop(lambda c: c[0] < 3, body, (0, x, jnp.zeros_like(x[0])))

        def f(p, x):
            return lax.cond(p > 0, loop, lambda x: (0, x, x[0]), x)
        return f

    x = _values(np.float32, (5, 40))
    for p in (1.0, -1.0):
        check(make, np.float32(p), x, rtol=1e-5, atol=1e-6)


def test_nested_scans_with_small_and_large_carries() -> None:
    def make(lax, jnp):
        def f(xs):
            def outer(c, row):
                inner_c, ys = lax.scan(lambda a, x: (a * 0.9 + x, a), c[0], row)
                return (inner_c, c[1] + ys), ys[-1]
            return lax.scan(outer, (jnp.float32(0), jnp.zeros(xs.shape[1])), xs)
        return f

    check(make, _values(np.float32, (6, 300)), rtol=1e-5, atol=1e-6)


# --- x64 -------------------------------------------------------------------------------------

def test_float64_loops() -> None:
    def make(lax, jnp):
        def f(x, xs):
            y = lax.fori_loop(0, 10, lambda i, c: jnp.cos(c) + i, x)
            return y, lax.scan(lambda c, v: (c * v + 1, c), x[0], xs)
        return f

    with jax.enable_x64(True), config.override("jax_enable_x64", True):
        got = check(make, _values(np.float64, (50,)), _values(np.float64, (9,), 1), rtol=1e-13)
    assert got[0].dtype == np.float64


# --- aliasing traps without annotations ------------------------------------------------------

def test_old_and_updated_array_both_returned() -> None:
    def make(lax, jnp):
        def f(x):
            y = lax.fori_loop(0, 3, lambda i, c: c.at[i].set(-1.0), x)
            z = lax.cond(x[0] > 0, lambda x: x.at[1].set(9.0), lambda x: x, x)
            return x, y, z, x
        return f

    check(make, np.arange(1.0, 6.0, dtype=np.float32))


def test_carries_that_swap_and_repeat() -> None:
    def make(lax, jnp):
        def f(a, b):
            return lax.fori_loop(0, 5, lambda i, c: (c[1], c[0] + 1.0, c[1]), (a, b, a))
        return f

    check(make, np.zeros(100, np.float32), np.ones(100, np.float32))


# --- hand-annotated buffer assignment (aliases) ----------------------------------------------

def _traced(f: Callable, *args) -> Function:
    """Optimised without the inplace pass: the tests annotate by hand."""
    return optimize(llax.make_jaxpr(f)(*args).jaxpr.function, NO_INPLACE)


def annotate(fn: Function, rule: Callable[[Op], tuple | None]) -> Function:
    """``fn`` with ``aliases=rule(op)`` on every op (in regions too) for which it is not None."""
    ops = []
    for op in fn.ops:
        if op.regions:
            op = op.replace(regions=tuple(annotate(r, rule) for r in op.regions))
        aliases = rule(op)
        if aliases is not None:
            op = op.replace(params=op.params.replace(aliases=aliases))
        ops.append(op)
    return fn.replace(ops=tuple(ops))


def _updates_in_place(op: Op) -> tuple | None:
    return ((0, 0),) if op.prim in P.SCATTERS or op.prim is P.dynamic_update_slice else None


def _compile(fn: Function, *args):
    """(compiled results, interpreter results, LLVM IR), inputs checked unchanged."""
    args = [np.asarray(a) for a in args]
    before = [a.copy() for a in args]
    compiled = compile_native(fn, fn)
    got = compiled.call(args)
    want = evaluate_function(fn, args)
    for k, (g, w) in enumerate(zip(got, want)):
        assert_same(g, np.asarray(w), what=f"result {k}")
    for a, b in zip(args, before):
        assert_same(a, b, what="an input after the call")
    return got, compiled.stages["llvm"]


def _kernel_cfg(llvm: str) -> tuple[nx.DiGraph, dict[str, str]]:
    """The control-flow graph of the (unoptimised) kernel function: block -> its text."""
    body = llvm.split('define internal void @"llax_kernel"', 1)[1].split("\n}", 1)[0]
    blocks: dict[str, str] = {}
    name = None
    for line in body.splitlines()[1:]:
        m = re.match(r'^"?([\w.]+)"?:', line)
        if m:
            name = m.group(1)
            blocks[name] = ""
        elif name is not None:
            blocks[name] += line + "\n"
    g = nx.DiGraph()
    for n, text in blocks.items():
        g.add_node(n)
        for target in re.findall(r'label %"?([\w.]+)"?', text):
            g.add_edge(n, target)
    return g, blocks


def _in_loops(llvm: str) -> str:
    """The text of every kernel block that lies on a cycle (inside some loop)."""
    g, blocks = _kernel_cfg(llvm)
    cyclic = {n for scc in nx.strongly_connected_components(g) if len(scc) > 1 for n in scc}
    cyclic |= {n for n in g if g.has_edge(n, n)}
    return "".join(blocks[n] for n in cyclic)


def _n_sized(text: str, nbytes: int, n: int) -> list[str]:
    """Copies of ``nbytes`` and loops of ``n`` iterations in ``text``."""
    return (re.findall(rf"memcpy[^\n]*i64 {nbytes},", text)
            + re.findall(rf"icmp slt i64 [^\n]*, {n}\n", text))


@pytest.mark.parametrize("annotated", [True, False])
def test_update_in_a_loop_is_in_place_when_annotated(annotated) -> None:
    # The benchmark (10,000 single-element updates of a 1e6 array) at a tenth of the
    # array: the same code, and unannotated it still copies 4 GB. Annotated, the kernel
    # copies the input into the output once, before the loop, and updates it there.
    n = 10**5

    def f(x):
        return lax.fori_loop(0, 10000, lambda i, x: x.at[i % n].set(x[i % n] * 2 + 1), x)

    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    fn = _traced(f, x)
    if annotated:
        fn = annotate(fn, _updates_in_place)
    (got,), llvm = _compile(fn, x)
    want = x.copy()
    for i in range(10000):
        want[i % n] = want[i % n] * np.float32(2) + np.float32(1)
    assert_same(got, want)
    inside = _n_sized(_in_loops(llvm), 4 * n, n)
    assert len(re.findall(rf"memcpy[^\n]*i64 {4 * n},", llvm)) >= 1
    assert (not inside) == annotated, inside
    assert "aligned_alloc" not in _in_loops(llvm)


def test_dynamic_update_slice_in_place_writes_only_the_window() -> None:
    n = 4096

    def f(x, u):
        return lax.fori_loop(0, 7, lambda i, x: lax.dynamic_update_slice(x, u * i, (i * 600,)),
                             x)

    x, u = np.zeros(n, np.float32), np.arange(1.0, 65.0, dtype=np.float32)
    fn = annotate(_traced(f, x, u), _updates_in_place)
    _, llvm = _compile(fn, x, u)
    assert not _n_sized(_in_loops(llvm), 4 * n, n)


def test_scan_reads_xs_slices_in_place() -> None:
    length, width = 9, 4096

    def f(xs):
        return lax.scan(lambda c, x: (c + x[3], x * 2.0), 0.0, xs)

    xs = _values(np.float32, (length, width))
    (c, ys), llvm = _compile(_traced(f, xs), xs)
    np.testing.assert_allclose(ys, xs * 2)
    loop = _in_loops(llvm)
    # Each iteration passes xs + i * slice bytes (and ys + i * slice bytes) to its loop nests.
    assert not _n_sized(loop, 4 * width, width) and "aligned_alloc" not in loop
    assert re.search(rf'mul nuw nsw i64 %"?[\w.]+"?, {4 * width}', loop)
    assert re.search(r'getelementptr inbounds i8, ptr %"\.1"', loop)  # the xs argument


def test_small_carries_live_in_registers() -> None:
    # A fori_loop over a scalar: counter and carry are stack slots that LLVM promotes, so
    # the optimised kernel touches no stack and allocates nothing.
    x = np.float32(3)
    fn = _traced(lambda x: lax.fori_loop(0, 100, lambda i, c: c * 0.5 + i, x), x)
    _compile(fn, x)
    opt = compile_native(fn, fn).stages["llvm-opt"]
    assert "alloca" not in opt and "aligned_alloc" not in opt


def test_elementwise_fusion_in_place_in_a_while_loop() -> None:
    def f(a):
        def body(c):
            x, k = c
            return 0.5 * (x + a / x), k + 1
        return lax.while_loop(lambda c: c[1] < 5, body, (a, 0))

    a = np.random.default_rng(0).uniform(0.5, 100, 5000).astype(np.float32)
    fn = _traced(f, a)
    (loop,) = [o for o in fn.ops if o.prim is P.while_loop]
    body = loop.regions[1]
    carry_x = body.params[-2]
    (update,) = [o for o in body.ops if o.prim is P.fusion and carry_x in o.inputs]
    # The region reads the carry x at the output's own index only: it may write over it.
    k = update.inputs.index(carry_x)
    fn = annotate(fn, lambda op: ((0, k),) if op.outputs == update.outputs else None)
    (x, steps), llvm = _compile(fn, a)
    assert steps == 5
    # One buffer for the carry: no second buffer to swap with, no copy in the loop.
    assert not _n_sized(_in_loops(llvm), a.nbytes, a.size)
    assert "aligned_alloc" not in llvm


def test_cond_outputs_in_operand_buffers_with_swapped_results() -> None:
    # Branch 1 swaps its operands: output 0 lives in operand 1's buffer and output 1 in
    # operand 2's, so one of them must be saved before the other is overwritten.
    def f(p, x, y):
        a, b = x * 2.0, y * 3.0
        return lax.cond(p, lambda a, b: (a.at[0].set(7.0), b), lambda a, b: (b, a), a, b)

    x, y = _values(np.float32, (300,)), _values(np.float32, (300,), 1)
    fn = _traced(f, np.bool_(True), x, y)

    def rule(op: Op) -> tuple | None:
        if op.prim is P.cond:
            return ((0, 1), (1, 2))
        return _updates_in_place(op)

    fn = annotate(fn, rule)
    for p in (True, False):
        _compile(fn, np.bool_(p), x, y)


def test_alias_into_an_input_is_not_followed() -> None:
    # The scan's init is a kernel input: the kernel must never write it, even if told to.
    def f(x):
        return lax.fori_loop(0, 3, lambda i, c: c.at[i].set(0.0), x)

    x = np.arange(1.0, 101.0, dtype=np.float32)

    def rule(op: Op) -> tuple | None:
        return ((1, 1),) if op.prim is P.scan else _updates_in_place(op)

    _compile(annotate(_traced(f, x), rule), x)


def test_invalid_aliases_raise() -> None:
    def f(x):
        y = x * 2.0
        return y + 1.0, y

    fn = _traced(f, np.ones(3, np.float32))
    bad = annotate(fn, lambda op: ((0, 0),) if op.prim in (P.mul, P.add) else None)
    with pytest.raises(LoweringError, match="still read"):
        compile_native(bad, bad)
    dot = _traced(lambda a: a @ a, np.ones((3, 3), np.float32))
    bad = annotate(dot, lambda op: ((0, 0),) if op.prim is P.dot_general else None)
    with pytest.raises(LoweringError, match="cannot store output 0 in operand 0"):
        compile_native(bad, bad)


def test_fusion_alias_through_an_index_map_is_not_followed() -> None:
    # out[i] = (y * 2 + 1)[n - 1 - i]: storing it over y would overwrite y[n - 1 - i] while
    # it is still to be read, so the kernel writes a fresh buffer.
    def f(x, w):
        return lnp.flip(x @ w * 2.0 + 1.0)

    x, w = np.arange(8, dtype=np.float32).reshape(1, 8), np.eye(8, dtype=np.float32)
    fn = annotate(_traced(f, x, w), lambda op: ((0, 0),) if op.prim is P.fusion else None)
    (got,), _ = _compile(fn, x, w)
    assert_same(got, np.flip(x @ w * 2 + 1))
