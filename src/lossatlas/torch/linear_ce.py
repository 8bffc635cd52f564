"""Fused linear + softmax cross entropy that never builds the (tokens, vocab) logits.

``linear_cross_entropy(hidden, weight, target)`` equals
``F.cross_entropy(F.linear(hidden, weight, bias), target)`` (plus the options of
``lossatlas.cross_entropy``: label smoothing, ``ignore_index``, Gemma 2's logit ``softcap``,
PaLM's ``z_loss``), but works through the tokens ``chunk_size`` rows at a time, and, with
``vocab_chunk_size``, through the vocabulary a slice at a time with an online log-sum-exp.
At 8192 tokens and a 128k vocabulary the float32 logits alone take 4 GB; here the largest
intermediate is one chunk's logits (about 64 MB by default).

When a gradient is needed and the reduction is "mean" or "sum", the forward pass computes it,
chunk by chunk, as Liger-Kernel does: with G = dl/dz of a chunk (softmax minus the target
distribution, times the derivatives of the softcap and of the z-loss), grad_hidden of the
chunk is G @ W, grad_weight += G^T @ h and grad_bias += G.sum(0). The backward only scales
them by the upstream (scalar) gradient. The matmul work is the naive version's (three of
tokens x hidden x vocab) and only a chunk's logits are ever live. With ``reduction="none"``
the upstream gradient is per token and unknown in the forward pass: the backward recomputes
the logits chunk by chunk (four matmuls in all). Vocabulary chunking costs a fourth matmul
too (the logits are recomputed after the log-sum-exp pass).

Accuracy is ``lossatlas.cross_entropy``'s: nll_y = log1p(T) - (z_y - m), with m the largest
logit and T the sum of exp(z - m) over every other class, exact where the loss is tiny, and
the true class's gradient through expm1(-nll_y). float64 computes in float64; float32 and
bfloat16 keep the softmax, the log-sum-exp and every gradient accumulator in float32 (the
matmuls run in the input dtype) and return the input dtypes.

For a vocabulary split across devices (tensor parallelism), ``linear_cross_entropy_stats``
computes per-token statistics of one vocabulary shard and
``combine_linear_cross_entropy_stats`` merges the shards' statistics exactly into the loss
(values only: the gradient of a shard needs the merged log-sum-exp, not offered yet).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import array_api_compat.torch as xp
import torch
from torch import nn

from .._linear_ce import (
    CHUNK_ELEMENTS,
    NAME,
    check_chunk,
    check_options,
    check_softcap,
    default_chunk_size,
    finish,
    merge,
    vocab_pieces,
)
from .._linear_ce import check_inputs as _check_arrays
from .._validate import LossInputError, check_class_indices, check_parameter

Tensor = torch.Tensor


class _Options(NamedTuple):
    smoothing: float
    softcap: float | None
    z_loss: float
    vocab_chunk: int | None


class LinearCrossEntropyStats(NamedTuple):
    """Per-token statistics of the logits of one vocabulary shard (each of the target's shape).

    ``max``: the largest logit; ``rest``: the sum of exp(z - max) over every class but one
    largest (so the shard's log-sum-exp is ``max + log1p(rest)``, exact where rest is tiny);
    ``lse``: that log-sum-exp; ``target_logit``: the target's logit, 0 where the target is
    not in this shard; ``in_shard``: whether it is; ``shifted_sum``: sum of (z - max) over
    the shard (<= 0; the sum of logits is ``shifted_sum + vocab_size * max``, without its
    cancellation); ``vocab_size``: the shard's number of classes.
    """

    max: Tensor
    rest: Tensor
    lse: Tensor
    target_logit: Tensor
    in_shard: Tensor
    shifted_sum: Tensor
    vocab_size: int

    @property
    def logit_sum(self) -> Tensor:
        return self.shifted_sum + self.vocab_size * self.max


# ---- checks -------------------------------------------------------------------------------------
def _check_inputs(function: str, hidden: Any, weight: Any, target: Any, bias: Any) -> None:
    _check_arrays(
        function, xp, hidden, weight, target, bias,
        is_array=lambda v: isinstance(v, Tensor), kind="a torch tensor",
    )  # fmt: skip


def _acc_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


# ---- the chunk kernels --------------------------------------------------------------------------
def _logits(
    h: Tensor, w: Tensor, b: Tensor | None, acc: torch.dtype, softcap: float | None
) -> tuple[Tensor, Tensor | None]:
    """(z, t): the (capped) logits of rows h for classes w, in the accumulation dtype, and, with
    a softcap, t = tanh(x / c) (z = c t), kept for the derivative 1 - t^2."""
    z = torch.mm(h, w.t()) if b is None else torch.addmm(b, h, w.t())
    if z.dtype != acc:
        z = z.to(acc)
    if softcap is None:
        return z, None
    t = z.div_(softcap).tanh_()
    return t * softcap, t


def _piece_stats(z: Tensor, local: Tensor, in_piece: Tensor | None, smoothing: float):
    """Statistics of one vocabulary piece of logits z (n, v), which it turns into
    e = exp(z - max) in place, with 0 at one largest entry. Returns (top, at, rest, z_y, spread,
    e): rest = sum e, z_y the target's logit (0 off the piece), spread = sum (z - top)."""
    top, at = z.max(dim=-1, keepdim=True)
    z_y = z.gather(-1, local)
    if in_piece is not None:
        z_y = torch.where(in_piece, z_y, 0.0)
    e = z.sub_(top)
    spread = e.sum(dim=-1, keepdim=True) if smoothing else None
    e.exp_().scatter_(-1, at, 0.0)
    rest = e.sum(dim=-1, keepdim=True)
    return top, at, rest, z_y, spread, e


def _gradient_(
    p: Tensor,
    norm: Tensor | None,
    t: Tensor | None,
    lse: Tensor,
    nll_y: Tensor,
    local: Tensor,
    in_piece: Tensor | None,
    scale: Tensor,
    vocab: int,
    opts: _Options,
) -> Tensor:
    """dl/dx of a piece, in place of p = softmax (n, v) (or of p * (1 + T), with norm = 1 / (1 +
    T), one multiplication fewer): scale (A p - s / V - (1 - s) [c = y]) with A = 1 + 2 z_loss
    lse, the true class's entry A p_y - a_y as a_y expm1(-nll_y) + (A - a_y) p_y (no
    cancellation where p_y is near 1), times 1 - t^2 under a softcap."""
    s = opts.smoothing
    big_a = 1.0 + (2.0 * opts.z_loss) * lse if opts.z_loss else None
    a_y = 1.0 - s + s / vocab
    p_y = torch.exp(-nll_y)
    exact_y = a_y * torch.expm1(-nll_y) + ((1.0 - a_y) if big_a is None else big_a - a_y) * p_y
    factor = scale if big_a is None else scale * big_a
    g = p.mul_(factor if norm is None else factor * norm)
    if s:
        g.sub_((s / vocab) * scale)
    exact_y = exact_y * scale
    if in_piece is not None:
        exact_y = torch.where(in_piece, exact_y, g.gather(-1, local))
    g.scatter_(-1, local, exact_y)
    if t is not None:
        g.mul_(t.mul_(t).neg_().add_(1.0))
    return g


class _Grads:
    """Gradient accumulators (in the accumulation dtype) of weight and bias, or None."""

    def __init__(self, weight: Tensor, bias: Tensor | None, want_w: bool, want_b: bool, acc):
        # the first token chunk sets the weight's gradient, unless it is accumulated wider
        make = torch.empty if acc == weight.dtype else torch.zeros
        self.w = make(weight.shape, dtype=acc, device=weight.device) if want_w else None
        self.b = (
            torch.zeros(weight.shape[0], dtype=acc, device=weight.device)
            if want_b and bias is not None
            else None
        )


def _add_mm_(out: Tensor, a: Tensor, b: Tensor, first: bool) -> None:
    """out += a @ b (out = a @ b if first), with a and b in the input dtype and out possibly
    wider (bfloat16 into float32: a temporary of out's size in the input dtype)."""
    if out.dtype != a.dtype:
        out.add_(torch.mm(a, b))
    elif first:
        torch.mm(a, b, out=out)
    else:
        out.addmm_(a, b)


def _chunk(
    h: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    label: Tensor,
    scale: Tensor | None,
    opts: _Options,
    grads: _Grads | None,
    grad_h: Tensor | None,
    first: bool,
) -> Tensor:
    """Values (n,) of one token chunk and, with ``scale`` (n, 1; the per-token factor of the
    gradient, 0 where ignored), its grad_hidden written into ``grad_h`` (n, H; None: not
    wanted) and its share of the weight's and bias's gradients added to ``grads`` (set by the
    ``first`` chunk)."""
    acc = _acc_dtype(h.dtype)
    vocab = weight.shape[0]
    index = label.unsqueeze(-1)
    pieces = vocab_pieces(vocab, opts.vocab_chunk)
    state = None
    z_y = None
    kept = None
    for v0, v1 in pieces:
        w = weight[v0:v1]
        b = None if bias is None else bias[v0:v1]
        z, t = _logits(h, w, b, acc, opts.softcap)
        if len(pieces) == 1:
            local, in_piece = index, None
        else:
            in_piece = (index >= v0) & (index < v1)
            local = torch.where(in_piece, index - v0, 0)
        top, at, rest, y_part, spread, e = _piece_stats(z, local, in_piece, opts.smoothing)
        z_y = y_part if z_y is None else z_y + y_part
        piece = (top, rest, spread, v1 - v0)
        state = piece if state is None else merge(xp, state, piece)
        if len(pieces) == 1:
            kept = (e, at, t)
        del z, t, e
    top, rest, spread, _ = state
    values, lse, nll_y = finish(xp, top, rest, z_y, spread, vocab, opts.smoothing, opts.z_loss)
    if scale is None:
        return values.squeeze(-1)
    acc_h = None
    for v0, v1 in pieces:
        w = weight[v0:v1]
        norm = None
        if kept is not None:  # one piece: e = exp(z - top), 0 at the largest entry
            e, at, t = kept
            kept = None
            p = e.scatter_(-1, at, 1.0)  # p (1 + T)
            norm = torch.reciprocal(1.0 + rest)
            local, in_piece = index, None
        else:
            b = None if bias is None else bias[v0:v1]
            z, t = _logits(h, w, b, acc, opts.softcap)
            p = z.sub_(lse).exp_()
            in_piece = (index >= v0) & (index < v1)
            local = torch.where(in_piece, index - v0, 0)
        g = _gradient_(p, norm, t, lse, nll_y, local, in_piece, scale, vocab, opts)
        del p, t
        if grads.b is not None:
            grads.b[v0:v1] += g.sum(dim=0)
        g_in = g if g.dtype == h.dtype else g.to(h.dtype)
        del g
        if grads.w is not None:
            _add_mm_(grads.w[v0:v1], g_in.t(), h, first)
        if grad_h is not None:
            if len(pieces) == 1:
                torch.mm(g_in, w, out=grad_h)
            elif acc_h is None:
                acc_h = torch.mm(g_in, w).to(acc)
            else:
                _add_mm_(acc_h, g_in, w, False)
        del g_in
    if acc_h is not None:
        grad_h.copy_(acc_h)
    return values.squeeze(-1)


def _run(
    hidden: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    label: Tensor,
    scale: Tensor | None,
    opts: _Options,
    chunk: int,
    want: tuple[bool, bool, bool],
) -> tuple[Tensor, Tensor | None, Tensor | None, Tensor | None]:
    """Values (N,) in the accumulation dtype and, with ``scale`` (N,), the gradients
    (hidden, weight, bias: None where not wanted) in the input dtypes."""
    acc = _acc_dtype(hidden.dtype)
    n = hidden.shape[0]
    values = torch.empty(n, dtype=acc, device=hidden.device)
    grads = grad_h = None
    if scale is not None:
        grads = _Grads(weight, bias, want[1], want[2], acc)
        if want[0]:
            grad_h = torch.empty(hidden.shape, dtype=hidden.dtype, device=hidden.device)
    for r0 in range(0, n, chunk):
        r1 = min(r0 + chunk, n)
        sc = None if scale is None else scale[r0:r1].unsqueeze(-1)
        gh = None if grad_h is None else grad_h[r0:r1]
        values[r0:r1] = _chunk(
            hidden[r0:r1], weight, bias, label[r0:r1], sc, opts, grads, gh, r0 == 0
        )
    if grads is None:
        return values, None, None, None
    gw = None if grads.w is None else grads.w.to(weight.dtype)
    gb = None if grads.b is None else grads.b.to(bias.dtype)
    return values, grad_h, gw, gb


def _reduce(values: Tensor, valid: Tensor, reduction: str, count: Tensor | None = None) -> Tensor:
    """The masked values (N,) reduced: "mean" divides by the number of tokens not ignored
    (at least 1, so 0 when all are)."""
    if reduction == "none":
        return values
    total = values.sum()
    if reduction == "sum":
        return total
    return total / (valid.sum().clamp(min=1) if count is None else count)


class _LinearCrossEntropy(torch.autograd.Function):
    """Values per token ("none") or their masked mean or sum, of (N, H) hidden rows.

    For "mean" and "sum" with a gradient wanted, the forward computes the gradients and keeps
    them (not as saved tensors: the backward hands them over and drops them, so autograd can
    take them without a copy); a second backward through a retained graph recomputes. For
    "none" the backward recomputes, with the upstream gradient as the per-token scale.
    """

    @staticmethod
    def forward(ctx, hidden, weight, bias, label, valid, reduction, opts, chunk):
        want = (
            ctx.needs_input_grad[0],
            ctx.needs_input_grad[1],
            bias is not None and ctx.needs_input_grad[2],
        )
        acc = _acc_dtype(hidden.dtype)
        count = None
        scale = None
        if reduction != "none" and any(want):
            scale = valid.to(acc)
            if reduction == "mean":
                count = scale.sum().clamp_(min=1.0)
                scale = scale / count
        values, gh, gw, gb = _run(hidden, weight, bias, label, scale, opts, chunk, want)
        values = values * valid
        ctx.save_for_backward(hidden, weight, bias, label, valid)
        ctx.setup = (reduction, opts, chunk, want)
        ctx.grads = None if scale is None else (gh, gw, gb)
        return _reduce(values, valid, reduction, count).to(hidden.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        reduction, opts, chunk, want = ctx.setup
        grads, ctx.grads = ctx.grads, None
        if grads is not None:  # computed in the forward: scale by the scalar upstream gradient
            g = grad_out.to(_acc_dtype(grad_out.dtype))
            out = tuple(None if x is None else x.mul_(g.to(x.dtype)) for x in grads)
        else:
            hidden, weight, bias, label, valid = ctx.saved_tensors
            acc = _acc_dtype(hidden.dtype)
            scale = valid.to(acc)
            if reduction == "mean":
                scale = scale / scale.sum().clamp(min=1.0)
            scale = scale * grad_out.to(acc)
            _, *out = _run(hidden, weight, bias, label, scale, opts, chunk, want)
            out = tuple(out)
        return out[0], out[1], out[2], None, None, None, None, None


def linear_cross_entropy(
    hidden: Tensor,
    weight: Tensor,
    target: Tensor,
    *,
    bias: Tensor | None = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    softcap: float | None = None,
    z_loss: float = 0.0,
    reduction: str = "mean",
    chunk_size: int | None = None,
    vocab_chunk_size: int | None = None,
) -> Tensor:
    """Softmax cross entropy of the logits ``hidden @ weight.T + bias``, without building them.

    hidden (..., H) (any leading dims are tokens), weight (V, H) (``nn.Linear``'s layout),
    bias (V,) or None, target (...) integer class indices. Per token, with z the logits
    (``softcap`` c first makes them c tanh(z / c), as Gemma 2), s = ``label_smoothing``:

        l = lse(z) - (1 - s) z_y - (s / V) sum_c z_c + z_loss lse(z)^2

    (``z_loss``: PaLM's auxiliary loss); a token whose target is ``ignore_index`` gives 0 and
    no gradient. ``reduction``: "mean" (over the tokens not ignored, as
    ``F.cross_entropy``; 0 when all are, with the graph connected), "sum" or "none" (the
    target's shape). Equal to ``lossatlas.cross_entropy`` on the materialised logits.

    ``chunk_size``: tokens per chunk (default ``default_chunk_size(V)``: about 2**24 logits,
    64 MB in float32, per chunk). ``vocab_chunk_size``: classes per slice of the vocabulary,
    merged with an online log-sum-exp (default: the whole vocabulary at once; set it for a
    vocabulary so large that even a few rows of logits do not fit; it costs one more matmul).
    With a gradient needed, "mean" and "sum" compute it in the forward pass (three matmuls in
    all, the naive version's work), "none" recomputes in the backward (four). Gradients flow
    to hidden, weight and bias (only to those that require it); no double backward.
    """
    _check_inputs(NAME, hidden, weight, target, bias)
    ignore_index, smoothing, softcap, z_loss = check_options(
        NAME, ignore_index, label_smoothing, softcap, z_loss, reduction
    )
    chunk = check_chunk(NAME, "chunk_size", chunk_size)
    vocab_chunk = check_chunk(NAME, "vocab_chunk_size", vocab_chunk_size)
    vocab = weight.shape[0]
    check_class_indices(NAME, "target", xp, target, vocab, ignore_index)
    shape = tuple(target.shape)
    h = hidden.reshape(-1, hidden.shape[-1])
    y = target.reshape(-1)
    valid = torch.ones_like(y, dtype=torch.bool) if ignore_index is None else y != ignore_index
    label = torch.where(valid, y, 0).long()
    opts = _Options(smoothing, softcap, z_loss, vocab_chunk)
    chunk = chunk or default_chunk_size(vocab)
    valid = valid.to(_acc_dtype(hidden.dtype))
    grad_wanted = torch.is_grad_enabled() and any(
        x is not None and x.requires_grad for x in (hidden, weight, bias)
    )
    if grad_wanted:
        out = _LinearCrossEntropy.apply(h, weight, bias, label, valid, reduction, opts, chunk)
    else:  # forward only
        values = _run(h, weight, bias, label, None, opts, chunk, (False,) * 3)[0] * valid
        out = _reduce(values, valid, reduction).to(hidden.dtype)
    return out.reshape(shape) if reduction == "none" else out


# ---- vocabulary-parallel statistics ----------------------------------------------------------
@torch.no_grad()
def linear_cross_entropy_stats(
    hidden: Tensor,
    weight: Tensor,
    target: Tensor,
    *,
    bias: Tensor | None = None,
    vocab_offset: int = 0,
    softcap: float | None = None,
    chunk_size: int | None = None,
) -> LinearCrossEntropyStats:
    """Statistics of the logits of one vocabulary shard: classes ``vocab_offset`` to
    ``vocab_offset + V_shard`` (weight (V_shard, H) and bias hold that shard's rows), for the
    tokens of hidden (..., H) and their global class indices ``target`` (...). Merge every
    shard's with ``combine_linear_cross_entropy_stats`` (after an all-gather, say). Values
    only (no gradient), in the accumulation dtype (float32 for float32 and bfloat16)."""
    function = "linear_cross_entropy_stats"
    _check_inputs(function, hidden, weight, target, bias)
    softcap = check_softcap(function, softcap)
    offset = int(check_parameter(function, "vocab_offset", vocab_offset, 0, None, integer=True))
    chunk = check_chunk(function, "chunk_size", chunk_size)
    vocab = weight.shape[0]
    chunk = chunk or default_chunk_size(vocab)
    acc = _acc_dtype(hidden.dtype)
    h = hidden.reshape(-1, hidden.shape[-1])
    y = target.reshape(-1, 1).long()
    fields = []
    for r0 in range(0, h.shape[0], chunk):
        index = y[r0 : r0 + chunk]
        z, _ = _logits(h[r0 : r0 + chunk], weight, bias, acc, softcap)
        in_shard = (index >= offset) & (index < offset + vocab)
        local = torch.where(in_shard, index - offset, 0)
        top, _, rest, z_y, spread, _ = _piece_stats(z, local, in_shard, True)
        fields.append((top, rest, z_y, in_shard, spread))
        del z
    top, rest, z_y, in_shard, spread = (
        torch.cat(parts).reshape(target.shape) for parts in zip(*fields, strict=True)
    )
    return LinearCrossEntropyStats(top, rest, top + torch.log1p(rest), z_y, in_shard, spread, vocab)


def combine_linear_cross_entropy_stats(
    stats: Sequence[LinearCrossEntropyStats],
    target: Tensor,
    *,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    z_loss: float = 0.0,
    reduction: str = "mean",
) -> Tensor:
    """The loss of ``linear_cross_entropy`` from the statistics of every vocabulary shard
    (any order), merged exactly with the online-softmax combination: the same value, to
    rounding, as one call over the whole vocabulary (compute the shards' statistics with the
    same ``softcap``). Values only."""
    function = "combine_linear_cross_entropy_stats"
    ignore_index, smoothing, _, z_loss = check_options(
        function, ignore_index, label_smoothing, None, z_loss, reduction
    )
    if not stats:
        raise LossInputError(function, "stats", "the statistics of at least one shard", "none")
    shape = tuple(target.shape)
    for st in stats:
        if tuple(st.max.shape) != shape:
            raise LossInputError(
                function, "stats", f"statistics of shape {shape}", f"shape {tuple(st.max.shape)}"
            )
    vocab = sum(st.vocab_size for st in stats)
    check_class_indices(function, "target", xp, target, vocab, ignore_index)
    state = None
    z_y = 0.0
    covered = torch.zeros(shape, dtype=torch.int64, device=target.device)
    for st in stats:
        piece = (st.max, st.rest, st.shifted_sum, st.vocab_size)
        state = piece if state is None else merge(xp, state, piece)
        z_y = z_y + st.target_logit
        covered = covered + st.in_shard.long()
    valid = torch.ones(shape, dtype=torch.bool, device=target.device)
    if ignore_index is not None:
        valid = target != ignore_index
    if not bool(((covered == 1) | ~valid).all()):
        raise LossInputError(
            function,
            "stats",
            "shards that hold every target exactly once",
            "a target in no shard or in several",
        )
    top, rest, spread, _ = state
    opts = _Options(smoothing, None, z_loss, None)
    values, _, _ = finish(xp, top, rest, z_y, spread, vocab, opts.smoothing, opts.z_loss)
    valid = valid.to(values.dtype)
    return _reduce(values * valid, valid, reduction)


class LinearCrossEntropyLoss(nn.Module):
    """``linear_cross_entropy`` as a module: ``LinearCrossEntropyLoss(ignore_index=-100,
    label_smoothing=0.0, softcap=None, z_loss=0.0, reduction="mean", chunk_size=None,
    vocab_chunk_size=None)``, ``forward(hidden, weight, target, bias=None)``.

    It takes the output layer's ``weight`` (and ``bias``) in forward rather than owning an
    ``nn.Linear``: the head is often tied to the input embedding (``model.embed.weight``) or
    sharded, and the model keeps its parameters where its optimiser, checkpoint and
    parallelism wrappers expect them. ``ignore_index`` defaults to -100 as in
    ``torch.nn.CrossEntropyLoss`` (the functional's default is None).
    """

    def __init__(
        self,
        ignore_index: int | None = -100,
        label_smoothing: float = 0.0,
        *,
        softcap: float | None = None,
        z_loss: float = 0.0,
        reduction: str = "mean",
        chunk_size: int | None = None,
        vocab_chunk_size: int | None = None,
    ) -> None:
        super().__init__()
        name = "LinearCrossEntropyLoss"
        ignore_index, label_smoothing, softcap, z_loss = check_options(
            name, ignore_index, label_smoothing, softcap, z_loss, reduction
        )
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        self.softcap = softcap
        self.z_loss = z_loss
        self.reduction = reduction
        self.chunk_size = check_chunk(name, "chunk_size", chunk_size)
        self.vocab_chunk_size = check_chunk(name, "vocab_chunk_size", vocab_chunk_size)

    def forward(
        self, hidden: Tensor, weight: Tensor, target: Tensor, bias: Tensor | None = None
    ) -> Tensor:
        return linear_cross_entropy(
            hidden,
            weight,
            target,
            bias=bias,
            ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing,
            softcap=self.softcap,
            z_loss=self.z_loss,
            reduction=self.reduction,
            chunk_size=self.chunk_size,
            vocab_chunk_size=self.vocab_chunk_size,
        )

    def extra_repr(self) -> str:
        items = [f"ignore_index={self.ignore_index!r}"]
        for name in ("label_smoothing", "softcap", "z_loss", "chunk_size", "vocab_chunk_size"):
            value = getattr(self, name)
            if value not in (None, 0.0):
                items.append(f"{name}={value!r}")
        items.append(f"reduction={self.reduction!r}")
        return ", ".join(items)


__all__ = [
    "CHUNK_ELEMENTS",
    "LinearCrossEntropyLoss",
    "LinearCrossEntropyStats",
    "combine_linear_cross_entropy_stats",
    "default_chunk_size",
    "linear_cross_entropy",
    "linear_cross_entropy_stats",
]
