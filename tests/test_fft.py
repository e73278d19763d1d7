"""llax.numpy.fft and llax.lax.fft against JAX (the oracle), NumPy and hand-built matrices.

- Every transform of jnp.fft over float32, int32 and complex64 inputs (1-element and empty
  shapes included), with n/s, axis/axes and norm variants, eagerly and under jit: values,
  shapes, dtypes, and where JAX refuses the arguments, the same kind of error.
- fftfreq, rfftfreq, fftshift, ifftshift; 64-bit dtypes under x64; JAX's errors.
- Differentiation: grad of real-valued functions of the transforms, jacfwd and jacrev, and
  vjp with complex cotangents, each vs JAX; the transpose rules of the primitive vs the
  transpose of its matrix (built column by column with NumPy's FFT), which is independent
  of both JAX and the rules.
- vmap vs a Python loop; the IR text of the primitive.
"""

from __future__ import annotations

import inspect
from typing import Any

import jax
import numpy as np
import pytest

import llax
import llax.numpy as lnp
from llax.ir import prims as P
from llax.ir.interpreter import evaluate_function
from llax.ir.parser import parse_function
from llax.ir.printer import print_function
from llax.ir.reference import reference
from llax.ir.verifier import verify
from llax.tests.jnp_oracle import x64_mode

jnp = jax.numpy

TRANSFORMS_1D = ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft")
TRANSFORMS_2D = ("fft2", "ifft2", "rfft2", "irfft2")
TRANSFORMS_ND = ("fftn", "ifftn", "rfftn", "irfftn")
OTHERS = ("fftfreq", "rfftfreq", "fftshift", "ifftshift")

KWARGS_1D = [{}, {"n": 1}, {"n": 5}, {"n": 9}, {"axis": 0}, {"norm": "ortho"},
             {"norm": "forward"}, {"n": 3, "axis": -2, "norm": "backward"}]
KWARGS_2D = [{}, {"s": (3, 5)}, {"axes": (0, -1)}, {"axes": (-1, 0), "norm": "ortho"},
             {"s": (2, 6), "axes": (2, 0), "norm": "forward"}]
KWARGS_ND = [{}, {"s": (3,)}, {"axes": (1,)}, {"axes": (2, 0, 1), "norm": "ortho"},
             {"s": (4, 2), "axes": (0, 2)}, {"axes": ()}, {"s": (2, 3, 4), "norm": "forward"}]

ERRORS = (TypeError, ValueError, NotImplementedError)


def test_every_name_of_jax_numpy_fft_is_here() -> None:
    public = {n for n in dir(jnp.fft) if not n.startswith("_")}
    assert public == set(TRANSFORMS_1D + TRANSFORMS_2D + TRANSFORMS_ND + OTHERS)
    assert all(callable(getattr(lnp.fft, n)) for n in public)


@pytest.mark.parametrize("name", TRANSFORMS_1D + TRANSFORMS_2D + TRANSFORMS_ND + OTHERS)
def test_signature_is_jax_s(name: str) -> None:
    def params(f: Any) -> list[tuple]:
        return [(p.name, p.kind, p.default) for p in inspect.signature(f).parameters.values()]

    assert params(getattr(lnp.fft, name)) == params(getattr(jnp.fft, name))


def sample(dtype: Any, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "i":
        return rng.integers(-5, 6, shape).astype(dt)
    if dt.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dt)
    return rng.standard_normal(shape).astype(dt)


def assert_close(got: Any, want: Any, what: str = "") -> None:
    """Same shape, dtype and weak type; values equal up to the transforms' rounding (the
    two systems run different FFT libraries: error relative to the largest magnitude)."""
    g, w = np.asarray(got), np.asarray(want)
    assert g.shape == w.shape, f"{what}: shape {g.shape} != {w.shape}"
    assert g.dtype == w.dtype, f"{what}: dtype {g.dtype} != {w.dtype}"
    assert got.weak_type == want.weak_type, f"{what}: weak_type"
    single = g.dtype in (np.float32, np.complex64)
    scale = max(1.0, float(np.max(np.abs(w)))) if w.size and np.all(np.isfinite(w)) else 1.0
    tol = (2e-5 if single else 1e-12) * scale
    np.testing.assert_allclose(g, w, rtol=tol, atol=tol, equal_nan=True, err_msg=what)


