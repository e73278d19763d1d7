"""``lax.reduce_window`` and the max/min-pooling gradient primitives against JAX: values
eager (the reference) and compiled, for sum/max/min (their primitives) and other
computations (the fold over taps), with strides, every padding, base and window
dilation; grad vs JAX and finite differences; vmap vs a loop; ``select_and_scatter_add``
and ``select_and_gather_add`` directly, each the other's transpose; errors."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
import pytest

import llax
from llax import lax
from llax.tests.jnp_oracle import x64_mode

WINDOWS = {
    "pool2x2": ((2, 6, 7, 3), (1, 2, 2, 1), (1, 2, 2, 1), "VALID", None, None),
    "pool3x3_same": ((2, 6, 7, 3), (1, 3, 3, 1), (1, 2, 2, 1), "SAME", None, None),
    "explicit_negative": ((5, 8), (2, 3), (1, 2), ((1, 0), (2, -1)), None, None),
    "dilated": ((5, 8), (2, 3), (2, 1), ((1, 1), (0, 2)), (2, 1), (1, 2)),
    "overlapping_1d": ((9,), (4,), (1,), "SAME_LOWER", None, None),
    "window_too_big": ((2, 3), (3, 4), (1, 1), "VALID", None, None),
    "empty": ((0, 4), (1, 2), (1, 1), "VALID", None, None),
    # enough work to be split over the thread pool
    "large_pool": ((16, 64, 64, 16), (1, 2, 2, 1), (1, 2, 2, 1), "VALID", None, None),
}
MONOIDS = {"add": 0, "max": -np.inf, "min": np.inf}


def _reduce(lib: Any, computation: str, init: Any, case: tuple):
    _, window, strides, padding, base, wdil = case
    return lambda x: lib.lax.reduce_window(x, init, getattr(lib.lax, computation), window,
                                           strides, padding, base, wdil)


def _close(got: Any, want: Any, tol: float = 1e-5) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype,
                                                                  want.shape, want.dtype)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def _init(computation: str, dtype: Any) -> Any:
    value = {"add": 0, "mul": 1, "max": -np.inf, "min": np.inf}[computation]
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        value = {-np.inf: info.min, np.inf: info.max}.get(value, value)
    return np.asarray(value, dtype)


@pytest.mark.parametrize("name, computation, dtype", [
    (n, c, d) for n in sorted(WINDOWS) for c in ("add", "max", "min", "mul")
    for d in (np.float32, np.int32)
    # integers on the small windows only; the large pool's fold (mul) is slow to compile
    if (d is np.float32 or n != "large_pool") and (c != "mul" or n != "large_pool")], ids=str)
def test_values_vs_jax(name: str, computation: str, dtype: Any) -> None:
    case = WINDOWS[name]
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(case[0]) * 3).astype(dtype)
    init = _init(computation, dtype)
    want = _reduce(jax, computation, init, case)(x)
    _close(_reduce(llax, computation, init, case)(x), want)
    _close(llax.jit(_reduce(llax, computation, init, case))(x), want)


def test_monoids_bind_their_primitives_and_others_fold() -> None:
    x = np.ones((4, 4), np.float32)
    for computation, init, prim in [("add", 0.0, "reduce_window_sum"),
                                    ("max", -np.inf, "reduce_window_max"),
                                    ("min", np.inf, "reduce_window_min")]:
        text = str(llax.make_jaxpr(_reduce(llax, computation, np.float32(init),
                                           WINDOWS["explicit_negative"]))(x))
        assert prim in text
    # add with a non-zero initial value is no longer the sum primitive: the fold.
    text = str(llax.make_jaxpr(_reduce(llax, "add", np.float32(1),
                                       WINDOWS["explicit_negative"]))(x))
    assert "reduce_window_sum" not in text and "slice" in text


def test_pytree_operands_fold_jointly_vs_jax() -> None:
    """An argmax pool: (value, index) pairs reduced together by a general computation."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 7)).astype(np.float32)
    idx = np.arange(42, dtype=np.int32).reshape(6, 7)

    def run(L):
        def pick(a, b):
            take_b = L.lax.gt(b[0], a[0])
            return (L.lax.select(take_b, b[0], a[0]), L.lax.select(take_b, b[1], a[1]))

        return L.lax.reduce_window((x, idx), (np.float32(-np.inf), np.int32(-1)), pick,
                                   (2, 3), (2, 2), "SAME")

    got, want = run(llax), run(jax)
    _close(got[0], want[0])
    _close(got[1], want[1])


