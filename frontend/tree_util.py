"""Pytrees: nested containers of leaves, flattened and rebuilt as in ``jax.tree_util``.

A pytree is a leaf or a *node* whose children are pytrees. Nodes are tuples,
lists, dicts (children in sorted key order), ``None`` (a node with no
children), namedtuples, ``OrderedDict`` (insertion order), ``defaultdict`` and
any type registered with :func:`register_pytree_node`; everything else is a
leaf. Only the exact registered type is a node: a ``dict`` subclass is a leaf.

Representation. A ``PyTreeDef`` wraps a *spec*, a nested plain tuple:
``_LEAF`` for a leaf, or ``(kind, data, children)`` for a node, where ``kind``
is the node's ``_NodeKind``, ``data`` its metadata (dict keys, custom aux data)
and ``children`` a tuple of specs. Plain tuples let CPython hash and compare
whole structures in C, which is what makes ``jit``'s per-call cache key cheap.
"""

from __future__ import annotations

import collections
import functools
import operator
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
Typ = TypeVar("Typ", bound=type)
Leaf = Any
PyTree = Any


# --- key paths ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DictKey:
    """Path entry for a mapping child: prints as ``['key']``."""

    key: Hashable

    def __str__(self) -> str:
        return f"[{self.key!r}]"


@dataclass(frozen=True, slots=True)
class SequenceKey:
    """Path entry for a tuple or list child: prints as ``[idx]``."""

    idx: int

    def __str__(self) -> str:
        return f"[{self.idx}]"


@dataclass(frozen=True, slots=True)
class GetAttrKey:
    """Path entry for an attribute (namedtuple field): prints as ``.name``."""

    name: str

    def __str__(self) -> str:
        return f".{self.name}"


@dataclass(frozen=True, slots=True)
class FlattenedIndexKey:
    """Path entry for the i-th child of a custom node registered without keys."""

    key: int

    def __str__(self) -> str:
        return f"[<flat index {self.key}>]"


KeyEntry = Any  # usually one of the four classes above; custom nodes may use anything
KeyPath = tuple[KeyEntry, ...]


def _simple_entry_str(entry: KeyEntry) -> str:
    if isinstance(entry, DictKey):
        return str(entry.key)
    if isinstance(entry, SequenceKey):
        return str(entry.idx)
    if isinstance(entry, GetAttrKey):
        return entry.name
    if isinstance(entry, FlattenedIndexKey):
        return str(entry.key)
    return str(entry)


def keystr(keys: KeyPath, *, simple: bool = False, separator: str = "") -> str:
    """Render a key path: ``"['a'][0].x"``, or ``"a/0/x"`` with simple=True, separator="/"."""
    return separator.join(map(_simple_entry_str if simple else str, keys))


# --- node kinds and the registry ---------------------------------------------


