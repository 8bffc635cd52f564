"""The contrastive losses against implementations someone else wrote: optax's ntxent,
pytorch-metric-learning's NTXentLoss and SupConLoss, open_clip's ClipLoss and SigLipLoss
(restated below: open_clip needs torchvision, which does not import beside torch 2.13), over
many random batches in float64 and float32; closed forms, equivalences, degenerate and bad
inputs."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
import torch.nn.functional as F
from pytorch_metric_learning import losses as pml

import lossatlas
import lossatlas.torch as lt
from lossatlas import LossInputError

jax.config.update("jax_enable_x64", True)

SEEDS = range(8)


def batch(seed: int, n: int = 7, d: int = 5, scale: float = 2.0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) * scale, rng.normal(size=(n, d)) * scale


def t(a: np.ndarray, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.from_numpy(np.asarray(a)).to(dtype)


# ---- open_clip's formulas, restated ----------------------------------------------------------
# open_clip/src/open_clip/loss.py (mlfoundations/open_clip), world_size == 1. Its losses take
# features that the model has already L2-normalised, and logit_scale already exponentiated.
def open_clip_clip_loss(image, text, logit_scale):
    """ClipLoss.forward: logits_per_image = logit_scale * image @ text.T, logits_per_text =
    logit_scale * text @ image.T, labels arange(N); (CE(per_image) + CE(per_text)) / 2."""
    labels = torch.arange(image.shape[0])
    per_image = logit_scale * image @ text.T
    per_text = logit_scale * text @ image.T
    return (F.cross_entropy(per_image, labels) + F.cross_entropy(per_text, labels)) / 2


def open_clip_siglip_loss(image, text, logit_scale, logit_bias):
    """SigLipLoss._loss: logits = logit_scale * image @ text.T + logit_bias, labels
    2 * eye(N) - 1 (ground truth with negatives -1), loss = -logsigmoid(labels * logits).sum()
    / N (the batch size: image_features.shape[0])."""
    n = image.shape[0]
    logits = logit_scale * image @ text.T + logit_bias
    labels = 2 * torch.eye(n, dtype=logits.dtype) - 1
    return -F.logsigmoid(labels * logits).sum() / n


def normalized(a: torch.Tensor) -> torch.Tensor:
    return F.normalize(a, dim=-1)


# ---- against the peers ------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_clip_loss_equals_open_clip(dtype):
    """clip_loss == open_clip's ClipLoss on F.normalize'd features, value and gradients
    (embeddings and a learnable logit_scale), over random batches."""
    tdt = getattr(torch, dtype)
    rtol = 1e-12 if dtype == "float64" else 2e-6
    worst = 0.0
    for seed in SEEDS:
        x, y = batch(seed, n=3 + seed)
        for s in (1.0, 14.285, 100.0):
            a = [t(x, tdt).requires_grad_(), t(y, tdt).requires_grad_()]
            scale = torch.tensor(s, dtype=tdt, requires_grad=True)
            got = lossatlas.clip_loss(*a, logit_scale=scale)
            ga = torch.autograd.grad(got, [*a, scale])
            b = [t(x, tdt).requires_grad_(), t(y, tdt).requires_grad_()]
            scale2 = torch.tensor(s, dtype=tdt, requires_grad=True)
            want = open_clip_clip_loss(normalized(b[0]), normalized(b[1]), scale2)
            gb = torch.autograd.grad(want, [*b, scale2])
            assert got.dtype == tdt
            err = abs(got.item() - want.item()) / want.item()
            worst = max(worst, err)
            assert err < rtol, (seed, s, err)
            for u, v in zip(ga, gb, strict=True):
                torch.testing.assert_close(u, v, rtol=rtol * 50, atol=rtol * 50)
    print(f"clip_loss vs open_clip ({dtype}): max relative error {worst:.2e}")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_siglip_loss_equals_open_clip(dtype):
    """siglip_loss == open_clip's SigLipLoss (a sum over pairs divided by N), values and
    gradients of the embeddings, logit_scale and logit_bias."""
    tdt = getattr(torch, dtype)
    rtol = 1e-12 if dtype == "float64" else 2e-6
    worst = 0.0
    for seed in SEEDS:
        x, y = batch(seed, n=2 + seed)
        for s, bias in ((10.0, -10.0), (1.0, 0.0), (100.0, -5.0)):
            a = [t(x, tdt).requires_grad_(), t(y, tdt).requires_grad_()]
            sb = [torch.tensor(v, dtype=tdt, requires_grad=True) for v in (s, bias)]
            got = lossatlas.siglip_loss(*a, logit_scale=sb[0], logit_bias=sb[1])
            ga = torch.autograd.grad(got, [*a, *sb])
            b = [t(x, tdt).requires_grad_(), t(y, tdt).requires_grad_()]
            sb2 = [torch.tensor(v, dtype=tdt, requires_grad=True) for v in (s, bias)]
            want = open_clip_siglip_loss(normalized(b[0]), normalized(b[1]), *sb2)
            gb = torch.autograd.grad(want, [*b, *sb2])
            err = abs(got.item() - want.item()) / want.item()
            worst = max(worst, err)
            assert err < rtol, (seed, s, err)
            for u, v in zip(ga, gb, strict=True):
                torch.testing.assert_close(u, v, rtol=rtol * 50, atol=rtol * 50)
    print(f"siglip_loss vs open_clip ({dtype}): max relative error {worst:.2e}")


def test_clip_and_siglip_without_normalisation_equal_open_clip_on_raw_features():
    for seed in SEEDS:
        x, y = batch(seed, n=5, scale=0.3)
        got = lossatlas.clip_loss(t(x), t(y), logit_scale=3.0, normalize=False)
        want = open_clip_clip_loss(t(x), t(y), 3.0)
        assert abs(float(got) - float(want)) < 1e-12 * float(want)
        got = lossatlas.siglip_loss(t(x), t(y), logit_scale=3.0, logit_bias=-1.0,
                                    normalize=False)  # fmt: skip
        want = open_clip_siglip_loss(t(x), t(y), 3.0, -1.0)
        assert abs(float(got) - float(want)) < 1e-12 * float(want)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_nt_xent_equals_optax_and_pml(dtype):
    """nt_xent(z1, z2) == optax.losses.ntxent(concat(z1, z2), labels [0..N-1, 0..N-1]) (its
    cosine similarity has an epsilon of the dtype's eps on |x||y|: none here, the norms are
    ~1) and == pytorch-metric-learning's NTXentLoss with the same labels."""
    rtol = 1e-12 if dtype == "float64" else 2e-6
    worst = 0.0
    ntxent = jax.jit(optax.losses.ntxent)  # one compilation: every batch has one shape
    for seed in SEEDS:
        z1, z2 = batch(seed, n=6)
        for temperature in (0.07, 0.5, 1.0):
            got = float(lossatlas.nt_xent(z1.astype(dtype), z2.astype(dtype),
                                          temperature=temperature))  # fmt: skip
            n = len(z1)
            labels = np.concatenate([np.arange(n), np.arange(n)])
            both = np.concatenate([z1, z2]).astype(dtype)
            ref_optax = float(ntxent(jnp.asarray(both), jnp.asarray(labels), temperature))
            ref_pml = float(pml.NTXentLoss(temperature=temperature)(t(both), t(labels)))
            for ref in (ref_optax, ref_pml):
                err = abs(got - ref) / ref
                worst = max(worst, err)
                assert err < rtol, (seed, temperature, got, ref)
    print(f"nt_xent vs optax, PML ({dtype}): max relative error {worst:.2e}")


