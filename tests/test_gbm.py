"""Boosting objectives: the Hessians handed to boosters, the starting score, and training with
XGBoost, LightGBM and CatBoost against their built-in objectives.

Tolerances: where a built-in objective uses the same gradient and Hessian (squared error,
pseudo-Huber, logistic, LightGBM's Huber), predictions must agree to float32 round-off (XGBoost
and LightGBM keep gradients in float32); for XGBoost's pseudo-Huber and logistic, whose kernels
round differently from ours, up to 1% of the predictions may move by a tenth of a leaf step,
where round-off tips a split between two candidates of equal gain. The built-in quantile
objectives refit every leaf to the residuals' quantile, which a custom objective cannot do, so
there the comparison is of converged models: held-out pinball loss within 8%, predictions within
0.1 standard deviations of the target on average, coverage within 0.03.
"""

from __future__ import annotations

import copy
import math
import re
import warnings

import numpy as np
import pytest

import lossatlas
from lossatlas import LossInputError, gbm
from lossatlas._loss import BOOSTING_HESSIAN_FLOOR

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")
cb = pytest.importorskip("catboost")

#: the elementwise objectives (class-axis losses are multiclass ones: test_gbm_multiclass.py)
BOOSTABLE = [
    x
    for x in lossatlas.catalog()
    if x.spec.boosting.kind != "none" and isinstance(x, lossatlas.ElementwiseLoss)
]
NOT_BOOSTABLE = [x for x in lossatlas.catalog() if x.spec.boosting.kind == "none"]
#: the hyperparameters each loss is boosted with in the generic tests
PARAMS = {
    "gaussian_nll": {"var": 0.5},
    "focal_loss": {"gamma": 2.0, "alpha": 0.25},
    "huber": {"delta": 0.5},
    "quantile": {"q": 0.7},
    # robust losses at a scale of the data's residuals (their std is about 2.3)
    "truncated_squared": {"threshold": 3.0},
    "welsch": {"c": 2.0},
    # boosted on the log link
    "tweedie_deviance": {"log_input": True},
    "poisson_deviance": {"log_input": True},
    "gamma_deviance": {"log_input": True},
}
THREADS = 2


