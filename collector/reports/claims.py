"""Verifying claims ("700M+ downloads by December 2025") in every scope collector measures.

A threshold claim is checked in each scope side by side: `official` (the org's own repos),
`family` (official repos plus every derivative) and `global` (the Hub family plus the
family's ModelScope org, when the warehouse holds ModelScope snapshots). Each scope gets
the measured value at the day checked, a verdict and the first day-run at or above the
threshold. A dated claim is checked at its date (ClaimDate.at), and the answer says how
many days before or after that date the threshold was first reached. Verdicts:
`supported`, `not_supported`, `insufficient_data` (no snapshot to decide on) and
`not_measured` (the scope has no such counter).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb

from collector.errors import UsageError
from collector.reports import claim_growth, compare, modelscope_data, projection
from collector.reports.claim_text import MEASURABLE, Claim, ClaimDate, parse_claim
from collector.reports.series import check_family

__all__ = ["MEASURABLE", "SCOPES", "Claim", "parse_claim", "verify", "scopes_for"]

SCOPES = ("official", "family", "global")
# metric -> (family-scope column, official-scope column) in family_daily
_COLUMNS = {
    "downloads_all_time": ("downloads_all_time", "official_downloads_all_time"),
    "downloads_30d": ("downloads_30d", "official_downloads_30d"),
    "likes": ("likes", "official_likes"),
    "derivatives": ("repos - official_repos", None),
    "models": ("official_repos", "official_repos"),
}
# Metrics that count repos of one role have that role as their only Hub scope.
_FIXED_SCOPE = {"derivatives": "derivative", "models": "official"}


def scopes_for(claim: Claim, scope: str | None) -> list[str]:
    """The scopes a claim is checked in: all of them, or the one asked for."""
    if claim.metric in _FIXED_SCOPE:
        return [_FIXED_SCOPE[claim.metric]] + ([] if scope not in (None, "global") else ["global"])
    if claim.versus is not None:
        return [scope] if scope and scope != "global" else ["official", "family"]
    return [scope] if scope else list(SCOPES)


Series = list[tuple[date, int | None]]


def hub_rows(
    con: duckdb.DuckDBPyConnection, family: str, metric: str
) -> list[tuple[date, int | None, int | None]]:
    """(date, family value, official value) of every Hub day-run, in one query."""
    fam_col, off_col = _COLUMNS[metric]
    rows = con.execute(
        f"SELECT date, {fam_col}, {off_col or 'NULL'} FROM family_daily "
        "WHERE family = ? AND platform = 'huggingface' ORDER BY date",
        [family],
    ).fetchall()
    return [(d, _int(f), _int(o)) for d, f, o in rows]


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def scope_series(
    con: duckdb.DuckDBPyConnection,
    family: str,
    metric: str,
    scopes: list[str],
    rows: list[tuple[date, int | None, int | None]],
) -> dict[str, tuple[Series, str | None]]:
    """Per scope, its (date, value) series from the Hub rows (plus ModelScope for global),
    or ([], why it is not measured)."""
    out: dict[str, tuple[Series, str | None]] = {}
    for scope in scopes:
        if scope == "global":
            family_series = [(d, f) for d, f, _ in rows]
            out[scope] = modelscope_data.global_points(con, family, metric, family_series)
        elif scope == "official" and _COLUMNS[metric][1] is None:
            out[scope] = [], f"{metric} has no {scope} count"
        elif scope == "official":
            out[scope] = [(d, o) for d, _, o in rows], None
        else:
            out[scope] = [(d, f) for d, f, _ in rows], None
    return out


def _relative(reached: date, at: date) -> str:
    days = (at - reached).days
    if days == 0:
        return "on the claimed date"
    word = "before" if days > 0 else "after"
    return f"{abs(days)} day{'s' if abs(days) != 1 else ''} {word} the claimed date"


def check_threshold(
    series: list[tuple[date, int | None]], threshold: int, at: date | None, dated: bool
) -> dict[str, Any]:
    """Verdict, measured value and first-reached day of one scope's series at `at`."""
    upto = [(d, v) for d, v in series if v is not None and (at is None or d <= at)]
    seen = [(d, v) for d, v in series if v is not None and (dated or at is None or d <= at)]
    reached = next((d for d, v in seen if v >= threshold), None)
    out: dict[str, Any] = {
        "snapshot_date": None,
        "measured": None,
        "verdict": "insufficient_data",
        "first_reached": reached.isoformat() if reached else None,
        "reached_at_first_snapshot": bool(reached and seen and reached == seen[0][0]),
        "relative": None,
        "note": None,
    }
    if dated and reached and at:
        out["relative"] = _relative(reached, at)
        if out["reached_at_first_snapshot"]:
            # above the threshold at the first snapshot: reached then or earlier
            out["relative"] = (
                f"at the latest {out['relative']}"
                if reached <= at
                else "already above at the first snapshot, after the claimed date"
            )
    if not upto:
        first = f"; the first is on {seen[0][0].isoformat()}" if seen else ""
        out["note"] = f"no snapshot on or before {at.isoformat() if at else 'today'}{first}"
        return out
    last_date, value = upto[-1]
    out.update(snapshot_date=last_date.isoformat(), measured=value)
    if value >= threshold:
        out["verdict"] = "supported"
    elif dated and at and at > seen[-1][0]:
        out["note"] = f"the snapshots end on {seen[-1][0].isoformat()}, before {at.isoformat()}"
    else:
        out["verdict"] = "not_supported"
    return out


