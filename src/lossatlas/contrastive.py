"""Contrastive and self-supervised losses over a batch of embedding pairs: InfoNCE, NT-Xent
(SimCLR), supervised contrastive (SupCon), CLIP's symmetric InfoNCE and SigLIP's pairwise
sigmoid loss.

Every loss here scores a *problem*: N embeddings (or N pairs) of dimension D, whose members
are each other's negatives. Inputs are ``(*b, N, D)`` (``*b``: independent problems, usually
none) and the unreduced output is one value per problem, ``(*b)``: the mean over its anchors,
which is the scalar that open_clip, optax and pytorch-metric-learning return. ``weight``
weights whole problems (the anchors of one problem are not independent samples).

Embeddings are L2-normalised inside (cosine similarities), as MoCo, SimCLR, SupCon, CLIP and
SigLIP define their losses, unless ``normalize=False`` (info_nce, clip_loss, siglip_loss);
nt_xent and supervised_contrastive are defined on cosine similarities only. The
normalisation is ``x / ||x||`` computed as ``(x / max|x|) / ||x / max|x|||`` (no overflow of
the squares at |x| = 1e200); a zero vector stays the zero vector (similarity 0 with every
other, a finite gradient: the double-where trick), where ``torch.nn.functional.normalize``
divides by ``max(||x||, 1e-12)``.

``logit_scale`` (clip_loss, siglip_loss) is the multiplier itself, already exponentiated, as
open_clip's losses take it; it may be a number or an array (a learnable 0-d tensor gets its
gradient), broadcastable to ``*b``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._loss import Call, Loss
from ._reduce import Unreduced
from ._registry import register
from ._spec import BoostingHessian, Curve, Input, LossSpec, Param, Probe, Properties, Variant
from ._xp import abs_, const, device, log_sigmoid, safe_sqrt

__all__ = ["clip_loss", "info_nce", "nt_xent", "siglip_loss", "supervised_contrastive"]

REQUIRED = inspect.Parameter.empty
FAMILY = "contrastive"

OORD_2018 = (
    "van den Oord, A., Li, Y., Vinyals, O. (2018). Representation Learning with Contrastive "
    "Predictive Coding. arXiv:1807.03748."
)
HE_2020 = (
    "He, K., Fan, H., Wu, Y., Xie, S., Girshick, R. (2020). Momentum Contrast for Unsupervised "
    "Visual Representation Learning. CVPR, 9729-9738."
)
CHEN_2020 = (
    "Chen, T., Kornblith, S., Norouzi, M., Hinton, G. (2020). A Simple Framework for "
    "Contrastive Learning of Visual Representations. ICML, 1597-1607."
)
KHOSLA_2020 = (
    "Khosla, P., Teterwak, P., Wang, C., Sarna, A., Tian, Y., Isola, P., Maschinot, A., Liu, "
    "C., Krishnan, D. (2020). Supervised Contrastive Learning. NeurIPS 33, 18661-18673."
)
RADFORD_2021 = (
    "Radford, A. et al. (2021). Learning Transferable Visual Models From Natural Language "
    "Supervision. ICML, 8748-8763."
)
ZHAI_2023 = (
    "Zhai, X., Mustafa, B., Kolesnikov, A., Beyer, L. (2023). Sigmoid Loss for Language Image "
    "Pre-Training. ICCV, 11975-11986."
)


# ---- shared pieces ----------------------------------------------------------------------------
def unit(xp: Any, x: Any) -> Any:
    """x / ||x|| along the last axis; the zero vector stays 0 with a finite gradient.

    Scaled by max|x| first, so that the squares neither overflow (|x| = 1e200 in float64,
    1e20 in float32) nor underflow; both divisions are guarded by a double where."""
    one = const(xp, 1.0, x)
    top = xp.max(abs_(xp, x), axis=-1, keepdims=True)
    y = x / xp.where(top > 0, top, one)
    norm = safe_sqrt(xp, xp.sum(y * y, axis=-1, keepdims=True))
    return y / xp.where(norm > 0, norm, one)


def _lse_parts(xp: Any, z: Any, axis: int) -> tuple[Any, Any]:
    """(m, log sum exp(z - m)) along ``axis``, m the maximum (z is finite): log-sum-exp is
    their sum. Kept apart, so that a loss ``lse - z_pos`` is formed as ``(m - z_pos) + log
    sum``: exact where the positive is the maximum, where ``lse - z_pos`` would lose the
    small term beside a logit of 1e31 (raw float32 embeddings of 1e30)."""
    m = xp.max(z, axis=axis, keepdims=True)
    return xp.squeeze(m, axis=axis), xp.log(xp.sum(xp.exp(z - m), axis=axis))


def _diagonal(xp: Any, z: Any) -> Any:
    """The diagonal z[..., n, n] of a (*b, N, N) matrix, as (*b, N)."""
    n = z.shape[-1]
    index = xp.arange(n, device=device(z))
    index = xp.broadcast_to(xp.reshape(index, (1,) * (z.ndim - 2) + (n, 1)), (*z.shape[:-1], 1))
    return xp.squeeze(xp.take_along_axis(z, index, axis=-1), axis=-1)


def _eye(xp: Any, z: Any) -> Any:
    """A boolean (N, N) identity for a (*b, N, N) matrix."""
    index = xp.arange(z.shape[-1], device=device(z))
    return index[:, None] == index[None, :]


def _scale(xp: Any, value: Any, batch: tuple[int, ...]) -> Any:
    """An array hyperparameter broadcast to the problems' shape *b, with two trailing axes
    to multiply a (*b, N, N) matrix."""
    return xp.reshape(xp.broadcast_to(value, batch), (*batch, 1, 1))


def _mean_over_anchors(xp: Any, per_anchor: Any) -> Any:
    """The mean over the last axis, 0 for a problem of no anchors (N = 0)."""
    n = per_anchor.shape[-1]
    total = xp.sum(per_anchor, axis=-1)
    return total / const(xp, float(max(n, 1)), total)


def _masked_lse(xp: Any, z: Any, keep: Any) -> Any:
    """(m, log sum over the kept entries of exp(z - m)) along the last axis, as
    ``_lse_parts``; the second -inf for a row that keeps nothing (no second sample)."""
    neg = const(xp, -math.inf, z)
    masked = xp.where(keep, z, neg)
    m = xp.max(masked, axis=-1, keepdims=True)
    m = xp.where(m > neg, m, const(xp, 0.0, z))  # a row with nothing kept
    total = xp.sum(xp.where(keep, xp.exp(z - m), const(xp, 0.0, z)), axis=-1)
    empty = total == 0
    safe = xp.where(empty, const(xp, 1.0, total), total)
    return xp.squeeze(m, axis=-1), xp.where(empty, neg, xp.log(safe))


class _Contrastive(Loss):
    """A loss over a problem of N embeddings: inputs (*b, N, D), one value per problem (*b).
    Problems are independent: a zero weight masks a whole problem's inputs."""

    def _check_inputs(self, xp: Any, inputs: dict[str, Any], params: dict[str, Any],
                      bindings: dict[str, Any]) -> None:  # fmt: skip
        """The shape patterns already bind N and D across the inputs; nothing else."""
        return None