class _Leaf:
    """The spec of a leaf; a singleton so spec comparisons stop at identity."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "*"

    def __reduce__(self) -> str:
        return "_LEAF"


_LEAF = _Leaf()


class _NodeKind:
    """How one node type is taken apart, rebuilt, keyed and printed.

    flatten(x) -> (children, data); unflatten(data, children_tuple) -> x;
    flatten_with_keys(x) -> (((key, child), ...), data); show(data, child_strs) -> str.
    Kinds compare by identity: there is one per registered type, plus ``_NAMEDTUPLE``
    (``type`` None), shared by all namedtuple classes.
    """

    __slots__ = ("type", "flatten", "unflatten", "flatten_with_keys", "show")

    def __init__(self, type_, flatten, unflatten, flatten_with_keys, show) -> None:
        self.type = type_
        self.flatten = flatten
        self.unflatten = unflatten
        self.flatten_with_keys = flatten_with_keys
        self.show = show

    def __repr__(self) -> str:
        return f"<pytree node kind {getattr(self.type, '__name__', 'namedtuple')}>"

    def __reduce__(self):
        # Specs inside pickled treedefs refer to the receiving process's registry.
        return (_kind_for_type, (self.type,))


# Read on every flatten without a lock (dict reads are atomic); registering, a
# check-then-set, holds the lock so two threads registering one type cannot both succeed.
_registry: dict[type, _NodeKind] = {}
_registry_lock = threading.Lock()


def _kind_for_type(t: type | None) -> _NodeKind:
    return _NAMEDTUPLE if t is None else _registry[t]


def _kind_of(x: Any) -> _NodeKind | None:
    """The node kind of ``x``, or None if ``x`` is a leaf."""
    kind = _registry.get(type(x))
    if kind is None and isinstance(x, tuple) and hasattr(type(x), "_fields"):
        return _NAMEDTUPLE
    return kind


def _register(kind: _NodeKind) -> None:
    with _registry_lock:
        if kind.type in _registry:
            raise ValueError(f"{kind.type} is already registered as a pytree node type")
        _registry[kind.type] = kind


def _sorted_keys(d: dict) -> tuple:
    if len(d) < 2:  # nothing to sort, and sorted() is a noticeable cost for small dicts
        return tuple(d)
    try:
        return tuple(sorted(d))
    except TypeError as e:
        raise ValueError(f"pytree dict keys must be mutually sortable; got keys {list(d)}") from e


def _dict_flatten(d: dict) -> tuple[list, tuple]:
    keys = _sorted_keys(d)
    return [d[k] for k in keys], keys


def _dict_flatten_with_keys(d: dict) -> tuple[list, tuple]:
    keys = _sorted_keys(d)
    return [(DictKey(k), d[k]) for k in keys], keys


def _sequence_keys(xs: Iterable) -> list:
    return [(SequenceKey(i), x) for i, x in enumerate(xs)]


def _index_keys(flatten: Callable) -> Callable:
    """Derive flatten_with_keys for a node registered without keys."""

    def flatten_with_keys(x):
        children, data = flatten(x)
        return [(FlattenedIndexKey(i), c) for i, c in enumerate(children)], data

    return flatten_with_keys


def _drop_keys(flatten_with_keys: Callable) -> Callable:
    def flatten(x):
        pairs, data = flatten_with_keys(x)
        return [c for _, c in pairs], data

    return flatten


def _show_custom(name: str) -> Callable:
    return lambda data, cs: f"CustomNode({name}[{data}], [{', '.join(cs)}])"


def _show_tuple(_, cs: list[str]) -> str:
    return f"({cs[0]},)" if len(cs) == 1 else f"({', '.join(cs)})"


_TUPLE = _NodeKind(
    tuple, lambda x: (x, None), lambda _, cs: cs, lambda x: (_sequence_keys(x), None), _show_tuple
)
_LIST = _NodeKind(
    list,
    lambda x: (x, None),
    lambda _, cs: list(cs),
    lambda x: (_sequence_keys(x), None),
    lambda _, cs: f"[{', '.join(cs)}]",
)
_DICT = _NodeKind(
    dict,
    _dict_flatten,
    lambda keys, cs: dict(zip(keys, cs, strict=True)),
    _dict_flatten_with_keys,
    lambda keys, cs: "{" + ", ".join(f"{k!r}: {c}" for k, c in zip(keys, cs, strict=True)) + "}",
)
_NONE = _NodeKind(
    type(None), lambda _: ((), None), lambda _, cs: None, lambda _: ((), None), lambda _, cs: "None"
)
# One kind serves every namedtuple class; the class itself is the node data.
_NAMEDTUPLE = _NodeKind(
    None,
    lambda x: (x, type(x)),
    lambda cls, cs: cls(*cs),
    lambda x: ([(GetAttrKey(f), c) for f, c in zip(x._fields, x, strict=True)], type(x)),
    lambda cls, cs: f"CustomNode(namedtuple[{cls.__name__}], [{', '.join(cs)}])",
)
_ORDEREDDICT = _NodeKind(
    collections.OrderedDict,
    lambda x: (list(x.values()), tuple(x)),
    lambda keys, cs: collections.OrderedDict(zip(keys, cs, strict=True)),
    lambda x: ([(DictKey(k), v) for k, v in x.items()], tuple(x)),
    _show_custom("OrderedDict"),
)


def _defaultdict_flatten_with_keys(x: collections.defaultdict) -> tuple[list, tuple]:
    pairs, keys = _dict_flatten_with_keys(x)
    return pairs, (x.default_factory, keys)


_DEFAULTDICT = _NodeKind(
    collections.defaultdict,
    _drop_keys(_defaultdict_flatten_with_keys),
    lambda data, cs: collections.defaultdict(data[0], zip(data[1], cs, strict=True)),
    _defaultdict_flatten_with_keys,
    _show_custom("defaultdict"),
)
for _kind in (_TUPLE, _LIST, _DICT, _NONE, _ORDEREDDICT, _DEFAULTDICT):
    _register(_kind)
_EMPTY_DICT = (_DICT, (), ())


def register_pytree_node(
    nodetype: type[T],
    flatten_func: Callable[[T], tuple[Iterable[Any], Any]],
    unflatten_func: Callable[[Any, tuple[Any, ...]], T],
    flatten_with_keys_func: Callable[[T], tuple[Iterable[tuple[KeyEntry, Any]], Any]] | None = None,
) -> None:
    """Make ``nodetype`` a pytree node.

    ``flatten_func(x)`` returns ``(children, aux_data)``; ``unflatten_func(aux_data,
    children)`` rebuilds it. ``aux_data`` is static: it is part of the treedef, so
    it should support ``==`` (and ideally hashing).
    """
    _register(
        _NodeKind(
            nodetype,
            flatten_func,
            unflatten_func,
            flatten_with_keys_func or _index_keys(flatten_func),
            _show_custom(nodetype.__name__),
        )
    )


def register_pytree_with_keys(
    nodetype: type[T],
    flatten_with_keys: Callable[[T], tuple[Iterable[tuple[KeyEntry, Any]], Any]],
    unflatten_func: Callable[[Any, tuple[Any, ...]], T],
    flatten_func: Callable[[T], tuple[Iterable[Any], Any]] | None = None,
) -> None:
    """Like :func:`register_pytree_node`, with children named by key entries for paths."""
    register_pytree_node(
        nodetype, flatten_func or _drop_keys(flatten_with_keys), unflatten_func, flatten_with_keys
    )


def register_pytree_node_class(cls: Typ) -> Typ:
    """Class decorator: register via ``x.tree_flatten()`` and ``cls.tree_unflatten(aux, ch)``."""
    register_pytree_node(cls, operator.methodcaller("tree_flatten"), cls.tree_unflatten)
    return cls


def register_pytree_with_keys_class(cls: Typ) -> Typ:
    """Class decorator: register via ``x.tree_flatten_with_keys()`` (and ``tree_flatten``)."""
    flatten = operator.methodcaller("tree_flatten") if hasattr(cls, "tree_flatten") else None
    register_pytree_with_keys(
        cls, operator.methodcaller("tree_flatten_with_keys"), cls.tree_unflatten, flatten
    )
    return cls


def register_static(cls: Typ) -> Typ:
    """Make instances of ``cls`` childless nodes: the object itself is treedef metadata."""
    register_pytree_node(cls, lambda x: ((), x), lambda x, _: x)
    return cls


# --- types users see as leaves ------------------------------------------------
#
# A typed PRNG key array is one leaf to users (JAX gives it a dtype, key<fry>), but jit,
# vmap, grad and the control-flow primitives must see its uint32 key data. So it is a node
# in the registry these transformations flatten with, and the public ``llax.tree_util``
# functions stop at it: they pass ``users_is_leaf(is_leaf)`` down.

_user_leaf_types: tuple[type, ...] = ()


def register_user_leaf(nodetype: type[T], flatten_func: Callable[[T], tuple[Iterable[Any], Any]],
                       unflatten_func: Callable[[Any, tuple[Any, ...]], T]) -> None:
    """Make ``nodetype`` a node to transformations and a leaf to the public pytree API."""
    global _user_leaf_types
    register_pytree_node(nodetype, flatten_func, unflatten_func)
    _user_leaf_types = (*_user_leaf_types, nodetype)


def users_is_leaf(is_leaf: Callable[..., bool] | None,
                  takes_path: bool = False) -> Callable[..., bool] | None:
    """``is_leaf`` extended to stop at the types users see as leaves."""
    kinds = _user_leaf_types
    if not kinds:
        return is_leaf
    if is_leaf is None:
        return (lambda _, x: isinstance(x, kinds)) if takes_path else (
            lambda x: isinstance(x, kinds))
    if takes_path:
        return lambda path, x: isinstance(x, kinds) or is_leaf(path, x)
    return lambda x: isinstance(x, kinds) or is_leaf(x)


# --- the treedef -------------------------------------------------------------


def _count_leaves(spec) -> int:
    if spec is _LEAF:
        return 1
    return sum(_count_leaves(c) for c in spec[2])


def _count_nodes(spec) -> int:
    if spec is _LEAF:
        return 1
    return 1 + sum(_count_nodes(c) for c in spec[2])


def _strip_data(spec):
    """The spec without node data, for hashing treedefs whose aux data is unhashable."""
    if spec is _LEAF:
        return spec
    return (spec[0], tuple(map(_strip_data, spec[2])))


def _show(spec) -> str:
    if spec is _LEAF:
        return "*"
    kind, data, children = spec
    return kind.show(data, [_show(c) for c in children])


def _unflatten(spec, leaves: Iterator) -> Any:
    # ``leaves`` is an iterator shared by the whole walk. A loop, not a comprehension:
    # comprehensions cost a function call each in CPython < 3.12.
    kind, data, specs = spec
    children = []
    for s in specs:
        children.append(next(leaves) if s is _LEAF else _unflatten(s, leaves))
    return kind.unflatten(data, tuple(children))


def _compose(outer, inner):
    if outer is _LEAF:
        return inner
    kind, data, children = outer
    return (kind, data, tuple(_compose(c, inner) for c in children))


class PyTreeDef:
    """The structure of a pytree: what is left after its leaves are taken out.

    Immutable, hashable and comparable; the hash is computed once, at creation.
    """

    __slots__ = ("_spec", "_num_leaves", "_hash")

    def __init__(self, spec, num_leaves: int) -> None:
        self._spec = spec
        self._num_leaves = num_leaves
        try:
            self._hash = hash(spec)
        except TypeError:  # unhashable custom aux data: hash the shape alone
            self._hash = hash(_strip_data(spec))

    @property
    def num_leaves(self) -> int:
        return self._num_leaves

    @property
    def num_nodes(self) -> int:
        """Leaves plus nodes, counting ``None`` as a node."""
        return _count_nodes(self._spec)

    def unflatten(self, leaves: Iterable[Leaf]) -> PyTree:
        """Build a pytree of this structure from exactly ``num_leaves`` leaves."""
        leaves = leaves if type(leaves) is list else list(leaves)
        if len(leaves) != self._num_leaves:
            raise ValueError(
                f"cannot unflatten {self}: it has {self._num_leaves} leaves, "
                f"but {len(leaves)} were given"
            )
        spec = self._spec
        if spec is _LEAF:
            return leaves[0]
        kind, data, specs = spec
        if specs.count(_LEAF) == len(specs):  # every child is a leaf: no walk needed
            return kind.unflatten(data, tuple(leaves))
        return _unflatten(spec, iter(leaves))

    def flatten_up_to(self, tree: PyTree) -> list[PyTree]:
        """The subtrees of ``tree`` at this treedef's leaves; ``tree`` must extend this one."""
        return _flatten_up_to(self, tree, f"flatten_up_to: the tree does not extend {self}")

    def children(self) -> list[PyTreeDef]:
        """Treedefs of the root node's children (empty for a leaf)."""
        if self._spec is _LEAF:
            return []
        return [PyTreeDef(c, _count_leaves(c)) for c in self._spec[2]]

    def node_data(self) -> tuple[type, Any] | None:
        """``(node type, metadata)`` of the root, or None for a leaf."""
        if self._spec is _LEAF:
            return None
        kind, data, _ = self._spec
        if kind is _NAMEDTUPLE:
            return data, None
        return kind.type, (list(data) if kind is _DICT else data)

    def compose(self, inner: PyTreeDef) -> PyTreeDef:
        """The treedef with every leaf of ``self`` replaced by ``inner``."""
        return PyTreeDef(_compose(self._spec, inner._spec), self._num_leaves * inner._num_leaves)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PyTreeDef):
            return NotImplemented
        return self is other or (self._hash == other._hash and self._spec == other._spec)

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"PyTreeDef({_show(self._spec)})"

    def __reduce__(self):
        return (PyTreeDef, (self._spec, self._num_leaves))


