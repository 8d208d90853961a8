"""pass@k and coverage broken down by a problem metadata field (``difficulty``, ``level``, ...).

Pure functions over plain rows: per run a mapping ``problem id -> (n, c)`` (what
``store.counts.run_counts`` returns) and per problem its metadata. Within a group, a run's
pass@k is the mean over the group's problems that run has samples of (NaN where it has none,
or where ``k`` exceeds some problem's ``n``, as for the whole-dataset curve); coverage counts
the group's problems that both runs have samples of, as :func:`reachscope.core.analysis.compare`
does for the whole dataset.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import metrics
from .analysis import Comparison
from .metrics import Coverage, FloatArray

#: Fields offered first, in this order, where a dataset has them (the Problems filter's keys).
PREFERRED_FIELDS = ("difficulty", "level", "subject")
#: A field with more distinct values than this is an id or a free text, not a grouping.
MAX_GROUPS = 20
#: The group of problems without a value for the field.
MISSING = "(none)"

Counts = Mapping[int, tuple[int, int]]


@dataclass
class Group:
    """The problems with one value of the field, and each run's figures on them."""

    value: str
    problems: int  # problems of the group that any run has samples of
    shared: int  # of those, the problems both runs of the pair have samples of
    pass_at_k: list[FloatArray]  # per run, mean pass@k on the breakdown's ks
    coverage: Coverage | None  # first run vs second on the shared problems; None for one run


@dataclass
class Breakdown:
    """pass@k per run and coverage per value of one metadata field."""

    field: str
    ks: list[int]
    groups: list[Group]


def value_of(metadata: Mapping[str, Any], field: str) -> str:
    """The group a problem falls in: its value as text, or :data:`MISSING`."""
    value = metadata.get(field)
    if value is None or isinstance(value, dict | list) or str(value).strip() == "":
        return MISSING
    return str(value)


def _natural(value: str) -> tuple[Any, ...]:
    """Sort key putting ``Level 2`` before ``Level 10`` and the missing group last."""
    parts = re.split(r"(\d+)", value.lower())
    return (value == MISSING, *((0, int(p)) if p.isdigit() else (1, p) for p in parts))


def breakdown_fields(metadata: Mapping[int, Mapping[str, Any]]) -> list[str]:
    """The metadata fields worth a breakdown, :data:`PREFERRED_FIELDS` first, then by name.

    A preferred field counts wherever some problem has a value for it (a run that has so far
    sampled only difficulty 1 shows that one group). Any other field needs 2 to
    :data:`MAX_GROUPS` distinct values, some shared by several problems: a value of its own
    for every problem is an id, not a grouping.
    """
    values: dict[str, set[str]] = {}
    present: dict[str, int] = {}
    for meta in metadata.values():
        for key in meta:
            value = value_of(meta, key)
            if value == MISSING:
                continue
            present[key] = present.get(key, 0) + 1
            seen = values.setdefault(key, set())
            if len(seen) <= MAX_GROUPS:
                seen.add(value)

    def worth(key: str) -> bool:
        n = len(values[key])
        if key in PREFERRED_FIELDS:
            return n <= MAX_GROUPS
        return 2 <= n <= MAX_GROUPS and n < present[key]

    fields = [k for k in values if worth(k)]
    return sorted(fields, key=lambda k: (PREFERRED_FIELDS.index(k) if k in PREFERRED_FIELDS
                                         else len(PREFERRED_FIELDS), k))


def next_field(fields: Sequence[str], current: str | None) -> str | None:
    """The field after ``current`` in the cycle none -> fields[0] -> ... -> none."""
    if not fields:
        return None
    if current is None or current not in fields:
        return fields[0]
    i = list(fields).index(current) + 1
    return fields[i] if i < len(fields) else None


def breakdown(field: str, metadata: Mapping[int, Mapping[str, Any]], runs: Sequence[Counts],
              ks: Sequence[int], pair: bool = True) -> Breakdown:
    """pass@k per run and coverage of the first two runs, per value of ``field``.

    Args:
        field: the metadata key to group problems by.
        metadata: ``problem id -> metadata``; a problem missing here, or without the field,
            goes to the :data:`MISSING` group.
        runs: per run, ``problem id -> (n, c)``; entries with ``n == 0`` count as no samples.
        ks: the k values of each group's pass@k.
        pair: compute coverage of ``runs[0]`` vs ``runs[1]`` (False when they are on different
            datasets).

    Returns:
        Groups in natural order of their values (``Level 2`` before ``Level 10``), the
        missing group last.
    """
    kept = [{p: nc for p, nc in r.items() if nc[0] > 0} for r in runs]
    members: dict[str, list[int]] = {}
    for pid in sorted(set().union(*kept)) if kept else []:
        members.setdefault(value_of(metadata.get(pid, {}), field), []).append(pid)
    with_pair = pair and len(kept) >= 2
    groups = []
    for value in sorted(members, key=_natural):
        pids = members[value]
        curves = []
        for counts in kept:
            own = [counts[p] for p in pids if p in counts]
            curves.append(metrics.pass_at_k_curve([n for n, _ in own], [c for _, c in own], ks)
                          if own else np.full(len(ks), np.nan))
        pair_counts = kept[:2]
        shared = [p for p in pids if all(p in counts for counts in pair_counts)]
        coverage = None
        if with_pair:
            a, b = pair_counts
            coverage = metrics.coverage(shared, {p for p in shared if a[p][1] > 0},
                                        {p for p in shared if b[p][1] > 0})
        groups.append(Group(value, len(pids), len(shared), curves, coverage))
    return Breakdown(field, list(ks), groups)


def breakdown_of(comparison: Comparison, metadata: Mapping[int, Mapping[str, Any]], field: str,
                 ks: Sequence[int]) -> Breakdown:
    """:func:`breakdown` of a comparison's runs (their counts under the graders it used);
    coverage only where the comparison has it (the first two runs on one dataset)."""
    runs = [dict(zip(rc.problem_ids, zip(rc.n.tolist(), rc.c.tolist())))
            for rc in comparison.runs]
    return breakdown(field, metadata, runs, ks, pair=comparison.coverage is not None)


def table_rows(result: Breakdown, names: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a breakdown table: the value, its problems, ``NAME@k`` for each k and
    run (``-`` where missing), then coverage of the first two (``-`` in a group whose problems
    the two do not share).

    Args:
        result: the breakdown.
        names: what to call each run in the header (labels, or letters where space is short).
    """
    header = [result.field, "probs"]
    header += [f"{name}@{k}" for k in result.ks for name in names]
    pair = any(g.coverage is not None for g in result.groups)
    if pair:
        header += ["both", f"only {names[0]}", f"only {names[1]}", "neither"]
    rows = []
    for g in result.groups:
        row = [g.value, str(g.problems)]
        row += ["-" if math.isnan(g.pass_at_k[r][i]) else f"{g.pass_at_k[r][i]:.3f}"
                for i in range(len(result.ks)) for r in range(len(names))]
        if g.coverage is not None:
            counts = g.coverage.as_counts()
            row += [str(counts[c]) if g.shared else "-"
                    for c in ("both", "only_a", "only_b", "neither")]
        rows.append(row)
    return header, rows
