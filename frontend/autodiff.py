"""The differentiation API: ``grad``, ``value_and_grad``, ``jvp``, ``vjp``, ``linearize``.

Each call traces the function to IR and transforms the IR (transforms/):
forward mode is ``jvp_function``; reverse mode is JVP, then partial evaluation
(known primals, unknown tangents) into a primal part and a linear part, then
the transpose of the linear part. The resulting Functions run through
``call_function``: inlined into the enclosing trace (so ``jit(grad(f))`` and
``grad(grad(f))`` compose) or evaluated when no trace is active. Jacobians, built
from these and vmap, are in jacobians.py.

Outside jit, the inputs' values are known while tracing (a concrete trace), so
Python control flow on them works and ``grad(f)`` retraces each call, as in JAX.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from llax.frontend.compile import HotFunction
from llax.frontend.core import Array, Trace, Tracer, aval_of, concrete_value, is_array_like
from llax.frontend.float0 import float0  # noqa: F401  (imported from here elsewhere)
from llax.frontend.jnp._coerce import convert
from llax.frontend.tree_util import (
    PyTreeDef,
    tree_flatten,
    tree_leaves,
    tree_unflatten,
    users_is_leaf,
)
from llax.frontend.validation import check_output_leaves
from llax.ir import dtypes
from llax.ir.core import Function
from llax.ir.structure import structure_key
from llax.ir.types import TensorType
from llax.passes.dce import eliminate_dead_code
from llax.passes.manager import run_pipeline
from llax.transforms import control_flow_ad as _control_flow_ad  # noqa: F401
from llax.transforms import jvp_rules as _jvp_rules  # noqa: F401  (registers the rules)
from llax.transforms import transpose_rules as _transpose_rules  # noqa: F401
from llax.transforms.jvp import has_tangent, jvp_function
from llax.transforms.partial_eval import partial_eval
from llax.transforms.staging import build_closed_function, call_function
from llax.transforms.transpose import transpose_function

# ---------------------------------------------------------------------------------------------
# Tracing a function of flat leaves


_AUX_ARRAY = object()  # stands for an array leaf of the aux output, which fn computes


@dataclass
class Traced:
    """``fn(*captured, *leaves) -> out leaves`` and how to read its outputs."""

    fn: Function
    captured: list[Any]
    out_tree: PyTreeDef
    aux_tree: PyTreeDef | None = None
    num_aux: int = 0
    # The aux output's leaves, with _AUX_ARRAY for those fn computes (after the outputs);
    # the others (strings, any Python object) are handed back as they are, as in JAX.
    aux_leaves: list[Any] | None = None

    @property
    def num_out(self) -> int:
        """Outputs that are differentiated (the aux outputs, if any, come after them)."""
        return len(self.fn.results) - self.num_aux

    def aux(self, values: Sequence[Any]) -> Any:
        """The aux output, its computed leaves being ``values``."""
        computed = iter(values)
        return tree_unflatten(self.aux_tree, [next(computed) if x is _AUX_ARRAY else x
                                              for x in self.aux_leaves])


def _knows_value(x: Any) -> bool:
    return not isinstance(x, Tracer) or (x._trace.concrete and x.val is not None)


def trace_flat(fun: Callable, leaves: Sequence[Any], name: str, has_aux: bool = False, *,
               traced_for: str = "grad", user_fun: Callable | None = None) -> Traced:
    """Trace ``fun`` (taking the flat leaves) with values when all leaves have them.

    Errors about its outputs name ``user_fun`` (the function ``fun`` wraps, if any) and
    the API ``traced_for``.
    """
    types = [aval_of(x) for x in leaves]
    concrete = all(_knows_value(x) for x in leaves)
    t = Trace(name, concrete=concrete)
    with t:
        tracers = [t.new_param(ty, "", concrete_value(x)[0] if concrete else None)
                   for ty, x in zip(types, leaves)]
        out = fun(*tracers)
    aux_leaves, aux_tree, aux_arrays = None, None, []
    if has_aux:
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise TypeError("expected function with aux output to return a two-element tuple, "
                            f"but got type {type(out)} with value {out!r}")
        out, aux = out
        aux_leaves, aux_tree = tree_flatten(aux)
        aux_arrays = [x for x in aux_leaves if is_array_like(x)]
        aux_leaves = [_AUX_ARRAY if is_array_like(x) else x for x in aux_leaves]
    out_leaves, out_tree = tree_flatten(out)
    check_output_leaves(user_fun or fun, traced_for, out, out_leaves)
    fn, captured = t.finish(out_leaves + aux_arrays)
    return Traced(fn, captured, out_tree, aux_tree, len(aux_arrays), aux_leaves)


def _check_leaf(x: Any) -> Any:
    if isinstance(x, (Array, Tracer, np.ndarray, np.generic, bool, int, float, complex)):
        return x
    raise TypeError(f"Argument {x!r} of type {type(x)} is not a valid JAX type.")


def _dtype_without_tangent(args: Sequence[Any], picked: Sequence[int]) -> str:
    """The dtype, as users see it, of the first differentiated leaf that has no tangent (a
    typed PRNG key shows as ``key<fry>``, not as its uint32 data)."""
    for leaf in tree_leaves(tuple(args[i] for i in picked), users_is_leaf(None)):
        if isinstance(leaf, (Array, Tracer, np.ndarray, np.generic, bool, int, float, complex)):
            if not has_tangent(aval_of(leaf)):
                return aval_of(leaf).dtype.name
        else:
            return str(getattr(leaf, "dtype", type(leaf).__name__))
    raise AssertionError("some leaf has no tangent")


def _flatten_args(args: Sequence[Any]) -> tuple[list[Any], PyTreeDef]:
    leaves, tree = tree_flatten(tuple(args))
    return [_check_leaf(x) for x in leaves], tree


def _restore_weak(ct: Any, like: TensorType) -> Any:
    """A cotangent as the backward pass computed it, weak flag included: as in JAX, that
    flag follows the ops (the transpose of a weak-to-strong conversion converts back), so
    ``grad(lambda x: x * 2.0)(1.0)`` is weak but ``grad(lambda x: x ** 2.5)(2.0)`` is not.
    Only the dtype is the primal's."""
    if ct.dtype == like.dtype:
        return ct
    return convert(ct, like.dtype, aval_of(ct).weak)


