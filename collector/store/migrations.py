"""The warehouse schema: ordered, named migrations, each recorded in `_migrations`.

Every migration runs in one transaction together with its record, so a warehouse is
always at a known version. Never edit a released migration: add the next one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import duckdb

from collector.errors import WarehouseError

Migration = Callable[[duckdb.DuckDBPyConnection], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(fn: Migration) -> Migration:
    """Register a migration; its function name is its recorded name and order key."""
    MIGRATIONS.append((fn.__name__, fn))
    return fn


@migration
def m001_initial(db: duckdb.DuckDBPyConnection) -> None:
    db.execute(
        """
        CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);

        -- One collection run of one family. Only runs with status 'complete' feed reports.
        CREATE SEQUENCE run_ids START 1;
        CREATE TABLE runs (
            run_id      BIGINT PRIMARY KEY DEFAULT nextval('run_ids'),
            family      VARCHAR NOT NULL,
            started_at  TIMESTAMP NOT NULL,      -- UTC; the snapshot's time and date
            finished_at TIMESTAMP,
            status      VARCHAR NOT NULL,        -- complete | partial | failed
            strategy    VARCHAR NOT NULL,
            repos_seen  INTEGER NOT NULL DEFAULT 0,
            members     INTEGER NOT NULL DEFAULT 0,
            requests    INTEGER NOT NULL DEFAULT 0,
            retries     INTEGER NOT NULL DEFAULT 0,
            rejected    INTEGER NOT NULL DEFAULT 0,  -- API items or tags refused as bad data
            error       VARCHAR
        );

        -- A repo, keyed so that a rename (same Hub _id, new id) stays one repo.
        CREATE SEQUENCE repo_keys START 1;
        CREATE TABLE repos (
            repo_key      BIGINT PRIMARY KEY DEFAULT nextval('repo_keys'),
            hub_id        VARCHAR,               -- the Hub's _id when it was ever seen
            repo_id       VARCHAR NOT NULL,      -- current id, e.g. Qwen/Qwen3-8B
            author        VARCHAR,
            created_at    TIMESTAMP,
            pipeline_tag  VARCHAR,
            library_name  VARCHAR,
            first_seen_run BIGINT NOT NULL,
            last_seen_run  BIGINT NOT NULL
        );

        -- Every id a repo has been seen under (renames).
        CREATE TABLE repo_names (
            repo_key  BIGINT NOT NULL,
            repo_id   VARCHAR NOT NULL,
            first_run BIGINT NOT NULL,
            PRIMARY KEY (repo_key, repo_id)
        );

        -- Counters, stored only when they differ from the repo's previous stored row:
        -- the value at any run is the latest row at or before it (an ASOF join).
        CREATE TABLE counts (
            repo_key           BIGINT NOT NULL,
            run_id             BIGINT NOT NULL,
            downloads_30d      BIGINT,
            downloads_all_time BIGINT,
            likes              BIGINT,
            PRIMARY KEY (repo_key, run_id)
        );

        -- Family membership as intervals of consecutive complete runs of that family
        -- with unchanged attributes; a change of role/relation/depth/parent starts a new one.
        CREATE TABLE membership (
            family     VARCHAR NOT NULL,
            repo_key   BIGINT NOT NULL,
            first_run  BIGINT NOT NULL,
            last_run   BIGINT NOT NULL,
            role       VARCHAR NOT NULL,   -- official | derivative
            relation   VARCHAR,            -- finetune | quantized | adapter | merge | unspecified
            depth      INTEGER NOT NULL,
            parent_key BIGINT,
            PRIMARY KEY (family, repo_key, first_run)
        );

        -- base_model edges seen on members, as intervals like membership.
        CREATE TABLE edges (
            family     VARCHAR NOT NULL,
            child_key  BIGINT NOT NULL,
            parent_id  VARCHAR NOT NULL,
            relation   VARCHAR NOT NULL,
            first_run  BIGINT NOT NULL,
            last_run   BIGINT NOT NULL,
            PRIMARY KEY (family, child_key, parent_id, first_run)
        );
        """
    )


@migration
def m002_views(db: duckdb.DuckDBPyConnection) -> None:
    from collector.store.views import VIEWS_SQL

    db.execute(VIEWS_SQL)


@migration
def m003_partial_runs(db: duckdb.DuckDBPyConnection) -> None:
    from collector.store.views import PARTIAL_RUNS_SQL

    db.execute(
        """
        ALTER TABLE runs ADD COLUMN rate_limited INTEGER NOT NULL DEFAULT 0;  -- HTTP 429s met
        ALTER TABLE runs ADD COLUMN stale INTEGER NOT NULL DEFAULT 0;  -- rows of `stale`
        ALTER TABLE runs ADD COLUMN problems VARCHAR;  -- JSON: data problem kind -> count
        ALTER TABLE runs ADD COLUMN stage_id VARCHAR;  -- the stage a run was committed from

        -- Members that a partial run could not refresh: kept as members, with the
        -- counters of their last stored row (no counts row at this run).
        CREATE TABLE stale (
            run_id   BIGINT NOT NULL,
            repo_key BIGINT NOT NULL,
            PRIMARY KEY (run_id, repo_key)
        );
        """
    )
    db.execute(PARTIAL_RUNS_SQL)


@migration
def m007_daily_rollup(db: duckdb.DuckDBPyConnection) -> None:
    """Per-family daily sums maintained by each snapshot (collector/store/rollup.py), so that
    reports cost the same whatever the length of the history."""
    from collector.store import rollup
    from collector.store.views import ROLLUP_VIEWS_SQL

    db.execute(
        """
        -- Per family and day-run, the sums of member_deltas (one row per day-run).
        CREATE TABLE rollup_days (
            family VARCHAR NOT NULL, run_id BIGINT NOT NULL,
            d_repos BIGINT NOT NULL, d_all_time BIGINT NOT NULL, d_official BIGINT NOT NULL,
            d_d30 BIGINT NOT NULL, d_likes BIGINT NOT NULL, d_official_repos BIGINT NOT NULL,
            d_official_d30 BIGINT NOT NULL, d_official_likes BIGINT NOT NULL,
            new_downloads BIGINT NOT NULL, decreases BIGINT NOT NULL, departed BIGINT NOT NULL,
            PRIMARY KEY (family, run_id)
        );
        -- Per family, day-run and lineage group: the change of cumulative downloads.
        CREATE TABLE rollup_groups (
            family VARCHAR NOT NULL, run_id BIGINT NOT NULL, dimension VARCHAR NOT NULL,
            grp VARCHAR, delta BIGINT NOT NULL
        );
        -- Decreases, departures and members first seen though created earlier.
        CREATE TABLE rollup_anomalies (
            family VARCHAR NOT NULL, run_id BIGINT NOT NULL, repo_key BIGINT NOT NULL,
            kind VARCHAR NOT NULL, previous BIGINT, current BIGINT
        );
        -- Each repo ever visible in a family, as of the family's last day-run.
        CREATE TABLE rollup_state (
            family VARCHAR NOT NULL, repo_key BIGINT NOT NULL, is_member BOOLEAN NOT NULL,
            contrib BIGINT, last_role VARCHAR, last_relation VARCHAR, last_depth INTEGER,
            d30 BIGINT NOT NULL, likes BIGINT NOT NULL
        );
        -- The state before the last day-run of the repos it changed (present: was visible).
        CREATE TABLE rollup_undo (
            family VARCHAR NOT NULL, repo_key BIGINT NOT NULL, run_id BIGINT NOT NULL,
            present BOOLEAN NOT NULL, is_member BOOLEAN, contrib BIGINT, last_role VARCHAR,
            last_relation VARCHAR, last_depth INTEGER, d30 BIGINT, likes BIGINT
        );
        """
    )
    # `counts` without its primary-key index: the index took three times the bytes of the
    # counters themselves (bench/results.md), so each stored change cost ~38 bytes instead
    # of ~10. Nothing looks counters up by key (reads are ASOF joins and range scans), and
    # the snapshot writes one row per repo and run.
    db.execute(
        """
        CREATE TABLE counts_m007 (
            repo_key           BIGINT NOT NULL,
            run_id             BIGINT NOT NULL,
            downloads_30d      BIGINT,
            downloads_all_time BIGINT,
            likes              BIGINT
        );
        INSERT INTO counts_m007 SELECT * FROM counts ORDER BY run_id, repo_key;
        DROP TABLE counts;
        ALTER TABLE counts_m007 RENAME TO counts;
        """
    )
    rollup.rebuild(db)
    db.execute(ROLLUP_VIEWS_SQL)


@migration
def m010_imports(db: duckdb.DuckDBPyConnection) -> None:
    """Days imported from public datasets (collector/store/imports.py): where each came
    from, and views that show all-time counters only where the source had them."""
    from collector.store.views import import_views_sql

    db.execute(
        """
        -- One row per imported day-run (runs.strategy = 'import').
        CREATE TABLE imports (
            run_id        BIGINT PRIMARY KEY,
            family        VARCHAR NOT NULL,
            day           DATE NOT NULL,
            source        VARCHAR NOT NULL,   -- e.g. modelpulse
            dataset       VARCHAR NOT NULL,   -- e.g. modelpulse/model-pulse-data
            revision      VARCHAR NOT NULL,   -- the dataset's commit sha
            lineage_basis VARCHAR NOT NULL,   -- snapshot:<run_id> | dataset:<revision>
            flags         VARCHAR,            -- JSON list of the source's notes on the day
            fingerprint   VARCHAR NOT NULL,   -- of the day's imported rows (reimports)
            imported_at   TIMESTAMP NOT NULL,
            all_time      BOOLEAN             -- false: the source had no all-time counters
        );
        """
    )
    db.execute(import_views_sql(db))


def applied(db: duckdb.DuckDBPyConnection) -> list[str]:
    """Names of the migrations recorded in this warehouse, in order."""
    exists = db.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = '_migrations'"
    ).fetchall()
    if not exists[0][0]:
        return []
    return [r[0] for r in db.execute("SELECT name FROM _migrations ORDER BY name").fetchall()]


def pending(db: duckdb.DuckDBPyConnection) -> list[str]:
    """Names of our migrations not yet applied; raises if the warehouse is newer than us."""
    done = applied(db)
    known = [name for name, _ in MIGRATIONS]
    newer = [name for name in done if name not in known]
    if newer:
        raise WarehouseError(
            f"warehouse schema is newer than this collector (has {newer[-1]}); upgrade collector"
        )
    return [name for name in known if name not in done]


def migrate(db: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply every pending migration, each in one transaction with its record."""
    todo = pending(db)
    if not todo:
        return []
    db.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP)"
    )
    for name, fn in MIGRATIONS:
        if name not in todo:
            continue
        db.execute("BEGIN TRANSACTION")
        try:
            fn(db)
            db.execute(
                "INSERT INTO _migrations VALUES (?, ?)",
                [name, datetime.now(UTC).replace(tzinfo=None)],
            )
            db.execute("COMMIT")
        except Exception:
            db.execute("ROLLBACK")
            raise
    return todo
