"""Reference definitions of every registered loss in mpmath, for the edge tests.

Each is written independently of the library, from the formula its docstring states, in the
plainest form: no log1p, no branch for stability, nothing clever; run at 60 significant digits
they give the true value of the definition at the exact (dtype-rounded) inputs. Conventions
that are part of a definition are kept (PyTorch's clamp of each log at -100 in binary cross
entropy, the clip of probabilities to [eps, 1 - eps], 0 * log 0 = 0, a -inf logit on a class
that is not the target being a masked class).

``ELEMENTWISE[name](x, y, **params)``: the loss of one element (pred x, target y).
``AXIS[name](z, y, **params)``: the loss of one sample (a list of scores z, a class index or a
list of probabilities y).
``BOXES[name](p, t, **params)``: the loss of one box pair (lists of 4 coordinates in fmt).

A loss registered without a reference here fails ``test_every_loss_has_a_reference``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mpmath as mp

mp.mp.dps = 60

#: below this, e^x is 0 to any float and to any product with a float-sized factor (e^-1e6
#: against the smallest float64, e^-745); mpmath's exp of an argument near -1e300 (the edge
#: lattices' logit margins) spends tens of milliseconds on the reduction of x by ln 2. Used
#: only in sums and ratios (log-sum-exp, softmax, sigmoid, softplus), never where the result
#: meets a logarithm or an infinite factor (a divergence's t log t, a Tweedie mean)
_EXP_NEGLIGIBLE = -1e6


def _exp(x: Any) -> Any:
    """mp.exp(x), or 0 where the value is negligible to every float (see above)."""
    if x < _EXP_NEGLIGIBLE:
        return mp.mpf(0)
    return mp.exp(x)


INF = mp.inf
LOG_FLOOR = -100


def _clamped_log(v: Any) -> Any:
    """max(log v, -100), PyTorch's convention; log 0 = -inf is clamped too."""
    if v <= 0:
        return mp.mpf(LOG_FLOOR)
    return max(mp.log(v), mp.mpf(LOG_FLOOR))


def _clip(p: Any, eps: float | None) -> Any:
    if eps is None:
        return p
    return min(max(p, mp.mpf(eps)), 1 - mp.mpf(eps))


def _xlogy(a: Any, b: Any) -> Any:
    """a log b with 0 log 0 = 0."""
    return mp.mpf(0) if a == 0 else a * mp.log(b)


def _times(a: Any, b: Any) -> Any:
    """a * b with 0 * inf = 0 (a vanishing coefficient)."""
    return mp.mpf(0) if a == 0 else a * b


def _softplus(x: Any) -> Any:
    return mp.log(1 + _exp(x))


def _sign_label(y: Any) -> Any:
    return mp.mpf(-1) if y == 0 else y


# ---- regression -------------------------------------------------------------------------------
def mae(x, y):
    return abs(x - y)


def mse(x, y):
    return (x - y) ** 2


def mean_bias_error(x, y):
    return x - y


def huber(x, y, *, delta):
    r = abs(x - y)
    return r**2 / 2 if r < delta else delta * (r - mp.mpf(delta) / 2)


def smooth_l1(x, y, *, beta):
    r = abs(x - y)
    if beta == 0:
        return r
    return r**2 / (2 * mp.mpf(beta)) if r < beta else r - mp.mpf(beta) / 2


def pseudo_huber(x, y, *, delta):
    d = mp.mpf(delta)
    return d**2 * (mp.sqrt(1 + ((x - y) / d) ** 2) - 1)


def log_cosh(x, y):
    return mp.log(mp.cosh(x - y))


def quantile(x, y, *, q):
    d = y - x
    return max(q * d, (q - 1) * d)


def poisson_nll(x, y, *, log_input, full, eps):
    if log_input:
        loss = mp.exp(x) - _times(y, x)
    else:
        loss = x - _xlogy(y, x + eps) if y != 0 else x
    if full and y > 1:
        loss += y * mp.log(y) - y + mp.log(2 * mp.pi * y) / 2
    return loss


def gaussian_nll(x, y, *, var, full, eps):
    v = max(mp.mpf(var), mp.mpf(eps))
    loss = (mp.log(v) + (x - y) ** 2 / v) / 2
    return loss + mp.log(2 * mp.pi) / 2 if full else loss


# ---- binary classification ----------------------------------------------------------------------
def _prob_ce(p, pos, neg, eps):
    """-(pos log p + neg log(1 - p)): clamped logs (eps None) or clipped p."""
    if eps is None:
        return -(_times(pos, _clamped_log(p)) + _times(neg, _clamped_log(1 - p)))
    pc = _clip(p, eps)
    return -(_times(pos, mp.log(pc)) + _times(neg, mp.log(1 - pc)))


def binary_cross_entropy(p, y, *, eps):
    return _prob_ce(p, y, 1 - y, eps)


def binary_cross_entropy_with_logits(x, y, *, pos_weight, label_smoothing):
    s = mp.mpf(label_smoothing)
    y = y * (1 - s) + s / 2
    w = 1 if pos_weight is None else mp.mpf(pos_weight)
    return _times(w * y, _softplus(-x)) + _times(1 - y, _softplus(x))


def balanced_cross_entropy(x, y, *, beta, from_logits, eps):
    pos, neg = beta * y, (1 - mp.mpf(beta)) * (1 - y)
    if from_logits:
        return _times(pos, _softplus(-x)) + _times(neg, _softplus(x))
    return _prob_ce(x, pos, neg, eps)


def focal_loss(x, y, *, alpha, gamma, from_logits, eps):
    a_t = 1 if alpha is None else alpha * y + (1 - mp.mpf(alpha)) * (1 - y)
    if from_logits:
        p = 1 / (1 + _exp(-x))
        ce = _times(y, _softplus(-x)) + _times(1 - y, _softplus(x))
    else:
        p = _clip(x, eps)
        ce = _prob_ce(x, y, 1 - y, eps)
    u = p * (1 - y) + (1 - p) * y  # 1 - p_t
    modulator = mp.mpf(1) if gamma == 0 else (mp.mpf(0) if u == 0 else u**gamma)
    return _times(a_t * modulator, ce)


# ---- margins --------------------------------------------------------------------------------
def hinge(x, y):
    return max(mp.mpf(0), 1 - _sign_label(y) * x)


def squared_hinge(x, y):
    return max(mp.mpf(0), 1 - _sign_label(y) * x) ** 2


def logistic_loss(x, y):
    return _softplus(-_sign_label(y) * x)


def exponential_loss(x, y):
    return _exp(-_sign_label(y) * x)


def sparsemax_loss(x, y):
    """sparse_plus(x) - x y + y^2 - y (Blondel et al. 2020, sec. 4.4), by the pieces of
    sparse_plus: 0 below -1, (x + 1)^2 / 4 inside, x above 1."""
    y = mp.mpf(y)
    if x <= -1:
        return _times(y, -x) + y * y - y
    if x >= 1:
        return _times(1 - y, x) + y * y - y
    return (x + 1) ** 2 / 4 - x * y + y * y - y


