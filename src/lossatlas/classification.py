"""Binary (and multi-label) classification losses on probabilities or logits, elementwise.

Targets are in [0, 1]: hard 0/1 labels or soft labels. Losses that take logits are finite and
have finite derivatives for any logit, saturated (+-1e4) and infinite ones included.
"""

from __future__ import annotations

import math
from typing import Any

from ._loss import ElementwiseLoss
from ._registry import register
from ._spec import BoostingHessian, LossSpec, Param, Properties, Variant
from ._xp import (
    const,
    log_add_exp,
    log_or_neg_inf,
    log_sigmoid,
    safe_log,
    safe_log1m,
    sigmoid_pair,
    sigmoid_pair_values,
    softplus,
    times_finite,
    where0,
)

TORCH_LOG_FLOOR = -100.0  # PyTorch's BCELoss clamps each log term at -100


# ---- shared pieces: the two-term cross entropy with coefficients ------------------------------
def _logit_ce(xp: Any, x: Any, pos: Any, neg: Any) -> Any:
    """pos * -log(sigmoid(x)) + neg * -log(1 - sigmoid(x)) for logits x."""
    return times_finite(xp, pos, softplus(xp, -x)) + times_finite(xp, neg, softplus(xp, x))


def _logit_ce_slope(xp: Any, x: Any, s: Any, s_neg: Any, pos: Any, neg: Any) -> Any:
    """neg * sigmoid(x) - pos * sigmoid(-x), the logit cross entropy's derivative. For
    |x| < 1 it is written (neg - pos)/2 + (neg + pos) tanh(x/2)/2, which is exact where the
    two terms cancel at x = 0 (a soft label with pos = neg, y = 0.5: the difference of the
    sigmoids loses every digit of tanh(x/2) ~ x/2 there)."""
    near = (x < 1) & (x > -1)
    t = xp.tanh(0.5 * where0(xp, near, x))
    return xp.where(near, 0.5 * (neg - pos) + 0.5 * (neg + pos) * t, neg * s - pos * s_neg)


def _logit_ce_grad(xp: Any, x: Any, pos: Any, neg: Any) -> Any:
    s, s_neg = sigmoid_pair(xp, x)
    return _logit_ce_slope(xp, x, s, s_neg, pos, neg)


def _logit_ce_hess(xp: Any, x: Any, pos: Any, neg: Any) -> Any:
    s, s_neg = sigmoid_pair(xp, x)
    return (pos + neg) * s * s_neg


def _logit_ce_grad_hess(xp: Any, x: Any, pos: Any, neg: Any) -> tuple[Any, Any]:
    """(grad, hess) of the logit cross entropy from one sigmoid pair, for boosters."""
    s, s_neg = sigmoid_pair_values(xp, x)
    return neg * s - pos * s_neg, (pos + neg) * s * s_neg


def _prob_logs(xp: Any, p: Any, eps: float | None) -> tuple[Any, Any, Any, Any]:
    """(log p, log(1-p), where d log p / dp is live, where d log(1-p) / dp is live).

    eps=None: PyTorch's convention, each log clamped at -100. Otherwise p is clipped to
    [eps, 1 - eps] first, as TensorFlow and Keras do (no gradient outside that interval).
    log(1 - p) is taken as log1p(-p), exact where p is tiny.
    """
    if eps is None:
        log_p = safe_log(xp, p, TORCH_LOG_FLOOR)
        log_q = safe_log1m(xp, p, TORCH_LOG_FLOOR)
        return log_p, log_q, log_p > TORCH_LOG_FLOOR, log_q > TORCH_LOG_FLOOR
    low, high = const(xp, eps, p), const(xp, 1.0 - eps, p)
    clipped = xp.where(p < low, low, xp.where(p > high, high, p))
    inside = (p >= low) & (p <= high)
    return xp.log(clipped), xp.log1p(-clipped), inside, inside


def _clip(xp: Any, p: Any, eps: float | None) -> Any:
    if eps is None:
        return p
    low, high = const(xp, eps, p), const(xp, 1.0 - eps, p)
    return xp.where(p < low, low, xp.where(p > high, high, p))


def _prob_ce(xp: Any, p: Any, pos: Any, neg: Any, eps: float | None) -> Any:
    log_p, log_q, _, _ = _prob_logs(xp, p, eps)
    return -(pos * log_p + neg * log_q)


def _over(xp: Any, coef: Any, p: Any, live: Any, power: int) -> Any:
    """coef / p**power where the log of p is live (not clamped or clipped), else 0: divided
    step by step (coef / p / p), so neither 1/p nor p*p overflows or underflows on the way
    (1 / 9e-41 is inf in float32, while 1e-3 / 9e-41 = 1.1e37 is not)."""
    one = const(xp, 1.0, p)
    safe = xp.where(live, p, one)
    out = coef / safe
    if power == 2:
        out = out / safe
    return where0(xp, live, out)


