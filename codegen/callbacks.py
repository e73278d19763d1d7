"""Host callbacks from native code: how compiled kernels call Python functions.

A host-callback op (llax.ir.prims.callbacks) lowers to a call of one process-wide C
function, ``i32 llax_host_callback(i64 id, ptr operands, ptr results)``: ``id`` names the
op's host function in this module's registry; ``operands``/``results`` point at arrays of
buffer pointers, in op order. The function is a ctypes trampoline: it takes the GIL (the
kernel of a function with callbacks runs without it, so the GIL is held only for the call),
wraps the operands as NumPy arrays, calls the host function through
``llax.ir.prims.callbacks.run_callback`` (which copies them and checks the results) and
copies the results into their buffers.

An exception in a callback, Ctrl-C included, cannot unwind native code. The trampoline
keeps it (per thread), fills the op's results with zeros and returns 1; later callbacks of
the same call are skipped, ``while`` loops whose body or condition calls back stop (the
kernel's failure flag, ``failure_flag``), and once the kernel returns, the caller raises it
(``raise_pending``). The compiled function stays usable.

Ids are process-local (the registry holds Python objects), so code with callbacks must not
outlive the process: a persistent compile cache must skip it (as JAX's does).
"""

from __future__ import annotations

import ctypes
import itertools
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import llvmlite.binding as llvm
import llvmlite.ir as ir
import numpy as np

from llax.codegen.lower import OPAQUE_RULES, KernelBuilder
from llax.codegen.ltypes import I32, I64, PTR, i64
from llax.ir.core import Op
from llax.ir.prims.callbacks import CALLBACKS, run_callback
from llax.ir.types import TensorType

SYMBOL = "llax_host_callback"


@dataclass(frozen=True)
class _Host:
    callback: Callable
    in_types: tuple[TensorType, ...]
    out_types: tuple[TensorType, ...]
    result_avals: tuple[TensorType, ...]
    # llax's own runtime routines (e.g. the FFT) are trusted: they get read-only views of
    # the buffers, not copies, and their results are not checked as a user's are.
    trusted: bool = False


_registry: dict[int, _Host] = {}
_ids = itertools.count(1)
_state = threading.local()  # .error: the exception a callback of this thread's call raised


def _view(address: int, t: TensorType) -> np.ndarray:
    if t.nbytes == 0:
        return np.zeros(t.shape, t.dtype)
    raw = (ctypes.c_char * t.nbytes).from_address(address)
    return np.frombuffer(raw, dtype=t.dtype).reshape(t.shape)


def _pointers(address: int, n: int) -> Sequence[int]:
    return (ctypes.c_void_p * n).from_address(address) if n else ()


def _dispatch(ident: int, operands: int, results: int) -> int:
    host = _registry[ident]
    outs = _pointers(results, len(host.out_types))
    try:
        if getattr(_state, "error", None) is None:  # else an earlier callback failed
            args = [_view(p, t) for p, t in zip(_pointers(operands, len(host.in_types)),
                                                 host.in_types)]
            if host.trusted:
                for a in args:
                    a.flags.writeable = False
                out = host.callback(*args)
                out = out if isinstance(out, (list, tuple)) else (out,)
                values = [np.ascontiguousarray(v, dtype=t.dtype)
                          for v, t in zip(out, host.out_types)]
            else:
                values = run_callback(host.callback, args, host.result_avals)
            for p, t, v in zip(outs, host.out_types, values):
                if t.nbytes:
                    ctypes.memmove(p, v.ctypes.data, t.nbytes)
            return 0
    except BaseException as e:  # noqa: B036 - Ctrl-C too: it must not unwind native code
        _state.error = e
    for p, t in zip(outs, host.out_types):
        if t.nbytes:
            ctypes.memset(p, 0, t.nbytes)
    return 1


_TRAMPOLINE = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_int64, ctypes.c_void_p,
                               ctypes.c_void_p)(_dispatch)
_published = False
_publish_lock = threading.Lock()


