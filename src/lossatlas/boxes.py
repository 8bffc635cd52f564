r"""Bounding-box overlap: IoU, GIoU, DIoU and CIoU, pairwise and as losses on matched pairs.

For boxes A (predicted) and B (target), with I = |A ∩ B|, U = |A| + |B| - I, C the smallest
box enclosing both, d the distance between their centres and c the diagonal of C:

    IoU  = I / (U + eps)
    GIoU = IoU - (|C| - U) / (|C| + eps)                   (Rezatofighi et al. 2019)
    DIoU = IoU - d^2 / (c^2 + eps)                          (Zheng et al. 2020)
    CIoU = DIoU - alpha v,  v = 4/pi^2 (atan(w_B/h_B) - atan(w_A/h_A))^2,
           alpha = v / (1 - IoU + v + eps)                  (Zheng et al. 2020)

``eps`` sits where torchvision.ops' box losses put it (the union, the enclosing area, the
squared diagonal and alpha's denominator). The losses are 1 minus these (``iou_loss`` with
``log=True``: -ln max(IoU, eps), UnitBox's -ln IoU with mmdet's clamp). One kernel,
:func:`_overlap`, serves the pairwise matrix (:func:`box_iou`: (..., N, 4) against (..., M, 4)
broadcast to (..., N, M)) and the matched pairs of the losses ((*b, 4) against (*b, 4)).

Degenerate boxes (zero width, zero height, a point) give finite values and finite gradients:
minima and maxima are selections, so that at a tie (identical edges, a zero width) the
gradient is the one-sided derivative of the predicted box growing outward, on every backend
(into the valid boxes for a degenerate one); every
division is guarded where its denominator can be 0, and the aspect angle is
``atan2(w, h)`` (equal to atan(w/h) for h > 0, pi/2 for a zero height, 0 for a point, as
IEEE 754's atan2(0, 0)), with a double ``where`` so that its derivative is 0 at a point
instead of 0/0. torchvision gives NaN there. The distance ratio is computed scaled by the
enclosing box's width plus height, so d^2 and c^2 never overflow (offsets of 1e300 in
float64). Coordinates must be finite, and boxes must not be inverted: x1 <= x2 and y1 <= y2 in
"xyxy", w, h >= 0 in "xywh" and "cxcywh"; anything else raises :class:`LossInputError`
(a value check: skipped under ``jax.jit`` and with ``config.check_values=False``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from array_api_compat import array_namespace, is_array_api_obj

from ._loss import QUIET_NUMPY, Loss
from ._reduce import Unreduced
from ._registry import register
from ._spec import BoostingHessian, Curve, Input, LossSpec, Param, Probe, Properties
from ._validate import LossInputError, describe, values_checkable
from ._xp import compute_dtype, const, is_tracing, stop_gradient

__all__ = [
    "FORMATS",
    "KINDS",
    "BoxLoss",
    "box_convert",
    "box_iou",
    "ciou_loss",
    "diou_loss",
    "giou_loss",
    "iou_loss",
]

FORMATS = ("xyxy", "xywh", "cxcywh")
KINDS = ("iou", "giou", "diou", "ciou")
FOUR_OVER_PI2 = 4.0 / math.pi**2
#: pairs of box_iou computed at once
PAIRWISE_CHUNK = 1 << 16
MAX_CHUNKS = 64

YU_2016 = (
    "Yu, J., Jiang, Y., Wang, Z., Cao, Z., Huang, T. (2016). UnitBox: An Advanced Object "
    "Detection Network. Proceedings of the 24th ACM International Conference on Multimedia, "
    "516-520."
)
REZATOFIGHI_2019 = (
    "Rezatofighi, H., Tsoi, N., Gwak, J., Sadeghian, A., Reid, I., Savarese, S. (2019). "
    "Generalized Intersection over Union: A Metric and a Loss for Bounding Box Regression. "
    "CVPR, 658-666."
)
ZHENG_2020 = (
    "Zheng, Z., Wang, P., Liu, W., Li, J., Ye, R., Ren, D. (2020). Distance-IoU Loss: Faster "
    "and Better Learning for Bounding Box Regression. AAAI 34(7), 12993-13000."
)
TORCHVISION = "torchvision.ops (boxes.py, giou_loss.py, diou_loss.py, ciou_loss.py)"


# ---- formats ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Box:
    """A box's corners, size and centre, each an array of the batch shape."""

    x1: Any
    y1: Any
    x2: Any
    y2: Any
    w: Any
    h: Any
    cx: Any
    cy: Any