def zero_one_loss(x, y):
    return mp.mpf(1) if _sign_label(y) * x <= 0 else mp.mpf(0)


# ---- over a class axis --------------------------------------------------------------------------
def cross_entropy(
    z, y, *, class_weight, ignore_index, label_smoothing, from_logits, softcap, z_loss
):
    """-sum_c w_c y'_c log softmax(z)_c; y' = (1 - s) y + s / K over the K unmasked classes
    (a class is masked where its logit is -inf, or its probability 0, and it is not the
    target); an ignored index gives 0. On probabilities log p_c itself. With ``softcap`` the
    logits are c tanh(z / c) first (+-inf become +-c); ``z_loss`` adds
    z_loss * (sum_c w_c y'_c) * logsumexp(z)^2."""
    n = len(z)
    if isinstance(y, int):
        if ignore_index is not None and y == ignore_index:
            return mp.mpf(0)
        target = [mp.mpf(1) if c == y else mp.mpf(0) for c in range(n)]
    else:
        target = [mp.mpf(v) for v in y]
    if softcap is not None:
        z = [softcap * mp.tanh(v / softcap) for v in z]
    if from_logits:
        masked = [z[c] == -INF and target[c] == 0 for c in range(n)]
        top = max(z)
        if top == INF:  # the limit: uniform over the +inf classes
            logp = [mp.log(mp.mpf(1) / sum(v == INF for v in z)) if v == INF else -INF for v in z]
        else:
            lse = top + mp.log(mp.fsum(_exp(v - top) for v in z))
            logp = [v - lse for v in z]
    else:
        masked = [z[c] == 0 and target[c] == 0 for c in range(n)]
        logp = [mp.log(v) if v > 0 else -INF for v in z]
    s = mp.mpf(label_smoothing)
    if s:
        k = n - sum(masked)
        target = [(1 - s) * t + (0 if m else s / k) for t, m in zip(target, masked, strict=True)]
    w = [mp.mpf(1)] * n if class_weight is None else [mp.mpf(v) for v in class_weight]
    value = -mp.fsum(_times(w[c] * target[c], logp[c]) for c in range(n))
    if z_loss:
        top = max(z)
        if top in (INF, -INF):
            lse = top
        else:
            lse = top + mp.log(mp.fsum(_exp(v - top) for v in z))
        value += _times(z_loss * mp.fsum(w[c] * target[c] for c in range(n)), lse**2)
    return value


def _softmax_logs(z, target):
    """(log softmax(z), masked): the +inf limit and the -inf masked classes of cross_entropy."""
    n = len(z)
    masked = [z[c] == -INF and target[c] == 0 for c in range(n)]
    top = max(z)
    if top == INF:
        logp = [mp.log(mp.mpf(1) / sum(v == INF for v in z)) if v == INF else -INF for v in z]
    else:
        lse = top + mp.log(mp.fsum(_exp(v - top) for v in z))
        logp = [v - lse for v in z]
    return logp, masked


def _target(y, n, ignore_index=None):
    """The target as a list of probabilities; None for an ignored index."""
    if isinstance(y, int):
        if ignore_index is not None and y == ignore_index:
            return None
        return [mp.mpf(1) if c == y else mp.mpf(0) for c in range(n)]
    return [mp.mpf(v) for v in y]


def _smoothed(target, masked, s):
    s = mp.mpf(s)
    if not s:
        return target
    k = len(target) - sum(masked)
    return [(1 - s) * t + (0 if m else s / k) for t, m in zip(target, masked, strict=True)]


def nll_loss(x, y, *, class_weight, ignore_index):
    """-w_y x_y; an ignored index gives 0."""
    if ignore_index is not None and y == ignore_index:
        return mp.mpf(0)
    w = mp.mpf(1) if class_weight is None else mp.mpf(class_weight[y])
    return -w * x[y]


def _softmax_pieces(z, y, ignore_index, label_smoothing, weights):
    """(log softmax(z), softmax(z), the smoothed target, the per-class weights), or None for an
    ignored index."""
    n = len(z)
    target = _target(y, n, ignore_index)
    if target is None:
        return None
    logp, masked = _softmax_logs(z, target)
    target = _smoothed(target, masked, label_smoothing)
    w = [mp.mpf(1)] * n if weights is None else [mp.mpf(v) for v in weights]
    return logp, [_exp(v) for v in logp], target, w


def softmax_focal_loss(z, y, *, gamma, alpha, ignore_index, label_smoothing):
    """-sum_c alpha_c y'_c (1 - p_c)^gamma log p_c, 1 - p_c summed from the other classes."""
    pieces = _softmax_pieces(z, y, ignore_index, label_smoothing, alpha)
    if pieces is None:
        return mp.mpf(0)
    logp, p, target, a = pieces
    n = len(z)
    total = mp.mpf(0)
    for c in range(n):
        q = mp.fsum(p[k] for k in range(n) if k != c)
        total += _times(a[c] * target[c] * q ** mp.mpf(gamma), logp[c])
    return -total


def poly1_cross_entropy(z, y, *, epsilon, class_weight, ignore_index, label_smoothing):
    """cross entropy + epsilon sum_c w_c y'_c (1 - p_c)."""
    pieces = _softmax_pieces(z, y, ignore_index, label_smoothing, class_weight)
    if pieces is None:
        return mp.mpf(0)
    logp, p, target, w = pieces
    n = len(z)
    ce = -mp.fsum(_times(w[c] * target[c], logp[c]) for c in range(n))
    poly = mp.fsum(w[c] * target[c] * mp.fsum(p[k] for k in range(n) if k != c) for c in range(n))
    return ce + mp.mpf(epsilon) * poly


def multiclass_hinge(z, y, *, margin, p, variant, class_weight):
    n = len(z)
    w = mp.mpf(1) if class_weight is None else mp.mpf(class_weight[y])
    hinges = [max(mp.mpf(0), mp.mpf(margin) - z[y] + z[c]) ** p for c in range(n) if c != y]
    if variant == "crammer_singer":
        return w * max(hinges, default=mp.mpf(0))
    return w * mp.fsum(hinges) / n


def multilabel_soft_margin(z, y, *, class_weight):
    """mean over classes of -w_c [y_c log sigmoid(z_c) + (1 - y_c) log(1 - sigmoid(z_c))],
    each log as a softplus (-log sigmoid(z) = log(1 + e^-z))."""
    n = len(z)
    w = [mp.mpf(1)] * n if class_weight is None else [mp.mpf(v) for v in class_weight]
    total = mp.mpf(0)
    for c in range(n):
        pos, neg = mp.mpf(y[c]), 1 - mp.mpf(y[c])
        total += w[c] * (_times(pos, _softplus(-z[c])) + _times(neg, _softplus(z[c])))
    return total / n


