"""Random array programs for the differential fuzzer (tests/test_fuzz.py).

A program is a list of steps ``v3 = jnp.sin(x0)``, one op each, written as Python
source over the names ``jnp`` and ``lax``: the same text runs on llax and on JAX.
Control flow makes steps of several ops: ``lax.cond``/``switch`` between steps of the
other families (judged by the branch taken), and loops (``fori_loop``, ``while_loop``,
``scan``) whose bodies use bit-exact ops only, so that their results are judged exactly
however many iterations run; a loop's carries and ys are one step each.
Every step records the error model its result is judged by (``Check``). Types are
inferred by JAX (``jax.eval_shape`` of the step), so the program model always
follows JAX's semantics and a step JAX rejects is simply drawn again.

Inputs are created on demand: when a step wants an operand of a shape or dtype
that no earlier value has, a new parameter is drawn for it. Input values cover
the whole range: small integers, moderate floats, huge magnitudes, +-0, +-inf,
NaN, subnormals, and indices out of range or negative.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import jax
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

Shape = tuple[int, ...]

# Values no program may exceed (elements per array), so that a run stays fast.
MAX_ELEMENTS = 4096
F32_MAX = float(np.finfo(np.float32).max)
I32_MIN, I32_MAX = -(2**31), 2**31 - 1


@dataclass(frozen=True)
class Var:
    """A value of a program: a parameter ``x<i>`` or a step result ``v<i>``."""

    name: str
    shape: Shape
    dtype: np.dtype

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class Check:
    """How a step's result is judged.

    ``kind``: "exact" (bit for bit; NaNs equal whatever their payload); "ulp" (an
    approximated function: within LLAX_ULPS of the float64 result for llax, ``ulps`` for
    JAX (``ulps64`` for float64 results, if given); ulps of the largest operand if
    ``of_operands``); "accum" (a sum of ``terms``
    rounded terms: within gamma * sum of magnitudes of the exact float64 result,
    gamma from ``order``: "pairwise" (ceil(log2 n) + 1) eps or "linear" (n + 1) eps;
    ``per_term`` scales the overflow threshold for a mean); "prod" (a product of
    ``terms`` factors, n eps relative).
    ``zero_sign``: the sign of a zero result is part of the answer (``jax_zero_sign``:
    in JAX's too; not where XLA folds ``x + 0.0`` to ``x``).
    ``jax``: False when JAX's result is not comparable (it folds ``x / x`` to 1).
    ``indices``: operands that are indices (not data) for a sum's float64 envelope.
    ``divisor``: the op is a float division by this operand ("" for a literal). XLA
    computes ``a / broadcast(b)`` as ``a * broadcast(1 / b)``: JAX's quotient may be 2 ulp
    off, and 0 where 1 / b is subnormal (flushed).
    ``jax_selects``: a product with a bool factor, which XLA computes as a select: JAX's
    NaN or inf times False is 0 (IEEE: NaN), so where the result is NaN, JAX's may be any.
    """

    kind: str = "exact"
    ulps: int = 0
    ulps64: int | None = None
    of_operands: bool = False
    terms: int = 1
    order: str = "linear"
    per_term: bool = False
    zero_sign: bool = True
    jax: bool = True
    reduction: bool = False
    divisor: str | None = None
    indices: tuple[str, ...] = ()
    jax_zero_sign: bool = True
    jax_selects: bool = False


EXACT = Check()


@dataclass(frozen=True)
class Step:
    """``out = expr``, judged by ``check``.

    ``whole``: a step may be one element of a tuple-valued expression (a loop with several
    carries): ``expr`` is then ``(whole)[index]``, and the program computes ``whole`` once
    for all its elements (consecutive steps, ``index`` 0, 1, ...).
    ``branches``: a ``lax.cond``/``switch``, each branch as a step of its own (out: this
    step's out); ``selector`` is the expression of its predicate (``kind`` "cond") or index
    ("switch"). The result is judged by the branch the operands select (see ``taken``).
    """

    out: Var
    expr: str
    operands: tuple[str, ...]
    check: Check
    whole: str = ""
    index: int = 0
    branches: tuple[Step, ...] = ()
    selector: str = ""
    kind: str = ""


@dataclass
class Program:
    """Inputs (with their values) and steps; ``source()`` is runnable Python."""

    name: str
    x64: bool
    inputs: list[tuple[Var, np.ndarray]] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)

    @property
    def params(self) -> list[str]:
        return [v.name for v, _ in self.inputs]

    def sinks(self) -> list[Step]:
        """Steps whose result no later step reads (the outputs of the fused form)."""
        used = {o for s in self.steps for o in s.operands}
        return [s for s in self.steps if s.out.name not in used]

    def statements(self) -> list[tuple[list[str], str, bool]]:
        """(names, expression, is a tuple) per statement: one per step or tuple of parts."""
        out: list[tuple[list[str], str, bool]] = []
        for s in self.steps:
            if s.whole and s.index > 0:
                out[-1][0].append(s.out.name)
            else:
                out.append(([s.out.name], s.whole or s.expr, bool(s.whole)))
        return out

    def source(self) -> str:
        """The program as a function of jnp, lax and its inputs, returning every value."""
        lines = [f"def {self.name}(jnp, lax, {', '.join(self.params)}):"]
        lines += [f"    {', '.join(names)}{',' if many else ''} = {expr}"
                  for names, expr, many in self.statements()]
        lines.append(f"    return ({''.join(s.out.name + ', ' for s in self.steps)})")
        return "\n".join(lines)

    def local_source(self) -> str:
        """Each step applied to given operands: ``(jnp, lax, *inputs, *values) -> results``.

        The steps are independent here, so every op is judged on exactly the operands
        that the compiled program gave it, and no error carries from one op to the next.
        """
        names = self.params + [s.out.name for s in self.steps]
        lines = [f"def {self.name}_local(jnp, lax, {', '.join(names)}):"]
        results = "".join(f"{'*' if many else ''}{expr}, "
                          for _, expr, many in self.statements())
        lines.append(f"    return ({results})")
        return "\n".join(lines)

    def inputs_source(self) -> str:
        return "\n".join(f"{v.name} = {array_source(a)}" for v, a in self.inputs)

    def __repr__(self) -> str:
        mode = "  # with jax_enable_x64" if self.x64 else ""
        return f"\n{self.inputs_source()}\n{self.source()}{mode}\n"

    def _repr_pretty_(self, printer, cycle: bool) -> None:  # how hypothesis prints it
        printer.text(repr(self))


def array_source(a: np.ndarray) -> str:
    """Python text that rebuilds ``a`` exactly (with ``from numpy import inf, nan``)."""
    body = np.array2string(np.asarray(a), separator=", ", threshold=1 << 30,
                           floatmode="unique", max_line_width=1 << 30)
    return f"np.array({body}, dtype=np.{a.dtype.name}).reshape({a.shape})"


def compile_source(src: str) -> Callable:
    namespace: dict = {"inf": math.inf, "nan": math.nan}
    exec(compile(src, "<fuzz program>", "exec"), namespace)  # noqa: S102 - our own generated text
    return next(v for k, v in namespace.items() if callable(v))


# ----------------------------------------------------------------------------------------
# Type inference through JAX.

class Rejected(Exception):
    """JAX refuses the step (bad axis, static index out of range, ...): draw another."""


@functools.lru_cache(maxsize=50_000)
def _infer(expr: str, operands: tuple[tuple[str, Shape, str], ...], x64: bool
           ) -> tuple[bool, tuple[tuple[Shape, str], ...]] | None:
    """(is a tuple, (shape, dtype) of each array) of ``expr``'s value; None if JAX rejects
    it or it is neither an array nor a flat tuple of arrays."""
    fn = eval(f"lambda {', '.join(n for n, _, _ in operands)}: {expr}",  # noqa: S307
              {"jnp": jax.numpy, "lax": jax.lax, "np": np, "inf": math.inf, "nan": math.nan})
    args = [jax.ShapeDtypeStruct(s, np.dtype(d)) for _, s, d in operands]
    try:
        with jax.enable_x64(x64):
            out = jax.eval_shape(fn, *args)
    except (TypeError, ValueError, IndexError, NotImplementedError, OverflowError):
        return None
    many = isinstance(out, tuple)
    leaves = out if many else (out,)
    if not all(isinstance(v, jax.ShapeDtypeStruct) for v in leaves):
        return None
    return many, tuple((tuple(v.shape), str(v.dtype)) for v in leaves)


def infer_all(expr: str, operands: Sequence[Var], x64: bool, many: bool = False
              ) -> list[tuple[Shape, np.dtype]]:
    """The type of ``expr``'s value (``many``: of each element of the tuple it is)."""
    unique = {v.name: v for v in operands}.values()
    got = _infer(expr, tuple((v.name, v.shape, v.dtype.name) for v in unique), x64)
    if got is None or got[0] != many or any(math.prod(s) > MAX_ELEMENTS for s, _ in got[1]):
        raise Rejected(expr)
    return [(s, np.dtype(d)) for s, d in got[1]]


def infer(expr: str, operands: Sequence[Var], x64: bool) -> tuple[Shape, np.dtype]:
    return infer_all(expr, operands, x64)[0]


# ----------------------------------------------------------------------------------------
# Input values.

_FLOAT_SPECIALS = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, math.inf, -math.inf, math.nan,
                   1e30, -1e30, F32_MAX, -F32_MAX, 1.1754944e-38, 1e-45, -3e-39, 2.0**24,
                   2.0**24 + 2, 16777217.0, 1e5, 6e5, -1e10, 0.1, 88.7, -104.0, 1e-7]
_INT_SPECIALS = [I32_MIN, I32_MAX, I32_MIN + 1, -1, 31, 32, 33, 2**24 + 1, 65536, -65536]


def float_elements(width: int) -> st.SearchStrategy[float]:
    return st.one_of(st.integers(-8, 8).map(float),
                     st.floats(-100, 100, width=width),
                     st.sampled_from(_FLOAT_SPECIALS),
                     st.floats(width=width))


def int_elements() -> st.SearchStrategy[int]:
    return st.one_of(st.integers(-8, 8), st.sampled_from(_INT_SPECIALS),
                     st.integers(I32_MIN, I32_MAX))


def index_elements(n: int, dtype: np.dtype) -> st.SearchStrategy[int]:
    """Indices into an axis of length n: mostly in range, some negative or out of range."""
    info = np.iinfo(dtype)
    lo = max(-n - 2, int(info.min))
    return st.one_of(st.integers(lo, n + 1),
                     st.sampled_from([int(info.min), int(info.max)]))


def elements_for(dtype: np.dtype) -> st.SearchStrategy:
    if dtype == np.bool_:
        return st.booleans()
    if dtype.kind == "f":
        return float_elements(dtype.itemsize * 8)
    if dtype.kind == "u":
        return st.one_of(st.integers(0, 8), st.integers(0, int(np.iinfo(dtype).max)))
    return int_elements()


def array_of(shape: Shape, dtype: np.dtype, elements: st.SearchStrategy | None = None):
    return hnp.arrays(dtype, shape,
                      elements=elements if elements is not None else elements_for(dtype))


# ----------------------------------------------------------------------------------------
# Shapes.

_DIMS = [1, 2, 3, 0, 1, 2, 3, 4, 5, 7]  # (the first is drawn most often)


@st.composite
def shapes(draw, min_rank: int = 0, max_rank: int = 4, long_axis: bool = False) -> Shape:
    rank = draw(st.integers(min_rank, max_rank))
    dims = [draw(st.sampled_from(_DIMS)) for _ in range(rank)]
    if long_axis and rank and draw(st.integers(0, 15)) == 0:
        # Now and then one long axis, so reductions see thousands of terms.
        dims[draw(st.integers(0, rank - 1))] = draw(st.integers(100, 3000))
        if math.prod(dims) > MAX_ELEMENTS:
            dims = [d if d >= 100 else 1 for d in dims]
    return tuple(dims)


def broadcast_variant(draw, shape: Shape) -> Shape:
    """A shape that broadcasts against ``shape``: some axes 1, some leading axes dropped."""
    drop = draw(st.integers(0, len(shape)))
    return tuple(d if draw(st.booleans()) else 1 for d in shape[drop:])


# ----------------------------------------------------------------------------------------
# The builder: a pool of values and the ops that extend it.

FLOATS = ("float32", "float64")
INTS = ("int32", "int64", "uint32")


def is_float(v: Var) -> bool:
    return v.dtype.kind == "f"


def is_int(v: Var) -> bool:
    return v.dtype.kind in "iu"


def is_bool(v: Var) -> bool:
    return v.dtype == np.bool_


@dataclass
class Options:
    """What a run may generate."""

    x64: bool = False
    uint32_indices: bool = True   # uint32 index arrays, up to 4e9
    long_axis: bool = True
    control_flow: int = 1         # how often conds and loops are drawn (0: never)


class Builder:
    def __init__(self, draw, name: str, options: Options) -> None:
        self.draw = draw
        self.opts = options
        self.program = Program(name, options.x64)
        self.pool: list[Var] = []
        self.counter = 0
        self.float_dtype = np.dtype("float64" if options.x64 else "float32")
        self.rotation = draw(st.integers(0, 2**16))
        self.focus: Shape | None = None  # the shape operands take unless told (see branching)

    # -- values -----------------------------------------------------------------------
    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter - 1}"

    def new_input(self, shape: Shape, dtype: np.dtype, elements=None) -> Var:
        var = Var(self.fresh("x"), tuple(shape), np.dtype(dtype))
        value = self.draw(array_of(var.shape, var.dtype, elements))
        self.program.inputs.append((var, value))
        self.pool.append(var)
        return var

    def data_dtype(self) -> np.dtype:
        d = self.draw
        choice = d(st.sampled_from(["float", "float", "float", "int32", "bool"]))
        if choice == "float":
            if self.opts.x64 and d(st.booleans()):
                return np.dtype("float64")
            return np.dtype("float32")
        return np.dtype(choice)

    def shape(self, **kw) -> Shape:
        return self.draw(shapes(long_axis=self.opts.long_axis, **kw))

    def operand(self, pred: Callable[[Var], bool] = lambda v: True,
                dtype: np.dtype | None = None, shape: Shape | None = None,
                min_rank: int = 0) -> Var:
        """An existing value satisfying ``pred`` (mostly), else a new input."""
        d = self.draw
        if shape is None and self.focus is not None and len(self.focus) >= min_rank:
            shape = self.focus
        cands = [v for v in self.pool
                 if pred(v) and len(v.shape) >= min_rank and (shape is None or v.shape == shape)
                 and (dtype is None or v.dtype == dtype)]
        if cands and d(st.integers(0, 3)) > 0:
            return d(st.sampled_from(cands[::-1]))  # the latest first: chains of ops
        if dtype is None:
            for _ in range(8):
                dtype = self.data_dtype()
                if pred(Var("probe", (), dtype)):
                    break
            else:
                dtype = self.float_dtype
        return self.new_input(shape if shape is not None else self.shape(min_rank=min_rank),
                              dtype)

    def pick(self, options: Sequence):
        """One of ``options``. Hypothesis favours the first of a list; a per-program
        rotation spreads that favour over all of them."""
        options = list(options)
        return options[(self.draw(st.integers(0, len(options) - 1)) + self.rotation)
                       % len(options)]

    def is_index(self, v: Var) -> bool:
        """Can ``v`` serve as an index array?"""
        return is_int(v) and (v.dtype != np.uint32 or self.opts.uint32_indices)

    def index_input(self, shape: Shape, n: int, unique: bool = False) -> Var:
        """An integer index array into an axis of length n."""
        d = self.draw
        dtype = np.dtype("int32")
        if self.opts.uint32_indices and d(st.integers(0, 7)) == 0:
            dtype = np.dtype("uint32")
        elems = index_elements(n, dtype)
        if not unique:
            return self.new_input(shape, dtype, elems)
        # Distinct positions after wrapping negatives (out-of-range ones are dropped).
        size = math.prod(shape)
        key = (lambda i: i % n if -n <= i < n else i) if n else (lambda i: i)
        values = d(st.lists(elems, min_size=size, max_size=size, unique_by=key))
        var = Var(self.fresh("x"), shape, dtype)
        self.program.inputs.append((var, np.array(values, dtype=dtype).reshape(shape)))
        self.pool.append(var)
        return var

    def literal(self, dtype: np.dtype) -> str:
        d = self.draw
        if dtype == np.bool_:
            return repr(d(st.booleans()))
        if dtype.kind in "iu":
            return repr(d(st.sampled_from([0, 1, -1, 2, 3, -7, 31, 100])))
        return d(st.sampled_from(["0.0", "-0.0", "1.0", "-1.5", "2.0", "0.5", "1e30",
                                  "inf", "-inf", "nan", "3"]))

    # -- steps ------------------------------------------------------------------------
    def add(self, expr: str, operands: Sequence[Var], check: Check = EXACT, **kw) -> Var:
        shape, dtype = infer(expr, operands, self.opts.x64)
        var = Var(self.fresh("v"), shape, dtype)
        self.program.steps.append(Step(var, expr, tuple(o.name for o in operands), check, **kw))
        self.pool.append(var)
        return var

    def detached(self, family: Callable[[Builder], Var]) -> Step:
        """The step ``family`` draws, taken out of the program (to be a branch of a cond);
        the inputs it made stay."""
        family(self)
        step = self.program.steps.pop()
        self.pool.remove(step.out)
        return step

    def add_parts(self, expr: str, operands: Sequence[Var], check: Check = EXACT) -> Var:
        """Steps for each element of the tuple ``expr``, computed once; returns the last."""
        names = tuple(o.name for o in operands)
        for k, (shape, dtype) in enumerate(infer_all(expr, operands, self.opts.x64, True)):
            var = Var(self.fresh("v"), shape, dtype)
            self.program.steps.append(Step(var, f"({expr})[{k}]", names, check, expr, k))
            self.pool.append(var)
        return var


