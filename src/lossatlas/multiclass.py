"""Multiclass losses over a class axis: one loss value per sample.

The class axis is ``axis=-1`` in the functions here (the ``lossatlas.torch`` modules default to
``dim=1``, as torch does); the core moves it last before the kernels run, so every kernel below
reads the classes along the last axis.
"""

from __future__ import annotations

import math
from typing import Any

from ._loss import AxisLoss
from ._probes import margin_probe
from ._reduce import Unreduced
from ._registry import register
from ._spec import BoostingHessian, Input, LossSpec, Param, Properties, Variant
from ._xp import const, device, times_finite, where0


def _onehot(xp: Any, index: Any, n: int, like: Any) -> Any:
    """A boolean one-hot of ``index`` (shape (*b, 1)) along a last axis of length n."""
    return xp.arange(n, device=device(like)) == index


def _class_weight(xp: Any, class_weight: Any, index: Any) -> Any:
    """class_weight[index] for an index array of any shape (``take`` wants 1-D indices)."""
    flat = xp.take(class_weight, xp.reshape(index, (-1,)))
    return xp.reshape(flat, tuple(index.shape))


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

    def probs(self, xp: Any) -> Any:
        return xp.exp(self.d - self.log_s)

    def one_minus_probs(self, xp: Any, p: Any) -> Any:
        """1 - p, for the largest class as T / (1 + T) (no cancellation where p is near 1)."""
        return xp.where(self.top, self.rest / (1.0 + self.rest), 1.0 - p)


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
        "grad = -a / p, hess = a / p^2.",
        when_to_use="The default for single-label classification into C classes, and for "
        "language models (one class per token of the vocabulary).",
        showcase=({"label_smoothing": 0.0}, {"label_smoothing": 0.1}, {"label_smoothing": 0.3}),
        boosting=BoostingHessian(
            "none",
            reason="it needs one raw score per class, and lossatlas.gbm boosts one score per row",
        ),
        variants=(
            # on probabilities the gradient grows like 1/p
            Variant({"from_logits": False}, {"logits": "simplex"}, {"robust": False}),
        ),
        probe=lambda p: margin_probe(
            (5, 2) if p.get("class_weight") is None else (len(p["class_weight"]),),
            probabilities=not p.get("from_logits", True),
        ),
    )

    # ---- the pieces shared by value and derivatives -------------------------------------------
    def _coefficients(
        self,
        xp: Any,
        scores: Any,
        masked: Any,
        target: Any,
        class_weight: Any,
        ignore_index: int | None,
        label_smoothing: float,
    ) -> tuple[Any, Any, Any, Any]:
        """(a, A, implicit weight, one-hot of the target).

        a_c = w_c y'_c per class (0 on an ignored sample), A = sum a_c. Label smoothing puts
        its mass on the K classes that are not masked (a -inf logit, or a probability of 0,
        that is not the target). For index targets the implicit weight is w[y], 0 where
        ignored (None without weights or ignored samples); for probability targets it and the
        one-hot are None."""
        n = scores.shape[-1]
        if xp.isdtype(target.dtype, "integral"):
            valid = None if ignore_index is None else target != ignore_index
            label = target if valid is None else xp.where(valid, target, const(xp, 0, target))
            onehot = _onehot(xp, label[..., None], n, scores)
            y = xp.astype(onehot, scores.dtype)
            implicit = None
            if class_weight is not None:
                implicit = _class_weight(xp, class_weight, label)
            if valid is not None:
                implicit = (
                    xp.astype(valid, scores.dtype)
                    if implicit is None
                    else where0(xp, valid, implicit)
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
    ) -> tuple[Any, Any, Any, Any, Any, Any]:
        """(nll, the softmax parts or None on probabilities, a, A, implicit weight, one-hot)."""
        if from_logits:
            parts = _SoftmaxParts(xp, logits)
            nll, masked = parts.nll, parts.masked
            a, total, implicit, onehot = self._coefficients(
                xp, nll, masked, target, class_weight, ignore_index, label_smoothing
            )
            return nll, parts, a, total, implicit, onehot
        # probabilities: -log p where a class carries target mass; elsewhere the log of 1 (the
        # coefficient is 0), so that a probability of 0 on a target class gives an infinite
        # loss and gradient while one on another class gives 0 and no NaN under autodiff
        a, total, implicit, onehot = self._coefficients(
            xp, logits, logits == 0, target, class_weight, ignore_index, label_smoothing
        )
        safe = xp.where(a > 0, logits, const(xp, 1.0, logits))
        return -xp.log(safe), None, a, total, implicit, onehot

    # ---- kernels ----------------------------------------------------------------------------
    def _unreduced(self, xp: Any, logits: Any, target: Any, **params: Any) -> Unreduced:
        nll, _, a, _, implicit, _ = self._pieces(xp, logits, target, **params)
        return Unreduced(xp.sum(times_finite(xp, a, nll), axis=-1), implicit)

    def _grad(self, xp: Any, logits: Any, target: Any, **params: Any) -> Any:
        nll, parts, a, total, _, onehot = self._pieces(xp, logits, target, **params)
        if parts is None:  # probabilities: d(-a log p)/dp = -a / p (0 where a is 0)
            return -times_finite(xp, a, _reciprocal(xp, logits))
        p = parts.probs(xp)
        grad = total * p - a
        if onehot is None:
            return grad
        # the target entry A p_y - a_y = a_y (p_y - 1) + (A - a_y) p_y, with p_y - 1 = expm1(-nll)
        a_y = xp.sum(where0(xp, onehot, a), axis=-1, keepdims=True)
        exact = a_y * xp.expm1(-nll) + (total - a_y) * p
        return xp.where(onehot, exact, grad)

    def _hess(self, xp: Any, logits: Any, target: Any, **params: Any) -> Any:
        _, parts, a, total, _, _ = self._pieces(xp, logits, target, **params)
        if parts is None:  # probabilities: a / p^2
            inv = _reciprocal(xp, logits)
            return times_finite(xp, a, inv * inv)
        p = parts.probs(xp)
        return total * p * parts.one_minus_probs(xp, p)


def _reciprocal(xp: Any, p: Any) -> Any:
    """1 / p, inf at p = 0 (no division warning)."""
    positive = p > 0
    one = const(xp, 1.0, p)
    return xp.where(positive, one / xp.where(positive, p, one), const(xp, math.inf, p))


cross_entropy = register(CrossEntropy())

__all__ = ["cross_entropy"]
