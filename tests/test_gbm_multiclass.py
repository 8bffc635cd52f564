"""Multiclass boosting: every class-axis loss as an XGBoost and LightGBM multiclass objective.

The derivatives handed to a booster are checked against torch and JAX autodiff for every
registered boostable class-axis loss (new losses are picked up from the registry), and against
scikit-learn's multinomial loss for cross entropy. With ``hessian="xgboost"`` /
``"lightgbm"`` cross entropy must reproduce ``multi:softprob`` / ``multiclass`` with the same
settings and starting scores. XGBoost computes its softmax in float32 (so do we, from its
float32 scores) and LightGBM in float64 (as we do, from its float64 scores), both round the
gradients to float32: the raw scores after 20 rounds must agree within 1e-5 for XGBoost
(measured: 5e-7, float32 round-off) and 1e-9 for LightGBM (measured: 0, the same bits).
"""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import lossatlas
from lossatlas import AxisLoss, LossInputError, gbm
from lossatlas._loss import BOOSTING_HESSIAN_FLOOR

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")

#: every registered class-axis loss that boosters can use: new ones are covered automatically
AXIS_BOOSTABLE = [
    x for x in lossatlas.catalog() if isinstance(x, AxisLoss) and x.spec.boosting.kind != "none"
]
HESSIANS = tuple(gbm.MULTICLASS_HESSIANS)
THREADS = 2
K = 4
CLASS_WEIGHT = np.array([0.5, 1.0, 2.0, 1.5])
#: the hyperparameter settings each loss is checked with (defaults first)
SETTINGS = {
    "cross_entropy": [
        {},
        {"label_smoothing": 0.2},
        {"class_weight": CLASS_WEIGHT, "label_smoothing": 0.1, "ignore_index": 2},
    ],
}


def settings(loss) -> list[dict]:
    return SETTINGS.get(loss.name, [{}])


def cases():
    return [
        pytest.param(loss, params, id=f"{loss.name}-{i}")
        for loss in AXIS_BOOSTABLE
        for i, params in enumerate(settings(loss))
    ]


def full(loss, params: dict) -> dict:
    """The loss's own hyperparameters as the objectives use them: on logits."""
    if "from_logits" in loss.spec.defaults:
        return {**params, "from_logits": True}
    return dict(params)


