"""Loop fusion: group elementwise, index-map and reduction ops into ``fusion`` ops.

Each ``fusion`` op becomes one loop nest in the code generator, so a group's
intermediate values live in registers instead of buffers. The contract with the
code generator (``llax.ir.prims.fusion``):

- a region holds ELEMENTWISE and INDEX_MAP ops and at most one REDUCTION op;
- a region with a reduction has that reduction as its single result (the loop
  runs over the reduction's input shape); any other region's results are the
  outputs of its root (``Group.roots`` is a list so multi-root fusion can come
  later), then the *exported* outputs of an owned multi-output op (below), all of
  the root's shape, so one loop writes them all;
- a region op has no regions and its operands are region parameters, earlier
  region ops' outputs or Literals; region results are outputs of region ops
  (never a parameter or a Literal); an op may have several outputs
  (``threefry2x32``: the code generator computes it once per element for all);
- the fusion op's outputs are those ops' original output Vars, so ops
  outside the group are untouched.

How groups form (greedy, from the results backwards):

1. Ops are visited last to first. Every op that is fusible (ELEMENTWISE,
   INDEX_MAP or REDUCTION, no regions, no effects) and not yet
   owned by a group roots a new group.
2. The group grows through the producers of its members, highest op index first,
   so that when a producer is looked at, all of its users have been decided.
   A producer ``p``:
   - that is OPAQUE or a REDUCTION (a reduction is always a root: a group never
     holds a reduction and its consumer), or would exceed ``max-ops``, stays
     outside; its value is materialised and read by the group;
   - whose users are all owned by the group (and which is not a function result
     or already promised to another group as a materialised input) joins it
     (is *owned*: it disappears from the outer function);
   - with several outputs, some read outside the group (or results), joins it
     too, and the group *exports* those outputs (writes them out in its loop) when
     they have the root's shape and their outside readers all come after the root
     (``may_export``): random bits of which one word is returned and the other
     turned into floats take one loop, not two;
   - otherwise, when it is cheap (``CHEAP``), is *duplicated*: recomputed in the
     group while the original stays for its other users. Cheap arithmetic is
     duplicated only when an owned member reads it (one level deep; index maps
     and casts, ``FREE``, at any depth), which bounds the recomputation in dense
     graphs to about one extra op per owned op. If the value must be in
     memory anyway (a function result, read by an opaque op, or promised to a
     group), it is duplicated only when computing it reads fewer bytes than
     loading it (a broadcast of a smaller array, an iota);
   - otherwise stays outside and is materialised, once, for all its users.
   An expensive producer that the group would read more than once per element
   (through a broadcast, or a rank-0 operand of a larger elementwise op) or
   evaluate at several indices per loop iteration (its *sites*: two of its
   outputs, or one value, read through different index maps, as a stack of the
   two words of threefry2x32 does) is materialised instead of owned, so fusion
   never multiplies transcendental work.
3. A group of one op stays a plain op; groups of two or more ops become a
   ``fusion`` op at the root's position. Every value a group reads from outside
   is produced by an op that precedes the root in the original order, so the
   order stays topological. Originals that every user duplicated end up dead and
   are removed.
"""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass, field

from llax.ir import prims as P
from llax.ir.core import EMPTY_PARAMS, Atom, Function, Literal, Op, Var
from llax.ir.graph import users as users_of
from llax.ir.primitive import FusionClass, Primitive, fusion_class
from llax.ir.types import TensorType
from llax.passes.dce import eliminate_dead_code, has_effects
from llax.passes.manager import Pass, PassContext, map_regions, register_pass

EW, IDX, RED = FusionClass.ELEMENTWISE, FusionClass.INDEX_MAP, FusionClass.REDUCTION

# Ops cheap enough to recompute in every group that reads them rather than materialise
# them: index arithmetic, casts and single-instruction elementwise ops. Transcendentals,
# division and powers are not.
CHEAP: set[Primitive] = {
    P.broadcast_in_dim, P.convert_element_type, P.iota, P.reshape, P.squeeze,
    P.neg, P.abs, P.sign, P.floor, P.ceil, P.not_,
    P.add, P.sub, P.mul, P.max, P.min, P.and_, P.or_, P.xor,
    P.eq, P.ne, P.lt, P.le, P.gt, P.ge, P.select_n, P.clamp,
}

# The cheap ops that only move or convert data. These are duplicated through any depth;
# cheap arithmetic is duplicated only one level deep (under an op the group owns), since
# duplicating a duplicate's producers again would recompute whole chains per kernel.
FREE: set[Primitive] = {P.broadcast_in_dim, P.convert_element_type, P.iota, P.reshape,
                        P.squeeze}

# Index maps that read each element of their first operand (or, for concatenate, of
# every operand) at most once per output element; their other operands (pad values,
# dynamic start indices) are scalars read for every element.
_READS_ONCE_FIRST = {P.reshape, P.transpose, P.squeeze, P.rev, P.slice, P.dynamic_slice, P.pad}
_READS_ONCE_ALL = {P.concatenate}


