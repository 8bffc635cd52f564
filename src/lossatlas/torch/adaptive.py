"""Barron's adaptive robust loss: the negative log-likelihood of his general distribution, with
the shape alpha and the scale c learnt per dimension.

``p(x | alpha, c) = exp(-rho(x, alpha, c)) / (c Z(alpha))`` with ``rho`` the general robust
loss (``lossatlas.general_robust``) and the partition function
``Z(alpha) = integral exp(-rho(x, alpha, 1)) dx`` over the real line, finite for alpha >= 0.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from torch import nn

#: the knots of the spline of log Z: alpha in [0, 2] in steps of 1/128
LOG_Z_KNOTS = 257
LOG_Z_RANGE = (0.0, 2.0)


def _rho_numpy(x: np.ndarray, alpha: float) -> np.ndarray:
    from .. import general_robust

    return general_robust(x, np.zeros_like(x), alpha=alpha, scale=1.0, reduction="none")


def partition_integral(alpha: float) -> float:
    """``Z(alpha) = 2 int_0^inf exp(-rho(x, alpha, 1)) dx`` by the trapezoidal rule in
    ``u = log x`` on [-50, 60] with steps of 1/128: the integrand ``exp(u - rho(e^u))`` is
    analytic and decays exponentially at both ends (like ``e^-u`` at alpha = 0, the slowest),
    so the rule converges geometrically; the result is accurate to about 1e-14."""
    u = np.arange(-50.0 * 128, 60.0 * 128 + 1) / 128.0
    x = np.exp(u)
    integrand = np.exp(u - _rho_numpy(x, alpha))
    return float(2.0 * np.sum(integrand) / 128.0)  # the ends contribute < 1e-21


@functools.cache
def _log_z_table() -> tuple[np.ndarray, np.ndarray, float]:
    """(log Z at the knots less its singular part, the spline's second derivatives there, the
    knot spacing): a clamped cubic spline, its end slopes from fourth-order one-sided
    differences. Near alpha = 2 (b = 2 - alpha -> 0) log Z = log sqrt(2 pi) - (b/4) log b +
    O(b): rho there is x^2/2 - (b/4) x^2 log(x^2/b) + O(b x^2), so the spline is fitted to
    log Z + (b/4) log b, whose derivative stays finite."""
    lo, hi = LOG_Z_RANGE
    knots = np.linspace(lo, hi, LOG_Z_KNOTS)
    h = (hi - lo) / (LOG_Z_KNOTS - 1)
    b = hi - knots
    singular = -0.25 * b * np.log(np.where(b > 0, b, 1.0))
    y = np.log([partition_integral(float(a)) for a in knots]) - singular
    d0 = (-25 * y[0] + 48 * y[1] - 36 * y[2] + 16 * y[3] - 3 * y[4]) / (12 * h)
    dn = (25 * y[-1] - 48 * y[-2] + 36 * y[-3] - 16 * y[-4] + 3 * y[-5]) / (12 * h)
    n = LOG_Z_KNOTS
    a = np.zeros((n, n))
    rhs = np.zeros(n)
    for i in range(1, n - 1):
        a[i, i - 1 : i + 2] = (1.0, 4.0, 1.0)
        rhs[i] = 6.0 / h**2 * (y[i + 1] - 2 * y[i] + y[i - 1])
    a[0, :2] = (2.0, 1.0)
    rhs[0] = 6.0 / h * ((y[1] - y[0]) / h - d0)
    a[-1, -2:] = (1.0, 2.0)
    rhs[-1] = 6.0 / h * (dn - (y[-1] - y[-2]) / h)
    return y, np.linalg.solve(a, rhs), h


def log_partition(alpha: torch.Tensor) -> torch.Tensor:
    """log Z(alpha) for alpha in [0, 2], elementwise, differentiable in alpha: the clamped
    cubic spline through log Z + ((2 - alpha)/4) log(2 - alpha) at 257 knots
    (``partition_integral``), that term added back: exact at the knots (``Z(2) = sqrt(2 pi)``,
    ``Z(0) = pi sqrt(2)``) and within about 1e-9 of log Z between them, 1e-6 at alpha = 1.999
    and 1e-7 at 0.0005, next to the ends of the range."""
    lo, hi = LOG_Z_RANGE
    if bool(torch.any((alpha < lo) | (alpha > hi))):
        raise ValueError(f"log_partition: alpha must lie in [{lo:g}, {hi:g}]")
    y_np, m_np, h = _log_z_table()
    y = torch.as_tensor(y_np, dtype=alpha.dtype, device=alpha.device)
    m = torch.as_tensor(m_np, dtype=alpha.dtype, device=alpha.device)
    position = (alpha - lo) / h
    i = torch.clamp(torch.floor(position.detach()), 0, LOG_Z_KNOTS - 2).long()
    b = position - i.to(alpha.dtype)
    a = 1.0 - b
    smooth = a * y[i] + b * y[i + 1] + ((a**3 - a) * m[i] + (b**3 - b) * m[i + 1]) * (h * h / 6.0)
    gap = hi - alpha
    return smooth - 0.25 * gap * torch.log(gap.clamp_min(torch.finfo(alpha.dtype).tiny))


def general_rho(x: torch.Tensor, alpha: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``rho(x, alpha, c)`` for alpha in [0, 2] as tensors, differentiable in all three:
    ``(b/alpha) expm1((alpha/2) log1p(y))``, ``b = |alpha - 2|``, ``y = (x/c)^2 / b``, with
    alpha and b kept at least 1e-6 from 0 (Barron's guard; the limits alpha = 0 and 2 are then
    met to about 1e-6 relatively, where expm1 and log1p keep the rest exact)."""
    eps = 1e-6
    z2 = (x / scale) ** 2
    b = torch.abs(alpha - 2.0).clamp_min(eps)
    d = alpha.clamp_min(eps)
    return (b / d) * torch.expm1((0.5 * d) * torch.log1p(z2 / b))


