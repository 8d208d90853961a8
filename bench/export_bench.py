"""`reachscope export` on the 1,000,000-sample bench database (targets: peak RSS <= 300 MB and
>= 200,000 samples/s to parquet).

Uses the database of bench/tui_bench.py (500 problems x 1000 samples x 2 runs of 1-2 KB traces,
built once by its builder into bench/out/tui_bench.db). Each export runs as the real command in
a fresh process; its wall time (interpreter start included) and peak RSS come from wait4(). The
first export reads the file cold where the page cache does not hold it yet; the figures printed
are per repetition. Nothing is asserted.

Usage: python bench/export_bench.py [--repeat N] [--formats parquet,csv,jsonl] [--no-text]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DB = ROOT / "bench" / "out" / "tui_bench.db"
RUNS = "base,rl"  # the 1,000,000 samples (the small live run is left out)


def ensure_db() -> None:
    """Build the bench database with tui_bench's builder where it is missing."""
    if DB.exists():
        return
    spec = importlib.util.spec_from_file_location("tui_bench", ROOT / "bench" / "tui_bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.build()


def export(fmt: str, out: Path, extra: list[str]) -> tuple[float, float, str]:
    """Seconds, peak RSS (MB) and stderr of one `reachscope export` in a fresh process."""
    cmd = [sys.executable, "-m", "reachscope.core.cli", "export", str(DB), "--what", "samples",
           "--runs", RUNS, "--format", fmt, "--out", str(out), *extra]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"export failed ({proc.returncode}): {err}")
    return seconds, usage.ru_maxrss / 1024, err.strip()


def rows_written(said: str, path: Path, fmt: str) -> int:
    """The rows the command says it wrote (checked against the file's own count for parquet)."""
    match = re.search(r"wrote ([\d,]+) ", said)
    if match is None:
        raise SystemExit(f"no row count in: {said!r}")
    rows = int(match.group(1).replace(",", ""))
    if fmt == "parquet":
        import pyarrow.parquet as pq

        assert pq.ParquetFile(path).metadata.num_rows == rows
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--formats", default="parquet")
    ap.add_argument("--no-text", action="store_true", help="export without the trace texts")
    args = ap.parse_args()
    ensure_db()
    extra = ["--no-text"] if args.no_text else []
    print(f"database {DB} ({DB.stat().st_size / 1e9:.2f} GB); load: "
          f"{subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    with tempfile.TemporaryDirectory(dir=DB.parent) as tmp:
        for fmt in args.formats.split(","):
            out = Path(tmp) / f"samples.{fmt}"
            for i in range(args.repeat):
                seconds, rss, said = export(fmt, out, extra)
                rows = rows_written(said, out, fmt)
                print(f"{fmt}{' (no text)' if extra else ''} #{i + 1}: {rows:,} samples in "
                      f"{seconds:.2f} s = {rows / seconds:,.0f} samples/s, peak RSS "
                      f"{rss:.0f} MB, {out.stat().st_size / 1e6:.0f} MB written  [{said}]",
                      flush=True)


if __name__ == "__main__":
    main()
