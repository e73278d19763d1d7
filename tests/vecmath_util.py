"""Shared harness of the vecmath tests (tests/test_vecmath_*.py).

Each emitter is wrapped in a loop kernel ``void k_<op>(T* noalias x, T* noalias y,
i64 n)`` (binary ops take two inputs) and a kernel on one ``<W x T>`` value (W = 4
unless asked); all
kernels of one dtype are optimised together at O3 for the host CPU with the new
pass manager and JIT-compiled with MCJIT, then called through ctypes.  Errors are
measured in ulps of the result type against numpy in float64 (float32 results) or
x87 long double / mpmath (float64 results).

Samples: dense intervals where each function is interesting, plus a stratified
sweep of every binade of the format (both signs, subnormals) and the special
values, so every exponent an input can have is exercised.
"""

from __future__ import annotations

import ctypes
import re
from collections.abc import Callable

import llvmlite.binding as llvm
import numpy as np
import pytest
from llvmlite import ir

from llax.codegen import vecmath

F32, F64 = np.float32, np.float64
LD = np.longdouble
HAVE_LONG_DOUBLE = np.finfo(LD).nmant >= 63
DTYPES = [pytest.param(F32, id="f32"), pytest.param(F64, id="f64")]
BINARY = ("atan2", "pow")
ERF_FAMILY = ("erf", "erfc", "erf_inv")


def nin(op: str) -> int:
    return 2 if op in BINARY else 1


# ---------------------------------------------------------------------------
# JIT harness
# ---------------------------------------------------------------------------


def _ir_type(dtype) -> ir.Type:
    return ir.FloatType() if dtype == F32 else ir.DoubleType()


def _loop_kernel(module: ir.Module, name: str, ty: ir.Type, emit: Callable, n_in: int) -> None:
    """for (i = 0; i < n; i++) y[i] = emit(x0[i], ...)."""
    i64 = ir.IntType(64)
    ptr = ty.as_pointer()
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [ptr] * (n_in + 1) + [i64]), name)
    for arg in fn.args[:-1]:
        arg.add_attribute("noalias")
    entry, loop, done = (fn.append_basic_block(s) for s in ("entry", "loop", "done"))
    b = ir.IRBuilder(entry)
    n = fn.args[-1]
    b.cbranch(b.icmp_signed(">", n, i64(0)), loop, done)
    b.position_at_end(loop)
    i = b.phi(i64)
    i.add_incoming(i64(0), entry)
    args = [b.load(b.gep(p, [i], inbounds=True)) for p in fn.args[:n_in]]
    b.store(emit(b, *args), b.gep(fn.args[n_in], [i], inbounds=True))
    nxt = b.add(i, i64(1))
    i.add_incoming(nxt, b.block)  # an emitter may have branched (trig's rare path)
    b.cbranch(b.icmp_signed("<", nxt, n), loop, done)
    b.position_at_end(done)
    b.ret_void()


def _vector_kernel(module: ir.Module, name: str, ty: ir.Type, emit: Callable, n_in: int,
                   width: int) -> None:
    """*y = emit(*x0, ...) on one <width x T> value: the emitters on vector operands."""
    vty = ir.VectorType(ty, width)
    ptr = vty.as_pointer()
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [ptr] * (n_in + 1)), name)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    align = 4 if isinstance(ty, ir.FloatType) else 8  # numpy slices: element alignment only
    args = [b.load(p, align=align) for p in fn.args[:n_in]]
    b.store(emit(b, *args), fn.args[n_in], align=align)
    b.ret_void()