def regression_data(n: int, seed: int, outliers: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    y = 2.0 * x[:, 0] + np.sin(3.0 * x[:, 1]) + 0.5 * rng.normal(size=n)
    if outliers:
        hit = rng.random(n) < outliers
        y[hit] += rng.choice([-1.0, 1.0], hit.sum()) * rng.uniform(10.0, 30.0, hit.sum())
    return x, y


def data_for(loss, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of the loss's target domain."""
    x, y = regression_data(n, seed, outliers=0.05)
    domain = loss.spec.target_domain
    if domain == "binary":
        return x, (y + 0.3 * np.random.default_rng(seed + 1).normal(size=n) > 0.5).astype(float)
    if domain == "sign":
        return x, np.where(y > 0.5, 1.0, -1.0)
    if loss.spec.family == "deviance":  # gamma-distributed amounts (positive targets)
        rate = np.exp(0.8 * x[:, 0] + 0.5 * np.sin(2 * x[:, 1]))
        return x, np.random.default_rng(seed + 2).gamma(4.0, rate / 4.0)
    if domain == "nonnegative":
        rate = np.exp(0.4 * x[:, 0] + 0.3 * np.sin(2 * x[:, 1]))
        return x, np.random.default_rng(seed + 2).poisson(rate).astype(float)
    if loss.spec.family == "relative":  # relative errors: positive targets, relative noise
        rate = np.exp(0.4 * x[:, 0] + 0.3 * np.sin(2 * x[:, 1]))
        return x, rate * np.exp(0.2 * np.random.default_rng(seed + 3).normal(size=n))
    return x, y


def mean_loss(loss, pred, y, params, weight=None) -> float:
    return float(loss(np.asarray(pred, dtype=np.float64), y, weight=weight, **params))


# ---- the boosting Hessian ------------------------------------------------------------------
def test_registry_records_a_boosting_hessian_for_every_loss():
    # class-axis losses are multiclass objectives, checked in test_gbm_multiclass.py
    one_score = [x for x in lossatlas.catalog() if not isinstance(x, lossatlas.AxisLoss)]
    kinds = {x.name: x.spec.boosting.kind for x in one_score}
    assert {n for n, k in kinds.items() if k == "none"} == {
        "ctc_loss",  # a sequence loss: a (T, C) lattice of scores per sample
        # ratios of sums over an image's pixels, and the Lovász extension of a whole image
        "dice_loss",
        "jaccard_loss",
        "tversky_loss",
        "focal_tversky_loss",
        "generalized_dice_loss",
        "dice_ce_loss",
        "lovasz_hinge",
        "lovasz_softmax",
        # a loss of a box: four coordinates that act together
        "iou_loss",
        "giou_loss",
        "diou_loss",
        "ciou_loss",
        # pairs and triplets of embeddings, sets of them, lists of scores, cosine logits
        # against class weights: no one raw score per sample
        "margin_ranking_loss",
        "cosine_embedding_loss",
        "ranking_softmax_loss",
        "contrastive_loss",
        "triplet_margin_loss",
        "batch_hard_triplet_loss",
        "circle_loss",
        "info_nce",
        "nt_xent",
        "supervised_contrastive",
        "clip_loss",
        "siglip_loss",
        "large_margin_softmax",
        "angular_margin_softmax",
        "center_loss",
        # a distance (>= 0), not a raw score a booster may take below 0
        "hinge_embedding_loss",
        "rmse",
        "mean_bias_error",
        "zero_one_loss",
        "binary_cross_entropy",
        "msle",
        "rmsle",
    }
    surrogates = {n for n, k in kinds.items() if k == "surrogate"}
    assert surrogates == {
        "mae",
        "quantile",
        "huber",
        "smooth_l1",
        "log_cosh",
        "hinge",
        "squared_hinge",
        "focal_loss",
        "sparsemax_loss",
        "truncated_squared",
        "cauchy",
        "geman_mcclure",
        "welsch",
        "tukey_biweight",
        "charbonnier",
        "general_robust",
        "tweedie_deviance",
        "mape",
        "smape",
    }
    for loss in lossatlas.catalog():
        boosting = loss.spec.boosting
        if boosting.kind == "surrogate":
            assert boosting.formula and boosting.reason, loss.name
        if boosting.kind == "none":
            assert boosting.reason, loss.name


def boosting_inputs(loss, dtype, seed=0):
    rng = np.random.default_rng(seed)
    n = 400
    pred = np.concatenate(
        [
            rng.normal(scale=3.0, size=n),
            [-3e38, -1e20, -1e4, -60.0, -30.0, 0.0, 30.0, 60.0, 1e4, 1e20, 3e38],
        ]
    ).astype(dtype)
    _, y = data_for(loss, pred.size, seed)
    if loss.spec.target_domain == "real":
        y[:7] = pred[:7]  # residual exactly 0: the kinks
    return pred, y.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("loss", BOOSTABLE, ids=lambda x: x.name)
def test_boosting_hessian_is_positive_finite_and_bounds_the_exact_one(loss, dtype):
    params = PARAMS.get(loss.name, {})
    if "from_logits" in loss.spec.defaults:
        params = {**params, "from_logits": True}
    pred, y = boosting_inputs(loss, dtype)
    h = loss.boosting_hess(pred, y, **params)
    exact = loss.hess(pred, y, **params)
    assert h.dtype == dtype and h.shape == pred.shape
    finite = np.isfinite(exact)
    # finite wherever the exact Hessian is (exp(pred) of poisson_nll overflows at 1e4)
    assert np.all(np.isfinite(h[finite])) and not np.any(np.isnan(h)), loss.name
    assert np.all(h >= np.asarray(BOOSTING_HESSIAN_FLOOR, dtype=dtype))
    tol = 1e-6 if dtype == np.float32 else 1e-12
    assert np.all(h[finite] >= exact[finite] - tol * np.abs(exact[finite])), loss.name
    if loss.spec.boosting.kind == "exact":
        # an exact Hessian that can be negative must be declared a surrogate instead
        assert np.all(exact[finite] >= 0), loss.name
        floor = np.maximum(exact, np.asarray(BOOSTING_HESSIAN_FLOOR, dtype=dtype))
        np.testing.assert_array_equal(h, floor)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("loss", BOOSTABLE, ids=lambda x: x.name)
def test_objectives_fused_kernel_equals_grad_and_boosting_hess(loss, dtype):
    """Boosters get the loss's fused kernel (one sigmoid, one root); it must equal the two
    public derivatives, including in the tails where its exp overflows."""
    params = PARAMS.get(loss.name, {})
    pred, y = boosting_inputs(loss, dtype, seed=4)
    w = np.random.default_rng(4).uniform(0.0, 3.0, y.size)
    grad, hess = gbm.xgboost_objective(loss.name, **params)(y, pred, sample_weight=w)
    if "from_logits" in loss.spec.defaults:
        params = {**params, "from_logits": True}
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert grad.dtype == dtype and hess.dtype == dtype
    expected_grad = w * loss.grad(pred, y, **params)
    finite = np.isfinite(expected_grad)
    # a subnormal gradient (welsch's far tail in float32) times w rounds to the subnormal grid
    atol = 4 * np.finfo(dtype).smallest_subnormal
    np.testing.assert_allclose(grad[finite], expected_grad[finite], rtol=rtol, atol=atol)
    np.testing.assert_array_equal(grad[~finite], expected_grad[~finite])
    expected_hess = w * loss.boosting_hess(pred, y, **params)
    np.testing.assert_allclose(hess, expected_hess, rtol=rtol, atol=0)


def test_surrogate_values():
    r = np.array([-5.0, -0.5, 0.0, 0.25, 3.0])
    zero = np.zeros_like(r)
    for name, params in (("mae", {}), ("quantile", {"q": 0.9}), ("huber", {"delta": 0.5})):
        np.testing.assert_array_equal(lossatlas.get(name).boosting_hess(r, zero, **params), 1.0)
    np.testing.assert_array_equal(lossatlas.smooth_l1.boosting_hess(r, zero, beta=0.25), 4.0)
    np.testing.assert_array_equal(lossatlas.smooth_l1.boosting_hess(r, zero, beta=0.0), 1.0)
    signs = np.array([1.0, -1.0, 1.0, 1.0, -1.0])
    np.testing.assert_array_equal(lossatlas.hinge.boosting_hess(r, signs), 1.0)
    np.testing.assert_array_equal(lossatlas.squared_hinge.boosting_hess(r, signs), 2.0)
    # sparsemax's curvature is 1/2 inside [-1, 1] and 0 outside: the bound 1/2 everywhere
    np.testing.assert_array_equal(lossatlas.sparsemax_loss.boosting_hess(r, signs > 0), 0.5)
    expected = np.where(r == 0, 1.0, np.tanh(r) / np.where(r == 0, 1.0, r))
    np.testing.assert_allclose(lossatlas.log_cosh.boosting_hess(r, zero), expected, rtol=1e-15)
    # tanh(r)/r is the curvature at r of the quadratic majorising log cosh: a Newton step from
    # a lone residual lands exactly on its target
    step = lossatlas.log_cosh.grad(r, zero) / lossatlas.log_cosh.boosting_hess(r, zero)
    np.testing.assert_allclose(step, r, rtol=1e-14)


def test_focal_surrogate_is_the_larger_of_exact_and_gauss_newton_curvature():
    z = np.linspace(-12.0, 12.0, 2001)
    p = 1.0 / (1.0 + np.exp(-z))
    for y in (0.0, 1.0):
        t = np.full_like(z, y)
        exact = lossatlas.focal_loss.hess(z, t, gamma=2.0, alpha=0.25, from_logits=True)
        h = lossatlas.focal_loss.boosting_hess(z, t, gamma=2.0, alpha=0.25, from_logits=True)
        assert np.any(exact < 0)  # confidently wrong rows
        p_t = p if y == 1 else 1.0 - p
        alpha_t = 0.25 if y == 1 else 0.75
        gauss_newton = alpha_t * (1.0 - p_t) ** 2 * p * (1.0 - p)
        expected = np.maximum(np.maximum(exact, gauss_newton), BOOSTING_HESSIAN_FLOOR)
        np.testing.assert_allclose(h, expected, rtol=1e-9)
        near = np.abs(z) < 1.0  # around the decision boundary the exact curvature is kept
        np.testing.assert_allclose(h[near], exact[near], rtol=1e-12)
    # gamma = 0 is alpha-weighted cross entropy: the exact Hessian everywhere
    t = (z > 0).astype(float)
    np.testing.assert_allclose(
        lossatlas.focal_loss.boosting_hess(z, t, gamma=0.0, alpha=0.3, from_logits=True),
        np.maximum(
            lossatlas.focal_loss.hess(z, t, gamma=0.0, alpha=0.3, from_logits=True),
            BOOSTING_HESSIAN_FLOOR,
        ),
        rtol=1e-12,
    )


@pytest.mark.parametrize("loss", BOOSTABLE, ids=lambda x: x.name)
def test_boosting_hessian_runs_on_torch_and_jax(loss):
    torch = pytest.importorskip("torch")
    jnp = pytest.importorskip("jax.numpy")
    params = PARAMS.get(loss.name, {})
    if "from_logits" in loss.spec.defaults:
        params = {**params, "from_logits": True}
    pred, y = boosting_inputs(loss, np.float64, seed=3)
    expected = loss.boosting_hess(pred, y, **params)
    got = loss.boosting_hess(torch.from_numpy(pred), torch.from_numpy(y), **params)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=0)
    got = loss.boosting_hess(jnp.asarray(pred), jnp.asarray(y), **params)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-9, atol=0)


