"""The relative family (mape, smape, msle, rmsle) against Keras 3, scikit-learn, closed forms,
JAX autodiff of the plain definitions and mpmath.

Keras's reductions: the loss of a sample is the mean over the last axis, and the default
"sum_over_batch_size" divides the weighted sum by the number of samples, not by the sum of the
weights; its "mean_with_sample_weight" is lossatlas's weighted "mean" (``sum(w l) / sum(w)``).
"""

# ruff: noqa: E402
from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax
import jax.numpy as jnp

jax.config.update("jax_enable_x64", True)

import keras
import mpmath as mp
import numpy as np
import pytest
import sklearn.metrics as skm

import lossatlas as la

SHAPE = (16, 5)
DRAWS = 4
EPS64 = float(np.finfo(np.float64).eps)


def _assert_close(actual, expected, rtol):
    a, e = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert a.shape == e.shape, (a.shape, e.shape)
    assert np.all(np.isfinite(e))
    np.testing.assert_allclose(a, e, rtol=rtol, atol=rtol * float(np.max(np.abs(e), initial=0)))


def _real(rng, shape):
    """Targets of either sign, some near 0 (where a percentage error is large)."""
    y = rng.normal(size=shape) * 3.0
    y[..., 0] = rng.uniform(-1e-3, 1e-3, size=shape[:-1])
    return rng.normal(size=shape) * 3.0, y


def _nonnegative(rng, shape):
    """Counts and rates, zeros included."""
    pred = np.abs(rng.normal(size=shape)) * 5.0
    target = rng.poisson(3.0, size=shape).astype(np.float64)
    pred[0, :2] = 0.0
    return pred, target


# ---- Keras 3 ----------------------------------------------------------------------------------
KERAS = [
    ("mape", la.mape, keras.losses.MeanAbsolutePercentageError, _real),
    ("msle", la.msle, keras.losses.MeanSquaredLogarithmicError, _nonnegative),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("name", "loss", "ref", "make"), KERAS, ids=[k[0] for k in KERAS])
def test_keras(name, loss, ref, make, dtype):
    """Keras's default reduction == lossatlas's mean; reduction=None == "none" averaged over
    the last axis; per-row sample weights: "mean_with_sample_weight" == the weighted mean and
    "sum_over_batch_size" == the weighted sum / number of elements. Keras on JAX accumulates
    its means in float32 even for float64 input, so rtol is float32's in both dtypes."""
    rtol = 2e-5 if name == "mape" else 1e-5  # mape's values near a target of 0 are ~1e5
    rng = np.random.default_rng(abs(hash((name, dtype))) % 2**32)
    for _ in range(DRAWS):
        x, y = make(rng, SHAPE)
        p, t = jnp.asarray(x, dtype=dtype), jnp.asarray(y, dtype=dtype)
        got = loss(p, t)
        assert got.dtype == p.dtype
        _assert_close(got, ref(dtype=dtype)(t, p), rtol)
        per_row = ref(dtype=dtype, reduction=None)(t, p)
        _assert_close(jnp.mean(loss(p, t, reduction="none"), axis=-1), per_row, rtol)
        w = rng.uniform(0.0, 2.0, size=SHAPE[0])
        w[1] = 0.0
        wj = jnp.asarray(w, dtype=dtype)
        weighted = ref(reduction="mean_with_sample_weight", dtype=dtype)(t, p, sample_weight=wj)
        _assert_close(loss(p, t, weight=wj[:, None]), weighted, rtol)
        by_batch = ref(dtype=dtype)(t, p, sample_weight=wj)
        total = loss(p, t, weight=wj[:, None], reduction="sum")
        _assert_close(total / x.size, by_batch, rtol)


def test_keras_clamps_negative_inputs_where_msle_refuses_them():
    pred, target = np.array([-0.5, 1.0]), np.array([1.0, 2.0])
    with pytest.raises(la.LossInputError, match="pred"):
        la.msle(pred, target)
    with pytest.raises(la.LossInputError, match="target"):
        la.msle(target, pred)
    # Keras reads -0.5 as epsilon: lossatlas on the clamped input gives its value
    clamped = np.maximum(pred, 1e-7)
    expected = keras.losses.MeanSquaredLogarithmicError(dtype="float64")(target, pred)
    _assert_close(la.msle(clamped, target), expected, 1e-6)


