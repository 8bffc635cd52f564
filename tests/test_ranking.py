"""The ranking family against the implementations it restates: torch.nn.functional's
margin_ranking_loss, hinge_embedding_loss and cosine_embedding_loss (and their nn modules),
and optax's ranking_softmax_loss; closed-form values; degenerate inputs (zero and identical
embeddings, masked lists); bad inputs.

Conventions mapped: torch's reductions "none", "sum" and "mean" are the library's; optax's
``reduce_fn=jnp.mean`` is "mean" (over the lists with a valid item), ``jnp.sum`` is "sum" and
``None`` is "none"; optax's per-item ``weights`` is ``item_weights`` (the library's ``weight``
weights whole lists).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
import torch.nn.functional as F

import lossatlas
import lossatlas.torch as lt
from lossatlas import LossInputError
from lossatlas.ranking import COSINE_EPS

jax.config.update("jax_enable_x64", True)

TORCH_REDUCTIONS = ("none", "sum", "mean")
TOL = {"float64": (1e-13, 1e-14), "float32": (2e-6, 1e-6)}
SEEDS = range(6)


def _signs(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.choice(np.array([-1.0, 1.0]), size=shape)


def _pairs(seed: int, dtype: str, d: int | None = None) -> tuple[torch.Tensor, ...]:
    """Random x1, x2 (N, D) or (N,), targets; N and D drawn per seed, scales 1e-3 to 1e3."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 200))
    shape = (n,) if d is None else (n, d)
    scale = 10.0 ** rng.uniform(-3, 3, size=(n, 1) if d else (n,))
    x1 = rng.normal(size=shape) * scale
    x2 = rng.normal(size=shape) * (scale if d else 1.0)
    y = _signs(rng, (n,))
    t = lambda a: torch.tensor(a, dtype=getattr(torch, dtype))  # noqa: E731
    return t(x1), t(x2), t(y)


def _max_rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().double(), b.detach().double()
    return float(((a - b).abs() / (1e-300 + b.abs().clamp_min(1.0))).max()) if a.numel() else 0.0


