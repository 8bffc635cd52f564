"""Study ``ctc``: a tiny convolutional model learns to read digit strips with ``ctc_loss``.

Data: seeded synthetic "strips". Each strip spells 3 to 6 digits (labels 1..10; 0 is the
blank). Each digit has a fixed random template, its glyph: ``GLYPH`` columns of ``FEATURES``
Gaussian values, drawn once per seed. A digit is drawn for 3 to 6 frames, its glyph stretched
to that many frames (nearest column), plus Gaussian noise; the digits are separated by 1 to 3
frames of noise alone (a gap, where the blank belongs), with 0 to 2 such frames at either end.
Only the digit sequence is given to the loss, never where the digits are: CTC sums over
every alignment of the labels to the frames.

Model: three 1-D convolutions over time (kernel 5, 5 and 1; 64 channels; ReLU), then a
log-softmax over the 11 classes, trained in float64 with Adam on ``lossatlas.ctc_loss``
(reduction "mean": each strip's loss divided by its number of digits, then averaged) for
``STEPS`` steps of fresh strips. The model runs on PyTorch whatever the backend; the
occupancy (``-lossatlas.ctc_loss.grad``, the posterior probability that the alignment emits
class c at frame t given the true labels) and the decoders run on the chosen backend.

Report: the training curve; greedy (best path) and prefix beam search decodes of held-out
strips with their character error rate (total edit distance over total digits); and the
alignment picture, which shows CTC's peaky behaviour: each label's occupancy is a spike on
one or two frames, and the blank takes the other frames of the digit as well as the gaps.

The glyph matters: when every frame of a digit is the same template plus noise, a model with
shared weights cannot tell them apart, raises the label on all of them at once, and ends
with a frame-wise alignment (measured while building this study: about 2.5 expected label
frames for 3 drawn). With a glyph the frames differ, and the first one to win the label
keeps it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import lossatlas

from ...sequence import ctc_beam_search_decode, ctc_greedy_decode, edit_distance
from ._base import Study, StudyReport, sig
from ._figures import new_figure, save, style
from ._train import Backend, progress_bar

NAME = "ctc"
TITLE = "CTC on digit strips: training, greedy and beam decoding, and peaky alignments"

BLANK = 0
N_DIGITS = 10  # labels 1..10 (digit d is label d + 1)
N_CLASSES = N_DIGITS + 1
FEATURES = 16  # feature dimension of a frame
GLYPH = 5  # columns of a digit's glyph
DIGITS = (3, 6)  # digits per strip, inclusive
DURATION = (3, 6)  # frames a digit is drawn for, inclusive
GAP = (1, 3)  # blank frames between two digits, inclusive
EDGE = (0, 2)  # blank frames before the first and after the last digit, inclusive
T_MAX = 2 * EDGE[1] + DIGITS[1] * DURATION[1] + (DIGITS[1] - 1) * GAP[1]  # 55 frames
NOISE = 1.0  # standard deviation of the Gaussian noise on every feature of every frame

HIDDEN = 64
KERNELS = (5, 5, 1)
BATCH = 32
STEPS = 300
LEARNING_RATE = 5e-3
CHECKPOINTS = (0, 25, 50, 100, 200, 300)  # steps at which the test set is evaluated
N_TEST = 200
BEAM_WIDTH = 8
N_SHOWN = 8  # test strips whose decodes are tabled
N_PICTURED = 2  # test strips in the alignment picture
SPIKE = 0.5  # an occupancy above this on one frame is a spike


# ---- data ------------------------------------------------------------------------------------
@dataclass
class Strips:
    """A padded batch of strips.

    Attributes:
        x: frames, shape (N, T_MAX, FEATURES), float64 (frames past a strip's length are 0).
        lengths: frames per strip, shape (N,).
        targets: the digit labels, padded with 0, shape (N, DIGITS[1]).
        target_lengths: digits per strip, shape (N,).
        frame_labels: the label drawn at each frame (0 in gaps and padding), shape (N, T_MAX).
    """

    x: np.ndarray
    lengths: np.ndarray
    targets: np.ndarray
    target_lengths: np.ndarray
    frame_labels: np.ndarray

    def __len__(self) -> int:
        return int(self.lengths.size)

    def labels(self, k: int) -> np.ndarray:
        return self.targets[k, : self.target_lengths[k]]


def make_templates(seed: int) -> np.ndarray:
    """The digit glyphs, shape (N_CLASSES, GLYPH, FEATURES): glyph 0 (the blank: noise alone)
    is zero, glyphs 1..10 are standard Gaussian draws, fixed for the seed. A glyph is
    ``GLYPH`` columns of ``FEATURES`` values."""
    rng = np.random.default_rng([seed, 0])
    glyphs = rng.standard_normal((N_DIGITS, GLYPH, FEATURES))
    return np.concatenate([np.zeros((1, GLYPH, FEATURES)), glyphs])


def glyph_columns(duration: int) -> np.ndarray:
    """The glyph column drawn on each of a digit's ``duration`` frames: the glyph stretched
    (or squeezed) to that many frames, nearest column."""
    return np.round(np.linspace(0.0, GLYPH - 1, duration)).astype(np.int64)


def make_strips(rng: np.random.Generator, n: int, templates: np.ndarray) -> Strips:
    """``n`` random strips (see the module docstring) drawn with ``rng``."""
    x = np.zeros((n, T_MAX, FEATURES))
    lengths = np.zeros(n, dtype=np.int64)
    targets = np.zeros((n, DIGITS[1]), dtype=np.int64)
    target_lengths = np.zeros(n, dtype=np.int64)
    frame_labels = np.zeros((n, T_MAX), dtype=np.int64)
    for k in range(n):
        count = int(rng.integers(DIGITS[0], DIGITS[1] + 1))
        labels = rng.integers(1, N_DIGITS + 1, size=count)
        durations = rng.integers(DURATION[0], DURATION[1] + 1, size=count)
        gaps = rng.integers(GAP[0], GAP[1] + 1, size=count - 1)
        gaps = np.maximum(gaps, labels[1:] == labels[:-1])  # a repeat needs a gap
        edges = rng.integers(EDGE[0], EDGE[1] + 1, size=2)
        frames = [np.zeros(edges[0], dtype=np.int64)]
        columns = [np.zeros(edges[0], dtype=np.int64)]
        for i in range(count):
            frames.append(np.full(durations[i], labels[i]))
            columns.append(glyph_columns(int(durations[i])))
            if i < count - 1:
                frames.append(np.zeros(gaps[i], dtype=np.int64))
                columns.append(np.zeros(gaps[i], dtype=np.int64))
        frames.append(np.zeros(edges[1], dtype=np.int64))
        columns.append(np.zeros(edges[1], dtype=np.int64))
        drawn, column = np.concatenate(frames), np.concatenate(columns)
        t = drawn.size
        x[k, :t] = templates[drawn, column] + NOISE * rng.standard_normal((t, FEATURES))
        lengths[k] = t
        targets[k, :count] = labels
        target_lengths[k] = count
        frame_labels[k, :t] = drawn
    return Strips(x, lengths, targets, target_lengths, frame_labels)


# ---- model -----------------------------------------------------------------------------------
@contextlib.contextmanager
def _torch_scope(seed: int) -> Iterator[Any]:
    """torch, seeded inside the block (the caller's global RNG state is left as it was), with
    one intra-op thread: the model is small, and one thread makes its sums the same on every
    machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            yield torch
    finally:
        torch.set_num_threads(threads)


def make_model(torch: Any) -> Any:
    """Conv1d(FEATURES, 64, 5) - ReLU - Conv1d(64, 64, 5) - ReLU - Conv1d(64, 11, 1), float64;
    'same' padding, so there is one output frame per input frame."""
    nn = torch.nn
    widths = (FEATURES, HIDDEN, HIDDEN, N_CLASSES)
    layers: list[Any] = []
    for i, k in enumerate(KERNELS):
        layers.append(nn.Conv1d(widths[i], widths[i + 1], k, padding=k // 2))
        if i < len(KERNELS) - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers).double()


def log_probs(torch: Any, model: Any, x: np.ndarray) -> Any:
    """The model's per-frame log-probabilities, batch-major (N, T, C), a torch tensor."""
    frames = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 2, 1)))
    return torch.log_softmax(model(frames), dim=1).transpose(1, 2)


