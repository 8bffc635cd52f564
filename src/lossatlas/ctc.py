"""Connectionist temporal classification: the CTC loss of a label sequence given per-frame
log-probabilities, summed over every alignment.

An alignment of a target l (length S) to T frames is a path of T symbols, each a label or the
blank, that collapses to l once repeats are merged and blanks dropped. The loss is

    ctc(lp, l) = -log sum over alignments pi of prod_t exp(lp[t, pi_t])

computed by the forward recursion of Graves et al. over the extended target (l with a blank
before, between and after its labels), kept as S + 1 blank states b(s) (the blank before
label s, b(S) after the last) and S label states e(s):

    b_t(s) = lp[t, blank] + logsumexp(b_{t-1}(s), e_{t-1}(s-1))
    e_t(s) = lp[t, l_s] + logsumexp(e_{t-1}(s), b_{t-1}(s), e_{t-1}(s-1) if l_s != l_{s-1})

from b(0) = log 1; log p = logsumexp(b_T(S), e_T(S - 1)). It runs in log space, vectorised
over the batch and the label positions; over time it is a Python loop on NumPy and torch and
a ``lax.scan`` on JAX (under ``jit`` one step is compiled, not T).

Derivatives. The loss is a log-partition function of the path weights, so with respect to a
free log_probs its gradient is minus the posterior occupancy gamma[t, c] (the probability that
an alignment emits c at frame t, from the forward and backward recursions) and its Hessian
diagonal is gamma^2 - gamma (minus the variance of that indicator): ``ctc_loss.grad`` and
``ctc_loss.hess``. The loss is concave in log_probs. PyTorch's CTC backward instead returns
exp(log_probs) - gamma, which equals the derivative only after a log_softmax (both give
softmax - gamma with respect to the logits).

Reference: Graves, A., Fernandez, S., Gomez, F., Schmidhuber, J. (2006). Connectionist
Temporal Classification: Labelling Unsegmented Sequence Data with Recurrent Neural Networks.
ICML, 369-376.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ._loss import QUIET_NUMPY, Loss
from ._reduce import Unreduced
from ._registry import register
from ._spec import BoostingHessian, Curve, Input, LossSpec, Param, Probe, Properties
from ._validate import LossInputError, describe, values_checkable
from ._xp import const, device, library

__all__ = ["CTCLoss", "ctc_batch_cost", "ctc_loss"]

NEG_INF = -math.inf
GRAVES_2006 = (
    "Graves, A., Fernandez, S., Gomez, F., Schmidhuber, J. (2006). Connectionist Temporal "
    "Classification: Labelling Unsegmented Sequence Data with Recurrent Neural Networks. "
    "ICML, 369-376."
)


# ---- the recursions ---------------------------------------------------------------------------
def _log_add_exp(xp: Any, x: Any, y: Any) -> Any:
    """log(e^x + e^y) = m + log1p(e^(n - m)) for m the larger and n the other, picked by
    selection: accurate where one term is tiny beside the other (one dominant alignment, the
    rest e^-40 of it; log(1 + r) would round r away), and a smooth formula at a tie, so that
    autodiff's first and second derivatives are right there (a maximum and |x - y| would each
    bring a kink). Where both are -inf the difference is replaced by 0 before it is used: no
    -inf - -inf (a NaN, which autodiff would multiply by 0, and which costs XLA's CPU code a
    third of the recursion's time)."""
    first = x >= y
    m = xp.where(first, x, y)
    n = xp.where(first, y, x)
    zero = xp.zeros_like(m)
    gap = xp.where(m == NEG_INF, zero, n - m)
    # a ratio below the smallest normal number adds less than half an ulp to m unless the
    # loss is below ~1e-31 (float32): it is dropped, since subnormal arithmetic costs the
    # CPU 2x on the whole recursion
    tiny = gap < math.log(float(xp.finfo(m.dtype).smallest_normal))
    return m + xp.log1p(xp.where(tiny, zero, xp.exp(xp.where(tiny, zero, gap))))


def _shift(xp: Any, x: Any, k: int, fill: Any) -> Any:
    """x moved k positions along the last axis (right for k > 0, left for k < 0), ``fill`` in
    the positions it leaves."""
    if abs(k) >= x.shape[-1]:
        return xp.broadcast_to(fill, x.shape)
    pad = xp.broadcast_to(fill, (*x.shape[:-1], abs(k)))
    if k > 0:
        return xp.concat([pad, x[..., :-k]], axis=-1)
    return xp.concat([x[..., -k:], pad], axis=-1)


def _alpha_step(xp: Any, state: tuple, x: tuple[Any, ...], consts: tuple[Any, ...]) -> tuple:
    """One frame of the forward recursion. ``state``: the blank states b_0..b_S (the blank
    before label s; b_S after the last) and the label states e_0..e_{S-1}; ``x``: the frame's
    emissions (blank, labels) and which samples are still within their input length;
    ``consts``: where a label may be reached from the previous label directly, and -inf."""
    b, e = state
    blank_emit, label_emit, active = x
    skip, neg = consts
    pad = xp.broadcast_to(neg, (e.shape[0], 1))
    new_b = blank_emit[:, None] + _log_add_exp(xp, b, xp.concat([pad, e], axis=-1))
    direct = xp.where(skip, _shift(xp, e, 1, neg), neg)
    new_e = label_emit + _log_add_exp(xp, _log_add_exp(xp, e, b[:, :-1]), direct)
    keep = active[:, None]
    return xp.where(keep, new_b, b), xp.where(keep, new_e, e)


def _beta_step(xp: Any, state: tuple, x: tuple[Any, ...], consts: tuple[Any, ...]) -> tuple:
    """One frame of the backward recursion, frames in reverse: a sample starts from its end
    states at its last frame (the final blank, or the last label) and is -inf past it."""
    b, e = state
    blank_emit, label_emit, active, frame = x
    skip_next, end_b, end_e, last_frame, neg = consts
    pad = xp.broadcast_to(neg, (e.shape[0], 1))
    new_b = blank_emit[:, None] + _log_add_exp(xp, b, xp.concat([e, pad], axis=-1))
    direct = xp.where(skip_next, _shift(xp, e, -1, neg), neg)
    new_e = label_emit + _log_add_exp(xp, _log_add_exp(xp, e, b[:, 1:]), direct)
    at_end = (frame == last_frame)[:, None]
    new_b = xp.where(at_end, blank_emit[:, None] + end_b, new_b)
    new_e = xp.where(at_end, label_emit + end_e, new_e)
    keep = active[:, None]
    return xp.where(keep, new_b, neg), xp.where(keep, new_e, neg)


def _scan(
    xp: Any, step: Callable[..., Any], carry: tuple, xs: tuple[Any, ...], consts: tuple[Any, ...]
) -> tuple:
    """The carries of ``step(xp, carry, x, consts)`` over the leading axis of every array in
    ``xs``, each part of the carry stacked on a new leading axis: ``lax.scan`` on JAX (one
    compiled step), a loop elsewhere."""
    if library(xs[0]) == "jax":
        import jax

        def body(c: Any, x: Any) -> Any:
            new = step(xp, c, x, consts)
            return new, new

        return jax.lax.scan(body, carry, xs)[1]
    out = []
    # unstacked once: indexing x[t] in every step would cost torch's autograd a zero-filled
    # array of the whole of x per step in backward
    for x in zip(*(xp.unstack(x, axis=0) for x in xs), strict=True):
        carry = step(xp, carry, x, consts)
        out.append(carry)
    return tuple(xp.stack(parts, axis=0) for parts in zip(*out, strict=True))


class _Lattice:
    """The CTC lattice of a batch: the blank states (S + 1 per frame) and the label states
    (S per frame) of each target, with the per-frame log-probabilities along them.

    ``log_probs`` is (N, T, C), ``targets`` (N, S), lengths (N,). Labels past a target's
    length are read as the blank (so that no padding value is ever used as an index); no
    alignment ends there.
    """

    def __init__(
        self, xp: Any, log_probs: Any, targets: Any, input_lengths: Any, target_lengths: Any,
        blank: int,
    ) -> None:  # fmt: skip
        n, t, _ = log_probs.shape
        s = targets.shape[1]
        self.xp, self.n, self.t, self.s = xp, n, t, s
        where = device(log_probs)
        index = xp.arange(s, device=where)
        live = index[None, :] < target_lengths[:, None]
        self.labels = labels = xp.where(live, targets, xp.full_like(targets, blank))
        # a label reached from the previous label directly: a different one (a repeat needs
        # the blank between)
        previous = _shift(xp, labels, 1, xp.asarray(blank, dtype=labels.dtype, device=where))
        self.skip = (labels != previous) & (index[None, :] >= 1)
        self.blank_emit = log_probs[:, :, blank]  # (N, T)
        self.label_emit = xp.take_along_axis(
            log_probs, xp.broadcast_to(labels[:, None, :], (n, t, s)), axis=2
        )  # (N, T, S): lp[t, l_s]
        frames = xp.arange(t, device=where)
        self.active = frames[:, None] < input_lengths[None, :]  # (T, N)
        self.input_lengths = input_lengths
        self.target_lengths = target_lengths
        self.neg_inf = const(xp, NEG_INF, log_probs)

    def _frames(self, reverse: bool = False) -> tuple[Any, Any, Any]:
        """The emissions (blank (T, N), labels (T, N, S)) and the active mask, time first."""
        xp = self.xp
        parts = (xp.moveaxis(self.blank_emit, 1, 0), xp.moveaxis(self.label_emit, 1, 0),
                 self.active)  # fmt: skip
        return tuple(xp.flip(p, axis=0) for p in parts) if reverse else parts

    def start(self) -> tuple[Any, Any]:
        """The states before the first frame: log 1 in b_0, -inf elsewhere."""
        xp = self.xp
        first = xp.arange(self.s + 1, device=device(self.label_emit))[None, :] == 0
        b = xp.where(xp.broadcast_to(first, (self.n, self.s + 1)), 0.0, self.neg_inf)
        return xp.astype(b, self.label_emit.dtype), xp.full_like(self.label_emit[:, 0, :],
                                                                 NEG_INF)  # fmt: skip

    def alphas(self) -> tuple[Any, Any]:
        """The forward variables of the blank and the label states for every frame, (T, N,
        S + 1) and (T, N, S); a sample's values carry on unchanged past its length."""
        consts = (self.skip, self.neg_inf)
        return _scan(self.xp, _alpha_step, self.start(), self._frames(), consts)

    def log_likelihood(self, alphas: tuple[Any, Any]) -> Any:
        """log p(target | log_probs) per sample from the forward variables, (N,)."""
        xp = self.xp
        b, e = (alphas[0][-1, ...], alphas[1][-1, ...]) if self.t else self.start()
        lengths = self.target_lengths
        end = xp.take_along_axis(b, lengths[:, None], axis=1)[:, 0]
        if self.s == 0:
            return end
        before = xp.take_along_axis(e, xp.maximum(lengths - 1, 0)[:, None], axis=1)[:, 0]
        return _log_add_exp(xp, end, xp.where(lengths > 0, before, self.neg_inf))

    def betas(self) -> tuple[Any, Any]:
        """The backward variables of the blank and the label states (lp[t] of the state
        included), (T, N, S + 1) and (T, N, S); -inf past a sample's length."""
        xp, neg, lengths = self.xp, self.neg_inf, self.target_lengths
        where = device(self.label_emit)
        zero = const(xp, 0.0, self.label_emit)
        end_b = xp.where(xp.arange(self.s + 1, device=where)[None, :] == lengths[:, None],
                         zero, neg)  # fmt: skip
        end_e = xp.where(xp.arange(self.s, device=where)[None, :] == lengths[:, None] - 1,
                         zero, neg)  # fmt: skip
        skip_next = _shift(xp, self.skip, -1, xp.asarray(False, device=where))
        frames = xp.flip(xp.arange(self.t, device=where), axis=0)
        consts = (skip_next, end_b, end_e, self.input_lengths - 1, neg)
        start = tuple(xp.full_like(x, NEG_INF) for x in self.start())
        flipped = _scan(xp, _beta_step, start, (*self._frames(reverse=True), frames), consts)
        return xp.flip(flipped[0], axis=0), xp.flip(flipped[1], axis=0)

    def occupancy(self, alphas: tuple[Any, Any], log_likelihood: Any) -> Any:
        """The posterior probabilities that an alignment is in a blank state at frame t
        (summed over them: (T, N)) and in each label state ((N, T, S)), from the forward
        variables ``alphas`` and one backward recursion; 0 where no alignment exists."""
        xp = self.xp
        possible = (log_likelihood > NEG_INF)[None, :, None]
        inside = self.active[:, :, None]

        def posterior(alpha: Any, beta: Any, emit: Any) -> Any:
            # alpha and beta both hold the frame's emission: it is taken out once
            both = xp.where(inside, alpha, self.neg_inf) + beta
            keep = (both > NEG_INF) & possible
            log_gamma = xp.where(keep, both - emit - log_likelihood[None, :, None], 0.0)
            return xp.where(keep, xp.exp(log_gamma), 0.0)

        (alpha_b, alpha_e), (beta_b, beta_e) = alphas, self.betas()
        blank_emit, label_emit, _ = self._frames()
        gamma_b = xp.sum(posterior(alpha_b, beta_b, blank_emit[:, :, None]), axis=-1)  # (T, N)
        gamma_e = xp.moveaxis(posterior(alpha_e, beta_e, label_emit), 0, 1)  # (N, T, S)
        return gamma_b, gamma_e


def ctc_parts(
    xp: Any, log_probs: Any, targets: Any, input_lengths: Any, target_lengths: Any, blank: int
) -> tuple[Any, Any]:
    """(log p(target), the occupancy gamma (N, T, C)) of a flat batch, from one forward and
    one backward recursion; gamma is 0 where the log-likelihood is -inf or above 0 (where the
    loss is clamped: its derivative is 0 there too)."""
    lattice = _Lattice(xp, log_probs, targets, input_lengths, target_lengths, blank)
    alphas = lattice.alphas()
    log_likelihood = lattice.log_likelihood(alphas)
    gamma_b, gamma_e = lattice.occupancy(alphas, log_likelihood)
    classes = xp.arange(log_probs.shape[-1], device=device(log_probs))
    one_hot = xp.astype(lattice.labels[:, :, None] == classes[None, None, :], log_probs.dtype)
    is_blank = xp.astype(classes == blank, log_probs.dtype)
    gamma = xp.matmul(gamma_e, one_hot) + xp.moveaxis(gamma_b, 0, 1)[:, :, None] * is_blank
    kept = (log_likelihood <= 0)[:, None, None]
    return log_likelihood, xp.where(kept, gamma, xp.zeros_like(gamma))


# ---- the loss ---------------------------------------------------------------------------------
def _flat(xp: Any, arrays: tuple[Any, ...]) -> tuple[tuple[Any, ...], tuple[int, ...]]:
    """The inputs with their batch axes (*b) flattened into one, and *b."""
    log_probs, targets, input_lengths, target_lengths = arrays
    batch = tuple(input_lengths.shape)
    n = math.prod(batch)
    return (
        xp.reshape(log_probs, (n, *log_probs.shape[-2:])),
        xp.reshape(targets, (n, targets.shape[-1])),
        xp.reshape(input_lengths, (n,)),
        xp.reshape(target_lengths, (n,)),
    ), batch


class CTCLoss(Loss):
    """``ctc_loss(log_probs, targets, input_lengths, target_lengths, *, blank=0,
    zero_infinity=False, weight=None, reduction="mean")``: the CTC loss of each sample.

    ``log_probs`` (*b, T, C) are per-frame log-probabilities (a log_softmax over C, blank
    included), batch-major; ``targets`` (*b, S) the label sequences, padded (values past a
    sample's target length are ignored); ``input_lengths`` and ``target_lengths`` (*b) the
    frames and labels of each sample. ``reduction="mean"`` is PyTorch's: each sample's loss is
    divided by its target length (at least 1), then averaged (weighted by ``weight``); "sum"
    and "none" are not divided. The loss is clamped at 0 (float32 rounding of the recursion
    can fall a few ulps below it). An impossible alignment (more labels, plus the blanks that
    repeats need, than frames) is inf, with a zero gradient, or 0 with ``zero_infinity=True``.
    """

    spec = LossSpec(
        name="ctc_loss",
        family="sequence",
        summary="connectionist temporal classification: -log of the total probability of "
        "every alignment of the target to the frames",
        properties=Properties(convex=False, robust=True, smoothness="Cinf"),
        formula=r"-\log \sum_{\pi \in \mathcal{B}^{-1}(l)} \prod_{t=1}^{T} "
        r"\exp \mathrm{lp}_{t, \pi_t}",
        references=(GRAVES_2006,),
        inputs=(
            Input(
                "log_probs",
                "*b T C",
                "log_simplex",
                doc="per-frame log-probabilities over the C classes, blank included (N, T, C)",
            ),
            Input(
                "targets",
                "*b S",
                "label_sequence",
                dtype="index",
                differentiable=False,
                doc="label sequences, padded to S (positions past the target length ignored)",
            ),
            Input(
                "input_lengths",
                "*b",
                "length",
                dtype="index",
                differentiable=False,
                doc="frames of each sample, in [0, T]",
            ),
            Input(
                "target_lengths",
                "*b",
                "length",
                dtype="index",
                differentiable=False,
                doc="labels of each sample, in [0, S]",
            ),
        ),
        output="*b",
        elementwise=False,
        params=(
            Param("blank", 0, "the class index of the blank, in [0, C)", low=0, kind="int"),
            Param(
                "zero_infinity",
                False,
                "an impossible alignment gives 0 (and a zero gradient) instead of inf",
                kind="bool",
            ),
        ),
        aliases=("ctc", "connectionist_temporal_classification"),
        framework_names={
            "torch": "torch.nn.CTCLoss, torch.nn.functional.ctc_loss",
            "optax": "optax.ctc_loss",
            "keras": "keras.losses.CTC, keras.ops.ctc_loss",
            "tensorflow": "tf.nn.ctc_loss",
        },
        derivative_notes="grad = -gamma (the posterior occupancy of each class at each frame, "
        "from the forward-backward recursions), hess = gamma^2 - gamma (the Hessian's "
        "diagonal; the loss is concave in free log-probabilities). PyTorch's backward gives "
        "exp(log_probs) - gamma: the same through a log_softmax, not for free log_probs.",
        when_to_use="Sequence labelling without frame alignments (speech, handwriting, OCR): "
        "the model emits a distribution per frame and the loss sums over every way the target "
        "fits the frames. Decode with ctc_greedy_decode or ctc_beam_search_decode.",
        boosting=BoostingHessian(
            "none",
            reason="a sequence loss: the scores of a sample are a whole (T, C) lattice, not "
            "one raw score per class",
        ),
        probe=lambda p: _alignment_probe(p),  # defined below
        sampler=lambda rng, shape, p: _sample(rng, shape, p),  # defined below
    )

    # ---- validation of what depends on the lengths ----------------------------------------
    def _check_inputs(self, xp: Any, inputs: dict[str, Any], params: dict[str, Any],
                      bindings: dict[str, Any]) -> None:  # fmt: skip
        """The blank is a class; labels (within each target length) are classes other than
        the blank; lengths lie in [0, T] and [0, S]."""
        name = self.name
        n_classes, frames, width = bindings["C"], bindings["T"], bindings["S"]
        blank = params["blank"]
        if blank >= n_classes:
            raise LossInputError(
                name, "blank", f"a class index in [0, {n_classes}) (C = {n_classes})", str(blank)
            )
        targets = inputs["targets"]
        for arg, high, what in (
            ("input_lengths", frames, "T, the frames of log_probs"),
            ("target_lengths", width, "S, the padded length of targets"),
        ):
            x = inputs[arg]
            if not values_checkable(x):
                continue
            lo, hi = int(xp.min(x)), int(xp.max(x))
            if lo < 0 or hi > high:
                raise LossInputError(
                    name, arg, f"lengths in [0, {high}] ({what})", f"lengths from {lo} to {hi}"
                )
        lengths = inputs["target_lengths"]
        if not (values_checkable(targets) and values_checkable(lengths)):
            return
        live = xp.arange(width, device=device(targets)) < lengths[..., None]
        bad = live & ((targets < 0) | (targets >= n_classes) | (targets == blank))
        if bool(xp.any(bad)):
            info = xp.iinfo(targets.dtype)  # sentinels in place of the valid labels
            lo = int(xp.min(xp.where(bad, targets, const(xp, info.max, targets))))
            hi = int(xp.max(xp.where(bad, targets, const(xp, info.min, targets))))
            got = f"{lo}" if lo == hi else f"values from {lo} to {hi}"
            raise LossInputError(
                name,
                "targets",
                f"labels in [0, {n_classes}) other than the blank ({blank}) within each "
                "target length",
                got,
            )

    # ---- kernels ------------------------------------------------------------------------------
    def definition(self, call: Any) -> Unreduced:
        xp, blank, zero_infinity = call.xp, call.params["blank"], call.params["zero_infinity"]

        def losses(*flat: Any) -> Any:
            lattice = _Lattice(xp, *flat, blank)
            log_likelihood = lattice.log_likelihood(lattice.alphas())
            return negative_log_likelihood(xp, log_likelihood, zero_infinity)

        return ctc_unreduced(xp, call.arrays(), losses)

    def grad(self, *arrays: Any, **params: Any) -> Any:
        """d loss_n / d log_probs per sample: minus the posterior occupancy, (*b, T, C); 0 on
        frames past the input length and for a sample whose loss is inf or clamped."""
        return self._derivative(arrays, params, hess=False)

    def hess(self, *arrays: Any, **params: Any) -> Any:
        """The diagonal of each sample's Hessian with respect to log_probs: gamma^2 - gamma."""
        return self._derivative(arrays, params, hess=True)

    def _derivative(self, arrays: tuple[Any, ...], params: dict[str, Any], hess: bool) -> Any:
        call = self.validate(*arrays, **params)
        xp, log_probs = call.xp, call.inputs["log_probs"]
        flat, _ = _flat(xp, call.arrays())
        with QUIET_NUMPY():
            gamma = ctc_parts(xp, *flat, call.params["blank"])[1]
        out = gamma * gamma - gamma if hess else -gamma
        return self._cast_out(call, xp.reshape(out, log_probs.shape))


def ctc_unreduced(xp: Any, arrays: tuple[Any, ...], losses: Callable[..., Any]) -> Unreduced:
    """The unreduced CTC loss of the inputs (batch axes *b), from ``losses`` of a flat batch
    (N, T, C), (N, S), (N,), (N,): each loss, and 1/max(target length, 1) as the factor of
    the averages (PyTorch's "mean")."""
    flat, batch = _flat(xp, arrays)
    loss = losses(*flat)
    scale = 1.0 / xp.astype(xp.maximum(flat[3], 1), loss.dtype)
    return Unreduced(xp.reshape(loss, batch), mean_scale=xp.reshape(scale, batch))


def negative_log_likelihood(xp: Any, log_likelihood: Any, zero_infinity: bool) -> Any:
    """The CTC loss from log p: -log p, clamped at 0 (a selection, not a maximum: the
    derivative of a loss of exactly 0 passes whole); +inf where p = 0, or 0 under
    ``zero_infinity``, a constant selected so that no derivative reaches the recursion."""
    dead = log_likelihood == NEG_INF
    loss = -log_likelihood
    fill = xp.zeros_like(loss) if zero_infinity else xp.full_like(loss, math.inf)
    return xp.where(dead, fill, xp.where(loss < 0, xp.zeros_like(loss), loss))


# ---- probe and sampler ------------------------------------------------------------------------
PROBE_TARGET = (1, 2)
PROBE_FRAMES = 4
PROBE_CLASSES = 3


def _alignment_probe(params: Mapping[str, Any]) -> Probe:
    """The logit t of the ideal alignment's class (1, 1, 2, 2 for the target "1 2") at each of
    four frames, the other logits 0, through a log_softmax; the blank is class 0."""
    blank = int(params.get("blank", 0))
    classes = [c for c in range(PROBE_CLASSES + 1) if c != blank][: PROBE_CLASSES - 1]
    n_classes = max(PROBE_CLASSES, max(classes) + 1, blank + 1)
    aligned = (classes[0], classes[0], classes[1], classes[1])

    def make(t: np.ndarray) -> dict[str, np.ndarray]:
        t = np.asarray(t, dtype=np.float64)
        logits = np.zeros((len(t), PROBE_FRAMES, n_classes))
        for frame, label in enumerate(aligned):
            logits[:, frame, label] = t
        shift = logits.max(axis=-1, keepdims=True)
        shift = np.where(np.isfinite(shift), shift, 0.0)
        log_probs = logits - shift - np.log(np.sum(np.exp(logits - shift), axis=-1, keepdims=True))
        n = len(t)
        return {
            "log_probs": log_probs,
            "targets": np.tile(np.asarray(classes, dtype=np.int64), (n, 1)),
            "input_lengths": np.full(n, PROBE_FRAMES, dtype=np.int64),
            "target_lengths": np.full(n, len(classes), dtype=np.int64),
        }

    curve = Curve(f"target ({classes[0]}, {classes[1]}), 4 frames", "l=12", make)
    return Probe(
        "alignment logit", "logit of the aligned label at each frame", "t (logit)",
        "4 frames with logit t on the ideal alignment's label and 0 elsewhere, "
        f"target ({classes[0]}, {classes[1]}), blank {blank}",
        "real", (-6.0, 8.0), (-4.0, -2.0, 0.0, 1.0, 2.0, 4.0, 8.0), (curve,), "log_probs",
    )  # fmt: skip


SAMPLE_FRAMES = 4  # T of the generic tests' inputs
SAMPLE_CLASSES = 4  # C
SAMPLE_LABELS = 2  # S


def _sample(rng: np.random.Generator, shape: tuple[int, ...], params: Mapping[str, Any]) -> dict:
    """Random valid inputs with batch shape ``shape``: log-softmax of random logits (T = 4,
    C = 4), targets of random length in [0, 2] padded with -1, input lengths in [T - 2, T],
    every alignment possible."""
    blank = int(params.get("blank", 0))
    n_classes = max(SAMPLE_CLASSES, blank + 1)
    logits = rng.normal(size=(*shape, SAMPLE_FRAMES, n_classes)) * 2.0
    log_probs = logits - np.log(np.sum(np.exp(logits), axis=-1, keepdims=True))
    labels = np.array([c for c in range(n_classes) if c != blank])
    targets = rng.choice(labels, size=(*shape, SAMPLE_LABELS))
    target_lengths = rng.integers(0, SAMPLE_LABELS + 1, size=shape)
    input_lengths = rng.integers(SAMPLE_FRAMES - 2, SAMPLE_FRAMES + 1, size=shape)
    # frames the target needs: a label each, and a blank between repeated labels
    needed = target_lengths + np.sum(
        (targets[..., 1:] == targets[..., :-1])
        & (np.arange(1, SAMPLE_LABELS) < target_lengths[..., None]),
        axis=-1,
    )
    input_lengths = np.maximum(input_lengths, needed)
    pad = np.arange(SAMPLE_LABELS) >= target_lengths[..., None]
    targets = np.where(pad, -1, targets)
    return {
        "log_probs": log_probs,
        "targets": targets.astype(np.int64),
        "input_lengths": input_lengths.astype(np.int64),
        "target_lengths": target_lengths.astype(np.int64),
    }


ctc_loss = register(CTCLoss())


def ctc_batch_cost(y_true: Any, y_pred: Any, input_length: Any, label_length: Any) -> Any:
    """Keras's ``ctc_batch_cost(y_true, y_pred, input_length, label_length)`` on this
    library's CTC: ``y_pred`` (N, T, C) softmax probabilities with the blank last (class
    C - 1), labels ``y_true`` (N, S), lengths (N, 1) or (N,); returns the (N, 1) losses, as
    Keras does. Probabilities are read as ``log(y_pred + 1e-7)``, Keras's epsilon, renormalised
    over the classes as TensorFlow's ctc_loss does (it applies a softmax), so the values equal
    Keras's; call ``ctc_loss`` on log-probabilities to avoid the epsilon."""
    from array_api_compat import array_namespace, is_array_api_obj

    if not is_array_api_obj(y_pred) or y_pred.ndim != 3:
        raise LossInputError(
            "ctc_batch_cost", "y_pred", "softmax probabilities (N, T, C)", describe(y_pred)
        )
    xp = array_namespace(y_pred)
    n, _, n_classes = y_pred.shape

    def lengths(arg: str, x: Any) -> Any:
        if not is_array_api_obj(x) or tuple(x.shape) not in ((n,), (n, 1)):
            raise LossInputError("ctc_batch_cost", arg, f"lengths of shape ({n}, 1)",
                                 describe(x))  # fmt: skip
        x = xp.reshape(x, (n,))
        return x if xp.isdtype(x.dtype, "integral") else xp.astype(x, xp.int64)

    # Keras hands log(y_pred + 1e-7) to tf.nn.ctc_loss, which applies a softmax to its inputs
    # ("performs the softmax operation for you"): the frames are renormalised over C
    y_eps = y_pred + const(xp, 1e-7, y_pred)
    log_probs = xp.log(y_eps) - xp.log(xp.sum(y_eps, axis=-1, keepdims=True))
    if not is_array_api_obj(y_true):
        raise LossInputError("ctc_batch_cost", "y_true", "labels (N, S)", describe(y_true))
    labels = y_true if xp.isdtype(y_true.dtype, "integral") else xp.astype(y_true, xp.int64)
    loss = ctc_loss(
        log_probs, labels, lengths("input_length", input_length),
        lengths("label_length", label_length), blank=n_classes - 1, reduction="none",
    )  # fmt: skip
    return xp.reshape(loss, (n, 1))