def test_nt_xent_gradient_equals_pml():
    for seed in SEEDS[:6]:
        z1, z2 = batch(seed, n=4)
        a = [t(z1).requires_grad_(), t(z2).requires_grad_()]
        g = torch.autograd.grad(lossatlas.nt_xent(*a, temperature=0.3), a)
        both = torch.cat([t(z1), t(z2)]).requires_grad_()
        labels = torch.cat([torch.arange(4), torch.arange(4)])
        (gb,) = torch.autograd.grad(pml.NTXentLoss(temperature=0.3)(both, labels), both)
        torch.testing.assert_close(torch.cat(g), gb, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_supervised_contrastive_equals_pml(dtype):
    """supervised_contrastive == pytorch-metric-learning's SupConLoss (AvgNonZeroReducer: the
    mean over anchors with a positive, as ours), values and gradients, random labels with
    some anchors alone in their class (excluded by both)."""
    tdt = getattr(torch, dtype)
    rtol = 1e-11 if dtype == "float64" else 3e-6
    worst = 0.0
    for seed in SEEDS:
        rng = np.random.default_rng(100 + seed)
        n = 4 + seed
        x = rng.normal(size=(n, 6))
        labels = rng.integers(0, max(2, n // 2), size=n)
        labels[:2] = (0, 1)  # two classes at least: PML gives 0 without a negative
        for temperature in (0.07, 0.1, 0.5):
            a = t(x, tdt).requires_grad_()
            got = lossatlas.supervised_contrastive(a, t(labels, torch.int64),
                                                   temperature=temperature)  # fmt: skip
            (ga,) = torch.autograd.grad(got, a)
            b = t(x, tdt).requires_grad_()
            want = pml.SupConLoss(temperature=temperature)(b, t(labels, torch.int64))
            (gb,) = torch.autograd.grad(want, b)
            err = abs(got.item() - want.item()) / want.item()
            worst = max(worst, err)
            assert err < rtol, (seed, temperature, float(got), float(want))
            torch.testing.assert_close(ga, gb, rtol=rtol * 100, atol=rtol * 10)
    print(f"supervised_contrastive vs PML ({dtype}): max relative error {worst:.2e}")


def test_info_nce_is_cross_entropy_against_the_diagonal():
    """info_nce == torch's cross_entropy of (q k^T / T) rows against arange(N) on normalised
    embeddings (MoCo's in-batch form), and with normalize=False on the raw ones; and == PML's
    NTXentLoss restricted to query-key pairs (its positive pair and the other keys)."""
    for seed in SEEDS:
        q, k = batch(seed, n=3 + seed)
        for temperature in (0.07, 0.2, 1.0):
            got = float(lossatlas.info_nce(q, k, temperature=temperature))
            logits = normalized(t(q)) @ normalized(t(k)).T / temperature
            want = float(F.cross_entropy(logits, torch.arange(len(q))))
            assert abs(got - want) < 1e-12 * want
            got = float(lossatlas.info_nce(q, k, temperature=temperature, normalize=False))
            want = float(F.cross_entropy(t(q) @ t(k).T / temperature, torch.arange(len(q))))
            assert abs(got - want) < 1e-12 * want


def test_clip_loss_is_the_mean_of_two_info_nce():
    """clip_loss(x, y, s) == (info_nce(x, y, T) + info_nce(y, x, T)) / 2 at T = 1/s."""
    for seed in SEEDS:
        x, y = batch(seed)
        got = float(lossatlas.clip_loss(x, y, logit_scale=20.0))
        want = 0.5 * float(lossatlas.info_nce(x, y, temperature=0.05) +
                           lossatlas.info_nce(y, x, temperature=0.05))  # fmt: skip
        assert abs(got - want) < 1e-12 * want


def test_siglip_is_the_mean_logistic_loss_on_the_pair_logits():
    """SigLIP == N * mean over the N^2 pairs of logistic_loss(z_nm, y_nm) with y = +1 on the
    diagonal and -1 elsewhere (lossatlas's margin loss log(1 + e^{-y z})), and the same with
    binary_cross_entropy_with_logits against 0/1 labels: the mapping is y01 = (y + 1) / 2,
    and SigLIP's normalisation is a sum over pairs divided by N, so the mean is times N."""
    for seed in SEEDS:
        x, y = batch(seed, n=2 + seed)
        n = len(x)
        s, b = 7.5, -3.0
        got = float(lossatlas.siglip_loss(x, y, logit_scale=s, logit_bias=b))
        unit = lambda a: a / np.linalg.norm(a, axis=-1, keepdims=True)  # noqa: E731
        z = s * unit(x) @ unit(y).T + b
        sign = 2.0 * np.eye(n) - 1.0
        logistic = float(lossatlas.logistic_loss(z.ravel(), sign.ravel()))
        bce = float(lossatlas.binary_cross_entropy_with_logits(z.ravel(), np.eye(n).ravel()))
        assert abs(got - n * logistic) < 1e-12 * got
        assert abs(got - n * bce) < 1e-12 * got


# ---- closed forms -----------------------------------------------------------------------------
def test_orthonormal_pairs_closed_form():
    """Orthonormal embeddings with each positive pair identical: every positive similarity 1,
    every negative 0. InfoNCE = log(e^{1/T} + N - 1) - 1/T; CLIP the same at 1/T = s;
    SigLIP = softplus(-(s + b)) + (N - 1) softplus(b); NT-Xent = log(e^{1/T} + 2N - 2) - 1/T;
    SupCon with the two views of each sample labelled alike: the same as NT-Xent."""
    n = 5
    e = np.eye(n)
    T = 0.25
    want = math.log(math.exp(1 / T) + n - 1) - 1 / T
    assert abs(float(lossatlas.info_nce(e, e, temperature=T)) - want) < 1e-14
    assert abs(float(lossatlas.clip_loss(e, e, logit_scale=1 / T)) - want) < 1e-14
    s, b = 10.0, -4.0

    def softplus(v):
        return math.log1p(math.exp(v))

    want = softplus(-(s + b)) + (n - 1) * softplus(b)
    got = float(lossatlas.siglip_loss(e, e, logit_scale=s, logit_bias=b))
    assert abs(got - want) < 1e-14 * want
    want = math.log(math.exp(1 / T) + 2 * n - 2) - 1 / T
    assert abs(float(lossatlas.nt_xent(e, e, temperature=T)) - want) < 1e-13
    labels = np.concatenate([np.arange(n), np.arange(n)])
    got = float(lossatlas.supervised_contrastive(np.concatenate([e, e]), labels, temperature=T))
    assert abs(got - want) < 1e-13


def test_scale_and_direction():
    """Normalised losses do not see the embeddings' norms; N = 1 gives InfoNCE 0."""
    x, y = batch(3)
    a = float(lossatlas.clip_loss(x, y, logit_scale=5.0))
    b = float(lossatlas.clip_loss(1e-3 * x, 1e3 * y, logit_scale=5.0))
    assert abs(a - b) < 1e-13 * a
    assert float(lossatlas.info_nce(x[:1], y[:1])) == 0.0


def test_huge_and_tiny_embeddings_normalise():
    """The squares of |x| = 1e200 would overflow, of 1e-200 underflow: normalised first by
    max|x|, the loss equals that of unit-size inputs."""
    x, y = batch(4)
    ref = float(lossatlas.info_nce(x, y))
    for scale in (1e200, 1e-200):
        assert abs(float(lossatlas.info_nce(x * scale, y)) - ref) < 1e-13 * ref
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    got = float(lossatlas.info_nce(x32 * np.float32(1e30), y32))
    assert abs(got - ref) < 1e-5 * ref


# ---- degenerate inputs ------------------------------------------------------------------------
def _finite_grads(name: str, arrays: list[np.ndarray], dtype=torch.float64, **params):
    loss = lossatlas.get(name)
    leaves = [t(a, dtype).requires_grad_() if a.dtype.kind == "f" else t(a, torch.int64)
              for a in arrays]  # fmt: skip
    out = loss(*leaves, **params)
    grads = torch.autograd.grad(out, [v for v in leaves if v.requires_grad])
    assert torch.isfinite(out), (name, out)
    for g in grads:
        assert torch.isfinite(g).all(), (name, g)
    return float(out)


PARAMS = {
    "info_nce": {},
    "nt_xent": {},
    "clip_loss": {"logit_scale": 100.0},
    "siglip_loss": {"logit_scale": 100.0, "logit_bias": -10.0},
}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("name", sorted(PARAMS))
def test_identical_and_zero_embeddings_are_finite(name, dtype):
    """Identical embeddings everywhere (every similarity 1), one zero vector, all zero
    vectors (every similarity 0: log N for InfoNCE), logit_scale 100 in float32."""
    x, _ = batch(5, n=4)
    same = np.tile(x[:1], (4, 1))
    _finite_grads(name, [same, same], dtype, **PARAMS[name])
    zero_one = x.copy()
    zero_one[2] = 0.0
    _finite_grads(name, [zero_one, x], dtype, **PARAMS[name])
    zeros = np.zeros((4, 5))
    value = _finite_grads(name, [zeros, zeros], dtype, **PARAMS[name])
    if name == "info_nce":
        assert abs(value - math.log(4)) < 1e-6


def test_supervised_contrastive_degenerate():
    """Identical embeddings; zero vectors; no anchor with a positive (loss 0, a connected
    gradient, weight 0 in a mean over problems); one class for all (no negative)."""
    x, _ = batch(6, n=4)
    labels = np.array([0, 0, 1, 1])
    _finite_grads("supervised_contrastive", [np.tile(x[:1], (4, 1)), labels])
    _finite_grads("supervised_contrastive", [np.zeros((4, 5)), labels])
    assert _finite_grads("supervised_contrastive", [x, np.arange(4)]) == 0.0
    value = _finite_grads("supervised_contrastive", [x, np.zeros(4, dtype=np.int64)])
    assert value >= 0.0
    # a batch of two problems, the second without positives, reduces over the first only
    xs = np.stack([x, x])
    ls = np.stack([labels, np.arange(4)])
    both = float(lossatlas.supervised_contrastive(xs, ls))
    assert abs(both - float(lossatlas.supervised_contrastive(x, labels))) < 1e-15


def test_float32_at_logit_scale_100_matches_float64():
    for seed in SEEDS[:4]:
        x, y = batch(seed, n=64, d=16)
        for name, params in PARAMS.items():
            loss = lossatlas.get(name)
            v64 = float(loss(t(x), t(y), **params))
            v32 = float(loss(t(x, torch.float32), t(y, torch.float32), **params))
            assert abs(v32 - v64) <= 1e-5 * (1 + abs(v64)), (name, v32, v64)


# ---- bad inputs -------------------------------------------------------------------------------
def test_bad_inputs_raise():
    x, y = batch(0, n=4)
    for bad in (0.0, -1.0):
        with pytest.raises(LossInputError, match="temperature"):
            lossatlas.info_nce(x, y, temperature=bad)
        with pytest.raises(LossInputError, match="temperature"):
            lossatlas.nt_xent(x, y, temperature=bad)
        with pytest.raises(LossInputError, match="logit_scale"):
            lossatlas.clip_loss(x, y, logit_scale=bad)
        with pytest.raises(LossInputError, match="logit_scale"):
            lossatlas.siglip_loss(x, y, logit_scale=np.asarray(bad), logit_bias=0.0)
    with pytest.raises(LossInputError, match="key"):  # mismatched dims
        lossatlas.info_nce(x, y[:, :3])
    with pytest.raises(LossInputError, match="text_emb"):  # mismatched batch sizes
        lossatlas.clip_loss(x, y[:3], logit_scale=1.0)
    with pytest.raises(LossInputError, match="z2"):
        lossatlas.nt_xent(x, y[:, None])
    with pytest.raises(LossInputError, match="labels"):
        lossatlas.supervised_contrastive(x, np.zeros(3, dtype=np.int64))
    with pytest.raises(LossInputError, match="labels"):
        lossatlas.supervised_contrastive(x, np.zeros(4))  # float labels
    with pytest.raises(LossInputError, match="logit_scale"):
        lossatlas.clip_loss(x, y, logit_scale=np.ones(3))
    with pytest.raises(TypeError):
        lossatlas.clip_loss(x, y)  # logit_scale is required


# ---- torch modules ----------------------------------------------------------------------------
def test_torch_modules():
    """The modules: a learnable logit_scale / logit_bias as nn.Parameters (an optimizer step
    moves them), or given per call as open_clip's forward takes them."""
    x, y = batch(1, n=6)
    a, b = t(x), t(y)
    module = lt.ClipLoss(logit_scale=torch.tensor(14.0, dtype=torch.float64))
    assert isinstance(module.logit_scale, torch.nn.Parameter)
    value = module(a, b)
    value.backward()
    assert module.logit_scale.grad is not None and torch.isfinite(module.logit_scale.grad)
    assert torch.allclose(value, lossatlas.clip_loss(a, b, logit_scale=14.0))
    per_call = lt.ClipLoss()(a, b, logit_scale=torch.tensor(14.0, dtype=torch.float64))
    assert torch.allclose(per_call, value)
    sig = lt.SigLipLoss(logit_scale=torch.tensor(10.0, dtype=torch.float64),
                        logit_bias=torch.tensor(-10.0, dtype=torch.float64))  # fmt: skip
    assert {n for n, _ in sig.named_parameters()} == {"logit_scale", "logit_bias"}
    v = sig(a, b)
    assert torch.allclose(v, lossatlas.siglip_loss(a, b, logit_scale=10.0, logit_bias=-10.0))
    assert torch.allclose(lt.InfoNCELoss(temperature=0.2)(a, b),
                          lossatlas.info_nce(a, b, temperature=0.2))  # fmt: skip
    assert torch.allclose(lt.NTXentLoss()(a, b), lossatlas.nt_xent(a, b))
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    assert torch.allclose(lt.SupConLoss()(a, labels), lossatlas.supervised_contrastive(a, labels))
    for name in ("info_nce", "nt_xent", "supervised_contrastive", "clip_loss", "siglip_loss"):
        assert name in lt.MODULES
