"""Running fuzz programs through llax and JAX, and judging every op by its error model.

A batch of programs runs as one ``llax.jit`` (native code). Its result is every
intermediate value V of every program, plus, from a second copy of each program
fed through separate parameters, the sink values computed with nothing stored in
between (the fully fused form; it must agree with V bit for bit).

Each op is then judged locally: the program's ``local_source`` applies every op to
the operands the native code gave it (from V), in

- the reference interpreter (``backend="interpreter"`` with no optimisation pass),
  which must agree with the native result within the op's error model;
- eager llax (the NumPy reference op by op), which must match the interpreter bit
  for bit (eager control flow runs compiled: it is judged as native code is);
- JAX (``jax.jit``), which must match the interpreter within the op's error model.

Judging each op on its actual operands means no error is ever carried from one op
to the next, so the tolerances are those of single ops. JAX flushes subnormals to
zero on the CPU, so its comparison runs on flushed operands and flushes both
results; it also folds ``x / x`` to 1, so divisions of a value by itself are not
compared with JAX (native and interpreter still are).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import jax
import numpy as np

import llax
import llax.lax as llax_lax
import llax.numpy as lnp
from llax.config import config
from llax.frontend.compile import DEFAULT_PIPELINE
from llax.tests.fuzz_programs import LLAX_ULPS, Program, Step, array_source, compile_source


@dataclass(frozen=True)
class Guards:
    """Differences left out of the comparison: ``excuses`` are functions
    (step, operands, who) -> the elements to leave out (a JAX quirk, say)."""

    excuses: tuple[Callable[[Step, dict[str, np.ndarray], str], np.ndarray | bool], ...] = ()


NO_GUARDS = Guards()


@contextlib.contextmanager
def x64_mode(on: bool) -> Iterator[None]:
    with jax.enable_x64(on), config.override("jax_enable_x64", on):
        yield


# ----------------------------------------------------------------------------------------
# Element comparisons.

def _ordered(a: np.ndarray) -> np.ndarray:
    """Floats mapped to integers in the same order, one apart per ulp (+0 and -0 both 0)."""
    bits = a.view(np.int32 if a.dtype == np.float32 else np.int64).astype(np.int64)
    low = np.int64(-(2**31)) if a.dtype == np.float32 else np.int64(np.iinfo(np.int64).min)
    return np.where(bits < 0, low - bits, bits)


def ulp_distance(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Ulps between two float arrays of one dtype; 0 where both are NaN, inf where one is."""
    g, w = _ordered(got), _ordered(want)
    # Exact in int64 where the signs agree (no overflow); far apart anyway where not.
    with np.errstate(over="ignore"):
        dist = np.where((g < 0) == (w < 0), np.abs(g - w).astype(np.float64),
                        np.abs(g.astype(np.float64) - w.astype(np.float64)))
    nan_g, nan_w = np.isnan(got), np.isnan(want)
    return np.where(nan_g | nan_w, np.where(nan_g & nan_w, 0.0, np.inf), dist)


def same_bits(got: np.ndarray, want: np.ndarray, zero_sign: bool = True) -> np.ndarray:
    """Elementwise equality; NaNs equal whatever their payload; +-0 distinct if ``zero_sign``."""
    if got.dtype.kind != "f":
        return got == want
    eq = (got == want) | (np.isnan(got) & np.isnan(want))
    if zero_sign:
        eq &= (got != 0) | (np.signbit(got) == np.signbit(want))
    return eq