# ---- scikit-learn -----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sklearn(dtype):
    """mape (epsilon = machine eps) == 100 * mean_absolute_percentage_error; msle and rmsle
    (epsilon = 0) == mean_squared_log_error and root_mean_squared_log_error, with and
    without sample weights; sklearn averages per-column values of 2-D inputs, which for
    mape and msle with row weights is the overall weighted mean."""
    rtol = 1e-12 if dtype == "float64" else 2e-6
    rng = np.random.default_rng(7 if dtype == "float64" else 8)
    for _ in range(DRAWS):
        x, y = _real(rng, SHAPE)
        xd, yd = x.astype(dtype), y.astype(dtype)
        ref = x.astype(dtype).astype(np.float64), y.astype(dtype).astype(np.float64)
        w = rng.uniform(0.0, 2.0, size=SHAPE[0])
        w[3] = 0.0
        wd = w.astype(dtype)
        for weight, sample_weight in ((None, None), (wd[:, None], w)):
            expected = 100 * skm.mean_absolute_percentage_error(
                ref[1], ref[0], sample_weight=sample_weight
            )
            got = la.mape(xd, yd, epsilon=EPS64, weight=weight)
            assert got.dtype == np.dtype(dtype)
            _assert_close(got, expected, rtol)
        x, y = _nonnegative(rng, SHAPE)
        xd, yd = x.astype(dtype), y.astype(dtype)
        ref = x.astype(dtype).astype(np.float64), y.astype(dtype).astype(np.float64)
        for weight, sample_weight in ((None, None), (wd[:, None], w)):
            expected = skm.mean_squared_log_error(ref[1], ref[0], sample_weight=sample_weight)
            _assert_close(la.msle(xd, yd, epsilon=0.0, weight=weight), expected, rtol)
            for j in range(SHAPE[1]):  # one column at a time: sklearn's root is per column
                expected = skm.root_mean_squared_log_error(
                    ref[1][:, j], ref[0][:, j], sample_weight=sample_weight
                )
                w_j = None if weight is None else wd
                _assert_close(la.rmsle(xd[:, j], yd[:, j], epsilon=0.0, weight=w_j), expected, rtol)


def test_rmsle_is_the_root_of_msle_for_every_reduction():
    rng = np.random.default_rng(3)
    x, y = _nonnegative(rng, SHAPE)
    w = rng.uniform(0.0, 2.0, size=SHAPE)
    for reduction in ("mean", "sum", "sum_by_nonzero_weights"):
        for weight in (None, w):
            got = la.rmsle(x, y, weight=weight, reduction=reduction)
            expected = np.sqrt(la.msle(x, y, weight=weight, reduction=reduction))
            _assert_close(got, expected, 1e-14)
    with pytest.raises(la.LossInputError, match="reduction"):
        la.rmsle(x, y, reduction="none")
    # a constant log offset: rmsle is its size (the clamp at epsilon moves 0 to 1e-7)
    assert float(la.rmsle(np.array([1e300, 1e300]), np.zeros(2), epsilon=0.0)) == pytest.approx(
        np.log1p(1e300), rel=1e-15
    )
    assert float(la.rmsle(np.array([1e300]), np.zeros(1))) == pytest.approx(
        np.log1p(1e300) - np.log1p(1e-7), rel=1e-15
    )


# ---- smape: closed forms ------------------------------------------------------------------------
def test_smape_closed_forms_and_symmetry():
    pred = np.array([1.0, 0.0, 2.5, -2.0, 3.0, 1e300, np.inf, 0.0, 4.0])
    target = np.array([3.0, 5.0, 2.5, 2.0, 1.0, -1e300, 1.0, 0.0, 1e-300])
    expected = np.array([100.0, 200.0, 0.0, 200.0, 100.0, 200.0, 200.0, 0.0, 200.0])
    for backend in (np.asarray, jnp.asarray):
        got = la.smape(backend(pred), backend(target), reduction="none")
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-15)
    finite = np.isfinite(pred)
    np.testing.assert_array_equal(
        la.smape(pred[finite], target[finite], reduction="none"),
        la.smape(target[finite], pred[finite], reduction="none"),
    )
    # below epsilon the denominator is epsilon: 200 |r| / eps
    assert float(la.smape(np.array([1e-8]), np.array([-1e-8]))) == pytest.approx(
        200 * 2e-8 / 1e-7, rel=1e-15
    )
    # the relative error of a forecast within 1% of the target is about 1 (percent)
    assert float(la.smape(np.array([101.0]), np.array([100.0]))) == pytest.approx(200 / 201)


def test_mape_closed_forms():
    pred = np.array([110.0, 90.0, 1.0, 0.0, -1.0])
    target = np.array([100.0, 100.0, 0.0, 1e-9, 1.0])
    expected = np.array([10.0, 10.0, 1e9, 1.0, 200.0])
    np.testing.assert_allclose(la.mape(pred, target, reduction="none"), expected, rtol=1e-14)


# ---- derivatives against JAX autodiff of the plain definitions ----------------------------------
def _plain(name):
    if name == "mape":
        return lambda p, y, e: 100 * jnp.abs(y - p) / jnp.maximum(jnp.abs(y), e)
    if name == "smape":
        return lambda p, y, e: 200 * jnp.abs(p - y) / jnp.maximum(jnp.abs(p) + jnp.abs(y), e)
    return lambda p, y, e: (jnp.log1p(jnp.maximum(p, e)) - jnp.log1p(jnp.maximum(y, e))) ** 2