# ----------------------------------------------------------------------------------------
# The op catalogue. Each family draws its operands and parameters and adds one step.

# Correctly rounded (or exact) everywhere: results must agree bit for bit.
UNARY_EXACT = ["jnp.negative", "jnp.abs", "jnp.floor", "jnp.ceil", "jnp.round", "jnp.trunc",
               "jnp.sign", "jnp.sqrt", "jnp.square", "jnp.reciprocal", "jnp.rint",
               "jnp.signbit", "jnp.isnan", "jnp.isinf", "jnp.isfinite", "jnp.logical_not",
               "lax.neg", "lax.abs", "lax.sqrt", "lax.floor", "lax.is_finite"]
# Approximated functions: the ulps from the float64 result that JAX (XLA's CPU code) is
# allowed, about 1.5x the worst error measured on 700,000 float32 arguments (random bit
# patterns, [-100, 100] and [-1, 1]). llax (native and reference) is held to LLAX_ULPS
# everywhere (its worst measured error is 2 ulp natively, 4 for NumPy's float32 log2).
LLAX_ULPS = 4  # (+1 for float64 results: their NumPy reference is itself ~1 ulp off)
UNARY_ULP = {"jnp.exp": 8, "jnp.exp2": 96, "jnp.log": 4, "jnp.log2": 4, "jnp.log10": 4,
             "jnp.log1p": 4, "jnp.expm1": 8, "jnp.sin": 4, "jnp.cos": 4, "jnp.tan": 4,
             "jnp.tanh": 8, "jnp.sinh": 36, "jnp.cosh": 36, "jnp.arcsin": 4, "jnp.arccos": 4,
             "jnp.arctan": 4, "jnp.arcsinh": 6, "jnp.arccosh": 6, "jnp.arctanh": 6,
             "jnp.cbrt": 4, "lax.logistic": 4, "lax.erf": 8, "lax.erfc": 96, "lax.erf_inv": 96,
             "lax.rsqrt": 4, "lax.exp": 8, "lax.log": 4, "lax.sin": 4, "lax.cos": 4,
             "lax.tanh": 8}
