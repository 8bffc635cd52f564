"""The atlas as a static web site: one page per loss, family portraits, a guide and the studies.

``build_site(out_dir)`` writes plain HTML5 with relative links only, one stylesheet and one small
filter script from ``atlas/assets/``: no CDN, no web fonts, nothing loaded over the network.
Formulas are turned into MathML by latex2mathml (browsers render MathML natively), plots are
PNG files from :mod:`lossatlas.atlas.plots`, and the studies come from
:mod:`lossatlas.atlas.studies`. Every word and number on the pages is read from the registry
(``catalog()``) and the study reports, and the same inputs give byte-identical HTML: nothing on a
page depends on the time, the machine or the order of a set.

Layout of the site::

    index.html            catalogue, filters, property comparison, links
    portraits.html        the family portraits
    guide.html            which loss for which problem
    losses/<name>.html    one page per loss
    studies/<name>.html   one page per study (figures under studies/<name>/)
    figures/*.png         loss and portrait figures
    assets/               style.css, filter.js, favicon.svg
"""

from __future__ import annotations

import html
import math
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from .._domains import DOMAINS
from .._loss import REQUIRED, Loss
from .._registry import catalog, families
from .._spec import SMOOTHNESS

SITE_NAME = "lossatlas atlas"
ASSETS = ("style.css", "filter.js", "favicon.svg")
FRAMEWORKS = {  # always shown on a loss page, in this order; any other recorded ones follow
    "pytorch": "PyTorch",
    "keras": "Keras",
    "tensorflow": "TensorFlow",
    "paddle": "PaddlePaddle",
    "optax": "optax",
}
OTHER_FRAMEWORKS = {
    "jax": "JAX",
    "sklearn": "scikit-learn",
    "xgboost": "XGBoost",
    "lightgbm": "LightGBM",
    "catboost": "CatBoost",
}
SMOOTHNESS_LABEL = {"C0": "C0", "C1": "C1", "C2": "C2", "Cinf": "C∞", "discontinuous": "step"}
PORTRAITS = {  # file name -> (title, caption)
    "regression-losses.png": (
        "Regression losses",
        "Each regression loss as a function of the residual r = pred - target. Squared losses "
        "grow quadratically and let a single large residual dominate the fit; the robust ones "
        "(Huber, pseudo-Huber, log-cosh, smooth L1, MAE, quantile) grow only linearly in the "
        "tails.",
    ),
    "regression-gradients.png": (
        "Regression gradients",
        "The first derivative with respect to pred: the pull that one sample exerts on the fit. "
        "A bounded curve is what 'robust' means in this atlas.",
    ),
    "margin-losses.png": (
        "Margin losses",
        "Margin losses of m = y f for labels y in {-1, 1}: all of them upper-bound the 0-1 loss "
        "(convex surrogates), and they differ in how hard they punish a large negative margin, "
        "which is what a mislabelled sample produces.",
    ),
    "cross-entropy-vs-p.png": (
        "Cross entropy against the predicted probability",
        "Binary cross entropy and the focal loss for a positive (y = 1) and a negative (y = 0) "
        "label, as functions of the predicted probability p: a confident mistake costs without "
        "bound, and a larger focal gamma shrinks the cost of easy, well-classified samples.",
    ),
}
PLANNED_FAMILIES = {  # families the catalogue will grow; named in the guide only when present
    "boxes": "bounding boxes (IoU, GIoU, DIoU, CIoU losses)",
    "sequence": "sequences (CTC, sequence cross entropy)",
}


# ---- small HTML helpers ---------------------------------------------------------------------
def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _attrs(**attrs: Any) -> str:
    parts = []
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        name = key.rstrip("_").replace("_", "-")
        parts.append(f" {name}" if value is True else f' {name}="{esc(value)}"')
    return "".join(parts)


def _table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    cls: str | None = None,
    caption: str | None = None,
    id_: str | None = None,
    numeric: Sequence[bool] | None = None,
) -> str:
    """A table whose cells are already HTML."""
    numeric = list(numeric) if numeric is not None else [False] * len(headers)
    out = [f'<div class="table-wrap"><table{_attrs(id_=id_, class_=cls)}>']
    if caption:
        out.append(f"<caption>{caption}</caption>")
    head = "".join(
        f'<th scope="col"{_attrs(class_="num" if n else None)}>{h}</th>'
        for h, n in zip(headers, numeric, strict=True)
    )
    out.append(f"<thead><tr>{head}</tr></thead>")
    out.append("<tbody>")
    for row in rows:
        cells = "".join(
            f"<td{_attrs(class_='num' if n else None)}>{c}</td>"
            for c, n in zip(row, numeric, strict=True)
        )
        out.append(f"<tr>{cells}</tr>")
    out.append("</tbody></table></div>")
    return "\n".join(out)


def _yes(flag: bool) -> str:
    return '<span class="yes">yes</span>' if flag else '<span class="no">no</span>'


def _num(value: float) -> str:
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return format(value + 0.0, ".4g").replace("-", "−")


def _cell(value: Any) -> tuple[str, bool]:
    """A study table cell as HTML, and whether it is a number (right-aligned)."""
    if isinstance(value, bool) or value is None:
        return esc(value), False
    if isinstance(value, (int, np.integer)):
        return esc(int(value)), True
    if isinstance(value, (float, np.floating)):
        return _num(value), True
    return esc(value), False


def _param_value(value: Any) -> str:
    if value is REQUIRED:
        return "required"
    if isinstance(value, float):
        return format(value, "g")
    return repr(value)


def _rel(target: Path, start: Path) -> str:
    """A relative URL from directory ``start`` to file ``target``."""
    return Path(os.path.relpath(target, start)).as_posix()


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    return path


def _pretty(stem: str) -> str:
    """'outliers-fits' -> 'Outliers fits' (a caption from a file name)."""
    words = re.sub(r"[-_]+", " ", stem).strip()
    return words[:1].upper() + words[1:]