def test_boosting_hessian_errors():
    for loss in NOT_BOOSTABLE:
        if isinstance(loss, lossatlas.ElementwiseLoss):
            with pytest.raises(LossInputError, match="boosting objective"):
                loss.boosting_hess(np.zeros(3), np.zeros(3))
    with pytest.raises(LossInputError, match="from_logits=True"):
        lossatlas.focal_loss.boosting_hess(np.full(3, 0.5), np.zeros(3), from_logits=False)
    with pytest.raises(LossInputError, match="log_input=True"):
        lossatlas.poisson_nll.boosting_hess(np.ones(3), np.ones(3), log_input=False)


# ---- objects and their errors ----------------------------------------------------------------
FACTORIES = [
    gbm.xgboost_objective,
    gbm.xgboost_metric,
    gbm.lightgbm_objective,
    gbm.lightgbm_metric,
    gbm.catboost_objective,
    gbm.catboost_metric,
]


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_factories_reject_what_cannot_be_boosted(factory):
    with pytest.raises(LossInputError, match="registered loss"):
        factory("no_such_loss")
    for loss in NOT_BOOSTABLE:
        with pytest.raises(LossInputError, match=re.escape(loss.spec.boosting.reason[:20])):
            factory(loss.name)
    with pytest.raises(LossInputError, match="from_logits"):
        factory("focal_loss", from_logits=False)
    with pytest.raises(LossInputError, match="log_input"):
        factory("poisson_nll", log_input=False)
    with pytest.raises(LossInputError, match="delta"):
        factory("huber", delta=-1.0)
    with pytest.raises(TypeError, match="unexpected keyword"):
        factory("huber", beta=1.0)


def test_objective_checks_labels_and_weights():
    obj = gbm.xgboost_objective("bce_with_logits")  # an alias works
    assert obj.boosting.name == "binary_cross_entropy_with_logits"
    with pytest.raises(LossInputError, match="target"):
        obj(np.array([0.0, 2.0]), np.zeros(2))  # a label outside [0, 1]
    with pytest.raises(LossInputError, match="label"):
        obj(np.zeros(3), np.zeros(2))
    with pytest.raises(LossInputError, match="weight"):
        obj(np.zeros(2), np.zeros(2), sample_weight=np.array([1.0, -1.0]))
    with pytest.raises(LossInputError, match="weight"):
        obj(np.zeros(2), np.zeros(2), sample_weight=np.ones(3))
    with pytest.raises(LossInputError, match="target"):
        gbm.lightgbm_objective("hinge")(np.array([1.0, 2.0]), np.zeros(2))
    assert "focal_loss" in repr(gbm.catboost_objective("focal_loss"))