def _ctc(torch: Any, lp: Any, s: Strips) -> Any:
    """``lossatlas.ctc_loss`` (reduction "mean") of torch log-probabilities, with autograd."""
    as_t = torch.from_numpy
    return lossatlas.ctc_loss(
        lp, as_t(s.targets), as_t(s.lengths), as_t(s.target_lengths), blank=BLANK
    )


def occupancy(bk: Backend, lp: np.ndarray, s: Strips) -> np.ndarray:
    """The CTC posterior occupancy gamma[n, t, c] (N, T, C), a NumPy array: the probability,
    over the alignments of the true labels weighted by the model, that frame t emits class c.
    It is ``-lossatlas.ctc_loss.grad`` (per strip, unreduced), computed on the backend."""
    xp = bk.xp

    def ints(a: np.ndarray) -> Any:
        return xp.asarray(np.ascontiguousarray(a, dtype=np.int64))

    g = lossatlas.ctc_loss.grad(
        bk.asarray(lp), ints(s.targets), ints(s.lengths), ints(s.target_lengths), blank=BLANK
    )
    return -bk.numpy(g)


# ---- evaluation ------------------------------------------------------------------------------
def character_error_rate(decoded: list[np.ndarray], s: Strips) -> tuple[float, float, float]:
    """(CER, total edits, strips decoded exactly): the CER is the total edit distance over the
    total number of true digits."""
    truth = [s.labels(k) for k in range(len(s))]
    d = np.asarray(edit_distance(list(decoded), truth, normalize=False))
    return float(d.sum() / s.target_lengths.sum()), float(d.sum()), float(np.mean(d == 0))


