"""Charts of cumulative downloads: matplotlib files (PNG, SVG) and small terminal charts.

Functions build and return a matplotlib `Figure` (no pyplot, no global state), so callers
and tests can inspect its lines and labels; `save` writes it. SVG keeps its text as text
(searchable, editable) and is reproducible: same data, same bytes. Elements carry ids
(`gid`): `line-<label>`, `threshold`, `reached`, `projection`, `crossing-<date>`,
`anomaly-<date>`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collector.errors import UsageError
from collector.output.render import compact

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FORMATS = (".png", ".svg")
_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"]


@dataclass
class Line:
    """One series: a label and its (date, value) points; None values leave a gap."""

    label: str
    dates: list[date]
    values: list[float | None]
    style: str = "-"


@dataclass
class Mark:
    """A dated event drawn on the chart: a crossing, the date a claim was reached, anomalies."""

    kind: str  # crossing | reached | anomaly
    date: date
    label: str
    value: float | None = None


@dataclass
class Chart:
    """Everything one chart shows."""

    title: str
    lines: list[Line]
    ylabel: str = "cumulative downloads"
    threshold: float | None = None
    threshold_label: str = ""
    marks: list[Mark] = field(default_factory=list)
    projection: tuple[date, float, date, float] | None = None  # from (date, value) to (date, value)
    log: bool = False
    footnote: str = ""  # e.g. that the data is simulated


def figure(chart: Chart) -> Figure:
    """The chart as a matplotlib Figure."""
    # matplotlib loads here, not with the module: only commands that draw pay for it
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, NullFormatter

    fig = Figure(figsize=(9, 5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for i, line in enumerate(chart.lines):
        xs: Any = line.dates
        (drawn,) = ax.plot(
            xs,
            [_nan(v) for v in line.values],
            line.style,
            marker="o",
            markersize=3,
            linewidth=2,
            color=_COLORS[i % len(_COLORS)],
            label=line.label,
        )
        drawn.set_gid(f"line-{line.label}")
    if chart.threshold is not None:
        drawn = ax.axhline(
            chart.threshold,
            color="#555555",
            linestyle="--",
            linewidth=1.2,
            label=chart.threshold_label or f"threshold {compact(chart.threshold)}",
        )
        drawn.set_gid("threshold")
    if chart.projection is not None:
        d0, v0, d1, v1 = chart.projection
        ends: Any = [d0, d1]
        (drawn,) = ax.plot(
            ends,
            [v0, v1],
            ":",
            color="#555555",
            linewidth=1.5,
            label=f"projection: {d1.isoformat()}",
        )
        drawn.set_gid("projection")
    _draw_marks(ax, chart)
    if chart.log:
        ax.set_yscale("log")
        ax.yaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: compact(v)))
    locator = AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    dates = ConciseDateFormatter(locator)
    dates.formats[2] = "%b %d"  # day ticks read "Jan 08", the year goes to the offset
    ax.xaxis.set_major_formatter(dates)
    ax.set_title(chart.title, loc="left")
    ax.set_ylabel(chart.ylabel + (" (log scale)" if chart.log else ""))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small", framealpha=0.8)
    if chart.footnote:
        fig.text(0.01, 0.01, chart.footnote, fontsize="small", color="#d62728", gid="footnote")
    return fig


def _draw_marks(ax: Any, chart: Chart) -> None:
    anomalies = [m for m in chart.marks if m.kind == "anomaly"]
    for mark in chart.marks:
        if mark.kind in ("crossing", "reached"):
            drawn = ax.axvline(mark.date, color="#444444", linestyle=":", linewidth=1)
            drawn.set_gid("reached" if mark.kind == "reached" else f"crossing-{mark.date}")
            # along the line, hanging from the top, where cumulative lines are not yet:
            # labels of close dates do not collide
            ax.annotate(
                f"{mark.label} {mark.date.isoformat()}",
                xy=(mark.date, 0.98),
                xycoords=("data", "axes fraction"),
                xytext=(3, 0),
                textcoords="offset points",
                fontsize="small",
                rotation=90,
                ha="left",
                va="top",
                color="#444444",
                bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 1},
                zorder=1.9,
            )  # under the lines: they stay visible
    if anomalies:
        for i, mark in enumerate(anomalies):
            (drawn,) = ax.plot(
                [mark.date],
                [_nan(mark.value)],
                "x",
                color="#d62728",
                markersize=9,
                markeredgewidth=2,
                label="anomalies" if i == 0 else None,
            )
            drawn.set_gid(f"anomaly-{mark.date}")
            ax.annotate(
                mark.label,
                xy=(mark.date, _nan(mark.value)),
                xytext=(6, -12),
                textcoords="offset points",
                fontsize="x-small",
                color="#d62728",
            )


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def check_path(path: str | Path) -> Path:
    """A chart path we can write: .png or .svg, in an existing directory."""
    out = Path(path)
    if out.suffix.lower() not in FORMATS:
        raise UsageError(f"--chart {out}: use a file name ending in .png or .svg")
    if not out.parent.is_dir():
        raise UsageError(f"--chart {out}: directory {out.parent} does not exist")
    if out.is_dir():
        raise UsageError(f"--chart {out}: is a directory")
    return out


def save(fig: Figure, path: str | Path) -> Path:
    """Write the figure as PNG or SVG, by the path's extension."""
    import matplotlib

    out = check_path(path)
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "collector"}):
        if out.suffix.lower() == ".svg":
            fig.savefig(out, format="svg", metadata={"Date": None})
        else:
            fig.savefig(out, format="png", metadata={"Software": None})
    return out


