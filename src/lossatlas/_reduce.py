"""The one reduction used by every loss in the library."""

from __future__ import annotations

import math
from typing import Any

from array_api_compat import size

from ._validate import LossInputError, check_interval, describe
from ._xp import const, to_namespace

REDUCTIONS = ("mean", "sum", "none", "sum_by_nonzero_weights")


def check_reduction(function: str, reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise LossInputError(function, "reduction", f"one of {REDUCTIONS}", repr(reduction))


def prepare_weight(function: str, xp: Any, weight: Any, loss: Any) -> Any:
    """Cast ``weight`` to the loss's namespace, dtype and device; broadcast it to the loss shape.

    Broadcasting may only expand ``weight``: the result always has the loss's shape. Weights
    must be >= 0 (a value check: skipped when disabled or under tracing).
    """
    if weight is None:
        return None
    if isinstance(weight, (int, float)) and not isinstance(weight, bool):
        weight = const(xp, weight, loss)
    if not hasattr(weight, "shape"):
        raise LossInputError(function, "weight", "an array or a number", describe(weight))
    try:
        weight = to_namespace(xp, weight, loss)
    except Exception:
        raise LossInputError(
            function, "weight", "an array of the same library as 'pred'", describe(weight)
        ) from None
    check_interval(function, "weight", xp, weight, 0.0, math.inf)
    try:
        weight = xp.broadcast_to(xp.astype(weight, loss.dtype), tuple(loss.shape))
    except (ValueError, RuntimeError, TypeError):
        raise LossInputError(
            function,
            "weight",
            f"a shape broadcastable to the unreduced loss {tuple(loss.shape)}",
            f"shape {tuple(weight.shape)}",
        ) from None
    return weight


def reduce_loss(
    xp: Any, loss: Any, weight: Any = None, reduction: str = "mean", *, function: str = "loss"
) -> Any:
    """Reduce an unreduced loss array.

    - ``"none"``: ``w * l`` elementwise (``l`` without weights).
    - ``"sum"``: ``sum(w * l)``.
    - ``"mean"``: ``sum(w * l) / sum(w)``; without weights ``sum(l) / n``.
    - ``"sum_by_nonzero_weights"``: ``sum(w * l) / count(w != 0)`` (TensorFlow's convention);
      without weights it equals ``"mean"``.

    A mean over nothing (no elements, or all weights zero) is 0 and stays connected to the graph.
    """
    check_reduction(function, reduction)
    weight = prepare_weight(function, xp, weight, loss)
    if weight is None:
        weighted = loss
    else:  # a zero weight masks the element out entirely, even where the loss is inf or NaN
        weighted = xp.where(weight == 0, const(xp, 0.0, loss), weight * loss)
    if reduction == "none":
        return weighted
    total = xp.sum(weighted)
    if reduction == "sum":
        return total
    if weight is None:
        count = const(xp, float(max(size(loss), 1)), total)
    else:
        if reduction == "mean":
            count = xp.sum(weight)
        else:
            count = xp.sum(xp.astype(weight != 0, total.dtype))
        count = xp.where(count == 0, const(xp, 1.0, count), count)
    return total / count