def _embedding(name: str, doc: str) -> Input:
    return Input(name, "*b N D", "real", doc=doc)


TEMPERATURE_DOC = "the temperature T > 0 that divides the similarities"
NORMALIZE_DOC = "L2-normalise the embeddings first (cosine similarities)"


def _temperature(default: float) -> Param:
    return Param("temperature", default, TEMPERATURE_DOC, low=0.0, low_inclusive=False)


NORMALIZE = Param("normalize", True, NORMALIZE_DOC, kind="bool")
LOGIT_SCALE = Param(
    "logit_scale",
    REQUIRED,
    "the multiplier of the similarities, already exponentiated (open_clip's logit_scale.exp());"
    " a number or an array broadcastable to *b, learnable",
    kind="array",
    shape="~*b",
    domain="positive",
    learnable=True,
)
LOGIT_BIAS = Param(
    "logit_bias",
    REQUIRED,
    "the bias added to every pair logit (SigLIP's b, learnable; -10 at SigLIP's start)",
    kind="array",
    shape="~*b",
    learnable=True,
)

#: cosine similarities: bounded, not convex, a bounded gradient along the probe's angle
COSINE_PROPERTIES = Properties(convex=False, robust=True, smoothness="Cinf", bounded=True)
#: on raw embeddings: convex in one tower's embeddings with the other fixed (a log-sum-exp or
#: a softplus of linear forms; not jointly), unbounded, the gradient bounded by |other| T^-1
RAW = Variant(
    {"normalize": False},
    properties={"convex": True, "bounded": False},
    note="normalize=False: convex in the first input with the second fixed (not jointly), "
    "unbounded",
)
NO_BOOSTING = BoostingHessian(
    "none", reason="a loss over a batch of embeddings: no raw score per sample to boost"
)


