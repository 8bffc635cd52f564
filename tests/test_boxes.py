"""Box overlap losses, the pairwise box_iou and NMS, against torchvision.ops' formulas.

torchvision does not import beside torch 2.13.0, so its formulas are restated here in torch,
line by line as in torchvision/ops/boxes.py (``_box_inter_union``, ``box_iou``,
``generalized_box_iou``, ``_box_diou_iou``, ``distance_box_iou``, ``complete_box_iou``),
torchvision/ops/_utils.py (``_loss_inter_union``), giou_loss.py
(``generalized_box_iou_loss``), diou_loss.py (``_diou_iou_loss``, ``distance_box_iou_loss``)
and ciou_loss.py (``complete_box_iou_loss``); the only change is a ``where`` in place of
``_loss_inter_union``'s masked assignment. The NMS reference is the greedy loop of
torchvision/csrc/ops/cpu/nms_kernel.cpp: boxes in decreasing score order, a box suppressed
when its IoU with a kept one is greater than the threshold.
"""

from __future__ import annotations

import math

import _inputs as I
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import lossatlas
import lossatlas.torch as lt
import lossatlas.torch._box_fast as box_fast_module
from lossatlas import LossInputError
from lossatlas.boxes import FORMATS, _sample

LOSSES = ("iou_loss", "giou_loss", "diou_loss", "ciou_loss")
KIND = {"iou_loss": "iou", "giou_loss": "giou", "diou_loss": "diou", "ciou_loss": "ciou"}


# ---- torchvision.ops, restated ----------------------------------------------------------------
def tv_box_area(b):
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def tv_box_inter_union(boxes1, boxes2):
    area1, area2 = tv_box_area(boxes1), tv_box_area(boxes2)
    lt_ = torch.max(boxes1[:, None, :2], boxes2[:, :2])
    rb = torch.min(boxes1[:, None, 2:], boxes2[:, 2:])
    wh = (rb - lt_).clamp(min=0)
    inter = wh[:, :, 0] * wh[:, :, 1]
    return inter, area1[:, None] + area2 - inter


def tv_box_iou(boxes1, boxes2):
    inter, union = tv_box_inter_union(boxes1, boxes2)
    return inter / union


def tv_generalized_box_iou(boxes1, boxes2):
    inter, union = tv_box_inter_union(boxes1, boxes2)
    iou = inter / union
    lti = torch.min(boxes1[:, None, :2], boxes2[:, :2])
    rbi = torch.max(boxes1[:, None, 2:], boxes2[:, 2:])
    whi = (rbi - lti).clamp(min=0)
    areai = whi[:, :, 0] * whi[:, :, 1]
    return iou - (areai - union) / areai


def tv_box_diou_iou(boxes1, boxes2, eps=1e-7):
    iou = tv_box_iou(boxes1, boxes2)
    lti = torch.min(boxes1[:, None, :2], boxes2[:, :2])
    rbi = torch.max(boxes1[:, None, 2:], boxes2[:, 2:])
    whi = (rbi - lti).clamp(min=0)
    diagonal_distance_squared = (whi[:, :, 0] ** 2) + (whi[:, :, 1] ** 2) + eps
    x_p = (boxes1[:, 0] + boxes1[:, 2]) / 2
    y_p = (boxes1[:, 1] + boxes1[:, 3]) / 2
    x_g = (boxes2[:, 0] + boxes2[:, 2]) / 2
    y_g = (boxes2[:, 1] + boxes2[:, 3]) / 2
    centers = (x_p[:, None] - x_g[None, :]) ** 2 + (y_p[:, None] - y_g[None, :]) ** 2
    return iou - centers / diagonal_distance_squared, iou


def tv_distance_box_iou(boxes1, boxes2, eps=1e-7):
    return tv_box_diou_iou(boxes1, boxes2, eps)[0]


def tv_complete_box_iou(boxes1, boxes2, eps=1e-7):
    diou, iou = tv_box_diou_iou(boxes1, boxes2, eps)
    w_pred = boxes1[:, None, 2] - boxes1[:, None, 0]
    h_pred = boxes1[:, None, 3] - boxes1[:, None, 1]
    w_gt = boxes2[:, 2] - boxes2[:, 0]
    h_gt = boxes2[:, 3] - boxes2[:, 1]
    v = (4 / (torch.pi**2)) * torch.pow(torch.atan(w_pred / h_pred) - torch.atan(w_gt / h_gt), 2)
    with torch.no_grad():
        alpha = v / (1 - iou + v + eps)
    return diou - alpha * v


def tv_loss_inter_union(boxes1, boxes2):
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    xkis1, ykis1 = torch.max(x1, x1g), torch.max(y1, y1g)
    xkis2, ykis2 = torch.min(x2, x2g), torch.min(y2, y2g)
    mask = (ykis2 > ykis1) & (xkis2 > xkis1)
    intsctk = torch.where(mask, (xkis2 - xkis1) * (ykis2 - ykis1), torch.zeros_like(x1))
    unionk = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - intsctk
    return intsctk, unionk


def tv_generalized_box_iou_loss(boxes1, boxes2, eps=1e-7):
    intsctk, unionk = tv_loss_inter_union(boxes1, boxes2)
    iouk = intsctk / (unionk + eps)
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    xc1, yc1 = torch.min(x1, x1g), torch.min(y1, y1g)
    xc2, yc2 = torch.max(x2, x2g), torch.max(y2, y2g)
    area_c = (xc2 - xc1) * (yc2 - yc1)
    miouk = iouk - ((area_c - unionk) / (area_c + eps))
    return 1 - miouk