# XLA's float64 functions that need more (measured the same way, float64 arguments).
JAX_ULPS_F64 = {"jnp.exp2": 900, "jnp.log1p": 192, "jnp.sinh": 720, "jnp.cosh": 720,
                "jnp.arctanh": 192, "lax.erfc": 760, "lax.erf_inv": 225, "jnp.tanh": 12,
                "lax.tanh": 12}
LAX_FLOAT_ONLY = ("lax.",)

BINARY_EXACT = ["jnp.add", "jnp.subtract", "jnp.multiply", "jnp.divide", "jnp.maximum",
                "jnp.minimum", "jnp.fmax", "jnp.fmin", "jnp.floor_divide", "jnp.remainder",
                "jnp.fmod", "jnp.copysign", "jnp.nextafter", "jnp.heaviside",
                "jnp.equal", "jnp.not_equal", "jnp.less", "jnp.less_equal", "jnp.greater",
                "jnp.greater_equal", "jnp.logical_and", "jnp.logical_or", "jnp.logical_xor"]
BINARY_INT = ["jnp.bitwise_and", "jnp.bitwise_or", "jnp.bitwise_xor", "jnp.left_shift",
              "jnp.right_shift"]
BINARY_ULP = {"jnp.power": 4, "jnp.arctan2": 4, "jnp.hypot": 4, "jnp.logaddexp": 4}
# max(x, y) + log1p(exp(-|x - y|)) cancels when the result is near 0: its error is a few
# ulp of the operands, not of the result.
SCALED_BY_OPERANDS = {"jnp.logaddexp"}
# Ops with an operand order that may make the sign of zero unspecified.
ZERO_SIGN_FREE = {"jnp.maximum", "jnp.minimum", "jnp.fmax", "jnp.fmin", "lax.max", "lax.min",
                  "jnp.clip"}
DIVISIONS = {"jnp.divide", "jnp.floor_divide", "jnp.remainder", "jnp.fmod"}


def _pair(b: Builder, a: Var, *, same_dtype: bool = False) -> tuple[str, list[Var]]:
    """A second operand for a binary op on ``a``: a value, a broadcastable one, or a literal."""
    d = b.draw
    how = b.pick(["same", "broadcast", "scalar", "literal", "other"])
    if how == "literal":
        return b.literal(a.dtype), []
    if how == "same":
        other = b.operand(dtype=a.dtype if same_dtype else None, shape=a.shape)
    elif how == "scalar":
        other = b.operand(dtype=a.dtype if same_dtype else None, shape=())
    elif how == "broadcast":
        other = b.operand(dtype=a.dtype if same_dtype else None,
                          shape=broadcast_variant(d, a.shape))
    else:
        other = b.operand(dtype=a.dtype) if same_dtype else b.operand()
    return other.name, [other]


def unary(b: Builder) -> Var:
    d = b.draw
    if d(st.booleans()):
        fn = b.pick(UNARY_EXACT)
        a = b.operand(is_float if fn.startswith("lax.") else (lambda v: True))
        return b.add(f"{fn}({a.name})", [a])
    fn = b.pick(sorted(UNARY_ULP))
    a = b.operand(is_float if fn.startswith("lax.") else (lambda v: not is_bool(v)))
    return b.add(f"{fn}({a.name})", [a], Check("ulp", UNARY_ULP[fn],
                                              ulps64=JAX_ULPS_F64.get(fn, UNARY_ULP[fn])))


