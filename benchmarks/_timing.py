"""Timing shared by the benchmarks: interleaved medians, so that the machine's drift over a
run reaches every case alike and the ratios hold on a noisy machine."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence


def interleaved_medians(fns: Sequence[Callable[[], object]], repeats: int) -> list[float]:
    """Median milliseconds of each argument-free call, the calls interleaved, after one
    warm-up call of each."""
    for fn in fns:
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            times[i].append(time.perf_counter() - start)
    return [statistics.median(t) * 1e3 for t in times]
