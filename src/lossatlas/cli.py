"""Command-line interface: ``lossatlas list``, ``show NAME``, ``plot``, ``study`` and ``atlas``.

Everything printed comes from the registry (``catalog()`` / ``get()``) and the loss specs; the
tables of values are computed by calling the loss objects on NumPy arrays. Only the standard
library and NumPy are imported up front, so the CLI starts without PyTorch, JAX or Matplotlib;
``plot``, ``study`` and ``atlas`` import the atlas (Matplotlib, tqdm, latex2mathml) when they run.
"""

from __future__ import annotations

import argparse
import difflib
import inspect
import math
import os
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from ._domains import DOMAINS
from ._loss import Loss
from ._probes import along
from ._registry import catalog, families, get
from ._spec import SMOOTHNESS, LossSpec, Param
from ._validate import LossInputError

PROG = "lossatlas"
MAX_WIDTH = 120  # the `list` table stays within this many characters per line
TEXT_WIDTH = 100  # prose in `show` is wrapped at this width
FRAMEWORKS = {
    "pytorch": "PyTorch",
    "keras": "Keras",
    "tensorflow": "TensorFlow",
    "paddle": "PaddlePaddle",
    "optax": "optax",
    "jax": "JAX",
    "sklearn": "scikit-learn",
    "xgboost": "XGBoost",
    "lightgbm": "LightGBM",
}


class UsageError(Exception):
    """A bad command line that argparse cannot see (an unknown loss, a bad --param)."""


# ---- small helpers ---------------------------------------------------------------------------
def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _num(value: float) -> str:
    """A number for the tables: 6 significant digits, no negative zero."""
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return format(value + 0.0, ".6g")


def _param_value(value: Any) -> str:
    if value is inspect.Parameter.empty:
        return "required"
    if isinstance(value, float):
        return _num(value)
    return repr(value)


def _wrap(text: str, indent: str = "  ") -> list[str]:
    return textwrap.wrap(
        text, width=TEXT_WIDTH, initial_indent=indent, subsequent_indent=indent
    ) or [indent.rstrip()]


def _distinct_aliases(spec: LossSpec) -> list[str]:
    """Aliases in spec order, dropping spellings of a name already shown (L1Loss ~ l1_loss)."""
    seen = {_fold(spec.name)}
    out = []
    for alias in spec.aliases:
        key = _fold(alias)
        if key not in seen:
            seen.add(key)
            out.append(alias)
    return out


def _fold(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _truncate_list(items: Sequence[str], width: int) -> str:
    """Items joined by ', ' within ``width`` characters: in order, skipping any that do not
    fit, and ending in '+N more' for those left out."""
    full = ", ".join(items)
    if len(full) <= width:
        return full
    kept: list[str] = []
    for item in items:
        rest = len(items) - len(kept) - 1  # left out if this one is kept and we stop here
        if len(", ".join([*kept, item, *([f"+{rest} more"] if rest else [])])) <= width:
            kept.append(item)
    left = len(items) - len(kept)
    return ", ".join([*kept, f"+{left} more"] if left else kept)


def _table(
    header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool], indent: str = ""
) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right, strict=True)
        ]
        return (indent + "  ".join(parts)).rstrip()

    return [line(header), *(line(row) for row in rows)]


# ---- list ------------------------------------------------------------------------------------
#: shorter names of the longest domains in the catalogue table (the legend says them in full)
SHORT_DOMAINS = {
    "class_index": "index",
    "log_probability": "logprob",
    "log_simplex": "logprobs",
    "label_sequence": "labels",
    "nonnegative": "nonneg",
}


def _short(domain: str) -> str:
    return SHORT_DOMAINS.get(domain, domain)


