"""`reachscope export`: every table in every format, read back with pandas and DuckDB."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pytest
from click.testing import CliRunner
from reachscope.core import export
from reachscope.core.cli import cli
from reachscope.store import GradeIn, ProblemIn, RunSpec, SampleIn, open_db
from reachscope.store.annotations import set_label
from reachscope.store.exports import sample_pages
from reachscope.store.grades import write_grades
from reachscope.store.problems import upsert_problems
from reachscope.store.runs import get_or_create_run, get_run
from reachscope.store.samples import write_samples

#: Texts that break naive CSV and JSON writers: quotes, commas, newlines, non-ASCII, a NUL.
TEXTS = ['plain \\boxed{4}', 'a "quoted", comma\nand a newline', "ünïcödé → 🙂", "tab\tend",
         "x\x00y"]
PROBLEMS, SAMPLES = 3, 5
FORMATS = ("parquet", "csv", "jsonl")


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """base: 3 problems x 5 samples graded by `math` (and 2 by `other`); rl: the same under
    `math` only; draft: 2 samples, never graded. Two labels on base samples."""
    path = tmp_path_factory.mktemp("export") / "runs.db"
    db = open_db(path)
    with db.atomic():
        pids = upsert_problems(db, "toy", [ProblemIn(i, f"problem {i}", str(i))
                                           for i in range(PROBLEMS)])
        for label, offset in (("base", 0), ("rl", 1), ("draft", 2)):
            run_id, _ = get_or_create_run(db, RunSpec(label, "toy", model=label,
                                                      primary_grader=None if label == "draft"
                                                      else "math"))
            n = 2 if label == "draft" else SAMPLES
            write_samples(db, run_id, [
                SampleIn(pid, j, TEXTS[(j + offset) % len(TEXTS)],
                         n_tokens=None if j == 0 else 10 + j,
                         finish_reason="length" if j == 1 else "stop", seed=j,
                         latency_s=0.5 * j)
                for pid in pids for j in range(n)])
            if label == "draft":
                continue
            ids = db.execute("SELECT id, sample_idx FROM samples WHERE run_id = ? ORDER BY id",
                             [run_id]).fetchall()
            write_grades(db, [GradeIn(i, "math", "correct" if (i + offset) % 3 == 0
                                      else "incorrect", answer=str(i % 4)) for i, _ in ids])
            if label == "base":
                write_grades(db, [GradeIn(i, "other", "correct", answer="x")
                                  for i, j in ids if j < 2])
                set_label(db, ids[0][0], "lucky guess", note='says "4", no work', reviewer="ana")
                set_label(db, ids[3][0], "sound", reviewer="bo")
    db.conn.close()
    return path


def cli_ok(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def read_pandas(path: Path, fmt: str) -> pd.DataFrame:
    if fmt == "parquet":
        return pd.read_parquet(path)
    if fmt == "csv":
        return pd.read_csv(path, keep_default_na=False, na_values=[""])
    return pd.read_json(path, lines=True, dtype=False)


def read_duckdb(path: Path, fmt: str) -> pd.DataFrame:
    reader = {"parquet": "read_parquet", "csv": "read_csv", "jsonl": "read_json"}[fmt]
    con = duckdb.connect()
    try:
        return con.execute(f"SELECT * FROM {reader}(?)", [str(path)]).df()
    finally:
        con.close()


def stored_samples(db_path: Path) -> pd.DataFrame:
    """The samples and their `math` verdicts, straight from SQLite (the expected values)."""
    import sqlite3

    con = sqlite3.connect(db_path)
    try:
        return pd.read_sql_query(
            "SELECT r.label AS run, s.problem_id, s.sample_idx, s.text, s.n_tokens, "
            "s.finish_reason, g.verdict, g.answer FROM samples s JOIN runs r ON r.id = s.run_id "
            "LEFT JOIN grades g ON g.sample_id = s.id AND g.grader = r.primary_grader "
            "ORDER BY s.run_id, s.problem_id, s.sample_idx", con)
    finally:
        con.close()


@pytest.mark.parametrize("fmt", FORMATS)
def test_samples_round_trip_in_every_format(db_path: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"samples.{fmt}"
    cli_ok("export", str(db_path), "--what", "samples", "--out", str(out))
    want = stored_samples(db_path)
    assert len(want) == 2 * PROBLEMS * SAMPLES + PROBLEMS * 2
    for got in (read_pandas(out, fmt), read_duckdb(out, fmt)):
        assert len(got) == len(want)
        assert list(got["run"]) == list(want["run"])
        assert list(got["text"]) == list(want["text"])  # quotes, newlines, NUL survive
        assert list(got["sample_idx"]) == list(want["sample_idx"])
        assert [None if pd.isna(v) else v for v in got["verdict"]] == [
            None if pd.isna(v) else v for v in want["verdict"]]
        assert got["n_tokens"].isna().sum() == want["n_tokens"].isna().sum() == 3 * PROBLEMS
        draft = got[got["run"] == "draft"]
        assert draft["grader"].isna().all() and draft["verdict"].isna().all()
        assert set(got[got["run"] == "base"]["grader"]) == {"math"}


def test_parquet_keeps_the_types(db_path: Path, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    out = tmp_path / "s.parquet"
    cli_ok("export", str(db_path), "--what", "samples", "--runs", "base", "--out", str(out),
           "--no-text")
    schema = pq.read_schema(out)
    assert "text" not in schema.names
    assert str(schema.field("n_tokens").type) == "int64"
    assert str(schema.field("latency_s").type) == "double"
    df = pd.read_parquet(out)
    assert len(df) == PROBLEMS * SAMPLES and set(df["run"]) == {"base"}
    assert df["latency_s"].tolist() == [0.5 * j for _ in range(PROBLEMS) for j in range(SAMPLES)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_grades_counts_and_annotations(db_path: Path, tmp_path: Path, fmt: str) -> None:
    grades = tmp_path / f"g.{fmt}"
    cli_ok("export", str(db_path), "--what", "grades", "--runs", "base,rl", "--out", str(grades))
    g = read_duckdb(grades, fmt)
    # base: every sample by math plus 2 per problem by other; rl: math only.
    assert len(g) == 2 * PROBLEMS * SAMPLES + PROBLEMS * 2
    assert (g["grader"] == "other").sum() == PROBLEMS * 2
    assert not g.duplicated(["sample_id", "grader"]).any()
    only = tmp_path / f"g_other.{fmt}"
    cli_ok("export", str(db_path), "--what", "grades", "--grader", "other", "--runs", "base",
           "--out", str(only))
    assert set(read_pandas(only, fmt)["grader"]) == {"other"}

    counts = tmp_path / f"c.{fmt}"
    cli_ok("export", str(db_path), "--what", "counts", "--runs", "base", "--out", str(counts))
    c = read_pandas(counts, fmt)
    math = c[c["grader"] == "math"].sort_values("problem_id")
    want = g[(g["run"] == "base") & (g["grader"] == "math")].groupby("problem_id")["verdict"]
    assert math["n"].tolist() == want.size().tolist() == [SAMPLES] * PROBLEMS
    assert math["c"].tolist() == want.apply(lambda v: int((v == "correct").sum())).tolist()
    assert math["accuracy"].tolist() == pytest.approx((math["c"] / math["n"]).tolist())
    assert set(c[c["grader"] == "other"]["n"]) == {2}

    notes = tmp_path / f"a.{fmt}"
    cli_ok("export", str(db_path), "--what", "annotations", "--out", str(notes))
    a = read_duckdb(notes, fmt)
    assert sorted(a["label"]) == ["lucky guess", "sound"]
    assert set(a["run"]) == {"base"} and set(a["reviewer"]) == {"ana", "bo"}
    assert a[a["reviewer"] == "ana"]["note"].tolist() == ['says "4", no work']


def test_report_export_matches_report_json(db_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.parquet"
    cli_ok("export", str(db_path), "--what", "report", "--runs", "base,rl", "--bootstrap", "50",
           "--out", str(out))
    rep = json.loads(cli_ok("report", str(db_path), "--runs", "base,rl", "--format", "json",
                            "--bootstrap", "50"))
    df = read_duckdb(out, "parquet")
    pk = df[(df["section"] == "pass_at_k") & (df["metric"] == "pass_at_k")]
    for run, curve in rep["pass_at_k"].items():
        got = pk[pk["run"] == run].set_index("k")["value"]
        assert {str(k): v for k, v in got.items()} == pytest.approx(curve)
    diff = df[df["metric"] == "pass_at_k_difference"].set_index("k")
    assert diff["low"].to_dict() == pytest.approx(
        {int(k): v for k, v in rep["bootstrap"]["low"].items()})
    cov = df[df["section"] == "coverage"].set_index("metric")["value"].to_dict()
    assert cov["both"] == rep["coverage"]["both"]
    assert cov["only_run"] == rep["coverage"]["only"]["rl"]
    maj = df[(df["metric"] == "maj_at_k") & (df["run"] == "rl")].set_index("k")["value"]
    rl = next(r for r in rep["evidence"]["runs"] if r["label"] == "rl")
    assert {str(k): v for k, v in maj.items()} == pytest.approx(rl["maj_at_k"])


def test_bad_input_is_one_line_and_leaves_no_file(db_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.parquet"
    cases = [
        (["--what", "everything"], "'everything' is not one of"),
        (["--what", "samples", "--format", "xlsx"], "'xlsx' is not one of"),
        (["--what", "samples", "--runs", "nope"], "no run 'nope'"),
        (["--what", "grades", "--grader", "nobody"], "no grades from grader 'nobody'"),
    ]
    for args, message in cases:
        result = CliRunner().invoke(cli, ["export", str(db_path), *args, "--out", str(out)])
        assert result.exit_code != 0 and message in result.output, result.output
    result = CliRunner().invoke(cli, ["export", str(db_path), "--what", "samples", "--out",
                                      str(tmp_path / "x.txt")])
    assert result.exit_code != 0 and "pass --format" in result.output
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "missing.db"), "--what",
                                      "samples", "--out", str(out)])
    assert result.exit_code != 0 and "no such database" in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_failed_export_keeps_the_old_file_and_no_temporary(db_path: Path,
                                                            tmp_path: Path) -> None:
    out = tmp_path / "s.jsonl"
    out.write_text("previous export\n")
    db = open_db(db_path, read_only=True)
    table = export.sample_batches(db, [get_run(db, "base")], batch_rows=4)

    def failing() -> Iterator[pa.RecordBatch]:
        for i, batch in enumerate(table.batches):
            if i == 2:
                raise OSError("disk full")
            yield batch

    with pytest.raises(OSError, match="disk full"):
        export.write_table(export.Table(table.schema, failing()), "jsonl", out)
    assert out.read_text() == "previous export\n"
    assert [p.name for p in tmp_path.iterdir()] == ["s.jsonl"]
    db.conn.close()


def test_pages_follow_the_key_and_cover_every_sample(db_path: Path) -> None:
    db = open_db(db_path, read_only=True)
    pages = list(sample_pages(db, 1, ["problem_id", "sample_idx", "verdict"], "math", page=4))
    assert [len(p) for p in pages] == [4, 4, 4, 3]
    keys = [(r[0], r[1]) for p in pages for r in p]
    assert keys == sorted(keys) and len(set(keys)) == PROBLEMS * SAMPLES
    one = list(sample_pages(db, 1, ["sample_idx"], problem_id=keys[-1][0], page=2))
    assert [r[0] for p in one for r in p] == list(range(SAMPLES))
    db.conn.close()


def test_the_installed_command_streams_to_a_file(db_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    proc = subprocess.run([sys.executable, "-m", "reachscope.core.cli", "export", str(db_path),
                           "--what", "samples", "--runs", "rl", "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {PROBLEMS * SAMPLES} samples rows of 1 run(s)" in proc.stderr
    assert len(pd.read_csv(out)) == PROBLEMS * SAMPLES


def test_the_arrow_reader_and_the_pages_give_the_same_table(db_path: Path) -> None:
    from reachscope.store.exports import arrow_reader_available
    from reachscope.store.runs import list_runs

    assert arrow_reader_available()  # adbc-driver-sqlite is a dependency
    db = open_db(db_path, read_only=True)
    runs = list_runs(db)  # draft: never graded, so its verdicts are null columns
    streamed = export.sample_batches(db, runs, batch_rows=4, path=db_path)
    paged = export.sample_batches(db, runs, batch_rows=4)
    a = pa.Table.from_batches(list(streamed.batches), schema=streamed.schema)
    b = pa.Table.from_batches(list(paged.batches), schema=paged.schema)
    assert a.num_rows == b.num_rows == 2 * PROBLEMS * SAMPLES + PROBLEMS * 2
    assert a.equals(b), (a.slice(0, 3).to_pylist(), b.slice(0, 3).to_pylist())
    db.conn.close()


def test_a_consumer_that_stops_early_stops_the_reader(db_path: Path) -> None:
    import threading

    db = open_db(db_path, read_only=True)
    table = export.sample_batches(db, [get_run(db, "base")], batch_rows=2, path=db_path)
    pages = export._prefetch(table.batches)
    assert next(pages).num_rows > 0
    pages.close()
    assert not [t for t in threading.enumerate() if t.name == "export-reader"]
    db.conn.close()
