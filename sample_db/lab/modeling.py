"""The lab's tokenizer, model configuration and the batched helpers both trainings share."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

from sample_db.lab import task

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
BASE_DIR = MODELS_DIR / "base"
RL_DIR = MODELS_DIR / "rl"
CURVES_DIR = Path(__file__).parent / "curves"

PAD, EOS, UNK = "<pad>", "<eos>", "<unk>"
#: vLLM's CPU attention backend supports a fixed set of head sizes; 32 is one of them.
HEAD_DIM = 32


def setup_cpu(threads: int = 2) -> None:
    """Caps torch to ``threads`` threads: the lab runs on a small shared machine."""
    torch.set_num_threads(threads)


def build_tokenizer(corpus: Iterable[str]) -> PreTrainedTokenizerFast:
    """Trains a character-level tokenizer on ``corpus`` (one token per character, so digits are
    never merged and arithmetic stays learnable), with pad, eos and unk special tokens."""
    tok = Tokenizer(models.WordLevel(unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    trainer = trainers.WordLevelTrainer(special_tokens=[PAD, EOS, UNK], min_frequency=1)
    # Every printable ASCII character gets a token, so an unusual prompt never maps to <unk>.
    printable = "".join(chr(c) for c in range(32, 127)) + "\n"
    tok.train_from_iterator([*corpus, printable], trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, eos_token=EOS,
                                   unk_token=UNK, model_max_length=256)


def tokenizer_corpus(seed: int, size: int = 20000) -> list[str]:
    """Problems and traces covering every character the task uses."""
    rng = random.Random(seed)
    stream = task.train_stream(seed)
    texts = []
    for _ in range(size):
        problem = next(stream)
        texts.append(problem.text + task.SEPARATOR + task.render_solution(problem, rng, 0.1))
    return texts


def build_config(tokenizer: PreTrainedTokenizerFast, hidden: int = 128, layers: int = 4,
                 ) -> Qwen2Config:
    """A tiny Qwen2 configuration (head_dim 32, tied embeddings, vocab padded to 64)."""
    vocab = (len(tokenizer) + 63) // 64 * 64
    return Qwen2Config(
        vocab_size=vocab, hidden_size=hidden, intermediate_size=4 * hidden,
        num_hidden_layers=layers, num_attention_heads=hidden // HEAD_DIM,
        num_key_value_heads=hidden // HEAD_DIM, head_dim=HEAD_DIM, max_position_embeddings=256,
        tie_word_embeddings=True, rope_theta=10000.0, rms_norm_eps=1e-6,
        bos_token_id=None, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, use_cache=True,
    )


def encode(tokenizer: PreTrainedTokenizerFast, prompts: Sequence[str],
           completions: Sequence[str]) -> dict[str, torch.Tensor]:
    """Right-padded ``prompt + completion + eos`` with a mask of the completion tokens.

    Returns:
        ``input_ids`` and ``attention_mask`` [B, T], and ``loss_mask`` [B, T-1]: 1 where
        token t+1 belongs to the completion (the positions whose prediction is trained).
    """
    prompt_ids = tokenizer(list(prompts), add_special_tokens=False)["input_ids"]
    completion_ids = tokenizer(list(completions), add_special_tokens=False)["input_ids"]
    rows = [p + c + [tokenizer.eos_token_id] for p, c in zip(prompt_ids, completion_ids)]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    loss_mask = torch.zeros((len(rows), width - 1), dtype=torch.float)
    for i, (row, p) in enumerate(zip(rows, prompt_ids)):
        ids[i, : len(row)] = torch.tensor(row)
        attention[i, : len(row)] = 1
        loss_mask[i, len(p) - 1 : len(row) - 1] = 1.0
    return {"input_ids": ids, "attention_mask": attention, "loss_mask": loss_mask}


def token_logprobs(model: Qwen2ForCausalLM, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Log-probability of each next token, [B, T-1] (multiply by ``loss_mask`` to keep the
    completion)."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    return logp.gather(-1, batch["input_ids"][:, 1:].unsqueeze(-1)).squeeze(-1)


@torch.no_grad()
def sample(model: Qwen2ForCausalLM, tokenizer: PreTrainedTokenizerFast, prompts: Sequence[str],
           n: int, temperature: float = 1.0, max_new_tokens: int = 100) -> list[list[str]]:
    """``n`` pure samples (no top-k/top-p) per prompt with transformers' ``generate``.

    Returns:
        For each prompt, its ``n`` completions as text, special tokens removed.
    """
    was_training = model.training
    model.eval()
    tokenizer.padding_side = "left"
    enc = tokenizer(list(prompts), return_tensors="pt", padding=True, add_special_tokens=False)
    out = model.generate(
        input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], do_sample=True,
        temperature=temperature, top_k=0, top_p=1.0, max_new_tokens=max_new_tokens,
        num_return_sequences=n, pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    tokenizer.padding_side = "right"
    if was_training:
        model.train()
    texts = tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    return [texts[i * n:(i + 1) * n] for i in range(len(prompts))]