def _prob_ce_grad(xp: Any, p: Any, pos: Any, neg: Any, eps: float | None) -> Any:
    _, _, live_p, live_q = _prob_logs(xp, p, eps)
    pc = _clip(xp, p, eps)
    return _over(xp, neg, 1.0 - pc, live_q, 1) - _over(xp, pos, pc, live_p, 1)


def _prob_ce_hess(xp: Any, p: Any, pos: Any, neg: Any, eps: float | None) -> Any:
    _, _, live_p, live_q = _prob_logs(xp, p, eps)
    pc = _clip(xp, p, eps)
    return _over(xp, pos, pc, live_p, 2) + _over(xp, neg, 1.0 - pc, live_q, 2)


#: With eps the probabilities are clipped to [eps, 1 - eps]: the loss is then at most
#: -log(eps), its gradient at most 1/eps in size, and its slope jumps at the clip.
CLIPPED = Variant(
    lambda p: not p.get("from_logits", False) and p.get("eps") is not None,
    properties={"bounded": True, "robust": True, "smoothness": "C0"},
    note="eps set (probabilities clipped to [eps, 1 - eps])",
)

_EPS = Param(
    "eps",
    None,
    "clip probabilities to [eps, 1-eps] (Keras/TensorFlow); None clamps each log at -100 (PyTorch)",
    low=0.0,
    high=0.5,
    low_inclusive=False,
    high_inclusive=False,
    allow_none=True,
)


# ---- losses -------------------------------------------------------------------------------------
class BinaryCrossEntropy(ElementwiseLoss):
    r"""Binary cross entropy on probabilities (PyTorch's ``BCELoss`` by default).

    .. math:: \ell(p, y) = -\left[y \log p + (1 - y)\log(1 - p)\right]

    ``eps=None`` clamps each log at -100 as PyTorch does; ``eps=1e-7`` clips p to
    ``[eps, 1 - eps]`` as Keras and TensorFlow do. Prefer ``binary_cross_entropy_with_logits``
    for training: it is exact where a sigmoid output has saturated.
    ``grad = -y/p + (1-y)/(1-p)``, ``hess = y/p^2 + (1-y)/(1-p)^2``, each term 0 where its log
    is clamped or p is clipped (PyTorch's own backward gives (p-y)/1e-12 at p exactly 0 or 1).
    """

    spec = LossSpec(
        name="binary_cross_entropy",
        family="classification",
        summary="Binary cross entropy on probabilities: the Bernoulli negative log-likelihood.",
        pred_domain="probability",
        target_domain="binary",
        properties=Properties(convex=True, robust=False, smoothness="Cinf"),
        formula=r"\ell(p, y) = -\left[y\log p + (1-y)\log(1-p)\right]",
        references=(
            "Cox, D. R. (1958). The regression analysis of binary sequences. "
            "JRSS B 20(2), 215-242.",
        ),
        params=(_EPS,),
        aliases=("bce", "BCELoss", "BinaryCrossentropy", "binary_crossentropy", "log_loss"),
        framework_names={
            "pytorch": "torch.nn.BCELoss, torch.nn.functional.binary_cross_entropy",
            "keras": "keras.losses.BinaryCrossentropy, keras.losses.binary_crossentropy",
            "tensorflow": "tf.keras.losses.BinaryCrossentropy, tf.compat.v1.losses.log_loss",
            "paddle": "paddle.nn.BCELoss, paddle.nn.functional.binary_cross_entropy",
            "sklearn": "sklearn.metrics.log_loss",
        },
        derivative_notes="with respect to p: grad = -y/p + (1-y)/(1-p), hess = y/p^2 + "
        "(1-y)/(1-p)^2; a term is 0 where its log is clamped (eps=None) or p is clipped.",
        when_to_use="Binary or multi-label targets when the model already outputs probabilities.",
        kinks=lambda p: () if p["eps"] is None else (p["eps"], 1 - p["eps"]),
        variants=(CLIPPED,),
        boosting=BoostingHessian(
            "none",
            reason="it takes probabilities, and a booster's raw score is a logit: boost "
            "binary_cross_entropy_with_logits",
        ),
    )

    def _value(self, xp: Any, pred: Any, target: Any, *, eps: float | None) -> Any:
        return _prob_ce(xp, pred, target, 1.0 - target, eps)

    def _grad(self, xp: Any, pred: Any, target: Any, *, eps: float | None) -> Any:
        return _prob_ce_grad(xp, pred, target, 1.0 - target, eps)

    def _hess(self, xp: Any, pred: Any, target: Any, *, eps: float | None) -> Any:
        return _prob_ce_hess(xp, pred, target, 1.0 - target, eps)


