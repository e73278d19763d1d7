"""``from_dlpack``, ``ComplexWarning`` and ``object_`` of ``llax.numpy``, against JAX's."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import llax
import llax.numpy as lnp
from llax.tests.jnp_oracle import assert_same, x64_mode


def test_exported_like_jax():
    assert lnp.ComplexWarning is jnp.ComplexWarning
    assert issubclass(lnp.ComplexWarning, RuntimeWarning)
    assert lnp.object_ is jnp.object_ is np.object_
    assert {"ComplexWarning", "from_dlpack", "object_", "ufunc"} <= set(dir(lnp))


@pytest.mark.parametrize("dtype", ["float32", "int32", "bool", "complex64", "uint8",
                                   "float64", "int64"])
@pytest.mark.parametrize("shape", [(), (0, 3), (2, 3)])
def test_from_numpy_and_jax_arrays(dtype: str, shape: tuple[int, ...]):
    x = np.asarray(np.arange(int(np.prod(shape))).reshape(shape) % 3, dtype=dtype)
    for source in (x, jnp.asarray(x) if np.dtype(dtype).itemsize < 8 else x):
        assert_same(lnp.from_dlpack(source), jnp.from_dlpack(source))
        assert_same(lnp.from_dlpack(source, copy=True), jnp.from_dlpack(source, copy=True))


def test_x64_keeps_wide_dtypes():
    x = np.arange(4, dtype=np.float64)
    with x64_mode(True):
        assert_same(lnp.from_dlpack(x), jnp.from_dlpack(x))


def test_from_llax_arrays_both_ways():
    x = lnp.arange(6, dtype=lnp.float32).reshape(2, 3)
    assert_same(lnp.from_dlpack(x), jnp.asarray(np.asarray(x)))
    np.testing.assert_array_equal(np.from_dlpack(x), np.asarray(x))
    assert not np.from_dlpack(x).flags.writeable  # DLPack 1.0 says the buffer is read-only
    np.testing.assert_array_equal(jnp.from_dlpack(x), np.asarray(x))  # a pre-1.0 consumer
    assert x.__dlpack_device__() == jnp.asarray(1.0).__dlpack_device__()


def test_copies_unless_told_not_to():
    x = np.arange(4, dtype=np.float32)
    copied = lnp.from_dlpack(x)
    shared = lnp.from_dlpack(x, copy=False)
    x[0] = 7
    assert float(copied[0]) == 0 and float(shared[0]) == 7
    assert x.flags.writeable  # the source stays writeable
    strided = np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2]
    np.testing.assert_array_equal(lnp.from_dlpack(strided), strided)


def test_device_argument():
    x = np.ones(3, np.float32)
    device = llax.devices()[0]
    assert_same(lnp.from_dlpack(x, device=device), jnp.from_dlpack(x))
    with pytest.raises(TypeError):
        lnp.from_dlpack(x, device="cpu")


def test_errors_match_jax():
    for bad in ([1, 2], 3.0, np.float32(3)):
        for m in (lnp, jnp):
            with pytest.raises(TypeError, match="__dlpack__"):
                m.from_dlpack(bad)
    with pytest.raises(TypeError):
        llax.jit(lnp.from_dlpack)(np.ones(3, np.float32))  # tracers hold no buffer
    with pytest.raises(TypeError):
        jax.jit(jnp.from_dlpack)(np.ones(3, np.float32))
