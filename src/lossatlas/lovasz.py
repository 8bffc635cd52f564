r"""The Lovász losses: convex surrogates of the Jaccard (IoU) loss of a segmentation.

The Jaccard loss of a set of mispredicted pixels M, for a ground-truth foreground F,

    Delta_J(M) = 1 - |F \ M| / |F ∪ M|,

is submodular and nondecreasing, so its Lovász extension, a function of real pixel errors
e in R^P,

    \bar\Delta_J(e) = sum_k e_{pi(k)} g_k,   g_k = Delta_J({pi(1), ..., pi(k)})
                                                  - Delta_J({pi(1), ..., pi(k - 1)}),

pi the order of decreasing errors, is convex, nondecreasing in every error and piecewise
linear, and equals Delta_J on 0/1 error vectors (Lovász 1983; Yu and Blaschko 2015). Berman
et al. (2018) minimise it directly:

- ``lovasz_hinge``: binary, on logits x with signs s = 2y - 1: errors relu(1 - x s);
- ``lovasz_softmax``: multiclass, on class probabilities p (a softmax of logits with
  ``from_logits=True``): for each class c the errors |[y = c] - p_c|, averaged over the
  classes present in the target (``classes="present"``) or over all of them.

The weights g_k come in closed form, not as differences of two nearly equal ratios 1 - I/U
(which lose 2.5% of a typical weight in float32 at 10^6 pixels; the closed form is within
an ulp or two): with I_k = |F| - (foreground pixels among the
first k) and U_k = |F| + (background pixels among the first k),

    g_k = 1 / U_k                        for a foreground pixel,
    g_k = I_k / (U_{k-1} U_k)            for a background pixel (1 if U_{k-1} = 0: F is empty
                                          and it is the first background pixel).

They are >= 0 and sum to Delta_J(all pixels) = 1 over the pixels of an image.

Sorting: one stable descending sort (``argsort(..., descending=True, stable=True)``) on
every backend, so tied errors keep their pixel order everywhere: the value does not depend on
the order of ties (the Lovász extension is well defined), and the gradient at a tie is the
subgradient of that order, the same on NumPy, PyTorch, JAX and array-api-strict.

Ignored pixels (``ignore_index``) are masked, not dropped (no boolean indexing, so it runs
under ``jax.jit`` and ``vmap``): they get the sort key -inf, so they come after every valid
pixel, and weight g = 0, since they change neither I nor U. The first valid pixels then come
in the order a sort of the valid pixels alone gives, with the same I and U, hence the same
weights, and every ignored pixel adds 0: the loss equals the loss of the valid pixels alone.
Their inputs are replaced by 0 before use, so a NaN or an infinity there reaches neither the
value nor a gradient.

Empty cases (the reference implementations' conventions): an image without foreground has
|F| = 0, so its first background pixel gets g = 1 and the loss is its largest error; an image
(or, with ``per_image=False``, a batch) whose pixels are all ignored has loss 0 with a zero
gradient (Berman's returns 0 for the binary case and an empty array for the multiclass one);
``classes="present"`` with no class present (every pixel ignored) gives 0 (the mean of an
empty list in Berman's ``mean``).

References: Berman, M., Rannen Triki, A., Blaschko, M. B. (2018). The Lovász-Softmax loss: a
tractable surrogate for the optimization of the intersection-over-union measure in neural
networks. CVPR, 4413-4421. Yu, J., Blaschko, M. B. (2015). Learning submodular losses with the
Lovász hinge. ICML, 1623-1631.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._loss import Loss
from ._probes import LOGITS, PROBABILITIES
from ._reduce import Unreduced
from ._registry import register
from ._spec import BoostingHessian, Curve, Input, LossSpec, Param, Probe, Properties, Variant
from ._xp import const, device, times_finite
from .multiclass import _SoftmaxParts

__all__ = ["LovaszHinge", "LovaszSoftmax", "jaccard_weights", "lovasz_hinge", "lovasz_softmax"]

#: The domain of lovasz_hinge's target: hard labels 0 or 1, or ignore_index.
HARD_MASK = "hard_mask"

BERMAN_2018 = (
    "Berman, M., Rannen Triki, A., Blaschko, M. B. (2018). The Lovász-Softmax loss: a "
    "tractable surrogate for the optimization of the intersection-over-union measure in "
    "neural networks. CVPR, 4413-4421."
)
YU_BLASCHKO_2015 = (
    "Yu, J., Blaschko, M. B. (2015). Learning submodular losses with the Lovász hinge. "
    "ICML, 1623-1631."
)
LOVASZ_1983 = (
    "Lovász, L. (1983). Submodular functions and convexity. Mathematical Programming: The "
    "State of the Art, 235-257."
)


# ---- the Lovász extension of the Jaccard loss -------------------------------------------------
def jaccard_weights(xp: Any, fg: Any, valid: Any, like: Any) -> Any:
    """The weights g_k of the Lovász extension of the Jaccard loss, for pixels in the order of
    decreasing error: ``fg`` (foreground) and ``valid`` (not ignored) are boolean (..., P) in
    that order; returns (..., P) in ``like``'s dtype. Counts are cumulated as integers (exact
    at any size), and each weight is one ratio (see the module docstring)."""
    fg = fg & valid
    bg = valid & ~fg
    n_fg = xp.astype(fg, xp.int32)
    n_bg = xp.astype(bg, xp.int32)
    gts = xp.astype(xp.sum(n_fg, axis=-1, keepdims=True), like.dtype)
    seen_fg = xp.astype(xp.cumulative_sum(n_fg, axis=-1), like.dtype)
    seen_bg = xp.astype(xp.cumulative_sum(n_bg, axis=-1), like.dtype)
    one = const(xp, 1.0, like)
    zero = const(xp, 0.0, like)
    inter = gts - seen_fg  # I_k
    union = gts + seen_bg  # U_k
    before = union - xp.astype(bg, like.dtype)  # U_{k-1}
    # a foreground pixel has U_k >= |F| >= 1; U_{k-1} = 0 only where F is empty
    w_fg = one / xp.where(fg, union, one)
    opened = before > 0
    w_bg = xp.where(opened, inter / xp.where(opened, before * union, one), one)
    return xp.where(fg, w_fg, xp.where(bg, w_bg, zero))


def _sorted_by(xp: Any, key: Any, *arrays: Any) -> tuple[Any, ...]:
    """``arrays`` (each of ``key``'s shape) in the order of decreasing ``key`` along the last
    axis: one stable sort, so ties keep their order on every backend."""
    order = xp.argsort(key, axis=-1, descending=True, stable=True)
    return tuple(xp.take_along_axis(a, order, axis=-1) for a in arrays)


def _relu(xp: Any, e: Any) -> Any:
    """max(e, 0) with derivative 0 at e = 0 (PyTorch's relu) and NaN kept NaN."""
    return xp.where(e <= 0, const(xp, 0.0, e), e)


def lovasz_hinge_rows(xp: Any, logits: Any, target: Any, valid: Any) -> Any:
    """The Lovász hinge of each row of (R, P) ``logits`` against hard 0/1 ``target`` (any real
    dtype; only ``target == 1`` is read as foreground) where ``valid`` (bool (R, P)): (R,)."""
    neg_inf = const(xp, -math.inf, logits)
    x = xp.where(valid, logits, const(xp, 0.0, logits))
    fg = valid & (target == const(xp, 1.0, target))
    one = const(xp, 1.0, x)
    errors = one - xp.where(fg, x, -x)  # 1 - x s
    key = xp.where(valid, errors, neg_inf)
    e_sorted, fg_sorted, valid_sorted = _sorted_by(xp, key, errors, fg, valid)
    g = jaccard_weights(xp, fg_sorted, valid_sorted, e_sorted)
    # a weight of 0 (a background pixel once every foreground one is counted) times an
    # infinite error is 0: that pixel adds nothing to the extension
    return xp.sum(times_finite(xp, g, _relu(xp, e_sorted)), axis=-1)


def lovasz_softmax_rows(
    xp: Any, probas: Any, labels: Any, valid: Any, *, present_only: bool, one_minus: Any = None
) -> Any:
    """The Lovász-Softmax of each row of (R, P, C) ``probas`` against (R, P) integer
    ``labels`` where ``valid`` (bool (R, P)): (R,). ``one_minus`` (optional, (R, P, C)) holds
    1 - probas computed without cancellation (from the logits)."""
    n_classes = probas.shape[-1]
    classes = xp.arange(n_classes, device=device(labels), dtype=labels.dtype)
    zero = const(xp, 0.0, probas)
    # classes first: (R, C, P), each class's pixels sorted along the last axis
    p = xp.permute_dims(probas, (0, 2, 1))
    q = xp.permute_dims(one_minus, (0, 2, 1)) if one_minus is not None else None
    live = valid[:, None, :]
    fg = live & (labels[:, None, :] == classes[None, :, None])
    p = xp.where(live, p, zero)
    if q is None:
        q = const(xp, 1.0, p) - p
    errors = xp.where(fg, xp.where(live, q, zero), p)  # |[y = c] - p_c|, in [0, 1]
    key = xp.where(live, errors, const(xp, -math.inf, errors))
    e_sorted, fg_sorted, valid_sorted = _sorted_by(
        xp, key, errors, fg, xp.broadcast_to(live, fg.shape)
    )
    g = jaccard_weights(xp, fg_sorted, valid_sorted, e_sorted)
    per_class = xp.sum(e_sorted * g, axis=-1)  # (R, C)
    if not present_only:
        return xp.mean(per_class, axis=-1)
    present = xp.astype(xp.any(fg, axis=-1), per_class.dtype)
    count = xp.sum(present, axis=-1)
    total = xp.sum(per_class * present, axis=-1)
    return total / xp.where(count > 0, count, const(xp, 1.0, count))


# ---- the losses -------------------------------------------------------------------------------
def _valid(xp: Any, target: Any, ignore_index: int | None) -> Any:
    """Where ``target`` is not ``ignore_index`` (every pixel without one)."""
    if ignore_index is None:
        return xp.ones(target.shape, dtype=xp.bool, device=device(target))
    return target != xp.asarray(ignore_index, dtype=target.dtype, device=device(target))


def _rows(xp: Any, x: Any, per_image: bool, trailing: int = 0) -> Any:
    """(N, *s[, C]) as (N, P[, C]) per image, or (1, N P[, C]) over the whole batch."""
    shape = tuple(x.shape)
    tail = shape[len(shape) - trailing :] if trailing else ()
    pixels = shape[: len(shape) - trailing]
    n = pixels[0] if pixels else 1
    rows = n if per_image else 1
    per_row = math.prod(pixels[1:]) if per_image else math.prod(pixels)
    return xp.reshape(x, (rows, per_row, *tail))


class LovaszHinge(Loss):
    r"""``lovasz_hinge(logits, target, *, per_image=True, ignore_index=None, weight=None,
    reduction="mean")``: the binary Lovász hinge of Berman et al. (2018).

    .. math:: \ell(x, y) = \sum_{k=1}^{P} \max(0, e_{\pi(k)})\, g_k(\pi, y),\qquad
              e_i = 1 - x_i (2 y_i - 1)

    with pi the order of decreasing errors and g the weights of the Lovász extension of the
    Jaccard loss (module docstring). ``logits`` (N, *s) are raw scores (the input is a logit by
    definition, no ``from_logits``); ``target`` (N, *s) hard labels 0 or 1 (bool, integer or
    float; soft labels are refused: the extension is of a 0/1 ground truth), or
    ``ignore_index``. ``per_image=True``: one loss per image, (N,), so that ``"mean"`` is
    Berman's mean over images; ``per_image=False``: one loss over all pixels of the batch, ().
    An image whose pixels are all ignored has loss 0 and counts in the mean (as in Berman's
    and segmentation_models_pytorch's code).

    Convex in the logits for a fixed target (a nondecreasing convex function of convex
    errors), piecewise linear, gradient -s_i g_{k(i)} [e_i > 0] (at most 1 in size).
    """

    spec = LossSpec(
        name="lovasz_hinge",
        family="segmentation",
        summary="Lovász hinge: the convex Lovász extension of the Jaccard (IoU) loss, on hinge "
        "errors of logits (binary segmentation).",
        properties=Properties(convex=True, robust=True, smoothness="C0"),
        formula=r"\ell(x, y) = \sum_{k=1}^{P} \max\!\big(0, e_{\pi(k)}\big)\, "
        r"\big(\Delta_J(S_k) - \Delta_J(S_{k-1})\big),\quad e_i = 1 - x_i (2 y_i - 1),\quad "
        r"S_k = \{\pi(1), \dots, \pi(k)\},\quad \Delta_J(M) = 1 - "
        r"\frac{|F \setminus M|}{|F \cup M|}",
        references=(BERMAN_2018, YU_BLASCHKO_2015, LOVASZ_1983),
        inputs=(
            Input("logits", "N *s", "logit", doc="one logit per pixel, (N, *spatial)"),
            Input(
                "target",
                "N *s",
                HARD_MASK,
                differentiable=False,
                doc="hard labels 0 or 1 per pixel (or ignore_index), (N, *spatial)",
            ),
        ),
        output="N",
        elementwise=False,
        params=(
            Param(
                "per_image",
                True,
                "one loss per image (N,); False: one loss over the pixels of the whole batch",
                kind="bool",
            ),
            Param(
                "ignore_index",
                None,
                "a target value whose pixels are left out",
                kind="int",
                allow_none=True,
            ),
        ),
        aliases=("lovasz_hinge_loss", "binary_lovasz_loss"),
        framework_names={
            "smp": "segmentation_models_pytorch.losses.LovaszLoss (mode='binary')",
            "berman": "lovasz_losses.lovasz_hinge (github.com/bermanmaxim/LovaszSoftmax)",
            "pytorch_toolbelt": "pytorch_toolbelt.losses.BinaryLovaszLoss",
        },
        derivative_notes="autodiff only: d loss / d x_i = -(2 y_i - 1) g_{k(i)} where "
        "e_i > 0 (0 where e_i <= 0, as PyTorch's relu), k(i) the rank of pixel i in the "
        "stable descending sort of the errors; piecewise linear, so the Hessian is 0 almost "
        "everywhere.",
        when_to_use="Binary segmentation judged by IoU. Its authors' FAQ suggests training "
        "with cross entropy first and fine-tuning with it, or combining the two. "
        "per_image=True optimises the mean per-image IoU, False the IoU of the whole batch.",
        boosting=BoostingHessian(
            "none",
            reason="a loss of a whole image: the weight of each pixel depends on the sort of "
            "every error, and the Hessian is 0 almost everywhere",
        ),
        variants=(Variant({"per_image": False}, output=""),),
        kinks=lambda p: _hinge_probe_kinks(),  # defined below
        probe=lambda p: _hinge_probe(p),
    )

    def definition(self, call: Any) -> Unreduced:
        params = {k: call.params[k] for k in ("per_image", "ignore_index")}
        return Unreduced(_hinge_values(call.xp, *call.arrays(), **params))


class LovaszSoftmax(Loss):
    r"""``lovasz_softmax(probas, target, *, classes="present", per_image=False,
    ignore_index=None, from_logits=False, axis=-1, weight=None, reduction="mean")``: the
    multiclass Lovász-Softmax loss of Berman et al. (2018).

    .. math:: \ell(p, y) = \frac{1}{|K|} \sum_{c \in K} \sum_{k=1}^{P}
              e^c_{\pi_c(k)}\, g_k(\pi_c, [y = c]),\qquad e^c_i = |[y_i = c] - p_{i,c}|

    ``probas`` (N, *s, C) class probabilities along ``axis`` (the torch module takes dim=1);
    with ``from_logits=True`` logits, turned into probabilities by a softmax along it (1 - p of
    the largest class without cancellation). ``target`` (N, *s) integer class indices, or
    ``ignore_index``. ``classes="present"`` averages over the classes K present in the target
    (of the image, or of the batch with ``per_image=False``); "all" over every class (an
    absent class then costs its largest probability). ``per_image=False`` (Berman's default):
    one loss over the whole batch, (); True: one per image, (N,). No class present (every
    pixel ignored) gives 0 with a zero gradient, as Berman's mean of an empty list.

    Convex in the probabilities for a fixed target (the errors are affine in p); not convex
    in the logits. Bounded: every error lies in [0, 1], so the loss does too.
    """

    spec = LossSpec(
        name="lovasz_softmax",
        family="segmentation",
        summary="Lovász-Softmax: the convex Lovász extension of the Jaccard (IoU) loss of each "
        "class, on class probabilities (multiclass segmentation).",
        properties=Properties(convex=True, robust=True, smoothness="C0", bounded=True),
        formula=r"\ell(p, y) = \frac{1}{|K|} \sum_{c \in K} \sum_{k=1}^{P} "
        r"e^c_{\pi_c(k)} \big(\Delta_J^c(S^c_k) - \Delta_J^c(S^c_{k-1})\big),\quad "
        r"e^c_i = \big|[y_i = c] - p_{i,c}\big|",
        references=(BERMAN_2018, YU_BLASCHKO_2015, LOVASZ_1983),
        inputs=(
            Input(
                "probas",
                "N *s C",
                "simplex",
                class_axis=True,
                doc="class probabilities per pixel (logits with from_logits=True), "
                "(N, *spatial, C) with the classes along axis",
            ),
            Input(
                "target",
                "N *s",
                "class_index",
                dtype="index",
                differentiable=False,
                doc="class indices per pixel (or ignore_index), (N, *spatial)",
            ),
        ),
        output="",
        elementwise=False,
        params=(
            Param(
                "classes",
                "present",
                "average over the classes present in the target, or over all",
                kind="choice",
                choices=("present", "all"),
            ),
            Param(
                "per_image",
                False,
                "one loss per image (N,); False: one loss over the pixels of the whole batch",
                kind="bool",
            ),
            Param(
                "ignore_index",
                None,
                "a target index whose pixels are left out",
                kind="int",
                allow_none=True,
            ),
            Param(
                "from_logits",
                False,
                "probas hold logits (a softmax is applied along axis) or probabilities",
                kind="bool",
            ),
            Param("axis", -1, "the class axis of probas", kind="axis"),
        ),
        aliases=("lovasz_softmax_loss",),
        framework_names={
            "smp": "segmentation_models_pytorch.losses.LovaszLoss (mode='multiclass', on logits)",
            "berman": "lovasz_losses.lovasz_softmax (github.com/bermanmaxim/LovaszSoftmax)",
            "pytorch_toolbelt": "pytorch_toolbelt.losses.LovaszLoss",
        },
        derivative_notes="autodiff only: with respect to p_{i,c}, -g or +g (the weight of "
        "pixel i in class c's sorted errors, divided by |K|) for a pixel of class c or not; "
        "the errors are written 1 - p and p, so the derivative is the same at an error of 0 "
        "(the abs of the reference gives 0 there); piecewise linear in p.",
        when_to_use="Multiclass semantic segmentation judged by mean IoU (Pascal VOC, "
        "Cityscapes), on its own, after cross entropy (fine-tuning) or beside it, as its "
        "authors' FAQ suggests; per_image=False (the default) optimises the IoU of the "
        "batch, a stand-in for the dataset's.",
        boosting=BoostingHessian(
            "none",
            reason="a loss of a whole image: the weight of each pixel depends on the sort of "
            "every error, and the Hessian is 0 almost everywhere",
        ),
        variants=(
            Variant({"per_image": True}, output="N"),
            Variant(
                {"from_logits": True},
                domains={"probas": "logit"},
                properties={"convex": False},
            ),
        ),
        kinks=lambda p: _softmax_probe_kinks(p),  # defined below
        probe=lambda p: _softmax_probe(p),
    )

    def definition(self, call: Any) -> Unreduced:
        names = ("per_image", "ignore_index", "from_logits", "classes")
        params = {k: call.params[k] for k in names}
        return Unreduced(_softmax_values(call.xp, *call.arrays(), **params))


def _hinge_values(xp: Any, logits: Any, target: Any, *, per_image: bool, ignore_index: Any) -> Any:
    """lovasz_hinge's unreduced values, (N,) or ()."""
    valid = _valid(xp, target, ignore_index)
    rows = lovasz_hinge_rows(
        xp, _rows(xp, logits, per_image), _rows(xp, target, per_image),
        _rows(xp, valid, per_image),
    )  # fmt: skip
    return rows if per_image else xp.reshape(rows, ())


def _softmax_values(
    xp: Any, probas: Any, target: Any, *, per_image: bool, ignore_index: Any, from_logits: bool,
    classes: str,
) -> Any:  # fmt: skip
    """lovasz_softmax's unreduced values, (N,) or (), classes last."""
    valid = _valid(xp, target, ignore_index)
    one_minus = None
    if from_logits:
        # a NaN or an infinity on an ignored pixel must not reach the softmax
        z = xp.where(valid[..., None], probas, const(xp, 0.0, probas))
        parts = _SoftmaxParts(xp, z)
        probas = parts.probs(xp)
        one_minus = _rows(xp, parts.one_minus_probs(xp, probas), per_image, trailing=1)
    rows = lovasz_softmax_rows(
        xp,
        _rows(xp, probas, per_image, trailing=1),
        _rows(xp, target, per_image),
        _rows(xp, valid, per_image),
        present_only=classes == "present",
        one_minus=one_minus,
    )
    return rows if per_image else xp.reshape(rows, ())


# ---- probes -------------------------------------------------------------------------------------
#: The hinge probe's 4x4 image: a 2x2 block (the pixels that move) in a background of 12, two
#: of them false positives at logits 0 and -0.5 (errors 1 and 0.5), the rest at -2 (error -1).
HINGE_BLOCK = np.zeros((4, 4), dtype=bool)
HINGE_BLOCK[1:3, 1:3] = True
HINGE_FIXED = np.full((4, 4), -2.0)
HINGE_FIXED[0, 3], HINGE_FIXED[3, 0] = 0.0, -0.5
HINGE_TS = (-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0)


def _hinge_probe_kinks() -> tuple[float, ...]:
    """Where the probe's sort changes (the block's error 1 - t meets a fixed positive error)
    and where its hinge opens (t = 1)."""
    fixed = 1.0 + HINGE_FIXED[~HINGE_BLOCK]
    return (*sorted({float(1.0 - e) for e in fixed if e > 0}), 1.0)


def _batch_of_one(arrays: dict[str, np.ndarray], params: Mapping[str, Any], default: bool):
    """Each t as a batch of one image where the loss is over the whole batch."""
    if params.get("per_image", default):
        return arrays
    return {k: v[:, None] for k, v in arrays.items()}


def _hinge_probe(params: Mapping[str, Any]) -> Probe:
    """The margin t = x (2y - 1) of the 2x2 block of a 4x4 image, its foreground (label 0
    with ``ignore_index=1``, so that something moves), against fixed background logits."""
    block_label = 0.0 if params.get("ignore_index") == 1 else 1.0
    sign = 2.0 * block_label - 1.0

    def make(t: np.ndarray) -> dict[str, np.ndarray]:
        t = np.asarray(t, dtype=np.float64)
        logits = np.where(HINGE_BLOCK, sign * t[:, None, None], HINGE_FIXED[None])
        target = np.broadcast_to(np.where(HINGE_BLOCK, block_label, 0.0), logits.shape)
        return _batch_of_one({"logits": logits, "target": target.copy()}, params, True)

    label = "foreground" if block_label else "background (foreground ignored)"
    curve = Curve(f"2x2 {label} block, 2 false positives", "block", make)
    return Probe(
        "margin", "margin t = x (2y - 1) of the block's pixels", "t (margin)",
        "a 4x4 image: the 2x2 block at margin t; background logits -2, two false positives "
        "at 0 and -0.5", "real", (-3.0, 3.0), HINGE_TS, (curve,), "logit",
        batch=None if params.get("per_image", True) else 1,
    )  # fmt: skip


#: The softmax probe's 4x4 label map (class 1: the 2x2 block that moves; class 2: two pixels)
#: and the fixed class probabilities of the other pixels (two of class 0 confused with 1,
#: one of class 2 confused with 1).
SOFTMAX_LABELS = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 2], [0, 0, 0, 2]])
SOFTMAX_FIXED = np.tile(np.array([0.9, 0.05, 0.05]), (4, 4, 1))
SOFTMAX_FIXED[0, 2], SOFTMAX_FIXED[1, 2] = (0.4, 0.5, 0.1), (0.6, 0.3, 0.1)
SOFTMAX_FIXED[2, 3], SOFTMAX_FIXED[3, 3] = (0.1, 0.2, 0.7), (0.2, 0.4, 0.4)
SOFTMAX_MOVING = SOFTMAX_LABELS == 1


