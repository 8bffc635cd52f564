"""The generic suite: every registered loss, on every backend, driven by the registry's metadata.

A loss added to the registry is picked up here without any change: inputs come from its
declared domains, parameter values from its declared ranges, expectations from its declared
properties. The few facts the spec does not carry (how fast a non-robust loss grows, for the
extreme-input tests) sit in ``GROWTH`` below, and a new non-robust loss that is missing there
fails with a message that says so.
"""

from __future__ import annotations

import math
from typing import Any

import _inputs as I
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from array_api_compat import device as xp_device

import lossatlas

pytestmark = pytest.mark.usefixtures("torch_fast_path_if_available")


def _cases(losses: list[Any]) -> list[Any]:
    return [
        pytest.param(loss, params, id=f"{loss.name}-{pid}")
        for loss in losses
        for pid, params in I.param_sets(loss)
    ]


CASES = _cases(I.ALL_LOSSES)
ELEMENTWISE_CASES = _cases(I.ELEMENTWISE_LOSSES)
DEFAULTS = [pytest.param(loss, id=loss.name) for loss in I.ALL_LOSSES]
ELEMENTWISE_DEFAULTS = [pytest.param(loss, id=loss.name) for loss in I.ELEMENTWISE_LOSSES]


def reductions_for(loss: Any) -> tuple[str, ...]:
    """Elementwise losses support every reduction; the others have no per-element value."""
    return I.REDUCTIONS if loss.spec.elementwise else I.REDUCTIONS[1:]


def check_result(result: Any, backend: str, dtype: str, like: Any, shape: tuple) -> None:
    """The result is an array of pred's library, on pred's device, with pred's dtype."""
    assert I.is_backend_array(result, backend), type(result)
    assert result.dtype == I.backend_dtype(backend, dtype), result.dtype
    assert tuple(result.shape) == shape
    if backend != "jax_jit":
        assert xp_device(result) == xp_device(like)


def unreduced_scale(loss: Any, inputs: I.Inputs, weight: Any) -> float:
    """sum |w * l|: the scale of rounding errors of any reduction of the loss."""
    if not loss.spec.elementwise:
        return float(np.sum(np.abs(inputs.pred - inputs.target) ** 2)) + 1.0
    values = np.abs(I.to_numpy(inputs.call(loss, reduction="none")))
    if weight is not None:
        values = values * np.broadcast_to(weight, values.shape)
    return float(np.sum(values)) + 1e-300


# ---- all namespaces agree -----------------------------------------------------------------------
def _weight(kind: str | None, seed: int = 1) -> np.ndarray | None:
    """No weight, one weight per element (some zero), or one per row broadcast over columns."""
    if kind is None:
        return None
    return I.random_weight(seed, I.SHAPE if kind == "full" else (I.SHAPE[0], 1))


def _calls(loss: Any, weights: tuple[str | None, ...]) -> list[tuple[Any, dict[str, str]]]:
    return [(_weight(w), {"reduction": r}) for w in weights for r in reductions_for(loss)]


# jax.jit compiles every case (0.1-1 s each): it runs on the defaults and on each flag flipped
# (hyperparameters are static Python values under jit, so other values trace the same code).
JIT_CASES = [c for c in CASES if I.is_base(*c.values)]


@pytest.mark.parametrize("backend", I.BACKENDS[:3] + I.BACKENDS[4:])
@pytest.mark.parametrize(("loss", "params"), CASES)
def test_backends_agree_float64(loss, params, backend):
    """Every backend gives NumPy's float64 value to 1e-12 for every reduction and weight kind
    (eager JAX: all of them on the defaults, the unreduced loss elsewhere)."""
    check_backend_agrees(loss, params, backend)


@pytest.mark.parametrize(("loss", "params"), JIT_CASES)
def test_jax_jit_agrees_float64(loss, params):
    """Under jax.jit (one compiled function for every reduction) the values are NumPy's."""
    check_backend_agrees(loss, params, "jax_jit")


# On the defaults (and each flag flipped) every reduction with each kind of weight; with other
# hyperparameter values, which only change the elementwise part, three calls that still cover
# every code path of the reduction.
FEW_CALLS = [(None, "none"), ("full", "mean"), ("row", "sum_by_nonzero_weights")]
JIT_CALLS = [(None, "none"), (None, "sum"), ("row", "mean"), ("full", "sum_by_nonzero_weights")]


def some_calls(loss: Any, params: dict[str, Any], weights: tuple[Any, ...]) -> list[Any]:
    if I.is_base(loss, params):
        return _calls(loss, weights)
    few = [(w, r) for w, r in FEW_CALLS if r in reductions_for(loss)] or [("full", "mean")]
    return [(_weight(w), {"reduction": r}) for w, r in few]