def binary(b: Builder) -> Var:
    d = b.draw
    kind = b.pick(["exact", "exact", "int", "ulp", "lax"])
    a = b.operand(is_int if kind == "int" else (lambda v: True))
    if kind == "lax":  # lax ops: equal dtypes, equal shapes or scalar
        fn = b.pick(["lax.add", "lax.sub", "lax.mul", "lax.div", "lax.max", "lax.min",
                                "lax.rem", "lax.eq", "lax.lt", "lax.pow", "lax.atan2",
                                "lax.shift_right_logical", "lax.shift_left",
                                "lax.shift_right_arithmetic", "lax.nextafter"])
        other = b.operand(dtype=a.dtype, shape=b.pick([a.shape, ()]))
        check = Check("ulp", 4) if fn in ("lax.pow", "lax.atan2") else Check(
            zero_sign=fn not in ZERO_SIGN_FREE, jax=not (fn in ("lax.div", "lax.rem")
                                                          and other is a),
            divisor=other.name if fn == "lax.div" else None)
        return b.add(f"{fn}({a.name}, {other.name})", [a, other], check)
    if kind == "ulp":
        fn = b.pick(sorted(BINARY_ULP))
        check = Check("ulp", BINARY_ULP[fn], of_operands=fn in SCALED_BY_OPERANDS)
    else:
        fn = b.pick(BINARY_INT if kind == "int" else BINARY_EXACT)
        check = None
    text, others = _pair(b, a, same_dtype=kind == "int")
    args = [a.name, text]
    if d(st.booleans()):
        args.reverse()
    if check is None:
        self_div = fn in DIVISIONS and others == [a]
        divisor = None
        if fn == "jnp.divide":
            divisor = args[1] if args[1] in (a.name, *(o.name for o in others)) else ""
        # XLA folds x + 0 to x: JAX's -0.0 + 0.0 is -0.0 (IEEE: +0.0); and a product with a
        # bool to a select: JAX's False * -3.0 is +0.0 (IEEE: -0.0).
        folds = (fn in ("jnp.add", "jnp.subtract") and text in ("0.0", "-0.0")
                 or fn == "jnp.multiply" and any(is_bool(v) for v in (a, *others)))
        check = Check(zero_sign=fn not in ZERO_SIGN_FREE, jax=not self_div, divisor=divisor,
                      jax_zero_sign=not folds, jax_selects=folds and fn == "jnp.multiply")
    return b.add(f"{fn}({', '.join(args)})", [a, *others], check)


def where(b: Builder) -> Var:
    d = b.draw
    a = b.operand()
    if d(st.booleans()):  # lax.select: a boolean predicate of the same shape (or scalar)
        pred = b.operand(is_bool, shape=b.pick([a.shape, ()]))
        other = b.operand(dtype=a.dtype, shape=a.shape)
        return b.add(f"lax.select({pred.name}, {a.name}, {other.name})", [pred, a, other])
    cond = b.operand(shape=broadcast_variant(d, a.shape))
    text, others = _pair(b, a)
    return b.add(f"jnp.where({cond.name}, {a.name}, {text})", [cond, a, *others])


def clip(b: Builder) -> Var:
    a = b.operand(lambda v: not is_bool(v))
    lo, hi = b.literal(a.dtype), b.literal(a.dtype)
    return b.add(f"jnp.clip({a.name}, {lo}, {hi})", [a], Check(zero_sign=False))


def cast(b: Builder) -> Var:
    d = b.draw
    a = b.operand()
    targets = ["jnp.float32", "jnp.int32", "jnp.bool_", "jnp.uint32"]
    if b.opts.x64:
        targets += ["jnp.float64", "jnp.int64"]
    to = b.pick(targets)
    if d(st.booleans()):
        return b.add(f"{a.name}.astype({to})", [a])
    return b.add(f"lax.convert_element_type({a.name}, {to})", [a])


def _axes(b: Builder, rank: int) -> str:
    """An ``axis=`` argument: None, one axis (maybe negative) or a tuple of axes."""
    d = b.draw
    how = b.pick(["none", "one", "tuple"])
    if how == "none" or rank == 0:
        return "None"
    if how == "one":
        ax = d(st.integers(0, rank - 1))
        return str(ax - rank if d(st.booleans()) else ax)
    axes = d(st.lists(st.integers(0, rank - 1), unique=True, max_size=rank))
    return "(" + "".join(f"{a}, " for a in sorted(axes)) + ")"


def _reduced_count(shape: Shape, axis: str) -> int:
    axes = eval(axis)  # noqa: S307 - our own text
    if axes is None:
        return math.prod(shape)
    axes = (axes,) if isinstance(axes, int) else axes
    return math.prod(shape[a] for a in axes)


def reduction(b: Builder) -> Var:
    d = b.draw
    fn = b.pick(["sum", "sum", "max", "min", "prod", "mean", "argmax", "argmin",
                            "any", "all"])
    a = b.operand(lambda v: not is_bool(v) or fn in ("sum", "any", "all", "max", "min"))
    rank = len(a.shape)
    if fn in ("argmax", "argmin"):
        axis = "None" if rank == 0 or d(st.booleans()) else str(d(st.integers(-rank, rank - 1)))
    else:
        axis = _axes(b, rank)
    keep = ", keepdims=True" if d(st.integers(0, 3)) == 0 else ""
    expr = f"jnp.{fn}({a.name}, axis={axis}{keep})"
    n = _reduced_count(a.shape, axis)
    if fn in ("sum", "mean") and (is_float(a) or fn == "mean"):
        check = Check("accum", terms=n, order="pairwise", per_term=fn == "mean",
                      reduction=True)
    elif fn == "prod" and is_float(a):
        check = Check("prod", terms=n, reduction=True)
    else:  # (which of +0 and -0 is the max or min is not specified)
        check = Check(reduction=True, zero_sign=fn not in ("max", "min"))
    return b.add(expr, [a], check)


def reshape(b: Builder) -> Var:
    d = b.draw
    a = b.operand()
    dims, rest = [], a.size
    for _ in range(d(st.integers(0, 4))):
        divisors = [k for k in range(1, 8) if rest % k == 0] if rest else [0, 1, 2, 3]
        k = b.pick(divisors)
        dims.append(k)
        rest = rest // k if k else rest
    dims.append(rest)
    if a.size and d(st.booleans()):
        dims[d(st.integers(0, len(dims) - 1))] = -1
    order = d(st.permutations(dims))
    return b.add(f"jnp.reshape({a.name}, {tuple(order)})", [a])


def transpose(b: Builder) -> Var:
    a = b.operand(min_rank=1)
    perm = b.draw(st.permutations(range(len(a.shape))))
    fn = b.draw(st.sampled_from(["jnp.transpose", "lax.transpose"]))
    return b.add(f"{fn}({a.name}, {tuple(perm)})", [a])


def broadcast(b: Builder) -> Var:
    d = b.draw
    a = b.operand()
    extra = d(shapes(max_rank=2))
    target = extra + a.shape
    if d(st.booleans()):
        return b.add(f"jnp.broadcast_to({a.name}, {target})", [a])
    # broadcast_in_dim: a's axes go to increasing positions; its size-1 axes may grow.
    rank = len(target)
    dims = sorted(d(st.permutations(range(rank)))[:len(a.shape)])
    out = [b.pick([1, 2, 3]) for _ in range(rank)]
    for src, dst in zip(a.shape, dims):
        out[dst] = src if src != 1 else b.pick([1, 2, 3])
    return b.add(f"lax.broadcast_in_dim({a.name}, {tuple(out)}, {tuple(dims)})", [a])


def _slice_text(b: Builder, n: int) -> str:
    d = b.draw
    start = d(st.one_of(st.none(), st.integers(-n - 2, n + 2)))
    stop = d(st.one_of(st.none(), st.integers(-n - 2, n + 2)))
    step = b.pick([None, None, 1, 2, 3, -1, -2])
    text = "" if start is None else str(start)
    text += ":" + ("" if stop is None else str(stop))
    return text + ("" if step is None else f":{step}")


