"""Diagonals and triangles: diag, diagonal, diagflat, diag_indices, fill_diagonal, trace, tri,
triu, tril and their index helpers, vander, kron, cross.
"""

__all__: list[str] = []
