"""Regression losses of the residual ``r = pred - target``, elementwise.

Each loss is an object: call it for the (reduced) loss, use ``.grad`` / ``.hess`` for the
analytic per-element derivatives with respect to pred, ``.spec`` for its metadata.
"""

from __future__ import annotations

import math
from typing import Any

from array_api_compat import size

from ._loss import REQUIRED, Call, ElementwiseLoss, Loss
from ._probes import offset_probe
from ._reduce import Unreduced, reduce_loss
from ._registry import register
from ._spec import (
    FRIEDMAN_2001,
    LIGHTGBM_2017,
    SHARP_MAJORIZATION,
    BoostingHessian,
    LossSpec,
    Param,
    Properties,
    Variant,
)
from ._validate import LossInputError
from ._xp import LOG2, abs_, const, log_or_neg_inf, safe_sqrt, times_finite, where0

LOG_2PI = math.log(2.0 * math.pi)

UNIT_HESSIAN_NOTE = (
    "Its second derivative is 0 wherever it exists, so a Newton step would divide by zero. "
    "A unit Hessian makes each leaf's step the mean of the gradients, as LightGBM's {lgb}, "
    "XGBoost's {xgb} and scikit-learn's gradient boosting do before they refit every leaf "
    "to the residuals' {stat}; a custom objective cannot refit leaves, so it needs more "
    "rounds than those built-ins."
)


def _zeros(xp: Any, x: Any) -> Any:
    return xp.zeros_like(x)


def _ones(xp: Any, x: Any) -> Any:
    return xp.ones_like(x)


class MeanAbsoluteError(ElementwiseLoss):
    r"""Mean absolute error (L1 loss): ``|pred - target|``.

    Formula: :math:`\ell(r) = |r|`, :math:`r = \hat y - y`.
    Derivatives: ``grad = sign(r)`` with the subgradient 0 at r = 0 on every backend;
    ``hess = 0`` everywhere (the true second derivative is 0 off the kink and undefined at it).
    """

    spec = LossSpec(
        name="mae",
        family="regression",
        summary="Mean absolute error: the median-seeking, outlier-robust L1 loss.",
        pred_domain="real",
        target_domain="real",
        properties=Properties(convex=True, robust=True, smoothness="C0"),
        formula=r"\ell(\hat y, y) = |\hat y - y|",
        references=(
            "Laplace, P.-S. (1774). Mémoire sur la probabilité des causes par les évènements.",
        ),
        aliases=(
            "l1_loss",
            "l1",
            "mean_absolute_error",
            "L1Loss",
            "MeanAbsoluteError",
            "absolute_difference",
        ),
        framework_names={
            "pytorch": "torch.nn.L1Loss, torch.nn.functional.l1_loss",
            "keras": "keras.losses.MeanAbsoluteError, keras.losses.mean_absolute_error",
            "tensorflow": "tf.keras.losses.MAE, tf.compat.v1.losses.absolute_difference",
            "paddle": "paddle.nn.L1Loss, paddle.nn.functional.l1_loss",
        },
        derivative_notes="grad is sign(r), 0 at r = 0; hess is 0 everywhere.",
        kinks=lambda p: (0.0,),
        when_to_use="Targets with outliers or heavy-tailed noise; it estimates the conditional "
        "median.",
        boosting=BoostingHessian(
            "surrogate",
            r"h = 1",
            UNIT_HESSIAN_NOTE.format(lgb="regression_l1", xgb="reg:absoluteerror", stat="median"),
            (FRIEDMAN_2001, LIGHTGBM_2017),
        ),
    )

    def _value(self, xp: Any, pred: Any, target: Any) -> Any:
        return abs_(xp, pred - target)

    def _grad(self, xp: Any, pred: Any, target: Any) -> Any:
        return xp.sign(pred - target)

    def _hess(self, xp: Any, pred: Any, target: Any) -> Any:
        return _zeros(xp, pred)

    def _boosting_hess(self, xp: Any, pred: Any, target: Any) -> Any:
        return _ones(xp, pred)


class MeanSquaredError(ElementwiseLoss):
    r"""Mean squared error (L2 loss): ``(pred - target)**2``.

    Formula: :math:`\ell(r) = r^2`. Derivatives: ``grad = 2 r``, ``hess = 2``.
    Note that optax's ``l2_loss`` is half of this (``optax.squared_error`` is this).
    """

    spec = LossSpec(
        name="mse",
        family="regression",
        summary="Mean squared error: the mean-seeking L2 loss, the Gaussian negative "
        "log-likelihood.",
        pred_domain="real",
        target_domain="real",
        properties=Properties(convex=True, robust=False, smoothness="Cinf"),
        formula=r"\ell(\hat y, y) = (\hat y - y)^2",
        references=(
            "Legendre, A.-M. (1805). Nouvelles méthodes pour la détermination des orbites des "
            "comètes.",
            "Gauss, C. F. (1809). Theoria motus corporum coelestium.",
        ),
        aliases=(
            "l2_loss",
            "l2",
            "mean_squared_error",
            "MSELoss",
            "MeanSquaredError",
            "squared_error",
        ),
        framework_names={
            "pytorch": "torch.nn.MSELoss, torch.nn.functional.mse_loss",
            "keras": "keras.losses.MeanSquaredError, keras.losses.mean_squared_error",
            "tensorflow": "tf.keras.losses.MSE, tf.compat.v1.losses.mean_squared_error",
            "paddle": "paddle.nn.MSELoss, paddle.nn.functional.mse_loss",
            "optax": "optax.squared_error (optax.l2_loss is half of it)",
        },
        derivative_notes="grad = 2 r, hess = 2.",
        when_to_use="Gaussian noise without outliers; it estimates the conditional mean.",
    )

    def _value(self, xp: Any, pred: Any, target: Any) -> Any:
        r = pred - target
        return r * r

    def _grad(self, xp: Any, pred: Any, target: Any) -> Any:
        return 2.0 * (pred - target)

    def _hess(self, xp: Any, pred: Any, target: Any) -> Any:
        return 2.0 * _ones(xp, pred)


