"""ctc_loss and ctc_batch_cost against other implementations, and the edge cases of CTC.

Peers: ``torch.nn.functional.ctc_loss`` (time-major, so log_probs.transpose(0, 1); every
reduction, ``zero_infinity`` both ways, values and the gradient with respect to the logits
before a log_softmax), ``optax.ctc_loss`` (logits in, its own log_softmax; per-sequence losses;
under ``jax.jit``, values and ``jax.grad``), and Keras 3 on the JAX backend:
``keras.ops.ctc_loss(target, output, target_length, output_length, mask_index)`` takes logits
(it applies a log_softmax) with the blank at ``mask_index`` and computes in float32 whatever the
input dtype, so it is a float32 reference. Keras's legacy ``ctc_batch_cost`` (in
keras.src.legacy.backend) calls TensorFlow, which is not installed here: its definition,
tf.nn.ctc_loss on log(y_pred + 1e-7) with the blank last, is checked through TensorFlow's
documented semantics (its CTC applies a softmax to its inputs) and through keras.ops.ctc_loss
(the comparison with the legacy function itself needs TensorFlow: the frameworks issue).

The peers' own behaviours, as observed here (torch 2.x CPU, optax 0.2.8, Keras 3.15):

- optax has no -inf: it stands log 0 in for ``log_epsilon = -1e5``, so an impossible alignment
  gets a large finite loss (about 1e5 plus the finite part, e.g. 100005.7) instead of inf;
  keras.ops.ctc_loss, a port of it, does the same. Compared only where both are defined.
- torch's gradient of an inf loss (zero_infinity=False) is NaN on that sample's frames;
  lossatlas's is 0.
- torch's gradient with respect to a *free* log_probs is exp(log_probs) - occupancy (the
  gradient after a log_softmax), not the derivative of the loss, which is -occupancy.
- torch in float32 can return a slightly negative loss where the target is (almost) certain,
  down to -1.2e-7 (18 of 300 draws of test_float32_loss_is_never_negative's construction);
  lossatlas clamps at 0.
"""

# ruff: noqa: E402
from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax
import jax.numpy as jnp

jax.config.update("jax_enable_x64", True)

import keras
import numpy as np
import optax
import pytest
import torch
import torch.nn.functional as F

import lossatlas as la
import lossatlas.torch as lt
from lossatlas import LossInputError

