"""Metric-learning losses against implementations someone else wrote.

- ``triplet_margin_loss``: torch.nn.functional.triplet_margin_loss (p = 1, 2, 3, swap, eps,
  values and autograd gradients) and optax.losses.triplet_margin_loss. Conventions: torch adds
  eps to each difference, ||a - p + eps||_p, as this library does; optax puts its eps inside
  the root, (sum (a - p)^p + eps)^(1/p), with no absolute value, so the two agree with
  eps = 0 at an even p (2 and 4).
- ``contrastive_loss``: pytorch-metric-learning's ContrastiveLoss(pos_margin=0,
  neg_margin=m) with LpDistance(normalize_embeddings=False) and a DoNothingReducer, which
  returns one loss per ordered pair of a batch: d for a positive pair and max(0, m - d) for a
  negative one, unsquared. Hadsell et al.'s loss (this library's) is half their square, on the
  same pairs with target 1 (positive) or 0 (negative).
- ``batch_hard_triplet_loss``: PML's TripletMarginLoss(margin, distance=LpDistance(
  normalize_embeddings=False), reducer=MeanReducer()) on the triplets of a BatchHardMiner of
  the same distance (the miner keeps the anchors with a positive and a negative, so the mean
  is over the same anchors); soft=True against smooth_loss=True with margin 0 (PML's softplus
  of d_ap - d_an + margin).
- ``circle_loss``: PML's CircleLoss(m, gamma) (values and gradients: both hold the weights
  alpha constant) and keras.losses.Circle(gamma, margin) on L2-normalised embeddings (values:
  Keras does not detach the weights; its mask averages the anchors with a non-zero loss,
  which are those with a positive and a negative).
- The mpmath definitions of ``_reference.METRIC`` on random sets (the edge suite runs the
  pair and triplet losses at their edges).
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import _reference as R
import jax
import jax.numpy as jnp
import keras
import mpmath as mp
import numpy as np
import optax
import pytest
import torch
import torch.nn.functional as F
from pytorch_metric_learning import distances, losses, miners, reducers

import lossatlas
import lossatlas.torch as lt
from lossatlas import LossInputError

RNG_SEEDS = range(6)
TOL = {"float64": 1e-12, "float32": 2e-5}


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(1000 + seed)


def t64(x: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64, requires_grad=grad)


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b) / (1.0 + np.abs(b)))) if a.size else 0.0


# ---- triplet margin loss ------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_triplet_equals_torch(dtype):
    """Over random triplets (close and far), every p, swap, margin and eps: the values of
    torch's triplet_margin_loss (reduction none and mean) and triplet_margin_with_distance_loss
    (with its pairwise distance) and, in float64, torch's gradients w.r.t. all three inputs."""
    worst = 0.0
    tdtype = getattr(torch, dtype)
    for seed in RNG_SEEDS:
        g = rng(seed)
        a, p, n = (g.normal(size=(32, 6)) * g.choice([0.1, 1.0, 5.0]) for _ in range(3))
        p[:4] = a[:4]  # anchor == positive
        n[4:8] = a[4:8] + 1e-3 * g.normal(size=(4, 6))  # a negative very near the anchor
        for kw in (
            {"p": 2.0},
            {"p": 1.0, "swap": True},
            {"p": 3.0, "margin": 0.3},
            {"p": 2.0, "swap": True, "eps": 0.0, "margin": 2.0},
        ):
            ours_in = [torch.tensor(x, dtype=tdtype, requires_grad=True) for x in (a, p, n)]
            ref_in = [torch.tensor(x, dtype=tdtype, requires_grad=True) for x in (a, p, n)]
            ours = lossatlas.triplet_margin_loss(*ours_in, reduction="none", **kw)
            ref = F.triplet_margin_loss(*ref_in, reduction="none", **kw)
            worst = max(worst, rel_err(ours.detach(), ref.detach()))
            # the same loss written with a distance function: torch's pairwise_distance of
            # norm p and eps (the default distance of triplet_margin_with_distance_loss)
            with_distance = F.triplet_margin_with_distance_loss(
                *(x.detach() for x in ref_in),
                distance_function=lambda x, y, kw=kw: F.pairwise_distance(
                    x, y, p=kw["p"], eps=kw.get("eps", 1e-6)
                ),
                margin=kw.get("margin", 1.0),
                swap=kw.get("swap", False),
                reduction="none",
            )
            worst = max(worst, rel_err(ours.detach(), with_distance))
            mean = lossatlas.triplet_margin_loss(*ours_in, **kw)
            assert (
                rel_err(mean.detach(), F.triplet_margin_loss(*ref_in, **kw).detach()) < TOL[dtype]
            )
            if dtype == "float64" and kw.get("eps", 1e-6) > 0:  # torch's gradient is NaN at 0
                ours.sum().backward()
                ref.sum().backward()
                for x, y in zip(ours_in, ref_in, strict=True):
                    assert rel_err(x.grad, y.grad) < 1e-10, kw
    assert worst < TOL[dtype], worst


