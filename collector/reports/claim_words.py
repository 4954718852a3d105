"""A verified claim in words and tables: the quotable sentence first, then the evidence.

`sentence` is one plain sentence a journalist could quote (the main scope's verdict, then
each other scope); `document` is what `verify` prints for one claim, `sheet_document`
what it prints for a claim sheet (one row per claim and scope).
"""

from __future__ import annotations

from typing import Any

from collector.output.render import Document, compact
from collector.reports import projection

VERDICTS = {
    "supported": "Supported",
    "not_supported": "Not supported",
    "insufficient_data": "Insufficient data",
    "not_measured": "Not measured",
}
LABELS = {
    "downloads_all_time": "all-time downloads",
    "downloads_30d": "downloads in 30 days",
    "likes": "likes",
    "derivatives": "derivative repos",
    "models": "official repos",
}


def _subject(scope: str, family: str, first: bool) -> str:
    if scope == "official":
        return f"the {family} org's own repos on Hugging Face" if first else "its own repos alone"
    if scope == "derivative":
        return f"the {family} family on Hugging Face"
    if scope == "global":
        return "Hugging Face and ModelScope together" if not first else f"{family} globally"
    if first:
        return f"the {family} family on Hugging Face (official repos and all derivatives)"
    return "the family with all derivatives"


def _threshold_clause(result: dict[str, Any], a: dict[str, Any], first: bool) -> str:
    who = _subject(a["scope"], result["family"], first)
    label = LABELS[result["metric"]]
    thr = compact(result["threshold"])
    verdict = a["verdict"]
    if verdict == "not_measured":
        return f"{who}: not measured ({a['note']})"
    if verdict == "insufficient_data":
        return f"{who}: cannot tell ({a['note']})"
    relative = f", {a['relative']}" if a.get("relative") else ""
    if verdict == "supported":
        if a["reached_at_first_snapshot"]:
            return (
                f"{who} had {thr} {label} already at the first snapshot, {a['first_reached']}"
                + (f" ({a['relative']})" if a.get("relative") else "")
            )
        what = f"{thr} {label}" if first else "it"
        return f"{who} reached {what} on {a['first_reached']}{relative}"
    later = f" (reached on {a['first_reached']}{relative})" if a.get("first_reached") else ""
    return f"{who} had {a['measured']:,} {label} on {a['snapshot_date']}, below {thr}{later}"


def _growth_clause(result: dict[str, Any], a: dict[str, Any], first: bool) -> str:
    who = _subject(a["scope"], result["family"], first)
    if a["verdict"] == "not_measured":
        return f"{who}: not measured ({a['note']})"
    if a["from_date"] is None or a["verdict"] == "insufficient_data" and a.get("note"):
        return f"{who}: cannot tell ({a['note']})"
    pct = f", {a['growth_pct']:+.2f}%" if a["growth_pct"] is not None else ""
    return (
        f"{who} went from {a['from_value']:,} {LABELS[result['metric']]} on {a['from_date']} "
        f"to {a['measured']:,} on {a['snapshot_date']} ({a['gain']:+,}{pct})"
    )


def _versus_clause(result: dict[str, Any], a: dict[str, Any], first: bool) -> str:
    if first and a.get("note"):
        return str(a["note"])
    who = "official repos only" if a["scope"] == "official" else "with all derivatives"
    if a["measured"] is None:
        return f"{who}: cannot tell ({a['note']})"
    return (
        f"{who}: {VERDICTS[a['verdict']].lower()} ({a['measured']:,} vs "
        f"{a['versus_value']:,} on {result['snapshot_date']})"
    )


def _required(result: dict[str, Any]) -> str:
    req = result["required"]
    if req["factor"] is not None:
        return f"x{req['factor']:g} ({100 * (req['factor'] - 1):+g}%)"
    return f"+{req['amount']:,}"