EPS = 1e-7  # Keras's epsilon
# keras.ops.ctc_loss under one jit per shape (eagerly its scan recompiles on every call)
keras_ctc = jax.jit(keras.ops.ctc_loss, static_argnames="mask_index")
KERAS_SHAPE = (6, 15, 6, 5)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """These are tiny tensors: torch's intra-op threads only contend (on a loaded machine they
    make the file twice as slow). Restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ---- random cases -------------------------------------------------------------------------------
def blank_of(where: str, n_classes: int) -> int:
    return {"first": 0, "last": n_classes - 1, "middle": n_classes // 2}[where]


def needed_frames(targets: np.ndarray, target_lengths: np.ndarray) -> np.ndarray:
    """The fewest frames an alignment of each target needs: a frame per label and a blank
    between equal neighbours."""
    s = targets.shape[-1]
    repeats = (targets[..., 1:] == targets[..., :-1]) & (
        np.arange(1, s) < target_lengths[..., None]
    )
    return target_lengths + repeats.sum(axis=-1)


def random_case(rng, n, t, c, s, blank, impossible=False, pad=-1):
    """Logits (n, t, c), targets (n, s) padded with ``pad`` past random lengths in [0, s]
    (the first sample's is 0) with frequent repeated labels, input lengths in [needed, t]
    (the last sample's below t where possible); with ``impossible`` the second sample gets
    one frame fewer than its target needs."""
    logits = rng.normal(size=(n, t, c)) * 2.0
    labels = np.array([k for k in range(c) if k != blank])
    targets = rng.choice(labels, size=(n, s))
    repeat = rng.random((n, s)) < 0.3
    for j in range(1, s):
        targets[:, j] = np.where(repeat[:, j], targets[:, j - 1], targets[:, j])
    target_lengths = rng.integers(0, s + 1, size=n)
    target_lengths[0] = 0
    if n > 1:
        target_lengths[1] = max(target_lengths[1], 1)
    need = needed_frames(targets, target_lengths)
    assert np.all(need <= t)
    input_lengths = rng.integers(need, t + 1)
    input_lengths[-1] = max(need[-1], min(input_lengths[-1], t - 1))
    if impossible:
        input_lengths[1] = need[1] - 1
    targets = np.where(np.arange(s) < target_lengths[:, None], targets, pad)
    return logits, targets, input_lengths, target_lengths


def log_softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


# (N, T, C, S): 2S <= T so that every target fits
SHAPES = [(1, 4, 3, 2), (3, 7, 4, 3), (4, 12, 6, 5), (5, 20, 5, 8), (2, 9, 2, 4)]
SEEDS = range(3)


# ---- torch --------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("where", ["first", "last", "middle"])
def test_equals_torch_ctc_loss(dtype, where):
    """Every reduction and zero_infinity both ways, impossible samples included (inf in both),
    equals F.ctc_loss; the gradient with respect to the logits (log_probs = log_softmax) too."""
    rtol = 1e-10 if dtype == torch.float64 else 1e-5
    atol = 1e-10 if dtype == torch.float64 else 1e-5
    grad_atol = 1e-10 if dtype == torch.float64 else 3e-5  # float32: up to 1e-5 seen
    for seed in SEEDS:
        for shape in SHAPES:
            rng = np.random.default_rng([seed, *shape])
            c = shape[2]
            blank = blank_of(where, c)
            impossible = seed == 1 and shape[0] > 1
            logits, tg, il, tl = random_case(rng, *shape, blank, impossible=impossible)
            args = (torch.tensor(tg), torch.tensor(il), torch.tensor(tl))
            for zero_infinity in (False, True):
                for reduction in ("none", "sum", "mean"):
                    ours_x = torch.tensor(logits, dtype=dtype, requires_grad=True)
                    theirs_x = torch.tensor(logits, dtype=dtype, requires_grad=True)
                    kw = dict(blank=blank, zero_infinity=zero_infinity, reduction=reduction)
                    ours = la.ctc_loss(torch.log_softmax(ours_x, -1), *args, **kw)
                    theirs = F.ctc_loss(
                        torch.log_softmax(theirs_x, -1).transpose(0, 1), *args, **kw
                    )
                    assert ours.dtype == dtype
                    np.testing.assert_allclose(
                        ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol, atol=atol
                    )
                    ours.sum().backward()
                    theirs.sum().backward()
                    mine, its = ours_x.grad.numpy(), theirs_x.grad.numpy()
                    # an inf loss: torch's gradient is NaN on that sample's frames, ours 0
                    nan = np.isnan(its)
                    assert np.any(nan) == (impossible and not zero_infinity)
                    np.testing.assert_array_equal(mine[nan], 0.0)
                    np.testing.assert_allclose(mine[~nan], its[~nan], rtol=rtol, atol=grad_atol)


def test_torch_gradient_of_free_log_probs_is_shifted_by_exp_log_probs():
    """For a free log_probs tensor torch's backward gives exp(log_probs) - gamma while
    ctc_loss.grad (and autograd through lossatlas) gives -gamma, the derivative: they differ by
    exactly exp(log_probs) on the frames within each input length, and are both 0 past it."""
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        logits, tg, il, tl = random_case(rng, 4, 10, 5, 4, blank=0)
        lp = log_softmax(logits)
        args = (torch.tensor(tg), torch.tensor(il), torch.tensor(tl))
        theirs_x = torch.tensor(lp, requires_grad=True)
        F.ctc_loss(theirs_x.transpose(0, 1), *args, reduction="sum").backward()
        ours_x = torch.tensor(lp, requires_grad=True)
        la.ctc_loss(ours_x, *args, reduction="sum").backward()
        grad = la.ctc_loss.grad(lp, tg, il, tl)
        np.testing.assert_allclose(ours_x.grad.numpy(), grad, rtol=1e-10, atol=1e-12)
        active = (np.arange(10)[None, :] < il[:, None])[..., None]
        np.testing.assert_allclose(
            theirs_x.grad.numpy() - grad, np.where(active, np.exp(lp), 0.0), atol=1e-12
        )
        assert np.all(grad <= 0) and np.all(grad[~np.broadcast_to(active, grad.shape)] == 0)
        # each active frame's occupancy is a distribution over the classes
        np.testing.assert_allclose(-grad.sum(axis=-1), np.where(active[..., 0], 1.0, 0.0))
        np.testing.assert_allclose(
            la.ctc_loss.hess(lp, tg, il, tl), grad * grad + grad, rtol=1e-12, atol=1e-15
        )


# ---- optax --------------------------------------------------------------------------------------
def paddings(lengths, width):
    return (np.arange(width)[None, :] >= lengths[:, None]).astype(np.float64)


# (shape, blank): jit compiles once per shape and blank, so few of them
OPTAX_CASES = [((4, 12, 6, 5), "first"), ((4, 12, 6, 5), "last"), ((5, 20, 5, 8), "middle")]


@pytest.mark.parametrize("shape, where", OPTAX_CASES)
def test_equals_optax_ctc_loss(shape, where):
    """optax.ctc_loss (logits, its own log_softmax, per-sequence losses) equals
    ctc_loss(log_softmax(logits), reduction="none") under jax.jit, and so do their jax.grads
    with respect to the logits; where the alignment is impossible optax returns a finite
    ~1e5 (log_epsilon = -1e5 stands for log 0), lossatlas inf."""
    _, t, c, s = shape
    blank = blank_of(where, c)

    def ours(x, targets, il, tl, lpad, tpad, ok):
        loss = la.ctc_loss(jax.nn.log_softmax(x), targets, il, tl, blank=blank, reduction="none")
        return jnp.sum(jnp.where(ok, loss, 0.0)), loss

    def theirs(x, targets, il, tl, lpad, tpad, ok):
        loss = optax.ctc_loss(x, lpad, targets, tpad, blank_id=blank)
        return jnp.sum(jnp.where(ok, loss, 0.0)), loss

    ours_fn = jax.jit(jax.value_and_grad(ours, has_aux=True))
    theirs_fn = jax.jit(jax.value_and_grad(theirs, has_aux=True))
    for seed in range(4):
        rng = np.random.default_rng([seed, *shape, 7])
        impossible = seed % 2 == 1
        logits, tg, il, tl = random_case(rng, *shape, blank, impossible=impossible)
        ok = needed_frames(np.where(tg < 0, blank, tg), tl) <= il
        assert np.all(ok) != impossible
        args = [jnp.asarray(a) for a in (logits, tg, il, tl, paddings(il, t), paddings(tl, s), ok)]
        (_, a), ga = ours_fn(*args)
        (_, b), gb = theirs_fn(*args)
        a, b = np.asarray(a), np.asarray(b)
        np.testing.assert_array_equal(np.isfinite(a), ok)
        np.testing.assert_allclose(a[ok], b[ok], rtol=1e-10, atol=1e-10)
        assert np.all(np.isfinite(b)) and np.all(b[~ok] > 1e4)  # optax: finite, about 1e5
        np.testing.assert_allclose(np.asarray(ga), np.asarray(gb), rtol=1e-9, atol=1e-10)


# ---- Keras --------------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["first", "last"])
def test_equals_keras_ops_ctc_loss(where):
    """keras.ops.ctc_loss(target, logits, target_length, output_length, mask_index=blank)
    (logits, the blank at mask_index; float32 inside) equals
    ctc_loss(log_softmax(logits), blank=blank, reduction="none") to float32 accuracy."""
    blank = blank_of(where, KERAS_SHAPE[2])
    for seed in range(4):
        rng = np.random.default_rng([seed, 11])
        logits, tg, il, tl = random_case(rng, *KERAS_SHAPE, blank)
        ours = la.ctc_loss(log_softmax(logits), tg, il, tl, blank=blank, reduction="none")
        theirs = keras_ctc(
            jnp.asarray(tg), jnp.asarray(logits), jnp.asarray(tl), jnp.asarray(il),
            mask_index=blank,
        )  # fmt: skip
        assert np.asarray(theirs).dtype == np.float32  # Keras computes in float32
        np.testing.assert_allclose(ours, np.asarray(theirs), rtol=2e-6, atol=2e-5)


def keras_batch_case(rng, n=6, t=15, c=6, s=5):
    logits, tg, il, tl = random_case(rng, n, t, c, s, blank=c - 1, pad=0)
    y_pred = np.exp(log_softmax(logits))
    return y_pred, tg, il[:, None], tl[:, None]


def test_ctc_batch_cost_is_tensorflow_ctc_on_log_y_pred_plus_epsilon():
    """ctc_batch_cost(y_true, y_pred, input_length, label_length) is Keras's legacy definition:
    tf.compat.v1.nn.ctc_loss (which applies a softmax to its inputs) on log(y_pred + 1e-7),
    the blank last, as (N, 1). That is ctc_loss on the renormalised log(y_pred + 1e-7) with
    blank C - 1 (float64, tight), and keras.ops.ctc_loss on the logits log(y_pred + 1e-7) with
    mask_index C - 1 (float32)."""
    for seed in SEEDS:
        rng = np.random.default_rng([seed, 13])
        y_pred, tg, il, tl = keras_batch_case(rng)
        c = y_pred.shape[-1]
        got = la.ctc_batch_cost(tg, y_pred, il, tl)
        assert got.shape == (6, 1)
        inputs = np.log(y_pred + EPS)
        ref = la.ctc_loss(
            log_softmax(inputs), tg, il[:, 0], tl[:, 0], blank=c - 1, reduction="none"
        )
        np.testing.assert_allclose(got[:, 0], ref, rtol=1e-12)
        theirs = keras_ctc(
            jnp.asarray(tg), jnp.asarray(inputs), jnp.asarray(tl[:, 0]), jnp.asarray(il[:, 0]),
            mask_index=c - 1,
        )  # fmt: skip
        np.testing.assert_allclose(got[:, 0], np.asarray(theirs), rtol=2e-6, atol=2e-5)
        # the renormalisation matters: without it each frame's total is 1 + C * 1e-7
        unnormalised = la.ctc_loss(inputs, tg, il[:, 0], tl[:, 0], blank=c - 1, reduction="none")
        np.testing.assert_allclose(
            got[:, 0] - unnormalised, il[:, 0] * np.log1p(c * EPS), rtol=1e-6
        )
    # torch tensors and lengths of shape (N,) too
    got_t = la.ctc_batch_cost(
        torch.tensor(tg), torch.tensor(y_pred), torch.tensor(il[:, 0]), torch.tensor(tl[:, 0])
    )
    assert tuple(got_t.shape) == (6, 1)
    np.testing.assert_allclose(got_t.numpy(), got, rtol=1e-12)


# ---- edge cases ---------------------------------------------------------------------------------
def backends(*arrays):
    yield arrays
    yield tuple(torch.tensor(a) for a in arrays)
    yield tuple(jnp.asarray(a) for a in arrays)


def to_numpy(x):
    return x.detach().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


@pytest.mark.parametrize("blank", [0, 3])
def test_empty_target_is_minus_the_blank_log_probabilities(blank):
    """Target length 0: the one alignment is all blanks, the loss -sum_t lp[t, blank] over the
    input length (0 for no frames), finite; the same as torch's where it has frames."""
    rng = np.random.default_rng(0)
    lp = log_softmax(rng.normal(size=(4, 6, 4)) * 3)
    tg = np.array([[1, 2], [-1, -1], [2, 2], [0, 0]]) if blank == 3 else np.full((4, 2), 2)
    il, tl = np.array([6, 4, 1, 0]), np.zeros(4, dtype=np.int64)
    expected = -np.array([lp[i, : il[i], blank].sum() for i in range(4)])
    for args in backends(lp, tg, il, tl):
        got = to_numpy(la.ctc_loss(*args, blank=blank, reduction="none"))
        np.testing.assert_allclose(got, expected, rtol=1e-13)
        assert got[3] == 0.0
    theirs = F.ctc_loss(
        torch.tensor(lp[:3]).transpose(0, 1), torch.tensor(tg[:3]), torch.tensor(il[:3]),
        torch.tensor(tl[:3]), blank=blank, reduction="none",
    )  # fmt: skip
    np.testing.assert_allclose(theirs.numpy(), expected[:3], rtol=1e-13)
    grad = la.ctc_loss.grad(lp, tg, il, tl, blank=blank)
    occupied = np.zeros_like(lp)
    for i in range(4):
        occupied[i, : il[i], blank] = 1.0
    np.testing.assert_allclose(grad, -occupied, rtol=0, atol=1e-13)


def test_impossible_alignment_is_inf_with_zero_gradient():
    """A target longer than the input, and [1, 1] in 2 frames (the repeat needs a blank
    between), have no alignment: inf, gradient 0 (ctc_loss.grad and autograd through the
    core), and 0 with gradient 0 under zero_infinity; [1, 1] in 3 frames has one alignment."""
    rng = np.random.default_rng(1)
    lp = log_softmax(rng.normal(size=(4, 3, 4)))
    tg = np.array([[1, 2, 3, 1], [1, 1, -1, -1], [1, 1, -1, -1], [2, 3, -1, -1]])
    il, tl = np.array([3, 2, 3, 3]), np.array([4, 2, 2, 2])
    one_path = -(lp[2, 0, 1] + lp[2, 1, 0] + lp[2, 2, 1])
    for zero_infinity in (False, True):
        for args in backends(lp, tg, il, tl):
            got = to_numpy(la.ctc_loss(*args, zero_infinity=zero_infinity, reduction="none"))
            bad = 0.0 if zero_infinity else np.inf
            np.testing.assert_array_equal(got[:2], [bad, bad])
            np.testing.assert_allclose(got[2], one_path, rtol=1e-13)
            assert np.isfinite(got[3])
        grad = la.ctc_loss.grad(lp, tg, il, tl, zero_infinity=zero_infinity)
        hess = la.ctc_loss.hess(lp, tg, il, tl, zero_infinity=zero_infinity)
        np.testing.assert_array_equal(grad[:2], 0.0)
        np.testing.assert_array_equal(hess[:2], 0.0)
        assert np.any(grad[2] != 0.0) and np.any(grad[3] != 0.0)
        x = torch.tensor(lp, requires_grad=True)
        loss = la.ctc_loss(x, *map(torch.tensor, (tg, il, tl)), zero_infinity=zero_infinity,
                           reduction="none")  # fmt: skip
        loss.sum().backward()
        auto = x.grad.numpy()
        assert np.all(np.isfinite(auto))
        np.testing.assert_array_equal(auto[:2], 0.0)
        np.testing.assert_allclose(auto, grad, rtol=1e-10, atol=1e-14)
        # torch agrees on the values
        theirs = F.ctc_loss(
            torch.tensor(lp).transpose(0, 1), *map(torch.tensor, (tg, il, tl)),
            zero_infinity=zero_infinity, reduction="none",
        )  # fmt: skip
        np.testing.assert_allclose(to_numpy(loss), theirs.numpy(), rtol=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
@pytest.mark.parametrize(
    "bad_label, blank", [(4, 0), (7, 0), (-1, 0), (-5, 2), (0, 0), (3, 3), (2, 2)]
)
def test_invalid_label_within_the_target_length_raises(backend, bad_label, blank):
    """A label >= C, < 0 or equal to the blank within a target length is an error naming
    'targets'; the same value past the target length is padding, ignored."""
    rng = np.random.default_rng(2)
    lp = log_softmax(rng.normal(size=(2, 6, 4)))
    ok = [k for k in (1, 2, 3, 0) if k != blank][:2]
    tg = np.array([[*ok, ok[0]], [ok[1], bad_label, ok[0]]])
    il, tl = np.array([6, 6]), np.array([3, 3])
    convert = {"numpy": np.asarray, "torch": torch.tensor, "jax": jnp.asarray}[backend]
    args = [convert(a) for a in (lp, tg, il, tl)]
    with pytest.raises(LossInputError, match="targets") as err:
        la.ctc_loss(*args, blank=blank)
    assert err.value.argument == "targets"
    tl_short = convert(np.array([3, 1]))  # the bad value now lies past the target length
    padded = la.ctc_loss(args[0], args[1], args[2], tl_short, blank=blank, reduction="none")
    clean = np.where(np.arange(3) < np.array([[3], [1]]), tg, ok[0])
    ref = la.ctc_loss(lp, clean, il, np.array([3, 1]), blank=blank, reduction="none")
    np.testing.assert_allclose(to_numpy(padded), ref, rtol=1e-13)


def test_padding_values_are_ignored():
    """Whatever fills the targets past their lengths (-1, 999, the blank, a label) does not
    change the loss or its gradient."""
    rng = np.random.default_rng(3)
    logits, tg, il, tl = random_case(rng, 5, 12, 6, 5, blank=0, pad=-1)
    lp = log_softmax(logits)
    live = np.arange(5) < tl[:, None]
    ref = la.ctc_loss(lp, tg, il, tl, reduction="none")
    ref_grad = la.ctc_loss.grad(lp, tg, il, tl)
    for pad in (999, 0, 5, 1, -(2**31)):
        padded = np.where(live, tg, pad)
        for args in list(backends(lp, padded, il, tl))[: 3 if pad == 999 else 2]:
            np.testing.assert_array_equal(to_numpy(la.ctc_loss(*args, reduction="none")), ref)
        np.testing.assert_array_equal(la.ctc_loss.grad(lp, padded, il, tl), ref_grad)


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_lengths_out_of_range_raise(backend):
    """input_lengths above T or below 0, and target_lengths above S or below 0, name the
    argument; so does a blank outside [0, C)."""
    rng = np.random.default_rng(4)
    lp = log_softmax(rng.normal(size=(2, 5, 4)))
    tg, il, tl = np.array([[1, 2, 3], [1, 1, 2]]), np.array([5, 4]), np.array([3, 2])
    convert = {"numpy": np.asarray, "torch": torch.tensor, "jax": jnp.asarray}[backend]
    c = [convert(a) for a in (lp, tg, il, tl)]
    cases = [
        ("input_lengths", (c[0], c[1], convert(np.array([6, 4])), c[3]), {}),
        ("input_lengths", (c[0], c[1], convert(np.array([5, -1])), c[3]), {}),
        ("target_lengths", (c[0], c[1], c[2], convert(np.array([4, 2]))), {}),
        ("target_lengths", (c[0], c[1], c[2], convert(np.array([-1, 2]))), {}),
        ("blank", tuple(c), {"blank": 4}),
        ("blank", tuple(c), {"blank": 9}),
        ("blank", tuple(c), {"blank": -1}),
    ]
    for argument, args, kw in cases:
        with pytest.raises(LossInputError, match=argument) as err:
            la.ctc_loss(*args, **kw)
        assert err.value.argument == argument
    assert np.isfinite(to_numpy(la.ctc_loss(*c)))  # the valid call


def near_certain_case(rng):
    """Float32 log-probabilities under which the target's probability is 1 up to rounding:
    runs of each (distinct from its neighbours) label at margin 20-40 over every other class,
    and between consecutive labels a frame split between the two (either way collapses to
    the target), so that the loss is a sum of rounding errors."""
    c = int(rng.integers(4, 8))
    s = int(rng.integers(1, 6))
    target = [int(rng.integers(1, c))]
    while len(target) < s:
        k = int(rng.integers(1, c))
        if k != target[-1]:
            target.append(k)
    rows = []
    for i, label in enumerate(target):
        for _ in range(int(rng.integers(1, 3))):
            row = np.full(c, -rng.uniform(20, 40))
            row[label] = 0.0
            rows.append(row)
        if i + 1 < s:
            row = np.full(c, -rng.uniform(20, 40))
            row[label], row[target[i + 1]] = rng.normal(size=2)
            rows.append(row)
    logits = torch.tensor(np.array(rows)[None], dtype=torch.float32)
    return torch.log_softmax(logits, -1), torch.tensor([target]), len(rows), s


def test_float32_loss_is_never_negative():
    """On (near-)certain alignments in float32 the loss is >= 0 (and its gradient finite) on
    every backend; torch's own F.ctc_loss gives slightly negative values on some of these
    (down to -1.2e-7, in 18 of 300 draws from this seed, when this was written)."""
    rng = np.random.default_rng(5)
    for i in range(120):
        lp, target, t, s = near_certain_case(rng)
        args = (lp, target, torch.tensor([t]), torch.tensor([s]))
        others = [tuple(a.numpy() for a in args)]
        if i < 3:  # eager JAX compiles its scan for every new shape: a few
            others.append(tuple(jnp.asarray(a.numpy()) for a in args))
        for backend_args in (args, *others):
            got = to_numpy(la.ctc_loss(*backend_args, reduction="none"))
            assert got.dtype == np.float32
            assert got[0] >= 0.0 and got[0] < 1e-4
        assert np.all(np.isfinite(la.ctc_loss.grad(*args).numpy()))
        # the torch module's native path clamps torch's kernel too, its gradient kept finite
        leaf = lp.clone().requires_grad_(True)
        native = lt.CTCLoss(reduction="sum")(leaf.transpose(0, 1), *args[1:])
        (grad,) = torch.autograd.grad(native, leaf)
        assert native.item() >= 0.0 and torch.isfinite(grad).all()


# ---- JAX: scan, not an unrolled loop ------------------------------------------------------------
def long_case(t, n=2, c=5, s=20):
    rng = np.random.default_rng(6)
    lp = jnp.asarray(log_softmax(rng.normal(size=(n, t, c))))
    tg = jnp.asarray(rng.integers(1, c, size=(n, s)))
    return lp, tg, jnp.asarray([t, t - 7]), jnp.asarray([s, s - 3])


def test_jax_jit_and_grad_at_1000_frames_use_a_scan():
    """T = 1000 compiles and runs under jit and grad (finite loss, gradient of the right
    shape, rows of -occupancy summing to -1 on active frames); the traced program has the same
    equations for T = 100 and T = 1000, a scan among them."""
    lp, tg, il, tl = long_case(1000)

    def loss(x, tg, il, tl):
        return la.ctc_loss(x, tg, il, tl, reduction="sum")

    value, grad = jax.jit(jax.value_and_grad(loss))(lp, tg, il, tl)
    assert np.isfinite(float(value)) and grad.shape == lp.shape
    np.testing.assert_allclose(np.asarray(grad).sum(axis=-1)[1, :993], -1.0, rtol=1e-8)
    np.testing.assert_array_equal(np.asarray(grad)[1, 993:], 0.0)
    np.testing.assert_allclose(np.asarray(grad), np.asarray(la.ctc_loss.grad(lp, tg, il, tl)),
                               atol=1e-9)  # fmt: skip

    def program(t):
        lp, tg, il, tl = long_case(t)
        return jax.make_jaxpr(jax.grad(lambda x: loss(x, tg, il, tl)))(lp).jaxpr

    short, long = program(100), program(1000)
    names = [e.primitive.name for e in long.eqns]
    assert "scan" in names
    assert len(short.eqns) == len(long.eqns)
    assert names == [e.primitive.name for e in short.eqns]


# ---- leading batch axes -------------------------------------------------------------------------
def test_leading_batch_axes_equal_the_flattened_call():
    """(2, 3, T, C) log_probs with (2, 3, S) targets and (2, 3) lengths give the (6, T, C)
    call's values reshaped (every reduction) and the same gradients."""
    rng = np.random.default_rng(7)
    logits, tg, il, tl = random_case(rng, 6, 9, 5, 4, blank=0)
    lp = log_softmax(logits)
    shaped = (lp.reshape(2, 3, 9, 5), tg.reshape(2, 3, 4), il.reshape(2, 3), tl.reshape(2, 3))
    for i, backend_args in enumerate(backends(*shaped)):
        got = to_numpy(la.ctc_loss(*backend_args, reduction="none"))
        assert got.shape == (2, 3)
        np.testing.assert_allclose(
            got.reshape(6), la.ctc_loss(lp, tg, il, tl, reduction="none"), rtol=1e-13
        )
        for reduction in ("sum", "mean") if i < 2 else ():  # eager JAX: one compile is enough
            np.testing.assert_allclose(
                to_numpy(la.ctc_loss(*backend_args, reduction=reduction)),
                la.ctc_loss(lp, tg, il, tl, reduction=reduction),
                rtol=1e-13,
            )
    np.testing.assert_allclose(
        la.ctc_loss.grad(*shaped).reshape(6, 9, 5), la.ctc_loss.grad(lp, tg, il, tl), rtol=1e-13
    )
    np.testing.assert_allclose(
        la.ctc_loss.hess(*shaped).reshape(6, 9, 5), la.ctc_loss.hess(lp, tg, il, tl), rtol=1e-13
    )
    weight = rng.random((2, 3))
    np.testing.assert_allclose(
        la.ctc_loss(*shaped, weight=weight, reduction="mean"),
        la.ctc_loss(lp, tg, il, tl, weight=weight.reshape(6), reduction="mean"),
        rtol=1e-13,
    )


# ---- the torch module ---------------------------------------------------------------------------
@pytest.mark.parametrize("native", [True, False])
def test_torch_module_is_a_drop_in_for_torch_ctc_loss(native):
    """lossatlas.torch.CTCLoss takes torch's forms (time-major log_probs, padded or
    concatenated targets, lengths as tensors or lists, one unbatched sample) and equals
    torch.nn.CTCLoss in value and in the gradient with respect to the logits."""
    rng = np.random.default_rng(7)
    logits, tg, il, tl = random_case(rng, 4, 12, 6, 5, blank=2)
    x = torch.tensor(logits.transpose(1, 0, 2).copy(), requires_grad=True)  # (T, N, C)
    targets, inputs, lengths = torch.tensor(tg), torch.tensor(il), torch.tensor(tl)
    concatenated = torch.cat([targets[k, : lengths[k]] for k in range(4)])
    for reduction in ("none", "sum", "mean"):
        for zero_infinity in (False, True):
            ours = lt.CTCLoss(blank=2, reduction=reduction, zero_infinity=zero_infinity,
                              native=native)  # fmt: skip
            theirs = torch.nn.CTCLoss(blank=2, reduction=reduction, zero_infinity=zero_infinity)
            for t in (targets, concatenated):
                for il_form, tl_form in ((inputs, lengths), (il.tolist(), tl.tolist())):
                    a = ours(torch.log_softmax(x, -1), t, il_form, tl_form)
                    (ga,) = torch.autograd.grad(a.sum(), x)
                    b = theirs(torch.log_softmax(x, -1), t, il_form, tl_form)
                    (gb,) = torch.autograd.grad(b.sum(), x)
                    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
                    torch.testing.assert_close(ga, gb, rtol=1e-10, atol=1e-12)
    one = lt.CTCLoss(blank=2, native=native)(
        torch.log_softmax(x[:, 0], -1), targets[0], inputs[0], lengths[0]
    )
    expected = la.ctc_loss(torch.log_softmax(x[:, :1], -1).transpose(0, 1), targets[:1],
                           inputs[:1], lengths[:1], blank=2)  # fmt: skip
    torch.testing.assert_close(one, expected)
    assert lt.module_for("ctc", blank=2).params == {"blank": 2, "zero_infinity": False}


def test_torch_module_native_gradient_is_torchs_and_native_false_is_exact():
    """With respect to a free log_probs the native path backpropagates torch's exp(log_probs)
    - gamma; native=False gives -gamma, the derivative (ctc_loss.grad)."""
    rng = np.random.default_rng(3)
    logits, tg, il, tl = random_case(rng, 3, 9, 5, 3, blank=0)
    lp = torch.tensor(log_softmax(logits).transpose(1, 0, 2).copy(), requires_grad=True)
    args = (torch.tensor(tg), torch.tensor(il), torch.tensor(tl))
    (native,) = torch.autograd.grad(lt.CTCLoss(reduction="sum")(lp, *args), lp)
    (exact,) = torch.autograd.grad(lt.CTCLoss(reduction="sum", native=False)(lp, *args), lp)
    (torchs,) = torch.autograd.grad(F.ctc_loss(lp, *args, reduction="sum"), lp)
    gamma = -la.ctc_loss.grad(log_softmax(logits), tg, il, tl)
    torch.testing.assert_close(native, torchs)
    np.testing.assert_allclose(exact.numpy().transpose(1, 0, 2), -gamma, atol=1e-12)


@pytest.mark.parametrize("native", [True, False])
def test_torch_module_checks_before_torchs_kernel(native):
    """A label >= C or equal to the blank, and lengths past the arrays, are LossInputErrors
    before torch's kernel runs (its CPU kernel reads out of bounds on the first); a per-sample
    weight weights torch's mean."""
    rng = np.random.default_rng(5)
    logits, tg, il, tl = random_case(rng, 3, 8, 4, 3, blank=0)
    lp = torch.log_softmax(torch.tensor(logits.transpose(1, 0, 2).copy()), -1)
    module = lt.CTCLoss(native=native)
    targets, inputs, lengths = torch.tensor(tg), torch.tensor(il), torch.tensor(tl)
    for bad in (4, 0):
        labels = targets.clone()
        labels[1, 0] = bad
        with pytest.raises(la.LossInputError) as info:
            module(lp, labels, inputs, lengths)
        assert info.value.argument == "targets"
    with pytest.raises(la.LossInputError) as info:
        module(lp, targets, inputs + 9, lengths)
    assert info.value.argument == "input_lengths"
    for shape in ((8,), (2, 8, 3, 4)):
        with pytest.raises(la.LossInputError) as info:
            module(torch.zeros(shape), targets, inputs, lengths)
        assert info.value.argument == "log_probs"
    weight = torch.tensor([0.0, 1.0, 3.0], dtype=torch.float64)
    each = F.ctc_loss(lp, targets, inputs, lengths, reduction="none") / lengths.clamp(min=1)
    torch.testing.assert_close(module(lp, targets, inputs, lengths, weight=weight),
                               (weight * each).sum() / weight.sum())  # fmt: skip
