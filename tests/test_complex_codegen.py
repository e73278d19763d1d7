"""Native code for complex64/complex128, against the NumPy reference and NumPy itself.

Every test asserts that jit really compiled the function natively (``entry`` is the native
builtin; a function the code generator refuses runs in the interpreter and has none).
Elementwise arithmetic must equal the reference bit for bit (NaN for NaN) over a grid of
edge values (zeros of both signs, infinities, NaN, the largest and smallest normal and
subnormal numbers, values near 1) crossed as real and imaginary parts; transcendental
functions must agree in their special values exactly and be within a few ulps elsewhere.

(NumPy's own complex product rounds differently for contiguous operands, its fused SIMD
loop, and reversed ones, a plain loop: llax computes what the reference computes on
contiguous arrays.)
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

import llax
import llax.numpy as lnp
from llax import lax
from llax.ir.primitive import PRIMITIVES
from llax.tests.codegen_util import assert_vectorised
from llax.tests.jnp_oracle import x64_mode

C64, C128 = np.dtype(np.complex64), np.dtype(np.complex128)
CDTYPES = [C64, C128]


@pytest.fixture(params=CDTYPES, ids=["c64", "c128"])
def cdt(request):
    """A complex dtype, with x64 on for complex128 (llax and JAX both)."""
    with x64_mode(request.param == C128):
        yield request.param


def part(dt) -> np.dtype:
    return np.dtype(np.float32 if np.dtype(dt) == C64 else np.float64)


def native(f, *args, **kw):
    """``jit(f)(*args)``, asserting that it ran native code."""
    jf = llax.jit(f, **kw)
    assert jf.lower(*args).compile().entry is not None, "jit fell back to the interpreter"
    return jf(*args)


def reference(f, *args):
    return llax.jit(f, backend="interpreter")(*args)


def edge_values(dt, n_random: int = 300, seed: int = 0) -> np.ndarray:
    ft = part(dt)
    fi = np.finfo(ft)
    special = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -2.0, np.inf, -np.inf, np.nan, fi.max,
                        -fi.max, fi.tiny, -fi.tiny / 8, 1 + fi.eps, 1 - fi.eps / 2, 0.7, 3.5,
                        -100.0, 100.0, 720.0, -750.0, 89.0, 1e10, np.pi / 2], ft)
    re, im = np.meshgrid(special, special)
    grid = np.empty(re.size, dt)
    grid.real, grid.imag = re.ravel(), im.ravel()
    rng = np.random.default_rng(seed)
    rand = (rng.standard_normal(n_random) * 3 + 1j * rng.standard_normal(n_random) * 3)
    return np.concatenate([grid, rand.astype(dt)])


def rand_complex(shape, dt, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dt)


def assert_identical(got, want, what: str = "") -> None:
    """Same dtype, shape and bits (any NaN matches any NaN, part by part)."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, what
    if got.dtype.kind == "c":
        assert_identical(got.real, want.real, f"{what} (real part)")
        assert_identical(got.imag, want.imag, f"{what} (imaginary part)")
        return
    if got.dtype.kind == "f":
        same = (got == want) & (np.signbit(got) == np.signbit(want))
        same |= np.isnan(got) & np.isnan(want)
    else:
        same = got == want
    bad = np.flatnonzero(~same)
    assert bad.size == 0, f"{what}: {bad.size} differ, e.g. at {bad[:5]}: {got.ravel()[bad[:5]]} " \
                          f"vs {want.ravel()[bad[:5]]}"


def same_specials(got: np.ndarray, want: np.ndarray, zeros: bool = True) -> np.ndarray:
    """Where the two complex arrays agree on NaN, infinity (with its sign) and, with
    ``zeros``, on zero (with its sign)."""
    ok = np.ones(got.shape, bool)
    for g, w in ((got.real, want.real), (got.imag, want.imag)):
        ok &= np.isnan(g) == np.isnan(w)
        ok &= np.isinf(g) == np.isinf(w)
        signed = np.isinf(w)
        if zeros:
            ok &= (g == 0) == (w == 0)
            signed |= w == 0
        ok &= (np.signbit(g) == np.signbit(w)) | ~signed
    return ok


