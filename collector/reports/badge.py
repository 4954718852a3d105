"""A shields.io-style badge ("qwen downloads | 1.2B") as SVG, made locally from the warehouse.

The layout follows shields' "flat" style: a grey label box, a coloured value box, text
with a 1px shadow. Text widths come from Verdana 11px character widths, as shields does.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from xml.sax.saxutils import escape

import duckdb

from collector.errors import UsageError
from collector.output.render import compact
from collector.reports.series import check_family

# metric -> (family_daily column, default label suffix)
METRICS = {
    "downloads_all_time": ("downloads_all_time", "downloads"),
    "downloads_30d": ("downloads_30d", "downloads/month"),
    "likes": ("likes", "likes"),
    "repos": ("repos", "models"),
    "derivatives": ("repos - official_repos", "derivatives"),
}
DEFAULT_COLOR = "#007ec6"

# Verdana 11px advance widths (px) of the characters badges use; others count as 7.
_WIDTHS = {
    **dict.fromkeys("ijl'|", 3.1),
    **dict.fromkeys(" .,:;!", 3.9),
    **dict.fromkeys("ft()[]/-", 4.3),
    "r": 4.7,
    "I": 4.3,
    "J": 5.0,
    "s": 5.7,
    "c": 5.7,
    "z": 5.7,
    "k": 6.5,
    "v": 6.5,
    "x": 6.5,
    "y": 6.5,
    "a": 6.7,
    "e": 6.6,
    "g": 6.9,
    "b": 6.9,
    "d": 6.9,
    "h": 7.0,
    "n": 7.0,
    "o": 6.7,
    "p": 6.9,
    "q": 6.9,
    "u": 7.0,
    "m": 10.7,
    "w": 9.0,
    "M": 9.8,
    "W": 10.9,
    "+": 9.2,
    **dict.fromkeys("0123456789", 7.0),
    **dict.fromkeys("ABCDEFGHKLNOPQRSTUVXYZ", 7.5),
}


def badge_value(
    con: duckdb.DuckDBPyConnection, family: str, metric: str, as_of: date | None = None
) -> dict[str, Any]:
    """The metric at the family's last day-run on or before `as_of` (family_daily)."""
    if metric not in METRICS:
        raise UsageError(f"no badge for {metric!r}; use one of {', '.join(METRICS)}")
    check_family(con, family)
    rows = con.execute(
        f"""SELECT date, {METRICS[metric][0]} FROM family_daily
            WHERE family = ? AND platform = 'huggingface' AND date <= coalesce(?, date)
            ORDER BY date DESC LIMIT 1""",
        [family, as_of],
    ).fetchall()
    if not rows:
        raise UsageError(f"no snapshot of {family} on or before {as_of}")
    return {
        "family": family,
        "metric": metric,
        "date": rows[0][0].isoformat(),
        "value": int(rows[0][1]),
    }


def default_label(family: str, metric: str) -> str:
    """E.g. "qwen downloads"."""
    return f"{family} {METRICS[metric][1]}"


def text_width(text: str) -> float:
    """Approximate rendered width of text in Verdana 11px."""
    return sum(_WIDTHS.get(ch, 7.0) for ch in text)


def badge_svg(label: str, value: str, color: str = DEFAULT_COLOR) -> str:
    """A flat shields-style badge."""
    if not _is_color(color):
        raise UsageError(f"bad colour {color!r}: use #rgb or #rrggbb")
    lw = round(text_width(label) + 10)
    vw = round(text_width(value) + 10)
    width = lw + vw
    title = escape(f"{label}: {value}")
    lab, val = escape(label), escape(value)
    # shields draws text at 10x scale for sub-pixel placement
    lx, vx = lw * 5, lw * 10 + vw * 5
    ltl, vtl = (lw - 10) * 10, (vw - 10) * 10
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" '
        f'aria-label="{title}">'
        f"<title>{title}</title>"
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" '
        'stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{width}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{lw}" height="20" fill="#555"/>'
        f'<rect x="{lw}" width="{vw}" height="20" fill="{color}"/>'
        f'<rect width="{width}" height="20" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" '
        'text-rendering="geometricPrecision" font-size="110">'
        f'<text aria-hidden="true" x="{lx}" y="150" fill="#010101" fill-opacity=".3" '
        f'transform="scale(.1)" textLength="{ltl}">{lab}</text>'
        f'<text x="{lx}" y="140" transform="scale(.1)" fill="#fff" textLength="{ltl}">{lab}</text>'
        f'<text aria-hidden="true" x="{vx}" y="150" fill="#010101" fill-opacity=".3" '
        f'transform="scale(.1)" textLength="{vtl}">{val}</text>'
        f'<text x="{vx}" y="140" transform="scale(.1)" fill="#fff" textLength="{vtl}">{val}</text>'
        "</g></svg>\n"
    )


def make_badge(
    con: duckdb.DuckDBPyConnection,
    family: str,
    metric: str,
    as_of: date | None = None,
    label: str | None = None,
    color: str = DEFAULT_COLOR,
) -> dict[str, Any]:
    """The badge's value and SVG text."""
    found = badge_value(con, family, metric, as_of)
    text = compact(found["value"])
    found.update(label=label or default_label(family, metric), text=text)
    found["svg"] = badge_svg(found["label"], text, color)
    return found


def _is_color(color: str) -> bool:
    c = color.removeprefix("#")
    hex_digits = "0123456789abcdefABCDEF"
    return color.startswith("#") and len(c) in (3, 6) and all(ch in hex_digits for ch in c)