# ---- formulas --------------------------------------------------------------------------------
def formula_mathml(latex: str) -> str:
    """LaTeX -> a block MathML element (no namespace URL: HTML5 puts <math> in MathML)."""
    from latex2mathml.converter import convert

    try:
        mathml = convert(latex, display="block")
    except Exception:  # a formula latex2mathml cannot read: show the source instead
        return f'<pre class="latex-fallback"><code>{esc(latex)}</code></pre>'
    mathml = mathml.replace(' xmlns="http://www.w3.org/1998/Math/MathML"', "")
    # What MathML Core (Chromium) does not do by itself: double-struck digits (the indicator
    # 1), escaped underscores inside \text, tight |..| bars and a hat that fits its letter.
    mathml = re.sub(
        r'<mn mathvariant="double-struck">(\d)</mn>',
        lambda m: f"<mn>&#x{0x1D7D8 + int(m.group(1)):05X};</mn>",
        mathml,
    )
    mathml = re.sub(
        r"<mtext>([^<]*)</mtext>",
        lambda m: "<mtext>" + m.group(1).replace("\\_", "_") + "</mtext>",
        mathml,
    )
    mathml = mathml.replace(
        '<mo stretchy="false">&#x0007C;</mo>', '<mo stretchy="false" lspace="0" rspace="0">|</mo>'
    )
    mathml = mathml.replace("<mo>&#x0005E;</mo></mover>", "<mo>&#x002C6;</mo></mover>")
    return mathml.replace("<math ", f"<math{_attrs(alttext=latex)} ", 1)


# ---- page frame ------------------------------------------------------------------------------
def _page(
    title: str, body: str, *, root: str, nav: bool = True, script: bool = False, current: str = ""
) -> str:
    """A whole HTML document. ``root`` is the relative URL of the site root ('' or '../')."""
    if nav:
        links = [
            ("index.html#catalogue", "Catalogue", "catalogue"),
            ("portraits.html", "Portraits", "portraits"),
            ("guide.html", "Guide", "guide"),
            ("index.html#studies", "Studies", "studies"),
        ]
        items = "".join(
            f'<a href="{root}{href}"{_attrs(aria_current="page" if key == current else None)}>'
            f"{label}</a>"
            for href, label, key in links
        )
        header = (
            f'<header class="site"><a class="brand" href="{root}index.html">lossatlas'
            f'<span class="brand-sub">atlas</span></a><nav aria-label="Site">{items}</nav></header>'
        )
    else:
        header = (
            '<header class="site"><span class="brand">lossatlas'
            '<span class="brand-sub">atlas</span></span></header>'
        )
    head_script = f'<script src="{root}assets/filter.js" defer></script>\n' if script else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)} · {SITE_NAME}</title>\n"
        f'<link rel="icon" href="{root}assets/favicon.svg" type="image/svg+xml">\n'
        f'<link rel="stylesheet" href="{root}assets/style.css">\n'
        f"{head_script}"
        "</head>\n"
        "<body>\n"
        f"{header}\n"
        "<main>\n"
        f"{body}\n"
        "</main>\n"
        '<footer class="site">Generated by lossatlas '
        f"{esc(__version__)} from its loss registry. Every page works offline.</footer>\n"
        "</body>\n"
        "</html>\n"
    )


def write_assets(assets_dir: Path) -> None:
    """Copy the stylesheet, the filter script and the icon shipped in the package."""
    source = resources.files("lossatlas.atlas").joinpath("assets")
    assets_dir.mkdir(parents=True, exist_ok=True)
    for name in ASSETS:
        (assets_dir / name).write_bytes(source.joinpath(name).read_bytes())


# ---- facts derived from the registry --------------------------------------------------------
def hessian_kind(loss: Loss) -> str:
    """'yes' (an analytic, non-zero second derivative), 'zero' (analytic but 0 wherever it is
    defined: piecewise-linear losses) or 'no' (defined over a whole batch: no per-element
    Hessian). Read off the loss's second derivative along its probe."""
    from .plots import curve, has_derivatives

    if not has_derivatives(loss):
        return "no"

    hess = np.concatenate([y for _, _, y in curve(loss, derivative=2)])
    return "yes" if np.any(np.abs(hess[np.isfinite(hess)]) > 0) else "zero"


HESSIAN_TEXT = {  # short label, explanation
    "yes": (
        "yes",
        "an analytic, non-zero second derivative (per element, or its diagonal per "
        "sample over the class axis)",
    ),
    "zero": ("zero", "analytic, but zero wherever it is defined (piecewise linear)"),
    "no": ("no", "not elementwise: no per-element second derivative"),
}


BOOSTING_TEXT = {  # short label, explanation
    "exact": ("exact", "boosters get the exact second derivative"),
    "surrogate": ("surrogate", "boosters get a documented positive stand-in for the Hessian"),
    "none": ("no", "not a boosting objective"),
}


def _boosting_cell(loss: Loss) -> str:
    kind = loss.spec.boosting.kind
    label, title = BOOSTING_TEXT[kind]
    if kind == "none":
        title = f"{title}: {loss.spec.boosting.reason}"
    cls = "no" if kind == "none" else "yes"
    return f'<abbr class="{cls}" title="{esc(title)}">{label}</abbr>'


def _hessian_cell(kind: str) -> str:
    label, title = HESSIAN_TEXT[kind]
    return f'<abbr class="{"yes" if kind == "yes" else "no"}" title="{esc(title)}">{label}</abbr>'