def scores_and_labels(n: int = 60, k: int = K, seed: int = 0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    z = rng.normal(scale=3.0, size=(n, k))
    z[:3] *= 12.0  # confident rows: p within float64 round-off of 0 and 1
    z[3] = 0.0  # a tie over every class
    y = rng.integers(0, k, n)
    return z.astype(dtype), y


def data(n: int, seed: int, k: int = K):
    """Features and class labels (floats, as boosters store them) from a softmax model."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    logits = np.stack([x[:, 0], x[:, 1], np.sin(2 * x[:, 2]) - x[:, 0], 0.3 * x[:, 3]], axis=1)
    logits = logits[:, :k] * 1.5
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    y = (p.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1)
    return x, np.minimum(y, k - 1).astype(float)


# ---- the registry -------------------------------------------------------------------------------
def test_cross_entropy_is_an_exact_multiclass_objective():
    assert lossatlas.cross_entropy in AXIS_BOOSTABLE
    boosting = lossatlas.cross_entropy.spec.boosting
    assert boosting.kind == "exact" and "diagonal" in boosting.reason
    for loss in AXIS_BOOSTABLE:
        assert loss.spec.inputs[0].class_axis, loss.name
        assert any(f.dtype == "index" for f in loss.spec.inputs[1].forms), loss.name
        if loss.spec.boosting.kind == "surrogate":
            assert loss.spec.boosting.formula and loss.spec.boosting.reason, loss.name


# ---- derivatives against autodiff ----------------------------------------------------------------
@pytest.mark.parametrize(("loss", "params"), cases())
def test_grad_and_hessian_diagonal_equal_torch_and_jax_autodiff(loss, params):
    """d loss_n / d z_n and the diagonal of d^2 loss_n / d z_n^2, per sample, by autodiff of the
    loss's value. The samples are independent, so the Hessian of the summed loss is
    block-diagonal and one Hessian-vector product along class k of every row gives the k-th
    diagonal entry of every row: K products, not the full (nK)^2 Hessian."""
    torch = pytest.importorskip("torch")
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    params = full(loss, params)
    z, y = scores_and_labels(n=12, seed=1)
    z[:3] /= 4.0  # autodiff of the value is itself inexact at p within 1e-16 of 1
    n, k = z.shape
    grad = loss.grad(z, y, **params)
    hess = loss.hess_diag(z, y, **params)
    np.testing.assert_array_equal(hess, loss.hess(z, y, **params))
    directions = np.eye(k)[:, None, :].repeat(n, axis=1)  # (k, n, k): class j of every row

    with lossatlas.config.override(fast_paths=False):  # a torch fast path need not have a
        t = torch.tensor(z, requires_grad=True)  # second derivative
        total = loss(t, torch.from_numpy(y), reduction="sum", **params)
        (g,) = torch.autograd.grad(total, t, create_graph=True)
        if g.requires_grad:
            h = np.stack(
                [
                    torch.autograd.grad(g, t, torch.from_numpy(v), retain_graph=True)[0].numpy()
                    for v in directions
                ]
            )
        else:  # a piecewise-linear loss: its gradient is constant in t
            h = np.zeros_like(directions)
    diagonal = np.einsum("jij->ij", h)
    np.testing.assert_allclose(grad, g.detach().numpy(), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(hess, diagonal, rtol=1e-9, atol=1e-13)

    def jax_grad(a):
        return jax.grad(lambda b: loss(b, jnp.asarray(y), reduction="sum", **params))(a)

    @jax.jit
    def jax_grad_and_hvps(a):
        hvp = jax.vmap(lambda v: jax.jvp(jax_grad, (a,), (v,))[1])
        return jax_grad(a), hvp(jnp.asarray(directions))

    g, h = jax_grad_and_hvps(jnp.asarray(z))
    np.testing.assert_allclose(grad, np.asarray(g), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(hess, np.einsum("jij->ij", np.asarray(h)), rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("params", SETTINGS["cross_entropy"], ids=range(3))
def test_cross_entropy_derivatives_equal_torch_cross_entropy_autodiff(params):
    """Against an implementation that is not lossatlas's: torch.nn.functional.cross_entropy."""
    torch = pytest.importorskip("torch")
    f = torch.nn.functional
    z, y = scores_and_labels(n=10, seed=2)
    z[:3] /= 4.0
    kwargs = {"reduction": "sum", "label_smoothing": params.get("label_smoothing", 0.0)}
    if "class_weight" in params:
        kwargs["weight"] = torch.from_numpy(params["class_weight"])
    if params.get("ignore_index") is not None:
        kwargs["ignore_index"] = params["ignore_index"]

    def total(t):
        return f.cross_entropy(t, torch.from_numpy(y), **kwargs)

    t = torch.tensor(z, requires_grad=True)
    (g,) = torch.autograd.grad(total(t), t)
    h = torch.autograd.functional.hessian(total, torch.tensor(z)).reshape(z.size, z.size)
    h = h.diagonal().reshape(z.shape).numpy()
    np.testing.assert_allclose(lossatlas.cross_entropy.grad(z, y, **params), g, atol=1e-12)
    np.testing.assert_allclose(lossatlas.cross_entropy.hess(z, y, **params), h, atol=1e-12)


def test_cross_entropy_equals_scikit_learns_multinomial_loss():
    """p - y and p (1 - p): scikit-learn's HalfMultinomialLoss (a private module, hence the
    guard) computes the same gradient and Hessian diagonal, sample weights included."""
    sk = pytest.importorskip("sklearn._loss.loss")
    z, y = scores_and_labels(n=40, seed=3)
    w = np.random.default_rng(3).uniform(0.0, 2.0, y.size)
    g, h = sk.HalfMultinomialLoss(n_classes=K).gradient_hessian(
        y_true=y.astype(np.float64), raw_prediction=z, sample_weight=w
    )
    grad, hess = gbm.xgboost_multiclass_objective("cross_entropy")(y, z, sample_weight=w)
    np.testing.assert_allclose(grad, g, rtol=1e-12, atol=4e-16)
    np.testing.assert_allclose(hess, np.maximum(h, BOOSTING_HESSIAN_FLOOR * w[:, None]), atol=4e-16)


@pytest.mark.parametrize(("loss", "params"), cases())
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_boosting_hessian_is_positive_and_exact_where_declared(loss, params, dtype):
    params = full(loss, params)
    z, y = scores_and_labels(seed=4, dtype=dtype)
    h = loss.boosting_hess(z, y, **params)
    exact = loss.hess(z, y, **params)
    assert h.dtype == dtype and h.shape == z.shape
    assert np.all(np.isfinite(h)) and np.all(h >= np.asarray(BOOSTING_HESSIAN_FLOOR, dtype=dtype))
    if loss.spec.boosting.kind == "exact":
        assert np.all(exact >= 0), loss.name  # else it must be declared a surrogate
        np.testing.assert_array_equal(h, np.maximum(exact, dtype(BOOSTING_HESSIAN_FLOOR)))


@pytest.mark.parametrize(("loss", "params"), cases())
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_kernel_equals_the_separate_kernels(loss, params, dtype):
    """``boosting_grad_hess_kernel`` (what the objectives call) against ``grad_kernel`` and
    the public ``grad`` / ``boosting_hess``."""
    z, y = scores_and_labels(seed=5, dtype=dtype)
    boosting = gbm.MulticlassBoostingLoss(loss, "test", params)
    kernel_params = boosting._params_for(np.dtype(dtype))
    grad, hess = loss.boosting_grad_hess_kernel(np, z, y, **kernel_params)
    np.testing.assert_array_equal(grad, loss.grad_kernel(np, z, y, **kernel_params))
    np.testing.assert_array_equal(grad, loss.grad(z, y, **full(loss, params)))
    floored = np.maximum(hess, dtype(BOOSTING_HESSIAN_FLOOR))
    np.testing.assert_array_equal(floored, loss.boosting_hess(z, y, **full(loss, params)))


# ---- the objectives ------------------------------------------------------------------------------
def expected_grad_hess(loss, params, z, y, w, hessian):
    grad = loss.grad(z, y, **full(loss, params))
    hess = loss.boosting_hess(z, y, **full(loss, params))
    hess = hess * gbm.MULTICLASS_HESSIANS[hessian](z.shape[1])
    if w is not None:
        grad, hess = grad * w[:, None], hess * w[:, None]
    return grad, hess


@pytest.mark.parametrize(("loss", "params"), cases())
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "generic"])
def test_objective_hands_over_weighted_grad_and_scaled_boosting_hess(loss, params, dtype, fused):
    """In both layouts (XGBoost's C-ordered float32, LightGBM's class-major float64), with and
    without weights, for each Hessian scaling. Cross entropy's own fused kernel ("fused") and
    the generic path through the loss's kernel must agree; the fused kernel computes 1 - p
    and p - 1 as the boosters do, so it is held to the dtype's round-off in absolute terms
    (the loss's kernels keep their relative precision where p is within round-off of 1)."""
    z, y = scores_and_labels(seed=6, dtype=dtype)
    w = np.random.default_rng(6).uniform(0.0, 3.0, y.size)
    labels = y.astype(np.float32)  # boosters store labels as float32
    eps = np.finfo(dtype).eps
    for hessian in HESSIANS:
        obj = gbm.xgboost_multiclass_objective(loss.name, hessian=hessian, **params)
        if not fused:
            obj.boosting._fused = False
        for weight in (None, w):
            expected = expected_grad_hess(loss, params, z, y, weight, hessian)
            for scores in (z, np.asfortranarray(z)):
                got = obj(labels, scores, sample_weight=weight)
                for a, b in zip(got, expected, strict=True):
                    assert a.dtype == dtype and a.shape == z.shape
                    if obj.boosting._fused:
                        np.testing.assert_allclose(
                            a, b, rtol=4 * eps, atol=8 * eps * np.abs(b).max()
                        )
                    else:
                        np.testing.assert_allclose(a, b, rtol=4 * eps, atol=0)


