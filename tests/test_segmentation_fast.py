"""The torch fast path of the overlap losses (``lossatlas.torch._fast._OverlapSums``): values
and gradients equal the definition's (``loss.composed``, fast paths off) to a few ulps, in
every mode and option it serves; its graph node saves only the inputs; it declines where it
does not apply; the double backward equals the definition's."""

from __future__ import annotations

import itertools
import zlib

import pytest
import torch

import lossatlas as la
from lossatlas.torch import _fast

SERVED = ("dice_loss", "jaccard_loss", "tversky_loss", "focal_tversky_loss")
EXTRA = {"tversky_loss": {"alpha": 0.3, "beta": 0.8}, "focal_tversky_loss": {"gamma": 0.6}}
TOL = {torch.float64: (1e-12, 1e-13), torch.float32: (2e-5, 1e-6)}


def _inputs(mode, from_logits, ignore, dtype, seed, target_kind="index"):
    """(pred, target) in torch layout (classes on axis 1), N = 3, C = 4, 6 x 5 pixels."""
    g = torch.Generator().manual_seed(seed)
    n, c, h, w = 3, 4, 6, 5
    shape = (n, h, w) if mode == "binary" else (n, c, h, w)
    x = (torch.randn(shape, generator=g, dtype=torch.float64) * 2.5).to(dtype)
    x[0, ..., 0] = 30.0  # confident pixels: a probability near 1 and one near 0
    if not from_logits:
        x = torch.softmax(x, 1) if mode == "multiclass" else torch.sigmoid(x)
    if mode == "multiclass" and target_kind == "index":
        y = torch.randint(0, c, (n, h, w), generator=g)
        y[1] = 2  # a sample without classes 0, 1, 3
        if ignore is not None:
            y[0, :2] = ignore
    elif mode == "multiclass":  # one-hot targets of pred's shape
        y = torch.nn.functional.one_hot(torch.randint(0, c, (n, h, w), generator=g), c)
        y = y.movedim(-1, 1).to(dtype)
    else:
        y = (torch.rand(shape, generator=g) < 0.35).to(dtype)
        y[1] = 0.0  # an empty target
        if ignore is not None:
            y[0, ..., :2] = float(ignore)
    return x, y