# ---- torch.nn.functional ----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_margin_ranking_equals_torch(dtype):
    """Values for every reduction and margin (negative too) and gradients with respect to x1
    and x2, over random scores; max relative error below 1e-13 (float64) / 2e-6 (float32)."""
    rtol, atol = TOL[dtype]
    worst = 0.0
    for seed in SEEDS:
        x1, x2, _ = _pairs(seed, dtype)
        y = torch.tensor(_signs(np.random.default_rng(seed + 100), tuple(x1.shape)), dtype=x1.dtype)
        for margin in (0.0, 0.7, -0.4):
            for reduction in TORCH_REDUCTIONS:
                a1, a2 = x1.clone().requires_grad_(), x2.clone().requires_grad_()
                b1, b2 = x1.clone().requires_grad_(), x2.clone().requires_grad_()
                ours = lossatlas.margin_ranking_loss(a1, a2, y, margin=margin, reduction=reduction)
                theirs = F.margin_ranking_loss(b1, b2, y, margin=margin, reduction=reduction)
                assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
                torch.testing.assert_close(ours, theirs, rtol=rtol, atol=atol)
                ours.sum().backward()
                theirs.sum().backward()
                torch.testing.assert_close(a1.grad, b1.grad, rtol=rtol, atol=atol)
                torch.testing.assert_close(a2.grad, b2.grad, rtol=rtol, atol=atol)
                worst = max(worst, _max_rel(ours, theirs))
    assert worst <= rtol


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_hinge_embedding_equals_torch(dtype):
    """Values and gradients over random distances >= 0, every reduction and margin."""
    rtol, atol = TOL[dtype]
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        shape = (int(rng.integers(1, 100)), int(rng.integers(1, 4)))
        d = torch.tensor(np.abs(rng.normal(size=shape)) * 2.0, dtype=getattr(torch, dtype))
        y = torch.tensor(_signs(rng, shape), dtype=d.dtype)
        for margin in (1.0, 0.3, 2.5):
            for reduction in TORCH_REDUCTIONS:
                a, b = d.clone().requires_grad_(), d.clone().requires_grad_()
                ours = lossatlas.hinge_embedding_loss(a, y, margin=margin, reduction=reduction)
                theirs = F.hinge_embedding_loss(b, y, margin=margin, reduction=reduction)
                torch.testing.assert_close(ours, theirs, rtol=rtol, atol=atol)
                ours.sum().backward()
                theirs.sum().backward()
                torch.testing.assert_close(a.grad, b.grad, rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_cosine_embedding_equals_torch(dtype):
    """Values and gradients over random embeddings (N, D) of scales 1e-3 to 1e3, every
    reduction and margin; also one unbatched pair (D,) with a 0-d target, as torch takes it."""
    rtol, atol = TOL[dtype]
    for seed in SEEDS:
        d = int(np.random.default_rng(seed).integers(1, 9))
        x1, x2, y = _pairs(seed, dtype, d)
        for margin in (0.0, 0.5, -0.3):
            for reduction in TORCH_REDUCTIONS:
                a1, a2 = x1.clone().requires_grad_(), x2.clone().requires_grad_()
                b1, b2 = x1.clone().requires_grad_(), x2.clone().requires_grad_()
                ours = lossatlas.cosine_embedding_loss(a1, a2, y, margin=margin,
                                                       reduction=reduction)  # fmt: skip
                theirs = F.cosine_embedding_loss(b1, b2, y, margin=margin, reduction=reduction)
                torch.testing.assert_close(ours, theirs, rtol=rtol, atol=atol)
                ours.sum().backward()
                theirs.sum().backward()
                # the gradient scales as 1/|x|: relative to the largest entry of its row
                scale = b1.grad.abs().amax(dim=-1, keepdim=True).clamp_min(1e-30)
                torch.testing.assert_close(a1.grad / scale, b1.grad / scale, rtol=0,
                                           atol=50 * rtol)  # fmt: skip
                scale = b2.grad.abs().amax(dim=-1, keepdim=True).clamp_min(1e-30)
                torch.testing.assert_close(a2.grad / scale, b2.grad / scale, rtol=0,
                                           atol=50 * rtol)  # fmt: skip
    x1, x2, y = _pairs(0, dtype, 4)
    torch.testing.assert_close(
        lossatlas.cosine_embedding_loss(x1[0], x2[0], y[0], reduction="none"),
        F.cosine_embedding_loss(x1[0], x2[0], y[0], reduction="none"), rtol=rtol, atol=atol,
    )  # fmt: skip


def test_cosine_embedding_batch_axes_and_large_norms():
    """(*b, D) with two batch axes equals torch on the flattened batch; embeddings of norm 1e20
    in float32 (whose squares overflow there: torch gives NaN) equal their float64 values."""
    x1, x2, y = _pairs(3, "float64", 5)
    n = x1.shape[0] // 2 * 2
    ours = lossatlas.cosine_embedding_loss(
        x1[:n].reshape(2, n // 2, 5), x2[:n].reshape(2, n // 2, 5), y[:n].reshape(2, n // 2),
        reduction="none",
    )  # fmt: skip
    torch.testing.assert_close(ours.reshape(-1), F.cosine_embedding_loss(
        x1[:n], x2[:n], y[:n], reduction="none"), rtol=1e-13, atol=1e-14)  # fmt: skip
    big1, big2 = (x * 1e20 / x.norm(dim=-1, keepdim=True) for x in (x1, x2))
    got = lossatlas.cosine_embedding_loss(big1.float(), big2.float(), y.float(), reduction="none")
    want = lossatlas.cosine_embedding_loss(big1.float().double(), big2.float().double(), y,
                                           reduction="none")  # fmt: skip
    assert torch.isfinite(got).all()
    assert torch.isnan(F.cosine_embedding_loss(big1.float(), big2.float(), y.float())).item()
    torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reduction", TORCH_REDUCTIONS)
def test_modules_are_drop_in_for_torch(reduction):
    """lossatlas.torch's modules take torch's positional margin and forward arguments."""
    x1, x2, y = _pairs(5, "float64", 3)
    d = (x1 - x2).norm(dim=-1)
    cases = [
        (lt.MarginRankingLoss(0.3, reduction), torch.nn.MarginRankingLoss(0.3,
         reduction=reduction), (x1[:, 0], x2[:, 0], y)),
        (lt.HingeEmbeddingLoss(2.0, reduction), torch.nn.HingeEmbeddingLoss(2.0,
         reduction=reduction), (d, y)),
        (lt.HingeEmbeddingLoss(reduction=reduction), torch.nn.HingeEmbeddingLoss(
         reduction=reduction), (d, y)),
        (lt.CosineEmbeddingLoss(0.2, reduction), torch.nn.CosineEmbeddingLoss(0.2,
         reduction=reduction), (x1, x2, y)),
    ]  # fmt: skip
    for ours, theirs, args in cases:
        torch.testing.assert_close(ours(*args), theirs(*args), rtol=1e-13, atol=1e-14)
    assert lt.MODULES["ranking_softmax_loss"] is lt.RankingSoftmaxLoss
    s, lab = torch.randn(4, 6, dtype=torch.float64), torch.rand(4, 6, dtype=torch.float64)
    torch.testing.assert_close(
        lt.RankingSoftmaxLoss(reduction=reduction)(s, lab),
        lossatlas.ranking_softmax_loss(s, lab, reduction=reduction),
    )


# ---- optax --------------------------------------------------------------------------------------
def _lists(seed: int) -> tuple[np.ndarray, ...]:
    """Random scores (*b, L) of a random scale, graded labels (zeros included), a mask with
    an empty list, item weights; one shape (2, 4, 6): two batch axes, compiled once."""
    rng = np.random.default_rng(seed)
    shape = (2, 4, 6)
    scores = rng.normal(size=shape) * 10.0 ** rng.uniform(-1, 1.5)
    labels = rng.integers(0, 4, size=shape).astype(np.float64)
    where = rng.random(shape) < 0.7
    where.reshape(-1, shape[-1])[0] = False  # an empty list
    weights = rng.uniform(0.0, 2.0, size=shape)
    return scores, labels, where, weights


OPTAX_REDUCTIONS = {"mean": jnp.mean, "sum": jnp.sum, "none": None}
KWARGS = ((), ("where",), ("where", "weights"), ("weights",))


@jax.jit
def _both(s, y, m, w):
    """(ours, optax's) values and gradients with respect to the scores, for every reduction
    and combination of mask and item weights, in one compiled function."""
    out = []
    for names in KWARGS:
        given = {"where": m, "weights": w}
        theirs_kw = {k: given[k] for k in names}
        ours_kw = {("item_weights" if k == "weights" else k): v for k, v in theirs_kw.items()}
        for reduction, fn in OPTAX_REDUCTIONS.items():

            def ours(s, kw=ours_kw, reduction=reduction):
                return lossatlas.ranking_softmax_loss(s, y, reduction=reduction, **kw)

            def theirs(s, kw=theirs_kw, fn=fn):
                return optax.losses.ranking_softmax_loss(s, y, reduce_fn=fn, **kw)

            if reduction != "mean":  # the gradient of "none" summed is that of "sum"
                out.append((ours(s), theirs(s), None, None))
                continue
            ga = jax.grad(lambda s, f=ours: jnp.sum(f(s)))(s)
            gb = jax.grad(lambda s, f=theirs: jnp.sum(f(s)))(s)
            if "where" in names:  # optax's gradient of a masked item: 0 or NaN (0 * inf)
                gb = jnp.where(m, gb, 0.0)
            out.append((ours(s), theirs(s), ga, gb))
    return out


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_ranking_softmax_equals_optax(dtype):
    """Values equal optax's over random lists, with and without a mask and item weights, for
    every reduction (optax's reduce_fn mean, sum, None), and so do the gradients (jax.grad)
    of the mean: max relative error 1e-12 in float64, 1e-5 in float32."""
    rtol = 1e-12 if dtype == "float64" else 1e-5
    cast = lambda a: jnp.asarray(a, dtype=getattr(jnp, dtype))  # noqa: E731
    worst = 0.0
    for seed in range(8):
        scores, labels, where, weights = _lists(seed)
        results = _both(cast(scores), cast(labels), jnp.asarray(where), cast(weights))
        for a, b, ga, gb in results:
            a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
            np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)
            if ga is not None:
                np.testing.assert_allclose(np.asarray(ga), np.asarray(gb), rtol=rtol, atol=rtol)
            worst = max(worst, float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1))))
    assert worst <= rtol