def _parts(xp: Any, boxes: Any, fmt: str) -> _Box:
    """The corners, sizes and centres of (..., 4) boxes in ``fmt``; the sizes are the given
    ones in "xywh" and "cxcywh" (not recomputed from the corners, which rounds)."""
    a, b, c, d = (boxes[..., k] for k in range(4))
    half = const(xp, 0.5, boxes)
    if fmt == "xyxy":
        return _Box(a, b, c, d, c - a, d - b, (a + c) * half, (b + d) * half)
    if fmt == "xywh":
        return _Box(a, b, a + c, b + d, c, d, a + c * half, b + d * half)
    hw, hh = c * half, d * half
    return _Box(a - hw, b - hh, a + hw, b + hh, c, d, a, b)


def box_convert(boxes: Any, in_fmt: str, out_fmt: str) -> Any:
    """Boxes (..., 4) from ``in_fmt`` to ``out_fmt``, each one of "xyxy" (corners x1, y1, x2,
    y2), "xywh" (top-left corner, width, height) or "cxcywh" (centre, width, height), in the
    input's namespace, device and dtype (as torchvision.ops.box_convert)."""
    for arg, fmt in (("in_fmt", in_fmt), ("out_fmt", out_fmt)):
        if not isinstance(fmt, str) or fmt not in FORMATS:
            raise LossInputError("box_convert", arg, f"one of {FORMATS}", repr(fmt))
    _check_array("box_convert", "boxes", boxes)
    xp = array_namespace(boxes)
    if in_fmt == out_fmt:
        return boxes
    p = _parts(xp, boxes, in_fmt)
    if out_fmt == "xyxy":
        cols = (p.x1, p.y1, p.x2, p.y2)
    elif out_fmt == "xywh":
        cols = (p.x1, p.y1, p.w, p.h)
    else:
        cols = (p.cx, p.cy, p.w, p.h)
    return xp.stack(cols, axis=-1)


def _check_array(function: str, arg: str, boxes: Any) -> None:
    if not is_array_api_obj(boxes):
        raise LossInputError(function, arg, "an array of boxes (..., 4)", describe(boxes))
    if boxes.ndim < 1 or boxes.shape[-1] != 4:
        raise LossInputError(
            function, arg, "boxes of shape (..., 4)", f"shape {tuple(boxes.shape)}"
        )


def _number(v: float) -> str:
    return "NaN" if v != v else f"{v:g}"


def check_boxes(function: str, arg: str, xp: Any, boxes: Any, fmt: str) -> None:
    """Raise :class:`LossInputError` naming ``arg`` where a box has a non-finite coordinate
    (NaN, +-inf) or is inverted (x2 < x1 or y2 < y1 in "xyxy", w < 0 or h < 0 otherwise);
    the message shows the first such box. Skipped where values are not checkable."""
    if not values_checkable(boxes):
        return
    finite = xp.all(xp.isfinite(boxes), axis=-1)
    if fmt == "xyxy":
        upright = (boxes[..., 2] >= boxes[..., 0]) & (boxes[..., 3] >= boxes[..., 1])
    else:
        upright = (boxes[..., 2] >= 0) & (boxes[..., 3] >= 0)
    good = finite & upright
    if bool(xp.all(good)):
        return
    flat = xp.reshape(good, (-1,))
    first = int(xp.argmin(xp.astype(flat, xp.int8)))
    row = xp.reshape(boxes, (-1, 4))[first, ...]
    shown = "[" + ", ".join(_number(float(row[k])) for k in range(4)) + "]"
    bad = int(xp.sum(xp.astype(~flat, xp.int64)))
    if not bool(xp.all(finite)):
        expected = "finite box coordinates"
        what = "a non-finite coordinate"
    else:
        what = "an inverted box"
        expected = (
            "boxes with x1 <= x2 and y1 <= y2 (fmt 'xyxy')"
            if fmt == "xyxy"
            else f"boxes with w >= 0 and h >= 0 (fmt {fmt!r})"
        )
    raise LossInputError(function, arg, expected, f"{bad} bad box(es), the first {what}: {shown}")


