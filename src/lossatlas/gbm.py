"""Every elementwise loss as an XGBoost, LightGBM or CatBoost objective and evaluation metric;
every class-axis loss (``cross_entropy``, ...) as an XGBoost or LightGBM multiclass objective.

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

Multiclass boosting (see "multiclass" below): a class-axis loss takes one raw score per class,
an ``(n, K)`` array, and a class index per row::

    init = gbm.multiclass_initial_prediction("cross_entropy", y, num_class=K)  # log priors
    params = {"num_class": K, "base_score": init.tolist(), "disable_default_eval_metric": 1}
    booster = xgb.train(params, xgb.DMatrix(X, y), num_boost_round=200,
                        obj=gbm.xgboost_multiclass_objective("cross_entropy"),
                        custom_metric=gbm.xgboost_multiclass_metric("cross_entropy"))

``xgboost_objective`` and ``lightgbm_objective`` (and their metrics) hand a class-axis loss to
these multiclass objects; CatBoost's multiclass objectives are not supported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._domains import DOMAINS
from ._loss import BOOSTING_HESSIAN_FLOOR, RAW_SCORE_DOMAINS, AxisLoss, ElementwiseLoss, Loss
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
        loss = _lookup(loss, function)
        boosting = loss.spec.boosting
        if isinstance(loss, AxisLoss) and boosting.kind != "none":
            raise LossInputError(
                function,
                "name",
                "an elementwise loss (a class-axis loss is a multiclass objective: "
                "gbm.xgboost_multiclass_objective, gbm.lightgbm_multiclass_objective, started "
                "from gbm.multiclass_initial_prediction)",
                f"{loss.name!r}, a class-axis loss",
            )
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
        loss.check_boosting_params(bound)
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
        # checks the array-valued parameters (at a target inside the target's domain)
        target = DOMAINS[loss.spec.domain_of(loss.spec.input_names[1], bound)].safe
        loss.value(np.zeros(1), np.full(1, target), **bound)
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


def _lookup(loss: Any, function: str) -> Loss:
    """The registered loss named ``loss`` (or ``loss`` itself), else a LossInputError."""
    if isinstance(loss, str):
        try:
            loss = get(loss)
        except KeyError:
            raise LossInputError(
                function, "name", "the name of a registered loss", repr(loss)
            ) from None
    if not isinstance(loss, Loss):
        raise LossInputError(function, "name", "a loss name or a lossatlas loss", describe(loss))
    return loss


def _is_class_axis(name: Any) -> bool:
    """Whether ``name`` is (or names) a class-axis loss: the factories hand those to the
    multiclass objects. Unknown names are left to BoostingLoss's error."""
    try:
        return isinstance(_lookup(name, "gbm"), AxisLoss)
    except LossInputError:
        return False


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
    """The loss ``name`` (with hyperparameters ``params``) as an XGBoost custom objective.

    A class-axis loss (``cross_entropy``) gives the multiclass one,
    ``xgboost_multiclass_objective``."""
    if _is_class_axis(name):
        return XGBoostMulticlassObjective(name, **params)
    return XGBoostObjective(name, **params)


def xgboost_metric(name: str | Loss, **params: Any) -> XGBoostMetric:
    """The loss ``name`` as an XGBoost custom evaluation metric (lower is better). A class-axis
    loss (``cross_entropy``) gives the multiclass one, ``xgboost_multiclass_metric``."""
    if _is_class_axis(name):
        return XGBoostMulticlassMetric(name, **params)
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
    """The loss ``name`` (with hyperparameters ``params``) as a LightGBM custom objective.

    A class-axis loss (``cross_entropy``) gives the multiclass one,
    ``lightgbm_multiclass_objective``."""
    if _is_class_axis(name):
        return LightGBMMulticlassObjective(name, **params)
    return LightGBMObjective(name, **params)


