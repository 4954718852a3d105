"""The naive baseline the benchmark compares against.

- snapshot: `HfApi.list_models()` of the whole Hub into a list, lineage followed in
  Python, then one `INSERT` per member row (every row, every day);
- reports: the warehouse's tables read into pandas, the daily series computed there.

Run a snapshot as `python -m bench.naive --endpoint URL --db PATH --date YYYY-MM-DD`.
"""

from __future__ import annotations

import argparse
import os
from collections import defaultdict, deque
from typing import Any

import duckdb
import pandas as pd

from collector.sources.hub import EXPAND


def snapshot(endpoint: str, db: str, date: str, authors: list[str]) -> int:
    """Snapshot the family of `authors` the naive way; returns the rows inserted."""
    from huggingface_hub import HfApi

    models = list(HfApi(endpoint=endpoint).list_models(sort="createdAt", expand=list(EXPAND)))
    children: dict[str, list[Any]] = defaultdict(list)
    for m in models:
        for tag in m.tags or []:
            if tag.startswith("base_model:") and tag.count(":") == 1:
                children[tag[len("base_model:") :]].append(m)
    lowered = {a.lower() for a in authors}
    queue = deque(m for m in models if (m.author or "").lower() in lowered)
    seen = {m.id for m in queue}
    members = []
    while queue:
        m = queue.popleft()
        members.append(m)
        for child in children.get(m.id, []):
            if child.id not in seen:
                seen.add(child.id)
                queue.append(child)
    con = duckdb.connect(db)
    con.execute(
        """CREATE TABLE IF NOT EXISTS snapshots (date DATE, repo_id VARCHAR,
           downloads_30d BIGINT, downloads_all_time BIGINT, likes BIGINT)"""
    )
    for m in members:
        con.execute(
            "INSERT INTO snapshots VALUES (?, ?, ?, ?, ?)",
            [date, m.id, m.downloads, m.downloads_all_time, m.likes],
        )
    con.close()
    return len(members)


def insert_rows(db: str, rows: list[tuple[Any, ...]]) -> None:
    """One INSERT per row into the naive every-row-every-day table."""
    con = duckdb.connect(db)
    con.execute(
        """CREATE TABLE IF NOT EXISTS snapshots (date DATE, repo_id VARCHAR,
           downloads_30d BIGINT, downloads_all_time BIGINT, likes BIGINT)"""
    )
    for row in rows:
        con.execute("INSERT INTO snapshots VALUES (?, ?, ?, ?, ?)", list(row))
    con.close()


def load(con: duckdb.DuckDBPyConnection, family: str) -> dict[str, pd.DataFrame]:
    """The tables a report needs, read into pandas."""
    return {
        "runs": con.execute(
            "SELECT run_id, started_at FROM runs WHERE family = ? AND status = 'complete'",
            [family],
        ).df(),
        "membership": con.execute(
            "SELECT repo_key, first_run, last_run, role FROM membership WHERE family = ?",
            [family],
        ).df(),
        "counts": con.execute(
            "SELECT repo_key, run_id, downloads_all_time, downloads_30d, likes FROM counts"
        ).df(),
        "repos": con.execute("SELECT repo_key, created_at FROM repos").df(),
    }


def daily_series(t: dict[str, pd.DataFrame], keep: bool = False) -> pd.DataFrame:
    """The report's daily series, computed in pandas from stored changes.

    The same rules as collector's views, for a history where each repo has one membership
    interval: per repo and day-run, the counters in force (last change at or before),
    members summed; a departed repo keeps its last downloads_all_time; new downloads sum
    per-repo increases (decreases count 0), and a repo first seen later counts in full only
    if created after the previous day-run started.
    """
    runs = t["runs"].copy()
    runs["date"] = runs["started_at"].dt.date
    day_runs = runs.sort_values("run_id").groupby("date").tail(1).reset_index(drop=True)
    day_ids = day_runs["run_id"].to_numpy()
    mem = t["membership"].drop_duplicates("repo_key", keep="last")
    counts = t["counts"][t["counts"]["repo_key"].isin(mem["repo_key"])].copy()
    # each stored change takes effect at the first day-run at or after it
    counts["day"] = day_ids.searchsorted(counts["run_id"].to_numpy())
    counts = counts[counts["day"] < len(day_ids)]
    counts = counts.sort_values(["repo_key", "run_id"]).groupby(["repo_key", "day"]).tail(1)
    m = mem.set_index("repo_key")
    first_day = pd.Series(day_ids.searchsorted(m["first_run"].to_numpy()), index=m.index)
    last_day = pd.Series(
        day_ids.searchsorted(m["last_run"].to_numpy(), side="right") - 1, index=m.index
    )
    counts["first"] = counts["repo_key"].map(first_day)
    counts["last"] = counts["repo_key"].map(last_day)
    counts = counts[counts["day"] <= counts["last"]]  # changes after departure do not count
    # the value in force when the repo becomes a member is its last change before then
    counts["day"] = counts[["day", "first"]].max(axis=1)
    counts = counts.groupby(["repo_key", "day"]).tail(1)
    g = counts.groupby("repo_key")
    for col in ("downloads_all_time", "downloads_30d", "likes"):
        counts["d_" + col] = counts[col] - g[col].shift(fill_value=0)
    counts["official"] = counts["repo_key"].map(m["role"]) == "official"
    prev = g["downloads_all_time"].shift()
    created = counts["repo_key"].map(t["repos"].set_index("repo_key")["created_at"])
    prev_start = day_runs["started_at"].shift().reindex(counts["day"]).to_numpy()
    joined = prev.isna()
    counts["new"] = (counts["downloads_all_time"] - prev).clip(lower=0)
    counts.loc[joined, "new"] = counts.loc[joined, "downloads_all_time"].where(
        created[joined].to_numpy() > prev_start[joined.to_numpy()], 0
    )
    out = _per_day(t, counts, day_runs, day_ids, m, first_day, last_day)
    return _keep(out, counts, day_runs) if keep else out


