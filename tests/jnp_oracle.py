"""Helpers for the differential tests of ``llax.numpy`` and ``llax.lax`` against JAX.

``check(llax_fn, jax_fn, *args)`` runs the same computation through llax (eager,
and under ``llax.jit`` unless told not to) and through JAX (the oracle), and
asserts equal shapes, dtypes, weak types and values (NaNs equal, floats within a
tolerance for the dtype). ``x64`` is a fixture that runs a test in both modes.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Callable, Iterator
from typing import Any

import jax
import numpy as np
import pytest

import llax
from llax.config import config
from llax.frontend.core import Array, Tracer

# Tolerances per dtype for floating results; XLA's float32 transcendental functions
# are a few ulps away from NumPy's and ours.
RTOL = {np.dtype("float16"): 2e-3, np.dtype("float32"): 2e-5, np.dtype("float64"): 1e-12}
ATOL = {np.dtype("float16"): 1e-3, np.dtype("float32"): 1e-6, np.dtype("float64"): 1e-13}


@contextlib.contextmanager
def x64_mode(on: bool) -> Iterator[None]:
    """Set both JAX's and llax's x64 flag, restoring both afterwards."""
    old = bool(jax.config.jax_enable_x64)
    jax.config.update("jax_enable_x64", on)
    try:
        with config.override("jax_enable_x64", on):
            yield
    finally:
        jax.config.update("jax_enable_x64", old)


@pytest.fixture(params=[False, True], ids=["x32", "x64"])
def x64(request: pytest.FixtureRequest) -> Iterator[bool]:
    with x64_mode(request.param):
        yield request.param


def leaves(x: Any) -> list[Any]:
    if isinstance(x, (tuple, list)):
        return [leaf for item in x for leaf in leaves(item)]
    return [x]


def assert_same(got: Any, want: Any, *, rtol: float | None = None, atol: float | None = None,
                check_weak: bool = True, what: str = "") -> None:
    """``got`` (llax) matches ``want`` (JAX) in structure, shape, dtype, weak type, values."""
    got_leaves, want_leaves = leaves(got), leaves(want)
    assert len(got_leaves) == len(want_leaves), f"{what}: {got!r} vs {want!r}"
    for g, w in zip(got_leaves, want_leaves):
        assert isinstance(g, (Array, Tracer)), f"{what}: expected an llax Array, got {g!r}"
        wv = np.asarray(w)
        gv = np.asarray(g)
        assert gv.shape == wv.shape, f"{what}: shape {gv.shape} != {wv.shape}"
        assert gv.dtype == wv.dtype, f"{what}: dtype {gv.dtype} != {wv.dtype}"
        if check_weak:
            assert g.weak_type == w.weak_type, f"{what}: weak_type {g.weak_type} != {w.weak_type}"
        if gv.dtype.kind == "f":
            np.testing.assert_allclose(gv, wv, rtol=rtol or RTOL[gv.dtype],
                                       atol=atol if atol is not None else ATOL[gv.dtype],
                                       equal_nan=True, err_msg=what)
        else:
            np.testing.assert_array_equal(gv, wv, err_msg=what)


def check(llax_fn: Callable, jax_fn: Callable, *args: Any, jit: bool = True,
          rtol: float | None = None, atol: float | None = None, check_weak: bool = True) -> Any:
    """Compare ``llax_fn(*args)`` (eager, then jitted) with ``jax_fn(*args)``."""
    want = jax_fn(*args)
    got = llax_fn(*args)
    assert_same(got, want, rtol=rtol, atol=atol, check_weak=check_weak, what="eager")
    if jit:
        jitted = llax.jit(llax_fn)(*args)
        # Under jit a Python scalar argument is a weak-typed parameter in both systems.
        want_jit = jax.jit(jax_fn)(*args) if any(
            isinstance(a, (bool, int, float)) for a in args) else want
        assert_same(jitted, want_jit, rtol=rtol, atol=atol, check_weak=check_weak, what="jit")
    return got


def _rejected_by_jax(jax_fn: Callable, args: tuple) -> bool:
    try:
        jax.eval_shape(jax_fn, *args)
    except (TypeError, ValueError, NotImplementedError):
        return True
    return False


def check_many(cases: dict[str, tuple[Callable, Callable]], *args: np.ndarray,
               jit: bool = True, weak_exempt: frozenset[str] = frozenset()) -> None:
    """``check`` for many functions of the same array arguments at once.

    JAX computes all expectations in one jitted call and llax jits all functions
    together: one compilation each instead of one per function, which keeps the
    suite fast. Where JAX rejects the inputs, llax must raise too.
    """
    accepted = {}
    for name, (llax_fn, jax_fn) in cases.items():
        if _rejected_by_jax(jax_fn, args):
            with pytest.raises((TypeError, ValueError, NotImplementedError)):
                llax_fn(*args)
            continue
        accepted[name] = (llax_fn, jax_fn)
    if not accepted:
        return
    want = jax.jit(lambda *a: {n: f(*a) for n, (_, f) in accepted.items()})(*args)
    for name, (llax_fn, _) in accepted.items():
        assert_same(llax_fn(*args), want[name], check_weak=name not in weak_exempt,
                    what=f"{name} (eager)")
    if not jit:
        return
    try:
        got = llax.jit(lambda *a: {n: f(*a) for n, (f, _) in accepted.items()})(*args)
    except Exception:
        for name, (llax_fn, _) in accepted.items():  # name the function that fails
            try:
                llax.jit(llax_fn)(*args)
            except Exception as e:
                raise AssertionError(f"{name} fails under jit: {type(e).__name__}: {e}") from e
        raise
    for name in accepted:
        assert_same(got[name], want[name], check_weak=name not in weak_exempt,
                    what=f"{name} (jit)")


def pair(name: str, *args: Any, **kwargs: Any) -> tuple[Callable, Callable]:
    """llax's and JAX's ``numpy.<name>(x, *args, **kwargs)`` as functions of ``x``."""
    import llax.numpy as lnp

    lf, jf = getattr(lnp, name), getattr(jax.numpy, name)
    return (lambda x: lf(x, *args, **kwargs)), (lambda x: jf(x, *args, **kwargs))


def as_jax(fn: Callable) -> Callable:
    """The same function with the global ``lnp`` meaning ``jax.numpy``."""
    return types.FunctionType(fn.__code__, {**fn.__globals__, "lnp": jax.numpy}, fn.__name__,
                              fn.__defaults__, fn.__closure__)


def assert_grads_match_jax(makes: list[Callable], x: np.ndarray, rtol: float = 1e-5) -> None:
    """For each ``make(np_module, x)``: grad of its sum matches JAX's eagerly; and grad of
    a weighted total of all of them matches under jit (one compilation for the lot)."""
    import llax.numpy as lnp

    for make in makes:
        loss = lambda m, make=make: lambda x: m.sum(make(m, x))  # noqa: E731
        assert_same(llax.grad(loss(lnp))(x), jax.grad(loss(jax.numpy))(x), rtol=rtol)
    total = lambda m: lambda x: sum(m.sum(f(m, x)) * (i + 1)  # noqa: E731
                                    for i, f in enumerate(makes))
    assert_same(llax.jit(llax.grad(total(lnp)))(x), jax.grad(total(jax.numpy))(x), rtol=rtol)


def primitive_names(fn: Callable, *args: Any, use_jax: bool = False) -> list[str]:
    maker = jax.make_jaxpr if use_jax else llax.make_jaxpr
    return [e.primitive.name for e in maker(fn)(*args).jaxpr.eqns]


_SPECIAL = {
    "f": [0.0, -0.0, 1.0, -1.5, 2.5, 0.5, -0.5, 3.0, 1e-3, 7.25, np.inf, -np.inf, np.nan],
    "i": [0, 1, -1, 2, -7, 7, 3, -3, 100],
    "u": [0, 1, 2, 7, 3, 100, 255],
    "b": [True, False],
}


def sample(dtype: Any, shape: tuple[int, ...] = (13,), *, seed: int = 0,
           special: bool = True, low: float = -4, high: float = 4) -> np.ndarray:
    """A NumPy test input: special values first, then random ones."""
    dt = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    kind = "b" if dt == np.bool_ else dt.kind
    if kind == "b":
        vals = rng.integers(0, 2, n).astype(bool)
    elif kind in "iu":
        lo = 0 if kind == "u" else int(low) * 3
        vals = rng.integers(lo, int(high) * 3 + 1, n).astype(dt)
    else:
        vals = rng.uniform(low, high, n).astype(dt)
    if special and n:
        spec = np.array(_SPECIAL[kind], dtype=dt)[:n]
        vals[: spec.size] = spec
    return vals.reshape(shape)