def multiclass_sparsemax_loss(z, y):
    """The Fenchel-Young form <p - y, z> + (|y|^2 - |p|^2)/2 with p = sparsemax(z) (Martins
    and Astudillo 2016); for a class index sum_c p_c (z_c - z_y) + (1 - |p|^2)/2.
    A +inf score is the limit: sparsemax uniform over the +inf classes."""
    n = len(z)
    target = _target(y, n)
    if max(z) == INF:
        top = [c for c in range(n) if z[c] == INF]
        if any(target[c] > 0 for c in range(n) if c not in top):
            return INF
        p = [mp.mpf(1) / len(top) if c in top else mp.mpf(0) for c in range(n)]
        return mp.fsum((p[c] - target[c]) ** 2 for c in range(n)) / 2
    order = sorted((v for v in z), reverse=True)
    k, csum, csum_k = 1, mp.mpf(0), order[0]  # the largest is always in the support
    for j, v in enumerate(order, start=1):
        if v == -INF:
            break
        if 1 + j * v > csum + v:
            k, csum_k = j, csum + v
        csum += v
    with mp.workdps(mp.mp.dps + 700):  # 1 + 1e300 must not round to 1e300
        tau = (csum_k - 1) / k
    p = [max(v - tau, mp.mpf(0)) for v in z]
    if isinstance(y, int):  # sum_c p_c (z_c - z_y) + (1 - |p|^2) / 2, as optax writes it
        if z[y] == -INF:
            return INF
        shifted = mp.fsum(_times(p[c], z[c] - z[y]) for c in range(n) if c != y)
        return shifted + (1 - mp.fsum(v * v for v in p)) / 2
    dot = mp.fsum(_times(p[c] - target[c], z[c]) for c in range(n))
    return dot + (mp.fsum(t * t for t in target) - mp.fsum(v * v for v in p)) / 2


# ---- divergences: pred z and target y are lists over the distribution axis --------------------
def _log_probabilities(z, input):
    """log q from probabilities, log-probabilities or logits (a log-softmax; a row holding
    +inf logits is its limit, uniform over those)."""
    if input == "probs":
        return [mp.log(v) if v > 0 else -INF for v in z]
    if input == "log_probs":
        return list(z)
    top = max(z)
    if top == INF:
        k = sum(v == INF for v in z)
        return [-mp.log(k) if v == INF else -INF for v in z]
    lse = top + mp.log(mp.fsum(_exp(v - top) for v in z))
    return [v - lse for v in z]


def kl_divergence(z, y, *, input, log_target):
    """sum_c t_c (log t_c - log q_c), 0 log 0 = 0."""
    log_q = _log_probabilities(z, input)
    log_t = [mp.mpf(v) for v in y] if log_target else [mp.log(v) if v > 0 else -INF for v in y]
    return mp.fsum(mp.exp(a) * (a - b) for a, b in zip(log_t, log_q, strict=True) if a != -INF)


def js_divergence(z, y, *, input):
    """1/2 sum_c (t_c log(t_c / m_c) + q_c log(q_c / m_c)), m = (t + q) / 2."""
    q = list(z) if input == "probs" else [mp.exp(v) for v in _log_probabilities(z, input)]
    total = []
    for a, b in zip((mp.mpf(v) for v in y), q, strict=True):
        m = (a + b) / 2
        total.append((_xlogy(a, a / m) if a else 0) / 2 + (_xlogy(b, b / m) if b else 0) / 2)
    return mp.fsum(total)


def generalized_kl_divergence(z, y, *, input):
    """sum_c (t_c log(t_c / q_c) - t_c + q_c), 0 log 0 = 0; q_c = 0 < t_c gives inf."""
    q = [mp.exp(v) for v in z] if input == "log_probs" else list(z)
    total = []
    for a, b in zip((mp.mpf(v) for v in y), q, strict=True):
        if b == INF or (b == 0 and a > 0):
            return INF
        total.append(_xlogy(a, a / b) - a + b if a else b)
    return mp.fsum(total)


ELEMENTWISE: dict[str, Callable[..., Any]] = {
    f.__name__: f
    for f in (
        mae,
        mse,
        mean_bias_error,
        huber,
        smooth_l1,
        pseudo_huber,
        log_cosh,
        quantile,
        poisson_nll,
        gaussian_nll,
        binary_cross_entropy,
        binary_cross_entropy_with_logits,
        balanced_cross_entropy,
        focal_loss,
        hinge,
        squared_hinge,
        logistic_loss,
        exponential_loss,
        zero_one_loss,
        sparsemax_loss,
    )
}
AXIS: dict[str, Callable[..., Any]] = {
    f.__name__: f
    for f in (
        cross_entropy,
        nll_loss,
        softmax_focal_loss,
        poly1_cross_entropy,
        multiclass_hinge,
        multilabel_soft_margin,
        multiclass_sparsemax_loss,
        kl_divergence,
        js_divergence,
        generalized_kl_divergence,
    )
}


def rmse(pred: list[Any], target: list[Any]) -> Any:
    """sqrt(mean((pred - target)^2)) of a whole batch."""
    return mp.sqrt(mp.fsum((p - t) ** 2 for p, t in zip(pred, target, strict=True)) / len(pred))


def rmsle(pred: list[Any], target: list[Any], *, epsilon) -> Any:
    """sqrt(mean(msle)) of a whole batch."""
    return mp.sqrt(mp.fsum(msle(p, t, epsilon=epsilon) for p, t in zip(pred, target, strict=True))
                   / len(pred))  # fmt: skip


BATCH: dict[str, Callable[..., Any]] = {"rmse": rmse, "rmsle": rmsle}


# ---- robust ------------------------------------------------------------------------------------
def truncated_squared(x, y, *, threshold):
    return min((x - y) ** 2, mp.mpf(threshold) ** 2)


def cauchy(x, y, *, c):
    return mp.log(1 + ((x - y) / c) ** 2 / 2)


def geman_mcclure(x, y, *, c):
    z2 = ((x - y) / c) ** 2
    return 2 * z2 / (z2 + 4)


def welsch(x, y, *, c):
    return 1 - mp.exp(-(((x - y) / c) ** 2) / 2)


def tukey_biweight(x, y, *, c):
    c = mp.mpf(c)
    if abs(x - y) >= c:
        return c**2 / 6
    return c**2 / 6 * (1 - (1 - ((x - y) / c) ** 2) ** 3)


def charbonnier(x, y, *, eps):
    return mp.sqrt((x - y) ** 2 + mp.mpf(eps) ** 2) - eps


def fair(x, y, *, c):
    c = mp.mpf(c)
    a = abs(x - y) / c
    return c**2 * (a - mp.log(1 + a))


def general_robust(x, y, *, alpha, scale):
    """Barron (2019), eq. 8, with its limits at alpha = 2 and 0 and (alpha None) -inf."""
    z2 = ((x - y) / scale) ** 2
    if alpha is None:  # the limit alpha -> -inf
        return 1 - mp.exp(-z2 / 2)
    a = mp.mpf(alpha)
    if a == 2:
        return z2 / 2
    if a == 0:
        return mp.log(z2 / 2 + 1)
    b = abs(a - 2)
    return b / a * ((z2 / b + 1) ** (a / 2) - 1)


