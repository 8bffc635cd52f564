"""kl_divergence, js_divergence and generalized_kl_divergence against torch, optax, Keras,
scipy, closed forms and mpmath; the 0 log 0 = 0 convention under autodiff; their torch
modules and their input errors.

References: ``torch.nn.functional.kl_div`` (input log q; ``log_target`` both ways;
"batchmean" is our "mean"), ``optax.kl_divergence``,
``optax.losses.kl_divergence_with_log_targets``, ``optax.generalized_kl_divergence`` and
``optax.convex_kl_divergence`` (log-predictions),
Keras 3's ``KLDivergence`` on the JAX backend (a float32 reference that clips both inputs to
[1e-7, 1]) and ``scipy.spatial.distance.jensenshannon`` (whose square, with base e, is the JS
divergence). The distribution axis is ``axis`` (-1 by default; torch's modules use dim=1).
"""

# ruff: noqa: E402
from __future__ import annotations

import math
import os
import warnings

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax
import jax.numpy as jnp

jax.config.update("jax_enable_x64", True)

import _reference as R
import keras
import mpmath as mp
import numpy as np
import optax
import pytest
import torch
import torch.nn.functional as F
from scipy.spatial.distance import jensenshannon

import lossatlas as la
import lossatlas.torch as lt
from lossatlas import LossInputError

LOG2 = math.log(2.0)


def distributions(rng, shape, zeros=False):
    """Random distributions along the last axis; with ``zeros`` some exact zeros."""
    raw = rng.gamma(0.7, size=shape) + 1e-3
    if zeros:
        raw = np.where(rng.random(shape) < 0.25, 0.0, raw)
        raw[..., 0] += 0.5  # every row keeps some mass
    return raw / raw.sum(axis=-1, keepdims=True)


def tensor(a, requires_grad=False):
    return torch.tensor(a, dtype=torch.float64, requires_grad=requires_grad)


# ---- torch ------------------------------------------------------------------------------------
@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("shape", [(7, 5), (3, 4, 2)])
def test_kl_equals_torch_kl_div(shape, log_target):
    """F.kl_div(log q, t): "batchmean" is our "mean" on (N, C), "sum" is "sum", and
    "none" summed over the class axis (dim 1) is our "none"; gradients with respect to log q
    and to the target agree (inputs without zeros, where torch is finite)."""
    rng = np.random.default_rng(0)
    for _ in range(3):
        q = np.moveaxis(distributions(rng, (shape[0], *shape[2:], shape[1])), -1, 1)
        t = np.moveaxis(distributions(rng, (shape[0], *shape[2:], shape[1])), -1, 1)
        target = np.log(t) if log_target else t
        for reduction in ("none", "sum", "mean"):
            a, b = tensor(np.log(q), True), tensor(np.log(q), True)
            ta, tb = tensor(target, True), tensor(target, True)
            ours = la.kl_divergence(
                a, ta, input="log_probs", log_target=log_target, axis=1, reduction=reduction
            )
            torch_reduction = "batchmean" if reduction == "mean" else reduction
            theirs = F.kl_div(b, tb, reduction=torch_reduction, log_target=log_target)
            if reduction == "none":
                theirs = theirs.sum(dim=1)
            elif reduction == "mean" and len(shape) > 2:  # torch divides the total by N only
                theirs = theirs / math.prod(shape[2:])
            torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-14)
            w = torch.linspace(0.5, 1.5, ours.numel(), dtype=ours.dtype).reshape(ours.shape)
            (ours * w).sum().backward()
            (theirs * w).sum().backward()
            torch.testing.assert_close(a.grad, b.grad, rtol=1e-12, atol=1e-14)
            torch.testing.assert_close(ta.grad, tb.grad, rtol=1e-10, atol=1e-12)