class BinaryCrossEntropyWithLogits(ElementwiseLoss):
    r"""Binary cross entropy on logits (PyTorch's ``BCEWithLogitsLoss``), exact for any logit.

    .. math:: \ell(x, y) = w_+\, y' \log(1 + e^{-x}) + (1 - y')\log(1 + e^{x}),\quad
              y' = y(1 - s) + s/2

    with ``w_+ = pos_weight`` (TensorFlow's ``weighted_cross_entropy_with_logits``) and
    ``s = label_smoothing``. Finite for logits of +-1e4 and gives the limit at +-inf (0, or inf
    for a confidently wrong infinite logit), never NaN.
    ``grad = (1-y') sigmoid(x) - w_+ y' sigmoid(-x)``,
    ``hess = (w_+ y' + 1 - y') sigmoid(x) sigmoid(-x)``.
    """

    spec = LossSpec(
        name="binary_cross_entropy_with_logits",
        family="classification",
        summary="Binary cross entropy on logits, with pos_weight and label smoothing.",
        pred_domain="logit",
        target_domain="binary",
        properties=Properties(convex=True, robust=True, smoothness="Cinf"),
        formula=r"\ell(x, y) = w_+\,y\log(1 + e^{-x}) + (1-y)\log(1 + e^{x})",
        references=(
            "Cox, D. R. (1958). The regression analysis of binary sequences. "
            "JRSS B 20(2), 215-242.",
            "Szegedy, C. et al. (2016). Rethinking the Inception Architecture for "
            "Computer Vision (label smoothing). CVPR.",
        ),
        params=(
            Param(
                "pos_weight",
                None,
                "weight (>= 0) of the positive term; per class, it broadcasts to pred",
                kind="array",
                allow_none=True,
                shape="~*s",
                domain="nonnegative",
            ),
            Param("label_smoothing", 0.0, "targets become y(1-s) + s/2", low=0.0, high=1.0),
        ),
        aliases=(
            "bce_with_logits",
            "BCEWithLogitsLoss",
            "sigmoid_binary_cross_entropy",
            "sigmoid_cross_entropy_with_logits",
            "weighted_cross_entropy_with_logits",
        ),
        framework_names={
            "pytorch": "torch.nn.BCEWithLogitsLoss, "
            "torch.nn.functional.binary_cross_entropy_with_logits",
            "keras": "keras.losses.BinaryCrossentropy(from_logits=True)",
            "tensorflow": "tf.nn.sigmoid_cross_entropy_with_logits, "
            "tf.nn.weighted_cross_entropy_with_logits",
            "paddle": "paddle.nn.BCEWithLogitsLoss",
            "optax": "optax.sigmoid_binary_cross_entropy",
        },
        derivative_notes="with respect to the logit: grad = (1-y') sigmoid(x) - w y' sigmoid(-x), "
        "hess = (w y' + 1 - y') sigmoid(x) sigmoid(-x).",
        when_to_use="The default for binary and multi-label classification from logits.",
        showcase=(
            {"label_smoothing": 0.0, "pos_weight": 1.0},
            {"label_smoothing": 0.2, "pos_weight": 1.0},
            {"label_smoothing": 0.0, "pos_weight": 3.0},
        ),
    )

    def _coefs(
        self, xp: Any, target: Any, pos_weight: Any, label_smoothing: float
    ) -> tuple[Any, Any]:
        y = (
            target
            if label_smoothing == 0
            else target * (1.0 - label_smoothing) + 0.5 * label_smoothing
        )
        pos = y if pos_weight is None else pos_weight * y
        return pos, 1.0 - y

    def _value(
        self, xp: Any, pred: Any, target: Any, *, pos_weight: Any, label_smoothing: float
    ) -> Any:
        return _logit_ce(xp, pred, *self._coefs(xp, target, pos_weight, label_smoothing))

    def _grad(
        self, xp: Any, pred: Any, target: Any, *, pos_weight: Any, label_smoothing: float
    ) -> Any:
        return _logit_ce_grad(xp, pred, *self._coefs(xp, target, pos_weight, label_smoothing))

    def _hess(
        self, xp: Any, pred: Any, target: Any, *, pos_weight: Any, label_smoothing: float
    ) -> Any:
        return _logit_ce_hess(xp, pred, *self._coefs(xp, target, pos_weight, label_smoothing))

    def _boosting_grad_hess(
        self, xp: Any, pred: Any, target: Any, *, pos_weight: Any, label_smoothing: float
    ) -> tuple[Any, Any]:
        if pos_weight is not None:
            pos, neg = self._coefs(xp, target, pos_weight, label_smoothing)
            return _logit_ce_grad_hess(xp, pred, pos, neg)
        y = self._coefs(xp, target, None, label_smoothing)[0]
        s, s_neg = sigmoid_pair_values(xp, pred)
        # one expression, so that NumPy reuses its temporaries: a booster calls this every round
        grad = (1.0 - y) * s - y * s_neg
        return grad, s * s_neg  # pos + neg = 1 without pos_weight