# --- flattening --------------------------------------------------------------


def _flatten(x: Any, leaves: list, is_leaf: Callable[[Any], bool] | None):
    """Append the leaves of ``x`` to ``leaves`` and return its spec."""
    if is_leaf is not None and is_leaf(x):
        leaves.append(x)
        return _LEAF
    kind = _registry.get(type(x))  # _kind_of, inlined
    if kind is None:
        if not (isinstance(x, tuple) and hasattr(type(x), "_fields")):
            leaves.append(x)
            return _LEAF
        kind = _NAMEDTUPLE
    # Save a call or two for the commonest nodes.
    if kind is _TUPLE or kind is _LIST:
        children, data = x, None
    elif kind is _DICT:
        if not x:  # jit flattens (args, {}) on every call without keyword arguments
            return _EMPTY_DICT
        data = _sorted_keys(x)
        children = map(x.__getitem__, data)
    else:
        children, data = kind.flatten(x)
    specs = []
    for c in children:
        # Inline the common "child is an array" case: a call per leaf would dominate.
        if is_leaf is None and type(c) not in _registry and not isinstance(c, tuple):
            leaves.append(c)
            specs.append(_LEAF)
        else:
            specs.append(_flatten(c, leaves, is_leaf))
    return (kind, data, tuple(specs))