class RootMeanSquaredError(Loss):
    r"""Root mean squared error: ``sqrt(reduce((pred - target)**2))``.

    Defined over a reduction only: ``"mean"`` gives ``sqrt(sum(w r^2) / sum(w))``, ``"sum"`` the
    Euclidean norm of the (weighted) residual; ``reduction="none"`` raises. The residuals are
    scaled by a power of two near ``max |r|`` before squaring (exact, and held constant under
    autodiff), so neither ``r^2`` overflowing (``|r| > 1.8e19`` in float32) nor underflowing
    changes the value or the gradient. Its gradient at a perfect fit is 0 (the square root's
    infinite slope at 0 is not propagated).
    """

    spec = LossSpec(
        name="rmse",
        family="regression",
        summary="Root mean squared error: MSE on the scale of the target.",
        pred_domain="real",
        target_domain="real",
        properties=Properties(convex=True, robust=False, smoothness="C0"),
        formula=r"L = \sqrt{\tfrac{1}{n}\textstyle\sum_i (\hat y_i - y_i)^2}",
        references=("Gauss, C. F. (1809). Theoria motus corporum coelestium.",),
        aliases=("root_mean_squared_error", "RootMeanSquaredError"),
        framework_names={
            "keras": "keras.metrics.RootMeanSquaredError",
            "tensorflow": "tf.keras.metrics.RootMeanSquaredError",
        },
        elementwise=False,
        derivative_notes="Not elementwise: no per-element grad or hess.",
        boosting=BoostingHessian(
            "none", reason="it is not elementwise; boost mse, whose minimiser is the same"
        ),
        when_to_use="Reporting squared error in the units of the target.",
        kinks=lambda p: (0.0,),
        probe=offset_probe,
    )

    def _residuals(self, call: Call) -> Any:
        """The residuals whose root mean square this is: ``pred - target`` (a subclass may
        define others: rmsle's differences of log1p)."""
        pred, target = call.arrays()
        return pred - target

    def definition(self, call: Call) -> Unreduced:
        """The squared residuals (``reduce`` takes the root, from residuals it rescales)."""
        r = self._residuals(call)
        return Unreduced(r * r)

    def reduce(self, call: Call, unreduced: Unreduced, reduction: str) -> Any:
        if reduction == "none":
            raise LossInputError(
                self.name,
                "reduction",
                "'mean', 'sum' or 'sum_by_nonzero_weights' "
                "(the root is taken of a reduced squared error)",
                "'none'",
            )
        xp = call.xp
        r = self._residuals(call)
        if size(r) == 0:
            return safe_sqrt(xp, reduce_loss(xp, r, call.weight, reduction, function=self.name))
        # scale = 2**floor(log2(max|r|)): exact to divide by, and its derivative is 0 (floor),
        # so autodiff sees the plain sqrt(mean(r^2)) with the residuals held in range
        big = xp.max(abs_(xp, r))
        usable = xp.isfinite(big) & (big > 0)
        exponent = xp.floor(xp.log2(xp.where(usable, big, const(xp, 1.0, big))))
        scale = xp.pow(const(xp, 2.0, big), exponent)
        s = r / scale
        mean_square = reduce_loss(xp, s * s, call.weight, reduction, function=self.name)
        return scale * safe_sqrt(xp, mean_square)


class MeanBiasError(ElementwiseLoss):
    r"""Mean bias error: the signed residual ``pred - target``.

    Not a loss to minimise (it is unbounded below) but a diagnostic: its mean is positive when
    predictions are too high on average. ``grad = 1``, ``hess = 0``.
    """

    spec = LossSpec(
        name="mean_bias_error",
        family="regression",
        summary="Mean bias error: the signed mean residual, a diagnostic of systematic bias.",
        pred_domain="real",
        target_domain="real",
        properties=Properties(convex=True, robust=True, smoothness="Cinf", nonnegative=False),
        formula=r"\ell(\hat y, y) = \hat y - y",
        references=(
            "Willmott, C. J. (1982). Some comments on the evaluation of model performance. "
            "Bulletin of the American Meteorological Society 63(11).",
        ),
        aliases=("mbe", "bias"),
        derivative_notes="grad = 1, hess = 0.",
        when_to_use="Checking whether a model over- or under-predicts on average; not for "
        "training.",
        boosting=BoostingHessian(
            "none",
            reason="it is unbounded below (a booster would push every prediction to -inf)",
        ),
    )

    def _value(self, xp: Any, pred: Any, target: Any) -> Any:
        return pred - target

    def _grad(self, xp: Any, pred: Any, target: Any) -> Any:
        return _ones(xp, pred)

    def _hess(self, xp: Any, pred: Any, target: Any) -> Any:
        return _zeros(xp, pred)