def lightgbm_metric(name: str | Loss, **params: Any) -> LightGBMMetric:
    """The loss ``name`` as a LightGBM custom evaluation metric (lower is better). A class-axis
    loss (``cross_entropy``) gives the multiclass one, ``lightgbm_multiclass_metric``."""
    if _is_class_axis(name):
        return LightGBMMulticlassMetric(name, **params)
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
    quantile, the M-estimate of location for huber, log_cosh and pseudo_huber). A non-convex
    regression loss (cauchy, welsch, tukey_biweight, ...) can have several such roots: its
    start is the best of 2049 points spread over the targets' range, refined by bisection
    between that point's neighbours. For logit and
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

    if not loss.spec.properties_for(bound).convex and loss.spec.target_domain == "real":
        return _nonconvex_location(loss, bound, y, w, low, high, total_grad)
    if total_grad(low) >= 0:
        return low
    if total_grad(high) <= 0:
        return high
    return _bisect(total_grad, low, high)


def _bisect(total_grad: Any, low: float, high: float) -> float:
    """A root of the (increasing through 0) summed gradient in [low, high], by bisection."""
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (low + high)
        if mid in (low, high):
            break
        if total_grad(mid) < 0:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


#: grid points over the targets' range searched for the global minimum of a non-convex loss
_NONCONVEX_GRID = 2049


def _nonconvex_location(
    loss: Loss, bound: dict[str, Any], y: Any, w: Any, low: float, high: float, total_grad: Any
) -> float:
    """The global minimiser of a non-convex (redescending) regression loss, whose summed
    gradient can have several roots: the best of a grid over the targets' range, refined by
    bisection of the gradient between its neighbours (kept only if it lowers the loss)."""
    if high <= low:
        return low

    def total(c: float) -> float:
        return float(np.sum(w * loss.value(np.full_like(y, c), y, **bound)))

    grid = np.linspace(low, high, _NONCONVEX_GRID)
    values = [total(c) for c in grid]
    i = int(np.argmin(values))
    best, best_value = float(grid[i]), values[i]
    left, right = float(grid[max(i - 1, 0)]), float(grid[min(i + 1, grid.size - 1)])
    if total_grad(left) < 0 < total_grad(right):
        refined = _bisect(total_grad, left, right)
        if total(refined) <= best_value:
            return refined
    return best


def _clip_logit(value: float) -> float:
    return float(np.clip(value, -_LOGIT_BOUND, _LOGIT_BOUND))


def _closed_form(name: str, y: Any, w: Any, params: dict[str, Any]) -> float | None:
    """The minimiser where it has a closed form; None where bisection finds it."""
    if name == "mse":
        return float(np.sum(w * y) / np.sum(w))
    if name == "gaussian_nll":
        precision = w / np.maximum(np.broadcast_to(params["var"], y.shape), params["eps"])
        return float(np.sum(precision * y) / np.sum(precision))
    # log_input=True: e^c = weighted mean of the targets (every Tweedie power)
    if name in ("poisson_nll", "tweedie_deviance", "poisson_deviance", "gamma_deviance"):
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


# ---- multiclass ---------------------------------------------------------------------------------
#: Names of the Hessian diagonals a multiclass objective can hand over, and their factor on the
#: loss's own (``loss.boosting_hess``) as a function of the number of classes K.
MULTICLASS_HESSIANS = {
    "exact": lambda k: 1.0,
    "xgboost": lambda k: 2.0,  # multi:softprob: 2 p (1 - p)
    "lightgbm": lambda k: k / (k - 1.0),  # multiclass: K / (K - 1) p (1 - p)
}


