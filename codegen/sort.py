"""Lowering of ``sort``: per row, a radix or merge sort of packed records, then a permutation.

The operands are rows of ``n`` elements along the sorted dimension (``outer``
blocks before it, ``inner`` elements after it: a row's elements are ``inner``
apart). For each row:

1. every position ``i`` becomes a *record*: its keys turned into unsigned
   integers whose order is the sort's (``ordered_bits``: floats with -0.0 made
   +0.0 and every NaN one NaN after +inf, signed integers with their sign bit
   flipped), followed by ``i`` itself, packed from the top into as few 64-bit
   words as they fit in. Records compare as unsigned words, most significant
   first. Every record is distinct (they end in their position), so any correct
   sort of them is the stable sort of the keys;
2. the records are sorted, back and forth between two scratch buffers. Long rows:
   an LSD radix sort on 8-bit digits of the key fields only (records start in
   position order and each pass is stable), one read counting every digit's
   buckets, and a pass skipped where all records share its digit. Short rows
   (where clearing and summing histograms would cost more): runs of ``RUN``
   sorted by insertion, then a bottom-up merge sort with a branch-free merge loop
   (both heads loaded, the smaller stored);
3. every operand is permuted: ``out[i] = in[position of record i]``.

Rows are independent: many of them, with enough work, are split across cores
(``llax.codegen.parallel``), each chunk with scratch buffers of its own.

Importing this module registers the rule in the code generator's tables.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import llvmlite.ir as ir
import numpy as np

from llax.codegen import ltypes, parallel
from llax.codegen.loops import for_range
from llax.codegen.lower import OPAQUE_RULES, KernelBuilder
from llax.codegen.ltypes import I64, i64
from llax.ir import dtypes
from llax.ir import prims as P
from llax.ir.core import Op
from llax.ir.types import TensorType

WORD = 64
# Runs this long are sorted by insertion before merging: a few merge passes fewer, and
# insertion sort is fast on a handful of records that sit in one cache line or two.
RUN = 8
# Rows are sorted by radix (LSD, RADIX_BITS-bit digits of the keys) when they have at least
# RADIX_MIN records and RADIX_RECORDS_PER_BUCKET per bucket of a digit's histogram times
# the number of digits; shorter ones by merging, whose cost does not start with clearing
# and summing histograms. (On float32 rows of 64 to 2048, radix was 1.2-3x faster than
# merging from 64 on; float64 keys have twice the digits.)
RADIX_MIN = 64
RADIX_RECORDS_PER_BUCKET = 1 / 8
RADIX_BITS = 8
BUCKETS = 1 << RADIX_BITS
# The canonical NaN (positive, quiet) every NaN key becomes, per float width.
_NAN_BITS = {16: 0x7E00, 32: 0x7FC00000, 64: 0x7FF8000000000000}


# --- records --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Field:
    """A field of a record: ``width`` bits at bit ``shift`` of word ``word``."""

    word: int
    shift: int
    width: int


def key_width(dtype: np.dtype) -> int:
    """Bits of a key's ordered form: a bool is one bit, any other dtype its width."""
    return 1 if dtypes.is_bool(dtype) else 8 * np.dtype(dtype).itemsize


def pack_fields(widths: Sequence[int]) -> tuple[list[Field], int]:
    """Place fields (most significant first) into 64-bit words, each field in one word,
    filling every word from its top bit; returns the fields and the number of words."""
    fields, word, used = [], 0, 0
    for w in widths:
        if used + w > WORD:
            word, used = word + 1, 0
        used += w
        fields.append(Field(word, WORD - used, w))
    return fields, word + 1


