"""The one reduction used by every loss in the library, and what every kernel returns.

A kernel (the definition of a loss, or a backend fast path) returns an :class:`Unreduced`: the
per-sample loss, already multiplied by any implicit weight (the class weight of the true class,
0 for an ignored sample), and that implicit weight, which is what "mean" divides by. The user's
``weight=`` multiplies both. So the class-weighted mean of cross entropy is
``sum(w[y] * l) / sum(w[y])``, as PyTorch defines it, and an ignored sample counts nowhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from array_api_compat import size

from ._validate import LossInputError, check_interval, describe
from ._xp import const, times_finite, to_namespace

REDUCTIONS = ("mean", "sum", "none", "sum_by_nonzero_weights")


@dataclass
class Unreduced:
    """The unreduced loss.

    Attributes:
        values: the per-sample loss (the loss's output shape), implicit weight included:
            ``reduction="none"`` returns it (times the user's weight).
        weight: the implicit weight of each sample (same shape), the denominator of "mean";
            None means 1 for every sample.
        mean_scale: a factor of each sample's value in the averages ("mean" and
            "sum_by_nonzero_weights"; CTC's mean divides each sample's loss by its target
            length, as PyTorch's does); None means 1.
    """

    values: Any
    weight: Any = None
    mean_scale: Any = None


def check_reduction(function: str, reduction: Any) -> None:
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise LossInputError(function, "reduction", f"one of {REDUCTIONS}", repr(reduction))


def prepare_weight(function: str, xp: Any, weight: Any, like: Any, shape: tuple[int, ...]) -> Any:
    """``weight`` as an array of ``like``'s namespace, dtype and device, broadcast to ``shape``
    (the unreduced loss's shape; broadcasting may only expand the weight). Weights are real and
    >= 0 (the sign is a value check: skipped when disabled or under tracing)."""
    if weight is None:
        return None
    if isinstance(weight, (int, float)) and not isinstance(weight, bool):
        weight = const(xp, weight, like)
    if not hasattr(weight, "shape") or not hasattr(weight, "dtype"):
        raise LossInputError(function, "weight", "an array or a number", describe(weight))
    try:
        weight = to_namespace(xp, weight, like)
    except Exception:
        raise LossInputError(
            function, "weight", "an array of the same library as the inputs", describe(weight)
        ) from None
    if not xp.isdtype(weight.dtype, ("bool", "integral", "real floating")):
        raise LossInputError(function, "weight", "real weights", describe(weight))
    check_interval(function, "weight", xp, weight, 0.0, math.inf)
    try:
        cast = weight if weight.dtype == like.dtype else xp.astype(weight, like.dtype)
        weight = xp.broadcast_to(cast, shape)
    except (ValueError, RuntimeError, TypeError):
        raise LossInputError(
            function,
            "weight",
            f"a shape broadcastable to the unreduced loss {shape}",
            f"shape {tuple(weight.shape)}",
        ) from None
    return weight


def reduce_loss(
    xp: Any,
    unreduced: Unreduced | Any,
    weight: Any = None,
    reduction: str = "mean",
    *,
    function: str = "loss",
) -> Any:
    """Reduce an unreduced loss ``l`` with implicit weights ``v`` and user weights ``w``.

    - ``"none"``: ``w * l`` per sample.
    - ``"sum"``: ``sum(w * l)``.
    - ``"mean"``: ``sum(w * l * m) / sum(w * v)``; without any weight ``sum(l * m) / n``
      (``m``: the unreduced loss's ``mean_scale``, 1 for all but CTC).
    - ``"sum_by_nonzero_weights"``: ``sum(w * l * m) / count(w * v != 0)`` (TensorFlow's
      convention); without any weight it equals ``"mean"``.

    A zero user weight masks its sample out entirely, even where its loss is inf or NaN. A mean
    over nothing (no samples, every weight 0, every sample ignored) is 0 and stays connected to
    the autograd graph. ``unreduced`` may be a bare array (no implicit weight). ``weight`` must
    already have the loss's shape (:func:`prepare_weight`), or be None.
    """
    check_reduction(function, reduction)
    if not isinstance(unreduced, Unreduced):
        unreduced = Unreduced(unreduced)
    values, implicit = unreduced.values, unreduced.weight
    if weight is None:
        weighted = values
    else:
        weighted = times_finite(xp, weight, values)
    if reduction == "none":
        return weighted
    if reduction in ("mean", "sum_by_nonzero_weights") and unreduced.mean_scale is not None:
        weighted = weighted * unreduced.mean_scale
    total = xp.sum(weighted)
    if reduction == "sum":
        return total
    norm = weight if implicit is None else implicit if weight is None else weight * implicit
    if norm is None:
        return total / const(xp, float(max(size(values), 1)), total)
    if reduction == "mean":
        count = xp.sum(norm)
    else:
        count = xp.sum(xp.astype(norm != 0, total.dtype))
    return total / xp.where(count == 0, const(xp, 1.0, count), count)
