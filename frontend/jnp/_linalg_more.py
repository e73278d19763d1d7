"""The rest of ``llax.numpy.linalg``, built from the decompositions and llax.numpy:
``eigvalsh``, ``svdvals``, ``matrix_power``, ``multi_dot``, ``matrix_rank``, ``pinv``,
``lstsq``, ``cond``, ``tensorsolve``, ``tensorinv``, and the array-API spellings
(``matrix_norm``, ``vector_norm``, ``matrix_transpose``, ``outer``, ``cross``,
``diagonal``, ``trace``, ``matmul``, ``tensordot``, ``vecdot``)."""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

import llax.frontend.jnp as jnp
from llax.frontend import lax
from llax.frontend.custom_derivatives import custom_jvp
from llax.frontend.jnp._coerce import as_array, convert, promote_dtypes
from llax.frontend.jnp._dtypes import to_inexact
from llax.frontend.jnp._jacobi import eigh, svd
from llax.frontend.jnp._lu import inv, solve


def _inexact(x: Any, name: str) -> Any:
    x = as_array(x, f"jnp.linalg.{name}")
    return convert(x, *to_inexact(x.dtype, x.weak_type))


def eigvalsh(a: Any, UPLO: str | None = "L", *,  # noqa: N803 - NumPy's name
             symmetrize_input: bool = True) -> Any:
    """The ascending eigenvalues of each symmetric matrix of ``a``."""
    return eigh(a, UPLO, symmetrize_input=symmetrize_input)[0]


def svdvals(x: Any, /) -> Any:
    """The descending singular values of each matrix of ``x``."""
    return svd(x, compute_uv=False)


def matrix_power(a: Any, n: int) -> Any:
    """``a`` multiplied by itself ``n`` times (``inv(a)`` for negative ``n``; the identity
    for 0), by repeated squaring."""
    arr = as_array(a, "jnp.linalg.matrix_power")
    if arr.ndim < 2:
        raise TypeError(f"{arr.ndim}-dimensional array given. Array must be at least "
                        "two-dimensional")
    if arr.shape[-2] != arr.shape[-1]:
        raise TypeError("Last 2 dimensions of the array must be square")
    try:
        n = operator.index(n)
    except TypeError as err:
        raise TypeError(f"exponent must be an integer, got {n}") from err
    if n == 0:
        return jnp.broadcast_to(jnp.eye(arr.shape[-2], dtype=arr.dtype), arr.shape)
    if n < 0:
        arr, n = inv(arr), -n
    if n == 1:
        return arr
    if n == 2:
        return jnp.matmul(arr, arr)
    if n == 3:
        return jnp.matmul(jnp.matmul(arr, arr), arr)
    power = result = None
    while n > 0:
        power = arr if power is None else jnp.matmul(power, power)
        n, bit = divmod(n, 2)
        if bit:
            result = power if result is None else jnp.matmul(result, power)
    return result


def multi_dot(arrays: Sequence[Any], *, precision: Any = None) -> Any:
    """``arrays[0] @ arrays[1] @ ...`` in the cheapest order (an einsum, whose path
    opt_einsum picks); the first and last may be vectors."""
    arrs = [as_array(a, "jnp.linalg.multi_dot", i) for i, a in enumerate(arrays)]
    if len(arrs) < 2:
        raise ValueError(f"multi_dot requires at least two arrays; got "
                         f"len(arrays)={len(arrs)}")
    if not (arrs[0].ndim in (1, 2) and arrs[-1].ndim in (1, 2)
            and all(a.ndim == 2 for a in arrs[1:-1])):
        raise ValueError("multi_dot: input arrays must all be two-dimensional, except for the "
                         "first and last array which may be 1 or 2 dimensional. Got array "
                         f"shapes {[tuple(a.shape) for a in arrs]}")
    if any(a.shape[-1] != b.shape[0] for a, b in zip(arrs[:-1], arrs[1:])):
        raise ValueError("multi_dot: last dimension of each array must match first dimension "
                         f"of following array. Got array shapes "
                         f"{[tuple(a.shape) for a in arrs]}")
    axes: list[tuple[int, ...]] = [(i, i + 1) for i in range(len(arrs))]
    if arrs[0].ndim == 1:
        axes[0] = axes[0][1:]
    if arrs[-1].ndim == 1:
        axes[-1] = axes[-1][:1]
    operands: list[Any] = []
    for a, ax in zip(arrs, axes):
        operands += [a, list(ax)]
    return jnp.einsum(*operands, optimize="auto", precision=precision)


