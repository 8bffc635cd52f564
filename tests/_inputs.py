"""Shared helpers for the registry-driven tests.

Everything here reads a loss's ``spec`` (inputs with their shape patterns and domains,
parameters and their ranges) so that a loss registered later is covered without touching the
tests:

- ``param_sets(loss)``: the defaults plus non-default values drawn from each parameter's range;
- ``make_inputs(loss, params)``: random valid inputs (every declared input, sampled from its
  domain at the shapes its pattern gives; positional arrays; array parameters), as NumPy;
- ``convert`` / ``to_numpy``: move arrays between NumPy, PyTorch, JAX and array-api-strict;
- ``evaluate``: call a loss on one backend (``jax_jit`` runs it under ``jax.jit``);
- ``autodiff_jax`` / ``autodiff_torch``: per-sample first derivatives and Hessian diagonals
  with respect to the first input, by autodiff.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import array_api_strict as xps
import jax
import jax.numpy as jnp
import numpy as np
import torch
from array_api_compat import (
    array_namespace,
    is_array_api_strict_namespace,
    is_jax_array,
    is_numpy_array,
    is_torch_array,
)

import lossatlas
from lossatlas import Loss, LossInputError, Param
from lossatlas._backends import fast_path
from lossatlas._domains import DOMAINS

jax.config.update("jax_enable_x64", True)

SHAPE = (8, 5)  # the output (batch) shape: 2-D so that a (N, 1) weight broadcasts over (N, D)
N_CLASSES = 5  # the size of a class axis ("C" in a shape pattern)
BACKENDS = ("numpy", "torch", "jax", "jax_jit", "array_api_strict")
REDUCTIONS = ("none", "sum", "mean", "sum_by_nonzero_weights")

REQUIRED = inspect.Parameter.empty
ALL_LOSSES = lossatlas.catalog()
ELEMENTWISE_LOSSES = [loss for loss in ALL_LOSSES if loss.spec.elementwise]


def per_sample(loss: Loss) -> bool:
    """The loss has a value per sample (elementwise or over a class axis), not only over a
    reduction of the whole batch (rmse). A structured loss always has its unreduced output,
    even where its default is one value over the whole batch (lovasz_softmax's
    per_image=False, whose probe takes each t as a batch of one image)."""
    return structured(loss) or loss.probe(**loss.spec.drawn({})).batch is None


def has_derivatives(loss: Loss) -> bool:
    return hasattr(loss, "grad") and hasattr(loss, "hess")


def bindable(loss: Loss, params: dict[str, Any]) -> dict[str, Any]:
    """The hyperparameters of a param set that ``loss.bind`` takes as they are: without the
    test's placeholders ('full', 'row' arrays, the ``_form`` key), a required var as 1; the
    value of a choice parameter (a string too) is kept."""
    kinds = {p.name: p.kind for p in loss.spec.params}
    drawn = loss.spec.drawn(loss_params(params))
    return {k: v for k, v in drawn.items() if not (isinstance(v, str) and kinds[k] == "array")}


# ---- parameters ---------------------------------------------------------------------------------
# Non-default values the generic rule would not pick (values named in the test plan).
SUGGESTED: dict[str, tuple[Any, ...]] = {
    "gamma": (0.0, 0.5, 1.0, 1.5, 5.0),  # gamma < 1 breaks naive focal gradients
    "q": (0.1, 0.9),
    "delta": (0.5, 3.0),
    "ignore_index": (-100, 1),  # the usual padding value, and a real class
    "axis": (0,),  # the class axis first
}
SUGGESTED_NULLABLE_EPS = (1e-7, 0.05)  # the Keras/TensorFlow clip of probabilities


def in_range(p: Param, value: Any) -> bool:
    if value is None:
        return p.allow_none
    if p.low is not None and (value < p.low or (value == p.low and not p.low_inclusive)):
        return False
    if p.excluded is not None and p.excluded[0] < value < p.excluded[1]:
        return False
    return not (
        p.high is not None and (value > p.high or (value == p.high and not p.high_inclusive))
    )


def float_candidates(p: Param) -> list[Any]:
    """Non-default values for a float or int parameter, drawn from its declared range."""
    if p.name == "eps" and p.allow_none:
        values: list[Any] = list(SUGGESTED_NULLABLE_EPS)
    elif p.name in SUGGESTED:
        values = list(SUGGESTED[p.name])
    elif p.low is not None and p.high is not None:
        width = p.high - p.low
        values = [
            p.low if p.low_inclusive else p.low + 0.1 * width,
            p.high if p.high_inclusive else p.high - 0.1 * width,
        ]
        if p.low_inclusive and p.low == p.default:
            values[0] = p.low + 0.1 * width
    elif p.low is not None:
        values = [p.low if p.low_inclusive else p.low + 0.5, p.low + 3.0]
    elif p.high is not None:
        values = [p.high - 3.0, p.high if p.high_inclusive else p.high - 0.5]
    else:
        values = [-1.0, 1.0]
    if p.kind == "int":
        values = [int(v) for v in values]
    if p.allow_none:
        values.append(None)
    values = [v for v in values if v != p.default and in_range(p, v)]
    assert values, f"no non-default value found for parameter {p.name!r}"
    return values


def array_candidates(p: Param) -> list[Any]:
    """Array parameters: 'full' (the shape of its pattern), 'row' (one value per row, for a
    pattern that broadcasts) or a number."""
    if p.default is REQUIRED:
        return ["row", 0.7]
    if p.shape.startswith("~"):
        return ["full", 2.5]
    return ["full"]


def candidates(p: Param) -> list[Any]:
    if p.kind == "array":
        return array_candidates(p)
    if p.kind == "choice":
        return [c for c in p.choices if c != p.default]
    if p.kind == "axis":
        return [v for v in SUGGESTED["axis"] if v != p.default]
    return float_candidates(p)


def default_params(loss: Loss) -> dict[str, Any]:
    """The defaults, with a required array parameter filled in as a full-shape array."""
    out = {}
    for p in loss.spec.params:
        out[p.name] = "full" if p.default is REQUIRED else p.default
    return out


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def param_sets(loss: Loss) -> list[tuple[str, dict[str, Any]]]:
    """(id, params): the defaults, and each parameter changed alone, from each boolean base.

    Bases are the defaults and the defaults with one boolean flipped (a flag can change the
    domain of pred, e.g. ``from_logits``); from every base each other parameter takes its
    non-default values one at a time. An input with alternative forms (class indices or
    class probabilities) gets its other forms on each base, under the key ``_form``. An
    option in ``SHARED_OPTIONS`` is varied on its representative loss only, and a flipped flag
    of a segmentation loss is crossed with less (``_varied_on``).
    """
    defaults = default_params(loss)
    shared = _shared_elsewhere(loss)
    bools = [p for p in loss.spec.params if p.kind == "bool" and p.name not in shared]
    others = [p for p in loss.spec.params if p.kind != "bool" and p.name not in shared]
    bases: list[dict[str, Any]] = [{}] + [{b.name: not b.default} for b in bools]
    out: dict[str, dict[str, Any]] = {}
    # an input's other forms (class indices for probabilities), unless varied on another loss
    alternatives = [i for i in loss.spec.inputs if i.alternatives and "_form" not in shared]
    for base in bases:
        variants = [base]
        varied = _varied_on(loss, base)
        for p in others:
            if varied is not None and p.name not in varied:
                continue
            values = candidates(p)
            if varied is not None and p.name != "mode":  # (segmentation, on a flag: once)
                values = values[:1]
            variants += [{**base, p.name: v} for v in values]
        for item in alternatives:
            for k in range(1, len(item.forms)):
                variants.append({**base, "_form": {item.name: k}})
        for changes in variants:
            key = ",".join(f"{k}={_fmt(v)}" for k, v in changes.items()) or "default"
            key = key.replace("_form=", "form=")
            if _valid_together(loss, {**defaults, **changes}):
                out.setdefault(key, {**defaults, **changes})
    return list(out.items())


OVERLAP_LOSSES = (
    "dice_loss",
    "jaccard_loss",
    "tversky_loss",
    "focal_tversky_loss",
    "generalized_dice_loss",
    "dice_ce_loss",
)
#: options that several losses take through the same code: (the losses, the options, the
#: loss they are varied on). On the others they stay at their defaults while their own
#: parameters, modes and flags are still varied (each setting of a structured loss costs
#: the generic suites seconds: 2 to 6 s per setting of an overlap or Lovász loss).
SHARED_OPTIONS: tuple[tuple[tuple[str, ...], tuple[str, ...], str], ...] = (
    # the overlap losses' pixel selection, class weights, sums and target forms (seg_params,
    # soft_counts; "_form": class indices, one-hot encoded by the same code)
    (
        OVERLAP_LOSSES,
        ("ignore_index", "class_weight", "per_image", "smooth", "axis", "_form"),
        "dice_loss",
    ),
    # Dice's squared denominator, which dice_ce_loss takes to dice_loss
    (("dice_loss", "dice_ce_loss"), ("squared",), "dice_loss"),
    # the Tversky index's weights (the focal Tversky loss is a power of the Tversky loss)
    (("tversky_loss", "focal_tversky_loss"), ("alpha", "beta"), "tversky_loss"),
    # the box formats (boxes._parts and its torch twin); eps enters each kind's own terms
    (("iou_loss", "giou_loss", "diou_loss", "ciou_loss"), ("fmt",), "iou_loss"),
    # the contrastive losses: the temperature divides the similarities, the normalisation and
    # logit_scale go through one helper each (contrastive.unit, _scale)
    (("info_nce", "nt_xent", "supervised_contrastive"), ("temperature",), "info_nce"),
    (("info_nce", "clip_loss", "siglip_loss"), ("normalize",), "clip_loss"),
    (("clip_loss", "siglip_loss"), ("logit_scale",), "clip_loss"),
    # the metric losses' hinge margin (one _relu of distance gaps; the Circle loss's margin
    # is another thing and varies on its own), triplet's eps and the Circle loss's gamma:
    # varied in test_metric_learning against torch, PML and Keras, not here ("": no loss)
    (("contrastive_loss", "batch_hard_triplet_loss"), ("margin",), "triplet_margin_loss"),
    (("triplet_margin_loss",), ("eps",), ""),
    (("circle_loss",), ("gamma",), ""),
    # the ranking losses' margins enter through one hinge (ranking._hinge): varied here on
    # margin_ranking_loss, and for each loss in test_ranking against torch; the item weights
    # of ranking_softmax_loss multiply its labels: varied in test_ranking against optax
    (
        ("margin_ranking_loss", "hinge_embedding_loss", "cosine_embedding_loss"),
        ("margin",),
        "margin_ranking_loss",
    ),
    (("ranking_softmax_loss",), ("item_weights",), ""),
)

#: the segmentation loss whose flipped flags are crossed with ``mode`` (every other option is
#: changed from the defaults alone, and on the other segmentation losses a flipped flag is
#: crossed with nothing: ignore_index and class_weight on logits are test_segmentation's,
#: against MONAI and the library's cross entropy)
SEGMENTATION_REPRESENTATIVE = "dice_loss"


def _shared_elsewhere(loss: Loss) -> tuple[str, ...]:
    """The options of ``loss`` that the generic suites vary on another loss (SHARED_OPTIONS)."""
    return tuple(
        option
        for losses, options, representative in SHARED_OPTIONS
        if loss.name in losses and loss.name != representative
        for option in options
    )


def _varied_on(loss: Loss, base: dict[str, Any]) -> tuple[str, ...] | None:
    """The options varied on ``base`` (one value each but every mode), or None for all of
    them (every value): None on the defaults and for every loss outside the segmentation
    and metric families (a metric loss's flag is flipped alone)."""
    if base and loss.spec.family == "metric":  # a flipped flag (swap, soft) on its own
        return ()
    if not base or loss.spec.family != "segmentation":
        return None
    return ("mode",) if loss.name == SEGMENTATION_REPRESENTATIVE else ()


def _valid_together(loss: Loss, params: dict[str, Any]) -> bool:
    """False for values that are valid alone but not together (cross entropy's softcap on
    probabilities): the loss refuses them, tested in test_errors."""
    kinds = {p.name: p.kind for p in loss.spec.params}
    scalars = {k: v for k, v in loss_params(params).items() if kinds[k] != "array"}
    try:
        loss.bind(partial=True, **scalars)
    except LossInputError:
        return False
    return True


def loss_params(params: dict[str, Any]) -> dict[str, Any]:
    """The hyperparameters of a param set (without the test-only ``_form`` key)."""
    return {k: v for k, v in params.items() if k != "_form"}


def pred_domain(loss: Loss, params: dict[str, Any]) -> str:
    kinds = {p.name: p.kind for p in loss.spec.params}
    bound = {k: v for k, v in loss_params(params).items() if kinds[k] != "array"}
    return loss.pred_domain(**bound)


def target_domain(loss: Loss, params: dict[str, Any]) -> str:
    """The domain of the second input under these hyperparameters (a Tweedie power of 2 or
    more makes the targets positive, a power of 0 real)."""
    kinds = {p.name: p.kind for p in loss.spec.params}
    bound = {k: v for k, v in loss_params(params).items() if kinds[k] != "array"}
    return loss.spec.domain_of(loss.spec.input_names[1], bound)


def is_base(loss: Loss, params: dict[str, Any]) -> bool:
    """The defaults, or the defaults with one boolean flag flipped (e.g. ``from_logits``)."""
    defaults = default_params(loss)
    if "_form" in params:
        return False
    changed = [p for p in loss.spec.params if params[p.name] != defaults[p.name]]
    return not changed or (len(changed) == 1 and changed[0].kind == "bool")


def float_params(params: dict[str, Any]) -> list[float]:
    return [
        float(v)
        for v in loss_params(params).values()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v is not None
    ]


# ---- inputs -------------------------------------------------------------------------------------
def _arrays_only(f: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda a: a if isinstance(a, (int, float)) else f(a)


@dataclass
class Inputs:
    """Arguments of one call: ``loss(*values, *arrays, **array_params, **params)``.

    ``values`` holds the loss's inputs by name, in declared order; ``pred`` and ``target``
    are the first two (logits and labels for cross entropy).
    """

    values: dict[str, Any]
    arrays: tuple[Any, ...] = ()
    array_params: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    class_axis: int | None = None  # the class axis of the first input, if it has one
    event_ndim: int = 0  # trailing axes of the first input per sample (CTC's T and C)
    # a loss whose output is not the first input's shape less some axes (a segmentation
    # loss: pred (N, *spatial, C), output (N, C) or (C,)): the output shape, from the spec's
    # patterns, and how many leading axes of the inputs and the output index samples (1: N;
    # 0: the output reduces the whole batch, which is then one sample)
    out_shape: tuple[int, ...] | None = None
    batch_ndim: int | None = None

    @property
    def names(self) -> list[str]:
        return list(self.values)

    @property
    def pred(self) -> Any:
        return self.values[self.names[0]]

    @pred.setter
    def pred(self, value: Any) -> None:
        self.values = {**self.values, self.names[0]: value}

    @property
    def target(self) -> Any:
        return self.values[self.names[1]]

    @target.setter
    def target(self, value: Any) -> None:
        self.values = {**self.values, self.names[1]: value}

    def map(self, f: Callable[[Any], Any], *, index: bool = True) -> Inputs:
        """Apply ``f`` to every array (numbers given for array parameters stay as they are;
        with ``index=False`` integer arrays stay as they are too)."""
        g = _arrays_only(f)

        def h(a: Any) -> Any:
            if not index and _is_integer(a):
                return a
            return g(a)

        return replace(
            self,
            values={k: h(v) for k, v in self.values.items()},
            arrays=tuple(h(a) for a in self.arrays),
            array_params={k: h(v) for k, v in self.array_params.items()},
        )

    def per_sample_map(self, f: Callable[[Any], Any]) -> Inputs:
        """Apply ``f`` to the arrays that hold one value per sample: the inputs, and for an
        elementwise loss its array parameters (a class weight holds one per class)."""
        values = {k: f(v) for k, v in self.values.items()}
        if self.class_axis is not None or self.out_shape is not None:
            return replace(self, values=values)
        g = _arrays_only(f)
        return replace(
            self,
            values=values,
            arrays=tuple(g(a) for a in self.arrays),
            array_params={k: g(v) for k, v in self.array_params.items()},
        )

    def call(self, fn: Callable[..., Any], **kw: Any) -> Any:
        return fn(*self.values.values(), *self.arrays, **self.array_params, **self.params, **kw)

    def tensors(self) -> list[Any]:
        return [*self.values.values(), *self.arrays, *self.array_params.values()]

    def output_shape(self) -> tuple[int, ...]:
        if self.out_shape is not None:
            return self.out_shape
        shape = tuple(np.shape(self.pred))
        if self.class_axis is None:
            return shape[: len(shape) - self.event_ndim]
        return shape[: self.class_axis] + shape[self.class_axis + 1 :]

    def broadcast_arrays(self) -> Inputs:
        """Array parameters of an elementwise loss expanded to pred's shape."""
        if self.class_axis is not None or self.event_ndim or self.out_shape is not None:
            return self
        shape = np.shape(self.pred)
        return replace(
            self,
            arrays=tuple(np.broadcast_to(a, shape).copy() for a in self.arrays),
            array_params={
                k: np.broadcast_to(v, shape).copy() for k, v in self.array_params.items()
            },
        )

    def flat(self) -> Inputs:
        """The output axes flattened into one (a class axis moved last stays an axis); inputs
        with an explicit output shape already have one batch axis (or none) and stay."""
        if self.out_shape is not None:
            return self
        out = self.output_shape()
        n = int(np.prod(out)) if out else 1

        def flatten(a: Any) -> Any:
            a = np.asarray(a)
            if self.class_axis is not None and a.ndim == len(out) + 1:
                a = np.moveaxis(a, self.class_axis, -1) if self.class_axis >= 0 else a
                return a.reshape((n, a.shape[-1]))
            if a.shape[: len(out)] == out and a.ndim - len(out) <= self.event_ndim:
                return a.reshape((n, *a.shape[len(out) :]))
            return a

        flat = self.map(flatten)
        if self.class_axis is not None:
            flat = replace(flat, class_axis=1, params={**flat.params, "axis": -1})
        return flat


def _is_integer(a: Any) -> bool:
    dtype = getattr(a, "dtype", None)
    if dtype is None:
        return False
    if is_torch_array(a):
        return not a.dtype.is_floating_point and a.dtype != torch.bool
    return np.issubdtype(np.dtype(str(dtype)), np.integer) if str(dtype) != "bfloat16" else False


def positive(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return np.abs(rng.normal(size=shape)) + 0.1


def _dims(pattern: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    out: list[int] = []
    for token in pattern.split():
        if token.startswith("*"):
            out.extend(shape)
        elif token.isdigit():
            out.append(int(token))
        elif token == "C":
            out.append(N_CLASSES)
        else:
            out.append(3)
    return tuple(out)


def structured(loss: Loss, params: dict[str, Any] | None = None) -> bool:
    """The loss's output is not its first input's shape less a class axis or trailing event
    axes: its output pattern names axes beyond a leading batch group (a segmentation loss:
    pred "N *s C", output "N C", "C", "N" or "")."""
    out = loss.spec.output_for(scalar_params(loss, params or {})).split()
    return not out or not out[0].startswith("*")


def scalar_params(loss: Loss, params: dict[str, Any]) -> dict[str, Any]:
    """The hyperparameters of a param set without its arrays (for the spec's lookups)."""
    kinds = {p.name: p.kind for p in loss.spec.params}
    return {k: v for k, v in loss_params(params).items() if kinds.get(k) != "array"}


def class_axis_of(loss: Loss, params: dict[str, Any], ndim: int) -> int | None:
    if structured(loss, params):  # a class axis that the output keeps: no per-sample axis
        return None
    first = loss.spec.inputs_for(scalar_params(loss, params))[0]
    if not first.class_axis:
        return None
    return int(params.get("axis", -1)) % ndim


def split_params(
    loss: Loss, params: dict[str, Any], rng: np.random.Generator, shape: tuple[int, ...]
) -> tuple[tuple[Any, ...], dict[str, Any], dict[str, Any]]:
    """(positional arrays, array keyword parameters, scalar parameters), arrays materialised:
    'full' at the shape of the parameter's pattern, 'row' with a last axis of 1."""
    arrays: dict[str, Any] = {}
    array_params: dict[str, Any] = {}
    scalars: dict[str, Any] = {}
    specs = {p.name: p for p in loss.spec.params}
    for name, value in loss_params(params).items():
        p = specs[name]
        if p.kind != "array" or value is None or not isinstance(value, str):
            if p.kind == "array" and isinstance(value, np.ndarray):
                array_params[name] = value
            else:
                scalars[name] = value
            continue
        if structured(loss, params):
            full = _structured_dims(loss, params, p.shape.lstrip("~"), shape)
        else:
            full = _dims(p.shape.lstrip("~"), shape)
        value = positive(rng, full if value == "full" else (*full[:-1], 1))
        if p.positional:
            arrays[name] = value
        else:
            array_params[name] = value
    # a positional parameter given as a number stays positional
    for p in loss.spec.params:
        if p.positional and p.name in scalars and scalars[p.name] is not None:
            arrays[p.name] = scalars.pop(p.name)
    ordered = tuple(arrays[p.name] for p in loss.spec.params if p.positional and p.name in arrays)
    return ordered, array_params, scalars


def sample_input(
    loss: Loss,
    name: str,
    params: dict[str, Any],
    rng: np.random.Generator,
    shape: tuple[int, ...],
    form: int = 0,
) -> np.ndarray:
    """One input sampled from its declared domain at the shape its pattern gives."""
    declared = {i.name: i for i in loss.spec.inputs_for(scalar_params(loss, params))}
    item = declared[name].forms[form]
    domain = loss.spec.domain_of(name, scalar_params(loss, params)) if form == 0 else item.domain
    if domain == "nonnegative" and item.differentiable and item.class_axis:
        # a predicted measure (generalized_kl_divergence): 0 under target mass is an infinite
        # loss, so random predictions are positive (the edge tests hold the zeros)
        domain = "positive"
    n_classes = N_CLASSES
    dims = None
    if structured(loss, params):
        dims = _structured_dims(loss, params, item.shape, shape)
        n_classes = _structured_sizes(loss, params, shape)["C"]
    values = DOMAINS[domain].sample(rng, dims or _dims(item.shape, shape), n_classes=n_classes)
    ignore = params.get("ignore_index")
    if (DOMAINS[domain].index or DOMAINS[domain].ignorable) and ignore is not None:
        values = np.where(rng.random(values.shape) < 0.2, ignore, values)
    if item.class_axis and params.get("axis", -1) != -1:
        values = np.moveaxis(values, -1, params["axis"])
    return values


def make_inputs(
    loss: Loss, params: dict[str, Any], seed: int = 0, shape: tuple[int, ...] = SHAPE
) -> Inputs:
    """Random valid inputs for ``loss`` with ``params``: every input sampled from its domain
    (the first form, or the one ``params["_form"]`` names) at the shapes of its pattern, or
    all together by the spec's sampler, with ``shape`` the output (batch) shape."""
    rng = np.random.default_rng(seed)
    forms = params.get("_form", {})
    if loss.spec.sampler is not None:  # inputs that constrain one another (CTC's lengths)
        values = loss.spec.sampler(rng, shape, loss_params(params))
    else:
        values = {
            i.name: sample_input(loss, i.name, params, rng, shape, forms.get(i.name, 0))
            for i in loss.spec.inputs
        }
    arrays, array_params, scalars = split_params(loss, params, rng, shape)
    first = next(iter(values.values()))
    out_shape = batch_ndim = None
    if structured(loss, params):
        out_shape, batch_ndim = structured_output(loss, params, shape)
    return Inputs(
        values, arrays, array_params, scalars, class_axis_of(loss, params, np.ndim(first)),
        event_ndim(loss), out_shape, batch_ndim,
    )  # fmt: skip


SPATIAL = (3, 2)  # the spatial axes ("*s") of a structured loss's inputs


def _structured_sizes(loss: Loss, params: dict[str, Any], shape: tuple[int, ...]) -> dict[str, Any]:
    """The sizes of a structured loss's named axes for a requested output ``shape``: N is
    shape[0] (the samples), C shape[1] for an output "N C" of a 2-D request ((8, 5)), else
    N_CLASSES; "*s" is ``SPATIAL``."""
    out = loss.spec.output_for(scalar_params(loss, params)).split()
    sizes: dict[str, Any] = {"N": shape[0] if shape else 1, "C": N_CLASSES, "s": SPATIAL}
    if out == ["N", "C"] and len(shape) == 2:
        sizes["C"] = shape[1]
    return sizes


def _structured_dims(
    loss: Loss, params: dict[str, Any], pattern: str, shape: tuple[int, ...]
) -> tuple[int, ...]:
    sizes = _structured_sizes(loss, params, shape)
    dims: list[int] = []
    for token in pattern.split():
        if token.startswith("*"):
            dims.extend(sizes[token[1:]])
        elif token.isdigit():
            dims.append(int(token))
        else:
            dims.append(sizes.get(token, 3))
    return tuple(dims)


def structured_output(
    loss: Loss, params: dict[str, Any], shape: tuple[int, ...] = SHAPE
) -> tuple[tuple[int, ...], int]:
    """(the output shape, its leading sample axes: 1 for "N ...", else 0) of a structured
    loss whose inputs ``make_inputs`` drew for the requested output ``shape``."""
    pattern = loss.spec.output_for(scalar_params(loss, params))
    dims = _structured_dims(loss, params, pattern, shape)
    return dims, int(pattern.split()[:1] == ["N"])


def output_shape_for(
    loss: Loss, params: dict[str, Any], shape: tuple[int, ...] = SHAPE
) -> tuple[int, ...]:
    """The shape of the unreduced output of ``make_inputs(loss, params, shape=shape)``:
    ``shape`` itself, but for a structured loss whose output pattern cannot take it."""
    return structured_output(loss, params, shape)[0] if structured(loss, params) else shape


def event_ndim(loss: Loss) -> int:
    """The trailing axes of the first input that belong to one sample, for a loss without a
    class axis: (T, C) for CTC's log_probs against its (*b) output, none for an elementwise
    loss."""
    first = loss.spec.inputs[0]
    if first.class_axis:
        return 0
    return len(first.shape.split()) - len(loss.spec.output.split())


def random_weight(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """Non-negative weights with some exact zeros."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.0, 2.0, size=shape)
    if not shape:  # the one weight of a loss over the whole batch: a zero leaves no average
        return np.asarray(w)
    return np.where(rng.random(shape) < 0.25, 0.0, w)


# ---- backends -----------------------------------------------------------------------------------
def convert(x: Any, backend: str, dtype: str = "float64") -> Any:
    """A NumPy array (or a number, returned as is) in ``backend``; floating arrays get
    ``dtype``, integer arrays keep theirs (class indices)."""
    if not isinstance(x, np.ndarray):
        return x
    if np.issubdtype(x.dtype, np.integer):
        dtype = str(x.dtype)
    if backend == "numpy":
        if dtype == "bfloat16":
            raise AssertionError("NumPy has no bfloat16")
        return x.astype(dtype)
    if backend == "torch":
        return torch.from_numpy(x.copy()).to(getattr(torch, dtype))
    if backend in ("jax", "jax_jit"):
        return jnp.asarray(x, dtype=getattr(jnp, dtype))
    if backend == "array_api_strict":
        return xps.asarray(x, dtype=getattr(xps, dtype))
    raise AssertionError(backend)


def is_strict(x: Any) -> bool:
    try:
        return is_array_api_strict_namespace(array_namespace(x))
    except TypeError:
        return False


def to_numpy(x: Any) -> np.ndarray:
    if is_torch_array(x):
        x = x.detach().cpu()
        if x.dtype in (torch.bfloat16, torch.float16):
            x = x.to(torch.float32)
        return x.numpy(force=True).astype(np.float64)
    if is_strict(x):
        return np.from_dlpack(x).astype(np.float64)
    if is_jax_array(x):
        return np.asarray(x.astype(jnp.float64) if x.dtype == jnp.bfloat16 else x, np.float64)
    return np.asarray(x, dtype=np.float64)


def is_backend_array(x: Any, backend: str) -> bool:
    if backend == "numpy":
        return is_numpy_array(x)
    if backend == "torch":
        return is_torch_array(x)
    if backend in ("jax", "jax_jit"):
        return is_jax_array(x)
    return is_strict(x)


def backend_dtype(backend: str, dtype: str) -> Any:
    if backend == "numpy":
        return np.dtype(dtype)
    if backend == "torch":
        return getattr(torch, dtype)
    if backend in ("jax", "jax_jit"):
        return jnp.dtype(dtype)
    return getattr(xps, dtype)


def evaluate(
    fn: Callable[..., Any],
    inputs: Inputs,
    backend: str,
    dtype: str = "float64",
    weight: np.ndarray | None = None,
    **kw: Any,
) -> Any:
    """``fn(*inputs, weight=weight, **kw)`` with every array moved to ``backend``/``dtype``."""
    x = inputs.map(lambda a: convert(a, backend, dtype))
    w = convert(weight, backend, dtype) if weight is not None else None
    if backend == "jax_jit":  # the inputs as a tuple: a dict through jax.jit sorts its keys

        def run(values, arrays, array_params, w):
            return fn(*values, *arrays, **array_params, **x.params, weight=w, **kw)

        return jax.jit(run)(tuple(x.values.values()), x.arrays, x.array_params, w)
    return x.call(fn, weight=w, **kw)


def evaluate_many(
    fn: Callable[..., Any],
    inputs: Inputs,
    backend: str,
    calls: list[tuple[np.ndarray | None, dict[str, Any]]],
    dtype: str = "float64",
) -> list[Any]:
    """Several ``evaluate`` calls (weight, keywords) at once; one ``jax.jit`` for all of them."""
    x = inputs.map(lambda a: convert(a, backend, dtype))
    weights = [convert(w, backend, dtype) if w is not None else None for w, _ in calls]
    kws = [kw for _, kw in calls]

    def run(values, arrays, array_params, weights):
        return [
            fn(*values, *arrays, **array_params, **x.params, weight=w, **kw)
            for w, kw in zip(weights, kws, strict=True)
        ]

    values = tuple(x.values.values())  # a tuple: a dict through jax.jit sorts its keys
    if backend == "jax_jit":
        return jax.jit(run)(values, x.arrays, x.array_params, weights)
    return run(values, x.arrays, x.array_params, weights)


# ---- per-sample derivatives by autodiff ---------------------------------------------------------
BUCKETS = (40, 128, 512, 2048)


def standard_shape(shape: tuple[int, ...]) -> bool:
    return shape == SHAPE or (len(shape) == 1 and shape[0] in BUCKETS)


def bucketed(flat: Inputs) -> Inputs:
    """Inputs flattened to one batch axis, padded (by repetition) to a length from a few fixed
    sizes. Eager JAX compiles every primitive once per shape; with a handful of shapes across
    the whole suite those compilations are shared between tests instead of repeated. (A loss
    over the whole batch is one sample: not padded.)"""
    if flat.batch_ndim == 0:
        return flat
    n = np.shape(flat.pred)[0]
    size = next((b for b in BUCKETS if b >= n), n)
    if n == 0 or size == n:
        return flat

    def pad(a: Any) -> Any:
        a = np.asarray(a)
        if a.ndim >= 1 and a.shape[0] == n:
            return np.resize(a, (size, *a.shape[1:]))
        return a

    return flat.per_sample_map(pad)


def _event_tangents(inputs: Inputs) -> list[np.ndarray]:
    """Tangents whose Hessian-vector products give the Hessian diagonal: for an elementwise
    loss one random positive vector (its Hv / v is the diagonal if the Hessian is diagonal;
    an off-diagonal term shows up as a mismatch); for a loss over a class axis one one-hot
    vector per class (the Hessian is block diagonal per sample)."""
    shape = np.shape(inputs.pred)
    if inputs.event_ndim:  # one one-hot vector per coordinate of a sample's event (T, C)
        event = shape[len(shape) - inputs.event_ndim :]
        out = []
        for k in range(int(np.prod(event))):
            v = np.zeros(event)
            v.flat[k] = 1.0
            out.append(np.broadcast_to(v, shape).copy())
        return out
    if inputs.class_axis is None:
        return [np.random.default_rng(11).uniform(0.5, 1.5, size=shape)]
    out = []
    for c in range(shape[inputs.class_axis]):
        v = np.zeros(shape)
        index = [slice(None)] * len(shape)
        index[inputs.class_axis] = c
        v[tuple(index)] = 1.0
        out.append(v)
    return out


def _diagonal(hvs: list[np.ndarray], tangents: list[np.ndarray], inputs: Inputs) -> np.ndarray:
    if inputs.class_axis is None and not inputs.event_ndim:
        return hvs[0] / tangents[0]
    # each class's entry is picked, not multiplied by 0 elsewhere: where one class has an
    # infinite second derivative (a measure of 0 under target mass) the products of the
    # other tangents are NaN there
    return sum(np.where(v != 0, hv * v, 0.0) for hv, v in zip(hvs, tangents, strict=True))


def autodiff_jax(
    loss: Loss, inputs: Inputs, *, dtype: str = "float64", jit: bool = False, hessian: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """(d l_n / d pred, the diagonal of each sample's Hessian) by JAX autodiff of the summed
    composed loss: jax.grad of the sum is the per-sample derivative (each sample's loss
    depends on its own inputs only), and forward-mode derivatives of that gradient along the
    tangents of ``_event_tangents`` give the diagonal (None without ``hessian``)."""
    flat = bucketed(inputs.broadcast_arrays().flat())
    n_out = int(np.prod(inputs.output_shape())) if inputs.output_shape() else 1
    x = flat.map(lambda a: convert(a, "jax", dtype))
    params = x.params
    rest = tuple(x.values.values())[1:]  # a tuple: a dict through jax.jit sorts its keys
    tangents = _event_tangents(flat)

    def total(pred, rest, arrays, array_params):
        return loss.composed(pred, *rest, *arrays, **array_params, **params,
                             reduction="sum")  # fmt: skip

    def both(pred, rest, arrays, array_params):
        def of_pred(p):  # (zero tangents for the target would turn 0 * inf into NaN)
            return total(p, rest, arrays, array_params)

        grad = jax.grad(of_pred)(pred)
        if not hessian:
            return grad, []
        if inputs.event_ndim:  # one vmapped product for a sequence's many tangents
            stacked = jnp.asarray(np.stack(tangents), dtype=pred.dtype)
            hvs = jax.vmap(lambda v: jax.jvp(jax.grad(of_pred), (pred,), (v,))[1])(stacked)
            return grad, list(hvs)
        hvs = [
            jax.jvp(jax.grad(of_pred), (pred,), (jnp.asarray(v, dtype=pred.dtype),))[1]
            for v in tangents
        ]
        return grad, hvs

    if jit or inputs.event_ndim:  # a sequence loss: hundreds of small ops, compiled once
        both = jax.jit(both)
    grad, hvs = both(x.pred, rest, x.arrays, x.array_params)
    if not hessian:
        return _unflatten(to_numpy(grad), n_out, inputs), None
    tangents = [to_numpy(jnp.asarray(v, dtype=x.pred.dtype)) for v in tangents]
    hess = _diagonal([to_numpy(h) for h in hvs], tangents, flat)
    return _unflatten(to_numpy(grad), n_out, inputs), _unflatten(hess, n_out, inputs)


def _unflatten(a: np.ndarray, n_out: int, inputs: Inputs) -> np.ndarray:
    """Undo ``flat`` and ``bucketed`` for an array of the first input's flattened shape."""
    if inputs.out_shape is not None:  # padded samples lead (none over the whole batch)
        return a[: inputs.out_shape[0]] if inputs.batch_ndim else a
    a = a[:n_out]
    shape = np.shape(inputs.pred)
    if inputs.class_axis is None:
        return a.reshape(shape)
    out = inputs.output_shape()
    moved = a.reshape((*out, shape[inputs.class_axis]))
    return np.moveaxis(moved, -1, inputs.class_axis)


def autodiff_torch(
    fn: Callable[..., Any], inputs: Inputs, dtype: str = "float64", *, hessian: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """(gradient, Hessian diagonal) of ``fn(..., reduction='sum')`` with respect to the first
    input by torch autograd: the gradient of the sum is the per-sample derivative, and the
    gradients of ``sum(grad * v)`` (double backward) along the tangents of
    ``_event_tangents`` give the diagonal (None without ``hessian``)."""
    x = inputs.map(lambda a: convert(a, "torch", dtype))
    pred = x.pred.detach().clone().requires_grad_(True)
    x.pred = pred
    out = x.call(fn, reduction="sum")
    (grad,) = torch.autograd.grad(out, pred, create_graph=hessian)
    if not hessian:
        return to_numpy(grad), None
    tangents = _event_tangents(inputs)
    hvs = []
    for v in tangents:
        tv = torch.from_numpy(v).to(pred.dtype)
        if grad.requires_grad:
            (hv,) = torch.autograd.grad((grad * tv).sum(), pred, allow_unused=True,
                                        retain_graph=True)  # fmt: skip
            hv = torch.zeros_like(pred) if hv is None else hv
        else:  # the gradient does not depend on pred: the second derivative is 0
            hv = torch.zeros_like(pred)
        hvs.append(to_numpy(hv))
    tangents = [to_numpy(torch.from_numpy(v).to(pred.dtype)) for v in tangents]
    return to_numpy(grad), _diagonal(hvs, tangents, inputs)


def torch_autodiff(
    loss: Loss, inputs: Inputs, dtype: str = "float64", *, hessian: bool = True
) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """(gradient, Hessian diagonal) by torch autograd through the composed definition, and
    through the default path where that differs (a registered torch fast path)."""
    out = {"torch autograd (composed)": autodiff_torch(loss.composed, inputs, dtype,
                                                       hessian=hessian)}  # fmt: skip
    if fast_path("torch", loss.name) is not None:
        out["torch autograd (default path)"] = autodiff_torch(loss, inputs, dtype,
                                                              hessian=hessian)  # fmt: skip
    return out


def unreduced(loss: Loss, inputs: Inputs, backend: str, dtype: str = "float64") -> np.ndarray:
    """loss(..., reduction="none") on ``backend`` as a float64 NumPy array (on JAX computed
    on inputs padded to a standard length, see ``bucketed``)."""
    out_shape = inputs.output_shape()
    if backend in ("jax", "jax_jit"):
        flat = bucketed(inputs.broadcast_arrays().flat())
        out = to_numpy(evaluate(loss, flat, backend, dtype, reduction="none"))
        if inputs.out_shape is not None:  # the padded samples lead the output
            return out[: out_shape[0]] if inputs.batch_ndim else out
        return out[: int(np.prod(out_shape))].reshape(out_shape)
    return to_numpy(evaluate(loss, inputs, backend, dtype, reduction="none"))


def analytic(loss: Loss, inputs: Inputs, backend: str, dtype: str = "float64"):
    """(loss.grad, loss.hess) computed on ``backend``, as float64 NumPy arrays."""
    shape = np.shape(inputs.pred)
    if backend in ("jax", "jax_jit") and not standard_shape(inputs.output_shape()):
        n_out = int(np.prod(inputs.output_shape())) if inputs.output_shape() else 1
        flat = bucketed(inputs.broadcast_arrays().flat())
        g, h = analytic(loss, flat, backend, dtype)
        return _unflatten(g, n_out, inputs), _unflatten(h, n_out, inputs)
    x = inputs.map(lambda a: convert(a, backend, dtype))
    if backend == "jax_jit":

        def both(values, arrays, array_params):
            kw = {**array_params, **x.params}
            return loss.grad(*values, *arrays, **kw), loss.hess(*values, *arrays, **kw)

        g, h = jax.jit(both)(tuple(x.values.values()), x.arrays, x.array_params)
    else:
        g, h = x.call(loss.grad), x.call(loss.hess)
    for r in (g, h):
        assert is_backend_array(r, backend), type(r)
        assert tuple(r.shape) == tuple(shape), (r.shape, shape)
    return to_numpy(g), to_numpy(h)


def fmax(dtype: str) -> float:
    return float(np.finfo(dtype).max) if dtype != "bfloat16" else 3.389e38


def isclose_or_both_inf(a: np.ndarray, b: np.ndarray, rtol: float, atol: float = 0.0):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    same_inf = np.isinf(a) & (a == b)
    with np.errstate(invalid="ignore"):
        close = np.abs(a - b) <= atol + rtol * np.abs(b)
    return same_inf | close


def assert_close(actual, expected, rtol: float, atol: float = 0.0, msg: str = "") -> None:
    """Like numpy's assert_allclose, with equal infinities accepted and NaN never."""
    actual = np.asarray(actual, np.float64)
    expected = np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, (msg, actual.shape, expected.shape)
    ok = isclose_or_both_inf(actual, expected, rtol, np.broadcast_to(atol, expected.shape))
    if not bool(np.all(ok)):
        bad = np.argwhere(~ok.reshape(actual.shape) if actual.shape else ~ok)[:5]
        raise AssertionError(
            f"{msg}: {int(np.sum(~ok))} of {ok.size} differ (rtol={rtol}, atol={atol}); "
            f"first at {bad.tolist()}: actual {actual[tuple(bad[0])] if actual.shape else actual}"
            f" expected {expected[tuple(bad[0])] if expected.shape else expected}"
        )


LOG2 = math.log(2.0)


# ---- inputs along the natural variable of an elementwise loss -----------------------------------
# Targets used on lines and at edges: dyadic, so that pred = target + residual is exact.
LINE_TARGETS = {
    "real": (0.0, 1.5, -2.25),
    "sign": (-1.0, 1.0),
    "binary": (0.0, 1.0, 0.5, 0.25),
    "nonnegative": (0.0, 1.0, 3.0),
    "positive": (0.5, 1.0, 3.0),
}
ARRAY_PARAM_ON_LINES = 0.1  # var (< 1/(2 pi), so the Gaussian NLL can go negative), pos_weight


def natural_variable(loss: Loss, params: dict[str, Any]) -> str:
    """What the x-axis of an elementwise loss is: the residual, the margin, or pred itself.
    A per-sample loss whose second input is differentiable too (x1 and x2 of a pair loss)
    has no target to take a residual against: its variable is its probe's, "pred"."""
    if not loss.spec.elementwise and per_sample(loss) and loss.spec.inputs[1].differentiable:
        return "pred"
    domain = pred_domain(loss, params)
    target = target_domain(loss, params)
    # (a log-mean against a real target, tweedie_deviance at power 0, is not a residual loss)
    log_mean = loss.spec.elementwise and loss.probe(**bindable(loss, params)).key == "log-rate"
    if target == "real" and domain == "real" and not log_mean:
        return "residual"
    if target == "sign" and domain in ("real", "logit"):
        return "margin"
    return "pred"


def line_inputs(
    loss: Loss, params: dict[str, Any], xs: np.ndarray, targets: tuple[float, ...] | None = None
) -> Inputs:
    """Inputs of an elementwise loss whose natural variable runs over ``xs``, once for each
    target value: the residual ``pred - target`` (real targets), the margin ``y * pred``
    (sign targets) or pred itself (logits, probabilities, rates). Array parameters are
    constants."""
    xs = np.asarray(xs, dtype=np.float64)
    kind = natural_variable(loss, params)
    targets = targets if targets is not None else LINE_TARGETS[target_domain(loss, params)]
    preds, ts = [], []
    for t in targets:
        if kind == "residual":
            preds.append(t + xs)
        elif kind == "margin":
            preds.append((t if t != 0 else -1.0) * xs)
        else:
            preds.append(xs)
        ts.append(np.full_like(xs, t))
    pred, target = np.concatenate(preds), np.concatenate(ts)
    arrays, array_params, scalars = split_params(loss, params, np.random.default_rng(0), pred.shape)
    const = lambda a: np.full(pred.shape, ARRAY_PARAM_ON_LINES)  # noqa: E731
    names = loss.spec.input_names
    inputs = Inputs({names[0]: pred, names[1]: target}, arrays, array_params, scalars)
    return inputs.map(lambda a: const(a) if a is not pred and a is not target else a)


def probe_inputs(
    loss: Loss, params: dict[str, Any], ts: np.ndarray
) -> list[tuple[Inputs, np.ndarray]]:
    """For each curve of the loss's probe: the inputs at ``ts`` and the direction of each
    sample (d first input / dt). Array parameters named 'full' get random positive values at
    the shape of their pattern (a class weight: one per class), others the constant
    ``ARRAY_PARAM_ON_LINES``."""
    bound = loss.spec.drawn(loss_params(params))
    rng = np.random.default_rng(0)
    for p in loss.spec.params:
        if p.kind == "array" and isinstance(bound.get(p.name), str):
            pattern = p.shape.lstrip("~")
            if pattern.split() == ["C"]:
                bound[p.name] = positive(rng, (N_CLASSES,))
            else:
                bound[p.name] = ARRAY_PARAM_ON_LINES
    arrays = {k: v for k, v in bound.items() if isinstance(v, np.ndarray)}
    scalars = {k: v for k, v in bound.items() if k not in arrays}
    probe = loss.probe(**scalars, **arrays)
    out = []
    for c in probe.curves:
        made = c.make(ts)
        values = {name: made[name] for name in loss.spec.input_names}
        first = values[loss.spec.input_names[0]]
        out_shape = batch_ndim = None
        if structured(loss, bound):  # the output's shape from the core's own bindings
            call = loss.validate(*values.values(), **scalars, **arrays)
            out_shape = tuple(call.output_shape)
            batch_ndim = int(loss.spec.output_for(scalars).split()[:1] == ["N"])
        inputs = Inputs(values, (), arrays, scalars, class_axis_of(loss, bound, first.ndim),
                        event_ndim(loss), out_shape, batch_ndim)  # fmt: skip
        out.append((inputs, np.asarray(c.direction(ts)) if c.direction else None))
    return out


def edge_points(loss: Loss, params: dict[str, Any]) -> np.ndarray:
    """Values of the natural variable where a branch switches (the loss's declared kinks),
    domain edges and a few ordinary points: 0, +-0.5, +-1, +-2 and +- every float
    hyperparameter for real-valued pred; for probabilities 0, 1, 1/2 and the clip eps; for
    rates 0 (where allowed), 1/2, 1, 2, 3."""
    domain = pred_domain(loss, params)
    values = float_params(params)
    kinks = set(loss.spec.kinks_for(loss_params(params)))
    if domain in ("real", "logit"):
        mags = {0.0, 0.5, 1.0, 2.0} | {abs(v) for v in values if 0 < abs(v) <= 10}
        points = {s * m for m in mags for s in (-1.0, 1.0)} | kinks
        if domain == "logit":
            points |= {-30.0, 30.0}
    elif domain == "probability":
        points = {0.0, 0.25, 0.5, 0.75, 1.0} | kinks
    elif domain in ("nonnegative", "positive"):
        points = {0.5, 1.0, 2.0, 3.0} | {v for v in values if 0 < v <= 10} | kinks
        if domain == "nonnegative":
            points.add(0.0)
    else:
        raise AssertionError(f"no edge points for pred domain {domain!r}")
    return np.array(sorted(points))


def away_from_edges(
    loss: Loss, params: dict[str, Any], inputs: Inputs, gap: float = 0.05
) -> Inputs:
    """Move pred (and array parameters) of an elementwise loss at least ``gap`` away from
    every edge point (a loss over a class axis is smooth: returned as is; one defined over a
    reduction of elementwise inputs, rmse and rmsle, is moved as an elementwise one)."""
    if not loss.spec.elementwise and per_sample(loss):
        return inputs
    edges = edge_points(loss, params)
    kind = natural_variable(loss, params)
    domain = pred_domain(loss, params)
    pred, target = inputs.pred.copy(), inputs.target
    sign = np.where(target == 0, -1.0, target) if kind == "margin" else None
    for _ in range(100):
        x = pred - target if kind == "residual" else pred * sign if kind == "margin" else pred
        near = np.min(np.abs(x[..., None] - edges), axis=-1) < gap
        if not near.any():
            break
        step = 0.07
        if domain == "probability":
            step = np.where(pred + step < 0.99, step, -0.3)
        pred = np.where(near, pred + step, pred)
    else:  # pragma: no cover
        raise AssertionError("could not move the inputs away from the edges")
    values = np.array(float_params(params) or [np.inf])

    def nudge(a: np.ndarray) -> np.ndarray:
        for _ in range(100):
            near = np.min(np.abs(a[..., None] - values), axis=-1) < gap
            if not near.any():
                return a
            a = np.where(near, a + 0.07, a)
        raise AssertionError("could not move an array parameter away from the edges")

    moved = replace(
        inputs,
        arrays=tuple(nudge(a) if isinstance(a, np.ndarray) else a for a in inputs.arrays),
        array_params={k: nudge(v) for k, v in inputs.array_params.items()},
    )
    moved.pred = pred
    return moved
