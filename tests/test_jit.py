"""jit and make_jaxpr behave as JAX's do: caching, statics, pytrees, errors, stages."""

from collections import namedtuple

import jax
import jax.numpy as jnp_ref
import numpy as np
import pytest

import llax
import llax.numpy as jnp


def counting(fn):
    """Wrap ``fn`` so the test can count how often Python runs it (= traces)."""
    calls = []

    def wrapped(*args, **kwargs):
        calls.append(1)
        return fn(*args, **kwargs)

    wrapped.calls = calls
    return wrapped


def test_traces_once_per_signature_and_retraces_on_new_shape_or_dtype():
    f = counting(lambda x: x * 2 + 1)
    g = llax.jit(f)
    x = jnp.arange(4.0)
    np.testing.assert_allclose(g(x), np.arange(4.0) * 2 + 1)
    g(x + 1)
    assert len(f.calls) == 1
    g(jnp.arange(5.0))
    assert len(f.calls) == 2
    g(jnp.arange(5))
    assert len(f.calls) == 3
    g(np.arange(5, dtype=np.int32))  # numpy array with the same signature: no retrace
    assert len(f.calls) == 3


def test_jit_written_twice_shares_one_cache():
    f = counting(lambda x: x - 1)
    llax.jit(f)(jnp.ones(3))
    llax.jit(f)(jnp.ones(3))
    assert len(f.calls) == 1


def test_global_is_captured_at_trace_time_like_jax():
    state = {"k": 2.0}

    def f(x):
        return x * state["k"]

    ours, theirs = llax.jit(f), jax.jit(f)
    x = np.ones(3, np.float32)
    first = (np.asarray(ours(x)), np.asarray(theirs(x)))
    state["k"] = 10.0
    np.testing.assert_array_equal(ours(x), theirs(x))
    np.testing.assert_array_equal(first[0], first[1])
    np.testing.assert_array_equal(ours(x), np.full(3, 2.0))


def test_static_argnums_and_argnames():
    def f(x, n, *, mode="add"):
        return x + n if mode == "add" else x * n

    g = llax.jit(f, static_argnums=1, static_argnames="mode")
    x = jnp.arange(3.0)
    np.testing.assert_array_equal(g(x, 2), np.arange(3.0) + 2)
    np.testing.assert_array_equal(g(x, 3, mode="mul"), np.arange(3.0) * 3)
    with pytest.raises(ValueError, match="Non-hashable static arguments"):
        g(x, [1])


def test_pytrees_in_and_out():
    Point = namedtuple("Point", "x y")

    def f(params, p):
        return {"sum": params["w"] * p.x + params["b"], "pair": (p.y, p.x)}

    params = {"w": np.float32(2), "b": np.ones(2, np.float32)}
    p = Point(np.arange(2, dtype=np.float32), np.zeros(2, np.float32))
    ours, theirs = llax.jit(f)(params, p), jax.jit(f)(params, p)
    assert llax.tree_util.tree_structure(ours) == llax.tree_util.tree_structure(
        {"sum": 0, "pair": (0, 0)})
    for a, b in zip(llax.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(theirs)):
        np.testing.assert_array_equal(a, b)


def test_python_control_flow_on_traced_value_names_function_and_argument():
    def branchy(x, y):
        if y > 0:
            return x
        return -x

    with pytest.raises(llax.ConcretizationTypeError, match=r"branchy.*\by\b"):
        llax.jit(branchy)(1.0, 2.0)


def test_weak_types_and_dtypes_match_jax():
    for fn, args in [(lambda x: x + 1, (np.int8(3),)),
                     (lambda x: x * 2.5, (np.arange(3, dtype=np.int32),)),
                     (lambda x: x, (1.0,))]:
        ours = llax.jit(fn)(*args)
        theirs = jax.jit(fn)(*args)
        assert ours.dtype == theirs.dtype
        assert ours.weak_type == theirs.weak_type


def test_inputs_are_never_mutated():
    x = np.arange(6, dtype=np.float32)
    before = x.copy()
    llax.jit(lambda a: a * 2)(x)
    np.testing.assert_array_equal(x, before)


