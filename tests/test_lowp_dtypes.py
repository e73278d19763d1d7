"""Low-precision dtypes through ml_dtypes (bfloat16, float8/6/4, int4/2/1), against JAX.

bfloat16 and float16 are arithmetic types: eager ops compute in float32 and round once per
op (as XLA's CPU backend), jit runs them in the NumPy interpreter, grad gives cotangents of
their dtype. The float8/6/4 types and the sub-byte integers are at least storage types, with
JAX's promotion (they promote to nothing but themselves: TypePromotionError otherwise).

XLA's CPU code flushes float32 subnormals to zero (and so bfloat16's, which are float32's);
llax keeps them, for float32 as for bfloat16, so the value checks use normal numbers.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest

import llax
import llax.numpy as lnp
from llax.config import config
from llax.ir import dtypes

BF16 = np.dtype(ml_dtypes.bfloat16)
NARROW_FLOAT_NAMES = dtypes.NARROW_FLOAT_NAMES
NARROW_INT_NAMES = dtypes.NARROW_INT_NAMES
LOW_NAMES = ("bfloat16", *NARROW_FLOAT_NAMES, *NARROW_INT_NAMES)
# JAX 0.10.2 on the CPU holds neither float6 arrays ("Invalid XLA PrimitiveType") nor
# int1/uint1 (they fail on creation), and int2/uint2 abort the process inside XLA. Storage is
# compared with JAX on one type of each family it holds (its compiles cost seconds each), the
# others with NumPy and ml_dtypes (whose conversions are XLA's, saturation aside).
JAX_STORAGE = ["bfloat16", "float8_e4m3fn", "float8_e5m2", "float8_e8m0fnu", "float4_e2m1fn",
               "int4", "uint4"]
NUMPY_STORAGE = [n for n in LOW_NAMES if n not in JAX_STORAGE]


@pytest.fixture(params=[False, True], ids=["x32", "x64"])
def x64(request: pytest.FixtureRequest):
    old = bool(jax.config.jax_enable_x64)
    jax.config.update("jax_enable_x64", request.param)
    try:
        with config.override("jax_enable_x64", request.param):
            yield request.param
    finally:
        jax.config.update("jax_enable_x64", old)


def _normal_values(dt: np.dtype, n: int = 64, scale: float = 3.0, seed: int = 0) -> np.ndarray:
    """Random normal numbers of ``dt`` (no subnormals: XLA's CPU flushes those)."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(n) * scale).astype(np.float32).astype(dt)
    tiny = float(ml_dtypes.finfo(dt).smallest_normal)
    wide = x.astype(np.float32)
    return np.where(np.abs(wide) < tiny, np.ones((), dt), x)


def _all_normal_values(dt: np.dtype) -> np.ndarray:
    """Every finite, non-subnormal value of a 16-bit float type."""
    allv = np.arange(1 << 16, dtype=np.uint16).view(dt)
    wide = allv.astype(np.float32)
    tiny = float(ml_dtypes.finfo(dt).smallest_normal)
    return allv[np.isfinite(wide) & ((np.abs(wide) >= tiny) | (wide == 0))]


def _ulps(a: np.ndarray, b: np.ndarray, dt: np.dtype) -> np.ndarray:
    """|a - b| in units of the last place of ``dt`` at ``a`` (JAX's ``a``). NaNs in both, and
    a subnormal ``b`` where ``a`` is zero (XLA's CPU flushes subnormals), count as equal."""
    a64, b64 = np.asarray(a).astype(np.float64), np.asarray(b).astype(np.float64)
    eps = float(ml_dtypes.finfo(dt).eps)
    tiny = float(ml_dtypes.finfo(dt).smallest_normal)
    ulp = np.maximum(2.0 ** np.floor(np.log2(np.maximum(np.abs(a64), tiny))) * eps, 1e-300)
    same = (a64 == b64) | (np.isnan(a64) & np.isnan(b64)) | ((a64 == 0) & (np.abs(b64) < tiny))
    with np.errstate(invalid="ignore"):
        return np.where(same, 0.0, np.abs(a64 - b64) / ulp)


def _same(got, want) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, want.dtype)
    np.testing.assert_array_equal(got.astype(np.float64), want.astype(np.float64))