class BalancedCrossEntropy(ElementwiseLoss):
    r"""Balanced cross entropy: positives weighted ``beta``, negatives ``1 - beta``.

    .. math:: \ell(p, y) = -\left[\beta\, y \log p + (1 - \beta)(1 - y)\log(1 - p)\right]

    ``beta = 0.5`` is half the plain binary cross entropy. pred is a probability, or a logit with
    ``from_logits=True`` (then exact for any logit). ``eps`` clips probabilities as in
    :func:`binary_cross_entropy`. Derivatives are with respect to pred (p or the logit).
    """

    spec = LossSpec(
        name="balanced_cross_entropy",
        family="classification",
        summary="Cross entropy with fixed class weights beta and 1 - beta (class imbalance).",
        pred_domain="probability",
        target_domain="binary",
        properties=Properties(convex=True, robust=False, smoothness="Cinf"),
        formula=r"\ell(p, y) = -\left[\beta\,y\log p + (1-\beta)(1-y)\log(1-p)\right]",
        references=(
            "Xie, S., Tu, Z. (2015). Holistically-Nested Edge Detection. ICCV "
            "(class-balanced cross entropy).",
        ),
        params=(
            Param("beta", 0.5, "weight of the positive class", low=0.0, high=1.0),
            Param("from_logits", False, "pred holds logits instead of probabilities", kind="bool"),
            _EPS,
        ),
        aliases=("balanced_bce", "class_balanced_cross_entropy"),
        derivative_notes="as binary cross entropy with coefficients beta*y and (1-beta)*(1-y).",
        when_to_use="Imbalanced binary targets (edges, lesions) with a known class ratio.",
        showcase=({"beta": 0.25}, {"beta": 0.5}, {"beta": 0.75}),
        # on logits the gradient is bounded (at most max(beta, 1 - beta) in size)
        variants=(Variant({"from_logits": True}, {"pred": "logit"}, {"robust": True}), CLIPPED),
        kinks=lambda p: () if p["from_logits"] or p["eps"] is None else (p["eps"], 1 - p["eps"]),
    )

    def _coefs(self, target: Any, beta: float) -> tuple[Any, Any]:
        return beta * target, (1.0 - beta) * (1.0 - target)

    def _value(
        self, xp: Any, pred: Any, target: Any, *, beta: float, from_logits: bool, eps: float | None
    ) -> Any:
        pos, neg = self._coefs(target, beta)
        return _logit_ce(xp, pred, pos, neg) if from_logits else _prob_ce(xp, pred, pos, neg, eps)

    def _grad(
        self, xp: Any, pred: Any, target: Any, *, beta: float, from_logits: bool, eps: float | None
    ) -> Any:
        pos, neg = self._coefs(target, beta)
        if from_logits:
            return _logit_ce_grad(xp, pred, pos, neg)
        return _prob_ce_grad(xp, pred, pos, neg, eps)

    def _hess(
        self, xp: Any, pred: Any, target: Any, *, beta: float, from_logits: bool, eps: float | None
    ) -> Any:
        pos, neg = self._coefs(target, beta)
        if from_logits:
            return _logit_ce_hess(xp, pred, pos, neg)
        return _prob_ce_hess(xp, pred, pos, neg, eps)

    def _boosting_grad_hess(
        self, xp: Any, pred: Any, target: Any, *, beta: float, from_logits: bool, eps: float | None
    ) -> tuple[Any, Any]:
        return _logit_ce_grad_hess(xp, pred, *self._coefs(target, beta))  # logits: boosting