def decode(bk: Backend, lp: np.ndarray, s: Strips) -> dict[str, list[np.ndarray]]:
    """Greedy (best path) and prefix beam search decodes, on the backend."""
    x = bk.asarray(lp)
    greedy = ctc_greedy_decode(x, s.lengths, blank=BLANK)
    paths, _ = ctc_beam_search_decode(x, s.lengths, beam_width=BEAM_WIDTH, blank=BLANK)
    return {"greedy": greedy, "beam": [p[0] for p in paths]}


def alignment_stats(gamma: np.ndarray, lp: np.ndarray, s: Strips) -> dict[str, float]:
    """How peaky the occupancy is, over the frames within the strips' lengths."""
    valid = np.arange(T_MAX)[None, :] < s.lengths[:, None]
    g = gamma[valid]  # (frames, C)
    label = g[:, 1:]
    spike = label.max(axis=1) > SPIKE
    spike_class = 1 + label.argmax(axis=1)
    drawn = s.frame_labels[valid]
    model_blank = np.argmax(lp[valid], axis=1) == BLANK
    n_labels = float(s.target_lengths.sum())
    return {
        "sum_error": float(np.max(np.abs(g.sum(axis=1) - 1.0))),
        "blank_frames": float(np.mean(g[:, BLANK] > SPIKE)),
        "spike_frames": float(np.mean(spike)),
        "spikes_per_label": float(spike.sum() / n_labels),
        "frames_per_label": float(label.sum() / n_labels),
        "drawn_per_label": float(np.sum(drawn != BLANK) / n_labels),
        "spikes_on_digit": float(np.mean(drawn[spike] == spike_class[spike])),
        "model_blank": float(np.mean(model_blank)),
        "model_drawn_blank": float(np.mean(drawn == BLANK)),
    }


@dataclass
class Checkpoint:
    step: int
    train_loss: float  # mean of the last logged steps (the loss at step 0 itself for step 0)
    test_loss: float
    cer: dict[str, float]
    stats: dict[str, float]


