"""Non-maximum suppression: greedy NMS (IoU) and DIoU-NMS, per class with ``batched_nms``.

Greedy NMS keeps the highest-scoring box, removes every remaining box that overlaps it by
more than ``iou_threshold``, and repeats on what remains (torchvision.ops.nms: a box is
suppressed when IoU > threshold, strictly). DIoU-NMS (Zheng et al. 2020) suppresses when
IoU - d^2/c^2 > threshold, d the distance between the centres and c the diagonal of the
enclosing box: a nearby box whose centre lies apart survives (two overlapping objects).

Both run on the host in NumPy float64, whatever the array library: the output's length
depends on the values, and the work is a short sequential pass over a sparse set of
overlapping pairs. For a threshold >= 0 only pairs whose x-ranges overlap by more than
threshold times the wider box can suppress one another (IoU <= the x-overlap over either
width), found by a sweep over the boxes sorted by x1 and checked in vectorised chunks; the
greedy pass then visits only the boxes that suppress something. Where nearly every pair is a
candidate (boxes piled on one another) it switches to the plain loop: each kept box against
the boxes still remaining. Not differentiable; not available under ``jax.jit`` (the values
must be concrete).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from array_api_compat import array_namespace, is_array_api_obj, is_torch_array

from ._validate import LossInputError, describe
from ._xp import device, is_tracing
from .boxes import FORMATS, check_boxes

__all__ = ["batched_nms", "nms"]

NMS_KINDS = ("iou", "diou")
PAIRS_PER_CHUNK = 1 << 20
#: steps of the plain loop taken before the two methods' costs are compared
PROBE_STEPS = 32
#: the cost of a candidate pair in the sweep, in units of one box of a step of the plain loop
PAIR_COST = 12.0


def _host(x: Any) -> np.ndarray:
    """A concrete array as a NumPy float64 (or its integer dtype) copy on the host."""
    if is_torch_array(x):
        x = x.detach().cpu()
        return x.numpy() if not x.dtype.is_floating_point else x.double().numpy()
    try:
        out = np.asarray(x)
    except (TypeError, ValueError, RuntimeError):
        out = np.from_dlpack(x)
    return out.astype(np.float64) if np.issubdtype(out.dtype, np.floating) else out


def _xyxy(b: np.ndarray, fmt: str) -> np.ndarray:
    if fmt == "xyxy":
        return b
    x, y, w, h = b.T
    if fmt == "xywh":
        return np.stack([x, y, x + w, y + h], axis=1)
    return np.stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2], axis=1)


def _pair_scores(b: np.ndarray, area: np.ndarray, i: np.ndarray, j: np.ndarray, kind: str):
    """IoU (or IoU - d^2/c^2) of the pairs (i, j) of xyxy boxes ``b``, as torchvision's NMS
    computes it (no eps); NaN where the union is 0 (never suppresses, as in torchvision)."""
    bi, bj = b[i], b[j]
    iw = np.minimum(bi[:, 2], bj[:, 2]) - np.maximum(bi[:, 0], bj[:, 0])
    ih = np.minimum(bi[:, 3], bj[:, 3]) - np.maximum(bi[:, 1], bj[:, 1])
    inter = np.maximum(iw, 0.0) * np.maximum(ih, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = inter / (area[i] + area[j] - inter)
        if kind == "iou":
            return iou
        cw = np.maximum(bi[:, 2], bj[:, 2]) - np.minimum(bi[:, 0], bj[:, 0])
        ch = np.maximum(bi[:, 3], bj[:, 3]) - np.minimum(bi[:, 1], bj[:, 1])
        dx = (bi[:, 0] + bi[:, 2] - bj[:, 0] - bj[:, 2]) / 2
        dy = (bi[:, 1] + bi[:, 3] - bj[:, 1] - bj[:, 3]) / 2
        c2 = cw * cw + ch * ch
        return iou - np.where(c2 > 0, (dx * dx + dy * dy) / np.where(c2 > 0, c2, 1.0), 0.0)


def _greedy_dense(
    b: np.ndarray, area: np.ndarray, threshold: float, kind: str, candidates: float = math.inf
) -> np.ndarray:
    """The plain greedy loop over boxes in score order: each kept box against those left,
    the columns of the remaining boxes compacted after every step. After ``PROBE_STEPS``
    steps it compares its expected remaining work (R^2 / (2 (1 + r)) for R boxes left and r
    removed per step so far) with the sweep's (``PAIR_COST`` per candidate pair, estimated
    at ``candidates`` per box) and hands what remains to the sweep where that is cheaper:
    greedy NMS on the boxes left is the rest of the answer, as the kept ones no longer
    interact with them."""
    n = len(b)
    cols = [b[:, 0], b[:, 1], b[:, 2], b[:, 3], area, np.arange(n)]
    keep = []
    while cols[5].size:
        if len(keep) == PROBE_STEPS and math.isfinite(candidates):
            left = cols[5].size
            rate = (n - left) / PROBE_STEPS - 1.0
            if left / (2.0 * (1.0 + rate)) > PAIR_COST * candidates * left / n:
                rest = cols[5]
                kept = _greedy_sparse(b[rest], area[rest], threshold, kind, probe=False)
                return np.asarray([*keep, *rest[kept].tolist()], dtype=np.int64)
        keep.append(int(cols[5][0]))
        head = [c[0] for c in cols[:5]]
        cols = [c[1:] for c in cols]
        if not cols[5].size:
            break
        score = _one_against(head, cols, kind)
        alive = ~(score > threshold)
        cols = [c[alive] for c in cols]
    return np.asarray(keep, dtype=np.int64)


def _one_against(head: list[Any], cols: list[np.ndarray], kind: str) -> np.ndarray:
    """IoU (or IoU - d^2/c^2) of one xyxy box (its x1, y1, x2, y2, area) against columns of
    boxes, as torchvision's NMS computes it (no eps; NaN where the union is 0)."""
    a1, b1, a2, b2, aa = head
    x1, y1, x2, y2, ar = cols[:5]
    iw = np.minimum(x2, a2) - np.maximum(x1, a1)
    ih = np.minimum(y2, b2) - np.maximum(y1, b1)
    inter = np.maximum(iw, 0.0) * np.maximum(ih, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = inter / (ar + aa - inter)
        if kind == "iou":
            return iou
        cw = np.maximum(x2, a2) - np.minimum(x1, a1)
        ch = np.maximum(y2, b2) - np.minimum(y1, b1)
        dx = (x1 + x2 - (a1 + a2)) / 2
        dy = (y1 + y2 - (b1 + b2)) / 2
        c2 = cw * cw + ch * ch
        return iou - np.where(c2 > 0, (dx * dx + dy * dy) / np.where(c2 > 0, c2, 1.0), 0.0)


def _strips(b: np.ndarray, threshold: float) -> tuple[Any, ...] | None:
    """The index of ``_candidates``: (sort order, sorted keys, each box's low and high key,
    the band of one strip); None where the keys would not be exact enough."""
    x1, y1 = b[:, 0], b[:, 1]
    w, h = b[:, 2] - x1, b[:, 3] - y1
    slack = 1.0 + 1e-9  # rounding: a few extra candidates, never a missed one
    reach_w, reach_h = (1.0 - threshold) * w * slack, (1.0 - threshold) * h * slack
    strip_width = float(reach_w.max()) if len(b) else 0.0
    yspan = float(y1.max() - y1.min()) if len(b) else 0.0
    if not strip_width > 0 or not math.isfinite(strip_width + yspan):
        return None
    strip = np.floor((x1 - float(x1.min())) / strip_width)
    rows = yspan + 4.0 * float(reach_h.max()) + 1.0  # one strip's band of the sort key
    if not float(strip.max()) * rows <= 2.0**40:
        return None
    key = strip * rows + (y1 - float(y1.min()))
    order = np.argsort(key, kind="stable")
    skey = key[order]
    pad = 4.0 * np.spacing(float(skey[-1]) + rows) + 1e-9 * rows
    return order, skey, key - float(reach_h.max()) - pad, key + reach_h + pad, rows, reach_h


def _candidate_count(b: np.ndarray, threshold: float) -> int | None:
    """How many pairs ``_candidates`` would look at (None: it cannot index these boxes)."""
    index = _strips(b, threshold)
    if index is None:
        return None
    _, skey, low, high, rows, _ = index
    return sum(
        int(np.maximum(np.searchsorted(skey, high + shift, "right")
                       - np.searchsorted(skey, low + shift, "left"), 0).sum())
        for shift in (0.0, rows)
    )  # fmt: skip


def _candidates(b: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Every pair (i, j) of xyxy boxes whose overlap could exceed ``threshold`` (>= 0), a few
    more, each pair once; None where the boxes cannot be indexed (coordinates spanning too
    many strips). IoU <= the x-overlap over either box's width and the y-overlap over either
    height, so for x1_i <= x1_j: x1_j < x2_i - t w_i, and y1_j lies within (y1_i - (1 - t)
    h_max, y1_i + (1 - t) h_i). The boxes are bucketed in vertical strips (1 - t) w_max wide
    and sorted by y1 within each: the partners of a box lie in its strip and the next, in
    one contiguous range of each, found by binary search."""
    index = _strips(b, threshold)
    if index is None:
        return None
    order, skey, low, high, rows, reach_h = index
    n = len(b)
    x1, y1 = b[:, 0], b[:, 1]
    sx1, sy1 = x1[order], y1[order]
    x_end = b[:, 2] - threshold * (b[:, 2] - x1) * (1.0 - 1e-9)
    found_i, found_j = [], []
    for shift in (0.0, rows):  # the box's own strip, then the next one
        lo = np.searchsorted(skey, low + shift, "left")
        counts = np.maximum(np.searchsorted(skey, high + shift, "right") - lo, 0)
        total = int(counts.sum())
        starts = np.cumsum(counts) - counts
        pos = np.repeat(lo - starts, counts) + np.arange(total)  # runs of the sorted order
        xi, yi = np.repeat(x1, counts), np.repeat(y1, counts)
        xj, yj = sx1[pos], sy1[pos]
        jj = order[pos]
        ii = np.repeat(np.arange(n), counts)
        # each pair once, from the box with the smaller x1 (ties: the smaller index); the
        # x-overlap and the y-overlap bounds of the docstring
        keep = (xj > xi) | ((xj == xi) & (jj > ii))
        keep &= xj < np.repeat(x_end, counts)
        above = yj >= yi
        reach = np.where(above, np.repeat(reach_h, counts), reach_h[jj])
        keep &= np.where(above, yj - yi, yi - yj) < reach
        found_i.append(ii[keep])
        found_j.append(jj[keep])
    return np.concatenate(found_i), np.concatenate(found_j)


def _greedy_sparse(
    b: np.ndarray, area: np.ndarray, threshold: float, kind: str, probe: bool = True
) -> np.ndarray:
    """Greedy NMS over boxes in score order from the pairs that can suppress (threshold >= 0,
    ``_candidates``); with ``probe``, first a few steps of the plain loop, which goes on
    where boxes are piled up (each step removes many: see ``_greedy_dense``)."""
    n = len(b)
    if probe:
        count = _candidate_count(b, threshold)
        if count is None or count > n * PROBE_STEPS:
            return _greedy_dense(
                b, area, threshold, kind, math.inf if count is None else count / max(n, 1)
            )
    found = _candidates(b, threshold)
    if found is None:
        return _greedy_dense(b, area, threshold, kind)
    i, j = found
    removed = np.zeros(n, dtype=bool)
    hit = _pair_scores(b, area, i, j, kind) > threshold if len(i) else np.zeros(0, bool)
    if hit.any():
        src, dst = np.minimum(i[hit], j[hit]), np.maximum(i[hit], j[hit])  # score order
        order = np.argsort(src, kind="stable")
        src, dst = src[order], dst[order]
        heads, first = np.unique(src, return_index=True)
        last = [*first[1:].tolist(), len(src)]
        for head, a, z in zip(heads.tolist(), first.tolist(), last, strict=True):
            if not removed[head]:
                removed[dst[a:z]] = True
    return np.flatnonzero(~removed).astype(np.int64)


def _nms_host(
    boxes: np.ndarray, scores: np.ndarray, threshold: float, kind: str, fmt: str
) -> np.ndarray:
    """Indices of the kept boxes (NumPy int64), in decreasing score order (ties: the lower
    index first)."""
    order = np.argsort(-scores, kind="stable")
    b = _xyxy(boxes, fmt)[order]
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    if threshold >= 0:
        kept = _greedy_sparse(b, area, threshold, kind)
    else:
        kept = _greedy_dense(b, area, threshold, kind)
    return order[kept]


def _validate(
    function: str, boxes: Any, scores: Any, threshold: Any, kind: Any, fmt: Any,
    classes: Any = None,
) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray | None]:  # fmt: skip
    if not isinstance(kind, str) or kind not in NMS_KINDS:
        raise LossInputError(function, "kind", f"one of {NMS_KINDS}", repr(kind))
    if not isinstance(fmt, str) or fmt not in FORMATS:
        raise LossInputError(function, "fmt", f"one of {FORMATS}", repr(fmt))
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, (int, float))
        or math.isnan(threshold)
    ):
        raise LossInputError(function, "iou_threshold", "a real number", repr(threshold))
    named = [("boxes", boxes), ("scores", scores)] + (
        [("classes", classes)] * (classes is not None)
    )
    for arg, x in named:
        if not is_array_api_obj(x):
            raise LossInputError(function, arg, "an array", describe(x))
        if is_tracing(x):
            raise LossInputError(
                function, arg, "concrete values (the kept boxes depend on them: NMS does not "
                "run under jax.jit)", "a traced array",
            )  # fmt: skip
    try:
        xp = array_namespace(*(x for _, x in named))
    except TypeError:
        raise LossInputError(
            function, "scores", f"an array of the same library as boxes ({describe(boxes)})",
            describe(scores),
        ) from None  # fmt: skip
    if boxes.ndim != 2 or boxes.shape[-1] != 4:
        raise LossInputError(function, "boxes", "boxes of shape (N, 4)", describe(boxes))
    if not xp.isdtype(boxes.dtype, "real floating"):
        raise LossInputError(function, "boxes", "a real floating-point array", describe(boxes))
    n = boxes.shape[0]
    if tuple(scores.shape) != (n,) or not xp.isdtype(scores.dtype, ("real floating", "integral")):
        raise LossInputError(function, "scores", f"real scores of shape ({n},)", describe(scores))
    check_boxes(function, "boxes", xp, boxes, fmt)
    host_scores = _host(scores).astype(np.float64)
    if np.isnan(host_scores).any():
        raise LossInputError(function, "scores", "scores that are not NaN", "NaN")
    host_classes = None
    if classes is not None:
        if tuple(classes.shape) != (n,) or not xp.isdtype(classes.dtype, "integral"):
            raise LossInputError(
                function, "classes", f"integer class labels of shape ({n},)", describe(classes)
            )
        host_classes = _host(classes)
    return xp, _host(boxes), host_scores, host_classes


def nms(
    boxes: Any, scores: Any, *, iou_threshold: float = 0.5, kind: str = "iou",
    fmt: str = "xyxy",
) -> Any:  # fmt: skip
    """Greedy non-maximum suppression: the indices of the kept boxes, int64, in decreasing
    score order, in the namespace and on the device of ``boxes``.

    Args:
        boxes: (N, 4) boxes in ``fmt`` ("xyxy", "xywh" or "cxcywh"); finite, not inverted.
        scores: (N,) scores (not NaN); equal scores are taken in index order.
        iou_threshold: a box is suppressed by a kept box of higher score when their IoU (or,
            with ``kind="diou"``, IoU - d^2/c^2) is greater than this.
        kind: "iou" (torchvision.ops.nms: the same indices) or "diou" (DIoU-NMS of Zheng et
            al. 2020: a box whose centre lies apart from the kept one's survives).

    Computed on the host in float64 (see the module docstring); torchvision computes the IoU
    in the boxes' dtype, so a float32 pair within a rounding of the threshold may go the
    other way. Raises :class:`LossInputError` on bad input, and under ``jax.jit``.
    """
    xp, b, s, _ = _validate("nms", boxes, scores, iou_threshold, kind, fmt)
    keep = _nms_host(b, s, float(iou_threshold), kind, fmt)
    return xp.asarray(keep, dtype=xp.int64, device=device(boxes))


def batched_nms(
    boxes: Any, scores: Any, classes: Any, *, iou_threshold: float = 0.5, kind: str = "iou",
    fmt: str = "xyxy",
) -> Any:  # fmt: skip
    """Non-maximum suppression within each class (``classes``: (N,) integer labels): boxes of
    different classes never suppress each other. The kept indices over all classes, int64,
    in decreasing score order, as torchvision.ops.batched_nms returns them (it offsets each
    class's boxes apart; here each class runs on its own, which needs no offset)."""
    xp, b, s, c = _validate("batched_nms", boxes, scores, iou_threshold, kind, fmt, classes)
    kept = []
    for label in np.unique(c):
        members = np.flatnonzero(c == label)
        kept.append(members[_nms_host(b[members], s[members], float(iou_threshold), kind, fmt)])
    keep = np.concatenate(kept) if kept else np.zeros(0, dtype=np.int64)
    keep = keep[np.argsort(-s[keep], kind="stable")]
    return xp.asarray(keep.astype(np.int64), dtype=xp.int64, device=device(boxes))