def _float0_zeros(type: TensorType) -> np.ndarray:
    return np.zeros(type.shape, dtype=float0)


def _input_cotangents(cts: Sequence[Any], diff: Sequence[bool],
                      types: Sequence[TensorType]) -> list[Any]:
    """One cotangent per input leaf: the computed ones (for the differentiated leaves, in
    order) with their primal's weak flag, float0 zeros for the others."""
    given = iter(cts)
    return [_restore_weak(next(given), t) if d else _float0_zeros(t)
            for d, t in zip(diff, types)]


# ---------------------------------------------------------------------------------------------
# Linearization: the shared core of vjp, grad and linearize


@dataclass(frozen=True)
class LinearProgram:
    """A traced function split for reverse mode.

    ``known(*consts, *captured, *leaves) -> (*outs, *residuals)`` computes the primal
    outputs; ``staged(*residuals, *tangents) -> out tangents`` is linear in the tangents
    (one per differentiated leaf) and is what gets transposed.
    """

    known: Function
    staged: Function
    consts: list[Any]
    num_outs: int
    # The types of the differentiated outputs: their cotangents have these weak flags (the
    # tangents' may differ: x ** 2.5 is weak for a weak x, its tangent strong).
    out_types: tuple[TensorType, ...] = ()

    @property
    def num_residuals(self) -> int:
        return len(self.known.results) - self.num_outs

    def transposed(self) -> tuple[Function, list[Any]]:
        """``(bwd, consts)``: ``bwd(*consts, *residuals, *out cotangents)`` gives the
        cotangents of the differentiated leaves."""
        n_res = self.num_residuals
        bwd, consts = transpose_function(
            self.staged, [False] * n_res + [True] * (len(self.staged.params) - n_res),
            self.out_types or None)
        return eliminate_dead_code(bwd), consts


