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


# ---- all namespaces agree ---------------------------------------------------------------------
WEIGHTS = (None, "full", "row")  # no weight, one per element, one per row broadcast over columns


def _weight(kind: str | None, seed: int = 1) -> np.ndarray | None:
    if kind is None:
        return None
    return I.random_weight(seed, I.SHAPE if kind == "full" else (I.SHAPE[0], 1))


@pytest.mark.parametrize("backend", I.BACKENDS)
@pytest.mark.parametrize(("loss", "params"), CASES)
def test_backends_agree_float64(loss, params, backend):
    """Every backend (and jax.jit) gives NumPy's float64 value to 1e-12 for every reduction."""
    inputs = I.make_inputs(loss, params)
    calls = [
        (_weight(w), {"reduction": r}) for w in WEIGHTS for r in reductions_for(loss)
    ]
    got = I.evaluate_many(loss, inputs, backend, calls)
    with lossatlas.config.override(torch_fast_path=False):
        reference = I.evaluate_many(loss, inputs, "numpy", calls)
    like = I.convert(inputs.pred, backend)
    for (weight, kw), result, ref in zip(calls, got, reference):
        shape = I.SHAPE if kw["reduction"] == "none" else ()
        check_result(result, backend, "float64", like, shape)
        scale = unreduced_scale(loss, inputs, weight)
        atol = 1e-13 * (scale if kw["reduction"] != "none" else np.max(np.abs(I.to_numpy(ref))))
        I.assert_close(
            I.to_numpy(result), I.to_numpy(ref), rtol=1e-12, atol=atol,
            msg=f"{backend} {kw} weight={None if weight is None else weight.shape}",
        )


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax", "array_api_strict"])
@pytest.mark.parametrize(("loss", "params"), CASES)
def test_float32_in_float32_out(loss, params, backend):
    """float32 in gives float32 out, close to the float64 value of the same (rounded) inputs."""
    inputs = I.make_inputs(loss, params).map(lambda a: a.astype(np.float32).astype(np.float64))
    calls = [(_weight(w), {"reduction": r}) for w in (None, "row") for r in reductions_for(loss)]
    got = I.evaluate_many(loss, inputs, backend, calls, dtype="float32")
    reference = I.evaluate_many(loss, inputs, "numpy", calls)
    like = I.convert(inputs.pred, backend, "float32")
    for (weight, kw), result, ref in zip(calls, got, reference):
        shape = I.SHAPE if kw["reduction"] == "none" else ()
        check_result(result, backend, "float32", like, shape)
        ref = I.to_numpy(ref)
        scale = np.max(np.abs(ref)) if kw["reduction"] == "none" else unreduced_scale(
            loss, inputs, weight
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
    """Half-precision in gives the same dtype out: the float32 result, rounded once."""
    inputs = I.make_inputs(loss, params).map(lambda a: I.to_numpy(I.convert(a, backend, dtype)))
    calls = [(_weight(w), {"reduction": r}) for w in (None, "full") for r in reductions_for(loss)]
    rounded = [(None if w is None else I.to_numpy(I.convert(w, backend, dtype)), kw)
               for w, kw in calls]
    got = I.evaluate_many(loss, inputs, backend, rounded, dtype=dtype)
    ref32 = I.evaluate_many(loss, inputs, backend, rounded, dtype="float32")
    like = I.convert(inputs.pred, backend, dtype)
    ulp = {"float16": 2.0**-10, "bfloat16": 2.0**-7}[dtype]
    for (_, kw), result, ref in zip(rounded, got, ref32):
        shape = I.SHAPE if kw["reduction"] == "none" else ()
        check_result(result, backend, dtype, like, shape)
        expected = I.to_numpy(I.convert(I.to_numpy(ref).astype(np.float32), backend, dtype))
        I.assert_close(I.to_numpy(result), expected, rtol=ulp, atol=1e-30, msg=str(kw))


# ---- jax transformations ----------------------------------------------------------------------
@pytest.mark.parametrize(("loss", "params"), CASES)
def test_jax_vmap(loss, params):
    """jax.vmap over rows equals the loss of each row."""
    inputs = I.make_inputs(loss, params)
    weight = _weight("full")
    x = inputs.map(jnp.asarray)
    for reduction in reductions_for(loss):

        def per_row(pred, target, arrays, array_params, w, reduction=reduction):
            return loss(pred, target, *arrays, **array_params, **x.params, weight=w,
                        reduction=reduction)

        got = jax.vmap(per_row)(x.pred, x.target, x.arrays, x.array_params, jnp.asarray(weight))
        rows = []
        for i in range(I.SHAPE[0]):
            row = inputs.map(lambda a, i=i: a[i] if np.ndim(a) == 2 else a)
            rows.append(I.to_numpy(row.call(loss, weight=weight[i], reduction=reduction)))
        I.assert_close(I.to_numpy(got), np.stack(rows), rtol=1e-12, atol=1e-14, msg=reduction)


# ---- analytic derivatives equal autodiff -------------------------------------------------------
DERIVATIVE_BACKENDS = ("torch", "jax", "jax_jit", "array_api_strict")


def check_derivatives(loss: Any, inputs: I.Inputs, rtol: float = 1e-9) -> None:
    """grad/hess agree across backends (the same subgradient everywhere) and with autodiff."""
    grad, hess = I.analytic(loss, inputs, "numpy")
    for backend in DERIVATIVE_BACKENDS:
        g, h = I.analytic(loss, inputs, backend)
        I.assert_close(g, grad, rtol=1e-12, atol=1e-300, msg=f"grad on {backend}")
        I.assert_close(h, hess, rtol=1e-12, atol=1e-300, msg=f"hess on {backend}")
    atol_g = 1e-12 * (1.0 + np.max(np.abs(grad[np.isfinite(grad)]), initial=0.0))
    atol_h = 1e-12 * (1.0 + np.max(np.abs(hess[np.isfinite(hess)]), initial=0.0))
    autodiff = {
        "jax.grad": I.autodiff_jax(loss, inputs),
        "jax.jit(jax.grad)": I.autodiff_jax(loss, inputs, jit=True),
        "torch autograd (composed)": I.autodiff_torch(loss.composed, inputs),
        "torch autograd (default path)": I.autodiff_torch(loss, inputs),
    }
    for name, (g, h) in autodiff.items():
        I.assert_close(g, grad, rtol=rtol, atol=atol_g, msg=f"grad vs {name}")
        I.assert_close(h, hess, rtol=rtol, atol=atol_h, msg=f"hess vs {name}")


@pytest.mark.parametrize(("loss", "params"), ELEMENTWISE_CASES)
def test_grad_hess_match_autodiff(loss, params):
    check_derivatives(loss, I.make_inputs(loss, params))