def test_hessian_scalings_are_the_builtins_definitions():
    """XGBoost's multi:softprob hands over 2 p (1 - p), LightGBM's multiclass K / (K - 1)
    p (1 - p) (their sources: src/objective/multiclass_obj.cu, multiclass_objective.hpp)."""
    z, y = scores_and_labels(n=30, seed=7)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    onehot = np.eye(K)[y]
    for hessian, factor in (("exact", 1.0), ("xgboost", 2.0), ("lightgbm", K / (K - 1))):
        grad, hess = gbm.lightgbm_multiclass_objective("cross_entropy", hessian=hessian)(y, z)
        np.testing.assert_allclose(grad, p - onehot, atol=1e-15)
        np.testing.assert_allclose(hess, np.maximum(factor * p * (1 - p), 1e-16), atol=1e-15)
    assert gbm.MulticlassBoostingLoss("cross_entropy", "t", {}, "lightgbm").hessian_factor(
        10
    ) == pytest.approx(10 / 9)


def test_objective_validates_labels_scores_and_weights():
    obj = gbm.xgboost_multiclass_objective("cross_entropy")
    z, y = scores_and_labels(n=5, seed=8)
    obj(y.astype(np.float32), z)  # integer-valued floats are class indices
    for bad, shown in ((1.5, "1.5"), (float(K), "4.0"), (-1.0, "-1.0"), (math.nan, "nan")):
        labels = y.astype(float)
        labels[3] = bad
        with pytest.raises(LossInputError, match=rf"class indices in \[0, {K}\).*{shown}"):
            obj(labels, z)
    with pytest.raises(LossInputError, match=r"xgboost_multiclass_objective.*label"):
        obj(np.zeros(4), z)
    with pytest.raises(LossInputError, match=r"shape \(n, K\)"):
        obj(y, z.reshape(-1))
    with pytest.raises(LossInputError, match=r"shape \(n, K\)"):
        obj(y, z[:, :1])
    with pytest.raises(LossInputError, match="weight"):
        obj(y, z, sample_weight=np.array([1.0, -1.0, 1.0, 1.0, 1.0]))
    with pytest.raises(LossInputError, match="weight"):
        obj(y, z, sample_weight=np.ones(3))
    with pytest.raises(LossInputError, match="label"):
        obj(np.array(["a"] * 5), z)
    # ignore_index: that label is accepted, and its rows hand over 0 (the Hessian's floor)
    ignoring = gbm.lightgbm_multiclass_objective("cross_entropy", ignore_index=-100)
    labels = y.copy()
    labels[1] = -100
    grad, hess = ignoring(labels, z)
    np.testing.assert_array_equal(grad[1], 0.0)
    np.testing.assert_array_equal(hess[1], BOOSTING_HESSIAN_FLOOR)
    with pytest.raises(LossInputError, match="ignore_index=-100"):
        ignoring(np.where(labels == -100, -7, labels), z)
    # class weights must have K entries: checked on the first scores with K columns
    weighted = gbm.xgboost_multiclass_objective("cross_entropy", class_weight=[1.0, 2.0, 3.0])
    with pytest.raises(LossInputError, match="class_weight"):
        weighted(y, z)