def _nodes(out):
    seen, stack = [], [out.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.append(node)
        stack += [f for f, _ in node.next_functions]
    return seen


def _overlap_node(out):
    found = [n for n in _nodes(out) if type(n).__name__ == "_OverlapSumsBackward"]
    return found[0] if found else None


def _compare(name, x, y, dtype, **kw):
    loss = getattr(la, name)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    weight = None
    if kw.get("per_image", True):  # a weight per sample: (N,) or (N, 1) beside the classes
        per_class = name in SERVED and kw.get("mode", "multiclass") != "binary"
        weight = torch.rand((x.shape[0], 1) if per_class else (x.shape[0],), dtype=dtype) + 0.5
    fast = loss(a, y, weight=weight, reduction="none", **kw)
    slow = loss.composed(b, y, weight=weight, reduction="none", **kw)
    rtol, atol = TOL[dtype]
    torch.testing.assert_close(fast, slow, rtol=rtol, atol=atol)
    cot = torch.rand(fast.shape, dtype=dtype, generator=torch.Generator().manual_seed(1))
    (ga,) = torch.autograd.grad(fast, a, cot, retain_graph=True)
    (gb,) = torch.autograd.grad(slow, b, cot)
    scale = float(gb.abs().max())
    torch.testing.assert_close(ga, gb, rtol=rtol, atol=atol * max(scale, 1.0))
    return fast, a


CASES = [
    (name, mode, from_logits, ignore, per_image, squared)
    for name, mode, from_logits, ignore, per_image in itertools.product(
        SERVED, ("multiclass", "multilabel", "binary"), (True, False), (None, 2), (True, False)
    )
    for squared in ((False, True) if name == "dice_loss" else (False,))
]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name,mode,from_logits,ignore,per_image,squared", CASES)
def test_fast_path_equals_the_definition(
    name, mode, from_logits, ignore, per_image, squared, dtype
):
    x, y = _inputs(
        mode, from_logits, ignore, dtype, seed=zlib.crc32(f"{name}{mode}".encode()) % 1000
    )
    kw = dict(mode=mode, from_logits=from_logits, ignore_index=ignore, per_image=per_image,
              **EXTRA.get(name, {}))  # fmt: skip
    if mode != "binary":
        kw["axis"] = 1
        kw["class_weight"] = torch.tensor([1.0, 2.5, 0.0, 0.5], dtype=dtype)
    if squared:
        kw["squared"] = True
    out, _ = _compare(name, x, y, dtype, **kw)
    assert _overlap_node(out) is not None, "the fast path declined"
    # without a weight (the core gives zero-weight samples safe inputs: a copy), the node
    # saves only the inputs: views of pred's and the target's storage
    a = x.clone().requires_grad_()
    saved = _overlap_node(getattr(la, name)(a, y, **kw)).saved_tensors
    assert [t.untyped_storage().data_ptr() for t in saved] == [
        a.untyped_storage().data_ptr(),
        y.untyped_storage().data_ptr(),
    ]


def test_saved_tensors_are_the_inputs_themselves():
    x, y = _inputs("multiclass", True, None, torch.float32, seed=3)
    a = x.clone().requires_grad_()
    out = la.dice_loss(a, y, axis=1, from_logits=True)
    saved = _overlap_node(out).saved_tensors
    assert saved[0].untyped_storage().data_ptr() == a.untyped_storage().data_ptr()
    assert saved[1].untyped_storage().data_ptr() == y.untyped_storage().data_ptr()
    assert saved[0].numel() == a.numel() and saved[1].numel() == y.numel()


@pytest.mark.parametrize("chunk", [1, 100, 1 << 18])
def test_chunks_do_not_change_the_result(monkeypatch, chunk):
    """One sample a chunk, a few, and all at once (the default at these sizes)."""
    monkeypatch.setattr(_fast, "OVERLAP_CHUNK_ELEMENTS", chunk)
    x, y = _inputs("multiclass", True, 0, torch.float64, seed=4)
    _compare("dice_loss", x, y, torch.float64, axis=1, from_logits=True, ignore_index=0)


def test_one_hot_targets_with_probabilities_and_class_last_layout():
    x, y = _inputs("multiclass", False, None, torch.float64, seed=5, target_kind="onehot")
    out, _ = _compare("jaccard_loss", x.movedim(1, -1).contiguous(), y.movedim(1, -1).contiguous(),
                   torch.float64, from_logits=False)  # fmt: skip
    assert _overlap_node(out) is not None


def test_declines_where_it_does_not_apply():
    """Per-class targets under a softmax, a +inf logit, generalized Dice and Dice + CE run
    the definition (and give its values)."""
    x, y = _inputs("multiclass", True, None, torch.float64, seed=6, target_kind="onehot")
    out, _ = _compare("dice_loss", x, y, torch.float64, axis=1, from_logits=True)
    assert _overlap_node(out) is None
    x, y = _inputs("multiclass", True, None, torch.float64, seed=7)
    x[0, 1, 0, 0] = float("inf")
    out, _ = _compare("dice_loss", x, y, torch.float64, axis=1, from_logits=True)
    assert _overlap_node(out) is None and bool(torch.isfinite(out).all())
    x, y = _inputs("multiclass", True, None, torch.float64, seed=8)
    for name in ("generalized_dice_loss", "dice_ce_loss"):
        out, _ = _compare(name, x, y, torch.float64, axis=1, from_logits=True)
        assert _overlap_node(out) is None
    # float16 is computed in float32 by the core (and served there), then cast back
    h = x.to(torch.float16)
    fast = la.dice_loss(h, y, axis=1, from_logits=True, reduction="none")
    slow = la.dice_loss.composed(h, y, axis=1, from_logits=True, reduction="none")
    assert fast.dtype == torch.float16 and torch.equal(fast, slow)


def test_infinite_negative_logits_are_served():
    """A -inf logit is a probability 0 under the softmax and the sigmoid: finite sums."""
    for mode in ("multiclass", "multilabel"):
        x, y = _inputs(mode, True, None, torch.float64, seed=9)
        x[0, 1, :2] = -float("inf")
        out, _ = _compare("dice_loss", x, y, torch.float64, axis=1, from_logits=True, mode=mode)
        assert _overlap_node(out) is not None


@pytest.mark.parametrize("mode", ["multiclass", "binary"])
def test_double_backward_equals_the_definition(mode):
    x, y = _inputs(mode, True, 1 if mode == "multiclass" else None, torch.float64, seed=10)
    kw = {"mode": mode, "from_logits": True}
    if mode == "multiclass":
        kw.update(axis=1, ignore_index=1)
    v = torch.rand(x.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    hv = []
    for fn in (la.tversky_loss, la.tversky_loss.composed):
        a = x.clone().requires_grad_()
        out = fn(a, y, **kw)
        (g,) = torch.autograd.grad(out, a, create_graph=True)
        (h,) = torch.autograd.grad((g * v).sum(), a)
        hv.append(h)
    torch.testing.assert_close(hv[0], hv[1], rtol=1e-11, atol=1e-13)


def test_torch_module_uses_the_fast_path():
    import lossatlas.torch as lt

    x, y = _inputs("multiclass", True, None, torch.float32, seed=11)
    a = x.clone().requires_grad_()
    out = lt.DiceLoss(mode="multiclass", from_logits=True)(a, y)
    assert _overlap_node(out) is not None
    ref = la.dice_loss.composed(x, y, axis=1, from_logits=True)
    torch.testing.assert_close(out, ref, rtol=1e-6, atol=1e-7)