def flush(a: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Subnormals (and, with ``scale`` > 1, tiny normals) to signed zero, as FTZ/DAZ do."""
    if a.dtype.kind != "f":
        return a
    tiny = np.finfo(a.dtype).tiny * scale
    return np.where(np.abs(a) < tiny, np.copysign(np.zeros_like(a), a), a).astype(a.dtype)


def _eps(dtype: np.dtype) -> float:
    return float(np.finfo(dtype).eps)


# ----------------------------------------------------------------------------------------
# Float64 references: the true value of an approximated function, the envelope of a sum.

def _eager(expr: str, operands: dict[str, np.ndarray], transform: Callable,
           keep: Sequence[str] = ()) -> np.ndarray:
    """``expr`` on ``transform``ed operands (except those in ``keep``), by eager llax (NumPy)
    with x64 on."""
    fn = eval(f"lambda {', '.join(operands)}: {expr}",  # noqa: S307 - our own generated text
              {"jnp": lnp, "lax": llax_lax, "inf": math.inf, "nan": math.nan})
    with x64_mode(True), np.errstate(all="ignore"):
        return np.asarray(fn(*[lnp.asarray(v if n in keep else transform(v))
                               for n, v in operands.items()]))


def _in_float64(f: Callable = lambda v: v) -> Callable:
    """Numeric data as float64 (bools stay: they select, they do not add), then ``f``."""
    return lambda v: v if v.dtype == np.bool_ else f(v.astype(np.float64))




def truth(step: Step, operands: dict[str, np.ndarray]) -> np.ndarray:
    """An approximated function's result computed in float64, rounded to the result dtype.

    Operands are first converted to the result dtype, as jnp's promotion does (an int32
    operand of a float32 function is rounded to float32 first).
    """
    dtype = step.out.dtype
    with np.errstate(all="ignore"):
        return _eager(step.expr, operands,
                      lambda v: v.astype(dtype).astype(np.float64)).astype(dtype)


@dataclass
class Envelope:
    """What a sum or product may be: the exact value and how far a rounded one may stray."""

    ref: np.ndarray        # the result in float64
    bound: np.ndarray      # the error allowed for a finite ref
    anything: np.ndarray   # where the order of evaluation decides (overflow, underflow)
    # Where every term is -0: the sum is -0 added up as IEEE does, +0 from a +0 start (XLA
    # does both: a one-term sum is a copy). Elsewhere a zero sum is +0 (empty too).
    either_zero: np.ndarray


def envelope(step: Step, operands: dict[str, np.ndarray], order: str) -> Envelope:
    check, dtype = step.check, step.out.dtype
    fmax, tiny = float(np.finfo(dtype).max), float(np.finfo(dtype).tiny)
    n = check.terms
    gamma = (n + 1 if order == "linear" else math.ceil(math.log2(max(n, 1))) + 1) * _eps(dtype)
    if dtype == np.float64:  # the float64 reference is itself only this good
        gamma += (n + 1) * _eps(dtype)
    keep = check.indices
    ref = _eager(step.expr, operands, _in_float64(), keep)
    if check.kind == "prod":
        mag = np.abs(ref)
        big = _eager(step.expr, operands, _in_float64(
            lambda v: np.where(np.isfinite(v), np.maximum(np.abs(v), 1.0), 1.0)), keep)
        small = _eager(step.expr, operands, _in_float64(
            lambda v: np.where(np.isfinite(v) & (v != 0), np.minimum(np.abs(v), 1.0), 1.0)),
            keep)
        anything = (big > fmax) | (small < tiny)
    else:
        mag = _eager(step.expr, operands, _in_float64(
            lambda v: np.where(np.isfinite(v), np.abs(v), 0.0)), keep)
        anything = mag * (n if check.per_term else 1) > fmax
    # Products of tiny floats round to multiples of the smallest subnormal.
    bound = gamma * mag + n * float(np.finfo(dtype).smallest_subnormal)
    either_zero = np.zeros(np.shape(ref), bool)
    if check.kind == "accum" and n > 0:
        plus_zeros = _eager(step.expr, operands, _in_float64(
            lambda v: ((v == 0) & ~np.signbit(v)).astype(np.float64)), keep)
        either_zero = (mag == 0) & (plus_zeros == 0)
    return Envelope(ref, bound, anything, either_zero)


def within(got: np.ndarray, env: Envelope) -> np.ndarray:
    g = got.astype(np.float64)
    finite = np.isfinite(env.ref)
    with np.errstate(invalid="ignore"):
        close = finite & (np.abs(g - env.ref) <= env.bound)
    return (env.anything | close | (np.isnan(env.ref) & np.isnan(g))
            | (np.isinf(env.ref) & (g == env.ref)))


# ----------------------------------------------------------------------------------------
# Judging one op.

def taken(step: Step, operands: dict[str, np.ndarray]) -> tuple[Step, dict[str, np.ndarray]]:
    """The step whose error model judges ``step``'s result, and its operands: for a cond
    or switch, the branch these operands select (a switch converts its index to int32 and
    clamps it), so the result is judged as that branch would be alone."""
    if not step.branches:
        return step, operands
    select = eval(f"lambda {', '.join(operands)}: {step.selector}",  # noqa: S307
                  {"jnp": lnp, "lax": llax_lax, "inf": math.inf, "nan": math.nan})
    value = np.asarray(select(*[lnp.asarray(v) for v in operands.values()]))
    if step.kind == "cond":
        k = 0 if value != 0 else 1
    else:
        k = int(np.clip(value.astype(np.int32), 0, len(step.branches) - 1))
    branch = step.branches[k]
    return branch, {n: operands[n] for n in dict.fromkeys(branch.operands)}


NATIVE, REFERENCE, JAX = "native", "reference", "jax"


@dataclass
class Verdict:
    bad: np.ndarray       # elements that disagree
    detail: str           # the error model used
    want: np.ndarray      # what they were compared with


def judge(step: Step, got: np.ndarray, want: np.ndarray, operands: dict[str, np.ndarray],
          guards: Guards, who: str) -> Verdict | None:
    """Is ``got`` (from ``who``) right for ``step`` on these operands?

    ``want`` is the interpreter's result on the same operands: exact ops must equal it.
    Approximated functions are compared with their float64 value instead, and sums and
    products with their float64 envelope, each implementation within its own budget.
    """
    check, dtype = step.check, step.out.dtype
    if got.shape != step.out.shape or got.dtype != dtype:
        return Verdict(np.ones((), bool), f"type {got.dtype.name}{list(got.shape)}, expected "
                       f"{dtype.name}{list(step.out.shape)}", want)
    if who == JAX:  # JAX flushed the subnormals (and may round to them first)
        got, want = flush(got, 4.0), flush(want, 4.0)
    if check.kind in ("accum", "prod") and dtype.kind == "f":
        order = check.order
        if who != NATIVE:
            order = "linear"  # the references may sum in any order
        env = envelope(step, operands, order)
        if who == JAX:
            env.bound = env.bound + 4.0 * float(np.finfo(dtype).tiny)
        ok = within(got, env)
        # The sign of a zero sum (Envelope.either_zero; a dot product's is not specified).
        if who != REFERENCE and check.zero_sign:
            ok &= ~((got == 0) & (want == 0) & (np.signbit(got) != np.signbit(want))
                    & ~env.either_zero)
        detail, want = f"{check.kind}, {order} bound for {check.terms} terms", env.ref
    elif check.kind == "ulp" and dtype.kind == "f":
        if who == JAX:
            ulps = check.ulps64 if dtype == np.float64 and check.ulps64 else check.ulps
        else:
            ulps = LLAX_ULPS + (dtype == np.float64)
        want = truth(step, operands)
        if who == JAX:
            want = flush(want, 4.0)
        ok = ulp_distance(got, want) <= ulps
        detail = f"within {ulps} ulp of the float64 result"
        if check.of_operands:
            scale = np.abs(want.astype(np.float64))
            for v in operands.values():
                scale = np.maximum(scale, np.abs(v.astype(np.float64)))
            with np.errstate(invalid="ignore"):
                ok |= np.abs(got.astype(np.float64) - want) <= ulps * _eps(dtype) * scale
            detail += " or of the largest operand"
    elif who == REFERENCE:
        return None
    elif who == JAX and check.divisor is not None and dtype.kind == "f":
        ok = ulp_distance(got, want) <= 2
        if check.divisor:
            with np.errstate(divide="ignore"):
                recip = 1 / np.abs(operands[check.divisor].astype(np.float64))
            ok |= recip < 4 * float(np.finfo(dtype).tiny)
        detail = "within 2 ulp (XLA divides by multiplying with the reciprocal)"
    else:
        zero_sign = check.zero_sign and (who != JAX or check.jax_zero_sign)
        ok = same_bits(got, want, zero_sign)
        detail = "exact" + ("" if zero_sign else " (zero sign free)")
    if who == JAX and check.jax_selects:
        ok = ok | np.isnan(want)
    for excuse in guards.excuses:
        ok = ok | excuse(step, operands, who)
    if np.all(ok):
        return None
    return Verdict(~np.asarray(ok), detail, want)


# ----------------------------------------------------------------------------------------
# Running.

def _llax_call(fn: Callable, args: Sequence[np.ndarray], **jit_options) -> list:
    out = llax.jit(lambda *a: fn(lnp, llax_lax, *a), **jit_options)(*args)
    return out


def _as_numpy(tree) -> list:
    if isinstance(tree, (tuple, list)):
        return [_as_numpy(t) for t in tree]
    return np.asarray(tree)


def _interpret(fn: Callable, args: Sequence[np.ndarray]) -> list[np.ndarray]:
    return _as_numpy(_llax_call(fn, args, backend="interpreter", pipeline=""))


def _eagerly(fn: Callable, args: Sequence[np.ndarray]) -> list[np.ndarray]:
    return _as_numpy(fn(lnp, llax_lax, *[lnp.asarray(a) for a in args]))


def _raises(thunk: Callable) -> bool:
    try:
        thunk()
    except Exception:  # noqa: BLE001 - any rejection will do
        return True
    return False


def _with_jax(fn: Callable, args: Sequence[np.ndarray]) -> list[np.ndarray]:
    return _as_numpy(jax.jit(lambda *a: fn(jax.numpy, jax.lax, *a))(*args))


def _first_positions(bad: np.ndarray, limit: int = 3) -> list[tuple[int, ...]]:
    return [tuple(int(i) for i in p) for p in np.argwhere(bad)[:limit]]


def _show(a: np.ndarray, pos: tuple[int, ...]) -> str:
    v = a[pos] if a.ndim else a[()]
    if a.dtype.kind == "f":
        return f"{v!r} ({v.view(np.uint32 if a.dtype == np.float32 else np.uint64):#x})"
    return repr(v)


def reproduction(step: Step, operands: dict[str, np.ndarray], x64: bool, who: str) -> str:
    """Standalone code that prints the op's result from ``who`` and from the interpreter."""
    lines = ["import numpy as np", "from numpy import inf, nan",
             "import llax, llax.numpy as jnp, llax.lax as lax"]
    if x64:
        lines.append('llax.config.update("jax_enable_x64", True)')
    lines += [f"{n} = {array_source(v)}" for n, v in operands.items()]
    args = ", ".join(operands)
    lines.append(f"f = lambda {args}: {step.expr}")
    if who == JAX:
        lines += ["import jax"] + (["jax.config.update('jax_enable_x64', True)"] if x64 else [])
        lines += [f"g = (lambda jnp, lax: lambda {args}: {step.expr})(jax.numpy, jax.lax)",
                  f"print('jax        ', jax.jit(g)({args}))"]
    elif who == NATIVE:
        lines.append(f"print('native     ', llax.jit(f)({args}))")
    lines.append(f"print('interpreter', llax.jit(f, backend='interpreter')({args}))")
    return "\n".join(lines)


