"""One build of the atlas per test session, shared by test_site.py and test_browser.py.

The site is built through the CLI (``lossatlas atlas --out DIR --no-progress``, which calls
``build_site(DIR, progress=False, seed=0)``), so the same build also checks the command.
"""

from __future__ import annotations

import contextlib
import io
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from lossatlas import cli


@dataclass(frozen=True)
class Build:
    root: Path  # the site folder
    index: Path  # root / "index.html"
    code: int  # exit status of `lossatlas atlas`
    stdout: str
    stderr: str
    seconds: float


_BUILDS: dict[str, Build] = {}


def site_build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    if "site" not in _BUILDS:
        root = tmp_path_factory.mktemp("atlas") / "site"
        out, err = io.StringIO(), io.StringIO()
        start = time.perf_counter()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(["atlas", "--out", str(root), "--no-progress"])
        seconds = time.perf_counter() - start
        _BUILDS["site"] = Build(
            root, root / "index.html", code, out.getvalue(), err.getvalue(), seconds
        )
    return _BUILDS["site"]
