"""The callable loss object: binding, validation, dispatch and the one reduction, for every loss.

A call runs the same steps for every loss, elementwise or not:

1. ``bind``: fill the defaults and check every hyperparameter against its kind and range;
2. ``validate``: check the inputs against the spec (library, device, dtype, shape pattern,
   domain), move a class axis last, cast to the compute dtype (half precision computes in
   float32), prepare the weight, and mask the inputs of zero-weight samples so that nothing
   computed from them is NaN; the result is a :class:`Call`;
3. ``unreduced``: run the implementation that ``_backends.implementation`` picks (a registered
   fast path, or the definition), which returns an :class:`~lossatlas._reduce.Unreduced`;
4. ``reduce``: the one reducer, then the result is cast back to the input's dtype.

A loss module defines a subclass of :class:`ElementwiseLoss` (kernels ``_value``, ``_grad``,
``_hess`` of ``(xp, pred, target, **params)``) or of :class:`AxisLoss` (kernels over a class
axis, which the core has moved last), and its :class:`~lossatlas._spec.LossSpec`.
"""

from __future__ import annotations

import abc
import functools
import inspect
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from array_api_compat import array_namespace, is_array_api_obj, size

from . import _shapes
from ._backends import implementation
from ._config import config
from ._domains import DOMAINS
from ._reduce import Unreduced, check_reduction, prepare_weight, reduce_loss
from ._spec import Input, LossSpec, Param, Probe, Properties
from ._validate import (
    LossInputError,
    check_finite_target,
    check_parameter,
    describe,
    values_checkable,
)
from ._xp import compute_dtype, const, device, has_values, library, to_namespace, value_range

REQUIRED = inspect.Parameter.empty
#: NumPy warns where a kernel's branch not taken overflows or divides by zero (an exp far in a
#: tail, a log of 0 masked by a select); the kernels take every such value to its limit, so the
#: warnings would only be noise for a valid call
QUIET_NUMPY = functools.partial(np.errstate, over="ignore", divide="ignore", invalid="ignore")
#: The smallest Hessian handed to a booster (XGBoost's floor for its logistic objective): a
#: leaf whose rows all have a vanishing second derivative still gets a finite Newton step.
BOOSTING_HESSIAN_FLOOR = 1e-16
RAW_SCORE_DOMAINS = ("real", "logit")


@dataclass
class Call:
    """A validated call of a loss: what an implementation (definition or fast path) receives.

    Attributes:
        xp: the array namespace.
        library: "numpy", "torch", "jax", "array_api_strict", ...
        inputs: the input arrays by name, in declared order: real ones in the compute dtype,
            index ones as given, a class axis moved last.
        params: every hyperparameter by name, array ones converted to arrays of the namespace
            in the compute dtype (an axis parameter is consumed by the core and left out).
        weight: the user's weight broadcast to the output shape, or None.
        output_shape: the shape of the unreduced loss.
        out_dtype: the dtype of the result (the first differentiable input's).
        axis: the class axis as given, normalised to be non-negative (None without one).
        has_values: False for shape-only arrays (torch's meta device).
    """

    xp: Any
    library: str
    inputs: dict[str, Any]
    params: dict[str, Any]
    weight: Any
    output_shape: tuple[int, ...]
    out_dtype: Any
    axis: int | None = None
    has_values: bool = True
    bindings: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        first = next(iter(self.inputs.values()))
        return int(size(first) or 0)

    def arrays(self) -> tuple[Any, ...]:
        return tuple(self.inputs.values())


