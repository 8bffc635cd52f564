"""Segmentation overlap losses against MONAI, Keras 3, optax and segmentation_models_pytorch.

Conventions mapped here:
- MONAI's ``smooth_nr`` / ``smooth_dr`` are ours with both equal to ``smooth`` (its
  ``jaccard=True`` divides 2 TP + s by 2 (TP + FP + FN) + s: ours with smooth = s / 2); its
  ``batch=True`` is ``per_image=False``; its ``include_background=False`` is a class weight
  of 0 on class 0 (our weighted mean divides by the weights); its "none" is (N, C, 1, ..., 1)
  and its ``weight`` mean divides by N C (ours by N sum(w)). MONAI's one-hot conversion makes
  float32 targets, so float64 one-hot targets are passed to it directly.
- Keras 3 ``Dice`` / ``Tversky`` sum over ``axis`` (None: everything, batch included) with
  epsilon 1e-7 in the denominator only; its Tversky calls sum((1 - p) y) "fp", so its alpha is
  our beta.
- optax's ``dice_loss`` is a Tversky form with the classes last, averaged over the classes.
- segmentation_models_pytorch does not import here (it needs torchvision): its losses are
  restated below from ``segmentation_models_pytorch/losses/_functional.py`` (soft_dice_score,
  soft_jaccard_score, soft_tversky_score) and ``losses/dice.py``, ``jaccard.py``,
  ``tversky.py`` (smp 0.3-0.5): sums over the batch and the pixels, the denominator clamped
  at eps = 1e-7, a class absent from the target contributes 0, and the Tversky ``gamma`` is
  applied to the mean over the classes.
"""

from __future__ import annotations

import os
import warnings

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax
import jax.numpy as jnp
import keras
import monai.losses as ml
import numpy as np
import optax
import pytest
import torch
import torch.nn.functional as F

import lossatlas as la
import lossatlas.torch as lt
from lossatlas import LossInputError

jax.config.update("jax_enable_x64", True)
warnings.filterwarnings("ignore", message=".*single channel prediction.*")

OVERLAP = [la.dice_loss, la.jaccard_loss, la.tversky_loss, la.focal_tversky_loss]
ALL = [*OVERLAP, la.generalized_dice_loss, la.dice_ce_loss]
SEEDS = range(12)


