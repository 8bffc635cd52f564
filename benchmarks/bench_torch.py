"""Forward + backward time and peak memory of lossatlas on torch (CPU), beside a reference.

For each elementwise loss, at N = 10^7 float32 by default, lossatlas's default call (native
kernel, closed-form autograd.Function or dedicated Function) is measured beside the references
below; ``cross_entropy`` is measured beside ``F.cross_entropy`` at (B, C) = (65536, 10),
(16384, 1000), (2048, 32000) and (512, 128256) float32 logits with integer labels (and with
label smoothing, a z-loss and a soft-cap, beside the torch formula for them), and
``softmax_focal_loss`` and ``poly1_cross_entropy`` at (16384, 1000) beside their composed
array-API definitions and beside the short torch formulas users write (log_softmax of the true
class). The references are:
- torch's native loss where one exists (``F.huber_loss`` ...);
- torchvision's composed focal-loss formula for ``focal_loss`` (torchvision.ops.sigmoid_focal_loss,
  written out here as torchvision does: sigmoid, BCE, p_t, (1 - p_t)**gamma, alpha_t);
- otherwise lossatlas's own composed array-API definition (what you would get without the
  closed-form backward).

Implementations are interleaved (A B A B ...) in one process and the medians compared, so the
ratios hold on a noisy shared machine. Peak memory is the rise of VmHWM over the resident size
before the call (after a warm-up call), after resetting the high-water mark through
/proc/self/clear_refs, in a fresh process per case: in one process the allocator keeps what
earlier cases freed and hides a later case's peak.

    python benchmarks/bench_torch.py                 # full table, N = 1e7
    python benchmarks/bench_torch.py --n 100000 --repeats 3 --losses huber,focal_loss
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import zlib
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from _memory import peak_in_a_fresh_process, reset_peak, resident_kb

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


def torch_softmax_focal(z: torch.Tensor, y: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """The softmax focal loss as it is usually written in torch: log_softmax, then the true
    class's (1 - p)^gamma log p, reduction "mean"."""
    log_p = F.log_softmax(z, dim=-1).gather(-1, y.unsqueeze(-1)).squeeze(-1)
    return (-((1 - log_p.exp()) ** gamma) * log_p).mean()


def torch_poly1(z: torch.Tensor, y: torch.Tensor, epsilon: float = 1.0) -> torch.Tensor:
    """Poly-1 as the PolyLoss paper's code writes it: cross entropy + epsilon (1 - p_y)."""
    p_y = F.softmax(z, dim=-1).gather(-1, y.unsqueeze(-1)).squeeze(-1)
    return (F.cross_entropy(z, y, reduction="none") + epsilon * (1 - p_y)).mean()


TORCH_FORMULAS = {"softmax_focal_loss": torch_softmax_focal, "poly1_cross_entropy": torch_poly1}

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


def cases(args: argparse.Namespace) -> Iterator[tuple[str, str, Callable[[], tuple], Case, Case]]:
    """(row, reference name, make inputs, lossatlas, reference), the same in every process."""
    wanted = {la.get(n).name for n in args.losses.split(",") if n}
    for loss in la.catalog():
        if not loss.spec.elementwise or (wanted and loss.name not in wanted):
            continue

        def make(loss=loss):
            gen = torch.Generator().manual_seed(zlib.crc32(loss.name.encode()))
            pred, target = inputs(loss, args.n, gen)
            var = torch.rand(args.n, generator=gen) + 0.5
            return pred.requires_grad_(True), target, var

        if loss.name == "gaussian_nll":
            ref_name = "F.gaussian_nll_loss"

            def ref(p, t, var):
                return F.gaussian_nll_loss(p, t, var)

            def ours(p, t, var, loss=loss):
                return loss(p, t, var)
        else:
            if loss.name in NATIVE:
                ref_name, native = NATIVE[loss.name]

                def ref(p, t, var, native=native):
                    return native(p, t)
            else:
                ref_name = "composed array API"

                def ref(p, t, var, loss=loss):
                    return loss.composed(p, t)

            def ours(p, t, var, loss=loss):
                return loss(p, t)

        yield loss.name, ref_name, make, ours, ref
    for name in ("softmax_focal_loss", "poly1_cross_entropy"):  # beside their composed form
        if wanted and name not in wanted:
            continue
        loss = la.get(name)
        for shape in filter(None, args.axis_shapes.split(",")):
            b, c = (int(v) for v in shape.split("x"))

            def make_axis(b=b, c=c):
                gen = torch.Generator().manual_seed(b + c)
                logits = (torch.randn(b, c, generator=gen) * 3).requires_grad_(True)
                return logits, torch.randint(0, c, (b,), generator=gen), None

            yield (
                f"{name} ({b}, {c})",
                "composed array API",
                make_axis,
                lambda z, y, _, loss=loss: loss(z, y),
                lambda z, y, _, loss=loss: loss.composed(z, y),
            )
            yield (
                f"{name} ({b}, {c}) ",
                "torch formula",
                make_axis,
                lambda z, y, _, loss=loss: loss(z, y),
                lambda z, y, _, name=name: TORCH_FORMULAS[name](z, y),
            )
    if wanted and "cross_entropy" not in wanted:
        return
    for shape in filter(None, args.ce_shapes.split(",")):
        b, c = (int(v) for v in shape.split("x"))

        def make_ce(b=b, c=c):
            gen = torch.Generator().manual_seed(b * c)
            logits = torch.randn(b, c, generator=gen).requires_grad_(True)
            return logits, torch.randint(0, c, (b,), generator=gen), None

        yield (
            f"cross_entropy ({b}, {c})",
            "F.cross_entropy",
            make_ce,
            lambda z, y, _: la.cross_entropy(z, y),
            lambda z, y, _: F.cross_entropy(z, y),
        )
        if args.ce_options:
            yield (
                f"cross_entropy ({b}, {c}), options",
                "torch formula",
                make_ce,
                lambda z, y, _: la.cross_entropy(z, y, **CE_OPTIONS),
                lambda z, y, _: torch_ce_with_options(z, y),
            )


