"""Fast paths for torch tensors, registered with the core and proven equal to the definitions.

Composed array-API code costs 2-10x a native kernel on torch in eager mode, because every op
allocates a temporary and autograd saves several. So, on torch tensors:

1. where torch has a native kernel that computes the same loss to a few ulps over the whole
   input range, it is called (``F.huber_loss``, ``F.mse_loss`` ...); a kernel that is exact
   only on part of the range runs there and declines elsewhere (``F.binary_cross_entropy``
   clamps p(1 - p) at 1e-12 in its backward, so it runs for p in [2e-12, 1 - 2e-12]);
2. losses whose composed form is long get an ``autograd.Function`` that runs the loss's own
   value kernel and backpropagates its analytic gradient, saving only the inputs;
3. the logit cross entropies, the focal loss and the softmax cross entropy have Functions of
   their own, written for accuracy first: torch's native ``binary_cross_entropy_with_logits``
   gives 0 instead of 1.1e-7 at x = -16, y = 0 in float32, and its ``log_softmax`` gives 0
   instead of 4e-9 for a confident right answer; these keep every loss exact to a few ulps;
4. losses over many pixels or boxes (the overlap losses here, the box losses in
   ``_box_fast.py``) run in chunks of rows with a closed-form backward, so that no
   temporary larger than a chunk's is kept and the inputs are all that is saved.

Each fast path returns the unreduced loss (the core's one reducer reduces it) or None where it
does not apply; the core then runs the definition. This module registers them when the core
first meets a torch tensor.
"""

from __future__ import annotations

from typing import Any

import array_api_compat.torch as xp
import torch
import torch.nn.functional as F

from .._backends import register
from .._config import config
from .._reduce import Unreduced
from ..multiclass import _cap_slope, _capped
from ._box_fast import box_fast
from ._contrastive_fast import FAST_PATHS as _CONTRASTIVE_FAST

Tensor = torch.Tensor
#: past this, softplus(x) = x to the last bit even in float64 (exp(-40) < 2**-53 / 40)
SOFTPLUS_THRESHOLD = 40.0


def _needs_grad(value: Any) -> bool:
    return isinstance(value, Tensor) and value.requires_grad


def _finite_or_none(values: Tensor) -> Unreduced | None:
    """The values, or None where the native kernel gave NaN (0 * inf at an infinite input,
    where the definition gives the limit)."""
    return None if bool(torch.isnan(values).any()) else Unreduced(values)


# ---- 1. native kernels ------------------------------------------------------------------------
def _mae(loss: Any, call: Any) -> Unreduced:
    """F.l1_loss: |r|, with the subgradient 0 at r = 0 as the definition."""
    pred, target = call.arrays()
    return Unreduced(F.l1_loss(pred, target, reduction="none"))


def _mse(loss: Any, call: Any) -> Unreduced:
    """F.mse_loss: r^2."""
    pred, target = call.arrays()
    return Unreduced(F.mse_loss(pred, target, reduction="none"))


def _huber(loss: Any, call: Any) -> Unreduced:
    """F.huber_loss: the same branches, and the limits +-delta of the gradient at |r| = inf."""
    pred, target = call.arrays()
    return Unreduced(F.huber_loss(pred, target, reduction="none", delta=call.params["delta"]))


def _smooth_l1(loss: Any, call: Any) -> Unreduced:
    """F.smooth_l1_loss."""
    pred, target = call.arrays()
    return Unreduced(F.smooth_l1_loss(pred, target, reduction="none", beta=call.params["beta"]))


def _poisson(loss: Any, call: Any) -> Unreduced | None:
    """F.poisson_nll_loss, where it is not NaN (it is at pred = -inf with a zero count, at
    pred = +inf, and at a zero rate and count with eps = 0: 0 * inf)."""
    pred, target = call.arrays()
    p = call.params
    out = F.poisson_nll_loss(
        pred, target, log_input=p["log_input"], full=p["full"], eps=p["eps"], reduction="none"
    )
    return _finite_or_none(out)


def _gaussian(loss: Any, call: Any) -> Unreduced | None:
    """F.gaussian_nll_loss, where it is finite (it squares r before dividing, which overflows
    at r = 1e30 in float32) and var needs no gradient (torch passes it through its clamp, the
    definition stops it there); torch also raises on a negative variance, which only the value
    checks rule out."""
    pred, target = call.arrays()
    p = call.params
    var = p["var"]
    if var.requires_grad or not config.check_values:
        return None
    out = F.gaussian_nll_loss(
        pred, target, var.expand_as(pred), full=p["full"], eps=p["eps"], reduction="none"
    )
    return Unreduced(out) if bool(torch.isfinite(out).all()) else None


def _bce(loss: Any, call: Any) -> Unreduced | None:
    """F.binary_cross_entropy for p in [2e-12, 1 - 2e-12]: there it equals the definition
    (it takes log1p(-p) and clamps each log at -100); outside, its backward divides by
    max(p(1 - p), 1e-12) and gives 0.1 instead of 1 at p = 1e-13. Also declined: a target that
    needs a gradient (torch has none), unchecked values (torch raises on targets outside
    [0, 1]) and eps clipping (not torch's)."""
    pred, target = call.arrays()
    if target.requires_grad or not config.check_values or call.params["eps"] is not None:
        return None
    lo, hi = pred.detach().aminmax()
    if not (lo >= 2e-12 and hi <= 1 - 2e-12):
        return None
    return Unreduced(F.binary_cross_entropy(pred, target, reduction="none"))