def _case(seed: int, n: int = 3, c: int = 4, spatial=(5, 6), empty_class: bool = True):
    """Logits (N, C, *spatial) float64, class indices (N, *spatial), their one-hot
    (N, C, *spatial) float64; every other seed leaves the last class out of sample 0."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, *spatial, generator=g, dtype=torch.float64) * 2.0
    y = torch.randint(0, c, (n, *spatial), generator=g)
    if empty_class and seed % 2:
        y[0] = torch.where(y[0] == c - 1, 0, y[0])
    onehot = F.one_hot(y, c).movedim(-1, 1).to(torch.float64)
    return x, y, onehot


def _np(t):
    return t.detach().numpy()


def close(a, b, rtol=1e-12, atol=1e-13):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=rtol,
                               atol=atol)  # fmt: skip


# ---- MONAI ------------------------------------------------------------------------------------
MONAI_DICE = [
    ({}, {}),
    ({"squared_pred": True}, {"squared": True}),
    ({"batch": True}, {"per_image": False}),
    ({"jaccard": True}, {"jaccard": True}),
    ({"squared_pred": True, "batch": True}, {"squared": True, "per_image": False}),
]


@pytest.mark.parametrize("activation", ["softmax", "sigmoid", "none"])
@pytest.mark.parametrize(("monai_kw", "ours"), MONAI_DICE, ids=lambda v: str(v))
def test_dice_equals_monai(monai_kw, ours, activation):
    """DiceLoss(softmax | sigmoid | no activation) per sample and class ("none"), over twelve
    random cases (some with a class absent from a sample), smooth 1 and 0.3."""
    ours = dict(ours)
    jaccard = ours.pop("jaccard", False)
    mode = {"softmax": "multiclass", "sigmoid": "multilabel", "none": "multilabel"}[activation]
    for seed in SEEDS:
        x, y, onehot = _case(seed)
        smooth = 1.0 if seed < 6 else 0.3
        pred = x if activation != "none" else torch.sigmoid(x)
        monai = ml.DiceLoss(softmax=activation == "softmax", sigmoid=activation == "sigmoid",
                            smooth_nr=smooth, smooth_dr=smooth, reduction="none", **monai_kw)(
            pred, onehot)  # fmt: skip
        fn = la.jaccard_loss if jaccard else la.dice_loss
        got = fn(pred, onehot if mode == "multilabel" or seed % 3 else y, axis=1, mode=mode,
                 from_logits=activation != "none", smooth=smooth / 2 if jaccard else smooth,
                 reduction="none", **ours)  # fmt: skip
        close(got, _np(monai).reshape(got.shape))
        mean = fn(pred, onehot, axis=1, mode=mode, from_logits=activation != "none",
                  smooth=smooth / 2 if jaccard else smooth, **ours)  # fmt: skip
        close(mean, float(monai.mean()))


def test_dice_include_background_and_class_weight_map_to_monai():
    """include_background=False is class weight (0, 1, ..., 1); MONAI's weighted mean is ours
    times sum(w) / C; "none" is the same."""
    for seed in SEEDS:
        x, y, onehot = _case(seed)
        monai = ml.DiceLoss(softmax=True, include_background=False, smooth_nr=1.0, smooth_dr=1.0)
        w = torch.tensor([0.0, 1.0, 1.0, 1.0], dtype=torch.float64)
        close(la.dice_loss(x, y, axis=1, from_logits=True, class_weight=w), float(monai(x, onehot)))
        w = torch.rand(4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        monai = ml.DiceLoss(softmax=True, weight=w, smooth_nr=1.0, smooth_dr=1.0)
        ours = la.dice_loss(x, y, axis=1, from_logits=True, class_weight=w)
        close(ours * w.sum() / 4, float(monai(x, onehot)))
        none = ml.DiceLoss(softmax=True, weight=w, smooth_nr=1.0, smooth_dr=1.0,
                           reduction="none")(x, onehot)  # fmt: skip
        close(
            la.dice_loss(x, y, axis=1, from_logits=True, class_weight=w, reduction="none"),
            _np(none)[..., 0, 0],
        )


@pytest.mark.parametrize("batch", [False, True])
def test_generalized_dice_equals_monai(batch):
    """GeneralizedDiceLoss (inverse squared volumes; an absent class gets the largest finite
    weight of its sample, or of the batch): MONAI computes the weights in float32, so 1e-6."""
    for seed in SEEDS:
        x, y, onehot = _case(seed)
        monai = ml.GeneralizedDiceLoss(softmax=True, batch=batch, reduction="none")(x, onehot)
        got = la.generalized_dice_loss(
            x, y, axis=1, from_logits=True, per_image=not batch, reduction="none"
        )
        close(got, _np(monai).reshape(got.shape), rtol=1e-6, atol=1e-9)
    # every class absent from a sample except the background: still finite and equal
    x, y, onehot = _case(0)
    y[1] = 0
    onehot = F.one_hot(y, 4).movedim(-1, 1).to(torch.float64)
    monai = ml.GeneralizedDiceLoss(softmax=True, reduction="none")(x, onehot)
    got = la.generalized_dice_loss(x, y, axis=1, from_logits=True, reduction="none")
    close(got, _np(monai).reshape(got.shape), rtol=1e-6, atol=1e-9)


def test_tversky_equals_monai():
    for seed in SEEDS:
        x, y, onehot = _case(seed)
        a, b = np.random.default_rng(seed).uniform(0.0, 1.5, size=2)
        for batch in (False, True):
            monai = ml.TverskyLoss(softmax=True, alpha=a, beta=b, smooth_nr=1.0, smooth_dr=1.0,
                                   batch=batch, reduction="none")(x, onehot)  # fmt: skip
            got = la.tversky_loss(x, y, axis=1, from_logits=True, alpha=a, beta=b,
                                  per_image=not batch, reduction="none")  # fmt: skip
            close(got, _np(monai).reshape(got.shape))
        # focal Tversky: the same ratio to the power gamma
        got = la.focal_tversky_loss(
            x, y, axis=1, from_logits=True, alpha=a, beta=b, gamma=0.75, reduction="none"
        )
        monai = ml.TverskyLoss(softmax=True, alpha=a, beta=b, smooth_nr=1.0, smooth_dr=1.0,
                               reduction="none")(x, onehot)  # fmt: skip
        close(got, _np(monai).reshape(got.shape) ** 0.75)


@pytest.mark.parametrize("batch", [False, True])
def test_dice_ce_equals_monai(batch):
    """DiceCELoss with softmax: the mean Dice plus the mean cross entropy, both weighted."""
    for seed in SEEDS:
        x, y, _ = _case(seed)
        ld, lc = np.random.default_rng(seed).uniform(0.2, 2.0, size=2)
        monai = ml.DiceCELoss(
            softmax=True,
            to_onehot_y=True,
            smooth_nr=1.0,
            smooth_dr=1.0,
            batch=batch,
            lambda_dice=ld,
            lambda_ce=lc,
        )(x, y[:, None])
        got = la.dice_ce_loss(
            x, y, axis=1, from_logits=True, per_image=not batch, lambda_dice=ld, lambda_ce=lc
        )
        close(got, float(monai))


@pytest.mark.parametrize("name", ["dice", "tversky", "gdl", "dice_ce"])
def test_gradients_equal_monai_autograd(name):
    """torch autograd through our definition gives MONAI's logit gradient."""
    for seed in range(6):
        x, y, onehot = _case(seed)
        a = x.clone().requires_grad_(True)
        b = x.clone().requires_grad_(True)
        if name == "dice":
            ours = la.dice_loss(a, y, axis=1, from_logits=True)
            theirs = ml.DiceLoss(softmax=True, smooth_nr=1.0, smooth_dr=1.0)(b, onehot)
        elif name == "tversky":
            ours = la.tversky_loss(
                a, onehot, axis=1, from_logits=True, mode="multilabel", alpha=0.3, beta=0.7
            )
            theirs = ml.TverskyLoss(sigmoid=True, alpha=0.3, beta=0.7, smooth_nr=1.0,
                                    smooth_dr=1.0)(b, onehot)  # fmt: skip
        elif name == "gdl":
            ours = la.generalized_dice_loss(a, y, axis=1, from_logits=True)
            theirs = ml.GeneralizedDiceLoss(softmax=True)(b, onehot)
        else:
            ours = la.dice_ce_loss(a, y, axis=1, from_logits=True)
            theirs = ml.DiceCELoss(softmax=True, to_onehot_y=True, smooth_nr=1.0,
                                   smooth_dr=1.0)(b, y[:, None])  # fmt: skip
        ours.backward()
        theirs.backward()
        tol = 1e-6 if name == "gdl" else 1e-12
        close(_np(a.grad), _np(b.grad), rtol=tol, atol=tol * 1e-3)


