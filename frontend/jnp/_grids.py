"""Index grids: meshgrid, mgrid, ogrid, indices, ix_, r_, c_, s_, index_exp, ravel_multi_index,
unravel_index.
"""

__all__: list[str] = []
