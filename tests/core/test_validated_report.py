"""Validated pass@k (`report --validated`): the three estimates, exactly, on hand-built data."""

from __future__ import annotations

import json
from fractions import Fraction
from math import comb
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from reachscope.core.cli import cli
from reachscope.core.metrics import pass_at_k_curve
from reachscope.core.review import pass_at_k_real, validated_estimate
from reachscope.store.annotations import set_label
from reachscope.store.review import get_queue, queue_items

from ..store.reviewdb import N, build_review_db


def _exact(n: int, c: Fraction | int, k: int) -> Fraction:
    """1 - prod (n - c - i) / (n - i), factors clamped at 0, in exact arithmetic."""
    prod = Fraction(1)
    for i in range(k):
        prod *= max(Fraction(0), (n - Fraction(c) - i) / Fraction(n - i))
    return 1 - prod


def test_real_pass_at_k_matches_the_integer_estimator_and_the_product() -> None:
    for n in (1, 5, 40):
        for c in range(n + 1):
            for k in range(1, n + 1):
                assert pass_at_k_real(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k))
    for n, c, k in [(5, 1.5, 2), (40, 2.5, 8), (40, 37.25, 3), (40, 38.5, 3), (10, 0.1, 10)]:
        want = _exact(n, Fraction(c), k)
        assert pass_at_k_real(n, c, k) == pytest.approx(float(want), abs=1e-12)
    assert pass_at_k_real(5, 1.5, 2) == pytest.approx(0.5625)  # 1 - 3.5 * 2.5 / 20
    assert np.isnan(pass_at_k_real(3, 1, 4))
    grid = [pass_at_k_real(40, c / 4, 8) for c in range(0, 161)]
    assert all(a <= b for a, b in zip(grid, grid[1:]))  # increasing in c


def test_three_estimates_by_hand() -> None:
    rows = [(4, 2, 2, 1), (4, 3, 1, 1), (4, 1, 0, 0), (5, 3, 2, 1)]  # the third: not reviewed
    est = validated_estimate(rows, [1, 2], resamples=0)
    assert est is not None
    assert (est.problems, est.with_valid, est.correct, est.judged, est.valid) == (3, 3, 8, 5, 3)
    # lower c' = v; upper c' = v + c - r; estimate c' = c v / r; n' = n throughout.
    lower = [[_exact(4, 1, k), _exact(4, 1, k), _exact(5, 1, k)] for k in (1, 2)]
    upper = [[_exact(4, 1, k), _exact(4, 3, k), _exact(5, 2, k)] for k in (1, 2)]
    mid = [[_exact(4, 1, k), _exact(4, 3, k), _exact(5, Fraction(3, 2), k)] for k in (1, 2)]
    for got, want in ((est.lower, lower), (est.upper, upper), (est.estimate, mid)):
        assert got.tolist() == pytest.approx([float(sum(w) / 3) for w in want], abs=1e-12)
    assert est.plain.tolist() == pytest.approx(pass_at_k_curve([4, 4, 5], [2, 3, 3], [1, 2]))
    assert np.isnan(est.low).all() and np.isnan(est.high).all()
    assert validated_estimate([(4, 1, 0, 0)], [1]) is None


def test_bootstrap_interval() -> None:
    rows = [(40, 5, 4, 2), (40, 2, 2, 2), (40, 12, 4, 1), (40, 1, 1, 0)]
    est = validated_estimate(rows, [1, 4, 16], resamples=2000, seed=3)
    assert est is not None
    assert (est.low <= est.estimate).all() and (est.estimate <= est.high).all()
    assert (est.high - est.low > 0.01).all()
    again = validated_estimate(rows, [1, 4, 16], resamples=2000, seed=3)
    assert again is not None and again.low.tolist() == est.low.tolist()  # seeded
    # One problem, every judged sample valid: nothing varies, the interval is the point.
    one = validated_estimate([(40, 3, 3, 3)], [1, 8], resamples=200)
    assert one is not None
    assert one.low.tolist() == pytest.approx(one.estimate.tolist())
    assert one.high.tolist() == pytest.approx(one.estimate.tolist())


