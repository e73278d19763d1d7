"""JVP, transpose and batching rules of ``fft`` (ir.prims.fft).

Imported by llax.frontend.lax_fft, which registers them with the transformations.

Every transform is linear (over the reals for RFFT and IRFFT, whose one side is real), so
its tangent is the same transform of the tangent. Transposes follow JAX's convention for
complex values: the plain transpose of the linear map (no conjugation added), the one with
``sum(ct * f(x))`` and ``sum(f^T(ct) * x)`` agreeing in their real parts:

- FFT and IFFT: the DFT matrix ``W[j, k] = w^(jk)`` is symmetric, so each is its own
  transpose.
- RFFT keeps ``m = n // 2 + 1`` bins ``y_k = sum_j x_j w^(-jk)`` of a real ``x``, so its
  transpose is ``Re(sum_k ct_k w^(-jk))``. An inverse real transform of ``lax.conj(ct)``
  computes that sum once it halves the interior bins, which it counts twice (once for the
  bin, once for its mirror image): ``n * irfft(lax.conj(ct) / mask)``, where ``mask`` is 1 for
  the DC bin (and the Nyquist bin when ``n`` is even) and 2 elsewhere.
- IRFFT reads ``x_j = (1/n) Re(sum_k mask_k c_k w^(jk))`` (interior bins twice; the
  imaginary parts of DC and Nyquist dropped), so its transpose is
  ``conj(mask * rfft(ct)) / n``.

Over several axes the outer axes are complex transforms, each its own transpose up to the
same conjugation, so the same formulas hold with ``n`` the product of the lengths.

Batching: the transform acts on the trailing axes, so the batch axis moves to the front.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from llax.frontend import lax
from llax.frontend.core import Array, bind
from llax.ir import dtypes
from llax.ir import prims as P
from llax.ir.prims.fft import FftType
from llax.transforms.batching import batching_rules
from llax.transforms.batching_rules import move_axis
from llax.transforms.jvp import jvp_rules
from llax.transforms.jvp_rules import linear_jvp
from llax.transforms.transpose import transpose_rules


def _fft(x: Any, kind: FftType, lengths: tuple[int, ...]) -> Any:
    return bind(P.fft, (x,), {"fft_type": kind, "fft_lengths": lengths})


def _constant(value: Any, dtype: np.dtype) -> Array:
    return Array(np.asarray(value, dtype=dtype))


def _bin_weights(n: int, bins: int, dtype: np.dtype, invert: bool) -> np.ndarray:
    """Per bin of a real transform of ``n`` points (``bins = n // 2 + 1``): how many
    times the full spectrum holds it, 1 (DC; Nyquist for even ``n``) or 2; or its
    reciprocal."""
    mask = np.full(bins, 2.0)
    mask[0] = 1.0
    if n % 2 == 0:
        mask[-1] = 1.0
    return (1.0 / mask if invert else mask).astype(dtype)


def _scale_last_axis(x: Any, weights: np.ndarray) -> Any:
    w = lax.broadcast_in_dim(_constant(weights, x.dtype), tuple(x.shape), (x.ndim - 1,))
    return lax.mul(x, w)


# --- JVP -----------------------------------------------------------------------------------

jvp_rules[P.fft] = linear_jvp(P.fft)


# --- transpose -----------------------------------------------------------------------------

def _rfft_transpose(ct: Any, lengths: tuple[int, ...]) -> Any:
    n = lengths[-1]
    half = _scale_last_axis(lax.conj(ct), _bin_weights(n, ct.shape[-1], ct.dtype, invert=True))
    out = _fft(half, FftType.IRFFT, lengths)
    return lax.mul(out, _constant(math.prod(lengths), out.dtype))


def _irfft_transpose(ct: Any, lengths: tuple[int, ...]) -> Any:
    spectrum = _fft(ct, FftType.RFFT, lengths)
    weights = _bin_weights(lengths[-1], spectrum.shape[-1], dtypes.real_part(spectrum.dtype),
                           invert=False) / math.prod(lengths)
    return lax.conj(_scale_last_axis(spectrum, weights.astype(spectrum.dtype)))


def _fft_transpose(ct, x, *, fft_type, fft_lengths):
    kind, lengths = FftType(fft_type), tuple(fft_lengths)
    if 0 in lengths:  # a map to (or from) nothing: its transpose is zero
        return [lax.full(x.shape, 0, x.dtype)]
    if kind == FftType.RFFT:
        return [_rfft_transpose(ct, lengths)]
    if kind == FftType.IRFFT:
        return [_irfft_transpose(ct, lengths)]
    return [_fft(ct, kind, lengths)]


transpose_rules[P.fft] = _fft_transpose


# --- batching ------------------------------------------------------------------------------

def _fft_batch(args, dims, *, fft_type, fft_lengths):
    (x,), (d,) = args, dims
    return _fft(move_axis(x, d, 0), fft_type, fft_lengths), 0


batching_rules[P.fft] = _fft_batch