def ulps(got: np.ndarray, want: np.ndarray, normwise: bool) -> np.ndarray:
    """Error of finite results in ulps: of each part (``normwise``: of |want|)."""
    ft = got.real.dtype
    err = np.zeros(got.shape)
    tiny = np.finfo(ft).tiny
    for g, w in ((got.real, want.real), (got.imag, want.imag)):
        scale = np.abs(want) if normwise else np.abs(w)
        scale = np.maximum(np.nan_to_num(scale.astype(ft), posinf=0), tiny)
        d = np.abs(np.nan_to_num(g.astype(np.float64) - w.astype(np.float64)))
        err = np.maximum(err, d / np.spacing(scale).astype(np.float64))
    return np.where(np.isfinite(want) & np.isfinite(got), err, 0)


# --- elementwise: exactly NumPy's arithmetic ------------------------------------------------

EXACT_UNARY = {
    "neg": lambda x: -x, "conj": lnp.conj, "real": lnp.real, "imag": lnp.imag,
    "abs": lnp.abs, "square": lambda x: lax.square(x), "cube": lambda x: x ** 3,
    "pow7": lambda x: lax.integer_pow(x, 7), "pow0": lambda x: lax.integer_pow(x, 0),
    "pow1": lambda x: lax.integer_pow(x, 1), "pow_neg": lambda x: lax.integer_pow(x, -3),
    "to_bool": lambda x: x.astype(bool),
    "to_float": lambda x: lax.convert_element_type(x, x.real.dtype),
    "to_int": lambda x: lax.convert_element_type(x, np.int32),
    "widen_narrow": lambda x: x.astype(lnp.complex64).astype(x.dtype),
    "stop_gradient": lax.stop_gradient,
}


def _each(table: dict):
    """One function computing every entry of ``table`` (one compilation for them all)."""
    return lambda *args: {name: f(*args) for name, f in table.items()}


def test_unary_exactly_as_the_reference(cdt):
    x = edge_values(cdt)
    f = _each(EXACT_UNARY)
    got, want = native(f, x), reference(f, x)
    for name in EXACT_UNARY:
        assert_identical(got[name], want[name], name)


EXACT_BINARY = {
    "add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
    "div": lambda x, y: x / y, "eq": lambda x, y: x == y, "ne": lambda x, y: x != y,
    "select": lambda x, y: lnp.where(x.real < y.imag, x, y),
    "complex": lambda x, y: lax.complex(x.real, y.imag),
    "max": lax.max, "min": lax.min,
}


