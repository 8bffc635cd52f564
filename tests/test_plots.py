"""The atlas plotting layer: curves agree with the losses, every loss gets valid figures."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import matplotlib.image

import lossatlas
from lossatlas import LossInputError
from lossatlas.atlas import plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def at(curve: tuple[str, np.ndarray, np.ndarray], x0: float) -> float:
    """The curve's y at x0 (a grid point), read off the grid."""
    _, x, y = curve
    i = int(np.argmin(np.abs(x - x0)))
    assert abs(x[i] - x0) < 1e-9, f"{x0} is not on the grid"
    return float(y[i])


def check_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, path
    assert data[12:16] == b"IHDR", path
    width, height = struct.unpack(">II", data[16:24])
    assert width > 0 and height > 0, path
    pixels = matplotlib.image.imread(path)
    assert pixels.std() > 0, f"{path} is blank"


# ---- curves ---------------------------------------------------------------------------------
def test_curve_values_match_direct_calls() -> None:
    [c] = plots.curve("huber", {"delta": 1.0})
    assert at(c, 2.0) == pytest.approx(1.5)
    assert at(plots.curve("huber", {"delta": 1.0}, derivative=1)[0], 2.0) == pytest.approx(1.0)
    assert at(plots.curve("huber", {"delta": 1.0}, derivative=2)[0], 0.5) == pytest.approx(1.0)
    assert at(plots.curve("hinge")[0], 0.5) == pytest.approx(0.5)
    assert at(plots.curve("mse", None, 1)[0], -1.5) == pytest.approx(-3.0)
    assert at(plots.curve("quantile", {"q": 0.9})[0], -1.0) == pytest.approx(0.9)
    assert at(plots.curve("gaussian_nll", {"var": 4.0})[0], 2.0) == pytest.approx(
        0.5 * (math.log(4.0) + 1.0)
    )


def test_curve_axes_and_labels() -> None:
    label, x, y = plots.curve("mse")[0]
    assert (x.min(), x.max()) == (-3.0, 3.0) and label == "target = 0"
    np.testing.assert_allclose(y, x**2)
    assert plots.axis_label("mse") == "residual r = pred - target"
    assert plots.axis_label("hinge") == "margin y·f"
    assert plots.axis_label("binary_cross_entropy_with_logits") == "logit"
    assert plots.axis_label("binary_cross_entropy") == "probability p"
    assert plots.axis_label("focal_loss", {"from_logits": False}) == "probability p"

    ones, zeros = plots.curve("binary_cross_entropy_with_logits")
    assert (ones[0], zeros[0]) == ("y = 1", "y = 0")
    assert (ones[1].min(), ones[1].max()) == (-6.0, 6.0)
    assert at(ones, 0.0) == pytest.approx(math.log(2.0))
    assert at(zeros, 2.0) == pytest.approx(math.log1p(math.exp(2.0)))

    ones, zeros = plots.curve("binary_cross_entropy")
    assert 0.0 < ones[1].min() and ones[1].max() < 1.0
    assert at(ones, 0.5) == pytest.approx(math.log(2.0))
    assert at(zeros, 0.9) == pytest.approx(-math.log(0.1))

    # Poisson: pred on its own axis with target 2
    [(_, x, y)] = plots.curve("poisson_nll")
    np.testing.assert_allclose(y, np.exp(x) - 2.0 * x)
    [(_, x, y)] = plots.curve("poisson_nll", {"log_input": False})
    assert x.min() > 0 and x.max() == 6.0
    assert plots.axis_label("poisson_nll", {"log_input": False}).startswith("rate")


def test_every_elementwise_loss_has_finite_curves() -> None:
    for loss in lossatlas.catalog():
        if not loss.spec.elementwise:
            continue
        for setting in loss.spec.showcase or ({},):
            for derivative in (0, 1, 2):
                curves = plots.curve(loss, setting, derivative)
                assert curves
                for _, x, y in curves:
                    assert x.shape == y.shape and np.isfinite(y).all(), (loss.name, setting)


# ---- figures --------------------------------------------------------------------------------
def test_loss_figures_for_every_registered_loss(tmp_path: Path) -> None:
    for loss in lossatlas.catalog():
        files = plots.loss_figures(loss, tmp_path)
        probe = loss.probe(**({"var": 1.0} if loss.name == "gaussian_nll" else {}))
        expected = ("loss", "grad", "hess") if probe.has_derivatives else ("loss",)
        if loss.spec.boosting.kind == "surrogate":
            expected += ("boost",)
        assert tuple(files) == expected, loss.name
        for kind, path in files.items():
            assert path == tmp_path / f"{loss.name}-{kind}.png"
            check_png(path)


def test_family_portraits(tmp_path: Path) -> None:
    files = plots.family_portraits(tmp_path / "family")
    names = {
        "regression-losses",
        "regression-gradients",
        "margin-losses",
        "cross-entropy-vs-p",
    }
    assert set(files) == names
    for name, path in files.items():
        assert path == tmp_path / "family" / f"{name}.png"
        check_png(path)