def matrix_rank(M: Any, rtol: Any = None, *, tol: Any = None,  # noqa: N803 - NumPy's name
                hermitian: bool = False) -> Any:
    """The number of singular values of each matrix above ``rtol`` (default: the largest
    times ``max(m, n) * eps``)."""
    if tol is not None:
        if rtol is not None:
            raise ValueError("matrix_rank: only one of tol or rtol may be specified.")
        rtol = tol
    x = _inexact(M, "matrix_rank")
    if x.ndim < 2:
        return jnp.any(x != 0).astype(np.int32)
    s = svd(x, full_matrices=False, compute_uv=False, hermitian=hermitian)
    if rtol is None:
        eps = np.finfo(s.dtype).eps
        rtol = jnp.max(s, axis=-1) * np.asarray(max(x.shape[-2:]) * eps, s.dtype)
    rtol = jnp.asarray(rtol)
    rtol = jnp.expand_dims(rtol, rtol.ndim)
    return jnp.sum(s > rtol, axis=-1)


def pinv(a: Any, rtol: Any = None, hermitian: bool = False, *, rcond: Any = None) -> Any:
    """The Moore-Penrose pseudo-inverse of each matrix of ``a``, from its SVD (singular
    values at most ``rtol`` times the largest count as zero)."""
    if rcond is not None:
        if rtol is not None:
            raise ValueError("pinv: only one of rtol and rcond may be specified.")
        rtol = rcond
    x = _inexact(a, "pinv")
    m, n = x.shape[-2:]
    if m == 0 or n == 0:
        return jnp.zeros((*x.shape[:-2], n, m), x.dtype)
    if rtol is None:
        rtol = 10.0 * max(m, n) * np.asarray(np.finfo(x.dtype).eps, x.dtype)
    return _pinv(x, jnp.asarray(rtol), bool(hermitian))


def _pinv_value(a: Any, rtol: Any, hermitian: bool) -> Any:
    u, s, vh = svd(a, full_matrices=False, hermitian=hermitian)
    rtol = lax.expand_dims(rtol[..., None], tuple(range(s.ndim - rtol.ndim - 1)))
    cutoff = rtol * s[..., 0:1]
    s = jnp.where(s > cutoff, s, np.inf).astype(u.dtype)
    return jnp.matmul(_h(vh), _h(u) / s[..., None]).astype(a.dtype)


def _h(x: Any) -> Any:
    """The conjugate transpose of every matrix (the transpose for real ones)."""
    x = jnp.matrix_transpose(x)
    return jnp.conj(x) if x.dtype.kind == "c" else x


@custom_jvp
def _pinv(a: Any, rtol: Any, hermitian: bool) -> Any:
    return _pinv_value(a, rtol, hermitian)


def _pinv_jvp(primals: tuple, tangents: tuple) -> tuple:
    """Golub and Pereyra's derivative of the pseudo-inverse (as JAX's)."""
    a, rtol, hermitian = primals
    da = tangents[0]
    p = _pinv_value(a, rtol, hermitian)
    if hermitian:
        a = (a + _h(a)) / 2
        da = (da + _h(da)) / 2
    t_ = _h
    m, n = a.shape[-2:]
    if m >= n:
        s = (p @ t_(p)) @ t_(da)
        t = (t_(da) @ t_(p)) @ p
        dp = -(p @ da) @ p + s - (s @ a) @ p + t - (p @ a) @ t
    else:
        s = p @ (t_(p) @ t_(da))
        t = t_(da) @ (t_(p) @ p)
        dp = -p @ (da @ p) + s - s @ (a @ p) + t - p @ (a @ t)
    return p, dp


_pinv.defjvp(_pinv_jvp)