def check_backend_agrees(loss: Any, params: dict[str, Any], backend: str) -> None:
    inputs = I.make_inputs(loss, params)
    calls = some_calls(loss, params, (None, "full", "row"))
    if backend == "jax" and not I.is_base(loss, params):
        calls = calls[:1]  # eager JAX is slow; the reductions are covered on the defaults
    if backend == "jax_jit":  # compiled as one function: a few calls that cover the reduction
        calls = [(_weight(w), {"reduction": r}) for w, r in JIT_CALLS if r in reductions_for(loss)]
    got = I.evaluate_many(loss, inputs, backend, calls)
    with lossatlas.config.override(torch_fast_path=False):
        reference = I.evaluate_many(loss, inputs, "numpy", calls)
    like = I.convert(inputs.pred, backend)
    for (weight, kw), result, ref in zip(calls, got, reference, strict=True):
        shape = I.SHAPE if kw["reduction"] == "none" else ()
        check_result(result, backend, "float64", like, shape)
        ref = I.to_numpy(ref)
        scale = (
            np.max(np.abs(ref))
            if kw["reduction"] == "none"
            else unreduced_scale(loss, inputs, weight)
        )
        I.assert_close(
            I.to_numpy(result),
            ref,
            rtol=1e-12,
            atol=1e-13 * scale,
            msg=f"{backend} {kw} weight={None if weight is None else weight.shape}",
        )


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax", "array_api_strict"])
@pytest.mark.parametrize(("loss", "params"), CASES)
def test_float32_in_float32_out(loss, params, backend):
    """float32 in gives float32 out, close to the float64 value of the same (rounded) inputs."""
    inputs = I.make_inputs(loss, params).map(lambda a: a.astype(np.float32).astype(np.float64))
    calls = [*some_calls(loss, params, (None,)), (_weight("row"), {"reduction": "mean"})]
    if backend == "jax" and not I.is_base(loss, params):
        calls = calls[:1]  # eager JAX is slow; the reductions are covered on the defaults
    got = I.evaluate_many(loss, inputs, backend, calls, dtype="float32")
    reference = I.evaluate_many(loss, inputs, "numpy", calls)
    like = I.convert(inputs.pred, backend, "float32")
    for (weight, kw), result, ref in zip(calls, got, reference, strict=True):
        shape = I.SHAPE if kw["reduction"] == "none" else ()
        check_result(result, backend, "float32", like, shape)
        ref = I.to_numpy(ref)
        scale = (
            np.max(np.abs(ref))
            if kw["reduction"] == "none"
            else unreduced_scale(loss, inputs, weight)
        )
        I.assert_close(I.to_numpy(result), ref, rtol=1e-5, atol=1e-6 * scale, msg=str(kw))


HALF = [
    ("torch", "float16"),
    ("torch", "bfloat16"),
    ("jax", "float16"),
    ("jax", "bfloat16"),
    ("numpy", "float16"),
]


@pytest.mark.parametrize(("backend", "dtype"), HALF, ids=[f"{b}-{d}" for b, d in HALF])
@pytest.mark.parametrize(("loss", "params"), CASES)
def test_half_precision_computes_in_float32(loss, params, backend, dtype):
    """Half precision in gives the same dtype out: the float32 result, rounded once."""
    if backend == "jax" and not I.is_base(loss, params):
        backend = "numpy" if dtype == "float16" else "torch"  # jax on the defaults only: speed
    inputs = I.make_inputs(loss, params).map(lambda a: I.to_numpy(I.convert(a, backend, dtype)))
    calls = [*_calls(loss, (None,)), (_weight("full"), {"reduction": "mean"})]
    calls = [
        (None if w is None else I.to_numpy(I.convert(w, backend, dtype)), kw) for w, kw in calls
    ]
    got = I.evaluate_many(loss, inputs, backend, calls, dtype=dtype)
    ref32 = I.evaluate_many(loss, inputs, backend, calls, dtype="float32")
    like = I.convert(inputs.pred, backend, dtype)
    ulp = {"float16": 2.0**-10, "bfloat16": 2.0**-7}[dtype]
    for (_, kw), result, ref in zip(calls, got, ref32, strict=True):
        shape = I.SHAPE if kw["reduction"] == "none" else ()
        check_result(result, backend, dtype, like, shape)
        expected = I.to_numpy(I.convert(I.to_numpy(ref).astype(np.float32), backend, dtype))
        I.assert_close(I.to_numpy(result), expected, rtol=ulp, atol=1e-30, msg=str(kw))


# ---- jax transformations ------------------------------------------------------------------------
@pytest.mark.parametrize(("loss", "params"), JIT_CASES)
def test_jax_vmap(loss, params):
    """jax.vmap over rows equals the loss of each row."""
    inputs = I.make_inputs(loss, params)
    weight = _weight("full")
    x = inputs.map(jnp.asarray)
    axes = (0, 0, tuple(None if isinstance(a, float) else 0 for a in x.arrays), 0, 0)
    for reduction in ("none", "mean") if loss.spec.elementwise else ("mean",):

        def per_row(pred, target, arrays, array_params, w, reduction=reduction):
            return loss(
                pred, target, *arrays, **array_params, **x.params, weight=w, reduction=reduction
            )

        got = jax.vmap(per_row, in_axes=axes)(
            x.pred, x.target, x.arrays, x.array_params, jnp.asarray(weight)
        )
        rows = []
        for i in range(I.SHAPE[0]):
            row = inputs.map(lambda a, i=i: a[i])
            rows.append(I.to_numpy(row.call(loss, weight=weight[i], reduction=reduction)))
        I.assert_close(I.to_numpy(got), np.stack(rows), rtol=1e-12, atol=1e-14, msg=reduction)


# ---- analytic derivatives equal autodiff --------------------------------------------------------
DERIVATIVE_BACKENDS = ("torch", "jax", "array_api_strict")


