"""The callable loss object shared by every loss: argument binding, checks, dtype, reduction.

A loss module defines a subclass of :class:`ElementwiseLoss` with three kernels written against
the array API (``_value``, ``_grad``, ``_hess``, each ``(xp, pred, target, **params)`` on
already-checked arrays in the compute dtype) and a :class:`LossSpec`. Everything else (binding,
validation, half-precision upcast, torch fast paths, the reduction) happens here, once.
"""

from __future__ import annotations

import abc
import inspect
import math
from typing import Any, ClassVar

from array_api_compat import array_namespace, is_array_api_obj, is_torch_array

from ._config import config
from ._reduce import check_reduction, reduce_loss
from ._spec import LossSpec, Param
from ._validate import (
    LossInputError,
    check_finite_target,
    check_interval,
    check_members,
    check_parameter,
    check_same_shape,
    describe,
    values_checkable,
)
from ._xp import compute_dtype, device, to_namespace, value_range

REQUIRED = inspect.Parameter.empty
#: The smallest Hessian handed to a booster (XGBoost's floor for its logistic objective): a
#: leaf whose rows all have a vanishing second derivative still gets a finite Newton step.
BOOSTING_HESSIAN_FLOOR = 1e-16
RAW_SCORE_DOMAINS = ("real", "logit")