def _list_lines(family: str | None) -> list[str]:
    """The catalogue as one aligned table, grouped under a line per family."""
    losses = catalog(family)
    header = ["FAMILY / NAME", "PRED/TARGET", "CONVEX", "ROBUST", "SMOOTH", "BOUNDED"]
    rows = []
    for loss in losses:
        spec, props = loss.spec, loss.spec.properties
        rows.append(
            [
                "  " + spec.name,
                f"{_short(spec.pred_domain)}/{_short(spec.target_domain)}",
                _yes(props.convex),
                _yes(props.robust),
                props.smoothness,
                _yes(props.bounded),
            ]
        )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    budget = max(MAX_WIDTH - sum(widths) - 2 * len(widths), 12)
    header.append("ALIASES")
    for row, loss in zip(rows, losses, strict=True):
        row.append(_truncate_list(_distinct_aliases(loss.spec), budget))
    table = _table(header, rows, [False] * len(header))
    lines = [table[0]]
    current = None
    for loss, line in zip(losses, table[1:], strict=True):
        if loss.spec.family != current:
            current = loss.spec.family
            lines.append(current)
        lines.append(line)
    counts = {f: sum(x.spec.family == f for x in losses) for f in families()}
    detail = ", ".join(f"{n} {f}" for f, n in counts.items() if n)
    noun = "loss" if len(losses) == 1 else "losses"
    lines.append("")
    shown = {d for loss in losses for d in (loss.spec.pred_domain, loss.spec.target_domain)}
    legend = ", ".join(f"{v} = {k}" for k, v in SHORT_DOMAINS.items() if k in shown)
    if legend:
        lines += textwrap.wrap(f"Domains: {legend}.", MAX_WIDTH)
    lines.append(f"Details: {PROG} show NAME")
    # the count last (a family grows it), wrapped to the table's width
    return lines + textwrap.wrap(f"{len(losses)} {noun} ({detail}).", MAX_WIDTH)


# ---- show: the table of values ---------------------------------------------------------------
def _values_lines(loss: Loss, params: dict[str, Any]) -> list[str]:
    """The loss along its probe: loss, grad and hess on the first curve, the loss on the
    others; for a loss defined over a reduction, its value per batch and an example."""
    shown = ", ".join(f"{k}={_param_value(v)}" for k, v in params.items())
    probe = loss.probe(**params)
    t = np.array(probe.table, dtype=np.float64)
    first, *others = probe.curves
    if probe.batch is not None:
        example = []
        if all(i.shape == "*s" for i in loss.spec.inputs_for(params)):  # not images (lovasz)
            pred = np.array([1.0, 2.0, 3.0, 4.0])
            target = np.ones_like(pred)
            value = float(loss(pred, target, reduction="mean", **params))
            call = ", ".join(
                ["pred=[1, 2, 3, 4]", "target=[1, 1, 1, 1]", *([shown] if shown else [])]
            )
            example = [f"  example: {loss.name}({call}) = {_num(value)}"]
        columns = [along(loss, c, t, params, batch=probe.batch) for c in probe.curves]
        header = [probe.column, *(f"loss {c.short}" for c in probe.curves)]
        rows = [[_num(v) for v in (ti, *(float(c[i]) for c in columns))] for i, ti in enumerate(t)]
        return [
            "Values:",
            *_wrap(
                f"{loss.name} is defined over a reduction of the whole batch, not per "
                "element: it has no per-element values, grad or hess."
            ),
            *example,
            f"  along the probe: {probe.caption}",
            *_table(header, rows, [True] * len(header), indent="  "),
        ]
    if not probe.has_derivatives:  # the probe moves several inputs (CTC's logits)
        columns = [along(loss, c, t, params) for c in probe.curves]
        header = [probe.column, *(f"loss {c.short}" for c in probe.curves)]
        rows = [[_num(v) for v in (ti, *(float(c[i]) for c in columns))] for i, ti in enumerate(t)]
        return [
            (
                f"Values (grad and hess with respect to {probe.wrt}: {loss.name}.grad / .hess):"
                if hasattr(loss, "grad")
                else f"Values (derivatives with respect to {probe.wrt} by autodiff only):"
            ),
            f"  {probe.caption}",
            *_table(header, rows, [True] * len(header), indent="  "),
        ]
    columns = [along(loss, first, t, params, order) for order in (0, 1, 2)]
    columns += [along(loss, c, t, params) for c in others]
    if others:
        header = [
            probe.column,
            *(f"{kind} {first.short}" for kind in ("loss", "grad", "hess")),
            *(f"loss {c.short}" for c in others),
        ]
    else:
        header = [probe.column, "loss", "grad", "hess"]
    rows = [[_num(v) for v in (ti, *(float(c[i]) for c in columns))] for i, ti in enumerate(t)]
    lines = [
        f"Values (grad and hess are the derivatives with respect to {probe.wrt}):",
        f"  {probe.caption}",
    ]
    if shown:
        lines += _wrap(f"with {shown}")
    return lines + _table(header, rows, [True] * len(header), indent="  ")


