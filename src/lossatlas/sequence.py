"""Sequence utilities for CTC models: the edit distance and CTC decoding.

``edit_distance`` is the Levenshtein distance of each pair in a batch (the error rate of
``tf.edit_distance`` when normalised); ``ctc_greedy_decode`` and ``ctc_beam_search_decode``
turn per-frame log-probabilities into label sequences. They are metrics and decoders, not
losses: they take arrays of any supported library (NumPy, torch, JAX), compute on the host in
NumPy, need concrete values (not under ``jax.jit``) and carry no derivatives.

References: Levenshtein, V. I. (1966). Binary codes capable of correcting deletions,
insertions, and reversals. Soviet Physics Doklady 10(8). Graves, A., Fernandez, S., Gomez, F.,
Schmidhuber, J. (2006). Connectionist Temporal Classification: Labelling Unsegmented Sequence
Data with Recurrent Neural Networks. ICML. Hannun, A. Y., Maas, A. L., Jurafsky, D., Ng, A. Y.
(2014). First-Pass Large Vocabulary Continuous Speech Recognition using Bi-Directional
Recurrent DNNs. arXiv:1408.2873.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from array_api_compat import array_namespace, is_array_api_obj, is_torch_array

from ._config import config
from ._validate import LossInputError, check_parameter, describe
from ._xp import device, has_values, is_tracing, library

__all__ = ["ctc_beam_search_decode", "ctc_greedy_decode", "edit_distance"]

# ---------------------------------------------------------------------------------------------
# conversion to host NumPy arrays


def _host(function: str, name: str, x: Any) -> np.ndarray:
    """A NumPy copy (or view) of an array of any supported library; its values must be known."""
    if is_tracing(x):
        raise LossInputError(
            function, name, "an array with concrete values (not under jax.jit)", describe(x)
        )
    if not has_values(x):
        raise LossInputError(function, name, "an array with values", describe(x) + " (meta)")
    if is_torch_array(x):
        import torch

        x = x.detach().cpu()
        return (x.float() if x.dtype == torch.bfloat16 else x).numpy()  # no NumPy bfloat16
    try:
        return np.asarray(x)
    except (TypeError, ValueError, RuntimeError):
        return np.from_dlpack(x)


def _lengths(
    function: str, name: str, value: Any, n: int, width: int, width_name: str
) -> np.ndarray:
    """A vector of ``n`` integer lengths in [0, width]; None is the full width."""
    if value is None:
        return np.full(n, width, dtype=np.int64)
    if isinstance(value, (list, tuple)):
        lengths = np.asarray(value)
        if lengths.size == 0:
            lengths = lengths.astype(np.int64)
    elif is_array_api_obj(value):
        lengths = _host(function, name, value)
    else:
        raise LossInputError(function, name, f"a vector of {n} integer lengths", describe(value))
    if lengths.dtype.kind not in "iu" or lengths.shape != (n,):
        raise LossInputError(function, name, f"a vector of {n} integer lengths", describe(lengths))
    if n and (lengths.min() < 0 or lengths.max() > width):
        raise LossInputError(
            function,
            name,
            f"lengths in [0, {width}] (the {width_name})",
            f"lengths from {lengths.min()} to {lengths.max()}",
        )
    return lengths.astype(np.int64)


# ---------------------------------------------------------------------------------------------
# edit distance


def _kind(x: Any) -> str:
    """'string', 'array', 'strings' (a list of strings) or 'sequences' (a list of integer
    sequences); an empty list is 'list' (either of the last two)."""
    if isinstance(x, str):
        return "string"
    if is_array_api_obj(x):
        return "array"
    if isinstance(x, (list, tuple)):
        if not x:
            return "list"
        if all(isinstance(item, str) for item in x):
            return "strings"
        return "sequences"
    return "other"


def _pad_strings(items: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Unicode code points of each string, padded to a common width, and the lengths."""
    codes = [np.frombuffer(s.encode("utf-32-le"), dtype=np.uint32) for s in items]
    return _pad(codes)


