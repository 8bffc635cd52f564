"""The Tweedie, Poisson and gamma deviances: scikit-learn's values, derivatives against JAX,
accuracy near the fit against mpmath, their errors, and XGBoost's and LightGBM's built-in
tweedie / poisson / gamma objectives reproduced."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest
from sklearn.metrics import mean_gamma_deviance, mean_poisson_deviance, mean_tweedie_deviance

import lossatlas as la
from lossatlas import LossInputError, gbm

jax.config.update("jax_enable_x64", True)

POWERS = (0.0, 1.0, 1.2, 1.5, 1.8, 2.0, 3.0)


def data(p: float, n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mu, y, weight): means and targets spread over decades, zero targets for p < 2."""
    rng = np.random.default_rng(seed)
    mu = np.exp(rng.normal(scale=2.0, size=n))
    y = mu * np.exp(rng.normal(scale=1.0, size=n))
    if 0 < p < 2:
        y[rng.random(n) < 0.2] = 0.0
    if p == 0:
        y = y - 1.0
    return mu, y, rng.uniform(0.0, 2.0, n)


@pytest.mark.parametrize("p", POWERS)
def test_equals_sklearn(p):
    mu, y, w = data(p)
    for weight in (None, w):
        expected = mean_tweedie_deviance(y, mu, power=p, sample_weight=weight)
        for log_input in (False, True):
            x = np.log(mu) if log_input else mu
            got = la.tweedie_deviance(x, y, power=p, log_input=log_input, weight=weight)
            assert float(got) == pytest.approx(expected, rel=1e-12)
            x32, y32 = x.astype(np.float32), y.astype(np.float32)
            got32 = la.tweedie_deviance(x32, y32, power=p, log_input=log_input, weight=weight)
            assert got32.dtype == np.float32
            assert float(got32) == pytest.approx(expected, rel=2e-5)
        if p == 1:
            assert float(la.poisson_deviance(mu, y, weight=weight)) == pytest.approx(
                mean_poisson_deviance(y, mu, sample_weight=weight), rel=1e-12
            )
        if p == 2:
            assert float(la.gamma_deviance(np.log(mu), y, log_input=True, weight=weight)) == (
                pytest.approx(mean_gamma_deviance(y, mu, sample_weight=weight), rel=1e-12)
            )


def _definition(p: float, log_input: bool):
    """The unit deviance in jax.numpy, as written (for jax.grad)."""

    def f(x, y):
        mu = jnp.exp(x) if log_input else x
        if p == 0:
            return (y - mu) ** 2
        if p == 1:
            return 2 * (jnp.where(y > 0, y * jnp.log(jnp.where(y > 0, y, 1.0) / mu), 0.0) - y + mu)
        if p == 2:
            return 2 * (jnp.log(mu / y) + y / mu - 1)
        return 2 * (
            jnp.maximum(y, 0) ** (2 - p) / ((1 - p) * (2 - p))
            - y * mu ** (1 - p) / (1 - p)
            + mu ** (2 - p) / (2 - p)
        )

    return f


