"""``llax.example_libraries.optimizers`` (JAX's API): first-order optimizers as triples.

An optimizer is an ``Optimizer(init_fn, update_fn, params_fn)`` named tuple:

    opt_init, opt_update, get_params = optimizers.adam(1e-3)
    opt_state = opt_init(params)
    opt_state = opt_update(step, grads, opt_state)
    params = get_params(opt_state)

Each optimizer is written for one array (``init(x0) -> state``, ``update(i, g, state) ->
state``, ``get_params(state) -> x``); the ``@optimizer`` decorator lifts it to pytrees of
parameters. The lifted state is an ``OptimizerState``: the per-leaf states flattened, with
the parameter tree's structure and each leaf state's structure. It is registered as a
pytree whose only child is the flat list of state leaves, so optimizer states pass
through ``jit``, ``grad`` and ``tree_map`` like any other pytree.

Step sizes are numbers or *schedules*, functions from the step index to a step size.
"""

from __future__ import annotations

import functools
from collections import namedtuple
from collections.abc import Callable
from typing import Any, NamedTuple

from llax import tree_util
from llax.frontend import jnp

__all__ = [
    "JoinPoint", "Optimizer", "OptimizerState", "adagrad", "adam", "adamax", "clip_grads",
    "constant", "exponential_decay", "inverse_time_decay", "l2_norm", "make_schedule",
    "momentum", "nesterov", "optimizer", "pack_optimizer_state", "piecewise_constant",
    "polynomial_decay", "rmsprop", "rmsprop_momentum", "sgd", "sm3", "unpack_optimizer_state",
]

Array = Any
Params = Any
State = Any
Updates = Params
Step = int
Schedule = Callable[[Step], Any]

# The state of an optimizer over a pytree of parameters:
#   packed_state: one list per parameter leaf, that leaf's state flattened;
#   tree_def: the parameters' tree structure;
#   subtree_defs: per parameter leaf, the structure of its state.
OptimizerState = namedtuple("OptimizerState", ["packed_state", "tree_def", "subtree_defs"])

# Only the state leaves are children; the structures are static auxiliary data (so two
# states of the same optimizer on the same parameters share a jit cache entry).
tree_util.register_pytree_node(
    OptimizerState,
    lambda state: ((state.packed_state,), (state.tree_def, state.subtree_defs)),
    lambda aux, children: OptimizerState(children[0], aux[0], aux[1]),
)

InitFn = Callable[[Params], OptimizerState]
UpdateFn = Callable[[Step, Updates, OptimizerState], OptimizerState]
ParamsFn = Callable[[OptimizerState], Params]


class Optimizer(NamedTuple):
    """An optimizer as ``(init_fn, update_fn, params_fn)``."""

    init_fn: InitFn
    update_fn: UpdateFn
    params_fn: ParamsFn


def _flatten_each(trees: list[Any]) -> tuple[list[list[Any]], list[Any]]:
    """Flatten each tree: (the leaf lists, the structures)."""
    flat = [tree_util.tree_flatten(t) for t in trees]
    return [leaves for leaves, _ in flat], [treedef for _, treedef in flat]


def optimizer(opt_maker: Callable[..., tuple[Callable, Callable, Callable]]
              ) -> Callable[..., Optimizer]:
    """Lift a maker of single-array ``(init, update, get_params)`` functions to one whose
    functions take and return pytrees of parameters and ``OptimizerState``s.

    The wrapped ``update`` checks that the gradient tree has the parameters' structure
    and that every leaf's new state has its old state's structure (``TypeError`` if not).
    """
    @functools.wraps(opt_maker)
    def tree_opt_maker(*args: Any, **kwargs: Any) -> Optimizer:
        init, update, get_params = opt_maker(*args, **kwargs)

        @functools.wraps(init)
        def tree_init(x0_tree: Params) -> OptimizerState:
            x0_flat, tree = tree_util.tree_flatten(x0_tree)
            states_flat, subtrees = _flatten_each([init(x0) for x0 in x0_flat])
            return OptimizerState(states_flat, tree, subtrees)

        @functools.wraps(update)
        def tree_update(i: Step, grad_tree: Updates, opt_state: OptimizerState
                        ) -> OptimizerState:
            states_flat, tree, subtrees = opt_state
            grad_flat, grad_tree_def = tree_util.tree_flatten(grad_tree)
            if grad_tree_def != tree:
                raise TypeError("optimizer update function was passed a gradient tree that did "
                                "not match the parameter tree structure with which it was "
                                f"initialized: parameter tree {tree} and grad tree "
                                f"{grad_tree_def}.")
            states = [tree_util.tree_unflatten(d, s) for d, s in _zip(subtrees, states_flat)]
            new_states = [update(i, g, s) for g, s in _zip(grad_flat, states)]
            new_flat, new_subtrees = _flatten_each(new_states)
            for before, after in _zip(subtrees, new_subtrees):
                if after != before:
                    raise TypeError("optimizer update function produced an output structure "
                                    "that did not match its input structure: input "
                                    f"{before} and output {after}.")
            return OptimizerState(new_flat, tree, subtrees)

        @functools.wraps(get_params)
        def tree_get_params(opt_state: OptimizerState) -> Params:
            states_flat, tree, subtrees = opt_state
            states = [tree_util.tree_unflatten(d, s) for d, s in _zip(subtrees, states_flat)]
            return tree_util.tree_unflatten(tree, [get_params(s) for s in states])

        return Optimizer(tree_init, tree_update, tree_get_params)

    return tree_opt_maker