class FocalLoss(ElementwiseLoss):
    r"""Binary / multi-label focal loss (Lin et al. 2017); ``torchvision.ops.sigmoid_focal_loss``.

    .. math:: \ell = \alpha_t (1 - p_t)^\gamma\, \mathrm{CE}(p, y),\quad
              p_t = p y + (1-p)(1-y),\ \alpha_t = \alpha y + (1-\alpha)(1-y)

    ``alpha=None`` drops the class weight; ``gamma = 0`` gives (alpha-weighted) cross entropy.
    On logits (the default), ``(1 - p_t)^gamma`` is evaluated as ``exp(gamma * log(1 - p_t))``
    with ``log(1 - p_t)`` in log-sigmoid space, so the value, gradient and Hessian stay finite at
    saturated logits for every gamma >= 0, gamma < 1 included (where ``(1-p_t)^(gamma-1)`` would
    otherwise overflow). Soft labels in [0, 1] follow torchvision's formula.

    With ``from_logits=False`` pred is a probability (logs clamped at -100, or clipped with
    ``eps``); there the true second derivative at ``p == y`` is infinite for gamma < 1, and
    ``hess`` drops the singular terms at that single point.
    """

    spec = LossSpec(
        name="focal_loss",
        family="classification",
        summary="Focal loss: cross entropy down-weighted on easy examples, for dense detection.",
        pred_domain="logit",
        target_domain="binary",
        properties=Properties(convex=False, robust=True, smoothness="Cinf"),
        formula=r"\ell = -\alpha_t\,(1 - p_t)^{\gamma}\,\log p_t",
        references=(
            "Lin, T.-Y., Goyal, P., Girshick, R., He, K., Dollár, P. (2017). Focal Loss "
            "for Dense Object Detection. ICCV. arXiv:1708.02002.",
        ),
        params=(
            Param(
                "alpha",
                0.25,
                "weight of the positive class; None for no class weight",
                low=0.0,
                high=1.0,
                allow_none=True,
            ),
            Param("gamma", 2.0, "focusing parameter: 0 is cross entropy", low=0.0),
            Param("from_logits", True, "pred holds logits (True) or probabilities", kind="bool"),
            _EPS,
        ),
        aliases=(
            "focal",
            "sigmoid_focal_loss",
            "binary_focal_crossentropy",
            "BinaryFocalCrossentropy",
            "sigmoid_focal",
        ),
        framework_names={
            "pytorch": "torchvision.ops.sigmoid_focal_loss",
            "keras": "keras.losses.BinaryFocalCrossentropy",
            "tensorflow": "tfa.losses.SigmoidFocalCrossEntropy",
            "paddle": "paddle.nn.functional.sigmoid_focal_loss",
            "optax": "optax.sigmoid_focal_loss",
        },
        derivative_notes="with respect to the logit (or p when from_logits=False), in closed "
        "form; finite at saturated logits for every gamma >= 0.",
        when_to_use="Heavy class imbalance with many easy negatives (dense detection, "
        "segmentation).",
        showcase=(
            {"gamma": 0.0, "alpha": None},
            {"gamma": 0.5, "alpha": None},
            {"gamma": 2.0, "alpha": None},
            {"gamma": 5.0, "alpha": None},
        ),
        variants=(
            # on probabilities the gradient grows like 1/p (-1e6 at p = 1e-6 for a positive);
            # the loss is convex in p there: for a hard label, a product of two positive,
            # decreasing, convex functions of p, (1 - p_t)^gamma and -log p_t
            Variant(
                {"from_logits": False}, {"pred": "probability"}, {"robust": False, "convex": True}
            ),
            Variant({"gamma": 0.0}, properties={"convex": True}),  # alpha-weighted CE
            CLIPPED,
        ),
        kinks=lambda p: () if p["from_logits"] or p["eps"] is None else (p["eps"], 1 - p["eps"]),
        boosting=BoostingHessian(
            "surrogate",
            r"h = \max\big(\ell'',\ \alpha_t (1 - p_t)^\gamma\, p (1 - p)\big)",
            "For gamma > 0 the second derivative turns negative on confidently wrong rows "
            "(|logit| > about 4 on the wrong side), where a Newton step would go uphill. "
            "Boosters get the larger of it and the cross entropy's curvature p(1 - p) weighted "
            "by the focal factor held fixed (the Gauss-Newton curvature): the exact value "
            "around the decision boundary, the Gauss-Newton one on the tails; for gamma = 0 "
            "both are equal.",
            (
                "Lin, T.-Y. et al. (2017). Focal Loss for Dense Object Detection. ICCV.",
                "Wang, C. et al. (2020). Imbalance-XGBoost: leveraging weighted and focal "
                "losses for binary label-imbalanced classification with XGBoost. Pattern "
                "Recognition Letters 136, 190-197.",
            ),
        ),
    )

    def _alpha_t(self, target: Any, alpha: float | None) -> Any:
        return 1.0 if alpha is None else alpha * target + (1.0 - alpha) * (1.0 - target)

    # logit space ---------------------------------------------------------------------------
    def _log_one_minus_pt(self, xp: Any, x: Any, y: Any) -> Any:
        """log(1 - p_t) = log((1-y) sigmoid(x) + y sigmoid(-x)), finite slope for any x."""
        return log_add_exp(
            xp,
            log_or_neg_inf(xp, 1.0 - y) + log_sigmoid(xp, x),
            log_or_neg_inf(xp, y) + log_sigmoid(xp, -x),
        )

    def _modulator_logit(self, xp: Any, x: Any, y: Any, gamma: float, log_u: Any) -> Any:
        """(1 - p_t)^gamma. As a power of 1 - p_t = (1-y) sigmoid(x) + y sigmoid(-x) where
        that is above 1e-8 (a few ulps; exp(gamma log u) would lose 2 gamma |log u| of them),
        as exp(gamma log(1 - p_t)) below, where the power's derivative would overflow for
        gamma < 1 (each side sees only its own inputs)."""
        s, s_neg = sigmoid_pair(xp, x)
        u = (1.0 - y) * s + y * s_neg
        big = u > const(xp, 1e-8, u)
        direct = xp.where(big, u, const(xp, 1.0, u)) ** gamma
        return xp.where(big, direct, xp.exp(gamma * where0(xp, ~big, log_u)))

    def _logit_parts(self, xp: Any, x: Any, y: Any, gamma: float) -> tuple[Any, Any, Any]:
        """(cross entropy, (1-p_t)^gamma, q = (d(1-p_t)/dx) / (1-p_t)), all finite."""
        ce = _logit_ce(xp, x, y, 1.0 - y)
        log_u = self._log_one_minus_pt(xp, x, y)
        if gamma == 0:
            modulator = xp.ones_like(x)
        else:
            modulator = self._modulator_logit(xp, x, y, gamma, log_u)
        c = 1.0 - 2.0 * y
        empty = log_u == -math.inf
        safe_log_u = xp.where(empty, const(xp, 0.0, log_u), log_u)
        # sigmoid(x) sigmoid(-x) / (1 - p_t), bounded; its limit is 1 where 1 - p_t underflows
        ratio = xp.exp(log_sigmoid(xp, x) + log_sigmoid(xp, -x) - safe_log_u)
        q = c * xp.where(empty, const(xp, 1.0, ratio), ratio)
        return ce, modulator, q

    def _logit_pieces(
        self, xp: Any, x: Any, y: Any, a_t: Any, gamma: float
    ) -> tuple[Any, Any, Any, Any, Any, Any]:
        """What the logit derivatives share: (a_t (1-p_t)^gamma, q, q * ce, d ce / dx,
        sigmoid(x), sigmoid(-x)); grad = weight * (gamma q ce + d ce / dx)."""
        ce, g, q = self._logit_parts(xp, x, y, gamma)
        s, s_neg = sigmoid_pair(xp, x)
        d_ce = _logit_ce_slope(xp, x, s, s_neg, y, 1.0 - y)  # _logit_ce_grad, this pair
        return a_t * g, q, times_finite(xp, q, ce), d_ce, s, s_neg

    @staticmethod
    def _logit_hess_factor(
        gamma: float, q: Any, q_ce: Any, d_ce: Any, s: Any, s_neg: Any, curvature: Any
    ) -> Any:
        """hess / (a_t (1-p_t)^gamma) on logits; ``curvature`` is sigmoid(x) sigmoid(-x)."""
        return (
            gamma * ((gamma - 1.0) * q * q_ce + q_ce * (s_neg - s))
            + 2.0 * gamma * q * d_ce
            + curvature
        )

    def _value(
        self,
        xp: Any,
        pred: Any,
        target: Any,
        *,
        alpha: float | None,
        gamma: float,
        from_logits: bool,
        eps: float | None,
    ) -> Any:
        y = target
        if from_logits:
            a_t = self._alpha_t(y, alpha)
            if gamma == 0:  # a class weight of 0 times an infinite ce is 0, not NaN
                ce = _logit_ce(xp, pred, y, 1.0 - y)
                return a_t * ce if alpha is None else times_finite(xp, a_t, ce)
            # At an infinite logit the product rule of modulator * ce meets 0 * inf under
            # autodiff. There the loss is its asymptote slope * x, whose slope is the limit of
            # the gradient: a_t (1 - y)^(gamma + 1) at +inf, -a_t y^(gamma + 1) at -inf; the
            # finite form only sees finite logits (double where).
            infinite = xp.isinf(pred)
            x = where0(xp, ~infinite, pred)
            ce = _logit_ce(xp, x, y, 1.0 - y)
            log_u = self._log_one_minus_pt(xp, x, y)
            modulator = self._modulator_logit(xp, x, y, gamma, log_u)
            finite = times_finite(xp, a_t * modulator, ce)
            slope = a_t * xp.where(pred > 0, (1.0 - y) ** (gamma + 1.0), -(y ** (gamma + 1.0)))
            return xp.where(infinite, times_finite(xp, slope, pred), finite)
        p = _clip(xp, pred, eps)
        u = p * (1.0 - y) + (1.0 - p) * y
        ce = _prob_ce(xp, pred, y, 1.0 - y, eps)
        if gamma == 0:
            return self._alpha_t(y, alpha) * ce
        return self._alpha_t(y, alpha) * self._modulator(xp, u, gamma) * ce

    def _modulator(self, xp: Any, u: Any, gamma: float) -> Any:
        """u**gamma whose autodiff derivatives at u = 0 (p == y) are the true limits, not NaN.

        An integer power differentiates exactly; for a fractional power the derivatives at
        u = 0 are taken as 0 (there ``ce`` is 0 too, so the loss's slope is 0, and for
        gamma < 1 the second derivative is infinite and dropped as ``hess`` documents).
        """
        if float(gamma).is_integer():
            return u ** int(gamma)
        positive = u > 0
        safe = xp.where(positive, u, const(xp, 1.0, u))
        return xp.where(positive, safe**gamma, const(xp, 0.0, u))

    def _grad(
        self,
        xp: Any,
        pred: Any,
        target: Any,
        *,
        alpha: float | None,
        gamma: float,
        from_logits: bool,
        eps: float | None,
    ) -> Any:
        y = target
        a_t = self._alpha_t(y, alpha)
        if from_logits:
            weight, _, q_ce, d_ce, _, _ = self._logit_pieces(xp, pred, y, a_t, gamma)
            return weight * (gamma * q_ce + d_ce)
        u, c, ce = self._prob_parts(xp, pred, y, eps)
        # the modulator multiplies the coefficients of d ce/dp before its divisions by p and
        # 1 - p: y / p alone overflows float32 at a subnormal p where u^gamma y / p does not
        g = self._pow(xp, u, gamma)
        d_term = _prob_ce_grad(xp, pred, g * y, g * (1.0 - y), eps)
        return a_t * (gamma * c * self._pow(xp, u, gamma - 1.0) * ce + d_term)

    def _hess(
        self,
        xp: Any,
        pred: Any,
        target: Any,
        *,
        alpha: float | None,
        gamma: float,
        from_logits: bool,
        eps: float | None,
    ) -> Any:
        y = target
        a_t = self._alpha_t(y, alpha)
        if from_logits:
            weight, q, q_ce, d_ce, s, s_neg = self._logit_pieces(xp, pred, y, a_t, gamma)
            return weight * self._logit_hess_factor(gamma, q, q_ce, d_ce, s, s_neg, s * s_neg)
        u, c, ce = self._prob_parts(xp, pred, y, eps)
        g, g1 = self._pow(xp, u, gamma), 2.0 * gamma * c * self._pow(xp, u, gamma - 1.0)
        # u^gamma d2ce/dp2 + g1 dce/dp, its terms in 1/p grouped as y (g/p - g1) / p (and
        # in 1/(1-p) likewise): apart, y g / p^2 and -y g1 / p are inf - inf at a tiny p
        _, _, live_p, live_q = _prob_logs(xp, pred, eps)
        pc = _clip(xp, pred, eps)
        inner_p = _over(xp, g, pc, live_p, 1) - g1
        inner_q = _over(xp, g, 1.0 - pc, live_q, 1) + g1
        singular = _over(xp, y * inner_p, pc, live_p, 1)
        singular = singular + _over(xp, (1.0 - y) * inner_q, 1.0 - pc, live_q, 1)
        return a_t * (gamma * (gamma - 1.0) * c * c * self._pow(xp, u, gamma - 2.0) * ce + singular)

    def _boosting_hess(
        self,
        xp: Any,
        pred: Any,
        target: Any,
        *,
        alpha: float | None,
        gamma: float,
        from_logits: bool,
        eps: float | None,
    ) -> Any:
        return self._boosting_grad_hess(
            xp, pred, target, alpha=alpha, gamma=gamma, from_logits=from_logits, eps=eps
        )[1]

    def _boosting_grad_hess(
        self,
        xp: Any,
        pred: Any,
        target: Any,
        *,
        alpha: float | None,
        gamma: float,
        from_logits: bool,
        eps: float | None,
    ) -> tuple[Any, Any]:
        """``_grad`` and the surrogate Hessian from one set of shared pieces (boosters pass
        logits): the same operations as ``_grad`` and ``_hess``, each computed once."""
        a_t = self._alpha_t(target, alpha)
        weight, q, q_ce, d_ce, s, s_neg = self._logit_pieces(xp, pred, target, a_t, gamma)
        curvature = s * s_neg
        inner = self._logit_hess_factor(gamma, q, q_ce, d_ce, s, s_neg, curvature)
        return weight * (gamma * q_ce + d_ce), xp.maximum(weight * inner, weight * curvature)

    # probability space ---------------------------------------------------------------------
    def _prob_parts(self, xp: Any, p: Any, y: Any, eps: float | None) -> tuple[Any, ...]:
        pc = _clip(xp, p, eps)
        u = pc * (1.0 - y) + (1.0 - pc) * y
        c = 1.0 - 2.0 * y  # du/dp, which is 0 where p is clipped to [eps, 1 - eps]
        if eps is not None:
            inside = (p >= const(xp, eps, p)) & (p <= const(xp, 1.0 - eps, p))
            c = xp.where(inside, c, const(xp, 0.0, c))
        return u, c, _prob_ce(xp, p, y, 1.0 - y, eps)

    def _pow(self, xp: Any, u: Any, power: float) -> Any:
        """u**power; where u == 0 (p == y) it is 1 for power 0 and 0 otherwise, which drops
        the singular terms of gamma < 1 at that point."""
        positive = u > 0
        safe = xp.where(positive, u, const(xp, 1.0, u))
        at_zero = const(xp, 1.0 if power == 0 else 0.0, u)
        return xp.where(positive, safe**power, at_zero)