# ---- probes -----------------------------------------------------------------------------------
PROBE_PAIRS = 4  # N of the probe; D = 2N, one private direction per pair
ANGLES = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, math.pi)


def _rotated(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) of shape (len(t), N, 2N): a_n = e_n, b_n = cos t e_n + sin t e_{N+n}: the
    positive pairs at angle t, every other pair orthogonal."""
    t = np.asarray(t, dtype=np.float64)
    n = PROBE_PAIRS
    a = np.zeros((len(t), n, 2 * n))
    b = np.zeros((len(t), n, 2 * n))
    for k in range(n):
        a[:, k, k] = 1.0
        b[:, k, k] = np.cos(t)
        b[:, k, n + k] = np.sin(t)
    return a, b


def _scaled(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a, b): a_n = t e_n, b_n = e_n: the positive pair's raw similarity t, the others 0."""
    t = np.asarray(t, dtype=np.float64)
    eye = np.eye(PROBE_PAIRS)
    return t[:, None, None] * eye, np.broadcast_to(eye, (len(t), *eye.shape)).copy()


def _pair_probe(first: str, second: str, params: Mapping[str, Any]) -> Probe:
    """The probe of a two-tower loss: the angle between each positive pair (the negatives
    orthogonal) on normalised embeddings; the raw similarity t of each positive pair (the
    first input t e_n against e_n) with ``normalize=False``."""
    extra = {}
    for name in ("logit_scale", "logit_bias"):
        if name in params:
            extra[name] = params[name]
    if params.get("normalize", True):

        def make(t: np.ndarray) -> dict[str, np.ndarray]:
            b, a = _rotated(t)  # the first input moves
            return {first: a, second: b}

        curve = Curve(f"N = {PROBE_PAIRS} pairs, negatives orthogonal", f"N={PROBE_PAIRS}", make)
        return Probe(
            "positive-pair angle", "angle between each positive pair (radians)", "θ",
            f"{PROBE_PAIRS} pairs whose positives meet at angle θ, every negative orthogonal",
            "real", (0.0, math.pi), ANGLES, (curve,), first,
        )  # fmt: skip

    def make_raw(t: np.ndarray) -> dict[str, np.ndarray]:
        a, b = _scaled(t)
        return {first: a, second: b}

    curve = Curve(f"N = {PROBE_PAIRS} pairs, negatives orthogonal", f"N={PROBE_PAIRS}", make_raw)
    return Probe(
        "positive-pair similarity", "raw similarity of each positive pair", "s",
        f"{PROBE_PAIRS} pairs: first input s e_n against e_n (negatives orthogonal)", "real",
        (-4.0, 4.0), (-4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0), (curve,), first,
    )  # fmt: skip


def _view_probe(labelled: bool) -> Probe:
    """The probe of a one-batch loss (nt_xent, supervised_contrastive): two views of N = 4
    samples, each sample's views at angle t, every other pair orthogonal."""

    def make(t: np.ndarray) -> dict[str, np.ndarray]:
        a, b = _rotated(t)
        if not labelled:
            return {"z1": a, "z2": b}
        labels = np.tile(np.arange(PROBE_PAIRS), 2)
        return {
            "embeddings": np.concatenate([a, b], axis=1),
            "labels": np.broadcast_to(labels, (len(a), 2 * PROBE_PAIRS)).astype(np.int64),
        }

    curve = Curve(f"N = {PROBE_PAIRS} samples, 2 views each", f"N={PROBE_PAIRS}", make)
    return Probe(
        "positive-pair angle", "angle between the two views of each sample (radians)", "θ",
        f"{PROBE_PAIRS} samples whose two views meet at angle θ, every other pair orthogonal",
        "real", (0.0, math.pi), ANGLES, (curve,), "embeddings" if labelled else "z1",
    )  # fmt: skip


