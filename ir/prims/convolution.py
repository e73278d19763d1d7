"""Primitives: convolution."""

__all__: list[str] = []