class _SoftplusOfFlipped(torch.autograd.Function):
    """softplus(x - 2 flip x) for flip in {0, 1}: softplus(x) where flip is 0, softplus(-x)
    where it is 1, each exact (see SOFTPLUS_THRESHOLD); the flip costs one fused addcmul.
    Saves x and flip; a double backward uses the loss's differentiable gradient kernel."""

    @staticmethod
    def forward(ctx, x, flip, exact):
        ctx.save_for_backward(x, flip)
        ctx.exact = exact
        return F.softplus(x.addcmul(flip, x, value=-2.0), threshold=SOFTPLUS_THRESHOLD)

    @staticmethod
    def backward(ctx, grad_out):
        x, flip = ctx.saved_tensors
        if torch.is_grad_enabled():
            return ctx.exact(x) * grad_out, None, None
        s = torch.sigmoid(x.addcmul(flip, x, value=-2.0))  # d/dx = (1 - 2 flip) sigmoid(t)
        return s.addcmul_(flip, s, value=-2.0).mul_(grad_out), None, None


def _logistic(loss: Any, call: Any) -> Unreduced | None:
    """softplus(-y f) for y in {-1, 1} (0 read as -1), through ``_SoftplusOfFlipped``;
    F.soft_margin_loss computes log1p(exp(-y f)), inf past a margin of -88 in float32. An
    infinite score (inf - inf in the flip) declines."""
    pred, target = call.arrays()
    if target.requires_grad:
        return None
    flip = (target > 0).to(pred.dtype)

    def exact(x: Tensor) -> Tensor:
        return loss.grad_kernel(xp, x, target)

    return _finite_or_none(_SoftplusOfFlipped.apply(pred, flip, exact))


# ---- 2. closed-form backward for losses with a long composed form ----------------------------
class _ClosedForm(torch.autograd.Function):
    """Forward with the loss's value kernel, backward with its analytic gradient kernel.

    Saves only pred and target. The backward is written in differentiable torch ops, so
    double backward (Hessian-vector products) works and equals the analytic ``hess``.
    """

    @staticmethod
    def forward(ctx, pred, target, loss, params):
        ctx.save_for_backward(pred, target)
        ctx.loss, ctx.params = loss, params
        return loss.value_kernel(xp, pred, target, **params)

    @staticmethod
    def backward(ctx, grad_out):
        pred, target = ctx.saved_tensors
        grad = ctx.loss.grad_kernel(xp, pred, target, **ctx.params)
        return grad * grad_out, None, None, None


def _closed_form(loss: Any, call: Any) -> Unreduced | None:
    """The loss's own kernels inside an autograd.Function (bitwise the definition's value;
    its analytic gradient), for losses whose composed form is long (log-cosh, pseudo-Huber,
    quantile, measured in benchmarks/bench_torch.py) or whose autograd is inexact (the robust
    losses)."""
    pred, target = call.arrays()
    if target.requires_grad or any(_needs_grad(v) for v in call.params.values()):
        return None
    return Unreduced(_ClosedForm.apply(pred, target, loss, call.params))


# ---- 3. logit cross entropies -------------------------------------------------------------------
class _LogitCrossEntropy(torch.autograd.Function):
    """pos * softplus(-x) + neg * softplus(x), with grad neg * sigmoid(x) - pos * sigmoid(-x).

    Saves x and the coefficients; the backward is in differentiable ops (double backward
    works)."""

    @staticmethod
    def forward(ctx, x, pos, neg):
        ctx.save_for_backward(x, pos, neg)
        m = torch.where(pos >= neg, x, -x)
        values = F.softplus(-m, threshold=SOFTPLUS_THRESHOLD).mul_(pos + neg)
        return values.addcmul_(torch.minimum(pos, neg), m)

    @staticmethod
    def backward(ctx, grad_out):
        x, pos, neg = ctx.saved_tensors
        grad = neg * torch.sigmoid(x) - pos * torch.sigmoid(-x)
        return grad * grad_out, None, None


def _logit_coefficients(target: Tensor, pos_weight: Any, smoothing: float) -> tuple[Any, Any]:
    y = target if not smoothing else target * (1.0 - smoothing) + 0.5 * smoothing
    pos = y if pos_weight is None else pos_weight * y
    return pos, 1.0 - y


