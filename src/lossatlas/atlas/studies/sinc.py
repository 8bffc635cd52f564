"""Study ``sinc``: gradient boosting with robust losses on sinc(x) with impulse noise.

Reproduces the loss comparison of Natekin & Knoll (2013), "Gradient boosting machines, a
tutorial", Frontiers in Neurorobotics 7:21 (doi:10.3389/fnbot.2013.00021), Figure 1 E-H: noisy
samples of sinc(x) = sin(x)/x fitted by boosting with the squared error, the absolute error,
Huber with delta = 4, 2, 1, the quantile loss with q = 0.1, 0.5, 0.9 and, added here, log-cosh;
and a 90% prediction interval from quantile fits at q = 0.05 and 0.95.

Every fit is LightGBM boosting the library's own objective (``lossatlas.gbm``), started from
``gbm.initial_prediction``. x enters LightGBM already cut into equal-width bins, so each fit is a
step function on those bins and boosting has a definite limit: the per-bin constant that
minimises the loss. The study measures how close each fit gets to it. The booster works on
NumPy arrays, so this study ignores ``backend``: its results are the same for every backend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ... import gbm, get
from ._base import Study, StudyReport, sig
from ._figures import COLORS, new_figure, save, style
from ._train import Backend, progress_bar

NAME = "sinc"
TITLE = "Boosting sinc(x) through impulse noise: L2, L1, Huber, quantile and log-cosh"

X_RANGE = (-10.0, 10.0)
N_TRAIN, N_TEST, N_GRID = 4000, 20000, 2001
N_BINS = 40  # bins of width 0.5: about 50 training points each
NOISE_SD = 0.2
IMPULSE_FRACTION = 0.02  # each point independently; half of the impulses up, half down
IMPULSE_SIZE = (2.0, 6.0)  # |impulse| ~ U(2, 6)

N_ROUNDS = 300
#: losses with no curvature, boosted with the unit-Hessian surrogate
PINBALL = ("mae", "quantile")
#: their learning rate decays geometrically from the first value to the second over the rounds
PINBALL_LEARNING_RATE = (4.0, 0.001)
#: the contrast run: MAE at a constant learning rate
CONSTANT_LEARNING_RATE = 0.1
LIGHTGBM_PARAMS: dict[str, Any] = {
    "num_leaves": N_BINS,  # one tree can give every bin its own value
    "min_data_in_leaf": 10,
    "num_threads": 1,
    "deterministic": True,
    "force_col_wise": True,
    "metric": "None",  # the training loss comes from gbm.lightgbm_metric
    "verbosity": -1,
}
#: rounds at which the convergence table reports the excess training loss
CHECKPOINTS = (1, 3, 10, 30, 100, 300)
#: boosting stops once the training loss is within this fraction of the optimum
CONVERGED = 1e-6

#: (row label, colour key, loss name, hyperparameters): the fits of the paper's Figure 1 F-H,
#: then log-cosh
FITS: list[tuple[str, str, str, dict[str, float]]] = [
    ("mse", "mse", "mse", {}),
    ("mae", "mae", "mae", {}),
    ("huber (delta=4)", "huber", "huber", {"delta": 4.0}),
    ("huber (delta=2)", "huber", "huber", {"delta": 2.0}),
    ("huber (delta=1)", "huber", "huber", {"delta": 1.0}),
    ("quantile (q=0.1)", "quantile", "quantile", {"q": 0.1}),
    ("quantile (q=0.5)", "quantile", "quantile", {"q": 0.5}),
    ("quantile (q=0.9)", "quantile", "quantile", {"q": 0.9}),
    ("log_cosh", "log_cosh", "log_cosh", {}),
]
INTERVAL_Q = (0.05, 0.95)
INTERVAL_FITS: list[tuple[str, str, str, dict[str, float]]] = [
    (f"quantile (q={q:g})", "quantile", "quantile", {"q": q}) for q in INTERVAL_Q
]
CONSTANT_LABEL = f"mae, constant learning rate {CONSTANT_LEARNING_RATE:g}"


def sinc(x: np.ndarray) -> np.ndarray:
    """sin(x)/x with sinc(0) = 1 (NumPy's ``np.sinc`` is the normalised sin(pi x)/(pi x))."""
    return np.sinc(np.asarray(x, dtype=np.float64) / np.pi)


def make_data(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, boolean mask of the impulses): x ~ U(-10, 10), y = sinc(x) + N(0, 0.2^2) and, with
    probability 0.02, an impulse of random sign and size U(2, 6) on top."""
    x = rng.uniform(*X_RANGE, n)
    y = sinc(x) + NOISE_SD * rng.standard_normal(n)
    hit = rng.random(n) < IMPULSE_FRACTION
    k = int(hit.sum())
    y[hit] += rng.choice([-1.0, 1.0], size=k) * rng.uniform(*IMPULSE_SIZE, k)
    # LightGBM stores labels in float32: round them once, so the optimum computed here is the
    # one its gradients lead to
    return x, y.astype(np.float32).astype(np.float64), hit


def make_datasets(
    seed: int,
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The training data and the fresh test data (drawn after it from the same generator)."""
    rng = np.random.default_rng(seed)
    return make_data(rng, N_TRAIN), make_data(rng, N_TEST)


def _normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def _integrated_normal_cdf(z: float) -> float:
    """G(z) = int_{-inf}^z Phi(t) dt = z Phi(z) + phi(z)."""
    return z * _normal_cdf(z) + math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


def noise_cdf(t: float) -> float:
    """P(noise <= t) for the noise of :func:`make_data`, exactly: a Gaussian, mixed with the
    Gaussian plus a uniform impulse, whose CDF is an integral of Phi in closed form."""
    s, (a, b) = NOISE_SD, IMPULSE_SIZE
    scale = s / (b - a)
    up = scale * (_integrated_normal_cdf((t - a) / s) - _integrated_normal_cdf((t - b) / s))
    down = scale * (_integrated_normal_cdf((t + b) / s) - _integrated_normal_cdf((t + a) / s))
    f = IMPULSE_FRACTION
    return (1.0 - f) * _normal_cdf(t / s) + 0.5 * f * (up + down)


def noise_quantile(q: float) -> float:
    """The q-quantile of the noise, by bisection on :func:`noise_cdf`. The noise is symmetric:
    its median, mean and every symmetric M-estimate are 0, and Q(1 - q) = -Q(q)."""
    if q > 0.5:
        return -noise_quantile(1.0 - q)
    if q == 0.5:
        return 0.0
    low, high = -IMPULSE_SIZE[1] - 10.0 * NOISE_SD, 0.0
    for _ in range(200):
        mid = 0.5 * (low + high)
        if mid in (low, high):
            break
        if noise_cdf(mid) < q:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


def target_offset(name: str, params: dict[str, float]) -> float:
    """What the fit estimates is sinc(x) plus this: the noise's q-quantile for the quantile
    loss, 0 for the symmetric losses."""
    return noise_quantile(params["q"]) if name == "quantile" else 0.0


# ---- bins ----------------------------------------------------------------------------------
BIN_EDGES = np.linspace(*X_RANGE, N_BINS + 1)
BIN_CENTRES = 0.5 * (BIN_EDGES[:-1] + BIN_EDGES[1:])


def bin_index(x: np.ndarray) -> np.ndarray:
    """The bin of each x (x = 10 goes into the last bin)."""
    return np.clip(np.searchsorted(BIN_EDGES, x, side="right") - 1, 0, N_BINS - 1)


def bin_means(values: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """The mean of ``values`` in each bin (``bins`` is their :func:`bin_index`)."""
    counts = np.bincount(bins, minlength=N_BINS)
    return np.bincount(bins, weights=values, minlength=N_BINS) / counts


def best_step_function(
    name: str, params: dict[str, float], y: np.ndarray, bins: np.ndarray
) -> np.ndarray:
    """The constant minimising the loss in each bin: what ``gbm.initial_prediction`` returns for
    the bin's targets (the root of the summed gradient), found by bisection in all bins at
    once."""
    loss = get(name)
    counts = np.bincount(bins, minlength=N_BINS)
    if np.any(counts == 0):
        raise ValueError("every bin needs at least one training point")
    low = np.full(N_BINS, np.inf)
    high = np.full(N_BINS, -np.inf)
    np.minimum.at(low, bins, y)
    np.maximum.at(high, bins, y)
    for _ in range(200):
        mid = 0.5 * (low + high)
        g = np.bincount(bins, weights=loss.grad(mid[bins], y, **params), minlength=N_BINS)
        below = g < 0
        new_low, new_high = np.where(below, mid, low), np.where(below, high, mid)
        if np.array_equal(new_low, low) and np.array_equal(new_high, high):
            break
        low, high = new_low, new_high
    return 0.5 * (low + high)


# ---- boosting ------------------------------------------------------------------------------
@dataclass
class BoostedFit:
    """One boosted fit: its value in each bin, its training loss round by round, and the
    optimum it converges to.

    Attributes:
        init: the starting score, ``gbm.initial_prediction`` on all training targets.
        final: the fit in each bin after the last round (shape ``(N_BINS,)``).
        best: the per-bin minimiser (:func:`best_step_function`).
        train_loss: the mean training loss after 0, 1, ... rounds, up to the last round run.
        best_loss: the mean training loss of ``best``.
    """

    init: float
    final: np.ndarray
    best: np.ndarray
    train_loss: np.ndarray
    best_loss: float

    @property
    def rounds(self) -> int:
        """How many boosting rounds were run."""
        return self.train_loss.size - 1

    @property
    def excess(self) -> np.ndarray:
        """Training loss above the optimum after each round (>= 0 up to rounding)."""
        return self.train_loss - self.best_loss

    def converged(self) -> bool:
        """Whether the last round got within ``CONVERGED`` of the optimum."""
        return bool(self.excess[-1] <= CONVERGED * abs(self.best_loss))


def learning_rates(name: str, constant: float | None = None) -> list[float]:
    """The learning rate of each round: 1 for the losses with curvature, a geometric decay
    over ``PINBALL_LEARNING_RATE`` for mae and quantile, or ``constant``."""
    if constant is not None:
        return [float(constant)] * N_ROUNDS
    if name not in PINBALL:
        return [1.0] * N_ROUNDS
    start, end = PINBALL_LEARNING_RATE
    return [float(start * (end / start) ** (i / (N_ROUNDS - 1))) for i in range(N_ROUNDS)]


class _Monitor:
    """A LightGBM callback: records the training loss after every round (the library's
    metric on the training set) and stops once it is within ``CONVERGED`` of the optimum."""

    order = 30
    before_iteration = False

    def __init__(self, best_loss: float, stop: type[Exception]) -> None:
        self.best_loss = best_loss
        self.stop = stop  # lightgbm.callback.EarlyStopException
        self.history: list[float] = []

    def __call__(self, env: Any) -> None:
        value = float(env.evaluation_result_list[0][2])
        self.history.append(value)
        if value - self.best_loss <= CONVERGED * abs(self.best_loss):
            raise self.stop(env.iteration, env.evaluation_result_list)


def boost(
    name: str,
    params: dict[str, float],
    bins: np.ndarray,
    y: np.ndarray,
    *,
    seed: int,
    constant_rate: float | None = None,
) -> BoostedFit:
    """Boost up to ``N_ROUNDS`` trees with LightGBM on the library's objective for ``name``,
    starting from ``gbm.initial_prediction``, until the training loss is within
    ``CONVERGED`` of the optimum; the only feature is the bin centre of each x. ``y`` should
    be exact in float32, the precision LightGBM stores labels in."""
    try:
        import lightgbm as lgb
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            "the sinc study needs LightGBM: pip install 'lossatlas[atlas]'", name=error.name
        ) from error

    loss = get(name)
    best = best_step_function(name, params, y, bins)
    best_loss = float(np.mean(loss.value(best[bins], y, **params)))
    init = gbm.initial_prediction(name, y, **params)
    data = lgb.Dataset(
        BIN_CENTRES[bins][:, None],
        y,
        init_score=np.full(y.shape, init),
        params={"verbosity": -1},
    )
    rates = learning_rates(name, constant_rate)
    monitor = _Monitor(best_loss, lgb.callback.EarlyStopException)
    booster = lgb.train(
        {
            **LIGHTGBM_PARAMS,
            "objective": gbm.lightgbm_objective(name, **params),
            "learning_rate": rates[0],
            "seed": seed,
        },
        data,
        num_boost_round=N_ROUNDS,
        valid_sets=[data],
        valid_names=["train"],
        feval=gbm.lightgbm_metric(name, **params),
        callbacks=[lgb.reset_parameter(learning_rate=rates), monitor],
        keep_training_booster=True,
    )
    # Booster.predict leaves the init score out
    final = booster.predict(BIN_CENTRES[:, None], num_iteration=booster.current_iteration())
    final = final + init
    start_loss = float(np.mean(loss.value(np.full(y.shape, init), y, **params)))
    train_loss = np.array([start_loss, *monitor.history])
    return BoostedFit(init, final, best, train_loss, best_loss)


# ---- the study -----------------------------------------------------------------------------
def _excess_cell(fit: BoostedFit, t: int) -> str | float:
    """The excess training loss after round ``t`` (the last one if boosting stopped sooner)."""
    value = float(fit.excess[min(t, fit.rounds)])
    return "< 1e-12" if value < 1e-12 else sig(value, 3)


def _run(out: Path, *, seed: int, bk: Backend, progress: bool) -> StudyReport:
    del bk  # LightGBM boosts on NumPy arrays whatever the backend
    (x, y, hit), (x_test, y_test, _) = make_datasets(seed)
    grid = np.linspace(*X_RANGE, N_GRID)
    bins, bins_test, bins_grid = bin_index(x), bin_index(x_test), bin_index(grid)
    clean_grid = sinc(grid)
    # the closest any step function on the bins gets: each bin at its average of sin(x)/x
    step_floor = float(
        np.sqrt(np.mean((bin_means(clean_grid, bins_grid)[bins_grid] - clean_grid) ** 2))
    )

    jobs = [(label, name, params, None) for label, _key, name, params in FITS + INTERVAL_FITS]
    jobs.append((CONSTANT_LABEL, "mae", {}, CONSTANT_LEARNING_RATE))
    fits: dict[str, BoostedFit] = {}
    for label, name, params, rate in progress_bar(jobs, desc=NAME, progress=progress):
        fits[label] = boost(name, params, bins, y, seed=seed, constant_rate=rate)

    rows: list[list[str | float]] = []
    rmse: dict[str, float] = {}
    for label, _key, name, params in FITS + INTERVAL_FITS:
        fit = fits[label]
        error = fit.final[bins_grid] - clean_grid
        offset = target_offset(name, params)
        test_loss = float(np.mean(get(name).value(fit.final[bins_test], y_test, **params)))
        rmse[label] = float(np.sqrt(np.mean(error**2)))
        rows.append(
            [
                label,
                sig(rmse[label]),
                sig(float(np.mean(np.abs(error)))),
                sig(offset),
                sig(float(np.sqrt(np.mean((error - offset) ** 2)))),
                sig(test_loss),
                float(fit.rounds) if fit.converged() else f"not within {N_ROUNDS}",
            ]
        )

    convergence_rows: list[list[str | float]] = []
    for label in [label for label, *_ in FITS + INTERVAL_FITS] + [CONSTANT_LABEL]:
        fit = fits[label]
        convergence_rows.append(
            [label, sig(fit.best_loss)] + [_excess_cell(fit, t) for t in CHECKPOINTS]
        )

    lower_label, upper_label = (label for label, *_ in INTERVAL_FITS)
    q_low, q_high = (noise_quantile(q) for q in INTERVAL_Q)
    band = interval_summary(
        fits[lower_label].final, fits[upper_label].final, (bins_test, y_test), (bins, y)
    )
    true_band = true_interval_summary(x_test, y_test, q_low, q_high)
    nominal = INTERVAL_Q[1] - INTERVAL_Q[0]
    interval_rows: list[list[str | float]] = [
        [what, sig(m["coverage"]), sig(m["below"]), sig(m["above"]), sig(m["width"])]
        for what, m in (
            ("fresh data, fitted band", band["test"]),
            ("training data, fitted band", band["train"]),
            ("fresh data, true band", true_band),
        )
    ]
    coverage = band["test"]["coverage"]

    q_fits = [fits[f"quantile (q={q:g})"].final[bins_grid] for q in (0.1, 0.5, 0.9)]
    ordered = float(np.mean((q_fits[0] < q_fits[1]) & (q_fits[1] < q_fits[2])))

    figures = [
        _figure_fits(out, x, y, hit, grid, fits, bins_grid, coverage),
        _figure_convergence(out, fits),
    ]

    robust = ["mae", "huber (delta=1)", "quantile (q=0.5)", "log_cosh"]
    best_robust = min(robust, key=rmse.__getitem__)
    huber = {d: rmse[f"huber (delta={d})"] for d in (4, 2, 1)}
    best_delta = min(huber, key=huber.__getitem__)
    newton = [label for label, key, *_ in FITS if key not in PINBALL]
    pinball = [label for label, key, *_ in FITS + INTERVAL_FITS if key in PINBALL]
    slowest_newton = max(fits[label].rounds for label in newton)
    pinball_rounds = [fits[label].rounds for label in pinball if fits[label].converged()]
    stuck = [label for label in pinball if not fits[label].converged()]
    const = fits[CONSTANT_LABEL]
    huber_text = f"{huber[1]:.3g}, {huber[2]:.3g} and {huber[4]:.3g} for delta = 1, 2 and 4"
    summary = (
        "Boosted with the squared error, the fit of sin(x)/x follows the "
        f"{int(hit.sum())} impulses among {N_TRAIN} noisy points: its RMSE against the clean "
        f"curve is {rmse['mse']:.3g}, against {rmse['mae']:.3g} for the absolute error and "
        f"{rmse['log_cosh']:.3g} for log-cosh. "
        + (
            f"Huber's error grows with delta ({huber_text}): the larger delta, the more of "
            "each impulse it treats as squared error. "
            if huber[1] < huber[2] < huber[4]
            else f"Huber's errors are {huber_text}. "
        )
        + f"Quantile fits at q = {INTERVAL_Q[0]:g} and {INTERVAL_Q[1]:g} bound a band that "
        f"holds {coverage:.1%} of fresh noisy points (nominal {nominal:.0%})."
    )
    notes = [
        f"The most accurate fit of the clean curve is {best_robust} (RMSE "
        f"{rmse[best_robust]:.3g}); MSE's RMSE is {rmse['mse'] / rmse[best_robust]:.2f} times "
        f"larger. The best of the paper's three Huber deltas is delta = {best_delta}. No step "
        f"function on the {N_BINS} bins gets closer than RMSE {step_floor:.3g} (each bin at "
        "its average of sin(x)/x): that much of every fit's error is the bins', the rest is "
        "the noise's. All of "
        "these losses target sin(x)/x itself: the noise is symmetric, so its mean, median and "
        "M-estimates are 0. MSE is the efficient choice for Gaussian noise alone, but each "
        f"impulse adds {IMPULSE_SIZE[0]:g} to {IMPULSE_SIZE[1]:g} to the sum it averages.",
        "'RMSE vs clean' and 'MAE vs clean' compare each fit with sin(x)/x on the grid; "
        "'rounds' is how many boosting rounds it took to converge (see below). The quantile "
        "fits estimate sin(x)/x plus the noise's q-quantile: the table's 'target offset' is "
        "that quantile (computed exactly from the noise distribution) and 'RMSE vs "
        "target' measures each fit against its own target curve. The q = 0.1, 0.5 and 0.9 "
        f"fits are in order (0.1 < 0.5 < 0.9) on {ordered:.1%} of the grid.",
        f"90% interval: {band['test']['below']:.1%} of the fresh points fall below the q = "
        f"{INTERVAL_Q[0]:g} fit and {band['test']['above']:.1%} above the q = "
        f"{INTERVAL_Q[1]:g} fit, so the band covers {coverage:.1%} of {N_TEST} fresh points; "
        f"the true band, sin(x)/x + [{q_low:.3f}, {q_high:.3f}], covers "
        f"{true_band['coverage']:.1%} of them. The fitted band's mean width is "
        f"{band['test']['width']:.3f} against the true {q_high - q_low:.3f}.",
        f"Convergence: x is cut into {N_BINS} bins of width "
        f"{(X_RANGE[1] - X_RANGE[0]) / N_BINS:g} before boosting, so each fit is a step "
        "function and boosting has a limit: in each bin, the constant minimising the loss "
        "(what gbm.initial_prediction gives for that bin's points). Boosting stops once the "
        f"training loss is within a factor {CONVERGED:g} of that optimum. With a learning rate "
        "of 1, MSE (exact Hessian), Huber (unit Hessian, exact where |r| < delta) and "
        "log-cosh (surrogate Hessian tanh(r)/r, which makes each round an iteratively "
        f"reweighted least-squares step) get there in at most {slowest_newton} rounds.",
        "MAE and the quantile loss have no curvature: with the unit-Hessian surrogate each "
        "leaf moves by the learning rate times its mean gradient, whatever the residuals' "
        "spread. Their learning rate therefore decays geometrically from "
        f"{PINBALL_LEARNING_RATE[0]:g} to {PINBALL_LEARNING_RATE[1]:g}, and they needed "
        + (
            f"{min(pinball_rounds)} to {max(pinball_rounds)} rounds"
            if pinball_rounds
            else "more rounds than were run"
        )
        + (
            f" ({', '.join(stuck)} did not converge within {N_ROUNDS}: in a bin whose "
            "impulses make up nearly the quantile's tail share, the loss is almost flat "
            "between the inliers and the impulses, and the steps crawl across that gap)"
            if stuck
            else ""
        )
        + ". MAE's gradient is +-1, twice the q = 0.5 quantile loss's, so at the same learning "
        "rate its steps are twice as long and it overshoots for longer. "
        + (
            f"At a constant learning rate of {CONSTANT_LEARNING_RATE:g}, MAE converged in "
            f"{const.rounds} rounds."
            if const.converged()
            else f"At a constant learning rate of {CONSTANT_LEARNING_RATE:g}, MAE gets close "
            f"fast but stalls: it is still {const.excess[-1]:.2g} above the optimum after "
            f"{const.rounds} rounds, as the mean sign of a bin's residuals keeps flipping."
        ),
        f"Setup: {N_TRAIN} training points, x ~ U({X_RANGE[0]:g}, {X_RANGE[1]:g}), y = "
        f"sin(x)/x + N(0, {NOISE_SD:g}^2) and, with probability {IMPULSE_FRACTION:g}, an "
        f"impulse of random sign and size U({IMPULSE_SIZE[0]:g}, {IMPULSE_SIZE[1]:g}) on top "
        f"(seed {seed}). Errors against the clean curve are taken on {N_GRID} evenly spaced "
        f"x, losses and coverage on {N_TEST} fresh points from the same process. LightGBM "
        f"with the lossatlas.gbm objectives and metrics, num_leaves {N_BINS}, at most "
        f"{N_ROUNDS} rounds, one thread, deterministic. The paper's sample size, noise level, "
        "impulse distribution and sinc convention could not be recovered for this study, and "
        "the paper boosted smooth P-spline learners rather than trees: these values are this "
        "study's choice, with the unnormalised sin(x)/x on [-10, 10] (the usual form of this "
        "benchmark) and impulses large against Huber's deltas 1, 2 and 4.",
        "LightGBM boosts on NumPy arrays, so the --backend option does not change this study: "
        "every backend gives the same numbers and figures.",
    ]
    return StudyReport(
        name=NAME,
        title=TITLE,
        summary=summary,
        headers=[
            "fit",
            "RMSE vs clean",
            "MAE vs clean",
            "target offset",
            "RMSE vs target",
            "own loss, fresh data",
            "rounds",
        ],
        rows=rows,
        figures=figures,
        notes=notes,
        extra_tables=[
            (
                f"The {nominal:.0%} prediction interval between the q = {INTERVAL_Q[0]:g} and "
                f"q = {INTERVAL_Q[1]:g} fits",
                ["data", "coverage", "below the band", "above the band", "mean width"],
                interval_rows,
            ),
            (
                "Convergence: training loss above the best step function on the bins after "
                "each number of rounds",
                ["fit", "optimal training loss"] + [f"round {t}" for t in CHECKPOINTS],
                convergence_rows,
            ),
        ],
    )


def _coverage(y: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> dict[str, float]:
    below, above = float(np.mean(y < lower)), float(np.mean(y > upper))
    return {
        "coverage": 1.0 - below - above,
        "below": below,
        "above": above,
        "width": float(np.mean(upper - lower)),
    }


def interval_summary(
    lower: np.ndarray,
    upper: np.ndarray,
    test: tuple[np.ndarray, np.ndarray],
    train: tuple[np.ndarray, np.ndarray],
) -> dict[str, dict[str, float]]:
    """Coverage of the band between the per-bin values ``lower`` and ``upper`` on the
    ``test`` and ``train`` data, each given as ``(bin index, y)``."""
    return {
        which: _coverage(y, lower[b], upper[b])
        for which, (b, y) in (("test", test), ("train", train))
    }


def true_interval_summary(
    x: np.ndarray, y: np.ndarray, q_low: float, q_high: float
) -> dict[str, float]:
    """Coverage of the true band sin(x)/x + [q_low, q_high]."""
    return _coverage(y, sinc(x) + q_low, sinc(x) + q_high)


# ---- figures -------------------------------------------------------------------------------
_SHADES = {
    "huber": ("#98df8a", "#2ca02c", "#145a14"),
    "quantile": ("#ffbb78", "#ff7f0e", "#a04000"),
}
_DATA_YLIM = (-1.0, 1.8)


def _color(key: str, index: int) -> str:
    """The family colour; shades of it for a family's several hyperparameters."""
    return _SHADES[key][index % 3] if key in _SHADES else COLORS[key]


def _data(ax: Any, x: np.ndarray, y: np.ndarray, hit: np.ndarray, *, clip: bool) -> None:
    """The training data; unclipped (the whole range) with a legend entry, clipped without."""
    ax.plot(
        x[~hit],
        y[~hit],
        ls="",
        marker="o",
        ms=1.6,
        mew=0,
        color="0.7",
        zorder=1,
        label=None if clip else "data",
    )
    if clip:  # impulses are off the axes: drawn as triangles on its top and bottom edges
        low, high = _DATA_YLIM
        for up, marker, edge in ((True, "^", high), (False, "v", low)):
            sel = hit & ((y > 0) == up)
            ax.plot(
                x[sel],
                np.full(int(sel.sum()), edge),
                ls="",
                marker=marker,
                ms=4,
                mew=0,
                color="0.4",
                clip_on=False,
                zorder=3,
            )
    else:
        ax.plot(x[hit], y[hit], ls="", marker="x", ms=4, color="black", label="impulses", zorder=1)


def _figure_fits(
    out: Path,
    x: np.ndarray,
    y: np.ndarray,
    hit: np.ndarray,
    grid: np.ndarray,
    fits: dict[str, BoostedFit],
    bins_grid: np.ndarray,
    coverage: float,
) -> Path:
    clean = sinc(grid)
    keys = {label: key for label, key, *_ in FITS + INTERVAL_FITS}
    panels: list[tuple[str, list[str]]] = [
        ("L2, L1 and log-cosh", ["mse", "mae", "log_cosh"]),
        ("Huber, delta = 4, 2, 1", [f"huber (delta={d})" for d in (4, 2, 1)]),
        ("Quantile, q = 0.1, 0.5, 0.9", [f"quantile (q={q:g})" for q in (0.1, 0.5, 0.9)]),
    ]
    with style():
        fig, axes = new_figure(2, 3, size=(14.0, 7.8))
        ax = axes[0, 0]
        _data(ax, x, y, hit, clip=False)
        ax.plot(grid, clean, color="black", lw=1.5, label="sin(x)/x")
        ax.set_title(f"Data: sin(x)/x + N(0, {NOISE_SD:g}²) + {int(hit.sum())} impulses")
        ax.legend(loc="upper right")
        for ax, (title, labels) in zip(axes.flat[1:4], panels, strict=True):
            _data(ax, x, y, hit, clip=True)
            ax.plot(grid, clean, color="black", lw=1.2, ls=":", label="sin(x)/x")
            for i, label in enumerate(labels):
                color = _color(keys[label], i)
                ax.plot(grid, fits[label].final[bins_grid], color=color, lw=1.8, label=label)
            ax.set_ylim(*_DATA_YLIM)
            ax.set_title(title)
            ax.legend(loc="upper right")

        ax = axes[1, 1]
        target = bin_means(clean, bins_grid)
        for i, label in enumerate(["mse", "huber (delta=4)", "mae", "log_cosh"]):
            ax.plot(
                BIN_CENTRES,
                fits[label].final - target,
                color=_color(keys[label], 0),
                lw=1.4,
                ls=("-", "--", "-", "-.")[i],
                marker="o",
                ms=3,
                label=label,
            )
        ax.axhline(0.0, color="black", lw=0.8)
        ax.set_title("Each bin's fit minus its average of sin(x)/x")
        ax.set_ylabel("error")
        ax.legend(loc="lower left", ncols=2)

        ax = axes[1, 2]
        lower, upper = (fits[label].final[bins_grid] for label, *_ in INTERVAL_FITS)
        _data(ax, x, y, hit, clip=True)
        ax.fill_between(
            grid,
            lower,
            upper,
            color=COLORS["quantile"],
            alpha=0.3,
            lw=0,
            label=f"q = {INTERVAL_Q[0]:g} to {INTERVAL_Q[1]:g} fits",
        )
        ax.plot(grid, clean, color="black", lw=1.2, ls=":", label="sin(x)/x")
        ax.set_ylim(*_DATA_YLIM)
        ax.set_title(f"90% interval: covers {coverage:.1%} of fresh data")
        ax.legend(loc="upper right")
        for ax in axes.flat:
            ax.set_xlabel("x")
            ax.set_xlim(*X_RANGE)
        for ax in (axes[0, 0], axes[1, 0]):
            ax.set_ylabel("y")
        return save(fig, out / f"{NAME}-fits.png")


def _figure_convergence(out: Path, fits: dict[str, BoostedFit]) -> Path:
    floor = 1e-12  # an excess at or below this (or below 0, from rounding) is drawn here
    with style():
        fig, axes = new_figure(1, 1, size=(9.0, 4.8))
        from matplotlib import ticker  # after new_figure, which selects the Agg backend

        ax = axes[0, 0]
        styles = ("-", "--", ":")
        count: dict[str, int] = {}
        for label, key, *_ in FITS + INTERVAL_FITS:
            i = count.get(key, 0)
            count[key] = i + 1
            excess = np.maximum(fits[label].excess[1:], floor)
            ax.plot(
                np.arange(1, excess.size + 1),
                excess,
                color=_color(key, i),
                lw=1.5,
                ls=styles[(i // 3) % 3] if key == "quantile" else styles[0],
                marker=None if key in PINBALL else "o",
                ms=4,
                label=label,
            )
        const = np.maximum(fits[CONSTANT_LABEL].excess[1:], floor)
        ax.plot(
            np.arange(1, const.size + 1),
            const,
            color="black",
            lw=1.2,
            ls="-.",
            label=CONSTANT_LABEL,
        )
        ax.set_xscale("log")
        ax.set_yscale("log")
        # plain tick labels: mathtext ones cost a large share of the figure's drawing time
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:.0e}"))
        ax.set_xlim(0.8, N_ROUNDS)
        ax.set_ylim(floor / 3, 3.0)
        ax.axhline(floor, color="0.6", lw=0.8)
        ax.set_xlabel("boosting round")
        ax.set_ylabel("training loss above the optimum")
        ax.set_title(
            "Curvature (mse, huber, log_cosh; learning rate 1) against the unit-Hessian "
            f"surrogate (mae, quantile; {PINBALL_LEARNING_RATE[0]:g} to "
            f"{PINBALL_LEARNING_RATE[1]:g})",
            fontsize=10,
        )
        ax.legend(loc="lower right", fontsize=8, ncols=2)
        return save(fig, out / f"{NAME}-convergence.png")


STUDY = Study(
    name=NAME,
    title=TITLE,
    description="LightGBM with the library's objectives fits sin(x)/x through Gaussian and "
    "impulse noise (after Natekin & Knoll, 2013): L2 against L1, Huber with delta = 4, 2, 1, "
    "quantiles and log-cosh, and a 90% interval from the q = 0.05 and 0.95 fits.",
    _run=_run,
)
