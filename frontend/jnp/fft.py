"""``llax.numpy.fft``: JAX's ``jax.numpy.fft``.

Every transform goes through ``_transform``: the chosen axes are moved to the end, cut or
zero-padded to the requested lengths ``s``, transformed by one ``fft`` primitive over all
of them (``llax.lax.fft``), scaled for ``norm`` and moved back. Inputs convert as JAX's:
integers and bools to the default float (complex for the complex transforms), float32 to
complex64, and RFFT refuses complex input.

``norm``: "backward" (or None) leaves the forward transforms unscaled and scales the
inverse ones by ``1/n``; "forward" swaps the two; "ortho" scales both by ``1/sqrt(n)``.
``hfft`` and ``ihfft`` are ``irfft`` and ``rfft`` of a conjugated (Hermitian) signal,
scaled as NumPy's, and take the forward and inverse factors as their names say.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

import llax.transforms.fft_rules  # noqa: F401  (registers fft's JVP, transpose and vmap rules)
from llax.frontend import jnp, lax
from llax.frontend.core import Array
from llax.frontend.jnp._coerce import as_array
from llax.frontend.jnp._dtypes import maybe_requested_dtype, to_inexact
from llax.frontend.lax_fft import FftType
from llax.ir import dtypes

__all__ = ["fft", "fft2", "fftfreq", "fftn", "fftshift", "hfft", "ifft", "ifft2", "ifftn",
           "ifftshift", "ihfft", "irfft", "irfft2", "irfftn", "rfft", "rfft2", "rfftfreq",
           "rfftn"]

Shape = Sequence[int]
_NORMS = ("backward", "ortho", "forward")


def _axes_in_order(axes: Sequence[int], ndim: int) -> tuple[int, ...]:
    """``axes`` as non-negative ints, in the order given."""
    out = []
    for a in axes:
        a = operator.index(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of bounds for array of dimension {ndim}")
        out.append(a % ndim)
    return tuple(out)


def _fit(arr: Any, sizes: Sequence[int]) -> Any:
    """``arr`` cut or padded with zeros at the end of each axis to ``sizes``."""
    if tuple(arr.shape) == tuple(sizes):
        return arr
    cut = tuple(min(n, have) for n, have in zip(sizes, arr.shape))
    if cut != tuple(arr.shape):
        arr = lax.slice(arr, (0,) * arr.ndim, cut)
    if cut != tuple(sizes):
        config = [(0, n - have, 0) for n, have in zip(sizes, cut)]
        arr = lax.pad(arr, Array(np.zeros((), arr.dtype)), config)
    return arr


def _norm_factor(func_name: str, lengths: Sequence[int], norm: str,
                 dtype: np.dtype) -> Any:
    """What a transform of ``lengths`` multiplies its result by for ``norm``, computed in
    the result's precision (as JAX does)."""
    real = dtypes.real_part(dtype) if dtypes.is_complex(dtype) else dtype
    n = real.type(math.prod(lengths))
    inverse = func_name.startswith("i")
    with np.errstate(divide="ignore"):
        if norm == "ortho":
            factor = np.sqrt(n) if inverse else real.type(1) / np.sqrt(n)
        else:  # forward
            factor = n if inverse else real.type(1) / n
    return Array(np.asarray(factor, dtype=dtype))


def _transform(func_name: str, kind: FftType, a: Any, s: Shape | None,
               axes: Sequence[int] | None, norm: str | None) -> Any:
    full_name = f"jax.numpy.fft.{func_name}"
    arr = as_array(a, full_name)
    if norm is not None and norm not in _NORMS:
        raise ValueError(f'Invalid norm value {norm}; should be "backward","ortho" or '
                         '"forward".')
    if s is not None:
        s = tuple(operator.index(n) for n in s)
        if any(n <= 0 for n in s):
            raise ValueError("Shape should be positive.")
        if axes is not None and len(s) != len(axes):
            raise ValueError("Shape and axes have different lengths.")
    moved = axes is not None
    if axes is None:
        count = arr.ndim if s is None else len(s)
        axes = tuple(range(arr.ndim - count, arr.ndim))
        if count > arr.ndim:  # s names more axes than the array has
            raise ValueError(f"axis {arr.ndim - count} is out of bounds for array of "
                             f"dimension {arr.ndim}")
    else:
        axes = _axes_in_order(axes, arr.ndim)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{full_name} does not support repeated axes. Got axes {axes}.")
    trailing = tuple(range(arr.ndim - len(axes), arr.ndim))
    moved = moved and axes != trailing  # (no transposes when they already are the last)
    if moved:
        arr = jnp.moveaxis(arr, axes, trailing)
    lead = tuple(arr.shape[:arr.ndim - len(axes)])
    if s is not None:
        sizes = list(s)
        if kind == FftType.IRFFT:
            sizes[-1] = s[-1] // 2 + 1
        arr = _fit(arr, (*lead, *sizes))
        lengths = s
    elif kind == FftType.IRFFT and axes:
        *outer, last = arr.shape[len(lead):]
        lengths = (*outer, max(0, 2 * (last - 1)))
    else:
        lengths = tuple(arr.shape[len(lead):])
    out = lax.fft(arr, kind, lengths)
    if norm in ("ortho", "forward"):
        out = lax.mul(out, _norm_factor(func_name, lengths, norm, out.dtype))
    if moved:
        out = jnp.moveaxis(out, trailing, axes)
    return out


