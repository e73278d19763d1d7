"""Global configuration, shaped like ``jax.config``.

Only the flags llax knows exist; ``update`` of an unknown flag raises, so a
typo does not silently do nothing. Each flag takes its initial value from the
environment variable of the same name in capitals (``JAX_DEBUG_NANS=1``).

Some flags, as in JAX, can also be set for one thread for the duration of a
``with`` block (``scoped``; the public context managers such as ``debug_nans``
and ``disable_jit`` are built on it). Code that must act on a flag however it
was set asks ``any_thread(name)``; listeners registered with ``on_update`` run
after every change, global or scoped, so hot paths can install their checks
only while a flag is on somewhere and pay nothing otherwise.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

_TRUE = ("y", "yes", "t", "true", "on", "1")
_FALSE = ("n", "no", "f", "false", "off", "0")

# JAX's accepted values of the enum flags (None is accepted where listed too).
RANK_PROMOTION_MODES = ("allow", "warn", "raise")
MATMUL_PRECISIONS = (
    "default", "high", "highest", "bfloat16", "tensorfloat32", "float32",
    "ANY_F8_ANY_F8_F32", "ANY_F8_ANY_F8_F32_FAST_ACCUM", "ANY_F8_ANY_F8_ANY",
    "ANY_F8_ANY_F8_ANY_FAST_ACCUM", "F16_F16_F16", "F16_F16_F32", "BF16_BF16_BF16",
    "BF16_BF16_F32", "BF16_BF16_F32_X3", "BF16_BF16_F32_X6", "BF16_BF16_F32_X9",
    "TF32_TF32_F32", "TF32_TF32_F32_X3", "F32_F32_F32", "F64_F64_F64")


def _env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ValueError(f"invalid truth value {raw!r} for environment {name!r}")


def _check_enum(choices: tuple, allow_none: bool) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if value is None and allow_none:
            return
        if value not in choices:
            none = "None or " if allow_none else ""
            raise ValueError(f"new enum value must be {none}in {list(choices)}, got {value} "
                             f"of type {type(value)}.")

    return check


# Flags that may also be set per thread (``Config.scoped``), with the check of their values.
# Reads of these go through a property (a thread-local lookup): none is read on a hot path.
_SCOPED_FLAGS: dict[str, Callable[[Any], None] | None] = {
    "jax_debug_nans": None,
    "jax_debug_infs": None,
    "jax_disable_jit": None,
    "jax_log_compiles": None,
    "jax_explain_cache_misses": None,
    "jax_numpy_rank_promotion": _check_enum(RANK_PROMOTION_MODES, allow_none=False),
    "jax_default_matmul_precision": _check_enum(MATMUL_PRECISIONS, allow_none=True),
}


def _scoped_flag(name: str) -> property:
    def read(self: Config) -> Any:
        overrides = getattr(self._local, "overrides", None)
        if overrides and name in overrides:
            return overrides[name]
        return self._globals[name]

    return property(read, doc=f"``{name}``: this thread's value (scoped, else global).")


class Config:
    """Holds the flags; read them as attributes (``config.jax_enable_x64``)."""

    # Plain flags are plain instance attributes: they are read on every op's hot path, where
    # a ``__getattr__`` lookup would cost a microsecond. Scoped flags are class properties.
    def __init__(self) -> None:
        values: dict[str, Any] = {
            "jax_enable_x64": os.environ.get("JAX_ENABLE_X64", "0").lower() in ("1", "true"),
            "llax_pipeline": os.environ.get("LLAX_PIPELINE") or None,
            "llax_verify": os.environ.get("LLAX_VERIFY", "0").lower() in ("1", "true"),
        }
        self.__dict__.update(values)
        self._globals: dict[str, Any] = {
            "jax_debug_nans": _env_bool("JAX_DEBUG_NANS"),
            "jax_debug_infs": _env_bool("JAX_DEBUG_INFS"),
            "jax_disable_jit": _env_bool("JAX_DISABLE_JIT"),
            "jax_log_compiles": _env_bool("JAX_LOG_COMPILES"),
            "jax_explain_cache_misses": _env_bool("JAX_EXPLAIN_CACHE_MISSES"),
            "jax_numpy_rank_promotion": os.environ.get("JAX_NUMPY_RANK_PROMOTION", "allow"),
            "jax_default_matmul_precision":
                os.environ.get("JAX_DEFAULT_MATMUL_PRECISION") or None,
        }
        for name, value in self._globals.items():
            check = _SCOPED_FLAGS[name]
            if check is not None:
                check(value)
        self._names = frozenset(values) | frozenset(self._globals)
        self._listeners: list[Callable[[str], None]] = []
        self._local = threading.local()
        # Per scoped flag: how many scoped values (truthy ones) threads hold right now.
        self._scopes: dict[str, int] = dict.fromkeys(self._globals, 0)
        self._truthy_scopes: dict[str, int] = dict.fromkeys(self._globals, 0)
        self._scope_lock = threading.Lock()

    def update(self, name: str, value: Any) -> None:
        if name not in self._names:
            raise AttributeError(f"llax.config has no flag {name!r}; known: {sorted(self._names)}")
        if name in self._globals:
            check = _SCOPED_FLAGS[name]
            if check is not None:
                check(value)
            self._globals[name] = value
        else:
            setattr(self, name, value)
        self._notify(name)

    def _notify(self, name: str) -> None:
        for listener in self._listeners:
            listener(name)

    def on_update(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(name)`` after every change of a flag, global or scoped (caches
        keyed without the flags, checks installed only while a flag is on)."""
        self._listeners.append(listener)

    def any_thread(self, name: str) -> bool:
        """Whether flag ``name`` is truthy globally or in some thread's scope: what decides
        if a check must be installed at all (the check itself reads this thread's value)."""
        return bool(self._globals[name]) or self._truthy_scopes[name] > 0

    def global_value(self, name: str) -> Any:
        """A scoped flag's global value (what threads without a scope of their own read)."""
        return self._globals[name]

    def scoped_anywhere(self, name: str) -> bool:
        """Whether some thread has a scoped value for flag ``name`` right now."""
        return self._scopes[name] > 0

    @contextlib.contextmanager
    def scoped(self, name: str, value: Any) -> Iterator[None]:
        """Set a flag for this thread only, for the duration of a ``with`` block (JAX's
        context managers: ``with llax.disable_jit():``). Other threads keep their value."""
        if name not in self._globals:
            if name in self._names:
                raise AttributeError(f"llax.config flag {name!r} cannot be scoped to a thread")
            raise AttributeError(f"llax.config has no flag {name!r}; known: {sorted(self._names)}")
        check = _SCOPED_FLAGS[name]
        if check is not None:
            check(value)
        overrides = getattr(self._local, "overrides", None)
        if overrides is None:
            overrides = self._local.overrides = {}
        missing = object()
        old = overrides.get(name, missing)
        overrides[name] = value
        with self._scope_lock:
            self._scopes[name] += 1
            self._truthy_scopes[name] += bool(value)
        self._notify(name)
        try:
            yield
        finally:
            if old is missing:
                del overrides[name]
            else:
                overrides[name] = old
            with self._scope_lock:
                self._scopes[name] -= 1
                self._truthy_scopes[name] -= bool(value)
            self._notify(name)

    @contextlib.contextmanager
    def override(self, name: str, value: Any) -> Iterator[None]:
        """Set a flag globally for the duration of a ``with`` block (used by tests)."""
        old = self._globals[name] if name in self._globals else getattr(self, name)
        self.update(name, value)
        try:
            yield
        finally:
            self.update(name, old)