def _alone(step: Step, operands: dict[str, np.ndarray]) -> Callable:
    return eval(f"lambda jnp, lax, {', '.join(operands)}: ({step.expr},)",  # noqa: S307
                {"inf": math.inf, "nan": math.nan})


class Mismatch(AssertionError):
    pass


_WHAT = {NATIVE: "native code differs from the reference",
         REFERENCE: "the reference interpreter (eager llax) is inaccurate",
         JAX: "llax's reference differs from JAX (got: JAX, want: llax)"}


@dataclass
class _Run:
    program: Program
    guards: Guards
    inputs: list[np.ndarray]
    values: list[np.ndarray] | None = None

    def operands(self, step: Step, args: Sequence[np.ndarray] | None = None
                 ) -> dict[str, np.ndarray]:
        """The step's operands by name, from ``args`` (inputs then values; default: native)."""
        names = self.program.params + [s.out.name for s in self.program.steps]
        env = dict(zip(names, args if args is not None else self.inputs + list(self.values)))
        return {n: env[n] for n in dict.fromkeys(step.operands)}

    def guarded(self, what: str, runner: Callable, fn: Callable,
                args: Sequence[np.ndarray]) -> list[np.ndarray]:
        """``runner(fn, args)``; if it raises, a Mismatch naming the first op that raises."""
        try:
            return runner(fn, args)
        except Exception as e:
            for step in self.program.steps:
                operands = self.operands(step, args)
                try:
                    runner(_alone(step, operands), list(operands.values()))
                except Exception as e_alone:
                    raise Mismatch(
                        f"{what} raised {type(e_alone).__name__}: {e_alone}\non the op "
                        f"`{step.expr}` (JAX accepts it). Reproduction:\n"
                        + reproduction(step, operands, self.program.x64, NATIVE)) from e_alone
            raise Mismatch(f"{what} raised {type(e).__name__}: {e} (no op alone raises) on"
                           f"\n{self.program!r}") from e

    def step_by_step(self) -> list[np.ndarray]:
        """The values by the interpreter, one op at a time; Mismatch if one raises."""
        values: list[np.ndarray] = []
        for step in self.program.steps:
            operands = self.operands(step, self.inputs + values + [None] * len(self.program.steps))
            try:
                values.append(_interpret(_alone(step, operands), list(operands.values()))[0])
            except Exception as e:
                raise Mismatch(f"the interpreter raised {type(e).__name__}: {e}\non the op "
                               f"`{step.expr}` (JAX accepts it). Reproduction:\n"
                               + reproduction(step, operands, self.program.x64, NATIVE)) from e
        return values

    def judge(self, step: Step, got: np.ndarray, want: np.ndarray,
              operands: dict[str, np.ndarray], who: str, what: str = "") -> None:
        judged, judged_operands = taken(step, operands)
        if who == JAX and not judged.check.jax:
            return
        verdict = judge(judged, got, want, judged_operands, self.guards, who)
        if verdict is None:
            return
        lines = [f"{what or _WHAT[who]}: step `{step.out.name} = {step.expr}`"]
        bad = verdict.bad
        lines.append(f"{int(bad.sum())} of {bad.size} elements differ ({verdict.detail}):")
        for pos in _first_positions(bad) if bad.ndim == got.ndim else []:
            args = ", ".join(f"{n}={_show(v, pos)}" for n, v in operands.items()
                             if v.shape == got.shape)
            lines.append(f"  at {pos}: got {_show(got, pos)}, want {_show(verdict.want, pos)}"
                         + (f"  [{args}]" if args else ""))
        alone = ""
        if who == NATIVE and not what:
            try:
                result = _llax_call(_alone(step, operands), list(operands.values()))
                again = judge(judged, np.asarray(result[0]), want, judged_operands,
                              self.guards, who)
                alone = (" (the op alone reproduces it)" if again is not None else
                         " (the op alone is right: only inside the whole program)")
            except Exception as e:  # noqa: BLE001 - reported as text
                alone = f" (the op alone raises {type(e).__name__}: {e})"
        lines += ["", f"Reproduction{alone}:",
                  reproduction(step, operands, self.program.x64, who),
                  "", "Whole program:", repr(self.program)]
        raise Mismatch("\n".join(lines))