def test_ranking_softmax_on_torch_and_numpy_equals_jax():
    """The same definition on torch (with a per-list weight: a weighted mean over the lists
    with a valid item) and NumPy gives JAX's values."""
    scores, labels, where, _ = _lists(3)
    lw = np.random.default_rng(0).uniform(0.5, 2.0, size=scores.shape[:-1])
    want = np.asarray(
        optax.losses.ranking_softmax_loss(
            jnp.asarray(scores), jnp.asarray(labels), where=jnp.asarray(where), reduce_fn=None
        )
    )
    valid = where.any(axis=-1)
    mean = np.sum(lw * want) / np.sum(lw * valid)
    for xp_array in (torch.tensor, np.asarray):
        got = lossatlas.ranking_softmax_loss(
            xp_array(scores), xp_array(labels), where=xp_array(where), weight=xp_array(lw),
        )  # fmt: skip
        np.testing.assert_allclose(float(got), mean, rtol=1e-13)


# ---- closed forms -------------------------------------------------------------------------------
def test_closed_form_values():
    """Hand-computed values of each loss."""
    f = np.array
    np.testing.assert_array_equal(
        lossatlas.margin_ranking_loss(f([2.0, 1.0, 1.0, 3.0]), f([1.0, 2.0, 2.0, 3.0]),
                                      f([1.0, 1.0, -1.0, -1.0]), margin=0.5, reduction="none"),
        [0.0, 1.5, 0.0, 0.5],
    )  # fmt: skip
    np.testing.assert_array_equal(
        lossatlas.hinge_embedding_loss(f([0.25, 0.25, 3.0, 0.0]), f([1.0, -1.0, -1.0, -1.0]),
                                       margin=2.0, reduction="none"),
        [0.25, 1.75, 0.0, 2.0],
    )  # fmt: skip
    # orthogonal, opposite and aligned unit vectors (cos = 0, -1, 1 up to eps)
    x1 = f([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [3.0, 4.0]])
    x2 = f([[0.0, 1.0], [-1.0, 0.0], [2.0, 0.0], [0.0, 5.0], [3.0, 4.0]])
    y = f([1.0, 1.0, -1.0, -1.0, 1.0])
    got = lossatlas.cosine_embedding_loss(x1, x2, y, margin=0.25, reduction="none")
    eps = COSINE_EPS  # torch's EPSILON, a float32 1e-12
    cos_aligned = 2.0 / math.sqrt((1 + eps) * (4 + eps))
    np.testing.assert_allclose(
        got, [1.0, 1.0 + 1.0 / (1.0 + eps), cos_aligned - 0.25, 0.0, eps / (25.0 + eps)],
        rtol=1e-15,
        atol=1e-17,
    )  # fmt: skip
    # uniform scores, one relevant item of L: log L; two relevant, graded 2 and 1: 3 log L
    s = np.zeros((2, 5))
    lab = f([[1.0, 0, 0, 0, 0], [2.0, 1.0, 0, 0, 0]])
    np.testing.assert_allclose(
        lossatlas.ranking_softmax_loss(s, lab, reduction="none"), [math.log(5), 3 * math.log(5)],
        rtol=1e-15,
    )  # fmt: skip
    # a masked list is left out of the mean; masked items out of the softmax
    where = f([[True, True, False, False, False], [False] * 5])
    np.testing.assert_allclose(
        lossatlas.ranking_softmax_loss(s, lab, where=where), math.log(2), rtol=1e-15
    )
    # a confident list: log(1 + 2 e^-30) exactly (no cancellation in log(sum))
    np.testing.assert_allclose(
        lossatlas.ranking_softmax_loss(f([30.0, 0.0, 0.0]), f([1.0, 0.0, 0.0])),
        math.log1p(2 * math.exp(-30)), rtol=1e-15,
    )  # fmt: skip


