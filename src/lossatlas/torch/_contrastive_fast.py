"""Torch fast paths of clip_loss and siglip_loss: ``autograd.Function``s whose backward
keeps at most one (N, N) array (clip recomputes its logits from the saved (N, D) embeddings;
siglip keeps its signed logits) instead of the five N^2 intermediates a composed forward keeps
for autograd (open_clip's ClipLoss keeps two logits matrices and their two log-softmax
outputs), with the gradient in closed form:

- clip: dL/dz = ((softmax of each row) + (softmax of each column)) / (2N) - I / N;
- siglip: dL/dz_nm = -y_nm sigmoid(-y_nm z_nm) / N, y = 2I - 1;

then dx = s G y, dy = s G^T x, ds = sum(x * G y), db = sum(G). The forward runs the
definition's operations in its order (so values equal it to a few ulps); the L2
normalisation stays composed (autograd through ``contrastive.unit``). Used for a single
problem (2-D embeddings); a batch of problems (*b, N, D) runs the definition. Under
``create_graph`` the backward uses out-of-place operations, so second derivatives work.
"""

from __future__ import annotations

from typing import Any

import array_api_compat.torch as xp
import torch
import torch.nn.functional as F

from .._reduce import Unreduced
from ..contrastive import unit


def _logits(x: torch.Tensor, y: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    return s * torch.matmul(x, y.T)


def _parts(z: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(m, log(sum(exp(z - m)))) along dim, as the definition computes them."""
    m = torch.amax(z, dim=dim, keepdim=True)
    return m.squeeze(dim), torch.log(torch.sum(torch.exp(z - m), dim=dim))


def _lse(z: torch.Tensor, dim: int) -> torch.Tensor:
    m, rest = _parts(z, dim)
    return m + rest


class _Clip(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, y: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        z = _logits(x, y, s)
        (m_row, rest_row), (m_col, rest_col) = _parts(z, 1), _parts(z, 0)
        half = torch.tensor(0.5, dtype=z.dtype)
        diag = torch.diagonal(z)
        per_pair = half * (((m_row - diag) + rest_row) + ((m_col - diag) + rest_col))
        rows, cols = m_row + rest_row, m_col + rest_col
        ctx.save_for_backward(x, y, s, rows, cols)
        return torch.sum(per_pair) / max(z.shape[0], 1)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x, y, s, rows, cols = ctx.saved_tensors
        n = x.shape[0]
        z = _logits(x, y, s)
        scale = g / (2 * n)
        if torch.is_grad_enabled():  # create_graph: differentiable, out of place
            eye = torch.eye(n, dtype=z.dtype, device=z.device)
            rows, cols = _lse(z, 1), _lse(z, 0)  # (with their graph, unlike the saved ones)
            grad = (torch.exp(z - rows[:, None]) + torch.exp(z - cols[None, :]) - 2 * eye) * scale
        else:  # two N^2 arrays at most
            grad = torch.sub(z, rows[:, None]).exp_()
            grad.add_(z.sub_(cols[None, :]).exp_())
            del z
            grad.diagonal().sub_(2.0)
            grad.mul_(scale)
        gy = torch.matmul(grad, y)
        dx = s * gy
        ds = torch.sum(x * gy).reshape(s.shape)
        dy = s * torch.matmul(grad.T, x)
        return dx, dy, ds


class _SigLip(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, y: torch.Tensor, s: torch.Tensor,
                b: torch.Tensor) -> torch.Tensor:  # fmt: skip
        # y z in place (+z on the diagonal, -z off it), then torch's log-sigmoid, whose CPU
        # kernel is the definition's min(v, 0) - log1p(exp(-|v|))
        signed = _logits(x, y, s).add_(b).neg_()
        signed.diagonal().neg_()
        per_image = -torch.sum(F.logsigmoid(signed), dim=-1)
        # the signed logits are kept (one N^2 array): recomputing them would cost the backward
        # a third matrix product, which the composed form does not spend
        ctx.save_for_backward(x, y, s, b, signed)
        return torch.sum(per_image) / max(signed.shape[0], 1)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x, y, s, b, signed = ctx.saved_tensors
        n = x.shape[0]
        scale = g / n
        if torch.is_grad_enabled():  # create_graph: the signed logits again, with their graph
            sign = 2 * torch.eye(n, dtype=signed.dtype, device=signed.device) - 1
            z = _logits(x, y, s) + b
            grad = -sign * torch.sigmoid(-sign * z) * scale
        else:
            # sigmoid(-y z) times -y (y = +1 on the diagonal, -1 off it); the saved array is
            # left as it is (a retained graph runs this backward again)
            grad = torch.neg(signed).sigmoid_()
            grad.diagonal().neg_()
            grad.mul_(scale)
        gy = torch.matmul(grad, y)
        dx = s * gy
        ds = torch.sum(x * gy).reshape(s.shape)
        db = torch.sum(grad).reshape(b.shape)
        dy = s * torch.matmul(grad.T, x)
        return dx, dy, ds, db


def _scalar(value: Any, like: torch.Tensor) -> torch.Tensor | None:
    """A 0-d tensor of ``value`` (a number or a 0-d tensor); None for any other shape."""
    if isinstance(value, torch.Tensor):
        return value if value.ndim == 0 else None
    return torch.tensor(float(value), dtype=like.dtype, device=like.device)


def _embeddings(call: Any) -> tuple[torch.Tensor, torch.Tensor] | None:
    x, y = call.inputs["image_emb"], call.inputs["text_emb"]
    if x.ndim != 2:
        return None
    if call.params["normalize"]:
        x, y = unit(xp, x), unit(xp, y)
    return x, y


def clip_fast(loss: Any, call: Any) -> Unreduced | None:
    """clip_loss of one problem: the closed-form backward of ``_Clip``."""
    pair = _embeddings(call)
    s = _scalar(call.params["logit_scale"], call.inputs["image_emb"])
    if pair is None or s is None:
        return None
    return Unreduced(_Clip.apply(*pair, s))


def siglip_fast(loss: Any, call: Any) -> Unreduced | None:
    """siglip_loss of one problem: the closed-form backward of ``_SigLip``."""
    pair = _embeddings(call)
    like = call.inputs["image_emb"]
    s = _scalar(call.params["logit_scale"], like)
    b = _scalar(call.params["logit_bias"], like)
    if pair is None or s is None or b is None:
        return None
    return Unreduced(_SigLip.apply(*pair, s, b))


FAST_PATHS = {"clip_loss": clip_fast, "siglip_loss": siglip_fast}
