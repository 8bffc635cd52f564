"""cross_entropy against torch, optax and Keras, its torch module, its fast path and its
reductions with implicit weights.

References: ``torch.nn.functional.cross_entropy`` (class weights, ``ignore_index``, label
smoothing, alone and combined; index and probability targets; (N, C) and (N, C, d1, d2));
``optax.softmax_cross_entropy`` and ``softmax_cross_entropy_with_integer_labels``; Keras 3's
``CategoricalCrossentropy`` and ``SparseCategoricalCrossentropy`` (from logits and from
probabilities, with label smoothing) on the JAX backend, a float32 reference (it accumulates
in float32). lossatlas's class axis is ``axis`` (-1 by default; torch's is 1).
"""

# ruff: noqa: E402
from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import itertools
import math

import jax
import jax.numpy as jnp

jax.config.update("jax_enable_x64", True)

import keras
import numpy as np
import optax
import pytest
import torch
import torch.nn.functional as F

import lossatlas as la
import lossatlas.torch as lt

OPTIONS = [
    {},
    {"weight": True},
    {"ignore_index": -100},
    {"label_smoothing": 0.2},
    {"weight": True, "ignore_index": 1},
    {"weight": True, "label_smoothing": 0.1},
    {"ignore_index": -100, "label_smoothing": 0.3},
    {"weight": True, "ignore_index": -100, "label_smoothing": 0.15},
]
SHAPES = [(7, 5), (4, 3, 2, 3), (1, 2)]  # (N, C) and (N, C, d1, d2) in torch's layout


def inputs(shape, options, seed, dtype=torch.float64, probabilities=False):
    gen = torch.Generator().manual_seed(seed)
    logits = (torch.randn(shape, generator=gen, dtype=torch.float64) * 3).to(dtype)
    n, c = shape[0], shape[1]
    labels = torch.randint(0, c, (n, *shape[2:]), generator=gen)
    ignore = options.get("ignore_index")
    if ignore is not None:
        labels = torch.where(torch.rand(labels.shape, generator=gen) < 0.3, ignore, labels)
    if probabilities:
        labels = torch.softmax(torch.randn(shape, generator=gen, dtype=torch.float64), 1).to(dtype)
    weight = torch.rand(c, generator=gen, dtype=torch.float64).to(dtype) + 0.2
    return logits, labels, weight if options.get("weight") else None


def ours_kwargs(options, weight):
    return {
        "axis": 1,
        "class_weight": weight,
        "ignore_index": options.get("ignore_index"),
        "label_smoothing": options.get("label_smoothing", 0.0),
    }


def torch_kwargs(options, weight):
    out = {"weight": weight, "label_smoothing": options.get("label_smoothing", 0.0)}
    if options.get("ignore_index") is not None:
        out["ignore_index"] = options["ignore_index"]
    return out


CASES = [
    pytest.param(o, s, id=f"{'-'.join(f'{k}={v}' for k, v in o.items()) or 'plain'}-{s}")
    for o, s in itertools.product(OPTIONS, SHAPES)
]


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize(("options", "shape"), CASES)
@pytest.mark.parametrize("path", ["default", "composed"])
def test_equals_torch_with_index_targets(options, shape, reduction, path):
    """Values and gradients with respect to the logits equal F.cross_entropy, including its
    mean sum(w[y] l) / sum(w[y]) over the samples not ignored."""
    for seed in range(3):
        logits, labels, weight = inputs(shape, options, seed)
        if (labels == options.get("ignore_index", -100)).all():
            continue  # torch gives NaN for a mean over nothing (ours is 0: tested apart)
        a, b = logits.clone().requires_grad_(), logits.clone().requires_grad_()
        fn = la.cross_entropy if path == "default" else la.cross_entropy.composed
        ours = fn(a, labels, reduction=reduction, **ours_kwargs(options, weight))
        theirs = F.cross_entropy(b, labels, reduction=reduction, **torch_kwargs(options, weight))
        torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-13)
        seed_out = torch.linspace(0.5, 1.5, ours.numel(), dtype=ours.dtype).reshape(ours.shape)
        (ours * seed_out).sum().backward()
        (theirs * seed_out).sum().backward()
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("options", [{}, {"weight": True}, {"label_smoothing": 0.2},
                                     {"weight": True, "label_smoothing": 0.1}])  # fmt: skip
