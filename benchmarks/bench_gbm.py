"""Training time of XGBoost, LightGBM and CatBoost with a lossatlas objective, beside the
booster's built-in objective for the same loss, on the same data and settings.

The data are synthetic and seeded: 10^6 rows x 20 float32 standard-normal features by default,
a regression target (a nonlinear signal plus Student-t noise) and a binary target (Bernoulli of
a nonlinear logit). The DMatrix (QuantileDMatrix, binned), Dataset and Pool are built once,
outside the timed region; only training is timed. Both sides get the same tree settings and
the same starting score (``gbm.initial_prediction``); where lossatlas's loss is twice the
built-in's (mse is r^2, the built-ins r^2 / 2) the L2 penalty and minimum child Hessian are
doubled too, so both sides grow the same trees. The built-in quantile objectives refit each
leaf to the residuals' quantile after growing it (CatBoost's Quantile uses "Exact" leaves),
so that pair does different work.

Built-in and lossatlas runs are interleaved (A B B A ...) after a short warm-up, and the
medians compared: ratio = lossatlas / built-in; the ratio of the fastest runs is printed beside
it (on a shared machine a busy neighbour stalls OpenMP threads, inflating single runs several
times over; the minima estimate the undisturbed times). The per-round cost of the objective alone is
measured beside: lossatlas's objective call as the booster makes it each round (CatBoost calls
``calc_ders_range`` on blocks of a few hundred rows, recorded from a short fit), against a
hand-written NumPy gradient and Hessian of the same loss. ``--handwritten`` also trains with
that hand-written objective (a third interleaved side): what any Python objective costs the
booster, apart from lossatlas.

    python benchmarks/bench_gbm.py                                  # 1e6 rows, 100 rounds
    python benchmarks/bench_gbm.py --rows 20000 --rounds 10 --repeats 1
    python benchmarks/bench_gbm.py --libraries xgboost,lightgbm --repeats 5 --handwritten
    python benchmarks/bench_gbm.py --libraries xgboost --losses mse,quantile --profile
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from _memory import reset_peak, resident_kb
from _timing import interleaved_medians

import lossatlas as la
from lossatlas import gbm

FEATURES = 20
LIBRARIES = ("xgboost", "lightgbm", "catboost")

#: lossatlas loss -> (hyperparameters, target)
LOSSES: dict[str, tuple[dict[str, float], str]] = {
    "mse": ({}, "regression"),
    "binary_cross_entropy_with_logits": ({}, "binary"),
    "pseudo_huber": ({"delta": 1.0}, "regression"),
    "quantile": ({"q": 0.5}, "regression"),
}

#: built-in objective per library and loss (absent: the library has none)
BUILTIN: dict[str, dict[str, str]] = {
    "xgboost": {
        "mse": "reg:squarederror",
        "binary_cross_entropy_with_logits": "binary:logistic",
        "pseudo_huber": "reg:pseudohubererror",
        "quantile": "reg:quantileerror",
    },
    "lightgbm": {
        "mse": "regression",
        "binary_cross_entropy_with_logits": "binary",
        "quantile": "quantile",
    },
    "catboost": {
        "mse": "RMSE",
        "binary_cross_entropy_with_logits": "Logloss",
        "quantile": "Quantile:alpha=0.5",
    },
}

#: lossatlas's loss divided by the built-in's: regularisers in Hessian units scale by it
SCALE = {"mse": 2.0}

Model = Any


@dataclass
class Case:
    library: str
    loss: str
    builtin: str
    setup: Callable[[], None]  # run before this case is timed (starting scores)
    train_builtin: Callable[[int], Model]
    train_lossatlas: Callable[[int], Model]
    raw_score: Callable[[Model], np.ndarray]
    objective_round: Callable[[], Any]  # one round of lossatlas objective calls
    bare_round: Callable[[], Any]  # the same calls, hand-written NumPy
    calls_per_round: int = 1
    train_handwritten: Callable[[int], Model] | None = None  # custom hand-written objective


# ---- data and hand-written objectives --------------------------------------------------------
def make_data(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, FEATURES), dtype=np.float32)
    signal = X[:, 0] + 0.5 * X[:, 1] * X[:, 2] + np.sin(2.0 * X[:, 3])
    y_reg = (signal + 0.5 * rng.standard_t(3, rows)).astype(np.float32)
    logit = X[:, 0] - X[:, 1] + 0.5 * X[:, 2] * X[:, 3]
    y_bin = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float32)
    return X, y_reg, y_bin


def bare_grad_hess(loss: str, p: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What a hand-written NumPy objective computes (no checks), in pred's dtype."""
    params = LOSSES[loss][0]
    if loss == "mse":
        return 2.0 * (p - y), np.full_like(p, 2.0)
    if loss == "binary_cross_entropy_with_logits":
        s = 1.0 / (1.0 + np.exp(-p))
        return s - y, np.maximum(s * (1.0 - s), 1e-16)
    if loss == "pseudo_huber":
        r = p - y
        root = np.sqrt(1.0 + (r / params["delta"]) ** 2)
        return r / root, 1.0 / (root * root * root)
    if loss == "quantile":
        q = params["q"]
        return np.where(p > y, 1.0 - q, -q).astype(p.dtype), np.ones_like(p)
    raise KeyError(loss)


