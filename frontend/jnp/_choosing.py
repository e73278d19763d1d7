"""Selecting by index or condition: choose, compress, select, piecewise, put, put_along_axis,
extract, place.
"""

__all__: list[str] = []
