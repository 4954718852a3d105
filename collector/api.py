"""The Python API: the figures the CLI prints, as pandas DataFrames or plain data.

Every function opens the warehouse read-only (`db`, else $COLLECTOR_DB, else
./warehouse.duckdb) and takes the CLI's options under the same names: dates as
`date` objects or the CLI's forms (`2026-01-13`, `2026-01`, `last-month`, `30d`). The
`*_data` functions return exactly what `--format json` prints, with `simulated` saying
whether the warehouse holds the shipped example's simulated data; the CLI is built on
them, and the DataFrame functions are their tables.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from collector.dates import parse_range, parse_range_bound, today

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_FAMILY = "qwen"
DateLike = date | str | None
PathLike = str | os.PathLike[str] | None


@dataclass
class Reading:
    """One answer read from the warehouse: the JSON data, and what charts need besides."""

    data: Any
    simulated: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _range(since: DateLike, until: DateLike) -> tuple[date | None, date | None]:
    if isinstance(since, str) or isinstance(until, str):
        start, stop = parse_range(
            since if isinstance(since, str) else None,
            until if isinstance(until, str) else None,
            today=today(),
        )
        return (since if isinstance(since, date) else start), (
            until if isinstance(until, date) else stop
        )
    return since, until


def _day(value: DateLike) -> date | None:
    if isinstance(value, str):
        return parse_range_bound(value, end=True, today=today())
    return value


def report_data(
    family: str = DEFAULT_FAMILY,
    *,
    since: DateLike = None,
    until: DateLike = None,
    every: str | None = None,
    by: str | None = None,
    source: str = "hub",
    db: PathLike = None,
) -> Reading:
    """`collector report`: the daily (or per-period) series, or its breakdown `by` group.

    `source="modelscope"` reads the family's ModelScope org(s) instead of the Hub.
    """
    from collector.errors import UsageError
    from collector.reports import series as reports
    from collector.reports.modelscope_data import WINDOW_NOTE
    from collector.reports.vocab import Breakdown, Period, Source
    from collector.store import warehouse

    start, stop = _range(since, until)
    period = Period(every).value if every else None
    dimension = Breakdown(by).value if by else None
    on_modelscope = Source(source) is Source.modelscope
    platform = "modelscope" if on_modelscope else "huggingface"
    if dimension is not None and on_modelscope:
        raise UsageError("--by splits Hub lineage; ModelScope has none (drop --by)")
    with warehouse.reader(db) as con:
        simulated = warehouse.is_simulated(con)
        if dimension is not None:
            rows = reports.group_series(con, family, dimension, start, stop, period)
            groups = [c for c in (rows[0] if rows else {}) if c not in ("period", "date")]
            data = {
                "family": family,
                "by": dimension,
                **({"every": period} if period else {}),
                "series": rows,
            }
            return Reading(data, simulated, {"groups": groups})
        series = reports.daily_series(con, family, start, stop, platform)
        rows = (
            reports.period_series(con, family, period, start, stop, platform)
            if period
            else series.rows
        )
    data = {
        "family": family,
        **({"every": period} if period else {}),
        "series": rows,
        "anomalies": series.anomalies,
        "partial_days": series.partial_days,
        **({"platform": "modelscope", "note": WINDOW_NOTE} if on_modelscope else {}),
    }
    return Reading(data, simulated, {"days": series.rows})


def members_data(
    family: str = DEFAULT_FAMILY, *, as_of: DateLike = None, db: PathLike = None
) -> Reading:
    """`collector members`: every member at the day-run in force at `as_of`."""
    from collector.reports import series as reports
    from collector.store import warehouse

    with warehouse.reader(db) as con:
        simulated = warehouse.is_simulated(con)
        snapshot_date, rows = reports.members(con, family, _day(as_of))
    return Reading({"family": family, "as_of": snapshot_date, "members": rows}, simulated)


def dangling_data(
    family: str = DEFAULT_FAMILY, *, as_of: DateLike = None, db: PathLike = None
) -> Reading:
    """`collector members --dangling`: base_model parents the day-run's crawl could not
    resolve, with how many repos tag each (those repos are not members)."""
    from collector.reports import series as reports
    from collector.store import warehouse

    with warehouse.reader(db) as con:
        simulated = warehouse.is_simulated(con)
        snapshot_date, rows = reports.dangling(con, family, _day(as_of))
    data = {
        "family": family,
        "as_of": snapshot_date,
        "dangling": rows,
        "parents": len(rows),
        "children": sum(r["children"] for r in rows),
    }
    return Reading(data, simulated)


def top_data(
    family: str = DEFAULT_FAMILY,
    *,
    by: str = "downloads_all_time",
    since: DateLike = None,
    until: DateLike = None,
    limit: int = 10,
    db: PathLike = None,
) -> Reading:
    """`collector top`: a family's repos ranked by one metric, with their shares."""
    from collector.reports import series as reports
    from collector.store import warehouse

    start, stop = _range(since, until)
    with warehouse.reader(db) as con:
        simulated = warehouse.is_simulated(con)
        result = reports.top(con, family, by, start, stop, limit)
    return Reading(result, simulated)


