"""One build of the atlas per test session, shared by test_site.py and test_browser.py, and one
run of each study (seed 0, NumPy), shared by that build and test_studies.py.

The site is built through the CLI (``lossatlas atlas --out DIR --no-progress``, which calls
``build_site(DIR, progress=False, seed=0)``), so the same build also checks the command. The
build asks for each study through ``run_study``; a study that this process has already run with
the same arguments is not run again: its report is reused and its figures copied into the
site. test_studies.py checks that a second run of a study gives the same report and figure
bytes, so the reuse changes nothing the build writes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lossatlas import cli
from lossatlas.atlas import studies
from lossatlas.atlas.studies import StudyReport


@dataclass(frozen=True)
class Build:
    root: Path  # the site folder
    index: Path  # root / "index.html"
    code: int  # exit status of `lossatlas atlas`
    stdout: str
    stderr: str
    seconds: float


_BUILDS: dict[str, Build] = {}
_STUDIES: dict[tuple[str, int, str], tuple[StudyReport, Path]] = {}
_RUN_STUDY = studies.run_study


def study_run(
    factory: pytest.TempPathFactory, name: str, *, seed: int = 0, backend: str = "numpy"
) -> tuple[StudyReport, Path]:
    """The report of study ``name`` and the folder of its figures, run once per process."""
    key = (name, seed, backend)
    if key not in _STUDIES:
        folder = factory.mktemp(name)
        report = _RUN_STUDY(name, folder, seed=seed, backend=backend, progress=False)
        _STUDIES[key] = (report, folder)
    return _STUDIES[key]


def _reusing_run_study(factory: pytest.TempPathFactory):
    def run_study(name: str, out_dir: Any, *, seed: int = 0, backend: str = "numpy",
                  progress: bool = True) -> StudyReport:  # fmt: skip
        report, _ = study_run(factory, name, seed=seed, backend=backend)
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        figures = [Path(shutil.copy(p, out / p.name)) for p in report.figures]
        return dataclasses.replace(report, figures=figures)

    return run_study


@contextlib.contextmanager
def reusing_studies(factory: pytest.TempPathFactory):
    """``run_study`` takes a study's report from this process's earlier run of it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(studies, "run_study", _reusing_run_study(factory))
        yield


def site_build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    if "site" not in _BUILDS:
        root = tmp_path_factory.mktemp("atlas") / "site"
        out, err = io.StringIO(), io.StringIO()
        start = time.perf_counter()
        with (
            reusing_studies(tmp_path_factory),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            code = cli.main(["atlas", "--out", str(root), "--no-progress"])
        seconds = time.perf_counter() - start
        _BUILDS["site"] = Build(
            root, root / "index.html", code, out.getvalue(), err.getvalue(), seconds
        )
    return _BUILDS["site"]