class MulticlassBoostingLoss:
    """A class-axis loss bound to its hyperparameters, on a booster's ``(n, K)`` raw scores.

    The scores hold one raw score (a logit) per class, the labels one class index per row
    (integer-valued floats, as boosters store them, are accepted). ``grad_hess`` returns the
    gradient of each row's loss with respect to its K scores and the diagonal of its Hessian
    (``loss.grad`` and ``loss.boosting_hess``: the exact diagonal, or the loss's documented
    positive surrogate, floored at ``BOOSTING_HESSIAN_FLOOR``), that diagonal times the factor
    of ``hessian``, both times the sample weight:

    - ``"exact"`` (the default): the loss's own diagonal, ``p (1 - p)`` for softmax cross
      entropy. With it a leaf's value is the diagonal Newton step on the loss itself.
    - ``"xgboost"``: twice it, as XGBoost's ``multi:softprob`` hands over ``2 p (1 - p)``.
    - ``"lightgbm"``: ``K / (K - 1)`` times it, as LightGBM's ``multiclass`` does (the factor
      that Friedman's K-class gradient boosting derives from the redundancy of K softmax scores).

    The boosters' factors are heuristics (a larger Hessian is a shorter, more cautious step);
    choose one to reproduce that booster's built-in objective with the same settings.

    The hyperparameters are checked once, here; the labels on the first call with them (a
    booster passes the same labels every round; their check and cast are cached).
    """

    def __init__(
        self,
        loss: str | Loss,
        function: str,
        params: dict[str, Any],
        hessian: str = "exact",
    ) -> None:
        loss = _lookup(loss, function)
        boosting = loss.spec.boosting
        if not isinstance(loss, AxisLoss):
            raise LossInputError(
                function,
                "name",
                "a class-axis loss (an elementwise loss is boosted by gbm.xgboost_objective, "
                "gbm.lightgbm_objective and gbm.catboost_objective)",
                f"{loss.name!r}, a loss of one score per row",
            )
        if boosting.kind == "none":
            raise LossInputError(
                function,
                "name",
                "a loss usable as a boosting objective",
                f"{loss.name!r}: {boosting.reason}",
            )
        inputs = loss.spec.inputs
        if not (
            len(inputs) == 2
            and inputs[0].class_axis
            and any(form.dtype == "index" for form in inputs[1].forms)
        ):
            raise LossInputError(
                function,
                "name",
                "a loss of (scores with a class axis, class indices)",
                f"{loss.name!r} with inputs {[i.name for i in inputs]}",
            )
        if not isinstance(hessian, str) or hessian not in MULTICLASS_HESSIANS:
            raise LossInputError(
                function, "hessian", f"one of {tuple(MULTICLASS_HESSIANS)}", describe(hessian)
            )
        params = dict(params)
        axis_params = [p.name for p in loss.spec.params if p.kind == "axis"]
        for name in axis_params:
            if name in params and params[name] not in (1, -1):
                raise LossInputError(
                    function,
                    name,
                    "1 or -1: a booster's (n, K) scores hold the classes on their last axis",
                    repr(params[name]),
                )
        if "from_logits" in loss.spec.defaults:
            params.setdefault("from_logits", True)
        for p in loss.spec.params:  # a list of class weights is welcome too
            if p.kind == "array" and isinstance(params.get(p.name), (list, tuple)):
                params[p.name] = np.asarray(params[p.name], dtype=np.float64)
        bound = loss.bind(**params)
        loss.check_boosting_params(bound)
        for name in axis_params:
            bound[name] = -1
        domain = loss.pred_domain(**bound)
        if domain not in RAW_SCORE_DOMAINS:
            flag = "from_logits" if "from_logits" in bound else inputs[0].name
            raise LossInputError(
                function,
                flag,
                f"{flag}=True: a booster's raw scores are any real numbers",
                f"{flag}={bound.get(flag)!r}",
            )
        self.loss: AxisLoss = loss
        self.function = function
        self.params = bound
        self.hessian = hessian
        self.name = loss.name
        self._kernel_params = {k: v for k, v in bound.items() if k not in axis_params}
        self._array_params = [
            p.name for p in loss.spec.params if p.kind == "array" and bound[p.name] is not None
        ]
        ignore = bound.get("ignore_index")
        self._ignore_index: int | None = ignore if isinstance(ignore, int) else None
        # softmax cross entropy has a fused kernel of its own (_softmax_cross_entropy_grad_hess)
        self._fused = loss is _cross_entropy()
        self._reset_caches()

    def _reset_caches(self) -> None:
        self._labels_cache: _Labels | None = None
        self._params_cache: dict[Any, dict[str, Any]] = {}
        self._checked_classes: set[int] = set()
        self._columns: Any = None

    def __getstate__(self) -> dict[str, Any]:
        # copies (LightGBM deep-copies its params, objective included) start without caches
        state = dict(self.__dict__)
        for key in ("_labels_cache", "_columns"):
            state[key] = None
        state["_params_cache"], state["_checked_classes"] = {}, set()
        return state

    def __repr__(self) -> str:
        shown = [repr(self.name)]
        shown += [
            f"{k}={v!r}"
            for k, v in self.params.items()
            if not isinstance(v, np.ndarray) and v != self.loss.spec.defaults.get(k, v)
        ]
        shown += [f"{k}=array({list(self.params[k])})" for k in self._array_params]
        if self.hessian != "exact":
            shown.append(f"hessian={self.hessian!r}")
        return f"{self.function}({', '.join(shown)})"

    def hessian_factor(self, n_classes: int) -> float:
        """The factor of ``hessian`` on the loss's own diagonal, for K classes."""
        return float(MULTICLASS_HESSIANS[self.hessian](n_classes))

    # ---- arrays -----------------------------------------------------------------------------
    def _scores(self, pred: Any) -> Any:
        pred = np.asarray(pred)
        if pred.dtype not in (np.float32, np.float64):
            pred = pred.astype(np.float64)
        if pred.ndim != 2 or pred.shape[1] < 2:
            raise LossInputError(
                self.function,
                "pred",
                "raw scores of shape (n, K), one column per class, K >= 2 (xgboost >= 2 and "
                "lightgbm >= 4 pass them so for a custom objective with num_class = K)",
                f"shape {pred.shape}",
            )
        n_classes = pred.shape[1]
        if n_classes not in self._checked_classes:
            # the array hyperparameters (class weights) against K: once per K
            self.loss.value(np.zeros((1, n_classes)), np.zeros(1, dtype=np.intp), **self.params)
            self._checked_classes.add(n_classes)
        return pred

    def _weights(self, weight: Any, n: int, dtype: Any) -> Any:
        if weight is None:
            return None
        weight = np.asarray(weight, dtype=dtype)
        if weight.size == 0:
            return None
        if weight.size != n:
            raise LossInputError(
                self.function, "weight", f"{n} values, one per row", f"{weight.size} values"
            )
        weight = weight.reshape(n)
        if not np.all(weight >= 0):
            raise LossInputError(
                self.function, "weight", "weights >= 0", "a negative or NaN weight"
            )
        return weight

    def _labels(self, given: Any, n: int, n_classes: int, reuse: bool) -> _Labels:
        """The labels as class indices, checked against [0, K) (and ``ignore_index``).

        Cached: a label array seen before (the same object, with ``reuse``: LightGBM's, never
        edited; else equal values, XGBoost's ``get_label()`` copy) is not checked again.
        """
        cache = self._labels_cache
        label = np.asarray(given)
        if cache is not None and cache.n_classes == n_classes:
            if reuse and cache.given is given:
                return cache
            if label.size == n and np.array_equal(cache.values, label.reshape(-1)):
                return cache
        if label.size != n:
            raise LossInputError(
                self.function, "label", f"{n} class indices, one per row", f"{label.size} values"
            )
        label = label.reshape(n)
        if not (label.dtype == bool or np.issubdtype(label.dtype, np.number)):
            raise LossInputError(self.function, "label", "class indices", describe(label))
        expected = f"class indices in [0, {n_classes}) (integer-valued floats accepted)"
        if self._ignore_index is not None:
            expected += f" or ignore_index={self._ignore_index}"
        with np.errstate(invalid="ignore"):
            index = label.astype(np.intp)
        ok = index == label
        in_range = (index >= 0) & (index < n_classes)
        valid = None
        if self._ignore_index is not None:
            ignored = index == self._ignore_index
            if np.any(ignored):
                valid = ~ignored
                in_range |= ignored
        ok &= in_range
        if not np.all(ok):
            row = int(np.argmin(ok))
            raise LossInputError(self.function, "label", expected, f"{label[row]!r} at row {row}")
        safe = index if valid is None else np.where(valid, index, 0)
        self._labels_cache = _Labels(
            given if reuse and isinstance(given, np.ndarray) else None,
            np.array(label, copy=True),
            n_classes,
            index,
            safe,
            valid,
        )
        return self._labels_cache

    def _params_for(self, dtype: Any) -> dict[str, Any]:
        """The kernels' hyperparameters, array ones as NumPy arrays of ``dtype`` (cached)."""
        params = self._params_cache.get(dtype)
        if params is None:
            params = dict(self._kernel_params)
            for name in self._array_params:
                params[name] = np.asarray(params[name], dtype=dtype)
            self._params_cache[dtype] = params
        return params

    # ---- what a booster calls ---------------------------------------------------------------
    def grad_hess(
        self, pred: Any, label: Any, weight: Any = None, *, reuse_label: bool = False
    ) -> tuple[Any, Any]:
        """Weighted ``(grad, hess)`` of the loss at the ``(n, K)`` raw scores, each ``(n, K)``.

        ``grad`` is ``loss.grad``; ``hess`` is ``loss.boosting_hess`` (floored at
        ``BOOSTING_HESSIAN_FLOOR``) times ``hessian_factor(K)``; both times the sample weight
        of the row. In pred's dtype (float32 from XGBoost, float64 from LightGBM); cross
        entropy's are laid out class-major (Fortran order: LightGBM's own layout, which it
        flattens without a copy). ``reuse_label``: the label is a booster's own array, the
        same object every round and never edited (LightGBM's).
        """
        pred = self._scores(pred)
        n, n_classes = pred.shape
        labels = self._labels(label, n, n_classes, reuse_label)
        dtype = pred.dtype
        weight = self._weights(weight, n, dtype)
        params = self._params_for(dtype)
        factor = self.hessian_factor(n_classes)
        if self._fused:
            if self._columns is None or self._columns.size != n:
                self._columns = np.arange(n)
            return _softmax_cross_entropy_grad_hess(
                pred,
                labels.safe,
                labels.valid,
                params["class_weight"],
                params["label_smoothing"],
                factor,
                weight,
                self._columns,
            )
        with np.errstate(over="ignore", divide="ignore"):
            grad, hess = self.loss.boosting_grad_hess_kernel(np, pred, labels.index, **params)
        own_hess = _fresh(hess, pred, grad)
        own_grad = _fresh(grad, pred, hess)
        floor = np.asarray(BOOSTING_HESSIAN_FLOOR, dtype=hess.dtype)
        hess = np.maximum(hess, floor, out=hess if own_hess else None)
        scale = None if weight is None else weight[:, None]
        if factor != 1.0:
            scale = np.asarray(factor, dtype=dtype) if scale is None else scale * factor
        if scale is not None:
            hess = np.multiply(hess, scale, out=hess)
        if weight is not None:
            grad = np.multiply(grad, weight[:, None], out=grad if own_grad else None)
        return grad, hess

    def metric(self, pred: Any, label: Any, weight: Any = None) -> float:
        """The loss's weighted mean at the ``(n, K)`` raw scores: ``loss(pred, label,
        weight=w)``, in float64. For cross entropy with class weights that is PyTorch's
        ``sum(w w[y] l) / sum(w w[y])``; rows with ``ignore_index`` count nowhere."""
        pred = self._scores(pred)
        n, n_classes = pred.shape
        labels = self._labels(label, n, n_classes, False)
        weight = self._weights(weight, n, np.float64)
        value = self.loss(
            np.asarray(pred, dtype=np.float64), labels.index, weight=weight, **self.params
        )
        return float(value)


