"""Growth claims ("grew 50% in 2025", "doubled since June", "added 150M downloads in
February 2026"): the value at the period's end against the value at its start.

The start value is that of the last day-run on or before the period's first day, the end
value that of the last day-run on or before its last day (`since`: up to --as-of or the
latest). Without a day-run at or before the start there is nothing to grow from, and the
verdict is `insufficient_data`, never an estimate.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb

from collector.reports import claims, modelscope_data
from collector.reports.claim_text import Claim


def check_growth(
    series: list[tuple[date, int | None]], claim: Claim, start: date, end: date | None
) -> dict[str, Any]:
    """One scope's growth over [start, end] against the claim's factor or amount."""
    known = [(d, v) for d, v in series if v is not None]
    base = [(d, v) for d, v in known if d <= start]
    upto = [(d, v) for d, v in known if end is None or d <= end]
    out: dict[str, Any] = {
        "from_date": None,
        "from_value": None,
        "snapshot_date": None,
        "measured": None,
        "gain": None,
        "growth_pct": None,
        "verdict": "insufficient_data",
        "note": None,
    }
    if not base:
        first = f" (the first is on {known[0][0].isoformat()})" if known else ""
        out["note"] = f"no snapshot on or before {start.isoformat()} to measure from{first}"
        return out
    (d0, v0), (d1, v1) = base[-1], upto[-1]
    gain = v1 - v0
    out.update(
        from_date=d0.isoformat(),
        from_value=v0,
        snapshot_date=d1.isoformat(),
        measured=v1,
        gain=gain,
        growth_pct=round(100 * gain / v0, 2) if v0 else None,
    )
    if claim.factor is not None:
        met = v0 > 0 and v1 >= claim.factor * v0
    else:
        met = gain >= (claim.amount or 0)
    if met:
        out["verdict"] = "supported"
    elif end is not None and end > known[-1][0]:
        out["note"] = f"the snapshots end on {known[-1][0].isoformat()}, before {end.isoformat()}"
    elif d1 == d0:
        out["note"] = f"one snapshot only ({d0.isoformat()}) in the period"
    else:
        out["verdict"] = "not_supported"
    return out


def verify_growth(
    con: duckdb.DuckDBPyConnection,
    claim: Claim,
    family: str,
    as_of: date | None,
    scopes: list[str],
) -> dict[str, Any]:
    """Check a growth claim in each scope; the main one (family by default) is on top."""
    when = claim.when
    assert when is not None  # parse_claim refuses growth claims without a period
    end = when.end if when.word == "in" else as_of
    if end is not None and as_of is not None:
        end = min(end, as_of)
    rows = claims.hub_rows(con, family, claim.metric)
    by_scope = claims.scope_series(con, family, claim.metric, scopes, rows)
    answers = []
    notes: list[str] = []
    for name in scopes:
        series, unmeasured = by_scope[name]
        if unmeasured:
            answers.append({"scope": name, "verdict": "not_measured", "note": unmeasured})
            continue
        if name == "global":
            notes.append(modelscope_data.WINDOW_NOTE)
        answers.append({"scope": name, **check_growth(series, claim, when.start, end)})
    main = "family" if "family" in scopes else scopes[0]
    primary = next(a for a in answers if a["scope"] == main)
    required = (
        {"factor": claim.factor, "amount": None}
        if claim.factor is not None
        else {"factor": None, "amount": claim.amount}
    )
    return {
        "claim": claim.text,
        "family": family,
        "metric": claim.metric,
        "kind": "growth",
        "required": required,
        "scope": main,
        "date": {
            "text": when.text,
            "start": when.start.isoformat(),
            "end": end.isoformat() if end else None,
            "checked_at": end.isoformat() if end else primary.get("snapshot_date"),
            "meaning": when.meaning,
        },
        "as_of": end.isoformat() if end else primary.get("snapshot_date"),
        "snapshot_date": primary.get("snapshot_date"),
        "measured": primary.get("measured"),
        "verdict": primary["verdict"],
        "from_date": primary.get("from_date"),
        "from_value": primary.get("from_value"),
        "gain": primary.get("gain"),
        "growth_pct": primary.get("growth_pct"),
        "scopes": answers,
        "supported_by": [a["scope"] for a in answers if a["verdict"] == "supported"],
        "notes": notes,
    }
