"""``llax.lax.fft`` and ``llax.lax.FftType``: JAX's ``jax.lax.fft``.

``fft(x, fft_type, fft_lengths)`` converts ``x`` to what the transform reads (complex for
FFT, IFFT and IRFFT; float for RFFT, which refuses complex input) and binds the ``fft``
primitive over its last ``len(fft_lengths)`` axes. With no lengths it only converts, as
JAX's does (XLA has no rank-0 transform).

The primitive's transformation rules (llax.transforms.fft_rules) build on the autodiff
machinery, which imports this module's parent (lax) itself, so llax.numpy.fft imports them.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import llax.ir.reference_fft  # noqa: F401  (registers the primitive's NumPy reference)
from llax.frontend.core import bind
from llax.frontend.jnp._coerce import as_array, convert
from llax.frontend.jnp._dtypes import to_inexact
from llax.ir import dtypes
from llax.ir import prims as P
from llax.ir.prims.fft import FftType

__all__ = ["FftType", "fft"]

# JAX's spellings: the member's name in upper or lower case.
_BY_NAME = {**{t.name: t for t in FftType}, **{t.name.lower(): t for t in FftType}}


def fft_type_of(fft_type: FftType | str) -> FftType:
    """An ``FftType`` from itself or its name (``"rfft"`` or ``"RFFT"``)."""
    if isinstance(fft_type, FftType):
        return fft_type
    if isinstance(fft_type, str):
        if fft_type not in _BY_NAME:
            raise ValueError(f"Unknown FFT type '{fft_type}'")
        return _BY_NAME[fft_type]
    raise TypeError(f"Unknown FFT type value '{fft_type}'")


def fft(x: Any, fft_type: FftType | str, fft_lengths: Sequence[int]) -> Any:
    """The discrete Fourier transform ``fft_type`` of the last ``len(fft_lengths)`` axes of
    ``x`` (see ``llax.ir.prims.fft``)."""
    kind = fft_type_of(fft_type)
    x = as_array(x, "fft")
    dt = x.dtype if dtypes.is_inexact(x.dtype) else to_inexact(x.dtype, False)[0]
    if kind == FftType.RFFT:
        if dtypes.is_complex(x.dtype):
            raise ValueError("only real valued inputs supported for rfft")
        x = convert(x, dt)
    else:
        x = convert(x, dt if dtypes.is_complex(dt) else dtypes.complex_of(dt))
    lengths = tuple(operator.index(n) for n in fft_lengths)
    if not lengths:
        return x
    return bind(P.fft, (x,), {"fft_type": kind, "fft_lengths": lengths})
