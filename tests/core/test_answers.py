"""Answer clusters, answer spread and majority vote against brute force (issue 11)."""

from __future__ import annotations

import itertools
import math
import random
from fractions import Fraction

import numpy as np
import pytest
from reachscope.core import answers as an


def brute_maj(clusters: an.AnswerClusters, k: int) -> Fraction:
    """maj@k by enumerating every k-subset of the n labelled samples."""
    labels = [i for i, s in enumerate(clusters.sizes) for _ in range(s)]
    labels += [-1] * clusters.no_answer
    total, draws = Fraction(0), 0
    for draw in itertools.combinations(labels, k):
        draws += 1
        votes: dict[int, int] = {}
        for label in draw:
            if label >= 0:
                votes[label] = votes.get(label, 0) + 1
        if votes:
            top = max(votes.values())
            tied = [label for label, v in votes.items() if v == top]
            total += Fraction(sum(clusters.correct[label] for label in tied), len(tied))
    return total / draws


def random_clusters(rng: random.Random, max_clusters: int = 4, max_size: int = 4,
                    max_none: int = 3, p_correct: float = 0.4) -> an.AnswerClusters:
    sizes = tuple(rng.randint(1, max_size) for _ in range(rng.randint(0, max_clusters)))
    return an.AnswerClusters(sizes, tuple(rng.random() < p_correct for _ in sizes),
                             rng.randint(0, max_none))


# --- clustering and answer distributions --------------------------------------------------------


def test_cluster_answers_greedy_against_first_member() -> None:
    # within 1 of each other: not transitive. 1~2 and 2~3, but 1 !~ 3.
    def near(a: int, b: int) -> bool:
        return abs(a - b) <= 1

    assert an.cluster_answers([1, 2, 3, 1, 5], near) == [[0, 1, 3], [2], [4]]
    # Another order, another (still deterministic) grouping.
    assert an.cluster_answers([2, 1, 3], near) == [[0, 1, 2]]
    assert an.cluster_answers([], near) == []


def test_clusters_from_samples_with_missing_answers() -> None:
    answers = ["4", None, "4", "5", None, "4.0"]
    verdicts = [True, False, True, False, False, True]
    got = an.AnswerClusters.from_samples(answers, verdicts, lambda a, b: float(a) == float(b))
    assert got == an.AnswerClusters((3, 1), (True, False), 2)
    assert (got.n, got.answered) == (6, 4)


def test_clusters_reject_bad_input() -> None:
    with pytest.raises(ValueError):
        an.AnswerClusters((1, 2), (True,))
    with pytest.raises(ValueError):
        an.AnswerClusters((0,), (True,))
    with pytest.raises(ValueError):
        an.AnswerClusters((1,), (True,), -1)


def test_answer_distribution_values() -> None:
    d = an.answer_distribution(an.AnswerClusters((2, 1, 1), (False, True, False), 3))
    want = -(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25))
    assert (d.answered, d.no_answer, d.distinct) == (4, 3, 3)
    assert d.entropy == pytest.approx(want)
    assert d.normalized_entropy == pytest.approx(want / math.log(4))
    assert d.mode_share == 0.5
    assert d.mode_correct == 0.0


def test_answer_distribution_extremes() -> None:
    all_differ = an.answer_distribution(an.AnswerClusters((1,) * 8, (False,) * 8))
    assert all_differ.normalized_entropy == pytest.approx(1.0)
    agree = an.answer_distribution(an.AnswerClusters((8,), (True,)))
    assert agree.entropy == 0.0 and agree.normalized_entropy == 0.0 and agree.mode_correct == 1.0
    one = an.answer_distribution(an.AnswerClusters((1,), (True,), 5))
    assert one.entropy == 0.0 and math.isnan(one.normalized_entropy)
    none = an.answer_distribution(an.AnswerClusters((), (), 4))
    assert math.isnan(none.entropy) and math.isnan(none.mode_share) and none.mode_correct is None
    assert none.no_answer == 4


def test_mode_ties_split() -> None:
    d = an.answer_distribution(an.AnswerClusters((3, 3, 3, 1), (True, False, False, True)))
    assert d.mode_correct == pytest.approx(1 / 3)
    assert an.cons_at_n(an.AnswerClusters((2, 2), (True, True))) == 1.0


def test_mean_entropy_skips_undefined() -> None:
    dists = [an.answer_distribution(c) for c in (
        an.AnswerClusters((1, 1), (True, False)),       # ln 2, normalised 1
        an.AnswerClusters((4,), (True,)),               # 0, normalised 0
        an.AnswerClusters((1,), (True,)),               # 0, normalised NaN
        an.AnswerClusters((), (), 3),                   # NaN, NaN
    )]
    assert an.mean_entropy(dists) == pytest.approx(math.log(2) / 3)
    assert an.mean_entropy(dists, normalized=True) == pytest.approx(0.5)
    assert math.isnan(an.mean_entropy([]))


def test_confidently_wrong() -> None:
    rl = [an.answer_distribution(c) for c in (
        an.AnswerClusters((5, 1), (False, True)),   # mode wrong, base solved: counts
        an.AnswerClusters((5, 1), (False, True)),   # mode wrong, base unsolved
        an.AnswerClusters((3, 3), (False, True)),   # tie with a correct mode: not "confident"
        an.AnswerClusters((), (), 6),               # no answer: not counted, stays in total
        an.AnswerClusters((6,), (True,)),           # right
    )]
    got = an.confidently_wrong([10, 11, 12, 13, 14], rl, [2, 0, 5, 5, 5])
    assert got.ids == [10] and got.total == 5 and got.share == pytest.approx(0.2)
    assert math.isnan(an.confidently_wrong([], [], []).share)
    with pytest.raises(ValueError):
        an.confidently_wrong([1], rl, [1])