# ---- degenerate inputs ----------------------------------------------------------------------
def test_cosine_zero_and_identical_vectors_have_finite_gradients():
    """A zero embedding (either side or both), identical embeddings, both signs: finite values
    and gradients by torch autograd and jax.grad, equal to each other; the values equal
    torch's, and so does the gradient where torch's is finite."""
    v = np.array([0.3, -1.2, 2.0])
    x1 = np.array([np.zeros(3), v, np.zeros(3), v, 1e-8 * v, v])
    x2 = np.array([v, np.zeros(3), np.zeros(3), v, 1e-8 * v, 1e8 * v])
    x1, x2 = np.concatenate([x1, x1]), np.concatenate([x2, x2])
    y = np.repeat([1.0, -1.0], 6)
    for margin in (0.0, -0.5):
        a1 = torch.tensor(x1, requires_grad=True)
        a2 = torch.tensor(x2, requires_grad=True)
        ours = lossatlas.cosine_embedding_loss(a1, a2, torch.tensor(y), margin=margin,
                                               reduction="none")  # fmt: skip
        ours.sum().backward()
        b1 = torch.tensor(x1, requires_grad=True)
        b2 = torch.tensor(x2, requires_grad=True)
        theirs = F.cosine_embedding_loss(b1, b2, torch.tensor(y), margin=margin,
                                         reduction="none")  # fmt: skip
        theirs.sum().backward()
        torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-15)
        assert torch.isfinite(a1.grad).all() and torch.isfinite(a2.grad).all()
        # a dissimilar pair with a zero vector sits at the kink cos = margin = 0, where the
        # library's subgradient is 0 and torch's clamp passes the slope: compared elsewhere
        kink = torch.tensor((y < 0) & (margin == 0) & ((x1 == 0).all(1) | (x2 == 0).all(1)))
        torch.testing.assert_close(a1.grad[~kink], b1.grad[~kink], rtol=1e-9, atol=1e-9)
        assert float(a1.grad[kink].abs().max()) == 0.0 if kink.any() else True

        def total(p, q, margin=margin):
            return jnp.sum(lossatlas.cosine_embedding_loss(p, q, jnp.asarray(y), margin=margin))

        g1, g2 = jax.jit(jax.grad(total, (0, 1)))(jnp.asarray(x1), jnp.asarray(x2))
        assert np.isfinite(np.asarray(g1)).all() and np.isfinite(np.asarray(g2)).all()
        n = len(y)
        np.testing.assert_allclose(np.asarray(g1) * n, a1.grad.numpy(), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(np.asarray(g2) * n, a2.grad.numpy(), rtol=1e-9, atol=1e-9)
    # identical vectors of the similar branch: at the minimum, a zero gradient
    p = torch.tensor(v[None], requires_grad=True)
    lossatlas.cosine_embedding_loss(p, p.detach().clone(), torch.ones(1)).backward()
    assert float(p.grad.abs().max()) < 1e-12


def test_ranking_degenerate_lists_and_pairs():
    """Every item masked, empty lists, ties, -inf and +inf scores, equal scores in a pair at
    the margin: finite values and gradients (torch autograd and jax.grad)."""
    inf = math.inf
    scores = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [-inf, 0.0, 1.0], [inf, 0.0, 1.0],
                       [inf, inf, 0.0]])  # fmt: skip
    labels = np.array([[1.0, 0, 0], [1.0, 1.0, 0], [0, 1.0, 2.0], [1.0, 0, 0], [1.0, 1.0, 0]])
    where = np.array([[False] * 3, [True] * 3, [True] * 3, [True] * 3, [True] * 3])
    want = [0.0, 2 * math.log(3), -math.log(1 / (1 + math.e)) - 2 * math.log(math.e / (1 + math.e)),
            0.0, 2 * math.log(2)]  # fmt: skip
    s = torch.tensor(scores, requires_grad=True)
    got = lossatlas.ranking_softmax_loss(s, torch.tensor(labels), where=torch.tensor(where),
                                         reduction="none")  # fmt: skip
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-14, atol=1e-300)
    got.sum().backward()
    assert torch.isfinite(s.grad).all() and float(s.grad[0].abs().max()) == 0.0
    g = jax.jit(
        jax.grad(
            lambda s: jnp.sum(
                lossatlas.ranking_softmax_loss(
                    s, jnp.asarray(labels), where=jnp.asarray(where), reduction="sum"
                )
            )
        )
    )(jnp.asarray(scores))
    np.testing.assert_allclose(np.asarray(g), s.grad.numpy(), rtol=1e-14, atol=1e-300)
    # every list masked: the mean is 0 and stays on the graph
    out = lossatlas.ranking_softmax_loss(s, torch.tensor(labels), where=torch.zeros(5, 3) > 0)
    assert out.item() == 0.0 and out.requires_grad
    empty = lossatlas.ranking_softmax_loss(np.zeros((2, 0)), np.zeros((2, 0)), reduction="none")
    np.testing.assert_array_equal(empty, [0.0, 0.0])
    # a pair at the kink: the subgradient 0 on torch and JAX
    x = torch.tensor([0.5], requires_grad=True)
    lossatlas.margin_ranking_loss(x, torch.zeros(1), torch.ones(1), margin=0.5).backward()
    gj = jax.jit(
        jax.grad(lambda x: lossatlas.margin_ranking_loss(x, jnp.zeros(1), jnp.ones(1), margin=0.5))
    )(jnp.asarray([0.5]))
    assert float(x.grad) == 0.0 and float(gj[0]) == 0.0


