"""Study ``outliers``: how one outlier moves each regression loss, and what each loss fits.

Part 1 reproduces the write-up's three-point table: predictions [1.1, 1.2, 1.3] against labels
[1, 1.2, 1.5], then with the label 1.5 replaced by the outlier 3. Part 2 fits a constant and a
line with several losses to seeded synthetic data, with and without 10% gross outliers (fitted
by iteratively reweighted least squares on each loss's own ``.grad``). Part 3 fits the line
with the redescending losses (Cauchy, Geman-McClure, Welsch, Tukey's biweight) beside Huber,
and shows the weight ``grad(r) / r`` that each gives a point with residual r: Huber's decays
like ``1/|r|`` and never reaches 0, so the outliers keep pulling; a redescender's goes to 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ... import (
    cauchy,
    geman_mcclure,
    huber,
    log_cosh,
    mae,
    mse,
    pseudo_huber,
    quantile,
    tukey_biweight,
    welsch,
)
from ._base import Study, StudyReport, sig
from ._figures import COLORS, new_figure, save, style
from ._train import Backend, fit_irls, progress_bar

NAME = "outliers"
TITLE = "Outliers: L1 against L2 and the robust losses in between"

PRED = [1.1, 1.2, 1.3]
LABELS_CLEAN = [1.0, 1.2, 1.5]
LABELS_OUTLIER = [1.0, 1.2, 3.0]

#: (row label, loss, hyperparameters) for the write-up table
TABLE_LOSSES: list[tuple[str, Any, dict[str, float]]] = [
    ("mae", mae, {}),
    ("mse", mse, {}),
    ("huber (delta=1)", huber, {"delta": 1.0}),
    ("log_cosh", log_cosh, {}),
    ("pseudo_huber (delta=1)", pseudo_huber, {"delta": 1.0}),
    ("quantile (q=0.5)", quantile, {"q": 0.5}),
]

#: (row label, colour key, loss, hyperparameters) for the fits
FIT_LOSSES: list[tuple[str, str, Any, dict[str, float]]] = [
    ("mse", "mse", mse, {}),
    ("mae", "mae", mae, {}),
    ("huber (delta=1)", "huber", huber, {"delta": 1.0}),
    ("log_cosh", "log_cosh", log_cosh, {}),
    ("quantile (q=0.5)", "quantile", quantile, {"q": 0.5}),
]

#: (label, colour, loss, hyperparameters) for part 3: Huber against the redescending losses,
#: at their default scales (the noise's standard deviation is 0.5)
REDESCENDING_LOSSES: list[tuple[str, str, Any, dict[str, float]]] = [
    ("huber (delta=1)", "#2ca02c", huber, {"delta": 1.0}),
    ("cauchy (c=1)", "#1f77b4", cauchy, {"c": 1.0}),
    ("geman_mcclure (c=1)", "#ff7f0e", geman_mcclure, {"c": 1.0}),
    ("welsch (c=1)", "#9467bd", welsch, {"c": 1.0}),
    ("tukey_biweight (c=4.685)", "#8c564b", tukey_biweight, {"c": 4.685}),
]

N_POINTS = 201  # odd, so the sample median is a data point and the L1 constant is unique
OUTLIER_FRACTION = 0.10
TRUE_INTERCEPT, TRUE_SLOPE, NOISE = 1.0, 2.0, 0.5


def three_point_table(bk: Backend) -> list[list[str | float]]:
    """The write-up table: loss, mean without the outlier, mean with it, and their ratio."""
    pred = bk.asarray(PRED)
    clean, dirty = bk.asarray(LABELS_CLEAN), bk.asarray(LABELS_OUTLIER)
    rows: list[list[str | float]] = []
    for label, loss, params in TABLE_LOSSES:
        before = bk.scalar(loss(pred, clean, **params))
        after = bk.scalar(loss(pred, dirty, **params))
        rows.append([label, sig(before), sig(after), sig(after / before)])
    return rows


def make_data(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x, clean y, y with outliers, boolean mask of the outliers): y = 2x + 1 + noise, and 10%
    of the points (chosen at random) pushed up by 20 to 30."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0.0, 10.0, N_POINTS))
    y = TRUE_INTERCEPT + TRUE_SLOPE * x + NOISE * rng.standard_normal(N_POINTS)
    k = round(OUTLIER_FRACTION * N_POINTS)
    idx = rng.choice(N_POINTS, size=k, replace=False)
    mask = np.zeros(N_POINTS, dtype=bool)
    mask[idx] = True
    dirty = y.copy()
    dirty[idx] += rng.uniform(20.0, 30.0, k)
    return x, y, dirty, mask


def irls_weight(loss: Any, bk: Backend, r: np.ndarray, params: dict[str, float]) -> np.ndarray:
    """The weight ``grad(r) / r`` a point with residual r gets in IRLS, over its limit at
    r = 0 (the second derivative there), so that every loss gives an inlier weight 1."""
    r = np.where(r == 0.0, 1e-12, r)
    zero = bk.asarray(np.zeros_like(r))
    psi = bk.numpy(loss.grad(bk.asarray(r), zero, **params))
    at_zero = bk.scalar(loss.hess(bk.asarray(np.zeros(1)), bk.asarray(np.zeros(1)), **params)[0])
    return psi / r / at_zero


def redescending_fits(
    bk: Backend, x: np.ndarray, y: np.ndarray, mask: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """The line under Huber and each redescending loss (IRLS from Huber's line), and the share
    of the final IRLS weight that the outliers keep."""
    X = np.column_stack([np.ones_like(x), x])
    start = fit_irls(huber, bk, X, y, params={"delta": 1.0}).beta
    lines, share = {}, {}
    for label, _color, loss, params in REDESCENDING_LOSSES:
        beta = fit_irls(loss, bk, X, y, params=params, start=start).beta
        w = irls_weight(loss, bk, X @ beta - y, params)
        lines[label], share[label] = beta, float(np.sum(w[mask]) / np.sum(w))
    return lines, share


def _run(out: Path, *, seed: int, bk: Backend, progress: bool) -> StudyReport:
    rows = three_point_table(bk)

    x, y_clean, y_dirty, mask = make_data(seed)
    ones = np.ones_like(x)
    design = {"constant": ones[:, None], "line": np.column_stack([ones, x])}
    fits: dict[tuple[str, str, str], np.ndarray] = {}
    jobs = [
        (label, key, loss, params, model, data)
        for label, key, loss, params in FIT_LOSSES
        for model in ("constant", "line")
        for data in ("clean", "outliers")
    ]
    for label, _key, loss, params, model, data in progress_bar(jobs, desc=NAME, progress=progress):
        target = y_clean if data == "clean" else y_dirty
        fit = fit_irls(loss, bk, design[model], target, params=params)
        fits[(label, model, data)] = fit.beta

    const_rows: list[list[str | float]] = []
    for label, *_ in FIT_LOSSES:
        c0 = fits[(label, "constant", "clean")][0]
        c1 = fits[(label, "constant", "outliers")][0]
        const_rows.append([label, sig(c0), sig(c1), sig(c1 - c0)])
    for label, fn in (("sample mean", np.mean), ("sample median", np.median)):
        c0, c1 = float(fn(y_clean)), float(fn(y_dirty))
        const_rows.append([label, sig(c0), sig(c1), sig(c1 - c0)])

    line_rows: list[list[str | float]] = []
    for label, *_ in FIT_LOSSES:
        b0 = fits[(label, "line", "clean")]
        b1 = fits[(label, "line", "outliers")]
        line_rows.append([label, sig(b0[0]), sig(b0[1]), sig(b1[0]), sig(b1[1])])

    redescending, share = redescending_fits(bk, x, y_dirty, mask)
    redescending_rows: list[list[str | float]] = [
        [label, sig(b[0]), sig(b[1]), sig(100.0 * share[label])]
        for label, b in redescending.items()
    ]

    figures = [
        _figure_lines(out, x, y_clean, y_dirty, mask, fits),
        _figure_constants(out, y_dirty, mask, fits),
        _figure_redescending(out, bk, redescending, fits[("mse", "line", "clean")]),
    ]

    def pct(label: str) -> str:
        return f"{100.0 * share[label]:.2g}%"

    clean_slope = float(fits[("mse", "line", "clean")][1])
    slope_gap = max(
        abs(float(b[1]) - clean_slope) for k, b in redescending.items() if k != "huber (delta=1)"
    )
    by_label = {r[0]: r for r in rows}
    l1, l2 = by_label["mae"], by_label["mse"]
    shift = {r[0]: r[3] for r in const_rows}
    lines = {r[0]: r for r in line_rows}
    summary = (
        f"One outlier among three labels multiplies the mean L1 loss by {l1[3]:g} "
        f"({l1[1]:g} to {l1[2]:g}) but the mean squared error by {l2[3]:g} "
        f"({l2[1]:.4g} to {l2[2]:.4g}): squaring lets the largest residual dominate. "
        f"Fitting a constant, MSE returns the sample mean and moves by {shift['mse']:.3g} when "
        f"10% of the points become outliers, while MAE and the q=0.5 quantile return the "
        f"median and move by {shift['mae']:.3g}. Huber and log-cosh behave like MAE far from "
        "the fit and like MSE near it, so they resist the outliers too. But Huber still gives "
        f"the 20 outliers {pct('huber (delta=1)')} of the IRLS weight and its slope is "
        f"{redescending['huber (delta=1)'][1]:.3g}; the redescending losses give them "
        f"{pct('cauchy (c=1)')} (Cauchy) down to {pct('welsch (c=1)')} (Welsch) and "
        f"{pct('tukey_biweight (c=4.685)')} (Tukey's biweight), with slopes within "
        f"{slope_gap:.2g} of MSE's on the clean data ({clean_slope:.3g})."
    )
    notes = [
        "The write-up printed an L2 ratio of 60.6: it divided the rounded means (0.97 / 0.016 = "
        f"60.6). The exact means are 0.05/3 = {l2[1]:g} and 2.9/3 = {l2[2]:g}, so the ratio is "
        f"2.9 / 0.05 = {l2[3]:g}.",
        "The quantile loss with q = 0.5 is exactly half the absolute error, so its ratio equals "
        "MAE's and it fits the same constant and line.",
        f"Line fits with 10% outliers: MSE's slope goes from {lines['mse'][2]:.3g} to "
        f"{lines['mse'][4]:.3g} and its intercept from {lines['mse'][1]:.3g} to "
        f"{lines['mse'][3]:.3g}; MAE's slope goes from {lines['mae'][2]:.3g} to "
        f"{lines['mae'][4]:.3g} and Huber's from {lines['huber (delta=1)'][2]:.3g} to "
        f"{lines['huber (delta=1)'][4]:.3g} (true intercept {TRUE_INTERCEPT:g}, "
        f"slope {TRUE_SLOPE:g}).",
        "Redescending losses: a point's IRLS weight grad(r)/r falls to 0 far out (Welsch's "
        "like exp(-r^2/2), Cauchy's like 2/r^2, Tukey's is exactly 0 beyond c), where Huber's "
        "is delta/|r|: 1/25 of an inlier's at r = 25, which, times 20 outliers, still tilts "
        "the line. They are not convex, so each is fitted by IRLS from Huber's line (as "
        "MM-estimation starts from a robust fit); from the MSE line they can stop at a "
        "worse stationary point.",
        f"Data: {N_POINTS} points x ~ U(0, 10), y = {TRUE_SLOPE:g} x + {TRUE_INTERCEPT:g} + "
        f"N(0, {NOISE:g}^2); {int(mask.sum())} random points raised by 20 to 30 (seed {seed}). "
        "Each fit is iteratively reweighted least squares with weights loss.grad(r) / r, "
        "whose fixed point is the minimiser of the mean loss.",
    ]
    return StudyReport(
        name=NAME,
        title=TITLE,
        summary=summary,
        headers=[
            "loss",
            "mean loss, labels [1, 1.2, 1.5]",
            "mean loss, labels [1, 1.2, 3]",
            "ratio",
        ],
        rows=rows,
        figures=figures,
        notes=notes,
        extra_tables=[
            (
                "Constant fitted to the synthetic data (the value c minimising mean loss(c, y))",
                ["loss", "clean", "with outliers", "shift"],
                const_rows,
            ),
            (
                "Line fitted to the synthetic data (true intercept 1, slope 2)",
                [
                    "loss",
                    "intercept, clean",
                    "slope, clean",
                    "intercept, with outliers",
                    "slope, with outliers",
                ],
                line_rows,
            ),
            (
                "Huber and the redescending losses: the line fitted to the data with outliers, "
                "and the share of the IRLS weight the outliers keep",
                ["loss", "intercept", "slope", "outliers' weight (%)"],
                redescending_rows,
            ),
        ],
    )


def _figure_lines(
    out: Path,
    x: np.ndarray,
    y_clean: np.ndarray,
    y_dirty: np.ndarray,
    mask: np.ndarray,
    fits: dict[tuple[str, str, str], np.ndarray],
) -> Path:
    with style():
        fig, axes = new_figure(1, 2, size=(11.0, 4.4))
        grid = np.array([0.0, 10.0])
        for ax, data, ys in ((axes[0, 0], "clean", y_clean), (axes[0, 1], "outliers", y_dirty)):
            ax.scatter(x[~mask], ys[~mask], s=9, color="0.55", label="data", zorder=1)
            if data == "outliers":
                ax.scatter(
                    x[mask], ys[mask], s=22, marker="x", color="black", label="outliers", zorder=1
                )
            for i, (label, key, *_rest) in enumerate(FIT_LOSSES):
                b = fits[(label, "line", data)]
                ax.plot(
                    grid,
                    b[0] + b[1] * grid,
                    color=COLORS[key],
                    lw=2.0,
                    ls=("-", "--", "-.", ":", (0, (1, 3)))[i],
                    label=label,
                    zorder=2,
                )
            ax.set_xlabel("x")
            ax.set_ylabel("y")
            ax.set_title("clean data" if data == "clean" else "10% of points moved up by 20-30")
            ax.set_ylim(-2.0, 55.0)
        axes[0, 0].legend(loc="upper left")
        axes[0, 1].legend(loc="upper left")
        return save(fig, out / f"{NAME}-lines.png")


def _figure_constants(
    out: Path, y_dirty: np.ndarray, mask: np.ndarray, fits: dict[tuple[str, str, str], np.ndarray]
) -> Path:
    with style():
        fig, axes = new_figure(1, 1, size=(8.0, 3.8))
        ax = axes[0, 0]
        bins = np.linspace(-2.0, 52.0, 55)
        ax.hist(
            [y_dirty[~mask], y_dirty[mask]],
            bins=bins,
            stacked=True,
            color=["0.7", "0.25"],
            label=["inliers", "outliers"],
        )
        shown = [("mse", "mse", " (the mean)"), ("mae", "mae", " (the median)")]
        shown += [("huber (delta=1)", "huber", ""), ("log_cosh", "log_cosh", "")]
        for i, (label, key, what) in enumerate(shown):
            c = fits[(label, "constant", "outliers")][0]
            ax.axvline(
                c,
                color=COLORS[key],
                lw=2.0,
                ls=("-", "--", "-.", ":")[i],
                label=f"{label}: c = {c:.2f}{what}",
            )
        ax.set_xlabel("y (with outliers)")
        ax.set_ylabel("count")
        ax.set_title("Best constant under each loss: MSE gives the mean, MAE the median")
        ax.legend(loc="upper right")
        return save(fig, out / f"{NAME}-constants.png")


def _figure_redescending(
    out: Path, bk: Backend, lines: dict[str, np.ndarray], clean: np.ndarray
) -> Path:
    with style():
        fig, axes = new_figure(1, 2, size=(11.0, 4.4))
        styles = ("-", "--", "-.", ":", (0, (1, 3)))
        ax = axes[0, 0]
        grid = np.linspace(0.0, 10.0, 101)
        for (label, color, *_), ls in zip(REDESCENDING_LOSSES, styles, strict=True):
            b = lines[label] - clean
            ax.plot(grid, b[0] + b[1] * grid, color=color, lw=2.0, ls=ls, label=label)
        ax.axhline(0.0, color="black", lw=0.8)
        ax.set_xlabel("x")
        ax.set_ylabel("fitted line minus MSE's line on the clean data")
        ax.set_title("With 10% outliers: where each line lies")
        ax.legend(loc="upper left")

        ax = axes[0, 1]
        r = np.linspace(-10.0, 32.0, 841)
        ax.axvspan(20.0, 30.0, color="0.85", label="the outliers' residuals")
        for (label, color, loss, params), ls in zip(REDESCENDING_LOSSES, styles, strict=True):
            w = irls_weight(loss, bk, r, params)
            ax.plot(r, np.where(w > 0, w, np.nan), color=color, lw=2.0, ls=ls, label=label)
        ax.set_yscale("log")
        ax.set_ylim(1e-5, 2.0)
        ax.set_xlabel("residual r")
        ax.set_ylabel("IRLS weight grad(r) / r (1 at r = 0)")
        ax.set_title("The weight of a point: Huber's never reaches 0")
        ax.legend(loc="lower left")
        return save(fig, out / f"{NAME}-redescending.png")


STUDY = Study(
    name=NAME,
    title=TITLE,
    description="One outlier against L1, L2, Huber, log-cosh, pseudo-Huber and quantile "
    "losses, the constants and lines each loss fits to contaminated data, and how the "
    "redescending losses ignore the outliers Huber still feels.",
    _run=_run,
)