def tv_diou_iou_loss(boxes1, boxes2, eps=1e-7):
    intsct, union = tv_loss_inter_union(boxes1, boxes2)
    iou = intsct / (union + eps)
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    xc1, yc1 = torch.min(x1, x1g), torch.min(y1, y1g)
    xc2, yc2 = torch.max(x2, x2g), torch.max(y2, y2g)
    diagonal_distance_squared = ((xc2 - xc1) ** 2) + ((yc2 - yc1) ** 2) + eps
    x_p, y_p = (x2 + x1) / 2, (y2 + y1) / 2
    x_g, y_g = (x1g + x2g) / 2, (y1g + y2g) / 2
    centers_distance_squared = ((x_p - x_g) ** 2) + ((y_p - y_g) ** 2)
    return 1 - iou + (centers_distance_squared / diagonal_distance_squared), iou


def tv_distance_box_iou_loss(boxes1, boxes2, eps=1e-7):
    return tv_diou_iou_loss(boxes1, boxes2, eps)[0]


def tv_complete_box_iou_loss(boxes1, boxes2, eps=1e-7):
    diou_loss, iou = tv_diou_iou_loss(boxes1, boxes2, eps)
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    w_pred, h_pred = x2 - x1, y2 - y1
    w_gt, h_gt = x2g - x1g, y2g - y1g
    v = (4 / (torch.pi**2)) * torch.pow((torch.atan(w_gt / h_gt) - torch.atan(w_pred / h_pred)), 2)
    with torch.no_grad():
        alpha = v / (1 - iou + v + eps)
    return diou_loss + alpha * v


def tv_iou_loss(boxes1, boxes2, eps=1e-7):  # 1 - IoU with torchvision's loss epsilon
    intsct, union = tv_loss_inter_union(boxes1, boxes2)
    return 1 - intsct / (union + eps)


TV_LOSS = {
    "iou_loss": tv_iou_loss,
    "giou_loss": tv_generalized_box_iou_loss,
    "diou_loss": tv_distance_box_iou_loss,
    "ciou_loss": tv_complete_box_iou_loss,
}


def tv_box_convert(boxes, in_fmt, out_fmt):  # torchvision/ops/_box_convert.py
    if in_fmt == "xywh":
        x, y, w, h = boxes.unbind(-1)
        boxes = torch.stack([x, y, x + w, y + h], dim=-1)
    elif in_fmt == "cxcywh":
        cx, cy, w, h = boxes.unbind(-1)
        boxes = torch.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], dim=-1)
    if out_fmt == "xywh":
        x1, y1, x2, y2 = boxes.unbind(-1)
        boxes = torch.stack([x1, y1, x2 - x1, y2 - y1], dim=-1)
    elif out_fmt == "cxcywh":
        x1, y1, x2, y2 = boxes.unbind(-1)
        boxes = torch.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], dim=-1)
    return boxes


def pairs(n: int = 2000, seed: int = 0, fmt: str = "xyxy") -> tuple[np.ndarray, np.ndarray]:
    """Random valid pairs (overlapping, nested both ways, apart) from the spec's sampler."""
    drawn = _sample(np.random.default_rng(seed), (n,), {"fmt": fmt})
    return drawn["pred"], drawn["target"]


def grad_of(fn, pred: np.ndarray, target: np.ndarray, dtype=torch.float64):
    p = torch.tensor(pred, dtype=dtype, requires_grad=True)
    out = fn(p, torch.tensor(target, dtype=dtype))
    out.sum().backward()
    return out.detach().numpy(), p.grad.numpy()


# ---- values and gradients against torchvision --------------------------------------------------
@pytest.mark.parametrize("name", LOSSES)
def test_losses_equal_torchvision_float64(name):
    """Values and autograd gradients (CIoU's alpha held constant in both) on 2000 random valid
    pairs, float64: values to 1e-13, gradients to 1e-11."""
    loss = lossatlas.get(name)
    pred, target = pairs()
    ours_v, ours_g = grad_of(lambda p, t: loss(p, t, reduction="none"), pred, target)
    tv_v, tv_g = grad_of(TV_LOSS[name], pred, target)
    I.assert_close(ours_v, tv_v, rtol=1e-13, atol=1e-14, msg="value")
    I.assert_close(ours_g, tv_g, rtol=1e-11, atol=1e-12, msg="grad")


@pytest.mark.parametrize("name", LOSSES)
def test_losses_equal_torchvision_float32(name):
    loss = lossatlas.get(name)
    pred, target = pairs(seed=1)
    pred, target = pred.astype(np.float32), target.astype(np.float32)
    ours_v, ours_g = grad_of(lambda p, t: loss(p, t, reduction="none"), pred, target, torch.float32)
    tv_v, tv_g = grad_of(TV_LOSS[name], pred, target, torch.float32)
    I.assert_close(ours_v, tv_v, rtol=1e-5, atol=2e-6, msg="value")
    I.assert_close(ours_g, tv_g, rtol=1e-3, atol=1e-5, msg="grad")


