"""Multiclass training time of XGBoost and LightGBM with lossatlas's cross entropy as a custom
objective, beside the booster's built-in multiclass objective, on the same data and settings.

The data are synthetic and seeded: 10^5 rows x 20 float32 standard-normal features by default
and 10 classes drawn from a softmax of nonlinear scores. The QuantileDMatrix (binned) and the
Dataset are built once, outside the timed region; only training is timed. Three sides per
library, interleaved (A B C, then C B A, ...) after a short warm-up, each the median of
``--repeats`` runs:

- built-in: ``multi:softprob`` / ``multiclass``;
- lossatlas, the built-in's scaling: ``gbm.xgboost_multiclass_objective("cross_entropy",
  hessian="xgboost")`` (2 p (1 - p)) / ``lightgbm_multiclass_objective(...,
  hessian="lightgbm")`` (K / (K - 1) p (1 - p)): the same trees as the built-in, so the time
  difference is the objective's cost, and the max raw-score difference is printed;
- lossatlas, exact (the default ``hessian="exact"``, p (1 - p)): other leaf values, so other
  trees, at the same cost per round.

Both sides start from the same scores (``gbm.multiclass_initial_prediction``: XGBoost's
``base_score`` list, LightGBM's ``init_score``). ratio = lossatlas / built-in; the ratio of
the fastest runs is printed beside it (on a shared machine a busy neighbour stalls OpenMP
threads; the minima estimate the undisturbed times). The per-round cost of the objective
alone is measured beside: lossatlas's objective call as the booster makes it (XGBoost's
float32 C-ordered scores, LightGBM's float64 class-major ones), against a hand-written NumPy
softmax gradient and Hessian.

    python benchmarks/bench_gbm_multiclass.py                 # 1e5 rows x 10 classes, 100 rounds
    python benchmarks/bench_gbm_multiclass.py --quick         # 2e4 rows, 10 rounds, 1 repeat
    python benchmarks/bench_gbm_multiclass.py --libraries xgboost --repeats 5 --profile
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
from bench_gbm import cpu_model, log, median_ms, timed

import lossatlas as la
from lossatlas import gbm

FEATURES = 20
LIBRARIES = ("xgboost", "lightgbm")
BUILTIN = {"xgboost": "multi:softprob", "lightgbm": "multiclass"}
MATCHING = {"xgboost": "xgboost", "lightgbm": "lightgbm"}  # the hessian= option per booster

Model = Any


@dataclass
class Case:
    library: str
    sides: list[tuple[str, Callable[[int], Model]]]  # (name, train(rounds)); built-in first
    raw_score: Callable[[Model], np.ndarray]
    objective_round: Callable[[], Any]  # one lossatlas objective call, as the booster makes it
    bare_round: Callable[[], Any]  # the same, hand-written NumPy


# ---- data and the hand-written objective ---------------------------------------------------------
def make_data(rows: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, FEATURES), dtype=np.float32)
    mix = rng.standard_normal((FEATURES, classes)).astype(np.float32) * (2.0 / np.sqrt(FEATURES))
    linear = X @ mix
    scores = linear + np.sin(2.0 * linear[:, ::-1])  # nonlinear couplings between classes
    scores -= scores.max(axis=1, keepdims=True)
    p = np.exp(scores)
    p /= p.sum(axis=1, keepdims=True)
    y = (p.cumsum(axis=1) < rng.random((rows, 1))).sum(axis=1)
    return X, np.minimum(y, classes - 1).astype(np.float32)


def bare_grad_hess(z: np.ndarray, y: np.ndarray, factor: float) -> tuple[np.ndarray, np.ndarray]:
    """What a hand-written NumPy softmax objective computes (no checks), in z's dtype."""
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    hess = factor * p * (1.0 - p)
    p[np.arange(z.shape[0]), y.astype(np.intp)] -= 1.0
    return p, hess