def slicing(b: Builder) -> Var:
    d = b.draw
    a = b.operand(min_rank=1)
    how = b.pick(["basic", "lax", "int", "newaxis", "ellipsis"])
    if how == "lax":
        start = [d(st.integers(0, n)) for n in a.shape]
        limit = [d(st.integers(s, n)) for s, n in zip(start, a.shape)]
        strides = [d(st.integers(1, 3)) for _ in a.shape]
        return b.add(f"lax.slice({a.name}, {tuple(start)}, {tuple(limit)}, {tuple(strides)})",
                     [a])
    items = []
    for n in a.shape[:d(st.integers(1, len(a.shape)))]:
        if how == "int" and n and d(st.booleans()):
            items.append(str(d(st.integers(-n, n - 1))))
        else:
            items.append(_slice_text(b, n))
    if how == "newaxis":
        items.insert(d(st.integers(0, len(items))), "None")
    if how == "ellipsis":
        items.insert(d(st.integers(0, len(items))), "...")
    return b.add(f"{a.name}[{', '.join(items)}]", [a])


def squeeze_expand(b: Builder) -> Var:
    d = b.draw
    a = b.operand()
    ones = [i for i, n in enumerate(a.shape) if n == 1]
    if ones and d(st.booleans()):
        axes = d(st.lists(st.sampled_from(ones), unique=True, min_size=1))
        return b.add(f"jnp.squeeze({a.name}, axis={tuple(axes)})", [a])
    axis = d(st.integers(-len(a.shape) - 1, len(a.shape)))
    return b.add(f"jnp.expand_dims({a.name}, {axis})", [a])


def concatenate(b: Builder) -> Var:
    d = b.draw
    a = b.operand(min_rank=1)
    axis = d(st.integers(0, len(a.shape) - 1))
    parts = [a]
    for _ in range(d(st.integers(1, 3))):
        shape = list(a.shape)
        shape[axis] = b.pick([0, 1, 2, 3])
        parts.append(b.operand(dtype=a.dtype if d(st.integers(0, 3)) else None,
                               shape=tuple(shape)))
    names = "[" + ", ".join(p.name for p in parts) + "]"
    if d(st.integers(0, 3)) == 0 and all(p.shape == a.shape for p in parts):
        return b.add(f"jnp.stack({names}, axis={axis})", parts)
    return b.add(f"jnp.concatenate({names}, axis={axis})", parts)


def pad(b: Builder) -> Var:
    d = b.draw
    a = b.operand()
    if d(st.booleans()):
        widths = tuple((d(st.integers(0, 2)), d(st.integers(0, 2))) for _ in a.shape)
        value = b.literal(a.dtype)
        return b.add(f"jnp.pad({a.name}, {widths}, constant_values={value})", [a])
    # lax.pad: negative edges crop, interior padding spreads the elements.
    config = tuple((d(st.integers(-2, 2)), d(st.integers(-2, 2)), d(st.integers(0, 2)))
                   for _ in a.shape)
    value = b.operand(dtype=a.dtype, shape=())
    return b.add(f"lax.pad({a.name}, {value.name}, {config})", [a, value])


def rev(b: Builder) -> Var:
    d = b.draw
    a = b.operand(min_rank=1)
    dims = d(st.lists(st.integers(0, len(a.shape) - 1), unique=True, max_size=len(a.shape)))
    if d(st.booleans()):
        return b.add(f"lax.rev({a.name}, {tuple(sorted(dims))})", [a])
    return b.add(f"jnp.flip({a.name}, axis={tuple(dims) if dims else None})", [a])


def gather(b: Builder) -> Var:
    """Integer-array indexing, alone or beside slices, and dynamic index ops."""
    d = b.draw
    a = b.operand(min_rank=1)
    how = b.pick(["first", "second", "two", "mixed", "dynamic", "scalar"])
    n = a.shape[0]
    if how == "dynamic" or how == "scalar":
        start = b.operand(b.is_index, shape=())
        if how == "scalar":
            return b.add(f"{a.name}[{start.name}]", [a, start])
        axis = d(st.integers(0, len(a.shape) - 1))
        keep = d(st.booleans())
        return b.add(f"lax.dynamic_index_in_dim({a.name}, {start.name}, {axis}, {keep})",
                     [a, start])
    idx_shape = d(shapes(max_rank=2))
    if how == "second" and len(a.shape) >= 2:
        idx = b.index_input(idx_shape, a.shape[1])
        return b.add(f"{a.name}[:, {idx.name}]", [a, idx])
    if how in ("two", "mixed") and len(a.shape) >= 2:
        i0 = b.index_input(idx_shape, n)
        if how == "mixed":
            return b.add(f"{a.name}[{i0.name}, 1:]", [a, i0])
        i1 = b.index_input(broadcast_variant(d, idx_shape), a.shape[1])
        return b.add(f"{a.name}[{i0.name}, {i1.name}]", [a, i0, i1])
    idx = b.operand(b.is_index, shape=idx_shape) if d(st.integers(0, 3)) == 0 else \
        b.index_input(idx_shape, n)
    return b.add(f"{a.name}[{idx.name}]", [a, idx])


def dynamic_slice(b: Builder) -> Var:
    d = b.draw
    a = b.operand(min_rank=1)
    starts = [b.operand(is_int, shape=(), dtype=np.dtype("int32"))
              if d(st.booleans()) else None for _ in a.shape]
    start_text = ", ".join(s.name if s else str(d(st.integers(-3, 5)))
                           for s in starts)
    used = [s for s in starts if s is not None]
    if d(st.booleans()):
        sizes = tuple(d(st.integers(0, n)) for n in a.shape)
        return b.add(f"lax.dynamic_slice({a.name}, ({start_text},), {sizes})", [a, *used])
    upd_shape = tuple(d(st.integers(0, n)) for n in a.shape)
    upd = b.operand(dtype=a.dtype, shape=upd_shape)
    return b.add(f"lax.dynamic_update_slice({a.name}, {upd.name}, ({start_text},))",
                 [a, upd, *used])


def scatter(b: Builder) -> Var:
    """``x.at[...]`` updates: set, add, multiply, min, max."""
    d = b.draw
    a = b.operand(lambda v: not is_bool(v), min_rank=1)
    method = b.pick(["set", "add", "multiply", "min", "max"])
    n = a.shape[0]
    how = b.pick(["array", "array", "int", "slice", "second"])
    unique = method in ("set", "multiply")  # otherwise the result depends on the order
    used = [a]
    if how == "int":
        where_ = str(d(st.integers(-n, n - 1))) if n else "0"
    elif how == "slice":
        where_ = _slice_text(b, n)
    else:
        axis_len = a.shape[1] if how == "second" and len(a.shape) > 1 else n
        idx = b.index_input(d(shapes(max_rank=1 if unique else 2)), axis_len, unique=unique)
        used.append(idx)
        where_ = f":, {idx.name}" if how == "second" and len(a.shape) > 1 else idx.name
    target, _ = infer(f"{a.name}[{where_}]", used, b.opts.x64)
    if d(st.integers(0, 3)) == 0 and not (method == "add" and is_float(a)):
        text, upd = b.literal(a.dtype), []  # (a float sum's error bound needs |update|)
    else:
        shape = target if d(st.integers(0, 2)) else broadcast_variant(d, target)
        upd = [b.operand(dtype=a.dtype if d(st.integers(0, 3)) else None, shape=shape)]
        text = upd[0].name
    expr = f"{a.name}.at[{where_}].{method}({text})"
    check = Check(zero_sign=method not in ("min", "max"))  # (min(+0, -0): either)
    if method == "add" and is_float(a):
        # Each element receives at most one term per index, after its own value.
        terms = used[1].size + 1 if len(used) > 1 else 2
        check = Check("accum", terms=terms, order="linear",
                      indices=tuple(u.name for u in used[1:]))
    return b.add(expr, used + upd, check)