TV_PAIRWISE = {
    "iou": tv_box_iou,
    "giou": tv_generalized_box_iou,
    "diou": tv_distance_box_iou,
    "ciou": tv_complete_box_iou,
}


@pytest.mark.parametrize("kind", ["iou", "giou", "diou", "ciou"])
def test_box_iou_equals_torchvision(kind):
    """The (N, M) matrix: with eps=0 equal to torchvision's pairwise functions at eps=0 (box_iou
    and generalized_box_iou have none) to 1e-13; with the default eps, distance_box_iou and
    complete_box_iou (eps in the diagonal and alpha only) to a relative 1e-6 (our eps also
    sits in the union)."""
    a, b = pairs(60, seed=2)
    b = np.concatenate([b, a[:20] + 0.1])  # a (60, 4) by (80, 4) matrix with many overlaps
    ta, tb = torch.tensor(a), torch.tensor(b)
    tv = TV_PAIRWISE[kind]
    exact = tv(ta, tb, eps=0.0) if kind in ("diou", "ciou") else tv(ta, tb)
    ours = lossatlas.box_iou(a, b, kind=kind, eps=0.0)
    assert ours.shape == (60, 80)
    I.assert_close(ours, exact.numpy(), rtol=1e-13, atol=1e-14, msg="eps=0")
    default = lossatlas.box_iou(ta, tb, kind=kind)
    assert torch.is_tensor(default) and default.dtype == torch.float64
    ref = tv(ta, tb) if kind in ("diou", "ciou") else exact
    I.assert_close(default.numpy(), ref.numpy(), rtol=1e-6, atol=1e-6, msg="default eps")


@pytest.mark.parametrize("kind", ["iou", "giou", "diou", "ciou"])
def test_pairwise_is_the_paired_kernel_broadcast(kind):
    """box_iou(a, b)[..., i, j] == 1 - loss(a[i], b[j]), with leading batch axes too."""
    a, b = pairs(24, seed=3)
    a, b = a.reshape(2, 12, 4), b.reshape(2, 12, 4)[:, :7]
    matrix = lossatlas.box_iou(a, b, kind=kind)
    assert matrix.shape == (2, 12, 7)
    loss = lossatlas.get(f"{kind}_loss")
    pa = np.broadcast_to(a[:, :, None, :], (2, 12, 7, 4))
    pb = np.broadcast_to(b[:, None, :, :], (2, 12, 7, 4))
    I.assert_close(1.0 - matrix, loss(pa, pb, reduction="none"), rtol=0, atol=1e-15)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", LOSSES)
def test_every_format_gives_the_same_loss(name, fmt):
    """Boxes in xywh and cxcywh give the xyxy values (gradients through box_convert too)."""
    loss = lossatlas.get(name)
    pred, target = pairs(500, seed=4)
    tp, tt = torch.tensor(pred), torch.tensor(target)
    converted = tv_box_convert(tv_box_convert(tp, "xyxy", fmt), fmt, "xyxy")
    I.assert_close(converted.numpy(), pred, rtol=1e-14, atol=1e-14, msg="round trip")
    mine = lossatlas.box_convert(tp, "xyxy", fmt)
    I.assert_close(mine.numpy(), tv_box_convert(tp, "xyxy", fmt).numpy(), 1e-15, msg="convert")
    p = mine.clone().requires_grad_(True)
    value = loss(p, lossatlas.box_convert(tt, "xyxy", fmt), fmt=fmt, reduction="none")
    value.sum().backward()
    q = tp.clone().requires_grad_(True)
    expected = loss(q, tt, reduction="none")
    (via,) = torch.autograd.grad(expected.sum(), q)
    I.assert_close(value.detach().numpy(), expected.detach().numpy(), 1e-12, 1e-14, msg=fmt)
    # d/d(converted) = d/d(xyxy) times the inverse Jacobian of the conversion
    back = torch.autograd.functional.vjp(
        lambda x: lossatlas.box_convert(x, fmt, "xyxy"), mine.detach(), via
    )[1]
    I.assert_close(p.grad.numpy(), back.numpy(), 1e-10, 1e-12, msg=f"grad {fmt}")


# ---- known answers -----------------------------------------------------------------------------
def test_known_answers():
    """Identical boxes: 0 (to eps); a quarter-size box inside the other: GIoU loss 0.75 (also
    IoU/DIoU: same centre, 0.75); touching boxes: 1.0 (GIoU: C = U); diagonal boxes apart
    at a corner: GIoU 1.5."""
    unit = np.array([[0.0, 0.0, 1.0, 1.0]])
    big = np.array([[0.0, 0.0, 2.0, 2.0]])
    quarter = np.array([[0.5, 0.5, 1.5, 1.5]])  # centred in big, a quarter of its area
    touching = np.array([[1.0, 0.0, 2.0, 1.0]])
    diagonal = np.array([[1.0, 1.0, 2.0, 2.0]])
    for name in LOSSES:
        assert abs(float(lossatlas.get(name)(unit, unit))) < 1e-6
        assert float(lossatlas.get(name)(unit, unit, eps=1e-15)) == pytest.approx(0, abs=1e-14)
    assert float(lossatlas.giou_loss(quarter, big)) == pytest.approx(0.75, abs=1e-7)
    assert float(lossatlas.diou_loss(quarter, big)) == pytest.approx(0.75, abs=1e-7)
    assert float(lossatlas.iou_loss(touching, unit)) == pytest.approx(1.0, abs=1e-12)
    assert float(lossatlas.giou_loss(touching, unit)) == pytest.approx(1.0, abs=1e-6)
    assert float(lossatlas.giou_loss(diagonal, unit)) == pytest.approx(1.5, abs=1e-6)
    # DIoU of the diagonal pair: 1 + d^2/c^2 = 1 + 2/8
    assert float(lossatlas.diou_loss(diagonal, unit)) == pytest.approx(1.25, abs=1e-6)
    # UnitBox: -ln IoU; the clamp at eps where the boxes are apart
    assert float(lossatlas.iou_loss(quarter, big, log=True)) == pytest.approx(math.log(4), 1e-6)
    assert float(lossatlas.iou_loss(diagonal, unit, log=True)) == pytest.approx(-math.log(1e-7))


