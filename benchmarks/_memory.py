"""Resident memory of this process from /proc (Linux), shared by the benchmarks."""

from __future__ import annotations


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
