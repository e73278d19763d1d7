"""``llax.numpy.fft``: JAX's ``jax.numpy.fft`` (being written; see issue 12)."""

from __future__ import annotations
