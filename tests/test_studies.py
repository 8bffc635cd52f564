"""The atlas studies: each runs, is deterministic, and reproduces its headline numbers."""

from __future__ import annotations

import importlib.util
import math
import re
from pathlib import Path

import numpy as np
import pytest

from lossatlas.atlas.studies import (
    STUDIES,
    StudyReport,
    ctc,
    imbalance,
    margins,
    multiclass,
    outliers,
    run_study,
    saturation,
    sinc,
)
from lossatlas.atlas.studies._train import Backend
from lossatlas.sequence import edit_distance

NAMES = ["outliers", "saturation", "imbalance", "margins", "sinc", "multiclass", "ctc"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class _Reports(dict):
    """Each study run on first use with the default seed and backend, then kept."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        super().__init__()
        self._factory = factory

    def __missing__(self, name: str) -> tuple[StudyReport, Path]:
        folder = self._factory.mktemp(name)
        self[name] = (run_study(name, folder, progress=False), folder)
        return self[name]


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[StudyReport, Path]]:
    """Every study run once with the default seed and backend (shared by the tests below;
    each runs when a test first asks for it, so a selection of tests runs only its studies)."""
    return _Reports(tmp_path_factory)


def row(report: StudyReport, label: str) -> list:
    return next(r for r in report.rows if r[0] == label)


def table(report: StudyReport, caption_start: str) -> tuple[list[str], list[list]]:
    _, headers, rows = next(t for t in report.extra_tables if t[0].startswith(caption_start))
    return headers, rows


# ---- registry and API ------------------------------------------------------------------------
def test_registry_lists_the_studies() -> None:
    assert sorted(STUDIES) == sorted(NAMES)
    for name, study in STUDIES.items():
        assert study.name == name
        assert study.title and study.description


def test_unknown_study_is_a_key_error_listing_the_names(tmp_path: Path) -> None:
    with pytest.raises(KeyError) as info:
        run_study("no-such-study", tmp_path)
    assert all(name in str(info.value) for name in NAMES)


def test_unknown_backend_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="numpy"):
        run_study("margins", tmp_path, backend="tensorflow", progress=False)


# ---- every study -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_study_runs_and_writes_its_figures(name: str, reports) -> None:
    report, folder = reports[name]
    assert isinstance(report, StudyReport)
    assert report.name == name and report.title == STUDIES[name].title
    assert report.summary.strip() and report.notes
    assert report.headers and report.rows
    assert all(len(r) == len(report.headers) for r in report.rows)
    for cell in (c for r in report.rows for c in r):
        assert isinstance(cell, (str, float)) and not isinstance(cell, bool)
    for _, headers, rows in report.extra_tables:
        assert rows and all(len(r) == len(headers) for r in rows)
    assert report.figures
    for path in report.figures:
        assert path.parent == folder
        assert path.name.startswith(f"{name}-") and path.suffix == ".png"
        data = path.read_bytes()
        assert len(data) > 1000 and data.startswith(PNG_SIGNATURE)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_gives_the_same_report_and_figure_bytes(name: str, reports, tmp_path) -> None:
    first, _ = reports[name]
    # sinc boosts on NumPy whatever the backend: its rerun on PyTorch checks that as well
    other = name == "sinc" and importlib.util.find_spec("torch") is not None
    again = run_study(name, tmp_path, seed=0, backend="torch" if other else "numpy", progress=False)
    assert again.rows == first.rows
    assert again.extra_tables == first.extra_tables
    assert again.summary == first.summary and again.notes == first.notes
    assert [p.name for p in again.figures] == [p.name for p in first.figures]
    for a, b in zip(first.figures, again.figures, strict=True):
        assert a.read_bytes() == b.read_bytes()


def test_progress_bars_go_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_study("margins", tmp_path, progress=True)
    out, err = capsys.readouterr()
    assert out == "" and "margins" in err


# ---- outliers ----------------------------------------------------------------------------------
def test_outliers_reproduces_the_write_up_table(reports) -> None:
    report, _ = reports["outliers"]
    assert row(report, "mae")[1:] == pytest.approx([0.1, 0.6, 6.0], abs=1e-12)
    assert row(report, "mse")[1:] == pytest.approx([0.016667, 0.966667, 58.0], abs=1e-6)
    assert row(report, "quantile (q=0.5)")[3] == pytest.approx(6.0)
    assert any("60.6" in note and "58" in note for note in report.notes)


def test_outliers_constant_fits_are_the_mean_and_the_median(reports) -> None:
    report, _ = reports["outliers"]
    _, y_clean, y_dirty, _ = outliers.make_data(0)
    _, rows = table(report, "Constant")
    fitted = {r[0]: r for r in rows}
    for column, y in ((1, y_clean), (2, y_dirty)):
        assert fitted["mse"][column] == pytest.approx(np.mean(y), abs=1e-3)
        assert fitted["mae"][column] == pytest.approx(np.median(y), abs=1e-3)
        assert fitted["quantile (q=0.5)"][column] == pytest.approx(np.median(y), abs=1e-3)
    # the outliers move the mean far more than the median
    assert fitted["mse"][3] > 3 * fitted["mae"][3]


def test_outliers_irls_reaches_the_l1_minimum() -> None:
    """The IRLS line under MAE is at least as good as a dense search around it."""
    from lossatlas import mae
    from lossatlas.atlas.studies._train import fit_irls

    x, _, y, _ = outliers.make_data(0)
    X = np.column_stack([np.ones_like(x), x])
    beta = fit_irls(mae, Backend("numpy"), X, y).beta
    best = np.mean(np.abs(X @ beta - y))
    grid = beta + np.stack(np.meshgrid(*[np.linspace(-0.05, 0.05, 41)] * 2), -1).reshape(-1, 2)
    assert best <= np.min(np.mean(np.abs(grid @ X.T - y), axis=1)) + 1e-12


def test_outliers_redescending_losses_ignore_what_huber_feels(reports) -> None:
    """Huber's outliers keep a share of the IRLS weight and tilt its line; the redescending
    losses give them (almost) none and recover the clean fit."""
    report, out = reports["outliers"]
    _, rows = table(report, "Huber and the redescending")
    fitted = {r[0]: r for r in rows}
    x, y_clean, _, _ = outliers.make_data(0)
    X = np.column_stack([np.ones_like(x), x])
    clean_slope = np.linalg.lstsq(X, y_clean, rcond=None)[0][1]
    huber = fitted.pop("huber (delta=1)")
    assert huber[2] - clean_slope > 0.015 and huber[3] > 0.3  # percent of the weight
    assert set(fitted) == {label for label, *_ in outliers.REDESCENDING_LOSSES[1:]}
    for label, r in fitted.items():
        assert abs(r[2] - clean_slope) < 0.005, label
        assert r[3] < 0.1 * huber[3], label
    assert fitted["tukey_biweight (c=4.685)"][3] == 0.0  # exactly 0 weight beyond c
    assert (out / "outliers-redescending.png").exists()
    # the weights are grad(r)/r over the second derivative at 0: 1 for an inlier at r -> 0
    from lossatlas import cauchy
    from lossatlas import huber as huber_loss

    bk = Backend("numpy")
    r = np.array([1e-9, 2.0, 25.0])
    np.testing.assert_allclose(
        outliers.irls_weight(cauchy, bk, r, {"c": 1.0}), 1 / (1 + r**2 / 2), rtol=1e-12
    )
    np.testing.assert_allclose(
        outliers.irls_weight(huber_loss, bk, r, {"delta": 1.0}), [1.0, 0.5, 0.04], rtol=1e-12
    )


def test_outliers_torch_backend_gives_the_numpy_tables(reports, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    numpy_report, _ = reports["outliers"]
    torch_report = run_study("outliers", tmp_path, backend="torch", progress=False)
    for a, b in zip(numpy_report.rows, torch_report.rows, strict=True):
        assert a[0] == b[0] and b[1:] == pytest.approx(a[1:], rel=1e-5)
    for (_, _, rows_a), (_, _, rows_b) in zip(
        numpy_report.extra_tables, torch_report.extra_tables, strict=True
    ):
        for a, b in zip(rows_a, rows_b, strict=True):
            assert a[0] == b[0] and b[1:] == pytest.approx(a[1:], rel=1e-5, abs=1e-9)


# ---- saturation --------------------------------------------------------------------------------
def test_saturation_gradients_at_minus_ten() -> None:
    g_mse, g_ce = saturation.gradient_curves(Backend("numpy"), np.array([-10.0]), 1.0)
    assert abs(g_mse[0]) < 1e-3
    assert g_ce[0] == pytest.approx(-1.0, abs=1e-4)
    s = 1.0 / (1.0 + math.exp(10.0))
    assert g_mse[0] == pytest.approx(2.0 * (s - 1.0) * s * (1.0 - s), rel=1e-12)


def test_saturation_report(reports) -> None:
    report, _ = reports["saturation"]
    _, rows = table(report, "Gradient")
    at = {r[0]: r for r in rows}
    assert abs(at[-10.0][1]) < 1e-3 and at[-10.0][2] == pytest.approx(-1.0, abs=1e-4)
    for init in saturation.initialisations():
        epochs = {r[1]: r[3] for r in report.rows if r[0] == init}
        ce, mse = epochs["cross entropy on z"], epochs["MSE on sigmoid(z)"]
        assert isinstance(ce, float)
        assert mse == "not reached" or mse > 5 * ce


# ---- imbalance ---------------------------------------------------------------------------------
@pytest.mark.parametrize("case", range(6))
def test_average_precision_matches_sklearn(case: int) -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(case)
    n = int(rng.integers(5, 400))
    y = (rng.random(n) < rng.uniform(0.05, 0.6)).astype(int)
    y[0] = 1
    scores = rng.normal(size=n) + y * rng.uniform(0, 2)
    if case % 2:  # ties
        scores = np.round(scores, 1)
    if case == 5:
        scores = rng.integers(0, 3, n).astype(float)
    ours = imbalance.average_precision(y, scores)
    assert ours == pytest.approx(metrics.average_precision_score(y, scores), rel=1e-12)


def test_imbalance_reweighting_beats_plain_bce_on_minority_recall(reports) -> None:
    report, _ = reports["imbalance"]
    recall = {r[0]: r[2] for r in report.rows}
    ap = [r[1] for r in report.rows]
    weighted = next(k for k in recall if k.startswith("weighted"))
    assert recall[weighted] > 2 * recall["BCE"]
    balanced = next(k for k in recall if k.startswith("balanced"))
    assert recall[balanced] == pytest.approx(recall[weighted])
    assert max(ap) - min(ap) < 0.02  # the ranking hardly changes


# ---- margins -----------------------------------------------------------------------------------
def test_margins_exponential_moves_the_most(reports) -> None:
    report, _ = reports["margins"]
    angle = {r[0]: r[1] for r in report.rows}
    changed = {r[0]: r[2] for r in report.rows}
    accuracy = {r[0]: r[4] for r in report.rows}
    assert angle["exponential"] > max(angle["logistic"], angle["hinge"])
    assert changed["exponential"] > max(changed["logistic"], changed["hinge"])
    assert accuracy["exponential"] < min(accuracy["logistic"], accuracy["hinge"])


def test_margins_hinge_fit_is_the_hinge_minimiser() -> None:
    optimize = pytest.importorskip("scipy.optimize")
    bk = Backend("numpy")
    data = margins.make_data(0)
    X = np.column_stack([np.ones(margins.N_TRAIN), data["x"]])
    y = data["noisy"]
    beta = margins.fit(bk, X, y, "hinge")
    ours = margins.hinge_objective(bk, X, y, beta)

    def qp(v: np.ndarray) -> float:  # slack formulation of the same problem
        return float(np.mean(v[3:]) + 0.5 * margins.L2 * (v[1] ** 2 + v[2] ** 2))

    constraints = [
        {"type": "ineq", "fun": lambda v: y * (X @ v[:3]) - 1.0 + v[3:]},
        {"type": "ineq", "fun": lambda v: v[3:]},
    ]
    start = np.r_[np.zeros(3), np.ones(y.size)]
    ref = optimize.minimize(qp, start, constraints=constraints, method="SLSQP", tol=1e-12)
    assert ours == pytest.approx(ref.fun, rel=1e-6)
    assert beta == pytest.approx(ref.x[:3], abs=1e-4)


def test_margins_jax_backend_gives_the_numpy_table(reports, tmp_path: Path) -> None:
    pytest.importorskip("jax")
    numpy_report, _ = reports["margins"]
    jax_report = run_study("margins", tmp_path, backend="jax", progress=False)
    for a, b in zip(numpy_report.rows, jax_report.rows, strict=True):
        assert a[0] == b[0] and b[1:] == pytest.approx(a[1:], rel=1e-4)


# ---- sinc --------------------------------------------------------------------------------------
def _sinc_data():
    (x, y, _), (x_test, y_test, _) = sinc.make_datasets(0)
    grid = np.linspace(*sinc.X_RANGE, sinc.N_GRID)
    return sinc.bin_index(x), y, sinc.bin_index(x_test), y_test, grid


def _rmse_vs_clean(per_bin: np.ndarray, grid: np.ndarray) -> float:
    return float(np.sqrt(np.mean((per_bin[sinc.bin_index(grid)] - sinc.sinc(grid)) ** 2)))


def test_sinc_noise_quantiles_match_a_large_sample() -> None:
    """The exact quantiles of the noise (used as the quantile fits' targets) against 400k draws."""
    x, y, hit = sinc.make_data(np.random.default_rng(1), 400_000)
    noise = y - sinc.sinc(x)
    assert hit.mean() == pytest.approx(sinc.IMPULSE_FRACTION, abs=1e-3)
    assert sinc.noise_cdf(0.0) == pytest.approx(0.5, abs=1e-15)
    assert sinc.noise_quantile(0.5) == 0.0
    for q in (0.003, 0.02, 0.05, 0.1, 0.3, 0.9, 0.95, 0.98):
        t = sinc.noise_quantile(q)
        assert sinc.noise_cdf(t) == pytest.approx(q, abs=1e-12)
        assert sinc.noise_quantile(1.0 - q) == pytest.approx(-t, abs=1e-9)
        assert np.mean(noise <= t) == pytest.approx(q, abs=2e-3)
    assert sinc.sinc(np.array([0.0, np.pi, 2.5]))[:2] == pytest.approx([1.0, 0.0], abs=1e-15)
    assert sinc.sinc(np.array([2.5]))[0] == pytest.approx(math.sin(2.5) / 2.5, rel=1e-15)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("mse", {}),
        ("mae", {}),
        ("huber", {"delta": 1.0}),
        ("log_cosh", {}),
        ("quantile", {"q": 0.05}),
    ],
)
def test_sinc_best_step_function_is_initial_prediction_per_bin(name: str, params: dict) -> None:
    from lossatlas import gbm, get

    bins, y, *_ = _sinc_data()
    best = sinc.best_step_function(name, params, y, bins)
    loss = get(name)
    for k in (0, 7, 19, 20, 39):
        target = y[bins == k]
        ref = gbm.initial_prediction(name, target, **params)
        # mae and quantile minimisers need not be unique: compare the minimum reached
        ours = np.mean(loss.value(np.full_like(target, best[k]), target, **params))
        theirs = np.mean(loss.value(np.full_like(target, ref), target, **params))
        assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-15)
        if name not in ("mae", "quantile"):
            assert best[k] == pytest.approx(ref, abs=1e-9)