def run_batch(programs: Sequence[Program], guards: Guards = NO_GUARDS) -> None:
    """Run the programs natively, by interpreter and eagerly, and with JAX; raise Mismatch."""
    with x64_mode(programs[0].x64):
        _run_batch(programs, guards)


def _run_batch(programs: Sequence[Program], guards: Guards) -> None:
    runs = [_Run(p, guards, [a for _, a in p.inputs]) for p in programs]
    fns = [compile_source(p.source()) for p in programs]
    sink_index = [[p.steps.index(s) for s in p.sinks()] for p in programs]

    def native(*args):
        out, pos = [], 0
        for run, fn, sinks in zip(runs, fns, sink_index):
            k = len(run.inputs)
            out.append(fn(lnp, llax_lax, *args[pos:pos + k]))
            fused = fn(lnp, llax_lax, *args[pos + k:pos + 2 * k])
            out.append(tuple(fused[i] for i in sinks))
            pos += 2 * k
        return out

    flat = [a.copy() for run in runs for a in run.inputs + run.inputs]
    try:
        # The default pipeline, whatever LLAX_PIPELINE says: with buffer reuse (inplace).
        result = _as_numpy(llax.jit(native, pipeline=DEFAULT_PIPELINE)(*flat))
    except Exception as e:
        for run in runs:  # name the op if one fails by itself
            run.values = run.step_by_step()
            run.guarded("llax.jit", _llax_call, compile_source(run.program.local_source()),
                        run.inputs + run.values)
        src = "\n\n".join(repr(p) for p in programs)
        raise Mismatch(f"llax.jit raised {type(e).__name__}: {e}\non programs JAX accepts "
                       f"(each alone compiles):\n{src}") from e
    originals = [a for run in runs for a in run.inputs + run.inputs]
    for k, (after, before) in enumerate(zip(flat, originals)):
        if after.tobytes() != before.tobytes():
            raise Mismatch(f"llax.jit wrote into its input {k} (not donated): {before!r} became "
                           f"{after!r}, in\n" + "\n\n".join(repr(p) for p in programs))
    for i, (run, sinks) in enumerate(zip(runs, sink_index)):
        run.values = result[2 * i]
        _check_program(run, result[2 * i + 1], sinks)


