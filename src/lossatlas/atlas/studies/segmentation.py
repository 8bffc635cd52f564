"""Study ``segmentation``: a tiny conv net segments small shapes with seven losses.

Data: seeded synthetic grayscale images, ``SIZE`` x ``SIZE`` pixels. Each image holds 1 to 3
small foreground shapes (discs, rotated ellipses, axis-aligned rectangles), redrawn until the
foreground covers 1% to 5% of the image. Every shape has its own contrast; the background is
clutter: 2 to 4 smooth Gaussian blobs, bright or dark, of about the shapes' brightness but
larger, plus a linear intensity ramp. The picture is blurred (Gaussian, sigma ``BLUR`` pixels)
and Gaussian noise is added, so that neither a threshold on intensity nor a pixel on its own
finds the shapes, and their boundaries are uncertain by about a pixel.

Model: three 3x3 convolutions (dilations 1, 2 and 4; ``CHANNELS`` channels; ReLU) and a 1x1
convolution to one logit per pixel, float32, the final bias set to the logit of the training
set's foreground fraction (the prior initialisation of Lin et al. 2017, so that no loss starts
by predicting 50% foreground). Every loss trains the same initial weights on the same batches
with Adam for ``STEPS`` steps (learning rate ``LEARNING_RATE``, cosine decay to 0). The model
runs on PyTorch whatever the backend; the study calls only lossatlas's losses, on the logits:
``binary_cross_entropy_with_logits``, ``focal_loss`` (gamma 2, alpha 0.25), ``dice_loss``,
``tversky_loss`` (alpha 0.3 on false positives, beta 0.7 on false negatives),
``focal_tversky_loss`` (the same, gamma 0.75), ``lovasz_hinge`` and ``dice_ce_loss``.

Metrics, on the held-out test images, with a pixel predicted foreground when its logit is
> 0 (probability > 0.5), counts summed over the whole test set:

- IoU (foreground Jaccard): ``TP / (TP + FP + FN)``; its 95% interval is a bootstrap over the
  test images (``N_BOOTSTRAP`` resamples), and the interval of its difference to BCE's a
  paired bootstrap (the same resamples for both losses).
- precision ``TP / (TP + FP)``, recall ``TP / (TP + FN)``, and the predicted area over the
  true area ``(TP + FP) / (TP + FN)`` (below 1: under-segmentation).
- boundary F1 at a tolerance of ``TOLERANCE`` pixel: the boundary of a mask is its foreground
  pixels with a background 4-neighbour (outside the image counts as background); boundary
  precision is the fraction of predicted boundary pixels within Chebyshev distance 1 of a true
  boundary pixel, boundary recall the fraction of true boundary pixels within distance 1 of a
  predicted one, and F1 their harmonic mean (Csurka et al. 2013, "What is a good evaluation
  measure for semantic segmentation?", with a 1-pixel tolerance).
- objects found: the fraction of the true shapes with at least half of their pixels predicted
  foreground, over all shapes and over the small ones (at most ``SMALL`` pixels).
- each model's own loss on the test images, evaluated on the chosen backend (float64).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import lossatlas

from ._base import Study, StudyReport, sig
from ._figures import new_figure, save, style
from ._train import Backend, progress_bar, torch_scope

NAME = "segmentation"
TITLE = "Segmenting small objects: cross entropy, focal, Dice, Tversky and Lovász losses"

SIZE = 32  # pixels per side
SHAPES = (1, 3)  # shapes per image, inclusive
FOREGROUND = (0.01, 0.05)  # an image's foreground fraction is redrawn until inside this range
CONTRAST = (0.6, 1.2)  # a shape's intensity above the background
CLUTTER = (2, 4)  # background blobs per image, inclusive
BLOB_SIGMA = (2.5, 6.0)  # their width (pixels)
BLOB_AMPLITUDE = (-0.8, 0.9)  # their intensity
RAMP = 0.4  # largest intensity change of the linear ramp across the image
BLUR = 0.7  # Gaussian blur of the picture (pixels)
NOISE = 0.3  # standard deviation of the pixel noise
N_TRAIN = 1024
N_TEST = 256

CHANNELS = 16
DILATIONS = (1, 2, 4)
STEPS = 300
BATCH = 16
LEARNING_RATE = 1e-2
CHECKPOINTS = (0, 25, 50, 100, 200, 300)  # steps at which the test set is evaluated
SMOOTH_WINDOW = 25  # steps in the moving average of the training curve

TOLERANCE = 1  # pixels, for the boundary F1
SMALL = 12  # a shape of at most this many pixels is small
N_BOOTSTRAP = 1000
N_EXAMPLES = 4  # test images in the examples figure


# ---- data ------------------------------------------------------------------------------------
@dataclass
class Images:
    """A set of images.

    Attributes:
        x: the pictures, shape (N, SIZE, SIZE), float64.
        mask: the foreground, shape (N, SIZE, SIZE), bool.
        objects: each shape's index (1, 2, ...) on its pixels, 0 on the background,
            shape (N, SIZE, SIZE), int64.
    """

    x: np.ndarray
    mask: np.ndarray
    objects: np.ndarray

    def __len__(self) -> int:
        return int(self.x.shape[0])


def _grid() -> tuple[np.ndarray, np.ndarray]:
    """Row and column coordinates of the pixel centres."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] + 0.5
    return yy, xx


