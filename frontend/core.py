"""Tracing: running Python once on stand-in values and recording every primitive as an op.

``bind`` is the single door every primitive goes through. With no trace active
it evaluates eagerly through the NumPy reference implementation; inside a trace
it appends an op to the innermost ``Trace`` and returns a ``Tracer`` for each
output. A trace converts whatever it is handed into IR operands: its own
tracers become their Vars, Python and 0-d scalars become Literals, and
non-scalar concrete arrays or tracers of an enclosing trace are captured as
extra leading parameters (closure conversion), so a nested trace stays a
self-contained Function.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np

from llax.config import config
from llax.ir import dtypes
from llax.ir.core import Atom, Function, Literal, Op, Params, Var, renamed
from llax.ir.primitive import Primitive, infer_types, set_binder
from llax.ir.prims.collectives import COLLECTIVES
from llax.ir.prims.control_flow import CONTROL_FLOW
from llax.ir.promotion import dtype_of_value
from llax.ir.reference import reference
from llax.ir.types import TensorType


class TracerError(Exception):
    """Base of the errors raised when traced values are misused."""


class ConcretizationTypeError(TracerError, TypeError):
    """A traced (abstract) value was used where Python needs a concrete one."""


class UnexpectedTracerError(TracerError):
    """A tracer escaped the trace that created it (e.g. stored in a global)."""


class TracerBoolConversionError(ConcretizationTypeError):
    """``bool()`` of a traced value: Python control flow on it (``if x > 0:``)."""


class TracerIntegerConversionError(TracerError, TypeError):
    """``operator.index()`` (``__index__``) of a traced value: a tracer used as an index or a
    ``range`` bound. As in JAX it is not a ConcretizationTypeError (``int()`` raises that)."""


class TracerArrayConversionError(ConcretizationTypeError):
    """``np.asarray()`` of a traced value. (In JAX it is not a ConcretizationTypeError;
    here it is, so the numpy-layer functions that need concrete values, such as
    ``jnp.nonzero``, raise what JAX raises for them.)"""


# ---------------------------------------------------------------------------------------------
# Concrete arrays


class Array:
    """An immutable array with a dtype and a weak-type flag (the type of Python scalars).

    The buffer is a read-only numpy array, so views of it handed out through
    ``np.asarray`` cannot change it.
    """

    # _sig: the interned id of (shape, dtype, weak_type), filled in lazily; jit's cache
    # lookup hashes these small ints instead of building and hashing type tuples.
    __slots__ = ("_value", "weak_type", "_sig")
    __array_priority__ = 100

    def __init__(self, value: np.ndarray, weak_type: bool = False) -> None:
        if value.flags.writeable:
            value.flags.writeable = False
        self._value = value
        self.weak_type = weak_type
        self._sig = 0

    @classmethod
    def _wrap_readonly(cls, value: np.ndarray, weak_type: bool, sig: int = 0) -> Array:
        """Wrap a buffer already made read-only (by compiled code), skipping the flag check,
        which costs more than the rest of a jitted call."""
        self = object.__new__(cls)
        self._value = value
        self.weak_type = weak_type
        self._sig = sig
        return self

    @property
    def shape(self) -> tuple[int, ...]:
        return self._value.shape

    @property
    def dtype(self) -> np.dtype:
        return self._value.dtype

    def delete(self) -> None:
        """Give up the buffer (as a donated argument does): any later use raises
        RuntimeError."""
        if type(self._value) is not DeletedBuffer:
            self._value = DeletedBuffer(self._value.shape, self._value.dtype)

    def is_deleted(self) -> bool:
        return type(self._value) is DeletedBuffer

    @property
    def ndim(self) -> int:
        return self._value.ndim

    @property
    def size(self) -> int:
        return self._value.size

    @property
    def aval(self) -> TensorType:
        return TensorType(self._value.shape, self._value.dtype, self.weak_type)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        value = self._value
        if type(value) is DeletedBuffer:
            value.fail()
        if copy:
            return np.array(value, dtype=dtype)
        return value if dtype is None else value.astype(dtype)

    def block_until_ready(self) -> Array:
        return self

    def item(self, *args) -> Any:
        return self._value.item(*args)

    def tolist(self) -> Any:
        return self._value.tolist()

    def __setitem__(self, idx, value) -> None:
        raise TypeError(
            f"{type(self).__name__!r} object does not support item assignment. JAX arrays are "
            "immutable. Instead of ``x[idx] = y``, use ``x = x.at[idx].set(y)`` or another "
            ".at[] method: https://docs.jax.dev/en/latest/_autosummary/jax.numpy.ndarray.at.html")

    def __bool__(self) -> bool:
        return bool(self._value)

    def __int__(self) -> int:
        return int(self._value)

    def __float__(self) -> float:
        return float(self._value)

    def __complex__(self) -> complex:
        return complex(self._value)

    def __index__(self) -> int:
        if dtypes.kind(self._value.dtype) not in "iu" or self._value.ndim:
            raise TypeError("only integer scalar arrays can be converted to a scalar index")
        return int(self._value)

    def __len__(self) -> int:
        if not self._value.ndim:
            raise TypeError("len() of unsized object")
        return self._value.shape[0]

    def __iter__(self):
        if not self._value.ndim:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self._value.shape[0]))

    def __hash__(self):
        raise TypeError("unhashable type: 'Array'")

    def __repr__(self) -> str:
        prefix = "Array("
        weak = ", weak_type=True" if self.weak_type else ""
        suffix = f", dtype={self._value.dtype.name}{weak}"
        if self._value.size == 0:
            body = f"[], shape={self._value.shape}" if self._value.ndim else "[]"
        else:
            body = np.array2string(self._value, separator=", ", prefix=prefix)
        return f"{prefix}{body}{suffix})"

    def __str__(self) -> str:
        return str(self._value)

    def __format__(self, spec: str) -> str:
        return format(self._value.item(), spec) if self._value.ndim == 0 else str(self)

    def __reduce__(self):
        return (Array, (np.array(self._value), self.weak_type))


class LiteralArray(Array):
    """An IR Literal handed back to ``bind`` by a transformation re-emitting a Function.
    Traced, it is that Literal again, whatever its size: a non-scalar constant of a loop
    body stays a constant of the transformed body instead of being captured as an input."""

    __slots__ = ("literal",)

    def __init__(self, literal: Literal) -> None:
        super().__init__(literal.value, literal.type.weak)
        self.literal = literal


class DeletedBuffer:
    """What a deleted Array holds instead of its buffer: every use raises JAX's error."""

    __slots__ = ("_shape", "_dtype")

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self._shape = shape
        self._dtype = dtype

    def fail(self) -> None:
        raise RuntimeError(f"Array has been deleted with shape={self._dtype.name}"
                           f"[{','.join(map(str, self._shape))}].")

    def __getattr__(self, name: str) -> Any:
        self.fail()

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        self.fail()

    def __repr__(self) -> str:
        self.fail()

    __str__ = __repr__
    __array_ufunc__ = None  # NumPy then refuses it instead of treating it as an object


