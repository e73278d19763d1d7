"""Minimax coefficient tables: the Remez exchange and the regeneration of every table.

Development only, never used at run time (mpmath is needed only here).  Each
family module lists its fits in ``fits()`` and keeps the resulting tables
between its ``# BEGIN GENERATED TABLES`` and ``# END GENERATED TABLES`` lines.
``python -m llax.codegen.vecmath`` prints every family's block;
``python -m llax.codegen.vecmath --write`` rewrites the blocks in place (the
output is deterministic, so unchanged fits give unchanged files).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

from llax.codegen.vecmath.core import round_to

BEGIN, END = "# BEGIN GENERATED TABLES\n", "# END GENERATED TABLES\n"


def remez(
    f: Callable, w: Callable, lo: float, hi: float, degree: int,
    npts: int | None = None, iters: int = 40,
) -> tuple[list, float]:
    """Minimax polynomial sum(c_k u^k, k <= degree) for f on [lo, hi].

    Minimises max |w(u) * (f(u) - p(u))| by the Remez exchange algorithm on a
    dense Chebyshev-distributed grid.  Returns (coefficients, max error).
    """
    import mpmath as mp

    lo, hi = mp.mpf(lo), mp.mpf(hi)
    m = degree + 2
    npts = npts or min(3000, 60 * m)
    grid = [(lo + hi) / 2 - (hi - lo) / 2 * mp.cos(mp.pi * i / (npts - 1)) for i in range(npts)]
    fv = [f(u) for u in grid]
    wv = [w(u) for u in grid]
    # Initial reference: Chebyshev nodes of the first kind (interior points,
    # so that weights vanishing at an end point do not make the system
    # singular).
    ref = [round((npts - 1) * (1 - math.cos(math.pi * (j + 0.5) / m)) / 2) for j in range(m)]
    coeffs, err = None, None
    for _ in range(iters):
        a = mp.matrix(m, m)
        rhs = mp.matrix(m, 1)
        for row, j in enumerate(ref):
            for k in range(degree + 1):
                a[row, k] = grid[j] ** k
            a[row, degree + 1] = (-1) ** row / wv[j]
            rhs[row] = fv[j]
        sol = mp.lu_solve(a, rhs)
        coeffs = [sol[k] for k in range(degree + 1)]
        e = [wv[i] * (fv[i] - mp.polyval(coeffs, grid[i], asc=True)) for i in range(npts)]
        err = max(abs(v) for v in e)
        # New reference: the extremum of each run of constant error sign,
        # trimmed at the ends to m alternating points.
        runs, start = [], 0
        for i in range(1, npts + 1):
            if i == npts or (e[i] >= 0) != (e[start] >= 0):
                runs.append(max(range(start, i), key=lambda q: abs(e[q])))
                start = i
        if len(runs) < m:
            break
        while len(runs) > m:
            runs.pop(0 if abs(e[runs[0]]) < abs(e[runs[-1]]) else -1)
        ref = runs
        if err / min(abs(e[j]) for j in ref) < 1.001:
            break
    return coeffs, float(err)


class Fit(NamedTuple):
    """One polynomial: minimise max |weight (target - p)| over [lo, hi], rounded to `bits`."""

    table: str  # table name; several fits of one name and format form a tuple of tables
    doc: str  # what is fitted (printed above the table)
    bits: int
    target: Callable  # g(u)
    weight: Callable  # w(u): minimise max |w (g - p)|
    lo: float
    hi: float
    degree: int


def tables_text(fits: Iterable[Fit]) -> str:
    """The Python source of the tables for these fits (a Remez exchange at 40 digits each)."""
    import mpmath as mp

    tables: dict[str, dict[int, list[tuple[list[float], float, Fit]]]] = {}
    with mp.workdps(40):
        for fit in fits:
            # Start just off u = 0 where targets have a removable singularity.
            lo = fit.lo if fit.lo != 0 else 1e-30
            coeffs, err = remez(fit.target, fit.weight, lo, fit.hi, fit.degree)
            rounded = [round_to(float(v), fit.bits) for v in coeffs]
            tables.setdefault(fit.table, {}).setdefault(fit.bits, []).append((rounded, err, fit))
    lines = []
    for name, per_bits in tables.items():
        first = next(iter(per_bits.values()))[0][2]
        lines.append(f"# {first.doc}")
        lines.append(f"{name}: dict[int, tuple] = {{")
        for bits, entries in sorted(per_bits.items()):
            grouped = len(entries) > 1
            lines.append(f"    {bits}: (")
            for coeffs, err, fit in entries:
                ind = "        " if grouped else "    "
                cind = ind if grouped else ind + "    "
                lines.append(f"{cind}# degree {fit.degree} on [{fit.lo:.6g}, {fit.hi:.6g}], "
                             f"max weighted error {err:.2e}")
                if grouped:
                    lines.append(f"{ind}(")
                lines.extend(f"{ind}    {v!r}," for v in coeffs)
                if grouped:
                    lines.append(f"{ind}),")
            lines.append("    ),")
        lines.append("}")
        lines.append("")
    return "\n".join(lines[:-1]) + "\n"


def regenerate(families: Iterable[ModuleType], write: bool = False) -> None:
    """Print (or, with write, rewrite in place) each family's generated tables."""
    import mpmath as mp

    for family in families:
        with mp.workdps(40):  # the fits' constants too
            text = tables_text(family.fits())
        path = Path(family.__file__)
        if not write:
            print(f"# ---- {path.name}\n{BEGIN}{text}{END}")
            continue
        source = path.read_text()
        start, end = source.find(BEGIN), source.find(END)
        if start < 0 or end < start or source.count(BEGIN) != 1:
            raise ValueError(f"{path}: expected one generated-tables block")
        path.write_text(source[:start] + BEGIN + text + source[end:])