def test_triplet_equals_optax():
    """optax's triplet_margin_loss with eps = 0 at even norm degrees (its convention: eps in
    the root, no absolute value) equals ours with eps = 0, over random triplets; with optax's
    own eps the difference is its eps inside the root (bounded by eps^(1/p))."""
    worst = 0.0
    peer = jax.jit(optax.losses.triplet_margin_loss, static_argnames=("norm_degree",))
    for seed in RNG_SEEDS:
        g = rng(seed)
        a, p, n = (g.normal(size=(40, 5)) for _ in range(3))
        for degree in (2.0, 4.0):
            for margin in (0.0, 1.0, 2.5):
                ref = peer(
                    jnp.asarray(a), jnp.asarray(p), jnp.asarray(n), norm_degree=degree,
                    margin=margin, eps=0.0,
                )  # fmt: skip
                ours = lossatlas.triplet_margin_loss(
                    jnp.asarray(a), jnp.asarray(p), jnp.asarray(n), p=degree, margin=margin,
                    eps=0.0, reduction="none",
                )  # fmt: skip
                worst = max(worst, rel_err(ours, ref))
        with_eps = peer(jnp.asarray(a), jnp.asarray(p), jnp.asarray(n))
        ours = lossatlas.triplet_margin_loss(a, p, n, eps=0.0, reduction="none")
        assert np.max(np.abs(np.asarray(with_eps) - ours)) <= 2e-3  # sqrt(1e-6) per distance
    assert worst < 1e-12, worst


def test_triplet_gradient_finite_when_anchor_equals_positive():
    """anchor == positive with eps = 0: finite, the anchor-positive distance contributing
    its subgradient 0, so the gradient is that of -d(a, n) alone: -(a - n)/||a - n|| for
    the anchor, as torch's; also on JAX."""
    g = rng(0)
    a = g.normal(size=(8, 4))
    n = g.normal(size=(8, 4)) * 0.1 + a  # near enough that the hinge is open (margin 1)
    x = t64(a, True)
    loss = lossatlas.triplet_margin_loss(x, t64(a), t64(n), eps=0.0, reduction="sum")
    loss.backward()
    expected = -(a - n) / np.linalg.norm(a - n, axis=-1, keepdims=True)
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)
    y = t64(a, True)  # torch's norm backward also takes the subgradient 0 there
    F.triplet_margin_loss(y, t64(a), t64(n), eps=0.0, reduction="sum").backward()
    np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=1e-12)
    grad = jax.grad(
        lambda z: lossatlas.triplet_margin_loss(z, jnp.asarray(a), jnp.asarray(n), eps=0.0,
                                                reduction="sum")
    )(jnp.asarray(a))  # fmt: skip
    np.testing.assert_allclose(np.asarray(grad), expected, rtol=1e-12)


