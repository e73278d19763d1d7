"""Global configuration, shaped like ``jax.config``.

Only the flags llax acts on exist; ``update`` of an unknown flag raises, so a
typo does not silently do nothing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any


class Config:
    """Holds the flags; read them as attributes (``config.jax_enable_x64``)."""

    # Flags are plain instance attributes: they are read on every op's hot path, where a
    # ``__getattr__`` lookup would cost a microsecond.
    def __init__(self) -> None:
        values: dict[str, Any] = {
            "jax_enable_x64": os.environ.get("JAX_ENABLE_X64", "0").lower() in ("1", "true"),
            "llax_pipeline": os.environ.get("LLAX_PIPELINE") or None,
            "llax_verify": os.environ.get("LLAX_VERIFY", "0").lower() in ("1", "true"),
        }
        self.__dict__.update(values)
        self._names = frozenset(values)
        self._listeners: list[Callable[[str], None]] = []

    def update(self, name: str, value: Any) -> None:
        if name not in self._names:
            raise AttributeError(f"llax.config has no flag {name!r}; known: {sorted(self._names)}")
        setattr(self, name, value)
        for listener in self._listeners:
            listener(name)

    def on_update(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(name)`` after every ``update`` (caches keyed without the flags)."""
        self._listeners.append(listener)

    @contextlib.contextmanager
    def override(self, name: str, value: Any) -> Iterator[None]:
        """Set a flag for the duration of a ``with`` block (used by tests)."""
        old = getattr(self, name)
        self.update(name, value)
        try:
            yield
        finally:
            self.update(name, old)


config = Config()
