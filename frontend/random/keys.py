"""Typed PRNG key arrays and the key API: ``key``, ``PRNGKey``, ``split``, ``fold_in``...

A ``KeyArray`` of shape ``s`` holds uint32 key data of shape ``(*s, 2)`` (an Array,
or a tracer while tracing) and shows dtype ``key<fry>``, as JAX's typed keys do.
To users it is one pytree leaf; transformations see through it to the data (it is
registered with ``register_user_leaf``), so jit, vmap, grad and control flow
carry keys with no rules of their own. Arithmetic on keys raises JAX's errors.

Every function takes typed keys or raw ``uint32[..., 2]`` keys (``PRNGKey``'s),
and returns keys of the kind it was given, as JAX does.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from llax.frontend import lax
from llax.frontend.api import jit
from llax.frontend.core import Array, Tracer
from llax.frontend.jnp._coerce import as_array
from llax.frontend.random import threefry
from llax.frontend.tree_util import register_user_leaf

KEY_SHAPE = (2,)


class PRNGImpl:
    """The one implementation llax has: threefry2x32, JAX's default."""

    name = "threefry2x32"
    tag = "fry"

    def __repr__(self) -> str:
        return f"PRNGImpl({self.name})"


THREEFRY = PRNGImpl()


class KeyDtype:
    """The dtype of typed keys; prints as JAX's ``key<fry>``."""

    impl = THREEFRY
    name = f"key<{THREEFRY.tag}>"
    itemsize = 8
    kind = "V"

    def __repr__(self) -> str:
        return self.name

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KeyDtype) or other == self.name

    def __hash__(self) -> int:
        return hash(self.name)


KEY_DTYPE = KeyDtype()


def _no_arithmetic(name: str):
    def refuse(self, *others):
        types = ", ".join(str(getattr(x, "dtype", _python_dtype(x))) for x in (self, *others))
        raise TypeError(f"{name} does not accept dtypes {types}.")

    return refuse


def _python_dtype(x: Any) -> str:
    return {bool: "bool", int: "int32", float: "float32"}.get(type(x), type(x).__name__)


class KeyArray:
    """An array of PRNG keys (dtype ``key<fry>``)."""

    __slots__ = ("_data",)
    __array_priority__ = 200

    def __init__(self, data: Any) -> None:
        self._data = data

    # --- array protocol -------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._data.shape[:-1])

    @property
    def dtype(self) -> KeyDtype:
        return KEY_DTYPE

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d key array")
        return (self[i] for i in range(self.shape[0]))

    def __getitem__(self, idx: Any) -> KeyArray:
        idx = idx if isinstance(idx, tuple) else (idx,)
        # The key words stay whole: index the data with a full slice on its last axis
        # (an Ellipsis then stretches over the key dims only).
        return KeyArray(self._data[(*idx, slice(None))])

    def reshape(self, *shape: Any, order: str = "C") -> KeyArray:
        shape = shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape
        return KeyArray(self._data.reshape(*tuple(shape), *KEY_SHAPE, order=order))

    def ravel(self) -> KeyArray:
        return self.reshape(-1)

    flatten = ravel

    def squeeze(self, axis: int | Sequence[int] | None = None) -> KeyArray:
        if axis is None:
            axis = tuple(d for d, n in enumerate(self.shape) if n == 1)
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        return KeyArray(lax.squeeze(self._data, [a % self.ndim for a in axes]))

    def transpose(self, *axes: Any) -> KeyArray:
        axes = axes[0] if len(axes) == 1 and not isinstance(axes[0], int) else axes
        axes = tuple(axes) if axes else tuple(reversed(range(self.ndim)))
        return KeyArray(lax.transpose(self._data, (*(a % self.ndim for a in axes), self.ndim)))

    @property
    def T(self) -> KeyArray:
        return self.transpose()

    def __eq__(self, other: object) -> Any:
        if not isinstance(other, KeyArray):
            return NotImplemented
        return (self._data == other._data).all(axis=-1)

    def __ne__(self, other: object) -> Any:
        if not isinstance(other, KeyArray):
            return NotImplemented
        return (self._data != other._data).any(axis=-1)

    __hash__ = None  # type: ignore[assignment]  (mutable-looking, as JAX arrays)

    def __array__(self, dtype=None, copy=None):
        raise TypeError("JAX array with PRNGKey dtype cannot be converted to a NumPy array. "
                        "Use jax.random.key_data(arr) if you wish to extract the underlying "
                        "integer array.")

    def block_until_ready(self) -> KeyArray:
        return self

    def __repr__(self) -> str:
        if not isinstance(self._data, (Array, Tracer)):  # eval_shape's ShapeDtypeStruct
            return f"ShapeDtypeStruct(shape={self.shape}, dtype={KEY_DTYPE})"
        if isinstance(self._data, Tracer):
            return f"Traced<key<fry>{list(self.shape)}>with<{self._data._trace.name}>"
        return (f"Array({self.shape}, dtype={KEY_DTYPE}) overlaying:\n"
                f"{np.asarray(self._data)}")

    __str__ = __repr__


# Keys are not numbers: every arithmetic operator refuses, naming the op and dtypes as JAX does.
_REFUSED = {
    "add": "add radd", "sub": "sub rsub", "mul": "mul rmul", "div": "truediv rtruediv",
    "floor_divide": "floordiv rfloordiv", "rem": "mod rmod", "pow": "pow rpow",
    "dot_general": "matmul rmatmul", "and": "and rand", "or": "or ror", "xor": "xor rxor",
    "shift_left": "lshift rlshift", "shift_right_arithmetic": "rshift rrshift", "lt": "lt",
    "le": "le", "gt": "gt", "ge": "ge", "neg": "neg", "pos": "pos", "abs": "abs", "not": "invert",
}
for _op, _dunders in _REFUSED.items():
    for _dunder in _dunders.split():
        setattr(KeyArray, f"__{_dunder}__", _no_arithmetic(_op))

