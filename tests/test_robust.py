"""The robust family: closed forms, Barron's special cases, stability of general_robust near
alpha = 0 and 2 against mpmath, LightGBM's fair derivatives, redescending gradients."""

from __future__ import annotations

import math

import _reference as R
import mpmath as mp
import numpy as np
import pytest

import lossatlas as la
from lossatlas import LossInputError

RESIDUALS = np.array(
    [-1e4, -40.0, -7.5, -3.0, -1.0, -0.3, -1e-3, 0.0, 1e-5, 0.2, 1.0, 2.5, 9.0, 1e3]
)
ZERO = np.zeros_like(RESIDUALS)
REDESCENDING = ("truncated_squared", "cauchy", "geman_mcclure", "welsch", "tukey_biweight")


def value(name, r, **params):
    return la.get(name)(r, np.zeros_like(r), reduction="none", **params)


def test_closed_form_values():
    r = np.array([0.0, 0.5, -2.0, 3.0])
    np.testing.assert_allclose(value("truncated_squared", r), [0.0, 0.25, 1.0, 1.0])
    np.testing.assert_allclose(value("truncated_squared", r, threshold=2.5), [0, 0.25, 4, 6.25])
    np.testing.assert_allclose(value("cauchy", r, c=2.0), np.log1p((r / 2) ** 2 / 2))
    np.testing.assert_allclose(value("geman_mcclure", r), 2 * r**2 / (r**2 + 4))
    np.testing.assert_allclose(value("welsch", r, c=0.5), 1 - np.exp(-((r / 0.5) ** 2) / 2))
    c = 4.685
    tukey = np.where(np.abs(r) < c, c**2 / 6 * (1 - (1 - (r / c) ** 2) ** 3), c**2 / 6)
    np.testing.assert_allclose(value("tukey_biweight", r), tukey)
    tukey_1 = [0.0, (1 - 0.75**3) / 6, 1 / 6, 1 / 6]  # c = 1: u = 0.25 at r = 0.5
    np.testing.assert_allclose(value("tukey_biweight", r, c=1.0), tukey_1)
    np.testing.assert_allclose(
        value("fair", r, c=2.0), 4 * (np.abs(r) / 2 - np.log1p(np.abs(r) / 2))
    )


def test_small_residuals_are_accurate():
    """About r^2/2 at tiny residuals, with no cancellation (fair's series, welsch's expm1)."""
    r = np.array([1e-150, 1e-8, 1e-3])
    for name in ("cauchy", "geman_mcclure", "welsch", "fair", "tukey_biweight"):
        got = value(name, r)
        defaults = la.get(name).spec.defaults
        with mp.workdps(400):  # log(1 + 1e-300) needs the digits
            want = np.array([float(R.ELEMENTWISE[name](mp.mpf(x), 0, **defaults)) for x in r])
        np.testing.assert_allclose(got, want, rtol=4e-16, err_msg=name)


def test_fair_matches_lightgbm_derivatives():
    """LightGBM's fair objective: grad = c x / (|x| + c), hess = c^2 / (|x| + c)^2."""
    for c in (0.5, 1.0, 3.0):
        x = RESIDUALS
        np.testing.assert_allclose(la.fair.grad(x, ZERO, c=c), c * x / (np.abs(x) + c), rtol=1e-15)
        np.testing.assert_allclose(la.fair.hess(x, ZERO, c=c), c**2 / (np.abs(x) + c) ** 2,
                                   rtol=1e-15)  # fmt: skip
        np.testing.assert_allclose(la.fair.boosting_hess(x, ZERO, c=c), c**2 / (np.abs(x) + c) ** 2,
                                   rtol=1e-15)  # fmt: skip


def test_tukey_derivatives_are_the_biweight():
    c = 4.685
    r = RESIDUALS
    u = (r / c) ** 2
    inside = np.abs(r) < c
    np.testing.assert_allclose(
        la.tukey_biweight.grad(r, ZERO), np.where(inside, r * (1 - u) ** 2, 0)
    )
    np.testing.assert_allclose(la.tukey_biweight.hess(r, ZERO),
                               np.where(inside, (1 - u) * (1 - 5 * u), 0), atol=1e-15)  # fmt: skip


