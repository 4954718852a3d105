"""The documented SQL views, and each rule of the numbers written once.

All reads of counters go through this module, because counters are stored only when
they change (`counts` holds one row per repo per change, the value at a run is the
latest row at or before it). Views, for analysts (see README "Querying with SQL"):

- `day_runs`        the run that counts for each family, platform and UTC day (`DAY_CHOICE`)
- `member_events`   per family and repo, each day-run at which its state changed
- `member_deltas`   per event, what it adds to the daily sums (`DELTAS`)
- `family_daily`    the daily series `collector report` prints; `partial` and `stale_repos`
                    (members a partial run could not refresh, kept at their last value)
- `family_groups_daily`  cumulative downloads per relation / depth group (`report --by`)
- `report_anomalies` counter decreases, departed members (`disabled` when the repo answered
                    403 that day) and late joiners, by date, and
                    the days an imported dataset flags (kinds `partial_day`, `skipped_day`,
                    `low_day`, `short_day`, `frozen_day`; no repo)
- `members_daily`   members at each day-run with their counters (point lookups, `members`)

Every view carries `platform` (`huggingface`, `modelscope`) and `source` (the `sources`
row of the day-run: `hub`, `modelpulse`, `modelscope`); a report of the Hugging Face
platform filters `platform = 'huggingface'`.

`family_daily`, `family_groups_daily` and `report_anomalies` read the daily rollup that
each snapshot maintains (collector/store/rollup.py): the rollup applies `DELTAS`,
`DAY_SUMS`, `GROUP_MOVES` and `ANOMALIES` below to each new day-run, and its rebuild
applies the same text to `member_events`, so each rule exists once. Migrations create
tables only (each keeps the SQL it ran); `install` (re)creates these views after them.
"""

from __future__ import annotations

import hashlib

import duckdb

# The day choice: per family, platform and UTC day, an own snapshot beats an import of
# the same day (an import is someone else's reading of the counters), then a complete
# run beats a partial one, then the later run wins. Runs of a family and platform are
# committed in time order (the snapshot clock check), so run_id orders them in time.
DAY_CHOICE = """
SELECT family, date, run_id, started_at,
       lag(run_id)     OVER w AS prev_run_id,
       lag(started_at) OVER w AS prev_started_at,
       row_number()    OVER w AS day_index,
       platform, source, partial
FROM (
    SELECT r.family, s.platform, r.source, r.run_id, r.started_at,
           CAST(r.started_at AS DATE) AS date, r.status = 'partial' AS partial,
           row_number() OVER (PARTITION BY r.family, s.platform, CAST(r.started_at AS DATE)
                              ORDER BY s.own DESC, r.status = 'complete' DESC,
                                       r.run_id DESC) AS rn
    FROM runs r JOIN sources s ON s.source = r.source
    WHERE r.status IN ('complete', 'partial')
)
WHERE rn = 1
WINDOW w AS (PARTITION BY family, platform ORDER BY run_id)
"""