register_user_leaf(KeyArray, lambda k: ((k._data,), None), lambda _, data: KeyArray(data[0]))


# ---------------------------------------------------------------------------------------------
# Checking keys


def _key_data_error(what: str) -> TypeError:
    return TypeError(f"JAX encountered invalid PRNG key data: {what}")


def _raw_key_data(key: Any) -> Any:
    data = as_array(key, "random key")
    if data.dtype != np.uint32:
        raise _key_data_error(f"expected key_data.dtype = uint32; got dtype={data.dtype}")
    if tuple(data.shape[-1:]) != KEY_SHAPE:
        raise _key_data_error(f"expected key_data.shape to end with {KEY_SHAPE}; got "
                              f"shape={tuple(data.shape)} for impl={THREEFRY}")
    return data


def check_key(name: str, key: Any, *, batched: bool = False) -> tuple[KeyArray, bool]:
    """``key`` as a typed key array, and whether it came raw (uint32 data)."""
    if isinstance(key, KeyArray):
        typed, raw = key, False
    elif isinstance(key, (Array, Tracer, np.ndarray, np.generic)):
        typed, raw = KeyArray(_raw_key_data(key)), True
    else:
        raise TypeError(f"unexpected PRNG key type {type(key)}")
    if not batched and typed.ndim:
        raise ValueError(f"{name} accepts a single key, but was given a key array of shape "
                         f"{np.shape(key)} != (). Use jax.vmap for batching.")
    return typed, raw


def _returned(keys: KeyArray, raw: bool) -> Any:
    return keys._data if raw else keys


# ---------------------------------------------------------------------------------------------
# Making keys


def _seed_array(seed: Any, ctor: str) -> Any:
    if isinstance(seed, KeyArray):
        raise TypeError(f"{ctor} accepts a scalar seed, but was given a PRNG key.")
    if np.ndim(seed):
        raise TypeError(f"{ctor} accepts a scalar seed, but was given an array of shape "
                        f"{np.shape(seed)} != (). Use jax.vmap for batching")
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        # As JAX: a Python int goes through int64 first (so a hash() value works), then to
        # the default integer type (int32 without x64: the high bits are dropped).
        seed = np.int64(seed) if isinstance(seed, int) else seed
    value = as_array(seed, ctor)
    if not np.issubdtype(value.dtype, np.integer):
        raise TypeError(f"PRNG key seed must be an integer; got {value!r}")
    return value


@jit
def _seed_data(seed: Any) -> Any:
    return threefry.seed(seed)


def key(seed: Any, *, impl: Any = None) -> KeyArray:
    """A typed key (dtype ``key<fry>``) from an integer seed."""
    _check_impl(impl)
    return KeyArray(_seed_data(_seed_array(seed, "key")))


def PRNGKey(seed: Any, *, impl: Any = None) -> Any:
    """A raw key: uint32 data of shape (2,), from an integer seed."""
    _check_impl(impl)
    return _seed_data(_seed_array(seed, "PRNGKey"))


def _check_impl(impl: Any) -> None:
    if impl not in (None, THREEFRY.name, THREEFRY, KEY_DTYPE):
        raise ValueError(f"unrecognized PRNG implementation {impl!r}; llax has "
                         f"{THREEFRY.name!r} only")


def key_data(keys: Any) -> Any:
    """The uint32 data of typed keys: shape ``(*keys.shape, 2)``."""
    return check_key("key_data", keys, batched=True)[0]._data


def wrap_key_data(key_bits_array: Any, *, impl: Any = None) -> KeyArray:
    """Typed keys from uint32 data whose last dimension is 2."""
    _check_impl(impl)
    if isinstance(key_bits_array, KeyArray):
        raise TypeError("wrap_key_data takes uint32 key data, but was given a typed key array")
    return KeyArray(_raw_key_data(key_bits_array))


def key_impl(keys: Any) -> str:
    check_key("key_impl", keys, batched=True)
    return THREEFRY.name


def clone(key: Any) -> Any:
    """The same key (keys are immutable values in llax, as in JAX's default mode)."""
    return key


# ---------------------------------------------------------------------------------------------
# Deriving keys


@jit(static_argnums=1)
def _split(key: KeyArray, shape: tuple[int, ...]) -> KeyArray:
    return KeyArray(threefry.split(key._data, shape))


def split(key: Any, num: int | Sequence[int] = 2) -> Any:
    """``num`` new keys (or an array of keys of shape ``num``) from one key."""
    typed, raw = check_key("split", key)
    shape = tuple(map(operator.index, num)) if isinstance(num, Sequence) else (
        operator.index(num),)
    if any(n < 0 for n in shape):
        raise ValueError(f"split: num must be non-negative, got {num}")
    return _returned(_split(typed, shape), raw)


@jit
def _fold_in(key: KeyArray, data: Any) -> KeyArray:
    return KeyArray(threefry.fold_in(key._data, data))


def fold_in(key: Any, data: Any) -> Any:
    """A new key from ``key`` and a 32-bit integer."""
    typed, raw = check_key("fold_in", key)
    if np.ndim(data):
        raise TypeError("fold_in accepts a scalar, but was given an array of"
                        f"shape {np.shape(data)} != (). Use jax.vmap for batching.")
    if isinstance(data, int):  # as np.asarray(data, uint32): in range or OverflowError
        if not 0 <= data < 1 << 32:
            raise OverflowError(f"Python integer {data} out of bounds for uint32")
        data = np.uint32(data)
    data = lax.convert_element_type(as_array(data, "fold_in"), np.uint32)
    return _returned(_fold_in(typed, data), raw)