# ---- Keras 3 and optax ------------------------------------------------------------------------
def test_keras_dice_and_tversky():
    """Keras's Dice and Tversky (epsilon 1e-7 in the denominator, no smoothing; axis None sums
    the batch too, and its Tversky alpha weights sum((1 - p) y)) on probabilities."""
    rng = np.random.default_rng(0)
    for _ in range(10):
        p = rng.uniform(size=(4, 6, 7))
        y = (rng.uniform(size=(4, 6, 7)) < 0.4).astype(np.float64)
        kd = float(keras.losses.Dice()(y, p))
        close(la.dice_loss(p, y, mode="binary", from_logits=False, smooth=0.0,
                           per_image=False), kd, rtol=1e-6)  # fmt: skip
        kd = np.asarray(keras.losses.Dice(axis=(1, 2), reduction=None)(y, p))
        close(la.dice_loss(p, y, mode="binary", from_logits=False, smooth=0.0,
                           reduction="none"), kd, rtol=1e-6)  # fmt: skip
        a, b = rng.uniform(0.1, 1.0, size=2)
        kt = np.asarray(keras.losses.Tversky(alpha=a, beta=b, axis=(1, 2), reduction=None)(y, p))
        close(la.tversky_loss(p, y, mode="binary", from_logits=False, smooth=0.0, alpha=b,
                              beta=a, reduction="none"), kt, rtol=1e-6)  # fmt: skip


def test_optax_dice_loss():
    """optax.losses.dice_loss (classes last, softmax, mean over the classes): our Tversky with
    the same alpha, beta and smooth; at alpha = beta = 1/2 our Dice with smooth 2 s."""
    rng = np.random.default_rng(1)
    for _ in range(10):
        z = rng.normal(size=(3, 5, 6, 4)) * 2
        y = rng.integers(0, 4, size=(3, 5, 6))
        onehot = np.eye(4)[y]
        s = float(rng.uniform(0.1, 2.0))
        a, b = rng.uniform(0.1, 1.0, size=2)
        theirs = optax.losses.dice_loss(jnp.asarray(z), jnp.asarray(onehot), smooth=s, alpha=a,
                                        beta=b, reduction="none")  # fmt: skip
        ours = la.tversky_loss(z, y, alpha=a, beta=b, smooth=s, from_logits=True, reduction="none")
        close(ours, np.asarray(theirs))
        theirs = optax.losses.dice_loss(jnp.asarray(z), jnp.asarray(onehot), smooth=s)
        close(la.dice_loss(z, y, smooth=2 * s, from_logits=True, reduction="none").mean(axis=-1),
              np.asarray(theirs))  # fmt: skip