class Kernels:
    """Emitters (default: all of vecmath's) of one dtype, compiled into one MCJIT engine."""

    def __init__(self, dtype, emitters: dict[str, Callable] | None = None,
                 vector_width: int = 4) -> None:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        self.dtype = dtype
        self.vector_width = vector_width
        emitters = vecmath.EMITTERS if emitters is None else emitters
        ty = _ir_type(dtype)
        module = ir.Module(name=f"vecmath_{np.dtype(dtype).name}")
        for op, emit in emitters.items():
            _loop_kernel(module, f"k_{op}", ty, emit, nin(op))
            _vector_kernel(module, f"v_{op}", ty, emit, nin(op), vector_width)
        target = llvm.Target.from_default_triple()
        try:
            features = llvm.get_host_cpu_features().flatten()
        except RuntimeError:
            features = ""
        self.tm = target.create_target_machine(
            cpu=llvm.get_host_cpu_name(), features=features, opt=3
        )
        module.triple = llvm.get_process_triple()
        module.data_layout = str(self.tm.target_data)
        mod = llvm.parse_assembly(str(module))
        mod.verify()
        pto = llvm.create_pipeline_tuning_options(speed_level=3)
        pto.loop_vectorization = True
        pto.slp_vectorization = True
        pb = llvm.create_pass_builder(self.tm, pto)
        pb.getModulePassManager().run(mod, pb)
        self.optimized_ir = str(mod)
        self.engine = llvm.create_mcjit_compiler(mod, self.tm)
        self.engine.finalize_object()
        p = ctypes.c_void_p
        self._loop: dict[str, Callable] = {}
        self._vec: dict[str, Callable] = {}
        for op in emitters:
            loop_t = ctypes.CFUNCTYPE(None, *([p] * (nin(op) + 1)), ctypes.c_int64)
            vec_t = ctypes.CFUNCTYPE(None, *([p] * (nin(op) + 1)))
            self._loop[op] = loop_t(self.engine.get_function_address(f"k_{op}"))
            self._vec[op] = vec_t(self.engine.get_function_address(f"v_{op}"))

    def __call__(self, op: str, *xs: np.ndarray) -> np.ndarray:
        xs = tuple(np.ascontiguousarray(x, dtype=self.dtype) for x in xs)
        out = np.empty_like(xs[0])
        self._loop[op](*(x.ctypes.data for x in xs), out.ctypes.data, out.size)
        return out

    def vector(self, op: str, *xs: np.ndarray) -> np.ndarray:
        """Apply the emitter to <W x T> operands, W elements at a time (a multiple of W)."""
        xs = tuple(np.ascontiguousarray(x, dtype=self.dtype) for x in xs)
        out = np.empty_like(xs[0])
        w = self.vector_width
        assert out.size % w == 0, f"{out.size} elements are not a multiple of {w}"
        for j in range(0, out.size, w):
            args = [x[j:j + w].ctypes.data for x in xs]
            self._vec[op](*args, out[j:j + w].ctypes.data)
        return out

    def kernel_ir(self, op: str) -> str:
        m = re.search(rf'define [^\n]*@"?k_{op}"?\(.*?\n}}\n', self.optimized_ir, re.S)
        assert m, f"kernel k_{op} not found"
        return m.group(0)


_KERNELS: dict[type, Kernels] = {}


def kernels(dtype) -> Kernels:
    if dtype not in _KERNELS:
        _KERNELS[dtype] = Kernels(dtype)
    return _KERNELS[dtype]


# ---------------------------------------------------------------------------
# References
# ---------------------------------------------------------------------------


def _logistic(x):
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


NUMPY_REF: dict[str, Callable] = {
    "exp": np.exp,
    "exp2": np.exp2,
    "expm1": np.expm1,
    "log": np.log,
    "log1p": np.log1p,
    "tanh": np.tanh,
    "logistic": _logistic,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "atan": np.arctan,
    "asin": np.arcsin,
    "acos": np.arccos,
    "atan2": np.arctan2,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "asinh": np.arcsinh,
    "acosh": np.arccosh,
    "atanh": np.arctanh,
    "cbrt": np.cbrt,
    "pow": np.power,
}


def scipy_ref(op: str) -> Callable:
    import scipy.special as sp

    return {"erf": sp.erf, "erfc": sp.erfc, "erf_inv": sp.erfinv}[op]


def _mpmath_ref(op: str) -> Callable:
    """Elementwise mpmath at 40 digits, returned as long double."""
    import mpmath as mp

    fn = {"erf": mp.erf, "erfc": mp.erfc, "erf_inv": mp.erfinv}[op]

    def one(v: float):
        if not abs(v) < (1 if op == "erf_inv" else 30):  # exact 0, +-1, 2, inf or nan
            return LD(scipy_ref(op)(np.float64(v)))
        with mp.workdps(40):
            return LD(mp.nstr(fn(mp.mpf(float(v))), 30))  # strtold: full precision

    return lambda x: np.array([one(v) for v in x], dtype=LD)


def reference(op: str, dtype, *xs: np.ndarray) -> np.ndarray:
    """The exact-ish value: float64 for float32 results, long double for float64."""
    hp = F64 if dtype == F32 else LD
    with np.errstate(all="ignore"):
        if op in ERF_FAMILY:
            if dtype == F32:
                return scipy_ref(op)(*(x.astype(F64) for x in xs))
            return _mpmath_ref(op)(*xs)
        return NUMPY_REF[op](*(x.astype(hp) for x in xs))