def _check_date(claim: Claim, as_of: date | None) -> tuple[date | None, ClaimDate | None]:
    when = claim.when
    if when is not None and as_of is not None and claim.kind != "growth":
        raise UsageError(
            f"claim {claim.text!r} carries its own date ({when.text}); --as-of is for undated claims"
        )
    return (when.at if when else as_of), when


def _date_json(when: ClaimDate | None) -> dict[str, Any] | None:
    if when is None:
        return None
    return {
        "text": when.text,
        "start": when.start.isoformat(),
        "end": when.end.isoformat(),
        "checked_at": when.at.isoformat(),
        "meaning": when.meaning,
    }


def verify(
    con: duckdb.DuckDBPyConnection,
    claim: Claim,
    family: str,
    as_of: date | None = None,
    scope: str | None = None,
) -> dict[str, Any]:
    """Check a claim in every scope (or the one asked for) at its date or `as_of`.

    The top-level verdict, measured value and breakdown are those of the main scope
    (`scope`, default `family`); `scopes` holds each scope's answer and `supported_by`
    the scopes that support the claim. When the main scope's threshold is not met,
    `projection` holds the date it will be at the recent growth rate.
    """
    check_family(con, family)
    if claim.kind == "growth":
        return claim_growth.verify_growth(con, claim, family, as_of, scopes_for(claim, scope))
    at, when = _check_date(claim, as_of)
    if claim.kind == "versus":
        return _verify_versus(con, claim, family, at, when, scopes_for(claim, scope))
    scopes = scopes_for(claim, scope)
    main = scopes[0] if scope or claim.metric in _FIXED_SCOPE else "family"
    rows = hub_rows(con, family, claim.metric)
    by_scope = scope_series(con, family, claim.metric, scopes, rows)
    answers = []
    notes: list[str] = []
    for name in scopes:
        series, unmeasured = by_scope[name]
        if unmeasured:
            answers.append({"scope": name, "verdict": "not_measured", "note": unmeasured})
            continue
        answer = {"scope": name, **check_threshold(series, claim.threshold, at, when is not None)}
        if name == "global":
            notes.append(modelscope_data.WINDOW_NOTE)
        answers.append(answer)
    primary = next(a for a in answers if a["scope"] == main)
    result: dict[str, Any] = {
        "claim": claim.text,
        "family": family,
        "metric": claim.metric,
        "threshold": claim.threshold,
        "scope": main,
        "date": _date_json(when),
        "as_of": at.isoformat() if at else primary.get("snapshot_date"),
        "snapshot_date": primary.get("snapshot_date"),
        "measured": primary.get("measured"),
        "verdict": primary["verdict"],
        "first_reached": primary.get("first_reached"),
        "relative": primary.get("relative"),
        "breakdown": _breakdown(claim, rows, primary.get("snapshot_date")),
        "snapshots": sum(1 for d, _, _ in rows if at is None or d <= at),
        "projection": None,
        "scopes": answers,
        "supported_by": [a["scope"] for a in answers if a["verdict"] == "supported"],
        "notes": notes,
    }
    if primary.get("snapshot_date"):  # where the verdict's figures come from
        result.update(provenance(con, family, date.fromisoformat(primary["snapshot_date"])))
        if primary.get("first_reached"):
            first = provenance(con, family, date.fromisoformat(primary["first_reached"]))
            if first["source"] != result["source"]:
                result["first_reached_source"] = first["source"]
                result["first_reached_revision"] = first["revision"]
    if primary["verdict"] != "supported" and primary["verdict"] != "not_measured":
        col = _scope_column(claim.metric, main)
        if col and primary.get("measured") is not None:
            result["projection"] = projection.project(
                con, _POINTS_SQL.format(col=col), {"family": family, "as_of": at}, claim.threshold
            )
    return result