@pytest.fixture
def labelled_db(tmp_path: Path) -> Path:
    """tests/store/reviewdb.py's database, its default queue (P0, P1, P4), labelled by ann:
    base P0 valid + flawed, base P4 valid + valid; rl P0 valid + flawed (2 of its 4 items),
    rl P1 flawed, rl P4 none. A judge says flawed on everything it sees."""
    path = tmp_path / "v.db"
    db, pids, runs = build_review_db(path)
    assert CliRunner().invoke(cli, ["review", str(path), "--runs", "base", "rl"]).exit_code == 0
    items = queue_items(db, get_queue(db, "review").id)
    by = {}
    for it in items:
        by.setdefault((it.run_label, pids.index(it.problem_id)), []).append(it.sample_id)
    plan = {("base", 0): ["valid", "flawed"], ("base", 4): ["valid", "valid"],
            ("rl", 0): ["valid", "flawed"], ("rl", 1): ["flawed"]}
    for key, labels in plan.items():
        for sid, label in zip(sorted(by[key]), labels):
            set_label(db, sid, label, "", "ann")
            set_label(db, sid, "flawed", "", "judge:m")
    set_label(db, sorted(by[("rl", 4)])[0], "skip", "", "ann")
    db.close()
    return path


def _validated(path: Path, *extra: str) -> dict:  # noqa: ANN401
    out = CliRunner().invoke(cli, ["report", str(path), "--runs", "base", "rl", "--no-evidence",
                                   "--format", "json", "--k", "1,2,8", "--validated", *extra])
    assert out.exit_code == 0, out.output
    return json.loads(out.output)["validated"]


def test_report_validated_on_a_hand_built_database(labelled_db: Path) -> None:
    got = _validated(labelled_db)
    assert got["reviewer"] is None and got["k"] == [1, 2, 8]
    base, rl = got["runs"]["base"], got["runs"]["rl"]
    # The paper's table: queue problems, solved, reviewed, >= 1 valid CoT.
    assert [base[x] for x in ("queue_problems", "solved", "reviewed", "with_valid")] == [3, 2, 2, 2]
    assert [rl[x] for x in ("queue_problems", "solved", "reviewed", "with_valid")] == [3, 3, 2, 1]
    assert (rl["correct"], rl["judged"], rl["valid"]) == (6, 3, 1)  # P4's skip is no judgement
    for j, k in enumerate([1, 2, 8]):
        # base P0 (n, c, r, v) = (40, 2, 2, 1), P4 (40, 2, 2, 2): everything judged, so
        # the three agree.
        b = float((_exact(N, 1, k) + _exact(N, 2, k)) / 2)
        assert [base[x][j] for x in ("lower", "estimate", "upper")] == pytest.approx([b] * 3)
        # rl P0 (40, 5, 2, 1), P1 (40, 1, 1, 0); P4 has nothing judged: left out.
        assert rl["lower"][j] == pytest.approx(float((_exact(N, 1, k) + 0) / 2))
        assert rl["upper"][j] == pytest.approx(float((_exact(N, 4, k) + 0) / 2))
        assert rl["estimate"][j] == pytest.approx(float(_exact(N, Fraction(5, 2), k) / 2))
        assert rl["low"][j] <= rl["estimate"][j] <= rl["high"][j]
        assert rl["plain"][j] == pytest.approx(float((_exact(N, 5, k) + _exact(N, 1, k)) / 2))


def test_report_validated_by_reviewer_and_format_errors(labelled_db: Path) -> None:
    judge = _validated(labelled_db, "--reviewer", "judge:m")
    assert judge["reviewer"] == "judge:m"
    assert [judge["runs"]["rl"][x] for x in ("reviewed", "with_valid", "valid")] == [2, 0, 0]
    assert judge["runs"]["rl"]["lower"] == [0.0, 0.0, 0.0]
    ann = _validated(labelled_db, "--reviewer", "ann")
    assert ann["runs"] == _validated(labelled_db)["runs"]  # ann is the only person
    out = CliRunner().invoke(cli, ["report", str(labelled_db), "--runs", "base", "rl",
                                   "--format", "csv", "--validated"])
    assert out.exit_code == 2 and "--validated works with --format table, json or markdown" \
        in out.output
    table = CliRunner().invoke(cli, ["report", str(labelled_db), "--runs", "base", "rl",
                                     "--no-evidence", "--k", "1,8", "--validated"])
    assert table.exit_code == 0, table.output
    assert "validated pass@k: people's labels (no judges)" in table.output
    assert "rl: CoT-pass@k (%) on 2 reviewed problems" in table.output
    md = CliRunner().invoke(cli, ["report", str(labelled_db), "--runs", "base", "rl",
                                  "--no-evidence", "--k", "1,8", "--format", "markdown",
                                  "--validated"])
    assert md.exit_code == 0 and "| rl | 3 | 3 | 2 | 1 |" in md.output