def _inverse_softplus(y: float) -> float:
    return y + math.log(-math.expm1(-y))


class AdaptiveRobustLoss(nn.Module):
    r"""Barron's adaptive robust loss: the negative log-likelihood of his general distribution,
    with alpha and the scale learnt per dimension (``num_dims``, the last axis of the input).

    .. math:: -\log p(x) = \rho(x, \alpha, c) + \log c + \log Z(\alpha)

    ``alpha = alpha_lo + (alpha_hi - alpha_lo) sigmoid(latent_alpha)`` and
    ``c = softplus(latent_scale) + scale_lo`` (Barron 2019, sec. 3), both latents
    ``nn.Parameter``s of shape ``(num_dims,)``, started at ``alpha_init`` and ``scale_init``.
    ``log Z(alpha)`` is a clamped cubic spline in alpha, differentiable, through values
    computed once (on first use) by the trapezoidal rule in ``log |x|`` (``partition_integral``);
    its knots cover ``[0, 2]``, so ``0 <= alpha_lo < alpha_hi <= 2``. ``forward(x)`` takes the
    residuals ``x`` (``pred - target``), shape ``(..., num_dims)``, and returns the NLL reduced
    by ``reduction`` ("mean", "sum" or "none").
    """

    def __init__(
        self,
        num_dims: int,
        *,
        alpha_lo: float = 0.001,
        alpha_hi: float = 1.999,
        alpha_init: float | None = None,
        scale_lo: float = 1e-5,
        scale_init: float = 1.0,
        reduction: str = "mean",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        lo, hi = LOG_Z_RANGE
        if not (lo <= alpha_lo < alpha_hi <= hi):
            raise ValueError(f"need {lo:g} <= alpha_lo < alpha_hi <= {hi:g}")
        if alpha_init is None:
            alpha_init = 0.5 * (alpha_lo + alpha_hi)
        if not (alpha_lo < alpha_init < alpha_hi):
            raise ValueError("alpha_init must lie strictly between alpha_lo and alpha_hi")
        if not (scale_lo > 0 and scale_init > scale_lo):
            raise ValueError("need 0 < scale_lo < scale_init")
        if reduction not in ("mean", "sum", "none"):
            raise ValueError("reduction must be 'mean', 'sum' or 'none'")
        self.num_dims, self.reduction = num_dims, reduction
        self.alpha_lo, self.alpha_hi, self.scale_lo = alpha_lo, alpha_hi, scale_lo
        t = (alpha_init - alpha_lo) / (alpha_hi - alpha_lo)
        self.latent_alpha = nn.Parameter(
            torch.full((num_dims,), math.log(t / (1 - t)), dtype=dtype)
        )
        latent = _inverse_softplus(scale_init - scale_lo)
        self.latent_scale = nn.Parameter(torch.full((num_dims,), latent, dtype=dtype))

    def alpha(self) -> torch.Tensor:
        return self.alpha_lo + (self.alpha_hi - self.alpha_lo) * torch.sigmoid(self.latent_alpha)

    def scale(self) -> torch.Tensor:
        return nn.functional.softplus(self.latent_scale) + self.scale_lo

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1:] != (self.num_dims,):
            raise ValueError(f"the last axis of x must have {self.num_dims} entries")
        alpha, scale = self.alpha(), self.scale()
        nll = general_rho(x, alpha, scale) + torch.log(scale) + log_partition(alpha)
        if self.reduction == "mean":
            return nll.mean()
        return nll.sum() if self.reduction == "sum" else nll

    def extra_repr(self) -> str:
        return f"num_dims={self.num_dims}, alpha in ({self.alpha_lo:g}, {self.alpha_hi:g})"


__all__ = ["AdaptiveRobustLoss", "general_rho", "log_partition", "partition_integral"]