@pytest.mark.parametrize("shape", SHAPES[:2])
def test_equals_torch_with_probability_targets(options, shape):
    for seed in range(3):
        logits, probs, weight = inputs(shape, options, seed, probabilities=True)
        for reduction in ("none", "sum", "mean"):
            a, b = logits.clone().requires_grad_(), logits.clone().requires_grad_()
            ours = la.cross_entropy(a, probs, reduction=reduction, **ours_kwargs(options, weight))
            theirs = F.cross_entropy(b, probs, reduction=reduction,
                                     **torch_kwargs(options, weight))  # fmt: skip
            torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-13)
            ours.sum().backward()
            theirs.sum().backward()
            torch.testing.assert_close(a.grad, b.grad, rtol=1e-11, atol=1e-13)


def test_float32_equals_torch():
    logits, labels, weight = inputs((64, 10), {"weight": True}, 0, dtype=torch.float32)
    torch.testing.assert_close(
        la.cross_entropy(logits, labels, class_weight=weight),
        F.cross_entropy(logits, labels, weight=weight),
        rtol=2e-6,
        atol=1e-6,
    )


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_equals_optax(smoothing):
    """optax's softmax cross entropy with integer labels and with (smoothed) one-hot
    targets, values and jax.grad, in float64."""
    rng = np.random.default_rng(3)
    logits = jnp.asarray(rng.normal(size=(6, 4, 7)) * 2)
    labels = jnp.asarray(rng.integers(0, 7, size=(6, 4)))
    onehot = jax.nn.one_hot(labels, 7, dtype=jnp.float64)
    smoothed = optax.smooth_labels(onehot, smoothing) if smoothing else onehot
    theirs = optax.softmax_cross_entropy(logits, smoothed)
    ours = la.cross_entropy(logits, labels, label_smoothing=smoothing, reduction="none")
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-12)
    if not smoothing:
        theirs = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-12)
    g_ours = jax.grad(lambda z: la.cross_entropy(z, labels, label_smoothing=smoothing))(logits)
    g_theirs = jax.grad(lambda z: optax.softmax_cross_entropy(z, smoothed).mean())(logits)
    np.testing.assert_allclose(np.asarray(g_ours), np.asarray(g_theirs), rtol=1e-10, atol=1e-14)
    grad = la.cross_entropy.grad(np.asarray(logits), np.asarray(labels), label_smoothing=smoothing)
    np.testing.assert_allclose(grad / 24, np.asarray(g_theirs), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("from_logits", [True, False])
def test_equals_keras(from_logits, smoothing):
    """Keras 3's categorical and sparse categorical cross entropy; on probabilities within
    Keras's clip [1e-7, 1 - 1e-7] (it also divides by their sum, which is 1 here)."""
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(16, 5)).astype(np.float32)
    labels = rng.integers(0, 5, size=16)
    scores = logits if from_logits else np.asarray(jax.nn.softmax(logits, axis=-1))
    onehot = np.eye(5, dtype=np.float32)[labels]
    theirs = keras.losses.CategoricalCrossentropy(
        from_logits=from_logits, label_smoothing=smoothing, reduction=None
    )(onehot, scores)
    ours = la.cross_entropy(
        scores, labels, from_logits=from_logits, label_smoothing=smoothing, reduction="none"
    )
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=2e-5, atol=1e-6)
    if not smoothing:
        sparse = keras.losses.SparseCategoricalCrossentropy(
            from_logits=from_logits, reduction=None
        )(labels, scores)
        np.testing.assert_allclose(np.asarray(ours), np.asarray(sparse), rtol=2e-5, atol=1e-6)
    probs = la.cross_entropy(scores, onehot, from_logits=from_logits,
                             label_smoothing=smoothing, reduction="none")  # fmt: skip
    np.testing.assert_allclose(np.asarray(probs), np.asarray(theirs), rtol=2e-5, atol=1e-6)


