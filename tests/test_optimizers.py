"""llax.example_libraries.optimizers against JAX's: a few steps on a small pytree give
JAX's parameters, states are pytrees that pass through jit, pack/unpack round-trip,
schedules give JAX's step sizes, and bad input raises JAX's errors."""

import pickle

import jax
import numpy as np
import pytest
from jax.example_libraries import optimizers as jopt

import llax
import llax.numpy as jnp
from llax.example_libraries import optimizers as lopt

RTOL = 2e-6  # JAX's XLA fuses (and may contract) the update arithmetic: last-ulp differences


def make_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"w": rng.normal(size=(3, 4)).astype(np.float32),
            "layers": [(rng.normal(size=4).astype(np.float32), np.float32(0.5))],
            "c": rng.normal(size=(2, 1, 3)).astype(np.float32)}


def make_grads(params, steps=4, seed=1):
    rng = np.random.default_rng(seed)
    return [jax.tree.map(lambda p: rng.normal(size=np.shape(p)).astype(np.float32), params)
            for _ in range(steps)]


OPTIMIZERS = [
    ("sgd", (0.1,), {}),
    ("momentum", (0.1, 0.9), {}),
    ("nesterov", (0.05,), {"mass": 0.8}),
    ("adagrad", (0.1,), {}),
    ("adagrad", (0.1,), {"momentum": 0.5}),
    ("rmsprop", (0.1,), {}),
    ("rmsprop", (0.01,), {"gamma": 0.5, "eps": 1e-4}),
    ("rmsprop_momentum", (0.1,), {}),
    ("adam", (0.1,), {}),
    ("adam", (1e-2,), {"b1": 0.5, "b2": 0.9, "eps": 1e-6}),
    ("adamax", (0.1,), {}),
    ("sm3", (0.1,), {}),
    ("sm3", (0.1,), {"momentum": 0.0}),
]


def run(module, lib, name, args, kwargs, jit, steps=4):
    init, update, get_params = getattr(module, name)(*args, **kwargs)
    params = make_params()
    state = init(params if module is jopt else llax.tree_util.tree_map(jnp.asarray, params))
    step = lib.jit(update) if jit else update
    for i, g in enumerate(make_grads(params, steps)):
        state = step(i, g, state)
    return state, get_params(state)


def assert_trees_close(j, ll, rtol=RTOL, atol=1e-7):
    j_leaves, j_def = jax.tree.flatten(j)
    l_leaves, l_def = llax.tree_util.tree_flatten(ll)
    assert len(j_leaves) == len(l_leaves) and str(j_def) == str(l_def), (j_def, l_def)
    for a, b in zip(j_leaves, l_leaves):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
        np.testing.assert_allclose(b, a, rtol=rtol, atol=atol)


def test_public_names_match_jax():
    # JAX's module also shows its imports (jax, partial, safe_map...): not API.
    imports = {"jax", "map", "zip", "partial", "safe_map", "safe_zip", "unzip2", "functools",
               "jnp", "namedtuple", "Any", "Callable", "NamedTuple", "annotations"}
    public = {n for n in dir(jopt) if not n.startswith("_")} - imports
    assert public <= set(dir(lopt)), public - set(dir(lopt))


@pytest.mark.parametrize("name,args,kwargs", OPTIMIZERS)
def test_steps_match_jax(name, args, kwargs):
    # Both jitted: JAX's eager and jitted powers round differently (integer_pow vs pow).
    _, j_params = run(jopt, jax, name, args, kwargs, jit=True)
    l_state, l_params = run(lopt, llax, name, args, kwargs, jit=True)
    assert_trees_close(j_params, l_params)
    assert isinstance(l_state, lopt.OptimizerState)
    # Eager llax agrees with jitted llax.
    _, eager = run(lopt, llax, name, args, kwargs, jit=False)
    assert_trees_close(l_params, eager)