def test_ciou_alpha_is_held_constant():
    """The gradient is the paper's (alpha a constant): it equals the restated torchvision
    (no_grad) gradient above and differs from the derivative of the value through alpha."""
    pred = np.array([[0.0, 0.0, 2.0, 1.0], [0.2, 0.1, 1.0, 3.0]])
    target = np.array([[0.5, 0.0, 1.5, 2.0], [0.0, 0.0, 1.0, 1.0]])
    _, ours = grad_of(lambda p, t: lossatlas.ciou_loss(p, t, reduction="none"), pred, target)

    def full(p, t, eps=1e-7):  # the same value, alpha differentiated
        diou, iou = tv_diou_iou_loss(p, t, eps)
        w_p, h_p, w_g, h_g = (
            p[:, 2] - p[:, 0],
            p[:, 3] - p[:, 1],
            t[:, 2] - t[:, 0],
            t[:, 3] - t[:, 1],
        )
        v = (4 / torch.pi**2) * (torch.atan(w_g / h_g) - torch.atan(w_p / h_p)) ** 2
        return diou + v / (1 - iou + v + eps) * v

    value, through_alpha = grad_of(full, pred, target)
    ref = lossatlas.ciou_loss(pred, target, reduction="none")
    I.assert_close(value, ref, 1e-14, msg="same value")
    assert np.max(np.abs(through_alpha - ours)) > 1e-3
    jax_grad = jax.grad(lambda p: lossatlas.ciou_loss(p, jnp.asarray(target), reduction="sum"))
    I.assert_close(np.asarray(jax_grad(jnp.asarray(pred))), ours, 1e-12, 1e-14, msg="jax")


# ---- degenerate, empty, half precision ---------------------------------------------------------
DEGENERATE = [
    ([1.0, 0.0, 1.0, 2.0], [0.0, 0.0, 2.0, 2.0]),  # zero width inside
    ([0.0, 1.0, 2.0, 1.0], [0.0, 0.0, 2.0, 2.0]),  # zero height inside
    ([1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 2.0, 2.0]),  # a point inside
    ([3.0, 3.0, 3.0, 3.0], [0.0, 0.0, 2.0, 2.0]),  # a point apart
    ([0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 1.0, 1.0]),  # a point target
    ([0.0, 0.0, 2.0, 2.0], [0.0, 1.0, 2.0, 1.0]),  # a zero-height target
    ([1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]),  # the same point
    ([0.0, 1.0, 2.0, 1.0], [0.0, 1.0, 2.0, 1.0]),  # the same line
    ([0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]),  # identical: every coordinate a tie
]


@pytest.mark.parametrize("name", LOSSES)
def test_degenerate_boxes_are_finite_in_value_and_gradient(name):
    """Zero width, zero height and points, as pred or target: a finite loss and finite
    gradients on torch and JAX (torchvision's CIoU gives NaN for all but the first rows)."""
    loss = lossatlas.get(name)
    pred = np.array([p for p, _ in DEGENERATE])
    target = np.array([t for _, t in DEGENERATE])
    values = {}
    for params in ({}, {"log": True}) if name == "iou_loss" else ({},):
        value, grad = values[bool(params)] = grad_of(
            lambda p, t, kw=params: loss(p, t, reduction="none", **kw), pred, target
        )
        assert np.isfinite(value).all() and np.isfinite(grad).all(), (value, grad)
        jgrad = jax.grad(lambda p, kw=params: loss(p, jnp.asarray(target), reduction="sum", **kw))
        jg = np.asarray(jgrad(jnp.asarray(pred)))
        assert np.isfinite(jg).all()
        I.assert_close(jg, grad, 1e-12, 1e-14, msg="jax vs torch")
    # the values: a line or a point inside the 2 x 2 box has IoU 0
    # (same centre: no distance term, the enclosing box is the target: no GIoU term); CIoU
    # adds alpha v with v = 4/pi^2 (pi/4 - 0)^2 = 1/4 (a zero width and a point both have
    # aspect angle 0, as atan2(0, 0)), alpha = v / (1 + v): 1/20
    value = values[False][0]
    aspect = 0.05 if name == "ciou_loss" else 0.0
    assert value[0] == pytest.approx(1.0 + aspect) and value[2] == pytest.approx(1.0 + aspect)
    if name == "ciou_loss":
        tv_v = tv_complete_box_iou_loss(torch.tensor(pred), torch.tensor(target))
        assert torch.isnan(tv_v).any()  # the NaN this library does not give