# ---- InfoNCE ----------------------------------------------------------------------------------
class InfoNCE(_Contrastive):
    """``info_nce(query, key, *, temperature=0.07, normalize=True)``: InfoNCE with the other
    keys of the batch as negatives (Oord et al. 2018; MoCo's form with in-batch negatives).

    ``query`` and ``key`` are (*b, N, D); key n is query n's positive. With q and k
    L2-normalised (unless ``normalize=False``), logits z_nm = q_n . k_m / T and

        loss = (1/N) sum_n [ -z_nn + log sum_m exp z_nm ],

    the cross entropy of each row of logits against the diagonal, averaged over the N
    queries: one value per problem (*b).
    """

    spec = LossSpec(
        name="info_nce",
        family=FAMILY,
        summary="cross entropy of each query's similarities to the batch's keys against its "
        "own key (in-batch negatives)",
        properties=COSINE_PROPERTIES,
        formula=r"\frac{1}{N}\sum_n -\log \frac{e^{q_n \cdot k_n / T}}"
        r"{\sum_m e^{q_n \cdot k_m / T}}",
        references=(OORD_2018, HE_2020),
        inputs=(
            _embedding("query", "the queries (*b, N, D)"),
            _embedding("key", "the keys (*b, N, D): key n is the positive of query n"),
        ),
        output="*b",
        elementwise=False,
        params=(_temperature(0.07), NORMALIZE),
        aliases=("infonce", "info_nce_loss"),
        framework_names={"pytorch_metric_learning": "NTXentLoss on (query, key) pairs"},
        variants=(RAW,),
        when_to_use="Self-supervised or retrieval training with paired views (query and key "
        "encoders, MoCo without the queue): every other key in the batch is a negative.",
        boosting=NO_BOOSTING,
        probe=lambda p: _pair_probe("query", "key", p),
        showcase=({"temperature": 0.07}, {"temperature": 0.2}, {"temperature": 1.0}),
    )

    def definition(self, call: Call) -> Unreduced:
        xp = call.xp
        q, k = call.inputs["query"], call.inputs["key"]
        if call.params["normalize"]:
            q, k = unit(xp, q), unit(xp, k)
        z = xp.matmul(q, xp.matrix_transpose(k)) / const(xp, call.params["temperature"], q)
        m, rest = _lse_parts(xp, z, -1)
        per_query = (m - _diagonal(xp, z)) + rest
        return Unreduced(_mean_over_anchors(xp, per_query))


