"""Adoption claims ("700M+ downloads", "180,000 derivatives"): parsing and verifying.

A claim is a threshold on one metric the Hub measures. Its verdict says whether the
warehouse shows the metric at or above the threshold on the date asked, for a stated
scope, with the first snapshot date at which it was reached.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb

from collector.errors import UsageError
from collector.reports import compare, projection
from collector.reports.series import check_family

MEASURABLE = (
    "downloads (all-time), monthly downloads (last 30 days), derivatives, models, likes; "
    'e.g. "700M+ downloads", "50M monthly downloads", "180,000 derivatives", "400 models", '
    '"qwen passed llama" (in downloads)'
)
_SCALE = {
    "k": 10**3,
    "thousand": 10**3,
    "m": 10**6,
    "mn": 10**6,
    "million": 10**6,
    "millions": 10**6,
    "b": 10**9,
    "bn": 10**9,
    "billion": 10**9,
    "billions": 10**9,
}
_LEAD = r"(?:(?:over|more\s+than|above|at\s+least|passed|surpassed|exceeds?|exceeded|reached|hit|>=?|~|about|nearly|almost)\s*)?"
_NUMBER = r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
_UNIT = r"\s*(?P<unit>k|m|mn|b|bn|thousand|millions?|billions?)?\b"
_METRICS = [
    (
        r"monthly\s+downloads|downloads\s+(?:per|a|/)\s*month|downloads\s+in\s+the\s+last\s+30\s+days|30[- ]day\s+downloads",
        "downloads_30d",
    ),
    (r"(?:total\s+|all[- ]time\s+|cumulative\s+)?downloads", "downloads_all_time"),
    (
        r"derivatives?(?:\s+models?)?|derivative\s+(?:models?|repos?)|derived\s+models?",
        "derivatives",
    ),
    (r"(?:official\s+)?(?:models?|repos?|checkpoints?)", "models"),
    (r"likes?", "likes"),
]
_CLAIM_RE = re.compile(
    rf"^\s*{_LEAD}{_NUMBER}{_UNIT}\s*(?P<plus>\+)?\s*(?P<metric>.+?)\s*$", re.IGNORECASE
)
# "qwen passed llama", "passed llama in cumulative downloads", "qwen overtook llama in likes"
_FAMILY = r"[a-z0-9][a-z0-9_-]*"
_VERSUS_RE = re.compile(
    rf"^\s*(?:(?P<subject>{_FAMILY})\s+)?(?:has\s+)?"
    r"(?:passed|overtook|overtaken|overtakes|surpassed|surpasses|beats?|outgrew|leads|is\s+ahead\s+of)"
    rf"\s+(?P<versus>{_FAMILY})(?:\s+in\s+(?P<metric>.+?))?\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Claim:
    """A parsed claim: metric >= threshold."""

    text: str
    metric: str
    threshold: int
    versus: str | None = None  # "A passed B": the family B to be ahead of
    subject: str | None = None  # the family A, when the claim names it


def parse_claim(text: str) -> Claim:
    """Parse a claim, or raise UsageError saying what can be verified."""
    m = _CLAIM_RE.match(text or "")
    if not m:
        return _parse_versus(text)
    number = float(m.group("num").replace(",", ""))
    unit = (m.group("unit") or "").lower()
    threshold = number * _SCALE.get(unit, 1)
    if threshold != int(threshold) or threshold <= 0 or threshold >= 2**62:
        raise UsageError(f"claim {text!r}: threshold must be a positive whole number")
    words = " ".join(m.group("metric").lower().split())
    for pattern, metric in _METRICS:
        if re.fullmatch(pattern, words):
            return Claim(text.strip(), metric, int(threshold))
    raise UsageError(
        f"claim {text!r}: the Hub does not measure {words!r}; claims that can be verified: "
        f"{MEASURABLE}"
    )


def _parse_versus(text: str) -> Claim:
    m = _VERSUS_RE.match(text or "")
    if not m:
        raise UsageError(f"cannot parse claim {text!r}; claims that can be verified: {MEASURABLE}")
    metric = "downloads_all_time"
    if m.group("metric"):
        words = " ".join(m.group("metric").lower().split())
        found = [name for pattern, name in _METRICS if re.fullmatch(pattern, words)]
        if not found:
            raise UsageError(
                f"claim {text!r}: the Hub does not measure {words!r}; claims that can be "
                f"verified: {MEASURABLE}"
            )
        metric = found[0]
    subject = m.group("subject").lower() if m.group("subject") else None
    return Claim(" ".join(text.split()), metric, 0, m.group("versus").lower(), subject)


# metric -> (family-scope column, official-scope column) in family_daily
_COLUMNS = {
    "downloads_all_time": ("downloads_all_time", "official_downloads_all_time"),
    "downloads_30d": ("downloads_30d", "official_downloads_30d"),
    "likes": ("likes", "official_likes"),
    "derivatives": ("repos - official_repos", None),
    "models": ("official_repos", "official_repos"),
}
# Metrics that count repos of one role have that role as their scope.
_FIXED_SCOPE = {"derivatives": "derivative", "models": "official"}


def verify(
    con: duckdb.DuckDBPyConnection,
    claim: Claim,
    family: str,
    as_of: date | None = None,
    scope: str = "family",
) -> dict[str, Any]:
    """Check a claim against the family's daily series up to `as_of`.

    When the threshold is not met, `projection` holds the date it will be at the recent
    growth rate (see collector.reports.projection), else it is None.
    """
    check_family(con, family)
    if claim.versus is not None:
        return _verify_versus(con, claim, family, as_of, scope)
    col, fam_col, off_col, scope_used = _claim_columns(claim, scope)
    rows = con.execute(
        f"""SELECT date, {col} AS value, {fam_col} AS family_value,
                   {off_col or "0"} AS official_value
            FROM family_daily WHERE family = ? AND platform = 'huggingface'
              AND (? IS NULL OR date <= ?)
              AND {col} IS NOT NULL  -- imported days without the counter do not count
            ORDER BY date""",
        [family, as_of, as_of],
    ).fetchall()
    result: dict[str, Any] = {
        "claim": claim.text,
        "family": family,
        "metric": claim.metric,
        "threshold": claim.threshold,
        "scope": scope_used,
        "as_of": as_of.isoformat() if as_of else None,
        "snapshot_date": None,
        "measured": None,
        "verdict": "insufficient_data",
        "first_reached": None,
        "breakdown": None,
        "snapshots": len(rows),
        "projection": None,
    }
    if not rows:
        return result
    last_date, value, fam_value, off_value = rows[-1]
    reached = next((d for d, v, _, _ in rows if v is not None and v >= claim.threshold), None)
    if claim.metric == "derivatives":
        breakdown = {"official": None, "derivative": int(fam_value)}
    elif claim.metric == "models":
        breakdown = {"official": int(off_value), "derivative": None}
    else:
        breakdown = {"official": int(off_value), "derivative": int(fam_value - off_value)}
    result.update(
        as_of=(as_of or last_date).isoformat(),
        snapshot_date=last_date.isoformat(),
        measured=int(value),
        verdict="supported" if value >= claim.threshold else "not_supported",
        first_reached=reached.isoformat() if reached else None,
        breakdown=breakdown,
    )
    result.update(provenance(con, family, last_date))
    if reached is not None:
        first = provenance(con, family, reached)
        if first["source"] != result["source"]:  # e.g. reached in imported history
            result["first_reached_source"] = first["source"]
            result["first_reached_revision"] = first["revision"]
    if value < claim.threshold:
        result["projection"] = projection.project(
            con,
            _POINTS_SQL.format(col=col),
            {"family": family, "as_of": as_of},
            claim.threshold,
        )
    return result


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
    WHERE a.family = $family AND a.platform = 'huggingface' AND a.date <= coalesce($as_of, a.date)"""


