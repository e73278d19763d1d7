"""Selection in ``llax.numpy``: ``where`` (both forms), ``nonzero``, ``argwhere`` and ``clip``."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from llax.frontend.core import bind
from llax.frontend.jnp._coerce import (
    as_array,
    as_operand,
    broadcast_shapes,
    broadcast_to_shape,
    convert,
    dtype_and_weak,
    promote,
)
from llax.frontend.jnp._ufuncs import UFUNCS
from llax.ir import dtypes
from llax.ir import prims as P

_maximum, _minimum = UFUNCS["maximum"], UFUNCS["minimum"]


def where(condition: Any, x: Any = None, y: Any = None, /, *, size: int | None = None,
          fill_value: Any = None) -> Any:
    """``x`` where ``condition`` else ``y``; with one argument, ``nonzero(condition)``."""
    if x is None and y is None:
        return nonzero(condition, size=size, fill_value=fill_value)
    if x is None or y is None:
        raise ValueError("Either both or neither of the x and y arguments should be provided "
                         f"to jnp.where, got x={x!r} and y={y!r}.")
    if size is not None or fill_value is not None:
        raise ValueError("size and fill_value are only used by the one-argument form of where")
    cond = as_array(condition, "where")
    if cond.dtype != dtypes.bool_:
        cond = convert(cond, dtypes.bool_)
    # The condition takes part in broadcasting but not in promotion.
    (x, y), _ = promote("where", [x, y])
    shape = broadcast_shapes("where", (cond.shape, x.shape, y.shape))
    cond, x, y = (broadcast_to_shape(v, shape) for v in (cond, x, y))
    return bind(P.select_n, (cond, y, x), {})


def nonzero(a: Any, *, size: int | None = None, fill_value: Any = None) -> tuple[Any, ...]:
    """Indices of the non-zero elements (llax.frontend.jnp._searching, which imports this
    module: hence the late import)."""
    from llax.frontend.jnp._searching import nonzero as _nonzero

    return _nonzero(a, size=size, fill_value=fill_value)


def argwhere(a: Any, *, size: int | None = None, fill_value: Any = None) -> Any:
    from llax.frontend.jnp._searching import argwhere as _argwhere

    return _argwhere(a, size=size, fill_value=fill_value)


def _is_complex(x: Any) -> bool:
    return x is not None and np.dtype(dtype_and_weak(as_operand(x, "clip"))[0]).kind == "c"


def clip(arr: Any = None, min: Any = None, max: Any = None, *,  # noqa: A002 - NumPy's names
         a: Any = None, a_min: Any = None, a_max: Any = None) -> Any:
    """Limit ``arr`` to ``[min, max]``; either bound may be None (``a_min``/``a_max``, the
    older names, still work but warn)."""
    if a is not None:
        if arr is not None:
            raise TypeError("clip: pass the array once, as arr")
        warnings.warn("Passing arguments 'a', 'a_min' or 'a_max' to jnp.clip is deprecated; "
                      "use 'arr', 'min' and 'max'.", DeprecationWarning, stacklevel=2)
        arr = a
    for old, new, value in (("a_min", "min", a_min), ("a_max", "max", a_max)):
        if value is not None:
            warnings.warn(f"Passing '{old}' to jnp.clip is deprecated; use '{new}'.",
                          DeprecationWarning, stacklevel=2)
    if a_min is not None:
        if min is not None:
            raise TypeError("clip: pass only one of min and a_min")
        min = a_min
    if a_max is not None:
        if max is not None:
            raise TypeError("clip: pass only one of max and a_max")
        max = a_max
    if arr is None:
        raise ValueError("No input was provided to the clip function.")
    out = as_array(arr, "clip")
    if any(_is_complex(v) for v in (out, min, max)):
        raise ValueError("Clip received a complex value either through the input or the min/max "
                         "keywords. Complex values have no ordering and cannot be clipped. Please "
                         "convert to a real value or array by taking the real or imaginary "
                         "components via jax.numpy.real/imag respectively.")
    if min is not None:
        out = _maximum(min, out)
    if max is not None:
        out = _minimum(max, out)
    return out