# ---- XGBoost -------------------------------------------------------------------------------------
def xgboost_case(X, y, classes, init, args) -> Case:
    import xgboost as xgb

    start = time.perf_counter()
    dtrain = xgb.QuantileDMatrix(X, y, max_bin=256, nthread=args.threads)
    log(f"  xgboost: QuantileDMatrix built in {time.perf_counter() - start:.1f} s")
    common = {
        "num_class": classes,
        "tree_method": "hist",
        "max_depth": 6,
        "eta": 0.1,
        "max_bin": 256,
        "nthread": args.threads,
        "seed": 0,
        "base_score": init.tolist(),
    }
    builtin = {**common, "objective": BUILTIN["xgboost"]}
    custom = {**common, "disable_default_eval_metric": 1}
    matching = gbm.xgboost_multiclass_objective("cross_entropy", hessian=MATCHING["xgboost"])
    exact = gbm.xgboost_multiclass_objective("cross_entropy")

    def train(params: dict, obj: Any = None) -> Callable[[int], Model]:
        return lambda rounds: xgb.train(params, dtrain, num_boost_round=rounds, obj=obj)

    preds = np.random.default_rng(1).standard_normal((X.shape[0], classes), dtype=np.float32)
    return Case(
        "xgboost",
        [
            ("built-in", train(builtin)),
            ('hessian="xgboost"', train(custom, matching)),
            ('hessian="exact"', train(custom, exact)),
        ],
        lambda model: model.inplace_predict(X, predict_type="margin"),
        lambda: matching(preds, dtrain),
        lambda: bare_grad_hess(preds, dtrain.get_label(), 2.0),
    )