# ------------------------------------------------------------------------------------------
# Names, dtype utilities, finfo/iinfo


def test_every_jax_dtype_name_is_exported() -> None:
    for name in LOW_NAMES:
        ours, theirs = getattr(lnp, name), getattr(jnp, name)
        assert np.dtype(ours) == np.dtype(theirs) == np.dtype(getattr(ml_dtypes, name))
        assert lnp.dtype(ours) == jnp.dtype(theirs) == lnp.dtype(name)
        assert ours == getattr(ml_dtypes, name)
        assert repr(ours) == f"<class 'llax.numpy.{name}'>"
        assert lnp.zeros(2, ours).dtype == np.dtype(theirs)


def _info_fields(info) -> dict:
    names = ("bits", "eps", "epsneg", "max", "min", "tiny", "smallest_normal",
             "smallest_subnormal", "resolution", "precision", "nmant", "nexp", "maxexp",
             "minexp", "machep", "negep", "iexp", "dtype")
    return {n: getattr(info, n) for n in names if hasattr(info, n)}


@pytest.mark.parametrize("name", ["bfloat16", "float16", "float32", *NARROW_FLOAT_NAMES])
def test_finfo_matches_jax(name: str) -> None:
    ours, theirs = lnp.finfo(getattr(lnp, name)), jnp.finfo(getattr(jnp, name))
    assert type(ours) is type(theirs)
    fields = _info_fields(ours)
    assert fields.keys() == _info_fields(theirs).keys()
    for k, v in fields.items():
        w = getattr(theirs, k)
        assert (v == w) or (np.isnan(float(v)) and np.isnan(float(w))) if k != "dtype" \
            else v == w, (name, k, v, w)
    assert lnp.finfo(name).eps == theirs.eps
    assert lnp.finfo(lnp.ones(2, getattr(lnp, name))).max == theirs.max


@pytest.mark.parametrize("name", ["int8", "uint16", *NARROW_INT_NAMES])
def test_iinfo_matches_jax(name: str) -> None:
    ours, theirs = lnp.iinfo(getattr(lnp, name)), jnp.iinfo(getattr(jnp, name))
    assert type(ours) is type(theirs)
    assert (ours.min, ours.max, ours.bits, ours.dtype) == \
        (theirs.min, theirs.max, theirs.bits, theirs.dtype)


@pytest.mark.parametrize("call", [
    lambda m: m.finfo(m.int4), lambda m: m.finfo(m.int8), lambda m: m.iinfo(m.bfloat16),
    lambda m: m.iinfo(m.float8_e4m3fn),
])
def test_info_errors_match_jax(call) -> None:
    with pytest.raises(ValueError) as theirs:
        call(jnp)
    with pytest.raises(ValueError) as ours:
        call(lnp)
    assert str(ours.value) == str(theirs.value)


_CATEGORIES = [jnp.generic, jnp.number, jnp.inexact, jnp.floating, jnp.integer,
               jnp.signedinteger, jnp.unsignedinteger, jnp.complexfloating]


def test_issubdtype_isdtype_can_cast_match_jax() -> None:
    plain = ["bool", "int8", "uint8", "int32", "float16", "float32", "complex64"]
    every = [*LOW_NAMES, *plain]
    kinds = ["bool", "signed integer", "unsigned integer", "integral", "real floating",
             "complex floating", "numeric", ("real floating", "integral")]
    for a in every:
        for cat in _CATEGORIES:
            assert lnp.issubdtype(a, cat) == jnp.issubdtype(a, cat), (a, cat)
            assert lnp.issubdtype(getattr(lnp, a) if a != "bool" else lnp.bool_, cat) == \
                jnp.issubdtype(a, cat), (a, cat)
        for b in every:
            assert lnp.issubdtype(a, b) == jnp.issubdtype(a, b), (a, b)
            for casting in ("safe", "same_kind", "unsafe"):
                assert lnp.can_cast(a, b, casting) == jnp.can_cast(a, b, casting), (a, b)
            assert lnp.isdtype(a, np.dtype(b)) == jnp.isdtype(a, np.dtype(b)), (a, b)
        for kind in kinds:
            assert lnp.isdtype(a, kind) == jnp.isdtype(a, kind), (a, kind)


