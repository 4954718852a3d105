"""The SQL that released migrations ran, kept verbatim so that no later change to the
current views (views.py) or the rollup (rollup.py) can change what an old upgrade does.

Never edit this file: a new schema is a new migration.
"""

# m002: the first views, over member events.
M002_VIEWS = r"""
CREATE OR REPLACE VIEW day_runs AS
SELECT family, date, run_id, started_at,
       lag(run_id)     OVER w AS prev_run_id,
       lag(started_at) OVER w AS prev_started_at,
       row_number()    OVER w AS day_index
FROM (
    SELECT family, run_id, started_at, CAST(started_at AS DATE) AS date,
           row_number() OVER (PARTITION BY family, CAST(started_at AS DATE)
                              ORDER BY run_id DESC) AS rn
    FROM runs WHERE status = 'complete'
)
WHERE rn = 1
WINDOW w AS (PARTITION BY family ORDER BY run_id);

-- Candidate change points of each (family, repo): where an interval becomes visible,
-- the first day-run after an interval ends (a departure), and the day-run that first
-- sees each stored counter change.
CREATE OR REPLACE VIEW member_points AS
SELECT m.family, m.repo_key, d.run_id AS point
FROM membership m ASOF JOIN day_runs d ON d.family = m.family AND d.run_id >= m.first_run
UNION
SELECT m.family, m.repo_key, d.run_id
FROM membership m ASOF JOIN day_runs d ON d.family = m.family AND d.run_id > m.last_run
UNION
SELECT f.family, c.repo_key, d.run_id
FROM counts c
JOIN (SELECT DISTINCT family, repo_key FROM membership) f ON f.repo_key = c.repo_key
ASOF JOIN day_runs d ON d.family = f.family AND d.run_id >= c.run_id;

CREATE OR REPLACE VIEW member_events AS
WITH state AS (
    SELECT p.family, p.repo_key, p.point AS run_id,
           coalesce(m.last_run >= p.point, false) AS is_member,
           m.role, m.relation, m.depth
    FROM member_points p
    ASOF LEFT JOIN membership m
      ON m.family = p.family AND m.repo_key = p.repo_key AND m.first_run <= p.point
),
valued AS (
    SELECT s.*, coalesce(c.downloads_all_time, 0) AS all_time,
           coalesce(c.downloads_30d, 0) AS d30, coalesce(c.likes, 0) AS likes
    FROM state s
    ASOF LEFT JOIN counts c ON c.repo_key = s.repo_key AND c.run_id <= s.run_id
),
filled AS (
    SELECT v.*,
           -- what the repo contributes to the cumulative total: its value while a member,
           -- its last member value after it departs (downloads that happened stay)
           last_value(CASE WHEN is_member THEN all_time END IGNORE NULLS) OVER w AS contrib,
           last_value(CASE WHEN is_member THEN role END IGNORE NULLS) OVER w AS last_role,
           last_value(CASE WHEN is_member THEN coalesce(relation, 'official') END IGNORE NULLS)
               OVER w AS last_relation,
           last_value(CASE WHEN is_member THEN depth END IGNORE NULLS) OVER w AS last_depth
    FROM valued v
    WINDOW w AS (PARTITION BY family, repo_key ORDER BY run_id
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
SELECT f.family, f.repo_key, f.run_id, d.date, f.is_member, f.role, f.relation, f.depth,
       f.all_time, f.d30, f.likes, f.contrib, f.last_role, f.last_relation, f.last_depth,
       lag(f.contrib)       OVER w AS prev_contrib,
       lag(f.last_role)     OVER w AS prev_role,
       lag(f.last_relation) OVER w AS prev_relation,
       lag(f.last_depth)    OVER w AS prev_depth,
       coalesce(lag(f.is_member) OVER w, false) AS was_member,
       coalesce(lag(CASE WHEN f.is_member THEN f.d30 ELSE 0 END) OVER w, 0) AS prev_d30,
       coalesce(lag(CASE WHEN f.is_member THEN f.likes ELSE 0 END) OVER w, 0) AS prev_likes,
       r.created_at, d.prev_started_at
FROM filled f
JOIN day_runs d ON d.family = f.family AND d.run_id = f.run_id
JOIN repos r ON r.repo_key = f.repo_key
WHERE f.contrib IS NOT NULL  -- drop points before the repo's first visible membership
WINDOW w AS (PARTITION BY f.family, f.repo_key ORDER BY f.run_id);

-- Per event, the deltas that the daily series sums.
CREATE OR REPLACE VIEW member_deltas AS
SELECT family, repo_key, run_id, date, is_member, was_member, contrib, prev_contrib,
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
FROM member_events;

CREATE OR REPLACE VIEW family_daily AS
WITH per_day AS (
    SELECT family, run_id,
           sum(d_repos) AS d_repos, sum(d_all_time) AS d_all_time,
           sum(d_official) AS d_official, sum(d_d30) AS d_d30, sum(d_likes) AS d_likes,
           sum(d_official_repos) AS d_official_repos, sum(d_official_d30) AS d_official_d30,
           sum(d_official_likes) AS d_official_likes,
           sum(new_downloads) AS new_downloads,
           count(*) FILTER (WHERE decreased) AS decreases,
           count(*) FILTER (WHERE departed) AS departed
    FROM member_deltas GROUP BY family, run_id
)
SELECT d.family, d.date, d.run_id, d.started_at,
       CAST(sum(coalesce(p.d_repos, 0)) OVER w AS BIGINT) AS repos,
       CAST(sum(coalesce(p.d_all_time, 0)) OVER w AS BIGINT) AS downloads_all_time,
       CAST(sum(coalesce(p.d_official, 0)) OVER w AS BIGINT) AS official_downloads_all_time,
       CAST(sum(coalesce(p.d_all_time, 0) - coalesce(p.d_official, 0)) OVER w AS BIGINT)
           AS derivative_downloads_all_time,
       CAST(sum(coalesce(p.d_d30, 0)) OVER w AS BIGINT) AS downloads_30d,
       CAST(sum(coalesce(p.d_likes, 0)) OVER w AS BIGINT) AS likes,
       CAST(sum(coalesce(p.d_official_repos, 0)) OVER w AS BIGINT) AS official_repos,
       CAST(sum(coalesce(p.d_official_d30, 0)) OVER w AS BIGINT) AS official_downloads_30d,
       CAST(sum(coalesce(p.d_official_likes, 0)) OVER w AS BIGINT) AS official_likes,
       CASE WHEN d.day_index = 1 THEN NULL
            ELSE CAST(coalesce(p.new_downloads, 0) AS BIGINT) END AS new_downloads,
       coalesce(p.decreases, 0) AS decreases,
       coalesce(p.departed, 0) AS departed
FROM day_runs d LEFT JOIN per_day p ON p.family = d.family AND p.run_id = d.run_id
WINDOW w AS (PARTITION BY d.family ORDER BY d.run_id);

-- Cumulative downloads per lineage group: relation (official, finetune, quantized,
-- adapter, merge, unspecified) or depth; a repo moving group moves its contribution.
CREATE OR REPLACE VIEW family_groups_daily AS
WITH moves AS (
    SELECT family, run_id, 'relation' AS dimension, last_relation AS grp, contrib AS delta
    FROM member_deltas
    UNION ALL
    SELECT family, run_id, 'relation', prev_relation, -prev_contrib
    FROM member_deltas WHERE prev_contrib IS NOT NULL
    UNION ALL
    SELECT family, run_id, 'depth', CAST(last_depth AS VARCHAR), contrib FROM member_deltas
    UNION ALL
    SELECT family, run_id, 'depth', CAST(prev_depth AS VARCHAR), -prev_contrib
    FROM member_deltas WHERE prev_contrib IS NOT NULL
),
per_day AS (
    SELECT family, run_id, dimension, grp, sum(delta) AS delta
    FROM moves GROUP BY ALL
),
grid AS (
    SELECT d.family, d.date, d.run_id, g.dimension, g.grp
    FROM day_runs d JOIN (SELECT DISTINCT family, dimension, grp FROM per_day) g
      ON g.family = d.family
)
SELECT g.family, g.date, g.run_id, g.dimension, g.grp AS "group",
       CAST(sum(coalesce(p.delta, 0)) OVER (PARTITION BY g.family, g.dimension, g.grp
                                            ORDER BY g.run_id) AS BIGINT) AS downloads_all_time
FROM grid g LEFT JOIN per_day p
  ON p.family = g.family AND p.run_id = g.run_id AND p.dimension = g.dimension AND p.grp = g.grp;

CREATE OR REPLACE VIEW report_anomalies AS
SELECT e.family, e.date, r.repo_id,
       CASE WHEN e.decreased THEN 'decrease'
            WHEN e.departed THEN 'departed'
            ELSE 'joined_existing' END AS kind,
       CASE WHEN e.departed THEN NULL ELSE e.prev_contrib END AS previous,
       e.contrib AS current
FROM member_deltas e JOIN repos r USING (repo_key)
WHERE e.decreased OR e.departed OR e.joined_existing;

-- Members of each family at each of its day-runs, with the counters of that run.
-- Filter on family and run_id (or date): it is meant for point lookups.
CREATE OR REPLACE VIEW members_daily AS
SELECT d.family, d.date, d.run_id, r.repo_key, r.repo_id, m.role,
       coalesce(m.relation, CASE WHEN m.role = 'official' THEN NULL ELSE 'unspecified' END)
           AS relation,
       m.depth, pr.repo_id AS parent_id,
       c.downloads_all_time, c.downloads_30d, c.likes,
       r.author, r.created_at, r.pipeline_tag, r.library_name
FROM day_runs d
JOIN membership m ON m.family = d.family AND d.run_id BETWEEN m.first_run AND m.last_run
JOIN repos r ON r.repo_key = m.repo_key
LEFT JOIN repos pr ON pr.repo_key = m.parent_key
ASOF LEFT JOIN counts c ON c.repo_key = m.repo_key AND c.run_id <= d.run_id;
"""

