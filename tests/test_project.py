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
    assert all(c.startswith("pip install torch==2.13.0 && ") for c in commands)
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


# ---- layers: data flows one way ----------------------------------------------------------------
SRC = ROOT / "src" / "lossatlas"
ADAPTERS = ("torch", "atlas", "gbm", "cli")  # what sits above the core


def _imports(path: Path) -> set[str]:
    """Every module a file imports (relative imports resolved against lossatlas)."""
    import ast

    tree = ast.parse(path.read_text())
    package = ".".join(("lossatlas", *path.relative_to(SRC).parent.parts))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
                out.update(f"{module}.{alias.name}" for alias in node.names)
                out.add(module)
            else:
                out.add(node.module or "")
    return out


def test_the_core_imports_no_adapter():
    """The core (the underscore modules and the loss families) never imports lossatlas.torch,
    the atlas, gbm or the CLI, not even inside a function: fast paths register themselves
    with ``_backends``, which loads a provider by the name of the arrays' library."""
    core = [p for p in SRC.glob("*.py") if p.stem not in ("gbm", "cli", "__main__")]
    for path in core:
        for module in _imports(path):
            parts = module.split(".")
            if parts[0] == "lossatlas" and len(parts) > 1:
                assert parts[1] not in ADAPTERS, f"{path.name} imports {module}"


def test_import_is_light():
    """``import lossatlas`` loads neither torch, JAX, matplotlib nor the boosting module
    (``lossatlas.gbm`` loads on first use); the time it takes is measured in
    benchmarks/bench_import.py."""
    code = (
        "import sys, lossatlas\n"
        "heavy = [m for m in ('torch', 'jax', 'matplotlib', 'lossatlas.gbm', 'lossatlas.torch')"
        " if m in sys.modules]\n"
        "from lossatlas import gbm\n"
        "print(heavy, callable(gbm.xgboost_objective), lossatlas.gbm is gbm)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[]", "True", "True"]


def test_readme_edges_table_names_tests():
    """Every row of "Correct at the edges" points at the test that checks it."""
    table = README.split("## Correct at the edges", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) > 10
    tests = {p.stem for p in (ROOT / "tests").glob("test_*.py")}
    for row in rows[1:]:
        named = re.findall(r"`(test_\w+)`", row)
        assert named, row
        for name in named:
            assert name in tests or any(
                f"def {name}(" in p.read_text() for p in (ROOT / "tests").glob("test_*.py")
            ), name