def _publish() -> None:
    global _published
    with _publish_lock:
        if not _published:
            llvm.add_symbol(SYMBOL, ctypes.cast(_TRAMPOLINE, ctypes.c_void_p).value)
            _published = True


def raise_pending() -> None:
    """Raise the exception a callback of this thread's last call kept, if any."""
    error = getattr(_state, "error", None)
    if error is not None:
        _state.error = None
        raise error


class Registrations:
    """The host functions one compiled kernel calls; unregistered when it is collected."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        weakref.finalize(self, _unregister, self.ids)

    def add(self, host: _Host) -> int:
        ident = next(_ids)
        _registry[ident] = host
        self.ids.append(ident)
        return ident


def _unregister(ids: list[int]) -> None:
    for ident in ids:
        _registry.pop(ident, None)


def failure_flag(kb: KernelBuilder) -> ir.Value:
    """The kernel's i32 flag, set when a callback failed (zero at entry)."""
    flag = kb.callback_failed
    if flag is None:
        entry = kb.func.entry_basic_block
        with kb.b.goto_block(entry):
            kb.b.position_at_start(entry)
            flag = kb.b.alloca(I32, name="callback_failed")
            kb.b.position_after(flag)
            kb.b.store(ir.Constant(I32, 0), flag)
        kb.callback_failed = flag
    return flag


def failed(kb: KernelBuilder) -> ir.Value:
    """An i1 at the builder: whether a callback of this call has failed so far."""
    return kb.b.icmp_unsigned("!=", kb.b.load(failure_flag(kb), typ=I32), ir.Constant(I32, 0))


def _pointer_array(kb: KernelBuilder, values: Sequence[ir.Value], name: str) -> ir.Value:
    if not values:
        return ir.Constant(PTR, None)
    entry = kb.func.entry_basic_block
    with kb.b.goto_block(entry):
        kb.b.position_at_start(entry)
        arr = kb.b.alloca(PTR, size=len(values), name=name)
    for k, v in enumerate(values):
        kb.b.store(v, kb.b.gep(arr, [i64(k)], source_etype=PTR))
    return arr


def _lower_callback(kb: KernelBuilder, op: Op, outs: list[ir.Value]) -> None:
    lower_host_call(kb, op, outs, op.params["callback"],
                    tuple(op.params.get("result_avals", ())))


def lower_host_call(kb: KernelBuilder, op: Op, outs: list[ir.Value], fn: Callable,
                    result_avals: tuple[TensorType, ...] = (), trusted: bool = False) -> None:
    """Lower ``op`` to a call of the Python function ``fn`` on its operands (a trusted
    ``fn`` is one of llax's runtime routines, returning the op's outputs)."""
    _publish()
    if kb.callbacks is None:
        kb.callbacks = Registrations()
    ident = kb.callbacks.add(_Host(fn, tuple(a.type for a in op.inputs),
                                   tuple(v.type for v in op.outputs), result_avals, trusted))
    fn = kb.module.globals.get(SYMBOL)
    if fn is None:
        fn = ir.Function(kb.module, ir.FunctionType(I32, [I64, PTR, PTR]), name=SYMBOL)
    operands = _pointer_array(kb, [kb.buffer(a) for a in op.inputs], "callback.operands")
    results = _pointer_array(kb, outs, "callback.results")
    status = kb.b.call(fn, [i64(ident), operands, results])
    flag = failure_flag(kb)
    kb.b.store(kb.b.or_(kb.b.load(flag, typ=I32), status), flag)


def calls_back(op: Op) -> bool:
    """Whether ``op``'s regions (at any depth) contain a host callback."""
    from llax.ir.core import walk_ops

    return any(inner.prim in CALLBACKS for region in op.regions for inner in walk_ops(region))


for _prim in CALLBACKS:
    OPAQUE_RULES[_prim] = _lower_callback

__all__ = ["SYMBOL", "Registrations", "calls_back", "failed", "failure_flag", "lower_host_call",
           "raise_pending"]
