"""Rebuild the demo database `sample_db/demo.db` from the data shipped in the repository.

Usage:  python sample_db/build.py [--out PATH]

The database is built in a temporary file with reachscope's own importers and moved into place
only when complete, so an interrupted build never leaves a half-written demo database.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from reachscope.core.importers import import_samples
from reachscope.store import open_db

HERE = Path(__file__).resolve().parent
QWEN_FILE = HERE / "data" / "qwen25_math_instruct_math_cot_100.jsonl"


def reachscope(args: list[str]) -> None:
    """Run a reachscope CLI command with this interpreter (as a user would)."""
    subprocess.run([sys.executable, "-m", "reachscope.core.cli", *args], check=True)


def build(out: Path) -> None:
    """Build the demo database at ``out`` (replacing it atomically)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(suffix=".db", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    try:
        db = open_db(tmp)
        result = import_samples(db, [QWEN_FILE], dataset="math-cot-100", label="qwen-instruct",
                                fmt="qwen-jsonl", model="Qwen/Qwen2.5-Math-7B-Instruct")
        print(f"imported {result.samples_added} samples ({result.correct} correct) "
              f"of {result.problems} problems", file=sys.stderr)
        db.close()
        # reachscope's own math grader next to the upstream scores, so `audit` has two graders.
        reachscope(["grade", str(tmp), "--run", "qwen-instruct", "--grader", "math"])
        db = open_db(tmp)
        # A self-contained single file for git: no WAL side files, no free pages.
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.disable_wal()
        db.execute("VACUUM")
        db.close()
        os.replace(tmp, out)
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(str(tmp) + suffix).unlink(missing_ok=True)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "demo.db")
    args = parser.parse_args()
    build(args.out)


if __name__ == "__main__":
    main()
