"""Primitives: cumulative."""

__all__: list[str] = []