def test_lightgbm_objective_reuses_its_datasets_label_array():
    """LightGBM hands over its Dataset's label array every round: the cast and the domain check
    are done once per array, the values are the same as a fresh call's, a new array (a new
    Dataset) is cast and checked again, and a copied objective starts afresh."""
    rng = np.random.default_rng(5)
    obj = gbm.lightgbm_objective("binary_cross_entropy_with_logits")
    fresh = gbm.lightgbm_objective("binary_cross_entropy_with_logits")
    x = rng.normal(size=(60, 2))
    dataset = lgb.Dataset(x, (x[:, 0] > 0).astype(float)).construct()
    label = dataset.get_label()
    assert label.dtype == np.float32 and dataset.get_label() is label
    for _ in range(3):
        pred = rng.normal(size=60)
        got, expected = obj(pred, dataset), fresh.boosting.grad_hess(pred, label.copy())
        for a, b in zip(got, expected, strict=True):
            assert a.dtype == np.float64
            np.testing.assert_array_equal(a, b)
    assert obj.boosting._label_cache[0] is label
    bad = lgb.Dataset(x, np.where(x[:, 0] > 0, 2.0, 0.0)).construct()
    with pytest.raises(LossInputError, match="target"):
        obj(rng.normal(size=60), bad)
    # the sklearn convention passes the same Dataset array as y_true
    np.testing.assert_array_equal(obj(label, pred)[0], fresh.boosting.grad_hess(pred, label)[0])
    assert copy.deepcopy(obj).boosting._label_cache is None
    # a caller's own arrays are never cached: an edit between calls is seen
    y = np.zeros(60)
    first = obj.boosting.grad_hess(pred, y)[0]
    y[:] = 1.0
    assert not np.array_equal(obj.boosting.grad_hess(pred, y)[0], first)


def test_objective_values_and_calling_conventions():
    rng = np.random.default_rng(0)
    y, pred, w = rng.normal(size=50), rng.normal(size=50), rng.uniform(0, 3, 50)
    loss, params = lossatlas.huber, {"delta": 0.7}
    g = loss.grad(pred, y, **params)
    h = loss.boosting_hess(pred, y, **params)
    xgb_obj = gbm.xgboost_objective("huber", **params)
    lgb_obj = gbm.lightgbm_objective("huber", **params)
    for got in (xgb_obj(y, pred, sample_weight=w), lgb_obj(y, pred, w)):
        np.testing.assert_allclose(got[0], w * g, rtol=1e-15)
        np.testing.assert_allclose(got[1], w * h, rtol=1e-15)
    got = xgb_obj(pred, xgb.DMatrix(np.zeros((50, 1)), y, weight=w))
    np.testing.assert_allclose(got[0], w * g, rtol=1e-6)
    got = lgb_obj(pred, lgb.Dataset(np.zeros((50, 1)), y, weight=w).construct())
    np.testing.assert_allclose(got[1], w * h, rtol=1e-6)
    ders = gbm.catboost_objective("huber", **params).calc_ders_range(list(pred), list(y), w)
    np.testing.assert_allclose(ders, np.stack([-w * g, -w * h], axis=1), rtol=1e-15)
    # metrics: the weighted mean loss, in each library's convention
    expected = float(loss(pred, y, weight=w, **params))
    assert gbm.xgboost_metric("huber", **params)(y, pred, sample_weight=w) == pytest.approx(
        expected, rel=1e-12
    )
    name, value, higher = gbm.lightgbm_metric("huber", **params)(y, pred, w)
    assert (name, higher) == ("huber", False) and value == pytest.approx(expected, rel=1e-12)
    metric = gbm.catboost_metric("huber", **params)
    error, total = metric.evaluate([list(pred)], list(y), list(w))
    assert metric.get_final_error(error, total) == pytest.approx(expected, rel=1e-12)
    assert metric.is_max_optimal() is False


# ---- the starting score ------------------------------------------------------------------------
def total_loss(loss, c, y, w, params):
    return float(loss(np.full_like(y, c), y, weight=w, reduction="sum", **params))


@pytest.mark.parametrize("loss", BOOSTABLE, ids=lambda x: x.name)
def test_initial_prediction_minimises_the_weighted_loss(loss):
    params = PARAMS.get(loss.name, {})
    _, y = data_for(loss, 301, seed=5)
    w = np.random.default_rng(6).uniform(0.0, 2.0, y.size)
    c = gbm.initial_prediction(loss.name, y, w, **params)
    if "from_logits" in loss.spec.defaults:
        params = {**params, "from_logits": True}
    best = total_loss(loss, c, y, w, params)
    span = max(float(np.ptp(y)), 1.0)
    for other in [c + d * span for d in np.linspace(-0.5, 0.5, 41)] + [c - 1e-6, c + 1e-6]:
        assert best <= total_loss(loss, other, y, w, params) + 1e-9 * abs(best), (loss.name, c)