def test_the_fast_path_is_taken_and_equals_the_definition_with_every_option():
    """On torch the default path runs lossatlas's own Function (never F.cross_entropy, which
    loses the small losses), equal to the composed definition in values, gradients and
    double backward."""
    for options in OPTIONS:
        logits, labels, weight = inputs((9, 6, 2), options, 5)
        a = logits.clone().requires_grad_()
        b = logits.clone().requires_grad_()
        ours = la.cross_entropy(a, labels, reduction="sum", **ours_kwargs(options, weight))
        ref = la.cross_entropy.composed(b, labels, reduction="sum",
                                        **ours_kwargs(options, weight))  # fmt: skip
        torch.testing.assert_close(ours, ref, rtol=1e-13, atol=1e-13)
        (ga,) = torch.autograd.grad(ours, a, create_graph=True)
        (gb,) = torch.autograd.grad(ref, b, create_graph=True)
        torch.testing.assert_close(ga, gb, rtol=1e-12, atol=1e-14)
        v = torch.linspace(-1, 1, ga.numel(), dtype=ga.dtype).reshape(ga.shape)
        (ha,) = torch.autograd.grad((ga * v).sum(), a)
        (hb,) = torch.autograd.grad((gb * v).sum(), b)
        torch.testing.assert_close(ha, hb, rtol=1e-10, atol=1e-12)


def test_implicit_weights_and_user_weights_combine():
    """The user's weight multiplies the implicit weight (class weight of the true class, 0 if
    ignored) in the denominator of "mean"; "sum_by_nonzero_weights" counts the nonzero ones."""
    logits, labels, weight = inputs((10, 4), {"weight": True, "ignore_index": -100}, 7)
    sample = torch.rand(10, dtype=torch.float64)
    kw = ours_kwargs({"ignore_index": -100}, weight)
    values = la.cross_entropy(logits, labels, reduction="none", **kw)
    implicit = torch.where(labels == -100, 0.0, weight[labels.clamp(min=0)])
    torch.testing.assert_close(
        la.cross_entropy(logits, labels, weight=sample, **kw),
        (sample * values).sum() / (sample * implicit).sum(),
    )
    torch.testing.assert_close(
        la.cross_entropy(logits, labels, weight=sample, reduction="sum_by_nonzero_weights", **kw),
        (sample * values).sum() / ((sample * implicit) != 0).sum(),
    )
    torch.testing.assert_close(
        la.cross_entropy(logits, labels, weight=sample, reduction="none", **kw), sample * values
    )


# ---- the torch module ---------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize(("options", "shape"), CASES)
def test_module_is_a_drop_in_for_torch(options, shape, reduction):
    """lt.CrossEntropyLoss takes torch's names (weight = class weights, ignore_index=-100 by
    default, dim=1), so (N, C, H, W) logits work as in torch."""
    logits, labels, weight = inputs(shape, options, 11)
    if options.get("ignore_index", -100) != -100:
        labels = torch.where(labels == options["ignore_index"], -100, labels)
    if (labels == -100).all():
        return
    kwargs = {"weight": weight, "label_smoothing": options.get("label_smoothing", 0.0),
              "reduction": reduction}  # fmt: skip
    ours = lt.CrossEntropyLoss(**kwargs)
    theirs = torch.nn.CrossEntropyLoss(**kwargs)
    a, b = logits.clone().requires_grad_(), logits.clone().requires_grad_()
    out, ref = ours(a, labels), theirs(b, labels)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-13)
    out.sum().backward()
    ref.sum().backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-11, atol=1e-13)


def test_module_unbatched_weights_buffers_and_compile():
    """A 1-D input is one sample (class axis 0, as in torch); the class weight is a buffer
    that follows .to(); a per-sample weight multiplies; compile=True equals eager."""
    gen = torch.Generator().manual_seed(2)
    z = torch.randn(5, generator=gen, dtype=torch.float64)
    criterion = lt.CrossEntropyLoss(weight=torch.rand(5, dtype=torch.float64) + 0.5)
    reference = torch.nn.CrossEntropyLoss(weight=criterion.class_weight)
    torch.testing.assert_close(criterion(z, torch.tensor(3)), reference(z, torch.tensor(3)))
    assert "class_weight" in dict(criterion.named_buffers())
    assert criterion.to(torch.float32).class_weight.dtype == torch.float32
    logits = torch.randn(6, 4, 3, generator=gen)
    labels = torch.randint(0, 4, (6, 3), generator=gen)
    per_sample = torch.rand(6, 3, generator=gen)
    eager = lt.CrossEntropyLoss()(logits, labels, weight=per_sample)
    expected = (per_sample * F.cross_entropy(logits, labels, reduction="none")).sum()
    torch.testing.assert_close(eager, expected / per_sample.sum())
    compiled = lt.CrossEntropyLoss(compile=True)(logits, labels, weight=per_sample)
    torch.testing.assert_close(compiled, eager, rtol=1e-5, atol=1e-6)
    assert "dim=1" in repr(lt.CrossEntropyLoss())


