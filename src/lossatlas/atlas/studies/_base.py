"""The report every study returns and the object the registry holds."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ._train import BACKENDS, backend_scope

Cell = str | float
Table = tuple[str, list[str], list[list[Cell]]]


@dataclass
class StudyReport:
    """What a study found: a main table, figures written to disk, and plain-text findings.

    Attributes:
        name: the study's registry name, e.g. ``"outliers"``.
        title: a human title.
        summary: two to five sentences of plain text: what the study shows and the takeaway.
        headers: column names of the main table.
        rows: the main table's rows; numbers are floats (rounded to 6 significant digits),
            everything else is a string.
        figures: PNG files written under the study's ``out_dir``.
        notes: further findings, one plain-text sentence or short paragraph each.
        extra_tables: more tables, each ``(caption, headers, rows)``.
    """

    name: str
    title: str
    summary: str
    headers: list[str]
    rows: list[list[Cell]]
    figures: list[Path]
    notes: list[str]
    extra_tables: list[Table] = field(default_factory=list)


@dataclass(frozen=True)
class Study:
    """A registered study: ``study.run(out_dir, seed=0, backend="numpy", progress=True)``.

    Attributes:
        name: registry name (also the prefix of its figure files).
        title: a human title.
        description: one sentence saying what the study does.
    """

    name: str
    title: str
    description: str
    _run: Callable[..., StudyReport] = field(repr=False)

    def run(
        self,
        out_dir: str | Path,
        *,
        seed: int = 0,
        backend: str = "numpy",
        progress: bool = True,
    ) -> StudyReport:
        """Run the study, write its figures under ``out_dir`` (created if needed), and return
        its report. Deterministic for a given ``seed``; ``backend`` ("numpy", "torch" or
        "jax") is the array library the losses and the training run on (same results within
        floating-point tolerance); ``progress`` shows tqdm bars on stderr."""
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose one of {list(BACKENDS)}")
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        with backend_scope(backend) as bk:
            return self._run(out, seed=int(seed), bk=bk, progress=bool(progress))


def sig(x: float, digits: int = 6) -> float:
    """``x`` rounded to ``digits`` significant digits (a float; inf and NaN pass through)."""
    x = float(x)
    if not math.isfinite(x) or x == 0.0:
        return x
    return float(f"{x:.{digits}g}")
