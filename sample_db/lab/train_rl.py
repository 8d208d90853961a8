"""Trains the RL model from the base model with GRPO and the project grader's verifiable reward.

    python -m sample_db.lab.train_rl --seed 0

Each step samples ``--group`` completions for each of ``--prompts`` training problems
(temperature 1, no top-k/top-p), rewards a completion 1 when the project grader judges its boxed
answer correct, and takes one policy-gradient step on the token log-probabilities weighted by the
group-relative advantage ``(r - mean) / (std + eps)`` (on-policy, so GRPO's ratio is 1 and its
clip is inactive), averaged over all completion tokens, with an optional KL penalty to the base
model.

Writes the model to ``sample_db/models/rl/`` and the curves to ``sample_db/lab/curves/rl.csv``
(+ ``rl.json``).
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
import time
from pathlib import Path

import torch
from transformers import AutoTokenizer, Qwen2ForCausalLM

from sample_db.lab import modeling, reward, task


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--prompts", type=int, default=16, help="problems per step")
    parser.add_argument("--group", type=int, default=8, help="completions per problem")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--kl-coef", type=float, default=0.0)
    parser.add_argument("--no-std", action="store_true",
                        help="advantage r - mean, without dividing by the group's std")
    parser.add_argument("--eval-every", type=int, default=20, help="0: no validation")
    parser.add_argument("--threads", type=int, default=modeling.DEFAULT_THREADS)
    parser.add_argument("--base", type=Path, default=modeling.BASE_DIR)
    parser.add_argument("--out", type=Path, default=modeling.RL_DIR)
    parser.add_argument("--curves", type=Path, default=modeling.CURVES_DIR)
    parser.add_argument("--allow-dev-grader", action="store_true",
                        help="development only: exact match when the project grader is missing")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    modeling.setup_cpu(args.threads)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    reward_fn, grader_name = reward.load_reward(args.allow_dev_grader)
    print(f"reward grader: {grader_name}")

    tokenizer = AutoTokenizer.from_pretrained(args.base)
    model = Qwen2ForCausalLM.from_pretrained(args.base, dtype=torch.float32)
    reference = copy.deepcopy(model).eval() if args.kl_coef > 0 else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.99),
                                  weight_decay=0.0)
    # RL problems: another stream than the base model's (and, like it, never a test problem).
    stream = task.train_stream(args.seed + 1)
    val_stream = task.train_stream(args.seed + 10_000)
    val_problems = [next(val_stream) for _ in range(96)]

    rows: list[dict[str, float | int | str]] = []
    start = time.monotonic()
    model.train()
    for step in range(args.steps):
        problems = [next(stream) for _ in range(args.prompts)]
        prompt_ids, completion_ids = modeling.sample_ids(
            model, tokenizer, [p.text for p in problems], args.group, args.temperature)
        texts = tokenizer.batch_decode(completion_ids, skip_special_tokens=True)
        rewards = torch.tensor([reward_fn(text, problems[i // args.group].answer)
                                for i, text in enumerate(texts)]).view(args.prompts, args.group)
        advantages = rewards - rewards.mean(dim=1, keepdim=True)
        if not args.no_std:
            advantages = advantages / (rewards.std(dim=1, keepdim=True) + 1e-4)
        advantages = advantages.flatten()

        # Groups whose completions all scored the same carry no signal: skip their forward pass.
        keep = [i for i in range(len(texts)) if advantages[i] != 0 or args.kl_coef > 0]
        n_tokens = sum(len(completion_ids[i]) for i in range(len(texts)))
        loss_value = kl_value = 0.0
        optimizer.zero_grad(set_to_none=True)
        if keep:
            batch = modeling.encode_ids([prompt_ids[i // args.group] for i in keep],
                                        [completion_ids[i] for i in keep],
                                        tokenizer.pad_token_id)
            logp = modeling.token_logprobs(model, batch)
            mask = batch["loss_mask"]
            adv = advantages[keep].unsqueeze(1)
            loss = -(adv * logp * mask).sum() / n_tokens
            if reference is not None:
                with torch.no_grad():
                    ref_logp = modeling.token_logprobs(reference, batch)
                # k3 estimator of KL(policy || reference), unbiased and non-negative.
                log_ratio = ref_logp - logp
                kl = ((log_ratio.exp() - log_ratio - 1) * mask).sum() / n_tokens
                loss = loss + args.kl_coef * kl
                kl_value = kl.item()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            loss_value = loss.item()

        row: dict[str, float | int | str] = {
            "step": step + 1,
            "reward": round(rewards.mean().item(), 4),
            "solved_groups": round((rewards.max(dim=1).values > 0).float().mean().item(), 4),
            "informative_groups": round((rewards.std(dim=1) > 0).float().mean().item(), 4),
            "mean_len": round(n_tokens / len(texts), 1),
            "loss": round(loss_value, 5), "kl": round(kl_value, 5),
            "elapsed_s": round(time.monotonic() - start, 1), "val_acc": ""}
        if args.eval_every and (step == 0 or (step + 1) % args.eval_every == 0
                                or step + 1 == args.steps):
            completions = modeling.sample(model, tokenizer, [p.text for p in val_problems], 1)
            row["val_acc"] = round(sum(reward_fn(c[0], p.answer) for c, p in
                                       zip(completions, val_problems)) / len(val_problems), 4)
        rows.append(row)
        print(" ".join(f"{k}={v}" for k, v in row.items() if v != ""), flush=True)
    elapsed = time.monotonic() - start

    modeling.save_model_and_curves(model, tokenizer, args.out, args.curves, "rl", rows)
    last = rows[-10:]
    summary = {
        "command": " ".join(["python -m sample_db.lab.train_rl", *(argv or sys.argv[1:])]),
        "args": {k: modeling.relative(v) for k, v in vars(args).items()}, "grader": grader_name,
        "train_seconds": round(elapsed, 1), "threads": args.threads,
        "reward_first_10": round(sum(float(r["reward"]) for r in rows[:10]) / 10, 4),
        "reward_last_10": round(sum(float(r["reward"]) for r in last) / len(last), 4),
        "val_acc_first": rows[0]["val_acc"], "val_acc_last": rows[-1]["val_acc"],
    }
    (args.curves / "rl.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