def _softmax_moving_errors(t: float, from_logits: bool) -> tuple[float, float]:
    """(the moving pixels' error in their own class, in each other class) at t."""
    if from_logits:  # logits (0, t, 0)
        return 2.0 / (math.exp(t) + 2.0), 1.0 / (math.exp(t) + 2.0)
    return 1.0 - t, (1.0 - t) / 2.0


def _softmax_probe_kinks(params: Mapping[str, Any]) -> tuple[float, ...]:
    """Where a moving pixel's error meets a fixed pixel's error of the same class: 1 - t = c
    (own class) and (1 - t) / 2 = c (the others) on probabilities; 2 / (e^t + 2) = c and
    1 / (e^t + 2) = c on logits. A superset of the kinks (some crossings do not bend)."""
    logits = bool(params.get("from_logits", False))
    fixed = SOFTMAX_FIXED[~SOFTMAX_MOVING]
    labels = SOFTMAX_LABELS[~SOFTMAX_MOVING]
    out = set()
    for c in range(3):
        errors = np.where(labels == c, 1.0 - fixed[:, c], fixed[:, c])
        scale = 2.0 if c == 1 else 1.0  # own class: 2 / (e^t + 2), else 1 / (e^t + 2)
        for e in errors:
            if logits:
                if 0.0 < e < scale / 2.0:
                    out.add(math.log(scale / e - 2.0))
            else:
                t = 1.0 - e if c == 1 else 1.0 - 2.0 * e
                if 0.0 < t < 1.0:
                    out.add(t)
    return tuple(sorted({round(k, 12) for k in out}))


