"""Probes: the one-dimensional paths through a loss's inputs that plots and ``show`` sweep.

An elementwise loss gets its probe from its domains (:func:`default_probe`): the residual for a
real target, the margin y·f for a sign target, the logit or the probability (one curve for
y = 1 and one for y = 0) for a binary target, the log-rate or the rate for a count. Any other
loss declares ``LossSpec.probe``; the builders here serve the ones in this library.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._spec import Curve, Probe

RESIDUALS = (-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0)
LOGITS = (-4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0)
PROBABILITIES = (0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99)
MARGINS = (-2.0, -1.0, 0.0, 0.5, 1.0, 1.5, 2.0)
RATES = (0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 4.0)


def _ones(t: np.ndarray) -> np.ndarray:
    return np.ones_like(np.asarray(t, dtype=np.float64))


def _against(target: float, shift: bool = False) -> Curve:
    """pred = t (or target + t), against a constant target."""

    def make(t: np.ndarray) -> dict[str, np.ndarray]:
        t = np.asarray(t, dtype=np.float64)
        return {"pred": target + t if shift else t.copy(), "target": np.full_like(t, target)}

    return Curve(f"target = {target:g}", f"y={target:g}", make, _ones)


def _labelled(target: float) -> Curve:
    curve = _against(target)
    return Curve(f"y = {target:g}", f"y={target:g}", curve.make, curve.direction)


def default_probe(loss: Any, params: Mapping[str, Any]) -> Probe:
    """The probe of an elementwise loss, from the domains of pred and target."""
    spec = loss.spec
    pred = spec.domain_of(spec.inputs[0].name, params)
    target = spec.domain_of(spec.inputs[1].name, params)
    if pred == "probability":
        return Probe(
            "probability", "probability p", "p",
            "pred = probability p, target 1; last column at target 0", "probability",
            (0.0, 1.0), PROBABILITIES, (_labelled(1.0), _labelled(0.0)), "p",
        )  # fmt: skip
    if pred == "logit":
        return Probe(
            "logit", "logit", "x (logit)",
            "pred = logit x, target 1; last column at target 0", "real",
            (-6.0, 6.0), LOGITS, (_labelled(1.0), _labelled(0.0)), "logit",
        )  # fmt: skip
    if target == "sign":
        curve = Curve("y = +1", "y=+1", _against(1.0).make, _ones)
        return Probe(
            "margin", "margin y·f", "m = y*f", "target y = 1, so pred f = margin m", "real",
            (-3.0, 3.0), MARGINS, (curve,), "f",
        )  # fmt: skip
    if target == "nonnegative" and pred == "real":
        return Probe(
            "log-rate", "log-rate pred (target = 2)", "pred", "log-rate pred, target 2", "real",
            (-3.0, 3.0), RESIDUALS, (_against(2.0),), "pred",
        )  # fmt: skip
    if target == "nonnegative":
        return Probe(
            "rate", "rate pred (target = 2)", "pred", "rate pred, target 2", "nonnegative",
            (0.0, 6.0), RATES, (_against(2.0),), "pred",
        )  # fmt: skip
    if target == "real" and pred == "real":
        return Probe(
            "residual", "residual r = pred - target", "r", "target 0, so pred = residual r",
            "real", (-3.0, 3.0), RESIDUALS, (_against(0.0, shift=True),), "pred",
        )  # fmt: skip
    raise ValueError(f"{spec.name}: no default probe for pred {pred!r} and target {target!r}")


def offset_probe(params: Mapping[str, Any], samples: int = 512) -> Probe:
    """For a loss defined over a reduction (rmse): each t is a batch of ``samples``
    standard-normal targets e (exactly mean 0, variance 1), with pred = t + e (a pure offset)
    or pred = t (a constant prediction)."""
    noise = np.random.default_rng(0).standard_normal(samples)
    noise = (noise - noise.mean()) / noise.std()

    def shifted(t: np.ndarray) -> dict[str, np.ndarray]:
        t = np.asarray(t, dtype=np.float64)[:, None]
        return {"pred": t + noise, "target": np.broadcast_to(noise, (len(t), samples)).copy()}

    def constant(t: np.ndarray) -> dict[str, np.ndarray]:
        t = np.asarray(t, dtype=np.float64)[:, None]
        return {
            "pred": np.broadcast_to(t, (len(t), samples)).copy(),
            "target": np.broadcast_to(noise, (len(t), samples)).copy(),
        }

    curves = (
        Curve("pred = c + e: a pure offset", "c+e", shifted),
        Curve("pred = c: a constant prediction", "c", constant),
    )
    return Probe(
        "offset", "offset c", "c",
        f"each c: {samples} standard-normal targets e, reduction 'mean'", "real",
        (-3.0, 3.0), RESIDUALS, curves, "c", batch=samples,
    )  # fmt: skip


def margin_probe(
    n_classes: tuple[int, ...],
    *,
    probabilities: bool = False,
    names: tuple[str, str] = ("logits", "target"),
    offset: float = 0.0,
) -> Probe:
    """For a loss over a class axis: the true class (0) against the others.

    On logits, t is the true-class logit margin: logits (t, 0, ..., 0) with label 0, so
    t = z_y - max of the other logits. On probabilities, t is the true-class probability:
    (t, (1-t)/(C-1), ...). One curve per number of classes. ``names`` are the loss's input
    names for the scores and the labels; ``offset`` is added to every logit (a softmax loss
    does not see it; a z-loss on the log-sum-exp does).
    """
    scores_name, labels_name = names
    curves = []
    for c in n_classes:

        def make(t: np.ndarray, c: int = c) -> dict[str, np.ndarray]:
            t = np.asarray(t, dtype=np.float64)
            if probabilities:
                scores = np.repeat(((1.0 - t) / (c - 1))[:, None], c, axis=1)
            else:
                scores = np.full((len(t), c), offset)
            scores[:, 0] = t + offset
            return {scores_name: scores, labels_name: np.zeros(len(t), dtype=np.int64)}

        def direction(t: np.ndarray, c: int = c) -> np.ndarray:
            d = np.zeros((len(np.asarray(t)), c))
            d[:, 0] = 1.0
            if probabilities:
                d[:, 1:] = -1.0 / (c - 1)
            return d

        curves.append(Curve(f"C = {c} classes", f"C={c}", make, direction))
    if probabilities:
        return Probe(
            "true-class probability", "true-class probability p_y", "p_y",
            "probabilities (p_y, (1 - p_y)/(C - 1), ...), label 0", "probability",
            (0.0, 1.0), PROBABILITIES, tuple(curves), "p_y",
        )  # fmt: skip
    return Probe(
        "true-class margin", "true-class logit margin z_y − max others", "m (margin)",
        "logits (m, 0, ..., 0), label 0: m is the true-class margin", "real",
        (-6.0, 6.0), LOGITS, tuple(curves), "z_y",
    )  # fmt: skip


def along(
    loss: Any,
    curve: Curve,
    t: np.ndarray,
    params: Mapping[str, Any] | None = None,
    order: int | str = 0,
    *,
    batch: int | None = None,
) -> np.ndarray:
    """The loss (``order`` 0), its first or second derivative along the curve (1, 2) or the
    boosting Hessian along it ("boosting") at each t, as float64 NumPy.

    The derivatives come from the loss's analytic ``grad`` / ``hess`` (``boosting_hess``):
    ``sum(direction * grad)`` and ``sum(direction**2 * hess)`` per sample. ``batch``: the
    probe's batch size for a loss defined over a reduction; each t is then one "mean" call.
    """
    params = dict(params or {})
    t = np.asarray(t, dtype=np.float64)
    inputs = curve.make(t)
    arrays = [inputs[name] for name in loss.spec.input_names]
    if batch is not None:
        if order != 0:
            raise ValueError(f"{loss.name}: no derivatives along a probe of batches")
        return np.array(
            [float(loss(*(a[i] for a in arrays), **params)) for i in range(len(t))],
            dtype=np.float64,
        )
    if order == 0:
        values = np.asarray(loss(*arrays, reduction="none", **params), dtype=np.float64)
        # further output axes (a segmentation loss's classes): their mean
        return values.reshape(len(t), -1).mean(axis=1) if values.ndim > 1 else values
    if curve.direction is None:
        raise ValueError(f"{loss.name}: this probe has no direction for derivatives")
    kernel = {1: loss.grad, 2: loss.hess, "boosting": getattr(loss, "boosting_hess", None)}
    if order not in kernel or kernel[order] is None:
        raise ValueError(f"no derivative of order {order!r} along a probe of {loss.name}")
    d = np.asarray(curve.direction(t), dtype=np.float64)
    values = np.asarray(kernel[order](*arrays, **params), dtype=np.float64)
    weights = d if order == 1 else d * d
    with np.errstate(invalid="ignore"):  # 0 * inf off the moving coordinate is 0
        terms = np.where(weights == 0, 0.0, weights * values)
    return terms.reshape(len(t), -1).sum(axis=1)
