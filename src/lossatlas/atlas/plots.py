"""Pictures of losses: curves on each loss's natural axis, per-loss figures and family portraits.

Everything here reads the registry and calls the losses themselves (values, ``.grad`` and
``.hess``); nothing re-implements a formula. Output is deterministic: a fixed style (Matplotlib's
defaults plus the settings in ``_RC``, whatever the user's matplotlibrc says), a fixed SVG hash
salt and no dates or version strings in the file metadata, so the same inputs give the same
bytes. Files are PNG unless the name ends in ``.svg``.

The x axis is the loss's probe (``loss.probe(**params)``, declared in its spec or derived
from its domains; see :func:`curve`):

==============================  ===============================================================
loss                            x axis (and the curves drawn)
==============================  ===============================================================
real target (regression)        residual r = pred - target in [-3, 3], target 0
sign target (margin losses)     margin y·f in [-3, 3], y = +1
pred is a logit                 logit in [-6, 6], one curve for y = 1 and one for y = 0
pred is a probability           p in [0.001, 0.999], y = 1 and y = 0
count target (Poisson)          log-rate in [-3, 3] or rate in (0, 6], target 2
cross entropy                   true-class logit margin in [-6, 6], C = 5 and C = 2 classes
defined over a reduction        a constant offset c of a batch of 512 targets (rmse)
==============================  ===============================================================

A loss defined over a reduction (``rmse``) has values along its probe but no derivatives:
:func:`curve` and :func:`plot_losses` refuse its grad and hess.
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

from .._loss import Loss
from .._probes import along
from .._registry import catalog, get
from .._validate import LossInputError

__all__ = [
    "axis_label",
    "curve",
    "family_portraits",
    "has_derivatives",
    "loss_figures",
    "plot_losses",
]

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


# ---- probes -----------------------------------------------------------------------------------
def _resolve(loss: Loss | str) -> Loss:
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str):
        return get(loss)
    raise LossInputError("plot", "loss", "a lossatlas loss or its name", f"{type(loss).__name__}")


def axis_label(loss: Loss | str, params: Mapping[str, Any] | None = None) -> str:
    """The x-axis label of :func:`curve` for this loss and these hyperparameters: the label of
    its probe ("residual r = pred - target", "margin y·f", "logit", "probability p",
    "log-rate pred (target = 2)", "rate pred (target = 2)", "true-class logit margin ...")."""
    return _resolve(loss).probe(**dict(params or {})).label


def _check_derivative(derivative: Any) -> None:
    if isinstance(derivative, bool) or derivative not in (0, 1, 2, "boosting"):
        raise LossInputError(
            "plot",
            "derivative",
            '0 (value), 1 (grad), 2 (hess) or "boosting" (boosting_hess)',
            f"{derivative!r}",
        )


def has_derivatives(loss: Loss | str, params: Mapping[str, Any] | None = None) -> bool:
    """Whether the loss has a gradient and a Hessian along its probe (a loss defined over a
    reduction of the whole batch, rmse, has values only)."""
    loss = _resolve(loss)
    return loss.probe(**loss.spec.drawn(params or {})).has_derivatives


def _check_curveable(loss: Loss, derivative: int | str, params: Mapping[str, Any]) -> None:
    if derivative == "boosting" and loss.spec.boosting.kind == "none":
        raise LossInputError(
            "plot",
            "loss",
            "a loss usable as a boosting objective",
            f"{loss.name}: {loss.spec.boosting.reason}",
        )
    if derivative != 0 and not loss.probe(**params).has_derivatives:
        wanted = {1: "a grad", 2: "a hess", "boosting": "a Hessian"}[derivative]
        raise LossInputError(
            "plot",
            "loss",
            f"a loss with {wanted} along its probe",
            f"{loss.name}, which is defined over a reduction only",
        )


def curve(
    loss: Loss | str, params: Mapping[str, Any] | None = None, derivative: int | str = 0
) -> list[Curve]:
    """The loss (or its derivative) along its probe: a list of ``(label, x, y)``.

    Args:
        loss: a registered loss or its name.
        params: hyperparameters (defaults for the rest). ``gaussian_nll``'s ``var`` may be given
            here as a number; it defaults to 1.
        derivative: 0 for the loss, 1 and 2 for its first and second derivative along the
            probe (from ``loss.grad`` and ``loss.hess``: with respect to pred, the residual,
            the score f, the logit or p; the true-class logit for cross entropy), "boosting"
            for ``loss.boosting_hess``, the Hessian handed to gradient boosters.

    Returns:
        One triple per curve of the probe (``loss.probe(**params)``), x over its grid. Real
        targets: x is the residual r = pred - target in [-3, 3] with target 0 (label "target =
        0"). Sign targets (margin losses): x is the margin y·f in [-3, 3] with y = +1. Logit
        pred: the logit in [-6, 6], curves "y = 1" and "y = 0". Probability pred: p in
        [0.001, 0.999], "y = 1" and "y = 0". Counts (``poisson_nll``): the log-rate in [-3, 3]
        or the rate in (0, 6], target 2. Cross entropy: the true-class logit margin in
        [-6, 6], one curve per number of classes. ``rmse``: a constant offset c of a batch.
        Non-finite values are NaN.

    Raises:
        LossInputError: for a derivative other than 0, 1, 2, "boosting", for "boosting" with a
            loss that cannot be boosted or a pred that is not a raw score, or for a derivative
            of a loss defined over a reduction only (``rmse``).
    """
    loss = _resolve(loss)
    _check_derivative(derivative)
    params = loss.spec.drawn(params or {})  # a required array parameter (var) is drawn at 1
    _check_curveable(loss, derivative, params)
    probe = loss.probe(**params)
    x = probe.grid()
    curves: list[Curve] = []
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for c in probe.curves:
            y = along(loss, c, x, params, derivative, batch=probe.batch)
            curves.append((c.label, x.copy(), np.where(np.isfinite(y), y, np.nan)))
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
        losses: losses or names (resolved with :func:`lossatlas.get`); they must share a
            probe (see :func:`curve`): regression losses with regression losses, margin losses
            with margin losses, logit losses with logit losses, and so on. Losses on logits or
            probabilities get two panels, y = 1 and y = 0.
        params: one dict, whose keys go to every loss that accepts them, or one dict per loss.
        derivative: 0 (the loss), 1 (``.grad``) or 2 (``.hess``) along the probe.
        out: the file to write: PNG, or SVG if the name ends in ``.svg`` (no suffix: ``.png``
            is added).
        title: the figure title (default: the loss names).

    Returns:
        The path written.

    Raises:
        LossInputError: a derivative other than 0, 1, 2; a derivative of a loss defined over
            a reduction only (``rmse``); losses on different probes; params that no loss
            accepts or a list of params of the wrong length.
        ValueError: an output name that ends neither in ``.png`` nor in ``.svg``.
    """
    _check_derivative(derivative)
    if isinstance(losses, (str, Loss)):
        losses = [losses]
    resolved = [_resolve(x) for x in losses]
    if not resolved:
        raise LossInputError("plot", "losses", "at least one loss", "an empty sequence")
    per = _params_per_loss(resolved, params)
    for loss, p in zip(resolved, per, strict=True):
        _check_curveable(loss, derivative, loss.spec.drawn(p))
    probes = [loss.probe(**loss.spec.drawn(p)) for loss, p in zip(resolved, per, strict=True)]
    keys = [probe.key for probe in probes]
    if len(set(keys)) > 1:
        pairs = ", ".join(f"{x.name}: {k}" for x, k in zip(resolved, keys, strict=True))
        raise LossInputError(
            "plot", "losses", "losses that share one x axis", f"different axes ({pairs})"
        )
    probe = probes[0]
    labels = [c.label for c in probe.curves]
    series = []
    for loss, p in zip(resolved, per, strict=True):
        label = loss.name + (f" ({_setting_text(p)})" if p else "")
        for curve_label, x, y in curve(loss, p, derivative):
            panel = labels.index(curve_label) if curve_label in labels else 0
            series.append(_Series(panel, label, x, y))
    if title is None:
        title = ", ".join(x.name for x in resolved)
        if derivative:
            title += f": {_DERIVATIVE_WORDS[derivative]}"
    return _draw(
        series,
        panel_titles=labels,
        xlabels=[probe.label] * len(labels),
        xlims=[probe.xlim] * len(labels),
        ylabel=_ylabel(derivative, probe.wrt),
        title=title,
        out=out,
    )


def loss_figures(loss: Loss | str, out_dir: str | Path) -> dict[str, Path]:
    """The figures of one loss's atlas page, written to ``out_dir``, drawn along its probe.

    Each figure draws every setting of ``loss.spec.showcase`` (or the defaults when it is
    empty) as its own curve, labelled by the hyperparameters that vary ("delta=0.5"); those
    that are the same in every setting go in the title ("alpha=None"). A probe of several
    curves (y = 1 and y = 0 for logits and probabilities; the numbers of classes for cross
    entropy) gets one panel per curve; ``poisson_nll`` gets one panel per probe (log-rate for
    ``log_input=True``, rate for ``log_input=False``).

    Returns:
        ``{"loss": <name>-loss.png, "grad": <name>-grad.png, "hess": <name>-hess.png}``, plus
        ``"boost": <name>-boost.png`` (``boosting_figure``) for a loss whose boosting Hessian
        is a surrogate. A loss defined over a reduction (``rmse``) gets ``{"loss": ...}``
        only: its value against a constant offset c of a batch, for ``rmse(c + e, e) = |c|``
        and for a constant prediction c against standard-normal targets e
        (``sqrt(c² + 1)``).
    """
    loss = _resolve(loss)
    out_dir = Path(out_dir)
    settings = [loss.spec.drawn(s) for s in loss.spec.showcase] or [loss.spec.drawn({})]
    shown = [dict(s) for s in loss.spec.showcase] or [{}]
    all_keys = list(dict.fromkeys(k for s in shown for k in s))
    varying = [k for k in all_keys if len({repr(s.get(k)) for s in shown}) > 1]
    fixed = [k for k in all_keys if k not in varying]
    probes = [loss.probe(**s) for s in settings]
    # panels: one per (probe, curve), in order of first appearance
    panels: list[tuple[str, str]] = []
    by_key = {}
    for probe in probes:
        by_key.setdefault(probe.key, probe)
        for c in probe.curves:
            if (probe.key, c.label) not in panels:
                panels.append((probe.key, c.label))
    suffix = f" ({_setting_text(shown[0], fixed)})" if fixed else ""
    kinds = _DERIVATIVE_KINDS if probes[0].has_derivatives else _DERIVATIVE_KINDS[:1]
    result: dict[str, Path] = {}
    for derivative, kind in enumerate(kinds):
        series = []
        for s, probe in zip(settings, probes, strict=True):
            if varying:
                label = _setting_text(s, varying)
            else:
                label = loss.name + (" (defaults)" if loss.spec.params else "")
            for curve_label, x, y in curve(loss, s, derivative):
                panel = panels.index((probe.key, curve_label))
                series.append(_Series(panel, label, x, y))
        wrt = {by_key[k].wrt for k, _ in panels}
        ylabel = _ylabel(derivative, wrt.pop() if len(wrt) == 1 else "pred")
        if probes[0].batch is not None:
            ylabel = f"{loss.name} (reduction='mean')"
        result[kind] = _draw(
            series,
            panel_titles=[lab for _, lab in panels],
            xlabels=[by_key[k].label for k, _ in panels],
            xlims=[by_key[k].xlim for k, _ in panels],
            ylabel=ylabel,
            title=f"{loss.name}{suffix}: {_DERIVATIVE_WORDS[derivative]}",
            out=out_dir / f"{loss.name}-{kind}.png",
        )
    if loss.spec.boosting.kind == "surrogate":
        result["boost"] = boosting_figure(loss, out_dir / f"{loss.name}-boost.png")
    return result


def boosting_figure(loss: Loss | str, out: str | Path) -> Path:
    """The exact second derivative (solid) and the positive Hessian handed to gradient
    boosters (dashed, ``loss.boosting_hess``) at the default hyperparameters, along the
    loss's probe. A loss with a ``from_logits`` flag is drawn on logits, one with a
    ``log_input`` flag on the log link (a booster's raw score)."""
    loss = _resolve(loss)
    params = {flag: True for flag in ("from_logits", "log_input") if flag in loss.spec.defaults}
    probe = loss.probe(**params)
    labels = [c.label for c in probe.curves]
    series = []
    for derivative, name in ((2, "exact d²ℓ"), ("boosting", "boosting Hessian")):
        for curve_label, x, y in curve(loss, params, derivative):
            series.append(_Series(labels.index(curve_label), name, x, y))
    return _draw(
        series,
        panel_titles=labels,
        xlabels=[probe.label] * len(labels),
        xlims=[probe.xlim] * len(labels),
        ylabel=f"d²ℓ/d{probe.wrt}²",
        title=f"{loss.name}: the Hessian a booster gets",
        out=out,
    )


def _regression_portrait_losses() -> list[Loss]:
    return [
        x
        for x in catalog("regression")
        if x.spec.elementwise
        and x.probe(**x.spec.drawn({})).key == "residual"
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
    residual = get("mse").probe()

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

    margin = get("hinge").probe()
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

    prob = get("binary_cross_entropy").probe()
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
        panel_titles=[c.label for c in prob.curves],
        xlabels=[prob.label] * len(prob.curves),
        xlims=[prob.xlim] * len(prob.curves),
        ylabel="loss ℓ",
        title="Cross entropy and focal loss (alpha=None) on probabilities",
        out=out_dir / "cross-entropy-vs-p.png",
        ylim=(-0.15, 5.0),
    )
    return result
