"""The rest of jax.tree_util / jax.tree in llax, against JAX (jax 0.10.2 as the oracle):
register_dataclass (inferred and explicit fields, tree.static, errors, jit/grad through
it), flatten_one_level(_with_keys), is_tree_node, tree_broadcast, tree_reduce_associative,
default_registry, and that every public name of JAX's modules exists in llax's."""

from __future__ import annotations

import collections
import dataclasses

import jax
import jax.numpy as jjnp
import numpy as np
import pytest

import llax
import llax.numpy as lnp
from llax import tree_util as ltu

P = collections.namedtuple("P", "x y")


def test_every_public_name_is_present():
    assert [n for n in dir(jax.tree_util) if not n.startswith("_") and
            not hasattr(ltu, n)] == []
    assert [n for n in dir(jax.tree) if not n.startswith("_") and
            not hasattr(llax.tree, n)] == []


def _both_dataclasses(register_llax, register_jax, static_llax, static_jax):
    @register_llax
    @dataclasses.dataclass
    class L:
        x: object
        y: object
        op: str = static_llax(default="add")

    @register_jax
    @dataclasses.dataclass
    class J:
        x: object
        y: object
        op: str = static_jax(default="add")

    return L, J


def test_register_dataclass_inferred_fields():
    L, J = _both_dataclasses(ltu.register_dataclass, jax.tree_util.register_dataclass,
                             llax.tree.static, jax.tree.static)
    leaves_l, tree_l = llax.tree.flatten(L(1, [2, 3]))
    leaves_j, tree_j = jax.tree.flatten(J(1, [2, 3]))
    assert leaves_l == leaves_j == [1, 2, 3]
    assert str(tree_l).replace("L[", "J[") == str(tree_j)
    paths_l = [ltu.keystr(p) for p, _ in llax.tree.flatten_with_path(L(1, 2))[0]]
    paths_j = [jax.tree_util.keystr(p) for p, _ in jax.tree.flatten_with_path(J(1, 2))[0]]
    assert paths_l == paths_j == [".x", ".y"]
    rebuilt = llax.tree.unflatten(tree_l, [4, 5, 6])
    assert rebuilt == L(4, [5, 6], "add")
    assert llax.tree.map(lambda v: v * 2, L(1, 2, "mul")) == L(2, 4, "mul")


def test_register_dataclass_under_transformations():
    @ltu.register_dataclass
    @dataclasses.dataclass
    class Params:
        w: object
        b: object
        act: str = llax.tree.static(default="tanh")

    def loss(p, x):
        h = lnp.tanh(x * p.w + p.b) if p.act == "tanh" else x * p.w + p.b
        return lnp.sum(h * h)

    p = Params(np.float32(0.5), np.float32(0.1))
    x = np.arange(3, dtype=np.float32)
    g = llax.jit(llax.grad(loss))(p, x)
    assert isinstance(g, Params) and g.act == "tanh"
    want = jax.grad(lambda w, b: jjnp.sum(jjnp.tanh(x * w + b) ** 2), (0, 1))(0.5, 0.1)
    np.testing.assert_allclose([g.w, g.b], want, rtol=1e-5)


def test_register_dataclass_explicit_fields_and_errors():
    class Plain:
        def __init__(self, a, m):
            self.a, self.m = a, m

    ltu.register_dataclass(Plain, data_fields=["a"], meta_fields=["m"])
    leaves, tree = llax.tree.flatten(Plain(1, "meta"))
    assert leaves == [1]
    assert llax.tree.unflatten(tree, [7]).a == 7

    @dataclasses.dataclass
    class D:
        a: object
        b: object
        c: object = dataclasses.field(default=0)

    for kwargs, error in [
        (dict(data_fields=["a"]), TypeError),
        (dict(data_fields=["a"], meta_fields=["b"]), ValueError),  # c missing
        (dict(data_fields=["a", "b", "c"], meta_fields=["b"]), ValueError),  # overlap
        (dict(data_fields=["a", "b", "c", "z"], meta_fields=[]), ValueError),  # unexpected
    ]:
        with pytest.raises(error):
            ltu.register_dataclass(D, **kwargs)
        with pytest.raises(error):
            jax.tree_util.register_dataclass(D, **kwargs)
    with pytest.raises(TypeError):
        ltu.register_dataclass(Plain)
    ltu.register_dataclass(D, data_fields=["a", "b"], meta_fields=[], drop_fields=["c"])
    assert llax.tree.leaves(D(1, 2, 3)) == [1, 2]


