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
#: the robust losses whose metadata says redescending (general_robust is, for alpha < 1)
REDESCENDING = tuple(x.name for x in la.catalog("robust") if x.spec.properties.redescending)


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
    assert la.get("charbonnier_loss") is la.charbonnier


def test_the_redescending_losses_are_the_robust_statistics_ones():
    assert set(REDESCENDING) == {
        "truncated_squared",
        "cauchy",
        "geman_mcclure",
        "welsch",
        "tukey_biweight",
    }
    assert la.general_robust.properties(alpha=0.5).redescending
    assert not la.general_robust.properties(alpha=1.0).redescending


def test_charbonnier_is_scaled_pseudo_huber_and_barron_alpha_1():
    """sqrt(r^2 + eps^2) - eps = pseudo_huber(delta=eps) / eps = eps * rho(r, 1, eps)."""
    r = RESIDUALS
    for eps in (1e-3, 0.5, 1.0, 4.0):
        got = value("charbonnier", r, eps=eps)
        want = [float(R.ELEMENTWISE["charbonnier"](mp.mpf(x), 0, eps=eps)) for x in r]
        np.testing.assert_allclose(got, want, rtol=4e-16)
        np.testing.assert_allclose(got, value("pseudo_huber", r, delta=eps) / eps, rtol=1e-15)
        barron = value("general_robust", r, alpha=1.0, scale=eps)
        np.testing.assert_allclose(got, eps * barron, rtol=1e-15)
        np.testing.assert_allclose(
            la.charbonnier.grad(r, ZERO, eps=eps), r / np.sqrt(r**2 + eps**2), rtol=1e-15
        )
        np.testing.assert_allclose(
            la.charbonnier.hess(r, ZERO, eps=eps), eps**2 / (r**2 + eps**2) ** 1.5, rtol=1e-14
        )
    # finite far out for a large eps (pseudo_huber(delta=eps) itself overflows there)
    huge = np.array([1e308, -1.5e308])
    np.testing.assert_allclose(value("charbonnier", huge, eps=10.0), np.abs(huge) - 10.0)


KORNIA = {  # lossatlas name and parameters: kornia.losses function (kornia's fixed scale 1)
    ("charbonnier", "eps"): "charbonnier_loss",
    ("cauchy", "c"): "cauchy_loss",
    ("geman_mcclure", "c"): "geman_mcclure_loss",
    ("welsch", "c"): "welsch_loss",
}


@pytest.mark.parametrize(("name", "param"), list(KORNIA), ids=lambda x: str(x))
def test_equal_to_kornia(name, param):
    """kornia's robust losses (scale 1) in value and autograd gradient for every reduction,
    over residuals from 1e-6 to 1e4: in float64, and in float32 against kornia's float64.
    Gradients are compared up to |r| = 100: beyond, autograd of kornia's geman_mcclure,
    2 r^2 / (r^2 + 4), cancels (1e-8 off in float64 at |r| = 1e4, 2.7x in float32; the edge
    suite holds ours to mpmath there)."""
    torch = pytest.importorskip("torch")
    kornia_losses = pytest.importorskip("kornia.losses")
    theirs = getattr(kornia_losses, KORNIA[name, param])
    rng = np.random.default_rng(7)
    size = rng.choice([1e-6, 1e-2, 1.0, 30.0, 1e4], (4, 64)) * rng.normal(size=(4, 64))
    target = rng.normal(size=(4, 64))
    pred = (target + size).astype(np.float32).astype(np.float64)  # exact in float32
    target = target.astype(np.float32).astype(np.float64)
    # float32 rounds pred - target; kornia's float64 result at that rounded residual is the
    # float32 reference
    residual32 = (pred.astype(np.float32) - target.astype(np.float32)).astype(np.float64)

    def value_and_grad(loss, dtype, reduction, x, t, **params):
        x = torch.tensor(x, dtype=dtype, requires_grad=True)
        out = loss(x, torch.tensor(t, dtype=dtype), reduction=reduction, **params)
        out.sum().backward()
        return out.detach().double(), x.grad.double()

    for reduction in ("none", "mean", "sum"):
        # float32: exp(-r^2/2) at |r| = 12 is conditioned by r^2/2 = 72 (rtol 72 u ~ 9e-6)
        for dtype, rtol in ((torch.float64, 1e-12), (torch.float32, 1e-5)):
            x, t = (pred, target) if dtype == torch.float64 else (residual32, 0 * target)
            ref_value, ref_grad = value_and_grad(theirs, torch.float64, reduction, x, t)
            got_value, got_grad = value_and_grad(
                la.get(name), dtype, reduction, pred, target, **{param: 1.0}
            )
            # rounded to the dtype (exp(-r^2/2) underflows in float32)
            want_value, want_grad = (v.to(dtype).double() for v in (ref_value, ref_grad))
            tiny = torch.finfo(dtype).tiny  # below it float32 holds fewer digits (subnormals)
            torch.testing.assert_close(got_value, want_value, rtol=rtol, atol=tiny)
            near = torch.tensor(np.abs(pred - target) <= 100.0)
            torch.testing.assert_close(got_grad[near], want_grad[near], rtol=rtol, atol=tiny)


@pytest.mark.parametrize("name", ["welsch", "geman_mcclure", "cauchy", "tukey_biweight"])
def test_torch_gradients_of_robust_losses_far_out(name):
    """torch backpropagates the analytic gradient: autograd of welsch's -expm1(-z^2/2) would
    give 0 at |r| = 10 (torch's expm1 backward forms exp as expm1 + 1)."""
    torch = pytest.importorskip("torch")
    r = torch.tensor([0.5, 3.0, 10.0, 30.0, -1e4], dtype=torch.float64, requires_grad=True)
    la.get(name)(r, torch.zeros(5, dtype=torch.float64), reduction="sum").backward()
    want = la.get(name).grad(r.detach().numpy(), np.zeros(5))
    np.testing.assert_allclose(r.grad.numpy(), want, rtol=1e-15, atol=0)
    if name == "welsch":
        assert r.grad[2] == pytest.approx(10 * math.exp(-50), rel=1e-14)
