"""llax.nn.initializers against jax.nn.initializers: the same key gives the same values,
shapes and dtypes (float32, float64 under x64, complex), and the same errors."""

import jax
import jax.nn.initializers as jinit
import numpy as np
import pytest

import llax
import llax.nn.initializers as linit
from llax.frontend import nn_initializers

# Few distinct shapes: the JAX oracle compiles anew for each (seconds on a busy machine).
MATRIX = (5, 7)
KERNEL = (2, 3, 4, 5)


@pytest.fixture(params=["float32", "float64"])
def float_dtype(request):
    """The dtype, with x64 on in llax and JAX for float64 (and restored afterwards)."""
    if request.param == "float32":
        yield np.float32
        return
    before_llax, before_jax = llax.config.jax_enable_x64, jax.config.jax_enable_x64
    llax.config.update("jax_enable_x64", True)
    jax.config.update("jax_enable_x64", True)
    try:
        yield np.float64
    finally:
        llax.config.update("jax_enable_x64", before_llax)
        jax.config.update("jax_enable_x64", before_jax)


def keys(seed=0):
    return jax.random.key(seed), llax.random.key(seed)


def assert_same(j, ll, rtol=0.0, atol=0.0):
    j, ll = np.asarray(j), np.asarray(ll)
    assert ll.dtype == j.dtype and ll.shape == j.shape, (ll.dtype, ll.shape, j.dtype, j.shape)
    np.testing.assert_allclose(ll, j, rtol=rtol, atol=atol)


def run_both(name, args=(), kwargs=None, shape=MATRIX, dtype=None, seed=0):
    kwargs = kwargs or {}
    jk, lk = keys(seed)
    j = getattr(jinit, name)(*args, **kwargs)(jk, shape, dtype)
    ll = getattr(linit, name)(*args, **kwargs)(lk, shape, dtype)
    return j, ll


def test_public_names_match_jax():
    public = {n for n in dir(jinit) if not n.startswith("_")}
    assert public <= set(dir(linit)), public - set(dir(linit))
    assert llax.nn.initializers is linit
    import llax.nn as lnn
    assert lnn.initializers is nn_initializers


@pytest.mark.parametrize("name", ["zeros", "ones"])
def test_constant_arrays(name, float_dtype):
    jk, lk = keys()
    # zeros and ones are initializers themselves, not builders.
    assert_same(getattr(jinit, name)(jk, (3, 2), float_dtype),
                getattr(linit, name)(lk, (3, 2), float_dtype))
    # The default dtype follows x64 as JAX's.
    assert_same(getattr(jinit, name)(jk, (4,)), getattr(linit, name)(lk, (4,)))


def test_constant(float_dtype):
    jk, lk = keys()
    assert_same(jinit.constant(-7)(jk, (2, 3), float_dtype),
                linit.constant(-7)(lk, (2, 3), float_dtype))
    # The builder's dtype is the default; a call's dtype overrides it.
    assert_same(jinit.constant(2.5, np.float32)(jk, (3,)),
                linit.constant(2.5, np.float32)(lk, (3,)))
    assert_same(jinit.constant(1, np.float32)(jk, (2,), np.int32),
                linit.constant(1, np.float32)(lk, (2,), np.int32))


@pytest.mark.parametrize("name,args", [
    ("normal", ()), ("normal", (5.0,)), ("uniform", ()), ("uniform", (10.0,)),
    ("truncated_normal", ()), ("truncated_normal", (3.0,)),
])
@pytest.mark.parametrize("shape", [MATRIX, ()])
def test_simple_random(name, args, shape, float_dtype):
    j, ll = run_both(name, args, shape=shape, dtype=float_dtype, seed=3)
    assert_same(j, ll, rtol=1e-6 if float_dtype == np.float32 else 1e-14)


def test_truncated_normal_bounds(float_dtype):
    kw = {"stddev": 2.0, "lower": -0.5, "upper": 1.5}
    j, ll = run_both("truncated_normal", kwargs=kw, shape=MATRIX, dtype=float_dtype)
    assert_same(j, ll, rtol=1e-6 if float_dtype == np.float32 else 1e-14)
    ll = np.asarray(ll)
    assert ll.min() >= -1.0 and ll.max() <= 3.0


