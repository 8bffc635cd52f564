"""Unit deviances of the Tweedie family: the losses of generalised linear models and of the
Tweedie, Poisson and gamma objectives of gradient boosting, elementwise.

``tweedie_deviance(pred, target, power=p)`` is scikit-learn's ``mean_tweedie_deviance`` per
element: twice the log-likelihood ratio of the saturated model to the fitted mean ``mu``
under a Tweedie distribution of variance ``mu^p`` (``p = 0`` normal, ``1`` Poisson,
``(1, 2)`` compound Poisson-gamma, ``2`` gamma, ``3`` inverse Gaussian).
``poisson_deviance`` and ``gamma_deviance`` are its powers 1 and 2. pred is the mean ``mu``,
or with ``log_input=True`` its log (the raw score of a booster on the log link).

Accuracy where the loss is small: with ``d = log(mu) - log(y)``, ``a = 1 - p``, ``b = 2 - p``,
the deviance of a positive target is ``2 y^b (h(b d)/b - h(a d)/a)``, ``h(x) = e^x - 1 - x``,
so near the fit it is ``2 y^b d^2 sum_k c_k d^(k-2)`` with ``c_k = (b^(k-1) - a^(k-1)) / k!``
(coefficients exact for the power, computed once; no cancellation for any power). Farther out
each ``y^b h(c d)`` is summed from the powers ``mu^b``, ``y mu^a``, ``y^b`` themselves (so
that a large ``|d|`` loses nothing to the rounding of the log), and for ``p > 2`` above the
target as ``2 y^b ((1 - e^(-beta d)) - beta e^(-beta d) (1 - e^(-d))) / (alpha beta)``,
``alpha = p - 1``, ``beta = p - 2`` (the factored form cancels there).
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction
from typing import Any, ClassVar

from ._loss import ElementwiseLoss
from ._registry import register
from ._spec import (
    BoostingHessian,
    LossSpec,
    Param,
    Probe,
    Properties,
    Variant,
)
from ._xp import const, where0

MCCULLAGH_NELDER_1989 = (
    "McCullagh, P., Nelder, J. A. (1989). Generalized Linear Models, 2nd ed. Chapman & Hall."
)
JORGENSEN_1997 = "Jorgensen, B. (1997). The Theory of Dispersion Models. Chapman & Hall, ch. 4."
ZHOU_2022 = (
    "Zhou, H., Qian, W., Yang, Y. (2022). Tweedie gradient boosting for extremely unbalanced "
    "zero-inflated data. Communications in Statistics - Simulation and Computation 51(9)."
)
XGBOOST_2016 = (
    "Chen, T., Guestrin, C. (2016). XGBoost: A Scalable Tree Boosting System. KDD. "
    "arXiv:1603.02754."
)

SERIES_TERMS = 26  # terms of the series in d: |m d| <= 1.2 leaves 2 * 1.2^27 / 27! < 1e-24
H_TERMS = 28  # terms of h(x) = e^x - 1 - x for |x| <= 2: 2^30 / 30! < 1e-23
H_SPLIT = 2.0  # |x| beyond which h(x) is formed from e^x itself
NEAR = 1.0  # |m d| below which the series in d is summed (m = max(|1 - p|, |2 - p|))
NEAR_ABOVE = 1.2  # for p > 2 the series reaches m d = 1.2 above the target


@functools.lru_cache(maxsize=64)
def _coefficients(p: float) -> tuple[float, ...]:
    """c_k = (b^(k-1) - a^(k-1)) / k! for k = 2, 3, ..., a = 1 - p, b = 2 - p, exact for the
    float p (as a fraction) and rounded once."""
    fp = Fraction(p)
    a, b = 1 - fp, 2 - fp
    return tuple(
        float((b ** (k - 1) - a ** (k - 1)) / math.factorial(k)) for k in range(2, 2 + SERIES_TERMS)
    )


_H = tuple(1.0 / math.factorial(k) for k in range(2, 2 + H_TERMS))


def _horner(x: Any, coefficients: tuple[float, ...]) -> Any:
    """sum_j coefficients[j] x^j."""
    s = coefficients[-1] + 0.0 * x
    for c in reversed(coefficients[:-1]):
        s = s * x + c
    return s


def _h(xp: Any, x: Any) -> Any:
    """h(x) = e^x - 1 - x for |x| <= 2 (its Taylor series: no cancellation near 0)."""
    return x * x * _horner(x, _H)


def _probe(params: Any) -> Probe:
    """log-mean or mean pred against a target of 2 (the rate axes of poisson_nll)."""
    from ._probes import RATES, RESIDUALS, _against

    if params.get("log_input"):
        return Probe(
            "log-rate", "log-mean pred (target = 2)", "pred", "log-mean pred, target 2", "real",
            (-3.0, 3.0), RESIDUALS, (_against(2.0),), "pred",
        )  # fmt: skip
    domain = "real" if params.get("power", 1.0) == 0 else "positive"
    return Probe(
        "rate", "mean pred (target = 2)", "pred", "mean pred, target 2", domain,
        (0.0, 6.0), RATES, (_against(2.0),), "pred",
    )  # fmt: skip


def _convex(p: float, log_input: bool) -> bool:
    return (1.0 <= p <= 2.0) if log_input else p in (0.0, 1.0)


class TweedieDeviance(ElementwiseLoss):
    r"""Tweedie unit deviance (scikit-learn's ``mean_tweedie_deviance`` per element).

    .. math::
        \ell(\mu, y) = 2\left(\frac{\max(y, 0)^{2-p}}{(1-p)(2-p)}
            - \frac{y\,\mu^{1-p}}{1-p} + \frac{\mu^{2-p}}{2-p}\right)

    with its limits ``p = 0``: ``(y - mu)^2``; ``p = 1``: ``2 (y log(y/mu) - y + mu)``
    (``2 mu`` at ``y = 0``); ``p = 2``: ``2 (log(mu/y) + y/mu - 1)``. ``mu`` is pred, or
    ``exp(pred)`` with ``log_input=True``. ``power`` is 0 or at least 1 (a value in (0, 1) is
    a LossInputError; scikit-learn also allows negative powers, this does not); the default
    1.5 is XGBoost's and LightGBM's ``tweedie_variance_power`` (scikit-learn's default is 0).
    Targets: any real number for ``p = 0``, ``>= 0`` for ``1 <= p < 2``, ``> 0`` for
    ``p >= 2``. Derivatives in mu: ``grad = 2 (mu - y) mu^-p``,
    ``hess = 2 mu^(-p-1) ((1-p) mu + p y)``; in ``eta = log mu``:
    ``grad = 2 (mu - y) mu^(1-p)``, ``hess = 2 mu^(1-p) ((2-p) mu + (p-1) y)``.
    """

    #: the power of a subclass that fixes it (poisson_deviance, gamma_deviance); None: a param
    fixed_power: ClassVar[float | None] = None

    spec = LossSpec(
        name="tweedie_deviance",
        family="deviance",
        summary="Tweedie unit deviance: the GLM and boosting loss for a mean with variance mu^p "
        "(counts, claims, skewed positive amounts).",
        pred_domain="positive",
        target_domain="nonnegative",
        properties=Properties(convex=False, robust=False, smoothness="Cinf"),
        formula=r"\ell(\mu, y) = 2\left(\frac{y^{2-p}}{(1-p)(2-p)} - \frac{y\,\mu^{1-p}}{1-p}"
        r" + \frac{\mu^{2-p}}{2-p}\right)",
        references=(MCCULLAGH_NELDER_1989, JORGENSEN_1997, ZHOU_2022),
        params=(
            Param(
                "power",
                1.5,
                "variance power p: 0 normal, 1 Poisson, (1, 2) compound Poisson-gamma, 2 "
                "gamma, 3 inverse Gaussian (no Tweedie distribution has a power in (0, 1))",
                low=0.0,
                excluded=(0.0, 1.0),
            ),
            Param("log_input", False, "pred is the log of the mean (the log link)", kind="bool"),
        ),
        aliases=("mean_tweedie_deviance", "tweedie", "tweedie_loss", "TweedieLoss"),
        framework_names={
            "sklearn": "sklearn.metrics.mean_tweedie_deviance, "
            "sklearn.linear_model.TweedieRegressor (power)",
            "xgboost": "objective='reg:tweedie' (tweedie_variance_power; log_input=True, "
            "half the deviance)",
            "lightgbm": "objective='tweedie' (tweedie_variance_power; log_input=True; half the "
            "deviance)",
            "catboost": "loss_function='Tweedie:variance_power=p' (log_input=True)",
        },
        derivative_notes="in mu: grad = 2 (mu - y) mu^-p, hess = 2 mu^(-p-1) ((1-p) mu + p y); "
        "log_input (eta = log mu): grad = 2 (mu - y) mu^(1-p) (mu - y as y expm1(eta - log y) "
        "near the fit), hess = 2 mu^(1-p) ((2-p) mu + (p-1) y).",
        when_to_use="Non-negative targets whose variance grows like a power of the mean: "
        "insurance claims and other zero-inflated amounts (1 < p < 2), counts (p = 1), "
        "positive skewed amounts (p = 2, 3); fit on the log link (log_input=True).",
        showcase=({"power": 1.2}, {"power": 1.5}, {"power": 1.8}),
        variants=(
            Variant({"power": 0.0}, domains={"pred": "real", "target": "real"}),
            Variant({"log_input": True}, domains={"pred": "real"}),
            Variant(lambda p: p["power"] >= 2, domains={"target": "positive"}, note="power >= 2"),
            Variant(
                lambda p: _convex(p["power"], p["log_input"]),
                properties={"convex": True},
                note="power 0 or 1 on the mean; 1 <= power <= 2 on the log-mean (log_input)",
            ),
        ),
        probe=_probe,
        boosting=BoostingHessian(
            "surrogate",
            r"h = 2\mu^{1-p}\left((2-p)\mu + (p-1)y\right)\ (1 \le p \le 2),\quad "
            r"h = \max\left(2\mu^{1-p}((2-p)\mu + (p-1)y),\ 2\mu^{2-p}\right)\ "
            r"\text{otherwise},\ \mu = e^{\eta}",
            "On the log link (log_input=True) the second derivative is positive for "
            "1 <= p <= 2 and used as it is. For p > 2 (and p = 0) it is negative where mu is "
            "well above (below) the target, so there it is raised to the Fisher information "
            "2 mu^(2-p) (its expectation at the fitted mean), a Fisher-scoring step. "
            "XGBoost's reg:tweedie and reg:gamma and LightGBM's tweedie and gamma "
            "differentiate the negative log-likelihood on the log link, whose gradient and "
            "Hessian are half of the deviance's (tweedie: grad = -y mu^(1-p) + mu^(2-p), "
            "hess = -(1-p) y mu^(1-p) + (2-p) mu^(2-p); gamma: grad = 1 - y/mu, hess = y/mu): "
            "to reproduce them double lambda, gamma and min_child_weight "
            "(min_sum_hessian_in_leaf).",
            (MCCULLAGH_NELDER_1989, XGBOOST_2016),
        ),
    )

    # ---- parameters ---------------------------------------------------------------------------
    def _p(self, power: float | None) -> float:
        return float(self.fixed_power if power is None else power)

    # ---- shared pieces ------------------------------------------------------------------------
    def _pieces(self, xp: Any, pred: Any, target: Any, p: float, log_input: bool) -> dict:
        """Sanitised inputs (finite, positive) and the powers of mu and y, for p >= 1 or a
        log-mean: pos (y > 0), y (1 where not pos), d = log(mu) - log(y), P = mu^b,
        Q = y mu^a, Y = y^b, and the masks of infinite inputs."""
        a, b = 1.0 - p, 2.0 - p
        one = const(xp, 1.0, pred)
        pos = target > 0
        y = xp.where(pos, target, one)
        # each branch sees its own rows only (a zero target's row computes the positive-target
        # forms at mu = y = 1), so that no untaken branch puts 0 * inf into a gradient
        if log_input:
            finite = xp.isfinite(pred)
            eta = xp.where(finite & pos, pred, xp.log(y))
            eta0 = xp.where(finite & ~pos, pred, const(xp, 0.0, pred))
            d = eta - xp.log(y)
            P = one if b == 0 else xp.exp(b * eta)
            Q = y if a == 0 else y * xp.exp(a * eta)
            P0 = one if b == 0 else xp.exp(b * eta0)
        else:
            fine = (pred > 0) & (pred < math.inf)
            mu = xp.where(fine & pos, pred, y)
            mu0 = xp.where(fine & ~pos, pred, one)
            info = xp.finfo(pred.dtype)
            ratio = mu / y
            close = (ratio >= 0.5) & (ratio <= 2.0)
            normal = (ratio > 4.0 * info.smallest_normal) & (ratio < 0.25 * info.max)
            diff = where0(xp, close, mu - y) / y
            logged = xp.log(xp.where(normal & ~close, ratio, one))
            apart = xp.log(mu) - xp.log(y)
            d = xp.where(close, xp.log1p(diff), xp.where(normal, logged, apart))
            P = one if b == 0 else xp.pow(mu, const(xp, b, mu))
            Q = y if a == 0 else y * xp.pow(mu, const(xp, a, mu))
            P0 = one if b == 0 else xp.pow(mu0, const(xp, b, mu0))
        Y = one if b == 0 else (y if b == 1 else xp.pow(y, const(xp, b, y)))
        return {"pos": pos, "y": y, "d": d, "P": P, "Q": Q, "Y": Y, "P0": P0}

    # ---- the value ----------------------------------------------------------------------------
    def _value(
        self, xp: Any, pred: Any, target: Any, *, log_input: bool, power: float | None = None
    ) -> Any:
        p = self._p(power)
        if p == 0:
            return self._value_normal(xp, pred, target, log_input)
        a, b = 1.0 - p, 2.0 - p
        m = max(abs(a), abs(b))
        q = self._pieces(xp, pred, target, p, log_input)
        d, Y = q["d"], q["Y"]
        above = (d >= -NEAR / m) & (d <= (NEAR_ABOVE if p > 2 else NEAR) / m)
        near = above
        dn = where0(xp, near, d)
        series = 2.0 * Y * (dn * dn) * _horner(dn, _coefficients(p))
        df = xp.where(near, const(xp, 3.0 / m, d), d)
        if p > 2:
            positive = df > 0
            alpha, beta = p - 1.0, p - 2.0
            dg = xp.where(positive, df, const(xp, 1.0, df))
            e = xp.exp(-beta * dg)
            g = (-xp.expm1(-beta * dg)) - beta * e * (-xp.expm1(-dg))
            upper = (2.0 / (alpha * beta)) * Y * g
            dt = xp.where(positive, const(xp, -1.0, df), df)
            below = self._factored(xp, q, dt, a, b)
            # far below the target y mu^a (the largest term) overflows first: inf - inf there
            below = xp.where(xp.isinf(q["Q"]), q["Q"], below)
            far = xp.where(positive, upper, below)
        else:
            far = self._factored(xp, q, df, a, b)
        value = xp.where(near, series, far)
        if p < 2:  # a zero target: 2 mu^b / b
            value = xp.where(q["pos"], value, (2.0 / b) * q["P0"])
        return self._limits(xp, pred, target, value, p, log_input)

    def _factored(self, xp: Any, q: dict, d: Any, a: float, b: float) -> Any:
        """2 (T_b - T_a), T_c = y^b h(c d) / c, each from its own branch of c d."""
        total = 0.0 * d
        for c, sign, E in ((b, 1.0, q["P"]), (a, -1.0, q["Q"])):
            if c == 0:
                continue
            Y = q["Y"]
            x = c * d
            mid = (x >= -H_SPLIT) & (x <= H_SPLIT)
            hi, lo = x > H_SPLIT, x < -H_SPLIT
            t_mid = Y * _h(xp, where0(xp, mid, x))
            # where mu^c overflows the value is infinite: its slope then comes from E alone
            # (the linear term's would be an infinity of the other sign, from 1/mu)
            t_hi = E - Y * (1.0 + xp.where(hi & xp.isfinite(E), x, const(xp, 3.0, x)))
            t_lo = Y * (-xp.where(lo, x, const(xp, -3.0, x)) - 1.0) + E
            t = xp.where(mid, t_mid, xp.where(hi, t_hi, t_lo))
            total = total + (sign / c) * t
        return 2.0 * total

    def _limits(self, xp: Any, pred: Any, target: Any, value: Any, p: float, log_input: bool):
        """The value at an infinite pred (or a mean of 0), written so that autodiff gives the
        limit of the slope there; NaN stays NaN."""
        a, b = 1.0 - p, 2.0 - p
        pos = target > 0
        up = pred == math.inf
        down = pred == -math.inf if log_input else pred == 0
        z = const(xp, 0.0, pred)
        if log_input:
            at_up = xp.where(up, pred, z)
            if p < 2:
                high = (2.0 / b) * xp.exp(b * at_up)
            elif p == 2:
                high = 2.0 * at_up
            else:
                high = (2.0 / ((p - 1.0) * (p - 2.0))) * xp.pow(
                    xp.where(pos, target, const(xp, 1.0, target)), const(xp, b, target)
                ) + 0.0 * at_up
            at_down = xp.where(down & pos, pred, z)
            at_down0 = xp.where(down & ~pos, pred, z)
            y = xp.where(pos, target, const(xp, 1.0, target))
            low_pos = -2.0 * y * at_down if p == 1 else (-2.0 / a) * y * xp.exp(a * at_down)
            low_zero = (2.0 / b) * xp.exp(b * at_down0) if p < 2 else const(xp, math.inf, pred)
            low = xp.where(pos, low_pos, low_zero)
        else:
            at_up = xp.where(up, pred, const(xp, 1.0, pred))
            if p < 2:
                high = (2.0 / b) * xp.pow(at_up, const(xp, b, at_up))
            elif p == 2:
                high = 2.0 * xp.log(at_up)
            else:
                high = (2.0 / ((p - 1.0) * (p - 2.0))) * xp.pow(
                    xp.where(pos, target, const(xp, 1.0, target)), const(xp, b, target)
                ) + 0.0 * at_up
            low = xp.where(pos, const(xp, math.inf, pred), const(xp, 0.0, pred))
        value = xp.where(up, high, xp.where(down, low, value))
        return xp.where(xp.isnan(pred), pred, value)

    def _value_normal(self, xp: Any, pred: Any, target: Any, log_input: bool) -> Any:
        """p = 0: (y - mu)^2, mu - y as y expm1(eta - log y) near a positive target."""
        r = self._mu_minus_y(xp, pred, target) if log_input else pred - target
        return r * r

    def _mu_minus_y(self, xp: Any, pred: Any, target: Any) -> Any:
        """exp(pred) - y, as y expm1(pred - log y) where |pred - log y| < 1."""
        pos = target > 0
        y = xp.where(pos, target, const(xp, 1.0, target))
        gap = pred - xp.log(y)
        near = pos & (gap > -1.0) & (gap < 1.0)
        close = target * xp.expm1(where0(xp, near, gap))
        apart = xp.exp(xp.where(near, const(xp, 0.0, pred), pred)) - target
        return xp.where(near, close, apart)

    # ---- derivatives --------------------------------------------------------------------------
    def _grad(
        self, xp: Any, pred: Any, target: Any, *, log_input: bool, power: float | None = None
    ) -> Any:
        p = self._p(power)
        if log_input:
            return self._grad_log(xp, pred, target, p)
        if p == 0:
            return 2.0 * (pred - target)
        a = 1.0 - p
        up = pred == math.inf
        mu = xp.where((pred > 0) & ~up, pred, const(xp, 1.0, pred))
        g = 2.0 * ((mu - target) / mu)
        if a != 0:
            g = g * xp.pow(mu, const(xp, a, mu))
        g = xp.where(up, const(xp, 2.0 if p == 1 else 0.0, pred), g)
        return xp.where(pred <= 0, const(xp, -math.inf, pred), g)

    def _hess(
        self, xp: Any, pred: Any, target: Any, *, log_input: bool, power: float | None = None
    ) -> Any:
        p = self._p(power)
        if log_input:
            return self._hess_log(xp, pred, target, p, boosting=False)
        if p == 0:
            return 2.0 * xp.ones_like(pred)
        a = 1.0 - p
        up = pred == math.inf
        mu = xp.where((pred > 0) & ~up, pred, const(xp, 1.0, pred))
        scale = 2.0 * xp.ones_like(mu) if a == 0 else 2.0 * xp.pow(mu, const(xp, a, mu))
        h = (scale * (a + p * (target / mu))) / mu
        h = xp.where(up, const(xp, 0.0, pred), h)
        return xp.where(pred <= 0, const(xp, math.inf, pred), h)

    def _log_terms(self, xp: Any, pred: Any, target: Any, p: float) -> dict:
        """On the log-mean: P = mu^b, Q = y mu^a, diff = mu^a (mu - y) (from y expm1(eta -
        log y) near the fit, P - Q elsewhere), below (mu < y), and the infinite inputs."""
        a, b = 1.0 - p, 2.0 - p
        up, down = pred == math.inf, pred == -math.inf
        eta = xp.where(xp.isfinite(pred), pred, const(xp, 0.0, pred))
        one = const(xp, 1.0, pred)
        pos = target > 0
        y = xp.where(pos, target, one)
        gap = eta - xp.log(y)
        near = pos & (gap > -1.0) & (gap < 1.0)
        P = one if b == 0 else xp.exp(b * eta)
        mu_a = one if a == 0 else xp.exp(a * eta)
        Q = target * where0(xp, target != 0, mu_a)  # 0 at y = 0 even where mu^a overflows
        close = Q * xp.expm1(where0(xp, near, gap))
        diff = xp.where(near, close, P - Q)
        below = pos & (gap < 0)
        return {"P": P, "Q": Q, "mu_a": mu_a, "eta": eta, "diff": diff, "below": below,
                "up": up, "down": down, "pos": pos}  # fmt: skip

    def _grad_log(self, xp: Any, pred: Any, target: Any, p: float) -> Any:
        t = self._log_terms(xp, pred, target, p)
        g = 2.0 * t["diff"]
        high = math.inf if p < 2 else (2.0 if p == 2 else 0.0)
        if p == 0:
            low = const(xp, 0.0, pred)
        elif p == 1:
            low = -2.0 * target
        else:
            low = xp.where(t["pos"], const(xp, -math.inf, pred), const(xp, 0.0, pred))
        return xp.where(t["up"], const(xp, high, pred), xp.where(t["down"], low, g))

    def _hess_log(self, xp: Any, pred: Any, target: Any, p: float, boosting: bool) -> Any:
        b = 2.0 - p
        t = self._log_terms(xp, pred, target, p)
        P, Q = t["P"], t["Q"]
        # 2 mu^a (b mu + (p - 1) y) below the target (mu^a may overflow, mu does not), and
        # 2 (b mu^b + (p - 1) y mu^a) above it (mu^b may overflow, y mu^a does not)
        mu = xp.exp(xp.where(t["below"] | (p == 0), t["eta"], const(xp, 0.0, pred)))
        low_form = 2.0 * t["mu_a"] * (b * mu + (p - 1.0) * target)
        high_form = 2.0 * (b * P + (p - 1.0) * Q)
        h = xp.where(t["below"] | (p == 0), low_form, high_form)
        if boosting and not 1.0 <= p <= 2.0:
            # max(exact, Fisher 2 mu^b): exact - Fisher = 2 (p - 1) mu^a (y - mu)
            h = 2.0 * (P + xp.maximum((1.0 - p) * t["diff"], const(xp, 0.0, pred)))
        high = math.inf if p < 2 else 0.0
        if p in (0.0, 1.0):
            low = const(xp, 0.0, pred)
        else:
            low = xp.where(t["pos"], const(xp, math.inf, pred), const(xp, 0.0, pred))
        return xp.where(t["up"], const(xp, high, pred), xp.where(t["down"], low, h))

    def _boosting_hess(
        self, xp: Any, pred: Any, target: Any, *, log_input: bool, power: float | None = None
    ) -> Any:
        return self._hess_log(xp, pred, target, self._p(power), boosting=True)


class PoissonDeviance(TweedieDeviance):
    r"""Poisson unit deviance (scikit-learn's ``mean_poisson_deviance`` per element): the
    Tweedie deviance of power 1.

    .. math:: \ell(\mu, y) = 2\left(y \log\frac{y}{\mu} - y + \mu\right)

    (``2 mu`` at ``y = 0``); ``mu`` is pred, or ``exp(pred)`` with ``log_input=True``.
    ``grad = 2 (1 - y/mu)`` and ``hess = 2 y / mu^2`` in mu; ``grad = 2 (mu - y)`` and
    ``hess = 2 mu`` in ``log mu``.
    """

    fixed_power = 1.0
    spec = LossSpec(
        name="poisson_deviance",
        family="deviance",
        summary="Poisson unit deviance: twice the Poisson log-likelihood ratio, 0 at the fit.",
        pred_domain="positive",
        target_domain="nonnegative",
        properties=Properties(convex=True, robust=False, smoothness="Cinf"),
        formula=r"\ell(\mu, y) = 2\left(y \log\frac{y}{\mu} - y + \mu\right)",
        references=(MCCULLAGH_NELDER_1989,),
        params=(
            Param("log_input", False, "pred is the log of the mean (the log link)", kind="bool"),
        ),
        aliases=("mean_poisson_deviance", "poisson_deviance_loss"),
        framework_names={
            "sklearn": "sklearn.metrics.mean_poisson_deviance, "
            "sklearn.linear_model.PoissonRegressor",
            "xgboost": "objective='count:poisson' (log_input=True; half the deviance)",
            "lightgbm": "objective='poisson' (log_input=True; half the deviance)",
        },
        derivative_notes="in mu: grad = 2 (1 - y/mu), hess = 2 y / mu^2; log_input: "
        "grad = 2 (mu - y) (as 2 y expm1(eta - log y) near the fit), hess = 2 mu.",
        when_to_use="Counts and rates, as a loss that is 0 at a perfect fit (unlike "
        "poisson_nll); the metric of Poisson GLMs and boosted count models.",
        showcase=({"log_input": False}, {"log_input": True}),
        variants=(Variant({"log_input": True}, domains={"pred": "real"}),),
        probe=_probe,
        boosting=BoostingHessian(references=(MCCULLAGH_NELDER_1989,)),
    )


class GammaDeviance(PoissonDeviance):
    r"""Gamma unit deviance (scikit-learn's ``mean_gamma_deviance`` per element): the Tweedie
    deviance of power 2.

    .. math:: \ell(\mu, y) = 2\left(\log\frac{\mu}{y} + \frac{y}{\mu} - 1\right)

    Targets are positive; ``mu`` is pred, or ``exp(pred)`` with ``log_input=True``.
    ``grad = 2 (mu - y) / mu^2`` and ``hess = 2 (2 y - mu) / mu^3`` in mu;
    ``grad = 2 (1 - y/mu)`` and ``hess = 2 y / mu`` in ``log mu``.
    """

    fixed_power = 2.0
    spec = LossSpec(
        name="gamma_deviance",
        family="deviance",
        summary="Gamma unit deviance: a scale-free loss for positive, skewed amounts.",
        pred_domain="positive",
        target_domain="positive",
        properties=Properties(convex=False, robust=False, smoothness="Cinf"),
        formula=r"\ell(\mu, y) = 2\left(\log\frac{\mu}{y} + \frac{y}{\mu} - 1\right)",
        references=(MCCULLAGH_NELDER_1989,),
        params=(
            Param("log_input", False, "pred is the log of the mean (the log link)", kind="bool"),
        ),
        aliases=("mean_gamma_deviance", "gamma_deviance_loss"),
        framework_names={
            "sklearn": "sklearn.metrics.mean_gamma_deviance, sklearn.linear_model.GammaRegressor",
            "xgboost": "objective='reg:gamma' (log_input=True; half the deviance)",
            "lightgbm": "objective='gamma' (log_input=True; half the deviance)",
        },
        derivative_notes="in mu: grad = 2 (mu - y) / mu^2, hess = 2 (2 y - mu) / mu^3; "
        "log_input: grad = 2 (1 - y/mu) (as -2 expm1(log y - eta)), hess = 2 y / mu.",
        when_to_use="Positive amounts whose spread grows with their size (costs, durations, "
        "claim severities): an error of 10% costs the same at every scale.",
        showcase=({"log_input": False}, {"log_input": True}),
        variants=(
            Variant({"log_input": True}, domains={"pred": "real"}, properties={"convex": True}),
        ),
        probe=_probe,
        boosting=BoostingHessian(references=(MCCULLAGH_NELDER_1989,)),
    )


tweedie_deviance = register(TweedieDeviance())
poisson_deviance = register(PoissonDeviance())
gamma_deviance = register(GammaDeviance())

__all__ = ["gamma_deviance", "poisson_deviance", "tweedie_deviance"]