def compare_cases(cases: dict[str, tuple[Any, Any]], x: np.ndarray) -> None:
    """Each case eagerly and all accepted ones in one jit, vs JAX; where JAX refuses the
    input (at tracing), llax raises the same kind of error."""
    accepted = {}
    for name, (lf, jf) in cases.items():
        try:
            jax.eval_shape(jf, x)
        except ERRORS as e:
            with pytest.raises(type(e)):
                lf(x)
            continue
        accepted[name] = (lf, jf)
    want = jax.jit(lambda a: {n: jf(a) for n, (_, jf) in accepted.items()})(x)
    for name, (lf, _) in accepted.items():
        assert_close(lf(x), want[name], f"{name} (eager)")
    got = llax.jit(lambda a: {n: lf(a) for n, (lf, _) in accepted.items()})(x)
    for name in accepted:
        assert_close(got[name], want[name], f"{name} (jit)")


def _cases(names: tuple[str, ...], variants: list[dict]) -> dict[str, tuple[Any, Any]]:
    out = {}
    for name in names:
        lf, jf = getattr(lnp.fft, name), getattr(jnp.fft, name)
        for kw in variants:
            out[f"{name}{kw}"] = ((lambda x, lf=lf, kw=kw: lf(x, **kw)),
                                  (lambda x, jf=jf, kw=kw: jf(x, **kw)))
    return out


DTYPES = ["float32", "int32", "complex64"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1,), (3, 8)])
def test_one_axis_transforms(dtype: str, shape: tuple[int, ...]) -> None:
    compare_cases(_cases(TRANSFORMS_1D, KWARGS_1D), sample(dtype, shape))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (2, 3, 4)])
def test_two_and_n_axis_transforms(dtype: str, shape: tuple[int, ...]) -> None:
    cases = {**_cases(TRANSFORMS_2D, KWARGS_2D), **_cases(TRANSFORMS_ND, KWARGS_ND)}
    compare_cases(cases, sample(dtype, shape, seed=1))


def test_more_than_three_axes() -> None:
    # JAX splits a transform of more than three axes into several (XLA's limit); llax
    # transforms them at once: the same numbers.
    x = sample("float32", (2, 3, 2, 4, 3), seed=2)
    cases = {**_cases(("fftn", "ifftn", "rfftn"), [{}, {"axes": (4, 0, 2, 1)}]),
             **_cases(("irfftn",), [{}, {"s": (2, 3, 2, 4, 5)}])}
    compare_cases(cases, x)


@pytest.mark.parametrize("name,shape,kw", [
    ("fft", (0,), {}), ("ifft", (0, 4), {}), ("fftn", (0, 4), {}), ("fft2", (4, 0), {}),
    ("rfft", (0, 4), {}), ("irfft", (0, 3), {}), ("irfft", (1,), {}), ("rfftn", (0, 3, 4), {}),
    ("irfftn", (2, 0), {"s": (2, 4)}), ("hfft", (3, 0), {"axis": 0}),
    ("ihfft", (0, 5), {}), ("fftshift", (0, 3), {}),
])
def test_empty_inputs(name: str, shape: tuple[int, ...], kw: dict) -> None:
    x = sample("float32", shape)
    want = getattr(jnp.fft, name)(x, **kw)
    assert_close(getattr(lnp.fft, name)(x, **kw), want, "eager")
    assert_close(llax.jit(lambda a: getattr(lnp.fft, name)(a, **kw))(x), want, "jit")


def test_64_bit_dtypes_under_x64() -> None:
    with x64_mode(True):
        for dtype in ("float64", "int32", "complex128", "float32"):
            x = sample(dtype, (3, 6))
            compare_cases(_cases(("fft", "rfft", "irfft", "ihfft", "fft2", "irfftn"),
                                 [{}, {"norm": "ortho"}]), x)
        assert_close(lnp.fft.fftfreq(5), jnp.fft.fftfreq(5))
        assert_close(lnp.fft.rfftfreq(6, 0.5), jnp.fft.rfftfreq(6, 0.5))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "bool", "uint8"])
def test_other_input_dtypes(dtype: str) -> None:
    # float16/bfloat16 transform in complex64; RFFT takes only float32/float64 (JAX's rule).
    x = (sample("float32", (2, 6)) > 0).astype(jnp.dtype(dtype))
    compare_cases(_cases(("fft", "rfft", "irfft", "ifft2"), [{}]), x)