def test_complex_normal():
    j, ll = run_both("normal", (2.0,), shape=MATRIX, dtype=np.complex64)
    assert_same(j, ll, rtol=1e-6)


@pytest.mark.parametrize("distribution", ["normal", "truncated_normal", "uniform"])
def test_variance_scaling(distribution, float_dtype):
    # One shape, so each sampler compiles once (JAX's compiles take seconds); the modes
    # only change the scale.
    rtol = 1e-6 if float_dtype == np.float32 else 1e-14
    for mode in ["fan_in", "fan_out", "fan_avg", "fan_geo_avg"]:
        j, ll = run_both("variance_scaling", (1.7, mode, distribution), shape=MATRIX,
                         dtype=float_dtype, seed=5)
        assert_same(j, ll, rtol=rtol)


@pytest.mark.parametrize("shape,axes", [
    ((5, 7), {}),
    ((3, 4, 6), {}),
    ((2, 3, 4, 5), {}),
    ((2, 3, 4, 5), {"in_axis": 0, "out_axis": 1}),
    ((2, 3, 4, 5), {"in_axis": (0, 1), "out_axis": -1, "batch_axis": 2}),
    ((2, 3, 4, 5), {"in_axis": -3, "out_axis": (-1, -2), "batch_axis": (0,)}),
    ((7,), {"in_axis": 0, "out_axis": 0}),
    ((), {"in_axis": (), "out_axis": ()}),
])
def test_compute_fans_match_jax(shape, axes):
    """The fans (receptive field included) are JAX's, floats and all."""
    from jax._src.nn.initializers import _compute_fans as jax_fans  # the oracle
    ours = nn_initializers._compute_fans(shape, **axes)
    theirs = jax_fans(shape, **axes)
    assert ours == theirs and [type(f) for f in ours] == [type(f) for f in theirs]


def test_variance_scaling_with_axes():
    # A draw on a kernel shape with explicit axes (fans checked above for the rest).
    axes = {"in_axis": (0, 1), "out_axis": -1, "batch_axis": 2}
    j, ll = run_both("variance_scaling", (2.0, "fan_avg", "normal"), axes, shape=KERNEL,
                     dtype=np.float32, seed=7)
    assert_same(j, ll, rtol=1e-6)


@pytest.mark.parametrize("distribution", ["normal", "truncated_normal", "uniform"])
def test_variance_scaling_complex(distribution):
    j, ll = run_both("variance_scaling", (1.0, "fan_in", distribution), shape=MATRIX,
                     dtype=np.complex64, seed=11)
    assert_same(j, ll, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", [
    "glorot_uniform", "glorot_normal", "xavier_uniform", "xavier_normal", "lecun_uniform",
    "lecun_normal", "he_uniform", "he_normal", "kaiming_uniform", "kaiming_normal",
])
def test_named_variance_scalings(name, float_dtype):
    shape = MATRIX
    j, ll = run_both(name, shape=shape, dtype=float_dtype, seed=2)
    assert_same(j, ll, rtol=1e-6 if float_dtype == np.float32 else 1e-14)
    # Axis arguments and a builder dtype are passed through.
    jk, lk = keys(4)
    kw = {"in_axis": 1, "out_axis": 0, "dtype": float_dtype}
    assert_same(getattr(jinit, name)(**kw)(jk, shape), getattr(linit, name)(**kw)(lk, shape),
                rtol=1e-6 if float_dtype == np.float32 else 1e-14)


def test_aliases_are_the_same_functions():
    assert linit.xavier_uniform is linit.glorot_uniform
    assert linit.xavier_normal is linit.glorot_normal
    assert linit.kaiming_uniform is linit.he_uniform
    assert linit.kaiming_normal is linit.he_normal