def _check_program(run: _Run, fused: list[np.ndarray], sinks: list[int]) -> None:
    program = run.program
    local = compile_source(program.local_source())
    args = run.inputs + list(run.values)
    interp = run.guarded("the interpreter", _interpret, local, args)
    for step, got, want in zip(program.steps, run.values, interp):
        operands = run.operands(step)
        run.judge(step, got, want, operands, NATIVE)
        run.judge(step, want, want, operands, REFERENCE)
    # The fully fused program gives the same sinks as the one that stores everything.
    for i, got in zip(sinks, fused):
        step = program.steps[i]
        run.judge(step, got, run.values[i], run.operands(step), NATIVE,
                  "native code (sinks only, fused) differs from native (all values stored)")
    # Eager llax is the same NumPy reference, op by op: the same bits. (Unless eager JAX
    # rejects the program too: a concrete negative exponent of an integer power, say.)
    try:
        eager = _eagerly(local, args)
    except Exception:
        if not _raises(lambda: local(jax.numpy, jax.lax, *args)):
            run.guarded("eager llax", _eagerly, local, args)
        eager = interp
    for step, got, want in zip(program.steps, eager, interp):
        if step.branches or step.whole:  # eager control flow runs compiled, as JAX's does
            run.judge(step, got, want, run.operands(step), NATIVE,
                      "eager llax (control flow runs natively) differs from the reference")
        elif got.shape != want.shape or got.dtype != want.dtype or \
                not same_bits(got, want).all():
            raise Mismatch(f"eager llax differs from the interpreter on `{step.expr}`: "
                           f"{got!r} vs {want!r}\n{program!r}")
    # JAX, on operands with subnormals flushed, against the interpreter on the same.
    flushed = [flush(a) for a in args]
    if any(not same_bits(f, a).all() for f, a in zip(flushed, args)):
        interp = run.guarded("the interpreter", _interpret, local, flushed)
    with_jax = _with_jax(local, flushed)
    for step, got, want in zip(program.steps, with_jax, interp):
        run.judge(step, got, want, run.operands(step, flushed), JAX)
