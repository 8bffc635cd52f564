"""The generic suite: every registered loss, on every backend, driven by the registry's metadata.

A loss added to the registry is picked up here without any change: inputs come from its
declared domains, parameter values from its declared ranges, expectations from its declared
properties. The few facts the spec does not carry (how fast a non-robust loss grows, for the
extreme-input tests) sit in ``GROWTH`` below, and a new non-robust loss that is missing there
fails with a message that says so.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import replace
from typing import Any

import _inputs as I
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from array_api_compat import device as xp_device

import lossatlas
from lossatlas._backends import fast_path
from lossatlas._domains import DOMAINS

pytestmark = pytest.mark.usefixtures("torch_fast_path_if_available")


def _cases(losses: list[Any]) -> list[Any]:
    return [
        pytest.param(loss, params, id=f"{loss.name}-{pid}")
        for loss in losses
        for pid, params in I.param_sets(loss)
    ]


CASES = _cases(I.ALL_LOSSES)
DERIVATIVE_LOSSES = [loss for loss in I.ALL_LOSSES if I.has_derivatives(loss)]
DERIVATIVE_CASES = _cases(DERIVATIVE_LOSSES)
ELEMENTWISE_CASES = _cases(I.ELEMENTWISE_LOSSES)
DEFAULTS = [pytest.param(loss, id=loss.name) for loss in I.ALL_LOSSES]


def reductions_for(loss: Any) -> tuple[str, ...]:
    """Per-sample losses support every reduction; rmse has no unreduced value."""
    return I.REDUCTIONS if I.per_sample(loss) else I.REDUCTIONS[1:]


def check_result(result: Any, backend: str, dtype: str, like: Any, shape: tuple) -> None:
    """The result is an array of pred's library, on pred's device, with pred's dtype."""
    assert I.is_backend_array(result, backend), type(result)
    assert result.dtype == I.backend_dtype(backend, dtype), result.dtype
    assert tuple(result.shape) == shape
    if backend != "jax_jit":
        assert xp_device(result) == xp_device(like)


def unreduced_scale(loss: Any, inputs: I.Inputs, weight: Any) -> float:
    """sum |w * l|: the scale of rounding errors of any reduction of the loss."""
    if not I.per_sample(loss):
        return float(np.sum(np.abs(inputs.pred - inputs.target) ** 2)) + 1.0
    values = np.abs(I.to_numpy(inputs.call(loss, reduction="none")))
    if weight is not None:
        values = values * np.broadcast_to(weight, values.shape)
    return float(np.sum(values)) + 1e-300


# ---- all namespaces agree -----------------------------------------------------------------------
def _weight(kind: str | None, seed: int = 1, shape: tuple[int, ...] = I.SHAPE) -> Any:
    """No weight, one weight per element (some zero), or one per row broadcast over columns
    (``shape``: the unreduced output's)."""
    if kind is None:
        return None
    return I.random_weight(seed, shape if kind == "full" else shape[:1] + (1,) * (len(shape) - 1))


def _calls(
    loss: Any, weights: tuple[str | None, ...], shape: tuple[int, ...] = I.SHAPE
) -> list[tuple[Any, dict[str, str]]]:
    return [(_weight(w, shape=shape), {"reduction": r}) for w in weights
            for r in reductions_for(loss)]  # fmt: skip


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
    shape = I.output_shape_for(loss, params)
    if I.is_base(loss, params):
        return _calls(loss, weights, shape)
    few = [(w, r) for w, r in FEW_CALLS if r in reductions_for(loss)] or [("full", "mean")]
    return [(_weight(w, shape=shape), {"reduction": r}) for w, r in few]


def check_backend_agrees(loss: Any, params: dict[str, Any], backend: str) -> None:
    inputs = I.make_inputs(loss, params)
    calls = some_calls(loss, params, (None, "full", "row"))
    if backend == "jax" and not I.is_base(loss, params):
        calls = calls[:1]  # eager JAX is slow; the reductions are covered on the defaults
    out = I.output_shape_for(loss, params)
    if backend == "jax_jit":  # compiled as one function: a few calls that cover the reduction
        calls = [(_weight(w, shape=out), {"reduction": r}) for w, r in JIT_CALLS
                 if r in reductions_for(loss)]  # fmt: skip
    got = I.evaluate_many(loss, inputs, backend, calls)
    with lossatlas.config.override(fast_paths=False):
        reference = I.evaluate_many(loss, inputs, "numpy", calls)
    like = I.convert(inputs.pred, backend)
    for (weight, kw), result, ref in zip(calls, got, reference, strict=True):
        shape = out if kw["reduction"] == "none" else ()
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
    inputs = I.make_inputs(loss, params).map(
        lambda a: a.astype(np.float32).astype(np.float64), index=False
    )
    out = I.output_shape_for(loss, params)
    calls = [*some_calls(loss, params, (None,)), (_weight("row", shape=out), {"reduction": "mean"})]
    if backend == "jax" and not I.is_base(loss, params):
        calls = calls[:1]  # eager JAX is slow; the reductions are covered on the defaults
    got = I.evaluate_many(loss, inputs, backend, calls, dtype="float32")
    reference = I.evaluate_many(loss, inputs, "numpy", calls)
    like = I.convert(inputs.pred, backend, "float32")
    for (weight, kw), result, ref in zip(calls, got, reference, strict=True):
        shape = out if kw["reduction"] == "none" else ()
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
    inputs = I.make_inputs(loss, params).map(
        lambda a: I.to_numpy(I.convert(a, backend, dtype)), index=False
    )
    out = I.output_shape_for(loss, params)
    calls = [*_calls(loss, (None,), out), (_weight("full", shape=out), {"reduction": "mean"})]
    calls = [
        (None if w is None else I.to_numpy(I.convert(w, backend, dtype)), kw) for w, kw in calls
    ]
    got = I.evaluate_many(loss, inputs, backend, calls, dtype=dtype)
    ref32 = I.evaluate_many(loss, inputs, backend, calls, dtype="float32")
    like = I.convert(inputs.pred, backend, dtype)
    ulp = {"float16": 2.0**-10, "bfloat16": 2.0**-7}[dtype]
    for (_, kw), result, ref in zip(calls, got, ref32, strict=True):
        shape = out if kw["reduction"] == "none" else ()
        check_result(result, backend, dtype, like, shape)
        expected = I.to_numpy(I.convert(I.to_numpy(ref).astype(np.float32), backend, dtype))
        I.assert_close(I.to_numpy(result), expected, rtol=ulp, atol=1e-30, msg=str(kw))