# ---- the study ---------------------------------------------------------------------------------
def _run(out: Path, *, seed: int, bk: Backend, progress: bool) -> StudyReport:
    templates = make_templates(seed)
    rng = np.random.default_rng([seed, 1])
    test = make_strips(rng, N_TEST, templates)
    train = make_strips(rng, STEPS * BATCH, templates)

    curve: list[float] = []
    checkpoints: list[Checkpoint] = []
    with _torch_scope(seed) as torch:
        model = make_model(torch)
        optimiser = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)

        def evaluate(step: int) -> tuple[Checkpoint, np.ndarray, np.ndarray, dict]:
            with torch.no_grad():
                lp_t = log_probs(torch, model, test.x)
                test_loss = float(_ctc(torch, lp_t, test))
            lp = lp_t.numpy().copy()
            decodes = decode(bk, lp, test)
            gamma = occupancy(bk, lp, test)
            recent = curve[-25:] if curve else [test_loss]
            cp = Checkpoint(
                step,
                float(np.mean(recent)),
                test_loss,
                {k: character_error_rate(v, test)[0] for k, v in decodes.items()},
                alignment_stats(gamma, lp, test),
            )
            return cp, lp, gamma, decodes

        first = evaluate(0)
        checkpoints.append(first[0])
        for step in progress_bar(range(1, STEPS + 1), desc=NAME, progress=progress):
            sl = slice((step - 1) * BATCH, step * BATCH)
            batch = Strips(
                train.x[sl],
                train.lengths[sl],
                train.targets[sl],
                train.target_lengths[sl],
                train.frame_labels[sl],
            )
            optimiser.zero_grad()
            loss = _ctc(torch, log_probs(torch, model, batch.x), batch)
            loss.backward()
            optimiser.step()
            curve.append(float(loss.detach()))
            if step in CHECKPOINTS:
                last = evaluate(step)
                checkpoints.append(last[0])
    final, lp, gamma, decodes = last
    start_gamma = first[2]
    start_lp = first[1]

    results = {k: character_error_rate(v, test) for k, v in decodes.items()}
    labels = {"greedy": "greedy (best path)", "beam": f"prefix beam search (width {BEAM_WIDTH})"}
    rows: list[list[str | float]] = [
        [labels[k], sig(cer, 4), edits, sig(exact, 4), float(test.target_lengths.sum())]
        for k, (cer, edits, exact) in results.items()
    ]
    headers = [
        "decoder",
        "test character error rate",
        "edits (substitutions, insertions, deletions)",
        "strips decoded exactly",
        "test digits",
    ]

    cp_rows = [
        [
            float(c.step),
            sig(c.train_loss, 4),
            sig(c.test_loss, 4),
            sig(c.cer["greedy"], 4),
            sig(c.cer["beam"], 4),
            sig(c.stats["model_blank"], 4),
            sig(c.stats["frames_per_label"], 4),
            sig(c.stats["spikes_per_label"], 4),
        ]
        for c in checkpoints
    ]
    cp_headers = [
        "step",
        "training loss (mean of the last 25 steps)",
        "test loss",
        "greedy CER",
        "beam CER",
        "frames whose most likely class is blank",
        "expected label frames per digit (occupancy)",
        "label spikes per digit (occupancy > 0.5)",
    ]
    st, s0 = final.stats, checkpoints[0].stats
    align_rows = [
        [
            "frames where the blank's occupancy > 0.5",
            sig(s0["blank_frames"], 4),
            sig(st["blank_frames"], 4),
        ],
        [
            "frames where a label's occupancy > 0.5",
            sig(s0["spike_frames"], 4),
            sig(st["spike_frames"], 4),
        ],
        [
            "expected label frames per digit (sum of the label occupancy / digits)",
            sig(s0["frames_per_label"], 4),
            sig(st["frames_per_label"], 4),
        ],
        ["label spikes per digit", sig(s0["spikes_per_label"], 4), sig(st["spikes_per_label"], 4)],
        [
            "spikes on a frame where their digit is drawn",
            sig(s0["spikes_on_digit"], 4) if s0["spike_frames"] > 0 else "-",
            sig(st["spikes_on_digit"], 4),
        ],
        [
            "largest |sum over classes of the occupancy - 1| on a frame",
            sig(s0["sum_error"], 3),
            sig(st["sum_error"], 3),
        ],
    ]
    shown = []
    for k in range(N_SHOWN):
        truth = test.labels(k)
        g, b = decodes["greedy"][k], decodes["beam"][k]
        shown.append(
            [
                float(k),
                _digits(truth),
                _digits(g),
                float(edit_distance([g], [truth], normalize=False)[0]),
                _digits(b),
                float(edit_distance([b], [truth], normalize=False)[0]),
                float(test.lengths[k]),
            ]
        )

    figures = [
        _figure_training(out, curve, checkpoints),
        _figure_alignment(out, test, lp, gamma, decodes),
        _figure_occupancy_start_end(out, test, start_lp, start_gamma, lp, gamma),
    ]
    summary, notes = _findings(curve, checkpoints, results, decodes, test, seed)
    return StudyReport(
        name=NAME,
        title=TITLE,
        summary=summary,
        headers=headers,
        rows=rows,
        figures=figures,
        notes=notes,
        extra_tables=[
            (f"Training: the {N_TEST} test strips at checkpoints", cp_headers, cp_rows),
            (
                f"Alignment (posterior occupancy) over the {int(test.lengths.sum())} frames of "
                "the test strips, before and after training",
                ["measure", "step 0", f"step {STEPS}"],
                align_rows,
            ),
            (
                f"Decodes of the first {N_SHOWN} test strips (digits as drawn, 0-9)",
                ["strip", "truth", "greedy", "greedy edits", "beam", "beam edits", "frames"],
                shown,
            ),
        ],
    )