def _scope_column(metric: str, scope: str) -> str | None:
    fam_col, off_col = _COLUMNS[metric]
    if scope == "global":
        return None
    return off_col if scope == "official" else fam_col


def _breakdown(
    claim: Claim, rows: list[tuple[date, int | None, int | None]], day: str | None
) -> dict[str, int | None] | None:
    """Official and derivative parts of the family value on the day checked."""
    found = [(f, o) for d, f, o in rows if day is not None and d.isoformat() == day]
    if not found:
        return None
    fam, off = found[0]
    if claim.metric == "derivatives":
        return {"official": None, "derivative": fam}
    if claim.metric == "models":
        return {"official": off, "derivative": None}
    derivative = fam - off if fam is not None and off is not None else None
    return {"official": off, "derivative": derivative}


def provenance(con: duckdb.DuckDBPyConnection, family: str, day: date) -> dict[str, Any]:
    """Where the family's figures of `day` come from: `source` ('hub' for own snapshots),
    the dataset `revision` of an import, and the `lineage_basis` of its membership."""
    row = con.execute(
        """SELECT f.source, r.revision, coalesce(r.lineage_basis, 'snapshot:' || f.run_id)
           FROM family_daily f JOIN runs r USING (run_id)
           WHERE f.family = ? AND f.platform = 'huggingface' AND f.date = ?""",
        [family, day],
    ).fetchall()
    source, revision, basis = row[0] if row else (None, None, None)
    return {"source": source, "revision": revision, "lineage_basis": basis}


_POINTS_SQL = """SELECT date, {col} AS value FROM family_daily
    WHERE family = $family AND platform = 'huggingface' AND date <= coalesce($as_of, date)"""
_GAP_SQL = """SELECT a.date, (a.{col}) - (b.{col}) AS value
    FROM family_daily a JOIN family_daily b
      ON b.date = a.date AND b.family = $versus AND b.platform = a.platform
    WHERE a.family = $family AND a.platform = 'huggingface'
      AND a.date <= coalesce($as_of, a.date)"""


def claim_series(
    con: duckdb.DuckDBPyConnection,
    claim: Claim,
    family: str,
    as_of: date | None = None,
    scope: str | None = None,
) -> list[dict[str, Any]]:
    """The (date, value) points a threshold claim is checked against, for charts."""
    check_family(con, family)
    at, _ = _check_date(claim, as_of)
    col = _scope_column(claim.metric, _FIXED_SCOPE.get(claim.metric, scope or "family"))
    rows = con.execute(
        _POINTS_SQL.format(col=col or "NULL") + " ORDER BY date", {"family": family, "as_of": at}
    ).fetchall()
    return [{"date": d.isoformat(), "value": v} for d, v in rows]


def versus_comparison(
    con: duckdb.DuckDBPyConnection,
    claim: Claim,
    family: str,
    as_of: date | None = None,
    scope: str | None = None,
) -> dict[str, Any]:
    """The comparison (common dates) that checks "family passed versus", for charts too."""
    col = _scope_column(claim.metric, scope or "family")
    metric = next(name for name, expr in compare.METRICS.items() if expr == col)
    return compare.compare(con, [family, claim.versus or ""], metric, until=as_of, align="common")


def _verify_versus(
    con: duckdb.DuckDBPyConnection,
    claim: Claim,
    family: str,
    at: date | None,
    when: ClaimDate | None,
    scopes: list[str],
) -> dict[str, Any]:
    """ "A passed B" in each scope; the first scope listed is the main one (family by default)."""
    main = "family" if "family" in scopes else scopes[0]
    answers = {s: _versus_scope(con, claim, family, at, when, s) for s in scopes}
    result = answers[main]
    result["scopes"] = [
        {
            k: a[k]
            for k in ("scope", "snapshot_date", "measured", "versus_value", "verdict")
            + ("passed_on", "note")
        }
        for a in answers.values()
    ]
    result["supported_by"] = [s for s, a in answers.items() if a["verdict"] == "supported"]
    return result


