"""HTML of the site's pages: the index of families and one page per family.

Pages only lay out what collector.site.data gathered: numbers are formatted here
(`704,898,268`), never computed. No script: the log-scale toggle is two drawn charts and
a CSS radio switch, so everything reads without JavaScript, from file:// or any host.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from importlib import resources
from typing import Any

from collector.site import svg
from collector.site.data import FamilyData, SiteData

# inlined into every page, so that a page opens alone from file:// with its style
CSS = resources.files("collector.site").joinpath("style.css").read_text(encoding="utf-8")


def page(title: str, body: str, home: str) -> str:
    """A whole HTML document; `home` is the relative link to the index."""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # an empty icon: no favicon request, which a static host may answer with a 404
        '<link rel="icon" href="data:,">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        + (
            f'<header><nav><a href="{home}">All families</a></nav></header>'
            if home != "index.html"
            else ""
        )
        + f"<main>{body}</main>"
        "<footer>Made by collector from the Hugging Face Hub's download counters. "
        f'<a href="{home}#about">About these figures</a></footer></body></html>\n'
    )


def num(value: Any) -> str:
    """A figure as the CLI's tables print it: 704,898,268; empty for none."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return escape(str(value))


def table(
    columns: list[tuple[str, str]],
    rows: Iterable[dict[str, Any]],
    caption: str,
    numeric: Iterable[str] = (),
    row_header: str | None = None,
) -> str:
    """A table with column headers (and a row header column when named)."""
    right = set(numeric)
    head = "".join(
        f'<th scope="col"{" class=n" if key in right else ""}>{escape(label)}</th>'
        for key, label in columns
    )
    body = []
    for row in rows:
        cells = []
        for key, _ in columns:
            cls = ' class="n"' if key in right else ""
            tag = "th" if key == row_header else "td"
            scope = ' scope="row"' if tag == "th" else ""
            cells.append(f"<{tag}{scope}{cls}>{num(row.get(key))}</{tag}>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<div class="scroll"><table><caption>{escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def downloads(files: list[str], what: str) -> str:
    links = " · ".join(f'<a href="{f}" download>{f.rsplit(".", 1)[1].upper()}</a>' for f in files)
    return f'<p class="downloads">Data behind {escape(what)}: {links}</p>'


def index(site: SiteData, files: dict[str, str]) -> str:
    """The index: one row per family with its latest figures and a sparkline."""
    notices = "".join(f'<p class="notice" role="note">{escape(n)}</p>' for n in site.notices)
    rows = []
    for f in site.families:
        last = f.latest or {}
        values = [r["downloads_all_time"] for r in f.report["series"]]
        partial = " (partial)" if f.report["partial_days"] and last else ""
        spark = svg.sparkline(
            values,
            f"{f.family}: downloads_all_time from {num(values[0] if values else None)} to "
            f"{num(values[-1] if values else None)}",
        )
        rows.append(
            f'<tr data-family="{escape(f.family)}">'
            f'<th scope="row"><a href="{f.slug}/index.html">{escape(f.family)}</a></th>'
            f'<td class="n"><data data-metric="downloads_all_time" '
            f'value="{last.get("downloads_all_time", "")}">{num(last.get("downloads_all_time"))}'
            f"</data></td><td>{spark}</td>"
            f'<td class="n"><data data-metric="growth" value="{f.growth["family_total"] or ""}">'
            f"{num(f.growth['family_total'])}</data></td>"
            f"<td>{num(last.get('date'))}{partial}</td>"
            f'<td class="n">{num(last.get("official_downloads_all_time"))}</td>'
            f'<td class="n">{num(last.get("derivative_downloads_all_time"))}</td>'
            f'<td class="n">{num(last.get("repos"))}</td></tr>'
        )
    if not rows:
        rows.append(
            '<tr><td colspan="8">No family has a snapshot yet: run `collector snapshot`.</td></tr>'
        )
    head = "".join(
        f'<th scope="col"{" class=n" if n else ""}>{label}</th>'
        for label, n in (
            ("Family", False),
            ("Downloads (all time)", True),
            ("Trend", False),
            ("New, 30 days", True),
            ("Last snapshot", False),
            ("Official", True),
            ("Derivatives", True),
            ("Repos", True),
        )
    )
    body = (
        "<h1>Model family downloads on the Hugging Face Hub</h1>"
        + notices
        + '<div class="scroll"><table id="families"><caption>Latest figures per family '
        "(cumulative downloads of the org's repos and every base_model derivative)</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        + downloads([files["families.csv"], files["families.json"]], "this table")
        + _about(site)
    )
    return page("Model family downloads", body, "index.html")


def _about(site: SiteData) -> str:
    return (
        '<h2 id="about">About these figures</h2>'
        "<p>The Hub publishes each repo's all-time downloads but keeps no history and no "
        "family totals. collector snapshots every member of a family (the org's own repos "
        "plus every repo that reaches one through <code>base_model</code> lineage) and "
        "sums the counters per day. A repo that leaves keeps its last count in the "
        "cumulative total; a counter the Hub revised downwards is shown as the Hub's "
        "value and marked as an anomaly.</p>"
        f"<p class=muted>collector {escape(site.version)}, warehouse schema "
        f"{escape(', '.join(site.schema))}.</p>"
    )


def family_page(site: SiteData, f: FamilyData, names: dict[str, str]) -> str:
    """A family's page: totals, charts, claims, top repos, splits, comparisons, lineage."""
    parts = [f"<h1>{escape(f.family)}</h1>"]
    parts += [f'<p class="notice" role="note">{escape(n)}</p>' for n in site.notices]
    parts.append(_totals(f))
    parts.append(_cumulative(f))
    parts.append(_claims(f))
    parts.append(_top(f))
    parts.append(_split(f, f.by_relation, "relation"))
    parts.append(_split(f, f.by_depth, "depth"))
    parts.append(_comparisons(f, names))
    parts.append(_lineage(f))
    parts.append(_sources(site, f))
    return page(f"{f.family}: downloads on the Hugging Face Hub", "".join(parts), "../index.html")


_TOTALS = [
    ("downloads_all_time", "Downloads (all time)"),
    ("official_downloads_all_time", "Official repos"),
    ("derivative_downloads_all_time", "Derivatives"),
    ("downloads_30d", "Downloads, last 30 days (Hub counter)"),
    ("repos", "Repos counted"),
    ("likes", "Likes"),
]


def _totals(f: FamilyData) -> str:
    last = f.latest or {}
    items = "".join(
        f'<div><dt>{label}</dt><dd><data data-metric="{key}" value="{last.get(key, "")}">'
        f"{num(last.get(key))}</data></dd></div>"
        for key, label in _TOTALS
    )
    growth = f.growth
    extra = (
        f"<div><dt>New downloads from {growth['counted_from']} to {growth['until']}</dt>"
        f'<dd><data data-metric="growth" value="{growth["family_total"]}">'
        f"{num(growth['family_total'])}</data></dd></div>"
        if growth["family_total"] is not None
        else ""
    )
    return (
        f'<section id="totals"><h2>At the snapshot of {num(last.get("date"))}</h2>'
        f'<dl class="totals">{items}{extra}</dl></section>'
    )


def _cumulative(f: FamilyData) -> str:
    rows = f.report["series"]
    dates = [r["date"] for r in rows]
    series = [
        svg.Series("all members", [r["downloads_all_time"] for r in rows]),
        svg.Series("official", [r["official_downloads_all_time"] for r in rows]),
        svg.Series("derivatives", [r["derivative_downloads_all_time"] for r in rows]),
    ]
    marks = [
        svg.Mark("partial", p["date"], f"{p['date']}: partial snapshot ({p['error']})")
        for p in f.report["partial_days"]
    ]
    kinds: dict[str, list[str]] = {}
    for a in f.report["anomalies"]:
        kinds.setdefault(a["date"], []).append(f"{a['kind']} {a['repo_id']}")
    marks += [
        svg.Mark(
            "anomaly", day, f"{day}: " + "; ".join(items[:5]) + ("…" if len(items) > 5 else "")
        )
        for day, items in sorted(kinds.items())
    ]
    first, last = (rows[0], rows[-1]) if rows else ({}, {})
    desc = (
        f"Cumulative downloads of {f.family} from {first.get('date')} "
        f"({num(first.get('downloads_all_time'))}) to {last.get('date')} "
        f"({num(last.get('downloads_all_time'))}), split into official repos and derivatives; "
        f"{len(marks)} dates marked (anomalies, partial days). The numbers are in the table below."
    )
    drawn = [
        svg.LineChart(
            f"{f.family}: cumulative downloads ({'log' if log else 'linear'} scale)",
            desc,
            dates,
            series,
            marks,
            log,
        )
        for log in (False, True)
    ]
    charts = svg.legend(drawn[0]) + "".join(
        f'<figure class="{"log" if c.log else "linear"}">'
        + svg.line_chart(c, f"cumulative-{'log' if c.log else 'linear'}")
        + "</figure>"
        for c in drawn
    )
    notes = [
        f"<li>Partial snapshot on {p['date']}: {num(p['stale_repos'])} of {num(p['repos'])} "
        f"repos not refreshed, counted at their last value ({escape(str(p['error']))}).</li>"
        for p in f.report["partial_days"]
    ]
    counts: dict[str, int] = {}
    for a in f.report["anomalies"]:
        counts[a["kind"]] = counts.get(a["kind"], 0) + 1
    if counts:
        notes.append(
            "<li>Anomalies (▲ on the chart): "
            + ", ".join(f"{n} {escape(k)}" for k, n in sorted(counts.items()))
            + ", listed in the JSON data.</li>"
        )
    columns = [
        ("date", "Date"),
        ("repos", "Repos"),
        ("downloads_all_time", "All time"),
        ("official_downloads_all_time", "Official"),
        ("derivative_downloads_all_time", "Derivatives"),
        ("downloads_30d", "Last 30 days"),
        ("likes", "Likes"),
        ("new_downloads", "New downloads"),
    ]
    numbers = table(
        columns,
        reversed(rows),
        f"{f.family}: one row per day with a snapshot, newest first",
        [c for c, _ in columns[1:]],
        row_header="date",
    )
    return (
        '<section id="cumulative"><h2>Cumulative downloads</h2>'
        '<div class="scale" role="group" aria-label="Chart scale">'
        '<input type="radio" name="scale" id="scale-linear" checked>'
        '<label for="scale-linear">Linear scale</label> '
        '<input type="radio" name="scale" id="scale-log"><label for="scale-log">Log scale</label>'
        f'<div class="charts">{charts}</div></div>'
        + (f"<ul>{''.join(notes)}</ul>" if notes else "")
        + downloads(["data/daily.csv", "data/daily.json"], "this chart")
        + f"<details><summary>The numbers, day by day</summary>{numbers}</details></section>"
    )


def _claims(f: FamilyData) -> str:
    rows = []
    for c in f.claims:
        verdict = c["verdict"]
        detail = c.get("projection_text") or c.get("note") or ""
        measured = num(c.get("measured"))
        target = num(c.get("threshold")) if c.get("threshold") else num(c.get("versus_value"))
        rows.append(
            f'<tr data-verdict="{verdict}"><th scope="row">{escape(c["claim"])}</th>'
            f'<td><span class="verdict {verdict}">{verdict.replace("_", " ")}</span></td>'
            f'<td class="n">{measured}</td><td class="n">{target}</td>'
            f"<td>{num(c.get('scope'))}</td><td>{num(c.get('snapshot_date'))}</td>"
            f"<td>{num(c.get('first_reached'))}</td><td class=w>{escape(str(detail))}</td></tr>"
        )
    head = "".join(
        f'<th scope="col">{h}</th>'
        for h in (
            "Claim",
            "Verdict",
            "Measured",
            "Threshold / rival",
            "Scope",
            "Snapshot",
            "First reached",
            "Projection or note",
        )
    )
    return (
        '<section id="claims"><h2>Claims checked</h2>'
        f'<div class="scroll"><table><caption>Each claim as <code>collector verify</code> '
        f"checks it ({escape(f.claims_source)})</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
        + downloads(["data/claims.csv", "data/claims.json"], "these verdicts")
        + "</section>"
    )


def _top(f: FamilyData) -> str:
    top = f.top
    columns = [
        ("rank", "Rank"),
        ("repo_id", "Repo"),
        ("role", "Role"),
        ("relation", "Relation"),
        ("depth", "Depth"),
        ("downloads_all_time", "All time"),
        ("share_text", "Share"),
        ("downloads_30d", "Last 30 days"),
        ("likes", "Likes"),
    ]
    rows = [r | {"share_text": _share(r.get("share"))} for r in top["rows"]]
    return (
        f'<section id="top"><h2>Top {len(rows)} of {num(top["repos"])} repos</h2>'
        + table(
            columns,
            rows,
            f"By downloads_all_time at {top['until']}; share of the family's "
            f"{num(top['family_total'])}",
            ["rank", "depth", "downloads_all_time", "share_text", "downloads_30d", "likes"],
            row_header="repo_id",
        )
        + downloads(["data/top.csv", "data/top.json"], "this table")
        + "</section>"
    )


def _share(share: float | None) -> str:
    return "" if share is None else f"{share * 100:.2f}%"


def _split(f: FamilyData, split: dict[str, Any], dimension: str) -> str:
    rows = split["totalled"]
    groups = split["groups"]
    drawn = svg.LineChart(
        f"{f.family}: cumulative downloads by {dimension}",
        f"One line per {dimension} group; the latest values are in the table below.",
        [r["date"] for r in rows],
        [svg.Series(str(g), [r[g] for r in rows]) for g in groups],
        log=True,
    )
    chart = svg.legend(drawn) + svg.line_chart(drawn, f"by-{dimension}")
    last = rows[-1] if rows else {}
    title = "relation" if dimension == "relation" else "lineage depth (0 = official)"
    return (
        f'<section id="by-{dimension}"><h2>Split by {title}</h2>'
        + f"<figure>{chart}<figcaption>Log scale: small groups stay visible.</figcaption></figure>"
        + table(
            [("group", dimension.capitalize()), ("downloads_all_time", "All time"), ("share", "%")],
            split["latest"],
            f"At {last.get('date')}, as `collector report --by {dimension}` prints it",
            ["downloads_all_time", "share"],
            row_header="group",
        )
        + downloads([f"data/by-{dimension}.csv", f"data/by-{dimension}.json"], "this split")
        + "</section>"
    )


def _comparisons(f: FamilyData, names: dict[str, str]) -> str:
    if not f.comparisons:
        return ""
    parts = ['<section id="compare"><h2>Compared with other families</h2>']
    for c in f.comparisons:
        a, b = c["families"]
        rows = c["series"]
        drawn = svg.LineChart(
            f"{a} vs {b}: downloads_all_time",
            f"Cumulative downloads of {a} and {b} on the dates both have a snapshot.",
            [r["date"] for r in rows],
            [svg.Series(a, [r[a] for r in rows]), svg.Series(b, [r[b] for r in rows])],
        )
        chart = svg.legend(drawn) + svg.line_chart(drawn, f"compare-{names[b]}")
        parts.append(
            f'<h3>{escape(a)} vs <a href="../{names[b]}/index.html">{escape(b)}</a></h3>'
            + "".join(f"<p>{escape(s)}.</p>" for s in c["sentences"])
            + f"<figure>{chart}</figure>"
            + downloads(
                [f"data/compare-{names[b]}.csv", f"data/compare-{names[b]}.json"], "this chart"
            )
        )
    return "".join(parts) + "</section>"


def _lineage(f: FamilyData) -> str:
    items = []
    for w in f.lineage:
        if not w["member"]:
            continue
        steps = "".join(
            f"<li><strong>{escape(s['repo_id'])}</strong> "
            f"<span class=muted>({escape(s['relation'] or s['role'])}, depth {s['depth']}, "
            f"{num(s['downloads_all_time'])} downloads)</span></li>"
            for s in w["chain"]
        )
        items.append(f"<h3>{escape(w['repo_id'])}</h3><ol class=chain>{steps}</ol>")
    return (
        '<section id="lineage"><h2>Lineage of the biggest derivatives</h2>'
        "<p>Why each counts in the family: its <code>base_model</code> chain from an official "
        "repo, as <code>collector why</code> shows it.</p>"
        + "".join(items)
        + downloads(["data/lineage.json"], "these chains")
        + "</section>"
    )


def _sources(site: SiteData, f: FamilyData) -> str:
    columns = [
        ("run_id", "Run"),
        ("started_at", "Snapshot time (UTC)"),
        ("status", "Status"),
        ("source", "Source"),
        ("revision", "Revision"),
        ("strategy", "Strategy"),
        ("members", "Members"),
        ("requests", "Requests"),
        ("retries", "Retries"),
        ("rejected", "Data problems"),
        ("error", "Error"),
    ]
    return (
        '<section id="sources"><h2>Sources behind these figures</h2>'
        "<p>Every figure is a sum of the Hub API's <code>downloadsAllTime</code>, "
        "<code>downloads</code> and <code>likes</code> over the members found by each "
        "collection run; a day counts its last complete run. A run's source is "
        "<code>hub</code> for collector's own snapshot of the Hub API, or the dataset it "
        "was imported from, at the revision shown. Runs, newest first:</p>"
        + table(
            columns,
            [r | f.sources.get(r["run_id"], {}) for r in f.runs],
            f"The latest {len(f.runs)} collection runs of {f.family}, as `collector runs` lists them",
            ["run_id", "members", "requests", "retries", "rejected"],
            row_header="run_id",
        )
        + downloads(["data/runs.csv", "data/runs.json"], "this table")
        + f"<p class=muted>collector {escape(site.version)}; schema "
        f"{escape(', '.join(site.schema))}.</p></section>"
    )