@pytest.mark.parametrize("scale", [0.5, 1.0, 3.0])
def test_general_robust_special_cases(scale):
    """Barron's alpha = 2, 1, 0, -2, -inf: L2 / 2, Charbonnier, Cauchy, Geman-McClure, Welsch."""
    r, c = RESIDUALS, scale
    g = la.general_robust

    def rho(alpha):
        return g(r, ZERO, alpha=alpha, scale=c, reduction="none")

    np.testing.assert_allclose(rho(2.0), la.mse(r, ZERO, reduction="none") / (2 * c**2))
    z2 = (r / c) ** 2  # sqrt(z^2 + 1) - 1 without its cancellation
    np.testing.assert_allclose(rho(1.0), z2 / (np.sqrt(z2 + 1) + 1), rtol=1e-13)
    np.testing.assert_allclose(rho(1.0), la.pseudo_huber(r, ZERO, delta=c, reduction="none") / c**2)
    np.testing.assert_array_equal(rho(0.0), la.cauchy(r, ZERO, c=c, reduction="none"))
    np.testing.assert_array_equal(rho(-2.0), la.geman_mcclure(r, ZERO, c=c, reduction="none"))
    np.testing.assert_array_equal(rho(None), la.welsch(r, ZERO, c=c, reduction="none"))
    # the general formula on either side of each special case tends to it
    for alpha, limit in ((2.0, rho(2.0)), (0.0, rho(0.0)), (-2.0, rho(-2.0)), (1.0, rho(1.0))):
        for eps in (1e-7, -1e-7):
            np.testing.assert_allclose(rho(alpha + eps), limit, rtol=1e-5, atol=1e-300)
    np.testing.assert_allclose(rho(-1e4)[np.abs(r) < 50], rho(None)[np.abs(r) < 50], rtol=2e-3)


def _mp_derivatives(alpha, x, c):
    f = lambda t: R.general_robust(t, 0, alpha=alpha, scale=c)  # noqa: E731
    with mp.workdps(80):
        return f(x), mp.diff(f, x), mp.diff(f, x, 2)


