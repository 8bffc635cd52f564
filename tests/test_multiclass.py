"""The multiclass losses against the implementations others wrote, over many random inputs.

nll_loss, multiclass_hinge (Weston-Watkins) and multilabel_soft_margin against
torch.nn.functional; poly1_cross_entropy, multiclass_hinge (Crammer-Singer) and the sparsemax
losses against optax; softmax_focal_loss against Keras 3 (on JAX); plus the closed forms and
the limits each one claims (gamma = 0 is cross entropy; a confident right answer is exact).
"""
# ruff: noqa: E402

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax
import jax.numpy as jnp

jax.config.update("jax_enable_x64", True)

import keras
import mpmath
import numpy as np
import optax
import pytest
import torch
import torch.nn.functional as F

import lossatlas as la
import lossatlas.torch as lt
from lossatlas.multiclass import sparsemax

SEEDS = range(6)


def _logits(seed: int, n: int = 64, c: int = 7, scale: float = 3.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, c)) * scale


def _labels(seed: int, n: int = 64, c: int = 7) -> np.ndarray:
    return np.random.default_rng(seed + 100).integers(0, c, size=n)


def _simplex(seed: int, n: int = 64, c: int = 7) -> np.ndarray:
    raw = np.random.default_rng(seed + 200).gamma(0.5, size=(n, c)) + 1e-3
    return raw / raw.sum(axis=1, keepdims=True)


def _t(x: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64 if x.dtype.kind == "f" else torch.int64,
                        requires_grad=grad and x.dtype.kind == "f")  # fmt: skip


# ---- nll_loss ---------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss_equals_torch(seed, weighted, reduction):
    z, y = _logits(seed), _labels(seed)
    y[::5] = -100
    w = np.random.default_rng(seed).uniform(0.1, 2.0, size=7) if weighted else None
    log_p = torch.log_softmax(_t(z), dim=1).detach().requires_grad_(True)
    theirs = F.nll_loss(log_p, _t(y), weight=None if w is None else _t(w), reduction=reduction)
    mine_in = log_p.detach().clone().requires_grad_(True)
    mine = la.nll_loss(mine_in, _t(y), class_weight=None if w is None else _t(w),
                       ignore_index=-100, reduction=reduction)  # fmt: skip
    torch.testing.assert_close(mine, theirs, rtol=1e-12, atol=1e-12)
    mine.sum().backward()
    theirs.sum().backward()
    torch.testing.assert_close(mine_in.grad, log_p.grad, rtol=1e-12, atol=1e-12)
    module = lt.NLLLoss(weight=None if w is None else _t(w), reduction=reduction)
    torch.testing.assert_close(module(log_p.detach(), _t(y)), theirs.detach())


def test_nll_loss_of_log_softmax_is_cross_entropy():
    z, y = _logits(1), _labels(1)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(la.nll_loss(log_p, y), la.cross_entropy(z, y), rtol=1e-13)


def test_nll_loss_module_takes_torch_layout():
    z = torch.randn(4, 5, 3, 2, dtype=torch.float64)
    y = torch.randint(0, 5, (4, 3, 2))
    log_p = torch.log_softmax(z, dim=1)
    torch.testing.assert_close(lt.NLLLoss()(log_p, y), F.nll_loss(log_p, y))