def test_empty_input():
    for name in LOSSES:
        loss = lossatlas.get(name)
        p = torch.zeros((0, 4), dtype=torch.float64, requires_grad=True)
        out = loss(p, torch.zeros((0, 4), dtype=torch.float64))
        assert out.item() == 0.0 and out.requires_grad
        out.backward()
        assert p.grad.shape == (0, 4)
        assert loss(np.zeros((0, 4)), np.zeros((0, 4)), reduction="none").shape == (0,)
    assert lossatlas.box_iou(np.zeros((0, 4)), np.zeros((3, 4))).shape == (0, 3)


@pytest.mark.parametrize("backend", ["torch", "jax", "numpy"])
def test_float16_computes_in_float32(backend):
    pred, target = pairs(200, seed=5)
    pred, target = pred.astype(np.float16), target.astype(np.float16)
    for name in LOSSES:
        loss = lossatlas.get(name)
        half = loss(I.convert(pred, backend, "float16"), I.convert(target, backend, "float16"),
                    reduction="none")  # fmt: skip
        assert str(half.dtype).endswith("float16")
        single = loss(pred.astype(np.float32), target.astype(np.float32), reduction="none")
        np.testing.assert_array_equal(I.to_numpy(half), single.astype(np.float16).astype(float))


def test_jax_jit_and_grad():
    pred, target = pairs(64, seed=6)
    for name in LOSSES:
        loss = lossatlas.get(name)
        f = jax.jit(lambda p, t, loss=loss: loss(p, t, fmt="cxcywh"))
        pc = np.asarray(lossatlas.box_convert(pred, "xyxy", "cxcywh"))
        tc = np.asarray(lossatlas.box_convert(target, "xyxy", "cxcywh"))
        I.assert_close(np.asarray(f(pc, tc)), loss(pc, tc, fmt="cxcywh"), 1e-13)
        g = jax.jit(jax.grad(lambda p, t, loss=loss: loss(p, t)))(pred, target)
        _, expected = grad_of(lambda p, t, loss=loss: loss(p, t), pred, target)
        I.assert_close(np.asarray(g), expected, 1e-12, 1e-15, msg=name)
    m = jax.jit(lambda a, b: lossatlas.box_iou(a, b, kind="ciou"))(pred[:5], target[:7])
    I.assert_close(np.asarray(m), lossatlas.box_iou(pred[:5], target[:7], kind="ciou"), 1e-13)


def test_torch_modules():
    pred, target = pairs(32, seed=7)
    tp, tt = torch.tensor(pred, requires_grad=True), torch.tensor(target)
    for cls, name in ((lt.IoULoss, "iou_loss"), (lt.GIoULoss, "giou_loss"),
                      (lt.DIoULoss, "diou_loss"), (lt.CIoULoss, "ciou_loss")):  # fmt: skip
        assert lt.MODULES[name] is cls
        module = cls(reduction="sum", eps=1e-6)
        got = module(tp, tt)
        assert torch.allclose(got, lossatlas.get(name)(tp, tt, reduction="sum", eps=1e-6))
        got.backward()
    assert lossatlas.get("GIoULoss") is lossatlas.giou_loss
    assert lossatlas.get("torchvision.ops.complete_box_iou_loss") is lossatlas.ciou_loss


# ---- errors -----------------------------------------------------------------------------------
def _raises(fn, argument, text=""):
    with pytest.raises(LossInputError) as info:
        fn()
    assert info.value.argument == argument, str(info.value)
    assert text in str(info.value), str(info.value)


@pytest.mark.parametrize("name", LOSSES)
def test_bad_boxes_raise(name):
    loss = lossatlas.get(name)
    good = np.array([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 2.0, 2.0]])
    inverted = np.array([[0.0, 0.0, 1.0, 1.0], [2.0, 0.0, 1.0, 1.0]])  # x2 < x1
    negative = np.array([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, -1.0]])  # h < 0
    for backend in ("numpy", "torch", "jax", "array_api_strict"):
        g, bad = I.convert(good, backend), I.convert(inverted, backend)
        _raises(lambda g=g, b=bad: loss(b, g), "pred", "[2, 0, 1, 1]")
        _raises(lambda g=g, b=bad: loss(g, b), "target", "x1 <= x2")
    for fmt in ("xywh", "cxcywh"):
        _raises(lambda f=fmt: loss(negative, good, fmt=f), "pred", "h >= 0")
        assert np.isfinite(loss(inverted, good, fmt=fmt))  # w, h >= 0 there: valid
    for bad in (np.nan, np.inf, -np.inf):
        poisoned = good.copy()
        poisoned[1, 2] = bad
        _raises(lambda p=poisoned: loss(p, good), "pred", "finite")
    _raises(lambda: loss(good[:, :3], good[:, :3]), "pred", "4)")
    _raises(lambda: loss(good, good[:1]), "target", "(2, 4)")
    _raises(lambda: loss(good, good, fmt="xyzw"), "fmt", "'xyxy'")
    _raises(lambda: loss(good, good, eps=0.0), "eps")
    with lossatlas.config.override(check_values=False):
        loss(inverted, good)  # not checked: garbage in, garbage out
    assert jax.jit(lambda p: loss(p, jnp.asarray(good)))(jnp.asarray(inverted)).shape == ()


