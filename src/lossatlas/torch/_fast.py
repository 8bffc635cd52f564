"""Fast paths for torch tensors, proven equal to the array-API definitions by the tests.

Composed array-API code costs 2-10x a native kernel on torch in eager mode, because every op
allocates a temporary and autograd saves several. So, on torch tensors:

1. where torch has a native kernel that computes the same loss, call it;
2. otherwise run the loss's own ``_value`` / ``_grad`` kernels inside an ``autograd.Function``
   that saves only the inputs (and, for "mean"/"sum", reduces inside the Function so no
   per-element output is kept);
3. the focal loss has a dedicated Function (it is the one loss whose composed form is long).

A fast path returns None when it does not apply (gradients wanted for the target or an array
parameter, empty input, a non-finite native result), and the caller runs the composed code.
"""

from __future__ import annotations

from typing import Any

import array_api_compat.torch as xp
import torch
import torch.nn.functional as F

from .._reduce import reduce_loss

Tensor = torch.Tensor


def _needs_grad(value: Any) -> bool:
    return isinstance(value, Tensor) and value.requires_grad


def _native_reduction(weight: Any, reduction: str) -> str:
    if weight is None and reduction in ("mean", "sum"):
        return reduction
    if weight is None and reduction == "sum_by_nonzero_weights":
        return "mean"
    return "none"


def _finish(name: str, out: Tensor, weight: Any, reduction: str, native: str) -> Tensor:
    if native != "none" or reduction == "none" and weight is None:
        return out
    return reduce_loss(xp, out, weight, reduction, function=name)


# ---- 1. native kernels ------------------------------------------------------------------------
def _l1(pred, target, r, p):
    return F.l1_loss(pred, target, reduction=r)


def _mse(pred, target, r, p):
    return F.mse_loss(pred, target, reduction=r)


def _huber(pred, target, r, p):
    return F.huber_loss(pred, target, reduction=r, delta=p["delta"])


def _smooth_l1(pred, target, r, p):
    return F.smooth_l1_loss(pred, target, reduction=r, beta=p["beta"])


def _poisson(pred, target, r, p):
    return F.poisson_nll_loss(
        pred, target, log_input=p["log_input"], full=p["full"], eps=p["eps"], reduction=r
    )


def _gaussian(pred, target, r, p):
    var = p["var"]
    if var.requires_grad:  # torch passes the gradient through its clamp; ours stops it
        return None
    return F.gaussian_nll_loss(
        pred, target, var.expand_as(pred), full=p["full"], eps=p["eps"], reduction=r
    )


def _bce(pred, target, r, p):
    if target.requires_grad:  # torch has no derivative of BCELoss for the target
        return None
    eps = p["eps"]
    prob = pred if eps is None else pred.clamp(eps, 1.0 - eps)
    return F.binary_cross_entropy(prob, target, reduction=r)


def _bce_logits(pred, target, r, p):
    smoothing = p["label_smoothing"]
    if smoothing:
        target = target * (1.0 - smoothing) + 0.5 * smoothing
    out = F.binary_cross_entropy_with_logits(pred, target, pos_weight=p["pos_weight"], reduction=r)
    # torch returns NaN for infinite logits (0 * inf); the composed definition gives the limit
    if not bool(torch.isfinite(out).all()):
        return None
    return out


NATIVE = {
    "mae": _l1,
    "mse": _mse,
    "huber": _huber,
    "smooth_l1": _smooth_l1,
    "poisson_nll": _poisson,
    "gaussian_nll": _gaussian,
    "binary_cross_entropy": _bce,
    "binary_cross_entropy_with_logits": _bce_logits,
}


# ---- 2. closed-form backward for every other elementwise loss ---------------------------------
class _ClosedForm(torch.autograd.Function):
    """Forward with the loss's value kernel, backward with its analytic gradient kernel.

    Saves only pred and target. ``mode`` "sum"/"mean" reduces inside, so the per-element loss
    is freed at once. The backward is written in differentiable torch ops, so double backward
    (Hessian-vector products) works and equals the analytic ``hess``.
    """

    @staticmethod
    def forward(ctx, pred, target, loss, params, mode):
        ctx.save_for_backward(pred, target)
        ctx.loss, ctx.params, ctx.mode = loss, params, mode
        value = loss._value(xp, pred, target, **params)
        if mode == "none":
            return value
        total = value.sum()
        return total / max(pred.numel(), 1) if mode == "mean" else total

    @staticmethod
    def backward(ctx, grad_out):
        pred, target = ctx.saved_tensors
        grad = ctx.loss._grad(xp, pred, target, **ctx.params)
        if ctx.mode == "mean":
            grad_out = grad_out / max(pred.numel(), 1)
        return grad * grad_out, None, None, None, None