def _pad_sequences(function: str, name: str, items: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    codes = []
    for k, item in enumerate(items):
        if isinstance(item, (str, bytes)) or not (
            isinstance(item, (list, tuple)) or is_array_api_obj(item)
        ):
            raise LossInputError(
                function,
                name,
                "a list of strings or a list of integer sequences",
                f"item {k}: {describe(item)}",
            )
        seq = _host(function, name, item) if is_array_api_obj(item) else np.asarray(item)
        if seq.size == 0:
            seq = seq.reshape(0).astype(np.int64)
        if seq.ndim != 1 or seq.dtype.kind not in "iu":
            raise LossInputError(
                function, name, "a list of integer sequences", f"item {k}: {describe(seq)}"
            )
        codes.append(seq)
    return _pad(codes)


def _pad(codes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.array([len(c) for c in codes], dtype=np.int64)
    width = int(lengths.max()) if len(codes) else 0
    dtype = np.result_type(*[c.dtype for c in codes]) if codes else np.int64
    padded = np.zeros((len(codes), width), dtype=dtype)
    for row, c in zip(padded, codes, strict=True):
        row[: len(c)] = c
    return padded, lengths


def _levenshtein(a: np.ndarray, la: np.ndarray, b: np.ndarray, lb: np.ndarray) -> np.ndarray:
    """The Levenshtein distance of a[n, :la[n]] and b[n, :lb[n]] for every n, as int64.

    Row-by-row dynamic programme over the positions i of ``a``, vectorised over the batch and
    the positions j of ``b``; rows are laid out (j, n) so that the batch is contiguous. With D
    the row of distances of a[:i] to every prefix b[:j],
    substitution and deletion are elementwise in the previous row,
    ``E[j] = min(D[j-1] + (a[i-1] != b[j-1]), D[j] + 1)``, ``E[0] = i``, and the chain of
    insertions along the row, ``D'[j] = min(E[j], D'[j-1] + 1)``, is
    ``D'[j] = j + min_{k<=j} (E[k] - k)``: a cumulative minimum over j. Pads beyond a length
    never enter D[la][lb] (entry (i, j) depends only on a[:i], b[:j]).
    """
    n = a.shape[0]
    rows = int(la.max()) if n else 0
    width = int(lb.max()) if n else 0
    a_t = np.ascontiguousarray(a[:, :rows].T)  # (rows, n)
    b_t = np.ascontiguousarray(b[:, :width].T)  # (width, n)
    # distances are at most max(rows, width); int16 halves the memory traffic where it fits
    dtype = np.int16 if max(rows, width) < 2**14 else np.int64
    ramp = np.arange(width + 1, dtype=dtype)[:, None]
    row = np.repeat(ramp, n, axis=1)  # D[0][j] = j
    cols = np.arange(n)
    out = lb.copy()  # distance of an empty a: lb insertions
    edit = np.empty_like(row)
    differ = np.empty((width, n), dtype=bool)
    for i in range(1, rows + 1):
        np.not_equal(b_t, a_t[i - 1], out=differ)
        np.add(row[:-1], differ, out=edit[1:])
        np.minimum(edit[1:], row[1:] + 1, out=edit[1:])
        edit[0] = i
        edit -= ramp
        # the cumulative minimum along j, one batch vector at a time: minimum.accumulate over
        # axis 0 of this layout measured thirty times slower
        row[0] = edit[0]
        for j in range(1, width + 1):
            np.minimum(edit[j], row[j - 1], out=row[j])
        row += ramp
        done = la == i
        if done.any():
            out[done] = row[lb[done], cols[done]]
    return out


def edit_distance(
    hypothesis: Any,
    truth: Any,
    *,
    hypothesis_lengths: Any = None,
    truth_lengths: Any = None,
    normalize: bool = True,
) -> Any:
    """Levenshtein distance between each hypothesis and its truth.

    ``d(h, t)`` is the least number of insertions, deletions and substitutions (cost 1 each)
    that turn ``h`` into ``t`` (Levenshtein 1966). With ``normalize`` it is divided by the
    truth's length, ``d(h, t) / |t|``: the character or word error rate. An empty truth
    follows ``tf.edit_distance`` (TensorFlow's ``EditDistanceOp`` kernel,
    tensorflow/core/kernels/edit_distance_op.cc, which divides the hypothesis length by 0.0
    and leaves a pair with neither sequence at its zero fill; the documented example gives
    ``inf`` for "no truth"): ``inf`` for a non-empty hypothesis and ``0`` for an empty one;
    an empty hypothesis against a non-empty truth is 1. Without ``normalize`` the distances
    are whole numbers (in a float array).

    Args:
        hypothesis, truth: a batch of pairs in one of three forms, the same for both:
            padded integer arrays of shape (N, S_h) and (N, S_t) of one library (NumPy, torch,
            JAX), batch-major, with the valid entries first; two lists of N strings (compared
            by Unicode code point), or two strings (one pair); or two lists of N integer
            sequences (lists, tuples or 1-D arrays).
        hypothesis_lengths, truth_lengths: for array inputs, integer vectors of shape (N,) with
            each sequence's length, in [0, S]; None is the full padded width. Must be None for
            list and string inputs.
        normalize: divide by the truth length.

    Returns:
        One value per pair, shape (N,). For array inputs an array of their library and device:
        float64 for NumPy, float32 (the default float) for torch and JAX (whole-number distances
        exact below 2**24). For lists a NumPy float64 array; for two strings a 0-d one.

    Raises:
        LossInputError: batch sizes differ, a length is negative or exceeds the padded width,
            an array is not of integers or not 2-D, the two inputs are of different forms
            (strings with arrays, say) or libraries, or the values are not concrete.
    """
    name = "edit_distance"
    if not isinstance(normalize, (bool, np.bool_)):
        raise LossInputError(name, "normalize", "True or False", describe(normalize))
    kinds = (_kind(hypothesis), _kind(truth))
    for arg, value, kind in zip(("hypothesis", "truth"), (hypothesis, truth), kinds, strict=True):
        if kind == "other":
            raise LossInputError(
                name,
                arg,
                "a 2-D integer array, a list of strings or integer sequences, or a string",
                describe(value),
            )
    forms = {
        "string": "a string",
        "array": "an array",
        "strings": "a list of strings",
        "sequences": "a list of integer sequences",
    }
    lists = {"list", "strings", "sequences"}
    same = kinds[0] == kinds[1] or (set(kinds) <= lists and "list" in kinds)
    if not same:
        raise LossInputError(
            name,
            "truth",
            f"the form of 'hypothesis' ({forms.get(kinds[0], 'an empty list')})",
            forms.get(kinds[1], "an empty list"),
        )
    if kinds[0] != "array":
        for arg, value in (
            ("hypothesis_lengths", hypothesis_lengths),
            ("truth_lengths", truth_lengths),
        ):
            if value is not None:
                raise LossInputError(
                    name,
                    arg,
                    "None (list and string inputs carry their own lengths)",
                    describe(value),
                )
    single = kinds[0] == "string"
    if kinds[0] == "array":
        a, la, b, lb = _array_pairs(name, hypothesis, truth, hypothesis_lengths, truth_lengths)
    else:
        if single:
            hypothesis, truth = [hypothesis], [truth]
        if len(hypothesis) != len(truth):
            raise LossInputError(
                name,
                "truth",
                f"a list of the length of 'hypothesis' ({len(hypothesis)})",
                f"a list of length {len(truth)}",
            )
        if "strings" in kinds or single:
            (a, la), (b, lb) = _pad_strings(hypothesis), _pad_strings(truth)
        else:
            a, la = _pad_sequences(name, "hypothesis", hypothesis)
            b, lb = _pad_sequences(name, "truth", truth)
    distance = _levenshtein(a, la, b, lb).astype(np.float64)
    if normalize:
        with np.errstate(divide="ignore", invalid="ignore"):
            distance = np.where(lb > 0, distance / np.maximum(lb, 1), np.where(la > 0, np.inf, 0.0))
    if kinds[0] == "array" and library(hypothesis) != "numpy":
        xp = array_namespace(hypothesis)
        return xp.asarray(distance.astype(np.float32), dtype=xp.float32, device=device(hypothesis))
    return distance.reshape(()) if single else distance


def _array_pairs(
    name: str, hypothesis: Any, truth: Any, hypothesis_lengths: Any, truth_lengths: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if library(hypothesis) != library(truth):
        raise LossInputError(
            name,
            "truth",
            f"an array of the library of 'hypothesis' ({library(hypothesis)})",
            describe(truth),
        )
    host = []
    for arg, value in (("hypothesis", hypothesis), ("truth", truth)):
        xp = array_namespace(value)
        if value.ndim != 2 or not xp.isdtype(value.dtype, "integral"):
            raise LossInputError(
                name, arg, "a 2-D integer array of shape (batch, length)", describe(value)
            )
        host.append(_host(name, arg, value))
    a, b = host
    if a.shape[0] != b.shape[0]:
        raise LossInputError(
            name,
            "truth",
            f"a batch of the size of 'hypothesis' ({a.shape[0]})",
            f"shape {tuple(b.shape)}",
        )
    n = a.shape[0]
    la = _lengths(
        name,
        "hypothesis_lengths",
        hypothesis_lengths,
        n,
        a.shape[1],
        "padded width of 'hypothesis'",
    )
    lb = _lengths(name, "truth_lengths", truth_lengths, n, b.shape[1], "padded width of 'truth'")
    return a, la, b, lb


# ---------------------------------------------------------------------------------------------
# CTC decoding


def _ctc_inputs(
    function: str, log_probs: Any, input_lengths: Any, blank: Any
) -> tuple[Any, np.ndarray, int]:
    """Checks (N, T, C) ``log_probs``, the lengths and the blank; returns the lengths on the
    host and the blank as an int."""
    if not is_array_api_obj(log_probs):
        raise LossInputError(
            function, "log_probs", "an array of shape (batch, time, classes)", describe(log_probs)
        )
    xp = array_namespace(log_probs)
    if log_probs.ndim != 3 or not xp.isdtype(log_probs.dtype, "real floating"):
        raise LossInputError(
            function,
            "log_probs",
            "a real floating array of shape (batch, time, classes)",
            describe(log_probs),
        )
    n, t, c = (int(s) for s in log_probs.shape)
    if c == 0:
        raise LossInputError(function, "log_probs", "at least one class", describe(log_probs))
    blank = check_parameter(function, "blank", blank, 0, c - 1, integer=True)
    lengths = _lengths(function, "input_lengths", input_lengths, n, t, "time axis of 'log_probs'")
    return xp, lengths, blank


def _collapse(path: np.ndarray, blank: int) -> np.ndarray:
    """The labelling of a CTC path: repeats merged, then blanks removed."""
    keep = np.ones(path.shape, dtype=bool)
    keep[1:] = path[1:] != path[:-1]
    return path[keep & (path != blank)].astype(np.int64)


def ctc_greedy_decode(log_probs: Any, input_lengths: Any, *, blank: int = 0) -> list[np.ndarray]:
    """Best-path CTC decoding: the most likely class of each frame, repeats collapsed, blanks
    dropped (Graves et al. 2006, section 3.2).

    ``pi_t = argmax_c log_probs[n, t, c]`` for ``t < input_lengths[n]`` (the first class on a
    tie), then the labelling ``B(pi)``. This is the most likely single path, not necessarily
    the most likely labelling (``ctc_beam_search_decode`` sums over paths).

    Args:
        log_probs: per-frame scores of shape (N, T, C), batch-major, of any supported library;
            log-probabilities or logits (the argmax is the same).
        input_lengths: integer vector of shape (N,) with each sample's number of frames in
            [0, T].
        blank: the blank class index, in [0, C).

    Returns:
        A list of N int64 NumPy arrays, the decoded label sequences.

    Raises:
        LossInputError: ``log_probs`` is not a real 3-D array, a length is outside [0, T], or
            ``blank`` is outside [0, C).
    """
    name = "ctc_greedy_decode"
    xp, lengths, blank = _ctc_inputs(name, log_probs, input_lengths, blank)
    best = _host(name, "log_probs", xp.argmax(log_probs, axis=-1))  # (N, T), on the device
    return [_collapse(best[k, : lengths[k]], blank) for k in range(best.shape[0])]


def ctc_beam_search_decode(
    log_probs: Any,
    input_lengths: Any,
    *,
    beam_width: int = 8,
    blank: int = 0,
    top_paths: int = 1,
) -> tuple[list[list[np.ndarray]], np.ndarray]:
    """CTC prefix beam search without a language model (Graves et al. 2006, section 3.2;
    Hannun et al. 2014, algorithm 1).

    Each prefix (labelling so far) ``l`` keeps two probabilities after frame t, those of all
    paths that collapse to ``l`` and end in a blank, ``b(l)``, or in its last label,
    ``nb(l)``; its probability is ``p(l) = b(l) + nb(l)``. With ``y_c`` the frame's
    probability of class c and ``last`` the last label of ``l``, the next frame gives:

        b'(l)       += p(l) y_blank            (a blank: l unchanged)
        nb'(l)      += nb(l) y_last            (the last label repeated: l unchanged)
        nb'(l + c)  += p(l) y_c                (c != last, c != blank)
        nb'(l + c)  += b(l) y_c                (c == last: a repeat needs a blank between)

    all held as logarithms, in float64: products are sums, ``+`` and ``+=`` are log-sum-exp
    merges (``logaddexp``). After each frame the ``beam_width`` prefixes of highest ``p`` are
    kept (ties: the first candidate). Without pruning (a beam at least the number of distinct
    prefixes) ``p(l)`` is the exact CTC probability of ``l``, the sum over all alignments.

    Args:
        log_probs: per-frame log-probabilities of shape (N, T, C), batch-major, of any
            supported library (unnormalised scores give scores, not log-probabilities).
        input_lengths: integer vector of shape (N,) with each sample's number of frames in
            [0, T].
        beam_width: prefixes kept after each frame, at least 1.
        blank: the blank class index, in [0, C).
        top_paths: labellings returned per sample, in [1, beam_width].

    Returns:
        ``(paths, log_probabilities)``: ``paths[n]`` is a list of ``top_paths`` int64 NumPy
        arrays, the best labellings of sample n, best first; ``log_probabilities`` is a float64
        NumPy array of shape (N, top_paths) with their total log-probabilities ``p``. Where
        fewer labellings have a non-zero probability the list is filled with empty arrays of
        log-probability ``-inf``.

    Raises:
        LossInputError: ``log_probs`` is not a real 3-D array or holds NaN, a length is outside
            [0, T], ``blank`` is outside [0, C), or ``beam_width`` or ``top_paths`` is out of
            range.
    """
    name = "ctc_beam_search_decode"
    _, lengths, blank = _ctc_inputs(name, log_probs, input_lengths, blank)
    beam_width = check_parameter(name, "beam_width", beam_width, 1, None, integer=True)
    top_paths = check_parameter(name, "top_paths", top_paths, 1, beam_width, integer=True)
    scores = _host(name, "log_probs", log_probs).astype(np.float64)
    if config.check_values and np.isnan(scores).any():
        raise LossInputError(name, "log_probs", "no NaN values", "NaN")
    paths: list[list[np.ndarray]] = []
    best = np.full((scores.shape[0], top_paths), -np.inf)
    for k in range(scores.shape[0]):
        prefixes, total = _prefix_beam_search(scores[k, : lengths[k]], blank, beam_width)
        order = np.argsort(-total, kind="stable")[:top_paths]
        found = [np.array(prefixes[i], dtype=np.int64) for i in order]
        best[k, : len(order)] = total[order]
        found += [np.zeros(0, dtype=np.int64)] * (top_paths - len(found))
        paths.append(found)
    return paths, best


def _prefix_beam_search(
    y: np.ndarray, blank: int, beam_width: int
) -> tuple[list[tuple[int, ...]], np.ndarray]:
    """The beam after the last frame of ``y`` (T, C): prefixes and their log-probabilities.

    Per frame the extensions of every prefix by every label form a (W, C) array; an extension
    that equals a prefix already in the beam is merged into that prefix's non-blank term (the
    only way two candidates coincide, since the prefixes are distinct).
    """
    n_classes = y.shape[1]
    prefixes: list[tuple[int, ...]] = [()]
    pb = np.array([0.0])  # log P(prefix, ending in blank): the empty prefix before any frame
    pnb = np.array([-np.inf])
    with np.errstate(invalid="ignore"):  # -inf - -inf in logaddexp's internals
        for frame in y:
            total = np.logaddexp(pb, pnb)
            last = np.array([p[-1] if p else -1 for p in prefixes])
            stay_b = total + frame[blank]
            stay_nb = np.where(last >= 0, pnb + frame[np.maximum(last, 0)], -np.inf)
            # extend[w, c]: prefix w followed by label c
            repeat = last[:, None] == np.arange(n_classes)
            extend = np.where(repeat, pb[:, None], total[:, None]) + frame[None, :]
            extend[:, blank] = -np.inf
            index = {p: w for w, p in enumerate(prefixes)}
            for v, p in enumerate(prefixes):
                w = index.get(p[:-1]) if p else None
                if w is not None:
                    stay_nb[v] = np.logaddexp(stay_nb[v], extend[w, p[-1]])
                    extend[w, p[-1]] = -np.inf
            stay_total = np.logaddexp(stay_b, stay_nb)
            candidates = np.concatenate([stay_total, extend.ravel()])
            keep = np.argsort(-candidates, kind="stable")[:beam_width]
            keep = keep[candidates[keep] > -np.inf]
            width = len(prefixes)
            new_prefixes, new_b, new_nb = [], [], []
            for i in keep:
                if i < width:
                    new_prefixes.append(prefixes[i])
                    new_b.append(stay_b[i])
                    new_nb.append(stay_nb[i])
                else:
                    w, c = divmod(int(i) - width, n_classes)
                    new_prefixes.append((*prefixes[w], c))
                    new_b.append(-np.inf)
                    new_nb.append(extend[w, c])
            prefixes, pb, pnb = new_prefixes, np.array(new_b), np.array(new_nb)
            if not prefixes:
                break
    return prefixes, np.logaddexp(pb, pnb) if prefixes else np.zeros(0)
