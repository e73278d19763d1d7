"""Pytree tests. JAX's own ``jax.tree_util`` is the oracle wherever it can be.

Each test tree is built twice, once per library (only ``Partial`` and the
key-entry classes differ), and the two results are compared as text: leaves,
treedef reprs, key paths, rebuilt trees.
"""

from __future__ import annotations

import collections
import functools
import itertools
import operator
import pickle

import jax
import jax.tree_util as jtu
import numpy as np
import pytest

import llax.tree as ltree
import llax.tree_util as ltu

LIBS = (ltu, jtu)
NT = collections.namedtuple("NT", "x y")
OtherNT = collections.namedtuple("OtherNT", "x y")


class Box:
    """Registered with plain register_pytree_node; ``label`` is aux data."""

    def __init__(self, a, b, label="box"):
        self.a, self.b, self.label = a, b, label

    def __repr__(self):
        return f"Box({self.a!r}, {self.b!r}, {self.label!r})"


class KeyedBox:
    """Registered with register_pytree_with_keys; keys use each library's key classes."""

    def __init__(self, a, b):
        self.a, self.b = a, b

    def __repr__(self):
        return f"KeyedBox({self.a!r}, {self.b!r})"


@jtu.register_pytree_node_class
@ltu.register_pytree_node_class
class Pair:
    def __init__(self, first, second):
        self.first, self.second = first, second

    def tree_flatten(self):
        return (self.first, self.second), "pair-aux"

    @classmethod
    def tree_unflatten(cls, aux, children):
        assert aux == "pair-aux"
        return cls(*children)

    def __repr__(self):
        return f"Pair({self.first!r}, {self.second!r})"


def _register_in(tu) -> None:
    tu.register_pytree_node(
        Box, lambda b: ((b.a, b.b), b.label), lambda label, ch: Box(ch[0], ch[1], label)
    )
    tu.register_pytree_with_keys(
        KeyedBox,
        lambda k: (((tu.GetAttrKey("a"), k.a), (tu.DictKey("bee"), k.b)), None),
        lambda _, ch: KeyedBox(*ch),
    )

    @tu.register_pytree_with_keys_class
    class Named:  # flatten_with_keys only: plain flattening is derived from it
        def __init__(self, u, v):
            self.u, self.v = u, v

        def tree_flatten_with_keys(self):
            return ((tu.GetAttrKey("u"), self.u), (tu.GetAttrKey("v"), self.v)), "named"

        @classmethod
        def tree_unflatten(cls, aux, children):
            return cls(*children)

        def __repr__(self):
            return f"Named({self.u!r}, {self.v!r})"

    NAMED[tu] = Named


NAMED: dict = {}  # library -> its registration of Named
for _tu in LIBS:
    _register_in(_tu)


class MyDict(dict):  # subclasses of node types are leaves
    pass


class MyTuple(tuple):
    pass


def _trees(tu) -> list:
    """The test trees, built with library ``tu``'s Partial and Named."""
    od = collections.OrderedDict
    dd = collections.defaultdict
    return [
        1,
        None,
        (),
        [],
        {},
        (1,),
        (1, 2),
        [1, None],
        [None, [None, ()]],
        {"b": 1, "a": [2, None]},
        {2: "x", 1: "y", 3: None},
        {"a": {}, "b": ()},
        {1.5: 1, True: 2, 0: 3},
        NT(1, (2, 3)),
        NT(NT(1, 2), None),
        od([("b", 1), ("a", 2)]),
        dd(list, {"b": 1, "a": 2}),
        dd(None, {"a": (1,)}),
        Box(1, [2, 3], "lbl"),
        Box(Box(1, 2), None),
        KeyedBox(1, {"q": 2}),
        Pair(1, {"z": 2}),
        NAMED[tu](1, [2]),
        tu.Partial(max, 1, 2),
        tu.Partial(max, 1, key=abs),
        (np.float32(1), np.arange(3)),
        MyDict(a=1),
        MyTuple((1, 2)),
        {"a": (1, [2, {"c": NT(3, None)}]), "b": Box(4, od(x=5)), "c": [KeyedBox(6, 7)]},
    ]


