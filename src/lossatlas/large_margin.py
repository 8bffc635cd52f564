"""Large-margin softmax losses and the center loss: the losses of face and metric learning that
shape an embedding so that a class's samples sit close together and far from the others.

- ``large_margin_softmax(features, class_weights, target, *, margin=2)``: L-Softmax (Liu et
  al. 2016). The target logit ``||W_y|| ||x|| cos(theta)`` becomes ``||W_y|| ||x||
  psi(theta)``, with theta the angle between the features x and the target's class weights
  W_y and

      psi(theta) = (-1)^k cos(m theta) - 2k   for theta in [k pi/m, (k+1) pi/m], k = 0..m-1,

  a monotone decreasing extension of cos(m theta) to [0, pi]; the other logits stay
  ``W_j . x``; then softmax cross entropy. ``margin=1`` is softmax cross entropy on
  ``features @ class_weights.T``.
- ``angular_margin_softmax(cosine, target, *, kind, scale, margin, easy_margin)``: softmax
  cross entropy on cosine logits (the cosines of the angles between normalised features and
  normalised class weights), with the target's cosine replaced by ``cos(theta + m)``
  (ArcFace, Deng et al. 2019), ``cos(theta) - m`` (CosFace, Wang et al. 2018) or
  ``psi_m(theta)`` (SphereFace, Liu et al. 2017), all multiplied by ``scale``.
- ``center_loss(features, target, centers)``: ``1/2 ||x_i - c_{y_i}||^2`` (Wen et al. 2016),
  used beside a softmax loss: ``total = cross_entropy + lambda * center_loss``.

cos(m theta) is computed as the Chebyshev polynomial ``T_m(cos theta)`` (``T_0 = 1``, ``T_1 =
c``, ``T_{j+1} = 2 c T_j - T_{j-1}``) and the branch k by comparing cos theta with the
thresholds cos(j pi/m): no arccos, so the value and the gradient are finite (and exact) at cos
theta = +-1. Norms are scaled by the largest coordinate (no overflow at 1e300, no underflow at
subnormal features) with a double where at the zero vector, whose gradient is then that of the
plain logits. The torch modules that own the class weights or the centers as
``nn.Parameter``s are ``lossatlas.torch.ArcFaceLoss``, ``CosFaceLoss``, ``SphereFaceLoss``,
``LargeMarginSoftmaxLoss`` and ``CenterLoss``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._loss import Loss
from ._reduce import Unreduced
from ._registry import register
from ._spec import BoostingHessian, Curve, Input, LossSpec, Param, Probe, Properties, Variant
from ._validate import LossInputError
from ._xp import compiled_on_jax, const, device, safe_sqrt, stop_gradient

__all__ = [
    "AngularMarginSoftmax",
    "CenterLoss",
    "LargeMarginSoftmax",
    "angular_margin_softmax",
    "center_loss",
    "chebyshev_psi",
    "large_margin_softmax",
]

FAMILY = "large_margin"
LIU_2016 = (
    "Liu, W., Wen, Y., Yu, Z., Yang, M. (2016). Large-Margin Softmax Loss for Convolutional "
    "Neural Networks. ICML, 507-516."
)
LIU_2017 = (
    "Liu, W., Wen, Y., Yu, Z., Li, M., Raj, B., Song, L. (2017). SphereFace: Deep Hypersphere "
    "Embedding for Face Recognition. CVPR, 212-220."
)
WANG_2018 = (
    "Wang, H., Wang, Y., Zhou, Z., Ji, X., Gong, D., Zhou, J., Li, Z., Liu, W. (2018). CosFace: "
    "Large Margin Cosine Loss for Deep Face Recognition. CVPR, 5265-5274."
)
DENG_2019 = (
    "Deng, J., Guo, J., Xue, N., Zafeiriou, S. (2019). ArcFace: Additive Angular Margin Loss "
    "for Deep Face Recognition. CVPR, 4690-4699."
)
WEN_2016 = (
    "Wen, Y., Zhang, K., Li, Z., Qiao, Y. (2016). A Discriminative Feature Learning Approach "
    "for Deep Face Recognition. ECCV, 499-515."
)
NOT_BOOSTED = BoostingHessian(
    "none", reason="a loss of an embedding (features against class weights), not of raw scores"
)
#: the margin each kind of angular_margin_softmax takes when ``margin=None``
DEFAULT_MARGINS = {"arcface": 0.5, "cosface": 0.35, "sphereface": 4}
KINDS = tuple(DEFAULT_MARGINS)
#: the target of every loss here: one class index per sample
CLASS_TARGET = Input(
    "target", "*b", "class_index", dtype="index", differentiable=False,
    doc="class indices in [0, C)",
)  # fmt: skip


# ---- shared pieces ---------------------------------------------------------------------------
def chebyshev_psi(xp: Any, c: Any, m: int) -> Any:
    """psi_m as a function of c = cos(theta): ``(-1)^k T_m(c) - 2k``, k the number of the
    thresholds cos(j pi/m), j = 1..m-1, that c is at or below (theta in [k pi/m, (k+1) pi/m]).
    Continuous (both pieces agree at a threshold) and a polynomial on each piece."""
    prev, cur = xp.ones_like(c), c
    for _ in range(m - 1):
        prev, cur = cur, const(xp, 2.0, c) * c * cur - prev
    t_m = cur if m >= 1 else prev
    k = xp.zeros_like(c)
    sign = xp.ones_like(c)
    one = const(xp, 1.0, c)
    for j in range(1, m):
        below = c <= const(xp, math.cos(j * math.pi / m), c)
        k = xp.where(below, k + one, k)
        sign = xp.where(below, -sign, sign)
    return sign * t_m - const(xp, 2.0, c) * k


def _norm_and_unit(xp: Any, v: Any) -> tuple[Any, Any]:
    """(||v||, v / ||v||) along the last axis, without overflow or underflow (scaled by the
    largest |coordinate|, held constant for autodiff, where it cancels); at the zero vector
    (0, 0) with zero derivatives (a double where)."""
    zero = const(xp, 0.0, v)
    if v.shape[-1] == 0:
        return xp.zeros(v.shape[:-1], dtype=v.dtype, device=device(v)), v
    top = stop_gradient(xp, xp.max(xp.where(v < zero, -v, v), axis=-1, keepdims=True))
    nonzero = top > zero
    scale = xp.where(nonzero, top, const(xp, 1.0, top))
    s = v / scale
    squares = xp.sum(s * s, axis=-1, keepdims=True)
    root = xp.sqrt(xp.where(nonzero, squares, const(xp, 1.0, squares)))
    norm = xp.where(nonzero, scale * root, zero)[..., 0]
    return norm, xp.where(nonzero, s / root, zero)


def _one_hot(xp: Any, target: Any, n_classes: int, like: Any) -> Any:
    classes = xp.arange(n_classes, device=device(like))
    return xp.astype(target[..., None] == classes, like.dtype)


def _softmax_ce(xp: Any, logits: Any, one_hot: Any) -> Any:
    """-log softmax(logits)_y per sample: logsumexp(logits) - logits_y (shifted by the row's
    maximum, held constant for autodiff)."""
    top = stop_gradient(xp, xp.max(logits, axis=-1, keepdims=True))
    top = xp.where(xp.isfinite(top), top, xp.zeros_like(top))
    lse = xp.log(xp.sum(xp.exp(logits - top), axis=-1)) + top[..., 0]
    return lse - xp.sum(one_hot * logits, axis=-1)


# ---- L-Softmax --------------------------------------------------------------------------------
LSOFTMAX_FORMULA = (
    r"-\log \frac{e^{\|W_y\| \|x\| \psi(\theta_y)}}{e^{\|W_y\| \|x\| \psi(\theta_y)} + "
    r"\sum_{j \ne y} e^{W_j \cdot x}}, \quad \psi(\theta) = (-1)^k \cos(m\theta) - 2k, "
    r"\ \theta \in [\tfrac{k\pi}{m}, \tfrac{(k+1)\pi}{m}]"
)
PROBE_HEIGHT = 1.0  # the probe's features (t, 1) against class weights (1, 0) and (-1, 0)


def _lsoftmax_probe(params: Mapping[str, Any]) -> Probe:
    """Features x = (t, 1) against the target's weights (1, 0) and another class's (-1, 0):
    the angle to the target weight runs from near pi (t = -6) to near 0 (t = 6)."""

    def make(t: np.ndarray) -> dict[str, np.ndarray]:
        t = np.asarray(t, dtype=np.float64)
        features = np.stack([t, np.full_like(t, PROBE_HEIGHT)], axis=-1)
        return {
            "features": features,
            "class_weights": np.array([[1.0, 0.0], [-1.0, 0.0]]),
            "target": np.zeros(len(t), dtype=np.int64),
        }

    curve = Curve("x = (t, 1); W = (1, 0) (target), (-1, 0)", "x=(t,1)", make)
    return Probe(
        "feature offset", "feature x = (t, 1); angle to the target weight from pi to 0",
        "t", "features (t, 1), class weights (1, 0) (target) and (-1, 0)", "real",
        (-6.0, 6.0), (-4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0), (curve,), "features",
    )  # fmt: skip


def _lsoftmax_kinks(params: Mapping[str, Any]) -> tuple[float, ...]:
    """t where psi switches branch: theta = j pi/m, x = (t, 1), so t = cot(j pi/m)."""
    m = int(params["margin"])
    out = []
    for j in range(1, m):
        a = j * math.pi / m
        out.append(PROBE_HEIGHT * math.cos(a) / math.sin(a))
    return tuple(out)


class LargeMarginSoftmax(Loss):
    """``large_margin_softmax(features, class_weights, target, *, margin=2, weight=None,
    reduction="mean")``: the L-Softmax loss of Liu et al. (2016).

    features (*b, D), class_weights (C, D) (one row per class: the last layer's weights, no
    bias), target (*b) class indices. The logits are ``W_j . x``, but the target's is
    ``||W_y|| ||x|| psi(theta_y)``, with theta_y the angle between x and W_y and

        psi(theta) = (-1)^k cos(m theta) - 2k,  theta in [k pi/m, (k+1) pi/m],

    then softmax cross entropy per sample. A margin m > 1 asks the target's angle to be m
    times smaller than the decision boundary's; ``margin=1`` is cross entropy on
    ``features @ class_weights.T`` (the target logit is built as ``W_y . x + ||W_y|| ||x||
    (psi - cos)``, and psi - cos is exactly 0 there).

    cos(m theta) is the Chebyshev polynomial T_m(cos theta): no arccos, finite derivatives at
    theta = 0 and pi. At zero features (or zero class weights) the margin term is 0 with a
    zero derivative, so the value and gradient are those of the plain logits.
    PyTorch-metric-learning's ``LargeMarginSoftmaxLoss`` normalises neither and holds its
    weights as (embedding_size, num_classes): ``class_weights = W.T``; its ``scale``
    multiplies every logit (``features * scale`` here).
    """

    spec = LossSpec(
        name="large_margin_softmax",
        family=FAMILY,
        summary="L-Softmax: cross entropy with the target logit ||W_y|| ||x|| psi(theta), "
        "an angular margin of factor m",
        properties=Properties(convex=False, robust=True, smoothness="C1"),
        formula=LSOFTMAX_FORMULA,
        references=(LIU_2016,),
        inputs=(
            Input("features", "*b D", "real", doc="the embeddings x (*b, D)"),
            Input(
                "class_weights", "C D", "real", doc="the class weights W (C, D), one row a class"
            ),
            CLASS_TARGET,
        ),
        output="*b",
        target_domain="class_index",  # (the second input is the shared class weights)
        elementwise=False,
        params=(
            Param(
                "margin",
                2,
                "the angular margin factor m (an integer; 1: softmax)",
                low=1,
                high=8,
                kind="int",
            ),
        ),
        aliases=("l_softmax", "lsoftmax", "large_margin_softmax_loss"),
        framework_names={
            "pytorch_metric_learning": "pytorch_metric_learning.losses.LargeMarginSoftmaxLoss"
        },
        derivative_notes="By autodiff (torch autograd, jax.grad); no grad/hess methods. psi is "
        "C1 (its slope is 0 on both sides of each branch point); the gradient is finite at "
        "theta = 0, pi (a polynomial in cos theta) and at zero features (the margin term's "
        "derivative is 0 there).",
        when_to_use="Classification whose penultimate features should cluster by angle "
        "(face recognition, metric learning): a margin m of 2 to 4. Anneal it from softmax "
        "(Liu et al. mix in the plain logit early in training) when training is unstable.",
        variants=(Variant({"margin": 1}, properties={"convex": True, "smoothness": "Cinf"}),),
        showcase=({"margin": 1}, {"margin": 2}, {"margin": 4}),
        boosting=NOT_BOOSTED,
        probe=_lsoftmax_probe,
        kinks=_lsoftmax_kinks,
    )

    def definition(self, call: Any) -> Unreduced:
        arrays = tuple(call.inputs[k] for k in ("features", "class_weights", "target"))
        return Unreduced(compiled_on_jax(_lsoftmax, call.xp, arrays, m=int(call.params["margin"])))


def _lsoftmax(xp: Any, x: Any, w: Any, y: Any, *, m: int) -> Any:
    """The per-sample L-Softmax loss: features x (*b, D), class weights w (C, D), labels y."""
    logits = xp.matmul(x, xp.matrix_transpose(w))  # (*b, C)
    one_hot = _one_hot(xp, y, w.shape[0], x)
    x_norm, x_unit = _norm_and_unit(xp, x)
    w_norm, w_unit = _norm_and_unit(xp, w)
    cos = xp.sum(x_unit * xp.matmul(one_hot, w_unit), axis=-1)
    w_norm_y = xp.sum(one_hot * w_norm, axis=-1)
    extra = w_norm_y * x_norm * (chebyshev_psi(xp, cos, m) - cos)
    return _softmax_ce(xp, logits + one_hot * extra[..., None], one_hot)


# ---- ArcFace, CosFace, SphereFace --------------------------------------------------------------
ANGULAR_FORMULA = (
    r"-\log \frac{e^{s\,\phi(\cos\theta_y)}}{e^{s\,\phi(\cos\theta_y)} + \sum_{j \ne y} "
    r"e^{s \cos\theta_j}}, \quad \phi = \cos(\theta + m)\ \text{(ArcFace)},\ "
    r"\cos\theta - m\ \text{(CosFace)},\ \psi_m(\theta)\ \text{(SphereFace)}"
)
PROBE_CLASSES = 4  # the probe's cosine logits: the target's cos t, the others 0


def _angular_probe(params: Mapping[str, Any]) -> Probe:
    """The angle t between the features and the target's weights: its cosine cos t, the three
    other classes' cosines 0 (orthogonal)."""

    def make(t: np.ndarray) -> dict[str, np.ndarray]:
        t = np.asarray(t, dtype=np.float64)
        cosine = np.zeros((len(t), PROBE_CLASSES))
        cosine[:, 0] = np.clip(np.cos(t), -1.0, 1.0)
        return {"cosine": cosine, "target": np.zeros(len(t), dtype=np.int64)}

    curve = Curve(f"C = {PROBE_CLASSES}, other cosines 0", f"C={PROBE_CLASSES}", make)
    return Probe(
        "target angle", "angle theta to the target's weights (radians)", "theta",
        "cosine logits (cos theta, 0, 0, 0), label 0", "real",
        (0.0, math.pi), (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0), (curve,), "cosine",
    )  # fmt: skip