def lstsq(a: Any, b: Any, rcond: Any = None, *, numpy_resid: bool = False) -> tuple:
    """``(x, residuals, rank, s)``: the least-squares solution of ``a @ x = b`` by the SVD,
    as NumPy's (residuals always given unless ``numpy_resid``)."""
    a, b = promote_dtypes("jnp.linalg.lstsq", (a, b), "inexact")
    if a.shape[0] != b.shape[0]:
        raise ValueError("Leading dimensions of input arrays must match")
    b_ndim = b.ndim
    if b_ndim == 1:
        b = b[:, None]
    if a.ndim != 2:
        raise TypeError(f"{a.ndim}-dimensional array given. Array must be two-dimensional")
    if b.ndim != 2:
        raise TypeError(f"{b.ndim}-dimensional array given. Array must be one or "
                        "two-dimensional")
    m, n = a.shape
    dtype = a.dtype
    if a.size == 0:
        s = jnp.zeros(0, dtype)
        rank = jnp.sum(jnp.zeros((0,), np.bool_))  # the default int, as JAX's count
        x = jnp.zeros((n, b.shape[1]), dtype)
    else:
        eps = np.asarray(np.finfo(dtype).eps, np.finfo(dtype).dtype)  # real for complex
        rc = eps * max(n, m) if rcond is None else jnp.where(jnp.asarray(rcond) < 0, eps,
                                                            rcond)
        u, s, vt = svd(a, full_matrices=False)
        mask = s >= jnp.asarray(rc, s.dtype) * s[0]
        rank = jnp.sum(mask)
        safe = jnp.where(mask, s, 1).astype(dtype)
        s_inv = jnp.where(mask, 1 / safe, 0)[:, None]
        x = jnp.matmul(_h(vt), s_inv * jnp.matmul(_h(u), b))
    # NumPy leaves the residuals empty for these (which needs a concrete rank, as in JAX).
    if numpy_resid and (int(rank) < n or m <= n):
        resid = jnp.asarray([], np.finfo(dtype).dtype)
    else:
        r = b - jnp.matmul(a, x)
        resid = jnp.sum(jnp.real(r * jnp.conj(r)) if r.dtype.kind == "c" else r ** 2, axis=0)
    if b_ndim == 1:
        x = x.ravel()
    return x, resid, rank, s


def cond(x: Any, p: Any = None) -> Any:
    """The condition number of each matrix of ``x`` in the norm ``p`` (2 by default)."""
    arr = _inexact(x, "cond")
    if arr.ndim < 2:
        raise ValueError(f"jnp.linalg.cond: input array must be at least 2D; got "
                         f"arr.shape={tuple(arr.shape)}")
    if arr.shape[-1] == 0 or arr.shape[-2] == 0:
        raise ValueError(f"jnp.linalg.cond: input array must not be empty; got "
                         f"arr.shape={tuple(arr.shape)}")
    if p is None or p == 2:
        s = svdvals(arr)
        return s[..., 0] / s[..., -1]
    if p == -2:
        s = svdvals(arr)
        r = s[..., -1] / s[..., 0]
    else:
        if arr.shape[-2] != arr.shape[-1]:
            raise ValueError(f"jnp.linalg.cond: for p={p}, array must be square; got "
                             f"arr.shape={tuple(arr.shape)}")
        r = (jnp.linalg.norm(arr, ord=p, axis=(-2, -1))
             * jnp.linalg.norm(inv(arr), ord=p, axis=(-2, -1)))
    return jnp.where(jnp.isnan(r) & ~jnp.any(jnp.isnan(arr), axis=(-2, -1)), np.inf, r)


def tensorinv(a: Any, ind: int = 2) -> Any:
    """The inverse of ``a`` seen as a matrix from its first ``ind`` axes to the rest."""
    arr = as_array(a, "jnp.linalg.tensorinv")
    ind = operator.index(ind)
    if ind <= 0:
        raise ValueError(f"ind must be a positive integer; got ind={ind}")
    contracting, batch = arr.shape[:ind], arr.shape[ind:]
    rows, cols = math.prod(contracting), math.prod(batch)
    if rows != cols:
        raise ValueError("tensorinv is only possible when the product of the first `ind` "
                         "dimensions equals that of the remaining dimensions. got "
                         f"arr.shape={tuple(arr.shape)}, ind={ind}.")
    return inv(arr.reshape(rows, cols)).reshape(*batch, *contracting)


def tensorsolve(a: Any, b: Any, axes: tuple[int, ...] | None = None) -> Any:
    """``x`` with ``tensordot(a, x, x.ndim) = b``."""
    a_arr = as_array(a, "tensorsolve", 0)
    b_arr = as_array(b, "tensorsolve", 1)
    if axes is not None:
        a_arr = jnp.moveaxis(a_arr, axes, len(axes) * (a_arr.ndim - 1,))
    out_shape = tuple(a_arr.shape[b_arr.ndim:])
    if tuple(a_arr.shape[:b_arr.ndim]) != tuple(b_arr.shape):
        raise ValueError("After moving axes to end, leading shape of a must match shape of b. "
                         f"got a.shape={tuple(a_arr.shape)}, b.shape={tuple(b_arr.shape)}")
    if b_arr.size != math.prod(out_shape):
        raise ValueError("Input arrays must have prod(a.shape[:b.ndim]) == "
                         f"prod(a.shape[b.ndim:]); got a.shape={tuple(a_arr.shape)}, "
                         f"b.ndim={b_arr.ndim}.")
    a_arr = a_arr.reshape(b_arr.size, math.prod(out_shape))
    return solve(a_arr, b_arr.ravel()).reshape(out_shape)