N_TREES = len(_trees(ltu))
IDS = [repr(t)[:40] for t in _trees(ltu)]


def _both(i: int):
    return _trees(ltu)[i], _trees(jtu)[i]


def _raises(fn, *args, **kwargs) -> Exception:
    with pytest.raises(Exception) as info:
        fn(*args, **kwargs)
    return info.value


# --- flattening --------------------------------------------------------------


@pytest.mark.parametrize("i", range(N_TREES), ids=IDS)
def test_flatten_unflatten_match_jax(i):
    mine, theirs = _both(i)
    leaves, td = ltu.tree_flatten(mine)
    jleaves, jtd = jtu.tree_flatten(theirs)
    assert repr(leaves) == repr(jleaves)
    assert str(td) == str(jtd)
    assert repr(td) == repr(jtd)
    assert (td.num_leaves, td.num_nodes) == (jtd.num_leaves, jtd.num_nodes)
    assert [str(c) for c in td.children()] == [str(c) for c in jtd.children()]
    assert ltu.treedef_is_leaf(td) == jtu.treedef_is_leaf(jtd)
    # Rebuilding: dicts come back in sorted key order, OrderedDicts in theirs.
    rebuilt = ltu.tree_unflatten(td, leaves)
    assert repr(rebuilt) == repr(jtu.tree_unflatten(jtd, jleaves))
    assert type(rebuilt) is type(mine)
    assert ltu.tree_structure(rebuilt) == td
    assert repr(ltu.tree_leaves(mine)) == repr(jleaves)
    assert ltu.tree_structure(mine) == td


@pytest.mark.parametrize("i", range(N_TREES), ids=IDS)
def test_paths_match_jax(i):
    mine, theirs = _both(i)
    pairs, td = ltu.tree_flatten_with_path(mine)
    jpairs, jtd = jtu.tree_flatten_with_path(theirs)
    assert td == ltu.tree_structure(mine)
    assert str(td) == str(jtd)
    assert [repr(p) for p, _ in pairs] == [repr(p) for p, _ in jpairs]
    assert [repr(x) for _, x in pairs] == [repr(x) for _, x in jpairs]
    for simple, sep in [(False, ""), (False, "/"), (True, "/"), (True, "")]:
        mine_s = [ltu.keystr(p, simple=simple, separator=sep) for p, _ in pairs]
        theirs_s = [jtu.keystr(p, simple=simple, separator=sep) for p, _ in jpairs]
        assert mine_s == theirs_s
    assert repr(ltu.tree_leaves_with_path(mine)) == repr(pairs)


def test_node_data_matches_jax():
    skip = (ltu.Partial, NAMED[ltu])  # classes differ between the libraries by construction
    for mine, theirs in zip(_trees(ltu), _trees(jtu), strict=True):
        if isinstance(mine, skip):
            continue
        nd, jnd = ltu.tree_structure(mine).node_data(), jtu.tree_structure(theirs).node_data()
        assert nd == jnd, mine


def test_is_leaf_matches_jax():
    tree = {"a": (1, [2, None]), "b": [None, (3,)], "c": NT(4, 5)}
    predicates = [
        lambda x: x is None,
        lambda x: isinstance(x, tuple),
        lambda x: isinstance(x, list),
        lambda x: True,
        lambda x: x == 2,
    ]
    for pred in predicates:
        leaves, td = ltu.tree_flatten(tree, is_leaf=pred)
        jleaves, jtd = jtu.tree_flatten(tree, is_leaf=pred)
        assert (repr(leaves), str(td)) == (repr(jleaves), str(jtd))
        pairs = ltu.tree_leaves_with_path(tree, is_leaf=pred)
        assert repr(pairs) == repr(jtu.tree_leaves_with_path(tree, is_leaf=pred))
        out = ltu.tree_map(lambda x: [x], tree, is_leaf=pred)
        assert repr(out) == repr(jtu.tree_map(lambda x: [x], tree, is_leaf=pred))