_SIGNATURES: dict[tuple, int] = {}
# Numbering a new signature is a read-then-write (two threads could both take
# len + 1 and give two signatures one id, so jit's fast path would run one
# signature's code on the other's arrays): it happens under this lock. Hits
# read the dict without it.
_SIGNATURES_LOCK = threading.Lock()


def signature_id(shape: tuple[int, ...], dtype: np.dtype, weak: bool) -> int:
    """A small positive int standing for (shape, dtype, weak), the same for equal triples."""
    key = (shape, dtype, weak)
    sig = _SIGNATURES.get(key)
    if sig is None:
        with _SIGNATURES_LOCK:
            sig = _SIGNATURES.setdefault(key, len(_SIGNATURES) + 1)
    return sig


def array_signature(a: Array) -> int:
    """``a``'s signature id, computed once and stored on the array."""
    sig = a._sig
    if not sig:
        v = a._value
        sig = a._sig = signature_id(v.shape, v.dtype, a.weak_type)
    return sig


# ---------------------------------------------------------------------------------------------
# Traces and tracers


class Tracer:
    """Stands for an IR value while a function is being traced.

    ``val`` is the concrete value when the trace knows it (transformations
    applied outside jit trace with known inputs, so Python control flow on
    values works, as in JAX); under jit it is None. It is computed on first use.
    """

    __slots__ = ("ir_var", "_trace")
    __array_priority__ = 100

    def __init__(self, var: Var, trace: Trace, val: np.ndarray | None = None) -> None:
        self.ir_var = var
        self._trace = trace
        if val is not None:
            trace.values[var] = val

    @property
    def val(self) -> np.ndarray | None:
        return self._trace.value_of(self.ir_var) if self._trace.concrete else None

    @property
    def aval(self) -> TensorType:
        return self.ir_var.type

    @property
    def shape(self) -> tuple[int, ...]:
        return self.ir_var.type.shape

    @property
    def dtype(self) -> np.dtype:
        return self.ir_var.type.dtype

    @property
    def ndim(self) -> int:
        return len(self.ir_var.type.shape)

    @property
    def size(self) -> int:
        return self.ir_var.type.size

    @property
    def weak_type(self) -> bool:
        return self.ir_var.type.weak

    def _concrete(self, what: str,
                  error: type[TracerError] = ConcretizationTypeError) -> np.ndarray:
        if not self._trace.is_live():  # even if its value is known: it escaped, as JAX says
            raise self.escaped("outside of any trace" if not trace_stack() else
                               f"in {trace_stack()[-1].name!r}")
        if self.val is not None:
            return self.val
        raise error(self._trace.concretization_message(self.ir_var, what))

    def escaped(self, used_in: str) -> UnexpectedTracerError:
        """The error for using this tracer after its trace finished, or on another thread."""
        where = (" on another thread, while that trace was still running"
                 if self._trace.active else "")
        return UnexpectedTracerError(
            f"Encountered an unexpected tracer: a value of type {self.ir_var.type} traced in "
            f"{self._trace.name!r} escaped the trace that created it and was used {used_in}"
            f"{where}. A function transformed by llax had a side effect that kept a "
            "reference to an intermediate value (for example stored it in a global or a "
            "list, or handed it to another thread).")

    def __bool__(self) -> bool:
        return bool(self._concrete("bool", TracerBoolConversionError))

    def __int__(self) -> int:
        return int(self._known_value("int", self._conversion_message))

    def __float__(self) -> float:
        return float(self._known_value("float", self._conversion_message))

    def __complex__(self) -> complex:
        return complex(self._known_value("complex", self._conversion_message))

    def __index__(self) -> int:
        return int(self._known_value("__index__", self._index_message,
                                     TracerIntegerConversionError))

    def _known_value(self, what: str, message: Callable[[str], str],
                     error: type[TracerError] = ConcretizationTypeError) -> np.ndarray:
        """``_concrete`` with JAX's wording for the conversion ``what``."""
        if self._trace.is_live() and self.val is None:
            raise error(message(what))
        return self._concrete(what, error)

    def _conversion_message(self, fn: str) -> str:
        return self.concretization_text(
            f"The problem arose with the `{fn}` function. If trying to convert the data type "
            f"of a value, try using `x.astype({fn})` or `jnp.array(x, {fn})` instead.")

    def concretization_text(self, context: str) -> str:
        """JAX's ConcretizationTypeError text for this tracer; ``context`` says what needed
        its value."""
        return (f"Abstract tracer value encountered where concrete value is expected: "
                f"{self._described()}\n{context}\n{self._trace.origin_message(self.ir_var)}\n\n"
                "See https://docs.jax.dev/en/latest/errors.html"
                "#jax.errors.ConcretizationTypeError")

    def _index_message(self, _: str) -> str:
        return (f"The __index__() method was called on {self._described()}\n"
                f"{self._trace.origin_message(self.ir_var)}\n"
                "See https://docs.jax.dev/en/latest/errors.html"
                "#jax.errors.TracerIntegerConversionError")

    def _described(self) -> str:
        t = self.ir_var.type
        return f"traced array with shape {t.dtype.name}[{','.join(map(str, t.shape))}]"

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        val = self._concrete("numpy.asarray", TracerArrayConversionError)
        return val if dtype is None else val.astype(dtype)

    def item(self, *args) -> Any:
        return self._concrete("item").item(*args)

    def tolist(self) -> Any:
        return self._concrete("tolist").tolist()

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

    def __setitem__(self, idx, value) -> None:
        Array.__setitem__(self, idx, value)  # type: ignore[arg-type]

    def __hash__(self):
        raise TypeError("unhashable type: 'Tracer'")

    def block_until_ready(self) -> Tracer:
        return self

    def __repr__(self) -> str:
        return f"Traced<{self.ir_var.type}>with<{self._trace.name}>"