ELEMENTWISE.update(
    {
        f.__name__: f
        for f in (
            truncated_squared,
            cauchy,
            geman_mcclure,
            welsch,
            tukey_biweight,
            charbonnier,
            fair,
            general_robust,
        )
    }
)


# ---- relative ----------------------------------------------------------------------------------
def mape(x, y, *, epsilon):
    """100 |y - x| / max(|y|, epsilon) (Keras's MeanAbsolutePercentageError)."""
    return 100 * abs(y - x) / max(abs(y), mp.mpf(epsilon))


def smape(x, y, *, epsilon):
    """200 |x - y| / max(|x| + |y|, epsilon); its limit 200 at an infinite pred."""
    if mp.isinf(x):
        return mp.mpf(200)
    return 200 * abs(x - y) / max(abs(x) + abs(y), mp.mpf(epsilon))


def msle(x, y, *, epsilon):
    """(log(1 + max(x, epsilon)) - log(1 + max(y, epsilon)))^2 (Keras's
    MeanSquaredLogarithmicError)."""
    e = mp.mpf(epsilon)
    return (mp.log(1 + max(x, e)) - mp.log(1 + max(y, e))) ** 2


ELEMENTWISE.update({f.__name__: f for f in (mape, smape, msle)})


# ---- deviance ----------------------------------------------------------------------------------
def tweedie_deviance(x, y, *, power, log_input):
    """2 (max(y, 0)^(2-p) / ((1-p)(2-p)) - y mu^(1-p) / (1-p) + mu^(2-p) / (2-p)), with its
    limits at p = 0, 1 and 2 (scikit-learn's mean_tweedie_deviance per element)."""
    mu = mp.exp(x) if log_input else x
    y = mp.mpf(y)
    p = mp.mpf(power)
    if p == 0:
        return (y - mu) ** 2
    if mu == 0:
        return INF if y > 0 else mp.mpf(0)
    if mu == INF:
        return INF if p <= 2 else 2 * y ** (2 - p) / ((1 - p) * (2 - p))
    if p == 1:
        return 2 * (_xlogy(y, y / mu) - y + mu)
    if p == 2:
        return 2 * (mp.log(mu / y) + y / mu - 1)
    y_term = max(y, 0) ** (2 - p) / ((1 - p) * (2 - p)) if y > 0 else mp.mpf(0)
    return 2 * (y_term - y * mu ** (1 - p) / (1 - p) + mu ** (2 - p) / (2 - p))


def poisson_deviance(x, y, *, log_input):
    return tweedie_deviance(x, y, power=1, log_input=log_input)


def gamma_deviance(x, y, *, log_input):
    return tweedie_deviance(x, y, power=2, log_input=log_input)


ELEMENTWISE.update({f.__name__: f for f in (tweedie_deviance, poisson_deviance, gamma_deviance)})


# ---- sequence losses ----------------------------------------------------------------------------
def _collapse(path: tuple[int, ...], blank: int) -> tuple[int, ...]:
    """A CTC path collapsed: repeats merged, then blanks dropped."""
    out, previous = [], None
    for symbol in path:
        if symbol != previous and symbol != blank:
            out.append(symbol)
        previous = symbol
    return tuple(out)


def ctc_loss(log_probs, target, *, blank, zero_infinity):
    """-log of the sum over every path of T symbols that collapses to ``target`` of
    exp(sum_t log_probs[t][path_t]), by enumerating all C^T paths (no recursion); with the
    posterior occupancy gamma[t][c] and the second moments P(path_t = c, path_u = d) of the
    same enumeration, which give the exact derivatives of a log-partition function: grad =
    -gamma, Hessian = -(second moment - gamma gamma^T). The loss is clamped at 0, where it
    is flat (gamma and the moments 0). Returns (value, gamma, second)."""
    import itertools

    n_frames = len(log_probs)
    n_classes = len(log_probs[0]) if n_frames else 0
    target = tuple(int(v) for v in target)
    weights = []
    for path in itertools.product(range(n_classes), repeat=n_frames):
        if _collapse(path, blank) == target:
            logs = [log_probs[t][c] for t, c in enumerate(path)]
            if all(v != -INF for v in logs):
                weights.append((path, mp.exp(mp.fsum(logs))))
    total = mp.fsum(w for _, w in weights)
    size = n_frames * n_classes
    gamma = [[mp.mpf(0)] * n_classes for _ in range(n_frames)]
    second = [[mp.mpf(0)] * size for _ in range(size)]
    if total == 0:
        return (mp.mpf(0) if zero_infinity else INF), gamma, second
    for path, w in weights:
        share = w / total
        cells = [t * n_classes + c for t, c in enumerate(path)]
        for t, c in enumerate(path):
            gamma[t][c] += share
        for i in cells:
            for j in cells:
                second[i][j] += share
    value = -mp.log(total)
    if value < 0:  # inputs whose rounding leaves a frame summing above 1: clamped at 0, flat
        zero = [[mp.mpf(0)] * n_classes for _ in range(n_frames)]
        return mp.mpf(0), zero, [[mp.mpf(0)] * size for _ in range(size)]
    return value, gamma, second


SEQUENCE: dict[str, Callable[..., Any]] = {"ctc_loss": ctc_loss}


# ---- boxes --------------------------------------------------------------------------------------
def _box(b: list[Any], fmt: str) -> tuple[Any, ...]:
    """(x1, y1, x2, y2, w, h) of a box given in ``fmt``."""
    a, c, e, g = b
    if fmt == "xyxy":
        return a, c, e, g, e - a, g - c
    if fmt == "xywh":
        return a, c, a + e, c + g, e, g
    return a - e / 2, c - g / 2, a + e / 2, c + g / 2, e, g


def _ratio(num: Any, den: Any) -> Any:
    """num / den, 0 where den is 0 (a 0/0 the kernels take as 0)."""
    return mp.mpf(0) if den == 0 else num / den


def _overlap_terms(
    p: list[Any], t: list[Any], fmt: str, eps: Any, aspect: bool = False
) -> dict[str, Any]:
    """IoU, the GIoU penalty (|C| - U) / (|C| + eps), the DIoU penalty d^2 / (c^2 + eps) and
    CIoU's v, of a predicted box p against a target box t, from the definitions."""
    x1, y1, x2, y2, w, h = _box(p, fmt)
    X1, Y1, X2, Y2, W, H = _box(t, fmt)
    inter = max(min(x2, X2) - max(x1, X1), 0) * max(min(y2, Y2) - max(y1, Y1), 0)
    union = w * h + W * H - inter
    cw, ch = max(x2, X2) - min(x1, X1), max(y2, Y2) - min(y1, Y1)
    d2 = ((x1 + x2) / 2 - (X1 + X2) / 2) ** 2 + ((y1 + y2) / 2 - (Y1 + Y2) / 2) ** 2
    # CIoU's v (only where asked: atan2 at hundreds of digits is slow); atan2(0, 0) = 0
    v = 4 / mp.pi**2 * (mp.atan2(W, H) - mp.atan2(w, h)) ** 2 if aspect else None
    return {
        "iou": _ratio(inter, union + eps),
        "giou": _ratio(cw * ch - union, cw * ch + eps),
        "diou": _ratio(d2, cw**2 + ch**2 + eps),
        "v": v,
    }


