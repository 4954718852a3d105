"""Each command's document: the title, columns, notes and table rules around its data.

The CLI hands a library result to one of these and renders what comes back, so that a
command's wording lives here and never in the CLI. Tables name a metric once, in the
title, and use the short headers of render.HEADERS.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any

from collector.output.render import Document

if TYPE_CHECKING:
    from collector.snapshot.run import RunResult
    from collector.sources.items import RepoRecord

# The series' figures that a narrow table gives up, first to go first.
_SERIES_DROP = [
    "day_runs",
    "official_downloads_all_time",
    "derivative_downloads_all_time",
    "likes",
    "repos",
    "downloads_30d",
]


def snapshot_line(r: RunResult) -> str:
    """One line per snapshot taken: outcome, members, requests, data problems, duration."""
    from collector.sources.items import Problems

    kept = f", {r.stale:,} kept at their last value" if r.stale else ""
    limited = f", {r.rate_limited} rate-limited" if r.rate_limited else ""
    extra = ""
    if r.rejected:
        kinds = Problems(counts=Counter(r.problems)).summary()
        extra = f", {r.rejected} data problems ({kinds})"
    resumed = " (resumed)" if r.resumed else ""
    return (
        f"{r.family}{_on(r)}: run {r.run_id} {r.status}{resumed} at {r.started_at:%Y-%m-%d %H:%M:%S} UTC: "
        f"{r.members:,} members ({r.official:,} official, {r.derivatives:,} derivatives{kept}), "
        f"{r.requests:,} requests ({r.retries} retries{limited}){extra}, {r.seconds:.1f}s"
    )


def _on(r: RunResult) -> str:
    source = getattr(r, "source", "hub")
    return "" if source == "hub" else f" on {source}"


def report(data: dict[str, Any], groups: list[str] | None = None) -> Document:
    """`report`: the daily or per-period series, or its breakdown by group."""
    from collector.reports.series import PERIOD_COLUMNS, SERIES_COLUMNS, with_totals

    family, period = data["family"], data.get("every")
    if groups is not None:
        lead = ["period", "date"] if period else ["date"]
        title = f"{family}: downloads all-time by {data['by']}"
        title += f", every {period}" if period else ""
        # `total` (and the shares of it) are for reading: JSON keeps the groups only
        totalled = with_totals(data["series"], groups)
        return Document(
            lead + groups + ["total"],
            totalled,
            data,
            title=title,
            shares_of="total",
            drop=list(reversed(groups)),
        )
    plain = PERIOD_COLUMNS if period else SERIES_COLUMNS
    on = " on ModelScope" if data.get("platform") == "modelscope" else ""
    title = f"{family}{on}: downloads, " + (f"every {period}" if period else "daily")
    notes = partial_notes(data["partial_days"]) + anomaly_notes(data["anomalies"])
    if data.get("note"):
        notes.append(f"Note: {data['note']}")
    from collector.reports.series import mixed_sources

    shown = [c for c in plain if c != "partial"]  # partial days are named in the notes
    if mixed_sources(data["series"]):
        shown.append("source")  # own snapshots next to imported days: say which
    return Document(
        shown,
        data["series"],
        data,
        title=title,
        notes=notes,
        total=True,
        total_columns=["new_downloads"],
        drop=_SERIES_DROP,
        plain_columns=list(plain),
    )


def partial_notes(partial_days: list[dict[str, Any]]) -> list[str]:
    """One line per partial day: how many repos kept their last value, and why."""
    return [
        f"Partial: {p['date']}: {p['stale_repos']:,} of {p['repos']:,} repos not refreshed, "
        f"counted at their last value ({p['error']})"
        for p in partial_days
    ]


def anomaly_notes(anomalies: list[dict[str, Any]]) -> list[str]:
    """The anomalies met, counted by kind."""
    if not anomalies:
        return []
    kinds: dict[str, int] = {}
    for a in anomalies:
        kinds[a["kind"]] = kinds.get(a["kind"], 0) + 1
    return [
        "Anomalies: "
        + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        + " (see --format json)"
    ]


def members(data: dict[str, Any]) -> Document:
    """`members`: every member with role, relation, depth, parent and counters."""
    from collector.reports.series import MEMBER_COLUMNS

    rows = data["members"]
    title = f"{data['family']}: {len(rows):,} members at {data['as_of']}, downloads"
    drop = ["parent_id", "depth", "likes", "relation", "downloads_30d"]
    return Document(list(MEMBER_COLUMNS), rows, data, title=title, drop=drop)


def dangling(data: dict[str, Any]) -> Document:
    """`members --dangling`: unresolved base_model parents and the repos tagging them."""
    title = (
        f"{data['family']}: {data['parents']:,} unresolved base_model parents at "
        f"{data['as_of']}, tagged by {data['children']:,} repos (not members)"
    )
    return Document(["parent_id", "children"], data["dangling"], data, title=title)


def unlinked(
    family: str, search: str | None, records: list[RepoRecord], as_of: str | None
) -> Document:
    """`members --unlinked`: repos named like the family with no lineage to it."""
    rows: list[dict[str, Any]] = [
        {
            "repo_id": r.repo_id,
            "downloads_all_time": r.downloads_all_time,
            "downloads_30d": r.downloads_30d,
            "likes": r.likes,
            "created_at": r.created_at.date().isoformat() if r.created_at else None,
        }
        for r in records
    ]
    total = sum(r["downloads_all_time"] or 0 for r in rows)
    data = {
        "family": family,
        "search": search,
        "members_as_of": as_of,
        "unlinked": rows,
        "repos": len(rows),
        "downloads_all_time": total,
    }
    title = (
        f"{family}: {len(rows):,} repos named like {search!r} with no lineage to the "
        f"family (not counted): {total:,} downloads all-time"
    )
    columns = ["repo_id", "downloads_all_time", "downloads_30d", "likes", "created_at"]
    return Document(columns, rows, data, title=title, drop=["created_at", "likes"])


def top(result: dict[str, Any]) -> Document:
    """`top`: repos ranked by one metric, each with its share of the family figure."""
    from collector.reports.series import TOP_COLUMNS

    family, metric = result["family"], result["by"]
    columns = list(TOP_COLUMNS)
    total = result["family_total"]
    notes = [f"Family {metric}: {total:,} (% is each repo's share of it)"] if total else []
    if metric == "new_downloads":
        columns.insert(5, "new_downloads")
        span = (
            f"day-runs {result['since']} to {result['until']}"
            if result["since"]
            else f"no day-run in the range (until {result['until']})"
        )
        if result["since"]:
            notes.append(
                f"new: downloads counted between the {result['counted_from']} "
                f"and {result['until']} snapshots"
            )
    else:
        span = f"at {result['until']}"
    title = f"{family}: top {len(result['rows'])} of {result['repos']:,} repos by {metric}, {span}"
    drop = ["depth", "relation", "likes", "downloads_30d", "role", "downloads_all_time"]
    return Document(
        columns,
        result["rows"],
        result,
        title=title,
        notes=notes,
        total=True,
        total_columns=["downloads_all_time", "downloads_30d", "likes", "new_downloads"],
        percent_of=metric,
        percent_base=total,
        drop=[c for c in drop if c != metric],
    )


def compare(result: dict[str, Any]) -> Document:
    """`compare`: one column per family, and the crossings in words."""
    from collector.reports.compare import sentences

    families = result["families"]
    title = f"{' vs '.join(families)}: {result['metric']} ({result['align']} dates)"
    notes = sentences(result)
    if result["align"] == "carry-forward":
        notes.append(
            "carry-forward: a family with no day-run on a date shows its last earlier value"
        )
    return Document(["date", *families], result["series"], result, title=title, notes=notes)


def why(answer: dict[str, Any]) -> Document:
    """`why`: the lineage chain from an official repo to the repo."""
    columns = ["depth", "repo_id", "role", "relation", "downloads_all_time"]
    title = f"{answer['repo_id']} is a member of {answer['family']} at {answer['as_of']}"
    return Document(columns, answer["chain"], answer, title=title, drop=["relation", "role"])


def export(written: list[dict[str, Any]], out: str) -> Document:
    """`export`: what was written where."""
    columns = ["table", "format", "partitions", "rows", "path"]
    return Document(columns, written, written, title=f"Exported to {out}")


def runs(rows: list[dict[str, Any]]) -> Document:
    """`runs`: collection runs, newest first."""
    from collector.scheduling.status import RUN_COLUMNS

    drop = ["error", "retries", "rejected", "requests", "repos_seen", "strategy", "finished_at"]
    return Document(RUN_COLUMNS, rows, {"runs": rows}, title="runs, newest first", drop=drop)


def status(state: dict[str, Any], now: datetime) -> Document:
    """`status`: per schedule, its newest success, next run and whether it is late."""
    from collector.scheduling.status import STATUS_COLUMNS

    notes = [f"Daemon on {d['db']}: {_daemon_state(d)}" for d in state["daemons"]]
    notes += [f"Warning: {w}" for w in state["warnings"]]
    title = f"schedules at {now:%Y-%m-%dT%H:%M:%S} UTC"
    return Document(STATUS_COLUMNS, state["schedules"], state, title=title, notes=notes)


def _daemon_state(d: dict[str, Any]) -> str:
    if not d["running"]:
        return "not running"
    if d["pid"] is None:
        return "its lock is held by another process (a snapshot started by cron or systemd?)"
    return f"running, pid {d['pid']} on {d['host']} since {d['since']}"


def doctor(checks: list[Any]) -> tuple[Document, list[str]]:
    """`doctor`: one row per Hub assumption checked, and the names of the broken ones."""
    rows = [
        {"check": c.name, "result": "ok" if c.ok else "FAIL" if c.fatal else "warn", "seen": c.seen}
        for c in checks
    ]
    broken = [c.name for c in checks if not c.ok and c.fatal]
    note = f"Broken: {', '.join(broken)}; a snapshot would be wrong" if broken else "Ready"
    return Document(["check", "result", "seen"], rows, {"checks": rows}, notes=[note]), broken