def property_sentences(loss: Loss, hessian: str) -> list[str]:
    """Plain-language consequences of the properties, for 'When to use it'."""
    spec, props = loss.spec, loss.spec.properties
    var = _variable(loss)
    out = []
    if props.convex:
        out.append(
            f"Convex in {var}: with a linear model every local minimum is global, so the fit "
            "does not depend on where the optimiser starts."
        )
    else:
        out.append(
            f"Not convex in {var}: the optimum can depend on the initialisation, and guarantees "
            "that need convexity do not hold."
        )
    if props.robust:
        out.append(
            "Bounded gradient: one outlier moves the fit by a bounded amount, however far off it "
            "is."
        )
    else:
        out.append(
            "Unbounded gradient: one sample with a huge error can dominate the gradient, so "
            "clean the data or pick a robust loss when outliers are expected."
        )
    smooth = {
        "C0": "Has kinks: the gradient jumps, so plain gradient descent needs a decaying step "
        "size near the optimum.",
        "C1": "Continuously differentiable, but its second derivative jumps: fine for gradient "
        "methods, less so for Newton steps.",
        "C2": "Twice continuously differentiable (its third derivative jumps): smooth "
        "curvature for Newton-type optimisers and second-order boosting.",
        "Cinf": "Infinitely differentiable: smooth curvature, well suited to Newton-type "
        "optimisers and second-order boosting.",
        "discontinuous": "A step function: its gradient is zero almost everywhere, so it can "
        "measure a model but cannot train one.",
    }
    out.append(smooth[props.smoothness])
    if props.bounded:
        out.append(
            "Bounded above: a wrong prediction costs at most a fixed amount, so a few very wrong "
            "samples cannot dominate the total."
        )
    if not props.nonnegative:
        out.append(
            "Can be negative: compare its values between models, not against zero; its minimum "
            "is not 0 at a perfect prediction."
        )
    if hessian == "yes" and spec.boosting.kind != "none" and not spec.elementwise:
        out.append(
            "Has an analytic gradient and Hessian diagonal (loss.grad, loss.hess) with respect "
            f"to {var}: a multiclass objective for gradient boosting (lossatlas.gbm)."
        )
    elif hessian == "yes" and spec.boosting.kind != "none":
        out.append(
            "Has an analytic Hessian (loss.hess): a custom objective for gradient boosting "
            "(lossatlas.gbm)."
        )
    elif hessian == "yes":
        out.append(
            "Has an analytic gradient and Hessian diagonal (loss.grad, loss.hess) with respect "
            f"to {var}, for Newton-type optimisers."
        )
    elif hessian == "zero":
        out.append(
            "Its second derivative is zero wherever it is defined: Newton-step boosters get the "
            "positive surrogate documented under Gradient boosting below."
        )
    else:
        out.append(
            "Defined over a whole batch, not per element: no per-element gradient or Hessian, so "
            "it is a metric or a training loss for autodiff frameworks, not a boosting objective."
        )
    if spec.pred_domain == "probability":
        out.append(
            "Takes probabilities: if the model ends in a sigmoid, feeding logits to the logit "
            "version is more accurate and never saturates (see the guide)."
        )
    return out


# ---- the catalogue (index) ------------------------------------------------------------------
@dataclass(frozen=True)
class _Row:
    loss: Loss
    hessian: str

    @property
    def attrs(self) -> str:
        spec, props = self.loss.spec, self.loss.spec.properties
        names = " ".join([spec.name, *spec.aliases]).lower()
        return _attrs(
            data_family=spec.family,
            data_convex="yes" if props.convex else "no",
            data_robust="yes" if props.robust else "no",
            data_bounded="yes" if props.bounded else "no",
            data_smoothness=props.smoothness,
            data_hessian="yes" if self.hessian == "yes" else "no",
            data_names=names,
        )


def _families(losses: Sequence[Loss]) -> list[str]:
    present = {x.spec.family for x in losses}
    return [f for f in families() if f in present]


def _variable(loss: Loss) -> str:
    """What the derivatives and the convexity are taken with respect to, in words."""
    first = loss.spec.inputs[0]
    if first.name == "logits":
        return "the logits"
    return "the logit" if loss.spec.pred_domain == "logit" else "pred"


def _domain_text(item: Any) -> str:
    return "; or ".join(
        f"<code>{esc(f.domain)}</code>: {esc(DOMAINS[f.domain].description)}" for f in item.forms
    )


def _smooth_cell(smoothness: str) -> str:
    return f'<abbr title="{esc(SMOOTHNESS[smoothness])}">{esc(SMOOTHNESS_LABEL[smoothness])}</abbr>'