# ---- jax transformations ------------------------------------------------------------------------
@pytest.mark.parametrize(("loss", "params"), JIT_CASES)
def test_jax_vmap(loss, params):
    """jax.vmap over rows equals the loss of each row."""
    inputs = I.make_inputs(loss, params)
    weight = _weight("full", shape=I.output_shape_for(loss, params))
    x = inputs.map(jnp.asarray)

    def axis_of(a: Any) -> int | None:  # rows lead every per-sample array; class weights not
        return 0 if np.ndim(a) and np.shape(a)[0] == I.SHAPE[0] else None

    values = tuple(x.values.values())  # a tuple: a dict through jax.vmap sorts its keys
    # a loss over the whole batch has no sample axis in its output: one weight for every row
    w_axis = None if inputs.batch_ndim == 0 else 0
    axes = (
        tuple(axis_of(v) for v in values),
        tuple(axis_of(a) for a in x.arrays),
        {k: axis_of(v) for k, v in x.array_params.items()},
        w_axis,
    )
    for reduction in ("none", "mean") if I.per_sample(loss) else ("mean",):

        def per_row(values, arrays, array_params, w, reduction=reduction):
            return loss(
                *values, *arrays, **array_params, **x.params, weight=w, reduction=reduction,
            )  # fmt: skip

        got = jax.vmap(per_row, in_axes=axes)(values, x.arrays, x.array_params,
                                              jnp.asarray(weight))  # fmt: skip
        rows = []
        for i in range(I.SHAPE[0]):
            row = inputs.map(lambda a, i=i: a[i] if axis_of(a) == 0 else a)
            w_row = weight if w_axis is None else weight[i]
            rows.append(I.to_numpy(row.call(loss, weight=w_row, reduction=reduction)))
        I.assert_close(I.to_numpy(got), np.stack(rows), rtol=1e-12, atol=1e-14, msg=reduction)


# ---- analytic derivatives equal autodiff --------------------------------------------------------
DERIVATIVE_BACKENDS = ("torch", "jax", "array_api_strict")


def check_derivatives(loss: Any, inputs: I.Inputs, rtol: float = 1e-9, jax_autodiff: bool = True):
    """grad/hess agree across backends (the same subgradient everywhere) and with autodiff:
    jax.grad and its forward-mode derivative, torch autograd (double backward), through the composed
    definition and through the default (fast) torch path."""
    grad, hess = I.analytic(loss, inputs, "numpy")
    atol_g = 1e-12 * (1.0 + np.max(np.abs(grad[np.isfinite(grad)]), initial=0.0))
    atol_h = 1e-12 * (1.0 + np.max(np.abs(hess[np.isfinite(hess)]), initial=0.0))
    for backend in DERIVATIVE_BACKENDS:
        # the backends' exp and log differ by an ulp, which a cancelling difference of terms
        # of size |grad| turns into an absolute error of that order
        g, h = I.analytic(loss, inputs, backend)
        I.assert_close(g, grad, rtol=1e-12, atol=atol_g / 100, msg=f"grad on {backend}")
        I.assert_close(h, hess, rtol=1e-12, atol=atol_h / 100, msg=f"hess on {backend}")
    autodiff = {
        **I.torch_autodiff(loss, inputs),
    }
    if jax_autodiff:
        autodiff["jax.grad"] = I.autodiff_jax(loss, inputs)
    for name, (g, h) in autodiff.items():
        I.assert_close(g, grad, rtol=rtol, atol=atol_g, msg=f"grad vs {name}")
        I.assert_close(h, hess, rtol=rtol, atol=atol_h, msg=f"hess vs {name}")
    return grad, hess


@pytest.mark.parametrize(("loss", "params"), DERIVATIVE_CASES)
def test_grad_hess_match_autodiff(loss, params):
    """At random points (JAX autodiff on the defaults and each flag flipped: eager JAX
    compiles every new operation, which costs more than the rest of the suite)."""
    check_derivatives(loss, I.make_inputs(loss, params), jax_autodiff=I.is_base(loss, params))


PROBE_EDGES = np.array([-30.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 30.0])


def edge_inputs(loss: Any, params: dict[str, Any]) -> I.Inputs:
    """Inputs at the branch points and domain edges: along the natural variable of an
    elementwise loss, along the probe of any other."""
    if loss.spec.elementwise:
        return I.line_inputs(loss, params, I.edge_points(loss, params))
    probe = loss.probe(**I.bindable(loss, params))
    if probe.domain == "real":
        ts = PROBE_EDGES
    elif probe.domain == "log_probability":
        ts = -PROBE_EDGES[PROBE_EDGES >= 0][::-1]
    else:
        ts = np.array([0.0, 1e-3, 0.25, 0.5, 0.75, 1.0])
    return I.probe_inputs(loss, params, ts)[0][0]


def _one_batch_probe(loss: Any, params: dict[str, Any]) -> bool:
    """A per-sample loss whose probe, under these params, is a batch of one sample per t (a
    segmentation loss summed over the whole batch, per_image=False): along the probe it is
    the per-sample loss of the default setting."""
    return I.per_sample(loss) and loss.probe(**I.bindable(loss, params)).batch is not None


def probed(cases: list[Any]) -> list[Any]:
    """The cases whose inputs a probe draws: a probability-target form or a class axis
    elsewhere than last is the same function along the probe (the other generic tests run
    those settings), and so is a whole-batch setting probed one sample per t."""
    return [
        c for c in cases
        if "_form" not in c.values[1] and c.values[1].get("axis", -1) == -1
        and not _one_batch_probe(*c.values)
    ]  # fmt: skip


@pytest.mark.parametrize(("loss", "params"), probed(DERIVATIVE_CASES))
def test_grad_hess_at_kinks_and_edges(loss, params):
    """At the branch points (residual 0 and +-delta, margin 1, p = eps, ...) and the domain
    edges (p = 0 and 1, rate 0; logit margins of +-30) the value is finite and grad/hess are
    the documented (sub)gradients, the same on every backend and equal to what autodiff gives
    (torch on every parameter set, JAX on the defaults and flipped flags: eager JAX is
    slow)."""
    inputs = edge_inputs(loss, params)
    value = I.to_numpy(inputs.call(loss, reduction="none"))
    assert not np.isnan(value).any()
    finite = np.isfinite(value)
    if not finite.all():  # a rate of 0 with a positive count and no eps, a probability of 0
        assert I.pred_domain(loss, params) in ("nonnegative", "simplex"), value
        if I.pred_domain(loss, params) == "nonnegative":
            zero = (inputs.pred == 0) & (inputs.target > 0)
            if zero.ndim > value.ndim:  # a class axis: some class of the sample
                zero = zero.reshape(*value.shape, -1).any(axis=-1)
            assert np.all(zero | finite)
        inputs = inputs.per_sample_map(
            lambda a: (
                a[finite]
                if np.shape(a) == value.shape
                or (loss.spec.elementwise is False and np.shape(a)[:1] == value.shape)
                else a
            )
        )
    if (loss.name, I.pred_domain(loss, params)) in LOG_SLOPE:  # its slope is -inf at q = 0
        grad, _ = I.analytic(loss, inputs, "numpy")
        steep = ~np.isfinite(grad).reshape(len(grad), -1).all(axis=1)
        assert np.all(np.isfinite(grad) | (grad == -np.inf) & (inputs.pred == 0)), grad
        inputs = inputs.per_sample_map(lambda a: a[~steep] if np.shape(a)[:1] == steep.shape else a)
    grad, hess = check_derivatives(loss, inputs, jax_autodiff=I.is_base(loss, params))
    assert np.isfinite(grad).all() and np.isfinite(hess).all()