# m003: partial runs count. A day's run is its last complete run, else its last partial
# run; a partial run keeps the members it could not refresh (table `stale`) at their last
# value, so its totals lose no member, and family_daily says which days are partial.
M003_VIEWS = r"""
CREATE OR REPLACE VIEW day_runs AS
SELECT family, date, run_id, started_at,
       lag(run_id)     OVER w AS prev_run_id,
       lag(started_at) OVER w AS prev_started_at,
       row_number()    OVER w AS day_index,
       partial
FROM (
    SELECT family, run_id, started_at, CAST(started_at AS DATE) AS date,
           status = 'partial' AS partial,
           row_number() OVER (PARTITION BY family, CAST(started_at AS DATE)
                              ORDER BY status = 'complete' DESC, run_id DESC) AS rn
    FROM runs WHERE status IN ('complete', 'partial')
)
WHERE rn = 1
WINDOW w AS (PARTITION BY family ORDER BY run_id);

CREATE OR REPLACE VIEW family_daily AS
WITH per_day AS (
    SELECT family, run_id,
           sum(d_repos) AS d_repos, sum(d_all_time) AS d_all_time,
           sum(d_official) AS d_official, sum(d_d30) AS d_d30, sum(d_likes) AS d_likes,
           sum(d_official_repos) AS d_official_repos, sum(d_official_d30) AS d_official_d30,
           sum(d_official_likes) AS d_official_likes,
           sum(new_downloads) AS new_downloads,
           count(*) FILTER (WHERE decreased) AS decreases,
           count(*) FILTER (WHERE departed) AS departed
    FROM member_deltas GROUP BY family, run_id
)
SELECT d.family, d.date, d.run_id, d.started_at,
       CAST(sum(coalesce(p.d_repos, 0)) OVER w AS BIGINT) AS repos,
       CAST(sum(coalesce(p.d_all_time, 0)) OVER w AS BIGINT) AS downloads_all_time,
       CAST(sum(coalesce(p.d_official, 0)) OVER w AS BIGINT) AS official_downloads_all_time,
       CAST(sum(coalesce(p.d_all_time, 0) - coalesce(p.d_official, 0)) OVER w AS BIGINT)
           AS derivative_downloads_all_time,
       CAST(sum(coalesce(p.d_d30, 0)) OVER w AS BIGINT) AS downloads_30d,
       CAST(sum(coalesce(p.d_likes, 0)) OVER w AS BIGINT) AS likes,
       CAST(sum(coalesce(p.d_official_repos, 0)) OVER w AS BIGINT) AS official_repos,
       CAST(sum(coalesce(p.d_official_d30, 0)) OVER w AS BIGINT) AS official_downloads_30d,
       CAST(sum(coalesce(p.d_official_likes, 0)) OVER w AS BIGINT) AS official_likes,
       CASE WHEN d.day_index = 1 THEN NULL
            ELSE CAST(coalesce(p.new_downloads, 0) AS BIGINT) END AS new_downloads,
       coalesce(p.decreases, 0) AS decreases,
       coalesce(p.departed, 0) AS departed,
       d.partial,
       (SELECT count(*) FROM stale s WHERE s.run_id = d.run_id) AS stale_repos
FROM day_runs d LEFT JOIN per_day p ON p.family = d.family AND p.run_id = d.run_id
WINDOW w AS (PARTITION BY d.family ORDER BY d.run_id);
"""