def _index_page(rows: Sequence[_Row], studies: Sequence[Any], portraits: bool) -> str:
    losses = [r.loss for r in rows]
    families = _families(losses)
    counts = ", ".join(f"{sum(x.spec.family == f for x in losses)} {f}" for f in families)
    n_elem = sum(r.hessian != "no" for r in rows)
    intro = (
        "<h1>The loss atlas</h1>\n"
        '<p class="lede">Every loss in <code>lossatlas</code> on one page: what it computes, '
        "which inputs it takes, its mathematical properties, its names in PyTorch, Keras, "
        "TensorFlow, PaddlePaddle and optax, and pictures of the loss and its derivatives. "
        "Everything here is generated from the library's registry, so the pages and the code "
        "cannot disagree.</p>\n"
        f"<p>{len(losses)} losses ({esc(counts)}); {n_elem} of them are elementwise, with "
        "analytic first and second derivatives.</p>\n"
    )
    cards = ['<ul class="cards">']
    if portraits:
        cards.append(
            '<li><a href="portraits.html"><strong>Family portraits</strong>'
            "<span>All regression losses, their gradients, the margin losses and cross entropy "
            "on one picture each.</span></a></li>"
        )
    cards.append(
        '<li><a href="guide.html"><strong>Decision guide</strong>'
        "<span>Outliers, class imbalance, prediction intervals, saturated outputs, noisy labels: "
        "which loss to reach for.</span></a></li>"
    )
    if studies:
        cards.append(
            '<li><a href="#studies"><strong>Studies</strong>'
            "<span>Small reproducible experiments that show the properties at work.</span>"
            "</a></li>"
        )
    cards.append("</ul>")

    family_options = "".join(f'<option value="{esc(f)}">{esc(f)}</option>' for f in families)
    present_smooth = [
        s for s in SMOOTHNESS if any(x.spec.properties.smoothness == s for x in losses)
    ]
    smooth_options = "".join(
        f'<option value="{esc(s)}" title="{esc(SMOOTHNESS[s])}">{esc(SMOOTHNESS_LABEL[s])}</option>'
        for s in present_smooth
    )
    checks = [
        ("convex", "convex"),
        ("robust", "robust (bounded gradient)"),
        ("bounded", "bounded"),
        ("hessian", "non-zero Hessian"),
    ]
    boxes = "".join(
        f'<label><input type="checkbox" name="{name}" value="yes"> {esc(label)}</label>'
        for name, label in checks
    )
    filters = (
        '<form id="filters" class="filters" hidden aria-label="Filter the losses">\n'
        '<label>Family <select id="family-filter" name="family">'
        f'<option value="">all families</option>{family_options}</select></label>\n'
        '<label>Smoothness <select id="smoothness-filter" name="smoothness">'
        f'<option value="">any</option>{smooth_options}</select></label>\n'
        '<label>Name <input type="search" id="name-filter" name="q" '
        'placeholder="huber, BCELoss, …" autocomplete="off"></label>\n'
        f"<fieldset><legend>Only losses that are</legend>{boxes}</fieldset>\n"
        '<button type="reset">Show all</button>\n'
        '<output id="filter-count" aria-live="polite"></output>\n'
        "</form>\n"
    )
    jump = " · ".join(f'<a href="#family-{esc(f)}">{esc(f)}</a>' for f in families)

    cat = [
        '<div class="table-wrap"><table id="catalogue-table" class="catalogue">',
        "<thead><tr>"
        '<th scope="col">Loss</th><th scope="col">Family</th><th scope="col">Summary</th>'
        '<th scope="col">pred</th><th scope="col">target</th>'
        "</tr></thead>",
    ]
    for family in families:
        cat.append(f'<tbody data-group="{esc(family)}">')
        cat.append(
            f'<tr class="group"><th colspan="5" scope="colgroup" id="family-{esc(family)}">'
            f"{esc(family)}</th></tr>"
        )
        for row in rows:
            spec = row.loss.spec
            if spec.family != family:
                continue
            cat.append(
                f"<tr{row.attrs}>"
                f'<td><a href="losses/{esc(spec.name)}.html"><code>{esc(spec.name)}</code></a></td>'
                f"<td>{esc(spec.family)}</td>"
                f"<td>{esc(spec.summary)}</td>"
                f'<td><abbr title="{esc(DOMAINS[spec.pred_domain].description)}">'
                f"{esc(spec.pred_domain)}</abbr></td>"
                f'<td><abbr title="{esc(DOMAINS[spec.target_domain].description)}">'
                f"{esc(spec.target_domain)}</abbr></td>"
                "</tr>"
            )
        cat.append("</tbody>")
    cat.append("</table></div>")

    comp = [
        '<div class="table-wrap"><table id="properties-table" class="properties">',
        "<thead><tr>"
        + "".join(
            f'<th scope="col">{h}</th>'
            for h in (
                "Loss",
                "Convex",
                "Robust",
                "Smoothness",
                "Bounded",
                "Input domain",
                "Label domain",
                "Has Hessian",
                "Boosting Hessian",
            )
        )
        + "</tr></thead>",
        "<tbody>",
    ]
    for row in rows:
        spec, props = row.loss.spec, row.loss.spec.properties
        comp.append(
            f"<tr{row.attrs}>"
            f'<td><a href="losses/{esc(spec.name)}.html"><code>{esc(spec.name)}</code></a></td>'
            f"<td>{_yes(props.convex)}</td><td>{_yes(props.robust)}</td>"
            f"<td>{_smooth_cell(props.smoothness)}</td><td>{_yes(props.bounded)}</td>"
            f"<td>{esc(spec.pred_domain)}</td><td>{esc(spec.target_domain)}</td>"
            f"<td>{_hessian_cell(row.hessian)}</td>"
            f"<td>{_boosting_cell(row.loss)}</td>"
            "</tr>"
        )
    comp.append("</tbody></table></div>")

    legend = (
        '<dl class="legend">'
        "<dt>Convex</dt><dd>convex in pred (in the logit for losses that take logits).</dd>"
        "<dt>Robust</dt><dd>the gradient with respect to pred is bounded: one outlier moves the "
        "fit by a bounded amount.</dd>"
        "<dt>Smoothness</dt><dd>"
        + "; ".join(f"{esc(SMOOTHNESS_LABEL[k])}: {esc(v)}" for k, v in SMOOTHNESS.items())
        + ".</dd>"
        "<dt>Bounded</dt><dd>the loss itself has an upper bound.</dd>"
        "<dt>Has Hessian</dt><dd>an analytic, non-zero second derivative per element "
        "(<code>loss.hess</code>).</dd>"
        "<dt>Boosting Hessian</dt><dd>what <code>lossatlas.gbm</code> hands XGBoost, LightGBM "
        "and CatBoost (<code>loss.boosting_hess</code>): the exact second derivative, or a "
        "positive surrogate where it is zero, undefined, negative or vanishing.</dd>"
        "</dl>"
    )

    parts = [
        intro,
        "\n".join(cards),
        '<section id="catalogue">',
        "<h2>Catalogue</h2>",
        f'<p class="jump">Jump to a family: {jump}</p>',
        filters,
        "\n".join(cat),
        "</section>",
        '<section id="properties">',
        "<h2>Properties at a glance</h2>",
        "<p>The same filters apply to this table. Each property is tested against the "
        "implementation, not just declared.</p>",
        "\n".join(comp),
        legend,
        "</section>",
    ]
    if studies:
        items = "".join(
            f'<li><a href="studies/{esc(s.name)}.html"><strong>{esc(s.title)}</strong></a>'
            f"<p>{esc(s.description)}</p></li>"
            for s in studies
        )
        parts += [
            '<section id="studies">',
            "<h2>Studies</h2>",
            "<p>Each study is a small, seeded experiment run when the atlas is built; rerun one "
            "with <code>lossatlas study NAME</code>.</p>",
            f'<ul class="studies">{items}</ul>',
            "</section>",
        ]
    return _page("Catalogue", "\n".join(parts), root="", script=True, current="catalogue")


# ---- one loss --------------------------------------------------------------------------------
def _loss_link(name: str, root: str, known: Sequence[str], text: str | None = None) -> str:
    """A link to a loss page if that loss is registered, else its name marked as missing."""
    label = f"<code>{esc(text or name)}</code>"
    if name in known:
        return f'<a href="{root}losses/{esc(name)}.html">{label}</a>'
    return f'{label} <span class="missing">(not in the catalogue yet)</span>'


def _framework_rows(names: dict[str, str]) -> list[list[str]]:
    rows = []
    for key, label in FRAMEWORKS.items():
        value = names.get(key)
        cell = (
            ", ".join(f"<code>{esc(n.strip())}</code>" for n in value.split(", "))
            if value
            else '<span class="none">no equivalent recorded</span>'
        )
        rows.append([esc(label), cell])
    others = [k for k in OTHER_FRAMEWORKS if k in names]
    others += sorted(k for k in names if k not in FRAMEWORKS and k not in OTHER_FRAMEWORKS)
    for key in others:
        cell = ", ".join(f"<code>{esc(n.strip())}</code>" for n in names[key].split(", "))
        rows.append([esc(OTHER_FRAMEWORKS.get(key, key)), cell])
    return rows