def test_sinc_robust_losses_beat_mse_against_the_clean_curve(reports) -> None:
    report, _ = reports["sinc"]
    rmse = {r[0]: r[1] for r in report.rows}
    for label in ("mae", "huber (delta=1)", "log_cosh", "quantile (q=0.5)"):
        assert rmse[label] < 0.65 * rmse["mse"], label
    # the smaller delta, the less of each impulse Huber treats as squared error
    assert rmse["huber (delta=1)"] < rmse["huber (delta=2)"] < rmse["huber (delta=4)"]
    assert rmse["huber (delta=4)"] < rmse["mse"]


def test_sinc_table_is_the_per_bin_optimum(reports) -> None:
    """The boosted fits are the best step functions on the bins: the per-bin mean for MSE, a
    per-bin median for MAE, the per-bin q-quantiles for the interval, recomputed here."""
    report, _ = reports["sinc"]
    bins, y, bins_test, y_test, grid = _sinc_data()
    main = {r[0]: r for r in report.rows}
    counts = np.bincount(bins, minlength=sinc.N_BINS)
    means = np.bincount(bins, weights=y, minlength=sinc.N_BINS) / counts
    assert main["mse"][1] == pytest.approx(_rmse_vs_clean(means, grid), rel=1e-5)
    assert main["mse"][5] == pytest.approx(np.mean((means[bins_test] - y_test) ** 2), rel=1e-5)
    medians = np.array([np.median(y[bins == k]) for k in range(sinc.N_BINS)])
    assert main["mae"][1] == pytest.approx(_rmse_vs_clean(medians, grid), abs=2e-3)
    for label in ("quantile (q=0.1)", "quantile (q=0.9)", "quantile (q=0.05)"):
        q = float(label.split("=")[1].rstrip(")"))
        assert main[label][3] == pytest.approx(sinc.noise_quantile(q), abs=1e-6)
        assert main[label][4] < 0.1  # close to sin(x)/x + its offset
        assert main[label][1] == pytest.approx(abs(main[label][3]), abs=0.05)

    def quantiles(q: float) -> np.ndarray:
        return np.array(
            [np.quantile(y[bins == k], q, method="inverted_cdf") for k in range(sinc.N_BINS)]
        )

    low, high = quantiles(0.05), quantiles(0.95)
    expected = np.mean((y_test >= low[bins_test]) & (y_test <= high[bins_test]))
    _, rows = table(report, "The 90%")
    assert rows[0][0].startswith("fresh") and rows[0][1] == pytest.approx(expected, abs=5e-3)


