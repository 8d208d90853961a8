"""A tiny Qwen2 model and tokenizer built on the spot, so sampling tests run offline.

The weights are random (seeded), the tokenizer is a byte-level BPE trained on a few lines of
math text with the ChatML special tokens. It loads in transformers, vLLM (CPU) and ``vllm serve``
like any local checkpoint. ``head_dim`` is 32, which the vLLM CPU attention backend supports.

Tests that want a real trained model instead point ``REACHSCOPE_TEST_MODEL`` at a local
directory (for example one under ``sample_db/models/``); see :func:`model_for_tests`.
"""

from __future__ import annotations

import os
from pathlib import Path

#: ChatML as Qwen2.5 writes it, trimmed to what the tests need (no tools).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

_CORPUS = [
    "Please reason step by step, and put your final answer within \\boxed{}.",
    "What is 1 + 1? The answer is \\boxed{2}.",
    "Compute 12 * 7. We have 12 * 7 = 84, so the answer is \\boxed{84}.",
    "Let x be a real number such that 2x + 3 = 11. Then x = 4.",
    "Find the sum of the first 10 positive integers: 55.",
    "def add(a, b):\n    return a + b\n",
    "system user assistant problem solution therefore hence thus",
    "0 1 2 3 4 5 6 7 8 9 + - * / = ( ) { } [ ] ^ \\frac \\sqrt \\pi",
]


def build_tiny_model(path: str | Path, seed: int = 0) -> Path:
    """Write a tiny random Qwen2 checkpoint with its tokenizer to ``path``.

    Args:
        path: directory to create (or overwrite).
        seed: seed of the random weights.

    Returns:
        The directory, loadable with ``from_pretrained`` or as a vLLM model path.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (
        GenerationConfig,
        PreTrainedTokenizerFast,
        Qwen2Config,
        Qwen2ForCausalLM,
    )

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=384,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(path)

    eos = fast.convert_tokens_to_ids("<|im_end|>")
    pad = fast.convert_tokens_to_ids("<|endoftext|>")
    config = Qwen2Config(
        vocab_size=len(fast),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        bos_token_id=pad,
        eos_token_id=eos,
        pad_token_id=pad,
        torch_dtype="float32",
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.save_pretrained(path, safe_serialization=True)
    GenerationConfig(bos_token_id=pad, eos_token_id=eos, pad_token_id=pad).save_pretrained(path)
    return path


def model_for_tests(tmp_root: str | Path) -> Path:
    """The model the tests sample from: ``$REACHSCOPE_TEST_MODEL`` if set, else a tiny one.

    Args:
        tmp_root: where to build the tiny model when no real one is given.
    """
    given = os.environ.get("REACHSCOPE_TEST_MODEL")
    if given:
        return Path(given)
    return build_tiny_model(Path(tmp_root) / "tiny-qwen2")