def test_result_type_and_promote_types_match_jax(x64: bool) -> None:
    values = {"bf16": (lnp.ones(2, lnp.bfloat16), jnp.ones(2, jnp.bfloat16)),
              "f16": (lnp.ones(2, lnp.float16), jnp.ones(2, jnp.float16)),
              "f8": (lnp.ones(2, lnp.float8_e4m3fn), jnp.ones(2, jnp.float8_e4m3fn)),
              "i4": (lnp.ones(2, lnp.int4), jnp.ones(2, jnp.int4)),
              "i32": (lnp.ones(2, lnp.int32), jnp.ones(2, jnp.int32)),
              "f32": (lnp.ones(2, lnp.float32), jnp.ones(2, jnp.float32)),
              "int": (1, 1), "float": (1.5, 1.5), "complex": (1j, 1j), "bool": (True, True),
              "bf16-type": (lnp.bfloat16, jnp.bfloat16), "name": ("float8_e5m2", "float8_e5m2")}

    def outcome(fn, *args):
        try:
            return fn(*args)
        except Exception as e:  # noqa: BLE001 - the type is compared with JAX's
            return type(e).__name__

    for a, (la, ja) in values.items():
        for b, (lb, jb) in values.items():
            assert outcome(lnp.result_type, la, lb) == outcome(jnp.result_type, ja, jb), (a, b)
    for a in LOW_NAMES:
        for b in ("bfloat16", "float16", "float32", "int8", "bool", "float8_e5m2", "int4"):
            assert outcome(lnp.promote_types, a, b) == outcome(jnp.promote_types, a, b), (a, b)


# ------------------------------------------------------------------------------------------
# Storage: creation, conversion, moving values, printing


def _storage_values(name: str) -> np.ndarray:
    values = np.array([0, 1, -1, 2, 3, 0.5, -4, 7], np.float32)
    if name.startswith("uint") or name.endswith("e8m0fnu"):
        values = np.abs(values)
    return values


def _moves(m, x):
    return [x.reshape(2, 4).T[1], m.concatenate([x, x[::-1]]), x[2:5], x[np.array([3, 0])],
            m.stack([x, x])[:, 1], m.where(m.arange(8) < 3, x, x[0])]


@pytest.mark.parametrize("name", JAX_STORAGE)
def test_storage_round_trips(name: str) -> None:
    lt, jt = getattr(lnp, name), getattr(jnp, name)
    values = _storage_values(name)
    ours = lnp.asarray(values).astype(lt)
    theirs = jnp.asarray(values).astype(jt)
    _same(ours, theirs)
    _same(ours.astype(lnp.float32), theirs.astype(jnp.float32))
    # (JAX's side in one jit: compiling each eager op per dtype would take seconds.)
    for got, want in zip(_moves(lnp, ours), jax.jit(lambda x: _moves(jnp, x))(theirs),
                         strict=True):
        _same(got, want)
    _same(lnp.zeros(3, lt), jnp.zeros(3, jt))
    _same(lnp.asarray(np.asarray(theirs)), theirs)
    assert repr(ours) == repr(theirs)
    assert str(ours) == str(theirs)
    assert repr(ours[3]) == repr(theirs[3])
    jitted = llax.jit(lambda x: lnp.concatenate([x.reshape(2, 4)[:, 1], x[:2]]))(ours)
    _same(jitted, jnp.concatenate([theirs.reshape(2, 4)[:, 1], theirs[:2]]))