def test_sinc_interval_covers_about_90_percent(reports) -> None:
    report, folder = reports["sinc"]
    _, rows = table(report, "The 90%")
    fitted, train, true = rows
    assert 0.85 <= fitted[1] <= 0.95
    assert 0.025 <= fitted[2] <= 0.075 and 0.025 <= fitted[3] <= 0.075
    assert train[1] == pytest.approx(0.9, abs=0.01)  # per-bin quantiles of the training data
    assert true[1] == pytest.approx(0.9, abs=0.01)
    assert true[4] == pytest.approx(2 * sinc.noise_quantile(0.95), rel=1e-5)
    assert fitted[4] == pytest.approx(true[4], rel=0.1)
    assert (folder / "sinc-fits.png").exists()


def test_sinc_quantile_fits_are_ordered(reports) -> None:
    report, _ = reports["sinc"]
    note = next(n for n in report.notes if "in order" in n)
    share = float(re.search(r"on ([\d.]+)% of the grid", note).group(1))
    assert share >= 95.0


def test_sinc_every_fit_converges_and_the_constant_rate_stalls(reports) -> None:
    report, _ = reports["sinc"]
    rounds = {r[0]: r[6] for r in report.rows}
    assert all(isinstance(v, float) for v in rounds.values()), rounds
    assert rounds["mse"] == 1.0
    for label in ("huber (delta=4)", "huber (delta=2)", "huber (delta=1)", "log_cosh"):
        assert rounds[label] <= 3.0, label
    for label, value in rounds.items():
        if label.startswith(("mae", "quantile")):
            assert 50 <= value <= sinc.N_ROUNDS, label
    _, rows = table(report, "Convergence")
    final = {r[0]: (r[1], r[-1]) for r in rows}
    for label, (optimum, excess) in final.items():
        if label == sinc.CONSTANT_LABEL:
            assert isinstance(excess, float) and excess > 10 * sinc.CONVERGED * optimum
        else:
            assert excess == "< 1e-12" or excess <= sinc.CONVERGED * optimum, label


