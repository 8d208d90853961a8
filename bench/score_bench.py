"""hf scoring throughput against a bare batched transformers forward loop on the same samples.

Usage:
    python bench/score_bench.py [--samples 4096] [--batch 64]
    python bench/score_bench.py --full      # also: wall time of `reachscope score` on every
                                            # lab sample of the demo (a copy), both scorers

Both are warmed up on the same first batches before anything is timed, then timed in turns
(bare, scorer, bare, scorer...; ``--repeats``), best of each kept, so a load spike on the shared
machine hits both alike. The samples are drawn at random (seeded) from both lab runs. Prints
completion tokens/s of both, their ratio (target >= 0.9), the load average, and the wall time
that rate gives for every lab sample (153,600) under one and under both lab scorers. Figures,
not assertions.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "sample_db" / "demo.db"
MODEL = ROOT / "sample_db" / "models" / "base"


def _items(n: int) -> tuple[list[tuple[int, str, str]], int]:
    """``n`` samples drawn at random (seed 0) from both lab runs, and how many lab samples
    there are."""
    import random

    from reachscope.store import open_db
    from reachscope.store import problems as store_problems
    from reachscope.store.runs import get_run
    from reachscope.store.scores import samples_to_score

    db = open_db(DEMO, read_only=True)
    pool: list[tuple[int, str, str]] = []
    for label in ("lab-arith/base", "lab-arith/rl"):
        run = get_run(db, label)
        problems = store_problems.problems_of_run(db, run.id)
        prompts = {pid: p["prompt"] for pid, p in problems.items()}
        # scorer id 0 never exists: every sample counts as unscored.
        rows = samples_to_score(db, run.id, 0, 0, 1 << 30)
        pool += [(sid, prompts[pid], text) for sid, pid, text in rows]
    db.close()
    return random.Random(0).sample(pool, min(n, len(pool))), len(pool)


def bare_loop(model: object, tok: object, items: list[tuple[int, str, str]], batch: int) -> int:
    """The minimum: tokenise, left pad, forward, gather completion log-probs. Returns tokens."""
    import torch

    seqs = []
    for _, prompt, text in items:
        p = tok(prompt)["input_ids"]  # type: ignore[operator]
        c = tok(text, add_special_tokens=False)["input_ids"]  # type: ignore[operator]
        seqs.append((p + c, len(c)))
    seqs.sort(key=lambda s: len(s[0]))
    tokens = 0
    for start in range(0, len(seqs), batch):
        chunk = seqs[start:start + batch]
        width, keep = max(len(s) for s, _ in chunk), max(n for _, n in chunk)
        ids = torch.zeros((len(chunk), width), dtype=torch.long)
        mask = torch.zeros_like(ids)
        for r, (s, _) in enumerate(chunk):
            ids[r, width - len(s):] = torch.tensor(s)
            mask[r, width - len(s):] = 1
        with torch.inference_mode():
            logits = model(input_ids=ids, attention_mask=mask,  # type: ignore[operator]
                           position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
                           logits_to_keep=keep + 1).logits
            logp = torch.log_softmax(logits[:, :-1].float(), -1)
            logp.gather(-1, ids[:, width - keep:].unsqueeze(-1)).sum()
        tokens += sum(n for _, n in chunk)
    return tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2, help="timed turns of each")
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args()
    import torch
    from reachscope.core.scoring.base import ScoreItem
    from reachscope.core.scoring.hf import HFScorer
    from transformers import AutoModelForCausalLM, AutoTokenizer

    items, lab_samples = _items(args.samples)
    print(f"load before: {os.getloadavg()}, torch threads {torch.get_num_threads()}")
    tok = AutoTokenizer.from_pretrained(MODEL)
    model = AutoModelForCausalLM.from_pretrained(MODEL, dtype=torch.float32).eval()
    scorer = HFScorer(str(MODEL), device="cpu", batch_size=args.batch)
    scorer.open()
    score_items = [ScoreItem(sid, p, c) for sid, p, c in items]
    warm = 4 * args.batch  # not timed: first calls allocate and pick kernels for both
    bare_loop(model, tok, items[:warm], args.batch)
    scorer.score(score_items[:warm])
    bare_rates, our_rates, our_seconds = [], [], []
    tokens = 0
    for _ in range(args.repeats):
        t = time.perf_counter()
        tokens = bare_loop(model, tok, items, args.batch)
        bare_rates.append(tokens / (time.perf_counter() - t))
        t = time.perf_counter()
        scored = scorer.score(score_items)
        our_seconds.append(time.perf_counter() - t)
        our_rates.append(sum(s.n_tokens or 0 for s in scored) / our_seconds[-1])
    bare, ours = max(bare_rates), max(our_rates)
    print(f"{len(items)} samples, {tokens} completion tokens, batch {args.batch}, "
          f"{args.repeats} timed turns each after a warm-up of {warm} samples")
    print("bare forward loop tokens/s: " + ", ".join(f"{r:,.0f}" for r in bare_rates))
    print("HFScorer.score tokens/s:    " + ", ".join(f"{r:,.0f}" for r in our_rates))
    print(f"best: bare {bare:,.0f} tokens/s; HFScorer.score {ours:,.0f} tokens/s; "
          f"ratio {ours / bare:.2f} (target >= 0.9)")
    per_sample = min(our_seconds) / len(items)
    print(f"estimate for all {lab_samples:,} lab samples at this rate: "
          f"{per_sample * lab_samples:,.0f} s under one scorer, "
          f"{2 * per_sample * lab_samples:,.0f} s under both lab scorers")
    print(f"load after: {os.getloadavg()}")
    if args.full:
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "demo.db"
            shutil.copy(DEMO, copy)
            with sqlite3.connect(copy) as conn:  # the demo holds some scores: score them all
                conn.execute("DELETE FROM scores")
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "reachscope.core.cli", "score", str(copy),
                            "--runs", "base", "rl", "--scorer", f"base={MODEL}",
                            "--scorer", f"rl={MODEL.parent / 'rl'}", "--quiet"], check=True)
            print(f"all lab samples x 2 scorers: {time.perf_counter() - t:.0f} s, "
                  f"load {os.getloadavg()}")


if __name__ == "__main__":
    main()
