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
