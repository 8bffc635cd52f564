"""Study ``multiclass``: six multiclass losses on the digits under 0%, 20% and 40% label noise.

scikit-learn's bundled digits (1797 8x8 images, 10 classes) are split, stratified and seeded,
into a training and a test set; the features are standardised with the training statistics. A
fraction of the TRAINING labels is flipped, each to a different class drawn at random (the 20%
flips are among the 40% ones, so the noise levels are nested); the test labels stay clean.

The model is linear, ``scores = [1, x] W`` with W of shape 65 x 10 (softmax regression for the
cross-entropy family), fitted to ``mean(loss(scores, y)) + L2/2 |W without its bias row|^2`` by
L-BFGS (``scipy.optimize``) from W = 0 with the same iteration cap for every loss. The gradient
with respect to W is the library's per-sample ``loss.grad`` (with respect to the scores) chained
by hand: ``X^T G / n + L2 W`` (the bias row left out of the penalty). Scores and losses live on
the chosen backend; W is a NumPy array.

Each fit is judged on the clean test set: accuracy (argmax of the scores), and the expected
calibration error of its top-label confidence, with each loss's own probability map (softmax of
the scores for the cross-entropy family and, though it is no probability model, for the hinge;
sparsemax of the scores for the sparsemax loss).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ... import get
from ...multiclass import sparsemax as _sparsemax
from ._base import Study, StudyReport, sig
from ._figures import new_figure, save, style
from ._train import Backend, progress_bar

NAME = "multiclass"
TITLE = "Multiclass losses under label noise: accuracy and calibration on the digits"

N_CLASSES = 10
TEST_FRACTION = 0.3  # of each class
NOISE_LEVELS = (0.0, 0.2, 0.4)  # fraction of the training labels flipped
SHOWN_NOISE = (0.0, 0.4)  # the reliability diagrams
L2 = 1e-3
MAX_ITER = 300  # L-BFGS iterations, the same cap for every loss
N_BINS = 15  # equal-width confidence bins of the calibration error
COLORS = ("black", "#7f7f7f", "#d62728", "#ff7f0e", "#2ca02c", "#1f77b4")


@dataclass(frozen=True)
class Spec:
    """One model of the study: a registered loss, its hyperparameters, its probability map."""

    label: str
    loss: str
    params: dict[str, Any]
    probability: str  # "softmax" or "sparsemax"
    is_probability_model: bool


SPECS = (
    Spec("cross_entropy", "cross_entropy", {}, "softmax", True),
    Spec(
        "cross_entropy (label_smoothing=0.1)",
        "cross_entropy",
        {"label_smoothing": 0.1},
        "softmax",
        True,
    ),
    Spec("softmax_focal_loss (gamma=2)", "softmax_focal_loss", {"gamma": 2.0}, "softmax", True),
    Spec(
        "poly1_cross_entropy (epsilon=1)",
        "poly1_cross_entropy",
        {"epsilon": 1.0},
        "softmax",
        True,
    ),
    Spec(
        "multiclass_hinge (Weston-Watkins, margin=1)",
        "multiclass_hinge",
        {"margin": 1.0, "variant": "weston_watkins"},
        "softmax",
        False,
    ),
    Spec("multiclass_sparsemax_loss", "multiclass_sparsemax_loss", {}, "sparsemax", True),
)


# ---- data ------------------------------------------------------------------------------------
def stratified_split(
    y: np.ndarray, rng: np.random.Generator, test_fraction: float = TEST_FRACTION
) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, test indices), both sorted: ``round(test_fraction * n_c)`` of each
    class c, drawn at random, go to the test set."""
    test = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        test.append(rng.permutation(members)[: round(test_fraction * members.size)])
    test_idx = np.sort(np.concatenate(test))
    train_idx = np.setdiff1d(np.arange(y.size), test_idx)
    return train_idx, test_idx


def flip_labels(
    y: np.ndarray, rng: np.random.Generator, rates: tuple[float, ...] = NOISE_LEVELS
) -> dict[float, np.ndarray]:
    """Noisy copies of ``y``, one per rate: the first ``round(rate * n)`` samples of one random
    order get a class drawn uniformly from the other ``N_CLASSES - 1``. One order and one
    draw serve every rate, so the samples flipped at a lower rate are flipped, to the same
    class, at every higher one."""
    order = rng.permutation(y.size)
    shift = rng.integers(1, N_CLASSES, size=y.size)  # 1..C-1: never the same class
    noisy = {}
    for rate in rates:
        idx = order[: round(rate * y.size)]
        labels = y.copy()
        labels[idx] = (y[idx] + shift[idx]) % N_CLASSES
        noisy[rate] = labels
    return noisy