class HandWritten:
    """A hand-written NumPy objective in each library's convention (the ``--handwritten``
    side): what a custom objective costs the booster without lossatlas."""

    def __init__(self, loss: str) -> None:
        self.loss = loss

    def __call__(self, preds: np.ndarray, dataset: Any) -> tuple[np.ndarray, np.ndarray]:
        return bare_grad_hess(self.loss, preds, dataset.get_label())

    def calc_ders_range(self, approxes: Any, targets: Any, weights: Any) -> np.ndarray:
        g, h = bare_grad_hess(self.loss, np.asarray(approxes), np.asarray(targets))
        return np.stack((-g, -h), axis=1)


# ---- timing ----------------------------------------------------------------------------------
def timed(train: Callable[[int], Model], rounds: int) -> tuple[float, float, Model]:
    """Seconds and peak resident-memory rise (MB, NaN where unknown) of one training run."""
    before = reset_peak()
    start = time.perf_counter()
    model = train(rounds)
    seconds = time.perf_counter() - start
    peak = float("nan") if before is None else (resident_kb("VmHWM") - before) / 1024
    return seconds, peak, model


# ---- XGBoost ---------------------------------------------------------------------------------
def xgboost_cases(X, y_reg, y_bin, losses, args) -> list[Case]:
    import xgboost as xgb

    start = time.perf_counter()
    data = {
        "regression": xgb.QuantileDMatrix(X, y_reg, max_bin=256, nthread=args.threads),
        "binary": xgb.QuantileDMatrix(X, y_bin, max_bin=256, nthread=args.threads),
    }
    log(f"  xgboost: QuantileDMatrix x2 built in {time.perf_counter() - start:.1f} s")
    common = {
        "tree_method": "hist",
        "max_depth": 6,
        "eta": 0.1,
        "max_bin": 256,
        "nthread": args.threads,
        "seed": 0,
        "lambda": 1.0,
        "gamma": 0.0,
        "min_child_weight": 1.0,
    }
    preds = np.random.default_rng(1).standard_normal(X.shape[0]).astype(np.float32)
    cases = []
    for loss in losses:
        if loss not in BUILTIN["xgboost"]:
            continue
        params, target = LOSSES[loss]
        dtrain = data[target]
        y = y_reg if target == "regression" else y_bin
        init = gbm.initial_prediction(loss, y, **params)
        builtin = {**common, "objective": BUILTIN["xgboost"][loss]}
        if loss == "binary_cross_entropy_with_logits":
            builtin["base_score"] = 1.0 / (1.0 + np.exp(-init))  # a probability here
        else:
            builtin["base_score"] = init
        if loss == "pseudo_huber":
            builtin["huber_slope"] = params["delta"]
        if loss == "quantile":
            builtin["quantile_alpha"] = params["q"]
        scale = SCALE.get(loss, 1.0)
        custom = {
            **common,
            "base_score": init,  # a raw score for a custom objective
            "lambda": common["lambda"] * scale,
            "gamma": common["gamma"] * scale,
            "min_child_weight": common["min_child_weight"] * scale,
        }
        obj = gbm.xgboost_objective(loss, **params)

        def train_builtin(rounds, builtin=builtin, dtrain=dtrain):
            return xgb.train(builtin, dtrain, num_boost_round=rounds)

        def train_lossatlas(rounds, custom=custom, dtrain=dtrain, obj=obj):
            return xgb.train(custom, dtrain, num_boost_round=rounds, obj=obj)

        def train_handwritten(rounds, custom=custom, dtrain=dtrain, loss=loss):
            return xgb.train(custom, dtrain, num_boost_round=rounds, obj=HandWritten(loss))

        def raw_score(model):
            return model.inplace_predict(X, predict_type="margin")

        def bare_round(dtrain=dtrain, loss=loss):
            return bare_grad_hess(loss, preds, dtrain.get_label())

        cases.append(
            Case(
                "xgboost",
                loss,
                BUILTIN["xgboost"][loss],
                lambda: None,
                train_builtin,
                train_lossatlas,
                raw_score,
                lambda obj=obj, dtrain=dtrain: obj(preds, dtrain),
                bare_round,
                train_handwritten=train_handwritten,
            )
        )
    return cases