# ---- the one kernel -----------------------------------------------------------------------------
def _lo(xp: Any, a: Any, b: Any) -> Any:
    """min(a, b) as a selection: a at a tie, so the (sub)gradient is the same on every
    backend (torch and JAX split a tie of minimum half and half) and one of the one-sided
    derivatives."""
    return xp.where(a <= b, a, b)


def _hi(xp: Any, a: Any, b: Any) -> Any:
    return xp.where(a >= b, a, b)


def _div(xp: Any, num: Any, den: Any) -> Any:
    """num / den where den > 0, else 0 (double where: no 0/0 in the value or the gradient)."""
    ok = den > 0
    return xp.where(ok, num / xp.where(ok, den, const(xp, 1.0, den)), const(xp, 0.0, num))


def _aspect(xp: Any, w: Any, h: Any) -> Any:
    """atan(w / h) as atan2(w, h): pi/2 for a zero height, 0 for a point; the point's
    arguments are replaced by 1 before atan2 so that its derivative is 0 there, not 0/0."""
    point = (w == 0) & (h == 0)
    one = const(xp, 1.0, w)
    angle = xp.atan2(xp.where(point, one, w), xp.where(point, one, h))
    return xp.where(point, const(xp, 0.0, w), angle)


def _overlap(xp: Any, a: _Box, b: _Box, kind: str, eps: float) -> tuple[Any, Any]:
    """(IoU, GIoU, DIoU or CIoU as ``kind`` says; IoU) of boxes ``a`` against ``b``, whose
    arrays broadcast against each other: matched pairs (*b) with (*b), or the pairwise
    (..., N, 1) with (..., 1, M)."""
    like = a.x1
    zero, one, e = const(xp, 0.0, like), const(xp, 1.0, like), const(xp, eps, like)
    # at a tie the selections take the one-sided derivative of ``a`` growing outward: the
    # intersection takes b's coordinate, the enclosing box a's, the clamp the difference (so a
    # zero-width or zero-height box gets the derivative into the valid boxes)
    iw = _hi(xp, _lo(xp, b.x2, a.x2) - _hi(xp, b.x1, a.x1), zero)
    ih = _hi(xp, _lo(xp, b.y2, a.y2) - _hi(xp, b.y1, a.y1), zero)
    inter = iw * ih
    union = a.w * a.h + b.w * b.h - inter
    iou = _div(xp, inter, union + e)
    if kind == "iou":
        return iou, iou
    cw = _hi(xp, a.x2, b.x2) - _lo(xp, a.x1, b.x1)
    ch = _hi(xp, a.y2, b.y2) - _lo(xp, a.y1, b.y1)
    if kind == "giou":
        area = cw * ch
        return iou - _div(xp, area - union, area + e), iou
    # d^2 / (c^2 + eps) with every length divided by s = cw + ch (>= c / sqrt 2, and the centre
    # offsets are at most c): the same ratio, with no square that can overflow. The ratio does
    # not depend on s, so s is a constant for autodiff (its derivatives through the numerator
    # and the denominator would cancel only to rounding)
    s = stop_gradient(xp, cw + ch)
    inv = one / xp.where(s > 0, s, one)
    dx, dy = (a.cx - b.cx) * inv, (a.cy - b.cy) * inv
    sw, sh = cw * inv, ch * inv
    ratio = _div(xp, dx * dx + dy * dy, sw * sw + sh * sh + e * inv * inv)
    if kind == "diou":
        return iou - ratio, iou
    gap = _aspect(xp, b.w, b.h) - _aspect(xp, a.w, a.h)
    v = const(xp, FOUR_OVER_PI2, like) * gap * gap
    # the trade-off weight is a constant of the gradient, as Zheng et al. prescribe
    alpha = stop_gradient(xp, _div(xp, v, one - iou + v + e))
    return iou - ratio - alpha * v, iou


