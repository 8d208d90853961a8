"""`reachscope score --backend hf` against a direct transformers forward pass written here."""

from __future__ import annotations

import json
import math
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from reachscope.core.scoring.base import ScoreItem, split_ids
from reachscope.core.scoring.hf import HFScorer

from .labdb import MODELS, lab_copy


def _direct(model_dir: Path, prompt: str, completion: str) -> tuple[float, int, float]:
    """Sum log-prob, tokens and mean entropy of ``completion`` after ``prompt``, one by one."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    p = tok(prompt)["input_ids"]
    c = tok(completion, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([p + c])).logits[0]
    logp = torch.log_softmax(logits.double(), -1)
    rows = range(len(p) - 1, len(p) + len(c) - 1)
    total = sum(float(logp[i, (p + c)[i + 1]]) for i in rows)
    entropy = sum(float(-(logp[i].exp() * logp[i]).sum()) for i in rows) / len(c)
    return total, len(c), entropy


@pytest.fixture(scope="module")
def scored_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = lab_copy(tmp_path_factory.mktemp("score") / "lab.db", problems=4, per_problem=6)
    subprocess.run(
        [sys.executable, "-m", "reachscope.core.cli", "score", str(db), "--runs", "base", "rl",
         "--scorer", f"base={MODELS / 'base'}", "--scorer", f"rl={MODELS / 'rl'}",
         "--backend", "hf", "--device", "cpu", "--hf-batch-size", "5", "--batch-size", "7",
         "--quiet"], check=True, capture_output=True)
    return db


def test_hf_scores_agree_with_a_direct_forward_pass(scored_db: Path) -> None:
    conn = sqlite3.connect(scored_db)
    rows = conn.execute(
        "SELECT r.name, p.prompt, s.text, c.sum_logprob, c.n_tokens, c.mean_logprob, "
        "c.mean_entropy FROM scores c JOIN scorers r ON r.id = c.scorer_id "
        "JOIN samples s ON s.id = c.sample_id JOIN problems p ON p.id = s.problem_id "
        "ORDER BY s.id, r.name").fetchall()
    assert conn.execute("SELECT count(*) FROM samples").fetchone()[0] == 48
    assert len(rows) == 96  # every sample under both scorers
    for name, prompt, text, total, n, mean, entropy in rows[::7]:
        want, want_n, want_entropy = _direct(MODELS / name, prompt, text)
        assert n == want_n
        assert total == pytest.approx(want, rel=1e-3)
        assert mean == pytest.approx(want / want_n, rel=1e-3)
        assert entropy == pytest.approx(want_entropy, rel=1e-3)


def test_report_reads_the_scores(scored_db: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "reachscope.core.cli", "score", str(scored_db), "--report",
         "--format", "json"], check=True, capture_output=True, text=True).stdout
    data = json.loads(out)
    cells = {(c["scorer"], c["run"]): c for c in data["matrix"]}
    assert set(cells) == {(s, r) for s in ("base", "rl") for r in ("base", "rl")}
    assert all(c["pooled"]["n"] == 24 and c["per_problem"]["n"] == 4 for c in cells.values())
    own = {(p["scorer"], p["own_run"], p["other_run"]) for p in data["placements"]}
    assert own == {("base", "base", "rl"), ("rl", "rl", "base")}
    for p in data["placements"]:
        assert 0.3 <= p["own_share_below"]["all"] <= 0.7  # 0.5 up to ties and few samples
    table = subprocess.run(
        [sys.executable, "-m", "reachscope.core.cli", "score", str(scored_db), "--report"],
        check=True, capture_output=True, text=True).stdout
    assert "median [q1, q3]" in table and "only own solves" in table


def test_rerun_scores_nothing(scored_db: Path) -> None:
    err = subprocess.run(
        [sys.executable, "-m", "reachscope.core.cli", "score", str(scored_db),
         "--scorer", f"base={MODELS / 'base'}", "--quiet"],
        check=True, capture_output=True, text=True).stderr
    assert err.count("every sample has a base score") == 2


def test_completion_is_tokenised_apart_from_the_prompt(tiny_model: Path) -> None:
    """Tokenising prompt + completion together merges across the boundary in this BPE; the
    scorer scores the completion's own tokens, and scores them as the direct pass does."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    text = "Compute 12 * 7. We have 12 * 7 = 84, so the answer is \\boxed{84}."
    splits = [i for i in range(1, len(text))
              if tok(text, add_special_tokens=False)["input_ids"]
              != (tok(text[:i], add_special_tokens=False)["input_ids"]
                  + tok(text[i:], add_special_tokens=False)["input_ids"])]
    assert splits, "no boundary merge in this tokenizer"
    cut = splits[0]
    item = ScoreItem(1, text[:cut], text[cut:], add_special_tokens=False)
    prompt, completion = split_ids(tok, item)
    assert completion == tok(text[cut:], add_special_tokens=False)["input_ids"]
    scorer = HFScorer(str(tiny_model), device="cpu")
    with scorer:
        got = scorer.score([item, ScoreItem(2, "What is 1 + 1?", "", False)])
    want, n, _ = _direct(tiny_model, text[:cut], text[cut:])
    assert got[0].n_tokens == n == len(completion)
    assert got[0].sum_logprob == pytest.approx(want, rel=1e-3)
    assert got[1].n_tokens == 0 and got[1].mean_logprob is None and got[1].error is None
    assert math.isfinite(got[0].mean_entropy or math.nan)


def test_first_scores_a_subset_and_a_later_run_the_rest(tmp_path: Path) -> None:
    db = lab_copy(tmp_path / "lab.db", problems=3, per_problem=5)

    def score(*extra: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "reachscope.core.cli", "score", str(db), "--runs", "base",
             "--scorer", f"base={MODELS / 'base'}", "--device", "cpu", "--quiet", *extra],
            check=True, capture_output=True)

    def scored() -> list[tuple[int, int]]:
        with sqlite3.connect(db) as conn:
            return sorted(conn.execute(
                "SELECT s.problem_id, s.sample_idx FROM scores c JOIN samples s"
                " ON s.id = c.sample_id JOIN runs r ON r.id = s.run_id"
                " WHERE r.label = 'base'").fetchall())

    score("--first", "2")
    first = scored()
    assert len(first) == 3 * 2 and {idx for _, idx in first} == {0, 1}
    score()
    everything = scored()
    assert len(everything) == 3 * 5 and set(first) <= set(everything)


def test_the_same_model_given_by_another_path_is_the_same_scorer(tmp_path: Path) -> None:
    db = lab_copy(tmp_path / "lab.db", problems=1, per_problem=2)
    root = MODELS.parents[1]

    def score(model: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "reachscope.core.cli", "score", str(db), "--runs", "base",
             "--scorer", f"base={model}", "--device", "cpu", "--quiet"],
            cwd=root, capture_output=True, text=True)

    assert score("sample_db/models/base").returncode == 0
    again = score(str(MODELS / "base"))
    assert again.returncode == 0 and "every sample has a base score" in again.stderr
    other = score(str(MODELS / "rl"))
    assert other.returncode == 1 and "give this model another scorer name" in other.stderr
