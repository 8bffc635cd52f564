"""Torch modules that own the learnable parameters of the large-margin losses: the class
weights of ArcFace, CosFace, SphereFace and L-Softmax, and the centres of the center loss.

Each is an ``nn.Module`` whose parameters an optimizer updates with the network's; its
``forward(embeddings, target)`` normalises what the method normalises and calls the core loss
(``lossatlas.angular_margin_softmax``, ``large_margin_softmax``, ``center_loss``). They replace
the classifier layer and its softmax loss (ArcFace, CosFace, SphereFace, L-Softmax), or sit
beside it (the center loss):

    >>> import torch, lossatlas.torch as lt
    >>> head = lt.ArcFaceLoss(num_classes=10, embedding_dim=2, scale=16.0)
    >>> center = lt.CenterLoss(num_classes=10, feat_dim=2)
    >>> net = torch.nn.Linear(64, 2)
    >>> opt = torch.optim.SGD([*net.parameters(), *head.parameters()], lr=0.1)
    >>> # softmax + center loss: total = F.cross_entropy(classifier(emb), y) + lam * center(emb, y)

The class weights are a (num_classes, embedding_dim) parameter ``weight`` (one row a class,
PyTorch's ``nn.Linear`` layout; PyTorch-metric-learning stores the transpose, ``W``), initialised
from a standard normal distribution as PyTorch-metric-learning does (``torch.nn.init.normal_``);
insightface draws N(0, 0.01), which the cosine losses do not see (they normalise the rows).
The centres are a (num_classes, feat_dim) parameter ``centers``, drawn from a standard normal
as the reference implementation of Wen et al.'s center loss in PyTorch (KaiyangZhou) does.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .._reduce import check_reduction
from .._validate import LossInputError
from ..large_margin import DEFAULT_MARGINS, angular_margin_softmax, center_loss
from ..large_margin import large_margin_softmax as _large_margin_softmax

__all__ = [
    "ArcFaceLoss",
    "CenterLoss",
    "CosFaceLoss",
    "LargeMarginSoftmaxLoss",
    "SphereFaceLoss",
]


def _unit_rows(x: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit length (a zero row stays 0, with a finite gradient)."""
    norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
    safe = torch.where(norm > 0, norm, torch.ones_like(norm))
    return torch.where(norm > 0, x / safe, torch.zeros_like(x))


def _positive_sizes(owner: str, **sizes: Any) -> None:
    for arg, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise LossInputError(owner, arg, "a positive integer", repr(value))


