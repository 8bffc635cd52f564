"""The large-margin softmax losses and the center loss against pytorch-metric-learning (PML
2.9), against cross entropy where they reduce to it, against mpmath, at degenerate inputs, on
bad inputs, and the torch heads that own their parameters in training.

Conventions mapped (read from pytorch_metric_learning/losses/*.py):
- PML stores class weights as ``W`` (embedding_size, num_classes); ours are (num_classes,
  embedding_dim): ``weight = W.T``.
- PML's ArcFaceLoss takes its margin in degrees (default 28.6): ``margin_ours =
  radians(margin_pml)``; it keeps cos(theta + m) where theta <= pi - m and uses cos(theta) -
  m sin(m) past it (insightface's th/mm fallback); its cosines come from normalised
  embeddings and weights and every logit is multiplied by ``scale``.
- PML's CosFaceLoss: s (cos - m) on the target, s cos elsewhere.
- PML's SphereFaceLoss: weights normalised, embeddings not: logits ||x|| * scale * (psi_m for
  the target, cos elsewhere): ours ``SphereFaceLoss(margin=m, scale=s)``.
- PML's LargeMarginSoftmaxLoss: logits ||W_j|| ||x|| scale * (psi_m(theta) for the target,
  cos elsewhere), nothing normalised: ours with ``scale = 1`` (PML's default).
- Every PML loss here averages the per-sample losses (its MeanReducer): our "mean".
"""

from __future__ import annotations

import functools
import math

import _reference as R
import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest
import torch
from pytorch_metric_learning import losses as pml

import lossatlas
import lossatlas.torch as lt
from lossatlas import (
    LossInputError,
    angular_margin_softmax,
    center_loss,
    cross_entropy,
    large_margin_softmax,
)
from lossatlas.large_margin import chebyshev_psi

jax.config.update("jax_enable_x64", True)
# PML's L-Softmax builds its binomials through NumPy 2's deprecated __array_wrap__ path
pytestmark = pytest.mark.filterwarnings("ignore:__array_wrap__:DeprecationWarning")

N, D, C = 96, 6, 9
TOL = {torch.float64: 1e-12, torch.float32: 2e-5}


def _data(seed: int, dtype: torch.dtype, n: int = N, d: int = D, c: int = C):
    g = torch.Generator().manual_seed(seed)
    emb = torch.randn(n, d, generator=g, dtype=torch.float64) * 2.0
    y = torch.randint(0, c, (n,), generator=g)
    return emb.to(dtype), y


# ---- against pytorch-metric-learning -----------------------------------------------------------
PML_CASES = [
    # (our module, PML module, our kwargs, PML kwargs)
    (
        "arcface",
        lt.ArcFaceLoss,
        pml.ArcFaceLoss,
        {"scale": 16.0, "margin": 0.5},
        {"scale": 16.0, "margin": math.degrees(0.5)},
    ),
    (
        "arcface-big-margin",
        lt.ArcFaceLoss,
        pml.ArcFaceLoss,
        {"scale": 64.0, "margin": 1.2},
        {"scale": 64.0, "margin": math.degrees(1.2)},
    ),
    (
        "cosface",
        lt.CosFaceLoss,
        pml.CosFaceLoss,
        {"scale": 30.0, "margin": 0.35},
        {"scale": 30.0, "margin": 0.35},
    ),
    ("sphereface-4", lt.SphereFaceLoss, pml.SphereFaceLoss, {"margin": 4}, {"margin": 4}),
    (
        "sphereface-3-scaled",
        lt.SphereFaceLoss,
        pml.SphereFaceLoss,
        {"margin": 3, "scale": 2.0},
        {"margin": 3, "scale": 2.0},
    ),
    (
        "lsoftmax-2",
        lt.LargeMarginSoftmaxLoss,
        pml.LargeMarginSoftmaxLoss,
        {"margin": 2},
        {"margin": 2},
    ),
    (
        "lsoftmax-4",
        lt.LargeMarginSoftmaxLoss,
        pml.LargeMarginSoftmaxLoss,
        {"margin": 4},
        {"margin": 4},
    ),
    (
        "lsoftmax-1",
        lt.LargeMarginSoftmaxLoss,
        pml.LargeMarginSoftmaxLoss,
        {"margin": 1},
        {"margin": 1},
    ),
]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize(
    ("ours", "theirs", "kw", "pml_kw"), [c[1:] for c in PML_CASES], ids=[c[0] for c in PML_CASES]
)
def test_heads_equal_pytorch_metric_learning(ours, theirs, kw, pml_kw, dtype):
    """Values and the gradients with respect to the embeddings and the class weights equal
    PML's, over 3 random draws of 96 embeddings (PML's weights copied into ours)."""
    worst = 0.0
    for seed in range(3):
        torch.manual_seed(seed)
        ref = theirs(num_classes=C, embedding_size=D, **pml_kw).to(dtype)
        mine = ours(C, D, **kw).to(dtype)
        with torch.no_grad():
            mine.weight.copy_(ref.W.T)
        emb, y = _data(seed, dtype)
        e1 = emb.clone().requires_grad_(True)
        e2 = emb.clone().requires_grad_(True)
        a, b = ref(e1, y), mine(e2, y)
        a.backward()
        b.backward()
        tol = TOL[dtype]
        scale = 1.0 + abs(a.item())
        assert abs(a.item() - b.item()) <= tol * scale, (a.item(), b.item())
        torch.testing.assert_close(e2.grad, e1.grad, rtol=tol * 10, atol=tol * 10)
        torch.testing.assert_close(mine.weight.grad, ref.W.grad.T, rtol=tol * 10, atol=tol * 10)
        worst = max(worst, abs(a.item() - b.item()) / scale)
    assert worst <= TOL[dtype]