def _digits(labels: np.ndarray) -> str:
    """Labels 1..10 as the digits 0..9 they stand for."""
    return "".join(str(int(v) - 1) for v in labels) or "(empty)"


def _findings(
    curve: list[float],
    checkpoints: list[Checkpoint],
    results: dict[str, tuple[float, float, float]],
    decodes: dict[str, list[np.ndarray]],
    test: Strips,
    seed: int,
) -> tuple[str, list[str]]:
    final = checkpoints[-1]
    st = final.stats
    g, b = results["greedy"][0], results["beam"][0]
    start, end = float(np.mean(curve[:10])), float(np.mean(curve[-25:]))
    summary = (
        f"A three-layer 1-D convolutional model trained with ctc_loss for {STEPS} steps "
        f"({BATCH} fresh strips each) takes the training loss from {start:.3g} (first 10 "
        f"steps) to {end:.3g} (last 25), and reads held-out strips with a character error "
        f"rate of {g:.2%} by greedy decoding and {b:.2%} by prefix beam search "
        f"(width {BEAM_WIDTH}). The alignment is peaky: each digit is drawn for "
        f"{st['drawn_per_label']:.2f} frames on average, but the posterior occupancy gives "
        f"its label {st['frames_per_label']:.2f} expected frames, and the blank holds more "
        f"than half the occupancy on {st['blank_frames']:.1%} of the frames, where only "
        f"{st['model_drawn_blank']:.1%} are gaps."
    )
    cp = {c.step: c for c in checkpoints}
    early = [c for c in checkpoints if 0 < c.step < STEPS / 4]
    differ = sum(
        not np.array_equal(a, b) for a, b in zip(decodes["greedy"], decodes["beam"], strict=True)
    )
    notes = [
        f"The spikes sit on the digits: {st['spikes_on_digit']:.1%} of the frames where a "
        "label's occupancy exceeds 0.5 are frames where that digit is drawn. CTC is not told "
        f"where the digits are; it gives each label {st['spikes_per_label']:.2f} such frames "
        f"on average out of the {st['drawn_per_label']:.2f} its digit is drawn for, and the "
        "blank absorbs the rest of each digit's frames as well as the gaps.",
        "The occupancy gamma[n, t, c] is -lossatlas.ctc_loss.grad: the derivative of a "
        "strip's loss with respect to its log-probabilities is minus the posterior probability "
        "that the alignment emits class c at frame t. It sums to 1 over the classes on every "
        f"frame (largest deviation {st['sum_error']:.1g}).",
        f"At step 0 the model is near uniform and the occupancy spreads each label over "
        f"{cp[0].stats['frames_per_label']:.2f} expected frames; by step {STEPS} it is "
        f"{st['frames_per_label']:.2f}. The network's own outputs turn peaky as well: the "
        f"blank is the most likely class on {st['model_blank']:.1%} of the frames at the end. "
        "Early in training the blank wins every frame first (the most likely class on "
        + ", ".join(f"{c.stats['model_blank']:.1%} at step {c.step}" for c in early)
        + "), so greedy decoding returns nothing until the labels break through.",
        "Greedy and beam CER through training ("
        + "; ".join(
            f"step {c.step}: {c.cer['greedy']:.3f} and {c.cer['beam']:.3f}" for c in checkpoints
        )
        + "). The beam sums over the paths of a labelling, so it can prefer a labelling that "
        "no single path makes most likely; it helps most while the outputs are uncertain. "
        f"After training the two decodes differ on {differ} of the {len(test)} test strips.",
        f"Data: {DIGITS[0]}-{DIGITS[1]} digits per strip, each drawn for "
        f"{DURATION[0]}-{DURATION[1]} frames as its fixed random glyph ({GLYPH} columns of "
        f"{FEATURES} Gaussian features, stretched to the frames) plus noise of standard "
        f"deviation {NOISE:g}, with "
        f"{GAP[0]}-{GAP[1]} noise-only frames between digits and {EDGE[0]}-{EDGE[1]} at either "
        f"end (at most {T_MAX} frames); seed {seed}. Model: Conv1d kernels {KERNELS}, "
        f"{HIDDEN} channels, ReLU, log-softmax over {N_CLASSES} classes (blank = 0), float64; "
        f"Adam, learning rate {LEARNING_RATE:g}, {STEPS} steps of {BATCH} new strips; "
        f"lossatlas.ctc_loss with reduction 'mean'. Test set: {len(test)} strips, "
        f"{int(test.target_lengths.sum())} digits. CER: total edit distance (lossatlas."
        "sequence.edit_distance) over total true digits.",
    ]
    return summary, notes