class Huber(ElementwiseLoss):
    r"""Huber loss (PyTorch's ``HuberLoss``): quadratic near 0, linear beyond ``delta``.

    .. math::
        \ell(r) = \begin{cases} r^2/2 & |r| < \delta \\
                                \delta(|r| - \delta/2) & \text{else}\end{cases}

    ``huber(delta) == delta * smooth_l1(beta=delta)``. ``grad = clip(r, -delta, delta)``;
    ``hess = 1`` for ``|r| < delta`` and 0 otherwise (0 at ``|r| = delta`` exactly).
    """

    spec = LossSpec(
        name="huber",
        family="regression",
        summary="Huber loss: squared error for small residuals, absolute error for large ones.",
        pred_domain="real",
        target_domain="real",
        properties=Properties(convex=True, robust=True, smoothness="C1"),
        formula=r"\ell(r) = \begin{cases} \tfrac12 r^2 & |r| < \delta \\ "
        r"\delta\,(|r| - \tfrac12\delta) & |r| \ge \delta \end{cases}",
        references=(
            "Huber, P. J. (1964). Robust Estimation of a Location Parameter. "
            "Annals of Mathematical Statistics 35(1), 73-101.",
        ),
        params=(
            Param(
                "delta",
                1.0,
                "threshold between the quadratic and linear parts",
                low=0.0,
                low_inclusive=False,
            ),
        ),
        aliases=("huber_loss", "HuberLoss"),
        framework_names={
            "pytorch": "torch.nn.HuberLoss, torch.nn.functional.huber_loss",
            "keras": "keras.losses.Huber",
            "tensorflow": "tf.keras.losses.Huber, tf.compat.v1.losses.huber_loss",
            "paddle": "paddle.nn.SmoothL1Loss (its delta is Huber's delta)",
            "optax": "optax.huber_loss",
        },
        derivative_notes="grad = clip(r, -delta, delta); hess = 1 where |r| < delta, else 0.",
        kinks=lambda p: (-p["delta"], p["delta"]),
        when_to_use="Regression with some outliers when you still want MSE's behaviour near "
        "the fit.",
        showcase=({"delta": 0.5}, {"delta": 1.0}, {"delta": 2.0}),
        boosting=BoostingHessian(
            "surrogate",
            r"h = 1",
            "The second derivative is 0 beyond delta, so a leaf of outliers would get an "
            "infinite Newton step. The quadratic part's Hessian, 1, is kept everywhere, as "
            "LightGBM's huber objective does: a leaf of outliers moves by at most delta times "
            "the learning rate per round.",
            (LIGHTGBM_2017,),
        ),
    )

    def _value(self, xp: Any, pred: Any, target: Any, *, delta: float) -> Any:
        r = pred - target
        a = abs_(xp, r)
        inside = a < delta
        r_in = where0(xp, inside, r)  # the quadratic branch never sees an infinite residual
        return xp.where(inside, 0.5 * r_in * r_in, delta * (a - 0.5 * delta))

    def _grad(self, xp: Any, pred: Any, target: Any, *, delta: float) -> Any:
        r = pred - target
        return xp.where(abs_(xp, r) < delta, r, delta * xp.sign(r))

    def _hess(self, xp: Any, pred: Any, target: Any, *, delta: float) -> Any:
        r = pred - target
        return xp.astype(abs_(xp, r) < delta, pred.dtype)

    def _boosting_hess(self, xp: Any, pred: Any, target: Any, *, delta: float) -> Any:
        return _ones(xp, pred)