def test_bad_argument_type_is_a_clear_error():
    with pytest.raises(TypeError, match="not a valid JAX type"):
        llax.jit(lambda a: a)("text")


def test_make_jaxpr_has_jax_fields_and_names():
    def f(x, w):
        return jnp.sum(jnp.sin(x) * 2.0 + x @ w)

    x = np.ones((2, 3), np.float32)
    w = np.ones((3, 3), np.float32)
    ours = llax.make_jaxpr(f)(x, w)
    theirs = jax.make_jaxpr(lambda x, w: jnp_ref.sum(jnp_ref.sin(x) * 2.0 + x @ w))(x, w)
    assert [e.primitive.name for e in ours.jaxpr.eqns] == [
        e.primitive.name for e in theirs.jaxpr.eqns]
    assert [a.shape for a in ours.in_avals] == [a.shape for a in theirs.in_avals]
    assert [a.shape for a in ours.out_avals] == [a.shape for a in theirs.out_avals]
    assert len(ours.jaxpr.invars) == 2 and len(ours.jaxpr.outvars) == 1
    assert str(ours).startswith("{ lambda ; a:f32[2,3] b:f32[3,3]. let")


def test_make_jaxpr_consts_for_captured_arrays():
    c = np.arange(3, dtype=np.float32)
    jaxpr = llax.make_jaxpr(lambda x: x + c)(np.ones(3, np.float32))
    assert len(jaxpr.consts) == 1
    np.testing.assert_array_equal(jaxpr.consts[0], c)


def test_lower_shows_every_stage():
    lowered = llax.jit(lambda x: jnp.tanh(x) * 2).lower(jnp.ones(8))
    assert "tanh" in lowered.as_text("traced")
    assert "fusion" in lowered.as_text("ir")
    assert "define" in lowered.as_text("llvm")
    assert "define" in lowered.as_text("llvm-opt")
    assert lowered.as_text("asm").strip()
    with pytest.raises(ValueError, match="unknown stage"):
        lowered.as_text("nope")


def test_array_is_immutable_and_repr_matches_jax():
    x = jnp.arange(3)
    with pytest.raises(TypeError, match=r"\.at\[idx\]\.set|x\.at\["):
        x[0] = 1
    assert repr(x) == repr(jnp_ref.arange(3))
    assert repr(jnp.ones((2, 2))) == repr(jnp_ref.ones((2, 2)))
    assert repr(jnp.asarray(1.0)) == repr(jnp_ref.asarray(1.0))
    view = np.asarray(x)
    with pytest.raises(ValueError):
        view[0] = 5


def test_fast_path_agrees_with_general_path_on_views():
    f = llax.jit(lambda a: a + 1)
    x = jnp.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(f(x), np.arange(12.0).reshape(3, 4) + 1)
    xt = x.T  # a non-contiguous view on the eager path: the native entry refuses it
    np.testing.assert_array_equal(f(xt), np.arange(12.0).reshape(3, 4).T + 1)


def test_fast_path_with_constants_and_several_outputs():
    c = np.arange(3, dtype=np.float32)
    f = llax.jit(lambda a: {"sum": a + c, "pair": (a * 2, jnp.sum(a))})
    x = jnp.arange(3.0)
    for _ in range(3):  # the first call compiles; later ones take the fast path
        out = f(x)
        np.testing.assert_array_equal(out["sum"], np.arange(3.0) + c)
        np.testing.assert_array_equal(out["pair"][0], np.arange(3.0) * 2)
        assert float(out["pair"][1]) == 3.0
    assert f._fast, "the fast path was not installed"


def test_eval_shape_matches_jax_without_running():
    def f(x, w):
        return {"y": jnp.tanh(x @ w), "n": jnp.sum(x, axis=0)}

    x = np.ones((4, 3), np.float32)
    w = np.ones((3, 5), np.float32)
    ours = llax.eval_shape(f, x, w)
    theirs = jax.eval_shape(lambda x, w: {"y": jnp_ref.tanh(x @ w),
                                          "n": jnp_ref.sum(x, axis=0)}, x, w)
    for key in ("y", "n"):
        assert ours[key].shape == theirs[key].shape
        assert ours[key].dtype == theirs[key].dtype