def test_box_iou_and_convert_errors():
    good = np.zeros((3, 4))
    _raises(lambda: lossatlas.box_iou(good, good, kind="xiou"), "kind")
    _raises(lambda: lossatlas.box_iou(good, good, fmt="yxyx"), "fmt")
    _raises(lambda: lossatlas.box_iou(good, good, eps=-1.0), "eps")
    _raises(lambda: lossatlas.box_iou(good[:, :2], good), "boxes1", "(..., 4)")
    _raises(lambda: lossatlas.box_iou(good[0], good), "boxes1", "N, 4")
    _raises(lambda: lossatlas.box_iou(good[None], np.zeros((2, 3, 4))), "boxes2", "leading")
    _raises(lambda: lossatlas.box_iou(good.astype(np.int64), good), "boxes1", "floating")
    _raises(lambda: lossatlas.box_iou(good, torch.zeros(3, 4)), "boxes2", "same library")
    _raises(lambda: lossatlas.box_iou(np.array([[1.0, 0, 0, 1]]), good), "boxes1", "inverted")
    _raises(lambda: lossatlas.box_convert(good, "xyxy", "abcd"), "out_fmt")
    _raises(lambda: lossatlas.box_convert([1, 2, 3, 4], "xyxy", "xywh"), "boxes")


# ---- non-maximum suppression ------------------------------------------------------------------
def reference_nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """torchvision/csrc/ops/cpu/nms_kernel.cpp: in decreasing score order, keep a box unless
    suppressed, then suppress every later box whose IoU with it exceeds the threshold
    (NaN for a zero union never does). Ties of score in index order (a stable sort)."""
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1) * (y2 - y1)
    suppressed = np.zeros(len(boxes), bool)
    keep = []
    for position, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(i)
        later = order[position + 1 :]
        w = np.maximum(np.minimum(x2[i], x2[later]) - np.maximum(x1[i], x1[later]), 0)
        h = np.maximum(np.minimum(y2[i], y2[later]) - np.maximum(y1[i], y1[later]), 0)
        inter = w * h
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = inter / (areas[i] + areas[later] - inter)
        suppressed[later[iou > threshold]] = True
    return np.asarray(keep, dtype=np.int64)