def test_triplet_closed_form_and_extremes():
    """Known values: a = 0, p at distance 3, n at distance 4 (p = 2, eps = 0): max(3 - 4 +
    m, 0); all three equal: the margin; huge coordinates (1e300) stay finite in float64 and
    1e30 in float32 (the norm is scaled by the largest coordinate)."""
    a, p, n = np.zeros(3), np.array([3.0, 0.0, 0.0]), np.array([0.0, 4.0, 0.0])
    for m in (0.0, 0.5, 1.0, 2.0):
        assert float(lossatlas.triplet_margin_loss(a, p, n, margin=m, eps=0.0)) == max(m - 1, 0)
    assert float(lossatlas.triplet_margin_loss(a, a, a, margin=0.7, eps=0.0)) == 0.7
    big = np.array([1e300, -1e300, 0.0])
    assert float(lossatlas.triplet_margin_loss(big, -big, a, eps=0.0)) == pytest.approx(
        2 * np.sqrt(2) * 1e300 - np.sqrt(2) * 1e300 + 1.0, rel=1e-14
    )
    big32 = torch.tensor([1e30, -1e30, 0.0], dtype=torch.float32)
    value = lt.TripletMarginLoss(eps=0.0)(big32, -big32, torch.zeros(3))
    assert torch.isfinite(value) and value.item() == pytest.approx(np.sqrt(2) * 1e30, rel=1e-6)


# ---- contrastive loss ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_contrastive_equals_pml_pairs(dtype):
    """Every ordered pair of a random labelled batch, as PML's ContrastiveLoss enumerates
    them: ours on (x_i, x_j, target 1 or 0) is half the square of PML's per-pair loss."""
    tdtype = getattr(torch, dtype)
    worst = 0.0
    for seed in RNG_SEEDS:
        g = rng(seed)
        e = g.normal(size=(12, 5)) * 0.5
        labels = g.integers(0, 3, size=12)
        for margin in (0.5, 1.0, 3.0):
            pml = losses.ContrastiveLoss(
                pos_margin=0, neg_margin=margin,
                distance=distances.LpDistance(normalize_embeddings=False),
                reducer=reducers.DoNothingReducer(),
            )  # fmt: skip
            out = pml(torch.tensor(e, dtype=tdtype), torch.tensor(labels))
            for key, y in (("pos_loss", 1.0), ("neg_loss", 0.0)):
                i, j = (k.numpy() for k in out[key]["indices"])
                ref = 0.5 * out[key]["losses"].double().numpy() ** 2
                ours = lossatlas.contrastive_loss(
                    torch.tensor(e[i], dtype=tdtype), torch.tensor(e[j], dtype=tdtype),
                    torch.full((len(i),), y, dtype=tdtype), margin=margin, reduction="none",
                )  # fmt: skip
                worst = max(worst, rel_err(ours, ref))
    assert worst < TOL[dtype] * 10, worst


def test_contrastive_restated_and_closed_form():
    """The formula restated (Hadsell et al. with target 1 similar) over random soft targets
    in NumPy, and known values: identical similar pair 0; identical dissimilar pair m^2/2;
    a dissimilar pair beyond the margin 0; a similar pair at distance 2 gives 2."""
    g = rng(1)
    x1, x2 = g.normal(size=(50, 7)), g.normal(size=(50, 7))
    y = g.uniform(size=50)
    d = np.linalg.norm(x1 - x2, axis=-1)
    for m in (0.5, 2.0, 4.0):
        ref = y * d**2 / 2 + (1 - y) * np.maximum(0.0, m - d) ** 2 / 2
        ours = lossatlas.contrastive_loss(x1, x2, y, margin=m, reduction="none")
        np.testing.assert_allclose(ours, ref, rtol=1e-13)
    z = np.zeros(3)
    assert float(lossatlas.contrastive_loss(z, z, np.array(1.0))) == 0.0
    assert float(lossatlas.contrastive_loss(z, z, np.array(0.0), margin=3.0)) == 4.5
    far = np.array([5.0, 0.0, 0.0])
    assert float(lossatlas.contrastive_loss(far, z, np.array(0.0))) == 0.0
    assert float(lossatlas.contrastive_loss(np.array([2.0, 0, 0]), z, np.array(1.0))) == 2.0