# ---- segmentation_models_pytorch, restated ----------------------------------------------------
def _smp(kind: str, logits: np.ndarray, y: np.ndarray, mode: str, smooth=0.0, alpha=0.5,
         beta=0.5, gamma=1.0, eps=1e-7) -> float:  # fmt: skip
    """smp's DiceLoss / JaccardLoss / TverskyLoss(mode, from_logits=True), restated: logits
    (N, C, H, W), targets (N, H, W) class indices (multiclass) or (N, C, H, W) (multilabel) or
    (N, 1, H, W) (binary); sums over dims (0, 2) of (N, C, HW)."""
    n, c = logits.shape[:2]
    if mode == "multiclass":
        z = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        t = np.moveaxis(np.eye(c)[y.reshape(n, -1)], -1, 1)  # (N, C, HW)
    else:
        p = 1.0 / (1.0 + np.exp(-logits))
        t = y.reshape(n, c, -1)
    p = p.reshape(n, c, -1)
    dims = (0, 2)
    inter = np.sum(p * t, axis=dims)
    if kind == "dice":
        score = (2 * inter + smooth) / np.maximum(np.sum(p + t, axis=dims) + smooth, eps)
    elif kind == "jaccard":
        union = np.sum(p + t, axis=dims) - inter
        score = (inter + smooth) / np.maximum(union + smooth, eps)
    else:
        fp, fn = np.sum(p * (1 - t), axis=dims), np.sum((1 - p) * t, axis=dims)
        score = (inter + smooth) / np.maximum(inter + alpha * fp + beta * fn + smooth, eps)
    loss = (1.0 - score) * (np.sum(t, axis=dims) > 0)  # classes absent from the target: 0
    return float(loss.mean() ** gamma)


@pytest.mark.parametrize("mode", ["binary", "multiclass", "multilabel"])
def test_smp_formulas(mode):
    """smp's losses (per_image=False, the mean over the classes) where every class is present
    in the target; smp's mask makes an absent class cost 0 whatever is predicted (ours
    counts its false positives)."""
    rng = np.random.default_rng(2)
    for _ in range(8):
        c = 1 if mode == "binary" else 3
        logits = rng.normal(size=(2, c, 4, 5)) * 2
        if mode == "multiclass":
            y = rng.integers(0, c, size=(2, 4, 5))
            ours_target = y
        else:
            y = (rng.uniform(size=(2, c, 4, 5)) < 0.5).astype(np.float64)
            ours_target = y[:, 0] if mode == "binary" else y
        pred = logits[:, 0] if mode == "binary" else logits
        kw = {"mode": mode, "axis": 1, "per_image": False, "from_logits": True}
        s = float(rng.uniform(0, 1))
        close(la.dice_loss(pred, ours_target, smooth=s, **kw), _smp("dice", logits, y, mode, s))
        close(la.jaccard_loss(pred, ours_target, smooth=s, **kw),
              _smp("jaccard", logits, y, mode, s))  # fmt: skip
        a, b = rng.uniform(0.1, 1.0, size=2)
        close(la.tversky_loss(pred, ours_target, smooth=s, alpha=a, beta=b, **kw),
              _smp("tversky", logits, y, mode, s, a, b))  # fmt: skip
        if mode == "binary":  # one class: smp's gamma of the class mean is ours
            close(
                la.focal_tversky_loss(
                    pred, ours_target, smooth=s, alpha=a, beta=b, gamma=1.5, **kw
                ),
                _smp("tversky", logits, y, mode, s, a, b, 1.5),
            )