def matmul(b: Builder) -> Var:
    d = b.draw
    how = b.pick(["matmul", "matmul", "dot", "dot_general", "outer", "tensordot"])
    k = b.pick(_DIMS)
    m, n = b.pick(_DIMS), b.pick(_DIMS)
    dtype = b.pick([b.float_dtype, b.float_dtype, b.float_dtype,
                               np.dtype("int32"), np.dtype("bool")])
    if how == "outer":
        x = b.operand(dtype=dtype, shape=d(shapes(max_rank=2)))
        y = b.operand(shape=d(shapes(max_rank=2)))
        return b.add(f"jnp.outer({x.name}, {y.name})", [x, y], _dot_check(x, y, 1))
    if how == "dot_general":
        batch = d(shapes(max_rank=1))
        lhs_shape = batch + (m, k)
        rhs_shape = batch + (k, n)
        lhs_perm = d(st.permutations(range(len(lhs_shape))))
        rhs_perm = d(st.permutations(range(len(rhs_shape))))
        x = b.operand(dtype=dtype, shape=tuple(lhs_shape[p] for p in lhs_perm))
        y = b.operand(dtype=dtype, shape=tuple(rhs_shape[p] for p in rhs_perm))
        nb = len(batch)
        where_l = {orig: pos for pos, orig in enumerate(lhs_perm)}
        where_r = {orig: pos for pos, orig in enumerate(rhs_perm)}
        dims = (((where_l[nb + 1],), (where_r[nb],)),
                (tuple(where_l[i] for i in range(nb)), tuple(where_r[i] for i in range(nb))))
        return b.add(f"lax.dot_general({x.name}, {y.name}, {dims})", [x, y],
                     _dot_check(x, y, k))
    if how == "tensordot":
        x = b.operand(dtype=dtype, shape=(m, k, n))
        y = b.operand(dtype=dtype, shape=(k, n, m))
        return b.add(f"jnp.tensordot({x.name}, {y.name}, axes=2)", [x, y],
                     _dot_check(x, y, k * n))
    batch = d(shapes(max_rank=2))
    lhs = b.pick([(k,), (m, k), batch + (m, k)])
    rhs = b.pick([(k,), (k, n), broadcast_variant(d, batch) + (k, n)])
    x = b.operand(dtype=dtype, shape=lhs)
    y = b.operand(dtype=dtype if d(st.integers(0, 5)) else None, shape=rhs)
    fn = "jnp.matmul" if how == "matmul" else "jnp.dot"
    if how == "matmul" and d(st.booleans()):
        return b.add(f"({x.name} @ {y.name})", [x, y], _dot_check(x, y, k))
    return b.add(f"{fn}({x.name}, {y.name})", [x, y], _dot_check(x, y, k))


def _dot_check(x: Var, y: Var, k: int) -> Check:
    if is_float(x) or is_float(y):
        return Check("accum", terms=k, order="linear", zero_sign=False,
                     jax_selects=is_bool(x) or is_bool(y))
    return EXACT


# ----------------------------------------------------------------------------------------
# Control flow. A cond or switch chooses between steps the builder draws anyway; loops run
# bodies of bit-exact ops only, so that their results are judged exactly.

def _castable(step: Step) -> bool:
    """Can the result be cast and still be judged as the step is? (Not an approximation.)"""
    return step.check.kind == "exact" and step.check.divisor is None


def _jnp_dtype(dtype: np.dtype) -> str:
    return "jnp.bool_" if dtype == np.bool_ else f"jnp.{dtype.name}"


def _one_type(steps: list[Step]) -> list[Step]:
    """The branches with one dtype: exact ones cast to the dtype of the others."""
    fixed = {s.out.dtype for s in steps if not _castable(s)}
    if len(fixed) > 1:
        raise Rejected("branches of different dtypes")
    dtype = fixed.pop() if fixed else steps[0].out.dtype
    return [s if s.out.dtype == dtype else
            replace(s, expr=f"({s.expr}).astype({_jnp_dtype(dtype)})",
                    out=replace(s.out, dtype=dtype))
            for s in steps]


def _selector(b: Builder, switch: bool) -> tuple[str, list[Var]]:
    """A cond's predicate or a switch's index (out of range too), from existing values."""
    d = b.draw
    how = b.pick(["value", "compare", "literal"])
    if how == "literal":
        return str(d(st.integers(-2, 4)) if switch else d(st.booleans())), []
    if how == "compare":
        a = b.operand(lambda v: not is_bool(v))
        if switch:  # how many elements pass a test
            return f"jnp.sum({a.name} > {b.literal(a.dtype)})", [a]
        text, others = _pair(b, a)
        fn = b.pick(["jnp.any", "jnp.all"])
        op = b.pick(["jnp.less", "jnp.equal", "jnp.greater_equal", "jnp.not_equal"])
        return f"{fn}({op}({a.name}, {text}))", [a, *others]
    v = b.operand(is_int if switch else (lambda v: True), shape=())
    return v.name, [v]


def branching(b: Builder) -> Var:
    """``lax.cond(pred, lambda: A, lambda: B)`` or ``lax.switch(index, [...])``: each branch
    a step of another family, of the first one's shape (cast to one dtype if exact)."""
    switch = b.pick([False, True])
    count = b.pick([2, 3, 4]) if switch else 2
    branches = [b.detached(FAMILIES[b.pick(_WEIGHTED)][1])]
    b.focus = branches[0].out.shape
    try:
        while len(branches) < count:
            for _ in range(4):
                step = b.detached(FAMILIES[b.pick(_WEIGHTED)][1])
                if step.out.shape == b.focus:
                    branches.append(step)
                    break
            else:
                raise Rejected("no branch of that shape")
    finally:
        b.focus = None
    branches = _one_type(branches)
    selector, used = _selector(b, switch)
    names = list(dict.fromkeys(n for s in branches for n in s.operands))
    # Branches read the values by closure, or as operands (under the same names).
    passed = names if names and b.pick([False, True]) else []
    params = "".join(" " + n + "," for n in passed)[:-1]
    lambdas = [f"lambda{params}: {s.expr}" for s in branches]
    operands = "".join(f", {n}" for n in passed)
    if switch:
        expr = f"lax.switch({selector}, [{', '.join(lambdas)}]{operands})"
    else:
        expr = f"lax.cond({selector}, {lambdas[0]}, {lambdas[1]}{operands})"
    env = {v.name: v for v in b.pool}
    var = b.add(expr, used + [env[n] for n in names], EXACT, branches=tuple(branches),
                selector=selector, kind="switch" if switch else "cond")
    step = b.program.steps[-1]
    b.program.steps[-1] = replace(step, branches=tuple(replace(s, out=var) for s in branches))
    return var


# Loop carries: the dtypes that bit-exact bodies handle.
def _loop_dtype(b: Builder, v: Var) -> bool:
    return v.dtype.name in ("int32", "uint32", "bool", "int64", b.float_dtype.name) \
        and v.size <= 256


