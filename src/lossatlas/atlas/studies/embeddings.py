"""Study ``embeddings``: what a 2-D embedding of the digits looks like under metric-learning losses.

Data: scikit-learn's bundled digits (1797 8x8 images, 10 classes, no download), split stratified
and seeded (``round(TEST_FRACTION * n_c)`` of each class c to the test set, drawn as the
``multiclass`` study draws them); the 64 pixels are standardised with the training
statistics (constant pixels only centred).

Model: a small MLP, ``Linear(64, HIDDEN) - ReLU - Linear(HIDDEN, HIDDEN) - ReLU -
Linear(HIDDEN, 2)``, float32, maps an image to a point of the plane. One model is trained per
loss, every one from the same initial weights and on the same batches: ``STEPS`` steps of Adam
(learning rate ``LEARNING_RATE``, cosine decay to 0) on class-balanced batches of
``PER_CLASS`` images of each digit (the P x K batches of Hermans et al. 2017, which the mining
and pair losses need). The model runs on PyTorch whatever the backend, and every loss is the
library's own, on torch tensors (the learnable class weights and centres are
``lossatlas.torch`` modules, trained by the same optimiser):

- softmax cross entropy (``lossatlas.cross_entropy``) of a linear classifier ``Linear(2, 10)``
  on the embedding;
- the same plus the center loss, ``cross_entropy + CENTER_WEIGHT * CenterLoss`` (Wen et al.
  2016; the centres are an ``nn.Parameter`` updated by Adam with the rest, not by the paper's
  separate moving-average rule);
- ArcFace and CosFace (Deng et al. 2019; Wang et al. 2018) on the cosine between the
  L2-normalised embedding and L2-normalised class weights (``lossatlas.torch.ArcFaceLoss``,
  ``CosFaceLoss``), with the scale and margins of ``ARCFACE`` and ``COSFACE``: scale 16 (the
  papers' 64 hardly trains a 2-D embedding), ArcFace's margin the paper's 0.5 radian (28.6
  degrees, less than the 36 degrees between ten directions spread evenly on a circle),
  CosFace's 0.15 instead of the paper's 0.35, which is more than the gap 1 - cos(36 degrees)
  = 0.19 between the cosines of neighbouring directions;
- the contrastive loss of Hadsell et al. 2006 (``lossatlas.contrastive_loss``) on pairs drawn
  inside each batch: every image with one other image of its digit (similar) and one of
  another digit (dissimilar), margin ``CONTRASTIVE_MARGIN``;
- the triplet margin loss (``lossatlas.triplet_margin_loss``, PyTorch's semantics) on random
  triplets: every image an anchor, its same-digit partner the positive and its other-digit
  partner the negative (the contrastive loss's partners), margin ``TRIPLET_MARGIN``;
- the batch-hard triplet loss of Hermans et al. 2017 (``lossatlas.batch_hard_triplet_loss``):
  for every image of the batch, its farthest same-digit image and nearest other-digit image,
  margin ``TRIPLET_MARGIN``, mined from the first step (no warm-up);
- supervised contrastive (Khosla et al. 2020, ``lossatlas.supervised_contrastive``) on the
  L2-normalised embedding, temperature ``SUPCON_TEMPERATURE``.

Scores, on the test images:

- nearest-centroid accuracy: each test image goes to the digit whose centroid (the mean of the
  training embeddings of that digit) is closest. The losses that compare embeddings by angle
  (ArcFace, CosFace and supervised contrastive, which see only the direction of the embedding)
  are scored by cosine: embeddings and centroids (the mean of the normalised training
  embeddings) are normalised first, and the nearest is the one of largest cosine. The others
  use the Euclidean distance. Both geometries are reported for every loss in a second table.
  Its 95% interval is a bootstrap over the test images (``N_BOOTSTRAP`` resamples).
- the intra/inter-class distance ratio: the mean distance of a test embedding to its digit's
  test centroid, divided by the mean distance between two digits' test centroids (over the 45
  pairs), in the same geometry (on the normalised embeddings for the angular losses). It does
  not depend on the scale of the embedding; small is compact, well-separated clusters.
- for the losses with a classifier (cross entropy, center loss, ArcFace, CosFace), the test
  accuracy of that classifier's argmax.

The backend does not change the study: the model and its losses run on PyTorch (float32) for
every choice, as the ``sinc`` study boosts on NumPy for every choice.

The figure shows the test embeddings, one panel per loss, coloured by digit: the picture of
Wen et al. (2016, figure 2) and Deng et al. (2019, figure 5). The angular losses are drawn
normalised, on the unit circle, which is all that they constrain, with a radial jitter of
``JITTER`` that keeps overlapping points visible, and the directions of their class weights.
A second figure shows the scores and the accuracy through training.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import lossatlas

from ._base import Study, StudyReport, sig
from ._figures import new_figure, palette, save, style
from ._train import Backend, progress_bar, torch_scope
from .multiclass import stratified_split

NAME = "embeddings"
TITLE = (
    "Metric learning on the digits: the 2-D embeddings of softmax, center, margin and pair losses"
)

N_CLASSES = 10
TEST_FRACTION = 0.3
DIM = 2  # the embedding
HIDDEN = 64
STEPS = 300
PER_CLASS = 16  # images of each digit in a batch
LEARNING_RATE = 1e-2
CHECKPOINTS = (0, 25, 50, 100, 200, 300)
N_BOOTSTRAP = 1000
LEARNED = 0.5  # a model with a lower nearest-centroid accuracy did not learn
JITTER = 0.06  # radial jitter of the normalised embeddings in the figure

CENTER_WEIGHT = 0.1  # lambda of cross_entropy + lambda * center_loss
# scale 16, not the papers' 64: a 2-D embedding with s = 64 hardly trains
ARCFACE = {"scale": 16.0, "margin": 0.5}  # additive angular margin (radians), the paper's
COSFACE = {"scale": 16.0, "margin": 0.15}  # additive cosine margin (the paper: 0.35)
CONTRASTIVE_MARGIN = 1.0
TRIPLET_MARGIN = 1.0
SUPCON_TEMPERATURE = 0.1


# ---- data ------------------------------------------------------------------------------------
@dataclass
class Digits:
    """The split digits: standardised pixels (float32) and labels (int64)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def make_data(seed: int) -> Digits:
    """The digits, split (stratified, seeded) and standardised with the training statistics."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x, y = np.asarray(digits.data, dtype=np.float64), np.asarray(digits.target, dtype=np.int64)
    train, test = stratified_split(y, np.random.default_rng([seed, 0]), TEST_FRACTION)
    mean = x[train].mean(axis=0)
    sd = x[train].std(axis=0)
    sd = np.where(sd > 0.0, sd, 1.0)
    z = ((x - mean) / sd).astype(np.float32)
    return Digits(z[train], y[train], z[test], y[test])


def make_batches(y: np.ndarray, seed: int) -> np.ndarray:
    """The training batches, (STEPS, N_CLASSES * PER_CLASS) indices into the training set: each
    batch holds ``PER_CLASS`` images of every digit, in digit order; each digit's images are
    taken from a shuffled cycle through them (reshuffled when used up), so every image is used
    equally often to within one. A reshuffle is redrawn until its first ``PER_CLASS - 1``
    images avoid the last ``PER_CLASS - 1`` of the one before, so that a batch across the
    seam holds no image twice."""
    rng = np.random.default_rng([seed, 1])
    k = PER_CLASS - 1
    columns = []
    for c in range(N_CLASSES):
        members = np.flatnonzero(y == c)
        laps = [rng.permutation(members)]
        while sum(lap.size for lap in laps) < STEPS * PER_CLASS:
            lap = rng.permutation(members)
            while np.intersect1d(lap[:k], laps[-1][-k:]).size:
                lap = rng.permutation(members)
            laps.append(lap)
        cycle = np.concatenate(laps)
        columns.append(cycle[: STEPS * PER_CLASS].reshape(STEPS, PER_CLASS))
    return np.concatenate(columns, axis=1)


def make_pairs(seed: int) -> np.ndarray:
    """The contrastive loss's partners inside each batch, (STEPS, 2, B) positions in the batch:
    ``[:, 0]`` another image of the same digit, ``[:, 1]`` an image of another digit (the
    batch layout of :func:`make_batches`)."""
    rng = np.random.default_rng([seed, 3])
    b = N_CLASSES * PER_CLASS
    pos = np.arange(b)
    digit, slot = pos // PER_CLASS, pos % PER_CLASS
    # a same-digit partner: another slot of the same digit
    other_slot = (slot + rng.integers(1, PER_CLASS, size=(STEPS, b))) % PER_CLASS
    same = digit * PER_CLASS + other_slot
    # an other-digit partner: another digit, any slot
    other_digit = (digit + rng.integers(1, N_CLASSES, size=(STEPS, b))) % N_CLASSES
    different = other_digit * PER_CLASS + rng.integers(0, PER_CLASS, size=(STEPS, b))
    return np.stack([same, different], axis=1)


# ---- the losses ------------------------------------------------------------------------------
@dataclass(frozen=True)
class LossSpec:
    """A loss of the study.

    Attributes:
        key: short identifier (tests, colours).
        label: the table's name for it, with its settings.
        short: the figure's name for it.
        geometry: "euclidean" or "cosine": how its embeddings are compared (the scores).
        uses: the library's functions and modules it calls.
        make_head: builds its learnable part beside the MLP (classifier weights, centres), or
            returns None.
        loss: ``loss(torch, head, embeddings, labels, pairs)``, the training loss of a batch.
        logits: ``logits(torch, head, embeddings)``, its classifier's scores, or None.
        directions: ``directions(head)``, the class weights of an angular head, or None.
    """

    key: str
    label: str
    short: str
    geometry: str
    uses: tuple[str, ...]
    make_head: Callable[[Any], Any]
    loss: Callable[[Any, Any, Any, Any, Any], Any]
    logits: Callable[[Any, Any, Any], Any] | None = None
    directions: Callable[[Any], Any] | None = None


def _no_head(torch: Any) -> None:
    return None


def _linear_head(torch: Any) -> Any:
    return torch.nn.Linear(DIM, N_CLASSES)


def _linear_logits(torch: Any, head: Any, e: Any) -> Any:
    return head(e)


def _cross_entropy(torch: Any, head: Any, e: Any, y: Any, pairs: Any) -> Any:
    return lossatlas.cross_entropy(head(e), y)


def _center_head(torch: Any) -> Any:
    from ...torch import CenterLoss

    return torch.nn.ModuleDict(
        {"classifier": torch.nn.Linear(DIM, N_CLASSES), "center": CenterLoss(N_CLASSES, DIM)}
    )


def _center(torch: Any, head: Any, e: Any, y: Any, pairs: Any) -> Any:
    return lossatlas.cross_entropy(head["classifier"](e), y) + CENTER_WEIGHT * head["center"](e, y)


def _center_logits(torch: Any, head: Any, e: Any) -> Any:
    return head["classifier"](e)


def _arcface_head(torch: Any) -> Any:
    from ...torch import ArcFaceLoss

    return ArcFaceLoss(N_CLASSES, DIM, **ARCFACE)


def _cosface_head(torch: Any) -> Any:
    from ...torch import CosFaceLoss

    return CosFaceLoss(N_CLASSES, DIM, **COSFACE)


def _angular(torch: Any, head: Any, e: Any, y: Any, pairs: Any) -> Any:
    return head(e, y)


def _cosines(torch: Any, head: Any, e: Any) -> Any:
    return head.cosine(e)


def _weights(head: Any) -> Any:
    return head.weight


def _contrastive(torch: Any, head: Any, e: Any, y: Any, pairs: Any) -> Any:
    # every image twice: with its same-digit partner (target 1) and its other-digit one (0)
    x2 = torch.cat([e[pairs[0]], e[pairs[1]]])
    n = e.shape[0]
    target = torch.cat([torch.ones(n, dtype=e.dtype), torch.zeros(n, dtype=e.dtype)])
    return lossatlas.contrastive_loss(torch.cat([e, e]), x2, target, margin=CONTRASTIVE_MARGIN)


def _triplet(torch: Any, head: Any, e: Any, y: Any, pairs: Any) -> Any:
    # anchor: every image; positive: its same-digit partner; negative: its other-digit one
    return lossatlas.triplet_margin_loss(e, e[pairs[0]], e[pairs[1]], margin=TRIPLET_MARGIN)


def _batch_hard(torch: Any, head: Any, e: Any, y: Any, pairs: Any) -> Any:
    return lossatlas.batch_hard_triplet_loss(e, y, margin=TRIPLET_MARGIN)


def _supcon(torch: Any, head: Any, e: Any, y: Any, pairs: Any) -> Any:
    return lossatlas.supervised_contrastive(e, y, temperature=SUPCON_TEMPERATURE)


SPECS: tuple[LossSpec, ...] = (
    LossSpec(
        "softmax",
        "softmax cross entropy (linear classifier)",
        "softmax CE",
        "euclidean",
        ("cross_entropy",),
        _linear_head,
        _cross_entropy,
        _linear_logits,
    ),
    LossSpec(
        "center",
        f"softmax + center loss (lambda={CENTER_WEIGHT:g})",
        "softmax + center",
        "euclidean",
        ("cross_entropy", "torch.CenterLoss (center_loss)"),
        _center_head,
        _center,
        _center_logits,
    ),
    LossSpec(
        "arcface",
        f"ArcFace (s={ARCFACE['scale']:g}, m={ARCFACE['margin']:g} rad)",
        "ArcFace",
        "cosine",
        ("torch.ArcFaceLoss (angular_margin_softmax)",),
        _arcface_head,
        _angular,
        _cosines,
        _weights,
    ),
    LossSpec(
        "cosface",
        f"CosFace (s={COSFACE['scale']:g}, m={COSFACE['margin']:g})",
        "CosFace",
        "cosine",
        ("torch.CosFaceLoss (angular_margin_softmax)",),
        _cosface_head,
        _angular,
        _cosines,
        _weights,
    ),
    LossSpec(
        "contrastive",
        f"contrastive (pairs, margin={CONTRASTIVE_MARGIN:g})",
        "contrastive",
        "euclidean",
        ("contrastive_loss",),
        _no_head,
        _contrastive,
    ),
    LossSpec(
        "triplet",
        f"triplet (random triplets, margin={TRIPLET_MARGIN:g})",
        "triplet",
        "euclidean",
        ("triplet_margin_loss",),
        _no_head,
        _triplet,
    ),
    LossSpec(
        "batch_hard",
        f"batch-hard triplet (margin={TRIPLET_MARGIN:g})",
        "batch-hard triplet",
        "euclidean",
        ("batch_hard_triplet_loss",),
        _no_head,
        _batch_hard,
    ),
    LossSpec(
        "supcon",
        f"supervised contrastive (T={SUPCON_TEMPERATURE:g})",
        "SupCon",
        "cosine",
        ("supervised_contrastive",),
        _no_head,
        _supcon,
    ),
)


# ---- model -----------------------------------------------------------------------------------
def make_model(torch: Any) -> Any:
    """Linear(64, HIDDEN) - ReLU - Linear(HIDDEN, HIDDEN) - ReLU - Linear(HIDDEN, 2), float32."""
    nn = torch.nn
    return nn.Sequential(
        nn.Linear(64, HIDDEN),
        nn.ReLU(),
        nn.Linear(HIDDEN, HIDDEN),
        nn.ReLU(),
        nn.Linear(HIDDEN, DIM),
    )


# ---- scores ----------------------------------------------------------------------------------
def _unit(e: np.ndarray) -> np.ndarray:
    """Rows divided by their norm (a zero row stays zero)."""
    n = np.linalg.norm(e, axis=1, keepdims=True)
    return e / np.where(n > 0.0, n, 1.0)


def centroids(e: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The mean embedding of each digit, (N_CLASSES, DIM)."""
    return np.stack([e[y == c].mean(axis=0) for c in range(N_CLASSES)])