def linear_program(fn: Function, diff: Sequence[bool], num_out: int) -> LinearProgram:
    """The JVP of ``fn`` for its params flagged in ``diff``, split into its primal part and
    its linear part (the tangents of the first ``num_out`` results)."""
    jfn, consts = jvp_function(fn, diff)
    n = len(fn.results)
    # Keep every primal result, but only the tangents of the differentiated ones.
    jfn = jfn.replace(results=jfn.results[:n + num_out])
    staged_results = [False] * n + [True] * num_out
    split = partial_eval(jfn, [False] * (len(consts) + len(fn.params)) + [True] * sum(diff),
                         staged_results)
    return LinearProgram(eliminate_dead_code(split.known), eliminate_dead_code(split.staged),
                         consts, n, fn.out_types[:num_out])


# The gradient programs of recently seen traced functions, by structure. Outside jit every
# grad call retraces (as in JAX); the transformation is then reused whenever the trace comes
# out the same, and after a few uses it runs as native code (HotFunction), which is what
# makes an unjitted training loop cheap.
# Threads: a lookup is a plain dict read. Threads missing the same key at once each build
# the program (milliseconds), but the store, under the lock, keeps the first one and hands
# it to the others, so they share one HotFunction and it is compiled once. The eviction of
# the oldest entry, a check-then-act, happens under the lock too.
_GRAD_PROGRAMS: dict[Any, tuple[HotFunction, list[Any]]] = {}
_MAX_GRAD_PROGRAMS = 256
_GRAD_PROGRAMS_LOCK = threading.Lock()


def grad_program(fn: Function, diff: Sequence[bool], num_out: int = 1
                 ) -> tuple[HotFunction, list[Any]]:
    """``(grad_fn, consts)``: ``grad_fn(*consts, *params) -> (*results, *gradients)``, the
    gradient of ``fn``'s scalar first result with respect to the params flagged in ``diff``
    (results past ``num_out`` are auxiliary: not differentiated). ``grad_fn.fn`` is the
    optimised (simplified, deduplicated, dead-code-free) Function."""
    key = (structure_key(fn), tuple(diff), num_out)
    hit = _GRAD_PROGRAMS.get(key)
    if hit is not None:
        return hit
    prog = linear_program(fn, diff, num_out)
    bwd, bwd_consts = prog.transposed()
    out_type = fn.results[0].type

    def body(*args):
        known = call_function(prog.known, [*prog.consts, *args])
        one = Array(np.ones((), out_type.dtype), out_type.weak)  # a literal, of the output type
        return [*known[:prog.num_outs],
                *call_function(bwd, [*bwd_consts, *known[prog.num_outs:], one])]

    grad_fn, consts = build_closed_function(body, fn.in_types, f"grad_{fn.name}")
    result = (HotFunction(run_pipeline(grad_fn, "simplify,cse,dce")), consts)
    if not consts:  # constants would be stale next time
        with _GRAD_PROGRAMS_LOCK:
            stored = _GRAD_PROGRAMS.get(key)
            if stored is not None:  # another thread's, built meanwhile
                return stored
            if len(_GRAD_PROGRAMS) >= _MAX_GRAD_PROGRAMS:
                del _GRAD_PROGRAMS[next(iter(_GRAD_PROGRAMS))]  # the oldest
            _GRAD_PROGRAMS[key] = result
    return result


# ---------------------------------------------------------------------------------------------
# vjp / grad / value_and_grad


@dataclass
class _Linearized:
    """``fun`` traced on flat primals, its primal outputs computed, its linear part kept."""

    types: list[TensorType]  # of the primal leaves
    in_tree: PyTreeDef
    diff: list[bool]  # which primal leaves are differentiated (the inexact ones)
    traced: Traced
    prog: LinearProgram
    outs: list[Any]  # every primal output, aux ones last
    residuals: list[Any]

    def returned(self, f: Callable) -> tuple:
        """``(out, f)`` or, with aux outputs, ``(out, f, aux)``: what vjp/linearize return."""
        traced = self.traced
        out = tree_unflatten(traced.out_tree, self.outs[:traced.num_out])
        if traced.aux_tree is not None:
            return out, f, traced.aux(self.outs[traced.num_out:])
        return out, f