# ---- torch gradcheck ----------------------------------------------------------------------------
GRADCHECK_CASES = [
    pytest.param(*c.values, path, id=f"{path}-{c.id}")
    for c in CASES
    if not c.values[0].spec.held_constant
    for path in ("composed", "default")
    if path == "composed" or fast_path("torch", c.values[0].name) is not None
]


@pytest.mark.parametrize(("loss", "params", "path"), GRADCHECK_CASES)
def test_torch_gradcheck(loss, params, path):
    """torch.autograd.gradcheck and gradgradcheck in float64 away from kinks, with respect to
    pred and every array argument (var, pos_weight), through a weighted mean. A loss that
    holds a term constant in its gradient (``spec.held_constant``: CIoU's alpha) is left out:
    its gradient is by design not the derivative of its value (its own tests hold it to its
    peers' and to the frozen-term derivative). The default path runs where it differs from the
    definition (a registered torch fast path). gradgradcheck (every second derivative, the
    off-diagonal ones included) runs on the defaults and each flipped flag; on the other
    settings of a loss with analytic derivatives test_grad_hess_* holds the double backward's
    Hessian diagonal to them."""
    inputs = I.away_from_edges(loss, params, I.make_inputs(loss, params, shape=(3, 2)))
    x = inputs.map(lambda a: I.convert(a, "torch"))
    weight = I.convert(I.random_weight(5, I.output_shape_for(loss, params, (3, 2))) + 0.1, "torch")
    fn = loss.composed if path == "composed" else loss
    n_arrays, names = len(x.arrays), list(x.array_params)
    leaves = [x.pred, *(a for a in x.arrays if torch.is_tensor(a)), *x.array_params.values()]
    leaves = [t.clone().requires_grad_(True) for t in leaves]
    numbers = [a for a in x.arrays if not torch.is_tensor(a)]

    rest = list(x.values.values())[1:]

    def f(pred, *arrays):
        positional = [*arrays[: n_arrays - len(numbers)], *numbers]
        keyword = dict(zip(names, arrays[n_arrays - len(numbers) :], strict=True))
        return fn(pred, *rest, *positional, **keyword, **x.params, weight=weight)

    assert torch.autograd.gradcheck(f, leaves)
    if I.is_base(loss, params):
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
        return loss(pred, *list(x.values.values())[1:], *x.arrays, **x.array_params, **x.params)

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
        t.pred = pred
        (expected,) = torch.autograd.grad(t.call(loss.composed), pred)
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
    # the similar pair's d^2 / 2 along the pair's offset
    "contrastive_loss": {"real": (2, 2)},
    "center_loss": {"real": (2, 2)},
    "rmse": {"real": (1, 1)},
    # linear, but 100 / epsilon = 1e9 per unit at a target of 0: past |x|**1.25 * 100 at the
    # extremes tested (1e30 in float32, 1e300 in float64)
    "mape": {"real": (1.25, 1.25)},
    # log(1 + x)^2 and its root: slower than any power, so bounded by |x|
    "msle": {"nonnegative": (None, 1)},
    "rmsle": {"nonnegative": (None, 1)},
    "gaussian_nll": {"real": (2, 2)},
    "squared_hinge": {"real": (2, 0)},
    "exponential_loss": {"real": (EXP, 0)},
    "poisson_nll": {"real": (1, EXP), "nonnegative": (None, 1)},
    "generalized_kl_divergence": {"real": (1, EXP), "nonnegative": (None, 1)},
    # on the mean: at most mu^2 (power 0), mu^(2-p) for 1 <= p < 2, 2 log mu, then bounded
    "tweedie_deviance": {"real": (EXP, EXP), "positive": (None, 2)},
    "poisson_deviance": {"real": (1, EXP), "positive": (None, 1)},
    "gamma_deviance": {"real": (EXP, 1), "positive": (None, 1)},
}
#: (loss, pred domain) whose gradient grows only like the log of a probability toward 0 (the
#: Jensen-Shannon divergence: the slope of q log q): not robust, but 15 decades nearer the edge
#: raise it by about 1.15x, not 3x, and at q = 0 itself the slope is -inf while the value is
#: finite.
LOG_SLOPE = {("js_divergence", "simplex")}
EXTREMES = {"float32": (1e4, 1e30), "float64": (1e4, 1e30, 1e300)}
LOGIT_TARGETS = (0.0, 1.0, 0.5, 0.25)


def growth(loss: Any, params: dict[str, Any]) -> tuple[Any, Any]:
    domain = I.pred_domain(loss, params)
    if domain in GROWTH.get(loss.name, {}):
        return GROWTH[loss.name][domain]
    props = loss.properties(**I.bindable(loss, params))
    assert props.robust or props.bounded, (
        f"{loss.name} is neither robust nor bounded: add how it grows to GROWTH"
    )
    k = 0 if props.bounded else 1
    return (None, k) if domain in ("nonnegative", "positive") else (k, k)


def _unbounded_domain(case: Any) -> bool:
    loss, params = case.values
    return DOMAINS[I.pred_domain(loss, params)].high == math.inf


# the defaults and each flag flipped (the focal loss's gamma has its own test below)
EXTREME_CASES = [c for c in JIT_CASES if _unbounded_domain(c) and not _one_batch_probe(*c.values)]


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
    for inputs, x_all in lines(loss, params, np.array(xs)):
        check_extremes(loss, inputs, x_all, neg, pos, dtype)


@pytest.mark.parametrize(("loss", "params"), [c for c in EXTREME_CASES if I.is_base(*c.values)])
def test_no_numpy_warnings_at_extreme_inputs(loss, params):
    """A valid call warns of nothing: NumPy's overflow, divide and invalid warnings from branches
    a select discards (an exp far in a tail, a log of 0) are silenced inside the loss, at
    inputs out to +-1e300, for the value and the analytic derivatives."""
    neg, pos = growth(loss, params)
    xs = [s * x for x in EXTREMES["float64"] for s, k in ((-1.0, neg), (1.0, pos)) if k is not None]
    for inputs, _ in lines(loss, params, np.array(xs)):
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            inputs.call(loss, reduction="none" if I.per_sample(loss) else "mean")
            if I.has_derivatives(loss):
                inputs.call(loss.grad)
                inputs.call(loss.hess)