class Loss(abc.ABC):
    """A loss function: ``loss(*inputs, weight=None, reduction="mean", **params)``.

    Args:
        *inputs: the arrays declared in ``spec.inputs`` (``pred, target`` for an elementwise
            loss; ``logits, target`` for cross entropy), from one library and device; an
            array hyperparameter declared positional may follow (``gaussian_nll``'s ``var``).
        weight: optional per-sample weights, broadcastable to the unreduced loss.
        reduction: "mean" (default: ``sum(w*l)/sum(w)``), "sum", "none" or
            "sum_by_nonzero_weights" (``sum(w*l)/count(w != 0)``).
        **params: the loss's keyword-only hyperparameters (see ``.spec.params``).

    Returns:
        An array of the inputs' library, on their device, with the dtype of the first input.
    """

    spec: ClassVar[LossSpec]

    def __init__(self) -> None:
        self.name = self.spec.name
        self.__name__ = self.spec.name
        self.__qualname__ = self.spec.name
        self.__doc__ = type(self).__doc__
        self.__signature__ = self._signature()

    def __repr__(self) -> str:
        return f"<lossatlas loss {self.name!r} ({self.spec.family})>"

    # ---- public API -----------------------------------------------------------------------
    def __call__(
        self, *arrays: Any, weight: Any = None, reduction: str = "mean", **params: Any
    ) -> Any:
        check_reduction(self.name, reduction)
        call = self.validate(*arrays, weight=weight, **params)
        with QUIET_NUMPY():
            result = self.reduce(call, self.unreduced(call), reduction)
        self._check_nan_targets(call, result)
        return self._cast_out(call, result)

    def value(self, *arrays: Any, **params: Any) -> Any:
        """The per-sample loss, unreduced (the same as ``reduction="none"``)."""
        return self(*arrays, reduction="none", **params)

    def composed(
        self, *arrays: Any, weight: Any = None, reduction: str = "mean", **params: Any
    ) -> Any:
        """The loss from the array-API definition alone, bypassing any backend fast path."""
        with config.override(fast_paths=False):
            return self(*arrays, weight=weight, reduction=reduction, **params)

    def bind(self, *, partial: bool = False, **params: Any) -> dict[str, Any]:
        """Every hyperparameter, defaults filled in, each checked against its kind and range.

        Numbers come back as Python numbers (a 0-d array that needs no gradient is accepted
        for a float or an integer); arrays are checked when the inputs are known. ``partial``
        allows a required parameter to be missing (for adapters that get it per call).

        Raises:
            TypeError: an unknown or a missing parameter.
            LossInputError: a value of the wrong kind or out of range.
        """
        known = {p.name for p in self.spec.params}
        unknown = set(params) - known
        if unknown:
            raise TypeError(
                f"{self.name}() got unexpected keyword argument(s) {sorted(unknown)}; "
                f"its parameters are {sorted(known) or 'none'}"
            )
        bound: dict[str, Any] = {}
        for p in self.spec.params:
            if p.name not in params:
                if p.default is REQUIRED:
                    if partial:
                        continue
                    raise TypeError(f"{self.name}() missing required argument '{p.name}'")
                bound[p.name] = p.default
                continue
            bound[p.name] = self._check_param(p, params[p.name])
        self._check_together(bound)
        return bound

    def _check_together(self, bound: dict[str, Any]) -> None:
        """Raise :class:`LossInputError` for hyperparameters that are valid one by one but
        not together (a hook; ``bound`` may lack required ones under a partial bind)."""
        return None

    def _check_inputs(
        self, xp: Any, inputs: dict[str, Any], params: dict[str, Any], bindings: dict[str, Any]
    ) -> None:
        """Raise :class:`LossInputError` for input values that depend on one another (a hook
        for the inputs of a ``relative`` domain: CTC's labels and lengths); ``inputs`` are
        prepared (compute dtype, class axis last), ``bindings`` hold the shape names."""
        return None

    def validate(self, *arrays: Any, weight: Any = None, **params: Any) -> Call:
        """Bind the hyperparameters and check and prepare the inputs: the :class:`Call` that
        an implementation receives. Raises :class:`LossInputError` on bad input."""
        inputs, params = self._split(arrays, params)
        return self._validate(inputs, self.bind(**params), weight)

    def unreduced(self, call: Call) -> Unreduced:
        """The unreduced loss of a validated call, from the implementation chosen for it."""
        return implementation(self, call)

    def reduce(self, call: Call, unreduced: Unreduced, reduction: str) -> Any:
        """The one reduction (``lossatlas.reduce_loss``) with the call's weight."""
        return reduce_loss(call.xp, unreduced, call.weight, reduction, function=self.name)

    @abc.abstractmethod
    def definition(self, call: Call) -> Unreduced:
        """The unreduced loss from the array-API definition (no fast path)."""

    def pred_domain(self, **params: Any) -> str:
        """The domain of the first input under these hyperparameters ("real", "logit",
        "probability", ...): ``spec.pred_domain`` unless a flag such as ``from_logits``
        switches it."""
        return self.spec.domain_of(self.spec.inputs[0].name, self.bind(partial=True, **params))

    def properties(self, **params: Any) -> Properties:
        """The properties under these hyperparameters (``spec.properties_for``)."""
        return self.spec.properties_for(self.bind(partial=True, **params))

    def probe(self, **params: Any) -> Probe:
        """The one-dimensional path through the inputs that plots and ``lossatlas show``
        sweep, for these hyperparameters."""
        from ._probes import default_probe

        bound = self.bind(partial=True, **params)
        if self.spec.probe is not None:
            return self.spec.probe(bound)
        return default_probe(self, bound)

    # ---- binding ----------------------------------------------------------------------------
    def _signature(self) -> inspect.Signature:
        kind_pos = inspect.Parameter.POSITIONAL_OR_KEYWORD
        kw = inspect.Parameter.KEYWORD_ONLY
        items = [inspect.Parameter(i.name, kind_pos) for i in self.spec.inputs]
        positional = self.spec.positional_params
        for name in positional:
            items.append(inspect.Parameter(name, kind_pos))
        for p in self.spec.params:
            if p.name not in positional:
                items.append(inspect.Parameter(p.name, kw, default=p.default))
        items.append(inspect.Parameter("weight", kw, default=None))
        items.append(inspect.Parameter("reduction", kw, default="mean"))
        return inspect.Signature(items)

    def _split(
        self, arrays: tuple[Any, ...], params: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(inputs by name, hyperparameters): positional arrays fill the inputs, then the
        positional parameters; inputs may also be given by keyword."""
        names = self.spec.input_names
        positional = self.spec.positional_params
        if len(arrays) > len(names) + len(positional):
            raise TypeError(
                f"{self.name}() takes {len(names) + len(positional)} positional arguments "
                f"but {len(arrays)} were given; hyperparameters are keyword-only"
            )
        inputs = dict(zip(names, arrays, strict=False))
        extra = dict(zip(positional, arrays[len(names) :], strict=False))
        params = dict(params)
        for name in (*names, *positional):
            if name in params:
                if name in inputs or name in extra:
                    raise TypeError(f"{self.name}() got multiple values for argument '{name}'")
                if name in names:
                    inputs[name] = params.pop(name)
        missing = [n for n in names if n not in inputs]
        if missing:
            raise TypeError(f"{self.name}() missing required argument(s) {missing}")
        params.update(extra)
        return {n: inputs[n] for n in names}, params

    def _check_param(self, p: Param, value: Any) -> Any:
        name = self.name
        if p.kind == "bool":
            if not isinstance(value, bool):
                raise LossInputError(name, p.name, "True or False", describe(value))
            return value
        if p.kind in ("float", "int"):
            return check_parameter(
                name,
                p.name,
                value,
                p.low,
                p.high,
                low_inclusive=p.low_inclusive,
                high_inclusive=p.high_inclusive,
                allow_none=p.allow_none,
                integer=p.kind == "int",
                excluded=p.excluded,
            )
        if p.kind == "choice":
            if not isinstance(value, str) or value not in p.choices:
                raise LossInputError(name, p.name, p.range_text(), describe(value))
            return value
        if p.kind == "axis":
            return check_parameter(name, p.name, value, None, None, integer=True)
        # an array: None where allowed, a number (checked against the domain now), an array
        if value is None:
            if p.allow_none:
                return None
            raise LossInputError(name, p.name, "an array or a number", "None")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = check_parameter(name, p.name, value, None, None)
            domain = DOMAINS[p.domain]
            if not (domain.low <= number <= domain.high) or (domain.low_open and number <= 0):
                raise LossInputError(name, p.name, f"values {domain.range_text()}", repr(number))
            return value
        if not is_array_api_obj(value):
            raise LossInputError(name, p.name, "an array or a number", describe(value))
        return value

    # ---- validation -------------------------------------------------------------------------
    def _validate(self, raw: dict[str, Any], params: dict[str, Any], weight: Any) -> Call:
        name = self.name
        declared = self.spec.inputs_for(params)  # a variant may replace inputs (a mode)
        specs = {i.name: i for i in declared}
        for arg, value in raw.items():
            if not is_array_api_obj(value):
                raise LossInputError(
                    name,
                    arg,
                    "an array (NumPy, PyTorch, JAX or any array-API library)",
                    describe(value),
                )
        xp = self._namespace(raw)
        self._check_devices(raw)
        axis_param = next((p.name for p in self.spec.params if p.kind == "axis"), None)
        axis_value = params.get(axis_param) if axis_param else None
        axis: int | None = None
        bindings: dict[str, Any] = {}
        inputs: dict[str, Any] = {}
        chosen: dict[str, Input] = {}
        head = declared[0]
        if head.class_axis and axis_value is not None:  # an axis that the first input lacks
            _normalised_axis(name, axis_param, axis_value, raw[head.name].ndim, head.name)
        for arg, x in raw.items():
            form, bindings = self._form(specs[arg], x, xp, bindings, axis_value)
            if form.class_axis and axis_value is not None:
                axis = _normalised_axis(name, axis_param, axis_value, x.ndim, arg)
                if axis != x.ndim - 1:
                    x = xp.moveaxis(x, axis, -1)
            inputs[arg] = x
            chosen[arg] = form
        if bindings.get("C", 1) < 1:  # "C" names a class axis in the shape patterns
            raise LossInputError(
                name, head.name, "at least one class along the class axis", "no classes"
            )
        first = next(a for a in declared if a.differentiable)
        out_dtype = inputs[first.name].dtype
        dtype = compute_dtype(xp, out_dtype)
        for arg, form in chosen.items():
            x = inputs[arg]
            if form.dtype == "real" and x.dtype != dtype:
                inputs[arg] = xp.astype(x, dtype)
        like = inputs[first.name]
        context = {"n_classes": bindings.get("C"), "ignore_index": params.get("ignore_index")}
        domains = {
            arg: form.domain if form is not specs[arg] else self.spec.domain_of(arg, params)
            for arg, form in chosen.items()
        }
        for arg, domain in domains.items():
            DOMAINS[domain].check(name, arg, xp, inputs[arg], **context)
        self._check_inputs(xp, inputs, params, bindings)
        kernel_params = {k: v for k, v in params.items() if k != axis_param}
        for p in self.spec.params:
            value = kernel_params.get(p.name)
            if p.kind == "array" and value is not None:
                kernel_params[p.name] = self._prepare_array(p, value, xp, like, bindings)
        output_shape = _shapes.resolve(self.spec.output_for(params), bindings)
        weight = prepare_weight(name, xp, weight, like, output_shape)
        if weight is not None:
            inputs = self._mask_zero_weight(xp, inputs, domains, weight)
        return Call(
            xp=xp,
            library=library(like),
            inputs=inputs,
            params=kernel_params,
            weight=weight,
            output_shape=output_shape,
            out_dtype=out_dtype,
            axis=axis,
            has_values=all(has_values(x) for x in inputs.values()),
            bindings=bindings,
        )

    def _namespace(self, raw: dict[str, Any]) -> Any:
        try:
            return array_namespace(*raw.values())
        except TypeError:
            pass
        names = list(raw)
        first = raw[names[0]]
        for arg in names[1:]:
            try:
                array_namespace(first, raw[arg])
            except TypeError:
                raise LossInputError(
                    self.name,
                    arg,
                    f"an array of the same library as {names[0]} ({describe(first)})",
                    describe(raw[arg]),
                ) from None
        raise LossInputError(  # pragma: no cover - one of the pairs above disagrees
            self.name, names[0], "arrays of one library", describe(first)
        )

    def _check_devices(self, raw: dict[str, Any]) -> None:
        names = list(raw)
        where = device(raw[names[0]])
        for arg in names[1:]:
            other = device(raw[arg])
            # a JAX tracer has no device (None); placement is then JAX's business
            if None not in (where, other) and where != other:
                raise LossInputError(
                    self.name,
                    arg,
                    f"an array on {names[0]}'s device {where}",
                    f"device {other}",
                )

    def _form(
        self, spec: Input, x: Any, xp: Any, bindings: dict[str, Any], axis: Any
    ) -> tuple[Input, dict[str, Any]]:
        """The form of ``spec`` that ``x`` takes (its dtype kind first, then its shape, with
        the class axis last), and the bindings extended by that shape."""
        floating = xp.isdtype(x.dtype, "real floating")
        integral = xp.isdtype(x.dtype, "integral")
        boolean = xp.isdtype(x.dtype, "bool")
        forms = []
        for form in spec.forms:
            if form.dtype == "index":
                ok = integral
            elif form.differentiable:
                ok = floating
            else:
                ok = floating or integral or boolean
            if ok:
                forms.append(form)
        if not forms:
            raise LossInputError(self.name, spec.name, _dtype_text(spec), describe(x))
        errors = []
        for form in forms:
            shape = tuple(x.shape)
            if form.class_axis and axis is not None:
                if not -len(shape) <= axis < len(shape):
                    errors.append(f"shape [{form.shape}] with a class axis {axis}")
                    continue
                a = axis % len(shape)
                shape = shape[:a] + shape[a + 1 :] + (shape[a],)
            try:
                return form, _shapes.match(form.shape, shape, bindings)
            except _shapes.ShapeMismatch as mismatch:
                errors.append(mismatch.expected + (f" ({form.domain})" if len(forms) > 1 else ""))
        raise LossInputError(self.name, spec.name, " or ".join(errors), f"shape {tuple(x.shape)}")

    def _prepare_array(self, p: Param, value: Any, xp: Any, like: Any, bindings: dict) -> Any:
        """An array hyperparameter as an array of the inputs' namespace, device and compute
        dtype, checked against its shape pattern and its domain."""
        name = self.name
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return const(xp, value, like)
        try:
            value = to_namespace(xp, value, like)
        except Exception:
            raise LossInputError(
                name, p.name, "an array of the same library as the inputs", describe(value)
            ) from None
        if not xp.isdtype(value.dtype, ("integral", "real floating")):
            raise LossInputError(name, p.name, "a real array", describe(value))
        if value.dtype != like.dtype:
            value = xp.astype(value, like.dtype)
        value = self._shape_array_param(p, value, xp, bindings)
        DOMAINS[p.domain].check(name, p.name, xp, value)
        return value

    def _shape_array_param(self, p: Param, value: Any, xp: Any, bindings: dict) -> Any:
        """``value`` if it matches ``p.shape`` (or, with a leading ``~``, broadcasts to it
        without changing it); else a LossInputError. A loss with a rule of its own overrides
        this (``gaussian_nll``'s var, which may also drop the last axis)."""
        pattern = p.shape.lstrip("~")
        shape = tuple(value.shape)
        if p.shape.startswith("~"):
            target = _shapes.resolve(pattern, bindings)
            try:
                ok = tuple(xp.broadcast_to(value, target).shape) == target
            except (ValueError, RuntimeError, TypeError):
                ok = False
            if not ok:
                raise LossInputError(
                    self.name, p.name, f"a shape broadcastable to {target}", f"shape {shape}"
                )
            return value
        try:
            _shapes.match(pattern, shape, bindings)
        except _shapes.ShapeMismatch as mismatch:
            raise LossInputError(self.name, p.name, mismatch.expected, mismatch.got) from None
        return value

    def _mask_zero_weight(
        self, xp: Any, inputs: dict[str, Any], domains: dict[str, str], weight: Any
    ) -> dict[str, Any]:
        """Put a safe value of each input's domain where the weight is 0, so that a NaN or an
        infinity in a masked sample reaches neither the value nor any gradient (``where``
        masks a value, but autodiff still multiplies the masked branch's derivative by 0)."""
        masked = weight == 0
        out = {}
        for arg, x in inputs.items():
            extra = x.ndim - masked.ndim
            if extra < 0 or tuple(x.shape[: masked.ndim]) != tuple(masked.shape):
                out[arg] = x
                continue
            mask = xp.reshape(masked, tuple(masked.shape) + (1,) * extra) if extra else masked
            out[arg] = xp.where(mask, const(xp, DOMAINS[domains[arg]].safe, x), x)
        return out

    # ---- results ----------------------------------------------------------------------------
    def _cast_out(self, call: Call, result: Any) -> Any:
        return result if result.dtype == call.out_dtype else call.xp.astype(result, call.out_dtype)

    def _check_nan_targets(self, call: Call, result: Any) -> None:
        self.check_finite_targets(call.xp, result, **call.inputs)

    # ---- boosting: shared by elementwise and class-axis losses ---------------------------
    def _boosting_domain(self, arrays: tuple[Any, ...], params: dict[str, Any]) -> str:
        """The first input's domain under these hyperparameters, once a loss that declares no
        boosting Hessian (``spec.boosting``) has been refused."""
        boosting = self.spec.boosting
        if boosting.kind == "none":
            raise LossInputError(
                self.name, "loss", "a loss usable as a boosting objective", boosting.reason
            )
        _, rest = self._split(arrays, params)
        self.check_boosting_params(self.bind(partial=True, **rest))
        return self.pred_domain(**rest)

    def check_boosting_params(self, bound: dict[str, Any]) -> None:
        """Raise :class:`LossInputError` for hyperparameters a boosting objective cannot take
        (a hook: cross entropy's language-model options); the factories call it too."""
        return None

    def _floored_boosting_hess(self, xp: Any, *arrays: Any, **params: Any) -> Any:
        h = self._boosting_hess(xp, *arrays, **params)
        return xp.maximum(h, xp.asarray(BOOSTING_HESSIAN_FLOOR, dtype=h.dtype, device=device(h)))

    def _boosting_hess(self, xp: Any, *arrays: Any, **params: Any) -> Any:
        """The Hessian (its diagonal over a class axis) given to boosters before the floor;
        losses with a surrogate override it."""
        return self._hess(xp, *arrays, **params)  # type: ignore[attr-defined]

    def _boosting_grad_hess(self, xp: Any, *arrays: Any, **params: Any) -> Any:
        grad = self._grad(xp, *arrays, **params)  # type: ignore[attr-defined]
        return grad, self._boosting_hess(xp, *arrays, **params)

    def check_domain(self, argument: str, xp: Any, x: Any, **params: Any) -> None:
        """Raise :class:`LossInputError` where ``x`` holds a value outside the domain of the
        input ``argument`` under these hyperparameters (a pass over the data; skipped when
        value checks are off or under tracing)."""
        domain = self.spec.domain_of(argument, self.bind(partial=True, **params))
        DOMAINS[domain].check(self.name, argument, xp, x)

    def check_finite_targets(self, xp: Any, result: Any, **inputs: Any) -> None:
        """A NaN in a real-valued target makes the loss NaN, so targets are only scanned (and
        the error raised) when ``result`` is not finite: no extra pass in the common case. A
        NaN target masked by a zero weight is therefore accepted."""
        targets = [
            i.name
            for i in self.spec.inputs
            if not i.differentiable
            and i.dtype == "real"
            and i.domain == "real"
            and i.name in inputs
        ]
        if not targets or not values_checkable(result):
            return
        lo, hi = value_range(xp, result)
        if math.isfinite(lo) and math.isfinite(hi):
            return
        for arg in targets:
            check_finite_target(self.name, arg, xp, inputs[arg])


def _normalised_axis(function: str, param: str, axis: int, ndim: int, arg: str) -> int:
    if not -ndim <= axis < ndim:
        raise LossInputError(function, param, f"an axis of {arg} (ndim {ndim})", repr(axis))
    return axis % ndim


def _dtype_text(spec: Input) -> str:
    kinds = []
    for form in spec.forms:
        if form.dtype == "index":
            kinds.append("an integer array (class indices)")
        elif form.differentiable:
            kinds.append("a real floating-point array")
        else:
            kinds.append("a real or integer array")
    return " or ".join(dict.fromkeys(kinds))


class ElementwiseLoss(Loss):
    """A loss defined per element of ``pred`` and ``target``, with analytic derivatives.

    ``loss.grad(pred, target, **params)`` and ``loss.hess(pred, target, **params)`` return the
    unreduced derivatives of the per-element loss with respect to pred (the logit, for losses
    that take logits), in pred's namespace, device and dtype. Subclasses give the kernels
    ``_value``, ``_grad`` and ``_hess`` of ``(xp, pred, target, **params)`` on checked arrays in
    the compute dtype.
    """

    def definition(self, call: Call) -> Unreduced:
        return Unreduced(self._value(call.xp, *call.arrays(), **call.params))

    def grad(self, *arrays: Any, **params: Any) -> Any:
        """First derivative of the per-element loss with respect to pred, unreduced."""
        return self._derivative(self._grad, arrays, params)

    def hess(self, *arrays: Any, **params: Any) -> Any:
        """Second derivative of the per-element loss with respect to pred, unreduced."""
        return self._derivative(self._hess, arrays, params)

    def boosting_hess(self, *arrays: Any, **params: Any) -> Any:
        """The positive curvature a Newton-step booster uses, per element (``spec.boosting``).

        The exact ``hess`` where it is positive; the loss's documented surrogate where the
        second derivative is zero, undefined, negative or vanishing (L1, quantile, Huber,
        hinge, log-cosh, focal); never below ``BOOSTING_HESSIAN_FLOOR``. pred must be a raw
        score (``pred_domain`` "real" or "logit").
        """
        domain = self._boosting_domain(arrays, params)
        if domain not in RAW_SCORE_DOMAINS:
            flag = "from_logits" if "from_logits" in self.spec.defaults else "log_input"
            raise LossInputError(
                self.name,
                flag,
                f"{flag}=True: a booster's raw score is any real number",
                f"pred domain {domain!r}",
            )
        return self._derivative(self._floored_boosting_hess, arrays, params)

    # ---- kernels for fast paths and adapters (unchecked: prepared arrays in) ------------------
    def value_kernel(self, xp: Any, pred: Any, target: Any, **params: Any) -> Any:
        """The per-element loss on prepared arrays (as ``Call.inputs``/``Call.params``)."""
        return self._value(xp, pred, target, **params)

    def grad_kernel(self, xp: Any, pred: Any, target: Any, **params: Any) -> Any:
        """d loss / d pred on prepared arrays."""
        return self._grad(xp, pred, target, **params)

    def hess_kernel(self, xp: Any, pred: Any, target: Any, **params: Any) -> Any:
        """d^2 loss / d pred^2 on prepared arrays."""
        return self._hess(xp, pred, target, **params)

    def boosting_grad_hess_kernel(self, xp: Any, pred: Any, target: Any, **params: Any) -> Any:
        """``(grad, boosting Hessian before its floor)`` on prepared arrays, in one go: a
        booster calls this every round. Values only (never differentiated), so a loss may fuse
        the two; the tests hold it equal to the separate kernels."""
        return self._boosting_grad_hess(xp, pred, target, **params)

    # ---- hooks --------------------------------------------------------------------------------
    @abc.abstractmethod
    def _value(self, xp: Any, pred: Any, target: Any, **params: Any) -> Any:
        """The unreduced loss on checked arrays in the compute dtype."""

    @abc.abstractmethod
    def _grad(self, xp: Any, pred: Any, target: Any, **params: Any) -> Any:
        """d loss / d pred per element, on checked arrays in the compute dtype."""

    @abc.abstractmethod
    def _hess(self, xp: Any, pred: Any, target: Any, **params: Any) -> Any:
        """d^2 loss / d pred^2 per element, on checked arrays in the compute dtype."""

    def _derivative(self, kernel: Any, arrays: tuple[Any, ...], params: dict[str, Any]) -> Any:
        call = self.validate(*arrays, **params)
        with QUIET_NUMPY():
            result = kernel(call.xp, *call.arrays(), **call.params)
        self._check_nan_targets(call, result)
        return self._cast_out(call, result)


class AxisLoss(Loss):
    """A loss that reduces over a class (or distribution) axis of its first input: one value
    per sample. ``grad`` and ``hess`` are the derivatives of each sample's loss with respect to
    the first input (its gradient, and the diagonal of its Hessian), of that input's shape.

    Subclasses give ``_unreduced(xp, *inputs, **params) -> Unreduced`` and the kernels
    ``_grad`` and ``_hess`` of the same arguments, with the class axis last.
    """

    def definition(self, call: Call) -> Unreduced:
        return self._unreduced(call.xp, *call.arrays(), **call.params)

    def grad(self, *arrays: Any, **params: Any) -> Any:
        """d loss_n / d input per sample n, of the first input's shape (class axis in place)."""
        return self._derivative(self._grad, arrays, params)

    def hess(self, *arrays: Any, **params: Any) -> Any:
        """The diagonal of each sample's Hessian with respect to the first input."""
        return self._derivative(self._hess, arrays, params)

    def hess_diag(self, *arrays: Any, **params: Any) -> Any:
        """The same as ``hess``: the diagonal of each sample's Hessian."""
        return self.hess(*arrays, **params)

    def boosting_hess(self, *arrays: Any, **params: Any) -> Any:
        """The positive diagonal curvature a multiclass booster uses, of the scores' shape.

        The exact diagonal ``hess`` where the spec's boosting kind is "exact"; the loss's
        documented surrogate (``spec.boosting``) where the diagonal can be zero or negative;
        never below ``BOOSTING_HESSIAN_FLOOR``. The first input must be raw scores (logits).
        """
        domain = self._boosting_domain(arrays, params)
        if domain not in RAW_SCORE_DOMAINS:
            raise LossInputError(
                self.name,
                self.spec.inputs[0].name,
                "raw scores (a booster's scores are any real numbers)",
                f"domain {domain!r}",
            )
        return self._derivative(self._floored_boosting_hess, arrays, params)

    # ---- kernels for boosters and adapters (unchecked: prepared arrays in, classes last) ----
    def grad_kernel(self, xp: Any, *arrays: Any, **params: Any) -> Any:
        """The per-sample gradient on prepared arrays (as ``Call.inputs``/``Call.params``)."""
        return self._grad(xp, *arrays, **params)

    def boosting_grad_hess_kernel(self, xp: Any, *arrays: Any, **params: Any) -> Any:
        """``(grad, boosting Hessian diagonal before its floor)`` on prepared arrays, in one
        go (a booster calls it every round); the tests hold it equal to the separate kernels."""
        return self._boosting_grad_hess(xp, *arrays, **params)

    @abc.abstractmethod
    def _unreduced(self, xp: Any, *arrays: Any, **params: Any) -> Unreduced:
        """The unreduced loss and its implicit weight, with the class axis last."""

    @abc.abstractmethod
    def _grad(self, xp: Any, *arrays: Any, **params: Any) -> Any:
        """The per-sample gradient with respect to the first input (class axis last)."""

    @abc.abstractmethod
    def _hess(self, xp: Any, *arrays: Any, **params: Any) -> Any:
        """The diagonal of the per-sample Hessian (class axis last)."""

    def _derivative(self, kernel: Any, arrays: tuple[Any, ...], params: dict[str, Any]) -> Any:
        call = self.validate(*arrays, **params)
        xp = call.xp
        with QUIET_NUMPY():
            result = kernel(xp, *call.arrays(), **call.params)
        if call.axis is not None and call.axis != result.ndim - 1:
            result = xp.moveaxis(result, -1, call.axis)
        return self._cast_out(call, result)