def test_round_trips_recover_the_signal() -> None:
    x = sample("float32", (4, 7), seed=3)
    np.testing.assert_allclose(lnp.fft.irfft(lnp.fft.rfft(x), n=7), x, atol=1e-5)
    np.testing.assert_allclose(lnp.fft.ifftn(lnp.fft.fftn(x)).real, x, atol=1e-5)
    np.testing.assert_allclose(lnp.fft.rfft(x, axis=0), np.fft.rfft(x, axis=0), atol=1e-5)


# --- frequencies and shifts ----------------------------------------------------------------

@pytest.mark.parametrize("name", ["fftfreq", "rfftfreq"])
@pytest.mark.parametrize("n", [0, 1, 4, 5])
@pytest.mark.parametrize("kw", [{}, {"d": 0.1}, {"dtype": "int32"}, {"dtype": "complex64"},
                                {"d": 2}])
def test_frequencies(name: str, n: int, kw: dict) -> None:
    want = getattr(jnp.fft, name)(n, **kw)
    assert_close(getattr(lnp.fft, name)(n, **kw), want)


def test_frequencies_with_an_array_spacing() -> None:
    d = np.float32(0.25)
    assert_close(lnp.fft.fftfreq(6, d=lnp.asarray(d)), jnp.fft.fftfreq(6, d=jnp.asarray(d)))
    assert_close(llax.jit(lambda d: lnp.fft.rfftfreq(7, d))(d),
                 jax.jit(lambda d: jnp.fft.rfftfreq(7, d))(d))


@pytest.mark.parametrize("name", ["fftshift", "ifftshift"])
@pytest.mark.parametrize("shape,axes", [((5,), None), ((4, 5), None), ((4, 5), 0),
                                        ((4, 5), (1,)), ((4, 5), (1, 0)), ((4, 5), -1),
                                        ((), None)])
def test_shifts(name: str, shape: tuple[int, ...], axes: Any) -> None:
    x = sample("int32", shape)
    want = getattr(jnp.fft, name)(x, axes)
    assert_close(getattr(lnp.fft, name)(x, axes), want, "eager")
    assert_close(llax.jit(lambda a: getattr(lnp.fft, name)(a, axes))(x), want, "jit")


# --- errors --------------------------------------------------------------------------------

F4 = np.ones(4, np.float32)
C4 = np.ones(4, np.complex64)

ERROR_CASES = [
    ("fft", (F4,), {"n": 0}), ("fft", (F4,), {"n": -1}), ("fft", (F4,), {"n": 2.0}),
    ("fft", (F4,), {"axis": (0,)}), ("fft", (F4,), {"axis": 3}), ("fft", (F4,), {"norm": "x"}),
    ("fft", ([1.0, 2.0],), {}), ("fft", (np.float32(1),), {}), ("rfft", (C4,), {}),
    ("ihfft", (C4,), {}), ("hfft", (F4,), {"axis": [0]}),
    ("fftn", (np.ones((4, 4)),), {"axes": (0, 0)}),
    ("fftn", (np.ones((4, 4)),), {"s": (2,), "axes": (0, 1)}),
    ("fft2", (np.ones((4, 4, 4)),), {"axes": (0, 1, 2)}),
    ("rfft", (np.ones(4, np.float16),), {}),
    ("fftfreq", ([5],), {}), ("fftfreq", (5,), {"d": [1.0]}), ("rfftfreq", ((5,),), {}),
    ("fftshift", ([1, 2],), {}),
]


@pytest.mark.parametrize("name,args,kw", ERROR_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(ERROR_CASES)])
def test_errors_as_jax(name: str, args: tuple, kw: dict) -> None:
    with pytest.raises(ERRORS) as jax_error:
        getattr(jnp.fft, name)(*args, **kw)
    with pytest.raises(jax_error.type):
        getattr(lnp.fft, name)(*args, **kw)


def test_messages_as_jax() -> None:
    with pytest.raises(ValueError, match="Shape should be positive"):
        lnp.fft.fft(F4, n=0)
    with pytest.raises(ValueError, match="does not support multiple axes"):
        lnp.fft.rfft(F4, axis=(0,))
    with pytest.raises(ValueError, match="only real valued inputs supported for rfft"):
        lnp.fft.rfft(C4)
    with pytest.raises(ValueError, match="does not support repeated axes"):
        lnp.fft.fftn(np.ones((4, 4)), axes=(0, -2))
    with pytest.raises(ValueError, match="only supports 2 axes"):
        lnp.fft.ifft2(np.ones((4, 4)), axes=(0,))
    with pytest.raises(ValueError, match="Invalid norm value"):
        lnp.fft.fft(F4, norm="unitary")