def ordered_bits(b: ir.IRBuilder, v: ir.Value, dtype: np.dtype) -> ir.Value:
    """A key value as an unsigned integer (in an i64) ordered as the sort orders keys."""
    dtype = np.dtype(dtype)
    if dtypes.is_bool(dtype):
        return b.zext(v, I64)
    bits = 8 * dtype.itemsize
    ity = ir.IntType(bits)
    sign = ir.Constant(ity, -(1 << (bits - 1)))
    if dtype.kind == "u":
        u = v
    elif dtype.kind == "i":
        u = b.xor(v, sign)  # two's complement order -> unsigned order
    else:
        raw = b.bitcast(v, ity)
        raw = b.select(b.fcmp_ordered("==", v, ir.Constant(v.type, 0.0)), ir.Constant(ity, 0),
                       raw)
        raw = b.select(b.fcmp_unordered("uno", v, v), ir.Constant(ity, _NAN_BITS[bits]), raw)
        # Negative floats count down as their bits count up: flip them all; put the
        # non-negative ones above them by setting the sign bit.
        negative = b.icmp_signed("<", raw, ir.Constant(ity, 0))
        u = b.select(negative, b.not_(raw), b.or_(raw, sign))
    return u if bits == WORD else b.zext(u, I64)


# --- the merge sort -------------------------------------------------------------------------

def radix_digits(fields: Sequence[Field]) -> list[tuple[int, int]]:
    """The (word, shift) of each radix digit of the key fields (all fields but the last,
    the position), least significant first. Positions need no digits: records start in
    position order and every radix pass is stable."""
    digits = []
    for w in sorted({f.word for f in fields[:-1]}, reverse=True):
        low = min(f.shift for f in fields[:-1] if f.word == w)
        digits += [(w, s) for s in range(low, WORD, RADIX_BITS)]
    return digits


def uses_radix(n: int, digits: int) -> bool:
    return n >= max(RADIX_MIN, RADIX_RECORDS_PER_BUCKET * BUCKETS * digits)