class SmoothL1(ElementwiseLoss):
    r"""Smooth L1 loss (PyTorch's ``SmoothL1Loss``, Fast R-CNN): Huber divided by ``beta``.

    .. math::
        \ell(r) = \begin{cases} r^2/(2\beta) & |r| < \beta \\
                                |r| - \beta/2 & \text{else}\end{cases}

    ``beta = 0`` is the L1 loss. ``grad = r/beta`` inside, ``sign(r)`` outside; ``hess = 1/beta``
    inside and 0 outside (0 everywhere when ``beta = 0``).
    """

    spec = LossSpec(
        name="smooth_l1",
        family="regression",
        summary="Smooth L1 loss: L1 with a quadratic piece of width beta around 0.",
        pred_domain="real",
        target_domain="real",
        properties=Properties(convex=True, robust=True, smoothness="C1"),
        formula=r"\ell(r) = \begin{cases} \tfrac{r^2}{2\beta} & |r| < \beta \\ "
        r"|r| - \tfrac{\beta}{2} & |r| \ge \beta \end{cases}",
        references=("Girshick, R. (2015). Fast R-CNN. ICCV. arXiv:1504.08083.",),
        params=(Param("beta", 1.0, "width of the quadratic region; 0 gives L1", low=0.0),),
        aliases=("smooth_l1_loss", "SmoothL1Loss"),
        framework_names={"pytorch": "torch.nn.SmoothL1Loss, torch.nn.functional.smooth_l1_loss"},
        derivative_notes="grad = r/beta where |r| < beta, else sign(r); hess = 1/beta inside, "
        "else 0.",
        kinks=lambda p: (-p["beta"], 0.0, p["beta"]),
        variants=(Variant({"beta": 0.0}, properties={"smoothness": "C0"}),),
        when_to_use="Box regression in detectors; L1 that stays differentiable at 0.",
        showcase=({"beta": 0.5}, {"beta": 1.0}, {"beta": 2.0}),
        boosting=BoostingHessian(
            "surrogate",
            r"h = 1/\beta \ (h = 1 \text{ for } \beta = 0)",
            "Huber's choice scaled by 1/beta: the quadratic part's Hessian everywhere, since "
            "the second derivative is 0 beyond beta.",
            (LIGHTGBM_2017,),
        ),
    )

    def _value(self, xp: Any, pred: Any, target: Any, *, beta: float) -> Any:
        r = pred - target
        a = abs_(xp, r)
        if beta == 0:
            return a
        inside = a < beta
        r_in = where0(xp, inside, r)  # the quadratic branch never sees an infinite residual
        return xp.where(inside, (0.5 / beta) * r_in * r_in, a - 0.5 * beta)

    def _grad(self, xp: Any, pred: Any, target: Any, *, beta: float) -> Any:
        r = pred - target
        if beta == 0:
            return xp.sign(r)
        return xp.where(abs_(xp, r) < beta, r / beta, xp.sign(r))

    def _hess(self, xp: Any, pred: Any, target: Any, *, beta: float) -> Any:
        r = pred - target
        if beta == 0:
            return _zeros(xp, pred)
        return xp.astype(abs_(xp, r) < beta, pred.dtype) / beta

    def _boosting_hess(self, xp: Any, pred: Any, target: Any, *, beta: float) -> Any:
        return _ones(xp, pred) if beta == 0 else _ones(xp, pred) / beta


class PseudoHuber(ElementwiseLoss):
    r"""Pseudo-Huber loss: ``delta**2 * (sqrt(1 + (r/delta)**2) - 1)``.

    Computed as ``r * (r / (1 + hypot(1, r/delta)))``: no cancellation near 0, no overflow for
    large residuals. ``grad = r / hypot(1, r/delta)``, ``hess = hypot(1, r/delta)**-3``.
    ``charbonnier(eps)`` is ``pseudo_huber(delta=eps) / eps``.
    """

    spec = LossSpec(
        name="pseudo_huber",
        family="regression",
        summary="Pseudo-Huber loss: quadratic near 0, asymptotically linear, smooth everywhere.",
        pred_domain="real",
        target_domain="real",
        properties=Properties(convex=True, robust=True, smoothness="Cinf"),
        formula=r"\ell(r) = \delta^2\left(\sqrt{1 + (r/\delta)^2} - 1\right)",
        references=(
            "Charbonnier, P., Blanc-Féraud, L., Aubert, G., Barlaud, M. (1997). Deterministic "
            "edge-preserving regularization in computed imaging. IEEE Trans. Image "
            "Processing 6(2).",
            "Hartley, R., Zisserman, A. (2003). Multiple View Geometry in Computer Vision, A6.8.",
        ),
        params=(
            Param(
                "delta",
                1.0,
                "scale where the loss turns from quadratic to linear",
                low=0.0,
                low_inclusive=False,
            ),
        ),
        aliases=("pseudo_huber_loss", "pseudohubererror"),
        framework_names={"xgboost": "reg:pseudohubererror"},
        derivative_notes="grad = r / sqrt(1 + (r/delta)^2), hess = (1 + (r/delta)^2)^(-3/2).",
        when_to_use="Huber's robustness where a twice-differentiable loss is needed (Newton "
        "steps, boosting).",
        showcase=({"delta": 0.5}, {"delta": 1.0}, {"delta": 2.0}),
    )

    def _parts(self, xp: Any, r: Any, delta: float) -> tuple[Any, Any, Any, Any]:
        """For z = r/delta: (|z| <= 1, z there (else 0), |r| where |z| > 1 (else 2 delta),
        delta / that, which is 1/|z| without overflow).

        Each branch gets only the inputs it is valid for, so that neither its value nor its
        autodiff derivative is NaN where the other branch is taken (JAX's hypot, which this
        replaces, selects with max/min, whose tie at |z| = 1 breaks the second derivative).
        """
        z = r / delta
        small = abs_(xp, z) <= 1.0  # z * z would overflow far out
        z_small = where0(xp, small, z)
        a_big = abs_(xp, xp.where(small, const(xp, 2.0 * delta, r), r))
        return small, z_small, a_big, delta / a_big

    def _value(self, xp: Any, pred: Any, target: Any, *, delta: float) -> Any:
        return delta * self._value_over_delta(xp, pred - target, delta)

    def _value_over_delta(self, xp: Any, r: Any, delta: float) -> Any:
        """delta (sqrt(1 + z^2) - 1), z = r/delta: the loss over delta (Charbonnier's form)."""
        small, z_small, a_big, inv = self._parts(xp, r, delta)
        r_small = where0(xp, small, r)
        # |z| <= 1: r z / (1 + root), no cancellation; |z| > 1: |r| sqrt(1 + 1/z^2) - delta,
        # whose autodiff derivatives stay exact for huge r (those of the first form lose a
        # term to underflow and come out twice too large at |r| = 1e30 in float32); at
        # |r| = inf the asymptote |r| gives the limit of the slope (inf * 0 otherwise)
        near = r_small * (z_small / (1.0 + xp.sqrt(1.0 + z_small * z_small)))
        infinite = xp.isinf(r)
        a_big = xp.where(infinite, const(xp, 2.0 * delta, a_big), a_big)
        inv = xp.where(infinite, const(xp, 0.5, inv), inv)
        far = a_big * xp.sqrt(1.0 + inv * inv) - delta
        return xp.where(small, near, xp.where(infinite, abs_(xp, r), far))

    def _grad(self, xp: Any, pred: Any, target: Any, *, delta: float) -> Any:
        return delta * self._grad_over_delta(xp, pred - target, delta)

    def _grad_over_delta(self, xp: Any, r: Any, delta: float) -> Any:
        """z / sqrt(1 + z^2), written as sign(z) / sqrt(1 + 1/z^2) where |z| > 1: the limit
        sign(r) at |r| = inf instead of inf / inf."""
        small, z_small, _, inv = self._parts(xp, r, delta)
        near = z_small / xp.sqrt(1.0 + z_small * z_small)
        far = xp.sign(r) / xp.sqrt(1.0 + inv * inv)
        return xp.where(small, near, far)

    def _hess(self, xp: Any, pred: Any, target: Any, *, delta: float) -> Any:
        # (1 + z^2)^(-3/2); for |z| > 1 as (1/|z| / sqrt(1 + 1/z^2))^3, which cannot overflow
        small, z_small, _, inv = self._parts(xp, pred - target, delta)
        near = 1.0 / xp.sqrt(1.0 + z_small * z_small)
        far = inv / xp.sqrt(1.0 + inv * inv)
        root_inv = xp.where(small, near, far)
        return root_inv * root_inv * root_inv

    def _boosting_grad_hess(
        self, xp: Any, pred: Any, target: Any, *, delta: float
    ) -> tuple[Any, Any]:
        # (r / delta)^2 would overflow past |r / delta| = 1.8e19 in float32; clamped at 2^60,
        # the gradient has reached delta * sign(r) and the Hessian the floor, in both dtypes
        big = const(xp, 2.0**60, pred)
        u = xp.minimum(xp.maximum((pred - target) / delta, -big), big)
        inv_root = 1.0 / xp.sqrt(1.0 + u * u)
        return (delta * u) * inv_root, inv_root * inv_root * inv_root


