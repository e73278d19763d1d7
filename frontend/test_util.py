"""``llax.test_util``: check derivatives against finite differences (JAX's ``check_grads``).

Each check looks along one random direction (a fixed seed), so it costs a few
function evaluations whatever the sizes:

- forward mode: ``jvp``'s tangent against the central difference
  ``(f(x + eps v) - f(x - eps v)) / (2 eps)``;
- reverse mode: the cotangent ``u`` pulled back by ``vjp`` must satisfy
  ``<v, vjp(u)> == <jvp(v), u>`` with the tangent from finite differences.

``order=k`` repeats the checks on the derivative functions themselves, up to
order ``k``. Tolerances are per dtype (float32: 2e-3), scaled by the number of
elements compared, as JAX's are; ``atol``/``rtol`` may be a number or a dict by
dtype.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from llax.frontend.autodiff import jvp, linearize, vjp
from llax.frontend.tree_util import tree_leaves, tree_map
from llax.ir import dtypes

EPS = 1e-4

# Gradient tolerances by dtype (those of JAX's checks).
_GRAD_TOLERANCE: dict[np.dtype, float] = {
    np.dtype(np.float16): 1e-2,
    np.dtype(np.float32): 2e-3,
    np.dtype(np.float64): 1e-5,
}
try:
    import ml_dtypes

    _GRAD_TOLERANCE[np.dtype(ml_dtypes.bfloat16)] = 1e-1
except ImportError:  # pragma: no cover - ml_dtypes ships with llax's dependencies
    pass


def _dtype(x: Any) -> np.dtype:
    if hasattr(x, "dtype"):
        return np.dtype(x.dtype)
    if isinstance(x, bool):
        return np.dtype(np.bool_)
    if isinstance(x, int):
        return np.dtype(np.int32)
    if isinstance(x, float):
        return np.dtype(np.float32)
    return np.asarray(x).dtype


def _is_python_scalar(x: Any) -> bool:
    return isinstance(x, (bool, int, float)) and not isinstance(x, np.generic)


def _tolerance(dtype: np.dtype, tol: Any) -> float:
    if tol is None:
        tol = {}
    if not isinstance(tol, dict):
        return float(tol)
    given = {np.dtype(k): v for k, v in tol.items()}
    if dtype == np.float64:  # without x64 float64 values are float32
        from llax.ir import dtypes

        dtype = dtypes.canonicalize(dtype)
    return given.get(dtype, _GRAD_TOLERANCE.get(dtype, 0.0))


def _assert_close(a: Any, b: Any, atol: Any, rtol: Any, what: str) -> None:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise AssertionError(f"{what}: shapes differ, {a.shape} and {b.shape}")
    at = max(_tolerance(a.dtype, atol), _tolerance(b.dtype, atol))
    rt = max(_tolerance(a.dtype, rtol), _tolerance(b.dtype, rtol))
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(a.astype(np.float64) if dtypes.kind(a.dtype) == "f" else a,
                                   b.astype(np.float64) if dtypes.kind(b.dtype) == "f" else b,
                                   atol=at * a.size, rtol=rt * b.size, err_msg=what)


def _check_close(xs: Any, ys: Any, atol: Any, rtol: Any, what: str) -> None:
    tree_map(lambda x, y: _assert_close(x, y, atol, rtol, what), xs, ys)


def _random_like(rng: np.random.RandomState, x: Any) -> Any:
    value = np.asarray(rng.randn(*np.shape(x)), dtype=_dtype(x))
    return value.item() if _is_python_scalar(x) else value


def _scaled(xs: Any, factor: float) -> Any:
    def scale(x):
        dt = _dtype(x)
        out = np.multiply(x, np.array(factor, dt), dtype=dt)
        return out.item() if _is_python_scalar(x) else out

    return tree_map(scale, xs)


def _combine(op: Callable, xs: Any, ys: Any) -> Any:
    def one(x, y):
        out = np.array(op(np.asarray(x), np.asarray(y)), dtype=_dtype(x))
        return out.item() if _is_python_scalar(x) and _is_python_scalar(y) else out

    return tree_map(one, xs, ys)


def _difference(xs: Any, ys: Any) -> Any:
    """``xs - ys`` with ``inf - inf == 0`` (an output that is infinite on both sides)."""
    def one(x, y):
        dt = _dtype(x)
        x, y = np.asarray(x), np.asarray(y)
        with np.errstate(invalid="ignore"):
            return np.where(x == y, np.array(0, dt), np.subtract(x, y, dtype=dt))

    return tree_map(one, xs, ys)


def numerical_jvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any],
                  eps: float = EPS) -> Any:
    """The central finite difference of ``f`` at ``primals`` along ``tangents``."""
    step = _scaled(tangents, eps)
    above = f(*_combine(np.add, primals, step))
    below = f(*_combine(np.subtract, primals, step))
    return _scaled(_difference(above, below), 0.5 / eps)


def _inner(xs: Any, ys: Any) -> float:
    pairs = zip(tree_leaves(xs), tree_leaves(ys))
    return sum(float(np.dot(np.ravel(np.asarray(x, np.float64)),
                            np.ravel(np.asarray(y, np.float64)))) for x, y in pairs)


def _same_dtypes(xs: Any, ys: Any) -> None:
    from llax.ir import dtypes

    def one(x, y):
        dx, dy = dtypes.canonicalize(_dtype(x)), dtypes.canonicalize(_dtype(y))
        if dx != dy:
            raise AssertionError(f"dtypes differ: {dx} and {dy}")

    tree_map(one, xs, ys)


def check_jvp(f: Callable, f_jvp: Callable, args: Sequence[Any], atol: Any = None,
              rtol: Any = None, eps: float = EPS, err_msg: str = "") -> None:
    """``f_jvp(primals, tangents)`` (e.g. ``partial(jvp, f)``) against finite differences
    of ``f`` along one random direction."""
    rng = np.random.RandomState(0)
    tangent = tree_map(lambda x: _random_like(rng, x), tuple(args))
    out, t_out = f_jvp(tuple(args), tangent)
    _same_dtypes(out, t_out)
    expected = f(*args)
    _same_dtypes(out, expected)
    _check_close(out, expected, atol, rtol, f"{err_msg} primal" if err_msg else "primal")
    _check_close(t_out, numerical_jvp(f, args, tangent, eps), atol, rtol,
                 f"{err_msg} tangent" if err_msg else "tangent")


def check_vjp(f: Callable, f_vjp: Callable, args: Sequence[Any], atol: Any = None,
              rtol: Any = None, eps: float = EPS, err_msg: str = "") -> None:
    """``f_vjp(*primals)`` (e.g. ``partial(vjp, f)``) against finite differences: the
    pulled-back cotangent's projection on a random tangent must match."""
    rng = np.random.RandomState(0)
    out, pullback = f_vjp(*args)
    _check_close(out, f(*args), atol, rtol, f"{err_msg} primal" if err_msg else "primal")
    tangent = tree_map(lambda x: _random_like(rng, x), tuple(args))
    t_out = numerical_jvp(f, args, tangent, eps)
    cotangent = tree_map(lambda x: _random_like(rng, x), out)
    ct_in = pullback(cotangent)
    _check_close(_inner(tangent, ct_in), _inner(t_out, cotangent), atol, rtol,
                 f"{err_msg} cotangent projection" if err_msg else "cotangent projection")


