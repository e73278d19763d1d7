"""A runtime function for the rare lanes of a vectorised loop.

``select_rare(builder, name, x, take, common, uniform)`` returns ``common``
where ``take`` is false and ``f(x, *uniform)`` where it is true, with ``f`` the
function ``name`` of a runtime module (llax.codegen.runtime) that
``define_rare`` built.  The point is cost: ``f`` runs only for the lanes that
take it, so a slow path for rare arguments (sin of 1e30) costs the ordinary
ones almost nothing, even inside loops that LLVM vectorises; and, compiled once
per process, it costs a kernel's compile nothing either: the kernel only
declares it.  ``uniform`` are extra arguments, the same for every lane (which
of sin, cos and tan, say), so one runtime function serves several emitters.

How: the call of ``f`` carries LLVM's ``vector-function-abi-variant``
attribute, which names masked vector variants of it for 2, 4, 8 and 16 lanes,
all of which the runtime defines: the loop vectoriser picks its width per loop
and per CPU, and may call any of them.  It replaces the call in a conditional
block by one call of the variant per vector, with the condition as its mask.
The variant returns at once unless some lane is set (then ``f`` runs on those
lanes one by one); it uses the ``preserve_allcc`` calling convention, so the
caller keeps its constants and values in vector registers across the call.
Measured on an AVX2 machine: sin over 10^6 float32 in [-10, 10], 0.99 ms
before, 1.03 ms with the rare path in place (the default convention: 1.23 ms,
values spilled around the call).

A scalar ``x`` branches around the call; a vector ``x`` (an emitter called on
``<N x T>`` operands) calls the N-lane variant directly, or ``f`` lane by lane
for a width without one.

COMPILE_TIME: the runtime is compiled at the first use of its emitter in a
process, so its compile time adds to that first compile.  LLVM spends a fixed
~0.6 ms on each function however small (measured: 40 one-instruction
functions, 25 ms), so the runtime has few: ``f`` and, per width, the variant
and the one function it tail-calls with the same arguments (see
``_define_variant``); ``uniform`` lets one ``f`` (and so one set of variants)
serve several emitters.  The functions that run only for rare lanes are
``optnone``: LLVM compiles them without optimising (in a kernel module, this
took sin's from 49 to 20 ms of LLVM CPU time, while a huge argument went from
24 to 27 ns).  Only the variants' early return, which runs once per vector, is
optimised.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

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


def exported_names(name: str) -> list[str]:
    """The symbols ``define_rare(module, name, ...)`` defines, for kernels to link against."""
    return [name, *(_variant_name(name, n) for n in VARIANT_WIDTHS)]


def select_rare(builder: ir.IRBuilder, name: str, x: ir.Value, take: ir.Value,
                common: ir.Value, uniform: Sequence[ir.Value] = ()) -> ir.Value:
    """``take ? f(x, *uniform) : common``, f being the runtime function ``name``
    (declared here), called only for the lanes that take it."""
    if not isinstance(x.type, ir.VectorType):
        return _select_rare_scalar(builder, name, x, take, common, uniform)
    lanes = x.type.count
    if lanes in VARIANT_WIDTHS:
        variant = _declare_variant(builder.module, name, x.type.element,
                                   [u.type for u in uniform], lanes)
        rare = builder.call(variant, [x, *uniform, take], cconv=_CCONV)
        return builder.select(take, rare, common)
    result = common  # no variant of this width: lane by lane
    for i in range(lanes):
        lane = _I32(i)
        one = _select_rare_scalar(builder, name, builder.extract_element(x, lane),
                                  builder.extract_element(take, lane),
                                  builder.extract_element(common, lane), uniform)
        result = builder.insert_element(result, one, lane)
    return result


def _select_rare_scalar(builder: ir.IRBuilder, name: str, x: ir.Value, take: ir.Value,
                        common: ir.Value, uniform: Sequence[ir.Value]) -> ir.Value:
    module = builder.module
    types = [u.type for u in uniform]
    if _variant_name(name, VARIANT_WIDTHS[0]) not in module.globals:
        # Unused until the loop vectoriser calls them: keep the declarations until then.
        _compiler_used(module, [_declare_variant(module, name, x.type, types, n)
                                for n in VARIANT_WIDTHS])
    scalar = _declare_scalar(module, name, x.type, types)
    before = builder.block
    with builder.if_then(take, likely=False):
        rare = builder.call(scalar, [x, *uniform])
        # On this call only: the runtime's own loop over lanes calls f too, and must
        # not be vectorised into calls of the variants.
        params = "v" + "u" * len(uniform)
        mangled = ",".join(f"_ZGV_LLVM_M{n}{params}_{name}({_variant_name(name, n)})"
                           for n in VARIANT_WIDTHS)
        rare.attributes = _CallAttributes([f'"vector-function-abi-variant"="{mangled}"'])
        taken = builder.block
    result = builder.phi(x.type)
    result.add_incoming(common, before)
    result.add_incoming(rare, taken)
    return result


def define_rare(module: ir.Module, name: str, ty: ir.Type, uniform: Sequence[ir.Type],
                body: Callable[..., ir.Value]) -> list[str]:
    """Define in a runtime ``module`` the function ``T name(T x, *uniform)`` returning
    ``body(builder, x, *uniform args)``, and its masked vector variants; returns the
    symbols kernels link against (``exported_names``)."""
    fn = _declare_scalar(module, name, ty, uniform)
    fn.attributes.add("noinline")  # inlined, the call would lose its vector variants
    fn.attributes.add("optnone")  # see COMPILE_TIME
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    b.ret(body(b, *fn.args))
    for n in VARIANT_WIDTHS:
        _define_variant(module, fn, n)
    return exported_names(name)


# Declarations and definitions take their signatures from here, so that the kernels'
# calls and the runtime agree on types and calling convention.


def _variant_name(name: str, lanes: int) -> str:
    return f"{name}.m{lanes}"


def _declare_scalar(module: ir.Module, name: str, ty: ir.Type,
                    uniform: Sequence[ir.Type]) -> ir.Function:
    """``T name(T x, *uniform)``."""
    fn = module.globals.get(name)
    if fn is None:
        fn = ir.Function(module, ir.FunctionType(ty, [ty, *uniform]), name)
        fn.attributes.add("nounwind")
    return fn


def _variant_type(ty: ir.Type, uniform: Sequence[ir.Type], lanes: int) -> ir.FunctionType:
    """``<lanes x T> (<lanes x T> x, *uniform, <lanes x i1> mask)``: the VFABI's order."""
    vty = ir.VectorType(ty, lanes)
    return ir.FunctionType(vty, [vty, *uniform, ir.VectorType(ir.IntType(1), lanes)])