# Trace state is per thread, as in JAX: a trace records the ops of the thread running the
# traced function, while eager code on other threads stays eager. ``stack`` holds the
# active traces (innermost last), ``axes`` the (name, size) of the axes bound by the
# transformations being traced (outermost first; see collectives.py). A thread's lists
# are made on its first use (trace_stack/bound_axes).
_thread_state = threading.local()

# Every active trace of every thread, in no order: a hint for the hot paths (bind, jit's
# dispatch), which read only whether it is empty. Empty means no thread traces, so neither
# does this one; reading it costs ~70 ns less than reading the thread-local stack (which
# made a jitted call ~10% slower). Trace.__enter__/__exit__ keep it; list append and remove
# (by identity) are atomic under the GIL.
any_thread_tracing: list[Trace] = []


def _new_thread_state() -> None:
    _thread_state.stack = []
    _thread_state.axes = []


def trace_stack() -> list[Trace]:
    """The calling thread's active traces, innermost last."""
    try:
        return _thread_state.stack
    except AttributeError:
        _new_thread_state()
        return _thread_state.stack


def bound_axes() -> list[tuple[Hashable, int]]:
    """The calling thread's bound axis names and sizes, outermost first."""
    try:
        return _thread_state.axes
    except AttributeError:
        _new_thread_state()
        return _thread_state.axes


