r"""Pair and list ranking losses: PyTorch's margin-ranking, hinge-embedding and
cosine-embedding losses (with strict {-1, 1} targets), and the listwise softmax loss.

For scores or embeddings x1, x2 and a target y in {-1, 1} (1: x1 should rank higher, or the
pair is similar; -1: the other way, or dissimilar):

    margin_ranking(x1, x2, y)   = max(0, -y (x1 - x2) + margin)
    hinge_embedding(d, y)       = d                      if y = 1
                                  max(0, margin - d)     if y = -1
    cosine_embedding(x1, x2, y) = 1 - cos(x1, x2)        if y = 1
                                  max(0, cos(x1, x2) - margin)   if y = -1
    cos(x1, x2) = x1 . x2 / sqrt((|x1|^2 + eps) (|x2|^2 + eps)),   eps = 1e-12

as ``torch.nn.functional`` defines them (eps is PyTorch's EPSILON in
aten/src/ATen/native/Loss.cpp, a float32 1e-12: ``COSINE_EPS``). PyTorch computes something
for any target value (0 gives a silent loss of 0 or of both branches); here a target other
than -1 or 1 raises :class:`LossInputError` (a value check: skipped under ``jax.jit`` and
with ``config.check_values=False``). The listwise softmax loss of scores s over a list of L items
with relevance labels y is optax's ``ranking_softmax_loss``:

    ranking_softmax(s, y) = -sum_i y_i log softmax(s)_i

over the valid items of each list (``where``). At a kink the subgradient is 0 (the hinge is
inactive where its argument is exactly 0), the same on every backend. Derivatives by autodiff
(torch autograd, jax.grad); the losses have no ``grad``/``hess`` methods.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._loss import Loss
from ._reduce import Unreduced
from ._registry import register
from ._spec import BoostingHessian, Curve, Input, LossSpec, Param, Probe, Properties, Variant
from ._validate import LossInputError, describe
from ._xp import const, device, stop_gradient, to_namespace, where0

__all__ = [
    "COSINE_EPS",
    "cosine_embedding_loss",
    "cosine_similarity",
    "hinge_embedding_loss",
    "margin_ranking_loss",
    "ranking_softmax_loss",
]

#: PyTorch's EPSILON in cosine_embedding_loss (aten/src/ATen/native/Loss.cpp): 1e-12 held
#: as a float32, 9.999999960041972e-13 (measured on torch 2.13: with the double 1e-12 the
#: cosine of tiny vectors, |x|^2 ~ eps, differs from torch's by 4e-9 relative)
COSINE_EPS = 9.999999960041972e-13
TORCH_LOSS = "PyTorch, torch.nn.functional (aten/src/ATen/native/Loss.cpp)"
HADSELL_2006 = (
    "Hadsell, R., Chopra, S., LeCun, Y. (2006). Dimensionality Reduction by Learning an "
    "Invariant Mapping. CVPR, 1735-1742."
)
BURGES_2005 = (
    "Burges, C., Shaked, T., Renshaw, E., Lazier, A., Deeds, M., Hamilton, N., Hullender, G. "
    "(2005). Learning to Rank using Gradient Descent. ICML, 89-96."
)
CAO_2007 = (
    "Cao, Z., Qin, T., Liu, T.-Y., Tsai, M.-F., Li, H. (2007). Learning to Rank: From Pairwise "
    "Approach to Listwise Approach. ICML, 129-136."
)
BRUCH_2019 = (
    "Bruch, S., Wang, X., Bendersky, M., Najork, M. (2019). An Analysis of the Softmax Cross "
    "Entropy Loss for Learning-to-Rank with Binary Relevance. ICTIR, 75-78."
)
OPTAX_RANKING = "optax.losses.ranking_softmax_loss (optax/losses/_ranking.py)"
NOT_BOOSTED = BoostingHessian(
    "none", reason="a loss of a pair (or a list) of inputs, not of one raw score per sample"
)
STRICT_TARGET = Input(
    "target", "*s", "strict_sign", differentiable=False, doc="labels -1 or 1 (0 is an error)"
)


def _hinge(xp: Any, z: Any) -> Any:
    """max(0, z) as a selection: subgradient 0 at z = 0 on every backend."""
    return where0(xp, z > 0, z)


def _two_sided_probe(
    key: str, label: str, column: str, caption: str, domain: str, xlim: tuple[float, float],
    table: tuple[float, ...], make: Any,
) -> Probe:  # fmt: skip
    """A probe with one curve for target 1 and one for target -1 (``make(t, y)``)."""
    curves = tuple(
        Curve(f"y = {y:+d}", f"y={y:+d}", lambda t, y=y: make(np.asarray(t, np.float64), y))
        for y in (1, -1)
    )
    return Probe(key, label, column, caption, domain, xlim, table, curves, "x1")


# ---- margin ranking ------------------------------------------------------------------------------
def _margin_ranking_probe(params: Mapping[str, Any]) -> Probe:
    def make(t: np.ndarray, y: int) -> dict[str, np.ndarray]:
        return {"x1": t.copy(), "x2": np.zeros_like(t), "target": np.full_like(t, float(y))}

    return _two_sided_probe(
        "score difference", "score difference x1 - x2", "x1 - x2",
        "x2 = 0, so x1 is the difference of the scores; target 1 (x1 should rank higher) "
        "and -1", "real", (-3.0, 3.0), (-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0), make,
    )  # fmt: skip


class MarginRankingLoss(Loss):
    r"""``margin_ranking_loss(x1, x2, target, *, margin=0.0)``: torch's margin ranking loss
    :math:`\max(0, -y (x_1 - x_2) + \text{margin})`, elementwise over same-shaped x1, x2
    and target.

    A target of 1 asks x1 to score above x2 by at least ``margin``, -1 the other way; any
    other target value raises :class:`LossInputError` (torch silently gives max(0, margin)
    for 0). Subgradient 0 at the kink. Equal to ``torch.nn.functional.margin_ranking_loss``.
    Reference: Burges et al. 2005 (pairwise ranking); PyTorch.
    """

    spec = LossSpec(
        name="margin_ranking_loss",
        family="ranking",
        summary="pairwise ranking hinge: x1 should outscore x2 by a margin (target 1), or "
        "the reverse (target -1)",
        properties=Properties(convex=True, robust=True, smoothness="C0"),
        formula=r"\max\left(0,\ -y\,(x_1 - x_2) + \text{margin}\right)",
        references=(BURGES_2005, TORCH_LOSS),
        inputs=(
            Input("x1", "*s", "real", doc="scores of the first items"),
            Input("x2", "*s", "real", doc="scores of the second items (the same shape)"),
            STRICT_TARGET,
        ),
        output="*s",
        elementwise=False,
        params=(Param("margin", 0.0, "the required score gap (any real number)"),),
        aliases=("margin_ranking", "MarginRankingLoss"),
        framework_names={
            "torch": "torch.nn.MarginRankingLoss, torch.nn.functional.margin_ranking_loss",
            "paddle": "paddle.nn.MarginRankingLoss",
        },
        derivative_notes="By autodiff: d/dx1 = -y where -y (x1 - x2) + margin > 0, else 0 "
        "(0 at the kink); d/dx2 = -d/dx1.",
        when_to_use="Learning to rank from preference pairs (x1 should score above x2), "
        "Siamese scoring; with margin 0 it is a perceptron-style pairwise loss.",
        boosting=NOT_BOOSTED,
        showcase=({"margin": 0.0}, {"margin": 1.0}),
        kinks=lambda p: (p["margin"], -p["margin"]),
        probe=_margin_ranking_probe,
    )

    def definition(self, call: Any) -> Unreduced:
        xp = call.xp
        x1, x2, y = call.inputs["x1"], call.inputs["x2"], call.inputs["target"]
        margin = const(xp, float(call.params["margin"]), x1)
        return Unreduced(_hinge(xp, margin - y * (x1 - x2)))


# ---- hinge embedding -----------------------------------------------------------------------------
def _hinge_embedding_probe(params: Mapping[str, Any]) -> Probe:
    def make(t: np.ndarray, y: int) -> dict[str, np.ndarray]:
        return {"distance": t.copy(), "target": np.full_like(t, float(y))}

    return _two_sided_probe(
        "distance", "distance d", "d",
        "distance d of a similar pair (target 1) and of a dissimilar pair (target -1)",
        "nonnegative", (0.0, 3.0), (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0), make,
    )  # fmt: skip


def _distances(rng: np.random.Generator, shape: tuple[int, ...], params: Mapping[str, Any]) -> dict:
    """Random distances in (0, 3] at least 0.05 from the margin (finite differences of the
    generic tests stay on one side of the kink and inside d >= 0), and random signs."""
    d = rng.uniform(0.05, 3.0, size=shape)
    margin = float(params.get("margin", 1.0))
    d = np.where(np.abs(d - margin) < 0.05, d + 0.1, d)
    return {"distance": d, "target": rng.choice(np.array([-1.0, 1.0]), size=shape)}


class HingeEmbeddingLoss(Loss):
    r"""``hinge_embedding_loss(distance, target, *, margin=1.0)``: torch's hinge embedding
    loss, elementwise: :math:`d` where y = 1 and :math:`\max(0, \text{margin} - d)` where
    y = -1.

    ``distance`` is a distance between two inputs (an L1 or L2 distance: >= 0); a similar
    pair (1) is pulled together, a dissimilar one (-1) pushed out to ``margin``. A negative
    distance (for which the y = 1 loss falls without bound; torch accepts it) or a target
    other than -1 and 1 (torch reads 0 as both branches at once) raises
    :class:`LossInputError`. Subgradient 0 at the kink. Equal to
    ``torch.nn.functional.hinge_embedding_loss`` on valid inputs. References: Hadsell et al.
    2006; PyTorch.
    """

    spec = LossSpec(
        name="hinge_embedding_loss",
        family="ranking",
        summary="the distance of a similar pair, or a hinge pushing a dissimilar pair's "
        "distance out to a margin",
        properties=Properties(convex=True, robust=True, smoothness="C0"),
        formula=r"\begin{cases} d & y = 1 \\ \max(0,\ \text{margin} - d) & y = -1 \end{cases}",
        references=(HADSELL_2006, TORCH_LOSS),
        inputs=(
            Input("distance", "*s", "nonnegative", doc="distances between pairs (>= 0)"),
            STRICT_TARGET,
        ),
        output="*s",
        elementwise=False,
        params=(Param("margin", 1.0, "the distance a dissimilar pair is pushed out to", low=0.0),),
        variants=(
            Variant(
                lambda p: p["margin"] == 0,
                properties={"smoothness": "Cinf"},
                note="margin = 0: the dissimilar branch is 0 for every distance",
            ),
        ),
        aliases=("hinge_embedding", "HingeEmbeddingLoss"),
        framework_names={
            "torch": "torch.nn.HingeEmbeddingLoss, torch.nn.functional.hinge_embedding_loss",
            "paddle": "paddle.nn.HingeEmbeddingLoss",
        },
        derivative_notes="By autodiff: 1 where y = 1; -1 where y = -1 and d < margin, else 0 "
        "(0 at the kink).",
        when_to_use="Metric learning on precomputed pair distances (similar pairs close, "
        "dissimilar ones at least margin apart); the contrastive loss is its squared form.",
        boosting=BoostingHessian(
            "none",
            reason="its input is a distance (>= 0), not a raw score a booster may take below 0",
        ),
        showcase=({"margin": 0.5}, {"margin": 1.0}, {"margin": 2.0}),
        kinks=lambda p: (p["margin"],) if p["margin"] > 0 else (),
        probe=_hinge_embedding_probe,
        sampler=_distances,
    )

    def definition(self, call: Any) -> Unreduced:
        xp = call.xp
        d, y = call.inputs["distance"], call.inputs["target"]
        margin = const(xp, float(call.params["margin"]), d)
        return Unreduced(xp.where(y > 0, d, _hinge(xp, margin - d)))


# ---- cosine embedding ----------------------------------------------------------------------------
def cosine_similarity(xp: Any, x1: Any, x2: Any, eps: float = COSINE_EPS) -> Any:
    r"""PyTorch's cosine of cosine_embedding_loss along the last axis:
    :math:`x_1 \cdot x_2 / \sqrt{(|x_1|^2 + \epsilon)(|x_2|^2 + \epsilon)}`.

    Each vector is divided by s = max(max_i |x_i|, sqrt(eps)) first, and eps by s^2, which
    leaves the value unchanged: no square overflows or underflows (|x| of 1e20 in float32),
    and s is a constant for autodiff (the value does not depend on it). Finite, with a finite
    gradient, for zero vectors (cos = 0) and identical ones.
    """
    return _cosine_parts(xp, x1, x2, eps)[0]


def _cosine_parts(xp: Any, x1: Any, x2: Any, eps: float = COSINE_EPS) -> tuple[Any, Any]:
    """(cos, 1 - cos), the second without cancellation: with a_k = x_k / n_k and
    n_k = sqrt(|x_k|^2 + eps), 1 - a1.a2 = (|a1 - a2|^2 + eps/n1^2 + eps/n2^2) / 2 where
    cos > 1/2, exact to a few ulps where the vectors (nearly) coincide and 1 - cos is 1e-14."""
    root = math.sqrt(eps)

    def unit(x: Any) -> tuple[Any, Any]:
        floor = const(xp, root, x)
        if x.shape[-1] == 0:
            s = xp.broadcast_to(floor, (*x.shape[:-1], 1))
        else:
            s = xp.maximum(xp.max(xp.abs(x), axis=-1, keepdims=True), floor)
        s = stop_gradient(xp, s)
        u = x / s
        rest = floor / s  # sqrt(eps) / s <= 1
        n = xp.sqrt(xp.sum(u * u, axis=-1, keepdims=True) + rest * rest)
        return u / n, (rest / n)[..., 0]

    a1, r1 = unit(x1)
    a2, r2 = unit(x2)
    cos = xp.sum(a1 * a2, axis=-1)
    gap = a1 - a2
    half = const(xp, 0.5, cos)
    close = half * (xp.sum(gap * gap, axis=-1) + r1 * r1 + r2 * r2)
    # the exact form where the vectors are near (1 - cos < 1/2); elsewhere 1 - cos has no
    # cancellation, and the exact form's gradient would be a difference of O(1 / |x|) terms
    return cos, xp.where(cos > half, close, const(xp, 1.0, cos) - cos)


def _angle_probe(params: Mapping[str, Any]) -> Probe:
    def make(t: np.ndarray, y: int) -> dict[str, np.ndarray]:
        x1 = np.stack([np.ones_like(t), np.zeros_like(t)], axis=-1)
        x2 = np.stack([np.cos(t), np.sin(t)], axis=-1)
        return {"x1": x1, "x2": x2, "target": np.full_like(t, float(y))}

    return _two_sided_probe(
        "angle", "angle θ between x1 and x2 (radians)", "θ",
        "unit vectors x1 = (1, 0) and x2 = (cos θ, sin θ): a similar pair (target 1) and a "
        "dissimilar one (target -1)", "real", (0.0, math.pi),
        (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0), make,
    )  # fmt: skip


class CosineEmbeddingLoss(Loss):
    r"""``cosine_embedding_loss(x1, x2, target, *, margin=0.0)``: torch's cosine embedding
    loss of embeddings x1, x2 (*b, D) and targets (*b): :math:`1 - \cos(x_1, x_2)` where
    y = 1 and :math:`\max(0, \cos(x_1, x_2) - \text{margin})` where y = -1.

    :math:`\cos = x_1 \cdot x_2 / \sqrt{(|x_1|^2 + \epsilon)(|x_2|^2 + \epsilon)}` with
    PyTorch's epsilon, 1e-12 as a float32 (``COSINE_EPS``; :func:`cosine_similarity`,
    computed scaled so that no square overflows; 1 - cos without cancellation): a zero vector
    has cosine 0, and zero and identical vectors give finite values and gradients. Embeddings
    of different sizes D, or a target other than -1 and 1, raise :class:`LossInputError`.
    Equal to ``torch.nn.functional.cosine_embedding_loss`` (which takes (D,) or (N, D)
    only). Subgradient 0 at the kink. References: Hadsell et al. 2006; PyTorch.
    """

    spec = LossSpec(
        name="cosine_embedding_loss",
        family="ranking",
        summary="1 - cosine similarity of a similar pair, or the cosine of a dissimilar pair "
        "above a margin",
        properties=Properties(convex=False, robust=True, smoothness="C0", bounded=True),
        formula=r"\begin{cases} 1 - \cos(x_1, x_2) & y = 1 \\ \max(0,\ \cos(x_1, x_2) - "
        r"\text{margin}) & y = -1 \end{cases},\quad \cos = \frac{x_1 \cdot x_2}"
        r"{\sqrt{(\lVert x_1\rVert^2 + \epsilon)(\lVert x_2\rVert^2 + \epsilon)}}",
        references=(HADSELL_2006, TORCH_LOSS),
        inputs=(
            Input("x1", "*b D", "real", doc="embeddings (*b, D)"),
            Input("x2", "*b D", "real", doc="embeddings (*b, D) paired with x1"),
            Input(
                "target",
                "*b",
                "strict_sign",
                differentiable=False,
                doc="labels -1 or 1 per pair (0 is an error)",
            ),
        ),
        output="*b",
        elementwise=False,
        params=(
            Param(
                "margin",
                0.0,
                "dissimilar pairs are penalised above this cosine",
                low=-1.0,
                high=1.0,
            ),
        ),
        variants=(
            Variant(
                lambda p: abs(p["margin"]) == 1,
                properties={"smoothness": "Cinf"},
                note="|margin| = 1: the dissimilar branch is 0, or cos + 1, everywhere",
            ),
        ),
        aliases=("cosine_embedding", "CosineEmbeddingLoss"),
        framework_names={
            "torch": "torch.nn.CosineEmbeddingLoss, torch.nn.functional.cosine_embedding_loss",
            "paddle": "paddle.nn.CosineEmbeddingLoss",
        },
        derivative_notes="By autodiff. d cos / d x1 = x2 / (n1 n2) - cos x1 / n1^2 with "
        "n = sqrt(|x|^2 + eps): finite for a zero vector (about 1e6 |x2|/n2 there, as in "
        "torch) and 0 for identical vectors of the y = 1 branch.",
        when_to_use="Siamese or retrieval embeddings compared by angle (sentence and image "
        "embeddings): similar pairs aligned, dissimilar ones below a cosine margin.",
        boosting=NOT_BOOSTED,
        showcase=({"margin": 0.0}, {"margin": 0.5}),
        kinks=lambda p: (math.acos(p["margin"]),) if abs(p["margin"]) < 1 else (),
        probe=_angle_probe,
    )

    def definition(self, call: Any) -> Unreduced:
        xp = call.xp
        x1, x2, y = call.inputs["x1"], call.inputs["x2"], call.inputs["target"]
        cos, one_minus = _cosine_parts(xp, x1, x2)
        margin = const(xp, float(call.params["margin"]), cos)
        return Unreduced(xp.where(y > 0, one_minus, _hinge(xp, cos - margin)))


# ---- listwise softmax ----------------------------------------------------------------------------
def _list_probe(params: Mapping[str, Any]) -> Probe:
    """The relevant item's score t against L - 1 irrelevant items scored 0 (L = 3 and 10)."""
    curves = []
    for size in (3, 10):

        def make(t: np.ndarray, size: int = size) -> dict[str, np.ndarray]:
            t = np.asarray(t, dtype=np.float64)
            scores = np.zeros((len(t), size))
            scores[:, 0] = t
            labels = np.zeros((len(t), size))
            labels[:, 0] = 1.0
            return {"scores": scores, "labels": labels}

        curves.append(Curve(f"L = {size} items", f"L={size}", make))
    return Probe(
        "relevant-item margin", "score of the relevant item − the others'", "m",
        "scores (m, 0, ..., 0), labels (1, 0, ..., 0): m is the relevant item's margin",
        "real", (-6.0, 6.0), (-4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0), tuple(curves), "s_1",
    )  # fmt: skip