def nearest_centroid(
    e_train: np.ndarray, y_train: np.ndarray, e_test: np.ndarray, geometry: str
) -> np.ndarray:
    """The digit of the nearest training centroid for each test embedding: Euclidean, or for
    ``"cosine"`` the largest cosine to the mean of the normalised training embeddings."""
    if geometry == "cosine":
        c = _unit(centroids(_unit(e_train), y_train))
        return np.argmax(_unit(e_test) @ c.T, axis=1)
    c = centroids(e_train, y_train)
    d = np.sum((e_test[:, None, :] - c[None, :, :]) ** 2, axis=2)
    return np.argmin(d, axis=1)


def distance_ratio(e: np.ndarray, y: np.ndarray, geometry: str) -> float:
    """Mean distance to the own digit's centroid over the mean distance between two digits'
    centroids (the embeddings normalised first for ``"cosine"``)."""
    if geometry == "cosine":
        e = _unit(e)
    c = centroids(e, y)
    intra = float(np.mean(np.linalg.norm(e - c[y], axis=1)))
    a, b = np.triu_indices(N_CLASSES, k=1)
    inter = float(np.mean(np.linalg.norm(c[a] - c[b], axis=1)))
    return intra / inter


def bootstrap_interval(correct: np.ndarray, seed: int) -> tuple[float, float]:
    """The 95% bootstrap interval of the mean of ``correct`` (the same resamples for every
    loss)."""
    picks = np.random.default_rng([seed, 2]).integers(0, correct.size, (N_BOOTSTRAP, correct.size))
    means = correct[picks].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


