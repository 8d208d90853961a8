"""Rebuild the demo database `sample_db/demo.db` from what the repository ships.

Usage:
    python sample_db/build.py                 # the full demo (vLLM on CPU: ~10 min on 2 cores)
    python sample_db/build.py --fast --out /tmp/demo.db   # a small one, for tests (hf, seconds)

Two datasets, all through reachscope's own commands:

* ``lab-arith``: the laptop-scale RLVR experiment of ``sample_db/lab`` (see its README): the
  shipped base model and its GRPO-trained RL version (``sample_db/models/{base,rl}``) sampled
  with ``reachscope sample`` on the 300 held-out test problems, n = 256 each, graded by the
  math grader as samples arrive.
* ``math-cot-100``: real Qwen2.5-Math-Instruct solutions (100 MATH problems x 8) imported with
  ``reachscope import qwen-jsonl``, graded upstream and re-graded with ``reachscope grade``.

The database is built in a temporary file and moved into place only when complete, so an
interrupted build never leaves a half-written demo database.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
QWEN_FILE = HERE / "data" / "qwen25_math_instruct_math_cot_100.jsonl"
LAB_PROBLEMS = HERE / "lab" / "data" / "test.jsonl"
MODELS = HERE / "models"

#: Sampling of the lab models: the paper's settings (temperature 0.6, top-p 0.95), a budget
#: long enough for any solution of the task (prompt + solution <= 120 characters).
LAB_SAMPLING = ["--temperature", "0.6", "--top-p", "0.95", "--max-tokens", "128",
                "--template", "plain", "--seed", "0"]


def reachscope(args: list[str]) -> None:
    """Run a reachscope CLI command with this interpreter, as a user would."""
    env = dict(os.environ)
    # vLLM on CPU: 1 GiB of KV cache is plenty for these models; keep its caches in the repo.
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    env.setdefault("VLLM_CACHE_ROOT", str(HERE.parent / ".cache" / "vllm"))
    print("$ reachscope " + " ".join(args), file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "reachscope.core.cli", *args], check=True, env=env)


def build(out: Path, n: int, problems: int | None, backend: str, quiet: bool,
          score: bool = False, score_first: int = 0) -> None:
    """Build the demo database at ``out`` (replacing it atomically)."""
    from reachscope.store import open_db

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(suffix=".db", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    started = time.perf_counter()
    try:
        sample = ["sample", "--db", str(tmp), "--dataset", str(LAB_PROBLEMS),
                  "--dataset-name", "lab-arith", "--model", f"base={MODELS / 'base'}",
                  "--model", f"rl={MODELS / 'rl'}", "--n", str(n), "--backend", backend,
                  *LAB_SAMPLING]
        if problems is not None:
            sample += ["--limit", str(problems)]
        if quiet:
            sample.append("--quiet")
        reachscope(sample)
        reachscope(["import", "qwen-jsonl", str(QWEN_FILE), "--db", str(tmp),
                    "--dataset", "math-cot-100", "--label", "qwen-instruct",
                    "--model", "Qwen/Qwen2.5-Math-7B-Instruct"])
        # reachscope's own math grader next to the upstream scores, so `audit` has two graders.
        reachscope(["grade", str(tmp), "--run", "qwen-instruct", "--grader", "math"])
        if score:
            # Likelihood evidence: both lab runs under both lab models (`reachscope score`).
            reachscope(["score", str(tmp), "--runs", "base", "rl",
                        "--scorer", f"base={MODELS / 'base'}", "--scorer", f"rl={MODELS / 'rl'}",
                        *(["--first", str(score_first)] if score_first else []),
                        *(["--quiet"] if quiet else [])])
        # A reasoning-review queue (the paper's selection: problems some run solves with
        # accuracy in (0, 0.05]), labelled by the lab's step checker, not by a person.
        reachscope(["review", str(tmp), "--runs", "base", "rl", "--max-accuracy", "0.05",
                    "--per-problem", "4"])
        subprocess.run([sys.executable, "-m", "sample_db.lab.stepcheck", str(tmp)], check=True,
                       cwd=HERE.parent)
        # Answer clusters under the math grader's equivalence, and the maj@k cache the report
        # reads (sampling did both per model; this covers what is left, e.g. the import).
        reachscope(["grade", str(tmp), "--cluster-only"])
        db = open_db(tmp)
        # Model paths as the repository knows them, not as this machine spells them.
        root = str(HERE.parent) + os.sep
        db.execute("UPDATE runs SET model = substr(model, ?) WHERE model LIKE ?",
                   [len(root) + 1, root + "%"])
        # A self-contained single file for git: no WAL side files, no free pages.
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.disable_wal()
        db.execute("VACUUM")
        db.close()
        os.replace(tmp, out)
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(str(tmp) + suffix).unlink(missing_ok=True)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) in "
          f"{time.perf_counter() - started:.0f} s", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "demo.db")
    parser.add_argument("--n", type=int, default=256, help="samples per problem (default 256)")
    parser.add_argument("--problems", type=int, default=None,
                        help="only the first N lab problems (default: all 300)")
    parser.add_argument("--backend", choices=["vllm", "hf"], default="vllm")
    parser.add_argument("--fast", action="store_true",
                        help="a small build for tests: 6 problems, n = 8, hf backend")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--score", action="store_true",
                        help="also score both lab runs under both lab models (hf)")
    parser.add_argument("--score-first", type=int, default=0, metavar="N",
                        help="with --score: only the first N samples of each problem (default "
                             "0 = all: the committed demo's 307,200 scores, about 7 minutes on 2 "
                             "quiet cores)")
    args = parser.parse_args()
    if args.fast:
        args.n, args.problems, args.backend = 8, args.problems or 6, "hf"
    build(args.out, args.n, args.problems, args.backend, args.quiet, args.score,
          args.score_first)


if __name__ == "__main__":
    main()
