"""``lax.conv_general_dilated`` and its wrappers against JAX: values through the reference
(eager) and the compiled code (jit: im2col + gemm for float32/float64, the reference for
the rest), every layout, stride, padding, dilation and grouping; JVP and grad vs JAX, the
VJP by the inner-product test; vmap of either operand or both; the shape helpers and the
errors; and the IR text round trip."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np
import pytest

import llax
import llax.numpy as jnp
from llax import lax
from llax.ir import prims as P
from llax.ir.core import Function, Op, Params, Var
from llax.ir.parser import parse_function
from llax.ir.primitive import infer_types
from llax.ir.printer import print_function
from llax.ir.types import TensorType
from llax.ir.verifier import verify
from llax.tests.jnp_oracle import x64_mode


@dataclass(frozen=True)
class Case:
    lhs: tuple[int, ...]
    rhs: tuple[int, ...]
    strides: tuple[int, ...]
    padding: Any
    dn: Any = None
    lhs_dilation: tuple[int, ...] | None = None
    rhs_dilation: tuple[int, ...] | None = None
    groups: int = 1
    batch_groups: int = 1
    extra: dict = field(default_factory=dict)

    def kwargs(self) -> dict:
        return dict(lhs_dilation=self.lhs_dilation, rhs_dilation=self.rhs_dilation,
                    dimension_numbers=self.dn, feature_group_count=self.groups,
                    batch_group_count=self.batch_groups, **self.extra)


NHWC = ("NHWC", "HWIO", "NHWC")
CASES = {
    "nchw_same": Case((2, 3, 7, 6), (4, 3, 3, 3), (1, 1), "SAME"),
    "nchw_valid_strided": Case((2, 3, 7, 6), (4, 3, 2, 3), (2, 1), "VALID"),
    "nhwc_same": Case((2, 6, 5, 3), (3, 3, 3, 4), (1, 1), "SAME", NHWC),
    "nhwc_strided_same_lower": Case((2, 7, 8, 3), (3, 2, 3, 5), (2, 3), "SAME_LOWER", NHWC),
    "mixed_layouts": Case((2, 6, 5, 3), (4, 3, 2, 2), (1, 2), "SAME", ("NHWC", "OIHW", "NCHW")),
    "explicit_negative_pads": Case((2, 3, 7, 6), (4, 3, 2, 3), (1, 1), ((1, 2), (0, -1))),
    "lhs_rhs_dilation": Case((2, 3, 7, 6), (4, 3, 2, 3), (2, 1), ((1, 2), (0, 1)), None,
                             (2, 1), (1, 2)),
    "feature_groups": Case((2, 6, 7, 6), (4, 3, 2, 3), (1, 1), "SAME", groups=2),
    "depthwise_nhwc": Case((2, 6, 6, 4), (3, 3, 1, 8), (1, 1), "SAME", NHWC, groups=4),
    "batch_groups": Case((4, 6, 7, 6), (4, 6, 2, 3), (1, 1), "VALID", batch_groups=2),
    "conv1d": Case((2, 9, 3), (3, 3, 5), (2,), "SAME", ("NWC", "WIO", "NCW")),
    "conv3d": Case((1, 2, 5, 4, 6), (3, 2, 2, 3, 2), (1, 2, 1), "SAME"),
    "window_larger_than_input": Case((1, 2, 2, 2), (3, 2, 3, 3), (1, 1), "VALID"),
    "empty_batch": Case((0, 3, 5, 5), (2, 3, 3, 3), (1, 1), "SAME"),
    "empty_features": Case((2, 0, 5, 5), (2, 0, 3, 3), (1, 1), "SAME"),
    "one_by_one": Case((2, 5, 4, 8), (1, 1, 8, 6), (1, 1), "VALID", NHWC),
    # Enough work for several blocks of patches, split over the thread pool: written in
    # place (NHWC) and through the staging buffer (NCHW).
    "blocks_nhwc": Case((4, 16, 16, 32), (3, 3, 32, 32), (1, 1), "SAME", NHWC),
    "blocks_nchw_groups": Case((4, 32, 16, 16), (32, 16, 3, 3), (1, 1), "SAME", groups=2),
    # Winograd's algorithm (3x3, stride 1, NHWC, 16+ features): odd output sizes, a filter
    # in another layout, asymmetric padding.
    "winograd_valid_odd": Case((2, 13, 11, 16), (3, 3, 16, 20), (1, 1), "VALID", NHWC),
    "winograd_pads_oihw": Case((2, 12, 10, 17), (20, 17, 3, 3), (1, 1), ((2, 1), (0, 2)),
                               ("NHWC", "OIHW", "NHWC")),
}


def _args(case: Case, dtype: Any, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind in "iu":
        return (rng.integers(-4, 5, case.lhs).astype(dtype),
                rng.integers(-4, 5, case.rhs).astype(dtype))
    return (rng.standard_normal(case.lhs).astype(dtype),
            rng.standard_normal(case.rhs).astype(dtype))


def _conv(lib: Any, case: Case):
    return lambda x, w: lib.lax.conv_general_dilated(x, w, case.strides, case.padding,
                                                     **case.kwargs())


def _close(got: Any, want: Any, dtype: Any) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype,
                                                                  want.shape, want.dtype)
    tol = {np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-12}.get(np.dtype(dtype), 0)
    scale = max(1.0, float(np.abs(want).max(initial=0)))
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale * 10)


# Integers run the NumPy reference when compiled too: a few layouts are enough.
INT_CASES = ("nchw_valid_strided", "lhs_rhs_dilation", "feature_groups", "batch_groups",
             "empty_batch")


@pytest.mark.parametrize("name, dtype", [(n, d) for n in sorted(CASES)
                                         for d in (np.float32, np.float64, np.int32)
                                         if d is not np.int32 or n in INT_CASES], ids=str)
def test_values_vs_jax(name: str, dtype: Any) -> None:
    case = CASES[name]
    with x64_mode(dtype == np.float64):
        x, w = _args(case, dtype)
        want = _conv(jax, case)(x, w)
        _close(_conv(llax, case)(x, w), want, dtype)  # the reference
        _close(llax.jit(_conv(llax, case))(x, w), want, dtype)  # compiled


def test_preferred_element_type_vs_jax() -> None:
    case = Case((2, 3, 6, 6), (4, 3, 3, 3), (1, 1), "SAME",
                extra={"preferred_element_type": np.float32})
    x, w = _args(case, np.int8)
    _close(llax.jit(_conv(llax, case))(x, w), _conv(jax, case)(x, w), np.float32)


@pytest.mark.parametrize("name", [n for n in sorted(CASES)
                                  if not n.startswith("empty") and n != "blocks_nchw_groups"])
def test_grad_and_jvp_vs_jax(name: str) -> None:
    case = CASES[name]
    with x64_mode(True):
        x, w = _args(case, np.float64)
        tx, tw = _args(case, np.float64, seed=1)

        def loss(lib):
            return lambda x, w: lib.numpy.sum(lib.numpy.sin(_conv(lib, case)(x, w)))

        want = jax.grad(loss(jax), argnums=(0, 1))(x, w)
        for got in (llax.grad(loss(llax), argnums=(0, 1))(x, w),
                    llax.jit(llax.grad(loss(llax), argnums=(0, 1)))(x, w)):
            _close(got[0], want[0], np.float64)
            _close(got[1], want[1], np.float64)
        _, got_t = llax.jvp(_conv(llax, case), (x, w), (tx, tw))
        _, want_t = jax.jvp(_conv(jax, case), (x, w), (tx, tw))
        _close(got_t, want_t, np.float64)


@pytest.mark.parametrize("name", ["nchw_same", "lhs_rhs_dilation", "feature_groups",
                                  "batch_groups", "mixed_layouts"])
def test_vjp_is_the_transpose_of_the_jvp(name: str) -> None:
    case = CASES[name]
    with x64_mode(True):
        x, w = _args(case, np.float64)
        tx, tw = _args(case, np.float64, seed=1)
        y, pullback = llax.vjp(_conv(llax, case), x, w)
        ct = np.random.default_rng(2).standard_normal(y.shape)
        _, jvp_out = llax.jvp(_conv(llax, case), (x, w), (tx, tw))
        cx, cw = pullback(ct)
        np.testing.assert_allclose(np.sum(ct * np.asarray(jvp_out)),
                                   np.sum(np.asarray(cx) * tx) + np.sum(np.asarray(cw) * tw),
                                   rtol=1e-10)


@pytest.mark.parametrize("name", ["nchw_same", "nhwc_strided_same_lower", "feature_groups",
                                  "depthwise_nhwc", "batch_groups", "conv1d"])
@pytest.mark.parametrize("axes", [(0, None), (None, 0), (0, 0), (2, 1)], ids=str)
def test_vmap_vs_a_loop(name: str, axes: tuple) -> None:
    case = CASES[name]
    rng = np.random.default_rng(3)
    x, w = _args(case, np.float32)
    xs = np.stack([x, rng.standard_normal(x.shape).astype(np.float32), x * 2], axes[0] or 0)
    ws = np.stack([w, w * -1, rng.standard_normal(w.shape).astype(np.float32)], axes[1] or 0)
    args = (xs if axes[0] is not None else x, ws if axes[1] is not None else w)
    f = _conv(llax, case)
    want = np.stack([np.asarray(f(np.take(xs, i, axes[0]) if axes[0] is not None else x,
                                  np.take(ws, i, axes[1]) if axes[1] is not None else w))
                     for i in range(3)])
    for g in (llax.vmap(f, axes), llax.jit(llax.vmap(f, axes))):
        _close(g(*args), want, np.float32)


def test_wrappers_vs_jax() -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 2)).astype(np.float32)
    for lib_call in (lambda L: L.lax.conv(x, w, (2, 1), "SAME"),
                     lambda L: L.lax.conv_with_general_padding(x, w, (1, 2), ((1, 0), (2, 1)),
                                                               (2, 1), (1, 2))):
        _close(lib_call(llax), lib_call(jax), np.float32)


# (use_consistent_padding changes only how explicit pads are read.)
@pytest.mark.parametrize("padding, consistent", [("SAME", False), ("VALID", False),
                                                 (((1, 2), (0, 1)), False),
                                                 (((1, 2), (0, 1)), True)], ids=str)
@pytest.mark.parametrize("transpose_kernel", [False, True])
def test_conv_transpose_vs_jax(padding, transpose_kernel: bool, consistent: bool) -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 5, 6, 3)).astype(np.float32)
    w = rng.standard_normal((3, 2, 4 if transpose_kernel else 3, 3 if transpose_kernel else 4)
                            ).astype(np.float32)

    def run(L):
        return L.lax.conv_transpose(x, w, (2, 3), padding, rhs_dilation=(1, 2),
                                    dimension_numbers=NHWC, transpose_kernel=transpose_kernel,
                                    use_consistent_padding=consistent)

    _close(llax.jit(lambda: run(llax))(), run(jax), np.float32)


def test_shape_helpers_vs_jax() -> None:
    for L in (jax.lax, lax):
        assert L.conv_dimension_numbers((1, 2, 3, 4), (5, 6, 7, 8), NHWC) == (
            jax.lax.conv_dimension_numbers((1, 2, 3, 4), (5, 6, 7, 8), NHWC))
    for in_shape, window, strides, pad in [((7, 8), (3, 2), (2, 3), "SAME"),
                                          ((7, 8), (3, 2), (2, 3), "SAME_LOWER"),
                                          ((5,), (2,), (1,), "VALID")]:
        assert lax.padtype_to_pads(in_shape, window, strides, pad) == list(
            jax.lax.padtype_to_pads(in_shape, window, strides, pad))
    shapes = ((8, 28, 28, 3), (3, 3, 3, 16))
    for pad in ("SAME", "VALID", ((1, 1), (2, 0))):
        assert lax.conv_general_shape_tuple(*shapes, (2, 1), pad, NHWC) == (
            jax.lax.conv_general_shape_tuple(*shapes, (2, 1), pad, NHWC))
    for pad in ("SAME", "VALID"):
        assert lax.conv_transpose_shape_tuple(*shapes, (2, 1), pad, NHWC) == (
            jax.lax.conv_transpose_shape_tuple(*shapes, (2, 1), pad, NHWC))
    assert lax.conv_shape_tuple((2, 3, 9, 9), (4, 3, 3, 3), (2, 2), "SAME") == (
        jax.lax.conv_shape_tuple((2, 3, 9, 9), (4, 3, 3, 3), (2, 2), "SAME"))
    assert lax.conv_general_permutations(("NCHW", "HWIO", "NHWC")) == (
        jax.lax.conv_general_permutations(("NCHW", "HWIO", "NHWC")))


@pytest.mark.parametrize("kwargs, error", [
    (dict(lhs=(2, 3, 5, 5), rhs=(4, 2, 3, 3)), ValueError),  # feature mismatch
    (dict(lhs=(2, 4, 5, 5), rhs=(3, 2, 3, 3), feature_group_count=2), ValueError),
    (dict(lhs=(3, 4, 5, 5), rhs=(4, 4, 3, 3), batch_group_count=2), ValueError),
    (dict(lhs=(2, 3, 5, 5), rhs=(4, 3, 3)), TypeError),  # ranks differ
    (dict(lhs=(2, 3, 5, 5), rhs=(4, 3, 3, 3), dimension_numbers=("NCHW", "OIHW")), TypeError),
    (dict(lhs=(2, 3, 5, 5), rhs=(4, 3, 3, 3), dimension_numbers=("NCHW", "OIHW", "NCXW")),
     TypeError),
    (dict(lhs=(2, 3, 5, 5), rhs=(4, 3, 3, 3), padding="FULL"), RuntimeError),
    (dict(lhs=(2, 3, 5, 5), rhs=(4, 3, 3, 3), padding="SAME", lhs_dilation=(2, 1)),
     ValueError),
])
def test_errors_match_jax(kwargs: dict, error: type) -> None:
    kwargs = dict(kwargs)
    x, w = np.ones(kwargs.pop("lhs"), np.float32), np.ones(kwargs.pop("rhs"), np.float32)
    padding = kwargs.pop("padding", "VALID")
    for L in (jax.lax, lax):
        with pytest.raises(error):
            L.conv_general_dilated(x, w, (1,) * (x.ndim - 2), padding, **kwargs)


def test_dtype_mismatch_is_an_error() -> None:
    with pytest.raises(TypeError, match="same dtype"):
        lax.conv(jnp.ones((1, 1, 3, 3), jnp.float32), jnp.ones((1, 1, 2, 2), jnp.int32),
                 (1, 1), "VALID")


@pytest.mark.parametrize("name, winograd", [("blocks_nhwc", True), ("winograd_valid_odd", True),
                                            ("winograd_pads_oihw", True), ("nhwc_same", False),
                                            ("nhwc_strided_same_lower", False)])
def test_which_convolutions_take_winograd(name: str, winograd: bool) -> None:
    """3x3 stride-1 NHWC convolutions with enough features use Winograd's algorithm (their
    values are checked against JAX above); others the patches."""
    from llax.codegen.winograd import conv_symbol

    x, w = _args(CASES[name], np.float32)
    text = llax.jit(_conv(llax, CASES[name])).lower(x, w).as_text("llvm")
    assert (conv_symbol(np.float32) in text) == winograd


def test_ir_text_round_trip() -> None:
    """The params (ConvDimensionNumbers, pads, dilations) print and parse back equal."""
    x, w = Var(TensorType((2, 3, 7, 6), np.dtype(np.float32))), Var(
        TensorType((4, 3, 2, 3), np.dtype(np.float32)))
    params = Params(window_strides=(2, 1), padding=((1, 2), (0, -1)), lhs_dilation=(2, 1),
                    rhs_dilation=(1, 2), dimension_numbers=lax.ConvDimensionNumbers(
                        (0, 1, 2, 3), (0, 1, 2, 3), (0, 1, 2, 3)),
                    feature_group_count=1, batch_group_count=1, precision=None,
                    preferred_element_type=None)
    (t,) = infer_types(P.conv_general_dilated, (x.type, w.type), params)
    out = Var(t)
    fn = Function((x, w), (Op(P.conv_general_dilated, (x, w), (out,), params),), (out,))
    text = print_function(fn)
    assert "lhs_dilation=(2, 1)" in text and "padding=((1, 2), (0, -1))" in text
    back = parse_function(text)
    assert print_function(back) == text
    verify(back)


@pytest.mark.parametrize("special", ["inf", "nan", "huge", "tiny"])
def test_winograd_case_on_awkward_values_vs_jax(special: str) -> None:
    """A convolution Winograd's algorithm would take, on an infinite or NaN element, on
    magnitudes near float32's largest (where its transforms would overflow into NaN) and on
    subnormals: the same infs, NaNs and numbers as JAX (operands its transforms cannot
    take exactly go to the patches)."""
    case = CASES["blocks_nhwc"]
    x, w = _args(case, np.float32)
    if special in ("inf", "nan"):
        x.flat[x.size // 3] = np.inf if special == "inf" else np.nan
        x.flat[x.size // 2] = -np.inf if special == "inf" else np.nan
    else:
        x *= np.float32(3e37 if special == "huge" else 1e-40)
    got = np.asarray(llax.jit(_conv(llax, case))(x, w))
    want = np.asarray(jax.jit(_conv(jax, case))(x, w))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    np.testing.assert_array_equal(got[np.isinf(want)], want[np.isinf(want)])
    finite = np.isfinite(want)
    scale = float(np.abs(want[finite]).max(initial=0))
    # (XLA flushes subnormal results to zero: an absolute bound covers those)
    np.testing.assert_allclose(got[finite], want[finite], rtol=2e-5,
                               atol=max(2e-5 * scale, 1e-36))