def check_derivatives(loss: Any, inputs: I.Inputs, rtol: float = 1e-9, jax_autodiff: bool = True):
    """grad/hess agree across backends (the same subgradient everywhere) and with autodiff:
    jax.grad and its forward-mode derivative, torch autograd (double backward), through the composed
    definition and through the default (fast) torch path."""
    grad, hess = I.analytic(loss, inputs, "numpy")
    for backend in DERIVATIVE_BACKENDS:
        g, h = I.analytic(loss, inputs, backend)
        I.assert_close(g, grad, rtol=1e-12, atol=1e-300, msg=f"grad on {backend}")
        I.assert_close(h, hess, rtol=1e-12, atol=1e-300, msg=f"hess on {backend}")
    atol_g = 1e-12 * (1.0 + np.max(np.abs(grad[np.isfinite(grad)]), initial=0.0))
    atol_h = 1e-12 * (1.0 + np.max(np.abs(hess[np.isfinite(hess)]), initial=0.0))
    autodiff = {
        "torch autograd (composed)": I.autodiff_torch(loss.composed, inputs),
        "torch autograd (default path)": I.autodiff_torch(loss, inputs),
    }
    if jax_autodiff:
        autodiff["jax.grad"] = I.autodiff_jax(loss, inputs)
    for name, (g, h) in autodiff.items():
        I.assert_close(g, grad, rtol=rtol, atol=atol_g, msg=f"grad vs {name}")
        I.assert_close(h, hess, rtol=rtol, atol=atol_h, msg=f"hess vs {name}")
    return grad, hess


@pytest.mark.parametrize(("loss", "params"), ELEMENTWISE_CASES)
def test_grad_hess_match_autodiff(loss, params):
    """At random points (JAX autodiff on the defaults and each flag flipped: eager JAX
    compiles every new operation, which costs more than the rest of the suite)."""
    check_derivatives(loss, I.make_inputs(loss, params), jax_autodiff=I.is_base(loss, params))


@pytest.mark.parametrize(("loss", "params"), ELEMENTWISE_CASES)
def test_grad_hess_at_kinks_and_edges(loss, params):
    """At the branch points (residual 0 and +-delta, margin 1, p = eps, ...) and the domain
    edges (p = 0 and 1, rate 0) the value is finite and grad/hess are the documented
    (sub)gradients, the same on every backend and equal to what autodiff gives (torch on
    every parameter set, JAX on the defaults and flipped flags: eager JAX is slow)."""
    inputs = I.line_inputs(loss, params, I.edge_points(loss, params))
    value = I.to_numpy(inputs.call(loss, reduction="none"))
    assert not np.isnan(value).any()
    finite = np.isfinite(value)
    if not finite.all():  # only a rate of 0 with a positive count and no eps: the NLL is inf
        assert I.pred_domain(loss, params) == "nonnegative", value
        assert np.all((inputs.pred == 0) & (inputs.target > 0) | finite)
        inputs = inputs.map(lambda a: a[finite] if np.shape(a) == value.shape else a)
    grad, hess = check_derivatives(loss, inputs, jax_autodiff=I.is_base(loss, params))
    assert np.isfinite(grad).all() and np.isfinite(hess).all()


# ---- torch gradcheck ----------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["composed", "default"])
@pytest.mark.parametrize(("loss", "params"), CASES)
def test_torch_gradcheck(loss, params, path):
    """torch.autograd.gradcheck and gradgradcheck in float64 away from kinks, with respect to
    pred and every array argument (var, pos_weight), through a weighted mean."""
    inputs = I.away_from_edges(loss, params, I.make_inputs(loss, params, shape=(3, 2)))
    x = inputs.map(lambda a: I.convert(a, "torch"))
    weight = I.convert(I.random_weight(5, (3, 2)) + 0.1, "torch")
    fn = loss.composed if path == "composed" else loss
    n_arrays, names = len(x.arrays), list(x.array_params)
    leaves = [x.pred, *(a for a in x.arrays if torch.is_tensor(a)), *x.array_params.values()]
    leaves = [t.clone().requires_grad_(True) for t in leaves]
    numbers = [a for a in x.arrays if not torch.is_tensor(a)]

    def f(pred, *arrays):
        positional = [*arrays[: n_arrays - len(numbers)], *numbers]
        keyword = dict(zip(names, arrays[n_arrays - len(numbers) :], strict=True))
        return fn(pred, x.target, *positional, **keyword, **x.params, weight=weight)

    assert torch.autograd.gradcheck(f, leaves)
    assert torch.autograd.gradgradcheck(f, leaves)


def test_jax_transformations_close_over_the_target():
    """jax.jit / jax.grad / jax.vmap of objectives that close over the target (the usual way
    to write one): a traced pred next to a concrete target is neither a device mismatch nor
    a value check on a tracer. One jitted function holds every loss (one compilation)."""
    inputs = {loss.name: I.make_inputs(loss, I.default_params(loss)) for loss in I.ALL_LOSSES}
    closed = {name: x.map(jnp.asarray) for name, x in inputs.items()}

    def objective(pred, name):
        x = closed[name]
        loss = lossatlas.get(name)
        return loss(pred, x.target, *x.arrays, **x.array_params, **x.params)

    def all_losses(preds):
        return {name: objective(preds[name], name) for name in preds}

    preds = {name: x.pred for name, x in closed.items()}
    values = jax.jit(all_losses)(preds)
    grads = jax.jit(jax.grad(lambda p: sum(all_losses(p).values())))(preds)
    for name, x in inputs.items():
        loss = lossatlas.get(name)
        I.assert_close(I.to_numpy(values[name]), I.to_numpy(x.call(loss)), 1e-12, msg=name)
        t = x.map(lambda a: I.convert(a, "torch"))
        pred = t.pred.clone().requires_grad_(True)
        (expected,) = torch.autograd.grad(
            loss.composed(pred, t.target, *t.arrays, **t.array_params, **t.params), pred
        )
        I.assert_close(I.to_numpy(grads[name]), I.to_numpy(expected), 1e-10, 1e-15, msg=name)
    grad = jax.grad(objective)(preds["huber"], "huber")  # eager, outside jit
    I.assert_close(I.to_numpy(grad), I.to_numpy(grads["huber"]), 1e-15)
    x = closed["huber"]
    rows = jax.vmap(lambda p: lossatlas.huber(p, x.target[0]))(x.pred)
    expected_rows = [lossatlas.huber(p, inputs["huber"].target[0]) for p in inputs["huber"].pred]
    I.assert_close(I.to_numpy(rows), np.array(expected_rows), 1e-12, 1e-15)