def current_trace() -> Trace | None:
    stack = trace_stack()
    return stack[-1] if stack else None


class Trace:
    """Records the ops of one function being traced."""

    def __init__(self, name: str = "fn", *, concrete: bool = False) -> None:
        self.name = name
        # A concrete trace knows its inputs' values; those of other values are computed
        # on demand (value_of), so tracing costs nothing extra unless Python asks.
        self.concrete = concrete
        self.values: dict[Var, np.ndarray] = {}
        self.params: list[Var] = []
        self.param_names: dict[Var, str] = {}
        self.ops: list[Op] = []
        self.producer: dict[Var, Op] = {}
        # Closure conversion: captured outside values, keyed by identity, with their Vars.
        self.captured: dict[int, tuple[Any, Var]] = {}
        self.active = False
        self._thread = 0  # the id of the thread it records on, while active
        self._regions: dict[int, Function] = {}  # regions of the ops so far (kept alive)

    def __enter__(self) -> Trace:
        trace_stack().append(self)
        any_thread_tracing.append(self)
        self._thread = threading.get_ident()
        self.active = True
        return self

    def __exit__(self, *exc) -> None:
        popped = trace_stack().pop()
        any_thread_tracing.remove(self)
        assert popped is self, "trace stack corrupted"
        self.active = False

    def is_live(self) -> bool:
        """Recording on the calling thread. A tracer of a trace that has finished, or that
        runs on another thread, has escaped: its values belong to no computation here."""
        return self.active and self._thread == threading.get_ident()

    def new_param(self, type: TensorType, name: str = "", val: np.ndarray | None = None) -> Tracer:
        var = Var(type)
        self.params.append(var)
        if name:
            self.param_names[var] = name
        return Tracer(var, self, val)

    def atom(self, x: Any) -> Atom:
        """Convert an operand handed to a primitive into an IR operand of this trace."""
        if isinstance(x, Tracer):
            if x._trace is self:
                return x.ir_var
            if not x._trace.is_live():
                raise x.escaped(f"in {self.name!r}")
            return self._capture(x, x.ir_var.type)
        if type(x) is LiteralArray:
            return x.literal
        value, weak = concrete_value(x)
        if value.ndim == 0:
            return Literal(value, TensorType((), value.dtype, weak))
        return self._capture(x, TensorType(value.shape, value.dtype, weak), value)

    def _capture(self, x: Any, type: TensorType, value: np.ndarray | None = None) -> Var:
        hit = self.captured.get(id(x))
        if hit is not None:
            return hit[1]
        var = Var(type)
        self.captured[id(x)] = (x if value is None or isinstance(x, Array) else value, var)
        return var

    def emit(self, prim: Primitive, args: Sequence[Any], params: dict,
             regions: tuple[Function, ...] = ()) -> Any:
        if regions:
            # A region replayed twice into one trace (a cached gradient program called twice,
            # say) gets fresh variables: a Var is defined once in a whole function tree.
            regions = tuple(renamed(r) if id(r) in self._regions else r for r in regions)
            self._regions.update((id(r), r) for r in regions)
        inputs = tuple(self.atom(a) for a in args)
        p = Params(params)
        out_types = _traced_out_types(prim, tuple(a.type for a in inputs), p, regions)
        outputs = tuple(Var(t) for t in out_types)
        op = Op(prim, inputs, outputs, p, regions)
        self.ops.append(op)
        for v in outputs:
            self.producer[v] = op
        tracers = [Tracer(v, self) for v in outputs]
        return tracers if prim.multiple_results else tracers[0]

    def value_of(self, var: Var) -> np.ndarray | None:
        """``var``'s value in a concrete trace, evaluating the ops it depends on once; None
        when it depends on a value nobody knows (a tracer of an abstract enclosing trace, a
        collective, whose value depends on the mapped axis)."""
        if var in self.values:
            return self.values[var]
        outside = {v: x for x, v in self.captured.values()}
        stack = [var]
        while stack:
            v = stack[-1]
            if v in self.values:
                stack.pop()
                continue
            if v in outside:
                x = outside[v]
                value = x.val if isinstance(x, Tracer) else concrete_value(x)[0]
                if value is None:
                    return None
                self.values[v] = value
                stack.pop()
                continue
            op = self.producer.get(v)
            if op is None or op.prim in COLLECTIVES:  # a parameter without a value
                return None
            missing = [a for a in op.inputs if isinstance(a, Var) and a not in self.values]
            if missing:
                stack.extend(missing)
                continue
            vals = [self.values[a] if isinstance(a, Var) else a.value for a in op.inputs]
            outs = (evaluate_op(op, vals) if op.regions else
                    evaluate(op.prim, vals, op.params, [o.type for o in op.outputs]))
            self.values.update(zip(op.outputs, outs))
            stack.pop()
        return self.values[var]

    def concretization_message(self, var: Var, what: str) -> str:
        deps = self._param_dependencies(var)
        names = [self.param_names.get(p) or f"argument {self.params.index(p)}" for p in deps]
        depends = (f"It depends on the value of {', '.join(names)}." if names else "")
        return (
            f"Abstract tracer value encountered where concrete value is expected: "
            f"{var.type} in {what}() while tracing the function {self.name}. {depends}\n"
            "The value is not known while tracing (for example under jit). Use lax.cond or "
            "lax.while_loop / fori_loop instead of Python control flow on traced values, or "
            "mark the argument static with static_argnums/static_argnames.")

    def origin_message(self, var: Var) -> str:
        """JAX's sentence on where a traced value without a value comes from."""
        deps = self._param_dependencies(var)
        names = [self.param_names.get(p) or f"argument {self.params.index(p)}" for p in deps]
        text = f"The error occurred while tracing the function {self.name}."
        if len(names) == 1:
            text += (" This concrete value was not available in Python because it depends on "
                     f"the value of the argument {names[0]}.")
        elif names:
            text += (" This concrete value was not available in Python because it depends on "
                     f"the values of the arguments {', '.join(names[:-1])} and {names[-1]}.")
        return text

    def _param_dependencies(self, var: Var) -> list[Var]:
        seen, stack, found = set(), [var], []
        params = set(self.params)
        while stack:
            v = stack.pop()
            if v in seen:
                continue
            seen.add(v)
            if v in params:
                found.append(v)
            elif v in self.producer:
                stack.extend(a for a in self.producer[v].inputs if isinstance(a, Var))
        return sorted(found, key=self.params.index)

    def finish(self, outputs: Sequence[Any]) -> tuple[Function, list[Any]]:
        """Close the trace: the Function (captures first, then params) and the captured values."""
        results = tuple(self.atom(x) for x in outputs)
        captured = list(self.captured.values())
        fn = Function(tuple(v for _, v in captured) + tuple(self.params), tuple(self.ops),
                      results, self.name)
        return fn, [x for x, _ in captured]