# ---- multiclass --------------------------------------------------------------------------------
MULTICLASS_LOSSES = (
    "cross_entropy",
    "softmax_focal_loss",
    "poly1_cross_entropy",
    "multiclass_hinge",
    "multiclass_sparsemax_loss",
)


@pytest.fixture(scope="module")
def digits() -> dict:
    pytest.importorskip("sklearn")
    return multiclass.make_data(0)


def test_multiclass_needs_all_six_losses_registered() -> None:
    import lossatlas

    registered = {x.name for x in lossatlas.catalog()}
    assert set(MULTICLASS_LOSSES) <= registered
    assert {s.loss for s in multiclass.SPECS} == set(MULTICLASS_LOSSES)
    assert len(multiclass.SPECS) == 6


def test_multiclass_split_is_stratified_and_the_noise_nested(digits) -> None:
    from sklearn.datasets import load_digits

    y_all = load_digits().target
    y_train, y_test = digits["y_train"], digits["y_test"]
    assert y_train.size + y_test.size == y_all.size == 1797
    counts = np.bincount(y_all, minlength=10)
    assert np.array_equal(np.bincount(y_test, minlength=10), np.round(0.3 * counts))
    X = digits["X_train"]
    assert X.shape == (y_train.size, 65) and np.all(X[:, 0] == 1.0)
    assert np.allclose(X[:, 1:].mean(axis=0), 0.0, atol=1e-12)
    sd = X[:, 1:].std(axis=0)
    assert np.allclose(sd[sd > 0], 1.0)
    noisy = digits["noisy"]
    assert np.array_equal(noisy[0.0], y_train)
    flipped = {r: noisy[r] != y_train for r in (0.2, 0.4)}
    for rate, mask in flipped.items():
        assert mask.sum() == round(rate * y_train.size)  # flipped means a different class
    assert np.all(flipped[0.4][flipped[0.2]])  # nested, to the same class
    assert np.array_equal(noisy[0.4][flipped[0.2]], noisy[0.2][flipped[0.2]])
    other = multiclass.make_data(1)
    assert not np.array_equal(other["y_test"], y_test)