# --- one axis ------------------------------------------------------------------------------

def _one_axis(func_name: str, axis: Any) -> list[int]:
    if isinstance(axis, (list, tuple)):
        full_name = f"jax.numpy.fft.{func_name}"
        raise ValueError(f"{full_name} does not support multiple axes. Please use "
                         f"{full_name}n. Got axis = {axis!r}.")
    return [axis]


def _transform_1d(func_name: str, kind: FftType, a: Any, n: int | None, axis: int,
                  norm: str | None) -> Any:
    axes = _one_axis(func_name, axis)
    return _transform(func_name, kind, a, None if n is None else [n], axes, norm)


def fft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """The discrete Fourier transform of ``a`` along ``axis`` (``n`` points)."""
    return _transform_1d("fft", FftType.FFT, a, n, axis, norm)


def ifft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """The inverse discrete Fourier transform of ``a`` along ``axis``."""
    return _transform_1d("ifft", FftType.IFFT, a, n, axis, norm)


def rfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """The discrete Fourier transform of real ``a`` along ``axis``: ``n // 2 + 1`` bins."""
    return _transform_1d("rfft", FftType.RFFT, a, n, axis, norm)


def irfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """The real signal of ``n`` points (default ``2 * (m - 1)``) whose rfft is ``a``."""
    return _transform_1d("irfft", FftType.IRFFT, a, n, axis, norm)


def hfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """The (real) transform of a signal with Hermitian symmetry, given by its first half."""
    conj_a = jnp.conj(a)
    _one_axis("hfft", axis)
    points = (conj_a.shape[axis] - 1) * 2 if n is None else n
    return _transform_1d("hfft", FftType.IRFFT, conj_a, n, axis, norm) * points


def ihfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """The inverse of ``hfft``: the first half of the Hermitian spectrum of real ``a``."""
    _one_axis("ihfft", axis)
    arr = jnp.asarray(a)
    points = arr.shape[axis] if n is None else n
    out = _transform_1d("ihfft", FftType.RFFT, arr, n, axis, norm)
    return jnp.conj(out) * (1 / points)


# --- two and n axes ------------------------------------------------------------------------

def _transform_2d(func_name: str, kind: FftType, a: Any, s: Shape | None, axes: Sequence[int],
                  norm: str | None) -> Any:
    if len(axes) != 2:
        raise ValueError(f"jax.numpy.fft.{func_name} only supports 2 axes. Got axes = "
                         f"{axes!r}.")
    return _transform(func_name, kind, a, s, axes, norm)


def fft2(a: Any, s: Shape | None = None, axes: Sequence[int] = (-2, -1),
         norm: str | None = None) -> Any:
    """The discrete Fourier transform over two axes."""
    return _transform_2d("fft2", FftType.FFT, a, s, axes, norm)


def ifft2(a: Any, s: Shape | None = None, axes: Sequence[int] = (-2, -1),
          norm: str | None = None) -> Any:
    """The inverse discrete Fourier transform over two axes."""
    return _transform_2d("ifft2", FftType.IFFT, a, s, axes, norm)


def rfft2(a: Any, s: Shape | None = None, axes: Sequence[int] = (-2, -1),
          norm: str | None = None) -> Any:
    """The discrete Fourier transform of a real array over two axes."""
    return _transform_2d("rfft2", FftType.RFFT, a, s, axes, norm)