# --- llax.lax.fft ----------------------------------------------------------------------------

@pytest.mark.parametrize("fft_type,x,lengths", [
    ("fft", C4, (4,)), ("FFT", F4, (4,)), ("ifft", np.arange(6, dtype=np.int32), (6,)),
    ("rfft", np.arange(6, dtype=np.int32), (6,)), ("irfft", F4, (6,)), ("irfft", C4, (7,)),
    ("fft", sample("complex64", (2, 3, 4)), (3, 4)), ("rfft", F4, ()),
    ("irfft", sample("complex64", (2, 3, 3)), (3, 5)), ("irfft", C4, (7,)),
])
def test_lax_fft(fft_type: str, x: np.ndarray, lengths: tuple[int, ...]) -> None:
    want = jax.lax.fft(x, fft_type, lengths)
    assert_close(llax.lax.fft(x, fft_type, lengths), want, "eager")
    enum = getattr(llax.lax.FftType, fft_type.upper())
    assert_close(llax.jit(lambda a: llax.lax.fft(a, enum, lengths))(x), want, "jit")


@pytest.mark.parametrize("fft_type,x,lengths", [
    ("xx", C4, (4,)), (5, C4, (4,)), ("fft", C4, (5,)), ("fft", C4, (1, 4)),
    ("rfft", C4, (4,)), ("irfft", np.ones((3, 4), np.complex64), (2, 6)),
])
def test_lax_fft_errors(fft_type: Any, x: np.ndarray, lengths: tuple[int, ...]) -> None:
    with pytest.raises(ERRORS) as jax_error:
        jax.lax.fft(x, fft_type, lengths)
    with pytest.raises(jax_error.type) as llax_error:
        llax.lax.fft(x, fft_type, lengths)
    assert str(llax_error.value) == str(jax_error.value)


def test_irfft_takes_exactly_half_the_bins_plus_one() -> None:
    # JAX's type rule lets other counts through, but XLA refuses to compile them.
    with pytest.raises(Exception):  # noqa: B017 - JAX's is an MLIR error
        jax.lax.fft(C4, "irfft", (4,))
    with pytest.raises(ValueError, match="bins in its last dimension"):
        llax.lax.fft(C4, "irfft", (4,))


def test_fft_type_is_jax_enum() -> None:
    assert [(t.name, int(t)) for t in llax.lax.FftType] == \
        [(t.name, int(t)) for t in jax.lax.FftType]


# --- differentiation -----------------------------------------------------------------------

