"""``custom_jvp`` and ``custom_vjp``: functions that bring their own derivative rules.

Called with no trace active, the function simply runs. Inside a trace (jit,
grad, vmap) it becomes one op whose region is the traced function and whose
params hold the rules as ``Rule`` objects (ir/prims/custom.py). A rule is
traced only when the JVP pass (or the transpose, for ``bwd``) reaches the op:
rules usually call the function itself, so tracing them at call time would
recurse without end.

Python control flow on primal values (``if x > 0:`` in the function or in a
rule, as in JAX's custom-derivatives tutorial) works wherever the values are
known, that is under eager ``grad``/``jvp``/``vjp``, whose traces are concrete:
the function and its rules are then traced on a ``ValueTrace``, which fetches
the operands' values only if Python asks for one. A rule that did ask is keyed
by those values from then on, so a gradient program cached for it serves only
calls with the same values. Under ``jit`` nothing is known and the same code
raises JAX's traced-value error (TracerBoolConversionError).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from llax.frontend.core import Trace, Tracer, aval_of, bind, concrete_value, trace_stack
from llax.frontend.tree_util import PyTreeDef, tree_flatten, tree_unflatten
from llax.ir import prims as P
from llax.ir.core import Function
from llax.ir.types import TensorType
from llax.transforms.jvp import has_tangent, instantiate, jvp_rules, zeros
from llax.transforms.staging import build_closed_function, call_function
from llax.transforms.transpose import is_linear, transpose_rules

# Where a traced input's value can be had: a function giving it (None when it turns out
# to be unknown), or None when it is known not to be known.
ValueSource = Callable[[], "np.ndarray | None"] | None


def value_source(x: Any) -> ValueSource:
    """How to get ``x``'s value later without computing it now: concrete values are
    known; a tracer's is known when its trace is concrete (eager transformations)."""
    if isinstance(x, Tracer):
        if not x._trace.concrete:
            return None
        trace, var = x._trace, x.ir_var
        return lambda: trace.value_of(var)
    value = concrete_value(x)[0]
    return lambda: value


class ValueTrace(Trace):
    """A concrete trace whose parameters' values are fetched from their sources only when
    Python asks for a value (``if x > 0``, ``float(x)``...); ``read_values`` says whether
    it did. Tracing costs nothing extra when nobody asks."""

    def __init__(self, name: str) -> None:
        super().__init__(name, concrete=True)
        self._sources: dict[Any, ValueSource] = {}
        self.read_values = False

    def new_source_param(self, type: TensorType, source: ValueSource) -> Tracer:
        tracer = self.new_param(type)
        self._sources[tracer.ir_var] = source
        return tracer

    def value_of(self, var):
        self.read_values = True
        if self._sources:  # every parameter's value at once: they are fetched once
            sources, self._sources = self._sources, {}
            for v, source in sources.items():
                value = source() if source is not None else None
                if value is not None:
                    self.values[v] = np.asarray(value, dtype=v.type.dtype)
        return super().value_of(var)

    def param_values(self) -> list[np.ndarray | None]:
        return [self.value_of(p) for p in self.params]


def traced_with_values(body: Callable[..., Sequence[Any]], in_types: Sequence[TensorType],
                       sources: Sequence[ValueSource], name: str
                       ) -> tuple[Function, list[Any], ValueTrace | None]:
    """``(fn, captured, trace)``: ``body`` traced on one tracer per input type. When some of
    the leading inputs have value ``sources``, the trace is a ValueTrace (returned, so the
    caller can see whether values were read); otherwise an abstract one (trace None)."""
    if not any(s is not None for s in sources):
        fn, captured = build_closed_function(body, in_types, name)
        return fn, captured, None
    t = ValueTrace(name)
    with t:
        given = list(sources) + [None] * (len(in_types) - len(sources))
        tracers = [t.new_source_param(ty, s) for ty, s in zip(in_types, given)]
        outs = list(body(*tracers))
    fn, captured = t.finish(outs)
    return fn, captured, t


def _fingerprint(values: Sequence[np.ndarray | None]) -> tuple | None:
    if any(v is None for v in values):
        return None
    return tuple((v.shape, v.dtype.str, v.tobytes()) for v in values)