@pytest.mark.parametrize("name", ["mape", "smape", "msle"])
def test_grad_and_hess_equal_autodiff_of_the_definition(name):
    """At random points away from the kinks (pred = target, pred = 0, the clamp), in float64,
    for the default epsilon and a large one."""
    loss = la.get(name)
    f = _plain(name)
    rng = np.random.default_rng(11)
    n = 400
    if name == "msle":
        x, y = np.abs(rng.normal(size=n)) * 4.0 + 0.01, rng.poisson(3.0, size=n) * 1.0
    else:
        x, y = rng.normal(size=n) * 3.0, rng.normal(size=n) * 3.0
    keep = (np.abs(x - y) > 1e-3) & (np.abs(x) > 1e-3)
    x, y = x[keep], y[keep]
    for eps in (1e-7, 0.5):
        if name == "msle":  # off the clamp
            keep = np.abs(x - eps) > 1e-3
            xs, ys = x[keep], y[keep]
        else:
            xs, ys = x, y
        g1 = jax.jit(jax.vmap(jax.grad(f), in_axes=(0, 0, None)))
        g2 = jax.jit(jax.vmap(jax.grad(jax.grad(f)), in_axes=(0, 0, None)))
        grad = loss.grad(xs, ys, epsilon=eps)
        hess = loss.hess(xs, ys, epsilon=eps)
        # autodiff of the plain quotient cancels where the exact derivative is 0 (smape
        # where pred and target differ in sign): an absolute error of eps times the scale
        g_ref, h_ref = np.asarray(g1(xs, ys, eps)), np.asarray(g2(xs, ys, eps))
        atol_g, atol_h = (1e-13 * (1 + np.max(np.abs(v))) for v in (g_ref, h_ref))
        np.testing.assert_allclose(grad, g_ref, rtol=1e-12, atol=atol_g)
        np.testing.assert_allclose(hess, h_ref, rtol=1e-10, atol=atol_h)


def test_msle_is_accurate_near_pred_equal_target():
    """log1p(a) - log1p(b) cancels where pred is near the target; the log1p of the ratio does
    not: value and grad within a few ulps of mpmath for relative gaps of 1e-15 to 1e-3."""
    rng = np.random.default_rng(5)
    target = rng.uniform(0.01, 100.0, size=60)
    gaps = 10.0 ** rng.uniform(-15, -3, size=60) * rng.choice([-1.0, 1.0], size=60)
    pred = target * (1.0 + gaps)
    value = la.msle(pred, target, reduction="none")
    grad = la.msle.grad(pred, target)
    with mp.workdps(60):
        for x, y, v, g in zip(pred, target, value, grad, strict=True):
            d = mp.log(1 + mp.mpf(x)) - mp.log(1 + mp.mpf(y))
            assert abs(v - d**2) <= 8 * EPS64 * d**2, (x, y, v, d**2)
            true_g = 2 * d / (1 + mp.mpf(x))
            assert abs(g - true_g) <= 8 * EPS64 * abs(true_g), (x, y, g, true_g)
    for dtype in ("float32",):
        p32, t32 = pred.astype(dtype), target.astype(dtype)
        v32 = la.msle(p32, t32, reduction="none")
        with mp.workdps(60):
            for x, y, v in zip(p32, t32, v32, strict=True):
                d2 = (mp.log(1 + mp.mpf(float(x))) - mp.log(1 + mp.mpf(float(y)))) ** 2
                assert abs(float(v) - d2) <= 8 * 2.0**-23 * d2 + 1e-45, (x, y, v, d2)


# ---- boosting ---------------------------------------------------------------------------------
def test_boosting_surrogates():
    """mape: the row weight 100 / max(|y|, eps); smape: positive, at least its exact second
    derivative, equal to it where |pred| <= |y| and 400 / s^2 beyond; msle and rmsle are no
    boosting objectives."""
    y = np.array([2.0, -4.0, 0.0, 1e-9, 3.0, 3.0, 3.0])
    p = np.array([1.0, 1.0, 5.0, 0.0, 3.0, 1.0, 7.0])
    np.testing.assert_allclose(
        la.mape.boosting_hess(p, y), 100.0 / np.maximum(np.abs(y), 1e-7), rtol=1e-15
    )
    h = la.smape.boosting_hess(p, y)
    exact = la.smape.hess(p, y)
    s = np.abs(p) + np.abs(y)
    assert np.all(h > 0) and np.all(h >= exact)
    inside = (np.abs(p) <= np.abs(y)) & (np.sign(p) == np.sign(y)) & (p != y)
    np.testing.assert_allclose(h[inside], exact[inside], rtol=1e-14)
    outside = np.abs(p) > np.abs(y)
    np.testing.assert_allclose(h[outside], 400.0 / s[outside] ** 2, rtol=1e-14)
    for loss in (la.msle,):
        with pytest.raises(la.LossInputError, match="boosting objective"):
            loss.boosting_hess(p, np.abs(y))
