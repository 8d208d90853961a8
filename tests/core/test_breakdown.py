"""pass@k and coverage per metadata value, against a hand-computed example."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from reachscope.core import breakdown as bd
from reachscope.core.cli import cli
from reachscope.core.demo import demo_db_path

#: difficulty per problem; 5 has none, 6 is only in run A with n = 0 (no samples anywhere).
METADATA = {1: {"difficulty": 1}, 2: {"difficulty": 1}, 3: {"difficulty": 2},
            4: {"difficulty": 2}, 5: {"id": "x"}, 6: {"difficulty": 3}, 7: {"difficulty": 10}}
RUN_A = {1: (2, 1), 2: (2, 0), 3: (2, 2), 4: (2, 1), 5: (2, 0), 6: (0, 0), 7: (4, 1)}
RUN_B = {1: (2, 2), 2: (2, 1), 5: (2, 1), 7: (4, 0)}  # no samples of difficulty 2


def test_breakdown_by_difficulty_by_hand() -> None:
    out = bd.breakdown("difficulty", METADATA, [RUN_A, RUN_B], ks=[1, 2])
    assert out.field == "difficulty" and out.ks == [1, 2]
    # Natural order (10 after 2), the problems without a value last, 6 (no samples) nowhere.
    assert [g.value for g in out.groups] == ["1", "2", "10", bd.MISSING]
    one, two, ten, missing = out.groups

    # difficulty 1: A has 1/2 and 0/2, B has 2/2 and 1/2.
    # pass@1 = mean c/n; pass@2 with n = 2 is 1 as soon as c >= 1.
    assert (one.problems, one.shared) == (2, 2)
    assert one.pass_at_k[0].tolist() == [0.25, 0.5]
    assert one.pass_at_k[1].tolist() == [0.75, 1.0]
    assert one.coverage is not None
    assert one.coverage.as_counts() == {"both": 1, "only_a": 0, "only_b": 1, "neither": 0}
    assert one.coverage.only_b == [2]

    # difficulty 2: B has no samples, so its pass@k is missing and no problem is shared.
    assert (two.problems, two.shared) == (2, 0)
    assert two.pass_at_k[0].tolist() == [0.75, 1.0]
    assert all(math.isnan(x) for x in two.pass_at_k[1])
    assert two.coverage is not None
    assert two.coverage.as_counts() == {"both": 0, "only_a": 0, "only_b": 0, "neither": 0}

    # difficulty 10: A 1/4 (pass@2 = 1 - C(3,2)/C(4,2) = 1/2), B 0/4.
    assert ten.pass_at_k[0].tolist() == pytest.approx([0.25, 0.5])
    assert ten.pass_at_k[1].tolist() == [0.0, 0.0]
    assert ten.coverage is not None and ten.coverage.only_a == [7]

    # no difficulty: A 0/2, B 1/2.
    assert missing.pass_at_k[0].tolist() == [0.0, 0.0]
    assert missing.pass_at_k[1].tolist() == [0.5, 1.0]
    assert missing.coverage is not None and missing.coverage.only_b == [5]


def test_k_beyond_a_groups_n_is_missing_and_one_run_has_no_coverage() -> None:
    out = bd.breakdown("difficulty", METADATA, [RUN_A], ks=[1, 4])
    one = out.groups[0]
    assert one.coverage is None and one.shared == 2
    assert one.pass_at_k[0][0] == 0.25 and math.isnan(one.pass_at_k[0][1])  # n = 2 < k = 4
    no_pair = bd.breakdown("difficulty", METADATA, [RUN_A, RUN_B], ks=[1], pair=False)
    assert all(g.coverage is None for g in no_pair.groups)


def test_fields_worth_a_breakdown() -> None:
    metadata = {i: {"difficulty": 1 + i % 3, "id": f"p{i}", "level": None, "subject": "Algebra",
                    "tags": ["a"], "level2": f"Level {1 + i % 2}", "split": "test"}
                for i in range(30)}
    # difficulty, subject: preferred fields, subject with its one value; level2: 2 values;
    # id: one value per problem; level: never set; tags: not a scalar; split: one value.
    assert bd.breakdown_fields(metadata) == ["difficulty", "subject", "level2"]
    # A live run's first 16 problems, all difficulty 1: difficulty, never the 16 ids.
    first = {i: {"difficulty": 1, "id": f"{i:016x}"} for i in range(16)}
    assert bd.breakdown_fields(first) == ["difficulty"]
    assert bd.breakdown_fields({}) == []


def test_next_field_cycles_through_none() -> None:
    fields = ["level", "subject"]
    assert [bd.next_field(fields, f) for f in (None, "level", "subject")] == \
        ["level", "subject", None]
    assert bd.next_field(fields, "gone") == "level"
    assert bd.next_field([], None) is None


def _report(*args: str) -> str:
    result = CliRunner().invoke(cli, ["report", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_report_by_difficulty_agrees_with_the_whole_dataset(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    shutil.copyfile(demo_db_path(), db)
    out = json.loads(_report(str(db), "--dataset", "lab-arith", "--by", "difficulty",
                             "--format", "json", "--bootstrap", "0"))
    by = out["breakdown"]
    assert by["field"] == "difficulty" and by["ks"] == out["ks"]
    groups = by["groups"]
    assert [g["value"] for g in groups] == ["1", "2", "3", "4", "5", "6"]
    # Every problem is in one group, so the groups' pass@k, weighted by their problems, is the
    # whole dataset's; coverage adds up the same way.
    for run in ("base", "rl"):
        for k in ("1", "16", "256"):
            mean = sum(g["problems"] * g["pass_at_k"][run][k] for g in groups) / 300
            assert mean == pytest.approx(out["pass_at_k"][run][k], abs=1e-12)
    assert sum(g["coverage"]["both"] for g in groups) == out["coverage"]["both"]
    assert sum(g["coverage"]["only"]["base"] for g in groups) == out["coverage"]["only"]["base"]

    text = _report(str(db), "--dataset", "lab-arith", "--by", "difficulty", "--bootstrap", "0")
    assert "pass@k and coverage by difficulty" in text
    assert re.search(r"difficulty\s+probs\s+base@1\s+rl@1\s+base@256\s+rl@256\s+both\s+"
                     r"only base\s+only rl\s+neither", text), text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_report_by_an_unknown_field_or_with_csv_is_a_one_line_error(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    shutil.copyfile(demo_db_path(), db)
    runner = CliRunner()
    bad = runner.invoke(cli, ["report", str(db), "--dataset", "lab-arith", "--by", "colour"])
    assert bad.exit_code != 0 and "no problem of these runs has the metadata field 'colour'" \
        in bad.output
    csv = runner.invoke(cli, ["report", str(db), "--by", "level", "--format", "csv"])
    assert csv.exit_code != 0 and "--by works with --format table or json" in csv.output