class Rule:
    """A user rule as a function of flat leaves, traced on demand: ``trace(in_types)``.

    Two Rules with the same ``key`` (the user's rule function and everything static its
    tracing depends on) are equal, so ops holding them compare equal and a gradient
    program cached for one call of a custom function serves the next. Without a key
    (unhashable static arguments) a Rule equals only itself.

    ``sources()`` gives the value sources of the rule's leading inputs (the primal
    arguments, or bwd's residuals), or None: with some known, the rule is traced with
    values, and if it reads them its key takes them in (see the module docstring).
    ``label`` is the user's function's name, which ``make_jaxpr`` shows.
    """

    __slots__ = ("name", "flat", "key", "label", "sources")

    def __init__(self, name: str, flat: Callable[..., list[Any]], key: Any = None,
                 label: str | None = None,
                 sources: Callable[[], Sequence[ValueSource] | None] | None = None) -> None:
        self.name = name
        self.flat = flat
        try:
            hash(key)
        except TypeError:
            key = None
        self.key = key
        self.label = label or name
        self.sources = sources

    def __eq__(self, other: object) -> bool:
        if self.key is None or not isinstance(other, Rule):
            return self is other
        return self.key == other.key

    def __hash__(self) -> int:
        return id(self) if self.key is None else hash(self.key)

    def trace(self, in_types: Sequence[TensorType]) -> tuple[Function, list[Any]]:
        """``(fn, consts)``: call as ``fn(*consts, *inputs)``."""
        sources = (self.sources() if self.sources is not None else None) or ()
        fn, consts, t = traced_with_values(self.flat, in_types, sources, self.name)
        if t is not None and t.read_values:
            # The traced rule holds the branch these values took: it equals only Rules
            # traced on the same values (a cached program keyed by it serves only them).
            # Ops and cache keys already holding this Rule compare by the new key.
            fingerprint = _fingerprint(t.param_values()[:len(sources)])
            self.key = None if self.key is None or fingerprint is None else \
                (self.key, fingerprint)
        return fn, consts

    def __repr__(self) -> str:
        return f"<{self.name}>"


def _name(f: Callable) -> str:
    return getattr(f, "__name__", repr(f))


def _pair(out: Any, what: str) -> tuple[Any, Any]:
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError(f"{what} must produce a pair (list or tuple of length two), "
                        f"got {out!r}")
    return out[0], out[1]


def _leaves_like(out: Any, tree: PyTreeDef, what: str,
                 types: Sequence[TensorType] | None = None) -> list[Any]:
    """``out``'s leaves, checked against the function's output structure and, if given,
    the shapes and dtypes of its outputs."""
    leaves, got = tree_flatten(out)
    if got != tree:
        raise TypeError(f"{what} must produce an output with the same container (pytree) "
                        f"structure as the function's output, {tree}; got {got}")
    if types is not None:
        _check_types(leaves, types, f"{what} must produce primal and tangent outputs with "
                                    "corresponding shapes and dtypes")
    return leaves


def _check_types(values: Sequence[Any], types: Sequence[TensorType], what: str) -> None:
    for i, (v, t) in enumerate(zip(values, types)):
        got = aval_of(v)
        if got.shape != t.shape or got.dtype != t.dtype:
            raise TypeError(f"{what}, but output {i} has shape {got.shape} and dtype "
                            f"{got.dtype.name} where {t.shape} and {t.dtype.name} were "
                            "expected.")


class _Custom:
    """What custom_jvp and custom_vjp share: arguments, nondiff_argnums, tracing ``fun``."""

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()) -> None:
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        try:
            self._sig: inspect.Signature | None = inspect.signature(fun)
        except (TypeError, ValueError):
            self._sig = None

    def _positional(self, args: tuple, kwargs: dict) -> tuple:
        if not kwargs:
            return args
        if self._sig is None:
            raise TypeError(f"{self.__name__}: keyword arguments need an inspectable signature")
        bound = self._sig.bind(*args, **kwargs)
        bound.apply_defaults()
        return bound.args

    def _stage(self, args: tuple) -> tuple[list[Any], PyTreeDef, Callable, Function, list[Any],
                                           PyTreeDef]:
        """Flatten the differentiable arguments and trace ``fun`` on them.

        Returns (leaves, their tree, rebuild, fun's Function, its captured values, output
        tree); ``rebuild(leaves)`` gives the full argument tuple, nondiff arguments (held
        fixed, like static ones) back in place.
        """
        nondiff = set(self.nondiff_argnums)
        leaves, tree = tree_flatten(tuple(a for i, a in enumerate(args) if i not in nondiff))

        def rebuild(diff_leaves: Sequence) -> tuple:
            diff = iter(tree_unflatten(tree, list(diff_leaves)))
            return tuple(a if i in nondiff else next(diff) for i, a in enumerate(args))

        out_tree_box: list[PyTreeDef] = []

        def flat_fun(*tracers):
            out_leaves, out_tree = tree_flatten(self.fun(*rebuild(tracers)))
            out_tree_box.append(out_tree)
            return out_leaves

        # With the arguments' values known (eager grad), traced with them: ``if x > 0:``
        # in the function works as in JAX, and the region holds the branch taken.
        fn, consts, _ = traced_with_values(flat_fun, [aval_of(x) for x in leaves],
                                           [value_source(x) for x in leaves], self.__name__)
        return leaves, tree, rebuild, fn, consts, out_tree_box[-1]

    def _rule_key(self, which: str, args: tuple, out_tree: PyTreeDef) -> tuple:
        """What tracing a rule of this call depends on besides the operand types: the rule
        functions (current ones: defjvp may be called again), the nondiff arguments and the
        argument and output structures."""
        rules = tuple(getattr(self, n, None) for n in ("jvp", "fwd", "bwd"))
        return (self, which, rules, self._nondiff(args), tree_flatten(self._diff(args))[1],
                out_tree)

    def _diff(self, args: tuple) -> tuple:
        return tuple(a for i, a in enumerate(args) if i not in self.nondiff_argnums)

    def _nondiff(self, args: tuple) -> tuple:
        return tuple(args[i] for i in self.nondiff_argnums)


