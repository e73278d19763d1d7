"""Every primitive's batching rule against the definition of vmap: stacking per-example results.

For each primitive, a table of example signatures (shapes per example, params,
operand values) is batched with every operand mapped along axis 0, 1 or -1, or
not mapped (in_axes None), one operand at a time; the batched result must equal
``np.stack`` of the primitive's NumPy reference implementation applied to each
example. Each combination is checked three ways:

- the batched Function itself (``batch_function``): verified, evaluated by the
  NumPy interpreter, its reported output batch dims honoured;
- ``llax.vmap`` eagerly;
- ``llax.jit(llax.vmap(...))``, the primitive's combinations compiled as one
  function. Compiling costs ~25 ms per kernel, so this pass takes the first
  signature (in its first accepted dtype) with every mapping pattern, and each
  other signature with one pattern (the mixed one).

Dtypes float32, int32 and bool are tried for every signature and kept where the
primitive accepts them. The registry walk at the end fails for a primitive with
no test here (or a named test elsewhere).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

import llax
from llax.frontend.core import bind
from llax.ir import prims as P
from llax.ir.core import Function, Op, Params, Var
from llax.ir.interpreter import evaluate_function
from llax.ir.parser import parse_function
from llax.ir.primitive import PRIMITIVES, infer_types
from llax.ir.prims.indexing import GatherDimensionNumbers as GDN
from llax.ir.prims.indexing import GatherScatterMode as Mode
from llax.ir.prims.indexing import ScatterDimensionNumbers as SDN
from llax.ir.types import TensorType
from llax.ir.verifier import verify
from llax.transforms.batching import batch_function, never_batched

F32, I32, BOOL = np.dtype(np.float32), np.dtype(np.int32), np.dtype(np.bool_)
ALL = (F32, I32, BOOL)
B = 3  # batch size
T = None  # "the dtype under test" in a signature


# ---------------------------------------------------------------------------------------------
# Signatures


Values = Callable[[np.random.Generator, tuple[int, ...], np.dtype], np.ndarray]


def default_values(rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype):
    if dtype == BOOL:
        return rng.random(shape) < 0.5
    if dtype.kind == "f":
        return rng.uniform(-2, 2, shape).astype(dtype)
    return rng.integers(1, 6, shape).astype(dtype)  # no zero divisors, no negative shifts


def ints(low: int, high: int) -> Values:
    return lambda rng, shape, dtype: rng.integers(low, high + 1, shape).astype(dtype)


def distinct(low: int, high: int) -> Values:
    """Index vectors with distinct entries (so a scatter's result is well defined)."""
    def gen(rng, shape, dtype):
        n = int(np.prod(shape))
        return rng.choice(np.arange(low, high + 1), n, replace=False).reshape(shape).astype(dtype)

    return gen


@dataclass
class Sig:
    """One example signature: ``(shape, dtype or T)`` per operand, params, value makers."""

    operands: list[tuple[tuple[int, ...], Any]]
    params: dict = field(default_factory=dict)
    dtypes: tuple = ALL
    values: dict[int, Values] = field(default_factory=dict)
    regions: tuple[Function, ...] = ()

    def types(self, dtype: np.dtype) -> list[TensorType]:
        return [TensorType(s, dtype if d is T else d) for s, d in self.operands]


def sig(*operands, dtypes=ALL, values=None, regions=(), **params) -> Sig:
    return Sig(list(operands), params, dtypes, values or {}, regions)


M = (4, 5)  # the example shape of most signatures
UNARY = ("neg sign abs exp exp2 log log1p expm1 tanh logistic sin cos tan asin acos atan sinh "
         "cosh asinh acosh atanh sqrt rsqrt cbrt floor ceil erf erfc is_finite not "
         "population_count square stop_gradient").split()
BINARY = ("add sub mul div rem max min pow atan2 nextafter and or xor shift_left "
          "shift_right_logical shift_right_arithmetic eq ne lt le gt ge").split()
REDUCTIONS = "reduce_sum reduce_prod reduce_max reduce_min reduce_and reduce_or reduce_xor".split()

CASES: dict[str, list[Sig]] = {}
for _n in UNARY:
    CASES[_n] = [sig((M, T)), sig(((), T))]
CASES["erf_inv"] = [sig((M, T), values={0: lambda r, s, d: r.uniform(-0.9, 0.9, s).astype(d)})]
for _n in BINARY:
    CASES[_n] = [sig((M, T), (M, T)), sig((M, T), ((), T)), sig(((), T), (M, T)),
                 sig(((), T), ((), T))]
CASES["fma"] = [sig((M, T), (M, T), (M, T), dtypes=(F32,)),
               sig(((), T), (M, T), ((), T), dtypes=(F32,)),
               sig(((), T), ((), T), ((), T), dtypes=(F32,))]
CASES["integer_pow"] = [sig((M, T), y=3), sig((M, T), dtypes=(F32,), y=-2)]
CASES["round"] = [sig((M, T), rounding_method=0), sig((M, T), rounding_method=1)]
CASES["bitcast_convert_type"] = [sig((M, F32), dtypes=(F32,), new_dtype=np.dtype(np.int32)),
                                 sig((M, I32), dtypes=(I32,), new_dtype=np.dtype(np.float32))]
CASES["convert_element_type"] = [sig((M, T), new_dtype=d, weak_type=False) for d in ALL]
CASES["select_n"] = [
    sig((M, BOOL), (M, T), (M, T)), sig(((), BOOL), (M, T), (M, T)),
    sig(((), BOOL), ((), T), ((), T)),
    sig((M, I32), (M, T), (M, T), (M, T), values={0: ints(0, 2)}),
]
U32 = np.dtype(np.uint32)
CASES["threefry2x32"] = [sig(((), T), ((), T), (M, T), (M, T), dtypes=(U32,)),
                         sig((M, T), (M, T), (M, T), (M, T), dtypes=(U32,)),
                         sig(((), T), (M, T), ((), T), ((), T), dtypes=(U32,))]
CASES["clamp"] = [sig(((), T), (M, T), ((), T)), sig((M, T), (M, T), (M, T)),
                  sig(((), T), ((), T), ((), T))]

CASES["broadcast_in_dim"] = [
    sig(((4, 1), T), shape=(3, 4, 5), broadcast_dimensions=(1, 2)),
    sig(((), T), shape=(2, 3), broadcast_dimensions=()),
    sig(((4,), T), shape=(4, 6), broadcast_dimensions=(0,)),
    sig(((5,), T), shape=(4, 5), broadcast_dimensions=(1,)),
]
CASES["reshape"] = [sig((M, T), new_sizes=(20,), dimensions=None),
                    sig((M, T), new_sizes=(5, 2, 2), dimensions=None),
                    sig(((), T), new_sizes=(1, 1), dimensions=None)]
CASES["transpose"] = [sig(((4, 5, 2), T), permutation=(2, 0, 1)),
                      sig((M, T), permutation=(1, 0))]
CASES["squeeze"] = [sig(((4, 1, 5), T), dimensions=(1,)), sig(((1,), T), dimensions=(0,))]
CASES["rev"] = [sig((M, T), dimensions=(0,)), sig((M, T), dimensions=(0, 1))]
CASES["slice"] = [sig(((6, 5), T), start_indices=(1, 0), limit_indices=(5, 5), strides=(2, 1)),
                  sig(((6, 5), T), start_indices=(0, 1), limit_indices=(3, 4), strides=None)]
CASES["concatenate"] = [sig(((4, 2), T), ((4, 3), T), ((4, 1), T), dimension=1),
                        sig(((2, 3), T), ((4, 3), T), dimension=0)]
CASES["pad"] = [sig((M, T), ((), T), padding_config=((1, 2, 1), (0, -1, 0))),
                sig(((3,), T), ((), T), padding_config=((2, 0, 0),))]

_START = ints(-2, 8)  # clamped when out of range
CASES["dynamic_slice"] = [
    sig(((6, 5), T), ((), I32), ((), I32), values={1: _START, 2: _START}, slice_sizes=(3, 2)),
    sig(((7,), T), ((), I32), values={1: _START}, slice_sizes=(4,)),
]
CASES["dynamic_update_slice"] = [
    sig(((6, 5), T), ((3, 2), T), ((), I32), ((), I32), values={2: _START, 3: _START}),
    sig(((7,), T), ((2,), T), ((), I32), values={2: _START}),
]

for _n in REDUCTIONS:
    CASES[_n] = [sig(((4, 5, 3), T), axes=(1,)), sig(((4, 5, 3), T), axes=(0, 2)),
                 sig((M, T), axes=())]
for _n in ("argmax", "argmin"):
    CASES[_n] = [sig((M, T), axes=(1,), index_dtype=I32),
                 sig((M, T), axes=(0,), index_dtype=I32)]


# sort: batch axis before, after and at the sorted dimension's position; several keys,
# values of another dtype. Small integers and bools repeat, so stability is exercised.
CASES["sort"] = [
    sig((M, T), dimension=1, is_stable=True, num_keys=1),
    sig((M, T), dimension=0, is_stable=False, num_keys=1),
    sig((M, T), (M, T), dimension=1, is_stable=True, num_keys=2),
    sig((M, T), (M, I32), dimension=0, is_stable=True, num_keys=1),
]


def _dot(lhs, rhs, contract, batch=((), ())) -> Sig:
    return sig((lhs, T), (rhs, T), dtypes=(F32, I32), dimension_numbers=(contract, batch),
               precision=None, preferred_element_type=None)


CASES["dot_general"] = [
    _dot((4, 5), (5, 3), ((1,), (0,))),  # matmul
    _dot((4, 5), (5,), ((1,), (0,))),  # matrix-vector
    _dot((5,), (5, 3), ((0,), (0,))),  # vector-matrix
    _dot((5,), (5,), ((0,), (0,))),  # inner product
    _dot((4,), (3,), ((), ())),  # outer product
    _dot((2, 4, 5), (2, 5, 3), ((2,), (1,)), ((0,), (0,))),  # batched matmul
]

_ROWS = GDN(offset_dims=(1,), collapsed_slice_dims=(0,), start_index_map=(0,))
CASES["gather"] = [
    sig(((5, 4), T), ((3, 1), I32), values={1: ints(-1, 6)}, dimension_numbers=_ROWS,
        slice_sizes=(1, 4), mode=mode, fill_value=None, indices_are_sorted=False,
        unique_indices=False)
    for mode in (Mode.CLIP, Mode.FILL_OR_DROP)
] + [
    sig(((5, 4), T), ((3, 1), I32), values={1: ints(0, 4)}, dimension_numbers=_ROWS,
        slice_sizes=(1, 4), mode=Mode.PROMISE_IN_BOUNDS, fill_value=None,
        indices_are_sorted=False, unique_indices=False),
    sig(((5, 4), T), ((3, 2), I32), values={1: ints(0, 3)},
        dimension_numbers=GDN((), (0, 1), (0, 1)), slice_sizes=(1, 1), mode=Mode.CLIP,
        fill_value=None, indices_are_sorted=False, unique_indices=False),
    # A gather that already has batching dimensions (what a vmapped x[i] becomes).
    sig(((3, 5), T), ((3, 1), I32), values={1: ints(0, 4)},
        dimension_numbers=GDN((), (1,), (1,), (0,), (0,)), slice_sizes=(1, 1),
        mode=Mode.CLIP, fill_value=None, indices_are_sorted=False, unique_indices=False),
]
_SCATTER_ROWS = SDN(update_window_dims=(1,), inserted_window_dims=(0,),
                    scatter_dims_to_operand_dims=(0,))
for _p in P.SCATTERS:
    CASES[_p.name] = [
        sig(((5, 4), T), ((3, 1), I32), ((3, 4), T), values={1: distinct(-1, 5)},
            dimension_numbers=_SCATTER_ROWS, mode=mode, indices_are_sorted=False,
            unique_indices=False)
        for mode in (Mode.FILL_OR_DROP, Mode.CLIP)
    ] + [
        sig(((3, 5), T), ((3, 1), I32), ((3,), T), values={1: ints(0, 4)},
            dimension_numbers=SDN((), (1,), (1,), (0,), (0,)), mode=Mode.CLIP,
            indices_are_sorted=False, unique_indices=False),
    ]

_FUSED = parse_function("""{ lambda ; a:f32[4,5] b:f32[4,5]. let
    c:f32[4,5] = mul a b
    d:f32[4,5] = exp c
    e:f32[4] = reduce_sum[axes=(1,)] d
  in (e,) }""")
_FUSED_EW = parse_function("""{ lambda ; a:f32[4,5] b:f32[]. let
    c:f32[4,5] = mul a b
    d:f32[4,5] = tanh c
  in (c, d) }""")
CASES["fusion"] = [sig((M, F32), (M, F32), dtypes=(F32,), regions=(_FUSED,)),
                   sig((M, F32), ((), F32), dtypes=(F32,), regions=(_FUSED_EW,))]


# Control flow: the one cond/while/scan op a frontend function traces to, regions included
# (more programs in test_control_flow_vmap.py).
def _control_flow(f: Callable, *example_args: np.ndarray, values=None) -> Sig:
    (op,) = [op for op in llax.make_jaxpr(f)(*example_args).jaxpr.function.ops if op.regions]
    return sig(*[(a.type.shape, a.type.dtype) for a in op.inputs], dtypes=(F32,),
               values=values, regions=op.regions, **dict(op.params))


_F45, _F4, _F = (np.zeros(s, np.float32) for s in ((4, 5), (4,), ()))
_I = np.int32(0)
CASES["cond"] = [
    _control_flow(lambda i, x, s: llax.lax.switch(
        i, [lambda y, t: (y * t, t), lambda y, t: (llax.numpy.sin(y) + t, 2.0 * t)], x, s),
        _I, _F45, _F, values={0: ints(0, 1)}),
    # An output one branch leaves unbatched (a constant) and another batches.
    _control_flow(lambda i, x: llax.lax.switch(
        i, [lambda y: (y, 1.0), lambda y: (y * 2, 2.0), lambda y: (llax.numpy.cos(y), 3.0)],
        x), _I, _F45, values={0: ints(0, 2)}),
]
CASES["while"] = [_control_flow(lambda n, a, i0, x0: llax.lax.while_loop(
    lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * 0.5 + a), (i0, x0)),
    _I, _F4, _I, _F4, values={0: ints(0, 5), 2: ints(0, 3)})]