_FIGURE_CAPTIONS = {
    "loss": "The loss",
    "grad": "First derivative (gradient) with respect to {var}",
    "hess": "Second derivative (Hessian diagonal) with respect to {var}",
}


def _showcase_text(loss: Loss) -> str:
    showcase = getattr(loss.spec, "showcase", ()) or ()
    drawn = [", ".join(f"{k}={_param_value(v)}" for k, v in d.items()) for d in showcase if d]
    return ("Curves drawn for " + "; ".join(drawn) + ".") if drawn else ""


def _loss_page(
    loss: Loss,
    hessian: str,
    figures: dict[str, Path],
    page_dir: Path,
    known: Sequence[str],
    family_members: Sequence[str],
) -> str:
    spec, props = loss.spec, loss.spec.properties
    root = "../"
    var = _variable(loss)
    parts = [
        f'<p class="crumbs"><a href="../index.html#family-{esc(spec.family)}">{esc(spec.family)}'
        "</a></p>",
        f"<h1><code>{esc(spec.name)}</code></h1>",
        f'<p class="lede">{esc(spec.summary)}</p>',
        '<section id="formula"><h2>Formula</h2>',
        f'<div class="formula">{formula_mathml(spec.formula)}</div>',
        "<details><summary>LaTeX source</summary>"
        f"<pre><code>{esc(spec.formula)}</code></pre></details>",
        '<dl class="domains">'
        + "".join(
            f"<dt>{esc(i.name)}</dt><dd>{_domain_text(i)}"
            + ("" if spec.elementwise else f" (shape <code>{esc(i.pattern_text())}</code>)")
            + "</dd>"
            for i in spec.inputs
        )
        + "</dl>"
        + "".join(
            f'<p class="note">With <code>{esc(v.describe())}</code>: '
            + ", ".join(
                f"{esc(name)} is <code>{esc(d)}</code> ({esc(DOMAINS[d].description)})"
                for name, d in v.domains.items()
            )
            + ".</p>"
            for v in spec.variants
            if v.domains
        ),
        "</section>",
    ]

    parts.append('<section id="parameters"><h2>Parameters</h2>')
    if spec.params:
        rows = [
            [
                f"<code>{esc(p.name)}</code>",
                f"<code>{esc(_param_value(p.default))}</code>",
                f"<code>{esc(p.range_text())}</code>",
                esc(p.doc),
            ]
            for p in spec.params
        ]
        parts.append(_table(["Name", "Default", "Range", "Meaning"], rows, cls="params"))
    else:
        parts.append("<p>None: the loss has no hyperparameters.</p>")
    parts.append(
        '<p class="note">Every loss also takes <code>weight=</code> (per-sample weights; per '
        "element for an elementwise loss) and <code>reduction=</code> "
        '(<code>"mean"</code>, <code>"sum"</code>, '
        '<code>"none"</code>, <code>"sum_by_nonzero_weights"</code>).</p>'
    )
    parts.append("</section>")

    prop_rows = [
        ["Convex", _yes(props.convex), f"convex in {esc(var)}"],
        [
            "Robust",
            _yes(props.robust),
            "bounded gradient" if props.robust else "unbounded gradient",
        ],
        ["Smoothness", _smooth_cell(props.smoothness), esc(SMOOTHNESS[props.smoothness])],
        ["Bounded", _yes(props.bounded), "the loss has an upper bound" if props.bounded else ""],
        [
            "Redescending",
            _yes(props.redescending),
            "the gradient goes to 0 far out: gross outliers are ignored"
            if props.redescending
            else "",
        ],
        [
            "Non-negative",
            _yes(props.nonnegative),
            "loss ≥ 0" if props.nonnegative else "can be negative",
        ],
        [
            "Elementwise",
            _yes(spec.elementwise),
            "one loss value per element"
            if spec.elementwise
            else "defined over a whole batch (a reduction of all elements)"
            if hessian == "no"
            else f"one loss value per sample (shape {esc(spec.output)}), over its class axis",
        ],
        ["Has Hessian", _hessian_cell(hessian), esc(HESSIAN_TEXT[hessian][1])],
    ]
    parts.append('<section id="properties"><h2>Properties</h2>')
    parts.append(_table(["Property", "Value", "Meaning"], prop_rows, cls="props"))
    for variant in spec.variants:
        if variant.properties:
            changed = ", ".join(
                f"{esc(k)}: {_yes(v) if isinstance(v, bool) else esc(v)}"
                for k, v in variant.properties.items()
            )
            parts.append(
                f'<p class="note">With <code>{esc(variant.describe())}</code>: {changed}.</p>'
            )
    parts.append("</section>")

    parts.append('<section id="when"><h2>When to use it</h2>')
    if spec.when_to_use:
        parts.append(f'<p class="when">{esc(spec.when_to_use)}</p>')
    items = "".join(f"<li>{esc(s)}</li>" for s in property_sentences(loss, hessian))
    parts.append(f"<ul>{items}</ul>")
    parts.append('<p>See also the <a href="../guide.html">decision guide</a>.</p>')
    parts.append("</section>")

    parts.append('<section id="names"><h2>Names in other libraries</h2>')
    parts.append(_table(["Library", "Names"], _framework_rows(spec.framework_names), cls="names"))
    aliases = ", ".join(f"<code>{esc(a)}</code>" for a in spec.aliases)
    parts.append(
        f"<p>Aliases accepted by <code>lossatlas.get</code>: {aliases or 'none'}.</p>"
        if aliases
        else "<p>No aliases.</p>"
    )
    parts.append("</section>")

    figures = dict(figures)
    boost_figure = figures.pop("boost", None)
    parts.append('<section id="derivatives"><h2>Derivatives and plots</h2>')
    if spec.derivative_notes:
        parts.append(f'<p class="derivatives">{esc(spec.derivative_notes)}</p>')
    showcase = _showcase_text(loss)
    if figures:
        figs = []
        for key, path in figures.items():
            kind = path.stem.rsplit("-", 1)[-1]
            caption = _FIGURE_CAPTIONS.get(kind, _pretty(key)).format(var=var)
            if showcase:
                caption += ". " + showcase
            src = esc(_rel(path, page_dir))
            figs.append(
                f'<figure><a href="{src}"><img src="{src}" '
                f'alt="{esc(spec.name)}: {esc(caption)}"></a>'
                f"<figcaption>{esc(caption)}</figcaption></figure>"
            )
        parts.append('<div class="figures">' + "".join(figs) + "</div>")
    parts.append("</section>")

    parts.append(_boosting_section(loss, boost_figure, page_dir))

    parts.append('<section id="references"><h2>References</h2>')
    refs = "".join(f"<li>{esc(r)}</li>" for r in spec.references)
    parts.append(f"<ol>{refs}</ol>" if refs else "<p>None recorded.</p>")
    parts.append("</section>")

    others = [n for n in family_members if n != spec.name]
    if others:
        links = " ".join(_loss_link(n, root, known) for n in others)
        parts.append(
            f'<section id="related"><h2>Other {esc(spec.family)} losses</h2>'
            f'<p class="related">{links}</p></section>'
        )
    return _page(spec.name, "\n".join(parts), root=root)