def test_binary_exactly_as_the_reference(cdt):
    v = edge_values(cdt, n_random=100)
    x, y = np.repeat(v, v.size // 8), np.tile(v, v.size // 8)[: v.size * (v.size // 8)]
    f = _each(EXACT_BINARY)
    # Arrays, and a rank-0 operand broadcast against an array.
    for args in ((x, y), (x[:50], y[7])):
        got, want = native(f, *args), reference(f, *args)
        for name in EXACT_BINARY:
            assert_identical(got[name], want[name], name)


def test_arithmetic_is_numpys(cdt):
    x, y = edge_values(cdt), np.ascontiguousarray(edge_values(cdt, seed=3)[::-1])
    with np.errstate(all="ignore"):
        assert_identical(native(lambda a, b: a * b, x, y), x * y)
        assert_identical(native(lambda a, b: a / b, x, y), x / y)
        assert_identical(native(lambda a: lnp.abs(a), x), np.abs(x))
        assert_identical(native(lambda a, b: a * b + lnp.conj(a), x, y), x * y + np.conj(x))


def test_real_to_complex_conversions(cdt):
    ft = part(cdt)
    x = np.array([0.0, -0.0, 1.5, np.inf, -np.inf, np.nan, -3.25], ft)
    i = np.array([0, -1, 7, 2**31 - 1, -(2**31)], np.int32)
    f = lambda a, k: (a.astype(cdt), k.astype(cdt), (a > 0).astype(cdt))  # noqa: E731
    for g, w in zip(native(f, x, i), (x.astype(cdt), i.astype(cdt), (x > 0).astype(cdt))):
        assert_identical(g, w)


# --- transcendental functions ---------------------------------------------------------------

# C library functions (glibc's algorithms): each part within a few ulps.
PARTWISE = ["exp", "log", "sqrt", "sin", "cos", "sinh", "cosh", "atan", "atanh", "asin",
            "asinh", "acos", "acosh"]
# NumPy's formulas over real functions (with their own cancellation), and tan/tanh (a
# quotient): within a few ulps of the result's magnitude.
NORMWISE = ["exp2", "expm1", "log1p", "sign", "rsqrt", "logistic", "tan", "tanh"]


@pytest.mark.parametrize("name", PARTWISE + NORMWISE)
def test_transcendental_functions(cdt, name):
    prim = PRIMITIVES[name]
    x = edge_values(cdt)
    f = lambda a: prim.bind(a)  # noqa: E731
    got, want = np.asarray(native(f, x)), np.asarray(reference(f, x))
    assert got.dtype == want.dtype == cdt
    special = ~same_specials(got, want)
    assert not special.any(), f"special values differ at {x[special][:6]}: " \
                              f"{got[special][:6]} vs {want[special][:6]}"
    err = ulps(got, want, normwise=name in NORMWISE)
    bound = 4 if name in PARTWISE else 8
    assert err.max() <= bound, f"{err.max()} ulps at {x[np.argmax(err)]}"


def test_pow(cdt):
    # x ** y is cexp(y clog(x)) (integral real y < 100: products), so its error grows with
    # |y log x| (the exponent's rounding), and where the result under- or overflows, or its
    # direction hangs on a huge angle, only its magnitude is defined well enough to compare.
    v = edge_values(cdt, n_random=40)
    ys = np.array([2, 3, 1, -1, -2, 5, -7, 0, 0.5, 2.5, -1.5, 99, 100, 1j, 2 - 1j, -0.0,
                   complex(0, -0.0), 3.5 + 0.25j, -100j, 1e-30, 720], cdt)
    ys = np.concatenate([ys, v[np.abs(v) < 50][::9]])
    x, y = np.repeat(v, ys.size), np.tile(ys, v.size)
    f = lambda a, c: a ** c  # noqa: E731
    got, want = np.asarray(native(f, x, y)), np.asarray(reference(f, x, y))
    with np.errstate(all="ignore"):
        w = np.abs(y.astype(np.complex128) * np.log(x.astype(np.complex128)))
    fi = np.finfo(part(cdt))
    extreme = (np.maximum(np.abs(got), np.abs(want)) < fi.tiny) | ~(w < 50)
    extreme |= ~(np.abs(want) < fi.max / 4)
    # (a zero part against a tiny one is an error of an ulp of the result: measured below)
    special = ~same_specials(got, want, zeros=False) & ~extreme
    assert not special.any(), f"special values differ: x={x[special][:4]}, y={y[special][:4]}: " \
                              f"{got[special][:4]} vs {want[special][:4]}"
    err = np.where(extreme, 0, ulps(got, want, normwise=True) / (1 + np.nan_to_num(w)))
    assert err.max() <= 8, f"{err.max()} ulps at x={x[np.argmax(err)]}, y={y[np.argmax(err)]}"


def test_branch_cuts_and_signed_zeros(cdt):
    # Across the negative real axis, log and sqrt jump by the sign of the zero imaginary part.
    ft = part(cdt)
    re = np.array([-4.0, -1.0, -0.25, -0.0, 0.0], ft)
    x = np.concatenate([re + 0j * 0, re - 0j * 0]).astype(cdt)
    x.imag = np.repeat([0.0, -0.0], re.size).astype(ft)
    for f in (lnp.log, lnp.sqrt):
        got = np.asarray(native(f, x))
        with np.errstate(all="ignore"):
            want = {lnp.log: np.log, lnp.sqrt: np.sqrt}[f](x)
        assert (np.signbit(got.imag) == np.signbit(want.imag)).all()
        np.testing.assert_allclose(got, want, rtol=4 * np.finfo(ft).eps)


# --- reductions, dot, data movement, control flow -------------------------------------------

@pytest.mark.parametrize("shape,axis", [((1000,), None), ((37, 41), 0), ((37, 41), 1),
                                        ((5, 0, 3), 1), ((0,), None), ((6, 7, 8), (0, 2))])
def test_reductions(cdt, shape, axis):
    x, s = rand_complex(shape, cdt), np.asarray(1.25 - 0.5j, cdt)
    tol = 1e-5 if cdt == C64 else 1e-13
    got = native(lambda a, c: (lnp.sum(a, axis=axis), lnp.prod(a / c, axis=axis)), x, s)
    np.testing.assert_allclose(got[0], np.sum(x, axis=axis), rtol=tol, atol=tol)
    np.testing.assert_allclose(got[1], np.prod(x / s, axis=axis), rtol=tol * 10, atol=tol)
    assert np.asarray(got[0]).dtype == cdt


def test_sum_of_special_values(cdt):
    x = np.array([1 + 1j, complex(np.inf, 0), complex(0, -np.inf), 2j], cdt)
    assert_identical(native(lnp.sum, x), np.sum(x))
    assert_identical(native(lnp.sum, x[:0]), np.sum(x[:0]))  # +0 + 0j


DOTS = {
    "ab": (lambda a, b: a @ b, lambda a, b: a @ b),
    "aT_bT": (lambda a, b: (b.T @ a.T).T, lambda a, b: a @ b),
    "conj_strided": (lambda a, b: lnp.conj(a) @ b[:, ::2],
                     lambda a, b: np.conj(a) @ b[:, ::2]),
    "batched": (lambda a, b: lnp.einsum("ik,jk->jik", a, b.T.reshape(-1, a.shape[1])),
                lambda a, b: np.einsum("ik,jk->jik", a, b.T.reshape(-1, a.shape[1]))),
    "vector": (lambda a, b: a @ b[:, 0], lambda a, b: a @ b[:, 0]),
}


@pytest.mark.parametrize("size", [(3, 4, 5), (70, 80, 90)], ids=["loops", "blas"])
def test_dot(cdt, size):
    m, k, n = size
    a, b = rand_complex((m, k), cdt), rand_complex((k, n), cdt, seed=2)
    got = native(_each({name: f for name, (f, _) in DOTS.items()}), a, b)
    tol = 1e-5 if cdt == C64 else 1e-13
    for name, (_, w) in DOTS.items():
        g, want = np.asarray(got[name]), w(a, b)
        assert g.dtype == cdt, name
        np.testing.assert_allclose(g, want, rtol=tol, atol=tol * np.abs(want).max(), err_msg=name)


def test_complex_blas_routines_are_there():
    from llax.codegen import blas

    if blas.available():
        assert blas.register().has("cgemm") and blas.register().has("zgemm")


MOVES = {  # (x, s): an array and a complex scalar
    "transpose_reshape": lambda x, s: x.reshape(4, 6).T.reshape(-1),
    "slice_rev": lambda x, s: x[::-1][3:17:2],
    "broadcast": lambda x, s: lnp.broadcast_to(x, (3, 24)) * s,
    "gather": lambda x, s: x[np.array([3, 0, 23, 5])],
    "scatter_add": lambda x, s: x.at[np.array([1, 3, 3, 7])].add(x[:4] * s),
    "scatter_mul": lambda x, s: x.at[np.array([1, 3, 3])].multiply(x[:3]),
    "scatter_set": lambda x, s: x.at[np.array([2, 9])].set(x[:2]),
    "pad": lambda x, s: lax.pad(x, s, [(2, 3, 1)]),
    "concatenate": lambda x, s: lnp.concatenate([x, lnp.conj(x[::-1])]),
    "dynamic_slice": lambda x, s: lax.dynamic_slice(x, (lnp.int32(5),), (4,)),
    "dynamic_update_slice": lambda x, s: lax.dynamic_update_slice(x, x[:3] * s, (4,)),
    "iota": lambda x, s: lnp.arange(24, dtype=x.dtype) * x,
    "cumsum": lambda x, s: lnp.cumsum(x),
    "fori_loop": lambda x, s: lax.fori_loop(0, 5, lambda i, c: c * x + s, x),
    "scan": lambda x, s: lax.scan(lambda c, a: (c * a, c + a), x[0], x),
    "cond": lambda x, s: lax.cond(x[0].real > 0, lambda v: v * s, lnp.conj, x),
    "while": lambda x, s: lax.while_loop(lambda c: lnp.abs(c[0]) < 100, lambda c: c * s, x),
}


def test_data_movement_and_control_flow(cdt):
    x, s = rand_complex((24,), cdt), np.asarray(1.5 + 0.5j, cdt)
    f = _each(MOVES)
    got, want = native(f, x, s), reference(f, x, s)
    for name in MOVES:
        for g, w in zip(jax.tree_util.tree_leaves(got[name]),
                        jax.tree_util.tree_leaves(want[name])):
            np.testing.assert_allclose(np.asarray(g), np.asarray(w), err_msg=name,
                                       rtol=1e-6 if cdt == C64 else 1e-14)
            assert np.asarray(g).dtype == np.asarray(w).dtype, name


# --- performance shape, transformations, fallback -------------------------------------------

def test_fused_chain_is_vectorised_at_the_host_width(cdt):
    x, y = rand_complex((4096,), cdt), rand_complex((4096,), cdt, seed=5)
    jf = llax.jit(lambda a, b: a * b + lnp.conj(a))
    compiled = jf.lower(x, y).compile()
    assert compiled.entry is not None
    assert_vectorised(compiled.stages["llvm-opt"], part(cdt), "x * y + conj(x)")
    assert_identical(jf(x, y), x * y + np.conj(x))


def test_grad_and_vmap_under_jit_agree_with_jax(cdt):
    x = rand_complex((5,), cdt)

    def f(m):
        return lambda z: m.numpy.sum(z * z + 2 * m.numpy.conj(z) * z).real

    def h(m):
        return lambda z: m.numpy.sum(z ** 3 - m.numpy.exp(z / 4))

    tol = 1e-5 if cdt == C64 else 1e-12
    got = native(llax.grad(f(llax)), x)
    np.testing.assert_allclose(got, jax.grad(f(jax))(x), rtol=tol)
    got = native(llax.grad(h(llax), holomorphic=True), x)
    np.testing.assert_allclose(got, jax.grad(h(jax), holomorphic=True)(x), rtol=tol)
    xs = rand_complex((3, 4), cdt)
    g = lambda m: m.vmap(lambda r: m.numpy.sum(r * m.numpy.conj(r[::-1])))  # noqa: E731
    np.testing.assert_allclose(native(g(llax), xs), g(jax)(xs), rtol=tol)


def test_ops_without_a_native_lowering_fall_back_with_right_numbers(cdt):
    from llax.codegen.complex_math import check_native

    x, s = rand_complex((8,), cdt), np.asarray(2.5 - 0.25j, cdt)
    for f, w in ((lambda a, c: lnp.sort(a * c), lambda a, c: np.sort(a * c)),
                 (lambda a, c: lnp.linalg.solve(a.reshape(2, 4)[:, :2] * c, a[:2]),
                  lambda a, c: np.linalg.solve(a.reshape(2, 4)[:, :2] * c, a[:2]))):
        fn = llax.make_jaxpr(f)(x, s).jaxpr.function
        with pytest.raises(NotImplementedError, match="complex"):
            check_native(fn)
        np.testing.assert_allclose(llax.jit(f)(x, s), w(x, s), rtol=1e-5)