def _linearize_flat(fun: Callable, primals: Sequence[Any], has_aux: bool,
                    traced_for: str) -> _Linearized:
    leaves, in_tree = _flatten_args(primals)
    types = [aval_of(x) for x in leaves]
    traced = trace_flat(_flat_fun(fun, in_tree), leaves, _name(fun), has_aux,
                        traced_for=traced_for, user_fun=fun)
    diff = [has_tangent(t) for t in types]
    prog = linear_program(traced.fn, [False] * len(traced.captured) + diff, traced.num_out)
    known = call_function(prog.known, [*prog.consts, *traced.captured, *leaves])
    return _Linearized(types, in_tree, diff, traced, prog, known[:prog.num_outs],
                       known[prog.num_outs:])


def vjp(fun: Callable, *primals: Any, has_aux: bool = False) -> tuple:
    """``(fun(*primals), f_vjp)``, where ``f_vjp(ct)`` returns one cotangent per primal."""
    lin = _linearize_flat(fun, primals, has_aux, "vjp")
    traced = lin.traced
    out_types = [r.type for r in traced.fn.results[:traced.num_out]]
    bwd = None

    def f_vjp(ct: Any) -> tuple:
        nonlocal bwd
        ct_leaves, ct_tree = tree_flatten(ct)
        if ct_tree != traced.out_tree:
            raise ValueError(
                "unexpected tree structure of the argument to the VJP function returned by "
                f"vjp: expected {traced.out_tree}, got {ct_tree}")
        for c, t in zip(ct_leaves, out_types):
            if not has_tangent(t):  # its cotangent (float0 in JAX) is ignored
                continue
            ct_type = aval_of(_check_leaf(c))
            if ct_type.shape != t.shape or ct_type.dtype != t.dtype:
                raise ValueError(
                    "unexpected JAX type (e.g. shape/dtype) for argument to VJP function: got "
                    f"{_jax_type(ct_type)}, but expected {_jax_type(t)} because the "
                    "corresponding output of the differentiated function had JAX type "
                    f"{_jax_type(t)}")
        if bwd is None:
            bwd = lin.prog.transposed()
        # Integer outputs have float0 cotangents; the transposed function ignores them.
        ct_leaves = [c if has_tangent(t) else Array(np.zeros(t.shape, t.dtype))
                     for c, t in zip(ct_leaves, out_types)]
        bwd_fn, bwd_consts = bwd
        cts = call_function(bwd_fn, [*bwd_consts, *lin.residuals, *ct_leaves])
        return tuple(tree_unflatten(lin.in_tree, _input_cotangents(cts, lin.diff, lin.types)))

    return lin.returned(f_vjp)


def _jax_type(t: TensorType) -> str:
    return f"{t.dtype.name}[{','.join(map(str, t.shape))}]"


def _name(fun: Callable) -> str:
    return getattr(fun, "__name__", type(fun).__name__)


def _flat_fun(fun: Callable, in_tree: PyTreeDef) -> Callable:
    def flat(*leaves):
        return fun(*tree_unflatten(in_tree, leaves))

    return flat


def _leaf_function(fun: Callable, args: tuple, kwargs: dict, picked: list[int],
                   single: bool, in_tree: PyTreeDef) -> Callable:
    """``fun`` as a function of the flat leaves of the arguments at ``picked`` (whose tree is
    ``in_tree``: of the one argument if ``single``, else of the list of them)."""

    @functools.wraps(fun)  # errors name the user's function, not this wrapper
    def f(*leaves):
        dyn = tree_unflatten(in_tree, leaves)
        full = list(args)
        for i, a in zip(picked, [dyn] if single else dyn):
            full[i] = a
        return fun(*full, **kwargs)

    return f


def _check_argnums(nums: tuple[int, ...], n_args: int) -> None:
    for i in nums:  # JAX's wording
        if not -n_args <= i < n_args:
            raise ValueError(
                "Positional argument indices, e.g. for `static_argnums`, must have value "
                "greater than or equal to -len(args) and less than len(args), but got value "
                f"{i} for len(args) == {n_args}.")