class SparsemaxLoss(ElementwiseLoss):
    r"""Binary sparsemax loss (Blondel, Martins and Niculae 2020, sec. 4.4); optax's
    ``sparsemax_loss``.

    .. math:: \ell = (u - y)^2 + (1 - y)\,(x - 1)_+ + y\,(-1 - x)_+,\qquad
              u = \operatorname{clip}\big(\tfrac{x + 1}{2}, 0, 1\big)

    The Fenchel-Young loss of the binary Gini entropy, ``sparse_plus(x) - x y + y^2 - y``,
    written as a sum of non-negative terms (exact where it is tiny, 0 exactly when the
    sparse sigmoid u equals y). For hard labels it is optax's ``sparse_plus(-x)`` (y = 1) and
    ``sparse_plus(x)`` (y = 0); soft labels in [0, 1] follow the same Fenchel-Young form.
    Its gradient is ``u - y`` and its second derivative 1/2 for |x| <= 1, else 0 (at the
    kinks x = +-1 the inside's).
    """

    spec = LossSpec(
        name="sparsemax_loss",
        family="classification",
        summary="Binary sparsemax loss: a logistic loss that is exactly 0 past a margin.",
        pred_domain="logit",
        target_domain="binary",
        properties=Properties(convex=True, robust=True, smoothness="C1"),
        formula=r"\ell = (u - y)^2 + (1 - y)(x - 1)_+ + y(-1 - x)_+,\ "
        r"u = \mathrm{clip}(\tfrac{x+1}{2}, 0, 1)",
        references=(
            "Blondel, M., Martins, A. F. T., Niculae, V. (2020). Learning with Fenchel-Young "
            "Losses. JMLR 21(35), sec. 4.4.",
            "Martins, A. F. T., Astudillo, R. F. (2016). From Softmax to Sparsemax. ICML.",
        ),
        params=(),
        aliases=("binary_sparsemax_loss", "sparse_sigmoid_loss"),
        framework_names={"optax": "optax.sparsemax_loss"},
        derivative_notes="with respect to the logit: grad = sparse_sigmoid(x) - y with "
        "sparse_sigmoid(x) = clip((x + 1)/2, 0, 1); hess = 1/2 for |x| < 1, else 0.",
        when_to_use="Binary classification where a confident right answer should cost exactly "
        "nothing (sparse outputs), with a logistic-like loss near the boundary.",
        kinks=lambda p: (-1.0, 1.0),
        boosting=BoostingHessian(
            "surrogate",
            r"h = 1/2",
            "The second derivative is 1/2 inside [-1, 1] and 0 outside, where a leaf of "
            "confident rows would divide by 0. The constant 1/2 bounds it everywhere, so each "
            "Newton step minimises a quadratic that lies above the loss.",
        ),
    )

    def _residual(self, xp: Any, x: Any, y: Any) -> Any:
        """u - y: -y below -1, 1 - y above 1, and inside (x - (2y - 1)) / 2, whose 2y - 1 is
        exact for y >= 1/4 (so near x = 2y - 1, where the loss is tiny, nothing cancels but x
        against it); for y < 1/4, (x + 1)/2 - y (exact near x = -1). The ends belong to the
        inside, whose slope autodiff then takes (a max would split it in two there)."""
        inside = xp.where(y >= 0.25, 0.5 * (x - (2.0 * y - 1.0)), 0.5 * (x + 1.0) - y)
        return xp.where(x < -1.0, -y, xp.where(x > 1.0, 1.0 - y, inside))

    def _value(self, xp: Any, pred: Any, target: Any) -> Any:
        above = where0(xp, pred > 1.0, pred - 1.0)  # inf at x = +inf: weighted by 1 - y
        below = where0(xp, pred < -1.0, -1.0 - pred)
        d = self._residual(xp, pred, target)
        return d * d + times_finite(xp, 1.0 - target, above) + times_finite(xp, target, below)

    def _grad(self, xp: Any, pred: Any, target: Any) -> Any:
        return self._residual(xp, pred, target)

    def _hess(self, xp: Any, pred: Any, target: Any) -> Any:
        inside = (pred >= -1.0) & (pred <= 1.0)  # the ends: the inside's, as in ``_residual``
        return 0.5 * xp.astype(inside, pred.dtype)

    def _boosting_hess(self, xp: Any, pred: Any, target: Any) -> Any:
        return xp.full_like(pred, 0.5)


binary_cross_entropy = register(BinaryCrossEntropy())
binary_cross_entropy_with_logits = register(BinaryCrossEntropyWithLogits())
balanced_cross_entropy = register(BalancedCrossEntropy())
focal_loss = register(FocalLoss())
sparsemax_loss = register(SparsemaxLoss())

__all__ = [
    "balanced_cross_entropy",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "focal_loss",
    "sparsemax_loss",
]
