"""Trains the base model from scratch on noisy, multi-strategy solution traces.

    python -m sample_db.lab.train_base --seed 0

Writes the model and its tokenizer to ``sample_db/models/base/`` and the training curve to
``sample_db/lab/curves/base.csv`` (+ ``base.json``, a summary).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

import torch
from transformers import GenerationConfig, Qwen2ForCausalLM

from sample_db.lab import modeling, task


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--batch-size", type=int, default=48)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--noise", type=float, default=0.08,
                        help="probability that a trace step carries an arithmetic slip")
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--eval-every", type=int, default=150)
    parser.add_argument("--threads", type=int, default=modeling.DEFAULT_THREADS)
    parser.add_argument("--out", type=Path, default=modeling.BASE_DIR)
    parser.add_argument("--curves", type=Path, default=modeling.CURVES_DIR)
    return parser.parse_args(argv)


def lr_at(step: int, steps: int, peak: float, warmup: int = 50) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def validation_accuracy(model: Qwen2ForCausalLM, tokenizer, problems: list[task.Problem]) -> float:
    """Sampled (temperature 1) accuracy, one sample per problem, local exact match: a training
    monitor only, the reported numbers come from evaluate.py and the project grader."""
    completions = modeling.sample(model, tokenizer, [p.text for p in problems], n=1)
    return sum(task.is_correct_local(c[0], p.answer) for c, p in zip(completions, problems)) / len(
        problems)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    modeling.setup_cpu(args.threads)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)

    tokenizer = modeling.build_tokenizer(modeling.tokenizer_corpus(args.seed))
    config = modeling.build_config(tokenizer, hidden=args.hidden, layers=args.layers)
    model = Qwen2ForCausalLM(config)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"parameters: {n_params:,}  vocab: {len(tokenizer)}")

    # Validation problems come from the training distribution (another seed), never the test set.
    val_stream = task.train_stream(args.seed + 10_000)
    val_problems = [next(val_stream) for _ in range(96)]
    stream = task.train_stream(args.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.98),
                                  weight_decay=0.01)
    rows: list[dict[str, float | int | str]] = []
    start = time.monotonic()
    model.train()
    for step in range(args.steps):
        problems = [next(stream) for _ in range(args.batch_size)]
        completions = [task.SEPARATOR + task.render_solution(p, rng, args.noise) for p in problems]
        # Two length-sorted halves, each padded to its own width: a third less padding.
        order = sorted(range(len(problems)), key=lambda i: len(problems[i].text + completions[i]))
        n_tokens = sum(len(c) + 1 for c in completions)
        optimizer.zero_grad(set_to_none=True)
        loss_sum = 0.0
        for half in (order[: len(order) // 2], order[len(order) // 2:]):
            batch = modeling.encode(tokenizer, [problems[i].text for i in half],
                                    [completions[i] for i in half])
            logp = modeling.token_logprobs(model, batch)
            part = -(logp * batch["loss_mask"]).sum() / n_tokens
            part.backward()
            loss_sum += part.item()
        loss = torch.tensor(loss_sum)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, args.steps, args.lr)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        row: dict[str, float | int | str] = {
            "step": step + 1, "loss": round(loss.item(), 5),
            "lr": round(lr_at(step, args.steps, args.lr), 6),
            "elapsed_s": round(time.monotonic() - start, 1), "val_acc": ""}
        if (step + 1) % args.eval_every == 0 or step + 1 == args.steps:
            row["val_acc"] = round(validation_accuracy(model, tokenizer, val_problems), 4)
            model.train()
        rows.append(row)
        if (step + 1) % 25 == 0 or row["val_acc"] != "":
            print(" ".join(f"{k}={v}" for k, v in row.items() if v != ""), flush=True)
    elapsed = time.monotonic() - start

    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        max_new_tokens=task.MAX_CHARS, do_sample=True, temperature=1.0, top_k=0, top_p=1.0)
    modeling.save_model_and_curves(model, tokenizer, args.out, args.curves, "base", rows)
    summary = {
        "command": " ".join(["python -m sample_db.lab.train_base", *(argv or sys.argv[1:])]),
        "args": {k: modeling.relative(v) for k, v in vars(args).items()}, "parameters": n_params,
        "train_seconds": round(elapsed, 1), "threads": args.threads,
        "final_loss_mean_last_50": round(sum(float(r["loss"]) for r in rows[-50:]) / 50, 4),
        "final_val_acc_local": rows[-1]["val_acc"],
        "sequences_seen": args.steps * args.batch_size,
    }
    (args.curves / "base.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
