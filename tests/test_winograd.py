"""The Winograd F(2x2, 3x3) runtime (codegen/winograd.py) against a direct convolution in
NumPy (float64): odd and even output sizes, outputs of one pixel, paddings of 0, 1 and 2
(asymmetric ones too), feature counts on and off the panel width, several blocks of tiles
per tile row, sub-ranges of units (nothing else written) and the epilogue callback."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from llax.codegen import gemm, winograd

I64, PTR = ctypes.c_int64, ctypes.c_void_p
EPILOGUE = ctypes.CFUNCTYPE(None, PTR, I64, I64)
TOLERANCE = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}


def _functions(dtype: np.dtype):
    compiled = winograd.load(dtype)
    transform = ctypes.CFUNCTYPE(None, I64, I64, PTR, I64, I64, I64, I64, PTR)(
        compiled.address(winograd.filter_symbol(dtype)))
    conv = ctypes.CFUNCTYPE(None, *[I64] * 9, PTR, PTR, PTR, I64, I64, PTR, PTR)(
        compiled.address(winograd.conv_symbol(dtype)))
    return transform, conv


def _transformed(w: np.ndarray) -> np.ndarray:
    """``w`` (any layout of (3, 3, c, k) axes) through llax_winograd_filter."""
    dtype = w.dtype
    transform, _ = _functions(dtype)
    c, k = w.shape[2:]
    u = np.full(winograd.filter_bytes(c, k, dtype) // dtype.itemsize, np.nan, dtype)
    strides = [s // dtype.itemsize for s in w.strides]
    transform(c, k, w.ctypes.data, *strides, u.ctypes.data)
    return u


def _direct(x: np.ndarray, w: np.ndarray, pad_top: int, pad_left: int, oh: int,
            ow: int) -> np.ndarray:
    """The oracle: output (i, j) sums input (i - pad_top + kh, j - pad_left + kw) (zero
    outside) times tap (kh, kw), in float64."""
    n, h, wd, c = x.shape
    padded = np.zeros((n, oh + 2, ow + 2, c))
    rows = slice(max(0, pad_top), min(oh + 2, h + pad_top))
    cols = slice(max(0, pad_left), min(ow + 2, wd + pad_left))
    padded[:, rows, cols] = x[:, rows.start - pad_top:rows.stop - pad_top,
                              cols.start - pad_left:cols.stop - pad_left]
    windows = sliding_window_view(padded, (3, 3), axis=(1, 2))  # n, oh, ow, c, 3, 3
    return np.einsum("nijcab,abck->nijk", windows, w.astype(np.float64))


def _run(x: np.ndarray, u: np.ndarray, k: int, pad_top: int, pad_left: int, oh: int, ow: int,
         units: tuple[int, int] | None = None, epilogue=None, ctx: int | None = None
         ) -> np.ndarray:
    n, h, w, c = x.shape
    _, conv = _functions(x.dtype)
    y = np.full((n, oh, ow, k), -7.0, x.dtype)  # a sentinel: what stays is never written
    lo, hi = units if units is not None else (0, winograd.units(n, oh))
    conv(n, h, w, c, k, pad_top, pad_left, oh, ow, x.ctypes.data, u.ctypes.data, y.ctypes.data,
         lo, hi, epilogue, ctx)
    return y


def _check(y: np.ndarray, want: np.ndarray) -> None:
    scale = max(np.abs(want).max(), 1.0)
    error = np.abs(y.astype(np.float64) - want).max() / scale
    assert error <= TOLERANCE[y.dtype], error


def _case(dtype: np.dtype, n: int, h: int, w: int, c: int, k: int, seed: int
          ) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h, w, c)).astype(dtype)
    f = rng.standard_normal((3, 3, c, k)).astype(dtype)
    return x, f


# n, h, w, c, k, pad (top, bottom, left, right): oh = h + top + bottom - 2, likewise ow.
CASES = [
    (1, 5, 5, 3, 5, (1, 1, 1, 1)),  # SAME, odd output
    (3, 6, 8, 17, 33, (1, 1, 1, 1)),  # SAME, even output, three images
    (1, 7, 6, 1, 1, (0, 0, 0, 0)),  # VALID: odd rows, even columns
    (1, 3, 3, 32, 32, (0, 0, 0, 0)),  # a single output pixel
    (1, 1, 1, 3, 17, (1, 1, 1, 1)),  # a single input pixel, all the rest padding
    (2, 4, 5, 32, 17, (2, 2, 0, 0)),  # padding of two: whole tiles on padding; ow odd
    (1, 5, 4, 17, 3, (0, 2, 2, 1)),  # asymmetric: oh = 5, ow = 5 from h = 5, w = 4
    (1, 6, 7, 3, 32, (2, 1, 1, 2)),  # asymmetric: oh = 7, ow = 8
    (1, 2, 3, 5, 4, (1, 0, 0, 1)),  # oh = 1, ow = 2
    (1, 4, 15, 64, 64, (1, 1, 1, 1)),  # 8 tiles a row: several blocks of tiles
    (1, 12, 12, 96, 96, (1, 1, 1, 1)),  # a filter beyond L2: blocks of 30 tiles
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, h, w, c, k, pad", CASES)
def test_convolution_vs_direct(dtype, n: int, h: int, w: int, c: int, k: int,
                               pad: tuple[int, int, int, int]) -> None:
    dtype = np.dtype(dtype)
    top, bottom, left, right = pad
    oh, ow = h + top + bottom - 2, w + left + right - 2
    x, f = _case(dtype, n, h, w, c, k, seed=h * 100 + w * 10 + c + k)
    y = _run(x, _transformed(f), k, top, left, oh, ow)
    _check(y, _direct(x, f, top, left, oh, ow))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_filter_transform_layout(dtype) -> None:
    """U = G g G^T per (c, k), 16 matrices in gemm's panels with zero columns past k, read
    through arbitrary strides (here an OIHW filter)."""
    dtype = np.dtype(dtype)
    c, k = 3, gemm.panel_width(dtype) + 1
    rng = np.random.default_rng(3)
    oihw = rng.standard_normal((k, c, 3, 3)).astype(dtype)
    u = _transformed(oihw.transpose(2, 3, 1, 0))
    g_matrix = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
    want = np.einsum("pa,kcab,qb->pqck", g_matrix, oihw.astype(np.float64), g_matrix)
    width = gemm.panel_width(dtype)
    panels = -(-k // width)
    got = u.reshape(16, panels, c, width).transpose(0, 2, 1, 3).reshape(16, c, panels * width)
    np.testing.assert_allclose(got[:, :, :k], want.reshape(16, c, k), rtol=TOLERANCE[dtype],
                               atol=TOLERANCE[dtype])
    assert (got[:, :, k:] == 0).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sub_range_writes_only_its_rows(dtype) -> None:
    dtype = np.dtype(dtype)
    n, h, w, c, k = 2, 5, 7, 3, 17
    oh, ow = 5, 7  # SAME: three tile rows per image, the last one a single row
    x, f = _case(dtype, n, h, w, c, k, seed=11)
    want = _direct(x, f, 1, 1, oh, ow)
    for lo, hi in [(1, 4), (2, 3), (5, 6), (3, 3)]:
        y = _run(x, _transformed(f), k, 1, 1, oh, ow, units=(lo, hi))
        rows = y.reshape(n * oh, ow, k)  # (image, output row) flattened
        written = np.zeros(n * oh, bool)
        for unit in range(lo, hi):
            image, t = divmod(unit, 3)
            written[image * oh + 2 * t: image * oh + min(2 * t + 2, oh)] = True
        if written.any():
            _check(rows[written], want.reshape(n * oh, ow, k)[written])
        assert (rows[~written] == -7).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("c, k", [(4, 5), (64, 64)])  # one block of tiles; blocks across units
def test_epilogue_sees_each_unit_once_written(dtype, c: int, k: int) -> None:
    """The callback gets ctx and each unit's (first row, row count) in order, once the
    unit's rows hold their final values."""
    dtype = np.dtype(dtype)
    n, h, w = 2, 5, 13
    oh, ow = 5, 13
    x, f = _case(dtype, n, h, w, c, k, seed=5)
    want = _direct(x, f, 1, 1, oh, ow).reshape(n * oh * ow, k)
    calls: list[tuple[int, int, int]] = []
    final: list[bool] = []
    y = np.full((n, oh, ow, k), -7.0, dtype)

    def record(ctx, first: int, count: int) -> None:
        calls.append((ctx or 0, first, count))
        rows = y.reshape(n * oh * ow, k)[first:first + count]
        final.append(bool(np.abs(rows - want[first:first + count]).max()
                          <= TOLERANCE[dtype] * max(np.abs(want).max(), 1.0)))

    callback = EPILOGUE(record)
    u = _transformed(f)
    _, conv = _functions(dtype)
    conv(n, h, w, c, k, 1, 1, oh, ow, x.ctypes.data, u.ctypes.data, y.ctypes.data, 1, 6,
         callback, 1234)
    # Units 1..5: image 0 tile rows 1, 2 (the last a single row), image 1 tile rows 0..2.
    assert calls == [(1234, 2 * ow, 2 * ow), (1234, 4 * ow, ow), (1234, 5 * ow, 2 * ow),
                     (1234, 7 * ow, 2 * ow), (1234, 9 * ow, ow)]
    assert all(final)
    assert (y.reshape(n * oh, ow, k)[:2] == -7).all()  # unit 0: not in the range


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_no_epilogue_without_units(dtype) -> None:
    dtype = np.dtype(dtype)
    x, f = _case(dtype, 1, 4, 4, 3, 3, seed=2)
    calls: list[tuple[int, int]] = []
    callback = EPILOGUE(lambda ctx, first, count: calls.append((first, count)))
    _, conv = _functions(dtype)
    y = np.full((1, 4, 4, 3), -7.0, dtype)
    conv(1, 4, 4, 3, 3, 1, 1, 4, 4, x.ctypes.data, _transformed(f).ctypes.data, y.ctypes.data,
         1, 1, callback, None)
    assert calls == [] and (y == -7).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transforms_vectorised_at_the_host_width(dtype) -> None:
    """The input and output transforms add vectors as wide as gemm's (the host's), the
    feature axis's remainder through masked loads and stores."""
    import llvmlite.binding as llvm

    from llax.codegen import target

    dtype = np.dtype(dtype)
    module = llvm.parse_assembly(str(winograd._module(dtype)))
    target.optimize(module)
    text = str(module.get_function(winograd.conv_symbol(dtype)))
    lanes = gemm.lanes(dtype)
    scalar = {4: "float", 8: "double"}[dtype.itemsize]
    for op in ("fadd", "fsub"):
        assert f"{op} <{lanes} x {scalar}>" in text
    assert f"masked.load.v{lanes}f{8 * dtype.itemsize}" in text
    assert f"masked.store.v{lanes}f{8 * dtype.itemsize}" in text
    assert f"<{2 * lanes} x {scalar}>" not in text