def test_contrastive_gradient_at_identical_pairs():
    """x1 == x2: the similar term's gradient x1 - x2 is 0, and the dissimilar term's is 0
    too (the norm's subgradient at 0) on torch and JAX: finite, never NaN; elsewhere it is
    -(m - d)(x1 - x2)/d, checked against the restated formula."""
    g = rng(2)
    a = g.normal(size=(6, 4))
    b = a.copy()
    b[3:] += g.normal(size=(3, 4)) * 0.2
    y = np.array([1.0, 0.0, 0.5, 0.0, 0.0, 1.0])
    x = t64(a, True)
    lossatlas.contrastive_loss(x, t64(b), t64(y), margin=1.5, reduction="sum").backward()
    diff = a - b
    d = np.linalg.norm(diff, axis=-1, keepdims=True)
    safe = np.where(d > 0, d, 1.0)
    expected = y[:, None] * diff - (1 - y[:, None]) * np.maximum(0, 1.5 - d) * diff / safe
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12, atol=1e-15)
    assert np.all(x.grad.numpy()[:3] == 0.0)
    grad = jax.grad(lambda z: lossatlas.contrastive_loss(z, jnp.asarray(b), jnp.asarray(y),
                                                         margin=1.5, reduction="sum"))(
        jnp.asarray(a)
    )  # fmt: skip
    np.testing.assert_allclose(np.asarray(grad), expected, rtol=1e-12, atol=1e-15)


# ---- batch-hard triplet loss --------------------------------------------------------------------
def _pml_batch_hard(e: torch.Tensor, labels: torch.Tensor, margin: float, soft: bool):
    dist = distances.LpDistance(normalize_embeddings=False, p=2, power=1)
    loss = losses.TripletMarginLoss(
        margin=0.0 if soft else margin, smooth_loss=soft, distance=dist,
        reducer=reducers.MeanReducer(),
    )  # fmt: skip
    return loss(e, labels, miners.BatchHardMiner(distance=dist)(e, labels))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_batch_hard_equals_pml(dtype):
    """Random batches (some anchors with no positive), margins, the soft margin: PML's value;
    in float64 also PML's gradient with respect to the embeddings."""
    tdtype = getattr(torch, dtype)
    worst = worst_grad = 0.0
    for seed in RNG_SEEDS:
        g = rng(seed)
        e = g.normal(size=(16, 4)) * g.choice([0.3, 1.0, 3.0])
        labels = g.integers(0, 5, size=16)
        for margin, soft in ((0.2, False), (1.0, False), (3.0, False), (0.0, True)):
            x = torch.tensor(e, dtype=tdtype, requires_grad=True)
            y = torch.tensor(e, dtype=tdtype, requires_grad=True)
            ours = lossatlas.batch_hard_triplet_loss(x, torch.tensor(labels), margin=margin,
                                                     soft=soft)  # fmt: skip
            ref = _pml_batch_hard(y, torch.tensor(labels), margin, soft)
            worst = max(worst, rel_err(ours.detach(), ref.detach()))
            if dtype == "float64":
                ours.backward()
                ref.backward()
                worst_grad = max(worst_grad, rel_err(x.grad, y.grad))
    assert worst < TOL[dtype], worst
    assert worst_grad < 1e-10, worst_grad


def test_batch_hard_sets_and_reference():
    """A batch of sets (*b, N, D) gives each set's loss; each equals the mpmath definition
    (farthest positive, nearest negative, anchors without either left out); a set of one
    class, or of singletons, is 0."""
    g = rng(3)
    e = g.normal(size=(2, 3, 6, 3))
    labels = g.integers(0, 3, size=(2, 3, 6))
    labels[0, 0] = 1  # one class: no negative anywhere
    labels[0, 1] = np.arange(6)  # singletons: no positive anywhere
    for kw in ({"margin": 1.0, "soft": False}, {"margin": 0.1, "soft": False},
               {"margin": 1.0, "soft": True}):  # fmt: skip
        got = lossatlas.batch_hard_triplet_loss(e, labels, reduction="none", **kw)
        assert got.shape == (2, 3)
        for i in np.ndindex(2, 3):
            ref = R.METRIC["batch_hard_triplet_loss"](
                [[mp.mpf(v) for v in row] for row in e[i]], [int(v) for v in labels[i]], **kw
            )
            assert got[i] == pytest.approx(float(ref), rel=1e-13, abs=1e-300)
            assert float(lossatlas.batch_hard_triplet_loss(e[i], labels[i], **kw)) == got[i]
        assert got[0, 0] == 0.0 and got[0, 1] == 0.0
        mean = lossatlas.batch_hard_triplet_loss(e, labels, **kw)
        assert float(mean) == pytest.approx(got.mean(), rel=1e-14)