# --- builders: library results -> Chart ---------------------------------------------------


def _dates(rows: Sequence[dict[str, Any]]) -> list[date]:
    return [date.fromisoformat(r["date"]) for r in rows]


def _anomaly_marks(
    anomalies: Sequence[dict[str, Any]], values: dict[str, float | None]
) -> list[Mark]:
    by_date: dict[str, Counter[str]] = {}
    for a in anomalies:
        by_date.setdefault(a["date"], Counter())[a["kind"]] += 1
    return [
        Mark(
            "anomaly",
            date.fromisoformat(d),
            ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())),
            values.get(d),
        )
        for d, kinds in sorted(by_date.items())
        if d in values
    ]


def report_chart(
    family: str,
    rows: Sequence[dict[str, Any]],
    anomalies: Sequence[dict[str, Any]] = (),
    groups: Sequence[str] | None = None,
    log: bool = False,
    by: str | None = None,
) -> Chart:
    """`report`: the family's cumulative downloads, and its official and derivative parts
    (or one line per group of `by`), anomalies marked on the family line."""
    dates = _dates(rows)
    if groups:
        lines = [Line(g, dates, [r[g] for r in rows]) for g in groups]
        lines.append(Line("total", dates, [r["total"] for r in rows]))
        total = {r["date"]: r["total"] for r in rows}
    else:
        lines = [
            Line(f"{family} (all members)", dates, [r["downloads_all_time"] for r in rows]),
            Line("official repos", dates, [r["official_downloads_all_time"] for r in rows]),
            Line("derivatives", dates, [r["derivative_downloads_all_time"] for r in rows]),
        ]
        total = {r["date"]: r["downloads_all_time"] for r in rows}
    title = f"{family}: cumulative downloads" + (f" by {by}" if by else "")
    return Chart(title, lines, marks=_anomaly_marks(anomalies, total), log=log)


def compare_chart(result: dict[str, Any], log: bool = False, title: str | None = None) -> Chart:
    """`compare`: one line per family, each crossing marked."""
    rows = result["series"]
    dates = _dates(rows)
    lines = [Line(f, dates, [r.get(f) for r in rows]) for f in result["families"]]
    marks = [
        Mark("crossing", date.fromisoformat(c["date"]), f"{c['family']} passed {c['passed']}")
        for c in result["crossings"]
    ]
    title = title or f"{' vs '.join(result['families'])}: {result['metric']}"
    return Chart(title, lines, ylabel=result["metric"].replace("_", " "), marks=marks, log=log)


def verify_chart(
    result: dict[str, Any],
    points: Sequence[dict[str, Any]],
    anomalies: Sequence[dict[str, Any]] = (),
    log: bool = False,
) -> Chart:
    """`verify`: the measured series, the claim's threshold, the date it was reached (or
    the projection to the date it will be), anomalies."""
    dates = _dates(points)
    values = [p["value"] for p in points]
    label = f"{result['family']} ({result['scope']})"
    marks = []
    if result.get("first_reached"):
        marks.append(Mark("reached", date.fromisoformat(result["first_reached"]), "reached"))
    marks += _anomaly_marks(anomalies, {p["date"]: p["value"] for p in points})
    proj = None
    p = result.get("projection") or {}
    if p.get("projected_date") and points:
        proj = (
            dates[-1],
            float(values[-1]),
            date.fromisoformat(p["projected_date"]),
            float(result["threshold"]),
        )
    return Chart(
        f"{result['family']}: {result['claim']}: {result['verdict'].replace('_', ' ')}"
        f" at {result['snapshot_date']}",
        [Line(label, dates, values)],
        ylabel=result["metric"].replace("_", " "),
        threshold=result["threshold"],
        threshold_label=f"claim: {compact(result['threshold'])}",
        marks=marks,
        projection=proj,
        log=log,
    )


def terminal_chart(chart: Chart, width: int = 72, height: int = 14) -> str:
    """A small text chart of the chart's first line (plotext), without colours."""
    import plotext

    line = chart.lines[0]
    points = [(d, v) for d, v in zip(line.dates, line.values, strict=True) if v is not None]
    if len(points) < 2:
        return ""
    fig = plotext.figure
    fig.clear()
    plotext.terminal.limit(False, False)
    fig.plot_size(width, height)
    fig.date("x").activate(form="%Y-%m-%d")
    xs = [f"{d:%Y-%m-%d}" for d, _ in points]
    ys = [float(v) for _, v in points]
    fig.draw(fig.signal(xs, ys).label(line.label).lines())
    low, high = min(ys), max(ys)
    ticks = [low, (low + high) / 2, high] if high > low else [low]
    fig.ruler("y").ticks(ticks, [compact(t) for t in ticks])
    fig.title(chart.title)
    text: str = fig.build().string(colorless=True)
    return "\n".join(row.rstrip() for row in text.rstrip("\n").splitlines())
