"""The laptop-scale RLVR lab: the task, the shipped models and the training code paths."""

from __future__ import annotations

import csv
import random

import pytest
import torch

from sample_db.lab import modeling, task

#: The shipped RL model's pass@1 on 32 test problems (spread over difficulties) x 4 samples,
#: temperature 1, seed 0: measured 0.680 (87/128) at build time, 1 and 2 threads alike; seeds 1-3
#: gave 0.695, 0.648, 0.672. The base model scores 0.422 on the same set, so the floor, a margin
#: below the RL model, is also above the base model.
FLOOR_RL_PASS_AT_1 = 0.55


def test_generator_is_deterministic() -> None:
    a = [task.generate_problem(random.Random(7), d) for d in range(1, task.MAX_DIFFICULTY + 1)]
    b = [task.generate_problem(random.Random(7), d) for d in range(1, task.MAX_DIFFICULTY + 1)]
    assert a == b
    stream_a, stream_b = task.train_stream(3), task.train_stream(3)
    assert [next(stream_a) for _ in range(50)] == [next(stream_b) for _ in range(50)]
    assert task.test_set() == task.test_set()
    problem = a[-1]
    assert (task.render_solution(problem, random.Random(1), 0.2)
            == task.render_solution(problem, random.Random(1), 0.2))


def test_problems_are_well_formed() -> None:
    rng = random.Random(0)
    for difficulty in range(1, task.MAX_DIFFICULTY + 1):
        for _ in range(200):
            problem = task.generate_problem(rng, difficulty)
            assert len(problem.steps) == difficulty
            # The text is ordinary arithmetic: Python evaluates it to the answer.
            expr = problem.text.removeprefix("What is ").removesuffix("?").replace("/", "//")
            assert eval(expr) == problem.answer  # noqa: S307 - generated digits and operators
            assert all(0 <= s.result <= task.MAX_VALUE for s in problem.steps)
            trace = task.render_solution(problem, rng, noise=0.0)
            assert task.is_correct_local(trace, problem.answer)
            assert len(problem.text) + len(task.SEPARATOR) + len(trace) + 1 <= task.MAX_CHARS


def test_train_and_test_are_disjoint() -> None:
    test = task.test_set()
    test_hashes = {p.uid for p in test}
    assert len(test_hashes) == len(test) == task.TEST_PER_DIFFICULTY * task.MAX_DIFFICULTY
    # The streams both trainings draw from (base: seed, RL: seed + 1).
    for seed in (0, 1):
        stream = task.train_stream(seed)
        assert not {next(stream).uid for _ in range(10_000)} & test_hashes


def test_project_grader_judges_traces() -> None:
    from reachscope.core.graders import grade_math_answer

    rng = random.Random(0)
    wrong = 0
    for problem in task.test_set()[::5]:
        clean = task.render_solution(problem, rng, noise=0.0)
        assert grade_math_answer(clean, str(problem.answer))[0] == "correct"
        # Slips can cancel out (+1 then -1), so the grader must simply agree with exact match.
        slipped = task.render_solution(problem, rng, noise=1.0)
        verdict = grade_math_answer(slipped, str(problem.answer))[0]
        assert (verdict == "correct") == task.is_correct_local(slipped, problem.answer)
        wrong += verdict == "incorrect"
    assert wrong > 50


@pytest.mark.parametrize("name", ["base", "rl"])
def test_shipped_models_load_offline(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = modeling.MODELS_DIR / name
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    config = model.config
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    assert head_dim == 32  # vLLM's CPU attention supports it
    assert config.model_type == "qwen2"
    assert sum(p.numel() for p in model.parameters()) < 5_000_000
    assert sum(f.stat().st_size for f in path.iterdir()) < 8_000_000
    assert (path / "model.safetensors").exists()
    # AutoTokenizer rebuilds a qwen2 tokenizer as Qwen2Tokenizer: it must still be one token per
    # character, as in training.
    text = "What is ((3+4)*5)/7?\n3+4=7\n\\boxed{35}"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == len(text) and tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids) == text
    assert tokenizer.eos_token_id == config.eos_token_id == model.generation_config.eos_token_id


def test_a_training_step_lowers_the_loss() -> None:
    torch.manual_seed(0)
    tokenizer = modeling.build_tokenizer(modeling.tokenizer_corpus(0, size=200))
    model = modeling.Qwen2ForCausalLM(modeling.build_config(tokenizer, hidden=64, layers=1))
    problems = [task.generate_problem(random.Random(i), 2) for i in range(8)]
    rng = random.Random(0)
    batch = modeling.encode(tokenizer, [p.text for p in problems],
                            [task.SEPARATOR + task.render_solution(p, rng) for p in problems])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(6):
        logp = modeling.token_logprobs(model, batch)
        loss = -(logp * batch["loss_mask"]).sum() / batch["loss_mask"].sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


def test_one_grpo_step_runs_with_the_project_grader(tmp_path) -> None:
    from sample_db.lab import reward, train_rl

    train_rl.main(["--steps", "1", "--prompts", "2", "--group", "2", "--eval-every", "0",
                   "--out", str(tmp_path / "rl"), "--curves", str(tmp_path)])
    rows = list(csv.DictReader((tmp_path / "rl.csv").open()))
    assert len(rows) == 1 and 0.0 <= float(rows[0]["reward"]) <= 1.0
    assert (tmp_path / "rl" / "model.safetensors").exists()
    assert reward.PROJECT_GRADER in (tmp_path / "rl.json").read_text()


def test_rl_model_reaches_its_measured_pass_at_1_floor() -> None:
    from sample_db.lab import evaluate

    result = evaluate.evaluate(modeling.RL_DIR, evaluate.spread_problems(32), n=4,
                               temperature=1.0, seed=0)
    assert result.grader == "reachscope.core.graders.grade_math_answer"
    assert result.pass_at_1 >= FLOOR_RL_PASS_AT_1