# ---- NT-Xent ----------------------------------------------------------------------------------
class NTXent(_Contrastive):
    """``nt_xent(z1, z2, *, temperature=0.5)``: SimCLR's normalized temperature-scaled cross
    entropy (Chen et al. 2020).

    ``z1`` and ``z2`` (*b, N, D) are two views of N samples. With z = [z1; z2] (2N rows)
    L2-normalised, s_ij = z_i . z_j / T, and j(i) the other view of sample i,

        loss = (1/2N) sum_i [ -s_{i j(i)} + log sum_{a != i} exp s_ia ],

    one value per problem (*b). It is ``optax.losses.ntxent`` on the concatenated views with
    labels [0..N-1, 0..N-1] and pytorch-metric-learning's ``NTXentLoss`` likewise.
    """

    spec = LossSpec(
        name="nt_xent",
        family=FAMILY,
        summary="SimCLR's loss: each view against its other view, the other 2N - 2 views of "
        "the batch as negatives, on cosine similarities",
        properties=COSINE_PROPERTIES,
        formula=r"\frac{1}{2N}\sum_{i=1}^{2N} -\log \frac{e^{s_{i,j(i)}/T}}"
        r"{\sum_{a \ne i} e^{s_{ia}/T}}",
        references=(CHEN_2020,),
        inputs=(
            _embedding("z1", "the first views (*b, N, D)"),
            _embedding("z2", "the second views (*b, N, D), row n the same sample as z1's"),
        ),
        output="*b",
        elementwise=False,
        params=(_temperature(0.5),),
        aliases=("ntxent", "simclr_loss", "nt_xent_loss"),
        framework_names={
            "optax": "optax.losses.ntxent (concatenated views, labels [0..N-1, 0..N-1])",
            "pytorch_metric_learning": "pytorch_metric_learning.losses.NTXentLoss",
        },
        when_to_use="SimCLR-style self-supervision with two augmented views per sample.",
        boosting=NO_BOOSTING,
        probe=lambda p: _view_probe(labelled=False),
        showcase=({"temperature": 0.1}, {"temperature": 0.5}, {"temperature": 1.0}),
    )

    def definition(self, call: Call) -> Unreduced:
        xp = call.xp
        z1, z2 = call.inputs["z1"], call.inputs["z2"]
        n = z1.shape[-2]
        z = unit(xp, xp.concat([z1, z2], axis=-2))
        s = xp.matmul(z, xp.matrix_transpose(z)) / const(xp, call.params["temperature"], z)
        index = xp.arange(2 * n, device=device(z))
        keep = index[:, None] != index[None, :]
        partner = xp.concat([index[n:], index[:n]])
        positive = xp.squeeze(
            xp.take_along_axis(
                s, xp.broadcast_to(xp.reshape(partner, (1,) * (s.ndim - 2) + (2 * n, 1)),
                                   (*s.shape[:-1], 1)), axis=-1,
            ), axis=-1,
        )  # fmt: skip
        m, rest = _masked_lse(xp, s, keep)
        per_view = (m - positive) + rest
        return Unreduced(_mean_over_anchors(xp, per_view))


# ---- supervised contrastive -------------------------------------------------------------------
class SupervisedContrastive(_Contrastive):
    """``supervised_contrastive(embeddings, labels, *, temperature=0.1)``: the supervised
    contrastive loss of Khosla et al. 2020, its L_out form (the mean over positives outside
    the log).

    ``embeddings`` (*b, N, D) are L2-normalised; s_ia = z_i . z_a / T; P(i) are the other
    samples with i's label, A(i) every sample but i:

        l_i = -(1/|P(i)|) sum_{p in P(i)} [ s_ip - log sum_{a in A(i)} exp s_ia ],

    and the loss of a problem is the mean of l_i over the anchors that have a positive.
    Anchors without a positive are excluded (the paper's sum over i runs over them with
    1/|P(i)| undefined); a problem with none has loss 0 and weight 0 in the mean over
    problems. Labels are any integers (only their equality matters).
    """

    spec = LossSpec(
        name="supervised_contrastive",
        family=FAMILY,
        summary="SupCon: each anchor's mean log-probability of its same-label samples among "
        "all others, on cosine similarities",
        properties=COSINE_PROPERTIES,
        formula=r"\frac{1}{|I_+|}\sum_{i \in I_+} \frac{-1}{|P(i)|}\sum_{p \in P(i)} \log "
        r"\frac{e^{z_i \cdot z_p / T}}{\sum_{a \ne i} e^{z_i \cdot z_a / T}}",
        references=(KHOSLA_2020,),
        inputs=(
            _embedding("embeddings", "the embeddings (*b, N, D)"),
            Input(
                "labels",
                "*b N",
                "label",
                dtype="index",
                differentiable=False,
                doc="an integer label per embedding: equal labels are positives",
            ),
        ),
        output="*b",
        elementwise=False,
        params=(_temperature(0.1),),
        aliases=("supcon", "supcon_loss", "supervised_contrastive_loss"),
        framework_names={"pytorch_metric_learning": "pytorch_metric_learning.losses.SupConLoss"},
        when_to_use="Supervised representation learning: every same-class sample in the batch "
        "is a positive; beats cross entropy's features on some transfer tasks.",
        boosting=NO_BOOSTING,
        probe=lambda p: _view_probe(labelled=True),
        showcase=({"temperature": 0.07}, {"temperature": 0.1}, {"temperature": 0.5}),
        sampler=lambda rng, shape, p: _sample_labelled(rng, shape),
    )

    def definition(self, call: Call) -> Unreduced:
        xp = call.xp
        z = unit(xp, call.inputs["embeddings"])
        labels = call.inputs["labels"]
        n = z.shape[-2]
        s = xp.matmul(z, xp.matrix_transpose(z)) / const(xp, call.params["temperature"], z)
        index = xp.arange(n, device=device(z))
        others = index[:, None] != index[None, :]
        positive = (labels[..., :, None] == labels[..., None, :]) & others
        count = xp.sum(xp.astype(positive, s.dtype), axis=-1)
        m, rest = _masked_lse(xp, s, others)
        has = count > 0
        # (the -inf of a lone anchor's empty denominator never meets a positive)
        rest = xp.where(has, rest, const(xp, 0.0, s))
        # the mean of (m - s_ip) over the positives, then the log of the sum
        gap = xp.sum(xp.where(positive, m[..., None] - s, const(xp, 0.0, s)), axis=-1)
        per_anchor = gap / xp.where(has, count, const(xp, 1.0, count)) + rest
        per_anchor = xp.where(has, per_anchor, const(xp, 0.0, s))
        anchors = xp.sum(xp.astype(has, s.dtype), axis=-1)
        some = anchors > 0
        value = xp.sum(per_anchor, axis=-1) / xp.where(some, anchors, const(xp, 1.0, anchors))
        return Unreduced(value, weight=xp.astype(some, s.dtype))


