"""Pictures of losses: curves on each loss's natural axis, per-loss figures and family portraits.

Everything here reads the registry and calls the losses themselves (values, ``.grad`` and
``.hess``); nothing re-implements a formula. Output is deterministic: a fixed style (Matplotlib's
defaults plus the settings in ``_RC``, whatever the user's matplotlibrc says), a fixed SVG hash
salt and no dates or version strings in the file metadata, so the same inputs give the same
bytes. Files are PNG unless the name ends in ``.svg``.

The x axis depends on the loss (see :func:`curve`):

==============================  ===============================================================
loss                            x axis (and the targets drawn)
==============================  ===============================================================
real target (regression)        residual r = pred - target in [-3, 3], target 0
sign target (margin losses)     margin y·f in [-3, 3], y = +1
pred is a logit                 logit in [-6, 6], one curve for y = 1 and one for y = 0
pred is a probability           p in [0.001, 0.999], y = 1 and y = 0
count target (Poisson)          log-rate in [-3, 3] or rate in (0, 6], target 2
==============================  ===============================================================

Losses that are not elementwise (``rmse``) have no per-element curve: :func:`curve` and
:func:`plot_losses` refuse them, and :func:`loss_figures` draws ``rmse`` against a constant
offset instead.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

if "matplotlib.pyplot" not in sys.modules:
    # A headless backend for scripts and the site build; a session that already imported
    # pyplot keeps its backend (figures here never go through pyplot, so it does not matter).
    matplotlib.use("Agg")

import matplotlib.style
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .._loss import REQUIRED, Loss
from .._registry import catalog, get
from .._validate import LossInputError

__all__ = ["axis_label", "curve", "family_portraits", "loss_figures", "plot_losses"]

Curve = tuple[str, np.ndarray, np.ndarray]

# ---- style ------------------------------------------------------------------------------------
_COLORS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
_LINESTYLES = ("-", "--", "-.", ":")
_RC: dict[str, Any] = {
    "svg.hashsalt": "lossatlas",
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.35,
    "grid.linewidth": 0.6,
    "legend.fontsize": 8,
    "legend.framealpha": 0.85,
    "lines.linewidth": 1.6,
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
}
_SINGLE = (6.0, 4.0)  # inches, one panel
_DOUBLE = (9.6, 3.8)  # inches, two panels side by side
_SINGLE_MARGINS = {"left": 0.12, "right": 0.97, "bottom": 0.12, "top": 0.85}
_DOUBLE_MARGINS = {"left": 0.075, "right": 0.985, "bottom": 0.13, "top": 0.84, "wspace": 0.2}
_DERIVATIVE_KINDS = ("loss", "grad", "hess")
_DERIVATIVE_WORDS = ("loss", "first derivative (grad)", "second derivative (hess)")


@contextmanager
def _style() -> Iterator[None]:
    """Matplotlib's default style plus ours, independent of the user's rcParams."""
    with matplotlib.style.context("default"), matplotlib.rc_context(_RC):
        yield


# ---- axes -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Axis:
    key: str
    label: str
    x: np.ndarray
    targets: tuple[tuple[str, float], ...]  # (curve label, target value)
    wrt: str  # what the derivative is taken with respect to, for the y label
    xlim: tuple[float, float]


def _axis(key: str) -> _Axis:
    if key == "residual":
        x = np.linspace(-3.0, 3.0, 601)
        return _Axis(key, "residual r = pred - target", x, (("target = 0", 0.0),), "pred", (-3, 3))
    if key == "margin":
        x = np.linspace(-3.0, 3.0, 601)
        return _Axis(key, "margin y·f", x, (("y = +1", 1.0),), "f", (-3, 3))
    if key == "logit":
        x = np.linspace(-6.0, 6.0, 601)
        return _Axis(key, "logit", x, (("y = 1", 1.0), ("y = 0", 0.0)), "logit", (-6, 6))
    if key == "probability":
        x = np.linspace(0.001, 0.999, 999)
        return _Axis(key, "probability p", x, (("y = 1", 1.0), ("y = 0", 0.0)), "p", (0, 1))
    if key == "log-rate":
        x = np.linspace(-3.0, 3.0, 601)
        label = "log-rate pred (target = 2)"
        return _Axis(key, label, x, (("target = 2", 2.0),), "pred", (-3, 3))
    if key == "rate":
        x = np.linspace(0.01, 6.0, 600)
        return _Axis(key, "rate pred (target = 2)", x, (("target = 2", 2.0),), "pred", (0, 6))
    raise ValueError(f"unknown plot axis {key!r}")


def _resolve(loss: Loss | str) -> Loss:
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str):
        return get(loss)
    raise LossInputError("plot", "loss", "a lossatlas loss or its name", f"{type(loss).__name__}")


def _axis_key(loss: Loss, params: Mapping[str, Any]) -> str:
    domain = loss.pred_domain(**params)
    target = loss.spec.target_domain
    if domain == "probability":
        return "probability"
    if domain == "logit":
        return "logit"
    if target == "sign":
        return "margin"
    if target == "nonnegative":
        return "log-rate" if domain == "real" else "rate"
    if target == "real" and domain == "real":
        return "residual"
    raise ValueError(
        f"{loss.name}: no plot axis for pred domain {domain!r} with target domain {target!r}"
    )


def axis_label(loss: Loss | str, params: Mapping[str, Any] | None = None) -> str:
    """The x-axis label of :func:`curve` for this loss and these hyperparameters.

    One of "residual r = pred - target", "margin y·f", "logit", "probability p",
    "log-rate pred (target = 2)" or "rate pred (target = 2)" (Poisson, by ``log_input``).
    """
    loss = _resolve(loss)
    return _axis(_axis_key(loss, dict(params or {}))).label


def _check_derivative(derivative: Any) -> None:
    if isinstance(derivative, bool) or derivative not in (0, 1, 2, "boosting"):
        raise LossInputError(
            "plot",
            "derivative",
            '0 (value), 1 (grad), 2 (hess) or "boosting" (boosting_hess)',
            f"{derivative!r}",
        )


def _check_curveable(loss: Loss, derivative: int | str) -> None:
    if derivative == "boosting" and loss.spec.boosting.kind == "none":
        raise LossInputError(
            "plot",
            "loss",
            "a loss usable as a boosting objective",
            f"{loss.name}: {loss.spec.boosting.reason}",
        )
    if not loss.spec.elementwise:
        wanted = {
            0: "a per-element value",
            1: "a per-element grad",
            2: "a per-element hess",
            "boosting": "a per-element Hessian",
        }[derivative]
        raise LossInputError(
            "plot",
            "loss",
            f"an elementwise loss (one with {wanted})",
            f"{loss.name}, which is defined over a reduction only",
        )


def curve(
    loss: Loss | str, params: Mapping[str, Any] | None = None, derivative: int | str = 0
) -> list[Curve]:
    """The loss (or its derivative) on its natural x axis: a list of ``(label, x, y)``.

    Args:
        loss: a registered loss or its name.
        params: hyperparameters (defaults for the rest). ``gaussian_nll``'s ``var`` may be given
            here as a number; it defaults to 1.
        derivative: 0 for the loss, 1 for ``loss.grad``, 2 for ``loss.hess`` (with respect to
            pred: the residual, the score f, the logit or p), "boosting" for
            ``loss.boosting_hess``, the Hessian handed to gradient boosters.

    Returns:
        One triple per target drawn. Real targets: x is the residual r = pred - target in
        [-3, 3] with target 0 (label "target = 0"). Sign targets (margin losses): x is the
        margin y·f in [-3, 3] with y = +1 ("y = +1"). Logit pred: x is the logit in [-6, 6],
        curves "y = 1" and "y = 0". Probability pred: x is p in [0.001, 0.999], "y = 1" and
        "y = 0". Count targets (``poisson_nll``): x is pred itself, the log-rate in [-3, 3]
        (``log_input=True``) or the rate in (0, 6], with target 2 ("target = 2"). Non-finite
        values are NaN.

    Raises:
        LossInputError: for a derivative other than 0, 1, 2, "boosting", for "boosting" with a
            loss that cannot be boosted or a pred that is not a raw score, or for a loss that is not
            elementwise (``rmse``: its root is taken of a reduced error, so it has no
            per-element curve, not even for ``derivative=0``).
    """
    loss = _resolve(loss)
    _check_derivative(derivative)
    _check_curveable(loss, derivative)
    params = dict(params or {})
    axis = _axis(_axis_key(loss, params))
    arrays = []
    for name in loss.positional_arrays:
        default = loss.spec.param(name).default
        arrays.append(params.pop(name, 1.0 if default is REQUIRED else default))
    curves: list[Curve] = []
    for label, t in axis.targets:
        pred = axis.x.copy()
        target = np.full_like(pred, t)
        if derivative == 0:
            y = loss(pred, target, *arrays, reduction="none", **params)
        elif derivative == 1:
            y = loss.grad(pred, target, *arrays, **params)
        elif derivative == 2:
            y = loss.hess(pred, target, *arrays, **params)
        else:
            y = loss.boosting_hess(pred, target, *arrays, **params)
        y = np.asarray(y, dtype=np.float64)
        y = np.where(np.isfinite(y), y, np.nan)
        curves.append((label, axis.x.copy(), y))
    return curves


# ---- drawing helpers --------------------------------------------------------------------------
def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)


def _setting_text(setting: Mapping[str, Any], keys: Sequence[str] | None = None) -> str:
    keys = list(setting) if keys is None else keys
    return ", ".join(f"{k}={_format_value(setting[k])}" for k in keys if k in setting)


def _limits(ys: Sequence[np.ndarray], include_zero: bool = True) -> tuple[float, float]:
    """y limits that show the bulk of the curves: the full range unless a tail explodes
    (e.g. -log p near p = 0, exp(-m)), in which case that side is cut at the 5% / 95%
    quantile of all plotted values."""
    values = np.concatenate([np.asarray(y, dtype=np.float64).ravel() for y in ys])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return -1.0, 1.0
    lo, hi = np.quantile(values, [0.05, 0.95])
    full_lo, full_hi = float(values.min()), float(values.max())
    if include_zero:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    span = max(hi - lo, 1e-12)
    top = full_hi if full_hi - hi <= 2.0 * span else hi
    bottom = full_lo if lo - full_lo <= 2.0 * span else lo
    if include_zero:
        bottom, top = min(bottom, 0.0), max(top, 0.0)
    if top - bottom < 1e-9:
        return bottom - 1.0, top + 1.0
    pad = 0.06 * (top - bottom)
    return float(bottom - pad), float(top + pad)


@dataclass
class _Series:
    panel: int
    label: str
    x: np.ndarray
    y: np.ndarray


def _draw(
    series: Sequence[_Series],
    *,
    panel_titles: Sequence[str],
    xlabels: Sequence[str],
    xlims: Sequence[tuple[float, float]],
    ylabel: str,
    title: str,
    out: str | Path,
    ylim: tuple[float, float] | None = None,
    notes: Sequence[str] = (),
) -> Path:
    """One figure of one or two panels; series are styled by their order within a panel."""
    out = _output_path(out)
    n = len(panel_titles)
    with _style():
        # fixed margins rather than a layout engine: as legible here and twice as fast
        fig = Figure(figsize=_SINGLE if n == 1 else _DOUBLE, dpi=100)
        FigureCanvasAgg(fig)
        axes = fig.subplots(1, n, squeeze=False)[0]
        fig.subplots_adjust(**(_SINGLE_MARGINS if n == 1 else _DOUBLE_MARGINS))
        for i, ax in enumerate(axes):
            mine = [s for s in series if s.panel == i]
            for j, s in enumerate(mine):
                ax.plot(
                    s.x,
                    s.y,
                    color=_COLORS[j % len(_COLORS)],
                    linestyle=_LINESTYLES[j % len(_LINESTYLES)],
                    label=s.label,
                )
            ax.axhline(0.0, color="black", linewidth=0.6, alpha=0.5, zorder=0)
            ax.set_xlabel(xlabels[i])
            ax.set_ylabel(ylabel)
            if panel_titles[i]:
                ax.set_title(panel_titles[i])
            ax.set_ylim(*(ylim or _limits([s.y for s in mine])))
            ax.set_xlim(*xlims[i])
            if i < len(notes) and notes[i]:
                ax.text(
                    0.98,
                    0.97,
                    notes[i],
                    transform=ax.transAxes,
                    ha="right",
                    va="top",
                    fontsize=8,
                    bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85},
                )
            if mine:
                ax.legend(loc="best")
        fig.suptitle(title)
        _save(fig, out)
    return out


def _output_path(out: str | Path) -> Path:
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix == "":
        out = out.with_suffix(".png")
    elif suffix not in (".png", ".svg"):
        raise ValueError(f"plot output must end in .png or .svg, got {str(out)!r}")
    return out


def _save(fig: Figure, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".svg":
        fig.savefig(out, format="svg", metadata={"Date": None, "Creator": "lossatlas"})
    else:
        fig.savefig(out, format="png", metadata={"Software": "lossatlas"})


def _ylabel(derivative: int, wrt: str) -> str:
    if derivative == 0:
        return "loss ℓ"
    return f"dℓ/d{wrt}" if derivative == 1 else f"d²ℓ/d{wrt}²"


# ---- public figures ---------------------------------------------------------------------------
def _params_per_loss(
    losses: Sequence[Loss], params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
) -> list[dict[str, Any]]:
    if params is None:
        return [{} for _ in losses]
    if isinstance(params, Mapping):
        used: set[str] = set()
        per: list[dict[str, Any]] = []
        for loss in losses:
            names = {p.name for p in loss.spec.params}
            mine = {k: v for k, v in params.items() if k in names}
            used.update(mine)
            per.append(mine)
        unused = sorted(set(params) - used)
        if unused:
            raise LossInputError(
                "plot",
                "params",
                "hyperparameters of at least one of the losses",
                f"{unused}, which none of {[x.name for x in losses]} accepts",
            )
        return per
    per = [dict(p) for p in params]
    if len(per) != len(losses):
        raise LossInputError(
            "plot",
            "params",
            f"one dict, or one dict per loss ({len(losses)})",
            f"{len(per)} dicts",
        )
    return per


def plot_losses(
    losses: Sequence[Loss | str],
    *,
    params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    derivative: int = 0,
    out: str | Path,
    title: str | None = None,
) -> Path:
    """Draw several losses (or their derivatives) on one figure and write it to ``out``.

    Args:
        losses: losses or names (resolved with :func:`lossatlas.get`); they must share an x
            axis (see :func:`curve`): regression losses with regression losses, margin losses
            with margin losses, logit losses with logit losses, and so on. Losses on logits or
            probabilities get two panels, y = 1 and y = 0.
        params: one dict, whose keys go to every loss that accepts them, or one dict per loss.
        derivative: 0 (the loss), 1 (``.grad``) or 2 (``.hess``).
        out: the file to write: PNG, or SVG if the name ends in ``.svg`` (no suffix: ``.png``
            is added).
        title: the figure title (default: the loss names).

    Returns:
        The path written.

    Raises:
        LossInputError: a derivative other than 0, 1, 2; a loss that is not elementwise
            (``rmse``); losses on different x axes; params that no loss accepts or a list of
            params of the wrong length.
        ValueError: an output name that ends neither in ``.png`` nor in ``.svg``.
    """
    _check_derivative(derivative)
    if isinstance(losses, (str, Loss)):
        losses = [losses]
    resolved = [_resolve(x) for x in losses]
    if not resolved:
        raise LossInputError("plot", "losses", "at least one loss", "an empty sequence")
    for loss in resolved:
        _check_curveable(loss, derivative)
    per = _params_per_loss(resolved, params)
    keys = [_axis_key(loss, p) for loss, p in zip(resolved, per, strict=True)]
    if len(set(keys)) > 1:
        pairs = ", ".join(f"{x.name}: {k}" for x, k in zip(resolved, keys, strict=True))
        raise LossInputError(
            "plot", "losses", "losses that share one x axis", f"different axes ({pairs})"
        )
    axis = _axis(keys[0])
    series = []
    for loss, p in zip(resolved, per, strict=True):
        label = loss.name + (f" ({_setting_text(p)})" if p else "")
        for panel, (_, x, y) in enumerate(curve(loss, p, derivative)):
            series.append(_Series(panel, label, x, y))
    panel_titles = [t for t, _ in axis.targets]
    if title is None:
        title = ", ".join(x.name for x in resolved)
        if derivative:
            title += f": {_DERIVATIVE_WORDS[derivative]}"
    return _draw(
        series,
        panel_titles=panel_titles,
        xlabels=[axis.label] * len(panel_titles),
        xlims=[axis.xlim] * len(panel_titles),
        ylabel=_ylabel(derivative, axis.wrt),
        title=title,
        out=out,
    )


def loss_figures(loss: Loss | str, out_dir: str | Path) -> dict[str, Path]:
    """The figures of one loss's atlas page, written to ``out_dir``.

    Each figure draws every setting of ``loss.spec.showcase`` (or the defaults when it is
    empty) as its own curve, labelled by the hyperparameters that vary ("delta=0.5"); those
    that are the same in every setting go in the title ("alpha=None"). Losses on logits or
    probabilities get two panels (y = 1, y = 0); ``poisson_nll`` gets one panel per axis
    (log-rate for ``log_input=True``, rate for ``log_input=False``).

    Returns:
        ``{"loss": <name>-loss.png, "grad": <name>-grad.png, "hess": <name>-hess.png}`` for an
        elementwise loss, plus ``"boost": <name>-boost.png`` (``boosting_figure``) for a loss
        whose boosting Hessian is a surrogate. ``rmse`` (not elementwise) gets
        ``{"loss": <name>-loss.png}`` only: rmse against a constant offset c, both for
        ``rmse(c + e, e) = |c|`` and for a constant prediction c against a standard-normal
        sample e (``sqrt(c² + 1)``). Another non-elementwise loss without a real target gets
        ``{}``: the page should show no figure.
    """
    loss = _resolve(loss)
    out_dir = Path(out_dir)
    if not loss.spec.elementwise:
        if loss.spec.target_domain == "real":
            return {"loss": _offset_figure(loss, out_dir / f"{loss.name}-loss.png")}
        return {}
    settings = [dict(s) for s in loss.spec.showcase] or [{}]
    all_keys = list(dict.fromkeys(k for s in settings for k in s))
    varying = [k for k in all_keys if len({repr(s.get(k)) for s in settings}) > 1]
    fixed = [k for k in all_keys if k not in varying]
    # panels: one per (axis, target), in order of first appearance
    panels: list[tuple[str, str, float]] = []
    for s in settings:
        axis = _axis(_axis_key(loss, s))
        for label, t in axis.targets:
            if (axis.key, label, t) not in panels:
                panels.append((axis.key, label, t))
    suffix = f" ({_setting_text(settings[0], fixed)})" if fixed else ""
    result: dict[str, Path] = {}
    for derivative, kind in enumerate(_DERIVATIVE_KINDS):
        series = []
        for s in settings:
            key = _axis_key(loss, s)
            if varying:
                label = _setting_text(s, varying)
            else:
                label = loss.name + (" (defaults)" if loss.spec.params else "")
            for target_label, x, y in curve(loss, s, derivative):
                panel = next(
                    i for i, (k, lab, _) in enumerate(panels) if k == key and lab == target_label
                )
                series.append(_Series(panel, label, x, y))
        wrt = {_axis(k).wrt for k, _, _ in panels}
        ylabel = _ylabel(derivative, wrt.pop() if len(wrt) == 1 else "pred")
        result[kind] = _draw(
            series,
            panel_titles=[lab for _, lab, _ in panels],
            xlabels=[_axis(k).label for k, _, _ in panels],
            xlims=[_axis(k).xlim for k, _, _ in panels],
            ylabel=ylabel,
            title=f"{loss.name}{suffix}: {_DERIVATIVE_WORDS[derivative]}",
            out=out_dir / f"{loss.name}-{kind}.png",
        )
    if loss.spec.boosting.kind == "surrogate":
        result["boost"] = boosting_figure(loss, out_dir / f"{loss.name}-boost.png")
    return result


def boosting_figure(loss: Loss | str, out: str | Path) -> Path:
    """The exact second derivative (solid) and the positive Hessian handed to gradient
    boosters (dashed, ``loss.boosting_hess``) at the default hyperparameters, on the loss's
    natural axis. A loss with a ``from_logits`` flag is drawn on logits."""
    loss = _resolve(loss)
    params = {"from_logits": True} if "from_logits" in loss.spec.defaults else {}
    key = _axis_key(loss, params)
    axis = _axis(key)
    labels = [label for label, _ in axis.targets]
    series = []
    for derivative, name in ((2, "exact d²ℓ"), ("boosting", "boosting Hessian")):
        for target_label, x, y in curve(loss, params, derivative):
            series.append(_Series(labels.index(target_label), name, x, y))
    return _draw(
        series,
        panel_titles=labels,
        xlabels=[axis.label] * len(labels),
        xlims=[axis.xlim] * len(labels),
        ylabel=f"d²ℓ/d{axis.wrt}²",
        title=f"{loss.name}: the Hessian a booster gets",
        out=out,
    )


def _offset_figure(loss: Loss, out: Path) -> Path:
    """A non-elementwise real-target loss against a constant offset c (for ``rmse``)."""
    noise = np.random.default_rng(0).standard_normal(512)
    noise = (noise - noise.mean()) / noise.std()  # exactly mean 0, variance 1
    c = np.linspace(-3.0, 3.0, 241)
    shifted = np.array([float(loss(ci + noise, noise)) for ci in c])
    constant = np.array([float(loss(np.full_like(noise, ci), noise)) for ci in c])
    series = [
        _Series(0, f"{loss.name}(c + e, e): a pure offset", c, shifted),
        _Series(0, f"{loss.name}(c, e): a constant prediction", c, constant),
    ]
    return _draw(
        series,
        panel_titles=["e: 512 standard-normal targets"],
        xlabels=["offset c"],
        xlims=[(-3.0, 3.0)],
        ylabel=f"{loss.name} (reduction='mean')",
        title=f"{loss.name}: not elementwise; shown against a constant offset",
        out=out,
    )


def _regression_portrait_losses() -> list[Loss]:
    return [
        x
        for x in catalog("regression")
        if x.spec.elementwise
        and x.spec.target_domain == "real"
        and x.name not in _PORTRAIT_EXCLUDED
    ]


#: Left out of the regression portraits: mean_bias_error is a signed diagnostic, not a loss
#: (a straight line through 0), and gaussian_nll at var = 1 is mse / 2 (identical to huber
#: inside |r| < 1), so both would add a line without adding a shape.
_PORTRAIT_EXCLUDED = frozenset({"mean_bias_error", "gaussian_nll"})
_PORTRAIT_LABELS = {
    "smooth_l1": "smooth_l1 (= huber at beta = delta = 1)",
    "quantile": "quantile (q = 0.5: mae / 2)",
}


def family_portraits(out_dir: str | Path) -> dict[str, Path]:
    """Family figures that compare losses, written to ``out_dir``.

    Returns a dict from the name (without ``.png``) to the path:

    - ``regression-losses``, ``regression-gradients``: every elementwise regression loss with a
      real target at its defaults against the residual, and their gradients.
      ``mean_bias_error`` (a signed diagnostic, a straight line) and ``gaussian_nll`` (at var 1
      it is mse / 2) are left out; ``rmse`` (not elementwise) and ``poisson_nll`` (count
      target, another axis) have no place on this axis.
    - ``margin-losses``: zero_one, hinge, squared_hinge, logistic / log 2 (so it passes
      through 1 at margin 0 and bounds the 0-1 loss) and exponential against the margin y·f.
    - ``cross-entropy-vs-p``: binary_cross_entropy and focal_loss (``from_logits=False``,
      ``alpha=None``) with gamma 0.5, 2, 5 against p, one panel for y = 1 and one for y = 0.
    """
    out_dir = Path(out_dir)
    result: dict[str, Path] = {}
    residual = _axis("residual")

    regression = _regression_portrait_losses()
    for derivative, stem, ylim in (
        (0, "regression-losses", (-0.15, 4.5)),
        (1, "regression-gradients", (-3.2, 3.2)),
    ):
        series = [
            _Series(0, _PORTRAIT_LABELS.get(loss.name, loss.name), x, y)
            for loss in regression
            for _, x, y in curve(loss, None, derivative)
        ]
        result[stem] = _draw(
            series,
            panel_titles=["defaults, target = 0"],
            xlabels=[residual.label],
            xlims=[residual.xlim],
            ylabel=_ylabel(derivative, "r"),
            title="Regression losses" if derivative == 0 else "Regression losses: gradients",
            out=out_dir / f"{stem}.png",
            ylim=ylim,
        )

    margin = _axis("margin")
    series = []
    for name, scale, label in (
        ("zero_one_loss", 1.0, "zero_one_loss"),
        ("hinge", 1.0, "hinge"),
        ("squared_hinge", 1.0, "squared_hinge"),
        ("logistic_loss", 1.0 / math.log(2.0), "logistic_loss / log 2"),
        ("exponential_loss", 1.0, "exponential_loss"),
    ):
        for _, x, y in curve(name):
            series.append(_Series(0, label, x, scale * y))
    result["margin-losses"] = _draw(
        series,
        panel_titles=["y = +1"],
        xlabels=[margin.label],
        xlims=[margin.xlim],
        ylabel="loss ℓ",
        title="Margin losses",
        out=out_dir / "margin-losses.png",
        ylim=(-0.15, 4.0),
        notes=[
            "the convex losses lie above the 0-1 loss:\neach upper-bounds the classification error"
        ],
    )

    prob = _axis("probability")
    series = []
    for name, p, label in (
        ("binary_cross_entropy", {}, "binary_cross_entropy"),
        *(
            (
                "focal_loss",
                {"from_logits": False, "alpha": None, "gamma": g},
                f"focal_loss, gamma={g:g}",
            )
            for g in (0.5, 2.0, 5.0)
        ),
    ):
        for panel, (_, x, y) in enumerate(curve(name, p)):
            series.append(_Series(panel, label, x, y))
    result["cross-entropy-vs-p"] = _draw(
        series,
        panel_titles=[t for t, _ in prob.targets],
        xlabels=[prob.label] * len(prob.targets),
        xlims=[prob.xlim] * len(prob.targets),
        ylabel="loss ℓ",
        title="Cross entropy and focal loss (alpha=None) on probabilities",
        out=out_dir / "cross-entropy-vs-p.png",
        ylim=(-0.15, 5.0),
    )
    return result