class LogCosh(ElementwiseLoss):
    r"""Log-cosh loss: ``log(cosh(pred - target))``.

    Computed as ``log1p(sinh(r)**2) / 2`` for ``|r| < 1`` (accurate where the loss is tiny:
    about r^2/2) and as ``|r| + log1p(exp(-2|r|)) - log 2`` beyond (finite for any finite
    residual in float16/32/64, about ``|r| - log 2`` for large ``|r|``; a naive
    ``log(cosh(r))`` overflows past |r| = 89 in float32). ``grad = tanh(r)``,
    ``hess = sech(r)**2``.
    """

    spec = LossSpec(
        name="log_cosh",
        family="regression",
        summary="Log-cosh loss: like MSE/2 near 0 and like L1 far away, twice differentiable.",
        pred_domain="real",
        target_domain="real",
        properties=Properties(convex=True, robust=True, smoothness="Cinf"),
        formula=r"\ell(r) = \log\cosh(r)",
        references=(
            "Saleh, R. A., Saleh, A. K. Md. E. (2022). Statistical Properties of the "
            "log-cosh Loss Function Used in Machine Learning. arXiv:2208.04564.",
        ),
        aliases=("logcosh", "LogCosh", "log_cosh_loss"),
        framework_names={
            "keras": "keras.losses.LogCosh, keras.losses.log_cosh",
            "tensorflow": "tf.keras.losses.log_cosh",
            "optax": "optax.log_cosh",
        },
        derivative_notes="grad = tanh(r), hess = sech(r)^2 = 4 sigmoid(2r) sigmoid(-2r).",
        when_to_use="Robust regression with Newton-type optimisers or gradient boosting.",
        boosting=BoostingHessian(
            "surrogate",
            r"h = \tanh(r)/r \ (h = 1 \text{ at } r = 0)",
            "sech(r)^2 is positive but vanishes like 4 exp(-2|r|), so a Newton step on an "
            "outlier moves by sinh(2r)/2: from a residual of 10 it would jump 1.2e8. "
            "tanh(r)/r is the curvature of the sharpest quadratic that majorises log cosh at "
            "r; it is >= sech(r)^2, moves a lone residual exactly onto its target, and makes "
            "each round an iteratively reweighted least-squares step.",
            (SHARP_MAJORIZATION,),
        ),
    )

    def _exp_minus_abs(self, xp: Any, pred: Any, target: Any) -> tuple[Any, Any]:
        """(|r|, exp(-|r|)); |r| is taken branch-wise, so autodiff of an even function of it is
        exact at 0 too, and nothing overflows (2|r| would, past 1.7e38 in float32)."""
        r = pred - target
        a = xp.where(r > 0, r, -r)
        return a, xp.exp(-a)

    def _value(self, xp: Any, pred: Any, target: Any) -> Any:
        a, e = self._exp_minus_abs(xp, pred, target)
        far = a + xp.log1p(e * e) - LOG2  # log(cosh r) = |r| + log(1 + exp(-2|r|)) - log 2
        # below |r| = 1 that form cancels (r = 1e-6 gives 6e-8 in float32, true 5e-13):
        # log(cosh r) = log1p(sinh(r)^2) / 2 there, exact to a few ulps down to subnormals
        r = pred - target
        small = a < 1.0
        s = xp.sinh(where0(xp, small, r))  # double where: sinh^2 would overflow the far side
        return xp.where(small, 0.5 * xp.log1p(s * s), far)

    def _grad(self, xp: Any, pred: Any, target: Any) -> Any:
        return xp.tanh(pred - target)

    def _hess(self, xp: Any, pred: Any, target: Any) -> Any:
        _, e = self._exp_minus_abs(xp, pred, target)
        ee = e * e  # sech(r)^2 = 4 exp(-2|r|) / (1 + exp(-2|r|))^2
        return 4.0 * ee / ((1.0 + ee) * (1.0 + ee))

    def _boosting_hess(self, xp: Any, pred: Any, target: Any) -> Any:
        return self._boosting_grad_hess(xp, pred, target)[1]

    def _boosting_grad_hess(self, xp: Any, pred: Any, target: Any) -> tuple[Any, Any]:
        r = pred - target
        t = xp.tanh(r)
        zero = r == 0
        safe = xp.where(zero, const(xp, 1.0, r), r)
        return t, xp.where(zero, const(xp, 1.0, r), t / safe)