@pytest.mark.parametrize(
    "alpha", [2 - 1e-8, 2.0, 2 + 1e-8, 1e-8, 0.0, -1e-8, 0.5, 1.5, 3.0, -1.0, -7.0]
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_general_robust_is_stable_near_alpha_0_and_2(alpha, dtype):
    """Value, grad and hess against mpmath: relative error within 64 ulps over residuals from
    1e-5 to 1e4 (absolute where the second derivative passes through 0)."""
    c = 1.5
    r = np.array([1e-5, 1e-3, 0.1, 0.7, 1.3, 2.9, 11.0, 150.0, 1e4], dtype=dtype)
    g = la.general_robust
    got = (
        g(r, np.zeros_like(r), alpha=alpha, scale=c, reduction="none"),
        g.grad(r, np.zeros_like(r), alpha=alpha, scale=c),
        g.hess(r, np.zeros_like(r), alpha=alpha, scale=c),
    )
    want = np.array([[float(v) for v in _mp_derivatives(alpha, mp.mpf(float(x)), c)] for x in r]).T
    eps = np.finfo(dtype).eps
    for k, (a, b) in enumerate(zip(got, want, strict=True)):
        assert a.dtype == dtype
        scale = np.abs(b) + (eps * np.max(np.abs(want[2])) if k == 2 else 0.0)
        assert np.all(np.abs(a - b) <= 64 * eps * scale), (k, a, b)


def test_general_robust_at_infinite_residuals():
    g, r, t = la.general_robust, np.array([-np.inf, np.inf]), np.zeros(2)
    assert np.all(g(r, t, alpha=0.5, reduction="none") == np.inf)
    np.testing.assert_allclose(g(r, t, alpha=-1.0, reduction="none"), 3.0)  # |alpha-2|/|alpha|
    np.testing.assert_array_equal(g.grad(r, t, alpha=0.5), [0.0, 0.0])
    np.testing.assert_array_equal(g.grad(r, t, alpha=1.5), [-np.inf, np.inf])
    np.testing.assert_array_equal(g.hess(r, t, alpha=-3.0), [0.0, 0.0])


@pytest.mark.parametrize("name", REDESCENDING)
def test_redescending_gradients_vanish_far_out(name):
    loss = la.get(name)
    far = np.array([1e3, 1e6, 1e12, -1e12, np.inf, -np.inf])
    g = np.abs(loss.grad(far, np.zeros_like(far)))
    peak = np.max(np.abs(loss.grad(np.linspace(-5, 5, 1001), np.zeros(1001))))
    assert np.all(g <= 3e-3 * peak), (name, g)
    assert g[-1] == 0.0


@pytest.mark.parametrize("name", [*REDESCENDING, "fair", "general_robust"])
def test_minimum_at_the_target(name):
    loss = la.get(name)
    target = np.full(401, 1.25)
    pred = target + np.linspace(-4, 4, 401)
    v = loss(pred, target, reduction="none")
    assert v[200] == 0.0 and np.all(v[np.arange(401) != 200] > 0)
    assert loss.grad(target, target)[0] == 0.0


@pytest.mark.parametrize("name", [*REDESCENDING, "general_robust"])
def test_irls_surrogate_is_psi_over_r(name):
    """The boosting Hessian of a redescending loss is its IRLS weight grad / r (>= hess)."""
    loss = la.get(name)
    r = np.array([-30.0, -4.0, -0.9, 0.3, 1.7, 3.1, 12.0])
    w = loss.boosting_hess(r, np.zeros_like(r))
    assert np.all(w >= loss.hess(r, np.zeros_like(r)))
    if name != "truncated_squared":  # h = 2 there (the quadratic part)
        expected = np.maximum(loss.grad(r, np.zeros_like(r)) / r, 1e-16)
        np.testing.assert_allclose(w, expected, rtol=1e-12)


@pytest.mark.parametrize(
    ("name", "param", "bad"),
    [
        ("truncated_squared", "threshold", 0.0),
        ("truncated_squared", "threshold", -1.0),
        ("cauchy", "c", 0.0),
        ("geman_mcclure", "c", -2.0),
        ("welsch", "c", 0.0),
        ("tukey_biweight", "c", 0.0),
        ("fair", "c", -0.5),
        ("general_robust", "scale", 0.0),
        ("general_robust", "alpha", -math.inf),
        ("general_robust", "alpha", math.nan),
    ],
)
def test_bad_parameters_raise(name, param, bad):
    with pytest.raises(LossInputError, match=param):
        la.get(name)(np.ones(3), np.zeros(3), **{param: bad})


def test_names():
    assert la.get("lorentzian") is la.cauchy
    assert la.get("biweight") is la.tukey_biweight
    assert la.get("barron") is la.general_robust
    assert la.get("charbonnier") is la.pseudo_huber  # Barron's alpha = 1, times c^2


# ---- lossatlas.torch.AdaptiveRobustLoss ----------------------------------------------------------
def test_partition_function():
    import torch

    from lossatlas.torch.adaptive import log_partition, partition_integral

    assert partition_integral(2.0) == pytest.approx(math.sqrt(2 * math.pi), rel=1e-14)
    assert partition_integral(0.0) == pytest.approx(math.pi * math.sqrt(2), rel=1e-14)
    with mp.workdps(30):
        z1 = mp.quad(lambda x: mp.exp(-(mp.sqrt(x * x + 1) - 1)), [-mp.inf, 0, mp.inf])
        z_half = mp.quad(lambda x: mp.exp(-R.general_robust(x, 0, alpha=0.5, scale=1)),
                         [-mp.inf, -1, 0, 1, mp.inf])  # fmt: skip
    assert partition_integral(1.0) == pytest.approx(float(z1), rel=1e-13)  # 2 e K_1(1)
    assert partition_integral(0.5) == pytest.approx(float(z_half), rel=1e-12)
    alpha = torch.tensor([0.0, 0.3, 0.5, 1.0, 1.37, 1.9, 1.999, 2.0], dtype=torch.float64)
    exact = [math.log(partition_integral(float(a))) for a in alpha]
    np.testing.assert_allclose(log_partition(alpha).numpy(), exact, rtol=0, atol=2e-6)
    np.testing.assert_allclose(log_partition(alpha[:6]).numpy(), exact[:6], rtol=0, atol=1e-8)
    with pytest.raises(ValueError):
        log_partition(torch.tensor([-0.1]))


def test_adaptive_loss_is_a_normalised_nll():
    import torch

    import lossatlas.torch as lt
    from lossatlas.torch.adaptive import log_partition

    module = lt.AdaptiveRobustLoss(3, alpha_init=0.7, scale_init=1.8, reduction="none",
                                   dtype=torch.float64)  # fmt: skip
    alpha, scale = module.alpha().detach(), module.scale().detach()
    np.testing.assert_allclose(alpha.numpy(), 0.7, rtol=1e-12)
    np.testing.assert_allclose(scale.numpy(), 1.8, rtol=1e-12)
    x = torch.linspace(-4000, 4000, 1_600_001, dtype=torch.float64)[:, None].expand(-1, 3)
    nll = module(x)
    # the NLL of one dimension is the library's rho + log c + log Z
    rho = la.general_robust(x[:, 0].numpy(), np.zeros(x.shape[0]), alpha=0.7, scale=1.8,
                            reduction="none")  # fmt: skip
    expected = rho + math.log(1.8) + float(log_partition(alpha[:1]))
    np.testing.assert_allclose(nll[:, 0].detach().numpy(), expected, rtol=1e-5)
    # exp(-nll) is a density: it integrates to 1 (rho is about 560 at |x| = 4000)
    mass = torch.trapezoid(torch.exp(-nll[:, 0]), x[:, 0]).item()
    assert mass == pytest.approx(1.0, abs=1e-6)


def test_adaptive_loss_learns_alpha_and_scale():
    """Gaussian residuals of scale 0.5 drive alpha from 1 up towards 2, the scale to 0.5."""
    import torch

    import lossatlas.torch as lt

    torch.manual_seed(0)
    x = 0.5 * torch.randn(4000, 2, dtype=torch.float64)
    module = lt.AdaptiveRobustLoss(2, dtype=torch.float64)
    opt = torch.optim.Adam(module.parameters(), lr=0.05)
    for _ in range(300):
        opt.zero_grad()
        loss = module(x)
        loss.backward()
        opt.step()
    assert torch.all(module.alpha() > 1.7)
    # below 2 the MLE of the scale is a little under the Gaussian's sigma
    assert torch.all((module.scale() > 0.4) & (module.scale() < 0.55))
    with pytest.raises(ValueError):
        lt.AdaptiveRobustLoss(2, alpha_lo=-1.0)
    with pytest.raises(ValueError):
        module(torch.zeros(3, 4))