def test_is_leaf_takes_path_matches_jax():
    tree = {"a": [1, (2, 3)], "b": {"c": [4]}}

    def pred(path, _):
        return len(path) == 2

    mine = ltu.tree_leaves_with_path(tree, is_leaf=pred, is_leaf_takes_path=True)
    theirs = jtu.tree_leaves_with_path(tree, is_leaf=pred, is_leaf_takes_path=True)
    assert repr(mine) == repr(theirs)
    f = lambda p, x: ltu.keystr(p)  # noqa: E731
    assert ltu.tree_map_with_path(f, tree, is_leaf=pred, is_leaf_takes_path=True) == (
        jtu.tree_map_with_path(f, tree, is_leaf=pred, is_leaf_takes_path=True)
    )


def test_flat_tuple_fast_path_agrees_with_general_path():
    a, b = np.ones(2), np.zeros(3)
    cases = [(a, b), (a,), (), (1, "s", 2.0), (a, NT(1, 2)), (a, MyTuple((1,))), (a, None)]
    for tree in cases:
        fast_leaves, fast = ltu.tree_flatten(tree)
        # An is_leaf that never fires takes the general path.
        slow_leaves, slow = ltu.tree_flatten(tree, is_leaf=lambda x: False)
        assert [id(x) for x in fast_leaves] == [id(x) for x in slow_leaves]
        assert fast == slow and hash(fast) == hash(slow)
        assert str(fast) == str(jtu.tree_structure(tree))
        assert repr(fast.unflatten(fast_leaves)) == repr(tree)


def test_unflatten_childless_siblings():
    # A node with as many leaves as children is not necessarily flat.
    for tree in [(1, None), [None, 1], {"a": 1, "b": ()}, (1, (), 2, None)]:
        leaves, td = ltu.tree_flatten(tree)
        assert td.unflatten(leaves) == tree


def test_custom_unflatten_receives_tuple_like_jax():
    seen = {}

    class Probe:
        pass

    for tu in LIBS:
        tu.register_pytree_node(
            Probe, lambda p: ([1, 2], None), lambda _, ch, tu=tu: seen.setdefault(tu, ch)
        )
        tu.tree_unflatten(tu.tree_structure(Probe()), [5, 6])
    assert seen[ltu] == seen[jtu] == (5, 6)
    assert type(seen[ltu]) is type(seen[jtu])


def test_unsortable_dict_keys_raise_value_error_like_jax():
    for tree in [{1: 1, "a": 2}, {None: 1, "a": 2}, {"a": {(1,): 1, "b": 2}}]:
        for tu in LIBS:
            assert isinstance(_raises(tu.tree_flatten, tree), ValueError)


# --- treedefs ----------------------------------------------------------------


def test_treedef_equality_and_hash_match_jax():
    mine = [ltu.tree_structure(t) for t in _trees(ltu)]
    theirs = [jtu.tree_structure(t) for t in _trees(jtu)]
    for (i, a), (j, b) in itertools.product(enumerate(mine), repeat=2):
        assert (a == b) == (theirs[i] == theirs[j]), (IDS[i], IDS[j])
        assert (a != b) == (theirs[i] != theirs[j])
        if a == b:
            assert hash(a) == hash(b)


@pytest.mark.parametrize(
    "x, y",
    [
        ({1: "a"}, {1.0: "b"}),  # equal keys
        ({"a": 1}, {"b": 1}),
        ({"a": 1}, collections.OrderedDict(a=1)),
        (collections.OrderedDict(a=1, b=2), collections.OrderedDict(b=2, a=1)),
        (NT(1, 2), OtherNT(1, 2)),
        (NT(1, 2), (1, 2)),
        ((1, 2), [1, 2]),
        (Box(1, 2, "x"), Box(3, 4, "x")),
        (Box(1, 2, "x"), Box(1, 2, "y")),
        (Box(1, 2, [1, 2]), Box(1, 2, [1, 2])),  # unhashable aux data
        (Box(1, 2, [1, 2]), Box(1, 2, [1, 3])),
        (collections.defaultdict(list, a=1), collections.defaultdict(dict, a=1)),
        ((None,), ((),)),
        (1, None),
    ],
)
def test_treedef_equality_pairs_match_jax(x, y):
    a, b = ltu.tree_structure(x), ltu.tree_structure(y)
    expected = jtu.tree_structure(x) == jtu.tree_structure(y)
    assert (a == b) == expected
    assert (hash(a) == hash(b)) or not expected  # equal treedefs hash equal
    assert {a: 1}.get(b) == (1 if expected else None)