def irfft2(a: Any, s: Shape | None = None, axes: Sequence[int] = (-2, -1),
           norm: str | None = None) -> Any:
    """The inverse of ``rfft2``."""
    return _transform_2d("irfft2", FftType.IRFFT, a, s, axes, norm)


def fftn(a: Any, s: Shape | None = None, axes: Sequence[int] | None = None,
         norm: str | None = None) -> Any:
    """The discrete Fourier transform over ``axes`` (default: the last ``len(s)``, or all)."""
    return _transform("fftn", FftType.FFT, a, s, axes, norm)


def ifftn(a: Any, s: Shape | None = None, axes: Sequence[int] | None = None,
          norm: str | None = None) -> Any:
    """The inverse discrete Fourier transform over ``axes``."""
    return _transform("ifftn", FftType.IFFT, a, s, axes, norm)


def rfftn(a: Any, s: Shape | None = None, axes: Sequence[int] | None = None,
          norm: str | None = None) -> Any:
    """The discrete Fourier transform of a real array over ``axes`` (the last one halved)."""
    return _transform("rfftn", FftType.RFFT, a, s, axes, norm)


def irfftn(a: Any, s: Shape | None = None, axes: Sequence[int] | None = None,
           norm: str | None = None) -> Any:
    """The inverse of ``rfftn``."""
    return _transform("irfftn", FftType.IRFFT, a, s, axes, norm)


# --- frequencies and shifts ----------------------------------------------------------------

def _check_freq_args(func_name: str, n: Any, d: Any) -> None:
    if isinstance(n, (list, tuple)):
        raise ValueError(f"The n argument of jax.numpy.fft.{func_name} only takes an int. "
                         f"Got n = {list(n)}.")
    if isinstance(d, (list, tuple)):
        raise ValueError(f"The d argument of jax.numpy.fft.{func_name} only takes a single "
                         f"value. Got d = {list(d)}.")


def _place(x: Any, device: Any) -> Any:
    if device is None:
        return x
    from llax.frontend.devices import device_put

    return device_put(x, device)


def fftfreq(n: int, d: Any = 1.0, *, dtype: Any = None, device: Any = None) -> Any:
    """The sample frequencies of an ``n``-point transform with sample spacing ``d``:
    ``[0, 1, ..., n//2 - 1 (or n//2), -(n//2), ..., -1] / (d n)``."""
    out_dtype = maybe_requested_dtype(dtype, "fftfreq") or dtypes.default_float()
    _check_freq_args("fftfreq", n, d)
    work = out_dtype
    if not dtypes.is_inexact(work):
        work = to_inexact(work, False)[0]
    if dtypes.is_complex(work):
        work = dtypes.real_part(work)
    i = jnp.arange(n, dtype=work)
    k = (i + n // 2) % n - n // 2
    result = k.astype(work) / jnp.array(d * n, dtype=work)
    return _place(result.astype(out_dtype), device)


def rfftfreq(n: int, d: Any = 1.0, *, dtype: Any = None, device: Any = None) -> Any:
    """The sample frequencies of an ``n``-point real transform: ``[0, ..., n//2] / (d n)``."""
    work = maybe_requested_dtype(dtype, "rfftfreq") or dtypes.default_float()
    _check_freq_args("rfftfreq", n, d)
    k = jnp.arange(0, n // 2 + 1, dtype=work)
    return _place(k / jnp.array(d * n, dtype=work), device)


def _shifted(name: str, x: Any, axes: None | int | Sequence[int], sign: int) -> Any:
    x = as_array(x, name)
    if axes is None:
        axes = tuple(range(x.ndim))
        shift: int | list[int] = [sign * (n // 2) for n in x.shape]
    elif isinstance(axes, int):
        shift = sign * (x.shape[axes] // 2)
    else:
        shift = [sign * (x.shape[ax] // 2) for ax in axes]
    if not isinstance(axes, int) and len(axes) == 0:
        return x  # (a rank-0 array: nothing to roll)
    return jnp.roll(x, shift, axes)


def fftshift(x: Any, axes: None | int | Sequence[int] = None) -> Any:
    """``x`` rolled so that the zero frequency is in the middle of each of ``axes``."""
    return _shifted("fftshift", x, axes, 1)


def ifftshift(x: Any, axes: None | int | Sequence[int] = None) -> Any:
    """The inverse of ``fftshift``."""
    return _shifted("ifftshift", x, axes, -1)
