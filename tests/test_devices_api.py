"""Devices, device_put/device_get, block_until_ready, check_grads and jacobian behave as
JAX's do on a CPU-only system. JAX is the oracle."""

from __future__ import annotations

import jax
import jax.numpy as jnp  # noqa: E402
import jax.test_util  # noqa: E402, F811 - the submodule (not imported by jax itself)
import numpy as np
import pytest

import llax
import llax.numpy as lnp
from llax.frontend import devices as devices_module


def test_devices_print_as_jax() -> None:
    ours, theirs = llax.devices(), jax.devices()
    assert repr(ours) == repr(theirs) == "[CpuDevice(id=0)]"
    assert str(ours[0]) == str(theirs[0]) == "cpu:0"
    for attr in ("id", "platform", "device_kind", "process_index"):
        assert getattr(ours[0], attr) == getattr(theirs[0], attr)
    assert llax.devices("cpu") == ours and llax.local_devices() == ours
    assert llax.device_count() == jax.device_count() == 1
    assert llax.local_device_count() == jax.local_device_count()
    assert llax.default_backend() == jax.default_backend() == "cpu"
    assert llax.process_index() == 0 and llax.process_count() == 1
    assert isinstance(ours[0], llax.Device)


def test_unknown_backend_is_jax_error() -> None:
    with pytest.raises(RuntimeError) as theirs:
        jax.devices("gpu")
    with pytest.raises(RuntimeError) as ours:
        llax.devices("gpu")
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("value", [np.arange(3.0), np.arange(4, dtype=np.int64), 1.0, 2, True,
                                   np.float32(2.5), [1, 2.0], {"a": np.ones(2)}])
def test_device_put_makes_arrays_like_jax(value) -> None:
    ours, theirs = llax.device_put(value), jax.device_put(value)
    ours_leaves, theirs_leaves = jax.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(theirs)
    assert len(ours_leaves) == len(theirs_leaves)
    for a, b in zip(ours_leaves, theirs_leaves):
        assert isinstance(a, llax.Array)
        assert a.dtype == b.dtype and a.shape == b.shape and a.weak_type == b.weak_type
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_device_put_targets() -> None:
    x = lnp.arange(3.0)
    assert isinstance(llax.device_put(x, llax.devices()[0]), llax.Array)
    assert isinstance(llax.device_put(x, x.sharding), llax.Array)
    with pytest.raises(TypeError):
        llax.device_put(x, "cpu")
    with pytest.raises(TypeError):
        llax.device_put("text")


def test_device_get_gives_numpy() -> None:
    x = lnp.arange(3.0)
    got = llax.device_get({"a": x, "b": 1, "c": [x]})
    theirs = jax.device_get({"a": jnp.arange(3.0), "b": 1, "c": [jnp.arange(3.0)]})
    assert type(got["a"]) is type(theirs["a"]) is np.ndarray
    assert got["b"] == theirs["b"] == 1 and type(got["b"]) is int
    np.testing.assert_array_equal(got["c"][0], theirs["c"][0])
    assert got["a"].dtype == theirs["a"].dtype


def test_block_until_ready_returns_its_argument() -> None:
    tree = {"a": lnp.ones(2), "b": (lnp.zeros(1), 3)}
    assert llax.block_until_ready(tree) is tree
    x = lnp.ones(2)
    assert x.block_until_ready() is x


def test_array_placement_methods() -> None:
    ours, theirs = lnp.arange(3.0), jnp.arange(3.0)
    assert repr(ours.devices()) == repr(theirs.devices()) == "{CpuDevice(id=0)}"
    assert repr(ours.device) == repr(theirs.device)
    assert repr(ours.sharding) == repr(theirs.sharding)
    assert ours.copy_to_host_async() is None and theirs.copy_to_host_async() is None
    assert ours.is_fully_addressable is theirs.is_fully_addressable is True
    assert ours.sharding.device_set == {llax.devices()[0]}


def test_device_list_can_grow() -> None:
    first = llax.devices()[0]
    try:
        devices_module.set_device_count(3)
        assert [d.id for d in llax.devices()] == [0, 1, 2] and llax.device_count() == 3
        assert llax.devices()[0] is first
        assert repr(llax.devices()[2]) == "CpuDevice(id=2)"
    finally:
        devices_module.set_device_count(1)
    assert llax.devices() == [first]


def test_jacobian_is_jacrev() -> None:
    assert llax.jacobian is llax.jacrev
    def f(m):
        return lambda x: m.sin(x) * x[::-1]
    x = np.linspace(0.1, 1.0, 4).astype(np.float32)
    np.testing.assert_allclose(llax.jacobian(f(lnp))(x), jax.jacobian(f(jnp))(x), rtol=1e-6)


def _functions(m):
    return {
        "sin": lambda x: m.sin(x) * x,
        "two args": lambda x, y: m.sum(m.tanh(x) @ y),
        "pytree": lambda p: m.sum(p["w"] ** 2) + m.exp(p["b"]),
    }


ARGS = {
    "sin": (np.float32(0.7),),
    "two args": (np.linspace(-1, 1, 6).reshape(2, 3).astype(np.float32),
                 np.linspace(0, 1, 3).astype(np.float32)),
    "pytree": ({"w": np.linspace(-1, 1, 4).astype(np.float32), "b": np.float32(0.3)},),
}


@pytest.mark.parametrize("name", sorted(ARGS))
@pytest.mark.parametrize("modes", [("fwd",), ("rev",), ("fwd", "rev")])
def test_check_grads_passes_where_jax_does(name: str, modes: tuple) -> None:
    jax.test_util.check_grads(_functions(jnp)[name], ARGS[name], order=2, modes=modes)
    llax.test_util.check_grads(_functions(lnp)[name], ARGS[name], order=2, modes=modes)


def _wrong(m, api):
    @api.custom_jvp
    def f(x):
        return m.sin(x)

    @f.defjvp
    def f_jvp(p, t):
        return f(p[0]), t[0] * 2.0  # not cos(x)

    return f


@pytest.mark.parametrize("modes", [("fwd",), ("rev",)])
def test_check_grads_fails_where_jax_does(modes: tuple) -> None:
    with pytest.raises(AssertionError):
        jax.test_util.check_grads(_wrong(jnp, jax), (0.5,), order=1, modes=modes)
    with pytest.raises(AssertionError):
        llax.test_util.check_grads(_wrong(lnp, llax), (0.5,), order=1, modes=modes)


def test_check_grads_tolerances_and_module() -> None:
    import llax.test_util as tu

    assert tu is llax.test_util
    tu.check_grads(lambda x: x ** 3, (np.float32(1.3),), order=3, atol=1e-2, rtol=1e-2,
                   eps=1e-3)
    tu.check_grads(lambda x: x ** 3, (1.3,), order=1, modes=["lin"], atol={np.float32: 1e-2})