class Quantile(ElementwiseLoss):
    r"""Quantile (pinball) loss for the ``q``-quantile; scikit-learn's ``mean_pinball_loss``.

    .. math:: \ell(\hat y, y) = \max\big(q (y - \hat y),\ (q - 1)(y - \hat y)\big)

    Under-prediction costs ``q`` per unit, over-prediction ``1 - q``. ``grad = -q`` where
    ``pred < target``, ``1 - q`` where ``pred > target`` and, at equality, ``1/2 - q`` (the
    midpoint of the subdifferential, so ``quantile(q=0.5) == mae / 2`` including gradients);
    ``hess = 0``.
    """

    spec = LossSpec(
        name="quantile",
        family="regression",
        summary="Quantile (pinball) loss: its minimiser is the q-quantile of the target.",
        pred_domain="real",
        target_domain="real",
        properties=Properties(convex=True, robust=True, smoothness="C0"),
        formula=r"\ell(\hat y, y) = \max\{q\,(y - \hat y),\ (q - 1)\,(y - \hat y)\}",
        references=(
            "Koenker, R., Bassett, G. (1978). Regression Quantiles. Econometrica 46(1), 33-50.",
        ),
        params=(
            Param(
                "q",
                0.5,
                "the quantile to estimate",
                low=0.0,
                high=1.0,
                low_inclusive=False,
                high_inclusive=False,
            ),
        ),
        aliases=("pinball", "pinball_loss", "quantile_loss", "mean_pinball_loss", "PinballLoss"),
        framework_names={
            "sklearn": "sklearn.metrics.mean_pinball_loss",
            "tensorflow": "tfa.losses.PinballLoss",
            "xgboost": "reg:quantileerror",
        },
        derivative_notes="grad = -q below the target, 1 - q above, 1/2 - q at equality; hess = 0.",
        kinks=lambda p: (0.0,),
        when_to_use="Prediction intervals and asymmetric costs: fit q = 0.05 and 0.95 for a "
        "90% band.",
        showcase=({"q": 0.1}, {"q": 0.5}, {"q": 0.9}),
        boosting=BoostingHessian(
            "surrogate",
            r"h = 1",
            UNIT_HESSIAN_NOTE.format(lgb="quantile", xgb="reg:quantileerror", stat="q-quantile"),
            (FRIEDMAN_2001, LIGHTGBM_2017),
        ),
    )

    def _value(self, xp: Any, pred: Any, target: Any, *, q: float) -> Any:
        d = target - pred
        # max(q d, (q-1) d) branch-wise (0.5 |d| + (q - 1/2) d would be inf - inf at d = inf);
        # the middle branch, taken only at d = 0, makes the slope there the subdifferential's
        # midpoint
        inner = xp.where(d < 0, (q - 1.0) * d, (q - 0.5) * d)
        return xp.where(d > 0, q * d, inner)

    def _grad(self, xp: Any, pred: Any, target: Any, *, q: float) -> Any:
        return -0.5 * xp.sign(target - pred) + (0.5 - q)

    def _hess(self, xp: Any, pred: Any, target: Any, *, q: float) -> Any:
        return _zeros(xp, pred)

    def _boosting_hess(self, xp: Any, pred: Any, target: Any, *, q: float) -> Any:
        return _ones(xp, pred)