def _parse_value(text: str, param: Param) -> Any:
    """A --param value by the parameter's kind: none/null -> None; true/false for a flag; an
    integer for an int or an axis; a name for a choice; a number or a comma-separated list of
    numbers for an array; else a float."""
    low = text.strip().lower()
    if low in ("none", "null"):
        return None
    if param.kind == "bool" or (param.kind == "float" and low in ("true", "false")):
        if low in ("true", "yes", "1"):
            return True
        if low in ("false", "no", "0"):
            return False
        raise UsageError(f"--param {param.name}: expected true or false, got {text!r}")
    if param.kind == "choice":
        return text.strip()
    try:
        if param.kind in ("int", "axis"):
            return int(text)
        if param.kind == "array" and "," in text:
            return np.array([float(v) for v in text.split(",")], dtype=np.float64)
        return float(text)
    except ValueError:
        what = {"int": "an integer", "axis": "an integer"}.get(param.kind, "a number")
        if param.kind == "array":
            what = "a number or a comma-separated list of numbers"
        raise UsageError(
            f"--param {param.name}: cannot read {text!r} as {what}, true/false or none"
        ) from None


def _parse_params(spec: LossSpec, items: Sequence[str]) -> dict[str, Any]:
    """Defaults, then each ``--param k=v``; a required array parameter (var) defaults to 1."""
    params: dict[str, Any] = {**spec.defaults, **spec.drawn()}
    known = {p.name: p for p in spec.params}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--param expects NAME=VALUE, got {item!r}")
        if name not in known:
            have = ", ".join(known) or "none"
            raise UsageError(f"{spec.name} has no parameter {name!r} (its parameters: {have})")
        params[name] = _parse_value(text, known[name])
    return params


# ---- show: the text --------------------------------------------------------------------------
def _framework_lines(spec: LossSpec) -> list[str]:
    names = spec.framework_names
    if not names:
        return ["Framework names: none recorded"]
    order = [k for k in FRAMEWORKS if k in names] + sorted(k for k in names if k not in FRAMEWORKS)
    width = max(len(FRAMEWORKS.get(k, k)) for k in order) + 1
    lines = ["Framework names:"]
    for key in order:
        lines.append(f"  {(FRAMEWORKS.get(key, key) + ':').ljust(width)}  {names[key]}")
    return lines


