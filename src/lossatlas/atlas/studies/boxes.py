"""Study ``boxes``: the box-regression simulation of the DIoU paper, and IoU- against DIoU-NMS.

Simulation: a scaled-down replica of the simulation experiment of Zheng, Wang, Liu, Li, Ye and
Ren, "Distance-IoU Loss: Faster and Better Learning for Bounding Box Regression" (AAAI 2020,
Algorithm 1 and the section "Simulation Experiment"; the authors' MATLAB code is
github.com/Zzh-tju/DIoU, folder "simulation experiment").

- 7 target boxes of unit area, centred at (10, 10), with aspect ratios (width : height) 1:4,
  1:3, 1:2, 1:1, 2:1, 3:1 and 4:1.
- Anchor boxes centred at ``N_POINTS`` points drawn uniformly in the disc of radius 3 around
  (10, 10) (radius ``3 sqrt(U)``, angle ``2 pi U``), each with 7 areas (0.5, 0.67, 0.75, 1,
  1.33, 1.5 and 2 times the target's) and the same 7 aspect ratios: 49 anchors a point. Every
  anchor is regressed toward every target: ``N_POINTS * 49 * 7`` cases (the paper: 5,000 points,
  1,715,000 cases; this study uses far fewer points so that it runs in seconds).
- Each case runs ``T = 200`` steps of gradient descent on the box ``B = (x, y, w, h)`` (centre,
  width, height) with the paper's update ``B_t = B_{t-1} - eta (2 - IoU_{t-1}) grad L(B_{t-1})``,
  where the factor ``2 - IoU`` speeds up the cases that overlap little, and ``eta = 0.1`` for
  the first 80% of the steps, 0.01 up to 90% and 0.001 for the last 10%.
- The losses are ``lossatlas.iou_loss``, ``giou_loss``, ``diou_loss`` and ``ciou_loss`` (with
  ``fmt="cxcywh"``); in the "exact" runs (see below) their gradients come from autodiff
  through the library's definitions (PyTorch autograd on the "numpy" and "torch" backends,
  ``jax.grad`` under ``jax.jit`` on "jax"). CIoU holds its trade-off weight alpha constant in
  the gradient, as the paper says. The paper also drops the factor ``1 / (w^2 + h^2)`` from
  the gradient of its aspect-ratio term ``v`` ("for stable convergence"; so does the authors'
  code): this study follows it, by multiplying the width and height components of
  ``grad(ciou_loss) - grad(diou_loss)`` (that is, ``alpha grad v``) by ``w^2 + h^2``.
- The regression error of a case is the l1 distance ``|B_t - B_gt|`` over (x, y, w, h); the
  total error is its sum over the cases, as in the paper's Algorithm 1. The study also reports
  its centre part ``|dx| + |dy|`` and its size part ``|dw| + |dh|``.
- The boxes live in NumPy between the steps; each step evaluates the losses on the backend
  (one intra-op torch thread; value checks off inside the loop, where the boxes are valid by
  construction: finite, widths and heights floored at ``MIN_SIZE``). NumPy and PyTorch give
  the same report (both differentiate with torch); on JAX the main table agrees to 4e-4
  relative and the other tables to 2% (measured while building the study): while eta = 0.1
  makes the boxes oscillate about their targets, rounding differences between the backends'
  gradients grow (the authors'-code runs: total error curves within 1.2e-5 relative).

The cases are split by how the anchor starts: not overlapping the target (IoU 0), nested (one
box inside the other, where GIoU's penalty is zero and GIoU is the IoU loss), and partly
overlapping; and, at every step, the cases nested at that step are counted.

Two sets of runs, reported side by side:

- "exact": the gradients of Algorithm 1's "gradient of L", by autodiff through the library
  (above), on all the cases.
- "authors' code": the descent directions of the authors' MATLAB simulation code (read in
  github.com/Zzh-tju/DIoU, "simulation experiment": dIOU.m, dGIOU.m, to_xywh.m, dDIOU.m,
  dCIOU.m; restated here, not copied), on the cases of the first ``AUTHORS_POINTS`` points
  only (to keep the study within seconds; the curves are compared as shares of each set's
  start). Their code differentiates IoU and GIoU with respect to the edges (t, b, l, r), exactly,
  and converts to the centre and size as dL/dx = dL/dl + dL/dr (the chain rule's) but
  dL/dw = dL/dr - dL/dl and dL/dh = dL/db - dL/dt, twice the chain rule's (r = x + w/2 and
  l = x - w/2 give dL/dw = (dL/dr - dL/dl) / 2). So: IoU and GIoU are the library's gradients
  with their w and h components doubled; DIoU and CIoU are the library's IoU-loss gradient with
  its w and h components doubled, plus DIoU's distance term rho^2 / c^2 as dDIOU.m
  differentiates it directly in (x, y, w, h) (not doubled, but not the chain rule's either; see
  :func:`authors_distance`), plus for CIoU ``alpha`` times the paper's aspect-ratio gradient
  (the one the exact runs use; :func:`authors_aspect`, the formula of dCIOU.m). Those two closed
  forms are evaluated in NumPy on every backend.

Measured here, and said in the report: under both sets the IoU loss never moves the anchors
that start apart, and GIoU grows the boxes until they contain the target and then converges
slowly. With exact gradients DIoU brings the centres in faster than GIoU and CIoU converges
fastest, but, unlike the paper, GIoU's total error is below DIoU's early on and at the end: DIoU
fits widths and heights through the IoU term alone, and lags where the anchor is wide and the
target tall or the other way round. With the authors' code DIoU and CIoU are far ahead of GIoU
from the first steps to the end, as the paper reports. Which of the authors' two departures
does it (measured while building the study, not in the report): the doubling alone, with the
exact distance term, leaves DIoU level with GIoU at step 40 (56% of the start against 55%, 100
points) and ends 7x below it; the authors' distance term alone, with exact IoU-term gradients,
already gives DIoU 17% at step 40 (60 points). Both favour DIoU; the exact gradients do not.

NMS: seeded synthetic crowded scenes: groups of 1 to 3 true objects side by side whose boxes
overlap, each object seen by several noisy detections whose score grows with their IoU to the
object. ``lossatlas.nms`` with ``kind="iou"`` and ``kind="diou"`` (Zheng et al.'s DIoU-NMS:
suppress when IoU minus the normalised centre distance exceeds the threshold) at the same
thresholds; a kept detection is a true positive when it matches an unmatched true object at
IoU >= 0.5 (greedy, in score order), otherwise a duplicate. The scenes' geometry (scores,
crowding, matching) is computed with ``lossatlas.box_iou`` on NumPy; the NMS runs on the
backend, except on JAX (see :func:`nms_backend`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import lossatlas

from ._base import Study, StudyReport, sig
from ._figures import new_figure, save, style
from ._train import Backend, progress_bar

NAME = "boxes"
TITLE = "Box regression with IoU, GIoU, DIoU and CIoU losses, and DIoU-NMS"

# ---- the simulation (Zheng et al. 2020, Algorithm 1) -------------------------------------------
CENTRE = (10.0, 10.0)
RADIUS = 3.0
ASPECTS = (1 / 4, 1 / 3, 1 / 2, 1.0, 2.0, 3.0, 4.0)  # width / height
ASPECT_LABELS = ("1:4", "1:3", "1:2", "1:1", "2:1", "3:1", "4:1")
SCALES = (0.5, 0.67, 0.75, 1.0, 1.33, 1.5, 2.0)  # anchor area / target area (the paper's code)
N_POINTS = 100  # the paper: 5,000
ITERATIONS = 200
LEARNING_RATES = ((0.8, 0.1), (0.9, 0.01), (1.0, 0.001))  # (up to this fraction of T, eta)
MIN_SIZE = 1e-6  # floor on a regressed width or height (a guard; counted in the report)
LOSSES = ("iou", "giou", "diou", "ciou")
LOSS_LABELS = {"iou": "IoU", "giou": "GIoU", "diou": "DIoU", "ciou": "CIoU"}
COLORS = {"iou": "#7f7f7f", "giou": "#1f77b4", "diou": "#d62728", "ciou": "#2ca02c"}
GROUPS = ("no overlap", "nested", "partial overlap")
CURVE_AT = (0, 10, 20, 40, 80, 120, 160, 180, 200)  # iterations tabled
CONVERGED = 0.1  # "steps to 10%": the first t where the total error is at most 10% of t = 0
CONVENTIONS = ("exact", "authors")  # autodiff's gradients; the authors' MATLAB code's
CONVENTION_LABELS = {"exact": "exact", "authors": "authors' code"}
AUTHORS_POINTS = 60  # the authors'-code runs regress the cases of the first 60 points
WH_DOUBLED = (1.0, 1.0, 2.0, 2.0)  # the authors' to_xywh.m: dL/dw = dL/dr - dL/dl, twice

# ---- the NMS comparison ------------------------------------------------------------------------
N_SCENES = 150
GROUPS_PER_SCENE = (3, 5)  # inclusive
OBJECTS_PER_GROUP = (1, 3)  # inclusive: a single object, a pair or a group of three
DETECTIONS_PER_OBJECT = (4, 8)  # inclusive
JITTER = 0.1  # standard deviation of a detection's centre (relative to the size) and log-size
SCENE_SIZE = 400.0
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)
MATCH_IOU = 0.5
CROWDED = 0.3  # an object is "crowded" when its box overlaps another true box at IoU >= this
SHOWN_THRESHOLD = 0.5
NMS_LABELS = {"iou": "IoU-NMS", "diou": "DIoU-NMS"}


# ---- data --------------------------------------------------------------------------------------
def box_of(area: float, aspect: float) -> tuple[float, float]:
    """(width, height) of a box with this area and width / height ratio."""
    return math.sqrt(area * aspect), math.sqrt(area / aspect)


def make_targets() -> np.ndarray:
    """The 7 target boxes (7, 4) as (x, y, w, h): centre (10, 10), area 1, ``ASPECTS``."""
    return np.array([[*CENTRE, *box_of(1.0, a)] for a in ASPECTS])


def make_points(seed: int, n: int = N_POINTS) -> np.ndarray:
    """``n`` points (n, 2) uniform in the disc of radius ``RADIUS`` around ``CENTRE``."""
    rng = np.random.default_rng([seed, 0])
    r = RADIUS * np.sqrt(rng.uniform(size=n))
    theta = 2.0 * np.pi * rng.uniform(size=n)
    return np.column_stack([CENTRE[0] + r * np.cos(theta), CENTRE[1] + r * np.sin(theta)])


def make_anchors(points: np.ndarray) -> np.ndarray:
    """The anchors (n, 49, 4) as (x, y, w, h): at each point, the 7 areas ``SCALES`` (target
    area 1) times the 7 ``ASPECTS``, scale-major."""
    sizes = np.array([box_of(s, a) for s in SCALES for a in ASPECTS])  # (49, 2)
    n = points.shape[0]
    centres = np.broadcast_to(points[:, None, :], (n, sizes.shape[0], 2))
    return np.concatenate([centres, np.broadcast_to(sizes, (n, *sizes.shape))], axis=-1)


@dataclass
class Cases:
    """Every (anchor, target) pair, flattened: case k is point ``k // 343``, anchor
    ``(k // 7) % 49``, target ``k % 7``.

    Attributes:
        points: (n, 2) anchor centres.
        anchors: (K, 4) the starting boxes (x, y, w, h).
        targets: (K, 4) each case's target box.
        group: (K,) 0 = no overlap, 1 = nested, 2 = partial overlap (at the start).
    """

    points: np.ndarray
    anchors: np.ndarray
    targets: np.ndarray
    group: np.ndarray

    def __len__(self) -> int:
        return int(self.anchors.shape[0])

    def first(self, n: int) -> Cases:
        """The cases of the first ``n`` points (a prefix of the cases)."""
        k = n * (len(self) // len(self.points))
        return Cases(self.points[:n], self.anchors[:k], self.targets[:k], self.group[:k])


def corners(b: np.ndarray) -> np.ndarray:
    """(x, y, w, h) to (x1, y1, x2, y2)."""
    half = b[..., 2:] / 2
    return np.concatenate([b[..., :2] - half, b[..., :2] + half], axis=-1)


def nested(boxes: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(K,) whether one box of each pair contains the other ((x, y, w, h) boxes): A is inside
    B on an axis when |x_A - x_B| <= (w_B - w_A) / 2."""
    d = boxes - targets
    off = 2.0 * np.abs(d[:, :2])
    inside = np.all(off <= -d[:, 2:], axis=1)
    contains = np.all(off <= d[:, 2:], axis=1)
    return inside | contains


def make_cases(seed: int, n: int = N_POINTS) -> Cases:
    points = make_points(seed, n)
    anchors = make_anchors(points)  # (n, 49, 4)
    targets = make_targets()  # (7, 4)
    shape = (n, anchors.shape[1], targets.shape[0], 4)
    a = np.broadcast_to(anchors[:, :, None, :], shape).reshape(-1, 4)
    t = np.broadcast_to(targets[None, None, :, :], shape).reshape(-1, 4)
    ac, tc = corners(a), corners(t)
    iw = np.minimum(ac[:, 2], tc[:, 2]) - np.maximum(ac[:, 0], tc[:, 0])
    ih = np.minimum(ac[:, 3], tc[:, 3]) - np.maximum(ac[:, 1], tc[:, 1])
    disjoint = (iw <= 0) | (ih <= 0)
    group = np.where(disjoint, 0, np.where(nested(a, t), 1, 2))
    return Cases(points, np.ascontiguousarray(a), np.ascontiguousarray(t), group)


def learning_rate(t: int, total: int = ITERATIONS) -> float:
    """The paper's eta at step t (1-based): 0.1, then 0.01 after 80% and 0.001 after 90%."""
    for fraction, eta in LEARNING_RATES:
        if t <= fraction * total:
            return eta
    return LEARNING_RATES[-1][1]


@contextlib.contextmanager
def _one_torch_thread(bk: Backend) -> Iterator[None]:
    """One intra-op torch thread inside the block (where torch computes the gradients): the
    arrays are small, and more threads cost more than they give on a busy machine."""
    if bk.name == "jax":
        yield
        return
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


# ---- gradients on the backend ------------------------------------------------------------------
Direction = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def _loss_function(name: str) -> Any:
    return getattr(lossatlas, f"{name}_loss")


def _paper_ciou(g_diou: Any, g_ciou: Any, boxes: Any, xp: Any) -> Any:
    """The paper's CIoU gradient: ``grad(diou) + s * (grad(ciou) - grad(diou))`` with
    ``s = (1, 1, w^2 + h^2, w^2 + h^2)``; the difference is ``alpha grad v`` (alpha held
    constant), so this removes the ``1 / (w^2 + h^2)`` of ``grad v``."""
    w, h = boxes[..., 2], boxes[..., 3]
    one = xp.ones_like(w)
    scale = xp.stack([one, one, w * w + h * h, w * w + h * h], axis=-1)
    return g_diou + scale * (g_ciou - g_diou)


def direction(bk: Backend, name: str, targets: np.ndarray, convention: str = "exact") -> Direction:
    """``boxes -> (gradient of the loss per box, IoU per box)`` as NumPy arrays (the update
    subtracts the first). ``convention="exact"``: computed on the backend by autodiff through
    the library's loss (PyTorch autograd for "numpy"; CIoU as the paper, see
    :func:`_paper_ciou`). ``"authors"``: the direction of the authors' MATLAB code: the
    library's gradient of the IoU loss (of the GIoU loss for GIoU) with its w and h components
    doubled, plus for DIoU and CIoU :func:`authors_distance`, plus for CIoU
    :func:`authors_aspect`."""
    if convention == "exact":
        return _backend_direction(bk, name, targets, double=False)
    if convention != "authors":
        raise ValueError(f"unknown convention {convention!r}; choose one of {CONVENTIONS}")
    if name in ("iou", "giou"):
        return _backend_direction(bk, name, targets, double=True)
    overlap = _backend_direction(bk, "iou", targets, double=True)

    def run(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g, iou = overlap(boxes)
        g = g + authors_distance(boxes, targets)
        if name == "ciou":
            g = g + authors_aspect(boxes, targets, iou)
        return g, iou

    return run


def _backend_direction(bk: Backend, name: str, targets: np.ndarray, *, double: bool) -> Direction:
    if bk.name == "jax":
        return _direction_jax(name, targets, double)
    return _direction_torch(name, targets, double)


def authors_distance(boxes: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The gradient (K, 4) of DIoU's distance term ``rho^2 / c^2`` as the authors' dDIOU.m
    computes it, directly in (x, y, w, h) (``rho`` the centre distance; ``c_w``, ``c_h`` the
    enclosing box's width and height, ``c^2 = c_w^2 + c_h^2``). With ``e_x = dc_w/dx`` (+1 where
    only the box's right edge is the enclosing box's, -1 where only its left, 0 otherwise) and
    ``f_w = dc_w/dw`` (0, 1/2 or 1), the chain rule gives
    ``d/dx = 2 (x - x_gt) / c^2 - 2 rho^2 c_w e_x / c^4`` and ``d/dw = -2 rho^2 c_w f_w / c^4``;
    the authors' code has ``2 (x - x_gt) / c^2 + 2 rho^2 (c_w + c_h) e_x / c^4`` (the enclosing
    box's part with the opposite sign, and c_w + c_h for c_w) and
    ``-2 rho^2 (c_w f'_w + c_h f_w) / c^4``, where ``f'_w = f_w`` except -1 (not +1) where the
    box spans the target horizontally (their comment: "when pred is on the periphery of gt,
    the gradient is the opposite number"); y and h likewise. Edge comparisons are strict, as
    theirs."""
    b, t = corners(boxes), corners(targets)  # (l, t, r, b)
    cw = np.maximum(b[:, 2], t[:, 2]) - np.minimum(b[:, 0], t[:, 0])
    ch = np.maximum(b[:, 3], t[:, 3]) - np.minimum(b[:, 1], t[:, 1])
    c2 = cw * cw + ch * ch
    d = boxes[:, :2] - targets[:, :2]
    rho2 = np.sum(d * d, axis=1)
    left, top, right, bottom = (b[:, j] < t[:, j] if j < 2 else b[:, j] > t[:, j] for j in range(4))
    ex = right.astype(np.float64) - left
    ey = bottom.astype(np.float64) - top
    fw = 0.5 * (right.astype(np.float64) + left)
    fh = 0.5 * (bottom.astype(np.float64) + top)
    fw_theirs = np.where(left & right, -1.0, fw)
    fh_theirs = np.where(top & bottom, -1.0, fh)
    k = 2.0 * rho2 / (c2 * c2)
    return np.column_stack(
        [
            2.0 * d[:, 0] / c2 + k * (cw + ch) * ex,
            2.0 * d[:, 1] / c2 + k * (cw + ch) * ey,
            -k * (cw * fw_theirs + ch * fw),
            -k * (cw * fh + ch * fh_theirs),
        ]
    )


def authors_aspect(boxes: np.ndarray, targets: np.ndarray, iou: np.ndarray) -> np.ndarray:
    """CIoU's aspect-ratio part of the gradient (K, 4) as the authors' dCIOU.m (and the paper,
    after its Eq. 12) takes it: ``alpha (0, 0, dv/dw, dv/dh) (w^2 + h^2)``, with
    ``v = (4 / pi^2) (atan(w_gt / h_gt) - atan(w / h))^2`` and
    ``alpha = v / (1 - IoU + v + 1e-7)`` held constant: ``dv/dw (w^2 + h^2) = -(8 / pi^2) gap h``
    and ``dv/dh (w^2 + h^2) = (8 / pi^2) gap w``, ``gap = atan(w_gt / h_gt) - atan(w / h)``. Not
    doubled (their code adds it in (w, h)); equal to what :func:`_paper_ciou` takes from the
    library."""
    gap = np.arctan(targets[:, 2] / targets[:, 3]) - np.arctan(boxes[:, 2] / boxes[:, 3])
    v = 4.0 / np.pi**2 * gap * gap
    alpha = v / (1.0 - iou + v + 1e-7)
    k = alpha * 8.0 / np.pi**2 * gap
    zero = np.zeros_like(gap)
    return np.column_stack([zero, zero, -k * boxes[:, 3], k * boxes[:, 2]])


def _direction_torch(name: str, targets: np.ndarray, double: bool) -> Direction:
    import torch

    t = torch.from_numpy(np.ascontiguousarray(targets, dtype=np.float64))
    scale = torch.tensor(WH_DOUBLED, dtype=torch.float64) if double else None
    kw = {"fmt": "cxcywh"}

    def grad_of(loss: str, b: Any) -> tuple[Any, Any]:
        """The gradient of the loss of each box, and the per-box values."""
        x = b.detach().requires_grad_(True)
        value = _loss_function(loss)(x, t, reduction="none", **kw)
        (g,) = torch.autograd.grad(value.sum(), x)
        return g, value.detach()

    def run(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        b = torch.from_numpy(np.ascontiguousarray(boxes, dtype=np.float64))
        if name == "ciou":
            g = _paper_ciou(grad_of("diou", b)[0], grad_of("ciou", b)[0], b, torch)
        else:
            g, value = grad_of(name, b)
        if name == "iou":
            iou = 1.0 - value  # iou_loss is 1 - IoU
        else:
            with torch.no_grad():
                iou = 1.0 - lossatlas.iou_loss(b, t, reduction="none", **kw)
        if scale is not None:
            g = g * scale
        return g.numpy(), iou.numpy()

    return run


def _direction_jax(name: str, targets: np.ndarray, double: bool) -> Direction:
    import jax
    import jax.numpy as jnp

    t = jnp.asarray(targets, dtype=jnp.float64)
    scale = jnp.asarray(WH_DOUBLED if double else (1.0,) * 4, dtype=jnp.float64)
    kw = {"fmt": "cxcywh"}

    def grad_of(loss: str) -> Any:
        return jax.grad(lambda b: _loss_function(loss)(b, t, reduction="sum", **kw))

    def step(b: Any) -> tuple[Any, Any]:
        if name == "ciou":
            g = _paper_ciou(grad_of("diou")(b), grad_of("ciou")(b), b, jnp)
        else:
            g = grad_of(name)(b)
        return g * scale, 1.0 - lossatlas.iou_loss(b, t, reduction="none", **kw)

    jitted = jax.jit(step)

    def run(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g, iou = jitted(jnp.asarray(boxes, dtype=jnp.float64))
        return np.asarray(g, dtype=np.float64), np.asarray(iou, dtype=np.float64)

    return run


# ---- the regression ----------------------------------------------------------------------------
@dataclass
class Run:
    """One loss's regression of every case; row t of each history is after step t (row 0:
    the start).

    Attributes:
        error: (T + 1, 3) total l1 error of the cases of each start group.
        centre: (T + 1,) total |dx| + |dy| (the centres' part of the error).
        nested: (T + 1,) cases where one box contains the other.
        nested_error: (T + 1,) total l1 error of those cases.
        final: (K,) each case's l1 error after the last step.
        final_iou: (K,) each case's IoU with its target after the last step.
        moved: (K,) whether the box moved at all.
        floored: cases whose width or height reached ``MIN_SIZE``.
    """

    error: np.ndarray
    centre: np.ndarray
    nested: np.ndarray
    nested_error: np.ndarray
    final: np.ndarray
    final_iou: np.ndarray
    moved: np.ndarray
    floored: int

    @property
    def total(self) -> np.ndarray:
        return self.error.sum(axis=1)

    @property
    def size(self) -> np.ndarray:
        """(T + 1,) total |dw| + |dh|."""
        return self.total - self.centre


def regress(run: Direction, cases: Cases, *, iterations: int = ITERATIONS) -> Run:
    """Algorithm 1 of Zheng et al. for every case at once (each box's loss depends on that box
    only, so the gradient of the summed loss is each box's own)."""
    b = cases.anchors.copy()
    target = cases.targets
    n = iterations + 1
    error, centre = np.zeros((n, len(GROUPS))), np.zeros(n)
    n_nested, nested_error = np.zeros(n), np.zeros(n)
    floored = np.zeros(len(cases), dtype=bool)

    def record(t: int) -> None:
        d = np.abs(b - target)
        err = d.sum(axis=1)
        error[t] = np.bincount(cases.group, weights=err, minlength=len(GROUPS))
        centre[t] = d[:, :2].sum()
        inside = nested(b, target)
        n_nested[t] = np.count_nonzero(inside)
        nested_error[t] = np.sum(err, where=inside)

    record(0)
    # the boxes are valid by construction (finite, widths and heights floored above 0), so
    # the library's value checks are skipped inside the loop
    with lossatlas.config.override(check_values=False):
        for t in range(1, n):
            g, iou = run(b)
            b = b - learning_rate(t, iterations) * (2.0 - iou)[:, None] * g
            if not np.all(np.isfinite(b)):
                raise FloatingPointError(f"a box became non-finite at step {t}")
            low = b[:, 2:] < MIN_SIZE
            floored |= np.any(low, axis=1)
            b[:, 2:] = np.where(low, MIN_SIZE, b[:, 2:])
            record(t)
        _, iou = run(b)
    final = np.abs(b - target).sum(axis=1)
    moved = np.any(b != cases.anchors, axis=1)
    return Run(error, centre, n_nested, nested_error, final, iou, moved, int(floored.sum()))


# ---- NMS scenes --------------------------------------------------------------------------------
@dataclass
class Scene:
    """A synthetic crowded scene.

    Attributes:
        truth: (G, 4) true boxes, xyxy.
        crowded: (G,) whether a true box overlaps another at IoU >= ``CROWDED``.
        boxes: (D, 4) detections, xyxy.
        scores: (D,) their scores.
        source: (D,) the true object each detection copies.
    """

    truth: np.ndarray
    crowded: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    source: np.ndarray


def _iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU (len(a), len(b)) by ``lossatlas.box_iou`` (on NumPy: this is the scenes'
    geometry, not the method compared)."""
    return np.asarray(lossatlas.box_iou(a, b, kind="iou", fmt="xyxy"), dtype=np.float64)


def make_scene(rng: np.random.Generator) -> Scene:
    """Groups of 1-3 objects side by side (each shifted by 25-70% of a width from the last,
    a little up or down), with 4-8 jittered detections per object whose score is
    ``0.5 IoU + 0.5 U(0, 1)`` (IoU with the object it copies)."""
    truth = []
    for _ in range(int(rng.integers(GROUPS_PER_SCENE[0], GROUPS_PER_SCENE[1] + 1))):
        w = rng.uniform(24.0, 48.0)
        h = w * rng.uniform(1.5, 2.5)
        x = rng.uniform(10.0, SCENE_SIZE - 4 * w)
        y = rng.uniform(10.0, SCENE_SIZE - 1.3 * h)
        for _ in range(int(rng.integers(OBJECTS_PER_GROUP[0], OBJECTS_PER_GROUP[1] + 1))):
            ww, hh = w * rng.uniform(0.9, 1.1), h * rng.uniform(0.9, 1.1)
            truth.append([x, y, x + ww, y + hh])
            x += w * rng.uniform(0.25, 0.7)
            y += h * rng.uniform(-0.1, 0.1)
    truth_a = np.array(truth)
    overlap = _iou_matrix(truth_a, truth_a) - np.eye(len(truth_a))
    crowded = overlap.max(axis=1) >= CROWDED
    boxes, source = [], []
    for g, (x1, y1, x2, y2) in enumerate(truth_a):
        n = int(rng.integers(DETECTIONS_PER_OBJECT[0], DETECTIONS_PER_OBJECT[1] + 1))
        w, h = x2 - x1, y2 - y1
        cx = (x1 + x2) / 2 + JITTER * w * rng.standard_normal(n)
        cy = (y1 + y2) / 2 + JITTER * h * rng.standard_normal(n)
        ww = w * np.exp(JITTER * rng.standard_normal(n))
        hh = h * np.exp(JITTER * rng.standard_normal(n))
        boxes.append(np.column_stack([cx - ww / 2, cy - hh / 2, cx + ww / 2, cy + hh / 2]))
        source.append(np.full(n, g))
    boxes_a, source_a = np.concatenate(boxes), np.concatenate(source)
    own = _iou_matrix(boxes_a, truth_a)[np.arange(len(boxes_a)), source_a]
    scores = 0.5 * own + 0.5 * rng.uniform(size=len(boxes_a))
    return Scene(truth_a, crowded, boxes_a, scores, source_a)


def match(scene: Scene, kept: np.ndarray) -> tuple[np.ndarray, int]:
    """Which true objects a set of kept detections finds: each kept box, in score order, takes
    the unmatched true box it overlaps most if that IoU is >= ``MATCH_IOU``. Returns (G,)
    booleans (found) and the number of kept boxes left unmatched (duplicates), as a pair."""
    order = kept[np.argsort(-scene.scores[kept], kind="stable")]
    found = np.zeros(len(scene.truth), dtype=bool)
    if order.size == 0:
        return found, 0
    iou = _iou_matrix(scene.boxes[order], scene.truth)
    unmatched = 0
    for row in iou:
        row = np.where(found, -1.0, row)
        g = int(np.argmax(row))
        if row[g] >= MATCH_IOU:
            found[g] = True
        else:
            unmatched += 1
    return found, unmatched


def nms_backend(bk: Backend) -> Backend:
    """Where the NMS runs: the study's backend, except NumPy for JAX (every scene has its own
    number of boxes, and eager JAX compiles each operation again for every new shape: minutes
    instead of a second)."""
    return Backend("numpy") if bk.name == "jax" else bk


def run_nms(bk: Backend, scene: Scene, kind: str, threshold: float) -> np.ndarray:
    """The indices ``lossatlas.nms`` keeps (a NumPy int array), computed on ``bk``."""
    kept = lossatlas.nms(
        bk.asarray(scene.boxes),
        bk.asarray(scene.scores),
        iou_threshold=threshold,
        kind=kind,
        fmt="xyxy",
    )
    return np.asarray(kept).astype(np.int64).reshape(-1)


@dataclass
class NmsResult:
    kept: int
    found: int
    found_crowded: int
    duplicates: int


def nms_comparison(bk: Backend, scenes: list[Scene]) -> dict[tuple[str, float], NmsResult]:
    results = {}
    for kind in ("iou", "diou"):
        for threshold in THRESHOLDS:
            kept = found = crowded = dup = 0
            for s in scenes:
                k = run_nms(bk, s, kind, threshold)
                f, d = match(s, k)
                kept += k.size
                found += int(f.sum())
                crowded += int(f[s.crowded].sum())
                dup += d
            results[kind, threshold] = NmsResult(kept, found, crowded, dup)
    return results


def best_per_object(scenes: list[Scene]) -> NmsResult:
    """The oracle: each object's highest-scoring detection, kept and nothing else."""
    kept = found = crowded = dup = 0
    for s in scenes:
        best = np.array(
            [
                np.flatnonzero(s.source == g)[np.argmax(s.scores[s.source == g])]
                for g in range(len(s.truth))
            ]
        )
        f, d = match(s, best)
        kept += best.size
        found += int(f.sum())
        crowded += int(f[s.crowded].sum())
        dup += d
    return NmsResult(kept, found, crowded, dup)


# ---- the study ---------------------------------------------------------------------------------
EARLY = 40  # the iteration of the "early" columns
NESTED_AT = (10, 20, 40, 80, 160, 200)  # iterations of the nested-cases table
TAIL = 0.1  # a case "ends far" when its final l1 error exceeds this


def opposite_orientation(cases: Cases) -> np.ndarray:
    """(K,) whether the anchor is wide and the target tall, or the other way round."""
    a = np.sign(np.log(cases.anchors[:, 2] / cases.anchors[:, 3]))
    t = np.sign(np.log(cases.targets[:, 2] / cases.targets[:, 3]))
    return a * t < 0


def _run(out: Path, *, seed: int, bk: Backend, progress: bool) -> StudyReport:
    cases = make_cases(seed)
    sets = {"exact": cases, "authors": cases.first(AUTHORS_POINTS)}
    runs: dict[str, dict[str, Run]] = {c: {} for c in CONVENTIONS}
    jobs = [(c, n) for c in CONVENTIONS for n in LOSSES]
    with _one_torch_thread(bk):
        for conv, name in progress_bar(jobs, desc=NAME, progress=progress):
            runs[conv][name] = regress(direction(bk, name, sets[conv].targets, conv), sets[conv])

    rng = np.random.default_rng([seed, 1])
    scenes = [make_scene(rng) for _ in range(N_SCENES)]
    nms = nms_comparison(nms_backend(bk), scenes)
    oracle = best_per_object(scenes)
    n_truth = sum(len(s.truth) for s in scenes)
    n_crowded = sum(int(s.crowded.sum()) for s in scenes)
    n_det = sum(len(s.boxes) for s in scenes)
    counts = {c: group_counts(sets[c]) for c in CONVENTIONS}

    headers = [
        "loss",
        "gradients",
        "cases",
        "total error, t = 0",
        f"total error, t = {EARLY}",
        f"total error, t = {ITERATIONS}",
        "final / start",
        f"steps to {CONVERGED:.0%} of the start",
        f"centre error, t = {ITERATIONS}",
        f"size error, t = {ITERATIONS}",
        "median final error",
        "final IoU > 0.99",
        "apart cases moved",
    ]
    rows: list[list[str | float]] = []
    for conv in CONVENTIONS:
        group = sets[conv].group
        for name, r in runs[conv].items():
            total = r.total
            steps = steps_to(r, CONVERGED)
            rows.append(
                [
                    LOSS_LABELS[name],
                    CONVENTION_LABELS[conv],
                    float(len(sets[conv])),
                    sig(total[0]),
                    sig(total[EARLY]),
                    sig(total[-1]),
                    sig(total[-1] / total[0], 4),
                    "never" if steps is None else float(steps),
                    sig(r.centre[-1]),
                    sig(r.size[-1]),
                    sig(float(np.median(r.final)), 4),
                    sig(float(np.mean(r.final_iou > 0.99)), 4),
                    sig(float(np.mean(r.moved[group == 0])), 4),
                ]
            )

    curve_headers = ["iteration"] + [f"{LOSS_LABELS[n]} total" for n in LOSSES]
    curve_headers += [f"{LOSS_LABELS[n]} centre" for n in LOSSES]
    nested_headers = ["iteration"] + [f"{LOSS_LABELS[n]} cases" for n in LOSSES]
    nested_headers += [f"{LOSS_LABELS[n]} mean error" for n in LOSSES]
    group_rows: list[list[str | float]] = []
    for conv in CONVENTIONS:
        start, c = runs[conv]["iou"].error[0], counts[conv]
        group_rows += [
            [GROUPS[g], CONVENTION_LABELS[conv], float(c[g]), sig(start[g] / c[g], 4)]
            + [sig(runs[conv][n].error[-1, g] / c[g], 4) for n in LOSSES]
            for g in range(len(GROUPS))
        ]
    nms_rows: list[list[str | float]] = [
        [
            f"{NMS_LABELS[kind]}",
            float(th),
            float(res.kept),
            sig(res.found / n_truth, 4),
            sig(res.found_crowded / n_crowded, 4),
            float(res.duplicates),
            sig(res.found / max(res.kept, 1), 4),
        ]
        for (kind, th), res in nms.items()
    ]
    nms_rows.append(
        [
            "oracle: each object's best-scoring detection",
            "-",
            float(oracle.kept),
            sig(oracle.found / n_truth, 4),
            sig(oracle.found_crowded / n_crowded, 4),
            float(oracle.duplicates),
            sig(oracle.found / max(oracle.kept, 1), 4),
        ]
    )
    nms_headers = [
        "method",
        "threshold",
        "detections kept",
        f"recall (IoU >= {MATCH_IOU:g})",
        "recall of crowded objects",
        "duplicates kept",
        "precision",
    ]
    trade_rows = [
        [
            float(th),
            float(nms["diou", th].duplicates),
            sig(nms["diou", th].found / n_truth, 4),
            sig(iou_recall_at(nms, nms["diou", th].duplicates) / n_truth, 4),
        ]
        for th in THRESHOLDS
    ]

    figures = [
        _figure_curves(out, runs, counts),
        _figure_map(out, cases, runs["exact"]),
        _figure_nms(out, nms_backend(bk), scenes, nms, n_truth),
    ]
    summary, notes = _findings(sets, runs, counts, nms, oracle, n_truth, n_crowded, seed)
    sub = sets["authors"]
    return StudyReport(
        name=NAME,
        title=TITLE,
        summary=summary,
        headers=headers,
        rows=rows,
        figures=figures,
        notes=notes,
        extra_tables=[
            (
                f"Regression error with exact gradients (sums over the {len(cases)} cases) at "
                "iterations: the total l1 error, and its centre part |dx| + |dy|",
                curve_headers,
                _curve_rows(runs["exact"]),
            ),
            (
                f"The authors' code's gradients ({AUTHORS_POINTS} points, {len(sub)} cases): "
                "regression error at iterations, the total l1 error and its centre part",
                curve_headers,
                _curve_rows(runs["authors"]),
            ),
            (
                "Cases where one box contains the other (GIoU is the IoU loss there), exact "
                "gradients, at iterations: how many, and their mean l1 error",
                nested_headers,
                _nested_rows(runs["exact"]),
            ),
            (
                "The authors' code's gradients: cases where one box contains the other, at "
                "iterations: how many, and their mean l1 error",
                nested_headers,
                _nested_rows(runs["authors"]),
            ),
            (
                "Cases by how the anchor starts: mean l1 error of a case at t = 0 and at "
                f"t = {ITERATIONS}",
                [
                    "start",
                    "gradients",
                    "cases",
                    "error at t = 0",
                    *(LOSS_LABELS[n] for n in LOSSES),
                ],
                group_rows,
            ),
            (
                f"NMS on {N_SCENES} synthetic crowded scenes ({n_truth} true objects, "
                f"{n_crowded} of them crowded; {n_det} detections)",
                nms_headers,
                nms_rows,
            ),
            (
                "NMS at equal duplicates: DIoU-NMS's recall, and IoU-NMS's at the same number "
                "of duplicates (interpolated between its thresholds in log(1 + duplicates))",
                ["DIoU-NMS threshold", "duplicates", "DIoU-NMS recall", "IoU-NMS recall"],
                trade_rows,
            ),
        ],
    )


def group_counts(cases: Cases) -> np.ndarray:
    """(3,) how many cases start in each of ``GROUPS``."""
    return np.bincount(cases.group, minlength=len(GROUPS))


def steps_to(r: Run, fraction: float) -> int | None:
    """The first iteration where the total error is at most ``fraction`` of the start's, or
    None."""
    hit = np.flatnonzero(r.total <= fraction * r.total[0])
    return int(hit[0]) if hit.size else None


def below_from(a: Run, b: Run) -> int | None:
    """The first iteration from which ``a``'s total error stays below ``b``'s to the end, or
    None when it ends at or above it."""
    above = np.flatnonzero(a.total >= b.total)
    if above.size and above[-1] == ITERATIONS:
        return None
    return int(above[-1]) + 1 if above.size else 0


def ranking(runs: dict[str, Run], t: int) -> str:
    """The losses by total error at iteration ``t``, smallest first: "CIoU < GIoU < ..."."""
    return " < ".join(LOSS_LABELS[n] for n in sorted(runs, key=lambda n: runs[n].total[t]))


def _curve_rows(runs: dict[str, Run]) -> list[list[str | float]]:
    return [
        [float(t)]
        + [sig(runs[n].total[t], 5) for n in LOSSES]
        + [sig(runs[n].centre[t], 5) for n in LOSSES]
        for t in CURVE_AT
    ]


def _nested_rows(runs: dict[str, Run]) -> list[list[str | float]]:
    return [
        [float(t)]
        + [float(runs[n].nested[t]) for n in LOSSES]
        + [sig(runs[n].nested_error[t] / max(runs[n].nested[t], 1.0), 4) for n in LOSSES]
        for t in NESTED_AT
    ]


def iou_recall_at(nms: dict[tuple[str, float], NmsResult], duplicates: float) -> float:
    """IoU-NMS's objects found at this many duplicates: linear in log(1 + duplicates) between
    its thresholds (as the figure's log axis draws it), clamped at the ends."""
    dup = np.array([nms["iou", t].duplicates for t in THRESHOLDS], dtype=np.float64)
    found = np.array([nms["iou", t].found for t in THRESHOLDS], dtype=np.float64)
    order = np.argsort(dup, kind="stable")
    return float(np.interp(np.log1p(duplicates), np.log1p(dup[order]), found[order]))


def _findings(
    sets: dict[str, Cases],
    runs: dict[str, dict[str, Run]],
    counts: dict[str, np.ndarray],
    nms: dict[tuple[str, float], NmsResult],
    oracle: NmsResult,
    n_truth: int,
    n_crowded: int,
    seed: int,
) -> tuple[str, list[str]]:
    cases, sub = sets["exact"], sets["authors"]
    r, a = runs["exact"], runs["authors"]
    iou_change, moved = {}, {}
    for conv in CONVENTIONS:
        s, apart = sets[conv], sets[conv].group == 0
        start_err = np.abs(s.anchors - s.targets).sum(axis=1)
        final = runs[conv]["iou"].final
        iou_change[conv] = float(np.max(np.abs(final[apart] - start_err[apart])))
        moved[conv] = float(np.mean(runs[conv]["iou"].moved[apart]))
    frac = {c: {n: x.total / x.total[0] for n, x in runs[c].items()} for c in CONVENTIONS}
    fe, fa = frac["exact"], frac["authors"]
    centre = {n: x.centre[-1] for n, x in r.items()}
    nest_n = {c: {n: x.nested for n, x in runs[c].items()} for c in CONVENTIONS}
    nest_e = {
        c: {n: x.nested_error / np.maximum(x.nested, 1.0) for n, x in runs[c].items()}
        for c in CONVENTIONS
    }
    end = ITERATIONS
    opposite = opposite_orientation(cases)
    far = r["diou"].final > TAIL
    far_opposite = float(np.mean(opposite[far])) if far.any() else 0.0
    cross = below_from(a["diou"], a["giou"])
    cross_exact = below_from(r["diou"], r["giou"])
    label = CONVENTION_LABELS

    def overtakes(at: int | None) -> str:
        if at is None:
            return "DIoU's total error ends at or above GIoU's"
        if at <= 1:
            return "DIoU's total error is below GIoU's at every step"
        return f"DIoU's total error is below GIoU's from step {at} on"

    def steps(run: Run) -> str:
        t = steps_to(run, CONVERGED)
        return "never" if t is None else str(t)

    th = SHOWN_THRESHOLD
    i, d = nms["iou", th], nms["diou", th]
    summary = (
        f"A scaled-down replica of the DIoU paper's simulation ({N_POINTS} anchor centres, "
        f"{len(cases)} anchor-target cases instead of 1,715,000) regresses every anchor toward "
        f"every target for {ITERATIONS} steps, with the exact gradients of the library's losses "
        f"and, on the cases of the first {AUTHORS_POINTS} points ({len(sub)}), with the "
        "gradients of the authors' MATLAB code (their dL/dw and dL/dh of the IoU and GIoU "
        "terms are twice the chain rule's, and their derivative of DIoU's distance term is "
        "their own). With both, the IoU loss cannot move an anchor that does not overlap its "
        f"target ({moved['exact']:.0%} and {moved['authors']:.0%} of such cases moved; the "
        f"total error ends at {fe['iou'][-1]:.1%} and {fa['iou'][-1]:.1%} of the start), and "
        "GIoU, whose penalty vanishes once its grown box contains the target, lingers there: "
        f"at step {EARLY} its nested cases are {nest_e['exact']['giou'][EARLY]:.3g} away on "
        f"average, DIoU's {nest_e['exact']['diou'][EARLY]:.2g} (authors' code: "
        f"{nest_e['authors']['giou'][EARLY]:.3g} against "
        f"{nest_e['authors']['diou'][EARLY]:.2g}). The two give different rankings by total "
        f"error. Exact gradients: {ranking(r, EARLY)} at step {EARLY}, {ranking(r, end)} at the "
        f"end (CIoU {fe['ciou'][-1]:.3%} of the start, GIoU {fe['giou'][-1]:.3%}, DIoU "
        f"{fe['diou'][-1]:.3%}): DIoU brings the centres in much faster than GIoU (centre "
        f"error at the end {centre['diou']:.4g} against {centre['giou']:.4g}) but, unlike the "
        f"paper, {overtakes(cross_exact)}. The authors' code: {ranking(a, EARLY)} at step "
        f"{EARLY} (GIoU {fa['giou'][EARLY]:.1%} of the start, DIoU {fa['diou'][EARLY]:.1%}, "
        f"CIoU {fa['ciou'][EARLY]:.1%}), {ranking(a, end)} at the end (GIoU "
        f"{fa['giou'][-1]:.3%}, DIoU {fa['diou'][-1]:.3%}, CIoU {fa['ciou'][-1]:.3%}): "
        f"{overtakes(cross)}, as the paper reports. In crowded synthetic scenes at NMS "
        f"threshold {th:g}, DIoU-NMS finds {d.found / n_truth:.1%} of the true objects "
        f"({d.found_crowded / n_crowded:.1%} of the crowded ones) with {d.duplicates} "
        f"duplicates, IoU-NMS {i.found / n_truth:.1%} ({i.found_crowded / n_crowded:.1%}) with "
        f"{i.duplicates}."
    )
    floored = {c: {n: x.floored for n, x in runs[c].items()} for c in CONVENTIONS}
    trade = [(t, nms["diou", t], iou_recall_at(nms, nms["diou", t].duplicates)) for t in THRESHOLDS]
    better = sum(x.found > y + 1e-9 for _, x, y in trade)
    gap = max(abs(x.found - y) for _, x, y in trade) / n_truth
    ce, ca = counts["exact"], counts["authors"]
    notes = [
        "The IoU loss's gradient is zero while the boxes do not overlap (in the authors' code "
        "as well), so those anchors never move: the largest change of their error under the "
        f"IoU loss is {iou_change['exact']:.3g} ({label['authors']}: "
        f"{iou_change['authors']:.3g}), and their mean error stays "
        f"{r['iou'].error[-1, 0] / ce[0]:.3g} (it starts at {r['iou'].error[0, 0] / ce[0]:.3g}). "
        f"{ce[0] / len(cases):.1%} of the cases start apart ({ca[0] / len(sub):.1%} of the "
        "authors'-code runs' cases). GIoU, DIoU and CIoU move all of them.",
        "When one box contains the other the smallest enclosing box is the larger of the two, "
        "so GIoU's penalty (|C| - |A u B|) / |C| is zero and GIoU is the IoU loss, with no "
        "term that pulls the centres together. GIoU's penalty grows the boxes toward the "
        "target, so many of its cases pass through that state. Cases nested at steps, exact "
        "gradients: "
        + ", ".join(
            f"{t}: GIoU {nest_n['exact']['giou'][t]:.0f} (mean error "
            f"{nest_e['exact']['giou'][t]:.3g}), DIoU {nest_n['exact']['diou'][t]:.0f} "
            f"({nest_e['exact']['diou'][t]:.3g})"
            for t in (20, EARLY, 80)
        )
        + f"; at the end GIoU's are {nest_e['exact']['giou'][-1]:.3g} away on average, DIoU's "
        f"{nest_e['exact']['diou'][-1]:.2g}, CIoU's {nest_e['exact']['ciou'][-1]:.2g}. With the "
        "authors' code: "
        + ", ".join(
            f"{t}: GIoU {nest_n['authors']['giou'][t]:.0f} "
            f"({nest_e['authors']['giou'][t]:.3g}), DIoU {nest_n['authors']['diou'][t]:.0f} "
            f"({nest_e['authors']['diou'][t]:.3g})"
            for t in (20, EARLY, 80)
        )
        + f"; at the end {nest_e['authors']['giou'][-1]:.3g} against "
        f"{nest_e['authors']['diou'][-1]:.2g} (CIoU {nest_e['authors']['ciou'][-1]:.2g}). Few "
        f"cases start nested in this setting ({ce[1]}); their mean error at the end, exact "
        f"gradients: IoU {r['iou'].error[-1, 1] / ce[1]:.3g}, GIoU "
        f"{r['giou'].error[-1, 1] / ce[1]:.3g}, DIoU {r['diou'].error[-1, 1] / ce[1]:.3g}, "
        f"CIoU {r['ciou'].error[-1, 1] / ce[1]:.3g}.",
        "Where the paper and this replica differ, and why: the ranking by total error depends "
        f"on the gradients. Exact gradients: {ranking(r, EARLY)} at step {EARLY} (GIoU "
        f"{fe['giou'][EARLY]:.1%} of the start, DIoU {fe['diou'][EARLY]:.1%}), "
        f"{ranking(r, end)} at the end (GIoU {r['giou'].total[-1]:.4g}, DIoU "
        f"{r['diou'].total[-1]:.4g}); {overtakes(cross_exact)}. DIoU's centres converge faster "
        f"(centre error at the end {centre['diou']:.4g} against {centre['giou']:.4g}; median "
        f"error of a case {np.median(r['diou'].final):.3g} against "
        f"{np.median(r['giou'].final):.3g}), but its widths and heights are fitted by the IoU "
        f"term alone: of the {int(far.sum())} DIoU cases that end more than {TAIL:g} away, "
        f"{far_opposite:.0%} pair a wide anchor with a tall target or the other way round "
        f"(such pairs are {np.mean(opposite):.0%} of all cases). CIoU's aspect-ratio term is "
        f"what closes that gap. The authors' code: {ranking(a, EARLY)} at step {EARLY} (GIoU "
        f"{fa['giou'][EARLY]:.1%}, DIoU {fa['diou'][EARLY]:.1%}, CIoU {fa['ciou'][EARLY]:.1%}), "
        f"{ranking(a, end)} at the end (GIoU {fa['giou'][-1]:.3%}, DIoU {fa['diou'][-1]:.3%}, "
        f"CIoU {fa['ciou'][-1]:.3%}); {overtakes(cross)}; steps to {CONVERGED:.0%} of the "
        f"start: GIoU {steps(a['giou'])}, DIoU {steps(a['diou'])}, CIoU {steps(a['ciou'])} "
        f"(exact gradients: {steps(r['giou'])}, {steps(r['diou'])}, {steps(r['ciou'])}). So "
        "the paper's ordering of GIoU and DIoU is that of its authors' gradients, not of the "
        "exact ones.",
        "The authors' code's gradients, as reproduced here (from their MATLAB simulation, "
        "github.com/Zzh-tju/DIoU, 'simulation experiment'). dIOU.m and dGIOU.m differentiate "
        "IoU and GIoU exactly with respect to the edges (t, b, l, r), and to_xywh.m converts "
        "with dL/dx = dL/dl + dL/dr (the chain rule's) but dL/dw = dL/dr - dL/dl and "
        "dL/dh = dL/db - dL/dt, twice the chain rule's (dL/dr - dL/dl) / 2: the IoU and GIoU "
        "runs use the library's gradients with their w and h components doubled. dDIOU.m "
        "and dCIOU.m add to the IoU part (doubled the same way) a derivative of the distance "
        "term rho^2 / c^2 taken directly in (x, y, w, h): not doubled, but not the chain "
        "rule's either. In x (and y) the part that comes from the enclosing box's width c_w "
        "has the opposite sign and c_w + c_h in place of c_w; in w (and h) there is an extra "
        "c_h dc_w/dw term, and dc_w/dw is taken as -1 instead of +1 where the box spans the "
        "target horizontally. The DIoU and CIoU runs use that closed form (restated in "
        "authors_distance), and CIoU adds alpha times the paper's aspect-ratio gradient, "
        "not doubled (the same term as the exact runs). Like the paper's Algorithm 1, the "
        "code's update is B + eta (2 - IoU) times that direction, with the same eta schedule. "
        f"These runs use the cases of the first {AUTHORS_POINTS} of the {N_POINTS} points "
        f"({len(sub)} cases), to keep the study within seconds: their totals are sums over "
        "fewer cases, so the figure compares both sets as shares of their start.",
        "CIoU's gradient follows the paper: alpha = v / (1 - IoU + v) is held constant (as "
        "lossatlas.ciou_loss does) and the factor 1 / (w^2 + h^2) of the gradient of the "
        "aspect-ratio term v is dropped, as the paper does 'for stable convergence' (so does "
        "its authors' MATLAB code). The study gets it from the library alone: the width and "
        "height components of grad(ciou_loss) - grad(diou_loss), which is alpha grad v, are "
        "multiplied by w^2 + h^2. The other exact gradients are autodiff's.",
        f"Setup (Zheng et al. 2020, Algorithm 1, scaled down): {N_POINTS} points uniform in "
        f"the disc of radius {RADIUS:g} around ({CENTRE[0]:g}, {CENTRE[1]:g}) (the paper: "
        f"5,000), anchors of areas {', '.join(f'{x:g}' for x in SCALES)} times the target's "
        f"and aspect ratios {', '.join(ASPECT_LABELS)}, 7 unit-area targets of the same "
        f"aspect ratios at the centre: {len(cases)} cases ({len(sub)} for the authors' code's "
        f"gradients), seed {seed}. {ITERATIONS} steps of "
        "B_t = B_{t-1} - eta (2 - IoU_{t-1}) grad L(B_{t-1}) on B = (x, y, w, h), eta = 0.1, "
        "then 0.01 after 80% and 0.001 after 90% of the steps. Exact gradients by autodiff "
        "through lossatlas.iou_loss, giou_loss, diou_loss and ciou_loss (fmt 'cxcywh'; PyTorch "
        "autograd on the numpy and torch backends, jax.grad under jax.jit on jax). The error "
        "of a case is the l1 distance of (x, y, w, h) to the target's, the total error its sum "
        "over the cases; the centre error is its |dx| + |dy| part, the size error its "
        "|dw| + |dh| part; 'apart cases moved' is the share of the cases that start apart "
        f"whose box moved at all. Widths and heights are floored at {MIN_SIZE:g} (a guard); cases "
        "that reached it: "
        + "; ".join(
            f"{label[c]}: " + ", ".join(f"{LOSS_LABELS[n]} {floored[c][n]}" for n in LOSSES)
            for c in CONVENTIONS
        )
        + ".",
        "NMS, recall and duplicates by threshold: "
        + "; ".join(
            f"{t:g}: IoU-NMS {nms['iou', t].found / n_truth:.3f} with "
            f"{nms['iou', t].duplicates}, DIoU-NMS {nms['diou', t].found / n_truth:.3f} with "
            f"{nms['diou', t].duplicates}"
            for t in THRESHOLDS
        )
        + ". At the same threshold DIoU-NMS suppresses less (it subtracts the normalised "
        "centre distance from the IoU), so it keeps more boxes: more of the crowded "
        "neighbours, and more duplicates. At equal duplicates (IoU-NMS interpolated between "
        f"its thresholds in log(1 + duplicates)) DIoU-NMS finds more objects at {better} of "
        f"the {len(THRESHOLDS)} thresholds (the largest difference in recall: {gap:.3f}): "
        + "; ".join(
            f"{x.duplicates} duplicates: DIoU-NMS {x.found / n_truth:.3f}, IoU-NMS "
            f"{y / n_truth:.3f}"
            for _, x, y in trade
        )
        + f". Keeping each object's best-scoring detection and nothing else finds "
        f"{oracle.found / n_truth:.3f} with {oracle.duplicates} duplicates.",
        f"NMS data: {N_SCENES} scenes of {GROUPS_PER_SCENE[0]}-{GROUPS_PER_SCENE[1]} groups of "
        f"{OBJECTS_PER_GROUP[0]}-{OBJECTS_PER_GROUP[1]} objects side by side (each shifted by "
        "25-70% of a width from the last), "
        f"{DETECTIONS_PER_OBJECT[0]}-{DETECTIONS_PER_OBJECT[1]} detections per object jittered "
        f"by {JITTER:g} of the size (centre) and {JITTER:g} in log-size, score 0.5 IoU with "
        "the object + 0.5 U(0, 1). lossatlas.nms with kind 'iou' and 'diou'. A kept detection "
        f"finds an object when it overlaps it at IoU >= {MATCH_IOU:g}, one detection per "
        "object, in score order; the other kept detections are duplicates. Crowded: a true "
        f"box overlapping another at IoU >= {CROWDED:g} ({n_crowded} of {n_truth}).",
    ]
    return summary, notes


# ---- figures -----------------------------------------------------------------------------------
def _figure_curves(
    out: Path, runs: dict[str, dict[str, Run]], counts: dict[str, np.ndarray]
) -> Path:
    """Four panels of error against iteration, each as a share of the set's error at t = 0
    (the two sets regress different numbers of cases): solid exact gradients, dashed the
    authors' code's."""
    from matplotlib.lines import Line2D

    t = np.arange(ITERATIONS + 1)
    panels = (
        ("total error, all cases", lambda r: r.total, lambda r: r.total[0]),
        ("centre error |dx| + |dy|, all cases", lambda r: r.centre, lambda r: r.centre[0]),
        (
            "cases where one box contains the other (at that step)",
            lambda r: r.nested_error,
            lambda r: r.total[0],
        ),
        ("cases that start apart", lambda r: r.error[:, 0], lambda r: r.error[0, 0]),
    )
    ylabels = (
        "total l1 error / its start",
        "total |dx| + |dy| / its start",
        "their total l1 error / all cases' start",
        "their total l1 error / their start",
    )
    dashes = {"exact": "-", "authors": "--"}
    with style():
        fig, axes = new_figure(2, 2, size=(11.5, 8.0))
        for ax, (title, get, norm), ylabel in zip(axes.ravel(), panels, ylabels, strict=True):
            for conv in CONVENTIONS:
                for name, r in runs[conv].items():
                    y = np.maximum(get(r) / norm(r), 1e-8)
                    ax.semilogy(t, y, color=COLORS[name], ls=dashes[conv], lw=1.4)
            ax.set_xlabel("iteration")
            ax.set_ylabel(ylabel)
            ax.set_title(title)
        losses = [Line2D([], [], color=COLORS[n], lw=1.6, label=LOSS_LABELS[n]) for n in LOSSES]
        kinds = [
            Line2D([], [], color="0.3", ls="-", lw=1.4, label="exact gradients"),
            Line2D(
                [],
                [],
                color="0.3",
                ls="--",
                lw=1.4,
                label=f"authors' code ({AUTHORS_POINTS} points)",
            ),
        ]
        axes[0, 0].legend(handles=losses, loc="lower left")
        axes[0, 1].legend(handles=kinds, loc="lower left")
        fig.suptitle(
            "Regression error against iteration (the DIoU paper's simulation, scaled down; "
            f"{int(counts['exact'].sum())} and {int(counts['authors'].sum())} cases)",
            fontsize=11,
        )
        return save(fig, out / f"{NAME}-error-curves.png")


def _figure_map(out: Path, cases: Cases, runs: dict[str, Run]) -> Path:
    from matplotlib.colors import LogNorm

    n = len(cases.points)
    per_point = {name: r.final.reshape(n, -1).sum(axis=1) for name, r in runs.items()}
    values = np.concatenate(list(per_point.values()))
    lo = max(float(np.min(values)), 1e-4)
    hi = max(float(np.max(values)), 10 * lo)
    norm = LogNorm(vmin=lo, vmax=hi)
    targets = corners(make_targets())
    with style():
        fig, axes = new_figure(1, 4, size=(15.0, 4.3))
        image = None
        for ax, (name, err) in zip(axes[0], per_point.items(), strict=True):
            image = ax.scatter(
                cases.points[:, 0],
                cases.points[:, 1],
                c=np.maximum(err, lo),
                norm=norm,
                cmap="viridis",
                s=16,
                lw=0,
            )
            for x1, y1, x2, y2 in targets:
                ax.add_patch(_rect(x1, y1, x2, y2, edgecolor="#d62728", lw=0.7, alpha=0.6))
            ax.set_aspect("equal")
            ax.set_xlim(CENTRE[0] - RADIUS - 0.2, CENTRE[0] + RADIUS + 0.2)
            ax.set_ylim(CENTRE[1] - RADIUS - 0.2, CENTRE[1] + RADIUS + 0.2)
            ax.set_title(f"{LOSS_LABELS[name]}: total {err.sum():.4g}")
            ax.set_xlabel("anchor centre x")
            ax.grid(False)
        axes[0, 0].set_ylabel("anchor centre y")
        per = len(cases) // n
        fig.colorbar(image, ax=axes[0, :], label=f"final l1 error, sum of the point's {per} cases")
        fig.suptitle(
            f"Final error by anchor position after {ITERATIONS} iterations, exact gradients "
            "(red: the 7 targets)",
            fontsize=11,
        )
        return save(fig, out / f"{NAME}-error-map.png")


def _rect(x1: float, y1: float, x2: float, y2: float, **kw: Any) -> Any:
    from matplotlib.patches import Rectangle

    style_ = {"fill": False, "edgecolor": "black", "lw": 1.0, "alpha": 1.0} | kw
    return Rectangle((x1, y1), x2 - x1, y2 - y1, **style_)


def _figure_nms(
    out: Path,
    bk: Backend,
    scenes: list[Scene],
    nms: dict[tuple[str, float], NmsResult],
    n_truth: int,
) -> Path:
    # the example: the first scene where the two methods find different objects
    shown = 0
    for k, s in enumerate(scenes):
        fi, _ = match(s, run_nms(bk, s, "iou", SHOWN_THRESHOLD))
        fd, _ = match(s, run_nms(bk, s, "diou", SHOWN_THRESHOLD))
        if not np.array_equal(fi, fd):
            shown = k
            break
    s = scenes[shown]
    with style():
        fig, axes = new_figure(1, 3, size=(15.0, 5.0))
        for ax, kind in zip(axes[0, :2], ("iou", "diou"), strict=True):
            kept = run_nms(bk, s, kind, SHOWN_THRESHOLD)
            found, dup = match(s, kept)
            for b in s.boxes:
                ax.add_patch(_rect(*b, edgecolor="0.8", lw=0.6))
            for b in s.boxes[kept]:
                ax.add_patch(_rect(*b, edgecolor="#1f77b4", lw=1.2))
            for g, b in enumerate(s.truth):
                ok = bool(found[g])
                ax.add_patch(
                    _rect(*b, edgecolor="#2ca02c" if ok else "#ff7f0e", lw=2.0,
                          ls="-" if ok else "--")
                )  # fmt: skip
            ax.set_xlim(s.truth[:, 0].min() - 20, s.truth[:, 2].max() + 20)
            ax.set_ylim(s.truth[:, 3].max() + 20, s.truth[:, 1].min() - 20)
            ax.set_aspect("equal")
            ax.grid(False)
            ax.set_title(
                f"{NMS_LABELS[kind]} at {SHOWN_THRESHOLD:g}: {int(found.sum())} of "
                f"{len(s.truth)} objects found, {dup} duplicates",
                fontsize=10,
            )
        axes[0, 0].set_xlabel(
            "true boxes: green found, orange dashed missed; blue: kept detections; grey: all",
            fontsize=8.5,
        )
        ax = axes[0, 2]
        for kind, color, marker in (("iou", "#1f77b4", "o"), ("diou", "#d62728", "s")):
            dups = [nms[kind, t].duplicates for t in THRESHOLDS]
            rec = [nms[kind, t].found / n_truth for t in THRESHOLDS]
            ax.plot(dups, rec, marker=marker, color=color, lw=1.6, label=f"{NMS_LABELS[kind]}")
            for t, x, y in zip(THRESHOLDS, dups, rec, strict=True):
                ax.annotate(
                    f"{t:g}", (x, y), textcoords="offset points", xytext=(4, -11),
                    fontsize=7.5, color=color,
                )  # fmt: skip
        ax.set_xscale("symlog", linthresh=10)
        ax.set_xlabel(f"duplicates kept, {N_SCENES} scenes (labels: the threshold)")
        ax.set_ylabel(f"recall (IoU >= {MATCH_IOU:g})")
        ax.set_title("Recall against duplicates", fontsize=10)
        ax.legend(loc="lower right")
        fig.suptitle(f"NMS on synthetic crowded scenes (scene {shown} shown)", fontsize=11)
        return save(fig, out / f"{NAME}-nms.png")


STUDY = Study(
    name=NAME,
    title=TITLE,
    description="The DIoU paper's box-regression simulation at a small scale (anchors regressed "
    "toward unit-area targets by gradient descent on the IoU, GIoU, DIoU and CIoU losses, with "
    "exact gradients and with those of the authors' MATLAB code: error curves and a map of the "
    "final error), and IoU- against DIoU-NMS on synthetic crowded scenes.",
    _run=_run,
)