def _shape(rng: np.random.Generator) -> np.ndarray:
    """One random shape's mask: a disc, a rotated ellipse or an axis-aligned rectangle."""
    yy, xx = _grid()
    cy, cx = rng.uniform(3.0, SIZE - 3.0, size=2)
    kind = int(rng.integers(3))
    if kind == 0:
        r = rng.uniform(1.2, 2.8)
        return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    if kind == 1:
        a, b = rng.uniform(2.0, 4.0), rng.uniform(1.0, 2.0)
        t = rng.uniform(0.0, np.pi)
        u = (xx - cx) * np.cos(t) + (yy - cy) * np.sin(t)
        v = -(xx - cx) * np.sin(t) + (yy - cy) * np.cos(t)
        return (u / a) ** 2 + (v / b) ** 2 <= 1.0
    w, h = rng.uniform(2.0, 5.0, size=2)
    return (np.abs(xx - cx) <= w / 2) & (np.abs(yy - cy) <= h / 2)


def _clutter(rng: np.random.Generator) -> np.ndarray:
    """The background of one image: smooth Gaussian blobs and a linear ramp."""
    yy, xx = _grid()
    b = np.zeros((SIZE, SIZE))
    for _ in range(int(rng.integers(CLUTTER[0], CLUTTER[1] + 1))):
        cy, cx = rng.uniform(0.0, SIZE, size=2)
        s = rng.uniform(*BLOB_SIGMA)
        b += rng.uniform(*BLOB_AMPLITUDE) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
    g = rng.uniform(-RAMP, RAMP, size=2)
    return b + g[0] * (yy / SIZE - 0.5) + g[1] * (xx / SIZE - 0.5)


def gaussian_blur(a: np.ndarray, sigma: float) -> np.ndarray:
    """A separable Gaussian blur of the last two axes (kernel truncated at 3 sigma, reflected
    edges)."""
    r = int(np.ceil(3 * sigma))
    t = np.arange(-r, r + 1)
    k = np.exp(-(t**2) / (2 * sigma * sigma))
    k /= k.sum()
    n = a.shape[-1]
    p = np.pad(a, ((0, 0), (r, r), (0, 0)), mode="reflect")
    a = sum(k[i] * p[:, i : i + n, :] for i in range(2 * r + 1))
    p = np.pad(a, ((0, 0), (0, 0), (r, r)), mode="reflect")
    return sum(k[i] * p[:, :, i : i + n] for i in range(2 * r + 1))


def make_images(rng: np.random.Generator, n: int) -> Images:
    """``n`` random images (see the module docstring) drawn with ``rng``."""
    mask = np.zeros((n, SIZE, SIZE), dtype=bool)
    objects = np.zeros((n, SIZE, SIZE), dtype=np.int64)
    clean = np.zeros((n, SIZE, SIZE))
    for k in range(n):
        while True:
            m = np.zeros((SIZE, SIZE), dtype=bool)
            labels = np.zeros((SIZE, SIZE), dtype=np.int64)
            contrast = np.zeros((SIZE, SIZE))
            for j in range(int(rng.integers(SHAPES[0], SHAPES[1] + 1))):
                s = _shape(rng) & ~m  # a later shape does not cover an earlier one
                labels = np.where(s, j + 1, labels)
                contrast = np.where(s, rng.uniform(*CONTRAST), contrast)
                m = m | s
            if FOREGROUND[0] <= m.mean() <= FOREGROUND[1] and np.all(
                np.bincount(labels.ravel())[1:] > 0
            ):
                break
        mask[k], objects[k] = m, labels
        clean[k] = _clutter(rng) + contrast
    x = gaussian_blur(clean, BLUR) + NOISE * rng.standard_normal((n, SIZE, SIZE))
    return Images(x, mask, objects)


