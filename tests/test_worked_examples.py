"""Small worked examples with printed answers (the kind found in framework docs), float32.

Each runs on NumPy, PyTorch (the default path and the composed array-API path) and JAX and
must reproduce the printed value to rtol 1e-6.
"""

from __future__ import annotations

import math
from typing import Any

import jax.numpy as jnp
import numpy as np
import pytest
import torch

import lossatlas as la

BACKENDS = ["numpy", "torch", "torch-composed", "jax"]
RTOL = 1e-6


def arr(backend: str, values: list[float]) -> Any:
    if backend.startswith("torch"):
        return torch.tensor(values, dtype=torch.float32)
    if backend == "jax":
        return jnp.asarray(values, dtype=jnp.float32)
    return np.asarray(values, dtype=np.float32)


def call(backend: str, loss: Any, pred: list[float], target: list[float], **kwargs: Any) -> float:
    p, t = arr(backend, pred), arr(backend, target)
    out = loss.composed(p, t, **kwargs) if backend == "torch-composed" else loss(p, t, **kwargs)
    assert tuple(out.shape) == ()
    assert str(out.dtype).endswith("float32"), out.dtype  # pred's dtype comes back
    return float(out)


# (name, loss, pred, target, keyword arguments, printed value, exact value in closed form)
EXAMPLES = [
    ("l1", la.mae, [1.0, 2.0, 3.0], [1.0, 3.0, 6.0], {}, "1.3333334", 4 / 3),
    ("mse", la.mse, [3.0, 2.0, 1.0], [1.0, 2.0, 3.0], {}, "2.6666667", 8 / 3),
    ("mean_bias_error", la.mean_bias_error, [3.0, 2.0, 1.0], [1.0, 2.0, 3.0], {}, "0", 0.0),
    (
        "log_cosh",
        la.log_cosh,
        [4.0, 2.0, 1.0],
        [1.0, 2.0, 3.0],
        {},
        "1.2114438",
        (math.log(math.cosh(3.0)) + math.log(math.cosh(2.0))) / 3,
    ),
    (
        "quantile-q0.5",
        la.quantile,
        [4.0, 2.0, 1.0, 3.0],
        [1.0, 2.0, 3.0, 4.0],
        {"q": 0.5},
        "0.75",
        0.5 * (3 + 0 + 2 + 1) / 4,
    ),
    (
        "balanced_cross_entropy-beta0.5-eps1e-5",
        la.balanced_cross_entropy,
        [0.9, 0.1, 1.0],
        [1.0, 0.0, 1.0],
        {"beta": 0.5, "eps": 1e-5},
        "0.0351218",  # 0.035121839 rounded to 7 decimals
        0.5 * (-math.log(0.9) - math.log(0.9) - math.log(1 - 1e-5)) / 3,
    ),
    ("hinge-sum", la.hinge, [0.9, -0.1, 1.0], [1.0, -1.0, 1.0], {"reduction": "sum"}, "1.0", 1.0),
    ("huber-delta2", la.huber, [4.0, 2.0, 1.0], [1.0, 2.0, 3.0], {"delta": 2.0}, "2.0", 2.0),
]


def printed_tolerance(printed: str) -> float:
    """rtol 1e-6 plus half a unit in the last printed digit (a printed value is rounded)."""
    decimals = len(printed.partition(".")[2])
    return RTOL * abs(float(printed)) + 0.5 * 10.0**-decimals


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("name", "loss", "pred", "target", "kwargs", "printed", "exact"),
    EXAMPLES,
    ids=[e[0] for e in EXAMPLES],
)
def test_worked_example(name, loss, pred, target, kwargs, printed, exact, backend):
    got = call(backend, loss, pred, target, **kwargs)
    if exact == 0.0:
        assert got == 0.0, (name, got)
        return
    assert abs(got - float(printed)) <= printed_tolerance(printed), (name, got, printed)
    assert math.isclose(got, exact, rel_tol=RTOL), (name, got, exact)


@pytest.mark.parametrize("backend", BACKENDS)
def test_huber_is_not_min_of_linear_and_square(backend):
    """Huber(delta=2) of residuals [3, 0, -2] is [4, 0, 2] -> 2.0; the look-alike
    min(delta*|r|, r**2) gives [6, 0, 4] -> 3.3333333, and min(delta*|r|, r**2/2) gives
    [4.5, 0, 2] -> 2.1666667: neither is Huber."""
    pred, target = [4.0, 2.0, 1.0], [1.0, 2.0, 3.0]
    r = np.asarray(pred) - np.asarray(target)
    look_alike = float(np.mean(np.minimum(2.0 * np.abs(r), r * r)))
    look_alike_half = float(np.mean(np.minimum(2.0 * np.abs(r), r * r / 2)))
    assert math.isclose(look_alike, 10.0 / 3.0) and math.isclose(look_alike_half, 13.0 / 6.0)
    got = call(backend, la.huber, pred, target, delta=2.0)
    assert math.isclose(got, 2.0, rel_tol=RTOL)
    assert abs(got - look_alike) > 1.0 and abs(got - look_alike_half) > 0.1
    elementwise = la.huber(arr(backend, pred), arr(backend, target), delta=2.0, reduction="none")
    np.testing.assert_allclose(np.asarray(elementwise.tolist()), [4.0, 0.0, 2.0], rtol=RTOL)