@pytest.mark.parametrize("name", NUMPY_STORAGE)
def test_storage_round_trips_against_numpy(name: str) -> None:
    lt = getattr(lnp, name)
    values = _storage_values(name)
    if name.startswith(("int", "uint")):  # float -> int saturates, as XLA's (and int4's)
        info = ml_dtypes.iinfo(np.dtype(lt))
        values = np.clip(np.trunc(values), info.min, info.max)
    want = values.astype(np.dtype(lt))  # ml_dtypes' conversion
    ours = lnp.asarray(_storage_values(name)).astype(lt)
    _same(ours, want)
    _same(ours.astype(lnp.float32), want.astype(np.float32))
    for got, ref in zip(_moves(lnp, ours), _moves(np, want), strict=True):
        _same(got, ref)
    jitted = llax.jit(lambda x: x.reshape(2, 4)[:, 1])(ours)
    _same(jitted, want.reshape(2, 4)[:, 1])
    body = np.array2string(want, separator=", ", prefix="Array(")
    assert repr(ours) == f"Array({body}, dtype={name})"


@pytest.mark.parametrize("name", ["float8_e4m3fn", "float8_e5m2", "float4_e2m1fn", "int4",
                                  "uint4", "int2"])
def test_conversions_saturate_and_round_as_jax(name: str) -> None:
    lt, jt = getattr(lnp, name), getattr(jnp, name)
    values = np.array([1.7, 2.0, 300.0, -500.0, 1e9, -0.3, 0.26, np.nan], np.float32)
    if name.startswith(("int", "uint")):
        values = values[:-1]  # float -> int of NaN: 0 in both, but JAX warns
    _same(lnp.asarray(values).astype(lt), jnp.asarray(values).astype(jt))
    _same(llax.jit(lambda v: v.astype(lt))(lnp.asarray(values)),
          jax.jit(lambda v: v.astype(jt))(jnp.asarray(values)))


def test_bfloat16_repr_and_scalars() -> None:
    x = np.array([1.5, 2, 3e38, -0.0, 1 / 3], np.float32)
    assert repr(lnp.asarray(x, lnp.bfloat16)) == repr(jnp.asarray(x, jnp.bfloat16))
    assert repr(lnp.bfloat16(1.5)) == repr(jnp.bfloat16(1.5))
    assert repr(lnp.arange(3, dtype=lnp.bfloat16)) == repr(jnp.arange(3, dtype=jnp.bfloat16))
    assert repr(lnp.ones((2, 2), lnp.bfloat16)) == repr(jnp.ones((2, 2), jnp.bfloat16))
    assert float(lnp.bfloat16(1 / 3)) == float(jnp.bfloat16(1 / 3))


def test_ir_text_round_trips() -> None:
    from llax.ir.parser import parse_function
    from llax.ir.printer import print_function

    def f(x, y, z):
        return ((x * lnp.bfloat16(1.3) + 1).astype(lnp.float32),
                y.reshape(2, 1), z.astype(lnp.float32), lnp.asarray([1, -2], lnp.int4))

    args = (lnp.ones(3, lnp.bfloat16), lnp.ones(2, lnp.int4), lnp.ones(2, lnp.float8_e4m3fn))
    fn = llax.make_jaxpr(f)(*args).jaxpr.function
    text = print_function(fn)
    for short in ("bf16[3]", "i4[2]", "f8_e4m3fn[2]", ":bf16[]"):
        assert short in text, short
    assert print_function(parse_function(text)) == text


def test_jit_interprets_low_precision_and_keeps_float16_native() -> None:
    from llax.codegen.emitter import LoweringError
    from llax.codegen.lowp import check_native

    fn = llax.make_jaxpr(lambda x: x.reshape(4, 1))(lnp.ones(4, lnp.bfloat16)).jaxpr.function
    with pytest.raises(LoweringError, match="bf16"):
        check_native(fn)
    inner = llax.make_jaxpr(lambda x: x.astype(lnp.int4).astype(lnp.float32))
    with pytest.raises(LoweringError, match="convert_element_type.*int4"):
        check_native(inner(lnp.ones(4)).jaxpr.function)
    check_native(llax.make_jaxpr(lambda x: x * 2)(lnp.ones(4, lnp.float16)).jaxpr.function)
    check_native(llax.make_jaxpr(lambda x: x * 2)(lnp.ones(4)).jaxpr.function)