# ---- training --------------------------------------------------------------------------------
@dataclass
class Run:
    """One loss's model: its training curve, its nearest-centroid test accuracy at the
    checkpoints, its final embeddings and its scores."""

    curve: list[float]
    checkpoint_accuracy: list[float]
    e_train: np.ndarray
    e_test: np.ndarray
    metrics: dict[str, Any]
    directions: np.ndarray | None  # the class weights of an angular head, (N_CLASSES, DIM)


def evaluate(spec: LossSpec, data: Digits, e_train: np.ndarray, e_test: np.ndarray,
             head_accuracy: float | None, seed: int) -> dict[str, Any]:  # fmt: skip
    """The scores of the module docstring, in the loss's own geometry and in both."""
    m: dict[str, Any] = {"head_accuracy": head_accuracy}
    for geometry in ("euclidean", "cosine"):
        pred = nearest_centroid(e_train, data.y_train, e_test, geometry)
        m[f"accuracy_{geometry}"] = float(np.mean(pred == data.y_test))
        m[f"ratio_{geometry}"] = distance_ratio(e_test, data.y_test, geometry)
        if geometry == spec.geometry:
            correct = (pred == data.y_test).astype(np.float64)
            m["accuracy_low"], m["accuracy_high"] = bootstrap_interval(correct, seed)
    m["accuracy"] = m[f"accuracy_{spec.geometry}"]
    m["ratio"] = m[f"ratio_{spec.geometry}"]
    c = centroids(e_test, data.y_test)
    a, b = np.triu_indices(N_CLASSES, k=1)
    m["separation"] = float(np.mean(np.linalg.norm(c[a] - c[b], axis=1)))
    m["spread"] = float(np.sqrt(np.mean(np.sum((e_test - e_test.mean(axis=0)) ** 2, axis=1))))
    u, cu = _unit(e_test), _unit(centroids(_unit(e_test), data.y_test))
    cos = np.clip(np.sum(u * cu[data.y_test], axis=1), -1.0, 1.0)
    m["angle"] = float(np.degrees(np.mean(np.arccos(cos))))
    d = np.linalg.norm(e_test[:, None, :] - e_test[None, :, :], axis=2)
    different = data.y_test[:, None] != data.y_test[None, :]
    m["beyond_margin"] = float(np.mean(d[different] > CONTRASTIVE_MARGIN))
    return m