def _bce_logits(loss: Any, call: Any) -> Unreduced | None:
    """Binary cross entropy on logits, exact to a few ulps for every logit (torch's native
    kernel is not where the loss is small); NaN (an infinite logit: 0 * inf) declines."""
    pred, target = call.arrays()
    p = call.params
    if target.requires_grad or _needs_grad(p["pos_weight"]):
        return None
    plain = p["pos_weight"] is None and not p["label_smoothing"]
    if plain and bool(((target == 0) | (target == 1)).all()):  # hard labels: one softplus

        def exact(x: Tensor) -> Tensor:
            return loss.grad_kernel(xp, x, target, **p)

        return _finite_or_none(_SoftplusOfFlipped.apply(pred, target, exact))
    pos, neg = _logit_coefficients(target, p["pos_weight"], p["label_smoothing"])
    pos, neg = torch.broadcast_tensors(pos, neg)
    return _finite_or_none(_LogitCrossEntropy.apply(pred, pos, neg))


def _balanced_logits(loss: Any, call: Any) -> Unreduced | None:
    """Balanced cross entropy: on logits the logit cross entropy's Function with coefficients
    beta y and (1 - beta)(1 - y); on probabilities the closed form."""
    pred, target = call.arrays()
    p = call.params
    if not p["from_logits"]:
        return _closed_form(loss, call)
    if target.requires_grad:
        return None
    beta = p["beta"]
    return _finite_or_none(_LogitCrossEntropy.apply(pred, beta * target, (1 - beta) * (1 - target)))


# ---- 4. focal loss --------------------------------------------------------------------------
def _apply_alpha_(t: Tensor, y: Tensor, alpha: float | None) -> Tensor:
    """t *= alpha_t = alpha y + (1 - alpha)(1 - y), in place (no extra full-size tensor)."""
    if alpha is None:
        return t
    if alpha == 1.0:
        return t.mul_(y)
    # alpha_t = (1 - alpha) (1 + c y) with c = (2 alpha - 1) / (1 - alpha)
    return t.mul_(1.0 - alpha).addcmul_(t, y, value=(2.0 * alpha - 1.0) / (1.0 - alpha))


def _focal_forward(
    x: Tensor, y: Tensor, alpha: float | None, gamma: float, with_grad: bool
) -> tuple[Tensor, Tensor | None]:
    """Per-element focal loss and, if asked, its derivative, sharing every intermediate.

    In-place where possible (the composed formula keeps about ten temporaries for autograd).
    1 - p_t = (1-y) sigmoid(x) + y sigmoid(-x) is formed from both sigmoids, and the cross
    entropy per label, softplus(-m) + min(y, 1 - y) m with m = +-x, so neither cancels
    where it is tiny (softplus(x) - x y does, for a confident positive).
    """
    s = torch.sigmoid(x)
    s_neg = torch.sigmoid(-x)
    u = (s_neg - s).mul_(y).add_(s)  # 1 - p_t
    grad = None
    if with_grad:
        grad = (s_neg * y).mul_(-2.0).add_(u)  # d ce / dx = sigmoid(x) - y, without cancellation
    q = s.mul_(s_neg)  # becomes q = (1 - 2y) sigmoid(x) sigmoid(-x) / (1 - p_t)
    del s_neg
    m = torch.where(y >= 0.5, x, -x)
    ce = F.softplus(-m, threshold=SOFTPLUS_THRESHOLD).addcmul_(torch.minimum(y, 1.0 - y), m)
    del m
    if gamma != 0 and with_grad:
        q.div_(u).masked_fill_(u == 0, 1.0)  # the limit where 1 - p_t underflows
        q.addcmul_(q, y, value=-2.0).mul_(ce)
        q.masked_fill_(q.isnan(), 0.0)  # 0 * inf at an infinite logit
        grad.add_(q, alpha=gamma)
    del q
    if gamma != 0:
        modulator = u.pow_(gamma)
        ce.mul_(modulator)
        if with_grad:
            grad.mul_(modulator)
    del u
    if with_grad:
        _apply_alpha_(grad, y, alpha)
    return _apply_alpha_(ce, y, alpha), grad


class _FocalLogits(torch.autograd.Function):
    """Binary focal loss on logits. The forward computes the gradient alongside the loss and
    saves it, so the backward is one multiplication; a double backward (create_graph=True)
    uses the differentiable closed form of the core instead."""

    @staticmethod
    def forward(ctx, x, y, loss, params):
        values, grad = _focal_forward(
            x, y, params["alpha"], params["gamma"], ctx.needs_input_grad[0]
        )
        ctx.save_for_backward(x, y, grad)
        ctx.loss, ctx.params = loss, params
        return values

    @staticmethod
    def backward(ctx, grad_out):
        x, y, grad = ctx.saved_tensors
        if torch.is_grad_enabled():
            grad = ctx.loss.grad_kernel(xp, x, y, **ctx.params)
        return grad * grad_out, None, None, None


def _focal(loss: Any, call: Any) -> Unreduced | None:
    """The focal loss on logits (probabilities: the definition). Infinite logits decline: the
    definition gives the limit there, value and gradient."""
    pred, target = call.arrays()
    if not call.params["from_logits"] or target.requires_grad:
        return None
    values = _FocalLogits.apply(pred, target, loss, call.params)
    return Unreduced(values) if bool(torch.isfinite(values).all()) else None


# ---- 5. softmax cross entropy -------------------------------------------------------------------
#: logits-sized work is done in row chunks of about this many elements (4 MB in float32), so that
#: no temporary the size of the logits is ever live: only the logits and the gradient
CE_CHUNK_ELEMENTS = 1 << 20