# ---- softmax focal loss -------------------------------------------------------------------------
def _keras_focal(z, target, gamma, alpha, smoothing=0.0, sparse=False):
    onehot = np.eye(z.shape[1])[target] if sparse else target
    loss = keras.losses.CategoricalFocalCrossentropy(
        alpha=alpha, gamma=gamma, from_logits=True, label_smoothing=smoothing, reduction=None
    )
    return np.asarray(loss(onehot, z))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 4.0])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_softmax_focal_equals_keras(seed, gamma, smoothing):
    """Keras computes in float32 (its softmax, then a clip at 1e-7): a float32-accurate
    reference on logits of moderate size."""
    z, y = _logits(seed, scale=2.0), _labels(seed)
    alpha = np.random.default_rng(seed).uniform(0.1, 1.0, size=7)
    theirs = _keras_focal(z, y, gamma, alpha.tolist(), smoothing, sparse=True)
    mine = la.softmax_focal_loss(
        z, y, gamma=gamma, alpha=alpha, label_smoothing=smoothing, reduction="none"
    )
    np.testing.assert_allclose(mine, theirs, rtol=2e-5, atol=1e-6)
    soft = _simplex(seed)
    theirs = _keras_focal(z, soft, gamma, 0.25)
    mine = la.softmax_focal_loss(z, soft, gamma=gamma, alpha=np.full(7, 0.25), reduction="none")
    np.testing.assert_allclose(mine, theirs, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("seed", SEEDS)
def test_softmax_focal_gamma_zero_is_cross_entropy(seed):
    z, y = _logits(seed), _labels(seed)
    for target in (y, _simplex(seed)):
        np.testing.assert_allclose(
            la.softmax_focal_loss(z, target, gamma=0.0, reduction="none"),
            la.cross_entropy(z, target, reduction="none"),
            rtol=1e-14,
        )
        np.testing.assert_allclose(
            la.softmax_focal_loss.grad(z, target, gamma=0.0),
            la.cross_entropy.grad(z, target),
            rtol=1e-12, atol=1e-15,
        )  # fmt: skip
        np.testing.assert_allclose(
            la.softmax_focal_loss.hess(z, target, gamma=0.0),
            la.cross_entropy.hess(z, target),
            rtol=1e-12, atol=1e-15,
        )  # fmt: skip


def _focal_mp(z, y, gamma):
    mpmath.mp.dps = 400
    zs = [mpmath.mpf(float(v)) for v in z]
    lse = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in zs))
    p = mpmath.exp(zs[y] - lse)
    return float(-((1 - p) ** gamma) * mpmath.log(p))


@pytest.mark.parametrize("gamma", [0.0, 0.25, 1.0, 2.0])
@pytest.mark.parametrize("margin", [5.0, 20.0, 40.0, 200.0])
def test_softmax_focal_exact_on_confident_rows(gamma, margin):
    """A confident right answer: the loss is tiny (down to 1e-80 and below) and exact."""
    z = np.array([[margin, 0.0, -1.0, 0.5]])
    mine = float(la.softmax_focal_loss(z, np.array([0]), gamma=gamma, reduction="sum"))
    ref = _focal_mp(z[0], 0, gamma)
    assert mine == pytest.approx(ref, rel=1e-13, abs=1e-300)


@pytest.mark.parametrize("gamma", [0.0, 0.1, 0.5, 0.99, 1.0, 2.0, 5.0])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_softmax_focal_finite_at_saturated_logits(gamma, dtype):
    """Value, analytic gradient and Hessian, and torch autograd, finite at saturation for
    every gamma >= 0 (gamma < 1 is where (1 - p)^(gamma - 1) diverges)."""
    z = torch.tensor(
        [[1e4, 0.0, -3.0], [800.0, 0.0, 1.0], [-1e4, 0.0, 2.0], [50.0, -50.0, 0.0]], dtype=dtype
    )
    y = torch.tensor([0, 0, 0, 1])
    zz = z.clone().requires_grad_(True)
    value = la.softmax_focal_loss(zz, y, gamma=gamma, reduction="sum")
    value.backward()
    assert torch.isfinite(value)
    assert torch.isfinite(zz.grad).all()
    assert torch.isfinite(la.softmax_focal_loss.grad(z, y, gamma=gamma)).all()
    assert torch.isfinite(la.softmax_focal_loss.hess(z, y, gamma=gamma)).all()
    torch.testing.assert_close(la.softmax_focal_loss.grad(z, y, gamma=gamma), zz.grad)
    jz = jnp.asarray(z.double().numpy())
    jg = jax.grad(lambda a: la.softmax_focal_loss(a, jnp.asarray(y.numpy()), gamma=gamma,
                                                  reduction="sum"))(jz)  # fmt: skip
    assert bool(jnp.isfinite(jg).all())


