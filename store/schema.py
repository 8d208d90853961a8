"""The reachscope schema, managed as sqlite-utils migrations (the applied set is in the file)."""

from __future__ import annotations

import sqlite_utils

MIGRATIONS = sqlite_utils.Migrations("reachscope")

#: Verdicts a grade may carry.
VERDICTS = ("correct", "incorrect", "no_answer", "timeout", "error")


@MIGRATIONS()
def m001_initial(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE problems (
            id INTEGER PRIMARY KEY,
            dataset TEXT NOT NULL,
            idx INTEGER NOT NULL,
            prompt TEXT,
            answer TEXT,
            metadata TEXT NOT NULL DEFAULT '{}',
            hash TEXT NOT NULL,
            UNIQUE (dataset, hash)
        );
        CREATE INDEX problems_dataset_idx ON problems (dataset, idx);

        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            label TEXT NOT NULL,
            dataset TEXT NOT NULL,
            model TEXT,
            revision TEXT,
            backend TEXT,
            prompt_template TEXT,
            params TEXT NOT NULL DEFAULT '{}',
            n_target INTEGER,
            seeds TEXT NOT NULL DEFAULT '[]',
            status TEXT NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'finished', 'failed', 'interrupted', 'imported')),
            aggregate_only INTEGER NOT NULL DEFAULT 0,
            primary_grader TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            finished_at TEXT,
            provenance TEXT NOT NULL DEFAULT '{}',
            UNIQUE (dataset, label)
        );

        CREATE TABLE samples (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            problem_id INTEGER NOT NULL REFERENCES problems (id),
            sample_idx INTEGER NOT NULL,
            text TEXT NOT NULL,
            n_tokens INTEGER,
            finish_reason TEXT,
            seed INTEGER,
            latency_s REAL,
            created_at TEXT,
            UNIQUE (run_id, problem_id, sample_idx)
        );

        CREATE TABLE grades (
            id INTEGER PRIMARY KEY,
            sample_id INTEGER NOT NULL REFERENCES samples (id) ON DELETE CASCADE,
            grader TEXT NOT NULL,
            grader_version TEXT,
            verdict TEXT NOT NULL
                CHECK (verdict IN ('correct', 'incorrect', 'no_answer', 'timeout', 'error')),
            answer TEXT,
            detail TEXT,
            created_at TEXT,
            UNIQUE (sample_id, grader)
        );
        CREATE INDEX grades_grader ON grades (grader, sample_id);

        -- n and c per (run, problem, grader), kept current by the triggers below so that pass@k
        -- over a million samples reads one row per problem. Aggregate-only runs write it directly.
        CREATE TABLE counts (
            run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            problem_id INTEGER NOT NULL REFERENCES problems (id),
            grader TEXT NOT NULL,
            n INTEGER NOT NULL DEFAULT 0,
            c INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (run_id, problem_id, grader)
        ) WITHOUT ROWID;

        CREATE TRIGGER grades_counts_insert AFTER INSERT ON grades BEGIN
            INSERT INTO counts (run_id, problem_id, grader, n, c)
                SELECT s.run_id, s.problem_id, NEW.grader, 1, NEW.verdict = 'correct'
                FROM samples s WHERE s.id = NEW.sample_id
            ON CONFLICT (run_id, problem_id, grader) DO UPDATE
                SET n = n + 1, c = c + excluded.c;
        END;

        CREATE TRIGGER grades_counts_update AFTER UPDATE OF verdict, grader ON grades BEGIN
            UPDATE counts SET n = n - 1, c = c - (OLD.verdict = 'correct')
                WHERE grader = OLD.grader
                  AND (run_id, problem_id) = (SELECT run_id, problem_id FROM samples
                                              WHERE id = OLD.sample_id);
            INSERT INTO counts (run_id, problem_id, grader, n, c)
                SELECT s.run_id, s.problem_id, NEW.grader, 1, NEW.verdict = 'correct'
                FROM samples s WHERE s.id = NEW.sample_id
            ON CONFLICT (run_id, problem_id, grader) DO UPDATE
                SET n = n + 1, c = c + excluded.c;
        END;

        CREATE TRIGGER grades_counts_delete AFTER DELETE ON grades BEGIN
            UPDATE counts SET n = n - 1, c = c - (OLD.verdict = 'correct')
                WHERE grader = OLD.grader
                  AND (run_id, problem_id) = (SELECT run_id, problem_id FROM samples
                                              WHERE id = OLD.sample_id);
        END;

        CREATE TABLE annotations (
            id INTEGER PRIMARY KEY,
            sample_id INTEGER NOT NULL REFERENCES samples (id) ON DELETE CASCADE,
            label TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL
        );
        CREATE INDEX annotations_sample ON annotations (sample_id);

        -- Files already imported into a run (by content hash), so re-importing is a no-op and
        -- several seed files pool into one run without index collisions.
        CREATE TABLE imports (
            run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            sha256 TEXT NOT NULL,
            path TEXT NOT NULL,
            records INTEGER NOT NULL,
            imported_at TEXT NOT NULL,
            PRIMARY KEY (run_id, sha256)
        );
        """
    )


@MIGRATIONS()
def m002_upstream_answers(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- The answer an upstream toolkit extracted from a sample (its `pred`), kept apart from
        -- grades so that an import without upstream verdicts keeps it too.
        CREATE TABLE upstream_answers (
            sample_id INTEGER PRIMARY KEY REFERENCES samples (id) ON DELETE CASCADE,
            answer TEXT
        );
        -- Databases imported before this table kept the answer on the upstream grade only.
        INSERT INTO upstream_answers (sample_id, answer)
            SELECT sample_id, answer FROM grades WHERE grader = 'upstream' AND answer IS NOT NULL;
        """
    )