# ---------------------------------------------------------------------------------------------
# custom_jvp


class custom_jvp(_Custom):  # noqa: N801 - JAX's name
    """A function with a custom JVP rule, set with ``defjvp``."""

    jvp: Callable | None = None

    def defjvp(self, jvp: Callable, symbolic_zeros: bool = False) -> Callable:
        if symbolic_zeros:
            raise NotImplementedError("custom_jvp: symbolic_zeros=True is not supported")
        self.jvp = jvp
        return jvp

    def defjvps(self, *jvps: Callable | None) -> None:
        """One rule per argument, ``jvp_i(tangent_i, ans, *primals)``; the results add up."""

        def jvp(primals, tangents):
            ans = self(*primals)
            out = None
            for rule, t in zip(jvps, tangents):
                if rule is not None:
                    contrib = rule(t, ans, *primals)
                    out = contrib if out is None else out + contrib
            return ans, out if out is not None else ans * 0

        self.defjvp(jvp)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.jvp is None:
            raise AttributeError(f"No JVP defined for custom_jvp function {self.__name__} "
                                 "using defjvp.")
        args = self._positional(args, kwargs)
        if not trace_stack():
            return self.fun(*args)
        leaves, _, rebuild, fn, consts, out_tree = self._stage(args)
        n = len(leaves)
        out_types = [r.type for r in fn.results]

        def jvp_flat(*xs):
            primals, tangents = rebuild(xs[:n]), rebuild(xs[n:])
            what = f"Custom JVP rule {_name(self.jvp)}"
            p_out, t_out = _pair(self.jvp(*self._nondiff(args), self._diff(primals),
                                          self._diff(tangents)), what)
            p_leaves = _leaves_like(p_out, out_tree, what, out_types)
            # Tangents of integer outputs are not looked at (JAX wants float0 there).
            t_leaves = _leaves_like(t_out, out_tree, what)
            _check_types([t for t, o in zip(t_leaves, out_types) if has_tangent(o)],
                         [o for o in out_types if has_tangent(o)],
                         f"{what} must produce primal and tangent outputs with corresponding "
                         "shapes and dtypes")
            return [*p_leaves, *t_leaves]

        sources = [value_source(x) for x in leaves]
        rule = Rule(f"{self.__name__}_jvp", jvp_flat, self._rule_key("jvp", args, out_tree),
                    _name(self.jvp), lambda: sources)
        outs = bind(P.custom_jvp_call, [*consts, *leaves],
                    {"jvp": rule, "num_consts": len(consts)}, (fn,))
        return tree_unflatten(out_tree, outs)


def _custom_jvp_call_jvp(primals, tangents, *, regions, jvp, num_consts):
    # The user's rule replaces differentiation of the body. Values the function closed over
    # are constants to it, as in JAX.
    args = primals[num_consts:]
    types = [a.aval for a in args]
    fn, consts = jvp.trace(types + types)
    tangent_args = [instantiate(t, ty) for t, ty in zip(tangents[num_consts:], types)]
    outs = call_function(fn, [*consts, *args, *tangent_args])
    n = len(outs) // 2
    return outs[:n], outs[n:]


jvp_rules[P.custom_jvp_call] = _custom_jvp_call_jvp


# ---------------------------------------------------------------------------------------------
# custom_vjp