def repo_days(t: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per repo and day-run its change (with `new`, its new downloads), and the day-runs."""
    frame = daily_series(t, keep=True)
    return frame.attrs["counts"], frame.attrs["day_runs"]


def top_new(t: dict[str, pd.DataFrame], first: int, last: int, limit: int) -> pd.Series:
    """Each repo's new downloads summed over day-runs first..last (0-based), the top ones."""
    counts, _ = repo_days(t)
    window = counts[(counts["day"] >= first) & (counts["day"] <= last)]
    summed = window.groupby("repo_key")["new"].sum()
    return summed[summed > 0].sort_values(ascending=False, kind="stable").head(limit)


def _per_day(t, counts, day_runs, day_ids, m, first_day, last_day):  # type: ignore[no-untyped-def]
    per_day = counts.groupby("day").agg(
        d_all=("d_downloads_all_time", "sum"),
        d_30=("d_downloads_30d", "sum"),
        d_likes=("d_likes", "sum"),
        new=("new", "sum"),
    )
    official = counts[counts["official"]].groupby("day")["d_downloads_all_time"].sum()
    # a departed repo stops counting in repos, 30-day downloads and likes
    last = counts.groupby("repo_key").tail(1)
    gone = last[last["last"] < len(day_ids) - 1].copy()
    gone["day"] = gone["last"] + 1
    left = gone.groupby("day")[["downloads_30d", "likes"]].sum()
    joins = first_day.value_counts()
    leaves = (last_day[last_day < len(day_ids) - 1] + 1).value_counts()
    out = pd.DataFrame(index=range(len(day_ids)))
    out["date"] = day_runs["date"]
    out["repos"] = (
        joins.reindex(out.index, fill_value=0) - leaves.reindex(out.index, fill_value=0)
    ).cumsum()
    out["downloads_all_time"] = per_day["d_all"].reindex(out.index, fill_value=0).cumsum()
    out["official_downloads_all_time"] = official.reindex(out.index, fill_value=0).cumsum()
    out["derivative_downloads_all_time"] = (
        out["downloads_all_time"] - out["official_downloads_all_time"]
    )
    out["downloads_30d"] = (
        per_day["d_30"].reindex(out.index, fill_value=0)
        - left["downloads_30d"].reindex(out.index, fill_value=0)
    ).cumsum()
    out["likes"] = (
        per_day["d_likes"].reindex(out.index, fill_value=0)
        - left["likes"].reindex(out.index, fill_value=0)
    ).cumsum()
    out["new_downloads"] = per_day["new"].reindex(out.index, fill_value=0).astype("Int64")
    out.loc[0, "new_downloads"] = pd.NA
    return out


def _keep(out: pd.DataFrame, counts: pd.DataFrame, day_runs: pd.DataFrame) -> pd.DataFrame:
    out.attrs["counts"], out.attrs["day_runs"] = counts, day_runs
    return out


def verify(series: pd.DataFrame, threshold: int) -> tuple[bool, Any]:
    """Is the latest downloads_all_time >= threshold, and the first date it was."""
    reached = series[series["downloads_all_time"] >= threshold]
    first = reached["date"].iloc[0] if len(reached) else None
    return bool(series["downloads_all_time"].iloc[-1] >= threshold), first


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--date", required=True)
    ap.add_argument("--author", action="append", default=[])
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    rows = snapshot(args.endpoint, args.db, args.date, args.author or ["Qwen"])
    print(f"{rows} rows")


if __name__ == "__main__":
    main()
