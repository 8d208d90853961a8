"""Reasoning review: selection, seeded order, Cohen's kappa, CoT-pass@k, and the CLI."""

from __future__ import annotations

import csv
import io
import json
import math
import random
from itertools import combinations
from pathlib import Path

import pytest
from click.testing import CliRunner
from reachscope.core.cli import cli
from reachscope.core.prompts import load_template
from reachscope.core.review import (
    cohen_kappa,
    cot_counts,
    cot_pass_at_k,
    guessable_problems,
    judged_valid,
    pick_samples,
    select_problems,
)
from reachscope.store import open_db
from reachscope.store.annotations import set_label
from reachscope.store.review import get_queue, next_item, queue_items

from ..store.reviewdb import build_review_db

LABELS = ("valid", "flawed", "guess", "ambiguous", "skip")


def test_selection_bounds() -> None:
    counts = {"a": {1: (20, 1), 2: (20, 0), 3: (20, 2)}, "b": {2: (10, 0), 3: (10, 5),
                                                            4: (100, 5), 5: (0, 0)}}
    assert select_problems(counts, 0.05) == {1, 4}  # 5% exactly is in, 0 and 10% are out
    assert select_problems(counts, 0.5) == {1, 3, 4}
    assert guessable_problems({1: (10, 2), 4: (10, 3), 6: (10, 9)}, 0.2, {1, 4}) == {4}


def test_pick_is_seeded_capped_and_mixed() -> None:
    correct = {("base", 1): [10, 11, 12, 13, 14, 15], ("rl", 1): [20, 21], ("rl", 2): [30]}
    a = pick_samples(correct, 4, seed=7)
    assert a == pick_samples(dict(reversed(correct.items())), 4, seed=7)  # dict order is moot
    assert len(a) == 7 and {20, 21, 30} <= set(a) and len(set(a) & set(range(10, 16))) == 4
    orders = {tuple(pick_samples(correct, 4, seed=s)) for s in range(10)}
    assert len(orders) > 1


def test_kappa_hand_computed() -> None:
    a = dict(enumerate(["valid", "valid", "flawed", "flawed", "valid", "guess", "skip"]))
    b = dict(enumerate(["valid", "flawed", "flawed", "flawed", "valid", "valid", "valid"]))
    agr = cohen_kappa(a, b)
    # 6 judged by both (skip left out), 4 agree; p_e = (3*3 + 2*3 + 1*0) / 36 = 15/36
    assert (agr.n, agr.agreed) == (6, 4)
    assert agr.p_e == pytest.approx(15 / 36)
    assert agr.kappa == pytest.approx(3 / 7)
    assert agr.disagreements == {1: ("valid", "flawed"), 5: ("guess", "valid")}


def _kappa_brute(a: list[str], b: list[str]) -> float:
    cats = sorted(set(a) | set(b))
    n = len(a)
    table = [[sum(x == i and y == j for x, y in zip(a, b)) for j in cats] for i in cats]
    p_o = sum(table[i][i] for i in range(len(cats))) / n
    rows = [sum(r) / n for r in table]
    cols = [sum(table[i][j] for i in range(len(cats))) / n for j in range(len(cats))]
    p_e = sum(r * c for r, c in zip(rows, cols))
    return (p_o - p_e) / (1 - p_e)


def test_kappa_matches_the_confusion_matrix_formula() -> None:
    rng = random.Random(3)
    cats = ["valid", "flawed", "guess", "ambiguous"]
    for _ in range(50):
        n = rng.randint(2, 30)
        a = [rng.choice(cats) for _ in range(n)]
        b = [x if rng.random() < 0.6 else rng.choice(cats) for x in a]
        if len(set(a)) == 1 and a == b:
            continue
        assert cohen_kappa(dict(enumerate(a)), dict(enumerate(b))).kappa == pytest.approx(
            _kappa_brute(a, b))


def test_kappa_degenerate_cases() -> None:
    same = cohen_kappa({1: "valid", 2: "valid"}, {1: "valid", 2: "valid", 3: "flawed"})
    assert same.n == 2 and same.p_o == 1.0 and same.p_e == 1.0 and same.kappa is None
    none = cohen_kappa({1: "valid"}, {2: "valid"})
    assert none.n == 0 and none.kappa is None


def test_judged_valid_by_reviewer_and_consensus() -> None:
    labels = {"ann": {1: "valid", 2: "valid", 3: "skip"}, "bob": {1: "valid", 2: "flawed"}}
    assert judged_valid(labels, "ann") == {1: True, 2: True}
    assert judged_valid(labels) == {1: True, 2: False}
    assert judged_valid(labels, consensus="any") == {1: True, 2: True}


