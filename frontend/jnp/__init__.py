# ruff: noqa: F401 - this module re-exports the public namespace
"""``llax.numpy``: NumPy's API with JAX's semantics, on concrete Arrays and on tracers.

The functions live in topic modules (creation, ufuncs, reductions, shape
manipulation, products, selection, dtypes); this module assembles the public
namespace. Importing it also attaches the operators and methods of Array and
Tracer (``llax.frontend.array_methods``).
"""

from __future__ import annotations

import math as _math
from typing import Any

import numpy as _np

from llax.frontend.core import Array
from llax.frontend.jnp import _ufuncs
from llax.frontend.jnp._creation import (
    arange,
    array,
    asarray,
    copy,
    empty,
    empty_like,
    eye,
    full,
    full_like,
    identity,
    linspace,
    ones,
    ones_like,
    zeros,
    zeros_like,
)
from llax.frontend.jnp._dtypes import (
    SCALAR_ALIASES,
    SCALAR_TYPES,
    can_cast,
    character,
    complexfloating,
    dtype,
    finfo,
    flexible,
    floating,
    generic,
    iinfo,
    inexact,
    integer,
    isdtype,
    issubdtype,
    number,
    promote_types,
    result_type,
    signedinteger,
    unsignedinteger,
)
from llax.frontend.jnp._manipulation import (
    atleast_1d,
    atleast_2d,
    atleast_3d,
    broadcast_arrays,
    broadcast_shapes,
    broadcast_to,
    column_stack,
    concatenate,
    dstack,
    expand_dims,
    flip,
    hstack,
    matrix_transpose,
    moveaxis,
    ndim,
    pad,
    permute_dims,
    ravel,
    reshape,
    shape,
    size,
    squeeze,
    stack,
    swapaxes,
    transpose,
    vstack,
)
from llax.frontend.jnp._products import dot, inner, matmul, outer, tensordot, vdot
from llax.frontend.jnp._reductions import (
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    max,
    mean,
    min,
    prod,
    std,
    sum,
    var,
)
from llax.frontend.jnp._select import argwhere, clip, nonzero, where
from llax.frontend.jnp._sorting import argsort, sort
from llax.frontend.jnp._take import take, take_along_axis
from llax.frontend.jnp._ufuncs import around, power, round

globals().update(_ufuncs.UFUNCS)
globals().update(_ufuncs.COMPLEX_FUNCTIONS)
globals().update(SCALAR_TYPES)
globals().update(SCALAR_ALIASES)
pow = power  # noqa: A001 - the array API name

ndarray = Array
pi, e, euler_gamma = _math.pi, _math.e, 0.5772156649015329
inf, nan = _math.inf, _math.nan
newaxis = None


def isscalar(element: Any) -> bool:
    """True for Python and NumPy scalars and rank-0 arrays, as in JAX."""
    if isinstance(element, (bool, int, float, complex, _np.generic)):
        return True
    return getattr(element, "ndim", None) == 0 and hasattr(element, "dtype")


def isclose(a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Any:
    """``|a - b| <= atol + rtol * |b|`` elementwise; infinities must be equal."""
    from llax.frontend.jnp._coerce import promote

    (a, b), _ = promote("isclose", [a, b], "inexact")
    f = _ufuncs.UFUNCS
    close = f["less_equal"](f["abs"](f["subtract"](a, b)),
                            f["add"](atol, f["multiply"](rtol, f["abs"](b))))
    out = where(f["logical_or"](f["isinf"](a), f["isinf"](b)), f["equal"](a, b), close)
    if equal_nan:
        out = f["logical_or"](out, f["logical_and"](f["isnan"](a), f["isnan"](b)))
    return out


def allclose(a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> Any:
    return all(isclose(a, b, rtol, atol, equal_nan))


def array_equal(a1: Any, a2: Any, equal_nan: bool = False) -> Any:
    x, y = asarray(a1), asarray(a2)
    if x.shape != y.shape:
        return asarray(False)
    eq = _ufuncs.UFUNCS["equal"](x, y)
    if equal_nan:
        eq = _ufuncs.UFUNCS["logical_or"](eq, _ufuncs.UFUNCS["logical_and"](
            _ufuncs.UFUNCS["isnan"](x), _ufuncs.UFUNCS["isnan"](y)))
    return all(eq)


# Topic modules added for issue 12; a name defined in one replaces an earlier one above.
from llax.frontend.jnp._choosing import *  # noqa: E402, F403
from llax.frontend.jnp._cumulative import *  # noqa: E402, F403
from llax.frontend.jnp._diagonals import *  # noqa: E402, F403
from llax.frontend.jnp._einsum import *  # noqa: E402, F403
from llax.frontend.jnp._functional import *  # noqa: E402, F403
from llax.frontend.jnp._grids import *  # noqa: E402, F403
from llax.frontend.jnp._interop import *  # noqa: E402, F403
from llax.frontend.jnp._more_math import *  # noqa: E402, F403
from llax.frontend.jnp._polynomials import *  # noqa: E402, F403
from llax.frontend.jnp._searching import *  # noqa: E402, F403
from llax.frontend.jnp._sets import *  # noqa: E402, F403
from llax.frontend.jnp._splitting import *  # noqa: E402, F403
from llax.frontend.jnp._statistics import *  # noqa: E402, F403

# isort: split
# Operators and methods of Array and Tracer are defined on top of this whole namespace.
from llax.frontend import array_methods as _array_methods  # noqa: E402, F401
from llax.frontend.jnp import fft, linalg  # noqa: E402