# ---- LightGBM --------------------------------------------------------------------------------
def lightgbm_cases(X, y_reg, y_bin, losses, args) -> list[Case]:
    import lightgbm as lgb

    dataset_params = {"max_bin": 255, "num_threads": args.threads, "verbose": -1}
    start = time.perf_counter()
    data = {
        "regression": lgb.Dataset(X, y_reg, params=dataset_params, free_raw_data=False),
        "binary": lgb.Dataset(X, y_bin, params=dataset_params, free_raw_data=False),
    }
    for dataset in data.values():
        dataset.construct()
    log(f"  lightgbm: Dataset x2 built in {time.perf_counter() - start:.1f} s")
    common = {
        **dataset_params,
        "num_leaves": 63,
        "max_depth": -1,
        "learning_rate": 0.1,
        "min_data_in_leaf": 20,
        "min_sum_hessian_in_leaf": 1e-3,
        "lambda_l2": 0.0,
        "force_col_wise": True,
        "seed": 0,
        "deterministic": True,
    }
    preds = np.random.default_rng(1).standard_normal(X.shape[0])  # LightGBM passes float64
    cases = []
    for loss in losses:
        if loss not in BUILTIN["lightgbm"]:
            continue
        params, target = LOSSES[loss]
        dataset = data[target]
        y = y_reg if target == "regression" else y_bin
        init = gbm.initial_prediction(loss, y, **params)
        builtin = {**common, "objective": BUILTIN["lightgbm"][loss]}
        if loss == "quantile":
            builtin["alpha"] = params["q"]
        scale = SCALE.get(loss, 1.0)
        obj = gbm.lightgbm_objective(loss, **params)
        custom = {
            **common,
            "objective": obj,
            "min_sum_hessian_in_leaf": common["min_sum_hessian_in_leaf"] * scale,
        }

        def setup(dataset=dataset, init=init):
            # the same starting score for both sides (the built-in skips boost_from_average)
            dataset.set_init_score(np.full(dataset.num_data(), init))

        def train_builtin(rounds, builtin=builtin, dataset=dataset):
            return lgb.train(builtin, dataset, num_boost_round=rounds)

        def train_lossatlas(rounds, custom=custom, dataset=dataset):
            return lgb.train(custom, dataset, num_boost_round=rounds)

        def train_handwritten(rounds, custom=custom, dataset=dataset, loss=loss):
            params = {**custom, "objective": HandWritten(loss)}
            return lgb.train(params, dataset, num_boost_round=rounds)

        def raw_score(model):
            return model.predict(X, raw_score=True, num_threads=args.threads)

        def bare_round(dataset=dataset, loss=loss):
            return bare_grad_hess(loss, preds, dataset.get_label())

        cases.append(
            Case(
                "lightgbm",
                loss,
                BUILTIN["lightgbm"][loss],
                setup,
                train_builtin,
                train_lossatlas,
                raw_score,
                lambda obj=obj, dataset=dataset: obj(preds, dataset),
                bare_round,
                train_handwritten=train_handwritten,
            )
        )
    return cases