# --- majority vote ------------------------------------------------------------------------------


def test_maj_at_k_matches_brute_force_single_correct_cluster() -> None:
    rng = random.Random(11)
    checked = 0
    for _ in range(25):
        c = random_clusters(rng, p_correct=0.0)
        if c.sizes:
            correct = [False] * len(c.sizes)
            correct[rng.randrange(len(c.sizes))] = True
            c = an.AnswerClusters(c.sizes, tuple(correct), c.no_answer)
        for k in range(1, c.n + 1):
            assert an.maj_at_k(c, k) == pytest.approx(float(brute_maj(c, k)), abs=1e-13)
            checked += 1
    assert checked > 100


def test_maj_at_k_matches_brute_force_any_number_correct() -> None:
    rng = random.Random(7)
    for _ in range(25):
        c = random_clusters(rng, max_clusters=5, max_size=3, p_correct=0.5)
        for k in range(1, c.n + 1):
            assert an.maj_at_k(c, k) == pytest.approx(float(brute_maj(c, k)), abs=1e-13)


@pytest.mark.parametrize("clusters", [
    an.AnswerClusters((2, 2), (True, False)),             # every even draw can tie
    an.AnswerClusters((3, 3, 3), (True, False, True)),    # three-way ties, two correct
    an.AnswerClusters((1, 1, 1, 1), (True, False, False, False), 2),
    an.AnswerClusters((4,), (False,), 4),                 # nothing correct
    an.AnswerClusters((), (), 3),                         # nothing answered
])
def test_maj_at_k_ties_and_degenerate(clusters: an.AnswerClusters) -> None:
    for k in range(1, clusters.n + 1):
        assert an.maj_at_k(clusters, k) == pytest.approx(float(brute_maj(clusters, k)),
                                                         abs=1e-13)


def test_maj_at_1_and_cons_at_n() -> None:
    rng = random.Random(3)
    for _ in range(30):
        c = random_clusters(rng, max_clusters=6, max_size=6)
        if c.n == 0:
            continue
        in_correct = sum(s for s, ok in zip(c.sizes, c.correct) if ok)
        assert an.maj_at_k(c, 1) == pytest.approx(in_correct / c.n)
        assert an.maj_at_k(c, c.n) == pytest.approx(an.cons_at_n(c))


def test_maj_at_k_at_n1024_against_exact_two_clusters() -> None:
    """Correct cluster of 400 against a wrong one of 380, 244 without an answer, k = 60."""
    s1, s2, none, k = 400, 380, 244, 60
    n = s1 + s2 + none
    win = tie = 0
    for x1 in range(k + 1):
        for x2 in range(k - x1 + 1):
            w = math.comb(s1, x1) * math.comb(s2, x2) * math.comb(none, k - x1 - x2)
            if x1 > x2:
                win += w
            elif x1 == x2 and x1 > 0:
                tie += w
    want = Fraction(2 * win + tie, 2 * math.comb(n, k))
    got = an.maj_at_k(an.AnswerClusters((s1, s2), (True, False), none), k)
    assert got == pytest.approx(float(want), rel=1e-10)


def test_maj_at_k_large_n_is_a_probability_and_monotone_for_a_dominant_answer() -> None:
    c = an.AnswerClusters((600, 100, 90) + (1,) * 200, (True,) + (False,) * 202, 34)
    values = [an.maj_at_k(c, k) for k in (1, 3, 9, 33, 101, 301)]
    assert all(0.0 <= v <= 1.0 for v in values)
    # Increasing up to the log-space rounding (~1e-12) of the binomial weights at n = 1024.
    assert all(b > a - 1e-10 for a, b in zip(values, values[1:])) and values[0] < 0.6
    assert values[-1] == pytest.approx(1.0, abs=1e-10)
    assert an.maj_at_k(c, c.n) == 1.0


def test_maj_at_k_rejects_k_outside_1_to_n_and_matrix_gives_nan() -> None:
    c = an.AnswerClusters((2,), (True,), 1)
    for k in (0, 4):
        with pytest.raises(ValueError):
            an.maj_at_k(c, k)
    m = an.maj_at_k_matrix([c, an.AnswerClusters((), (), 0)], [1, 3, 4])
    assert m[0, :2].tolist() == [pytest.approx(2 / 3), 1.0] and math.isnan(m[0, 2])
    assert np.isnan(m[1]).all()


def test_maj_at_k_ignores_cluster_order() -> None:
    a = an.AnswerClusters((3, 1, 2), (False, True, True), 1)
    b = an.AnswerClusters((2, 3, 1), (True, False, True), 1)
    assert [an.maj_at_k(a, k) for k in range(1, 8)] == [an.maj_at_k(b, k) for k in range(1, 8)]


@pytest.mark.parametrize("clusters", [
    an.AnswerClusters((3, 1, 2), (True, True, True), 3),  # every cluster correct: shortcut
    an.AnswerClusters((5,), (True,), 2),                  # one correct cluster: shortcut
    an.AnswerClusters((2, 3), (False, False), 1),         # none correct: 0
])
def test_maj_at_k_shortcuts_match_brute_force(clusters: an.AnswerClusters) -> None:
    for k in range(1, clusters.n + 1):
        assert an.maj_at_k(clusters, k) == pytest.approx(float(brute_maj(clusters, k)),
                                                         abs=1e-15)
