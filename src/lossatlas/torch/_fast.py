"""Fast paths for torch tensors, proven equal to the array-API definitions by the tests.

Composed array-API code costs 2-10x a native kernel on torch in eager mode, because every op
allocates a temporary and autograd saves several. So, on torch tensors:

1. where torch has a native kernel that computes the same loss, call it;
2. for losses with a long composed form (``CLOSED_FORM``), run the loss's own ``_value`` /
   ``_grad`` kernels inside an ``autograd.Function`` that saves only the inputs (and, for
   "mean"/"sum", reduces inside the Function so no per-element output is kept); short formulas
   (hinge, exponential ...) are faster composed and stay so;
3. the focal loss has a dedicated Function (it is the one loss whose composed form is long).

A fast path returns None when it does not apply (gradients wanted for the target or an array
parameter, empty input, a non-finite native result), and the caller runs the composed code.
"""

from __future__ import annotations

from typing import Any

import array_api_compat.torch as xp
import torch
import torch.nn.functional as F

from .._config import config
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
    if native != "none" or (reduction == "none" and weight is None):
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
    if not p["log_input"] and p["eps"] == 0:  # torch: 0 * log(0) = NaN where pred = target = 0
        return None
    return F.poisson_nll_loss(
        pred, target, log_input=p["log_input"], full=p["full"], eps=p["eps"], reduction=r
    )


def _gaussian(pred, target, r, p):
    var = p["var"]
    # torch passes the gradient through its clamp (ours stops it), and raises on a negative
    # variance, which only the value checks rule out
    if var.requires_grad or not config.check_values:
        return None
    return F.gaussian_nll_loss(
        pred, target, var.expand_as(pred), full=p["full"], eps=p["eps"], reduction=r
    )


def _bce(pred, target, r, p):
    # The composed definition answers where torch's kernel would differ from it: a target that
    # needs a gradient (torch has none), unchecked values (torch raises on targets outside
    # [0, 1] and on NaN), eps clipping (torch's double backward through the clamp differs from
    # the clipped Hessian), and p exactly 0 or 1 (torch's backward is (p - y) / 1e-12 there,
    # where the clamped log has slope 0).
    if target.requires_grad or not config.check_values or p["eps"] is not None:
        return None
    lo, hi = pred.detach().aminmax()
    if not (lo > 0 and hi < 1):
        return None
    return F.binary_cross_entropy(pred, target, reduction=r)


def _bce_logits(pred, target, r, p):
    if _needs_grad(p["pos_weight"]):  # torch has no derivative for pos_weight
        return None
    smoothing = p["label_smoothing"]
    if smoothing:
        target = target * (1.0 - smoothing) + 0.5 * smoothing
    out = F.binary_cross_entropy_with_logits(pred, target, pos_weight=p["pos_weight"], reduction=r)
    # torch returns NaN for infinite logits (0 * inf); the composed definition gives the limit
    if not bool(torch.isfinite(out).all()):
        return None
    return out


def _logistic(pred, target, r, p):
    # threshold 40: past it softplus(x) = x exactly even in float64 (exp(-40) < 2**-53 / 40)
    margin = torch.where(target == 0, -pred, target * pred)
    out = F.softplus(margin.neg_(), threshold=40.0)
    return out if r == "none" else out.sum() if r == "sum" else out.mean()


NATIVE = {
    "mae": _l1,
    "mse": _mse,
    "huber": _huber,
    "smooth_l1": _smooth_l1,
    "poisson_nll": _poisson,
    "gaussian_nll": _gaussian,
    "binary_cross_entropy": _bce,
    "binary_cross_entropy_with_logits": _bce_logits,
    "logistic_loss": _logistic,
}

# Losses whose composed form is long enough that a closed-form backward pays (measured with
# benchmarks/bench_torch.py); short ones (hinge, exponential ...) are faster composed.
CLOSED_FORM = {"log_cosh", "pseudo_huber", "quantile", "balanced_cross_entropy"}


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

    In-place throughout: at most four full-size temporaries live at once (the composed formula
    keeps about ten for autograd). 1 - p_t = (1-y) sigmoid(x) + y sigmoid(-x) is formed from
    both sigmoids, so it has no cancellation where it is tiny.
    """
    s = torch.sigmoid(x)
    s_neg = x.neg().sigmoid_()
    u = (s_neg - s).mul_(y).add_(s)  # 1 - p_t
    grad = None
    if with_grad:
        grad = (s_neg * y).mul_(-2.0).add_(u)  # d ce / dx = sigmoid(x) - y, without cancellation
    q = s.mul_(s_neg)  # becomes q = (1 - 2y) sigmoid(x) sigmoid(-x) / (1 - p_t)
    del s_neg
    ce = F.softplus(x).addcmul_(x, y, value=-1.0)  # softplus(x) - x y
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
    saves it, so the backward is one multiplication; a double backward (create_graph=True) uses
    the differentiable closed form of the core instead."""

    @staticmethod
    def forward(ctx, x, y, loss, params, mode):
        loss_values, grad = _focal_forward(
            x, y, params["alpha"], params["gamma"], ctx.needs_input_grad[0]
        )
        ctx.save_for_backward(x, y, grad)
        ctx.loss, ctx.params, ctx.mode = loss, params, mode
        if mode == "none":
            return loss_values
        total = loss_values.sum()
        return total / max(x.numel(), 1) if mode == "mean" else total

    @staticmethod
    def backward(ctx, grad_out):
        x, y, grad = ctx.saved_tensors
        if ctx.mode == "mean":
            grad_out = grad_out / max(x.numel(), 1)
        if torch.is_grad_enabled():
            grad = ctx.loss._grad(xp, x, y, **ctx.params)
        return grad * grad_out, None, None, None, None


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
    if loss.name in CLOSED_FORM:
        return _closed_form(loss, pred, target, weight, reduction, params)
    return None