def _show_lines(loss: Loss, params: dict[str, Any], plot_hint: bool) -> list[str]:
    spec, props = loss.spec, loss.spec.properties
    values = _values_lines(loss, params)  # first, so a bad --param fails before any output
    lines = [f"{spec.name}  ({spec.family})", *_wrap(spec.summary), ""]
    lines += ["Formula (LaTeX):", f"  {spec.formula}", ""]
    if spec.params:
        lines.append("Parameters:")
        rows = [[p.name, _param_value(p.default), p.range_text(), ""] for p in spec.params]
        table = _table(["name", "default", "range", "meaning"], rows, [False] * 4, indent="  ")
        lines.append(table[0])
        hang = len(table[0]) - len("meaning")
        for row, p in zip(table[1:], spec.params, strict=True):
            doc = textwrap.wrap(p.doc, width=max(TEXT_WIDTH - hang, 30)) or [""]
            lines.append(row.ljust(hang) + doc[0])
            lines += [" " * hang + more for more in doc[1:]]
    else:
        lines.append("Parameters: none")
    lines.append("")
    lines += ["Inputs:" if len(spec.inputs) > 2 or not spec.elementwise else "Domains:"]
    width = max(len(i.name) for i in spec.inputs) + 2
    for item in spec.inputs:
        forms = "; or ".join(
            f"{f.domain}: {DOMAINS[f.domain].description}"
            + (f" (shape {f.shape})" if not spec.elementwise else "")
            for f in item.forms
        )
        lines.append(f"  {(item.name + ':').ljust(width)} {forms}")
    for variant in spec.variants:
        for name, domain in variant.domains.items():
            lines += _wrap(
                f"with {variant.describe()}: {name} is {domain} ({DOMAINS[domain].description})"
            )
        if variant.inputs or variant.output is not None:  # another input structure (a mode)
            parts = [f"{i.name} {i.domain} (shape {i.pattern_text() or '()'})"
                     for i in variant.inputs.values()]  # fmt: skip
            if variant.output is not None:
                parts.append(f"output shape ({variant.output})" if variant.output
                             else "output shape ()")  # fmt: skip
            lines += _wrap(f"with {variant.describe()}: " + "; ".join(parts))
    lines += [
        "",
        "Properties:",
        f"  convex:       {_yes(props.convex)}",
        f"  robust:       {_yes(props.robust)}"
        + (
            " (bounded gradient: one outlier moves the fit a bounded amount)"
            if props.robust
            else " (unbounded gradient)"
        ),
        f"  smoothness:   {props.smoothness}: {SMOOTHNESS[props.smoothness]}",
        f"  bounded:      {_yes(props.bounded)}",
        f"  redescending: {_yes(props.redescending)}"
        + (
            " (the gradient goes to 0 far out: gross outliers are ignored)"
            if props.redescending
            else ""
        ),
        f"  nonnegative:  {_yes(props.nonnegative)}",
        f"  elementwise:  {_yes(spec.elementwise)}",
    ]
    for variant in spec.variants:
        if variant.properties:
            changed = ", ".join(
                f"{k} {_yes(v) if isinstance(v, bool) else v}"
                for k, v in variant.properties.items()
            )
            lines += _wrap(f"with {variant.describe()}: {changed}")
    lines.append("")
    if spec.derivative_notes:
        lines += ["Derivatives:", *_wrap(spec.derivative_notes), ""]
    boosting = spec.boosting
    # a class-axis loss is a multiclass objective: one raw score per class, the diagonal
    multiclass = _wrap(
        "a multiclass objective, one raw score per class: "
        "gbm.xgboost_multiclass_objective, gbm.lightgbm_multiclass_objective"
    )
    if boosting.kind == "exact":
        lines += ["Gradient boosting (lossatlas.gbm):"]
        if spec.elementwise:
            lines += ["  the exact Hessian", ""]
        else:
            lines += ["  the exact Hessian diagonal", *multiclass, ""]
    elif boosting.kind == "surrogate":
        lines += [
            "Gradient boosting (lossatlas.gbm):",
            f"  surrogate Hessian {boosting.formula}",
            *_wrap(boosting.reason),
            *([] if spec.elementwise else multiclass),
            "",
        ]
    else:
        lines += ["Gradient boosting:", *_wrap(f"not an objective: {boosting.reason}"), ""]
    if spec.when_to_use:
        lines += ["When to use:", *_wrap(spec.when_to_use), ""]
    lines += ["Aliases:", *_wrap(", ".join(spec.aliases) or "none"), ""]
    lines += [*_framework_lines(spec), ""]
    lines.append("References:")
    for ref in spec.references:
        lines += textwrap.wrap(
            ref,
            width=TEXT_WIDTH,
            initial_indent="  - ",
            subsequent_indent="    ",
            break_on_hyphens=False,  # "half-quadratic" stays one word
        )
    lines += ["", *values]
    if plot_hint:
        lines += ["", f"Plot: {PROG} plot {spec.name} --derivative 0|1|2 --out FILE"]
    return lines


def _find(name: str) -> Loss:
    """The loss called ``name``; else a UsageError naming the closest names and aliases."""
    try:
        return get(name)
    except KeyError:
        pass
    owner: dict[str, tuple[str, str]] = {}  # lower-cased name or alias -> (alias, loss name)
    for loss in catalog():
        for alias in (loss.name, *loss.spec.aliases):
            owner.setdefault(alias.lower(), (alias, loss.name))
    suggestions: list[str] = []
    seen: set[str] = set()
    for match in difflib.get_close_matches(name.lower(), sorted(owner), n=8, cutoff=0.6):
        alias, loss_name = owner[match]
        if loss_name not in seen:
            seen.add(loss_name)
            suggestions.append(loss_name if alias == loss_name else f"{loss_name} ({alias})")
    message = f"no loss named {name!r}."
    if suggestions:
        message += " Did you mean: " + ", ".join(suggestions[:5]) + "?"
    raise UsageError(f"{message} `{PROG} list` shows the catalogue.")