@pytest.mark.parametrize("schedule", [
    lambda m: m.constant(0.1),
    lambda m: m.exponential_decay(0.1, 3, 0.5),
    lambda m: m.inverse_time_decay(0.1, 2, 0.5),
    lambda m: m.inverse_time_decay(0.1, 2, 0.5, staircase=True),
    lambda m: m.polynomial_decay(0.1, 3, 0.01, power=2.0),
    lambda m: m.piecewise_constant([1, 2], [0.1, 0.05, 0.01]),
])
def test_schedules(schedule):
    for i in range(6):
        np.testing.assert_allclose(np.asarray(schedule(lopt)(i)), np.asarray(schedule(jopt)(i)),
                                   rtol=1e-6)
        # A traced step number too.
        np.testing.assert_allclose(np.asarray(llax.jit(schedule(lopt))(i)),
                                   np.asarray(jax.jit(schedule(jopt))(i)), rtol=1e-6)
    # Optimizers take schedules for step sizes.
    j = run(jopt, jax, "momentum", (schedule(jopt), 0.9), {}, jit=True)[1]
    ll = run(lopt, llax, "momentum", (schedule(lopt), 0.9), {}, jit=True)[1]
    assert_trees_close(j, ll)


@pytest.mark.filterwarnings("ignore:ndim requires ndarray:DeprecationWarning")
def test_make_schedule():
    assert lopt.make_schedule(0.3)(7) == 0.3
    f = lopt.exponential_decay(0.1, 3, 0.5)
    assert lopt.make_schedule(f) is f
    with pytest.raises(TypeError):
        jopt.make_schedule([0.1, 0.2])
    with pytest.raises(TypeError):
        lopt.make_schedule([0.1, 0.2])


@pytest.mark.parametrize("boundaries,values", [([1, 2], [0.1]), ([[1]], [[0.1, 0.2]])])
def test_piecewise_constant_errors(boundaries, values):
    with pytest.raises(ValueError) as j_info:
        jopt.piecewise_constant(boundaries, values)
    with pytest.raises(ValueError) as l_info:
        lopt.piecewise_constant(boundaries, values)
    assert str(l_info.value) == str(j_info.value)


def test_state_is_a_pytree_through_jit():
    init, update, get_params = lopt.adam(0.1)
    state = init(llax.tree_util.tree_map(jnp.asarray, make_params()))
    leaves, treedef = llax.tree_util.tree_flatten(state)
    assert len(leaves) == 3 * 4  # x, m, v for each of the four parameter leaves
    rebuilt = llax.tree_util.tree_unflatten(treedef, leaves)
    assert isinstance(rebuilt, lopt.OptimizerState)
    assert rebuilt.tree_def == state.tree_def and rebuilt.subtree_defs == state.subtree_defs
    # A jitted function that takes and returns a state (the step number traced too).
    step = llax.jit(lambda i, s: update(i, llax.tree_util.tree_map(jnp.ones_like,
                                                                   get_params(s)), s))
    new = step(jnp.int32(0), state)
    assert isinstance(new, lopt.OptimizerState)
    np.testing.assert_allclose(np.asarray(get_params(new)["w"]),
                               make_params()["w"] - 0.1, atol=1e-6)


