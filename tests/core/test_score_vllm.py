"""`reachscope score --backend vllm` (one real CPU engine) against a direct forward pass."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from .labdb import MODELS, lab_copy
from .test_score_hf import _direct

pytestmark = pytest.mark.slow


def test_vllm_scores_agree_with_a_direct_forward_pass(tmp_path: Path) -> None:
    db = lab_copy(tmp_path / "lab.db", problems=3, per_problem=4)
    subprocess.run(
        [sys.executable, "-m", "reachscope.core.cli", "score", str(db), "--runs", "rl",
         "--scorer", f"base={MODELS / 'base'}", "--backend", "vllm", "--dtype", "float32",
         "--quiet"], check=True, capture_output=True)
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT p.prompt, s.text, c.sum_logprob, c.n_tokens, c.mean_entropy FROM scores c "
        "JOIN samples s ON s.id = c.sample_id JOIN problems p ON p.id = s.problem_id "
        "ORDER BY s.id").fetchall()
    assert len(rows) == 12
    for prompt, text, total, n, entropy in rows:
        want, want_n, _ = _direct(MODELS / "base", prompt, text)
        assert n == want_n and entropy is None
        assert total == pytest.approx(want, rel=1e-3)
