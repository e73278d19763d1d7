"""The staging API: ``jit`` and ``make_jaxpr``.

Both flatten the arguments to leaves, trace the function once per abstract
signature, and (for jit) compile and cache the result. The cache key is the
tree structure, each leaf's (shape, dtype, weak) and the static arguments.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

try:
    from llax.codegen.native import ArgumentError
except ImportError:  # the native entry is unusable here (e.g. an unknown NumPy ABI)

    class ArgumentError(Exception):  # type: ignore[no-redef]
        """Stand-in: never raised, so the fast path simply never falls back on it."""
from llax.config import config
from llax.frontend import compile_log
from llax.frontend.compile import Compiled, compile_function
from llax.frontend.core import (
    Array,
    Trace,
    Tracer,
    any_thread_tracing,
    array_signature,
    no_invalid_in_deoptimized,
    signature_id,
    special_value,
    trace_stack,
)
from llax.frontend.float0 import float0_outputs_as_structure
from llax.frontend.jaxpr import ClosedJaxpr
from llax.frontend.tree_codegen import builder, matcher
from llax.frontend.tree_util import (
    keystr,
    tree_flatten,
    tree_flatten_with_path,
    tree_leaves,
    tree_unflatten,
)
from llax.frontend.validation import check_output_leaves
from llax.ir import dtypes
from llax.ir.promotion import dtype_of_value, reject_masked
from llax.ir.types import TensorType


def _as_tuple(x: int | str | Iterable | None) -> tuple:
    if x is None:
        return ()
    if isinstance(x, (int, str)):
        return (x,)
    return tuple(x)


class _Signature:
    """Splits a call's arguments into static values and dynamic pytrees."""

    def __init__(self, fun: Callable, static_argnums, static_argnames) -> None:
        self.name = getattr(fun, "__name__", type(fun).__name__)
        try:
            self.sig: inspect.Signature | None = inspect.signature(fun)
        except (TypeError, ValueError):
            self.sig = None
        nums, names = _as_tuple(static_argnums), _as_tuple(static_argnames)
        positional = [p.name for p in self.sig.parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)] if self.sig else []
        if self.sig is not None:
            self._check_statics(nums, names, positional)
        # As in JAX, static_argnums implies the matching names and vice versa.
        nums = nums + tuple(positional.index(n) for n in names if n in positional)
        names = names + tuple(positional[i] for i in nums if 0 <= i < len(positional))
        self.static_argnums = frozenset(nums)
        self.static_argnames = frozenset(names)
        self.positional = positional

    def _check_statics(self, nums: tuple, names: tuple, positional: list[str]) -> None:
        """As JAX does: static_argnums/argnames must name parameters the function has."""
        kinds = {p.kind for p in self.sig.parameters.values()}
        if inspect.Parameter.VAR_POSITIONAL not in kinds:
            bad = [n for n in nums if not -len(positional) <= n < len(positional)]
            if bad:
                raise ValueError(f"Jitted function has static_argnums={nums}, but only accepts "
                                 f"{len(positional)} positional arguments.")
        if inspect.Parameter.VAR_KEYWORD not in kinds:
            bad_names = set(names) - set(self.sig.parameters)
            if bad_names:
                raise ValueError(f"Jitted function has invalid argnames {bad_names} in "
                                 f"static_argnames={names}. Function arguments are "
                                 f"{list(self.sig.parameters)}.")

    def split(self, args: tuple, kwargs: dict) -> tuple[tuple, tuple, dict, list[str]]:
        nargs = len(args)
        statics, dyn_args = [], []
        for i, a in enumerate(args):
            if i in self.static_argnums or (i - nargs) in self.static_argnums:
                statics.append((i, _check_hashable(a, self._argname(i))))
            else:
                dyn_args.append(a)
        dyn_kwargs = {}
        for k, v in kwargs.items():
            if k in self.static_argnames:
                statics.append((k, _check_hashable(v, k)))
            else:
                dyn_kwargs[k] = v
        names = [self._argname(i) for i in range(nargs)
                 if not (i in self.static_argnums or (i - nargs) in self.static_argnums)]
        return tuple(statics), tuple(dyn_args), dyn_kwargs, names

    def _argname(self, i: int) -> str:
        return self.positional[i] if i < len(self.positional) else f"args[{i}]"