# m007: the rollup tables, filled once from the event views of m002/m003, and the views
# that read them.
M007_TABLES = r"""
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

        -- `counts` without its primary-key index: the index took three times the bytes of
        -- the counters themselves, and nothing looks counters up by key.
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

M007_FILL = r"""
CREATE OR REPLACE TEMP TABLE ru_events AS SELECT * FROM member_events;
CREATE OR REPLACE TEMP TABLE ru_deltas AS SELECT family, repo_key, run_id, date, is_member, was_member, contrib, prev_contrib,
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
FROM ru_events;
INSERT INTO rollup_days
WITH p AS (
    SELECT family, run_id,
           sum(d_repos) AS d_repos, sum(d_all_time) AS d_all_time,
           sum(d_official) AS d_official, sum(d_d30) AS d_d30, sum(d_likes) AS d_likes,
           sum(d_official_repos) AS d_official_repos, sum(d_official_d30) AS d_official_d30,
           sum(d_official_likes) AS d_official_likes, sum(new_downloads) AS new_downloads,
           count(*) FILTER (WHERE decreased) AS decreases,
           count(*) FILTER (WHERE departed) AS departed
    FROM ru_deltas GROUP BY family, run_id
)
SELECT d.family, d.run_id, coalesce(p.d_repos, 0), coalesce(p.d_all_time, 0),
       coalesce(p.d_official, 0), coalesce(p.d_d30, 0), coalesce(p.d_likes, 0),
       coalesce(p.d_official_repos, 0), coalesce(p.d_official_d30, 0),
       coalesce(p.d_official_likes, 0), coalesce(p.new_downloads, 0),
       coalesce(p.decreases, 0), coalesce(p.departed, 0)