@MIGRATIONS()
def m003_annotation_reviewer(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- One current label per (sample, reviewer): relabelling edits it instead of stacking rows.
        ALTER TABLE annotations ADD COLUMN reviewer TEXT NOT NULL DEFAULT '';
        ALTER TABLE annotations ADD COLUMN updated_at TEXT;
        -- Older files may hold several labels per sample: keep the newest of each.
        DELETE FROM annotations WHERE id NOT IN (
            SELECT max(id) FROM annotations GROUP BY sample_id, reviewer);
        CREATE UNIQUE INDEX annotations_sample_reviewer ON annotations (sample_id, reviewer);
        """
    )


@MIGRATIONS()
def m004_sample_counts(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- Samples stored per (run, problem), kept current by the triggers below so that
        -- `reachscope runs` and the Live screen read one row per problem instead of counting a
        -- million samples. A (run, problem) without samples has no row.
        CREATE TABLE sample_counts (
            run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            problem_id INTEGER NOT NULL REFERENCES problems (id),
            n INTEGER NOT NULL,
            PRIMARY KEY (run_id, problem_id)
        ) WITHOUT ROWID;
        INSERT INTO sample_counts (run_id, problem_id, n)
            SELECT run_id, problem_id, count(*) FROM samples GROUP BY run_id, problem_id;

        -- INSERT OR IGNORE of a sample already stored fires nothing: counts stay exact on resume.
        CREATE TRIGGER samples_counts_insert AFTER INSERT ON samples BEGIN
            INSERT INTO sample_counts (run_id, problem_id, n)
                VALUES (NEW.run_id, NEW.problem_id, 1)
            ON CONFLICT (run_id, problem_id) DO UPDATE SET n = n + 1;
        END;

        -- Also fired by the cascade when a run is deleted.
        CREATE TRIGGER samples_counts_delete AFTER DELETE ON samples BEGIN
            UPDATE sample_counts SET n = n - 1
                WHERE run_id = OLD.run_id AND problem_id = OLD.problem_id;
            DELETE FROM sample_counts
                WHERE run_id = OLD.run_id AND problem_id = OLD.problem_id AND n <= 0;
        END;

        CREATE TRIGGER samples_counts_update AFTER UPDATE OF run_id, problem_id ON samples
        BEGIN
            UPDATE sample_counts SET n = n - 1
                WHERE run_id = OLD.run_id AND problem_id = OLD.problem_id;
            DELETE FROM sample_counts
                WHERE run_id = OLD.run_id AND problem_id = OLD.problem_id AND n <= 0;
            INSERT INTO sample_counts (run_id, problem_id, n)
                VALUES (NEW.run_id, NEW.problem_id, 1)
            ON CONFLICT (run_id, problem_id) DO UPDATE SET n = n + 1;
        END;
        """
    )