# Treedefs of tuples of n leaves, shared: jit's argument tuples usually look like this,
# and a shared treedef makes the cache key's ``==`` an identity check. (Threads racing on
# a miss each store an equal treedef; the last one stays: equal keys either way.)
_flat_tuple_defs: dict[int, PyTreeDef] = {}
_MAX_SHARED_TUPLE = 64


def tree_flatten(
    tree: PyTree, is_leaf: Callable[[Any], bool] | None = None
) -> tuple[list[Leaf], PyTreeDef]:
    """Leaves of ``tree`` in order, and its structure. ``is_leaf(x)`` can stop descent."""
    if is_leaf is None and type(tree) is tuple and len(tree) <= _MAX_SHARED_TUPLE:
        for x in tree:
            if type(x) in _registry or isinstance(x, tuple):
                break
        else:
            treedef = _flat_tuple_defs.get(len(tree))
            if treedef is None:
                n = len(tree)
                treedef = _flat_tuple_defs[n] = PyTreeDef((_TUPLE, None, (_LEAF,) * n), n)
            return list(tree), treedef
    leaves: list = []
    spec = _flatten(tree, leaves, is_leaf)
    return leaves, PyTreeDef(spec, len(leaves))


def tree_leaves(tree: PyTree, is_leaf: Callable[[Any], bool] | None = None) -> list[Leaf]:
    """The leaves of ``tree``, in flattening order."""
    leaves: list = []
    _flatten(tree, leaves, is_leaf)  # no treedef: skip building and hashing it
    return leaves


