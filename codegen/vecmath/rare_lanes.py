"""A scalar function for the rare lanes of a vectorised loop.

``select_rare(builder, name, x, take, common, body)`` returns ``common``
where ``take`` is false and ``f(x)`` where it is true, with ``f`` a scalar
function whose IR ``body`` builds.  The point is cost: ``f`` runs only for the
lanes that take it, so a slow path for rare arguments (sin of 1e30) costs the
ordinary ones almost nothing, even inside loops that LLVM vectorises.

How: ``f`` is a ``noinline`` function in the caller's module, called with
LLVM's ``vector-function-abi-variant`` attribute, which names masked vector
variants of it for 2, 4, 8 and 16 lanes. The loop vectoriser replaces the call
in a conditional block by one call of the variant per vector with the
condition as its mask. The variant returns at once unless some lane is set
(then ``f`` runs on those lanes one by one); it uses the ``preserve_allcc``
calling convention, so the caller keeps its constants and values in vector
registers across the call. Measured on an AVX2 machine: sin over 10^6 float32
in [-10, 10], 0.99 ms before, 1.03 ms with the rare path in place (the default
convention: 1.23 ms, values spilled around the call). Without a variant of the
chosen width LLVM calls ``f`` per lane, still only where ``take`` holds.

A scalar ``x`` branches around the call; a vector ``x`` (an emitter called on
``<N x T>`` operands) calls the N-lane variant directly.

COMPILE_TIME: the functions that run only for rare lanes (f, and the variants'
loop over lanes) are ``optnone``: LLVM compiles them without optimising, which
took sin's module from 49 to 20 ms of LLVM CPU time (6 ms without the rare
path) while a huge argument went from 24 to 27 ns.  Only the variants' early
return, which runs once per vector, is optimised.
"""

from __future__ import annotations

from collections.abc import Callable

from llvmlite import ir

VARIANT_WIDTHS = (2, 4, 8, 16)
# Saves and restores only what the callee uses: callers keep their vector
# registers (x86-64 and AArch64, the targets vecmath supports for its fma).
_CCONV = "preserve_allcc"
_I32, _I64 = ir.IntType(32), ir.IntType(64)


class _CallAttributes(ir.instructions.CallInstrAttributes):
    """llvmlite's call attributes plus LLVM string attributes (``"key"="value"``)."""

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
        # On this call only: the variants' own loop over lanes calls f too, and must
        # not be vectorised into calls of the variants.
        mangled = ",".join(f"_ZGV_LLVM_M{n}v_{name}({name}.m{n})" for n in VARIANT_WIDTHS)
        rare.attributes = _CallAttributes([f'"vector-function-abi-variant"="{mangled}"'])
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
    fn.attributes.add("noinline")  # inlined, the call would lose its vector variants
    fn.attributes.add("nounwind")
    fn.attributes.add("optnone")  # see COMPILE_TIME
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    b.ret(body(b, fn.args[0]))
    # The variants are unused until the loop vectoriser calls them: keep them until then.
    _compiler_used(module, [_variant(module, fn, n) for n in VARIANT_WIDTHS])
    return fn


def _variant(module: ir.Module, scalar: ir.Function, lanes: int) -> ir.Function:
    """``<lanes x T> variant(<lanes x T> x, <lanes x i1> mask)``: scalar(x[i]) where mask[i].

    Three small functions, so that each width costs LLVM little: the variant
    returns x unless a lane is set, else tail-calls a function that stores x to
    the stack and has _each_lane (one per scalar function, a plain loop) update
    the set lanes in place.  (Both vector functions preserve all registers; a
    function of that convention that calls an ordinary one saves every register
    in its prologue, which the variant's early return must not pay.)
    """
    name = f"{scalar.name}.m{lanes}"
    fn = module.globals.get(name)
    if fn is not None:
        return fn
    ty = scalar.type.pointee.return_type
    vty = ir.VectorType(ty, lanes)
    fty = ir.FunctionType(vty, [vty, ir.VectorType(ir.IntType(1), lanes)])
    bits_ty = ir.IntType(lanes)

    spill = _function(module, fty, f"{scalar.name}.lanes{lanes}", _CCONV, cold=True)
    x, mask = spill.args
    b = ir.IRBuilder(spill.append_basic_block("entry"))
    # Element-aligned: a vector-aligned slot would make LLVM realign the stack of a
    # preserve_allcc function, which crashed at run time (LLVM 22, x86-64).
    buf = b.bitcast(b.alloca(ir.ArrayType(ty, lanes)), vty.as_pointer())
    align = 4 if isinstance(ty, ir.FloatType) else 8
    b.store(x, buf, align=align)
    bits = b.zext(b.bitcast(mask, bits_ty), _I64)
    b.call(_each_lane(module, scalar), [b.bitcast(buf, ty.as_pointer()), bits, _I32(lanes)])
    b.ret(b.load(buf, align=align))

    fn = _function(module, fty, name, _CCONV)
    x, mask = fn.args
    entry, work, none = (fn.append_basic_block(s) for s in ("entry", "work", "none"))
    b = ir.IRBuilder(entry)
    b.cbranch(b.icmp_unsigned("!=", b.bitcast(mask, bits_ty), bits_ty(0)), work, none)
    b.position_at_end(work)
    b.ret(b.call(spill, [x, mask], cconv=_CCONV, tail=True))
    b.position_at_end(none)
    b.ret(x)
    return fn


def _each_lane(module: ir.Module, scalar: ir.Function) -> ir.Function:
    """``void f(T* x, i64 bits, i32 n)``: x[i] = scalar(x[i]) for the set bits i < n."""
    name = f"{scalar.name}.each_lane"
    fn = module.globals.get(name)
    if fn is not None:
        return fn
    ptr = scalar.type.pointee.return_type.as_pointer()
    fn = _function(module, ir.FunctionType(ir.VoidType(), [ptr, _I64, _I32]), name, None,
                   cold=True)
    x, bits, n = fn.args
    entry, head, call, latch, done = (fn.append_basic_block(s)
                                      for s in ("entry", "head", "call", "latch", "done"))
    b = ir.IRBuilder(entry)
    b.branch(head)
    b.position_at_end(head)
    i = b.phi(_I32)
    i.add_incoming(_I32(0), entry)
    set_ = b.trunc(b.lshr(bits, b.zext(i, _I64)), ir.IntType(1))
    b.cbranch(set_, call, latch)
    b.position_at_end(call)
    lane = b.gep(x, [i], inbounds=True)
    b.store(b.call(scalar, [b.load(lane)]), lane)
    b.branch(latch)
    b.position_at_end(latch)
    nxt = b.add(i, _I32(1))
    i.add_incoming(nxt, latch)
    b.cbranch(b.icmp_unsigned("<", nxt, n), head, done)
    b.position_at_end(done)
    b.ret_void()
    return fn


def _function(module: ir.Module, fty: ir.FunctionType, name: str, cconv: str | None,
              cold: bool = False) -> ir.Function:
    """An internal function; a cold one (run only for rare lanes) is not optimised."""
    fn = ir.Function(module, fty, name)
    fn.linkage = "internal"
    if cconv:
        fn.calling_convention = cconv
    fn.attributes.add("nounwind")
    if cold:
        fn.attributes.add("noinline")
        fn.attributes.add("optnone")
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
