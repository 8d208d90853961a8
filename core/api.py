"""The Python API: a reachscope database as pandas DataFrames, for notebooks.

    import reachscope
    db = reachscope.open("runs.db")          # read-only unless read_only=False
    db.runs()                                # one row per run
    db.pass_at_k(["base", "rl"])             # long: run, k, value (+ bootstrap of the difference)
    for page in db.samples("rl", columns=["problem_id", "sample_idx", "verdict"]):
        ...                                  # pages of at most page_size samples

Every number comes from the functions `reachscope report` and `reachscope export` use
(core.analysis.compare, core.evidence_report.evidence, core.trajectory.trajectory,
core.report_rows, core.export); this module only shapes their results into DataFrames.
Runs are named as on the command line: a label, ``dataset/label`` or a numeric id.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TypeAlias

import pandas as pd
import pyarrow as pa
import sqlite_utils
from reachscope.store import Run, StoreError, open_db
from reachscope.store.db import release_side_files, side_files
from reachscope.store.grades import resolve_grader
from reachscope.store.problems import problems_of
from reachscope.store.runs import get_run, list_runs, run_summaries

from . import export as _export
from .analysis import Comparison, choose_runs, compare, display_ks, load_counts, run_keys
from .evidence_report import Evidence, evidence, load_run_answers
from .report_rows import comparison_rows, evidence_rows
from .trajectory import trajectory as _trajectory

#: A run: label, ``dataset/label``, id, or a `Run`.
RunRef: TypeAlias = str | int | Run
#: One run, several, or None for the runs `reachscope report` would pick.
RunRefs: TypeAlias = RunRef | Sequence[RunRef] | None


class Database:
    """A reachscope database, read through the same functions as the CLI.

    Use :func:`open` to get one; close it (or use it as a context manager) when done.

    Attributes:
        path: the SQLite file.
        read_only: whether the file was opened read-only (``mode=ro``).
        conn: the underlying ``sqlite_utils.Database``, for the store functions.
    """

    def __init__(self, path: str | Path, read_only: bool = True) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise StoreError(f"{self.path}: no such database")
        self.read_only = read_only
        self._side_files = side_files(self.path)
        self.conn: sqlite_utils.Database = open_db(self.path, read_only=read_only)

    def close(self) -> None:
        """Close the connection (and remove the -wal/-shm files a read-only open created)."""
        self.conn.conn.close()
        if self.read_only:
            release_side_files(self.path, self._side_files)

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<reachscope.Database {str(self.path)!r}{' read-only' if self.read_only else ''}>"

    # --- runs and problems ---------------------------------------------------------------

    def run(self, ref: RunRef) -> Run:
        """One run by label, ``dataset/label``, id, or a `Run` already read.

        Raises:
            StoreError: no such run, or a label that names runs on several datasets.
        """
        if isinstance(ref, Run):
            return ref
        return get_run(self.conn, str(ref))

    def _runs(self, refs: RunRefs, dataset: str | None = None) -> list[Run]:
        """The runs named, else (None) the runs of ``dataset`` or of the largest dataset, as
        `reachscope report` picks them."""
        if refs is None:
            return choose_runs(self.conn, (), dataset)[0]
        if isinstance(refs, str | int | Run):
            refs = [refs]
        return [self.run(r) for r in refs]

    def runs(self) -> pd.DataFrame:
        """One row per run: id, label, dataset, model, backend, status, grader, sizes, params.

        ``problems`` and ``samples`` are what the run stores (aggregate-only runs count from
        their counts); ``params`` is the sampling parameters as a dict.
        """
        rows = []
        for s in run_summaries(self.conn):
            r = s.run
            rows.append({"id": r.id, "label": r.label, "dataset": r.dataset, "model": r.model,
                         "backend": r.backend, "status": r.status,
                         "aggregate_only": r.aggregate_only, "primary_grader": r.primary_grader,
                         "n_target": r.n_target, "problems": s.problems, "samples": s.samples,
                         "created_at": r.created_at, "finished_at": r.finished_at,
                         "params": r.params})
        return pd.DataFrame(rows, columns=["id", "label", "dataset", "model", "backend",
                                           "status", "aggregate_only", "primary_grader",
                                           "n_target", "problems", "samples", "created_at",
                                           "finished_at", "params"])

    def datasets(self) -> list[str]:
        """The datasets the runs are on, in the order of their first run."""
        return list(dict.fromkeys(r.dataset for r in list_runs(self.conn)))

    def problems(self, dataset: str) -> pd.DataFrame:
        """A dataset's problems by index: problem_id, idx, prompt, answer, metadata (a dict),
        and one column per top-level metadata field (``level``, ``subject``, ...)."""
        rows = sorted(problems_of(self.conn, dataset=dataset).values(), key=lambda p: p.idx)
        df = pd.DataFrame([{"problem_id": p.id, "idx": p.idx, "prompt": p.prompt,
                            "answer": p.answer, "metadata": p.metadata} for p in rows],
                          columns=["problem_id", "idx", "prompt", "answer", "metadata"])
        fields = dict.fromkeys(k for p in rows for k in p.metadata if k not in df.columns)
        for name in fields:
            df[name] = [p.metadata.get(name) for p in rows]
        return df

    # --- counts and pass@k ---------------------------------------------------------------

    def counts(self, runs: RunRefs = None, grader: str | None = None) -> pd.DataFrame:
        """n and c per (run, problem) under ``grader`` (default: each run's primary grader),
        with accuracy = c/n; columns as `reachscope export --what counts`."""
        chosen = self._runs(runs)
        frames = [
            _export.count_batches(self.conn, [r], resolve_grader(self.conn, r, grader))
            for r in chosen]
        return pd.concat([_frame(t) for t in frames], ignore_index=True) if frames else \
            _frame(_export.count_batches(self.conn, []))

    def compare(self, runs: RunRefs = None, ks: Sequence[int] | None = None,
                grader: str | None = None, coverage_k: int | None = None,
                bootstrap: int = 1000, seed: int = 0, level: float = 0.95) -> Comparison:
        """The `Comparison` behind `reachscope report` (curves, coverage, bootstrap, notes)."""
        return compare(self.conn, self._runs(runs), ks=list(ks) if ks else None, grader=grader,
                       coverage_k=coverage_k, bootstrap=bootstrap, seed=seed, level=level)

    def pass_at_k(self, runs: RunRefs = None, ks: Sequence[int] | None = None,
                  grader: str | None = None, bootstrap: int = 1000, seed: int = 0,
                  level: float = 0.95) -> pd.DataFrame:
        """pass@k in long form: columns run, k, metric, value, low, high.

        One ``pass_at_k`` row per run and k (the unbiased estimator, mean over problems; default
        k = 1..largest n). For two or more runs, ``pass_at_k_difference`` rows, run
        ``"<second> vs <first>"``, hold pass@k(second) - pass@k(first) on the problems both
        have, with ``low``/``high`` its paired bootstrap interval at ``level`` (``bootstrap``
        resamples over problems; 0 for none). ``df.attrs`` has ``crossover_k`` and ``notes``.
        """
        cmp = self.compare(runs, ks, grader, bootstrap=bootstrap, seed=seed, level=level)
        rows = [r for r in comparison_rows(cmp)
                if r[2] in ("pass_at_k", "pass_at_k_difference")]
        df = pd.DataFrame([(r[1], r[3], r[2], r[4], r[5], r[6]) for r in rows],
                          columns=["run", "k", "metric", "value", "low", "high"])
        df = df.astype({"k": "int64", "value": "float64", "low": "float64", "high": "float64"})
        df.attrs.update(crossover_k=cmp.crossover_k, notes=list(cmp.notes))
        return df

    def coverage(self, a: RunRef, b: RunRef, k: int | None = None,
                 grader: str | None = None) -> pd.DataFrame:
        """Which problems each of two runs solves (>= 1 correct sample), on the problems both
        have: rows both / only <a> / only <b> / neither, columns solved_by, problems (count),
        problem_ids. With ``k``, from each problem's first k samples only."""
        cmp = compare(self.conn, [self.run(a), self.run(b)], ks=[1], grader=grader,
                      coverage_k=k, bootstrap=0)
        cov = cmp.coverage_at_k if k is not None else cmp.coverage
        if cov is None:
            raise StoreError("; ".join(cmp.notes) or "no coverage for these runs")
        ka, kb = cmp.keys
        groups = [("both", cov.both), (f"only {ka}", cov.only_a), (f"only {kb}", cov.only_b),
                  ("neither", cov.neither)]
        df = pd.DataFrame([(name, len(ids), ids) for name, ids in groups],
                          columns=["solved_by", "problems", "problem_ids"])
        df.attrs.update(k=k, notes=list(cmp.notes))
        return df

    def report(self, runs: RunRefs = None, ks: Sequence[int] | None = None,
               grader: str | None = None, bootstrap: int = 1000, seed: int = 0,
               evidence: bool = True) -> pd.DataFrame:
        """The whole report in long form (section, run, metric, k, value, low, high), as
        `reachscope export --what report` writes it."""
        return _frame(_export.report_table(self.conn, self._runs(runs), ks, grader, bootstrap, seed,
                                   with_evidence=evidence))

    # --- samples, grades, annotations (paged) --------------------------------------------

    def samples(self, run: RunRef, problem: int | None = None,
                columns: Sequence[str] | None = None, grader: str | None = None,
                page_size: int = 10_000, limit: int | None = None) -> Iterator[pd.DataFrame]:
        """A run's samples as DataFrames of at most ``page_size`` rows, by problem and sample
        index (a million samples never load at once).

        Args:
            run: the run.
            problem: only this problem id (the ``problem_id`` of `counts` and `problems`).
            columns: sample columns (default `export.DEFAULT_SAMPLE_COLUMNS`, text included;
                see `export.SAMPLE_TYPES`), after run, dataset and grader.
            grader: whose verdict and answer (default: the run's primary grader).
            limit: stop after this many samples in all.
        """
        table = _export.sample_batches(self.conn, [self.run(run)],
                                       tuple(columns or _export.DEFAULT_SAMPLE_COLUMNS), grader,
                                       problem, page_size)
        return _pages(table, limit)

    def grades(self, run: RunRef, grader: str | None = None, page_size: int = 10_000,
               limit: int | None = None) -> Iterator[pd.DataFrame]:
        """A run's grades (every grader's, or ``grader``'s) in pages, as `samples`."""
        return _pages(_export.grade_batches(self.conn, [self.run(run)], grader, page_size), limit)

    def annotations(self, runs: RunRefs = None, label: str | None = None) -> pd.DataFrame:
        """Reviewers' labels on samples of ``runs`` (default: every run), by annotation id."""
        chosen = list_runs(self.conn) if runs is None else self._runs(runs)
        return _frame(_export.annotation_batches(self.conn, chosen, label))

    # --- answer evidence -----------------------------------------------------------------

    def evidence_of(self, runs: RunRefs = None, ks: Sequence[int] | None = None,
                    grader: str | None = None, bootstrap: int = 1000,
                    seed: int = 0) -> Evidence:
        """The `Evidence` object behind the report's evidence sections (first run = base)."""
        return _evidence(self.conn, self._runs(runs), ks, grader, bootstrap, seed)[1]

    def evidence(self, runs: RunRefs = None, ks: Sequence[int] | None = None,
                 grader: str | None = None, bootstrap: int = 1000,
                 seed: int = 0) -> pd.DataFrame:
        """Every answer-evidence statistic in long form (section, run, metric, k, value, low,
        high): answer entropy and mode share, cons@n, maj@k, pass^k, G-Pass@k (tau), mG-Pass@k,
        truncation shares, and for the first run against each other: support dynamics (SRR,
        NDR, SDS, NSCR), the detection floor, dSE, confidently wrong, the entropy and maj@k
        differences, with paired bootstrap intervals. Default k: powers of two up to n (the
        report's table grid)."""
        ev = self.evidence_of(runs, ks, grader, bootstrap, seed)
        return _frame(_export.rows_table(_export.REPORT_SCHEMA, evidence_rows(ev)))

    def answers(self, runs: RunRefs = None, grader: str | None = None) -> pd.DataFrame:
        """Per (run, problem) answer distributions: answered, no_answer, distinct, entropy (nats),
        normalized_entropy, mode_share, mode_correct and truncation counts."""
        rows = []
        chosen = self._runs(runs)
        for run, key in zip(chosen, run_keys(chosen)):
            ra = load_run_answers(self.conn, load_counts(self.conn, run, grader), key)
            for pid, d, t in zip(ra.problem_ids, ra.distributions, ra.truncation):
                rows.append({"run": key, "grader": ra.grader, "problem_id": pid,
                             "answered": d.answered, "no_answer": d.no_answer,
                             "distinct": d.distinct, "entropy": d.entropy,
                             "normalized_entropy": d.normalized_entropy,
                             "mode_share": d.mode_share, "mode_correct": d.mode_correct,
                             "samples": t.samples, "truncated": t.truncated,
                             "truncated_share": t.truncated_share})
        return pd.DataFrame(rows, columns=["run", "grader", "problem_id", "answered",
                                           "no_answer", "distinct", "entropy",
                                           "normalized_entropy", "mode_share", "mode_correct",
                                           "samples", "truncated", "truncated_share"])

    def transitions(self, base: RunRef, other: RunRef, grader: str | None = None,
                    problems: bool = False) -> pd.DataFrame:
        """The 12 x 12 accuracy-bin transitions from ``base`` (rows) to ``other`` (columns):
        problem counts, or with ``problems`` the lists of problem ids."""
        _, ev = _evidence(self.conn, [self.run(base), self.run(other)], [1], grader, 0, 0)
        if not ev.pairs:
            raise StoreError("; ".join(ev.notes) or "the two runs share no problem")
        tr = ev.pairs[0].transitions
        return pd.DataFrame(tr.cells if problems else tr.counts(), index=tr.labels,
                            columns=tr.labels)

    def trajectory(self, runs: RunRefs = None, order: Sequence[str] | None = None,
                   grader: str | None = None) -> pd.DataFrame:
        """The checkpoint trajectory (as `reachscope report --trajectory`): per run in
        checkpoint order, step, pass@1, pass@K, dSE and coverage against the base, answer
        entropy. ``df.attrs`` has ``base`` and ``k``."""
        tr = _trajectory(self.conn, self._runs(runs), list(order) if order else None, grader)
        df = pd.DataFrame([
            {"run": r.key, "step": r.step, "pass_at_1": r.pass_at_1, "pass_at_k": r.pass_at_k,
             "dse": r.dse, "both": None if r.coverage is None else len(r.coverage.both),
             "only_base": None if r.coverage is None else len(r.coverage.only_a),
             "only_run": None if r.coverage is None else len(r.coverage.only_b),
             "neither": None if r.coverage is None else len(r.coverage.neither),
             "mean_entropy": r.mean_entropy} for r in tr.rows])
        df.attrs.update(base=tr.base, k=tr.k)
        return df


def open(path: str | Path, read_only: bool = True) -> Database:  # noqa: A001 - the API's verb
    """Open a reachscope database for analysis.

    Args:
        path: an existing reachscope SQLite file.
        read_only: open with ``mode=ro`` (the default): nothing can change the file.

    Raises:
        StoreError: the file is missing, not a SQLite database, or not a reachscope database.
    """
    try:
        return Database(path, read_only=read_only)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a SQLite database ({exc})") from exc


def _evidence(db: sqlite_utils.Database, runs: list[Run], ks: Sequence[int] | None,
              grader: str | None, bootstrap: int, seed: int) -> tuple[Comparison, Evidence]:
    """The comparison and evidence of ``runs`` as `reachscope report` computes them."""
    cmp = compare(db, runs, ks=list(ks) if ks else None, grader=grader, bootstrap=0)
    grid = display_ks(cmp, list(ks) if ks else None)
    return cmp, evidence(db, cmp.runs, cmp.keys, grid, resamples=bootstrap, seed=seed)


#: Integer columns that may hold nulls stay integers (pandas' nullable Int64), not floats.
_TYPES = {pa.int64(): pd.Int64Dtype()}.get


def _frame(table: _export.Table) -> pd.DataFrame:
    """A whole (small) table as one DataFrame, typed by its schema even when empty."""
    return pa.Table.from_batches(list(table.batches), schema=table.schema).to_pandas(
        types_mapper=_TYPES)


def _pages(table: _export.Table, limit: int | None) -> Iterator[pd.DataFrame]:
    left = limit
    for batch in table.batches:
        if left is not None:
            if left <= 0:
                return
            batch = batch.slice(0, left)
            left -= batch.num_rows
        yield batch.to_pandas(types_mapper=_TYPES)


__all__ = ["Database", "open"]