for _name in _SCOPED_FLAGS:
    setattr(Config, _name, _scoped_flag(_name))


config = Config()


_NO_VALUE = object()


class _ScopedFlag:
    """A flag as JAX exposes it next to ``jax.config``: ``with debug_nans(True):`` sets it
    for this thread inside the block; ``.value`` reads this thread's value."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __call__(self, value: Any = _NO_VALUE) -> contextlib.AbstractContextManager[None]:
        if value is _NO_VALUE:
            if _SCOPED_FLAGS[self._name] is not None:  # an enum flag: no default value
                raise TypeError(f"{self._name}: a value is required")
            value = True
        return config.scoped(self._name, value)

    @property
    def value(self) -> Any:
        return getattr(config, self._name)

    def __repr__(self) -> str:
        return f"<llax flag {self._name}={self.value!r}>"


# JAX's context managers of the same names (``jax.debug_nans``, ``jax.numpy_rank_promotion``...).
debug_nans = _ScopedFlag("jax_debug_nans")
debug_infs = _ScopedFlag("jax_debug_infs")
log_compiles = _ScopedFlag("jax_log_compiles")
explain_cache_misses = _ScopedFlag("jax_explain_cache_misses")
numpy_rank_promotion = _ScopedFlag("jax_numpy_rank_promotion")
default_matmul_precision = _ScopedFlag("jax_default_matmul_precision")