def lines(loss: Any, params: dict[str, Any], xs: np.ndarray) -> list[tuple[I.Inputs, Any]]:
    """(inputs, the value of the natural variable of each sample): for an elementwise loss
    along the natural variable (soft labels too), for any other along each probe curve."""
    if loss.spec.elementwise:
        targets = LOGIT_TARGETS if loss.spec.target_domain == "binary" else None
        inputs = I.line_inputs(loss, params, xs, targets)
        return [(inputs, np.tile(xs, len(inputs.pred) // len(xs)))]
    if not I.per_sample(loss):  # a loss defined over a reduction: one residual per call
        return [(I.line_inputs(loss, params, xs), np.tile(xs, 3))]
    return [(inputs, xs) for inputs, _ in I.probe_inputs(loss, params, xs)]


def check_extremes(loss, inputs, x_all, neg, pos, dtype) -> None:
    values = {}
    for backend in ("numpy", "torch"):  # the definition, and torch's default (fast) path
        if not I.per_sample(loss):
            one = [inputs.map(lambda a, i=i: a[i : i + 1]) for i in range(len(inputs.pred))]
            values[backend] = np.array(
                [I.to_numpy(I.evaluate(loss, x, backend, dtype)) for x in one]
            )
        else:
            values[backend] = I.unreduced(loss, inputs, backend, dtype)
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
    if not I.has_derivatives(loss):
        return
    derivatives = {
        "analytic": I.analytic(loss, inputs, "numpy", dtype),
        **I.torch_autodiff(loss, inputs, dtype),
        "jax.grad and its forward-mode derivative": I.autodiff_jax(loss, inputs, dtype=dtype),
    }
    grad, hess = derivatives["analytic"]
    shape = grad.shape
    x_per = np.abs(np.asarray(x_all, dtype=np.float64)).reshape((-1,) + (1,) * (grad.ndim - 1))
    x_per = np.broadcast_to(x_per, shape)
    for name, (g, h) in derivatives.items():
        for order, d in ((1, g), (2, h)):
            ok = np.broadcast_to(want[order].reshape(x_per.shape[:1] + (1,) * (d.ndim - 1)), shape)
            assert not np.isnan(d).any(), (name, order, x_per[np.isnan(d)])
            assert np.isfinite(d[ok]).all(), (name, order, x_per[ok & ~np.isfinite(d)])
        ok1 = np.broadcast_to(want[1].reshape(x_per.shape[:1] + (1,) * (g.ndim - 1)), shape)
        ok2 = np.broadcast_to(want[2].reshape(x_per.shape[:1] + (1,) * (h.ndim - 1)), shape)
        both = ok1 & np.isfinite(g) & np.isfinite(grad)
        I.assert_close(g[both], grad[both], rtol=1e-4, atol=1e-30, msg=f"grad, {name}")
        both = ok2 & np.isfinite(h) & np.isfinite(hess)
        # a second derivative of size |grad|/|x| or less, obtained by differentiating a
        # gradient of size |grad|, carries rounding errors of about eps * |grad| / |x|
        noise = 100 * np.finfo(dtype).eps * (1 + np.abs(grad[both])) / x_per[both]
        I.assert_close(h[both], hess[both], rtol=1e-4, atol=noise, msg=f"hess, {name}")


LOGIT_CASES = probed([c for c in CASES if I.pred_domain(*c.values) == "logit"])


@pytest.mark.parametrize(("loss", "params"), LOGIT_CASES)
def test_infinite_logits_give_the_limit(loss, params):
    """At logits of +-inf the loss is its limit (0, a constant or +inf), never NaN, and the
    analytic grad / hess are their limits (their values at +-1e4). Autodiff (torch, through
    the composed definition and the default path; JAX) is finite there too: an elementwise
    loss gives the limit of its gradient (the focal loss once gave NaN: 0 * inf in the
    product rule); cross entropy gives 0 for a row that holds a +inf logit (its value there
    is the limit, taken by a select)."""
    infinite = lines(loss, params, np.array([-np.inf, np.inf]))
    far = lines(loss, params, np.array([-1e4, 1e4]))
    farther = lines(loss, params, np.array([-2e4, 2e4]))
    for (inputs, _), (near, _), (further, _) in zip(infinite, far, farther, strict=True):
        v1 = I.to_numpy(near.call(loss, reduction="none"))
        v2 = I.to_numpy(further.call(loss, reduction="none"))
        limit = np.where(v2 > v1 + 1.0, np.inf, v1)  # growing linearly, or settled
        for backend in ("numpy", "torch", "jax"):
            value = I.unreduced(loss, inputs, backend)
            I.assert_close(value, limit, rtol=1e-12, atol=1e-300, msg=backend)
        if I.has_derivatives(loss):
            g_far, h_far = I.analytic(loss, near, "numpy")
            g_farther, _ = I.analytic(loss, further, "numpy")
        else:  # autodiff only: its gradient far out says where the limit is finite
            g_far, _ = I.autodiff_torch(loss.composed, near, hessian=False)
            g_farther, _ = I.autodiff_torch(loss.composed, further, hessian=False)
        # a gradient that keeps growing (cross entropy's z-loss, 2 z lse p) has the limit inf
        growing = np.abs(g_farther) > 1.5 * np.abs(g_far)
        g_far = np.where(growing, np.sign(g_far) * np.inf, g_far)
        for backend in ("numpy", "torch", "jax") if I.has_derivatives(loss) else ():
            g_inf, h_inf = I.analytic(loss, inputs, backend)
            I.assert_close(g_inf, g_far, rtol=1e-12, atol=1e-300, msg=f"grad on {backend}")
            I.assert_close(h_inf, h_far, rtol=1e-12, atol=1e-300, msg=f"hess on {backend}")
        for name, (g, h) in {
            "torch (composed)": I.autodiff_torch(loss.composed, inputs),
            "torch (default path)": I.autodiff_torch(loss, inputs),
            "jax": I.autodiff_jax(loss, inputs),
        }.items():
            finite = np.broadcast_to(np.isfinite(g_far), np.shape(g))
            assert np.isfinite(g[finite]).all() and not np.isnan(h).any(), name
            if loss.spec.elementwise:
                I.assert_close(g, g_far, rtol=1e-12, atol=1e-300, msg=f"autodiff grad, {name}")


@pytest.mark.parametrize("name", ["binary_cross_entropy_with_logits", "focal_loss"])
def test_bce_and_focal_at_infinite_logits(name):
    """The limits by hand: 0 for a confident right answer, inf for a confident wrong one or a
    soft label."""
    loss = lossatlas.get(name)
    pred = np.array([np.inf, -np.inf, np.inf, -np.inf, np.inf, -np.inf])
    target = np.array([1.0, 0.0, 0.0, 1.0, 0.5, 0.5])
    for backend in ("numpy", "torch", "jax"):
        got = I.unreduced(loss, I.Inputs({"pred": pred, "target": target}), backend)
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
    got = I.unreduced(loss, I.Inputs({"pred": pred, "target": target}), backend, dtype)
    rounded = I.to_numpy(I.convert(pred, backend, dtype))
    expected = I.to_numpy(I.convert(np.abs(rounded) - I.LOG2, backend, dtype))
    I.assert_close(got, expected, rtol=1e-6, msg=f"{backend} {dtype}")
    inputs = I.Inputs({"pred": rounded, "target": target})
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
    shape = I.output_shape_for(loss, I.default_params(loss))
    w = I.random_weight(3, shape)
    row = I.random_weight(4, shape[:1] + (1,) * (len(shape) - 1))

    def run(weight=None, reduction="mean"):
        return I.to_numpy(I.evaluate(loss, inputs, backend, weight=weight, reduction=reduction))

    def close(a, b, msg):
        I.assert_close(a, b, rtol=1e-12, atol=1e-13 * (1 + np.max(np.abs(b))), msg=msg)

    reductions = reductions_for(loss)
    for r in reductions:
        close(run(np.ones(shape), r), run(None, r), f"unit weights, {r}")
        close(run(row, r), run(np.broadcast_to(row, shape).copy(), r), f"(N, 1) weight, {r}")
    close(run(3.0 * w, "mean"), run(w, "mean"), "mean ignores the scale of the weights")
    close(run(None, "sum_by_nonzero_weights"), run(None, "mean"), "no weights")
    if not I.per_sample(loss):
        return
    n = np.prod(shape)
    values = run(None, "none")
    assert values.shape == shape
    scale = mean_scale(loss, inputs)
    close(run(None, "sum"), values.sum(), "sum")
    close(run(None, "mean"), np.sum(scale * values) / n, "mean")
    close(run(w, "none"), w * values, "weighted none")
    close(run(w, "sum"), np.sum(w * values), "weighted sum")
    close(run(w, "mean"), np.sum(w * scale * values) / np.sum(w), "weighted mean")
    close(
        run(w, "sum_by_nonzero_weights"),
        np.sum(w * scale * values) / np.count_nonzero(w),
        "sum_by_nonzero_weights",
    )
    close(run(2.0, "sum"), 2.0 * values.sum(), "a number as weight")


def mean_scale(loss: Any, inputs: I.Inputs) -> np.ndarray | float:
    """What "mean" multiplies each sample's loss by (1/target length for CTC; 1 elsewhere):
    the ``mean_scale`` of the loss's unreduced result."""
    call = inputs.call(loss.validate)
    with np.errstate(invalid="ignore"):  # the loss's own calls silence its discarded branches
        scale = loss.definition(call).mean_scale
    return 1.0 if scale is None else I.to_numpy(scale)


# eager JAX compiles anew for every shape: one empty shape is enough there
EMPTY = [("numpy", (0,)), ("numpy", (0, 3)), ("torch", (0,)), ("torch", (0, 3)), ("jax", (0,))]


@pytest.mark.parametrize(("backend", "shape"), EMPTY, ids=[f"{b}-{s}" for b, s in EMPTY])
@pytest.mark.parametrize("loss", DEFAULTS)
def test_empty_input(loss, backend, shape):
    """A reduction over nothing is 0.0, not NaN, with pred's dtype; "none" is empty."""
    inputs = I.make_inputs(loss, I.default_params(loss), shape=shape)
    out = I.output_shape_for(loss, I.default_params(loss), shape)
    for reduction in reductions_for(loss):
        for weight in (None, np.ones(out)):
            got = I.evaluate(loss, inputs, backend, weight=weight, reduction=reduction)
            check_result(
                got,
                backend,
                "float64",
                I.convert(inputs.pred, backend),
                out if reduction == "none" else (),
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
        x.pred = pred
        out = x.call(loss, reduction=reduction)
        assert out.requires_grad and out.item() == 0.0
        out.backward()
        assert pred.grad is not None and pred.grad.shape == pred.shape


@pytest.mark.parametrize("backend", REDUCTION_BACKENDS)
@pytest.mark.parametrize("loss", DEFAULTS)
def test_all_zero_weights(loss, backend):
    """All weights 0: the mean (and sum_by_nonzero_weights) is 0, and on torch it stays on the
    autograd graph with a zero gradient."""
    inputs = I.make_inputs(loss, I.default_params(loss))
    shape = I.output_shape_for(loss, I.default_params(loss))
    zeros = np.zeros(shape)
    for reduction in ("mean", "sum_by_nonzero_weights", "sum"):
        assert I.to_numpy(I.evaluate(loss, inputs, backend, weight=zeros, reduction=reduction)) == 0
    if backend == "torch":
        x = inputs.map(lambda a: I.convert(a, "torch"))
        pred = x.pred.clone().requires_grad_(True)
        x.pred = pred
        out = x.call(loss, weight=torch.zeros(shape, dtype=torch.float64))
        assert out.requires_grad
        out.backward()
        assert torch.equal(pred.grad, torch.zeros_like(pred))


def poisons(loss: Any, params: dict[str, Any]) -> list[tuple[str, float]]:
    """(input, value) pairs that make a sample's loss inf or NaN: pred at the ends of its
    domain (+-inf, or p = 0 and 1) and NaN where the domain admits it; NaN and +-inf in a
    real-valued target."""
    domain = I.pred_domain(loss, params)
    first, second = loss.spec.input_names[:2]
    bounded = {
        "probability": (0.0, 1.0),
        "simplex": (0.0, 1.0),
        "log_probability": (-np.inf, 0.0),
        "log_simplex": (-np.inf,),
        "cosine": (-1.0, 1.0),  # (finite there: the angular margin losses are bounded)
    }
    out = [(first, v) for v in bounded.get(domain, (np.inf, -np.inf, np.nan))]
    if domain in ("nonnegative", "positive"):
        out = [(first, np.inf)]
    if loss.spec.target_domain == "real":
        out += [(second, np.nan), (second, np.inf)]
    return out


def _poisoned(
    inputs: I.Inputs, name: str, value: float, simplex: bool = False, log: bool = False
) -> I.Inputs:
    values = dict(inputs.values)
    values[name] = values[name].copy()
    if simplex:  # a distribution at its worst end: the value in class 0, the rest in class 1
        row = np.full(values[name].shape[-1], -np.inf if log else 0.0)
        row[0], row[1] = (value, 0.0) if log else (value, 1.0 - value)  # log: -inf and log 1
        value = row
    values[name][0, 0] = value
    return replace(inputs, values=values)


@OVERFLOW_IS_EXPECTED
@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("loss", DEFAULTS)
def test_zero_weight_masks_value_and_gradient(loss, backend):
    """A sample with weight 0 enters neither the reduction nor any gradient, even where its
    loss is inf or NaN (pred at +-inf, NaN, or at the worst end of a probability; a NaN or
    infinite target): the value and, on torch and JAX, the gradient of every other sample
    equal those without the poison, and the masked sample's gradient is 0 (``where`` alone
    masks the value but leaves 0 * NaN in the gradient)."""
    params = I.default_params(loss)
    inputs = I.make_inputs(loss, params)
    w = np.asarray(I.random_weight(6, I.output_shape_for(loss, params)) + 0.5)  # 0-d too
    w[(0,) * w.ndim] = 0.0
    if I.structured(loss, params) and w.ndim:  # a pixel enters every class of its sample
        w[0] = 0.0
    really = []
    clean_grad = _grad_of_weighted_mean(loss, inputs, w, backend)
    domain = DOMAINS[I.pred_domain(loss, params)]
    simplex = domain.simplex or domain.log_simplex
    # a domain the loss checks itself refuses the poison (boxes: finite coordinates only):
    # it goes in with value checks off, as under jax.jit
    checks = {"check_values": False} if domain.relative else {}
    for name, bad in poisons(loss, params):
        first = simplex and name == inputs.names[0]
        poisoned = _poisoned(inputs, name, bad, first, domain.log_simplex)
        if I.per_sample(loss):
            with lossatlas.config.override(check_values=False):
                really.append(I.to_numpy(poisoned.call(loss, reduction="none"))[(0,) * w.ndim])
        with lossatlas.config.override(**checks):
            for reduction in ("mean", "sum", "sum_by_nonzero_weights"):
                got = I.to_numpy(I.evaluate(loss, poisoned, backend, weight=w, reduction=reduction))
                expected = I.to_numpy(
                    I.evaluate(loss, inputs, "numpy", weight=w, reduction=reduction)
                )
                I.assert_close(got, expected, rtol=1e-12, msg=f"{name} {bad}, {reduction}")
            if I.per_sample(loss):
                got = I.to_numpy(I.evaluate(loss, poisoned, backend, weight=w, reduction="none"))
                assert got[(0,) * w.ndim] == 0.0
            grad = _grad_of_weighted_mean(loss, poisoned, w, backend)
        if grad is not None:
            assert np.isfinite(grad).all(), (name, bad, grad[np.isfinite(grad) == 0][:3])
            I.assert_close(grad, clean_grad, rtol=1e-12, atol=1e-300, msg=f"grad, {name} {bad}")
    # a bounded input's worst end (or a log-probability of -inf off the true class) may cost
    # nothing
    bounded = I.pred_domain(loss, params) in (
        "probability", "simplex", "log_probability", "log_simplex"
    )  # fmt: skip
    if I.per_sample(loss) and not bounded and not loss.spec.properties.bounded:
        assert not np.isfinite(really).all(), really  # the masked samples really were inf/NaN


def _grad_of_weighted_mean(loss: Any, inputs: I.Inputs, w: np.ndarray, backend: str) -> Any:
    """d mean(w * l) / d pred on torch or JAX (None on NumPy)."""
    if backend == "torch":
        x = inputs.map(lambda a: I.convert(a, "torch"))
        pred = x.pred.clone().requires_grad_(True)
        x.pred = pred
        out = x.call(loss, weight=torch.from_numpy(w))
        (grad,) = torch.autograd.grad(out, pred)
        return I.to_numpy(grad)
    if backend == "jax":
        x = inputs.map(jnp.asarray)
        rest = list(x.values.values())[1:]

        def f(p):
            return loss(p, *rest, *x.arrays, **x.array_params, **x.params, weight=jnp.asarray(w))

        return I.to_numpy(jax.grad(f)(x.pred))
    return None


# ---- properties from the metadata ---------------------------------------------------------------
# Grids of the natural variable (or the probe variable): a core range, and one reaching far out.
CORE = {
    "real": np.linspace(-10.0, 10.0, 801),
    "logit": np.linspace(-10.0, 10.0, 801),
    "probability": np.linspace(0.05, 0.95, 361),
    "nonnegative": np.linspace(0.1, 10.0, 397),
    "positive": np.linspace(0.1, 10.0, 397),
}
_out = np.logspace(-3, 5, 180)
_far = np.logspace(5, 6, 20)
# Far out, in two parts: the rest, and the outermost values (the last decades toward each open
# end of the domain). A bounded loss (or gradient) has saturated there: the outermost part adds
# nothing to what the rest reaches; an unbounded one keeps growing.
REST = {
    "real": np.concatenate([-_out[::-1], [0.0], _out]),
    "probability": np.concatenate([np.logspace(-36, -0.31, 180), 1 - np.logspace(-13, -0.31, 180)]),
    "nonnegative": np.logspace(-10, 5, 180),
    "positive": np.logspace(-10, 5, 180),
}
OUTER = {
    "real": np.concatenate([-_far[::-1], _far]),
    "probability": np.concatenate([np.logspace(-40, -36, 20), 1 - np.logspace(-15, -13, 20)]),
    "nonnegative": np.concatenate([[0.0], np.logspace(-12, -10, 10), _far]),
    "positive": np.concatenate([np.logspace(-12, -10, 10), _far]),
}
REST["logit"], OUTER["logit"] = REST["real"], OUTER["real"]
CORE["log_probability"] = np.linspace(-10.0, 0.0, 401)
REST["log_probability"] = np.concatenate([-_out[::-1], [0.0]])
OUTER["log_probability"] = -_far[::-1]
EXTENDED = {k: np.concatenate([REST[k], OUTER[k]]) for k in REST}
#: outlying targets, for losses whose variable is pred itself (a count, far from the rate)
FAR_TARGETS = {"nonnegative": (1e6,), "positive": (1e6,)}


def variable_domain(loss: Any, params: dict[str, Any]) -> str:
    """The domain of the variable the property tests sweep: pred's for an elementwise loss
    (its natural variable), the probe's for any other."""
    if loss.spec.elementwise or not I.per_sample(loss):
        return I.pred_domain(loss, params)
    return loss.probe(**I.bindable(loss, params)).domain


def _with_claim(prop: str, value: Any) -> list[Any]:
    """Cases for a property claim, under every setting: the claim is read off the loss's
    properties for that setting (``loss.properties(**params)``)."""
    out = []
    for case in CASES:
        loss, params = case.values
        if "_form" in params or params.get("axis", -1) != -1 or _one_batch_probe(loss, params):
            continue  # the same function along the probe
        if getattr(loss.properties(**I.bindable(loss, params)), prop) == value:
            out.append(case)
    return out


def along(
    loss: Any, params: dict[str, Any], xs: np.ndarray, targets: Any = None
) -> tuple[Any, Any, Any]:
    """(value, d/dt, d²/dt²) along the variable, one row per line, in float64 NumPy.

    An elementwise loss runs along its natural variable for several targets (soft labels
    too); any other per-sample loss along each curve of its probe, its derivatives along the
    probe's direction; a loss defined over a reduction gives the value of one element (no
    derivatives)."""
    n = len(xs)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if not I.per_sample(loss):
            inputs = I.line_inputs(loss, params, xs, targets)
            value = np.array(
                [
                    I.to_numpy(inputs.map(lambda a, i=i: a[i : i + 1]).call(loss))
                    for i in range(len(inputs.pred))
                ]
            )
            return value.reshape(-1, n), None, None
        if loss.spec.elementwise:
            inputs = I.line_inputs(loss, params, xs, targets)
            value = I.to_numpy(inputs.call(loss, reduction="none"))
            grad, hess = I.analytic(loss, inputs, "numpy")
            return value.reshape(-1, n), grad.reshape(-1, n), hess.reshape(-1, n)
        values, grads, hesses = [], [], []
        for inputs, direction in I.probe_inputs(loss, params, xs):
            value = I.to_numpy(inputs.call(loss, reduction="none"))
            # further output axes (a segmentation loss's classes): their mean, as plots draw
            values.append(value.reshape(n, -1).mean(axis=1) if value.ndim > 1 else value)
            if direction is None:  # the probe moves more than one coordinate (CTC's logits)
                continue
            g, h = I.analytic(loss, inputs, "numpy")
            axes = tuple(range(1, g.ndim))
            grads.append(np.sum(np.where(direction == 0, 0.0, direction * g), axis=axes))
            hesses.append(np.sum(np.where(direction == 0, 0.0, direction**2 * h), axis=axes))
    if not grads:
        return np.stack(values), None, None
    return np.stack(values), np.stack(grads), np.stack(hesses)


def slope(loss: Any, params: dict[str, Any], xs: np.ndarray, targets: Any = None) -> np.ndarray:
    """d value / dt along the variable: the analytic derivative, or for a probe without a
    direction differences of the value over the sorted grid."""
    value, grad, _ = along(loss, params, xs, targets)
    if grad is not None:
        return grad
    order = np.argsort(xs)
    out = np.empty_like(value)
    # differences of the value less its first (finite) value: np.gradient's weights on a
    # grid spaced 1e-40 apart do not cancel exactly, and would give a constant a slope of 1e24
    first = value[:, order][:, :1]
    shifted = value[:, order] - np.where(np.isfinite(first), first, 0.0)
    out[:, order] = np.gradient(shifted, xs[order], axis=1)
    return out


def _curvature(loss, params, xs):
    """Second differences of the value along the grid, one row per line, and their scale."""
    v, _, hess = along(loss, params, xs)
    d2 = v[:, :-2] + v[:, 2:] - 2 * v[:, 1:-1]
    return d2, 1e-12 * (1 + np.abs(v[:, 1:-1])), hess


@pytest.mark.parametrize(("loss", "params"), _with_claim("convex", True))
def test_convex_claim_holds(loss, params):
    """convex => second differences of the value >= 0 and hess >= 0 on the grid."""
    xs = CORE[variable_domain(loss, params)]
    d2, tol, hess = _curvature(loss, params, xs)
    assert (d2 >= -tol).all(), d2.min()
    if hess is not None:
        assert (hess >= -1e-12).all(), hess.min()


@pytest.mark.parametrize(("loss", "params"), _with_claim("convex", False))
def test_nonconvex_claim_holds(loss, params):
    xs = CORE[variable_domain(loss, params)]
    d2, tol, _ = _curvature(loss, params, xs)
    assert (d2 < -1e3 * tol).any(), "marked non-convex but convex on the grid"


def _far_lines(loss: Any, params: dict[str, Any]) -> list[tuple[np.ndarray, Any]]:
    """(grid, targets) pairs that reach far out: the outermost values of the variable, and
    for a loss on pred itself with count targets, outlying targets at ordinary preds."""
    domain = variable_domain(loss, params)
    out = [(OUTER[domain], None)]
    far_targets = FAR_TARGETS.get(I.target_domain(loss, params)) if loss.spec.elementwise else None
    if far_targets and I.natural_variable(loss, params) == "pred":
        out.append((np.concatenate([CORE[domain], REST[domain]]), far_targets))
    return out


def _sizes(loss, params, which: int) -> tuple[float, float]:
    """(max |value| or |grad| on the core and the rest of the far grid, max on the outermost
    part and at outlying targets): ``which`` 0 for the value, 1 for the gradient."""
    domain = variable_domain(loss, params)
    near = np.unique(np.concatenate([CORE[domain], REST[domain]]))

    def measure(xs: np.ndarray, targets: Any = None) -> np.ndarray:
        return (
            along(loss, params, xs, targets)[0] if which == 0 else slope(loss, params, xs, targets)
        )

    inner = np.max(np.abs(measure(near)))
    outer = max(np.max(np.abs(measure(x, t))) for x, t in _far_lines(loss, params))
    return float(inner), float(outer)


@pytest.mark.parametrize(
    ("loss", "params"), [c for c in _with_claim("robust", True) if I.per_sample(c.values[0])]
)
def test_robust_claim_holds(loss, params):
    """robust => |grad| has saturated far out: the outermost values (|x| up to 1e6, p down to
    1e-40) and outlying count targets reach at most 3x what the rest of the range does."""
    inner, outer = _sizes(loss, params, 1)
    assert np.isfinite(outer) and outer <= 3 * inner + 1e-12, (inner, outer)


@pytest.mark.parametrize(
    ("loss", "params"), [c for c in _with_claim("robust", False) if I.per_sample(c.values[0])]
)
def test_nonrobust_claim_holds(loss, params):
    """not robust => |grad| keeps growing far out: 3x (1.1x for a slope that grows like the
    log of a probability, ``LOG_SLOPE``), or infinite."""
    inner, outer = _sizes(loss, params, 1)
    factor = 1.1 if (loss.name, I.pred_domain(loss, params)) in LOG_SLOPE else 3
    assert not np.isfinite(outer) or outer > factor * inner, (inner, outer)


@pytest.mark.parametrize(
    ("loss", "params"), [c for c in _with_claim("redescending", True) if I.per_sample(c.values[0])]
)
def test_redescending_claim_holds(loss, params):
    """redescending => |grad| far out (|x| up to 1e6) is below 1% of its peak elsewhere, and
    the loss is not convex (a convex loss's slope cannot come back down)."""
    inner, outer = _sizes(loss, params, 1)
    assert outer <= 1e-2 * inner, (inner, outer)
    assert not loss.properties(**I.bindable(loss, params)).convex


@pytest.mark.parametrize(
    ("loss", "params"),
    [
        c
        for c in _with_claim("redescending", False)
        if I.per_sample(c.values[0])
        and I.natural_variable(*c.values) == "residual"
        and c.values[0].properties(**I.bindable(*c.values)).robust
    ],
)
def test_robust_but_not_redescending_claim_holds(loss, params):
    """A robust residual loss that is not redescending keeps a gradient: far out it is at
    least half its peak (a loss of a probability clipped at eps is flat beyond the clip, which
    is not what redescending describes)."""
    inner, outer = _sizes(loss, params, 1)
    assert outer >= 0.5 * inner, (inner, outer)


@pytest.mark.parametrize(("loss", "params"), _with_claim("nonnegative", True))
def test_nonnegative_claim_holds(loss, params):
    """nonnegative => value >= 0 everywhere; for regression losses the mean over a constant
    prediction is also minimised at the (constant) target."""
    domain = variable_domain(loss, params)
    for xs in (CORE[domain], EXTENDED[domain]):
        value, _, _ = along(loss, params, xs)
        assert (value >= -4 * np.finfo(float).eps).all(), value.min()
    if I.target_domain(loss, params) != "real" or I.natural_variable(loss, params) != "residual":
        return
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
    value, _, _ = along(loss, params, CORE[variable_domain(loss, params)])
    assert (value < 0).any(), "marked as possibly negative but >= 0 on the grid"


@pytest.mark.parametrize(("loss", "params"), _with_claim("bounded", True))
def test_bounded_claim_holds(loss, params):
    """bounded => the value has saturated far out: the outermost values add nothing to the
    maximum over the rest, up to a relative 1e-4: a loss that approaches its bound
    algebraically (geman_mcclure's 2 - 8/z^2, general_robust's 3 - 3 sqrt(3)/|z| at
    alpha = -1) still adds a little there, where a logarithmic growth adds about 10%."""
    inner, outer = _sizes(loss, params, 0)
    assert outer <= inner * (1 + 1e-4) + 1e-12, (inner, outer)


@pytest.mark.parametrize(("loss", "params"), _with_claim("bounded", False))
def test_unbounded_claim_holds(loss, params):
    inner, outer = _sizes(loss, params, 0)
    assert not np.isfinite(outer) or outer > inner * (1 + 1e-6) + 1e-12, (inner, outer)


def _jumps(loss, params):
    """At the loss's declared kinks and a few ordinary points: (value jump, jump of the
    slope, jump of the slope of grad).

    One-sided finite differences of the value (and of the analytic grad) on both sides of
    the point, h = 1e-6; a C1 function has slopes that agree to O(h).
    """
    domain = variable_domain(loss, params)
    if loss.spec.elementwise or not I.per_sample(loss):
        points = I.edge_points(loss, params)
    else:  # along the probe, with its declared kinks (a hinge's corner at the margin)
        kinks = [k for k in (loss.spec.kinks_for(params) or ()) if np.isfinite(k)]
        points = np.unique(np.array([-2.0, -1.0, 0.0, 0.5, 1.0, 2.0, *kinks]))
    h = np.full(len(points), 1e-6)
    if domain == "probability":  # inside (0, 1), a step well inside (a clip at eps = 1e-7)
        points = points[(points > 0) & (points < 1)]
        h = np.minimum(1e-6, 1e-2 * np.minimum(points, 1 - points))
    elif domain == "log_probability":
        points = points[points < -1e-3]
        h = np.full(len(points), 1e-6)
    elif domain in ("nonnegative", "positive"):
        # a declared kink nearer 0 (msle's clamp at epsilon = 1e-7) with a step well inside
        kinks = np.array([k for k in loss.spec.kinks_for(params) if 0 < k <= 1e-3])
        points = np.concatenate([points[points > 1e-3], kinks])
        h = np.minimum(1e-6, 1e-2 * points)
    if domain in ("real", "logit") and len(points) > 1:
        # a stencil that stays clear of the neighbouring points (mape's epsilon = 1e-7 next
        # to its kink at 0, where a slope of 1e9 would read as a jump)
        dist = np.abs(points[:, None] - points[None, :])
        nearest = np.where(dist == 0, np.inf, dist).min(axis=1)
        h = np.minimum(h, nearest / 4)
    # a jump persists as the step shrinks; the truncation error of a smooth function that
    # curves on a small scale (charbonnier's eps = 1e-3) shrinks with it: kept are the
    # measures at h / 4 that are at least half those at h
    coarse = _jumps_at(loss, params, points, h)
    fine = _jumps_at(loss, params, points, h / 4)
    return tuple(
        None if c is None else np.where(f >= 0.5 * c, f, 0.0)
        for c, f in zip(coarse, fine, strict=True)
    )


def _jumps_at(loss, params, points, h):
    """(value jump, slope jump, grad-slope jump) at the points with steps h."""
    xs = (points[:, None] + h[:, None] * np.array([-2.0, -1.0, 0.0, 1.0, 2.0])).ravel()
    value, grad, _ = along(loss, params, xs)
    v = value.reshape(-1, 5)
    h = np.tile(h, len(v) // len(points))
    scale = 1 + np.abs(v[:, 2])
    # the change across the point beyond what the one-sided slopes next to it account for
    # (a steep slope is not a jump: mape's 1e9 per unit at a target of 0)
    value_jump = np.abs((v[:, 3] - v[:, 1]) - (v[:, 1] - v[:, 0]) - (v[:, 4] - v[:, 3])) / scale
    slope_jump = np.abs((v[:, 3] - v[:, 2]) - (v[:, 2] - v[:, 1])) / h / scale
    if grad is None:
        return value_jump, slope_jump, None
    g = grad.reshape(-1, 5)
    gscale = 1 + np.abs(g[:, 2])
    grad_jump = np.abs((g[:, 3] - g[:, 2]) - (g[:, 2] - g[:, 1])) / h / gscale
    return value_jump, slope_jump, grad_jump


JUMP = 1e-3  # a jump; smooth functions differ by about h * |f''| / |f| ~ 1e-6 here
SMOOTH_ORDER = {"discontinuous": -1, "C0": 0, "C1": 1, "C2": 2, "Cinf": 3}


SMOOTHNESS_CASES = probed(
    [c for c in CASES if I.is_base(*c.values) or c.values[0].spec.kinks is not None]
)


@pytest.mark.parametrize(("loss", "params"), SMOOTHNESS_CASES)
def test_smoothness_claim_holds(loss, params):
    """Under every setting: 'Cinf': no jump in the slope of the value or of grad at any
    branch point (0, +-1, +-delta, ...); 'C1': the slope of the value is continuous there but
    that of grad jumps at a declared kink; 'C0': the value is continuous but its slope jumps
    somewhere; 'discontinuous': the value jumps."""
    order = SMOOTH_ORDER[loss.properties(**I.bindable(loss, params)).smoothness]
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