def _argnums_tuple(argnums: int | Sequence[int]) -> tuple[int, ...]:
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def value_and_grad(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
                   holomorphic: bool = False, allow_int: bool = False) -> Callable:
    """``(fun(*args), gradient)`` with respect to the ``argnums`` arguments (pytrees)."""
    nums = _argnums_tuple(argnums)

    @functools.wraps(fun)
    def value_and_grad_f(*args, **kwargs):
        for i in nums:
            if i >= len(args):
                raise TypeError(
                    f"differentiating with respect to argnums={argnums} requires at least "
                    f"{max(nums) + 1} positional arguments to be passed by the caller, but got "
                    f"only {len(args)} positional arguments.")
        _check_argnums(nums, len(args))
        picked = [i % len(args) for i in nums]
        leaves, in_tree = _flatten_args([args[i] for i in picked])
        types = [aval_of(x) for x in leaves]
        if holomorphic:
            check_holomorphic_inputs("grad", types)
        if not allow_int and not all(map(has_tangent, types)):
            raise TypeError(
                "grad requires real- or complex-valued inputs (input dtype that is a "
                f"sub-dtype of np.inexact), but got {_dtype_without_tangent(args, picked)}. If "
                "you want to use Boolean- or integer-valued inputs, use vjp or set allow_int "
                "to True.")

        f = _leaf_function(fun, args, kwargs, picked, False, in_tree)
        traced = trace_flat(f, leaves, _name(fun), has_aux, user_fun=fun)
        out_types = [r.type for r in traced.fn.results[:traced.num_out]]
        if not traced.out_tree.num_leaves:  # None, (), {}: shown as they are, as in JAX
            raise TypeError("Gradient only defined for scalar-output functions. Output was "
                            f"{tree_unflatten(traced.out_tree, [])!r}.")
        if traced.out_tree.num_nodes != 1:  # not a bare array (a tuple holding one, say)
            raise TypeError("Gradient only defined for scalar-output functions. Output was "
                            f"a pytree of structure {traced.out_tree}.")
        if out_types[0].shape != ():
            raise TypeError("Gradient only defined for scalar-output functions. Output had "
                            f"shape: {out_types[0].shape}.")
        check_output_dtype("grad", out_types[0].dtype, holomorphic)
        diff = [has_tangent(t) for t in types]
        program, consts = grad_program(traced.fn, [False] * len(traced.captured) + diff,
                                       traced.num_out)
        results = program([*consts, *traced.captured, *leaves])
        n = len(traced.fn.results)
        grads = tree_unflatten(in_tree, _input_cotangents(results[n:], diff, types))
        g = grads[0] if isinstance(argnums, int) else tuple(grads)
        value = results[0]
        if has_aux:
            return (value, traced.aux(results[1:n])), g
        return value, g

    return value_and_grad_f


def check_holomorphic_inputs(name: str, types: Sequence[Any]) -> None:
    """JAX's TypeError for a non-complex input under ``holomorphic=True``."""
    for t in types:
        if not dtypes.is_complex(t.dtype):
            raise TypeError(f"{name} with holomorphic=True requires inputs with complex dtype, "
                            f"but got {t.dtype.name}.")


def check_output_dtype(name: str, dtype: np.dtype, holomorphic: bool) -> None:
    """JAX's TypeError for an output reverse mode (or holomorphic forward mode) cannot seed:
    complex outputs need ``holomorphic=True``, which in turn needs them."""
    if holomorphic:
        if not dtypes.is_complex(dtype):
            raise TypeError(f"{name} with holomorphic=True requires outputs with complex "
                            f"dtype, but got {dtype.name}.")
        return
    if dtypes.is_complex(dtype):
        raise TypeError(
            f"{name} requires real-valued outputs (output dtype that is a sub-dtype of "
            f"np.floating), but got {dtype.name}. For holomorphic differentiation, pass "
            "holomorphic=True. For differentiation of non-holomorphic functions involving "
            "complex outputs, use jax.vjp directly.")
    if not dtypes.is_float(dtype):
        raise TypeError(
            f"{name} requires real-valued outputs (output dtype that is a sub-dtype of "
            f"np.floating), but got {dtype.name}. For differentiation of functions with "
            "integer outputs, use jax.vjp directly.")


