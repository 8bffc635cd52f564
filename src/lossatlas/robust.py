"""Robust (M-estimator) losses of the residual ``r = pred - target``, elementwise.

Bounded-influence and redescending losses of robust statistics and computer vision:
truncated squared error, Cauchy (Lorentzian), Geman-McClure, Welsch, Tukey's biweight and
Fair. ``cauchy``, ``geman_mcclure`` and ``welsch`` use the normalisation of Barron (2019),
``rho(r, alpha, c)``, which is about ``(r/c)^2 / 2`` near 0 for every shape: they are its
cases ``alpha = 0``, ``-2`` and ``-inf`` exactly.

The boosting Hessian of a redescending loss is its iteratively reweighted least-squares
(IRLS) weight ``psi(r) / r`` (the first derivative over the residual): positive, at least the
second derivative, and the curvature of the sharpest quadratic that majorises the loss at r,
so each boosting round is an IRLS step whose leaf value is the weighted mean of the residuals.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np

from ._loss import ElementwiseLoss
from ._registry import register
from ._spec import (
    LIGHTGBM_2017,
    SHARP_MAJORIZATION,
    BoostingHessian,
    LossSpec,
    Param,
    Properties,
    Variant,
)
from ._xp import LOG2, abs_, const, where0
from .regression import PseudoHuber

BARRON_2019 = (
    "Barron, J. T. (2019). A General and Adaptive Robust Loss Function. CVPR. arXiv:1701.03077."
)
HOLLAND_WELSCH_1977 = (
    "Holland, P. W., Welsch, R. E. (1977). Robust regression using iteratively reweighted "
    "least-squares. Communications in Statistics - Theory and Methods 6(9), 813-827."
)
IRLS_NOTE = (
    "The second derivative is negative for large residuals (the loss is not convex), so a "
    "Newton step would move away from the fit. The IRLS weight psi(r)/r is positive, at "
    "least the second derivative, and the curvature of the sharpest quadratic that "
    "majorises the loss at r: each round is an iteratively reweighted least-squares step, in "
    "which outliers get little weight."
)


def _c2_minus_k_r2(xp: Any, pred: Any, target: Any, keep: Any, c: float, k: float) -> Any:
    """``c^2 - k r^2``, ``r = pred - target``, where ``keep`` (else ``c^2``), for k in
    {0.5, 1, 5}, to about an ulp even where the two terms cancel (a root of the second
    derivative): the rounding error of r is carried (two-sum), r is split into a head of 25
    bits (10 in float32) and a tail, so ``k * head^2`` is exact, and ``c^2`` is a double-word
    constant."""
    a, b = where0(xp, keep, pred), where0(xp, keep, -target)
    r = a + b
    b_part = r - a
    err = (a - (r - b_part)) + (b - b_part)  # r + err == a + b exactly
    wide = r.dtype == xp.float64
    t = (2.0**28 + 1.0 if wide else 2.0**14 + 1.0) * r
    head = t - (t - r)
    tail = r - head
    exact = Fraction(c) ** 2
    hi = float(exact) if wide else float(np.float32(float(exact)))
    lo = float(exact - Fraction(hi))
    small = tail * (2.0 * head + tail) + 2.0 * r * err
    return (hi - k * (head * head)) + (lo - k * small)


def _scale_param(default: float, doc: str) -> Param:
    return Param("c", default, doc, low=0.0, low_inclusive=False)


class TruncatedSquared(ElementwiseLoss):
    r"""Truncated squared error: ``min(r**2, threshold**2)``.

    .. math:: \ell(r) = \min(r^2, \tau^2)

    The squared error of residuals below ``threshold`` and a constant beyond: an outlier adds
    a fixed cost and no gradient. ``grad = 2 r`` for ``|r| < threshold``, else 0 (0 at
    ``|r| = threshold``, a point of the subdifferential's hull); ``hess = 2`` inside, else 0.
    """

    spec = LossSpec(
        name="truncated_squared",
        family="robust",
        summary="Truncated squared error: squared error capped at threshold^2.",
        pred_domain="real",
        target_domain="real",
        properties=Properties(
            convex=False, robust=True, smoothness="C0", bounded=True, redescending=True
        ),
        formula=r"\ell(r) = \min(r^2, \tau^2)",
        references=(
            "Blake, A., Zisserman, A. (1987). Visual Reconstruction. MIT Press.",
            "Black, M. J., Rangarajan, A. (1996). On the unification of line processes, "
            "outlier rejection, and robust statistics with applications in early vision. "
            "IJCV 19(1), 57-91.",
        ),
        params=(
            Param(
                "threshold",
                1.0,
                "residual size beyond which the loss is constant",
                low=0.0,
                low_inclusive=False,
            ),
        ),
        aliases=("truncated_quadratic", "truncated_l2", "capped_squared_error"),
        derivative_notes="grad = 2 r where |r| < threshold, else 0; hess = 2 inside, else 0.",
        kinks=lambda p: (-p["threshold"], p["threshold"]),
        when_to_use="Fits where a known fraction of gross outliers must be ignored entirely "
        "(RANSAC-like scoring, line processes); non-convex, so start near a good fit.",
        showcase=({"threshold": 0.5}, {"threshold": 1.0}, {"threshold": 2.0}),
        boosting=BoostingHessian(
            "surrogate",
            r"h = 2",
            "The second derivative is 0 beyond the threshold, where the gradient is 0 too. "
            "The quadratic part's curvature, 2, is kept everywhere: a leaf of outliers then "
            "stays put instead of dividing 0 by 0, and inliers get full Newton steps.",
        ),
    )

    def _value(self, xp: Any, pred: Any, target: Any, *, threshold: float) -> Any:
        r = pred - target
        outside = abs_(xp, r) >= threshold  # NaN stays on the computed branch
        r_in = where0(xp, ~outside, r)
        return xp.where(outside, const(xp, threshold * threshold, r), r_in * r_in)

    def _grad(self, xp: Any, pred: Any, target: Any, *, threshold: float) -> Any:
        r = pred - target
        return xp.where(abs_(xp, r) >= threshold, const(xp, 0.0, r), 2.0 * r)

    def _hess(self, xp: Any, pred: Any, target: Any, *, threshold: float) -> Any:
        r = pred - target
        return 2.0 * xp.astype(abs_(xp, r) < threshold, pred.dtype)

    def _boosting_hess(self, xp: Any, pred: Any, target: Any, *, threshold: float) -> Any:
        return 2.0 * xp.ones_like(pred)


# ---- Cauchy ------------------------------------------------------------------------------------
CAUCHY_FAR = 1024.0  # |r/c| beyond which the log is taken of |z| and (1 + 2/z^2) apart


class Cauchy(ElementwiseLoss):
    r"""Cauchy (Lorentzian) loss in Barron's normalisation: ``log(1 + (r/c)**2 / 2)``.

    .. math:: \ell(r) = \log\!\left(1 + \tfrac12 (r/c)^2\right)

    Barron's ``rho(r, alpha=0, c)``; the classical ``(c^2/2) log(1 + (r/c)^2)`` is
    ``c'^2 cauchy(c')`` with ``c' = c / sqrt(2)``. With ``z = r/c``:
    ``grad = z / (c (1 + z^2/2))``, ``hess = (1 - z^2/2) / (c^2 (1 + z^2/2)^2)``. Beyond
    ``|z| = 1024`` it is computed as ``2 log|z| - log 2 + log1p(2/z^2)`` (finite for any
    finite residual) and the derivatives in powers of ``1/z``.
    """

    spec = LossSpec(
        name="cauchy",
        family="robust",
        summary="Cauchy (Lorentzian) loss: logarithmic growth, a redescending gradient.",
        pred_domain="real",
        target_domain="real",
        properties=Properties(convex=False, robust=True, smoothness="Cinf", redescending=True),
        formula=r"\ell(r) = \log\!\left(1 + \tfrac12 (r/c)^2\right)",
        references=(
            BARRON_2019,
            "Black, M. J., Anandan, P. (1996). The robust estimation of multiple motions: "
            "parametric and piecewise-smooth flow fields. CVIU 63(1), 75-104.",
        ),
        params=(_scale_param(1.0, "scale: the residual where the loss turns logarithmic"),),
        aliases=("lorentzian", "cauchy_loss", "lorentzian_loss"),
        framework_names={"kornia": "kornia.losses.cauchy_loss (c = 1)"},
        derivative_notes="z = r/c: grad = z / (c (1 + z^2/2)), "
        "hess = (1 - z^2/2) / (c^2 (1 + z^2/2)^2).",
        when_to_use="Heavy-tailed noise (Cauchy-distributed errors); more outlier-resistant "
        "than Huber, still unbounded, so an outlier's cost keeps growing slowly.",
        showcase=({"c": 0.5}, {"c": 1.0}, {"c": 2.0}),
        boosting=BoostingHessian(
            "surrogate",
            r"h = \frac{1}{c^2 + r^2/2}",
            IRLS_NOTE,
            (HOLLAND_WELSCH_1977, SHARP_MAJORIZATION),
        ),
    )

    def _parts(self, xp: Any, pred: Any, target: Any, c: float) -> tuple[Any, Any, Any, Any]:
        """(far, z where near (else 0), |z| where far (else 2), 1/z where far (else 0))."""
        z = (pred - target) / c
        a = abs_(xp, z)
        far = a > CAUCHY_FAR
        z_near = where0(xp, ~far, z)
        a_far = xp.where(far, a, const(xp, 2.0, a))
        s = where0(xp, far, 1.0 / xp.where(far, z, const(xp, 2.0, z)))
        return far, z_near, a_far, s

    def _value(self, xp: Any, pred: Any, target: Any, *, c: float) -> Any:
        far, z, a, s = self._parts(xp, pred, target, c)
        near = xp.log1p(0.5 * z * z)
        big = 2.0 * xp.log(a) - LOG2 + xp.log1p(2.0 * s * s)
        return xp.where(far, big, near)

    def _grad(self, xp: Any, pred: Any, target: Any, *, c: float) -> Any:
        far, z, _, s = self._parts(xp, pred, target, c)
        near = z / (1.0 + 0.5 * z * z)
        big = 2.0 * s / (1.0 + 2.0 * s * s)
        return xp.where(far, big, near) / c

    def _hess(self, xp: Any, pred: Any, target: Any, *, c: float) -> Any:
        far, z, _, s = self._parts(xp, pred, target, c)
        q = 1.0 / (1.0 + 0.5 * z * z)
        # 1 - z^2/2 = (c^2 - r^2/2) / c^2, compensated: it cancels near |z| = sqrt(2)
        near = (_c2_minus_k_r2(xp, pred, target, ~far, c, 0.5) / (c * c)) * q * q
        ss = s * s
        p = 1.0 / (1.0 + 2.0 * ss)
        big = 2.0 * ss * (2.0 * ss - 1.0) * p * p
        return xp.where(far, big, near) / (c * c)

    def _boosting_hess(self, xp: Any, pred: Any, target: Any, *, c: float) -> Any:
        far, z, _, s = self._parts(xp, pred, target, c)
        ss = s * s
        weight = xp.where(far, 2.0 * ss / (1.0 + 2.0 * ss), 1.0 / (1.0 + 0.5 * z * z))
        return weight / (c * c)


# ---- Geman-McClure -----------------------------------------------------------------------------
class GemanMcClure(ElementwiseLoss):
    r"""Geman-McClure loss in Barron's normalisation: ``2 z**2 / (z**2 + 4)``, ``z = r/c``.

    .. math:: \ell(r) = \frac{2 (r/c)^2}{(r/c)^2 + 4}

    Barron's ``rho(r, alpha=-2, c)``: about ``z^2/2`` near 0, bounded by 2. (Geman and
    McClure's ``r^2 / (r^2 + sigma^2)`` is ``geman_mcclure(c = sigma / 2) / 2``.)
    ``grad = 16 z / (c (z^2 + 4)^2)``, ``hess = 16 (4 - 3 z^2) / (c^2 (z^2 + 4)^3)``; for
    ``|z| > 1`` all three are computed in powers of ``1/z`` (no overflow).
    """

    spec = LossSpec(
        name="geman_mcclure",
        family="robust",
        summary="Geman-McClure loss: bounded and redescending, quadratic near the fit.",
        pred_domain="real",
        target_domain="real",
        properties=Properties(
            convex=False, robust=True, smoothness="Cinf", bounded=True, redescending=True
        ),
        formula=r"\ell(r) = \frac{2 (r/c)^2}{(r/c)^2 + 4}",
        references=(
            BARRON_2019,
            "Geman, S., McClure, D. E. (1987). Statistical methods for tomographic image "
            "reconstruction. Bulletin of the International Statistical Institute 52(4), 5-21.",
        ),
        params=(_scale_param(1.0, "scale: residuals beyond about 2c are down-weighted"),),
        aliases=("geman_mcclure_loss", "gemanmcclure"),
        framework_names={"kornia": "kornia.losses.geman_mcclure_loss (c = 1)"},
        derivative_notes="z = r/c: grad = 16 z / (c (z^2 + 4)^2), "
        "hess = 16 (4 - 3 z^2) / (c^2 (z^2 + 4)^3).",
        when_to_use="Registration and structure from motion with gross outliers, usually "
        "with graduated non-convexity (start with a large c).",
        showcase=({"c": 0.5}, {"c": 1.0}, {"c": 2.0}),
        boosting=BoostingHessian(
            "surrogate",
            r"h = \frac{16}{c^2 (z^2 + 4)^2},\ z = r/c",
            IRLS_NOTE,
            (HOLLAND_WELSCH_1977, SHARP_MAJORIZATION),
        ),
    )

    def _parts(self, xp: Any, pred: Any, target: Any, c: float) -> tuple[Any, Any, Any]:
        """(far: |z| > 1, z where near (else 0), 1/z where far (else 0))."""
        z = (pred - target) / c
        far = abs_(xp, z) > 1.0
        z_near = where0(xp, ~far, z)
        s = where0(xp, far, 1.0 / xp.where(far, z, const(xp, 2.0, z)))
        return far, z_near, s

    def _value(self, xp: Any, pred: Any, target: Any, *, c: float) -> Any:
        far, z, s = self._parts(xp, pred, target, c)
        zz = z * z
        return xp.where(far, 2.0 / (1.0 + 4.0 * s * s), 2.0 * zz / (zz + 4.0))

    def _grad(self, xp: Any, pred: Any, target: Any, *, c: float) -> Any:
        far, z, s = self._parts(xp, pred, target, c)
        q = 1.0 / (z * z + 4.0)
        p = 1.0 / (1.0 + 4.0 * s * s)
        return xp.where(far, 16.0 * s * s * s * p * p, 16.0 * z * q * q) / c

    def _hess(self, xp: Any, pred: Any, target: Any, *, c: float) -> Any:
        far, z, s = self._parts(xp, pred, target, c)
        zz, ss = z * z, s * s
        q = 1.0 / (zz + 4.0)
        p = 1.0 / (1.0 + 4.0 * ss)
        near = 16.0 * (4.0 - 3.0 * zz) * q * q * q
        big = 16.0 * (4.0 * ss - 3.0) * ss * ss * p * p * p
        return xp.where(far, big, near) / (c * c)

    def _boosting_hess(self, xp: Any, pred: Any, target: Any, *, c: float) -> Any:
        far, z, s = self._parts(xp, pred, target, c)
        ss = s * s
        q = 1.0 / (z * z + 4.0)
        p = 1.0 / (1.0 + 4.0 * ss)
        return xp.where(far, 16.0 * ss * ss * p * p, 16.0 * q * q) / (c * c)


# ---- Welsch ------------------------------------------------------------------------------------
WELSCH_MID = 4.0  # |z| from which z exp(-z^2/2) is formed as exp(log|z| - z^2/2)
WELSCH_FAR = 64.0  # |z| beyond which exp(-z^2/2) is 0 in every dtype


class Welsch(ElementwiseLoss):
    r"""Welsch (Leclerc) loss in Barron's normalisation: ``1 - exp(-(r/c)**2 / 2)``.

    .. math:: \ell(r) = 1 - \exp\!\left(-\tfrac12 (r/c)^2\right)

    Barron's ``rho(r, alpha -> -inf, c)``: about ``z^2/2`` near 0, bounded by 1. (The
    classical ``(c^2/2)(1 - exp(-(r/c)^2))`` is ``c'^2 welsch(c')`` with
    ``c' = c / sqrt(2)``.) With ``z = r/c``: ``grad = z exp(-z^2/2) / c``,
    ``hess = (1 - z^2) exp(-z^2/2) / c^2``, formed from ``exp(log|z| - z^2/2)`` beyond
    ``|z| = 4`` so that results in the subnormal range are rounded once.
    """

    spec = LossSpec(
        name="welsch",
        family="robust",
        summary="Welsch (Leclerc) loss: a Gaussian well, bounded, with a fast-redescending "
        "gradient.",
        pred_domain="real",
        target_domain="real",
        properties=Properties(
            convex=False, robust=True, smoothness="Cinf", bounded=True, redescending=True
        ),
        formula=r"\ell(r) = 1 - \exp\!\left(-\tfrac12 (r/c)^2\right)",
        references=(
            BARRON_2019,
            "Dennis, J. E., Welsch, R. E. (1978). Techniques for nonlinear least squares and "
            "robust regression. Communications in Statistics - Simulation and Computation "
            "7(4), 345-359.",
            "Leclerc, Y. G. (1989). Constructing simple stable descriptions for image "
            "partitioning. IJCV 3(1), 73-102.",
        ),
        params=(_scale_param(1.0, "scale: the width of the Gaussian well"),),
        aliases=("welsch_loss", "leclerc", "correntropy_loss"),
        framework_names={"kornia": "kornia.losses.welsch_loss (c = 1)"},
        derivative_notes="z = r/c: grad = z exp(-z^2/2) / c, hess = (1 - z^2) exp(-z^2/2) / c^2.",
        when_to_use="Outliers that should be ignored almost completely (correntropy); the "
        "most aggressive redescender here, so it needs a good starting point.",
        showcase=({"c": 0.5}, {"c": 1.0}, {"c": 2.0}),
        boosting=BoostingHessian(
            "surrogate",
            r"h = \exp(-\tfrac12 (r/c)^2) / c^2",
            IRLS_NOTE,
            (HOLLAND_WELSCH_1977, SHARP_MAJORIZATION),
        ),
    )

    def _parts(self, xp: Any, pred: Any, target: Any, c: float) -> tuple[Any, ...]:
        """(z, mid: 4 <= |z| < 64, far: |z| >= 64, z where below 4 (else 0), |z| where mid
        (else 4))."""
        z = (pred - target) / c
        a = abs_(xp, z)
        far = a >= WELSCH_FAR
        mid = (a >= WELSCH_MID) & ~far
        z_near = where0(xp, ~(a >= WELSCH_MID), z)
        a_mid = xp.where(mid, a, const(xp, WELSCH_MID, a))
        return z, mid, far, z_near, a_mid

    def _value(self, xp: Any, pred: Any, target: Any, *, c: float) -> Any:
        z = (pred - target) / c
        far = abs_(xp, z) >= WELSCH_FAR
        z_in = where0(xp, ~far, z)
        return xp.where(far, const(xp, 1.0, z), -xp.expm1(-0.5 * z_in * z_in))

    def _grad(self, xp: Any, pred: Any, target: Any, *, c: float) -> Any:
        z, mid, far, zn, am = self._parts(xp, pred, target, c)
        near = zn * xp.exp(-0.5 * zn * zn)
        middle = xp.sign(z) * xp.exp(xp.log(am) - 0.5 * am * am)
        out = xp.where(mid, middle, near)
        return xp.where(far, const(xp, 0.0, z), out) / c

    def _hess(self, xp: Any, pred: Any, target: Any, *, c: float) -> Any:
        z, mid, far, zn, am = self._parts(xp, pred, target, c)
        near = (1.0 - zn * zn) * xp.exp(-0.5 * zn * zn)
        middle = -xp.exp(xp.log((am - 1.0) * (am + 1.0)) - 0.5 * am * am)
        out = xp.where(mid, middle, near)
        return xp.where(far, const(xp, 0.0, z), out) / (c * c)

    def _boosting_hess(self, xp: Any, pred: Any, target: Any, *, c: float) -> Any:
        z = (pred - target) / c
        far = abs_(xp, z) >= WELSCH_FAR
        z_in = where0(xp, ~far, z)
        return where0(xp, ~far, xp.exp(-0.5 * z_in * z_in)) / (c * c)


# ---- Tukey's biweight --------------------------------------------------------------------------
class TukeyBiweight(ElementwiseLoss):
    r"""Tukey's biweight (bisquare) loss: ``c**2/6 (1 - (1 - (r/c)**2)**3)`` inside ``|r| < c``,
    ``c**2/6`` beyond.

    .. math::
        \ell(r) = \begin{cases} \tfrac{c^2}{6}\left(1 - (1 - (r/c)^2)^3\right) & |r| < c \\
                                \tfrac{c^2}{6} & |r| \ge c \end{cases}

    The default ``c = 4.685`` gives 95% efficiency at the normal distribution. With
    ``u = (r/c)^2``: ``grad = r (1 - u)^2`` (the biweight psi), ``hess = (1 - u)(1 - 5u)``,
    both 0 beyond c. The second derivative is continuous at ``|r| = c`` (both sides 0) and
    the third jumps there: the loss is C2.
    """

    spec = LossSpec(
        name="tukey_biweight",
        family="robust",
        summary="Tukey's biweight (bisquare) loss: polynomial inside c, constant beyond.",
        pred_domain="real",
        target_domain="real",
        properties=Properties(
            convex=False, robust=True, smoothness="C2", bounded=True, redescending=True
        ),
        formula=r"\ell(r) = \begin{cases} \tfrac{c^2}{6}\left(1 - (1 - (r/c)^2)^3\right) "
        r"& |r| < c \\ \tfrac{c^2}{6} & |r| \ge c \end{cases}",
        references=(
            "Beaton, A. E., Tukey, J. W. (1974). The fitting of power series, meaning "
            "polynomials, illustrated on band-spectroscopic data. Technometrics 16(2), "
            "147-185.",
        ),
        params=(_scale_param(4.685, "residual beyond which the loss is constant"),),
        aliases=("tukey", "biweight", "bisquare", "tukey_loss", "TukeyBiweight"),
        framework_names={
            "statsmodels": "statsmodels.robust.norms.TukeyBiweight",
        },
        derivative_notes="u = (r/c)^2: grad = r (1 - u)^2 inside |r| < c, hess = "
        "(1 - u)(1 - 5u); both 0 beyond.",
        kinks=lambda p: (-p["c"], p["c"]),
        when_to_use="Robust regression (M-estimation after a robust start) where outliers "
        "beyond c must have no influence at all.",
        showcase=({"c": 2.0}, {"c": 4.685}),
        boosting=BoostingHessian(
            "surrogate",
            r"h = (1 - (r/c)^2)^2 \text{ for } |r| < c,\ 0 \text{ beyond (then the floor)}",
            IRLS_NOTE + " Beyond c the weight and the gradient are both 0.",
            (HOLLAND_WELSCH_1977, SHARP_MAJORIZATION),
        ),
    )

    def _parts(self, xp: Any, pred: Any, target: Any, c: float) -> tuple[Any, Any, Any]:
        """(r, outside: |r| >= c, u = (r/c)^2 where inside (else 0))."""
        r = pred - target
        outside = abs_(xp, r) >= c
        z = where0(xp, ~outside, r) / c
        return r, outside, z * z

    def _value(self, xp: Any, pred: Any, target: Any, *, c: float) -> Any:
        r, outside, u = self._parts(xp, pred, target, c)
        w = 1.0 - u
        # 1 - (1 - u)^3: as u (3 (1 - u) + u^2) for small u, as 1 - w^3 once w is small
        inner = xp.where(u < 0.5, u * (3.0 * w + u * u), 1.0 - w * w * w)
        return (c * c / 6.0) * xp.where(outside, const(xp, 1.0, r), inner)

    def _grad(self, xp: Any, pred: Any, target: Any, *, c: float) -> Any:
        r, outside, u = self._parts(xp, pred, target, c)
        w = 1.0 - u
        return xp.where(outside, const(xp, 0.0, r), r * w * w)

    def _hess(self, xp: Any, pred: Any, target: Any, *, c: float) -> Any:
        r, outside, _ = self._parts(xp, pred, target, c)
        # (1 - u)(1 - 5u) = (c^2 - r^2)(c^2 - 5 r^2) / c^4, compensated: the second factor
        # cancels near |r| = c / sqrt(5), the first near |r| = c
        first = _c2_minus_k_r2(xp, pred, target, ~outside, c, 1.0)
        second = _c2_minus_k_r2(xp, pred, target, ~outside, c, 5.0)
        return xp.where(outside, const(xp, 0.0, r), (first * second) * (1.0 / c**4))

    def _boosting_hess(self, xp: Any, pred: Any, target: Any, *, c: float) -> Any:
        r, outside, u = self._parts(xp, pred, target, c)
        w = 1.0 - u
        return xp.where(outside, const(xp, 0.0, r), w * w)


# ---- Fair --------------------------------------------------------------------------------------
FAIR_TERMS = 18  # t^2 <= 1/9 below |z| = 1: 18 terms of the series reach 1e-19


class Fair(ElementwiseLoss):
    r"""Fair loss (LightGBM's ``fair``): ``c**2 (|r|/c - log(1 + |r|/c))``.

    .. math:: \ell(r) = c^2\left(\frac{|r|}{c} - \log\!\left(1 + \frac{|r|}{c}\right)\right)

    About ``r^2/2`` near 0 and ``c |r|`` far away. ``grad = c r / (|r| + c)`` and
    ``hess = c^2 / (|r| + c)^2``, as LightGBM's ``fair`` objective computes them. Below
    ``|r| = c`` the value ``a - log1p(a)`` (``a = |r|/c``) is summed as
    ``2 t^2 / (1 - t) - 2 t^3 sum_k t^(2k) / (2k + 3)`` with ``t = a / (2 + a)`` (no
    cancellation near 0). Its third derivative jumps at 0: the loss is C2.
    """

    spec = LossSpec(
        name="fair",
        family="robust",
        summary="Fair loss: quadratic near 0, linear far away, with an exact positive Hessian.",
        pred_domain="real",
        target_domain="real",
        properties=Properties(convex=True, robust=True, smoothness="C2"),
        formula=r"\ell(r) = c^2\left(\tfrac{|r|}{c} - \log\left(1 + \tfrac{|r|}{c}\right)\right)",
        references=(
            "Fair, R. C. (1974). On the robust estimation of econometric models. Annals of "
            "Economic and Social Measurement 3(4), 667-677.",
            LIGHTGBM_2017,
        ),
        params=(_scale_param(1.0, "scale where the loss turns from quadratic to linear"),),
        aliases=("fair_loss", "FairLoss"),
        framework_names={"lightgbm": "objective='fair' (fair_c)"},
        derivative_notes="grad = c r / (|r| + c), hess = c^2 / (|r| + c)^2.",
        when_to_use="Gradient boosting with outliers: robust like Huber, with a Hessian that "
        "is positive everywhere.",
        showcase=({"c": 0.5}, {"c": 1.0}, {"c": 2.0}),
        kinks=lambda p: (0.0,),
        boosting=BoostingHessian(references=(LIGHTGBM_2017,)),
    )

    def _value(self, xp: Any, pred: Any, target: Any, *, c: float) -> Any:
        r = pred - target
        # |r| branch-wise: autodiff of this even function then has slope -1 or 1 at 0 and
        # gives the second derivative 1 there (abs_'s slope 0 would give 0)
        a = xp.where(r > 0, r, -r) / c
        big = a >= 1.0
        infinite = xp.isinf(a)
        a_near = where0(xp, ~big, a)
        t = a_near / (2.0 + a_near)
        q = t * t
        series = const(xp, 1.0 / (2 * FAIR_TERMS + 3), t)
        for k in range(FAIR_TERMS - 1, -1, -1):
            series = series * q + 1.0 / (2 * k + 3)
        near = 2.0 * q / (1.0 - t) - 2.0 * q * t * series
        a_far = xp.where(big & ~infinite, a, const(xp, 1.0, a))
        far = a_far - xp.log1p(a_far)
        out = xp.where(big, xp.where(infinite, a, far), near)  # at inf the asymptote a
        return (c * c) * out

    def _grad(self, xp: Any, pred: Any, target: Any, *, c: float) -> Any:
        r = pred - target
        a = abs_(xp, r) / c
        big = a >= 1.0
        near = r / (1.0 + where0(xp, ~big, a))
        a_far = xp.where(big, a, const(xp, 1.0, a))
        far = (c * xp.sign(r)) / (1.0 + 1.0 / a_far)
        return xp.where(big, far, near)

    def _hess(self, xp: Any, pred: Any, target: Any, *, c: float) -> Any:
        a = abs_(xp, pred - target) / c
        p = 1.0 / (1.0 + a)
        return p * p


# ---- Charbonnier ------------------------------------------------------------------------------
class Charbonnier(PseudoHuber):
    r"""Charbonnier loss: ``sqrt(r**2 + eps**2) - eps``, zero at the target.

    .. math:: \ell(r) = \sqrt{r^2 + \varepsilon^2} - \varepsilon

    A smooth L1: about ``r^2 / (2 eps)`` below ``eps`` and ``|r| - eps`` beyond. It is
    ``pseudo_huber(delta=eps) / eps`` and Barron's ``rho(r, alpha=1, eps) * eps``, computed
    with pseudo-Huber's kernels (no cancellation near 0, no overflow far out). The form of
    LapSRN and BasicSR, ``sqrt(r^2 + eps^2)`` (or ``sqrt(r^2 + eps)``), is this plus the constant
    ``eps``: the same gradient, so the same training. kornia's ``charbonnier_loss`` is
    ``eps = 1``. ``grad = r / sqrt(r^2 + eps^2)``, ``hess = eps^2 / (r^2 + eps^2)^(3/2)``.
    """

    spec = LossSpec(
        name="charbonnier",
        family="robust",
        summary="Charbonnier loss: a smooth L1, sqrt(r^2 + eps^2) - eps.",
        pred_domain="real",
        target_domain="real",
        properties=Properties(convex=True, robust=True, smoothness="Cinf"),
        formula=r"\ell(r) = \sqrt{r^2 + \varepsilon^2} - \varepsilon",
        references=(
            "Charbonnier, P., Blanc-Féraud, L., Aubert, G., Barlaud, M. (1994). Two "
            "deterministic half-quadratic regularization algorithms for computed imaging. "
            "ICIP.",
            "Lai, W.-S., Huang, J.-B., Ahuja, N., Yang, M.-H. (2017). Deep Laplacian Pyramid "
            "Networks for Fast and Accurate Super-Resolution. CVPR.",
            BARRON_2019,
        ),
        params=(
            Param(
                "eps",
                1e-3,
                "smoothing scale: quadratic below it, |r| - eps beyond",
                low=0.0,
                low_inclusive=False,
            ),
        ),
        aliases=("charbonnier_loss", "smooth_l1_charbonnier"),
        framework_names={"kornia": "kornia.losses.charbonnier_loss (eps = 1)"},
        derivative_notes="grad = r / sqrt(r^2 + eps^2), hess = eps^2 / (r^2 + eps^2)^(3/2).",
        when_to_use="Image restoration and optical flow: L1's robustness and sharp results "
        "with a gradient that is smooth at 0; eps sets how small a residual is treated as "
        "noise.",
        showcase=({"eps": 0.1}, {"eps": 0.5}, {"eps": 1.0}),
        boosting=BoostingHessian(
            "surrogate",
            r"h = \frac{1}{\sqrt{r^2 + \varepsilon^2}}",
            "The second derivative eps^2 / (r^2 + eps^2)^(3/2) falls like eps^2 / |r|^3, so at "
            "the default eps = 1e-3 a Newton step overshoots by (r / eps)^2. The IRLS weight "
            "psi(r)/r is at least the second derivative and the curvature of the sharpest "
            "quadratic that majorises the loss at r: each round is an iteratively reweighted "
            "least-squares step (L1-like, as Charbonnier is).",
            (HOLLAND_WELSCH_1977, SHARP_MAJORIZATION),
        ),
    )

    def _value(self, xp: Any, pred: Any, target: Any, *, eps: float) -> Any:
        return self._value_over_delta(xp, pred - target, eps)

    def _grad(self, xp: Any, pred: Any, target: Any, *, eps: float) -> Any:
        return self._grad_over_delta(xp, pred - target, eps)

    def _hess(self, xp: Any, pred: Any, target: Any, *, eps: float) -> Any:
        return super()._hess(xp, pred, target, delta=eps) / eps

    def _boosting_hess(self, xp: Any, pred: Any, target: Any, *, eps: float) -> Any:
        # psi(r) / r = 1 / sqrt(r^2 + eps^2) = (1 / eps) / sqrt(1 + z^2), z = r / eps
        small, z_small, _, inv = self._parts(xp, pred - target, eps)
        near = 1.0 / xp.sqrt(1.0 + z_small * z_small)
        far = inv / xp.sqrt(1.0 + inv * inv)  # 1/|z| / sqrt(1 + 1/z^2), without overflow
        return xp.where(small, near, far) / eps

    def _boosting_grad_hess(self, xp: Any, pred: Any, target: Any, *, eps: float) -> Any:
        return self._grad(xp, pred, target, eps=eps), self._boosting_hess(xp, pred, target, eps=eps)


# ---- Barron's general loss ---------------------------------------------------------------------
def _shape(alpha: float | None) -> float:
    """alpha, with None (the limit alpha -> -inf) as -inf."""
    return -math.inf if alpha is None else alpha


GENERAL_FAR = 2.0**20  # |r/c| beyond which powers of |z| are taken apart from (1 + b/z^2)


class GeneralRobust(ElementwiseLoss):
    r"""Barron's general and adaptive robust loss ``rho(r, alpha, c)``.

    .. math::
        \rho(r, \alpha, c) = \frac{|\alpha - 2|}{\alpha}
            \left(\left(\frac{(r/c)^2}{|\alpha - 2|} + 1\right)^{\alpha/2} - 1\right)

    with its limits ``alpha = 2``: ``(r/c)^2 / 2``; ``alpha = 0``: ``log(1 + (r/c)^2 / 2)``;
    ``alpha = -inf``: ``1 - exp(-(r/c)^2 / 2)``. ``alpha`` is any finite number, or None for
    the limit ``alpha -> -inf`` (a float parameter's range excludes infinity). Special
    cases: ``alpha = 2`` is ``mse / (2 c^2)``, ``1`` is ``pseudo_huber(delta=c) / c^2``
    (Charbonnier, ``sqrt((r/c)^2 + 1) - 1``), ``0`` is ``cauchy(c)``, ``-2`` is
    ``geman_mcclure(c)`` and None is ``welsch(c)``; those five are computed by those losses'
    kernels. Elsewhere, with ``b = |alpha - 2|``, ``z = r/c`` and ``y = z^2 / b``,
    the value is ``(b/alpha) expm1((alpha/2) log1p(y))`` where that exponent is below 1 in
    size (no cancellation near ``alpha = 0`` or near the fit) and
    ``(b/alpha)((1 + y)^(alpha/2) - 1)`` by ``pow`` otherwise (exact near ``alpha = 2``,
    where ``y`` is huge); beyond ``|z| = 2^20`` powers of ``|z|`` are taken apart from
    ``(1 + b/z^2)``. ``grad = (z/c)(1 + y)^(alpha/2 - 1)``,
    ``hess = (1 + y)^(alpha/2 - 2)(1 + (alpha - 1) y) / c^2``.
    """

    spec = LossSpec(
        name="general_robust",
        family="robust",
        summary="Barron's general robust loss: one shape parameter, alpha, runs from L2 "
        "through Cauchy to Welsch.",
        pred_domain="real",
        target_domain="real",
        properties=Properties(convex=True, robust=True, smoothness="Cinf"),
        formula=r"\rho(r, \alpha, c) = \frac{|\alpha - 2|}{\alpha}\left(\left(\frac{(r/c)^2}"
        r"{|\alpha - 2|} + 1\right)^{\alpha/2} - 1\right)",
        references=(BARRON_2019,),
        params=(
            Param(
                "alpha",
                1.0,
                "shape: 2 is L2, 1 pseudo-Huber, 0 Cauchy, -2 Geman-McClure; None is the "
                "limit alpha -> -inf, Welsch",
                allow_none=True,
            ),
            Param(
                "scale",
                1.0,
                "scale c: the size of the quadratic bowl",
                low=0.0,
                low_inclusive=False,
            ),
        ),
        aliases=("barron", "barron_loss", "general_adaptive_loss", "general_robust_loss"),
        derivative_notes="z = r/c, b = |alpha - 2|, y = z^2/b: grad = (z/c)(1 + y)^(alpha/2 - 1), "
        "hess = (1 + y)^(alpha/2 - 2)(1 + (alpha - 1) y) / c^2.",
        when_to_use="Choosing (or learning, with lossatlas.torch.AdaptiveRobustLoss) how "
        "robust a fit should be with one continuous knob.",
        showcase=({"alpha": 2.0}, {"alpha": 1.0}, {"alpha": 0.0}, {"alpha": -2.0}),
        variants=(
            Variant(
                lambda p: _shape(p["alpha"]) < 1,
                properties={"convex": False, "redescending": True},
                note="alpha < 1 or None",
            ),
            Variant(
                lambda p: _shape(p["alpha"]) > 1, properties={"robust": False}, note="alpha > 1"
            ),
            Variant(
                lambda p: _shape(p["alpha"]) < 0,
                properties={"bounded": True},
                note="alpha < 0 or None",
            ),
        ),
        boosting=BoostingHessian(
            "surrogate",
            r"h = \frac{(1 + y)^{\alpha/2 - 2}\,(1 + \max(1, \alpha - 1)\,y)}{c^2},\ "
            r"y = \frac{(r/c)^2}{|\alpha - 2|}",
            "For alpha < 1 the second derivative is negative far out and for alpha <= 2 it "
            "vanishes faster than the gradient. For alpha <= 2 the IRLS weight psi(r)/r, "
            "(1 + y)^(alpha/2 - 1) / c^2, is used (at least the second derivative; each "
            "round an iteratively reweighted least-squares step), for alpha > 2 the exact "
            "second derivative, which is then positive and the larger.",
            (BARRON_2019, HOLLAND_WELSCH_1977, SHARP_MAJORIZATION),
        ),
    )

    def _special(self, alpha: float | None) -> Any:
        return {0.0: cauchy, -2.0: geman_mcclure, None: welsch}.get(alpha)

    def _parts(self, xp: Any, pred: Any, target: Any, alpha: float, scale: float) -> tuple:
        """(z, far, y where near (else 0), w = |z| / sqrt(b) where far (else 1), b/z^2 = 1/w^2
        where far (else 0)), b = |alpha - 2|; powers of w are those of y (y = w^2)."""
        b = abs(alpha - 2.0)
        z = (pred - target) / scale
        a = abs_(xp, z)
        far = a > GENERAL_FAR
        z_near = where0(xp, ~far, z)
        w = xp.where(far, a, const(xp, math.sqrt(b), a)) / math.sqrt(b)
        return z, far, (z_near * z_near) / b, w, where0(xp, far, 1.0 / (w * w))

    def _value(self, xp: Any, pred: Any, target: Any, *, alpha: float | None, scale: float) -> Any:
        special = self._special(alpha)
        if special is not None:
            return special._value(xp, pred, target, c=scale)
        if alpha == 2.0:
            z = (pred - target) / scale
            return 0.5 * z * z
        if alpha == 1.0:
            return _PSEUDO_HUBER._value(xp, pred, target, delta=scale) / (scale * scale)
        b = abs(alpha - 2.0)
        z, far, y, w, inv = self._parts(xp, pred, target, alpha, scale)
        log_far = 2.0 * xp.log(w) + xp.log1p(inv)
        exponent = (0.5 * alpha) * xp.where(far, log_far, xp.log1p(y))
        small = abs_(xp, exponent) < 1.0
        near_pow = xp.pow(1.0 + y, const(xp, 0.5 * alpha, y))
        far_pow = xp.pow(w, const(xp, alpha, y)) * xp.exp((0.5 * alpha) * xp.log1p(inv))
        powered = xp.where(far, far_pow, near_pow) - 1.0
        return (b / alpha) * xp.where(small, xp.expm1(where0(xp, small, exponent)), powered)

    def _grad(self, xp: Any, pred: Any, target: Any, *, alpha: float | None, scale: float) -> Any:
        special = self._special(alpha)
        if special is not None:
            return special._grad(xp, pred, target, c=scale)
        if alpha == 2.0:
            return (pred - target) / (scale * scale)
        if alpha == 1.0:
            return _PSEUDO_HUBER._grad(xp, pred, target, delta=scale) / (scale * scale)
        b = abs(alpha - 2.0)
        e = 0.5 * alpha - 1.0
        z, far, y, w, inv = self._parts(xp, pred, target, alpha, scale)
        near = where0(xp, ~far, z) * xp.pow(1.0 + y, const(xp, e, y))
        # z (1 + y)^e = z y^e (1 + 1/y)^e, z y^e = sign(z) sqrt(b) w^(alpha - 1)
        big = (
            (math.sqrt(b) * xp.sign(z))
            * xp.pow(w, const(xp, alpha - 1.0, y))
            * xp.exp(e * xp.log1p(inv))
        )
        return xp.where(far, big, near) / scale

    def _hess(self, xp: Any, pred: Any, target: Any, *, alpha: float | None, scale: float) -> Any:
        special = self._special(alpha)
        if special is not None:
            return special._hess(xp, pred, target, c=scale)
        if alpha == 2.0:
            return xp.ones_like(pred) / (scale * scale)
        if alpha == 1.0:
            return _PSEUDO_HUBER._hess(xp, pred, target, delta=scale) / (scale * scale)
        return self._curvature(xp, pred, target, alpha, scale, alpha - 1.0)

    def _curvature(
        self, xp: Any, pred: Any, target: Any, alpha: float, scale: float, k: float
    ) -> Any:
        """(1 + y)^(alpha/2 - 2)(1 + k y) / c^2: the second derivative for k = alpha - 1, the
        IRLS weight for k = 1."""
        e = 0.5 * alpha - 2.0
        _, far, y, w, inv = self._parts(xp, pred, target, alpha, scale)
        near = xp.pow(1.0 + y, const(xp, e, y)) * (1.0 + k * y)
        # (1 + y)^e (1 + k y) = y^(e + 1) (1 + 1/y)^e (k + 1/y), y^(e + 1) = w^(alpha - 2)
        big = xp.pow(w, const(xp, alpha - 2.0, y)) * xp.exp(e * xp.log1p(inv)) * (k + inv)
        return xp.where(far, big, near) / (scale * scale)

    def _boosting_hess(
        self, xp: Any, pred: Any, target: Any, *, alpha: float | None, scale: float
    ) -> Any:
        special = self._special(alpha)
        if special is not None:
            return special._boosting_hess(xp, pred, target, c=scale)
        if alpha == 2.0:
            return xp.ones_like(pred) / (scale * scale)
        return self._curvature(xp, pred, target, alpha, scale, max(1.0, alpha - 1.0))


_PSEUDO_HUBER = PseudoHuber()  # its kernels, for alpha = 1 (the registered one is pseudo_huber)

truncated_squared = register(TruncatedSquared())
cauchy = register(Cauchy())
geman_mcclure = register(GemanMcClure())
welsch = register(Welsch())
tukey_biweight = register(TukeyBiweight())
fair = register(Fair())
general_robust = register(GeneralRobust())
charbonnier = register(Charbonnier())

__all__ = [
    "cauchy",
    "charbonnier",
    "fair",
    "geman_mcclure",
    "general_robust",
    "truncated_squared",
    "tukey_biweight",
    "welsch",
]
