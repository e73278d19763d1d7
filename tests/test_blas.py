"""Calling NumPy's bundled BLAS from generated code.

Run with ``-s`` to see the 1024^3 float32 matmul timing against NumPy
(reported, never asserted).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import llvmlite.ir as lir
import numpy as np
import pytest

from llax.codegen import blas, native

pytestmark = pytest.mark.skipif(not blas.available(), reason="no ILP64 CBLAS in this process")

_I32, _I64, _PTR = lir.IntType(32), lir.IntType(64), lir.PointerType()


def _scalar(dtype: np.dtype, value: float) -> lir.Constant:
    return lir.Constant(lir.FloatType() if dtype == np.float32 else lir.DoubleType(), value)


def gemm_callable(m: int, k: int, n: int, dtype: object,
                  trans_b: bool = False) -> Callable[..., object]:
    """An entry computing ``a @ b`` (or ``a @ b.T``) with one cblas_?gemm call."""
    dt = np.dtype(dtype)
    module = lir.Module("gemm")
    gemm = blas.declare(module, "sgemm" if dt == np.float32 else "dgemm")
    kernel = lir.Function(module, lir.FunctionType(lir.VoidType(), [_PTR] * 3), name="kernel")
    a, b, c = kernel.args
    bld = lir.IRBuilder(kernel.append_basic_block())
    ldb = k if trans_b else n
    bld.call(gemm, [
        lir.Constant(_I32, blas.ROW_MAJOR), lir.Constant(_I32, blas.NO_TRANS),
        lir.Constant(_I32, blas.TRANS if trans_b else blas.NO_TRANS),
        lir.Constant(_I64, m), lir.Constant(_I64, n), lir.Constant(_I64, k),
        _scalar(dt, 1.0), a, lir.Constant(_I64, k), b, lir.Constant(_I64, ldb),
        _scalar(dt, 0.0), c, lir.Constant(_I64, n)])
    bld.ret_void()
    b_shape = (n, k) if trans_b else (k, n)
    return native.compile_callable(module, kernel, [((m, k), dt), (b_shape, dt)],
                                   [((m, n), dt)], name=f"gemm_{dt.name}", release_gil=True)


def test_library_is_ilp64_and_named() -> None:
    found = blas.find()
    assert found is not None and found.has("sgemm") and found.has("dgemm")
    assert found.native_names["sgemm"].endswith(("64_", "_64"))
    if found.config is not None:
        assert "USE64BITINT" in found.config
    assert "sgemm" in blas.describe()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_64x64_matches_numpy(dtype: type) -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((64, 64)).astype(dtype)
    b = rng.standard_normal((64, 64)).astype(dtype)
    f = gemm_callable(64, 64, 64, dtype)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(f(a, b), a @ b, rtol=tol, atol=tol)


def test_gemm_rectangular_and_transposed() -> None:
    rng = np.random.default_rng(1)
    a = rng.standard_normal((5, 7)).astype(np.float32)
    bt = rng.standard_normal((3, 7)).astype(np.float32)
    f = gemm_callable(5, 7, 3, np.float32, trans_b=True)
    np.testing.assert_allclose(f(a, bt), a @ bt.T, rtol=1e-5, atol=1e-5)


def test_gemv_and_dot() -> None:
    module = lir.Module("gemv")
    gemv, dot = blas.declare(module, "dgemv"), blas.declare(module, "ddot")
    assert blas.declare(module, "dgemv") is gemv  # declared once per module
    kernel = lir.Function(module, lir.FunctionType(lir.VoidType(), [_PTR] * 4), name="kernel")
    a, x, y, d = kernel.args
    bld = lir.IRBuilder(kernel.append_basic_block())
    one = lir.Constant(_I64, 1)
    bld.call(gemv, [lir.Constant(_I32, blas.ROW_MAJOR), lir.Constant(_I32, blas.NO_TRANS),
                    lir.Constant(_I64, 4), lir.Constant(_I64, 3), _scalar(np.float64, 1.0),
                    a, lir.Constant(_I64, 3), x, one, _scalar(np.float64, 0.0), y, one])
    bld.store(bld.call(dot, [lir.Constant(_I64, 3), x, one, x, one]), d)
    bld.ret_void()
    f = native.compile_callable(module, kernel, [((4, 3), np.float64), ((3,), np.float64)],
                                [((4,), np.float64), ((), np.float64)], name="gemv_dot")
    a_ = np.arange(12.0).reshape(4, 3)
    x_ = np.array([1.0, -2.0, 0.5])
    y_, d_ = f(a_, x_)
    np.testing.assert_allclose(y_, a_ @ x_)
    assert d_.shape == () and float(d_) == pytest.approx(x_ @ x_)


def test_unknown_routine_is_refused() -> None:
    with pytest.raises((RuntimeError, ValueError)):
        blas.declare(lir.Module("m"), "xgemm")


def report_matmul(n: int = 1024, repeat: int = 5) -> str:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)
    f = gemm_callable(n, n, n, np.float32)
    np.testing.assert_allclose(f(a, b), a @ b, rtol=1e-3, atol=1e-3)

    def best(fn: Callable[[], object]) -> float:
        fn()
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return min(times)

    ours, theirs = best(lambda: f(a, b)), best(lambda: a @ b)
    flops = 2 * n ** 3
    return (f"{n}^3 float32 matmul: llax->BLAS {ours * 1e3:.1f} ms "
            f"({flops / ours / 1e9:.0f} GFLOP/s), numpy {theirs * 1e3:.1f} ms "
            f"({flops / theirs / 1e9:.0f} GFLOP/s); {blas.describe()}")


def test_report_matmul() -> None:
    print("\n" + report_matmul())


if __name__ == "__main__":
    print(report_matmul())


def test_private_single_threaded_instance() -> None:
    # llax calls its own copy of the library, set to one thread, so that OpenBLAS's
    # busy-waiting threads never compete with llax's pool; NumPy keeps its own instance.
    found = blas.find()
    assert found.single_threaded
    numpy_instance = blas._probe(found.path)
    assert numpy_instance.addresses["sgemm"] != found.addresses["sgemm"]


@pytest.mark.parametrize("lhs_t, rhs_t", [(False, False), (True, False), (False, True),
                                          (True, True)])
@pytest.mark.parametrize("batch", [0, 3])
def test_large_products_split_over_the_pool_match_numpy(lhs_t, rhs_t, batch) -> None:
    # Big enough to be split (codegen/dot.py PARALLEL_MIN_FLOPS): by rows, or by the
    # matrices of a batch.
    import llax
    from llax import lax
    from llax.codegen.dot import PARALLEL_MIN_FLOPS

    m, k, n = 130, 257, 190
    lead = (batch,) if batch else ()
    assert max(batch, 1) * m * k * n >= PARALLEL_MIN_FLOPS
    rng = np.random.default_rng(1)
    a = rng.normal(size=lead + ((k, m) if lhs_t else (m, k))).astype(np.float32)
    b = rng.normal(size=lead + ((n, k) if rhs_t else (k, n))).astype(np.float32)
    nb = len(lead)
    dims = (((nb + (0 if lhs_t else 1),), (nb + (1 if rhs_t else 0),)),
            (tuple(range(nb)), tuple(range(nb))))
    got = llax.jit(lambda a, b: lax.dot_general(a, b, dims))(a, b)
    want = np.matmul(np.swapaxes(a, -1, -2) if lhs_t else a, np.swapaxes(b, -1, -2) if rhs_t else b)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-3)


def test_without_a_temporary_directory_the_shared_instance_is_used(monkeypatch) -> None:
    import tempfile

    def no_tmp(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(tempfile, "mkdtemp", no_tmp)
    shared = blas._probe(blas.find().path)
    assert blas._private_single_threaded(shared) is None


@pytest.mark.parametrize("m, k, n", [(96, 96, 96), (130, 257, 190), (512, 512, 520)],
                         ids=["private", "split", "threaded"])
def test_each_product_size_calls_its_instance_and_matches_numpy(m, k, n) -> None:
    # Small products call the private single-threaded instance, medium ones split it over
    # llax's pool, the largest call NumPy's instance and its threads (codegen/dot.py).
    import llax
    from llax.codegen import parallel
    from llax.codegen.dot import PARALLEL_MIN_FLOPS, THREADED_MIN_FLOPS

    rng = np.random.default_rng(2)
    a = rng.normal(size=(m, k)).astype(np.float32)
    b = rng.normal(size=(k, n)).astype(np.float32)
    lowered = llax.jit(lambda a, b: a @ b).lower(a, b)
    text = lowered.as_text("llvm")
    threaded = m * k * n >= THREADED_MIN_FLOPS
    assert (blas.llax_name("sgemm", threaded=True) in text) == threaded
    assert (blas.llax_name("sgemm") in text.replace(blas.llax_name("sgemm", True), "")) \
        == (not threaded)
    split = PARALLEL_MIN_FLOPS <= m * k * n < THREADED_MIN_FLOPS and parallel.threads() > 1
    assert ("llax_parallel_for" in text) == split
    np.testing.assert_allclose(np.asarray(lowered.compile()(a, b)), a @ b,
                               rtol=1e-4, atol=1e-3)


def test_the_threaded_instance_is_numpys_own() -> None:
    shared = blas.find_shared()
    assert shared.addresses["sgemm"] == blas._probe(shared.path).addresses["sgemm"]
    assert not shared.single_threaded