class Loss(abc.ABC):
    """A loss function: ``loss(pred, target, *, weight=None, reduction="mean", **params)``.

    Args:
        pred: predictions (any array-API array: NumPy, PyTorch, JAX, array-api-strict).
        target: targets of the same shape, from the same library and device.
        weight: optional per-element weights, broadcastable to the unreduced loss.
        reduction: "mean" (default: ``sum(w*l)/sum(w)``), "sum", "none" or
            "sum_by_nonzero_weights" (``sum(w*l)/count(w != 0)``).
        **params: the loss's keyword-only hyperparameters (see ``.spec.params``).

    Returns:
        An array in pred's namespace, on pred's device, with pred's dtype.
    """

    spec: ClassVar[LossSpec]
    #: array arguments that may follow ``target`` positionally (e.g. ``var``)
    positional_arrays: ClassVar[tuple[str, ...]] = ()

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
        self,
        pred: Any,
        target: Any,
        *arrays: Any,
        weight: Any = None,
        reduction: str = "mean",
        **params: Any,
    ) -> Any:
        check_reduction(self.name, reduction)
        params = self._bind(arrays, params)
        xp, pred, target, params, out_dtype = self._prepare(pred, target, params)
        result = None
        if config.torch_fast_path and is_torch_array(pred):
            from .torch._fast import fast_forward

            result = fast_forward(self, pred, target, weight, reduction, params)
        if result is None:
            result = self._forward(xp, pred, target, weight, reduction, params)
        self._check_nan_target(xp, target, result)
        return result if result.dtype == out_dtype else xp.astype(result, out_dtype)

    def pred_domain(self, **params: Any) -> str:
        """What pred holds for these hyperparameters ("real", "logit", "probability", ...).

        ``spec.pred_domain`` is the default; a flag such as ``from_logits`` or ``log_input``
        can change it.
        """
        return self._pred_domain(self._bind((), params, partial=True))

    def composed(
        self,
        pred: Any,
        target: Any,
        *arrays: Any,
        weight: Any = None,
        reduction: str = "mean",
        **params: Any,
    ) -> Any:
        """The loss from the array-API definition alone, bypassing any framework fast path."""
        with config.override(torch_fast_path=False):
            return self(pred, target, *arrays, weight=weight, reduction=reduction, **params)

    # ---- hooks for subclasses -------------------------------------------------------------
    def _forward(
        self, xp: Any, pred: Any, target: Any, weight: Any, reduction: str, params: dict[str, Any]
    ) -> Any:
        loss = self._value(xp, pred, target, **params)
        return reduce_loss(xp, loss, weight, reduction, function=self.name)

    @abc.abstractmethod
    def _value(self, xp: Any, pred: Any, target: Any, **params: Any) -> Any:
        """The unreduced loss on checked arrays in the compute dtype."""

    def _pred_domain(self, params: dict[str, Any]) -> str:
        """The domain of pred for these parameters (some losses switch on a flag)."""
        return self.spec.pred_domain

    def _prepare_array_param(self, xp: Any, name: str, value: Any, pred: Any) -> Any:
        """Check an array-valued parameter; by default it must broadcast to pred's shape."""
        try:
            xp.broadcast_to(value, tuple(pred.shape))
        except (ValueError, RuntimeError, TypeError):
            raise LossInputError(
                self.name,
                name,
                f"a shape broadcastable to pred's {tuple(pred.shape)}",
                f"shape {tuple(value.shape)}",
            ) from None
        return value

    # ---- machinery --------------------------------------------------------------------------
    def _signature(self) -> inspect.Signature:
        kind_pos = inspect.Parameter.POSITIONAL_OR_KEYWORD
        kw = inspect.Parameter.KEYWORD_ONLY
        items = [inspect.Parameter("pred", kind_pos), inspect.Parameter("target", kind_pos)]
        for name in self.positional_arrays:
            items.append(inspect.Parameter(name, kind_pos))
        for p in self.spec.params:
            if p.name not in self.positional_arrays:
                items.append(inspect.Parameter(p.name, kw, default=p.default))
        items.append(inspect.Parameter("weight", kw, default=None))
        items.append(inspect.Parameter("reduction", kw, default="mean"))
        return inspect.Signature(items)

    def _bind(
        self, arrays: tuple[Any, ...], params: dict[str, Any], *, partial: bool = False
    ) -> dict[str, Any]:
        """Fill defaults and check every hyperparameter; ``partial`` allows missing arrays."""
        if len(arrays) > len(self.positional_arrays):
            raise TypeError(
                f"{self.name}() takes {2 + len(self.positional_arrays)} positional arguments "
                f"but {2 + len(arrays)} were given; hyperparameters are keyword-only"
            )
        bound = dict(zip(self.positional_arrays, arrays, strict=False))
        for name in bound:
            if name in params:
                raise TypeError(f"{self.name}() got multiple values for argument '{name}'")
        known = {p.name for p in self.spec.params}
        unknown = set(params) - known
        if unknown:
            raise TypeError(
                f"{self.name}() got unexpected keyword argument(s) {sorted(unknown)}; "
                f"its parameters are {sorted(known) or 'none'}"
            )
        bound.update(params)
        for p in self.spec.params:
            if p.name not in bound:
                if p.default is REQUIRED:
                    if partial:
                        continue
                    raise TypeError(f"{self.name}() missing required argument '{p.name}'")
                bound[p.name] = p.default
            self._check_scalar(p, bound[p.name])
        return bound

    def _check_scalar(self, p: Param, value: Any) -> None:
        if p.kind == "bool":
            if not isinstance(value, bool):
                raise LossInputError(self.name, p.name, "True or False", describe(value))
        elif p.kind == "float":
            check_parameter(
                self.name,
                p.name,
                value,
                p.low,
                p.high,
                low_inclusive=p.low_inclusive,
                high_inclusive=p.high_inclusive,
                allow_none=p.allow_none,
            )
        elif p.kind == "array" and value is None and not p.allow_none:
            raise LossInputError(self.name, p.name, "an array or a number", "None")

    def _prepare(
        self, pred: Any, target: Any, params: dict[str, Any]
    ) -> tuple[Any, Any, Any, dict[str, Any], Any]:
        name = self.name
        for arg, value in (("pred", pred), ("target", target)):
            if not is_array_api_obj(value):
                raise LossInputError(
                    name,
                    arg,
                    "an array (NumPy, PyTorch, JAX or any array-API library)",
                    describe(value),
                )
        try:
            xp = array_namespace(pred, target)
        except TypeError:
            raise LossInputError(
                name,
                "target",
                f"an array of the same library as pred ({describe(pred)})",
                describe(target),
            ) from None
        pred_device, target_device = device(pred), device(target)
        # a JAX tracer has no device (None); placement is then JAX's business
        if None not in (pred_device, target_device) and pred_device != target_device:
            raise LossInputError(
                name,
                "target",
                f"an array on pred's device {pred_device}",
                f"device {target_device}",
            )
        if not xp.isdtype(pred.dtype, "real floating"):
            raise LossInputError(name, "pred", "a real floating-point array", describe(pred))
        if not xp.isdtype(target.dtype, ("bool", "integral", "real floating")):
            raise LossInputError(name, "target", "a real or integer array", describe(target))
        check_same_shape(name, "target", target, pred, "pred")

        out_dtype = pred.dtype
        dtype = compute_dtype(xp, pred.dtype)
        if pred.dtype != dtype:
            pred = xp.astype(pred, dtype)
        if target.dtype != dtype:
            target = xp.astype(target, dtype)

        self._check_pred_domain(xp, pred, params)
        self._check_target_domain(xp, target)
        prepared = dict(params)
        for p in self.spec.params:
            value = params[p.name]
            if p.kind != "array" or value is None:
                continue
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = xp.asarray(value, dtype=dtype, device=device(pred))
            elif not is_array_api_obj(value):
                raise LossInputError(name, p.name, "an array or a number", describe(value))
            else:
                try:
                    value = to_namespace(xp, value, pred)
                except Exception:
                    raise LossInputError(
                        name, p.name, "an array of the same library as pred", describe(value)
                    ) from None
                value = xp.astype(value, dtype) if value.dtype != dtype else value
            prepared[p.name] = self._prepare_array_param(xp, p.name, value, pred)
        return xp, pred, target, prepared, out_dtype

    def _check_pred_domain(self, xp: Any, pred: Any, params: dict[str, Any]) -> None:
        domain = self._pred_domain(params)
        if domain == "probability":
            check_interval(self.name, "pred", xp, pred, 0.0, 1.0)
        elif domain == "nonnegative":
            check_interval(self.name, "pred", xp, pred, 0.0, math.inf)
        elif domain == "positive":
            check_interval(self.name, "pred", xp, pred, 0.0, math.inf, low_open=True)

    def _check_target_domain(self, xp: Any, target: Any) -> None:
        domain = self.spec.target_domain
        if domain == "binary":
            check_interval(self.name, "target", xp, target, 0.0, 1.0)
        elif domain == "sign":
            check_members(self.name, "target", xp, target, (-1.0, 0.0, 1.0))
        elif domain == "nonnegative":
            check_interval(self.name, "target", xp, target, 0.0, math.inf)

    def _check_nan_target(self, xp: Any, target: Any, result: Any) -> None:
        """A NaN target makes a real-target loss NaN, so the targets are only scanned (and the
        error raised) when the result is not finite: no extra pass in the common case. A NaN
        target masked by a zero weight is therefore accepted."""
        if self.spec.target_domain == "real" and values_checkable(result):
            lo, hi = value_range(xp, result)
            if not (math.isfinite(lo) and math.isfinite(hi)):
                check_finite_target(self.name, "target", xp, target)


