"""Study ``saturation``: squared error on a sigmoid output stops learning where it saturates.

For a logit z and s = sigmoid(z), the squared error (s - y)^2 has the logit gradient
2 (s - y) s (1 - s), built here from ``mse.grad(s, y)`` times the sigmoid's slope; the cross
entropy on the logit (``binary_cross_entropy_with_logits.grad``) has s - y. When the output
saturates on the wrong side, s (1 - s) ~ e^-|z| kills the first and leaves the second at -1.
Then both train the same logistic model by gradient descent, at the same learning rate, from
initialisations whose outputs are saturated and wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from array_api_compat import array_namespace

from ... import binary_cross_entropy_with_logits as bce_logits
from ... import mse
from ..._xp import sigmoid_pair
from ._base import Study, StudyReport, sig
from ._figures import new_figure, save, style
from ._train import Backend, gradient_descent, progress_bar

NAME = "saturation"
TITLE = "Saturation: squared error on a sigmoid against cross entropy on the logit"

N_PER_CLASS = 200
MEAN = np.array([1.5, 1.0])  # class means are +MEAN (y = 1) and -MEAN (y = 0)
LEARNING_RATE = 1.0
EPOCHS = 1000
TARGET_ACCURACY = 0.9
Z_TABLE = (-10.0, -8.0, -5.0, -2.0, 0.0, 2.0, 5.0, 10.0)
LOSS_LABELS = {"mse": "MSE on sigmoid(z)", "ce": "cross entropy on z"}
COLORS = {"mse": "#d62728", "ce": "#1f77b4"}


def mse_sigmoid_grad(bk: Backend, z: Any, y: Any) -> Any:
    """d/dz (sigmoid(z) - y)^2 = mse.grad(s, y) * s (1 - s), per element (backend arrays)."""
    s, s_neg = sigmoid_pair(array_namespace(z), z)
    return mse.grad(s, y) * (s * s_neg)


def mse_sigmoid_loss(bk: Backend, z: Any, y: Any) -> float:
    s, _ = sigmoid_pair(array_namespace(z), z)
    return bk.scalar(mse(s, y))


def ce_grad(bk: Backend, z: Any, y: Any) -> Any:
    """d/dz of the cross entropy on the logit: sigmoid(z) - y."""
    return bce_logits.grad(z, y)


def ce_loss(bk: Backend, z: Any, y: Any) -> float:
    return bk.scalar(bce_logits(z, y))


GRADS = {"mse": mse_sigmoid_grad, "ce": ce_grad}
LOSSES = {"mse": mse_sigmoid_loss, "ce": ce_loss}


def gradient_curves(bk: Backend, z: np.ndarray, y: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(MSE-on-sigmoid gradient, cross-entropy gradient) with respect to z, for label y."""
    zb = bk.asarray(z)
    yb = bk.asarray(np.full_like(np.asarray(z, dtype=np.float64), y))
    return bk.numpy(mse_sigmoid_grad(bk, zb, yb)), bk.numpy(ce_grad(bk, zb, yb))


