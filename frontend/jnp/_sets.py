"""Set operations: unique and the unique_* family (size=, fill_value=), isin, intersect1d,
union1d, setdiff1d, setxor1d.
"""

__all__: list[str] = []
