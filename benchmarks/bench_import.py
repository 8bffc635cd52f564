"""What ``import lossatlas`` costs on top of ``import numpy``, by ``python -X importtime``.

Each measurement is a fresh interpreter; the cumulative import time of the top-level module is
read off ``-X importtime``. numpy and lossatlas runs are interleaved and their medians compared.

    python benchmarks/bench_import.py --repeats 15
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys


def cumulative_us(module: str) -> int:
    """The cumulative import time of ``module`` in a fresh interpreter, in microseconds."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
    )
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+\d+\s+\|\s+(\d+)\s+\|\s(\S+)$", line)
        if match and match.group(2) == module:
            return int(match.group(1))
    raise RuntimeError(f"no import time line for {module}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    numpy_us, lossatlas_us = [], []
    for _ in range(args.repeats):
        numpy_us.append(cumulative_us("numpy"))
        lossatlas_us.append(cumulative_us("lossatlas"))
    n, la = statistics.median(numpy_us) / 1e3, statistics.median(lossatlas_us) / 1e3
    print(
        f"import numpy: {n:.1f} ms; import lossatlas: {la:.1f} ms; lossatlas adds {la - n:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