def make_data(seed: int) -> dict[str, Any]:
    """The digits, split and standardised, with the noisy training labels.

    Returns a dict with the design matrices ``X_train``, ``X_test`` (a leading column of ones,
    then the 64 standardised pixels; constant pixels are only centred), the clean labels
    ``y_train``, ``y_test`` and ``noisy`` ({rate: training labels}).
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    x, y = np.asarray(digits.data, dtype=np.float64), np.asarray(digits.target, dtype=np.int64)
    rng = np.random.default_rng(seed)
    train, test = stratified_split(y, rng)
    mean = x[train].mean(axis=0)
    sd = x[train].std(axis=0)
    sd = np.where(sd > 0.0, sd, 1.0)

    def design(rows: np.ndarray) -> np.ndarray:
        return np.column_stack([np.ones(rows.size), (x[rows] - mean) / sd])

    return {
        "X_train": design(train),
        "X_test": design(test),
        "y_train": y[train],
        "y_test": y[test],
        "noisy": flip_labels(y[train], rng),
    }


# ---- probabilities and calibration -------------------------------------------------------------
def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def sparsemax(z: np.ndarray) -> np.ndarray:
    """Row-wise sparsemax (Martins & Astudillo, 2016): the library's ``sparsemax``, the
    Euclidean projection of each row onto the probability simplex."""
    return np.asarray(_sparsemax(z, axis=1))


def probabilities(spec: Spec, scores: np.ndarray) -> np.ndarray:
    """The loss's probability map applied to the scores."""
    return sparsemax(scores) if spec.probability == "sparsemax" else softmax(scores)