class _Donation:
    """Which arguments a jitted function's caller donates, by position and by name (each
    implies the other, as in JAX)."""

    def __init__(self, signature: _Signature, nums, names) -> None:
        nums, names = _as_tuple(nums), _as_tuple(names)
        positional = signature.positional
        nums = nums + tuple(positional.index(n) for n in names if n in positional)
        names = names + tuple(positional[i] for i in nums if 0 <= i < len(positional))
        for kind, donated, static in (("argnames", names, signature.static_argnames),
                                      ("argnums", nums, signature.static_argnums)):
            both = set(donated) & set(static)
            if both:
                raise ValueError(f"static_{kind} and donate_{kind} cannot intersect. Argument "
                                 f"{'names' if kind == 'argnames' else 'numbers'} {both} "
                                 f"appear in both static_{kind} and donate_{kind}")
        self.nums = frozenset(nums)
        self.names = frozenset(names)
        self.key = (self.nums, self.names)
        self._signature = signature

    def __bool__(self) -> bool:
        return bool(self.nums or self.names)

    def leaf_mask(self, args: tuple, kwargs: dict) -> list[bool]:
        """For each leaf of the dynamic arguments, in ``_lookup``'s order: donated or not.
        ``args`` and ``kwargs`` may still hold the static arguments (they have no leaves
        here: they are skipped by position or name)."""
        static_nums, static_names = self._signature.static_argnums, \
            self._signature.static_argnames
        mask: list[bool] = []
        n = len(args)
        for i, a in enumerate(args):
            if i in static_nums or i - n in static_nums:
                continue
            mask += [i in self.nums or i - n in self.nums] * len(tree_flatten(a)[0])
        # Keyword leaves come in the order of the flattened dict (keys sorted), not the
        # order they were passed in: flatten a dict of the same keys.
        flags = {k: [k in self.names] * len(tree_flatten(v)[0])
                 for k, v in kwargs.items() if k not in static_names}
        return mask + tree_flatten(flags)[0]


def _check_hashable(value: Any, name: str) -> Any:
    try:
        hash(value)
    except TypeError:
        raise ValueError(
            f"Non-hashable static arguments are not supported. An error occurred while trying "
            f"to hash an object of type {type(value)}, {value!r}, passed as static argument "
            f"{name!r}.") from None
    return value


def _leaf_key(leaf: Any, where: str) -> tuple:
    if type(leaf) is Array:
        v = leaf._value
        return (v.shape, v.dtype, leaf.weak_type)
    if isinstance(leaf, np.ndarray):
        reject_masked(leaf)
        return (leaf.shape, dtypes.canonicalize(leaf.dtype, where=where), False)
    if isinstance(leaf, (bool, int, float, complex, np.generic)):
        dtype, weak = dtype_of_value(leaf)
        return ((), dtype, weak)
    if isinstance(leaf, ShapeDtypeStruct):  # abstract arguments, as for jit(f).lower(...)
        return (leaf.shape, dtypes.canonicalize(leaf.dtype, where=where), leaf.weak_type)
    if isinstance(leaf, Tracer):
        raise TypeError(f"{where}: unexpected tracer outside of a trace")
    raise TypeError(f"{where}: argument of type {type(leaf).__name__} is not a valid JAX type "
                    "(expected an array, a numpy array or a Python scalar)")


def _to_buffer(leaf: Any, dtype: np.dtype) -> np.ndarray:
    if type(leaf) is Array:
        return leaf._value
    # order="C" (not np.ascontiguousarray, which turns 0-d arrays into shape (1,)).
    return np.asarray(leaf, dtype=dtype, order="C")


def _buffer_refs(x: Array) -> int:
    return sys.getrefcount(x._value)


# What _buffer_refs counts for a buffer that nothing but its Array holds (the rest are the
# call's own references, which differ between Python versions: so measured, not assumed).
_SOLE_OWNER_REFS = _buffer_refs(Array(np.empty(1)))


def _writable_buffer(leaf: Any, dtype: np.dtype) -> np.ndarray:
    """What to pass where the compiled code may write (a donated input): the Array's own
    buffer when nothing else can see it (no other Array, NumPy name or view holds it, and
    it is no view itself), else a private copy. Either way the writes change no array the
    caller can still read: a donated NumPy array, say, is never modified."""
    if type(leaf) is Array and leaf._value.base is None \
            and _buffer_refs(leaf) <= _SOLE_OWNER_REFS:
        return leaf._value
    return np.array(leaf, dtype=dtype, order="C")