# ---- closed forms and edges -------------------------------------------------------------------
@pytest.mark.parametrize("loss", [*OVERLAP, la.generalized_dice_loss], ids=lambda f: f.name)
def test_perfect_prediction_is_zero(loss):
    y = (np.random.default_rng(3).uniform(size=(2, 7, 9)) < 0.3).astype(np.float64)
    for smooth in (0.0, 1.0):
        got = loss(y, y, mode="binary", from_logits=False, smooth=smooth, reduction="none")
        assert np.all(got == 0.0), got
    labels = np.random.default_rng(4).integers(0, 3, size=(2, 7, 9))
    assert float(loss(np.eye(3)[labels], labels, from_logits=False)) == 0.0


def test_disjoint_masks():
    """Disjoint hard masks: 1 - s / (|p| + |y| + s) for Dice, 1 - s / (|p| + |y| + s) for
    Jaccard (the union is |p| + |y|), 1 - s / (a|p| + b|y| + s) for Tversky."""
    p = np.zeros((1, 10))
    y = np.zeros((1, 10))
    p[0, :3] = 1.0
    y[0, 5:9] = 1.0
    for s in (0.0, 0.5, 1.0, 3.0):
        kw = {"mode": "binary", "from_logits": False, "smooth": s}
        close(la.dice_loss(p, y, **kw), 1 - s / (3 + 4 + s))
        close(la.jaccard_loss(p, y, **kw), 1 - s / (3 + 4 + s))
        close(la.tversky_loss(p, y, alpha=0.3, beta=0.7, **kw), 1 - s / (0.9 + 2.8 + s))
        close(la.focal_tversky_loss(p, y, alpha=0.3, beta=0.7, gamma=2.0, **kw),
              (1 - s / (0.9 + 2.8 + s)) ** 2)  # fmt: skip
        close(la.dice_loss(p, y, squared=True, **kw), 1 - s / (3 + 4 + s))


@pytest.mark.parametrize("loss", ALL, ids=lambda f: f.name)
@pytest.mark.parametrize("smooth", [0.0, 1.0])
def test_empty_prediction_on_empty_target(loss, smooth):
    """An empty prediction on an empty target is 0 with a finite gradient (torch and JAX),
    in every mode, on probabilities (p = 0 exactly); on logits of -40 (p = e^-40 everywhere)
    it is about 1e-16 with smooth 1, and 1 with smooth 0 (every bit of predicted mass is then
    a false positive: the limit at the empty prediction is not its value)."""
    for mode in ("binary", "multilabel"):
        shape = (2, 4, 5) if mode == "binary" else (2, 4, 5, 3)
        for from_logits, value in ((False, 0.0), (True, -40.0)):
            pred = torch.full(shape, value, dtype=torch.float64, requires_grad=True)
            target = torch.zeros(shape, dtype=torch.float64)
            out = loss(pred, target, mode=mode, from_logits=from_logits, smooth=smooth)
            if not from_logits:
                assert float(out) == 0.0, (mode, out)
            elif smooth:
                assert 0.0 <= float(out) < 1e-12, (mode, out)
            else:
                assert float(out) == (0.0 if loss is la.generalized_dice_loss else 1.0), out
            out.backward()
            assert torch.isfinite(pred.grad).all()
            zeros = jnp.zeros(shape)
            g = jax.grad(
                lambda p, m=mode, f=from_logits, t=zeros: loss(
                    p, t, mode=m, from_logits=f, smooth=smooth
                )
            )(jnp.asarray(_np(pred)))
            assert np.isfinite(np.asarray(g)).all()
    # with smooth > 0 the gradient at p = 0 is 1/s per pixel in probability space (Dice)
    if loss is la.dice_loss and smooth:
        pred = torch.zeros((1, 6), dtype=torch.float64, requires_grad=True)
        la.dice_loss(pred, torch.zeros((1, 6)), mode="binary", from_logits=False,
                     smooth=smooth).backward()  # fmt: skip
        close(_np(pred.grad), np.full((1, 6), 1.0 / smooth))


def test_focal_tversky_gradient_at_a_perfect_fit_is_zero():
    y = torch.tensor([[1.0, 0.0, 1.0, 0.0]], dtype=torch.float64)
    pred = y.clone().requires_grad_(True)
    la.focal_tversky_loss(pred, y, mode="binary", from_logits=False, gamma=0.5).backward()
    assert torch.equal(pred.grad, torch.zeros_like(pred))