def test_reference_rules_compute_widened_and_round_once() -> None:
    """The interpreter's rules on every ml_dtypes type equal the computation in float32 (int8
    for the sub-byte integers) rounded back: directly through ml_dtypes' ufuncs for the hot
    arithmetic, by widening for the rest."""
    from llax.ir import prims as P
    from llax.ir.reference import reference

    rng = np.random.default_rng(8)
    checks = {P.add: np.add, P.sub: np.subtract, P.mul: np.multiply, P.max: np.maximum,
              P.min: np.minimum, P.lt: np.less, P.eq: np.equal, P.div: None, P.neg: None}
    for dt in dtypes.LOW_PRECISION:
        if dtypes.is_float(dt):
            wide = np.dtype(np.float32)
            bits = rng.integers(0, 1 << dtypes.bit_width(dt), 4096).astype(f"u{dt.itemsize}")
            x = bits.view(dt)
            info = ml_dtypes.finfo(dt)
            x = x[np.isfinite(x.astype(np.float32)) & (np.abs(x.astype(np.float32)) <= info.max)]
        else:
            wide = np.dtype(np.int8 if dtypes.kind(dt) == "i" else np.uint8)
            info = ml_dtypes.iinfo(dt)
            x = np.arange(info.min, info.max + 1).astype(dt)
        a, b = (m.reshape(-1) for m in np.meshgrid(x[:64], x[:64]))
        for prim, ufunc in checks.items():
            if prim is P.div:
                if not dtypes.is_float(dt):
                    continue
                ufunc = np.divide
            got = np.asarray(reference[prim](a) if prim is P.neg else reference[prim](a, b))
            with np.errstate(all="ignore"):
                want = np.negative(a.astype(wide)) if prim is P.neg else \
                    ufunc(a.astype(wide), b.astype(wide))
            if want.dtype != np.bool_:
                got, want = got.astype(dt), want.astype(dt)
            np.testing.assert_array_equal(got.astype(np.float64), want.astype(np.float64),
                                          err_msg=f"{prim.name} {dt}")
        summed = reference[P.reduce_sum](np.ones(600, dt) if dtypes.is_float(dt) else
                                         np.ones(600, dt), axes=(0,))
        if dt == BF16:  # accumulated in float32, not in bfloat16 (which stops at 256)
            assert float(np.asarray(summed).astype(dt)) == 600


def test_callbacks_see_their_dtype() -> None:
    seen = []

    def callback(x):
        seen.append(x.dtype)
        return x

    x = lnp.ones(3, lnp.bfloat16)
    out = llax.jit(lambda v: llax.pure_callback(
        callback, llax.ShapeDtypeStruct((3,), lnp.bfloat16), v))(x)
    assert out.dtype == BF16 and seen and all(d == BF16 for d in seen)


# ------------------------------------------------------------------------------------------
# Arithmetic


def _binary_ops():
    return {"add": lambda m, a, b: a + b, "sub": lambda m, a, b: a - b,
            "mul": lambda m, a, b: a * b, "div": lambda m, a, b: a / b,
            "max": lambda m, a, b: m.maximum(a, b), "pow": lambda m, a, b: m.abs(a) ** b,
            "atan2": lambda m, a, b: m.arctan2(a, b), "lt": lambda m, a, b: a < b,
            "weak": lambda m, a, b: a * 0.3 + 1}


@pytest.mark.parametrize("name", ["bfloat16", "float16"])
@pytest.mark.parametrize("op", list(_binary_ops()))
def test_binary_arithmetic_matches_jax(name: str, op: str) -> None:
    dt = np.dtype(getattr(ml_dtypes, name, None) or name)
    a, b = _normal_values(dt, 256, seed=1), _normal_values(dt, 256, seed=2) * np.ones((), dt)
    fn = _binary_ops()[op]
    want = fn(jnp, jnp.asarray(a), jnp.asarray(b))
    _same(fn(lnp, lnp.asarray(a), lnp.asarray(b)), want)
    jit_want = jax.jit(lambda x, y: fn(jnp, x, y))(jnp.asarray(a), jnp.asarray(b))
    jit_got = llax.jit(lambda x, y: fn(lnp, x, y))(lnp.asarray(a), lnp.asarray(b))
    assert jit_got.dtype == jit_want.dtype
    if jit_got.dtype != np.bool_:  # one op: the same rounding, whatever XLA fuses
        assert _ulps(jit_want, jit_got, jit_got.dtype).max() <= 1


