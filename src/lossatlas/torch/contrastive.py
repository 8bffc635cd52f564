"""``nn.Module`` forms of the contrastive losses (``lossatlas.contrastive``).

``ClipLoss`` and ``SigLipLoss`` take ``logit_scale`` (and ``logit_bias``) either at
construction, as a tensor that becomes an ``nn.Parameter`` (an optimizer updates it; keep it
positive, e.g. pass ``log_scale.exp()`` per call instead, as open_clip does), or per call in
``forward``, as open_clip's losses take them; a per-call value wins.
"""

from __future__ import annotations

from typing import Any

import torch

from .._registry import get
from . import LossModule

__all__ = ["ClipLoss", "InfoNCELoss", "NTXentLoss", "SigLipLoss", "SupConLoss"]


class InfoNCELoss(LossModule):
    """InfoNCE with in-batch negatives: ``InfoNCELoss(temperature=0.07, normalize=True,
    reduction="mean")``; ``forward(query, key, weight=None)`` with (*b, N, D) embeddings.
    Computed by ``lossatlas.info_nce``."""

    loss = get("info_nce")

    def __init__(self, temperature: float = 0.07, normalize: bool = True,
                 reduction: str = "mean", *, compile: bool = False) -> None:  # fmt: skip
        super().__init__(reduction=reduction, compile=compile, temperature=temperature,
                         normalize=normalize)  # fmt: skip

    def forward(self, query: torch.Tensor, key: torch.Tensor,
                weight: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
        return super().forward(query, key, weight=weight)


class NTXentLoss(LossModule):
    """SimCLR's NT-Xent: ``NTXentLoss(temperature=0.5, reduction="mean")``; ``forward(z1, z2,
    weight=None)`` with the two views (*b, N, D). Computed by ``lossatlas.nt_xent``; equal to
    pytorch-metric-learning's ``NTXentLoss`` on ``cat([z1, z2])`` with labels
    ``[0..N-1, 0..N-1]``."""

    loss = get("nt_xent")

    def __init__(self, temperature: float = 0.5, reduction: str = "mean", *,
                 compile: bool = False) -> None:  # fmt: skip
        super().__init__(reduction=reduction, compile=compile, temperature=temperature)

    def forward(self, z1: torch.Tensor, z2: torch.Tensor,
                weight: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
        return super().forward(z1, z2, weight=weight)


class SupConLoss(LossModule):
    """Supervised contrastive loss (Khosla et al. 2020): ``SupConLoss(temperature=0.1,
    reduction="mean")``; ``forward(embeddings, labels, weight=None)``. Computed by
    ``lossatlas.supervised_contrastive``; equal to pytorch-metric-learning's ``SupConLoss``."""

    loss = get("supervised_contrastive")

    def __init__(self, temperature: float = 0.1, reduction: str = "mean", *,
                 compile: bool = False) -> None:  # fmt: skip
        super().__init__(reduction=reduction, compile=compile, temperature=temperature)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor,
                weight: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
        return super().forward(embeddings, labels, weight=weight)


class _TwoTower(LossModule):
    """A loss whose array hyperparameters may come at construction or per call."""

    def _call(self, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None,
              given: dict[str, Any]) -> torch.Tensor:  # fmt: skip
        if self.weight is not None:
            weight = self.weight if weight is None else weight * self.weight
        params = {**self._all_params(), **{k: v for k, v in given.items() if v is not None}}
        missing = [p.name for p in self.loss.spec.params if p.kind == "array"
                   and p.name not in params]  # fmt: skip
        if missing:
            raise TypeError(f"{type(self).__name__}: give {missing} at construction or per call")
        return self.loss(x, y, weight=weight, reduction=self.reduction, **params)


class ClipLoss(_TwoTower):
    """CLIP's symmetric InfoNCE, open_clip's ``ClipLoss`` on one process:
    ``ClipLoss(logit_scale=None, normalize=True, reduction="mean")``;
    ``forward(image_features, text_features, logit_scale=None, weight=None)``. ``logit_scale``
    is the multiplier (already exponentiated); given as a tensor at construction it is an
    ``nn.Parameter``. Computed by ``lossatlas.clip_loss``."""

    loss = get("clip_loss")

    def __init__(self, logit_scale: torch.Tensor | float | None = None, normalize: bool = True,
                 reduction: str = "mean", *, compile: bool = False) -> None:  # fmt: skip
        extra = {} if logit_scale is None else {"logit_scale": logit_scale}
        super().__init__(reduction=reduction, compile=compile, normalize=normalize, **extra)

    def forward(self, image_features: torch.Tensor, text_features: torch.Tensor,
                logit_scale: torch.Tensor | float | None = None,
                weight: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
        return self._call(image_features, text_features, weight, {"logit_scale": logit_scale})


class SigLipLoss(_TwoTower):
    """SigLIP's pairwise sigmoid loss, open_clip's ``SigLipLoss`` on one process:
    ``SigLipLoss(logit_scale=None, logit_bias=None, normalize=True, reduction="mean")``;
    ``forward(image_features, text_features, logit_scale=None, logit_bias=None,
    weight=None)``. Tensors given at construction are ``nn.Parameter``s (SigLIP starts from
    scale 10 and bias -10). Computed by ``lossatlas.siglip_loss``."""

    loss = get("siglip_loss")

    def __init__(self, logit_scale: torch.Tensor | float | None = None,
                 logit_bias: torch.Tensor | float | None = None, normalize: bool = True,
                 reduction: str = "mean", *, compile: bool = False) -> None:  # fmt: skip
        extra = {k: v for k, v in (("logit_scale", logit_scale), ("logit_bias", logit_bias))
                 if v is not None}  # fmt: skip
        super().__init__(reduction=reduction, compile=compile, normalize=normalize, **extra)

    def forward(self, image_features: torch.Tensor, text_features: torch.Tensor,
                logit_scale: torch.Tensor | float | None = None,
                logit_bias: torch.Tensor | float | None = None,
                weight: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
        given = {"logit_scale": logit_scale, "logit_bias": logit_bias}
        return self._call(image_features, text_features, weight, given)