def make_data(seed: int) -> tuple[Images, Images]:
    """(training images, test images) for the seed."""
    rng = np.random.default_rng([seed, 0])
    return make_images(rng, N_TRAIN), make_images(rng, N_TEST)


# ---- the losses ------------------------------------------------------------------------------
@dataclass(frozen=True)
class LossSpec:
    """A loss of the study: its label, its key (figure colours, tests), a short name for the
    figures, and its call ``lossatlas.<loss>(logits, target, **params)`` on (N, SIZE, SIZE)
    logits and 0/1 targets."""

    label: str
    key: str
    short: str
    loss: str
    params: dict[str, Any]

    def __call__(self, logits: Any, target: Any) -> Any:
        return getattr(lossatlas, self.loss)(logits, target, **self.params)


SPECS: tuple[LossSpec, ...] = (
    LossSpec("BCE", "bce", "BCE", "binary_cross_entropy_with_logits", {}),
    LossSpec(
        "focal (gamma=2, alpha=0.25)", "focal", "focal", "focal_loss", {"gamma": 2.0, "alpha": 0.25}
    ),
    LossSpec("Dice", "dice", "Dice", "dice_loss", {"mode": "binary", "from_logits": True}),
    LossSpec(
        "Tversky (alpha=0.3, beta=0.7)",
        "tversky",
        "Tversky",
        "tversky_loss",
        {"mode": "binary", "from_logits": True, "alpha": 0.3, "beta": 0.7},
    ),
    LossSpec(
        "focal Tversky (alpha=0.3, beta=0.7, gamma=0.75)",
        "focal_tversky",
        "focal Tversky",
        "focal_tversky_loss",
        {"mode": "binary", "from_logits": True, "alpha": 0.3, "beta": 0.7, "gamma": 0.75},
    ),
    LossSpec("Lovász hinge", "lovasz", "Lovász", "lovasz_hinge", {"per_image": True}),
    LossSpec(
        "Dice + CE", "dice_ce", "Dice+CE", "dice_ce_loss", {"mode": "binary", "from_logits": True}
    ),
)
COLORS = {
    "bce": "#000000",
    "focal": "#7f7f7f",
    "dice": "#1f77b4",
    "tversky": "#d62728",
    "focal_tversky": "#ff7f0e",
    "lovasz": "#2ca02c",
    "dice_ce": "#9467bd",
}


# ---- model -----------------------------------------------------------------------------------
def make_model(torch: Any, prior: float) -> Any:
    """Conv(1, C, 3) - ReLU - Conv(C, C, 3, dilation 2) - ReLU - Conv(C, C, 3, dilation 4) -
    ReLU - Conv(C, 1, 1), 'same' padding, float32; the last bias is ``logit(prior)``."""
    nn = torch.nn
    layers: list[Any] = []
    width = 1
    for d in DILATIONS:
        layers += [nn.Conv2d(width, CHANNELS, 3, padding=d, dilation=d), nn.ReLU()]
        width = CHANNELS
    head = nn.Conv2d(width, 1, 1)
    with torch.no_grad():
        head.bias.fill_(float(np.log(prior / (1.0 - prior))))
    return nn.Sequential(*layers, head)


def logits(torch: Any, model: Any, x: np.ndarray) -> Any:
    """The model's logits (N, SIZE, SIZE), a torch tensor."""
    return model(torch.from_numpy(x[:, None].astype(np.float32)))[:, 0]


# ---- metrics ---------------------------------------------------------------------------------
def boundary(mask: np.ndarray) -> np.ndarray:
    """The foreground pixels of (N, H, W) masks with a background 4-neighbour (outside the
    image is background)."""
    p = np.pad(mask, ((0, 0), (1, 1), (1, 1)))
    inner = p[:, :-2, 1:-1] & p[:, 2:, 1:-1] & p[:, 1:-1, :-2] & p[:, 1:-1, 2:]
    return mask & ~inner


def dilate(mask: np.ndarray, r: int) -> np.ndarray:
    """The pixels of (N, H, W) masks within Chebyshev distance ``r`` of a foreground pixel."""
    h, w = mask.shape[1:]
    p = np.pad(mask, ((0, 0), (r, r), (r, r)))
    out = np.zeros_like(mask)
    for i in range(2 * r + 1):
        for j in range(2 * r + 1):
            out = out | p[:, i : i + h, j : j + w]
    return out