@pytest.mark.parametrize("kind", ["identical", "zeros", "duplicates"])
def test_batch_hard_degenerate_embeddings(kind):
    """Identical embeddings (every distance 0: the loss is the margin), zero vectors, and
    duplicated rows: finite values and finite gradients on torch and JAX (the distance's
    root at 0 behind a double where); PML's gradient is NaN there."""
    g = rng(4)
    e = {
        "identical": np.tile(g.normal(size=(1, 3)), (6, 1)),
        "zeros": np.zeros((6, 3)),
        "duplicates": np.repeat(g.normal(size=(3, 3)), 2, axis=0),
    }[kind]
    labels = np.array([0, 0, 1, 1, 2, 2])
    x = t64(e, True)
    value = lossatlas.batch_hard_triplet_loss(x, torch.tensor(labels), margin=0.5)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(x.grad).all()
    if kind != "duplicates":
        assert value.item() == 0.5
    grad = jax.grad(
        lambda z: lossatlas.batch_hard_triplet_loss(z, jnp.asarray(labels), margin=0.5)
    )(jnp.asarray(e))
    assert np.isfinite(np.asarray(grad)).all()
    np.testing.assert_allclose(np.asarray(grad), x.grad.numpy(), atol=1e-12)
    for soft in (True,):
        y = t64(e, True)
        lossatlas.batch_hard_triplet_loss(y, torch.tensor(labels), soft=soft).backward()
        assert torch.isfinite(y.grad).all()


def test_batch_hard_probe_closed_form():
    """Along the probe: with the negatives sliding past at (t, 0.5), every anchor's loss is
    max(1 - sqrt(t^2 + 1/4) + m, 0); with a positive at (t, 0, 0) the first anchor's hardest
    positive is max(|t|, 1)."""
    ts = np.linspace(-3, 3, 13)
    probe = lossatlas.batch_hard_triplet_loss.probe(margin=0.3)
    slide = probe.curves[1].make(ts)
    got = lossatlas.batch_hard_triplet_loss(slide["embeddings"], slide["labels"], margin=0.3,
                                            reduction="none")  # fmt: skip
    np.testing.assert_allclose(got, np.maximum(1.3 - np.sqrt(ts**2 + 0.25), 0.0), rtol=1e-14)


# ---- circle loss --------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_circle_equals_pml(dtype):
    """Random batches, gamma 32, 80 and 256, margins 0.25 and 0.4: PML's CircleLoss value
    and, in float64, its gradient (both detach the weights alpha)."""
    tdtype = getattr(torch, dtype)
    worst = worst_grad = 0.0
    for seed in RNG_SEEDS:
        g = rng(seed)
        e = g.normal(size=(16, 5))
        labels = g.integers(0, 4, size=16)
        for gamma, margin in ((80.0, 0.4), (256.0, 0.25), (32.0, 0.1)):
            x = torch.tensor(e, dtype=tdtype, requires_grad=True)
            y = torch.tensor(e, dtype=tdtype, requires_grad=True)
            ours = lossatlas.circle_loss(x, torch.tensor(labels), gamma=gamma, margin=margin)
            ref = losses.CircleLoss(m=margin, gamma=gamma)(y, torch.tensor(labels))
            assert torch.isfinite(ours)
            worst = max(worst, abs(ours.item() - ref.item()) / (1 + abs(ref.item())))
            if dtype == "float64":
                ours.backward()
                ref.backward()
                worst_grad = max(worst_grad, rel_err(x.grad, y.grad))
    assert worst < TOL[dtype] * 5, worst
    assert worst_grad < 1e-10, worst_grad