@dataclass
class _Labels:
    """A booster's labels, checked: the array (LightGBM's, for identity), a copy of its values,
    K, the class indices, the indices with ignored rows at 0, and the mask of rows not ignored
    (None: every row counts)."""

    given: Any
    values: Any
    n_classes: int
    index: Any
    safe: Any
    valid: Any


def _cross_entropy() -> AxisLoss:
    from .multiclass import cross_entropy

    return cross_entropy


def _softmax_cross_entropy_grad_hess(
    scores: Any,
    label: Any,
    valid: Any,
    class_weight: Any,
    smoothing: float,
    factor: float,
    weight: Any,
    columns: Any,
) -> tuple[Any, Any]:
    """Softmax cross entropy's ``(grad, hess)`` for a booster, in a few passes over the scores.

    With a_c = w_c ((1 - s) [c = y] + s / K) and A = sum a_c, ``grad = A p - a`` and ``hess =
    max(A p (1 - p), floor) * factor``, both times the row's weight: the same values as
    ``cross_entropy.grad`` and ``boosting_hess`` (the tests hold them equal to the loss's
    kernels). The work is done class-major, on the (K, n) transpose, where every row of
    classes is a contiguous vector (a LightGBM score array is so already); the results are
    the (n, K) transposes. For a row whose label is ``ignore_index`` (``valid`` False) A and
    a are 0.
    """
    n_classes = scores.shape[1]
    dtype = scores.dtype
    z = scores.T if scores.flags.f_contiguous else np.ascontiguousarray(scores.T)
    p = np.subtract(z, z.max(axis=0))
    np.exp(p, out=p)
    inverse = p.sum(axis=0)
    np.divide(1.0, inverse, out=inverse)
    p *= inverse
    hess = np.subtract(np.asarray(1.0, dtype=dtype), p)
    hess *= p
    total: Any = None  # A per row; None: 1
    if class_weight is not None:
        label_weight = class_weight[label]
        total = (1.0 - smoothing) * label_weight + (smoothing / n_classes) * np.sum(class_weight)
    if valid is not None:
        total = valid.astype(dtype) if total is None else np.where(valid, total, 0.0)
    if total is not None:
        total = np.asarray(total, dtype=dtype)
        hess *= total
    np.maximum(hess, np.asarray(BOOSTING_HESSIAN_FLOOR, dtype=dtype), out=hess)
    scale = weight
    if factor != 1.0:
        scale = np.asarray(factor, dtype=dtype) if scale is None else scale * dtype.type(factor)
    if scale is not None:
        hess *= scale
    grad = p
    if total is not None:
        grad *= total
    hit = 1.0 - smoothing
    if class_weight is None:
        if smoothing:
            grad -= dtype.type(smoothing / n_classes)
        grad[label, columns] -= dtype.type(hit)
    else:
        if smoothing:
            grad -= (smoothing / n_classes) * class_weight[:, None]
        grad[label, columns] -= hit * label_weight
    if valid is not None:
        grad[:, ~valid] = 0.0
    if weight is not None:
        grad *= weight
    return grad.T, hess.T