# The deltas of one event of a repo in a family: its state at a day-run (is_member, role,
# contrib = what it adds to the cumulative total: its value while a member, its last
# member value after it departs, last_role/relation/depth, d30, likes) against its
# state at the family's previous day-run (was_member, prev_*). `{events}` is any
# relation with those columns plus created_at and prev_started_at (the previous day-run's
# time): member_events, or the rollup's one new day-run.
DELTAS = """
SELECT family, platform, repo_key, run_id, is_member, was_member, contrib, prev_contrib,
       contrib - coalesce(prev_contrib, 0) AS d_all_time,
       (CASE WHEN last_role = 'official' THEN contrib ELSE 0 END)
         - (CASE WHEN prev_role = 'official' THEN coalesce(prev_contrib, 0) ELSE 0 END)
         AS d_official,
       (CASE WHEN is_member THEN 1 ELSE 0 END) - (CASE WHEN was_member THEN 1 ELSE 0 END)
         AS d_repos,
       (CASE WHEN is_member THEN d30 ELSE 0 END) - prev_d30 AS d_d30,
       (CASE WHEN is_member THEN likes ELSE 0 END) - prev_likes AS d_likes,
       (CASE WHEN is_member AND role = 'official' THEN 1 ELSE 0 END)
         - (CASE WHEN was_member AND prev_role = 'official' THEN 1 ELSE 0 END)
         AS d_official_repos,
       (CASE WHEN is_member AND role = 'official' THEN d30 ELSE 0 END)
         - (CASE WHEN prev_role = 'official' THEN prev_d30 ELSE 0 END) AS d_official_d30,
       (CASE WHEN is_member AND role = 'official' THEN likes ELSE 0 END)
         - (CASE WHEN prev_role = 'official' THEN prev_likes ELSE 0 END) AS d_official_likes,
       CASE
         WHEN NOT is_member THEN 0
         WHEN prev_contrib IS NULL THEN
           CASE WHEN prev_started_at IS NOT NULL AND created_at > prev_started_at
                THEN contrib ELSE 0 END
         ELSE greatest(contrib - prev_contrib, 0)
       END AS new_downloads,
       is_member AND prev_contrib IS NULL AND prev_started_at IS NOT NULL
         AND NOT coalesce(created_at > prev_started_at, false) AS joined_existing,
       is_member AND prev_contrib IS NOT NULL AND contrib < prev_contrib AS decreased,
       was_member AND NOT is_member AS departed,
       last_role, last_relation, last_depth, prev_role, prev_relation, prev_depth
FROM {events}
"""

# Per family and day-run, the sums of its deltas (`{deltas}`: rows of DELTAS).
DAY_SUMS = """
SELECT family, platform, run_id,
       sum(d_repos) AS d_repos, sum(d_all_time) AS d_all_time, sum(d_official) AS d_official,
       sum(d_d30) AS d_d30, sum(d_likes) AS d_likes, sum(d_official_repos) AS d_official_repos,
       sum(d_official_d30) AS d_official_d30, sum(d_official_likes) AS d_official_likes,
       sum(new_downloads) AS new_downloads,
       count(*) FILTER (WHERE decreased) AS decreases,
       count(*) FILTER (WHERE departed) AS departed
FROM {deltas} GROUP BY family, platform, run_id
"""
DAY_SUM_COLUMNS = (
    "d_repos d_all_time d_official d_d30 d_likes d_official_repos d_official_d30 "
    "d_official_likes new_downloads decreases departed"
).split()

# Lineage groups (relation: official, finetune, quantized, adapter, merge, unspecified;
# or depth): a repo moving group moves its contribution. The deltas are summed per pair of
# groups first (one pass over them, a handful of rows per day-run), then each sum is
# added to its group now and taken from its group before.
GROUP_MOVES = """
WITH pairs AS (
    SELECT family, platform, run_id, last_relation, prev_relation, last_depth, prev_depth,
           sum(contrib) AS contrib, sum(prev_contrib) AS prev_contrib,
           count(prev_contrib) AS with_prev
    FROM {deltas} GROUP BY ALL
)
SELECT family, platform, run_id, dimension, grp, sum(delta) AS delta FROM (
    SELECT family, platform, run_id, 'relation' AS dimension, last_relation AS grp,
           contrib AS delta FROM pairs
    UNION ALL
    SELECT family, platform, run_id, 'relation', prev_relation, -prev_contrib
    FROM pairs WHERE with_prev > 0
    UNION ALL
    SELECT family, platform, run_id, 'depth', CAST(last_depth AS VARCHAR), contrib
    FROM pairs
    UNION ALL
    SELECT family, platform, run_id, 'depth', CAST(prev_depth AS VARCHAR), -prev_contrib
    FROM pairs WHERE with_prev > 0
) GROUP BY ALL
"""

