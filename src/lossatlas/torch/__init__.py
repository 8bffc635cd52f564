"""PyTorch ``nn.Module`` adapters for every lossatlas loss.

Each module stores its hyperparameters (checked at construction) and calls the core loss, which
on torch tensors uses torch's native kernel where it computes the same loss and otherwise a
closed-form ``autograd.Function``. ``compile=True`` runs the array-API definition through
``torch.compile`` instead (a few seconds of compilation on the first call, then fused kernels).

    >>> import torch, lossatlas.torch as lt
    >>> criterion = lt.HuberLoss(delta=2.0)
    >>> loss = criterion(torch.randn(8, requires_grad=True), torch.randn(8))
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import array_api_compat.torch as _xp
import torch
from torch import nn

from .. import classification, margin, regression
from .._loss import REQUIRED, Loss
from .._reduce import check_reduction


class LossModule(nn.Module):
    """Base class: ``Module(**hyperparameters, reduction="mean", weight=None, compile=False)``.

    ``forward(pred, target, *arrays, weight=None)``; a ``weight`` given to the constructor (a
    tensor, kept as a buffer so ``.to(device)`` moves it) multiplies any per-call weight.
    Array hyperparameters such as ``pos_weight`` are kept as buffers too.
    """

    loss: ClassVar[Loss]

    def __init__(
        self,
        *,
        reduction: str = "mean",
        weight: torch.Tensor | None = None,
        compile: bool = False,
        **params: Any,
    ) -> None:
        super().__init__()
        check_reduction(self.loss.name, reduction)
        self.loss._bind((), params, partial=True)  # raises early on a bad hyperparameter
        self.reduction = reduction
        self.compile = compile
        self.params: dict[str, Any] = {}
        for name, value in params.items():
            if isinstance(value, torch.Tensor):
                self.register_buffer(name, value)
            else:
                self.params[name] = value
        self.register_buffer("weight", weight)
        self._compiled: Any = None

    def _all_params(self) -> dict[str, Any]:
        tensors = {
            name: buf for name, buf in self._buffers.items() if name != "weight" and buf is not None
        }
        return {**self.params, **tensors}

    def forward(
        self,
        pred: torch.Tensor,
        target: torch.Tensor,
        *arrays: torch.Tensor,
        weight: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if self.weight is not None:
            weight = self.weight if weight is None else weight * self.weight
        params = self._all_params()
        if self.compile:
            return self._compiled_forward(pred, target, arrays, weight, params)
        return self.loss(pred, target, *arrays, weight=weight, reduction=self.reduction, **params)

    def _compiled_forward(self, pred, target, arrays, weight, params):
        loss = self.loss
        bound = loss._bind(arrays, params)
        _, pred, target, bound, out_dtype = loss._prepare(pred, target, bound)
        tensors = {k: v for k, v in bound.items() if isinstance(v, torch.Tensor)}
        scalars = {k: v for k, v in bound.items() if k not in tensors}
        if self._compiled is None:
            reduction = self.reduction

            def run(pred, target, weight, tensors):
                return loss._forward(_xp, pred, target, weight, reduction, {**scalars, **tensors})

            self._compiled = torch.compile(run)
        with warnings.catch_warnings():  # dynamo notes array-api-compat's lru_cache helpers
            warnings.filterwarnings("ignore", message=".*lru_cache", category=UserWarning)
            out = self._compiled(pred, target, weight, tensors)
        return out if out.dtype == out_dtype else out.to(out_dtype)

    def extra_repr(self) -> str:
        items = [f"{k}={v!r}" for k, v in self.params.items()]
        items.append(f"reduction={self.reduction!r}")
        if self.compile:
            items.append("compile=True")
        return ", ".join(items)


def _module(name: str, loss: Loss, torch_equivalent: str = "") -> type[LossModule]:
    spec = loss.spec
    params = ", ".join(
        p.name if p.default is REQUIRED else f"{p.name}={p.default!r}" for p in spec.params
    )
    same = f" Drop-in for ``{torch_equivalent}``." if torch_equivalent else ""
    doc = (
        f"{spec.summary}{same}\n\n    Module form of ``lossatlas.{loss.name}`` (see its docstring "
        f"for the formula and derivatives).\n    Hyperparameters: {params or 'none'}; plus "
        "``reduction``, ``weight``, ``compile``.\n    "
    )
    return type(name, (LossModule,), {"loss": loss, "__doc__": doc, "__module__": __name__})


L1Loss = _module("L1Loss", regression.mae, "torch.nn.L1Loss")
MSELoss = _module("MSELoss", regression.mse, "torch.nn.MSELoss")
RMSELoss = _module("RMSELoss", regression.rmse)
MeanBiasError = _module("MeanBiasError", regression.mean_bias_error)
HuberLoss = _module("HuberLoss", regression.huber, "torch.nn.HuberLoss")
SmoothL1Loss = _module("SmoothL1Loss", regression.smooth_l1, "torch.nn.SmoothL1Loss")
PseudoHuberLoss = _module("PseudoHuberLoss", regression.pseudo_huber)
LogCoshLoss = _module("LogCoshLoss", regression.log_cosh)
QuantileLoss = _module("QuantileLoss", regression.quantile)
PoissonNLLLoss = _module("PoissonNLLLoss", regression.poisson_nll, "torch.nn.PoissonNLLLoss")
GaussianNLLLoss = _module("GaussianNLLLoss", regression.gaussian_nll, "torch.nn.GaussianNLLLoss")
BCELoss = _module("BCELoss", classification.binary_cross_entropy, "torch.nn.BCELoss")
BCEWithLogitsLoss = _module(
    "BCEWithLogitsLoss",
    classification.binary_cross_entropy_with_logits,
    "torch.nn.BCEWithLogitsLoss",
)
BalancedCrossEntropyLoss = _module(
    "BalancedCrossEntropyLoss", classification.balanced_cross_entropy
)
FocalLoss = _module("FocalLoss", classification.focal_loss)
HingeLoss = _module("HingeLoss", margin.hinge)
SquaredHingeLoss = _module("SquaredHingeLoss", margin.squared_hinge)
LogisticLoss = _module("LogisticLoss", margin.logistic_loss, "torch.nn.SoftMarginLoss")
SoftMarginLoss = LogisticLoss
ExponentialLoss = _module("ExponentialLoss", margin.exponential_loss)
ZeroOneLoss = _module("ZeroOneLoss", margin.zero_one_loss)

MODULES: dict[str, type[LossModule]] = {
    cls.loss.name: cls
    for cls in (
        L1Loss,
        MSELoss,
        RMSELoss,
        MeanBiasError,
        HuberLoss,
        SmoothL1Loss,
        PseudoHuberLoss,
        LogCoshLoss,
        QuantileLoss,
        PoissonNLLLoss,
        GaussianNLLLoss,
        BCELoss,
        BCEWithLogitsLoss,
        BalancedCrossEntropyLoss,
        FocalLoss,
        HingeLoss,
        SquaredHingeLoss,
        LogisticLoss,
        ExponentialLoss,
        ZeroOneLoss,
    )
}


def module_for(name: str, **kwargs: Any) -> LossModule:
    """An ``nn.Module`` for any registered loss name or alias: ``module_for("huber", delta=2)``."""
    from .._registry import get

    return MODULES[get(name).name](**kwargs)


__all__ = [
    "MODULES",
    "LossModule",
    "module_for",
    *sorted(c.__name__ for c in MODULES.values()),
    "SoftMarginLoss",
]