@MIGRATIONS()
def m006_answer_counts(db: sqlite_utils.Database) -> None:
    new_row = _ANSWER_UPSERT.format(select=_ANSWER_ROW.format(g="NEW"))
    db.executescript(
        f"""
        -- Graded samples per (run, problem, grader, extracted answer), kept current by the
        -- triggers below (like `counts`), so that answer distributions, majority vote and
        -- truncation over a million samples read one row per distinct answer. answer '' holds
        -- the samples without an answer. `cluster` is the answer this one is equivalent to under
        -- the grader (the first member of its cluster; core.answer_clusters sets it after
        -- grading); NULL until then, when readers group by the exact answer.
        CREATE TABLE answer_counts (
            run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            problem_id INTEGER NOT NULL REFERENCES problems (id),
            grader TEXT NOT NULL,
            answer TEXT NOT NULL,
            n INTEGER NOT NULL DEFAULT 0,
            c INTEGER NOT NULL DEFAULT 0,
            truncated INTEGER NOT NULL DEFAULT 0,
            truncated_c INTEGER NOT NULL DEFAULT 0,
            cluster TEXT,
            PRIMARY KEY (run_id, problem_id, grader, answer)
        ) WITHOUT ROWID;
        INSERT INTO answer_counts (run_id, problem_id, grader, answer, n, c, truncated,
                                   truncated_c)
            SELECT s.run_id, s.problem_id, g.grader, coalesce(g.answer, ''), count(*),
                   sum(g.verdict = 'correct'), sum(s.finish_reason IS 'length'),
                   sum(g.verdict = 'correct' AND s.finish_reason IS 'length')
            FROM grades g JOIN samples s ON s.id = g.sample_id
            GROUP BY s.run_id, s.problem_id, g.grader, coalesce(g.answer, '');

        CREATE TRIGGER grades_answer_counts_insert AFTER INSERT ON grades BEGIN
            {new_row}
        END;

        -- The new row is added before the old one is pruned, so a verdict-only change keeps
        -- the answer's cluster.
        CREATE TRIGGER grades_answer_counts_update AFTER UPDATE OF verdict, grader, answer
        ON grades BEGIN
            {_ANSWER_REMOVE}
            {new_row}
            {_ANSWER_PRUNE}
        END;

        CREATE TRIGGER grades_answer_counts_delete AFTER DELETE ON grades BEGIN
            {_ANSWER_REMOVE}
            {_ANSWER_PRUNE}
        END;

        -- A cascade from samples deletes grades after their sample is gone, when the
        -- triggers above can no longer find its run and problem: delete them first.
        CREATE TRIGGER samples_grades_delete BEFORE DELETE ON samples BEGIN
            DELETE FROM grades WHERE sample_id = OLD.id;
        END;
        """
    )


@MIGRATIONS()
def m007_maj_at_k(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- maj@k per (run, problem, grader) on the k grid of the problem's n (powers of two up
        -- to n, plus n), computed from `answer_counts` after clustering (core.vote_cache): an
        -- exact maj@k costs milliseconds per (problem, k), too slow for a report over 1,000
        -- problems. A change to any answer_counts row of a (run, problem, grader) deletes its
        -- values (triggers below), so a row here is never stale; readers compute what is
        -- missing.
        CREATE TABLE maj_at_k (
            run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            problem_id INTEGER NOT NULL REFERENCES problems (id),
            grader TEXT NOT NULL,
            k INTEGER NOT NULL,
            value REAL NOT NULL,
            PRIMARY KEY (run_id, problem_id, grader, k)
        ) WITHOUT ROWID;

        CREATE TRIGGER answer_counts_maj_insert AFTER INSERT ON answer_counts BEGIN
            DELETE FROM maj_at_k WHERE run_id = NEW.run_id AND problem_id = NEW.problem_id
                AND grader = NEW.grader;
        END;

        CREATE TRIGGER answer_counts_maj_update AFTER UPDATE OF n, c, cluster ON answer_counts
        BEGIN
            DELETE FROM maj_at_k WHERE run_id = NEW.run_id AND problem_id = NEW.problem_id
                AND grader = NEW.grader;
        END;

        CREATE TRIGGER answer_counts_maj_delete AFTER DELETE ON answer_counts BEGIN
            DELETE FROM maj_at_k WHERE run_id = OLD.run_id AND problem_id = OLD.problem_id
                AND grader = OLD.grader;
        END;
        """
    )


@MIGRATIONS()
def m008_scores(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- IF NOT EXISTS: files migrated while this was drafted as m005_scores have the tables.
        -- A model that scores stored samples (`reachscope score`): its name in this file, the
        -- model it loads, and what it was (backend, tokenizer) when it first scored.
        CREATE TABLE IF NOT EXISTS scorers (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            model TEXT NOT NULL,
            backend TEXT,
            provenance TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL
        );

        -- The log-likelihood of a sample's completion tokens under a scorer, given the exact
        -- prompt that produced it. Per scorer token: scorers with another tokenizer count other
        -- tokens. mean_entropy is NULL where the backend gives no full distribution; a sample
        -- that cannot be scored (too long for the context) keeps its reason in error, so a
        -- resume does not retry it forever. No timestamp per row: 150k rows per scorer.
        CREATE TABLE IF NOT EXISTS scores (
            sample_id INTEGER NOT NULL REFERENCES samples (id) ON DELETE CASCADE,
            scorer_id INTEGER NOT NULL REFERENCES scorers (id) ON DELETE CASCADE,
            n_tokens INTEGER,
            sum_logprob REAL,
            mean_logprob REAL,
            mean_entropy REAL,
            error TEXT,
            PRIMARY KEY (sample_id, scorer_id)
        ) WITHOUT ROWID;
        """
    )