# ---- language-model options: z-loss, soft-capping, and the chunked torch function ---------------
def _torch_ce_with_options(z, y, *, softcap=None, z_loss=0.0, reduction="mean", **kwargs):
    """The options as torch users write them: cap, F.cross_entropy, plus z_loss lse^2 (masked
    and averaged like the cross entropy: weighted by A, the sample's target weight)."""
    capped = z if softcap is None else softcap * torch.tanh(z / softcap)
    ce = F.cross_entropy(capped, y, reduction="none", **kwargs)
    weight, ignore = kwargs.get("weight"), kwargs.get("ignore_index", -100)
    s = kwargs.get("label_smoothing", 0.0)
    valid = (y != ignore).to(z.dtype)
    label = torch.where(y != ignore, y, 0)
    w_y = torch.ones_like(valid) if weight is None else weight[label]
    total_w = z.shape[1] if weight is None else weight.sum()
    a = ((1 - s) * w_y + s / z.shape[1] * total_w) * valid
    per_sample = ce + z_loss * a * torch.logsumexp(capped, dim=1) ** 2
    if reduction == "none":
        return per_sample
    if reduction == "sum":
        return per_sample.sum()
    return per_sample.sum() / (w_y * valid).sum()


LM_OPTIONS = [
    {"z_loss": 1e-4},
    {"softcap": 5.0},
    {"softcap": 30.0, "z_loss": 1e-2, "label_smoothing": 0.1},
    {"z_loss": 0.5, "ignore_index": 2, "weight": True},
    {"softcap": 2.0, "z_loss": 0.1, "label_smoothing": 0.2, "weight": True, "ignore_index": 1},
]


@pytest.mark.parametrize("options", LM_OPTIONS, ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_z_loss_and_softcap_equal_the_torch_formula(options, reduction):
    """softcap c: logits become c tanh(z / c) first (Gemma 2); z_loss: + z A lse^2 (PaLM),
    on the torch path (the chunked Function) and the composed definition, values and
    gradients, over random logits of every scale."""
    gen = torch.Generator().manual_seed(3)
    z = (
        torch.randn(64, 7, generator=gen, dtype=torch.float64)
        * torch.tensor([0.1, 1.0, 10.0, 100.0]).repeat(16)[:, None]
    )
    y = torch.randint(0, 7, (64,), generator=gen)
    options = dict(options)
    weight = (
        torch.rand(7, generator=gen, dtype=torch.float64) + 0.1
        if options.pop("weight", 0)
        else None
    )
    torch_kwargs = {k: v for k, v in options.items() if k in ("label_smoothing", "ignore_index")}
    ours_kwargs = {**options, "class_weight": weight}
    ref_z = z.clone().requires_grad_()
    ref = _torch_ce_with_options(
        ref_z, y, reduction=reduction, weight=weight, softcap=options.get("softcap"),
        z_loss=options.get("z_loss", 0.0), **torch_kwargs,
    )  # fmt: skip
    (ref_g,) = torch.autograd.grad(ref.sum(), ref_z)
    for fn in (la.cross_entropy, la.cross_entropy.composed):
        a = z.clone().requires_grad_()
        ours = fn(a, y, axis=1, reduction=reduction, **ours_kwargs)
        torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-14)
        (g,) = torch.autograd.grad(ours.sum(), a)
        torch.testing.assert_close(g, ref_g, rtol=1e-11, atol=1e-14)
    numpy_kwargs = {**ours_kwargs, "class_weight": None if weight is None else weight.numpy()}
    np.testing.assert_allclose(
        la.cross_entropy.grad(z.numpy(), y.numpy(), **numpy_kwargs),
        la.cross_entropy.grad(z, y, **ours_kwargs).numpy(),
        rtol=1e-13,
        atol=1e-15,
    )