def test_multiclass_calibration_error() -> None:
    rng = np.random.default_rng(3)
    conf = rng.uniform(0.1, 1.0, 5000)
    conf[:50] = 1.0
    correct = rng.random(5000) < conf  # calibrated in expectation
    ours = multiclass.expected_calibration_error(conf, correct)
    # the definition, bin by bin: (b/15, (b+1)/15]
    total = 0.0
    for b in range(15):
        inside = (conf > b / 15) & (conf <= (b + 1) / 15)
        if inside.any():
            total += inside.sum() * abs(correct[inside].mean() - conf[inside].mean())
    assert ours == pytest.approx(total / conf.size, rel=1e-12)
    assert ours < 0.03
    assert multiclass.expected_calibration_error(np.ones(10), np.arange(10) < 5) == 0.5
    assert multiclass.expected_calibration_error(np.full(4, 0.5), np.arange(4) < 2) == 0.0


def test_multiclass_sparsemax_is_the_losss_gradient_plus_the_target() -> None:
    from lossatlas import get

    rng = np.random.default_rng(4)
    z = rng.normal(scale=2.0, size=(200, 10))
    y = rng.integers(0, 10, 200)
    p = multiclass.sparsemax(z)
    assert np.all(p >= 0.0) and np.allclose(p.sum(axis=1), 1.0)
    assert np.mean(np.sum(p > 0, axis=1)) < 10  # sparse
    grad = get("multiclass_sparsemax_loss").grad(z, y)
    assert grad + np.eye(10)[y] == pytest.approx(p, abs=1e-12)
    # sparsemax is the projection onto the simplex: no other point of it is closer
    q = rng.dirichlet(np.ones(10), size=200)
    assert np.all(np.sum((p - z) ** 2, axis=1) <= np.sum((q - z) ** 2, axis=1) + 1e-12)


