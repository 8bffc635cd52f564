"""Resident memory from /proc (Linux), shared by the benchmarks."""

from __future__ import annotations

import subprocess
import sys
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


def peak_in_a_fresh_process(script: str, argv: list[str]) -> float:
    """The peak memory of one case, measured by running ``script`` again with ``argv`` (its
    ``--memory-of`` mode, which prints the peak last) in a new interpreter: the allocator of
    this one keeps what earlier cases freed, which would hide a later case's peak."""
    done = subprocess.run(
        [sys.executable, script, *argv],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(script).parent,
    )
    return float(done.stdout.strip().splitlines()[-1])