def _softmax_probe(params: Mapping[str, Any]) -> Probe:
    """The true-class probability t (or logit margin, with ``from_logits``) of the 2x2 block
    of class 1 in a 4x4 image of three classes; classes 1 and 2 swap with ``ignore_index=1``
    (so that the block is never ignored)."""
    logits = bool(params.get("from_logits", False))
    order = [0, 2, 1] if params.get("ignore_index") == 1 else [0, 1, 2]
    labels = np.asarray(order)[SOFTMAX_LABELS]

    def make(t: np.ndarray) -> dict[str, np.ndarray]:
        t = np.asarray(t, dtype=np.float64)
        n = len(t)
        if logits:
            moving = np.zeros((n, 3))
            moving[:, 1] = t
            with np.errstate(divide="ignore"):
                fixed = np.log(SOFTMAX_FIXED)
        else:
            moving = np.stack([(1.0 - t) / 2.0, t, (1.0 - t) / 2.0], axis=-1)
            fixed = SOFTMAX_FIXED
        scores = np.where(SOFTMAX_MOVING[None, :, :, None], moving[:, None, None, :], fixed)
        scores = scores[..., np.argsort(order)]  # class k of the canonical map is order[k]
        target = np.broadcast_to(labels, (n, 4, 4)).copy()
        return _batch_of_one({"probas": scores, "target": target}, params, False)

    curve = Curve("2x2 block of class 1, 3 classes", "block", make)
    batch = 1 if not params.get("per_image", False) else None
    caption = (
        "a 4x4 image of 3 classes: the 2x2 block of class 1 at "
        + ("logits (0, t, 0)" if logits else "probabilities ((1-t)/2, t, (1-t)/2)")
        + "; the other pixels fixed, three of them confused"
    )
    if logits:
        return Probe(
            "true-class margin", "true-class logit margin t of the block", "t (margin)",
            caption, "real", (-6.0, 6.0), LOGITS, (curve,), "z_y", batch=batch,
        )  # fmt: skip
    return Probe(
        "true-class probability", "true-class probability t of the block", "t",
        caption, "probability", (0.0, 1.0), PROBABILITIES, (curve,), "p_y", batch=batch,
    )  # fmt: skip


lovasz_hinge = register(LovaszHinge())
lovasz_softmax = register(LovaszSoftmax())