def test_treedef_is_not_equal_to_other_objects():
    td = ltu.tree_structure((1, 2))
    assert td != (1, 2) and td != "PyTreeDef((*, *))" and td is not None


def test_unflatten_wrong_leaf_count_raises_value_error_like_jax():
    tree = {"a": [1, 2], "b": None}
    for tu in LIBS:
        td = tu.tree_structure(tree)
        for leaves in ([1], [1, 2, 3], []):
            assert isinstance(_raises(tu.tree_unflatten, td, leaves), ValueError)
    msg = str(_raises(ltu.tree_unflatten, ltu.tree_structure(tree), [1]))
    assert "2 leaves" in msg and "1 were given" in msg


def test_unflatten_accepts_any_iterable():
    td = ltu.tree_structure({"a": [1, 2], "b": (3,)})
    assert td.unflatten(iter([4, 5, 6])) == jtu.tree_structure({"a": [1, 2], "b": (3,)}).unflatten(
        x for x in [4, 5, 6]
    )
    assert ltu.tree_structure(1).unflatten(("only",)) == "only"
    assert ltu.tree_structure(None).unflatten([]) is None


@pytest.mark.parametrize(
    "prefix, full",
    [
        ((1, 2), (1, (2, 3))),
        ([5, {"a": 1}], [[1], {"a": (3,)}]),
        ([5, None], [[1], None]),
        (1, {"anything": [1, 2]}),
        (Box(1, 2, "x"), Box([1, 2], None, "x")),
        (NT(1, None), NT({"a": 1}, None)),
    ],
)
def test_flatten_up_to_matches_jax(prefix, full):
    mine = ltu.tree_structure(prefix).flatten_up_to(full)
    assert repr(mine) == repr(jtu.tree_structure(prefix).flatten_up_to(full))


@pytest.mark.parametrize(
    "prefix, full",
    [
        ((1, 2), [1, 2]),
        ((1, 2), (1, 2, 3)),
        ({"a": 1}, {"b": 1}),
        ([5, None], [[1], 2]),
        (Box(1, 2, "x"), Box(1, 2, "y")),
    ],
)
def test_flatten_up_to_mismatch_raises_value_error_like_jax(prefix, full):
    for tu in LIBS:
        err = _raises(tu.tree_structure(prefix).flatten_up_to, full)
        assert isinstance(err, ValueError)


def test_treedef_helpers_match_jax():
    parts = [1, [1, 2], None, {"a": (1,)}]
    mine = ltu.treedef_tuple(ltu.tree_structure(p) for p in parts)
    assert str(mine) == str(jtu.treedef_tuple([jtu.tree_structure(p) for p in parts]))
    assert mine == ltu.tree_structure(tuple(parts))
    assert mine.num_leaves == 4
    assert [str(c) for c in ltu.treedef_children(ltu.tree_structure(parts))] == [
        str(c) for c in jtu.treedef_children(jtu.tree_structure(parts))
    ]
    outer, inner = [1, (2, 3)], {"x": None, "y": 1}
    composed = ltu.tree_structure(outer).compose(ltu.tree_structure(inner))
    expected = jtu.tree_structure(outer).compose(jtu.tree_structure(inner))
    assert str(composed) == str(expected) and composed.num_leaves == expected.num_leaves


def test_treedef_pickles():
    for tree in _trees(ltu):
        td = ltu.tree_structure(tree)
        if isinstance(tree, NAMED[ltu]):
            continue  # a local class: not picklable
        back = pickle.loads(pickle.dumps(td))
        assert back == td and hash(back) == hash(td) and str(back) == str(td)
    assert pickle.loads(pickle.dumps(ltu.DictKey("a"))) == ltu.DictKey("a")


