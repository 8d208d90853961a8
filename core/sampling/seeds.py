"""The seed of every sample, fixed by the run seed, the problem and the sample index."""

from __future__ import annotations

import hashlib

#: How :func:`sample_seed` derives seeds, stored with every run.
SEED_SCHEME = "sha256(f'{seed}:{problem_hash}')[:15] as int + sample_idx"


def sample_seed(run_seed: int, problem_hash: str, sample_idx: int) -> int:
    """The seed of one sample: a per-(run seed, problem) base plus the sample index.

    Consecutive indices get consecutive seeds, matching vLLM's ``seed + i`` for the children of
    an ``n``-sample request, so a resumed request reproduces the seeds of an uninterrupted run.
    The base has 60 bits, far from the int64 limit servers validate against.
    """
    digest = hashlib.sha256(f"{run_seed}:{problem_hash}".encode()).hexdigest()
    return int(digest[:15], 16) + sample_idx