# ---- CatBoost --------------------------------------------------------------------------------
class BlockRecorder:
    """Wraps a CatBoost objective and records the block sizes of its calls."""

    def __init__(self, objective: Any) -> None:
        self.objective = objective
        self.sizes: list[int] = []

    def __deepcopy__(self, memo: dict[int, Any]) -> BlockRecorder:
        return self  # CatBoost deep-copies its parameters; record into this one

    def calc_ders_range(self, approxes: Any, targets: Any, weights: Any) -> Any:
        self.sizes.append(len(approxes))
        return self.objective.calc_ders_range(approxes, targets, weights)


def catboost_cases(X, y_reg, y_bin, losses, args) -> list[Case]:
    import catboost as cb

    rows = min(args.catboost_rows or X.shape[0], X.shape[0])
    Xc = X[:rows]
    start = time.perf_counter()
    data = {
        "regression": cb.Pool(Xc, y_reg[:rows], thread_count=args.threads),
        "binary": cb.Pool(Xc, y_bin[:rows], thread_count=args.threads),
    }
    for pool in data.values():
        pool.quantize(border_count=254)
    log(f"  catboost: Pool x2 ({rows} rows) built in {time.perf_counter() - start:.1f} s")
    common = {
        "depth": 6,
        "learning_rate": 0.1,
        "border_count": 254,
        "l2_leaf_reg": 3.0,
        "thread_count": args.threads,
        "boosting_type": "Plain",
        "bootstrap_type": "No",
        "boost_from_average": False,  # both sides start from the Pool's baseline
        "random_seed": 0,
        "allow_writing_files": False,
        "verbose": False,
    }
    approxes = np.random.default_rng(1).standard_normal(rows)  # CatBoost passes float64
    cases = []
    for loss in losses:
        if loss not in BUILTIN["catboost"]:
            continue
        params, target = LOSSES[loss]
        pool = data[target]
        y = (y_reg if target == "regression" else y_bin)[:rows]
        targets = y.astype(np.float64)
        init = gbm.initial_prediction(loss, y, **params)
        builtin = {**common, "loss_function": BUILTIN["catboost"][loss]}
        if loss != "quantile":  # the built-in Quantile uses "Exact" leaves
            builtin["leaf_estimation_method"] = "Newton"
            builtin["leaf_estimation_iterations"] = 1
        obj = gbm.catboost_objective(loss, **params)
        custom = {
            **common,
            "loss_function": obj,
            "eval_metric": gbm.catboost_metric(loss, **params),
            "leaf_estimation_method": "Newton",
            "leaf_estimation_iterations": 1,
            "l2_leaf_reg": common["l2_leaf_reg"] * SCALE.get(loss, 1.0),
        }
        model_class = cb.CatBoostClassifier if target == "binary" else cb.CatBoostRegressor

        def setup(pool=pool, init=init, rows=rows):
            pool.set_baseline(np.full(rows, init))

        def train_builtin(rounds, builtin=builtin, pool=pool, model_class=model_class):
            return model_class(iterations=rounds, **builtin).fit(pool)

        def train_lossatlas(rounds, custom=custom, pool=pool, model_class=model_class):
            return model_class(iterations=rounds, **custom).fit(pool)

        def train_handwritten(rounds, custom=custom, pool=pool, model_class=model_class, loss=loss):
            params = {**custom, "loss_function": HandWritten(loss)}
            return model_class(iterations=rounds, **params).fit(pool)

        def raw_score(model):
            return model.predict(Xc, prediction_type="RawFormulaVal", thread_count=args.threads)

        # the block sizes CatBoost calls calc_ders_range with, from a one-round fit
        recorder = BlockRecorder(obj)
        setup()
        model_class(iterations=1, **{**custom, "loss_function": recorder}).fit(pool)
        # (a round makes more than one pass over the rows: the split search and the leaves)
        ends = np.cumsum(recorder.sizes)
        starts = (ends - np.asarray(recorder.sizes)) % rows
        blocks = [
            (int(i), min(int(i) + size, rows))
            for i, size in zip(starts, recorder.sizes, strict=True)
        ]
        log(
            f"  catboost {loss}: calc_ders_range called {len(blocks)} times in one round, "
            f"{ends[-1] / rows:.2g} passes over the rows, blocks of {min(recorder.sizes)} "
            f"to {max(recorder.sizes)} rows"
        )

        def objective_round(obj=obj, blocks=blocks, targets=targets):
            for i, j in blocks:
                obj.calc_ders_range(approxes[i:j], targets[i:j], None)

        def bare_round(loss=loss, blocks=blocks, targets=targets):
            for i, j in blocks:
                g, h = bare_grad_hess(loss, approxes[i:j], targets[i:j])
                np.stack((-g, -h), axis=1)

        cases.append(
            Case(
                "catboost",
                loss,
                BUILTIN["catboost"][loss],
                setup,
                train_builtin,
                train_lossatlas,
                raw_score,
                objective_round,
                bare_round,
                calls_per_round=len(blocks),
                train_handwritten=train_handwritten,
            )
        )
    return cases