# ---- figures -----------------------------------------------------------------------------------
def _figure_training(out: Path, curve: list[float], checkpoints: list[Checkpoint]) -> Path:
    steps = np.arange(1, len(curve) + 1)
    at = np.array([c.step for c in checkpoints], dtype=np.float64)
    with style():
        fig, axes = new_figure(1, 2, size=(11.0, 4.0))
        ax = axes[0, 0]
        ax.semilogy(steps, curve, color="#1f77b4", lw=1.0, alpha=0.6, label="training batch")
        ax.semilogy(
            np.maximum(at, 1),
            [c.test_loss for c in checkpoints],
            "o-",
            color="#d62728",
            lw=1.6,
            label="test strips",
        )
        ax.set_xlabel("step")
        ax.set_ylabel("ctc_loss (mean: per digit)")
        ax.set_title("Training curve")
        ax.legend(loc="upper right")
        ax = axes[0, 1]
        ax.plot(
            at,
            [c.cer["greedy"] for c in checkpoints],
            "o-",
            color="#1f77b4",
            lw=1.6,
            label="greedy",
        )
        ax.plot(
            at,
            [c.cer["beam"] for c in checkpoints],
            "s--",
            color="#ff7f0e",
            lw=1.6,
            label=f"beam (width {BEAM_WIDTH})",
        )
        ax.set_yscale("symlog", linthresh=0.01)
        ax.set_xlabel("step")
        ax.set_ylabel("test character error rate")
        ax.set_title("Decoding the test strips")
        ax.legend(loc="upper right")
        return save(fig, out / f"{NAME}-training.png")


def _spans(labels: np.ndarray) -> list[tuple[int, int, int]]:
    """(start, stop, label) of each run of a digit in a frame-label row."""
    runs = []
    t = 0
    while t < labels.size:
        if labels[t] != BLANK:
            u = t
            while u < labels.size and labels[u] == labels[t]:
                u += 1
            runs.append((t, u, int(labels[t])))
            t = u
        else:
            t += 1
    return runs