class RankingSoftmaxLoss(Loss):
    r"""``ranking_softmax_loss(scores, labels, *, where=None, item_weights=None)``: the
    listwise softmax cross entropy of each list, equal to optax's
    ``optax.losses.ranking_softmax_loss``:

    :math:`\ell(s, y) = -\sum_i w_i y_i \log \frac{e^{s_i}}{\sum_j e^{s_j}}`

    over the items of a list (the last axis, L), sums and the softmax taken over the valid
    items only. ``scores`` (*b, L) are real; ``labels`` (*b, L) relevance grades >= 0 (used as
    they are: not normalised, as in optax); ``where`` (*b, L, optional, boolean or nonzero
    numbers) marks the valid items; ``item_weights`` (broadcastable to (*b, L), >= 0)
    multiply the labels (optax's ``weights``). One value per list (*b). ``reduction="mean"``
    averages over the lists that hold a valid item (optax's mean; 0 if none does); "sum" and
    "none" as usual (a list without valid items has loss 0). A per-list ``weight`` weights the
    mean. A score of -inf is an item with probability 0 (finite unless its label is
    positive); scores of +inf share the whole probability (the limit). References: Cao et al.
    2007 (ListNet, whose top-one loss takes the softmax of the labels instead); Bruch et
    al. 2019; optax.
    """

    spec = LossSpec(
        name="ranking_softmax_loss",
        family="ranking",
        summary="listwise softmax cross entropy: -sum of relevance times the log softmax of "
        "the scores over each list",
        properties=Properties(convex=True, robust=True, smoothness="Cinf"),
        formula=r"-\sum_{i} w_i\, y_i \log \frac{\exp(s_i)}{\sum_{j} \exp(s_j)}"
        r"\quad\text{(valid items } i, j \text{ of the list)}",
        references=(CAO_2007, BRUCH_2019, OPTAX_RANKING),
        inputs=(
            Input("scores", "*b L", "real", doc="scores of the L items of each list"),
            Input(
                "labels",
                "*b L",
                "nonnegative",
                differentiable=False,
                doc="relevance labels (>= 0) of the items",
            ),
        ),
        output="*b",
        elementwise=False,
        params=(
            Param(
                "where",
                None,
                "valid items (*b, L): True or nonzero; None: all",
                kind="array",
                shape="*b L",
                allow_none=True,
            ),
            Param(
                "item_weights",
                None,
                "weights of the items (broadcastable to (*b, L), "
                ">= 0), multiplying the labels; None: 1",
                kind="array",
                shape="~*b L",
                domain="nonnegative",
                allow_none=True,
            ),
        ),
        aliases=("listwise_softmax_loss", "softmax_ranking_loss"),
        framework_names={
            "optax": "optax.losses.ranking_softmax_loss",
            "tensorflow_ranking": "tfr.keras.losses.SoftmaxLoss (normalises the labels)",
        },
        derivative_notes="By autodiff: d/ds_i = (sum_j w_j y_j) softmax(s)_i - w_i y_i over "
        "the valid items, 0 for masked ones.",
        when_to_use="Learning to rank from graded relevance over whole lists (search, "
        "recommendation): a softmax over each list's candidates.",
        boosting=NOT_BOOSTED,
        probe=_list_probe,
    )

    def _prepare_array(self, p: Param, value: Any, xp: Any, like: Any, bindings: dict) -> Any:
        """``where`` as a boolean array of the scores' shape (nonzero is valid, as optax's
        ``jnp.where`` reads it); other array parameters as the core prepares them."""
        if p.name != "where":
            return super()._prepare_array(p, value, xp, like, bindings)
        if isinstance(value, (bool, int, float)):
            return xp.broadcast_to(xp.asarray(bool(value), device=device(like)), like.shape)
        try:
            value = to_namespace(xp, value, like)
        except Exception:
            raise LossInputError(
                self.name, "where", "an array of the same library as the inputs", describe(value)
            ) from None
        if not xp.isdtype(value.dtype, ("bool", "integral", "real floating")):
            raise LossInputError(self.name, "where", "a boolean or real array", describe(value))
        value = self._shape_array_param(p, value, xp, bindings)
        return value if xp.isdtype(value.dtype, "bool") else value != 0

    def definition(self, call: Any) -> Unreduced:
        xp = call.xp
        s, y = call.inputs["scores"], call.inputs["labels"]
        where, w = call.params.get("where"), call.params.get("item_weights")
        if w is not None:
            y = y * w
        zero = const(xp, 0.0, s)
        valid = xp.ones(s.shape, dtype=xp.bool, device=device(s)) if where is None else where
        # scores of masked items replaced by 0 before anything is computed from them: no NaN
        # or inf of theirs reaches the value or the gradient
        s_ok = xp.where(valid, s, zero)
        neg_inf = const(xp, -math.inf, s)
        if s.shape[-1] == 0:  # empty lists: a loss of 0
            loss = xp.sum(s_ok, axis=-1)
            implicit = None if where is None else xp.zeros_like(loss)
            return Unreduced(loss, weight=implicit)
        # log sum_j e^{s_j} = m + log1p(sum over j other than one top item of e^{s_j - m}),
        # m = that item's score (taken by index, so that autodiff sees the identity, exact for
        # any m): accurate where the top item takes nearly all of the probability (1e-7)
        first = xp.argmax(xp.where(valid, s_ok, neg_inf), axis=-1, keepdims=True)
        m = xp.take_along_axis(s_ok, first, axis=-1)
        inf_top = m == const(xp, math.inf, m)  # +inf scores share the whole list (the limit)
        m = xp.where(xp.isfinite(m), m, zero)
        limit = xp.where(s_ok == const(xp, math.inf, s), zero, neg_inf)
        shifted = xp.where(valid, xp.where(inf_top, limit, s_ok - m), zero)
        slots = xp.arange(s.shape[-1], device=device(s))
        rest = xp.where(valid & (slots != first), xp.exp(shifted), zero)
        log_p = shifted - xp.log1p(xp.sum(rest, axis=-1, keepdims=True))
        any_valid = xp.any(valid, axis=-1)
        # a label of 0 (or a masked item) adds 0, even where log p is -inf
        terms = xp.where(valid & (y != 0), y * xp.where(valid & (y != 0), log_p, zero), zero)
        loss = -xp.sum(terms, axis=-1)
        implicit = None if where is None else xp.astype(any_valid, s.dtype)
        return Unreduced(loss, weight=implicit)


margin_ranking_loss = register(MarginRankingLoss())
hinge_embedding_loss = register(HingeEmbeddingLoss())
cosine_embedding_loss = register(CosineEmbeddingLoss())
ranking_softmax_loss = register(RankingSoftmaxLoss())