def _boosting_section(loss: Loss, figure: Path | None, page_dir: Path) -> str:
    """What the gbm objectives hand a booster for this loss, and why."""
    spec, boosting = loss.spec, loss.spec.boosting
    parts = ['<section id="boosting"><h2>Gradient boosting</h2>']
    if boosting.kind == "none":
        parts.append(f"<p>Not a boosting objective: {esc(boosting.reason)}.</p></section>")
        return "".join(parts)
    if not spec.elementwise:  # a class-axis loss: a multiclass objective
        return _multiclass_boosting_section(loss, figure, page_dir)
    flags = ", from_logits=True" if "from_logits" in spec.defaults else ""
    example = f'gbm.xgboost_objective("{spec.name}"{flags})'
    if boosting.kind == "exact":
        parts.append(
            "<p>Boosters get the exact second derivative (<code>loss.hess</code>, floored at "
            "1e-16 so that a leaf's sum stays positive).</p>"
        )
    else:
        parts.append(
            "<p>Boosters get a positive surrogate for the Hessian "
            "(<code>loss.boosting_hess</code>):</p>"
            f'<div class="formula">{formula_mathml(boosting.formula)}</div>'
            f"<p>{esc(boosting.reason)}</p>"
        )
        if figure is not None:
            src = esc(_rel(figure, page_dir))
            caption = "The exact second derivative (solid) and the Hessian a booster gets (dashed)"
            parts.append(
                f'<div class="figures"><figure><a href="{src}"><img src="{src}" '
                f'alt="{esc(spec.name)}: {esc(caption)}"></a>'
                f"<figcaption>{esc(caption)}</figcaption></figure></div>"
            )
        if boosting.references:
            refs = "".join(f"<li>{esc(r)}</li>" for r in boosting.references)
            parts.append(f"<ol>{refs}</ol>")
    parts.append(
        f"<p>Use it with <code>{esc(example)}</code>, <code>gbm.lightgbm_objective</code> "
        "or <code>gbm.catboost_objective</code>, and start from "
        f"<code>gbm.initial_prediction(&quot;{esc(spec.name)}&quot;, y)</code>.</p>"
    )
    parts.append("</section>")
    return "".join(parts)


def _multiclass_boosting_section(loss: Loss, figure: Path | None, page_dir: Path) -> str:
    """The Gradient boosting section of a class-axis loss: one raw score per class."""
    spec, boosting = loss.spec, loss.spec.boosting
    name = esc(spec.name)
    parts = [
        '<section id="boosting"><h2>Gradient boosting</h2>',
        "<p>A multiclass objective: the booster keeps one raw score per class (an (n, K) "
        "array), and each row hands it the gradient of its loss with respect to its K scores "
        "and the diagonal of the Hessian.</p>",
    ]
    if boosting.kind == "exact":
        parts.append(
            "<p>Boosters get the exact second derivative along each score, the Hessian's "
            "diagonal (<code>loss.hess_diag</code>, floored at 1e-16 so that a leaf's sum stays "
            "positive).</p>"
        )
    else:
        parts.append(
            "<p>Boosters get a positive surrogate for the Hessian's diagonal "
            "(<code>loss.boosting_hess</code>):</p>"
            f'<div class="formula">{formula_mathml(boosting.formula)}</div>'
            f"<p>{esc(boosting.reason)}</p>"
        )
        if figure is not None:
            src = esc(_rel(figure, page_dir))
            caption = (
                "The exact second derivative along the probe (solid) and the diagonal a "
                "booster gets (dashed)"
            )
            parts.append(
                f'<div class="figures"><figure><a href="{src}"><img src="{src}" '
                f'alt="{name}: {esc(caption)}"></a>'
                f"<figcaption>{esc(caption)}</figcaption></figure></div>"
            )
        if boosting.references:
            refs = "".join(f"<li>{esc(r)}</li>" for r in boosting.references)
            parts.append(f"<ol>{refs}</ol>")
    parts.append(
        f"<p>Use it with <code>gbm.xgboost_multiclass_objective(&quot;{name}&quot;)</code> "
        f"or <code>gbm.lightgbm_multiclass_objective(&quot;{name}&quot;)</code> (booster "
        "parameter <code>num_class</code> = K; <code>hessian=&quot;xgboost&quot;</code> or "
        "<code>&quot;lightgbm&quot;</code> scales the diagonal as the built-in multiclass "
        "objectives do), and start from "
        f"<code>gbm.multiclass_initial_prediction(&quot;{name}&quot;, y, num_class=K)</code>"
        ".</p>"
    )
    parts.append("</section>")
    return "".join(parts)


# ---- portraits -------------------------------------------------------------------------------
def _portraits_page(portraits: dict[str, Path], page_dir: Path) -> str:
    parts = [
        "<h1>Family portraits</h1>",
        '<p class="lede">One picture per family: the losses of a family drawn on the same axes, '
        "so the differences in shape (and in gradient) are visible at a glance. Click through "
        'to a loss from the <a href="index.html#catalogue">catalogue</a> for its own plots.</p>',
    ]
    ordered = sorted(portraits.values(), key=lambda p: (p.name not in PORTRAITS, _order(p)))
    for path in ordered:
        title, caption = PORTRAITS.get(path.name, (_pretty(path.stem), ""))
        slug = esc(path.stem)
        parts.append(
            f'<figure class="portrait" id="{slug}"><h2>{esc(title)}</h2>'
            f'<img src="{esc(_rel(path, page_dir))}" alt="{esc(title)}">'
            + (f"<figcaption>{esc(caption)}</figcaption>" if caption else "")
            + "</figure>"
        )
    return _page("Family portraits", "\n".join(parts), root="", current="portraits")