@dataclass
class Body:
    """Draws bit-exact expressions over what a loop body can read: ``names`` (carries,
    slices of xs, program values it closes over: those are ``outer``), ``index`` (a counter
    for in-range dynamic indices ``i % n``). Integers wrap around; floats only go through
    negation, abs, min/max, selection, moves and products with +-2 and 4 (exact, and never
    subnormal from the normal operands JAX sees). ``free_zero``: a float min/max was used,
    so the sign of a zero result is not specified."""

    b: Builder
    names: list[Var]
    index: str | None
    outer: dict[str, Var] = field(default_factory=dict)
    free_zero: bool = False
    level: int = 0

    def _named(self, shape: Shape | None, dtype: np.dtype | None,
               pred: Callable[[Var], bool] = lambda v: True, outer: bool = True
               ) -> Var | None:
        """A local name (or, now and then, a program value) of this type, if there is one."""
        d = self.b.draw
        cands = [v for v in self.names if pred(v) and (shape is None or v.shape == shape)
                 and (dtype is None or v.dtype == dtype)]
        if outer and d(st.integers(0, 3)) == 0:  # a program value, read by closure
            cands = [v for v in self.b.pool if pred(v) and _loop_dtype(self.b, v)
                     and (shape is None or v.shape == shape)
                     and (dtype is None or v.dtype == dtype)] or cands
        if not cands:
            return None
        v = d(st.sampled_from(cands))
        if v in self.b.pool:
            self.outer[v.name] = v
        return v

    def literal(self, dtype: np.dtype) -> str:
        if dtype.kind == "f":
            return self.b.pick(["0.0", "-0.0", "1.0", "-1.5", "3.0", "inf", "-inf", "nan",
                                "1e30"])
        if dtype.kind == "u":
            return str(self.b.pick([0, 1, 2, 7, 100, 4294967295]))
        return self.b.literal(dtype)

    def leaf(self, shape: Shape, dtype: np.dtype) -> str:
        v = self._named(shape, dtype)
        if v is not None:
            return v.name
        scalar = self._named((), dtype)
        if scalar is not None and self.b.draw(st.booleans()):
            return f"jnp.broadcast_to({scalar.name}, {shape})"
        return f"jnp.full({shape}, {self.literal(dtype)}, {_jnp_dtype(dtype)})"

    def index_of(self, n: int, update: bool = True) -> str:
        """An index into an axis of length n > 0: in range from the counter, or a value (out
        of range or negative too), or a literal (out of range only for an update: JAX
        rejects a constant index past the end of a read)."""
        d = self.b.draw
        how = self.b.pick(["counter", "counter", "value", "literal"])
        if how == "counter" and self.index:
            return f"{self.index} % {n}"
        v = self._named((), None, lambda v: v.dtype.name in ("int32", "int64"))
        if how == "value" and v is not None:
            return v.name
        return str(d(st.integers(-n - update, n - 1 + update)))

    def predicate(self, shape: Shape, scalar: bool = True) -> str:
        """A bool array of ``shape`` (or, if ``scalar``, a scalar bool): a comparison."""
        d = self.b.draw
        shapes_ = (shape, ()) if scalar else (shape,)
        v = self._named(None, None, lambda v: v.shape in shapes_ and not is_bool(v))
        if v is None:
            return self.leaf(shape, np.dtype(bool))
        op = self.b.pick(["<", ">=", "==", "!="])
        other = self.literal(v.dtype) if d(st.booleans()) else self.leaf(v.shape, v.dtype)
        return f"({v.name} {op} {other})"

    def value(self, shape: Shape, dtype: np.dtype, depth: int) -> str:
        """An expression of this type."""
        b, d = self.b, self.b.draw
        if depth <= 0:
            return self.leaf(shape, dtype)
        kinds = ["leaf", "where", "cond"]
        if shape and shape[0]:
            kinds += ["update", "update", "trap", "trap", "dus", "flip"] + ["roll"] * (shape[0] > 1)
        if any(v.shape[1:] == shape and v.dtype == dtype and v.shape[0]
               for v in self.names if v.shape):
            kinds += ["index"]
        if self.level < 1:
            kinds += ["fori"]
        if dtype.kind in "iuf":
            kinds += ["neg", "abs", "minmax"]
        if dtype.kind in "iu":
            kinds += ["arith", "arith", "bitwise", "shift", "cast"] + ["reduce"] * (shape == ())
        if dtype.kind == "f":
            kinds += ["scale"] + ["reduce"] * (shape == ())
        if dtype == np.bool_:
            kinds += ["compare", "compare", "bitwise", "not"]
        kind = b.pick(kinds)
        sub = functools.partial(self.value, depth=depth - 1)
        if kind == "where":
            fn = b.pick(["jnp.where", "lax.select"])
            return f"{fn}({self.predicate(shape)}, {sub(shape, dtype)}, {sub(shape, dtype)})"
        if kind == "cond":
            pred = f"jnp.any({self.predicate(shape)})"
            return f"lax.cond({pred}, lambda: {sub(shape, dtype)}, lambda: {sub(shape, dtype)})"
        if kind in ("update", "trap"):
            method = b.pick(["set"] + ["add"] * (dtype.kind in "iu")
                            + ["min", "max"] * (dtype.kind != "b"))
            self.free_zero |= dtype.kind == "f" and method in ("min", "max")
            if kind == "update":
                old = sub(shape, dtype)
            else:  # a name, a carry if there is one, read again after its update
                local = self._named(shape, dtype, outer=False)
                old = local.name if local else self.leaf(shape, dtype)
            new = f"{old}.at[{self.index_of(shape[0])}].{method}({sub(shape[1:], dtype)})"
            if kind == "update":
                return new
            # The array is read again after its update: not to be updated in place.
            if dtype == np.bool_:
                return f"({new} ^ {old})"
            if dtype.kind == "f":
                return f"jnp.where({new} == {old}, {old}, -{new})"
            return f"({new} - {old})"
        if kind == "dus":
            rows = d(st.integers(0, shape[0]))
            block = sub((rows, *shape[1:]), dtype)
            start = ", ".join([self.index_of(shape[0])] + ["0"] * (len(shape) - 1))
            return f"lax.dynamic_update_slice({sub(shape, dtype)}, {block}, ({start},))"
        if kind == "flip":
            return f"{sub(shape, dtype)}[::-1]"
        if kind == "roll":
            k = d(st.integers(1, shape[0] - 1))
            whole = self.leaf(shape, dtype)
            return f"jnp.concatenate([{whole}[{k}:], {whole}[:{k}]])"
        if kind == "index":
            v = self._named(None, dtype, lambda v: v.shape[1:] == shape and bool(v.shape)
                            and v.shape[0] > 0)
            if v is not None:
                return f"{v.name}[{self.index_of(v.shape[0], update=False)}]"
        if kind == "fori":  # a loop in the loop
            inner = Body(b, self.names + [Var(f"a{self.level}", shape, dtype)],
                         f"j{self.level}", self.outer, level=self.level + 1)
            new = inner.value(shape, dtype, depth - 1)
            self.free_zero |= inner.free_zero
            return (f"lax.fori_loop(0, {d(st.integers(0, 3))}, lambda j{self.level}, "
                    f"a{self.level}: {new}, {sub(shape, dtype)})")
        if kind in ("neg", "abs"):
            return f"(-{sub(shape, dtype)})" if kind == "neg" else f"jnp.abs({sub(shape, dtype)})"
        if kind == "minmax":
            self.free_zero |= dtype.kind == "f"
            fn = b.pick(["jnp.maximum", "jnp.minimum"])
            return f"{fn}({sub(shape, dtype)}, {sub(shape, dtype)})"
        if kind == "arith":
            op = b.pick(["+", "-", "*"])
            other = self.literal(dtype) if d(st.booleans()) else sub(shape, dtype)
            return f"({sub(shape, dtype)} {op} {other})"
        if kind == "bitwise":
            op = b.pick(["&", "|", "^"])
            return f"({sub(shape, dtype)} {op} {sub(shape, dtype)})"
        if kind == "not":
            return f"jnp.logical_not({sub(shape, dtype)})"
        if kind == "shift":
            return f"({sub(shape, dtype)} {b.pick(['<<', '>>'])} {d(st.integers(1, 3))})"
        if kind == "scale":
            return f"({sub(shape, dtype)} * {b.pick(['2.0', '-2.0', '4.0', '-1.0'])})"
        if kind == "compare":
            return self.predicate(shape, scalar=False)
        if kind == "cast":
            v = self._named(shape, None, lambda v: v.dtype.kind in "iub" and v.dtype != dtype)
            if v is not None:
                return f"{v.name}.astype({_jnp_dtype(dtype)})"
        if kind == "reduce":
            v = self._named(None, dtype, lambda v: v.size > 0)
            if v is not None:
                fn = b.pick(["jnp.max", "jnp.min"] + ["jnp.sum"] * (dtype.kind in "iu"))
                self.free_zero |= dtype.kind == "f"
                return f"{fn}({v.name}).astype({_jnp_dtype(dtype)})"
        return self.leaf(shape, dtype)


