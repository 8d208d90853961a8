"""Merging one reachscope database into another (``reachscope merge``), on natural keys.

Rows are matched on what identifies them, never on ids: problems on (dataset, hash), runs on
(dataset, label), samples on (run, problem, sample index), grades on (sample, grader),
annotations on (sample, reviewer), scorers on their name, scores on (sample, scorer). Samples and
grades go through the normal tables, so the triggers keep ``counts``, ``sample_counts`` and
``answer_counts`` exact; only an aggregate-only run's ``counts`` (it has no samples) are copied.
``maj_at_k`` is a cache, recomputed by readers. Merging a file twice writes nothing the second
time.

Refused (:class:`MergeConflict`, the target left as it was when the caller rolls back): a run
whose generation parameters or model differ, a sample index with another text, a grade of the
same grader version with another verdict, an aggregate count that differs, a scorer name for
another model, and a source holding rows in a table this module does not know.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from .db import StoreError, has_table
from .merge_runs import merged_run, note_merge, run_conflict
from .runs import now

#: Tables merged row by row (in this order of dependency).
COPIED = ("problems", "runs", "samples", "grades", "annotations", "imports", "upstream_answers",
          "scorers", "scores", "review_queues", "review_items")
#: Tables derived from the copied ones (by triggers, or a cache readers recompute).
DERIVED = ("counts", "sample_counts", "answer_counts", "maj_at_k", "_sqlite_migrations")

#: Source rows read per query (keyset pages) and written per statement.
PAGE = 5000

_RUN_COLUMNS = ("label", "dataset", "model", "revision", "backend", "prompt_template", "params",
                "n_target", "seeds", "status", "aggregate_only", "primary_grader", "created_at",
                "updated_at", "finished_at", "provenance")
_JSON_COLUMNS = ("params", "seeds", "provenance")
_SAMPLE_COLUMNS = ("sample_idx", "text", "n_tokens", "finish_reason", "seed", "latency_s",
                   "created_at")


#: Temp tables of the target connection: id maps and the page being merged.
_TEMP_TABLES = {
    "merge_sample_map": "src_id INTEGER PRIMARY KEY, dst_id INTEGER NOT NULL",
    "merge_samples": "src_id INTEGER PRIMARY KEY, run_id INTEGER, problem_id INTEGER, "
                     "sample_idx INTEGER, text TEXT, n_tokens INTEGER, finish_reason TEXT, "
                     "seed INTEGER, latency_s REAL, created_at TEXT",
    "merge_grades": "sample_id INTEGER, grader TEXT, grader_version TEXT, verdict TEXT, "
                    "answer TEXT, detail TEXT, created_at TEXT",
    "merge_annotations": "sample_id INTEGER, reviewer TEXT, label TEXT, note TEXT, "
                         "created_at TEXT, updated_at TEXT",
    "merge_clusters": "run_id INTEGER, problem_id INTEGER, grader TEXT, answer TEXT, "
                      "cluster TEXT",
}


class MergeConflict(StoreError):
    """The source disagrees with the target on a row both have; nothing may be merged."""


#: Called as ``progress(table, rows done, rows in all)`` while rows are merged.
Progress = Callable[[str, int, int], None]


@dataclass
class RunMerged:
    """What merging one source did to one run."""

    ref: str
    created: bool = False
    samples_added: int = 0
    samples_skipped: int = 0
    grades_added: int = 0
    grades_replaced: int = 0
    counts_added: int = 0


@dataclass
class MergeSummary:
    """What merging one source did to the target."""

    problems_added: int = 0
    runs: list[RunMerged] = field(default_factory=list)
    annotations_added: int = 0
    annotations_replaced: int = 0
    scores_added: int = 0
    clusters_copied: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.problems_added or self.annotations_added or self.annotations_replaced
                    or self.scores_added or self.clusters_copied
                    or any(r.created or r.samples_added or r.grades_added or r.grades_replaced
                           or r.counts_added for r in self.runs))


def unknown_tables(db: sqlite_utils.Database) -> list[str]:
    """Tables of ``db`` that merging neither copies nor derives (a newer schema's tables)."""
    known = set(COPIED) | set(DERIVED)
    return sorted(name for (name,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        if name not in known)


def merge_database(target: sqlite_utils.Database, source: sqlite_utils.Database,
                   names: tuple[str, str], generation_keys: Sequence[str],
                   progress: Progress | None = None) -> MergeSummary:
    """Merge every row of ``source`` into ``target``, in the caller's transaction.

    Args:
        target: the database written (migrated to the current schema).
        source: the database read (read-only is enough).
        names: ``(source name, target name)`` for messages and the runs' provenance.
        generation_keys: the run ``params`` keys two copies of a run must agree on.
        progress: told how far each table has got.

    Raises:
        MergeConflict: the files disagree (the message names both files, the run and the
            field); call inside ``target.atomic()`` so the target is left unchanged.
    """
    src_name, dst_name = names
    for name in unknown_tables(source):
        if source.execute(f"SELECT 1 FROM [{name}] LIMIT 1").fetchone() is not None:
            raise MergeConflict(
                f"refusing to merge {src_name}: its table {name!r} is unknown to this "
                "reachscope's merge (a newer schema?)")
    summary = MergeSummary()
    merge = _Merge(target, source, src_name, dst_name, summary, progress or _quiet,
                   generation_keys)
    merge.run()
    return summary


def _quiet(table: str, done: int, total: int) -> None:
    pass


def _run_rows(db: sqlite_utils.Database) -> dict[tuple[str, str], tuple[int, dict[str, Any]]]:
    cur = db.execute(f"SELECT id, {', '.join(_RUN_COLUMNS)} FROM runs ORDER BY id")
    out = {}
    for row in cur.fetchall():
        run = dict(zip(_RUN_COLUMNS, row[1:]))
        for column in _JSON_COLUMNS:
            run[column] = json.loads(run[column] or ("[]" if column == "seeds" else "{}"))
        out[(run["dataset"], run["label"])] = (int(row[0]), run)
    return out


def _encoded(run: dict[str, Any]) -> list[Any]:
    return [json.dumps(run[c], sort_keys=True) if c in _JSON_COLUMNS else run[c]
            for c in _RUN_COLUMNS]


class _Merge:
    """One source merged into the target: id maps kept in temp tables of the target."""

    def __init__(self, target: sqlite_utils.Database, source: sqlite_utils.Database,
                 src_name: str, dst_name: str, summary: MergeSummary, progress: Progress,
                 generation_keys: Sequence[str]) -> None:
        self.dst, self.src = target, source
        self.src_name, self.dst_name = src_name, dst_name
        self.summary, self.progress = summary, progress
        self.keys = generation_keys
        self.problems: dict[int, int] = {}  # source problem id -> target id
        self.problem_idx: dict[int, int] = {}  # target problem id -> dataset index

    def changed_rows(self, sql: str) -> int:
        """Run one write on the target; the rows it inserted or updated."""
        return max(self.dst.execute(sql).rowcount, 0)

    def refuse(self, what: str) -> MergeConflict:
        return MergeConflict(f"refusing to merge {self.src_name} into {self.dst_name}: {what}")

    def run(self) -> None:
        # Statement by statement: executescript would commit the caller's transaction.
        for table, columns in _TEMP_TABLES.items():
            self.dst.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} ({columns})")
            self.dst.execute(f"DELETE FROM temp.{table}")
        self.merge_problems()
        runs = self.plan_runs()
        ids, results = {}, {}
        for key, (src_id, theirs, dst_id, ours) in runs.items():
            result = results[key] = RunMerged(f"{key[0]}/{key[1]}", created=ours is None)
            self.summary.runs.append(result)
            if ours is None:
                stored = note_merge(theirs, self.src_name, now(), created=True)
                cur = self.dst.execute(
                    f"INSERT INTO runs ({', '.join(_RUN_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * len(_RUN_COLUMNS))})", _encoded(stored))
                dst_id = int(cur.lastrowid)  # type: ignore[arg-type]
            assert dst_id is not None
            ids[src_id] = dst_id
            if theirs["aggregate_only"]:
                self.merge_counts(src_id, dst_id, result)
            else:
                self.merge_samples(src_id, dst_id, result)
        self.merge_imports(ids)
        self.merge_annotations()
        self.merge_upstream_answers()
        self.merge_scores()
        self.merge_review_queues()
        self.copy_clusters(ids)
        for key, (_, theirs, dst_id, ours) in runs.items():
            if ours is None:
                continue
            result = results[key]
            new = merged_run(ours, theirs, self.src_name, now())
            if result.samples_added or result.grades_added or result.grades_replaced \
                    or result.counts_added:
                new = note_merge(new, self.src_name, now())
            if new != ours:
                self.dst.execute(
                    f"UPDATE runs SET {', '.join(f'{c} = ?' for c in _RUN_COLUMNS)} "
                    "WHERE id = ?", [*_encoded(new), dst_id])

    def merge_problems(self) -> None:
        rows = self.src.execute(
            "SELECT id, dataset, idx, prompt, answer, metadata, hash FROM problems ORDER BY id"
        ).fetchall()
        cur = self.dst.conn.executemany(
            "INSERT INTO problems (dataset, idx, prompt, answer, metadata, hash) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (dataset, hash) DO NOTHING",
            [r[1:] for r in rows])
        self.summary.problems_added = max(cur.rowcount, 0)
        by_key = {(d, h): (int(i), int(x)) for i, d, h, x in self.dst.execute(
            "SELECT id, dataset, hash, idx FROM problems")}
        for r in rows:
            dst_id, idx = by_key[(r[1], r[6])]
            self.problems[int(r[0])] = dst_id
            self.problem_idx[dst_id] = idx
        self.progress("problems", len(rows), len(rows))

    def plan_runs(self) -> dict[tuple[str, str], tuple[int, dict[str, Any], int | None,
                                                       dict[str, Any] | None]]:
        """Every source run with its target copy (None where new), refused on a conflict."""
        ours = _run_rows(self.dst)
        plan = {}
        for key, (src_id, theirs) in _run_rows(self.src).items():
            dst_id, mine = ours.get(key, (None, None))
            if mine is not None:
                conflict = run_conflict(mine, theirs, self.keys)
                if conflict is not None:
                    raise self.refuse(
                        f"run {key[0]}/{key[1]} has {conflict.field} = {conflict.theirs!r} in "
                        f"{self.src_name} but {conflict.ours!r} in {self.dst_name}")
            plan[key] = (src_id, theirs, dst_id, mine)
        return plan

    def merge_counts(self, src_id: int, dst_id: int, result: RunMerged) -> None:
        rows = [(self.problems[int(p)], g, int(n), int(c)) for p, g, n, c in self.src.execute(
            "SELECT problem_id, grader, n, c FROM counts WHERE run_id = ?", [src_id])]
        have = {(int(p), g): (int(n), int(c)) for p, g, n, c in self.dst.execute(
            "SELECT problem_id, grader, n, c FROM counts WHERE run_id = ?", [dst_id])}
        new = []
        for pid, grader, n, c in rows:
            stored = have.get((pid, grader))
            if stored is None:
                new.append((dst_id, pid, grader, n, c))
            elif stored != (n, c):
                raise self.refuse(
                    f"run {result.ref} problem {self.problem_idx[pid]} grader {grader}: counts "
                    f"n={n}, c={c} in {self.src_name} but n={stored[0]}, c={stored[1]} in "
                    f"{self.dst_name}")
        self.dst.conn.executemany(
            "INSERT INTO counts (run_id, problem_id, grader, n, c) VALUES (?, ?, ?, ?, ?)", new)
        result.counts_added = len(new)

    def merge_samples(self, src_id: int, dst_id: int, result: RunMerged) -> None:
        total = int(self.src.execute(
            "SELECT count(*) FROM samples WHERE run_id = ?", [src_id]).fetchone()[0])
        last, done = 0, 0
        while True:
            page = self.src.execute(
                f"SELECT id, problem_id, {', '.join(_SAMPLE_COLUMNS)} FROM samples "
                "WHERE run_id = ? AND id > ? ORDER BY id LIMIT ?", [src_id, last, PAGE]
            ).fetchall()
            if not page:
                break
            last = int(page[-1][0])
            self.dst.conn.executemany(
                "INSERT INTO temp.merge_samples (src_id, run_id, problem_id, "
                f"{', '.join(_SAMPLE_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(r[0], dst_id, self.problems[int(r[1])], *r[2:]) for r in page])
            clash = self.dst.execute(
                "SELECT t.problem_id, t.sample_idx FROM temp.merge_samples t JOIN samples s "
                "ON s.run_id = t.run_id AND s.problem_id = t.problem_id "
                "AND s.sample_idx = t.sample_idx WHERE s.text IS NOT t.text LIMIT 1").fetchone()
            if clash is not None:
                raise self.refuse(
                    f"run {result.ref} problem {self.problem_idx[int(clash[0])]} sample "
                    f"{clash[1]} has another text in {self.src_name} than in {self.dst_name}")
            cur = self.dst.execute(
                f"INSERT INTO samples (run_id, problem_id, {', '.join(_SAMPLE_COLUMNS)}) "
                f"SELECT run_id, problem_id, {', '.join(_SAMPLE_COLUMNS)} "
                "FROM temp.merge_samples WHERE true "
                "ON CONFLICT (run_id, problem_id, sample_idx) DO NOTHING")
            added = max(cur.rowcount, 0)
            result.samples_added += added
            result.samples_skipped += len(page) - added
            self.dst.execute(
                "INSERT INTO temp.merge_sample_map (src_id, dst_id) SELECT t.src_id, s.id "
                "FROM temp.merge_samples t JOIN samples s ON s.run_id = t.run_id "
                "AND s.problem_id = t.problem_id AND s.sample_idx = t.sample_idx")
            self.dst.execute("DELETE FROM temp.merge_samples")
            self.merge_grades(src_id, int(page[0][0]), last, result)
            done += len(page)
            self.progress(f"samples of {result.ref}", done, total)

    def merge_grades(self, src_run: int, first: int, last: int, result: RunMerged) -> None:
        """The source grades of samples ``first..last`` (ids) of one run, already mapped."""
        self.dst.conn.executemany(
            "INSERT INTO temp.merge_grades (sample_id, grader, grader_version, verdict, answer, "
            "detail, created_at) SELECT m.dst_id, ?, ?, ?, ?, ?, ? "
            "FROM temp.merge_sample_map m WHERE m.src_id = ?",
            [(*r[1:], r[0]) for r in self.src.execute(
                "SELECT g.sample_id, g.grader, g.grader_version, g.verdict, g.answer, g.detail, "
                "g.created_at FROM grades g JOIN samples s ON s.id = g.sample_id "
                "WHERE g.sample_id BETWEEN ? AND ? AND s.run_id = ?", [first, last, src_run])])
        clash = self.dst.execute(
            "SELECT s.problem_id, s.sample_idx, t.grader, t.grader_version, t.verdict, "
            "g.verdict FROM temp.merge_grades t JOIN grades g "
            "ON g.sample_id = t.sample_id AND g.grader = t.grader "
            "JOIN samples s ON s.id = t.sample_id "
            "WHERE g.grader_version IS t.grader_version AND g.verdict <> t.verdict LIMIT 1"
        ).fetchone()
        if clash is not None:
            pid, idx, grader, version, theirs, mine = clash
            raise self.refuse(
                f"run {result.ref} problem {self.problem_idx[int(pid)]} sample {idx}: grader "
                f"{grader} (version {version}) says {theirs} in {self.src_name} but {mine} in "
                f"{self.dst_name}")
        # Another grader version: the later grade wins, whatever order files merge in.
        result.grades_replaced += self.changed_rows(
            "UPDATE grades SET grader_version = t.grader_version, verdict = t.verdict, "
            "answer = t.answer, detail = t.detail, created_at = t.created_at "
            "FROM temp.merge_grades t WHERE grades.sample_id = t.sample_id "
            "AND grades.grader = t.grader AND grades.grader_version IS NOT t.grader_version "
            "AND coalesce(t.created_at, '') > coalesce(grades.created_at, '')")
        result.grades_added += self.changed_rows(
            "INSERT INTO grades (sample_id, grader, grader_version, verdict, answer, detail, "
            "created_at) SELECT sample_id, grader, grader_version, verdict, answer, detail, "
            "created_at FROM temp.merge_grades WHERE true "
            "ON CONFLICT (sample_id, grader) DO NOTHING")
        self.dst.execute("DELETE FROM temp.merge_grades")

    def merge_imports(self, ids: dict[int, int]) -> None:
        rows = self.src.execute(
            "SELECT run_id, sha256, path, records, imported_at FROM imports").fetchall()
        self.dst.conn.executemany(
            "INSERT INTO imports (run_id, sha256, path, records, imported_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id, sha256) DO NOTHING",
            [(ids[int(r[0])], *r[1:]) for r in rows if int(r[0]) in ids])

    def _mapped_pages(self, sql: str) -> Iterator[list[Any]]:
        """Keyset pages of a source query whose first column is a source sample id."""
        last = -1
        while True:
            page = self.src.execute(sql, [last, PAGE]).fetchall()
            if not page:
                return
            last = int(page[-1][0])
            yield page

    def merge_annotations(self) -> None:
        rows = self.src.execute(
            "SELECT sample_id, reviewer, label, note, created_at, updated_at FROM annotations"
        ).fetchall()
        if not rows:
            return
        self.dst.conn.executemany(
            "INSERT INTO temp.merge_annotations SELECT m.dst_id, ?, ?, ?, ?, ? "
            "FROM temp.merge_sample_map m WHERE m.src_id = ?", [(*r[1:], r[0]) for r in rows])
        # The later label wins, whatever order files merge in.
        self.summary.annotations_replaced = self.changed_rows(
            "UPDATE annotations SET label = t.label, note = t.note, updated_at = t.updated_at "
            "FROM temp.merge_annotations t WHERE annotations.sample_id = t.sample_id "
            "AND annotations.reviewer = t.reviewer "
            "AND (annotations.label, annotations.note) IS NOT (t.label, t.note) "
            "AND coalesce(t.updated_at, t.created_at) > "
            "coalesce(annotations.updated_at, annotations.created_at)")
        self.summary.annotations_added = self.changed_rows(
            "INSERT INTO annotations (sample_id, reviewer, label, note, created_at, updated_at) "
            "SELECT sample_id, reviewer, label, note, created_at, updated_at "
            "FROM temp.merge_annotations WHERE true "
            "ON CONFLICT (sample_id, reviewer) DO NOTHING")
        self.dst.execute("DELETE FROM temp.merge_annotations")

    def merge_upstream_answers(self) -> None:
        for page in self._mapped_pages(
                "SELECT sample_id, answer FROM upstream_answers WHERE sample_id > ? "
                "ORDER BY sample_id LIMIT ?"):
            self.dst.conn.executemany(
                "INSERT INTO upstream_answers (sample_id, answer) SELECT m.dst_id, ? "
                "FROM temp.merge_sample_map m WHERE m.src_id = ? "
                "ON CONFLICT (sample_id) DO NOTHING", [(a, s) for s, a in page])

    def merge_scores(self) -> None:
        if not has_table(self.src, "scorers"):
            return
        scorers = {}
        for sid, name, model, backend, prov, created in self.src.execute(
                "SELECT id, name, model, backend, provenance, created_at FROM scorers"):
            row = self.dst.execute("SELECT id, model FROM scorers WHERE name = ?",
                                   [name]).fetchone()
            if row is None:
                cur = self.dst.execute(
                    "INSERT INTO scorers (name, model, backend, provenance, created_at) "
                    "VALUES (?, ?, ?, ?, ?)", [name, model, backend, prov, created])
                row = (cur.lastrowid, model)
            elif row[1] != model:
                raise self.refuse(f"scorer {name} is model {model!r} in {self.src_name} but "
                                  f"{row[1]!r} in {self.dst_name}")
            scorers[int(sid)] = int(row[0])
        for page in self._mapped_pages(
                "SELECT sample_id, scorer_id, n_tokens, sum_logprob, mean_logprob, mean_entropy, "
                "error FROM scores WHERE sample_id > ? ORDER BY sample_id LIMIT ?"):
            cur = self.dst.conn.executemany(
                "INSERT INTO scores (sample_id, scorer_id, n_tokens, sum_logprob, mean_logprob, "
                "mean_entropy, error) SELECT m.dst_id, ?, ?, ?, ?, ?, ? "
                "FROM temp.merge_sample_map m WHERE m.src_id = ? "
                "ON CONFLICT (sample_id, scorer_id) DO NOTHING",
                [(scorers[int(r[1])], *r[2:], r[0]) for r in page])
            self.summary.scores_added += max(cur.rowcount, 0)

    def merge_review_queues(self) -> None:
        """Review queues new to the target, with their items; one of the same name must match."""
        if not has_table(self.src, "review_queues"):
            return
        for qid, name, params, selection, blind, created in self.src.execute(
                "SELECT id, name, params, selection, blind, created_at FROM review_queues "
                "ORDER BY id").fetchall():
            items = self._queue_items(int(qid))
            row = self.dst.execute("SELECT id, params FROM review_queues WHERE name = ?",
                                   [name]).fetchone()
            if row is None:
                cur = self.dst.execute(
                    "INSERT INTO review_queues (name, params, selection, blind, created_at) "
                    "VALUES (?, ?, ?, ?, ?)", [name, params, selection, blind, created])
                self.dst.conn.executemany(
                    "INSERT INTO review_items (queue_id, position, sample_id) VALUES (?, ?, ?)",
                    [(cur.lastrowid, pos, sid) for pos, sid in items])
                continue
            mine = [(int(p), int(s)) for p, s in self.dst.execute(
                "SELECT position, sample_id FROM review_items WHERE queue_id = ? "
                "ORDER BY position", [row[0]])]
            if row[1] != params or mine != items:
                raise self.refuse(f"review queue {name!r} differs between {self.src_name} and "
                                  f"{self.dst_name}; rebuild it on the merged file instead")

    def _queue_items(self, queue_id: int) -> list[tuple[int, int]]:
        """``(position, target sample id)`` of a source queue's items."""
        out = []
        for pos, sid in self.src.execute(
                "SELECT position, sample_id FROM review_items WHERE queue_id = ? "
                "ORDER BY position", [queue_id]).fetchall():
            row = self.dst.execute("SELECT dst_id FROM temp.merge_sample_map WHERE src_id = ?",
                                   [sid]).fetchone()
            out.append((int(pos), int(row[0])))
        return out

    def copy_clusters(self, ids: dict[int, int]) -> None:
        """Answer clusters of the source, where the target has none yet for that problem.

        One file's clusters are consistent among themselves; mixing two files' clusters in one
        (run, problem, grader) could split one cluster in two, so those answers are left for
        clustering (``reachscope grade``) to join to the clusters there.
        """
        if not has_table(self.src, "answer_counts"):
            return
        rows = [(ids[int(r)], self.problems[int(p)], g, a, c) for r, p, g, a, c in
                self.src.execute("SELECT run_id, problem_id, grader, answer, cluster "
                                 "FROM answer_counts WHERE cluster IS NOT NULL")
                if int(r) in ids]
        if not rows:
            return
        self.dst.conn.executemany("INSERT INTO temp.merge_clusters VALUES (?, ?, ?, ?, ?)", rows)
        # Decided before any update, so that the first cluster copied does not bar the rest.
        self.dst.execute(
            "DELETE FROM temp.merge_clusters WHERE EXISTS (SELECT 1 FROM answer_counts a "
            "WHERE a.run_id = merge_clusters.run_id AND a.problem_id = merge_clusters.problem_id "
            "AND a.grader = merge_clusters.grader AND a.cluster IS NOT NULL)")
        self.summary.clusters_copied = self.changed_rows(
            "UPDATE answer_counts SET cluster = t.cluster FROM temp.merge_clusters t "
            "WHERE answer_counts.run_id = t.run_id AND answer_counts.problem_id = t.problem_id "
            "AND answer_counts.grader = t.grader AND answer_counts.answer = t.answer "
            "AND answer_counts.cluster IS NULL")
        self.dst.execute("DELETE FROM temp.merge_clusters")