# ---- main ------------------------------------------------------------------------------------
def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(args: argparse.Namespace) -> str:
    versions = [f"Python {platform.python_version()}", f"numpy {np.__version__}"]
    for name in args.libraries:
        module = __import__(name)
        versions.append(f"{name} {module.__version__}")
    versions.append(f"lossatlas {getattr(la, '__version__', '?')}")
    return (
        f"{', '.join(versions)}; {cpu_model()}, {os.cpu_count()} cores, "
        f"{args.threads} threads; {args.rows:.0e} rows x {FEATURES} float32 features, "
        f"{args.rounds} rounds; median of {args.repeats} interleaved runs "
        f"({args.catboost_repeats} for CatBoost)"
    )


def profile_round(case: Case) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(5):
        case.objective_round()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
    log(f"--- profile of 5 rounds of {case.library} {case.loss} objective calls ---")
    log(out.getvalue())


def run_case(case: Case, args: argparse.Namespace) -> dict[str, Any]:
    repeats = args.catboost_repeats if case.library == "catboost" else args.repeats
    case.setup()
    sides = [case.train_builtin, case.train_lossatlas]
    names = ["built-in", "lossatlas", "hand-written"]
    if args.handwritten and case.train_handwritten is not None:
        sides.append(case.train_handwritten)
    warm = min(args.rounds, 2)
    for train in sides:
        train(warm)
    times: list[list[float]] = [[] for _ in sides]
    peaks: list[list[float]] = [[] for _ in sides]
    models: list[Model] = [None for _ in sides]
    for r in range(repeats):
        # A B (C) then (C) B A: drift cancels in the medians
        order = range(len(sides)) if r % 2 == 0 else reversed(range(len(sides)))
        for i in order:
            seconds, peak, models[i] = timed(sides[i], args.rounds)
            times[i].append(seconds)
            peaks[i].append(peak)
            load = os.getloadavg()[0]
            log(f"    {case.library} {case.loss} {names[i]}: {seconds:.2f} s (load {load:.1f})")
    built, ours = (statistics.median(t) for t in times[:2])
    handwritten = statistics.median(times[2]) if len(sides) > 2 else None
    a, b = (np.asarray(case.raw_score(m), dtype=np.float64) for m in models[:2])
    diff = float(np.max(np.abs(a - b)))
    objective_ms, bare_ms = interleaved_medians(
        [case.objective_round, case.bare_round], args.obj_repeats
    )
    if args.profile:
        profile_round(case)
    result = {
        "library": case.library,
        "loss": case.loss,
        "builtin": case.builtin,
        "builtin_s": built,
        "lossatlas_s": ours,
        "handwritten_s": handwritten,
        "spread": [(min(t), max(t)) for t in times],
        "peak_mb": [max(p) for p in peaks],
        "diff": diff,
        "score_std": float(np.std(a)),
        "objective_ms": objective_ms,
        "bare_ms": bare_ms,
        "calls": case.calls_per_round,
    }
    log(
        f"  {case.library} {case.loss}: {built:.2f} s vs {ours:.2f} s ({ours / built:.2f}x), "
        f"fastest {min(times[0]):.2f} s vs {min(times[1]):.2f} s; "
        f"max |raw score diff| {diff:.2g} (score std {result['score_std']:.2g}); peak MB "
        f"{result['peak_mb'][0]:.0f} vs {result['peak_mb'][1]:.0f}; objective "
        f"{objective_ms:.1f} ms/round in {case.calls_per_round} call(s), bare NumPy "
        f"{bare_ms:.1f} ms"
        + ("" if handwritten is None else f"; hand-written objective {handwritten:.2f} s")
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3, help="XGBoost and LightGBM")
    parser.add_argument("--catboost-repeats", type=int, default=1)
    parser.add_argument(
        "--catboost-rows", type=int, default=0, help="rows for CatBoost (default: --rows)"
    )
    parser.add_argument("--obj-repeats", type=int, default=7, help="objective-only timings")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--libraries", default=",".join(LIBRARIES))
    parser.add_argument("--losses", default="", help="comma-separated names (default: all)")
    parser.add_argument("--profile", action="store_true", help="cProfile the objective calls")
    parser.add_argument(
        "--handwritten",
        action="store_true",
        help="also time training with a hand-written NumPy objective (a third side)",
    )
    args = parser.parse_args(argv)
    args.libraries = [name for name in args.libraries.split(",") if name]
    unknown = set(args.libraries) - set(LIBRARIES)
    if unknown:
        parser.error(f"unknown libraries {sorted(unknown)}; choose from {LIBRARIES}")
    losses = [la.get(n).name for n in args.losses.split(",") if n] or list(LOSSES)
    if set(losses) - set(LOSSES):
        parser.error(f"losses must be among {sorted(LOSSES)}")
    warnings.filterwarnings("ignore", message="Failed to import numba")

    env = environment(args)
    log(env)
    log(f"load average before: {os.getloadavg()[0]:.2f}")
    X, y_reg, y_bin = make_data(args.rows, args.seed)
    builders = {"xgboost": xgboost_cases, "lightgbm": lightgbm_cases, "catboost": catboost_cases}
    results = []
    for library in args.libraries:
        for case in builders[library](X, y_reg, y_bin, losses, args):
            results.append(run_case(case, args))

    log(f"load average after: {os.getloadavg()[0]:.2f}")
    print(env)
    print()
    hand = any(r["handwritten_s"] is not None for r in results)
    print(
        "| library | loss | built-in objective | built-in s | lossatlas s | ratio "
        "| ratio of fastest runs |"
        + (" hand-written NumPy objective s | its ratio |" if hand else "")
    )
    print("|---|---|---|---:|---:|---:|---:|" + ("---:|---:|" if hand else ""))
    for r in results:
        (built_min, _), (ours_min, _) = r["spread"][:2]
        line = (
            f"| {r['library']} | {r['loss']} | {r['builtin']} | {r['builtin_s']:.2f} "
            f"| {r['lossatlas_s']:.2f} | {r['lossatlas_s'] / r['builtin_s']:.2f} "
            f"| {ours_min / built_min:.2f} |"
        )
        if hand:
            h = r["handwritten_s"]
            line += " - | - |" if h is None else f" {h:.2f} | {h / r['builtin_s']:.2f} |"
        print(line)
    print()
    print(
        "| library | loss | objective calls / round | lossatlas objective ms / round "
        "| hand-written NumPy ms / round | built-in training ms / round "
        "| lossatlas - built-in ms / round | max abs raw-score difference |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        per_round = r["builtin_s"] / args.rounds * 1e3
        extra = (r["lossatlas_s"] - r["builtin_s"]) / args.rounds * 1e3
        print(
            f"| {r['library']} | {r['loss']} | {r['calls']} | {r['objective_ms']:.1f} "
            f"| {r['bare_ms']:.1f} | {per_round:.1f} | {extra:.1f} | {r['diff']:.2g} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