def iou_loss(p, t, *, log, fmt, eps):
    iou = _overlap_terms(p, t, fmt, eps)["iou"]
    if log:  # UnitBox's -ln IoU, clamped at eps
        return -mp.log(iou) if iou > eps else -mp.log(eps)
    return 1 - iou


def giou_loss(p, t, *, fmt, eps):
    q = _overlap_terms(p, t, fmt, eps)
    return 1 - q["iou"] + q["giou"]


def diou_loss(p, t, *, fmt, eps):
    q = _overlap_terms(p, t, fmt, eps)
    return 1 - q["iou"] + q["diou"]


def ciou_alpha(p, t, *, fmt, eps):
    """CIoU's trade-off weight v / (1 - IoU + v + eps), a constant of the gradient."""
    q = _overlap_terms(p, t, fmt, eps, aspect=True)
    return _ratio(q["v"], 1 - q["iou"] + q["v"] + eps)


def ciou_loss(p, t, *, fmt, eps, alpha=None):
    """1 - IoU + d^2 / (c^2 + eps) + alpha v; alpha as given (held at the point where the
    derivatives are taken) or computed here."""
    q = _overlap_terms(p, t, fmt, eps, aspect=True)
    if alpha is None:
        alpha = _ratio(q["v"], 1 - q["iou"] + q["v"] + eps)
    return 1 - q["iou"] + q["diou"] + alpha * q["v"]


#: ``BOXES[name](pred, target, **params)``: the loss of one box pair (lists of 4 coordinates).
BOXES: dict[str, Callable[..., Any]] = {
    "iou_loss": iou_loss,
    "giou_loss": giou_loss,
    "diou_loss": diou_loss,
    "ciou_loss": ciou_loss,
}
#: Terms held constant in the gradient, by loss: a function of the pair giving their values.
HELD_CONSTANT: dict[str, Callable[..., dict[str, Any]]] = {
    "ciou_loss": lambda p, t, **kw: {"alpha": ciou_alpha(p, t, **kw)},
}


# ---- segmentation overlap losses --------------------------------------------------------------
# One sample (per_image) or one batch: pred and target as nested lists, pixels first and the
# class last ([pixel][class]; binary mode: [pixel], one class). The probabilities come from
# the plain sigmoid / softmax (an infinite logit gives its limit), the counts are the plain
# sums TP = sum p y, FP = sum p (1 - y), FN = sum (1 - p) y over the pixels not ignored.
def _seg_sigmoid(x: Any) -> Any:
    if x == INF:
        return mp.mpf(1)
    if x == -INF:
        return mp.mpf(0)
    return 1 / (1 + _exp(-x))


def _seg_softmax(z: list[Any]) -> list[Any]:
    top = max(z)
    if top == INF:
        hits = [v == INF for v in z]
        return [mp.mpf(h) / sum(hits) for h in hits]
    e = [mp.mpf(0) if v == -INF else _exp(v - top) for v in z]
    return [v / sum(e) for v in e]


def _seg_pixels(pred, target, *, mode, from_logits, ignore_index, n_classes):
    """(probabilities, targets) per kept pixel, each a list over the classes."""
    out = []
    for x, y in zip(pred, target, strict=True):
        if mode == "binary":
            x, y = [x], [y]
        if mode == "multiclass" and not isinstance(y, list):
            if ignore_index is not None and y == ignore_index:
                continue
            y = [mp.mpf(int(c == y)) for c in range(n_classes)]
        p = (_seg_softmax(x) if mode == "multiclass" else [_seg_sigmoid(v) for v in x]) \
            if from_logits else list(x)  # fmt: skip
        if mode != "multiclass" and ignore_index is not None:
            keep = [v != ignore_index for v in y]
            p = [a if k else mp.mpf(0) for a, k in zip(p, keep, strict=True)]
            y = [b if k else mp.mpf(0) for b, k in zip(y, keep, strict=True)]
        out.append((p, y))
    return out


def _seg_counts(pixels, n_classes):
    tp, fp, fn, p2, y2, d2, vol = ([mp.mpf(0)] * n_classes for _ in range(7))
    for p, y in pixels:
        for c in range(n_classes):
            tp[c] += p[c] * y[c]
            fp[c] += p[c] * (1 - y[c])
            fn[c] += (1 - p[c]) * y[c]
            p2[c] += p[c] ** 2
            y2[c] += y[c] ** 2
            d2[c] += (p[c] - y[c]) ** 2
            vol[c] += y[c]
    return {"tp": tp, "fp": fp, "fn": fn, "p2": p2, "y2": y2, "d2": d2, "vol": vol}


def _seg_ratio(a, b):
    return mp.mpf(0) if b == 0 else a / b


def _seg(per_class):
    """A reference of one sample from a per-class function of the counts."""

    def f(pred, target, *, mode, from_logits, ignore_index, class_weight, smooth, n_classes,
          **params):  # fmt: skip
        kw = {"mode": mode, "from_logits": from_logits, "ignore_index": ignore_index}
        c = _seg_counts(_seg_pixels(pred, target, n_classes=n_classes, **kw), n_classes)
        values = [per_class(c, k, smooth, **params) for k in range(n_classes)]
        if class_weight is not None:
            values = [mp.mpf(w) * v for w, v in zip(class_weight, values, strict=True)]
        return values[0] if mode == "binary" else values

    return f


def _seg_dice(c, k, s, *, squared):
    if squared:
        return _seg_ratio(c["d2"][k], c["p2"][k] + c["y2"][k] + s)
    return 1 - _seg_ratio(2 * c["tp"][k] + s, c["tp"][k] * 2 + c["fp"][k] + c["fn"][k] + s) \
        if (2 * c["tp"][k] + c["fp"][k] + c["fn"][k] + s) else mp.mpf(0)  # fmt: skip


def _seg_tversky(c, k, s, *, alpha, beta):
    den = c["tp"][k] + alpha * c["fp"][k] + beta * c["fn"][k] + s
    return 1 - (c["tp"][k] + s) / den if den else mp.mpf(0)


def _seg_focal_tversky(c, k, s, *, alpha, beta, gamma):
    return _seg_tversky(c, k, s, alpha=alpha, beta=beta) ** gamma


def _seg_jaccard(c, k, s):
    den = c["tp"][k] + c["fp"][k] + c["fn"][k] + s
    return 1 - (c["tp"][k] + s) / den if den else mp.mpf(0)