# ---- parser and entry point ------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="A catalogue of loss functions: definitions, properties, derivatives and "
        "their names in PyTorch, Keras, TensorFlow, PaddlePaddle and optax.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p_list = sub.add_parser(
        "list",
        help="list the catalogue of losses",
        description="List the losses with their domains and properties.",
    )
    p_list.add_argument("--family", choices=families(), help="only losses of this family")
    p_show = sub.add_parser(
        "show",
        help="show one loss in detail",
        description="Show a loss: formula, parameters, properties, framework names, references "
        "and a table of values and derivatives.",
    )
    p_show.add_argument("name", metavar="NAME", help="a loss name or any alias (e.g. HuberLoss)")
    p_show.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a parameter for the table of values (a number, true/false or none); "
        "may be repeated",
    )
    p_plot = sub.add_parser(
        "plot",
        help="plot losses or their derivatives to an image file",
        description="Draw one or more losses (or their first or second derivatives) on one "
        "figure. The losses must share an x axis: regression losses with regression losses, "
        "margin losses with margin losses, and so on.",
    )
    p_plot.add_argument("names", nargs="+", metavar="NAME", help="loss names or aliases")
    p_plot.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a parameter of every loss that has it (a number, true/false or none); "
        "may be repeated",
    )
    p_plot.add_argument(
        "--derivative",
        type=int,
        choices=(0, 1, 2),
        default=0,
        help="0: the loss (default), 1: its gradient, 2: its second derivative",
    )
    p_plot.add_argument(
        "--out", required=True, metavar="FILE", help="the image to write (.png or .svg)"
    )
    p_study = sub.add_parser(
        "study",
        help="run one study and write its page",
        description="Run a seeded study (a small experiment with the library's losses), print "
        "its table and write an HTML page with its figures.",
    )
    p_study.add_argument("name", metavar="NAME", help="the study (e.g. outliers)")
    p_study.add_argument(
        "--out", metavar="DIR", help="folder for the page and figures (default: study-NAME)"
    )
    p_study.add_argument("--seed", type=int, default=0, help="seed of the data (default 0)")
    p_study.add_argument(
        "--backend",
        choices=("numpy", "torch", "jax"),
        default="numpy",
        help="array library the losses run on (default numpy)",
    )
    p_study.add_argument("--no-progress", action="store_true", help="no progress bar")
    p_atlas = sub.add_parser(
        "atlas",
        help="build the atlas: a static web site of every loss",
        description="Build the atlas, a static site that works offline: the catalogue, one "
        "page per loss with its formula and plots, family portraits, a decision guide and "
        "the studies.",
    )
    p_atlas.add_argument(
        "--out", default="atlas-site", metavar="DIR", help="output folder (default atlas-site)"
    )
    p_atlas.add_argument("--seed", type=int, default=0, help="seed of the studies (default 0)")
    p_atlas.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


# ---- plot, study, atlas ----------------------------------------------------------------------
def _atlas_import(module: str) -> Any:
    """Import an atlas module; its dependencies are an optional extra."""
    import importlib

    try:
        return importlib.import_module(f"{__package__}.atlas.{module}")
    except ModuleNotFoundError as error:
        if error.name and error.name.split(".")[0] in ("matplotlib", "tqdm", "latex2mathml"):
            raise UsageError(
                f"this command needs {error.name.split('.')[0]}: pip install 'lossatlas[atlas]'"
            ) from None
        raise