class RowSorter:
    """Emits the sort of one row's records: ``words`` i64 per record, ``n`` records;
    by radix (``digits``, with ``hist`` holding BUCKETS counters per digit) or by merging."""

    def __init__(self, b: ir.IRBuilder, n: int, words: int,
                 digits: Sequence[tuple[int, int]] = (), hist: ir.Value | None = None) -> None:
        self.b, self.n, self.words = b, n, words
        self.digits, self.hist = list(digits), hist

    def ptr(self, buf: ir.Value, rec: ir.Value, w: int = 0) -> ir.Value:
        b = self.b
        at = rec if self.words == 1 else b.add(b.mul(rec, i64(self.words), flags=["nuw", "nsw"]),
                                                i64(w), flags=["nuw", "nsw"])
        return b.gep(buf, [at], inbounds=True, source_etype=I64)

    def load(self, buf: ir.Value, rec: ir.Value) -> list[ir.Value]:
        return [self.b.load(self.ptr(buf, rec, w), typ=I64, align=8) for w in range(self.words)]

    def store(self, words: Sequence[ir.Value], buf: ir.Value, rec: ir.Value) -> None:
        for w, v in enumerate(words):
            self.b.store(v, self.ptr(buf, rec, w), align=8)

    def less(self, x: Sequence[ir.Value], y: Sequence[ir.Value]) -> ir.Value:
        """x < y as unsigned words, the first most significant."""
        b = self.b
        out = b.icmp_unsigned("<", x[-1], y[-1])
        for xw, yw in zip(reversed(x[:-1]), reversed(y[:-1])):
            out = b.or_(b.icmp_unsigned("<", xw, yw),
                        b.and_(b.icmp_unsigned("==", xw, yw), out))
        return out

    def sort(self, a: ir.Value, c: ir.Value) -> ir.Value:
        """Sort the records in ``a`` (``c`` is scratch of the same size); returns the buffer
        holding the result (``a`` or ``c``)."""
        n = self.n
        if n <= 1:
            return a
        if self.digits:
            return self.radix(a, c)
        run = min(RUN, n)
        self.insertion_runs(a, run)
        passes = max(0, math.ceil(math.log2(n / run)))
        if passes:
            self.merge_passes(a, c, run, passes)
        return a if passes % 2 == 0 else c

    def word_at(self, buf: ir.Value, rec: ir.Value, w: ir.Value) -> ir.Value:
        """Word ``w`` (a runtime value) of record ``rec``."""
        b = self.b
        at = b.add(b.mul(rec, i64(self.words), flags=["nuw", "nsw"]), w, flags=["nuw", "nsw"])
        return b.load(b.gep(buf, [at], inbounds=True, source_etype=I64), typ=I64, align=8)

    def counter(self, digit: ir.Value, bucket: ir.Value) -> ir.Value:
        b = self.b
        at = b.add(b.mul(digit, i64(BUCKETS), flags=["nuw", "nsw"]), bucket,
                   flags=["nuw", "nsw"])
        return b.gep(self.hist, [at], inbounds=True, source_etype=I64)

    def radix(self, a: ir.Value, c: ir.Value) -> ir.Value:
        """LSD radix sort: one read counts every digit's buckets, then a stable scatter
        per digit, skipped where every record has the same digit."""
        b, n, digits = self.b, self.n, self.digits
        ltypes.zero_fill(b, self.hist, 8 * BUCKETS * len(digits))

        def count(i: ir.Value, _: list) -> list:
            rec = self.load(a, i)
            for k, (w, shift) in enumerate(digits):
                bucket = b.and_(b.lshr(rec[w], i64(shift)), i64(BUCKETS - 1))
                slot = self.counter(i64(k), bucket)
                b.store(b.add(b.load(slot, typ=I64, align=8), i64(1)), slot, align=8)
            return []

        for_range(b, n, count, name="cnt")
        table = _constant_table(b.module, [v for d in digits for v in d])

        def one_digit(k: ir.Value, carry: list) -> list:
            src, dst = carry
            entry = b.mul(k, i64(2), flags=["nuw", "nsw"])
            w = b.load(b.gep(table, [entry], inbounds=True, source_etype=I64), typ=I64)
            shift = b.load(b.gep(table, [b.add(entry, i64(1))], inbounds=True,
                                 source_etype=I64), typ=I64)

            def bucket_of(buf: ir.Value, rec: ir.Value) -> ir.Value:
                return b.and_(b.lshr(self.word_at(buf, rec, w), shift), i64(BUCKETS - 1))

            first = b.load(self.counter(k, bucket_of(src, i64(0))), typ=I64, align=8)
            moves = b.icmp_unsigned("!=", first, i64(n))
            with b.if_then(moves):
                def offsets(d: ir.Value, acc: list) -> list:
                    slot = self.counter(k, d)
                    c = b.load(slot, typ=I64, align=8)
                    b.store(acc[0], slot, align=8)
                    return [b.add(acc[0], c, flags=["nuw", "nsw"])]

                for_range(b, BUCKETS, offsets, [i64(0)], name="off")

                def scatter(i: ir.Value, _: list) -> list:
                    rec = self.load(src, i)
                    slot = self.counter(k, bucket_of(src, i))
                    at = b.load(slot, typ=I64, align=8)
                    b.store(b.add(at, i64(1), flags=["nuw", "nsw"]), slot, align=8)
                    self.store(rec, dst, at)
                    return []

                for_range(b, n, scatter, name="sct")
            return [b.select(moves, dst, src), b.select(moves, src, dst)]

        done, _ = for_range(b, len(digits), one_digit, [a, c], name="dig")
        return done

    def insertion_runs(self, a: ir.Value, run: int) -> None:
        b, n = self.b, self.n

        def each_run(r: ir.Value, _: list) -> list:
            lo = b.mul(r, i64(run), flags=["nuw", "nsw"])
            size = ltypes.intrinsic(b, "smin", [i64(run), b.sub(i64(n), lo)], I64)

            def insert(t: ir.Value, _: list) -> list:
                # Records lo .. lo+t are sorted: shift the larger ones up, drop record t in.
                k = b.add(lo, b.add(t, i64(1)), flags=["nuw", "nsw"])
                item = self.load(a, k)
                pre = b.block
                head = b.append_basic_block("ins.head")
                step = b.append_basic_block("ins.step")
                done = b.append_basic_block("ins.done")
                b.branch(head)
                b.position_at_end(head)
                j = b.phi(I64, "ins.j")
                j.add_incoming(k, pre)
                more = b.icmp_signed(">", j, lo)
                with_prev = b.append_basic_block("ins.cmp")
                b.cbranch(more, with_prev, done)
                b.position_at_end(with_prev)
                prev_at = b.sub(j, i64(1), flags=["nuw", "nsw"])
                prev = self.load(a, prev_at)
                b.cbranch(self.less(item, prev), step, done)
                b.position_at_end(step)
                self.store(prev, a, j)
                j.add_incoming(prev_at, step)
                b.branch(head)
                b.position_at_end(done)
                self.store(item, a, j)
                return []

            for_range(b, b.sub(size, i64(1)), insert, name="ins")
            return []

        for_range(b, -(-n // run), each_run, name="run")

    def merge_passes(self, a: ir.Value, c: ir.Value, run: int, passes: int) -> None:
        b, n = self.b, self.n

        def one_pass(p: ir.Value, _: list) -> list:
            odd = b.icmp_unsigned("!=", b.and_(p, i64(1)), i64(0))
            src, dst = b.select(odd, c, a), b.select(odd, a, c)
            width = b.shl(i64(run), p)
            span = b.shl(width, i64(1))
            blocks = b.udiv(b.add(i64(n - 1), span), span)

            def each_block(k: ir.Value, _: list) -> list:
                lo = b.mul(k, span, flags=["nuw", "nsw"])
                mid = ltypes.intrinsic(b, "umin", [b.add(lo, width), i64(n)], I64)
                hi = ltypes.intrinsic(b, "umin", [b.add(lo, span), i64(n)], I64)
                self.merge(src, dst, lo, mid, hi)
                return []

            for_range(b, blocks, each_block, name="blk")
            return []

        for_range(b, passes, one_pass, name="pass")

    def merge(self, src: ir.Value, dst: ir.Value, lo: ir.Value, mid: ir.Value,
              hi: ir.Value) -> None:
        """Merge records [lo, mid) and [mid, hi) of ``src`` into [lo, hi) of ``dst``."""
        b = self.b

        def step(t: ir.Value, carry: list) -> list:
            i, j = carry
            left_ok = b.icmp_unsigned("<", i, mid)
            right_ok = b.icmp_unsigned("<", j, hi)
            # Both heads are loaded (an exhausted side reads a valid dummy record: lo).
            x = self.load(src, b.select(left_ok, i, lo))
            y = self.load(src, b.select(right_ok, j, lo))
            take_left = b.and_(left_ok, b.or_(b.not_(right_ok), self.less(x, y)))
            self.store([b.select(take_left, xw, yw) for xw, yw in zip(x, y)], dst,
                       b.add(lo, t, flags=["nuw", "nsw"]))
            step_left = b.zext(take_left, I64)
            return [b.add(i, step_left, flags=["nuw", "nsw"]),
                    b.add(j, b.sub(i64(1), step_left), flags=["nuw", "nsw"])]

        for_range(b, b.sub(hi, lo), step, [lo, mid], name="mrg")


_tables = 0


def _constant_table(module: ir.Module, values: Sequence[int]) -> ir.GlobalVariable:
    """A private constant i64 array in ``module``."""
    global _tables
    _tables += 1
    ty = ir.ArrayType(I64, len(values))
    g = ir.GlobalVariable(module, ty, name=f"llax_sort_digits{_tables}")
    g.global_constant = True
    g.linkage = "private"
    g.initializer = ir.Constant(ty, [int(v) for v in values])
    return g


# --- the rule --------------------------------------------------------------------------------

def _lower_sort(kb: KernelBuilder, op: Op, outs: list[ir.Value]) -> None:
    dim = op.params["dimension"]
    num_keys = op.params["num_keys"]
    shape = op.inputs[0].type.shape
    if math.prod(shape) == 0:
        return
    n = shape[dim]
    if n == 1:  # nothing moves
        for a, out in zip(op.inputs, outs):
            kb.copy(a, out)
        return
    outer, inner = math.prod(shape[:dim]), math.prod(shape[dim + 1:])
    keys = [a.type.dtype for a in op.inputs[:num_keys]]
    fields, words = pack_fields([key_width(d) for d in keys] + [max(1, (n - 1).bit_length())])
    ins = [kb.buffer(a) for a in op.inputs]
    digits = radix_digits(fields)
    digits = digits if uses_radix(n, len(digits)) else []
    scratch = TensorType((2 * n * words + BUCKETS * len(digits),), np.dtype(np.uint64))
    rows = outer * inner
    # ~ compare-and-moves per row: n log n merging, plus building and permuting.
    work = rows * n * (math.ceil(math.log2(n)) + 2 * len(ins))
    plan = _Plan(op, n, inner, fields, words, digits)
    if parallel.worth_it(rows, work):
        pointers = [p for p in [*ins, *outs]
                    if not isinstance(p, (ir.GlobalValue, ir.Constant))]

        def build(b: ir.IRBuilder, values: list[ir.Value], lo: ir.Value,
                  hi: ir.Value) -> None:
            remap = dict(zip(map(id, pointers), values))
            mine = [remap.get(id(p), p) for p in ins], [remap.get(id(p), p) for p in outs]
            buf = ltypes.heap_alloc(b, scratch.nbytes)
            plan.rows(b, *mine, buf, lo, b.sub(hi, lo))
            ltypes.heap_free(b, buf)

        parallel.emit_parallel(kb.b, rows, pointers, build, align=1)
        return
    buf = kb.alloc(scratch)
    plan.rows(kb.b, ins, outs, buf, i64(0), i64(rows))
    kb.free(buf)


@dataclass
class _Plan:
    """What the loop over rows needs: the op, the row length and stride, the records."""

    op: Op
    n: int
    inner: int
    fields: list[Field]
    words: int
    digits: list[tuple[int, int]]

    def rows(self, b: ir.IRBuilder, ins: list[ir.Value], outs: list[ir.Value], buf: ir.Value,
             start: ir.Value, count: ir.Value) -> None:
        """Sort rows ``start .. start + count`` (row r: outer block r // inner, offset
        r % inner), with ``buf`` as scratch (two record buffers, then the radix counters)."""
        n, inner, words = self.n, self.inner, self.words
        a = buf
        c = b.gep(buf, [i64(n * words)], inbounds=True, source_etype=I64)
        hist = b.gep(buf, [i64(2 * n * words)], inbounds=True, source_etype=I64)
        sorter = RowSorter(b, n, words, self.digits, hist if self.digits else None)
        op = self.op
        num_keys = op.params["num_keys"]
        key_types = [x.type.dtype for x in op.inputs[:num_keys]]

        def element(base: ir.Value, ptr: ir.Value, dtype: np.dtype, i: ir.Value) -> ir.Value:
            at = b.add(base, b.mul(i, i64(inner), flags=["nuw", "nsw"]) if inner != 1 else i,
                       flags=["nuw", "nsw"])
            return ltypes.element_ptr(b, ptr, dtype, at)

        def row(r: ir.Value, _: list) -> list:
            r = b.add(start, r, flags=["nuw", "nsw"])
            if inner == 1:
                base = b.mul(r, i64(n), flags=["nuw", "nsw"])
            else:
                o, j = b.udiv(r, i64(inner)), b.urem(r, i64(inner))
                base = b.add(b.mul(o, i64(n * inner), flags=["nuw", "nsw"]), j,
                             flags=["nuw", "nsw"])

            def make(i: ir.Value, _: list) -> list:
                parts = [ordered_bits(b, ltypes.load(b, element(base, p, d, i), d), d)
                         for p, d in zip(ins[:num_keys], key_types)] + [i]
                packed: list[ir.Value] = [i64(0)] * words
                for f, v in zip(self.fields, parts):
                    if f.shift:
                        v = b.shl(v, i64(f.shift))
                    packed[f.word] = b.or_(packed[f.word], v)
                sorter.store(packed, a, i)
                return []

            for_range(b, n, make, name="rec")
            done = sorter.sort(a, c)
            last = self.fields[-1]
            mask = i64((1 << last.width) - 1)

            def permute(i: ir.Value, _: list) -> list:
                w = b.load(sorter.ptr(done, i, last.word), typ=I64, align=8)
                src = b.and_(b.lshr(w, i64(last.shift)), mask) if last.shift else b.and_(w, mask)
                for x, p, out in zip(op.inputs, ins, outs):
                    d = x.type.dtype
                    v = b.load(element(base, p, d, src), typ=ltypes.mem_type(d),
                               align=d.itemsize)
                    b.store(v, element(base, out, d, i), align=d.itemsize)
                return []

            for_range(b, n, permute, name="perm")
            return []

        for_range(b, count, row, name="row")


OPAQUE_RULES[P.sort] = _lower_sort