def _margin_of(params: Mapping[str, Any]) -> float:
    margin = params.get("margin")
    return DEFAULT_MARGINS[params.get("kind", "arcface")] if margin is None else margin


def _angular_kinks(params: Mapping[str, Any]) -> tuple[float, ...]:
    """theta where a branch switches: ArcFace's pi - m (or pi/2 with easy_margin),
    SphereFace's j pi/m."""
    kind, m = params.get("kind", "arcface"), _margin_of(params)
    if kind == "arcface":
        return (math.pi / 2,) if params.get("easy_margin") else (math.pi - m,)
    if kind == "sphereface":
        return tuple(j * math.pi / int(m) for j in range(1, int(m)))
    return ()


class AngularMarginSoftmax(Loss):
    """``angular_margin_softmax(cosine, target, *, kind="arcface", scale=64.0, margin=None,
    easy_margin=False, weight=None, reduction="mean")``: softmax cross entropy on scaled cosine
    logits with an angular or cosine margin on the target class.

    cosine (*b, C): the cosines of the angles between each sample's (normalised) features and
    each class's (normalised) weights, in [-1, 1] (rounding can take a computed cosine a few
    ulps past 1: clamp it; the torch modules do); target (*b) class indices. With c = cos
    theta_y the target's cosine, its logit s c becomes s phi(c):

    - "arcface" (Deng et al. 2019; default m = 0.5): phi = cos(theta + m) = c cos m -
      sin(theta) sin m. Where theta + m would pass pi (c <= cos(pi - m)) phi = c - m sin m,
      insightface's fallback that keeps the target logit decreasing in theta; with
      ``easy_margin`` phi = c where c <= 0 instead.
    - "cosface" (Wang et al. 2018; default m = 0.35): phi = c - m. This is cross entropy on
      ``s * (cosine - m * one_hot)``.
    - "sphereface" (Liu et al. 2017; default m = 4, an integer): phi = psi_m(theta) =
      (-1)^k cos(m theta) - 2k, as in L-Softmax, on normalised features (fixed scale s, as
      insightface's combined margin does; Liu et al. scale by ||x||: see
      ``large_margin_softmax`` with unit class weights, and ``lossatlas.torch.SphereFaceLoss``).

    sin theta is sqrt(1 - c^2) with a double where: at c = +-1 its derivative is taken as 0
    (the one-sided limit is infinite), so ArcFace's gradient is finite there.
    PyTorch-metric-learning's ArcFaceLoss takes its margin in degrees (28.6 = 0.5 rad).
    """

    spec = LossSpec(
        name="angular_margin_softmax",
        family=FAMILY,
        summary="ArcFace / CosFace / SphereFace: cross entropy on scaled cosine logits with a "
        "margin on the target's angle or cosine",
        properties=Properties(convex=False, robust=True, smoothness="discontinuous", bounded=True),
        formula=ANGULAR_FORMULA,
        references=(DENG_2019, WANG_2018, LIU_2017),
        inputs=(
            Input("cosine", "*b C", "cosine", doc="cosine logits (*b, C) in [-1, 1]"),
            CLASS_TARGET,
        ),
        output="*b",
        elementwise=False,
        params=(
            Param(
                "kind",
                "arcface",
                "the margin: 'arcface' cos(theta + m), 'cosface' "
                "cos(theta) - m, 'sphereface' psi_m(theta)",
                kind="choice",
                choices=KINDS,
            ),
            Param("scale", 64.0, "the scale s of every logit", low=0.0, low_inclusive=False),
            Param(
                "margin",
                None,
                "the margin m (None: 0.5 ArcFace, 0.35 CosFace, 4 "
                "SphereFace; an integer for SphereFace, below pi for ArcFace)",
                low=0.0,
                high=8.0,
                allow_none=True,
            ),
            Param(
                "easy_margin",
                False,
                "ArcFace: no margin where cos theta <= 0 (instead "
                "of the fallback c - m sin m past theta = pi - m)",
                kind="bool",
            ),
        ),
        # (not "arcface" etc.: get("cosface") would hand back the ArcFace default)
        aliases=("angular_margin_loss", "margin_softmax"),
        framework_names={
            "pytorch_metric_learning": "pytorch_metric_learning.losses.ArcFaceLoss (on its "
            "cosines), pytorch_metric_learning.losses.CosFaceLoss (on its cosines)",
        },
        derivative_notes="By autodiff (torch autograd, jax.grad); no grad/hess methods. With "
        "respect to theta the gradient is bounded; with respect to the cosine ArcFace's "
        "grows like 1/sin(theta) near c = +-1 (and is finite at +-1 exactly, where sin's "
        "derivative is taken as 0). ArcFace's fallback (and easy_margin) make the value "
        "jump at theta = pi - m (pi/2).",
        when_to_use="Face recognition and other open-set classification whose embeddings "
        "are compared by cosine: ArcFace (m = 0.5, s = 64) is the usual choice; lower s for "
        "few classes or low-dimensional embeddings (s = 64 in 2-D barely trains).",
        variants=(
            Variant({"kind": "cosface"}, properties={"smoothness": "Cinf"}),
            Variant({"kind": "sphereface"}, properties={"smoothness": "C1"}),
            Variant(
                lambda p: _margin_of(p) == 0 or (p["kind"] == "sphereface" and _margin_of(p) == 1),
                properties={"smoothness": "Cinf"},
                note="no margin (m = 0; m = 1 for SphereFace): softmax on s cos theta",
            ),
        ),
        showcase=({"kind": "arcface"}, {"kind": "cosface"}, {"kind": "sphereface"}),
        boosting=NOT_BOOSTED,
        probe=_angular_probe,
        kinks=_angular_kinks,
    )

    def _check_together(self, bound: dict[str, Any]) -> None:
        kind, margin = bound.get("kind", "arcface"), bound.get("margin")
        if bound.get("easy_margin") and kind != "arcface":
            raise LossInputError(
                self.name,
                "easy_margin",
                "False unless kind='arcface' (an option of ArcFace's margin)",
                "True",
            )
        if margin is None:
            return
        if kind == "sphereface" and (margin != int(margin) or margin < 1):
            raise LossInputError(
                self.name, "margin", "an integer >= 1 for SphereFace", repr(margin)
            )
        if kind == "arcface" and not margin < math.pi:
            raise LossInputError(self.name, "margin", "an angle below pi for ArcFace", repr(margin))

    def definition(self, call: Any) -> Unreduced:
        params = call.params
        arrays = (call.inputs["cosine"], call.inputs["target"])
        static = {"kind": params["kind"], "scale": float(params["scale"]),
                  "m": _margin_of(params), "easy_margin": params["easy_margin"]}  # fmt: skip
        return Unreduced(compiled_on_jax(_angular, call.xp, arrays, **static))


