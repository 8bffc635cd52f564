"""CTC forward + backward time on torch and JAX (CPU), and the edit distance, beside their peers.

At (N, T, C, S) = (32, 200, 30, 40) by default: N sequences of T frames over C classes (blank
0), targets padded to S with lengths drawn from [S/2, S] and labels from 1..C-1, input lengths
T or up to a tenth less. The loss is the CTC loss of ``log_softmax(logits)``, reduction "mean"
(each sequence's loss over its target length, averaged), and the gradient is taken to the
logits.

- torch (float32, ``--threads`` threads): ``lossatlas.torch.CTCLoss()`` (time-major
  (T, N, C), torch's native kernel where it applies), ``lossatlas.torch.CTCLoss(native=False)``
  (the library's own recursion and derivative) and the core ``lossatlas.ctc_loss`` on
  batch-major (N, T, C) logits, each beside ``torch.nn.functional.ctc_loss``;
- JAX (float32): ``jax.jit(jax.value_and_grad(...))`` of ``lossatlas.ctc_loss`` beside the same
  of ``optax.ctc_loss`` (which takes the logits and paddings, ``arange(T) >= length``; its
  per-sequence losses are divided by the target lengths and averaged, the same loss), and the
  time to trace and compile both at T = ``--compile-t`` (1000);
- edit distance: ``lossatlas.sequence.edit_distance`` (``normalize=False``) on ``--pairs``
  (10^4) pairs of integer sequences of length ``--length`` (100; hypotheses are the truths with
  about 15% of their labels substituted and up to a tenth dropped), as padded arrays with
  length vectors, as lists of integer lists and as lists of strings, beside rapidfuzz's
  ``Levenshtein.distance`` in a Python loop over the pairs (given Python lists and strings,
  converted outside the timing) and ``rapidfuzz.process.cpdist`` (the pairwise batch call, one
  worker).

Implementations are interleaved (A B C A B C ...) after a warm-up call, in one process, and the
medians (time.perf_counter; JAX results blocked on) compared, so the ratios hold on a noisy
shared machine. Before timing, each result's distance from the peer's is printed on stderr and
flagged past float32 rounding (edit distances must be equal). The compile row times
``jit(...).lower(...).compile()`` of fresh functions, so nothing is cached.

On a machine whose cores are busy with other work, run torch with ``--threads 1``: with more
threads than idle cores, torch's small transcendental ops (``exp``, ``log`` on a (32, 81)
tensor) measured 8 ms each instead of 4 us, which charges a step-by-step recursion thousands of
times over and the native kernel a few times.

    python benchmarks/bench_ctc.py                    # the default sizes
    python benchmarks/bench_ctc.py --n 4 --t 20 --s 4 --pairs 50 --length 10 --repeats 2 \\
        --compile-t 30                                # a quick check
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

import numpy as np
from _timing import interleaved_medians

Row = tuple[str, str, float, float, str]  # name, peer, ours (ms), peer (ms), goal


def ratio_goal(most: float, ours: float, peer: float) -> str:
    return f"<= {most:.1f}x: {'met' if ours <= most * peer else 'missed'}"


def time_goal(most_ms: float, ours: float) -> str:
    most = f"{most_ms / 1e3:g} s" if most_ms >= 1e3 else f"{most_ms:g} ms"
    return f"< {most}: {'met' if ours < most_ms else 'missed'}"


def ctc_inputs(
    n: int, t: int, c: int, s: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Batch-major float32 logits (N, T, C), padded int64 targets (N, S) (labels 1..C-1, zero
    pads), input lengths (T or up to a tenth less) and target lengths in [S/2, S]."""
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal((n, t, c)) * 2).astype(np.float32)
    target_lengths = rng.integers(max(s // 2, 1), s + 1, size=n)
    targets = rng.integers(1, c, size=(n, s))
    targets[np.arange(s) >= target_lengths[:, None]] = 0
    input_lengths = t - rng.integers(0, t // 10 + 1, size=n)
    return logits, targets, input_lengths, target_lengths


def check(name: str, ours: np.ndarray, peer: np.ndarray, rtol: float) -> None:
    """Print on stderr how far a result is from the peer's, relative to the peer's largest
    magnitude, and flag it past ``rtol``."""
    scale = float(np.max(np.abs(peer))) or 1.0
    diff = float(np.max(np.abs(np.asarray(ours, np.float64) - peer))) / scale
    flag = "" if diff <= rtol else "  <-- DIFFERS"
    print(f"    {name}: max |ours - peer| / max |peer| = {diff:.1e}{flag}", file=sys.stderr)


#: float32 CTC gradients differ by float32 rounding in the recursions: at the default size torch's
#: native kernel and optax are 5e-4 and 3e-4 (of the largest entry) from a float64 computation
LOSS_RTOL, GRAD_RTOL = 1e-5, 2e-3


# ---------------------------------------------------------------------------------------------
# torch


def torch_rows(args: argparse.Namespace) -> list[Row]:
    import torch
    import torch.nn.functional as F

    import lossatlas as la
    import lossatlas.torch as lat

    torch.set_num_threads(args.threads)
    logits, targets, input_lengths, target_lengths = ctc_inputs(
        args.n, args.t, args.c, args.s, args.seed
    )
    tnc = torch.from_numpy(logits.transpose(1, 0, 2).copy()).requires_grad_(True)  # (T, N, C)
    ntc = torch.from_numpy(logits.copy()).requires_grad_(True)  # (N, T, C)
    y = torch.from_numpy(targets)
    il = torch.from_numpy(input_lengths)
    tl = torch.from_numpy(target_lengths)
    module = lat.CTCLoss()
    own = lat.CTCLoss(native=False)

    def step(leaf: torch.Tensor, loss: Callable[[torch.Tensor], torch.Tensor]):
        def run() -> tuple[torch.Tensor, torch.Tensor]:
            leaf.grad = None
            value = loss(F.log_softmax(leaf, dim=-1))
            value.backward()
            return value.detach(), leaf.grad

        return run

    def unchecked(lp: torch.Tensor) -> torch.Tensor:
        with la.config.override(check_values=False):
            return module(lp, y, il, tl)

    native = step(tnc, lambda lp: F.ctc_loss(lp, y, il, tl, blank=0, reduction="mean"))
    cases = {
        "lossatlas.torch.CTCLoss()": step(tnc, lambda lp: module(lp, y, il, tl)),
        "CTCLoss(), value checks off": step(tnc, unchecked),
        "lossatlas.torch.CTCLoss(native=False)": step(tnc, lambda lp: own(lp, y, il, tl)),
        "lossatlas.ctc_loss (N, T, C)": step(ntc, lambda lp: la.ctc_loss(lp, y, il, tl)),
    }
    ref_value, ref_grad = native()
    ref_grad = ref_grad.numpy().transpose(1, 0, 2)  # batch-major, to compare
    for name, fn in cases.items():
        value, grad = fn()
        grad = grad.numpy()
        check(f"{name} loss", value.numpy(), ref_value.numpy(), LOSS_RTOL)
        batch_major = grad if grad.shape == ref_grad.shape else grad.transpose(1, 0, 2)
        check(f"{name} grad", batch_major, ref_grad, GRAD_RTOL)
    t_native, *times = interleaved_medians([native, *cases.values()], args.repeats)
    goals = [ratio_goal(1.0, times[0], t_native), "", "", ""]  # the module's default path
    return [
        (name, "F.ctc_loss", t_ours, t_native, goal)
        for name, t_ours, goal in zip(cases, times, goals, strict=True)
    ]


# ---------------------------------------------------------------------------------------------
# JAX


def jax_functions() -> tuple[Callable, Callable]:
    """``jit(value_and_grad)`` of the lossatlas and the optax CTC losses of the logits, each
    called as ``f(logits, targets, input_lengths, target_lengths)``."""
    import jax
    import jax.numpy as jnp
    import optax

    import lossatlas as la

    def ours(logits, targets, input_lengths, target_lengths):
        return la.ctc_loss(
            jax.nn.log_softmax(logits, axis=-1), targets, input_lengths, target_lengths
        )

    def peer(logits, targets, input_lengths, target_lengths):
        t, s = logits.shape[1], targets.shape[1]
        logit_paddings = (jnp.arange(t) >= input_lengths[:, None]).astype(logits.dtype)
        label_paddings = (jnp.arange(s) >= target_lengths[:, None]).astype(logits.dtype)
        per_sequence = optax.ctc_loss(logits, logit_paddings, targets, label_paddings)
        return jnp.mean(per_sequence / target_lengths.astype(logits.dtype))

    return jax.jit(jax.value_and_grad(ours)), jax.jit(jax.value_and_grad(peer))


def jax_rows(args: argparse.Namespace) -> list[Row]:
    import jax
    import jax.numpy as jnp

    ours, peer = jax_functions()
    inputs = [jnp.asarray(a) for a in ctc_inputs(args.n, args.t, args.c, args.s, args.seed)]
    inputs[1:] = [a.astype(jnp.int32) for a in inputs[1:]]

    def run(f: Callable) -> Callable[[], tuple]:
        return lambda: jax.block_until_ready(f(*inputs))

    (v_ours, g_ours), (v_peer, g_peer) = run(ours)(), run(peer)()
    check("lossatlas.ctc_loss loss", np.asarray(v_ours), np.asarray(v_peer), LOSS_RTOL)
    check("lossatlas.ctc_loss grad", np.asarray(g_ours), np.asarray(g_peer), GRAD_RTOL)
    t_ours, t_peer = interleaved_medians([run(ours), run(peer)], args.repeats)
    rows: list[Row] = [
        (
            "lossatlas.ctc_loss, jit(value_and_grad)",
            "optax.ctc_loss",
            t_ours,
            t_peer,
            ratio_goal(1.5, t_ours, t_peer),
        )
    ]
    if args.compile_t:
        big = [jnp.asarray(a) for a in ctc_inputs(args.n, args.compile_t, args.c, args.s, 1)]
        big[1:] = [a.astype(jnp.int32) for a in big[1:]]
        compile_s, compiled = [], []
        for f in jax_functions():  # fresh jit wrappers: nothing cached
            start = time.perf_counter()
            compiled.append(f.lower(*big).compile())
            compile_s.append(time.perf_counter() - start)
        t = args.compile_t
        rows.append(
            (f"compile at T = {t} (lower + compile)", "optax.ctc_loss", compile_s[0] * 1e3,
             compile_s[1] * 1e3, time_goal(10_000, compile_s[0] * 1e3))
        )  # fmt: skip
        t_big = interleaved_medians(
            [lambda f=f: jax.block_until_ready(f(*big)) for f in compiled], args.repeats
        )
        rows.append((f"lossatlas.ctc_loss at T = {t}", "optax.ctc_loss", *t_big, ""))
    return rows


# ---------------------------------------------------------------------------------------------
# edit distance


def edit_inputs(
    pairs: int, length: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hypotheses (the truths with about 15% of the labels substituted and up to a tenth of them
    dropped) and truths, padded int64 (pairs, length) arrays over 26 labels, and the lengths."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 26, size=(pairs, length))
    noisy = np.where(rng.random(truth.shape) < 0.15, rng.integers(0, 26, truth.shape), truth)
    hyp_lengths = length - rng.integers(0, length // 10 + 1, size=pairs)
    keep = np.argsort(rng.random(truth.shape), axis=1)  # a random subset of positions, in order
    hyp = np.zeros_like(truth)
    for k in range(pairs):
        hyp[k, : hyp_lengths[k]] = noisy[k, np.sort(keep[k, : hyp_lengths[k]])]
    return hyp, hyp_lengths, truth, np.full(pairs, length)


def edit_rows(args: argparse.Namespace) -> list[Row]:
    from rapidfuzz import process
    from rapidfuzz.distance import Levenshtein

    from lossatlas.sequence import edit_distance

    hyp, hyp_lengths, truth, truth_lengths = edit_inputs(args.pairs, args.length, args.seed)
    h_lists = [row[:n].tolist() for row, n in zip(hyp, hyp_lengths, strict=True)]
    t_lists = [row[:n].tolist() for row, n in zip(truth, truth_lengths, strict=True)]
    h_str = ["".join(chr(97 + v) for v in seq) for seq in h_lists]
    t_str = ["".join(chr(97 + v) for v in seq) for seq in t_lists]

    forms = {
        "padded arrays + lengths": (
            lambda: edit_distance(hyp, truth, hypothesis_lengths=hyp_lengths,
                                  truth_lengths=truth_lengths, normalize=False),
            h_lists, t_lists,
        ),
        "lists of integer lists": (
            lambda: edit_distance(h_lists, t_lists, normalize=False), h_lists, t_lists
        ),
        "lists of strings": (lambda: edit_distance(h_str, t_str, normalize=False), h_str, t_str),
    }  # fmt: skip
    rows: list[Row] = []
    for form, (ours, h, t) in forms.items():

        def loop(h=h, t=t) -> np.ndarray:
            return np.array([Levenshtein.distance(a, b) for a, b in zip(h, t, strict=True)])

        def batch(h=h, t=t) -> np.ndarray:
            return process.cpdist(h, t, scorer=Levenshtein.distance, workers=1)

        expected = loop()
        check(f"edit_distance, {form}", ours(), expected, rtol=0)
        check(f"cpdist, {form}", batch(), expected, rtol=0)
        t_ours, t_loop, t_batch = interleaved_medians([ours, loop, batch], args.repeats)
        name = f"edit_distance, {form}"
        rows.append((name, "Levenshtein.distance loop", t_ours, t_loop, time_goal(1000, t_ours)))
        rows.append((name, "process.cpdist", t_ours, t_batch, ""))
    return rows


# ---------------------------------------------------------------------------------------------


def ms(t: float) -> str:
    return f"{t:.1f}" if t >= 10 else f"{t:.2f}" if t >= 0.1 else f"{t:.3f}"


def table(title: str, rows: list[Row]) -> None:
    print(f"\n{title}\n")
    print("| case | peer | lossatlas ms | peer ms | ratio | goal |")
    print("|---|---|---:|---:|---:|---|")
    for name, peer, t_ours, t_peer, goal in rows:
        print(f"| {name} | {peer} | {ms(t_ours)} | {ms(t_peer)} | {t_ours / t_peer:.2f} | {goal} |")


def machine(args: argparse.Namespace, sections: set[str]) -> str:
    parts = [f"{os.cpu_count()} CPUs"]
    if "torch" in sections:
        import torch

        parts.append(f"torch {torch.__version__} ({args.threads} threads)")
    if "jax" in sections:
        import jax
        import optax

        parts.append(
            f"jax {jax.__version__} ({jax.devices()[0].platform}), optax {optax.__version__}"
        )
    if "edit" in sections:
        import rapidfuzz

        parts.append(f"rapidfuzz {rapidfuzz.__version__}")
    return ", ".join(parts) + f"; median of {args.repeats} interleaved runs after a warm-up"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=32, help="CTC batch size")
    parser.add_argument("--t", type=int, default=200, help="CTC frames")
    parser.add_argument("--c", type=int, default=30, help="CTC classes, the blank included")
    parser.add_argument("--s", type=int, default=40, help="CTC padded target length")
    parser.add_argument("--compile-t", type=int, default=1000, help="JAX compile at T; 0: skip")
    parser.add_argument("--pairs", type=int, default=10_000, help="edit-distance pairs")
    parser.add_argument("--length", type=int, default=100, help="edit-distance sequence length")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sections", default="torch,jax,edit", help="comma-separated")
    args = parser.parse_args(argv)
    sections = set(filter(None, args.sections.split(",")))
    if unknown := sections - {"torch", "jax", "edit"}:
        parser.error(f"unknown sections {sorted(unknown)}")
    frames = [args.t, *([args.compile_t] if args.compile_t and "jax" in sections else [])]
    if {"torch", "jax"} & sections and min(t - t // 10 for t in frames) < 2 * args.s + 1:
        parser.error("T less a tenth must hold 2 S + 1 frames (every target feasible)")

    print(machine(args, sections))
    size = f"(N, T, C, S) = ({args.n}, {args.t}, {args.c}, {args.s}), float32"
    if "torch" in sections:
        print("torch CTC:", file=sys.stderr)
        table(f"CTC forward + backward on torch, {size}:", torch_rows(args))
    if "jax" in sections:
        print("JAX CTC:", file=sys.stderr)
        table(f"CTC forward + backward on JAX, {size}:", jax_rows(args))
    if "edit" in sections:
        print("edit distance:", file=sys.stderr)
        table(
            f"Edit distance, {args.pairs} pairs of length {args.length} (hypotheses up to a "
            "tenth shorter):",
            edit_rows(args),
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