def _closed_form(loss, pred, target, weight, reduction, params):
    mode = "none" if weight is not None else _native_reduction(None, reduction)
    out = _ClosedForm.apply(pred, target, loss, params, mode)
    return _finish(loss.name, out, weight, reduction, mode)


# ---- 3. focal loss ------------------------------------------------------------------------------
def _one_minus_pt(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """(sigmoid(x), 1 - p_t) with 1 - p_t = (1-y) sigmoid(x) + y sigmoid(-x): no cancellation."""
    s_pos = torch.sigmoid(x)
    u = torch.sigmoid(x.neg()).mul_(y)
    return s_pos, u.addcmul_(s_pos, 1.0 - y)


def _alpha_t(y: Tensor, alpha: float | None) -> Tensor | None:
    return None if alpha is None else y * (2.0 * alpha - 1.0) + (1.0 - alpha)


class _FocalLogits(torch.autograd.Function):
    """Binary focal loss on logits with a closed-form, in-place backward; saves only x and y."""

    @staticmethod
    def forward(ctx, x, y, loss, params, mode):
        ctx.save_for_backward(x, y)
        ctx.loss, ctx.params, ctx.mode = loss, params, mode
        alpha, gamma = params["alpha"], params["gamma"]
        out = F.binary_cross_entropy_with_logits(x, y, reduction="none")
        if gamma != 0:
            out.mul_(_one_minus_pt(x, y)[1].pow_(gamma))
        alpha_t = _alpha_t(y, alpha)
        if alpha_t is not None:
            out.mul_(alpha_t)
        if mode == "none":
            return out
        total = out.sum()
        return total / max(x.numel(), 1) if mode == "mean" else total

    @staticmethod
    def backward(ctx, grad_out):
        x, y = ctx.saved_tensors
        if ctx.mode == "mean":
            grad_out = grad_out / max(x.numel(), 1)
        if torch.is_grad_enabled():  # create_graph=True: use the differentiable closed form
            grad = ctx.loss._grad(xp, x, y, **ctx.params)
            return grad * grad_out, None, None, None, None
        alpha, gamma = ctx.params["alpha"], ctx.params["gamma"]
        # d/dx = alpha_t (1-p_t)^gamma [gamma q ce + sigmoid(x) - y] with
        # q = (1 - 2y) sigmoid(x) sigmoid(-x) / (1-p_t), whose limit is 1 - 2y where 1-p_t is 0
        s_pos, s_neg = torch.sigmoid(x), torch.sigmoid(x.neg())
        not_y = 1.0 - y
        u = (s_neg * y).addcmul_(s_pos, not_y)
        grad = (s_pos * not_y).addcmul_(s_neg, y, value=-1.0)  # sigmoid(x) - y, no cancellation
        if gamma != 0:
            q = s_pos.mul_(s_neg)
            del s_neg
            q = torch.where(u > 0, q.div_(u), 1.0).mul_(not_y.sub_(y))
            ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
            q_ce = torch.where(q == 0, 0.0, q.mul_(ce))  # 0 * inf at an infinite logit
            del ce
            grad.add_(q_ce, alpha=gamma).mul_(u.pow_(gamma))
        alpha_t = _alpha_t(y, alpha)
        if alpha_t is not None:
            grad.mul_(alpha_t)
        return grad.mul_(grad_out), None, None, None, None


def _focal(loss, pred, target, weight, reduction, params):
    if not params["from_logits"]:
        return None
    mode = "none" if weight is not None else _native_reduction(None, reduction)
    out = _FocalLogits.apply(pred, target, loss, params, mode)
    if not bool(torch.isfinite(out).all()):  # infinite logits: the composed form gives the limit
        return None
    return _finish(loss.name, out, weight, reduction, mode)


SPECIAL = {"focal_loss": _focal}


# ---- dispatch -----------------------------------------------------------------------------------
def fast_forward(loss, pred, target, weight, reduction, params) -> Tensor | None:
    """The loss computed by a fast path, or None to fall back to the composed definition."""
    if pred.numel() == 0 or not loss.spec.elementwise:
        return None
    native = NATIVE.get(loss.name)
    if native is not None:
        mode = _native_reduction(weight, reduction)
        out = native(pred, target, mode, params)
        return None if out is None else _finish(loss.name, out, weight, reduction, mode)
    if target.requires_grad or any(_needs_grad(v) for v in params.values()):
        return None
    special = SPECIAL.get(loss.name)
    if special is not None:
        return special(loss, pred, target, weight, reduction, params)
    return _closed_form(loss, pred, target, weight, reduction, params)