# Ops per group at most. A sampler such as random.normal (a cipher, then polynomial
# approximations of log and erfinv) is a few hundred elementwise ops: splitting it would
# write and read back intermediates of the full size. Past this, LLVM's time grows faster
# than the loop gains.
MAX_OPS = 512


def is_fusible(op: Op) -> bool:
    """Whether ``op`` may be placed in a fusion region at all."""
    return (fusion_class.get(op.prim) in (EW, IDX, RED) and not op.regions
            and not has_effects(op))


def reuses_operand(consumer: Op, operand: Var) -> bool:
    """Whether ``consumer`` reads some element of ``operand`` for several output elements."""
    cls = fusion_class.get(consumer.prim)
    if cls is RED or consumer.prim in _READS_ONCE_ALL:
        return False
    # (All outputs of a fusible op have one shape; TensorType.size is slow.)
    out_size = math.prod(consumer.outputs[0].type.shape)
    for pos, a in enumerate(consumer.inputs):
        if a is not operand or (pos == 0 and consumer.prim in _READS_ONCE_FIRST):
            continue
        if cls is IDX and consumer.prim is not P.broadcast_in_dim and pos == 0:
            return True  # an index map we know nothing about (gather...): assume reuse
        if math.prod(a.type.shape) < out_size:
            return True
    return False


# Where a member is evaluated in one loop iteration: the loop's own index, or the index
# some index map derived for one of its operands from one of its own sites. The emitter
# memoises per (value, index), so a member with two sites is computed twice per iteration.
Site = tuple
SCALAR_SITE: Site = (-1,)  # rank-0 values: one index, whatever reads them


def operand_sites(j: int, consumer: Op, sites: frozenset[Site], value: Var) -> set[Site]:
    """The sites at which op ``j`` (``consumer``, evaluated at ``sites``) reads ``value``."""
    if not value.type.shape:
        return {SCALAR_SITE}
    if fusion_class.get(consumer.prim) is EW:  # operands at the op's own index
        return set(sites)
    return {(j, pos, s) for pos, a in enumerate(consumer.inputs) if a is value for s in sites}


@dataclass
class Group:
    """Op indices of one fusion group: ``owned`` leave the outer function, ``duplicated``
    are recomputed here and also stay outside. ``exports`` are outputs of owned ops other
    than the roots that ops outside the group (or the function's results) read: the
    group writes them out too."""

    roots: list[int]
    owned: set[int] = field(default_factory=set)
    duplicated: set[int] = field(default_factory=set)
    exports: list[Var] = field(default_factory=list)

    @property
    def members(self) -> set[int]:
        return self.owned | self.duplicated


def plan_groups(fn: Function, max_ops: int = MAX_OPS) -> list[Group]:
    """Partition ``fn``'s top-level ops into groups (rules in the module docstring)."""
    ops = fn.ops
    index = {op: i for i, op in enumerate(ops)}
    producer = {v: i for i, op in enumerate(ops) for v in op.outputs}
    users = {v: [index[u] for u in us] for v, us in users_of(fn).items()}
    results = {a for a in fn.results if isinstance(a, Var)}
    owner: dict[int, int] = {}        # op index -> index of the group that owns it
    pinned: set[int] = set()          # ops some group reads from outside: must be materialised
    groups: list[Group] = []

    def materialised_anyway(j: int) -> bool:
        # Some consumer needs the value in memory whatever the group at hand does.
        return j in pinned or any(v in results or not all(is_fusible(ops[u]) for u in users[v])
                                  for v in ops[j].outputs)

    def position(u: int) -> int:
        """Where op ``u``'s values are computed: at the root of the group owning it."""
        g = owner.get(u)
        return u if g is None else groups[g].roots[-1]

    def may_export(op: Op, outside: list[Var], root: int, gid: int) -> bool:
        """Whether group ``gid`` may own ``op`` and write its ``outside`` outputs out too.

        Only an op with several outputs (threefry2x32) is exported: owning it puts its
        whole computation in the group's loop, which stores the words others need (a
        store per element each), where materialising it would take a loop of its own and
        the group would read its words back. A single-output value needed outside stays
        materialised (or recomputed when cheap), as before. The group's loop runs over the
        root's shape, so exported values must have it; a reduction's loop writes nothing
        but the reduction's result. The fusion op goes at the root, so every outside
        reader must come later.
        """
        if len(op.outputs) < 2 or fusion_class[ops[root].prim] is RED:
            return False
        shape = ops[root].outputs[0].type.shape
        return all(v.type.shape == shape and all(position(u) > root for u in users[v]
                                                 if owner.get(u) != gid)
                   for v in outside)

    for root in reversed(range(len(ops))):
        if root in owner or not is_fusible(ops[root]):
            continue
        gid = len(groups)
        group = Group([root], owned={root})
        owner[root] = gid
        reused = {root: False}  # member -> read more than once per loop iteration
        sites: dict[int, frozenset[Site]] = {root: frozenset({(root,)})}
        decided: set[int] = set()  # a producer is pushed once per reading member
        # A max-heap of op indices (negated): producers come out after all their users.
        heap: list[int] = []
        _push_producers(heap, ops[root], producer)
        while heap:
            j = -heapq.heappop(heap)
            if j in decided:
                continue
            decided.add(j)
            op = ops[j]
            members = group.members
            if not is_fusible(op) or fusion_class[op.prim] is RED or len(members) >= max_ops:
                pinned.add(j)
                continue
            assert j not in owner, "a producer reached from a group is never owned elsewhere"
            reads = [(u, v) for v in op.outputs for u in users[v] if u in members]
            at: set[Site] = set()
            for u, v in reads:
                at |= operand_sites(u, ops[u], sites[u], v)
            # Computed more than once per iteration: for several output elements, or at
            # several indices (two of its outputs read through different index maps).
            reuse = len(at) > 1 or any(reused[u] or reuses_operand(ops[u], v) for u, v in reads)
            cheap = op.prim in CHEAP
            # (A pinned op is read from outside by another group's copy of a cheap op: every
            # output must then be in memory, written by this group if it owns the op.)
            outside = [v for v in op.outputs if v in results or j in pinned
                       or any(owner.get(u) != gid for u in users[v])]
            all_inside = not outside and j not in pinned
            if all_inside and (cheap or not reuse):
                group.owned.add(j)
                owner[j] = gid
            elif not reuse and may_export(op, outside, root, gid):
                group.owned.add(j)
                group.exports.extend(outside)
                owner[j] = gid
            elif (cheap and (op.prim in FREE or any(u in group.owned for u, _ in reads))
                  and (not materialised_anyway(j) or _recompute_reads_less(op))):
                group.duplicated.add(j)
            else:
                pinned.add(j)
                continue
            reused[j] = reuse
            sites[j] = frozenset(itertools.islice(at, 2))  # two tell "more than one"
            _push_producers(heap, op, producer)
        groups.append(group)
    groups.reverse()  # in op order, so fusion regions are numbered top to bottom
    return groups