def generalized_dice_loss(pred, target, *, mode, from_logits, ignore_index, class_weight,
                          smooth, n_classes):  # fmt: skip
    kw = {"mode": mode, "from_logits": from_logits, "ignore_index": ignore_index}
    c = _seg_counts(_seg_pixels(pred, target, n_classes=n_classes, **kw), n_classes)
    w = [1 / v**2 if v != 0 else None for v in c["vol"]]
    top = max([v for v in w if v is not None], default=mp.mpf(0))
    w = [top if v is None else v for v in w]
    if class_weight is not None:
        w = [a * mp.mpf(b) for a, b in zip(w, class_weight, strict=True)]
    num = sum(a * (2 * t) for a, t in zip(w, c["tp"], strict=True)) + smooth
    den = sum(a * (2 * t + f + g) for a, t, f, g in zip(w, c["tp"], c["fp"], c["fn"],
                                                         strict=True)) + smooth  # fmt: skip
    return 1 - num / den if den else mp.mpf(0)


def dice_ce_loss(pred, target, *, mode, from_logits, ignore_index, class_weight, smooth,
                 n_classes, squared, lambda_dice, lambda_ce):  # fmt: skip
    kw = {"mode": mode, "from_logits": from_logits, "ignore_index": ignore_index}
    pixels = _seg_pixels(pred, target, n_classes=n_classes, **kw)
    c = _seg_counts(pixels, n_classes)
    dice = [_seg_dice(c, k, smooth, squared=squared) for k in range(n_classes)]
    w = [mp.mpf(1)] * n_classes if class_weight is None else [mp.mpf(v) for v in class_weight]
    dice_mean = _seg_ratio(sum(a * b for a, b in zip(w, dice, strict=True)), sum(w))
    total, norm = mp.mpf(0), mp.mpf(0)
    for p, y in pixels:
        if mode == "multiclass":  # -sum_c w_c y_c log p_c, the mean divided by sum w_y
            total += -sum(w[k] * y[k] * mp.log(p[k]) for k in range(n_classes) if y[k])
            norm += sum(w[k] * y[k] for k in range(n_classes))
        else:
            for k in range(n_classes):
                total += w[k] * -(_xlogy(y[k], p[k]) + _xlogy(1 - y[k], 1 - p[k]))
                norm += w[k]
    return lambda_dice * dice_mean + lambda_ce * _seg_ratio(total, norm)


# ---- the Lovász losses (Berman et al. 2018) ---------------------------------------------------
# One image (or batch), pixels first: the Lovász extension of the Jaccard loss of the pixel
# errors, sum_k e_pi(k) (Delta_J(S_k) - Delta_J(S_k-1)) over the order pi of decreasing errors,
# each Delta_J(M) = 1 - |F \ M| / |F ∪ M| computed from the sets themselves (any order of
# tied errors gives the same value); ignored pixels are dropped.
def _jaccard_set_loss(foreground: set[int], mistakes: set[int]) -> Any:
    union = len(foreground | mistakes)
    return mp.mpf(0) if union == 0 else 1 - mp.mpf(len(foreground - mistakes)) / union


def _lovasz_extension(errors: list[Any], foreground: list[bool]) -> Any:
    order = sorted(range(len(errors)), key=lambda i: -errors[i])
    fg = {i for i, f in enumerate(foreground) if f}
    total, before, seen = mp.mpf(0), mp.mpf(0), set()
    for i in order:
        seen.add(i)
        after = _jaccard_set_loss(fg, seen)
        total += _times(after - before, errors[i])
        before = after
    return total


def lovasz_hinge(logits, target, *, ignore_index, n_classes=1, **params):
    """The extension of the hinge errors max(0, 1 - x (2y - 1)) of the pixels kept."""
    kept = [(x, y) for x, y in zip(logits, target, strict=True) if y != ignore_index]
    errors = [max(mp.mpf(0), 1 - x * (2 * y - 1)) for x, y in kept]
    return _lovasz_extension(errors, [y == 1 for _, y in kept])


def lovasz_softmax(probas, target, *, classes, ignore_index, from_logits, n_classes, **params):
    """The mean over the classes (present in the target, or all) of the extension of the
    errors |[y = c] - p_c| of the pixels kept; 0 with no class to average."""
    kept = [(p, y) for p, y in zip(probas, target, strict=True) if y != ignore_index]
    kept = [(_seg_softmax(p) if from_logits else p, y) for p, y in kept]
    chosen = [c for c in range(n_classes) if classes == "all" or any(y == c for _, y in kept)]
    losses = [
        _lovasz_extension([abs((1 if y == c else 0) - p[c]) for p, y in kept],
                          [y == c for _, y in kept])
        for c in chosen
    ]  # fmt: skip
    return mp.fsum(losses) / len(losses) if losses else mp.mpf(0)


#: ``SEGMENTATION[name](pred, target, **params)``: the loss of one sample (or batch), a list
#: over the classes (binary mode and the losses without a class axis: one number).
SEGMENTATION: dict[str, Callable[..., Any]] = {
    "dice_loss": _seg(_seg_dice),
    "jaccard_loss": _seg(_seg_jaccard),
    "tversky_loss": _seg(_seg_tversky),
    "focal_tversky_loss": _seg(_seg_focal_tversky),
    "generalized_dice_loss": generalized_dice_loss,
    "dice_ce_loss": dice_ce_loss,
    "lovasz_hinge": lovasz_hinge,
    "lovasz_softmax": lovasz_softmax,
}


# ---- metric learning ----------------------------------------------------------------------------
def _lp_distance(x: list[Any], y: list[Any], p: Any = 2, eps: Any = 0) -> Any:
    """(sum_i |x_i - y_i + eps|^p)^(1/p)."""
    total = mp.fsum(abs(a - b + eps) ** p for a, b in zip(x, y, strict=True))
    return total ** (mp.mpf(1) / p) if total > 0 else mp.mpf(0)


def metric_contrastive_loss(x1, x2, y, *, margin):
    """Hadsell et al. with target 1 similar: y d^2 / 2 + (1 - y) max(0, m - d)^2 / 2."""
    d = _lp_distance(x1, x2)
    return y * d**2 / 2 + (1 - y) * max(mp.mpf(0), margin - d) ** 2 / 2


def metric_triplet_margin_loss(a, pos, neg, *, margin, p, swap, eps):
    """max(d(a, pos) - d(a, neg) + margin, 0) with d(x, y) = ||x - y + eps||_p; with swap the
    negative distance is min(d(a, neg), d(pos, neg))."""
    d_ap = _lp_distance(a, pos, p, eps)
    d_an = _lp_distance(a, neg, p, eps)
    if swap:
        d_an = min(d_an, _lp_distance(pos, neg, p, eps))
    return max(mp.mpf(0), d_ap - d_an + margin)