# --- array-API spellings -------------------------------------------------------------------

def matrix_norm(x: Any, /, *, keepdims: bool = False, ord: Any = "fro") -> Any:
    return jnp.linalg.norm(x, ord=ord, keepdims=keepdims, axis=(-2, -1))


def vector_norm(x: Any, /, *, axis: int | tuple[int, ...] | None = None,
                keepdims: bool = False, ord: Any = 2) -> Any:
    """The ``ord``-norm of ``x`` over ``axis`` (every axis by default) as one vector."""
    x = _inexact(x, "vector_norm")
    ndim = x.ndim
    axes = tuple(range(ndim)) if axis is None else (
        tuple(axis) if isinstance(axis, (tuple, list)) else (axis,))
    axes = tuple(operator.index(a) % max(ndim, 1) for a in axes)
    kept = [d for d in range(ndim) if d not in axes]
    moved = jnp.transpose(x, (*kept, *axes)) if ndim else x
    flat = moved.reshape(*[x.shape[d] for d in kept], -1)
    from llax.frontend.jnp.linalg import _vector_norm

    out = _vector_norm(flat, ord, flat.ndim - 1, False)
    if keepdims:
        out = out.reshape([1 if d in axes else x.shape[d] for d in range(ndim)])
    return out


def matrix_transpose(x: Any, /) -> Any:
    x = as_array(x, "jnp.linalg.matrix_transpose")
    if x.ndim < 2:
        raise ValueError(f"matrix_transpose requres at least 2 dimensions; got "
                         f"ndim={x.ndim}")
    return jnp.swapaxes(x, -1, -2)


def outer(x1: Any, x2: Any, /) -> Any:
    x1 = as_array(x1, "jnp.linalg.outer", 0)
    x2 = as_array(x2, "jnp.linalg.outer", 1)
    if x1.ndim != 1 or x2.ndim != 1:
        raise ValueError(f"Input arrays must be one-dimensional, but they are "
                         f"x1.ndim={x1.ndim} x2.ndim={x2.ndim}")
    return x1[:, None] * x2[None, :]


def cross(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    x1 = as_array(x1, "jnp.linalg.cross", 0)
    x2 = as_array(x2, "jnp.linalg.cross", 1)
    if x1.shape[axis] != 3 or x2.shape[axis] != 3:
        raise ValueError("Both input arrays must be (arrays of) 3-dimensional vectors, but "
                         f"they have x1.shape[axis]={x1.shape[axis]} and "
                         f"x2.shape[axis]={x2.shape[axis]}")
    return jnp.cross(x1, x2, axis=axis)


def diagonal(x: Any, /, *, offset: int = 0) -> Any:
    return jnp.diagonal(x, offset=offset, axis1=-2, axis2=-1)


def trace(x: Any, /, *, offset: int = 0, dtype: Any = None) -> Any:
    return jnp.trace(x, offset=offset, axis1=-2, axis2=-1, dtype=dtype)


def matmul(x1: Any, x2: Any, /, *, precision: Any = None,
           preferred_element_type: Any = None) -> Any:
    return jnp.matmul(x1, x2, precision=precision,
                      preferred_element_type=preferred_element_type)


def tensordot(x1: Any, x2: Any, /, *, axes: Any = 2, precision: Any = None,
              preferred_element_type: Any = None) -> Any:
    return jnp.tensordot(x1, x2, axes=axes, precision=precision,
                         preferred_element_type=preferred_element_type)


def vecdot(x1: Any, x2: Any, /, *, axis: int = -1, precision: Any = None,
           preferred_element_type: Any = None) -> Any:
    return jnp.vecdot(x1, x2, axis=axis, precision=precision,
                      preferred_element_type=preferred_element_type)


__all__ = ["cond", "cross", "diagonal", "eigvalsh", "lstsq", "matmul", "matrix_norm",
           "matrix_power", "matrix_rank", "matrix_transpose", "multi_dot", "outer", "pinv",
           "svdvals", "tensordot", "tensorinv", "tensorsolve", "trace", "vecdot",
           "vector_norm"]