CASES["scan"] = [
    _control_flow(lambda a, c0, xs: llax.lax.scan(
        lambda c, x: (c * a + x.sum(0), c - x[0]), c0, xs), _F4, _F4,
        np.zeros((3, 2, 4), np.float32)),
    _control_flow(lambda a, c0, xs: llax.lax.scan(
        lambda c, x: (c * a + x, c - x), c0, xs, reverse=True), _F4, _F4,
        np.zeros((3, 4), np.float32)),
]

# Primitives whose batching needs more than an example signature, and where it is tested.
TESTED_ELSEWHERE = {
    "fft": "test_fft.py::test_vmap_vs_loop",
    **{name: "test_lax_cumulative.py::test_vmap_vs_loop"
       for name in ("cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp")},
    "clz": "test_lax_more.py::test_clz_vmap_and_no_tangent",
    "conv_general_dilated": "test_lax_conv.py::test_vmap_vs_a_loop",
    **{name: "test_lax_windows.py::test_vmap_vs_a_loop"
       for name in ("reduce_window_sum", "reduce_window_max", "reduce_window_min")},
    **{name: "test_lax_windows.py::test_select_vmap_vs_a_loop"
       for name in ("select_and_gather_add", "select_and_scatter_add")},
    "reduce_precision": "test_lax_more.py::test_reduce_precision_derivatives_and_vmap",
    "eig": "test_linalg_eig.py::test_eig_empty_and_vmap",
    **{name: "test_linalg_qr.py::test_qr_empty_and_vmap"
       for name in ("geqrf", "householder_product")},
    **{name: "test_linalg_lapack.py::test_linalg_primitive_rules"
       for name in ("lu", "triangular_solve", "cholesky", "eigh", "svd")},
    **{name: "test_complex_autodiff.py::test_complex_primitive_rules"
       for name in ("complex", "real", "imag", "conj")},
    "psum": "test_vmap.py::test_collectives_match_jax",
    "pmax": "test_vmap.py::test_collectives_match_jax",
    "pmin": "test_vmap.py::test_collectives_match_jax",
    "axis_index": "test_vmap.py::test_collectives_match_jax",
    "custom_jvp_call": "test_vmap.py::test_custom_derivatives_under_vmap",
    "custom_vjp_call": "test_vmap.py::test_custom_derivatives_under_vmap",
    "custom_lin": "test_vmap.py::test_custom_lin_batched_and_transposed",
    "jit": "test_jaxpr_fidelity.py::test_nested_jit_under_transformations",
    "debug_print": "test_callbacks.py::test_debug_print_matches_jax",
    "debug_callback": "test_callbacks.py::test_debug_callback_runs_in_while_and_each_vmap_example",
    "pure_callback": "test_callbacks.py::test_pure_callback_vmap_methods_match_jax",
    "io_callback": "test_callbacks.py::test_io_callback_vmap",
}