def concrete_value(x: Any) -> tuple[np.ndarray, bool]:
    """A concrete operand as (numpy array of a supported dtype, weak flag)."""
    if isinstance(x, Array):
        return x._value, x.weak_type
    if isinstance(x, Tracer):
        return x._concrete("a concrete value"), x.weak_type
    dtype, weak = dtype_of_value(x)
    return np.asarray(x, dtype=dtype), weak


def aval_of(x: Any) -> TensorType:
    """The abstract type of any array-like operand."""
    if isinstance(x, (Array, Tracer)):
        return x.aval
    dtype, weak = dtype_of_value(x)
    return TensorType(np.shape(x), dtype, weak)


def evaluate(prim: Primitive, vals: Sequence[np.ndarray], params: dict,
             out_types: Sequence[TensorType]) -> list[np.ndarray]:
    """Run the reference implementation and cast results to the inferred types."""
    out = reference[prim](*vals, **params)
    outs = out if prim.multiple_results else (out,)
    return [np.asarray(o, dtype=t.dtype) for o, t in zip(outs, out_types)]


# Eager type inference, memoised: (prim, operand signature ids, params) -> output types and
# their signature ids. Eager ops repeat the same few signatures, and building TensorTypes
# and running the shape rule cost more than the NumPy call itself on small arrays.
# Thread safety: a value depends only on its key, so threads racing on a miss store equal
# values; the size bound may be overshot by a few entries. (Likewise _TRACED_TYPES.)
_EAGER_TYPES: dict[tuple, tuple[tuple[TensorType, ...], tuple[int, ...]]] = {}