def _angular(
    xp: Any, cosine: Any, y: Any, *, kind: str, scale: float, m: float, easy_margin: bool
) -> Any:
    """The per-sample ArcFace / CosFace / SphereFace loss of cosine logits (*b, C)."""
    one_hot = _one_hot(xp, y, cosine.shape[-1], cosine)
    c = xp.sum(one_hot * cosine, axis=-1)
    if kind == "arcface":
        sin = safe_sqrt(xp, const(xp, 1.0, c) - c * c)
        phi = c * const(xp, math.cos(m), c) - sin * const(xp, math.sin(m), c)
        if easy_margin:
            phi = xp.where(c > const(xp, 0.0, c), phi, c)
        else:
            past = c <= const(xp, math.cos(math.pi - m), c)
            phi = xp.where(past, c - const(xp, m * math.sin(m), c), phi)
    elif kind == "cosface":
        phi = c - const(xp, float(m), c)
    else:
        phi = chebyshev_psi(xp, c, int(m))
    s = const(xp, scale, cosine)
    logits = s * cosine + one_hot * (s * (phi - c))[..., None]
    return _softmax_ce(xp, logits, one_hot)


# ---- center loss -----------------------------------------------------------------------------
def _center_probe(params: Mapping[str, Any]) -> Probe:
    """Features (t, 0) of class 0 against centres (0, 0) and (2, 0)."""

    def make(t: np.ndarray) -> dict[str, np.ndarray]:
        t = np.asarray(t, dtype=np.float64)
        return {
            "features": np.stack([t, np.zeros_like(t)], axis=-1),
            "target": np.zeros(len(t), dtype=np.int64),
            "centers": np.array([[0.0, 0.0], [2.0, 0.0]]),
        }

    curve = Curve("x = (t, 0), its centre (0, 0)", "x=(t,0)", make)
    return Probe(
        "distance to centre", "offset t of the features from their class centre", "t",
        "features (t, 0) of class 0, centres (0, 0) and (2, 0)", "real",
        (-3.0, 3.0), (-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0), (curve,), "features",
    )  # fmt: skip