# ---- bad inputs ---------------------------------------------------------------------------------
BAD_TARGETS = (0.0, 2.0, -2.0)


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_targets_outside_minus_one_and_one_raise(backend):
    """A target of 0 (which torch silently accepts), 2 or -2: LossInputError naming the
    target, on every eager backend."""
    conv = {"numpy": np.asarray, "torch": torch.tensor, "jax": jnp.asarray}[backend]
    x = conv(np.array([0.5, -1.0, 2.0]))
    e = conv(np.ones((3, 2)))
    for bad in BAD_TARGETS:
        y = conv(np.array([1.0, bad, -1.0]))
        for fn, args in (
            (lossatlas.margin_ranking_loss, (x, x, y)),
            (lossatlas.hinge_embedding_loss, (conv(np.abs(np.array([0.5, 1.0, 2.0]))), y)),
            (lossatlas.cosine_embedding_loss, (e, e, y)),
        ):
            with pytest.raises(LossInputError) as info:
                fn(*args)
            assert info.value.argument == "target" and "{-1, 1}" in info.value.expected
            assert f"{bad:g}" in info.value.got
    # torch accepts 0 silently: the nonsense this guards against
    assert F.hinge_embedding_loss(torch.ones(1), torch.zeros(1), reduction="sum").item() == 1.0