class PoissonNLL(ElementwiseLoss):
    r"""Poisson negative log-likelihood (PyTorch's ``PoissonNLLLoss``).

    With ``log_input=True`` pred is the log-rate: :math:`e^{\hat y} - y \hat y`; otherwise pred
    is the rate: :math:`\hat y - y \log(\hat y + \epsilon)`. ``full=True`` adds Stirling's
    approximation of :math:`\log y!` for targets above 1.
    """

    spec = LossSpec(
        name="poisson_nll",
        family="regression",
        summary="Poisson negative log-likelihood for counts, on the rate or the log-rate.",
        pred_domain="real",
        target_domain="nonnegative",
        properties=Properties(convex=True, robust=False, smoothness="Cinf", nonnegative=False),
        formula=r"\ell(\hat y, y) = e^{\hat y} - y\,\hat y \quad(\text{log\_input}),"
        r"\qquad \hat y - y \log(\hat y + \epsilon)",
        references=(
            "McCullagh, P., Nelder, J. A. (1989). Generalized Linear Models, 2nd ed., ch. 6.",
        ),
        params=(
            Param("log_input", True, "pred is the log of the rate", kind="bool"),
            Param("full", False, "add the Stirling term for log(target!)", kind="bool"),
            Param("eps", 1e-8, "added to the rate inside the log when log_input=False", low=0.0),
        ),
        aliases=("poisson_nll_loss", "PoissonNLLLoss", "poisson", "log_poisson_loss"),
        framework_names={
            "pytorch": "torch.nn.PoissonNLLLoss, torch.nn.functional.poisson_nll_loss",
            "keras": "keras.losses.Poisson (log_input=False)",
            "tensorflow": "tf.nn.log_poisson_loss",
            "paddle": "paddle.nn.PoissonNLLLoss",
        },
        derivative_notes="log_input: grad = exp(pred) - y (as y expm1(pred - log y)), "
        "hess = exp(pred); "
        "else grad = 1 - y/(pred+eps), hess = y/(pred+eps)^2.",
        when_to_use="Count data (events, visits, photons) where the variance grows with the mean.",
        showcase=({"log_input": True}, {"log_input": False}),
        variants=(
            Variant({"log_input": False}, domains={"pred": "nonnegative"}),
            # with the Stirling term it is the negative log of a probability (approximately):
            # at least 0.5 log(2 pi y) > 0 for y > 1 and y - y log y >= 0 below; eps > 0 on
            # the rate lets it dip to -eps
            Variant(
                lambda p: p["full"] and (p["log_input"] or p["eps"] == 0),
                properties={"nonnegative": True},
                note="full=True, with log_input=True or eps=0",
            ),
        ),
    )

    def _value(
        self, xp: Any, pred: Any, target: Any, *, log_input: bool, full: bool, eps: float
    ) -> Any:
        inf = pred == math.inf  # the loss is +inf there: keep inf - inf out of both forms
        if log_input:  # target * pred is 0 where the target is 0, even at pred = -inf
            loss = xp.exp(pred) - times_finite(xp, target, where0(xp, ~inf, pred))
        else:  # target * log(rate), taken as 0 where the target is 0 (even at rate 0)
            finite_pred = xp.where(inf, const(xp, 1.0, pred), pred)
            rate = xp.where(target != 0, finite_pred + eps, const(xp, 1.0, pred))
            # at rate inf the asymptote is the rate itself (slope 1, the limit of 1 - y / rate)
            loss = xp.where(inf, pred, finite_pred - target * log_or_neg_inf(xp, rate))
        if full:
            big = target > 1
            safe = xp.where(big, target, const(xp, 2.0, target))
            stirling = safe * xp.log(safe) - safe + 0.5 * xp.log(2.0 * math.pi * safe)
            loss = loss + where0(xp, big, stirling)
        return loss

    def _grad(
        self, xp: Any, pred: Any, target: Any, *, log_input: bool, full: bool, eps: float
    ) -> Any:
        if log_input:
            # exp(x) - y as y expm1(x - log y): exact near the minimum x = log y, where the
            # difference cancels (x = 1e-7, y = 1: exp(x) - 1 loses half the digits)
            counts = target > 0
            log_y = xp.log(xp.where(counts, target, const(xp, 1.0, target)))
            near = target * xp.expm1(pred - log_y)
            return xp.where(counts, near, xp.exp(pred))
        return 1.0 - self._target_over_rate(xp, pred, target, eps, 1)

    def _hess(
        self, xp: Any, pred: Any, target: Any, *, log_input: bool, full: bool, eps: float
    ) -> Any:
        if log_input:
            return xp.exp(pred)
        return self._target_over_rate(xp, pred, target, eps, 2)

    def _target_over_rate(self, xp: Any, pred: Any, target: Any, eps: float, power: int) -> Any:
        """target / rate**power, 0 where the target is 0 (the term target * log(rate) is 0)."""
        nonzero = target != 0
        rate = xp.where(nonzero, pred + eps, const(xp, 1.0, pred))
        return where0(xp, nonzero, target / (rate if power == 1 else rate * rate))


def _gaussian_floor(params: dict[str, Any]) -> float:
    """The smallest value the Gaussian NLL can take under these hyperparameters: at r = 0,
    with the smallest variance possible (max(var, eps) for a number, eps for an array)."""
    var, eps = params.get("var"), params["eps"]
    low = max(float(var), eps) if isinstance(var, (int, float)) else eps
    return 0.5 * (math.log(low) + (LOG_2PI if params["full"] else 0.0))