#: label smoothing, a z-loss and a logit soft-cap, as language-model training uses them
CE_OPTIONS = {"label_smoothing": 0.1, "z_loss": 1e-4, "softcap": 30.0}


def torch_ce_with_options(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The same loss as it is written in torch: cap the logits, F.cross_entropy with label
    smoothing, plus the z-loss on the log-sum-exp."""
    c = CE_OPTIONS["softcap"]
    capped = c * torch.tanh(z / c)
    ce = F.cross_entropy(capped, y, label_smoothing=CE_OPTIONS["label_smoothing"])
    return ce + CE_OPTIONS["z_loss"] * torch.logsumexp(capped, dim=-1).square().mean()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--losses", default="", help="comma-separated names (default: all)")
    parser.add_argument(
        "--ce-shapes",
        default="65536x10,16384x1000,2048x32000,512x128256",
        help="(B, C) shapes of the cross entropy rows; empty for none",
    )
    parser.add_argument(
        "--ce-options",
        type=int,
        default=1,
        help="1: also each cross entropy shape with label smoothing, z-loss and softcap",
    )
    parser.add_argument(
        "--axis-shapes",
        default="16384x1000",
        help="(B, C) shapes of the softmax focal and poly-1 rows; empty for none",
    )
    parser.add_argument("--memory-of", nargs=2, metavar=("ROW", "WHICH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    shared = [f"--n={args.n}", f"--threads={args.threads}", f"--losses={args.losses}",
              f"--ce-shapes={args.ce_shapes}", f"--axis-shapes={args.axis_shapes}",
              f"--ce-options={args.ce_options}"]  # fmt: skip
    if args.memory_of:  # one memory measurement, in this fresh process
        row, which = args.memory_of
        for name, _, make, ours, ref in cases(args):
            if name == row:
                pred, target, var = make()
                chosen = ours if which == "ours" else ref

                def call(p, t, chosen=chosen, var=var):
                    return chosen(p, t, var)

                call(pred, target).backward()  # warm-up: the allocator and the kernels
                print(min(peak_mb(call, pred, target) for _ in range(3)))
                return 0
        raise SystemExit(f"no case {row!r}")
    print(
        f"torch {torch.__version__}, N = {args.n:.0e} float32, {args.threads} threads, "
        f"median of {args.repeats} interleaved forward+backward runs; peak memory in a "
        "fresh process per case",
        file=sys.stderr,
    )
    rows = []
    for name, ref_name, make, ours, ref in cases(args):
        pred, target, var = make()
        fns = [lambda p, t, f=f, var=var: f(p, t, var) for f in (ours, ref)]
        for fn in fns:  # warm-up
            run_once(fn, pred, target)
        times: list[list[float]] = [[], []]
        for _ in range(args.repeats):
            for i, fn in enumerate(fns):
                times[i].append(run_once(fn, pred, target))
        t_ours, t_ref = (statistics.median(t) * 1e3 for t in times)
        del pred, target, var
        m_ours = peak_in_a_fresh_process(__file__, [*shared, "--memory-of", name, "ours"])
        m_ref = peak_in_a_fresh_process(__file__, [*shared, "--memory-of", name, "ref"])
        rows.append((name, ref_name, t_ours, t_ref, m_ours, m_ref))
        print(f"  {name}: {t_ours:.1f} ms vs {t_ref:.1f} ms", file=sys.stderr)

    print(
        "| loss | reference | lossatlas ms | reference ms | time ratio | lossatlas MB "
        "| reference MB | memory ratio |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, ref_name, t_o, t_r, m_o, m_r in rows:
        mem_ratio = f"{m_o / m_r:.2f}" if min(m_o, m_r) >= 5 else "-"  # below resolution
        print(
            f"| {name} | {ref_name} | {t_o:.1f} | {t_r:.1f} | {t_o / t_r:.2f} "
            f"| {max(m_o, 0):.0f} | {max(m_r, 0):.0f} | {mem_ratio} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
