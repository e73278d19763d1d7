"""llax's own matrix-product kernel (codegen/gemm.py) against NumPy: every remainder of
rows and columns around the register tile, both float types, panels packed as the
convolution packs them, and the promise that nothing outside C's m x n is written."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from llax.codegen import gemm, runtime


def _kernel(dtype: np.dtype):
    gemm.load(dtype)
    address = runtime.load_runtime(gemm.symbol(dtype), None, ()).address(gemm.symbol(dtype))
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    return ctypes.CFUNCTYPE(None, i64, i64, i64, ptr, i64, ptr, ptr, i64)(address)


def _panels(b: np.ndarray) -> np.ndarray:
    """B (k x n) as the kernel reads it: panels of panel_width columns, zero-padded."""
    k, n = b.shape
    width = gemm.panel_width(b.dtype)
    count = -(-n // width)
    padded = np.zeros((k, count * width), b.dtype)
    padded[:, :n] = b
    return np.ascontiguousarray(padded.reshape(k, count, width).transpose(1, 0, 2))


def _sizes() -> list[tuple[int, int, int]]:
    rows, width = gemm.ROWS, gemm.panel_width(np.float32)
    out = [(1, 1, 1), (rows, width, 1), (rows + 1, width + 1, 3), (2 * rows - 1, 2 * width, 17),
           (3, width - 1, 64), (4 * rows, 3 * width + 5, 9), (50, 64, 576)]
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m, n, k", _sizes())
def test_products_vs_numpy(dtype, m: int, n: int, k: int) -> None:
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(m * 1000 + n * 10 + k)
    padded_rows = -(-m // gemm.ROWS) * gemm.ROWS
    a = rng.standard_normal((padded_rows, k + 2)).astype(dtype)  # lda > k
    a[m:] = np.nan  # rows past m are read; their products must not land anywhere
    b = rng.standard_normal((k, n)).astype(dtype)
    panels = _panels(b)
    ldc = n + 3
    c = np.full((m + 1, ldc), 7, dtype)
    _kernel(dtype)(m, n, k, a.ctypes.data, k + 2, panels.ctypes.data, c.ctypes.data, ldc)
    want = a[:m, :k].astype(np.float64) @ b.astype(np.float64)
    tol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(c[:m, :n], want, rtol=tol, atol=tol * np.sqrt(k))
    assert (c[:m, n:] == 7).all() and (c[m:] == 7).all()


def _cpu_vector_bytes() -> int | None:
    """The widest float vector the CPU's flags (Linux x86) promise, or None elsewhere."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f
                          if line.startswith("flags")), None)
    except OSError:
        return None
    if flags is None:
        return None
    return 64 if "avx512f" in flags else 32 if "avx" in flags else 16


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_vectorised_at_the_host_width(dtype) -> None:
    """The tile's multiply-adds are on vectors as wide as the CPU's (its flags say which)."""
    import llvmlite.binding as llvm

    from llax.codegen import target

    expected = _cpu_vector_bytes()
    if expected is not None:
        assert gemm.vector_bytes() == expected
    dtype = np.dtype(dtype)
    module = llvm.parse_assembly(str(gemm._module(dtype)))
    target.optimize(module)
    lanes = gemm.vector_bytes() // dtype.itemsize
    scalar = {4: "float", 8: "double"}[dtype.itemsize]
    text = str(module)
    assert f"<{lanes} x {scalar}>" in text and ("fmuladd" in text or "fma" in text)
    assert f"<{2 * lanes} x {scalar}>" not in text
