"""Forward + backward time and peak memory of lossatlas on torch (CPU), beside a reference.

For each elementwise loss, at N = 10^7 float32 by default, lossatlas's default call (native
kernel, closed-form autograd.Function or dedicated Function) is measured beside the references
below; ``cross_entropy`` is measured beside ``F.cross_entropy`` at (B, C) = (65536, 10),
(16384, 1000) and (2048, 32000) float32 logits with integer labels. The references are:
- torch's native loss where one exists (``F.huber_loss`` ...);
- torchvision's composed focal-loss formula for ``focal_loss`` (torchvision.ops.sigmoid_focal_loss,
  written out here as torchvision does: sigmoid, BCE, p_t, (1 - p_t)**gamma, alpha_t);
- otherwise lossatlas's own composed array-API definition (what you would get without the
  closed-form backward).

Implementations are interleaved (A B A B ...) in one process and the medians compared, so the
ratios hold on a noisy shared machine. Peak memory is the rise of VmHWM over the resident size
before the call, after resetting the high-water mark through /proc/self/clear_refs.

    python benchmarks/bench_torch.py                 # full table, N = 1e7
    python benchmarks/bench_torch.py --n 100000 --repeats 3 --losses huber,focal_loss
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from _memory import reset_peak, resident_kb

import lossatlas as la

Case = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def torchvision_focal(
    x: torch.Tensor, y: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0
) -> torch.Tensor:
    """torchvision.ops.sigmoid_focal_loss (v0.20) formula, reduction "mean"."""
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * ((1 - p_t) ** gamma)
    alpha_t = alpha * y + (1 - alpha) * (1 - y)
    return (alpha_t * loss).mean()


NATIVE: dict[str, tuple[str, Case]] = {
    "mae": ("F.l1_loss", F.l1_loss),
    "mse": ("F.mse_loss", F.mse_loss),
    "huber": ("F.huber_loss", F.huber_loss),
    "smooth_l1": ("F.smooth_l1_loss", F.smooth_l1_loss),
    "poisson_nll": ("F.poisson_nll_loss", F.poisson_nll_loss),
    "binary_cross_entropy": ("F.binary_cross_entropy", F.binary_cross_entropy),
    "binary_cross_entropy_with_logits": (
        "F.binary_cross_entropy_with_logits",
        F.binary_cross_entropy_with_logits,
    ),
    "logistic_loss": ("F.soft_margin_loss", F.soft_margin_loss),
    "focal_loss": ("torchvision formula", torchvision_focal),
}


def inputs(loss: la.Loss, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    spec = loss.spec
    if spec.pred_domain == "probability":
        pred = torch.rand(n, generator=gen) * 0.98 + 0.01
    else:
        pred = torch.randn(n, generator=gen) * 2
    if spec.target_domain == "binary":
        target = (torch.rand(n, generator=gen) > 0.5).float()
    elif spec.target_domain == "sign":
        target = (torch.rand(n, generator=gen) > 0.5).float() * 2 - 1
    elif spec.target_domain == "nonnegative":
        target = torch.poisson(torch.full((n,), 2.0), generator=gen)
    else:
        target = torch.randn(n, generator=gen)
    return pred, target


def run_once(fn: Case, pred: torch.Tensor, target: torch.Tensor) -> float:
    pred.grad = None
    start = time.perf_counter()
    fn(pred, target).backward()
    return time.perf_counter() - start


def peak_mb(fn: Case, pred: torch.Tensor, target: torch.Tensor) -> float:
    pred.grad = None
    before = reset_peak()
    fn(pred, target).backward()
    return float("nan") if before is None else (resident_kb("VmHWM") - before) / 1024


def measure(cases: list[Case], pred, target, repeats: int) -> tuple[list[float], list[float]]:
    for fn in cases:  # warm-up
        run_once(fn, pred, target)
    times: list[list[float]] = [[] for _ in cases]
    for _ in range(repeats):
        for i, fn in enumerate(cases):
            times[i].append(run_once(fn, pred, target))
    mems = [min(peak_mb(fn, pred, target) for _ in range(2)) for fn in cases]
    return [statistics.median(t) * 1e3 for t in times], mems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--losses", default="", help="comma-separated names (default: all)")
    parser.add_argument(
        "--ce-shapes",
        default="65536x10,16384x1000,2048x32000",
        help="(B, C) shapes of the cross entropy rows; empty for none",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    wanted = {la.get(n).name for n in args.losses.split(",") if n}
    rows = []
    print(
        f"torch {torch.__version__}, N = {args.n:.0e} float32, {args.threads} threads, "
        f"median of {args.repeats} interleaved forward+backward runs",
        file=sys.stderr,
    )
    for loss in la.catalog():
        if not loss.spec.elementwise or (wanted and loss.name not in wanted):
            continue
        pred, target = inputs(loss, args.n, gen)
        pred.requires_grad_(True)
        extra: tuple[torch.Tensor, ...] = ()
        if loss.name == "gaussian_nll":
            var = torch.rand(args.n, generator=gen) + 0.5
            extra = (var,)
            ref_name = "F.gaussian_nll_loss"

            def ref(p, t, var=var):
                return F.gaussian_nll_loss(p, t, var)
        elif loss.name in NATIVE:
            ref_name, ref = NATIVE[loss.name]
        else:
            ref_name = "composed array API"

            def ref(p, t, loss=loss):
                return loss.composed(p, t)

        def ours(p, t, loss=loss, extra=extra):
            return loss(p, t, *extra)

        (t_ours, t_ref), (m_ours, m_ref) = measure([ours, ref], pred, target, args.repeats)
        rows.append((loss.name, ref_name, t_ours, t_ref, m_ours, m_ref))
        print(f"  {loss.name}: {t_ours:.1f} ms vs {t_ref:.1f} ms", file=sys.stderr)
        del pred, target, extra

    if not wanted or "cross_entropy" in wanted:
        for shape in filter(None, args.ce_shapes.split(",")):
            b, c = (int(v) for v in shape.split("x"))
            logits = torch.randn(b, c, generator=gen).requires_grad_(True)
            labels = torch.randint(0, c, (b,), generator=gen)
            (t_ours, t_ref), (m_ours, m_ref) = measure(
                [la.cross_entropy, F.cross_entropy], logits, labels, args.repeats
            )
            rows.append((f"cross_entropy ({b}, {c})", "F.cross_entropy", t_ours, t_ref,
                         m_ours, m_ref))  # fmt: skip
            print(f"  cross_entropy {shape}: {t_ours:.1f} ms vs {t_ref:.1f} ms", file=sys.stderr)
            del logits, labels

    print(
        "| loss | reference | lossatlas ms | reference ms | time ratio | lossatlas MB "
        "| reference MB | memory ratio |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, ref_name, t_o, t_r, m_o, m_r in rows:
        mem_ratio = f"{m_o / m_r:.2f}" if m_r > 1 else "-"
        print(
            f"| {name} | {ref_name} | {t_o:.1f} | {t_r:.1f} | {t_o / t_r:.2f} | {m_o:.0f} "
            f"| {m_r:.0f} | {mem_ratio} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