# ---- poly-1 -------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("epsilon", [-1.0, 1.0, 2.0])
def test_poly1_equals_optax(seed, epsilon):
    z, y = _logits(seed), _labels(seed)
    for target in (np.eye(7)[y], _simplex(seed)):
        theirs = optax.losses.poly_loss_cross_entropy(
            jnp.asarray(z), jnp.asarray(target), epsilon=epsilon
        )
        mine = la.poly1_cross_entropy(z, target, epsilon=epsilon, reduction="none")
        np.testing.assert_allclose(mine, np.asarray(theirs), rtol=1e-11, atol=1e-12)
        g = jax.grad(lambda a, t=target: optax.losses.poly_loss_cross_entropy(
            a, jnp.asarray(t), epsilon=epsilon).sum())(jnp.asarray(z))  # fmt: skip
        np.testing.assert_allclose(
            la.poly1_cross_entropy.grad(z, target, epsilon=epsilon), np.asarray(g),
            rtol=1e-9, atol=1e-12,
        )  # fmt: skip
    np.testing.assert_allclose(
        la.poly1_cross_entropy(z, y, epsilon=epsilon, reduction="none"),
        la.poly1_cross_entropy(z, np.eye(7)[y], epsilon=epsilon, reduction="none"),
        rtol=1e-13,
    )


def test_poly1_epsilon_zero_is_cross_entropy_and_weights_like_it():
    z, y = _logits(3), _labels(3)
    w = np.linspace(0.2, 2.0, 7)
    np.testing.assert_allclose(
        la.poly1_cross_entropy(z, y, epsilon=0.0, class_weight=w, label_smoothing=0.1),
        la.cross_entropy(z, y, class_weight=w, label_smoothing=0.1),
        rtol=1e-14,
    )
    # weighted mean: sum(w[y] l) / sum(w[y]), as cross_entropy's
    per = la.poly1_cross_entropy(z, y, epsilon=1.0, class_weight=w, reduction="none")
    mean = la.poly1_cross_entropy(z, y, epsilon=1.0, class_weight=w)
    assert float(mean) == pytest.approx(float(per.sum() / w[y].sum()), rel=1e-13)


# ---- multiclass hinge ---------------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("margin", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_weston_watkins_equals_torch_multi_margin(seed, p, margin, weighted):
    z, y = _logits(seed, scale=1.0), _labels(seed)
    w = np.random.default_rng(seed).uniform(0.1, 2.0, size=7) if weighted else None
    tz = _t(z, grad=True)
    theirs = F.multi_margin_loss(tz, _t(y), p=p, margin=margin,
                                 weight=None if w is None else _t(w), reduction="none")  # fmt: skip
    mz = _t(z, grad=True)
    weight = None if w is None else _t(w)
    mine = la.multiclass_hinge(mz, _t(y), p=p, margin=margin, class_weight=weight, reduction="none")
    torch.testing.assert_close(mine, theirs, rtol=1e-12, atol=1e-12)
    theirs.mean().backward()
    mine.mean().backward()
    torch.testing.assert_close(mz.grad, tz.grad, rtol=1e-12, atol=1e-12)
    # torch's mean divides by N whatever the weights; so does ours
    torch.testing.assert_close(
        lt.MulticlassHinge(p=p, margin=margin, class_weight=None if w is None else _t(w))(
            _t(z), _t(y)
        ),
        F.multi_margin_loss(_t(z), _t(y), p=p, margin=margin, weight=None if w is None else _t(w)),
    )
    np.testing.assert_allclose(
        la.multiclass_hinge.grad(z, y, p=p, margin=margin, class_weight=w),
        mz.grad.numpy() * len(y), rtol=1e-12, atol=1e-12,
    )  # fmt: skip


@pytest.mark.parametrize("seed", SEEDS)
def test_crammer_singer_equals_optax(seed):
    z, y = _logits(seed), _labels(seed)
    theirs = optax.losses.multiclass_hinge_loss(jnp.asarray(z), jnp.asarray(y))
    mine = la.multiclass_hinge(z, y, variant="crammer_singer", reduction="none")
    np.testing.assert_allclose(mine, np.asarray(theirs), rtol=1e-13, atol=1e-13)
    # optax's custom gradient rule agrees away from ties
    g = jax.grad(lambda a: optax.losses.multiclass_hinge_loss(a, jnp.asarray(y)).sum())(
        jnp.asarray(z)
    )
    mine_g = la.multiclass_hinge.grad(z, y, variant="crammer_singer")
    np.testing.assert_allclose(mine_g, np.asarray(g), atol=1e-13)