FROM day_runs d LEFT JOIN p ON p.family = d.family AND p.run_id = d.run_id;
INSERT INTO rollup_groups
SELECT family, run_id, dimension, grp, sum(delta) FROM (
    SELECT family, run_id, 'relation' AS dimension, last_relation AS grp,
           contrib AS delta FROM ru_deltas
    UNION ALL
    SELECT family, run_id, 'relation', prev_relation, -prev_contrib
    FROM ru_deltas WHERE prev_contrib IS NOT NULL
    UNION ALL
    SELECT family, run_id, 'depth', CAST(last_depth AS VARCHAR), contrib FROM ru_deltas
    UNION ALL
    SELECT family, run_id, 'depth', CAST(prev_depth AS VARCHAR), -prev_contrib
    FROM ru_deltas WHERE prev_contrib IS NOT NULL
) GROUP BY ALL;
INSERT INTO rollup_anomalies
SELECT family, run_id, repo_key,
       CASE WHEN decreased THEN 'decrease' WHEN departed THEN 'departed'
            ELSE 'joined_existing' END,
       CASE WHEN departed THEN NULL ELSE prev_contrib END, contrib
FROM ru_deltas WHERE decreased OR departed OR joined_existing;
INSERT INTO rollup_state
SELECT family, repo_key, is_member, contrib, last_role, last_relation, last_depth,
       CASE WHEN is_member THEN d30 ELSE 0 END, CASE WHEN is_member THEN likes ELSE 0 END