def test_circle_equals_keras():
    """keras.losses.Circle (JAX backend, float64) on L2-normalised embeddings: the same mean
    over the anchors with a positive and a negative; also in float32 (gamma 80 and 256)."""
    worst = {"float64": 0.0, "float32": 0.0}
    peers = {
        (gamma, margin, dtype): jax.jit(keras.losses.Circle(gamma=gamma, margin=margin,
                                                            dtype=dtype))
        for gamma, margin in ((80.0, 0.4), (256.0, 0.25))
        for dtype in worst
    }  # fmt: skip
    for seed in RNG_SEEDS:
        g = rng(seed)
        e = g.normal(size=(12, 4))
        e /= np.linalg.norm(e, axis=1, keepdims=True)
        labels = g.integers(0, 3, size=12)
        for gamma, margin in ((80.0, 0.4), (256.0, 0.25)):
            for dtype in worst:
                ref = peers[gamma, margin, dtype](jnp.asarray(labels), jnp.asarray(e, dtype=dtype))
                ours = lossatlas.circle_loss(jnp.asarray(e, dtype=dtype), jnp.asarray(labels),
                                             gamma=gamma, margin=margin)  # fmt: skip
                err = abs(float(ours) - float(ref)) / (1 + abs(float(ref)))
                worst[dtype] = max(worst[dtype], err)
    assert worst["float64"] < 1e-12 and worst["float32"] < 1e-4, worst


def test_circle_reference_and_stability():
    """The mpmath definition on random sets; gamma = 256 in float32 equals float64 to float32
    precision (the log-sum-exps are shifted: no overflow), and float16 computes in float32."""
    g = rng(5)
    e = g.normal(size=(4, 6, 3))
    labels = g.integers(0, 2, size=(4, 6))
    labels[0] = [0, 1, 2, 3, 4, 5]  # no positives: 0
    for gamma, margin in ((80.0, 0.4), (256.0, 0.25)):
        got = lossatlas.circle_loss(e, labels, gamma=gamma, margin=margin, reduction="none")
        for i in range(4):
            ref = R.METRIC["circle_loss"](
                [[mp.mpf(v) for v in row] for row in e[i]], [int(v) for v in labels[i]],
                gamma=gamma, margin=margin,
            )  # fmt: skip
            assert got[i] == pytest.approx(float(ref), rel=1e-12, abs=1e-300)
        assert got[0] == 0.0
        for dtype in (torch.float32, torch.float16):
            low = lossatlas.circle_loss(
                torch.tensor(e, dtype=dtype),
                torch.tensor(labels),
                gamma=gamma,
                margin=margin,
                reduction="none",
            )
            assert low.dtype == dtype and torch.isfinite(low).all()
            np.testing.assert_allclose(low.double().numpy(), got, rtol=2e-3 if
                                       dtype == torch.float16 else 5e-5)  # fmt: skip


@pytest.mark.parametrize("kind", ["identical", "zeros"])
def test_circle_degenerate_embeddings(kind):
    """Identical embeddings (every similarity 1) and zero vectors (normalised to 0: every
    similarity 0): finite values and gradients on torch and JAX, equal to the restated
    closed form: identical, gamma 80, m 0.4: each anchor softplus(log(P e^{-g (m)(m)}) +
    log(Q e^{g (1 + m)(1 - m)})) for P positives and Q negatives."""
    e = np.ones((6, 3)) if kind == "identical" else np.zeros((6, 3))
    labels = np.array([0, 0, 0, 1, 1, 2])
    x = t64(e, True)
    value = lossatlas.circle_loss(x, torch.tensor(labels))
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(x.grad).all()
    grad = jax.grad(lambda z: lossatlas.circle_loss(z, jnp.asarray(labels)))(jnp.asarray(e))
    assert np.isfinite(np.asarray(grad)).all()
    gamma, m = 80.0, 0.4
    s = 1.0 if kind == "identical" else 0.0
    lp = -gamma * max(0.0, 1 + m - s) * (s - (1 - m))
    ln = gamma * max(0.0, s + m) * (s - m)
    per = []
    for y in labels:
        n_pos = int(np.sum(labels == y)) - 1
        n_neg = int(np.sum(labels != y))
        if n_pos and n_neg:
            per.append(np.logaddexp(0.0, lp + np.log(n_pos) + ln + np.log(n_neg)))
    assert value.item() == pytest.approx(np.mean(per), rel=1e-13)