def test_shapes_and_domains_raise():
    """Mismatched embedding sizes, a target of the wrong shape, x1 and x2 of different shapes,
    a negative distance, a mask of the wrong shape, a margin out of range."""
    e3, e4 = np.ones((5, 3)), np.ones((5, 4))
    y = np.ones(5)
    cases = [
        (lambda: lossatlas.cosine_embedding_loss(e3, e4, y), "x2", "(5, 4)"),
        (lambda: lossatlas.cosine_embedding_loss(e3, e3, np.ones(4)), "target", "(4,)"),
        (lambda: lossatlas.cosine_embedding_loss(e3, e3, np.ones((5, 3))), "target", "(5, 3)"),
        (lambda: lossatlas.margin_ranking_loss(np.ones(5), np.ones(4), y), "x2", "(4,)"),
        (lambda: lossatlas.margin_ranking_loss(np.ones(5), np.ones(5), np.ones((5, 1))),
         "target", "(5, 1)"),
        (lambda: lossatlas.hinge_embedding_loss(np.array([-0.1, 1.0]), np.ones(2)), "distance",
         "-0.1"),
        (lambda: lossatlas.ranking_softmax_loss(e3, e3, where=np.ones((5, 2), bool)), "where",
         "(5, 2)"),
        (lambda: lossatlas.ranking_softmax_loss(e3, -e3), "labels", "-1"),
        (lambda: lossatlas.ranking_softmax_loss(e3, e4), "labels", "(5, 4)"),
        (lambda: lossatlas.cosine_embedding_loss(e3, e3, y, margin=1.5), "margin", "1.5"),
        (lambda: lossatlas.hinge_embedding_loss(np.ones(2), np.ones(2), margin=-1.0), "margin",
         "-1"),
    ]  # fmt: skip
    for fn, argument, got in cases:
        with pytest.raises(LossInputError) as info:
            fn()
        assert info.value.argument == argument, str(info.value)
        assert got in info.value.got, str(info.value)