def _row_chunks(zv: Tensor) -> list[slice]:
    """Slices of the first axis of ``zv`` (classes last) of about CE_CHUNK_ELEMENTS each."""
    if zv.ndim == 1 or zv.shape[0] == 0:
        return [slice(None)]
    step = max(1, CE_CHUNK_ELEMENTS // max(1, zv[0].numel()))
    return [slice(i, i + step) for i in range(0, zv.shape[0], step)]


class _SoftmaxCrossEntropy(torch.autograd.Function):
    """Softmax cross entropy of index targets, classes last in ``zv`` (a view of the logits):
    per sample ``(1 - s) w_y nll_y + (s / C) sum_c w_c nll_c + z_loss A lse^2``, with
    nll = lse - z of the logits capped by ``softcap`` and A = (1 - s) w_y + (s / C) sum_c w_c
    the sample's target weight; 0 where the target is ignored (``valid`` is 0).

    nll_y = log1p(T) - (z_y - m) with m = max z and T the sum of exp(z - m) over every class
    but the largest: exact where the loss is tiny (torch's log_softmax rounds 1 + T first).
    Works in row chunks of CE_CHUNK_ELEMENTS: saves the logits (which the caller holds anyway)
    and two numbers per sample; the backward writes the gradient into one tensor, chunk by
    chunk, the target entry through expm1(-nll_y).
    """

    @staticmethod
    def forward(ctx, zv, label, class_weight, valid, smoothing, softcap, z_loss, exact):
        ctx.exact = exact
        n = zv.shape[-1]
        index = label.unsqueeze(-1)
        lse, nll_y = zv.new_empty(index.shape), zv.new_empty(index.shape)
        # smoothing: (s / C)(W log_s - sum_c w_c (z_c - m)), the sum <= 0: no cancellation
        smooth = zv.new_empty(index.shape) if smoothing else None
        total_w = float(n) if class_weight is None else class_weight.sum()
        for rows in _row_chunks(zv):
            zc = _capped(xp, zv[rows], softcap)
            top, at = zc.max(dim=-1, keepdim=True)
            shifted = torch.sub(zc, top)
            if smoothing:
                weighted = shifted if class_weight is None else shifted * class_weight
                spread = weighted.sum(dim=-1, keepdim=True)
            rest = shifted.exp_().scatter_(-1, at, 0.0).sum(dim=-1, keepdim=True)
            del shifted
            log_s = torch.log1p(rest)
            nll_y[rows] = log_s - (zc.gather(-1, index[rows]) - top)
            lse[rows] = top + log_s
            if smoothing:
                smooth[rows] = (total_w * log_s - spread) * (smoothing / n)
        w_y = None if class_weight is None else class_weight[label].unsqueeze(-1)
        values = nll_y * (1.0 - smoothing) if smoothing else nll_y.clone()
        if w_y is not None:
            values.mul_(w_y)
        if smoothing:
            values.add_(smooth)
        total = _target_weight(w_y, total_w, smoothing, n)
        if z_loss:
            values.add_(lse * lse * (z_loss * total))
        if valid is not None:
            values.mul_(valid.unsqueeze(-1))
        extra = [t for t in (w_y, valid, class_weight) if t is not None]
        ctx.save_for_backward(zv, index, lse, nll_y, *extra)
        ctx.layout = (w_y is not None, valid is not None, class_weight is not None)
        ctx.options = (smoothing, softcap, z_loss)
        return values.squeeze(-1)

    @staticmethod
    def backward(ctx, grad_out):
        zv, index, lse, nll_y, *extra = ctx.saved_tensors
        none = (None,) * 7
        if torch.is_grad_enabled():  # a double backward: the core's differentiable gradient
            return ctx.exact(zv) * grad_out.unsqueeze(-1), *none
        has_w_y, has_valid, has_weight = ctx.layout
        s, softcap, z_loss = ctx.options
        w_y = extra.pop(0) if has_w_y else None
        valid = extra.pop(0) if has_valid else None
        class_weight = extra.pop(0) if has_weight else None
        n = zv.shape[-1]
        g = grad_out.unsqueeze(-1)
        if valid is not None:
            g = g * valid.unsqueeze(-1)
        # a_c = w_c ((1 - s) [c = y] + s / n), A = sum_c a_c: grad = A (1 + 2 z lse) p - a
        unit = 1.0 if w_y is None else w_y
        a_y = (1.0 - s + s / n) * unit
        total_w = float(n) if class_weight is None else class_weight.sum()
        total = _target_weight(w_y, total_w, s, n)
        scale = total * (1.0 + 2.0 * z_loss * lse) if z_loss else total
        smooth = None
        if s:
            smooth = (s / n) * (1.0 if class_weight is None else class_weight)
        grad = torch.empty_like(zv)
        for rows in _row_chunks(zv):
            zc = _capped(xp, zv[rows], softcap)
            out = torch.sub(zc, lse[rows], out=grad[rows]).exp_()  # p, in the gradient's memory
            p_y = out.gather(-1, index[rows])
            # A p_y - a_y exactly, plus the z-loss's 2 z A lse p_y
            a_rows = _rows(a_y, rows)
            exact_y = a_rows * torch.expm1(-nll_y[rows]) + (_rows(total, rows) - a_rows) * p_y
            if z_loss:
                exact_y = exact_y + (2.0 * z_loss) * _rows(total, rows) * lse[rows] * p_y
            g_rows = g[rows]
            out.mul_(g_rows * _rows(scale, rows))  # the upstream gradient and the scale at once
            if smooth is not None:
                out.sub_(g_rows * smooth)
            out.scatter_(-1, index[rows], exact_y * g_rows)
            if softcap is not None:  # the chain rule through c tanh(z / c)
                out.mul_(_cap_slope(xp, zv[rows], softcap))
        return grad, *none


def _target_weight(w_y: Tensor | None, total_w: Any, smoothing: float, n: int) -> Any:
    """A = (1 - s) w_y + (s / n) sum_c w_c per sample (1 without class weights)."""
    unit = 1.0 if w_y is None else w_y
    return (1.0 - smoothing) * unit + (smoothing / n) * total_w if smoothing else unit


def _rows(value: Any, rows: slice) -> Any:
    """A per-sample tensor's rows, or a number as it is."""
    return value[rows] if torch.is_tensor(value) and value.ndim else value


def _cross_entropy(loss: Any, call: Any) -> Unreduced | None:
    """Softmax cross entropy of logits with index targets (probability targets and
    from_logits=False: the definition). Declines where the definition takes a limit (capped
    logits are finite, so never with softcap): a +inf logit, a row with every class -inf, or a
    -inf logit with label smoothing (a masked class gets no smoothing mass)."""
    logits, target = call.arrays()
    p = call.params
    weight = p["class_weight"]
    if not p["from_logits"] or torch.is_floating_point(target) or _needs_grad(weight):
        return None
    softcap, z_loss, smoothing = p["softcap"], p["z_loss"], p["label_smoothing"]
    if softcap is None:
        detached = logits.detach()
        if not bool(torch.isfinite(detached.amax(dim=-1)).all()):
            return None
        if smoothing and bool(torch.isneginf(detached).any()):
            return None
    ignore = p["ignore_index"]
    valid = None if ignore is None else target != ignore
    label = target if valid is None else torch.where(valid, target, 0)

    def exact(zv: Tensor) -> Tensor:
        """The analytic gradient in differentiable ops, for create_graph=True."""
        return loss.grad(zv, target, **{k: v for k, v in p.items() if k != "axis"})

    values = _SoftmaxCrossEntropy.apply(
        logits,
        label,
        weight,
        None if valid is None else valid.to(logits.dtype),
        smoothing,
        softcap,
        z_loss,
        exact,
    )
    implicit = None if weight is None else weight[label]
    if valid is not None:
        implicit = valid.to(values.dtype) if implicit is None else implicit * valid
    return Unreduced(values, implicit)


# ---- 6. softmax losses of the true class's probability ----------------------------------------
class _TrueClassSoftmax(torch.autograd.Function):
    """A softmax loss of index targets whose value depends on the true class's probability
    alone, ``f(p_y)`` per sample (softmax focal, poly-1 without label smoothing).

    Its gradient is ``u p_j`` off the true class and ``v`` on it, for per-sample numbers u and
    v that ``head(nll_y, p_y, q_y, log_q_y)`` returns with the value; so a pass over the
    logits for the log-sum-exp (as in ``_SoftmaxCrossEntropy``: T without the largest class,
    nll_y = log1p(T) - (z_y - m), q_y = 1 - p_y as T / (1 + T) where y is the largest), a
    pass for the gradient, and nothing logits-sized saved but the logits. These are the
    definition's formulas on the same numbers (``_FocalPieces``, ``Poly1CrossEntropy``).
    """

    @staticmethod
    def forward(ctx, z, label, head, exact):
        ctx.exact = exact
        top, at = z.max(dim=-1, keepdim=True)
        rest = torch.sub(z, top).exp_().scatter_(-1, at, 0.0).sum(dim=-1, keepdim=True)
        log_s = torch.log1p(rest)
        index = label.unsqueeze(-1)
        nll = log_s - (z.gather(-1, index) - top)
        p = torch.exp(-nll)
        is_top = at == index
        q = torch.where(is_top, rest / (1.0 + rest), 1.0 - p)
        log_q = torch.where(is_top, torch.log(rest) - log_s, torch.log1p(-p))
        values, u, v = head(nll, p, q, log_q)
        ctx.save_for_backward(z, index, top + log_s, u, v)
        return values.squeeze(-1)

    @staticmethod
    def backward(ctx, grad_out):
        z, index, lse, u, v = ctx.saved_tensors
        if torch.is_grad_enabled():  # a double backward: the core's differentiable gradient
            return ctx.exact(z) * grad_out.unsqueeze(-1), None, None, None
        g = grad_out.unsqueeze(-1)
        grad = torch.sub(z, lse).exp_().mul_(u * g)
        return grad.scatter_(-1, index, v * g), None, None, None


def _true_class_call(loss: Any, call: Any, weight_key: str, head: Any) -> Unreduced | None:
    """Runs ``_TrueClassSoftmax`` with ``head(nll, p, q, log_q, a)`` (a: the true class's
    weight, 0 where ignored) where it applies: index targets, no label smoothing, finite
    largest logits (a +inf logit is the definition's limit), no parameter needing a gradient;
    None elsewhere, and the core runs the definition."""
    logits, target = call.arrays()
    p = call.params
    weights = p[weight_key]
    if torch.is_floating_point(target) or p["label_smoothing"] or _needs_grad(weights):
        return None
    if not bool(torch.isfinite(logits.detach().amax(dim=-1)).all()):
        return None
    ignore = p["ignore_index"]
    valid = None if ignore is None else target != ignore
    label = target if valid is None else torch.where(valid, target, 0)
    a = logits.new_ones(()) if weights is None else weights[label].unsqueeze(-1)
    if valid is not None:
        a = a * valid.unsqueeze(-1).to(logits.dtype)

    def exact(z: Tensor) -> Tensor:
        return loss.grad_kernel(xp, z, target, **p)

    values = _TrueClassSoftmax.apply(logits, label, lambda *pieces: head(*pieces, a), exact)
    return Unreduced(values, None if valid is None else valid.to(values.dtype))


def _softmax_focal(loss: Any, call: Any) -> Unreduced | None:
    """The softmax focal loss of index targets: value a (1 - p_y)^gamma nll_y, gradient
    ``-a g p`` off the true class and ``a g q_y`` on it, g = -(1-p_y)^gamma (gamma p_y nll_y /
    q_y + 1) (``SoftmaxFocalLoss._g``). Its implicit weight is the ignore mask: alpha scales
    the values only."""
    gamma = call.params["gamma"]

    def head(nll, p, q, log_q, a):
        if gamma == 0:
            m = torch.ones_like(q)
        else:
            big = q > 1e-8
            m = torch.where(big, torch.where(big, q, 1.0) ** gamma, torch.exp(gamma * log_q))
        positive = q > 0
        pr = torch.where(positive, p * nll / torch.where(positive, q, 1.0), p)
        ag = a * (-m * (gamma * pr + 1.0))
        return a * (m * nll), -ag, ag * q

    return _true_class_call(loss, call, "alpha", head)


def _poly1(loss: Any, call: Any) -> Unreduced | None:
    """Poly-1 of index targets: value a (nll_y + epsilon q_y), gradient
    ``a (1 + epsilon p_y) p`` off the true class and ``-a q_y (1 + epsilon p_y)`` on it. Class
    weights enter the mean's denominator, as cross_entropy's."""
    epsilon = call.params["epsilon"]

    def head(nll, p, q, log_q, a):
        scale = a * (1.0 + epsilon * p)
        return a * (nll + epsilon * q), scale, -scale * q

    out = _true_class_call(loss, call, "class_weight", head)
    weights = call.params["class_weight"]
    if out is None or weights is None:
        return out
    _, target = call.arrays()
    ignore = call.params["ignore_index"]
    label = target if ignore is None else torch.where(target != ignore, target, 0)
    implicit = weights[label]
    return Unreduced(out.values, implicit if out.weight is None else implicit * out.weight)


# ---- 7. overlap losses: per-(sample, class) sums in chunks, their gradient in closed form ----
#: elements of the logits per chunk of samples
OVERLAP_CHUNK_ELEMENTS = 1 << 18
#: the overlap losses served, and whether squared=True is (the V-Net form: dice_loss only)
_OVERLAP = {"dice_loss", "jaccard_loss", "tversky_loss", "focal_tversky_loss"}


def _overlap_probs(z: Tensor, params: dict[str, Any]) -> Tensor:
    """The probabilities of a chunk (classes on axis 1), as the definition forms them."""
    if not params["from_logits"]:
        return z
    return torch.softmax(z, 1) if params["mode"] == "multiclass" else torch.sigmoid(z)


def _overlap_chunk(
    z: Tensor, t: Tensor, params: dict[str, Any], index: bool
) -> tuple[Tensor, Tensor, Tensor]:
    """(p, y, ny) of a chunk, each (n, C, S) or broadcasting to it: the probabilities, the
    target times the mask m of counted pixels (a float one-hot of this chunk alone for class
    indices) and m (1 - y), exactly (products with 0 and 1 and a difference of the two);
    ny is None for class indices without ignore_index (m = 1, and y in {0, 1})."""
    ignore = params["ignore_index"]
    p = _overlap_probs(z, params)
    if index:  # the one-hot of a chunk, by a compare in z's dtype (exact: classes < 2^24)
        classes = torch.arange(z.shape[1], device=z.device, dtype=z.dtype)[None, :, None]
        y = torch.eq(classes, t.to(z.dtype)[:, None, :], out=torch.empty_like(z))
        if ignore is None:
            return p, y, None  # m = 1: m (1 - y) is 1 - y
        m = (t != ignore).to(z.dtype)[:, None, :]
        y = y.mul_(m)
        return p, y, m - y
    if ignore is not None and params["mode"] != "multiclass":
        m = (t != ignore).to(z.dtype)
        y = t * m  # (t is ignore_index, finite, where m is 0)
        return p, y, m - y
    return p, t, 1.0 - t


def _overlap_sums(z: Tensor, t: Tensor, params: dict[str, Any], index: bool) -> Tensor:
    """The sums of a chunk over its pixels, (K, n, C): TP = sum m p y, FP = sum m p (1 - y),
    FN = sum m (1 - p) y, or with squared=True sum m (p - y)^2, sum m p^2, sum m y^2."""
    p, y, ny = _overlap_chunk(z, t, params, index)
    if params.get("squared", False):
        m = 1.0 if ny is None else y + ny
        r = p - y
        return torch.stack([(r * r * m).sum(-1), (p * p * m).sum(-1), (y * y).sum(-1)])
    hit = p * y
    off = p - hit if ny is None else p * ny  # m p (1 - y)
    if index and params["from_logits"]:
        # 1 - p of the true class as the other classes' sum (no cancellation where p is near 1)
        q = off.sum(1, keepdim=True)
        fn = torch.bmm(y, q.transpose(1, 2))[..., 0]
    elif not params["from_logits"]:
        fn = ((1.0 - p) * y).sum(-1)
    else:
        fn = (torch.sigmoid(-z) * y).sum(-1)
    return torch.stack([hit.sum(-1), off.sum(-1), fn])


def _overlap_grad(
    z: Tensor, t: Tensor, g: Tensor, params: dict[str, Any], index: bool, out: Tensor
) -> None:
    """d loss / d z of a chunk into ``out``, from g = d loss / d sums, (K, n, C, 1): the
    derivative in the probabilities from the sums' definitions, then the softmax's or the
    sigmoid's Jacobian in closed form."""
    p, y, ny = _overlap_chunk(z, t, params, index)
    if params.get("squared", False):  # d/dp: m (2 g_r2 (p - y) + 2 g_p2 p)
        gp = (p - y).mul_(2.0 * g[0]).add_(p * (2.0 * g[1]))
        if ny is not None:
            gp = gp.mul_(y + ny)
    elif ny is None:  # g_fp + y (g_tp - g_fn - g_fp), y in {0, 1}
        gp = torch.addcmul(g[1].expand_as(z), y, g[0] - g[2] - g[1])
    else:  # g_tp m y + g_fp m (1 - y) - g_fn m y
        gp = (y * (g[0] - g[2])).add_(ny * g[1])
    if not params["from_logits"]:
        out.copy_(gp)
    elif params["mode"] == "multiclass":
        torch.mul(gp.sub_((p * gp).sum(1, keepdim=True)), p, out=out)
    else:
        torch.mul(gp.mul_(p), torch.sigmoid(-z), out=out)


class _OverlapSums(torch.autograd.Function):
    """The per-(sample, class) sums of an overlap loss, (K, N, C), from the logits x
    (N, C, S) and the target t, computed chunk by chunk of samples (no pixel-sized tensor
    outlives a chunk, no one-hot of the whole batch); the backward recomputes each chunk's
    probabilities and applies the sums' derivatives in closed form, into one preallocated
    gradient. Saves only x and t. A double backward (create_graph) differentiates the
    definition's own pieces (``soft_counts``) on the saved inputs."""

    @staticmethod
    def forward(ctx, x, t, params, index, chunks):
        ctx.save_for_backward(x, t)
        ctx.params, ctx.index, ctx.chunks = params, index, chunks
        return torch.cat([_overlap_sums(x[s], t[s], params, index) for s in chunks], dim=1)

    @staticmethod
    def backward(ctx, grad_sums):
        x, t = ctx.saved_tensors
        params, index = ctx.params, ctx.index
        if torch.is_grad_enabled():  # create_graph: the definition's pieces, differentiable
            sums = _definition_sums(x, t, params, index)
            (grad,) = torch.autograd.grad(sums, x, grad_sums, create_graph=True)
            return grad, None, None, None, None
        grad = torch.empty(x.shape, dtype=x.dtype, device=x.device)
        g = grad_sums[..., None]
        for s in ctx.chunks:
            _overlap_grad(x[s], t[s], g[:, s], params, index, grad[s])
        return grad, None, None, None, None


def _definition_sums(x: Tensor, t: Tensor, params: dict[str, Any], index: bool) -> Tensor:
    """The sums of ``_overlap_sums`` from the definition's per-pixel pieces (differentiable)."""
    from ..segmentation import overlap_sums, soft_counts

    binary = params["mode"] == "binary"
    pred = x[:, 0] if binary else x.movedim(1, -1)
    target = t if index else (t[:, 0] if binary else t.movedim(1, -1))
    pieces = soft_counts(xp, pred, target, params)
    if params.get("squared", False):
        p, y = pieces["p"], pieces["y"]
        parts = [(p - y) * (p - y), p * p, y * y]
        return torch.stack([v.sum(1) for v in parts])
    c = overlap_sums(xp, pieces, True)
    return torch.stack([c["tp"], c["fp"], c["fn"]])


def _overlap(loss: Any, call: Any) -> Unreduced | None:
    """Dice, Jaccard, Tversky and focal Tversky losses (``_OverlapSums``): the per-(sample,
    class) soft counts in chunks of samples, then the loss of the counts by the loss's own
    ``_from_pieces``, given two pseudo-pixels per sample and class whose sums are exactly the
    counts (p = TP, 1 - p = FN, y = 1 and p = FP, 1 - p = 0, y = 0); squared=True is
    ``sum m (p - y)^2 / (sum m p^2 + sum m y^2 + s)`` of its sums. The composed form keeps a
    dozen input-sized temporaries (a one-hot among them) for its backward, this keeps none.
    Declines float16/bfloat16, a target or class weight that needs a gradient, per-class
    probability targets with a softmax, and a non-finite sum (a +inf logit, whose limit the
    definition takes)."""
    from .. import segmentation as seg
    from .._xp import const

    params = dict(call.params)
    pred, target = call.inputs["pred"], call.inputs["target"]
    if loss.name not in _OVERLAP or pred.dtype not in (torch.float32, torch.float64):
        return None
    if _needs_grad(target) or any(_needs_grad(v) for v in params.values()):
        return None
    squared = bool(params.get("squared", False))
    if pred.ndim < 2 or pred.numel() == 0:
        return None
    mode, n = params["mode"], pred.shape[0]
    index = mode == "multiclass" and target.ndim == pred.ndim - 1
    if index:
        if target.dtype.is_floating_point or target.dtype == torch.bool:
            return None
        t = target.reshape(n, -1)
    elif target.dtype != pred.dtype or target.shape != pred.shape:
        return None
    elif mode == "multiclass" and params["from_logits"]:
        return None  # per-class targets with a softmax: the definition
    if mode == "binary":
        x = pred.reshape(n, 1, -1)
        if not index:
            t = target.reshape(n, 1, -1)
    else:
        x = pred.movedim(-1, 1).reshape(n, pred.shape[-1], -1)
        if not index:
            t = target.movedim(-1, 1).reshape(n, pred.shape[-1], -1)
    step = max(1, OVERLAP_CHUNK_ELEMENTS // max(x[0].numel(), 1))
    chunks = [slice(i, min(i + step, n)) for i in range(0, n, step)]
    sums = _OverlapSums.apply(x, t, params, index, chunks)
    if not bool(torch.isfinite(sums).all()):
        return None
    if not params["per_image"]:
        sums = sums.sum(1, keepdim=True)
    if squared:
        r2, p2, y2 = sums.unbind(0)
        values = seg._ratio(xp, r2, p2 + y2 + const(xp, params["smooth"], r2))
        if not params["per_image"]:
            values = values[0]
        return seg._weighted(xp, values, params["class_weight"], mode == "binary")
    tp, fp, fn = sums.unbind(0)  # (N, C), or (1, C) over the batch
    zero, one = torch.zeros_like(tp), torch.ones_like(tp)
    pieces = {
        "p": torch.stack([tp, fp], dim=1),
        "q": torch.stack([fn, zero], dim=1),
        "y": torch.stack([one, zero], dim=1),
        "valid": None,
    }
    return loss._from_pieces(xp, pieces, params)


for _name, _run in {
    "mae": _mae,
    "mse": _mse,
    "huber": _huber,
    "smooth_l1": _smooth_l1,
    "poisson_nll": _poisson,
    "gaussian_nll": _gaussian,
    "binary_cross_entropy": _bce,
    "binary_cross_entropy_with_logits": _bce_logits,
    "logistic_loss": _logistic,
    "log_cosh": _closed_form,
    "pseudo_huber": _closed_form,
    "quantile": _closed_form,
    "balanced_cross_entropy": _balanced_logits,
    "focal_loss": _focal,
    "cross_entropy": _cross_entropy,
    "softmax_focal_loss": _softmax_focal,
    "poly1_cross_entropy": _poly1,
    # robust losses: their analytic gradients stay exact where autograd of the composed value
    # does not (torch's expm1 backward, exp = expm1 + 1, gives 0 for welsch at |r| = 10)
    "truncated_squared": _closed_form,
    "cauchy": _closed_form,
    "geman_mcclure": _closed_form,
    "welsch": _closed_form,
    "tukey_biweight": _closed_form,
    "charbonnier": _closed_form,
    "fair": _closed_form,
    "general_robust": _closed_form,
    # box losses: an autograd.Function with a closed-form backward (torch/_box_fast.py)
    "iou_loss": box_fast,
    "giou_loss": box_fast,
    "diou_loss": box_fast,
    "ciou_loss": box_fast,
    # overlap losses: the soft counts in chunks, their gradient in closed form
    "dice_loss": _overlap,
    "jaccard_loss": _overlap,
    "tversky_loss": _overlap,
    "focal_tversky_loss": _overlap,
}.items():
    register("torch", _name, _run)

# contrastive losses: the logits recomputed in backward (torch/_contrastive_fast.py)
for _name, _run in _CONTRASTIVE_FAST.items():
    register("torch", _name, _run)