def _order(path: Path) -> tuple[int, str]:
    names = list(PORTRAITS)
    return (names.index(path.name) if path.name in names else len(names), path.name)


# ---- decision guide --------------------------------------------------------------------------
def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _guide_page(losses: Sequence[Loss], studies: Sequence[Any], hessians: dict[str, str]) -> str:
    known = [x.name for x in losses]
    root = ""

    def L(name: str, text: str | None = None) -> str:
        return _loss_link(name, root, known, text)

    by_name = {s.name: s for s in studies}

    def study(name: str) -> str:
        """A link to the study ``name`` if it was built, with its one-sentence description."""
        if name not in by_name:
            return ""
        s = by_name[name]
        link = f'<a href="studies/{esc(name)}.html">{esc(s.title)}</a>'
        return f'<p class="study-link">Study: {link}. {esc(s.description)}</p>'

    sections = []

    def section(id_: str, title: str, body: str) -> None:
        html_text = f'<section id="{id_}"><h2>{esc(title)}</h2>\n{body}\n</section>'
        sections.append((id_, title, html_text))

    section(
        "outliers",
        "My regression targets have outliers",
        "<p>The squared error (" + L("mse") + ") has an unbounded gradient: one sample with a "
        "huge residual pulls the fit as hard as many ordinary ones together. Use a loss whose "
        "gradient is bounded:</p><ul>"
        f"<li>{L('huber')}: quadratic near zero, linear beyond <code>delta</code>; set "
        "<code>delta</code> around the largest residual you still consider noise.</li>"
        f"<li>{L('pseudo_huber')} or {L('log_cosh')}: the same shape, but infinitely "
        "differentiable, for Newton steps and gradient boosting.</li>"
        f"<li>{L('mae')}: estimates the median; the most robust, but its gradient is a constant "
        "step and its Hessian is zero.</li>"
        f"<li>{L('quantile')}: with <code>q = 0.5</code> it is half the MAE; other "
        "<code>q</code> give other quantiles.</li></ul>" + study("outliers"),
    )
    section(
        "imbalance",
        "One class is rare",
        "<p>With a rare positive class the plain cross entropy is dominated by the many easy "
        "negatives. Three remedies, each a single setting:</p><ul>"
        f"<li>{L('binary_cross_entropy_with_logits')} with <code>pos_weight</code> about "
        "<code>n_negative / n_positive</code>: reweights the positives.</li>"
        f"<li>{L('balanced_cross_entropy')}: weights the two classes by <code>beta</code> and "
        "<code>1 - beta</code> (a known class ratio).</li>"
        f"<li>{L('focal_loss')}: down-weights easy, well-classified samples by "
        "<code>(1 - p_t)^gamma</code>, so training concentrates on the hard ones.</li></ul>"
        + study("imbalance"),
    )
    section(
        "intervals",
        "I need prediction intervals, not just a point",
        f"<p>Fit {L('quantile')} twice, with <code>q = 0.05</code> and <code>q = 0.95</code>: "
        "the two predictions bound a 90% interval. The loss is asymmetric: under-predicting "
        "costs <code>q</code> per unit and over-predicting <code>1 - q</code>, so the minimiser "
        "is the q-th quantile of the target.</p>"
        f"<p>If the noise is roughly Gaussian and its size varies per sample, "
        f"{L('gaussian_nll')} learns a mean and a variance at once.</p>" + study("sinc"),
    )
    section(
        "saturation",
        "My model's outputs saturate at 0 or 1",
        f"<p>Do not apply a sigmoid and then {L('binary_cross_entropy')}: once the sigmoid "
        "rounds to exactly 0 or 1 the gradient vanishes or the loss must be clipped. Give the "
        f"raw logits to {L('binary_cross_entropy_with_logits')} instead: it computes "
        "<code>log(1 + e^x)</code> stably, so a confidently wrong prediction still gets a "
        f"gradient of size 1. {L('focal_loss')} takes logits too.</p>" + study("saturation"),
    )
    section(
        "label-noise",
        "Some classification labels are wrong",
        f"<p>A mislabelled sample has a large negative margin. {L('exponential_loss')} (AdaBoost) "
        "punishes it exponentially, so a few wrong labels dominate training; "
        f"{L('logistic_loss')} grows only linearly (its gradient is bounded), and "
        f"{L('hinge')} likewise. {L('zero_one_loss')} is the bounded target they all "
        "approximate, for evaluation only.</p>" + study("margins"),
    )
    exact = [x.name for x in losses if x.spec.boosting.kind == "exact"]
    surrogate = [x.name for x in losses if x.spec.boosting.kind == "surrogate"]
    section(
        "boosting",
        "I need a custom gradient-boosting objective",
        "<p>XGBoost, LightGBM and CatBoost take the per-sample gradient and Hessian: "
        "<code>lossatlas.gbm.xgboost_objective(name)</code>, <code>lightgbm_objective</code> and "
        "<code>catboost_objective</code> turn any elementwise loss into one, with "
        "<code>initial_prediction</code> for the starting score; a class-axis loss (one raw "
        "score per class) becomes a multiclass objective through "
        "<code>xgboost_multiclass_objective</code> and <code>lightgbm_multiclass_objective</code>"
        ", started from <code>multiclass_initial_prediction</code>. These losses hand the booster "
        "their exact Hessian: "
        + ", ".join(L(n) for n in exact)
        + ". These get a documented positive surrogate, because their second derivative is "
        "zero, undefined, negative or vanishing (each loss's page shows both): "
        + ", ".join(L(n) for n in surrogate)
        + ".</p>"
        + study("sinc"),
    )
    present = {f: [x.name for x in losses if x.spec.family == f] for f in PLANNED_FAMILIES}
    lines = []
    for family, what in PLANNED_FAMILIES.items():
        if present[family]:
            lines.append(
                f"<li>{esc(_sentence(what.split(' (')[0]))}: "
                + ", ".join(L(n) for n in present[family])
                + ".</li>"
            )
        else:
            lines.append(f"<li>{esc(_sentence(what))}: planned, not in the catalogue yet.</li>")
    section(
        "boxes-sequences",
        "Bounding boxes and sequences",
        "<p>Losses for structured outputs:</p><ul>"
        + "".join(lines)
        + "</ul>"
        + f"<p>Until then, {L('smooth_l1')} is the classic loss for box coordinates "
        "(Fast R-CNN).</p>" + study("boxes"),
    )

    toc = "".join(f'<li><a href="#{i}">{esc(t)}</a></li>' for i, t, _ in sections)
    body = (
        "<h1>Which loss? A decision guide</h1>\n"
        '<p class="lede">Start from the problem you have. Each answer names losses from the '
        "catalogue and, where there is one, the study that shows the effect on data.</p>\n"
        f'<nav class="toc" aria-label="Problems"><ol>{toc}</ol></nav>\n'
        + "\n".join(s for _, _, s in sections)
    )
    return _page("Decision guide", body, root=root, current="guide")