def test_plot_losses_png_and_names(tmp_path: Path) -> None:
    path = plots.plot_losses(
        ["huber", lossatlas.mse, "L1Loss"], params={"delta": 2.0}, out=tmp_path / "a.png"
    )
    assert path == tmp_path / "a.png"
    check_png(path)
    out = plots.plot_losses(
        ["focal_loss", "binary_cross_entropy_with_logits"],
        params=[{"gamma": 1.0}, {}],
        derivative=2,
        out=tmp_path / "b",
    )
    assert out.suffix == ".png"
    check_png(out)


def test_svg_is_deterministic(tmp_path: Path) -> None:
    a = plots.plot_losses(["hinge", "logistic_loss"], out=tmp_path / "a.svg", title="t")
    b = plots.plot_losses(["hinge", "logistic_loss"], out=tmp_path / "b.svg", title="t")
    data = a.read_bytes()
    assert data.startswith(b"<?xml") and b"<svg" in data
    assert data == b.read_bytes()


# ---- errors ---------------------------------------------------------------------------------
@pytest.mark.parametrize("derivative", [3, -1, 1.5, True])
def test_bad_derivative(tmp_path: Path, derivative: object) -> None:
    with pytest.raises(LossInputError) as info:
        plots.plot_losses(["mse"], derivative=derivative, out=tmp_path / "x.png")
    assert (info.value.function, info.value.argument) == ("plot", "derivative")
    with pytest.raises(LossInputError):
        plots.curve("mse", derivative=derivative)


@pytest.mark.parametrize("derivative", [1, 2])
def test_derivatives_of_a_loss_over_a_reduction_are_refused(tmp_path: Path, derivative) -> None:
    with pytest.raises(LossInputError) as info:
        plots.plot_losses(["mse", "rmse"], derivative=derivative, out=tmp_path / "x.png")
    assert (info.value.function, info.value.argument) == ("plot", "loss")
    with pytest.raises(LossInputError, match="defined over a reduction"):
        plots.curve("rmse", derivative=derivative)


def test_a_loss_over_a_reduction_is_drawn_along_its_probe(tmp_path: Path) -> None:
    """rmse along a constant offset c of a batch of standard-normal targets: |c| for a pure
    offset, sqrt(c^2 + 1) for a constant prediction; it shares no axis with mse."""
    shifted, constant = plots.curve("rmse")
    assert at(shifted, 2.0) == pytest.approx(2.0) and at(constant, 2.0) == pytest.approx(5**0.5)
    with pytest.raises(LossInputError, match="share one x axis"):
        plots.plot_losses(["mse", "rmse"], out=tmp_path / "x.png")


def test_cross_entropy_curves_along_the_true_class_margin() -> None:
    five, two = plots.curve("cross_entropy")
    assert (five[0], two[0]) == ("C = 5 classes", "C = 2 classes")
    assert at(five, 0.0) == pytest.approx(math.log(5))
    assert at(two, 1.0) == pytest.approx(math.log1p(math.exp(-1.0)))  # C = 2: the logistic loss
    grad = plots.curve("cross_entropy", derivative=1)[0]
    assert at(grad, 0.0) == pytest.approx(0.2 - 1.0)  # p_y - 1
    assert plots.axis_label("cross_entropy").startswith("true-class logit margin")


def test_mixed_axes_and_bad_params(tmp_path: Path) -> None:
    with pytest.raises(LossInputError) as info:
        plots.plot_losses(["huber", "hinge"], out=tmp_path / "x.png")
    assert (info.value.function, info.value.argument) == ("plot", "losses")
    with pytest.raises(LossInputError, match="losses"):
        plots.plot_losses(["binary_cross_entropy", "focal_loss"], out=tmp_path / "x.png")
    with pytest.raises(LossInputError, match="params"):
        plots.plot_losses(["huber", "mse"], params={"dleta": 1.0}, out=tmp_path / "x.png")
    with pytest.raises(LossInputError, match="params"):
        plots.plot_losses(["huber", "mse"], params=[{}], out=tmp_path / "x.png")
    with pytest.raises(LossInputError, match="losses"):
        plots.plot_losses([], out=tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"\.png or \.svg"):
        plots.plot_losses(["mse"], out=tmp_path / "x.pdf")
    with pytest.raises(KeyError):
        plots.plot_losses(["no_such_loss"], out=tmp_path / "x.png")
    assert not list(tmp_path.iterdir())


def test_showcase_names_real_params() -> None:
    for loss in lossatlas.catalog():
        names = {p.name for p in loss.spec.params}
        for setting in loss.spec.showcase:
            assert set(setting) <= names, loss.name
    assert lossatlas.get("huber").spec.showcase == (
        {"delta": 0.5},
        {"delta": 1.0},
        {"delta": 2.0},
    )


def test_import_is_light() -> None:
    import subprocess
    import sys

    code = "import sys, lossatlas.atlas; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
