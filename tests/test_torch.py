"""The torch fast paths and nn.Module adapters equal the array-API definitions."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lossatlas as la
import lossatlas.torch as lt
from lossatlas import _backends

ELEMENTWISE = [loss for loss in la.catalog() if loss.spec.elementwise]
PARAMS = {
    "focal_loss": [{}, {"gamma": 0.0, "alpha": None}, {"gamma": 0.5}, {"gamma": 5.0, "alpha": 0.9}],
    "huber": [{}, {"delta": 0.3}],
    "smooth_l1": [{}, {"beta": 0.0}],
    "binary_cross_entropy": [{}, {"eps": 1e-3}],
    "binary_cross_entropy_with_logits": [{}, {"label_smoothing": 0.2}],
    "poisson_nll": [{}, {"log_input": False, "full": True}],
    "quantile": [{"q": 0.1}],
}


def make_inputs(loss, params=None, n=300, seed=0, dtype=torch.float64):
    rng = np.random.default_rng(seed)
    spec = loss.spec
    domain = loss.pred_domain(**(params or {}))
    if domain == "probability":
        pred = rng.uniform(0.01, 0.99, n)
    elif domain in ("nonnegative", "positive"):
        pred = rng.uniform(0.1, 5.0, n)
    else:
        pred = rng.normal(size=n) * 3
    if spec.target_domain == "binary":
        target = (rng.random(n) > 0.5).astype(float)
    elif spec.target_domain == "sign":
        target = np.where(rng.random(n) > 0.5, 1.0, -1.0)
    elif spec.target_domain == "nonnegative":
        target = rng.poisson(2.0, n).astype(float)
    elif spec.target_domain == "positive":
        target = rng.uniform(0.1, 5.0, n)
    else:
        target = rng.normal(size=n)
    extra = (torch.tensor(rng.random(n) + 0.1, dtype=dtype),) if loss.name == "gaussian_nll" else ()
    weight = torch.tensor(rng.random(n), dtype=dtype)
    return torch.tensor(pred, dtype=dtype), torch.tensor(target, dtype=dtype), extra, weight


def cases():
    for loss in ELEMENTWISE:
        for params in PARAMS.get(loss.name, [{}]):
            yield pytest.param(loss, params, id=f"{loss.name}-{params}")


@pytest.mark.parametrize(("loss", "params"), list(cases()))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "sum_by_nonzero_weights"])
@pytest.mark.parametrize("weighted", [False, True])
def test_fast_path_equals_composed(loss, params, reduction, weighted):
    pred, target, extra, weight = make_inputs(loss, params)
    weight = weight if weighted else None
    a = pred.clone().requires_grad_()
    b = pred.clone().requires_grad_()
    fast = loss(a, target, *extra, weight=weight, reduction=reduction, **params)
    composed = loss.composed(b, target, *extra, weight=weight, reduction=reduction, **params)
    torch.testing.assert_close(fast, composed, rtol=1e-10, atol=1e-12)
    seed = torch.linspace(0.5, 1.5, fast.numel(), dtype=fast.dtype).reshape(fast.shape)
    (fast * seed).sum().backward()
    (composed * seed).sum().backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(("loss", "params"), list(cases()))
def test_double_backward_equals_analytic_hessian(loss, params):
    pred, target, extra, _ = make_inputs(loss, params, n=50)
    x = pred.clone().requires_grad_()
    (grad,) = torch.autograd.grad(
        loss(x, target, *extra, reduction="sum", **params), x, create_graph=True
    )
    torch.testing.assert_close(
        grad, loss.grad(pred, target, *extra, **params), rtol=1e-9, atol=1e-12
    )
    if grad.requires_grad:
        (hess,) = torch.autograd.grad(grad.sum(), x)
    else:  # a gradient that does not depend on pred (piecewise-linear losses)
        hess = torch.zeros_like(x)
    torch.testing.assert_close(
        hess, loss.hess(pred, target, *extra, **params), rtol=1e-8, atol=1e-10
    )


def test_native_kernels_are_used_where_they_exist():
    """The graph of each reduced loss leads to the fast path's node (the one reducer adds a
    sum and a division on top)."""

    def nodes(out):
        seen, todo = [], [out.grad_fn]
        while todo:
            fn = todo.pop()
            if fn is not None and type(fn).__name__ not in seen:
                seen.append(type(fn).__name__)
                todo.extend(f for f, _ in fn.next_functions)
        return seen

    pred, target, _, _ = make_inputs(la.huber)
    x = pred.clone().requires_grad_()
    assert "HuberLossBackward0" in nodes(la.huber(x, target))
    x = pred.clone().requires_grad_()
    assert "_ClosedFormBackward" in nodes(la.log_cosh(x, target))
    logits = pred.clone().requires_grad_()
    labels = (target > 0).double()
    assert "_FocalLogitsBackward" in nodes(la.focal_loss(logits, labels))
    bce = la.binary_cross_entropy_with_logits
    assert "_SoftplusOfFlippedBackward" in nodes(bce(logits, labels))  # hard labels
    assert "_LogitCrossEntropyBackward" in nodes(bce(logits, labels * 0.8 + 0.1))
    assert "_SoftplusOfFlippedBackward" in nodes(la.logistic_loss(logits, labels * 2 - 1))
    z = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    assert "_SoftmaxCrossEntropyBackward" in nodes(la.cross_entropy(z, torch.tensor([0, 1] * 3)))


def test_closed_form_saves_only_inputs():
    pred, target, _, _ = make_inputs(la.log_cosh)
    x = pred.clone().requires_grad_()
    out = la.log_cosh(x, target, reduction="none")
    assert len(out.grad_fn.saved_tensors) == 2


@pytest.mark.parametrize("name", ["binary_cross_entropy_with_logits", "focal_loss"])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_infinite_logits_fall_back_to_the_limit(name, reduction):
    loss = la.get(name)
    x = torch.tensor([math.inf, -math.inf, 1e4, -1e4, 0.0, 2.0], requires_grad=True)
    y = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    native = F.binary_cross_entropy_with_logits(x.detach(), y, reduction="none")
    assert torch.isnan(native).any()  # the reason for the fallback: torch gives NaN at +-inf
    out = loss(x, y, reduction=reduction)
    assert torch.isfinite(out).all()
    out.sum().backward()
    assert torch.isfinite(x.grad).all()
    assert x.grad[:4].abs().max() == 0


def test_target_gradient_uses_a_path_that_supports_it():
    pred, target, _, _ = make_inputs(la.log_cosh)
    t = target.clone().requires_grad_()
    la.log_cosh(pred, t).backward()
    torch.testing.assert_close(t.grad, -torch.tanh(pred - target) / pred.numel())
    prob, labels, _, _ = make_inputs(la.binary_cross_entropy)
    soft = (labels * 0.8 + 0.1).requires_grad_()
    la.binary_cross_entropy(prob, soft).backward()
    expected = -(torch.log(prob) - torch.log1p(-prob)) / prob.numel()
    torch.testing.assert_close(soft.grad, expected)


def test_gaussian_variance_gradient():
    pred, target, (var,), _ = make_inputs(la.gaussian_nll)
    v = var.clone().requires_grad_()
    la.gaussian_nll(pred, target, v).backward()
    r = pred - target
    torch.testing.assert_close(v.grad, 0.5 * (1 / var - r * r / var**2) / pred.numel())


def test_empty_input_keeps_the_graph():
    x = torch.zeros(0, requires_grad=True)
    for loss in (la.huber, la.log_cosh, la.focal_loss):
        out = loss(x, torch.zeros(0))
        assert out.item() == 0.0 and out.requires_grad
        out.backward()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize(
    "name", ["huber", "log_cosh", "binary_cross_entropy_with_logits", "focal_loss"]
)
def test_half_precision_is_computed_in_float32(name, dtype):
    loss = la.get(name)
    pred, target, _, _ = make_inputs(loss, dtype=torch.float32)
    x = pred.to(dtype).requires_grad_()
    out = loss(x, target.to(dtype))
    assert out.dtype == dtype
    reference = loss(pred.to(dtype).float(), target.to(dtype).float())
    torch.testing.assert_close(out.float(), reference.to(dtype).float())
    out.backward()
    assert x.grad.dtype == dtype and torch.isfinite(x.grad).all()


# ---- modules --------------------------------------------------------------------------------
def test_every_loss_has_a_module():
    assert set(lt.MODULES) == {loss.name for loss in la.catalog()}
    assert lt.module_for("HuberLoss", delta=2.0).params == {"delta": 2.0}


@pytest.mark.parametrize(("loss", "params"), list(cases()))
def test_modules_call_the_core(loss, params):
    module = lt.MODULES[loss.name](reduction="sum", **params)
    pred, target, extra, weight = make_inputs(loss, params)
    torch.testing.assert_close(
        module(pred, target, *extra, weight=weight),
        loss(pred, target, *extra, weight=weight, reduction="sum", **params),
    )


@pytest.mark.parametrize(
    ("ours", "theirs", "kwargs"),
    [
        (lt.L1Loss, torch.nn.L1Loss, {}),
        (lt.MSELoss, torch.nn.MSELoss, {}),
        (lt.HuberLoss, torch.nn.HuberLoss, {"delta": 0.7}),
        (lt.SmoothL1Loss, torch.nn.SmoothL1Loss, {"beta": 0.4}),
        (lt.PoissonNLLLoss, torch.nn.PoissonNLLLoss, {"log_input": False, "full": True}),
    ],
)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_modules_are_drop_in_for_torch(ours, theirs, kwargs, reduction):
    gen = torch.Generator().manual_seed(3)
    pred = torch.rand(7, 5, generator=gen, dtype=torch.float64) * 4
    target = torch.poisson(torch.full((7, 5), 2.0, dtype=torch.float64), generator=gen)
    torch.testing.assert_close(
        ours(reduction=reduction, **kwargs)(pred, target),
        theirs(reduction=reduction, **kwargs)(pred, target),
    )


def test_bce_modules_match_torch_with_weight_and_pos_weight():
    gen = torch.Generator().manual_seed(4)
    logits = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    labels = (torch.rand(6, 3, generator=gen) > 0.5).double()
    pos_weight = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
    weight = torch.rand(6, 1, generator=gen, dtype=torch.float64)
    ours = lt.BCEWithLogitsLoss(pos_weight=pos_weight, weight=weight, reduction="sum")
    theirs = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight, weight=weight, reduction="sum")
    torch.testing.assert_close(ours(logits, labels), theirs(logits, labels))
    probs = torch.sigmoid(logits)
    torch.testing.assert_close(
        lt.BCELoss(weight=weight)(probs, labels),
        torch.nn.BCELoss(weight=weight, reduction="sum")(probs, labels) / weight.expand(6, 3).sum(),
    )


def test_module_buffers_follow_the_module():
    module = lt.BCEWithLogitsLoss(pos_weight=torch.tensor([2.0]))
    assert "pos_weight" in dict(module.named_buffers())
    module = module.to(torch.float64)
    assert module.pos_weight.dtype == torch.float64


def test_module_rejects_bad_hyperparameters_at_construction():
    with pytest.raises(la.LossInputError, match="delta"):
        lt.HuberLoss(delta=-1.0)
    with pytest.raises(la.LossInputError, match="reduction"):
        lt.HuberLoss(reduction="avg")
    with pytest.raises(TypeError, match="beta"):
        lt.HuberLoss(beta=1.0)


def test_compiled_mode_equals_eager():
    gen = torch.Generator().manual_seed(5)
    pred = torch.randn(64, generator=gen)
    target = torch.randn(64, generator=gen)
    eager = lt.LogCoshLoss()
    compiled = lt.LogCoshLoss(compile=True)
    a = pred.clone().requires_grad_()
    b = pred.clone().requires_grad_()
    out_eager, out_compiled = eager(a, target), compiled(b, target)
    torch.testing.assert_close(out_compiled, out_eager)
    out_eager.backward()
    out_compiled.backward()
    torch.testing.assert_close(b.grad, a.grad)


def test_fast_paths_are_registered_for_registered_losses():
    """The torch provider registers itself with the core (loaded when the first torch tensor
    arrives); every fast path names a registered loss and is documented."""
    names = {loss.name for loss in la.catalog()}
    paths = _backends.registered("torch")
    assert {f.loss for f in paths} <= names
    assert {"huber", "binary_cross_entropy_with_logits", "focal_loss", "cross_entropy"} <= {
        f.loss for f in paths
    }
    assert all(f.doc for f in paths)


def test_logistic_native_softplus_is_exact_at_the_threshold_and_beyond():
    f = torch.tensor([-1e4, -60.0, -30.0, -20.0, 0.0, 30.0, 1e4], dtype=torch.float64)
    y = torch.ones_like(f)
    torch.testing.assert_close(
        la.logistic_loss(f, y, reduction="none"),
        la.logistic_loss.composed(f, y, reduction="none"),
        rtol=1e-15,
        atol=0.0,
    )


def test_bce_gradient_at_exact_zero_and_one_follows_the_definition():
    # torch's native backward gives (p - y) / 1e-12 there; the clamped log has slope 0
    p = torch.tensor([0.0, 1.0, 0.0, 1.0, 0.5], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0], dtype=torch.float64)
    la.binary_cross_entropy(p, y, reduction="sum").backward()
    expected = la.binary_cross_entropy.grad(p.detach(), y)
    torch.testing.assert_close(p.grad, expected)
    torch.testing.assert_close(expected, torch.tensor([0.0, 0.0, 1.0, -1.0, -2.0], dtype=p.dtype))


def test_array_arguments_that_require_grad_are_used_as_given():
    var = torch.rand(6, dtype=torch.float64, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no re-wrapping through torch.asarray
        out = la.gaussian_nll(torch.zeros(6, dtype=torch.float64), torch.ones(6), var)
    out.backward()
    torch.testing.assert_close(var.grad, 0.5 * (1 / var.detach() - 1 / var.detach() ** 2) / 6)


class _ScaledSquare(la.ElementwiseLoss):
    """A loss with a learnable array hyperparameter (not registered): scale * (pred - target)^2."""

    spec = la.LossSpec(
        name="scaled_square_for_tests",
        family="regression",
        summary="test only",
        pred_domain="real",
        target_domain="real",
        properties=la.Properties(convex=True, robust=False, smoothness="Cinf"),
        formula=r"s r^2",
        references=(),
        params=(
            la.Param(
                "scale",
                1.0,
                "a learnable scale",
                kind="array",
                shape="~*s",
                domain="positive",
                learnable=True,
            ),
        ),
    )

    def _value(self, xp, pred, target, *, scale):
        r = pred - target
        return scale * r * r

    def _grad(self, xp, pred, target, *, scale):
        return 2.0 * scale * (pred - target)

    def _hess(self, xp, pred, target, *, scale):
        return 2.0 * scale * xp.ones_like(pred)


def test_learnable_array_hyperparameters_are_module_parameters():
    """An array hyperparameter declared learnable is an nn.Parameter of the module (an
    optimiser updates it); a plain array one is a buffer (pos_weight)."""
    module = lt.module_class("ScaledSquare", _ScaledSquare())(scale=torch.tensor([2.0, 3.0]))
    assert [name for name, _ in module.named_parameters()] == ["scale"]
    pred, target = torch.tensor([1.0, -1.0]), torch.zeros(2)
    optimizer = torch.optim.SGD(module.parameters(), lr=0.1)
    loss = module(pred, target)
    loss.backward()
    torch.testing.assert_close(module.scale.grad, torch.tensor([0.5, 0.5]))  # r^2 / n
    optimizer.step()
    torch.testing.assert_close(module.scale.detach(), torch.tensor([1.95, 2.95]))
    assert "pos_weight" in dict(lt.BCEWithLogitsLoss(pos_weight=torch.ones(1)).named_buffers())
    assert not list(lt.BCEWithLogitsLoss(pos_weight=torch.ones(1)).parameters())