def _eager_out_types(prim: Primitive, vals: list[np.ndarray], weaks: list[bool],
                     sigs: list[int], params: dict
                     ) -> tuple[tuple[TensorType, ...], tuple[int, ...]]:
    try:
        key = (prim, *sigs, *params.items()) if params else (prim, *sigs)
        hit = _EAGER_TYPES.get(key)
    except TypeError:  # an unhashable param: infer without the cache
        key, hit = None, None
    if hit is None:
        types = tuple(TensorType(v.shape, v.dtype, w) for v, w in zip(vals, weaks))
        out_types = infer_types(prim, types, params)
        hit = (out_types, tuple(signature_id(t.shape, t.dtype, t.weak) for t in out_types))
        if key is not None and len(_EAGER_TYPES) < 65536:
            _EAGER_TYPES[key] = hit
    return hit


def evaluate_op(op: Op, vals: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Evaluate one op (regions included) on concrete values, cast to its output types."""
    from llax.ir.interpreter import run_op

    outs = run_op(op, list(vals))
    return [np.asarray(o, dtype=v.type.dtype).reshape(v.type.shape)
            for o, v in zip(outs, op.outputs)]


# Traced type inference, memoised like the eager one: tracing repeats the same few
# (primitive, types, params) combinations, and the shape rules cost more than the lookup.
_TRACED_TYPES: dict[tuple, tuple[TensorType, ...]] = {}


def _traced_out_types(prim: Primitive, in_types: tuple[TensorType, ...], params: Params,
                      regions: tuple[Function, ...]) -> tuple[TensorType, ...]:
    if regions:  # regions are new Functions each time: nothing to share
        return infer_types(prim, in_types, params, regions)
    key = (prim, in_types, params)
    try:
        hit = _TRACED_TYPES.get(key)
    except TypeError:  # an unhashable param
        return infer_types(prim, in_types, params)
    if hit is None:
        hit = infer_types(prim, in_types, params)
        if len(_TRACED_TYPES) < 65536:
            _TRACED_TYPES[key] = hit
    return hit


def bind(prim: Primitive, args: Sequence[Any], params: dict,
         regions: tuple[Function, ...] = ()) -> Any:
    """Apply a primitive: staged into the current trace, or evaluated eagerly.

    Ops with regions (control flow, custom derivatives) pass them as ``regions``.
    """
    if any_thread_tracing:  # else this thread is not tracing either: skip the lookup
        stack = trace_stack()
        if stack:
            return stack[-1].emit(prim, args, params, regions)
    if regions:
        return _bind_with_regions(prim, args, params, regions)
    vals, weaks, sigs = [], [], []
    for a in args:
        if type(a) is Array:
            vals.append(a._value)
            weaks.append(a.weak_type)
            sigs.append(a._sig or array_signature(a))
        else:
            value, weak = concrete_value(a)
            vals.append(value)
            weaks.append(weak)
            sigs.append(signature_id(value.shape, value.dtype, weak))
    out_types, out_sigs = _eager_out_types(prim, vals, weaks, sigs, params)
    # evaluate(), inlined and fused with the wrapping loop: calling it costs ~0.5 us, an
    # eighth of an eager op.
    out = reference[prim](*vals, **params)
    outs = []
    for o, t, sig in zip(out if prim.multiple_results else (out,), out_types, out_sigs):
        if type(o) is not np.ndarray or o.dtype != t.dtype:
            o = np.asarray(o, dtype=t.dtype)
        o.setflags(write=False)  # cheaper than Array.__init__'s flags check
        outs.append(Array._wrap_readonly(o, t.weak, sig))
    if _eager_check is not None:
        _eager_check(prim.name, outs)
    return outs if prim.multiple_results else outs[0]


# ---------------------------------------------------------------------------------------------
# NaN / inf checks (jax_debug_nans, jax_debug_infs)


def special_value(values: Sequence[np.ndarray]) -> str | None:
    """"nan" or "inf" if one of ``values`` (floating-point ones only) holds a value that this
    thread's debug_nans / debug_infs flags forbid, else None. NaN is looked for first in each
    array, as JAX does."""
    nans, infs = config.jax_debug_nans, config.jax_debug_infs
    if nans or infs:
        for v in values:
            if dtypes.kind(v.dtype) in "fc":
                if nans and np.isnan(v).any():
                    return "nan"
                if infs and np.isinf(v).any():
                    return "inf"
    return None


def no_invalid_in_deoptimized(name: str, kind: str) -> FloatingPointError:
    """JAX's error when the outputs of ``name`` (a jit, "jit(f)") hold an invalid value but
    its op-by-op re-run produced none. (JAX's text starts with the repr of its internal
    error's arguments.)"""
    return FloatingPointError(
        f"{(name, kind)}. Because jax_config.debug_nans.value and/or "
        "config.jax_debug_infs is set, the de-optimized function (i.e., the function as if "
        "the `jit` decorator were removed) was called in an attempt to get a more precise "
        "error message. However, the de-optimized function did not produce invalid values "
        "during its execution. This behavior can result from `jit` optimizations causing "
        "the invalid value to be produced. It may also arise from having nan/inf literals "
        "as inputs or outputs, like `jax.jit(lambda ...: jax.numpy.nan)(...)`. \n\n"
        "It may be possible to avoid the invalid value by removing the `jit` decorator, at "
        "the cost of losing optimizations. \n\n"
        "If you see this error, consider opening a bug report at "
        "https://github.com/jax-ml/jax.")


# Per thread: how many library boundaries (see ``checked_as_one``) the running code is in.
_boundaries = threading.local()


def _check_eager_outputs(name: str, outs: Sequence[Array]) -> None:
    if getattr(_boundaries, "depth", 0):  # inside a library function: its outputs are checked
        return
    kind = special_value([o._value for o in outs])
    if kind is not None:
        raise FloatingPointError(f"invalid value ({kind}) encountered in {name}")


def checked_as_one(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` (a library function made of several primitives) checked for NaNs / infs the way
    JAX checks its jitted library functions: only its outputs; when they hold an invalid
    value, ``fn`` runs again with every primitive checked, to name the one that produced it.
    Intermediate values that the result does not keep (the untaken side of a ``where``, an
    infinite constant in a mask) are therefore no error. Apply it only while the checks are
    on (``_eager_check`` set): it costs a few microseconds a call."""
    def checked(*args: Any, **kwargs: Any) -> Any:
        if any_thread_tracing and trace_stack():  # traced: the enclosing jit checks
            return fn(*args, **kwargs)
        depth = getattr(_boundaries, "depth", 0)
        _boundaries.depth = depth + 1
        try:
            out = fn(*args, **kwargs)
        finally:
            _boundaries.depth = depth
        if depth:
            return out
        leaves = out if isinstance(out, (tuple, list)) else (out,)
        kind = special_value([x._value for x in leaves if type(x) is Array])
        if kind is not None:
            fn(*args, **kwargs)  # op by op, checked: raises naming the primitive
            raise no_invalid_in_deoptimized(f"jit({name})", kind)
        return out

    return checked


# The check ``bind`` runs on every eager result: set only while debug_nans or debug_infs is
# on in some thread, so that eager ops pay one global read otherwise.
_eager_check: Callable[[str, Sequence[Array]], None] | None = None


_EAGER_CHECK_LOCK = threading.Lock()


def eager_checks_off() -> bool:
    """Whether eager ops go unchecked (debug_nans and debug_infs off in every thread)."""
    return _eager_check is None


def checks_at_boundary(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator for library functions that compute with infinities or NaNs they do not
    return (masks, untaken ``where`` sides): under debug_nans / debug_infs they are checked
    as one op, as JAX checks its jitted library functions (see ``checked_as_one``). Off, it
    costs one global read per call."""
    boundary = checked_as_one(getattr(fn, "__name__", "fn"), fn)

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        if _eager_check is None:
            return fn(*args, **kwargs)
        return boundary(*args, **kwargs)

    return run


def _install_eager_check(flag: str) -> None:
    global _eager_check
    if flag in ("jax_debug_nans", "jax_debug_infs"):
        with _EAGER_CHECK_LOCK:  # (the last of two racing threads to write saw both changes)
            on = config.any_thread("jax_debug_nans") or config.any_thread("jax_debug_infs")
            _eager_check = _check_eager_outputs if on else None


config.on_update(_install_eager_check)
_install_eager_check("jax_debug_nans")  # the environment may have set it


def _bind_with_regions(prim: Primitive, args: Sequence[Any], params: dict,
                       regions: tuple[Function, ...]) -> Any:
    vals = [concrete_value(a) for a in args]
    types = tuple(TensorType(v.shape, v.dtype, w) for v, w in vals)
    p = Params(params)
    out_types = infer_types(prim, types, p, regions)
    op = Op(prim, tuple(Var(t) for t in types), tuple(Var(t) for t in out_types), p, regions)
    buffers = [v for v, _ in vals]
    run = _eager_kernel(op) if prim in CONTROL_FLOW else None
    results = run(buffers) if run is not None else evaluate_op(op, buffers)
    outs = [Array(np.asarray(o), t.weak) for o, t in zip(results, out_types)]
    if _eager_check is not None:
        _eager_check(prim.name, outs)
    return outs if prim.multiple_results else outs[0]


# Eager control flow runs compiled, as in JAX (a loop interpreted op by op in Python would be
# thousands of times slower): the op alone becomes a function, compiled once per structure.
# None marks an op the code generator cannot compile (it is interpreted instead).
_EAGER_KERNELS: dict[Hashable, Any] = {}


def _eager_kernel(op: Op) -> Callable[[list[np.ndarray]], list[np.ndarray]] | None:
    from llax.frontend.compile import compile_function
    from llax.ir.structure import structure_key

    fn = Function(tuple(op.inputs), (op,), tuple(op.outputs), op.prim.name)
    key = structure_key(fn)
    if key not in _EAGER_KERNELS:
        try:
            kernel = compile_function(fn).call
        except Exception:  # noqa: BLE001 - no native lowering for something inside: interpret
            kernel = None
        if len(_EAGER_KERNELS) < 1024:
            _EAGER_KERNELS[key] = kernel
        return kernel
    return _EAGER_KERNELS[key]


def trace(fn: Callable, in_types: Sequence[TensorType], *, name: str = "fn",
          arg_names: Sequence[str] = (), concrete_values: Sequence[np.ndarray] | None = None,
          ) -> tuple[Trace, list[Tracer], Any]:
    """Trace ``fn`` on one tracer per input type.

    Returns the finished Trace, the input tracers and fn's raw Python output (a
    pytree of tracers/constants); the caller flattens the output and calls
    ``Trace.finish(leaves)`` for the Function and its captured values.
    """
    t = Trace(name, concrete=concrete_values is not None)
    with t:
        names = list(arg_names) + [""] * (len(in_types) - len(arg_names))
        vals = concrete_values if concrete_values is not None else [None] * len(in_types)
        tracers = [t.new_param(ty, n, v) for ty, n, v in zip(in_types, names, vals)]
        out = fn(*tracers)
    return t, tracers, out


def is_array_like(x: Any) -> bool:
    return isinstance(x, (Array, Tracer, np.ndarray, np.generic, int, float, bool))



set_binder(bind)  # Primitive.bind (in the IR layer) stages or evaluates through here

__all__ = ["Array", "Tracer", "Trace", "bind", "trace", "aval_of", "concrete_value",
           "ConcretizationTypeError", "UnexpectedTracerError", "current_trace", "trace_stack",
           "bound_axes", "dtypes"]