_UNARY = ["neg", "abs", "sign", "exp", "exp2", "log", "log1p", "expm1", "tanh", "logistic",
          "sin", "cos", "tan", "acos", "atan", "atanh", "sqrt", "rsqrt", "floor", "ceil",
          "round", "erf", "square", "is_finite"]


def test_bfloat16_unary_ops_match_jax_on_every_value() -> None:
    """Every normal bfloat16 value through each lax op: computed in float32 and rounded once
    (logistic, exp2, acos, atanh, integer_pow: rounded after each op of XLA's expansion), as
    XLA's CPU. (asin, asinh, acosh expand otherwise and are left out: up to an ulp apart.)"""
    x = _all_normal_values(BF16)
    ours, theirs = lnp.asarray(x), jnp.asarray(x)
    # (JAX's in one jit, which gives what its eager ops give, one compile instead of many.)
    wants = jax.jit(lambda v: [getattr(jax.lax, name)(v) for name in _UNARY])(theirs)
    for name, want in zip(_UNARY, wants, strict=True):
        want = np.asarray(want)
        got = np.asarray(getattr(llax.lax, name)(ours))
        assert got.dtype == want.dtype, name
        if want.dtype == np.bool_:
            np.testing.assert_array_equal(got, want)
            continue
        ulps = _ulps(want, got, BF16)
        # exp's float32 result can sit a hair from a bfloat16 tie; XLA's and NumPy's float32
        # exp differ there by one float32 ulp, which decides the tie (one value: 6.84375).
        assert ulps.max() <= 1 and np.count_nonzero(ulps) <= 2, (name, np.flatnonzero(ulps))
    for y in (2, 3, 5, -1, -3):
        want = np.asarray(jax.lax.integer_pow(theirs, y))
        got = np.asarray(llax.lax.integer_pow(ours, y))
        finite = np.abs(want.astype(np.float32)) >= float(ml_dtypes.finfo(BF16).smallest_normal)
        finite &= np.isfinite(want.astype(np.float32))  # (XLA flushes subnormal products)
        np.testing.assert_array_equal(got[finite].astype(np.float32),
                                      want[finite].astype(np.float32), err_msg=str(y))


@pytest.mark.parametrize("name", ["float8_e4m3fn", "float8_e5m2", "float8_e4m3b11fnuz",
                                  "float8_e3m4", "float4_e2m1fn", "int4", "uint4"])
def test_narrow_arithmetic_matches_jax(name: str) -> None:
    lt = getattr(lnp, name)
    rng = np.random.default_rng(3)
    if name.startswith(("int", "uint")):
        info = ml_dtypes.iinfo(getattr(ml_dtypes, name))
        a, b = (rng.integers(info.min, info.max + 1, 32).astype(np.dtype(lt)) for _ in range(2))
    else:
        a, b = ((rng.standard_normal(32) * 2).astype(np.float32).astype(np.dtype(lt))
                for _ in range(2))
    for fn in (lambda x, y: x + y, lambda x, y: x * y, lambda x, y: x - y * 2,
               lambda x, y: x < y, lambda x, y: -x):
        _same(fn(lnp.asarray(a), lnp.asarray(b)), fn(jnp.asarray(a), jnp.asarray(b)))
        _same(llax.jit(fn)(lnp.asarray(a), lnp.asarray(b)), fn(jnp.asarray(a), jnp.asarray(b)))


@pytest.mark.parametrize("pair", [("float8_e4m3fn", "float32"), ("float8_e4m3fn", "bfloat16"),
                                  ("float8_e5m2", "float8_e4m3fn"), ("int4", "int8"),
                                  ("int4", "float32"), ("float4_e2m1fn", "complex64")])