def ulp_errors(res: np.ndarray, ref: np.ndarray, dtype) -> np.ndarray:
    """|res - ref| in ulps of dtype at ref (ref in higher precision).

    NaN must match NaN, a result that should round to +-inf must be that inf
    (or the largest finite number, counted in ulps); mismatches give inf.
    """
    info = np.finfo(dtype)
    hp = ref.dtype.type
    with np.errstate(all="ignore"):
        ref_t = ref.astype(dtype)  # correctly rounded target value
        res_h = res.astype(hp)
        # An infinite result counts as 2^(emax+1), one ulp above the maximum.
        res_h = np.where(np.isinf(res_h), np.copysign(hp(2.0) ** info.maxexp, res_h), res_h)
        _, ex = np.frexp(np.abs(ref))
        ex = np.clip(ex - 1, info.minexp, info.maxexp - 1)
        ulp = np.ldexp(hp(1.0), ex - info.nmant)
        err = np.abs(res_h - ref) / ulp
    both_nan = np.isnan(res) & np.isnan(ref)
    exact = np.isinf(ref_t) & (res == ref_t)  # overflow to inf, as wanted
    err = np.where(both_nan | exact, 0.0, err)
    err = np.where(np.isnan(res) != np.isnan(ref), np.inf, err)
    err = np.where(np.isinf(ref) & ~exact, np.inf, err)  # true infinities are exact
    return err.astype(F64)


def assert_accurate(op: str, dtype, xs: tuple[np.ndarray, ...], bound: float) -> float:
    """Max error of op on xs (loop kernel) is within bound ulps; returns it."""
    res = kernels(dtype)(op, *xs)
    ref = reference(op, dtype, *xs)
    err = ulp_errors(res, ref, dtype)
    worst = int(np.argmax(err))
    assert err[worst] <= bound, (
        f"{op}[{np.dtype(dtype).name}]: {err[worst]:.3g} ulp > {bound} at "
        f"x={[x[worst] for x in xs]} got {res[worst]!r} want {ref[worst]!r}"
    )
    return float(err[worst])


# ---------------------------------------------------------------------------
# Samples
# ---------------------------------------------------------------------------


def random_bits(rng: np.random.Generator, dtype, n: int) -> np.ndarray:
    it = np.uint32 if dtype == F32 else np.uint64
    return rng.integers(0, np.iinfo(it).max, size=n, dtype=it, endpoint=True).view(dtype)


def uniform(rng, lo: float, hi: float, n: int, dtype) -> np.ndarray:
    return rng.uniform(lo, hi, n).astype(dtype)


def log_uniform(rng, lo: float, hi: float, n: int, dtype, signed: bool = False) -> np.ndarray:
    v = np.exp(rng.uniform(np.log(lo), np.log(hi), n))
    if signed:
        v *= rng.choice([-1.0, 1.0], n)
    return v.astype(dtype)


def every_binade(rng, dtype, per_binade: int) -> np.ndarray:
    """per_binade random floats of each binade (each exponent field value,
    subnormals included), both signs: the whole finite range, stratified."""
    info = np.finfo(dtype)
    it = np.uint32 if dtype == F32 else np.uint64
    mbits, ebits = info.nmant, info.bits - info.nmant - 1
    fields = np.arange((1 << ebits) - 1, dtype=it)  # 0 (subnormal) .. max finite
    exps = np.repeat(fields, per_binade) << it(mbits)
    mants = rng.integers(0, 1 << mbits, size=exps.size, dtype=it)
    signs = rng.integers(0, 2, size=exps.size, dtype=it) << it(info.bits - 1)
    return (exps | mants | signs).view(dtype)


def near_one(rng, n: int, dtype) -> np.ndarray:
    """1 - d for d log-uniform down to the spacing below 1, both signs."""
    eps = np.finfo(dtype).epsneg
    d = log_uniform(rng, eps, 0.5, n, F64)
    v = (1.0 - d) * rng.choice([-1.0, 1.0], n)
    return v.astype(dtype)


def specials(dtype) -> np.ndarray:
    info = np.finfo(dtype)
    vals = [0.0, np.inf, np.nan, float(info.smallest_subnormal), float(info.tiny),
            float(info.tiny) * 0.75, float(info.max), 1.0, 0.5, 2.0, 3.0, 1e-3, 100.0, 1e30]
    v = np.array(vals, dtype=dtype)
    return np.concatenate([v, -v])