@pytest.mark.parametrize("p", POWERS)
@pytest.mark.parametrize("log_input", [False, True])
def test_grad_hess_equal_jax_autodiff_of_the_definition(p, log_input):
    mu, y, _ = data(p, n=300, seed=1)
    x = np.log(mu) if log_input else mu
    f = _definition(p, log_input)
    g = jax.vmap(jax.grad(f))(jnp.asarray(x), jnp.asarray(y))
    h = jax.vmap(jax.grad(jax.grad(f)))(jnp.asarray(x), jnp.asarray(y))
    kw = {"power": p, "log_input": log_input}
    np.testing.assert_allclose(la.tweedie_deviance.grad(x, y, **kw), g, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(la.tweedie_deviance.hess(x, y, **kw), h, rtol=1e-9, atol=1e-12)


def _mp_deviance(mu, y, p):
    mu, y, p = mp.mpf(mu), mp.mpf(y), mp.mpf(p)
    if p == 0:
        return (y - mu) ** 2
    if p == 1:
        return 2 * (y * mp.log(y / mu) - y + mu)
    if p == 2:
        return 2 * (mp.log(mu / y) + y / mu - 1)
    return 2 * (y ** (2 - p) / ((1 - p) * (2 - p)) - y * mu ** (1 - p) / (1 - p)
                + mu ** (2 - p) / (2 - p))  # fmt: skip


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("p", POWERS)
def test_small_losses_are_accurate(p, dtype):
    """Near pred == target (relative gaps 1e-7 to 2, targets from 1e-30 to 1e30), on the
    mean: within the edge suite's tolerance of mpmath, 4 ulps + 4 u |mu dD/dmu|."""
    mp.mp.dps = 50
    far = 1e30 if dtype == np.float64 else 1e8  # (y gap)^2 stays inside float32 for p = 0
    ys = np.array([1 / far, 1e-3, 0.7, 1.0, 3.0, 1e4, far]).astype(dtype)
    gaps = np.array([-1e-1, -1e-3, -1e-5, -1e-7, 1e-7, 1e-5, 1e-3, 1e-1, 0.5, 2.0])
    y = np.repeat(ys, gaps.size)
    mu = (y * (1 + np.tile(gaps, ys.size))).astype(dtype)
    keep = mu != y
    mu, y = mu[keep], y[keep]
    got = la.tweedie_deviance(mu, y, power=p, reduction="none").astype(np.float64)
    ref = np.array([float(_mp_deviance(float(m), float(t), p)) for m, t in zip(mu, y, strict=True)])
    # the library's stated tolerance: K ulps + K u cond, cond = |mu dD/dmu|
    cond = np.abs(mu * la.tweedie_deviance.grad(mu, y, power=p)).astype(np.float64)
    unit = np.finfo(dtype).eps / 2
    ulps = (np.abs(got - ref) - 4 * unit * cond) / np.spacing(ref.astype(dtype)).astype(float)
    assert ulps.max() <= 4, (ulps.max(), mu[ulps.argmax()], y[ulps.argmax()])


def test_power_and_domain_errors():
    x, y = np.ones(3), np.ones(3)
    for bad in (0.5, 0.01, 0.999, -1.0, -0.5):
        with pytest.raises(LossInputError, match="power"):
            la.tweedie_deviance(x, y, power=bad)
    with pytest.raises(LossInputError, match="power"):
        gbm.xgboost_objective("tweedie_deviance", power=0.5, log_input=True)
    for p in (2.0, 3.0):
        with pytest.raises(LossInputError, match="target"):
            la.tweedie_deviance(x, np.array([1.0, 0.0, 2.0]), power=p)
    with pytest.raises(LossInputError, match="target"):
        la.gamma_deviance(x, np.array([1.0, 0.0, 2.0]))
    for p in (1.0, 1.5, 2.0):
        with pytest.raises(LossInputError, match="target"):
            la.tweedie_deviance(x, np.array([1.0, -1.0, 2.0]), power=p)
    for bad in (0.0, -1.0):
        with pytest.raises(LossInputError, match="pred"):
            la.tweedie_deviance(np.array([1.0, bad, 2.0]), y, power=1.5)
        with pytest.raises(LossInputError, match="pred"):
            la.poisson_deviance(np.array([1.0, bad, 2.0]), y)
    # power 0 takes any real pred and target; log_input any real pred
    assert np.isfinite(float(la.tweedie_deviance(-x, -y, power=0.0)))
    assert np.isfinite(float(la.tweedie_deviance(-x, y, power=3.0, log_input=True)))


def test_initial_prediction_is_the_log_of_the_mean():
    mu, y, w = data(1.5)
    for name, kw in (("tweedie_deviance", {"power": 1.5}), ("poisson_deviance", {}),
                     ("gamma_deviance", {}), ("tweedie_deviance", {"power": 3.0})):  # fmt: skip
        target = y if name != "gamma_deviance" and kw.get("power", 1) < 2 else mu
        c = gbm.initial_prediction(name, target, w, log_input=True, **kw)
        assert c == pytest.approx(math.log(np.average(target, weights=w)), rel=1e-12)
    assert gbm.initial_prediction("tweedie_deviance", -np.ones(4), power=0.0, log_input=True) == -30


# ---- boosting: XGBoost's and LightGBM's built-in objectives -----------------------------------
def boosting_data(p: float, n: int, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    mu = np.exp(0.5 * x[:, 0] + 0.3 * np.sin(2 * x[:, 1]))
    if p == 2:
        y = rng.gamma(2.0, mu / 2.0)
    else:  # compound Poisson-gamma: zeros and positive amounts
        counts = rng.poisson(mu)
        y = np.array([rng.gamma(2.0, 0.5, k).sum() for k in counts])
    return x, y


XGB = {"max_depth": 3, "eta": 0.3, "tree_method": "hist", "nthread": 2, "max_delta_step": 0.7}


@pytest.mark.parametrize(
    ("name", "kw", "builtin"),
    [
        ("tweedie_deviance", {"power": 1.2}, {"objective": "reg:tweedie",
                                              "tweedie_variance_power": 1.2}),
        ("tweedie_deviance", {"power": 1.5}, {"objective": "reg:tweedie",
                                              "tweedie_variance_power": 1.5}),
        ("gamma_deviance", {}, {"objective": "reg:gamma"}),
    ],
)  # fmt: skip
def test_xgboost_equals_its_builtin(name, kw, builtin):
    """The deviance's gradient and Hessian are twice the NLL's: doubled lambda, gamma and
    min_child_weight (and max_delta_step, a bound on the leaf step that is not scaled) give
    the same trees. XGBoost takes base_score in mean space for these objectives."""
    xgb = pytest.importorskip("xgboost")
    p = kw.get("power", 2.0)
    x, y = boosting_data(p, 2000, seed=1)
    xt, _ = boosting_data(p, 500, seed=2)
    w = np.random.default_rng(3).uniform(0.2, 3.0, y.size)
    for weight in (None, w):
        train = xgb.DMatrix(x, y, weight=weight)
        init = gbm.initial_prediction(name, y, weight, log_input=True, **kw)
        theirs = xgb.train(
            {**XGB, **builtin, "base_score": math.exp(init), "lambda": 1.0, "gamma": 0.1},
            train, 25,
        )  # fmt: skip
        ours = xgb.train(
            {**XGB, "base_score": init, "lambda": 2.0, "gamma": 0.2, "min_child_weight": 2.0},
            train, 25, obj=gbm.xgboost_objective(name, log_input=True, **kw),
        )  # fmt: skip
        a = ours.predict(xgb.DMatrix(xt), output_margin=True).astype(np.float64)
        b = theirs.predict(xgb.DMatrix(xt), output_margin=True).astype(np.float64)
        np.testing.assert_allclose(a, b, atol=1e-5, err_msg=f"{name} {kw}")


@pytest.mark.parametrize(
    ("name", "kw", "builtin"),
    [
        ("tweedie_deviance", {"power": 1.2}, {"objective": "tweedie",
                                              "tweedie_variance_power": 1.2}),
        ("tweedie_deviance", {"power": 1.5}, {"objective": "tweedie",
                                              "tweedie_variance_power": 1.5}),
        ("gamma_deviance", {}, {"objective": "gamma"}),
    ],
)  # fmt: skip
def test_lightgbm_equals_its_builtin(name, kw, builtin):
    lgb = pytest.importorskip("lightgbm")
    p = kw.get("power", 2.0)
    x, y = boosting_data(p, 2000, seed=4)
    xt, _ = boosting_data(p, 500, seed=5)
    w = np.random.default_rng(6).uniform(0.2, 3.0, y.size)
    common = {"num_leaves": 8, "learning_rate": 0.3, "verbose": -1, "num_threads": 2,
              "deterministic": True, "force_row_wise": True, "lambda_l2": 0.0}  # fmt: skip
    for weight in (None, w):
        init = gbm.initial_prediction(name, y, weight, log_input=True, **kw)
        start = np.full(y.size, init)
        theirs = lgb.train(
            {**common, **builtin, "min_sum_hessian_in_leaf": 1e-3},
            lgb.Dataset(x, y, weight=weight, init_score=start), 25,
        )  # fmt: skip
        ours = lgb.train(
            {**common, "min_sum_hessian_in_leaf": 2e-3,
             "objective": gbm.lightgbm_objective(name, log_input=True, **kw)},
            lgb.Dataset(x, y, weight=weight, init_score=start), 25,
        )  # fmt: skip
        np.testing.assert_allclose(
            ours.predict(xt, raw_score=True), theirs.predict(xt, raw_score=True), atol=1e-5,
            err_msg=f"{name} {kw}",
        )  # fmt: skip
