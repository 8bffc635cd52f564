"""Resident memory from /proc (Linux), shared by the benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path


def resident_kb(field: str) -> int:
    """A field of /proc/self/status in kB: ``VmRSS`` (now) or ``VmHWM`` (peak)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    raise RuntimeError(field)


def reset_peak() -> int | None:
    """Reset VmHWM and return the current resident size (kB); None where /proc lacks it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return resident_kb("VmRSS")
    except OSError:
        return None


def peak_in_a_fresh_process(script: str, argv: list[str], *, mmap_all: bool = False) -> float:
    """The peak memory of one case, measured by running ``script`` again with ``argv`` (its
    ``--memory-of`` mode, which prints the peak last) in a new interpreter: the allocator of
    this one keeps what earlier cases freed, which would hide a later case's peak.

    ``mmap_all``: glibc's malloc serves every block of 128 kB or more by mmap, so that a freed
    block goes back to the system (by default, once a block of up to 32 MB has been freed, the
    threshold rises past it and such blocks stay in the heap: a case whose temporaries are a
    few MB each would then show no rise at all after its warm-up call)."""
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(128 * 1024)} if mmap_all else None
    done = subprocess.run(
        [sys.executable, script, *argv],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(script).parent,
        env=env,
    )
    return float(done.stdout.strip().splitlines()[-1])


def peak_mb(run: Callable[[], object]) -> float:
    """The rise of the resident peak (MB) over one call of ``run``; NaN where /proc lacks it."""
    before = reset_peak()
    run()
    return float("nan") if before is None else (resident_kb("VmHWM") - before) / 1024


def peaks_ours_and_peer(script: str, argv: list[str], case: str) -> tuple[float, float]:
    """The fresh-process peaks (MB) of ``case`` run by ``script --memory-of CASE:0`` (the
    library) and ``CASE:1`` (the peer), every block mmapped (see ``mmap_all``)."""
    ours, peer = (
        peak_in_a_fresh_process(script, [*argv, "--memory-of", f"{case}:{side}"], mmap_all=True)
        for side in (0, 1)
    )
    return ours, peer