# --- key entries ---------------------------------------------------------------


@pytest.mark.parametrize(
    "name, arg",
    [
        ("DictKey", "a"),
        ("DictKey", 1),
        ("SequenceKey", 3),
        ("GetAttrKey", "x"),
        ("FlattenedIndexKey", 2),
    ],
)
def test_key_entries_match_jax(name, arg):
    mine, theirs = getattr(ltu, name)(arg), getattr(jtu, name)(arg)
    assert repr(mine) == repr(theirs) and str(mine) == str(theirs)
    assert mine == getattr(ltu, name)(arg) and hash(mine) == hash(getattr(ltu, name)(arg))
    assert type(mine).__match_args__ == type(theirs).__match_args__
    field = type(mine).__match_args__[0]
    assert getattr(mine, field) == getattr(theirs, field)


def test_key_entries_of_different_kinds_differ():
    assert ltu.DictKey("a") != ltu.GetAttrKey("a")
    assert ltu.SequenceKey(0) != ltu.FlattenedIndexKey(0)
    assert ltu.SequenceKey(1) != 1


def test_keystr_matches_jax():
    path = {
        tu: (tu.DictKey("a"), tu.SequenceKey(0), tu.GetAttrKey("b"), tu.FlattenedIndexKey(3))
        for tu in LIBS
    }
    for kwargs in [{}, {"simple": True}, {"simple": True, "separator": "/"}, {"separator": ", "}]:
        assert ltu.keystr(path[ltu], **kwargs) == jtu.keystr(path[jtu], **kwargs)
        assert ltu.keystr((), **kwargs) == jtu.keystr((), **kwargs)
    raw = (ltu.DictKey("a"), "raw", 3)  # entries that are not key classes print with str()
    assert ltu.keystr(raw) == jtu.keystr((jtu.DictKey("a"), "raw", 3))


# --- map, reduce and friends ---------------------------------------------------


def test_tree_map_matches_jax():
    def f(*xs):
        return ("f", *xs)

    for mine, theirs in zip(_trees(ltu), _trees(jtu), strict=True):
        assert repr(ltu.tree_map(f, mine)) == repr(jtu.tree_map(f, theirs))
        assert repr(ltu.tree_map(f, mine, mine)) == repr(jtu.tree_map(f, theirs, theirs))
    # Where the first tree has a leaf, the others may have whole subtrees there,
    # including None (a leaf position is not a None node).
    first = {"a": 1, "b": [2, 3], "c": None}
    other = {"a": (10, 11), "b": [None, {"k": 12}], "c": None}
    assert ltu.tree_map(f, first, other, first) == jtu.tree_map(f, first, other, first)


def test_tree_map_with_path_matches_jax():
    for mine, theirs in zip(_trees(ltu), _trees(jtu), strict=True):
        got = ltu.tree_map_with_path(lambda p, *xs: (ltu.keystr(p), *xs), mine, mine)
        want = jtu.tree_map_with_path(lambda p, *xs: (jtu.keystr(p), *xs), theirs, theirs)
        assert repr(got) == repr(want)
    tree, other = {"a": [1, 2]}, {"a": [3, (4,)]}
    got = ltu.tree_map_with_path(lambda p, x, y: (ltu.keystr(p), x, y), tree, other)
    assert got == jtu.tree_map_with_path(lambda p, x, y: (jtu.keystr(p), x, y), tree, other)


