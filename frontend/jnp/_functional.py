"""Functions over arrays: vectorize, frompyfunc, apply_along_axis, apply_over_axes,
fromfunction.
"""

__all__: list[str] = []