def test_jaxpr_vars_have_avals():
    jaxpr = llax.make_jaxpr(lambda x: x * 2.0)(np.ones(2, np.float32))
    eqn = jaxpr.eqns[0]
    assert [v.aval.shape for v in eqn.invars] == [(2,), ()]
    assert eqn.outvars[0].aval.dtype == np.float32


def test_static_args_must_name_parameters():
    with pytest.raises(ValueError, match="only accepts 1 positional"):
        llax.jit(lambda x: x, static_argnums=3)
    with pytest.raises(ValueError, match="invalid argnames"):
        llax.jit(lambda x: x, static_argnames="y")


def test_lowered_compile_is_callable():
    x = jnp.ones(3)
    compiled = llax.jit(lambda a: jnp.sin(a) * 2).lower(x).compile()
    np.testing.assert_allclose(compiled(x), np.sin(np.ones(3)) * 2, rtol=1e-6)
    assert "define" in compiled.as_text()
    with pytest.raises(TypeError, match="signature"):
        compiled(jnp.ones(4))


def test_error_classes_match_jax():
    with pytest.raises(llax.errors.TracerBoolConversionError):
        llax.jit(lambda x: x if x > 0 else -x)(10)
    with pytest.raises(llax.errors.TracerArrayConversionError):
        llax.jit(lambda x: np.asarray(x))(1.0)
    leak = []
    llax.jit(lambda x: leak.append(x) or x)(1.0)
    with pytest.raises(llax.errors.UnexpectedTracerError):
        leak[0] + 1


def test_fast_path_for_pytree_arguments_checks_the_structure() -> None:
    # After the first call, calls with the same structure take a generated fast path; any
    # other structure, or a leaf that is not an Array, must still get the right answer.
    import llax.numpy as lnp
    from llax.frontend.tree_codegen import builder, matcher
    from llax.tree_util import tree_flatten

    calls = []

    def f(p, x):
        calls.append(1)
        return {"s": sum(p[k] for k in sorted(p)) * x, "n": (x + 1,)}

    g = llax.jit(f)
    x = lnp.arange(3.0)
    p = {"a": lnp.asarray(1.0), "b": lnp.asarray(2.0)}
    for _ in range(3):
        out = g(p, x)
        np.testing.assert_allclose(np.asarray(out["s"]), 3.0 * np.arange(3.0))
        np.testing.assert_allclose(np.asarray(out["n"][0]), np.arange(3.0) + 1)
    assert len(calls) == 1
    variants = [({"a": lnp.asarray(1.0), "c": lnp.asarray(2.0)}, 3.0),
                ({"a": lnp.asarray(1.0), "b": lnp.asarray(2.0), "c": lnp.asarray(4.0)}, 7.0),
                ({"a": np.float32(1.0), "b": lnp.asarray(5.0)}, 6.0),
                ({"a": lnp.asarray(1.0), "b": lnp.asarray(2.0)}, 3.0)]
    for q, total in variants:
        np.testing.assert_allclose(np.asarray(g(q, x)["s"]), total * np.arange(3.0))
    # The generated functions themselves.
    tree = ({"w": 1, "b": [2, None]}, (3,))
    leaves, treedef = tree_flatten(tree)
    assert builder(treedef, tuple((False, 1) for _ in leaves)) is not None
    match = matcher(treedef)
    for other in (({"w": 1, "b": (2, None)}, (3,)), ({"w": 1, "c": [2, None]}, (3,)),
                  ({"w": 1, "b": [2, None]}, [3]), ({"w": 1, "b": [2, 0]}, (3,))):
        assert match(other) is None


def test_the_cache_follows_the_x64_flag() -> None:
    # The same jitted function traces anew when x64 changes (as JAX's does), on the fast path
    # (Array arguments) and the slow one (NumPy arguments), and finds its old entry again.
    from llax.config import config

    g = llax.jit(lambda x: jnp.ones(2) * x)
    x = np.int32([1, 2])
    xl = jnp.asarray(x)
    assert g(xl).dtype == g(x).dtype == np.float32
    with config.override("jax_enable_x64", True):
        assert g(jnp.asarray(x)).dtype == g(x).dtype == np.float64
    assert g(xl).dtype == np.float32 and g._cache_size() == 2
