"""The Lovász hinge and Lovász-Softmax losses against the reference implementations.

References, restated here (no package of theirs imports beside torch 2.13.0 without
torchvision, and none must be copied):

- Berman, Rannen Triki, Blaschko (CVPR 2018), github.com/bermanmaxim/LovaszSoftmax,
  ``pytorch/lovasz_losses.py``: ``lovasz_grad`` (Alg. 1 of the paper: the Jaccard loss of each
  prefix of the sorted pixels, differenced), ``lovasz_hinge_flat`` (errors 1 - x (2y - 1),
  sorted descending, dot of relu(errors) with lovasz_grad), ``lovasz_softmax_flat`` (per
  class, errors |[y = c] - p_c| sorted descending, dot with lovasz_grad; ``classes="present"``
  skips the classes absent from the labels; ``mean`` of an empty list is 0),
  ``flatten_binary_scores`` / ``flatten_probas`` (ignored pixels dropped by boolean indexing),
  and ``per_image`` as the mean over images of the loss of each.
- segmentation_models_pytorch, ``segmentation_models_pytorch/losses/lovasz.py``:
  ``LovaszLoss(mode, per_image=False, ignore_index=None)``, binary mode the hinge above on
  (N, *s) logits, multiclass mode a softmax over dim 1 of (N, C, *s) logits, then the
  softmax loss above with classes "present" (``_flatten_probas`` moves the class axis last
  for any number of spatial axes).
"""

from __future__ import annotations

import math

import array_api_strict as xps
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lossatlas
from lossatlas import LossInputError, lovasz_hinge, lovasz_softmax

jax.config.update("jax_enable_x64", True)


# ---- the references, restated ------------------------------------------------------------------
def ref_lovasz_grad(gt_sorted: torch.Tensor) -> torch.Tensor:
    """Berman's lovasz_grad: 1 - intersection / union of each prefix, differenced."""
    gts = gt_sorted.sum()
    intersection = gts - gt_sorted.cumsum(0)
    union = gts + (1 - gt_sorted).cumsum(0)
    jaccard = 1.0 - intersection / union
    if len(gt_sorted) > 1:
        jaccard = torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]])
    return jaccard