class XGBoostMulticlassObjective(XGBoostObjective):
    """A class-axis loss as an XGBoost multiclass objective (``params["num_class"] = K``).

    The calling conventions of :class:`XGBoostObjective`; the scores are ``(n, K)`` (XGBoost
    >= 2 passes them so), the labels class indices, and ``(grad, hess)`` come back ``(n, K)``:
    see :class:`MulticlassBoostingLoss` for ``hessian`` ("exact" by default, "xgboost" to
    reproduce ``multi:softprob``). Set ``disable_default_eval_metric`` (XGBoost's default
    metric would read the raw scores as probabilities) and pass
    :class:`XGBoostMulticlassMetric` as ``custom_metric``.
    """

    def __init__(self, name: str | Loss, *, hessian: str = "exact", **params: Any) -> None:
        self.boosting = MulticlassBoostingLoss(  # type: ignore[assignment]
            name, "xgboost_multiclass_objective", params, hessian
        )
        self.__name__ = self.boosting.name


class XGBoostMulticlassMetric(XGBoostMetric):
    """A class-axis loss as an XGBoost evaluation metric on ``(n, K)`` raw scores: the loss's
    weighted mean (``MulticlassBoostingLoss.metric``), lower is better. XGBoost passes raw
    scores to ``custom_metric`` when the objective is custom."""

    def __init__(self, name: str | Loss, **params: Any) -> None:
        self.boosting = MulticlassBoostingLoss(  # type: ignore[assignment]
            name, "xgboost_multiclass_metric", params
        )
        self.__name__ = self.boosting.name