def _cot_brute(n: int, c: int, judged: int, valid: int, k: int, unreviewed: str) -> float:
    # samples: valid, judged-not-valid, correct-unjudged, incorrect
    pop = (["V"] * valid + ["J"] * (judged - valid) + ["U"] * (c - judged)
           + ["I"] * (n - c))
    if unreviewed == "exclude":
        pop = [s for s in pop if s != "U"]
    subsets = list(combinations(range(len(pop)), k))
    return sum(any(pop[i] == "V" for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("unreviewed", ["exclude", "invalid"])
def test_cot_pass_at_k_matches_brute_force(unreviewed: str) -> None:
    rows = [(6, 3, 2, 1), (5, 1, 1, 1), (7, 4, 4, 0), (6, 0, 0, 0)]
    ks = [1, 2, 3]
    got = cot_pass_at_k(rows, ks, unreviewed)  # type: ignore[arg-type]
    for j, k in enumerate(ks):
        want = sum(_cot_brute(*r, k, unreviewed) for r in rows) / len(rows)
        assert got[j] == pytest.approx(want)
    assert cot_counts(6, 3, 2, 1) == (5, 1) and cot_counts(6, 3, 2, 1, "invalid") == (6, 1)
    with pytest.raises(ValueError):
        cot_counts(5, 2, 3, 1)
    assert math.isnan(cot_pass_at_k([], [1])[0])


def test_direct_template_asks_for_the_answer_only() -> None:
    text = load_template("direct").render("What is 2+2?")
    assert text.startswith("What is 2+2?") and "final answer" in text and "\\boxed{}" in text


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_end_to_end(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    db, pids, runs = build_review_db(path)
    db.close()
    out = _run("review", str(path), "--runs", "base", "rl", "--guess-run", "direct")
    assert "built: 7 samples, blind" in out and "for any of toy/base, toy/rl: 3" in out
    assert "1 removed; 1 selected problems have no direct-answer samples" in out
    assert "toy/base: 2 samples" in out and "toy/rl: 5 samples" in out

    db = open_db(path)
    q = get_queue(db, "review")
    items = queue_items(db, q.id)
    assert q.selection["problems"] == [pids[0], pids[1]] and q.selection["guessable"] == [pids[4]]
    got = sorted((i.run_label, i.problem_idx) for i in items)
    assert got == [("base", 0)] * 2 + [("rl", 0)] * 4 + [("rl", 1)]
    assert all(i.sample_idx < 5 for i in items)  # only correct samples (the first c of each)

    again = _run("review", str(path), "--runs", "base", "rl", "--guess-run", "direct")
    assert "exists (same parameters" in again
    assert [i.sample_id for i in queue_items(db, q.id)] == [i.sample_id for i in items]
    refused = CliRunner().invoke(cli, ["review", str(path), "--runs", "base", "rl"])
    assert refused.exit_code != 0 and "--replace" in refused.output

    labels_a = ["valid", "valid", "flawed", "valid", "guess", "valid", "valid"]
    labels_b = ["valid", "flawed", "flawed", "valid", "guess", "valid"]
    for it, la in zip(items, labels_a):
        set_label(db, it.sample_id, la, reviewer="ann")
    for it, lb in zip(items, labels_b):
        set_label(db, it.sample_id, lb, reviewer="bob")
    assert next_item(db, q.id, "bob", LABELS).position == 6  # type: ignore[union-attr]
    db.close()

    status = _run("review", str(path), "--status")
    assert "7/7" in status and "6/7" in status
    want = cohen_kappa(dict(enumerate(labels_a)), dict(enumerate(labels_b))).kappa
    assert f"ann vs bob: 6 samples judged by both, 5 agree, Cohen's kappa {want:.3f}" in status
    assert f"#1: problem {items[1].problem_idx} sample {items[1].sample_idx}: valid / flawed" \
        in status  # blind queue: no run named
    assert "pass@k / CoT-pass@k" in status and "toy/base CoT" in status
    assert "toy/base: 2 of 2 correct samples judged" in status
    ann = _run("review", str(path), "--status", "--reviewer", "ann")
    assert "ann vs bob" in ann

    csv_out = _run("review", str(path), "--export", "-")
    rows = list(csv.DictReader(io.StringIO(csv_out)))
    assert len(rows) == 7 and rows[0]["label:ann"] == "valid" and rows[6]["label:bob"] == ""
    _run("review", str(path), "--export", str(tmp_path / "q.jsonl"))
    lines = [json.loads(x) for x in (tmp_path / "q.jsonl").read_text().splitlines()]
    assert [x["position"] for x in lines] == list(range(7))
    assert lines[1]["labels"] == {"ann": {"label": "valid", "note": ""},
                                  "bob": {"label": "flawed", "note": ""}}