def boundary_counts(pred: np.ndarray, truth: np.ndarray, tol: int = TOLERANCE) -> np.ndarray:
    """Per image: [predicted boundary pixels near a true boundary, predicted boundary pixels,
    true boundary pixels near a predicted boundary, true boundary pixels], shape (N, 4)."""
    bp, bt = boundary(pred), boundary(truth)
    near_t, near_p = dilate(bt, tol), dilate(bp, tol)
    return np.stack(
        [
            np.sum(bp & near_t, axis=(1, 2)),
            np.sum(bp, axis=(1, 2)),
            np.sum(bt & near_p, axis=(1, 2)),
            np.sum(bt, axis=(1, 2)),
        ],
        axis=1,
    ).astype(np.float64)


def boundary_f1(counts: np.ndarray) -> float:
    """The boundary F1 from summed :func:`boundary_counts` (0 when either side is empty)."""
    c = counts.sum(axis=0)
    p = c[0] / c[1] if c[1] > 0 else 0.0
    r = c[2] / c[3] if c[3] > 0 else 0.0
    return float(2 * p * r / (p + r)) if p + r > 0 else 0.0


def pixel_counts(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per image: [TP, FP, FN], shape (N, 3)."""
    return np.stack(
        [
            np.sum(pred & truth, axis=(1, 2)),
            np.sum(pred & ~truth, axis=(1, 2)),
            np.sum(~pred & truth, axis=(1, 2)),
        ],
        axis=1,
    ).astype(np.float64)


def iou(counts: np.ndarray) -> float:
    """Foreground IoU from per-image [TP, FP, FN] counts, summed over the images."""
    tp, fp, fn = counts.sum(axis=0)
    return float(tp / (tp + fp + fn)) if tp + fp + fn > 0 else 1.0


def object_stats(pred: np.ndarray, objects: np.ndarray) -> np.ndarray:
    """One row per true shape: [its area in pixels, the fraction of it predicted foreground]."""
    rows = []
    for k in range(objects.shape[0]):
        lab = objects[k].ravel()
        area = np.bincount(lab)[1:]
        hit = np.bincount(lab, weights=pred[k].ravel().astype(np.float64), minlength=area.size + 1)
        rows.append(np.column_stack([area, hit[1:] / np.maximum(area, 1)]))
    return np.concatenate(rows).astype(np.float64)


def bootstrap_picks(seed: int, n: int) -> np.ndarray:
    """The test images of each bootstrap resample, (N_BOOTSTRAP, n): the same resamples for
    every loss, so that differences between losses are paired."""
    return np.random.default_rng([seed, 2]).integers(0, n, size=(N_BOOTSTRAP, n))


def bootstrap_iou(counts: np.ndarray, picks: np.ndarray) -> np.ndarray:
    """The IoU of each bootstrap resample of the per-image [TP, FP, FN] counts."""
    c = counts[picks].sum(axis=1)  # (N_BOOTSTRAP, 3)
    total = c.sum(axis=1)
    return np.where(total > 0, c[:, 0] / np.maximum(total, 1.0), 1.0)


def evaluate(z: np.ndarray, test: Images, picks: np.ndarray) -> dict[str, Any]:
    """The metrics of the module docstring for test logits ``z`` (N, SIZE, SIZE), and the
    per-image pixel counts (``"counts"``)."""
    pred = z > 0.0
    counts = pixel_counts(pred, test.mask)
    tp, fp, fn = counts.sum(axis=0)
    boot = bootstrap_iou(counts, picks)
    obj = object_stats(pred, test.objects)
    found = obj[:, 1] >= 0.5
    small = obj[:, 0] <= SMALL
    return {
        "iou": iou(counts),
        "iou_low": float(np.quantile(boot, 0.025)),
        "iou_high": float(np.quantile(boot, 0.975)),
        "boundary_f1": boundary_f1(boundary_counts(pred, test.mask)),
        "precision": float(tp / (tp + fp)) if tp + fp > 0 else 0.0,
        "recall": float(tp / (tp + fn)),
        "area_ratio": float((tp + fp) / (tp + fn)),
        "found": float(np.mean(found)),
        "found_small": float(np.mean(found[small])),
        "n_objects": float(found.size),
        "n_small": float(np.sum(small)),
        "counts": counts,
    }


# ---- training --------------------------------------------------------------------------------
@dataclass
class Run:
    """One loss's training: its per-step loss, its test IoU at the checkpoints, its final test
    logits and their metrics."""

    curve: list[float]
    checkpoint_iou: list[float]
    z: np.ndarray
    metrics: dict[str, Any]
    test_loss: float


def _train(
    torch: Any,
    spec: LossSpec,
    train: Images,
    test: Images,
    order: np.ndarray,
    prior: float,
    seed: int,
    picks: np.ndarray,
    bk: Backend,
) -> Run:
    """Train a fresh model with ``spec`` on the batches ``order`` and evaluate it on ``test``."""
    torch.manual_seed(seed)  # every loss starts from the same weights
    model = make_model(torch, prior)
    optimiser = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    # cosine decay to 0: the last steps settle instead of jumping by a full learning rate
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda i: 0.5 * (1.0 + float(np.cos(np.pi * i / STEPS)))
    )
    x = torch.from_numpy(train.x[:, None].astype(np.float32))
    y = torch.from_numpy(train.mask.astype(np.float32))
    curve: list[float] = []
    at: list[float] = []

    def test_logits() -> np.ndarray:
        with torch.no_grad():
            return logits(torch, model, test.x).numpy().astype(np.float64)

    def test_iou() -> float:
        return iou(pixel_counts(test_logits() > 0.0, test.mask))

    at.append(test_iou())
    for step in range(1, STEPS + 1):
        idx = torch.from_numpy(order[(step - 1) * BATCH : step * BATCH])
        optimiser.zero_grad()
        loss = spec(model(x[idx])[:, 0], y[idx])
        loss.backward()
        optimiser.step()
        schedule.step()
        curve.append(float(loss.detach()))
        if step in CHECKPOINTS:
            at.append(test_iou())
    z = test_logits()
    metrics = evaluate(z, test, picks)
    test_loss = bk.scalar(spec(bk.asarray(z), bk.asarray(test.mask.astype(np.float64))))
    return Run(curve, at, z, metrics, test_loss)


# ---- the study ---------------------------------------------------------------------------------
def _run(out: Path, *, seed: int, bk: Backend, progress: bool) -> StudyReport:
    train, test = make_data(seed)
    prior = float(train.mask.mean())
    epochs = -(-STEPS * BATCH // N_TRAIN)
    rng = np.random.default_rng([seed, 1])
    order = np.concatenate([rng.permutation(N_TRAIN) for _ in range(epochs)])
    picks = bootstrap_picks(seed, N_TEST)
    runs: dict[str, Run] = {}
    with torch_scope() as torch:
        for spec in progress_bar(SPECS, desc=NAME, progress=progress):
            runs[spec.key] = _train(torch, spec, train, test, order, prior, seed, picks, bk)

    bce_boot = bootstrap_iou(runs["bce"].metrics["counts"], picks)
    diffs: dict[str, tuple[float, float, float]] = {}
    for spec in SPECS:
        m = runs[spec.key].metrics
        d = bootstrap_iou(m["counts"], picks) - bce_boot
        diffs[spec.key] = (
            m["iou"] - runs["bce"].metrics["iou"],
            float(np.quantile(d, 0.025)),
            float(np.quantile(d, 0.975)),
        )
    headers = [
        "loss",
        "test IoU",
        "IoU 95% bootstrap interval",
        "IoU minus BCE's (95% paired bootstrap interval)",
        f"boundary F1 ({TOLERANCE} px)",
        "precision",
        "recall",
        "predicted / true area",
        "shapes found",
        f"small shapes found (<= {SMALL} px)",
        "test loss (its own)",
    ]
    rows: list[list[str | float]] = []
    for spec in SPECS:
        m = runs[spec.key].metrics
        d, d_low, d_high = diffs[spec.key]
        rows.append(
            [
                spec.label,
                sig(m["iou"], 4),
                f"{m['iou_low']:.3f} to {m['iou_high']:.3f}",
                "-" if spec.key == "bce" else f"{d:+.3f} ({d_low:+.3f} to {d_high:+.3f})",
                sig(m["boundary_f1"], 4),
                sig(m["precision"], 4),
                sig(m["recall"], 4),
                sig(m["area_ratio"], 4),
                sig(m["found"], 4),
                sig(m["found_small"], 4),
                sig(runs[spec.key].test_loss, 4),
            ]
        )
    cp_rows = [
        [float(step)] + [sig(runs[s.key].checkpoint_iou[i], 4) for s in SPECS]
        for i, step in enumerate(CHECKPOINTS)
    ]
    figures = [
        _figure_examples(out, test, runs),
        _figure_training(out, runs),
        _figure_precision_recall(out, runs),
    ]
    summary, notes = _findings(runs, diffs, train, test, seed)
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
                f"Test IoU through training ({N_TEST} test images, threshold 0.5)",
                ["step"] + [s.label for s in SPECS],
                cp_rows,
            ),
        ],
    )


def _names(keys: list[str], label: dict[str, str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    names = [label[k] for k in keys]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _findings(
    runs: dict[str, Run],
    diffs: dict[str, tuple[float, float, float]],
    train: Images,
    test: Images,
    seed: int,
) -> tuple[str, list[str]]:
    m = {k: r.metrics for k, r in runs.items()}
    label = {s.key: s.label for s in SPECS}
    ranked = sorted(m, key=lambda k: -m[k]["iou"])
    best, worst = ranked[0], ranked[-1]
    bce, dice, tv, focal = m["bce"], m["dice"], m["tversky"], m["focal"]
    others = [s.key for s in SPECS if s.key != "bce"]
    better = [k for k in others if diffs[k][1] > 0]
    worse = [k for k in others if diffs[k][2] < 0]
    tied = [k for k in others if k not in better and k not in worse]
    verdict = []
    if better:
        verdict.append(f"{_names(better, label)} {'is' if len(better) == 1 else 'are'} better")
    if worse:
        verdict.append(f"{_names(worse, label)} {'is' if len(worse) == 1 else 'are'} worse")
    if tied:
        verdict.append(
            f"{_names(tied, label)} {'is' if len(tied) == 1 else 'are'} within the noise"
        )
    segments = "under-segments" if bce["area_ratio"] < 1 else "over-segments"
    if tv["recall"] > dice["recall"] and tv["precision"] < dice["precision"]:
        tversky = "trades precision for recall"
    else:
        tversky = "does not trade precision for recall here"
    summary = (
        f"A four-layer conv net trained for {STEPS} steps on 1-5% foreground reaches a test "
        f"IoU from {m[worst]['iou']:.3f} ({label[worst]}) to {m[best]['iou']:.3f} "
        f"({label[best]}) with the seven losses. Against BCE ({bce['iou']:.3f}), by a paired "
        f"bootstrap over the test images, {'; '.join(verdict)}. At the 0.5 threshold BCE "
        f"{segments} the small shapes (precision {bce['precision']:.3f}, recall "
        f"{bce['recall']:.3f}, predicted area {bce['area_ratio']:.2f} of the true one), focal "
        f"loss with alpha = 0.25 {'more' if focal['area_ratio'] < bce['area_ratio'] else 'less'}"
        f" so (recall {focal['recall']:.3f}, area {focal['area_ratio']:.2f}). Tversky with "
        f"beta = 0.7 > alpha = 0.3 {tversky}: recall {tv['recall']:.3f} against Dice's "
        f"{dice['recall']:.3f}, precision {tv['precision']:.3f} against "
        f"{dice['precision']:.3f}, predicted area {tv['area_ratio']:.2f}."
    )
    by_recall = sorted(m, key=lambda k: -m[k]["recall"])
    by_boundary = sorted(m, key=lambda k: -m[k]["boundary_f1"])
    by_small = sorted(m, key=lambda k: -m[k]["found_small"])
    early = CHECKPOINTS.index(50)
    by_start = sorted(m, key=lambda k: runs[k].checkpoint_iou[early])
    widths = [m[k]["iou_high"] - m[k]["iou_low"] for k in m]
    notes = [
        "Recall of the foreground pixels, highest first: "
        + ", ".join(f"{label[k]} {m[k]['recall']:.3f}" for k in by_recall)
        + "; predicted area over true area in the same order: "
        + ", ".join(f"{m[k]['area_ratio']:.2f}" for k in by_recall)
        + (
            ". BCE predicts less area than Dice: its sum of a term per pixel lets the few "
            "foreground pixels weigh little against the background, so a boundary pixel in "
            "doubt goes to the background, where Dice scores each image's foreground as a whole."
            if bce["area_ratio"] < dice["area_ratio"]
            else ". BCE does not predict less area than Dice here."
        )
        + " Tversky's beta > alpha makes a missed pixel cost more than a spurious one.",
        f"Focal loss with alpha = 0.25 weights the foreground pixels by 0.25 against 0.75 for "
        f"the background: at the 0.5 threshold it has precision {focal['precision']:.3f} and "
        f"recall {focal['recall']:.3f} (BCE: {bce['precision']:.3f} and {bce['recall']:.3f}). "
        "Its alpha, not its gamma, moves the operating point (see the imbalance study).",
        f"Boundary F1 at {TOLERANCE} pixel, highest first: "
        + ", ".join(f"{label[k]} {m[k]['boundary_f1']:.3f}" for k in by_boundary)
        + f". Small shapes (at most {SMALL} pixels: {int(bce['n_small'])} of the "
        f"{int(bce['n_objects'])} test shapes) with at least half of their pixels found, "
        "highest first: "
        + ", ".join(f"{label[k]} {m[k]['found_small']:.3f}" for k in by_small)
        + ".",
        "Early training: the test IoU at step 50 is "
        + ", ".join(f"{runs[k].checkpoint_iou[early]:.3f} for {label[k]}" for k in by_start)
        + f" (slowest first), and at step {STEPS} "
        + ", ".join(f"{runs[k].checkpoint_iou[-1]:.3f}" for k in by_start)
        + (
            ". The Lovász hinge starts slowest: Berman et al. (2018) suggest it to fine-tune "
            "a model trained with cross entropy rather than to train from scratch."
            if by_start[0] == "lovasz"
            else "."
        ),
        f"The IoU intervals are 95% bootstrap intervals over the {N_TEST} test images "
        f"({N_BOOTSTRAP} resamples, median width {np.median(widths):.3f}); the differences to "
        "BCE use the same resamples for both losses (paired), which is narrower, since the "
        "images that are hard for one loss are hard for the others.",
        f"The training-curve figure divides each loss's {SMOOTH_WINDOW}-step moving average by "
        "its first value: the losses have different scales, and only their own progress is "
        "comparable. The last column of the table is each model's own loss on the test "
        "images, computed on the chosen backend.",
        f"Data: {SIZE}x{SIZE} images, {SHAPES[0]}-{SHAPES[1]} shapes each (discs, ellipses, "
        f"rectangles; contrast {CONTRAST[0]:g}-{CONTRAST[1]:g}), foreground fraction "
        f"{FOREGROUND[0]:.0%}-{FOREGROUND[1]:.0%} per image ({train.mask.mean():.2%} of the "
        f"training pixels, {test.mask.mean():.2%} of the test pixels), "
        f"{CLUTTER[0]}-{CLUTTER[1]} background blobs, blur sigma {BLUR:g}, noise sd "
        f"{NOISE:g}; {N_TRAIN} training and {N_TEST} test images, seed {seed}. Model: 3x3 "
        f"convolutions with dilations {DILATIONS}, {CHANNELS} channels, ReLU, a 1x1 head, "
        f"float32, the last bias at logit({train.mask.mean():.4f}); Adam, learning rate "
        f"{LEARNING_RATE:g} with a cosine decay to 0, {STEPS} steps of {BATCH} images, the "
        "same initial weights and batches for every loss. Losses at the library's defaults "
        "(binary mode, per image, smooth 1) except where the label says otherwise. Metrics at "
        "probability 0.5, counts summed over the test set.",
    ]
    return summary, notes


# ---- figures -----------------------------------------------------------------------------------
def _overlay(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """RGB: true positives white, false positives red, false negatives blue, the rest dark."""
    rgb = np.full((*pred.shape, 3), 0.1)
    rgb[pred & truth] = (1.0, 1.0, 1.0)
    rgb[pred & ~truth] = (0.9, 0.2, 0.2)
    rgb[~pred & truth] = (0.25, 0.5, 1.0)
    return rgb


def _figure_examples(out: Path, test: Images, runs: dict[str, Run]) -> Path:
    panels = [("image", ""), ("truth", "")] + [(s.short, s.key) for s in SPECS]
    cols = len(panels)
    with style():
        fig, axes = new_figure(N_EXAMPLES, cols, size=(1.3 * cols, 1.35 * N_EXAMPLES + 0.5))
        for i in range(N_EXAMPLES):
            for j, (title, key) in enumerate(panels):
                ax = axes[i, j]
                if key:
                    ax.imshow(_overlay(runs[key].z[i] > 0.0, test.mask[i]), interpolation="nearest")
                elif title == "image":
                    ax.imshow(test.x[i], cmap="gray", interpolation="nearest")
                else:
                    ax.imshow(test.mask[i], cmap="gray", interpolation="nearest", vmin=0, vmax=1)
                ax.set_xticks([])
                ax.set_yticks([])
                ax.grid(False)
                if i == 0:
                    ax.set_title(title, fontsize=9)
        fig.suptitle(
            f"The first {N_EXAMPLES} test images and each loss's mask at p > 0.5 "
            "(white: true positive, red: false positive, blue: false negative)",
            fontsize=10,
        )
        return save(fig, out / f"{NAME}-examples.png")


def _moving_average(v: list[float], w: int) -> np.ndarray:
    c = np.cumsum(np.r_[0.0, v])
    return (c[w:] - c[:-w]) / w


def _figure_training(out: Path, runs: dict[str, Run]) -> Path:
    with style():
        fig, axes = new_figure(1, 2, size=(11.0, 4.2))
        ax = axes[0, 0]
        for s in SPECS:
            curve = runs[s.key].curve
            smooth = _moving_average(curve, SMOOTH_WINDOW)
            steps = np.arange(SMOOTH_WINDOW, len(curve) + 1)
            ax.semilogy(steps, smooth / smooth[0], color=COLORS[s.key], lw=1.4, label=s.short)
        ax.set_xlabel("step")
        ax.set_ylabel(f"training loss / its first value ({SMOOTH_WINDOW}-step mean)")
        ax.set_title("Training curves (each loss on its own scale)")
        ax.legend(loc="upper right", fontsize=8, ncols=2)
        ax = axes[0, 1]
        for s in SPECS:
            ax.plot(
                CHECKPOINTS,
                runs[s.key].checkpoint_iou,
                "o-",
                color=COLORS[s.key],
                lw=1.4,
                ms=4,
                label=s.short,
            )
        ax.set_xlabel("step")
        ax.set_ylabel("test IoU (p > 0.5)")
        ax.set_ylim(-0.02, 1.0)
        ax.set_title("Test IoU through training")
        ax.legend(loc="lower right", fontsize=8, ncols=2)
        return save(fig, out / f"{NAME}-training.png")


def _figure_precision_recall(out: Path, runs: dict[str, Run]) -> Path:
    markers = ("o", "s", "D", "^", "v", "P", "X")
    with style():
        fig, axes = new_figure(1, 2, size=(11.0, 4.6))
        ax = axes[0, 0]
        grid = np.linspace(0.01, 1.0, 200)
        P, R = np.meshgrid(grid, grid)
        jac = P * R / (P + R - P * R)  # IoU from precision and recall
        cs = ax.contour(R, P, jac, levels=[0.4, 0.5, 0.6, 0.7, 0.8], colors="0.7", linewidths=0.8)
        ax.clabel(cs, fmt="IoU %.1f", fontsize=7)
        for s, marker in zip(SPECS, markers, strict=True):
            m = runs[s.key].metrics
            ax.plot(
                m["recall"],
                m["precision"],
                marker,
                ms=8,
                mec="black",
                color=COLORS[s.key],
                label=s.short,
            )
        ax.set_xlim(0.4, 1.0)
        ax.set_ylim(0.4, 1.0)
        ax.set_xlabel("recall (foreground pixels)")
        ax.set_ylabel("precision")
        ax.set_title("Operating points at p = 0.5 (grey: equal IoU)")
        ax.legend(loc="lower left", fontsize=8, ncols=2)
        ax = axes[0, 1]
        y = np.arange(len(SPECS))[::-1]
        for yi, s in zip(y, SPECS, strict=True):
            m = runs[s.key].metrics
            ax.plot([m["iou_low"], m["iou_high"]], [yi, yi], color=COLORS[s.key], lw=2)
            ax.plot(m["iou"], yi, "o", color=COLORS[s.key], mec="black", ms=7)
            ax.plot(m["boundary_f1"], yi, "D", color="white", mec=COLORS[s.key], mew=1.5, ms=6)
        ax.set_yticks(y, [s.short for s in SPECS])
        ax.set_xlabel("test IoU (dot: 95% bootstrap interval)\nand boundary F1 at 1 px (diamond)")
        ax.set_title("IoU and boundary quality")
        return save(fig, out / f"{NAME}-quality.png")


STUDY = Study(
    name=NAME,
    title=TITLE,
    description="A tiny conv net segments small, rare shapes in cluttered synthetic images "
    "with BCE, focal, Dice, Tversky, focal Tversky, Lovász hinge and Dice + CE: test IoU, "
    "boundary F1, precision and recall, and example masks.",
    _run=_run,
)