def test_factories_and_their_errors():
    assert isinstance(gbm.xgboost_objective("cross_entropy"), gbm.XGBoostMulticlassObjective)
    assert isinstance(gbm.xgboost_metric("CrossEntropyLoss"), gbm.XGBoostMulticlassMetric)
    assert isinstance(gbm.lightgbm_objective("cross_entropy"), gbm.LightGBMMulticlassObjective)
    assert isinstance(gbm.lightgbm_metric("cross_entropy"), gbm.LightGBMMulticlassMetric)
    assert isinstance(gbm.xgboost_objective("huber"), gbm.XGBoostObjective)  # unchanged
    assert not isinstance(gbm.xgboost_objective("huber"), gbm.XGBoostMulticlassObjective)
    for factory in (gbm.catboost_objective, gbm.catboost_metric, gbm.XGBoostObjective):
        with pytest.raises(LossInputError, match="multiclass_objective"):
            factory("cross_entropy")
    with pytest.raises(LossInputError, match="multiclass_initial_prediction"):
        gbm.initial_prediction("cross_entropy", np.zeros(3))
    with pytest.raises(LossInputError, match="class-axis loss"):
        gbm.xgboost_multiclass_objective("huber")
    with pytest.raises(LossInputError, match="registered loss"):
        gbm.lightgbm_multiclass_objective("no_such_loss")
    with pytest.raises(LossInputError, match="hessian"):
        gbm.xgboost_multiclass_objective("cross_entropy", hessian="newton")
    with pytest.raises(LossInputError, match="axis"):
        gbm.xgboost_multiclass_objective("cross_entropy", axis=0)
    with pytest.raises(LossInputError, match="from_logits=True"):
        gbm.xgboost_multiclass_objective("cross_entropy", from_logits=False)
    with pytest.raises(LossInputError, match="label_smoothing"):
        gbm.lightgbm_multiclass_objective("cross_entropy", label_smoothing=2.0)
    with pytest.raises(TypeError, match="unexpected keyword"):
        gbm.xgboost_multiclass_objective("cross_entropy", delta=1.0)
    shown = repr(gbm.xgboost_multiclass_objective("cross_entropy", hessian="xgboost"))
    assert shown == "xgboost_multiclass_objective('cross_entropy', hessian='xgboost')"