class custom_vjp(_Custom):  # noqa: N801 - JAX's name
    """A function with a custom VJP, set with ``defvjp(fwd, bwd)``."""

    fwd: Callable | None = None
    bwd: Callable | None = None

    def defvjp(self, fwd: Callable, bwd: Callable, symbolic_zeros: bool = False) -> None:
        if symbolic_zeros:
            raise NotImplementedError("custom_vjp: symbolic_zeros=True is not supported")
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.fwd is None:
            raise AttributeError(f"No VJP defined for custom_vjp function {self.__name__} "
                                 "using defvjp.")
        args = self._positional(args, kwargs)
        if not trace_stack():
            return self.fun(*args)
        leaves, diff_tree, rebuild, fn, consts, out_tree = self._stage(args)
        arg_types = [aval_of(x).strong() for x in leaves]
        res_trees: list[PyTreeDef] = []
        res_sources: list[list[ValueSource]] = []  # of the latest trace of fwd

        def fwd_flat(*xs):
            what = f"Custom VJP fwd rule {_name(self.fwd)}"
            out, res = _pair(self.fwd(*rebuild(xs)), what)
            res_leaves, res_tree = tree_flatten(res)
            res_trees.append(res_tree)
            res_sources.append([value_source(r) for r in res_leaves])
            return [*_leaves_like(out, out_tree, what), *res_leaves]

        def bwd_flat(*xs):
            num_res = len(xs) - out_tree.num_leaves
            res = tree_unflatten(res_trees[-1], xs[:num_res])
            ct = tree_unflatten(out_tree, xs[num_res:])
            cts = self.bwd(*self._nondiff(args), res, ct)
            return _bwd_leaves(_name(self.bwd), cts, diff_tree, arg_types)

        sources = [value_source(x) for x in leaves]
        params = {"fwd": Rule(f"{self.__name__}_fwd", fwd_flat,
                              self._rule_key("fwd", args, out_tree), _name(self.fwd),
                              lambda: sources),
                  # bwd's residuals have values when fwd was traced with them.
                  "bwd": Rule(f"{self.__name__}_bwd", bwd_flat,
                              self._rule_key("bwd", args, out_tree), _name(self.bwd),
                              lambda: res_sources[-1] if res_sources else None),
                  "num_consts": len(consts)}
        outs = bind(P.custom_vjp_call, [*consts, *leaves], params, (fn,))
        return tree_unflatten(out_tree, outs)


def _bwd_leaves(name: str, cts: Any, diff_tree: PyTreeDef,
                types: Sequence[TensorType]) -> list[Any]:
    """The flat cotangents bwd returned, with None entries (zero) made into zeros."""
    if not isinstance(cts, (tuple, list)):
        raise TypeError(f"Custom VJP bwd rule {name} must produce a tuple with one entry per "
                        f"differentiable argument, got {type(cts).__name__}")
    leaves, tree = tree_flatten(tuple(cts), is_leaf=lambda x: x is None)
    if len(leaves) != len(types):
        raise TypeError("Custom VJP bwd rule must produce an output with the same container "
                        "(pytree) structure as the args tuple of the primal function, "
                        f"{diff_tree}; got {tree}")
    leaves = [zeros(t) if c is None else c for c, t in zip(leaves, types)]
    _check_types(leaves, types, f"Custom VJP bwd rule {name} must produce an output with the "
                                "shapes and dtypes of the args tuple of the primal function")
    return leaves


def _custom_vjp_call_jvp(primals, tangents, *, regions, fwd, bwd, num_consts):
    # Forward: fwd gives the outputs and residuals. The tangents go into a custom_lin op,
    # linear in them, whose transpose runs bwd; evaluated forwards it is JAX's "can't apply
    # forward-mode autodiff (jvp) to a custom_vjp function".
    args = primals[num_consts:]
    fwd_fn, consts = fwd.trace([a.aval for a in args])
    fwd_out = call_function(fwd_fn, [*consts, *args])
    out_types = tuple(r.type.strong() for r in regions[0].results)
    outs, res = fwd_out[:len(out_types)], fwd_out[len(out_types):]
    # One tangent per argument (bwd returns one cotangent per argument); those of integer
    # arguments are constant zeros, which transposition ignores.
    tangent_args = [instantiate(t, a.aval.strong()) for a, t in zip(args, tangents[num_consts:])]
    touts = bind(P.custom_lin, [*res, *tangent_args],
                 {"bwd": bwd, "num_res": len(res), "out_types": out_types})
    return outs, touts


jvp_rules[P.custom_vjp_call] = _custom_vjp_call_jvp


def _custom_lin_transpose(cts, *inputs, bwd, num_res, out_types):
    res = inputs[:num_res]
    assert not any(is_linear(x) for x in res), "custom_lin is linear in its tangents only"
    fn, consts = bwd.trace([r.aval for r in res] + list(out_types))
    out_cts = [instantiate(ct, t) for ct, t in zip(cts, out_types)]
    return [None] * num_res + call_function(fn, [*consts, *res, *out_cts])


transpose_rules[P.custom_lin] = _custom_lin_transpose