def test_multiclass_hinge_is_the_form_the_notes_describe() -> None:
    """Weston-Watkins: max(0, 1 + s_c - s_y) summed over c != y, divided by C."""
    from lossatlas import get

    spec = next(s for s in multiclass.SPECS if s.loss == "multiclass_hinge")
    rng = np.random.default_rng(8)
    z, y = rng.normal(size=(60, 10)), rng.integers(0, 10, 60)
    hinge = np.maximum(0.0, 1.0 + z - z[np.arange(60), y][:, None])
    hinge[np.arange(60), y] = 0.0
    value = get("multiclass_hinge")(z, y, reduction="none", **spec.params)
    assert value == pytest.approx(hinge.sum(axis=1) / 10, rel=1e-12)


@pytest.mark.parametrize("spec", multiclass.SPECS, ids=lambda s: s.label)
def test_multiclass_gradient_is_the_chain_rule(spec, digits) -> None:
    """The hand-chained gradient of the objective against central differences."""
    from lossatlas import get

    bk = Backend("numpy")
    X, y = digits["X_train"][:300], digits["noisy"][0.4][:300]
    w = np.random.default_rng(5).normal(scale=0.3, size=65 * 10)
    loss = get(spec.loss)
    _, grad = multiclass.objective_and_grad(loss, spec.params, bk, X, y, w)
    h = 1e-6
    for i in np.random.default_rng(6).choice(w.size, 12, replace=False):
        e = np.zeros_like(w)
        e[i] = h
        up, _ = multiclass.objective_and_grad(loss, spec.params, bk, X, y, w + e)
        down, _ = multiclass.objective_and_grad(loss, spec.params, bk, X, y, w - e)
        assert grad[i] == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-8)


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_multiclass_objective_on_other_backends(backend: str, digits) -> None:
    pytest.importorskip(backend)
    from lossatlas import get
    from lossatlas.atlas.studies._train import backend_scope

    X, y = digits["X_train"], digits["noisy"][0.2]
    w = np.random.default_rng(7).normal(scale=0.3, size=65 * 10)
    with backend_scope(backend) as bk:
        Xb, yb = bk.asarray(X), multiclass._index_array(bk, y)
        for spec in multiclass.SPECS:
            loss = get(spec.loss)
            ref = multiclass.objective_and_grad(loss, spec.params, Backend("numpy"), X, y, w)
            value, grad = multiclass.objective_and_grad(loss, spec.params, bk, Xb, yb, w)
            assert value == pytest.approx(ref[0], rel=1e-10), spec.label
            assert grad == pytest.approx(ref[1], rel=1e-8, abs=1e-12), spec.label


def test_multiclass_cross_entropy_fit_is_sklearns_logistic_regression(digits) -> None:
    """Multinomial logistic regression with C = 1 / (n L2) minimises the same objective."""
    linear_model = pytest.importorskip("sklearn.linear_model")
    from threadpoolctl import threadpool_limits

    from lossatlas import cross_entropy

    X, y = digits["X_train"], digits["noisy"][0.2]
    fit = multiclass.fit(cross_entropy, {}, Backend("numpy"), X, y)
    C = 1.0 / (y.size * multiclass.L2)
    with threadpool_limits(limits=1):  # threaded BLAS is 100 times slower on two busy cores
        ref = linear_model.LogisticRegression(C=C, tol=1e-12, max_iter=5000).fit(X[:, 1:], y)
    assert fit.W[1:].T == pytest.approx(ref.coef_, abs=1e-4)
    # the intercept is defined up to a constant shared by every class
    b = fit.W[0] - fit.W[0].mean()
    assert b == pytest.approx(ref.intercept_ - ref.intercept_.mean(), abs=1e-4)
    X_test = digits["X_test"]
    assert np.array_equal(np.argmax(X_test @ fit.W, axis=1), ref.predict(X_test[:, 1:]))


