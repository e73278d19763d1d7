"""``llax.tree_util``: pytree utilities, shaped like ``jax.tree_util``."""

import functools
import inspect
from collections.abc import Callable
from typing import Any

from llax.frontend import tree_util as _tu
from llax.frontend.tree_util import (
    DictKey,
    FlattenedIndexKey,
    GetAttrKey,
    KeyEntry,
    KeyPath,
    Partial,
    PyTreeDef,
    SequenceKey,
    default_registry,
    flatten_one_level,
    flatten_one_level_with_keys,
    is_tree_node,
    keystr,
    register_dataclass,
    register_pytree_node,
    register_pytree_node_class,
    register_pytree_with_keys,
    register_pytree_with_keys_class,
    register_static,
    tree_transpose,
    tree_unflatten,
    treedef_children,
    treedef_is_leaf,
    treedef_tuple,
)


def _stopping_at_user_leaves(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with its ``is_leaf`` extended to stop at typed key arrays (see
    ``llax.frontend.tree_util.users_is_leaf``): users see them as leaves, as in JAX."""
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def public(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        takes_path = bound.arguments.get("is_leaf_takes_path", False)
        bound.arguments["is_leaf"] = _tu.users_is_leaf(bound.arguments.get("is_leaf"), takes_path)
        return fn(*bound.args, **bound.kwargs)

    return public


all_leaves = _stopping_at_user_leaves(_tu.all_leaves)
tree_all = _stopping_at_user_leaves(_tu.tree_all)
tree_flatten = _stopping_at_user_leaves(_tu.tree_flatten)
tree_flatten_with_path = _stopping_at_user_leaves(_tu.tree_flatten_with_path)
tree_leaves = _stopping_at_user_leaves(_tu.tree_leaves)
tree_leaves_with_path = _stopping_at_user_leaves(_tu.tree_leaves_with_path)
tree_map = _stopping_at_user_leaves(_tu.tree_map)
tree_map_with_path = _stopping_at_user_leaves(_tu.tree_map_with_path)
tree_reduce = _stopping_at_user_leaves(_tu.tree_reduce)
tree_structure = _stopping_at_user_leaves(_tu.tree_structure)
tree_broadcast = _stopping_at_user_leaves(_tu.tree_broadcast)
tree_reduce_associative = _stopping_at_user_leaves(_tu.tree_reduce_associative)

__all__ = [
    "DictKey",
    "FlattenedIndexKey",
    "GetAttrKey",
    "KeyEntry",
    "KeyPath",
    "Partial",
    "PyTreeDef",
    "SequenceKey",
    "all_leaves",
    "default_registry",
    "flatten_one_level",
    "flatten_one_level_with_keys",
    "is_tree_node",
    "keystr",
    "register_dataclass",
    "register_pytree_node",
    "register_pytree_node_class",
    "register_pytree_with_keys",
    "register_pytree_with_keys_class",
    "register_static",
    "tree_all",
    "tree_broadcast",
    "tree_flatten",
    "tree_flatten_with_path",
    "tree_leaves",
    "tree_leaves_with_path",
    "tree_map",
    "tree_map_with_path",
    "tree_reduce",
    "tree_reduce_associative",
    "tree_structure",
    "tree_transpose",
    "tree_unflatten",
    "treedef_children",
    "treedef_is_leaf",
    "treedef_tuple",
]