def test_pack_unpack_round_trip():
    state, params = run(lopt, llax, "adam", (0.1,), {}, jit=True, steps=2)
    marked = lopt.unpack_optimizer_state(state)
    # The parameter tree, with a JoinPoint per leaf holding that leaf's state.
    assert set(marked) == {"w", "layers", "c"}
    assert isinstance(marked["w"], lopt.JoinPoint)
    x, m, v = marked["w"].subtree
    np.testing.assert_array_equal(np.asarray(x), np.asarray(params["w"]))
    # With host arrays (an OptimizerState is a pytree), it pickles.
    host = llax.tree_util.tree_map(np.asarray, state)
    assert isinstance(host, lopt.OptimizerState)
    marked = pickle.loads(pickle.dumps(lopt.unpack_optimizer_state(host)))
    packed = lopt.pack_optimizer_state(marked)
    assert packed.tree_def == state.tree_def and packed.subtree_defs == state.subtree_defs
    for a, b in zip(llax.tree_util.tree_leaves(packed), llax.tree_util.tree_leaves(state)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # Same layout as JAX's unpacked state.
    j_state, _ = run(jopt, jax, "adam", (0.1,), {}, jit=True, steps=2)
    j_marked = jopt.unpack_optimizer_state(j_state)
    assert str(jax.tree.structure(j_marked)) == str(llax.tree_util.tree_structure(marked))


def test_l2_norm_and_clip_grads():
    grads = llax.tree_util.tree_map(jnp.asarray, make_grads(make_params(), 1)[0])
    j_grads = make_grads(make_params(), 1)[0]
    np.testing.assert_allclose(np.asarray(lopt.l2_norm(grads)),
                               np.asarray(jopt.l2_norm(j_grads)), rtol=1e-6)
    for max_norm in [0.5, 100.0]:
        assert_trees_close(jopt.clip_grads(j_grads, max_norm), lopt.clip_grads(grads, max_norm))
    clipped = lopt.clip_grads(grads, 0.5)
    np.testing.assert_allclose(np.asarray(lopt.l2_norm(clipped)), 0.5, rtol=1e-5)


def test_optimizer_decorator_and_namedtuple():
    opt = lopt.sgd(0.1)
    assert isinstance(opt, lopt.Optimizer)
    assert opt._fields == jopt.Optimizer._fields
    assert lopt.OptimizerState._fields == jopt.OptimizerState._fields

    @lopt.optimizer
    def halve():
        return (lambda x0: (x0, 0.0), lambda i, g, s: (s[0] / 2, s[1] + 1.0),
                lambda s: s[0])

    init, update, get_params = halve()
    state = update(0, [1.0, 2.0], init([jnp.ones(2), jnp.ones(3)]))
    np.testing.assert_array_equal(np.asarray(get_params(state)[1]), np.full(3, 0.5))
    assert halve.__name__ == "halve"


def test_mismatched_gradient_tree_raises_like_jax():
    params = make_params()
    grads = {"w": params["w"], "c": params["c"]}
    messages = []
    for module in (jopt, lopt):
        init, update, _ = module.sgd(0.1)
        with pytest.raises(TypeError) as info:
            update(0, grads, init(params))
        messages.append(str(info.value).split(":")[0])
    assert messages[0] == messages[1]


def test_update_changing_state_structure_raises():
    @lopt.optimizer
    def bad():
        return (lambda x0: (x0, x0), lambda i, g, s: (s[0],), lambda s: s[0])

    init, update, _ = bad()
    with pytest.raises(TypeError, match="did not match its input structure"):
        update(0, [jnp.ones(2)], init([jnp.ones(2)]))


def test_training_loss_matches_jax():
    """A least-squares fit with adam under jit(grad): JAX's losses step for step."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(32, 5)).astype(np.float32)
    y = x @ rng.normal(size=(5,)).astype(np.float32) + 0.3
    losses = {}
    for name, lib, module, np_ in [("jax", jax, jopt, jax.numpy), ("llax", llax, lopt, jnp)]:
        def loss(p, np_=np_):
            return np_.mean((np_.dot(x, p["w"]) + p["b"] - y) ** 2)

        init, update, get_params = module.adam(0.05)
        state = init({"w": np_.zeros(5), "b": np_.zeros(())})

        @lib.jit
        def step(i, state, loss=loss, lib=lib, update=update, get_params=get_params):
            value, g = lib.value_and_grad(loss)(get_params(state))
            return update(i, g, state), value

        history = []
        for i in range(25):
            state, value = step(i, state)
            history.append(float(value))
        losses[name] = history
    np.testing.assert_allclose(losses["llax"], losses["jax"], rtol=1e-5)
    assert losses["llax"][-1] < 0.5 * losses["llax"][0]


@pytest.fixture
def x64():
    """x64 on in llax and JAX, restored afterwards."""
    before_llax, before_jax = llax.config.jax_enable_x64, jax.config.jax_enable_x64
    llax.config.update("jax_enable_x64", True)
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        llax.config.update("jax_enable_x64", before_llax)
        jax.config.update("jax_enable_x64", before_jax)


@pytest.mark.parametrize("name,args", [("adam", (0.1,)), ("sm3", (0.1,)), ("nesterov", (0.1, 0.9))])
def test_float64_params_under_x64(name, args, x64):
    def run64(module, lib, np_):
        init, update, get_params = getattr(module, name)(*args)
        params = jax.tree.map(lambda p: np.asarray(p, np.float64), make_params())
        state = init(llax.tree_util.tree_map(np_.asarray, params))
        for i, g in enumerate(make_grads(make_params(), 3)):
            state = lib.jit(update)(i, jax.tree.map(lambda a: np.asarray(a, np.float64), g),
                                    state)
        return get_params(state)
    j = run64(jopt, jax, jax.numpy)
    ll = run64(lopt, llax, jnp)
    assert_trees_close(j, ll, rtol=1e-12, atol=1e-14)
    assert all(np.asarray(x).dtype == np.float64 for x in llax.tree_util.tree_leaves(ll))