def test_static_is_a_field_with_static_metadata():
    f_l, f_j = llax.tree.static(default=3), jax.tree.static(default=3)
    assert f_l.metadata == f_j.metadata == {"static": True}
    assert f_l.default == f_j.default == 3


@pytest.mark.parametrize("tree", [(1, 2), [1, 2], {"b": 1, "a": 2}, None,
                                  collections.OrderedDict(b=1, a=2), P(1, 2),
                                  collections.defaultdict(int, {"a": 1})])
def test_flatten_one_level(tree):
    children_l, data_l = ltu.flatten_one_level(tree)
    children_j, data_j = jax.tree_util.flatten_one_level(tree)
    assert list(children_l) == list(children_j)
    assert type(children_l) is type(children_j)
    assert data_l == data_j
    pairs_l, data_l = ltu.flatten_one_level_with_keys(tree)
    pairs_j, _ = jax.tree_util.flatten_one_level_with_keys(tree)
    assert [str(k) for k, _ in pairs_l][:1] == [str(k) for k, _ in pairs_j][:1]
    assert [c for _, c in pairs_l] == [c for _, c in pairs_j]


def test_flatten_one_level_of_a_leaf_and_is_tree_node():
    with pytest.raises(ValueError, match="can't tree-flatten type"):
        ltu.flatten_one_level(1)
    with pytest.raises(ValueError, match="can't tree-flatten type"):
        ltu.flatten_one_level_with_keys(np.float32(1))
    for typ in (tuple, list, dict, type(None), int, float, collections.OrderedDict, P,
                collections.defaultdict, str):
        assert ltu.is_tree_node(typ) == jax.tree_util.is_tree_node(typ), typ
    assert ltu.is_tree_node(ltu.Partial) and jax.tree_util.is_tree_node(jax.tree_util.Partial)


def test_tree_broadcast():
    for prefix, full in [((1, {"a": 2}), ((3, 4), {"a": [5, 6]})),
                         (1, [1, (2, 3)]), ({"a": 0, "b": (1,)}, {"a": [1, 2], "b": (3,)})]:
        assert ltu.tree_broadcast(prefix, full) == jax.tree_util.tree_broadcast(prefix, full)
        assert llax.tree.broadcast(prefix, full) == jax.tree.broadcast(prefix, full)
    with pytest.raises(ValueError):
        ltu.tree_broadcast((1, 2, 3), (1, 2))


def test_tree_reduce_associative():
    show = lambda a, b: f"({a}+{b})"  # noqa: E731 - the grouping is the point
    for tree in ([1, 2, 3, 4, 5], {"a": 1, "b": (2, 3)}, [7]):
        assert ltu.tree_reduce_associative(show, tree) == \
            jax.tree_util.tree_reduce_associative(show, tree)
        assert llax.tree.reduce_associative(show, tree) == \
            jax.tree.reduce_associative(show, tree)
    assert ltu.tree_reduce_associative(show, [], identity=0) == 0
    with pytest.raises(TypeError, match="identity"):
        ltu.tree_reduce_associative(show, [])
    is_list = lambda x: isinstance(x, list)  # noqa: E731
    assert ltu.tree_reduce_associative(lambda a, b: [*a, *b] if is_list(a) else a, [[1], [2]],
                                       is_leaf=lambda x: is_list(x) and len(x) == 1) == [1, 2]


def test_default_registry():
    reg = ltu.default_registry
    leaves, tree = reg.flatten({"a": 1, "b": (2, 3)})
    assert leaves == [1, 2, 3] and tree == llax.tree.structure({"a": 0, "b": (0, 0)})
    assert reg.flatten_one_level(5) is None
    assert reg.flatten_one_level((1, 2)) == ((1, 2), None)
    assert reg.is_node(tuple) and not reg.is_node(int)