# ---- extreme inputs -----------------------------------------------------------------------------
EXP = "exp"
# How |loss| grows as the natural variable (residual, margin, logit or rate) goes to -inf and
# +inf: k for |x|**k, EXP for exp(|x|) (overflows every float at |x| = 1e4), None where the
# domain does not extend that way. A robust loss (bounded gradient) grows at most linearly
# and a bounded one not at all; every other loss must be listed here.
GROWTH: dict[str, dict[str, tuple[Any, Any]]] = {
    "mse": {"real": (2, 2)},
    "rmse": {"real": (1, 1)},
    "gaussian_nll": {"real": (2, 2)},
    "squared_hinge": {"real": (2, 0)},
    "exponential_loss": {"real": (EXP, 0)},
    "poisson_nll": {"real": (1, EXP), "nonnegative": (None, 1)},
    "balanced_cross_entropy": {"logit": (1, 1)},
}
EXTREMES = {"float32": (1e4, 1e30), "float64": (1e4, 1e30, 1e300)}
LOGIT_TARGETS = (0.0, 1.0, 0.5, 0.25)


def growth(loss: Any, params: dict[str, Any]) -> tuple[Any, Any]:
    domain = I.pred_domain(loss, params)
    if loss.name in GROWTH:
        return GROWTH[loss.name][domain]
    props = loss.spec.properties
    assert props.robust or props.bounded, (
        f"{loss.name} is neither robust nor bounded: add how it grows to GROWTH"
    )
    k = 0 if props.bounded else 1
    return (None, k) if domain in ("nonnegative", "positive") else (k, k)


def _unbounded_domain(case: Any) -> bool:
    loss, params = case.values
    return I.pred_domain(loss, params) != "probability"


# the defaults and each flag flipped (the focal loss's gamma has its own test below)
EXTREME_CASES = [c for c in JIT_CASES if _unbounded_domain(c)]


def expected_finite(k: Any, x: float, dtype: str, order: int) -> bool:
    """Whether the true value (order 0), derivative (1) or second derivative (2) of a loss
    growing like |x|**k (times at most 100) is representable at |x| = x."""
    if k is None:
        return True
    if k == EXP:
        return False
    power = k - order
    if power <= 0:
        return True
    return power * math.log10(x) + 2.0 < math.log10(I.fmax(dtype))


OVERFLOW_IS_EXPECTED = pytest.mark.filterwarnings(
    "ignore:overflow encountered:RuntimeWarning", "ignore:invalid value encountered:RuntimeWarning"
)


@OVERFLOW_IS_EXPECTED
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("loss", "params"), EXTREME_CASES)
def test_extreme_inputs(loss, params, dtype):
    """Residuals, margins and logits of +-1e4, +-1e30 (and 1e300 in float64): the value and
    its derivatives (analytic; torch autograd; jax.grad and forward-over-reverse) are finite
    wherever the true ones are (derived from how the loss grows), and never NaN."""
    neg, pos = growth(loss, params)
    xs = [s * x for x in EXTREMES[dtype] for s, k in ((-1.0, neg), (1.0, pos)) if k is not None]
    targets = LOGIT_TARGETS if loss.spec.target_domain == "binary" else None
    inputs = I.line_inputs(loss, params, np.array(xs), targets)
    values = {}
    for backend in ("numpy", "torch"):  # the definition, and torch's default (fast) path
        if not loss.spec.elementwise:  # one residual per call: the loss of a single element
            one = [inputs.map(lambda a, i=i: a[i : i + 1]) for i in range(len(inputs.pred))]
            values[backend] = np.array(
                [I.to_numpy(I.evaluate(loss, x, backend, dtype)) for x in one]
            )
        else:
            values[backend] = I.unreduced(loss, inputs, backend, dtype)
    n_t = len(inputs.pred) // len(xs)
    x_all = np.tile(np.array(xs), n_t)
    k_all = [neg if x < 0 else pos for x in x_all]
    want = {
        order: np.array(
            [expected_finite(k, abs(x), dtype, order) for k, x in zip(k_all, x_all, strict=True)]
        )
        for order in (0, 1, 2)
    }
    for backend, value in values.items():
        assert not np.isnan(value).any(), (backend, value)
        assert np.isfinite(value[want[0]]).all(), (backend, x_all[want[0]], value[want[0]])
    if not loss.spec.elementwise:
        return
    derivatives = {
        "analytic": I.analytic(loss, inputs, "numpy", dtype),
        "torch autograd (composed)": I.autodiff_torch(loss.composed, inputs, dtype),
        "torch autograd (default path)": I.autodiff_torch(loss, inputs, dtype),
        "jax.grad and its forward-mode derivative": I.autodiff_jax(loss, inputs, dtype=dtype),
    }
    grad, hess = derivatives["analytic"]
    for name, (g, h) in derivatives.items():
        for order, d in ((1, g), (2, h)):
            assert not np.isnan(d).any(), (name, order, x_all[np.isnan(d)])
            ok = want[order]
            assert np.isfinite(d[ok]).all(), (name, order, x_all[ok & ~np.isfinite(d)])
        both = want[1] & np.isfinite(g) & np.isfinite(grad)
        I.assert_close(g[both], grad[both], rtol=1e-4, atol=1e-30, msg=f"grad, {name}")
        both = want[2] & np.isfinite(h) & np.isfinite(hess)
        # a second derivative of size |grad|/|x| or less, obtained by differentiating a
        # gradient of size |grad|, carries rounding errors of about eps * |grad| / |x|
        noise = 100 * np.finfo(dtype).eps * (1 + np.abs(grad[both])) / np.abs(x_all[both])
        I.assert_close(h[both], hess[both], rtol=1e-4, atol=noise, msg=f"hess, {name}")