def grad(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
         holomorphic: bool = False, allow_int: bool = False) -> Callable:
    """The gradient of scalar-valued ``fun`` with respect to the ``argnums`` arguments."""
    vg = value_and_grad(fun, argnums, has_aux, holomorphic, allow_int)

    @functools.wraps(fun)
    def grad_f(*args, **kwargs):
        (value_or_pair, g) = vg(*args, **kwargs)
        return (g, value_or_pair[1]) if has_aux else g

    return grad_f


# ---------------------------------------------------------------------------------------------
# jvp / linearize


def _check_primals_tangents(primals: Any, tangents: Any) -> tuple[list, list, PyTreeDef]:
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("primal and tangent arguments to jax.jvp must be tuples or lists; "
                        f"found {type(primals).__name__} and {type(tangents).__name__}.")
    p_leaves, p_tree = _flatten_args(primals)
    t_leaves, t_tree = tree_flatten(tuple(tangents))
    if p_tree != t_tree:
        raise TypeError("primal and tangent arguments to jax.jvp must have the same tree "
                        f"structure; primals have tree structure {p_tree} whereas tangents have "
                        f"tree structure {t_tree}.")
    for p, t in zip(p_leaves, t_leaves):
        pt = aval_of(p)
        t_shape, t_dtype = np.shape(t), getattr(t, "dtype", None)
        if t_dtype != float0:  # float0 arrays are NumPy's, with no llax type
            tt = aval_of(_check_leaf(t))
            t_shape, t_dtype = tt.shape, tt.dtype
        if pt.shape != t_shape:
            raise ValueError("jvp called with different primal and tangent shapes;"
                             f"Got primal shape {pt.shape} and tangent shape as {t_shape}")
        expected = pt.dtype if has_tangent(pt) else float0
        if t_dtype != expected:
            raise TypeError(
                "primal and tangent arguments to jax.jvp do not match; dtypes must be equal, "
                "or in case of int/bool primal dtype the tangent dtype must be float0."
                f"Got primal dtype {pt.dtype.name} and so expected tangent dtype "
                f"{_dtype_name(expected)}, but got tangent dtype {_dtype_name(t_dtype)} "
                "instead.")
    return p_leaves, t_leaves, p_tree


def _dtype_name(dtype: np.dtype) -> str:
    return str(dtype) if dtype == float0 else dtype.name  # JAX prints float0's record type


def jvp(fun: Callable, primals: Sequence[Any], tangents: Sequence[Any],
        has_aux: bool = False) -> tuple:
    """``(fun(*primals), the directional derivative of fun along tangents)``."""
    p_leaves, t_leaves, in_tree = _check_primals_tangents(primals, tangents)
    traced = trace_flat(_flat_fun(fun, in_tree), p_leaves, _name(fun), has_aux,
                        traced_for="jvp", user_fun=fun)
    diff = [has_tangent(aval_of(p)) for p in p_leaves]
    jfn, consts = jvp_function(traced.fn, [False] * len(traced.captured) + diff)
    outs = call_function(eliminate_dead_code(jfn), [*consts, *traced.captured, *p_leaves,
                               *(t for t, d in zip(t_leaves, diff) if d)])
    n = len(traced.fn.results)
    primal_out, tangent_out = outs[:n], outs[n:]
    out_types = [r.type for r in traced.fn.results]
    tangent_out = [t if has_tangent(ty) else _float0_zeros(ty)
                   for t, ty in zip(tangent_out, out_types)]
    k = traced.num_out
    result = (tree_unflatten(traced.out_tree, primal_out[:k]),
              tree_unflatten(traced.out_tree, tangent_out[:k]))
    if has_aux:
        return (*result, traced.aux(primal_out[k:]))
    return result


def linearize(fun: Callable, *primals: Any, has_aux: bool = False) -> tuple:
    """``(fun(*primals), f_jvp)`` where ``f_jvp(*tangents)`` evaluates the linear map only."""
    lin = _linearize_flat(fun, primals, has_aux, "linearize")

    def f_jvp(*tangents: Any) -> Any:
        _, t_leaves, _ = _check_primals_tangents(primals, tangents)
        out_tangents = call_function(lin.prog.staged, [
            *lin.residuals, *(t for t, d in zip(t_leaves, lin.diff) if d)])
        return tree_unflatten(lin.traced.out_tree, out_tangents)

    return lin.returned(f_jvp)
