"""llax.example_libraries.stax against JAX's stax: with the same key every layer's init
gives JAX's output shape and parameters, and with the same parameters its apply gives
JAX's outputs; a short training run with adam gives JAX's losses."""

import jax
import numpy as np
import pytest
from jax.example_libraries import optimizers as jopt
from jax.example_libraries import stax as jstax

import llax
import llax.numpy as jnp
from llax.example_libraries import optimizers as lopt
from llax.example_libraries import stax as lstax

RTOL, ATOL = 1e-5, 1e-6


def inputs(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def to_llax(tree):
    return llax.tree_util.tree_map(jnp.asarray, tree)


def assert_trees_close(j, ll, rtol=RTOL, atol=ATOL):
    j_leaves, j_def = jax.tree.flatten(j)
    l_leaves, l_def = llax.tree_util.tree_flatten(ll)
    assert str(j_def) == str(l_def), (j_def, l_def)
    for a, b in zip(j_leaves, l_leaves):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
        np.testing.assert_allclose(b, a, rtol=rtol, atol=atol)


def jax_init_abstract(j_init, key, input_shape):
    """JAX's init traced, not run: its output shape and its parameters' shapes and dtypes
    (running it would compile JAX's samplers for every new shape, seconds each)."""
    out = {}

    def params_only(k):
        out["shape"], params = j_init(k, input_shape)
        return params
    abstract = jax.eval_shape(params_only, key)
    return out["shape"], abstract


def check_layer(make, input_shape, x_shape=None, seed=0, apply_kwargs=None, rtol=RTOL,
                atol=ATOL, values=False):
    """init with one key in both libraries: the same output shape and parameter shapes
    and dtypes, and with ``values`` the same parameter values (for the layers whose key
    handling is their own; the initializers' values are tested in
    test_nn_initializers). Then apply each library's layer to the same inputs and
    parameters."""
    j_init, j_apply = make(jstax)
    l_init, l_apply = make(lstax)
    l_shape, l_params = l_init(llax.random.key(seed), input_shape)
    if values:
        j_shape, j_params = j_init(jax.random.key(seed), input_shape)
        assert_trees_close(j_params, l_params)
    else:
        j_shape, abstract = jax_init_abstract(j_init, jax.random.key(seed), input_shape)
        assert str(jax.tree.structure(abstract)) == str(llax.tree_util.tree_structure(l_params))
        for a, b in zip(jax.tree.leaves(abstract), llax.tree_util.tree_leaves(l_params)):
            assert (a.shape, a.dtype) == (b.shape, b.dtype)
        j_params = jax.tree.map(np.asarray, l_params)
    assert l_shape == j_shape
    x = inputs(x_shape or input_shape, seed + 1)
    j_kw = {k: v(jax) for k, v in (apply_kwargs or {}).items()}
    l_kw = {k: v(llax) for k, v in (apply_kwargs or {}).items()}
    j_out = j_apply(j_params, x, **j_kw)
    l_out = l_apply(to_llax(j_params), jnp.asarray(x), **l_kw)
    assert_trees_close(j_out, l_out, rtol=rtol, atol=atol)
    return l_out


def test_public_names():
    public = {n for n in dir(jstax) if not n.startswith("_")} - {
        "functools", "math", "lax", "random", "jnp"}
    assert public <= set(dir(lstax)), public - set(dir(lstax))
    assert lstax.glorot is lstax.glorot_normal and lstax.randn is lstax.normal


@pytest.mark.parametrize("make,shape", [
    (lambda s: s.Dense(7), (4, 5)),
    (lambda s: s.Dense(3, W_init=s.randn(0.5), b_init=s.zeros), (2, 3, 6)),
    (lambda s: s.Dense(2, W_init=s.glorot(), b_init=s.ones), (3, 4)),
])
def test_dense(make, shape):
    check_layer(make, shape, values=True)


@pytest.mark.parametrize("name", ["Tanh", "Relu", "Exp", "LogSoftmax", "Softmax", "Softplus",
                                  "Sigmoid", "Elu", "LeakyRelu", "Selu", "Gelu", "Identity"])
def test_elementwise_layers(name):
    check_layer(lambda s: getattr(s, name), (3, 5))


def test_elementwise_builder():
    check_layer(lambda s: s.elementwise(s.leaky_relu, negative_slope=0.3), (2, 4))
    check_layer(lambda s: s.elementwise(s.softmax, axis=0), (2, 4))


def test_flatten():
    out = check_layer(lambda s: s.Flatten, (3, 2, 4, 5))
    assert out.shape == (3, 40)
    # A -1 batch dimension stays -1 in the shape.
    assert lstax.Flatten[0](None, (-1, 2, 3))[0] == jstax.Flatten[0](None, (-1, 2, 3))[0]


@pytest.mark.parametrize("kwargs,shape", [
    ({}, (4, 3, 5, 6)),
    ({"axis": 0}, (8, 3)),
    ({"axis": (0, 2), "epsilon": 1e-3}, (4, 3, 5)),
    ({"center": False}, (6, 4, 2, 3)),
    ({"scale": False, "axis": (0,)}, (6, 4)),
    ({"center": False, "scale": False, "axis": (0, 1)}, (6, 4, 2)),
    ({"beta_init": lambda k, s: jnp.full(s, 0.5), "gamma_init": lambda k, s: jnp.full(s, 2.0),
      "axis": (0,)}, (5, 3)),
])
def test_batch_norm(kwargs, shape):
    def make(s):
        kw = dict(kwargs)
        if "beta_init" in kw and s is jstax:  # the same constants from JAX's numpy
            kw["beta_init"] = lambda k, sh: jax.numpy.full(sh, 0.5)
            kw["gamma_init"] = lambda k, sh: jax.numpy.full(sh, 2.0)
        return s.BatchNorm(**kw)
    check_layer(make, shape, rtol=1e-4, atol=1e-5, values=True)


def test_dropout():
    for mode in ["train", "test"]:
        check_layer(lambda s, mode=mode: s.Dropout(0.7, mode=mode), (6, 9),
                    apply_kwargs={"rng": lambda lib: lib.random.key(5)})
    init, apply = lstax.Dropout(0.5)
    with pytest.raises(ValueError, match="requires apply_fun to be called with a PRNG key"):
        apply((), jnp.ones(3))
    with pytest.raises(ValueError, match="requires apply_fun to be called with a PRNG key"):
        jstax.Dropout(0.5)[1]((), np.ones(3))


def test_fan_out_parallel_fan_in():
    def make(s):
        return s.serial(s.FanOut(3), s.parallel(s.Dense(4), s.Identity, s.Dense(4)),
                        s.FanInSum)
    check_layer(make, (2, 4), values=True)

    def make_concat(s):
        return s.serial(s.FanOut(2), s.parallel(s.Dense(3), s.Dense(5)), s.FanInConcat())
    out = check_layer(make_concat, (2, 4))
    assert out.shape == (2, 8)
    check_layer(lambda s: s.serial(s.FanOut(2), s.FanInConcat(axis=0)), (2, 4))


def test_parallel_init_matches_jax():
    def make(s):
        return s.parallel(s.Dense(3), s.Tanh)
    j_shapes, j_params = make(jstax)[0](jax.random.key(0), [(2, 4), (2, 5)])
    l_shapes, l_params = make(lstax)[0](llax.random.key(0), [(2, 4), (2, 5)])
    assert tuple(l_shapes) == tuple(j_shapes)
    assert_trees_close(j_params, l_params)
    xs = [inputs((2, 4)), inputs((2, 5), 1)]
    assert_trees_close(make(jstax)[1](j_params, xs),
                       make(lstax)[1](to_llax(j_params), [jnp.asarray(x) for x in xs]))


def test_serial_splits_rng_between_layers():
    def make(s):
        return s.serial(s.Dense(8), s.Dropout(0.5), s.Relu, s.Dropout(0.8), s.Dense(2))
    check_layer(make, (5, 3), apply_kwargs={"rng": lambda lib: lib.random.key(9)})


def test_shape_dependent():
    def make(s):
        return s.shape_dependent(lambda shape: s.Dense(shape[-1] * 2))
    out = check_layer(make, (3, 4))
    assert out.shape == (3, 8)


def mlp(s):
    return s.serial(s.Dense(16), s.Relu, s.Dense(3), s.LogSoftmax)


def test_mlp_layers_inside_jit():
    init, apply = mlp(lstax)
    _, params = init(llax.random.key(0), (-1, 5))
    x = jnp.asarray(inputs((4, 5)))
    np.testing.assert_allclose(np.asarray(llax.jit(apply)(params, x)),
                               np.asarray(apply(params, x)), rtol=1e-5, atol=1e-6)


def test_training_run_matches_jax():
    """serial(Dense, Relu, Dense, LogSoftmax) trained with adam under jit(grad): JAX's
    losses step for step."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 5)).astype(np.float32)
    labels = (x[:, 0] + x[:, 1] > 0).astype(int) + (x[:, 2] > 1).astype(int)
    y = np.eye(3, dtype=np.float32)[labels]
    losses = {}
    _, initial = mlp(lstax)[0](llax.random.key(0), (-1, 5))
    for name, lib, stax, opt, np_ in [("jax", jax, jstax, jopt, jax.numpy),
                                      ("llax", llax, lstax, lopt, jnp)]:
        _, apply = mlp(stax)
        # Both start from llax's initial parameters (equal to JAX's: tested above;
        # initializing again through JAX would only add seconds of JAX compiles).
        params = initial if lib is llax else jax.tree.map(np.asarray, initial)

        def loss(p, apply=apply, np_=np_):
            return -np_.mean(np_.sum(apply(p, x) * y, axis=-1))

        opt_init, opt_update, get_params = opt.adam(0.01)

        @lib.jit
        def step(i, state, loss=loss, lib=lib, opt_update=opt_update, get_params=get_params):
            value = loss(get_params(state))
            return opt_update(i, lib.grad(loss)(get_params(state)), state), value

        state = opt_init(params)
        history = []
        for i in range(20):
            state, value = step(i, state)
            history.append(float(value))
        losses[name] = history
    np.testing.assert_allclose(losses["llax"], losses["jax"], rtol=1e-5)
    assert losses["llax"][-1] < losses["llax"][0]


@pytest.mark.parametrize("make,shape", [
    (lambda s: s.Conv(4, (3, 3)), (2, 8, 8, 3)),
    (lambda s: s.Conv(4, (3, 2), (2, 2), "SAME"), (2, 7, 8, 3)),
    (lambda s: s.GeneralConv(("NCHW", "OIHW", "NCHW"), 4, (3, 3), padding=[(1, 0), (2, 1)]),
     (2, 3, 8, 8)),
    (lambda s: s.GeneralConv(("NWC", "WIO", "NWC"), 2, (3,), (2,), "SAME",
                             W_init=s.randn(0.3), b_init=s.ones), (2, 9, 3)),
    (lambda s: s.ConvTranspose(4, (3, 3), (2, 2), "SAME"), (2, 5, 5, 3)),
    (lambda s: s.ConvTranspose(2, (2, 3)), (2, 5, 5, 3)),
    (lambda s: s.Conv1DTranspose(2, (3,), (2,), "VALID"), (2, 6, 3)),
    (lambda s: s.GeneralConvTranspose(("NCHW", "IOHW", "NCHW"), 3, (2, 2), (2, 1), "SAME"),
     (2, 2, 4, 5)),
])
def test_conv_layers(make, shape):
    # Parameter values (glorot on the kernel's I/O axes, the keys) are checked on the CNN.
    check_layer(make, shape, rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("make,shape", [
    (lambda s: s.MaxPool((2, 2)), (2, 6, 6, 3)),
    (lambda s: s.MaxPool((3, 3), (2, 2), "SAME"), (2, 7, 6, 3)),
    (lambda s: s.MaxPool((2,), spec="NWC"), (2, 5, 3)),
    (lambda s: s.SumPool((2, 2), (2, 2)), (2, 6, 6, 3)),
    (lambda s: s.SumPool((2, 3), (1, 2), "SAME", spec="NCHW"), (2, 3, 5, 6)),
    (lambda s: s.AvgPool((3, 3), (1, 1), "SAME"), (2, 5, 6, 3)),
    (lambda s: s.AvgPool((2, 2), (2, 2), "SAME", spec="NCHW"), (2, 3, 5, 6)),
    (lambda s: s.AvgPool((2, 2)), (1, 4, 4, 2)),
])
def test_pooling_layers(make, shape):
    check_layer(make, shape)


def cnn(s):
    return s.serial(s.Conv(4, (3, 3), padding="SAME"), s.Relu, s.MaxPool((2, 2), (2, 2)),
                    s.Conv(6, (3, 3)), s.BatchNorm(), s.Tanh, s.AvgPool((2, 2)), s.Flatten,
                    s.Dense(3), s.LogSoftmax)


def test_cnn_init_and_apply():
    check_layer(cnn, (4, 10, 10, 2), rtol=1e-4, atol=1e-5, values=True)


def test_cnn_training_run_matches_jax():
    """Conv, pooling, BatchNorm and Dense trained with adam under jit(grad): JAX's losses."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 10, 10, 2)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[np.arange(8) % 3]
    losses = {}
    _, initial = cnn(lstax)[0](llax.random.key(3), (-1, 10, 10, 2))
    for name, lib, stax, opt, np_ in [("jax", jax, jstax, jopt, jax.numpy),
                                      ("llax", llax, lstax, lopt, jnp)]:
        _, apply = cnn(stax)
        # Both start from llax's initial parameters (equal to JAX's: tested above;
        # initializing again through JAX would only add seconds of JAX compiles).
        params = initial if lib is llax else jax.tree.map(np.asarray, initial)

        def loss(p, apply=apply, np_=np_):
            return -np_.mean(np_.sum(apply(p, x) * y, axis=-1))

        opt_init, opt_update, get_params = opt.adam(0.01)

        @lib.jit
        def step(i, state, loss=loss, lib=lib, opt_update=opt_update, get_params=get_params):
            value, g = lib.value_and_grad(loss)(get_params(state))
            return opt_update(i, g, state), value

        state = opt_init(params)
        history = []
        for i in range(6):
            state, value = step(i, state)
            history.append(float(value))
        losses[name] = history
    np.testing.assert_allclose(losses["llax"], losses["jax"], rtol=2e-5)
    assert losses["llax"][-1] < losses["llax"][0]


def test_float64_under_x64():
    """With x64 on, parameters and outputs are float64, and still JAX's."""
    before_llax, before_jax = llax.config.jax_enable_x64, jax.config.jax_enable_x64
    llax.config.update("jax_enable_x64", True)
    jax.config.update("jax_enable_x64", True)
    try:
        def make(s):
            return s.serial(s.Dense(6), s.Gelu, s.BatchNorm(axis=(0,)), s.Dense(2),
                            s.Softmax)
        out = check_layer(make, (5, 3), rtol=1e-12, atol=1e-14)
        assert out.dtype == np.float64
        _, params = make(lstax)[0](llax.random.key(0), (5, 3))
        assert all(p.dtype == np.float64 for p in llax.tree_util.tree_leaves(params))
    finally:
        llax.config.update("jax_enable_x64", before_llax)
        jax.config.update("jax_enable_x64", before_jax)


@pytest.mark.parametrize("make,params,shape", [
    (lambda s: s.Dense(3), ((4, 3), (3,)), (2, 5)),
    (lambda s: s.Conv(3, (2, 2)), ((2, 2, 4, 3), (1, 1, 1, 3)), (1, 5, 5, 2)),
    (lambda s: s.MaxPool((2, 2)), (), (5, 5)),
    (lambda s: s.AvgPool((2, 2)), (), (5, 5)),
])
def test_bad_inputs_raise_jax_exception_types(make, params, shape):
    def fail(s, lib_np):
        p = jax.tree.map(lambda sh: lib_np.ones(sh, np.float32), params,
                         is_leaf=lambda t: isinstance(t, tuple) and len(t) > 0 and all(
                             isinstance(d, int) for d in t))
        with pytest.raises(Exception) as info:
            make(s)[1](p, lib_np.ones(shape, np.float32))
        return info.type
    assert fail(lstax, jnp) is fail(jstax, jax.numpy)


def test_fan_in_concat_mismatch_raises_like_jax():
    with pytest.raises(TypeError):
        jstax.FanInConcat()[1]((), [np.ones((2, 3)), np.ones((3, 3))])
    with pytest.raises(TypeError):
        lstax.FanInConcat()[1]((), [jnp.ones((2, 3)), jnp.ones((3, 3))])
