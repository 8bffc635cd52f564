"""The box losses (IoU, GIoU, DIoU, CIoU) on torch: an ``autograd.Function`` with a closed-form
backward that reproduces the definition's autograd gradient (``lossatlas.boxes._overlap``).

The forward runs the definition's arithmetic, op for op in the same order (so the values are
the definition's, bitwise), in chunks of rows, each transposed once to coordinates first so
that every piece is a contiguous (2, rows) block (x and y at once), with
``torch.minimum``/``maximum``/``clamp`` where the definition selects (the same value). The
backward recomputes a chunk's intermediates and applies the chain rule written out by hand,
with the definition's tie rules as masks: at a tie the intersection takes the target's
coordinate and the enclosing box the prediction's (so a coordinate of pred gets the
intersection's derivative where it is strictly inside the target's, the enclosure's
elsewhere), the clamp of the intersection's sides passes the derivative at 0, the divisions
give 0 where their denominator is not positive, the aspect angle's derivative is 0 at a point,
the distance ratio's scale s = cw + ch and CIoU's alpha are constants, and ``log=True`` has
a zero gradient where IoU <= eps (the masks enter as factors 0 and 1: the same as a ``where``
for finite gradients, and torch.where costs some 20 additions on CPU). Each derivative is
autograd's formula for the same op (torch's ``div`` backward: -g (a / b) / b, ``atan2``'s: g x
/ (x^2 + y^2)), so the gradient equals the definition's to rounding of the order of summation.
Only pred and target are saved; a double backward (create_graph) runs autograd of the
definition on them instead.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import torch

from .._reduce import Unreduced
from ..boxes import FOUR_OVER_PI2

Tensor = torch.Tensor
#: rows per chunk: a chunk's (rows,)-sized temporaries stay in the caches
BOX_CHUNK_ROWS = 1 << 15


def _parts(box: Tensor, fmt: str, centre: bool) -> tuple[Tensor, Tensor, Tensor, Any]:
    """(lo, hi, wh, centre or None) of (4, rows) boxes (coordinates first), each (2, rows) =
    (x, y), computed as ``boxes._parts`` computes them."""
    a, c = box[:2], box[2:]
    if fmt == "xyxy":
        return a, c, c - a, (a + c) * 0.5 if centre else None
    if fmt == "xywh":
        return a, a + c, c, a + c * 0.5 if centre else None
    half = c * 0.5
    return a - half, a + half, c, a


def _quotient(num: Tensor, den: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
    """``boxes._div``: num / den where den > 0, else 0; returns (quotient, the denominator
    used, the mask of den > 0 or None where it holds everywhere)."""
    if bool(den.amin() > 0):
        return num / den, den, None
    ok = den > 0
    safe = torch.where(ok, den, 1.0)
    return torch.where(ok, num / safe, 0.0), safe, ok


def _masked(g: Tensor, ok: Tensor | None) -> Tensor:
    return g if ok is None else torch.where(ok, g, 0.0)


def _product(x: Tensor) -> Tensor:
    return x[0] * x[1]


def _aspect(wh: Tensor) -> tuple[Tensor, Tensor | None]:
    """(``boxes._aspect``'s angle atan2(w, h) with 0 at a point, the point mask or None where
    the chunk has no point)."""
    w, h = wh[0], wh[1]
    if bool(wh.abs().amax(0).amin() > 0):  # no point in the chunk
        return torch.atan2(w, h), None
    point = (w == 0) & (h == 0)
    angle = torch.atan2(torch.where(point, 1.0, w), torch.where(point, 1.0, h))
    return torch.where(point, 0.0, angle), point


def _chunk(
    pred: Tensor, target: Tensor, kind: str, fmt: str, eps: float, log: bool, g: Tensor | None
) -> Tensor:
    """The loss of (rows, 4) pairs, or with ``g`` (the upstream gradient, (rows,)) its
    gradient with respect to pred, (rows, 4)."""
    e = pred.new_tensor(eps)
    # coordinates first: every piece below is a contiguous (2, rows) or (rows,) block
    pred, target = pred.t().contiguous(), target.t().contiguous()
    centre = kind in ("diou", "ciou")
    lo_a, hi_a, wh_a, c_a = _parts(pred, fmt, centre)
    lo_b, hi_b, wh_b, c_b = _parts(target, fmt, centre)
    raw = torch.minimum(hi_b, hi_a) - torch.maximum(lo_b, lo_a)
    iwh = raw.clamp(min=0.0)
    inter = _product(iwh)
    union = _product(wh_a) + _product(wh_b) - inter
    den = union + e
    iou, den, ok = _quotient(inter, den)
    if kind != "iou":
        cwh = torch.maximum(hi_a, hi_b) - torch.minimum(lo_a, lo_b)
    if kind == "iou":
        sim = iou
    elif kind == "giou":
        area = _product(cwh)
        q, area_den, ok_q = _quotient(area - union, area + e)
        sim = iou - q
    else:
        s = cwh[0] + cwh[1]
        # where(s > 0, s, 1) for s >= 0, exactly (s + 0 or 0 + 1); torch.where costs 20 adds
        inv = (1.0 / (s + (s <= 0).to(s.dtype))).unsqueeze(0)
        dxy = (c_a - c_b) * inv
        swh = cwh * inv
        num = dxy[0] * dxy[0] + dxy[1] * dxy[1]
        inv1 = inv[0]
        dd = swh[0] * swh[0] + swh[1] * swh[1] + e * inv1 * inv1
        ratio, dd, ok_r = _quotient(num, dd)
        sim = iou - ratio
        if kind == "ciou":
            ang_a, point = _aspect(wh_a)
            gap = _aspect(wh_b)[0] - ang_a
            kg = FOUR_OVER_PI2 * gap
            v = kg * gap
            alpha = _quotient(v, 1.0 - iou + v + e)[0]
            sim = sim - alpha * v
    if g is None:
        if log:
            above = iou > e
            f = above.to(iou.dtype)  # a selection as products with 0 and 1 (exact, finite)
            inside = -torch.log(iou * f + (1.0 - f))
            return inside * f + (1.0 - f) * e.new_tensor(-math.log(eps))
        return 1.0 - sim

    # ---- the chain rule, backwards through the forward above
    if log:
        above = iou > e
        f = above.to(iou.dtype)
        g_iou = (-g / (iou * f + (1.0 - f))) * f
    else:
        g_iou = -g
    g_c = None
    g_cwh = None
    g_wh = None
    g_union = None
    if kind == "giou":
        g_q = _masked(g, ok_q)  # sim = iou - q, dL/dsim = -g
        g_num = g_q / area_den
        g_area = g_num - g_q * (q / area_den)
        g_union = -g_num
        g_cwh = g_area.unsqueeze(0) * cwh.flip(0)
    elif kind in ("diou", "ciou"):
        g_r = _masked(g, ok_r)
        g_n = g_r / dd
        g_d = -g_r * (ratio / dd)
        g_dxy = (g_n.unsqueeze(0) * dxy) * 2.0
        g_c = g_dxy * inv
        g_cwh = ((g_d.unsqueeze(0) * swh) * 2.0) * inv
        if kind == "ciou":
            g_v = g * alpha
            g_gap = g_v * kg + (g_v * gap) * FOUR_OVER_PI2
            w, h = wh_a[0], wh_a[1]
            if point is None:
                w1, h1, g_ang = w, h, -g_gap
            else:
                w1, h1 = torch.where(point, 1.0, w), torch.where(point, 1.0, h)
                g_ang = torch.where(point, 0.0, -g_gap)
            recip = (w1 * w1 + h1 * h1).reciprocal()  # torch's atan2 backward
            g_wh = torch.stack([g_ang * h1 * recip, g_ang * -w1 * recip])
    g_iou = _masked(g_iou, ok)
    g_den = -g_iou * (iou / den)
    g_union = g_den if g_union is None else g_den + g_union
    g_inter = g_iou / den - g_union
    # the selections' masks as factors 0 and 1: exact for finite gradients, and far cheaper
    # than torch.where on CPU
    g_iwh = (g_inter.unsqueeze(0) * iwh.flip(0)) * (raw >= 0).to(raw.dtype)
    g_area_a = g_union.unsqueeze(0) * wh_a.flip(0)
    g_wh = g_area_a if g_wh is None else g_area_a + g_wh
    in_hi = (hi_a < hi_b).to(raw.dtype)
    in_lo = (lo_a > lo_b).to(raw.dtype)
    g_hi = g_iwh * in_hi
    g_lo = -(g_iwh * in_lo)
    if g_cwh is not None:
        g_hi = g_hi + g_cwh * (1.0 - in_hi)
        g_lo = g_lo - g_cwh * (1.0 - in_lo)
    if fmt == "xyxy":
        first, second = g_lo - g_wh, g_hi + g_wh
        if g_c is not None:
            half_c = g_c * 0.5
            first, second = first + half_c, second + half_c
    elif fmt == "xywh":
        first, second = g_lo + g_hi, g_wh + g_hi
        if g_c is not None:
            first, second = first + g_c, second + g_c * 0.5
    else:
        first, second = g_lo + g_hi, g_wh + (g_hi - g_lo) * 0.5
        if g_c is not None:
            first = first + g_c
    return torch.cat([first, second]).t()


def _slices(n: int) -> list[slice]:
    return [slice(i, min(i + BOX_CHUNK_ROWS, n)) for i in range(0, n, BOX_CHUNK_ROWS)]


class _BoxLoss(torch.autograd.Function):
    """A box loss of (n, 4) pairs: the forward in chunks under no autograd, the backward in
    chunks by the closed form of ``_chunk``. Saves pred and target only."""

    @staticmethod
    def forward(ctx, pred, target, options, exact):
        ctx.options, ctx.exact = options, exact
        ctx.save_for_backward(pred, target)
        n = pred.shape[0]
        return torch.cat([_chunk(pred[s], target[s], *options, None) for s in _slices(n)])

    @staticmethod
    def backward(ctx, grad_out):
        pred, target = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph: autograd of the definition
            values = ctx.exact(pred, target)
            (grad,) = torch.autograd.grad(values, pred, grad_out, create_graph=True)
            return grad, None, None, None
        grad = torch.empty_like(pred)
        for s in _slices(pred.shape[0]):
            grad[s] = _chunk(pred[s], target[s], *ctx.options, grad_out[s])
        return grad, None, None, None


def box_fast(loss: Any, call: Any) -> Any:
    """The box losses through ``_BoxLoss``: values bitwise the definition's, the gradient its
    autograd gradient to rounding (closed form). Declines a target that needs a gradient,
    and dtypes other than float32 and float64."""
    pred, target = call.inputs["pred"], call.inputs["target"]
    if target.requires_grad or pred.dtype not in (torch.float32, torch.float64):
        return None
    if target.dtype != pred.dtype or pred.shape != target.shape:
        return None
    shape = tuple(pred.shape[:-1])
    p, t = pred.reshape(-1, 4), target.reshape(-1, 4)
    params = call.params
    options = (loss.kind, params["fmt"], float(params["eps"]), bool(params.get("log", False)))

    def exact(p_rows: Tensor, t_rows: Tensor) -> Tensor:
        sub = replace(
            call, inputs={"pred": p_rows, "target": t_rows}, weight=None,
            output_shape=(p_rows.shape[0],),
        )  # fmt: skip
        return loss.definition(sub).values

    return Unreduced(_BoxLoss.apply(p, t, options, exact).reshape(shape))