def _zip(a: list[Any], b: list[Any]) -> zip:
    """``zip`` of two sequences that must be equally long (a packed state of the wrong
    length is an error, not a silent truncation)."""
    if len(a) != len(b):
        raise ValueError(f"length mismatch: {len(a)} and {len(b)}")
    return zip(a, b)


# --- optimizers ----------------------------------------------------------------------------
# Each maker returns per-array (init, update, get_params); the formulas and their
# evaluation order follow JAX's so that results agree to the last bit where the
# primitives do.


def _params(state: Any) -> Any:
    """``get_params`` of the optimizers whose state is (params, their statistics...)."""
    return state[0]


def _with_zeros(x0: Any) -> Any:
    """``init``: the params and one zeroed statistic of their shape."""
    return x0, jnp.zeros_like(x0)


def _with_two_zeros(x0: Any) -> Any:
    """``init``: the params and two zeroed statistics of their shape."""
    return x0, jnp.zeros_like(x0), jnp.zeros_like(x0)


@optimizer
def sgd(step_size: float | Schedule) -> tuple[Callable, Callable, Callable]:
    """Stochastic gradient descent: ``x -= step_size(i) * g``."""
    step_size = make_schedule(step_size)

    def init(x0: Any) -> Any:
        return x0

    def update(i: Step, g: Any, x: Any) -> Any:
        return x - step_size(i) * g

    def get_params(x: Any) -> Any:
        return x

    return Optimizer(init, update, get_params)


@optimizer
def momentum(step_size: float | Schedule, mass: float) -> tuple[Callable, Callable, Callable]:
    """Heavy-ball momentum: ``v = mass * v + g; x -= step_size(i) * v``."""
    step_size = make_schedule(step_size)

    def update(i: Step, g: Any, state: Any) -> Any:
        x, velocity = state
        velocity = mass * velocity + g
        return x - step_size(i) * velocity, velocity

    return _with_zeros, update, _params


@optimizer
def nesterov(step_size: float | Schedule, mass: float) -> tuple[Callable, Callable, Callable]:
    """Nesterov momentum: the step looks ahead along the updated velocity."""
    step_size = make_schedule(step_size)

    def update(i: Step, g: Any, state: Any) -> Any:
        x, velocity = state
        velocity = mass * velocity + g
        return x - step_size(i) * (mass * velocity + g), velocity

    return _with_zeros, update, _params


@optimizer
def adagrad(step_size: float | Schedule, momentum: float = 0.9
            ) -> tuple[Callable, Callable, Callable]:
    """Adagrad with momentum: gradients scaled by the root of their running sum of squares
    (0 where that sum is still 0), then averaged with momentum."""
    step_size = make_schedule(step_size)

    def update(i: Step, g: Any, state: Any) -> Any:
        x, g_sq, m = state
        g_sq = g_sq + jnp.square(g)
        g_sq_inv_sqrt = jnp.where(g_sq > 0, 1.0 / jnp.sqrt(g_sq), 0.0)
        m = (1.0 - momentum) * (g * g_sq_inv_sqrt) + momentum * m
        return x - step_size(i) * m, g_sq, m

    return _with_two_zeros, update, _params


@optimizer
def rmsprop(step_size: float | Schedule, gamma: float = 0.9, eps: float = 1e-8
            ) -> tuple[Callable, Callable, Callable]:
    """RMSProp: gradients divided by the root of a running mean of their squares."""
    step_size = make_schedule(step_size)

    def update(i: Step, g: Any, state: Any) -> Any:
        x, avg_sq_grad = state
        avg_sq_grad = avg_sq_grad * gamma + jnp.square(g) * (1.0 - gamma)
        return x - step_size(i) * g / jnp.sqrt(avg_sq_grad + eps), avg_sq_grad

    return _with_zeros, update, _params


