"""What ``lossatlas.torch.CTCLoss`` adds to the core's CTC: torch's argument forms, and torch's
native kernel behind the core's checks and reduction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from .._loss import Loss
from .._reduce import Unreduced
from .._validate import LossInputError, describe

Tensor = torch.Tensor


def _lengths(name: str, value: Any, n: int, device: torch.device) -> Tensor:
    """Lengths as a (N,) integer tensor: torch takes a tensor or a sequence of ints."""
    if isinstance(value, Tensor):
        out = value.to(device)
    elif isinstance(value, Sequence) and all(isinstance(v, int) for v in value):
        out = torch.as_tensor(list(value), dtype=torch.long, device=device)
    else:
        raise LossInputError("ctc_loss", name, "a tensor or a sequence of ints", describe(value))
    return out.reshape(n) if out.numel() == n else out


def ctc_inputs(
    log_probs: Tensor, targets: Tensor, input_lengths: Any, target_lengths: Any, batched: bool
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """torch's forms as the core's: time-major (T, N, C) log-probabilities as a batch-major
    view, one (T, C) sample as a batch of one, concatenated targets padded to (N, S)."""
    if not isinstance(log_probs, Tensor) or log_probs.ndim not in (2, 3):
        raise LossInputError(
            "ctc_loss", "log_probs", "a torch tensor (T, N, C), or (T, C) for one sample",
            describe(log_probs),
        )  # fmt: skip
    lp = log_probs.transpose(0, 1) if batched else log_probs[None]
    n, device = lp.shape[0], lp.device
    input_lengths = _lengths("input_lengths", input_lengths, n, device)
    target_lengths = _lengths("target_lengths", target_lengths, n, device)
    if not isinstance(targets, Tensor):
        raise LossInputError("ctc_loss", "targets", "a torch tensor", describe(targets))
    if not batched:
        targets = targets[None]
    elif targets.ndim == 1 and target_lengths.ndim == 1 and target_lengths.numel() == n:
        targets = _padded(targets, target_lengths)
    return lp, targets, input_lengths, target_lengths


def _padded(concatenated: Tensor, lengths: Tensor) -> Tensor:
    """Concatenated targets (sum of lengths,) as a padded (N, max length) tensor (0 past each
    length)."""
    if lengths.dtype.is_floating_point or (lengths.numel() and int(lengths.min()) < 0):
        return concatenated  # the core names the bad lengths
    total = int(lengths.sum())
    if concatenated.numel() != total:
        raise LossInputError(
            "ctc_loss",
            "targets",
            f"concatenated targets of the total target length {total}, or padded (N, S)",
            describe(concatenated),
        )
    width = int(lengths.max()) if lengths.numel() else 0
    live = torch.arange(width, device=lengths.device) < lengths[:, None]
    out = torch.zeros((lengths.numel(), width), dtype=concatenated.dtype, device=lengths.device)
    out[live] = concatenated
    return out


def native_ctc(
    loss: Loss, inputs: tuple[Tensor, ...], weight: Any, reduction: str, params: dict[str, Any]
) -> Tensor:
    """The core's checks and reduction around ``torch.nn.functional.ctc_loss`` (its values
    are the definition's; its backward is exp(log_probs) - gamma, right through a
    log_softmax): clamped at 0, "mean" over the target lengths."""
    call = loss.validate(*inputs, weight=weight, **params)
    log_probs, targets, input_lengths, target_lengths = call.arrays()
    batch = tuple(input_lengths.shape)
    values = F.ctc_loss(
        log_probs.reshape(-1, *log_probs.shape[-2:]).transpose(0, 1),
        targets.reshape(-1, targets.shape[-1]),
        input_lengths.reshape(-1),
        target_lengths.reshape(-1),
        blank=call.params["blank"],
        reduction="none",
        zero_infinity=call.params["zero_infinity"],
    ).reshape(batch)
    values = values.clamp(min=0)  # its backward passes a loss of exactly 0 (input >= min)
    scale = None
    if reduction in ("mean", "sum_by_nonzero_weights"):
        scale = target_lengths.clamp(min=1).to(values.dtype).reciprocal()
    out = loss.reduce(call, Unreduced(values, mean_scale=scale), reduction)
    return out if out.dtype == call.out_dtype else out.to(call.out_dtype)