class GaussianNLL(ElementwiseLoss):
    r"""Gaussian negative log-likelihood with predicted variance (PyTorch's ``GaussianNLLLoss``).

    .. math::
        \ell = \tfrac12\left(\log\max(v, \epsilon)
                + \frac{(\hat y - y)^2}{\max(v, \epsilon)}\right)
              \ (+\ \tfrac12\log 2\pi \text{ if full})

    ``var`` has pred's shape, or pred's shape without its last dimension, or with a last
    dimension of 1 (one variance per row), or is a number. Negative variances are an error.
    Where ``var < eps`` its gradient is 0 (PyTorch passes the gradient through the clamp).
    ``grad = (pred - target)/v`` and ``hess = 1/v`` with respect to pred.
    """

    spec = LossSpec(
        name="gaussian_nll",
        family="regression",
        summary="Gaussian negative log-likelihood with a predicted variance (heteroscedastic "
        "regression).",
        pred_domain="real",
        target_domain="real",
        properties=Properties(convex=True, robust=False, smoothness="Cinf", nonnegative=False),
        formula=r"\ell = \tfrac12\left(\log \sigma^2 + \frac{(\hat y - y)^2}{\sigma^2}\right)",
        references=(
            "Nix, D. A., Weigend, A. S. (1994). Estimating the mean and variance of the "
            "target probability distribution. ICNN'94.",
        ),
        params=(
            Param(
                "var",
                REQUIRED,
                "predicted variance (array or number, >= 0)",
                kind="array",
                shape="~*s",
                domain="nonnegative",
                positional=True,
            ),
            Param("full", False, "add the constant 0.5*log(2*pi)", kind="bool"),
            Param("eps", 1e-6, "lower clamp on var for stability", low=0.0, low_inclusive=False),
        ),
        aliases=("gaussian_nll_loss", "GaussianNLLLoss"),
        framework_names={
            "pytorch": "torch.nn.GaussianNLLLoss, torch.nn.functional.gaussian_nll_loss",
            "paddle": "paddle.nn.GaussianNLLLoss",
        },
        derivative_notes="with respect to pred (the mean): grad = r / var, hess = 1 / var.",
        when_to_use="Regression that also predicts its own uncertainty per sample.",
        showcase=({"var": 0.5}, {"var": 1.0}, {"var": 4.0}),
        variants=(
            Variant(
                lambda p: _gaussian_floor(p) >= 0,
                properties={"nonnegative": True},
                note="the smallest variance v possible (max(var, eps), or eps for an array "
                "var) has 0.5 log v >= 0 (0.5 log(2 pi v) >= 0 with full=True)",
            ),
        ),
    )

    def _shape_array_param(self, p: Param, value: Any, xp: Any, bindings: dict) -> Any:
        """var: pred's shape, pred's shape without its last axis (one variance per row, given
        a last axis of 1 here), with a last axis of 1, or a 0-d array; never a shape that
        would change the loss's shape by broadcasting."""
        shape, vshape = tuple(bindings["s"]), tuple(value.shape)
        allowed = [shape, ()]
        if shape:
            allowed += [shape[:-1], (*shape[:-1], 1)]
        if vshape not in allowed:
            listed = ", ".join(str(a) for a in dict.fromkeys(allowed))
            raise LossInputError(
                self.name, p.name, f"one of the shapes {listed} (or a number)", f"shape {vshape}"
            )
        if shape and vshape == shape[:-1] and vshape != shape:
            value = xp.expand_dims(value, axis=-1)
        return value

    def _clamped(self, xp: Any, var: Any, eps: float) -> Any:
        return xp.maximum(var, const(xp, eps, var))

    def _value(self, xp: Any, pred: Any, target: Any, *, var: Any, full: bool, eps: float) -> Any:
        v = self._clamped(xp, var, eps)
        r = pred - target
        loss = 0.5 * (xp.log(v) + r * (r / v))  # r * r / v would overflow at r = v = 1e30
        return loss + 0.5 * LOG_2PI if full else loss

    def _grad(self, xp: Any, pred: Any, target: Any, *, var: Any, full: bool, eps: float) -> Any:
        return (pred - target) / self._clamped(xp, var, eps)

    def _hess(self, xp: Any, pred: Any, target: Any, *, var: Any, full: bool, eps: float) -> Any:
        return xp.broadcast_to(1.0 / self._clamped(xp, var, eps), tuple(pred.shape))


mae = register(MeanAbsoluteError())
mse = register(MeanSquaredError())
rmse = register(RootMeanSquaredError())
mean_bias_error = register(MeanBiasError())
huber = register(Huber())
smooth_l1 = register(SmoothL1())
pseudo_huber = register(PseudoHuber())
log_cosh = register(LogCosh())
quantile = register(Quantile())
poisson_nll = register(PoissonNLL())
gaussian_nll = register(GaussianNLL())

__all__ = [
    "gaussian_nll",
    "huber",
    "log_cosh",
    "mae",
    "mean_bias_error",
    "mse",
    "poisson_nll",
    "pseudo_huber",
    "quantile",
    "rmse",
    "smooth_l1",
]
