"""How two copies of one run combine when databases are merged: pure, over plain run rows.

A run row here is a dict of the ``runs`` columns with ``params``, ``seeds`` and ``provenance``
decoded. :mod:`.merge` reads and writes them; nothing here touches a database.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: Statuses from least to most finished: a merged run is as finished as its least finished copy
#: (``finished`` only if every copy is).
STATUS_ORDER = ("running", "interrupted", "failed", "imported", "finished")

#: Run columns that must agree between copies (a column left empty in one copy agrees).
_SAME_COLUMNS = ("model", "revision", "prompt_template", "aggregate_only")


class RunConflict(ValueError):
    """Two copies of a run disagree on ``field``: ``ours`` (the target) and ``theirs``."""

    def __init__(self, field: str, ours: Any, theirs: Any) -> None:
        super().__init__(field)
        self.field, self.ours, self.theirs = field, ours, theirs


def run_conflict(ours: dict[str, Any], theirs: dict[str, Any],
                 keys: Sequence[str]) -> RunConflict | None:
    """The first field on which two copies of a run disagree, or None.

    Args:
        ours: the run as stored in the target.
        theirs: the run as stored in the source.
        keys: the ``params`` keys that define what a run's samples are (the sampler's
            generation keys); other params (``n``, ``limit``, backend options) are per session.
    """
    for column in _SAME_COLUMNS:
        a, b = ours.get(column), theirs.get(column)
        if a is not None and b is not None and a != b:
            return RunConflict(column, a, b)
    mine, other = ours.get("params") or {}, theirs.get("params") or {}
    for key in keys:
        if (key in mine or key in other) and mine.get(key) != other.get(key):
            return RunConflict(f"params.{key}", mine.get(key), other.get(key))
    return None


def _max(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else max(a, b)


def _merged_params(mine: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    out = {**other, **mine}
    if "n" in mine or "n" in other:
        out["n"] = _max(mine.get("n"), other.get("n"))
    if "limit" in mine or "limit" in other:
        # No limit in one copy means every problem was asked for.
        a, b = mine.get("limit"), other.get("limit")
        out["limit"] = None if a is None or b is None else max(a, b)
    return out


def _merged_provenance(mine: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    out = {**other, **mine}
    sessions = list(mine.get("sessions") or [])
    for session in other.get("sessions") or []:
        if session not in sessions:
            sessions.append(session)
    if sessions:
        out["sessions"] = sessions
    merged = list(mine.get("merged_from") or [])
    merged += [m for m in other.get("merged_from") or [] if m not in merged]
    if merged:
        out["merged_from"] = merged
    return out


def merged_run(ours: dict[str, Any], theirs: dict[str, Any], source: str | None = None,
               at: str | None = None) -> dict[str, Any]:
    """The run that two agreeing copies make (check :func:`run_conflict` first).

    Seeds are unioned, ``n_target`` is the larger, the status the least finished, timestamps span
    both copies, sessions of both are kept; elsewhere the target's value wins where it has one.

    Args:
        ours: the target's copy.
        theirs: the source's copy.
        source: the source's name: its status is recorded in ``provenance["merged_from"]``
            (added, merged at ``at``, if absent), so that a run made by merging alone takes
            the least finished of its sources' latest statuses, and a source that has since
            finished advances it when merged again.
        at: when (for a source not yet recorded).
    """
    provenance = _merged_provenance(ours.get("provenance") or {}, theirs.get("provenance") or {})
    status = min(ours["status"], theirs["status"], key=_status_rank)
    if source is not None:
        provenance = _source_status(provenance, source, theirs["status"], at)
        status = _status_of_sources(provenance) or status
    out = dict(ours)
    for column in ("model", "revision", "backend", "prompt_template", "primary_grader"):
        if out.get(column) is None:
            out[column] = theirs.get(column)
    out.update(
        params=_merged_params(ours.get("params") or {}, theirs.get("params") or {}),
        seeds=sorted(set(ours.get("seeds") or []) | set(theirs.get("seeds") or [])),
        n_target=_max(ours.get("n_target"), theirs.get("n_target")),
        status=status,
        created_at=min(ours["created_at"], theirs["created_at"]),
        updated_at=max(ours["updated_at"], theirs["updated_at"]),
        finished_at=(_max(ours.get("finished_at"), theirs.get("finished_at"))
                     if status in ("finished", "imported") else None),
        provenance=provenance,
    )
    return out


def _source_status(prov: dict[str, Any], source: str, status: str,
                   at: str | None) -> dict[str, Any]:
    merged = [dict(m) for m in prov.get("merged_from") or []]
    entry = next((m for m in merged if m.get("path") == source), None)
    if entry is None:
        merged.append({"path": source, "merged_at": at, "status": status})
    else:
        entry["status"] = status
    return {**prov, "merged_from": merged}


def _status_of_sources(prov: dict[str, Any]) -> str | None:
    """The least finished latest status of the sources of a run that merging created (None
    where the target had its own copy, whose status is not kept apart, or a source merged
    before statuses were recorded)."""
    merged = prov.get("merged_from") or []
    if not merged or not merged[0].get("created"):
        return None
    # The latest entry per source wins (a source's own history may list a source again).
    statuses = {m.get("path"): m.get("status") for m in merged}
    if None in statuses.values():
        return None
    return min(statuses.values(), key=_status_rank)


def _status_rank(status: str) -> int:
    return STATUS_ORDER.index(status) if status in STATUS_ORDER else 0


def note_merge(run: dict[str, Any], source: str, at: str,
               created: bool = False) -> dict[str, Any]:
    """``run`` with ``source`` recorded in ``provenance["merged_from"]`` (once per source).

    Args:
        run: the run (the source's copy where ``created``).
        source: the source's name.
        at: when.
        created: the merge creates the run in the target from this source: its status is
            recorded, and the run's status follows its sources' from then on.
    """
    prov = dict(run.get("provenance") or {})
    merged = list(prov.get("merged_from") or [])
    if not any(m.get("path") == source for m in merged):
        entry: dict[str, Any] = {"path": source, "merged_at": at}
        if created:
            entry.update(status=run["status"], created=True)
        merged.append(entry)
    prov["merged_from"] = merged
    return {**run, "provenance": prov}
