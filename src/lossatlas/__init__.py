"""lossatlas: loss functions defined once for NumPy, PyTorch and JAX.

Every loss takes ``(pred, target)`` in that order, keyword-only hyperparameters, optional
``weight=`` and ``reduction=`` ("mean", "sum", "none", "sum_by_nonzero_weights"), and returns
an array of pred's library, device and dtype. Elementwise losses also expose ``.grad`` and
``.hess``; every loss carries ``.spec`` metadata. ``lossatlas.gbm`` makes every elementwise
loss an XGBoost, LightGBM or CatBoost objective. ``catalog()`` lists them, ``get(name)`` finds
one by name or by its PyTorch / Keras / TensorFlow / PaddlePaddle / optax alias.
"""

from . import gbm
from ._config import config
from ._loss import ElementwiseLoss, Loss
from ._reduce import REDUCTIONS, reduce_loss
from ._registry import catalog, get
from ._spec import LossSpec, Param, Properties
from ._validate import LossInputError
from .classification import (
    balanced_cross_entropy,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    focal_loss,
)
from .margin import exponential_loss, hinge, logistic_loss, squared_hinge, zero_one_loss
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

__version__ = "0.1.0"

__all__ = [
    "REDUCTIONS",
    "ElementwiseLoss",
    "Loss",
    "LossInputError",
    "LossSpec",
    "Param",
    "Properties",
    "balanced_cross_entropy",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "catalog",
    "config",
    "exponential_loss",
    "focal_loss",
    "gaussian_nll",
    "gbm",
    "get",
    "hinge",
    "huber",
    "log_cosh",
    "logistic_loss",
    "mae",
    "mean_bias_error",
    "mse",
    "poisson_nll",
    "pseudo_huber",
    "quantile",
    "reduce_loss",
    "rmse",
    "smooth_l1",
    "squared_hinge",
    "zero_one_loss",
]
