"""A scalar function for the rare lanes of a vectorised loop.

``select_rare(builder, name, x, take, common, body)`` returns ``common``
where ``take`` is false and ``f(x)`` where it is true, with ``f`` a scalar
function whose IR ``body`` builds.  The point is cost: ``f`` runs only for the
lanes that take it, so a slow path for rare arguments (sin of 1e30) costs the
ordinary ones almost nothing, even inside loops that LLVM vectorises.

How: ``f`` is a ``noinline`` function in the caller's module carrying LLVM's
``vector-function-abi-variant`` attribute, which names masked vector variants
of it for 2, 4, 8 and 16 lanes.  The loop vectoriser replaces the call in a
conditional block by one call of the variant per vector with the condition
as its mask.  The variant returns at once unless some lane is set (then a
second function runs ``f`` on those lanes one by one); both use the
``preserve_allcc`` calling convention, so the caller keeps its constants and
values in vector registers across the call.  Measured on an AVX2 machine:
sin over 10^6 float32 in [-10, 10], 0.99 ms before, 1.03 ms with the rare
path in place (the default convention: 1.23 ms, values spilled around the
call).  Without a variant of the chosen width LLVM calls ``f`` per lane,
still only where ``take`` holds.

A scalar ``x`` branches around the call; a vector ``x`` (an emitter called on
``<N x T>`` operands) calls the N-lane variant directly.
"""

from __future__ import annotations

from collections.abc import Callable

from llvmlite import ir

VARIANT_WIDTHS = (2, 4, 8, 16)
# Saves and restores only what the callee uses: callers keep their vector
# registers (x86-64 and AArch64, the targets vecmath supports for its fma).
_CCONV = "preserve_allcc"
_I32 = ir.IntType(32)


class _FunctionAttributes(ir.values.FunctionAttributes):
    """llvmlite's function attributes plus LLVM string attributes (``"key"="value"``)."""

    def add(self, name: str) -> None:
        if name.startswith('"'):
            set.add(self, name)
        else:
            super().add(name)


def select_rare(builder: ir.IRBuilder, name: str, x: ir.Value, take: ir.Value,
                common: ir.Value, body: Callable[[ir.IRBuilder, ir.Value], ir.Value]) -> ir.Value:
    """``take ? f(x) : common`` with f built by ``body(builder, scalar x)`` as the
    function ``name`` (once per module), called only for the lanes that take it."""
    module = builder.module
    if isinstance(x.type, ir.VectorType):
        scalar = _scalar_function(module, name, x.type.element, body)
        variant = _variant(module, scalar, x.type.count)
        rare = builder.call(variant, [x, take], cconv=_CCONV)
        return builder.select(take, rare, common)
    scalar = _scalar_function(module, name, x.type, body)
    before = builder.block
    with builder.if_then(take, likely=False):
        rare = builder.call(scalar, [x])
        taken = builder.block
    result = builder.phi(x.type)
    result.add_incoming(common, before)
    result.add_incoming(rare, taken)
    return result


def _scalar_function(module: ir.Module, name: str, ty: ir.Type,
                     body: Callable[[ir.IRBuilder, ir.Value], ir.Value]) -> ir.Function:
    fn = module.globals.get(name)
    if fn is not None:
        return fn
    fn = ir.Function(module, ir.FunctionType(ty, [ty]), name)
    fn.linkage = "internal"
    fn.attributes = _FunctionAttributes(["noinline", "nounwind"])  # inlined, the mapping is lost
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    b.ret(body(b, fn.args[0]))
    variants = [_variant(module, fn, n) for n in VARIANT_WIDTHS]
    mangled = ",".join(f"_ZGV_LLVM_M{v.type.pointee.return_type.count}v_{name}({v.name})"
                       for v in variants)
    fn.attributes.add(f'"vector-function-abi-variant"="{mangled}"')
    # The variants are unused until the loop vectoriser calls them: keep them until then.
    _compiler_used(module, variants)
    return fn


def _variant(module: ir.Module, scalar: ir.Function, lanes: int) -> ir.Function:
    """``<lanes x T> variant(<lanes x T> x, <lanes x i1> mask)``: scalar(x[i]) where mask[i]."""
    name = f"{scalar.name}.m{lanes}"
    fn = module.globals.get(name)
    if fn is not None:
        return fn
    vty = ir.VectorType(scalar.type.pointee.return_type, lanes)
    mty = ir.VectorType(ir.IntType(1), lanes)
    fty = ir.FunctionType(vty, [vty, mty])
    # The lanes, one at a time, in a function of their own so that the variant's
    # early return saves no registers.
    lanes_fn = ir.Function(module, fty, f"{scalar.name}.lanes{lanes}")
    lanes_fn.linkage = "internal"
    lanes_fn.calling_convention = _CCONV
    lanes_fn.attributes.add("noinline")
    lanes_fn.attributes.add("nounwind")
    x, mask = lanes_fn.args
    entry, head, call, latch, done = (lanes_fn.append_basic_block(s)
                                      for s in ("entry", "head", "call", "latch", "done"))
    b = ir.IRBuilder(entry)
    b.branch(head)
    b.position_at_end(head)
    i, acc = b.phi(_I32), b.phi(vty)
    i.add_incoming(_I32(0), entry)
    acc.add_incoming(x, entry)
    b.cbranch(b.extract_element(mask, i), call, latch)
    b.position_at_end(call)
    updated = b.insert_element(acc, b.call(scalar, [b.extract_element(x, i)]), i)
    b.branch(latch)
    b.position_at_end(latch)
    out = b.phi(vty)
    out.add_incoming(acc, head)
    out.add_incoming(updated, call)
    nxt = b.add(i, _I32(1))
    i.add_incoming(nxt, latch)
    acc.add_incoming(out, latch)
    b.cbranch(b.icmp_unsigned("<", nxt, _I32(lanes)), head, done)
    b.position_at_end(done)
    b.ret(out)

    fn = ir.Function(module, fty, name)
    fn.linkage = "internal"
    fn.calling_convention = _CCONV
    fn.attributes.add("nounwind")
    x, mask = fn.args
    entry, work, none = (fn.append_basic_block(s) for s in ("entry", "work", "none"))
    b = ir.IRBuilder(entry)
    any_lane = b.icmp_unsigned("!=", b.bitcast(mask, ir.IntType(lanes)), ir.IntType(lanes)(0))
    b.cbranch(any_lane, work, none)
    b.position_at_end(work)
    b.ret(b.call(lanes_fn, [x, mask], cconv=_CCONV, tail=True))
    b.position_at_end(none)
    b.ret(x)
    return fn


def _compiler_used(module: ir.Module, fns: list[ir.Function]) -> None:
    """Add fns to the module's ``llvm.compiler.used`` (which LLVM allows only once)."""
    i8p = ir.IntType(8).as_pointer()
    g = module.globals.get("llvm.compiler.used")
    items = (list(g.initializer.constant) if g is not None else []) + [f.bitcast(i8p) for f in fns]
    ty = ir.ArrayType(i8p, len(items))
    if g is None:
        g = ir.GlobalVariable(module, ty, "llvm.compiler.used")
        g.linkage = "appending"
        g.section = "llvm.metadata"
    else:  # the array grew: retype the one global
        g.value_type, g.type = ty, ty.as_pointer()
    g.initializer = ir.Constant(ty, items)