def test_label_checks_are_cached_and_copies_start_afresh():
    """LightGBM hands over its Dataset's label array every round (reused by identity);
    XGBoost's get_label() is a fresh copy each round (reused when its values are equal). A
    changed label array is checked again; a deep copy (LightGBM copies its params) has no
    cache."""
    x, y = data(80, seed=9)
    obj = gbm.lightgbm_multiclass_objective("cross_entropy")
    dataset = lgb.Dataset(x, y).construct()
    label = dataset.get_label()
    z = np.asfortranarray(np.random.default_rng(9).normal(size=(80, K)))
    first = obj(z, dataset)
    cache = obj.boosting._labels_cache
    assert cache.given is label
    second = obj(z, dataset)
    assert obj.boosting._labels_cache is cache
    np.testing.assert_array_equal(first[0], second[0])
    assert copy.deepcopy(obj).boosting._labels_cache is None
    xobj = gbm.xgboost_multiclass_objective("cross_entropy")
    dmatrix = xgb.DMatrix(x, y)
    xobj(z.astype(np.float32), dmatrix)
    cache = xobj.boosting._labels_cache
    xobj(z.astype(np.float32), dmatrix)
    assert xobj.boosting._labels_cache is cache  # equal values: not checked again
    edited = y.copy()
    edited[0] = K + 1
    dmatrix.set_label(edited)
    with pytest.raises(LossInputError, match="label"):
        xobj(z.astype(np.float32), dmatrix)


# ---- the starting score --------------------------------------------------------------------------
def total_loss(loss, c, y, w, params):
    scores = np.repeat(np.asarray(c, dtype=np.float64)[None, :], y.size, axis=0)
    return float(loss(scores, y, weight=w, reduction="sum", **full(loss, params)))


@pytest.mark.parametrize(("loss", "params"), cases())
def test_initial_prediction_minimises_the_weighted_loss(loss, params):
    _, y = data(400, seed=10)
    w = np.random.default_rng(10).uniform(0.0, 2.0, y.size)
    labels = y.astype(int)
    c = gbm.multiclass_initial_prediction(loss.name, y, w, num_class=K, **params)
    assert c.shape == (K,) and c.dtype == np.float64
    best = total_loss(loss, c, labels, w, params)
    rng = np.random.default_rng(11)
    for size in (1e-4, 0.05, 0.5):
        for _ in range(10):
            other = c + size * rng.normal(size=K)
            assert best <= total_loss(loss, other, labels, w, params) + 1e-9 * abs(best)


def test_cross_entropy_initial_prediction_is_the_log_of_the_priors():
    _, y = data(500, seed=12)
    w = np.random.default_rng(12).uniform(0.2, 3.0, y.size)
    counts = np.bincount(y.astype(int), weights=w, minlength=K)
    init = gbm.multiclass_initial_prediction("cross_entropy", y, w)
    np.testing.assert_allclose(init, np.log(counts / counts.sum()), rtol=1e-14)
    # class weights and label smoothing: the priors of the weighted, smoothed targets; the
    # closed form is the minimiser the generic Newton search finds
    s = 0.2
    init = gbm.multiclass_initial_prediction(
        "cross_entropy", y, w, class_weight=CLASS_WEIGHT, label_smoothing=s
    )
    mass = CLASS_WEIGHT * ((1 - s) * counts + s * counts.sum() / K)
    np.testing.assert_allclose(init, np.log(mass / mass.sum()), rtol=1e-14)
    params = {"class_weight": CLASS_WEIGHT, "label_smoothing": s, "from_logits": True}
    bound = lossatlas.cross_entropy.bind(**params)
    searched = gbm._newton_constant(lossatlas.cross_entropy, bound, counts, np.zeros(K))
    np.testing.assert_allclose(searched - searched.mean(), init - init.mean(), atol=1e-7)
    # ignored rows count nowhere; an empty class starts at -30; K from num_class
    labels = np.array([0, 0, 1, 5, 1, 0])
    init = gbm.multiclass_initial_prediction("cross_entropy", labels, num_class=3, ignore_index=5)
    np.testing.assert_allclose(init, [math.log(3 / 5), math.log(2 / 5), -30.0])
    assert gbm.multiclass_initial_prediction("cross_entropy", np.array([0.0, 2.0])).shape == (3,)
    assert gbm.multiclass_initial_prediction("cross_entropy", [0], class_weight=[1, 2]).shape == (
        2,
    )