class _Entry:
    """One compiled specialisation: the executable plus what is needed to call it."""

    __slots__ = ("compiled", "consts", "out_tree", "out_types", "in_dtypes", "jaxpr")

    def __init__(self, compiled: Compiled, consts: list[np.ndarray], out_tree: Any,
                 in_dtypes: list[np.dtype], jaxpr: ClosedJaxpr) -> None:
        self.compiled = compiled
        self.consts = consts
        self.out_tree = out_tree
        self.out_types = [r.type for r in compiled.traced.results]
        self.in_dtypes = in_dtypes
        self.jaxpr = jaxpr

    def __call__(self, leaves: Sequence[Any]) -> Any:
        writes, n = self.compiled.donated, len(self.consts)
        if writes:  # (then the caller deletes the donated Arrays: JitFunction._donating_call)
            bufs = self.consts + [
                (_writable_buffer if n + i in writes else _to_buffer)(x, d)
                for i, (x, d) in enumerate(zip(leaves, self.in_dtypes))]
        else:
            bufs = self.consts + [_to_buffer(x, d) for x, d in zip(leaves, self.in_dtypes)]
        outs = self.compiled.call(bufs)
        return tree_unflatten(self.out_tree,
                              [Array(o, t.weak) for o, t in zip(outs, self.out_types)])

    def fast_path(self) -> Callable[..., Any] | None:
        """A call taking the input buffers positionally, when the code is native (None
        otherwise). Captured constants are bound in; a single-array result, the most
        common case, skips the pytree machinery altogether.

        It raises the native entry's ArgumentError for buffers the entry does not accept
        (e.g. non-contiguous views); the caller then takes the general path.
        """
        entry = getattr(self.compiled, "entry", None)
        if entry is None:
            return None
        if self.consts:
            consts = [np.asarray(c, dtype=v.type.dtype, order="C")
                      for c, v in zip(self.consts, self.compiled.traced.params)]
            entry = functools.partial(entry, *consts)
        new = object.__new__
        wraps = [(t.weak, signature_id(t.shape, t.dtype, t.weak)) for t in self.out_types]
        if len(wraps) == 1 and self.out_tree.num_nodes == 1:
            ((weak, sig),) = wraps

            def fast(*buffers):
                # Array._wrap_readonly, inlined: this is the whole cost of a call besides
                # the native code.
                result = new(Array)
                result._value = entry(*buffers)
                result.weak_type = weak
                result._sig = sig
                return result

            return fast
        out_tree, single = self.out_tree, len(wraps) == 1
        build = builder(out_tree, tuple(wraps))
        if build is None:
            def build(outs):
                return tree_unflatten(out_tree, [Array._wrap_readonly(o, w, s)
                                                 for o, (w, s) in zip(outs, wraps)])

        def fast_tree(*buffers):
            outs = entry(*buffers)
            return build((outs,) if single else outs)

        return fast_tree


    def donating_fast_path(self, mask: Sequence[bool]) -> Callable[..., Any] | None:
        """``fast_path`` for a call donating the leaves ``mask`` marks, taking the argument
        Arrays themselves: it passes each donated buffer the code may write as
        ``_writable_buffer`` does, then deletes those Arrays. None unless the code is
        native and every donated leaf is one whose buffer an output could take (the other
        kind draws a warning on every call, which the general path gives)."""
        n = len(self.consts)
        writes = frozenset(k - n for k in self.compiled.donated)
        fast = self.fast_path()
        if fast is None or writes != {i for i, d in enumerate(mask) if d}:
            return None
        dtypes = self.in_dtypes

        def call(*arrays: Array) -> Any:
            # The donated buffers first: taking another's reference first would hide a
            # sole owner (see _writable_buffer).
            mine = {i: _writable_buffer(arrays[i], dtypes[i]) for i in writes}
            out = fast(*[mine[i] if i in mine else a._value for i, a in enumerate(arrays)])
            for i in writes:
                arrays[i].delete()
            return out

        return call


def trace_to_function(fun: Callable, name: str, dyn_args: tuple, dyn_kwargs: dict,
                      argnames: list[str], statics: tuple = (),
                      signature: _Signature | None = None, traced_for: str = "jit"
                      ) -> tuple[ClosedJaxpr, list[TensorType], Any]:
    """Trace ``fun`` on abstract versions of the dynamic arguments (for the API named
    ``traced_for``, which errors mention)."""
    path_leaves, in_tree = tree_flatten_with_path((dyn_args, dyn_kwargs))
    in_types, names = [], []
    for path, leaf in path_leaves:
        where = _describe(path, argnames)
        shape, dtype, weak = _leaf_key(leaf, where)
        in_types.append(TensorType(shape, dtype, weak))
        names.append(where)

    def flat_fun(*tracers):
        args, kwargs = tree_unflatten(in_tree, list(tracers))
        if statics:
            args, kwargs = _merge_statics(args, kwargs, statics)
        return fun(*args, **kwargs)

    t = Trace(name)
    with t:
        tracers = [t.new_param(ty, n) for ty, n in zip(in_types, names)]
        out = float0_outputs_as_structure(flat_fun(*tracers))
    out_leaves, out_tree = tree_flatten(out)
    check_output_leaves(fun, traced_for, out, out_leaves)
    fn, consts = t.finish(out_leaves)
    const_values = [np.asarray(c) if not isinstance(c, Tracer) else c for c in consts]
    return ClosedJaxpr(fn, const_values, out_tree), in_types, out_tree