# (first tree, second tree, phrase in JAX's message, phrase in ours, key path)
MISMATCHES = [
    ((1, 2), (1, 2, 3), "different lengths", "different lengths", ""),
    ((1, 2), [1, 2], "different types", "different types", ""),
    (1, (2, 3), None, None, ""),  # not a mismatch: a leaf matches anything
    ({"a": 1}, {"b": 1}, "different pytree metadata", "different dict keys", ""),
    ({"a": 1}, {"a": 1, "b": 2}, "different numbers of pytree children", "different dict keys", ""),
    ([1, {"x": (2, 3)}], [1, {"x": (2,)}], "different lengths", "different lengths", "[1]['x']"),
    ([1, None], [1, 2], "different types", "different types", "[1]"),
    ({"n": NT(1, 2)}, {"n": OtherNT(1, 2)}, "different types", "different types", "['n']"),
    (
        [Box(1, 2, "x")],
        [Box(1, 2, "y")],
        "different pytree metadata",
        "different node metadata",
        "[0]",
    ),
    (
        collections.OrderedDict(a=1, b=2),
        collections.OrderedDict(b=1, a=2),
        "different pytree metadata",
        "different dict keys",
        "",
    ),
    ([1, NT(1, (2, 3))], [1, NT(1, [2, 3])], "different types", "different types", "[1].y"),
]
# JAX 0.10.2 names a namedtuple's first field in these messages whatever field differs.
JAX_MISNAMED_PATHS = {"[1].y": "[1].x"}


@pytest.mark.parametrize("first, second, jax_phrase, our_phrase, path", MISMATCHES)
def test_tree_map_mismatch_errors_match_jax(first, second, jax_phrase, our_phrase, path):
    def f(*xs):
        return xs

    if jax_phrase is None:
        assert ltu.tree_map(f, first, second) == jtu.tree_map(f, first, second)
        return
    theirs = _raises(jtu.tree_map, f, first, second)
    mine = _raises(ltu.tree_map, f, first, second)
    assert isinstance(theirs, ValueError) and isinstance(mine, ValueError)
    assert jax_phrase in str(theirs)
    assert our_phrase in str(mine)
    assert JAX_MISNAMED_PATHS.get(path, path) in str(theirs)
    assert (f"at key path {path}:" if path else "at the root") in str(mine)
    assert "tree 2" in str(mine)
    # The same walk serves tree_map_with_path and, as the third tree, names it.
    assert our_phrase in str(_raises(ltu.tree_map_with_path, f, first, second))
    assert "tree 3" in str(_raises(ltu.tree_map, f, first, first, second))


def test_tree_reduce_all_and_all_leaves_match_jax():
    tree = {"a": [1, 2], "b": (3, None), "c": NT(4, 5)}
    for initializer in ([], [100]):
        assert ltu.tree_reduce(operator.add, tree, *initializer) == jtu.tree_reduce(
            operator.add, tree, *initializer
        )
    assert ltu.tree_reduce(operator.add, [], 7) == 7
    for tu in LIBS:
        assert isinstance(_raises(tu.tree_reduce, operator.add, [None, {}]), TypeError)
    is_tuple = lambda x: isinstance(x, tuple)  # noqa: E731
    assert ltu.tree_reduce(operator.add, [(1,), (2,)], is_leaf=is_tuple) == (1, 2)
    assert jtu.tree_reduce(operator.add, [(1,), (2,)], is_leaf=is_tuple) == (1, 2)
    for t in [tree, [1, 0], [], [None], {"a": [True, ()]}, [1, (2, [0])]]:
        assert ltu.tree_all(t) == jtu.tree_all(t)
    assert ltu.tree_all([(0,), 1], is_leaf=lambda x: isinstance(x, tuple)) is True
    for items in ([1, 2], [1, (2,)], [1, None], [], [np.ones(2), "s"], [NT(1, 2)]):
        assert ltu.all_leaves(items) == jtu.all_leaves(items)
        assert ltu.all_leaves(items, is_leaf=is_tuple) == jtu.all_leaves(items, is_leaf=is_tuple)


