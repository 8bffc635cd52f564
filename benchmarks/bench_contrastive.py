"""clip_loss and siglip_loss forward + backward on torch (CPU, float32) beside open_clip's
formulas.

At batch N = 4096 and dim D = 512 by default, gradients to both embeddings and to the
learnable logit_scale (and logit_bias): ``lossatlas.clip_loss(x, y, logit_scale=s)`` and
``lossatlas.siglip_loss(x, y, logit_scale=s, logit_bias=b)`` (which L2-normalise inside)
beside open_clip's ``ClipLoss`` and ``SigLipLoss`` on one process, restated from
open_clip/src/open_clip/loss.py (open_clip needs torchvision, which does not import beside
torch 2.13) and given ``F.normalize``'d features, as open_clip's model normalises them:

- ClipLoss: logits_per_image = s * x @ y.T, logits_per_text = s * y @ x.T,
  (cross_entropy(logits_per_image, arange) + cross_entropy(logits_per_text, arange)) / 2;
- SigLipLoss: logits = s * x @ y.T + b, labels = 2 eye - 1,
  -logsigmoid(labels * logits).sum() / N.

Times are medians of interleaved runs (A B A B ...) after a warm-up, in one process; before
timing, each loss's distance from open_clip's is printed on stderr and flagged past float32
rounding. Peak memory is the rise of VmHWM over the resident size before the call, in a fresh
process per case (benchmarks/_memory.py), the gradients included.

    python benchmarks/bench_contrastive.py                              # the default size
    python benchmarks/bench_contrastive.py --n 512 --dim 64 --repeats 2  # a quick check
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

import torch
import torch.nn.functional as F
from _memory import peak_mb, peaks_ours_and_peer
from _timing import interleaved_medians

import lossatlas

CASES = ("clip", "siglip")
LABELS = {"clip": "clip_loss", "siglip": "siglip_loss"}
SCALE, BIAS = 14.285714, -10.0  # CLIP's initial 1/0.07; SigLIP's starting bias


def open_clip_clip(x: torch.Tensor, y: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    x, y = F.normalize(x, dim=-1), F.normalize(y, dim=-1)
    labels = torch.arange(x.shape[0])
    per_image = s * x @ y.T
    per_text = s * y @ x.T
    return (F.cross_entropy(per_image, labels) + F.cross_entropy(per_text, labels)) / 2


def open_clip_siglip(x: torch.Tensor, y: torch.Tensor, s: torch.Tensor,
                     b: torch.Tensor) -> torch.Tensor:  # fmt: skip
    x, y = F.normalize(x, dim=-1), F.normalize(y, dim=-1)
    logits = s * x @ y.T + b
    labels = 2 * torch.eye(x.shape[0], dtype=logits.dtype) - 1
    return -F.logsigmoid(labels * logits).sum() / x.shape[0]


def ours_clip(x: torch.Tensor, y: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    return lossatlas.clip_loss(x, y, logit_scale=s)


def ours_siglip(x: torch.Tensor, y: torch.Tensor, s: torch.Tensor,
                b: torch.Tensor) -> torch.Tensor:  # fmt: skip
    return lossatlas.siglip_loss(x, y, logit_scale=s, logit_bias=b)


def case(name: str, side: int, args: argparse.Namespace) -> Callable[[], torch.Tensor]:
    g = torch.Generator().manual_seed(args.seed)
    x0 = torch.randn(args.n, args.dim, generator=g)
    # text features correlated with their images, as after some training
    y0 = x0 + torch.randn(args.n, args.dim, generator=g)
    fn = {("clip", 0): ours_clip, ("clip", 1): open_clip_clip,
          ("siglip", 0): ours_siglip, ("siglip", 1): open_clip_siglip}[name, side]  # fmt: skip
    extra = [SCALE] if name == "clip" else [SCALE, BIAS]

    def run() -> torch.Tensor:
        x = x0.detach().requires_grad_()
        y = y0.detach().requires_grad_()
        params = [torch.tensor(v, requires_grad=True) for v in extra]
        loss = fn(x, y, *params)
        loss.backward()
        return loss.detach()

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4096)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory-of", metavar="CASE:SIDE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    shared = [f"--n={args.n}", f"--dim={args.dim}", f"--seed={args.seed}",
              f"--threads={args.threads}"]  # fmt: skip
    if args.memory_of:  # one memory measurement, in this fresh process
        name, side = args.memory_of.split(":")
        run = case(name, int(side), args)
        run()  # warm-up
        print(min(peak_mb(run) for _ in range(2)))
        return 0

    print(
        f"{os.cpu_count()} CPUs, torch {torch.__version__} ({args.threads} threads), "
        f"N = {args.n}, D = {args.dim}, float32, forward + backward (embeddings and "
        f"logit_scale); median of {args.repeats} interleaved runs after a warm-up; peak memory "
        "in a fresh process per case"
    )
    print("\n| loss | peer (restated) | lossatlas ms | open_clip ms | time ratio | lossatlas MB "
          "| open_clip MB | memory ratio |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name in CASES:
        label = LABELS[name]
        peer = "ClipLoss" if name == "clip" else "SigLipLoss"
        ours_run, peer_run = case(name, 0, args), case(name, 1, args)
        a, b = float(ours_run()), float(peer_run())
        flag = "" if abs(a - b) <= 1e-5 * max(abs(b), 1.0) else "  DIFFERS"
        print(f"  {label}: lossatlas {a:.7f}, open_clip {b:.7f}{flag}", file=sys.stderr)
        t_ours, t_peer = interleaved_medians([ours_run, peer_run], args.repeats)
        del ours_run, peer_run
        m_ours, m_peer = peaks_ours_and_peer(__file__, shared, name)
        mem_ratio = f"{m_ours / m_peer:.2f}" if m_peer >= 5 else "-"
        print(
            f"| {label} | open_clip {peer} | {t_ours:.1f} | {t_peer:.1f} | "
            f"{t_ours / t_peer:.2f} | {m_ours:.0f} | {m_peer:.0f} | {mem_ratio} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