# What a report flags: a counter that went down, a member that left, a member first seen
# though created before the previous day-run.
ANOMALIES = """
SELECT family, platform, run_id, repo_key,
       CASE WHEN decreased THEN 'decrease' WHEN departed THEN 'departed'
            ELSE 'joined_existing' END AS kind,
       CASE WHEN departed THEN NULL ELSE prev_contrib END AS previous,
       contrib AS current
FROM {deltas} WHERE decreased OR departed OR joined_existing
"""

# Imported days whose source had no all-time counters (`imports.all_time` false: Model
# Pulse before 2025-02-27) show them empty, never 0; the first day that has them shows no
# new_downloads (the counter appearing is not downloads).
NO_ALL_TIME = "CASE WHEN i.all_time = false THEN NULL ELSE"

# Candidate change points of each (family, repo) and its events there (the views
# member_points and member_events), over tables given by name: the views read the
# warehouse's; `events_of` reads a subset of repos without computing every repo's events.
POINTS = """SELECT m.family, m.platform, m.repo_key, d.run_id AS point
FROM {membership} m ASOF JOIN {day_runs} d
  ON d.family = m.family AND d.platform = m.platform AND d.run_id >= m.first_run
UNION
SELECT m.family, m.platform, m.repo_key, d.run_id
FROM {membership} m ASOF JOIN {day_runs} d
  ON d.family = m.family AND d.platform = m.platform AND d.run_id > m.last_run
UNION
SELECT f.family, f.platform, c.repo_key, d.run_id
FROM {counts} c
JOIN (SELECT DISTINCT family, platform, repo_key FROM {membership}) f ON f.repo_key = c.repo_key
ASOF JOIN {day_runs} d ON d.family = f.family AND d.platform = f.platform AND d.run_id >= c.run_id"""
EVENTS = """WITH state AS (
    SELECT p.family, p.platform, p.repo_key, p.point AS run_id,
           coalesce(m.last_run >= p.point, false) AS is_member,
           m.role, m.relation, m.depth
    FROM {points} p
    ASOF LEFT JOIN {membership} m
      ON m.family = p.family AND m.repo_key = p.repo_key AND m.first_run <= p.point
),
valued AS (
    SELECT s.*, coalesce(c.downloads_all_time, 0) AS all_time,
           coalesce(c.downloads_30d, 0) AS d30, coalesce(c.likes, 0) AS likes
    FROM state s
    ASOF LEFT JOIN {counts} c ON c.repo_key = s.repo_key AND c.run_id <= s.run_id
),
filled AS (
    SELECT v.*,
           last_value(CASE WHEN is_member THEN all_time END IGNORE NULLS) OVER w AS contrib,
           last_value(CASE WHEN is_member THEN role END IGNORE NULLS) OVER w AS last_role,
           last_value(CASE WHEN is_member THEN coalesce(relation, 'official') END IGNORE NULLS)
               OVER w AS last_relation,
           last_value(CASE WHEN is_member THEN depth END IGNORE NULLS) OVER w AS last_depth
    FROM valued v
    WINDOW w AS (PARTITION BY family, repo_key ORDER BY run_id
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
SELECT f.family, f.platform, f.repo_key, f.run_id, d.date, f.is_member, f.role, f.relation,
       f.depth, f.all_time, f.d30, f.likes, f.contrib, f.last_role, f.last_relation,
       f.last_depth,
       lag(f.contrib)       OVER w AS prev_contrib,
       lag(f.last_role)     OVER w AS prev_role,
       lag(f.last_relation) OVER w AS prev_relation,
       lag(f.last_depth)    OVER w AS prev_depth,
       coalesce(lag(f.is_member) OVER w, false) AS was_member,
       coalesce(lag(CASE WHEN f.is_member THEN f.d30 ELSE 0 END) OVER w, 0) AS prev_d30,
       coalesce(lag(CASE WHEN f.is_member THEN f.likes ELSE 0 END) OVER w, 0) AS prev_likes,
       r.created_at, d.prev_started_at
FROM filled f
JOIN {day_runs} d ON d.family = f.family AND d.run_id = f.run_id
JOIN repos r ON r.repo_key = f.repo_key
WHERE f.contrib IS NOT NULL  -- drop points before the repo's first visible membership
WINDOW w AS (PARTITION BY f.family, f.repo_key ORDER BY f.run_id)"""
_TABLES = {"membership": "membership", "counts": "counts", "day_runs": "day_runs"}