class ElementwiseLoss(Loss):
    """A loss defined per element, with analytic first and second derivatives.

    ``loss.grad(pred, target, **params)`` and ``loss.hess(pred, target, **params)`` return the
    unreduced derivatives of the per-element loss with respect to pred (the logit, for losses
    that take logits), in pred's namespace, device and dtype.
    """

    def grad(self, pred: Any, target: Any, *arrays: Any, **params: Any) -> Any:
        """First derivative of the per-element loss with respect to pred, unreduced."""
        return self._derivative(self._grad, pred, target, arrays, params)

    def hess(self, pred: Any, target: Any, *arrays: Any, **params: Any) -> Any:
        """Second derivative of the per-element loss with respect to pred, unreduced."""
        return self._derivative(self._hess, pred, target, arrays, params)

    def value(self, pred: Any, target: Any, *arrays: Any, **params: Any) -> Any:
        """The per-element loss, unreduced (same as ``reduction="none"``)."""
        return self(pred, target, *arrays, reduction="none", **params)

    def boosting_hess(self, pred: Any, target: Any, *arrays: Any, **params: Any) -> Any:
        """The positive curvature a Newton-step booster uses, per element (``spec.boosting``).

        The exact ``hess`` where it is positive; the loss's documented surrogate where the
        second derivative is zero, undefined, negative or vanishing (L1, quantile, Huber,
        hinge, log-cosh, focal); never below ``BOOSTING_HESSIAN_FLOOR``. pred must be a raw
        score (``pred_domain`` "real" or "logit").
        """
        boosting = self.spec.boosting
        if boosting.kind == "none":
            raise LossInputError(
                self.name, "loss", "a loss usable as a boosting objective", boosting.reason
            )
        bound = self._bind(arrays, params)
        domain = self._pred_domain(bound)
        if domain not in RAW_SCORE_DOMAINS:
            flag = "from_logits" if "from_logits" in bound else "log_input"
            raise LossInputError(
                self.name,
                flag,
                f"{flag}=True: a booster's raw score is any real number",
                f"pred domain {domain!r}",
            )
        return self._derivative(self._floored_boosting_hess, pred, target, (), bound)

    def _floored_boosting_hess(self, xp: Any, pred: Any, target: Any, **params: Any) -> Any:
        h = self._boosting_hess(xp, pred, target, **params)
        return xp.maximum(h, xp.asarray(BOOSTING_HESSIAN_FLOOR, dtype=h.dtype, device=device(h)))

    def _boosting_hess(self, xp: Any, pred: Any, target: Any, **params: Any) -> Any:
        """The Hessian given to boosters before the floor; losses with a surrogate override."""
        return self._hess(xp, pred, target, **params)

    def _boosting_grad_hess(self, xp: Any, pred: Any, target: Any, **params: Any) -> Any:
        """``(_grad, _boosting_hess)`` in one go, for boosters, which call it every round.

        Values only (never differentiated), so a loss may override it with a fused form that
        shares intermediates and avoids selects; the tests hold it equal to the two kernels.
        """
        return (
            self._grad(xp, pred, target, **params),
            self._boosting_hess(xp, pred, target, **params),
        )

    def _derivative(
        self, kernel: Any, pred: Any, target: Any, arrays: tuple[Any, ...], params: dict[str, Any]
    ) -> Any:
        params = self._bind(arrays, params)
        xp, pred, target, params, out_dtype = self._prepare(pred, target, params)
        result = kernel(xp, pred, target, **params)
        self._check_nan_target(xp, target, result)
        return result if result.dtype == out_dtype else xp.astype(result, out_dtype)

    @abc.abstractmethod
    def _grad(self, xp: Any, pred: Any, target: Any, **params: Any) -> Any:
        """d loss / d pred per element, on checked arrays in the compute dtype."""

    @abc.abstractmethod
    def _hess(self, xp: Any, pred: Any, target: Any, **params: Any) -> Any:
        """d^2 loss / d pred^2 per element, on checked arrays in the compute dtype."""