@pytest.mark.parametrize("name", ["pool2x2", "pool3x3_same", "overlapping_1d"])
@pytest.mark.parametrize("computation", ["add", "max", "min"])
def test_grad_vs_jax(name: str, computation: str) -> None:
    case = WINDOWS[name]
    with x64_mode(True):
        x = np.random.default_rng(2).standard_normal(case[0])
        init = np.float64(MONOIDS[computation])

        def loss(lib):
            return lambda x: lib.numpy.sum(lib.numpy.sin(_reduce(lib, computation, init,
                                                                 case)(x)))

        want = jax.grad(loss(jax))(x)
        _close(llax.grad(loss(llax))(x), want, 1e-12)
        _close(llax.jit(llax.grad(loss(llax)))(x), want, 1e-12)


@pytest.mark.parametrize("name", ["dilated", "explicit_negative"])
@pytest.mark.parametrize("computation", ["add", "max", "min", "mul"])
def test_grad_vs_finite_differences(name: str, computation: str) -> None:
    """Dilated windows and negative padding (JAX 0.10 cannot differentiate these pools; the
    rules and the fold must still agree with the function)."""
    case = WINDOWS[name]
    with x64_mode(True):
        x = np.random.default_rng(3).standard_normal(case[0])
        init = _init(computation, np.float64)

        def loss(x):
            return llax.numpy.sum(llax.numpy.sin(_reduce(llax, computation, init, case)(x)))

        t = np.random.default_rng(4).standard_normal(x.shape)
        eps = 1e-6
        numeric = (float(loss(x + eps * t)) - float(loss(x - eps * t))) / (2 * eps)
        np.testing.assert_allclose(np.sum(np.asarray(llax.grad(loss)(x)) * t), numeric,
                                   rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", ["pool2x2", "dilated", "overlapping_1d"])
@pytest.mark.parametrize("computation", ["add", "max", "mul"])
def test_vmap_vs_a_loop(name: str, computation: str) -> None:
    case = WINDOWS[name]
    xs = np.random.default_rng(5).standard_normal((3, *case[0])).astype(np.float32)
    f = _reduce(llax, computation, _init(computation, np.float32), case)
    want = np.stack([np.asarray(f(x)) for x in xs])
    _close(llax.vmap(f)(xs), want)
    _close(llax.jit(llax.vmap(f, in_axes=1))(np.moveaxis(xs, 0, 1)), want)


@pytest.mark.parametrize("select", ["ge", "le"])
def test_select_and_scatter_add_vs_jax(select: str) -> None:
    from jax._src.lax import windowed_reductions as jw

    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 7, 6, 3)).astype(np.float32)
    window, strides, pads = (1, 3, 2, 1), (1, 2, 2, 1), ((0, 0), (1, 1), (0, 1), (0, 0))
    out_shape = lax.reduce_window_shape_tuple(x.shape, window, strides, pads)
    s = rng.standard_normal(out_shape).astype(np.float32)
    prim = jax.lax.ge_p if select == "ge" else jax.lax.le_p
    want = jw._select_and_scatter_add(s, x, prim, window, strides, pads)
    mine = getattr(lax, select)
    _close(lax.select_and_scatter_add(s, x, mine, window, strides, pads), want)
    _close(llax.jit(lambda s, x: lax.select_and_scatter_add(s, x, select, window, strides,
                                                            pads))(s, x), want)
    t = rng.standard_normal(x.shape).astype(np.float32)
    want_g = jw._select_and_gather_add(t, x, prim, window, strides, pads, (1,) * 4, (1,) * 4)
    _close(lax.select_and_gather_add(t, x, mine, window, strides, pads, (1,) * 4, (1,) * 4),
           want_g)


@pytest.mark.parametrize("window, strides", [((1, 2, 2, 1), (1, 2, 2, 1)),
                                             ((1, 3, 3, 1), (1, 2, 2, 1)),  # overlapping
                                             ((2, 3, 1, 1), (1, 2, 1, 1))])  # along axis 0
def test_large_max_pool_grad_vs_jax(window, strides) -> None:
    """Max-pool gradients big enough to be split over the thread pool (where windows
    do not overlap along the split axis)."""
    x = np.random.default_rng(8).standard_normal((16, 40, 40, 16)).astype(np.float32)

    def loss(lib):
        return lambda x: lib.numpy.sum(lib.numpy.cos(lib.lax.reduce_window(
            x, -np.inf, lib.lax.max, window, strides, "SAME")))

    _close(llax.jit(llax.grad(loss(llax)))(x), jax.grad(loss(jax))(x))