def unary_samples(rng, dtype, intervals: list[tuple[float, float]], n: int,
                  per_binade: int) -> np.ndarray:
    """Random bit patterns, dense intervals, every binade and the specials."""
    chunks = [random_bits(rng, dtype, n), every_binade(rng, dtype, per_binade), specials(dtype)]
    chunks += [uniform(rng, lo, hi, n, dtype) for lo, hi in intervals]
    return np.concatenate(chunks)


def n_samples(op: str, dtype) -> int:
    """Per interval; the float64 erf family has a slow (mpmath) reference."""
    if dtype == F64 and op in ERF_FAMILY:
        return 800
    return 100_000 if dtype == F32 else 50_000


def per_binade(op: str, dtype) -> int:
    if dtype == F64 and op in ERF_FAMILY:
        return 1  # 2046 binades: mpmath references
    return 64 if dtype == F32 else 16


# ---------------------------------------------------------------------------
# Special values: exactly numpy's result where that is special
# ---------------------------------------------------------------------------


def check_special_values(op: str, dtype, bound: float) -> None:
    """inf/nan/signed zero/subnormal/huge inputs: exactly numpy's result
    (including the sign of zero) where that is special, else within bound."""
    s = specials(dtype)
    xs = (np.repeat(s, s.size), np.tile(s, s.size)) if op in BINARY else (s,)
    res = kernels(dtype)(op, *xs)
    hp = F64 if dtype == F32 else LD
    with np.errstate(all="ignore"):
        if op in ERF_FAMILY:
            ref = scipy_ref(op)(*(x.astype(F64) for x in xs)).astype(hp)
        else:
            ref = NUMPY_REF[op](*(x.astype(hp) for x in xs))
        ref_t = ref.astype(dtype)
    if op == "erf_inv":  # scipy drops the sign of -0; erf_inv is odd
        ref_t = np.where(ref_t == 0, xs[0], ref_t)
    special = ~np.isfinite(ref_t) | (ref_t == 0)
    for i in np.flatnonzero(special):
        args = [x[i] for x in xs]
        if np.isnan(ref_t[i]):
            assert np.isnan(res[i]), f"{op}{args}: got {res[i]!r}, want nan"
        else:
            assert res[i] == ref_t[i] and np.signbit(res[i]) == np.signbit(ref_t[i]), (
                f"{op}{args}: got {res[i]!r}, want {ref_t[i]!r}"
            )
    if dtype == F64 and (op in ERF_FAMILY or not HAVE_LONG_DOUBLE):
        return  # scipy / double references are not accurate enough for float64
    err = ulp_errors(res[~special], ref[~special], dtype)
    assert err.max(initial=0) <= bound


# ---------------------------------------------------------------------------
# The tests every family runs
# ---------------------------------------------------------------------------

Samples = Callable[[str, type, np.random.Generator, int, int], tuple[np.ndarray, ...]]


def family_tests(bounds: dict[str, tuple[float, float]], samples: Samples):
    """(test_accuracy, test_special_values, test_dense_sweep) for the ops in bounds.

    bounds[op] = asserted maximum ulps (float32, float64): the family module's
    accuracy table rounded up.  samples(op, dtype, rng, n, per_binade) gives the
    arguments: n per dense interval, per_binade in each binade of the format.
    test_dense_sweep (marker slow) is the same with ~40 times more samples.
    """

    def bound(op, dtype) -> float:
        return bounds[op][0 if dtype == F32 else 1]

    @pytest.mark.parametrize("dtype", DTYPES)
    @pytest.mark.parametrize("op", list(bounds))
    def test_accuracy(op: str, dtype) -> None:
        xs = samples(op, dtype, np.random.default_rng(0), n_samples(op, dtype),
                     per_binade(op, dtype))
        assert_accurate(op, dtype, xs, bound(op, dtype))

    @pytest.mark.parametrize("dtype", DTYPES)
    @pytest.mark.parametrize("op", list(bounds))
    def test_special_values(op: str, dtype) -> None:
        check_special_values(op, dtype, bound(op, dtype))

    @pytest.mark.slow
    @pytest.mark.parametrize("dtype", DTYPES)
    @pytest.mark.parametrize("op", list(bounds))
    def test_dense_sweep(op: str, dtype) -> None:
        slow_ref = dtype == F64 and op in ERF_FAMILY
        xs = samples(op, dtype, np.random.default_rng(1), 20_000 if slow_ref else 2_000_000,
                     4 if slow_ref else (4096 if dtype == F32 else 512))
        assert_accurate(op, dtype, xs, bound(op, dtype))

    return test_accuracy, test_special_values, test_dense_sweep