# ---- LightGBM ------------------------------------------------------------------------------------
def lightgbm_case(X, y, classes, init, args) -> Case:
    import lightgbm as lgb

    dataset_params = {"max_bin": 255, "num_threads": args.threads, "verbose": -1}
    start = time.perf_counter()
    dataset = lgb.Dataset(X, y, params=dataset_params, free_raw_data=False)
    dataset.construct()
    # the same starting score for every side (the built-in skips boost_from_average)
    dataset.set_init_score(np.tile(init, (X.shape[0], 1)))
    log(f"  lightgbm: Dataset built in {time.perf_counter() - start:.1f} s")
    common = {
        **dataset_params,
        "num_class": classes,
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
    matching = gbm.lightgbm_multiclass_objective("cross_entropy", hessian=MATCHING["lightgbm"])
    exact = gbm.lightgbm_multiclass_objective("cross_entropy")

    def train(objective: Any) -> Callable[[int], Model]:
        params = {**common, "objective": objective}
        return lambda rounds: lgb.train(params, dataset, num_boost_round=rounds)

    # LightGBM passes float64 scores, class-major: an (n, K) Fortran-ordered view
    rng = np.random.default_rng(1)
    preds = np.asfortranarray(rng.standard_normal((X.shape[0], classes)))
    return Case(
        "lightgbm",
        [
            ("built-in", train(BUILTIN["lightgbm"])),
            ('hessian="lightgbm"', train(matching)),
            ('hessian="exact"', train(exact)),
        ],
        lambda model: model.predict(X, raw_score=True, num_threads=args.threads),
        lambda: matching(preds, dataset),
        lambda: bare_grad_hess(preds, dataset.get_label(), classes / (classes - 1.0)),
    )


# ---- main ----------------------------------------------------------------------------------------
def environment(args: argparse.Namespace) -> str:
    versions = [f"Python {platform.python_version()}", f"numpy {np.__version__}"]
    for name in args.libraries:
        versions.append(f"{name} {__import__(name).__version__}")
    versions.append(f"lossatlas {getattr(la, '__version__', '?')}")
    return (
        f"{', '.join(versions)}; {cpu_model()}, {os.cpu_count()} cores, "
        f"{args.threads} threads; {args.rows:.0e} rows x {FEATURES} float32 features, "
        f"{args.classes} classes, {args.rounds} rounds; median of {args.repeats} interleaved runs"
    )


def profile_round(case: Case) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(20):
        case.objective_round()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
    log(f"--- profile of 20 {case.library} multiclass objective calls ---")
    log(out.getvalue())


def run_case(case: Case, args: argparse.Namespace) -> dict[str, Any]:
    names = [name for name, _ in case.sides]
    trains = [train for _, train in case.sides]
    warm = min(args.rounds, 2)
    for train in trains:
        train(warm)
    times: list[list[float]] = [[] for _ in trains]
    models: list[Model] = [None for _ in trains]
    for r in range(args.repeats):
        order = range(len(trains)) if r % 2 == 0 else reversed(range(len(trains)))
        for i in order:
            seconds, _, models[i] = timed(trains[i], args.rounds)
            times[i].append(seconds)
            load = os.getloadavg()[0]
            log(f"    {case.library} {names[i]}: {seconds:.2f} s (load {load:.1f})")
    medians = [statistics.median(t) for t in times]
    scores = [np.asarray(case.raw_score(m), dtype=np.float64) for m in models]
    diff = float(np.max(np.abs(scores[1] - scores[0])))
    objective_ms, bare_ms = median_ms([case.objective_round, case.bare_round], args.obj_repeats)
    if args.profile:
        profile_round(case)
    result = {
        "library": case.library,
        "names": names,
        "medians": medians,
        "fastest": [min(t) for t in times],
        "diff": diff,
        "score_std": float(np.std(scores[0])),
        "objective_ms": objective_ms,
        "bare_ms": bare_ms,
    }
    log(
        f"  {case.library}: "
        + ", ".join(f"{n} {m:.2f} s" for n, m in zip(names, medians, strict=True))
        + f"; max |raw score diff| built-in vs {names[1]} {diff:.2g}; objective "
        f"{objective_ms:.1f} ms/round, bare NumPy {bare_ms:.1f} ms"
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--obj-repeats", type=int, default=15, help="objective-only timings")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--libraries", default=",".join(LIBRARIES))
    parser.add_argument("--profile", action="store_true", help="cProfile the objective calls")
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 2e4 rows, 10 rounds, 1 repeat"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.rounds, args.repeats, args.obj_repeats = 20_000, 10, 1, 3
    args.libraries = [name for name in args.libraries.split(",") if name]
    unknown = set(args.libraries) - set(LIBRARIES)
    if unknown:
        parser.error(f"unknown libraries {sorted(unknown)}; choose from {LIBRARIES}")
    if args.classes < 2:
        parser.error("--classes must be at least 2")
    warnings.filterwarnings("ignore", message="Failed to import numba")

    env = environment(args)
    log(env)
    log(f"load average before: {os.getloadavg()[0]:.2f}")
    X, y = make_data(args.rows, args.classes, args.seed)
    init = gbm.multiclass_initial_prediction("cross_entropy", y, num_class=args.classes)
    builders = {"xgboost": xgboost_case, "lightgbm": lightgbm_case}
    results = [
        run_case(builders[library](X, y, args.classes, init, args), args)
        for library in args.libraries
    ]
    log(f"load average after: {os.getloadavg()[0]:.2f}")

    print(env)
    print()
    print(
        "| library | built-in objective | built-in s | lossatlas, built-in's hessian s | ratio "
        "| ratio of fastest runs | lossatlas, exact hessian s | ratio | ratio of fastest runs |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        (built, matching, exact), (fb, fm, fe) = r["medians"], r["fastest"]
        print(
            f"| {r['library']} | {BUILTIN[r['library']]} | {built:.2f} "
            f"| {matching:.2f} ({r['names'][1]}) | {matching / built:.2f} | {fm / fb:.2f} "
            f"| {exact:.2f} | {exact / built:.2f} | {fe / fb:.2f} |"
        )
    print()
    print(
        "| library | lossatlas objective ms / round | hand-written NumPy ms / round "
        "| built-in training ms / round | max abs raw-score difference (built-in's hessian) |"
    )
    print("|---|---:|---:|---:|---:|")
    for r in results:
        per_round = r["medians"][0] / args.rounds * 1e3
        print(
            f"| {r['library']} | {r['objective_ms']:.1f} | {r['bare_ms']:.1f} "
            f"| {per_round:.1f} | {r['diff']:.2g} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