def test_tversky_half_half_is_dice_and_one_one_is_jaccard():
    """Tversky(1/2, 1/2, s) is Dice with smooth 2 s (its ratio is halved top and bottom);
    Tversky(1, 1, s) is Jaccard with smooth s."""
    rng = np.random.default_rng(5)
    z, y = rng.normal(size=(3, 4, 5, 3)), rng.integers(0, 3, size=(3, 4, 5))
    close(
        la.tversky_loss(z, y, from_logits=True, reduction="none"),
        la.dice_loss(z, y, smooth=2.0, from_logits=True, reduction="none"),
    )
    close(la.tversky_loss(z, y, alpha=1.0, beta=1.0, from_logits=True, reduction="none"),
          la.jaccard_loss(z, y, from_logits=True, reduction="none"))  # fmt: skip
    close(la.focal_tversky_loss(z, y, alpha=0.5, beta=0.5, gamma=1.0, from_logits=True,
                                reduction="none"),
          la.dice_loss(z, y, smooth=2.0, from_logits=True, reduction="none"))  # fmt: skip


def test_dice_ce_reuses_dice_and_cross_entropy():
    """dice_ce = lambda_dice mean_c dice + lambda_ce mean cross entropy, per sample, from the
    library's own dice_loss, cross_entropy and binary_cross_entropy_with_logits."""
    rng = np.random.default_rng(6)
    z, y = rng.normal(size=(3, 4, 5, 3)) * 2, rng.integers(0, 3, size=(3, 4, 5))
    w = np.array([0.5, 1.0, 2.0])
    got = la.dice_ce_loss(z, y, lambda_dice=0.7, lambda_ce=1.3, class_weight=w, ignore_index=1,
                          from_logits=True, reduction="none")  # fmt: skip
    dice = la.dice_loss(z, y, class_weight=w, ignore_index=1, from_logits=True, reduction="none")
    ce = [la.cross_entropy(z[i], y[i], class_weight=w, ignore_index=1) for i in range(3)]
    close(got, 0.7 * dice.sum(axis=-1) / w.sum() + 1.3 * np.array(ce))
    onehot = np.eye(3)[y]
    got = la.dice_ce_loss(z, onehot, mode="multilabel", from_logits=True, reduction="none")
    bce = la.binary_cross_entropy_with_logits(z, onehot, reduction="none").mean(axis=(1, 2, 3))
    close(
        got,
        la.dice_loss(z, onehot, mode="multilabel", from_logits=True, reduction="none").mean(-1)
        + bce,
    )


# ---- options ----------------------------------------------------------------------------------
def _direct_dice(p: np.ndarray, y: np.ndarray, s: float) -> float:
    return 1.0 - (2 * np.sum(p * y) + s) / (np.sum(p) + np.sum(y) + s)


def test_ignore_index_removes_pixels():
    """Ignored pixels are removed from every sum: the loss equals the direct formula on the
    kept pixels alone (binary and multilabel: elementwise; multiclass: the pixel's every
    class)."""
    rng = np.random.default_rng(7)
    for _ in range(6):
        p = rng.uniform(size=(3, 4, 5))
        y = (rng.uniform(size=(3, 4, 5)) < 0.5).astype(np.float64)
        y = np.where(rng.uniform(size=y.shape) < 0.3, 255.0, y)
        got = la.dice_loss(p, y, mode="binary", from_logits=False, ignore_index=255,
                           reduction="none")  # fmt: skip
        keep = y != 255
        close(got, [_direct_dice(p[i][keep[i]], y[i][keep[i]], 1.0) for i in range(3)])
        z = rng.normal(size=(3, 4, 5, 3))
        labels = rng.integers(0, 3, size=(3, 4, 5))
        labels = np.where(rng.uniform(size=labels.shape) < 0.3, -100, labels)
        got = la.dice_loss(z, labels, ignore_index=-100, from_logits=True, reduction="none")
        prob = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
        for i in range(3):
            kept = labels[i] != -100
            for c in range(3):
                close(got[i, c], _direct_dice(prob[i][kept][:, c], labels[i][kept] == c, 1.0))


