"""Every elementwise loss as an XGBoost, LightGBM or CatBoost objective and evaluation metric.

A booster grows each tree from the per-row gradient and Hessian of the loss with respect to its
raw score, so any loss with an analytic ``grad`` and a positive ``boosting_hess`` (the exact
Hessian, or the surrogate documented in ``loss.spec.boosting``) is an objective::

    import xgboost as xgb
    from lossatlas import gbm

    params = {"base_score": gbm.initial_prediction("huber", y, delta=2.0)}
    booster = xgb.train(params, xgb.DMatrix(X, y), num_boost_round=200,
                        obj=gbm.xgboost_objective("huber", delta=2.0),
                        custom_metric=gbm.xgboost_metric("huber", delta=2.0))

Each object follows its library's own calling conventions: ``xgboost.train`` and
``lightgbm.train`` pass ``(predictions, dataset)``; the scikit-learn wrappers
(``XGBRegressor(objective=...)``, ``LGBMRegressor(objective=...)``) pass ``(y_true, y_pred)``
and the sample weights; CatBoost takes objects with ``calc_ders_range`` and ``evaluate``.
Sample weights multiply the gradient and the Hessian, so a weight of 2 equals a duplicated row.

The raw score is the loss's ``pred``: a logit for the classification losses (``from_logits`` is
set to True), the log-rate for ``poisson_nll``. Boosters do not add the link for a custom
objective: apply ``scipy.special.expit`` (or ``exp``) to the raw predictions yourself.
None of these libraries is imported by this module.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._loss import BOOSTING_HESSIAN_FLOOR, RAW_SCORE_DOMAINS, ElementwiseLoss, Loss
from ._registry import get
from ._validate import LossInputError, describe

#: bisection steps for ``initial_prediction``: halves the bracket to float64 resolution
_BISECTION_STEPS = 200
#: the bracket for a raw score that is a logit or a margin (sigmoid(30) = 1 - 9e-14)
_LOGIT_BOUND = 30.0


class BoostingLoss:
    """A loss bound to its hyperparameters, giving what a booster needs on NumPy arrays.

    The hyperparameters are checked once, here; labels and weights on every call.
    """

    def __init__(self, loss: str | Loss, function: str, params: dict[str, Any]) -> None:
        if isinstance(loss, str):
            try:
                loss = get(loss)
            except KeyError:
                raise LossInputError(
                    function, "name", "the name of a registered loss", repr(loss)
                ) from None
        if not isinstance(loss, Loss):
            raise LossInputError(
                function, "name", "a loss name or a lossatlas loss", describe(loss)
            )
        boosting = loss.spec.boosting
        if boosting.kind == "none" or not isinstance(loss, ElementwiseLoss):
            raise LossInputError(
                function,
                "name",
                "a loss usable as a boosting objective",
                f"{loss.name!r}: {boosting.reason}",
            )
        params = dict(params)
        if "from_logits" in loss.spec.defaults:
            params.setdefault("from_logits", True)
        bound = loss.bind(**params)
        domain = loss.pred_domain(**bound)
        if domain not in RAW_SCORE_DOMAINS:
            flag = "from_logits" if "from_logits" in bound else "log_input"
            raise LossInputError(
                function,
                flag,
                f"{flag}=True: a booster's raw score is any real number",
                f"{flag}={bound[flag]!r}",
            )
        for p in loss.spec.params:
            value = bound[p.name]
            if p.kind == "array" and value is not None:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise LossInputError(
                        function,
                        p.name,
                        "a number (put per-row values in the sample weights)",
                        describe(value),
                    )
        loss.value(np.zeros(1), np.zeros(1), **bound)  # checks the array-valued parameters
        self.loss: ElementwiseLoss = loss
        self.function = function
        self.params = bound
        self.name = loss.name
        self._array_params = [p.name for p in loss.spec.params if p.kind == "array"]
        self._label_cache: tuple[Any, Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        # copies (LightGBM deep-copies its params, objective included) start without the cache
        return {**self.__dict__, "_label_cache": None}

    def __repr__(self) -> str:
        shown = [repr(self.name)]
        shown += [f"{k}={v!r}" for k, v in self.params.items() if not isinstance(v, np.ndarray)]
        return f"{self.function}({', '.join(shown)})"

    # ---- arrays -----------------------------------------------------------------------------
    def _arrays(self, pred: Any, label: Any, weight: Any) -> tuple[Any, Any, Any]:
        pred = np.asarray(pred)
        if pred.dtype not in (np.float32, np.float64):
            pred = pred.astype(np.float64)
        label = np.asarray(label)
        if label.size != pred.size:
            raise LossInputError(
                self.function,
                "label",
                f"{pred.size} values, one per prediction",
                f"{label.size} values",
            )
        label = label.reshape(pred.shape)
        if weight is not None:
            weight = np.asarray(weight, dtype=pred.dtype)
            if weight.size == 0:
                weight = None
            elif weight.size != pred.shape[0]:
                raise LossInputError(
                    self.function,
                    "weight",
                    f"{pred.shape[0]} values, one per row",
                    f"{weight.size} values",
                )
            else:
                if pred.ndim > 1:
                    weight = weight.reshape((-1,) + (1,) * (pred.ndim - 1))
                if not np.all(weight >= 0):
                    raise LossInputError(
                        self.function, "weight", "weights >= 0", "a negative or NaN weight"
                    )
        return pred, label, weight

    def grad_hess(
        self, pred: Any, label: Any, weight: Any = None, *, reuse_label: bool = False
    ) -> tuple[Any, Any]:
        """Weighted per-row gradient and (positive) Hessian of the loss at the raw score.

        Equal to ``loss.grad`` and ``loss.boosting_hess``, computed by the loss's fused
        kernel: a booster calls this every round (CatBoost thousands of times per round), so
        the checks that cannot change between calls were done once, in ``__init__``.
        ``reuse_label``: the label is a booster's own array, the same object every round and
        never edited (LightGBM's); its cast to pred's dtype and its check are then done once.
        """
        given = label
        pred, label, weight = self._arrays(pred, label, weight)
        loss, dtype = self.loss, pred.dtype
        label = self._checked_label(given if reuse_label else None, label, dtype)
        params = dict(self.params)
        for name in self._array_params:
            if params[name] is not None:
                params[name] = np.asarray(params[name], dtype=dtype)
        # exp of a far tail overflows to inf (or 1 / exp to a division by zero): the fused
        # kernels are written so that every such inf goes to its limit
        with np.errstate(over="ignore", divide="ignore"):
            grad, hess = loss.boosting_grad_hess_kernel(np, pred, label, **params)
        loss.check_finite_targets(np, grad, target=label)
        # in place where the kernel's result is a fresh array: fewer 8 MB allocations a round
        floor = np.asarray(BOOSTING_HESSIAN_FLOOR, dtype=hess.dtype)
        own_hess = _fresh(hess, pred, label, weight, grad)
        own_grad = _fresh(grad, pred, label, weight, hess)
        hess = np.maximum(hess, floor, out=hess if own_hess else None)  # now fresh
        if weight is not None:
            grad = np.multiply(grad, weight, out=grad if own_grad else None)
            hess = np.multiply(hess, weight, out=hess if hess.shape == pred.shape else None)
        return grad, hess

    def _checked_label(self, given: Any, label: Any, dtype: Any) -> Any:
        """The label in pred's dtype, its values checked against the loss's target domain.

        ``given``: the booster's label array, or None. For the array seen on the previous call
        the cast and the check are reused (the cache holds that array, so its identity cannot
        pass to another).
        """
        cache = self._label_cache
        if cache is not None and cache[0] is given and cache[1].dtype == dtype:
            return cache[1].reshape(label.shape)
        if label.dtype != dtype:
            if not (label.dtype == bool or np.issubdtype(label.dtype, np.number)):
                raise LossInputError(self.function, "label", "numbers", describe(label))
            label = label.astype(dtype)
        self.loss.check_domain("target", np, label, **self.params)
        if isinstance(given, np.ndarray):
            self._label_cache = (given, label)
        else:
            self._label_cache = None
        return label

    def metric(self, pred: Any, label: Any, weight: Any = None) -> float:
        """The weighted mean loss ``sum(w l) / sum(w)`` at the raw score."""
        total, weight_sum = self.metric_parts(pred, label, weight)
        return total / weight_sum if weight_sum > 0 else math.nan

    def metric_parts(self, pred: Any, label: Any, weight: Any = None) -> tuple[float, float]:
        """``(sum(w l), sum(w))``: the parts CatBoost adds up over blocks of rows."""
        pred, label, weight = self._arrays(pred, label, weight)
        values = self.loss.value(pred, label, **self.params)
        if weight is None:
            return float(np.sum(values, dtype=np.float64)), float(values.size)
        weight = np.broadcast_to(weight, values.shape)
        return float(np.sum(weight * values, dtype=np.float64)), float(np.sum(weight))


def _fresh(result: Any, pred: Any, *others: Any) -> bool:
    """Whether a kernel's result is its own writable array of pred's shape, safe to overwrite."""
    return (
        isinstance(result, np.ndarray)
        and result.flags.writeable
        and result.shape == pred.shape
        and not any(np.may_share_memory(result, x) for x in (pred, *others))
    )


def _is_dataset(obj: Any) -> bool:
    """xgboost.DMatrix and lightgbm.Dataset both carry their labels (``get_label``)."""
    return hasattr(obj, "get_label") and hasattr(obj, "get_weight")


# ---- XGBoost ------------------------------------------------------------------------------
class XGBoostObjective:
    """A lossatlas loss as an XGBoost objective.

    Call conventions (both supported by the one object):

    - ``xgboost.train(params, dtrain, obj=objective)`` calls ``objective(predt, dtrain)``; the
      weights come from ``dtrain.get_weight()``.
    - ``XGBRegressor(objective=objective)`` calls ``objective(y_true, y_pred,
      sample_weight=w)``.

    Returns ``(grad, hess)`` per row, weighted; ``hess`` is ``loss.boosting_hess``.
    """

    def __init__(self, name: str | Loss, **params: Any) -> None:
        self.boosting = BoostingLoss(name, "xgboost_objective", params)
        self.__name__ = self.boosting.name

    def __repr__(self) -> str:
        return repr(self.boosting)

    def __call__(self, y_true: Any, y_pred: Any, *, sample_weight: Any = None) -> Any:
        if _is_dataset(y_pred):  # xgboost.train: (predt, dtrain)
            return self.boosting.grad_hess(y_true, y_pred.get_label(), y_pred.get_weight())
        return self.boosting.grad_hess(y_pred, y_true, sample_weight)


class XGBoostMetric:
    """A lossatlas loss as an XGBoost evaluation metric: the weighted mean loss.

    ``xgboost.train(..., custom_metric=metric)`` calls ``metric(predt, dmatrix)`` and gets
    ``(name, value)``; ``XGBRegressor(eval_metric=metric)`` calls ``metric(y_true, y_pred,
    sample_weight=w)`` and gets the value (XGBoost names it after ``metric.__name__``). The
    predictions must be raw scores, which XGBoost passes when the objective is custom.
    """

    def __init__(self, name: str | Loss, **params: Any) -> None:
        self.boosting = BoostingLoss(name, "xgboost_metric", params)
        self.__name__ = self.boosting.name

    def __repr__(self) -> str:
        return repr(self.boosting)

    def __call__(self, y_true: Any, y_pred: Any, *, sample_weight: Any = None) -> Any:
        if _is_dataset(y_pred):  # xgboost.train: (predt, dmatrix) -> (name, value)
            value = self.boosting.metric(y_true, y_pred.get_label(), y_pred.get_weight())
            return self.__name__, value
        return self.boosting.metric(y_pred, y_true, sample_weight)


def xgboost_objective(name: str | Loss, **params: Any) -> XGBoostObjective:
    """The loss ``name`` (with hyperparameters ``params``) as an XGBoost custom objective."""
    return XGBoostObjective(name, **params)


def xgboost_metric(name: str | Loss, **params: Any) -> XGBoostMetric:
    """The loss ``name`` as an XGBoost custom evaluation metric (lower is better)."""
    return XGBoostMetric(name, **params)


# ---- LightGBM -----------------------------------------------------------------------------
class LightGBMObjective:
    """A lossatlas loss as a LightGBM objective.

    ``lightgbm.train({"objective": objective}, train_set)`` calls ``objective(preds,
    train_set)``; ``LGBMRegressor(objective=objective)`` calls ``objective(y_true, y_pred,
    weight)``. Returns ``(grad, hess)`` per row, weighted. LightGBM starts a custom objective
    from 0: give it ``init_score`` (see ``initial_prediction``) and add that score back to
    ``Booster.predict``'s output, which does not include it.

    In both conventions the label is LightGBM's own array, the same object every round: its
    cast to the scores' dtype and its range check are done on the first call with it. (Calling
    the objective by hand with a label array that is then edited in place would not be seen.)
    """

    def __init__(self, name: str | Loss, **params: Any) -> None:
        self.boosting = BoostingLoss(name, "lightgbm_objective", params)
        self.__name__ = self.boosting.name

    def __repr__(self) -> str:
        return repr(self.boosting)

    def __call__(self, y_true: Any, y_pred: Any, weight: Any = None) -> Any:
        # LightGBM passes its Dataset's label array, the same object every round
        if _is_dataset(y_pred):  # lightgbm.train: (preds, train_set)
            label, weight = y_pred.get_label(), y_pred.get_weight()
            return self.boosting.grad_hess(y_true, label, weight, reuse_label=True)
        return self.boosting.grad_hess(y_pred, y_true, weight, reuse_label=True)


class LightGBMMetric:
    """A lossatlas loss as a LightGBM evaluation metric: ``(name, weighted mean loss, False)``.

    ``lightgbm.train(..., feval=metric)`` calls ``metric(preds, eval_set)``;
    ``LGBMRegressor().fit(..., eval_metric=metric)`` calls ``metric(y_true, y_pred, weight)``.
    """

    def __init__(self, name: str | Loss, **params: Any) -> None:
        self.boosting = BoostingLoss(name, "lightgbm_metric", params)
        self.__name__ = self.boosting.name

    def __repr__(self) -> str:
        return repr(self.boosting)

    def __call__(self, y_true: Any, y_pred: Any, weight: Any = None) -> tuple[str, float, bool]:
        if _is_dataset(y_pred):  # lightgbm.train: (preds, eval_set)
            value = self.boosting.metric(y_true, y_pred.get_label(), y_pred.get_weight())
        else:
            value = self.boosting.metric(y_pred, y_true, weight)
        return self.__name__, value, False


def lightgbm_objective(name: str | Loss, **params: Any) -> LightGBMObjective:
    """The loss ``name`` (with hyperparameters ``params``) as a LightGBM custom objective."""
    return LightGBMObjective(name, **params)


def lightgbm_metric(name: str | Loss, **params: Any) -> LightGBMMetric:
    """The loss ``name`` as a LightGBM custom evaluation metric (lower is better)."""
    return LightGBMMetric(name, **params)


# ---- CatBoost -----------------------------------------------------------------------------
class CatBoostObjective:
    """A lossatlas loss as a CatBoost objective (``CatBoostRegressor(loss_function=obj)``).

    CatBoost maximises, so ``calc_ders_range`` returns the negated, weighted gradient and
    Hessian as an ``(n, 2)`` array. CatBoost needs an ``eval_metric`` beside a custom
    objective: pass ``catboost_metric`` with the same loss. Its starting score is 0 unless the
    Pool has a ``baseline`` (see ``initial_prediction``), which predictions then exclude.
    """

    def __init__(self, name: str | Loss, **params: Any) -> None:
        self.boosting = BoostingLoss(name, "catboost_objective", params)

    def __repr__(self) -> str:
        return repr(self.boosting)

    def calc_ders_range(self, approxes: Any, targets: Any, weights: Any) -> Any:
        grad, hess = self.boosting.grad_hess(
            np.asarray(approxes, dtype=np.float64), np.asarray(targets), weights
        )
        return np.stack((-grad, -hess), axis=1)


class CatBoostMetric:
    """A lossatlas loss as a CatBoost evaluation metric (``eval_metric=metric``), lower is
    better: ``evaluate`` returns ``(sum(w l), sum(w))`` and ``get_final_error`` their ratio."""

    def __init__(self, name: str | Loss, **params: Any) -> None:
        self.boosting = BoostingLoss(name, "catboost_metric", params)

    def __repr__(self) -> str:
        return repr(self.boosting)

    def is_max_optimal(self) -> bool:
        return False

    def evaluate(self, approxes: Any, target: Any, weight: Any) -> tuple[float, float]:
        if len(approxes) != 1:
            raise LossInputError(
                "catboost_metric", "approxes", "one prediction per row", f"{len(approxes)}"
            )
        return self.boosting.metric_parts(
            np.asarray(approxes[0], dtype=np.float64), np.asarray(target), weight
        )

    def get_final_error(self, error: float, weight: float) -> float:
        return error / weight if weight > 0 else math.nan


def catboost_objective(name: str | Loss, **params: Any) -> CatBoostObjective:
    """The loss ``name`` (with hyperparameters ``params``) as a CatBoost custom objective."""
    return CatBoostObjective(name, **params)


def catboost_metric(name: str | Loss, **params: Any) -> CatBoostMetric:
    """The loss ``name`` as a CatBoost custom evaluation metric."""
    return CatBoostMetric(name, **params)


# ---- the starting score ---------------------------------------------------------------------
def initial_prediction(name: str | Loss, target: Any, weight: Any = None, **params: Any) -> float:
    """The constant raw score that minimises the weighted loss over ``target``.

    What a booster should start from (XGBoost's ``base_score``, LightGBM's ``init_score``,
    CatBoost's ``baseline``): the weighted mean for mse and gaussian_nll, the log of the mean
    for poisson_nll, the log-odds of the (smoothed, ``pos_weight``-ed) positive rate for
    binary_cross_entropy_with_logits, and for every other loss the root of the summed
    gradient, found by bisection (the weighted median for mae, the weighted q-quantile for
    quantile, the M-estimate of location for huber, log_cosh and pseudo_huber). For logit and
    margin losses the result is clipped to +-30 (all labels in one class has no finite
    minimiser).
    """
    boosting = BoostingLoss(name, "initial_prediction", params)
    loss, bound = boosting.loss, boosting.params
    y = np.asarray(target, dtype=np.float64).reshape(-1)
    if y.size == 0:
        raise LossInputError("initial_prediction", "target", "at least one value", "an empty array")
    w = np.ones_like(y) if weight is None else np.asarray(weight, dtype=np.float64).reshape(-1)
    if w.shape != y.shape:
        raise LossInputError(
            "initial_prediction", "weight", f"{y.size} values, one per target", f"{w.size} values"
        )
    if not (np.all(w >= 0) and np.sum(w) > 0):
        raise LossInputError(
            "initial_prediction", "weight", "weights >= 0 with a positive sum", "other weights"
        )
    loss.value(np.zeros_like(y), y, **bound)  # checks the targets' domain
    closed = _closed_form(loss.name, y, w, bound)
    if closed is not None:
        return closed
    if loss.spec.target_domain == "real":
        low, high = float(np.min(y)), float(np.max(y))
    else:
        low, high = -_LOGIT_BOUND, _LOGIT_BOUND

    def total_grad(c: float) -> float:
        pred = np.full_like(y, c)
        return float(np.sum(w * loss.grad(pred, y, **bound)))

    if total_grad(low) >= 0:
        return low
    if total_grad(high) <= 0:
        return high
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (low + high)
        if mid in (low, high):
            break
        if total_grad(mid) < 0:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


def _clip_logit(value: float) -> float:
    return float(np.clip(value, -_LOGIT_BOUND, _LOGIT_BOUND))


def _closed_form(name: str, y: Any, w: Any, params: dict[str, Any]) -> float | None:
    """The minimiser where it has a closed form; None where bisection finds it."""
    if name == "mse":
        return float(np.sum(w * y) / np.sum(w))
    if name == "gaussian_nll":
        precision = w / np.maximum(np.broadcast_to(params["var"], y.shape), params["eps"])
        return float(np.sum(precision * y) / np.sum(precision))
    if name == "poisson_nll":  # log_input=True: e^c = weighted mean of the counts
        mean = float(np.sum(w * y) / np.sum(w))
        return _clip_logit(math.log(mean)) if mean > 0 else -_LOGIT_BOUND
    if name == "binary_cross_entropy_with_logits":
        smoothing, pos_weight = params["label_smoothing"], params["pos_weight"]
        soft = y * (1.0 - smoothing) + 0.5 * smoothing
        positive = soft if pos_weight is None else np.broadcast_to(pos_weight, y.shape) * soft
        pos, neg = float(np.sum(w * positive)), float(np.sum(w * (1.0 - soft)))
        if pos == 0 or neg == 0:
            return _LOGIT_BOUND if neg == 0 else -_LOGIT_BOUND
        return _clip_logit(math.log(pos / neg))
    return None
