"""The NumPy reference of the cumulative reductions (ir.prims.cumulative).

A ufunc's ``accumulate`` combines along the axis strictly left to right in the operand's
own dtype (integers wrap, float sums round at every step), the order the native loop
keeps, so the two agree exactly for integers and to rounding for floats. ``reverse`` runs
the same accumulation over the flipped axis.

Importing this module registers the rules in ``llax.ir.reference.reference``.
"""

from __future__ import annotations

import numpy as np

from llax.ir.prims.cumulative import cumlogsumexp, cummax, cummin, cumprod, cumsum
from llax.ir.reference import _quiet, reference

_UFUNCS = {cumsum: np.add, cumprod: np.multiply, cummax: np.maximum, cummin: np.minimum,
           cumlogsumexp: np.logaddexp}


def _accumulating(ufunc: np.ufunc):
    def run(x: np.ndarray, *, axis: int, reverse: bool) -> np.ndarray:
        x = np.asarray(x)
        if reverse:
            x = np.flip(x, axis)
        out = ufunc.accumulate(x, axis=axis, dtype=x.dtype)
        return np.ascontiguousarray(np.flip(out, axis) if reverse else out)

    run.__name__ = f"accumulate_{ufunc.__name__}"
    return _quiet(run)


for _prim, _ufunc in _UFUNCS.items():
    reference[_prim] = _accumulating(_ufunc)
