"""Shared helpers for the registry-driven tests.

Everything here reads a loss's ``spec`` (domains, parameters and their ranges) so that a loss
registered later is covered without touching the tests:

- ``param_sets(loss)``: the defaults plus non-default values drawn from each parameter's range;
- ``make_inputs(loss, params)``: random valid inputs (pred, target, positional arrays, array
  parameters) for those parameters, as NumPy float64 arrays;
- ``convert`` / ``to_numpy``: move arrays between NumPy, PyTorch, JAX and array-api-strict;
- ``evaluate``: call a loss on one backend (``jax_jit`` runs it under ``jax.jit``);
- ``autodiff_jax`` / ``autodiff_torch``: per-element first and second derivatives by autodiff.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import array_api_strict as xps
import jax
import jax.numpy as jnp
import numpy as np
import torch
from array_api_compat import (
    array_namespace,
    is_array_api_strict_namespace,
    is_jax_array,
    is_numpy_array,
    is_torch_array,
)

import lossatlas
from lossatlas import Loss, Param

jax.config.update("jax_enable_x64", True)

SHAPE = (8, 5)  # 40 elements; 2-D so that a (N, 1) weight broadcasts over (N, D)
BACKENDS = ("numpy", "torch", "jax", "jax_jit", "array_api_strict")
REDUCTIONS = ("none", "sum", "mean", "sum_by_nonzero_weights")

REQUIRED = inspect.Parameter.empty
ALL_LOSSES = lossatlas.catalog()
ELEMENTWISE_LOSSES = [loss for loss in ALL_LOSSES if loss.spec.elementwise]


# ---- parameters ---------------------------------------------------------------------------------
# Non-default values the generic rule would not pick (values named in the test plan).
SUGGESTED: dict[str, tuple[Any, ...]] = {
    "gamma": (0.0, 0.5, 1.0, 1.5, 5.0),  # gamma < 1 breaks naive focal gradients
    "q": (0.1, 0.9),
    "delta": (0.5, 3.0),
}
SUGGESTED_NULLABLE_EPS = (1e-7, 0.05)  # the Keras/TensorFlow clip of probabilities


def in_range(p: Param, value: Any) -> bool:
    if value is None:
        return p.allow_none
    if p.low is not None and (value < p.low or (value == p.low and not p.low_inclusive)):
        return False
    return not (
        p.high is not None and (value > p.high or (value == p.high and not p.high_inclusive))
    )


def float_candidates(p: Param) -> list[Any]:
    """Non-default values for a float parameter, drawn from its declared range."""
    if p.name == "eps" and p.allow_none:
        values: list[Any] = list(SUGGESTED_NULLABLE_EPS)
    elif p.name in SUGGESTED:
        values = list(SUGGESTED[p.name])
    elif p.low is not None and p.high is not None:
        width = p.high - p.low
        values = [
            p.low if p.low_inclusive else p.low + 0.1 * width,
            p.high if p.high_inclusive else p.high - 0.1 * width,
        ]
        if p.low_inclusive and p.low == p.default:
            values[0] = p.low + 0.1 * width
    elif p.low is not None:
        values = [p.low if p.low_inclusive else p.low + 0.5, p.low + 3.0]
    elif p.high is not None:
        values = [p.high - 3.0, p.high if p.high_inclusive else p.high - 0.5]
    else:
        values = [-1.0, 1.0]
    if p.allow_none:
        values.append(None)
    values = [v for v in values if v != p.default and in_range(p, v)]
    assert values, f"no non-default value found for parameter {p.name!r}"
    return values


def array_candidates(p: Param) -> list[Any]:
    """Array parameters: 'full' (pred's shape), 'row' (one value per row) or a number."""
    return ["row", 0.7] if p.default is REQUIRED else ["full", 2.5]


def default_params(loss: Loss) -> dict[str, Any]:
    """The defaults, with a required array parameter filled in as a full-shape array."""
    out = {}
    for p in loss.spec.params:
        out[p.name] = "full" if p.default is REQUIRED else p.default
    return out


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def param_sets(loss: Loss) -> list[tuple[str, dict[str, Any]]]:
    """(id, params): the defaults, and each parameter changed alone, from each boolean base.

    Bases are the defaults and the defaults with one boolean flipped (a flag can change the
    domain of pred, e.g. ``from_logits``); from every base each other parameter takes its
    non-default values one at a time.
    """
    defaults = default_params(loss)
    bools = [p for p in loss.spec.params if p.kind == "bool"]
    others = [p for p in loss.spec.params if p.kind != "bool"]
    bases: list[dict[str, Any]] = [{}] + [{b.name: not b.default} for b in bools]
    out: dict[str, dict[str, Any]] = {}
    for base in bases:
        variants = [base]
        for p in others:
            values = array_candidates(p) if p.kind == "array" else float_candidates(p)
            variants += [{**base, p.name: v} for v in values]
        for changes in variants:
            key = ",".join(f"{k}={_fmt(v)}" for k, v in changes.items()) or "default"
            out.setdefault(key, {**defaults, **changes})
    return list(out.items())


def pred_domain(loss: Loss, params: dict[str, Any]) -> str:
    kinds = {p.name: p.kind for p in loss.spec.params}
    return loss.pred_domain(**{k: v for k, v in params.items() if kinds[k] != "array"})


def is_base(loss: Loss, params: dict[str, Any]) -> bool:
    """The defaults, or the defaults with one boolean flag flipped (e.g. ``from_logits``)."""
    defaults = default_params(loss)
    changed = [p for p in loss.spec.params if params[p.name] != defaults[p.name]]
    return not changed or (len(changed) == 1 and changed[0].kind == "bool")


def float_params(params: dict[str, Any]) -> list[float]:
    return [
        float(v)
        for v in params.values()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v is not None
    ]


# ---- inputs -------------------------------------------------------------------------------------
def _arrays_only(f: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda a: a if isinstance(a, (int, float)) else f(a)


@dataclass
class Inputs:
    """Arguments of one call: ``loss(pred, target, *arrays, **array_params, **params)``."""

    pred: Any
    target: Any
    arrays: tuple[Any, ...] = ()
    array_params: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    def map(self, f: Callable[[Any], Any]) -> Inputs:
        """Apply ``f`` to every array (numbers given for array parameters stay as they are)."""
        f = _arrays_only(f)
        return replace(
            self,
            pred=f(self.pred),
            target=f(self.target),
            arrays=tuple(f(a) for a in self.arrays),
            array_params={k: f(v) for k, v in self.array_params.items()},
        )

    def call(self, fn: Callable[..., Any], **kw: Any) -> Any:
        return fn(self.pred, self.target, *self.arrays, **self.array_params, **self.params, **kw)

    def tensors(self) -> list[Any]:
        return [self.pred, self.target, *self.arrays, *self.array_params.values()]

    def broadcast_arrays(self) -> Inputs:
        """Array parameters expanded to pred's shape (for per-element functions)."""
        shape = np.shape(self.pred)
        return replace(
            self,
            arrays=tuple(np.broadcast_to(a, shape).copy() for a in self.arrays),
            array_params={
                k: np.broadcast_to(v, shape).copy() for k, v in self.array_params.items()
            },
        )

    def flat(self) -> Inputs:
        return self.map(lambda a: np.reshape(a, (-1,)))


def random_pred(rng: np.random.Generator, domain: str, shape: tuple[int, ...]) -> np.ndarray:
    if domain in ("real", "logit"):
        return rng.normal(size=shape) * 3.0
    if domain == "probability":
        return rng.uniform(0.01, 0.99, size=shape)
    if domain in ("nonnegative", "positive"):
        return np.abs(rng.normal(size=shape)) * 2.0 + 0.1
    raise AssertionError(f"no generator for pred domain {domain!r}")


def random_target(rng: np.random.Generator, domain: str, shape: tuple[int, ...]) -> np.ndarray:
    if domain == "real":
        return rng.normal(size=shape)
    if domain == "binary":  # hard 0/1 labels and soft labels mixed
        hard = rng.integers(0, 2, size=shape).astype(np.float64)
        return np.where(rng.random(shape) < 0.5, hard, rng.uniform(0.0, 1.0, size=shape))
    if domain == "sign":
        return rng.choice(np.array([-1.0, 1.0]), size=shape)
    if domain == "nonnegative":
        return rng.poisson(3.0, size=shape).astype(np.float64)
    raise AssertionError(f"no generator for target domain {domain!r}")


def positive(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return np.abs(rng.normal(size=shape)) + 0.1


def split_params(
    loss: Loss, params: dict[str, Any], rng: np.random.Generator, shape: tuple[int, ...]
) -> tuple[tuple[Any, ...], dict[str, Any], dict[str, Any]]:
    """(positional arrays, array keyword parameters, scalar parameters), arrays materialised."""
    arrays: dict[str, Any] = {}
    array_params: dict[str, Any] = {}
    scalars: dict[str, Any] = {}
    kinds = {p.name: p.kind for p in loss.spec.params}
    for name, value in params.items():
        if kinds[name] != "array" or value is None:
            scalars[name] = value
            continue
        if value == "full":
            value = positive(rng, shape)
        elif value == "row":
            value = positive(rng, (*shape[:-1], 1))
        # a Python number stays a number
        if name in loss.positional_arrays:
            arrays[name] = value
        elif isinstance(value, np.ndarray):
            array_params[name] = value
        else:
            scalars[name] = value
    ordered = tuple(arrays[n] for n in loss.positional_arrays if n in arrays)
    return ordered, array_params, scalars


def make_inputs(
    loss: Loss, params: dict[str, Any], seed: int = 0, shape: tuple[int, ...] = SHAPE
) -> Inputs:
    """Random valid inputs for ``loss`` with ``params``, as NumPy float64 arrays."""
    rng = np.random.default_rng(seed)
    pred = random_pred(rng, pred_domain(loss, params), shape)
    target = random_target(rng, loss.spec.target_domain, shape)
    arrays, array_params, scalars = split_params(loss, params, rng, shape)
    return Inputs(pred, target, arrays, array_params, scalars)


def random_weight(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """Non-negative weights with some exact zeros."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.0, 2.0, size=shape)
    return np.where(rng.random(shape) < 0.25, 0.0, w)


# ---- backends -----------------------------------------------------------------------------------
def convert(x: Any, backend: str, dtype: str = "float64") -> Any:
    """A NumPy array (or a number, returned as is) in ``backend`` with ``dtype``."""
    if not isinstance(x, np.ndarray):
        return x
    if backend == "numpy":
        if dtype == "bfloat16":
            raise AssertionError("NumPy has no bfloat16")
        return x.astype(dtype)
    if backend == "torch":
        return torch.from_numpy(x.copy()).to(getattr(torch, dtype))
    if backend in ("jax", "jax_jit"):
        return jnp.asarray(x, dtype=getattr(jnp, dtype))
    if backend == "array_api_strict":
        return xps.asarray(x, dtype=getattr(xps, dtype))
    raise AssertionError(backend)


def is_strict(x: Any) -> bool:
    try:
        return is_array_api_strict_namespace(array_namespace(x))
    except TypeError:
        return False


def to_numpy(x: Any) -> np.ndarray:
    if is_torch_array(x):
        x = x.detach().cpu()
        if x.dtype in (torch.bfloat16, torch.float16):
            x = x.to(torch.float32)
        return x.numpy(force=True).astype(np.float64)
    if is_strict(x):
        return np.from_dlpack(x).astype(np.float64)
    if is_jax_array(x):
        return np.asarray(x.astype(jnp.float64) if x.dtype == jnp.bfloat16 else x, np.float64)
    return np.asarray(x, dtype=np.float64)


def is_backend_array(x: Any, backend: str) -> bool:
    if backend == "numpy":
        return is_numpy_array(x)
    if backend == "torch":
        return is_torch_array(x)
    if backend in ("jax", "jax_jit"):
        return is_jax_array(x)
    return is_strict(x)


def backend_dtype(backend: str, dtype: str) -> Any:
    if backend == "numpy":
        return np.dtype(dtype)
    if backend == "torch":
        return getattr(torch, dtype)
    if backend in ("jax", "jax_jit"):
        return jnp.dtype(dtype)
    return getattr(xps, dtype)


def evaluate(
    fn: Callable[..., Any],
    inputs: Inputs,
    backend: str,
    dtype: str = "float64",
    weight: np.ndarray | None = None,
    **kw: Any,
) -> Any:
    """``fn(*inputs, weight=weight, **kw)`` with every array moved to ``backend``/``dtype``."""
    x = inputs.map(lambda a: convert(a, backend, dtype))
    w = convert(weight, backend, dtype) if weight is not None else None
    if backend == "jax_jit":

        def run(pred, target, arrays, array_params, w):
            return fn(pred, target, *arrays, **array_params, **x.params, weight=w, **kw)

        return jax.jit(run)(x.pred, x.target, x.arrays, x.array_params, w)
    return x.call(fn, weight=w, **kw)


def evaluate_many(
    fn: Callable[..., Any],
    inputs: Inputs,
    backend: str,
    calls: list[tuple[np.ndarray | None, dict[str, Any]]],
    dtype: str = "float64",
) -> list[Any]:
    """Several ``evaluate`` calls (weight, keywords) at once; one ``jax.jit`` for all of them."""
    x = inputs.map(lambda a: convert(a, backend, dtype))
    weights = [convert(w, backend, dtype) if w is not None else None for w, _ in calls]
    kws = [kw for _, kw in calls]

    def run(pred, target, arrays, array_params, weights):
        return [
            fn(pred, target, *arrays, **array_params, **x.params, weight=w, **kw)
            for w, kw in zip(weights, kws, strict=True)
        ]

    if backend == "jax_jit":
        return jax.jit(run)(x.pred, x.target, x.arrays, x.array_params, weights)
    return run(x.pred, x.target, x.arrays, x.array_params, weights)


# ---- per-element derivatives by autodiff --------------------------------------------------------
BUCKETS = (40, 128, 512, 2048)


def standard_shape(shape: tuple[int, ...]) -> bool:
    return shape == SHAPE or (len(shape) == 1 and shape[0] in BUCKETS)


def bucketed(flat: Inputs) -> Inputs:
    """1-D inputs padded (by repetition) to a length from a few fixed sizes.

    Eager JAX compiles every primitive once per shape; with a handful of shapes across the
    whole suite those compilations are shared between tests instead of repeated.
    """
    n = np.shape(flat.pred)[0]
    size = next((b for b in BUCKETS if b >= n), n)
    if n == 0 or size == n:
        return flat
    return flat.map(lambda a: np.resize(a, size) if np.shape(a) == (n,) else a)


def autodiff_jax(
    loss: Loss, inputs: Inputs, *, dtype: str = "float64", jit: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(d l_i / d pred_i, d^2 l_i / d pred_i^2) by JAX autodiff of the summed composed loss.

    The loss is elementwise, so jax.grad of the sum is the per-element derivative, and the
    forward-mode derivative of that gradient along a random positive vector v (a
    Hessian-vector product, forward over reverse) divided by v is the diagonal of the
    Hessian, provided the Hessian is diagonal: a non-zero off-diagonal term shows up as a
    mismatch.
    """
    shape = np.shape(inputs.pred)
    n = int(np.prod(shape))
    flat = bucketed(inputs.broadcast_arrays().flat()).map(lambda a: convert(a, "jax", dtype))
    params = flat.params

    def total(pred, target, arrays, array_params):
        return loss.composed(pred, target, *arrays, **array_params, **params, reduction="sum")

    v = np.random.default_rng(11).uniform(0.5, 1.5, size=np.shape(flat.pred))

    def both(pred, target, arrays, array_params):
        def of_pred(p):  # (zero tangents for the target would turn 0 * inf into NaN)
            return total(p, target, arrays, array_params)

        tangent = jnp.asarray(v, dtype=pred.dtype)
        return jax.jvp(jax.grad(of_pred), (pred,), (tangent,))

    if jit:
        both = jax.jit(both)
    grad, hv = both(flat.pred, flat.target, flat.arrays, flat.array_params)
    hess = to_numpy(hv) / to_numpy(jnp.asarray(v, dtype=flat.pred.dtype))
    return to_numpy(grad)[:n].reshape(shape), hess[:n].reshape(shape)


def hessian_jax(loss: Loss, inputs: Inputs, *, dtype: str = "float64"):
    """(grad, hess) per element by jax.grad and jax.hessian of a scalar per-element function,
    vmapped over the elements (slower than ``autodiff_jax``; used at extreme inputs)."""
    shape = np.shape(inputs.pred)
    n = int(np.prod(shape))
    flat = bucketed(inputs.broadcast_arrays().flat()).map(lambda a: convert(a, "jax", dtype))
    params = flat.params

    def one(p, t, arrays, array_params):
        return loss.composed(
            p[None],
            t[None],
            *(a[None] for a in arrays),
            **{k: v[None] for k, v in array_params.items()},
            **params,
            reduction="sum",
        )

    args = (flat.pred, flat.target, flat.arrays, flat.array_params)
    grad = jax.vmap(jax.grad(one))(*args)
    hess = jax.vmap(jax.hessian(one))(*args)
    return to_numpy(grad)[:n].reshape(shape), to_numpy(hess)[:n].reshape(shape)


def autodiff_torch(
    fn: Callable[..., Any], inputs: Inputs, dtype: str = "float64"
) -> tuple[np.ndarray, np.ndarray]:
    """(gradient, diagonal Hessian) of ``fn(..., reduction='sum')`` by torch autograd.

    The loss is elementwise, so the gradient of the sum is the per-element derivative, and
    the gradient of ``sum(grad * v)`` (double backward) divided by v, for a random positive v,
    is the diagonal of the Hessian, provided the Hessian is diagonal (as for ``autodiff_jax``).
    """
    x = inputs.map(lambda a: convert(a, "torch", dtype))
    pred = x.pred.detach().clone().requires_grad_(True)
    x = replace(x, pred=pred)
    out = x.call(fn, reduction="sum")
    (grad,) = torch.autograd.grad(out, pred, create_graph=True)
    v = torch.from_numpy(np.random.default_rng(11).uniform(0.5, 1.5, size=tuple(pred.shape)))
    v = v.to(pred.dtype)
    if grad.requires_grad:
        (hv,) = torch.autograd.grad((grad * v).sum(), pred, allow_unused=True)
        if hv is None:
            hv = torch.zeros_like(pred)
    else:  # the gradient does not depend on pred: the second derivative is 0
        hv = torch.zeros_like(pred)
    return to_numpy(grad), to_numpy(hv) / to_numpy(v)


def unreduced(loss: Loss, inputs: Inputs, backend: str, dtype: str = "float64") -> np.ndarray:
    """loss(..., reduction="none") on ``backend`` as a float64 NumPy array (on JAX computed
    on inputs padded to a standard length, see ``bucketed``)."""
    shape = np.shape(inputs.pred)
    if backend in ("jax", "jax_jit"):
        flat = bucketed(inputs.broadcast_arrays().flat())
        out = to_numpy(evaluate(loss, flat, backend, dtype, reduction="none"))
        return out[: int(np.prod(shape))].reshape(shape)
    return to_numpy(evaluate(loss, inputs, backend, dtype, reduction="none"))


def analytic(loss: Loss, inputs: Inputs, backend: str, dtype: str = "float64"):
    """(loss.grad, loss.hess) computed on ``backend``, as float64 NumPy arrays."""
    if backend in ("jax", "jax_jit") and not standard_shape(np.shape(inputs.pred)):
        shape = np.shape(inputs.pred)
        n = int(np.prod(shape))
        g, h = analytic(loss, bucketed(inputs.broadcast_arrays().flat()), backend, dtype)
        return g[:n].reshape(shape), h[:n].reshape(shape)
    x = inputs.map(lambda a: convert(a, backend, dtype))
    if backend == "jax_jit":

        def both(pred, target, arrays, array_params):
            kw = {**array_params, **x.params}
            return (
                loss.grad(pred, target, *arrays, **kw),
                loss.hess(pred, target, *arrays, **kw),
            )

        g, h = jax.jit(both)(x.pred, x.target, x.arrays, x.array_params)
    else:
        g, h = x.call(loss.grad), x.call(loss.hess)
    for r in (g, h):
        assert is_backend_array(r, backend), type(r)
        assert tuple(r.shape) == tuple(np.shape(inputs.pred))
    return to_numpy(g), to_numpy(h)


def fmax(dtype: str) -> float:
    return float(np.finfo(dtype).max) if dtype != "bfloat16" else 3.389e38


def isclose_or_both_inf(a: np.ndarray, b: np.ndarray, rtol: float, atol: float = 0.0):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    same_inf = np.isinf(a) & (a == b)
    with np.errstate(invalid="ignore"):
        close = np.abs(a - b) <= atol + rtol * np.abs(b)
    return same_inf | close


def assert_close(actual, expected, rtol: float, atol: float = 0.0, msg: str = "") -> None:
    """Like numpy's assert_allclose, with equal infinities accepted and NaN never."""
    actual = np.asarray(actual, np.float64)
    expected = np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, (msg, actual.shape, expected.shape)
    ok = isclose_or_both_inf(actual, expected, rtol, np.broadcast_to(atol, expected.shape))
    if not bool(np.all(ok)):
        bad = np.argwhere(~ok.reshape(actual.shape) if actual.shape else ~ok)[:5]
        raise AssertionError(
            f"{msg}: {int(np.sum(~ok))} of {ok.size} differ (rtol={rtol}, atol={atol}); "
            f"first at {bad.tolist()}: actual {actual[tuple(bad[0])] if actual.shape else actual}"
            f" expected {expected[tuple(bad[0])] if expected.shape else expected}"
        )


LOG2 = math.log(2.0)


# ---- inputs along the natural variable of a loss ------------------------------------------------
# Targets used on lines and at edges: dyadic, so that pred = target + residual is exact.
LINE_TARGETS = {
    "real": (0.0, 1.5, -2.25),
    "sign": (-1.0, 1.0),
    "binary": (0.0, 1.0, 0.5, 0.25),
    "nonnegative": (0.0, 1.0, 3.0),
}
ARRAY_PARAM_ON_LINES = 0.5  # var (< 1, so the Gaussian NLL can go negative), pos_weight


def natural_variable(loss: Loss, params: dict[str, Any]) -> str:
    """What the x-axis of a loss is: the residual, the margin, or pred itself."""
    domain = pred_domain(loss, params)
    if loss.spec.target_domain == "real" and domain == "real":
        return "residual"
    if loss.spec.target_domain == "sign" and domain in ("real", "logit"):
        return "margin"
    return "pred"


def line_inputs(
    loss: Loss, params: dict[str, Any], xs: np.ndarray, targets: tuple[float, ...] | None = None
) -> Inputs:
    """Inputs whose natural variable runs over ``xs``, once for each target value.

    The residual ``pred - target`` (real targets), the margin ``y * pred`` (sign targets) or
    pred itself (logits, probabilities, rates). Array parameters are constants.
    """
    xs = np.asarray(xs, dtype=np.float64)
    kind = natural_variable(loss, params)
    targets = targets if targets is not None else LINE_TARGETS[loss.spec.target_domain]
    preds, ts = [], []
    for t in targets:
        if kind == "residual":
            preds.append(t + xs)
        elif kind == "margin":
            preds.append((t if t != 0 else -1.0) * xs)
        else:
            preds.append(xs)
        ts.append(np.full_like(xs, t))
    pred, target = np.concatenate(preds), np.concatenate(ts)
    arrays, array_params, scalars = split_params(loss, params, np.random.default_rng(0), pred.shape)
    const = lambda a: np.full(pred.shape, ARRAY_PARAM_ON_LINES)  # noqa: E731
    return Inputs(pred, target, arrays, array_params, scalars).map(
        lambda a: const(a) if a is not pred and a is not target else a
    )


def edge_points(loss: Loss, params: dict[str, Any]) -> np.ndarray:
    """Values of the natural variable where piecewise losses switch branch, and domain edges.

    0, +-0.5, +-1, +-2 and +- every float hyperparameter (delta, beta, ...) for real-valued
    pred; for probabilities 0, 1, 1/2 and every hyperparameter in (0, 1/2] and one minus it
    (eps); for rates 0 (where allowed), 1/2, 1, 2, 3 and the hyperparameters.
    """
    domain = pred_domain(loss, params)
    values = float_params(params)
    if domain in ("real", "logit"):
        mags = {0.0, 0.5, 1.0, 2.0} | {abs(v) for v in values if 0 < abs(v) <= 10}
        points = {s * m for m in mags for s in (-1.0, 1.0)}
        if domain == "logit":
            points |= {-30.0, 30.0}
    elif domain == "probability":
        points = {0.0, 0.25, 0.5, 0.75, 1.0}
        points |= {v for v in values if 0 < v <= 0.5} | {1.0 - v for v in values if 0 < v <= 0.5}
    elif domain in ("nonnegative", "positive"):
        points = {0.5, 1.0, 2.0, 3.0} | {v for v in values if 0 < v <= 10}
        if domain == "nonnegative":
            points.add(0.0)
    else:
        raise AssertionError(f"no edge points for pred domain {domain!r}")
    return np.array(sorted(points))


def away_from_edges(
    loss: Loss, params: dict[str, Any], inputs: Inputs, gap: float = 0.05
) -> Inputs:
    """Move pred (and array parameters) at least ``gap`` away from every edge point."""
    edges = edge_points(loss, params)
    kind = natural_variable(loss, params)
    domain = pred_domain(loss, params)
    pred, target = inputs.pred.copy(), inputs.target
    sign = np.where(target == 0, -1.0, target) if kind == "margin" else None
    for _ in range(100):
        x = pred - target if kind == "residual" else pred * sign if kind == "margin" else pred
        near = np.min(np.abs(x[..., None] - edges), axis=-1) < gap
        if not near.any():
            break
        step = 0.07
        if domain == "probability":
            step = np.where(pred + step < 0.99, step, -0.3)
        pred = np.where(near, pred + step, pred)
    else:  # pragma: no cover
        raise AssertionError("could not move the inputs away from the edges")
    values = np.array(float_params(params) or [np.inf])

    def nudge(a: np.ndarray) -> np.ndarray:
        for _ in range(100):
            near = np.min(np.abs(a[..., None] - values), axis=-1) < gap
            if not near.any():
                return a
            a = np.where(near, a + 0.07, a)
        raise AssertionError("could not move an array parameter away from the edges")

    moved = inputs.map(lambda a: a if a is inputs.pred or a is inputs.target else nudge(a))
    return replace(moved, pred=pred)