# ---- pairwise -----------------------------------------------------------------------------------
def box_iou(
    boxes1: Any, boxes2: Any, *, kind: str = "iou", fmt: str = "xyxy", eps: float = 1e-7
) -> Any:
    r"""The pairwise IoU, GIoU, DIoU or CIoU of (..., N, 4) boxes against (..., M, 4) boxes:
    the (..., N, M) matrix (leading axes equal), in the inputs' namespace, device and dtype
    (half precision computed in float32).

    ``kind="iou"``: :math:`I/(U+\epsilon)`; ``"giou"``: :math:`\mathrm{IoU} - (|C| - U)/(|C| +
    \epsilon)`; ``"diou"``: :math:`\mathrm{IoU} - d^2/(c^2+\epsilon)`; ``"ciou"``: DIoU
    :math:`- \alpha v` (see the module docstring). ``eps`` (>= 0) is added to every
    denominator, as torchvision's box losses add it; torchvision.ops.box_iou and
    generalized_box_iou add none (``eps=0`` gives their values), distance_box_iou and
    complete_box_iou add it to the diagonal and to alpha only (they differ from this by a
    relative eps / U). The same kernel as the losses (they are 1 minus the paired values).
    Degenerate boxes give finite values and gradients; inverted or non-finite boxes raise
    :class:`LossInputError`. References: Rezatofighi et al. 2019; Zheng et al. 2020.
    """
    name = "box_iou"
    if not isinstance(kind, str) or kind not in KINDS:
        raise LossInputError(name, "kind", f"one of {KINDS}", repr(kind))
    if not isinstance(fmt, str) or fmt not in FORMATS:
        raise LossInputError(name, "fmt", f"one of {FORMATS}", repr(fmt))
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 <= eps < math.inf:
        raise LossInputError(name, "eps", "a number >= 0", repr(eps))
    for arg, boxes in (("boxes1", boxes1), ("boxes2", boxes2)):
        _check_array(name, arg, boxes)
        if boxes.ndim < 2:
            raise LossInputError(
                name, arg, "boxes of shape (..., N, 4)", f"shape {tuple(boxes.shape)}"
            )
    try:
        xp = array_namespace(boxes1, boxes2)
    except TypeError:
        raise LossInputError(
            name, "boxes2", f"an array of the same library as boxes1 ({describe(boxes1)})",
            describe(boxes2),
        ) from None  # fmt: skip
    if tuple(boxes1.shape[:-2]) != tuple(boxes2.shape[:-2]):
        raise LossInputError(
            name, "boxes2", f"the leading axes of boxes1 {tuple(boxes1.shape[:-2])}",
            f"shape {tuple(boxes2.shape)}",
        )  # fmt: skip
    for arg, boxes in (("boxes1", boxes1), ("boxes2", boxes2)):
        if not xp.isdtype(boxes.dtype, "real floating"):
            raise LossInputError(name, arg, "a real floating-point array", describe(boxes))
    out_dtype = xp.result_type(boxes1.dtype, boxes2.dtype)
    dtype = compute_dtype(xp, out_dtype)
    b1 = boxes1 if boxes1.dtype == dtype else xp.astype(boxes1, dtype)
    b2 = boxes2 if boxes2.dtype == dtype else xp.astype(boxes2, dtype)
    check_boxes(name, "boxes1", xp, b1, fmt)
    check_boxes(name, "boxes2", xp, b2, fmt)
    # eagerly, rows of boxes1 in chunks of about PAIRWISE_CHUNK pairs (at most MAX_CHUNKS):
    # the kernel's dozen temporaries stay the size of a chunk, in the caches, not of the (N, M)
    # result
    rows = int(b1.shape[-2])
    step = max(1, PAIRWISE_CHUNK // max(int(b2.shape[-2]), 1), -(-rows // MAX_CHUNKS))
    if is_tracing(b1) or is_tracing(b2):  # a compiler fuses the kernel whole
        step = max(rows, 1)
    b = _parts(xp, b2[..., None, :, :], fmt)
    blocks = []
    with QUIET_NUMPY():
        for start in range(0, max(rows, 1), step):
            a = _parts(xp, b1[..., start : start + step, None, :], fmt)
            blocks.append(_overlap(xp, a, b, kind, float(eps))[0])
    out = blocks[0] if len(blocks) == 1 else xp.concat(blocks, axis=-2)
    return out if out.dtype == out_dtype else xp.astype(out, out_dtype)


# ---- the losses ---------------------------------------------------------------------------------
class BoxLoss(Loss):
    """A loss on matched box pairs: pred (*b, 4) against target (*b, 4), one value per pair.

    Derivatives by autodiff only (torch autograd, jax.grad): the loss has no ``grad`` or
    ``hess`` method. Subclasses name their ``kind``.
    """

    kind: ClassVar[str]

    def _check_inputs(
        self, xp: Any, inputs: dict[str, Any], params: dict[str, Any], bindings: dict[str, Any]
    ) -> None:
        for arg in ("pred", "target"):
            check_boxes(self.name, arg, xp, inputs[arg], params["fmt"])

    def definition(self, call: Any) -> Unreduced:
        xp, params = call.xp, call.params
        pred, target = call.inputs["pred"], call.inputs["target"]
        fmt, eps = params["fmt"], float(params["eps"])
        sim, iou = _overlap(xp, _parts(xp, pred, fmt), _parts(xp, target, fmt), self.kind, eps)
        if params.get("log", False):
            # -ln max(IoU, eps): finite (and flat) where the boxes do not overlap
            above = iou > const(xp, eps, iou)
            logged = -xp.log(xp.where(above, iou, const(xp, 1.0, iou)))
            return Unreduced(xp.where(above, logged, const(xp, -math.log(eps), iou)))
        return Unreduced(const(xp, 1.0, sim) - sim)


def _inputs() -> tuple[Input, Input]:
    return (
        Input("pred", "*b 4", "box", doc="predicted boxes (*b, 4) in the format fmt"),
        Input(
            "target", "*b 4", "box", differentiable=False,
            doc="target boxes (*b, 4) in the format fmt, matched to pred",
        ),
    )  # fmt: skip


def _params(extra: tuple[Param, ...] = ()) -> tuple[Param, ...]:
    return (
        *extra,
        Param(
            "fmt", "xyxy", "the box format: 'xyxy' (corners), 'xywh' (corner and size) or "
            "'cxcywh' (centre and size)", kind="choice", choices=FORMATS,
        ),
        Param(
            "eps", 1e-7, "added to each denominator (union, enclosing area, squared diagonal, "
            "alpha's), as torchvision.ops does",
            low=0.0, high=0.1, low_inclusive=False,
        ),
    )  # fmt: skip


PROPERTIES = Properties(convex=False, robust=True, smoothness="C0", bounded=True, redescending=True)
NOT_BOOSTED = BoostingHessian(
    "none",
    reason="a loss of a box (four coordinates that act together), not of one raw score",
)

# ---- probe and sampler --------------------------------------------------------------------------
PROBE_TARGET = (-0.75, -0.5, 0.75, 0.5)  # a 1.5 x 1 box at the origin
PROBE_TALL = (0.6, 1.6)  # the second curve's box: another aspect ratio and size


def _to_fmt(xyxy: np.ndarray, fmt: str) -> np.ndarray:
    """NumPy boxes from corners to ``fmt``."""
    x1, y1, x2, y2 = (xyxy[..., k] for k in range(4))
    if fmt == "xyxy":
        return xyxy
    if fmt == "xywh":
        return np.stack([x1, y1, x2 - x1, y2 - y1], axis=-1)
    return np.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], axis=-1)