def test_per_image_false_sums_the_batch_and_weights():
    rng = np.random.default_rng(8)
    z, y = rng.normal(size=(4, 5, 3)), rng.integers(0, 3, size=(4, 5))
    batch = la.dice_loss(z, y, per_image=False, from_logits=True, reduction="none")
    assert batch.shape == (3,)
    close(
        batch,
        la.dice_loss(z.reshape(1, 20, 3), y.reshape(1, 20), from_logits=True, reduction="none")[0],
    )
    binary = la.dice_loss(
        z[..., 0], y == 1, mode="binary", per_image=False, from_logits=True, reduction="none"
    )
    assert binary.shape == ()
    # class weights enter the mean: sum(u w_c l) / sum(u w_c)
    w, u = np.array([1.0, 2.0, 0.0]), rng.uniform(size=(4, 1))
    none = la.dice_loss(z, y, from_logits=True, reduction="none")
    close(
        la.dice_loss(z, y, class_weight=w, weight=u, from_logits=True),
        np.sum(u * w * none) / np.sum(u * w),
    )
    close(la.dice_loss(z, y, class_weight=w, per_image=False, from_logits=True),
          np.sum(w * batch) / np.sum(w))  # fmt: skip


def test_axis_and_probability_targets():
    rng = np.random.default_rng(9)
    z, y = rng.normal(size=(2, 3, 4, 5)), rng.integers(0, 3, size=(2, 4, 5))
    first = la.dice_loss(z, y, axis=1, from_logits=True, reduction="none")
    close(first, la.dice_loss(np.moveaxis(z, 1, -1), y, from_logits=True, reduction="none"))
    close(
        first,
        la.dice_loss(
            z, np.moveaxis(np.eye(3)[y], -1, 1), axis=1, from_logits=True, reduction="none"
        ),
    )


# ---- errors -----------------------------------------------------------------------------------
@pytest.mark.parametrize("loss", ALL, ids=lambda f: f.name)
def test_errors(loss):
    z = np.zeros((2, 4, 3))
    with pytest.raises(LossInputError, match="pred"):  # probabilities outside [0, 1]
        loss(z + 1.5, np.zeros((2, 4), dtype=np.int64), from_logits=False)
    with pytest.raises(LossInputError, match="target"):  # a class index >= C
        loss(z, np.full((2, 4), 3), from_logits=True)
    with pytest.raises(LossInputError, match="target"):  # a one-hot of another class count
        loss(z, np.zeros((2, 4, 4)), from_logits=True)
    with pytest.raises(LossInputError, match="class_weight"):
        loss(z, np.zeros((2, 4), dtype=np.int64), class_weight=np.ones(4), from_logits=True)
    with pytest.raises(LossInputError, match="target"):  # a mask value outside [0, 1]
        loss(z[..., 0], np.full((2, 4), 2.0), mode="binary", from_logits=True)
    with pytest.raises(LossInputError, match="target"):  # binary: the same shape
        loss(z[..., 0], np.zeros((2, 5)), mode="binary", from_logits=True)
    with pytest.raises(LossInputError, match="class_weight"):
        loss(z[..., 0], np.zeros((2, 4)), mode="binary", class_weight=np.ones(1), from_logits=True)
    with pytest.raises(LossInputError, match="mode"):
        loss(z, np.zeros((2, 4), dtype=np.int64), mode="softmax", from_logits=True)
    with pytest.raises(LossInputError, match="smooth"):
        loss(z, np.zeros((2, 4), dtype=np.int64), smooth=-1.0, from_logits=True)
    # an ignored value is accepted in a mask
    loss(z[..., 0], np.full((2, 4), 255.0), mode="binary", ignore_index=255, from_logits=True)


def test_multiclass_domains_catch_a_misread_mode():
    """mode="multiclass" (the default) takes class probabilities along the class axis and a
    target of pred's shape summing to 1 there: a binary mask (N, H, W) passed without
    mode="binary" raises, naming mode (its last axis would be read as the classes)."""
    rng = np.random.default_rng(11)
    mask = (rng.uniform(size=(2, 5, 6)) < 0.5).astype(np.float64)
    prob = rng.uniform(size=(2, 5, 6))
    z = rng.normal(size=(2, 5, 3))
    soft = rng.dirichlet(np.ones(3), size=(2, 5))
    for loss in ALL:
        with pytest.raises(LossInputError, match="mode='binary'") as err:
            loss(prob, mask)
        assert err.value.argument == "pred" and "sums from" in err.value.got
        with pytest.raises(LossInputError, match="mode='binary'") as err:
            loss(rng.normal(size=(2, 5, 6)), mask, from_logits=True)
        assert err.value.argument == "target" and "class axis" in err.value.expected
        assert np.isfinite(float(loss(prob, mask, mode="binary")))
        # soft class probabilities are a target; scaled ones are not
        assert np.isfinite(float(loss(z, soft, from_logits=True)))
        with pytest.raises(LossInputError, match="summing to 1") as err:
            loss(z, soft * 1.5, from_logits=True)
        assert err.value.argument == "target"
        # logits read as probabilities (the default from_logits=False)
        with pytest.raises(LossInputError, match="from_logits=True") as err:
            loss(z, np.zeros((2, 5), dtype=np.int64))
        assert err.value.argument == "pred"
        with pytest.raises(LossInputError, match="from_logits=True"):
            loss(z, soft, mode="multilabel")
    # the default reads probabilities: a softmax output gives the logits' loss
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    labels = rng.integers(0, 3, size=(2, 5))
    for loss in ALL:
        close(loss(e / e.sum(axis=-1, keepdims=True), labels), loss(z, labels, from_logits=True))