class LightGBMMulticlassObjective(LightGBMObjective):
    """A class-axis loss as a LightGBM multiclass objective (``params["num_class"] = K``).

    The calling conventions of :class:`LightGBMObjective`; the scores are ``(n, K)``
    (LightGBM >= 4 passes them so), the labels class indices, and ``(grad, hess)`` come back
    ``(n, K)``: see :class:`MulticlassBoostingLoss` for ``hessian`` ("exact" by default,
    "lightgbm" to reproduce ``multiclass``). Give the Dataset ``init_score=np.tile(init, (n,
    1))`` (``init = multiclass_initial_prediction(...)``) and add ``init`` to
    ``Booster.predict(X, raw_score=True)``.
    """

    def __init__(self, name: str | Loss, *, hessian: str = "exact", **params: Any) -> None:
        self.boosting = MulticlassBoostingLoss(  # type: ignore[assignment]
            name, "lightgbm_multiclass_objective", params, hessian
        )
        self.__name__ = self.boosting.name


class LightGBMMulticlassMetric(LightGBMMetric):
    """A class-axis loss as a LightGBM evaluation metric on ``(n, K)`` raw scores:
    ``(name, the loss's weighted mean, False)``."""

    def __init__(self, name: str | Loss, **params: Any) -> None:
        self.boosting = MulticlassBoostingLoss(  # type: ignore[assignment]
            name, "lightgbm_multiclass_metric", params
        )
        self.__name__ = self.boosting.name


