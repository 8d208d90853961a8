"""core/answer_stats.py and the answer-evidence filters and sorts of core/browse.py."""

from __future__ import annotations

import math

import pytest
from reachscope.core import answer_stats, browse
from reachscope.core.answers import AnswerClusters, answer_distribution, maj_at_k
from reachscope.store.answers import AnswerRow, ClusterCount
from reachscope.store.problems import ProblemLine
from reachscope.store.scores import Scorer


def _row(answer: str, cluster: str | None, n: int, c: int = 0, t: int = 0,
         tc: int = 0) -> AnswerRow:
    return AnswerRow(answer, cluster, n, c, t, tc)


def test_cluster_groups_merge_forms_and_keep_no_answer_apart() -> None:
    rows = [_row("0.5", "1/2", 4, 4), _row("1/2", "1/2", 2, 2), _row("3", None, 5),
            _row("", None, 1, 0, 1)]
    groups = answer_stats.cluster_groups(rows)
    assert [(g.answer, g.members, g.n, g.c, g.verdict) for g in groups] == [
        ("1/2", ("1/2", "0.5"), 6, 6, "correct"), ("3", ("3",), 5, 0, "incorrect"),
        (None, ("",), 1, 0, "incorrect")]
    assert groups[0].holds("0.5") and not groups[0].holds("3")
    assert groups[2].holds(None) and groups[2].holds("") and not groups[2].holds("3")


def test_answer_stats_match_the_formulas() -> None:
    rows = [_row("0.5", "1/2", 4, 4, 1, 1), _row("1/2", "1/2", 2, 2), _row("3", None, 6, 0, 3),
            _row("", None, 2, 0, 2)]
    counts = answer_stats.cluster_counts_of(7, rows)
    stats = answer_stats.answer_stats(counts)
    clusters = AnswerClusters((6, 6), (True, False), no_answer=2)
    assert sorted(stats.clusters.sizes) == [6, 6] and stats.clusters.no_answer == 2
    assert stats.distribution == answer_distribution(clusters)
    assert math.isclose(stats.distribution.entropy, math.log(2))
    assert stats.distribution.mode_correct == 0.5  # a tie: half the tie-breaks are right
    assert stats.maj_n == maj_at_k(clusters, 14) == 0.5
    assert stats.correct == 6
    t = stats.truncation
    assert (t.samples, t.truncated, t.incorrect, t.incorrect_truncated, t.no_answer,
            t.no_answer_truncated) == (14, 6, 8, 5, 2, 2)
    assert stats.truncated_failures == 5
    # A tied mode is not "confidently wrong"; a wrong mode is, when A solves.
    assert not answer_stats.confidently_wrong(stats, 3)
    wrong = answer_stats.answer_stats([ClusterCount(1, "3", 5, 0, 0, 0, 1),
                                       ClusterCount(1, "1/2", 1, 1, 0, 0, 1)])
    assert answer_stats.confidently_wrong(wrong, 1)
    assert not answer_stats.confidently_wrong(wrong, 0)
    assert not answer_stats.confidently_wrong(None, 5)


def test_no_answer_only() -> None:
    stats = answer_stats.answer_stats([ClusterCount(1, "", 3, 0, 3, 0, 1)])
    assert stats.maj_n == 0.0 and stats.distribution.answered == 0
    assert browse.entropy_of(stats) is None and browse.distinct_of(stats) is None
    assert browse.truncated_share_of(stats) == 1.0


def test_perplexity_and_ppl_order() -> None:
    assert answer_stats.perplexity(-0.5) == pytest.approx(math.exp(0.5))
    assert answer_stats.perplexity(None) is None
    ppl = {1: {"base": 3.0}, 2: {"base": 1.5, "rl": 9.0}, 3: {"rl": 1.0}, 4: {"base": 2.0}}
    assert answer_stats.ppl_order([1, 2, 3, 4], ppl, "base", False) == [2, 4, 1, 3]
    assert answer_stats.ppl_order([1, 2, 3, 4], ppl, "base", True) == [1, 4, 2, 3]
    assert answer_stats.ppl_order([1, 2, 3, 4], ppl, "rl", False) == [3, 2, 1, 4]
    assert browse.format_ppl(1.02349) == "1.023" and browse.format_ppl(None) == ""
    assert browse.format_ppl(123.45) == "123.5" and browse.format_ppl(12345.0) == "12,345"


def test_own_scorer_by_name_then_model() -> None:
    scorers = [Scorer(1, "big", "models/base", "hf", {}), Scorer(2, "rl", "models/x", "hf", {})]
    assert answer_stats.own_scorer("rl", "models/base", scorers).id == 2
    assert answer_stats.own_scorer("base", "models/base", scorers).id == 1
    assert answer_stats.own_scorer("other", "elsewhere", scorers) is None
    assert answer_stats.own_scorer("other", None, scorers) is None


def _line(pid: int, counts: dict[int, tuple[int, int]]) -> ProblemLine:
    return ProblemLine(pid, pid, f"problem {pid}", "1", {}, counts)


def test_select_problems_evidence_filters_and_sorts() -> None:
    a, b = 1, 2

    def stats(rows: list[tuple[str, int, int, int, int]]) -> answer_stats.AnswerStats:
        return answer_stats.answer_stats([ClusterCount(0, k, n, c, t, tc, 1)
                                          for k, n, c, t, tc in rows])

    lines = [_line(10, {a: (4, 1), b: (4, 0)}), _line(11, {a: (4, 0), b: (4, 0)}),
             _line(12, {a: (4, 4), b: (4, 3)}), _line(13, {a: (4, 2)})]
    by_run = {
        a: {10: stats([("1", 1, 1, 0, 0), ("2", 3, 0, 2, 0)]), 11: stats([("2", 4, 0, 0, 0)]),
            12: stats([("1", 4, 4, 4, 4)]), 13: stats([("1", 2, 2, 0, 0), ("", 2, 0, 2, 0)])},
        b: {10: stats([("2", 3, 0, 0, 0), ("5", 1, 0, 0, 0)]), 11: stats([("2", 4, 0, 0, 0)]),
            12: stats([("1", 3, 3, 0, 0), ("2", 1, 0, 1, 0)])},
    }

    def ids(**kw: object) -> list[int]:
        query = browse.ProblemQuery(**kw)  # type: ignore[arg-type]
        return [line.id for line in browse.select_problems(lines, query, a, b, by_run)]

    # B's mode wrong while A has a correct sample: only 10 (11: A has none; 12: B's mode right).
    assert ids(evidence="confidently_wrong") == [10]
    # A failed sample cut for length, in A or B: 10 (A), 12 (B's "2"), 13 (A's no-answer);
    # 12's A samples are truncated but correct.
    assert ids(evidence="truncated_failures") == [10, 12, 13]
    assert ids(evidence="truncated_failures", category="only_a") == [10, 13]
    # Sorts by a run's answer evidence; problems without it last.
    h10, h12 = (by_run[b][p].distribution.entropy for p in (10, 12))
    assert math.isclose(h10, h12)  # both 3:1 splits; a stable sort keeps the index order
    assert ids(sort="b_entropy") == [11, 10, 12, 13]
    assert ids(sort="a_distinct") == [11, 12, 13, 10]
    assert ids(sort="a_trunc", reverse=True) == [12, 10, 13, 11]
    with pytest.raises(ValueError):
        ids(evidence="nonsense")