def test_crammer_singer_closed_form_with_power_and_weight():
    z = np.array([[2.0, 1.5, -1.0], [0.0, 3.0, 1.0]])
    y = np.array([0, 0])
    w = np.array([2.0, 1.0, 1.0])
    got = la.multiclass_hinge(z, y, variant="crammer_singer", p=2, margin=1.0, class_weight=w,
                              reduction="none")  # fmt: skip
    np.testing.assert_allclose(got, [2.0 * 0.5**2, 2.0 * 4.0**2])


def test_multiclass_hinge_rejects_probability_targets():
    with pytest.raises(la.LossInputError, match="integer"):
        la.multiclass_hinge(np.zeros((2, 3)), np.full((2, 3), 1 / 3))


# ---- multilabel soft margin ---------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("weighted", [False, True])
def test_multilabel_soft_margin_equals_torch(seed, weighted):
    z = _logits(seed)
    t = (np.random.default_rng(seed).random(z.shape) < 0.4).astype(np.float64)
    t[:8] = np.random.default_rng(seed).random((8, 7))  # soft labels
    w = np.random.default_rng(seed).uniform(0.1, 2.0, size=7) if weighted else None
    tz, mz = _t(z, grad=True), _t(z, grad=True)
    theirs = F.multilabel_soft_margin_loss(tz, _t(t), weight=None if w is None else _t(w),
                                           reduction="none")  # fmt: skip
    mine = la.multilabel_soft_margin(mz, _t(t), class_weight=None if w is None else _t(w),
                                     reduction="none")  # fmt: skip
    torch.testing.assert_close(mine, theirs, rtol=1e-12, atol=1e-12)
    theirs.sum().backward()
    mine.sum().backward()
    torch.testing.assert_close(mz.grad, tz.grad, rtol=1e-12, atol=1e-12)


def test_multilabel_soft_margin_exact_for_confident_labels():
    z = np.array([[40.0, -40.0]])
    got = float(la.multilabel_soft_margin(z, np.array([[1.0, 0.0]])))
    assert got == pytest.approx(float(mpmath.log1p(mpmath.exp(-40))), rel=1e-14)


# ---- sparsemax ----------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("scale", [0.3, 1.0, 5.0])
def test_multiclass_sparsemax_equals_optax(seed, scale):
    z, y = _logits(seed, scale=scale), _labels(seed)
    theirs = optax.losses.multiclass_sparsemax_loss(jnp.asarray(z), jnp.asarray(y))
    mine = la.multiclass_sparsemax_loss(z, y, reduction="none")
    np.testing.assert_allclose(mine, np.asarray(theirs), rtol=1e-10, atol=1e-12)
    g = jax.grad(lambda a: optax.losses.multiclass_sparsemax_loss(a, jnp.asarray(y)).sum())(
        jnp.asarray(z)
    )
    np.testing.assert_allclose(la.multiclass_sparsemax_loss.grad(z, y), np.asarray(g), atol=1e-10)
    p = jax.vmap(optax.projections.projection_simplex)(jnp.asarray(z))
    np.testing.assert_allclose(
        la.multiclass_sparsemax_loss.grad(z, y) + np.eye(7)[y], np.asarray(p), atol=1e-12
    )


def test_multiclass_sparsemax_zero_exactly_when_sparsemax_is_the_target():
    z = np.array([[3.0, 1.0, 0.0], [0.2, 0.1, 0.0]])
    got = la.multiclass_sparsemax_loss(z, np.array([0, 0]), reduction="none")
    assert got[0] == 0.0 and got[1] > 0.0
    # probability targets: zero at sparsemax(z) itself, which is grad + the one-hot target
    p = sparsemax(z)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-15)
    np.testing.assert_allclose(
        la.multiclass_sparsemax_loss.grad(z, np.array([0, 0])) + np.eye(3)[[0, 0]], p
    )
    np.testing.assert_allclose(la.multiclass_sparsemax_loss(z, p, reduction="none"), 0.0,
                               atol=1e-16)  # fmt: skip


