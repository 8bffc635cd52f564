"""PyTorch ``nn.Module`` adapters for every lossatlas loss.

Each module stores its hyperparameters (checked at construction with ``loss.bind``) and calls
the core loss, which on torch tensors picks the registered fast path (a native kernel, or an
``autograd.Function``) or the definition. Array hyperparameters declared ``learnable`` in the
spec become ``nn.Parameter``s; the others are buffers, so ``.to(device)`` moves them.
``compile=True`` runs the array-API definition through ``torch.compile`` instead (a few
seconds of compilation on the first call, then fused kernels).

    >>> import torch, lossatlas.torch as lt
    >>> criterion = lt.HuberLoss(delta=2.0)
    >>> loss = criterion(torch.randn(8, requires_grad=True), torch.randn(8))
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import torch
from torch import nn

from .._loss import REQUIRED, Loss
from .._reduce import check_reduction
from .._registry import get


class LossModule(nn.Module):
    """Base class: ``Module(**hyperparameters, reduction="mean", weight=None, compile=False)``.

    ``forward(*inputs, weight=None)``; a ``weight`` given to the constructor (a tensor, kept as
    a buffer so ``.to(device)`` moves it) multiplies any per-call weight. Array
    hyperparameters (``pos_weight``) are buffers, or parameters where the spec declares them
    learnable. A loss over a class axis takes ``dim`` (default 1, torch's convention, so
    (N, C, H, W) inputs work) in place of the core's ``axis``; a 1-D input is one unbatched
    sample.
    """

    loss: ClassVar[Loss]

    def __init__(
        self,
        *,
        reduction: str = "mean",
        weight: torch.Tensor | None = None,
        compile: bool = False,
        dim: int | None = None,
        **params: Any,
    ) -> None:
        super().__init__()
        check_reduction(self.loss.name, reduction)
        axis = next((p.name for p in self.loss.spec.params if p.kind == "axis"), None)
        if dim is not None and axis is None:
            raise TypeError(f"{type(self).__name__}() has no class axis: dim is not a parameter")
        if axis is not None and axis in params:
            raise TypeError(f"{type(self).__name__}() takes dim (torch's name), not {axis}")
        self._axis_param = axis
        self.dim = None if axis is None else (1 if dim is None else dim)
        self.loss.bind(partial=True, **params)  # raises early on a bad hyperparameter
        self.reduction = reduction
        self.compile = compile
        self.params: dict[str, Any] = {}
        self._arrays: list[str] = []
        for name, value in params.items():
            if isinstance(value, torch.Tensor):
                if self.loss.spec.param(name).learnable:
                    value = value if isinstance(value, nn.Parameter) else nn.Parameter(value)
                    self.register_parameter(name, value)
                else:
                    self.register_buffer(name, value)
                self._arrays.append(name)
            else:
                self.params[name] = value
        self.register_buffer("weight", weight)
        self._compiled: Any = None

    def _all_params(self) -> dict[str, Any]:
        return {**self.params, **{name: getattr(self, name) for name in self._arrays}}

    def _with_axis(self, params: dict[str, Any], first: torch.Tensor) -> dict[str, Any]:
        if self._axis_param is not None and self.dim is not None:
            params[self._axis_param] = self.dim if first.ndim >= 2 else 0
        return params

    def forward(self, *inputs: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        if self.weight is not None:
            weight = self.weight if weight is None else weight * self.weight
        params = self._with_axis(self._all_params(), inputs[0])
        if self.compile:
            return self._compiled_forward(inputs, weight, params)
        return self.loss(*inputs, weight=weight, reduction=self.reduction, **params)

    def _compiled_forward(self, inputs, weight, params):
        loss = self.loss
        call = loss.validate(*inputs, weight=weight, **params)
        if self._compiled is None:
            reduction = self.reduction

            def run(call):
                return loss.reduce(call, loss.definition(call), reduction)

            self._compiled = torch.compile(run)
        with warnings.catch_warnings():  # dynamo notes array-api-compat's lru_cache helpers
            warnings.filterwarnings("ignore", message=".*lru_cache", category=UserWarning)
            out = self._compiled(call)
        return out if out.dtype == call.out_dtype else out.to(call.out_dtype)

    def extra_repr(self) -> str:
        items = [f"{k}={v!r}" for k, v in self.params.items()]
        if self.dim is not None:
            items.append(f"dim={self.dim}")
        items.append(f"reduction={self.reduction!r}")
        if self.compile:
            items.append("compile=True")
        return ", ".join(items)


def _class_weight(weight: torch.Tensor | None) -> dict[str, Any]:
    """torch's per-class ``weight`` as the core's ``class_weight`` keyword (none if None)."""
    return {} if weight is None else {"class_weight": weight}


def _doc(loss: Loss, torch_equivalent: str) -> str:
    spec = loss.spec
    params = ", ".join(
        p.name if p.default is REQUIRED else f"{p.name}={p.default!r}" for p in spec.params
    )
    same = f" Drop-in for ``{torch_equivalent}``." if torch_equivalent else ""
    return (
        f"{spec.summary}{same}\n\n    Module form of ``lossatlas.{loss.name}`` (see its docstring "
        f"for the formula and derivatives).\n    Hyperparameters: {params or 'none'}; plus "
        "``reduction``, ``weight``, ``compile``.\n    "
    )


def module_class(name: str, loss: Loss, torch_equivalent: str = "") -> type[LossModule]:
    """A ``LossModule`` subclass for ``loss`` (every registered loss has one in ``MODULES``)."""
    return type(
        name, (LossModule,), {"loss": loss, "__doc__": _doc(loss, torch_equivalent),
                              "__module__": __name__}
    )  # fmt: skip


class CrossEntropyLoss(LossModule):
    """Softmax cross entropy with torch's argument names: a drop-in for
    ``torch.nn.CrossEntropyLoss``.

    ``CrossEntropyLoss(weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0,
    dim=1, from_logits=True, compile=False)``: ``weight`` is the per-class weight (torch's
    name; ``class_weight`` in ``lossatlas.cross_entropy``), ``dim`` the class axis (1, as in
    torch, so (N, C, H, W) logits work; a 1-D input is one unbatched sample). ``forward(input,
    target, weight=None)`` takes class indices or class probabilities, and an optional
    per-sample ``weight``. Computed by ``lossatlas.cross_entropy``: on torch a Function exact to
    a few ulps where the loss is tiny (torch's native kernel gives 0 instead of 4e-9 for a
    confident right answer), with the same values and gradients as
    ``torch.nn.functional.cross_entropy`` elsewhere, and without its saved log-softmax.
    """

    loss = get("cross_entropy")

    def __init__(
        self,
        weight: torch.Tensor | None = None,
        ignore_index: int | None = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
        *,
        dim: int = 1,
        from_logits: bool = True,
        compile: bool = False,
    ) -> None:
        super().__init__(
            reduction=reduction,
            compile=compile,
            ignore_index=ignore_index,
            label_smoothing=label_smoothing,
            from_logits=from_logits,
            dim=dim,
            **_class_weight(weight),
        )

    def forward(
        self,
        input: torch.Tensor,
        target: torch.Tensor,
        weight: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return super().forward(input, target, weight=weight)


class NLLLoss(LossModule):
    """Negative log-likelihood with torch's argument names: a drop-in for ``torch.nn.NLLLoss``.

    ``NLLLoss(weight=None, ignore_index=-100, reduction="mean", *, dim=1, compile=False)``:
    ``weight`` is the per-class weight (``class_weight`` in ``lossatlas.nll_loss``), ``dim``
    the class axis. ``forward(input, target, weight=None)`` takes log-probabilities and class
    indices, and an optional per-sample ``weight``.
    """

    loss = get("nll_loss")

    def __init__(
        self,
        weight: torch.Tensor | None = None,
        ignore_index: int | None = -100,
        reduction: str = "mean",
        *,
        dim: int = 1,
        compile: bool = False,
    ) -> None:
        super().__init__(
            reduction=reduction,
            compile=compile,
            ignore_index=ignore_index,
            dim=dim,
            **_class_weight(weight),
        )


class MultiMarginLoss(LossModule):
    """The Weston-Watkins multiclass hinge with torch's argument names: a drop-in for
    ``torch.nn.MultiMarginLoss``.

    ``MultiMarginLoss(p=1, margin=1.0, weight=None, reduction="mean", *, dim=1,
    compile=False)``: ``weight`` is the per-class weight, which scales the values and not the
    mean's denominator, as in torch. Computed by ``lossatlas.multiclass_hinge``.
    """

    loss = get("multiclass_hinge")

    def __init__(
        self,
        p: int = 1,
        margin: float = 1.0,
        weight: torch.Tensor | None = None,
        reduction: str = "mean",
        *,
        dim: int = 1,
        compile: bool = False,
    ) -> None:
        super().__init__(
            reduction=reduction,
            compile=compile,
            p=p,
            margin=margin,
            variant="weston_watkins",
            dim=dim,
            **_class_weight(weight),
        )


class MultiLabelSoftMarginLoss(LossModule):
    """Multi-label soft margin with torch's argument names: a drop-in for
    ``torch.nn.MultiLabelSoftMarginLoss``; ``weight`` is the per-class weight."""

    loss = get("multilabel_soft_margin")

    def __init__(
        self,
        weight: torch.Tensor | None = None,
        reduction: str = "mean",
        *,
        dim: int = 1,
        compile: bool = False,
    ) -> None:
        super().__init__(
            reduction=reduction,
            compile=compile,
            dim=dim,
            **_class_weight(weight),
        )


class KLDivLoss(LossModule):
    """The KL divergence with torch's argument semantics: a drop-in for
    ``torch.nn.KLDivLoss(reduction="batchmean")`` on (N, C) inputs.

    ``KLDivLoss(reduction="mean", log_target=False, *, input="log_probs", dim=1, weight=None,
    compile=False)``: ``forward(input, target, weight=None)`` takes log-probabilities, as
    torch's ``input`` (``input="probs"`` or ``"logits"`` take those instead, unlike
    ``lossatlas.kl_divergence``, whose default is probabilities), and target probabilities
    (log-probabilities with ``log_target=True``). "mean" (also spelt "batchmean") averages
    the per-sample divergences, each summed over ``dim``: torch's "batchmean" for (N, C)
    inputs (for (N, C, d1, ...) torch divides the total by N, here every position is a
    sample); torch's "mean" over elements is not a divergence and is not offered. Computed
    by ``lossatlas.kl_divergence``: a zero in the target gives 0 with finite gradients, also
    where the input is -inf (torch's ``kl_div`` gives NaN there).
    """

    loss = get("kl_divergence")

    def __init__(
        self,
        reduction: str = "mean",
        log_target: bool = False,
        *,
        input: str = "log_probs",
        dim: int = 1,
        weight: torch.Tensor | None = None,
        compile: bool = False,
    ) -> None:
        super().__init__(
            reduction="mean" if reduction == "batchmean" else reduction,
            weight=weight,
            compile=compile,
            dim=dim,
            input=input,
            log_target=log_target,
        )

    def forward(
        self, input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        return super().forward(input, target, weight=weight)


L1Loss = module_class("L1Loss", get("mae"), "torch.nn.L1Loss")
MSELoss = module_class("MSELoss", get("mse"), "torch.nn.MSELoss")
RMSELoss = module_class("RMSELoss", get("rmse"))
MeanBiasError = module_class("MeanBiasError", get("mean_bias_error"))
HuberLoss = module_class("HuberLoss", get("huber"), "torch.nn.HuberLoss")
SmoothL1Loss = module_class("SmoothL1Loss", get("smooth_l1"), "torch.nn.SmoothL1Loss")
PseudoHuberLoss = module_class("PseudoHuberLoss", get("pseudo_huber"))
LogCoshLoss = module_class("LogCoshLoss", get("log_cosh"))
QuantileLoss = module_class("QuantileLoss", get("quantile"))
PoissonNLLLoss = module_class("PoissonNLLLoss", get("poisson_nll"), "torch.nn.PoissonNLLLoss")
GaussianNLLLoss = module_class("GaussianNLLLoss", get("gaussian_nll"), "torch.nn.GaussianNLLLoss")
BCELoss = module_class("BCELoss", get("binary_cross_entropy"), "torch.nn.BCELoss")
BCEWithLogitsLoss = module_class(
    "BCEWithLogitsLoss", get("binary_cross_entropy_with_logits"), "torch.nn.BCEWithLogitsLoss"
)
BalancedCrossEntropyLoss = module_class("BalancedCrossEntropyLoss", get("balanced_cross_entropy"))
FocalLoss = module_class("FocalLoss", get("focal_loss"))
HingeLoss = module_class("HingeLoss", get("hinge"))
SquaredHingeLoss = module_class("SquaredHingeLoss", get("squared_hinge"))
LogisticLoss = module_class("LogisticLoss", get("logistic_loss"), "torch.nn.SoftMarginLoss")
SoftMarginLoss = LogisticLoss
ExponentialLoss = module_class("ExponentialLoss", get("exponential_loss"))
ZeroOneLoss = module_class("ZeroOneLoss", get("zero_one_loss"))
SparsemaxLoss = module_class("SparsemaxLoss", get("sparsemax_loss"))
SoftmaxFocalLoss = module_class("SoftmaxFocalLoss", get("softmax_focal_loss"))
Poly1CrossEntropyLoss = module_class("Poly1CrossEntropyLoss", get("poly1_cross_entropy"))
MulticlassHinge = module_class("MulticlassHinge", get("multiclass_hinge"))
MulticlassSparsemaxLoss = module_class("MulticlassSparsemaxLoss", get("multiclass_sparsemax_loss"))
JSDivergenceLoss = module_class("JSDivergenceLoss", get("js_divergence"))
GeneralizedKLDivLoss = module_class("GeneralizedKLDivLoss", get("generalized_kl_divergence"))
TruncatedSquaredLoss = module_class("TruncatedSquaredLoss", get("truncated_squared"))
CauchyLoss = module_class("CauchyLoss", get("cauchy"))
GemanMcClureLoss = module_class("GemanMcClureLoss", get("geman_mcclure"))
WelschLoss = module_class("WelschLoss", get("welsch"))
TukeyBiweightLoss = module_class("TukeyBiweightLoss", get("tukey_biweight"))
FairLoss = module_class("FairLoss", get("fair"))
GeneralRobustLoss = module_class("GeneralRobustLoss", get("general_robust"))
CharbonnierLoss = module_class("CharbonnierLoss", get("charbonnier"))
TweedieDevianceLoss = module_class("TweedieDevianceLoss", get("tweedie_deviance"))
PoissonDevianceLoss = module_class("PoissonDevianceLoss", get("poisson_deviance"))
GammaDevianceLoss = module_class("GammaDevianceLoss", get("gamma_deviance"))
DiceLoss = module_class("DiceLoss", get("dice_loss"), "monai.losses.DiceLoss")
JaccardLoss = module_class("JaccardLoss", get("jaccard_loss"))
TverskyLoss = module_class("TverskyLoss", get("tversky_loss"), "monai.losses.TverskyLoss")
FocalTverskyLoss = module_class("FocalTverskyLoss", get("focal_tversky_loss"))
GeneralizedDiceLoss = module_class(
    "GeneralizedDiceLoss", get("generalized_dice_loss"), "monai.losses.GeneralizedDiceLoss"
)
DiceCELoss = module_class("DiceCELoss", get("dice_ce_loss"), "monai.losses.DiceCELoss")
LovaszHingeLoss = module_class("LovaszHingeLoss", get("lovasz_hinge"))
LovaszSoftmaxLoss = module_class("LovaszSoftmaxLoss", get("lovasz_softmax"))
ContrastiveLoss = module_class("ContrastiveLoss", get("contrastive_loss"))
TripletMarginLoss = module_class(
    "TripletMarginLoss", get("triplet_margin_loss"), "torch.nn.TripletMarginLoss"
)
BatchHardTripletLoss = module_class("BatchHardTripletLoss", get("batch_hard_triplet_loss"))
CircleLoss = module_class("CircleLoss", get("circle_loss"))
MAPELoss = module_class("MAPELoss", get("mape"))
SMAPELoss = module_class("SMAPELoss", get("smape"))
MSLELoss = module_class("MSLELoss", get("msle"))
RMSLELoss = module_class("RMSLELoss", get("rmsle"))
IoULoss = module_class("IoULoss", get("iou_loss"))
GIoULoss = module_class("GIoULoss", get("giou_loss"))
DIoULoss = module_class("DIoULoss", get("diou_loss"))
CIoULoss = module_class("CIoULoss", get("ciou_loss"))
# the large-margin losses on given class weights / cosines / centres; the modules that own them
# as nn.Parameters (ArcFaceLoss, CosFaceLoss, SphereFaceLoss, LargeMarginSoftmaxLoss,
# CenterLoss) are in .heads
LargeMarginSoftmax = module_class("LargeMarginSoftmax", get("large_margin_softmax"))
AngularMarginSoftmax = module_class("AngularMarginSoftmax", get("angular_margin_softmax"))
FunctionalCenterLoss = module_class("FunctionalCenterLoss", get("center_loss"))


class _MarginModule(LossModule):
    """A loss whose one hyperparameter is torch's positional ``margin``."""

    default_margin: ClassVar[float] = 0.0

    def __init__(
        self, margin: float | None = None, reduction: str = "mean", *, compile: bool = False
    ) -> None:
        margin = self.default_margin if margin is None else margin
        super().__init__(reduction=reduction, compile=compile, margin=margin)


class MarginRankingLoss(_MarginModule):
    """torch's margin ranking loss with strict {-1, 1} targets: a drop-in for
    ``torch.nn.MarginRankingLoss``. ``MarginRankingLoss(margin=0.0, reduction="mean", *,
    compile=False)``; ``forward(input1, input2, target, weight=None)``. Computed by
    ``lossatlas.margin_ranking_loss``; a target other than -1 or 1 raises LossInputError."""

    loss = get("margin_ranking_loss")

    def forward(self, input1: torch.Tensor, input2: torch.Tensor, target: torch.Tensor,
                weight: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
        return super().forward(input1, input2, target, weight=weight)


class HingeEmbeddingLoss(_MarginModule):
    """torch's hinge embedding loss with strict {-1, 1} targets and distances >= 0: a drop-in
    for ``torch.nn.HingeEmbeddingLoss``. ``HingeEmbeddingLoss(margin=1.0, reduction="mean",
    *, compile=False)``; ``forward(input, target, weight=None)``. Computed by
    ``lossatlas.hinge_embedding_loss``."""

    loss = get("hinge_embedding_loss")
    default_margin = 1.0

    def forward(self, input: torch.Tensor, target: torch.Tensor,
                weight: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
        return super().forward(input, target, weight=weight)


class CosineEmbeddingLoss(_MarginModule):
    """torch's cosine embedding loss with strict {-1, 1} targets: a drop-in for
    ``torch.nn.CosineEmbeddingLoss``. ``CosineEmbeddingLoss(margin=0.0, reduction="mean", *,
    compile=False)``; ``forward(input1, input2, target, weight=None)`` with embeddings (*b, D)
    and targets (*b). Computed by ``lossatlas.cosine_embedding_loss`` (torch's eps = 1e-12
    convention; finite gradients at zero vectors)."""

    loss = get("cosine_embedding_loss")

    def forward(self, input1: torch.Tensor, input2: torch.Tensor, target: torch.Tensor,
                weight: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
        return super().forward(input1, input2, target, weight=weight)


RankingSoftmaxLoss = module_class(
    "RankingSoftmaxLoss", get("ranking_softmax_loss"), "optax.losses.ranking_softmax_loss"
)


class CTCLoss(LossModule):
    """Connectionist temporal classification with torch's signature: a drop-in for
    ``torch.nn.CTCLoss``.

    ``CTCLoss(blank=0, reduction="mean", zero_infinity=False, *, native=True, compile=False)``;
    ``forward(log_probs, targets, input_lengths, target_lengths, weight=None)`` with torch's
    time-major ``log_probs`` (T, N, C) (or (T, C) for one sample), targets padded (N, S) or
    concatenated (sum of the target lengths,), lengths as tensors or sequences of ints, and an
    optional per-sample ``weight``. Inputs are checked as ``lossatlas.ctc_loss`` checks them
    (labels in [0, C) other than the blank, lengths within the arrays: torch's CPU kernel reads
    out of bounds there), "mean" is torch's (each loss over its target length, then averaged),
    and the loss is clamped at 0.

    ``native=True`` computes with torch's kernel (CPU and CUDA), whose values are the
    definition's. Its backward returns exp(log_probs) - gamma, not the derivative -gamma with
    respect to a free ``log_probs``: the two agree through a log_softmax (both give softmax -
    gamma for the logits), which is how CTC is used. ``native=False`` (or ``compile=True``)
    runs the library's own recursion with the exact derivative.
    """

    loss = get("ctc_loss")

    def __init__(
        self,
        blank: int = 0,
        reduction: str = "mean",
        zero_infinity: bool = False,
        *,
        native: bool = True,
        compile: bool = False,
    ) -> None:
        super().__init__(
            reduction=reduction, compile=compile, blank=blank, zero_infinity=zero_infinity
        )
        self.native = native

    def forward(
        self,
        log_probs: torch.Tensor,
        targets: torch.Tensor,
        input_lengths: Any,
        target_lengths: Any,
        weight: torch.Tensor | None = None,
    ) -> torch.Tensor:
        from ._ctc import ctc_inputs, native_ctc

        batched = log_probs.ndim != 2
        inputs = ctc_inputs(log_probs, targets, input_lengths, target_lengths, batched)
        if self.native and not self.compile:
            if self.weight is not None:
                weight = self.weight if weight is None else weight * self.weight
            out = native_ctc(self.loss, inputs, weight, self.reduction, self.params)
        else:
            out = super().forward(*inputs, weight=weight)
        return out if batched or self.reduction != "none" else out[0]

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.native else ", native=False")


from .contrastive import (  # noqa: E402  (the contrastive losses' modules)
    ClipLoss,
    InfoNCELoss,
    NTXentLoss,
    SigLipLoss,
    SupConLoss,
)

#: the module class of every registered loss, by loss name
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
        CrossEntropyLoss,
        HingeLoss,
        SquaredHingeLoss,
        LogisticLoss,
        ExponentialLoss,
        ZeroOneLoss,
        SparsemaxLoss,
        NLLLoss,
        SoftmaxFocalLoss,
        Poly1CrossEntropyLoss,
        MulticlassHinge,
        MultiLabelSoftMarginLoss,
        MulticlassSparsemaxLoss,
        KLDivLoss,
        JSDivergenceLoss,
        GeneralizedKLDivLoss,
        TruncatedSquaredLoss,
        CauchyLoss,
        GemanMcClureLoss,
        WelschLoss,
        TukeyBiweightLoss,
        FairLoss,
        GeneralRobustLoss,
        CharbonnierLoss,
        MAPELoss,
        SMAPELoss,
        MSLELoss,
        RMSLELoss,
        TweedieDevianceLoss,
        PoissonDevianceLoss,
        GammaDevianceLoss,
        CTCLoss,
        IoULoss,
        GIoULoss,
        DIoULoss,
        CIoULoss,
        LargeMarginSoftmax,
        AngularMarginSoftmax,
        FunctionalCenterLoss,
        MarginRankingLoss,
        HingeEmbeddingLoss,
        CosineEmbeddingLoss,
        RankingSoftmaxLoss,
        DiceLoss,
        JaccardLoss,
        TverskyLoss,
        FocalTverskyLoss,
        GeneralizedDiceLoss,
        DiceCELoss,
        LovaszHingeLoss,
        LovaszSoftmaxLoss,
        InfoNCELoss,
        NTXentLoss,
        SupConLoss,
        ClipLoss,
        SigLipLoss,
        ContrastiveLoss,
        TripletMarginLoss,
        BatchHardTripletLoss,
        CircleLoss,
    )
}


from .adaptive import AdaptiveRobustLoss  # noqa: E402  (Barron's NLL: not a registered loss)
from .heads import (  # noqa: E402  (modules that own their class weights or centres)
    ArcFaceLoss,
    CenterLoss,
    CosFaceLoss,
    LargeMarginSoftmaxLoss,
    SphereFaceLoss,
)
from .linear_ce import (  # noqa: E402  (fused head + loss: not registered)
    LinearCrossEntropyLoss,
    combine_linear_cross_entropy_stats,
    linear_cross_entropy,
    linear_cross_entropy_stats,
)


def module_for(name: str, **kwargs: Any) -> LossModule:
    """An ``nn.Module`` for any registered loss name or alias: ``module_for("huber", delta=2)``."""
    return MODULES[get(name).name](**kwargs)


__all__ = [
    "MODULES",
    "AdaptiveRobustLoss",
    "ArcFaceLoss",
    "CenterLoss",
    "CosFaceLoss",
    "LargeMarginSoftmaxLoss",
    "SphereFaceLoss",
    "LinearCrossEntropyLoss",
    "LossModule",
    "combine_linear_cross_entropy_stats",
    "linear_cross_entropy",
    "linear_cross_entropy_stats",
    "module_class",
    "module_for",
    *sorted(c.__name__ for c in MODULES.values()),
    "MultiMarginLoss",
    "SoftMarginLoss",
]
