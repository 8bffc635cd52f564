"""Metadata that describes a loss: the single source for docs, CLI, plots and tests.

A :class:`LossSpec` declares a loss's inputs (:class:`Input`: name, shape pattern, domain,
dtype kind, whether derivatives are taken with respect to it), its hyperparameters
(:class:`Param`), the shape of its unreduced output, its properties (per setting, through
:class:`Variant`), where its branches switch (``kinks``) and the one-dimensional path through
its inputs that plots and ``lossatlas show`` sweep (:class:`Probe`).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from ._domains import DOMAINS
from ._validate import interval_text

#: What the first argument of an elementwise loss holds (the domains of ``pred``).
PRED_DOMAINS = {
    name: DOMAINS[name].description
    for name in ("real", "logit", "probability", "positive", "nonnegative")
}
#: What the target of an elementwise loss holds.
TARGET_DOMAINS = {name: DOMAINS[name].description for name in ("real", "binary", "sign")} | {
    "nonnegative": "a count or rate >= 0"
}
BOOSTING_KINDS = {
    "exact": "the loss's own second derivative (floored at 1e-16 so a leaf's sum stays positive)",
    "surrogate": "a documented positive stand-in, where the second derivative is zero, "
    "undefined, negative or vanishing",
    "none": "not a boosting objective",
}
# references cited by the boosting Hessians of several losses
FRIEDMAN_2001 = (
    "Friedman, J. H. (2001). Greedy function approximation: a gradient boosting machine. "
    "Annals of Statistics 29(5), 1189-1232."
)
LIGHTGBM_2017 = (
    "Ke, G. et al. (2017). LightGBM: A Highly Efficient Gradient Boosting Decision Tree. "
    "NeurIPS 30."
)
SHARP_MAJORIZATION = (
    "de Leeuw, J., Lange, K. (2009). Sharp quadratic majorization in one dimension. "
    "Computational Statistics & Data Analysis 53(7), 2471-2484."
)

SMOOTHNESS = {
    "C0": "continuous, with kinks",
    "C1": "continuously differentiable; the second derivative jumps",
    "C2": "twice continuously differentiable; the third derivative jumps",
    "Cinf": "infinitely differentiable",
    "discontinuous": "a step function",
}
PARAM_KINDS = ("float", "int", "bool", "choice", "axis", "array")


# ---- inputs ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Input:
    """One array argument of a loss, in call order.

    Attributes:
        name: the argument's name ("pred", "logits", "target", "input_lengths").
        shape: its shape pattern (see ``lossatlas._shapes``): ``"*s"``, ``"*b C"``, ``"*b"``.
        domain: the name of its :class:`~lossatlas._domains.Domain` ("real", "class_index").
        dtype: "real" (floating point; integer and boolean arrays are cast to the compute
            dtype, as hard labels often come) or "index" (integers, never cast).
        differentiable: derivatives are taken with respect to it (pred, logits); targets and
            labels are not.
        class_axis: the dimension named by the loss's ``axis`` parameter holds the classes;
            the core moves it last before matching the pattern and running the kernels.
        alternatives: other forms the same argument may take (class indices or class
            probabilities): the first whose dtype kind and shape match is used.
        doc: what it holds, for the docs.
    """

    name: str
    shape: str
    domain: str
    dtype: str = "real"
    differentiable: bool = True
    class_axis: bool = False
    alternatives: tuple[Input, ...] = ()
    doc: str = ""

    def __post_init__(self) -> None:
        if self.domain not in DOMAINS:
            raise ValueError(f"input {self.name!r}: unknown domain {self.domain!r}")
        if self.dtype not in ("real", "index"):
            raise ValueError(f"input {self.name!r}: dtype must be 'real' or 'index'")
        if (self.dtype == "index") != DOMAINS[self.domain].index:
            raise ValueError(f"input {self.name!r}: an index dtype needs an index domain")

    @property
    def forms(self) -> tuple[Input, ...]:
        return (self, *self.alternatives)

    def pattern_text(self) -> str:
        """'*b' or '*b (class indices) | *b C (class probabilities)' for the docs."""
        if not self.alternatives:
            return self.shape
        return " | ".join(f"{f.shape or '()'} ({f.domain})" for f in self.forms)


def pair(pred_domain: str, target_domain: str) -> tuple[Input, Input]:
    """The inputs of an elementwise loss: ``pred`` and a ``target`` of the same shape."""
    return (
        Input("pred", "*s", pred_domain, doc="predictions"),
        Input("target", "*s", target_domain, differentiable=False, doc="targets"),
    )


# ---- hyperparameters ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Param:
    """A hyperparameter with its kind and allowed values.

    Kinds: "float" (in [low, high]; an unbounded end excludes infinity; ``excluded``, an open
    interval left out, as the Tweedie powers in (0, 1)), "int" (likewise),
    "bool", "choice" (one of ``choices``), "axis" (an axis of the input that carries the class
    axis) and "array" (a number or an array whose shape matches ``shape``, or, with a leading
    ``~``, broadcasts to it; values in ``domain``; ``learnable`` arrays become
    ``nn.Parameter``s in the torch modules; a ``positional`` array may follow the inputs).
    """

    name: str
    default: Any
    doc: str
    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True
    allow_none: bool = False
    kind: str = "float"
    choices: tuple[str, ...] = ()
    shape: str = ""
    domain: str = "real"
    learnable: bool = False
    positional: bool = False
    excluded: tuple[float, float] | None = None  # an open interval inside [low, high] left out

    def __post_init__(self) -> None:
        if self.kind not in PARAM_KINDS:
            raise ValueError(f"parameter {self.name!r}: unknown kind {self.kind!r}")
        if self.kind == "choice" and not self.choices:
            raise ValueError(f"parameter {self.name!r}: a choice needs its choices")
        if (self.learnable or self.positional) and self.kind != "array":
            raise ValueError(f"parameter {self.name!r}: only arrays are learnable or positional")

    def range_text(self) -> str:
        if self.kind == "bool":
            text = "True or False"
        elif self.kind == "choice":
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        elif self.kind == "axis":
            text = "an axis of the input (an integer; negative counts from the end)"
        elif self.kind == "array":
            where = self.shape.lstrip("~")
            if self.shape.startswith("~"):
                text = f"a number or an array broadcastable to [{where}]"
            elif where:
                text = f"an array of shape [{where}]"
            else:
                text = "a number or an array"
            if self.domain != "real":
                text += f", values {DOMAINS[self.domain].range_text()}"
        else:
            text = interval_text(
                self.low, self.high, self.low_inclusive, self.high_inclusive, self.excluded
            )
            if self.kind == "int":
                text = "an integer in " + text
        return text + " or None" if self.allow_none else text


# ---- properties --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Properties:
    """Mathematical properties, each tested against the implementation along the loss's probe.

    convex: convex in the differentiable input (the logit for logit losses).
    robust: the gradient with respect to it is bounded, so one outlier moves the fit by a
        bounded amount. For a loss defined over a reduction (rmse) it describes the minimiser:
        rmse has MSE's, the mean, so it is not robust.
    bounded: the loss itself is bounded above.
    redescending: the gradient goes to 0 far out (as |r| -> inf for a residual loss), so a
        gross outlier has no influence on the fit at all (robust statistics' redescending
        M-estimators; such a loss is not convex).
    nonnegative: the loss is >= 0 (false for a signed error such as the mean bias error).
    smoothness: one of ``SMOOTHNESS``.
    """

    convex: bool
    robust: bool
    smoothness: str
    bounded: bool = False
    redescending: bool = False
    nonnegative: bool = True


@dataclass(frozen=True)
class Variant:
    """What changes under some hyperparameter values: inputs, input domains, the output's
    shape pattern and properties.

    ``when`` holds the values that select the variant (all must match), or is a predicate of
    the hyperparameters with ``note`` saying it in words ("eps >= 1"); ``inputs`` maps an
    input name to the :class:`Input` it becomes there (another shape pattern, domain or class
    axis: a segmentation loss's binary mode has no class axis); ``domains`` maps an input
    name to its domain there; ``output`` replaces the unreduced output's shape pattern
    (``"N"`` in binary mode, ``"C"`` over the whole batch); ``properties`` overrides fields of
    :class:`Properties`. Every matching variant applies, in order (a later one's ``inputs``
    and ``output`` win; ``domains`` apply after ``inputs``).
    """

    when: Mapping[str, Any] | Callable[[Mapping[str, Any]], bool]
    domains: Mapping[str, str] = field(default_factory=dict)
    properties: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""
    inputs: Mapping[str, Input] = field(default_factory=dict)
    output: str | None = None

    def __post_init__(self) -> None:
        if callable(self.when) and not self.note:
            raise ValueError("a variant with a predicate needs a note that says it in words")

    def matches(self, params: Mapping[str, Any]) -> bool:
        if callable(self.when):
            return bool(self.when(params))
        return all(k in params and _same(params[k], v) for k, v in self.when.items())

    def describe(self) -> str:
        if self.note:
            return self.note
        return ", ".join(f"{k}={v!r}" for k, v in self.when.items())

    @property
    def names(self) -> set[str]:
        """The hyperparameters named by a mapping ``when`` (a predicate names none)."""
        return set() if callable(self.when) else set(self.when)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a is b
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class BoostingHessian:
    """The curvature a Newton-step booster (XGBoost, LightGBM, CatBoost) is given for a loss.

    A booster sets each leaf to ``-sum(grad) / (sum(hess) + lambda)``, so it needs a Hessian
    that is positive everywhere. kind: one of ``BOOSTING_KINDS``. formula: the surrogate as
    LaTeX (kind "surrogate"). reason: why the surrogate, or why the loss cannot be boosted.
    """

    kind: str = "exact"
    formula: str = ""
    reason: str = ""
    references: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in BOOSTING_KINDS:
            raise ValueError(f"unknown boosting Hessian kind {self.kind!r}")
        if self.kind != "exact" and not self.reason:
            raise ValueError(f"a boosting Hessian of kind {self.kind!r} needs a reason")
        if self.kind == "surrogate" and not self.formula:
            raise ValueError("a surrogate boosting Hessian needs its formula")


# ---- probes ------------------------------------------------------------------------------------
Make = Callable[[np.ndarray], dict[str, np.ndarray]]


@dataclass(frozen=True)
class Curve:
    """One line of a probe: inputs as a function of the probe variable t.

    ``make(t)`` returns every input (by name) batched over t: each array's first axis runs
    over t (an elementwise loss gets 1-D arrays; cross entropy (len(t), C) logits and
    (len(t),) labels). ``direction`` is d(differentiable input)/dt, of that input's shape: the
    derivatives along the probe are ``sum(direction * grad)`` and ``sum(direction**2 *
    hess)`` over each sample, exact because a probe moves one coordinate per sample.
    """

    label: str  # in legends: "y = 1", "target = 0"
    short: str  # in table headers: "y=1"
    make: Make
    direction: Callable[[np.ndarray], np.ndarray] | None = None


@dataclass(frozen=True)
class Probe:
    """A one-dimensional path through a loss's inputs, swept by plots and ``lossatlas show``.

    Attributes:
        key: what t is ("residual", "margin", "logit", "probability", "log-rate", "rate",
            "true-class margin", "offset"); losses on the same key share a plot axis.
        label: the x-axis label.
        column: the header of t in the table of ``lossatlas show``.
        caption: one line that says what the table holds.
        domain: the domain of t (its edge values are probed by the tests).
        xlim: the range drawn.
        table: the t values of the table.
        curves: one or more :class:`Curve` (one per target drawn).
        wrt: the variable of the derivatives, for axis labels ("pred", "logit", "p").
        batch: None for one sample per t; a number for a loss defined over a reduction
            (rmse): each t is then a batch of that many samples, reduced with "mean".
    """

    key: str
    label: str
    column: str
    caption: str
    domain: str
    xlim: tuple[float, float]
    table: tuple[float, ...]
    curves: tuple[Curve, ...]
    wrt: str
    batch: int | None = None

    @property
    def has_derivatives(self) -> bool:
        """Whether derivatives along the probe exist: one sample per t (not a batch reduced as
        a whole) and a direction for every curve."""
        return self.batch is None and all(c.direction is not None for c in self.curves)

    def grid(self) -> np.ndarray:
        """The values of t drawn: ``xlim`` in steps of 1/100 of a unit (1/1000 on a
        probability axis), the ends of a probability or a rate axis kept off 0 and 1, where
        most losses on them are infinite."""
        lo, hi = self.xlim
        step = 0.01 if hi - lo <= 6 else 0.02
        if self.domain == "probability":
            lo, hi, step = max(lo, 1e-3), min(hi, 1 - 1e-3), 1e-3
        elif DOMAINS[self.domain].low == 0.0:
            lo = max(lo, 1e-2)
        return np.linspace(lo, hi, round((hi - lo) / step) + 1)


# ---- the spec ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class LossSpec:
    """Everything known about a loss besides its kernels.

    An elementwise loss gives ``pred_domain`` and ``target_domain`` and gets the inputs
    ``pred`` and ``target`` of one shape ("*s"); any other loss declares ``inputs`` and the
    shape of its unreduced ``output`` ("*b": one value per sample).
    """

    name: str
    family: str
    summary: str
    properties: Properties
    formula: str
    references: tuple[str, ...]
    pred_domain: str = ""
    target_domain: str = ""
    inputs: tuple[Input, ...] = ()
    output: str = "*s"
    params: tuple[Param, ...] = ()
    aliases: tuple[str, ...] = ()
    framework_names: dict[str, str] = field(default_factory=dict)
    elementwise: bool = True
    derivative_notes: str = ""
    when_to_use: str = ""
    #: A few hyperparameter settings worth drawing side by side (the atlas plots one curve per
    #: setting, e.g. ``({"delta": 0.5}, {"delta": 1.0}, {"delta": 2.0})``); each dict holds
    #: keyword values for some of ``params`` (unnamed ones keep their defaults). Empty: draw the
    #: defaults only.
    showcase: tuple[dict[str, Any], ...] = ()
    #: What ``boosting_hess`` and the ``lossatlas.gbm`` objectives use as the Hessian.
    boosting: BoostingHessian = BoostingHessian()
    #: Domains and properties that change with the hyperparameters.
    variants: tuple[Variant, ...] = ()
    #: Where a branch switches, as values of the probe variable, given the hyperparameters.
    kinks: Callable[[Mapping[str, Any]], tuple[float, ...]] | None = None
    #: The probe for these hyperparameters; None: the default of an elementwise loss, on the
    #: natural variable of its domains (residual, margin, logit, probability, rate).
    probe: Callable[[Mapping[str, Any]], Probe] | None = None
    #: Random valid inputs ``sampler(rng, batch_shape, params) -> {name: NumPy array}``, for a
    #: loss whose inputs constrain one another (CTC's labels and lengths); None: each input is
    #: drawn from its own domain.
    sampler: Callable[[np.random.Generator, tuple[int, ...], Mapping[str, Any]], dict] | None = None
    #: Terms of the value that autodiff holds constant (``stop_gradient``: CIoU's trade-off
    #: weight alpha, as its paper prescribes): the gradient is then not the derivative of the
    #: value, and tests that compare it with finite differences of the value must not.
    held_constant: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.inputs:
            if not (self.pred_domain and self.target_domain):
                raise ValueError(f"{self.name}: give inputs, or pred_domain and target_domain")
            object.__setattr__(self, "inputs", pair(self.pred_domain, self.target_domain))
        if not self.pred_domain:
            object.__setattr__(self, "pred_domain", self.inputs[0].domain)
        if not self.target_domain and len(self.inputs) > 1:
            object.__setattr__(self, "target_domain", self.inputs[1].domain)
        if self.boosting.kind != "none" and not (self.elementwise or self.inputs[0].class_axis):
            # a class-axis loss is a multiclass objective: one raw score per class
            raise ValueError(
                f"{self.name}: only an elementwise or a class-axis loss can be boosted"
            )
        if self.properties.smoothness not in SMOOTHNESS:
            raise ValueError(f"{self.name}: unknown smoothness {self.properties.smoothness!r}")
        names = {p.name for p in self.params}
        if len(names) != len(self.params):
            raise ValueError(f"{self.name}: a parameter is declared twice")
        clash = names & {i.name for i in self.inputs}
        if clash:
            raise ValueError(f"{self.name}: {sorted(clash)} are both inputs and parameters")
        for setting in self.showcase:
            unknown = set(setting) - names
            if unknown:
                raise ValueError(f"{self.name}: showcase names unknown params {sorted(unknown)}")
        known_props = {f.name for f in fields(Properties)}
        for variant in self.variants:
            unknown = (variant.names - names) | (set(variant.domains) - set(self.input_names))
            unknown |= set(variant.inputs) - set(self.input_names)
            unknown |= {k for k, i in variant.inputs.items() if i.name != k}
            unknown |= set(variant.properties) - known_props
            if unknown:
                raise ValueError(f"{self.name}: a variant names unknown {sorted(unknown)}")

    # ---- lookups ------------------------------------------------------------------------------
    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.inputs)

    def input(self, name: str) -> Input:
        for i in self.inputs:
            if i.name == name:
                return i
        raise KeyError(name)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def drawn(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``params`` with each required parameter they lack (gaussian_nll's var) given as 1:
        the setting that plots, ``lossatlas show`` and the tests draw a loss at."""
        out = dict(params or {})
        for p in self.params:
            if p.default is inspect.Parameter.empty and p.name not in out:
                out[p.name] = 1.0
        return out

    @property
    def positional_params(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params if p.positional)

    # ---- what changes with the hyperparameters ------------------------------------------------
    def _variants(self, params: Mapping[str, Any]) -> list[Variant]:
        full = {**self.defaults, **params}
        return [v for v in self.variants if v.matches(full)]

    def inputs_for(self, params: Mapping[str, Any] | None = None) -> tuple[Input, ...]:
        """The inputs under these hyperparameters (defaults for the rest): ``inputs`` with
        those that a matching variant replaces (same names, same order)."""
        current = {i.name: i for i in self.inputs}
        for variant in self._variants(params or {}):
            current.update(variant.inputs)
        return tuple(current[n] for n in self.input_names)

    def output_for(self, params: Mapping[str, Any] | None = None) -> str:
        """The shape pattern of the unreduced output under these hyperparameters."""
        output = self.output
        for variant in self._variants(params or {}):
            output = variant.output if variant.output is not None else output
        return output

    def domain_of(self, name: str, params: Mapping[str, Any] | None = None) -> str:
        """The domain of input ``name`` under these hyperparameters (defaults for the rest)."""
        variants = self._variants(params or {})
        domain = self.input(name).domain
        for variant in variants:
            if name in variant.inputs:
                domain = variant.inputs[name].domain
        for variant in variants:
            domain = variant.domains.get(name, domain)
        return domain

    def properties_for(self, params: Mapping[str, Any] | None = None) -> Properties:
        """The properties under these hyperparameters (defaults for the rest)."""
        props = self.properties
        for variant in self._variants(params or {}):
            props = replace(props, **variant.properties)
        return props

    def kinks_for(self, params: Mapping[str, Any] | None = None) -> tuple[float, ...]:
        """Values of the probe variable where a branch switches (sorted, finite)."""
        if self.kinks is None:
            return ()
        points = self.kinks({**self.defaults, **(params or {})})
        return tuple(sorted({float(p) for p in points if p is not None and math.isfinite(p)}))