def test_no_implicit_promotion_raises_as_jax(pair: tuple[str, str]) -> None:
    a, b = pair
    with pytest.raises(jax.dtypes.TypePromotionError):
        jnp.ones(2, a) + jnp.ones(2, b)
    with pytest.raises(ValueError, match="no available implicit dtype promotion path"):
        lnp.ones(2, a) + lnp.ones(2, b)
    with pytest.raises(ValueError, match="no available implicit dtype promotion path"):
        llax.jit(lambda x, y: x * y)(lnp.ones(2, a), lnp.ones(2, b))


def test_mixed_promotion_through_operators() -> None:
    cases = [("bfloat16", "float16"), ("bfloat16", "int32"), ("bfloat16", "uint8"),
             ("bfloat16", "bool"), ("bfloat16", "float32"), ("float8_e4m3fn", "int8"),
             ("int4", "bool")]
    for a, b in cases:
        x = np.array([1, 0, 2], np.float32)
        ours = lnp.asarray(x).astype(a) + lnp.asarray(x).astype(b)
        theirs = jnp.asarray(x).astype(a) + jnp.asarray(x).astype(b)
        _same(ours, theirs)
    for scalar in (1, 2.5, True):
        ours = lnp.ones(2, lnp.bfloat16) * scalar
        theirs = jnp.ones(2, jnp.bfloat16) * scalar
        _same(ours, theirs)
        assert ours.weak_type == theirs.weak_type
    ours, theirs = lnp.ones(2, lnp.bfloat16) + 1j, jnp.ones(2, jnp.bfloat16) + 1j
    _same(ours, theirs)


_REDUCTIONS = {
    "sum": lambda m, x: m.sum(x), "sum0": lambda m, x: m.sum(x, axis=0),
    "mean": lambda m, x: m.mean(x, axis=1), "var": lambda m, x: m.var(x),
    "std": lambda m, x: m.std(x, axis=0), "prod": lambda m, x: m.prod(x[:, :4], axis=1),
    "max": lambda m, x: m.max(x, axis=1), "argmin": lambda m, x: m.argmin(x, axis=0),
    "matmul": lambda m, x: x @ x.T, "dot_f32": lambda m, x: m.dot(x, x.T,
                                                              preferred_element_type=m.float32),
    "einsum": lambda m, x: m.einsum("ij,kj->ik", x, x), "logsumexp": None, "softmax": None,
    "cumsum": lambda m, x: m.cumsum(x, axis=1), "sort": lambda m, x: m.sort(x, axis=1),
}


def _reduction(name: str):
    if name == "logsumexp":
        return lambda m, x: (jax.nn if m is jnp else llax.nn).logsumexp(x, axis=1)
    if name == "softmax":
        return lambda m, x: (jax.nn if m is jnp else llax.nn).softmax(x, axis=1)
    return _REDUCTIONS[name]


@pytest.mark.parametrize("name", list(_REDUCTIONS))
def test_bfloat16_reductions_and_contractions_match_jax(name: str) -> None:
    """Sums accumulate in float32 (JAX converts first), contractions too (XLA's dot): the
    same to one bfloat16 ulp (jit and the cumulative sums' order may round differently)."""
    fn = _reduction(name)
    x = _normal_values(BF16, 600, scale=1.0, seed=4).reshape(20, 30)
    for transform_l, transform_j in ((lambda f: f, lambda f: f), (llax.jit, jax.jit)):
        want = transform_j(lambda v: fn(jnp, v))(jnp.asarray(x))
        got = transform_l(lambda v: fn(lnp, v))(lnp.asarray(x))
        assert got.dtype == want.dtype and got.shape == want.shape, name
        if np.dtype(got.dtype).kind in "iu":
            np.testing.assert_array_equal(got, want)
        elif name == "cumsum":  # XLA's reduce-window rounds each add to bfloat16, in a tree
            bound = 8 * float(ml_dtypes.finfo(BF16).eps) * np.cumsum(
                np.abs(x.astype(np.float64)), axis=1)
            assert (np.abs(np.asarray(got, np.float64) - np.asarray(want, np.float64))
                    <= bound).all()
        elif got.dtype == np.float32:  # accumulated in float32 in some order: to its rounding
            scale = np.abs(x.astype(np.float64)) @ np.abs(x.astype(np.float64)).T
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 * scale.max())
        else:
            tol = 2 if name == "softmax" else 1  # (exp, sum, divide: each may round apart)
            assert _ulps(want, got, np.dtype(got.dtype)).max() <= tol, name


