"""Compiled code against the NumPy reference (ir/interpreter.py), primitive by primitive.

Every primitive in the registry must have a lowering rule or be listed in
UNSUPPORTED with a reason; elementwise ones are run over float32, float64,
int32 and bool where they accept the dtype, on special values (nan, inf, -0.0,
INT_MIN...), odd sizes that exercise vector remainders, empty and rank-0
shapes, and rank-0 operands broadcast against arrays.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from llax.codegen import index_rules, lower, reductions, scalar_rules
from llax.codegen.emitter import LoweringError
from llax.ir import prims as P
from llax.ir.core import Function, Op, Params, Var
from llax.ir.primitive import PRIMITIVES, FusionClass, abstract_eval, fusion_class
from llax.tests.codegen_util import (
    BOOL,
    F32,
    F64,
    I32,
    check,
    lit,
    op,
    random_values,
    run,
    single,
    special_values,
    tt,
)

# Primitives that never reach code generation, each with the reason. Anything else must lower.
UNSUPPORTED: dict[str, str] = {
    "custom_jvp_call": "inlined before code generation (passes/inline_calls.py)",
    "custom_vjp_call": "inlined before code generation (passes/inline_calls.py)",
    "jit": "a nested jit call: inlined before code generation (passes/inline_calls.py)",
    "custom_lin": "only ever transposed: evaluating it is JAX's forward-mode-of-custom_vjp "
                  "error",
    **{name: "a collective: vmap turns it into a reduction over the batch; one that is left "
             "names an unbound axis (test_collectives_do_not_lower)"
       for name in ("psum", "pmax", "pmin", "axis_index")},
}

RULE_TABLES = {
    FusionClass.ELEMENTWISE: scalar_rules.RULES,
    FusionClass.INDEX_MAP: index_rules.RULES,
    FusionClass.REDUCTION: reductions.RULES,
    FusionClass.OPAQUE: lower.OPAQUE_RULES,
}


def _lowerable(prim) -> bool:
    return prim is P.fusion or prim in RULE_TABLES[fusion_class[prim]]


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_every_primitive_lowers(name: str) -> None:
    prim = PRIMITIVES[name]
    if name in UNSUPPORTED:
        assert not _lowerable(prim), f"{name} now has a rule: remove it from UNSUPPORTED"
        return
    assert _lowerable(prim), f"primitive {name!r} ({fusion_class[prim].value}) has no lowering rule"


def test_unsupported_primitive_raises() -> None:
    from llax.ir.primitive import Primitive

    fake = Primitive("not_a_real_primitive")
    fusion_class[fake] = FusionClass.OPAQUE
    abstract_eval[fake] = lambda x: x
    try:
        fn = single(fake, [tt((3,), F32)])
        with pytest.raises(LoweringError, match="not_a_real_primitive"):
            run(fn, [np.zeros(3, np.float32)])
    finally:
        del fusion_class[fake], abstract_eval[fake]


@pytest.mark.parametrize("name", ["psum", "pmax", "pmin", "axis_index"])
def test_collectives_do_not_lower(name: str) -> None:
    # Honest about UNSUPPORTED: compiling one is a clear error naming it, not a crash.
    if name == "axis_index":
        fn, args = single(PRIMITIVES[name], [], axis_name="i"), []
    else:
        fn, args = single(PRIMITIVES[name], [tt((3,), F32)], axes=("i",)), [np.zeros(3, F32)]
    with pytest.raises(LoweringError, match=name):
        run(fn, args)


@pytest.mark.parametrize("dtype", [F32, F64])
def test_complex_primitives_lower(dtype) -> None:
    # complex/real/imag/conj have native rules (codegen/complex_rules.py); signed zeros,
    # infinities and NaNs pass through part by part.
    x = np.array([1.5, -0.0, np.inf, np.nan, 0.0], dtype)
    y = np.array([-2.0, 0.0, np.nan, -np.inf, -0.0], dtype)
    fn = single(P.complex, [tt((5,), dtype), tt((5,), dtype)])
    (z,), (want,) = run(fn, [x, y])
    bits = f"u{dtype.itemsize}"  # bit for bit: signed zeros and NaN payloads included
    np.testing.assert_array_equal(z.view(bits), want.view(bits))
    for prim in (P.real, P.imag, P.conj):
        (got,), (w,) = run(single(prim, [tt((5,), z.dtype)]), [z])
        np.testing.assert_array_equal(np.asarray(got).view(bits), np.asarray(w).view(bits))


# --- elementwise ---------------------------------------------------------------------------

UNARY = ("neg sign abs exp exp2 log log1p expm1 tanh logistic sin cos tan asin acos atan sinh "
         "cosh asinh acosh atanh sqrt rsqrt cbrt floor ceil round erf erfc erf_inv is_finite not "
         "population_count square").split()
BINARY = ("add sub mul div rem max min pow atan2 nextafter and or xor shift_left "
          "shift_right_logical shift_right_arithmetic eq ne lt le gt ge").split()
DTYPES = [F32, F64, I32, BOOL]

# Functions computed by polynomial approximations: compared with a tolerance.
APPROX = set("exp exp2 log log1p expm1 tanh logistic sin cos tan asin acos atan sinh cosh asinh "
             "acosh atanh cbrt erf erfc erf_inv pow atan2".split())
# Argument ranges where every implementation is expected to be accurate
# (trigonometric range reduction of huge arguments is not promised).
DOMAIN = {"sin": 1e4, "cos": 1e4, "tan": 1e4}


def _prim(name: str):
    return PRIMITIVES[name]


def _accepts(name: str, dtypes_: list) -> bool:
    types = tuple(tt((), d) for d in dtypes_)
    try:
        abstract_eval[_prim(name)](*types)
    except TypeError:
        return False
    return True


def _tolerance(name: str, dtype) -> tuple[float, float]:
    if name not in APPROX or np.dtype(dtype).kind != "f":
        return 0.0, 0.0
    return (2e-6, 1e-6) if np.dtype(dtype) == F32 else (1e-13, 1e-14)


def _unary_inputs(name: str, dtype) -> np.ndarray:
    rng = np.random.default_rng(0)
    sv = special_values(dtype)
    bound = DOMAIN.get(name)
    if bound is not None:
        sv = sv[~(np.abs(sv.astype(np.float64)) > bound) | np.isnan(sv)]
    r = random_values(dtype, 1000 - sv.size, rng, -5, 5)
    if name in ("erf_inv", "asin", "acos", "atanh"):
        r = random_values(dtype, 1000 - sv.size, rng, -1, 1)
    return np.concatenate([sv, r])


# Where ir/reference.py departs from JAX, llax follows JAX and the test says so.
REFERENCE_DIVERGES = {
    # np.bitwise_count counts the bits of |x|; lax.population_count counts the bits of x.
    ("population_count", I32): "reference counts bits of abs(x)",
}


@pytest.mark.parametrize("name, dtype", [(n, d) for n in UNARY for d in DTYPES
                                         if _accepts(n, [d])],
                         ids=lambda v: str(v))
def test_unary(name: str, dtype) -> None:
    x = _unary_inputs(name, dtype)
    rtol, atol = _tolerance(name, dtype)
    fn = single(_prim(name), [tt(x.shape, dtype)])
    if (name, dtype) in REFERENCE_DIVERGES:
        (got,), _ = run(fn, [x])
        unsigned = x.view(np.dtype(f"u{x.dtype.itemsize}"))
        np.testing.assert_array_equal(got, np.bitwise_count(unsigned).astype(dtype))
        return
    if name == "erf_inv":
        _check_erf_inv(fn, x, rtol)
        return
    check(fn, [x], rtol, atol)


def _check_erf_inv(fn: Function, x: np.ndarray, rtol: float) -> None:
    """The reference's Newton iteration returns nan for 0.994 < |x| < 1: there, check
    erf(result) == x instead."""
    import math

    (got,), (want,) = run(fn, [x])
    ref_ok = ~np.isnan(want) | (np.abs(x) > 1) | np.isnan(x)
    np.testing.assert_allclose(got[ref_ok], want[ref_ok], rtol=rtol, atol=rtol, equal_nan=True)
    back = np.array([math.erf(v) for v in got[~ref_ok].astype(np.float64)])
    np.testing.assert_allclose(back, x[~ref_ok], rtol=rtol * 4)


def _binary_inputs(name: str, dtype) -> tuple[np.ndarray, np.ndarray]:
    sv = special_values(dtype)
    x, y = (a.reshape(-1) for a in np.meshgrid(sv, sv, indexing="ij"))  # every pair
    rng = np.random.default_rng(1)
    n = 1000 - x.size if x.size < 1000 else 7
    rx, ry = random_values(dtype, n, rng), random_values(dtype, n, rng)
    if name == "pow":
        rx = np.abs(rx)
    return np.concatenate([x, rx]), np.concatenate([y, ry])


def _exact_fma(x: float, y: float, z: float, dtype) -> float:
    """x * y + z in rationals, rounded once to ``dtype`` (through float64 for float32, which
    is exact unless the float64 rounding lands on a float32 tie; those inputs are avoided)."""
    from fractions import Fraction

    if not np.isfinite([x, y]).all():
        return np.asarray(np.float64(x) * np.float64(y) + np.float64(z), dtype)
    if not np.isfinite(z):
        return np.asarray(z, dtype)
    exact = Fraction(float(x)) * Fraction(float(y)) + Fraction(float(z))
    return np.asarray(float(exact), dtype) if exact else np.asarray(x * y + z, dtype)


@pytest.mark.parametrize("dtype", [F32, F64])
def test_fma_rounds_once(dtype) -> None:
    # Where a separate multiply and add lose the product's low bits: (1 + e)(1 - e) - 1.
    e = np.finfo(dtype).eps
    one = np.ones(3, dtype)
    x, y, z = one + e, one - e, -one
    x[1], y[1], z[1] = 1e30 if dtype == F32 else 1e300, 1e10, -np.inf  # huge product, inf
    x[2], y[2], z[2] = 3.0, 1 / 3, -1.0
    fn = single(P.fma, [tt((3,), dtype)] * 3)
    check(fn, [x, y, z])
    (got,), _ = run(fn, [x, y, z])
    assert got[0] == -(e * e) and got[1] == -np.inf
    rng = np.random.default_rng(3)
    x, y, z = (random_values(dtype, 997, rng) for _ in range(3))
    sv = special_values(dtype)
    x, y, z = (np.concatenate([v, sv[:1] * 0 + sv[i % sv.size: i % sv.size + 1]])
               for i, v in enumerate((x, y, z)))
    fn = single(P.fma, [tt(x.shape, dtype)] * 3)
    check(fn, [x, y, z])
    (got,), _ = run(fn, [x, y, z])
    want = np.array([_exact_fma(a, b, c, dtype) for a, b, c in zip(x, y, z)])
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name, dtype", [(n, d) for n in BINARY for d in DTYPES
                                         if _accepts(n, [d, d])],
                         ids=lambda v: str(v))
def test_binary(name: str, dtype) -> None:
    x, y = _binary_inputs(name, dtype)
    rtol, atol = _tolerance(name, dtype)
    fn = single(_prim(name), [tt(x.shape, dtype), tt(y.shape, dtype)])
    check(fn, [x, y], rtol, atol)


@pytest.mark.parametrize("name, dtype", [
    (n, d) for n in ["div", "rem", "shift_left", "shift_right_logical", "shift_right_arithmetic",
                     "max", "min", "sign", "abs", "neg"]
    for d in [F32, I32, np.dtype(np.int8), np.dtype(np.uint32), np.dtype(np.int64),
              np.dtype(np.uint8), np.dtype(np.int16)]
    if _accepts(n, [d] * (1 if n in ("sign", "abs", "neg") else 2))], ids=str)
def test_integer_edge_cases_other_widths(name: str, dtype) -> None:
    if name in ("sign", "abs", "neg"):
        x = special_values(dtype)
        check(single(_prim(name), [tt(x.shape, dtype)]), [x])
        return
    x, y = _binary_inputs(name, dtype)
    check(single(_prim(name), [tt(x.shape, dtype)] * 2), [x, y])


@pytest.mark.parametrize("shape", [(), (0,), (1,), (7,), (33,), (3, 5), (2, 0, 3)],
                         ids=str)
@pytest.mark.parametrize("name", ["add", "max", "div", "lt"])
@pytest.mark.parametrize("dtype", [F32, I32])
def test_binary_shapes(name: str, shape, dtype) -> None:
    rng = np.random.default_rng(2)
    x = random_values(dtype, shape, rng)
    y = random_values(dtype, shape, rng)
    check(single(_prim(name), [tt(shape, dtype)] * 2), [x, y])


@pytest.mark.parametrize("shape", [(0,), (1,), (33,), (4, 9)], ids=str)
@pytest.mark.parametrize("which", [0, 1])
def test_rank0_operand_broadcasts(shape, which: int) -> None:
    rng = np.random.default_rng(3)
    types = [tt(shape, F32), tt(shape, F32)]
    types[which] = tt((), F32)
    args = [random_values(F32, t.shape, rng) for t in types]
    check(single(P.sub, types), args)


def test_literal_operands() -> None:
    x = Var(tt((33,), F32))
    a = op(P.mul, x, lit(3.0, F32))
    b = op(P.add, a.out, lit(np.arange(33, dtype=np.float32), F32, (33,)))
    c = op(P.lt, b.out, lit(20.0, F32))
    fn = Function((x,), (a, b, c), (b.out, c.out))
    check(fn, [np.linspace(-5, 5, 33)])


# Negative powers only for floats: the shape rule rejects them for integers.
@pytest.mark.parametrize("y, dtype", [(y, d) for y in [0, 1, 2, 3, 5, 8, -1, -2, -3]
                                      for d in (F32, F64, I32) if y >= 0 or d != I32], ids=str)
def test_integer_pow(y: int, dtype) -> None:
    x = np.concatenate([special_values(dtype), np.arange(-5, 6).astype(dtype)])
    check(single(P.integer_pow, [tt(x.shape, dtype)], y=y), [x], *(
        (1e-6, 0) if dtype == F32 else (1e-14, 0) if dtype == F64 else (0, 0)))


@pytest.mark.parametrize("method", [0, 1])
@pytest.mark.parametrize("dtype", [F32, F64])
def test_round(method: int, dtype) -> None:
    x = np.concatenate([special_values(dtype), np.arange(-10, 10, 0.25).astype(dtype)])
    # Built by hand: round's type rule takes no parameters, but the reference (and
    # jnp.round's lowering) use rounding_method.
    v = Var(tt(x.shape, dtype))
    o = Op(P.round, (v,), (Var(tt(x.shape, dtype)),), Params(rounding_method=method))
    check(Function((v,), (o,), o.outputs), [x])


CONVERT_DTYPES = [F32, F64, I32, BOOL, np.dtype(np.int8), np.dtype(np.uint8),
                  np.dtype(np.uint32), np.dtype(np.int64), np.dtype(np.float16),
                  np.dtype(np.int16), np.dtype(np.uint64)]


@pytest.mark.parametrize("src, dst", list(itertools.product(CONVERT_DTYPES, repeat=2)),
                         ids=str)
def test_convert_element_type(src, dst) -> None:
    x = special_values(src)
    if src.kind == "f":
        extra = np.array([2.0 ** 31, -2.0 ** 31, 2.0 ** 31 - 128, 2.0 ** 32, -129.0, 255.5,
                          -2.0 ** 63, 2.0 ** 63, 2.0 ** 64, 65504, 70000], np.float64)
        with np.errstate(over="ignore"):
            x = np.concatenate([x, extra.astype(src)])
    fn = single(P.convert_element_type, [tt(x.shape, src)], new_dtype=dst, weak_type=False)
    if src == np.float16 and dst.kind in "iu" and dst.itemsize >= 4:
        # The reference's np.nan_to_num turns f16 +-inf into +-65504 before clipping;
        # llax saturates inf to the integer range like JAX and float32 inputs.
        (got,), (want,) = run(fn, [x])
        finite = np.isfinite(x)
        np.testing.assert_array_equal(got[finite], want[finite])
        info = np.iinfo(dst)
        np.testing.assert_array_equal(got[np.isposinf(x)], info.max)
        np.testing.assert_array_equal(got[np.isneginf(x)], info.min)
        return
    check(fn, [x])


@pytest.mark.parametrize("dtype", [F32, F64, I32, BOOL])
@pytest.mark.parametrize("cases", [1, 2, 3])
def test_select_n(dtype, cases: int) -> None:
    rng = np.random.default_rng(4)
    n = 37
    which_dtype = BOOL if cases <= 2 else I32
    which = (rng.integers(0, cases, n) != 0) if which_dtype == BOOL else rng.integers(0, cases, n)
    xs = [random_values(dtype, n, rng) for _ in range(cases)]
    types = [tt((n,), which_dtype)] + [tt((n,), dtype)] * cases
    check(single(P.select_n, types), [which, *xs])


def test_select_n_scalar_predicate() -> None:
    rng = np.random.default_rng(5)
    types = [tt((), BOOL), tt((9,), F32), tt((9,), F32)]
    for w in (False, True):
        check(single(P.select_n, types), [np.bool_(w), rng.random(9), rng.random(9)])


@pytest.mark.parametrize("dtype", [F32, F64, I32, BOOL])
@pytest.mark.parametrize("bounds", ["scalar", "array"])
def test_clamp(dtype, bounds: str) -> None:
    x = np.concatenate([special_values(dtype)] * 2)
    shape = () if bounds == "scalar" else x.shape
    rng = np.random.default_rng(6)
    lo = random_values(dtype, shape, rng, -3, 0)
    hi = random_values(dtype, shape, rng, 0, 3)
    fn = single(P.clamp, [tt(shape, dtype), tt(x.shape, dtype), tt(shape, dtype)])
    check(fn, [lo, x, hi])


@pytest.mark.parametrize("dtype", [np.dtype(np.float16)])
@pytest.mark.parametrize("name", ["add", "mul", "div", "max", "sqrt", "exp", "lt", "nextafter"])
def test_float16(name: str, dtype) -> None:
    arity = 1 if name in ("sqrt", "exp") else 2
    x, y = _binary_inputs(name, dtype)
    args = [x, y][:arity]
    rtol = 1e-3 if name in APPROX else 0.0
    check(single(_prim(name), [tt(x.shape, dtype)] * arity), args, rtol, 0)