def test_multiclass_report(reports, digits) -> None:
    report, _ = reports["multiclass"]
    labels = [s.label for s in multiclass.SPECS]
    assert [r[0] for r in report.rows] == labels
    headers = report.headers
    col = {h: i for i, h in enumerate(headers)}
    acc = {
        r[0]: [r[col[f"accuracy, {p} noise"]] for p in ("0%", "20%", "40%")] for r in report.rows
    }
    ece = {r[0]: [r[col[f"ECE, {p} noise"]] for p in ("0%", "20%", "40%")] for r in report.rows}
    assert acc["cross_entropy"][0] > 0.9
    for label in labels:
        assert acc[label][0] > 0.9, label
        assert acc[label][0] > acc[label][2], label  # label noise costs accuracy
        drop = row(report, label)[col["accuracy drop, 40% noise"]]
        assert drop == pytest.approx(acc[label][0] - acc[label][2], abs=2e-4)
        assert all(0.0 <= e <= 1.0 for e in ece[label])
    assert acc["cross_entropy"][0] > acc["cross_entropy"][1] > acc["cross_entropy"][2]
    assert ece["cross_entropy"][2] > ece["cross_entropy"][0]
    # the probabilities each loss is judged by, said in the table
    probs = {r[0]: r[col["probabilities"]] for r in report.rows}
    assert probs["cross_entropy"] == "softmax(logits)"
    assert "not a probability model" in probs["multiclass_hinge (Weston-Watkins, margin=1)"]
    assert probs["multiclass_sparsemax_loss"] == "sparsemax(scores)"
    assert any("not a probability model" in n for n in report.notes)
    # the per-fit table agrees with the main one
    dh, detail = table(report, "Per fit")
    assert len(detail) == 6 * 3
    for r in detail:
        level = {0.0: "0%", 0.2: "20%", 0.4: "40%"}[r[1]]
        assert r[dh.index("test accuracy")] == row(report, r[0])[col[f"accuracy, {level} noise"]]
        assert 1.0 <= r[dh.index("L-BFGS iterations")] <= multiclass.MAX_ITER
    assert {p.name for p in report.figures} == {
        "multiclass-reliability.png",
        "multiclass-accuracy-vs-noise.png",
    }
    # the cross-entropy number at 0% noise, recomputed from a fresh fit
    from lossatlas import cross_entropy

    fit = multiclass.fit(cross_entropy, {}, Backend("numpy"), digits["X_train"], digits["y_train"])
    m = multiclass.evaluate(multiclass.SPECS[0], fit.W, digits["X_test"], digits["y_test"])
    assert acc["cross_entropy"][0] == pytest.approx(m["accuracy"], abs=1e-4)
    assert ece["cross_entropy"][0] == pytest.approx(m["ece"], rel=1e-3)


# ---- ctc -----------------------------------------------------------------------------------------
def _ctc_table(report: StudyReport, caption_start: str) -> dict[str, dict[str, float]]:
    headers, rows = table(report, caption_start)
    return {str(r[0]): dict(zip(headers[1:], r[1:], strict=True)) for r in rows}


