"""Overlap losses for segmentation: Dice, Jaccard (soft IoU), Tversky, focal Tversky,
generalized Dice and Dice + cross entropy.

Each is computed from three soft counts of a sample's (or the whole batch's) pixels, per class:

    TP = sum m p y,   FP = sum m p (1 - y),   FN = sum m (1 - p) y

(p the predicted probability, y the target, m = 0 on pixels equal to ``ignore_index``), as
ratios whose numerator is a sum of non-negative terms, so a loss is never below 0 by
rounding and an empty prediction on an empty target is exactly 0:

    dice     = 1 - (2 TP + s) / (2 TP + FP + FN + s) = (FP + FN) / (2 TP + FP + FN + s)
    jaccard  = 1 - (TP + s) / (TP + FP + FN + s)     = (FP + FN) / (TP + FP + FN + s)
    tversky  = (a FP + b FN) / (TP + a FP + b FN + s)

``squared=True`` (the V-Net form) is ``sum m (p - y)^2 / (sum m p^2 + sum m y^2 + s)``.
Where a denominator is 0 (smooth = 0 and nothing predicted nor present) the loss is 0 by
selection, with a zero gradient; with smooth > 0 the gradient at an empty prediction on an
empty target is finite (1/s per pixel in probability space).

Modes and shapes (``axis`` names the class axis; the torch modules use ``dim=1``):

- ``mode="binary"``: pred and target of one shape (N, *spatial), no class axis; pred holds
  probabilities in [0, 1] (logits and a sigmoid with ``from_logits=True``); the output
  ("none") is (N,) per sample, or () with ``per_image=False``.
- ``mode="multiclass"`` (default): pred (N, *spatial, C) (classes along ``axis``), class
  probabilities summing to 1 along it, or logits and a softmax with ``from_logits=True``;
  target class indices (N, *spatial) (one-hot encoded here) or class probabilities (one-hot
  or soft, summing to 1) of pred's shape; output (N, C), or (C,) with ``per_image=False``.
  Anything else raises ``LossInputError`` naming ``mode`` (a binary mask (N, H, W) read in
  this mode would make W the classes).
- ``mode="multilabel"``: pred and target (N, *spatial, C), probabilities per class (logits
  and a sigmoid per class with ``from_logits=True``); output (N, C), or (C,).

``per_image=True`` sums each sample's pixels (MONAI's ``batch=False``), ``per_image=False``
every pixel of the batch (MONAI's ``batch=True``, segmentation_models_pytorch's and Keras's
default). ``class_weight`` w_c multiplies the per-class losses and enters the "mean" as the
weight of each entry: ``mean = sum(u w_c l) / sum(u w_c)`` with u the per-call ``weight``
(broadcast to the output: (N, 1) or (N,) weights samples with per_image=True; with
per_image=False the output has no sample axis and ``weight`` broadcasts to (C,)). MONAI's
mean divides by N C instead (``torch.mean(w_c l)``): the two differ by the factor mean(w).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._loss import Call, Loss
from ._reduce import Unreduced
from ._registry import register
from ._spec import BoostingHessian, Curve, Input, LossSpec, Param, Probe, Properties, Variant
from ._validate import LossInputError
from ._xp import const, library, sigmoid_pair, times_finite, where0

__all__ = [
    "dice_ce_loss",
    "dice_loss",
    "focal_tversky_loss",
    "generalized_dice_loss",
    "jaccard_loss",
    "seg_inputs",
    "seg_params",
    "seg_variants",
    "soft_counts",
    "softmax_pair",
    "tversky_loss",
]

MODES = ("binary", "multiclass", "multilabel")

MILLETARI_2016 = (
    "Milletari, F., Navab, N., Ahmadi, S.-A. (2016). V-Net: Fully Convolutional Neural Networks "
    "for Volumetric Medical Image Segmentation. 3DV, 565-571."
)
SUDRE_2017 = (
    "Sudre, C. H., Li, W., Vercauteren, T., Ourselin, S., Cardoso, M. J. (2017). Generalised "
    "Dice overlap as a deep learning loss function for highly unbalanced segmentations. "
    "DLMIA, LNCS 10553, 240-248."
)
SALEHI_2017 = (
    "Salehi, S. S. M., Erdogmus, D., Gholipour, A. (2017). Tversky loss function for image "
    "segmentation using 3D fully convolutional deep networks. MLMI, LNCS 10541, 379-387."
)
ABRAHAM_2019 = (
    "Abraham, N., Khan, N. M. (2019). A Novel Focal Tversky Loss Function with Improved "
    "Attention U-Net for Lesion Segmentation. ISBI, 683-687."
)
RAHMAN_2016 = (
    "Rahman, M. A., Wang, Y. (2016). Optimizing Intersection-Over-Union in Deep Neural Networks "
    "for Image Segmentation. ISVC, LNCS 10072, 234-244."
)
ISENSEE_2021 = (
    "Isensee, F., Jaeger, P. F., Kohl, S. A. A., Petersen, J., Maier-Hein, K. H. (2021). "
    "nnU-Net: a self-configuring method for deep learning-based biomedical image "
    "segmentation. Nature Methods 18, 203-211."
)
DICE_1945 = (
    "Dice, L. R. (1945). Measures of the Amount of Ecologic Association Between Species. "
    "Ecology 26(3), 297-302."
)


# ---- the input structure shared by every segmentation loss ------------------------------------
def seg_inputs(mode: str) -> tuple[Input, Input]:
    """The (pred, target) inputs of a segmentation loss in ``mode`` (see the module doc),
    with probabilities (``from_logits=False``, the default): per pixel in binary mode, per
    pixel and class in multilabel mode, class probabilities (domain "simplex", summing to 1
    along the class axis) in multiclass mode; ``seg_variants`` makes them logits with
    ``from_logits=True``."""
    if mode == "binary":
        return (
            Input("pred", "N *s", "probability",
                  doc="one probability (a logit with from_logits=True) per pixel (N, *spatial)"),
            Input("target", "N *s", "mask", differentiable=False,
                  doc="the mask, pred's shape: values in [0, 1] or ignore_index"),
        )  # fmt: skip
    pred = Input(
        "pred", "N *s C", "simplex" if mode == "multiclass" else "probability", class_axis=True,
        doc="one probability (a logit with from_logits=True) per pixel and class "
        "(N, *spatial, C), classes along axis" + (", summing to 1 over the classes"
                                                  if mode == "multiclass" else ""),
    )  # fmt: skip
    if mode == "multilabel":
        return pred, Input(
            "target", "N *s C", "mask", differentiable=False, class_axis=True,
            doc="per-class masks, pred's shape: values in [0, 1] or ignore_index",
        )  # fmt: skip
    return pred, Input(
        "target", "N *s", "class_index", dtype="index", differentiable=False,
        doc="class indices (N, *spatial), or class probabilities (one-hot or soft, summing "
        "to 1 along the class axis) of pred's shape",
        alternatives=(
            Input("target", "N *s C", "simplex", differentiable=False, class_axis=True),
        ),
    )  # fmt: skip


def seg_variants(*, per_class: bool = True) -> tuple[Variant, ...]:
    """The variants of the segmentation input structure: the binary and multilabel modes'
    inputs, logits with ``from_logits=True``, and the output's pattern (``"N C"``
    per sample and class where ``per_class``, else ``"N"``; without N under
    ``per_image=False``; without C in binary mode)."""
    multi, single = ("N C", "C") if per_class else ("N", "")
    out = [
        Variant({"mode": "binary"}, inputs=dict(zip(("pred", "target"), seg_inputs("binary"),
                                                     strict=True)), output="N"),
        Variant({"mode": "multilabel"}, inputs=dict(zip(("pred", "target"),
                                                         seg_inputs("multilabel"), strict=True)),
                output=multi),
        Variant({"per_image": False}, output=single),
        Variant({"per_image": False, "mode": "binary"}, output=""),
        Variant({"from_logits": True}, {"pred": "logit"}),
    ]  # fmt: skip
    return tuple(out)


def seg_params(smooth: float = 1.0, *, smooth_doc: str = "") -> tuple[Param, ...]:
    """The options every overlap loss takes."""
    return (
        Param("mode", "multiclass", "'binary' (no class axis), 'multiclass' (softmax over the "
              "classes; index or per-class targets) or 'multilabel' (a sigmoid per class)",
              kind="choice", choices=MODES),
        Param("from_logits", False, "pred holds probabilities (class probabilities summing to "
              "1 in multiclass mode, values in [0, 1] otherwise) or logits (True: a softmax in "
              "multiclass mode, a sigmoid otherwise)", kind="bool"),
        Param("axis", -1, "the class axis of pred (and of a per-class target)", kind="axis"),
        Param("smooth", smooth, smooth_doc or "added to the numerator and the denominator of "
              "the overlap ratio", low=0.0),
        Param("ignore_index", None, "a target value whose pixels are left out of every sum",
              kind="int", allow_none=True),
        Param("class_weight", None, "a weight (>= 0) per class, shape (C,), of the per-class "
              "losses; None weights every class 1", kind="array", allow_none=True, shape="C",
              domain="nonnegative"),
        Param("per_image", True, "sum over each sample's pixels (True) or over the whole batch",
              kind="bool"),
    )  # fmt: skip


def _flat(xp: Any, x: Any, classes: bool) -> Any:
    """(N, *spatial[, C]) as (N, S, C) (C = 1 without a class axis)."""
    shape = tuple(x.shape)
    n = shape[0]
    c = shape[-1] if classes else 1
    spatial = shape[1:-1] if classes else shape[1:]
    return xp.reshape(x, (n, math.prod(spatial), c))


def soft_counts(xp: Any, pred: Any, target: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    """The per-pixel pieces of a segmentation loss on prepared arrays (class axis last), each
    (N, S, C): ``p`` (the probability), ``q`` (1 - p, computed without cancellation), ``y``
    (the one-hot or given target, 0 where ignored), ``valid`` (False on ignored pixels, or
    None) and, for cross entropy, ``pred`` and ``target`` reshaped the same way (a class
    index target as (N, S)). Probabilities come from ``softmax_pair`` or the library's
    sigmoid pair."""
    mode, ignore = params["mode"], params["ignore_index"]
    classes = mode != "binary"
    z = _flat(xp, pred, classes)
    if not params["from_logits"]:
        p = z
        q = const(xp, 1.0, z) - z
    elif mode == "multiclass":
        p, q = softmax_pair(xp, z)
    else:
        p, q = sigmoid_pair(xp, z)
    n, s, c = z.shape
    if mode == "multiclass" and xp.isdtype(target.dtype, "integral"):
        labels = xp.reshape(target, (n, s))
        valid = None if ignore is None else labels != ignore
        safe = labels if valid is None else xp.where(valid, labels, const(xp, 0, labels))
        y = xp.astype(_onehot(xp, safe, c, z), z.dtype)
        ce_target = safe if valid is None else labels
        if valid is not None:
            valid = valid[..., None]
    else:
        t = _flat(xp, target, classes)
        valid = None
        if ignore is not None and mode != "multiclass":
            valid = t != const(xp, float(ignore), t)
            t = where0(xp, valid, t)
        y = t
        ce_target = t
    if valid is not None:
        p, q, y = where0(xp, valid, p), where0(xp, valid, q), where0(xp, valid, y)
    return {"p": p, "q": q, "y": y, "valid": valid, "pred": z, "target": ce_target}


def softmax_pair(xp: Any, z: Any) -> tuple[Any, Any]:
    """(softmax(z), 1 - softmax(z)) along the last axis, each to a few ulps where it is tiny.

    With m = max z, e = exp(z - m) and the classes at the maximum ("top", e = 1 exactly)
    apart from the others: E = sum of the top classes' e (their count), R = the others' sum,
    S = E + R; p = e / S and 1 - p = (sum of the other classes' e) / S, summed as
    (R - e_other) + (E - e_top): for a top class R + (E - 1), where E - 1 is exact, so
    1 - p keeps R's digits where p is near 1 (no 1 - p cancellation). No argmax and no
    select (an argmax over a short class axis is far slower than the rest on torch).
    Every class's z - m carries its own derivative, so the split of m's derivative at a tie
    does not matter (the softmax is shift invariant). A +inf logit gives the limit (uniform
    over the +inf classes, the others 0) and a -inf logit probability 0, by clamping to the
    dtype's finite range first (zero derivative there, as for the limit)."""
    big = float(xp.finfo(z.dtype).max)
    z = xp.clip(z, -big, big)
    m = _along_classes(xp, z, xp.maximum)
    e = xp.exp(z - m)
    e_top = e * xp.astype(z == m, z.dtype)
    e_other = e - e_top
    top_sum = _along_classes(xp, e_top, xp.add)
    other_sum = _along_classes(xp, e_other, xp.add)
    total = top_sum + other_sum
    return e / total, ((other_sum - e_other) + (top_sum - e_top)) / total


SHORT_CLASS_AXIS = 8


def _along_classes(xp: Any, x: Any, op: Any) -> Any:
    """The max (``op`` xp.maximum) or sum (xp.add) over the last axis, keepdims. On NumPy
    arrays with a few classes (up to ``SHORT_CLASS_AXIS``) as elementwise ops of the class
    slices: NumPy reduces a short innermost axis several times slower than one elementwise
    pass (an (N, S, 4) max: 155 ms against 35 ms). Elsewhere the reduction itself (torch
    reduces the moved class axis of an (N, C, H, W) tensor fast, while the slices' backward
    would allocate a full gradient each; JAX fuses either)."""
    c = x.shape[-1]
    if library(x) != "numpy" or not 0 < c <= SHORT_CLASS_AXIS:
        if op is xp.maximum:
            return xp.max(x, axis=-1, keepdims=True)
        return xp.sum(x, axis=-1, keepdims=True)
    out = x[..., 0:1]
    for k in range(1, c):
        out = op(out, x[..., k : k + 1])
    return out


def _onehot(xp: Any, labels: Any, c: int, like: Any) -> Any:
    from ._xp import device

    return xp.arange(c, device=device(like))[None, None, :] == labels[..., None]


def _sum(xp: Any, x: Any, per_image: bool) -> Any:
    """Sum over the pixels of each sample ((N, S, C) -> (N, C)) or of the batch (-> (C,))."""
    return xp.sum(x, axis=1) if per_image else xp.sum(x, axis=(0, 1))


def _ratio(xp: Any, num: Any, den: Any) -> Any:
    """num / den, and 0 (with a zero gradient) where den is 0 (then num is 0 too)."""
    positive = den > 0
    return where0(xp, positive, num / xp.where(positive, den, const(xp, 1.0, den)))


def overlap_sums(xp: Any, pieces: Mapping[str, Any], per_image: bool) -> dict[str, Any]:
    """TP, FP, FN summed per sample and class, (N, C) (or over the batch, (C,))."""
    p, q, y = pieces["p"], pieces["q"], pieces["y"]
    one = const(xp, 1.0, y)
    return {
        "tp": _sum(xp, p * y, per_image),
        "fp": _sum(xp, p * (one - y), per_image),
        "fn": _sum(xp, q * y, per_image),
    }


def dice_per_class(
    xp: Any, pieces: Mapping[str, Any], per_image: bool, smooth: float, squared: bool
) -> Any:
    """The Dice loss per sample and class (N, C) (or per class over the batch, (C,)): the one
    definition that ``dice_loss`` and ``dice_ce_loss`` use."""
    s = const(xp, smooth, pieces["p"])
    if squared:
        p, y = pieces["p"], pieces["y"]
        r = p - y
        num = _sum(xp, r * r, per_image)
        return _ratio(xp, num, _sum(xp, p * p, per_image) + _sum(xp, y * y, per_image) + s)
    c = overlap_sums(xp, pieces, per_image)
    err = c["fp"] + c["fn"]
    return _ratio(xp, err, 2.0 * c["tp"] + err + s)


def _weighted(xp: Any, values: Any, class_weight: Any, binary: bool) -> Unreduced:
    """The per-class values with the class weights applied (the implicit weight of "mean"),
    the class axis dropped in binary mode."""
    if binary:
        return Unreduced(values[..., 0])
    if class_weight is None:
        return Unreduced(values)
    return Unreduced(times_finite(xp, class_weight, values),
                     xp.broadcast_to(class_weight, tuple(values.shape)))  # fmt: skip


_OTHER_MODES = (
    "for a binary mask pass mode='binary', for independent per-class masks mode='multilabel'"
)


def _domain_hint(argument: str, params: Mapping[str, Any], raw: Mapping[str, Any]) -> str | None:
    """What pred or target must hold under ``mode`` and ``from_logits``, naming the options
    (None where the error is not about them: a target of another shape)."""
    mode, logits = params.get("mode", "multiclass"), params.get("from_logits", False)
    if argument == "pred":
        if logits:
            return None
        if mode == "multiclass":
            return (
                "class probabilities summing to 1 along the class axis (mode='multiclass', "
                f"from_logits=False; for logits pass from_logits=True, {_OTHER_MODES})"
            )
        return (
            f"probabilities in [0, 1] (mode={mode!r}, from_logits=False; for logits pass "
            "from_logits=True)"
        )
    if mode != "multiclass":
        return None
    pred, target = raw.get("pred"), raw.get("target")
    if pred is None or target is None or target.ndim != pred.ndim:
        return None
    return (
        "class probabilities (one-hot or soft) summing to 1 along the class axis, or class "
        f"indices without the class axis (mode='multiclass'; {_OTHER_MODES})"
    )


class _Overlap(Loss):
    """What every overlap loss shares: the checks of the options together, the masking of
    zero-weight samples and the definition from the soft counts."""

    def _check_together(self, bound: dict[str, Any]) -> None:
        if bound.get("mode") == "binary" and bound.get("class_weight") is not None:
            raise LossInputError(
                self.name, "class_weight", "None in binary mode (one class: no class axis)",
                "an array",
            )  # fmt: skip

    def _validate(self, raw: dict[str, Any], params: dict[str, Any], weight: Any) -> Call:
        """The core's validation, with a domain error of pred or target restated to name the
        option that most likely set it (``mode`` or ``from_logits``): a binary mask (N, H, W)
        under the default mode="multiclass" reads W as the classes, and fails here."""
        try:
            return super()._validate(raw, params, weight)
        except LossInputError as err:
            if err.argument not in ("pred", "target") or not (
                "sum" in err.expected or err.expected.startswith("values in")
            ):
                raise
            expected = _domain_hint(err.argument, params, raw)
            if expected is None:
                raise
            raise LossInputError(err.function, err.argument, expected, err.got) from None

    def _mask_zero_weight(
        self, xp: Any, inputs: dict[str, Any], domains: dict[str, str], weight: Any
    ) -> dict[str, Any]:
        """A sample whose weights are all 0 gets safe inputs (the output's first axis is the
        sample only with per_image=True: the core cannot align it with the pixels)."""
        first = inputs["pred"]
        if weight.ndim == 0 or weight.shape[0] != first.shape[0] or first.ndim == 0:
            return inputs
        zero = weight == 0
        if weight.ndim > 1:
            rest = math.prod(weight.shape[1:])
            zero = xp.all(xp.reshape(zero, (weight.shape[0], rest)), axis=1)
        out = {}
        for arg, x in inputs.items():
            mask = xp.reshape(zero, (x.shape[0],) + (1,) * (x.ndim - 1))
            from ._domains import DOMAINS

            out[arg] = xp.where(mask, const(xp, DOMAINS[domains[arg]].safe, x), x)
        return out

    def definition(self, call: Any) -> Unreduced:
        xp, params = call.xp, call.params
        pieces = soft_counts(xp, call.inputs["pred"], call.inputs["target"], params)
        return self._from_pieces(xp, pieces, params)

    def _from_pieces(self, xp: Any, pieces: dict[str, Any], params: dict[str, Any]) -> Unreduced:
        raise NotImplementedError


def _spec(name: str, **kw: Any) -> LossSpec:
    per_class = kw.pop("per_class", True)
    extra = kw.pop("extra_params", ())
    smooth = kw.pop("smooth", 1.0)
    inputs = seg_inputs("multiclass")
    return LossSpec(
        name=name,
        family="segmentation",
        inputs=inputs,
        output="N C" if per_class else "N",
        elementwise=False,
        params=(*seg_params(smooth), *extra),
        variants=(*seg_variants(per_class=per_class), *kw.pop("variants", ())),
        boosting=BoostingHessian(
            "none", reason="an overlap ratio of sums over pixels, not a per-pixel objective"
        ),
        probe=kw.pop("probe", lambda p: overlap_probe(p, per_class=per_class)),
        **kw,
    )


PROPS = Properties(convex=False, robust=True, smoothness="Cinf", bounded=True)
SEG_PEERS = "MONAI (monai.losses.{}), segmentation_models_pytorch (smp.losses.{})"


class DiceLoss(_Overlap):
    r"""Soft Dice loss (Milletari et al. 2016), per sample and class.

    .. math:: \ell = 1 - \frac{2\,TP + s}{\sum p + \sum y + s}
        = \frac{FP + FN}{2\,TP + FP + FN + s}

    ``squared=True`` is the V-Net form ``1 - (2 TP + s) / (sum p^2 + sum y^2 + s)``, computed as
    ``sum (p - y)^2 / (sum p^2 + sum y^2 + s)``. See the module docstring for modes, shapes,
    ``ignore_index``, ``class_weight`` and ``per_image``; an empty prediction on an empty
    target is 0 (smooth > 0: with a finite gradient).
    """

    spec = _spec(
        "dice_loss",
        summary="Soft Dice loss: one minus the soft Dice coefficient (F1) of the prediction "
        "and the mask, per sample and class.",
        properties=PROPS,
        formula=r"\ell = 1 - \frac{2\sum_i p_i y_i + s}{\sum_i p_i + \sum_i y_i + s}",
        references=(DICE_1945, MILLETARI_2016),
        extra_params=(
            Param("squared", False, "p^2 and y^2 in the denominator (V-Net)", kind="bool"),
        ),
        aliases=("dice", "soft_dice_loss"),
        framework_names={
            "monai": "monai.losses.DiceLoss",
            "smp": "segmentation_models_pytorch.losses.DiceLoss",
            "keras": "keras.losses.Dice",
            "optax": "optax.losses.dice_loss",
            "tensorflow": "tf.keras.losses.Dice",
        },
        derivative_notes="autodiff only (the loss of a pixel depends on every pixel of its "
        "sample and class).",
        when_to_use="Segmentation with a small foreground: the ratio ignores the count of "
        "true negatives, so the background does not dominate.",
        showcase=({"smooth": 1.0}, {"smooth": 0.0}, {"squared": True}),
    )

    def _from_pieces(self, xp: Any, pieces: dict[str, Any], params: dict[str, Any]) -> Unreduced:
        d = dice_per_class(xp, pieces, params["per_image"], params["smooth"], params["squared"])
        return _weighted(xp, d, params["class_weight"], params["mode"] == "binary")


class JaccardLoss(_Overlap):
    r"""Soft Jaccard (IoU) loss (Rahman and Wang 2016), per sample and class.

    .. math:: \ell = 1 - \frac{TP + s}{\sum p + \sum y - TP + s}
        = \frac{FP + FN}{TP + FP + FN + s}

    MONAI's ``DiceLoss(jaccard=True)`` is ``1 - (2 TP + s_nr) / (2 (TP + FP + FN) + s_dr)``:
    ours with smooth = s_nr / 2 where s_nr = s_dr.
    """

    spec = _spec(
        "jaccard_loss",
        summary="Soft Jaccard loss: one minus the soft intersection over union of the "
        "prediction and the mask, per sample and class.",
        properties=PROPS,
        formula=r"\ell = 1 - \frac{\sum_i p_i y_i + s}"
        r"{\sum_i p_i + \sum_i y_i - \sum_i p_i y_i + s}",
        references=(RAHMAN_2016,),
        aliases=("jaccard", "soft_iou_loss", "iou_segmentation_loss"),
        framework_names={
            "monai": "monai.losses.DiceLoss(jaccard=True)",
            "smp": "segmentation_models_pytorch.losses.JaccardLoss",
        },
        derivative_notes="autodiff only.",
        when_to_use="Segmentation scored by IoU: the soft IoU is its differentiable surrogate.",
        showcase=({"smooth": 1.0}, {"smooth": 0.0}),
    )

    def _from_pieces(self, xp: Any, pieces: dict[str, Any], params: dict[str, Any]) -> Unreduced:
        c = overlap_sums(xp, pieces, params["per_image"])
        err = c["fp"] + c["fn"]
        j = _ratio(xp, err, c["tp"] + err + const(xp, params["smooth"], err))
        return _weighted(xp, j, params["class_weight"], params["mode"] == "binary")


def tversky_per_class(
    xp: Any, pieces: Mapping[str, Any], per_image: bool, smooth: float, alpha: float, beta: float
) -> Any:
    """(a FP + b FN) / (TP + a FP + b FN + s) per sample and class."""
    c = overlap_sums(xp, pieces, per_image)
    err = alpha * c["fp"] + beta * c["fn"]
    return _ratio(xp, err, c["tp"] + err + const(xp, smooth, err))


_ALPHA = Param("alpha", 0.5, "the weight of false positives", low=0.0)
_BETA = Param("beta", 0.5, "the weight of false negatives", low=0.0)


class TverskyLoss(_Overlap):
    r"""Tversky loss (Salehi et al. 2017): alpha weights false positives, beta false negatives
    (the convention of MONAI and segmentation_models_pytorch); alpha = beta = 1/2 is Dice
    with smooth 2 s (the ratio is halved top and bottom), alpha = beta = 1 Jaccard.

    .. math:: \ell = 1 - \frac{TP + s}{TP + \alpha FP + \beta FN + s}
    """

    spec = _spec(
        "tversky_loss",
        summary="Tversky loss: an overlap ratio that weights false positives by alpha and "
        "false negatives by beta.",
        properties=PROPS,
        formula=r"\ell = 1 - \frac{TP + s}{TP + \alpha\,FP + \beta\,FN + s}",
        references=(SALEHI_2017,),
        extra_params=(_ALPHA, _BETA),
        aliases=("tversky",),
        framework_names={
            "monai": "monai.losses.TverskyLoss",
            "smp": "segmentation_models_pytorch.losses.TverskyLoss",
            "keras": "keras.losses.Tversky",
        },
        derivative_notes="autodiff only.",
        when_to_use="Segmentation where missing foreground costs more than spurious "
        "foreground (beta > alpha, e.g. 0.3 / 0.7 for small lesions).",
        showcase=(
            {"alpha": 0.5, "beta": 0.5},
            {"alpha": 0.3, "beta": 0.7},
            {"alpha": 0.7, "beta": 0.3},
        ),
    )

    def _from_pieces(self, xp: Any, pieces: dict[str, Any], params: dict[str, Any]) -> Unreduced:
        t = tversky_per_class(xp, pieces, params["per_image"], params["smooth"],
                              params["alpha"], params["beta"])  # fmt: skip
        return _weighted(xp, t, params["class_weight"], params["mode"] == "binary")


class FocalTverskyLoss(_Overlap):
    r"""Focal Tversky loss (Abraham and Khan 2019): the Tversky loss raised to ``gamma``.

    .. math:: \ell = \left(1 - \frac{TP + s}{TP + \alpha FP + \beta FN + s}\right)^{\gamma}

    The paper writes the exponent as 1/gamma with gamma = 4/3: ``gamma`` here is the exponent
    itself (default 0.75); its alpha weights false negatives, so its (0.7, 0.3) is our
    alpha = 0.3, beta = 0.7 (the defaults). With gamma < 1 the slope at a perfect fit is
    infinite in the probabilities (a perfect fit needs infinite logits, where the slope in
    the logits is 0); the gradient there is taken as 0 (the minimum), by selection. The
    properties (robust, smooth) are those in the logits, along the probe.
    """

    spec = _spec(
        "focal_tversky_loss",
        summary="Focal Tversky loss: the Tversky loss to the power gamma, which focuses on "
        "hard (poorly overlapping) samples and classes.",
        properties=PROPS,
        formula=r"\ell = \left(1 - \frac{TP + s}{TP + \alpha\,FP + \beta\,FN + s}"
        r"\right)^{\gamma}",
        references=(ABRAHAM_2019, SALEHI_2017),
        extra_params=(
            Param("alpha", 0.3, "the weight of false positives", low=0.0),
            Param("beta", 0.7, "the weight of false negatives", low=0.0),
            Param(
                "gamma",
                0.75,
                "the exponent of the Tversky loss (1 gives tversky_loss)",
                low=0.0,
                low_inclusive=False,
            ),
        ),
        aliases=("focal_tversky",),
        framework_names={"smp": "segmentation_models_pytorch.losses.TverskyLoss(gamma=...)"},
        derivative_notes="autodiff only; 0 at a perfect fit for gamma < 1 (the slope of "
        "x^gamma at 0 is infinite).",
        when_to_use="Small structures (lesions) where Dice/Tversky plateau on easy samples: "
        "gamma < 1 boosts the gradient of samples with a large loss relative to the rest.",
        showcase=({"gamma": 0.75}, {"gamma": 1.0}, {"gamma": 2.0}),
    )

    def _from_pieces(self, xp: Any, pieces: dict[str, Any], params: dict[str, Any]) -> Unreduced:
        t = tversky_per_class(xp, pieces, params["per_image"], params["smooth"],
                              params["alpha"], params["beta"])  # fmt: skip
        positive = t > 0
        # t^gamma with a zero (not infinite or NaN) derivative at t = 0: double where
        powered = xp.pow(xp.where(positive, t, const(xp, 1.0, t)), const(xp, params["gamma"], t))
        return _weighted(xp, where0(xp, positive, powered), params["class_weight"],
                         params["mode"] == "binary")  # fmt: skip


class GeneralizedDiceLoss(_Overlap):
    r"""Generalized Dice loss (Sudre et al. 2017): one ratio over the classes, each weighted
    by the inverse square of its target volume.

    .. math:: \ell = 1 - \frac{2 \sum_c w_c TP_c + s}{\sum_c w_c (\sum p_c + \sum y_c) + s},
        \qquad w_c = \frac{\kappa_c}{(\sum y_c)^2}

    (kappa the ``class_weight``, 1 by default). A class absent from the target has an
    infinite weight; as in MONAI it gets the largest finite weight of the sample (of the
    batch with per_image=False), and every weight is 0 where no class is present (the loss
    is then 0, whatever the prediction: nothing defines its scale). The output has no class
    axis: (N,) per sample, () with per_image=False. ``smooth`` defaults to 1e-5 (MONAI's):
    with weights of 1/volume^2 the sums are small and a smooth of 1 would dominate them.
    """

    spec = _spec(
        "generalized_dice_loss",
        per_class=False,
        smooth=1e-5,
        summary="Generalized Dice loss: one Dice ratio over the classes, each weighted by the "
        "inverse square of its volume, for strongly unbalanced classes.",
        properties=PROPS,
        formula=r"\ell = 1 - \frac{2\sum_c w_c \sum_i p_{ic} y_{ic} + s}"
        r"{\sum_c w_c \sum_i (p_{ic} + y_{ic}) + s},\quad w_c = (\textstyle\sum_i y_{ic})^{-2}",
        references=(SUDRE_2017,),
        aliases=("generalised_dice_loss", "gdl"),
        framework_names={"monai": "monai.losses.GeneralizedDiceLoss"},
        derivative_notes="autodiff only (the weights depend on the target only).",
        when_to_use="Multiclass segmentation with classes of very different sizes.",
    )

    def _from_pieces(self, xp: Any, pieces: dict[str, Any], params: dict[str, Any]) -> Unreduced:
        per_image = params["per_image"]
        c = overlap_sums(xp, pieces, per_image)
        volume = _sum(xp, pieces["y"], per_image)
        square = volume * volume
        present = square > 0
        w = const(xp, 1.0, square) / xp.where(present, square, const(xp, 1.0, square))
        finite = present & xp.isfinite(w)
        w = where0(xp, finite, w)
        top = xp.max(w, axis=-1, keepdims=True) if w.shape[-1] else w
        w = xp.where(finite, w, top)
        if params["class_weight"] is not None:
            w = w * params["class_weight"]
        err = c["fp"] + c["fn"]
        num = xp.sum(w * err, axis=-1)
        den = xp.sum(w * (2.0 * c["tp"] + err), axis=-1) + const(xp, params["smooth"], err)
        return Unreduced(_ratio(xp, num, den))


class DiceCELoss(_Overlap):
    r"""Dice + cross entropy (nnU-Net; MONAI's ``DiceCELoss``): ``lambda_dice`` times the
    Dice loss averaged over the classes (weighted by ``class_weight``) plus ``lambda_ce``
    times the mean cross entropy over the pixels that are not ignored.

    The Dice part is ``dice_loss``'s definition (``dice_per_class``); the cross entropy is
    ``cross_entropy``'s kernel in multiclass mode (softmax; class weights and ignored pixels
    as PyTorch's: the mean divides by the summed weights of the true classes) and
    ``binary_cross_entropy_with_logits``'s (``binary_cross_entropy``'s on probabilities) per
    pixel and class otherwise. The output is one value per sample, (N,) (its cross entropy
    the mean over its own pixels), or () over the whole batch with per_image=False, which
    equals MONAI's ``DiceCELoss(batch=True)``.
    """

    spec = _spec(
        "dice_ce_loss",
        per_class=False,
        summary="Dice loss plus cross entropy: the overlap term for small structures and the "
        "pixelwise term for stable gradients, as nnU-Net trains.",
        properties=Properties(convex=False, robust=True, smoothness="Cinf"),
        formula=r"\ell = \lambda_{dice}\,\overline{\ell_{dice}} + "
        r"\lambda_{ce}\,\overline{\ell_{ce}}",
        references=(ISENSEE_2021, MILLETARI_2016),
        extra_params=(
            Param("squared", False, "the Dice part's V-Net form", kind="bool"),
            Param("lambda_dice", 1.0, "the weight of the Dice term", low=0.0),
            Param("lambda_ce", 1.0, "the weight of the cross-entropy term", low=0.0),
        ),
        aliases=("dice_cross_entropy", "dice_ce"),
        # a small foreground (5 of 40 pixels, as segmentation usually has): on the half-covered
        # 20-pixel image a cross entropy weighted 3 (or class weights that dilute the Dice
        # mean over absent classes) outweighs the Dice term's concave part along t, and the
        # sum looks convex there; it is not (the Dice term bends down on any image where the
        # cross entropy's pixels outnumber the target's enough)
        probe=lambda p: overlap_probe(p, per_class=False, pixels=40, target=5),
        framework_names={"monai": "monai.losses.DiceCELoss", "nnunet": "DC_and_CE_loss"},
        variants=(
            # on probabilities the cross entropy's gradient grows like 1/p
            Variant({"from_logits": False}, properties={"robust": False}),
            Variant(
                lambda p: not p.get("from_logits", False) and p.get("mode") != "multiclass",
                properties={"robust": True, "bounded": True},
                note="from_logits=False, binary or multilabel (binary_cross_entropy clamps "
                "each log at -100, as PyTorch does: bounded, with a bounded slope)",
            ),
            Variant({"lambda_ce": 0.0}, properties={"robust": True, "bounded": True}),
            Variant({"lambda_dice": 0.0}, properties={"convex": True}),  # cross entropy alone
        ),
        derivative_notes="autodiff only.",
        when_to_use="The default of nnU-Net for medical segmentation: Dice handles imbalance, "
        "cross entropy gives well-behaved gradients early in training.",
        showcase=({"lambda_ce": 1.0}, {"lambda_ce": 0.0}, {"lambda_dice": 0.0}),
    )

    def _from_pieces(self, xp: Any, pieces: dict[str, Any], params: dict[str, Any]) -> Unreduced:
        per_image, cw = params["per_image"], params["class_weight"]
        dice = dice_per_class(xp, pieces, per_image, params["smooth"], params["squared"])
        if cw is None:
            dice_mean = xp.mean(dice, axis=-1)
        else:
            total = xp.sum(cw)
            dice_mean = _ratio(xp, xp.sum(times_finite(xp, cw, dice), axis=-1),
                               xp.broadcast_to(total, dice.shape[:-1]))  # fmt: skip
        ce_sum, ce_norm = self._cross_entropy(xp, pieces, params)
        ce = _ratio(xp, ce_sum, ce_norm)
        value = params["lambda_dice"] * dice_mean
        if params["lambda_ce"]:  # (a weight of 0 drops the term, even where it is infinite)
            value = value + params["lambda_ce"] * ce
        return Unreduced(value)

    def _cross_entropy(
        self, xp: Any, pieces: dict[str, Any], params: dict[str, Any]
    ) -> tuple[Any, Any]:
        """(the summed cross entropy, what its mean divides by), per sample or over the batch,
        from the library's cross-entropy kernels."""
        from .classification import binary_cross_entropy, binary_cross_entropy_with_logits
        from .multiclass import cross_entropy

        per_image, cw = params["per_image"], params["class_weight"]
        z, target, valid = pieces["pred"], pieces["target"], pieces["valid"]
        axes = (1,) if per_image else (0, 1)
        if params["mode"] == "multiclass":
            u = cross_entropy._unreduced(
                xp, z, target, class_weight=cw, ignore_index=params["ignore_index"],
                label_smoothing=0.0, from_logits=params["from_logits"], softcap=None, z_loss=0.0,
            )  # fmt: skip
            values = u.values
            if u.weight is not None:
                norm = xp.sum(u.weight, axis=axes)
            else:
                norm = xp.sum(xp.ones_like(values), axis=axes)
            return xp.sum(values, axis=axes), norm
        y = pieces["y"]
        if params["from_logits"]:
            bce = binary_cross_entropy_with_logits._value(
                xp, z, y, pos_weight=None, label_smoothing=0.0
            )
        else:
            bce = binary_cross_entropy._value(xp, z, y, eps=None)
        weight = xp.ones_like(bce) if cw is None else xp.broadcast_to(cw, tuple(bce.shape))
        if valid is not None:
            weight = where0(xp, valid, weight)
        values = times_finite(xp, weight, bce)
        axes = (1, 2) if per_image else (0, 1, 2)
        return xp.sum(values, axis=axes), xp.sum(weight, axis=axes)


# ---- the probe -------------------------------------------------------------------------------
PROBE_PIXELS = 20  # a 1-D image: the target covers its first PROBE_TARGET pixels
PROBE_TARGET = 10
PROBE_TS = (-4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0)


def _sigmoid(t: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(t))
    return np.where(t >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _coverage(
    t: np.ndarray, kind: str, pixels: int = PROBE_PIXELS, covered: int = PROBE_TARGET
) -> np.ndarray:
    """The foreground probability of each pixel, (len(t), pixels), for the logit t, the
    target being the first ``covered`` pixels: "soft", probability sigmoid(t) on the target's
    pixels and 0 elsewhere; "shift", a mask of the target's size shifted so that it covers a
    fraction sigmoid(t) of the target (fractional pixels at its edges), held in [0.01, 0.99]
    (a confident mistake costs a cross entropy infinity)."""
    at = np.arange(pixels, dtype=np.float64)[None, :]  # each pixel's left edge
    f = _sigmoid(np.asarray(t, dtype=np.float64))[:, None]
    if kind == "soft":
        return np.where(at < covered, f, 0.0)
    start = covered * (1.0 - f)  # the mask covers [start, start + covered)
    lo = np.maximum(at, start)
    hi = np.minimum(at + 1.0, start + covered)
    return 0.01 + 0.98 * np.clip(hi - lo, 0.0, 1.0)


def _logit(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(x) - np.log1p(-x)


def _probe_arrays(
    t: np.ndarray,
    kind: str,
    params: Mapping[str, Any],
    n_classes: int,
    pixels: int = PROBE_PIXELS,
    covered: int = PROBE_TARGET,
) -> dict:
    """pred and target at the logits t: class 1 is the target's foreground (the first
    ``covered`` pixels), class 0 the background, any further class absent. On logits the soft
    curve's target pixels hold t itself (their logit), the others -inf."""
    mode, logits = params.get("mode", "multiclass"), params.get("from_logits", False)
    # the foreground's class index: 1, or 2 where 1 is the ignore_index
    fg = 2 if params.get("ignore_index") == 1 and mode == "multiclass" else 1
    mask = np.arange(pixels) < covered
    t = np.asarray(t, dtype=np.float64)
    p = _coverage(t, kind, pixels, covered)
    n = p.shape[0]
    soft = np.where(mask[None, :], t[:, None], -np.inf) if kind == "soft" else _logit(p)
    if mode == "binary":
        pred = soft if logits else p
        target = np.broadcast_to(mask.astype(np.float64), p.shape).copy()
    elif mode == "multiclass":  # logits (0, z, -inf, ...): softmax (1 - p, p, 0, ...)
        if logits:
            pred = np.full((n, pixels, n_classes), -np.inf)
            pred[..., 0] = 0.0
            pred[..., fg] = soft
        else:
            pred = np.zeros((n, pixels, n_classes))
            pred[..., 0], pred[..., fg] = 1.0 - p, p
        target = np.broadcast_to(mask.astype(np.int64) * fg, p.shape).copy()
    else:  # a sigmoid per class: the background's logit is the foreground's, negated
        probs = np.zeros((n, pixels, n_classes))
        probs[..., 0], probs[..., 1] = 1.0 - p, p
        pred = _logit(probs) if logits else probs
        if logits:
            pred[..., 0], pred[..., 1] = -soft, soft
        target = np.zeros((n, pixels, n_classes))
        target[..., 0], target[..., 1] = ~mask, mask
    if not params.get("per_image", True):  # each t one batch of one image
        pred, target = pred[:, None], target[:, None]
    return {"pred": pred, "target": target}


def overlap_probe(
    params: Mapping[str, Any],
    *,
    per_class: bool = True,
    pixels: int = PROBE_PIXELS,
    target: int = PROBE_TARGET,
) -> Probe:
    """The overlap along a logit t: a 1-D image of ``pixels`` pixels (20) whose target is
    the first ``target`` (10), with a prediction of probability sigmoid(t) on the target and
    0 elsewhere (the overlap fraction); two classes (background, foreground) unless a class
    weight names more; in binary mode the foreground alone. The loss drawn is
    the mean over the classes. With per_image=False each t is a batch of one image."""
    weight = params.get("class_weight")
    n_classes = 2 if weight is None else max(2, len(weight))
    if params.get("ignore_index") == 1 and params.get("mode", "multiclass") == "multiclass":
        n_classes = max(n_classes, 3)  # the foreground is class 2
    # (a target-sized mask covering a fraction sigmoid(t) of the target, ``_coverage``'s
    # "shift", has kinks where its edge crosses a pixel: it is not drawn)
    curves = (
        Curve("probability sigmoid(t) on the target", "soft",
              lambda t: _probe_arrays(t, "soft", params, n_classes, pixels, target)),
    )  # fmt: skip
    return Probe(
        "overlap fraction", "overlap logit t (fraction sigmoid(t))", "t",
        f"{pixels} pixels, the target the first {target}: probability sigmoid(t) on them and 0 "
        "elsewhere; mean over the classes", "real",
        (-6.0, 6.0), PROBE_TS, curves, "t",
        batch=None if params.get("per_image", True) else 1,
    )  # fmt: skip


dice_loss = register(DiceLoss())
jaccard_loss = register(JaccardLoss())
tversky_loss = register(TverskyLoss())
focal_tversky_loss = register(FocalTverskyLoss())
generalized_dice_loss = register(GeneralizedDiceLoss())
dice_ce_loss = register(DiceCELoss())
