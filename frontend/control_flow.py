"""``lax`` control flow: cond, switch, while_loop, fori_loop, scan, map, associative_scan.

Each traces the user's functions into regions (closed Functions: what they read
from outside becomes explicit operands, the *consts*) and binds one ``cond``,
``while`` or ``scan`` op (ir/prims/control_flow.py). Outside any trace the op
runs at once, but it is still the same primitive, so ``make_jaxpr``, ``grad``
and ``vmap`` see it. Signatures, semantics and error messages follow JAX's.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from llax.config import config
from llax.frontend.core import Array, ConcretizationTypeError, Tracer, aval_of, bind
from llax.frontend.jnp._coerce import convert
from llax.frontend.tree_util import (
    PyTreeDef,
    keystr,
    tree_flatten,
    tree_flatten_with_path,
    tree_map,
    tree_unflatten,
)
from llax.ir import dtypes
from llax.ir import prims as P
from llax.ir.core import Function, Op, Params, Var
from llax.ir.promotion import result_type
from llax.ir.types import TensorType
from llax.transforms.staging import build_closed_function

__all__ = ["associative_scan", "cond", "fori_loop", "map_over", "scan", "switch", "while_loop"]


# ---------------------------------------------------------------------------------------------
# Tracing regions


class _Region:
    """A traced user function: its Function (consts first), the consts, its output tree."""

    def __init__(self, fn: Function, consts: list[Any], out_tree: PyTreeDef) -> None:
        self.fn = fn
        self.consts = consts
        self.out_tree = out_tree

    @property
    def out_types(self) -> tuple[TensorType, ...]:
        return self.fn.out_types


def _valid_leaf(x: Any, what: str) -> Any:
    if isinstance(x, (Array, Tracer, np.ndarray, np.generic, bool, int, float, complex)):
        return x
    raise TypeError(f"{what} returned a value of type {type(x).__name__} ({x!r}), which is not "
                    "a valid JAX type")


def _trace(fun: Callable, args: Callable[[list[Any]], tuple], in_types: Sequence[TensorType],
           name: str) -> _Region:
    """Trace ``fun(*args(leaves))`` on one tracer per input type."""
    box: list[PyTreeDef] = []

    def flat(*leaves: Any) -> list[Any]:
        out_leaves, out_tree = tree_flatten(fun(*args(list(leaves))))
        box.append(out_tree)
        return [_valid_leaf(x, name) for x in out_leaves]

    fn, consts = build_closed_function(flat, list(in_types), name)
    return _Region(fn, consts, box[0])


def _merge_consts(regions: Sequence[_Region]) -> tuple[list[Function], list[Any]]:
    """One const list for several regions (cond's branches): each region gets a parameter
    for every const, unused where it did not capture that value."""
    merged: dict[int, Any] = {}
    for r in regions:
        for c in r.consts:
            merged.setdefault(id(c), c)
    fns = []
    for r in regions:
        n = len(r.consts)
        own = {id(c): v for c, v in zip(r.consts, r.fn.params[:n])}
        params = tuple(own.get(k) or Var(aval_of(c)) for k, c in merged.items())
        fns.append(r.fn.replace(params=params + r.fn.params[n:]))
    return fns, list(merged.values())


def _with_result_types(fn: Function, types: Sequence[TensorType]) -> Function:
    """``fn`` with results that differ from ``types`` only in weak type converted to them."""
    ops, results = list(fn.ops), []
    for r, t in zip(fn.results, types, strict=True):
        if r.type != t:
            out = Var(t)
            ops.append(Op(P.convert_element_type, (r,), (out,),
                          Params(new_dtype=t.dtype, weak_type=t.weak)))
            r = out
        results.append(r)
    return fn.replace(ops=tuple(ops), results=tuple(results))


def _join_weak(a: TensorType, b: TensorType) -> TensorType:
    return a if a.weak == b.weak else a.strong()


# ---------------------------------------------------------------------------------------------
# JAX's error messages


def _fun_info(f: Callable) -> str:
    name = getattr(f, "__name__", None) or repr(f)
    try:
        file = inspect.getsourcefile(f)
        line = inspect.getsourcelines(f)[1]
    except (TypeError, OSError):
        return name
    return f"{name} at {file}:{line}"


def _capitalize(s: str) -> str:
    return s[0].upper() + s[1:]


def _short(t: TensorType) -> str:
    return f"{t.dtype.name}[{','.join(map(str, t.shape))}]"


def _mismatch(a: TensorType, b: TensorType) -> str:
    if a.dtype != b.dtype and a.shape != b.shape:
        return ", so the shapes and dtypes do not match"
    return ", so the dtypes do not match" if a.dtype != b.dtype else \
        ", so the shapes do not match"


def _node_name(tree: PyTreeDef, leaf: str) -> str:
    data = tree.node_data()
    return leaf if data is None else f"a {data[0]}"


def _structure_differences(t1: PyTreeDef, t2: PyTreeDef, path: str = "",
                           leaf: str = "a pytree leaf") -> list[tuple[str, str, str, str]]:
    """(path, what the first is, what the second is, why they differ), as JAX lists them;
    ``leaf`` is how a leaf is described."""
    d1, d2 = t1.node_data(), t2.node_data()
    if d1 is None or d2 is None or d1[0] is not d2[0]:
        if d1 is None and d2 is None:
            return []
        return [(path, _node_name(t1, leaf), _node_name(t2, leaf), "their Python types differ")]
    c1, c2 = t1.children(), t2.children()
    if d1[1] != d2[1]:
        return [(path, f"a {d1[0]}", f"a {d2[0]}",
                 f"their keys or metadata differ: {d1[1]!r} and {d2[1]!r}")]
    if len(c1) != len(c2):
        return [(path, f"a {d1[0]} of length {len(c1)}", f"a {d2[0]} of length {len(c2)}",
                 "the numbers of children differ")]
    out = []
    for k, (a, b) in enumerate(zip(c1, c2)):
        out += _structure_differences(a, b, f"{path}[{k}]", leaf)
    return out


def _listing(diffs: list[str], capitalize: bool = True) -> str:
    if len(diffs) == 1:
        return f"{_capitalize(diffs[0]) if capitalize else diffs[0]}.\n"
    return "\n".join(f"  * {d};" for d in diffs[:-1]) + f"\n  * {diffs[-1]}.\n"


def _paths(tree: PyTreeDef) -> list[str]:
    leaves, _ = tree_flatten_with_path(tree_unflatten(tree, [0] * tree.num_leaves))
    return [keystr(p) for p, _ in leaves]


def _check_branches(api: str, names: tuple[str, str], funs: tuple[Callable, Callable],
                    regions: tuple[_Region, _Region]) -> None:
    (n1, n2), (r1, r2) = names, regions
    info = f"{n1} is {_fun_info(funs[0])}\n{n2} is {_fun_info(funs[1])}\n\n"
    if r1.out_tree != r2.out_tree:
        diffs = [f"{n1} output{f' at path {p}' if p else ''} is {a} but {n2} output"
                 f"{f' at path {p}' if p else ''} is {b}, so {why}"
                 for p, a, b, why in _structure_differences(r1.out_tree, r2.out_tree)]
        raise TypeError(
            f"{api} branch outputs must have the same pytree structure, but they differ:\n\n"
            f"{info}{_listing(diffs or ['their structures differ'], capitalize=False)}\n"
            f"Revise {n1} and/or {n2} so that they have the same pytree structure.")
    diffs = [f"the output of {n1}{f' at path {p}' if p else ''} has type {_short(a)} but the "
             f"corresponding output of {n2} has type {_short(b)}{_mismatch(a, b)}"
             for p, a, b in zip(_paths(r1.out_tree), r1.out_types, r2.out_types)
             if a.strong() != b.strong()]
    if diffs:
        raise TypeError(
            f"{api} branches must have equal output types but they differ.\n\n{info}"
            f"{_listing(diffs)}\nRevise {n1} and/or {n2} so that all output types match.")


def _carry_name(fun: Callable) -> str | None:
    try:
        return next(iter(inspect.signature(fun).parameters), None)
    except (TypeError, ValueError):
        return None


def _check_carry(api: str, fun: Callable, in_tree: PyTreeDef, in_types: Sequence[TensorType],
                 out_tree: PyTreeDef, out_types: Sequence[TensorType]) -> None:
    name = _carry_name(fun)

    def component(p: str) -> str:
        if name:
            return f"the input carry component {name}{p}" if p else f"the input carry {name}"
        return f"the input carry at path {p}" if p else "the input carry"

    if in_tree != out_tree:
        diffs = [f"{component(p)} is {a} but the corresponding component of the carry output "
                 f"is {b}, so {why}"
                 for p, a, b, why in _structure_differences(in_tree, out_tree,
                                                            leaf=f"a {TensorType}")]
        raise TypeError(
            f"{api} function carry input and carry output must have the same pytree "
            f"structure, but they differ:\n\n{_listing(diffs or ['their structures differ'])}\n"
            "Revise the function so that the carry output has the same pytree structure as "
            "the carry input.")
    diffs = [f"{component(p)} has type {_short(a)} but the corresponding output carry "
             f"component has type {_short(b)}{_mismatch(a, b)}"
             for p, a, b in zip(_paths(in_tree), in_types, out_types) if a.strong() != b.strong()]
    if diffs:
        raise TypeError(
            f"{api} function carry input and carry output must have equal types, but they "
            f"differ:\n\n{_listing(diffs)}\nRevise the function so that all output types match "
            "the corresponding input types.")


# ---------------------------------------------------------------------------------------------
# cond and switch


def _as_leaves(operands: tuple) -> tuple[list[Any], PyTreeDef, list[TensorType]]:
    leaves, tree = tree_flatten(operands)
    leaves = [_valid_operand(x) for x in leaves]
    return leaves, tree, [aval_of(x) for x in leaves]


def _valid_operand(x: Any) -> Any:
    if isinstance(x, (Array, Tracer, np.ndarray, np.generic, bool, int, float, complex)):
        return x
    raise TypeError(f"Value {x!r} of type {type(x)} is not a valid JAX type")


def _bind_cond(index: Any, branches: Sequence[Callable], names: Sequence[str], api: str,
               operands: tuple) -> Any:
    leaves, tree, types = _as_leaves(operands)
    # Traced in JAX's order (cond: true_fun first), which Python side effects can see.
    order = range(len(branches)) if api == "switch" else range(len(branches) - 1, -1, -1)
    traced = {k: _trace(branches[k], lambda xs: tree_unflatten(tree, xs), types, names[k])
              for k in order}
    regions = [traced[k] for k in range(len(branches))]
    for k in range(1, len(regions)):
        pair = (0, k) if api == "switch" else (1, 0)  # cond names true_fun first
        _check_branches(api, (names[pair[0]], names[pair[1]]),
                        (branches[pair[0]], branches[pair[1]]),
                        (regions[pair[0]], regions[pair[1]]))
    out_types = list(regions[0].out_types)
    for r in regions[1:]:
        out_types = [_join_weak(a, b) for a, b in zip(out_types, r.out_types)]
    fns, consts = _merge_consts(regions)
    fns = [_with_result_types(fn, out_types) for fn in fns]
    outs = bind(P.cond, [index, *consts, *leaves], {}, tuple(fns))
    return tree_unflatten(regions[0].out_tree, outs)


def _operands(operand: Any, operands: tuple) -> tuple:
    if operand is _NO_OPERAND:
        return operands
    if operands:
        raise TypeError("if 'operand' keyword is passed then no positional operands can be "
                        f"passed, got operand={operand!r} and positional operands {operands}")
    return (operand,)


_NO_OPERAND = object()


def cond(pred: Any, true_fun: Callable, false_fun: Callable, *operands: Any,
         operand: Any = _NO_OPERAND) -> Any:
    """``true_fun(*operands)`` if ``pred`` else ``false_fun(*operands)``, as one ``cond`` op."""
    if not (callable(true_fun) and callable(false_fun)):
        raise TypeError("lax.cond: true_fun and false_fun arguments should be callable.")
    operands = _operands(operand, operands)
    if pred is None:
        raise TypeError("cond predicate is None")
    if isinstance(pred, (list, tuple)) or np.ndim(pred) != 0:
        raise TypeError(f"Pred must be a scalar, got {pred} of " + (
            f"type {type(pred)}" if isinstance(pred, (list, tuple))
            else f"shape {np.shape(pred)}."))
    try:
        dtype = aval_of(pred).dtype
    except TypeError as e:
        raise TypeError(f"Pred type must be either boolean or number, got {pred}.") from e
    if dtypes.kind(dtype) != "b":
        if dtypes.kind(dtype) not in "iuf":
            raise TypeError(f"Pred type must be either boolean or number, got {dtype}.")
    if config.jax_disable_jit:
        known = _known_value(pred)
        if known is not None:  # as JAX: Python control flow, only the taken branch runs
            return true_fun(*operands) if known else false_fun(*operands)
    if dtypes.kind(dtype) != "b":
        pred = pred != 0 if isinstance(pred, (int, float)) else _nonzero(pred)
    index = convert(pred, np.dtype(np.int32))
    return _bind_cond(index, (false_fun, true_fun), ("false_fun", "true_fun"), "cond", operands)


def _known_value(x: Any) -> np.ndarray | None:
    """``x``'s value if it is known now: a concrete array, or a tracer of a trace that knows
    its value (e.g. eager grad); None under jit or vmap."""
    if isinstance(x, Tracer):
        return x.val if x._trace.is_live() else None
    if isinstance(x, Array):
        return x._value
    return np.asarray(x)


def _nonzero(x: Any) -> Any:
    from llax.frontend import lax

    return lax.ne(x, lax.full_like(x, 0))


def switch(index: Any, branches: Sequence[Callable], *operands: Any,
           operand: Any = _NO_OPERAND) -> Any:
    """``branches[clamp(0, index, len(branches) - 1)](*operands)``, as one ``cond`` op."""
    from llax.frontend import lax

    if not all(callable(b) for b in branches):
        raise TypeError("lax.switch: branches argument should be a sequence of callables.")
    operands = _operands(operand, operands)
    if np.ndim(index) != 0:
        raise TypeError(f"Branch index must be scalar, got {index} of shape {np.shape(index)}.")
    try:
        dtype = aval_of(index).dtype
    except TypeError as e:
        raise TypeError(f"Index type must be an integer, got {index}.") from e
    if dtypes.kind(dtype) not in "iu":
        raise TypeError(f"Index type must be an integer, got {index} as {dtype}")
    branches = tuple(branches)
    if not branches:
        raise ValueError("Empty branch sequence")
    if len(branches) == 1:
        return branches[0](*operands)
    index = convert(index, np.dtype(np.int32))
    index = lax.clamp(np.int32(0), index, np.int32(len(branches) - 1))
    if config.jax_disable_jit:
        known = _known_value(index)
        if known is not None:
            return branches[int(known)](*operands)
    names = [f"branch_{k}" for k in range(len(branches))]
    return _bind_cond(index, branches, names, "switch", operands)


# ---------------------------------------------------------------------------------------------
# Loops


def _promote_weak(init: list[Any], in_types: list[TensorType],
                  out_types: Sequence[TensorType]) -> tuple[list[Any], bool]:
    """Weakly typed initial values (Python scalars) take the type the body returns for them,
    as JAX promotes them; whether any changed."""
    changed = False
    for k, (t, o) in enumerate(zip(in_types, out_types)):
        if t.weak and t.strong() != o.strong() and t.shape == o.shape:
            dt, weak = result_type((t.dtype, True), (o.dtype, o.weak))
            init[k] = convert(init[k], dt, weak)
            changed = True
    return init, changed


def while_loop(cond_fun: Callable, body_fun: Callable, init_val: Any) -> Any:
    """``while cond_fun(val): val = body_fun(val)``, as one ``while`` op."""
    if not (callable(body_fun) and callable(cond_fun)):
        raise TypeError("lax.while_loop: body_fun and cond_fun arguments should be callable.")
    if config.jax_disable_jit:
        try:
            return _python_while(cond_fun, body_fun, init_val)
        except ConcretizationTypeError:
            pass  # a value only known when traced (under vmap, say): the primitive, as JAX
    init, tree, types = _as_leaves(init_val)
    unflat = _one(tree)

    def trace_both(types: list[TensorType]) -> tuple[_Region, _Region]:
        c = _trace(cond_fun, unflat, types, "while_cond")
        b = _trace(body_fun, unflat, types, "while_body")
        if c.out_tree.num_leaves != 1 or c.out_tree.node_data() is not None:
            raise TypeError(f"cond_fun must return a boolean scalar, but got pytree "
                            f"{c.out_tree}.")
        (pt,) = c.out_types
        if pt.shape != () or pt.dtype != np.bool_:
            raise TypeError("cond_fun must return a boolean scalar, but got output type(s) "
                            f"[ShapedArray({_short(pt)})].")
        return c, b

    c, b = trace_both(types)
    if b.out_tree == tree:
        init, changed = _promote_weak(init, types, b.out_types)
        if changed:
            types = [aval_of(x) for x in init]
            c, b = trace_both(types)
    _check_carry("while_loop body", body_fun, tree, types, b.out_tree, b.out_types)
    outs = bind(P.while_loop, [*c.consts, *b.consts, *init],
                {"cond_nconsts": len(c.consts), "body_nconsts": len(b.consts)},
                (c.fn, b.fn))
    return tree_unflatten(tree, outs)


def _python_while(cond_fun: Callable, body_fun: Callable, init_val: Any) -> Any:
    """``while_loop`` under disable_jit: a Python loop, the carry made of arrays."""
    val = tree_map(_as_array, init_val)
    while cond_fun(val):
        val = tree_map(_as_array, body_fun(val))
    return val


def _as_array(x: Any) -> Any:
    from llax.frontend.jnp._coerce import as_array

    return x if isinstance(x, (Array, Tracer)) else as_array(x, "while_loop")


def _python_scan(f: Callable, init: Any, x_leaves: list[Any], x_tree: PyTreeDef, length: int,
                 reverse: bool) -> tuple[Any, Any]:
    """``scan`` under disable_jit: a Python loop over slices of ``xs``, as JAX runs it."""
    from llax.frontend import lax

    if length == 0:
        raise ValueError("zero-length scan is not supported in disable_jit() mode because "
                         "the output type is unknown.")
    carry, ys = init, []
    steps = range(length - 1, -1, -1) if reverse else range(length)
    for i in steps:
        x = tree_unflatten(x_tree, [lax.index_in_dim(v, i, keepdims=False) for v in x_leaves])
        carry, y = f(carry, x)
        ys.append(y)
    if reverse:
        ys.reverse()

    def stack(*leaves: Any) -> Any:
        return lax.concatenate([lax.expand_dims(_as_array(v), (0,)) for v in leaves], 0)

    return carry, tree_map(stack, *ys)


def _one(tree: PyTreeDef) -> Callable[[list[Any]], tuple]:
    """Arguments builder for a function of one pytree argument."""
    return lambda leaves: (tree_unflatten(tree, leaves),)


def _leading(x: Any) -> int:
    shape = np.shape(x) if not isinstance(x, (Array, Tracer)) else x.shape
    if not shape:
        raise ValueError(f"scan got value with no leading axis to scan over: {_describe(x)}")
    return shape[0]


def _describe(x: Any) -> str:
    t = aval_of(x)
    return f"{_short(t)}"


def scan(f: Callable, init: Any, xs: Any = None, length: int | None = None,
         reverse: bool = False, unroll: int | bool = 1) -> tuple[Any, Any]:
    """Loop ``carry, y = f(carry, x)`` over the leading axis of ``xs``; returns
    ``(final carry, stacked ys)``, as one ``scan`` op."""
    if not callable(f):
        raise TypeError("lax.scan: f argument should be a callable.")
    x_leaves, x_tree = tree_flatten(xs)
    x_leaves = [_valid_operand(x) for x in x_leaves]
    lengths = [_leading(x) for x in x_leaves]
    if length is not None:
        if isinstance(length, Tracer) and _known_value(length) is None:
            raise ConcretizationTypeError(length.concretization_text(
                "The `length` argument to `scan` expects a concrete `int` value. For "
                "scan-like iteration with a dynamic length, use `while_loop` or `fori_loop`."))
        try:
            length = int(length)
        except TypeError as e:
            raise TypeError(f"scan got `length` argument of {length!r}, which is not an "
                            "integer") from e
        if not all(n == length for n in lengths):
            raise ValueError(f"scan got `length` argument of {length} which disagrees with "
                             f"leading axis sizes {lengths}.")
    elif not lengths:
        raise ValueError("scan got no values to scan over and `length` not provided.")
    elif len(set(lengths)) > 1:
        raise ValueError("scan got values with different leading axis sizes: "
                         f"{', '.join(map(str, lengths))}.")
    else:
        length = lengths[0]
    if config.jax_disable_jit:
        return _python_scan(f, init, x_leaves, x_tree, length, reverse)
    unroll = _unroll(unroll, length)
    carry, c_tree, c_types = _as_leaves(init)
    x_types = [aval_of(x) for x in x_leaves]
    slice_types = [t.with_shape(t.shape[1:]) for t in x_types]
    nc = len(carry)

    def args(leaves: list[Any]) -> tuple:
        return tree_unflatten(c_tree, leaves[:nc]), tree_unflatten(x_tree, leaves[nc:])

    def body_fun(*a: Any) -> Any:
        out = f(*a)
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise TypeError(f"scan body output must be a pair, got {_out_desc(out)}.")
        return tuple(out)

    def trace(types: list[TensorType]) -> tuple[_Region, PyTreeDef, PyTreeDef]:
        r = _trace(body_fun, args, types + slice_types, "scan_body")
        carry_tree, y_tree = r.out_tree.children()
        return r, carry_tree, y_tree

    r, out_c_tree, y_tree = trace(c_types)
    if out_c_tree == c_tree:
        carry, changed = _promote_weak(carry, c_types, r.out_types[:nc])
        if changed:
            c_types = [aval_of(x) for x in carry]
            r, out_c_tree, y_tree = trace(c_types)
    _check_carry("scan body", f, c_tree, c_types, out_c_tree, r.out_types[:nc])
    outs = bind(P.scan, [*r.consts, *carry, *x_leaves],
                {"length": length, "num_consts": len(r.consts), "num_carry": nc,
                 "reverse": bool(reverse), "unroll": unroll}, (r.fn,))
    return tree_unflatten(c_tree, outs[:nc]), tree_unflatten(y_tree, outs[nc:])


def _out_desc(out: Any) -> str:
    leaves, tree = tree_flatten(out)
    if tree.node_data() is None and leaves:
        return f"~{_short(aval_of(leaves[0]))}" if isinstance(leaves[0], (Array, Tracer)) \
            else repr(out)
    return repr(out)


def _unroll(unroll: int | bool, length: int) -> int:
    if isinstance(unroll, bool):
        return max(length, 1) if unroll else 1
    unroll = int(unroll)
    if unroll < 0:
        raise ValueError("`unroll` must be a `bool` or a non-negative `int`.")
    return unroll


def fori_loop(lower: Any, upper: Any, body_fun: Callable, init_val: Any, *,
              unroll: int | bool | None = None) -> Any:
    """``for i in range(lower, upper): val = body_fun(i, val)``: a ``scan`` when the bounds
    are concrete (so reverse-mode differentiable), else a ``while``, as in JAX."""
    from llax.frontend import lax

    if not callable(body_fun):
        raise TypeError("lax.fori_loop: body_fun argument should be callable.")
    (lo_t, lo_w), (hi_t, hi_w) = (_dtype_weak(lower), _dtype_weak(upper))
    dtype = lo_t if lo_t == hi_t else None
    if dtype is None and dtypes.kind(lo_t) == "i" and dtypes.kind(hi_t) == "i":
        dtype = hi_t if lo_w and not hi_w else lo_t if hi_w and not lo_w else None
    if dtype is None:
        raise TypeError("lower and upper arguments to fori_loop must have equal types, got "
                        f"{lo_t.name} and {hi_t.name}")
    bounds = _concrete_int(lower), _concrete_int(upper)
    if None not in bounds:
        lo, hi = bounds
        if config.jax_disable_jit:
            # JAX's scan of (i + 1, body_fun(i, x)) run in Python: the counter stays a
            # Python int, and a loop of length 0 returns init_val.
            val = init_val
            for i in range(lo, hi):
                val = body_fun(i, val)
            return val
        start = convert(lo, dtype, lo_w and hi_w) if isinstance(lo, int) else lo

        def step(carry: tuple, _: Any) -> tuple:
            i, x = carry
            return (lax.add(i, convert(1, i.dtype, i.weak_type)), body_fun(i, x)), None

        (_, result), _ = scan(step, (_const(start, dtype), init_val), None,
                              length=max(hi - lo, 0),
                              unroll=1 if unroll is None or unroll is False else unroll)
        return result
    if unroll is not None and unroll is not False and unroll != 1:
        raise ValueError("Can only use `unroll` in `fori_loop` if the loop bounds are "
                         "statically known.")
    lower = lower if lo_t == dtype else convert(lower, dtype)
    upper = upper if hi_t == dtype else convert(upper, dtype)

    def cond_fun(carry: tuple) -> Any:
        i, hi, _ = carry
        return lax.lt(i, hi)

    def body(carry: tuple) -> tuple:
        i, hi, x = carry
        return lax.add(i, convert(1, i.dtype, i.weak_type)), hi, body_fun(i, x)

    return while_loop(cond_fun, body, (lower, upper, init_val))[2]


def _const(x: Any, dtype: np.dtype) -> Any:
    """A loop counter start: Python ints become strong scalars of ``dtype``."""
    if isinstance(x, int):
        return Array(np.asarray(x, dtype))
    return x


def _dtype_weak(x: Any) -> tuple[np.dtype, bool]:
    t = aval_of(x)
    return t.dtype, t.weak


def _concrete_int(x: Any) -> int | None:
    """``x`` as a Python int when its value is known now (not a tracer of jit)."""
    if isinstance(x, Tracer):
        val = x.val if x._trace.is_live() else None
        return None if val is None else int(val)
    try:
        return int(x)
    except (TypeError, ValueError):
        return None


def map_over(f: Callable, xs: Any, *, batch_size: int | None = None) -> Any:
    """``lax.map``: ``stack([f(x) for x in xs])`` over the leading axis, as a ``scan`` with no
    carry. (Named so here not to shadow the builtin ``map`` in this module.)"""
    if batch_size is not None:
        return _batched_map(f, xs, batch_size)
    _, ys = scan(lambda _, x: ((), f(x)), (), xs)
    return ys


def _batched_map(f: Callable, xs: Any, batch_size: int) -> Any:
    from llax.frontend import lax
    from llax.frontend.vmap import vmap

    leaves, tree = tree_flatten(xs)
    n = _leading(leaves[0])
    full, rest = divmod(n, batch_size)
    head = tree_map(lambda x: lax.reshape(x[:full * batch_size],
                                          (full, batch_size, *x.shape[1:])), xs)
    ys = map_over(vmap(f), head)
    ys = tree_map(lambda y: lax.reshape(y, (full * batch_size, *y.shape[2:])), ys)
    if not rest:
        return ys
    tail = vmap(f)(tree_map(lambda x: x[full * batch_size:], xs))
    return tree_map(lambda a, b: lax.concatenate([a, b], 0), ys, tail)


def associative_scan(fn: Callable, elems: Any, reverse: bool = False, axis: int = 0) -> Any:
    """Inclusive prefix combination of ``elems`` along ``axis`` by the associative ``fn``
    (the parallel odd/even scheme: about 2 log2(n) rounds of ``fn`` on halves)."""
    from llax.frontend import lax

    leaves, tree = tree_flatten(elems)
    if not leaves:
        return elems
    ndim = np.ndim(leaves[0]) if not isinstance(leaves[0], (Array, Tracer)) \
        else leaves[0].ndim
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of bounds for array of dimension {ndim}")
    axis %= ndim
    sizes = {int(np.shape(x)[axis]) if not isinstance(x, (Array, Tracer)) else x.shape[axis]
             for x in leaves}
    if len(sizes) != 1:
        raise ValueError("Array inputs to associative_scan must have the same first dimension. "
                         f"(saw: {[tuple(np.shape(x)) for x in leaves]})")
    if reverse:
        leaves = [lax.rev(x, (axis,)) for x in leaves]

    def combine(a: list[Any], b: list[Any]) -> list[Any]:
        out, out_tree = tree_flatten(fn(tree_unflatten(tree, a), tree_unflatten(tree, b)))
        if out_tree != tree:
            raise TypeError("associative_scan: fn must return a value with the same pytree "
                            f"structure as elems, {tree}; got {out_tree}")
        return out

    def take(xs: list[Any], start: int, stop: int | None, step: int) -> list[Any]:
        return [lax.slice_in_dim(x, start, stop, step, axis) for x in xs]

    def interleave(evens: list[Any], odds: list[Any]) -> list[Any]:
        return [_interleave(e, o, axis) for e, o in zip(evens, odds)]

    def scan_rec(xs: list[Any]) -> list[Any]:
        n = xs[0].shape[axis]
        if n < 2:
            return xs
        reduced = combine(take(xs, 0, -1, 2), take(xs, 1, None, 2))
        odd = scan_rec(reduced)
        if n % 2 == 0:
            even = combine(take(odd, 0, -1, 1), take(xs, 2, None, 2))
        else:
            even = combine(odd, take(xs, 2, None, 2))
        even = [lax.concatenate([lax.slice_in_dim(x, 0, 1, 1, axis), e], axis)
                for x, e in zip(xs, even)]
        return interleave(even, odd)

    out = scan_rec([_asarray(x) for x in leaves])
    if reverse:
        out = [lax.rev(x, (axis,)) for x in out]
    return tree_unflatten(tree, out)


def _asarray(x: Any) -> Any:
    from llax.frontend.jnp._coerce import as_array

    return as_array(x, "associative_scan")


def _interleave(a: Any, b: Any, axis: int) -> Any:
    """``a[0], b[0], a[1], b[1], ...`` along ``axis`` (``a`` has as many or one more)."""
    from llax.frontend import lax

    n_a, n_b = a.shape[axis], b.shape[axis]
    if n_a > n_b:
        b = lax.pad(b, lax.full((), 0, b.dtype),
                    [(0, 1, 0) if d == axis else (0, 0, 0) for d in range(b.ndim)])
    both = lax.concatenate([lax.expand_dims(a, (axis + 1,)), lax.expand_dims(b, (axis + 1,))],
                           axis + 1)
    shape = list(a.shape)
    shape[axis] = 2 * a.shape[axis]
    out = lax.reshape(both, tuple(shape))
    return lax.slice_in_dim(out, 0, n_a + n_b, 1, axis) if n_a > n_b else out