def test_ctc_strips_have_the_declared_digits_and_gaps() -> None:
    templates = ctc.make_templates(0)
    assert templates.shape == (ctc.N_CLASSES, ctc.GLYPH, ctc.FEATURES)
    assert np.all(templates[ctc.BLANK] == 0.0)
    s = ctc.make_strips(np.random.default_rng(3), 300, templates)
    assert np.all((s.target_lengths >= ctc.DIGITS[0]) & (s.target_lengths <= ctc.DIGITS[1]))
    assert set(np.unique(s.target_lengths)) == set(range(ctc.DIGITS[0], ctc.DIGITS[1] + 1))
    assert s.lengths.max() <= ctc.T_MAX
    for k in range(len(s)):
        t, labels = s.lengths[k], s.labels(k)
        assert np.all((labels >= 1) & (labels <= ctc.N_DIGITS))
        assert np.all(s.targets[k, labels.size :] == 0) and np.all(s.x[k, t:] == 0.0)
        frames = s.frame_labels[k, :t]
        runs = ctc._spans(frames)
        assert [r[2] for r in runs] == labels.tolist()  # one run per digit, in order
        for a, b, _ in runs:
            assert ctc.DURATION[0] <= b - a <= ctc.DURATION[1]
        gaps = [runs[i + 1][0] - runs[i][1] for i in range(len(runs) - 1)]
        assert all(ctc.GAP[0] <= g <= ctc.GAP[1] for g in gaps), gaps
        assert ctc.EDGE[0] <= runs[0][0] <= ctc.EDGE[1]
        assert ctc.EDGE[0] <= t - runs[-1][1] <= ctc.EDGE[1]
        assert np.all(s.frame_labels[k, t:] == 0)
    # the noise is on top of the glyph, whose columns are stretched over the frames
    noise = s.x[0, : s.lengths[0]] - templates[s.frame_labels[0, : s.lengths[0]], 0]
    assert 0.7 < np.std(noise[s.frame_labels[0, : s.lengths[0]] == 0]) < 1.3
    assert ctc.glyph_columns(ctc.GLYPH).tolist() == list(range(ctc.GLYPH))
    assert ctc.glyph_columns(3).tolist() == [0, ctc.GLYPH // 2, ctc.GLYPH - 1]


def test_ctc_occupancy_is_minus_the_gradient_and_a_distribution() -> None:
    """The study's occupancy on NumPy equals exp(lp) - torch's gradient of its own CTC loss
    (the stand-in the issue names), and sums to 1 over the classes within each length."""
    torch = pytest.importorskip("torch")
    s = ctc.make_strips(np.random.default_rng(4), 6, ctc.make_templates(0))
    logits = np.random.default_rng(5).normal(size=(6, ctc.T_MAX, ctc.N_CLASSES))
    lp = logits - np.log(np.exp(logits).sum(axis=2, keepdims=True))
    gamma = ctc.occupancy(Backend("numpy"), lp, s)
    free = torch.tensor(lp, requires_grad=True)
    torch.nn.functional.ctc_loss(
        free.transpose(0, 1),
        torch.from_numpy(s.targets),
        torch.from_numpy(s.lengths),
        torch.from_numpy(s.target_lengths),
        reduction="sum",
    ).backward()
    ref = np.exp(lp) - free.grad.numpy()
    valid = np.arange(ctc.T_MAX)[None, :] < s.lengths[:, None]
    assert gamma[valid] == pytest.approx(ref[valid], abs=1e-9)
    assert np.all(gamma[~valid] == 0.0)
    assert gamma[valid].sum(axis=1) == pytest.approx(np.ones(valid.sum()), abs=1e-9)


def test_ctc_training_loss_falls_and_decoding_reads_the_strips(reports) -> None:
    report, _ = reports["ctc"]
    cer = {r[0]: r[1] for r in report.rows}
    greedy, beam = cer["greedy (best path)"], cer[f"prefix beam search (width {ctc.BEAM_WIDTH})"]
    assert greedy < 0.1  # measured: 0.052
    assert beam <= greedy + 0.005  # measured: 0.050
    checkpoints = _ctc_table(report, "Training")
    first, last = checkpoints["0.0"], checkpoints[f"{float(ctc.STEPS)}"]
    assert last["test loss"] < first["test loss"] / 20  # measured: 11.6 -> 0.13
    assert last["training loss (mean of the last 25 steps)"] < 0.3
    assert last["greedy CER"] == greedy and last["beam CER"] == beam
    # early on the blank wins every frame and greedy decoding returns nothing
    assert checkpoints["25.0"]["frames whose most likely class is blank"] > 0.99
    assert checkpoints["25.0"]["greedy CER"] == 1.0
    # the decodes table agrees with its edit counts
    _, shown = table(report, "Decodes")
    for r in shown:
        for hyp, edits in ((r[2], r[3]), (r[4], r[5])):
            d = edit_distance(hyp, r[1], normalize=False)
            assert float(d) == edits
    assert {p.name for p in report.figures} == {
        "ctc-training.png",
        "ctc-alignment.png",
        "ctc-occupancy.png",
    }


def test_ctc_alignment_is_peaky(reports) -> None:
    report, _ = reports["ctc"]
    align = _ctc_table(report, "Alignment")
    after = {k: v[f"step {ctc.STEPS}"] for k, v in align.items()}
    drawn = (
        1.0 - next(float(s) for s in re.findall(r"only ([\d.]+)% are gaps", report.summary)) / 100
    )
    assert after["largest |sum over classes of the occupancy - 1| on a frame"] < 1e-9
    # the blank holds most frames, far more than the gaps; a label spikes on few frames
    assert after["frames where the blank's occupancy > 0.5"] > 0.65
    assert after["frames where a label's occupancy > 0.5"] < 0.5 * drawn
    frames = after["expected label frames per digit (sum of the label occupancy / digits)"]
    assert 1.0 <= frames < 2.2  # measured 1.78, of 4.5 drawn frames per digit
    assert (
        frames
        < 0.5
        * align["expected label frames per digit (sum of the label occupancy / digits)"]["step 0"]
        + 0.3
    )
    assert after["spikes on a frame where their digit is drawn"] > 0.9
