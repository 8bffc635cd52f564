"""lossatlas against loss implementations written by others, over many random inputs.

References: torch.nn.functional, torchvision.ops.sigmoid_focal_loss (its formula, restated below
because torchvision is not installed here), sklearn.metrics, optax, and Keras 3 on the JAX
backend. Comparisons run over several random draws and shapes (1-D to 3-D) in float64
(rtol 1e-10) and float32 (rtol 1e-5), for the values of every reduction and for gradients with
respect to pred: autodiff of the reference against autodiff through lossatlas (torch: both the
composed array-API path and the default path, which may dispatch to torch's native kernels) and
against lossatlas's analytic ``.grad``. On JAX, optax is the float64 reference and Keras the
float32 one (Keras is only float32-accurate there, see below), over one shape: each new shape
costs JAX a fresh compile of every primitive.

Reference semantics that differ from lossatlas, and how the tests line them up:
- torch's weighted "mean" divides by the number of elements; lossatlas divides by sum(weight).
- sklearn's ``root_mean_squared_error`` on 2-D input averages the per-column RMSEs; lossatlas's
  ``rmse`` is the root of the mean over all elements (compared per column here).
- Keras reduces over the last axis first, then over the batch; its ``sum_over_batch_size``
  divides a weighted sum by the batch size, not by the weights. On non-TensorFlow backends Keras
  accumulates ``ops.mean`` in float32 even for float64 input (``BIT64_TO_BIT32_DTYPE`` in
  keras/src/backend/common/dtypes.py), so Keras is a float32-accurate reference in both dtypes.
- Keras clips probabilities to [1e-7, 1 - 1e-7] (lossatlas ``eps=1e-7``); torch clamps each log
  at -100 (lossatlas ``eps=None``); sklearn's ``log_loss`` clips at the dtype's machine epsilon.
- Keras ``BinaryFocalCrossentropy`` applies ``alpha`` only with ``apply_class_balancing=True``
  (lossatlas ``alpha=None`` otherwise); torchvision's ``alpha=-1`` is lossatlas ``alpha=None``.
"""

# ruff: noqa: E402
from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import math
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp

jax.config.update("jax_enable_x64", True)

import keras
import numpy as np
import optax
import pytest
import sklearn.metrics as skm
import torch
import torch.nn.functional as F

import lossatlas as la

SHAPES = [(1,), (37,), (8, 5), (2, 3, 4)]
DTYPES = ["float64", "float32"]
RTOL = {"float64": 1e-10, "float32": 1e-5}
# Keras on JAX computes its means in float32 whatever the input dtype (see the module docstring),
# so it is a float32 reference: lossatlas's float64 JAX path is compared with optax instead.
KERAS_DTYPES = ["float32"]
# JAX compiles every primitive afresh for each new shape and dtype (about 1 s a loss family on
# this machine): the JAX-based tests draw several inputs of one shape, optax checks lossatlas's
# JAX path in float64 and Keras in float32; torch and sklearn cover the shapes and both dtypes.
OPTAX_DTYPES = ["float64"]
JAX_SHAPES = [(8, 5)] * 2
KERAS_RTOL = {"float32": 1e-5}
TORCH_PATHS = ["composed", "default"]
REDUCTIONS = ["none", "sum", "mean"]


# ---- helpers ------------------------------------------------------------------------------------
def rng_for(*keys: Any) -> np.random.Generator:
    """A generator seeded from the test's parameters, the same on every run."""
    return np.random.default_rng([zlib.crc32(repr(k).encode()) for k in keys])