LOGIT_CASES = [c for c in CASES if I.pred_domain(*c.values) == "logit"]


@pytest.mark.parametrize(("loss", "params"), LOGIT_CASES)
def test_infinite_logits_give_the_limit(loss, params):
    """At logits of +-inf the loss is its limit (0, a constant or +inf), never NaN, and the
    analytic grad / hess are their limits (their values at +-1e4).

    (Autodiff of the composed focal loss at exactly +-inf gives NaN: (1-p_t)^gamma has a
    derivative of exactly 0 there and multiplies an infinite cross entropy.)"""
    inputs = I.line_inputs(loss, params, np.array([-np.inf, np.inf]), LOGIT_TARGETS)
    far = I.line_inputs(loss, params, np.array([-1e4, 1e4]), LOGIT_TARGETS)
    farther = I.line_inputs(loss, params, np.array([-2e4, 2e4]), LOGIT_TARGETS)
    for backend in ("numpy", "torch", "jax"):
        value = I.unreduced(loss, inputs, backend)
        v1 = I.to_numpy(far.call(loss, reduction="none"))
        v2 = I.to_numpy(farther.call(loss, reduction="none"))
        limit = np.where(v2 > v1 + 1.0, np.inf, v1)  # growing linearly, or settled
        I.assert_close(value, limit, rtol=1e-12, atol=1e-300, msg=backend)
    g_far, h_far = I.analytic(loss, far, "numpy")
    for backend in ("numpy", "torch", "jax"):
        g_inf, h_inf = I.analytic(loss, inputs, backend)
        I.assert_close(g_inf, g_far, rtol=1e-12, atol=1e-300, msg=f"grad on {backend}")
        I.assert_close(h_inf, h_far, rtol=1e-12, atol=1e-300, msg=f"hess on {backend}")


@pytest.mark.parametrize("name", ["binary_cross_entropy_with_logits", "focal_loss"])
def test_bce_and_focal_at_infinite_logits(name):
    """The limits by hand: 0 for a confident right answer, inf for a confident wrong one or a
    soft label."""
    loss = lossatlas.get(name)
    pred = np.array([np.inf, -np.inf, np.inf, -np.inf, np.inf, -np.inf])
    target = np.array([1.0, 0.0, 0.0, 1.0, 0.5, 0.5])
    for backend in ("numpy", "torch", "jax"):
        got = I.unreduced(loss, I.Inputs(pred, target), backend)
        np.testing.assert_array_equal(got, [0.0, 0.0, np.inf, np.inf, np.inf, np.inf])


