"""Hand-drawn SVG charts for the static site: cumulative line charts and sparklines.

Plain SVG text, no library and no script: a page shows its charts from file:// or any
static host without a request to another host. Same data, same bytes. Every line carries
`data-series` and its points count (`data-points`), every mark its `data-date`, so that a
test can check what was drawn; every chart has a <title> and <desc> for screen readers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from xml.sax.saxutils import escape, quoteattr

from collector.output.render import compact

WIDTH, HEIGHT = 720, 320
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 14, 40
# Colours with at least 4.5:1 contrast on white; dash patterns tell lines apart without colour.
COLORS = ["#1d4f91", "#a3440b", "#1b6e35", "#6a3d9a", "#8a5300", "#0e6a75", "#8c2d5a"]
DASHES = ["", "6 3", "2 3", "8 3 2 3", "4 4", "1 2", "10 4"]


@dataclass
class Series:
    """One line: a label and a value per date of the chart (None leaves a gap)."""

    label: str
    values: list[int | None]


@dataclass
class Mark:
    """A dated event on the chart: an anomaly or a partial day."""

    kind: str  # anomaly | partial
    date: str
    label: str


@dataclass
class LineChart:
    """Everything one chart shows; `dates` are ISO dates, one per point."""

    title: str
    desc: str
    dates: list[str]
    series: list[Series]
    marks: list[Mark] = field(default_factory=list)
    log: bool = False


def line_chart(chart: LineChart, chart_id: str) -> str:
    """The chart as an inline <svg> element."""
    days = [date.fromisoformat(d).toordinal() for d in chart.dates]
    values = [v for s in chart.series for v in s.values if v is not None]
    out = [
        f'<svg class="chart" id={quoteattr(chart_id)} viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
        f'data-scale="{"log" if chart.log else "linear"}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-t">{escape(chart.title)}</title>',
        f'<desc id="{chart_id}-d">{escape(chart.desc)}</desc>',
    ]
    if not days or not values:
        out.append(f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no data</text>')
        return "".join(out) + "</svg>"
    x0, x1 = min(days), max(days)
    lo, hi, ticks = _log_axis(values) if chart.log else _linear_axis(values)

    def x(day: int) -> float:
        span = (x1 - x0) or 1
        return round(LEFT + (day - x0) / span * (WIDTH - LEFT - RIGHT), 1)

    def y(value: float) -> float:
        if chart.log:
            value = math.log10(max(value, lo))
            a, b = math.log10(lo), math.log10(hi)
        else:
            a, b = lo, hi
        return round(HEIGHT - BOTTOM - (value - a) / ((b - a) or 1) * (HEIGHT - TOP - BOTTOM), 1)

    out.append('<g class="grid" aria-hidden="true">')
    for t in ticks:
        out.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(t)}" y2="{y(t)}"/>'
            f'<text class="ytick" x="{LEFT - 6}" y="{y(t) + 4}" text-anchor="end">'
            f"{compact(t)}</text>"
        )
    for label, day in _date_ticks(x0, x1):
        out.append(
            f'<text class="xtick" x="{x(day)}" y="{HEIGHT - BOTTOM + 18}" '
            f'text-anchor="middle">{label}</text>'
        )
    out.append("</g>")
    for i, s in enumerate(chart.series):
        color, dash = COLORS[i % len(COLORS)], DASHES[i % len(DASHES)]
        path = _path(
            [(x(d), y(v)) if v is not None else None for d, v in zip(days, s.values, strict=True)]
        )
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        points = sum(v is not None for v in s.values)
        out.append(
            f'<path class="line" d="{path}" stroke="{color}"{dashed} '
            f'data-series={quoteattr(s.label)} data-points="{points}"/>'
        )
    top = chart.series[0].values if chart.series else []
    by_day = dict(zip(chart.dates, top, strict=False))
    for m in chart.marks:
        value = by_day.get(m.date)
        if value is None:
            continue
        cx, cy = x(date.fromisoformat(m.date).toordinal()), y(value)
        shape = (
            f'<circle cx="{cx}" cy="{cy}" r="5"/>'
            if m.kind == "partial"
            else f'<path d="M{cx} {cy - 7}l6 10h-12z"/>'
        )
        out.append(
            f'<g class="mark {m.kind}" data-date="{m.date}"><title>{escape(m.label)}</title>'
            f"{shape}</g>"
        )
    return "".join(out) + "</svg>"


def sparkline(values: list[int | None], label: str) -> str:
    """A small line of a series, for tables; `label` is its text alternative."""
    points = [v for v in values if v is not None]
    w, h = 120, 28
    out = f'<svg class="spark" viewBox="0 0 {w} {h}" role="img" aria-label={quoteattr(label)}>'
    if len(points) < 2:
        return out + "</svg>"
    lo, hi = min(points), max(points)
    n = len(values) - 1
    coords = [
        (round(i / n * (w - 2) + 1, 1), round(h - 2 - (v - lo) / ((hi - lo) or 1) * (h - 4), 1))
        if v is not None
        else None
        for i, v in enumerate(values)
    ]
    return out + f'<path class="line" d="{_path(coords)}" data-points="{len(points)}"/></svg>'


def legend(chart: LineChart) -> str:
    """The chart's key as HTML (it stays readable at any width, unlike text in the SVG)."""
    items = []
    for i, s in enumerate(chart.series):
        color, dash = COLORS[i % len(COLORS)], DASHES[i % len(DASHES)]
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        items.append(
            f'<li><svg width="28" height="10" aria-hidden="true"><line x1="0" x2="28" y1="5" '
            f'y2="5" stroke="{color}" stroke-width="3"{dashed}/></svg> {escape(s.label)}</li>'
        )
    return '<ul class="legend">' + "".join(items) + "</ul>"


def _path(points: list[tuple[float, float] | None]) -> str:
    parts, pen = [], "M"
    for p in points:
        if p is None:
            pen = "M"
            continue
        parts.append(f"{pen}{p[0]} {p[1]}")
        pen = "L"
    return "".join(parts)


def _linear_axis(values: list[int]) -> tuple[float, float, list[float]]:
    """0 to a round maximum, with 4-6 round ticks (cumulative counts start at zero)."""
    top = max(max(values), 1)
    raw = top / 5
    mag = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(s * mag for s in (1, 2, 2.5, 5, 10) if s * mag >= raw)
    hi = math.ceil(top / step) * step
    return 0.0, float(hi), [i * step for i in range(int(round(hi / step)) + 1)]


def _log_axis(values: list[int]) -> tuple[float, float, list[float]]:
    """Whole decades around the positive values."""
    positive = [v for v in values if v > 0] or [1]
    a = math.floor(math.log10(min(positive)))
    b = max(math.ceil(math.log10(max(positive))), a + 1)
    return float(10**a), float(10**b), [float(10**e) for e in range(a, b + 1)]


def _date_ticks(x0: int, x1: int) -> list[tuple[str, int]]:
    """Month starts when the range spans months, else about five evenly spaced days."""
    first, last = date.fromordinal(x0), date.fromordinal(x1)
    months = []
    d = date(first.year, first.month, 1)
    while d <= last:
        if d >= first:
            months.append((d.strftime("%b %Y") if d.month == 1 else d.strftime("%b"), d))
        d = date(d.year + d.month // 12, d.month % 12 + 1, 1)
    if len(months) >= 2:
        step = math.ceil(len(months) / 8)
        return [(label, d.toordinal()) for label, d in months[::step]]
    step = max(1, (x1 - x0) // 4)
    return [(date.fromordinal(o).strftime("%b %d"), o) for o in range(x0, x1 + 1, step)]
