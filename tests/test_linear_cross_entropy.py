"""linear_cross_entropy (torch and JAX): the fused head + softmax cross entropy equals the
naive F.linear + F.cross_entropy (optax on JAX) in value and in every gradient, in float64 to
~1e-12, for every option; float32 and bfloat16 stay close; no logits-sized tensor is built;
vocabulary shards combine exactly; bad inputs raise LossInputError."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
import pytest
import torch
import torch.nn.functional as F
from _torch_memory import LargestTensor

import lossatlas as la
from lossatlas import LossInputError
from lossatlas.jax import linear_cross_entropy as jax_lce
from lossatlas.torch import (
    LinearCrossEntropyLoss,
    combine_linear_cross_entropy_stats,
    linear_cross_entropy,
    linear_cross_entropy_stats,
)
from lossatlas.torch.linear_ce import default_chunk_size

F64 = dict(rtol=1e-12, atol=1e-13)


def make(shape, hidden, vocab, *, dtype=torch.float64, bias=True, seed=0, ignore=None, frac=0.3):
    gen = torch.Generator().manual_seed(seed)
    h = torch.randn(*shape, hidden, generator=gen, dtype=torch.float64)
    w = torch.randn(vocab, hidden, generator=gen, dtype=torch.float64) / hidden**0.5 * 3
    b = torch.randn(vocab, generator=gen, dtype=torch.float64) if bias else None
    y = torch.randint(0, vocab, shape, generator=gen)
    if ignore is not None:
        y = torch.where(torch.rand(shape, generator=gen) < frac, ignore, y)
    cast = [t if t is None else t.to(dtype).requires_grad_(True) for t in (h, w, b)]
    return *cast, y


def reference(
    h,
    w,
    y,
    bias=None,
    ignore_index=None,
    label_smoothing=0.0,
    softcap=None,
    z_loss=0.0,
    reduction="mean",
):
    """The naive version: the materialised logits through F.cross_entropy."""
    z = F.linear(h, w, bias)
    if softcap is not None:
        z = softcap * torch.tanh(z / softcap)
    z = z.reshape(-1, w.shape[0])
    yy = y.reshape(-1)
    ii = -100 if ignore_index is None else ignore_index
    values = F.cross_entropy(
        z, yy, ignore_index=ii, label_smoothing=label_smoothing, reduction="none"
    )
    valid = yy != ii
    if z_loss:
        values = values + z_loss * torch.logsumexp(z, dim=-1) ** 2 * valid
    if reduction == "none":
        return values.reshape(y.shape)
    if reduction == "sum":
        return values.sum()
    return values.sum() / valid.sum().clamp(min=1)


def grads(out, inputs, seed=1):
    """Gradients of <out, c> for a fixed random cotangent c (1.7 for a scalar)."""
    gen = torch.Generator().manual_seed(seed)
    c = torch.randn(out.shape, generator=gen, dtype=out.dtype) if out.ndim else 1.7
    wrt = [t for t in inputs if t is not None]
    return torch.autograd.grad((out * c).sum(), wrt)


def close(a, b, **tol):
    torch.testing.assert_close(a, b, **(tol or F64))


OPTIONS = [
    {},
    {"label_smoothing": 0.1},
    {"ignore_index": -100},
    {"ignore_index": 3},
    {"softcap": 2.5},
    {"z_loss": 1e-2},
    {"label_smoothing": 0.2, "ignore_index": -100, "softcap": 4.0, "z_loss": 0.05},
]
LAYOUTS = [  # (token shape, hidden, vocab, chunk_size, vocab_chunk_size, bias)
    ((13,), 8, 17, 4, None, True),
    ((2, 7), 5, 29, 3, 8, False),
    ((11,), 6, 40, None, 7, True),
    ((3, 2, 3), 4, 9, 5, 4, True),
]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o) or "plain")
@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda lay: f"{lay[0]}x{lay[1]}->{lay[2]}")
def test_float64_equals_naive(layout, options, reduction):
    shape, hidden, vocab, chunk, vchunk, bias = layout
    h, w, b, y = make(shape, hidden, vocab, bias=bias, ignore=options.get("ignore_index"))
    out = linear_cross_entropy(
        h, w, y, bias=b, reduction=reduction, chunk_size=chunk, vocab_chunk_size=vchunk, **options
    )
    ref = reference(h, w, y, bias=b, reduction=reduction, **options)
    assert out.shape == ref.shape and out.dtype == torch.float64
    close(out, ref)
    for g, r in zip(grads(out, (h, w, b)), grads(ref, (h, w, b)), strict=True):
        close(g, r)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_all_ignored_gives_zero_with_a_connected_graph(reduction):
    h, w, b, y = make((6,), 4, 7)
    y = torch.full_like(y, -100)
    out = linear_cross_entropy(
        h,
        w,
        y,
        bias=b,
        ignore_index=-100,
        reduction=reduction,
        chunk_size=4,
        z_loss=0.1,
        label_smoothing=0.1,
    )
    assert out.requires_grad and bool((out == 0).all())
    for g in grads(out, (h, w, b)):
        assert bool((g == 0).all())


def test_equals_lossatlas_cross_entropy():
    h, w, b, y = make((4, 5), 6, 11, ignore=2)
    for options in ({}, {"label_smoothing": 0.15}, {"ignore_index": 2}):
        out = linear_cross_entropy(h, w, y, bias=b, chunk_size=3, **options)
        ref = la.cross_entropy(F.linear(h, w, b), y, **options)
        close(out, ref)
        for g, r in zip(grads(out, (h, w, b)), grads(ref, (h, w, b)), strict=True):
            close(g, r)


def test_equals_lossatlas_cross_entropy_softcap_z_loss():
    h, w, b, y = make((4, 5), 6, 11, ignore=2)
    options = {"label_smoothing": 0.1, "ignore_index": 2, "softcap": 3.0, "z_loss": 0.02}
    for reduction in ("mean", "sum", "none"):
        out = linear_cross_entropy(h, w, y, bias=b, chunk_size=3, reduction=reduction, **options)
        ref = la.cross_entropy(F.linear(h, w, b), y, reduction=reduction, **options)
        close(out, ref)
        for g, r in zip(grads(out, (h, w, b)), grads(ref, (h, w, b)), strict=True):
            close(g, r)


def test_exact_where_the_loss_is_tiny():
    """A confident right answer: the loss is exp(-40) ~ 4e-18, not 0 (log_softmax rounds)."""
    h = torch.tensor([[1.0, 0.0]], dtype=torch.float64, requires_grad=True)
    w = torch.tensor([[40.0, 0.0], [0.0, 0.0]], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0])
    out = linear_cross_entropy(h, w, y)
    close(out, torch.tensor(torch.e**-40, dtype=torch.float64), rtol=1e-14, atol=0)
    (gh,) = torch.autograd.grad(out, h)
    close(gh[0, 0], torch.tensor(-40 * torch.e**-40, dtype=torch.float64), rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    ("dtype", "value_tol", "grad_tol"),
    [(torch.float32, 1e-5, 1e-5), (torch.bfloat16, 3e-2, 5e-2)],
)
def test_low_precision_close_to_float64(dtype, value_tol, grad_tol):
    options = {"label_smoothing": 0.1, "ignore_index": -100, "softcap": 5.0, "z_loss": 1e-3}
    h, w, b, y = make((3, 40), 64, 300, dtype=dtype, ignore=-100, frac=0.1)
    # the float64 reference on the same (rounded) inputs
    h64, w64, b64 = (t.detach().double().requires_grad_(True) for t in (h, w, b))
    for vchunk in (None, 128):
        out = linear_cross_entropy(
            h, w, y, bias=b, chunk_size=32, vocab_chunk_size=vchunk, **options
        )
        ref = linear_cross_entropy(h64, w64, y, bias=b64, **options)
        assert out.dtype == dtype
        close(out.double(), ref, rtol=value_tol, atol=0)
        got = grads(out, (h, w, b))
        for g, r, t in zip(got, grads(ref, (h64, w64, b64)), (h, w, b), strict=True):
            assert g.dtype == t.dtype
            scale = r.abs().max()
            assert float((g.double() - r).abs().max() / scale) < grad_tol


def test_only_some_inputs_require_grad_and_no_grad():
    h, w, b, y = make((9,), 4, 6)
    ref = reference(h, w, y, bias=b)
    w_plain, b_plain = w.detach(), b.detach()
    out = linear_cross_entropy(h, w_plain, y, bias=b_plain, chunk_size=2)
    (gh,) = torch.autograd.grad(out, h)
    close(gh, torch.autograd.grad(ref, h, retain_graph=True)[0])
    with torch.no_grad():
        value = linear_cross_entropy(h, w, y, bias=b, chunk_size=2)
    assert not value.requires_grad
    close(value, ref.detach())
    value = linear_cross_entropy(h.detach(), w_plain, y, bias=b_plain, reduction="none")
    close(value, reference(h, w, y, bias=b, reduction="none").detach())


def test_retained_graph_backward_twice():
    h, w, b, y = make((7,), 4, 6)
    out = linear_cross_entropy(h, w, y, bias=b, chunk_size=3)
    out.backward(retain_graph=True)
    first = [t.grad.clone() for t in (h, w, b)]
    (out * 2).backward()
    for t, g in zip((h, w, b), first, strict=True):
        close(t.grad, 3 * g)


def test_module_with_tied_weight():
    torch.manual_seed(0)
    embed = torch.nn.Embedding(23, 8).double()
    tokens = torch.randint(0, 23, (2, 6))
    hidden = embed(tokens)
    target = torch.roll(tokens, -1, dims=1)
    target[:, -1] = -100
    criterion = LinearCrossEntropyLoss(label_smoothing=0.1, chunk_size=5)
    assert "label_smoothing=0.1" in repr(criterion)
    out = criterion(hidden, embed.weight, target)
    ref = reference(hidden, embed.weight, target, ignore_index=-100, label_smoothing=0.1)
    close(out, ref)
    (g,) = torch.autograd.grad(out, embed.weight, retain_graph=True)
    close(g, torch.autograd.grad(ref, embed.weight)[0])


@pytest.mark.parametrize("reduction", ["mean", "none"])
@pytest.mark.parametrize("vchunk", [None, 16])
def test_never_builds_the_logits(reduction, vchunk):
    tokens, hidden, vocab, chunk = 40, 8, 30, 4
    h, w, b, y = make((tokens,), hidden, vocab, ignore=-100)
    saved = []

    def pack(t):
        saved.append(t.numel())
        return t

    with LargestTensor() as mode, torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = linear_cross_entropy(
            h,
            w,
            y,
            bias=b,
            chunk_size=chunk,
            vocab_chunk_size=vchunk,
            ignore_index=-100,
            label_smoothing=0.1,
            softcap=3.0,
            reduction=reduction,
        )
        grads(out, (h, w, b))
    biggest_input = max(tokens * hidden, vocab * hidden)
    assert mode.largest <= max(chunk * vocab, biggest_input) < tokens * vocab
    assert max(saved) <= biggest_input
    naive = LargestTensor()
    with naive:
        reference(h, w, y, bias=b)
    assert naive.largest == tokens * vocab  # the check would see the logits


def test_default_chunk_size():
    assert default_chunk_size(32000) == 520
    assert default_chunk_size(2**24) == 1 and default_chunk_size(2**30) == 1
    assert default_chunk_size(10) % 8 == 0


@pytest.mark.parametrize(
    "options",
    [{}, {"label_smoothing": 0.3, "ignore_index": -100, "z_loss": 0.01, "softcap": 3.0}],
    ids=["plain", "all"],
)
def test_vocabulary_shards_combine_exactly(options):
    h, w, b, y = make((5, 7), 6, 41, ignore=options.get("ignore_index"))
    softcap = options.get("softcap")
    combine = {k: v for k, v in options.items() if k != "softcap"}
    cut = 17
    with torch.no_grad():
        shards = [
            linear_cross_entropy_stats(h, w[:cut], y, bias=b[:cut], softcap=softcap, chunk_size=4),
            linear_cross_entropy_stats(
                h, w[cut:], y, bias=b[cut:], vocab_offset=cut, softcap=softcap
            ),
        ]
        for reduction in ("mean", "sum", "none"):
            full = linear_cross_entropy(h, w, y, bias=b, reduction=reduction, **options)
            for order in (shards, shards[::-1]):
                got = combine_linear_cross_entropy_stats(order, y, reduction=reduction, **combine)
                close(got, full)
    whole = linear_cross_entropy_stats(h, w, y, bias=b, softcap=softcap)
    z = F.linear(h, w, b).detach()
    if softcap:
        z = softcap * torch.tanh(z / softcap)
    close(whole.lse, torch.logsumexp(z, -1))
    close(whole.logit_sum, z.sum(-1))
    with pytest.raises(LossInputError):  # a shard is missing: its targets are in none
        combine_linear_cross_entropy_stats(shards[:1], y, **{**combine, "ignore_index": None})


def test_errors():
    h, w, b, y = make((5,), 4, 6)
    bad = [
        dict(hidden=h[:, :3]),  # hidden size differs from weight's
        dict(weight=w[0]),
        dict(target=y[:4]),
        dict(target=y.double()),
        dict(target=torch.full_like(y, 6)),
        dict(target=torch.full_like(y, -1)),
        dict(bias=b[:3]),
        dict(weight=w.float()),
        dict(chunk_size=-2),
        dict(chunk_size=0),
        dict(vocab_chunk_size=-1),
        dict(reduction="batchmean"),
        dict(label_smoothing=1.5),
        dict(softcap=0.0),
        dict(z_loss=-1.0),
    ]
    for case in bad:
        args = {"hidden": h, "weight": w, "target": y, "bias": b, **case}
        with pytest.raises(LossInputError):
            linear_cross_entropy(args.pop("hidden"), args.pop("weight"), args.pop("target"), **args)
    with pytest.raises(LossInputError):
        LinearCrossEntropyLoss(reduction="mean_of_sums")
    hj, wj, yj = (jnp.asarray(t.detach().numpy()) for t in (h, w, y))
    for case in (
        dict(target=yj[:4]),
        dict(target=yj.astype(jnp.float32)),
        dict(target=jnp.full_like(yj, 6)),
        dict(chunk_size=-1),
        dict(reduction="mean_of_sums"),
    ):
        args = {"hidden": hj, "weight": wj, "target": yj, **case}
        with pytest.raises(LossInputError):
            jax_lce(args.pop("hidden"), args.pop("weight"), args.pop("target"), **args)
    # ignore_index itself is not out of range
    linear_cross_entropy(h, w, torch.full_like(y, -7), ignore_index=-7)


# ---- JAX ----------------------------------------------------------------------------------------
def jax_reference(
    h,
    w,
    b,
    y,
    *,
    ignore_index=None,
    label_smoothing=0.0,
    softcap=None,
    z_loss=0.0,
    reduction="mean",
):
    """The naive version with optax on the materialised logits."""
    z = h @ w.T + (0.0 if b is None else b)
    if softcap is not None:
        z = softcap * jnp.tanh(z / softcap)
    vocab = w.shape[0]
    valid = jnp.ones(y.shape) if ignore_index is None else (y != ignore_index).astype(z.dtype)
    label = jnp.where(valid > 0, y, 0)
    if label_smoothing:
        soft = optax.smooth_labels(jax.nn.one_hot(label, vocab, dtype=z.dtype), label_smoothing)
        values = optax.softmax_cross_entropy(z, soft)
    else:
        values = optax.softmax_cross_entropy_with_integer_labels(z, label)
    values = (values + z_loss * jax.nn.logsumexp(z, axis=-1) ** 2) * valid
    if reduction == "none":
        return values
    if reduction == "sum":
        return values.sum()
    return values.sum() / jnp.maximum(valid.sum(), 1.0)


JAX_CASES = [  # (token shape, hidden, vocab, chunk, vocab chunk, bias, reduction, options)
    ((13,), 8, 17, 4, None, True, "mean", {}),
    ((2, 7), 5, 29, 3, 8, False, "sum", {"label_smoothing": 0.1, "ignore_index": -100}),
    ((11,), 6, 40, 5, None, True, "none", {"softcap": 2.5, "z_loss": 0.01, "ignore_index": 3}),
    (
        (3, 4),
        4,
        23,
        5,
        6,
        True,
        "mean",
        {"label_smoothing": 0.2, "ignore_index": -100, "softcap": 4.0, "z_loss": 0.05},
    ),
    (
        (3, 4),
        4,
        23,
        5,
        6,
        True,
        "none",
        {"label_smoothing": 0.2, "ignore_index": -100, "softcap": 4.0, "z_loss": 0.05},
    ),
]


@pytest.mark.parametrize("case", JAX_CASES, ids=lambda c: f"{c[6]}-{','.join(c[7]) or 'plain'}")
def test_jax_equals_optax(case):
    assert jax.config.jax_enable_x64  # tests/conftest.py turns it on
    shape, hidden, vocab, chunk, vchunk, bias, reduction, options = case
    h, w, b, y = make(shape, hidden, vocab, bias=bias, ignore=options.get("ignore_index"))
    hj, wj, yj = (jnp.asarray(t.detach().numpy()) for t in (h, w, y))
    bj = None if b is None else jnp.asarray(b.detach().numpy())
    cot = jax.random.normal(jax.random.PRNGKey(1), shape, jnp.float64)

    def ours(hh, ww, bb):
        out = jax_lce(
            hh,
            ww,
            yj,
            bias=bb,
            reduction=reduction,
            chunk_size=chunk,
            vocab_chunk_size=vchunk,
            **options,
        )
        return jnp.sum(out * (cot if reduction == "none" else 1.7))

    def naive(hh, ww, bb):
        out = jax_reference(hh, ww, bb, yj, reduction=reduction, **options)
        return jnp.sum(out * (cot if reduction == "none" else 1.7))

    argnums = (0, 1, 2) if bias else (0, 1)
    v1, g1 = jax.jit(jax.value_and_grad(ours, argnums))(hj, wj, bj)
    v2, g2 = jax.jit(jax.value_and_grad(naive, argnums))(hj, wj, bj)
    assert v1.dtype == jnp.float64
    close(torch.tensor(float(v1)), torch.tensor(float(v2)))
    for a, r in zip(g1, g2, strict=True):
        close(
            torch.from_numpy(jax.device_get(a).copy()), torch.from_numpy(jax.device_get(r).copy())
        )
    if reduction == "none":  # and the torch version agrees
        out = linear_cross_entropy(h, w, y, bias=b, reduction="none", **options)
        close(
            torch.from_numpy(
                jax.device_get(jax_lce(hj, wj, yj, bias=bj, reduction="none", **options)).copy()
            ),
            out.detach(),
        )


@pytest.mark.parametrize(("dtype", "tol"), [(jnp.float32, 1e-5), (jnp.bfloat16, 3e-2)])
def test_jax_low_precision(dtype, tol):
    h, w, b, y = make((20,), 16, 50, ignore=-100)
    options = {"ignore_index": -100, "label_smoothing": 0.1}
    args = [jnp.asarray(t.detach().numpy()).astype(dtype) for t in (h, w, b)]
    yj = jnp.asarray(y.numpy())
    ref = jax_reference(*(x.astype(jnp.float64) for x in args), yj, **options)

    def f(hh, ww, bb):
        return jax_lce(hh, ww, yj, bias=bb, chunk_size=8, **options)

    out, gs = jax.jit(jax.value_and_grad(f, (0, 1, 2)))(*args)
    assert out.dtype == dtype and all(g.dtype == dtype for g in gs)
    assert abs(float(out) - float(ref)) <= tol * abs(float(ref))
