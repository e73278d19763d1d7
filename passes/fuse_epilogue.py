"""Epilogue fusion: elementwise consumers of a convolution join it in one ``fusion`` op.

After ``fuse``, the bias and activation that follow a convolution are a fusion op (or a
lone elementwise op) reading the convolution's output. Run as a separate loop, that
reads back the whole output once more. This pass moves the convolution into the
consumer's region, first (an *epilogue region*, ``ir.prims.fusion``): the code generator
then applies the elementwise ops to each block of output rows as soon as it is computed,
while the block is still in cache (codegen/conv.py).

A producer (a primitive in ``EPILOGUE_PRODUCERS``) is fused with its first reader when:

- the reader has no reduction and every result of its has the producer's output shape;
- inside the consumer, the producer's output reaches the results through elementwise
  ops only (``reads_pointwise``): each element is used at its own index, so a block of
  rows is finished once its products are.

The producer's output stays a result of the merged op when something else reads it too
(later ops, the function's results): a training step reads a convolution's output in
the forward activation and again in the backward pass's mask, and the forward one still
runs while the rows are in cache.

Regions of control-flow ops are handled on their own; fusion regions are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from llax.ir import prims as P
from llax.ir.core import EMPTY_PARAMS, Atom, Function, Op, Var
from llax.ir.graph import users as users_of
from llax.ir.primitive import FusionClass, fusion_class
from llax.ir.prims.fusion import EPILOGUE_PRODUCERS, reads_pointwise
from llax.passes.manager import Pass, PassContext, map_regions, register_pass


def _as_region(op: Op) -> tuple[Function, tuple[Atom, ...]]:
    """The consumer as a region and the values bound to its parameters: a fusion op's own,
    or a lone elementwise op wrapped."""
    if op.prim is P.fusion:
        return op.regions[0], op.inputs
    params = {a: Var(a.type) for a in dict.fromkeys(op.inputs) if isinstance(a, Var)}
    inner = op.replace(inputs=tuple(params.get(a, a) for a in op.inputs),
                       outputs=tuple(Var(v.type) for v in op.outputs))
    return (Function(tuple(params.values()), (inner,), inner.outputs, "epilogue"),
            tuple(params))


def _fusible(value: Var, consumer: Op, region: Function, inputs: tuple[Atom, ...]) -> bool:
    # Elementwise and index-map ops only: no reduction, and no producer already at the head
    # (the pass may run twice, and a consumer may read two convolutions).
    return (all(fusion_class.get(op.prim) in (FusionClass.ELEMENTWISE, FusionClass.INDEX_MAP)
                for op in region.ops)
            and all(v.type.shape == value.type.shape for v in consumer.outputs)
            and all(reads_pointwise(region, k) for k, a in enumerate(inputs) if a is value))


def _merge(producer: Op, consumer: Op, region: Function, inputs: tuple[Atom, ...],
           keep_output: bool) -> Op:
    """One fusion op: ``producer`` first in ``consumer``'s region (bound to ``inputs``),
    reading new params; ``keep_output``: the producer's output is its last result."""
    (value,) = producer.outputs
    head_params = tuple(Var(a.type) for a in producer.inputs)
    inner_out = Var(value.type)
    head = producer.replace(inputs=head_params, outputs=(inner_out,))
    bound = {p: inner_out for p, a in zip(region.params, inputs) if a is value}
    body = tuple(op.replace(inputs=tuple(bound.get(a, a) for a in op.inputs))
                 for op in region.ops)
    kept = [(p, a) for p, a in zip(region.params, inputs) if a is not value]
    results = tuple(bound.get(a, a) for a in region.results)
    outputs = consumer.outputs
    if keep_output:
        results, outputs = (*results, inner_out), (*outputs, value)
    new_region = Function((*head_params, *(p for p, _ in kept)), (head, *body), results,
                          region.name)
    return Op(P.fusion, (*producer.inputs, *(a for _, a in kept)), outputs, EMPTY_PARAMS,
              (new_region,))


def fuse_epilogues(fn: Function) -> Function:
    """``fn`` with each fusible producer moved into its consumer's region."""
    fn = map_regions(fn, fuse_epilogues, where=lambda op: op.prim is not P.fusion)
    users = users_of(fn)
    results = {a for a in fn.results if isinstance(a, Var)}
    merged: dict[int, Op] = {}  # consumer's id -> the merged op
    dropped: set[int] = set()  # producers' ids
    for op in fn.ops:
        if op.prim not in EPILOGUE_PRODUCERS or len(op.outputs) != 1:
            continue
        (value,) = op.outputs
        readers = users.get(value, [])
        if not readers or id(readers[0]) in merged:
            continue
        consumer = readers[0]
        region, inputs = _as_region(consumer)
        if not _fusible(value, consumer, region, inputs):
            continue
        keep = value in results or len(readers) > 1
        merged[id(consumer)] = _merge(op, consumer, region, inputs, keep)
        dropped.add(id(op))
    if not merged:
        return fn
    ops = tuple(merged.get(id(op), op) for op in fn.ops if id(op) not in dropped)
    return fn.replace(ops=ops)


@register_pass
@dataclass(frozen=True)
class FuseEpilogue(Pass):
    """Move a convolution into the fusion op applying its bias and activation."""

    name = "fuse-epilogue"

    def run(self, fn: Function, ctx: PassContext) -> Function:
        return fuse_epilogues(fn)