# ---- torch modules and JAX --------------------------------------------------------------------
@pytest.mark.parametrize("spatial", [(5, 6), (3, 4, 5)], ids=["2d", "3d"])
@pytest.mark.parametrize("name", ["DiceLoss", "JaccardLoss", "TverskyLoss", "FocalTverskyLoss",
                                  "GeneralizedDiceLoss", "DiceCELoss"])  # fmt: skip
def test_torch_modules_take_dim_1(name, spatial):
    """The modules read (N, C, H, W) and (N, C, D, H, W) with dim=1, as the core with axis=1
    does; backward works."""
    x, y, onehot = _case(0, spatial=spatial)
    module = getattr(lt, name)(from_logits=True)
    core = lt.MODULES[module.loss.name].loss
    pred = x.clone().requires_grad_(True)
    out = module(pred, y)
    close(float(out), float(core(x, y, axis=1, from_logits=True)))
    out.backward()
    assert torch.isfinite(pred.grad).all()
    multilabel = getattr(lt, name)(mode="multilabel", from_logits=True, reduction="none")(x, onehot)
    close(
        _np(multilabel),
        _np(core(x, onehot, axis=1, mode="multilabel", from_logits=True, reduction="none")),
    )
    binary = getattr(lt, name)(from_logits=True, mode="binary")(x[:, 0], onehot[:, 1])
    close(float(binary), float(core(x[:, 0], onehot[:, 1], mode="binary", from_logits=True)))


@pytest.mark.parametrize("loss", ALL, ids=lambda f: f.name)
def test_jax_jit_and_grad(loss):
    """Under jax.jit (value and grad) the loss and its gradient equal eager torch's."""
    x, y, _ = _case(1)
    z = jnp.asarray(_np(x))
    labels = jnp.asarray(y.numpy())

    @jax.jit
    def value_and_grad(z, labels):
        return jax.value_and_grad(lambda z: loss(z, labels, axis=1, from_logits=True))(z)

    value, grad = value_and_grad(z, labels)
    t = x.clone().requires_grad_(True)
    expected = loss(t, y, axis=1, from_logits=True)
    expected.backward()
    close(float(value), float(expected))
    close(np.asarray(grad), _np(t.grad), atol=1e-14)


def test_peers_at_the_empty_edge():
    """What the README says of the peers at an empty prediction on an empty target: MONAI 0
    (smooth 1e-5 in both; NaN with both 0), Keras 1 (epsilon in the denominator only), optax
    0 (smooth 1 in both), smp's restated formula 0 (the class is masked out); ours 0."""
    p = np.zeros((2, 1, 4, 4))
    y = np.zeros((2, 1, 4, 4))
    tp, ty = torch.from_numpy(p), torch.from_numpy(y)
    assert float(ml.DiceLoss()(tp, ty)) == 0.0
    assert np.isnan(float(ml.DiceLoss(smooth_nr=0.0, smooth_dr=0.0)(tp, ty)))
    assert float(keras.losses.Dice()(y[:, 0], p[:, 0])) == 1.0
    both = np.stack([1.0 - p[:, 0], p[:, 0]], axis=-1)  # the background is everything
    theirs = optax.losses.dice_loss(jnp.asarray(both), jnp.asarray(both), apply_softmax=False,
                                    reduction="none")  # fmt: skip
    assert np.all(np.asarray(theirs)[:, 1] == 0.0)  # the empty foreground class
    assert _smp("dice", np.full((2, 1, 4, 4), -1e3), y, "binary") == 0.0
    for smooth in (0.0, 1.0):
        assert float(la.dice_loss(p[:, 0], y[:, 0], mode="binary", from_logits=False,
                                  smooth=smooth)) == 0.0  # fmt: skip
