"""The ``hf`` scorer: one batched transformers forward pass per batch, no generation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reachscope.store.scores import ScoreIn

from ..backends.hf_backend import load_causal_lm
from .base import ScoreItem, Scorer, ScoringError, prepare, summarize


class HFScorer(Scorer):
    """Score with a transformers causal LM on CPU or CUDA, with exact token entropy.

    Items are sorted by length and left padded in batches of ``batch_size`` rows; positions
    follow the attention mask, so a padded row is scored as it would be alone. Log-softmax and
    entropy are computed in float32 over the completion positions only.

    Args:
        model: local directory or hub name.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
        dtype: torch dtype name or ``"auto"`` (bfloat16 on CUDA, float32 on CPU).
        batch_size: rows per forward pass.
    """

    name = "hf"
    gives_entropy = True

    def __init__(self, model: str, device: str = "auto", dtype: str = "auto",
                 batch_size: int = 64) -> None:
        super().__init__(model)
        self.device_spec = device
        self.dtype_spec = dtype
        self.batch_size = max(1, batch_size)
        self.device = "cpu"
        self.tokenizer: Any = None
        self._model: Any = None

    def open(self) -> None:
        try:
            self.tokenizer, self._model, self.device = load_causal_lm(
                self.model, self.device_spec, self.dtype_spec)
        except (OSError, ValueError) as exc:
            raise ScoringError(f"hf: cannot load model {self.model!r}: {exc}") from exc

    def close(self) -> None:
        self._model = None
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()

    def score(self, items: Sequence[ScoreItem]) -> list[ScoreIn]:
        if self._model is None:
            raise ScoringError("hf: score() before open()")
        limit = getattr(self._model.config, "max_position_embeddings", None)
        out, rows = prepare(self.tokenizer, items, limit)
        rows.sort(key=lambda r: len(r[1]))
        for start in range(0, len(rows), self.batch_size):
            batch = rows[start:start + self.batch_size]
            for (i, _, _), (logprobs, entropies) in zip(batch, self._forward(batch)):
                out[i] = summarize(items[i].key, logprobs, entropies)
        return [out[i] for i in range(len(items))]

    def _forward(self, batch: list[tuple[int, list[int], int]]
                 ) -> list[tuple[list[float], list[float]]]:
        import torch

        width = max(len(ids) for _, ids, _ in batch)
        keep = max(n for _, _, n in batch)
        pad = self.tokenizer.pad_token_id or 0
        input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for r, (_, ids, _) in enumerate(batch):
            input_ids[r, width - len(ids):] = torch.tensor(ids)
            mask[r, width - len(ids):] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            logits = self._model(
                input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device),
                position_ids=positions.to(self.device), logits_to_keep=keep + 1,
            ).logits
            # Position t predicts token t + 1: the last `keep` tokens from the logits before.
            logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
            target = input_ids[:, width - keep:].to(self.device)
            token_logp = logp.gather(-1, target.unsqueeze(-1)).squeeze(-1)
            entropy = -(logp.exp() * logp).sum(-1)
        token_logp, entropy = token_logp.cpu(), entropy.cpu()
        return [(token_logp[r, keep - n:].tolist(), entropy[r, keep - n:].tolist())
                for r, (_, _, n) in enumerate(batch)]

    def provenance(self) -> dict[str, Any]:
        info = super().provenance()
        info.update(device=self.device, dtype=self.dtype_spec, batch_size=self.batch_size,
                    tokenizer=type(self.tokenizer).__name__ if self.tokenizer else None)
        return info