def _losses(m: Any, n: int) -> list[Any]:
    """Real-valued functions of the transforms of x (shape (3, n)), in module ``m``."""
    w = m.arange(n // 2 + 1, dtype=m.float32) + 1.0
    return [
        lambda x: m.sum(m.abs(m.fft.rfft(x)) ** 2 * w),
        lambda x: m.sum(m.fft.irfft(m.fft.rfft(x) * w, n=n) ** 3),
        lambda x: m.sum(m.real(m.fft.fft(x) * m.exp(1j * m.arange(n))) ** 2
                        + m.imag(m.fft.ifft(x, norm="ortho"))),
        lambda x: m.sum(m.abs(m.fft.rfft2(x, s=(4, n + 1))) ** 2),
        lambda x: m.sum(m.fft.irfftn(x * (1 + 2j), s=(3, n), norm="forward") ** 2),
        lambda x: m.sum(m.fft.hfft(x[:, :3] * 1j, n=n) * m.arange(n)),
        lambda x: m.sum(m.imag(m.fft.ihfft(x, axis=0)) ** 2),
        lambda x: m.sum(m.abs(m.fft.fftn(x, axes=(1, 0), s=(2, n))) ** 3),
    ]


@pytest.mark.parametrize("n", [7, 8])
def test_grad_vs_jax(n: int) -> None:
    x = sample("float32", (3, n), seed=4)
    # JAX's op-by-op grads compile every op: one jit for all of them.
    wants = jax.jit(lambda v: [jax.grad(f)(v) for f in _losses(jnp, n)])(x)
    gots = llax.jit(lambda v: [llax.grad(f)(v) for f in _losses(lnp, n)])(x)
    for i, (lf, want) in enumerate(zip(_losses(lnp, n), wants)):
        assert_close(llax.grad(lf)(x), want, f"loss {i} (eager)")
        assert_close(gots[i], want, f"loss {i} (jit)")


def test_jacobians_vs_jax() -> None:
    x = sample("float32", (6,), seed=5)
    makes = (lambda m: lambda x: m.abs(m.fft.rfft(x)),
             lambda m: lambda x: m.fft.irfft(m.fft.rfft(x) * 2j, n=6),
             lambda m: lambda x: m.real(m.fft.fft2(x.reshape(2, 3), norm="ortho")))
    wants = jax.jit(lambda v: [(jax.jacfwd(mk(jnp))(v), jax.jacrev(mk(jnp))(v))
                               for mk in makes])(x)
    for make, (fwd, rev) in zip(makes, wants):
        assert_close(llax.jacfwd(make(lnp))(x), fwd, "jacfwd")
        assert_close(llax.jacrev(make(lnp))(x), rev, "jacrev")


@pytest.mark.parametrize("name,kw,shape,in_dtype", [
    ("fft", {}, (3, 7), "complex64"), ("ifft", {"norm": "ortho"}, (3, 8), "complex64"),
    ("rfft", {}, (3, 7), "float32"), ("rfft", {}, (3, 8), "float32"),
    ("irfft", {"n": 7}, (3, 4), "complex64"), ("irfft", {}, (3, 5), "complex64"),
    ("rfft2", {}, (4, 6), "float32"), ("irfft2", {"s": (3, 5)}, (3, 3), "complex64"),
    ("irfftn", {"s": (2, 3, 4)}, (2, 3, 3), "complex64"), ("fftn", {}, (2, 3, 4), "complex64"),
])
def test_vjp_with_complex_cotangents_vs_jax(name: str, kw: dict, shape: tuple[int, ...],
                                            in_dtype: str) -> None:
    x = sample(in_dtype, shape, seed=6)
    jout, jback = jax.vjp(lambda a: getattr(jnp.fft, name)(a, **kw), x)
    lout, lback = llax.vjp(lambda a: getattr(lnp.fft, name)(a, **kw), x)
    assert_close(lout, jout)
    ct = sample(jout.dtype, jout.shape, seed=7)
    assert_close(lback(ct)[0], jback(ct)[0], "vjp")


def _real_coords(v: np.ndarray) -> np.ndarray:
    return np.concatenate([v.real.ravel(), v.imag.ravel()]) if v.dtype.kind == "c" else v.ravel()


def _matrix(f: Any, in_shape: tuple[int, ...], in_dtype: Any) -> np.ndarray:
    """The real matrix of the R-linear map ``f`` (complex values as (real, imag) pairs)."""
    size = int(np.prod(in_shape))
    cols = []
    for part in ((1, 1j) if np.dtype(in_dtype).kind == "c" else (1,)):
        for i in range(size):
            e = np.zeros(size, np.complex128 if part == 1j else np.float64)
            e[i] = part
            e = e.reshape(in_shape)
            cols.append(_real_coords(np.asarray(f(e.astype(np.result_type(in_dtype, e))))))
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("fft_type,in_shape,lengths", [
    ("FFT", (2, 5), (5,)), ("IFFT", (3, 4), (3, 4)), ("RFFT", (2, 6), (6,)),
    ("RFFT", (3, 5), (3, 5)), ("IRFFT", (2, 4), (6,)), ("IRFFT", (2, 4), (7,)),
    ("IRFFT", (3, 3), (3, 4)), ("IRFFT", (2, 1), (1,)), ("RFFT", (1,), (1,)),
])
def test_transpose_is_the_matrix_transpose(fft_type: str, in_shape: tuple[int, ...],
                                           lengths: tuple[int, ...]) -> None:
    """vjp of lax.fft in float64 vs ``M^T`` of the map's real matrix, in JAX's convention:
    a complex cotangent ``c`` pairs with a value ``y`` as ``Re(sum(c * y))``."""
    with x64_mode(True):
        kind = getattr(llax.lax.FftType, fft_type)
        in_dtype = np.float64 if fft_type == "RFFT" else np.complex128
        ref = reference[P.fft]

        def f(v):
            return ref(v, fft_type=kind, fft_lengths=lengths)

        m = _matrix(f, in_shape, in_dtype)
        x = sample(in_dtype, in_shape)
        out, back = llax.vjp(lambda a: llax.lax.fft(a, kind, lengths), x)
        ct = sample(out.dtype, out.shape, seed=8)
        # The pairing Re(sum(c * y)) in real coordinates: (Re c, -Im c) against (Re y, Im y).
        w = np.concatenate([ct.real.ravel(), -ct.imag.ravel()]) if ct.dtype.kind == "c" \
            else ct.ravel()
        t = m.T @ w
        if in_dtype == np.complex128:
            half = t.size // 2
            want = (t[:half] - 1j * t[half:]).reshape(in_shape)
        else:
            want = t.reshape(in_shape)
        got = np.asarray(back(ct)[0])
        assert got.dtype == in_dtype
        np.testing.assert_allclose(got, want, atol=1e-10)


def test_transpose_of_a_transform_to_nothing_is_zero() -> None:
    # irfft of one bin has n = 0 points; JAX's transpose divides by zero here.
    x = sample("complex64", (2, 1))
    out, back = llax.vjp(lnp.fft.irfft, x)
    assert out.shape == (2, 0)
    (ct,) = back(np.ones((2, 0), np.float32))
    assert ct.dtype == np.complex64
    np.testing.assert_array_equal(ct, np.zeros((2, 1), np.complex64))


# --- vmap ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,kw,in_axis", [
    ("fft", {}, 0), ("rfft", {"n": 6}, 1), ("irfft", {}, 2), ("fft2", {"axes": (0, 1)}, 1),
    ("rfftn", {}, 0), ("ihfft", {"axis": 0}, 2), ("fftshift", {}, 1),
])
def test_vmap_vs_loop(name: str, kw: dict, in_axis: int) -> None:
    x = sample("complex64" if name in ("fft", "irfft", "fft2") else "float32", (3, 4, 5))
    f = lambda a: getattr(lnp.fft, name)(a, **kw)  # noqa: E731
    got = llax.vmap(f, in_axes=in_axis)(x)
    want = np.stack([np.asarray(f(np.take(x, i, axis=in_axis)))
                     for i in range(x.shape[in_axis])])
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6, atol=1e-5)
    assert np.asarray(got).dtype == want.dtype


