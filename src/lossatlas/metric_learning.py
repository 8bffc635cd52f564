"""Metric-learning losses: embeddings pulled together when they belong together and pushed
apart when they do not.

Two per-sample losses over pairs and triplets of embeddings (the last axis, D, holds the
embedding; any batch axes lead):

- ``contrastive_loss(x1, x2, target, *, margin=1.0)``: Hadsell, Chopra and LeCun's Siamese
  loss, ``y d^2 / 2 + (1 - y) max(0, m - d)^2 / 2`` with d = ||x1 - x2||_2 and y = 1 for a
  similar pair, 0 for a dissimilar one.
- ``triplet_margin_loss(anchor, positive, negative, *, margin=1.0, p=2, swap=False,
  eps=1e-6)``: ``max(d(a, p) - d(a, n) + m, 0)`` with PyTorch's distance
  ``d(x, y) = ||x - y + eps||_p``.

Two losses over a set of embeddings (N, D) with integer labels (N,), one value for the set
(a leading batch of sets, (*b, N, D) and (*b, N), gives one value per set): the mean over
the anchors that have a positive (another embedding of their label) and a negative (one
of another label); an anchor without either is left out of the mean, as
pytorch-metric-learning's miners and reducers leave it out, and a set without any such
anchor gives 0, connected to the graph.

- ``batch_hard_triplet_loss(embeddings, labels, *, margin=1.0, soft=False)``: Hermans, Beyer
  and Leibe's batch-hard triplet loss, each anchor against its farthest positive and its
  nearest negative (Euclidean distances).
- ``circle_loss(embeddings, labels, *, gamma=80.0, margin=0.4)``: Sun et al.'s Circle loss on
  the cosine similarities of the L2-normalised embeddings.

Distances are written so that their derivatives stay finite where two embeddings coincide
(the square root of 0 is taken behind a double ``where``: its derivative there is 0, the
subgradient of the norm at 0 that points nowhere), and the Circle loss's log-sum-exps are
shifted by their maxima, so gamma = 256 does not overflow in float32.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._loss import Loss
from ._reduce import Unreduced
from ._registry import register
from ._spec import BoostingHessian, Curve, Input, LossSpec, Param, Probe, Properties, Variant
from ._xp import (
    compiled_on_jax,
    const,
    device,
    safe_sqrt,
    softplus,
    stop_gradient,
    times_finite,
)

__all__ = [
    "BatchHardTripletLoss",
    "CircleLoss",
    "ContrastiveLoss",
    "TripletMarginLoss",
    "batch_hard_triplet_loss",
    "circle_loss",
    "contrastive_loss",
    "triplet_margin_loss",
]

HADSELL_2006 = (
    "Hadsell, R., Chopra, S., LeCun, Y. (2006). Dimensionality Reduction by Learning an "
    "Invariant Mapping. CVPR, 1735-1742."
)
BALNTAS_2016 = (
    "Balntas, V., Riba, E., Ponsa, D., Mikolajczyk, K. (2016). Learning local feature "
    "descriptors with triplets and shallow convolutional neural networks. BMVC."
)
SCHROFF_2015 = (
    "Schroff, F., Kalenichenko, D., Philbin, J. (2015). FaceNet: A Unified Embedding for Face "
    "Recognition and Clustering. CVPR, 815-823."
)
HERMANS_2017 = (
    "Hermans, A., Beyer, L., Leibe, B. (2017). In Defense of the Triplet Loss for Person "
    "Re-Identification. arXiv:1703.07737."
)
SUN_2020 = (
    "Sun, Y., Cheng, C., Zhang, Y., Zhang, C., Zheng, L., Wang, Z., Wei, Y. (2020). Circle "
    "Loss: A Unified Perspective of Pair Similarity Optimization. CVPR, 6398-6407."
)
NO_BOOSTING = BoostingHessian(
    "none", reason="a loss of embeddings: each sample's scores are a vector, not a raw score"
)


# ---- shared pieces ------------------------------------------------------------------------------
def _relu(xp: Any, x: Any) -> Any:
    """max(x, 0) by selection: derivative 1 above 0 and 0 at and below it on every backend;
    NaN stays NaN (a NaN embedding must not read as a satisfied margin)."""
    return xp.where(x <= 0, const(xp, 0.0, x), x)


def lp_norm(xp: Any, x: Any, p: float) -> Any:
    """||x||_p over the last axis, finite wherever it is representable and with a derivative
    of 0 (not NaN or inf) where x is 0: ``s (sum |x_i / s|^p)^(1/p)`` with s = max |x_i| (so
    that no power overflows at |x| = 1e300 or underflows at 1e-300), s held constant in the
    derivative (exact: the norm is homogeneous), the root behind a double ``where``."""
    mag = xp.sign(x) * x  # |x| with derivative sign(x), 0 at 0
    if p == 1.0:
        return xp.sum(mag, axis=-1)
    one = const(xp, 1.0, x)
    scale = stop_gradient(xp, xp.max(mag, axis=-1, keepdims=True))
    scale = xp.where((scale > 0) & (scale < math.inf), scale, one)
    ratio = mag / scale
    total = xp.sum(ratio * ratio if p == 2.0 else ratio ** const(xp, p, x), axis=-1)
    positive = total > 0
    safe = xp.where(positive, total, const(xp, 1.0, total))
    root = xp.sqrt(safe) if p == 2.0 else safe ** const(xp, 1.0 / p, total)
    # 0 at 0; NaN stays NaN (a NaN embedding must not read as a perfect match)
    zero_or_nan = xp.where(xp.isnan(total), total, const(xp, 0.0, total))
    return scale[..., 0] * xp.where(positive, root, zero_or_nan)


def _pairwise_distances(xp: Any, x: Any) -> Any:
    """The (*b, N, N) Euclidean distances between the rows of x (*b, N, D), from the differences
    (exact 0 on the diagonal and between equal rows, so that the derivative of the root there
    is the 0 of the double ``where``; the Gram form |a|^2 + |b|^2 - 2 a.b would leave rounding
    residues whose root has a slope of 1e8). Memory O(N^2 D)."""
    return lp_norm(xp, x[..., :, None, :] - x[..., None, :, :], 2.0)


def _label_masks(xp: Any, labels: Any) -> tuple[Any, Any]:
    """(positive, negative) pair masks (*b, N, N): same label and not the anchor itself;
    another label."""
    n = labels.shape[-1]
    same = labels[..., :, None] == labels[..., None, :]
    index = xp.arange(n, device=device(labels))
    eye = index[:, None] == index[None, :]
    return same & ~eye, ~same


def _masked_mean(xp: Any, values: Any, valid: Any) -> Any:
    """sum(values where valid) / count(valid) over the last axis, 0 for no valid entry (the
    values are summed whole, so the result stays connected to the graph)."""
    zero = const(xp, 0.0, values)
    total = xp.sum(xp.where(valid, values, zero), axis=-1)
    count = xp.sum(xp.astype(valid, values.dtype), axis=-1)
    return total / xp.where(count > 0, count, const(xp, 1.0, count))


def _masked_logsumexp(xp: Any, z: Any, mask: Any) -> tuple[Any, Any]:
    """(log sum_j exp z_ij over the j where mask_ij, whether row i has any) along the last
    axis, shifted by the row's masked maximum; a row without entries gets 0. Masked-out
    entries enter as exp(-inf) = 0, so no overflow there reaches a derivative."""
    neg_inf = const(xp, -math.inf, z)
    masked = xp.where(mask, z, neg_inf)
    top = xp.max(masked, axis=-1, keepdims=True)
    some = xp.any(mask, axis=-1)
    top = xp.where(some[..., None], top, const(xp, 0.0, z))
    top = stop_gradient(xp, top)  # the shift's derivative cancels exactly: none taken
    total = xp.sum(xp.exp(xp.where(mask, z - top, neg_inf)), axis=-1)
    total = xp.where(some, total, const(xp, 1.0, total))
    return top[..., 0] + xp.log(total), some


# ---- contrastive --------------------------------------------------------------------------------
class ContrastiveLoss(Loss):
    r"""``contrastive_loss(x1, x2, target, *, margin=1.0, weight=None, reduction="mean")``:
    Hadsell, Chopra and LeCun's contrastive loss of each pair of embeddings.

    With d = ||x1 - x2||_2 over the last axis and y the target (1: similar, 0: dissimilar;
    a soft label in between mixes the two terms)::

        loss = y d^2 / 2 + (1 - y) max(0, margin - d)^2 / 2

    Hadsell et al. write Y = 0 for a similar pair, (1 - Y) D^2 / 2 + Y max(0, m - D)^2 / 2;
    the target here is 1 - Y, the convention the issue and most code use (similar = 1), with
    the paper's factors 1/2 kept. pytorch-metric-learning's ContrastiveLoss(pos_margin=0,
    neg_margin=m) takes the same pairs on unsquared distances: its per-pair losses d and
    max(0, m - d), squared and halved, are these. The similar term is d^2 / 2 (no root: its
    gradient x1 - x2 is 0 at x1 == x2); the dissimilar term's gradient at x1 == x2 is 0 (the
    norm's subgradient 0), finite.

    x1, x2: (*b, D); target: (*b), in [0, 1]. Output (*b).

    Reference: Hadsell, R., Chopra, S., LeCun, Y. (2006). Dimensionality Reduction by
    Learning an Invariant Mapping. CVPR.
    """

    spec = LossSpec(
        name="contrastive_loss",
        family="metric",
        summary="Siamese contrastive loss: squared distance for similar pairs, squared "
        "hinge on the margin for dissimilar ones",
        properties=Properties(convex=False, robust=False, smoothness="C0"),
        formula=r"\tfrac{1}{2}\,y\,d^2 + \tfrac{1}{2}\,(1 - y)\max(0, m - d)^2,\quad "
        r"d = \lVert x_1 - x_2 \rVert_2",
        references=(HADSELL_2006,),
        inputs=(
            Input("x1", "*b D", "real", doc="first embeddings of the pairs (*b, D)"),
            Input("x2", "*b D", "real", doc="second embeddings of the pairs (*b, D)"),
            Input(
                "target",
                "*b",
                "binary",
                differentiable=False,
                doc="1 for a similar pair, 0 for a dissimilar one (soft labels mix the terms)",
            ),
        ),
        output="*b",
        elementwise=False,
        params=(
            Param(
                "margin",
                1.0,
                "the distance beyond which a dissimilar pair costs nothing",
                low=0.0,
            ),
        ),
        aliases=("siamese_contrastive_loss", "hadsell_contrastive_loss"),
        framework_names={
            "pytorch_metric_learning": "pytorch_metric_learning.losses.ContrastiveLoss "
            "(pos_margin=0, neg_margin=margin; unsquared per-pair losses, all pairs of a batch)",
        },
        derivative_notes="autodiff only: d loss / d x1 = y (x1 - x2) - (1 - y) max(0, m - d) "
        "(x1 - x2) / d; at x1 == x2 the second term's direction is undefined and taken as 0.",
        when_to_use="Siamese networks trained on labelled pairs (same / different), for "
        "verification and dimensionality reduction; the margin sets how far apart dissimilar "
        "pairs must be before they stop contributing.",
        boosting=NO_BOOSTING,
        variants=(
            Variant(
                {"margin": 0.0},
                properties={"convex": True, "smoothness": "Cinf"},
                note="margin=0: y d^2 / 2 alone",
            ),
        ),
        kinks=lambda p: (-float(p["margin"]), 0.0, float(p["margin"])),
        probe=lambda p: _pair_probe(p),  # defined below
    )

    def definition(self, call: Any) -> Unreduced:
        return Unreduced(compiled_on_jax(_contrastive, call.xp, call.arrays(), **call.params))


def _contrastive(xp: Any, x1: Any, x2: Any, target: Any, *, margin: float) -> Any:
    diff = x1 - x2
    squared = xp.sum(diff * diff, axis=-1)  # the similar term: no root, gradient x1 - x2
    gap = _relu(xp, const(xp, margin, squared) - lp_norm(xp, diff, 2.0))
    half = const(xp, 0.5, squared)
    one = const(xp, 1.0, target)
    # a target of 0 (or 1) leaves out the other term even where it overflows to inf
    return half * (times_finite(xp, target, squared) + times_finite(xp, one - target, gap * gap))


def _pair_probe(params: Mapping[str, Any]) -> Probe:
    """x2 = 0 and x1 = (t, 0, 0): |t| is the distance of the pair (t crosses 0, where the
    dissimilar term's norm has its corner); one curve per target."""

    def curve(y: float) -> Curve:
        def make(t: np.ndarray) -> dict[str, np.ndarray]:
            t = np.asarray(t, dtype=np.float64)
            x1 = np.zeros((len(t), 3))
            x1[:, 0] = t
            return {"x1": x1, "x2": np.zeros((len(t), 3)), "target": np.full(len(t), y)}

        label = "similar pair (target 1)" if y else "dissimilar pair (target 0)"
        return Curve(label, f"y={y:g}", make)  # no analytic grad: derivatives by autodiff

    return Probe(
        "pair offset", "offset t of the pair (distance |t|)", "t",
        f"x1 = (t, 0, 0), x2 = 0; margin {params.get('margin', 1.0):g}", "real",
        (-3.0, 3.0), (-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0), (curve(1.0), curve(0.0)), "x1",
    )  # fmt: skip


contrastive_loss = register(ContrastiveLoss())


# ---- triplet ------------------------------------------------------------------------------------
class TripletMarginLoss(Loss):
    r"""``triplet_margin_loss(anchor, positive, negative, *, margin=1.0, p=2, swap=False,
    eps=1e-6, weight=None, reduction="mean")``: the triplet margin loss with PyTorch's
    semantics.

    ::

        loss = max(d(a, p) - d(a, n) + margin, 0),   d(x, y) = ||x - y + eps||_p

    over the last axis, eps added to the difference as ``torch.nn.functional.
    pairwise_distance`` adds it; with ``swap=True`` d(a, n) is replaced by min(d(a, n),
    d(p, n)) (Balntas et al.'s distance swap). ``eps`` keeps the distance off 0 where
    anchor == positive; with ``eps=0`` the norm's derivative at 0 is taken as 0, so the
    gradient stays finite there too. optax's ``triplet_margin_loss`` puts its eps inside the
    root, (sum (a - p)^p + eps)^(1/p), and takes no absolute value (equal for p = 2 and
    eps = 0). The hinge's derivative at 0 is 0.

    anchor, positive, negative: (*b, D). Output (*b).

    References: Balntas, V. et al. (2016). Learning local feature descriptors with triplets
    and shallow convolutional neural networks. BMVC. Schroff, F. et al. (2015). FaceNet.
    CVPR.
    """

    spec = LossSpec(
        name="triplet_margin_loss",
        family="metric",
        summary="triplet margin loss: the anchor-positive distance must undercut the "
        "anchor-negative distance by a margin",
        properties=Properties(convex=False, robust=True, smoothness="C0"),
        formula=r"\max\big(d(a, p) - d(a, n) + m,\ 0\big),\quad "
        r"d(x, y) = \lVert x - y + \epsilon \rVert_p",
        references=(BALNTAS_2016, SCHROFF_2015),
        inputs=(
            Input("anchor", "*b D", "real", doc="anchor embeddings (*b, D)"),
            Input("positive", "*b D", "real", doc="embeddings of the anchors' class (*b, D)"),
            Input("negative", "*b D", "real", doc="embeddings of other classes (*b, D)"),
        ),
        output="*b",
        elementwise=False,
        params=(
            Param("margin", 1.0, "the gap by which d(a, n) must exceed d(a, p)", low=0.0),
            Param("p", 2.0, "the norm degree of the distance", low=1.0),
            Param(
                "swap",
                False,
                "use min(d(a, n), d(p, n)) as the negative distance (Balntas et al.)",
                kind="bool",
            ),
            Param("eps", 1e-6, "added to each difference before the norm (PyTorch's)", low=0.0),
        ),
        aliases=("triplet_loss", "triplet_margin"),
        framework_names={
            "torch": "torch.nn.TripletMarginLoss, torch.nn.functional.triplet_margin_loss",
            "optax": "optax.losses.triplet_margin_loss (eps inside the root)",
            "pytorch_metric_learning": "pytorch_metric_learning.losses.TripletMarginLoss",
        },
        derivative_notes="autodiff only: the gradient with respect to the anchor is "
        "grad_a d(a, p) - grad_a d(a, n) where the hinge is open, 0 where it is closed (and "
        "at 0); the norm's derivative where a difference is exactly 0 is 0.",
        when_to_use="Embeddings trained on (anchor, positive, negative) triplets: face "
        "recognition, image retrieval, local descriptors. Mine the triplets (see "
        "batch_hard_triplet_loss) or sample them; swap helps with easy negatives.",
        boosting=NO_BOOSTING,
        kinks=lambda p: _triplet_kinks(p),  # defined below
        probe=lambda p: _triplet_probe(p),  # defined below
    )

    def definition(self, call: Any) -> Unreduced:
        return Unreduced(compiled_on_jax(_triplet, call.xp, call.arrays(), **call.params))


def _triplet(
    xp: Any, anchor: Any, positive: Any, negative: Any, *, margin: float, p: float, swap: bool,
    eps: float,
) -> Any:  # fmt: skip
    p, shift = float(p), const(xp, eps, anchor)
    d_ap = lp_norm(xp, anchor - positive + shift, p)
    d_an = lp_norm(xp, anchor - negative + shift, p)
    if swap:
        d_pn = lp_norm(xp, positive - negative + shift, p)
        d_an = xp.where(d_pn < d_an, d_pn, d_an)
    return _relu(xp, d_ap - d_an + const(xp, margin, d_ap))


def _triplet_probe(params: Mapping[str, Any]) -> Probe:
    """Anchor 0. "positive moves": positive (t, 0, 0), negative (0, 1, 0), the loss
    max(|t| - 1 + margin, 0), unbounded; "negative slides": positive (0, 0, 1) at distance 1,
    negative (t, 0.5, 0) passing the anchor half a unit away, the loss max(1 - sqrt(t^2 +
    1/4) + margin, 0), the concave -||a - n|| that makes the loss non-convex (up to eps)."""

    def curve(moving: str) -> Curve:
        def make(t: np.ndarray) -> dict[str, np.ndarray]:
            t = np.asarray(t, dtype=np.float64)
            n = len(t)
            positive, negative = np.zeros((n, 3)), np.zeros((n, 3))
            if moving == "positive":
                positive[:, 0], negative[:, 1] = t, 1.0
            else:
                positive[:, 2] = 1.0
                negative[:, 0], negative[:, 1] = t, 0.5
            return {"anchor": np.zeros((n, 3)), "positive": positive, "negative": negative}

        if moving == "positive":
            return Curve("positive at (t, 0, 0), negative 1 away", "pos", make)
        return Curve("negative at (t, 0.5, 0), positive 1 away", "neg", make)

    return Probe(
        "triplet offset", "offset t of the moving embedding", "t",
        "anchor 0; positive at (t, 0, 0) with the negative at distance 1, or negative at "
        f"(t, 0.5, 0) with the positive at distance 1; margin {params.get('margin', 1.0):g}",
        "real", (-3.0, 3.0), (-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0),
        (curve("positive"), curve("negative")), "anchor",
    )  # fmt: skip


def _triplet_kinks(params: Mapping[str, Any]) -> tuple[float, ...]:
    """Where the probe's hinges open (near |t| = 1 - margin and sqrt(t^2 + 1/4) = 1 +
    margin; eps moves them a little), found by bisection on the hinge's argument, and the
    positive's corner (t = 0; smoothed by eps for p > 1)."""
    full = {"margin": 1.0, "p": 2.0, "swap": False, "eps": 1e-6, **params}

    def argument(make: Any, t: np.ndarray) -> np.ndarray:
        x = make(t)
        a, pos, neg = x["anchor"], x["positive"], x["negative"]
        eps, p = float(full["eps"]), float(full["p"])

        def dist(u: np.ndarray, v: np.ndarray) -> np.ndarray:
            return np.sum(np.abs(u - v + eps) ** p, axis=-1) ** (1.0 / p)

        d_an = dist(a, neg)
        if full["swap"]:
            d_an = np.minimum(d_an, dist(pos, neg))
        return dist(a, pos) - d_an + float(full["margin"])

    points = [0.0]
    grid = np.linspace(-4.0, 4.0, 8001)
    for curve in _triplet_probe(full).curves:
        f = argument(curve.make, grid)
        for k in np.nonzero(np.sign(f[:-1]) * np.sign(f[1:]) < 0)[0]:
            lo, hi = grid[k], grid[k + 1]
            for _ in range(60):
                mid = 0.5 * (lo + hi)
                same = np.sign(argument(curve.make, np.array([mid]))[0]) == np.sign(f[k])
                lo, hi = (mid, hi) if same else (lo, mid)
            points.append(0.5 * (lo + hi))
    return tuple(points)


triplet_margin_loss = register(TripletMarginLoss())


# ---- batch losses -------------------------------------------------------------------------------
BATCH_INPUTS = (
    Input(
        "embeddings",
        "*b N D",
        "real",
        doc="a set of N embeddings (N, D), or a batch of such sets (*b, N, D)",
    ),
    Input(
        "labels",
        "*b N",
        "label",
        dtype="index",
        differentiable=False,
        doc="integer labels (*b, N): equal labels mark embeddings of one class",
    ),
)
SAMPLE_SET = 4  # N of the generic tests' sets
SAMPLE_DIM = 3  # D


def _sample_batch(rng: np.random.Generator, shape: tuple[int, ...], params: Any) -> dict:
    """Sets of 4 embeddings of dimension 3 (batch shape ``shape``) with labels 0 and 1, both
    present (so that every set has an anchor; a singleton class has none)."""
    labels = rng.integers(0, 2, size=(*shape, SAMPLE_SET))
    labels[..., 0], labels[..., 1] = 0, 1
    order = np.argsort(rng.random(labels.shape), axis=-1)
    return {
        "embeddings": rng.normal(size=(*shape, SAMPLE_SET, SAMPLE_DIM)),
        "labels": np.take_along_axis(labels, order, axis=-1).astype(np.int64),
    }


def _empty_sets(xp: Any, embeddings: Any) -> Unreduced:
    """The loss of sets without embeddings (N = 0): 0, connected to the graph."""
    return Unreduced(xp.sum(embeddings, axis=(-2, -1)) * const(xp, 0.0, embeddings))


class BatchHardTripletLoss(Loss):
    r"""``batch_hard_triplet_loss(embeddings, labels, *, margin=1.0, soft=False,
    weight=None, reduction="mean")``: Hermans, Beyer and Leibe's batch-hard triplet loss.

    With D_ij = ||e_i - e_j||_2 (Euclidean, not squared), each anchor i is paired with its
    hardest positive (the farthest embedding of its label other than itself) and its hardest
    negative (the nearest of another label)::

        l_i = max(max_{j: y_j = y_i, j != i} D_ij - min_{k: y_k != y_i} D_ik + margin, 0)

    or, with ``soft=True``, the soft margin softplus(max D_ij - min D_ik) (margin unused).
    The value is the mean of l_i over the anchors that have both a positive and a negative;
    the others are left out, as pytorch-metric-learning's BatchHardMiner drops them (0 if
    none is left). One value per set: embeddings (N, D) give a 0-d loss; a batch of sets
    (*b, N, D) one per set, which ``weight`` and ``reduction`` then weigh and average.
    pytorch-metric-learning's ``TripletMarginLoss(margin, distance=LpDistance(
    normalize_embeddings=False), reducer=MeanReducer())`` with a ``BatchHardMiner`` of that
    distance computes the same mean (its default reducer averages the non-zero losses only).
    Distances are taken from the differences (O(N^2 D) memory), so that identical embeddings
    have a distance of exactly 0 with a derivative of 0. A tie for the hardest positive or
    negative splits the gradient as the backend's max/min does (a kink).

    embeddings: (*b, N, D); labels: (*b, N) integers. Output (*b).

    Reference: Hermans, A., Beyer, L., Leibe, B. (2017). In Defense of the Triplet Loss for
    Person Re-Identification. arXiv:1703.07737.
    """

    spec = LossSpec(
        name="batch_hard_triplet_loss",
        family="metric",
        summary="batch-hard triplet loss: each anchor against its farthest positive and "
        "nearest negative in the batch",
        properties=Properties(convex=False, robust=True, smoothness="C0"),
        formula=r"\frac{1}{|A|}\sum_{i \in A} \max\Big(\max_{j:\,y_j = y_i,\,j \ne i} D_{ij} "
        r"- \min_{k:\,y_k \ne y_i} D_{ik} + m,\ 0\Big)",
        references=(HERMANS_2017, SCHROFF_2015),
        inputs=BATCH_INPUTS,
        output="*b",
        elementwise=False,
        params=(
            Param("margin", 1.0, "the margin of the hinge (unused when soft)", low=0.0),
            Param(
                "soft",
                False,
                "the soft margin softplus(d_ap - d_an) in place of the hinge",
                kind="bool",
            ),
        ),
        aliases=("batch_hard_triplet", "hard_triplet_loss"),
        framework_names={
            "pytorch_metric_learning": "pytorch_metric_learning.losses.TripletMarginLoss with "
            "miners.BatchHardMiner (reducer MeanReducer)",
        },
        derivative_notes="autodiff only: the gradient reaches the anchor, its hardest "
        "positive and its hardest negative; the distance's derivative between identical "
        "embeddings is 0.",
        when_to_use="Metric learning from labelled batches (P classes x K samples each), "
        "person re-identification, retrieval: no triplet sampling, the batch supplies the "
        "hardest ones; soft=True removes the margin to tune.",
        boosting=NO_BOOSTING,
        kinks=lambda p: _batch_hard_kinks(p),  # defined below
        probe=lambda p: _batch_hard_probe(p),  # defined below
        sampler=_sample_batch,
    )

    def definition(self, call: Any) -> Unreduced:
        if call.inputs["embeddings"].shape[-2] == 0:
            return _empty_sets(call.xp, call.inputs["embeddings"])
        return Unreduced(compiled_on_jax(_batch_hard, call.xp, call.arrays(), **call.params))


def _batch_hard(xp: Any, embeddings: Any, labels: Any, *, margin: float, soft: bool) -> Any:
    distances = _pairwise_distances(xp, embeddings)
    pos, neg = _label_masks(xp, labels)
    zero = const(xp, 0.0, distances)
    # distances are >= 0: 0 stands in for no positive, inf for no negative
    hardest_pos = xp.max(xp.where(pos, distances, zero), axis=-1)
    hardest_neg = xp.min(xp.where(neg, distances, const(xp, math.inf, distances)), axis=-1)
    valid = xp.any(pos, axis=-1) & xp.any(neg, axis=-1)
    hardest_neg = xp.where(valid, hardest_neg, zero)
    gap = hardest_pos - hardest_neg
    if soft:
        per_anchor = softplus(xp, gap)
    else:
        per_anchor = _relu(xp, gap + const(xp, margin, gap))
    return _masked_mean(xp, per_anchor, valid)


def _batch_hard_probe(params: Mapping[str, Any]) -> Probe:
    """Two sets. "positive moves": class 0 at a = 0, (t, 0, 0) and (0, 0, 1), class 1 at (0,
    3, 0) and (0, 3, 1): anchor a's hardest positive is max(|t|, 1) away (it switches at |t|
    = 1), its nearest negative 3. "negatives slide": class 0 at 0 and (0, 0, 1), class 1 at
    (t, 0.5, 0) and (t, 0.5, 1): every anchor's positive is 1 away and its nearest negative
    sqrt(t^2 + 1/4), the loss max(1 - sqrt(t^2 + 1/4) + margin, 0) (non-convex)."""

    def curve(moving: str) -> Curve:
        def make(t: np.ndarray) -> dict[str, np.ndarray]:
            t = np.asarray(t, dtype=np.float64)
            n = len(t)
            if moving == "positive":
                e = np.zeros((n, 5, 3))
                e[:, 1, 0] = t
                e[:, 2, 2] = 1.0
                e[:, 3, 1] = 3.0
                e[:, 4, 1], e[:, 4, 2] = 3.0, 1.0
                labels = np.array([0, 0, 0, 1, 1])
            else:
                e = np.zeros((n, 4, 3))
                e[:, 1, 2] = 1.0
                e[:, 2:, 0], e[:, 2:, 1] = t[:, None], 0.5
                e[:, 3, 2] = 1.0
                labels = np.array([0, 0, 1, 1])
            return {"embeddings": e, "labels": np.tile(labels, (n, 1))}

        if moving == "positive":
            return Curve("a positive moves (3 + 2 embeddings)", "pos", make)
        return Curve("the negatives slide (2 + 2 embeddings)", "neg", make)

    soft = bool(params.get("soft", False))
    caption = (
        "a positive at (t, 0, 0) beside positives 1 away and negatives 3 away, or two "
        "negatives at (t, 0.5, *) beside positives 1 away"
        + ("; soft margin" if soft else f"; margin {params.get('margin', 1.0):g}")
    )
    return Probe(
        "embedding offset", "offset t of the moving embeddings", "t", caption, "real",
        (-4.0, 4.0), (-2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0),
        (curve("positive"), curve("negative")), "embeddings",
    )  # fmt: skip


def _batch_hard_kinks(params: Mapping[str, Any]) -> tuple[float, ...]:
    """Where the probe's hardest positive switches (|t| = 1, and 0), and where the hinges
    open: max(|t|, 1) - 3 + m and sqrt(t^2 + 1) - 3 + m (positive moves), 1 - sqrt(t^2 +
    1/4) + m (negatives slide)."""
    points = [-1.0, 0.0, 1.0]
    if not params.get("soft"):
        m = float(params["margin"])
        roots = [3.0 - m] if m < 2.0 else []
        roots += [math.sqrt(r2) for r2 in ((3.0 - m) ** 2 - 1.0, (1.0 + m) ** 2 - 0.25) if r2 > 0]
        points += [v for r in roots for v in (r, -r)]
    return tuple(points)


batch_hard_triplet_loss = register(BatchHardTripletLoss())


class CircleLoss(Loss):
    r"""``circle_loss(embeddings, labels, *, gamma=80.0, margin=0.4, weight=None,
    reduction="mean")``: Sun et al.'s Circle loss on a batch of embeddings.

    With s_ij the cosine similarity of the L2-normalised embeddings i and j, m the margin and
    gamma the scale, for each anchor i over its positives j (same label, j != i) and its
    negatives k (another label)::

        l_i = softplus( logsumexp_j(-gamma a_ij (s_ij - (1 - m)))
                        + logsumexp_k(gamma b_ik (s_ik - m)) )
        a_ij = max(0, 1 + m - s_ij),   b_ik = max(0, s_ik + m)

    The weights a and b are held constant in the gradient (``stop_gradient``), as the
    authors' implementation and pytorch-metric-learning's detach them; the value is the mean
    of l_i over the anchors with a positive and a negative (others left out; 0 if none is
    left): one value per set of N embeddings (output (*b); () for one set).
    keras.losses.Circle (remove_diagonal=True) gives the same per-anchor values and
    averages the non-zero ones (its mask), which are these anchors; it does not normalise
    (give it unit vectors) and does not detach the weights. The log-sum-exps are shifted by
    their maxima (gamma = 256 in float32 is finite). A zero embedding normalises to 0
    (similarity 0 to everything), with finite derivatives.

    embeddings: (*b, N, D); labels: (*b, N) integers. Output (*b).

    Reference: Sun, Y. et al. (2020). Circle Loss: A Unified Perspective of Pair Similarity
    Optimization. CVPR.
    """

    spec = LossSpec(
        name="circle_loss",
        family="metric",
        summary="Circle loss: softplus of the log-sum-exps of self-paced weighted positive "
        "and negative cosine similarities",
        properties=Properties(convex=False, robust=True, smoothness="C0", bounded=True),
        formula=r"\frac{1}{|A|}\sum_{i \in A}\log\Big(1 + \sum_{j \in P_i} "
        r"e^{-\gamma \alpha_{ij}(s_{ij} - \Delta_p)} \sum_{k \in N_i} "
        r"e^{\gamma \alpha_{ik}(s_{ik} - \Delta_n)}\Big),\quad \Delta_p = 1 - m,\ "
        r"\Delta_n = m",
        references=(SUN_2020,),
        inputs=BATCH_INPUTS,
        output="*b",
        elementwise=False,
        params=(
            Param("gamma", 80.0, "the scale of the similarities", low=0.0, low_inclusive=False),
            Param(
                "margin",
                0.4,
                "the relaxation m (optima 1 + m and -m; above 0.5 the positive's decision "
                "boundary 1 - m would fall below the negative's m)",
                low=0.0,
                high=0.5,
            ),
        ),
        aliases=("circle",),
        framework_names={
            "keras": "keras.losses.Circle (on L2-normalised embeddings)",
            "pytorch_metric_learning": "pytorch_metric_learning.losses.CircleLoss (m, gamma)",
        },
        derivative_notes="autodiff only, with the weights alpha held constant (as the paper's "
        "code and pytorch-metric-learning do): the gradient is not the derivative of the "
        "value where a weight is positive.",
        when_to_use="Deep metric learning from labelled batches (face recognition: m = 0.25, "
        "gamma = 256; re-identification: gamma = 128; fine-grained retrieval: m = 0.4, "
        "gamma = 80): each similarity is weighted by how far it is from its optimum.",
        boosting=NO_BOOSTING,
        variants=(
            Variant(
                {"margin": 0.0},
                properties={"smoothness": "C1"},
                note="margin=0: a negative's weight max(0, s) times s is C1 at s = 0",
            ),
        ),
        kinks=lambda p: (math.acos(float(p["margin"])),),  # a negative's weight reaches 0
        probe=lambda p: _circle_probe(p),  # defined below
        sampler=_sample_batch,
        held_constant=("alpha_p", "alpha_n"),
    )

    def definition(self, call: Any) -> Unreduced:
        if call.inputs["embeddings"].shape[-2] == 0:
            return _empty_sets(call.xp, call.inputs["embeddings"])
        return Unreduced(compiled_on_jax(_circle, call.xp, call.arrays(), **call.params))


def _circle(xp: Any, embeddings: Any, labels: Any, *, gamma: float, margin: float) -> Any:
    scale = const(xp, gamma, embeddings)
    m = const(xp, margin, embeddings)
    one = const(xp, 1.0, embeddings)
    norm = safe_sqrt(xp, xp.sum(embeddings * embeddings, axis=-1, keepdims=True))
    unit = embeddings / xp.where(norm > 0, norm, one)
    s = xp.matmul(unit, xp.matrix_transpose(unit))
    pos, neg = _label_masks(xp, labels)
    alpha_p = stop_gradient(xp, _relu(xp, one + m - s))
    alpha_n = stop_gradient(xp, _relu(xp, s + m))
    lse_p, has_p = _masked_logsumexp(xp, -scale * alpha_p * (s - (one - m)), pos)
    lse_n, has_n = _masked_logsumexp(xp, scale * alpha_n * (s - m), neg)
    return _masked_mean(xp, softplus(xp, lse_p + lse_n), has_p & has_n)


def _circle_probe(params: Mapping[str, Any]) -> Probe:
    """Four unit vectors in the plane: class 0 at angles 0 and t, class 1 at pi and pi + t;
    t is the angle between same-class embeddings (s_p = cos t, negatives at s = -1 and
    -cos t)."""

    def make(t: np.ndarray) -> dict[str, np.ndarray]:
        t = np.asarray(t, dtype=np.float64)
        angles = np.stack([np.zeros_like(t), t, np.full_like(t, np.pi), np.pi + t], axis=1)
        e = np.stack([np.cos(angles), np.sin(angles), np.zeros_like(angles)], axis=-1)
        return {"embeddings": e, "labels": np.tile(np.array([0, 0, 1, 1]), (len(t), 1))}

    curve = Curve("2 classes of 2, opposite", "4 emb", make)
    return Probe(
        "positive angle", "angle t between same-class embeddings (radians)", "t",
        "unit vectors: class 0 at angles 0 and t, class 1 at pi and pi + t; "
        f"gamma {params.get('gamma', 80.0):g}, margin {params.get('margin', 0.4):g}",
        "nonnegative", (0.0, 3.0), (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0), (curve,),
        "embeddings",
    )  # fmt: skip


circle_loss = register(CircleLoss())