def _plot_params(losses: Sequence[Loss], items: Sequence[str]) -> list[dict[str, Any]]:
    """Per-loss parameters from ``--param k=v``: each goes to every loss that has ``k``."""
    pairs = []
    for item in items:
        name, sep, _ = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--param expects NAME=VALUE, got {item!r}")
        pairs.append((name.strip(), item))
    every = list(dict.fromkeys(p.name for loss in losses for p in loss.spec.params))
    for name, _ in pairs:
        if name not in every:
            raise UsageError(
                f"no loss among {', '.join(x.name for x in losses)} has a parameter {name!r} "
                f"(their parameters: {', '.join(every) or 'none'})"
            )
    per: list[dict[str, Any]] = []
    for loss in losses:
        known = {p.name for p in loss.spec.params}
        params = _parse_params(loss.spec, [item for name, item in pairs if name in known])
        # only what the user set, plus a stand-in for a required array parameter (var)
        keep = {name for name, _ in pairs if name in known}
        keep |= {p.name for p in loss.spec.params if p.default is inspect.Parameter.empty}
        per.append({k: v for k, v in params.items() if k in keep})
    return per


def _run_plot(args: argparse.Namespace) -> list[str]:
    losses = [_find(name) for name in args.names]
    per = _plot_params(losses, args.param)
    plots = _atlas_import("plots")
    try:
        path = plots.plot_losses(losses, params=per, derivative=args.derivative, out=args.out)
    except (LossInputError, ValueError) as error:
        raise UsageError(str(error)) from None
    return [f"wrote {Path(path).resolve()}"]


def _report_lines(report: Any) -> list[str]:
    def cell(value: Any) -> str:
        return _num(value) if isinstance(value, float) else str(value)

    def block(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
        cells = [[cell(v) for v in row] for row in rows]
        right = [
            bool(rows) and all(isinstance(row[i], (int, float)) for row in rows)
            for i in range(len(headers))
        ]
        return _table([str(h) for h in headers], cells, right, indent="  ")

    lines = [report.title, *_wrap(report.summary, indent=""), ""]
    lines += block(report.headers, report.rows)
    for caption, headers, rows in report.extra_tables:
        lines += ["", caption, *block(headers, rows)]
    if report.notes:
        lines += ["", "Notes:"]
        for note in report.notes:
            lines += textwrap.wrap(
                note, width=TEXT_WIDTH, initial_indent="  - ", subsequent_indent="    "
            )
    return lines


def _run_study(args: argparse.Namespace) -> list[str]:
    studies = _atlas_import("studies")
    site = _atlas_import("site")
    if args.name not in studies.STUDIES:
        known = ", ".join(studies.STUDIES)
        raise UsageError(f"no study named {args.name!r}; the studies are: {known}")
    out = Path(args.out if args.out else f"study-{args.name}")
    try:
        report = studies.run_study(
            args.name, out, seed=args.seed, backend=args.backend, progress=not args.no_progress
        )
    except ModuleNotFoundError as error:
        missing = (error.name or "").split(".")[0]
        if missing in ("torch", "jax") and missing == args.backend:
            raise UsageError(f"--backend {args.backend} needs {missing}: {error}") from None
        raise UsageError(
            f"the {args.name} study needs {missing}: pip install 'lossatlas[atlas]'"
        ) from None
    page = site.write_study_page(
        report, out, description=studies.STUDIES[args.name].description, seed=args.seed
    )
    return [*_report_lines(report), "", f"page: {page.resolve().as_uri()}"]


def _run_atlas(args: argparse.Namespace) -> list[str]:
    site = _atlas_import("site")
    index = site.build_site(args.out, progress=not args.no_progress, seed=args.seed)
    return [f"atlas written to {index.parent}", f"open {index.resolve().as_uri()}"]


def _has_command(parser: argparse.ArgumentParser, name: str) -> bool:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return name in action.choices
    return False


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 usage error)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version and argparse's own usage errors
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        if args.command == "list":
            lines = _list_lines(args.family)
        elif args.command == "show":
            loss = _find(args.name)
            params = _parse_params(loss.spec, args.param)
            try:
                lines = _show_lines(loss, params, _has_command(parser, "plot"))
            except LossInputError as error:  # a --param value outside its range
                raise UsageError(str(error)) from None
        elif args.command in ("plot", "study", "atlas"):
            run = {"plot": _run_plot, "study": _run_study, "atlas": _run_atlas}[args.command]
            try:
                lines = run(args)
            except OSError as error:  # an output path that cannot be written
                raise UsageError(f"cannot write the output: {error}") from None
        else:  # pragma: no cover - every command added to the parser is dispatched above
            raise UsageError(f"command {args.command!r} is not implemented")
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    try:
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # `lossatlas list | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