def _train(torch: Any, spec: LossSpec, data: Digits, batches: np.ndarray, pairs: np.ndarray,
           seed: int) -> Run:  # fmt: skip
    """Train a fresh model (the same initial weights for every loss) with ``spec``."""
    torch.manual_seed(seed)
    model = make_model(torch)
    torch.manual_seed(seed + 1)
    head = spec.make_head(torch)
    params = list(model.parameters()) + ([] if head is None else list(head.parameters()))
    optimiser = torch.optim.Adam(params, lr=LEARNING_RATE)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda i: 0.5 * (1.0 + float(np.cos(np.pi * i / STEPS)))
    )
    x = torch.from_numpy(data.x_train)
    y = torch.from_numpy(data.y_train)
    x_test = torch.from_numpy(data.x_test)

    def embed(inputs: Any) -> np.ndarray:
        with torch.no_grad():
            return model(inputs).numpy().astype(np.float64)

    def accuracy() -> float:
        pred = nearest_centroid(embed(x), data.y_train, embed(x_test), spec.geometry)
        return float(np.mean(pred == data.y_test))

    curve: list[float] = []
    at = [accuracy()]
    for step in range(1, STEPS + 1):
        idx = torch.from_numpy(batches[step - 1])
        optimiser.zero_grad()
        loss = spec.loss(torch, head, model(x[idx]), y[idx], torch.from_numpy(pairs[step - 1]))
        loss.backward()
        optimiser.step()
        schedule.step()
        curve.append(float(loss.detach()))
        if step in CHECKPOINTS:
            at.append(accuracy())
    e_train, e_test = embed(x), embed(x_test)
    head_accuracy = None
    if spec.logits is not None:
        with torch.no_grad():
            scores = spec.logits(torch, head, torch.from_numpy(e_test.astype(np.float32)))
        head_accuracy = float(np.mean(np.argmax(scores.numpy(), axis=1) == data.y_test))
    metrics = evaluate(spec, data, e_train, e_test, head_accuracy, seed)
    directions = None
    if spec.directions is not None:
        directions = spec.directions(head).detach().numpy().astype(np.float64)
    return Run(curve, at, e_train, e_test, metrics, directions)