def detections(kind: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "piled":  # torchvision's tests: rand * 100 corners and sizes
        xy, wh = rng.random((n, 2)) * 100, rng.random((n, 2)) * 100
    elif kind == "spread":  # an image of scattered objects
        xy, wh = rng.random((n, 2)) * 1000, rng.uniform(10, 100, (n, 2))
    else:  # a detector's output: jittered boxes around objects
        centres, sizes = rng.random((n // 25 + 1, 2)) * 500, rng.uniform(20, 80, (n // 25 + 1, 2))
        k = rng.integers(0, len(centres), n)
        xy = centres[k] + rng.normal(0, 4, (n, 2))
        wh = sizes[k] * np.exp(rng.normal(0, 0.1, (n, 2)))
    boxes = np.concatenate([xy, xy + wh], axis=1)
    if kind == "piled":
        boxes[:5] = boxes[5:10]  # exact duplicates
        boxes[10:13, 2] = boxes[10:13, 0]  # zero width
    return boxes, rng.random(n)


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.7, 1.0, -0.1])
@pytest.mark.parametrize("kind", ["piled", "spread", "clustered"])
def test_nms_equals_the_reference(kind, threshold):
    boxes, scores = detections(kind, 1500, seed=8)
    keep = lossatlas.nms(boxes, scores, iou_threshold=threshold)
    expected = reference_nms(boxes, scores, threshold)
    assert keep.dtype == np.int64
    np.testing.assert_array_equal(keep, expected)
    for fmt in ("xywh", "cxcywh"):
        other = np.asarray(lossatlas.box_convert(boxes, "xyxy", fmt))
        np.testing.assert_array_equal(lossatlas.nms(other, scores, iou_threshold=threshold,
                                                    fmt=fmt), expected)  # fmt: skip


@pytest.mark.parametrize("kind", ["piled", "spread", "clustered"])
def test_nms_equals_the_reference_on_small_sets(kind):
    """A few boxes at a time: among them sets whose candidate pairs all fall below the
    threshold (a README example of 8 boxes once crashed there)."""
    for seed in range(60):
        n = 1 + seed % 12 + (13 if kind == "piled" else 0)  # piled plants 13 special boxes
        boxes, scores = detections(kind, n, seed=100 + seed)
        for threshold in (0.0, 0.3, 0.5, 0.9):
            np.testing.assert_array_equal(
                lossatlas.nms(boxes, scores, iou_threshold=threshold),
                reference_nms(boxes, scores, threshold),
            )
            assert len(lossatlas.nms(boxes, scores, iou_threshold=threshold, kind="diou")) >= 1


def test_nms_namespaces_and_ties():
    boxes, scores = detections("clustered", 300, seed=9)
    scores = np.round(scores, 1)  # many ties: index order
    expected = reference_nms(boxes, scores, 0.5)
    t = lossatlas.nms(torch.tensor(boxes, dtype=torch.float32), torch.tensor(scores))
    assert t.dtype == torch.int64 and torch.equal(t, torch.from_numpy(expected))
    j = lossatlas.nms(jnp.asarray(boxes), jnp.asarray(scores))
    assert isinstance(j, jax.Array) and np.array_equal(np.asarray(j), expected)
    assert lossatlas.nms(np.zeros((0, 4)), np.zeros(0)).shape == (0,)


def test_diou_nms_keeps_a_nearby_box_whose_centre_lies_apart():
    """Two boxes of IoU 0.6 side by side: IoU-NMS at 0.58 drops the second; DIoU-NMS at 0.58
    keeps it, since IoU - d^2/c^2 = 0.6 - 0.25^2 / (1.25^2 + 1) = 0.5756; at 0.57 it drops it
    too. A duplicate of the first is dropped by both."""
    a = [0.0, 0.0, 1.0, 1.0]
    b = [0.25, 0.0, 1.25, 1.0]  # IoU 0.75 / 1.25 = 0.6, d = 0.25, c^2 = 1.25^2 + 1
    c = [0.0, 0.0, 1.0, 1.0]  # a duplicate of a: suppressed by both
    boxes, scores = np.array([a, b, c]), np.array([0.9, 0.8, 0.7])
    penalty = 0.25**2 / (1.25**2 + 1.0)
    np.testing.assert_array_equal(lossatlas.nms(boxes, scores, iou_threshold=0.5), [0])
    np.testing.assert_array_equal(lossatlas.nms(boxes, scores, iou_threshold=0.58), [0])
    np.testing.assert_array_equal(
        lossatlas.nms(boxes, scores, iou_threshold=0.58, kind="diou"), [0, 1]
    )
    # the rule itself: suppress when IoU - d^2/c^2 > threshold
    assert 0.6 - penalty > 0.57 and 0.6 - penalty < 0.58
    np.testing.assert_array_equal(
        lossatlas.nms(boxes, scores, iou_threshold=0.57, kind="diou"), [0]
    )


def test_diou_nms_equals_its_reference():
    boxes, scores = detections("clustered", 1000, seed=10)
    order = np.argsort(-scores, kind="stable")
    matrix = np.asarray(lossatlas.box_iou(boxes, boxes, kind="diou", eps=0.0))
    suppressed, keep = np.zeros(len(boxes), bool), []
    for position, i in enumerate(order):
        if not suppressed[i]:
            keep.append(i)
            later = order[position + 1 :]
            suppressed[later[matrix[i, later] > 0.4]] = True
    np.testing.assert_array_equal(lossatlas.nms(boxes, scores, iou_threshold=0.4, kind="diou"),
                                  keep)  # fmt: skip


def test_batched_nms_is_nms_per_class():
    boxes, scores = detections("clustered", 800, seed=11)
    classes = np.random.default_rng(12).integers(0, 4, len(boxes))
    keep = lossatlas.batched_nms(boxes, scores, classes, iou_threshold=0.5)
    expected = np.concatenate([np.flatnonzero(classes == c)[reference_nms(
        boxes[classes == c], scores[classes == c], 0.5)] for c in range(4)])  # fmt: skip
    expected = expected[np.argsort(-scores[expected], kind="stable")]
    np.testing.assert_array_equal(keep, expected)
    # torchvision's coordinate trick gives the same: boxes of each class offset apart
    offset = boxes + (classes * (boxes.max() + 1))[:, None]
    np.testing.assert_array_equal(keep, reference_nms(offset, scores, 0.5))


def test_nms_errors():
    boxes, scores = detections("spread", 10, seed=13)
    _raises(lambda: lossatlas.nms(boxes, scores[:5]), "scores", "(10,)")
    _raises(lambda: lossatlas.nms(boxes[:, :3], scores), "boxes", "(N, 4)")
    _raises(lambda: lossatlas.nms(boxes, scores, kind="giou"), "kind")
    _raises(lambda: lossatlas.nms(boxes, scores, fmt="yxyx"), "fmt")
    _raises(lambda: lossatlas.nms(boxes, scores, iou_threshold=float("nan")), "iou_threshold")
    inverted = boxes.copy()
    inverted[3, 2] = inverted[3, 0] - 1
    _raises(lambda: lossatlas.nms(inverted, scores), "boxes", "inverted")
    nan_scores = scores.copy()
    nan_scores[0] = np.nan
    _raises(lambda: lossatlas.nms(boxes, nan_scores), "scores", "NaN")
    _raises(lambda: lossatlas.batched_nms(boxes, scores, scores), "classes", "integer")
    with pytest.raises(LossInputError, match=r"jax\.jit"):
        jax.jit(lambda b, s: lossatlas.nms(b, s))(jnp.asarray(boxes), jnp.asarray(scores))


# ---- the torch fast path (lossatlas/torch/_box_fast.py) against the definition ----------------
def edge_pairs(n: int, fmt: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Half sampler pairs (overlapping, nested both ways, apart), half pairs of boxes with
    corners on a grid of step 0.5 (exact ties of coordinates between pred and target, touching
    boxes, zero widths, zero heights, points), a quarter of those identical; in ``fmt``."""
    rng = np.random.default_rng(seed)
    d = _sample(rng, (n,), {"fmt": "xyxy"})
    pred, target = d["pred"], d["target"]
    m = n // 2
    g = rng.integers(-3, 4, size=(m, 2, 4)) * 0.5
    grid = np.concatenate(
        [np.minimum(g[..., :2], g[..., 2:]), np.maximum(g[..., :2], g[..., 2:])], -1
    )
    pred[:m], target[:m] = grid[:, 0], grid[:, 1]
    target[: m // 4] = pred[: m // 4]
    from lossatlas.boxes import _to_fmt

    return _to_fmt(pred, fmt), _to_fmt(target, fmt)


FAST_CASES = [(name, {}) for name in LOSSES] + [("iou_loss", {"log": True})]


def _fast_and_composed(name, pred, target, dtype, upstream=None, **kw):
    loss = getattr(lossatlas, name)
    out = []
    for run in (loss, loss.composed):
        p = torch.tensor(pred, dtype=dtype, requires_grad=True)
        v = run(p, torch.tensor(target, dtype=dtype), **kw)
        g = torch.ones_like(v) if upstream is None else upstream.to(dtype)
        (grad,) = torch.autograd.grad(v, p, g)
        out.append((v.detach().numpy(), grad.numpy()))
    return out


def _assert_ulps(fast, composed, eps, ulps):
    """|fast - composed| <= ulps eps (|composed| + its largest magnitude in the row): the
    gradient's components are sums whose order differs, so a few ulps of the row's scale."""
    scale = np.abs(composed).max(axis=-1, keepdims=True) if composed.ndim else abs(composed)
    bound = ulps * eps * (np.abs(composed) + scale)
    worst = np.max(np.abs(fast - composed) / (bound + 1e-300))
    assert np.all(np.abs(fast - composed) <= bound), worst


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name,kw", FAST_CASES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_fast_path_equals_the_definition(name, kw, fmt, dtype, monkeypatch):
    # chunks of 512 rows: some with degenerate boxes (the grid pairs come first), some without
    monkeypatch.setattr(box_fast_module, "BOX_CHUNK_ROWS", 512)
    pred, target = edge_pairs(3000, fmt, seed=len(name) + 7 * FORMATS.index(fmt))
    upstream = torch.from_numpy(np.random.default_rng(5).normal(size=3000))
    (v1, g1), (v0, g0) = _fast_and_composed(
        name, pred, target, dtype, upstream, reduction="none", fmt=fmt, **kw
    )
    eps = float(torch.finfo(dtype).eps)
    _assert_ulps(v1, v0, eps, 2)
    _assert_ulps(g1, g0, eps, 8)
    assert np.all(np.isfinite(g1))


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("name,kw", FAST_CASES)
def test_fast_path_reductions_weights_and_batch_axes(name, kw, reduction, monkeypatch):
    monkeypatch.setattr(box_fast_module, "BOX_CHUNK_ROWS", 64)
    pred, target = edge_pairs(2 * 3 * 50, "cxcywh", seed=3)
    shape = (2, 3, 50, 4)
    weight = torch.from_numpy(np.random.default_rng(4).uniform(0, 2, size=shape[:-1]))
    (v1, g1), (v0, g0) = _fast_and_composed(
        name, pred.reshape(shape), target.reshape(shape), torch.float64,
        reduction=reduction, weight=weight, fmt="cxcywh", **kw,
    )  # fmt: skip
    _assert_ulps(v1, v0, 2.0**-52, 4)
    _assert_ulps(g1, g0, 2.0**-52, 8)


def _nodes(fn):
    seen, stack = [], [fn]
    while stack:
        node = stack.pop()
        if node is not None and node not in seen:
            seen.append(node)
            stack.extend(n for n, _ in node.next_functions)
    return seen


def test_fast_path_is_the_function_and_saves_only_the_inputs():
    pred, target = edge_pairs(100, "xyxy", seed=9)
    for name, kw in FAST_CASES:
        p = torch.tensor(pred, requires_grad=True)
        t = torch.tensor(target)
        packed: list[torch.Tensor] = []

        def pack(x, packed=packed):
            packed.append(x)
            return x

        # the value checks run first and are no part of the graph: counted without them
        with lossatlas.config.override(check_values=False):
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda x: x):
                v = getattr(lossatlas, name)(p, t, reduction="none", **kw)
        names = [type(n).__name__ for n in _nodes(v.grad_fn)]
        assert "_BoxLossBackward" in names, names
        assert len(packed) == 2
        assert {x.data_ptr() for x in packed} == {p.data_ptr(), t.data_ptr()}


def test_fast_path_double_backward_and_declines():
    pred, target = edge_pairs(200, "xywh", seed=10)
    for name, kw in FAST_CASES:
        loss = getattr(lossatlas, name)
        hvps = []
        for run in (loss, loss.composed):
            p = torch.tensor(pred, requires_grad=True)
            (g,) = torch.autograd.grad(run(p, torch.tensor(target), fmt="xywh", **kw), p,
                                       create_graph=True)  # fmt: skip
            (h,) = torch.autograd.grad((g * torch.tensor(target)).sum(), p)
            hvps.append(h.numpy())
        np.testing.assert_allclose(hvps[0], hvps[1], rtol=1e-10, atol=1e-10)
        # a target that needs a gradient: the definition runs (the Function has none for it)
        t = torch.tensor(target, requires_grad=True)
        v = loss(torch.tensor(pred, requires_grad=True), t, fmt="xywh", **kw)
        assert "_BoxLossBackward" not in [type(n).__name__ for n in _nodes(v.grad_fn)]
        (gt,) = torch.autograd.grad(v, t)
        (gt0,) = torch.autograd.grad(
            loss.composed(torch.tensor(pred), t2 := torch.tensor(target, requires_grad=True),
                          fmt="xywh", **kw), t2)  # fmt: skip
        np.testing.assert_array_equal(gt.numpy(), gt0.numpy())