def _offset_probe(params: Mapping[str, Any]) -> Probe:
    """The predicted box a copy of the 1.5 x 1 target box at the origin shifted along x by t,
    and (second curve) a 0.6 x 1.6 box shifted the same way; in the format ``fmt``."""
    fmt = params.get("fmt", "xyxy")
    target = np.asarray(PROBE_TARGET)
    w, h = PROBE_TALL

    def curve(box: tuple[float, float, float, float], label: str, short: str) -> Curve:
        def make(t: np.ndarray) -> dict[str, np.ndarray]:
            t = np.asarray(t, dtype=np.float64)
            shift = np.stack([t, np.zeros_like(t), t, np.zeros_like(t)], axis=-1)
            pred = np.asarray(box)[None, :] + shift
            if fmt != "xyxy":  # the size as given, not recomputed from shifted corners
                pred = np.concatenate(
                    [_to_fmt(pred, fmt)[:, :2], np.tile([box[2] - box[0], box[3] - box[1]],
                                                        (len(t), 1))], axis=-1,
                )  # fmt: skip
            return {"pred": pred, "target": np.tile(_to_fmt(target, fmt), (len(t), 1))}

        return Curve(label, short, make)

    return Probe(
        "box offset", "x offset t of the predicted box", "t",
        "pred = a box shifted by t along x against the 1.5 x 1 target box at the origin: "
        "the same box (same) and a 0.6 x 1.6 box (tall)",
        "real", (-3.0, 3.0), (-2.0, -1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 1.5, 2.0),
        (
            curve(PROBE_TARGET, "the target box shifted", "same"),
            curve((-w / 2, -h / 2, w / 2, h / 2), f"a {w:g} x {h:g} box shifted", "tall"),
        ),
        "pred",
    )  # fmt: skip