def _draw_strip(
    axes: Any, k: int, s: Strips, lp: np.ndarray, gamma: np.ndarray, title: str
) -> None:
    """Three panels of strip k: its frames, the occupancy, and the model's probabilities."""
    t = int(s.lengths[k])
    frames = np.arange(t)
    ax = axes[0]
    ax.imshow(
        s.x[k, :t].T, aspect="auto", cmap="coolwarm", interpolation="nearest", vmin=-3, vmax=3
    )
    for a, b, label in _spans(s.frame_labels[k, :t]):
        ax.text((a + b - 1) / 2, -1.2, str(label - 1), ha="center", va="bottom", fontsize=9)
    ax.set_ylabel("feature")
    ax.set_title(title, fontsize=9.5, pad=16)
    ax.grid(False)
    ax = axes[1]
    ax.imshow(
        gamma[k, :t].T,
        aspect="auto",
        cmap="Greys",
        vmin=0,
        vmax=1,
        interpolation="nearest",
        origin="lower",
    )
    ax.set_yticks(range(N_CLASSES), ["blank"] + [str(d) for d in range(N_DIGITS)], fontsize=7)
    ax.set_ylabel("occupancy")
    ax.grid(False)
    ax = axes[2]
    p = np.exp(lp[k, :t])
    for a, b, _ in _spans(s.frame_labels[k, :t]):
        ax.axvspan(a - 0.5, b - 0.5, color="#2ca02c", alpha=0.12, lw=0)
    ax.plot(frames, p[:, BLANK], color="0.5", lw=1.4, ls="--", label="blank")
    ax.plot(frames, p[:, 1:].max(axis=1), color="#d62728", lw=1.4, label="most likely digit")
    ax.plot(
        frames,
        gamma[k, :t, 1:].max(axis=1),
        color="#1f77b4",
        lw=0,
        marker="o",
        ms=3,
        label="largest label occupancy",
    )
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlim(-0.5, t - 0.5)
    ax.set_xlabel("frame (shaded: frames where a digit is drawn)")
    ax.set_ylabel("probability")
    ax.legend(loc="center right", fontsize=7)


def _figure_alignment(
    out: Path, s: Strips, lp: np.ndarray, gamma: np.ndarray, decodes: dict[str, list[np.ndarray]]
) -> Path:
    with style():
        fig, axes = new_figure(3 * N_PICTURED, 1, size=(10.0, 3.3 * N_PICTURED * 1.35))
        for i in range(N_PICTURED):
            title = (
                f"test strip {i}: truth {_digits(s.labels(i))}, greedy "
                f"{_digits(decodes['greedy'][i])}, beam {_digits(decodes['beam'][i])}"
            )
            _draw_strip(axes[3 * i : 3 * i + 3, 0], i, s, lp, gamma, title)
        fig.suptitle(
            "After training: frames, CTC occupancy (-ctc_loss.grad) and the model's probabilities",
            fontsize=11,
        )
        return save(fig, out / f"{NAME}-alignment.png")


def _figure_occupancy_start_end(
    out: Path, s: Strips, lp0: np.ndarray, gamma0: np.ndarray, lp: np.ndarray, gamma: np.ndarray
) -> Path:
    k = 0
    t = int(s.lengths[k])
    with style():
        fig, axes = new_figure(1, 2, size=(11.0, 3.6))
        for ax, g, when in ((axes[0, 0], gamma0, "step 0"), (axes[0, 1], gamma, f"step {STEPS}")):
            for a, b, _ in _spans(s.frame_labels[k, :t]):
                ax.axvspan(a - 0.5, b - 0.5, color="#2ca02c", alpha=0.12, lw=0)
            ax.plot(np.arange(t), g[k, :t, BLANK], color="0.4", ls="--", lw=1.4, label="blank")
            for c in np.unique(s.labels(k)):
                ax.plot(np.arange(t), g[k, :t, c], lw=1.4, label=f"digit {c - 1}")
            ax.set_ylim(-0.03, 1.03)
            ax.set_xlabel("frame (shaded: a digit is drawn)")
            ax.set_ylabel("occupancy")
            ax.set_title(f"Test strip {k}, {when}")
        axes[0, 1].legend(loc="center right", fontsize=7, ncols=2)
        fig.suptitle("CTC occupancy per class: spread before training, spikes after", fontsize=11)
        return save(fig, out / f"{NAME}-occupancy.png")


STUDY = Study(
    name=NAME,
    title=TITLE,
    description="A tiny 1-D convolutional model learns to read synthetic digit strips with "
    "ctc_loss: its training curve, greedy and beam decodes with their character error rate, "
    "and the peaky alignment CTC converges to.",
    _run=_run,
)
