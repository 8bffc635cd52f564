"""The command-line interface: `lossatlas list`, `lossatlas show NAME`, exit codes, imports."""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import lossatlas
from lossatlas import cli

ALL_NAMES = [loss.name for loss in lossatlas.catalog()]
ELEMENTWISE = [loss.name for loss in lossatlas.catalog() if loss.spec.elementwise]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def values_table(out: str) -> tuple[list[str], list[list[float]]]:
    """The header and numeric rows of the 'Values' table printed by `show`."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Values ("))
    header_at = next(i for i in range(start + 1, len(lines)) if re.search(r"\bloss\b", lines[i]))
    header = re.split(r"\s{2,}", lines[header_at].strip())
    rows = []
    for line in lines[header_at + 1 :]:
        if not line.strip():
            break
        rows.append([float(cell) for cell in line.split()])
    return header, rows


def column(header: list[str], rows: list[list[float]], x: float, name: str) -> float:
    """The entry of column ``name`` in the row whose first cell is ``x``."""
    (row,) = [r for r in rows if r[0] == x]
    return row[header.index(name)]


# ---- list ----------------------------------------------------------------------------------------
def test_list_shows_every_loss_with_header_and_count(capsys):
    code, out, err = run(capsys, "list")
    assert code == 0
    assert err == ""
    lines = out.splitlines()
    assert lines[0].split() == [
        "FAMILY", "/", "NAME", "PRED/TARGET", "CONVEX", "ROBUST", "SMOOTH", "BOUNDED", "ALIASES",
    ]  # fmt: skip
    names = [line.split()[0] for line in lines if line.startswith("  ")]
    assert names == ALL_NAMES
    families = lossatlas.families()  # from the registry: a new family is counted by itself
    assert {"regression", "classification", "multiclass", "margin"} <= set(families)
    assert [line for line in lines if line in families] == list(families)
    counts = ", ".join(f"{len(lossatlas.catalog(f))} {f}" for f in families)
    details = lines.index("Details: lossatlas show NAME")
    assert " ".join(lines[details + 1 :]) == f"{len(ALL_NAMES)} losses ({counts})."
    assert max(len(line) for line in lines) <= 120


def test_list_rows_carry_domains_properties_and_aliases(capsys):
    _, out, _ = run(capsys, "list")
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("  ")}
    assert rows["huber"][1:7] == ["real/real", "yes", "yes", "C1", "no", "huber_loss"]
    assert rows["zero_one_loss"][1:6] == ["real/sign", "no", "yes", "discontinuous", "yes"]
    assert rows["binary_cross_entropy"][1:6] == ["probability/binary", "yes", "no", "Cinf", "no"]
    assert rows["focal_loss"][1] == "logit/binary"
    assert rows["mse"][2:4] == ["yes", "no"]  # convex, not robust
    # aliases are cut to fit, with a count of those left out; spellings of one name are merged
    mse_aliases = " ".join(rows["mse"][6:])
    assert mse_aliases.startswith("l2_loss, l2")
    assert re.search(r"\+\d+ more$", mse_aliases)
    mae = lossatlas.get("mae").spec
    assert "L1Loss" in mae.aliases and "MeanAbsoluteError" in mae.aliases
    assert cli._distinct_aliases(mae) == [
        "l1_loss",
        "l1",
        "mean_absolute_error",
        "absolute_difference",
    ]


def test_list_family_filter(capsys):
    code, out, _ = run(capsys, "list", "--family", "margin")
    assert code == 0
    names = [line.split()[0] for line in out.splitlines() if line.startswith("  ")]
    assert names == [loss.name for loss in lossatlas.catalog("margin")]
    assert "hinge" in names and "huber" not in out
    assert out.splitlines()[-1].startswith(f"{len(names)} losses ({len(names)} margin)")


def test_family_choices_come_from_the_registry(capsys, monkeypatch):
    """--family offers exactly the registered families, a new one included."""
    from lossatlas import _registry

    code, out, _ = run(capsys, "list", "--family", "multiclass")
    assert code == 0 and "cross_entropy" in out and "huber" not in out
    monkeypatch.setattr(_registry, "families", lambda: ("regression", "newfamily"))
    monkeypatch.setattr(cli, "families", lambda: ("regression", "newfamily"))
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    family = next(a for a in sub.choices["list"]._actions if a.dest == "family")
    assert tuple(family.choices) == ("regression", "newfamily")


def test_list_rejects_unknown_family(capsys):
    code, out, err = run(capsys, "list", "--family", "no_such_family")
    assert code == 2
    assert out == ""
    assert "invalid choice" in err


def test_truncate_list_keeps_order_and_counts_the_rest():
    items = ["aaaa", "bb", "cccccccccccc", "d"]
    assert cli._truncate_list(items, 100) == "aaaa, bb, cccccccccccc, d"
    text = cli._truncate_list(items, 20)
    assert len(text) <= 20
    assert text == "aaaa, bb, d, +1 more"


# ---- show ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ALL_NAMES)
def test_show_every_loss(capsys, name):
    code, out, err = run(capsys, "show", name)
    assert code == 0, err
    assert err == ""
    spec = lossatlas.get(name).spec
    assert out.splitlines()[0] == f"{spec.name}  ({spec.family})"
    flat = " ".join(out.split())
    assert " ".join(spec.summary.split()) in flat
    assert spec.formula in out
    for p in spec.params:
        assert re.search(rf"^  {re.escape(p.name)}\s+\S", out, re.M), p.name
        assert p.range_text() in out
    for qualified in spec.framework_names.values():
        assert qualified in out
    for ref in spec.references:
        assert " ".join(ref.split()) in flat
    assert f"smoothness:   {spec.properties.smoothness}:" in out
    for item in spec.inputs:
        assert re.search(rf"^  {item.name}:\s+{item.domain}: ", out, re.M), item.name
    if spec.elementwise:
        assert f"pred:    {spec.pred_domain}:" in out
        assert f"target:  {spec.target_domain}:" in out
    for variant in spec.variants:
        assert " ".join(f"with {variant.describe()}:".split()) in flat
    boosting = spec.boosting
    if boosting.kind == "exact":
        diagonal = "" if spec.elementwise else " diagonal"  # a class-axis loss: multiclass
        assert f"Gradient boosting (lossatlas.gbm):\n  the exact Hessian{diagonal}\n" in out
    elif boosting.kind == "surrogate":
        header = f"Gradient boosting (lossatlas.gbm):\n  surrogate Hessian {boosting.formula}\n"
        assert header in out
        assert " ".join(boosting.reason.split()) in flat
    else:
        assert "Gradient boosting:\n" in out
        assert " ".join(f"not an objective: {boosting.reason}".split()) in flat
    if spec.elementwise or name == "cross_entropy":  # every loss with a value per sample
        header, rows = values_table(out)
        assert header[1].startswith("loss")
        assert len(rows) == 7
        assert all(math.isfinite(v) for row in rows for v in row)


@pytest.mark.parametrize(
    "alias", ["HuberLoss", "huber_loss", "HUBER", "torch.nn.HuberLoss", "optax.huber_loss"]
)
def test_show_accepts_aliases(capsys, alias):
    _, expected, _ = run(capsys, "show", "huber")
    code, out, _ = run(capsys, "show", alias)
    assert code == 0
    assert out == expected


def test_show_huber_formula_frameworks_and_values(capsys):
    code, out, _ = run(capsys, "show", "huber")
    assert code == 0
    assert r"\ell(r) = \begin{cases} \tfrac12 r^2 & |r| < \delta" in out
    assert re.search(r"^  delta\s+1\s+\(0, inf\)\s+threshold", out, re.M)
    assert re.search(r"^  PyTorch:\s+torch\.nn\.HuberLoss", out, re.M)
    assert re.search(r"^  optax:\s+optax\.huber_loss", out, re.M)
    assert "Huber, P. J. (1964)" in out
    assert "  target 0, so pred = residual r" in out
    header, rows = values_table(out)
    assert header == ["r", "loss", "grad", "hess"]
    assert [r[0] for r in rows] == [-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0]
    assert column(header, rows, 2.0, "loss") == 1.5  # delta * (|r| - delta / 2)
    assert column(header, rows, 2.0, "grad") == 1.0
    assert column(header, rows, 2.0, "hess") == 0.0
    assert column(header, rows, -2.0, "grad") == -1.0
    assert column(header, rows, 0.5, "loss") == 0.125  # r^2 / 2
    assert column(header, rows, 0.5, "hess") == 1.0


def test_show_param_override(capsys):
    code, out, _ = run(capsys, "show", "huber", "--param", "delta=2")
    assert code == 0
    assert "  with delta=2" in out
    header, rows = values_table(out)
    assert column(header, rows, 2.0, "loss") == 2.0  # 2 * (2 - 1)
    assert column(header, rows, 2.0, "grad") == 2.0
    assert column(header, rows, 1.0, "loss") == 0.5  # quadratic part now
    assert column(header, rows, 1.0, "hess") == 1.0


def test_show_param_parsing_of_bool_none_and_repeats(capsys):
    code, out, _ = run(
        capsys, "show", "focal", "--param", "alpha=none", "--param", "from_logits=False"
    )
    assert code == 0
    assert "with alpha=None, gamma=2, from_logits=False, eps=None" in out
    header, rows = values_table(out)
    assert header[0] == "p"  # from_logits=False switches the axis to probabilities
    # gamma=2, no alpha: (1 - p)^2 * -log p at p = 0.5
    assert column(header, rows, 0.5, "loss y=1") == pytest.approx(0.25 * math.log(2), abs=1e-6)

    code, out, _ = run(capsys, "show", "quantile", "--param", "q=0.9")
    assert code == 0
    header, rows = values_table(out)
    assert column(header, rows, -2.0, "loss") == pytest.approx(1.8)  # under-prediction: q
    assert column(header, rows, 2.0, "loss") == pytest.approx(0.2)  # over-prediction: 1 - q
    assert column(header, rows, 2.0, "grad") == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["huber", "--param", "beta=1"], "huber has no parameter 'beta' (its parameters: delta)"),
        (["huber", "--param", "delta=abc"], "--param delta: cannot read 'abc'"),
        (["huber", "--param", "delta"], "--param expects NAME=VALUE"),
        (["huber", "--param", "delta=-1"], "argument 'delta' expected a value in (0, inf)"),
        (["poisson_nll", "--param", "full=maybe"], "--param full: expected true or false"),
        (["mse", "--param", "delta=1"], "its parameters: none"),
    ],
)
def test_show_bad_param_is_a_usage_error(capsys, args, message):
    code, out, err = run(capsys, "show", *args)
    assert code == 2
    assert out == ""
    assert message in err


def test_show_values_of_other_axes(capsys):
    # probabilities, with the target-0 column
    _, out, _ = run(capsys, "show", "bce")
    header, rows = values_table(out)
    assert header == ["p", "loss y=1", "grad y=1", "hess y=1", "loss y=0"]
    assert [r[0] for r in rows] == [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99]
    assert column(header, rows, 0.5, "loss y=1") == pytest.approx(math.log(2), abs=1e-6)
    assert column(header, rows, 0.5, "grad y=1") == -2.0
    assert column(header, rows, 0.1, "loss y=0") == pytest.approx(-math.log(0.9), abs=1e-6)
    # logits
    _, out, _ = run(capsys, "show", "BCEWithLogitsLoss")
    header, rows = values_table(out)
    assert header[0] == "x (logit)"
    assert column(header, rows, 0.0, "grad y=1") == -0.5
    assert column(header, rows, 0.0, "hess y=1") == 0.25
    assert column(header, rows, 2.0, "loss y=0") == pytest.approx(math.log1p(math.exp(2)), 1e-5)
    # margins, target 1
    _, out, _ = run(capsys, "show", "hinge")
    header, rows = values_table(out)
    assert header == ["m = y*f", "loss", "grad", "hess"]
    assert column(header, rows, -1.0, "loss") == 2.0
    assert column(header, rows, 1.5, "loss") == 0.0
    # gaussian_nll uses var = 1: loss = r^2 / 2
    _, out, _ = run(capsys, "show", "gaussian_nll")
    assert "with var=1, full=False, eps=1e-06" in out
    header, rows = values_table(out)
    assert column(header, rows, 2.0, "loss") == 2.0
    assert column(header, rows, 2.0, "hess") == 1.0
    _, out, _ = run(capsys, "show", "gaussian_nll", "--param", "var=4")
    header, rows = values_table(out)
    assert column(header, rows, 2.0, "hess") == 0.25


def test_show_cross_entropy_along_its_probe(capsys):
    """cross entropy's table runs along the true-class logit margin m: logits (m, 0, ...),
    label 0, for 5 and for 2 classes."""
    code, out, _ = run(capsys, "show", "cross_entropy")
    assert code == 0
    assert "logits:  logit: " in out and "target:  class_index: " in out
    assert "with from_logits=False: logits is simplex" in out
    header, rows = values_table(out)
    assert header == ["m (margin)", "loss C=5", "grad C=5", "hess C=5", "loss C=2"]
    assert column(header, rows, 0.0, "loss C=5") == pytest.approx(math.log(5), abs=1e-5)
    assert column(header, rows, 0.0, "grad C=5") == pytest.approx(-0.8)
    assert column(header, rows, 0.0, "hess C=5") == pytest.approx(0.16)
    assert column(header, rows, 0.0, "loss C=2") == pytest.approx(math.log(2), abs=1e-5)
    assert column(header, rows, 4.0, "loss C=2") == pytest.approx(math.log1p(math.exp(-4)), 1e-5)


def test_show_parses_every_parameter_kind(capsys):
    """--param reads an int (ignore_index), an axis, a comma-separated array (class_weight),
    a float, a flag and none; an integer parameter refuses 1.5."""
    code, out, err = run(
        capsys,
        "show",
        "cross_entropy",
        "--param",
        "class_weight=1,2,3,4",
        "--param",
        "ignore_index=-100",
        "--param",
        "label_smoothing=0.1",
        "--param",
        "axis=-1",
    )
    assert code == 0, err
    header, rows = values_table(out)
    assert header == ["m (margin)", "loss", "grad", "hess"]  # one curve: 4 classes
    # class weight 1 on the true class 0, smoothing 0.1 over 4 classes
    lse = math.log(4)
    expected = 0.9 * lse + 0.1 / 4 * sum(w * lse for w in (1, 2, 3, 4))
    assert column(header, rows, 0.0, "loss") == pytest.approx(expected, abs=1e-5)
    code, _, err = run(capsys, "show", "cross_entropy", "--param", "ignore_index=1.5")
    assert code == 2 and "--param ignore_index: cannot read '1.5' as an integer" in err
    code, _, err = run(capsys, "show", "huber", "--param", "delta=inf")
    assert code == 2 and "argument 'delta' expected a value in (0, inf), got inf" in err


def test_show_rmse_explains_reduction_and_gives_an_example(capsys):
    code, out, _ = run(capsys, "show", "rmse")
    assert code == 0
    assert "rmse is defined over a reduction of the whole batch" in out
    assert f"= {math.sqrt(3.5):.6g}" in out  # residuals 0, 1, 2, 3
    assert "elementwise:  no" in out


def test_plot_hint_only_when_a_plot_command_exists(capsys, monkeypatch):
    _, out, _ = run(capsys, "show", "HuberLoss")
    assert out.splitlines()[-1] == "Plot: lossatlas plot huber --derivative 0|1|2 --out FILE"

    original = cli.build_parser

    def without_plot() -> argparse.ArgumentParser:
        parser = original()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        del sub.choices["plot"]
        return parser

    monkeypatch.setattr(cli, "build_parser", without_plot)
    _, out, _ = run(capsys, "show", "huber")
    assert "lossatlas plot" not in out


# ---- errors, version, help -----------------------------------------------------------------------
def test_unknown_name_suggests_close_matches(capsys):
    code, out, err = run(capsys, "show", "hubr")
    assert code == 2
    assert out == ""
    assert "no loss named 'hubr'" in err
    assert "Did you mean: huber" in err

    code, _, err = run(capsys, "show", "MSEloss2")
    assert code == 2
    assert "mse (MSELoss)" in err  # the alias that matched, and the loss it names

    code, _, err = run(capsys, "show", "xyzzy")
    assert code == 2
    assert "Did you mean" not in err
    assert "`lossatlas list` shows the catalogue" in err


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert out.strip() == f"lossatlas {lossatlas.__version__}"


def test_no_subcommand_prints_help_and_exits_2(capsys):
    code, out, err = run(capsys)
    assert code == 2
    assert out == ""
    assert err.startswith("usage: lossatlas")
    assert "list" in err and "show" in err


def test_output_is_deterministic(capsys):
    for args in (["list"], ["show", "huber"], ["show", "focal_loss"]):
        first = run(capsys, *args)
        second = run(capsys, *args)
        assert first == second
        assert first[0] == 0


# ---- processes -----------------------------------------------------------------------------------
def test_cli_does_not_import_torch_or_jax(tmp_path):
    code = (
        "import contextlib, io, json, sys\n"
        "from lossatlas.cli import main\n"
        "codes = []\n"
        "with contextlib.redirect_stdout(io.StringIO()) as buf:\n"
        "    for args in (['list'], ['show', 'huber'], ['show', 'gaussian_nll'],\n"
        "                 ['show', 'focal_loss'], ['show', 'rmse']):\n"
        "        codes.append(main(args))\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'jax', 'jaxlib'))\n"
        "print(json.dumps({'codes': codes, 'heavy': heavy, 'chars': len(buf.getvalue())}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["codes"] == [0, 0, 0, 0, 0]
    assert report["heavy"] == []
    assert report["chars"] > 1000


def _console_script() -> str:
    beside = Path(sys.executable).with_name("lossatlas")
    if beside.exists():
        return str(beside)
    found = shutil.which("lossatlas")
    assert found is not None, "the lossatlas console script is not installed"
    return found


def test_console_script_list(capsys, tmp_path):
    done = subprocess.run(
        [_console_script(), "list"], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert done.returncode == 0, done.stderr
    _, expected, _ = run(capsys, "list")
    assert done.stdout == expected


def test_python_dash_m(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "lossatlas", "show", "nope_loss"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 2
    assert "no loss named 'nope_loss'" in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "lossatlas", "--version"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"lossatlas {lossatlas.__version__}"