@optimizer
def rmsprop_momentum(step_size: float | Schedule, gamma: float = 0.9, eps: float = 1e-8,
                     momentum: float = 0.9) -> tuple[Callable, Callable, Callable]:
    """RMSProp whose scaled steps accumulate with momentum."""
    step_size = make_schedule(step_size)

    def update(i: Step, g: Any, state: Any) -> Any:
        x, avg_sq_grad, mom = state
        avg_sq_grad = avg_sq_grad * gamma + jnp.square(g) * (1.0 - gamma)
        mom = momentum * mom + step_size(i) * g / jnp.sqrt(avg_sq_grad + eps)
        return x - mom, avg_sq_grad, mom

    return _with_two_zeros, update, _params


@optimizer
def adam(step_size: float | Schedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
         ) -> tuple[Callable, Callable, Callable]:
    """Adam (Kingma and Ba): bias-corrected running means of the gradient and its square."""
    step_size = make_schedule(step_size)

    def update(i: Step, g: Any, state: Any) -> Any:
        x, m, v = state
        m = (1 - b1) * g + b1 * m
        v = (1 - b2) * jnp.square(g) + b2 * v
        # The bias corrections in the moments' dtype: i may be a traced int32.
        mhat = m / (1 - jnp.asarray(b1, m.dtype) ** (i + 1))
        vhat = v / (1 - jnp.asarray(b2, m.dtype) ** (i + 1))
        return x - step_size(i) * mhat / (jnp.sqrt(vhat) + eps), m, v

    return _with_two_zeros, update, _params


@optimizer
def adamax(step_size: float | Schedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
           ) -> tuple[Callable, Callable, Callable]:
    """AdaMax: Adam with the infinity norm in place of the second moment."""
    step_size = make_schedule(step_size)

    def update(i: Step, g: Any, state: Any) -> Any:
        x, m, u = state
        m = (1 - b1) * g + b1 * m
        u = jnp.maximum(b2 * u, jnp.abs(g))
        x = x - step_size(i) / (1 - jnp.asarray(b1, m.dtype) ** (i + 1)) * m / (u + eps)
        return x, m, u

    return _with_two_zeros, update, _params


@optimizer
def sm3(step_size: float | Schedule, momentum: float = 0.9
        ) -> tuple[Callable, Callable, Callable]:
    """SM3 (Anil et al. 2019): Adagrad whose accumulator is one vector per axis instead of
    one entry per parameter; a parameter's accumulator is the minimum over its axes."""
    step_size = make_schedule(step_size)

    def along_axis(ndim: int, v: Any, axis: int) -> Any:
        """The vector ``v`` viewed along ``axis`` of an ``ndim``-dimensional array (a
        scalar parameter's one axis, from ``atleast_1d``, stays one axis)."""
        index = [None] * ndim
        index[axis:axis + 1] = [slice(None)]
        return v[tuple(index)]

    def init(x0: Any) -> Any:
        x_shape = x0.shape
        x0 = jnp.atleast_1d(x0)  # a scalar gets one axis of length 1
        vs = [jnp.zeros(n, dtype=x0.dtype) for n in x0.shape]
        return x0, jnp.zeros_like(x0), vs, x_shape

    def update(i: Step, g: Any, state: Any) -> Any:
        x, m, vs, x_shape = state
        vs = [along_axis(g.ndim, v, axis) for axis, v in enumerate(vs)]
        accum = functools.reduce(jnp.minimum, vs) + jnp.square(g)
        accum_inv_sqrt = jnp.where(accum > 0, 1.0 / jnp.sqrt(accum), 0)
        m = (1.0 - momentum) * (g * accum_inv_sqrt) + momentum * m
        x = x - step_size(i) * m
        # Each axis keeps the maximum of the accumulator over all the other axes.
        vs = [accum.max(tuple(a for a in range(x.ndim) if a != axis))
              for axis in range(x.ndim)]
        return x, m, vs, x_shape

    def get_params(state: Any) -> Any:
        x, _, _, x_shape = state
        return x.reshape(x_shape)

    return init, update, get_params


# --- schedules -----------------------------------------------------------------------------

def constant(step_size: Any) -> Schedule:
    """The schedule that is ``step_size`` at every step."""
    def schedule(i: Step) -> Any:
        return step_size
    return schedule