def test_kl_inputs_agree_and_probabilities_match_torch():
    """input='probs', 'log_probs' and 'logits' give one divergence; on logits it equals
    F.kl_div(log_softmax(z), t), with its gradient with respect to z."""
    rng = np.random.default_rng(1)
    z = rng.normal(size=(6, 7)) * 3
    q = np.exp(z - z.max(-1, keepdims=True))
    q /= q.sum(-1, keepdims=True)
    t = distributions(rng, (6, 7), zeros=True)
    values = [la.kl_divergence(x, t, input=i, reduction="none")
              for x, i in ((q, "probs"), (np.log(q), "log_probs"), (z, "logits"))]  # fmt: skip
    for v in values[1:]:
        np.testing.assert_allclose(v, values[0], rtol=1e-11, atol=1e-14)
    a, b = tensor(z, True), tensor(z, True)
    ours = la.kl_divergence(a, tensor(t), input="logits")
    theirs = F.kl_div(torch.log_softmax(b, -1), tensor(t), reduction="batchmean")
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-14)
    ours.backward()
    theirs.backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(
        la.kl_divergence.grad(z, t, input="logits") / 6, a.grad.numpy(), rtol=1e-11, atol=1e-14
    )


def test_torch_modules():
    """KLDivLoss is a drop-in for torch.nn.KLDivLoss(reduction='batchmean'): log-probabilities
    in by default, dim 1, "batchmean" accepted as the spelling of "mean"; the other modules
    call the core."""
    rng = np.random.default_rng(2)
    log_q = tensor(np.log(distributions(rng, (5, 4))))
    t = tensor(distributions(rng, (5, 4)))
    expected = torch.nn.KLDivLoss(reduction="batchmean")(log_q, t)
    for module in (
        lt.KLDivLoss(),
        lt.KLDivLoss(reduction="batchmean"),
        lt.MODULES["kl_divergence"](),
    ):
        torch.testing.assert_close(module(log_q, t), expected, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(
        lt.KLDivLoss(log_target=True, reduction="sum")(log_q, t.log()),
        torch.nn.KLDivLoss(log_target=True, reduction="sum")(log_q, t.log()),
        rtol=1e-12,
        atol=1e-14,
    )
    torch.testing.assert_close(
        lt.KLDivLoss(input="probs")(log_q.exp(), t), expected, rtol=1e-12, atol=1e-14
    )
    q = log_q.exp().T.contiguous()  # the class axis first: dim=0
    torch.testing.assert_close(
        lt.JSDivergenceLoss(dim=0)(q, t.T), la.js_divergence(q, t.T, axis=0), rtol=0, atol=0
    )
    torch.testing.assert_close(
        lt.GeneralizedKLDivLoss(input="log_probs", reduction="none")(log_q, 2 * t),
        la.generalized_kl_divergence(log_q, 2 * t, input="log_probs", axis=1, reduction="none"),
    )


# ---- optax and Keras ----------------------------------------------------------------------------
def test_equals_optax():
    """optax's KL (log-predictions against probabilities and against log-targets) and its
    generalized KL (log-predictions of unnormalised measures), values and jax.grad."""
    rng = np.random.default_rng(3)  # (40, 5): a shape the generic suite compiles for on JAX
    log_q = jnp.asarray(np.log(distributions(rng, (40, 5))))
    t = jnp.asarray(distributions(rng, (40, 5), zeros=True))
    ours = la.kl_divergence(log_q, t, input="log_probs", reduction="none")
    np.testing.assert_allclose(ours, optax.kl_divergence(log_q, t), rtol=1e-12, atol=1e-15)
    positive = jnp.asarray(distributions(rng, (40, 5)))
    ours = la.kl_divergence(log_q, jnp.log(positive), input="log_probs", log_target=True,
                            reduction="none")  # fmt: skip
    theirs = optax.losses.kl_divergence_with_log_targets(log_q, jnp.log(positive))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    g_ours = jax.grad(lambda x: la.kl_divergence(x, t, input="log_probs", reduction="sum"))(log_q)
    g_theirs = jax.grad(lambda x: optax.kl_divergence(x, t).sum())(log_q)
    np.testing.assert_allclose(g_ours, g_theirs, rtol=1e-12, atol=1e-15)
    # unnormalised: log-rates of any sign, counts with zeros
    log_rate = jnp.asarray(rng.normal(size=(40, 5)))
    counts = jnp.asarray(rng.poisson(1.5, size=(40, 5)).astype(np.float64))
    ours = la.generalized_kl_divergence(log_rate, counts, input="log_probs", reduction="none")
    np.testing.assert_allclose(
        ours, optax.generalized_kl_divergence(log_rate, counts), rtol=1e-12, atol=1e-14
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        convex = optax.convex_kl_divergence(log_rate, counts)
    np.testing.assert_allclose(ours, convex, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(
        la.generalized_kl_divergence(jnp.exp(log_rate), counts, reduction="none"), convex,
        rtol=1e-12, atol=1e-14,
    )  # fmt: skip
    g_ours = jax.grad(
        lambda x: la.generalized_kl_divergence(x, counts, input="log_probs", reduction="sum")
    )(log_rate)
    g_theirs = jax.grad(lambda x: optax.generalized_kl_divergence(x, counts).sum())(log_rate)
    np.testing.assert_allclose(g_ours, g_theirs, rtol=1e-12, atol=1e-14)


def test_equals_keras():
    """Keras 3's KLDivergence (the mean over samples of sum t log(t / q)), within its clip of
    both inputs to [1e-7, 1], in float32."""
    rng = np.random.default_rng(4)
    q = distributions(rng, (16, 5)).astype(np.float32)
    t = distributions(rng, (16, 5)).astype(np.float32)
    theirs = keras.losses.KLDivergence()(t, q)
    np.testing.assert_allclose(la.kl_divergence(q, t), np.asarray(theirs), rtol=1e-5)
    none = keras.losses.KLDivergence(reduction=None)(t, q)
    ours = la.kl_divergence(q, t, reduction="none")
    np.testing.assert_allclose(ours, np.asarray(none), rtol=1e-5, atol=1e-7)


# ---- Jensen-Shannon -----------------------------------------------------------------------------
def test_js_equals_scipy_symmetric_and_at_most_log2():
    """The square of scipy's jensenshannon distance with base e, for probabilities, their
    logs and logits; symmetric; between 0 and log 2, log 2 for disjoint supports."""
    rng = np.random.default_rng(5)
    p = distributions(rng, (20, 6), zeros=True)
    q = distributions(rng, (20, 6), zeros=True)
    expected = np.array([jensenshannon(a, b) ** 2 for a, b in zip(q, p, strict=True)])
    ours = la.js_divergence(q, p, reduction="none")
    np.testing.assert_allclose(ours, expected, rtol=1e-11, atol=1e-15)
    np.testing.assert_allclose(la.js_divergence(p, q, reduction="none"), ours, rtol=1e-14)
    with np.errstate(divide="ignore"):
        logs = la.js_divergence(np.log(q), p, input="log_probs", reduction="none")
    np.testing.assert_allclose(logs, ours, rtol=1e-11, atol=1e-15)
    z = rng.normal(size=(20, 6)) * 4
    soft = np.exp(z - z.max(-1, keepdims=True))
    soft /= soft.sum(-1, keepdims=True)
    np.testing.assert_allclose(
        la.js_divergence(z, p, input="logits", reduction="none"),
        la.js_divergence(soft, p, reduction="none"),
        rtol=1e-11,
        atol=1e-15,
    )
    assert (ours >= 0).all() and (ours <= LOG2 * (1 + 1e-15)).all()
    disjoint = la.js_divergence(np.eye(4)[[0, 1]], np.eye(4)[[2, 3]], reduction="none")
    np.testing.assert_allclose(disjoint, [LOG2, LOG2], rtol=1e-15)


# ---- closed forms -------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # log 0 on NumPy: inf
def test_closed_forms():
    p = 0.3
    # KL of a point mass: -log q of its class; of two Bernoullis
    np.testing.assert_allclose(la.kl_divergence(np.array([p, 1 - p]), np.array([1.0, 0.0])),
                               -math.log(p), rtol=1e-15)  # fmt: skip
    a, b = 0.2, 0.6
    bernoulli = a * math.log(a / b) + (1 - a) * math.log((1 - a) / (1 - b))
    np.testing.assert_allclose(
        la.kl_divergence(np.array([b, 1 - b]), np.array([a, 1 - a])), bernoulli, rtol=1e-14
    )
    # mass where pred has none: inf; none where the target has none: 0
    assert la.kl_divergence(np.array([1.0, 0.0]), np.array([0.5, 0.5])) == math.inf
    assert la.kl_divergence(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == 0.0
    # JS of a point mass against the uniform over two classes
    js = 0.5 * (math.log(2 / 1.5) + 0.5 * math.log(1 / 1.5) + 0.5 * math.log(2))
    np.testing.assert_allclose(
        la.js_divergence(np.array([0.5, 0.5]), np.array([1.0, 0.0])), js, rtol=1e-14
    )
    # generalized KL of t against c t: sum t (c - 1 - log c); on distributions it is the KL
    t = np.array([0.5, 2.0, 0.0, 1.5])
    np.testing.assert_allclose(
        la.generalized_kl_divergence(3 * t, t), t.sum() * (2 - math.log(3)), rtol=1e-14
    )
    q, u = np.array([0.2, 0.3, 0.5]), np.array([0.1, 0.6, 0.3])
    np.testing.assert_allclose(
        la.generalized_kl_divergence(q, u), la.kl_divergence(q, u), rtol=1e-13
    )
    # the mean is over samples (each summed over the axis), not over elements
    rows = np.array([[0.5, 0.5], [0.9, 0.1]]), np.array([[1.0, 0.0], [0.5, 0.5]])
    np.testing.assert_allclose(
        la.kl_divergence(*rows), la.kl_divergence(*rows, reduction="none").sum() / 2, rtol=1e-15
    )


# ---- 0 log 0 = 0 under autodiff ----------------------------------------------------------------
ZERO_TARGET = np.array([[0.0, 0.7, 0.3, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0]])
#: pred with zeros and -inf log-probabilities / logits where the target is 0 (and only there)
ZERO_PRED = np.array([[0.0, 0.5, 0.5, 0.0, 0.0], [0.25, 0.0, 0.75, 0.0, 0.0]])


def _pred(input):
    with np.errstate(divide="ignore"):
        return ZERO_PRED if input == "probs" else np.log(ZERO_PRED)


CONVENTION_CASES = [
    ("kl_divergence", "probs", False),
    ("kl_divergence", "log_probs", False),
    ("kl_divergence", "logits", False),
    ("kl_divergence", "log_probs", True),
    ("kl_divergence", "probs", True),
    ("js_divergence", "probs", False),
    ("js_divergence", "log_probs", False),
    ("js_divergence", "logits", False),
    ("generalized_kl_divergence", "probs", False),
    ("generalized_kl_divergence", "log_probs", False),
]


@pytest.mark.parametrize(("name", "input", "log_target"), CONVENTION_CASES)
def test_zero_targets_have_finite_gradients(name, input, log_target):
    """Where the target is 0 the term is 0 (0 log 0 = 0), even at a probability of 0 or a
    log-probability or logit of -inf there; the value and its gradients with respect to pred
    and to the target are finite under torch autograd and jax.grad, and the gradient with
    respect to pred is the analytic one. (torch's F.kl_div gives NaN there.)"""
    loss = la.get(name)
    kw = {"input": input} | ({"log_target": log_target} if name == "kl_divergence" else {})
    with np.errstate(divide="ignore"):
        target = np.log(ZERO_TARGET) if log_target else ZERO_TARGET
    pred = _pred(input)
    expected = getattr(R, name)
    for row in range(2):
        ref = expected([mp.mpf(v) for v in pred[row]], list(target[row]), **kw)
        np.testing.assert_allclose(loss(pred[row], target[row], **kw), float(ref), rtol=1e-14)
    x, y = tensor(pred, True), tensor(target, True)
    out = loss(x, y, reduction="sum", **kw)
    gx, gy = torch.autograd.grad(out, (x, y))
    assert torch.isfinite(out) and torch.isfinite(gx).all() and torch.isfinite(gy).all()
    np.testing.assert_allclose(gx.numpy(), loss.grad(pred, target, **kw), rtol=1e-13)
    rows = (np.arange(40) % 2).tolist()  # (40, 5): a shape the generic suite compiles for
    jx, jy = jax.grad(lambda a, b: loss(a, b, reduction="sum", **kw), argnums=(0, 1))(
        jnp.asarray(pred[rows]), jnp.asarray(target[rows])
    )
    assert np.isfinite(jx).all() and np.isfinite(jy).all()
    np.testing.assert_allclose(np.asarray(jx)[:2], gx.numpy(), rtol=1e-13)
    np.testing.assert_allclose(np.asarray(jy)[:2], gy.numpy(), rtol=1e-13, atol=1e-15)


def test_torch_kl_div_is_nan_where_ours_is_finite():
    """The case torch gets wrong: a log-probability of -inf on a class without target mass."""
    log_q = tensor(_pred("log_probs"), True)
    t = tensor(ZERO_TARGET)
    theirs = F.kl_div(log_q, t, reduction="batchmean")
    assert torch.isnan(theirs)
    ours = la.kl_divergence(log_q, t, input="log_probs")
    ours.backward()
    assert torch.isfinite(ours) and torch.equal(log_q.grad, -t / 2)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # log 0 on NumPy: inf
def test_mass_where_pred_has_none():
    """q = 0 < t: KL and the generalized KL are inf with a gradient of -inf (-t on log q);
    JS is finite, its slope on probabilities -inf (that of q log q), also under autodiff."""
    q, t = np.array([[0.0, 1.0]]), np.array([[0.5, 0.5]])
    assert la.kl_divergence(q, t) == math.inf
    assert la.kl_divergence.grad(q, t)[0, 0] == -math.inf
    assert la.generalized_kl_divergence(q, t) == math.inf
    with np.errstate(divide="ignore"):
        np.testing.assert_array_equal(la.kl_divergence.grad(np.log(q), t, input="log_probs"), -t)
    js = float(la.js_divergence(q, t))
    np.testing.assert_allclose(js, float(R.js_divergence([mp.mpf(0), mp.mpf(1)], [0.5, 0.5],
                                                         input="probs")), rtol=1e-15)  # fmt: skip
    assert la.js_divergence.grad(q, t)[0, 0] == -math.inf
    x = tensor(q, True)
    (g,) = torch.autograd.grad(la.js_divergence(x, tensor(t), reduction="sum"), x)
    assert g[0, 0] == -math.inf and torch.isfinite(g[0, 1])
    with np.errstate(divide="ignore"):
        assert np.isfinite(la.js_divergence.grad(np.log(q), t, input="log_probs")).all()


# ---- accuracy where the divergence is tiny -----------------------------------------------------
def _near(rng, dtype, scale):
    """(pred, target) in ``dtype``: the target perturbed by ``scale`` (relative) and
    renormalised, so that the divergences are second order, ~scale^2."""
    t = distributions(rng, (8, 6))
    q = t * (1 + scale * rng.normal(size=t.shape))
    return (q / q.sum(-1, keepdims=True)).astype(dtype), t.astype(dtype)


def _mp_rows(f, q, t, **kw):
    with mp.workdps(50):
        return np.array([float(f([mp.mpf(float(v)) for v in a], [float(v) for v in b], **kw))
                         for a, b in zip(q, t, strict=True)])  # fmt: skip


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tiny_divergences_keep_their_digits(dtype):
    """pred within 1e-4 (float32: 1e-3) of the target, both rounded to the dtype, against
    mpmath on those exact inputs. KL (~1e-9) to the absolute accuracy that the cancellation
    between its classes allows: a few ulps of the terms t log(t/q), each ~1e-4 t (a log t -
    log q per class would be off by an ulp of the logs instead, 1e4 times more); on
    log-probabilities, whose exponentials carry an ulp, a few ulps of t. JS and the
    generalized KL, whose terms are second order and computed as such, to a few ulps of
    their own value."""
    rng = np.random.default_rng(6)
    eps = float(np.finfo(dtype).eps)
    scale = 1e-4 if dtype == np.float64 else 1e-3  # float32 rounding moves off the simplex
    q, t = _near(rng, dtype, scale)
    kl = _mp_rows(R.kl_divergence, q, t, input="probs", log_target=False)
    assert np.max(np.abs(kl)) < 100 * scale**2
    terms = np.sum(np.abs(t * np.log(t.astype(np.float64) / q)), axis=-1)
    ours = la.kl_divergence(q, t, reduction="none")
    np.testing.assert_allclose(ours, kl, rtol=0, atol=8 * eps * terms.max())
    log_q = np.log(q)
    kl_logs = _mp_rows(R.kl_divergence, log_q, t, input="log_probs", log_target=False)
    ours = la.kl_divergence(log_q, t, input="log_probs", reduction="none")
    np.testing.assert_allclose(ours, kl_logs, rtol=0, atol=8 * eps)
    js = _mp_rows(R.js_divergence, q, t, input="probs")
    np.testing.assert_allclose(la.js_divergence(q, t, reduction="none"), js, rtol=16 * eps)
    gkl = _mp_rows(R.generalized_kl_divergence, q, t, input="probs")
    ours = la.generalized_kl_divergence(q, t, reduction="none")
    np.testing.assert_allclose(ours, gkl, rtol=16 * eps)


# ---- bad inputs ---------------------------------------------------------------------------------
def test_bad_inputs():
    q = np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]])
    cases = [
        (lambda: la.kl_divergence(q, np.array([[0.2, 0.2, 0.2], [0.1, 0.1, 0.8]])), "target",
         "sum to 1"),
        (lambda: la.kl_divergence(q, q[:, :2]), "target", "(2, 3)"),
        (lambda: la.kl_divergence(q, q[:1]), "target", "(2, 3)"),
        (lambda: la.kl_divergence(np.array([[-0.1, 0.6, 0.5]]), q[:1]), "pred", "[0, 1]"),
        (lambda: la.kl_divergence(q, q, input="probabilities"), "input", "'log_probs'"),
        (lambda: la.kl_divergence(np.log(q) + 0.1, q, input="log_probs"), "pred",
         "exponentials sum to 1"),
        (lambda: la.kl_divergence(q, q, log_target=True), "target", "[-inf, 0]"),
        (lambda: la.js_divergence(q, q, input="logit"), "input", "'logits'"),
        (lambda: la.js_divergence(q * 2, q), "pred", ""),
        (lambda: la.generalized_kl_divergence(q, -q), "target", "[0, inf)"),
        (lambda: la.generalized_kl_divergence(q, q, input="logits"), "input", "'log_probs'"),
        (lambda: la.kl_divergence(q, q, axis=2), "axis", "an axis"),
    ]  # fmt: skip
    for fn, argument, expected in cases:
        with pytest.raises(LossInputError) as info:
            fn()
        assert info.value.argument == argument, str(info.value)
        assert expected in info.value.expected, str(info.value)
    # unnormalised inputs are what the generalized KL is for
    assert np.isfinite(la.generalized_kl_divergence(q * 3, q * 2))