# ---------------------------------------------------------------------------------------------
# Checking one primitive


def one_op(prim, types: Sequence[TensorType], params: dict,
           regions: tuple[Function, ...]) -> Function:
    ins = tuple(Var(t) for t in types)
    p = Params(params)
    outs = infer_types(prim, tuple(types), p, regions)
    op = Op(prim, ins, tuple(Var(t) for t in outs), p, regions)
    return Function(ins, (op,), op.outputs, prim.name)


def patterns(ranks: Sequence[int]) -> list[tuple[int | None, ...]]:
    """in_axes to try: all operands along 0, 1 or -1; each operand alone unmapped; a mix."""
    n = len(ranks)
    out = []
    for ax in (0, 1, -1):
        if all(-(r + 1) <= ax <= r for r in ranks):
            out.append((ax,) * n)
    if n > 1:
        out += [tuple(None if j == i else 0 for j in range(n)) for i in range(n)]
        out.append(tuple(-1 if j % 2 else 0 for j in range(n)))
    return list(dict.fromkeys(out))


@dataclass
class Combo:
    """One mapping pattern of one signature and dtype, with inputs and expected outputs."""

    fn: Function
    axes: tuple[int | None, ...]
    args: list[np.ndarray]
    want: list[np.ndarray]
    what: str


