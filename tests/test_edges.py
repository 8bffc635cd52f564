"""The generic edge suite: every registered loss, on every backend and dtype, at the edges of
its domains, against an independent reference computed by mpmath at 60 digits.

Inputs come from the declared domains (``Domain.edges``: +-inf, +-1e30 and other large
values, confident logits, tiny and subnormal values, probabilities of exactly 0 and 1) and the
declared kinks; an elementwise loss gets every pred edge against every target edge, a loss over
a class axis gets each edge value in the true class and in another class. A loss registered
later is covered by registering it (and writing its reference in ``_reference.py``).

The stated tolerance, for a result r of a reference value f in a dtype of unit roundoff u:

    |r - f| <= K ulp(f) + K u * cond,   cond = sum_i |x_i| |df/dx_i|

over the differentiable inputs x_i: K ulps of the true value, plus what a backward-stable
evaluation may lose where the loss is ill-conditioned in its inputs (for the derivatives cond
uses the next derivative). K is 4 for values and 8 for derivatives in float32 and float64; in
float16 and bfloat16, which compute in float32 and round once, the result is within 1 ulp of
the half-precision value. Where the reference is beyond the dtype's range the result is the
infinity; at an infinite input the reference is the limit and cond is 0. At a kink the
gradient lies between the one-sided derivatives (the documented subgradient); the second
derivative is only required to be finite there.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import _inputs as I
import _reference as R
import mpmath as mp
import numpy as np
import pytest
import torch

import lossatlas
from lossatlas._domains import DOMAINS, FLOAT_FACTS

K_VALUE = 4
K_DERIVATIVE = 8
UNIT = {"float64": 2.0**-53, "float32": 2.0**-24, "float16": 2.0**-11, "bfloat16": 2.0**-8}
MANTISSA = {"float64": 52, "float32": 23, "float16": 10, "bfloat16": 7}
EXPONENT_MIN = {"float64": -1022, "float32": -126, "float16": -14, "bfloat16": -126}
DTYPES = ("float64", "float32", "float16", "bfloat16")
BACKENDS = {
    "float64": ("numpy", "torch", "jax", "array_api_strict"),
    "float32": ("numpy", "torch", "jax", "array_api_strict"),
    "float16": ("numpy", "torch", "jax"),  # array-api-strict has the standard's dtypes only
    "bfloat16": ("torch", "jax"),  # NumPy has no bfloat16
}
TARGET_EDGES = {
    "real": (0.0, 1.5, -2.25, 1e4),
    "binary": (0.0, 1.0, 0.5, 0.25, 1e-3),
    "sign": (-1.0, 0.0, 1.0),
    "nonnegative": (0.0, 0.5, 1.0, 3.0, 1e4),
    "positive": (0.5, 1.0, 3.0, 1e4),
}
LARGE = (mp.mpf(10) ** 40, mp.mpf(10) ** 80)  # an infinite input is the limit along these


def round_to(values: Any, dtype: str) -> np.ndarray:
    """Values rounded to ``dtype`` and back to float64 (exact)."""
    values = np.asarray(values, dtype=np.float64)
    if dtype == "bfloat16":
        return torch.from_numpy(values).to(torch.bfloat16).to(torch.float64).numpy()
    with np.errstate(over="ignore"):
        return values.astype(dtype).astype(np.float64)


def ulp(value: float, dtype: str) -> float:
    """The spacing of ``dtype`` at |value| (the smallest subnormal below the normal range)."""
    if not math.isfinite(value) or value == 0:
        return 2.0 ** (EXPONENT_MIN[dtype] - MANTISSA[dtype])
    exponent = max(math.frexp(abs(value))[1] - 1, EXPONENT_MIN[dtype])
    return 2.0 ** (exponent - MANTISSA[dtype])


# ---- references: value, derivatives and conditioning, by finite differences at 60 digits ------
def _diffs(f: Any, x: Any, lower: Any, upper: Any) -> dict[str, Any]:
    """f(x) with its first and second derivative, the third for conditioning, and the
    one-sided first and second derivatives (a kink is where they differ), by finite
    differences with steps of 1e-20 |x| (1e-12 |x| for the third; 1e-60 at x = 0). The
    working precision grows until the differences keep 30 digits after their cancellation
    (a derivative of 1e-308 next to a value of 1 needs hundreds). At an end of the domain only
    one-sided differences into it are used."""
    scale = abs(x) if x != 0 else mp.mpf(10) ** -40
    for end in (lower, upper):  # near an end of the domain (p = 1 - 1e-16) steps stay inside
        if end is not None:  # at the end itself the smallest steps (a log clamped below e^-100)
            scale = min(scale, abs(x - end)) if x != end else mp.mpf(10) ** -40
    h, h3 = scale * mp.mpf(10) ** -20, scale * mp.mpf(10) ** -12
    # second differences lose 2 log10(M / h) digits and third ones 3 log10(M / h3), for M the
    # scale on which the function varies (|x|, at least 1); 40 are left
    m = max(abs(x), mp.mpf(1))
    digits = 40 + int(max(2 * mp.log10(m / h), 3 * mp.log10(m / h3)))
    at_end, side = x == lower or x == upper, 1 if x == lower else -1
    while True:
        with mp.workdps(digits):
            out = _differences(f, x, h, h3, at_end, side)
            spread, f0 = abs(out["spread"]), abs(out["value"])
            enough = spread > f0 * mp.mpf(10) ** (30 - digits)
            if not mp.isfinite(f0) or enough or (spread == 0 and _flat(f, x, h, at_end, side)):
                return out
        if digits > 4000:
            return out
        digits *= 2


def _noise(f0: Any, h: Any, x: Any, slope: Any, third: Any) -> dict[str, Any]:
    """What the first and second differences may be off by: the rounding of the values and
    of the points x + k h themselves (|x| times the slope) at the working precision, and the
    truncation error of second-order differences (h^2 and h times the third derivative)."""
    unit = (abs(f0) + abs(x) * abs(slope)) * mp.mpf(10) ** -mp.mp.dps
    third = abs(third) if mp.isfinite(third) else mp.mpf(0)
    return {"noise1": 8 * unit / h + h**2 * third, "noise2": 32 * unit / h**2 + h * third}


def _flat(f: Any, x: Any, h: Any, at_end: bool, side: int) -> bool:
    """f is constant around x (a hinge past its margin, a clamped log): equal values at a
    distance of 1e-3 max(|x|, 1), so more precision would not reveal a slope."""
    far = max(abs(x), mp.mpf(1)) * mp.mpf(10) ** -3
    ends = [f(x + side * far)] if at_end else [f(x + far), f(x - far)]
    return all(v == f(x) for v in ends)


def _differences(f: Any, x: Any, h: Any, h3: Any, at_end: bool, s: int) -> dict[str, Any]:
    f0 = f(x)
    if at_end:  # one-sided, second order, into the domain
        f1, f2, f3 = f(x + s * h), f(x + 2 * s * h), f(x + 3 * s * h)
        g = s * (-3 * f0 + 4 * f1 - f2) / (2 * h)
        hess = (2 * f0 - 5 * f1 + 4 * f2 - f3) / h**2
        t1, t2, t3 = f(x + s * h3), f(x + 2 * s * h3), f(x + 3 * s * h3)
        third = s * (-f0 + 3 * t1 - 3 * t2 + t3) / h3**3
        return {
            "value": f0, "grad": g, "hess": hess, "third": third, "left": g, "right": g,
            "left2": hess, "right2": hess, "spread": f1 - f0, **_noise(f0, h, x, g, third),
        }  # fmt: skip
    fp, fm = f(x + h), f(x - h)
    fp2, fm2, fp3, fm3 = f(x + 2 * h), f(x - 2 * h), f(x + 3 * h), f(x - 3 * h)
    third = (f(x + 2 * h3) - 2 * f(x + h3) + 2 * f(x - h3) - f(x - 2 * h3)) / (2 * h3**3)
    return {
        "value": f0,
        "grad": (fp - fm) / (2 * h),
        "hess": (fp - 2 * f0 + fm) / h**2,
        "third": third,
        "left": (3 * f0 - 4 * fm + fm2) / (2 * h),
        "right": (-3 * f0 + 4 * fp - fp2) / (2 * h),
        "left2": (2 * f0 - 5 * fm + 4 * fm2 - fm3) / h**2,
        "right2": (2 * f0 - 5 * fp + 4 * fp2 - fp3) / h**2,
        "spread": max(abs(fp - f0), abs(fm - f0)),
        **_noise(f0, h, x, (fp - fm) / (2 * h), third),
    }


def _limit(f: Any, sign: int) -> dict[str, Any]:
    """The value and derivatives of f at sign * inf: their values at sign * 1e80, or an
    infinity where they are still growing between 1e40 and 1e80."""
    near, far = (_diffs(f, sign * big, None, None) for big in LARGE)
    out = {}
    for key in ("value", "grad", "hess"):
        a, b = near[key], far[key]
        if abs(b) > 10 * abs(a) + 1:
            out[key] = mp.inf if b > 0 else -mp.inf
        elif key == "value" and abs(b) > abs(a) + 1 and mp.isinf(f(sign * mp.inf)):
            out[key] = f(sign * mp.inf)  # logarithmic growth (cauchy): still infinite at inf
        else:
            out[key] = b
    out["left"] = out["right"] = out["grad"]
    out["left2"] = out["right2"] = out["hess"]
    out["noise1"] = out["noise2"] = mp.mpf(0)
    out["third"] = mp.mpf(0)
    return out


@dataclass
class Reference:
    value: np.ndarray  # per sample
    value_cond: np.ndarray
    grad: np.ndarray  # the first input's shape
    grad_low: np.ndarray  # the one-sided derivatives: the subdifferential at a kink
    grad_high: np.ndarray
    grad_cond: np.ndarray
    grad_noise: np.ndarray  # the reference's own rounding, at its working precision
    hess: np.ndarray
    hess_low: np.ndarray  # the one-sided second derivatives
    hess_high: np.ndarray
    hess_cond: np.ndarray
    hess_noise: np.ndarray
    kink: np.ndarray  # where the one-sided first derivatives differ
    hess_kink: np.ndarray  # where the one-sided second derivatives differ
    infinite: np.ndarray  # an infinite differentiable input


def _as_float(v: Any) -> float:
    if mp.isnan(v):
        return math.nan
    if mp.isinf(v):
        return math.inf if v > 0 else -math.inf
    return float(v)


def elementwise_reference(loss: Any, params: dict[str, Any], pred, target) -> Reference:
    f0 = R.ELEMENTWISE[loss.name]
    domain = DOMAINS[loss.spec.domain_of("pred", params)]
    lower = mp.mpf(domain.low) if domain.low > -math.inf else None
    upper = mp.mpf(domain.high) if domain.high < math.inf else None
    rows = []
    for x, y in zip(pred, target, strict=True):
        f = functools.partial(_call, f0, y=mp.mpf(y), params=params)
        if math.isinf(x):
            d = _limit(f, 1 if x > 0 else -1)
        else:
            d = _diffs(f, mp.mpf(x), lower, upper)
        rows.append((d, x))
    return _collect(rows, elementwise=True)


def _call(f: Any, x: Any, *, y: Any, params: dict[str, Any]) -> Any:
    return f(x, y, **params)


def _collect(rows: list[tuple[dict[str, Any], float]], elementwise: bool) -> Reference:
    def arr(key: str) -> np.ndarray:
        return np.array([_as_float(d[key]) for d, _ in rows])

    x = np.abs(np.array([x for _, x in rows]))
    x = np.where(np.isinf(x), 0.0, x)
    grad, hess, third = arr("grad"), arr("hess"), arr("third")
    left, right, left2, right2 = arr("left"), arr("right"), arr("left2"), arr("right2")
    noise1, noise2 = arr("noise1"), arr("noise2")
    kink = _differ(left, right, noise1)
    hess_kink = kink | _differ(left2, right2, noise2)
    return Reference(
        value=arr("value"),
        value_cond=x * np.abs(grad),
        grad=grad,
        grad_low=np.minimum(left, right),
        grad_high=np.maximum(left, right),
        grad_cond=x * np.abs(hess),
        grad_noise=noise1,
        hess=hess,
        hess_low=np.minimum(left2, right2),
        hess_high=np.maximum(left2, right2),
        hess_cond=x * np.abs(third),
        hess_noise=noise2,
        kink=kink,
        hess_kink=hess_kink,
        infinite=np.array([math.isinf(v) for _, v in rows]),
    )


def _differ(a: np.ndarray, b: np.ndarray, noise: Any = 1e-300) -> np.ndarray:
    """One-sided derivatives that differ by more than their rounding: a kink."""
    with np.errstate(invalid="ignore"):
        return ~np.isclose(a, b, rtol=1e-9, atol=noise + 1e-300) & np.isfinite(a + b)


def axis_reference(loss: Any, params: dict[str, Any], logits, target) -> Reference:
    """Per sample and class: the value, the partial derivative and the diagonal second
    derivative with respect to each logit (the others held), by finite differences."""
    f0 = R.AXIS[loss.name]
    n, c = logits.shape
    values, conds = np.zeros(n), np.zeros(n)
    keys = ("grad", "low", "high", "gcond", "hess", "hcond", "n1", "n2", "l2", "r2")
    out = {k: np.zeros((n, c)) for k in keys}
    infinite = np.zeros((n, c), bool)
    domain = DOMAINS[loss.spec.domain_of(loss.spec.inputs[0].name, params)]
    lower = mp.mpf(domain.low) if domain.low > -math.inf else None
    upper = mp.mpf(domain.high) if domain.high < math.inf else None
    for i in range(n):
        z = [mp.mpf(v) for v in logits[i]]
        y = int(target[i]) if np.ndim(target) == 1 else [float(v) for v in target[i]]
        values[i] = _as_float(f0(z, y, **params))
        hess_row = []
        for k in range(c):
            if math.isinf(logits[i, k]):
                infinite[i, k] = True
                out["grad"][i, k] = out["low"][i, k] = out["high"][i, k] = math.nan
                out["hess"][i, k] = math.nan
                hess_row.append(0.0)
                continue

            def f(t, k=k, z=z, y=y):
                return f0([t if j == k else z[j] for j in range(c)], y, **params)

            # probabilities move off the simplex here: the definition takes them as given
            d = _diffs(f, z[k], lower, upper)
            if z[k] in (lower, upper) and mp.isfinite(d["value"]):
                d = _end_slope(f, z[k], lower, d)
            out["grad"][i, k] = _as_float(d["grad"])
            left, right = _as_float(d["left"]), _as_float(d["right"])
            out["low"][i, k], out["high"][i, k] = min(left, right), max(left, right)
            out["hess"][i, k] = _as_float(d["hess"])
            out["l2"][i, k], out["r2"][i, k] = _as_float(d["left2"]), _as_float(d["right2"])
            out["n1"][i, k], out["n2"][i, k] = _as_float(d["noise1"]), _as_float(d["noise2"])
            hess_row.append(abs(_as_float(d["hess"])) if mp.isfinite(d["hess"]) else 0.0)
        scale = np.sum(np.where(np.isinf(logits[i]), 0.0, np.abs(logits[i]))) + 1.0
        steep = infinite[i] | np.isinf(out["grad"][i])  # not what conditions the others
        conds[i] = scale * np.nanmax(np.abs(np.where(steep, 0.0, out["grad"][i])))
        out["gcond"][i] = scale * max(hess_row)
        out["hcond"][i] = scale * max(hess_row)
    # a hinge's corner or a change of support (multiclass_hinge, sparsemax): one-sided
    # derivatives that differ; the second derivative is checked between its sides there
    kink = _differ(out["low"], out["high"], out["n1"]) & ~infinite
    hess_kink = kink | (_differ(out["l2"], out["r2"], out["n2"]) & ~infinite)
    return Reference(
        value=values,
        value_cond=conds,
        grad=out["grad"],
        grad_low=out["low"],
        grad_high=out["high"],
        grad_cond=out["gcond"],
        grad_noise=out["n1"],
        hess=out["hess"],
        hess_low=np.minimum(out["l2"], out["r2"]),
        hess_high=np.maximum(out["l2"], out["r2"]),
        hess_cond=out["hcond"],
        hess_noise=out["n2"],
        kink=kink,
        hess_kink=hess_kink,
        infinite=infinite,
    )


def _end_slope(f: Any, x: Any, lower: Any, d: dict[str, Any]) -> dict[str, Any]:
    """At an end of the domain where the value is finite: the one-sided slope again with a
    step 1e-30 times as small. One that grew by more than 1 is infinite (a log singularity:
    the slope of q log q at q = 0, in the Jensen-Shannon divergence), and the second
    derivative with it, of the sign that takes the slope back from the infinity."""
    side = 1 if x == lower else -1
    h = (abs(x) if x != 0 else mp.mpf(1)) * mp.mpf(10) ** -90
    size = abs(d["value"]) / (abs(x) if x != 0 else 1) + 1  # f1 - f0 is h * slope next to it
    with mp.workdps(160 + int(mp.log10(size))):
        f0, f1, f2 = f(x), f(x + side * h), f(x + 2 * side * h)
        slope = side * (-3 * f0 + 4 * f1 - f2) / (2 * h)
    if not abs(slope) > abs(d["grad"]) + 1:
        return d
    grad = mp.inf if slope > 0 else -mp.inf
    hess = -side * grad
    return {**d, "grad": grad, "left": grad, "right": grad, "hess": hess, "left2": hess,
            "right2": hess}  # fmt: skip


#: A spread target for losses between two distributions, exact in every dtype: the neutral
#: probability row of ``axis_edges`` with 0.5 in class 0 (so the divergence there is 0).
SPREAD_TARGET = (0.5, 0.125, 0.125, 0.125, 0.125)


# ---- the edge inputs ---------------------------------------------------------------------------
#: required array hyperparameters at the edges: CLIP's largest logit_scale (open_clip clamps
#: it at 100), SigLIP's starting bias
EDGE_ARRAY_PARAMS = {"logit_scale": 100.0, "logit_bias": -10.0}


def _settings(loss: Any) -> list[tuple[str, dict[str, Any]]]:
    """The defaults and each flag flipped, as keyword values (a required var: 0.5)."""
    out = []
    for pid, params in I.param_sets(loss):
        if I.is_base(loss, params):
            bound = loss.spec.drawn(I.loss_params(params))
            if "var" in bound and isinstance(bound["var"], str):
                bound["var"] = 0.5
            for name, value in EDGE_ARRAY_PARAMS.items():  # required arrays as numbers
                if isinstance(bound.get(name), str):
                    bound[name] = value
            out.append((pid, bound))
    return out


def elementwise_edges(loss: Any, params: dict[str, Any], dtype: str) -> tuple[np.ndarray, ...]:
    """(pred, target): every pred edge of the domain against every target edge, plus the
    declared kinks (as residuals, margins or pred values), all exact in ``dtype``."""
    domain = DOMAINS[loss.spec.domain_of("pred", params)]
    preds = set(domain.edges(dtype))
    targets = TARGET_EDGES[I.target_domain(loss, params)]
    pairs = [(p, t) for p in preds for t in targets]
    kinks = loss.spec.kinks_for(params)
    variable = I.natural_variable(loss, params)
    for k in kinks:
        for t in targets:
            if variable == "residual":
                pairs.append((t + k, t))
            elif variable == "margin":
                pairs.append(((t if t != 0 else -1.0) * k, t))
            else:
                pairs.append((k, t))
    pred = round_to([p for p, _ in pairs], dtype)
    target = round_to([t for _, t in pairs], dtype)
    keep = np.isfinite(target) & (np.abs(target) <= FLOAT_FACTS[dtype][0])
    if domain.high < math.inf or domain.low > -math.inf:
        keep &= (pred >= domain.low) & (pred <= domain.high)
    unique = sorted(set(zip(pred[keep].tolist(), target[keep].tolist(), strict=True)))
    return np.array([p for p, _ in unique]), np.array([t for _, t in unique])


def axis_edges(loss: Any, params: dict[str, Any], dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """(scores (N, C), labels): each edge value of the scores' domain put in the true class
    (0) and in another class (1) of an otherwise neutral row (zero logits; uniform
    probabilities, renormalised). Labels are class 0, or for a target with a class axis
    (multi-label) 1 on class 0 and 0 elsewhere; a distribution (or its log) is that point
    mass and, for every row again, ``SPREAD_TARGET``."""
    c = I.N_CLASSES
    scores, target = (i.name for i in loss.spec.inputs[:2])
    domain = DOMAINS[loss.spec.domain_of(scores, params)]
    rows = []
    for v in round_to(domain.edges(dtype), dtype):
        for k in (0, 1):
            if domain.simplex:
                row = np.full(c, (1.0 - v) / (c - 1))
                row[k] = v
                row = round_to(row, dtype)
            else:
                row = np.zeros(c)
                row[k] = v
            rows.append(row)
    logits = np.array(rows)
    if DOMAINS[loss.spec.domain_of(target, params)].index:
        return logits, np.zeros(len(rows), dtype=np.int64)
    labels = np.zeros_like(logits)
    labels[:, 0] = 1.0
    kind = DOMAINS[loss.spec.domain_of(target, params)]
    if kind.simplex or kind.log_simplex:  # a distribution: the point mass and a spread one
        spread = np.broadcast_to(np.array(SPREAD_TARGET), labels.shape)
        logits, labels = np.concatenate([logits, logits]), np.concatenate([labels, spread])
        if kind.log_simplex:
            with np.errstate(divide="ignore"):
                labels = round_to(np.log(labels), dtype)
    return logits, labels


# ---- sequence losses (CTC) ---------------------------------------------------------------------
SEQUENCE_FRAMES, SEQUENCE_CLASSES = 4, 4
MARGINS = (12.0, 16.0, 40.0)  # confident logits: the loss is e^-margin small


def sequence_edges(params: dict[str, Any], dtype: str) -> dict[str, np.ndarray]:
    """CTC inputs at the edges, T = 4 frames of C = 4 classes, targets of up to 2 labels
    (blank from ``params``), log-probabilities rounded to ``dtype``: confident logits on the
    ideal alignment (a loss of e^-12 to e^-40, or 0 when the log-probabilities of the other
    classes underflow), a certain alignment (0 and -inf), uniform frames, a repeated label
    that just fits (a blank between) and one that cannot (inf), an empty target, no frames
    at all, a blank of probability 0 on some frames, and labels of tiny probability."""
    blank = int(params["blank"])
    a, b = [c for c in range(SEQUENCE_CLASSES) if c != blank][:2]
    frames, classes = SEQUENCE_FRAMES, SEQUENCE_CLASSES
    rows: list[tuple[np.ndarray, tuple[int, ...], int]] = []

    def softmax_log(logits: np.ndarray) -> np.ndarray:
        m = np.max(logits, axis=-1, keepdims=True)
        return logits - m - np.log(np.sum(np.exp(logits - m), axis=-1, keepdims=True))

    def aligned(labels: tuple[int, ...], value: float) -> np.ndarray:
        logits = np.zeros((frames, classes))
        for t, c in enumerate(labels):
            logits[t, c] = value
        return logits

    for m in MARGINS:
        rows.append((softmax_log(aligned((a, a, b, b), m)), (a, b), frames))
        rows.append((softmax_log(aligned((a, blank, a, blank), m)), (a, a), frames))
    certain = np.full((frames, classes), -np.inf)
    for t, c in enumerate((a, blank, b, b)):
        certain[t, c] = 0.0
    rows.append((certain, (a, b), frames))
    uniform = np.full((frames, classes), -math.log(classes))
    rows.append((uniform, (a, b), frames))
    rows.append((uniform, (a, a), 3))  # a, blank, a: just fits
    rows.append((uniform, (a, a), 2))  # impossible: inf
    rows.append((uniform, (), frames))  # empty target: -sum log p(blank)
    rows.append((uniform, (), 0))  # nothing at all: 0
    no_blank = uniform.copy()
    no_blank[:2, blank] = -np.inf
    no_blank[:2, [c for c in range(classes) if c != blank]] = -math.log(classes - 1)
    rows.append((no_blank, (a, b), frames))
    rare = softmax_log(aligned((b, b, a, a), 60.0))  # the target's labels at e^-60
    rows.append((rare, (a, b), frames))
    log_probs = round_to(np.stack([r[0] for r in rows]), dtype)
    targets = np.full((len(rows), 2), -1, dtype=np.int64)
    for i, (_, labels, _) in enumerate(rows):
        targets[i, : len(labels)] = labels
    return {
        "log_probs": log_probs,
        "targets": targets,
        "input_lengths": np.array([r[2] for r in rows], dtype=np.int64),
        "target_lengths": np.array([len(r[1]) for r in rows], dtype=np.int64),
    }


def sequence_reference(loss: Any, params: dict[str, Any], values: dict[str, np.ndarray]):
    """Per sample: the value and the exact derivatives with respect to every log-probability
    from the reference's enumeration of paths (``_reference.SEQUENCE``), frames past the
    input length excluded (their derivatives are 0)."""
    f = R.SEQUENCE[loss.name]
    log_probs = values["log_probs"]
    n, _, classes = log_probs.shape
    value, cond = np.zeros(n), np.zeros(n)
    grad, hess = np.zeros(log_probs.shape), np.zeros(log_probs.shape)
    gcond = np.zeros(log_probs.shape)
    for i in range(n):
        length = int(values["input_lengths"][i])
        rows = [[mp.mpf(v) for v in log_probs[i, t]] for t in range(length)]
        target = values["targets"][i, : int(values["target_lengths"][i])]
        v, gamma, second = f(rows, target, **params)
        value[i] = _as_float(v)
        if not mp.isfinite(v):
            grad[i] = hess[i] = math.nan  # no alignment: the derivatives are not defined
            continue
        occupancy = np.array([[float(g) for g in row] for row in gamma]).reshape(length, classes)
        moments = np.array([[float(x) for x in row] for row in second])
        covariance = moments - np.outer(occupancy.ravel(), occupancy.ravel())
        grad[i, :length] = -occupancy
        hess[i, :length] = -np.diag(covariance).reshape(length, classes)
        magnitude = np.where(np.isinf(log_probs[i, :length]), 0.0, np.abs(log_probs[i, :length]))
        cond[i] = float(np.sum(magnitude * occupancy))
        rows_cond = np.abs(covariance) @ magnitude.ravel()  # sum_j |x_j| |d grad_i / d x_j|
        gcond[i, :length] = rows_cond.reshape(length, classes) + np.abs(occupancy)
    zeros = np.zeros(log_probs.shape)
    return Reference(
        value=value, value_cond=cond, grad=grad, grad_low=grad, grad_high=grad,
        grad_cond=gcond, grad_noise=zeros, hess=hess, hess_low=hess, hess_high=hess,
        hess_cond=2 * gcond, hess_noise=zeros, kink=np.zeros(log_probs.shape, bool),
        hess_kink=np.zeros(log_probs.shape, bool), infinite=np.zeros(log_probs.shape, bool),
    )  # fmt: skip


# ---- box losses ---------------------------------------------------------------------------------
#: per dtype: the box sizes drawn (tiny, unit, huge: areas and squared diagonals stay finite
#: and normal in the compute dtype) and the offsets of the unit boxes from the origin
BOX_SCALES = {  # tiny: areas far below eps (1e-7); in float16 a hundredth of the unit
    "float64": (1e-12, 1.0, 1e150),
    "float32": (1e-12, 1.0, 1e18),
    "float16": (1e-2, 1.0, 100.0),
    "bfloat16": (1e-12, 1.0, 1e18),
}
BOX_OFFSETS = (1e4,)
#: (pred, target) in units of the scale, xyxy
BOX_PAIRS = (
    ((0, 0, 1, 1), (0, 0, 1, 1)),  # identical: every coordinate a tie
    ((0.5, 0.5, 1.5, 1.5), (0, 0, 2, 2)),  # a quarter-size box centred inside
    ((1, 0, 2, 1), (0, 0, 1, 1)),  # touching
    ((2, 2, 3, 3), (0, 0, 1, 1)),  # apart, diagonally
    ((0.5, 0.25, 1.5, 1.25), (0, 0, 1, 1)),  # overlapping
    ((0.25, 0, 0.75, 2), (0, 0, 1, 1)),  # crossing, another aspect ratio
    ((0, 0, 4, 1), (1, 0.25, 2, 0.75)),  # containing the target
    ((1, 0, 1, 2), (0, 0, 2, 2)),  # zero width, inside
    ((0, 1, 2, 1), (0, 0, 2, 2)),  # zero height, inside
    ((1, 1, 1, 1), (0, 0, 2, 2)),  # a point inside
    ((3, 3, 3, 3), (0, 0, 1, 1)),  # a point apart
    ((0, 0, 2, 2), (1, 1, 1, 1)),  # a point target
    ((1, 1, 1, 1), (1, 1, 1, 1)),  # the same point
    ((0, 1, 2, 1), (0, 1, 2, 1)),  # the same line
)


def box_edges(loss: Any, params: dict[str, Any], dtype: str) -> dict[str, np.ndarray]:
    """Box pairs at the edges: identical, nested, touching, apart, overlapping, crossing,
    zero width, zero height, points (pred, target or both), each at a tiny, a unit and a huge
    scale, the unit ones also far from the origin; in ``params["fmt"]``, rounded to dtype."""
    rows = [(np.multiply(p, s), np.multiply(t, s)) for s in BOX_SCALES[dtype] for p, t in BOX_PAIRS]
    rows += [(np.add(p, o), np.add(t, o)) for o in BOX_OFFSETS for p, t in BOX_PAIRS]
    pred = round_to(np.array([p for p, _ in rows], dtype=np.float64), dtype)
    target = round_to(np.array([t for _, t in rows], dtype=np.float64), dtype)
    fmt = params.get("fmt", "xyxy")
    if fmt != "xyxy":  # converted after rounding, and rounded again: valid boxes of dtype
        pred, target = (round_to(np.asarray(lossatlas.box_convert(b, "xyxy", fmt)), dtype)
                        for b in (pred, target))  # fmt: skip
    return {"pred": pred, "target": target}


def _box_size(fmt: str, box: list[Any]) -> tuple[Any, Any]:
    return (box[2] - box[0], box[3] - box[1]) if fmt == "xyxy" else (box[2], box[3])


def _box_bounds(fmt: str, box: list[Any]) -> list[tuple[Any, Any]]:
    """(lower, upper) of each coordinate where the box would turn inverted."""
    if fmt == "xyxy":
        return [(None, box[2]), (None, box[3]), (box[0], None), (box[1], None)]
    return [(None, None), (None, None), (mp.mpf(0), None), (mp.mpf(0), None)]


def box_reference(loss: Any, params: dict[str, Any], values: dict[str, np.ndarray]) -> Reference:
    """Per pair: the value, and for each predicted coordinate the derivatives by finite
    differences of ``_reference.BOXES`` at 60 digits (one-sided where a move would invert the
    box; CIoU's alpha held at its value at the pair, as the loss holds it); the conditioning
    of the value counts the target's coordinates as much as pred's (the losses are symmetric
    but for CIoU's aspect term) and takes the steeper side at a kink."""
    f0 = R.BOXES[loss.name]
    held = R.HELD_CONSTANT.get(loss.name)
    pred, target = values["pred"], values["target"]
    n = len(pred)
    keys = ("grad", "low", "high", "hess", "n1", "l2", "r2", "n2")
    out = {k: np.zeros((n, 4)) for k in keys}
    value, cond, gcond = np.zeros(n), np.zeros(n), np.zeros((n, 4))
    fmt = params.get("fmt", "xyxy")
    for i in range(n):
        p, t = [mp.mpf(v) for v in pred[i]], [mp.mpf(v) for v in target[i]]
        kw = dict(params)
        if held is not None:
            kw.update(held(p, t, **params))
        value[i] = _as_float(f0(p, t, **params))
        steep, curve = [], []
        if (
            params.get("log")
            and R._overlap_terms(p, t, fmt, mp.mpf(params["eps"]))["iou"] < (params["eps"])
        ):  # -ln max(IoU, eps) clamped in a neighbourhood: every derivative is exactly 0
            continue
        # differences in units of the pair's size S, around u = 1 (steps of 1e-20 S): the
        # steps of ``_diffs`` are relative to |x|, at least 1e-40 (at 0 and at the end of a
        # domain), which assumes a scale of 1
        sizes = [abs(v) for v in (*_box_size(fmt, p), *_box_size(fmt, t))]
        size = max(sizes) if max(sizes) > 0 else max(max(abs(v) for v in p + t), mp.mpf(1))
        for k, (lower, upper) in enumerate(_box_bounds(fmt, p)):

            def f(u, k=k, p=p, t=t, kw=kw, size=size):
                return f0([p[j] + (u - 1) * size if j == k else p[j] for j in range(4)], t,
                          **kw)  # fmt: skip

            lo = None if lower is None else 1 + (lower - p[k]) / size
            hi = None if upper is None else 1 + (upper - p[k]) / size
            d = _diffs(f, mp.mpf(1), lo, hi)
            one, two = float(size), float(size) ** 2
            out["grad"][i, k] = _as_float(d["grad"]) / one
            left, right = _as_float(d["left"]) / one, _as_float(d["right"]) / one
            out["low"][i, k], out["high"][i, k] = min(left, right), max(left, right)
            out["hess"][i, k] = _as_float(d["hess"]) / two
            out["l2"][i, k] = _as_float(d["left2"]) / two
            out["r2"][i, k] = _as_float(d["right2"]) / two
            out["n1"][i, k] = _as_float(d["noise1"]) / one
            out["n2"][i, k] = _as_float(d["noise2"]) / two
            steep.append(min(max(abs(left), abs(right)), 1e20 / float(size)))
            curve.append(abs(_as_float(d["hess"])))
        # a value that jumps (the aspect angle of a point: atan2(0, 0) = 0 beside pi/2 for a
        # zero height) has no derivative there: a slope beyond 1e20 per unit of size
        jump = np.maximum(np.abs(out["low"][i]), np.abs(out["high"][i])) * float(size) > 1e20
        out["grad"][i] = np.where(jump, np.nan, out["grad"][i])
        scale = np.abs(pred[i]) + np.abs(target[i])
        cond[i] = 2.0 * float(np.sum(np.abs(pred[i]) * np.array(steep)))
        gcond[i] = (float(np.sum(scale)) + 1.0) * max(curve)
    kink = _differ(out["low"], out["high"], out["n1"])
    hess_kink = kink | _differ(out["l2"], out["r2"], out["n2"])
    return Reference(
        value=value, value_cond=cond, grad=out["grad"], grad_low=out["low"],
        grad_high=out["high"], grad_cond=gcond, grad_noise=out["n1"], hess=out["hess"],
        hess_low=np.minimum(out["l2"], out["r2"]), hess_high=np.maximum(out["l2"], out["r2"]),
        hess_cond=gcond, hess_noise=out["n2"], kink=kink, hess_kink=hess_kink,
        infinite=np.zeros((n, 4), bool),
    )  # fmt: skip


# ---- metric-learning losses (pairs and triplets of embeddings, D = 3) --------------------------
#: embeddings at the edges: zero, tiny, unit, confident and large coordinates, exact in float16
METRIC_VECTORS = (
    (0.0, 0.0, 0.0),
    (1e-3, 0.0, -1e-3),
    (1.0, 0.0, 0.0),
    (0.0, 1.0, 0.0),
    (1.0, -2.0, 0.5),
    (16.0, -16.0, 0.25),
    (1e4, -1e4, 0.0),
    (-1.0, -1.0, -1.0),
)


def metric_edges(loss: Any, params: dict[str, Any], dtype: str) -> dict[str, np.ndarray]:
    """Pairs (contrastive, targets 1, 0 and 0.5) or triplets of the edge vectors: every
    ordered combination, identical embeddings (x1 == x2, anchor == positive, anchor ==
    negative, all three) included, plus a pair exactly at the margin; rounded to dtype."""
    vectors = [np.asarray(v) for v in METRIC_VECTORS]
    if loss.name == "contrastive_loss":
        m = float(params["margin"])
        pairs = [(a, b) for a in vectors for b in vectors] + [(np.array([m, 0.0, 0.0]), vectors[0])]
        rows = [(a, b, y) for a, b in pairs for y in (1.0, 0.0, 0.5)]
        x1, x2, y = (np.array([r[k] for r in rows]) for k in range(3))
        return {"x1": round_to(x1, dtype), "x2": round_to(x2, dtype), "target": y}
    if loss.name in ("batch_hard_triplet_loss", "circle_loss"):
        return _metric_set_edges(vectors, dtype)
    triples = [(a, b, c) for a in vectors for b in vectors for c in vectors[::2]]
    a, b, c = (round_to(np.array([t[k] for t in triples]), dtype) for k in range(3))
    return {"anchor": a, "positive": b, "negative": c}


#: label patterns of a set of 4: two pairs, three and one, all apart (no positive), all one
#: class (no negative)
METRIC_LABELS = ((0, 0, 1, 1), (0, 0, 0, 1), (0, 1, 2, 3), (0, 0, 0, 0), (5, -3, 5, -3))


def _metric_set_edges(vectors: list[np.ndarray], dtype: str) -> dict[str, np.ndarray]:
    """Sets of 4 edge vectors (all equal, all zero, each vector with its negation, with 0,
    and with a tiny and a huge one), under every label pattern."""
    sets = [[v, v, v, v] for v in vectors]
    sets += [[v, -v, 0 * v, v] for v in vectors[1:]]
    sets += [[v, vectors[1], vectors[6], -v] for v in vectors]
    rows = [(e, labels) for e in sets for labels in METRIC_LABELS]
    e = round_to(np.array([r[0] for r in rows]), dtype)
    return {"embeddings": e, "labels": np.array([r[1] for r in rows], dtype=np.int64)}


def metric_reference(loss: Any, params: dict[str, Any], values: dict[str, np.ndarray]) -> Reference:
    """The value of each pair or triplet from ``_reference.METRIC`` at 60 digits; no
    derivatives (autodiff only: test_metric_learning holds them to torch's). The conditioning
    counts each distance and the margin (a norm of D = 3 terms rounds by a few u)."""
    f = R.METRIC[loss.name]
    names = list(values)
    n = len(values[names[0]])
    value, cond = np.zeros(n), np.zeros(n)
    for i in range(n):
        if names == ["embeddings", "labels"]:  # a set: N embeddings and N labels
            args = [[[mp.mpf(float(v)) for v in row] for row in values["embeddings"][i]],
                    [int(v) for v in values["labels"][i]]]  # fmt: skip
            value[i] = _as_float(f(*args, **params))
            scale = 1.0 + float(np.max(np.abs(values["embeddings"][i]))) * 8.0
            # the Circle loss: each similarity is off by a few u, times gamma (1 + m) in the
            # exponents; the batch-hard loss: each distance by a few u of the set's scale
            gamma = float(params.get("gamma", 0.0))
            cond[i] = 16.0 * (gamma * 4.0 * (1.0 + abs(value[i])) if gamma else scale + 2.0)
            continue
        args = [
            [mp.mpf(float(v)) for v in values[k][i]] if np.ndim(values[k][i]) else mp.mpf(
                float(values[k][i]))
            for k in names
        ]  # fmt: skip
        value[i] = _as_float(f(*args, **params))
        vecs = [np.asarray(values[k][i], np.float64) for k in names if np.ndim(values[k][i])]
        dists = [np.linalg.norm(u - v) + np.linalg.norm(u) + np.linalg.norm(v)
                 for u in vecs for v in vecs]  # fmt: skip
        scale = max(dists) + float(params.get("margin", 0.0)) + 1.0
        cond[i] = 8.0 * scale * (scale if loss.name == "contrastive_loss" else 1.0)
    first = values[names[0]]
    zeros = np.zeros(first.shape)
    none = np.zeros(first.shape, bool)
    return Reference(
        value=value, value_cond=cond, grad=zeros, grad_low=zeros, grad_high=zeros,
        grad_cond=zeros, grad_noise=zeros, hess=zeros, hess_low=zeros, hess_high=zeros,
        hess_cond=zeros, hess_noise=zeros, kink=none, hess_kink=none, infinite=none,
    )  # fmt: skip


# ---- ranking losses (pairs of scores, distances, pairs of embeddings, lists) ------------------
RANK_SCORES = (-math.inf, -1e4, -16.0, -1.0, -1e-3, 0.0, 1e-3, 0.5, 1.0, 2.0, 16.0, 1e4, math.inf)
RANK_DISTANCES = (0.0, 1e-7, 0.5, 1.0, 2.0, 16.0, 1e4, math.inf)
#: embeddings of D = 3: zero, tiny, unit, confident and large coordinates (exact in float16)
RANK_VECTORS = (
    (0.0, 0.0, 0.0),
    (1e-3, 0.0, -1e-3),
    (0.0, 1.0, 0.0),
    (1.0, -2.0, 0.5),
    (-1.0, 2.0, -0.5),
    (1e4, -1e4, 0.25),
)
#: lists of L = 3 scores and labels: a relevant item ahead, behind, tied, at +-inf
RANK_LISTS = (
    ((0.0, 0.0, 0.0), (1.0, 0.0, 0.0)),
    ((16.0, 0.0, -16.0), (1.0, 0.0, 0.0)),
    ((-16.0, 0.0, 16.0), (2.0, 1.0, 0.0)),
    ((40.0, -40.0, 0.0), (0.0, 3.0, 1.0)),
    ((1e4, 0.0, -1e4), (1.0, 1.0, 0.0)),
    ((1.0, 2.0, 3.0), (0.0, 0.0, 0.0)),
    ((-math.inf, 0.0, 1.0), (0.0, 1.0, 2.0)),
    ((-math.inf, 0.0, 1.0), (1.0, 1.0, 0.0)),
    ((math.inf, 0.0, 1.0), (1.0, 0.0, 0.0)),
    ((math.inf, math.inf, 1.0), (1.0, 2.0, 0.0)),
    ((math.inf, 0.0, 1.0), (0.0, 1.0, 0.0)),
    ((0.5, -1e-3, 1e-3), (0.5, 0.25, 1.0)),
)


def ranking_edges(loss: Any, params: dict[str, Any], dtype: str) -> dict[str, np.ndarray]:
    """Edge inputs of the ranking losses, rounded to dtype: every score against every
    score (margin ranking: and the kinks at +-margin), distances from 0 to inf and the
    margin, every pair of edge vectors (identical and zero ones included), lists with
    confident, tied and infinite scores; targets -1 and 1 each."""
    margin = float(params.get("margin", 0.0))
    signs = (1.0, -1.0)
    if loss.name == "margin_ranking_loss":
        rows = [(a, b, y) for a in RANK_SCORES for b in RANK_SCORES[1:-1] for y in signs]
        rows += [(b + y * margin, b, y) for b in (0.0, 1.5) for y in signs]
        x1, x2, y = (round_to([r[k] for r in rows], dtype) for k in range(3))
        return {"x1": x1, "x2": x2, "target": y}
    if loss.name == "hinge_embedding_loss":
        rows = [(d, y) for d in (*RANK_DISTANCES, margin) for y in signs]
        d, y = (round_to([r[k] for r in rows], dtype) for k in range(2))
        return {"distance": d, "target": y}
    if loss.name == "cosine_embedding_loss":
        rows = [(a, b, y) for a in RANK_VECTORS for b in RANK_VECTORS for y in signs]
        x1, x2 = (round_to(np.array([r[k] for r in rows]), dtype) for k in range(2))
        return {"x1": x1, "x2": x2, "target": np.array([r[2] for r in rows])}
    scores = round_to(np.array([s for s, _ in RANK_LISTS]), dtype)
    return {"scores": scores, "labels": round_to(np.array([y for _, y in RANK_LISTS]), dtype)}


def ranking_reference(loss: Any, params: dict[str, Any], values: dict[str, np.ndarray]):
    """Per sample: the value from ``_reference.RANKING`` at 60 digits, and the derivatives
    with respect to each coordinate of the first input by finite differences (one-sided at
    a distance of 0); an infinite coordinate is marked ``infinite``. The conditioning counts
    every differentiable input (x2 as much as x1: the losses take their difference, or are
    symmetric in them)."""
    f0 = R.RANKING[loss.name]
    names = list(values)
    first = np.asarray(values[names[0]], np.float64)
    n = len(first)
    flat = first.reshape(n, -1)
    k_count = flat.shape[1]
    domain = DOMAINS[loss.spec.domain_of(names[0], params)]
    lower = mp.mpf(domain.low) if domain.low > -math.inf else None
    keys = ("grad", "low", "high", "hess", "n1", "n2", "l2", "r2")
    out = {k: np.zeros((n, k_count)) for k in keys}
    infinite = ~np.isfinite(flat)
    value, cond, gcond = np.zeros(n), np.zeros(n), np.zeros((n, k_count))
    differentiable = [i.name for i in loss.spec.inputs if i.differentiable]

    def args(i: int) -> list[Any]:
        return [
            [mp.mpf(float(v)) for v in np.ravel(values[k][i])] if np.ndim(values[k][i])
            else mp.mpf(float(values[k][i]))
            for k in names
        ]  # fmt: skip

    for i in range(n):
        row = args(i)
        value[i] = _as_float(f0(*row, **params))
        slopes, curves = [], []
        for k in range(k_count):
            if infinite[i, k]:
                for key in ("grad", "low", "high", "hess"):
                    out[key][i, k] = math.nan
                continue

            def f(t, k=k, row=row):
                moved = list(row)
                moved[0] = [t if j == k else v for j, v in enumerate(row[0])] \
                    if isinstance(row[0], list) else t  # fmt: skip
                return f0(*moved, **params)

            d = _diffs(f, mp.mpf(float(flat[i, k])), lower, None)
            out["grad"][i, k] = _as_float(d["grad"])
            left, right = _as_float(d["left"]), _as_float(d["right"])
            out["low"][i, k], out["high"][i, k] = min(left, right), max(left, right)
            out["hess"][i, k] = _as_float(d["hess"])
            out["l2"][i, k], out["r2"][i, k] = _as_float(d["left2"]), _as_float(d["right2"])
            out["n1"][i, k], out["n2"][i, k] = _as_float(d["noise1"]), _as_float(d["noise2"])
            slopes.append(max(abs(left), abs(right)))
            curves.append(abs(_as_float(d["hess"])) if mp.isfinite(d["hess"]) else 0.0)
        scale = sum(
            float(np.sum(np.where(np.isfinite(a), np.abs(a), 0.0)))
            for a in (np.asarray(values[k][i], np.float64) for k in differentiable)
        )
        steep = max(slopes, default=0.0)
        # the cosine of a pair of embeddings: an inner product of D terms, rounded by D u
        # relative to |x1| |x2| whatever the cosine (which is scale-invariant)
        cond[i] = 2.0 * scale * steep + (4.0 * k_count if loss.name.startswith("cosine") else 0)
        gcond[i] = (scale + 1.0) * max(curves, default=0.0)
    kink = _differ(out["low"], out["high"], out["n1"]) & ~infinite
    hess_kink = kink | (_differ(out["l2"], out["r2"], out["n2"]) & ~infinite)
    shape = first.shape
    return Reference(
        value=value, value_cond=cond, grad=out["grad"].reshape(shape),
        grad_low=out["low"].reshape(shape), grad_high=out["high"].reshape(shape),
        grad_cond=gcond.reshape(shape), grad_noise=out["n1"].reshape(shape),
        hess=out["hess"].reshape(shape),
        hess_low=np.minimum(out["l2"], out["r2"]).reshape(shape),
        hess_high=np.maximum(out["l2"], out["r2"]).reshape(shape),
        hess_cond=gcond.reshape(shape), hess_noise=out["n2"].reshape(shape),
        kink=kink.reshape(shape), hess_kink=hess_kink.reshape(shape),
        infinite=infinite.reshape(shape),
    )  # fmt: skip


# ---- large-margin softmax losses and the center loss (features against shared classes) ------
LM_WEIGHTS = ((1.0, 0.0), (0.0, 2.0), (0.0, 0.0))  # unit, longer, and a zero class weight
LM_FEATURES = ((1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0), (0.0, 0.0), (3.0, 4.0),
               (-3.0, 4.0), (0.5, -0.25), (1e4, 0.0), (-1e4, 1.0), (1e-3, 1e-3))  # fmt: skip
LM_CENTERS = ((0.0, 0.0), (1.0, -2.0), (1e3, 1e3))
LM_CENTER_FEATURES = ((0.0, 0.0), (1.0, -2.0), (0.5, 0.5), (-3.0, 4.0), (1e4, -1e4), (1e-3, 0.0))


def _lm_cosines(params: dict[str, Any]) -> tuple[float, ...]:
    """Target cosines: +-1 (theta 0 and pi), 0, +-1/2, 1 - 1e-3 and -1 + 1e-3, and 0.01 on
    either side of ArcFace's switch cos(pi - m) (not on it: rounding decides the side)."""
    m = params.get("margin")
    m = 0.5 if m is None else m
    th = math.cos(math.pi - m)
    return (1.0, -1.0, 0.0, 0.5, -0.5, 1 - 1e-3, -1 + 1e-3, th - 0.01, th + 0.01)


def large_margin_edges(loss: Any, params: dict[str, Any], dtype: str) -> dict[str, np.ndarray]:
    """Inputs at the edges for the large-margin losses (D = 2, C = 3): features along and
    against the class weights (theta = 0, pi), orthogonal, zero, tiny and 1e4 long, each with
    every class as its target (a zero class weight among them); cosines at +-1, 0 and near
    ArcFace's switch against other cosines of 0 and +-1; features at and far from their
    centres. Rounded to dtype."""
    classes = np.arange(3)
    if loss.name == "angular_margin_softmax":
        others = ((0.0, 0.0), (1.0, -1.0), (-1.0, 1.0))
        rows, target = [], []
        for c in _lm_cosines(params):
            for k, (a, b) in enumerate(others):
                y = k % 3
                row = np.array([a, b])
                rows.append(np.insert(row, y, c))
                target.append(y)
        return {"cosine": round_to(np.array(rows), dtype), "target": np.array(target)}
    features = LM_CENTER_FEATURES if loss.name == "center_loss" else LM_FEATURES
    x = np.repeat(np.array(features), 3, axis=0)
    y = np.tile(classes, len(features))
    if loss.name == "center_loss":
        return {"features": round_to(x, dtype), "target": y,
                "centers": round_to(np.array(LM_CENTERS), dtype)}  # fmt: skip
    return {"features": round_to(x, dtype), "class_weights": round_to(np.array(LM_WEIGHTS), dtype),
            "target": y}  # fmt: skip


def large_margin_reference(
    loss: Any, params: dict[str, Any], values: dict[str, np.ndarray]
) -> Reference:
    """The value of each sample from ``_reference.LARGE_MARGIN`` at 60 digits, with the
    condition of its logits (their sizes, psi's slope m^2, ArcFace's 1/sin theta); no
    derivatives (autodiff only: test_large_margin holds them finite at these inputs)."""
    f = R.LARGE_MARGIN[loss.name]
    names = loss.spec.input_names
    first = values[names[0]]
    mpf = lambda a: [mp.mpf(float(v)) for v in a]  # noqa: E731
    value, cond = [], []
    for i in range(len(first)):
        y = int(values["target"][i])
        if loss.name == "angular_margin_softmax":
            row = mpf(first[i])
            value.append(f(row, y, **params))
            c = float(first[i][y])
            s = float(params["scale"])
            cond.append(8 * s * len(row) + s / math.sqrt(max(1 - c * c, 1e-6)))
        elif loss.name == "center_loss":
            centers = [mpf(r) for r in values["centers"]]
            value.append(f(mpf(first[i]), y, centers))
            cond.append(4 * sum((abs(a) + abs(float(b))) ** 2
                                for a, b in zip(first[i], centers[y], strict=True)))  # fmt: skip
        else:
            w = [mpf(r) for r in values["class_weights"]]
            value.append(f(mpf(first[i]), w, y, **params))
            sizes = np.abs(values["class_weights"]) @ np.abs(first[i])
            m = int(params["margin"])
            cond.append(4 * float(np.sum(sizes)) + 4 * m * m * float(np.sum(sizes)) + 1)
    value = np.array([_as_float(v) for v in value])
    zeros = np.zeros(first.shape)
    none = np.zeros(first.shape, bool)
    return Reference(
        value=value, value_cond=np.array(cond), grad=zeros, grad_low=zeros, grad_high=zeros,
        grad_cond=zeros, grad_noise=zeros, hess=zeros, hess_low=zeros, hess_high=zeros,
        hess_cond=zeros, hess_noise=zeros, kink=none, hess_kink=none, infinite=none,
    )  # fmt: skip


# ---- contrastive losses (a problem of N embeddings per sample) -----------------------------
#: per dtype: the sizes of the embeddings drawn (unit, huge, tiny: their squares would overflow
#: or underflow without the scaling by max|x|)
CONTRASTIVE_SCALES = {"float64": (1.0, 1e200, 1e-200), "float32": (1.0, 1e30, 1e-30),
                      "float16": (1.0, 1e4, 1e-3), "bfloat16": (1.0, 1e30, 1e-30)}  # fmt: skip
CONTRASTIVE_N, CONTRASTIVE_D = 4, 3


def _contrastive_problems(rng: np.random.Generator) -> list[np.ndarray]:
    """(N, D) embeddings: random, identical rows, one zero row, all zero, orthonormal rows
    (padded), one row antipodal to the next, rows parallel with different norms."""
    n, d = CONTRASTIVE_N, CONTRASTIVE_D
    random = rng.normal(size=(n, d))
    same = np.tile(random[:1], (n, 1))
    one_zero = random.copy()
    one_zero[1] = 0.0
    ortho = np.zeros((n, d))
    ortho[np.arange(d), np.arange(d)] = 1.0
    ortho[d:, 0] = 1.0
    antipodal = random.copy()
    antipodal[1] = -antipodal[0]
    parallel = random[:1] * np.array([[1.0], [2.0], [0.5], [3.0]])
    return [random, same, one_zero, np.zeros((n, d)), ortho, antipodal, parallel]


def contrastive_edges(loss: Any, params: dict[str, Any], dtype: str) -> dict[str, np.ndarray]:
    """Problems of 4 embeddings of 3 (each from ``_contrastive_problems``, against another,
    itself and a random one, at each scale of ``CONTRASTIVE_SCALES``), rounded to dtype;
    labels (supervised contrastive) with and without positives."""
    shapes = _contrastive_problems(np.random.default_rng(0))
    first, second = [], []
    for scale in CONTRASTIVE_SCALES[dtype]:
        for i, a in enumerate(shapes):
            for b in (shapes[(i + 1) % len(shapes)], a, shapes[0]):
                first.append(a * scale)
                second.append(b)
    first = round_to(np.stack(first), dtype)
    second = round_to(np.stack(second), dtype)
    names = loss.spec.input_names
    if names[1] == "labels":
        groups = np.array([[0, 0, 1, 1], [0, 1, 2, 3], [0, 0, 0, 0], [0, 1, 1, 1]])
        labels = groups[np.arange(len(first)) % len(groups)].astype(np.int64)
        return {names[0]: first, "labels": labels}
    return {names[0]: first, names[1]: second}


def contrastive_reference(loss: Any, params: dict[str, Any], values: dict[str, np.ndarray]):
    """The value of each problem from ``_reference.CONTRASTIVE`` at 60 digits; its conditioning
    bounded by 4 D (2 + max |logit| + |logit_bias|), the largest logit bounded by D s max|x|
    max|y| (rounding the similarities moves each logit by about D u |logit|, and the loss
    moves by at most as much); no derivatives
    (autodiff only: test_contrastive holds them to the peers')."""
    f = R.CONTRASTIVE[loss.name]
    names = loss.spec.input_names
    first = values[names[0]]
    n = len(first)
    kw = {k: v for k, v in params.items() if k in {p.name for p in loss.spec.params}}
    scale = float(kw.get("logit_scale", 1.0 / kw.get("temperature", 1.0)))
    bias = abs(float(kw.get("logit_bias", 0.0)))
    value, cond = np.zeros(n), np.zeros(n)
    for i in range(n):
        args = []
        for name in names:
            a = values[name][i]
            args.append([int(v) for v in a] if a.dtype.kind == "i"
                        else [[mp.mpf(float(v)) for v in row] for row in a])  # fmt: skip
        value[i] = _as_float(f(*args, **kw))
        rows = [values[name][i] for name in names if values[name].dtype.kind == "f"]
        size = 1.0 if kw.get("normalize", True) else float(
            np.max(np.abs(rows[0])) * np.max(np.abs(rows[-1])))  # fmt: skip
        cond[i] = 4.0 * CONTRASTIVE_D * (2.0 + scale * CONTRASTIVE_D * size + bias)
    zeros = np.zeros(first.shape)
    none = np.zeros(first.shape, bool)
    return Reference(
        value=value, value_cond=cond, grad=zeros, grad_low=zeros, grad_high=zeros,
        grad_cond=zeros, grad_noise=zeros, hess=zeros, hess_low=zeros, hess_high=zeros,
        hess_cond=zeros, hess_noise=zeros, kink=none, hess_kink=none, infinite=none,
    )  # fmt: skip


#: Losses with trailing event axes, by family: (edge inputs (loss, params, dtype), reference
#: (loss, params, inputs), the table of mpmath definitions in ``_reference``).
EVENT_EDGES = {
    "sequence": (lambda loss, params, dtype: sequence_edges(params, dtype), sequence_reference,
                 R.SEQUENCE),
    "boxes": (box_edges, box_reference, R.BOXES),
    "large_margin": (large_margin_edges, large_margin_reference, R.LARGE_MARGIN),
    "ranking": (ranking_edges, ranking_reference, R.RANKING),
    "metric": (metric_edges, metric_reference, R.METRIC),
    "contrastive": (contrastive_edges, contrastive_reference, R.CONTRASTIVE),
}  # fmt: skip


# ---- segmentation losses (a structured output: per sample and class) -------------------------
SEG_PIXELS = 4
SEG_CLASSES = 3
SEG_LOGITS = (-math.inf, -40.0, -16.0, -1.0, 0.0, 1.0, 16.0, 40.0, math.inf)


def _seg_mode(loss: Any, params: dict[str, Any]) -> str:
    """The ``mode`` of a segmentation loss; for one without the parameter (lovasz_hinge,
    lovasz_softmax) "multiclass" if its first input has a class axis, else "binary"."""
    if "mode" in params:
        return params["mode"]
    return "multiclass" if loss.spec.inputs_for(params)[0].class_axis else "binary"


def segmentation_edges(loss: Any, params: dict[str, Any], dtype: str) -> dict[str, np.ndarray]:
    """Images of 4 pixels (3 classes unless binary) whose logits (or probabilities) run over
    the domain's edges (+-inf, +-40, +-16, +-1, 0; p = 0, 1 and the tiny ones) in shifted
    patterns, against targets that cover some pixels, none (every class but one absent) or
    all; rounded to dtype."""
    mode = _seg_mode(loss, params)
    logits = params.get("from_logits", loss.spec.defaults.get("from_logits", False))
    values = SEG_LOGITS if logits else DOMAINS["probability"].edges(dtype)
    c = 1 if mode == "binary" else SEG_CLASSES
    n = 2 * len(values)
    pred = np.array([[[values[(k + 2 * i + 3 * j) % len(values)] for j in range(c)]
                      for i in range(SEG_PIXELS)] for k in range(n)])  # fmt: skip
    if DOMAINS[loss.spec.domain_of(loss.spec.input_names[0], params)].simplex:
        # class probabilities (lovasz_softmax): each pixel's edge values normalised
        total = pred.sum(axis=-1, keepdims=True)
        pred = np.where(total > 0, pred / np.where(total > 0, total, 1.0), 1.0 / c)
    pred = round_to(pred, dtype)
    k, i = np.meshgrid(np.arange(n), np.arange(SEG_PIXELS), indexing="ij")
    if mode == "multiclass":
        target = np.where(k % 3 == 0, 0, (k + i) % c).astype(np.int64)
    else:
        j = np.arange(c)
        target = ((k[..., None] + i[..., None] + j) % 2).astype(np.float64)
        target = np.where((k % 3 == 0)[..., None], 0.0, target)
        target = np.where((k % 5 == 1)[..., None], 1.0, target)
    if mode == "binary":
        pred, target = pred[..., 0], target[..., 0]
    return {"pred": pred, "target": target}


def segmentation_reference(
    loss: Any, params: dict[str, Any], values: dict[str, np.ndarray]
) -> Reference:
    """The value of each sample (and class) from ``_reference.SEGMENTATION`` at 60 digits; no
    derivatives (autodiff only: the generic suites and test_segmentation hold them to
    MONAI's and to each other's)."""
    f = R.SEGMENTATION[loss.name]
    pred, target = values["pred"], values["target"]
    c = 1 if _seg_mode(loss, params) == "binary" else pred.shape[-1]
    kw = {k: v for k, v in params.items() if k not in ("per_image", "axis")}

    def mp_list(a: np.ndarray) -> Any:
        return (
            [mp_list(v) for v in a]
            if np.ndim(a)
            else (int(a) if np.issubdtype(np.asarray(a).dtype, np.integer) else mp.mpf(float(a)))
        )

    rows = [f(mp_list(pred[n]), mp_list(target[n]), n_classes=c, **kw) for n in range(len(pred))]
    value = np.array([[_as_float(v) for v in r] if isinstance(r, list) else _as_float(r)
                      for r in rows])  # fmt: skip
    cond = np.full(value.shape, 4.0 * SEG_PIXELS * c)
    zeros = np.zeros(pred.shape)
    none = np.zeros(pred.shape, bool)
    return Reference(
        value=value, value_cond=cond, grad=zeros, grad_low=zeros, grad_high=zeros,
        grad_cond=zeros, grad_noise=zeros, hess=zeros, hess_low=zeros, hess_high=zeros,
        hess_cond=zeros, hess_noise=zeros, kink=none, hess_kink=none,
        infinite=np.isinf(pred),
    )  # fmt: skip


#: Losses with a structured output (per sample and class), by family: (edges, reference,
#: the table of mpmath definitions).
STRUCTURED_EDGES = {
    "segmentation": (segmentation_edges, segmentation_reference, R.SEGMENTATION),
    # the batch losses (batch_hard_triplet_loss, circle_loss): one value over the batch, so
    # no per-sample edge cases (test_metric_learning checks them against R.METRIC)
    "metric": (metric_edges, metric_reference, R.METRIC),
}
#: Families whose losses have no analytic grad/hess: their gradients at the edges are
#: autodiff's, held to the reference's in ``test_autodiff_at_the_edges``.
AUTODIFF_ONLY = ("boxes", "ranking")


# ---- the cases -------------------------------------------------------------------------------
def _cases() -> list[Any]:
    out = []
    for loss in I.ALL_LOSSES:
        if not I.per_sample(loss):
            continue
        for pid, params in _settings(loss):
            if I.structured(loss, params) and I.structured_output(loss, params)[1] == 0:
                continue  # over the whole batch: the per-sample loss of the concatenated image
            for dtype in DTYPES:
                out.append(pytest.param(loss, pid, dtype, id=f"{loss.name}-{pid}-{dtype}"))
    return out


CASES = _cases()


@functools.cache
def _prepared(name: str, pid: str, dtype: str) -> tuple[I.Inputs, Reference]:
    loss = lossatlas.get(name)
    params = dict(_settings(loss))[pid]
    kernel = {k: v for k, v in params.items() if k != "axis"}  # the reference has no axis
    if loss.spec.elementwise:
        pred, target = elementwise_edges(loss, params, dtype)
        ref = elementwise_reference(loss, kernel, pred, target)
        inputs = I.Inputs({"pred": pred, "target": target}, (), {}, dict(params))
    elif I.structured(loss, params):
        edges, reference, _ = STRUCTURED_EDGES[loss.spec.family]
        values = edges(loss, kernel, dtype)
        ref = reference(loss, kernel, values)
        inputs = I.Inputs(values, (), {}, dict(params), out_shape=ref.value.shape, batch_ndim=1)
    elif I.event_ndim(loss) or loss.spec.family == "ranking":  # (pairs: no event axes)
        edges, reference, _ = EVENT_EDGES[loss.spec.family]
        values = edges(loss, kernel, dtype)
        ref = reference(loss, kernel, values)
        inputs = I.Inputs(values, (), {}, dict(params), event_ndim=I.event_ndim(loss))
    else:
        logits, target = axis_edges(loss, params, dtype)
        ref = axis_reference(loss, kernel, logits, target)
        names = [i.name for i in loss.spec.inputs[:2]]
        inputs = I.Inputs(dict(zip(names, (logits, target), strict=True)), (), {}, dict(params),
                          class_axis=1)  # fmt: skip
    return inputs, ref


def check(
    got: np.ndarray,
    ref: np.ndarray,
    cond: np.ndarray,
    dtype: str,
    k: int,
    what: str,
    noise: Any = 0.0,
    flush: bool = False,
):
    """``got`` within the stated tolerance of ``ref`` (see the module docstring), plus the
    reference's own rounding ``noise``; ``flush``: the backend flushes subnormal numbers to
    zero (XLA on the CPU), so a result below the smallest normal number may differ by it."""
    got, ref = np.broadcast_arrays(np.asarray(got, np.float64), np.asarray(ref, np.float64))
    cond = np.broadcast_to(np.asarray(cond, np.float64), ref.shape)
    noise = np.broadcast_to(np.asarray(noise, np.float64), ref.shape)
    tiny = FLOAT_FACTS[dtype][1] if flush else 0.0
    big = FLOAT_FACTS[dtype][0]
    half = dtype in ("float16", "bfloat16")
    bad = []
    for index in np.ndindex(ref.shape):
        r, g, c = ref[index], got[index], cond[index]
        if math.isnan(r):
            continue
        if abs(r) > big * (1 + UNIT[dtype]):  # beyond the dtype: its infinity
            if not (math.isinf(g) and np.sign(g) == np.sign(r)) and not (
                abs(g) >= big * (1 - UNIT[dtype])
            ):
                bad.append((index, g, r))
            continue
        if math.isinf(r):
            if g != r:
                bad.append((index, g, r))
            continue
        if half:  # computed in float32, rounded once
            tol = ulp(r, dtype) + K_VALUE * UNIT["float32"] * (abs(r) + c)
        else:
            tol = k * ulp(r, dtype) + k * UNIT[dtype] * c
        tol += noise[index] + tiny
        if not (abs(g - r) <= tol):
            bad.append((index, g, r))
    assert not bad, f"{what}: {len(bad)} of {ref.size} off; first (index, got, true): {bad[:4]}"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize(("loss", "pid", "dtype"), CASES)
def test_values_and_derivatives_at_the_edges(loss, pid, dtype):
    """The value, grad and hess on every backend in ``dtype`` against mpmath, within the stated
    ulp tolerance; finite where the true value is, the limit at infinite inputs, the
    documented subgradient at kinks, never NaN where the true value is not NaN."""
    inputs, ref = _prepared(loss.name, pid, dtype)
    for backend in BACKENDS[dtype]:
        flush = backend == "jax"  # XLA on the CPU flushes subnormals (inputs and results) to 0
        kept = _normal_inputs(inputs, dtype) if flush else np.ones(len(ref.value), bool)
        # a subnormal pred flushed to 0 leaves an open domain (positive): those are not run
        run = _without_flushed(loss, pid, inputs, kept) if flush else inputs
        value = I.unreduced(loss, run, backend, dtype)
        assert not np.isnan(value[~np.isnan(ref.value)]).any(), (backend, "NaN value")
        check(value[kept], ref.value[kept], ref.value_cond[kept], dtype, K_VALUE,
              f"value on {backend}", flush=flush)  # fmt: skip
        if not I.has_derivatives(loss):
            continue
        grad, hess = I.analytic(loss, run, backend, dtype)
        finite_ref = ~ref.infinite & _rows(kept, ref.grad)
        # at a kink: between the one-sided derivatives
        slack = _tol(ref.grad_low, dtype) + ref.grad_noise
        inside = (grad >= ref.grad_low - slack) & (grad <= ref.grad_high + slack)
        kink = ref.kink & finite_ref
        assert inside[kink].all(), (backend, "grad at kinks", grad[kink & ~inside][:4])
        smooth = ~ref.kink & finite_ref
        check(
            np.where(smooth, grad, ref.grad), ref.grad, ref.grad_cond, dtype, K_DERIVATIVE,
            f"grad on {backend}", ref.grad_noise, flush,
        )  # fmt: skip
        # where the second derivative jumps (|r| = delta for huber): between its sides
        jump = ref.hess_kink & ~ref.kink & finite_ref
        slack = _tol(ref.hess_low, dtype) + ref.hess_noise
        between = (hess >= ref.hess_low - slack) & (hess <= ref.hess_high + slack)
        assert between[jump].all(), (backend, "hess at jumps", hess[jump & ~between][:4])
        assert np.isfinite(hess[ref.kink & finite_ref]).all(), (backend, "hess at kinks")
        smooth2 = ~ref.hess_kink & finite_ref
        check(
            np.where(smooth2, hess, ref.hess), ref.hess, ref.hess_cond, dtype, K_DERIVATIVE,
            f"hess on {backend}", ref.hess_noise, flush,
        )  # fmt: skip
        infinite_rows = _rows(ref.infinite.reshape(len(ref.value), -1).any(axis=1), grad)
        if not loss.spec.elementwise:  # a row with an infinite logit: finite derivatives
            # (where they are finite: a measure of 0 next to an infinite one has slope -inf)
            expected = infinite_rows & (np.isfinite(ref.grad) | ref.infinite)
            assert np.isfinite(grad[expected]).all(), (backend, "grad with inf logits")
            assert not np.isnan(hess[infinite_rows]).any(), (backend, "hess with inf logits")


def _normal_inputs(inputs: I.Inputs, dtype: str) -> np.ndarray:
    """Samples none of whose inputs is subnormal (a backend that flushes them to zero sees
    another input there)."""
    tiny = FLOAT_FACTS[dtype][1]
    keep = None
    n = len(next(iter(inputs.values.values())))
    for value in inputs.values.values():
        if len(value) != n:  # shared by every sample (class weights): none subnormal here
            continue
        a = np.abs(np.asarray(value, dtype=np.float64))
        sub = (a > 0) & (a < tiny)
        sub = sub.reshape(len(sub), -1).any(axis=1) if sub.ndim > 1 else sub
        keep = ~sub if keep is None else keep & ~sub
    return keep


def _without_flushed(loss: Any, pid: str, inputs: I.Inputs, kept: np.ndarray) -> I.Inputs:
    """The inputs with an elementwise pred in an open domain set to the domain's safe value
    where ``kept`` is False (those samples are not checked on a backend that flushes)."""
    domain = DOMAINS[loss.spec.domain_of(loss.spec.input_names[0], dict(_settings(loss))[pid])]
    if not (loss.spec.elementwise and domain.low_open) or kept.all():
        return inputs
    out = I.Inputs(dict(inputs.values), inputs.arrays, inputs.array_params, inputs.params)
    out.pred = np.where(kept, inputs.pred, domain.safe)
    return out


def _rows(kept: np.ndarray, like: np.ndarray) -> np.ndarray:
    return np.broadcast_to(kept.reshape((-1,) + (1,) * (np.ndim(like) - 1)), np.shape(like))


def _tol(ref: np.ndarray, dtype: str) -> np.ndarray:
    return np.array([K_DERIVATIVE * ulp(r, dtype) for r in np.ravel(ref)]).reshape(np.shape(ref))


def test_every_loss_has_a_reference():
    """A loss registered without an mpmath reference is not covered by this suite."""
    for loss in I.ALL_LOSSES:
        table = (
            R.ELEMENTWISE
            if loss.spec.elementwise
            else STRUCTURED_EDGES[loss.spec.family][2]
            if I.structured(loss)
            else EVENT_EDGES[loss.spec.family][2]
            if I.event_ndim(loss) or loss.spec.family == "ranking"
            else R.AXIS
            if I.per_sample(loss)
            else R.BATCH
        )
        assert loss.name in table, f"add an mpmath reference for {loss.name} to _reference.py"


AUTODIFF_DTYPES = ("float64", "float32")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize(
    ("loss", "pid", "dtype"),
    [
        c
        for c in CASES
        if c.values[2] in AUTODIFF_DTYPES
        and (I.has_derivatives(c.values[0]) or c.values[0].spec.family in AUTODIFF_ONLY)
    ],
)
def test_autodiff_at_the_edges(loss, pid, dtype):
    """The gradient by autodiff (torch through the definition and through the default path,
    JAX) at the same edge inputs: never NaN where the true gradient is not; at an infinite
    input the limit (an elementwise loss) or finite (a row of logits holding +-inf); away
    from kinks within K = 8 ulps + K u (cond + 1 + |g|) of mpmath.

    The last term is what autodiff of a composed formula costs where the gradient is a
    difference of O(1) terms that cancel (exp(x) - y at x = log y, sigmoid(x) - y for a soft
    label near x = 0, p - 1 for a confident class): an absolute error of a few u, which the
    analytic ``grad`` avoids (it is held to the strict tolerance above)."""
    inputs, ref = _prepared(loss.name, pid, dtype)
    finite_ref = ~ref.infinite
    for name, (grad, _) in {
        **I.torch_autodiff(loss, inputs, dtype, hessian=False),
        "jax.grad": I.autodiff_jax(
            loss, _without_flushed(loss, pid, inputs, _normal_inputs(inputs, dtype)), dtype=dtype
        ),
    }.items():
        flush = name == "jax.grad"
        kept = _rows(_normal_inputs(inputs, dtype) if flush else np.ones(len(ref.value), bool),
                     ref.grad)  # fmt: skip
        real = ~np.isnan(ref.grad) | ref.infinite
        assert not np.isnan(grad[real & kept]).any(), (name, "NaN gradient")
        smooth = ~ref.kink & kept
        chosen = smooth if loss.spec.elementwise else smooth & finite_ref
        terms = 1.0 + np.where(np.isfinite(ref.grad), np.abs(ref.grad), 0.0)
        check(np.where(chosen, grad, ref.grad), ref.grad, ref.grad_cond + terms, dtype,
              K_DERIVATIVE, name, ref.grad_noise, flush)  # fmt: skip
        if loss.pred_domain(**_kw(loss, pid)) == "logit":
            assert np.isfinite(grad[kept]).all(), (name, "an infinite gradient of logits")


def _kw(loss: Any, pid: str) -> dict[str, Any]:
    return {k: v for k, v in dict(_settings(loss))[pid].items() if k != "var"}