def _jvp_by_linearize(f: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple:
    out, f_lin = linearize(f, *primals)
    return out, f_lin(*tangents)


def check_grads(f: Callable, args: Sequence[Any], order: int,
                modes: Sequence[str] = ("fwd", "rev"), atol: Any = None, rtol: Any = None,
                eps: float | None = None) -> None:
    """Check ``f``'s derivatives at ``args`` up to ``order`` in the ``modes`` ("fwd", "rev",
    "lin") against finite differences; AssertionError if one does not match."""
    args = tuple(args)
    eps = eps or EPS
    checks = {"fwd": (check_jvp, lambda g: functools.partial(jvp, g)),
              "rev": (check_vjp, lambda g: functools.partial(vjp, g)),
              "lin": (check_jvp, lambda g: functools.partial(_jvp_by_linearize, g))}

    def run(g: Callable, g_args: tuple, k: int, msg: str) -> None:
        for mode in ("fwd", "rev", "lin"):
            if mode not in modes:
                continue
            label = {"fwd": "JVP", "rev": "VJP", "lin": "LIN"}[mode]
            label = f"{label} of {msg}" if msg else label
            check, derivative = checks[mode]
            check(g, derivative(g), g_args, atol=atol, rtol=rtol, eps=eps, err_msg=label)
            if k <= 1:
                continue
            if mode == "rev":
                def pulled_back(*xs, g=g):
                    out, pullback = vjp(g, *xs)
                    return pullback(out)

                run(pulled_back, g_args, k - 1, label)
            else:
                run(derivative(g), (g_args, g_args), k - 1, label)

    run(f, args, order, "")


__all__ = ["check_grads", "check_jvp", "check_vjp", "numerical_jvp"]
