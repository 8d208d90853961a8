"""Which samples a run still needs, seeded and cut into requests: pure, no database, no backend.

Any orchestrator (the in-process loop of :mod:`.orchestrate`, a distributed driver) plans the
same way: the missing (problem, sample index) pairs of each problem, in runs of consecutive
indices, each sample seeded by :func:`~.seeds.sample_seed` whatever else is missing, and runs cut
to a backend's ``max_request_n``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..backends import Request
from ..prompts import PromptTemplate
from .seeds import sample_seed


@dataclass(frozen=True)
class WorkItem:
    """One sample to generate: problem ``key``, its sample index and its seed."""

    key: int
    sample_idx: int
    seed: int


@dataclass(frozen=True)
class SampleRange:
    """Samples ``start .. start + n - 1`` of problem ``key``; sample ``start + i`` has ``seed + i``.

    Consecutive seeds per index are what vLLM gives the children of an ``n``-sample request
    seeded with ``seed``, so one request per range reproduces every sample's own seed.
    """

    key: int
    start: int
    n: int
    seed: int

    def items(self) -> list[WorkItem]:
        """The range's samples one by one."""
        return [WorkItem(self.key, self.start + i, self.seed + i) for i in range(self.n)]


def missing_indices(n: int, have: Collection[int]) -> list[int]:
    """The sample indices below ``n`` not in ``have``, ascending."""
    return [i for i in range(n) if i not in have]


def index_ranges(indices: Iterable[int]) -> list[tuple[int, int]]:
    """``(start, length)`` of each run of consecutive indices, in order."""
    out: list[tuple[int, int]] = []
    for i in indices:
        if out and i == out[-1][0] + out[-1][1]:
            out[-1] = (out[-1][0], out[-1][1] + 1)
        else:
            out.append((i, 1))
    return out


def plan_ranges(
    problems: Iterable[tuple[int, str]],
    n: int,
    stored: Mapping[int, Collection[int]],
    run_seed: int,
    max_request_n: int | None = None,
) -> list[SampleRange]:
    """The samples a run still needs, one range per run of missing indices of each problem.

    Args:
        problems: ``(key, problem hash)`` of each problem, in the order to sample them.
        n: samples wanted per problem (indices ``0 .. n - 1``).
        stored: key -> sample indices already stored (a problem absent has none).
        run_seed: the run's seed.
        max_request_n: most samples per range (None: no limit), as :func:`split_ranges`.
    """
    ranges = [
        SampleRange(key, start, length, sample_seed(run_seed, problem_hash, start))
        for key, problem_hash in problems
        for start, length in index_ranges(missing_indices(n, stored.get(key, ())))
    ]
    return split_ranges(ranges, max_request_n)


def split_ranges(ranges: Sequence[SampleRange], most: int | None) -> list[SampleRange]:
    """Ranges of at most ``most`` samples each (None or 0: unchanged), seeds kept per index."""
    if not most:
        return list(ranges)
    return [
        SampleRange(r.key, r.start + off, min(most, r.n - off), r.seed + off)
        for r in ranges
        for off in range(0, r.n, most)
    ]


def work_items(ranges: Iterable[SampleRange]) -> list[WorkItem]:
    """Every planned sample, range by range."""
    return [item for r in ranges for item in r.items()]


def to_requests(
    ranges: Iterable[SampleRange], prompts: Mapping[int, str], template: PromptTemplate
) -> list[Request]:
    """One backend request per range, its prompt rendered (or its chat turns) from ``template``.

    Args:
        ranges: planned ranges.
        prompts: key -> the problem's text.
        template: the run's prompt template.
    """
    requests = []
    for r in ranges:
        text = prompts[r.key]
        if template.chat:
            requests.append(Request(r.key, r.start, r.n, r.seed, messages=template.messages(text)))
        else:
            requests.append(Request(r.key, r.start, r.n, r.seed, prompt=template.render(text)))
    return requests