def _kinks(params: Mapping[str, Any]) -> tuple[float, ...]:
    """Along the probe: the tie of the two boxes' corners at t = 0, the tall box leaving the
    target's x-range (+-0.45) and touching it (+-1.05), the same box touching (+-1.5). With
    ``log`` the touching points are where the clamp at eps begins (within a few eps of
    them: a slope of order 1/eps, which no finite step resolves); they are left out there."""
    inner = (0.0, -0.45, 0.45)
    return inner if params.get("log", False) else (*inner, -1.05, 1.05, -1.5, 1.5)


def _sample(rng: np.random.Generator, shape: tuple[int, ...], params: Mapping[str, Any]) -> dict:
    """Random valid box pairs of batch shape ``shape`` in ``params["fmt"]``: targets of size
    0.5 to 2.5 centred in [-2, 2]^2, and predictions that overlap them (a quarter), lie
    inside them, contain them, or lie apart from them."""
    centre = rng.uniform(-2.0, 2.0, size=(*shape, 2))
    size = rng.uniform(0.5, 2.5, size=(*shape, 2))
    kind = rng.integers(0, 4, size=shape)[..., None]
    jitter = rng.uniform(-1.0, 1.0, size=(*shape, 2))
    scale = np.exp(rng.normal(0.0, 0.3, size=(*shape, 2)))
    inner = size * rng.uniform(0.3, 0.8, size=(*shape, 2))
    outer = size * rng.uniform(1.3, 2.5, size=(*shape, 2))
    axis = rng.integers(0, 2, size=shape)[..., None] == np.arange(2)
    sign = rng.choice(np.array([-1.0, 1.0]), size=(*shape, 1))
    apart_size = size * scale
    apart = centre + np.where(
        axis, sign * ((size + apart_size) / 2 + rng.uniform(0.1, 1.0, size=(*shape, 2))),
        jitter * size,
    )  # fmt: skip
    pred_size = np.select(
        [kind == 0, kind == 1, kind == 2], [size * scale, inner, outer], apart_size
    )
    pred_centre = np.select(
        [kind == 0, kind == 1, kind == 2],
        [centre + 0.3 * jitter * size, centre + 0.9 * jitter * (size - inner) / 2,
         centre + 0.9 * jitter * (outer - size) / 2],
        apart,
    )  # fmt: skip

    def boxes(c: np.ndarray, s: np.ndarray) -> np.ndarray:
        fmt = params.get("fmt", "xyxy")
        if fmt == "cxcywh":
            return np.concatenate([c, s], axis=-1)
        if fmt == "xywh":
            return np.concatenate([c - s / 2, s], axis=-1)
        return np.concatenate([c - s / 2, c + s / 2], axis=-1)

    return {"pred": boxes(pred_centre, pred_size), "target": boxes(centre, size)}


