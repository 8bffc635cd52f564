"""lossatlas.sequence: the edit distance against a plain O(nm) dynamic programme (and rapidfuzz
where installed), with tf.edit_distance's conventions for empty sequences; CTC greedy and
prefix beam search decoding against exhaustive sums over all alignments of tiny cases."""

from __future__ import annotations

import itertools
import math
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from lossatlas import LossInputError
from lossatlas.sequence import ctc_beam_search_decode, ctc_greedy_decode, edit_distance


def levenshtein(a, b) -> int:
    """The textbook dynamic programme, one row at a time."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def tf_normalized(a, b) -> float:
    """tf.edit_distance(normalize=True) for one pair."""
    if len(b) == 0:
        return math.inf if len(a) else 0.0
    return levenshtein(a, b) / len(b)


def random_batch(rng, n, width_h, width_t, alphabet):
    """Padded batches whose pads hold random labels too (they must not count)."""
    a = rng.integers(0, alphabet, (n, width_h))
    b = rng.integers(0, alphabet, (n, width_t))
    la = rng.integers(0, width_h + 1, n)
    lb = rng.integers(0, width_t + 1, n)
    return a, la, b, lb


# ---------------------------------------------------------------------------------------------
# edit distance


@pytest.mark.parametrize("alphabet", [2, 5, 1000])
def test_edit_distance_matches_reference(alphabet):
    rng = np.random.default_rng(alphabet)
    a, la, b, lb = random_batch(rng, 300, 13, 9, alphabet)
    pairs = [(a[k, : la[k]].tolist(), b[k, : lb[k]].tolist()) for k in range(len(a))]
    raw = edit_distance(a, b, hypothesis_lengths=la, truth_lengths=lb, normalize=False)
    assert raw.dtype == np.float64 and raw.shape == (300,)
    np.testing.assert_array_equal(raw, [levenshtein(x, y) for x, y in pairs])
    normalized = edit_distance(a, b, hypothesis_lengths=la, truth_lengths=lb)
    np.testing.assert_array_equal(normalized, [tf_normalized(x, y) for x, y in pairs])
    # the same pairs as lists of integer lists
    listed = edit_distance([x for x, _ in pairs], [y for _, y in pairs], normalize=False)
    np.testing.assert_array_equal(listed, raw)


def test_edit_distance_full_width_and_long_sequences():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 4, (20, 70), dtype=np.uint8)
    b = rng.integers(0, 4, (20, 55), dtype=np.int32)
    expected = [levenshtein(x.tolist(), y.tolist()) for x, y in zip(a, b, strict=True)]
    np.testing.assert_array_equal(edit_distance(a, b, normalize=False), expected)
    np.testing.assert_allclose(edit_distance(a, b), np.array(expected) / 55, rtol=1e-15)


def test_edit_distance_tf_conventions():
    """The example of the tf.edit_distance docstring, pair by pair, and both empty."""
    hypothesis = [["a"], [], ["b"], [], []]
    truth = [[], ["a"], ["b", "c"], ["a"], []]
    h = ["".join(s) for s in hypothesis]
    t = ["".join(s) for s in truth]
    np.testing.assert_array_equal(edit_distance(h, t), [math.inf, 1.0, 0.5, 1.0, 0.0])
    np.testing.assert_array_equal(edit_distance(h, t, normalize=False), [1, 1, 1, 1, 0])
    codes = [[ord(c) for c in s] for s in hypothesis], [[ord(c) for c in s] for s in truth]
    np.testing.assert_array_equal(edit_distance(*codes), [math.inf, 1.0, 0.5, 1.0, 0.0])
    # the same through padded arrays and lengths
    a = np.array([[1], [7], [2], [7], [7]])
    b = np.array([[9, 9], [1, 9], [2, 3], [1, 9], [9, 9]])
    got = edit_distance(a, b, hypothesis_lengths=[1, 0, 1, 0, 0], truth_lengths=[0, 1, 2, 1, 0])
    np.testing.assert_array_equal(got, [math.inf, 1.0, 0.5, 1.0, 0.0])


def test_edit_distance_strings():
    pairs = [
        ("kitten", "sitting"),
        ("", ""),
        ("", "abc"),
        ("abc", ""),
        ("flaw", "lawn"),
        ("naïve", "naive"),
        ("😀a😀", "a😀"),
        ("日本語", "日本人"),
        ("Straße", "strasse"),
        ("a" * 40, "b" * 3 + "a" * 37),
    ]
    h, t = [p[0] for p in pairs], [p[1] for p in pairs]
    expected = [levenshtein(x, y) for x, y in pairs]
    np.testing.assert_array_equal(edit_distance(h, t, normalize=False), expected)
    np.testing.assert_array_equal(edit_distance(h, t), [tf_normalized(x, y) for x, y in pairs])
    one = edit_distance("kitten", "sitting")
    assert isinstance(one, np.ndarray) and one.shape == () and one.dtype == np.float64
    assert float(one) == 3 / 7
    assert float(edit_distance("😀", "", normalize=False)) == 1.0
    assert edit_distance([], [], normalize=False).shape == (0,)


def test_edit_distance_against_rapidfuzz():
    from rapidfuzz.distance import Levenshtein as levenshtein_lib

    rng = np.random.default_rng(2)
    words = ["".join(rng.choice(list("abcdé😀"), rng.integers(0, 15))) for _ in range(400)]
    h, t = words[:200], words[200:]
    expected = [levenshtein_lib.distance(x, y) for x, y in zip(h, t, strict=True)]
    np.testing.assert_array_equal(edit_distance(h, t, normalize=False), expected)


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_edit_distance_other_libraries(backend):
    rng = np.random.default_rng(3)
    a, la, b, lb = random_batch(rng, 50, 8, 6, 3)
    expected = edit_distance(a, b, hypothesis_lengths=la, truth_lengths=lb)
    convert = torch.asarray if backend == "torch" else jnp.asarray
    got = edit_distance(
        convert(a), convert(b), hypothesis_lengths=convert(la), truth_lengths=convert(lb)
    )
    assert got.dtype == (torch.float32 if backend == "torch" else jnp.float32)
    assert type(got).__module__.split(".")[0] == ("torch" if backend == "torch" else "jaxlib")
    np.testing.assert_allclose(np.asarray(got), expected.astype(np.float32))


def test_edit_distance_speed():
    """10^4 pairs of length 100 (about 0.15 s on two cores); a per-pair loop takes minutes."""
    rng = np.random.default_rng(4)
    a = rng.integers(0, 30, (10_000, 100))
    b = rng.integers(0, 30, (10_000, 100))
    start = time.perf_counter()
    d = edit_distance(a, b, normalize=False)
    assert time.perf_counter() - start < 5.0
    assert d[0] == levenshtein(a[0].tolist(), b[0].tolist())


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: edit_distance(np.zeros((3, 4), int), np.zeros((2, 4), int)), "truth"),
        (lambda: edit_distance(["a", "b"], ["a"]), "truth"),
        (lambda: edit_distance([[1], [2]], [[1]]), "truth"),
        (
            lambda: edit_distance(
                np.zeros((2, 4), int), np.zeros((2, 4), int), hypothesis_lengths=[1, 5]
            ),
            "hypothesis_lengths",
        ),
        (
            lambda: edit_distance(
                np.zeros((2, 4), int), np.zeros((2, 4), int), truth_lengths=np.array([-1, 2])
            ),
            "truth_lengths",
        ),
        (
            lambda: edit_distance(
                np.zeros((2, 4), int), np.zeros((2, 4), int), truth_lengths=np.array([1, 2, 3])
            ),
            "truth_lengths",
        ),
        (
            lambda: edit_distance(
                np.zeros((2, 4), int), np.zeros((2, 4), int), truth_lengths=np.array([1.0, 2.0])
            ),
            "truth_lengths",
        ),
        (lambda: edit_distance(np.zeros((2, 4)), np.zeros((2, 4), int)), "hypothesis"),
        (lambda: edit_distance(np.zeros((2, 4), int), np.zeros((2, 4), bool)), "truth"),
        (lambda: edit_distance(np.zeros(4, int), np.zeros(4, int)), "hypothesis"),
        (lambda: edit_distance(["ab"], np.zeros((1, 2), int)), "truth"),
        (lambda: edit_distance(np.zeros((1, 2), int), "ab"), "truth"),
        (lambda: edit_distance("ab", ["ab"]), "truth"),
        (lambda: edit_distance(["ab"], [[1, 2]]), "truth"),
        (lambda: edit_distance([[1.5, 2]], [[1, 2]]), "hypothesis"),
        (lambda: edit_distance(np.zeros((1, 2), int), torch.zeros(1, 2, dtype=int)), "truth"),
        (lambda: edit_distance(["ab"], ["ab"], truth_lengths=[2]), "truth_lengths"),
        (lambda: edit_distance(["ab"], ["ab"], normalize=1), "normalize"),
        (lambda: edit_distance(3, 4), "hypothesis"),
    ],
)
def test_edit_distance_errors(call, argument):
    with pytest.raises(LossInputError) as info:
        call()
    assert info.value.function == "edit_distance" and info.value.argument == argument


def test_edit_distance_needs_concrete_values():
    a = jnp.zeros((2, 3), dtype=jnp.int32)
    with pytest.raises(LossInputError, match="concrete"):
        jax.jit(lambda x: edit_distance(x, x))(a)


# ---------------------------------------------------------------------------------------------
# CTC decoding


def collapse(path, blank):
    out = []
    previous = None
    for c in path:
        if c != previous and c != blank:
            out.append(c)
        previous = c
    return tuple(out)


def exhaustive(y, blank):
    """{labelling: log-probability} summed over all alignments, and the best single path."""
    frames, classes = y.shape
    sums: dict[tuple[int, ...], list[float]] = {}
    best_path, best_score = None, -math.inf
    for path in itertools.product(range(classes), repeat=frames):
        score = float(sum(y[t, c] for t, c in enumerate(path)))
        sums.setdefault(collapse(path, blank), []).append(score)
        if score > best_score:
            best_path, best_score = path, score
    totals = {label: float(np.logaddexp.reduce(scores)) for label, scores in sums.items()}
    return totals, collapse(best_path, blank)


def random_log_probs(rng, n, frames, classes):
    return np.log(rng.dirichlet(np.full(classes, 0.7), size=(n, frames)))


def test_ctc_decoders_match_exhaustive_search():
    rng = np.random.default_rng(5)
    for case in range(60):
        frames = int(rng.integers(0, 6))
        classes = int(rng.integers(1, 5))
        blank = int(rng.integers(0, classes))
        n = 3
        y = random_log_probs(rng, n, frames + 2, classes)  # two padded frames
        lengths = rng.integers(0, frames + 1, n)
        lengths[0] = frames
        greedy = ctc_greedy_decode(y, lengths, blank=blank)
        paths, scores = ctc_beam_search_decode(
            y, lengths, beam_width=2000, blank=blank, top_paths=3
        )
        assert scores.shape == (n, 3) and len(paths) == n
        for k in range(n):
            totals, best_single = exhaustive(y[k, : lengths[k]], blank)
            assert tuple(greedy[k].tolist()) == best_single, case
            ranked = sorted(totals.items(), key=lambda item: -item[1])
            for rank in range(3):
                if rank < len(ranked):
                    assert tuple(paths[k][rank].tolist()) == ranked[rank][0], (case, k, rank)
                    assert abs(scores[k, rank] - ranked[rank][1]) <= 1e-12
                else:  # fewer labellings than top_paths
                    assert paths[k][rank].size == 0 and scores[k, rank] == -math.inf


def test_ctc_beam_search_narrow_beam():
    rng = np.random.default_rng(6)
    y = random_log_probs(rng, 8, 5, 4)
    lengths = np.full(8, 5)
    paths, scores = ctc_beam_search_decode(y, lengths, beam_width=1)
    _, wide_scores = ctc_beam_search_decode(y, lengths, beam_width=500)
    for k in range(8):
        label = paths[k][0]
        assert label.dtype == np.int64 and np.all((label >= 1) & (label < 4))
        totals, _ = exhaustive(y[k], 0)
        # a pruned beam keeps part of the label's mass, never more, never above the best
        assert scores[k, 0] <= totals[tuple(label.tolist())] + 1e-12
        assert scores[k, 0] <= wide_scores[k, 0] + 1e-12


def test_ctc_beam_search_longer_input_runs():
    rng = np.random.default_rng(7)
    y = random_log_probs(rng, 4, 60, 12)
    paths, scores = ctc_beam_search_decode(y, [60, 30, 1, 0], beam_width=10, top_paths=4)
    assert np.all(scores[:, :-1] >= scores[:, 1:])  # best first
    assert [len(p) for p in paths] == [4] * 4
    assert scores[3, 0] == 0.0 and paths[3][0].size == 0  # no frames: the empty labelling
    assert np.all(scores[3, 1:] == -math.inf)


def test_ctc_greedy_decode_examples_and_libraries():
    # frames: a a _ a b b _ (blank 0): "a a" separated by a blank stays two labels
    best = [1, 1, 0, 1, 2, 2, 0]
    y = np.full((1, 7, 3), -5.0)
    y[0, np.arange(7), best] = -0.1
    np.testing.assert_array_equal(ctc_greedy_decode(y, [7])[0], [1, 1, 2])
    np.testing.assert_array_equal(ctc_greedy_decode(y, [4])[0], [1, 1])
    np.testing.assert_array_equal(ctc_greedy_decode(y, [7], blank=2)[0], [1, 0, 1, 0])
    rng = np.random.default_rng(8)
    y = random_log_probs(rng, 5, 9, 6)
    lengths = np.array([9, 0, 3, 9, 5])
    expected = ctc_greedy_decode(y, lengths)
    for got in (
        ctc_greedy_decode(torch.asarray(y), torch.asarray(lengths)),
        ctc_greedy_decode(torch.asarray(y).to(torch.bfloat16).float(), lengths),
        ctc_greedy_decode(jnp.asarray(y), jnp.asarray(lengths)),
    ):
        for e, g in zip(expected, got, strict=True):
            assert isinstance(g, np.ndarray) and g.dtype == np.int64
            np.testing.assert_array_equal(g, e)
    paths, _ = ctc_beam_search_decode(torch.asarray(y, dtype=torch.bfloat16), lengths)
    assert len(paths) == 5


@pytest.mark.parametrize("decode", [ctc_greedy_decode, ctc_beam_search_decode])
@pytest.mark.parametrize(
    ("args", "kwargs", "argument"),
    [
        ((np.zeros((2, 3)), [3, 3]), {}, "log_probs"),
        ((np.zeros((2, 3, 4), dtype=int), [3, 3]), {}, "log_probs"),
        (([[[0.0]]], [1]), {}, "log_probs"),
        ((np.zeros((2, 3, 0)), [3, 3]), {}, "log_probs"),
        ((np.zeros((2, 3, 4)), [3, 4]), {}, "input_lengths"),
        ((np.zeros((2, 3, 4)), [3, -1]), {}, "input_lengths"),
        ((np.zeros((2, 3, 4)), [3]), {}, "input_lengths"),
        ((np.zeros((2, 3, 4)), 3), {}, "input_lengths"),
        ((np.zeros((2, 3, 4)), [3, 3]), {"blank": 4}, "blank"),
        ((np.zeros((2, 3, 4)), [3, 3]), {"blank": -1}, "blank"),
    ],
)
def test_ctc_decode_errors(decode, args, kwargs, argument):
    with pytest.raises(LossInputError) as info:
        decode(*args, **kwargs)
    assert info.value.function == decode.__name__ and info.value.argument == argument


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"beam_width": 0}, "beam_width"),
        ({"beam_width": 2.5}, "beam_width"),
        ({"beam_width": 2, "top_paths": 3}, "top_paths"),
        ({"top_paths": 0}, "top_paths"),
    ],
)
def test_ctc_beam_search_parameter_errors(kwargs, argument):
    with pytest.raises(LossInputError) as info:
        ctc_beam_search_decode(np.zeros((1, 2, 3)), [2], **kwargs)
    assert info.value.argument == argument


def test_ctc_beam_search_rejects_nan():
    y = np.zeros((1, 2, 3))
    y[0, 1, 2] = np.nan
    with pytest.raises(LossInputError, match="NaN"):
        ctc_beam_search_decode(y, [2])