def test_core_angular_equals_pml_on_its_cosines():
    """``angular_margin_softmax`` on PML's own cosine matrix (its get_cosine) equals PML's
    ArcFace and CosFace losses."""
    torch.manual_seed(3)
    emb, y = _data(5, torch.float64)
    for ref, kind, m in (
        (pml.ArcFaceLoss(C, D, margin=28.6, scale=64), "arcface", math.radians(28.6)),
        (pml.CosFaceLoss(C, D, margin=0.2, scale=10), "cosface", 0.2),
    ):
        ref = ref.double()
        cosine = torch.clamp(ref.get_cosine(emb), -1, 1)
        got = angular_margin_softmax(cosine, y, kind=kind, margin=m, scale=float(ref.scale))
        torch.testing.assert_close(got, ref(emb, y), rtol=1e-12, atol=1e-12)


# ---- equivalences ------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["numpy", "torch", "jax_jit"])
def test_margin_one_is_cross_entropy(backend):
    """L-Softmax with margin 1 is cross entropy on features @ class_weights.T (the margin term
    is exactly 0), per sample, to 1e-15 relative."""
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(64, 5)) * 3, rng.normal(size=(7, 5))
    y = rng.integers(0, 7, 64)
    conv = {"numpy": np.asarray, "torch": torch.from_numpy, "jax_jit": jnp.asarray}[backend]
    f = functools.partial(large_margin_softmax, margin=1, reduction="none")
    got = (jax.jit(f) if backend == "jax_jit" else f)(conv(x), conv(w), conv(y))
    want = cross_entropy(x @ w.T, y, reduction="none")
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-15, atol=1e-15)