def exponential_decay(step_size: Any, decay_steps: Any, decay_rate: Any) -> Schedule:
    """``step_size * decay_rate ** (i / decay_steps)``."""
    def schedule(i: Step) -> Any:
        return step_size * decay_rate ** (i / decay_steps)
    return schedule


def inverse_time_decay(step_size: Any, decay_steps: Any, decay_rate: Any,
                       staircase: bool = False) -> Schedule:
    """``step_size / (1 + decay_rate * i / decay_steps)``; with ``staircase`` the ratio
    ``i / decay_steps`` is floored, so the step size drops every ``decay_steps`` steps."""
    if staircase:
        def schedule(i: Step) -> Any:
            return step_size / (1 + decay_rate * jnp.floor(i / decay_steps))
    else:
        def schedule(i: Step) -> Any:
            return step_size / (1 + decay_rate * i / decay_steps)
    return schedule


def polynomial_decay(step_size: Any, decay_steps: Any, final_step_size: Any,
                     power: float = 1.0) -> Schedule:
    """From ``step_size`` down to ``final_step_size`` along ``(1 - i / decay_steps) **
    power``, constant after ``decay_steps``."""
    def schedule(step_num: Step) -> Any:
        step_num = jnp.minimum(step_num, decay_steps)
        step_mult = (1 - step_num / decay_steps) ** power
        return step_mult * (step_size - final_step_size) + final_step_size
    return schedule


def piecewise_constant(boundaries: Any, values: Any) -> Schedule:
    """``values[k]`` for steps ``i`` with ``boundaries[k-1] < i <= boundaries[k]``:
    ``len(values) == len(boundaries) + 1``."""
    boundaries = jnp.array(boundaries)
    values = jnp.array(values)
    if not boundaries.ndim == values.ndim == 1:
        raise ValueError("boundaries and values must be sequences")
    if not boundaries.shape[0] == values.shape[0] - 1:
        raise ValueError("boundaries length must be one shorter than values length")

    def schedule(i: Step) -> Any:
        # The number of boundaries already passed is the index of the current value.
        return values[jnp.sum(i > boundaries)]
    return schedule


def make_schedule(scalar_or_schedule: float | Schedule) -> Schedule:
    """A schedule as is; a scalar as the constant schedule; anything else a TypeError."""
    if callable(scalar_or_schedule):
        return scalar_or_schedule
    if jnp.ndim(scalar_or_schedule) == 0:
        return constant(scalar_or_schedule)
    raise TypeError(type(scalar_or_schedule))


# --- utilities -----------------------------------------------------------------------------

def l2_norm(tree: Any) -> Any:
    """The l2 norm of all of a pytree's leaves taken together as one vector."""
    leaves = tree_util.tree_leaves(tree)
    return jnp.sqrt(sum(jnp.vdot(x, x) for x in leaves))


def clip_grads(grad_tree: Any, max_norm: Any) -> Any:
    """Scale a gradient pytree down so its ``l2_norm`` is at most ``max_norm``."""
    norm = l2_norm(grad_tree)

    def normalize(g: Any) -> Any:
        return jnp.where(norm < max_norm, g, g * (max_norm / norm))

    return tree_util.tree_map(normalize, grad_tree)


# --- serialization -------------------------------------------------------------------------

class JoinPoint:
    """Marks where a parameter leaf's own state subtree joins the parameter tree in an
    unpacked optimizer state. Iterating it yields that subtree (so it unpacks like a
    one-element sequence); it is not a pytree node, so it is a leaf of the outer tree."""

    def __init__(self, subtree: Any) -> None:
        self.subtree = subtree

    def __iter__(self):
        yield self.subtree


def unpack_optimizer_state(opt_state: OptimizerState) -> Any:
    """An ``OptimizerState`` as a plain pytree: the parameter tree with each leaf replaced
    by a ``JoinPoint`` holding that leaf's state (for pickling or inspection)."""
    states_flat, tree_def, subtree_defs = opt_state
    subtrees = [tree_util.tree_unflatten(d, s) for d, s in _zip(subtree_defs, states_flat)]
    return tree_util.tree_unflatten(tree_def, [JoinPoint(s) for s in subtrees])


def pack_optimizer_state(marked_pytree: Any) -> OptimizerState:
    """The inverse of ``unpack_optimizer_state``."""
    sentinels, tree_def = tree_util.tree_flatten(marked_pytree)
    assert all(isinstance(s, JoinPoint) for s in sentinels)
    states_flat, subtree_defs = _flatten_each([s.subtree for s in sentinels])
    return OptimizerState(states_flat, tree_def, subtree_defs)