def _recompute_reads_less(op: Op) -> bool:
    """Whether computing ``op`` loads fewer bytes than loading its results (a broadcast, iota)."""
    def nbytes(t: TensorType) -> int:
        return math.prod(t.shape) * t.dtype.itemsize

    return (sum(nbytes(a.type) for a in op.inputs if isinstance(a, Var))
            < sum(nbytes(v.type) for v in op.outputs))


def _push_producers(heap: list[int], op: Op, producer: dict[Var, int]) -> None:
    for a in op.inputs:
        j = producer.get(a) if isinstance(a, Var) else None
        if j is not None:
            heapq.heappush(heap, -j)


def build_fusion(fn: Function, group: Group, name: str) -> Op:
    """The ``fusion`` op computing ``group``'s roots from the values it reads outside."""
    env: dict[Var, Var] = {}
    params: list[Var] = []
    inputs: list[Var] = []
    body: list[Op] = []

    def operand(a: Atom) -> Atom:
        if isinstance(a, Literal):
            return a
        if a not in env:  # read from outside: becomes a region parameter
            env[a] = Var(a.type)
            params.append(env[a])
            inputs.append(a)
        return env[a]

    for i in sorted(group.members):
        op = fn.ops[i]
        new_inputs = tuple(operand(a) for a in op.inputs)
        # Fresh Vars: a Var is defined once in the whole tree, and duplicated ops keep
        # their originals outside.
        outputs = tuple(Var(v.type) for v in op.outputs)
        env.update(zip(op.outputs, outputs, strict=True))
        body.append(op.replace(inputs=new_inputs, outputs=outputs))
    # Every output of the roots (dce drops those nobody reads), then the exported values.
    outs = (*(v for r in group.roots for v in fn.ops[r].outputs), *group.exports)
    region = Function(tuple(params), tuple(body), tuple(env[v] for v in outs), name)
    return Op(P.fusion, tuple(inputs), outs, EMPTY_PARAMS, (region,))


def fuse_function(fn: Function, max_ops: int = MAX_OPS) -> Function:
    """``fn`` with its fusible ops grouped into ``fusion`` ops; ``fn`` itself if none formed.

    Regions of control-flow ops are fused on their own; existing fusion ops are left alone.
    """
    fn = map_regions(fn, lambda r: fuse_function(r, max_ops), where=lambda op: op.prim
                     is not P.fusion)
    groups = [g for g in plan_groups(fn, max_ops) if len(g.members) >= 2]
    if not groups:
        return fn
    at_root: dict[int, Op] = {}
    removed: set[int] = set()
    for k, group in enumerate(groups):
        at_root[group.roots[-1]] = build_fusion(fn, group, f"fused{k}")
        removed |= group.owned
    ops = [at_root.get(i, op) for i, op in enumerate(fn.ops) if i in at_root or i not in removed]
    return eliminate_dead_code(fn.replace(ops=tuple(ops)))


@register_pass
@dataclass(frozen=True)
class Fuse(Pass):
    """Group elementwise, index-map and reduction ops into ``fusion`` ops."""

    name = "fuse"
    max_ops: int = MAX_OPS

    def run(self, fn: Function, ctx: PassContext) -> Function:
        if self.max_ops < 1:
            raise ValueError(f"fuse: max-ops must be at least 1, got {self.max_ops}")
        return fuse_function(fn, self.max_ops)