class CenterLoss(Loss):
    """``center_loss(features, target, centers, *, weight=None, reduction="mean")``: the
    center loss of Wen et al. (2016), ``1/2 ||x_i - c_{y_i}||^2`` per sample.

    features (*b, D), target (*b) class indices, centers (C, D) one centre a class. Used
    beside a softmax loss, ``total = cross_entropy + lambda * center_loss``: the softmax term
    separates the classes, the center term pulls each class's features together. Wen et al.
    sum over the batch (``reduction="sum"``) and update the centres with their own rate
    alpha; the mean (the default) is PyTorch-metric-learning's and most reimplementations'
    convention. ``lossatlas.torch.CenterLoss`` holds the centres as an ``nn.Parameter``.
    """

    spec = LossSpec(
        name="center_loss",
        family=FAMILY,
        summary="half the squared distance of each sample's features to its class centre",
        properties=Properties(convex=True, robust=False, smoothness="Cinf"),
        formula=r"\tfrac{1}{2} \|x_i - c_{y_i}\|_2^2",
        references=(WEN_2016,),
        inputs=(
            Input("features", "*b D", "real", doc="the embeddings x (*b, D)"),
            CLASS_TARGET,
            Input("centers", "C D", "real", doc="the class centres (C, D), one row a class"),
        ),
        output="*b",
        elementwise=False,
        aliases=("centerloss", "centre_loss"),
        derivative_notes="By autodiff (torch autograd, jax.grad); no grad/hess methods. "
        "d/dx = x - c_y; d/dc_j = -(sum over the samples of class j of x - c_j).",
        when_to_use="Beside softmax cross entropy, to make each class's features compact "
        "(lambda about 0.003 to 0.1 in Wen et al.); alone it collapses every feature onto "
        "its centre and the centres onto one another.",
        boosting=NOT_BOOSTED,
        probe=_center_probe,
    )

    def definition(self, call: Any) -> Unreduced:
        arrays = tuple(call.inputs[k] for k in ("features", "target", "centers"))
        return Unreduced(compiled_on_jax(_center, call.xp, arrays))


def _center(xp: Any, x: Any, y: Any, centers: Any) -> Any:
    """1/2 ||x - c_y||^2 per sample."""
    mine = xp.matmul(_one_hot(xp, y, centers.shape[0], x), centers)
    d = x - mine
    return const(xp, 0.5, x) * xp.sum(d * d, axis=-1)


large_margin_softmax = register(LargeMarginSoftmax())
angular_margin_softmax = register(AngularMarginSoftmax())
center_loss = register(CenterLoss())