def tree_structure(tree: PyTree, is_leaf: Callable[[Any], bool] | None = None) -> PyTreeDef:
    """The treedef of ``tree``."""
    return tree_flatten(tree, is_leaf)[1]


def tree_unflatten(treedef: PyTreeDef, leaves: Iterable[Leaf]) -> PyTree:
    """Rebuild a pytree of structure ``treedef`` from its leaves."""
    return treedef.unflatten(leaves)


def _flatten_with_path(x, path: KeyPath, out: list, is_leaf, is_leaf_takes_path: bool):
    if is_leaf is not None and (is_leaf(path, x) if is_leaf_takes_path else is_leaf(x)):
        out.append((path, x))
        return _LEAF
    kind = _kind_of(x)
    if kind is None:
        out.append((path, x))
        return _LEAF
    pairs, data = kind.flatten_with_keys(x)
    specs = tuple(
        [_flatten_with_path(c, (*path, k), out, is_leaf, is_leaf_takes_path) for k, c in pairs]
    )
    return (kind, data, specs)


def tree_flatten_with_path(
    tree: PyTree,
    is_leaf: Callable[..., bool] | None = None,
    is_leaf_takes_path: bool = False,
) -> tuple[list[tuple[KeyPath, Leaf]], PyTreeDef]:
    """Like :func:`tree_flatten`, with each leaf paired with its key path.

    With ``is_leaf_takes_path``, ``is_leaf`` is called as ``is_leaf(path, x)``.
    """
    out: list = []
    spec = _flatten_with_path(tree, (), out, is_leaf, is_leaf_takes_path)
    return out, PyTreeDef(spec, len(out))


def tree_leaves_with_path(
    tree: PyTree,
    is_leaf: Callable[..., bool] | None = None,
    is_leaf_takes_path: bool = False,
) -> list[tuple[KeyPath, Leaf]]:
    """The ``(key path, leaf)`` pairs of ``tree``."""
    return tree_flatten_with_path(tree, is_leaf, is_leaf_takes_path)[0]


# --- matching one tree against another's structure ---------------------------


