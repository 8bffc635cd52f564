"""Metadata that describes a loss: the single source for docs, CLI, plots and tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# What the first argument of a loss holds, and what its x-axis is in plots.
PRED_DOMAINS = {
    "real": "any real number (a prediction)",
    "logit": "any real number (a logit, the input of a sigmoid)",
    "probability": "a probability in [0, 1]",
    "positive": "a positive number",
    "nonnegative": "a number >= 0",
}
TARGET_DOMAINS = {
    "real": "any real number",
    "binary": "a label in [0, 1] (hard 0/1 or soft)",
    "sign": "a label in {-1, 1} (0 is read as -1)",
    "nonnegative": "a count or rate >= 0",
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
    "Cinf": "infinitely differentiable",
    "discontinuous": "a step function",
}


@dataclass(frozen=True)
class Param:
    """A scalar hyperparameter with its allowed range."""

    name: str
    default: Any
    doc: str
    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True
    allow_none: bool = False
    kind: str = "float"  # "float" or "bool" or "array" (an array or a number)

    def range_text(self) -> str:
        if self.kind == "bool":
            return "True or False"
        if self.kind == "array":
            return "a number or an array broadcastable to pred"
        left = (
            "(-inf" if self.low is None else ("[" if self.low_inclusive else "(") + f"{self.low:g}"
        )
        right = (
            "inf)"
            if self.high is None
            else f"{self.high:g}" + ("]" if self.high_inclusive else ")")
        )
        text = f"{left}, {right}"
        return text + " or None" if self.allow_none else text


@dataclass(frozen=True)
class Properties:
    """Mathematical properties, each tested against the implementation.

    convex: convex in pred (the logit for logit losses).
    robust: the gradient with respect to pred is bounded, so one outlier moves the fit by a
        bounded amount. For a loss defined over a reduction (rmse) it describes the minimiser:
        rmse has MSE's, the mean, so it is not robust.
    bounded: the loss itself is bounded above.
    nonnegative: the loss is >= 0 (false for a signed error such as the mean bias error).
    smoothness: one of ``SMOOTHNESS``.
    """

    convex: bool
    robust: bool
    smoothness: str
    bounded: bool = False
    nonnegative: bool = True  # l >= 0, and 0 when pred equals the target (regression)


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


@dataclass(frozen=True)
class LossSpec:
    name: str
    family: str
    summary: str
    pred_domain: str
    target_domain: str
    properties: Properties
    formula: str
    references: tuple[str, ...]
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

    def __post_init__(self) -> None:
        if not self.elementwise and self.boosting.kind != "none":
            raise ValueError(f"{self.name}: a loss that is not elementwise cannot be boosted")
        if self.pred_domain not in PRED_DOMAINS:
            raise ValueError(f"{self.name}: unknown pred_domain {self.pred_domain!r}")
        if self.target_domain not in TARGET_DOMAINS:
            raise ValueError(f"{self.name}: unknown target_domain {self.target_domain!r}")
        if self.properties.smoothness not in SMOOTHNESS:
            raise ValueError(f"{self.name}: unknown smoothness {self.properties.smoothness!r}")
        names = {p.name for p in self.params}
        for setting in self.showcase:
            unknown = set(setting) - names
            if unknown:
                raise ValueError(f"{self.name}: showcase names unknown params {sorted(unknown)}")

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}
