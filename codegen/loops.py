"""Counted loops in the shape LLVM's loop vectoriser expects.

Each loop is ``for (i = 0; i < n; i++)`` over an i64 induction variable with a
single latch, ``nuw nsw`` increments and optional loop-carried values (phis),
which is what reductions need. Trip counts are static Python ints or LLVM
values. No unrolling here: LLVM decides vector width and interleaving (a caller
may ask for unrolling: loop metadata, which LLVM honours although llax's pipeline
does not unroll on its own).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import llvmlite.ir as ir

from llax.codegen.ltypes import I64, i64, intrinsic, is_complex_type, make_complex, parts

Body = Callable[[ir.Value, list[ir.Value]], Sequence[ir.Value]]


def for_range(b: ir.IRBuilder, n: int | ir.Value, body: Body,
              init: Sequence[ir.Value] = (), name: str = "i",
              unroll: int = 1) -> list[ir.Value]:
    """Emit ``for i in range(n)``; ``body(i, carried) -> new carried values``; ``unroll``
    asks LLVM to unroll the loop that many times.

    Returns the carried values after the loop, with the builder placed after it.
    A loop with a static trip count of 0 emits nothing; one of 1 emits its body
    once without a loop (i = 0), which keeps the IR small.

    A complex carried value is carried as its two parts (two phis, not one of a struct):
    LLVM's loop vectoriser recognises reductions only in scalar phis.
    """
    if any(is_complex_type(v.type) for v in init):
        return _for_range_split(b, n, body, init, name, unroll)
    if isinstance(n, int):
        if n <= 0:
            return list(init)
        if n == 1:
            return list(body(i64(0), list(init)))
        n = i64(n)
    pre = b.block
    header = b.append_basic_block(f"{name}.head")
    body_bb = b.append_basic_block(f"{name}.body")
    exit_bb = b.append_basic_block(f"{name}.exit")
    b.branch(header)

    b.position_at_end(header)
    iv = b.phi(I64, name=name)
    iv.add_incoming(i64(0), pre)
    phis = []
    for k, v in enumerate(init):
        p = b.phi(v.type, name=f"{name}.acc{k}")
        p.add_incoming(v, pre)
        phis.append(p)
    b.cbranch(b.icmp_signed("<", iv, n), body_bb, exit_bb)

    b.position_at_end(body_bb)
    new = list(body(iv, list(phis)))
    if len(new) != len(phis):
        raise ValueError("loop body must return one value per carried value")
    nxt = b.add(iv, i64(1), name=f"{name}.next", flags=["nuw", "nsw"])
    latch = b.block
    back = b.branch(header)
    if unroll > 1:
        back.set_metadata("llvm.loop", _unroll_metadata(b.module, unroll))
    iv.add_incoming(nxt, latch)
    for p, v in zip(phis, new):
        p.add_incoming(v, latch)

    b.position_at_end(exit_bb)
    return list(phis)


def _for_range_split(b: ir.IRBuilder, n: int | ir.Value, body: Body, init: Sequence[ir.Value],
                     name: str, unroll: int) -> list[ir.Value]:
    """``for_range`` with every complex carried value split into its parts."""
    is_c = [is_complex_type(v.type) for v in init]
    flat: list[ir.Value] = []
    for v, c in zip(init, is_c):
        flat.extend(parts(b, v) if c else (v,))

    def join(values: Sequence[ir.Value]) -> list[ir.Value]:
        out, it = [], iter(values)
        for c in is_c:
            out.append(make_complex(b, next(it), next(it)) if c else next(it))
        return out

    def split(values: Sequence[ir.Value]) -> list[ir.Value]:
        out: list[ir.Value] = []
        for v, c in zip(values, is_c):
            out.extend(parts(b, v) if c else (v,))
        return out

    result = for_range(b, n, lambda i, carried: split(body(i, join(carried))), flat, name,
                       unroll)
    return join(result)


def loop_nest(b: ir.IRBuilder, sizes: Sequence[int | ir.Value],
              body: Callable[[list[ir.Value]], None], name: str = "i") -> None:
    """Nested loops over ``sizes`` (static or runtime trip counts, outermost first);
    ``body(ivs)`` emits the innermost body."""

    def level(k: int, ivs: list[ir.Value]) -> None:
        if k == len(sizes):
            body(ivs)
            return
        for_range(b, sizes[k], lambda iv, _: (level(k + 1, [*ivs, iv]), [])[1],
                  name=f"{name}{k}")

    level(0, [])


def tiled_pair(b: ir.IRBuilder, rows: int | ir.Value, cols: int,
               body: Callable[[ir.Value, ir.Value], None], tile: int,
               row_start: ir.Value | None = None) -> None:
    """``for r in range(rows): for c in range(cols): body(row_start + r, c)``, visited in
    ``tile`` x ``tile`` blocks: a nest that reads one array across its rows (a transpose)
    then touches each cache line of it once per block rather than once per element."""
    start = row_start if row_start is not None else i64(0)

    def blocks(n: int | ir.Value) -> int | ir.Value:
        return -(-n // tile) if isinstance(n, int) else b.udiv(b.add(n, i64(tile - 1)),
                                                                i64(tile))

    def extent(n: int | ir.Value, first: ir.Value) -> int | ir.Value:
        if isinstance(n, int) and n % tile == 0:
            return tile  # a static trip count LLVM can vectorise without a remainder
        left = b.sub(n if isinstance(n, ir.Value) else i64(n), first)
        return intrinsic(b, "smin", [left, i64(tile)], I64)

    def row_block(rb: ir.Value, _: list) -> list:
        r0 = b.mul(rb, i64(tile), flags=["nuw", "nsw"])
        n_rows = extent(rows, r0)

        def col_block(cb: ir.Value, _: list) -> list:
            c0 = b.mul(cb, i64(tile), flags=["nuw", "nsw"])
            n_cols = extent(cols, c0)

            def row(r: ir.Value, _: list) -> list:
                at = b.add(start, b.add(r0, r, flags=["nuw", "nsw"]), flags=["nuw", "nsw"])
                for_range(b, n_cols, lambda c, _: (body(at, b.add(c0, c, flags=["nuw", "nsw"])),
                                                   [])[1], name="tc")
                return []

            for_range(b, n_rows, row, name="tr")
            return []

        for_range(b, blocks(cols), col_block, name="tcb")
        return []

    for_range(b, blocks(rows), row_block, name="trb")


def _unroll_metadata(module: ir.Module, count: int) -> ir.values.MDValue:
    """``!{self, !{"llvm.loop.unroll.count", i32 count}}``: a loop ID must refer to itself,
    which ``Module.add_metadata`` cannot express, so the node is made and then closed."""
    hint = module.add_metadata([ir.MetaDataString(module, "llvm.loop.unroll.count"),
                                ir.Constant(ir.IntType(32), count)])
    loop = ir.values.MDValue(module, [], name=str(len(module.metadata)))
    loop.operands = (loop, hint)
    return loop