FROM ru_events
QUALIFY row_number() OVER (PARTITION BY family, repo_key ORDER BY run_id DESC) = 1;
INSERT INTO rollup_undo
SELECT e.family, e.repo_key, e.run_id, e.prev_contrib IS NOT NULL,
       e.was_member, e.prev_contrib, e.prev_role, e.prev_relation, e.prev_depth,
       e.prev_d30, e.prev_likes
FROM ru_events e
JOIN (SELECT family, max(run_id) AS run_id FROM day_runs GROUP BY family) l
  ON l.family = e.family AND l.run_id = e.run_id;
DROP TABLE ru_deltas;
DROP TABLE ru_events;
"""

M007_VIEWS = r"""
CREATE OR REPLACE VIEW family_daily AS
SELECT d.family, d.date, d.run_id, d.started_at,
       CAST(sum(coalesce(p.d_repos, 0)) OVER w AS BIGINT) AS repos,
       CAST(sum(coalesce(p.d_all_time, 0)) OVER w AS BIGINT) AS downloads_all_time,
       CAST(sum(coalesce(p.d_official, 0)) OVER w AS BIGINT) AS official_downloads_all_time,
       CAST(sum(coalesce(p.d_all_time, 0) - coalesce(p.d_official, 0)) OVER w AS BIGINT)
           AS derivative_downloads_all_time,
       CAST(sum(coalesce(p.d_d30, 0)) OVER w AS BIGINT) AS downloads_30d,
       CAST(sum(coalesce(p.d_likes, 0)) OVER w AS BIGINT) AS likes,
       CAST(sum(coalesce(p.d_official_repos, 0)) OVER w AS BIGINT) AS official_repos,
       CAST(sum(coalesce(p.d_official_d30, 0)) OVER w AS BIGINT) AS official_downloads_30d,
       CAST(sum(coalesce(p.d_official_likes, 0)) OVER w AS BIGINT) AS official_likes,
       CASE WHEN d.day_index = 1 THEN NULL
            ELSE CAST(coalesce(p.new_downloads, 0) AS BIGINT) END AS new_downloads,
       coalesce(p.decreases, 0) AS decreases,
       coalesce(p.departed, 0) AS departed,
       d.partial,
       (SELECT count(*) FROM stale s WHERE s.run_id = d.run_id) AS stale_repos
FROM day_runs d LEFT JOIN rollup_days p ON p.family = d.family AND p.run_id = d.run_id
WINDOW w AS (PARTITION BY d.family ORDER BY d.run_id);

CREATE OR REPLACE VIEW family_groups_daily AS
WITH per_day AS (
    SELECT family, run_id, dimension, grp, sum(delta) AS delta
    FROM rollup_groups GROUP BY ALL
),
grid AS (
    SELECT d.family, d.date, d.run_id, g.dimension, g.grp
    FROM day_runs d JOIN (SELECT DISTINCT family, dimension, grp FROM per_day) g
      ON g.family = d.family
)
SELECT g.family, g.date, g.run_id, g.dimension, g.grp AS "group",
       CAST(sum(coalesce(p.delta, 0)) OVER (PARTITION BY g.family, g.dimension, g.grp
                                            ORDER BY g.run_id) AS BIGINT) AS downloads_all_time
FROM grid g LEFT JOIN per_day p
  ON p.family = g.family AND p.run_id = g.run_id AND p.dimension = g.dimension AND p.grp = g.grp;

CREATE OR REPLACE VIEW report_anomalies AS
SELECT a.family, d.date, r.repo_id, a.kind, a.previous, a.current
FROM rollup_anomalies a
JOIN day_runs d ON d.family = a.family AND d.run_id = a.run_id
JOIN repos r ON r.repo_key = a.repo_key;
"""