def sentence(result: dict[str, Any]) -> str:
    """The answer as one quotable sentence: main scope first, then the others."""
    kind = "versus" if "versus" in result else result.get("kind", "threshold")
    clause = {"versus": _versus_clause, "growth": _growth_clause}.get(kind, _threshold_clause)
    main = result["scope"]
    ordered = sorted(result["scopes"], key=lambda a: a["scope"] != main)
    parts = [clause(result, a, i == 0) for i, a in enumerate(ordered)]
    when = f" ({result['date']['text']})" if result.get("date") else ""
    head = f"{VERDICTS[result['verdict']]}{when}"
    others = [s for s in result.get("supported_by", []) if s != main]
    if result["verdict"] != "supported" and others:
        plural = "s" if len(others) > 1 else ""
        head += f" in the {main} scope, supported in the {' and '.join(others)} scope{plural}"
    head += ": "
    if kind == "growth":
        head += f"{result['claim']!r} needs {_required(result)}; "
    return head + "; ".join(parts) + "."


def _claim_notes(result: dict[str, Any]) -> list[str]:
    notes = []
    when = result.get("date")
    if when:
        notes.append(
            f"Date: {when['text']} covers {when['start']}..{when['end'] or 'the latest'}; "
            f"checked at {when['checked_at'] or 'the latest snapshot'}"
            + (f" ({when['meaning']})" if when.get("meaning") else "")
        )
    if result.get("breakdown"):
        parts = ", ".join(
            f"{k}={'' if v is None else f'{v:,}'}" for k, v in result["breakdown"].items()
        )
        notes.append(f"Breakdown ({result['scope']}): {parts}")
    if result.get("projection"):
        notes.append(f"Projection ({result['scope']}): {projection.describe(result['projection'])}")
    notes += [f"Note: {n}" for n in result.get("notes", [])]
    return notes


SCOPE_COLUMNS = {
    "threshold": ["scope", "measured", "verdict", "first_reached", "relative", "snapshot_date"],
    "versus": ["scope", "measured", "versus_value", "verdict", "passed_on"],
    "growth": [
        "scope",
        "from_date",
        "from_value",
        "snapshot_date",
        "measured",
        "gain",
        "growth_pct",
        "verdict",
    ],
}


def document(result: dict[str, Any]) -> Document:
    """`verify` of one claim: the sentence, a row per scope, then dates, breakdown, projection."""
    kind = "versus" if "versus" in result else result.get("kind", "threshold")
    rows = [{c: a.get(c) for c in SCOPE_COLUMNS[kind]} for a in result["scopes"]]
    return Document(
        SCOPE_COLUMNS[kind], rows, result, title=sentence(result), notes=_claim_notes(result)
    )


SHEET_COLUMNS = [
    "claim",
    "family",
    "checked_at",
    "scope",
    "snapshot_date",
    "measured",
    "verdict",
    "first_reached",
    "relative",
    "published",
]


def sheet_rows(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per claim and scope of a checked claim sheet."""
    rows = []
    for entry in entries:
        result = entry["result"]
        when = result.get("date")
        for a in result["scopes"]:
            rows.append(
                {
                    "claim": entry["text"],
                    "family": result["family"],
                    "checked_at": when["checked_at"] if when else result["as_of"],
                    "scope": a["scope"],
                    "snapshot_date": a.get("snapshot_date"),
                    "measured": a.get("measured"),
                    "verdict": a["verdict"],
                    "first_reached": a.get("first_reached") or a.get("passed_on"),
                    "relative": a.get("relative"),
                    "published": entry["published"],
                }
            )
    return rows


def sheet_document(title: str, entries: list[dict[str, Any]], notes: list[str]) -> Document:
    """`verify --claims`: one row per claim and scope; JSON carries every full answer."""
    data = {"sheet": title, "claims": entries}
    return Document(SHEET_COLUMNS, sheet_rows(entries), data, title=title, notes=notes)