def test_cosface_is_cross_entropy_on_shifted_cosines():
    """CosFace = cross entropy on s (cos - m one_hot), in float64 and float32."""
    rng = np.random.default_rng(1)
    cosine = rng.uniform(-1, 1, size=(200, 6))
    y = rng.integers(0, 6, 200)
    s, m = 30.0, 0.35
    one_hot = np.eye(6)[y]
    for dtype, tol in ((np.float64, 1e-14), (np.float32, 2e-6)):
        got = angular_margin_softmax(
            cosine.astype(dtype), y, kind="cosface", scale=s, margin=m, reduction="none"
        )
        want = cross_entropy((s * (cosine - m * one_hot)).astype(dtype), y, reduction="none")
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_sphereface_kind_is_lsoftmax_on_unit_vectors():
    """angular_margin_softmax(kind='sphereface', scale=s) on the cosines of unit features and
    unit weights = large_margin_softmax(s * unit features, unit weights); margin 0 ArcFace
    and CosFace are cross entropy on s cos."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(50, 4))
    w = rng.normal(size=(5, 4))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    w /= np.linalg.norm(w, axis=1, keepdims=True)
    y = rng.integers(0, 5, 50)
    cosine = np.clip(x @ w.T, -1, 1)
    for m in (1, 2, 3, 4):
        a = angular_margin_softmax(
            cosine, y, kind="sphereface", scale=7.0, margin=m, reduction="none"
        )
        b = large_margin_softmax(7.0 * x, w, y, margin=m, reduction="none")
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    plain = cross_entropy(7.0 * cosine, y, reduction="none")
    for kind in ("arcface", "cosface"):
        got = angular_margin_softmax(cosine, y, kind=kind, scale=7.0, margin=0.0, reduction="none")
        np.testing.assert_allclose(got, plain, rtol=1e-13, atol=1e-13)


# ---- against mpmath ----------------------------------------------------------------------------
def test_random_values_against_mpmath():
    """Per-sample values of all three losses (every kind, easy margin too) against the
    mpmath definitions of tests/_reference.py (arccos and floor(theta m / pi)), float64."""
    rng = np.random.default_rng(4)
    x, w = rng.normal(size=(30, 3)) * 2, rng.normal(size=(4, 3))
    y = rng.integers(0, 4, 30)
    cosine = rng.uniform(-1, 1, size=(30, 4))
    worst = 0.0

    def rows(a):
        return [[mp.mpf(float(v)) for v in r] for r in a]

    for m in (1, 2, 3, 4, 6):
        got = large_margin_softmax(x, w, y, margin=m, reduction="none")
        want = [
            R.lm_large_margin_softmax(rows(x)[i], rows(w), int(y[i]), margin=m) for i in range(30)
        ]
        worst = max(worst, np.max(np.abs(got - np.array(want, float)) / (1 + np.abs(got))))
    for kind, m, easy in (
        ("arcface", 0.5, False),
        ("arcface", 0.5, True),
        ("arcface", 1.0, False),
        ("cosface", 0.35, False),
        ("sphereface", 4, False),
        ("sphereface", 2, False),
    ):
        got = angular_margin_softmax(
            cosine, y, kind=kind, scale=16.0, margin=m, easy_margin=easy, reduction="none"
        )
        want = [
            R.lm_angular_margin_softmax(
                rows(cosine)[i], int(y[i]), kind=kind, scale=16, margin=m, easy_margin=easy
            )
            for i in range(30)
        ]
        worst = max(worst, np.max(np.abs(got - np.array(want, float)) / (1 + np.abs(got))))
    got = center_loss(x, y, w, reduction="none")
    want = [R.lm_center_loss(rows(x)[i], int(y[i]), rows(w)) for i in range(30)]
    worst = max(worst, np.max(np.abs(got - np.array(want, float)) / (1 + np.abs(got))))
    assert worst < 1e-13, worst


# ---- closed-form values -----------------------------------------------------------------------
def test_psi_closed_form():
    """psi_m(theta) = cos(m theta) on [0, pi/m], 1 - 2m at theta = pi, continuous at every
    j pi/m and decreasing on [0, pi] (the point of L-Softmax's psi)."""
    theta = np.linspace(0, math.pi, 2001)
    c = np.cos(theta)
    for m in (1, 2, 3, 4, 5):
        psi = chebyshev_psi(np, c, m)
        first = theta <= math.pi / m
        np.testing.assert_allclose(psi[first], np.cos(m * theta[first]), atol=1e-12)
        assert abs(chebyshev_psi(np, np.array(-1.0), m) - (1 - 2 * m)) < 1e-12
        assert np.all(np.diff(psi) <= 1e-12), m
        for j in range(1, m):
            t = j * math.pi / m
            left = chebyshev_psi(np, np.array(math.cos(t - 1e-9)), m)
            right = chebyshev_psi(np, np.array(math.cos(t + 1e-9)), m)
            assert abs(left - right) < 1e-7


def test_closed_form_values():
    """By hand: a sample on its class's weight (cos 1) with C - 1 orthogonal classes costs
    log(1 + (C - 1) e^{-s phi(1)}): phi = cos m (ArcFace), 1 - m (CosFace), 1 (SphereFace);
    ArcFace past pi - m takes cos - m sin m; center loss of (3, 4) at (0, 0) is 12.5;
    L-Softmax with x = -W_y (theta = pi), margin 2, 2 classes (other weight 0): log(1 + e^{3
    ||x||^2})."""
    cos = np.array([[1.0, 0.0, 0.0, 0.0]])
    y = np.array([0])
    s = 10.0
    for kind, phi in (("arcface", math.cos(0.5)), ("cosface", 1 - 0.35), ("sphereface", 1.0)):
        got = angular_margin_softmax(cos, y, kind=kind, scale=s)
        assert abs(float(got) - math.log1p(3 * math.exp(-s * phi))) < 1e-14, kind
    c = -0.95  # theta = 2.82 > pi - 0.5
    got = angular_margin_softmax(np.array([[c, 0.0]]), y, scale=s)
    assert abs(float(got) - math.log1p(math.exp(-s * (c - 0.5 * math.sin(0.5))))) < 1e-12
    got = angular_margin_softmax(np.array([[c, 0.0]]), y, scale=s, easy_margin=True)
    assert abs(float(got) - math.log1p(math.exp(-s * c))) < 1e-12
    got = center_loss(np.array([[3.0, 4.0]]), y, np.array([[0.0, 0.0], [1.0, 1.0]]))
    assert float(got) == 12.5
    x = np.array([[-1.5, 0.0]])
    w = np.array([[1.0, 0.0], [0.0, 0.0]])
    got = large_margin_softmax(x, w, y, margin=2)
    assert abs(float(got) - math.log1p(math.exp(3 * 1.5))) < 1e-12


# ---- degenerate inputs ------------------------------------------------------------------------
DEGENERATE_COSINES = np.array(
    [[1.0, -1.0, 0.0], [-1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [-1.0, -1.0, -1.0], [0.0, 0.0, 0.0]]
)
SETTINGS = [("arcface", False), ("arcface", True), ("cosface", False), ("sphereface", False)]


@pytest.mark.parametrize(("kind", "easy"), SETTINGS)
def test_cosines_at_plus_minus_one_have_finite_gradients(kind, easy):
    """Cosines of exactly +-1 (theta = 0 and pi: sqrt(1 - c^2) and arccos are singular there):
    finite values and finite gradients (torch autograd in float64 and float32, jax.grad in
    float64, equal); ArcFace's at cos theta_y = 1 is the documented one, sin's derivative taken
    as 0 there: d/dc_y = s (p_y - 1) cos m."""
    y = np.array([0, 0, 1, 2, 0])
    kw = {"kind": kind, "easy_margin": easy, "scale": 16.0}
    for dtype in ("float64", "float32"):
        c = DEGENERATE_COSINES.astype(dtype)
        t = torch.tensor(c, requires_grad=True)
        value = angular_margin_softmax(t, torch.from_numpy(y), **kw)
        (g_torch,) = torch.autograd.grad(value, t)
        assert torch.isfinite(value) and torch.isfinite(g_torch).all(), (dtype, g_torch)
        if dtype == "float32":  # jax in float64 only (a compilation each)
            continue
        g_jax = jax.jit(jax.grad(lambda a: angular_margin_softmax(a, jnp.asarray(y), **kw)))(
            jnp.asarray(c)
        )
        assert np.isfinite(np.asarray(g_jax)).all()
        np.testing.assert_allclose(np.asarray(g_jax), g_torch.numpy(), rtol=1e-12, atol=1e-14)
        if kind == "arcface":  # row 0: cosines (1, -1, 0), label 0 (the mean over 5 rows)
            z = 16.0 * np.array([math.cos(0.5), -1.0, 0.0])
            p = np.exp(z) / np.exp(z).sum()
            want = 16.0 * (p[0] - 1) * math.cos(0.5) / 5
            assert abs(float(g_torch[0, 0]) - want) < 1e-12 * (1 + abs(want)), (g_torch, want)


def test_zero_and_aligned_features_have_finite_gradients():
    """Zero features, a zero class weight, features along and against their class weight
    (theta = 0, pi), features of 1e-300 and 1e300: finite values and gradients (torch autograd
    for the features and the class weights, jax.grad) for L-Softmax, the center loss and the
    heads; at zero features L-Softmax's gradient is that of plain cross entropy."""
    x = np.array([[0.0, 0.0], [1.0, 0.0], [-2.0, 0.0], [0.0, 3.0], [1e-300, 0.0], [1e300, 1.0]])
    w = np.array([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    y = np.array([0, 0, 0, 2, 0, 1])
    for margin in (1, 2, 4):
        tx = torch.tensor(x, requires_grad=True)
        tw = torch.tensor(w, requires_grad=True)
        value = large_margin_softmax(tx, tw, torch.from_numpy(y), margin=margin, reduction="sum")
        gx, gw = torch.autograd.grad(value, (tx, tw))
        assert torch.isfinite(value) and torch.isfinite(gx).all() and torch.isfinite(gw).all()
        if margin == 4:  # (one jax compilation: the same kernel for every margin)
            summed = functools.partial(large_margin_softmax, margin=margin, reduction="sum")
            grad = jax.jit(jax.grad(lambda a, b, f=summed: f(a, b, jnp.asarray(y)), argnums=(0, 1)))
            jx, jw = grad(jnp.asarray(x), jnp.asarray(w))
            np.testing.assert_allclose(np.asarray(jx), gx.numpy(), rtol=1e-10, atol=1e-14)
            np.testing.assert_allclose(np.asarray(jw), gw.numpy(), rtol=1e-10, atol=1e-14)
        # zero features: the gradient of cross entropy on the logits x @ W.T (all 0)
        p = np.full(3, 1 / 3)
        np.testing.assert_allclose(gx[0].numpy(), (p - np.eye(3)[0]) @ w, atol=1e-15)
    tx = torch.tensor(x[:4], requires_grad=True)
    tc = torch.tensor(w, requires_grad=True)
    value = center_loss(tx, torch.from_numpy(y[:4]), tc)
    gx, gc = torch.autograd.grad(value, (tx, tc))
    assert torch.isfinite(gx).all() and torch.isfinite(gc).all()
    for head in (
        lt.ArcFaceLoss(3, 2),
        lt.CosFaceLoss(3, 2),
        lt.SphereFaceLoss(3, 2),
        lt.LargeMarginSoftmaxLoss(3, 2),
    ):
        e = torch.zeros(4, 2, requires_grad=True)
        out = head(e, torch.tensor([0, 1, 2, 0]))
        out.backward()
        assert torch.isfinite(out) and torch.isfinite(e.grad).all(), type(head).__name__
        assert torch.isfinite(head.weight.grad).all()


# ---- bad inputs -------------------------------------------------------------------------------
def test_bad_inputs_raise():
    """Labels missing from the class count (>= C or negative), cosines outside [-1, 1],
    mismatched feature dimensions, a non-integer SphereFace margin, easy_margin off ArcFace:
    LossInputError, never NaN or a raw framework error."""
    rng = np.random.default_rng(0)
    x, w, y = rng.normal(size=(4, 3)), rng.normal(size=(5, 3)), np.array([0, 1, 4, 2])
    cases = [
        (lambda: large_margin_softmax(x, w, np.array([0, 5, 1, 1])), "target"),
        (lambda: large_margin_softmax(x, w, np.array([0, -1, 1, 1])), "target"),
        (lambda: large_margin_softmax(x, w[:, :2], y), "class_weights"),
        (lambda: center_loss(x, np.array([0, 1, 5, 2]), w), "target"),
        (lambda: center_loss(x, y, w[:, :2]), "centers"),
        (lambda: angular_margin_softmax(np.clip(x @ w.T, -1, 1), np.array([5, 0, 0, 0])), "target"),
        (lambda: angular_margin_softmax(np.full((2, 3), 1.5), np.array([0, 1])), "cosine"),
        (lambda: angular_margin_softmax(np.full((2, 3), -1.01), np.array([0, 1])), "cosine"),
        (
            lambda: angular_margin_softmax(
                np.zeros((2, 3)), np.array([0, 1]), kind="sphereface", margin=2.5
            ),
            "margin",
        ),
        (lambda: angular_margin_softmax(np.zeros((2, 3)), np.array([0, 1]), margin=3.2), "margin"),
        (
            lambda: angular_margin_softmax(
                np.zeros((2, 3)), np.array([0, 1]), kind="cosface", easy_margin=True
            ),
            "easy_margin",
        ),
        (lambda: large_margin_softmax(x, w, y, margin=0), "margin"),
        (lambda: lt.ArcFaceLoss(5, 3)(torch.randn(4, 2), torch.from_numpy(y)), "embeddings"),
        (
            lambda: lt.LargeMarginSoftmaxLoss(5, 3)(torch.randn(4, 3), torch.tensor([0, 9, 1, 1])),
            "target",
        ),
        (lambda: lt.CenterLoss(5, 3)(torch.randn(4, 2), torch.from_numpy(y)), "centers"),
        (lambda: lt.CenterLoss(5, 3)(torch.randn(4, 3), torch.tensor([0, 5, 1, 1])), "target"),
    ]
    for fn, argument in cases:
        with pytest.raises(LossInputError) as info:
            fn()
        assert info.value.argument == argument, (argument, str(info.value))
    # the heads check their sizes and scale when built
    for build, argument in (
        (lambda: lt.ArcFaceLoss(0, 3), "num_classes"),
        (lambda: lt.CosFaceLoss(4, 2.5), "embedding_dim"),
        (lambda: lt.SphereFaceLoss(4, 3, scale=0.0), "scale"),
    ):
        with pytest.raises(LossInputError) as info:
            build()
        assert info.value.argument == argument


# ---- the heads train --------------------------------------------------------------------------
HEADS = [
    lambda: lt.ArcFaceLoss(4, 3, scale=8.0),
    lambda: lt.CosFaceLoss(4, 3, scale=8.0),
    lambda: lt.SphereFaceLoss(4, 3, margin=2),
    lambda: lt.LargeMarginSoftmaxLoss(4, 3, margin=2),
    lambda: lt.CenterLoss(4, 3),
]


@pytest.mark.parametrize(
    "make", HEADS, ids=["arcface", "cosface", "sphereface", "lsoftmax", "center"]
)
def test_heads_own_learnable_parameters(make):
    """The class weights (centres) are nn.Parameters of shape (num_classes, dim) that an
    optimizer updates: a few SGD steps on a fixed batch change them and lower the loss
    (with the embedding network, and for the center loss beside cross entropy)."""
    torch.manual_seed(0)
    head = make()
    params = dict(head.named_parameters())
    assert list(params) == (["centers"] if isinstance(head, lt.CenterLoss) else ["weight"])
    assert next(iter(params.values())).shape == (4, 3)
    net = torch.nn.Linear(5, 3)
    classifier = torch.nn.Linear(3, 4)
    inputs = torch.randn(32, 5)
    y = torch.arange(32) % 4
    opt = torch.optim.SGD(
        [*net.parameters(), *head.parameters(), *classifier.parameters()], lr=0.05
    )
    before = next(iter(params.values())).detach().clone()

    def total():
        emb = net(inputs)
        if isinstance(head, lt.CenterLoss):  # center loss beside softmax cross entropy
            return torch.nn.functional.cross_entropy(classifier(emb), y) + 0.1 * head(emb, y)
        return head(emb, y)

    first = total()
    for _ in range(8):
        opt.zero_grad()
        loss = total()
        loss.backward()
        opt.step()
    assert not torch.equal(next(iter(params.values())).detach(), before)
    assert total().item() < first.item()


def test_registered_modules():
    """The plain modules of the registered losses (class weights, cosines and centres as
    inputs) equal the functions; the heads' repr names their settings."""
    rng = np.random.default_rng(0)
    x, w = torch.from_numpy(rng.normal(size=(6, 3))), torch.from_numpy(rng.normal(size=(4, 3)))
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    assert lt.MODULES["large_margin_softmax"] is lt.LargeMarginSoftmax
    assert lt.MODULES["center_loss"] is lt.FunctionalCenterLoss
    torch.testing.assert_close(
        lt.LargeMarginSoftmax(margin=3)(x, w, y), large_margin_softmax(x, w, y, margin=3)
    )
    cosine = torch.clamp(x @ w.T / 5, -1, 1)
    torch.testing.assert_close(
        lt.AngularMarginSoftmax(kind="cosface", scale=8.0)(cosine, y),
        angular_margin_softmax(cosine, y, kind="cosface", scale=8.0),
    )
    torch.testing.assert_close(lt.FunctionalCenterLoss()(x, y, w), center_loss(x, y, w))
    assert "margin=0.5" in repr(lt.ArcFaceLoss(4, 3))
    assert lossatlas.get("angular_margin_loss") is angular_margin_softmax
    assert lossatlas.get("l_softmax") is large_margin_softmax