def _versus_scope(
    con: duckdb.DuckDBPyConnection,
    claim: Claim,
    family: str,
    at: date | None,
    when: ClaimDate | None,
    scope: str,
) -> dict[str, Any]:
    """A ahead of B on the last common date up to the day checked; "in RANGE": passed in it."""
    versus = claim.versus or ""
    col = _scope_column(claim.metric, scope) or ""
    cmp = versus_comparison(con, claim, family, at, scope)
    result: dict[str, Any] = {
        "claim": claim.text,
        "family": family,
        "versus": versus,
        "metric": claim.metric,
        "scope": scope,
        "date": _date_json(when),
        "as_of": at.isoformat() if at else None,
        "align": "common",
        "snapshot_date": None,
        "measured": None,
        "versus_value": None,
        "verdict": "insufficient_data",
        "first_reached": None,
        "passed_on": None,
        "note": None,
        "snapshots": len(cmp["series"]),
        "projection": None,
    }
    if not cmp["series"]:
        result["note"] = f"{family} and {versus} have no day-run on a common date" + (
            f" on or before {at.isoformat()}" if at else ""
        )
        return result
    last = cmp["series"][-1]
    ahead = last[family] > last[versus]
    passes = [c for c in cmp["crossings"] if c["family"] == family]
    pair = cmp["pairs"][0]
    result.update(
        as_of=(at.isoformat() if at else last["date"]),
        snapshot_date=last["date"],
        measured=last[family],
        versus_value=last[versus],
        verdict="supported" if ahead else "not_supported",
        first_reached=passes[0]["date"] if passes else None,
        passed_on=pair["passed_on"] if ahead else None,
        note=compare.sentences(cmp)[0],
    )
    if when is not None and when.word == "in":
        _passed_in_range(con, claim, family, when, scope, result)
    elif not ahead:
        # when A gets ahead: the gap A - B reaching 1 at its recent rate
        result["projection"] = projection.project(
            con, _GAP_SQL.format(col=col), {"family": family, "versus": versus, "as_of": at}, 1
        )
    return result


def _passed_in_range(
    con: duckdb.DuckDBPyConnection,
    claim: Claim,
    family: str,
    when: ClaimDate,
    scope: str,
    result: dict[str, Any],
) -> None:
    """ "A passed B in October 2025": a crossing bracketed inside the range, over all data."""
    versus = claim.versus or ""
    full = versus_comparison(con, claim, family, None, scope)
    crossings = [c for c in full["crossings"] if c["family"] == family]
    start, end = when.start.isoformat(), when.end.isoformat()
    inside = [c for c in crossings if c["previous_date"] >= _day_before(start) and c["date"] <= end]
    overlaps = [c for c in crossings if c["date"] >= start and c["previous_date"] < end]
    if inside:
        c = inside[0]
        result.update(verdict="supported", passed_on=c["date"])
        result["note"] = (
            f"{family} passed {versus} between {c['previous_date']} and {c['date']}, "
            f"inside {when.text.removeprefix('in ')}"
        )
    elif overlaps:
        c = overlaps[0]
        result.update(verdict="insufficient_data", passed_on=c["date"])
        result["note"] = (
            f"{family} passed {versus} between {c['previous_date']} and {c['date']}: no common "
            f"snapshots to tell whether inside {start}..{end}"
        )
    elif crossings and crossings[0]["date"] < start and result["verdict"] == "supported":
        result.update(verdict="not_supported", passed_on=crossings[-1]["date"])
        result["note"] = f"{family} passed {versus} before {start}, on {crossings[-1]['date']}"
    elif result["verdict"] == "supported":
        # ahead at the range's end with no crossing seen: it led from the first common date
        result.update(verdict="insufficient_data")
        result["note"] = (
            f"{family} led {versus} from the first common snapshot "
            f"({full['series'][0]['date']}): the data does not cover when it passed"
        )
    else:
        later = [c["date"] for c in crossings if c["date"] > end]
        result["note"] = f"{family} was behind {versus} at {result['snapshot_date']}" + (
            f"; it passed on {later[0]}, after {end}" if later else ""
        )


def _day_before(day: str) -> str:
    return date.fromordinal(date.fromisoformat(day).toordinal() - 1).isoformat()
