"""Array-namespace helpers and numerically stable primitives.

Every function here takes the namespace ``xp`` first and works on any array-API array. Constants
are built as 0-d arrays of the operand's dtype and device (a Python scalar in a two-argument
function makes torch promote through ``result_type``, which breaks ``torch.compile`` graphs).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

from array_api_compat import array_namespace, is_jax_array, is_torch_array
from array_api_compat import device as _device

Array = Any
LOG2 = math.log(2.0)


def device(x: Array) -> Any:
    return _device(x)


def const(xp: Any, value: float, like: Array) -> Array:
    """A 0-d array holding ``value`` with the dtype and device of ``like``."""
    return xp.asarray(value, dtype=like.dtype, device=_device(like))


def to_namespace(xp: Any, value: Array, like: Array) -> Array:
    """``value`` as an array of ``like``'s library and device; unchanged if it already is one.

    Raises TypeError or ValueError when the conversion is impossible.
    """
    try:
        array_namespace(like, value)
        return value
    except TypeError:
        return xp.asarray(value, device=_device(like))


def compute_dtype(xp: Any, dtype: Any) -> Any:
    """float32 and float64 compute as themselves; half precisions compute in float32."""
    if dtype == xp.float64 or dtype == xp.float32:
        return dtype
    return xp.float32


def is_tracing(x: Array) -> bool:
    """True where values are unknown: x is a JAX tracer (inside ``jit``/``grad``/``vmap``), or
    a concrete JAX array used inside ``jax.jit``, where operations on it are staged, not run
    (a target closed over by a jitted objective)."""
    if not is_jax_array(x):
        return False
    import jax

    if isinstance(x, jax.core.Tracer):
        return True
    return isinstance(jax.numpy.zeros(()), jax.core.Tracer)


def compiled_on_jax(
    kernel: Callable[..., Array], xp: Any, arrays: tuple[Array, ...], **static: Any
) -> Array:
    """``kernel(xp, *arrays, **static)``; on JAX through one ``jax.jit`` per kernel and
    static setting (cached): the same operations compiled together once per shape, where
    eager JAX compiles each of a structured loss's dozens of operations for every new shape
    (seconds per call). A jitted function composes with an outer ``jit``, ``grad`` and
    ``vmap``. The static settings are Python scalars (hashable)."""
    if not is_jax_array(arrays[0]):
        return kernel(xp, *arrays, **static)
    return _jitted(kernel, tuple(sorted(static.items())))(*arrays)


@functools.cache
def _jitted(kernel: Callable[..., Array], static: tuple[tuple[str, Any], ...]) -> Any:
    import jax
    import jax.numpy as jnp

    return jax.jit(functools.partial(kernel, jnp, **dict(static)))


def has_values(x: Array) -> bool:
    """False for arrays that carry a shape and dtype but no values (torch's ``meta`` device)."""
    return not (is_torch_array(x) and x.is_meta)


def library(x: Array) -> str:
    """The array library of ``x`` by name: "numpy", "torch", "jax", "array_api_strict" or the
    top-level module of its type."""
    if is_torch_array(x):
        return "torch"
    if is_jax_array(x):
        return "jax"
    return type(x).__module__.split(".")[0]


def value_range(xp: Any, x: Array) -> tuple[float, float]:
    """(min, max) of a non-empty array as Python floats; NaN anywhere makes both NaN-like."""
    if is_torch_array(x):
        lo, hi = x.detach().aminmax()  # one pass instead of two
        return float(lo), float(hi)
    return float(xp.min(x)), float(xp.max(x))


def where0(xp: Any, cond: Array, x: Array) -> Array:
    """``x`` where ``cond`` holds, else 0."""
    return xp.where(cond, x, const(xp, 0.0, x))


def times_finite(xp: Any, coef: Array, term: Array) -> Array:
    """``coef * term``, with 0 where ``coef`` is 0 even if ``term`` is infinite (the limit of a
    vanishing weight, not NaN); the derivative with respect to ``term`` is 0 there too."""
    return coef * xp.where(coef == 0, const(xp, 0.0, term), term)


def abs_(xp: Any, x: Array) -> Array:
    """|x| whose derivative is sign(x): 0 at 0 on every backend (torch and JAX differ otherwise)."""
    return xp.sign(x) * x


def softplus(xp: Any, x: Array) -> Array:
    """log(1 + exp(x)), finite for any x including +-inf, derivative sigmoid(x) everywhere.

    The branch form keeps the second derivative finite at |x| = 1e4 (``logaddexp(0, x)`` gives
    NaN there in torch) and the first derivative exactly 0.5 at x = 0 on every backend.
    """
    positive = x > 0
    return where0(xp, positive, x) + xp.log1p(xp.exp(xp.where(positive, -x, x)))


def log_sigmoid(xp: Any, x: Array) -> Array:
    """log(sigmoid(x)) = -softplus(-x)."""
    return -softplus(xp, -x)


def _neg_abs(xp: Any, x: Array) -> Array:
    """-|x| that takes the ``x >= 0`` branch at 0, as the sigmoid's ``where`` does.

    (``abs_`` has derivative 0 at 0, which would make autodiff of the sigmoid below give a
    slope of 0 instead of 1/4 at exactly x = 0.)
    """
    return xp.where(x >= 0, -x, x)


def sigmoid(xp: Any, x: Array) -> Array:
    """1 / (1 + exp(-x)) without overflow for either sign; autodiff-exact at 0 too."""
    e = xp.exp(_neg_abs(xp, x))
    one = const(xp, 1.0, x)
    return xp.where(x >= 0, one / (one + e), e / (one + e))


def sigmoid_pair(xp: Any, x: Array) -> tuple[Array, Array]:
    """(sigmoid(x), sigmoid(-x)), each accurate where it is tiny (no 1 - s cancellation)."""
    e = xp.exp(_neg_abs(xp, x))
    one = const(xp, 1.0, x)
    big = one / (one + e)
    small = e / (one + e)
    positive = x >= 0
    return xp.where(positive, big, small), xp.where(positive, small, big)


def sigmoid_pair_values(xp: Any, x: Array) -> tuple[Array, Array]:
    """(sigmoid(x), sigmoid(-x)) from one exp, ``e = exp(-x)``: ``1 / (1 + e)`` and
    ``1 / (1 + 1 / e)``. Accurate in both tails (``e`` is 0 or inf there and both forms take
    their limits), with no select, so several times cheaper than ``sigmoid_pair`` on NumPy.
    sigmoid(x) is formed as the boosters form it: with ``exp(x)`` instead, round-off alone tips
    a near-tied split of ``binary:logistic``'s trees within a few rounds. For values only:
    NumPy warns on the overflow and the division by zero in the tails unless they are
    silenced, and autodiff through them gives NaN; derivatives must go through
    ``sigmoid_pair``."""
    one = const(xp, 1.0, x)
    e = xp.exp(-x)
    return one / (one + e), one / (one + one / e)


def log_add_exp(xp: Any, a: Array, b: Array) -> Array:
    """log(exp(a) + exp(b)) that returns -inf (not NaN) when both are -inf.

    The larger term is selected with ``where`` rather than ``maximum``/``minimum``: at a tie
    those split the derivative half and half, which keeps the first derivative right but
    makes the second derivative wrong under autodiff.
    """
    first = a >= b
    hi = xp.where(first, a, b)
    lo = xp.where(first, b, a)
    neg_inf = const(xp, -math.inf, hi)
    both_empty = hi == neg_inf
    hi_safe = xp.where(both_empty, const(xp, 0.0, hi), hi)
    lo_safe = xp.where(both_empty, const(xp, 0.0, lo), lo)
    return xp.where(both_empty, neg_inf, hi_safe + xp.log1p(xp.exp(lo_safe - hi_safe)))


def safe_log(xp: Any, x: Array, floor: float) -> Array:
    """max(log(x), floor) with a zero (not NaN) derivative where x is 0 or the floor applies."""
    positive = x > 0
    logged = xp.log(xp.where(positive, x, const(xp, 1.0, x)))
    return xp.maximum(xp.where(positive, logged, const(xp, floor, x)), const(xp, floor, x))


def safe_log1m(xp: Any, x: Array, floor: float) -> Array:
    """max(log(1 - x), floor) as ``log1p(-x)`` (exact where x is tiny: ``log(1 - x)`` gives
    1.19e-7 for x = 1e-7 in float32 and 0 below 6e-8), with a zero (not NaN) derivative where
    x is 1 or the floor applies."""
    below = x < 1
    logged = xp.log1p(-xp.where(below, x, const(xp, 0.0, x)))
    return xp.maximum(xp.where(below, logged, const(xp, floor, x)), const(xp, floor, x))


def log_or_neg_inf(xp: Any, x: Array) -> Array:
    """log(x) for x >= 0 with log(0) = -inf and no warning or NaN derivative at 0."""
    positive = x > 0
    logged = xp.log(xp.where(positive, x, const(xp, 1.0, x)))
    return xp.where(positive, logged, const(xp, -math.inf, x))


def safe_sqrt(xp: Any, x: Array) -> Array:
    """sqrt(x) for x >= 0 whose derivative at 0 is 0 instead of inf (double-where); NaN
    stays NaN (a NaN input must not come out as a perfect fit)."""
    positive = x > 0
    root = xp.sqrt(xp.where(positive, x, const(xp, 1.0, x)))
    return xp.where(positive, root, xp.where(xp.isnan(x), x, const(xp, 0.0, x)))


def stop_gradient(xp: Any, x: Array) -> Array:
    """``x`` as a constant for autodiff: its value, with no derivative flowing back through it
    (``detach`` on torch, ``jax.lax.stop_gradient`` on JAX, ``x`` itself elsewhere, where
    nothing is differentiated). CIoU's trade-off weight uses it, as the paper prescribes."""
    if is_torch_array(x):
        return x.detach()
    if is_jax_array(x):
        import jax

        return jax.lax.stop_gradient(x)
    return x
