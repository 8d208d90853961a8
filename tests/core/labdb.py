"""A small copy of the demo's lab runs, for scoring tests (never the committed file)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "sample_db" / "demo.db"
MODELS = ROOT / "sample_db" / "models"
LAB_PROBLEMS = ROOT / "sample_db" / "lab" / "data" / "test.jsonl"


def hard_problems(path: Path, count: int = 3) -> Path:
    """A JSONL file with the first ``count`` lab test problems of the hardest difficulty (long,
    varied samples at temperature 1)."""
    import json

    hard = [line for line in LAB_PROBLEMS.read_text().splitlines()
            if json.loads(line)["difficulty"] == 6][:count]
    path.write_text("\n".join(hard) + "\n")
    return path


def lab_copy(path: Path, problems: int, per_problem: int) -> Path:
    """The demo's lab runs cut to their first ``problems`` x ``per_problem`` samples each, with
    none of the demo's scores (the tests score what they check)."""
    shutil.copy(DEMO, path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys = ON")
    keep = ("SELECT id FROM problems WHERE dataset = 'lab-arith' ORDER BY idx LIMIT ?")
    conn.execute(f"DELETE FROM samples WHERE sample_idx >= ? OR problem_id NOT IN ({keep})",
                 [per_problem, problems])
    conn.execute("DELETE FROM runs WHERE dataset <> 'lab-arith'")
    conn.execute("DELETE FROM scores")
    conn.execute("DELETE FROM scorers")
    conn.commit()
    conn.execute("VACUUM")
    conn.close()
    return path
