"""Studies: small, seeded experiments that train models with the library's own losses.

``run_study(name, out_dir)`` runs one and returns a :class:`StudyReport` (tables, notes and the
PNG figures it wrote); ``STUDIES`` maps each name to its :class:`Study`.
"""

from __future__ import annotations

from pathlib import Path

from . import (
    boxes,
    ctc,
    embeddings,
    imbalance,
    margins,
    multiclass,
    outliers,
    saturation,
    segmentation,
    sinc,
)
from ._base import Study, StudyReport

__all__ = ["STUDIES", "Study", "StudyReport", "run_study"]

STUDIES: dict[str, Study] = {
    s.name: s
    for s in (
        outliers.STUDY,
        saturation.STUDY,
        imbalance.STUDY,
        margins.STUDY,
        sinc.STUDY,
        multiclass.STUDY,
        ctc.STUDY,
        segmentation.STUDY,
        boxes.STUDY,
        embeddings.STUDY,
    )
}


def run_study(
    name: str,
    out_dir: str | Path,
    *,
    seed: int = 0,
    backend: str = "numpy",
    progress: bool = True,
) -> StudyReport:
    """Run the study ``name``, writing its figures under ``out_dir``; return its report.

    Args:
        name: a key of :data:`STUDIES`.
        out_dir: folder for the PNG figures (created if needed); files are named
            ``<study>-<what>.png``.
        seed: seed of the synthetic data; equal seeds give equal reports and figure bytes.
        backend: "numpy" (default), "torch" or "jax": the library the losses run on (the
            ``sinc`` study boosts with LightGBM on NumPy arrays whatever the backend).
        progress: show tqdm progress bars on stderr.

    Raises:
        KeyError: for an unknown study name (the message lists the known ones).
        ValueError: for an unknown backend.
    """
    try:
        study = STUDIES[name]
    except KeyError:
        raise KeyError(f"unknown study {name!r}; available studies: {sorted(STUDIES)}") from None
    return study.run(out_dir, seed=seed, backend=backend, progress=progress)