# ---- the study ---------------------------------------------------------------------------------
def _run(out: Path, *, seed: int, bk: Backend, progress: bool) -> StudyReport:
    data = make_data(seed)
    batches = make_batches(data.y_train, seed)
    pairs = make_pairs(seed)
    runs: dict[str, Run] = {}
    with torch_scope() as torch, lossatlas.config.override(check_values=False):
        for spec in progress_bar(SPECS, desc=NAME, progress=progress):
            runs[spec.key] = _train(torch, spec, data, batches, pairs, seed)

    headers = [
        "loss",
        "compared by",
        "nearest-centroid test accuracy",
        "95% bootstrap interval",
        "intra/inter-class distance ratio",
        "classifier test accuracy",
        "final training loss (its own)",
    ]
    rows: list[list[str | float]] = []
    for spec in SPECS:
        m = runs[spec.key].metrics
        rows.append(
            [
                spec.label,
                "cosine (normalised)" if spec.geometry == "cosine" else "Euclidean",
                sig(m["accuracy"], 4),
                f"{m['accuracy_low']:.3f} to {m['accuracy_high']:.3f}",
                sig(m["ratio"], 4),
                "-" if m["head_accuracy"] is None else sig(m["head_accuracy"], 4),
                sig(float(np.mean(runs[spec.key].curve[-10:])), 4),
            ]
        )
    both = [
        [
            spec.label,
            sig(runs[spec.key].metrics["accuracy_euclidean"], 4),
            sig(runs[spec.key].metrics["accuracy_cosine"], 4),
            sig(runs[spec.key].metrics["ratio_euclidean"], 4),
            sig(runs[spec.key].metrics["ratio_cosine"], 4),
        ]
        for spec in SPECS
    ]
    cp_rows = [
        [float(step)] + [sig(runs[s.key].checkpoint_accuracy[i], 4) for s in SPECS]
        for i, step in enumerate(CHECKPOINTS)
    ]
    figures = [_figure_embeddings(out, data, runs), _figure_scores(out, runs)]
    summary, notes = _findings(runs, data, seed)
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
                "Both geometries for every loss (nearest-centroid test accuracy and "
                "intra/inter-class distance ratio, Euclidean and on the normalised embeddings)",
                [
                    "loss",
                    "accuracy, Euclidean",
                    "accuracy, cosine",
                    "ratio, Euclidean",
                    "ratio, normalised",
                ],
                both,
            ),
            (
                f"Nearest-centroid test accuracy through training ({data.y_test.size} test images)",
                ["step"] + [s.label for s in SPECS],
                cp_rows,
            ),
        ],
    )


