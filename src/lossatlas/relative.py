"""Relative and logarithmic errors: percentage errors of the residual over the target's size,
and squared errors of ``log(1 + y)``, elementwise (``rmsle`` over a reduction).

``mape`` and ``msle`` are Keras 3's ``MeanAbsolutePercentageError`` and
``MeanSquaredLogarithmicError`` (``epsilon`` is ``keras.config.epsilon()``, 1e-7); with
``epsilon = finfo(float).eps`` ``mape`` is scikit-learn's ``mean_absolute_percentage_error``
times 100, and with ``epsilon = 0`` ``msle`` and ``rmsle`` are scikit-learn's
``mean_squared_log_error`` and ``root_mean_squared_log_error``. ``smape`` is the symmetric
percentage error of the M3 and M4 forecasting competitions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._loss import Call, ElementwiseLoss
from ._probes import RATES
from ._registry import register
from ._spec import (
    LIGHTGBM_2017,
    BoostingHessian,
    Curve,
    LossSpec,
    Param,
    Probe,
    Properties,
    Variant,
)
from ._xp import abs_, const, where0
from .regression import RootMeanSquaredError

KERAS_EPSILON = 1e-7  # keras.config.epsilon()
MAKRIDAKIS_1993 = (
    "Makridakis, S. (1993). Accuracy measures: theoretical and practical concerns. "
    "International Journal of Forecasting 9(4), 527-529."
)
M4_2020 = (
    "Makridakis, S., Spiliotis, E., Assimakopoulos, V. (2020). The M4 Competition: 100,000 "
    "time series and 61 forecasting methods. International Journal of Forecasting 36(1), 54-74."
)
HYNDMAN_KOEHLER_2006 = (
    "Hyndman, R. J., Koehler, A. B. (2006). Another look at measures of forecast accuracy. "
    "International Journal of Forecasting 22(4), 679-688."
)
DE_MYTTENAERE_2016 = (
    "de Myttenaere, A., Golden, B., Le Grand, B., Rossi, F. (2016). Mean Absolute Percentage "
    "Error for regression models. Neurocomputing 192, 38-48."
)


def _floor(xp: Any, x: Any, eps: float) -> Any:
    """max(x, eps) by a select: x where x > eps, else the constant (whose derivative is 0, also
    at the tie x == eps, where ``maximum`` would split the derivative)."""
    return xp.where(x > eps, x, const(xp, eps, x))


def _relative_probe(params: Mapping[str, Any]) -> Probe:
    """The residual against a target of 1, so that pred - target is the relative error (a
    target of 0 would divide by epsilon)."""

    def make(t: np.ndarray) -> dict[str, np.ndarray]:
        t = np.asarray(t, dtype=np.float64)
        return {"pred": 1.0 + t, "target": np.ones_like(t)}

    curve = Curve("target = 1", "y=1", make, lambda t: np.ones_like(np.asarray(t, np.float64)))
    return Probe(
        "relative error", "relative error (pred − target) / target", "r/y",
        "target 1, so pred = 1 + relative error", "real",
        (-3.0, 3.0), (-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0), (curve,), "pred",
    )  # fmt: skip


# ---- mape -------------------------------------------------------------------------------------
class MeanAbsolutePercentageError(ElementwiseLoss):
    r"""Mean absolute percentage error (Keras's ``MeanAbsolutePercentageError``):
    ``100 |target - pred| / max(|target|, epsilon)``.

    .. math:: \ell(\hat y, y) = 100\,\frac{|y - \hat y|}{\max(|y|, \epsilon)}

    The absolute error as a percentage of the target: an absolute error weighted by
    ``100 / max(|y|, eps)``, so targets near 0 dominate (a target of 0 costs ``1e9`` per unit
    at the default epsilon). Its minimiser is a weighted median, biased towards small
    predictions. ``grad = 100 sign(pred - target) / max(|target|, epsilon)`` (0 at
    pred = target, as mae), ``hess = 0``. scikit-learn's ``mean_absolute_percentage_error``
    is this divided by 100 with ``epsilon = finfo(float64).eps``.
    """

    spec = LossSpec(
        name="mape",
        family="relative",
        summary="Mean absolute percentage error: the absolute error in percent of the target.",
        pred_domain="real",
        target_domain="real",
        properties=Properties(convex=True, robust=True, smoothness="C0"),
        formula=r"\ell(\hat y, y) = 100\,\frac{|y - \hat y|}{\max(|y|, \epsilon)}",
        references=(HYNDMAN_KOEHLER_2006, DE_MYTTENAERE_2016),
        params=(
            Param(
                "epsilon",
                KERAS_EPSILON,
                "floor on |target| in the denominator (Keras's epsilon)",
                low=0.0,
                low_inclusive=False,
            ),
        ),
        aliases=(
            "mean_absolute_percentage_error",
            "MeanAbsolutePercentageError",
            "MAPELoss",
        ),
        framework_names={
            "keras": "keras.losses.MeanAbsolutePercentageError, "
            "keras.losses.mean_absolute_percentage_error",
            "tensorflow": "tf.keras.losses.MAPE",
            "sklearn": "sklearn.metrics.mean_absolute_percentage_error (a fraction, not percent; "
            "epsilon = finfo(float64).eps)",
            "lightgbm": "objective='mape' (weights 1/max(1, |y|))",
        },
        derivative_notes="grad = 100 sign(pred - target) / max(|target|, epsilon), 0 at "
        "pred = target; hess = 0.",
        kinks=lambda p: (0.0,),
        when_to_use="Reporting errors relative to the target's size when targets are far from "
        "0 (demand, prices); it favours under-prediction and blows up near a target of 0.",
        probe=_relative_probe,
        boosting=BoostingHessian(
            "surrogate",
            r"h = \frac{100}{\max(|y|, \epsilon)}",
            "Its second derivative is 0 wherever it exists. As for mae, whose unit Hessian "
            "makes each leaf's step the mean of the gradients' signs, the Hessian is the "
            "row's weight 100 / max(|y|, eps): each leaf moves by the weighted mean of the "
            "signs, the weights being those of the weighted median that mape estimates. "
            "LightGBM's 'mape' objective weights rows by 1 / max(1, |y|) instead (no factor "
            "100, and targets below 1 in size count as 1) and refits every leaf to the "
            "weighted median, which a custom objective cannot do.",
            (LIGHTGBM_2017, DE_MYTTENAERE_2016),
        ),
    )

    def _value(self, xp: Any, pred: Any, target: Any, *, epsilon: float) -> Any:
        # Keras's order: |(y - pred) / max(|y|, eps)| * 100
        return 100.0 * abs_(xp, (target - pred) / _floor(xp, abs_(xp, target), epsilon))

    def _grad(self, xp: Any, pred: Any, target: Any, *, epsilon: float) -> Any:
        return 100.0 * xp.sign(pred - target) / _floor(xp, abs_(xp, target), epsilon)

    def _hess(self, xp: Any, pred: Any, target: Any, *, epsilon: float) -> Any:
        return xp.zeros_like(pred)

    def _boosting_hess(self, xp: Any, pred: Any, target: Any, *, epsilon: float) -> Any:
        return 100.0 / _floor(xp, abs_(xp, target), epsilon)


# ---- smape ------------------------------------------------------------------------------------
class SymmetricMeanAbsolutePercentageError(ElementwiseLoss):
    r"""Symmetric mean absolute percentage error, in percent:
    ``200 |pred - target| / max(|pred| + |target|, epsilon)``.

    .. math:: \ell(\hat y, y) = 200\,\frac{|\hat y - y|}{\max(|\hat y| + |y|, \epsilon)}

    The absolute error over the mean of the two sizes, in [0, 200]: 0 at pred = target, 200
    where pred and target have opposite signs (or one of them is 0), symmetric in pred and
    target. This is the definition of the M3 and M4 competitions (Makridakis 1993; M4 2020);
    others leave out the factor 2 (range [0, 100]), report a fraction instead of percent, or
    divide by ``|pred + target|`` (Armstrong's original, which is negative or undefined for
    targets of either sign). Bounded and not convex: below the target (same sign) it is
    convex, above it concave. With ``s = |pred| + |target| > epsilon``:
    ``grad = 200 sign(r) (|y| + sign(pred) y) / s^2`` (0 where pred and target differ in sign)
    and ``hess = -2 sign(pred) grad / s``; kinks at pred = target and at pred = 0, where grad
    is the midpoint of the one-sided slopes. Where ``s <= epsilon`` it is
    ``200 |r| / epsilon``.
    """

    spec = LossSpec(
        name="smape",
        family="relative",
        summary="Symmetric MAPE: the absolute error over the mean size of pred and target, "
        "in percent (0 to 200).",
        pred_domain="real",
        target_domain="real",
        properties=Properties(
            convex=False, robust=True, smoothness="C0", bounded=True, redescending=True
        ),
        formula=r"\ell(\hat y, y) = 200\,\frac{|\hat y - y|}{\max(|\hat y| + |y|, \epsilon)}",
        references=(
            MAKRIDAKIS_1993,
            "Makridakis, S., Hibon, M. (2000). The M3-Competition: results, conclusions and "
            "implications. International Journal of Forecasting 16(4), 451-476.",
            M4_2020,
            HYNDMAN_KOEHLER_2006,
        ),
        params=(
            Param(
                "epsilon",
                KERAS_EPSILON,
                "floor on |pred| + |target| in the denominator",
                low=0.0,
                low_inclusive=False,
            ),
        ),
        aliases=("symmetric_mean_absolute_percentage_error", "sMAPE"),
        framework_names={},
        derivative_notes="s = |pred| + |target| > epsilon: "
        "grad = 200 sign(r) (|y| + sign(pred) y) / s^2, hess = -2 sign(pred) grad / s; "
        "s <= epsilon: grad = 200 sign(r) / epsilon, hess = 0.",
        kinks=lambda p: (0.0,),
        when_to_use="Comparing forecasts across series of different scales (the M3/M4 "
        "convention); bounded, so a single wild forecast costs at most 200, but it is not "
        "symmetric in over- and under-prediction of a given target.",
        probe=_relative_probe,
        boosting=BoostingHessian(
            "surrogate",
            r"h = \frac{400 \max(2|y|, s)}{s^3},\ s = \max(|\hat y| + |y|, \epsilon)",
            "The second derivative is negative above the target, 0 where pred and target "
            "differ in sign and undefined at the kinks. Where |pred| <= |y| the surrogate is "
            "the loss's own (positive) curvature 800|y|/s^3 of its convex branch; beyond, "
            "it keeps 400/s^2, the value that curvature takes at pred = target. It scales as "
            "1/y^2 like the loss's curvature (unlike a weight of 200/s with mae's unit "
            "Hessian), so a leaf's Newton step is a size relative to the targets: about the "
            "weighted mean of sign(r) |y| near the fit, whatever the targets' scale.",
        ),
    )

    def _parts(self, xp: Any, pred: Any, target: Any, eps: float) -> tuple[Any, ...]:
        """(inf: pred is +-inf, small: s <= eps, k, p, y, s): p = k pred and y = k target,
        with pred made finite (0 where infinite) and k = 1/2 where |pred| + |target|
        overflows (every ratio is the same); s is max(|p| + |y|, k eps) (the constant at the
        tie)."""
        inf = xp.isinf(pred)
        finite = where0(xp, ~inf, pred)
        over = xp.isinf(abs_(xp, finite) + abs_(xp, target))
        half = xp.where(over, const(xp, 0.5, pred), const(xp, 1.0, pred))
        p, y = finite * half, target * half
        s = abs_(xp, p) + abs_(xp, y)
        small = s < eps * half  # the tie takes s: eps rounded to float32 is above 1e-7
        return inf, small, half, p, y, xp.where(small, eps * half, s)

    def _value(self, xp: Any, pred: Any, target: Any, *, epsilon: float) -> Any:
        inf, small, _, p, y, s = self._parts(xp, pred, target, epsilon)
        # three forms of one value, chosen so that autodiff of each is accurate too (the
        # plain quotient's slope |y|/s^2 is a difference of terms 1/s): 200 where pred and
        # target differ in sign (or the target is 0), 200 (1 - 2|y|/s) where |pred| > 2|y|
        # with the same sign, 200 |r|/s elsewhere (and below epsilon)
        signs = xp.sign(p) * xp.sign(y)
        flat = (signs < 0) | ((y == 0) & (p != 0))
        above = (signs > 0) & (abs_(xp, p) > 2.0 * abs_(xp, y))
        quotient = (abs_(xp, p - y) / s) * 200.0
        far = (1.0 - 2.0 * abs_(xp, y) / s) * 200.0
        value = xp.where(above & ~small, far, quotient)
        value = xp.where(flat & ~small, const(xp, 200.0, value), value)
        return xp.where(inf, const(xp, 200.0, value), value)

    def _grad(self, xp: Any, pred: Any, target: Any, *, epsilon: float) -> Any:
        inf, small, half, p, y, s = self._parts(xp, pred, target, epsilon)
        sigma = xp.sign(p - y)
        q = abs_(xp, y) + xp.sign(p) * y  # 2|y|, 0 or |y|: exact
        smooth = sigma * (q / s) * (200.0 / s) * half
        flat = sigma * (200.0 / s) * half
        return where0(xp, ~inf, xp.where(small, flat, smooth))

    def _hess(self, xp: Any, pred: Any, target: Any, *, epsilon: float) -> Any:
        inf, small, half, p, y, s = self._parts(xp, pred, target, epsilon)
        sigma = xp.sign(p - y)
        q = abs_(xp, y) + xp.sign(p) * y
        h = -xp.sign(p) * sigma * ((q / s) * (200.0 / s)) * (2.0 / s) * (half * half)
        return where0(xp, ~(inf | small), h)

    def _boosting_hess(self, xp: Any, pred: Any, target: Any, *, epsilon: float) -> Any:
        inf, _, half, _, y, s = self._parts(xp, pred, target, epsilon)
        top = xp.where(2.0 * abs_(xp, y) > s, 2.0 * abs_(xp, y), s)
        h = (top / s) * (400.0 / s) / s * (half * half)
        return where0(xp, ~inf, h)


# ---- msle -------------------------------------------------------------------------------------
def _log_ratio(xp: Any, pred: Any, target: Any, eps: float) -> tuple[Any, Any, Any]:
    """(clamped pred a, d = log(1 + a) - log(1 + b), inf: pred is +inf), b the clamped target.

    Where ``(1 + a) / (1 + b)`` lies in [1/2, 2], ``d = log1p((a - b) / (1 + b))``: a - b is
    exact near a == b, so d is accurate to a few ulps there, where ``log1p(a) - log1p(b)``
    cancels. Beyond, ``d = log((1 + a) / (1 + b))`` (log1p of a ratio near -1 would lose the
    digits of 1 + x). Clamps are selects (``a`` is pred where ``pred >= eps``, so that with
    eps = 0 the derivative at pred = 0 is the one-sided one)."""
    inf = xp.isinf(pred)
    finite = where0(xp, ~inf, pred)
    a = xp.where(finite >= eps, finite, const(xp, eps, pred))
    b = xp.where(target >= eps, target, const(xp, eps, target))
    x = (a - b) / (1.0 + b)
    near = (x >= -0.5) & (x <= 1.0)
    d = xp.where(near, xp.log1p(x), xp.log((1.0 + a) / (1.0 + b)))
    return a, xp.where(inf, const(xp, float("inf"), d), d), inf


class MeanSquaredLogarithmicError(ElementwiseLoss):
    r"""Mean squared logarithmic error (Keras's ``MeanSquaredLogarithmicError``):
    ``(log(1 + max(pred, epsilon)) - log(1 + max(target, epsilon)))**2``.

    .. math:: \ell(\hat y, y) = \big(\log(1 + \max(\hat y, \epsilon))
              - \log(1 + \max(y, \epsilon))\big)^2

    The squared error of ``log1p`` of nonnegative quantities: a relative error for large
    values, the squared error for small ones. Negative inputs are an error (Keras clamps them
    to epsilon silently); ``epsilon = 0`` is scikit-learn's ``mean_squared_log_error``. With
    ``a = max(pred, eps)`` and ``d`` the difference of logs (computed as
    ``log1p((a - b) / (1 + b))``, exact to a few ulps near pred = target):
    ``grad = 2 d / (1 + a)`` and ``hess = 2 (1 - d) / (1 + a)**2`` where ``pred >= epsilon``,
    both 0 below (the clamp). Not convex: ``hess < 0`` where ``d > 1``.
    """

    spec = LossSpec(
        name="msle",
        family="relative",
        summary="Mean squared logarithmic error: squared error of log(1 + y), for "
        "nonnegative targets spanning orders of magnitude.",
        pred_domain="nonnegative",
        target_domain="nonnegative",
        properties=Properties(convex=False, robust=False, smoothness="C0"),
        formula=r"\ell(\hat y, y) = \big(\log(1 + \max(\hat y, \epsilon)) "
        r"- \log(1 + \max(y, \epsilon))\big)^2",
        references=(
            "Chollet, F. et al. (2015-). Keras: keras.losses.MeanSquaredLogarithmicError. "
            "https://keras.io/api/losses/regression_losses/",
        ),
        params=(
            Param(
                "epsilon",
                KERAS_EPSILON,
                "floor on pred and target before log1p (Keras's epsilon; 0: plain log1p)",
                low=0.0,
                high=1.0,
            ),
        ),
        aliases=(
            "mean_squared_logarithmic_error",
            "mean_squared_log_error",
            "MeanSquaredLogarithmicError",
        ),
        framework_names={
            "keras": "keras.losses.MeanSquaredLogarithmicError, "
            "keras.losses.mean_squared_logarithmic_error",
            "tensorflow": "tf.keras.losses.MSLE",
            "sklearn": "sklearn.metrics.mean_squared_log_error (epsilon = 0)",
        },
        derivative_notes="a = max(pred, eps), d = log(1 + a) - log(1 + max(y, eps)): "
        "grad = 2 d / (1 + a), hess = 2 (1 - d) / (1 + a)^2 where pred >= eps, else 0.",
        kinks=lambda p: (p["epsilon"],) if p["epsilon"] > 0 else (),
        variants=(Variant({"epsilon": 0.0}, properties={"smoothness": "Cinf"}),),
        when_to_use="Nonnegative targets over several orders of magnitude (counts, prices, "
        "durations) where relative errors matter; it under-weights over-prediction.",
        showcase=({"epsilon": 0.0}, {"epsilon": 0.5}),
        boosting=BoostingHessian(
            "none",
            reason="pred is not a raw score (it is nonnegative); boost mse on log1p(target) "
            "and take expm1 of the prediction: the same minimiser",
        ),
    )

    def _value(self, xp: Any, pred: Any, target: Any, *, epsilon: float) -> Any:
        _, d, _ = _log_ratio(xp, pred, target, epsilon)
        return d * d

    def _grad(self, xp: Any, pred: Any, target: Any, *, epsilon: float) -> Any:
        a, d, inf = _log_ratio(xp, pred, target, epsilon)
        g = 2.0 * where0(xp, ~inf, d) / (1.0 + a)
        return where0(xp, (pred >= epsilon) & ~inf, g)

    def _hess(self, xp: Any, pred: Any, target: Any, *, epsilon: float) -> Any:
        a, d, inf = _log_ratio(xp, pred, target, epsilon)
        one_a = 1.0 + a
        h = (2.0 * (1.0 - where0(xp, ~inf, d)) / one_a) / one_a
        return where0(xp, (pred >= epsilon) & ~inf, h)


# ---- rmsle ------------------------------------------------------------------------------------
def _log_offset_probe(params: Mapping[str, Any], samples: int = 512) -> Probe:
    """For rmsle: each c is a batch of ``samples`` log-normal targets y (positive, above any
    usual epsilon), with pred = (1 + y)(1 + c) - 1 (a relative offset of 1 + y: rmsle is
    |log(1 + c)|) or pred = c (a constant prediction)."""
    y = np.exp(np.random.default_rng(0).standard_normal(samples))

    def relative(t: np.ndarray) -> dict[str, np.ndarray]:
        t = np.asarray(t, dtype=np.float64)[:, None]
        target = np.broadcast_to(y, (len(t), samples)).copy()
        return {"pred": (1.0 + y) * (1.0 + t) - 1.0, "target": target}

    def constant(t: np.ndarray) -> dict[str, np.ndarray]:
        t = np.asarray(t, dtype=np.float64)[:, None]
        return {
            "pred": np.broadcast_to(t, (len(t), samples)).copy(),
            "target": np.broadcast_to(y, (len(t), samples)).copy(),
        }

    curves = (
        Curve("pred = (1 + y)(1 + c) − 1: a relative offset", "rel", relative),
        Curve("pred = c: a constant prediction", "c", constant),
    )
    return Probe(
        "log offset", "offset c of 1 + pred", "c",
        f"each c: {samples} log-normal targets y, reduction 'mean'", "nonnegative",
        (0.0, 6.0), RATES, curves, "c", batch=samples,
    )  # fmt: skip


class RootMeanSquaredLogarithmicError(RootMeanSquaredError):
    r"""Root mean squared logarithmic error: ``sqrt(reduce(msle))``, as rmse is of mse.

    Defined over a reduction only (``reduction="none"`` raises), with rmse's overflow-safe
    scaled root of the log differences ``d = log(1 + max(pred, eps)) - log(1 + max(target,
    eps))``; ``epsilon = 0`` is scikit-learn's ``root_mean_squared_log_error``. Its gradient at
    a perfect fit is 0.
    """

    spec = LossSpec(
        name="rmsle",
        family="relative",
        summary="Root mean squared logarithmic error: the root of msle over the batch.",
        pred_domain="nonnegative",
        target_domain="nonnegative",
        properties=Properties(convex=False, robust=False, smoothness="C0"),
        formula=r"L = \sqrt{\tfrac{1}{n}\textstyle\sum_i "
        r"\big(\log(1 + \hat y_i) - \log(1 + y_i)\big)^2}",
        references=(
            "Kaggle. Root Mean Squared Logarithmic Error (evaluation metric). "
            "https://www.kaggle.com/code/carlolepelaars/understanding-the-metric-rmsle",
        ),
        params=(
            Param(
                "epsilon",
                KERAS_EPSILON,
                "floor on pred and target before log1p (0: plain log1p)",
                low=0.0,
                high=1.0,
            ),
        ),
        aliases=("root_mean_squared_logarithmic_error", "root_mean_squared_log_error"),
        framework_names={"sklearn": "sklearn.metrics.root_mean_squared_log_error (epsilon = 0)"},
        elementwise=False,
        derivative_notes="Not elementwise: no per-element grad or hess.",
        boosting=BoostingHessian(
            "none",
            reason="it is not elementwise; boost mse on log1p(target), whose minimiser is the same",
        ),
        when_to_use="Reporting msle on the scale of log(1 + y) (Kaggle's RMSLE).",
        kinks=lambda p: (0.0,),
        probe=_log_offset_probe,
    )

    def _residuals(self, call: Call) -> Any:
        pred, target = call.arrays()
        return _log_ratio(call.xp, pred, target, call.params["epsilon"])[1]


mape = register(MeanAbsolutePercentageError())
smape = register(SymmetricMeanAbsolutePercentageError())
msle = register(MeanSquaredLogarithmicError())
rmsle = register(RootMeanSquaredLogarithmicError())

__all__ = ["mape", "msle", "rmsle", "smape"]