def test_initial_prediction_errors():
    f = gbm.multiclass_initial_prediction
    with pytest.raises(LossInputError, match="at least one"):
        f("cross_entropy", np.array([]))
    with pytest.raises(LossInputError, match="weight"):
        f("cross_entropy", np.array([0, 1]), np.ones(3))
    with pytest.raises(LossInputError, match="weight"):
        f("cross_entropy", np.array([0, 1]), np.zeros(2))
    with pytest.raises(LossInputError, match="num_class"):
        f("cross_entropy", np.array([0, 0]), num_class=1)
    with pytest.raises(LossInputError, match="label"):
        f("cross_entropy", np.array([0, 3]), num_class=3)
    with pytest.raises(LossInputError, match="class_weight"):
        f("cross_entropy", np.array([0, 1]), num_class=3, class_weight=[1.0, 1.0])
    with pytest.raises(LossInputError, match="class-axis"):
        f("mse", np.array([0, 1]))


# ---- XGBoost and LightGBM against their built-in multiclass objectives ---------------------------
XGB_PARAMS = {"num_class": K, "max_depth": 3, "eta": 0.3, "tree_method": "hist", "nthread": THREADS}
LGB_PARAMS = {
    "num_class": K,
    "num_leaves": 8,
    "learning_rate": 0.3,
    "verbose": -1,
    "num_threads": THREADS,
    "deterministic": True,
    "force_row_wise": True,
}


def xgb_margin(booster, x):
    return booster.predict(xgb.DMatrix(x), output_margin=True).astype(np.float64)


def test_xgboost_equals_multi_softprob():
    """hessian="xgboost" reproduces multi:softprob: the same trees and leaf values, to float32
    round-off, with the same base_score (our log priors, a list of K: XGBoost >= 3.1)."""
    x, y = data(2000, seed=21)
    xt, _ = data(500, seed=22)
    w = np.random.default_rng(23).uniform(0.2, 3.0, y.size)
    for weight in (None, w):
        train = xgb.DMatrix(x, y, weight=weight)
        init = gbm.multiclass_initial_prediction("cross_entropy", y, weight)
        common = {**XGB_PARAMS, "base_score": init.tolist()}
        builtin = xgb.train({**common, "objective": "multi:softprob"}, train, 20)
        ours = xgb.train(
            {**common, "disable_default_eval_metric": 1},
            train,
            20,
            obj=gbm.xgboost_multiclass_objective("cross_entropy", hessian="xgboost"),
        )
        np.testing.assert_allclose(xgb_margin(ours, xt), xgb_margin(builtin, xt), atol=1e-5)
        # XGBoost's own intercept estimate for multi:softprob: the centred log priors
        auto = xgb.train({**XGB_PARAMS, "objective": "multi:softprob"}, train, 1)
        config = json.loads(auto.save_config())["learner"]["learner_model_param"]
        np.testing.assert_allclose(json.loads(config["base_score"]), init - init.mean(), atol=5e-5)


def test_lightgbm_equals_multiclass_and_its_boost_from_average():
    """hessian="lightgbm" reproduces LightGBM's multiclass from the same init_score (both
    compute the softmax in float64 and round the gradients to float32), and our log priors
    are LightGBM's boost-from-average start."""
    x, y = data(2000, seed=31)
    xt, _ = data(500, seed=32)
    w = np.random.default_rng(33).uniform(0.2, 3.0, y.size)
    for weight in (None, w):
        init = gbm.multiclass_initial_prediction("cross_entropy", y, weight)
        start = np.tile(init, (y.size, 1))
        builtin = lgb.train(
            {**LGB_PARAMS, "objective": "multiclass"},
            lgb.Dataset(x, y, weight=weight, init_score=start),
            20,
        )
        objective = gbm.lightgbm_multiclass_objective("cross_entropy", hessian="lightgbm")
        ours = lgb.train(
            {**LGB_PARAMS, "objective": objective},
            lgb.Dataset(x, y, weight=weight, init_score=start),
            20,
        )
        np.testing.assert_allclose(
            ours.predict(xt, raw_score=True), builtin.predict(xt, raw_score=True), atol=1e-9
        )
        from_average = lgb.train(
            {**LGB_PARAMS, "objective": "multiclass"}, lgb.Dataset(x, y, weight=weight), 20
        )
        np.testing.assert_allclose(
            ours.predict(xt, raw_score=True) + init,
            from_average.predict(xt, raw_score=True),
            atol=1e-7,
        )