def xgboost_multiclass_objective(
    name: str | Loss, *, hessian: str = "exact", **params: Any
) -> XGBoostMulticlassObjective:
    """The class-axis loss ``name`` as an XGBoost multiclass custom objective.

    ``hessian``: "exact" (default: the loss's own Hessian diagonal, the Newton step on the
    loss), "xgboost" (twice it: ``multi:softprob``'s 2 p (1 - p)) or "lightgbm" (K / (K - 1)
    times it). ``params``: the loss's hyperparameters (``class_weight``, ``label_smoothing``,
    ...).
    """
    return XGBoostMulticlassObjective(name, hessian=hessian, **params)


def xgboost_multiclass_metric(name: str | Loss, **params: Any) -> XGBoostMulticlassMetric:
    """The class-axis loss ``name`` as an XGBoost custom metric on (n, K) raw scores."""
    return XGBoostMulticlassMetric(name, **params)


def lightgbm_multiclass_objective(
    name: str | Loss, *, hessian: str = "exact", **params: Any
) -> LightGBMMulticlassObjective:
    """The class-axis loss ``name`` as a LightGBM multiclass custom objective.

    ``hessian``: "exact" (default: the loss's own Hessian diagonal, the Newton step on the
    loss), "lightgbm" (K / (K - 1) times it, as LightGBM's ``multiclass``) or "xgboost"
    (twice it). ``params``: the loss's hyperparameters.
    """
    return LightGBMMulticlassObjective(name, hessian=hessian, **params)


def lightgbm_multiclass_metric(name: str | Loss, **params: Any) -> LightGBMMulticlassMetric:
    """The class-axis loss ``name`` as a LightGBM custom metric on (n, K) raw scores."""
    return LightGBMMulticlassMetric(name, **params)


#: iterations of the diagonal Newton search in ``multiclass_initial_prediction``
_NEWTON_STEPS = 200