def reliability(
    confidence: np.ndarray, correct: np.ndarray, n_bins: int = N_BINS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(count, mean confidence, accuracy) per equal-width confidence bin on [0, 1].

    Bin b holds the confidences in ``(b / n_bins, (b + 1) / n_bins]`` (the first bin also
    holds 0). Empty bins have NaN mean confidence and accuracy.
    """
    conf = np.asarray(confidence, dtype=np.float64)
    bins = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    count = np.bincount(bins, minlength=n_bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(bins, weights=conf, minlength=n_bins) / count
        accuracy = np.bincount(bins, weights=correct.astype(np.float64), minlength=n_bins) / count
    return count, mean_conf, accuracy


def expected_calibration_error(
    confidence: np.ndarray, correct: np.ndarray, n_bins: int = N_BINS
) -> float:
    """Top-label ECE: ``sum_b |B_b| / n * |accuracy(B_b) - mean confidence(B_b)|`` over the
    non-empty equal-width bins of :func:`reliability`."""
    count, mean_conf, accuracy = reliability(confidence, correct, n_bins)
    full = count > 0
    return float(np.sum(count[full] * np.abs(accuracy[full] - mean_conf[full])) / count.sum())


# ---- training ----------------------------------------------------------------------------------
def _index_array(bk: Backend, y: np.ndarray) -> Any:
    """Integer class targets as the backend's int64 array."""
    return bk.xp.asarray(np.ascontiguousarray(y, dtype=np.int64))


def objective_and_grad(
    loss: Any, params: dict[str, Any], bk: Backend, X: Any, y: Any, w: np.ndarray
) -> tuple[float, np.ndarray]:
    """``mean(loss(X W, y)) + L2/2 |W[1:]|^2`` and its gradient with respect to the flat W.

    ``X`` (n, d) and ``y`` (n,) are backend arrays, ``w`` the flattened (d, 10) NumPy W. The
    gradient is ``X^T G / n + L2 W[1:]`` with ``G = loss.grad(X W, y)``, the library's
    per-sample gradient with respect to the scores (the bias row is not penalised).
    """
    n, d = X.shape
    W = w.reshape(d, N_CLASSES)
    Z = X @ bk.asarray(W)
    value = bk.scalar(loss(Z, y, **params))
    G = loss.grad(Z, y, **params)
    grad = bk.numpy(X.T @ G) / n
    grad[1:] += L2 * W[1:]
    value += 0.5 * L2 * float(np.sum(W[1:] * W[1:]))
    return value, grad.ravel()


@dataclass
class Fit:
    """A fitted W (d, 10) and how L-BFGS got there."""

    W: np.ndarray
    n_iter: int
    objective: float
    grad_norm: float


def fit(loss: Any, params: dict[str, Any], bk: Backend, X: Any, y: Any) -> Fit:
    """L-BFGS from W = 0 for at most ``MAX_ITER`` iterations (no tolerance stops it earlier;
    only a line search that can no longer decrease the objective does).

    Runs with one thread in the BLAS and OpenMP pools already loaded (the backend's among
    them, as ``X`` is a backend array): the matrices are small, so threads only add overhead
    (ten times the run time on two busy cores), and one thread makes the sums, hence the fit,
    the same on every machine.
    """
    from scipy.optimize import minimize
    from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

    d = X.shape[1]
    with threadpool_limits(limits=1):
        result = minimize(
            lambda w: objective_and_grad(loss, params, bk, X, y, w),
            np.zeros(d * N_CLASSES),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": MAX_ITER, "gtol": 0.0, "ftol": 0.0, "maxcor": 10},
        )
        _, grad = objective_and_grad(loss, params, bk, X, y, result.x)
    return Fit(
        W=result.x.reshape(d, N_CLASSES),
        n_iter=int(result.nit),
        objective=float(result.fun),
        grad_norm=float(np.linalg.norm(grad)),
    )


def evaluate(spec: Spec, W: np.ndarray, X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Accuracy, ECE, mean confidence and the reliability bins of ``W`` on ``(X, y)``."""
    scores = X @ W
    p = probabilities(spec, scores)
    predicted = np.argmax(scores, axis=1)
    confidence = p[np.arange(y.size), predicted]
    correct = predicted == y
    support = np.sum(p > 0.0, axis=1)
    return {
        "accuracy": float(np.mean(correct)),
        "ece": expected_calibration_error(confidence, correct),
        "confidence": float(np.mean(confidence)),
        "support": float(np.mean(support)),
        "certain": float(np.mean(support == 1)),  # all the mass on one class
        "bins": reliability(confidence, correct),
    }


# ---- the study ---------------------------------------------------------------------------------
def _pct(rate: float) -> str:
    return f"{rate:.0%}"


def _calibration_word(gap: float) -> str:
    return "overconfident" if gap > 0 else "underconfident"


def _run(out: Path, *, seed: int, bk: Backend, progress: bool) -> StudyReport:
    data = make_data(seed)
    X = bk.asarray(data["X_train"])
    X_test, y_test = data["X_test"], data["y_test"]
    y_train = data["y_train"]
    labels = {rate: _index_array(bk, y) for rate, y in data["noisy"].items()}
    losses = {spec.loss: get(spec.loss) for spec in SPECS}

    jobs = [(spec, rate) for spec in SPECS for rate in NOISE_LEVELS]
    res: dict[tuple[str, float], dict[str, Any]] = {}
    for spec, rate in progress_bar(jobs, desc=NAME, progress=progress):
        f = fit(losses[spec.loss], spec.params, bk, X, labels[rate])
        m = evaluate(spec, f.W, X_test, y_test)
        flipped = data["noisy"][rate] != y_train
        train_pred = np.argmax(data["X_train"] @ f.W, axis=1)
        m["fit"] = f
        m["train_noisy"] = float(np.mean(train_pred == data["noisy"][rate]))
        if flipped.any():
            m["flipped_fitted"] = float(
                np.mean(train_pred[flipped] == data["noisy"][rate][flipped])
            )
            m["flipped_recovered"] = float(np.mean(train_pred[flipped] == y_train[flipped]))
        else:
            m["flipped_fitted"] = m["flipped_recovered"] = float("nan")
        res[(spec.label, rate)] = m

    rows: list[list[str | float]] = []
    for spec in SPECS:
        base = res[(spec.label, 0.0)]["accuracy"]
        row: list[str | float] = [spec.label, _probability_label(spec)]
        row += [sig(res[(spec.label, r)]["accuracy"], 4) for r in NOISE_LEVELS]
        row += [sig(base - res[(spec.label, r)]["accuracy"], 4) for r in NOISE_LEVELS[1:]]
        row += [sig(res[(spec.label, r)]["ece"], 4) for r in NOISE_LEVELS]
        rows.append(row)
    headers = ["loss", "probabilities"]
    headers += [f"accuracy, {_pct(r)} noise" for r in NOISE_LEVELS]
    headers += [f"accuracy drop, {_pct(r)} noise" for r in NOISE_LEVELS[1:]]
    headers += [f"ECE, {_pct(r)} noise" for r in NOISE_LEVELS]

    detail = []
    for spec in SPECS:
        for rate in NOISE_LEVELS:
            m = res[(spec.label, rate)]
            f = m["fit"]
            flipped = m["flipped_fitted"]
            detail.append(
                [
                    spec.label,
                    float(rate),
                    sig(m["accuracy"], 4),
                    sig(m["confidence"], 4),
                    sig(m["confidence"] - m["accuracy"], 4),
                    sig(m["ece"], 4),
                    sig(m["train_noisy"], 4),
                    "-" if np.isnan(flipped) else sig(flipped, 4),
                    "-" if np.isnan(flipped) else sig(m["flipped_recovered"], 4),
                    float(f.n_iter),
                    sig(f.grad_norm, 3),
                ]
            )
    detail_headers = [
        "loss",
        "label noise",
        "test accuracy",
        "mean confidence",
        "confidence - accuracy",
        "ECE",
        "training accuracy (noisy labels)",
        "flipped labels fitted",
        "flipped labels predicted as their true class",
        "L-BFGS iterations",
        "final gradient norm",
    ]

    figures = [_figure_reliability(out, res), _figure_noise(out, res)]
    summary, notes = _findings(res, data, seed)
    return StudyReport(
        name=NAME,
        title=TITLE,
        summary=summary,
        headers=headers,
        rows=rows,
        figures=figures,
        notes=notes,
        extra_tables=[
            (
                f"Per fit: confidence, training fit and convergence (test set of "
                f"{y_test.size}, training set of {y_train.size})",
                detail_headers,
                detail,
            )
        ],
    )


def _probability_label(spec: Spec) -> str:
    if spec.probability == "sparsemax":
        return "sparsemax(scores)"
    if not spec.is_probability_model:
        return "softmax(scores), not a probability model"
    return "softmax(logits)"


def _findings(
    res: dict[tuple[str, float], dict[str, Any]], data: dict[str, Any], seed: int
) -> tuple[str, list[str]]:
    """The summary and the notes, every number and every comparison read off the results."""
    top, mid = NOISE_LEVELS[-1], NOISE_LEVELS[1]
    labels = [s.label for s in SPECS]
    acc0 = {k: res[(k, 0.0)]["accuracy"] for k in labels}
    acc_top = {k: res[(k, top)]["accuracy"] for k in labels}
    drop = {k: acc0[k] - acc_top[k] for k in labels}
    ece0 = {k: res[(k, 0.0)]["ece"] for k in labels}
    ece_top = {k: res[(k, top)]["ece"] for k in labels}
    gap = {key: m["confidence"] - m["accuracy"] for key, m in res.items()}
    ce, ls = SPECS[0].label, SPECS[1].label
    hinge = next(s.label for s in SPECS if s.loss == "multiclass_hinge")
    sparse = next(s.label for s in SPECS if s.probability == "sparsemax")
    models = [s.label for s in SPECS if s.is_probability_model]

    most, least = max(drop, key=drop.get), min(drop, key=drop.get)
    under_top = [k for k in models if gap[(k, top)] < 0]
    ece_rise = ece_top[ce] - ece0[ce]
    summary = (
        f"A linear classifier on the digits, fitted with each of {len(SPECS)} losses, reaches "
        f"{min(acc0.values()):.3f} to {max(acc0.values()):.3f} test accuracy with clean labels. "
        f"With {_pct(top)} of the training labels flipped, accuracy drops by "
        f"{drop[least]:.3f} ({least}) to {drop[most]:.3f} ({most}). "
        f"The ECE of cross_entropy goes from {ece0[ce]:.3f} to {ece_top[ce]:.3f}, "
        + ("more" if ece_rise > drop[ce] else "less")
        + f" than its accuracy falls ({drop[ce]:.3f}). At {_pct(top)} noise "
        f"{len(under_top)} of the {len(models)} probability models are underconfident on the "
        "clean test set (mean confidence below accuracy)"
    )
    summary += (
        ": fitted to noisy labels, a model spreads probability over the classes the flips "
        "point to, so its confidence falls below its accuracy on clean labels."
        if len(under_top) > len(models) / 2
        else "."
    )

    ranking = ", ".join(f"{k} {drop[k]:.3f}" for k in sorted(drop, key=drop.get))
    notes = [f"Accuracy drop from 0% to {_pct(top)} noise, smallest first: {ranking}."]
    monotone = [k for k in labels if acc0[k] >= res[(k, mid)]["accuracy"] >= acc_top[k]]
    others = [k for k in labels if k not in monotone]
    notes.append(
        f"Accuracy falls monotonically with the noise (0% >= {_pct(mid)} >= {_pct(top)}) for "
        f"{len(monotone)} of the {len(labels)} losses"
        + (f"; not for {', '.join(others)}." if others else ".")
    )
    per = "; ".join(
        f"{k}: {gap[(k, 0.0)]:+.3f} at 0%, {gap[(k, top)]:+.3f} at {_pct(top)}" for k in labels
    )
    notes.append(
        "Mean confidence minus accuracy on the test set (positive: overconfident, negative: "
        f"underconfident): {per}."
    )
    notes.append(
        f"Label smoothing 0.1 without noise: ECE {ece0[ls]:.3f} against {ece0[ce]:.3f} for "
        f"plain cross_entropy; mean confidence minus accuracy {gap[(ls, 0.0)]:+.3f} against "
        f"{gap[(ce, 0.0)]:+.3f}. Smoothing asks for at most {1 - 0.1 + 0.1 / N_CLASSES:.2f} on "
        "the target class, so a well-fitted smoothed model is "
        + ("less" if res[(ls, 0.0)]["confidence"] < res[(ce, 0.0)]["confidence"] else "more")
        + f" confident than the plain one (mean confidence {res[(ls, 0.0)]['confidence']:.3f} "
        f"against {res[(ce, 0.0)]['confidence']:.3f})."
    )
    notes.append(
        f"{hinge}: the Weston-Watkins hinge, max(0, 1 + s_c - s_y) summed over the wrong "
        "classes c and divided by the number of classes (as PyTorch's MultiMarginLoss). Its "
        "scores are margins, not logits, so softmax(scores) is not a "
        "probability model: their scale is set by the margin and the L2 penalty, not fitted to "
        f"the label frequencies. Its ECE is reported anyway: {ece0[hinge]:.3f} at 0% and "
        f"{ece_top[hinge]:.3f} at {_pct(top)} noise (mean confidence minus accuracy "
        f"{gap[(hinge, 0.0)]:+.3f} and {gap[(hinge, top)]:+.3f})."
    )
    s0, st = res[(sparse, 0.0)], res[(sparse, top)]
    notes.append(
        f"{sparse}: the probabilities are sparsemax(scores), which puts exactly zero on the "
        f"classes far enough below the top one: on average {s0['support']:.2f} classes keep a "
        f"non-zero probability at 0% noise and {st['support']:.2f} at {_pct(top)}; "
        f"{s0['certain']:.1%} and {st['certain']:.1%} of the test predictions put all the mass "
        f"on one class. Its ECE: {ece0[sparse]:.3f} and {ece_top[sparse]:.3f}."
    )
    fitted = "; ".join(
        f"{k} {res[(k, top)]['flipped_fitted']:.3f} and {res[(k, top)]['flipped_recovered']:.3f}"
        for k in labels
    )
    notes.append(
        f"Of the flipped training labels, the share the {_pct(top)}-noise fit predicts, and the "
        f"share it predicts as the true class instead: {fitted}."
    )
    capped = [k for k in labels if any(res[(k, r)]["fit"].n_iter >= MAX_ITER for r in NOISE_LEVELS)]
    norm = {k: max(res[(k, r)]["fit"].grad_norm for r in NOISE_LEVELS) for k in labels}
    smooth = [k for k in labels if k != hinge]
    worst = max(smooth, key=norm.get)
    notes.append(
        f"Optimisation: L-BFGS from W = 0, at most {MAX_ITER} iterations for every fit; a fit "
        "stops earlier only when its line search can no longer decrease the objective. "
        + (
            f"Fits that ran all {MAX_ITER}: {', '.join(capped)}. "
            if capped
            else f"Every fit stopped before {MAX_ITER}. "
        )
        + f"Largest final gradient norm of the differentiable losses: {norm[worst]:.2g} "
        f"({worst}); of the hinge, whose objective has kinks where the gradient need not "
        f"vanish: {norm[hinge]:.2g}."
    )
    n_train, n_test = data["y_train"].size, data["y_test"].size
    notes.append(
        f"Data: scikit-learn's digits (8x8 images, 10 classes), {n_train} training and "
        f"{n_test} test images, split stratified ({TEST_FRACTION:.0%} of each class to the "
        f"test set, seed {seed}); pixels standardised with the training statistics. Label "
        "noise: a random share of the training labels is replaced by a class drawn uniformly "
        "from the nine others (the 20% flips are among the 40% ones); test labels are clean. "
        f"Model: scores = b + W x (65 x 10), objective mean loss + {L2:g}/2 |W|^2 (bias not "
        "penalised), gradient from the loss's own .grad with respect to the scores, chained "
        "to W. Accuracy: argmax of the scores. ECE: top-label confidence in "
        f"{N_BINS} equal-width bins."
    )
    return summary, notes


# ---- figures -----------------------------------------------------------------------------------
def _figure_reliability(out: Path, res: dict[tuple[str, float], dict[str, Any]]) -> Path:
    styles = {SHOWN_NOISE[0]: ("#1f77b4", "o", "-"), SHOWN_NOISE[1]: ("#d62728", "s", "--")}
    edges = np.linspace(0.0, 1.0, N_BINS + 1)
    with style():
        fig, axes = new_figure(2, 3, size=(13.0, 8.6))
        for ax, spec in zip(axes.ravel(), SPECS, strict=True):
            ax.plot([0, 1], [0, 1], color="0.6", lw=1.0, label="perfect calibration")
            for rate in SHOWN_NOISE:
                m = res[(spec.label, rate)]
                count, mean_conf, accuracy = m["bins"]
                full = count > 0
                color, marker, ls = styles[rate]
                ax.plot(
                    mean_conf[full],
                    accuracy[full],
                    color=color,
                    marker=marker,
                    ls=ls,
                    lw=1.6,
                    ms=5,
                    label=f"{_pct(rate)} noise: ECE {m['ece']:.3f}",
                )
                share = count / count.sum()
                ax.bar(
                    edges[:-1],
                    share * 0.25,
                    width=1.0 / N_BINS,
                    align="edge",
                    color=color,
                    alpha=0.18,
                    lw=0,
                )
            ax.set_xlim(0.0, 1.0)
            ax.set_ylim(0.0, 1.02)
            ax.set_xlabel(f"confidence, {_probability_label(spec)}", fontsize=8)
            ax.set_ylabel("test accuracy")
            ax.set_title(spec.label, fontsize=9.5)
            ax.legend(loc="upper left", fontsize=8)
        fig.suptitle(
            "Reliability on the clean test set (15 bins; bars: share of test samples per bin, "
            "scaled by 1/4)",
            fontsize=11,
        )
        return save(fig, out / f"{NAME}-reliability.png")


def _figure_noise(out: Path, res: dict[tuple[str, float], dict[str, Any]]) -> Path:
    markers = ("o", "s", "D", "^", "v", "P")
    rates = np.array(NOISE_LEVELS) * 100
    with style():
        fig, axes = new_figure(1, 2, size=(12.0, 4.8))
        for spec, color, marker in zip(SPECS, COLORS, markers, strict=True):
            for ax, key in zip(axes[0], ("accuracy", "ece"), strict=True):
                ax.plot(
                    rates,
                    [res[(spec.label, r)][key] for r in NOISE_LEVELS],
                    color=color,
                    marker=marker,
                    lw=1.6,
                    label=spec.label,
                )
        axes[0, 0].set_ylabel("test accuracy (clean labels)")
        axes[0, 0].set_title("Accuracy against label noise")
        axes[0, 1].set_ylabel(f"expected calibration error ({N_BINS} bins)")
        axes[0, 1].set_title("Calibration error against label noise")
        for ax in axes[0]:
            ax.set_xlabel("training labels flipped (%)")
            ax.set_xticks(rates)
        handles, names = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, names, loc="outside lower center", ncols=3, fontsize=8)
        return save(fig, out / f"{NAME}-accuracy-vs-noise.png")


STUDY = Study(
    name=NAME,
    title=TITLE,
    description="Six multiclass losses (cross entropy, label smoothing, focal, poly-1, hinge, "
    "sparsemax) train a linear classifier on the digits with 0%, 20% and 40% of the labels "
    "flipped: test accuracy and calibration.",
    _run=_run,
)