def _claim_columns(claim: Claim, scope: str) -> tuple[str, str, str | None, str]:
    """(column in scope, family column, official column, scope used) in family_daily."""
    fam_col, off_col = _COLUMNS[claim.metric]
    scope_used = _FIXED_SCOPE.get(claim.metric, scope)
    col = off_col if scope_used == "official" and off_col else fam_col
    return col, fam_col, off_col, scope_used


def claim_series(
    con: duckdb.DuckDBPyConnection,
    claim: Claim,
    family: str,
    as_of: date | None = None,
    scope: str = "family",
) -> list[dict[str, Any]]:
    """The (date, value) points a threshold claim is checked against, for charts."""
    check_family(con, family)
    col = _claim_columns(claim, scope)[0]
    rows = con.execute(
        _POINTS_SQL.format(col=col) + " ORDER BY date", {"family": family, "as_of": as_of}
    ).fetchall()
    return [{"date": d.isoformat(), "value": v} for d, v in rows]


def versus_comparison(
    con: duckdb.DuckDBPyConnection,
    claim: Claim,
    family: str,
    as_of: date | None = None,
    scope: str = "family",
) -> dict[str, Any]:
    """The comparison (common dates) that checks "family passed versus", for charts too."""
    col = _claim_columns(claim, scope)[0]
    metric = next(name for name, expr in compare.METRICS.items() if expr == col)
    return compare.compare(con, [family, claim.versus or ""], metric, until=as_of, align="common")


def _verify_versus(
    con: duckdb.DuckDBPyConnection,
    claim: Claim,
    family: str,
    as_of: date | None,
    scope: str,
) -> dict[str, Any]:
    """ "A passed B": A ahead of B on the last date both have a day-run (common alignment)."""
    versus = claim.versus or ""
    col, _, _, scope_used = _claim_columns(claim, scope)
    cmp = versus_comparison(con, claim, family, as_of, scope)
    result: dict[str, Any] = {
        "claim": claim.text,
        "family": family,
        "versus": versus,
        "metric": claim.metric,
        "scope": scope_used,
        "as_of": as_of.isoformat() if as_of else None,
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
        result["note"] = f"{family} and {versus} have no day-run on a common date"
        return result
    last = cmp["series"][-1]
    ahead = last[family] > last[versus]
    passes = [c for c in cmp["crossings"] if c["family"] == family]
    pair = cmp["pairs"][0]
    result.update(
        as_of=(as_of.isoformat() if as_of else last["date"]),
        snapshot_date=last["date"],
        measured=last[family],
        versus_value=last[versus],
        verdict="supported" if ahead else "not_supported",
        first_reached=passes[0]["date"] if passes else None,
        passed_on=pair["passed_on"] if ahead else None,
        note=compare.sentences(cmp)[0],
    )
    if not ahead:
        # when A gets ahead: the gap A - B reaching 1 at its recent rate
        result["projection"] = projection.project(
            con,
            _GAP_SQL.format(col=col),
            {"family": family, "versus": versus, "as_of": as_of},
            1,
        )
    return result
