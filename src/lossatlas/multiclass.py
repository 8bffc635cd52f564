"""Multiclass losses over a class axis: one loss value per sample.

The class axis is ``axis=-1`` in the functions here (the ``lossatlas.torch`` modules default to
``dim=1``, as torch does); the core moves it last before the kernels run, so every kernel below
reads the classes along the last axis.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from array_api_compat import array_namespace

from ._loss import AxisLoss
from ._probes import LOGITS, margin_probe
from ._reduce import Unreduced
from ._registry import register
from ._spec import BoostingHessian, Input, LossSpec, Param, Probe, Properties, Variant
from ._validate import LossInputError
from ._xp import abs_, const, device, times_finite, where0
from .classification import _logit_ce, _logit_ce_grad, _logit_ce_hess


def _onehot(xp: Any, index: Any, n: int, like: Any) -> Any:
    """A boolean one-hot of ``index`` (shape (*b, 1)) along a last axis of length n."""
    return xp.arange(n, device=device(like)) == index


def _class_weight(xp: Any, class_weight: Any, index: Any) -> Any:
    """class_weight[index] for an index array of any shape (``take`` wants 1-D indices)."""
    flat = xp.take(class_weight, xp.reshape(index, (-1,)))
    return xp.reshape(flat, tuple(index.shape))


def _coefficients(
    xp: Any,
    scores: Any,
    masked: Any,
    target: Any,
    class_weight: Any,
    ignore_index: int | None,
    label_smoothing: float,
    *,
    weight_in_mean: bool = True,
) -> tuple[Any, Any, Any, Any]:
    """(a, A, implicit weight, one-hot of the target), for a target of class indices or of
    class probabilities.

    a_c = w_c y'_c per class (0 on an ignored sample), A = sum a_c. Label smoothing puts its
    mass on the K classes that are not masked (a -inf logit, or a probability of 0, that is
    not the target). For index targets the implicit weight is w[y] (``weight_in_mean``: the
    class weight enters the mean's denominator, as in PyTorch's cross entropy; otherwise it
    only scales the values, as a focal alpha does) and 0 where ignored; None without either.
    For probability targets it and the one-hot are None."""
    n = scores.shape[-1]
    if xp.isdtype(target.dtype, "integral"):
        valid = None if ignore_index is None else target != ignore_index
        label = target if valid is None else xp.where(valid, target, const(xp, 0, target))
        onehot = _onehot(xp, label[..., None], n, scores)
        y = xp.astype(onehot, scores.dtype)
        implicit = None
        if class_weight is not None and weight_in_mean:
            implicit = _class_weight(xp, class_weight, label)
        if valid is not None:
            implicit = (
                xp.astype(valid, scores.dtype) if implicit is None else where0(xp, valid, implicit)
            )
        wanted = onehot
    else:
        valid, onehot, y, implicit = None, None, target, None
        wanted = target > 0
    if label_smoothing:
        unmasked = ~masked | wanted
        k = xp.sum(xp.astype(unmasked, scores.dtype), axis=-1, keepdims=True)
        uniform = where0(xp, unmasked, 1.0 / xp.where(k == 0, const(xp, 1.0, k), k))
        y = (1.0 - label_smoothing) * y + label_smoothing * uniform
    a = y if class_weight is None else class_weight * y
    if valid is not None:
        a = where0(xp, valid[..., None], a)
    return a, xp.sum(a, axis=-1, keepdims=True), implicit, onehot


def _exclusive(xp: Any, terms: Any, top: Any) -> Any:
    """sum over c != j of terms_c, for every class j (classes last). For the largest class
    it is summed without it, not taken as total - terms, which would cancel where that class
    holds nearly all of the total (a confident row)."""
    total = xp.sum(terms, axis=-1, keepdims=True)
    rest = xp.sum(where0(xp, ~top, terms), axis=-1, keepdims=True)
    return xp.where(top, rest, total - terms)


class _SoftmaxParts:
    """What the value and the derivatives of the softmax cross entropy share, per sample.

    For logits z (classes last): with a = argmax z and m = z_a, d = z - m <= 0,
    T = sum over c != a of exp(d_c) and log_s = log1p(T) = logsumexp(z) - m, the per-class
    negative log-probability is ``nll = log_s - d >= 0``. Summing the exponentials without the
    largest one and taking log1p keeps ``nll`` exact where it is tiny (a confident right
    answer: torch's log_softmax gives 0 for 4e-9 there); m is picked out by the one-hot of a,
    so that autodiff sends its derivative to one element even at ties.

    A +inf logit makes its row the limit: uniform over the +inf classes. A -inf logit is a
    masked class (a vocabulary mask): probability 0, no label-smoothing mass, no NaN.
    """

    def __init__(self, xp: Any, z: Any) -> None:
        n = z.shape[-1]
        self.masked = z == -math.inf
        positive_inf = z == math.inf
        any_inf = xp.any(positive_inf, axis=-1, keepdims=True)
        limit = xp.where(positive_inf, const(xp, 0.0, z), const(xp, -math.inf, z))
        z = xp.where(any_inf, limit, z)
        self.top = _onehot(xp, xp.argmax(z, axis=-1, keepdims=True), n, z)
        m = xp.sum(where0(xp, self.top, z), axis=-1, keepdims=True)
        m = xp.where(xp.isfinite(m), m, const(xp, 0.0, m))  # a row with every class masked
        d = z - m
        e = xp.exp(d)
        self.rest = xp.sum(where0(xp, ~self.top, e), axis=-1, keepdims=True)  # T
        log_s = xp.log1p(self.rest)
        self.nll = log_s - d
        self.log_s = log_s
        self.d = d
        self._m, self._any_inf = m, any_inf

    def log_sum_exp(self, xp: Any) -> Any:
        """logsumexp(z) per sample: +inf for a row with a +inf logit, -inf for one with
        every class masked."""
        lse = self._m + self.log_s
        lse = xp.where(self._any_inf, const(xp, math.inf, lse), lse)
        every_masked = xp.all(self.masked, axis=-1, keepdims=True)
        return xp.where(every_masked, const(xp, -math.inf, lse), lse)

    def probs(self, xp: Any) -> Any:
        return xp.exp(self.d - self.log_s)

    def one_minus_probs(self, xp: Any, p: Any) -> Any:
        """1 - p, for the largest class as T / (1 + T) (no cancellation where p is near 1)."""
        return xp.where(self.top, self.rest / (1.0 + self.rest), 1.0 - p)

    def log_one_minus_probs(self, xp: Any, p: Any) -> Any:
        """log(1 - p) with a finite slope everywhere: for the largest class log T - log1p(T),
        log T a log-sum-exp over the other classes (finite where T itself underflows to 0,
        -inf only where there is no other unmasked class); log1p(-p) for the others, whose
        p is at most 1/2."""
        others = xp.where(self.top, const(xp, -math.inf, self.d), self.d)
        peak = xp.max(others, axis=-1, keepdims=True)
        finite = xp.isfinite(peak)
        peak = xp.where(finite, peak, const(xp, 0.0, peak))
        total = xp.sum(xp.exp(others - peak), axis=-1, keepdims=True)
        log_t = peak + xp.log(xp.where(finite, total, const(xp, 1.0, total)))
        log_t = xp.where(finite, log_t, const(xp, -math.inf, log_t))
        rest = xp.log1p(-xp.where(self.top, const(xp, 0.0, p), p))
        return xp.where(self.top, log_t - self.log_s, rest)


class CrossEntropy(AxisLoss):
    r"""Softmax cross entropy (PyTorch's ``CrossEntropyLoss``) over a class axis.

    .. math:: \ell = -\sum_c w_c\, y'_c \log \operatorname{softmax}(z)_c,\qquad
              y' = (1 - s)\, y + s / K

    The target holds class indices (logits' shape without the class axis; y is their one-hot)
    or class probabilities (logits' shape). ``class_weight`` w weights each class;
    ``ignore_index`` leaves out the samples with that index; ``label_smoothing`` s mixes the
    target with the uniform distribution over the K unmasked classes (K = C unless some
    logits are -inf). With index targets and class weights the mean is
    ``sum(w[y] l) / sum(w[y])`` over the samples not ignored, as in PyTorch; with probability
    targets it is the mean over samples. With every sample ignored the mean is 0.

    ``from_logits=False`` takes probabilities along the class axis instead (Keras's
    ``from_logits=False``); they are used as given (Keras divides them by their sum, which is 1
    for a softmax output) and a probability of 0 on a target class gives inf.

    Language-model options (on logits): ``softcap`` c replaces the logits by c tanh(z / c)
    before anything else (Gemma 2's final-logit soft-capping; +-inf become +-c), and
    ``z_loss`` adds ``z_loss * A * logsumexp(z)^2`` per sample (PaLM's auxiliary z-loss, which
    keeps the normaliser near 1), A = sum_c w_c y'_c the sample's target weight (1 without class
    weights, 0 for an ignored sample). The z-loss makes the loss non-convex where
    logsumexp < -1/(2 z_loss), the cap wherever it bends; neither is a boosting objective.

    Numerics: the negative log-probability is computed as ``log1p(T) - d`` (see
    ``_SoftmaxParts``), exact to a few ulps where the loss is tiny; a -inf logit on a
    non-target class is a masked class (finite loss and gradients, no smoothing mass); a +inf
    logit gives the limit. ``grad`` is ``A softmax(z) - a`` with ``a_c = w_c y'_c`` and
    ``A = sum a_c`` (the true-class entry through ``expm1``, exact near a perfect fit), and
    ``hess`` the diagonal of the Hessian, ``A p (1 - p)``.
    """

    spec = LossSpec(
        name="cross_entropy",
        family="multiclass",
        summary="Softmax cross entropy: the multinomial negative log-likelihood of logits.",
        inputs=(
            Input(
                "logits",
                "*b C",
                "logit",
                class_axis=True,
                doc="one score per class (logits; probabilities with from_logits=False)",
            ),
            Input(
                "target",
                "*b",
                "class_index",
                dtype="index",
                differentiable=False,
                doc="class indices, or class probabilities of the logits' shape",
                alternatives=(
                    Input("target", "*b C", "simplex", differentiable=False, class_axis=True),
                ),
            ),
        ),
        output="*b",
        properties=Properties(convex=True, robust=True, smoothness="Cinf"),
        formula=r"\ell(z, y) = -\sum_c w_c\, y'_c \log \frac{e^{z_c}}{\sum_k e^{z_k}}",
        references=(
            "Bridle, J. S. (1990). Probabilistic interpretation of feedforward classification "
            "network outputs, with relationships to statistical pattern recognition. "
            "Neurocomputing, NATO ASI Series F68, 227-236.",
            "Szegedy, C. et al. (2016). Rethinking the Inception Architecture for Computer "
            "Vision (label smoothing). CVPR.",
        ),
        params=(
            Param(
                "axis", -1, "the class axis of logits (and of a probability target)", kind="axis"
            ),
            Param(
                "class_weight",
                None,
                "a weight (>= 0) per class, shape (C,); None weights every class 1",
                kind="array",
                allow_none=True,
                shape="C",
                domain="nonnegative",
            ),
            Param(
                "ignore_index",
                None,
                "a target index whose samples are left out (index targets only)",
                kind="int",
                allow_none=True,
            ),
            Param(
                "label_smoothing",
                0.0,
                "targets become (1 - s) y + s / K over the K unmasked classes",
                low=0.0,
                high=1.0,
            ),
            Param("from_logits", True, "logits hold logits (True) or probabilities", kind="bool"),
            Param(
                "softcap",
                None,
                "logits become softcap * tanh(z / softcap) first (Gemma 2; +-inf become "
                "+-softcap); None: off",
                low=0.0,
                low_inclusive=False,
                allow_none=True,
            ),
            Param(
                "z_loss",
                0.0,
                "adds z_loss * logsumexp(z)^2 per sample, times its weight A (PaLM's z-loss)",
                low=0.0,
            ),
        ),
        aliases=(
            "softmax_cross_entropy",
            "sparse_softmax_cross_entropy",
            "categorical_crossentropy",
            "sparse_categorical_crossentropy",
            "CrossEntropyLoss",
            "categorical_cross_entropy",
            "softmax_cross_entropy_with_integer_labels",
        ),
        framework_names={
            "pytorch": "torch.nn.CrossEntropyLoss, torch.nn.functional.cross_entropy",
            "keras": "keras.losses.CategoricalCrossentropy, "
            "keras.losses.SparseCategoricalCrossentropy",
            "tensorflow": "tf.nn.softmax_cross_entropy_with_logits, "
            "tf.nn.sparse_softmax_cross_entropy_with_logits",
            "paddle": "paddle.nn.CrossEntropyLoss, paddle.nn.functional.cross_entropy",
            "optax": "optax.softmax_cross_entropy, optax.softmax_cross_entropy_with_integer_labels",
        },
        elementwise=False,
        derivative_notes="with respect to the logits, per sample: grad = A softmax(z) - a with "
        "a_c = w_c y'_c and A = sum a_c; hess (its diagonal) = A p (1 - p). On probabilities: "
        "grad = -a / p, hess = a / p^2. A z-loss adds 2 z A lse p to grad and "
        "2 z A (p^2 + lse p (1 - p)) to hess; a softcap multiplies grad by sech^2(z / c) "
        "(and hess by its square, less (2/c) tanh(z / c) sech^2(z / c) times the gradient "
        "in the capped logits).",
        when_to_use="The default for single-label classification into C classes, and for "
        "language models (one class per token of the vocabulary).",
        showcase=({"label_smoothing": 0.0}, {"label_smoothing": 0.1}, {"label_smoothing": 0.3}),
        boosting=BoostingHessian(
            "exact",
            reason="a multiclass objective on one raw score (logit) per class: boosters get the "
            "gradient A p - a and the diagonal of the Hessian, A p (1 - p), positive wherever "
            "p is not 0 or 1 (lossatlas.gbm.xgboost_multiclass_objective, "
            "lightgbm_multiclass_objective)",
        ),
        variants=(
            # on probabilities the gradient grows like 1/p
            Variant({"from_logits": False}, {"logits": "simplex"}, {"robust": False}),
            Variant(
                lambda p: p.get("z_loss", 0.0) > 0,
                properties={"convex": False, "robust": False},
                note="z_loss > 0 (lse^2 is not convex where lse < -1/(2 z_loss), and its "
                "gradient grows with the logits)",
            ),
            Variant(
                lambda p: p.get("softcap") is not None,
                properties={"convex": False, "robust": True, "bounded": True},
                note="softcap set (the capped logits saturate: bounded, not convex)",
            ),
        ),
        probe=lambda p: margin_probe(
            (5, 2) if p.get("class_weight") is None else (len(p["class_weight"]),),
            probabilities=not p.get("from_logits", True),
            # every logit shifted down, to where z_loss's lse^2 bends the wrong way
            offset=-(1.0 + 1.0 / p["z_loss"]) if p.get("z_loss", 0.0) > 0 else 0.0,
        ),
    )

    def _check_together(self, bound: dict[str, Any]) -> None:
        if bound.get("from_logits", True):
            return
        for name, off in (("softcap", None), ("z_loss", 0.0)):
            if bound.get(name, off) != off:
                raise LossInputError(
                    self.name,
                    name,
                    f"{name}={off!r} with from_logits=False (it acts on logits)",
                    repr(bound[name]),
                )

    def check_boosting_params(self, bound: dict[str, Any]) -> None:
        for name, off in (("softcap", None), ("z_loss", 0.0)):
            if bound.get(name, off) != off:
                raise LossInputError(
                    self.name,
                    name,
                    f"{name}={off!r} for a boosting objective (a language-model option)",
                    repr(bound[name]),
                )

    # ---- the pieces shared by value and derivatives -------------------------------------------
    def _pieces(
        self,
        xp: Any,
        logits: Any,
        target: Any,
        *,
        class_weight: Any,
        ignore_index: int | None,
        label_smoothing: float,
        from_logits: bool,
        softcap: float | None = None,
        z_loss: float = 0.0,
    ) -> tuple[Any, Any, Any, Any, Any, Any]:
        """(nll, the softmax parts or None on probabilities, a, A, implicit weight, one-hot),
        of the capped logits where ``softcap`` is set."""
        if from_logits:
            parts = _SoftmaxParts(xp, _capped(xp, logits, softcap))
            nll, masked = parts.nll, parts.masked
            a, total, implicit, onehot = _coefficients(
                xp, nll, masked, target, class_weight, ignore_index, label_smoothing
            )
            return nll, parts, a, total, implicit, onehot
        # probabilities: -log p where a class carries target mass; elsewhere the log of 1 (the
        # coefficient is 0), so that a probability of 0 on a target class gives an infinite
        # loss and gradient while one on another class gives 0 and no NaN under autodiff
        a, total, implicit, onehot = _coefficients(
            xp, logits, logits == 0, target, class_weight, ignore_index, label_smoothing
        )
        safe = xp.where(a > 0, logits, const(xp, 1.0, logits))
        return -xp.log(safe), None, a, total, implicit, onehot

    # ---- kernels ----------------------------------------------------------------------------
    def _unreduced(self, xp: Any, logits: Any, target: Any, **params: Any) -> Unreduced:
        nll, parts, a, total, implicit, _ = self._pieces(xp, logits, target, **params)
        value = xp.sum(times_finite(xp, a, nll), axis=-1)
        z_loss = params["z_loss"]
        if z_loss:  # z_loss A lse^2, 0 for an ignored sample (A = 0) even at lse = inf
            lse = parts.log_sum_exp(xp)
            value = value + times_finite(xp, z_loss * total, lse * lse)[..., 0]
        return Unreduced(value, implicit)

    def _grad(self, xp: Any, logits: Any, target: Any, **params: Any) -> Any:
        nll, parts, a, total, _, onehot = self._pieces(xp, logits, target, **params)
        if parts is None:  # probabilities: d(-a log p)/dp = -a / p (0 where a is 0)
            return -times_finite(xp, a, _reciprocal(xp, logits))
        grad = self._grad_of_capped(
            xp, nll, parts, parts.probs(xp), a, total, onehot, params["z_loss"]
        )
        softcap = params["softcap"]
        if softcap is not None:  # the chain rule through softcap tanh(z / softcap)
            grad = grad * _cap_slope(xp, logits, softcap)
        return grad

    @staticmethod
    def _grad_of_capped(
        xp: Any, nll: Any, parts: Any, p: Any, a: Any, total: Any, onehot: Any, z_loss: float
    ) -> Any:
        """The gradient with respect to the (capped) logits, p their softmax: A p - a, plus
        2 z A lse p."""
        grad = total * p - a
        if onehot is not None:
            # the target entry A p_y - a_y = a_y (p_y - 1) + (A - a_y) p_y, p_y - 1 = expm1(-nll)
            a_y = xp.sum(where0(xp, onehot, a), axis=-1, keepdims=True)
            exact = a_y * xp.expm1(-nll) + (total - a_y) * p
            grad = xp.where(onehot, exact, grad)
        if z_loss:
            grad = grad + _z_loss_term(xp, parts, p, total, z_loss)
        return grad

    def _hess(self, xp: Any, logits: Any, target: Any, **params: Any) -> Any:
        nll, parts, a, total, _, onehot = self._pieces(xp, logits, target, **params)
        if parts is None:  # probabilities: a / p^2
            inv = _reciprocal(xp, logits)
            return times_finite(xp, a, inv * inv)
        p = parts.probs(xp)
        q = p * parts.one_minus_probs(xp, p)
        hess = total * q
        z_loss, softcap = params["z_loss"], params["softcap"]
        if z_loss:  # d(2 z A lse p_c)/dz_c = 2 z A (p_c^2 + lse p_c (1 - p_c))
            hess = (
                hess + (2.0 * z_loss) * total * (p * p) + _z_loss_term(xp, parts, q, total, z_loss)
            )
        if softcap is None:
            return hess
        # the diagonal of l(c tanh(z / c)): l'' s'^2 + l' s'', with s'' = -2 tanh(z / c) s' / c
        grad = self._grad_of_capped(xp, nll, parts, p, a, total, onehot, z_loss)
        slope = _cap_slope(xp, logits, softcap)
        tanh = xp.tanh(where0(xp, xp.isfinite(logits), logits) / softcap)
        return hess * (slope * slope) - (2.0 / softcap) * grad * tanh * slope


def _capped(xp: Any, z: Any, softcap: float | None) -> Any:
    """``softcap * tanh(z / softcap)``: +-inf become +-softcap (the limit; apply a vocabulary
    mask after the cap to keep a class masked)."""
    if softcap is None:
        return z
    return softcap * xp.tanh(z / softcap)


def _cap_slope(xp: Any, z: Any, softcap: float) -> Any:
    """d/dz of softcap * tanh(z / softcap) = sech(u)^2 = 4 e / (1 + e)^2 with
    e = exp(-2 |u|), u = z / softcap: no cancellation where tanh is near 1 (1 - tanh^2 would
    lose it), no overflow (cosh would), and 0 with a finite slope at +-inf."""
    e = xp.exp(-2.0 * abs_(xp, z / softcap))
    return 4.0 * e / ((1.0 + e) * (1.0 + e))


def _z_loss_term(xp: Any, parts: Any, coef: Any, total: Any, z_loss: float) -> Any:
    """2 z_loss A lse coef: 0 where coef or A is 0, even where lse is infinite."""
    lse = parts.log_sum_exp(xp)
    return times_finite(xp, 2.0 * z_loss * total, times_finite(xp, coef, lse))


def _reciprocal(xp: Any, p: Any) -> Any:
    """1 / p, inf at p = 0 (no division warning)."""
    positive = p > 0
    one = const(xp, 1.0, p)
    return xp.where(positive, one / xp.where(positive, p, one), const(xp, math.inf, p))


# ---- shared spec pieces ---------------------------------------------------------------------
def _index_or_probability_target() -> Input:
    return Input(
        "target",
        "*b",
        "class_index",
        dtype="index",
        differentiable=False,
        doc="class indices, or class probabilities of the logits' shape",
        alternatives=(Input("target", "*b C", "simplex", differentiable=False, class_axis=True),),
    )


def _index_target() -> Input:
    return Input(
        "target",
        "*b",
        "class_index",
        dtype="index",
        differentiable=False,
        doc="class indices (the logits' shape without the class axis)",
    )


_LOGITS = Input("logits", "*b C", "logit", class_axis=True, doc="one score per class (logits)")
_AXIS = Param("axis", -1, "the class axis of logits (and of a probability target)", kind="axis")
_IGNORE = Param(
    "ignore_index",
    None,
    "a target index whose samples are left out (index targets only)",
    kind="int",
    allow_none=True,
)
_SMOOTHING = Param(
    "label_smoothing",
    0.0,
    "targets become (1 - s) y + s / K over the K unmasked classes",
    low=0.0,
    high=1.0,
)


def _per_class(name: str, doc: str) -> Param:
    return Param(name, None, doc, kind="array", allow_none=True, shape="C", domain="nonnegative")


def _margin_probe(p: Any) -> Any:
    weights = p.get("class_weight", p.get("alpha"))
    return margin_probe((5, 2) if weights is None else (len(weights),))


# ---- nll_loss -------------------------------------------------------------------------------
class NLLLoss(AxisLoss):
    r"""Negative log-likelihood of log-probabilities (PyTorch's ``NLLLoss``).

    .. math:: \ell_n = -w_{y_n}\, x_{n, y_n}

    ``log_probs`` holds log-probabilities along the class axis (a ``log_softmax`` output);
    they are used as given, as PyTorch does (nothing is normalised). The target holds class
    indices. With ``class_weight`` the mean is ``sum(w[y] l) / sum(w[y])`` over the samples
    not ignored (``ignore_index``); with every sample ignored it is 0. A log-probability of
    -inf on the target class gives inf; on another class it is never read.
    """

    spec = LossSpec(
        name="nll_loss",
        family="multiclass",
        summary="Negative log-likelihood: minus the log-probability of the true class.",
        inputs=(
            Input(
                "log_probs",
                "*b C",
                "log_probability",
                class_axis=True,
                doc="log-probabilities per class (a log_softmax output)",
            ),
            _index_target(),
        ),
        output="*b",
        properties=Properties(convex=True, robust=True, smoothness="Cinf"),
        formula=r"\ell(x, y) = -w_y\, x_y",
        references=(
            "Bridle, J. S. (1990). Probabilistic interpretation of feedforward classification "
            "network outputs. Neurocomputing, NATO ASI Series F68, 227-236.",
        ),
        params=(
            _AXIS,
            _per_class("class_weight", "a weight (>= 0) per class, shape (C,); None weights 1"),
            _IGNORE,
        ),
        aliases=("NLLLoss", "nll", "negative_log_likelihood"),
        framework_names={
            "pytorch": "torch.nn.NLLLoss, torch.nn.functional.nll_loss",
            "paddle": "paddle.nn.NLLLoss, paddle.nn.functional.nll_loss",
        },
        elementwise=False,
        derivative_notes="with respect to the log-probabilities: grad = -w_y on the true "
        "class and 0 elsewhere; hess = 0 (the loss is linear in them).",
        when_to_use="After a log_softmax of your own (or any log-likelihood per class): "
        "cross_entropy fuses the two and is exact where the loss is tiny.",
        showcase=({},),
        boosting=BoostingHessian(
            "none",
            reason="it is linear in log-probabilities, not a function of raw scores; boost "
            "cross_entropy, which is nll_loss after a log_softmax",
        ),
        probe=lambda p: _nll_probe(p),
    )

    def _pick(self, xp: Any, x: Any, target: Any, class_weight: Any, ignore_index: Any) -> Any:
        """(-a: the gradient, the implicit weight): a_c = w_y on the true class."""
        a, _, implicit, onehot = _coefficients(
            xp, x, x == -math.inf, target, class_weight, ignore_index, 0.0
        )
        return a, implicit, onehot

    def _unreduced(
        self, xp: Any, log_probs: Any, target: Any, *, class_weight: Any, ignore_index: Any
    ) -> Unreduced:
        a, implicit, onehot = self._pick(xp, log_probs, target, class_weight, ignore_index)
        picked = xp.sum(where0(xp, onehot, log_probs), axis=-1)  # -inf elsewhere is not read
        weight = xp.sum(a, axis=-1)
        return Unreduced(-times_finite(xp, weight, picked), implicit)

    def _grad(
        self, xp: Any, log_probs: Any, target: Any, *, class_weight: Any, ignore_index: Any
    ) -> Any:
        return -self._pick(xp, log_probs, target, class_weight, ignore_index)[0]

    def _hess(self, xp: Any, log_probs: Any, target: Any, **params: Any) -> Any:
        return xp.zeros_like(log_probs)


def _nll_probe(p: Any) -> Probe:
    counts = (5, 2) if p.get("class_weight") is None else (len(p["class_weight"]),)
    return Probe(
        "log-probability", "true-class log-probability x_y", "x_y",
        "log-probabilities (x_y, log((1 - e^x_y)/(C - 1)), ...), label 0",
        "log_probability", (-6.0, 0.0), (-4.0, -2.0, -1.0, -0.5, -0.1, 0.0),
        tuple(_log_prob_curve(c) for c in counts), "x_y",
    )  # fmt: skip


def _log_prob_curve(c: int) -> Any:
    """logits of a probe with true-class log-probability t and the rest spread evenly."""
    from ._spec import Curve

    def make(t: np.ndarray) -> dict[str, np.ndarray]:
        t = np.asarray(t, dtype=np.float64)
        with np.errstate(divide="ignore"):
            rest = np.log(-np.expm1(t) / (c - 1))
        x = np.repeat(rest[:, None], c, axis=1)
        x[:, 0] = t
        return {"log_probs": x, "target": np.zeros(len(t), dtype=np.int64)}

    def direction(t: np.ndarray) -> np.ndarray:
        d = np.zeros((len(np.asarray(t)), c))
        d[:, 0] = 1.0
        return d

    return Curve(f"C = {c} classes", f"C={c}", make, direction)


# ---- softmax focal loss ---------------------------------------------------------------------
class _FocalPieces:
    """The per-class pieces of the softmax focal loss ``-sum_c a_c (1 - p_c)^gamma log p_c``.

    With nll = -log p exact (``_SoftmaxParts``), q = 1 - p exact for every class, and the
    modulator M = q^gamma: as a power where q > 1e-8, as exp(gamma log q) below, with log q in
    log-sum-exp form, so that neither the power's derivative (which overflows for gamma < 1 as
    q -> 0) nor 0 * inf reaches the gradient of a saturated row.
    """

    def __init__(self, xp: Any, parts: _SoftmaxParts, gamma: float) -> None:
        p = parts.probs(xp)
        q = parts.one_minus_probs(xp, p)
        self.p, self.q, self.nll = p, q, parts.nll
        if gamma == 0:
            self.modulator = xp.ones_like(p)
            self.log_q = None
            return
        log_q = parts.log_one_minus_probs(xp, p)
        big = q > const(xp, 1e-8, q)
        direct = xp.where(big, q, const(xp, 1.0, q)) ** gamma
        self.modulator = xp.where(big, direct, xp.exp(gamma * where0(xp, ~big, log_q)))
        self.log_q = log_q


class SoftmaxFocalLoss(AxisLoss):
    r"""Softmax focal loss (Lin et al. 2017, multiclass form; Keras's
    ``CategoricalFocalCrossentropy``).

    .. math:: \ell = -\sum_c \alpha_c\, y'_c\, (1 - p_c)^\gamma \log p_c,\qquad
              p = \operatorname{softmax}(z),\ y' = (1 - s)\, y + s / K

    The target holds class indices or class probabilities. ``alpha`` holds one weight per
    class (Keras's scalar alpha is ``alpha * ones(C)``); it scales the values and, unlike
    cross_entropy's ``class_weight``, does not enter the mean's denominator: "mean" is the
    mean over the samples not ignored. ``gamma = 0`` without alpha is ``cross_entropy``.

    Numerics (``_FocalPieces``): the value, the gradient and the Hessian's diagonal are
    finite at saturated logits for every gamma >= 0 (gamma < 1 included, where the factor
    (1 - p)^(gamma - 1) of the derivative diverges), and exact where the loss is tiny. With
    a_c = alpha_c y'_c, g_c = p_c d/dp_c[-(1 - p_c)^gamma log p_c] =
    ``-(1 - p_c)^gamma (1 + gamma p_c nll_c / (1 - p_c))`` and G = sum a_c g_c, the gradient
    is ``grad_j = a_j g_j - p_j G``, evaluated as ``a_j g_j (1 - p_j) - p_j sum_{c != j} a_c
    g_c`` (exact near p_j = 1).
    """

    spec = LossSpec(
        name="softmax_focal_loss",
        family="multiclass",
        summary="Softmax focal loss: cross entropy down-weighted on well-classified samples.",
        inputs=(_LOGITS, _index_or_probability_target()),
        output="*b",
        properties=Properties(convex=False, robust=True, smoothness="Cinf"),
        formula=r"\ell(z, y) = -\sum_c \alpha_c\, y'_c\, (1 - p_c)^{\gamma} \log p_c",
        references=(
            "Lin, T.-Y., Goyal, P., Girshick, R., He, K., Dollár, P. (2017). Focal Loss for "
            "Dense Object Detection. ICCV. arXiv:1708.02002.",
        ),
        params=(
            _AXIS,
            Param("gamma", 2.0, "focusing parameter: 0 is cross entropy", low=0.0),
            _per_class("alpha", "a weight (>= 0) per class, shape (C,); None weights 1"),
            _IGNORE,
            _SMOOTHING,
        ),
        aliases=(
            "categorical_focal_crossentropy",
            "CategoricalFocalCrossentropy",
            "sparse_categorical_focal_crossentropy",
            "multiclass_focal_loss",
            "softmax_focal",
        ),
        framework_names={
            "keras": "keras.losses.CategoricalFocalCrossentropy",
            "tensorflow": "tf.keras.losses.CategoricalFocalCrossentropy",
        },
        elementwise=False,
        derivative_notes="with respect to the logits, in closed form: grad_j = a_j g_j - p_j G "
        "with g_c = -(1 - p_c)^gamma (1 + gamma p_c nll_c / (1 - p_c)) and G = sum a_c g_c; "
        "hess the exact diagonal. Finite at saturated logits for every gamma >= 0.",
        when_to_use="Single-label classification with many easy samples that swamp the "
        "loss (dense prediction, long-tailed classes); gamma trades calibration for focus.",
        showcase=({"gamma": 0.0}, {"gamma": 0.5}, {"gamma": 2.0}, {"gamma": 5.0}),
        variants=(Variant({"gamma": 0.0}, properties={"convex": True}),),
        boosting=BoostingHessian(
            "surrogate",
            r"h_j = \max\big(\ell''_{jj},\ (\textstyle\sum_c \alpha_c y'_c (1-p_c)^\gamma)"
            r"\, p_j (1 - p_j)\big)",
            "For gamma > 0 the diagonal turns negative on confidently wrong rows, where a "
            "Newton step would go uphill. Boosters get the larger of it and the softmax cross "
            "entropy's curvature with the focal factors held fixed (the Gauss-Newton "
            "curvature), as for the binary focal loss; for gamma = 0 both are equal.",
        ),
        probe=_margin_probe,
    )

    def _pieces(
        self,
        xp: Any,
        logits: Any,
        target: Any,
        *,
        gamma: float,
        alpha: Any,
        ignore_index: int | None,
        label_smoothing: float,
    ) -> tuple[Any, Any, Any, Any]:
        parts = _SoftmaxParts(xp, logits)
        a, _, implicit, _ = _coefficients(
            xp,
            parts.nll,
            parts.masked,
            target,
            alpha,
            ignore_index,
            label_smoothing,
            weight_in_mean=False,
        )
        return parts, _FocalPieces(xp, parts, gamma), a, implicit

    def _unreduced(self, xp: Any, logits: Any, target: Any, **params: Any) -> Unreduced:
        _, f, a, implicit = self._pieces(xp, logits, target, **params)
        # where p = 0 (nll = inf) the modulator is 1: the term is nll itself, so that autodiff
        # sees no 0 * inf from the modulator's vanishing slope
        finite = f.nll < math.inf
        focal = f.modulator * where0(xp, finite, f.nll)
        return Unreduced(
            xp.sum(times_finite(xp, a, xp.where(finite, focal, f.nll)), axis=-1), implicit
        )

    @staticmethod
    def _g(xp: Any, f: _FocalPieces, gamma: float) -> tuple[Any, Any, Any]:
        """(g, p * nll, p * nll / q): g_c = p_c d/dp_c [-(1-p_c)^gamma log p_c]."""
        pn = times_finite(xp, f.p, f.nll)  # -p log p: 0 on a masked class
        positive = f.q > 0
        pr = xp.where(positive, pn / xp.where(positive, f.q, const(xp, 1.0, f.q)), f.p)
        return -f.modulator * (gamma * pr + 1.0), pn, pr

    def _grad(self, xp: Any, logits: Any, target: Any, **params: Any) -> Any:
        parts, f, a, _ = self._pieces(xp, logits, target, **params)
        g, _, _ = self._g(xp, f, params["gamma"])
        ag = a * g
        # grad_j = a_j g_j - p_j G = a_j g_j q_j - p_j sum_{c != j} a_c g_c (exact near p_j = 1)
        return ag * f.q - f.p * _exclusive(xp, ag, parts.top)

    def _hess(self, xp: Any, logits: Any, target: Any, **params: Any) -> Any:
        parts, f, a, _ = self._pieces(xp, logits, target, **params)
        return self._diagonal(xp, parts, f, a, params["gamma"])

    def _diagonal(self, xp: Any, parts: Any, f: _FocalPieces, a: Any, gamma: float) -> Any:
        """hess_j = a_j h_j q_j^2 + p_j^2 sum_{c != j} a_c h_c - p_j q_j G, h_c = p_c g'(p_c):
        the form without the two large terms of a saturated class that cancel."""
        g, pn, pr = self._g(xp, f, gamma)
        big_g = xp.sum(a * g, axis=-1, keepdims=True)
        base = -f.p * f.q * big_g
        if gamma == 0:
            return base
        bracket = (gamma - 1.0) * f.p * pr + 2.0 * f.p - pn
        # the smallest normal number of the compute dtype (float64, or float32 for the rest)
        log_tiny = math.log(2.0**-1022 if f.q.dtype == xp.float64 else 2.0**-126)
        log_q = xp.maximum(f.log_q, const(xp, log_tiny, f.q))
        h = gamma * xp.exp((gamma - 1.0) * log_q) * bracket  # q^(gamma-1), bounded
        k = gamma * f.modulator * f.q * bracket  # h q^2
        return times_finite(xp, a, k) + f.p * f.p * _exclusive(xp, a * h, parts.top) + base

    def _boosting_hess(self, xp: Any, logits: Any, target: Any, **params: Any) -> Any:
        parts, f, a, _ = self._pieces(xp, logits, target, **params)
        exact = self._diagonal(xp, parts, f, a, params["gamma"])
        weight = xp.sum(a * f.modulator, axis=-1, keepdims=True)
        return xp.maximum(exact, weight * f.p * f.q)


# ---- poly-1 cross entropy -------------------------------------------------------------------
class Poly1CrossEntropy(AxisLoss):
    r"""Poly-1 cross entropy (PolyLoss, Leng et al. 2022); optax's ``poly_loss_cross_entropy``.

    .. math:: \ell = \mathrm{CE}(z, y) + \epsilon \sum_c a_c (1 - p_c),\qquad a_c = w_c y'_c

    cross_entropy plus epsilon times the first term of its expansion in powers of 1 - p_t
    (for a one-hot target, ``CE + epsilon (1 - p_y)``). Class weights, ``ignore_index`` and
    label smoothing are cross_entropy's, and so is the mean (``sum(w[y] l) / sum(w[y])``).
    ``epsilon >= -1`` keeps the loss non-negative (-log p >= 1 - p), and it is convex in the
    logits exactly for -1 <= epsilon <= 1 (its Hessian, per class term, is
    ``(1 + e p) S - e p v v^T`` with S the softmax Jacobian and v = e_y - p). Exact where the
    loss is tiny: the cross-entropy part as in ``cross_entropy``, 1 - p as T / (1 + T) for the
    largest class.
    """

    spec = LossSpec(
        name="poly1_cross_entropy",
        family="multiclass",
        summary="Poly-1 loss: cross entropy plus epsilon times (1 - p_t).",
        inputs=(_LOGITS, _index_or_probability_target()),
        output="*b",
        properties=Properties(convex=True, robust=True, smoothness="Cinf"),
        formula=r"\ell(z, y) = -\sum_c w_c y'_c \log p_c + \epsilon \sum_c w_c y'_c (1 - p_c)",
        references=(
            "Leng, Z., Tan, M., Liu, C., Cubuk, E. D., Shi, X., Cheng, S., Anguelov, D. (2022). "
            "PolyLoss: A Polynomial Expansion Perspective of Classification Loss Functions. "
            "ICLR. arXiv:2204.12511.",
        ),
        params=(
            _AXIS,
            Param("epsilon", 1.0, "the weight of the first polynomial term 1 - p_t", low=-1.0),
            _per_class("class_weight", "a weight (>= 0) per class, shape (C,); None weights 1"),
            _IGNORE,
            _SMOOTHING,
        ),
        aliases=("poly_loss_cross_entropy", "poly1_loss", "poly_loss", "PolyLoss"),
        framework_names={"optax": "optax.poly_loss_cross_entropy"},
        elementwise=False,
        derivative_notes="with respect to the logits: grad = A p - a + epsilon p (S - a) with "
        "S = sum a_c p_c; hess = A p (1 - p) + epsilon p (S - a)(1 - 2p).",
        when_to_use="A drop-in for cross entropy with one knob: epsilon > 0 pushes harder on "
        "the true class (classification, ImageNet: epsilon 2), epsilon < 0 less (detection).",
        showcase=({"epsilon": -1.0}, {"epsilon": 0.0}, {"epsilon": 1.0}, {"epsilon": 3.0}),
        # the Hessian is (1 + e p_y) S - e p_y v v^T with S = diag(p) - p p^T, v = e_y - p, and
        # v^T S^+ v = (1 - p_y)/p_y: positive semi-definite for every p iff -1 <= e <= 1
        variants=(
            Variant(
                lambda p: p["epsilon"] > 1.0,
                properties={"convex": False},
                note="epsilon > 1",
            ),
        ),
        boosting=BoostingHessian(
            "surrogate",
            r"h_j = \ell''_{jj}\ \text{where positive, else}\ A\, p_j (1 - p_j)",
            "For -1 <= epsilon <= 1 the loss is convex and this is its exact diagonal. For "
            "epsilon > 1 the diagonal turns negative on confidently wrong rows; boosters get "
            "the cross entropy's curvature there.",
        ),
        probe=_margin_probe,
    )

    def _pieces(
        self,
        xp: Any,
        logits: Any,
        target: Any,
        *,
        epsilon: float,
        class_weight: Any,
        ignore_index: int | None,
        label_smoothing: float,
    ) -> tuple[Any, Any, Any, Any, Any]:
        parts = _SoftmaxParts(xp, logits)
        a, total, implicit, _ = _coefficients(
            xp, parts.nll, parts.masked, target, class_weight, ignore_index, label_smoothing
        )
        p = parts.probs(xp)
        return parts, p, parts.one_minus_probs(xp, p), a, (total, implicit)

    def _unreduced(self, xp: Any, logits: Any, target: Any, **params: Any) -> Unreduced:
        parts, _, q, a, (_, implicit) = self._pieces(xp, logits, target, **params)
        ce = xp.sum(times_finite(xp, a, parts.nll), axis=-1)
        return Unreduced(ce + params["epsilon"] * xp.sum(a * q, axis=-1), implicit)

    def _grad(self, xp: Any, logits: Any, target: Any, **params: Any) -> Any:
        parts, p, q, a, _ = self._pieces(xp, logits, target, **params)
        s_minus_a = _exclusive(xp, a * p, parts.top) - a * q  # S - a_j
        ce = _exclusive(xp, a, parts.top) * p - a * q  # A p_j - a_j
        return ce + params["epsilon"] * p * s_minus_a

    def _diagonal(self, xp: Any, logits: Any, target: Any, **params: Any) -> tuple[Any, Any]:
        """(the Hessian's diagonal, its cross-entropy part A p (1 - p))."""
        parts, p, q, a, (total, _) = self._pieces(xp, logits, target, **params)
        ce = total * p * q
        s_minus_a = _exclusive(xp, a * p, parts.top) - a * q
        return ce + params["epsilon"] * p * s_minus_a * (q - p), ce

    def _hess(self, xp: Any, logits: Any, target: Any, **params: Any) -> Any:
        return self._diagonal(xp, logits, target, **params)[0]

    def _boosting_hess(self, xp: Any, logits: Any, target: Any, **params: Any) -> Any:
        exact, ce = self._diagonal(xp, logits, target, **params)
        return xp.where(exact > 0, exact, ce)


# ---- multiclass hinge -----------------------------------------------------------------------
class MulticlassHinge(AxisLoss):
    r"""Multiclass hinge loss, in the Weston-Watkins or the Crammer-Singer form.

    .. math:: \text{weston\_watkins:}\ \ell = \frac{w_y}{C} \sum_{c \ne y}
              \max(0,\ m - z_y + z_c)^p \qquad
              \text{crammer\_singer:}\ \ell = w_y \max\big(0,\ m + \max_{c \ne y} z_c - z_y\big)^p

    Weston-Watkins is PyTorch's ``MultiMarginLoss`` (with its 1/C and its ``weight``, which
    scales the values and does not enter the mean's denominator); Crammer-Singer with m = 1 and
    p = 1 is optax's ``multiclass_hinge_loss``. Integer targets only; p is 1 or 2. At a tie
    for the largest other score, Crammer-Singer's gradient is split evenly among the tied
    classes (as autodiff of a max does); at a hinge's corner the gradient of the flat side (0)
    is taken, as in PyTorch.
    """

    spec = LossSpec(
        name="multiclass_hinge",
        family="multiclass",
        summary="Multiclass hinge: the margin of the true class over the others, clipped at 0.",
        inputs=(
            Input("logits", "*b C", "real", class_axis=True, doc="one score per class"),
            _index_target(),
        ),
        output="*b",
        properties=Properties(convex=True, robust=True, smoothness="C0"),
        formula=r"\ell = \frac{w_y}{C} \sum_{c \ne y} \max(0,\ m - z_y + z_c)^p",
        references=(
            "Weston, J., Watkins, C. (1999). Support vector machines for multi-class pattern "
            "recognition. ESANN.",
            "Crammer, K., Singer, Y. (2001). On the algorithmic implementation of multiclass "
            "kernel-based vector machines. JMLR 2, 265-292.",
        ),
        params=(
            _AXIS,
            Param("margin", 1.0, "the margin m the true class must win by", low=0.0),
            Param("p", 1, "the power of each hinge: 1 or 2", kind="int", low=1, high=2),
            Param(
                "variant",
                "weston_watkins",
                "a hinge per other class (Weston-Watkins) or against the best other one "
                "(Crammer-Singer)",
                kind="choice",
                choices=("weston_watkins", "crammer_singer"),
            ),
            _per_class("class_weight", "a weight (>= 0) per class, shape (C,); None weights 1"),
        ),
        aliases=(
            "MultiMarginLoss",
            "multi_margin_loss",
            "multiclass_hinge_loss",
            "multiclass_svm",
            "weston_watkins",
            "crammer_singer",
        ),
        framework_names={
            "pytorch": "torch.nn.MultiMarginLoss, torch.nn.functional.multi_margin_loss",
            "optax": "optax.multiclass_hinge_loss (crammer_singer)",
            "keras": "keras.losses.CategoricalHinge (crammer_singer on one-hot targets)",
            "paddle": "paddle.nn.MultiMarginLoss",
        },
        elementwise=False,
        derivative_notes="with respect to the scores: each active hinge h = m - z_y + z_c > 0 "
        "adds p h^(p-1) (times w_y / C for Weston-Watkins) to class c and subtracts it from the "
        "true class; hess is 0 for p = 1 and the diagonal of the active hinges' curvature 2 "
        "for p = 2.",
        when_to_use="Linear classifiers and SVM-style heads that need a margin, not "
        "probabilities; the scores it learns are not calibrated.",
        showcase=(
            {"variant": "weston_watkins", "p": 1},
            {"variant": "weston_watkins", "p": 2},
            {"variant": "crammer_singer", "p": 1},
            {"variant": "crammer_singer", "p": 2},
        ),
        variants=(Variant({"p": 2}, properties={"smoothness": "C1", "robust": False}),),
        kinks=lambda p: (p["margin"],),  # along the probe: every hinge meets 0 at z_y = m
        boosting=BoostingHessian(
            "surrogate",
            r"h = 1\ (p = 1);\quad h = 2\, w_y (C - 1)/C\ \text{(Weston-Watkins)},\ "
            r"2\, w_y\ \text{(Crammer-Singer)}\ (p = 2)",
            "For p = 1 the diagonal is 0 wherever it exists: as for the binary hinge, a unit "
            "Hessian makes each leaf's step the mean of its gradients. For p = 2 it is 0 "
            "where every hinge is inactive; boosters get the largest curvature of the active "
            "hinges, which bounds the loss's, so each Newton step never overshoots.",
        ),
        probe=lambda p: margin_probe(
            (5, 2) if p.get("class_weight") is None else (len(p["class_weight"]),)
        ),
    )

    def _hinges(
        self, xp: Any, z: Any, target: Any, margin: float, variant: str
    ) -> tuple[Any, Any, Any]:
        """(the hinge arguments h_c per class, 0 on the true class; which are active; the
        one-hot of the target). Crammer-Singer keeps h on the best other classes only."""
        n = z.shape[-1]
        onehot = _onehot(xp, target[..., None], n, z)
        z_y = xp.sum(where0(xp, onehot, z), axis=-1, keepdims=True)
        h = margin - z_y + z
        if variant == "crammer_singer":
            others = xp.where(onehot, const(xp, -math.inf, z), z)
            best = xp.max(others, axis=-1, keepdims=True)
            h = where0(xp, (others == best) & ~onehot, h)
            active = (h > 0) & (others == best) & ~onehot
        else:
            active = (h > 0) & ~onehot
        return h, active, onehot

    def _scale(self, xp: Any, z: Any, target: Any, class_weight: Any, variant: str) -> Any:
        """w_y (divided by C for Weston-Watkins), shape (*b, 1); or a Python number."""
        scale: Any = 1.0 / z.shape[-1] if variant == "weston_watkins" else 1.0
        if class_weight is not None:
            scale = scale * _class_weight(xp, class_weight, target)[..., None]
        return scale

    def _unreduced(
        self,
        xp: Any,
        logits: Any,
        target: Any,
        *,
        margin: float,
        p: int,
        variant: str,
        class_weight: Any,
    ) -> Unreduced:
        h, active, _ = self._hinges(xp, logits, target, margin, variant)
        slack = where0(xp, active, h)
        terms = slack if p == 1 else slack * slack
        if variant == "crammer_singer":  # the largest (ties have equal h): a max, not a sum
            value = xp.max(terms, axis=-1)
        else:
            value = xp.sum(terms, axis=-1)
        scale = self._scale(xp, logits, target, class_weight, variant)
        value = value * (scale if isinstance(scale, float) else scale[..., 0])
        # a NaN score fails every "h > 0": give NaN, not the 0 of an inactive hinge
        nan = xp.any(xp.isnan(logits), axis=-1)
        return Unreduced(xp.where(nan, const(xp, math.nan, value), value))

    def _slopes(self, xp: Any, logits: Any, target: Any, margin, p, variant, class_weight):
        h, active, onehot = self._hinges(xp, logits, target, margin, variant)
        slope = xp.astype(active, logits.dtype) if p == 1 else 2.0 * where0(xp, active, h)
        if variant == "crammer_singer":  # split evenly among tied best classes
            ties = xp.sum(xp.astype(active, logits.dtype), axis=-1, keepdims=True)
            slope = slope / xp.where(ties > 0, ties, const(xp, 1.0, ties))
        scale = self._scale(xp, logits, target, class_weight, variant)
        return slope * scale, active, onehot, scale

    def _grad(self, xp: Any, logits: Any, target: Any, **params: Any) -> Any:
        slope, _, onehot, _ = self._slopes(xp, logits, target, **params)
        total = xp.sum(slope, axis=-1, keepdims=True)
        return xp.where(onehot, -total, slope)

    def _hess(self, xp: Any, logits: Any, target: Any, **params: Any) -> Any:
        if params["p"] == 1:
            return xp.zeros_like(logits)
        _, active, onehot, scale = self._slopes(xp, logits, target, **params)
        curvature = 2.0 * xp.astype(active, logits.dtype)
        if params["variant"] == "crammer_singer":
            # max of the tied hinges: curvature 2 on the one (or the tied ones, split) active
            ties = xp.sum(curvature, axis=-1, keepdims=True) / 2.0
            curvature = curvature / xp.where(ties > 0, ties, const(xp, 1.0, ties))
            on_true = xp.astype(ties > 0, logits.dtype) * 2.0
        else:
            on_true = xp.sum(curvature, axis=-1, keepdims=True)
        return xp.where(onehot, on_true * scale, curvature * scale)

    def _boosting_hess(self, xp: Any, logits: Any, target: Any, **params: Any) -> Any:
        if params["p"] == 1:
            return xp.ones_like(logits)
        scale = self._scale(xp, logits, target, params["class_weight"], params["variant"])
        n = logits.shape[-1]
        bound = 2.0 * (n - 1) if params["variant"] == "weston_watkins" else 2.0
        return xp.ones_like(logits) * (bound * scale)


# ---- multilabel soft margin -----------------------------------------------------------------
class MultilabelSoftMargin(AxisLoss):
    r"""Multi-label soft-margin loss (PyTorch's ``MultiLabelSoftMarginLoss``).

    .. math:: \ell = \frac{1}{C} \sum_c w_c \big[-y_c \log \sigma(z_c)
              - (1 - y_c) \log(1 - \sigma(z_c))\big]

    One independent binary cross entropy per class, averaged over the C classes. The target
    has the logits' shape, with labels in [0, 1] (hard 0/1, or soft). Exact where the loss is
    tiny: each term is a softplus of the signed logit.
    """

    spec = LossSpec(
        name="multilabel_soft_margin",
        family="multiclass",
        summary="Multi-label soft margin: the mean over classes of a logistic loss per class.",
        inputs=(
            Input("logits", "*b C", "logit", class_axis=True, doc="one logit per class"),
            Input(
                "target",
                "*b C",
                "binary",
                differentiable=False,
                class_axis=True,
                doc="a label in [0, 1] per class",
            ),
        ),
        output="*b",
        properties=Properties(convex=True, robust=True, smoothness="Cinf"),
        formula=r"\ell = \frac{1}{C} \sum_c w_c \big[y_c\, \mathrm{softplus}(-z_c) + "
        r"(1 - y_c)\, \mathrm{softplus}(z_c)\big]",
        references=(
            "Tsoumakas, G., Katakis, I. (2007). Multi-label classification: an overview. "
            "International Journal of Data Warehousing and Mining 3(3), 1-13.",
        ),
        params=(
            Param("axis", -1, "the class axis of logits and target", kind="axis"),
            _per_class("class_weight", "a weight (>= 0) per class, shape (C,); None weights 1"),
        ),
        aliases=("MultiLabelSoftMarginLoss", "multilabel_soft_margin_loss"),
        framework_names={
            "pytorch": "torch.nn.MultiLabelSoftMarginLoss, "
            "torch.nn.functional.multilabel_soft_margin_loss",
            "paddle": "paddle.nn.MultiLabelSoftMarginLoss",
        },
        elementwise=False,
        derivative_notes="with respect to the logits: grad = w (sigmoid(z) - y) / C, "
        "hess = w sigmoid(z) (1 - sigmoid(z)) / C.",
        when_to_use="Multi-label classification (each sample may have several classes).",
        showcase=({},),
        boosting=BoostingHessian(
            "none",
            reason="its target is a set of labels per row, and boosters' multiclass objectives "
            "take one class per row; boost binary_cross_entropy_with_logits per class instead",
        ),
        probe=lambda p: _multilabel_probe(
            5 if p.get("class_weight") is None else len(p["class_weight"])
        ),
    )

    def _weights(self, xp: Any, z: Any, class_weight: Any) -> Any:
        scale = 1.0 / z.shape[-1]
        return scale if class_weight is None else class_weight * scale

    def _unreduced(self, xp: Any, logits: Any, target: Any, *, class_weight: Any) -> Unreduced:
        ce = _logit_ce(xp, logits, target, 1.0 - target)
        return Unreduced(xp.sum(self._weights(xp, logits, class_weight) * ce, axis=-1))

    def _grad(self, xp: Any, logits: Any, target: Any, *, class_weight: Any) -> Any:
        slope = _logit_ce_grad(xp, logits, target, 1.0 - target)
        return self._weights(xp, logits, class_weight) * slope

    def _hess(self, xp: Any, logits: Any, target: Any, *, class_weight: Any) -> Any:
        curvature = _logit_ce_hess(xp, logits, target, 1.0 - target)
        return self._weights(xp, logits, class_weight) * curvature


def _multilabel_probe(c: int) -> Probe:
    """The logit t of class 0 against label 1 (and against label 0), the other classes at
    logit 0 with labels alternating 1, 0, ..."""
    from ._spec import Curve

    def curve(label: float) -> Curve:
        def make(t: np.ndarray) -> dict[str, np.ndarray]:
            t = np.asarray(t, dtype=np.float64)
            z = np.zeros((len(t), c))
            z[:, 0] = t
            y = np.tile((np.arange(c) % 2 == 1).astype(np.float64), (len(t), 1))
            y[:, 0] = label
            return {"logits": z, "target": y}

        def direction(t: np.ndarray) -> np.ndarray:
            d = np.zeros((len(np.asarray(t)), c))
            d[:, 0] = 1.0
            return d

        return Curve(f"y_0 = {label:g}", f"y0={label:g}", make, direction)

    return Probe(
        "logit", "logit of class 0", "x (logit)",
        f"{c} classes: logits (x, 0, ...), labels (1, 1, 0, ...); last column at label 0",
        "real", (-6.0, 6.0), LOGITS, (curve(1.0), curve(0.0)), "logit",
    )  # fmt: skip


# ---- multiclass sparsemax loss --------------------------------------------------------------
def _sparsemax(xp: Any, z: Any) -> tuple[Any, Any, Any]:
    """(sparsemax(z), tau, the scores used) along the last axis: p = max(z - tau, 0), with tau
    chosen so that p sums to 1 (Martins and Astudillo 2016, by sorting).

    z is shifted by its largest finite value first, so tau is computed from numbers <= 0;
    -inf scores get p = 0. A row with +inf scores is the limit: its scores become 0 on the
    +inf classes and -inf elsewhere (p uniform over the +inf classes), and those are the
    scores returned for the rest of the loss; a row of -inf scores only is a row of equal
    scores (p uniform)."""
    n = z.shape[-1]
    positive_inf = z == math.inf
    any_inf = xp.any(positive_inf, axis=-1, keepdims=True)
    limit = xp.where(positive_inf, const(xp, 0.0, z), const(xp, -math.inf, z))
    z = xp.where(any_inf, limit, z)
    # every score -inf: equal scores, as a row of +inf ones is (sparsemax is uniform)
    z = xp.where(xp.all(z == -math.inf, axis=-1, keepdims=True), const(xp, 0.0, z), z)
    peak = xp.max(z, axis=-1, keepdims=True)
    shifted = z - peak
    # a -inf score sorts last and never enters the support; a huge negative stand-in keeps
    # the running sums (and their derivatives) free of inf - inf
    low = const(xp, -1e300 if z.dtype == xp.float64 else -1e30, z)
    sorted_ = xp.flip(xp.sort(xp.where(shifted == -math.inf, low, shifted), axis=-1), axis=-1)
    ks = xp.arange(1, n + 1, dtype=z.dtype, device=device(z))
    csum = xp.cumulative_sum(sorted_, axis=-1)
    support = 1.0 + ks * sorted_ > csum
    k = xp.sum(xp.astype(support, z.dtype), axis=-1, keepdims=True)
    csum_k = xp.sum(where0(xp, ks == k, csum), axis=-1, keepdims=True)
    tau = (csum_k - 1.0) / k
    excess = shifted - tau
    p = where0(xp, excess > 0, excess)  # not a max: at 0 its derivative is not split in two
    return p, tau + peak, z


def sparsemax(scores: Any, *, axis: int = -1) -> Any:
    """sparsemax(z) = argmin over the simplex of ||p - z||^2 (Martins and Astudillo 2016):
    the Euclidean projection of the scores onto the probability simplex along ``axis``, the
    prediction of ``multiclass_sparsemax_loss``. Any array-API array; +inf scores give the
    limit (uniform over them), -inf scores probability 0."""
    xp = array_namespace(scores)
    last = axis in (-1, scores.ndim - 1)
    z = scores if last else xp.moveaxis(scores, axis, -1)
    p = _sparsemax(xp, z)[0]
    return p if last else xp.moveaxis(p, -1, axis)


class MulticlassSparsemaxLoss(AxisLoss):
    r"""Multiclass sparsemax loss (Martins and Astudillo 2016); optax's
    ``multiclass_sparsemax_loss``.

    .. math:: \ell = \tfrac12 \lVert p - y \rVert^2 + \sum_c y_c\, (\tau - z_c)_+,
              \qquad p = \operatorname{sparsemax}(z) = (z - \tau)_+

    The Fenchel-Young loss of the Gini entropy: ``<p - y, z> + (||y||^2 - ||p||^2)/2``,
    written as a sum of non-negative terms (on the support z_c - tau = p_c), so it is >= 0
    and exact where it is tiny; it is 0 exactly when sparsemax(z) = y. The target holds class
    indices (y one-hot) or class probabilities. The gradient is ``sparsemax(z) - y``; the
    Hessian's diagonal is ``s (1 - 1/|S|)`` on the support S (s its indicator).
    """

    spec = LossSpec(
        name="multiclass_sparsemax_loss",
        family="multiclass",
        summary="Sparsemax loss: the Fenchel-Young loss whose prediction is a sparse softmax.",
        inputs=(_LOGITS, _index_or_probability_target()),
        output="*b",
        properties=Properties(convex=True, robust=True, smoothness="C1"),
        formula=r"\ell = \tfrac12 \lVert \operatorname{sparsemax}(z) - y \rVert^2 "
        r"+ \sum_c y_c (\tau(z) - z_c)_+",
        references=(
            "Martins, A. F. T., Astudillo, R. F. (2016). From Softmax to Sparsemax: A Sparse "
            "Model of Attention and Multi-Label Classification. ICML. arXiv:1602.02068.",
            "Blondel, M., Martins, A. F. T., Niculae, V. (2020). Learning with Fenchel-Young "
            "Losses. JMLR 21(35).",
        ),
        params=(_AXIS,),
        aliases=("sparsemax_multiclass_loss",),
        framework_names={"optax": "optax.multiclass_sparsemax_loss"},
        elementwise=False,
        derivative_notes="with respect to the scores: grad = sparsemax(z) - y; hess (its "
        "diagonal) = s (1 - 1/|S|) on the support S of sparsemax(z).",
        when_to_use="Classification with sparse, exactly-zero class probabilities (attention, "
        "multi-label ranking); its loss is exactly 0 on a confident right answer.",
        showcase=({},),
        kinks=lambda p: (-1.0, -0.25, 1.0),  # along the probe: where the support changes
        boosting=BoostingHessian(
            "surrogate",
            r"h = 1",
            "The diagonal is 0 off the support and where the support is one class. The "
            "gradient sparsemax(z) - y is 1-Lipschitz, so a unit curvature bounds the loss's: "
            "each Newton step minimises a quadratic that lies above the loss.",
        ),
        probe=lambda p: margin_probe((5, 2)),
    )

    def _unreduced(self, xp: Any, logits: Any, target: Any) -> Unreduced:
        p, tau, z = _sparsemax(xp, logits)
        y = self._target(xp, logits, target)
        # inf on a -inf score; at tau = z it is the side whose slope (-y) autodiff should
        # take: the loss is C1 there, and p's side (strict) contributes none
        below = where0(xp, tau >= z, tau - z)
        d = p - y
        value = 0.5 * xp.sum(d * d, axis=-1) + xp.sum(times_finite(xp, y, below), axis=-1)
        nan = xp.any(xp.isnan(logits), axis=-1)  # a NaN score sorts anywhere: say so
        return Unreduced(xp.where(nan, const(xp, math.nan, value), value))

    def _target(self, xp: Any, logits: Any, target: Any) -> Any:
        if xp.isdtype(target.dtype, "integral"):
            return xp.astype(_onehot(xp, target[..., None], logits.shape[-1], logits), logits.dtype)
        return target

    def _grad(self, xp: Any, logits: Any, target: Any) -> Any:
        p, _, _ = _sparsemax(xp, logits)
        return p - self._target(xp, logits, target)

    def _hess(self, xp: Any, logits: Any, target: Any) -> Any:
        p, _, _ = _sparsemax(xp, logits)
        s = xp.astype(p > 0, logits.dtype)
        size = xp.sum(s, axis=-1, keepdims=True)
        return s * (1.0 - 1.0 / size)

    def _boosting_hess(self, xp: Any, logits: Any, target: Any) -> Any:
        return xp.ones_like(logits)


cross_entropy = register(CrossEntropy())
nll_loss = register(NLLLoss())
softmax_focal_loss = register(SoftmaxFocalLoss())
poly1_cross_entropy = register(Poly1CrossEntropy())
multiclass_hinge = register(MulticlassHinge())
multilabel_soft_margin = register(MultilabelSoftMargin())
multiclass_sparsemax_loss = register(MulticlassSparsemaxLoss())

__all__ = [
    "cross_entropy",
    "multiclass_hinge",
    "multiclass_sparsemax_loss",
    "multilabel_soft_margin",
    "nll_loss",
    "poly1_cross_entropy",
    "softmax_focal_loss",
    "sparsemax",
]