SAMPLE_GROUPS = 2  # labels of the generic tests' problems: in {0, 1}, so most anchors pair


def _sample_labelled(rng: np.random.Generator, shape: tuple[int, ...]) -> dict:
    """Random embeddings (*b, 4, 3) and labels in {0, 1} (every anchor likely has a
    positive; some problems none)."""
    return {
        "embeddings": rng.normal(size=(*shape, 4, 3)) * 2.0,
        "labels": rng.integers(0, SAMPLE_GROUPS, size=(*shape, 4)).astype(np.int64),
    }


# ---- CLIP ------------------------------------------------------------------------------------
class ClipLoss(_Contrastive):
    """``clip_loss(image_emb, text_emb, *, logit_scale, normalize=True)``: CLIP's symmetric
    InfoNCE (Radford et al. 2021), open_clip's ``ClipLoss`` on one process.

    With the embeddings L2-normalised (unless ``normalize=False``) and s = ``logit_scale``
    (the multiplier, already exponentiated: open_clip's ``logit_scale.exp()``), logits
    z = s * img @ txt^T (N, N) and

        loss = (CE(z, diag) + CE(z^T, diag)) / 2
             = (1/N) sum_n [ (lse_m z_nm + lse_m z_mn) / 2 - z_nn ],

    one value per problem (*b).
    """

    spec = LossSpec(
        name="clip_loss",
        family=FAMILY,
        summary="CLIP's symmetric InfoNCE: image-to-text and text-to-image cross entropy of "
        "the scaled cosine similarities against the matching pairs",
        properties=COSINE_PROPERTIES,
        formula=r"\frac{1}{2N}\sum_n \left[-\log \frac{e^{s\, x_n \cdot y_n}}"
        r"{\sum_m e^{s\, x_n \cdot y_m}} - \log \frac{e^{s\, x_n \cdot y_n}}"
        r"{\sum_m e^{s\, x_m \cdot y_n}}\right]",
        references=(RADFORD_2021,),
        inputs=(
            _embedding("image_emb", "the image embeddings (*b, N, D)"),
            _embedding("text_emb", "the text embeddings (*b, N, D): row n matches image n"),
        ),
        output="*b",
        elementwise=False,
        params=(LOGIT_SCALE, NORMALIZE),
        aliases=("clip", "clip_contrastive_loss"),
        framework_names={"open_clip": "open_clip.loss.ClipLoss (world_size=1)"},
        variants=(RAW,),
        when_to_use="Image-text (or any two-tower) contrastive pretraining with in-batch "
        "negatives; logit_scale is learned in log space and passed exponentiated.",
        boosting=NO_BOOSTING,
        probe=lambda p: _pair_probe("image_emb", "text_emb", p),
        showcase=({"logit_scale": 1.0}, {"logit_scale": 14.3}, {"logit_scale": 100.0}),
    )

    def definition(self, call: Call) -> Unreduced:
        xp = call.xp
        x, y = call.inputs["image_emb"], call.inputs["text_emb"]
        if call.params["normalize"]:
            x, y = unit(xp, x), unit(xp, y)
        batch = tuple(x.shape[:-2])
        z = _scale(xp, call.params["logit_scale"], batch) * xp.matmul(x, xp.matrix_transpose(y))
        half = const(xp, 0.5, z)
        diag = _diagonal(xp, z)
        (m_row, rest_row), (m_col, rest_col) = _lse_parts(xp, z, -1), _lse_parts(xp, z, -2)
        per_pair = half * (((m_row - diag) + rest_row) + ((m_col - diag) + rest_col))
        return Unreduced(_mean_over_anchors(xp, per_pair))


