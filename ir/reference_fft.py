"""The NumPy reference of ``fft``: NumPy's pocketfft over the trailing axes.

NumPy 2 transforms float32/complex64 in single precision, so the result already has the
dtype the type rule infers (complex64 from RFFT of float32, float32 from IRFFT of
complex64) and the caller's cast is a no-op, not a copy of a large spectrum.

NumPy refuses transforms of zero points; the shapes that allows (an axis of length 0)
have empty results, which are made directly.

Importing this module registers the rule in ``llax.ir.reference.reference``.
"""

from __future__ import annotations

import numpy as np

from llax.ir.prims.fft import FftType, fft
from llax.ir.reference import reference


def _out_shape(shape: tuple[int, ...], kind: FftType,
               lengths: tuple[int, ...]) -> tuple[int, ...]:
    lead = shape[:len(shape) - len(lengths)]
    if kind == FftType.RFFT:
        return (*lead, *lengths[:-1], lengths[-1] // 2 + 1)
    if kind == FftType.IRFFT:
        return (*lead, *lengths)
    return shape


_ONE_AXIS = {FftType.FFT: np.fft.fft, FftType.IFFT: np.fft.ifft, FftType.RFFT: np.fft.rfft,
             FftType.IRFFT: np.fft.irfft}


def transform(x: np.ndarray, *, fft_type: FftType | int,
              fft_lengths: tuple[int, ...]) -> np.ndarray:
    """The transform ``fft[fft_type, fft_lengths]`` of ``x`` (also what native code calls)."""
    kind = FftType(fft_type)
    lengths = tuple(fft_lengths)
    if 0 in x.shape or 0 in lengths:
        real_dtype = np.finfo(x.dtype).dtype  # float32 for float32 and complex64
        out_dtype = real_dtype if kind == FftType.IRFFT else np.result_type(real_dtype,
                                                                             np.complex64)
        return np.zeros(_out_shape(x.shape, kind, lengths), out_dtype)
    if len(lengths) == 1:  # the common case: NumPy's 1-d entry points skip the n-d set-up
        return _ONE_AXIS[kind](x, lengths[0])
    axes = tuple(range(x.ndim - len(lengths), x.ndim))
    if kind == FftType.FFT:
        return np.fft.fftn(x, axes=axes)
    if kind == FftType.IFFT:
        return np.fft.ifftn(x, axes=axes)
    if kind == FftType.RFFT:
        return np.fft.rfftn(x, axes=axes)
    return np.fft.irfftn(x, s=lengths, axes=axes)


reference[fft] = transform
