"""Forward + backward time and peak memory of the fused linear + cross entropy (CPU, float32).

At (tokens, hidden, vocab) = (4096, 2048, 32000) by default, with gradients to the hidden
states and to the weight (no bias, as in most language-model heads), in one run:

- ``ours``: ``lossatlas.torch.linear_cross_entropy`` (token chunks, gradients computed in the
  forward pass, never the (tokens, vocab) logits);
- ``naive``: ``F.cross_entropy(F.linear(hidden, weight), target)``;
- ``compiled``: ``torch.compile`` of the naive version;
- ``cce``: Cut Cross-Entropy's ``linear_cross_entropy(..., impl="torch_compile")`` (its path
  off NVIDIA GPUs), where ``cut_cross_entropy`` is importable.

Times are medians of interleaved runs (A B C D A B C D ...) in one process, so the ratios hold
on a noisy shared machine. Peak memory is the rise of VmHWM over the resident size before the
call (after a warm-up call, and after resetting the high-water mark through
/proc/self/clear_refs), in a fresh process per case (see benchmarks/_memory.py). It includes
the gradient outputs, which any method must hold (the weight's alone is vocab x hidden x 4
bytes, 262 MB at the default size); the table also gives the peak without them.

    python benchmarks/bench_linear_ce.py            # the default size (a few minutes)
    python benchmarks/bench_linear_ce.py --small    # a quick check
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from _memory import peak_in_a_fresh_process, reset_peak, resident_kb

from lossatlas.torch import linear_cross_entropy

Case = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
NAMES = ("ours", "naive", "compiled", "cce")
LABELS = {
    "ours": "lossatlas linear_cross_entropy",
    "naive": "F.linear + F.cross_entropy",
    "compiled": "torch.compile(naive)",
    "cce": 'CCE linear_cross_entropy(impl="torch_compile")',
}


def naive(h: torch.Tensor, w: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(F.linear(h, w), y)


def make_case(name: str) -> Case | None:
    """The implementation called ``name``, or None where it is not available."""
    if name == "ours":
        return linear_cross_entropy
    if name == "naive":
        return naive
    if name == "compiled":
        return torch.compile(naive)
    try:
        from cut_cross_entropy import linear_cross_entropy as cce
    except ImportError:
        return None

    def run_cce(h, w, y):
        return cce(h, w, y, impl="torch_compile")

    return run_cce


def make_inputs(args: argparse.Namespace) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    h = torch.randn(args.tokens, args.hidden, generator=gen).requires_grad_(True)
    w = (torch.randn(args.vocab, args.hidden, generator=gen) / args.hidden**0.5).requires_grad_(
        True
    )
    y = torch.randint(0, args.vocab, (args.tokens,), generator=gen)
    return h, w, y


def run_once(fn: Case, h: torch.Tensor, w: torch.Tensor, y: torch.Tensor) -> float:
    h.grad = w.grad = None
    start = time.perf_counter()
    fn(h, w, y).backward()
    return time.perf_counter() - start


def peak_mb(fn: Case, h: torch.Tensor, w: torch.Tensor, y: torch.Tensor) -> float:
    h.grad = w.grad = None
    before = reset_peak()
    fn(h, w, y).backward()
    return float("nan") if before is None else (resident_kb("VmHWM") - before) / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=4096)
    parser.add_argument("--hidden", type=int, default=2048)
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--small", action="store_true", help="(512, 256, 8192), 3 repeats")
    parser.add_argument("--memory-of", metavar="CASE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.small:
        args.tokens, args.hidden, args.vocab, args.repeats = 512, 256, 8192, 3
    torch.set_num_threads(args.threads)
    shared = [
        f"--tokens={args.tokens}",
        f"--hidden={args.hidden}",
        f"--vocab={args.vocab}",
        f"--threads={args.threads}",
    ]
    if args.memory_of:  # one memory measurement, in this fresh process
        fn = make_case(args.memory_of)
        h, w, y = make_inputs(args)
        run_once(fn, h, w, y)  # warm-up: the allocator, the kernels, compilation
        print(min(peak_mb(fn, h, w, y) for _ in range(2)))
        return 0
    grads_mb = (args.tokens + args.vocab) * args.hidden * 4 / 2**20
    print(
        f"torch {torch.__version__}, (tokens, hidden, vocab) = ({args.tokens}, {args.hidden}, "
        f"{args.vocab}) float32, {args.threads} threads, median of {args.repeats} interleaved "
        "forward+backward runs; peak memory in a fresh process per case",
        file=sys.stderr,
    )
    fns = {name: make_case(name) for name in NAMES}
    fns = {name: fn for name, fn in fns.items() if fn is not None}
    h, w, y = make_inputs(args)
    for name, fn in fns.items():  # warm-up (and compilation)
        start = time.perf_counter()
        run_once(fn, h, w, y)
        print(f"  warm-up {name}: {time.perf_counter() - start:.1f} s", file=sys.stderr)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(args.repeats):
        for name, fn in fns.items():
            times[name].append(run_once(fn, h, w, y))
    del h, w, y
    ms = {name: statistics.median(t) * 1e3 for name, t in times.items()}
    mem = {name: peak_in_a_fresh_process(__file__, [*shared, "--memory-of", name]) for name in fns}
    print(
        "| implementation | ms | time vs naive | peak MB | memory vs naive "
        f"| peak without the gradients ({grads_mb:.0f} MB) MB | vs naive |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in NAMES:
        if name not in fns:
            print(f"| {LABELS[name]} | not installed | | | | | |")
            continue
        extra, extra_ref = mem[name] - grads_mb, mem["naive"] - grads_mb

        def ratio(a: float, b: float) -> str:
            return f"{a / b:.2f}" if b >= 5 else "-"  # below the resolution of VmHWM

        print(
            f"| {LABELS[name]} | {ms[name]:.0f} | {ms[name] / ms['naive']:.2f} "
            f"| {max(mem[name], 0):.0f} | {ratio(max(mem[name], 0), mem['naive'])} "
            f"| {max(extra, 0):.0f} | {ratio(max(extra, 0), extra_ref)} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