def compare_data(
    families: list[str],
    *,
    metric: str = "downloads_all_time",
    since: DateLike = None,
    until: DateLike = None,
    align: str = "common",
    db: PathLike = None,
) -> Reading:
    """`collector compare`: families side by side, their crossings and who leads."""
    from collector.reports import compare as compare_mod
    from collector.store import warehouse

    start, stop = _range(since, until)
    with warehouse.reader(db) as con:
        simulated = warehouse.is_simulated(con)
        result = compare_mod.compare(con, list(families), metric, start, stop, align)
    return Reading(result, simulated)


def verify_data(
    claim: str,
    *,
    family: str = DEFAULT_FAMILY,
    as_of: DateLike = None,
    scope: str | None = None,
    chart: bool = False,
    db: PathLike = None,
) -> Reading:
    """`collector verify`: a claim's verdict in every scope (or only `scope`), its date,
    evidence and projection.

    A date inside the claim ("by December 2025") is where it is checked; `as_of` dates an
    undated one. `partial` says whether the snapshot it was measured on could not refresh
    every repo. With `chart`, `extra` holds the points (or the comparison) a chart draws.
    """
    from collector.reports import claims
    from collector.reports import series as reports
    from collector.store import warehouse

    day = _day(as_of)
    parsed = claims.parse_claim(claim, day or today())
    family = parsed.subject or family
    extra: dict[str, Any] = {"claim": parsed}
    with warehouse.reader(db) as con:
        simulated = warehouse.is_simulated(con)
        result = claims.verify(con, parsed, family, day, scope)
        result["partial"] = _partial(con, family, result.get("snapshot_date"))
        at = date.fromisoformat(result["as_of"]) if result.get("as_of") else None
        if chart and parsed.versus:
            extra["comparison"] = claims.versus_comparison(con, parsed, family, at, result["scope"])
        elif chart:
            extra["points"] = claims.claim_series(con, parsed, family, day, result["scope"])
            extra["anomalies"] = reports.daily_series(con, family, None, at).anomalies
    return Reading(result, simulated, extra)


def verify_sheet_data(
    path: str | os.PathLike[str],
    *,
    family: str = DEFAULT_FAMILY,
    scope: str | None = None,
    db: PathLike = None,
) -> Reading:
    """`collector verify --claims FILE`: every claim of a TOML claim sheet, each in every
    scope (or only `scope`), at its own date. `extra` holds the sheet's title and notes."""
    from pathlib import Path

    from collector.reports import claim_sheet
    from collector.store import warehouse

    title, sheet = claim_sheet.load(Path(path), family, today())
    with warehouse.reader(db) as con:
        simulated = warehouse.is_simulated(con)
        entries = claim_sheet.check(con, sheet, scope)
    notes = sorted({n for e in entries for n in e["result"].get("notes", [])})
    return Reading(entries, simulated, {"title": title, "notes": notes})