def _describe(path: tuple, argnames: list[str]) -> str:
    if not path:
        return "argument"
    first, rest = path[0], path[1:]
    # path[0] selects args (0) or kwargs (1) of the (args, kwargs) pair.
    if getattr(first, "idx", None) == 0 and rest:
        idx = rest[0].idx
        base = argnames[idx] if idx < len(argnames) else f"args[{idx}]"
        return base + keystr(rest[1:])
    return "kwargs" + keystr(rest) if rest else "kwargs"


def _merge_statics(args: tuple, kwargs: dict, statics: tuple) -> tuple[tuple, dict]:
    args = list(args)
    kwargs = dict(kwargs)
    # Positional statics carry their original (non-negative) index: re-insert in order.
    for key, value in sorted(s for s in statics if isinstance(s[0], int)):
        args.insert(key, value)
    for key, value in statics:
        if isinstance(key, str):
            kwargs[key] = value
    return tuple(args), kwargs


_CACHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_MISS = object()  # "no fast path for these arguments" (None is a possible result)
# Guards the check-then-act updates of the shared per-function tables (_CACHES, the
# matcher lists); held for microseconds, never while compiling. Plain dict reads and
# single stores (the fast-path table) are atomic under the GIL and need no lock.
_TABLES_LOCK = threading.Lock()


# The flags that decide what a trace compiles to, and so are part of jit's cache key.
_KEYED_FLAGS = ("jax_enable_x64", "llax_pipeline")
# The flags that change how a jitted call runs (not what it compiles to): while one is on in
# any thread, calls take the general path (``_call_in_debug_mode``), never a fast path.
_DEBUG_FLAGS = ("jax_disable_jit", "jax_debug_nans", "jax_debug_infs")
# True while a debug flag is on somewhere. The fast paths never read it: they are emptied
# when it turns on and not filled again while it stays on.
_debug_mode = False


def _forget_fast_paths(flag: str) -> None:
    """After a change of a keyed flag: the fast-path tables are keyed by argument signatures
    alone, so empty them; the full cache key holds the flags, so the next call traces anew
    for the new setting (and finds the old entries again when it is set back). After a
    debug flag turns on: empty them too, so every call reaches the general path."""
    global _debug_mode
    if flag not in _DEBUG_FLAGS and flag not in _KEYED_FLAGS:
        return
    with _TABLES_LOCK:
        if flag in _DEBUG_FLAGS:
            # Read and written under the lock: of two threads changing flags at once, the
            # one that writes last has seen both changes.
            _debug_mode = any(config.any_thread(f) for f in _DEBUG_FLAGS)
            if not _debug_mode:
                return
        for per_fun in list(_CACHES.values()):
            for key, table in per_fun.items():
                if key[0] in ("fast", "matchers"):
                    table.clear()


config.on_update(_forget_fast_paths)
_forget_fast_paths("jax_disable_jit")  # the environment may have set a debug flag


@contextlib.contextmanager
def disable_jit(disable: bool = True) -> Any:
    """Within the block (on this thread), jitted functions run their Python code op by op on
    concrete arrays, so ``print`` and ``pdb`` see values; ``lax.cond``, ``while_loop``,
    ``scan`` and the loops built on them run as Python control flow when their operands are
    concrete. ``disable_jit(False)`` turns jit back on inside an outer block."""
    with config.scoped("jax_disable_jit", bool(disable)):
        yield


_NAN_RETRY_NOTICE = ("Invalid nan value encountered in the output of a jax.jit function. "
                     "Calling the de-optimized version.")