def test_bfloat16_linspace_close_to_jax() -> None:
    # JAX computes start * (1 - t) + stop * t in bfloat16, llax start + i * step: each
    # rounds to a neighbour of the exact value.
    for args in [(0, 1, 7), (-3, 5, 11), (2, -1, 20)]:
        got = lnp.linspace(*args, dtype=lnp.bfloat16)
        want = jnp.linspace(*args, dtype=jnp.bfloat16)
        assert got.dtype == want.dtype
        step = float(ml_dtypes.finfo(BF16).eps) * max(abs(args[0]), abs(args[1]))
        assert (np.abs(np.asarray(got, np.float64) - np.asarray(want, np.float64))
                <= 2 * step).all(), args


def test_bfloat16_long_sums_accumulate_in_float32() -> None:
    x = lnp.ones(1000, lnp.bfloat16)
    for fn in (lnp.sum, lnp.mean, lambda v: v @ v, lambda v: llax.lax.reduce_sum(v, (0,))):
        jfn = {lnp.sum: jnp.sum, lnp.mean: jnp.mean}.get(fn)
        want = jfn(jnp.ones(1000, jnp.bfloat16)) if jfn else None
        got = fn(x)
        assert got.dtype == BF16
        if want is not None:
            _same(got, want)
        assert float(got) in (1.0, 1000.0)


def test_float16_stays_as_before() -> None:
    x = _normal_values(np.dtype(np.float16), 200, seed=5)
    for fn in (lambda m, v: m.sum(v), lambda m, v: m.exp(v) * v + 1, lambda m, v: m.tanh(v)):
        want = fn(jnp, jnp.asarray(x))
        got = fn(lnp, lnp.asarray(x))
        assert got.dtype == want.dtype
        assert _ulps(want, got, np.dtype(np.float16)).max() <= 1


# ------------------------------------------------------------------------------------------
# Autodiff and random numbers


def test_grad_gives_bfloat16_cotangents() -> None:
    def f(m, x):
        return m.sum(m.sin(x) * x + x ** 2)

    x = _normal_values(BF16, 16, scale=1.0, seed=6)
    want = jax.grad(lambda v: f(jnp, v))(jnp.asarray(x))
    got = llax.grad(lambda v: f(lnp, v))(lnp.asarray(x))
    assert got.dtype == want.dtype == BF16
    assert _ulps(want, got, BF16).max() <= 2
    jit_got = llax.jit(llax.grad(lambda v: f(lnp, v)))(lnp.asarray(x))
    assert jit_got.dtype == BF16 and _ulps(want, jit_got, BF16).max() <= 2
    # A float32 function of a bfloat16 input: the cotangent is bfloat16 again.
    g = llax.grad(lambda v: lnp.sum(v.astype(lnp.float32) ** 2))(lnp.asarray(x))
    jg = jax.grad(lambda v: jnp.sum(v.astype(jnp.float32) ** 2))(jnp.asarray(x))
    _same(g, jg)


@pytest.mark.parametrize("sampler", ["normal", "uniform"])
def test_random_samplers_match_jax_bits(sampler: str) -> None:
    """bfloat16 draws take 8 random bits (under 8 mantissa bits), as JAX's."""
    got = getattr(llax.random, sampler)(llax.random.key(7), (500,), lnp.bfloat16)
    want = getattr(jax.random, sampler)(jax.random.key(7), (500,), jnp.bfloat16)
    _same(got, want)