def make_data(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(design matrix [1, x1, x2], labels): two unit-variance Gaussian blobs at +-MEAN."""
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(N_PER_CLASS), np.zeros(N_PER_CLASS)]
    x = rng.standard_normal((2 * N_PER_CLASS, 2)) + np.where(y[:, None] == 1, MEAN, -MEAN)
    return np.column_stack([np.ones_like(y), x]), y


def initialisations() -> dict[str, np.ndarray]:
    """Two bad starting points, both with outputs saturated at |z| ~ 8."""
    direction = MEAN / np.linalg.norm(MEAN)
    scale = 8.0 / np.linalg.norm(MEAN)  # a point at +MEAN gets z = -8
    return {
        "flipped": np.r_[0.0, -scale * direction],
        "all z = -8": np.array([-8.0, 0.0, 0.0]),
    }


def _train(
    bk: Backend, X: Any, y: Any, y_np: np.ndarray, beta0: np.ndarray, loss: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(accuracy after every epoch, the epochs where the loss was recorded, the loss there)."""
    accuracy: list[float] = []
    logged = set(np.unique(np.geomspace(1, EPOCHS + 1, 120).astype(int) - 1).tolist())
    logged.add(EPOCHS)
    epochs: list[int] = []
    values: list[float] = []

    def record(epoch: int, beta: np.ndarray) -> None:
        z = X @ bk.asarray(beta)
        accuracy.append(float(np.mean((bk.numpy(z) > 0) == (y_np == 1))))
        if epoch in logged:
            epochs.append(epoch)
            values.append(LOSSES[loss](bk, z, y))

    gradient_descent(
        bk,
        X,
        beta0,
        grad_z=lambda z: GRADS[loss](bk, z, y),
        lr=LEARNING_RATE,
        epochs=EPOCHS,
        record=record,
    )
    return np.array(accuracy), np.array(epochs), np.array(values)


def _run(out: Path, *, seed: int, bk: Backend, progress: bool) -> StudyReport:
    z_grid = np.linspace(-10.0, 10.0, 401)
    g_mse, g_ce = gradient_curves(bk, z_grid, 1.0)
    t_mse, t_ce = gradient_curves(bk, np.array(Z_TABLE), 1.0)
    grad_rows: list[list[str | float]] = [
        [sig(z), sig(a), sig(b), sig(a / b)] for z, a, b in zip(Z_TABLE, t_mse, t_ce, strict=True)
    ]

    X_np, y_np = make_data(seed)
    X, y = bk.asarray(X_np), bk.asarray(y_np)
    inits = initialisations()
    jobs = [(init, loss) for init in inits for loss in ("mse", "ce")]
    curves: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for init, loss in progress_bar(jobs, desc=NAME, progress=progress):
        curves[(init, loss)] = _train(bk, X, y, y_np, inits[init], loss)

    rows: list[list[str | float]] = []
    reached: dict[tuple[str, str], int | None] = {}
    for init, loss in jobs:
        acc, _, val = curves[(init, loss)]
        hits = np.flatnonzero(acc >= TARGET_ACCURACY)
        epoch = int(hits[0]) if hits.size else None
        reached[(init, loss)] = epoch
        z0 = X_np @ inits[init]
        rows.append(
            [
                init,
                LOSS_LABELS[loss],
                sig(float(np.mean(np.abs(bk.numpy(GRADS[loss](bk, bk.asarray(z0), y)))))),
                "not reached" if epoch is None else float(epoch),
                sig(acc[-1]),
                sig(val[-1]),
            ]
        )
    figures = [_figure_gradients(out, z_grid, g_mse, g_ce), _figure_training(out, curves)]

    def epochs(init: str, loss: str) -> str:
        e = reached[(init, loss)]
        return f"more than {EPOCHS}" if e is None else str(e)

    start = {r[1]: r[2] for r in rows if r[0] == "all z = -8"}
    start = {loss: start[LOSS_LABELS[loss]] for loss in LOSS_LABELS}
    at10 = dict(zip(Z_TABLE, zip(t_mse, t_ce, strict=True), strict=True))[-10.0]
    summary = (
        "With s = sigmoid(z) and label 1, squared error on s has the logit gradient "
        "2(s - 1)s(1 - s), which vanishes like e^z when the output saturates on the wrong side "
        f"({at10[0]:.2g} at z = -10), while cross entropy on the logit keeps s - 1 "
        f"({at10[1]:.4g}). Trained by gradient descent at the same learning rate from outputs "
        f"saturated at |z| ~ 8, cross entropy reaches {TARGET_ACCURACY:.0%} accuracy in "
        f"{epochs('all z = -8', 'ce')} epochs and MSE needs {epochs('all z = -8', 'mse')}. "
        "Pair a sigmoid with cross entropy, not with squared error."
    )
    notes = [
        f"From the 'flipped' start (weights pointing the wrong way, a typical point at z = +-8 "
        f"on the wrong side) cross entropy needs {epochs('flipped', 'ce')} epochs and MSE "
        f"{epochs('flipped', 'mse')}: MSE escapes through the few points near the boundary "
        "whose outputs are not saturated, so it is slow rather than stuck.",
        "From 'all z = -8' (zero weights, bias -8) every output is saturated, and MSE's mean "
        f"gradient starts {start['mse'] / start['ce']:.2g} times cross entropy's (the 'mean "
        "|dL/dz| at the start' column).",
        "The MSE gradient also vanishes when the output saturates on the right side, as cross "
        "entropy's does; only the wrong side distinguishes them.",
        f"Data: {2 * N_PER_CLASS} points, two unit-variance Gaussian blobs at +-{MEAN.tolist()} "
        f"(seed {seed}); linear logistic model with intercept; full-batch gradient descent, "
        f"learning rate {LEARNING_RATE:g}, {EPOCHS} epochs; gradients from mse.grad (chain "
        "rule through the sigmoid) and binary_cross_entropy_with_logits.grad.",
    ]
    return StudyReport(
        name=NAME,
        title=TITLE,
        summary=summary,
        headers=[
            "initialisation",
            "loss",
            "mean |dL/dz| at the start",
            f"epochs to {TARGET_ACCURACY:.0%} accuracy",
            f"accuracy after {EPOCHS} epochs",
            f"loss after {EPOCHS} epochs",
        ],
        rows=rows,
        figures=figures,
        notes=notes,
        extra_tables=[
            (
                "Gradient with respect to the logit z for label y = 1",
                ["z", "MSE on sigmoid: 2(s-1)s(1-s)", "cross entropy: s-1", "ratio"],
                grad_rows,
            )
        ],
    )


def _figure_gradients(out: Path, z: np.ndarray, g_mse: np.ndarray, g_ce: np.ndarray) -> Path:
    with style():
        fig, axes = new_figure(1, 2, size=(11.0, 4.0))
        ax = axes[0, 0]
        ax.plot(z, g_mse, color=COLORS["mse"], lw=2, label="MSE on sigmoid: 2(s-1)s(1-s)")
        ax.plot(z, g_ce, color=COLORS["ce"], lw=2, ls="--", label="cross entropy: s-1")
        ax.axhline(0.0, color="0.4", lw=0.8)
        ax.set_xlabel("logit z (label y = 1)")
        ax.set_ylabel("dL/dz")
        ax.set_title("Gradient with respect to the logit")
        ax.legend(loc="lower right")
        ax = axes[0, 1]
        ax.semilogy(z, np.abs(g_mse), color=COLORS["mse"], lw=2, label="MSE on sigmoid")
        ax.semilogy(z, np.abs(g_ce), color=COLORS["ce"], lw=2, ls="--", label="cross entropy")
        ax.axvspan(-10.0, 0.0, color="0.85", zorder=0)
        ax.text(-9.5, 2e-4, "wrong side:\nMSE gradient vanishes", fontsize=9)
        ax.set_xlabel("logit z (label y = 1)")
        ax.set_ylabel("|dL/dz| (log scale)")
        ax.set_title("Magnitude: MSE dies on both tails, CE only where it is right")
        ax.legend(loc="lower left")
        return save(fig, out / f"{NAME}-gradients.png")


def _figure_training(
    out: Path, curves: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, np.ndarray]]
) -> Path:
    inits = list(dict.fromkeys(init for init, _ in curves))
    with style():
        fig, axes = new_figure(len(inits), 2, size=(11.0, 3.6 * len(inits)))
        for i, init in enumerate(inits):
            for loss in ("mse", "ce"):
                acc, logged, val = curves[(init, loss)]
                style_ = {"color": COLORS[loss], "lw": 2, "label": LOSS_LABELS[loss]}
                # epoch 0 is drawn at 1 on the log axis
                axes[i, 0].semilogx(np.arange(acc.size) + 1, acc, **style_)
                axes[i, 1].loglog(logged + 1, val, **style_)
            axes[i, 0].axhline(TARGET_ACCURACY, color="0.4", lw=0.8, ls=":")
            axes[i, 0].set_ylim(0.0, 1.02)
            axes[i, 0].set_ylabel("training accuracy")
            axes[i, 0].set_title(f"start '{init}': accuracy")
            axes[i, 1].set_ylabel("training loss (each model's own)")
            axes[i, 1].set_title(f"start '{init}': loss")
            for ax in axes[i]:
                ax.set_xlabel("epoch + 1")
                ax.legend(loc="best")
        return save(fig, out / f"{NAME}-training.png")


STUDY = Study(
    name=NAME,
    title=TITLE,
    description="Why a sigmoid output trained with squared error stalls when it saturates, "
    "and cross entropy on the logit does not.",
    _run=_run,
)
