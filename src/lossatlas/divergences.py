"""Divergences between distributions along an axis: one value per sample.

``kl_divergence`` (Kullback-Leibler), ``js_divergence`` (Jensen-Shannon) and
``generalized_kl_divergence`` (for unnormalised non-negative measures). The distribution axis
is ``axis=-1`` (the ``lossatlas.torch`` modules default to ``dim=1``); the core moves it last,
so every kernel below reads the distribution along the last axis. pred may be given as
probabilities (``input="probs"``), log-probabilities (``"log_probs"``) or, for the first two,
logits (``"logits"``, normalised here by an exact-tail log-softmax); ``grad`` and ``hess`` are
taken in that parametrisation. Every loss follows 0 log 0 = 0: a class without target mass
adds nothing, and its derivatives are finite, with respect to pred and to the target, under
autodiff too (a log-probability of -inf there included).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._loss import AxisLoss
from ._probes import LOGITS, PROBABILITIES, RATES, RESIDUALS
from ._reduce import Unreduced
from ._registry import register
from ._spec import BoostingHessian, Curve, Input, LossSpec, Param, Probe, Properties, Variant
from ._xp import LOG2, const, times_finite, where0
from .multiclass import _SoftmaxParts

INPUTS = ("probs", "log_probs", "logits")
KULLBACK_LEIBLER_1951 = (
    "Kullback, S., Leibler, R. A. (1951). On information and sufficiency. Annals of "
    "Mathematical Statistics 22(1), 79-86."
)
NOT_BOOSTED = (
    "its target is a distribution (a measure) per row, while boosters' multiclass objectives "
    "take one class index per row; on logits with a one-hot target kl_divergence is "
    "cross_entropy, which is one (lossatlas.gbm.xgboost_multiclass_objective)"
)


# ---- shared pieces ------------------------------------------------------------------------------
def _axis() -> Param:
    return Param("axis", -1, "the distribution axis of pred and target", kind="axis")


def _input_param(choices: tuple[str, ...]) -> Param:
    return Param(
        "input",
        "probs",
        "what pred holds: probabilities, log-probabilities"
        + (" or logits (normalised by a log-softmax)" if "logits" in choices else ""),
        kind="choice",
        choices=choices,
    )


def _pred(doc: str, domain: str = "simplex") -> Input:
    return Input("pred", "*b C", domain, class_axis=True, doc=doc)


def _target(domain: str, doc: str) -> Input:
    return Input("target", "*b C", domain, differentiable=False, class_axis=True, doc=doc)


class _Pred:
    """pred in its parametrisation: ``q`` (probabilities) and ``log_q`` where the input gives
    it directly (the log-probabilities themselves; ``-nll`` of the exact-tail log-softmax of
    logits), else None."""

    def __init__(self, xp: Any, pred: Any, input: str) -> None:
        if input == "probs":
            self.q, self.log_q = pred, None
        elif input == "log_probs":
            self.q, self.log_q = xp.exp(pred), pred
        else:
            parts = _SoftmaxParts(xp, pred)
            self.q, self.log_q = parts.probs(xp), -parts.nll


def _reciprocal(xp: Any, q: Any) -> Any:
    """1 / q, inf at q = 0 (no division warning)."""
    positive = q > 0
    one = const(xp, 1.0, q)
    return xp.where(positive, one / xp.where(positive, q, one), const(xp, math.inf, q))


def _log_ratio(xp: Any, t: Any, log_t: Any, pred: _Pred, live: Any) -> Any:
    """log(t / q) where ``live`` (t > 0), 0 elsewhere; +inf where q = 0.

    Given both logs exactly (log-probabilities against a log target) it is their
    difference. Otherwise, where |t - q| <= q/2 it is log1p((t - q) / q): t - q is exact
    there, where log t - log q would keep only the absolute accuracy of the logs (in float32,
    an ulp of log 1e-3, 5e-7, in a log-ratio of 1e-4); elsewhere log t - log q. Every operand
    is replaced by a safe value where its branch is not taken, so that no autodiff path meets
    0 * inf."""
    q = pred.q
    zero, one = const(xp, 0.0, q), const(xp, 1.0, q)
    if log_t is not None and pred.log_q is not None:
        return xp.where(live, xp.where(live, log_t, zero) - xp.where(live, pred.log_q, zero), zero)
    near = live & (xp.abs(t - q) <= 0.5 * q)
    tn, qn = xp.where(near, t, one), xp.where(near, q, one)
    close = xp.log1p((tn - qn) / qn)
    far = live & ~near
    lt = xp.log(xp.where(far, t, one)) if log_t is None else xp.where(far, log_t, zero)
    # a probability of 0 gives log 0 = -inf, and under autodiff the slope -t/q = -inf
    lq = xp.log(xp.where(far, q, one)) if pred.log_q is None else xp.where(far, pred.log_q, zero)
    return xp.where(near, close, xp.where(far, lt - lq, zero))


def _target_pair(xp: Any, target: Any, log_target: bool) -> tuple[Any, Any, Any]:
    """(t, log t or None, live = where t carries mass) from a target of probabilities or,
    with ``log_target``, of log-probabilities (live where log t > -inf, even where exp
    underflows to 0)."""
    if log_target:
        return xp.exp(target), target, target > -math.inf
    return target, None, target > 0


# ---- kl_divergence ------------------------------------------------------------------------------
class KLDivergence(AxisLoss):
    r"""Kullback-Leibler divergence KL(target || pred) along an axis, per sample.

    .. math:: \ell = \sum_c t_c \left(\log t_c - \log q_c\right)

    q is pred as probabilities (``input="probs"``, the default), log-probabilities
    (``"log_probs"``: torch's ``F.kl_div`` and ``optax.kl_divergence`` take these) or logits
    (``"logits"``, normalised by an exact-tail log-softmax, the one of ``cross_entropy``);
    the target t holds probabilities, or log-probabilities with ``log_target=True``. The
    "mean" reduction averages the per-sample divergences (each a sum over the axis): the
    true KL of a batch, torch's ``reduction="batchmean"``, not its element mean.

    0 log 0 = 0: a class with t_c = 0 adds 0 whatever q_c is (a log-probability of -inf
    too), with finite derivatives with respect to pred and to the target (0 with respect to
    t_c, whose one-sided slope is -inf; torch's ``kl_div`` gives NaN at a log-probability of
    -inf there); q_c = 0 < t_c gives inf. Numerics: log(t_c / q_c) is
    ``log1p((t_c - q_c) / q_c)`` where |t_c - q_c| <= q_c / 2, so that a tiny divergence
    keeps its digits (see ``_log_ratio``): on probabilities the error is a few ulps of the
    terms t_c log(t_c / q_c), which cancel between classes; on log-probabilities and logits
    it is a few ulps of 1, the rounding of q_c = exp(log q_c) itself. ``grad`` and ``hess``
    (its diagonal) are with respect to pred in its parametrisation: -t/q and t/q^2 on
    probabilities, -t and 0 on log-probabilities, A softmax(z) - t and A p (1 - p) on logits
    (A = sum t).

    Reference: Kullback, S., Leibler, R. A. (1951). On information and sufficiency.
    """

    spec = LossSpec(
        name="kl_divergence",
        family="divergence",
        summary="Kullback-Leibler divergence KL(target || pred) between two distributions.",
        inputs=(
            _pred(
                "the predicted distribution q: probabilities (input='probs'), "
                "log-probabilities ('log_probs') or logits ('logits')"
            ),
            _target(
                "simplex",
                "the target distribution t: probabilities (log-probabilities with log_target=True)",
            ),
        ),
        output="*b",
        properties=Properties(convex=True, robust=False, smoothness="Cinf"),
        formula=r"\ell(q, t) = \sum_c t_c \log \frac{t_c}{q_c}",
        references=(KULLBACK_LEIBLER_1951,),
        params=(
            _axis(),
            _input_param(INPUTS),
            Param("log_target", False, "target holds log-probabilities", kind="bool"),
        ),
        aliases=(
            "KLDivLoss",
            "kl_div",
            "KLDivergence",
            "kullback_leibler_divergence",
            "kl_divergence_with_log_targets",
            "relative_entropy",
            "kld",
        ),
        framework_names={
            "pytorch": "torch.nn.KLDivLoss, torch.nn.functional.kl_div "
            "(input=log_probs; reduction='batchmean' is the mean here)",
            "keras": "keras.losses.KLDivergence, keras.losses.kl_divergence "
            "(clips both to [1e-7, 1])",
            "tensorflow": "tf.keras.losses.KLDivergence",
            "paddle": "paddle.nn.KLDivLoss, paddle.nn.functional.kl_div",
            "optax": "optax.kl_divergence, optax.losses.kl_divergence_with_log_targets "
            "(input=log_probs)",
        },
        elementwise=False,
        derivative_notes="with respect to pred, per sample, in its parametrisation: "
        "probabilities grad = -t/q, hess = t/q^2; log-probabilities grad = -t, hess = 0; "
        "logits grad = A softmax(z) - t, hess (its diagonal) = A p (1 - p), A = sum t. "
        "Where t = 0 the terms are 0 and every derivative (also with respect to the target) "
        "is finite.",
        when_to_use="Distillation (a student's logits against a teacher's probabilities), "
        "variational objectives and any fit of one distribution to another; on logits it "
        "differs from cross_entropy with a probability target by the target's entropy, a "
        "constant, so its minimum is 0.",
        showcase=({"input": "probs"}, {"input": "logits"}),
        boosting=BoostingHessian("none", reason=NOT_BOOSTED),
        variants=(
            # the gradient is bounded in log-probabilities (-t) and in logits; on
            # probabilities it grows like 1/q
            Variant({"input": "log_probs"}, {"pred": "log_simplex"}, {"robust": True}),
            Variant({"input": "logits"}, {"pred": "logit"}, {"robust": True}),
            Variant({"log_target": True}, {"target": "log_simplex"}),
        ),
        probe=lambda p: _divergence_probe(p),  # defined below
    )

    def _terms(self, xp: Any, pred: Any, target: Any, input: str, log_target: bool) -> Any:
        """t_c log(t_c / q_c) per class (0 where t_c = 0, inf where q_c = 0 < t_c)."""
        q = _Pred(xp, pred, input)
        t, log_t, live = _target_pair(xp, target, log_target)
        ratio = _log_ratio(xp, t, log_t, q, live)
        terms = t * ratio
        if log_target:  # exp(log t) underflows to 0 next to q = 0: the term is still inf
            terms = xp.where((ratio == math.inf) & (t == 0), ratio, terms)
        return terms

    def _unreduced(
        self, xp: Any, pred: Any, target: Any, *, input: str, log_target: bool
    ) -> Unreduced:
        return Unreduced(xp.sum(self._terms(xp, pred, target, input, log_target), axis=-1))

    def _grad(self, xp: Any, pred: Any, target: Any, *, input: str, log_target: bool) -> Any:
        t = _target_pair(xp, target, log_target)[0]
        if input == "probs":
            return -times_finite(xp, t, _reciprocal(xp, pred))
        if input == "log_probs":
            return -t
        p = _SoftmaxParts(xp, pred).probs(xp)
        return xp.sum(t, axis=-1, keepdims=True) * p - t

    def _hess(self, xp: Any, pred: Any, target: Any, *, input: str, log_target: bool) -> Any:
        t = _target_pair(xp, target, log_target)[0]
        if input == "probs":  # (t / q) / q: t / q^2 overflows only where it is beyond range
            inv = _reciprocal(xp, pred)
            return times_finite(xp, times_finite(xp, t, inv), inv)
        if input == "log_probs":
            return xp.zeros_like(pred)
        parts = _SoftmaxParts(xp, pred)
        p = parts.probs(xp)
        return xp.sum(t, axis=-1, keepdims=True) * p * parts.one_minus_probs(xp, p)


# ---- js_divergence ------------------------------------------------------------------------------
def _js_terms(xp: Any, t: Any, q: Any, probabilities: bool) -> Any:
    """The Jensen-Shannon term of each class, 1/2 [t log(2t/(t+q)) + q log(2q/(t+q))].

    With e = (t - q) / (t + q) it is (t + q)/4 [log1p(-e^2) + 2 e atanh(e)] where |e| <= 1/2:
    t log(2t/(t+q)) and q log(2q/(t+q)) are each first order in e and cancel to second order
    in their sum, which this form keeps exact (e^2 + O(e^4), from a log1p and an atanh).
    Elsewhere the logs directly; t = 0 gives q log(2) / 2, q = 0 gives t log(2) / 2. On
    probabilities the slope at q = 0 < t is -inf (that of q log q); there -sqrt(q), which is
    0 with a slope of -inf under autodiff, is added, so that torch and JAX give that slope
    instead of the finite one that masking the log would leave."""
    zero, one = const(xp, 0.0, q), const(xp, 1.0, q)
    both = (t > 0) & (q > 0)
    near = both & (xp.abs(t - q) <= 0.5 * (t + q))
    tn, qn = xp.where(near, t, one), xp.where(near, q, one)
    sn = tn + qn
    e = (tn - qn) / sn
    close = 0.25 * sn * (xp.log1p(-(e * e)) + 2.0 * e * xp.atanh(e))
    far = both & ~near
    tf, qf = xp.where(far, t, one), xp.where(far, q, one)
    log_m = xp.log(tf + qf)
    apart = 0.5 * (tf * (xp.log(tf) + LOG2 - log_m) + qf * (xp.log(qf) + LOG2 - log_m))
    only_q = (0.5 * LOG2) * q  # t = 0 (q = 0 too)
    only_t = (0.5 * LOG2) * t  # q = 0 < t
    if probabilities:
        only_t = only_t - xp.sqrt(xp.where((q == 0) & (t > 0), q, zero))
    return xp.where(near, close, xp.where(far, apart, xp.where(t == 0, only_q, only_t)))


def _js_slopes(xp: Any, t: Any, q: Any) -> tuple[Any, Any]:
    """(d/dq, d^2/dq^2) of each class's term: log(2q/(t+q)) / 2 and t / (2 q (t + q)).

    The first is log1p(-e) / 2 where |e| <= 1/2, the log of the ratio elsewhere; log(2) / 2
    where t = 0 (q = 0 too: the slope along t = 0) and -inf where q = 0 < t. The second is
    0 where t = 0 and inf where q = 0 < t."""
    zero, one = const(xp, 0.0, q), const(xp, 1.0, q)
    both = (t > 0) & (q > 0)
    ts, qs = xp.where(both, t, one), xp.where(both, q, one)
    total = ts + qs
    e = (ts - qs) / total
    near = xp.abs(e) <= 0.5
    ratio = 2.0 * qs / total
    slope = 0.5 * xp.where(near, xp.log1p(-xp.where(near, e, zero)), xp.log(ratio))
    edge = xp.where(t == 0, const(xp, 0.5 * LOG2, q), const(xp, -math.inf, q))
    slope = xp.where(both, slope, edge)
    curve = 0.5 * (ts / total) / qs  # not over q (t + q), which underflows first
    curve = xp.where(both, curve, xp.where(t == 0, zero, const(xp, math.inf, q)))
    return slope, curve


class JSDivergence(AxisLoss):
    r"""Jensen-Shannon divergence between pred and target along an axis, per sample.

    .. math:: \ell = \tfrac12 \mathrm{KL}(t \,\|\, m) + \tfrac12 \mathrm{KL}(q \,\|\, m),
              \qquad m = \tfrac12 (t + q)

    Symmetric, with the natural log: 0 <= JS <= log 2 (the upper end for distributions with
    disjoint supports); it is the square of scipy's ``jensenshannon`` distance with base e.
    q is pred as probabilities (``input="probs"``, the default), log-probabilities or logits
    (normalised by an exact-tail log-softmax); the target holds probabilities.

    Numerics: each class's term is computed from e = (t - q) / (t + q) as
    (t + q)/4 [log1p(-e^2) + 2 e atanh(e)] where |e| <= 1/2, exact where the divergence is
    tiny (``_js_terms``). 0 log 0 = 0: every term is finite; the derivatives are finite
    except the slope with respect to a probability q_c = 0 < t_c, which is -inf (that of
    q log q; finite on log-probabilities and logits, where it is multiplied by q).
    ``grad``: with g = log(2q / (t + q)) / 2, g on probabilities, a = q g on
    log-probabilities, a - q sum(a) on logits; ``hess`` (its diagonal) with g' = t / (2 q
    (t + q)) and w = q^2 g': g', a + w, and (1 - 2q)(grad + w) + q^2 sum(w).

    Reference: Lin, J. (1991). Divergence measures based on the Shannon entropy.
    """

    spec = LossSpec(
        name="js_divergence",
        family="divergence",
        summary="Jensen-Shannon divergence: the symmetric, bounded mean KL to the midpoint.",
        inputs=(
            _pred(
                "the predicted distribution q: probabilities (input='probs'), "
                "log-probabilities ('log_probs') or logits ('logits')"
            ),
            _target("simplex", "the target distribution t: probabilities"),
        ),
        output="*b",
        properties=Properties(convex=True, robust=False, smoothness="Cinf", bounded=True),
        formula=r"\ell(q, t) = \tfrac12 \sum_c \left(t_c \log \frac{2 t_c}{t_c + q_c} "
        r"+ q_c \log \frac{2 q_c}{t_c + q_c}\right)",
        references=(
            "Lin, J. (1991). Divergence measures based on the Shannon entropy. IEEE "
            "Transactions on Information Theory 37(1), 145-151.",
            KULLBACK_LEIBLER_1951,
        ),
        params=(_axis(), _input_param(INPUTS)),
        aliases=(
            "jensen_shannon_divergence",
            "jensen_shannon",
            "JSDivergence",
            "JSDivergenceLoss",
            "js_div",
            "jsd",
        ),
        framework_names={
            "scipy": "scipy.spatial.distance.jensenshannon (its square, with base e)",
        },
        elementwise=False,
        derivative_notes="with respect to pred, per sample, in its parametrisation, with "
        "g = log(2q/(t+q))/2, g' = t/(2q(t+q)), a = q g and w = q^2 g': probabilities "
        "grad = g, hess = g'; log-probabilities grad = a, hess = a + w; logits "
        "grad = a - q sum(a), hess (its diagonal) = (1 - 2q)(grad + w) + q^2 sum(w). "
        "On probabilities the slope at q = 0 < t is -inf; elsewhere every derivative is finite.",
        when_to_use="A symmetric, bounded comparison of two distributions that stays finite "
        "where their supports differ, unlike KL (histograms, topic or label distributions); "
        "the original GAN objective is the JS divergence up to constants.",
        showcase=({"input": "probs"}, {"input": "logits"}),
        boosting=BoostingHessian("none", reason=NOT_BOOSTED),
        variants=(
            # not convex in logits (a convex function bounded above on a line is constant) nor
            # in log-probabilities (the curvature q [log(2q/(t+q)) + t/(t+q)] / 2 is negative
            # where q << t); the gradient there is q g, bounded (q log q -> 0); on
            # probabilities it grows like log q
            Variant(
                {"input": "log_probs"}, {"pred": "log_simplex"}, {"convex": False, "robust": True}
            ),
            Variant({"input": "logits"}, {"pred": "logit"}, {"convex": False, "robust": True}),
        ),
        probe=lambda p: _divergence_probe(p),  # defined below
    )

    def _unreduced(self, xp: Any, pred: Any, target: Any, *, input: str) -> Unreduced:
        q = _Pred(xp, pred, input).q
        return Unreduced(xp.sum(_js_terms(xp, target, q, input == "probs"), axis=-1))

    def _pieces(self, xp: Any, pred: Any, target: Any, input: str) -> tuple[Any, ...]:
        """(q, g, g', a = q g, w = q^2 g')."""
        q = _Pred(xp, pred, input).q
        g, g2 = _js_slopes(xp, target, q)
        a = times_finite(xp, q, g)
        both = (target > 0) & (q > 0)
        total = xp.where(both, target + q, const(xp, 1.0, q))
        w = where0(xp, both, 0.5 * q * target / total)
        return q, g, g2, a, w

    def _grad(self, xp: Any, pred: Any, target: Any, *, input: str) -> Any:
        q, g, _, a, _ = self._pieces(xp, pred, target, input)
        if input == "probs":
            return g
        if input == "log_probs":
            return a
        return a - q * xp.sum(a, axis=-1, keepdims=True)

    def _hess(self, xp: Any, pred: Any, target: Any, *, input: str) -> Any:
        q, _, g2, a, w = self._pieces(xp, pred, target, input)
        if input == "probs":
            return g2
        if input == "log_probs":
            return a + w
        grad = a - q * xp.sum(a, axis=-1, keepdims=True)
        return (1.0 - 2.0 * q) * (grad + w) + q * q * xp.sum(w, axis=-1, keepdims=True)


# ---- generalized_kl_divergence ------------------------------------------------------------------
# atanh(v) - v = v^3 (1/3 + v^2/5 + v^4/7 + ...): the coefficients of the series in v^2, to
# 1e-17 relative for |v| <= 0.1
_ATANH_SERIES = tuple(1.0 / (2 * k + 3) for k in range(8))
_NEAR = 0.1


def _atanh_minus(xp: Any, v: Any) -> Any:
    """atanh(v) - v for |v| <= 0.1 by its series (no cancellation)."""
    v2 = v * v
    acc = const(xp, _ATANH_SERIES[-1], v)
    for c in _ATANH_SERIES[-2::-1]:
        acc = acc * v2 + c
    return v * v2 * acc


class GeneralizedKLDivergence(AxisLoss):
    r"""Generalized Kullback-Leibler divergence (the I-divergence) of unnormalised measures.

    .. math:: \ell = \sum_c \left(t_c \log \frac{t_c}{q_c} - t_c + q_c\right)

    For non-negative pred and target that need not sum to 1 (spectra, counts, the factors
    of a non-negative matrix factorisation): the Bregman divergence of x log x - x, each term
    >= 0; on distributions it is the KL divergence. ``input="log_probs"`` takes log q (any
    real number, -inf for 0), as ``optax.generalized_kl_divergence`` does; the target stays
    as given. 0 log 0 = 0: a class with t_c = 0 adds q_c; q_c = 0 < t_c gives inf.

    Numerics: where |v| <= 0.1, v = (t - q) / (t + q), each term is computed as
    (t - q)^2 / (t + q) + 2 t (atanh(v) - v), the last by its series, exact where the term is
    tiny (t log(t/q) and t - q agree to first order there and cancel). ``grad`` and ``hess``
    (diagonal): (q - t)/q and t/q^2 on q; q - t and q on log q.

    References: Kullback, S., Leibler, R. A. (1951); Lee, D. D., Seung, H. S. (2001).
    """

    spec = LossSpec(
        name="generalized_kl_divergence",
        family="divergence",
        summary="Generalized KL (I-) divergence of non-negative measures that need not sum to 1.",
        inputs=(
            _pred(
                "the predicted measure q >= 0 (its log with input='log_probs')",
                "nonnegative",
            ),
            _target("nonnegative", "the target measure t >= 0"),
        ),
        output="*b",
        properties=Properties(convex=True, robust=False, smoothness="Cinf"),
        formula=r"\ell(q, t) = \sum_c \left(t_c \log \frac{t_c}{q_c} - t_c + q_c\right)",
        references=(
            KULLBACK_LEIBLER_1951,
            "Lee, D. D., Seung, H. S. (2001). Algorithms for non-negative matrix "
            "factorization. Advances in Neural Information Processing Systems 13, 556-562.",
        ),
        params=(_axis(), _input_param(INPUTS[:2])),
        aliases=(
            "generalized_kl",
            "convex_kl_divergence",
            "GeneralizedKLDivLoss",
            "i_divergence",
        ),
        framework_names={
            "optax": "optax.generalized_kl_divergence, optax.convex_kl_divergence "
            "(input=log_probs)",
        },
        elementwise=False,
        derivative_notes="with respect to pred, per sample: on q grad = (q - t)/q (1 where "
        "t = q = 0), hess = t/q^2; on log q grad = q - t, hess = q.",
        when_to_use="Fitting unnormalised non-negative quantities (intensities, counts, "
        "NMF factors): per class it is half the Poisson deviance.",
        showcase=({"input": "probs"}, {"input": "log_probs"}),
        boosting=BoostingHessian("none", reason=NOT_BOOSTED),
        variants=(Variant({"input": "log_probs"}, {"pred": "real"}),),
        probe=lambda p: _measure_probe(p),  # defined below
    )

    def _unreduced(self, xp: Any, pred: Any, target: Any, *, input: str) -> Unreduced:
        t = target
        log_input = input == "log_probs"
        q = xp.exp(pred) if log_input else pred
        zero, one = const(xp, 0.0, q), const(xp, 1.0, q)
        live = (t > 0) & (q < math.inf)  # at q = inf the term is inf
        total = xp.where(live, t + q, one)
        v = xp.where(live, (t - q) / total, zero)
        near = live & (xp.abs(v) <= _NEAR)
        vn, tn, qn = where0(xp, near, v), where0(xp, near, t), where0(xp, near, q)
        close = (tn - qn) * vn + 2.0 * tn * _atanh_minus(xp, vn)  # (t - q)^2 / (t + q) + ...
        far = live & ~near
        tf, qf = xp.where(far, t, one), where0(xp, far, q)
        if log_input:
            lq = xp.where(far, pred, zero)
        else:  # a measure of 0 gives log 0 = -inf, and under autodiff the slope -t/q = -inf
            lq = xp.log(xp.where(far, q, one))
        apart = tf * (xp.log(tf) - lq) - tf + qf
        rest = xp.where(q == math.inf, const(xp, math.inf, q), q)  # t = 0: the term is q
        return Unreduced(xp.sum(xp.where(near, close, xp.where(far, apart, rest)), axis=-1))

    def _grad(self, xp: Any, pred: Any, target: Any, *, input: str) -> Any:
        if input == "log_probs":
            return xp.exp(pred) - target
        # (q - t) / q: 1 where t = 0 (q = 0 too) and at q = inf, -inf where q = 0 < t
        live = (target > 0) & (pred < math.inf)
        one = const(xp, 1.0, pred)
        slope = (pred - target) * _reciprocal(xp, xp.where(live, pred, one))
        return xp.where(live, slope, one)

    def _hess(self, xp: Any, pred: Any, target: Any, *, input: str) -> Any:
        if input == "log_probs":
            return xp.exp(pred)
        inv = _reciprocal(xp, pred)
        return times_finite(xp, times_finite(xp, target, inv), inv)


# ---- probes -------------------------------------------------------------------------------------
#: The targets the probes draw, one curve each, with classes of no mass (on logits, masked
#: classes: logits of -inf). On logits, the classes other than 0 with mass carry equal shares
#: or are one: the limit at t = -inf is then a minimum of JS along them, with a gradient of 0
#: exactly, not rounding noise.
MIXTURE_TARGETS = ((0.6, 0.2, 0.1, 0.1, 0.0), (0.5, 0.5, 0.0, 0.0, 0.0))
SHIFT_TARGETS = ((0.6, 0.4, 0.0, 0.0, 0.0), (0.5, 0.25, 0.25, 0.0, 0.0))
MEASURE_TARGETS = ((1.0, 1.0, 0.5, 0.0, 2.0), (2.0, 1.0, 0.5, 0.0, 2.0))


def _label(target: tuple[float, ...], short: str) -> tuple[str, str]:
    return "target (" + ", ".join(f"{v:g}" for v in target) + ")", short


def _mixture_curve(target: tuple[float, ...]) -> Curve:
    """pred = (1 - t) target + t e_0: from the target (t = 0) to a point mass on class 0."""
    tau = np.array(target, dtype=np.float64)
    toward = np.zeros_like(tau)
    toward[0] = 1.0

    def make(t: np.ndarray) -> dict[str, np.ndarray]:
        t = np.asarray(t, dtype=np.float64)[:, None]
        pred = (1.0 - t) * tau + t * toward
        return {"pred": pred, "target": np.broadcast_to(tau, pred.shape).copy()}

    def direction(t: np.ndarray) -> np.ndarray:
        return np.broadcast_to(toward - tau, (len(np.asarray(t)), len(tau))).copy()

    return Curve(*_label(target, f"t_0={target[0]:g}"), make, direction)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    """log softmax over the last axis, exact in the tails (log1p of the sum without the top)."""
    top = np.argmax(z, axis=-1)[..., None]
    m = np.take_along_axis(z, top, axis=-1)
    m = np.where(np.isfinite(m), m, 0.0)
    d = z - m
    e = np.exp(d)
    np.put_along_axis(e, top, 0.0, axis=-1)
    return d - np.log1p(e.sum(axis=-1, keepdims=True))


def _shift_curve(target: tuple[float, ...], log_probs: bool) -> Curve:
    """logits log(target) + t e_0, i.e. pred = softmax(log target + t e_0): the class-0
    logit shifted by t from the target (t = 0) toward a point mass on class 0 (t -> inf) or
    on the other classes (t -> -inf); given as its log-softmax with ``log_probs``."""
    tau = np.array(target, dtype=np.float64)
    with np.errstate(divide="ignore"):
        base = np.log(tau)

    def make(t: np.ndarray) -> dict[str, np.ndarray]:
        t = np.asarray(t, dtype=np.float64)
        z = np.broadcast_to(base, (len(t), len(tau))).copy()
        z[:, 0] = base[0] + t
        pred = _log_softmax(z) if log_probs else z
        return {"pred": pred, "target": np.broadcast_to(tau, z.shape).copy()}

    def direction(t: np.ndarray) -> np.ndarray:
        n = len(np.asarray(t))
        d = np.zeros((n, len(tau)))
        d[:, 0] = 1.0
        if log_probs:  # d log softmax(z) / d z_0 = e_0 - softmax(z)_0 in every class
            z0 = np.asarray(t, dtype=np.float64) + base[0] - np.log1p(-tau[0])
            with np.errstate(over="ignore"):
                q0 = 1.0 / (1.0 + np.exp(-z0))
            d = d - q0[:, None]
        return d

    return Curve(*_label(target, f"t_0={target[0]:g}"), make, direction)


def _divergence_probe(params: Mapping[str, Any]) -> Probe:
    """On probabilities: pred moves on a straight line from the target (t = 0) to a point
    mass on class 0 (t = 1), a direction in which the Hessian is diagonal, so that the
    derivatives along it are exact. On logits and log-probabilities: the class-0 logit is
    shifted by t from the target's (t = 0), one coordinate of the logits (on
    log-probabilities the path is curved: its second derivative is the diagonal Hessian
    along the tangent, not the curvature of the loss along t). One curve per target
    (``MIXTURE_TARGETS``, ``SHIFT_TARGETS``); with ``log_target`` the target is given as its
    log."""
    input = params.get("input", "probs")
    log_target = bool(params.get("log_target", False))
    if input == "probs":
        curves = tuple(_mixture_curve(t) for t in MIXTURE_TARGETS)
        probe = Probe(
            "point-mass weight", "weight t of a point mass on class 0 in pred", "t",
            "pred = (1 - t) target + t e_0 (t = 0: pred = target; t = 1: a point mass)",
            "probability", (0.0, 1.0), PROBABILITIES, curves, "t",
        )  # fmt: skip
    else:
        curves = tuple(_shift_curve(t, input == "log_probs") for t in SHIFT_TARGETS)
        wrt = "t" if input == "log_probs" else "z_0"
        caption = "pred = softmax(log target + t e_0), the class-0 logit shifted by t"
        if input == "log_probs":
            caption += " (as log-probabilities: hess is the diagonal along the path's tangent)"
        probe = Probe(
            "class-0 logit shift", "shift t of the class-0 logit from the target's", "t",
            caption, "real", (-6.0, 6.0), LOGITS, curves, wrt,
        )  # fmt: skip
    if log_target:
        probe = _with_log_target(probe)
    return probe


def _with_log_target(probe: Probe) -> Probe:
    """The same probe with the target given as log-probabilities."""

    def wrap(curve: Curve) -> Curve:
        def make(t: np.ndarray) -> dict[str, np.ndarray]:
            made = curve.make(t)
            with np.errstate(divide="ignore"):
                made["target"] = np.log(made["target"])
            return made

        return Curve(curve.label, curve.short, make, curve.direction)

    return Probe(
        probe.key, probe.label, probe.column, probe.caption + "; target as its log",
        probe.domain, probe.xlim, probe.table, tuple(wrap(c) for c in probe.curves), probe.wrt,
    )  # fmt: skip


def _measure_curve(target: tuple[float, ...], log_input: bool) -> Curve:
    """pred equal to the target but in class 0, where it is t (its log with ``log_input``)."""
    tau = np.array(target, dtype=np.float64)
    with np.errstate(divide="ignore"):
        base = np.log(tau) if log_input else tau

    def make(t: np.ndarray) -> dict[str, np.ndarray]:
        t = np.asarray(t, dtype=np.float64)
        pred = np.broadcast_to(base, (len(t), len(tau))).copy()
        pred[:, 0] = t
        return {"pred": pred, "target": np.broadcast_to(tau, pred.shape).copy()}

    def direction(t: np.ndarray) -> np.ndarray:
        d = np.zeros((len(np.asarray(t)), len(tau)))
        d[:, 0] = 1.0
        return d

    return Curve(*_label(target, f"t_0={target[0]:g}"), make, direction)


def _measure_probe(params: Mapping[str, Any]) -> Probe:
    """pred equals the target except in class 0, which runs over t (its log, with
    input='log_probs'); one curve per target of ``MEASURE_TARGETS``."""
    if params.get("input", "probs") == "log_probs":
        curves = tuple(_measure_curve(t, True) for t in MEASURE_TARGETS)
        return Probe(
            "class-0 log-measure", "log q_0 (the other classes equal the target)", "log q_0",
            "pred = log target except log q_0 in class 0", "real", (-3.0, 3.0), RESIDUALS,
            curves, "log q_0",
        )  # fmt: skip
    curves = tuple(_measure_curve(t, False) for t in MEASURE_TARGETS)
    return Probe(
        "class-0 measure", "q_0 (the other classes equal the target)", "q_0",
        "pred = target except q_0 in class 0", "nonnegative", (0.0, 6.0), RATES, curves, "q_0",
    )  # fmt: skip


kl_divergence = register(KLDivergence())
js_divergence = register(JSDivergence())
generalized_kl_divergence = register(GeneralizedKLDivergence())

__all__ = ["generalized_kl_divergence", "js_divergence", "kl_divergence"]
