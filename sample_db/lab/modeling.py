"""The lab's tokenizer, model configuration and the batched helpers both trainings share."""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

from sample_db.lab import task

ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = ROOT / "sample_db" / "models"
BASE_DIR = MODELS_DIR / "base"
RL_DIR = MODELS_DIR / "rl"
CURVES_DIR = Path(__file__).parent / "curves"

PAD, EOS, UNK = "<pad>", "<eos>", "<unk>"
#: vLLM's CPU attention backend supports a fixed set of head sizes; 32 is one of them.
HEAD_DIM = 32


#: One thread by default: on the shared 2-core machine, two OpenMP threads competing with other
#: processes ran a training step 5-10x slower than one (measured 0.3-5 s vs 0.5 s per step).
DEFAULT_THREADS = 1


def relative(value: object) -> str:
    """A path inside the repository as relative to its root (for recorded summaries), else str."""
    if isinstance(value, Path) and value.resolve().is_relative_to(ROOT):
        return str(value.resolve().relative_to(ROOT))
    return str(value)


def setup_cpu(threads: int = DEFAULT_THREADS) -> None:
    """Caps torch's intra-op threads: the lab runs on a small shared machine."""
    torch.set_num_threads(threads)


def build_tokenizer(corpus: Iterable[str]) -> PreTrainedTokenizerFast:
    """Trains a byte-level tokenizer with no merges on ``corpus``: one token per character, so
    digits are never merged and arithmetic stays learnable, plus pad, eos and unk tokens.

    Byte-level BPE (rather than a plain character vocabulary) because transformers 5's
    ``AutoTokenizer`` rebuilds any ``qwen2`` model's tokenizer as ``Qwen2Tokenizer`` (byte-level
    pre-tokenizer and decoder) from the saved vocabulary and merges; with a byte-level alphabet and
    no merges that rebuild tokenizes exactly like this tokenizer.
    """
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    # The vocabulary is exactly the specials plus the 256 byte symbols: no room for a merge.
    trainer = trainers.BpeTrainer(vocab_size=3 + len(alphabet), special_tokens=[PAD, EOS, UNK],
                                  initial_alphabet=alphabet, show_progress=False)
    tok.train_from_iterator(corpus, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, eos_token=EOS,
                                   unk_token=UNK, model_max_length=256)


def save_tokenizer(tokenizer: PreTrainedTokenizerFast, path: Path) -> None:
    """``save_pretrained``, naming the class ``PreTrainedTokenizerFast`` (transformers 5 writes
    ``TokenizersBackend``, which transformers 4 and older vLLM releases cannot resolve)."""
    tokenizer.save_pretrained(path)
    config_path = Path(path) / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config_path.write_text(json.dumps(config, indent=2) + "\n")


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
    return encode_ids(prompt_ids, [c + [tokenizer.eos_token_id] for c in completion_ids],
                      tokenizer.pad_token_id)


def token_logprobs(model: Qwen2ForCausalLM, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Log-probability of each next token, [B, T-1] (multiply by ``loss_mask`` to keep the
    completion)."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    return logp.gather(-1, batch["input_ids"][:, 1:].unsqueeze(-1)).squeeze(-1)


def encode_ids(prompt_ids: Sequence[list[int]], completion_ids: Sequence[list[int]],
               pad_id: int) -> dict[str, torch.Tensor]:
    """Like :func:`encode`, from token ids (a sampled completion keeps its exact tokens)."""
    rows = [p + c for p, c in zip(prompt_ids, completion_ids)]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    loss_mask = torch.zeros((len(rows), width - 1), dtype=torch.float)
    for i, (row, p) in enumerate(zip(rows, prompt_ids)):
        ids[i, : len(row)] = torch.tensor(row)
        attention[i, : len(row)] = 1
        loss_mask[i, len(p) - 1 : len(row) - 1] = 1.0
    return {"input_ids": ids, "attention_mask": attention, "loss_mask": loss_mask}


@torch.no_grad()
def sample_ids(model: Qwen2ForCausalLM, tokenizer: PreTrainedTokenizerFast,
               prompts: Sequence[str], n: int, temperature: float = 1.0,
               max_new_tokens: int = task.MAX_CHARS) -> tuple[list[list[int]], list[list[int]]]:
    """``n`` pure samples (no top-k, no top-p) per prompt with transformers' ``generate``.

    Returns:
        The prompts' token ids, and for every prompt in order its ``n`` completions' token ids
        (flattened, prompt-major), each cut after its first end-of-sequence token.
    """
    was_training = model.training
    model.eval()
    tokenizer.padding_side = "left"
    enc = tokenizer(list(prompts), return_tensors="pt", padding=True, add_special_tokens=False)
    tokenizer.padding_side = "right"
    out = model.generate(
        input_ids=enc["input_ids"].to(model.device),
        attention_mask=enc["attention_mask"].to(model.device), do_sample=True,
        temperature=temperature, top_k=0, top_p=1.0, max_new_tokens=max_new_tokens,
        num_return_sequences=n, pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    if was_training:
        model.train()
    prompt_ids = [[t for t, m in zip(row, mask) if m] for row, mask in
                  zip(enc["input_ids"].tolist(), enc["attention_mask"].tolist())]
    completions = []
    for row in out[:, enc["input_ids"].shape[1]:].cpu().tolist():
        if tokenizer.eos_token_id in row:
            row = row[: row.index(tokenizer.eos_token_id) + 1]
        completions.append(row)
    return prompt_ids, completions


def sample(model: Qwen2ForCausalLM, tokenizer: PreTrainedTokenizerFast, prompts: Sequence[str],
           n: int, temperature: float = 1.0, max_new_tokens: int = task.MAX_CHARS,
           ) -> list[list[str]]:
    """Like :func:`sample_ids`, as text: for each prompt, its ``n`` completions."""
    _, completions = sample_ids(model, tokenizer, prompts, n, temperature, max_new_tokens)
    texts = tokenizer.batch_decode(completions, skip_special_tokens=True)
    return [texts[i * n:(i + 1) * n] for i in range(len(prompts))]


def save_model_and_curves(model: Qwen2ForCausalLM, tokenizer: PreTrainedTokenizerFast,
                          out: Path, curves: Path, name: str, rows: list[dict]) -> None:
    """Save a trained model with its tokenizer, and its per-step curve as ``curves/NAME.csv``."""
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    save_tokenizer(tokenizer, out)
    curves.mkdir(parents=True, exist_ok=True)
    with (curves / f"{name}.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