@pytest.mark.parametrize("axes", [(0, None), (None, 0), (0, 1)], ids=str)
@pytest.mark.parametrize("kind", ["gather", "scatter"])
def test_select_vmap_vs_a_loop(kind: str, axes: tuple) -> None:
    rng = np.random.default_rng(9)
    window, strides, pads = (2, 3), (2, 1), ((1, 0), (0, 1))
    xs = rng.standard_normal((3, 5, 6)).astype(np.float32)
    out_shape = lax.reduce_window_shape_tuple((5, 6), window, strides, pads)
    first = rng.standard_normal((3, *(out_shape if kind == "scatter" else (5, 6)))).astype(
        np.float32)

    def f(a, x):
        if kind == "gather":
            return lax.select_and_gather_add(a, x, "ge", window, strides, pads, (1, 1), (1, 1))
        return lax.select_and_scatter_add(a, x, "ge", window, strides, pads)

    a_in = first if axes[0] is not None else first[0]
    x_in = (np.moveaxis(xs, 0, axes[1]) if axes[1] is not None else xs[0])
    want = np.stack([np.asarray(f(first[i] if axes[0] is not None else first[0],
                                  xs[i] if axes[1] is not None else xs[0])) for i in range(3)])
    _close(llax.vmap(f, axes)(a_in, x_in), want)
    _close(llax.jit(llax.vmap(f, axes))(a_in, x_in), want)


def test_scatter_and_gather_are_each_others_transpose() -> None:
    rng = np.random.default_rng(7)
    with x64_mode(True):
        x = rng.standard_normal((7, 6))
        window, strides, pads = (3, 2), (2, 1), ((1, 1), (0, 1))
        shape = lax.reduce_window_shape_tuple(x.shape, window, strides, pads)
        s, t = rng.standard_normal(shape), rng.standard_normal(x.shape)
        scattered = lax.select_and_scatter_add(s, x, "ge", window, strides, pads)
        gathered = lax.select_and_gather_add(t, x, "ge", window, strides, pads, (1, 1), (1, 1))
        np.testing.assert_allclose(np.sum(np.asarray(scattered) * t),
                                   np.sum(s * np.asarray(gathered)), rtol=1e-12)
        # and the transposition rules say so too
        _, pullback = llax.vjp(lambda t: lax.select_and_gather_add(
            t, x, "ge", window, strides, pads, (1, 1), (1, 1)), t)
        np.testing.assert_allclose(np.asarray(pullback(s)[0]), np.asarray(scattered),
                                   rtol=1e-12)


def test_shape_tuple_vs_jax() -> None:
    for args in [((8, 28, 28, 32), (1, 2, 2, 1), (1, 2, 2, 1), ((0, 0),) * 4),
                 ((5, 9), (2, 3), (2, 1), ((1, 0), (0, 2)), (2, 1), (1, 2))]:
        assert lax.reduce_window_shape_tuple(*args) == tuple(
            jax.lax.reduce_window_shape_tuple(*args))


@pytest.mark.parametrize("kwargs, error", [
    (dict(window_dimensions=(2,)), TypeError),  # wrong rank
    (dict(window_dimensions=(2, 2), window_strides=(1,)), TypeError),
    (dict(window_dimensions=(2, 2), padding="FULL"), RuntimeError),
])
def test_errors_match_jax(kwargs: dict, error: type) -> None:
    x = np.ones((4, 4), np.float32)
    for L in (jax.lax, lax):
        with pytest.raises(error):
            L.reduce_window(x, np.float32(0), L.add, **kwargs)


def test_ir_text_round_trip() -> None:
    """Window params (pads, dilations, the select name) print and parse back equal."""
    from llax.ir import prims as P
    from llax.ir.core import Function, Op, Params, Var
    from llax.ir.parser import parse_function
    from llax.ir.primitive import infer_types
    from llax.ir.printer import print_function
    from llax.ir.types import TensorType
    from llax.ir.verifier import verify

    x = Var(TensorType((5, 8), np.dtype(np.float32)))
    window = Params(window_dimensions=(2, 3), window_strides=(2, 1),
                    padding=((1, 1), (0, -1)), base_dilation=(2, 1), window_dilation=(1, 2))
    (pooled_t,) = infer_types(P.reduce_window_max, (x.type,), window)
    pooled = Var(pooled_t)
    t = Var(TensorType((5, 8), np.dtype(np.float32)))
    gather_params = Params(select_prim="ge", **dict(window.items()))
    (gathered_t,) = infer_types(P.select_and_gather_add, (t.type, x.type), gather_params)
    gathered = Var(gathered_t)
    fn = Function((x, t), (Op(P.reduce_window_max, (x,), (pooled,), window),
                           Op(P.select_and_gather_add, (t, x), (gathered,), gather_params)),
                  (pooled, gathered))
    text = print_function(fn)
    assert "padding=((1, 1), (0, -1))" in text and "select_prim" in text
    back = parse_function(text)
    assert print_function(back) == text
    verify(back)