@pytest.mark.parametrize("seed", SEEDS)
def test_binary_sparsemax_equals_optax(seed):
    x = np.random.default_rng(seed).normal(size=200) * 2.0
    y = np.random.default_rng(seed).integers(0, 2, size=200)
    theirs = optax.losses.sparsemax_loss(jnp.asarray(x), jnp.asarray(y))
    mine = la.sparsemax_loss(x, y.astype(np.float64), reduction="none")
    np.testing.assert_allclose(mine, np.asarray(theirs), rtol=1e-13, atol=1e-15)
    g = jax.grad(lambda a: optax.losses.sparsemax_loss(a, jnp.asarray(y)).sum())(jnp.asarray(x))
    np.testing.assert_allclose(la.sparsemax_loss.grad(x, y.astype(np.float64)), np.asarray(g),
                               atol=1e-15)  # fmt: skip


# ---- bad inputs ---------------------------------------------------------------------------------
MULTICLASS = [
    "cross_entropy",
    "softmax_focal_loss",
    "poly1_cross_entropy",
    "multiclass_hinge",
    "multiclass_sparsemax_loss",
]


@pytest.mark.parametrize("name", [*MULTICLASS, "nll_loss"])
def test_bad_class_indices(name):
    loss = la.get(name)
    x = np.log(np.full((3, 4), 0.25))
    for bad in (np.array([0, 4, 1]), np.array([0, -1, 1])):
        with pytest.raises(la.LossInputError, match="target"):
            loss(x, bad)
    with pytest.raises(la.LossInputError, match="target"):  # a batch mismatch
        loss(x, np.array([0, 1]))


@pytest.mark.parametrize(
    "name",
    ["cross_entropy", "softmax_focal_loss", "poly1_cross_entropy", "multiclass_sparsemax_loss"],
)
def test_probability_target_must_sum_to_one(name):
    with pytest.raises(la.LossInputError, match="sum"):
        la.get(name)(np.zeros((2, 3)), np.array([[0.5, 0.2, 0.2], [1.0, 0.0, 0.0]]))


@pytest.mark.parametrize(
    ("name", "param"),
    [
        ("cross_entropy", "class_weight"),
        ("nll_loss", "class_weight"),
        ("softmax_focal_loss", "alpha"),
        ("poly1_cross_entropy", "class_weight"),
        ("multiclass_hinge", "class_weight"),
        ("multilabel_soft_margin", "class_weight"),
    ],
)
def test_class_weight_of_the_wrong_length(name, param):
    loss = la.get(name)
    x = np.log(np.full((3, 4), 0.25))
    target = np.zeros((3, 4)) if name == "multilabel_soft_margin" else np.array([0, 1, 2])
    with pytest.raises(la.LossInputError, match=param):
        loss(x, target, **{param: np.ones(3)})


@pytest.mark.parametrize("name", ["cross_entropy", "softmax_focal_loss", "poly1_cross_entropy"])
@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_label_smoothing_out_of_range(name, bad):
    with pytest.raises(la.LossInputError, match="label_smoothing"):
        la.get(name)(np.zeros((2, 3)), np.array([0, 1]), label_smoothing=bad)


def test_hinge_power_and_variant_are_checked():
    with pytest.raises(la.LossInputError, match="p"):
        la.multiclass_hinge(np.zeros((2, 3)), np.array([0, 1]), p=3)
    with pytest.raises(la.LossInputError, match="variant"):
        la.multiclass_hinge(np.zeros((2, 3)), np.array([0, 1]), variant="ovr")


def test_nll_loss_rejects_positive_log_probabilities():
    with pytest.raises(la.LossInputError, match="log_probs"):
        la.nll_loss(np.array([[0.5, -1.0]]), np.array([0]))
