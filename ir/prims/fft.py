"""Discrete Fourier transforms: ``fft`` (JAX's primitive of that name).

``fft[fft_type, fft_lengths](x)`` transforms the last ``len(fft_lengths)`` axes of ``x``
(their sizes are ``fft_lengths``), leaving the leading axes as a batch:

- ``FFT``: complex to complex, forward (``exp(-2 pi i jk / n)``, no scaling);
- ``IFFT``: complex to complex, inverse (``exp(+2 pi i jk / n)``, scaled by ``1 / prod(n)``);
- ``RFFT``: real (float32/float64) to complex: the forward transform, of which only the
  first ``n // 2 + 1`` bins of the last axis are kept (the rest are their conjugates);
- ``IRFFT``: complex to real: the inverse of RFFT. The input's last axis holds the
  ``n // 2 + 1`` bins of a Hermitian spectrum (XLA takes no other count, so neither does
  the type rule) and the result has ``n`` points there; the other transformed axes keep
  their sizes. The imaginary parts of the DC (and for even ``n`` Nyquist) bins are ignored.

``fft_type`` is an ``FftType``, an IntEnum as JAX's, so the text format prints it as its
number (``fft_type=2``, which is how JAX's jaxprs show it) and parses back an equal int:
every reader of the param goes through ``FftType(...)``.

It is its own kernel (FusionClass.OPAQUE): compiled code calls NumPy's FFT.
"""

from __future__ import annotations

import enum

from llax.ir import dtypes
from llax.ir.primitive import FusionClass, abstract_eval, primitive
from llax.ir.types import TensorType

__all__ = ["FftType", "fft"]


class FftType(enum.IntEnum):
    """Which transform ``fft`` computes (JAX's enum: its member names and numbers)."""

    FFT = 0    # complex to complex, forward
    IFFT = 1   # complex to complex, inverse
    RFFT = 2   # real to complex, forward
    IRFFT = 3  # complex to real, inverse


fft = primitive("fft", fusion=FusionClass.OPAQUE)


def _fft_rule(x: TensorType, *, fft_type: FftType | int,
              fft_lengths: tuple[int, ...]) -> TensorType:
    kind = FftType(fft_type)
    lengths = tuple(fft_lengths)
    k = len(lengths)
    if k == 0:
        raise ValueError("fft: fft_lengths must name at least one axis")
    if k > x.ndim:
        raise ValueError(f"FFT input shape {x.shape} must have at least as many input "
                         f"dimensions as fft_lengths {lengths}.")
    lead, minor = x.shape[:-k], x.shape[-k:]
    if kind == FftType.RFFT:
        if x.dtype not in (dtypes.float32, dtypes.float64):
            raise ValueError(f"RFFT input must be float32 or float64, got {x.dtype}")
        if minor != lengths:
            raise ValueError(f"RFFT input shape {x.shape} minor dimensions must be equal to "
                             f"fft_lengths {lengths}")
        if lengths[-1] == 0:
            # XLA cannot lower it either: n // 2 + 1 = 1 bin of a transform of nothing.
            raise ValueError(f"RFFT of an empty last axis (fft_lengths {lengths}) is not "
                             "defined")
        return TensorType((*lead, *lengths[:-1], lengths[-1] // 2 + 1),
                          dtypes.complex_of(x.dtype))
    if not dtypes.is_complex(x.dtype):
        name = "IRFFT" if kind == FftType.IRFFT else "FFT"
        raise ValueError(f"{name} input must be complex64 or complex128, got {x.dtype}")
    if kind == FftType.IRFFT:
        if minor[:-1] != lengths[:-1]:
            raise ValueError(f"IRFFT input shape {x.shape} minor dimensions must be equal to "
                             f"all except the last fft_length, got fft_lengths={lengths}")
        if minor[-1] != lengths[-1] // 2 + 1:
            # JAX's type rule lets this through but XLA refuses it: no program can run it.
            raise ValueError(f"IRFFT input shape {x.shape} must have fft_lengths[-1] // 2 + 1 "
                             f"= {lengths[-1] // 2 + 1} bins in its last dimension, got "
                             f"fft_lengths={lengths}")
        return TensorType((*lead, *lengths), dtypes.real_part(x.dtype))
    if minor != lengths:
        raise ValueError(f"FFT input shape {x.shape} minor dimensions must be equal to "
                         f"fft_lengths {lengths}")
    return TensorType(x.shape, x.dtype)


abstract_eval[fft] = _fft_rule