def multiclass_initial_prediction(
    name: str | Loss,
    target: Any,
    weight: Any = None,
    *,
    num_class: int | None = None,
    **params: Any,
) -> np.ndarray:
    """The constant vector of K raw scores that minimises the weighted loss over ``target``.

    A booster's starting score: XGBoost's ``base_score`` (``init.tolist()``, a list of K
    floats, in XGBoost >= 3.1; else ``base_margin=np.tile(init, (n, 1))``), LightGBM's
    ``init_score`` (``np.tile(init, (n, 1))``). ``target``: class indices (integer-valued
    floats accepted). ``num_class``: K; by default the length of an array hyperparameter
    (``class_weight``) or the largest label + 1.

    For ``cross_entropy`` the minimiser is closed-form: the log of the weighted class priors,
    ``log(A_c / sum A)`` with ``A_c = w_c ((1 - s) n_c + s N / K)`` (n_c the weighted count of
    class c, N their sum, w the class weights, s the label smoothing; ignored rows left out),
    LightGBM's boost-from-average start for plain cross entropy (XGBoost's estimate for
    ``multi:softprob`` is the same vector less its mean: softmax scores are shift-invariant).
    A class with A_c = 0 (no rows, no smoothing) gets -30 (a prior of 1e-13) instead of -inf.

    For every other loss the minimiser is searched for: the loss of a constant score depends
    only on the row's label, so the total is a sum over K label rows weighted by n_c, and a
    diagonal Newton iteration (``loss.grad``, ``loss.boosting_hess``) with a backtracking line
    search starts from the log priors and stops when the loss stops decreasing; scores are
    kept in [-30, 30]. For a non-smooth loss this is a minimiser up to the search's tolerance.

    Returns:
        A float64 array of shape (K,).
    """
    function = "multiclass_initial_prediction"
    boosting = MulticlassBoostingLoss(name, function, params)
    loss, bound = boosting.loss, boosting.params
    y = np.asarray(target)
    if y.size == 0:
        raise LossInputError(function, "target", "at least one class index", "an empty array")
    y = y.reshape(-1)
    if num_class is None:
        lengths = [np.size(bound[k]) for k in boosting._array_params]
        if lengths:
            num_class = int(lengths[0])
        else:
            finite = np.asarray(y, dtype=np.float64)
            finite = finite[np.isfinite(finite)]
            num_class = max(int(np.max(finite)) + 1 if finite.size else 2, 2)
    if isinstance(num_class, bool) or not isinstance(num_class, (int, np.integer)):
        raise LossInputError(function, "num_class", "an integer >= 2", describe(num_class))
    num_class = int(num_class)
    if num_class < 2:
        raise LossInputError(function, "num_class", "an integer >= 2", repr(num_class))
    boosting._scores(np.zeros((1, num_class)))  # checks class_weight's length against K
    labels = boosting._labels(y, y.size, num_class, False)
    w = np.ones(y.size) if weight is None else np.asarray(weight, dtype=np.float64).reshape(-1)
    if w.shape != y.shape:
        raise LossInputError(
            function, "weight", f"{y.size} values, one per target", f"{w.size} values"
        )
    counted = w if labels.valid is None else w[labels.valid]
    if not (np.all(w >= 0) and np.sum(counted) > 0):
        raise LossInputError(
            function, "weight", "weights >= 0 with a positive sum", "other weights"
        )
    rows = labels.index if labels.valid is None else labels.index[labels.valid]
    counts = np.bincount(rows, weights=counted, minlength=num_class).astype(np.float64)
    if loss is _cross_entropy():
        return _log_priors(counts, bound["class_weight"], bound["label_smoothing"])
    return _newton_constant(loss, bound, counts, _log_priors(counts, None, 0.0))


def _log_priors(counts: Any, class_weight: Any, smoothing: float) -> Any:
    """log(A_c / sum A), A_c = w_c ((1 - s) n_c + s N / K), at least -30 (``_LOGIT_BOUND``)."""
    k = counts.size
    mass = (1.0 - smoothing) * counts + smoothing * np.sum(counts) / k
    if class_weight is not None:
        mass = np.asarray(class_weight, dtype=np.float64).reshape(k) * mass
    total = float(np.sum(mass))
    if total <= 0:  # every weighted row has a class weight of 0: any constant is a minimiser
        return np.zeros(k)
    with np.errstate(divide="ignore"):
        return np.maximum(np.log(mass / total), -_LOGIT_BOUND)


def _newton_constant(loss: AxisLoss, params: dict[str, Any], counts: Any, start: Any) -> Any:
    """The constant scores c minimising sum_k counts_k loss(c, k): diagonal Newton steps with
    an Armijo backtracking line search, from ``start``, within [-30, 30]."""
    labels = np.flatnonzero(counts > 0)
    n = counts[labels]

    def total(c: Any) -> float:
        scores = np.repeat(c[None, :], labels.size, axis=0)
        return float(loss(scores, labels, weight=n, reduction="sum", **params))

    c = np.clip(np.asarray(start, dtype=np.float64), -_LOGIT_BOUND, _LOGIT_BOUND)
    value = total(c)
    for _ in range(_NEWTON_STEPS):
        scores = np.repeat(c[None, :], labels.size, axis=0)
        g = n @ loss.grad(scores, labels, **params)
        h = n @ loss.boosting_hess(scores, labels, **params)
        step = -g / h
        slope = float(g @ step)
        if not slope < 0:
            break
        t, moved = 1.0, False
        for _ in range(60):
            candidate = np.clip(c + t * step, -_LOGIT_BOUND, _LOGIT_BOUND)
            new = total(candidate)
            if new <= value + 1e-4 * float(g @ (candidate - c)):
                moved = new < value
                c, value = candidate, new
                break
            t *= 0.5
        if not moved:
            break
    return c