def test_vmap_of_grad_and_grad_of_vmap_vs_jax() -> None:
    x = sample("float32", (4, 6), seed=9)

    def loss(m):
        return lambda v: m.sum(m.abs(m.fft.rfft(v, norm="ortho")) ** 2 * m.arange(4))

    assert_close(llax.vmap(llax.grad(loss(lnp)))(x), jax.jit(jax.vmap(jax.grad(loss(jnp))))(x))
    total = lambda m: lambda v: m.sum(jax.vmap(loss(m))(v) if m is jnp  # noqa: E731
                                      else llax.vmap(loss(m))(v))
    assert_close(llax.jit(llax.grad(total(lnp)))(x), jax.jit(jax.grad(total(jnp)))(x))


# --- IR --------------------------------------------------------------------------------------

def test_ir_text_round_trip_and_jaxpr() -> None:
    text = """\
{ lambda ; a:f32[2,8]. let
    b:c64[2,5] = fft[fft_lengths=(8,) fft_type=2] a
    c:f32[2,8] = fft[fft_lengths=(8,) fft_type=3] b
    d:c64[2,8] = fft[fft_lengths=(2, 8) fft_type=0] b
  in (c, d) }"""
    # (d's input is b, a (2, 5) complex: not 8 wide; the verifier must refuse it.)
    with pytest.raises(ValueError, match="minor dimensions"):
        verify(parse_function(text))
    text = text.replace("c64[2,8] = fft[fft_lengths=(2, 8)", "c64[2,5] = fft[fft_lengths=(2, 5)")
    fn = parse_function(text)
    verify(fn)
    assert print_function(fn) == text
    x = sample("float32", (2, 8))
    c, d = evaluate_function(fn, [x])
    np.testing.assert_allclose(c, x, atol=1e-5)
    np.testing.assert_allclose(d, np.fft.fft2(np.fft.rfft(x)), atol=1e-4)
    jaxpr = str(llax.make_jaxpr(lambda v: lnp.fft.rfft(v))(x))
    assert "fft[fft_lengths=(8,) fft_type=2]" in jaxpr
    assert "fft[fft_lengths=(8,) fft_type=2]" in str(jax.make_jaxpr(jnp.fft.rfft)(x))