def test_initial_prediction_closed_forms():
    rng = np.random.default_rng(7)
    y = rng.normal(size=1000) * 3.0 + 1.0
    w = rng.integers(0, 4, size=1000).astype(float)
    assert gbm.initial_prediction("mse", y, w) == pytest.approx(np.average(y, weights=w))
    # a weight of k equals k copies of the row
    copies = np.repeat(y, w.astype(int))
    median = gbm.initial_prediction("mae", y, w)
    assert median == pytest.approx(np.median(copies), abs=1e-9) or (
        np.sum(copies < median) <= copies.size / 2 <= np.sum(copies <= median)
    )
    for q in (0.05, 0.3, 0.95):
        c = gbm.initial_prediction("quantile", y, w, q=q)
        assert np.mean(copies < c) <= q + 1e-12 <= np.mean(copies <= c) + 2e-12
    labels = (rng.random(1000) < 0.2).astype(float)
    p = labels.mean()
    assert gbm.initial_prediction("bce_with_logits", labels) == pytest.approx(math.log(p / (1 - p)))
    assert gbm.initial_prediction("logistic_loss", 2 * labels - 1) == pytest.approx(
        math.log(p / (1 - p)), abs=1e-9
    )
    assert gbm.initial_prediction(
        "bce_with_logits", labels, pos_weight=3.0, label_smoothing=0.1
    ) == pytest.approx(math.log(3.0 * (0.9 * p + 0.05) / (1 - 0.9 * p - 0.05)))
    counts = rng.poisson(2.5, size=1000).astype(float)
    assert gbm.initial_prediction("poisson_nll", counts) == pytest.approx(math.log(counts.mean()))
    # all labels in one class: no finite minimiser; clipped at +-30
    assert gbm.initial_prediction("bce_with_logits", np.ones(5)) == 30.0
    assert gbm.initial_prediction("exponential_loss", -np.ones(5)) == -30.0


def test_initial_prediction_errors():
    with pytest.raises(LossInputError, match="at least one"):
        gbm.initial_prediction("mse", np.array([]))
    with pytest.raises(LossInputError, match="weight"):
        gbm.initial_prediction("mse", np.ones(3), np.ones(2))
    with pytest.raises(LossInputError, match="weight"):
        gbm.initial_prediction("mse", np.ones(3), np.zeros(3))
    with pytest.raises(LossInputError, match="boosting objective"):
        gbm.initial_prediction("rmse", np.ones(3))
    with pytest.raises(LossInputError, match="target"):
        gbm.initial_prediction("hinge", np.array([0.5, 1.0]))


# ---- XGBoost ---------------------------------------------------------------------------------
XGB_PARAMS = {"max_depth": 3, "eta": 0.3, "tree_method": "hist", "nthread": THREADS}


def xgb_margin(booster, x):
    return booster.predict(xgb.DMatrix(x), output_margin=True).astype(np.float64)


def assert_float32_equal_models(ours, builtin):
    """The same model up to float32 round-off in the gradients. Round-off can tip a split whose
    two candidates tie to the last bit, which moves the few points routed by it; allow that for
    at most 1% of the points, and by no more than a tenth of a leaf step."""
    close = np.isclose(ours, builtin, rtol=2e-4, atol=1e-4)
    assert close.mean() >= 0.99, f"{np.sum(~close)} of {close.size} predictions differ"
    np.testing.assert_allclose(ours, builtin, atol=0.1 * XGB_PARAMS["eta"])


def test_xgboost_mse_pseudo_huber_and_logistic_equal_the_builtins():
    x, y = regression_data(2000, seed=11, outliers=0.02)
    w = np.random.default_rng(12).uniform(0.2, 3.0, y.size)
    xt, _ = regression_data(500, seed=13)
    for weight in (None, w):
        train = xgb.DMatrix(x, y, weight=weight)
        # lossatlas mse is r^2, XGBoost's squared error r^2 / 2: doubling lambda, gamma and
        # min_child_weight keeps every split and leaf the same
        base = gbm.initial_prediction("mse", y, weight)
        common = {**XGB_PARAMS, "base_score": base}
        builtin = xgb.train(
            {**common, "objective": "reg:squarederror", "lambda": 1.0, "gamma": 0.1}, train, 25
        )
        ours = xgb.train(
            {**common, "lambda": 2.0, "gamma": 0.2, "min_child_weight": 2.0},
            train,
            25,
            obj=gbm.xgboost_objective("mse"),
        )
        np.testing.assert_allclose(xgb_margin(ours, xt), xgb_margin(builtin, xt), atol=1e-5)

        for delta in (1.0, 3.0):
            base = gbm.initial_prediction("pseudo_huber", y, weight, delta=delta)
            common = {**XGB_PARAMS, "base_score": base}
            builtin = xgb.train(
                {**common, "objective": "reg:pseudohubererror", "huber_slope": delta}, train, 25
            )
            ours = xgb.train(
                common, train, 25, obj=gbm.xgboost_objective("pseudo_huber", delta=delta)
            )
            assert_float32_equal_models(xgb_margin(ours, xt), xgb_margin(builtin, xt))

        labels = (y > 0.5).astype(float)
        train = xgb.DMatrix(x, labels, weight=weight)
        base = gbm.initial_prediction("bce_with_logits", labels, weight)
        builtin = xgb.train(
            {**XGB_PARAMS, "objective": "binary:logistic", "base_score": 1 / (1 + math.exp(-base))},
            train,
            25,
        )
        ours = xgb.train(
            {**XGB_PARAMS, "base_score": base},
            train,
            25,
            obj=gbm.xgboost_objective("binary_cross_entropy_with_logits"),
        )
        assert_float32_equal_models(xgb_margin(ours, xt), xgb_margin(builtin, xt))


def quantile_agreement(builtin_pred, our_pred, y_test, y_train, q):
    builtin_loss = float(lossatlas.quantile(builtin_pred, y_test, q=q))
    our_loss = float(lossatlas.quantile(our_pred, y_test, q=q))
    assert our_loss <= 1.08 * builtin_loss
    assert np.mean(np.abs(our_pred - builtin_pred)) <= 0.1 * np.std(y_train)
    coverage = np.mean(y_test <= our_pred)
    assert abs(coverage - np.mean(y_test <= builtin_pred)) <= 0.03
    assert abs(coverage - q) <= 0.05


