"""NumPy interoperability names of ``jax.numpy``: ``ufunc``, ``from_dlpack``, ``ComplexWarning``,
``object_`` (being written; see issue 12)."""

from __future__ import annotations

__all__: list[str] = []