def ref_hinge_flat(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Berman's lovasz_hinge_flat on (P,) logits and 0/1 labels."""
    if len(labels) == 0:
        return logits.sum() * 0.0
    signs = 2.0 * labels.to(logits.dtype) - 1.0
    errors = 1.0 - logits * signs
    errors_sorted, perm = torch.sort(errors, dim=0, descending=True)
    grad = ref_lovasz_grad(labels[perm].to(logits.dtype))
    return torch.dot(F.relu(errors_sorted), grad)


def ref_softmax_flat(probas: torch.Tensor, labels: torch.Tensor, classes: str) -> torch.Tensor:
    """Berman's lovasz_softmax_flat on (P, C) probabilities and (P,) labels. (Berman returns
    an empty tensor when every pixel is ignored; the mean of no class is 0.)"""
    if probas.numel() == 0:
        return probas.sum() * 0.0
    losses = []
    for c in range(probas.size(1)):
        fg = (labels == c).to(probas.dtype)
        if classes == "present" and fg.sum() == 0:
            continue
        errors = (fg - probas[:, c]).abs()
        errors_sorted, perm = torch.sort(errors, 0, descending=True)
        losses.append(torch.dot(errors_sorted, ref_lovasz_grad(fg[perm])))
    if not losses:
        return probas.sum() * 0.0
    return sum(losses) / len(losses)


def ref_flatten(scores: torch.Tensor, labels: torch.Tensor, ignore: int | None, classes: bool):
    """Berman's flatten_binary_scores / smp's _flatten_probas: one row per pixel (the class
    axis, dim 1, moved last), ignored pixels dropped."""
    if classes:
        scores = torch.movedim(scores, 1, -1).reshape(-1, scores.shape[1])
    else:
        scores = scores.reshape(-1)
    labels = labels.reshape(-1)
    if ignore is None:
        return scores, labels
    valid = labels != ignore
    return scores[valid], labels[valid]


def ref_lovasz_hinge(logits, labels, per_image=True, ignore=None):
    """Berman's lovasz_hinge: (N, *s) logits; the mean over images with per_image."""
    if per_image:
        losses = [
            ref_hinge_flat(*ref_flatten(x[None], y[None], ignore, False))
            for x, y in zip(logits, labels, strict=True)
        ]
        return sum(losses) / len(losses)
    return ref_hinge_flat(*ref_flatten(logits, labels, ignore, False))


def ref_lovasz_softmax(probas, labels, classes="present", per_image=False, ignore=None):
    """Berman's lovasz_softmax: (N, C, *s) probabilities, (N, *s) labels."""
    if per_image:
        losses = [
            ref_softmax_flat(*ref_flatten(p[None], y[None], ignore, True), classes)
            for p, y in zip(probas, labels, strict=True)
        ]
        return sum(losses) / len(losses)
    return ref_softmax_flat(*ref_flatten(probas, labels, ignore, True), classes)


class RefSmpLovaszLoss(torch.nn.Module):
    """segmentation_models_pytorch.losses.LovaszLoss, restated: binary mode the hinge on
    logits, multiclass mode softmax(dim=1) then the softmax loss over present classes."""

    def __init__(self, mode: str, per_image: bool = False, ignore_index: int | None = None):
        super().__init__()
        self.mode, self.per_image, self.ignore_index = mode, per_image, ignore_index

    def forward(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        if self.mode == "binary":
            return ref_lovasz_hinge(y_pred, y_true, self.per_image, self.ignore_index)
        return ref_lovasz_softmax(
            y_pred.softmax(dim=1), y_true, "present", self.per_image, self.ignore_index
        )


# ---- helpers -------------------------------------------------------------------------------------
def binary_case(rng, shape=(4, 5, 6), ignore=None, fraction=0.2):
    logits = rng.normal(size=shape) * 2.0
    target = rng.integers(0, 2, size=shape).astype(np.float64)
    if ignore is not None:
        target = np.where(rng.random(shape) < fraction, float(ignore), target)
    return logits, target


def multiclass_case(rng, shape=(3, 5, 4), n_classes=4, ignore=None, fraction=0.2):
    """(logits (N, *s, C), labels (N, *s)); class 2 absent from the first image."""
    logits = rng.normal(size=(*shape, n_classes)) * 2.0
    labels = rng.integers(0, n_classes, size=shape)
    labels[0] = np.where(labels[0] == 2, 0, labels[0])
    if ignore is not None:
        labels = np.where(rng.random(shape) < fraction, ignore, labels)
    return logits, labels


def softmax_np(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def to_torch(*arrays, grad_first=True):
    out = [torch.tensor(a) for a in arrays]
    if grad_first:
        out[0].requires_grad_(True)
    return out


def torch_value_grad(fn, x, *rest):
    x = torch.tensor(x, requires_grad=True)
    value = fn(x, *[torch.tensor(r) for r in rest])
    (grad,) = torch.autograd.grad(value, x)
    return float(value.detach()), grad.numpy()


def ours_torch(loss, x, y, **kw):
    return torch_value_grad(lambda a, b: loss(a, b, **kw), x, y)


_JITTED: dict = {}


def ours_jax_many(loss, xs, ys, **kw):
    """(values, gradients) of a stack of problems of one shape: jit(vmap(value_and_grad)),
    one compilation per loss, setting and shape (eager JAX compiles every primitive)."""
    key = (loss.name, tuple(sorted(kw.items())))
    if key not in _JITTED:
        _JITTED[key] = jax.jit(jax.vmap(jax.value_and_grad(lambda a, b: loss(a, b, **kw))))
    values, grads = _JITTED[key](jnp.asarray(np.stack(xs)), jnp.asarray(np.stack(ys)))
    return np.asarray(values), np.asarray(grads)


def ours_jax(loss, x, y, **kw):
    values, grads = ours_jax_many(loss, [x], [y], **kw)
    return float(values[0]), grads[0]


HINGE_SETTINGS = [
    {"per_image": True},
    {"per_image": False},
    {"per_image": True, "ignore_index": 255},
    {"per_image": False, "ignore_index": -100},
]


# ---- lovasz_hinge against Berman and smp -----------------------------------------------------
def settings_id(kw):
    return ",".join(f"{k}={v}" for k, v in kw.items())


def compare_many(loss, ref, problems, kw, use_jax=True):
    """Worst |value - ref| and |grad - ref grad| over the problems, ours on torch (autograd)
    and, with ``use_jax``, on JAX (jit, vmap, grad: one compilation for all the problems),
    the reference by torch autograd."""
    worst_value = worst_grad = 0.0
    refs = [torch_value_grad(ref, x, y) for x, y in problems]
    ours = [ours_torch(loss, x, y, **kw) for x, y in problems]
    if use_jax:
        jax_values, jax_grads = ours_jax_many(loss, *zip(*problems, strict=True), **kw)
        ours += list(zip(jax_values.tolist(), jax_grads, strict=True))
    for (v, g), (ref_v, ref_g) in zip(ours, refs + refs, strict=False):
        worst_value = max(worst_value, abs(v - ref_v))
        worst_grad = max(worst_grad, float(np.max(np.abs(g - ref_g))))
    return worst_value, worst_grad


@pytest.mark.parametrize("kw", HINGE_SETTINGS, ids=settings_id)
def test_hinge_matches_berman_value_and_gradient(kw):
    """float64, 16 random problems a setting, (N, H, W) and (N, D, H, W): values and
    gradients (torch autograd through ours; jax.grad under jit and vmap on the first shape
    where pixels are ignored) to 1e-13."""
    rng = np.random.default_rng(0)
    ignore = kw.get("ignore_index")

    def ref(x, y):
        return ref_lovasz_hinge(x, y, kw["per_image"], ignore)

    for shape in ((3, 4, 5), (2, 3, 3, 4)):
        problems = [binary_case(rng, shape, ignore) for _ in range(8)]
        use_jax = len(shape) == 3 and kw in HINGE_SETTINGS[2:]  # one compilation a case
        worst_value, worst_grad = compare_many(lovasz_hinge, ref, problems, kw, use_jax)
        assert worst_value < 1e-13, worst_value
        assert worst_grad < 1e-13, worst_grad


@pytest.mark.parametrize("per_image", [False, True])
@pytest.mark.parametrize("ignore", [None, 255])
def test_hinge_matches_smp(per_image, ignore):
    """smp's LovaszLoss(mode="binary") in float32 and float64, value and gradient."""
    rng = np.random.default_rng(1)
    for dtype, tol in ((np.float64, 1e-13), (np.float32, 2e-6)):
        logits, target = binary_case(rng, (4, 6, 7), ignore)
        logits = logits.astype(dtype)
        ref = RefSmpLovaszLoss("binary", per_image, ignore)
        ref_v, ref_g = torch_value_grad(ref, logits, target.astype(dtype))
        v, g = ours_torch(lovasz_hinge, logits, target.astype(dtype), per_image=per_image,
                          ignore_index=ignore)  # fmt: skip
        assert abs(v - ref_v) <= tol * max(1.0, abs(ref_v))
        assert np.max(np.abs(g - ref_g)) <= tol


# ---- lovasz_softmax against Berman and smp ---------------------------------------------------
SOFTMAX_SETTINGS = [
    {"classes": "present", "per_image": False},
    {"classes": "present", "per_image": True},
    {"classes": "all", "per_image": False},
    {"classes": "all", "per_image": True},
    {"classes": "present", "per_image": True, "ignore_index": 255},
    {"classes": "all", "per_image": False, "ignore_index": 1},
]


@pytest.mark.parametrize("kw", SOFTMAX_SETTINGS, ids=settings_id)
def test_softmax_matches_berman_value_and_gradient(kw):
    """float64 probabilities (N, *s, C) against Berman's on (N, C, *s): values and gradients
    with respect to the probabilities to 1e-13, on torch (and under jax.jit and vmap for the
    first shape, by default and where pixels are ignored)."""
    rng = np.random.default_rng(2)
    ignore = kw.get("ignore_index")

    def ref(p, y):
        return ref_lovasz_softmax(
            torch.movedim(p, -1, 1), y, kw["classes"], kw["per_image"], ignore
        )

    for shape in ((3, 4, 5), (2, 6)):
        problems = []
        for _ in range(6):
            logits, labels = multiclass_case(rng, shape, 4, ignore)
            problems.append((softmax_np(logits), labels))
        use_jax = len(shape) == 3 and kw in (SOFTMAX_SETTINGS[0], *SOFTMAX_SETTINGS[4:])
        worst_value, worst_grad = compare_many(lovasz_softmax, ref, problems, kw, use_jax)
        assert worst_value < 1e-13, worst_value
        assert worst_grad < 1e-13, worst_grad


@pytest.mark.parametrize("per_image", [False, True])
@pytest.mark.parametrize("ignore", [None, 255])
def test_softmax_matches_smp_on_logits(per_image, ignore):
    """smp's LovaszLoss(mode="multiclass") on (N, C, H, W) logits: ours with
    from_logits=True, axis=1 (the class axis where torch puts it), value and logit gradient:
    float64 to 1e-13 (torch; JAX under jit and vmap in one setting), float32 to 2e-6
    (torch)."""
    rng = np.random.default_rng(3)
    kw = {"per_image": per_image, "ignore_index": ignore, "from_logits": True, "axis": 1}
    ref = RefSmpLovaszLoss("multiclass", per_image, ignore)
    problems = []
    for _ in range(4):
        logits, labels = multiclass_case(rng, (3, 5, 6), 5, ignore)
        problems.append((np.moveaxis(logits, -1, 1), labels))  # (N, C, H, W)
    use_jax = per_image and ignore is not None  # one compilation
    worst_value, worst_grad = compare_many(lovasz_softmax, ref, problems, kw, use_jax)
    assert worst_value < 1e-13, worst_value
    assert worst_grad < 1e-13, worst_grad
    for logits, labels in problems:
        logits = logits.astype(np.float32)
        ref_v, ref_g = torch_value_grad(ref, logits, labels)
        v, g = ours_torch(lovasz_softmax, logits, labels, **kw)
        assert abs(v - ref_v) <= 2e-6 * max(1.0, abs(ref_v))
        assert np.max(np.abs(g - ref_g)) <= 2e-6


# ---- every backend, both precisions ---------------------------------------------------------
BACKENDS = {
    "numpy": lambda a: a,
    "torch": torch.asarray,
    "array_api_strict": xps.asarray,
}


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_backends_agree(backend, dtype):
    """Each backend against the float64 NumPy result: per image and over the batch, with
    ignored pixels, hinge and softmax (on probabilities and on logits); the result keeps the
    input's dtype. (JAX runs under jit and vmap in the reference tests; the generic suites
    run every backend, eager JAX included.)"""
    rng = np.random.default_rng(4)
    tol = 1e-14 if dtype == "float64" else 3e-6
    logits, target = binary_case(rng, (3, 4, 5), 255)
    z, labels = multiclass_case(rng, (3, 4, 5), 4, 255)
    conv = BACKENDS[backend]
    cases = [
        (lovasz_hinge, logits, target, {"ignore_index": 255}),
        (lovasz_hinge, logits, target, {"per_image": False, "ignore_index": 255}),
        (lovasz_softmax, softmax_np(z), labels, {"ignore_index": 255, "per_image": True}),
        (lovasz_softmax, z, labels, {"ignore_index": 255, "from_logits": True, "classes": "all"}),
    ]
    for loss, x, y, kw in cases:
        expected = np.asarray(loss(x, y, reduction="none", **kw))
        out = loss(conv(x.astype(dtype)), conv(y), reduction="none", **kw)
        assert str(out.dtype).endswith(dtype)
        got = np.from_dlpack(out).astype(np.float64)
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


def test_float32_weights_at_a_million_pixels():
    """The closed-form weights keep float32 within 2 ulps of the float64 weights at 10^6
    pixels, and they sum to 1; Berman's differences of 1 - I/U lose 2.5% of a typical
    (median) weight there in float32."""
    from array_api_compat import array_namespace

    from lossatlas.lovasz import jaccard_weights

    fg = torch.asarray(np.random.default_rng(6).random(1_000_000) < 0.3)
    xp = array_namespace(fg)
    valid = torch.ones_like(fg)
    exact = jaccard_weights(xp, fg, valid, torch.zeros((), dtype=torch.float64))
    single = jaccard_weights(xp, fg, valid, torch.zeros((), dtype=torch.float32)).double()
    positive = exact > 0
    assert float(((single - exact).abs() / exact)[positive].max()) < 2.5e-7
    assert float(exact.sum()) == pytest.approx(1.0, abs=1e-12)
    berman = ref_lovasz_grad(fg.float()).double()
    assert float(((berman - exact).abs() / exact)[positive].median()) > 1e-2


# ---- masking equals dropping; empty cases ------------------------------------------------------
def test_ignored_pixels_equal_dropping_them():
    """Pixels at ignore_index change neither value nor gradient of the others, whatever their
    logits (NaN and inf included), and get a zero gradient: the loss of the valid pixels
    alone (one image of the valid ones)."""
    rng = np.random.default_rng(7)
    for _ in range(10):
        logits, target = binary_case(rng, (1, 40), 255, fraction=0.4)
        ignored = target == 255
        poisoned = np.where(ignored, rng.choice([np.nan, np.inf, -np.inf, 1e30], (1, 40)), logits)
        v, g = ours_torch(lovasz_hinge, poisoned, target, ignore_index=255)
        keep = ~ignored[0]
        v0, g0 = ours_torch(lovasz_hinge, logits[:, keep], target[:, keep])
        assert abs(v - v0) < 1e-14
        np.testing.assert_allclose(g[:, keep], g0, atol=1e-15)
        assert np.all(g[ignored] == 0)
        z, labels = multiclass_case(rng, (1, 40), 4, 255, fraction=0.4)
        ignored = labels == 255
        z = np.where(ignored[..., None], np.nan, z)
        for classes in ("present", "all"):
            v, g = ours_torch(lovasz_softmax, z, labels, ignore_index=255, from_logits=True,
                              classes=classes)  # fmt: skip
            keep = ~ignored[0]
            v0, g0 = ours_torch(lovasz_softmax, z[:, keep], labels[:, keep], from_logits=True,
                                classes=classes)  # fmt: skip
            assert abs(v - v0) < 1e-14
            np.testing.assert_allclose(g[:, keep], g0, atol=1e-15)
            assert np.all(g[ignored] == 0)


def test_empty_cases_are_finite_and_follow_the_reference():
    """No foreground: the loss is the largest hinge error (Berman's gives the same); every
    pixel ignored: 0 with a zero, finite gradient (per image too: the image counts as 0 in
    the mean, as in Berman's); an absent class under "all" costs its largest probability, and
    "present" with nothing present gives 0."""
    x = np.array([[[-0.5, 0.3], [2.0, -3.0]]])
    y = np.zeros_like(x)
    v, g = ours_torch(lovasz_hinge, x, y)
    assert v == pytest.approx(3.0)  # max(1 + x)
    ref_v, ref_g = torch_value_grad(lambda a, b: ref_lovasz_hinge(a, b), x, y)
    assert v == pytest.approx(ref_v, abs=1e-15)
    np.testing.assert_array_equal(g, ref_g)
    # every pixel ignored, for one image of two and for the whole batch; NaN logits there
    x2 = np.concatenate([np.full_like(x, np.nan), x])
    y2 = np.stack([np.full((2, 2), 255.0), np.array([[1.0, 0.0], [1.0, 1.0]])])
    y1 = np.full_like(x, 255.0)
    p = softmax_np(np.arange(12.0).reshape(1, 2, 2, 3))
    labels = np.full((1, 2, 2), 255)

    def cases(x2, y2, x, y1, p, labels, grad=torch.autograd.grad):
        """(value, gradient) of each empty case, by ``grad`` (torch's or JAX's)."""
        return [
            grad(lambda a: lovasz_hinge(a, y2, ignore_index=255), x2),
            grad(lambda a: lovasz_hinge(a, y1, ignore_index=255, per_image=False), x),
            grad(lambda a: lovasz_softmax(a, labels, ignore_index=255), p),
            grad(lambda a: lovasz_softmax(a, labels, ignore_index=255, classes="all"), p),
        ]

    def torch_grad(f, a):
        a = a.clone().requires_grad_(True)
        value = f(a)
        return value.detach().numpy(), torch.autograd.grad(value, a)[0].numpy()

    arrays = (x2, y2, x, y1, p, labels)
    got = {
        "torch": cases(*(torch.tensor(a) for a in arrays), grad=torch_grad),
        "jax": jax.jit(lambda *a: cases(*a, grad=lambda f, x: jax.value_and_grad(f)(x)))(
            *map(jnp.asarray, arrays)
        ),
    }
    ref_v = float(ref_lovasz_hinge(torch.tensor(x), torch.tensor(y2[1:])) / 2)
    for backend, results in got.items():
        (v, g), *rest = [(float(v), np.asarray(g)) for v, g in results]
        assert v == pytest.approx(ref_v, abs=1e-15), backend  # the ignored image counts as 0
        assert np.all(g[0] == 0) and np.all(np.isfinite(g)), backend
        for v, g in rest:
            assert v == 0.0 and np.all(g == 0), backend
    # an absent class under "all": its largest probability; under "present": skipped
    p = softmax_np(np.random.default_rng(8).normal(size=(1, 3, 3)))
    labels = np.array([[0, 1, 1]])
    all_v = float(lovasz_softmax(p, labels, classes="all"))
    present_v = float(lovasz_softmax(p, labels, classes="present"))
    assert all_v == pytest.approx((2 * present_v + p[0, :, 2].max()) / 3, abs=1e-15)


# ---- closed forms -------------------------------------------------------------------------------
def iou(pred: np.ndarray, truth: np.ndarray) -> float:
    union = np.sum(pred | truth)
    return 1.0 if union == 0 else np.sum(pred & truth) / union


def test_hard_predictions_give_twice_the_jaccard_loss():
    """At logits +-1 the hinge errors are 0 (right) or 2 (wrong), and the Lovász extension
    equals the set function on such vectors (times 2): 2 (1 - IoU) of the predicted mask."""
    rng = np.random.default_rng(9)
    for _ in range(20):
        truth = rng.random((1, 6, 6)) < 0.4
        pred = rng.random((1, 6, 6)) < 0.4
        logits = np.where(pred, 1.0, -1.0)
        got = float(lovasz_hinge(logits, truth.astype(np.float64)))
        assert got == pytest.approx(2.0 * (1.0 - iou(pred[0], truth[0])), abs=1e-14)


def test_hard_probabilities_give_the_mean_jaccard_loss():
    """One-hot probabilities: errors 0/1, so the loss is the mean over present classes of
    1 - IoU of the predicted label map (the mIoU loss)."""
    rng = np.random.default_rng(10)
    for _ in range(20):
        truth = rng.integers(0, 4, size=(1, 5, 5))
        pred = rng.integers(0, 4, size=(1, 5, 5))
        probas = np.eye(4)[pred]
        present = np.unique(truth)
        expected = np.mean([1.0 - iou(pred == c, truth == c) for c in present])
        got = float(lovasz_softmax(probas, truth))
        assert got == pytest.approx(expected, abs=1e-14)
        every = np.mean([1.0 - iou(pred == c, truth == c) for c in range(4)])
        assert float(lovasz_softmax(probas, truth, classes="all")) == pytest.approx(
            every, abs=1e-14
        )


def test_perfect_and_uninformed_predictions():
    """Margins >= 1 everywhere: 0 (and a zero gradient); logits 0: every error 1, so the loss
    is Delta_J(all pixels) = 1; a perfect one-hot prediction: 0."""
    rng = np.random.default_rng(11)
    target = (rng.random((2, 4, 4)) < 0.5).astype(np.float64)
    logits = (2 * target - 1) * (1.0 + rng.random((2, 4, 4)))
    v, g = ours_torch(lovasz_hinge, logits, target)
    assert v == 0.0 and np.all(g == 0)
    assert float(lovasz_hinge(np.zeros((2, 4, 4)), target)) == pytest.approx(1.0, abs=1e-15)
    labels = rng.integers(0, 3, size=(2, 4, 4))
    assert float(lovasz_softmax(np.eye(3)[labels], labels)) == 0.0


# ---- ties and the sort --------------------------------------------------------------------------
def test_value_does_not_depend_on_the_order_of_ties_and_gradients_agree_across_backends():
    """Errors with many ties (logits on a grid of 3 values, probabilities of 2 values): the
    value is the same for any permutation of the pixels (the Lovász extension is well
    defined); the stable sort gives torch and JAX the same subgradient, bit for bit; it is a
    subgradient (the value along random directions grows at least as fast as the gradient
    says: convexity)."""
    rng = np.random.default_rng(12)
    logits = rng.choice([-1.0, 0.0, 1.0], size=(1, 30))
    target = rng.integers(0, 2, size=(1, 30)).astype(np.float64)
    probas = np.eye(3)[rng.integers(0, 3, size=(1, 30))] * 0.5 + 0.5 / 3
    labels = rng.integers(0, 3, size=(1, 30))
    v, g = ours_torch(lovasz_hinge, logits, target)
    sv, sg = ours_torch(lovasz_softmax, probas, labels)

    @jax.jit
    def both(x, y, p, c):
        return (jax.value_and_grad(lambda a: lovasz_hinge(a, y))(x),
                jax.value_and_grad(lambda a: lovasz_softmax(a, c))(p))  # fmt: skip

    (jv, jg), (jsv, jsg) = both(*map(jnp.asarray, (logits, target, probas, labels)))
    assert v == float(jv) == float(lovasz_hinge(xps.asarray(logits), xps.asarray(target)))
    np.testing.assert_array_equal(g, np.asarray(jg))
    assert sv == pytest.approx(float(jsv), abs=1e-15)
    np.testing.assert_array_equal(sg, np.asarray(jsg))
    for _ in range(10):
        perm = rng.permutation(30)
        assert float(lovasz_hinge(logits[:, perm], target[:, perm])) == pytest.approx(v, abs=1e-15)
        moved = float(lovasz_softmax(probas[:, perm], labels[:, perm]))
        assert moved == pytest.approx(sv, abs=1e-15)
        d = rng.normal(size=(1, 30))
        for h in (1e-3, 1e-1):
            moved = float(lovasz_hinge(logits + h * d, target))
            assert moved >= v + h * float(np.sum(g * d)) - 1e-12


# ---- inputs and errors ------------------------------------------------------------------------
def test_bad_inputs_raise():
    x = np.zeros((2, 3, 3))
    with pytest.raises(LossInputError, match="target"):
        lovasz_hinge(x, np.full((2, 3, 3), 0.5))  # a soft label
    with pytest.raises(LossInputError, match="target"):
        lovasz_hinge(x, np.full((2, 3, 3), 255.0))  # 255 without ignore_index
    with pytest.raises(LossInputError, match="target"):
        lovasz_hinge(x, np.zeros((2, 3, 4)))
    p = np.full((2, 3, 4), 0.25)
    with pytest.raises(LossInputError, match="target"):
        lovasz_softmax(p, np.full((2, 3), 4))  # class 4 of 4
    with pytest.raises(LossInputError, match="probas"):
        lovasz_softmax(p * 2, np.zeros((2, 3), dtype=np.int64))  # not probabilities
    with pytest.raises(LossInputError, match="classes"):
        lovasz_softmax(p, np.zeros((2, 3), dtype=np.int64), classes="some")
    with pytest.raises(LossInputError, match="target"):
        lovasz_softmax(p, np.zeros((2, 3)))  # float labels


def test_registered_and_documented():
    for name in ("lovasz_hinge", "lovasz_softmax"):
        loss = lossatlas.get(name)
        assert loss.spec.family == "segmentation"
        assert loss.spec.boosting.kind == "none"
        assert loss.properties().smoothness == "C0"
    assert lossatlas.get("lovasz_hinge").properties().convex
    assert lossatlas.get("lovasz_softmax").properties().convex  # in the probabilities
    assert not lossatlas.get("lovasz_softmax").properties(from_logits=True).convex
    assert math.isfinite(float(lovasz_hinge(np.zeros((1, 2)), np.ones((1, 2)))))


def test_torch_modules_are_drop_in_for_smp():
    """lossatlas.torch.LovaszSoftmaxLoss(from_logits=True) takes smp's (N, C, H, W) logits
    (dim=1 by default) and LovaszHingeLoss(per_image=False) its binary (N, H, W) logits: same
    values and gradients as smp's LovaszLoss."""
    import lossatlas.torch as lt

    rng = np.random.default_rng(13)
    logits, labels = multiclass_case(rng, (2, 5, 6), 3, 255)
    logits = np.moveaxis(logits, -1, 1)
    ours = lt.LovaszSoftmaxLoss(from_logits=True, ignore_index=255)
    theirs = RefSmpLovaszLoss("multiclass", False, 255)
    v, g = torch_value_grad(ours, logits, labels)
    ref_v, ref_g = torch_value_grad(theirs, logits, labels)
    assert abs(v - ref_v) < 1e-13 and np.max(np.abs(g - ref_g)) < 1e-13
    x, y = binary_case(rng, (2, 5, 6))
    v, g = torch_value_grad(lt.LovaszHingeLoss(per_image=False), x, y)
    ref_v, ref_g = torch_value_grad(RefSmpLovaszLoss("binary", False), x, y)
    assert abs(v - ref_v) < 1e-13 and np.max(np.abs(g - ref_g)) < 1e-13


def test_softmax_on_infinite_logits_against_mpmath():
    """from_logits=True at logits of +-inf, +-40 and 0 (the edge suite runs the probability
    form): the value of the mpmath reference (_reference.lovasz_softmax, the limit of the
    softmax at an infinite logit), and finite gradients on torch."""
    import mpmath as mp
    from _reference import lovasz_softmax as reference

    values = np.array([-np.inf, -40.0, 0.0, 40.0, np.inf])
    rng = np.random.default_rng(14)
    logits = rng.choice(values, size=(3, 4, 3))
    logits[..., 0] = 0.0  # every pixel keeps a finite class
    labels = rng.integers(0, 3, size=(3, 4))
    for classes in ("present", "all"):
        _, g = ours_torch(lovasz_softmax, logits, labels, from_logits=True, classes=classes,
                          per_image=True)  # fmt: skip
        assert np.all(np.isfinite(g))
        got = np.asarray(lovasz_softmax(logits, labels, from_logits=True, classes=classes,
                                        per_image=True, reduction="none"))  # fmt: skip
        for n in range(3):
            rows = [[mp.mpf(float(z)) for z in pixel] for pixel in logits[n]]
            ref = reference(rows, [int(y) for y in labels[n]], classes=classes,
                            ignore_index=None, from_logits=True, n_classes=3)  # fmt: skip
            assert got[n] == pytest.approx(float(ref), rel=1e-14, abs=1e-300)