def _names(keys: list[str], label: dict[str, str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    names = [label[k] for k in keys]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _findings(runs: dict[str, Run], data: Digits, seed: int) -> tuple[str, list[str]]:
    m = {k: r.metrics for k, r in runs.items()}
    label = {s.key: s.short for s in SPECS}
    keys = [s.key for s in SPECS]
    learned = [k for k in keys if m[k]["accuracy"] >= LEARNED]
    failed = [k for k in keys if k not in learned]
    by_ratio = sorted(learned, key=lambda k: m[k]["ratio"])
    by_acc = sorted(learned, key=lambda k: -m[k]["accuracy"])
    sm = m["softmax"]
    summary = (
        f"A 64-{HIDDEN}-{HIDDEN}-2 MLP trained for {STEPS} steps maps the digits to the plane "
        f"with {len(SPECS)} losses. Nearest-centroid test accuracy, highest first: "
        + ", ".join(f"{label[k]} {m[k]['accuracy']:.3f}" for k in by_acc)
        + "; the intra/inter-class distance ratio, smallest (most compact and separated "
        "clusters) first: " + ", ".join(f"{label[k]} {m[k]['ratio']:.3f}" for k in by_ratio) + "."
    )
    better = [k for k in learned if k != "softmax" and m[k]["ratio"] < sm["ratio"]]
    if better:
        summary += (
            f" {_capital(_names(better, label))} {'gives' if len(better) == 1 else 'give'} "
            f"more compact clusters than softmax cross entropy ({sm['ratio']:.3f})"
        )
        higher = [k for k in better if m[k]["accuracy_low"] > sm["accuracy_high"]]
        summary += (
            f", and {_names(higher, label)} a higher accuracy, the bootstrap intervals apart."
            if higher
            else "."
        )
    if failed:
        summary += (
            f" {_capital(_names(failed, label))} did not learn to separate the digits "
            f"(accuracy below {LEARNED:g})."
        )
    notes = [
        f"Softmax cross entropy: its linear classifier reaches {sm['head_accuracy']:.3f} on the "
        f"test images and the nearest Euclidean centroid {sm['accuracy_euclidean']:.3f}; on the "
        f"normalised embeddings (by angle) the nearest centroid reaches "
        f"{sm['accuracy_cosine']:.3f} and the distance ratio is {sm['ratio_cosine']:.3f} "
        f"against {sm['ratio_euclidean']:.3f} in the plane"
        + (
            ": its clusters are spokes from the origin, separated by angle more than by position "
            "(the picture of Wen et al. 2016, figure 2)."
            if sm["ratio_cosine"] < sm["ratio_euclidean"]
            else "."
        ),
    ]
    if "center" in m:
        c = m["center"]
        notes.append(
            f"Center loss (lambda = {CENTER_WEIGHT:g}) beside cross entropy: distance ratio "
            f"{c['ratio']:.3f} against {sm['ratio']:.3f} without it, nearest-centroid accuracy "
            f"{c['accuracy']:.3f} against {sm['accuracy']:.3f}, its classifier "
            f"{c['head_accuracy']:.3f} against {sm['head_accuracy']:.3f}. The mean distance "
            f"between two digits' centroids is {c['separation']:.3g} against "
            f"{sm['separation']:.3g}"
            + (
                ": the centre term also keeps the features small, and the ratio, which does not "
                "depend on the scale, is what compares them."
                if c["separation"] < sm["separation"]
                else "."
            )
        )
    angular = [k for k in ("arcface", "cosface") if k in m]
    if angular:
        notes.append(
            "Angular margins, on the normalised embeddings: the mean angle between a test "
            "embedding and its digit's centroid direction is "
            + ", ".join(f"{m[k]['angle']:.1f} degrees for {label[k]}" for k in angular)
            + f" against {sm['angle']:.1f} for softmax cross entropy (ratio on the circle "
            + ", ".join(f"{m[k]['ratio_cosine']:.3f}" for k in angular)
            + f" against {sm['ratio_cosine']:.3f}); their classifiers (the largest cosine to "
            "the class weights) reach "
            + ", ".join(f"{m[k]['head_accuracy']:.3f}" for k in angular)
            + f". Ten directions spread evenly on a circle are 36 degrees apart: ArcFace's "
            f"margin of {ARCFACE['margin']:g} radian ({np.degrees(ARCFACE['margin']):.1f} "
            f"degrees, the paper's) fits between them; CosFace's margin is in cosine units, "
            f"and the paper's 0.35 is more than the gap {1 - np.cos(np.radians(36)):.3f} "
            f"between the cosines of neighbouring directions, so it is {COSFACE['margin']:g} "
            f"here (scale {ARCFACE['scale']:g} for both, not the papers' 64)."
        )
    cosine = [s.key for s in SPECS if s.geometry == "cosine"]
    if cosine:
        wins = [k for k in cosine if m[k]["accuracy_cosine"] >= m[k]["accuracy_euclidean"]]
        notes.append(
            f"Why cosine for {_names(cosine, label)}: these losses see only the direction of "
            "an embedding, and leave its norm free. Their nearest-centroid accuracy by cosine "
            "against by Euclidean distance: "
            + ", ".join(
                f"{label[k]} {m[k]['accuracy_cosine']:.3f} against {m[k]['accuracy_euclidean']:.3f}"
                for k in cosine
            )
            + (
                " (the cosine is at least as good for each)."
                if len(wins) == len(cosine)
                else f" (the cosine is at least as good for {len(wins)} of {len(cosine)})."
            )
        )
    pair = [k for k in ("contrastive", "triplet") if k in learned]
    if pair:
        text = (
            "The pair and triplet losses have a margin in the units of the embedding: the mean "
            "distance between two digits' centroids is "
            + ", ".join(f"{m[k]['separation']:.3g} for {label[k]}" for k in pair)
            + f" (margins {CONTRASTIVE_MARGIN:g} and {TRIPLET_MARGIN:g}), and the fraction of "
            "test pairs of different digits farther apart than the margin is "
            + ", ".join(f"{m[k]['beyond_margin']:.3f}" for k in pair)
            + ". The contrastive loss's margin is absolute: a dissimilar pair beyond it costs "
            "nothing, so nothing pushes it farther. The triplet loss's is relative, "
            "d(a, n) >= d(a, p) + margin"
        )
        if len(pair) == 2 and m["triplet"]["separation"] > m["contrastive"]["separation"]:
            text += ", and its embedding spreads wider."
        else:
            text += "."
        notes.append(text)
    if "batch_hard" in m:
        bh = m["batch_hard"]
        if "batch_hard" in failed:
            notes.append(
                f"The batch-hard triplet loss collapses: nearest-centroid accuracy "
                f"{bh['accuracy']:.3f}, the embeddings within {bh['spread']:.2g} (RMS) of "
                f"their mean, and its training loss ends at {runs['batch_hard'].curve[-1]:.3f}, "
                f"near the margin of {TRIPLET_MARGIN:g}, the loss when an image's hardest "
                "positive is as far as its hardest negative. Mining "
                "the hardest positive and negative of each image from the first step pulls "
                "every embedding together: Schroff et al. (2015, FaceNet) report that the "
                "hardest negatives early in training can give a collapsed model, f(x) = 0. "
                "The same triplet loss on random triplets (the row above) trains. Its "
                "distance ratio is that of a collapsed cloud and says nothing."
            )
        else:
            notes.append(
                f"The batch-hard triplet loss trains: nearest-centroid accuracy "
                f"{bh['accuracy']:.3f} against {m['triplet']['accuracy']:.3f} on random "
                "triplets."
            )
    if "supcon" in m:
        sc = m["supcon"]
        notes.append(
            f"Supervised contrastive (temperature {SUPCON_TEMPERATURE:g}) normalises the "
            f"embeddings inside: nearest-centroid accuracy by cosine {sc['accuracy']:.3f}, "
            f"distance ratio on the circle {sc['ratio']:.3f}, a mean angle of "
            f"{sc['angle']:.1f} degrees to the digit's centroid direction. It has no class "
            "weights: each digit's direction is wherever its images' pull ends."
        )
    notes.append(
        f"Data: scikit-learn's digits, {data.y_train.size} training and {data.y_test.size} test "
        f"images (stratified, seed {seed}), pixels standardised. Model: "
        f"64-{HIDDEN}-{HIDDEN}-{DIM} MLP with ReLU, float32, the same initial weights for every "
        f"loss; Adam, learning rate {LEARNING_RATE:g} with a cosine decay to 0, {STEPS} steps "
        f"of {N_CLASSES} x {PER_CLASS} images (the same batches for every loss; the heads' "
        "class weights and centres are trained by the same optimiser). The accuracy interval "
        f"is a bootstrap over the test images ({N_BOOTSTRAP} resamples). The last column of "
        "the main table is the mean training loss over the last 10 steps, on each loss's own "
        "scale."
    )
    return summary, notes


# ---- figures -----------------------------------------------------------------------------------
def _figure_embeddings(out: Path, data: Digits, runs: dict[str, Run]) -> Path:
    n = len(SPECS)
    jitter = np.random.default_rng(4).uniform(1.0 - JITTER, 1.0 + JITTER, data.y_test.size)
    digit_colors = palette()
    colors = [digit_colors[c] for c in data.y_test]
    cols = min(4, n)
    rows = -(-n // cols)
    with style():
        fig, axes = new_figure(rows, cols, size=(3.0 * cols, 3.0 * rows + 0.9))
        for i, spec in enumerate(SPECS):
            ax = axes[i // cols, i % cols]
            run = runs[spec.key]
            e = run.e_test
            if spec.geometry == "cosine":
                # on the circle, with a radial jitter that keeps overlapping points visible
                e = _unit(e) * jitter[:, None]
                t = np.linspace(0.0, 2.0 * np.pi, 361)
                ax.plot(np.cos(t), np.sin(t), color="0.8", lw=0.8, zorder=0)
                if run.directions is not None:  # the class weights' directions
                    for c, (u, v) in enumerate(_unit(run.directions)):
                        ax.plot([0.0, 1.2 * u], [0.0, 1.2 * v], color=digit_colors[c], lw=0.8)
            # one collection, in the test set's order: no digit is drawn over all the others
            ax.scatter(e[:, 0], e[:, 1], s=4, c=colors, alpha=0.7, linewidths=0)
            m = run.metrics
            where = "normalised, on the circle" if spec.geometry == "cosine" else "the plane"
            ax.set_title(
                f"{spec.short} ({where})\nnearest centroid {m['accuracy']:.3f}, "
                + (f"ratio {m['ratio']:.3f}" if m["accuracy"] >= LEARNED else "did not learn"),
                fontsize=9,
            )
            ax.set_aspect("equal", adjustable="datalim")
            ax.tick_params(labelsize=7)
        handles = [
            axes[0, 0].scatter([], [], s=25, color=digit_colors[c], label=f"digit {c}")
            for c in range(N_CLASSES)
        ]
        fig.legend(handles=handles, loc="outside lower center", ncols=N_CLASSES, frameon=False)
        for j in range(n, rows * cols):
            axes[j // cols, j % cols].set_axis_off()
        fig.suptitle(
            f"Test embeddings of the digits ({data.y_test.size} images), one model per loss; "
            "ratio: intra/inter-class distance\nAngular losses: the normalised embeddings "
            f"(radius jittered by +-{JITTER:.0%}), lines: the directions of the class weights",
            fontsize=10,
        )
        return save(fig, out / f"{NAME}-scatter.png")


def _figure_scores(out: Path, runs: dict[str, Run]) -> Path:
    failed = {s.key for s in SPECS if runs[s.key].metrics["accuracy"] < LEARNED}
    with style():
        fig, axes = new_figure(1, 3, size=(13.0, 3.8))
        y = np.arange(len(SPECS))[::-1]
        ax = axes[0, 0]
        for yi, s in zip(y, SPECS, strict=True):
            m = runs[s.key].metrics
            ax.plot([m["accuracy_low"], m["accuracy_high"]], [yi, yi], color="black", lw=2)
            ax.plot(m["accuracy"], yi, "o", color="black", ms=6)
        ax.set_yticks(y, [s.short for s in SPECS])
        ax.set_xlabel("nearest-centroid test accuracy (95% bootstrap interval)")
        ax.set_title("Accuracy")
        ax = axes[0, 1]
        for yi, s in zip(y, SPECS, strict=True):
            ratio = runs[s.key].metrics["ratio"]
            if s.key in failed:  # the ratio of a model that did not learn says nothing
                ax.text(0.0, yi, f" did not learn (ratio {ratio:.3g})", va="center", fontsize=8,
                        color="0.4")  # fmt: skip
            else:
                ax.barh(yi, ratio, color="0.5")
        ax.set_yticks(y, [s.short for s in SPECS])
        ax.set_xlabel("intra/inter-class distance ratio (smaller: compact, separated)")
        ax.set_title("Cluster compactness")
        ax = axes[0, 2]
        for s in SPECS:
            ax.plot(CHECKPOINTS, runs[s.key].checkpoint_accuracy, "o-", ms=3, lw=1.2, label=s.short)
        ax.set_xlabel("step")
        ax.set_ylabel("nearest-centroid test accuracy")
        ax.set_title("Through training")
        ax.legend(loc="center right", fontsize=7, ncols=2)
        return save(fig, out / f"{NAME}-scores.png")


STUDY = Study(
    name=NAME,
    title=TITLE,
    description="A small MLP embeds the digits in the plane with softmax cross entropy, center "
    "loss, ArcFace, CosFace, the contrastive and batch-hard triplet losses and supervised "
    "contrastive: scatter plots of the test embeddings, nearest-centroid accuracy and an "
    "intra/inter-class distance ratio.",
    _run=_run,
)