def _pack(texts: Sequence[str], nested: bool) -> str:
    """A carry of these leaves: a tuple, or a tuple holding a dict (a pytree)."""
    if nested and len(texts) > 1:
        return f"({texts[0]}, {{'p': ({''.join(t + ', ' for t in texts[1:])})}})"
    return f"({''.join(t + ', ' for t in texts)})"


def _paths(root: str, count: int, nested: bool) -> list[str]:
    if nested and count > 1:
        return [f"{root}[0]"] + [f"{root}[1]['p'][{k}]" for k in range(count - 1)]
    return [f"{root}[{k}]" for k in range(count)]


def _new_carry(body: Body, carry: list[Var]) -> list[str]:
    """The body's carry results. Sometimes a carry takes the old value of a carry of the same
    type (the body returns the array before and after its update), or two swap."""
    b, d = body.b, body.b.draw
    out = [body.value(v.shape, v.dtype, d(st.integers(1, 3))) for v in carry]
    for k in range(1, len(carry)):
        same = carry[k - 1].shape == carry[k].shape and carry[k - 1].dtype == carry[k].dtype
        how = b.pick(["fresh", "fresh", "old", "swap"])
        if same and how == "old":
            out[k] = carry[k - 1].name
        elif same and how == "swap":
            out[k - 1], out[k] = carry[k].name, carry[k - 1].name
    return out


def _tuple(texts: Sequence[str]) -> str:
    return f"({''.join(t + ', ' for t in texts)})"


def loop(b: Builder) -> Var:
    """``fori_loop`` (static or traced bounds), ``while_loop`` (a bounded counter) or
    ``scan`` (xs sliced from program values, ys stacked, reversed too) on a carry of one to
    three arrays (a pytree), with a bit-exact body. Every carry and ys is a result."""
    d = b.draw
    kind = b.pick(["fori", "scan", "while", "fori_traced"])
    def carry_init() -> Var:  # (mostly arrays: scalars have no elements to update)
        return b.operand(functools.partial(_loop_dtype, b), min_rank=b.pick([0, 1, 1]))

    inits = [carry_init()]
    for _ in range(b.pick([0, 1, 2])):  # the same array twice: two carries, one init
        inits.append(inits[-1] if d(st.integers(0, 3)) == 0 else carry_init())
    nested = b.pick([False, True])
    carry = [Var(f"c{k}", v.shape, v.dtype) for k, v in enumerate(inits)]
    used = list(inits)
    init = _pack([v.name for v in inits], nested)
    params = ", ".join(v.name for v in carry)

    def body_text(names: list[Var], index: str | None) -> tuple[Body, str]:
        body = Body(b, names, index)
        return body, _pack(_new_carry(body, carry), nested)

    if kind == "scan":
        arrays = [b.operand(functools.partial(_loop_dtype, b), min_rank=1)
                  for _ in range(b.pick([0, 1, 2]))]
        length = d(st.integers(0, min([a.shape[0] for a in arrays] + [5])))
        xs = [f"{a.name}[:{length}]" for a in arrays]
        slices = [Var(f"s[{k}]", a.shape[1:], a.dtype) for k, a in enumerate(arrays)]
        index = None
        if b.pick([False, True]):  # the step number, as an x
            xs.append(f"jnp.arange({length})")
            index = f"s[{len(arrays)}]"
        body, new = body_text(carry + slices, index)
        ys = [body.value(v.shape, v.dtype, d(st.integers(0, 2)))
              for v in d(st.lists(st.sampled_from(carry + slices), max_size=2))]
        reverse = ", reverse=True" if b.pick([False, True]) else ""
        scan = (f"lax.scan(lambda c, s: (lambda {params}: ({new}, {_tuple(ys)}))"
                f"({', '.join(_paths('c', len(carry), nested))}), {init}, {_tuple(xs)}, "
                f"length={length}{reverse})")
        outs = _paths("c", len(carry), nested) + [f"ys[{k}]" for k in range(len(ys))]
        expr = f"(lambda c, ys: {_tuple(outs)})(*{scan})"
        used += arrays
    elif kind == "while":
        bound = str(d(st.integers(0, 5)))
        if b.pick([False, True]):
            n = b.operand(dtype=np.dtype("int32"), shape=())
            bound, used = f"jnp.minimum({n.name}, 5)", used + [n]
        leaves = _paths("c[1]", len(carry), nested)
        test = Body(b, [replace(v, name=p) for v, p in zip(carry, leaves)], None)
        extra = f" & jnp.all({test.predicate(carry[0].shape)})" if b.pick([False, True]) \
            else ""
        body, new = body_text(carry, "n")
        loop_ = (f"lax.while_loop(lambda c: (c[0] < {bound}){extra}, "
                 f"lambda c: (lambda n, {params}: (n + 1, {new}))(c[0], {', '.join(leaves)}), "
                 f"(0, {init}))")
        expr = f"(lambda c: {_tuple(leaves)})({loop_})"
        used += list(test.outer.values())
    else:
        if kind == "fori":
            lo = d(st.integers(0, 2))
            bounds = f"{lo}, {lo + d(st.integers(0, 4))}"
        else:
            n = b.operand(dtype=np.dtype("int32"), shape=())
            bounds, used = f"0, jnp.minimum({n.name}, 4)", used + [n]
        body, new = body_text(carry, "i")
        leaves = _paths("c", len(carry), nested)
        loop_ = (f"lax.fori_loop({bounds}, lambda i, c: (lambda {params}: {new})"
                 f"({', '.join(leaves)}), {init})")
        expr = f"(lambda c: {_tuple(leaves)})({loop_})"
    used += list(body.outer.values())
    return b.add_parts(expr, list({v.name: v for v in used}.values()),
                       Check(zero_sign=not body.free_zero))


FAMILIES: dict[str, tuple[int, Callable[[Builder], Var]]] = {
    "unary": (6, unary), "binary": (8, binary), "where": (2, where), "clip": (1, clip),
    "cast": (2, cast), "reduction": (5, reduction), "reshape": (2, reshape),
    "transpose": (1, transpose), "broadcast": (2, broadcast), "slicing": (3, slicing),
    "squeeze_expand": (1, squeeze_expand), "concatenate": (2, concatenate), "pad": (2, pad),
    "rev": (1, rev), "gather": (3, gather), "dynamic_slice": (2, dynamic_slice),
    "scatter": (3, scatter), "matmul": (3, matmul),
}
_WEIGHTED = [name for name, (w, _) in FAMILIES.items() for _ in range(w)]
# Steps made of other steps (not drawn as branches of a cond); their weights are multiplied
# by Options.control_flow.
CONTROL_FLOW: dict[str, tuple[int, Callable[[Builder], Var]]] = {
    "branching": (1, branching), "loop": (1, loop),
}
_ALL = {**FAMILIES, **CONTROL_FLOW}


@st.composite
def programs(draw, name: str = "f", options: Options | None = None,
             min_ops: int = 3, max_ops: int = 15) -> Program:
    """A random program of ``min_ops`` to ``max_ops`` steps."""
    b = Builder(draw, name, options or Options())
    weighted = _WEIGHTED + [name for name, (w, _) in CONTROL_FLOW.items()
                            for _ in range(w * b.opts.control_flow)]
    length = draw(st.integers(min_ops, max_ops))
    for _ in range(4 * max_ops):
        if len(b.program.steps) >= length:
            break
        family = _ALL[b.pick(weighted)][1]
        for _ in range(5):
            mark = (len(b.program.inputs), len(b.program.steps), len(b.pool), b.counter)
            try:
                family(b)
                break
            except Rejected:  # JAX rejects these operands: undo any inputs and retry
                del b.program.inputs[mark[0]:], b.program.steps[mark[1]:], b.pool[mark[2]:]
    return b.program