def test_tree_transpose_matches_jax():
    tree = [(1, 2, 3), (4, 5, 6)]
    for inner in ((0, 0, 0), None):
        mine = ltu.tree_transpose(
            ltu.tree_structure([0, 0]), inner and ltu.tree_structure(inner), tree
        )
        theirs = jtu.tree_transpose(
            jtu.tree_structure([0, 0]), inner and jtu.tree_structure(inner), tree
        )
        assert mine == theirs
    nested = {"a": {"x": 1, "y": 2}, "b": {"x": 3, "y": 4}}
    outer, inner = {"a": 0, "b": 0}, {"x": 0, "y": 0}
    assert ltu.tree_transpose(
        ltu.tree_structure(outer), ltu.tree_structure(inner), nested
    ) == jtu.tree_transpose(jtu.tree_structure(outer), jtu.tree_structure(inner), nested)
    for tu in LIBS:
        bad = _raises(tu.tree_transpose, tu.tree_structure([0, 0]), tu.tree_structure((0, 0)), tree)
        assert isinstance(bad, TypeError)


# --- registration and Partial ------------------------------------------------------


def test_duplicate_registration_raises_value_error_like_jax():
    for tu in LIBS:
        for cls in (Box, tuple, dict, type(None)):
            err = _raises(tu.register_pytree_node, cls, lambda x: ((), None), lambda a, c: None)
            assert isinstance(err, ValueError)


def test_register_static_matches_jax():
    for tu in LIBS:

        class Static:
            def __init__(self, v):
                self.v = v

            def __eq__(self, other):
                return isinstance(other, Static) and self.v == other.v

            def __hash__(self):
                return hash(self.v)

        tu.register_static(Static)
        leaves, td = tu.tree_flatten([Static(1), 2])
        assert leaves == [2]
        assert tu.tree_unflatten(td, [3])[0] == Static(1)
        assert td == tu.tree_structure([Static(1), 0])
        assert td != tu.tree_structure([Static(2), 0])


def test_partial_matches_jax():
    cases = [
        lambda tu: tu.Partial(max, 1, 2),
        lambda tu: tu.Partial(max, 1, key=abs),
        lambda tu: tu.Partial(tu.Partial(max, 1), 2),  # the inner Partial stays static
        lambda tu: tu.Partial(functools.partial(max, -5), 2),
    ]
    for make in cases:
        mine, theirs = make(ltu), make(jtu)
        assert mine(-1) == theirs(-1)
        assert repr(ltu.tree_leaves(mine)) == repr(jtu.tree_leaves(theirs))
        leaves, td = ltu.tree_flatten(mine)
        assert td.num_leaves == jtu.tree_structure(theirs).num_leaves
        assert ltu.tree_unflatten(td, leaves)(-1) == mine(-1)
    doubled = ltu.tree_map(lambda x: 2 * x, ltu.Partial(operator.add, 3))
    assert isinstance(doubled, ltu.Partial) and doubled(1) == 7
    assert str(ltu.tree_structure(ltu.Partial(max, 1))) == str(
        jtu.tree_structure(jtu.Partial(max, 1))
    )


# --- the llax.tree module -------------------------------------------------------


def test_tree_module_matches_jax_tree():
    tree = {"b": [1, (2, None)], "a": NT(3, 4)}
    assert ltree.leaves(tree) == jax.tree.leaves(tree)
    assert str(ltree.structure(tree)) == str(jax.tree.structure(tree))
    leaves, td = ltree.flatten(tree)
    assert ltree.unflatten(td, leaves) == tree
    assert ltree.map(lambda x, y: x - y, tree, tree) == jax.tree.map(lambda x, y: x - y, tree, tree)
    assert ltree.reduce(operator.mul, tree) == jax.tree.reduce(operator.mul, tree)
    assert ltree.all(tree) == jax.tree.all(tree)
    assert repr(ltree.flatten_with_path(tree)[0]) == repr(jax.tree.flatten_with_path(tree)[0])
    assert repr(ltree.leaves_with_path(tree)) == repr(jax.tree.leaves_with_path(tree))
    f = lambda p, x: (len(p), x)  # noqa: E731
    assert ltree.map_with_path(f, tree) == jax.tree.map_with_path(f, tree)
    swapped = ltree.transpose(ltree.structure([0, 0]), None, [(1, 2), (3, 4)])
    assert swapped == jax.tree.transpose(jax.tree.structure([0, 0]), None, [(1, 2), (3, 4)])
