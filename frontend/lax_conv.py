"""``lax``'s convolutions and their shape helpers."""

__all__: list[str] = []