def to_np(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def assert_close(actual: Any, expected: Any, rtol: float) -> None:
    """Elementwise relative comparison; the absolute floor is rtol times the largest |expected|."""
    a, e = to_np(actual), to_np(expected)
    assert a.shape == e.shape, (a.shape, e.shape)
    assert np.all(np.isfinite(e)), "the reference itself is not finite here"
    scale = float(np.max(np.abs(e))) if e.size else 0.0
    np.testing.assert_allclose(a, e, rtol=rtol, atol=rtol * scale + 1e-300)


def tt(x: np.ndarray, dtype: str, requires_grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.asarray(x), dtype=getattr(torch, dtype), requires_grad=requires_grad)


def jt(x: np.ndarray, dtype: str) -> jax.Array:
    return jnp.asarray(np.asarray(x, dtype=dtype))


def la_torch(loss: Any, path: str, *args: Any, **kwargs: Any) -> Any:
    """lossatlas on torch tensors by the composed array-API code or the default (fast) path."""
    if path == "composed":
        return loss.composed(*args, **kwargs)
    return loss(*args, **kwargs)


def jax_grads(ref_mean: Callable[[Any, Any], Any], la_mean: Callable[[Any, Any], Any]):
    """``(pred, target) -> (d ref_mean / d pred, d la_mean / d pred)`` by eager ``jax.grad``.

    lossatlas is differentiated with pred and target both traced; closing ``jax.grad`` over a
    concrete target is ``test_jax_grad_closing_over_concrete_target``. (Eager, not ``jit``: the
    compiled primitives are shared between cases, where ``jit`` compiles every case anew.)
    """

    def both(pred, target):
        g_ref = jax.grad(ref_mean)(pred, target)
        g_la = jax.grad(la_mean, argnums=(0, 1))(pred, target)[0]
        return g_ref, g_la

    return both


def normal(rng: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0) -> np.ndarray:
    return rng.normal(size=shape) * scale


def hard_labels(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(0, 2, size=shape).astype(np.float64)


def soft_labels(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.uniform(0.0, 1.0, size=shape)


def probabilities(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.uniform(0.02, 0.98, size=shape)


def labels(kind: str, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return hard_labels(rng, shape) if kind == "hard" else soft_labels(rng, shape)


# ---- torch.nn.functional ------------------------------------------------------------------------
@dataclass(frozen=True)
class TorchCase:
    """One lossatlas loss with its hyperparameters and the torch function that must agree."""

    id: str
    loss: Any
    ref: Callable[..., torch.Tensor]  # ref(pred, target, reduction, **arrays)
    make: Callable[[np.random.Generator, tuple[int, ...]], tuple]  # -> pred, target, arrays
    params: dict[str, Any] = field(default_factory=dict)
    grad: bool = True  # compare gradients (False where the inputs sit on a kink or a clamp)


def _regression_inputs(rng, shape):
    return normal(rng, shape, 2.0), normal(rng, shape, 2.0), {}


def _counts_log_rate(rng, shape):
    return normal(rng, shape, 1.5), rng.poisson(2.5, size=shape).astype(np.float64), {}


def _counts_rate(rng, shape):
    return rng.uniform(0.05, 6.0, size=shape), rng.poisson(2.5, size=shape).astype(np.float64), {}


def _gaussian(layout: str, tiny: bool):
    def make(rng, shape):
        var_shape = {"same": shape, "last1": (*shape[:-1], 1), "fewer": shape[:-1]}[layout]
        var = np.asarray(rng.uniform(0.1, 3.0, size=var_shape))
        if tiny and var.size:
            var.flat[:: max(var.size // 3, 1)] = 1e-9  # below eps: both clamp it to eps
        return normal(rng, shape, 2.0), normal(rng, shape, 2.0), {"var": var}

    return make


def _bce_inputs(kind: str, exact_ends: bool):
    def make(rng, shape):
        p = probabilities(rng, shape)
        if exact_ends:
            flat = p.reshape(-1)
            flat[::3] = 0.0
            flat[1::5] = 1.0
        return p, labels(kind, rng, shape), {}

    return make


def _logit_inputs(kind: str, pos_weight: bool = False):
    def make(rng, shape):
        arrays = {"pos_weight": rng.uniform(0.2, 4.0, size=shape[-1:])} if pos_weight else {}
        return normal(rng, shape, 3.0), labels(kind, rng, shape), arrays

    return make


def _signed_inputs(rng, shape):
    return normal(rng, shape, 2.0), np.where(rng.random(shape) < 0.5, -1.0, 1.0), {}


def _torch_cases() -> list[TorchCase]:
    cases = [
        TorchCase("l1", la.mae, lambda p, t, r: F.l1_loss(p, t, reduction=r), _regression_inputs),
        TorchCase("mse", la.mse, lambda p, t, r: F.mse_loss(p, t, reduction=r), _regression_inputs),
    ]
    for delta in (0.5, 1.0, 2.5):
        cases.append(
            TorchCase(
                f"huber-delta{delta}",
                la.huber,
                lambda p, t, r, d=delta: F.huber_loss(p, t, reduction=r, delta=d),
                _regression_inputs,
                {"delta": delta},
            )
        )
    for beta in (0.0, 0.3, 1.0, 2.0):
        cases.append(
            TorchCase(
                f"smooth_l1-beta{beta}",
                la.smooth_l1,
                lambda p, t, r, b=beta: F.smooth_l1_loss(p, t, reduction=r, beta=b),
                _regression_inputs,
                {"beta": beta},
            )
        )
    for log_input in (True, False):
        for full in (False, True):
            cases.append(
                TorchCase(
                    f"poisson-log_input{log_input}-full{full}",
                    la.poisson_nll,
                    lambda p, t, r, li=log_input, fu=full: F.poisson_nll_loss(
                        p, t, log_input=li, full=fu, reduction=r
                    ),
                    _counts_log_rate if log_input else _counts_rate,
                    {"log_input": log_input, "full": full},
                )
            )
    for layout in ("same", "last1", "fewer"):
        for full in (False, True):
            cases.append(
                TorchCase(
                    f"gaussian-var_{layout}-full{full}",
                    la.gaussian_nll,
                    lambda p, t, r, var, fu=full: F.gaussian_nll_loss(
                        p, t, var, full=fu, reduction=r
                    ),
                    _gaussian(layout, tiny=False),
                    {"full": full},
                )
            )
        cases.append(
            TorchCase(
                f"gaussian-var_{layout}-below_eps",
                la.gaussian_nll,
                lambda p, t, r, var: F.gaussian_nll_loss(p, t, var, reduction=r),
                _gaussian(layout, tiny=True),
                {},
                grad=False,
            )
        )
    for kind in ("hard", "soft"):
        cases.append(
            TorchCase(
                f"bce-{kind}",
                la.binary_cross_entropy,
                lambda p, t, r: F.binary_cross_entropy(p, t, reduction=r),
                _bce_inputs(kind, False),
            )
        )
        # probabilities exactly 0 and 1: torch clamps each log at -100 (lossatlas eps=None)
        cases.append(
            TorchCase(
                f"bce-{kind}-exact_0_and_1",
                la.binary_cross_entropy,
                lambda p, t, r: F.binary_cross_entropy(p, t, reduction=r),
                _bce_inputs(kind, True),
                grad=False,
            )
        )
        cases.append(
            TorchCase(
                f"bce_with_logits-{kind}",
                la.binary_cross_entropy_with_logits,
                lambda p, t, r: F.binary_cross_entropy_with_logits(p, t, reduction=r),
                _logit_inputs(kind),
            )
        )
        cases.append(
            TorchCase(
                f"bce_with_logits-{kind}-pos_weight",
                la.binary_cross_entropy_with_logits,
                lambda p, t, r, pos_weight: F.binary_cross_entropy_with_logits(
                    p, t, pos_weight=pos_weight, reduction=r
                ),
                _logit_inputs(kind, pos_weight=True),
            )
        )
    cases.append(
        TorchCase(
            "soft_margin",
            la.logistic_loss,
            lambda p, t, r: F.soft_margin_loss(p, t, reduction=r),
            _signed_inputs,
        )
    )
    return cases


TORCH_CASES = _torch_cases()
TORCH_GRAD_CASES = [c for c in TORCH_CASES if c.grad]


def _torch_inputs(case: TorchCase, shape, dtype, requires_grad=False):
    pred, target, arrays = case.make(rng_for(case.id, shape, dtype), shape)
    return (
        tt(pred, dtype, requires_grad),
        tt(target, dtype),
        {k: tt(v, dtype) for k, v in arrays.items()},
    )


@pytest.mark.parametrize("path", TORCH_PATHS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("case", TORCH_CASES, ids=lambda c: c.id)
def test_torch_functional_values(case, shape, dtype, path):
    """Every reduction of lossatlas equals torch.nn.functional on the same tensors."""
    pred, target, arrays = _torch_inputs(case, shape, dtype)
    for reduction in REDUCTIONS:
        expected = case.ref(pred, target, reduction, **arrays)
        got = la_torch(case.loss, path, pred, target, reduction=reduction, **case.params, **arrays)
        assert isinstance(got, torch.Tensor) and got.dtype == pred.dtype
        assert_close(got, expected, RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("case", TORCH_GRAD_CASES, ids=lambda c: c.id)
def test_torch_functional_gradients(case, shape, dtype):
    """d mean / d pred: torch autograd of torch's loss == autograd through lossatlas (composed
    and default paths) == lossatlas's analytic grad / N."""
    pred, target, arrays = _torch_inputs(case, shape, dtype, requires_grad=True)
    (expected,) = torch.autograd.grad(case.ref(pred, target, "mean", **arrays), pred)
    for path in TORCH_PATHS:
        value = la_torch(case.loss, path, pred, target, **case.params, **arrays)
        (got,) = torch.autograd.grad(value, pred)
        assert_close(got, expected, RTOL[dtype])
    analytic = case.loss.grad(pred.detach(), target, **case.params, **arrays) / pred.numel()
    assert analytic.dtype == pred.dtype
    assert_close(analytic, expected, RTOL[dtype])


@pytest.mark.parametrize("layout", ["same", "last1", "fewer"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_gaussian_nll_variance_gradient(layout, dtype):
    """The gradient with respect to var (all var > eps) agrees with torch's autograd."""
    shape = (6, 4)
    pred, target, arrays = _gaussian(layout, tiny=False)(rng_for("gvar", layout, dtype), shape)
    p, t = tt(pred, dtype), tt(target, dtype)
    var_ref = tt(arrays["var"], dtype, requires_grad=True)
    var_la = tt(arrays["var"], dtype, requires_grad=True)
    for full in (False, True):
        (expected,) = torch.autograd.grad(F.gaussian_nll_loss(p, t, var_ref, full=full), var_ref)
        (got,) = torch.autograd.grad(la.gaussian_nll(p, t, var_la, full=full), var_la)
        assert_close(got, expected, RTOL[dtype])


@pytest.mark.parametrize("weight_shape", ["elementwise", "per_row"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("path", TORCH_PATHS)
def test_torch_bce_with_logits_weight(weight_shape, dtype, path):
    """torch's ``weight=`` times the loss; torch's weighted mean divides by N, lossatlas's by
    sum(weight), so lossatlas's mean == torch's sum / sum(weight broadcast)."""
    shape = (9, 4)
    rng = rng_for("bce_weight", weight_shape, dtype)
    x, y = normal(rng, shape, 3.0), soft_labels(rng, shape)
    w = rng.uniform(0.0, 2.0, size=shape if weight_shape == "elementwise" else (9, 1))
    w.flat[0] = 0.0
    pos_weight = rng.uniform(0.5, 3.0, size=(4,))
    xt, yt, wt, pwt = tt(x, dtype, True), tt(y, dtype), tt(w, dtype), tt(pos_weight, dtype)
    loss = la.binary_cross_entropy_with_logits
    for reduction in ("none", "sum"):
        expected = F.binary_cross_entropy_with_logits(
            xt, yt, weight=wt, pos_weight=pwt, reduction=reduction
        )
        got = la_torch(loss, path, xt, yt, weight=wt, pos_weight=pwt, reduction=reduction)
        assert_close(got, expected, RTOL[dtype])
    torch_sum = F.binary_cross_entropy_with_logits(
        xt, yt, weight=wt, pos_weight=pwt, reduction="sum"
    )
    got_mean = la_torch(loss, path, xt, yt, weight=wt, pos_weight=pwt)
    assert_close(got_mean, torch_sum / wt.expand(shape).sum(), RTOL[dtype])
    (expected_grad,) = torch.autograd.grad(torch_sum, xt)
    (got_grad,) = torch.autograd.grad(
        la_torch(loss, path, xt, yt, weight=wt, pos_weight=pwt, reduction="sum"), xt
    )
    assert_close(got_grad, expected_grad, RTOL[dtype])


# ---- torchvision.ops.sigmoid_focal_loss ---------------------------------------------------------
def torchvision_sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """torchvision.ops.focal_loss.sigmoid_focal_loss, restated verbatim (torchvision 0.2x)."""
    p = torch.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    if reduction == "mean":
        loss = loss.mean()
    elif reduction == "sum":
        loss = loss.sum()
    return loss


FOCAL_GAMMAS = [0.0, 0.5, 1.0, 2.0, 5.0]
FOCAL_ALPHAS = [None, 0.25, 0.8]
# (gamma, alpha) pairs for the JAX-based references, where every case costs more to run
FOCAL_GRID = [(0.0, None), (0.5, 0.25), (1.0, None), (2.0, 0.7), (5.0, 0.25)]


@pytest.mark.parametrize("path", TORCH_PATHS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["hard", "soft"])
@pytest.mark.parametrize("alpha", FOCAL_ALPHAS)
@pytest.mark.parametrize("gamma", FOCAL_GAMMAS)
def test_torchvision_focal_loss(gamma, alpha, kind, dtype, path):
    """lossatlas.focal_loss == torchvision's formula (alpha=None is torchvision's alpha=-1), values
    of every reduction and the gradient of the mean, at moderate logits where it is finite."""
    for shape in [(50,), (6, 7)]:
        rng = rng_for("focal", gamma, alpha, kind, dtype, shape)
        x = np.clip(normal(rng, shape, 3.0), -8.0, 8.0)
        y = labels(kind, rng, shape)
        xt, yt = tt(x, dtype, True), tt(y, dtype)
        tv_alpha = -1.0 if alpha is None else alpha
        for reduction in REDUCTIONS:
            expected = torchvision_sigmoid_focal_loss(xt, yt, tv_alpha, gamma, reduction)
            got = la_torch(
                la.focal_loss, path, xt, yt, alpha=alpha, gamma=gamma, reduction=reduction
            )
            assert_close(got, expected, RTOL[dtype])
        (expected,) = torch.autograd.grad(
            torchvision_sigmoid_focal_loss(xt, yt, tv_alpha, gamma, "mean"), xt
        )
        (got,) = torch.autograd.grad(
            la_torch(la.focal_loss, path, xt, yt, alpha=alpha, gamma=gamma), xt
        )
        assert_close(got, expected, RTOL[dtype])
        analytic = la.focal_loss.grad(xt.detach(), yt, alpha=alpha, gamma=gamma) / xt.numel()
        assert_close(analytic, expected, RTOL[dtype])


# ---- sklearn.metrics ----------------------------------------------------------------------------
SK_SHAPES = [(1,), (40,), (12, 3)]


def _sk_weights(rng, n):
    w = rng.uniform(0.0, 3.0, size=n)
    w[0] = 0.0
    return w


def _row_weight(w, shape):
    """sklearn's per-sample weight as a lossatlas weight broadcastable to the loss."""
    return w.reshape((-1,) + (1,) * (len(shape) - 1))


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SK_SHAPES, ids=str)
@pytest.mark.parametrize(
    ("name", "sk_fn", "loss", "params"),
    [
        pytest.param("mae", skm.mean_absolute_error, la.mae, {}, id="mae"),
        pytest.param("mse", skm.mean_squared_error, la.mse, {}, id="mse"),
        *[
            pytest.param(
                f"pinball-q{q}",
                lambda t, p, q=q, **kw: skm.mean_pinball_loss(t, p, alpha=q, **kw),
                la.quantile,
                {"q": q},
                id=f"pinball-q{q}",
            )
            for q in (0.05, 0.3, 0.5, 0.9)
        ],
    ],
)
def test_sklearn_regression(name, sk_fn, loss, params, shape, dtype, weighted):
    """sklearn's (weighted) regression metrics; its weighted mean is sum(w*l)/sum(w)."""
    rng = rng_for("sk", name, shape, dtype, weighted)
    y, p = normal(rng, shape, 2.0).astype(dtype), normal(rng, shape, 2.0).astype(dtype)
    w = _sk_weights(rng, shape[0]) if weighted and shape[0] > 1 else None
    expected = sk_fn(y, p, sample_weight=w)
    got = loss(p, y, weight=None if w is None else _row_weight(w, shape), **params)
    assert got.dtype == np.dtype(dtype)
    assert_close(got, expected, RTOL[dtype])


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SK_SHAPES, ids=str)
def test_sklearn_rmse(shape, dtype, weighted):
    """sklearn's root_mean_squared_error per output column (on 2-D input sklearn averages the
    column RMSEs, lossatlas takes the root of the overall mean) and sqrt of sklearn's MSE."""
    rng = rng_for("sk_rmse", shape, dtype, weighted)
    y, p = normal(rng, shape, 2.0).astype(dtype), normal(rng, shape, 2.0).astype(dtype)
    w = _sk_weights(rng, shape[0]) if weighted and shape[0] > 1 else None
    lw = None if w is None else _row_weight(w, shape)
    expected = skm.root_mean_squared_error(y, p, sample_weight=w, multioutput="raw_values")
    if len(shape) == 1:
        assert_close(la.rmse(p, y, weight=lw), expected[0], RTOL[dtype])
    else:
        cols = [la.rmse(p[:, j], y[:, j], weight=w) for j in range(shape[1])]
        assert_close(np.stack(cols), expected, RTOL[dtype])
    overall = math.sqrt(skm.mean_squared_error(y, p, sample_weight=w))
    assert_close(la.rmse(p, y, weight=lw), overall, RTOL[dtype])


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("exact_ends", [False, True])
@pytest.mark.parametrize("kind", ["hard", "soft"])
def test_sklearn_log_loss(kind, exact_ends, dtype, weighted):
    """Binary log_loss == binary_cross_entropy with sklearn's clip at the dtype's epsilon."""
    n = 60
    rng = rng_for("sk_log_loss", kind, exact_ends, dtype, weighted)
    p = _bce_inputs("hard", exact_ends)(rng, (n,))[0].astype(dtype)
    w = _sk_weights(rng, n) if weighted else None
    eps = float(np.finfo(dtype).eps)
    if kind == "hard":
        y = hard_labels(rng, (n,))
        y[:2] = [0.0, 1.0]  # both classes present
        expected = skm.log_loss(y, y_proba=p, sample_weight=w)
    else:
        # sklearn takes hard labels only: a soft label s is a row labelled 1 with weight s*w
        # plus a row labelled 0 with weight (1-s)*w; the weights still sum to sum(w)
        y = soft_labels(rng, (n,))
        sw = np.ones(n) if w is None else w
        expected = skm.log_loss(
            np.concatenate([np.ones(n), np.zeros(n)]),
            y_proba=np.concatenate([p, p]),
            sample_weight=np.concatenate([y * sw, (1 - y) * sw]),
            labels=[0, 1],
        )
    y = y.astype(dtype)
    got = la.binary_cross_entropy(p, y, eps=eps, weight=w)
    assert_close(got, expected, RTOL[dtype])


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("label_set", ["pm1", "01"])
def test_sklearn_hinge_loss(label_set, dtype, weighted):
    """sklearn's binary hinge_loss (decision function; labels mapped to -1/+1) == hinge."""
    n = 80
    rng = rng_for("sk_hinge", label_set, dtype, weighted)
    f = normal(rng, (n,), 1.5).astype(dtype)
    y = hard_labels(rng, (n,))
    y[:2] = [0.0, 1.0]
    y = (2 * y - 1 if label_set == "pm1" else y).astype(dtype)
    w = _sk_weights(rng, n) if weighted else None
    expected = skm.hinge_loss(y, f, sample_weight=w)
    assert_close(la.hinge(f, y, weight=w), expected, RTOL[dtype])


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_sklearn_zero_one_loss(dtype, weighted):
    """sklearn's zero_one_loss on the predicted labels sign(f) == lossatlas.zero_one_loss(f)."""
    n = 101
    rng = rng_for("sk_01", dtype, weighted)
    f = normal(rng, (n,)).astype(dtype)
    f[f == 0] = 0.5
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0).astype(dtype)
    w = _sk_weights(rng, n) if weighted else None
    expected = skm.zero_one_loss(y, np.where(f > 0, 1.0, -1.0), sample_weight=w)
    got = la.zero_one_loss(f, y, weight=w)
    assert 0.2 < float(got) < 0.8  # a real mix of right and wrong
    assert_close(got, expected, RTOL[dtype])
    assert_close(la.zero_one_loss(f, y, reduction="sum"), np.sum(np.sign(f) != y), 0.0)


# ---- optax --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OptaxCase:
    id: str
    loss: Any
    ref: Callable[[Any, Any], Any]  # elementwise optax loss of (pred, target)
    make: Callable[[np.random.Generator, tuple[int, ...]], tuple]
    params: dict[str, Any] = field(default_factory=dict)
    scale: float = 1.0  # optax == scale * lossatlas


def _optax_hinge(p, t):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return optax.hinge_loss(p, t)


def _optax_cases() -> list[OptaxCase]:
    cases = [
        OptaxCase("squared_error", la.mse, optax.squared_error, _regression_inputs),
        OptaxCase("l2_loss", la.mse, optax.l2_loss, _regression_inputs, scale=0.5),
        OptaxCase("log_cosh", la.log_cosh, optax.log_cosh, _regression_inputs),
        # optax.hinge_loss: targets strictly in {-1, 1} (its docstring), max(0, 1 - f*y)
        OptaxCase("hinge", la.hinge, _optax_hinge, _signed_inputs),
    ]
    for delta in (0.5, 1.0, 2.5):
        cases.append(
            OptaxCase(
                f"huber-delta{delta}",
                la.huber,
                lambda p, t, d=delta: optax.huber_loss(p, t, delta=d),
                _regression_inputs,
                {"delta": delta},
            )
        )
    for kind in ("hard", "soft"):
        cases.append(
            OptaxCase(
                f"sigmoid_bce-{kind}",
                la.binary_cross_entropy_with_logits,
                optax.sigmoid_binary_cross_entropy,
                _logit_inputs(kind),
            )
        )
        for gamma, alpha in FOCAL_GRID:
            cases.append(
                OptaxCase(
                    f"sigmoid_focal-{kind}-gamma{gamma}-alpha{alpha}",
                    la.focal_loss,
                    lambda p, t, a=alpha, g=gamma: optax.sigmoid_focal_loss(p, t, alpha=a, gamma=g),
                    _logit_inputs(kind),
                    {"alpha": alpha, "gamma": gamma},
                )
            )
    return cases


OPTAX_CASES = _optax_cases()


@pytest.mark.parametrize("dtype", OPTAX_DTYPES)
@pytest.mark.parametrize("case", OPTAX_CASES, ids=lambda c: c.id)
def test_optax(case, dtype):
    """Elementwise values, the mean, and jax.grad of the mean, on jax arrays."""
    grads = jax_grads(
        lambda q, s: jnp.mean(case.ref(q, s)),
        lambda q, s: case.scale * case.loss(q, s, **case.params),
    )
    for draw, shape in enumerate(JAX_SHAPES):
        pred, target, _ = case.make(rng_for("optax", case.id, draw, dtype), shape)
        p, t = jt(pred, dtype), jt(target, dtype)
        expected = case.ref(p, t)
        got = case.loss(p, t, reduction="none", **case.params)
        assert isinstance(got, jax.Array) and got.dtype == p.dtype
        assert_close(case.scale * to_np(got), expected, RTOL[dtype])
        assert_close(
            case.scale * to_np(case.loss(p, t, **case.params)), jnp.mean(expected), RTOL[dtype]
        )
        g_ref, g_la = grads(p, t)
        assert_close(g_la, g_ref, RTOL[dtype])


@pytest.mark.parametrize(
    "case",
    [c for c in OPTAX_CASES if c.id in ("squared_error", "huber-delta1.0", "sigmoid_bce-soft")],
    ids=lambda c: c.id,
)
def test_jax_grad_closing_over_concrete_target(case):
    """The everyday patterns ``jax.grad(lambda p: loss(p, y))(p)`` and ``jax.jit`` closing over
    ``y``: pred is a tracer, the target a concrete array; the results must equal optax's."""
    shape = (5, 4)
    pred, target, _ = case.make(rng_for("closure", case.id), shape)
    p, t = jt(pred, "float64"), jt(target, "float64")
    g_ref = jax.grad(lambda q: jnp.mean(case.ref(q, t)))(p)
    g_la = jax.grad(lambda q: case.scale * case.loss(q, t, **case.params))(p)
    assert_close(g_la, g_ref, RTOL["float64"])
    jitted = jax.jit(lambda q: case.loss(q, t, reduction="none", **case.params))(p)
    assert_close(case.scale * to_np(jitted), case.ref(p, t), RTOL["float64"])


# ---- Keras 3 (JAX backend) ----------------------------------------------------------------------
@dataclass(frozen=True)
class KerasCase:
    id: str
    loss: Any
    ref: Callable[..., Any]  # ref(dtype=..., reduction=...) -> keras.losses.Loss
    make: Callable[[np.random.Generator, tuple[int, ...]], tuple]
    params: dict[str, Any] = field(default_factory=dict)
    grad: bool = True


def _keras_cases() -> list[KerasCase]:
    kl = keras.losses
    cases = [
        KerasCase("mae", la.mae, kl.MeanAbsoluteError, _regression_inputs),
        KerasCase("mse", la.mse, kl.MeanSquaredError, _regression_inputs),
        KerasCase("log_cosh", la.log_cosh, kl.LogCosh, _regression_inputs),
        KerasCase("hinge-pm1", la.hinge, kl.Hinge, _signed_inputs),
        KerasCase("squared_hinge-pm1", la.squared_hinge, kl.SquaredHinge, _signed_inputs),
        # Keras maps labels that are all 0/1 to -1/+1; lossatlas reads 0 as -1
        KerasCase(
            "hinge-01", la.hinge, kl.Hinge, lambda r, s: (normal(r, s, 2.0), hard_labels(r, s), {})
        ),
        KerasCase(
            "squared_hinge-01",
            la.squared_hinge,
            kl.SquaredHinge,
            lambda r, s: (normal(r, s, 2.0), hard_labels(r, s), {}),
        ),
        # keras.losses.Poisson: pred - y * log(pred + 1e-7)
        KerasCase(
            "poisson", la.poisson_nll, kl.Poisson, _counts_rate, {"log_input": False, "eps": 1e-7}
        ),
    ]
    for delta in (0.5, 1.0, 2.5):
        cases.append(
            KerasCase(
                f"huber-delta{delta}",
                la.huber,
                lambda d=delta, **kw: kl.Huber(delta=d, **kw),
                _regression_inputs,
                {"delta": delta},
            )
        )
    for kind in ("hard", "soft"):
        cases.append(
            KerasCase(
                f"bce_logits-{kind}",
                la.binary_cross_entropy_with_logits,
                lambda **kw: kl.BinaryCrossentropy(from_logits=True, **kw),
                _logit_inputs(kind),
            )
        )
        for s in (0.1, 0.4):
            cases.append(
                KerasCase(
                    f"bce_logits-{kind}-label_smoothing{s}",
                    la.binary_cross_entropy_with_logits,
                    lambda s=s, **kw: kl.BinaryCrossentropy(
                        from_logits=True, label_smoothing=s, **kw
                    ),
                    _logit_inputs(kind),
                    {"label_smoothing": s},
                )
            )
        # Keras clips probabilities to [1e-7, 1 - 1e-7]: lossatlas eps=1e-7
        cases.append(
            KerasCase(
                f"bce_probs-{kind}",
                la.binary_cross_entropy,
                lambda **kw: kl.BinaryCrossentropy(**kw),
                _bce_inputs(kind, False),
                {"eps": 1e-7},
            )
        )
        cases.append(
            KerasCase(
                f"bce_probs-{kind}-exact_0_and_1",
                la.binary_cross_entropy,
                lambda **kw: kl.BinaryCrossentropy(**kw),
                _bce_inputs(kind, True),
                {"eps": 1e-7},
                grad=False,
            )
        )
        for gamma, alpha in FOCAL_GRID:
            balance = {} if alpha is None else {"apply_class_balancing": True, "alpha": alpha}
            cases.append(
                KerasCase(
                    f"focal_logits-{kind}-gamma{gamma}-alpha{alpha}",
                    la.focal_loss,
                    lambda g=gamma, b=balance, **kw: kl.BinaryFocalCrossentropy(
                        gamma=g, from_logits=True, **b, **kw
                    ),
                    _logit_inputs(kind),
                    {"gamma": gamma, "alpha": alpha},
                )
            )
        for gamma in (0.5, 2.0):
            cases.append(
                KerasCase(
                    f"focal_probs-{kind}-gamma{gamma}",
                    la.focal_loss,
                    lambda g=gamma, **kw: kl.BinaryFocalCrossentropy(
                        gamma=g, apply_class_balancing=True, alpha=0.4, **kw
                    ),
                    _bce_inputs(kind, False),
                    {"gamma": gamma, "alpha": 0.4, "from_logits": False, "eps": 1e-7},
                )
            )
    # Keras ignores alpha unless apply_class_balancing=True
    cases.append(
        KerasCase(
            "focal_logits-alpha_ignored_without_balancing",
            la.focal_loss,
            lambda **kw: kl.BinaryFocalCrossentropy(alpha=0.1, gamma=2.0, from_logits=True, **kw),
            _logit_inputs("hard"),
            {"gamma": 2.0, "alpha": None},
        )
    )
    return cases


KERAS_CASES = _keras_cases()


def _keras_logits_ok(case: KerasCase, pred: np.ndarray) -> np.ndarray:
    """Keras's focal loss from logits works on sigmoid(x) clipped at 1e-7: keep |x| < 8."""
    return np.clip(pred, -8.0, 8.0) if case.id.startswith("focal_logits") else pred


@pytest.mark.parametrize("dtype", KERAS_DTYPES)
@pytest.mark.parametrize("case", KERAS_CASES, ids=lambda c: c.id)
def test_keras(case, dtype):
    """Keras's default reduction (mean over the last axis, then over the batch) == lossatlas's
    mean of equal-length rows; Keras's reduction=None == lossatlas's "none" averaged over the
    last axis; jax.grad of both means."""
    rtol = KERAS_RTOL[dtype]
    grads = jax_grads(
        lambda q, s: case.ref(dtype=dtype)(s, q), lambda q, s: case.loss(q, s, **case.params)
    )
    for draw, shape in enumerate(JAX_SHAPES):
        pred, target, _ = case.make(rng_for("keras", case.id, draw, dtype), shape)
        p, t = jt(_keras_logits_ok(case, pred), dtype), jt(target, dtype)
        ref = case.ref(dtype=dtype)
        expected = ref(t, p)
        got = case.loss(p, t, **case.params)
        assert got.dtype == p.dtype
        assert_close(got, expected, rtol)
        per_row = case.ref(dtype=dtype, reduction=None)(t, p)
        assert_close(
            jnp.mean(case.loss(p, t, reduction="none", **case.params), axis=-1), per_row, rtol
        )
        if case.grad:
            g_ref, g_la = grads(p, t)
            assert_close(g_la, g_ref, rtol)


@pytest.mark.parametrize("dtype", KERAS_DTYPES)
def test_keras_sample_weight(dtype):
    """Per-row sample weights: Keras "mean_with_sample_weight" == lossatlas "mean" (sum(w*l) /
    sum(w)); Keras "sum_over_batch_size" == lossatlas "sum" / number of elements (Keras divides
    by the batch size even where weights are 0, unlike TF's sum_by_nonzero_weights)."""
    rtol = KERAS_RTOL[dtype]
    shape = (7, 4)
    rng = rng_for("keras_weight", dtype)
    x, y = normal(rng, shape, 2.0), normal(rng, shape, 2.0)
    w = rng.uniform(0.0, 2.0, size=shape[0])
    w[2] = 0.0
    p, t, wj = jt(x, dtype), jt(y, dtype), jt(w, dtype)
    for ref, loss in ((keras.losses.MeanSquaredError, la.mse), (keras.losses.LogCosh, la.log_cosh)):
        lw = wj[:, None]
        expected = ref(reduction="mean_with_sample_weight", dtype=dtype)(t, p, sample_weight=wj)
        assert_close(loss(p, t, weight=lw), expected, rtol)
        expected = ref(dtype=dtype)(t, p, sample_weight=wj)
        assert_close(loss(p, t, weight=lw, reduction="sum") / x.size, expected, rtol)
        expected = ref(reduction="sum", dtype=dtype)(t, p, sample_weight=wj)
        assert_close(loss(p, t, weight=lw, reduction="sum") / shape[1], expected, rtol)


# ---- identities between losses ------------------------------------------------------------------
BACKENDS = ["numpy", "torch", "jax"]


def _on(backend: str, x: np.ndarray, dtype: str = "float64") -> Any:
    if backend == "torch":
        return tt(x, dtype)
    if backend == "jax":
        return jt(x, dtype)
    return np.asarray(x, dtype=dtype)


def _identities(rng):
    shape = JAX_SHAPES[0]
    r1, r2 = normal(rng, shape, 2.0), normal(rng, shape, 2.0)
    x, y = normal(rng, shape, 3.0), soft_labels(rng, shape)
    yh = hard_labels(rng, shape)
    pm = 2.0 * yh - 1.0
    p = probabilities(rng, shape)
    out = []
    for delta in (0.3, 1.0, 2.7):
        out.append(
            (
                f"huber(delta={delta}) == delta * smooth_l1(beta=delta)",
                lambda b, d=delta: la.huber(b(r1), b(r2), delta=d, reduction="none"),
                lambda b, d=delta: d * la.smooth_l1(b(r1), b(r2), beta=d, reduction="none"),
            )
        )
    out.append(
        (
            "focal(gamma=0, alpha=None) == bce_with_logits",
            lambda b: la.focal_loss(b(x), b(y), gamma=0.0, alpha=None, reduction="none"),
            lambda b: la.binary_cross_entropy_with_logits(b(x), b(y), reduction="none"),
        )
    )
    for a in (0.25, 0.6):  # hard labels: with soft ones alpha_t also mixes the two terms
        out.append(
            (
                f"focal(gamma=0, alpha={a}) == balanced_ce(beta={a}, from_logits), 0/1 labels",
                lambda b, a=a: la.focal_loss(b(x), b(yh), gamma=0.0, alpha=a, reduction="none"),
                lambda b, a=a: la.balanced_cross_entropy(
                    b(x), b(yh), beta=a, from_logits=True, reduction="none"
                ),
            )
        )
    out.append(
        (
            "logistic_loss(f, y in +-1) == bce_with_logits(f, (y+1)/2)",
            lambda b: la.logistic_loss(b(x), b(pm), reduction="none"),
            lambda b: la.binary_cross_entropy_with_logits(b(x), b((pm + 1) / 2), reduction="none"),
        )
    )
    out.append(
        (
            "quantile(q=0.5) == 0.5 * mae",
            lambda b: la.quantile(b(r1), b(r2), q=0.5, reduction="none"),
            lambda b: 0.5 * la.mae(b(r1), b(r2), reduction="none"),
        )
    )
    out.append(
        (
            "balanced_ce(beta=0.5) == 0.5 * bce",
            lambda b: la.balanced_cross_entropy(b(p), b(y), beta=0.5, reduction="none"),
            lambda b: 0.5 * la.binary_cross_entropy(b(p), b(y), reduction="none"),
        )
    )
    out.append(
        (
            "balanced_ce(beta=0.5, logits) == 0.5 * bce_with_logits",
            lambda b: la.balanced_cross_entropy(
                b(x), b(y), beta=0.5, from_logits=True, reduction="none"
            ),
            lambda b: 0.5 * la.binary_cross_entropy_with_logits(b(x), b(y), reduction="none"),
        )
    )
    return out


IDENTITY_NAMES = [name for name, _, _ in _identities(np.random.default_rng(0))]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("index", range(len(IDENTITY_NAMES)), ids=IDENTITY_NAMES)
def test_identities(index, backend):
    """Relations between losses that every implementation must keep, elementwise."""
    for dtype in DTYPES:
        name, lhs, rhs = _identities(rng_for("identity", dtype))[index]
        b = lambda a, dtype=dtype: _on(backend, a, dtype)  # noqa: E731
        left, right = lhs(b), rhs(b)
        assert to_np(left).shape == JAX_SHAPES[0], name
        assert float(np.max(np.abs(to_np(right)))) > 0.1, name  # a non-trivial comparison
        assert_close(left, right, RTOL[dtype])
