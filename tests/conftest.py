"""Shared fixtures: paths to the real data shipped with the project."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QWEN_FILE = ROOT / "sample_db" / "data" / "qwen25_math_instruct_math_cot_100.jsonl"


@pytest.fixture
def qwen_file() -> Path:
    return QWEN_FILE