def why_data(family: str, repo_id: str, *, db: PathLike = None) -> Reading:
    """`collector why`: the lineage chain from an official repo to `repo_id`."""
    from collector.reports import series as reports
    from collector.store import warehouse

    with warehouse.reader(db) as con:
        simulated = warehouse.is_simulated(con)
        answer = reports.why(con, family, repo_id)
    return Reading(answer, simulated)


def _partial(con: Any, family: str, snapshot_date: str | None) -> bool | None:
    if snapshot_date is None:
        return None
    row = con.execute(
        "SELECT partial FROM family_daily WHERE family = ? AND date = ?", [family, snapshot_date]
    ).fetchall()
    return bool(row[0][0]) if row else None


def _frame(rows: list[dict[str, Any]], columns: list[str] | None = None) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame.from_records(rows, columns=columns).convert_dtypes()
    for name in ("date", "as_of"):
        if name in frame.columns:
            frame[name] = pd.to_datetime(frame[name])
    return frame


def daily(
    family: str = DEFAULT_FAMILY,
    *,
    since: DateLike = None,
    until: DateLike = None,
    every: str | None = None,
    by: str | None = None,
    source: str = "hub",
    db: PathLike = None,
) -> pd.DataFrame:
    """A family's series, one row per day with a snapshot (or per `every` period).

    The numbers of `collector report`; with `by` ("relation" or "depth") one column of
    cumulative downloads per group; `source="modelscope"` for its ModelScope org(s).
    `attrs` holds the anomalies and partial days.
    """
    from collector.reports.series import PERIOD_COLUMNS, SERIES_COLUMNS

    reading = report_data(
        family, since=since, until=until, every=every, by=by, source=source, db=db
    )
    columns = None if by else [*(PERIOD_COLUMNS if every else SERIES_COLUMNS), "source"]
    frame = _frame(reading.data["series"], columns)
    frame.attrs.update({k: v for k, v in reading.data.items() if k != "series"})
    return frame


def members(
    family: str = DEFAULT_FAMILY, *, as_of: DateLike = None, db: PathLike = None
) -> pd.DataFrame:
    """Every member of a family (role, relation, depth, parent, counters), as `members`."""
    from collector.reports.series import MEMBER_COLUMNS

    reading = members_data(family, as_of=as_of, db=db)
    frame = _frame(reading.data["members"], MEMBER_COLUMNS)
    frame.attrs.update(family=family, as_of=reading.data["as_of"])
    return frame


def top(
    family: str = DEFAULT_FAMILY,
    *,
    by: str = "downloads_all_time",
    since: DateLike = None,
    until: DateLike = None,
    limit: int = 10,
    db: PathLike = None,
) -> pd.DataFrame:
    """A family's top repos by `by`, with `share` of the family figure, as `collector top`."""
    reading = top_data(family, by=by, since=since, until=until, limit=limit, db=db)
    frame = _frame(reading.data["rows"])
    frame.attrs.update({k: v for k, v in reading.data.items() if k != "rows"})
    return frame


def compare(
    families: list[str],
    *,
    metric: str = "downloads_all_time",
    since: DateLike = None,
    until: DateLike = None,
    align: str = "common",
    db: PathLike = None,
) -> pd.DataFrame:
    """Families side by side (date + one column each); `attrs` holds crossings and pairs."""
    reading = compare_data(families, metric=metric, since=since, until=until, align=align, db=db)
    frame = _frame(reading.data["series"], ["date", *families])
    frame.attrs.update({k: v for k, v in reading.data.items() if k != "series"})
    return frame


def verify(
    claim: str,
    *,
    family: str = DEFAULT_FAMILY,
    as_of: DateLike = None,
    scope: str | None = None,
    db: PathLike = None,
) -> dict[str, Any]:
    """A claim checked against the warehouse, as `collector verify --format json` prints it."""
    result: dict[str, Any] = verify_data(claim, family=family, as_of=as_of, scope=scope, db=db).data
    return result
