"""Fixtures for the sampling tests: a tiny local model and a small math dataset file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .tinymodel import model_for_tests

ROOT = Path(__file__).resolve().parents[2]

# vLLM (CPU) reserves this many GiB of KV cache per engine; 1 is plenty for the tiny model and
# keeps several engines within a CI machine. Its compile cache stays inside the project.
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("VLLM_CACHE_ROOT", str(ROOT / ".cache" / "vllm"))

#: Problems of the test dataset: (problem, answer).
MATH_PROBLEMS = [
    ("What is 1 + 1?", "2"),
    ("Compute 12 * 7.", "84"),
    ("Solve 2x + 3 = 11 for x.", "4"),
    ("What is the sum of the first 10 positive integers?", "55"),
]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Qwen2 checkpoint (or ``$REACHSCOPE_TEST_MODEL``), built once per session."""
    return model_for_tests(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def math_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A JSONL math dataset with :data:`MATH_PROBLEMS`."""
    path = tmp_path_factory.mktemp("data") / "tinymath.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for i, (problem, answer) in enumerate(MATH_PROBLEMS):
            f.write(json.dumps({"id": f"p{i}", "problem": problem, "answer": answer}) + "\n")
    return path


@pytest.fixture(scope="session")
def demo_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the shipped demo database, for tests that only read it (the
    committed file is never opened by a test)."""
    import shutil

    from reachscope.core.demo import demo_db_path

    path = tmp_path_factory.mktemp("demo") / "demo.db"
    shutil.copyfile(demo_db_path(), path)
    return path