def _anchors(labels: list[int]) -> list[tuple[int, list[int], list[int]]]:
    """(anchor, its positives (same label, not itself), its negatives) for the anchors that
    have both."""
    out = []
    for i, y in enumerate(labels):
        pos = [j for j, z in enumerate(labels) if z == y and j != i]
        neg = [k for k, z in enumerate(labels) if z != y]
        if pos and neg:
            out.append((i, pos, neg))
    return out


def metric_batch_hard_triplet_loss(e, labels, *, margin, soft):
    """The mean over the anchors with a positive and a negative of max(farthest positive -
    nearest negative + margin, 0) (soft: log(1 + exp(farthest - nearest))); 0 without any."""
    losses = []
    for i, pos, neg in _anchors(labels):
        farthest = max(_lp_distance(e[i], e[j]) for j in pos)
        gap = farthest - min(_lp_distance(e[i], e[k]) for k in neg)
        losses.append(mp.log(1 + mp.exp(gap)) if soft else max(mp.mpf(0), gap + margin))
    return mp.fsum(losses) / len(losses) if losses else mp.mpf(0)


def metric_circle_loss(e, labels, *, gamma, margin):
    """Sun et al.'s Circle loss on cosine similarities (a zero vector: similarity 0), the mean
    over the anchors with a positive and a negative of log(1 + sum_pos exp(-gamma a_p (s_p -
    (1 - m))) sum_neg exp(gamma a_n (s_n - m))), a_p = max(0, 1 + m - s_p), a_n = max(0, s_n +
    m); 0 without any anchor."""

    def unit(v: list[Any]) -> list[Any]:
        n = mp.sqrt(mp.fsum(x * x for x in v))
        return [x / n for x in v] if n > 0 else [mp.mpf(0) for _ in v]

    u = [unit(v) for v in e]

    def s(i: int, j: int) -> Any:
        return mp.fsum(a * b for a, b in zip(u[i], u[j], strict=True))

    losses = []
    for i, pos, neg in _anchors(labels):
        sp = mp.fsum(
            mp.exp(-gamma * max(mp.mpf(0), 1 + margin - s(i, j)) * (s(i, j) - (1 - margin)))
            for j in pos
        )
        sn = mp.fsum(
            mp.exp(gamma * max(mp.mpf(0), s(i, k) + margin) * (s(i, k) - margin)) for k in neg
        )
        losses.append(mp.log(1 + sp * sn))
    return mp.fsum(losses) / len(losses) if losses else mp.mpf(0)


#: ``METRIC[name](*inputs, **params)``: the loss of one pair or triplet (lists of D numbers and
#: a target), or of one batch (a list of N embeddings and a list of N integer labels).
METRIC: dict[str, Callable[..., Any]] = {
    "contrastive_loss": metric_contrastive_loss,
    "triplet_margin_loss": metric_triplet_margin_loss,
    "batch_hard_triplet_loss": metric_batch_hard_triplet_loss,
    "circle_loss": metric_circle_loss,
}


# ---- ranking ------------------------------------------------------------------------------------
def _check_sign(y: Any) -> Any:
    if y not in (1, -1):
        raise ValueError(f"a ranking target is -1 or 1, got {y}")
    return y


def rank_margin_ranking_loss(x1, x2, y, *, margin):
    """max(0, -y (x1 - x2) + margin) (torch.nn.functional.margin_ranking_loss)."""
    return max(mp.mpf(0), -_check_sign(y) * (x1 - x2) + margin)


def rank_hinge_embedding_loss(d, y, *, margin):
    """d for y = 1, max(0, margin - d) for y = -1 (torch.nn.functional.hinge_embedding_loss)."""
    return d if _check_sign(y) == 1 else max(mp.mpf(0), margin - d)


def rank_cosine_embedding_loss(x1, x2, y, *, margin):
    """1 - cos for y = 1, max(0, cos - margin) for y = -1, with torch's
    cos = x1.x2 / sqrt((|x1|^2 + eps)(|x2|^2 + eps)), eps = aten's Loss.cpp EPSILON, 1e-12
    as a float32 (9.999999960041972e-13)."""
    eps = mp.mpf(9.999999960041972e-13)
    dot = mp.fsum(a * b for a, b in zip(x1, x2, strict=True))
    n1 = mp.fsum(a * a for a in x1) + eps
    n2 = mp.fsum(b * b for b in x2) + eps
    cos = dot / mp.sqrt(n1 * n2)
    return 1 - cos if _check_sign(y) == 1 else max(mp.mpf(0), cos - margin)


def rank_ranking_softmax_loss(s, y, *, where, item_weights):
    """-sum_i w_i y_i log(exp(s_i) / sum_j exp(s_j)) over the valid items (optax's
    ranking_softmax_loss); a +inf score takes the whole probability (ties share it), a
    label of 0 adds nothing."""
    valid = [True] * len(s) if where is None else [bool(v) for v in where]
    w = [1] * len(s) if item_weights is None else list(item_weights)
    items = [i for i in range(len(s)) if valid[i]]
    if not items:
        return mp.mpf(0)
    top = [i for i in items if s[i] == mp.inf]
    if top:
        logp = {i: (-mp.log(len(top)) if i in top else -mp.inf) for i in items}
    else:
        total = mp.fsum(_exp(s[i]) for i in items)
        logp = {i: s[i] - mp.log(total) for i in items}
    return -mp.fsum(w[i] * y[i] * logp[i] for i in items if w[i] * y[i] != 0)


#: ``RANKING[name](*inputs, **params)``: the loss of one element (margin ranking, hinge
#: embedding: numbers), one pair (cosine embedding: lists of D numbers and a target) or one
#: list (ranking softmax: lists of L scores and labels, where and item_weights lists or None).
RANKING: dict[str, Callable[..., Any]] = {
    "margin_ranking_loss": rank_margin_ranking_loss,
    "hinge_embedding_loss": rank_hinge_embedding_loss,
    "cosine_embedding_loss": rank_cosine_embedding_loss,
    "ranking_softmax_loss": rank_ranking_softmax_loss,
}


# ---- large-margin softmax losses and the center loss -----------------------------------------
# One sample: features x (a list of D numbers), class weights or centres (a list of C lists of
# D numbers), cosine logits (a list of C numbers), a class index y. Angles by arccos, cos(m
# theta) by the cosine itself, psi's branch k by floor(theta m / pi): the definitions of the
# papers, none of the library's Chebyshev or threshold forms.
def _lm_psi(theta, m):
    """psi(theta) = (-1)^k cos(m theta) - 2k, k = floor(theta m / pi) (Liu et al. 2016),
    theta in [0, pi] (at theta = pi, k = m: the same value as k = m - 1's piece)."""
    k = int(mp.floor(theta * m / mp.pi))
    return (-1) ** k * mp.cos(m * theta) - 2 * k


def _lm_ce(logits, y):
    top = max(logits)
    return top + mp.log(mp.fsum(mp.exp(z - top) for z in logits)) - logits[y]