# ---- studies ---------------------------------------------------------------------------------
def _study_table(headers: Sequence[Any], rows: Sequence[Sequence[Any]], caption: str = "") -> str:
    cells = [[_cell(v) for v in row] for row in rows]
    numeric = [
        bool(cells) and all(row[i][1] for row in cells if i < len(row)) for i in range(len(headers))
    ]
    return _table(
        [esc(h) for h in headers],
        [[c for c, _ in row] for row in cells],
        cls="study",
        caption=esc(caption) if caption else None,
        numeric=numeric,
    )


def study_page_html(
    report: Any,
    page_path: Path,
    *,
    in_site: bool = True,
    description: str = "",
    seed: int | None = None,
) -> str:
    """The HTML of one study page at ``page_path``; figures are linked relative to it.

    ``in_site``: the page sits in ``studies/`` of a built site (navigation links, assets in
    ``../assets``); otherwise it stands alone with its assets in ``assets/`` beside it.
    """
    page_dir = page_path.parent
    parts = [f"<h1>{esc(report.title)}</h1>"]
    if description:
        parts.append(f'<p class="lede">{esc(description)}</p>')
    if report.summary:
        parts.append(f'<p class="summary">{esc(report.summary)}</p>')
    parts.append('<section id="results"><h2>Results</h2>')
    parts.append(_study_table(report.headers, report.rows))
    for caption, headers, rows in report.extra_tables:
        parts.append(f"<h3>{esc(caption)}</h3>")
        parts.append(_study_table(headers, rows))
    parts.append("</section>")
    if report.notes:
        notes = "".join(f"<li>{esc(n)}</li>" for n in report.notes)
        parts.append(f'<section id="notes"><h2>Notes</h2><ul>{notes}</ul></section>')
    if report.figures:
        figs = "".join(
            f'<figure><img src="{esc(_rel(Path(p), page_dir))}" alt="{esc(_pretty(Path(p).stem))}">'
            f"<figcaption>{esc(_pretty(Path(p).stem))}</figcaption></figure>"
            for p in report.figures
        )
        parts.append(
            f'<section id="figures"><h2>Figures</h2><div class="figures wide">{figs}</div>'
            "</section>"
        )
    again = f"lossatlas study {report.name}" + (f" --seed {seed}" if seed is not None else "")
    parts.append(f'<p class="note">Reproduce: <code>{esc(again)}</code></p>')
    root = "../" if in_site else ""
    return _page(report.title, "\n".join(parts), root=root, nav=in_site, current="studies")


def write_study_page(
    report: Any, out_dir: Path, *, description: str = "", seed: int | None = None
) -> Path:
    """A stand-alone study page ``out_dir/<name>.html`` with its assets; returns its path."""
    out_dir = Path(out_dir)
    write_assets(out_dir / "assets")
    page = out_dir / f"{report.name}.html"
    html_text = study_page_html(report, page, in_site=False, description=description, seed=seed)
    return _write(page, html_text)


# ---- the whole site --------------------------------------------------------------------------
def build_site(out_dir: str | os.PathLike[str], *, progress: bool = True, seed: int = 0) -> Path:
    """Write the atlas into ``out_dir``; returns the path of ``index.html``.

    ``progress`` shows a progress bar on stderr; ``seed`` seeds every study. The same inputs
    give byte-identical HTML.
    """
    from tqdm import tqdm

    from . import plots
    from .studies import STUDIES, run_study

    out = Path(out_dir).resolve()
    figures_dir = out / "figures"
    losses = catalog()
    studies = list(STUDIES.values())
    total = 2 + len(losses) + 1 + len(studies)
    with tqdm(
        total=total, desc="atlas", unit="page", disable=not progress, file=sys.stderr, leave=False
    ) as bar:
        step: Callable[[str], None] = lambda what: (bar.set_postfix_str(what), bar.update(1))  # noqa: E731

        write_assets(out / "assets")
        hessians = {loss.name: hessian_kind(loss) for loss in losses}
        known = [loss.name for loss in losses]
        by_family = {f: [x.name for x in losses if x.spec.family == f] for f in _families(losses)}
        step("assets")

        for loss in losses:
            bar.set_postfix_str(loss.name)
            figures = plots.loss_figures(loss, figures_dir)
            page = out / "losses" / f"{loss.name}.html"
            _write(
                page,
                _loss_page(
                    loss,
                    hessians[loss.name],
                    figures,
                    page.parent,
                    known,
                    by_family[loss.spec.family],
                ),
            )
            bar.update(1)

        portraits = plots.family_portraits(figures_dir)
        _write(out / "portraits.html", _portraits_page(portraits, out))
        step("portraits")

        for study in studies:
            bar.set_postfix_str(f"study {study.name}")
            report = run_study(study.name, out / "studies" / study.name, seed=seed, progress=False)
            page = out / "studies" / f"{study.name}.html"
            _write(
                page,
                study_page_html(report, page, description=study.description, seed=seed),
            )
            bar.update(1)

        _write(out / "guide.html", _guide_page(losses, studies, hessians))
        step("guide")
        rows = [_Row(loss, hessians[loss.name]) for loss in losses]
        index = _write(out / "index.html", _index_page(rows, studies, bool(portraits)))
        step("index")
    return index