@MIGRATIONS()
def m009_review_queues(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- A reasoning-review queue (`reachscope review`): the params that built it (same params,
        -- same queue: a rebuild resumes), what its selection found, and whether the review screen
        -- hides the run of each item. Labels are annotations, one per (sample, reviewer).
        CREATE TABLE review_queues (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            params TEXT NOT NULL DEFAULT '{}',
            selection TEXT NOT NULL DEFAULT '{}',
            blind INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL
        );
        -- The queue's samples in review order (a seeded shuffle fixed at build time).
        CREATE TABLE review_items (
            queue_id INTEGER NOT NULL REFERENCES review_queues (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            sample_id INTEGER NOT NULL REFERENCES samples (id) ON DELETE CASCADE,
            PRIMARY KEY (queue_id, position),
            UNIQUE (queue_id, sample_id)
        ) WITHOUT ROWID;
        """
    )


#: SQL of one (grade, sample) pair's contribution to `answer_counts`, for the triggers below.
#: ``finish_reason = 'length'`` is core.evidence.LENGTH_REASONS (the only reason that means
#: "stopped at max_tokens"); ``IS`` makes a NULL finish_reason count as not truncated.
_ANSWER_ROW = """
    SELECT s.run_id, s.problem_id, {g}.grader, coalesce({g}.answer, ''), 1,
           {g}.verdict = 'correct', s.finish_reason IS 'length',
           {g}.verdict = 'correct' AND s.finish_reason IS 'length'
    FROM samples s WHERE s.id = {g}.sample_id
"""
_ANSWER_UPSERT = """
    INSERT INTO answer_counts (run_id, problem_id, grader, answer, n, c, truncated, truncated_c)
    {select}
    ON CONFLICT (run_id, problem_id, grader, answer) DO UPDATE SET n = n + 1,
        c = c + excluded.c, truncated = truncated + excluded.truncated,
        truncated_c = truncated_c + excluded.truncated_c;
"""
_ANSWER_REMOVE = """
    UPDATE answer_counts SET n = n - 1, c = c - (OLD.verdict = 'correct'),
        truncated = truncated - t.cut,
        truncated_c = truncated_c - (t.cut AND OLD.verdict = 'correct')
    FROM (SELECT run_id, problem_id, finish_reason IS 'length' AS cut FROM samples
          WHERE id = OLD.sample_id) AS t
    WHERE answer_counts.run_id = t.run_id AND answer_counts.problem_id = t.problem_id
      AND answer_counts.grader = OLD.grader AND answer_counts.answer = coalesce(OLD.answer, '');
"""
_ANSWER_PRUNE = """
    DELETE FROM answer_counts WHERE grader = OLD.grader AND answer = coalesce(OLD.answer, '')
        AND n <= 0 AND (run_id, problem_id) = (SELECT run_id, problem_id FROM samples
                                               WHERE id = OLD.sample_id);
"""


#: Migrations a read-only viewer (or the label writer, which never migrates) can do without:
#: they only add what reads fall back from (`sample_counts`: counted from `samples` instead;
#: `answer_counts`: grouped from `grades`; `maj_at_k`: computed; `review_queues`: read as no
#: queue), so a file that lacks only
#: these still opens, with the same figures, just slower to read.
OPTIONAL_FOR_READERS = frozenset({"m004_sample_counts", "m008_scores",
                                  "m009_review_queues",
                                  "m006_answer_counts", "m007_maj_at_k"})