def _declare_variant(module: ir.Module, name: str, ty: ir.Type, uniform: Sequence[ir.Type],
                     lanes: int) -> ir.Function:
    """``name.m<lanes>``, of ``_variant_type``, preserve_allcc."""
    vname = _variant_name(name, lanes)
    fn = module.globals.get(vname)
    if fn is None:
        fn = ir.Function(module, _variant_type(ty, uniform, lanes), vname)
        fn.calling_convention = _CCONV
        fn.attributes.add("nounwind")
    return fn


def _define_variant(module: ir.Module, scalar: ir.Function, lanes: int) -> None:
    """The body of ``scalar``'s variant of ``lanes`` lanes: scalar(x[i], *u) where mask[i].

    Two functions: the variant returns x unless a lane is set, else tail-calls,
    with the same arguments, a function that stores x to the stack and updates
    the set lanes in place.  (Both preserve all registers; a function of that
    convention that calls an ordinary one saves every register in its prologue,
    and one that passes other arguments saves the registers it sets: the
    variant's early return must pay neither.)
    """
    fty = scalar.type.pointee
    ty, uniform = fty.return_type, fty.args[1:]
    fn = _declare_variant(module, scalar.name, ty, uniform, lanes)
    bits_ty = ir.IntType(lanes)

    spill = ir.Function(module, fn.type.pointee, f"{scalar.name}.lanes{lanes}")
    spill.linkage = "internal"
    spill.calling_convention = _CCONV
    for attr in ("nounwind", "noinline", "optnone"):  # see COMPILE_TIME
        spill.attributes.add(attr)
    x, *args, mask = spill.args
    entry, head, call, latch, done = (spill.append_basic_block(s)
                                      for s in ("entry", "head", "call", "latch", "done"))
    b = ir.IRBuilder(entry)
    # Element-aligned: a vector-aligned slot would make LLVM realign the stack of a
    # preserve_allcc function, which crashed at run time (LLVM 22, x86-64).
    slots = b.alloca(ir.ArrayType(ty, lanes))
    align = 4 if isinstance(ty, ir.FloatType) else 8
    b.store(x, b.bitcast(slots, x.type.as_pointer()), align=align)
    bits = b.zext(b.bitcast(mask, bits_ty), _I64)
    b.branch(head)
    b.position_at_end(head)
    i = b.phi(_I32)
    i.add_incoming(_I32(0), entry)
    b.cbranch(b.trunc(b.lshr(bits, b.zext(i, _I64)), ir.IntType(1)), call, latch)
    b.position_at_end(call)
    slot = b.gep(slots, [_I32(0), i], inbounds=True)
    b.store(b.call(scalar, [b.load(slot), *args]), slot)
    b.branch(latch)
    b.position_at_end(latch)
    nxt = b.add(i, _I32(1))
    i.add_incoming(nxt, latch)
    b.cbranch(b.icmp_unsigned("<", nxt, _I32(lanes)), head, done)
    b.position_at_end(done)
    b.ret(b.load(b.bitcast(slots, x.type.as_pointer()), align=align))

    x, *args, mask = fn.args
    entry, work, none = (fn.append_basic_block(s) for s in ("entry", "work", "none"))
    b = ir.IRBuilder(entry)
    b.cbranch(b.icmp_unsigned("!=", b.bitcast(mask, bits_ty), bits_ty(0)), work, none)
    b.position_at_end(work)
    b.ret(b.call(spill, [x, *args, mask], cconv=_CCONV, tail=True))
    b.position_at_end(none)
    b.ret(x)


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