def test_z_loss_and_softcap_derivatives_equal_jax_autodiff():
    """grad and the Hessian diagonal against jax.hessian of the composed definition."""
    with jax.enable_x64(True):
        rng = np.random.default_rng(0)
        z, y = rng.normal(size=(5, 6)) * 4, rng.integers(0, 6, 5)
        for options in LM_OPTIONS:
            options = {k: v for k, v in options.items() if k != "weight"}
            f = lambda v, o=options: la.cross_entropy(v, jnp.asarray(y), reduction="sum", **o)  # noqa: E731
            grad = jax.grad(f)(jnp.asarray(z))
            hess = jax.hessian(f)(jnp.asarray(z))
            diag = np.stack([np.diag(hess[i, :, i, :]) for i in range(5)])
            np.testing.assert_allclose(la.cross_entropy.grad(z, y, **options), grad, atol=1e-12)
            np.testing.assert_allclose(la.cross_entropy.hess(z, y, **options), diag, atol=1e-12)


def test_z_loss_is_not_convex_where_the_log_sum_exp_is_very_negative():
    """z A lse^2 has Hessian (1 + 2 z lse) H_ce + 2 z A p p^T: a negative direction once
    lse < -1/(2 z), the reason the z-loss settings are declared non-convex."""
    with jax.enable_x64(True):
        z_loss = 1e-2
        logits = jnp.array([0.0, 1.0, -1.0]) - 100.0  # lse = -98.6 < -1 / (2 z) = -50
        f = lambda v: la.cross_entropy(v, jnp.array(0), z_loss=z_loss)  # noqa: E731
        assert np.linalg.eigvalsh(np.asarray(jax.hessian(f)(logits))).min() < -1e-3
        assert not la.cross_entropy.properties(z_loss=z_loss).convex
        assert la.cross_entropy.properties(softcap=30.0).bounded


def test_softcap_limits_and_option_errors():
    """+-inf logits become +-softcap (finite loss and gradient); the options act on logits,
    so they are refused with from_logits=False and as boosting objectives."""
    z = torch.tensor([[math.inf, 0.0, -math.inf]], dtype=torch.float64, requires_grad=True)
    loss = la.cross_entropy(z, torch.tensor([2]), softcap=3.0)
    capped = torch.tensor([[3.0, 0.0, -3.0]], dtype=torch.float64)
    assert float(loss) == pytest.approx(float(F.cross_entropy(capped, torch.tensor([2]))))
    loss.backward()
    assert torch.all(z.grad[:, [0, 2]] == 0) and torch.isfinite(z.grad).all()
    probs = np.full((2, 3), 1 / 3)
    for option in ({"softcap": 3.0}, {"z_loss": 0.1}):
        with pytest.raises(la.LossInputError, match=next(iter(option))):
            la.cross_entropy(probs, np.array([0, 1]), from_logits=False, **option)
    from lossatlas import gbm

    with pytest.raises(la.LossInputError, match="z_loss"):
        gbm.xgboost_multiclass_objective("cross_entropy", z_loss=1e-4)


def test_the_torch_function_works_in_row_chunks():
    """No logits-sized temporary: with chunks of 1 KiB elements the largest tensor made in the
    forward pass (besides the logits) is a chunk, in the backward the gradient; the result
    equals the unchunked one bitwise per row."""
    from _torch_memory import LargestTensor

    from lossatlas.torch import _fast

    gen = torch.Generator().manual_seed(1)
    z = torch.randn(256, 64, generator=gen, dtype=torch.float64).requires_grad_()
    y = torch.randint(0, 64, (256,), generator=gen)
    options = {"label_smoothing": 0.1, "z_loss": 1e-3, "softcap": 4.0}
    whole = la.cross_entropy(z, y, reduction="none", **options)
    (g_whole,) = torch.autograd.grad(whole.sum(), z)
    saved = _fast.CE_CHUNK_ELEMENTS
    _fast.CE_CHUNK_ELEMENTS = 1024
    try:
        with LargestTensor() as forward:
            values = la.cross_entropy(z, y, reduction="none", **options)
        assert forward.largest <= 1024 < z.numel()
        with LargestTensor() as backward:
            (g,) = torch.autograd.grad(values.sum(), z)
        assert backward.largest == z.numel()  # the gradient itself, written chunk by chunk
    finally:
        _fast.CE_CHUNK_ELEMENTS = saved
    torch.testing.assert_close(values, whole, rtol=0, atol=0)
    torch.testing.assert_close(g, g_whole, rtol=0, atol=0)
