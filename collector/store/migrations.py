"""The warehouse schema: ordered, named migrations, each recorded in `_migrations`.

Every migration runs in one transaction together with its record, so a warehouse is
always at a known version. Never edit a released migration: add the next one. Each holds
the SQL it ran (the long texts of m002-m007 in frozen.py); the views in force are
(re)created from views.py after the migrations, whenever their recorded version differs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import duckdb

from collector.errors import WarehouseError
from collector.store import frozen, views

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
    db.execute(frozen.M002_VIEWS)


@migration
def m003_partial_runs(db: duckdb.DuckDBPyConnection) -> None:
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
    db.execute(frozen.M003_VIEWS)


@migration
def m007_daily_rollup(db: duckdb.DuckDBPyConnection) -> None:
    """Per-family daily sums maintained by each snapshot (collector/store/rollup.py), so that
    reports cost the same whatever the length of the history; filled once from the event
    views of the time."""
    db.execute(frozen.M007_TABLES)
    db.execute(frozen.M007_FILL)
    db.execute(frozen.M007_VIEWS)


@migration
def m008_sources(db: duckdb.DuckDBPyConnection) -> None:
    """Where a run's counters come from (its source) and on which platform they count.

    Every run so far is an own snapshot of the Hugging Face Hub. A repo, its membership
    and lineage intervals and the rollup belong to one platform: the same id on ModelScope
    is another repo, and a family's daily series is kept per platform.
    """
    db.execute(
        """
        -- Each source a run can come from. `own`: collector's own snapshot, which beats an
        -- import of the same day on the same platform (see views.DAY_CHOICE).
        CREATE TABLE sources (
            source   VARCHAR PRIMARY KEY,
            platform VARCHAR NOT NULL,
            own      BOOLEAN NOT NULL,
            about    VARCHAR NOT NULL
        );
        INSERT INTO sources VALUES
            ('hub', 'huggingface', true, 'own snapshot of the Hugging Face Hub API'),
            ('modelpulse', 'huggingface', false,
             'daily Hugging Face history imported from a public dataset'),
            ('modelscope', 'modelscope', true, 'own snapshot of the ModelScope API');

        ALTER TABLE runs ADD COLUMN source VARCHAR NOT NULL DEFAULT 'hub';
        ALTER TABLE runs ADD COLUMN revision VARCHAR;       -- dataset revision imported from
        ALTER TABLE runs ADD COLUMN lineage_basis VARCHAR;  -- how an import decided membership
        ALTER TABLE repos ADD COLUMN platform VARCHAR NOT NULL DEFAULT 'huggingface';
        ALTER TABLE membership ADD COLUMN platform VARCHAR NOT NULL DEFAULT 'huggingface';
        ALTER TABLE edges ADD COLUMN platform VARCHAR NOT NULL DEFAULT 'huggingface';
        ALTER TABLE rollup_days ADD COLUMN platform VARCHAR NOT NULL DEFAULT 'huggingface';
        ALTER TABLE rollup_groups ADD COLUMN platform VARCHAR NOT NULL DEFAULT 'huggingface';
        ALTER TABLE rollup_anomalies ADD COLUMN platform VARCHAR NOT NULL DEFAULT 'huggingface';
        ALTER TABLE rollup_state ADD COLUMN platform VARCHAR NOT NULL DEFAULT 'huggingface';
        ALTER TABLE rollup_undo ADD COLUMN platform VARCHAR NOT NULL DEFAULT 'huggingface';
        """
    )


@migration
def m009_repo_new_downloads(db: duckdb.DuckDBPyConnection) -> None:
    """Per-repo new downloads of each day-run (collector/store/repo_totals.py), so that
    `top --by new_downloads` reads a range's rows instead of every change ever stored.

    Filled from the event views the warehouse holds: those of m007 (every run then was a
    Hugging Face snapshot) or, installed after m008, the ones that carry `platform`.
    """
    db.execute(
        """
        -- Per family, platform, day-run and repo with new downloads: how many, and the
        -- repo's role, relation and depth at that day-run.
        CREATE TABLE rollup_repo_new (
            family VARCHAR NOT NULL, platform VARCHAR NOT NULL, run_id BIGINT NOT NULL,
            repo_key BIGINT NOT NULL, new_downloads BIGINT NOT NULL,
            role VARCHAR, relation VARCHAR, depth INTEGER
        );
        -- The day-runs rolled up into rollup_repo_new, with rows or without.
        CREATE TABLE rollup_repo_runs (
            family VARCHAR NOT NULL, platform VARCHAR NOT NULL, run_id BIGINT NOT NULL
        );
        """
    )
    with_platform = db.execute(
        """SELECT count(*) FROM information_schema.columns
           WHERE table_name = 'member_deltas' AND column_name = 'platform'"""
    ).fetchall()[0][0]
    platform = "platform" if with_platform else "'huggingface'"
    db.execute(
        f"""
        INSERT INTO rollup_repo_new
        SELECT family, {platform}, run_id, repo_key, new_downloads, last_role, last_relation,
               last_depth
        FROM member_deltas WHERE new_downloads > 0 ORDER BY ALL;
        INSERT INTO rollup_repo_runs SELECT family, {platform}, run_id FROM day_runs;
        """
    )


@migration
def m010_imports(db: duckdb.DuckDBPyConnection) -> None:
    """Days imported from public datasets (collector/store/imports.py): what the run row
    does not say (its source, revision and lineage basis are in `runs` since m008)."""
    db.execute(
        """
        -- One row per imported day-run (runs.strategy = 'import').
        CREATE TABLE imports (
            run_id      BIGINT PRIMARY KEY,
            family      VARCHAR NOT NULL,
            day         DATE NOT NULL,
            dataset     VARCHAR NOT NULL,   -- e.g. modelpulse/model-pulse-data
            flags       VARCHAR,            -- JSON list of the dataset's notes on the day
            fingerprint VARCHAR NOT NULL,   -- of the day's imported rows (reimports)
            imported_at TIMESTAMP NOT NULL,
            all_time    BOOLEAN             -- false: the dataset had no all-time counters
        );
        """
    )


@migration
def m011_lookups(db: duckdb.DuckDBPyConnection) -> None:
    """What a snapshot's lookups found that its listings could not say: why a departed
    member left (403 disabled, 401/404 gone) and the base_model parents no repo is."""
    db.execute(
        """
        -- One row per member that departed at a run and answered its lookup so.
        CREATE TABLE departures (
            run_id   BIGINT NOT NULL,
            repo_key BIGINT NOT NULL,
            reason   VARCHAR NOT NULL      -- 'disabled' (403) or 'gone' (401, 404)
        );
        -- One row per dangling base_model parent of a crawl that the Hub could not resolve
        -- (no repo has that id, no 307 names a new one), with the repos that tag it.
        CREATE TABLE unresolved_parents (
            run_id    BIGINT NOT NULL,
            parent_id VARCHAR NOT NULL,    -- as a tag names it
            children  BIGINT NOT NULL
        );
        """
    )


@migration
def m012_hubstats(db: duckdb.DuckDBPyConnection) -> None:
    """A second source of imported history: the daily revisions of cfahlgren1/hub-stats."""
    db.execute(
        """
        INSERT INTO sources VALUES
            ('hubstats', 'huggingface', false,
             'daily Hugging Face history imported from the revisions of a public dataset')
        ON CONFLICT DO NOTHING;
        """
    )


@migration
def m013_repo_new_totals(db: duckdb.DuckDBPyConnection) -> None:
    """Each repo's new downloads summed over every day-run of rollup_repo_new, so that
    `top --by new_downloads` over the whole history (or most of it) reads one row per
    repo instead of every row of every day-run (collector/store/repo_totals.py)."""
    db.execute(
        """
        -- Per family, platform and repo: rollup_repo_new summed over all its day-runs,
        -- the repo's role, relation and depth at its last day-run with new downloads
        -- (as arg_max by run_id gives them, NULLs skipped), and that day-run.
        CREATE TABLE rollup_repo_total (
            family VARCHAR NOT NULL, platform VARCHAR NOT NULL, repo_key BIGINT NOT NULL,
            new_downloads BIGINT NOT NULL, role VARCHAR, relation VARCHAR, depth INTEGER,
            last_run BIGINT NOT NULL
        );
        INSERT INTO rollup_repo_total
        SELECT family, platform, repo_key, CAST(sum(new_downloads) AS BIGINT),
               arg_max(role, run_id),
               arg_max(CASE WHEN role = 'official' THEN NULL ELSE relation END, run_id),
               arg_max(depth, run_id), max(run_id)
        FROM rollup_repo_new GROUP BY family, platform, repo_key ORDER BY ALL;
        """
    )


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
    """Apply every pending migration, each in one transaction with its record, then
    install the current views if the warehouse holds other ones."""
    todo = pending(db)
    if not todo:
        if views.installed(db) != views.VERSION:
            _install_views(db)
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
    _install_views(db)
    return todo


def _install_views(db: duckdb.DuckDBPyConnection) -> None:
    db.execute("BEGIN TRANSACTION")
    try:
        views.install(db)
        db.execute("COMMIT")
    except Exception:
        db.execute("ROLLBACK")
        raise
