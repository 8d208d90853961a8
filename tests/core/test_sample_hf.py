"""`reachscope sample` end to end with the hf backend: sample, grade, store, resume."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from reachscope.core.cli import cli
from reachscope.core.prompts import QWEN_BOXED
from reachscope.core.sampling import SampleConfig, SamplingError, parse_model, run_sampling

pytestmark = pytest.mark.slow


def _counts(db: Path) -> dict[tuple[str, int], int]:
    with sqlite3.connect(db) as conn:
        return {
            (label, pid): n
            for label, pid, n in conn.execute(
                "SELECT r.label, s.problem_id, count(*) FROM samples s JOIN runs r "
                "ON r.id = s.run_id GROUP BY r.label, s.problem_id"
            )
        }


def _sample(db: Path, math_file: Path, model: Path, *extra: str) -> None:
    result = CliRunner().invoke(
        cli,
        ["sample", "--db", str(db), "--dataset", str(math_file), "--model", f"base={model}",
         "--model", f"rl={model}", "--backend", "hf", "--temperature", "1.0",
         "--max-tokens", "8", "--seed", "3", "--device", "cpu", "--grade-workers", "1",
         "--quiet", *extra],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output


def test_sample_grade_store_and_resume(tmp_path: Path, math_file: Path, tiny_model: Path) -> None:
    db = tmp_path / "runs.db"
    _sample(db, math_file, tiny_model, "--n", "2", "--limit", "3")
    counts = _counts(db)
    assert counts and set(counts.values()) == {2} and len(counts) == 6

    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        runs = {r["label"]: r for r in conn.execute("SELECT * FROM runs")}
        first_ids = [r[0] for r in conn.execute("SELECT id FROM samples ORDER BY id")]
        graded = conn.execute(
            "SELECT count(*) FROM grades g JOIN samples s ON s.id = g.sample_id"
        ).fetchone()[0]
        totals = conn.execute("SELECT sum(n) FROM counts").fetchone()[0]
        # Each model's answers clustered and its maj@k cached (k = 1, 2) when it finished.
        maj = conn.execute("SELECT count(*), max(k) FROM maj_at_k").fetchone()
    assert tuple(maj) == (12, 2)
    assert set(runs) == {"base", "rl"}
    run = runs["base"]
    assert run["status"] == "finished" and run["finished_at"]
    assert run["prompt_template"] == QWEN_BOXED and run["backend"] == "hf"
    params = json.loads(run["params"])
    assert params["template_text"] == QWEN_BOXED and params["temperature"] == 1.0
    prov = json.loads(run["provenance"])
    assert prov["versions"]["torch"] and prov["model_config_sha256"]
    assert prov["tokens_generated"] > 0 and prov["sessions"][0]["argv"]
    assert graded == 12 and totals == 12

    # Same command, larger n: only the missing indices are generated, old samples untouched.
    _sample(db, math_file, tiny_model, "--n", "3", "--limit", "3")
    counts = _counts(db)
    assert set(counts.values()) == {3} and len(counts) == 6
    with sqlite3.connect(db) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM samples ORDER BY id")]
        idx = sorted(r[0] for r in conn.execute("SELECT DISTINCT sample_idx FROM samples"))
        graded = conn.execute("SELECT count(*) FROM grades").fetchone()[0]
        maj = conn.execute("SELECT count(*), max(k) FROM maj_at_k").fetchone()
        prov = json.loads(conn.execute(
            "SELECT provenance FROM runs WHERE label = 'base'").fetchone()[0])
    assert ids[: len(first_ids)] == first_ids and idx == [0, 1, 2]
    assert graded == 18 and len(prov["sessions"]) == 2
    assert tuple(maj) == (18, 3)  # the new grades dropped the old values; k = 1, 2, 3 now

    # A third time: nothing to do.
    _sample(db, math_file, tiny_model, "--n", "3", "--limit", "3")
    assert _counts(db) == counts


def test_seeds_reproduce_samples_across_resumes(tmp_path: Path, math_file: Path,
                                                tiny_model: Path) -> None:
    base = dict(dataset=str(math_file), backend="hf", temperature=1.0, max_tokens=6, seed=1,
                limit=1, grader="none", backend_options={"device": "cpu", "batch_size": 1})
    whole = SampleConfig(db=tmp_path / "a.db", models=[parse_model(f"m={tiny_model}")], n=3,
                         **base)
    run_sampling(whole)
    split_db = tmp_path / "b.db"
    for n in (1, 3):
        run_sampling(SampleConfig(db=split_db, models=[parse_model(f"m={tiny_model}")], n=n,
                                  **base))

    def texts(db: Path) -> list[tuple[int, int, str]]:
        with sqlite3.connect(db) as conn:
            return list(conn.execute("SELECT sample_idx, seed, text FROM samples ORDER BY 1"))

    assert texts(whole.db) == texts(split_db)


def test_resume_with_other_parameters_is_refused(tmp_path: Path, math_file: Path,
                                                 tiny_model: Path) -> None:
    cfg = dict(db=tmp_path / "c.db", dataset=str(math_file),
               models=[parse_model(f"m={tiny_model}")], backend="hf", n=1, max_tokens=4,
               limit=1, grader="none", backend_options={"device": "cpu"})
    run_sampling(SampleConfig(temperature=1.0, **cfg))
    with pytest.raises(SamplingError, match="temperature"):
        run_sampling(SampleConfig(temperature=0.5, **cfg))


def test_run_file(tmp_path: Path, math_file: Path, tiny_model: Path) -> None:
    run_file = tmp_path / "run.toml"
    run_file.write_text(
        f'db = "{tmp_path / "t.db"}"\ndataset = "{math_file}"\nbackend = "hf"\nn = 2\n'
        f'max-tokens = 4\nlimit = 2\ngrader = "none"\ntemplate = "plain"\ndevice = "cpu"\n'
        f'[model]\nbase = "{tiny_model}"\n'
    )
    result = CliRunner().invoke(cli, ["sample", "--config", str(run_file), "--n", "1", "-q"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    counts = _counts(tmp_path / "t.db")
    assert set(counts.values()) == {1} and len(counts) == 2  # --n on the command line wins


def test_unreadable_model_fails_its_run_only(tmp_path: Path, math_file: Path,
                                            tiny_model: Path) -> None:
    cfg = SampleConfig(db=tmp_path / "d.db", dataset=str(math_file),
                       models=[parse_model(f"bad={tmp_path / 'missing'}"),
                               parse_model(f"good={tiny_model}")],
                       backend="hf", n=1, max_tokens=4, limit=2, grader="none",
                       backend_options={"device": "cpu"})
    bad, good = run_sampling(cfg)
    assert bad.status == "failed" and "cannot load model" in bad.errors[0]
    assert good.status == "finished" and good.written == 2


def test_a_failing_problem_does_not_stop_the_others(tmp_path: Path, tiny_model: Path) -> None:
    data = tmp_path / "mixed.jsonl"
    rows = [{"problem": "What is 1 + 1?", "answer": "2"},
            {"problem": "1 + " * 3000, "answer": "3000"},  # longer than the model's context
            {"problem": "Compute 12 * 7.", "answer": "84"}]
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    result = CliRunner().invoke(
        cli, ["sample", "--db", str(tmp_path / "m.db"), "--dataset", str(data), "--model",
              f"m={tiny_model}", "--backend", "hf", "--n", "2", "--max-tokens", "4",
              "--grader", "none", "--device", "cpu"],
    )
    assert result.exit_code == 1
    assert "problem 1 samples 0..1" in result.output and "exceeds the context" in result.output
    with sqlite3.connect(tmp_path / "m.db") as conn:
        assert conn.execute("SELECT count(*) FROM samples").fetchone()[0] == 4
        status, prov = conn.execute("SELECT status, provenance FROM runs").fetchone()
    assert status == "failed" and "exceeds the context" in json.loads(prov)["sessions"][0][
        "errors"][0]


def test_chat_template_prompt_is_recorded(tmp_path: Path, math_file: Path,
                                          tiny_model: Path) -> None:
    cfg = SampleConfig(db=tmp_path / "chat.db", dataset=str(math_file),
                       models=[parse_model(f"m={tiny_model}")], backend="hf", n=1,
                       max_tokens=4, limit=1, grader="none", template="plain",
                       chat_template=True, backend_options={"device": "cpu"})
    [outcome] = run_sampling(cfg)
    assert outcome.status == "finished"
    with sqlite3.connect(cfg.db) as conn:
        params, prov = conn.execute("SELECT params, provenance FROM runs").fetchone()
    assert json.loads(params)["chat_template"] is True
    from transformers import AutoTokenizer

    expected = AutoTokenizer.from_pretrained(tiny_model).apply_chat_template(
        [{"role": "user", "content": "{problem}"}], tokenize=False, add_generation_prompt=True
    )
    assert json.loads(prov)["chat_prompt_template"] == expected