class _Mismatch(Exception):
    """Raised inside the matching walk; the key path is collected while unwinding."""

    def __init__(self, problem: str, detail: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.detail = detail
        self.reversed_path: list[KeyEntry] = []


def _describe(kind: _NodeKind, data: Any) -> str:
    if kind is _NONE:
        return "None"
    return data.__name__ if kind is _NAMEDTUPLE else kind.type.__name__


def _match_node(kind: _NodeKind, data: Any, n_children: int, x: Any) -> Iterable:
    """The children of ``x`` if it is a node like (kind, data, n_children), else raise."""
    if _kind_of(x) is not kind or (kind is _NAMEDTUPLE and type(x) is not data):
        detail = f"expected {_describe(kind, data)}, got {type(x).__name__}"
        if kind is _NONE:
            detail += (
                " (None is a pytree node with no children, not a leaf; to let anything match"
                " there, flatten the first tree with is_leaf=lambda x: x is None)"
            )
        raise _Mismatch("different types", detail)
    children, xdata = kind.flatten(x)
    children = tuple(children)  # custom flatten functions may return any iterable
    if xdata != data:
        what = "dict keys" if kind in (_DICT, _ORDEREDDICT) else "node metadata"
        raise _Mismatch(f"different {what}", f"expected {data!r}, got {xdata!r}")
    if len(children) != n_children:
        if kind in (_TUPLE, _LIST):
            problem, detail = "lengths", f"expected length {n_children}, got {len(children)}"
        else:
            problem, detail = "numbers of children", f"expected {n_children}, got {len(children)}"
        raise _Mismatch(f"different {problem}", detail)
    return children


def _up_to(spec, x: Any, out: list) -> None:
    kind, data, specs = spec
    children = _match_node(kind, data, len(specs), x)
    for i, (s, c) in enumerate(zip(specs, children, strict=True)):
        if s is _LEAF:
            out.append(c)
            continue
        try:
            _up_to(s, c, out)
        except _Mismatch as e:
            # Only on failure: name the child by the key a path flatten would give it.
            e.reversed_path.append(list(kind.flatten_with_keys(x)[0])[i][0])
            raise


def _flatten_up_to(treedef: PyTreeDef, tree: PyTree, context: str) -> list:
    """``treedef.flatten_up_to(tree)``; errors start with ``context``."""
    if treedef._spec is _LEAF:
        return [tree]
    out: list = []
    try:
        _up_to(treedef._spec, tree, out)
    except _Mismatch as e:
        path = keystr(tuple(reversed(e.reversed_path)))
        where = f"key path {path}" if path else "the root"
        raise ValueError(f"{context}: {e.problem} at {where}: {e.detail}") from None
    return out


# --- mapping and reducing ----------------------------------------------------


def _columns_of_rest(treedef: PyTreeDef, rest: tuple, fn: str) -> list[list]:
    """For each extra tree of a map, its subtrees at ``treedef``'s leaves."""
    return [
        _flatten_up_to(treedef, r, f"{fn}: tree {i} does not match the structure of tree 1")
        for i, r in enumerate(rest, 2)
    ]


def tree_map(
    f: Callable[..., Any],
    tree: PyTree,
    *rest: PyTree,
    is_leaf: Callable[[Any], bool] | None = None,
) -> PyTree:
    """Apply ``f`` leafwise. Each tree in ``rest`` must have ``tree``'s structure, or
    extend it: where ``tree`` has a leaf, ``f`` receives the whole subtree of the others.
    """
    leaves, treedef = tree_flatten(tree, is_leaf)
    if not rest:
        return treedef.unflatten([f(x) for x in leaves])
    columns = [leaves] + _columns_of_rest(treedef, rest, "tree_map")
    return treedef.unflatten([f(*xs) for xs in zip(*columns, strict=True)])


def tree_map_with_path(
    f: Callable[..., Any],
    tree: PyTree,
    *rest: PyTree,
    is_leaf: Callable[..., bool] | None = None,
    is_leaf_takes_path: bool = False,
) -> PyTree:
    """Like :func:`tree_map`, calling ``f(key_path, leaf, *others)``."""
    pairs, treedef = tree_flatten_with_path(tree, is_leaf, is_leaf_takes_path)
    columns = _columns_of_rest(treedef, rest, "tree_map_with_path")
    return treedef.unflatten(
        [f(path, x, *xs) for (path, x), *xs in zip(pairs, *columns, strict=True)]
        if columns
        else [f(path, x) for path, x in pairs]
    )


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


def tree_reduce(
    function: Callable[[T, Any], T],
    tree: PyTree,
    initializer: T | _Missing = _MISSING,
    is_leaf: Callable[[Any], bool] | None = None,
) -> T:
    """``functools.reduce`` over the leaves of ``tree``."""
    leaves = tree_leaves(tree, is_leaf)
    if initializer is _MISSING:
        return functools.reduce(function, leaves)
    return functools.reduce(function, leaves, initializer)


def tree_all(tree: PyTree, *, is_leaf: Callable[[Any], bool] | None = None) -> bool:
    """True if every leaf is truthy (True for a tree with no leaves)."""
    return all(tree_leaves(tree, is_leaf))


def all_leaves(iterable: Iterable[Any], is_leaf: Callable[[Any], bool] | None = None) -> bool:
    """True if every element is a leaf (under ``is_leaf``, when given)."""
    return all((is_leaf is not None and is_leaf(x)) or _kind_of(x) is None for x in iterable)


def tree_transpose(
    outer_treedef: PyTreeDef, inner_treedef: PyTreeDef | None, pytree_to_transpose: PyTree
) -> PyTree:
    """Turn an outer tree of inner trees into an inner tree of outer trees."""
    leaves, treedef = tree_flatten(pytree_to_transpose)
    if inner_treedef is None:
        inner_treedef = tree_structure(outer_treedef.flatten_up_to(pytree_to_transpose)[0])
    expected = outer_treedef.compose(inner_treedef)
    if treedef != expected:
        raise TypeError(f"tree_transpose: expected structure {expected}, got {treedef}")
    n = inner_treedef.num_leaves
    rows = [leaves[i * n : (i + 1) * n] for i in range(outer_treedef.num_leaves)]
    return inner_treedef.unflatten(
        [outer_treedef.unflatten(col) for col in zip(*rows, strict=True)]
    )


def treedef_is_leaf(treedef: PyTreeDef) -> bool:
    """True for a leaf's treedef, and for childless nodes such as ``None``."""
    return treedef.num_nodes == 1


def treedef_children(treedef: PyTreeDef) -> list[PyTreeDef]:
    """Treedefs of the root node's children."""
    return treedef.children()


def treedef_tuple(treedefs: Iterable[PyTreeDef]) -> PyTreeDef:
    """The treedef of a tuple whose children have the given treedefs."""
    treedefs = list(treedefs)
    spec = (_TUPLE, None, tuple(t._spec for t in treedefs))
    return PyTreeDef(spec, sum(t.num_leaves for t in treedefs))


# --- Partial -----------------------------------------------------------------


class _WrappedPartial:
    """Hides a ``functools.partial`` passed to :class:`Partial`.

    ``functools.partial`` would merge the inner partial's arguments into the new
    one, turning the inner (static) arguments into pytree leaves.
    """

    __slots__ = ("fun",)

    def __init__(self, fun: Callable) -> None:
        self.fun = fun

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fun(*args, **kwargs)

    def __eq__(self, other: object) -> bool:
        return self.fun == (other.fun if isinstance(other, _WrappedPartial) else other)

    def __hash__(self) -> int:
        return hash(self.fun)

    def __repr__(self) -> str:
        return f"_WrappedPartial({self.fun!r})"


class Partial(functools.partial):
    """A ``functools.partial`` that is a pytree: the bound arguments are its children and
    the function is static metadata, so it can be passed through transformed functions.
    """

    def __new__(cls, func: Callable, *args: Any, **kwargs: Any) -> Partial:
        if isinstance(func, functools.partial):
            func = _WrappedPartial(func)
        return super().__new__(cls, func, *args, **kwargs)


register_pytree_node(
    Partial,
    lambda p: ((p.args, p.keywords), p.func),
    lambda func, children: Partial(func, *children[0], **children[1]),
)


# --- dataclasses -------------------------------------------------------------


def static(**kwargs: Any) -> Any:
    """A ``dataclasses.field`` marked ``static``: ``register_dataclass`` makes it treedef
    metadata instead of a child."""
    import dataclasses

    metadata = dict(kwargs.pop("metadata", None) or {})
    metadata["static"] = True
    return dataclasses.field(metadata=metadata, **kwargs)


def register_dataclass(
    nodetype: Typ,
    data_fields: Iterable[str] | None = None,
    meta_fields: Iterable[str] | None = None,
    drop_fields: Iterable[str] = (),
) -> Typ:
    """Make ``nodetype`` a node whose ``data_fields`` are children (keyed by attribute
    name) and whose ``meta_fields`` are static metadata; for a dataclass both default to
    its fields, split by the ``static`` field metadata. Rebuilt as
    ``nodetype(**fields)``."""
    import dataclasses

    if data_fields is None or meta_fields is None:
        if (data_fields is None) != (meta_fields is None):
            raise TypeError("register_dataclass: data_fields and meta_fields must both be "
                            "specified when either is specified. Got "
                            f"data_fields={data_fields!r} meta_fields={meta_fields!r}.")
        if not dataclasses.is_dataclass(nodetype):
            raise TypeError("register_dataclass: data_fields and meta_fields are required "
                            f"when nodetype is not a dataclass. Got nodetype={nodetype!r}.")
        fields = dataclasses.fields(nodetype)
        data_fields = [f.name for f in fields if not f.metadata.get("static", False)]
        meta_fields = [f.name for f in fields if f.metadata.get("static", False)]
    data_fields, meta_fields = tuple(data_fields), tuple(meta_fields)
    if dataclasses.is_dataclass(nodetype):
        init_fields = {f.name for f in dataclasses.fields(nodetype) if f.init}
        init_fields.difference_update(drop_fields)
        given = {*meta_fields, *data_fields}
        if given != init_fields:
            msg = ("data_fields and meta_fields must include all dataclass fields with "
                   "``init=True`` and only them.")
            if missing := init_fields - given:
                msg += (f" Missing fields: {missing}. Add them to drop_fields to suppress "
                        "this error.")
            if unexpected := given - init_fields:
                msg += f" Unexpected fields: {unexpected}."
            raise ValueError(msg)
    if overlap := set(data_fields) & set(meta_fields):
        raise ValueError("data_fields and meta_fields must not overlap. Overlapping fields: "
                         f"{overlap}.")

    def flatten_with_keys(x: Any) -> tuple[list, tuple]:
        meta = tuple(getattr(x, name) for name in meta_fields)
        return [(GetAttrKey(name), getattr(x, name)) for name in data_fields], meta

    def unflatten(meta: tuple, data: tuple) -> Any:
        return nodetype(**dict(zip(meta_fields, meta, strict=True)),
                        **dict(zip(data_fields, data, strict=True)))

    register_pytree_with_keys(nodetype, flatten_with_keys, unflatten)
    return nodetype


# --- one level, broadcasting, associative reduction ----------------------------


def flatten_one_level(tree: PyTree) -> tuple[Iterable[PyTree], Hashable]:
    """``(children, node_data)`` of the root node; ValueError for a leaf."""
    kind = _kind_of(tree)
    if kind is None:
        raise ValueError(f"can't tree-flatten type: {type(tree)}")
    children, data = kind.flatten(tree)
    if kind is _DICT:
        children = tuple(children)
    elif kind is _NAMEDTUPLE:
        children = list(children)
    return children, data


def flatten_one_level_with_keys(tree: PyTree) -> tuple[Iterable[tuple[KeyEntry, PyTree]],
                                                        Hashable]:
    """``(((key, child), ...), node_data)`` of the root node; ValueError for a leaf."""
    kind = _kind_of(tree)
    if kind is None:
        raise ValueError(f"can't tree-flatten type: {type(tree)}")
    pairs, data = kind.flatten_with_keys(tree)
    return (tuple(pairs) if kind in (_DICT, _TUPLE, _LIST) else pairs), data


def is_tree_node(typ: type) -> bool:
    """Whether instances of ``typ`` are pytree nodes (registered types, namedtuples)."""
    if typ in _registry:
        return True
    return isinstance(typ, type) and issubclass(typ, tuple) and hasattr(typ, "_fields")


def tree_broadcast(prefix_tree: PyTree, full_tree: PyTree,
                   is_leaf: Callable[[Any], bool] | None = None) -> PyTree:
    """``full_tree``'s structure with each leaf of ``prefix_tree`` repeated over the
    subtree of ``full_tree`` it stands for."""
    leaves: list = []

    def spread(x: Any, subtree: Any) -> None:
        leaves.extend([x] * tree_structure(subtree).num_leaves)

    tree_map(spread, prefix_tree, full_tree, is_leaf=is_leaf)
    return tree_structure(full_tree).unflatten(leaves)


def _halving_reduce(items: list, operation: Callable, identity: Any) -> Any:
    if not items:
        if identity is _MISSING:
            raise TypeError("Must specify identity for parallel reduction of empty sequence.")
        return identity
    if len(items) == 1:
        return items[0]
    middle = len(items) // 2
    return operation(_halving_reduce(items[:middle], operation, identity),
                     _halving_reduce(items[middle:], operation, identity))


def tree_reduce_associative(operation: Callable[[T, T], T], tree: PyTree, *,
                            identity: Any = _MISSING,
                            is_leaf: Callable[[Any], bool] | None = None) -> T:
    """Combine the leaves with an associative ``operation`` as a balanced tree (halves
    first), so the depth of the computation is logarithmic in the number of leaves."""
    return _halving_reduce(tree_leaves(tree, is_leaf), operation, identity)


class _DefaultRegistry:
    """``jax.tree_util.default_registry``: the one registry llax flattens with."""

    __module__ = "llax.tree_util"

    def flatten(self, tree: PyTree, leaf_predicate: Callable[[Any], bool] | None = None
                ) -> tuple[list, PyTreeDef]:
        return tree_flatten(tree, leaf_predicate)

    def flatten_with_path(self, tree: PyTree,
                          leaf_predicate: Callable[..., bool] | None = None) -> Any:
        return tree_flatten_with_path(tree, leaf_predicate)

    def flatten_one_level(self, tree: PyTree) -> Any:
        return None if _kind_of(tree) is None else flatten_one_level(tree)

    def flatten_one_level_with_keys(self, tree: PyTree) -> Any:
        return None if _kind_of(tree) is None else flatten_one_level_with_keys(tree)

    def is_node(self, typ: type) -> bool:
        return is_tree_node(typ)

    def register_node(self, nodetype: type, flatten_func: Callable, unflatten_func: Callable,
                      flatten_with_keys_func: Callable | None = None) -> None:
        register_pytree_node(nodetype, flatten_func, unflatten_func, flatten_with_keys_func)

    def register_dataclass_node(self, nodetype: type, data_fields: list[str],
                                meta_fields: list[str]) -> None:
        register_dataclass(nodetype, data_fields, meta_fields)

    def __repr__(self) -> str:
        return "<llax.tree_util.default_registry>"


default_registry = _DefaultRegistry()