def test_xgboost_quantile_converges_to_the_builtin():
    x, y = regression_data(2000, seed=21)
    xt, yt = regression_data(2000, seed=22)
    q = 0.8
    common = {**XGB_PARAMS, "eta": 0.1, "base_score": gbm.initial_prediction("quantile", y, q=q)}
    train = xgb.DMatrix(x, y)
    builtin = xgb.train(
        {**common, "objective": "reg:quantileerror", "quantile_alpha": q}, train, 400
    )
    ours = xgb.train(common, train, 400, obj=gbm.xgboost_objective("quantile", q=q))
    quantile_agreement(xgb_margin(builtin, xt), xgb_margin(ours, xt), yt, y, q)


def test_xgboost_metric_matches_the_builtin_metrics():
    x, y = regression_data(1000, seed=31)
    xt, yt = regression_data(500, seed=32)
    train, test = xgb.DMatrix(x, y), xgb.DMatrix(xt, yt)
    for name, builtin, transform in (("mse", "rmse", np.sqrt), ("pseudo_huber", "mphe", None)):
        history: dict = {}
        xgb.train(
            {**XGB_PARAMS, "eval_metric": builtin, "disable_default_eval_metric": 0},
            train,
            5,
            evals=[(test, "test")],
            obj=gbm.xgboost_objective(name),
            custom_metric=gbm.xgboost_metric(name),
            evals_result=history,
        )
        ours = np.array(history["test"][name])
        theirs = np.array(history["test"][builtin])
        np.testing.assert_allclose(transform(ours) if transform else ours, theirs, rtol=1e-5)


def test_xgboost_sklearn_interface_equals_train():
    x, y = regression_data(1000, seed=41, outliers=0.05)
    w = np.random.default_rng(42).uniform(0.5, 2.0, y.size)
    base = gbm.initial_prediction("log_cosh", y, w)
    native = xgb.train(
        {**XGB_PARAMS, "base_score": base},
        xgb.DMatrix(x, y, weight=w),
        20,
        obj=gbm.xgboost_objective("log_cosh"),
    )
    model = xgb.XGBRegressor(
        objective=gbm.xgboost_objective("log_cosh"),
        n_estimators=20,
        max_depth=3,
        learning_rate=0.3,
        tree_method="hist",
        n_jobs=THREADS,
        base_score=base,
        eval_metric=gbm.xgboost_metric("log_cosh"),
    )
    model.fit(x, y, sample_weight=w, eval_set=[(x, y)], sample_weight_eval_set=[w], verbose=False)
    np.testing.assert_allclose(model.predict(x), native.predict(xgb.DMatrix(x)), atol=1e-6)
    history = model.evals_result()["validation_0"]["log_cosh"]
    final = mean_loss(lossatlas.log_cosh, model.predict(x), y, {}, w)
    assert history[-1] == pytest.approx(final, rel=1e-5)


# ---- LightGBM --------------------------------------------------------------------------------
LGB_PARAMS = {
    "num_leaves": 8,
    "learning_rate": 0.3,
    "verbose": -1,
    "num_threads": THREADS,
    "deterministic": True,
    "force_row_wise": True,
}


def lgb_fit(objective, x, y, rounds, weight=None, init=None, **extra):
    init_score = None if init is None else np.full(y.size, init)
    data = lgb.Dataset(x, y, weight=weight, init_score=init_score)
    return lgb.train({**LGB_PARAMS, "objective": objective, **extra}, data, rounds)


def test_lightgbm_equals_its_builtins_and_boosts_from_the_same_start():
    """LightGBM's boost_from_average starts l2 from the weighted mean and binary from its
    log-odds: lossatlas's initial_prediction must reproduce those starts exactly."""
    x, y = regression_data(2000, seed=51, outliers=0.02)
    w = np.random.default_rng(52).uniform(0.2, 3.0, y.size)
    xt, _ = regression_data(500, seed=53)
    labels = (y > 0.5).astype(float)
    cases = [
        ("mse", "regression", y, {}, {}),
        ("binary_cross_entropy_with_logits", "binary", labels, {}, {}),
        # LightGBM's huber keeps the Hessian 1 beyond delta, as lossatlas's surrogate does;
        # it starts from the mean, so both start from lossatlas's M-estimate here
        ("huber", "huber", y, {"delta": 0.8}, {"alpha": 0.8, "boost_from_average": False}),
    ]
    for weight in (None, w):
        for name, builtin, target, params, extra in cases:
            init = gbm.initial_prediction(name, target, weight, **params)
            if extra.get("boost_from_average") is False:
                theirs = lgb_fit(builtin, x, target, 25, weight, init=init, **extra)
                expected = theirs.predict(xt, raw_score=True) + init
            else:
                theirs = lgb_fit(builtin, x, target, 25, weight, **extra)
                expected = theirs.predict(xt, raw_score=True)
            ours = lgb_fit(gbm.lightgbm_objective(name, **params), x, target, 25, weight, init)
            np.testing.assert_allclose(
                ours.predict(xt, raw_score=True) + init, expected, atol=1e-5, err_msg=name
            )


def test_lightgbm_quantile_converges_to_the_builtin():
    x, y = regression_data(2000, seed=61)
    xt, yt = regression_data(2000, seed=62)
    q = 0.8
    init = gbm.initial_prediction("quantile", y, q=q)
    builtin = lgb_fit("quantile", x, y, 400, alpha=q, learning_rate=0.1)
    ours = lgb_fit(gbm.lightgbm_objective("quantile", q=q), x, y, 400, init=init, learning_rate=0.1)
    quantile_agreement(builtin.predict(xt), ours.predict(xt) + init, yt, y, q)