class _ClassWeights(nn.Module):
    """A (num_classes, embedding_dim) class-weight parameter and the reduction."""

    def __init__(self, num_classes: int, embedding_dim: int, reduction: str, name: str) -> None:
        super().__init__()
        _positive_sizes(type(self).__name__, num_classes=num_classes, embedding_dim=embedding_dim)
        check_reduction(name, reduction)
        self.num_classes = num_classes
        self.embedding_dim = embedding_dim
        self.reduction = reduction
        self.weight = nn.Parameter(torch.empty(num_classes, embedding_dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Class weights from N(0, 1), as PyTorch-metric-learning initialises them."""
        nn.init.normal_(self.weight)

    def cosine(self, embeddings: torch.Tensor) -> torch.Tensor:
        """The cosines (N, num_classes) between the embeddings and the class weights, clamped
        to [-1, 1] (rounding can pass 1 by an ulp); their argmax is the predicted class."""
        if embeddings.ndim != 2 or embeddings.shape[-1] != self.embedding_dim:
            raise LossInputError(
                type(self).__name__, "embeddings", f"shape (N, {self.embedding_dim})",
                f"shape {tuple(embeddings.shape)}",
            )  # fmt: skip
        w = self.weight.to(embeddings.dtype)
        return torch.clamp(_unit_rows(embeddings) @ _unit_rows(w).T, -1.0, 1.0)

    def extra_repr(self) -> str:
        return (
            f"num_classes={self.num_classes}, embedding_dim={self.embedding_dim}, "
            f"reduction={self.reduction!r}"
        )


class _AngularHead(_ClassWeights):
    kind = "arcface"

    def __init__(
        self,
        num_classes: int,
        embedding_dim: int,
        *,
        scale: float = 64.0,
        margin: float | None = None,
        easy_margin: bool = False,
        reduction: str = "mean",
    ) -> None:
        super().__init__(num_classes, embedding_dim, reduction, "angular_margin_softmax")
        self.scale = scale
        self.margin = DEFAULT_MARGINS[self.kind] if margin is None else margin
        self.easy_margin = easy_margin
        # raises a LossInputError now for a bad scale or margin
        angular_margin_softmax.bind(**self._params())

    def _params(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "scale": self.scale, "margin": self.margin,
            "easy_margin": self.easy_margin,
        }  # fmt: skip

    def forward(
        self, embeddings: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The loss of embeddings (N, embedding_dim) with class indices target (N,)."""
        return angular_margin_softmax(
            self.cosine(embeddings), target, weight=weight, reduction=self.reduction,
            **self._params(),
        )  # fmt: skip

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, scale={self.scale}, margin={self.margin}"


class ArcFaceLoss(_AngularHead):
    """``ArcFaceLoss(num_classes, embedding_dim, *, scale=64.0, margin=0.5, easy_margin=False,
    reduction="mean")``: ArcFace (Deng et al. 2019) with its class weights.

    ``forward(embeddings, target)`` normalises the embeddings and the class weights, forms
    their cosines and returns ``lossatlas.angular_margin_softmax(cosine, target,
    kind="arcface", ...)``: cross entropy on ``s cos(theta_j)`` with ``s cos(theta_y + m)`` for
    the target (insightface's fallback past theta = pi - m, or ``easy_margin``). ``margin``
    is in radians (PyTorch-metric-learning's ArcFaceLoss takes degrees: 28.6 there is 0.5 here).
    """

    kind = "arcface"

    def __init__(
        self,
        num_classes: int,
        embedding_dim: int,
        *,
        scale: float = 64.0,
        margin: float = 0.5,
        easy_margin: bool = False,
        reduction: str = "mean",
    ) -> None:
        super().__init__(num_classes, embedding_dim, scale=scale, margin=margin,
                         easy_margin=easy_margin, reduction=reduction)  # fmt: skip


class CosFaceLoss(_AngularHead):
    """``CosFaceLoss(num_classes, embedding_dim, *, scale=64.0, margin=0.35,
    reduction="mean")``: CosFace (Wang et al. 2018) with its class weights: cross entropy on
    ``s (cos(theta) - m one_hot)`` over normalised embeddings and class weights."""

    kind = "cosface"

    def __init__(
        self,
        num_classes: int,
        embedding_dim: int,
        *,
        scale: float = 64.0,
        margin: float = 0.35,
        reduction: str = "mean",
    ) -> None:
        super().__init__(num_classes, embedding_dim, scale=scale, margin=margin,
                         reduction=reduction)  # fmt: skip


class SphereFaceLoss(_ClassWeights):
    """``SphereFaceLoss(num_classes, embedding_dim, *, margin=4, scale=1.0,
    reduction="mean")``: SphereFace's A-Softmax (Liu et al. 2017) with its class weights.

    The class weights are normalised, the embeddings are not: the logits are ``s ||x||
    cos(theta_j)`` and the target's ``s ||x|| psi_m(theta_y)``, i.e.
    ``lossatlas.large_margin_softmax(s * embeddings, unit class weights, target, margin=m)``,
    as PyTorch-metric-learning's SphereFaceLoss computes it. (``angular_margin_softmax(...,
    kind="sphereface")`` is the variant on normalised embeddings with a fixed scale.)
    """

    def __init__(
        self,
        num_classes: int,
        embedding_dim: int,
        *,
        margin: int = 4,
        scale: float = 1.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__(num_classes, embedding_dim, reduction, "large_margin_softmax")
        _large_margin_softmax.bind(margin=margin)
        if not scale > 0:
            raise LossInputError("SphereFaceLoss", "scale", "a number > 0", repr(scale))
        self.margin = margin
        self.scale = scale

    def forward(
        self, embeddings: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        w = _unit_rows(self.weight.to(embeddings.dtype))
        return _large_margin_softmax(
            embeddings * self.scale, w, target, margin=self.margin, weight=weight,
            reduction=self.reduction,
        )  # fmt: skip

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, margin={self.margin}, scale={self.scale}"


class LargeMarginSoftmaxLoss(_ClassWeights):
    """``LargeMarginSoftmaxLoss(num_classes, embedding_dim, *, margin=2, reduction="mean")``:
    L-Softmax (Liu et al. 2016) with its class weights, the last layer of the classifier
    (no bias): ``lossatlas.large_margin_softmax(embeddings, weight, target, margin=m)``.
    Neither the embeddings nor the weights are normalised. ``logits(embeddings)`` gives the
    plain logits ``embeddings @ weight.T`` for prediction."""

    def __init__(
        self, num_classes: int, embedding_dim: int, *, margin: int = 2, reduction: str = "mean"
    ) -> None:
        super().__init__(num_classes, embedding_dim, reduction, "large_margin_softmax")
        _large_margin_softmax.bind(margin=margin)
        self.margin = margin

    def logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        return embeddings @ self.weight.to(embeddings.dtype).T

    def forward(
        self, embeddings: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        return _large_margin_softmax(
            embeddings, self.weight.to(embeddings.dtype), target, margin=self.margin,
            weight=weight, reduction=self.reduction,
        )  # fmt: skip

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, margin={self.margin}"


class CenterLoss(nn.Module):
    """``CenterLoss(num_classes, feat_dim, *, reduction="mean")``: the center loss of Wen et
    al. (2016) with its centres, a (num_classes, feat_dim) ``nn.Parameter`` ``centers``
    (initialised from N(0, 1)).

    ``forward(features, target)`` is ``lossatlas.center_loss(features, target, centers)``:
    the mean over samples of ``1/2 ||x_i - c_{y_i}||^2``. Use it beside a softmax loss,
    ``total = F.cross_entropy(logits, y) + lam * center(features, y)``, with the centres in
    the optimizer (Wen et al. give them their own rate alpha: a parameter group with
    ``lr = alpha / lam`` reproduces their update for SGD).
    """

    def __init__(self, num_classes: int, feat_dim: int, *, reduction: str = "mean") -> None:
        super().__init__()
        _positive_sizes("CenterLoss", num_classes=num_classes, feat_dim=feat_dim)
        check_reduction("center_loss", reduction)
        self.num_classes = num_classes
        self.feat_dim = feat_dim
        self.reduction = reduction
        self.centers = nn.Parameter(torch.randn(num_classes, feat_dim))

    def forward(
        self, features: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        return center_loss(features, target, self.centers.to(features.dtype), weight=weight,
                           reduction=self.reduction)  # fmt: skip

    def extra_repr(self) -> str:
        return (
            f"num_classes={self.num_classes}, feat_dim={self.feat_dim}, "
            f"reduction={self.reduction!r}"
        )
