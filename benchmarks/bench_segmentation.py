"""Dice loss forward + backward on torch (CPU, float32) beside MONAI's DiceLoss.

At (N, C, H, W) = (16, 4, 256, 256) by default, gradients to the logits, reduction "mean"
(over samples and classes), smooth 1 in the numerator and the denominator on both sides:

- "softmax, class indices": ``lossatlas.torch.DiceLoss(mode="multiclass", from_logits=True)``
  on (N, H, W) integer labels, beside ``monai.losses.DiceLoss(softmax=True, to_onehot_y=True,
  smooth_nr=1, smooth_dr=1)`` on the same labels as (N, 1, H, W);
- "sigmoid, multilabel": ``lossatlas.torch.DiceLoss(mode="multilabel", from_logits=True)``
  beside ``monai.losses.DiceLoss(sigmoid=True, smooth_nr=1, smooth_dr=1)``, targets of the
  logits' shape in {0, 1}.

Times are medians of interleaved runs (A B A B ...) after a warm-up, in one process; before
timing, each loss's distance from MONAI's is printed on stderr and flagged past float32
rounding. Peak memory is the rise of VmHWM over the resident size before the call, in a fresh
process per case (benchmarks/_memory.py), the logits' gradient included.

    python benchmarks/bench_segmentation.py                                # the default size
    python benchmarks/bench_segmentation.py --n 2 --size 32 --repeats 2    # a quick check
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

import monai
import torch
from _memory import peak_mb, peaks_ours_and_peer
from _timing import interleaved_medians
from monai.losses import DiceLoss as MonaiDiceLoss

import lossatlas.torch as lt

CASES = ("softmax", "sigmoid")
LABELS = {
    "softmax": ("softmax, class indices", "DiceLoss(softmax=True, to_onehot_y=True)"),
    "sigmoid": ("sigmoid, multilabel", "DiceLoss(sigmoid=True)"),
}


def inputs(args: argparse.Namespace, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(args.seed)
    shape = (args.n, args.c, args.size, args.size)
    logits = torch.randn(shape, generator=g) * 2.0
    if name == "softmax":
        return logits, torch.randint(0, args.c, (args.n, args.size, args.size), generator=g)
    return logits, (torch.rand(shape, generator=g) < 0.3).float()


def criteria(name: str) -> tuple[Callable, Callable]:
    """(ours, MONAI's) as functions of (logits, labels)."""
    if name == "softmax":
        ours = lt.DiceLoss(mode="multiclass", from_logits=True)
        peer = MonaiDiceLoss(softmax=True, to_onehot_y=True, smooth_nr=1.0, smooth_dr=1.0)
        return ours, lambda x, y: peer(x, y[:, None])
    ours = lt.DiceLoss(mode="multilabel", from_logits=True)
    peer = MonaiDiceLoss(sigmoid=True, smooth_nr=1.0, smooth_dr=1.0)
    return ours, peer


def case(name: str, side: int, args: argparse.Namespace) -> Callable[[], torch.Tensor]:
    logits, labels = inputs(args, name)
    fn = criteria(name)[side]

    def run() -> torch.Tensor:
        x = logits.detach().requires_grad_()
        loss = fn(x, labels)
        loss.backward()
        return loss.detach()

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--c", type=int, default=4)
    parser.add_argument("--size", type=int, default=256, help="H = W")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory-of", metavar="CASE:SIDE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    shared = [f"--n={args.n}", f"--c={args.c}", f"--size={args.size}", f"--seed={args.seed}"]
    shared.append(f"--threads={args.threads}")
    if args.memory_of:  # one memory measurement, in this fresh process
        name, side = args.memory_of.split(":")
        run = case(name, int(side), args)
        run()  # warm-up
        print(min(peak_mb(run) for _ in range(2)))
        return 0

    size = f"(N, C, H, W) = ({args.n}, {args.c}, {args.size}, {args.size})"
    print(
        f"{os.cpu_count()} CPUs, torch {torch.__version__} ({args.threads} threads), MONAI "
        f"{monai.__version__}, {size} float32; median of {args.repeats} interleaved runs after "
        "a warm-up; peak memory in a fresh process per case"
    )
    print("\n| case | peer | lossatlas ms | MONAI ms | time ratio | lossatlas MB | MONAI MB "
          "| memory ratio |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name in CASES:
        label, peer = LABELS[name]
        ours_run, peer_run = case(name, 0, args), case(name, 1, args)
        a, b = float(ours_run()), float(peer_run())
        flag = "" if abs(a - b) <= 1e-5 * max(abs(b), 1.0) else "  DIFFERS"
        print(f"  {label}: lossatlas {a:.7f}, MONAI {b:.7f}{flag}", file=sys.stderr)
        t_ours, t_peer = interleaved_medians([ours_run, peer_run], args.repeats)
        del ours_run, peer_run
        m_ours, m_peer = peaks_ours_and_peer(__file__, shared, name)
        mem_ratio = f"{m_ours / m_peer:.2f}" if m_peer >= 5 else "-"
        print(
            f"| {label} | MONAI {peer} | {t_ours:.1f} | {t_peer:.1f} | {t_ours / t_peer:.2f} "
            f"| {m_ours:.0f} | {m_peer:.0f} | {mem_ratio} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
