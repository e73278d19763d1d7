"""NumPy interoperability names of ``jax.numpy``: ``ufunc``, ``from_dlpack``, ``ComplexWarning``,
``object_``.

Importing this module (which ``llax.numpy`` does after its other topic modules) also gives
the ufuncs of ``llax.numpy`` their specialised methods (``add.reduce`` as ``sum``...).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.exceptions import ComplexWarning

from llax.frontend.core import Array
from llax.frontend.devices import _target
from llax.frontend.jnp._ufunc_class import ufunc
from llax.frontend.jnp._ufunc_methods import attach_builtin_methods
from llax.ir import dtypes

__all__ = ["ComplexWarning", "from_dlpack", "object_", "ufunc"]

# JAX exports NumPy's object scalar type (no llax array has that dtype).
object_ = np.object_

attach_builtin_methods()


def from_dlpack(x: Any, /, *, device: Any = None, copy: bool | None = None) -> Array:
    """An Array of the data of ``x``, any object with the DLPack protocol (``__dlpack__``
    and ``__dlpack_device__``: NumPy and JAX arrays, llax Arrays, torch tensors on the CPU).

    The data is copied unless ``copy=False``, so later changes to ``x`` are not seen (with
    ``copy=False`` the Array shares ``x``'s memory where its dtype allows, and changing
    ``x`` then is undefined, as in JAX). The dtype is canonicalised as JAX does (float64
    becomes float32 unless x64 is enabled).
    """
    if not (hasattr(x, "__dlpack__") and hasattr(x, "__dlpack_device__")):
        raise TypeError("The array passed to from_dlpack must have __dlpack__ and "
                        "__dlpack_device__ methods.")
    if device is not None:
        _target(device)  # the one CPU device, or a sharding of it; anything else raises
    value = np.from_dlpack(x, copy=copy)
    if value.dtype not in dtypes.SUPPORTED:
        raise TypeError(f"from_dlpack: dtype {value.dtype} is not a valid llax array type")
    canonical = dtypes.canonicalize(value.dtype)
    if copy is False and canonical == value.dtype:
        return Array(value.view())  # read-only view of the shared memory
    return Array(np.array(value, dtype=canonical, copy=True))