def events_of(family: str, platform: str, repos: str) -> str:
    """SQL of member_events' rows of one family and platform for the repos `repos` (a
    query of repo_key), from those repos' rows only; values quoted in."""
    fam = f"family = {_quote(family)} AND platform = {_quote(platform)}"
    tables = {
        "membership": f"(SELECT * FROM membership WHERE {fam} AND repo_key IN ({repos}))",
        "counts": f"(SELECT * FROM counts WHERE repo_key IN ({repos}))",
        "day_runs": f"(SELECT * FROM day_runs WHERE {fam})",
    }
    return EVENTS.format(points=f"({POINTS.format(**tables)})", **tables)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


VIEWS_SQL = f"""
CREATE OR REPLACE VIEW day_runs AS {DAY_CHOICE};

-- Candidate change points of each (family, repo): where an interval becomes visible,
-- the first day-run after an interval ends (a departure), and the day-run that first
-- sees each stored counter change.
CREATE OR REPLACE VIEW member_points AS
{POINTS.format(**_TABLES)};

CREATE OR REPLACE VIEW member_events AS
{EVENTS.format(points="member_points", **_TABLES)};

CREATE OR REPLACE VIEW member_deltas AS
SELECT d.*, e.date
FROM ({DELTAS.format(events="member_events")}) d
JOIN day_runs e ON e.family = d.family AND e.run_id = d.run_id;

CREATE OR REPLACE VIEW family_daily AS
SELECT d.family, d.date, d.run_id, d.started_at,
       CAST(sum(coalesce(p.d_repos, 0)) OVER w AS BIGINT) AS repos,
       {NO_ALL_TIME} CAST(sum(coalesce(p.d_all_time, 0)) OVER w AS BIGINT) END
           AS downloads_all_time,
       {NO_ALL_TIME} CAST(sum(coalesce(p.d_official, 0)) OVER w AS BIGINT) END
           AS official_downloads_all_time,
       {NO_ALL_TIME}
            CAST(sum(coalesce(p.d_all_time, 0) - coalesce(p.d_official, 0)) OVER w AS BIGINT)
       END AS derivative_downloads_all_time,
       CAST(sum(coalesce(p.d_d30, 0)) OVER w AS BIGINT) AS downloads_30d,
       CAST(sum(coalesce(p.d_likes, 0)) OVER w AS BIGINT) AS likes,
       CAST(sum(coalesce(p.d_official_repos, 0)) OVER w AS BIGINT) AS official_repos,
       CAST(sum(coalesce(p.d_official_d30, 0)) OVER w AS BIGINT) AS official_downloads_30d,
       CAST(sum(coalesce(p.d_official_likes, 0)) OVER w AS BIGINT) AS official_likes,
       CASE WHEN d.day_index = 1 OR i.all_time = false
                 OR lag(coalesce(i.all_time, true)) OVER w = false THEN NULL
            ELSE CAST(coalesce(p.new_downloads, 0) AS BIGINT) END AS new_downloads,
       coalesce(p.decreases, 0) AS decreases,
       coalesce(p.departed, 0) AS departed,
       d.platform, d.source, d.partial,
       (SELECT count(*) FROM stale s WHERE s.run_id = d.run_id) AS stale_repos
FROM day_runs d LEFT JOIN rollup_days p ON p.family = d.family AND p.run_id = d.run_id
LEFT JOIN imports i ON i.run_id = d.run_id
WINDOW w AS (PARTITION BY d.family, d.platform ORDER BY d.run_id);

CREATE OR REPLACE VIEW family_groups_daily AS
WITH per_day AS (
    SELECT family, platform, run_id, dimension, grp, sum(delta) AS delta
    FROM rollup_groups GROUP BY ALL
),
grid AS (
    SELECT d.family, d.platform, d.source, d.date, d.run_id, g.dimension, g.grp
    FROM day_runs d
    JOIN (SELECT DISTINCT family, platform, dimension, grp FROM per_day) g
      ON g.family = d.family AND g.platform = d.platform
)
SELECT g.family, g.date, g.run_id, g.dimension, g.grp AS "group",
       CAST(sum(coalesce(p.delta, 0)) OVER (PARTITION BY g.family, g.platform, g.dimension,
                                                         g.grp
                                            ORDER BY g.run_id) AS BIGINT) AS downloads_all_time,
       g.platform, g.source
FROM grid g LEFT JOIN per_day p
  ON p.family = g.family AND p.run_id = g.run_id AND p.dimension = g.dimension AND p.grp = g.grp;

CREATE OR REPLACE VIEW report_anomalies AS
-- a departure whose lookup answered 403 on that day is its own kind: 'disabled'
WITH disabled AS (
    SELECT DISTINCT x.family, CAST(x.started_at AS DATE) AS date, g.repo_key
    FROM departures g JOIN runs x ON x.run_id = g.run_id
    WHERE g.reason = 'disabled'
)
SELECT a.family, d.date, r.repo_id,
       CASE WHEN a.kind = 'departed' AND x.repo_key IS NOT NULL THEN 'disabled'
            ELSE a.kind END AS kind,
       a.previous, a.current, d.platform, d.source
FROM rollup_anomalies a
JOIN day_runs d ON d.family = a.family AND d.run_id = a.run_id
JOIN repos r ON r.repo_key = a.repo_key
LEFT JOIN disabled x ON x.family = a.family AND x.date = d.date AND x.repo_key = a.repo_key
UNION ALL
-- the days an imported dataset flags (partial_day, skipped_day, low_day, ...), no repo
SELECT i.family, d.date, NULL, f.kind, NULL, NULL, d.platform, d.source
FROM imports i
JOIN day_runs d ON d.run_id = i.run_id
CROSS JOIN LATERAL (SELECT unnest(from_json(i.flags, '["VARCHAR"]')) AS kind) f
WHERE i.flags IS NOT NULL;

-- Members of each family at each of its day-runs, with the counters of that run.
-- Filter on family and run_id (or date): it is meant for point lookups.
CREATE OR REPLACE VIEW members_daily AS
SELECT d.family, d.date, d.run_id, r.repo_key, r.repo_id, m.role,
       coalesce(m.relation, CASE WHEN m.role = 'official' THEN NULL ELSE 'unspecified' END)
           AS relation,
       m.depth, pr.repo_id AS parent_id,
       c.downloads_all_time, c.downloads_30d, c.likes,
       r.author, r.created_at, r.pipeline_tag, r.library_name, d.platform, d.source
FROM day_runs d
JOIN membership m ON m.family = d.family AND m.platform = d.platform
                 AND d.run_id BETWEEN m.first_run AND m.last_run
JOIN repos r ON r.repo_key = m.repo_key
LEFT JOIN repos pr ON pr.repo_key = m.parent_key
ASOF LEFT JOIN counts c ON c.repo_key = m.repo_key AND c.run_id <= d.run_id;
"""

VERSION = hashlib.sha256(VIEWS_SQL.encode()).hexdigest()[:16]


def installed(con: duckdb.DuckDBPyConnection) -> str | None:
    """The version of the views this warehouse holds (None before any were installed)."""
    row = con.execute("SELECT value FROM meta WHERE key = 'views'").fetchall()
    return row[0][0] if row else None


def install(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create the views and record their version, in the caller's transaction."""
    con.execute(VIEWS_SQL)
    con.execute("DELETE FROM meta WHERE key = 'views'")
    con.execute("INSERT INTO meta VALUES ('views', ?)", [VERSION])
