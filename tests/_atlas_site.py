"""One build of the atlas per test session, shared by test_site.py and test_browser.py, and one
run of each study (seed 0, NumPy), shared by that build and test_studies.py.

The site is built through the CLI (``lossatlas atlas --out DIR --no-progress``, which calls
``build_site(DIR, progress=False, seed=0)``), so the same build also checks the command. The
build asks for each study through ``run_study``; a study that this test session has already run
with the same arguments is not run again: its report is reused and its figures copied into the
site. test_studies.py checks that a second run of a study gives the same report and figure
bytes, so the reuse changes nothing the build writes.

A study's run is shared by the session's xdist workers through a folder they all see (the
parent of each worker's base temp folder) under a file lock, and before a worker builds the
site it runs the studies that no other worker holds, the even workers in registry order and
the odd ones in reverse: two workers run half the studies each instead of all of them twice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import pickle
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock, Timeout

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


def _session_folder(factory: pytest.TempPathFactory) -> Path:
    """A folder every xdist worker of this session sees (this process's base temp without
    xdist)."""
    base = factory.getbasetemp()
    return base.parent if "PYTEST_XDIST_WORKER" in os.environ else base


def _shared_run(
    factory: pytest.TempPathFactory, name: str, seed: int, backend: str, *, wait: bool
) -> tuple[StudyReport, Path] | None:
    """The session's run of a study: loaded where a worker has saved it, else run and saved;
    None without ``wait`` where another worker holds it."""
    folder = _session_folder(factory) / "studies" / f"{name}-{seed}-{backend}"
    lock = FileLock(f"{folder}.lock")
    try:
        lock.acquire(timeout=-1 if wait else 0)
    except Timeout:
        return None
    try:
        saved = folder / "report.pickle"
        if saved.exists():
            return pickle.loads(saved.read_bytes()), folder
        folder.mkdir(parents=True, exist_ok=True)
        report = _RUN_STUDY(name, folder, seed=seed, backend=backend, progress=False)
        saved.write_bytes(pickle.dumps(report))
        return report, folder
    finally:
        lock.release()


def study_run(
    factory: pytest.TempPathFactory, name: str, *, seed: int = 0, backend: str = "numpy"
) -> tuple[StudyReport, Path]:
    """The report of study ``name`` and the folder of its figures, run once per session."""
    key = (name, seed, backend)
    if key not in _STUDIES:
        _STUDIES[key] = _shared_run(factory, name, seed, backend, wait=True)
    return _STUDIES[key]


def _run_studies_no_worker_holds(factory: pytest.TempPathFactory) -> None:
    names = list(studies.STUDIES)
    if int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:]) % 2:
        names.reverse()
    for name in names:
        if (name, 0, "numpy") not in _STUDIES:
            run = _shared_run(factory, name, 0, "numpy", wait=False)
            if run is not None:
                _STUDIES[name, 0, "numpy"] = run


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
        _run_studies_no_worker_holds(tmp_path_factory)
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
