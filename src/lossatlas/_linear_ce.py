"""What the fused linear cross entropies of ``lossatlas.torch`` and ``lossatlas.jax`` share,
written once against the array API: the argument checks, the chunk sizes and the online
log-sum-exp over vocabulary pieces.

Per token, for the logits z of one vocabulary piece, the statistics are (top, rest, spread, n):
the largest logit, ``rest`` = the sum of exp(z - top) over every class but one largest (so the
log-sum-exp is ``top + log1p(rest)``, exact where rest is tiny), ``spread`` = the sum of
(z - top) (for label smoothing; None without it) and the number of classes n.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._validate import LossInputError, check_parameter, describe

NAME = "linear_cross_entropy"
REDUCTIONS = ("mean", "sum", "none")
#: the default chunk holds about this many logits: 2**24, 64 MB in float32
CHUNK_ELEMENTS = 2**24


def default_chunk_size(vocab: int) -> int:
    """Rows per token chunk: as many as keep one chunk's logits near ``CHUNK_ELEMENTS``
    (2**24 logits, 64 MB in float32), a multiple of 8 where that is at least 8."""
    rows = max(1, CHUNK_ELEMENTS // max(vocab, 1))
    return rows if rows < 8 else rows - rows % 8


def vocab_pieces(vocab: int, step: int | None) -> list[tuple[int, int]]:
    """(start, stop) of the vocabulary pieces of ``step`` classes (one piece for None)."""
    step = step if step and step < vocab else vocab
    return [(v0, min(v0 + step, vocab)) for v0 in range(0, vocab, step)]


def check_inputs(
    function: str,
    xp: Any,
    hidden: Any,
    weight: Any,
    target: Any,
    bias: Any,
    *,
    is_array: Callable[[Any], bool],
    kind: str,
) -> None:
    """hidden (..., H) floating, weight (V, H) and bias (V,) of hidden's dtype, an integer
    target of hidden's leading shape; ``kind`` names the arrays expected ("a torch tensor")."""
    for name, value in (("hidden", hidden), ("weight", weight), ("target", target)):
        if not is_array(value):
            raise LossInputError(function, name, kind, describe(value))
    if hidden.ndim < 1 or not xp.isdtype(hidden.dtype, "real floating"):
        raise LossInputError(
            function, "hidden", "a floating-point array of shape (..., H)", describe(hidden)
        )
    if weight.ndim != 2 or weight.shape[1] != hidden.shape[-1] or weight.shape[0] < 1:
        raise LossInputError(
            function,
            "weight",
            f"an array of shape (V, {hidden.shape[-1]}) with V >= 1",
            describe(weight),
        )
    if weight.dtype != hidden.dtype:
        raise LossInputError(function, "weight", f"dtype {hidden.dtype}", describe(weight))
    if bias is not None and (
        not is_array(bias) or tuple(bias.shape) != (weight.shape[0],) or bias.dtype != hidden.dtype
    ):
        raise LossInputError(
            function,
            "bias",
            f"None or a {hidden.dtype} array of shape ({weight.shape[0]},)",
            describe(bias),
        )
    if not xp.isdtype(target.dtype, "integral"):
        raise LossInputError(
            function, "target", "an integer array of class indices", describe(target)
        )
    if tuple(target.shape) != tuple(hidden.shape[:-1]):
        raise LossInputError(
            function,
            "target",
            f"shape {tuple(hidden.shape[:-1])} (hidden's leading dimensions)",
            f"shape {tuple(target.shape)}",
        )


def check_options(
    function: str,
    ignore_index: Any,
    label_smoothing: Any,
    softcap: Any,
    z_loss: Any,
    reduction: Any,
) -> tuple[int | None, float, float | None, float]:
    """(ignore_index, label_smoothing, softcap, z_loss), checked; the reduction too."""
    if ignore_index is not None:
        ignore_index = check_parameter(
            function, "ignore_index", ignore_index, None, None, integer=True
        )
    smoothing = float(check_parameter(function, "label_smoothing", label_smoothing, 0.0, 1.0))
    softcap = check_softcap(function, softcap)
    z_loss = float(check_parameter(function, "z_loss", z_loss, 0.0, None))
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise LossInputError(function, "reduction", f"one of {REDUCTIONS}", repr(reduction))
    return ignore_index, smoothing, softcap, z_loss


def check_softcap(function: str, softcap: Any) -> float | None:
    """None, or a cap > 0."""
    if softcap is None:
        return None
    return float(check_parameter(function, "softcap", softcap, 0.0, None, low_inclusive=False))


def check_chunk(function: str, name: str, value: Any) -> int | None:
    """A chunk size: None (the default) or an integer >= 1."""
    if value is None:
        return None
    return int(check_parameter(function, name, value, 1, None, integer=True))


def merge(xp: Any, a: tuple, b: tuple) -> tuple:
    """Online-softmax merge of the (top, rest, spread, n) of two sets of classes: exact, as the
    largest entry of the set with the smaller max joins the others as exp(m_b - m_a)(1 + rest_b).
    """
    top_a, rest_a, spread_a, n_a = a
    top_b, rest_b, spread_b, n_b = b
    top = xp.maximum(top_a, top_b)
    rest = xp.where(
        top_a >= top_b,
        rest_a + (1.0 + rest_b) * xp.exp(top_b - top_a),
        rest_b + (1.0 + rest_a) * xp.exp(top_a - top_b),
    )
    spread = None
    if spread_a is not None:
        spread = spread_a + n_a * (top_a - top) + spread_b + n_b * (top_b - top)
    return top, rest, spread, n_a + n_b


def finish(
    xp: Any,
    top: Any,
    rest: Any,
    z_y: Any,
    spread: Any,
    vocab: int,
    smoothing: float,
    z_loss: float,
) -> tuple[Any, Any, Any]:
    """(per-token values, lse, nll_y) from the merged statistics and the target's logit:
    (1 - s) nll_y + s (log_s - spread / V) + z_loss lse^2, nll_y = log1p(rest) - (z_y - top)."""
    log_s = xp.log1p(rest)
    lse = top + log_s
    nll_y = log_s - (z_y - top)
    values = nll_y * (1.0 - smoothing) if smoothing else nll_y
    if smoothing:
        values = values + smoothing * (log_s - spread / vocab)
    if z_loss:
        values = values + z_loss * lse * lse
    return values, lse, nll_y