class _CompileOnce:
    """Fills a jit cache entry once per key, however many threads miss it at the same time:
    the first compiles, the others wait for its entry. (A compilation takes 10-500 ms and
    its native code stays loaded for good, so compiling twice is not a harmless race.)
    Distinct keys compile in parallel."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[tuple[int, Any], threading.RLock] = {}

    def __call__(self, cache: dict, key: Any, build: Callable[[], _Entry]) -> _Entry:
        slot = (id(cache), key)  # the caller holds the cache, so its id is not reused
        with self._guard:
            entry = cache.get(key)
            if entry is not None:
                return entry
            lock = self._locks.setdefault(slot, threading.RLock())
        try:
            # Re-entrant: tracing may ask for this very entry (jit(f).lower inside f),
            # which then recurses as it would without threads instead of deadlocking.
            with lock:
                entry = cache.get(key)
                if entry is None:
                    entry = cache[key] = build()
                return entry
        finally:
            with self._guard:
                if self._locks.get(slot) is lock:
                    del self._locks[slot]


_compile_once = _CompileOnce()


class JitFunction:
    """The callable ``jit`` returns. Its cache is shared by every jit of the same function."""

    def __init__(self, fun: Callable, static_argnums=None, static_argnames=None,
                 donate_argnums=None, pipeline: str | None = None,
                 backend: str = "native", donate_argnames=None) -> None:
        if not callable(fun):
            raise TypeError(f"jit: expected a callable, got {fun!r}")
        functools.update_wrapper(self, fun)
        self._fun = fun
        self._signature = _Signature(fun, static_argnums, static_argnames)
        self._pipeline = pipeline
        self._backend = backend
        self._donate = _Donation(self._signature, donate_argnums, donate_argnames)
        self._donating = bool(self._donate)
        variant = (self._signature.static_argnums, self._signature.static_argnames, pipeline,
                   backend, self._donate.key)
        with _TABLES_LOCK:  # two jit(f) on two threads must share one set of tables
            try:
                per_fun = _CACHES.setdefault(fun, {})
            except TypeError:  # not weak-referenceable (e.g. some builtins)
                per_fun = {}
            self._cache: dict = per_fun.setdefault(variant, {})
            # Argument signature -> fast call, for calls whose arguments are all Arrays,
            # or pytrees of them: then the key starts with the tree structure, and
            # _matchers holds the generated functions that recognise the structures seen
            # so far.
            self._fast: dict = per_fun.setdefault(("fast", *variant), {})
            self._matchers: list = per_fun.setdefault(("matchers", *variant), [])

    def __call__(self, *args, **kwargs):
        # This thread's traces, looked up only when some thread traces (the common case
        # costs a global read; this is the hottest path there is).
        tracing = any_thread_tracing and trace_stack()
        if self._donating and not tracing:  # a plain attribute: this path is the hottest
            return self._call_donating(args, kwargs)
        if not kwargs and not tracing:
            # Fast path: every argument an Array, signature seen before. It runs on every
            # call of a jitted function, so it is kept to a dict lookup and the native call.
            if self._matchers and args and type(args[0]) is not Array:
                # Pytrees of Arrays (e.g. a parameter dict first): no exception to get here.
                out = self._fast_tree_call(args)
                if out is not _MISS:
                    return out
            try:
                if len(args) == 1:
                    a = args[0]
                    fast = self._fast.get(a._sig or array_signature(a))
                    if fast is not None:
                        return fast(a._value)
                else:
                    fast = self._fast.get(tuple([a._sig or array_signature(a) for a in args]))
                    if fast is not None:
                        return fast(*[a._value for a in args])
            except AttributeError:  # not all Arrays: perhaps pytrees of Arrays
                out = self._fast_tree_call(args)
                if out is not _MISS:
                    return out
            except ArgumentError:  # a view the entry refuses
                pass
        if tracing:
            # Inside another trace: one ``jit`` op holding this function's own trace, as JAX
            # stages it (transformations and compilation inline it); with jit disabled,
            # the Python function itself.
            if _debug_mode and config.jax_disable_jit:
                return self._fun(*args, **kwargs)
            from llax.frontend.nested_jit import call_jitted

            statics, dyn_args, dyn_kwargs, _ = self._signature.split(args, kwargs)
            return call_jitted(self._fun, self._signature.name, dyn_args, dyn_kwargs,
                               lambda a, k: _merge_statics(a, k, statics))
        if _debug_mode:
            return self._call_in_debug_mode(args, kwargs)
        entry, leaves = self._lookup(args, kwargs)
        if not kwargs and not self._signature.static_argnums:
            self._remember_fast_path(entry, args, leaves)
        return entry(leaves)

    def _call_in_debug_mode(self, args: tuple, kwargs: dict) -> Any:
        """A call while disable_jit, debug_nans or debug_infs is on in some thread: with jit
        disabled on this thread, the Python function itself; else the compiled code, whose
        results are checked for NaNs / infs. As in JAX, nothing is donated then (a failed
        check re-runs the function on the same arguments)."""
        if config.jax_disable_jit:
            return self._fun(*args, **kwargs)
        entry, leaves = self._lookup(args, kwargs)
        if not (config.jax_debug_nans or config.jax_debug_infs):
            if self._donating:
                return self._donating_call(entry, leaves, args, kwargs)
            return entry(leaves)
        if self._donating:  # plain (read-only) buffers: the code writes to copies of them
            leaves = [np.asarray(x) if type(x) is Array else x for x in leaves]
        out = entry(leaves)
        self._check_special(out, args, kwargs)
        return out

    def _check_special(self, out: Any, args: tuple, kwargs: dict) -> None:
        """Raise FloatingPointError if ``out`` holds a NaN (inf) while debug_nans (infs) is
        on: as JAX does, after re-running the function op by op to name the primitive that
        produced it."""
        kind = special_value([x._value for x in tree_leaves(out) if type(x) is Array])
        if kind is None:
            return
        print(_NAN_RETRY_NOTICE)
        try:
            self._fun(*args, **kwargs)
        except (FloatingPointError, ZeroDivisionError) as e:
            raise e from None
        raise no_invalid_in_deoptimized(f"jit({self._signature.name})", kind) from None

    def _call_donating(self, args: tuple, kwargs: dict) -> Any:
        if not kwargs and self._fast:
            # Fast path: every argument an Array, signature seen before, no Array passed
            # twice (the general path says what is wrong with that).
            try:
                fast = self._fast.get(tuple([a._sig or array_signature(a) for a in args]))
                if fast is not None and len({id(a) for a in args}) == len(args):
                    return fast(*args)
            except (AttributeError, ArgumentError):  # not all Arrays; a view the entry refuses
                pass
        if _debug_mode:
            return self._call_in_debug_mode(args, kwargs)
        entry, leaves = self._lookup(args, kwargs)
        key = None
        if not kwargs and not self._signature.static_argnums and args \
                and all(type(a) is Array for a in args):
            key = tuple([array_signature(a) for a in args])  # (before they are deleted)
        out = self._donating_call(entry, leaves, args, kwargs)
        if key is not None:
            fast = entry.donating_fast_path(self._donate.leaf_mask(args, kwargs))
            if fast is not None:
                with _TABLES_LOCK:  # (a debug flag turning on meanwhile empties the table)
                    if not _debug_mode:
                        self._fast[key] = fast
        return out

    def _donating_call(self, entry: _Entry, leaves: list, args: tuple, kwargs: dict) -> Any:
        """A call that gives up the donated arguments' buffers: the compiled code may reuse
        them (an output may be the very buffer of a donated Array), and the Arrays are
        deleted afterwards (as JAX does, only those whose buffer an output of the same
        shape and dtype could take; the rest draw JAX's warning). Deletion drops the
        Array's reference to its buffer, so a reused buffer is reachable from the output
        alone."""
        donated = [x for x, d in zip(leaves, self._donate.leaf_mask(args, kwargs)) if d]
        donated = [x for x in donated if type(x) is Array]  # NumPy arrays are copied in
        ids = [id(x) for x in donated]
        for x in donated:
            if sum(y is x for y in leaves) > 1:
                raise ValueError("Attempt to use a buffer that was previously donated in the "
                                 "same call (the same Array is a donated argument and "
                                 "another argument). Toy example for this bug: "
                                 "`f(donate(a), a)`.")
        if len(set(ids)) != len(ids):
            raise ValueError("The same Array is donated twice in one call.")
        out = entry(leaves)
        # The compiled code may have reused exactly the buffers of donated arguments that
        # have the shape and dtype of some output (see _compile): those are deleted.
        outputs = {(t.shape, t.dtype) for t in entry.out_types}
        unusable = []
        for x in donated:
            if (x.shape, x.dtype) in outputs:
                x.delete()
            else:
                unusable.append(f"{x.dtype.name}[{','.join(map(str, x.shape))}]")
        if unusable:
            warnings.warn(f"Some donated buffers were not usable: {', '.join(unusable)}.",
                          stacklevel=3)
        return out

    def _remember_fast_path(self, entry: _Entry, args: tuple, leaves: list) -> None:
        """Register the entry's fast call for this signature: keyed by the arguments' ids
        when all are Arrays, else by tree structure and leaf ids when all leaves are."""
        if not all(type(x) is Array for x in leaves):
            return
        fast = entry.fast_path()
        if fast is None:
            return
        # Under the lock, and only while no debug flag is on: a flag turning on empties the
        # tables under this lock, so no fast path registered before it survives.
        if all(type(a) is Array for a in args):
            sigs = tuple(array_signature(a) for a in args)
            with _TABLES_LOCK:
                if not _debug_mode:
                    self._fast[sigs[0] if len(sigs) == 1 else sigs] = fast
        else:
            treedef = tree_flatten(args)[1]
            match = matcher(treedef)
            if match is None:
                return
            with _TABLES_LOCK:
                if _debug_mode:
                    return
                self._fast[(treedef, *(array_signature(x) for x in leaves))] = fast
                if match not in self._matchers and len(self._matchers) < 8:
                    self._matchers.append(match)  # (readers iterate it without the lock)

    def _fast_tree_call(self, args: tuple) -> Any:
        """The fast path for pytree arguments of a structure seen before; _MISS on a miss."""
        for match in self._matchers:
            try:
                found = match(args)
                if found is None:
                    continue
                fast = self._fast.get(found[0])
                if fast is not None:
                    return fast(*found[1])
            except (AttributeError, ArgumentError):  # a leaf that is not an Array
                pass
            return _MISS
        return _MISS

    def _lookup(self, args: tuple, kwargs: dict) -> tuple[_Entry, list]:
        if kwargs or self._signature.static_argnums:
            statics, dyn_args, dyn_kwargs, names = self._signature.split(args, kwargs)
        else:  # the common case, kept short: it runs on every call
            statics, dyn_args, dyn_kwargs, names = (), args, {}, None
        # Flattening the positional tuple alone hits tree_util's fast path for flat tuples;
        # the leaf order is the same as flattening (args, kwargs).
        leaves, treedef = tree_flatten(dyn_args)
        kw_treedef = None
        if dyn_kwargs:
            kw_leaves, kw_treedef = tree_flatten(dyn_kwargs)
            leaves = leaves + kw_leaves
        try:
            key = (treedef, kw_treedef, statics, tuple([_leaf_key(x, "argument") for x in leaves]),
                   *[getattr(config, f) for f in _KEYED_FLAGS])
        except TypeError:
            # Re-derive the error with the offending argument's name and pytree path.
            names = self._signature.split(args, kwargs)[3]
            trace_to_function(self._fun, self._signature.name, dyn_args, dyn_kwargs, names)
            raise
        entry = self._cache.get(key)
        if entry is None:
            if names is None:
                names = self._signature.split(args, kwargs)[3]
            entry = _compile_once(self._cache, key, lambda: self._compile(
                statics, dyn_args, dyn_kwargs, names, key))
        return entry, leaves

    def _compile(self, statics, dyn_args, dyn_kwargs, names, key=None) -> _Entry:
        name = self._signature.name
        # The issue asks jax_log_compiles to explain retraces too (JAX 0.10 explains them
        # only under jax_explain_cache_misses): whoever logs compiles wants to know why.
        if key is not None and (config.jax_explain_cache_misses or config.jax_log_compiles):
            compile_log.explain_cache_miss(
                self._fun, name, key, [k for k in list(self._cache) if k != key],
                self._signature.positional, _KEYED_FLAGS)
        log_compiles = config.jax_log_compiles
        start = time.perf_counter()
        jaxpr, in_types, out_tree = trace_to_function(
            self._fun, name, dyn_args, dyn_kwargs, names, statics)
        if log_compiles:
            compile_log.log_timing(f"tracing {name} for jit", time.perf_counter() - start)
            compile_log.log_compiling(name, in_types)
            start = time.perf_counter()
        donated = frozenset()
        if self._donate:  # only buffers an output could take may be reused (and deleted)
            fn = jaxpr.jaxpr.function
            outputs = {(r.type.shape, r.type.dtype) for r in fn.results}
            mask = self._donate.leaf_mask(*_merge_statics(dyn_args, dyn_kwargs, statics))
            donated = frozenset(k for k in (len(jaxpr.consts) + i for i, d in enumerate(mask)
                                            if d)
                                if (fn.params[k].type.shape, fn.params[k].type.dtype) in outputs)
        compiled = compile_function(jaxpr.jaxpr.function, pipeline=self._pipeline,
                                    backend=self._backend, donated=donated)
        if log_compiles:
            compile_log.log_timing(f"compilation of jit({name})", time.perf_counter() - start)
        return _Entry(compiled, list(jaxpr.consts), out_tree, [t.dtype for t in in_types], jaxpr)

    def lower(self, *args, **kwargs) -> Lowered:
        entry, _ = self._lookup(args, kwargs)
        return Lowered(entry, self)

    def trace(self, *args, **kwargs) -> ClosedJaxpr:
        entry, _ = self._lookup(args, kwargs)
        return entry.jaxpr

    def clear_cache(self) -> None:
        self._cache.clear()
        self._fast.clear()

    def _cache_size(self) -> int:
        return len(self._cache)

    def __get__(self, obj, objtype=None):
        # Support jitted methods: bind like a function would.
        return self if obj is None else functools.partial(self, obj)

    def __repr__(self) -> str:
        return f"<llax.jit of {self._signature.name}>"


class Lowered:
    """The stages of one compiled specialisation, as text: ``as_text(stage)``."""

    def __init__(self, entry: _Entry, jitted: JitFunction) -> None:
        self._entry = entry
        self._jitted = jitted

    def as_text(self, stage: str = "ir") -> str:
        """The text of one stage: "traced", "ir" (after the passes), "buffers" (values that
        share storage, from the ``inplace`` pass), "dot" (the optimised IR's dataflow graph
        as Graphviz DOT), or the code generator's stages ("llvm", "llvm-opt", "asm")."""
        from llax.passes.inplace import buffer_table

        c = self._entry.compiled
        texts = {"traced": lambda: str(c.traced), "ir": lambda: str(c.optimized),
                 "buffers": lambda: buffer_table(c.optimized),
                 "dot": lambda: _dot_graph(c.optimized),
                 **{k: (lambda v=v: v) for k, v in c.stages.items()}}
        if stage not in texts:
            raise ValueError(f"unknown stage {stage!r}; available: {', '.join(texts)}")
        return texts[stage]()

    def compile(self) -> CompiledFunction:
        return CompiledFunction(self._entry, self._jitted)


def _dot_graph(fn: Any) -> str:
    """The optimised IR's dataflow graph as Graphviz DOT text (llax.ir.dot, imported only
    when asked for: it needs networkx)."""
    from llax.ir.dot import to_dot

    return to_dot(fn)


class CompiledFunction:
    """``jit(f).lower(*args).compile()``: callable on arguments of the lowered signature."""

    def __init__(self, entry: _Entry, jitted: JitFunction) -> None:
        self._entry = entry
        self._jitted = jitted

    def __call__(self, *args, **kwargs) -> Any:
        entry, leaves = self._jitted._lookup(args, kwargs)
        if entry is not self._entry:
            raise TypeError("the arguments do not match the signature this function was "
                            "lowered and compiled for")
        if _debug_mode and (config.jax_debug_nans or config.jax_debug_infs):
            if self._jitted._donate:  # nothing donated while checking (see JitFunction)
                leaves = [np.asarray(x) if type(x) is Array else x for x in leaves]
            out = entry(leaves)
            self._jitted._check_special(out, args, kwargs)
            return out
        if self._jitted._donate:
            return self._jitted._donating_call(entry, leaves, args, kwargs)
        return entry(leaves)

    def as_text(self) -> str:
        """The optimised LLVM IR of the compiled code."""
        return self._entry.compiled.stages["llvm-opt"]

    def __getattr__(self, name: str) -> Any:
        # The underlying Compiled's fields: traced, optimized, stages, timings.
        return getattr(self._entry.compiled, name)


def jit(fun: Callable | None = None, *, static_argnums: int | Sequence[int] | None = None,
        static_argnames: str | Iterable[str] | None = None,
        donate_argnums: int | Sequence[int] | None = None,
        donate_argnames: str | Iterable[str] | None = None, pipeline: str | None = None,
        backend: str = "native", **unsupported: Any) -> Any:
    """Compile ``fun`` to native code, specialised on argument shapes, dtypes and statics.

    Usable as ``jit(f)``, ``@jit`` and ``@jit(static_argnums=...)``; ``pipeline``
    picks the optimisation passes (default in ``frontend/compile.DEFAULT_PIPELINE``).
    Donated arguments (``donate_argnums``/``donate_argnames``) give their buffers to the
    call: the code may reuse them, and the Arrays are deleted afterwards.
    """
    if unsupported:
        raise TypeError(f"jit: unsupported keyword arguments {sorted(unsupported)}")
    if fun is None:
        return functools.partial(jit, static_argnums=static_argnums,
                                 static_argnames=static_argnames, donate_argnums=donate_argnums,
                                 donate_argnames=donate_argnames, pipeline=pipeline,
                                 backend=backend)
    return JitFunction(fun, static_argnums, static_argnames, donate_argnums, pipeline, backend,
                       donate_argnames)


def make_jaxpr(fun: Callable, static_argnums: int | Sequence[int] = (),
               return_shape: bool = False) -> Callable[..., ClosedJaxpr]:
    """``make_jaxpr(f)(*args)``: the traced IR, in an object shaped like JAX's ClosedJaxpr."""
    signature = _Signature(fun, static_argnums, None)

    @functools.wraps(fun)
    def make(*args, **kwargs):
        statics, dyn_args, dyn_kwargs, names = signature.split(args, kwargs)
        jaxpr, _, out_tree = trace_to_function(fun, signature.name, dyn_args, dyn_kwargs,
                                               names, statics, traced_for="make_jaxpr")
        if return_shape:
            shapes = [ShapeDtypeStruct(a.shape, a.dtype) for a in jaxpr.out_avals]
            return jaxpr, tree_unflatten(out_tree, shapes)
        return jaxpr

    return make


def eval_shape(fun: Callable, *args, **kwargs) -> Any:
    """The shapes and dtypes ``fun`` would return, as a pytree of ShapeDtypeStruct.

    Traces only: nothing is compiled or run.
    """
    signature = _Signature(fun, None, None)
    _, dyn_args, dyn_kwargs, names = signature.split(args, kwargs)
    jaxpr, _, out_tree = trace_to_function(fun, signature.name, dyn_args, dyn_kwargs, names,
                                           traced_for="eval_shape")
    return tree_unflatten(out_tree, [ShapeDtypeStruct(a.shape, a.dtype, a.weak)
                                     for a in jaxpr.out_avals])


class ShapeDtypeStruct:
    __slots__ = ("shape", "dtype", "weak_type")

    def __init__(self, shape: Sequence[int], dtype: Any, weak_type: bool = False) -> None:
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.weak_type = weak_type

    def __repr__(self) -> str:
        return f"ShapeDtypeStruct(shape={self.shape}, dtype={self.dtype.name})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ShapeDtypeStruct) and self.shape == other.shape
                and self.dtype == other.dtype)

    def __hash__(self) -> int:
        return hash((self.shape, self.dtype))