def _spec(name: str, summary: str, formula: str, references: tuple[str, ...], **kw: Any):
    return LossSpec(
        name=name,
        family="boxes",
        summary=summary,
        properties=PROPERTIES,
        formula=formula,
        references=references,
        inputs=_inputs(),
        output="*b",
        elementwise=False,
        boosting=NOT_BOOSTED,
        probe=_offset_probe,
        kinks=_kinks,
        sampler=_sample,
        derivative_notes="By autodiff (torch autograd, jax.grad); no grad/hess methods. "
        "Finite at degenerate boxes (zero width, zero height, a point): minima and maxima "
        "are selections, so that at a tie the gradient is the one-sided derivative of the "
        "predicted box growing outward (into the valid boxes for a degenerate one); "
        "divisions are guarded; the aspect angle is atan2(w, h), with a zero derivative at a "
        "point (where it jumps: a point has angle 0, a zero-height box pi/2).",
        **kw,
    )


IOU_FORMULA = r"1 - \frac{|A \cap B|}{|A \cup B| + \epsilon}"


class IoULoss(BoxLoss):
    r"""``iou_loss(pred, target, *, log=False, fmt="xyxy", eps=1e-7)``: 1 - IoU of matched
    boxes, or with ``log=True`` UnitBox's -ln IoU, clamped as -ln max(IoU, eps) (mmdet's
    IoULoss(mode="log") clamps likewise): finite, and flat, where the boxes do not overlap.

    :math:`1 - I/(U + \epsilon)`, I the intersection's area and U the union's. pred and
    target are (*b, 4) in ``fmt``; the result has one value per pair. Gradients by autodiff;
    0 for boxes that do not overlap (as for any IoU loss). Yu et al. 2016.
    """

    kind = "iou"
    spec = _spec(
        "iou_loss",
        "1 - intersection over union of matched boxes (or -ln IoU, UnitBox)",
        IOU_FORMULA + r"\quad\text{or, with log: } -\ln \max(\mathrm{IoU}, \epsilon)",
        (YU_2016, REZATOFIGHI_2019),
        params=_params(
            (Param("log", False, "-ln max(IoU, eps) (UnitBox) instead of 1 - IoU", kind="bool"),)
        ),
        aliases=("box_iou_loss", "unitbox_loss"),
        framework_names={
            "mmdet": "mmdet.models.losses.IoULoss",
            "note": "torchvision has no IoU loss (1 - torchvision.ops.box_iou of pairs)",
        },
        when_to_use="Box regression where the boxes already overlap: it has no gradient "
        "once they are apart (use GIoU, DIoU or CIoU then).",
    )


class GIoULoss(BoxLoss):
    r"""``giou_loss(pred, target, *, fmt="xyxy", eps=1e-7)``: 1 - GIoU of matched boxes, as
    torchvision.ops.generalized_box_iou_loss (its values on valid boxes, to rounding).

    :math:`1 - \mathrm{IoU} + (|C| - U)/(|C| + \epsilon)`, C the smallest box enclosing
    both: in [0, 2), with a gradient also for boxes apart. Rezatofighi et al. 2019.
    """

    kind = "giou"
    spec = _spec(
        "giou_loss",
        "1 - generalized IoU of matched boxes: IoU minus the empty share of the enclosing box",
        r"1 - \frac{|A \cap B|}{|A \cup B| + \epsilon} + \frac{|C| - |A \cup B|}{|C| + \epsilon}",
        (REZATOFIGHI_2019,),
        params=_params(),
        aliases=("generalized_iou_loss", "generalized_box_iou_loss"),
        framework_names={
            "torchvision": "torchvision.ops.generalized_box_iou_loss",
            "mmdet": "mmdet.models.losses.GIoULoss",
        },
        when_to_use="Box regression from any start (boxes apart get a gradient); slow "
        "where one box contains the other (Zheng et al. 2020), where DIoU is faster.",
    )