def test_exact_hessian_is_the_default_and_trains_as_well():
    """The default hands over p (1 - p), half XGBoost's: with lambda and min_child_weight
    halved too, every leaf is the built-in's Newton step doubled, which (with eta halved)
    gives the built-in model back."""
    x, y = data(1500, seed=41)
    xt, _ = data(400, seed=42)
    train = xgb.DMatrix(x, y)
    init = gbm.multiclass_initial_prediction("cross_entropy", y)
    common = {**XGB_PARAMS, "base_score": init.tolist()}
    builtin = xgb.train({**common, "objective": "multi:softprob"}, train, 15)
    exact = xgb.train(
        {**common, "eta": 0.15, "lambda": 0.5, "min_child_weight": 0.5},
        train,
        15,
        obj=gbm.xgboost_multiclass_objective("cross_entropy"),
    )
    np.testing.assert_allclose(xgb_margin(exact, xt), xgb_margin(builtin, xt), atol=1e-5)


def test_metrics_are_the_weighted_mean_loss():
    x, y = data(1000, seed=51)
    xv, yv = data(400, seed=52)
    w = np.random.default_rng(53).uniform(0.5, 2.0, y.size)
    wv = np.random.default_rng(54).uniform(0.5, 2.0, yv.size)
    params = {"class_weight": CLASS_WEIGHT, "label_smoothing": 0.1}
    init = gbm.multiclass_initial_prediction("cross_entropy", y, w, **params)
    history: dict = {}
    booster = xgb.train(
        {**XGB_PARAMS, "base_score": init.tolist(), "disable_default_eval_metric": 1},
        xgb.DMatrix(x, y, weight=w),
        8,
        evals=[(xgb.DMatrix(xv, yv, weight=wv), "valid")],
        obj=gbm.xgboost_multiclass_objective("cross_entropy", **params),
        custom_metric=gbm.xgboost_multiclass_metric("cross_entropy", **params),
        evals_result=history,
        verbose_eval=False,
    )
    expected = float(
        lossatlas.cross_entropy(xgb_margin(booster, xv), yv.astype(int), weight=wv, **params)
    )
    assert history["valid"]["cross_entropy"][-1] == pytest.approx(expected, rel=1e-6)
    assert history["valid"]["cross_entropy"][-1] < history["valid"]["cross_entropy"][0]

    start, start_v = np.tile(init, (y.size, 1)), np.tile(init, (yv.size, 1))
    train = lgb.Dataset(x, y, weight=w, init_score=start)
    valid = lgb.Dataset(xv, yv, weight=wv, init_score=start_v, reference=train)
    record: dict = {}
    booster = lgb.train(
        {**LGB_PARAMS, "objective": gbm.lightgbm_multiclass_objective("cross_entropy", **params)},
        train,
        8,
        valid_sets=[valid],
        valid_names=["valid"],
        feval=gbm.lightgbm_multiclass_metric("cross_entropy", **params),
        callbacks=[lgb.record_evaluation(record)],
    )
    margin = booster.predict(xv, raw_score=True) + init
    expected = float(lossatlas.cross_entropy(margin, yv.astype(int), weight=wv, **params))
    assert record["valid"]["cross_entropy"][-1] == pytest.approx(expected, rel=1e-9)
    # without class weights the metric is scikit-learn's weighted log loss
    sk = pytest.importorskip("sklearn.metrics")
    metric = gbm.lightgbm_multiclass_metric("cross_entropy")
    p = np.exp(margin - margin.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    name, value, higher = metric(yv, margin, wv)
    assert (name, higher) == ("cross_entropy", False)
    assert value == pytest.approx(sk.log_loss(yv, p, sample_weight=wv, labels=range(K)), rel=1e-9)


def test_weight_two_equals_a_duplicated_row():
    x, y = data(300, seed=61)
    x = np.round(x, 1)  # few distinct values: exact splits either way
    counts = np.where(np.arange(y.size) % 3 == 0, 2, 1)
    xd, yd = np.repeat(x, counts, axis=0), np.repeat(y, counts)
    weight = counts.astype(float)
    init = gbm.multiclass_initial_prediction("cross_entropy", y, weight)
    np.testing.assert_allclose(init, gbm.multiclass_initial_prediction("cross_entropy", yd))
    common = {**XGB_PARAMS, "tree_method": "exact", "base_score": init.tolist()}
    obj = gbm.xgboost_multiclass_objective("cross_entropy", label_smoothing=0.1)
    weighted = xgb.train(common, xgb.DMatrix(x, y, weight=weight), 8, obj=obj)
    copies = xgb.train(common, xgb.DMatrix(xd, yd), 8, obj=obj)
    np.testing.assert_allclose(xgb_margin(weighted, x), xgb_margin(copies, x), atol=1e-5)


def test_sklearn_interfaces_equal_train():
    x, y = data(600, seed=71)
    w = np.random.default_rng(72).uniform(0.5, 2.0, y.size)
    labels = y.astype(int)
    init = gbm.multiclass_initial_prediction("cross_entropy", labels, w)
    obj = gbm.xgboost_multiclass_objective("cross_entropy")
    model = xgb.XGBClassifier(
        objective=obj,
        n_estimators=10,
        max_depth=3,
        learning_rate=0.3,
        tree_method="hist",
        n_jobs=THREADS,
        base_score=init.tolist(),
    )
    model.fit(x, labels, sample_weight=w)
    native = xgb.train(
        {**XGB_PARAMS, "base_score": init.tolist(), "disable_default_eval_metric": 1},
        xgb.DMatrix(x, labels, weight=w),
        10,
        obj=obj,
    )
    np.testing.assert_allclose(
        model.predict(x, output_margin=True), xgb_margin(native, x), atol=1e-6
    )

    lobj = gbm.lightgbm_multiclass_objective("cross_entropy")
    start = np.tile(init, (y.size, 1))
    classifier = lgb.LGBMClassifier(
        objective=lobj,
        n_estimators=10,
        num_leaves=8,
        learning_rate=0.3,
        verbose=-1,
        n_jobs=THREADS,
        deterministic=True,
        force_row_wise=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        classifier.fit(x, labels, sample_weight=w, init_score=start)
    native = lgb.train(
        {**LGB_PARAMS, "objective": lobj}, lgb.Dataset(x, labels, weight=w, init_score=start), 10
    )
    np.testing.assert_allclose(
        classifier.predict(x, raw_score=True), native.predict(x, raw_score=True), atol=1e-9
    )


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
@pytest.mark.parametrize(("loss", "params"), cases())
def test_every_boostable_axis_loss_trains(loss, params, library):
    x, y = data(1200, seed=81)
    xt, yt = data(1200, seed=82)
    init = gbm.multiclass_initial_prediction(loss.name, y, num_class=K, **params)
    if library == "xgboost":
        booster = xgb.train(
            {
                **XGB_PARAMS,
                "eta": 0.2,
                "base_score": init.tolist(),
                "disable_default_eval_metric": 1,
            },
            xgb.DMatrix(x, y),
            25,
            obj=gbm.xgboost_multiclass_objective(loss.name, **params),
        )
        pred = xgb_margin(booster, xt)
    else:
        booster = lgb.train(
            {
                **LGB_PARAMS,
                "learning_rate": 0.2,
                "objective": gbm.lightgbm_multiclass_objective(loss.name, **params),
            },
            lgb.Dataset(x, y, init_score=np.tile(init, (y.size, 1))),
            25,
        )
        pred = booster.predict(xt, raw_score=True) + init
    labels = yt.astype(int)
    start = float(loss(np.tile(init, (yt.size, 1)), labels, **full(loss, params)))
    end = float(loss(pred, labels, **full(loss, params)))
    assert np.all(np.isfinite(pred))
    assert end < 0.9 * start, (loss.name, start, end)


# ---- the CLI and the atlas -----------------------------------------------------------------------
def test_cli_show_says_how_to_boost_a_class_axis_loss():
    out = subprocess.run(
        [sys.executable, "-m", "lossatlas", "show", "cross_entropy"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    section = out.split("Gradient boosting (lossatlas.gbm):\n", 1)[1].split("\n\n", 1)[0]
    flat = " ".join(section.split())
    assert "the exact Hessian diagonal" in flat
    assert "gbm.xgboost_multiclass_objective" in flat
    assert "gbm.lightgbm_multiclass_objective" in flat


def test_site_boosting_section_of_a_class_axis_loss(tmp_path: Path):
    from lossatlas.atlas import site

    html = site._boosting_section(lossatlas.cross_entropy, None, tmp_path)
    assert "exact second derivative" in html
    assert "gbm.xgboost_multiclass_objective(&quot;cross_entropy&quot;)" in html
    assert "gbm.multiclass_initial_prediction(&quot;cross_entropy&quot;, y" in html
    assert "catboost" not in html.lower()
    assert "gbm.initial_prediction(&quot;cross_entropy&quot;" not in html
