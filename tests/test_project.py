"""The front door: README, CI script and packaging stay consistent with the library."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import lossatlas as la

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def quickstart_commands() -> list[str]:
    section = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)\n```", section, flags=re.S)


def test_quickstart_is_exactly_two_one_line_commands():
    commands = quickstart_commands()
    assert len(commands) == 2
    assert all("\n" not in c for c in commands)
    assert "lossatlas list" in commands[0] and "lossatlas show huber" in commands[0]
    assert "lossatlas atlas" in commands[0]
    assert commands[1].startswith("pip install torch==2.13.0 && ")
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert quickstart_commands()[1] in ci


def test_readme_names_every_registered_loss():
    catalogue = README.split("## The catalogue", 1)[1].split("\n## ", 1)[0]
    for loss in la.catalog():
        assert f"`{loss.name}`" in catalogue, loss.name


def test_import_does_not_pull_in_torch_or_jax():
    code = "import sys, lossatlas; print('torch' in sys.modules, 'jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_version_matches_pyproject():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'version = "{la.__version__}"' in pyproject


def test_readme_examples_run():
    blocks = re.findall(r"```python\n(.*?)\n```", README, flags=re.S)
    assert len(blocks) >= 3
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
