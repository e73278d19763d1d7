"""More of ``jax.scipy.special``: ``fresnel``, ``sici``, ``hyp2f1``, ``wofz``, ``sph_harm_y``
(being written; see issue 12)."""

from __future__ import annotations

__all__: list[str] = []