def make_combo(fn: Function, s: Sig, dtype: np.dtype, axes, rng) -> Combo:
    per_operand = []
    for i, t in enumerate(fn.in_types):
        gen = s.values.get(i, default_values)
        per_operand.append([gen(rng, t.shape, t.dtype) for _ in range(B)] if axes[i] is not None
                           else gen(rng, t.shape, t.dtype))
    examples = [[v[b] if a is not None else v for v, a in zip(per_operand, axes)]
                for b in range(B)]
    results = [evaluate_function(fn, ex) for ex in examples]
    want = [np.stack([r[k] for r in results]) for k in range(len(fn.results))]
    args = [np.stack(v, axis=a) if a is not None else v for v, a in zip(per_operand, axes)]
    return Combo(fn, axes, args, want, f"{fn.name} {fn.in_types} in_axes={axes}")


def combos_of(name: str) -> list[tuple[Combo, bool]]:
    """Every combination, and whether the jit pass takes it (see the module docstring)."""
    prim = PRIMITIVES[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    out = []
    for i, s in enumerate(CASES[name]):
        first_dtype = True
        for dtype in s.dtypes:
            types = s.types(dtype)
            try:
                fn = one_op(prim, types, s.params, s.regions)
            except TypeError:  # the primitive does not take this dtype
                continue
            pats = patterns([t.ndim for t in types])
            for k, axes in enumerate(pats):
                jit = first_dtype and (i == 0 or k == len(pats) - 1)
                out.append((make_combo(fn, s, dtype, axes, rng), jit))
            first_dtype = False
    assert out, f"no signature of {name} accepted any dtype"
    return out


def assert_close(got: Any, want: np.ndarray, what: str, rtol: float, atol: float) -> None:
    got = np.asarray(got)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, expected {want.dtype}"
    if want.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


def check_batched_function(c: Combo) -> None:
    dims = [None if a is None else a % (t.ndim + 1) for a, t in zip(c.axes, c.fn.in_types)]
    batched, out_dims = batch_function(c.fn, dims, B)
    verify(batched)
    got = evaluate_function(batched, c.args)
    for g, d, w, r in zip(got, out_dims, c.want, c.fn.results):
        g = np.broadcast_to(g, (B, *r.type.shape)) if d is None else np.moveaxis(g, d, 0)
        assert_close(g, w, f"batch_function: {c.what}", 1e-6, 1e-6)


def apply_op(fn: Function) -> Callable:
    (op,) = fn.ops
    return lambda *args: bind(op.prim, args, dict(op.params), op.regions)


def as_list(x: Any) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


@pytest.mark.parametrize("name", sorted(CASES))
def test_batching_rule(name: str) -> None:
    combos = combos_of(name)
    for c, _ in combos:
        check_batched_function(c)
        got = llax.vmap(apply_op(c.fn), in_axes=c.axes)(*c.args)
        for g, w in zip(as_list(got), c.want, strict=True):
            assert_close(g, w, f"vmap: {c.what}", 1e-6, 1e-6)
    jitted = [c for c, take in combos if take]

    def everything(*flat):
        outs, it = [], iter(flat)
        for c in jitted:
            args = [next(it) for _ in c.args]
            outs.append(as_list(llax.vmap(apply_op(c.fn), in_axes=c.axes)(*args)))
        return outs

    results = llax.jit(everything)(*[a for c in jitted for a in c.args])
    for c, got in zip(jitted, results, strict=True):
        for g, w in zip(got, c.want, strict=True):
            assert_close(g, w, f"jit(vmap): {c.what}", 2e-5, 2e-6)


def test_every_primitive_is_tested() -> None:
    untested = (set(PRIMITIVES) - set(CASES) - set(TESTED_ELSEWHERE)
                - {p.name for p in never_batched})
    assert not untested, f"primitives with no vmap test: {sorted(untested)}"
    assert not set(CASES) - set(PRIMITIVES), "CASES names a primitive that does not exist"
    import importlib

    for where in TESTED_ELSEWHERE.values():
        module, test = where.split("::")
        found = importlib.import_module(f"llax.tests.{module.removesuffix('.py')}")
        assert hasattr(found, test), f"{where} does not exist"


def test_never_batched_primitives_have_no_operands() -> None:
    # The only reason for needing no rule: nothing can be batched.
    for prim, why in never_batched.items():
        assert prim is P.iota and "no operands" in why