# ---- SigLIP ----------------------------------------------------------------------------------
class SigLipLoss(_Contrastive):
    """``siglip_loss(image_emb, text_emb, *, logit_scale, logit_bias, normalize=True)``:
    SigLIP's pairwise sigmoid loss (Zhai et al. 2023), open_clip's ``SigLipLoss`` on one
    process.

    With the embeddings L2-normalised (unless ``normalize=False``), pair logits
    z_nm = s x_n . y_m + b (s = ``logit_scale``, the multiplier, b = ``logit_bias``) and
    labels y_nm = +1 on the diagonal, -1 elsewhere,

        loss = -(1/N) sum_n sum_m log sigmoid(y_nm z_nm),

    a sum over all N^2 pairs divided by the batch size N (the paper's and open_clip's
    normalisation, not a mean over pairs): the mean over rows of each image's loss against
    every text. It is N times the mean logistic loss of the pair logits against the labels.
    """

    spec = LossSpec(
        name="siglip_loss",
        family=FAMILY,
        summary="SigLIP's pairwise sigmoid loss: a binary logistic loss on every image-text "
        "pair, matching pairs positive, summed over pairs and divided by the batch size",
        properties=COSINE_PROPERTIES,
        formula=r"-\frac{1}{N}\sum_{n,m} \log \sigma\!\left(y_{nm}\,(s\, x_n \cdot y_m + b)"
        r"\right),\ y_{nm} = 2[n = m] - 1",
        references=(ZHAI_2023,),
        inputs=(
            _embedding("image_emb", "the image embeddings (*b, N, D)"),
            _embedding("text_emb", "the text embeddings (*b, N, D): row n matches image n"),
        ),
        output="*b",
        elementwise=False,
        params=(LOGIT_SCALE, LOGIT_BIAS, NORMALIZE),
        aliases=("siglip", "sigmoid_contrastive_loss"),
        framework_names={"open_clip": "open_clip.loss.SigLipLoss (world_size=1)"},
        variants=(RAW,),
        when_to_use="Image-text pretraining without a batch-wide softmax: each pair is its "
        "own binary problem, so the loss needs no all-gather of the other tower's logits.",
        boosting=NO_BOOSTING,
        probe=lambda p: _pair_probe("image_emb", "text_emb", p),
        showcase=(
            {"logit_scale": 10.0, "logit_bias": -10.0},
            {"logit_scale": 10.0, "logit_bias": 0.0},
            {"logit_scale": 100.0, "logit_bias": -10.0},
        ),
    )

    def definition(self, call: Call) -> Unreduced:
        xp = call.xp
        x, y = call.inputs["image_emb"], call.inputs["text_emb"]
        if call.params["normalize"]:
            x, y = unit(xp, x), unit(xp, y)
        batch = tuple(x.shape[:-2])
        p = call.params
        z = _scale(xp, p["logit_scale"], batch) * xp.matmul(x, xp.matrix_transpose(y))
        z = z + _scale(xp, p["logit_bias"], batch)
        # -log sigmoid(+z) on the diagonal, -log sigmoid(-z) off it: one selection, no
        # softplus(z) - z cancellation for a confident positive
        signed = xp.where(_eye(xp, z), z, -z)
        per_image = -xp.sum(log_sigmoid(xp, signed), axis=-1)
        return Unreduced(_mean_over_anchors(xp, per_image))


info_nce = register(InfoNCE())
nt_xent = register(NTXent())
supervised_contrastive = register(SupervisedContrastive())
clip_loss = register(ClipLoss())
siglip_loss = register(SigLipLoss())
