"""lossatlas: loss functions defined once for NumPy, PyTorch and JAX.

Every loss takes its inputs positionally (``(pred, target)`` for elementwise losses and
divergences, ``(logits, target)`` for the multiclass losses, ``(log_probs, targets, input_lengths,
target_lengths)`` for CTC, ``(pred, target)`` boxes of shape (..., 4) for the box losses),
keyword-only hyperparameters,
optional ``weight=`` and ``reduction=`` ("mean", "sum", "none", "sum_by_nonzero_weights"),
and returns an array of the
inputs' library, device and dtype. Losses expose ``.grad`` and ``.hess`` (per element, or per
sample with respect to the logits) and carry ``.spec`` metadata. ``catalog()`` lists them,
``get(name)`` finds one by name or by its PyTorch / Keras / TensorFlow / PaddlePaddle / optax
alias. ``lossatlas.gbm`` (imported on first use) makes every elementwise loss an XGBoost,
LightGBM or CatBoost objective, and every boostable class-axis loss an XGBoost or LightGBM
multiclass one; ``lossatlas.torch`` holds the ``nn.Module`` adapters.
"""

from __future__ import annotations

from typing import Any

from ._config import config
from ._loss import AxisLoss, Call, ElementwiseLoss, Loss
from ._reduce import REDUCTIONS, Unreduced, reduce_loss
from ._registry import UnknownLossError, catalog, families, get
from ._spec import Input, LossSpec, Param, Probe, Properties, Variant
from ._validate import LossInputError
from .boxes import box_convert, box_iou, ciou_loss, diou_loss, giou_loss, iou_loss
from .classification import (
    balanced_cross_entropy,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    focal_loss,
    sparsemax_loss,
)
from .contrastive import clip_loss, info_nce, nt_xent, siglip_loss, supervised_contrastive
from .ctc import ctc_batch_cost, ctc_loss
from .detection import batched_nms, nms
from .deviance import gamma_deviance, poisson_deviance, tweedie_deviance
from .divergences import generalized_kl_divergence, js_divergence, kl_divergence
from .large_margin import angular_margin_softmax, center_loss, large_margin_softmax
from .lovasz import lovasz_hinge, lovasz_softmax
from .margin import exponential_loss, hinge, logistic_loss, squared_hinge, zero_one_loss
from .metric_learning import (
    batch_hard_triplet_loss,
    circle_loss,
    contrastive_loss,
    triplet_margin_loss,
)
from .multiclass import (
    cross_entropy,
    multiclass_hinge,
    multiclass_sparsemax_loss,
    multilabel_soft_margin,
    nll_loss,
    poly1_cross_entropy,
    softmax_focal_loss,
)
from .ranking import (
    cosine_embedding_loss,
    hinge_embedding_loss,
    margin_ranking_loss,
    ranking_softmax_loss,
)
from .regression import (
    gaussian_nll,
    huber,
    log_cosh,
    mae,
    mean_bias_error,
    mse,
    poisson_nll,
    pseudo_huber,
    quantile,
    rmse,
    smooth_l1,
)
from .relative import mape, msle, rmsle, smape
from .robust import (
    cauchy,
    charbonnier,
    fair,
    geman_mcclure,
    general_robust,
    truncated_squared,
    tukey_biweight,
    welsch,
)
from .segmentation import (
    dice_ce_loss,
    dice_loss,
    focal_tversky_loss,
    generalized_dice_loss,
    jaccard_loss,
    tversky_loss,
)

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """``lossatlas.gbm`` on first use: it is not needed to compute a loss."""
    if name == "gbm":
        import importlib

        return importlib.import_module(f"{__name__}.gbm")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "REDUCTIONS",
    "AxisLoss",
    "Call",
    "ElementwiseLoss",
    "Input",
    "Loss",
    "LossInputError",
    "LossSpec",
    "Param",
    "Probe",
    "Properties",
    "UnknownLossError",
    "Unreduced",
    "Variant",
    "angular_margin_softmax",
    "balanced_cross_entropy",
    "batch_hard_triplet_loss",
    "batched_nms",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "box_convert",
    "box_iou",
    "catalog",
    "cauchy",
    "center_loss",
    "charbonnier",
    "ciou_loss",
    "circle_loss",
    "clip_loss",
    "config",
    "contrastive_loss",
    "cosine_embedding_loss",
    "cross_entropy",
    "ctc_batch_cost",
    "ctc_loss",
    "dice_ce_loss",
    "dice_loss",
    "diou_loss",
    "exponential_loss",
    "fair",
    "families",
    "focal_loss",
    "focal_tversky_loss",
    "gamma_deviance",
    "gaussian_nll",
    "gbm",
    "geman_mcclure",
    "general_robust",
    "generalized_dice_loss",
    "generalized_kl_divergence",
    "get",
    "giou_loss",
    "hinge",
    "hinge_embedding_loss",
    "huber",
    "info_nce",
    "iou_loss",
    "jaccard_loss",
    "js_divergence",
    "kl_divergence",
    "large_margin_softmax",
    "log_cosh",
    "logistic_loss",
    "lovasz_hinge",
    "lovasz_softmax",
    "mae",
    "mape",
    "margin_ranking_loss",
    "mean_bias_error",
    "mse",
    "msle",
    "multiclass_hinge",
    "multiclass_sparsemax_loss",
    "multilabel_soft_margin",
    "nll_loss",
    "nms",
    "nt_xent",
    "poisson_deviance",
    "poisson_nll",
    "poly1_cross_entropy",
    "pseudo_huber",
    "quantile",
    "ranking_softmax_loss",
    "reduce_loss",
    "rmse",
    "rmsle",
    "siglip_loss",
    "smape",
    "smooth_l1",
    "softmax_focal_loss",
    "sparsemax_loss",
    "squared_hinge",
    "supervised_contrastive",
    "triplet_margin_loss",
    "truncated_squared",
    "tukey_biweight",
    "tversky_loss",
    "tweedie_deviance",
    "welsch",
    "zero_one_loss",
]