@pytest.mark.parametrize("shape,column_axis", [
    (MATRIX, -1), (MATRIX, 0), ((7, 5), -1), ((3, 2, 5), 0),
])
def test_orthogonal(shape, column_axis, float_dtype):
    jk, lk = keys(9)
    j = jinit.orthogonal(1.5, column_axis)(jk, shape, float_dtype)
    ll = linit.orthogonal(1.5, column_axis)(lk, shape, float_dtype)
    # A QR decomposition: equal to rounding, not bit for bit.
    assert_same(j, ll, rtol=1e-4 if float_dtype == np.float32 else 1e-10,
                atol=1e-5 if float_dtype == np.float32 else 1e-12)
    # And orthogonal: the smaller side is orthonormal (times the scale).
    m = np.moveaxis(np.asarray(ll, np.float64), column_axis, -1).reshape(-1, shape[column_axis])
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(gram, 2.25 * np.eye(len(gram)), atol=1e-5)


@pytest.mark.parametrize("shape", [(5, 7), (7, 5)])
def test_orthogonal_complex(shape):
    j, ll = run_both("orthogonal", (1.5,), shape=shape, dtype=np.complex64, seed=2)
    assert_same(j, ll, rtol=1e-4, atol=1e-5)
    j, ll = run_both("delta_orthogonal", (), shape=(3, 5, 7), dtype=np.complex64, seed=2)
    assert_same(j, ll, rtol=1e-4, atol=1e-5)


def test_orthogonal_empty_shape():
    j, ll = run_both("orthogonal", shape=(0, 3))
    assert_same(j, ll)


# The centre matrix is (5, 7), the shape the orthogonal tests draw too.
@pytest.mark.parametrize("shape", [(3, 5, 7), (2, 3, 5, 7), (2, 3, 1, 5, 7)])
def test_delta_orthogonal(shape, float_dtype):
    j, ll = run_both("delta_orthogonal", (2.0,), shape=shape, dtype=float_dtype, seed=1)
    assert_same(j, ll, rtol=1e-4 if float_dtype == np.float32 else 1e-10,
                atol=1e-5 if float_dtype == np.float32 else 1e-12)
    # Zero everywhere but the spatial centre.
    centre = tuple((k - 1) // 2 for k in shape[:-2])
    ll = np.array(ll)
    ll[centre] = 0
    assert not ll.any()


def test_default_dtype_and_initializer_protocol():
    jk, lk = keys()
    for name in ["normal", "uniform", "truncated_normal", "glorot_normal", "orthogonal"]:
        init = getattr(linit, name)()
        assert isinstance(init, linit.Initializer)
        assert np.asarray(init(lk, (3, 3))).dtype == np.float32
    assert isinstance(linit.zeros, linit.Initializer)


def test_inside_jit():
    jk, lk = keys(6)
    ll = llax.jit(lambda k: linit.he_normal()(k, MATRIX))(lk)
    j = jax.jit(lambda k: jinit.he_normal()(k, MATRIX))(jk)
    assert_same(j, ll, rtol=1e-6)


def _error(module, key, make, shape):
    with pytest.raises(Exception) as info:
        make(module)(key, shape)
    return info.type, str(info.value)


@pytest.mark.parametrize("make,shape", [
    (lambda m: m.variance_scaling(1.0, "fan_median", "normal"), (3, 3)),
    (lambda m: m.variance_scaling(1.0, "fan_in", "cauchy"), (3, 3)),
    (lambda m: m.glorot_normal(), (5,)),
    (lambda m: m.orthogonal(), (5,)),
    (lambda m: m.orthogonal(), 5),
    (lambda m: m.delta_orthogonal(), (3, 3)),
    (lambda m: m.delta_orthogonal(), (3, 3, 5, 4)),
])
def test_errors_match_jax(make, shape):
    jk, lk = keys()
    j_type, j_msg = _error(jinit, jk, make, shape)
    l_type, l_msg = _error(linit, lk, make, shape)
    assert l_type is j_type and l_msg == j_msg


def test_non_integer_shape_is_a_type_error_as_in_jax():
    jk, lk = keys()
    for make in [lambda m: m.normal(), lambda m: m.glorot_uniform()]:
        with pytest.raises(TypeError):
            make(jinit)(jk, (2, 2.5))
        with pytest.raises(TypeError):
            make(linit)(lk, (2, 2.5))