# ---- modules, errors ----------------------------------------------------------------------------
def test_torch_modules():
    """Every loss has its module; TripletMarginLoss takes torch's arguments and equals
    torch.nn.TripletMarginLoss; the batch modules weigh sets."""
    for name, cls in (("contrastive_loss", "ContrastiveLoss"),
                      ("triplet_margin_loss", "TripletMarginLoss"),
                      ("batch_hard_triplet_loss", "BatchHardTripletLoss"),
                      ("circle_loss", "CircleLoss")):  # fmt: skip
        assert lt.MODULES[name].__name__ == cls
    g = rng(6)
    a, p, n = (torch.tensor(g.normal(size=(10, 4))) for _ in range(3))
    for kw in ({"margin": 0.5, "p": 1.0, "swap": True}, {"eps": 1e-3, "reduction": "sum"}):
        ours = lt.TripletMarginLoss(**kw)(a, p, n)
        assert ours.item() == pytest.approx(torch.nn.TripletMarginLoss(**kw)(a, p, n).item(),
                                            rel=1e-12)  # fmt: skip
    e = torch.tensor(g.normal(size=(3, 5, 2)))
    labels = torch.tensor(g.integers(0, 2, size=(3, 5)))
    per_set = lt.BatchHardTripletLoss(margin=0.5, reduction="none")(e, labels)
    w = torch.tensor([1.0, 0.0, 3.0], dtype=torch.float64)
    weighted = lt.BatchHardTripletLoss(margin=0.5)(e, labels, weight=w)
    assert weighted.item() == pytest.approx(((per_set * w).sum() / w.sum()).item(), rel=1e-14)
    assert lt.CircleLoss(gamma=64.0)(e, labels).shape == ()


def test_bad_inputs_raise():
    """Non-integer labels, labels of another length, embeddings without a D axis, mismatched
    embedding dims, a contrastive target outside [0, 1], a norm degree below 1, a margin
    below 0: LossInputError naming the argument."""
    e = np.zeros((5, 3))
    labels = np.array([0, 0, 1, 1, 2])
    cases = [
        (lambda: lossatlas.batch_hard_triplet_loss(e, labels.astype(float)), "labels"),
        (lambda: lossatlas.circle_loss(e, labels.astype(float)), "labels"),
        (lambda: lossatlas.circle_loss(e, labels[:4]), "labels"),
        (lambda: lossatlas.batch_hard_triplet_loss(e[:, 0], labels), "embeddings"),
        (lambda: lossatlas.triplet_margin_loss(e, e, np.zeros((5, 4))), "negative"),
        (lambda: lossatlas.contrastive_loss(e, np.zeros((5, 2)), np.ones(5)), "x2"),
        (lambda: lossatlas.contrastive_loss(e, e, np.array([1, 0, -1, 1, 0.0])), "target"),
        (lambda: lossatlas.triplet_margin_loss(e, e, e, p=0.5), "p"),
        (lambda: lossatlas.batch_hard_triplet_loss(e, labels, margin=-1.0), "margin"),
        (lambda: lossatlas.circle_loss(e, labels, gamma=0.0), "gamma"),
        (lambda: lossatlas.circle_loss(e, labels, margin=0.6), "margin"),
    ]
    for fn, argument in cases:
        with pytest.raises(LossInputError) as info:
            fn()
        assert info.value.argument == argument, str(info.value)