def _lm_norm(v):
    return mp.sqrt(mp.fsum(a * a for a in v))


def lm_large_margin_softmax(x, w, y, *, margin):
    """L-Softmax: logits W_j . x, the target's ||W_y|| ||x|| psi(theta_y); at zero features
    or weights the target logit is W_y . x = 0."""
    logits = [mp.fsum(a * b for a, b in zip(x, row, strict=True)) for row in w]
    nx, nw = _lm_norm(x), _lm_norm(w[y])
    if nx > 0 and nw > 0:
        cos = max(min(logits[y] / (nx * nw), mp.mpf(1)), mp.mpf(-1))
        logits[y] = nw * nx * _lm_psi(mp.acos(cos), margin)
    return _lm_ce(logits, y)


LM_DEFAULT_MARGINS = {"arcface": 0.5, "cosface": 0.35, "sphereface": 4}


def lm_angular_margin_softmax(cosine, y, *, kind, scale, margin, easy_margin):
    """ArcFace cos(theta + m) (c - m sin m where theta + m >= pi; easy_margin: c where c <=
    0), CosFace c - m, SphereFace psi_m(theta), on the target's cosine c; every logit times s."""
    m = mp.mpf(LM_DEFAULT_MARGINS[kind] if margin is None else margin)
    c = cosine[y]
    theta = mp.acos(c)
    if kind == "arcface":
        if easy_margin:
            phi = mp.cos(theta + m) if c > 0 else c
        else:
            phi = mp.cos(theta + m) if theta + m < mp.pi else c - m * mp.sin(m)
    elif kind == "cosface":
        phi = c - m
    else:
        phi = _lm_psi(theta, int(m))
    logits = [scale * v for v in cosine]
    logits[y] = scale * phi
    return _lm_ce(logits, y)


def lm_center_loss(x, y, centers):
    """1/2 ||x - c_y||^2 (Wen et al. 2016)."""
    return mp.fsum((a - b) ** 2 for a, b in zip(x, centers[y], strict=True)) / 2


#: ``LARGE_MARGIN[name](*inputs of one sample, **params)``: the loss of one sample.
LARGE_MARGIN: dict[str, Callable[..., Any]] = {
    "large_margin_softmax": lm_large_margin_softmax,
    "angular_margin_softmax": lm_angular_margin_softmax,
    "center_loss": lm_center_loss,
}


# ---- contrastive losses (one problem: N embeddings of D, as nested lists) --------------------
# The plain definitions: L2 normalisation x / sqrt(sum x^2) (the zero vector stays 0), the
# similarity matrix, and log-sum-exp as log(sum(exp)), no shift.
def _ct_unit(rows: list[list[Any]]) -> list[list[Any]]:
    out = []
    for r in rows:
        norm = mp.sqrt(mp.fsum(v * v for v in r))
        out.append([v / norm for v in r] if norm != 0 else [mp.mpf(0)] * len(r))
    return out


def _ct_dot(a: list[Any], b: list[Any]) -> Any:
    return mp.fsum(u * v for u, v in zip(a, b, strict=True))


def _ct_lse(values: list[Any]) -> Any:
    """log sum exp, the maximum taken out (an identity: 60 digits do not hold e^1e201)."""
    m = max(values)
    return m + mp.log(mp.fsum(_exp(v - m) for v in values))


def info_nce(query, key, *, temperature, normalize):
    """(1/N) sum_n [log sum_m exp(q_n . k_m / T) - q_n . k_n / T]."""
    if normalize:
        query, key = _ct_unit(query), _ct_unit(key)
    t = mp.mpf(temperature)
    z = [[_ct_dot(q, k) / t for k in key] for q in query]
    n = len(z)
    return mp.fsum(_ct_lse(z[i]) - z[i][i] for i in range(n)) / max(n, 1)


def nt_xent(z1, z2, *, temperature):
    """(1/2N) sum_i [log sum_{a != i} exp(s_ia) - s_{i, j(i)}] over z = [z1; z2] normalised."""
    z = _ct_unit(list(z1) + list(z2))
    n, t = len(z1), mp.mpf(temperature)
    total = mp.mpf(0)
    for i in range(2 * n):
        s = [_ct_dot(z[i], z[a]) / t for a in range(2 * n)]
        partner = (i + n) % (2 * n)
        total += _ct_lse([s[a] for a in range(2 * n) if a != i]) - s[partner]
    return total / max(2 * n, 1)


def supervised_contrastive(embeddings, labels, *, temperature):
    """The mean over anchors with a positive of -(1/|P|) sum_p [s_ip - log sum_{a!=i} e^s_ia];
    0 with no such anchor."""
    z = _ct_unit(embeddings)
    n, t = len(z), mp.mpf(temperature)
    values = []
    for i in range(n):
        positives = [p for p in range(n) if p != i and labels[p] == labels[i]]
        if not positives:
            continue
        s = [_ct_dot(z[i], z[a]) / t for a in range(n)]
        lse = _ct_lse([s[a] for a in range(n) if a != i])
        values.append(-mp.fsum(s[p] - lse for p in positives) / len(positives))
    return mp.fsum(values) / len(values) if values else mp.mpf(0)


def clip_loss(image_emb, text_emb, *, logit_scale, normalize):
    """(1/2N) sum_n [(lse_m z_nm - z_nn) + (lse_m z_mn - z_nn)], z = s x . y."""
    if normalize:
        image_emb, text_emb = _ct_unit(image_emb), _ct_unit(text_emb)
    s = mp.mpf(logit_scale)
    z = [[s * _ct_dot(x, y) for y in text_emb] for x in image_emb]
    n = len(z)
    rows = [_ct_lse(z[i]) - z[i][i] for i in range(n)]
    cols = [_ct_lse([z[m][i] for m in range(n)]) - z[i][i] for i in range(n)]
    return (mp.fsum(rows) + mp.fsum(cols)) / (2 * max(n, 1))


def siglip_loss(image_emb, text_emb, *, logit_scale, logit_bias, normalize):
    """-(1/N) sum_{n,m} log sigmoid(y_nm (s x_n . y_m + b)), y = +1 on the diagonal, else -1;
    log sigmoid(v) = -log(1 + e^-v)."""
    if normalize:
        image_emb, text_emb = _ct_unit(image_emb), _ct_unit(text_emb)
    s, b = mp.mpf(logit_scale), mp.mpf(logit_bias)
    n = len(image_emb)
    total = mp.mpf(0)
    for i in range(n):
        for j in range(n):
            v = (1 if i == j else -1) * (s * _ct_dot(image_emb[i], text_emb[j]) + b)
            total += mp.log(1 + _exp(-v))
    return total / max(n, 1)


#: ``CONTRASTIVE[name](*inputs, **params)``: the loss of one problem (nested lists).
CONTRASTIVE: dict[str, Callable[..., Any]] = {
    f.__name__: f for f in (info_nce, nt_xent, supervised_contrastive, clip_loss, siglip_loss)
}