def test_lightgbm_metric_and_sklearn_interface():
    x, y = regression_data(1000, seed=71)
    xv, yv = regression_data(500, seed=73)
    w = np.random.default_rng(72).uniform(0.5, 2.0, y.size)
    wv = np.random.default_rng(74).uniform(0.5, 2.0, yv.size)
    init = gbm.initial_prediction("mse", y, w)
    model = lgb.LGBMRegressor(
        objective=gbm.lightgbm_objective("mse"),
        n_estimators=15,
        num_leaves=8,
        learning_rate=0.3,
        verbose=-1,
        n_jobs=THREADS,
        deterministic=True,
        force_row_wise=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(
            x,
            y,
            sample_weight=w,
            init_score=np.full(y.size, init),
            eval_set=[(xv, yv)],
            eval_sample_weight=[wv],
            eval_init_score=[np.full(yv.size, init)],
            eval_metric=[gbm.lightgbm_metric("mse"), "l2"],
        )
    native = lgb_fit(gbm.lightgbm_objective("mse"), x, y, 15, w, init)
    np.testing.assert_allclose(model.predict(x), native.predict(x), atol=1e-9)
    history = model.evals_result_["valid_0"]
    np.testing.assert_allclose(history["mse"], history["l2"], rtol=1e-6)  # LightGBM: float32
    final = mean_loss(lossatlas.mse, model.predict(xv) + init, yv, {}, wv)
    assert history["mse"][-1] == pytest.approx(final, rel=1e-6)


# ---- CatBoost --------------------------------------------------------------------------------
CB_PARAMS = {
    "depth": 4,
    "learning_rate": 0.3,
    "random_strength": 0,
    "bootstrap_type": "No",
    "leaf_estimation_iterations": 1,
    "boost_from_average": False,
    "verbose": 0,
    "thread_count": THREADS,
    "allow_writing_files": False,
}


def cb_raw(loss_function, x, y, rounds, init, weight=None, **extra):
    model = cb.CatBoost(
        {**CB_PARAMS, "iterations": rounds, "loss_function": loss_function, **extra}
    )
    model.fit(cb.Pool(x, y, weight=weight, baseline=np.full(y.size, init)))
    return model


def test_catboost_equals_its_builtins():
    """With l2_leaf_reg = 0 (CatBoost scales its regulariser differently for custom
    objectives) a Newton leaf is -sum(grad) / sum(hess): identical for RMSE and Logloss."""
    x, y = regression_data(1500, seed=81)
    w = np.random.default_rng(82).uniform(0.2, 3.0, y.size)
    xt, _ = regression_data(400, seed=83)
    labels = (y > 0.5).astype(float)
    cases = [
        ("mse", "RMSE", y, {}, "Newton", 1e-6),
        ("binary_cross_entropy_with_logits", "Logloss", labels, {}, "Newton", 1e-6),
    ]
    for weight in (None, w):
        for name, builtin, target, params, method, atol in cases:
            init = gbm.initial_prediction(name, target, weight, **params)
            extra = {"l2_leaf_reg": 0, "leaf_estimation_method": method}
            theirs = cb_raw(builtin, x, target, 20, init, weight, **extra)
            ours = cb_raw(
                gbm.catboost_objective(name, **params),
                x,
                target,
                20,
                init,
                weight,
                eval_metric=gbm.catboost_metric(name, **params),
                **extra,
            )
            np.testing.assert_allclose(
                ours.predict(xt, prediction_type="RawFormulaVal"),
                theirs.predict(xt, prediction_type="RawFormulaVal"),
                atol=atol,
                err_msg=name,
            )


def test_catboost_quantile_converges_to_the_builtin():
    x, y = regression_data(2000, seed=84)
    xt, yt = regression_data(2000, seed=85)
    q = 0.8
    init = gbm.initial_prediction("quantile", y, q=q)
    common = {"learning_rate": 0.1, "depth": 3}
    builtin = cb_raw(f"Quantile:alpha={q}", x, y, 400, init, **common)
    ours = cb_raw(
        gbm.catboost_objective("quantile", q=q),
        x,
        y,
        400,
        init,
        eval_metric=gbm.catboost_metric("quantile", q=q),
        **common,
    )
    quantile_agreement(
        builtin.predict(xt, prediction_type="RawFormulaVal") + init,
        ours.predict(xt, prediction_type="RawFormulaVal") + init,
        yt,
        y,
        q,
    )


# ---- training reduces held-out loss --------------------------------------------------------
@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
@pytest.mark.parametrize("loss", BOOSTABLE, ids=lambda x: x.name)
def test_every_boostable_loss_trains(loss, library):
    params = PARAMS.get(loss.name, {})
    x, y = data_for(loss, 1500, seed=91)
    xt, yt = data_for(loss, 1500, seed=92)
    init = gbm.initial_prediction(loss.name, y, **params)
    if library == "xgboost":
        booster = xgb.train(
            {**XGB_PARAMS, "eta": 0.1, "base_score": init},
            xgb.DMatrix(x, y),
            60,
            obj=gbm.xgboost_objective(loss.name, **params),
        )
        pred = xgb_margin(booster, xt)
    else:
        booster = lgb_fit(
            gbm.lightgbm_objective(loss.name, **params), x, y, 60, init=init, learning_rate=0.1
        )
        pred = booster.predict(xt, raw_score=True) + init
    if "from_logits" in loss.spec.defaults:
        params = {**params, "from_logits": True}
    start = mean_loss(loss, np.full(yt.size, init), yt, params)
    end = mean_loss(loss, pred, yt, params)
    assert np.all(np.isfinite(pred))
    assert end < 0.9 * start, (loss.name, start, end)


def test_catboost_trains_focal_and_hinge():
    for name, params in (("focal_loss", {"gamma": 2.0}), ("hinge", {})):
        loss = lossatlas.get(name)
        x, y = data_for(loss, 1000, seed=95)
        xt, yt = data_for(loss, 1000, seed=96)
        init = gbm.initial_prediction(name, y, **params)
        model = cb_raw(
            gbm.catboost_objective(name, **params),
            x,
            y,
            40,
            init,
            eval_metric=gbm.catboost_metric(name, **params),
            learning_rate=0.1,
        )
        pred = model.predict(xt, prediction_type="RawFormulaVal") + init
        full = {**params, "from_logits": True} if name == "focal_loss" else params
        start = mean_loss(loss, np.full(yt.size, init), yt, full)
        assert mean_loss(loss, pred, yt, full) < 0.9 * start


def test_log_cosh_surrogate_survives_outliers_where_the_exact_hessian_explodes():
    """One round where a leaf holds only outliers (residual about 10): with sech(r)^2 its
    Newton step is about sinh(2r)/2 = 1e8; with tanh(r)/r it lands on the outliers."""
    rng = np.random.default_rng(97)
    x = np.arange(400.0)[:, None]
    y = 0.3 * rng.normal(size=400)
    y[-40:] += 10.0  # the last 40 rows, which one split separates

    def exact(predt, dtrain):
        label = dtrain.get_label().astype(np.float64)
        predt = predt.astype(np.float64)
        return lossatlas.log_cosh.grad(predt, label), np.maximum(
            lossatlas.log_cosh.hess(predt, label), BOOSTING_HESSIAN_FLOOR
        )

    base = gbm.initial_prediction("log_cosh", y)
    # min_child_weight = 0: the default 1 would refuse the exact Hessian's leaf of outliers
    # (its Hessians sum to 3e-7), leaving them unfitted instead
    common = {
        **XGB_PARAMS,
        "eta": 1.0,
        "max_depth": 1,
        "base_score": base,
        "lambda": 0.0,
        "min_child_weight": 0.0,
    }
    train = xgb.DMatrix(x, y)
    with_exact = xgb_margin(xgb.train(common, train, 1, obj=exact), x)
    with_surrogate = xgb_margin(
        xgb.train(common, train, 1, obj=gbm.xgboost_objective("log_cosh")), x
    )
    assert np.max(np.abs(with_exact)) > 1e6
    outliers = with_surrogate[-40:]
    assert np.all(np.abs(outliers - np.median(y[-40:])) < 1.0), outliers[:3]
    assert np.all(np.abs(with_surrogate[:-40]) < 1.0)


# ---- weights -----------------------------------------------------------------------------
def duplicated(x, y, counts):
    return np.repeat(x, counts, axis=0), np.repeat(y, counts)


@pytest.mark.parametrize("name", ["mse", "log_cosh", "quantile", "focal_loss"])
def test_weight_two_equals_a_duplicated_row(name):
    """End to end with XGBoost (exact splits) and CatBoost. LightGBM itself does not treat a
    weight of 2 as a duplicated row (its histograms estimate row counts from Hessian sums, so
    even its built-in l2 objective grows different trees), so there the test checks the
    gradient pairs the objective hands over: a weighted row's equals its copies' sum."""
    loss = lossatlas.get(name)
    params = PARAMS.get(name, {})
    x, y = data_for(loss, 300, seed=99)
    x = np.round(x, 1)  # few distinct values: every booster's bins are exact either way
    counts = np.where(np.arange(y.size) % 3 == 0, 2, 1)
    xd, yd = duplicated(x, y, counts)
    weight = counts.astype(float)
    init = gbm.initial_prediction(name, y, weight, **params)
    assert init == pytest.approx(gbm.initial_prediction(name, yd, **params), abs=1e-9)

    xgb_common = {**XGB_PARAMS, "tree_method": "exact", "base_score": init}
    obj = gbm.xgboost_objective(name, **params)
    weighted = xgb.train(xgb_common, xgb.DMatrix(x, y, weight=weight), 10, obj=obj)
    copies = xgb.train(xgb_common, xgb.DMatrix(xd, yd), 10, obj=obj)
    np.testing.assert_allclose(xgb_margin(weighted, x), xgb_margin(copies, x), atol=1e-5)

    lgb_obj = gbm.lightgbm_objective(name, **params)
    pred = np.random.default_rng(100).normal(size=y.size)
    pred_copies = np.repeat(pred, counts)
    rows = np.repeat(np.arange(y.size), counts)
    for part_weighted, part_copies in zip(
        lgb_obj(pred, lgb.Dataset(x, y, weight=weight).construct()),
        lgb_obj(pred_copies, lgb.Dataset(xd, yd).construct()),
        strict=True,
    ):
        summed = np.bincount(rows, weights=part_copies, minlength=y.size)
        np.testing.assert_allclose(part_weighted, summed, rtol=1e-12)

    cb_obj = gbm.catboost_objective(name, **params)
    cb_extra = {
        "eval_metric": gbm.catboost_metric(name, **params),
        "l2_leaf_reg": 0,
        "leaf_estimation_method": "Newton",
    }
    weighted = cb_raw(cb_obj, x, y, 10, init, weight, **cb_extra)
    copies = cb_raw(cb_obj, xd, yd, 10, init, **cb_extra)
    np.testing.assert_allclose(
        weighted.predict(x, prediction_type="RawFormulaVal"),
        copies.predict(x, prediction_type="RawFormulaVal"),
        atol=1e-9,
    )