class DIoULoss(BoxLoss):
    r"""``diou_loss(pred, target, *, fmt="xyxy", eps=1e-7)``: 1 - DIoU of matched boxes, as
    torchvision.ops.distance_box_iou_loss (its values on valid boxes, to rounding).

    :math:`1 - \mathrm{IoU} + d^2/(c^2 + \epsilon)`, d the distance between the centres and
    c the diagonal of the enclosing box (the ratio computed scaled, so that it cannot
    overflow). Zheng et al. 2020.
    """

    kind = "diou"
    spec = _spec(
        "diou_loss",
        "1 - distance IoU of matched boxes: IoU minus the squared centre distance over the "
        "enclosing box's squared diagonal",
        r"1 - \frac{|A \cap B|}{|A \cup B| + \epsilon} + \frac{d^2}{c^2 + \epsilon}",
        (ZHENG_2020,),
        params=_params(),
        aliases=("distance_iou_loss", "distance_box_iou_loss"),
        framework_names={
            "torchvision": "torchvision.ops.distance_box_iou_loss",
            "mmdet": "mmdet.models.losses.DIoULoss",
        },
        when_to_use="Box regression: converges faster than GIoU, also where one box "
        "contains the other (it pulls the centres together directly).",
    )


class CIoULoss(BoxLoss):
    r"""``ciou_loss(pred, target, *, fmt="xyxy", eps=1e-7)``: 1 - CIoU of matched boxes, as
    torchvision.ops.complete_box_iou_loss (its values on valid boxes, to rounding).

    :math:`1 - \mathrm{IoU} + d^2/(c^2 + \epsilon) + \alpha v`, with
    :math:`v = \frac{4}{\pi^2}(\arctan\frac{w_B}{h_B} - \arctan\frac{w_A}{h_A})^2` and
    :math:`\alpha = v / (1 - \mathrm{IoU} + v + \epsilon)`. alpha is held constant in the
    gradient (``stop_gradient``: torch's detach, jax.lax.stop_gradient), as the paper
    prescribes and torchvision does, so autodiff's gradient is the paper's, not the
    derivative of the value through alpha. The angle is atan2(w, h): finite with a finite
    gradient for a zero height or a point (torchvision's atan(w / h) gives NaN there).
    Zheng et al. 2020.
    """

    kind = "ciou"
    spec = _spec(
        "ciou_loss",
        "1 - complete IoU of matched boxes: DIoU plus an aspect-ratio term",
        r"1 - \mathrm{IoU} + \frac{d^2}{c^2 + \epsilon} + \alpha v,\quad "
        r"v = \tfrac{4}{\pi^2}\left(\arctan\tfrac{w_B}{h_B} - \arctan\tfrac{w_A}{h_A}\right)^2,"
        r"\quad \alpha = \frac{v}{1 - \mathrm{IoU} + v + \epsilon}\ \text{(held constant)}",
        (ZHENG_2020,),
        params=_params(),
        aliases=("complete_iou_loss", "complete_box_iou_loss"),
        held_constant=("alpha",),
        framework_names={
            "torchvision": "torchvision.ops.complete_box_iou_loss",
            "mmdet": "mmdet.models.losses.CIoULoss",
        },
        when_to_use="Box regression where the aspect ratio matters too (YOLO's default).",
    )


iou_loss = register(IoULoss())
giou_loss = register(GIoULoss())
diou_loss = register(DIoULoss())
ciou_loss = register(CIoULoss())