FOCAL_GAMMAS = (0.0, 0.25, 0.5, 1.0, 2.0, 5.0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("gamma", FOCAL_GAMMAS)
def test_focal_loss_saturated_logits(gamma, dtype):
    """Focal loss at logits +-1e4: finite value, gradient and Hessian for every gamma (the
    gamma < 1 NaN of torchvision), analytic and by autodiff, equal to each other."""
    loss = lossatlas.focal_loss
    params = {**I.default_params(loss), "gamma": gamma}
    inputs = I.line_inputs(loss, params, np.array([-1e4, -30.0, 30.0, 1e4]), LOGIT_TARGETS)
    value = I.to_numpy(I.evaluate(loss, inputs, "numpy", dtype, reduction="none"))
    assert np.isfinite(value).all()
    grad, hess = I.analytic(loss, inputs, "numpy", dtype)
    for name, (g, h) in {
        "analytic": (grad, hess),
        "torch (composed)": I.autodiff_torch(loss.composed, inputs, dtype),
        "torch (default path)": I.autodiff_torch(loss, inputs, dtype),
        "jax.grad and its forward-mode derivative": I.autodiff_jax(loss, inputs, dtype=dtype),
    }.items():
        assert np.isfinite(g).all() and np.isfinite(h).all(), name
        I.assert_close(g, grad, rtol=1e-5, atol=1e-30, msg=f"grad, {name}")
        I.assert_close(h, hess, rtol=1e-5, atol=1e-30, msg=f"hess, {name}")


@pytest.mark.parametrize(
    ("backend", "dtype", "residual"),
    [
        ("numpy", "float32", 1e4),
        ("numpy", "float32", 3e38),
        ("torch", "float32", 3e38),
        ("jax", "float32", 3e38),
        ("torch", "float16", 6e4),
        ("numpy", "float16", 6e4),
        ("jax", "float16", 6e4),
    ],
)
def test_log_cosh_large_residuals(backend, dtype, residual):
    """log(cosh(r)) ~ |r| - log 2: finite far past |r| = 89, where cosh overflows float32."""
    loss = lossatlas.log_cosh
    pred = np.array([residual, -residual, residual / 2])
    target = np.zeros(3)
    got = I.unreduced(loss, I.Inputs(pred, target), backend, dtype)
    rounded = I.to_numpy(I.convert(pred, backend, dtype))
    expected = I.to_numpy(I.convert(np.abs(rounded) - I.LOG2, backend, dtype))
    I.assert_close(got, expected, rtol=1e-6, msg=f"{backend} {dtype}")
    inputs = I.Inputs(rounded, target)
    for g, h in (
        I.analytic(loss, inputs, backend, dtype),
        I.autodiff_torch(loss.composed, inputs, "float32"),
        I.autodiff_jax(loss, inputs, dtype="float32"),
    ):
        I.assert_close(g, np.sign(rounded), rtol=1e-6)
        I.assert_close(h, np.zeros(3), rtol=0, atol=1e-30)


# ---- reductions and weights ---------------------------------------------------------------------
REDUCTION_BACKENDS = ("numpy", "torch", "jax")


@pytest.mark.parametrize("backend", REDUCTION_BACKENDS)
@pytest.mark.parametrize("loss", DEFAULTS)
def test_reductions_are_consistent(loss, backend):
    """sum == sum of none; mean == sum / N; weighted mean == sum(w l) / sum(w);
    sum_by_nonzero_weights == sum(w l) / count(w != 0); a (N, 1) weight broadcasts over (N, D);
    unit weights change nothing and the weighted mean ignores the scale of the weights."""
    inputs = I.make_inputs(loss, I.default_params(loss))
    w = I.random_weight(3, I.SHAPE)
    row = I.random_weight(4, (I.SHAPE[0], 1))

    def run(weight=None, reduction="mean"):
        return I.to_numpy(I.evaluate(loss, inputs, backend, weight=weight, reduction=reduction))

    def close(a, b, msg):
        I.assert_close(a, b, rtol=1e-12, atol=1e-13 * (1 + np.max(np.abs(b))), msg=msg)

    reductions = reductions_for(loss)
    for r in reductions:
        close(run(np.ones(I.SHAPE), r), run(None, r), f"unit weights, {r}")
        close(run(row, r), run(np.broadcast_to(row, I.SHAPE).copy(), r), f"(N, 1) weight, {r}")
    close(run(3.0 * w, "mean"), run(w, "mean"), "mean ignores the scale of the weights")
    close(run(None, "sum_by_nonzero_weights"), run(None, "mean"), "no weights")
    if not loss.spec.elementwise:
        return
    n = np.prod(I.SHAPE)
    values = run(None, "none")
    assert values.shape == I.SHAPE
    close(run(None, "sum"), values.sum(), "sum")
    close(run(None, "mean"), values.sum() / n, "mean")
    close(run(w, "none"), w * values, "weighted none")
    close(run(w, "sum"), np.sum(w * values), "weighted sum")
    close(run(w, "mean"), np.sum(w * values) / np.sum(w), "weighted mean")
    close(
        run(w, "sum_by_nonzero_weights"),
        np.sum(w * values) / np.count_nonzero(w),
        "sum_by_nonzero_weights",
    )
    close(run(2.0, "sum"), 2.0 * values.sum(), "a number as weight")


# eager JAX compiles anew for every shape: one empty shape is enough there
EMPTY = [("numpy", (0,)), ("numpy", (0, 3)), ("torch", (0,)), ("torch", (0, 3)), ("jax", (0,))]


@pytest.mark.parametrize(("backend", "shape"), EMPTY, ids=[f"{b}-{s}" for b, s in EMPTY])
@pytest.mark.parametrize("loss", DEFAULTS)
def test_empty_input(loss, backend, shape):
    """A reduction over nothing is 0.0, not NaN, with pred's dtype; "none" is empty."""
    inputs = I.make_inputs(loss, I.default_params(loss), shape=shape)
    for reduction in reductions_for(loss):
        for weight in (None, np.ones(shape)):
            got = I.evaluate(loss, inputs, backend, weight=weight, reduction=reduction)
            check_result(
                got,
                backend,
                "float64",
                I.convert(inputs.pred, backend),
                shape if reduction == "none" else (),
            )
            if reduction != "none":
                assert I.to_numpy(got) == 0.0, (reduction, got)


@pytest.mark.parametrize("loss", DEFAULTS)
def test_empty_input_backpropagates_in_torch(loss):
    """On torch the empty mean/sum stays on the autograd graph and backward() works."""
    inputs = I.make_inputs(loss, I.default_params(loss), shape=(0,))
    for reduction in ("mean", "sum"):
        x = inputs.map(lambda a: I.convert(a, "torch"))
        pred = x.pred.clone().requires_grad_(True)
        out = loss(pred, x.target, *x.arrays, **x.array_params, **x.params, reduction=reduction)
        assert out.requires_grad and out.item() == 0.0
        out.backward()
        assert pred.grad is not None and pred.grad.shape == (0,)


@pytest.mark.parametrize("backend", REDUCTION_BACKENDS)
@pytest.mark.parametrize("loss", DEFAULTS)
def test_all_zero_weights(loss, backend):
    """All weights 0: the mean (and sum_by_nonzero_weights) is 0, and on torch it stays on the
    autograd graph with a zero gradient."""
    inputs = I.make_inputs(loss, I.default_params(loss))
    zeros = np.zeros(I.SHAPE)
    for reduction in ("mean", "sum_by_nonzero_weights", "sum"):
        assert I.to_numpy(I.evaluate(loss, inputs, backend, weight=zeros, reduction=reduction)) == 0
    if backend == "torch":
        x = inputs.map(lambda a: I.convert(a, "torch"))
        pred = x.pred.clone().requires_grad_(True)
        out = loss(
            pred,
            x.target,
            *x.arrays,
            **x.array_params,
            **x.params,
            weight=torch.zeros(I.SHAPE, dtype=torch.float64),
        )
        assert out.requires_grad
        out.backward()
        assert torch.equal(pred.grad, torch.zeros_like(pred))


@OVERFLOW_IS_EXPECTED
@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("loss", DEFAULTS)
def test_zero_weight_masks_an_infinite_element(loss, backend):
    """An element with weight 0 does not enter the reduction even where its loss is inf or NaN
    (pred at +-inf, or at the worst end of a probability)."""
    params = I.default_params(loss)
    domain = I.pred_domain(loss, params)
    extremes = {"probability": (0.0, 1.0), "nonnegative": (np.inf,), "positive": (np.inf,)}
    inputs = I.make_inputs(loss, params)
    w = I.random_weight(6, I.SHAPE) + 0.5
    w[0, 0] = 0.0
    poisoned_values = []
    for bad in extremes.get(domain, (np.inf, -np.inf)):
        poisoned = inputs.map(lambda a: a)
        poisoned.pred = inputs.pred.copy()
        poisoned.pred[0, 0] = bad
        if loss.spec.elementwise:
            poisoned_values.append(I.to_numpy(poisoned.call(loss, reduction="none"))[0, 0])
        for reduction in ("mean", "sum", "sum_by_nonzero_weights"):
            got = I.to_numpy(I.evaluate(loss, poisoned, backend, weight=w, reduction=reduction))
            expected = I.to_numpy(I.evaluate(loss, inputs, "numpy", weight=w, reduction=reduction))
            I.assert_close(got, expected, rtol=1e-12, msg=f"pred {bad}, {reduction}")
        if loss.spec.elementwise:
            got = I.to_numpy(I.evaluate(loss, poisoned, backend, weight=w, reduction="none"))
            assert got[0, 0] == 0.0
    unbounded = domain != "probability" and not loss.spec.properties.bounded
    if loss.spec.elementwise and unbounded:  # the masked element really was inf (or NaN)
        assert not np.isfinite(poisoned_values).all(), poisoned_values


# ---- properties from the metadata ---------------------------------------------------------------
# Grids of the natural variable: a core range, and an extended one reaching far out.
CORE = {
    "real": np.linspace(-10.0, 10.0, 801),
    "logit": np.linspace(-10.0, 10.0, 801),
    "probability": np.linspace(0.05, 0.95, 361),
    "nonnegative": np.linspace(0.1, 10.0, 397),
    "positive": np.linspace(0.1, 10.0, 397),
}
_far = np.logspace(-3, 6, 200)
EXTENDED = {
    "real": np.concatenate([-_far[::-1], [0.0], _far]),
    "logit": np.concatenate([-_far[::-1], [0.0], _far]),
    "probability": np.concatenate([np.logspace(-40, -0.31, 200), 1 - np.logspace(-15, -0.31, 200)]),
    "nonnegative": np.concatenate([[0.0], np.logspace(-12, 6, 200)]),
    "positive": np.logspace(-12, 6, 200),
}


def _with_claim(prop: str, value: Any) -> list[Any]:
    """Cases for a property claim: a true claim on every parameter set that keeps the
    documented pred domain; a false claim (it fails somewhere) on the defaults."""
    out = []
    for case in CASES:
        loss, params = case.values
        if getattr(loss.spec.properties, prop) != value:
            continue
        if value is True and I.pred_domain(loss, params) != loss.spec.pred_domain:
            continue
        if value is not True and params != I.default_params(loss):
            continue
        out.append(case)
    return out


def along(loss: Any, params: dict[str, Any], xs: np.ndarray, targets=None) -> tuple[Any, ...]:
    """(inputs, value, grad, hess) along the natural variable, in float64 NumPy; for a loss that
    is not elementwise the value of a single element (grad and hess are None)."""
    inputs = I.line_inputs(loss, params, xs, targets)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if not loss.spec.elementwise:
            value = np.array(
                [
                    I.to_numpy(inputs.map(lambda a, i=i: a[i : i + 1]).call(loss))
                    for i in range(len(inputs.pred))
                ]
            )
            return inputs, value, None, None
        value = I.to_numpy(inputs.call(loss, reduction="none"))
        grad, hess = I.analytic(loss, inputs, "numpy")
    return inputs, value, grad, hess


def _blocks(a: np.ndarray, n: int) -> np.ndarray:
    return a.reshape(-1, n)


def _curvature(loss, params, xs):
    """Second differences of the value along the grid, one row per target, and their scale."""
    _, value, _, hess = along(loss, params, xs)
    v = _blocks(value, len(xs))
    d2 = v[:, :-2] + v[:, 2:] - 2 * v[:, 1:-1]
    return d2, 1e-12 * (1 + np.abs(v[:, 1:-1])), hess


@pytest.mark.parametrize(("loss", "params"), _with_claim("convex", True))
def test_convex_claim_holds(loss, params):
    """convex => second differences of the value >= 0 and hess >= 0 on the grid."""
    xs = CORE[I.pred_domain(loss, params)]
    d2, tol, hess = _curvature(loss, params, xs)
    assert (d2 >= -tol).all(), d2.min()
    if hess is not None:
        assert (hess >= -1e-12).all(), hess.min()


@pytest.mark.parametrize(("loss", "params"), _with_claim("convex", False))
def test_nonconvex_claim_holds(loss, params):
    xs = CORE[I.pred_domain(loss, params)]
    d2, tol, _ = _curvature(loss, params, xs)
    assert (d2 < -1e3 * tol).any(), "marked non-convex but convex on the grid"


def _grad_sizes(loss, params):
    domain = I.pred_domain(loss, params)
    _, _, core, _ = along(loss, params, CORE[domain])
    _, _, far, _ = along(loss, params, EXTENDED[domain])
    return np.max(np.abs(core)), np.max(np.abs(far))


ELEMENTWISE_ONLY = [c for c in CASES if c.values[0].spec.elementwise]


@pytest.mark.parametrize(
    ("loss", "params"), [c for c in _with_claim("robust", True) if c in ELEMENTWISE_ONLY]
)
def test_robust_claim_holds(loss, params):
    """robust => |grad| stays bounded far out (up to 1e6, or p -> 0, 1)."""
    core, far = _grad_sizes(loss, params)
    assert far <= 10 * core + 1e-12, (core, far)


@pytest.mark.parametrize(
    ("loss", "params"), [c for c in _with_claim("robust", False) if c in ELEMENTWISE_ONLY]
)
def test_nonrobust_claim_holds(loss, params):
    core, far = _grad_sizes(loss, params)
    assert far > 10 * core, (core, far)


@pytest.mark.parametrize(("loss", "params"), _with_claim("nonnegative", True))
def test_nonnegative_claim_holds(loss, params):
    """nonnegative => value >= 0 everywhere; for regression losses also 0 at pred == target
    and the mean over a constant prediction is minimised at the (constant) target."""
    domain = I.pred_domain(loss, params)
    for xs in (CORE[domain], EXTENDED[domain]):
        _, value, _, _ = along(loss, params, xs)
        assert (value >= -4 * np.finfo(float).eps).all(), value.min()
    if I.natural_variable(loss, params) != "residual":
        return
    _, value, _, _ = along(loss, params, np.array([0.0]))
    np.testing.assert_array_equal(value, 0.0)
    for t in (0.0, 1.5, -2.25):
        candidates = t + np.linspace(-5.0, 5.0, 201)  # contains t exactly
        if loss.spec.elementwise:  # row i: a constant prediction candidates[i] for 7 targets
            rows = I.line_inputs(loss, params, np.zeros(7), (t,))
            rows = rows.map(lambda a: np.broadcast_to(a, (201, 7)).copy())
            rows.pred = np.broadcast_to(candidates[:, None], (201, 7)).copy()
            means = I.to_numpy(rows.call(loss, reduction="none")).mean(axis=1)
        else:
            means = [
                I.to_numpy(I.line_inputs(loss, params, np.full(7, c - t), (t,)).call(loss))
                for c in candidates
            ]
        assert candidates[int(np.argmin(means))] == t


@pytest.mark.parametrize(("loss", "params"), _with_claim("nonnegative", False))
def test_signed_claim_holds(loss, params):
    domain = I.pred_domain(loss, params)
    _, value, _, _ = along(loss, params, CORE[domain])
    assert (value < 0).any(), "marked as possibly negative but >= 0 on the grid"


@pytest.mark.parametrize(("loss", "params"), _with_claim("bounded", True))
def test_bounded_claim_holds(loss, params):
    """bounded => the value far out never exceeds its maximum on the core grid."""
    domain = I.pred_domain(loss, params)
    _, core, _, _ = along(loss, params, CORE[domain])
    _, far, _, _ = along(loss, params, EXTENDED[domain])
    assert np.max(far) <= np.max(core) * (1 + 1e-12) + 1e-12


@pytest.mark.parametrize(("loss", "params"), _with_claim("bounded", False))
def test_unbounded_claim_holds(loss, params):
    domain = I.pred_domain(loss, params)
    _, core, _, _ = along(loss, params, CORE[domain])
    _, far, _, _ = along(loss, params, EXTENDED[domain])
    assert np.max(far) > 10 * np.max(np.abs(core)) + 1


def _jumps(loss, params):
    """At every edge point: (value jump, jump of the slope, jump of the slope of grad).

    One-sided finite differences of the value (and of the analytic grad) on both sides of
    the point, h = 1e-6; a C1 function has slopes that agree to O(h).
    """
    points = I.edge_points(loss, params)
    domain = I.pred_domain(loss, params)
    if domain == "probability":
        points = points[(points > 1e-3) & (points < 1 - 1e-3)]
    elif domain in ("nonnegative", "positive"):
        points = points[points > 1e-3]
    h = 1e-6
    xs = (points[:, None] + np.array([-2 * h, -h, 0.0, h, 2 * h])).ravel()
    _, value, grad, _ = along(loss, params, xs)
    v = _blocks(value, 5)
    scale = 1 + np.abs(v[:, 2])
    value_jump = np.abs(v[:, 3] - v[:, 1]) / scale
    slope_jump = np.abs((v[:, 3] - v[:, 2]) - (v[:, 2] - v[:, 1])) / h / scale
    if grad is None:
        return value_jump, slope_jump, None
    g = _blocks(grad, 5)
    gscale = 1 + np.abs(g[:, 2])
    grad_jump = np.abs((g[:, 3] - g[:, 2]) - (g[:, 2] - g[:, 1])) / h / gscale
    return value_jump, slope_jump, grad_jump


JUMP = 1e-3  # a jump; smooth functions differ by about h * |f''| / |f| ~ 1e-6 here
SMOOTH_ORDER = {"discontinuous": -1, "C0": 0, "C1": 1, "Cinf": 3}


@pytest.mark.parametrize("loss", DEFAULTS)
def test_smoothness_claim_holds(loss):
    """'Cinf': no jump in the slope of the value or of grad at any branch point (0, +-1,
    +-delta, ...); 'C1': the slope of the value is continuous there but that of grad jumps
    somewhere; 'C0': the value is continuous but its slope jumps somewhere; 'discontinuous':
    the value jumps."""
    params = I.default_params(loss)
    order = SMOOTH_ORDER[loss.spec.properties.smoothness]
    value_jump, slope_jump, grad_jump = _jumps(loss, params)
    if order == -1:
        assert (value_jump > JUMP).any()
        return
    assert (value_jump < JUMP).all(), value_jump
    if order == 0:
        assert (slope_jump > JUMP).any(), "marked C0 but no kink found"
        return
    assert (slope_jump < JUMP).all(), slope_jump
    if grad_jump is None:
        return
    if order == 1:
        assert (grad_jump > JUMP).any(), "marked C1 but the second derivative never jumps"
    else:
        assert (grad_jump < JUMP).all(), grad_jump
