"""Commands that read the warehouse: report, verify, members, top, compare, why."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from collector import api
from collector.cli.app import (
    DEFAULT_FAMILY,
    AsOfOpt,
    ChartOpt,
    ColumnsOpt,
    DbOpt,
    FamiliesOpt,
    FamilyOpt,
    FormatOpt,
    LogOpt,
    SinceOpt,
    UntilOpt,
    WideOpt,
    app,
    errors,
    notice,
    out,
    quiet_hub,
    save_chart,
)
from collector.errors import UsageError
from collector.output import documents
from collector.output.render import Format
from collector.reports.vocab import Align, Breakdown, CompareMetric, Period, Scope, Source, TopBy


def _known(families: str | None, *names: str) -> None:
    """With --families, a family named must be declared in that file (NAME:official too)."""
    if families is not None:
        from collector.families import get_families

        get_families([n.split(":")[0] for n in names], families)


@app.command()
@errors
def report(
    *,
    family: FamilyOpt = DEFAULT_FAMILY,
    since: SinceOpt = None,
    until: UntilOpt = None,
    by: Annotated[
        Breakdown | None, typer.Option("--by", help="Break cumulative downloads down.")
    ] = None,
    every: Annotated[
        Period | None,
        typer.Option(
            "--every",
            help="One row per period: its last cumulative values and the sum of its new_downloads.",
        ),
    ] = None,
    fmt: FormatOpt = Format.table,
    wide: WideOpt = False,
    columns: ColumnsOpt = None,
    chart: ChartOpt = None,
    log: LogOpt = False,
    no_chart: Annotated[bool, typer.Option("--no-chart", help="No chart in the terminal.")] = False,
    source: Annotated[
        Source,
        typer.Option(
            "--source",
            help="Whose counters: the Hub (default) or the family's ModelScope org(s).",
        ),
    ] = Source.hub,
    families: FamiliesOpt = None,
    db: DbOpt = None,
) -> None:
    """The family's cumulative-download trend, one row per day with a snapshot (or period)."""
    _known(families, family)
    reading = api.report_data(
        family, since=since, until=until, every=every, by=by, source=source, db=db
    )
    notice(reading.simulated)
    doc = documents.report(reading.data, reading.extra.get("groups"))
    out(doc, fmt, wide, columns)
    drawing = chart or (fmt is Format.table and not no_chart and sys.stdout.isatty())
    if not drawing:
        return
    from collector.output import charts

    if by is not None:
        drawn = charts.report_chart(family, doc.rows, (), reading.extra["groups"], log, by=by)
    else:  # the chart draws every day-run, whatever the table's periods
        days, anomalies = reading.extra["days"], reading.data["anomalies"]
        drawn = charts.report_chart(family, days, anomalies, None, log)
    if fmt is Format.table and not no_chart and sys.stdout.isatty():
        text = charts.terminal_chart(drawn)
        if text:
            typer.echo("\n" + text)
    if chart:
        save_chart(drawn, chart, reading.simulated)


@app.command()
@errors
def verify(
    claim: Annotated[
        str | None,
        typer.Argument(
            help='A claim such as "700M+ downloads by December 2025" or "qwen passed llama".'
        ),
    ] = None,
    *,
    claims_file: Annotated[
        Path | None,
        typer.Option("--claims", help="Check every claim of this TOML claim sheet instead."),
    ] = None,
    family: FamilyOpt = DEFAULT_FAMILY,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Date to check an undated claim at (default: latest)."),
    ] = None,
    scope: Annotated[
        Scope | None,
        typer.Option(
            help="Only this scope: official repos, the family with derivatives, or global "
            "(Hub family + ModelScope). Default: every scope."
        ),
    ] = None,
    fmt: FormatOpt = Format.table,
    wide: WideOpt = False,
    columns: ColumnsOpt = None,
    chart: ChartOpt = None,
    log: LogOpt = False,
    families: FamiliesOpt = None,
    db: DbOpt = None,
) -> None:
    """Check a claim against the warehouse: verdict, date, scope, evidence and projection."""
    from collector.reports import claim_words

    _known(families, family)
    if (claim is None) == (claims_file is None):
        raise UsageError('give one claim (e.g. "700M+ downloads") or --claims FILE')
    scope_name = scope.value if scope else None
    if claims_file is not None:
        if chart:
            raise UsageError("--chart draws one claim; it does not apply to --claims")
        if as_of:
            raise UsageError("--as-of does not apply to --claims: each claim has its date")
        sheet = api.verify_sheet_data(claims_file, family=family, scope=scope_name, db=db)
        notice(sheet.simulated)
        notes = [f"Note: {n}" for n in sheet.extra["notes"]]
        out(claim_words.sheet_document(sheet.extra["title"], sheet.data, notes), fmt, wide, columns)
        return
    if chart:
        from collector.dates import today
        from collector.output import charts
        from collector.reports.claims import parse_claim

        charts.check_path(chart)
        if parse_claim(claim or "", today()).kind == "growth" or scope_name == "global":
            raise UsageError("--chart draws threshold and 'passed' claims on the Hub scopes")
    reading = api.verify_data(
        claim or "", family=family, as_of=as_of, scope=scope_name, chart=chart is not None, db=db
    )
    parsed = reading.extra["claim"]
    notice(reading.simulated)
    result = reading.data
    out(claim_words.document(result), fmt, wide, columns)
    if chart:
        if parsed.versus:
            title = f"{parsed.text} ({result['verdict']})"
            drawn = charts.compare_chart(reading.extra["comparison"], log, title=title)
        else:
            points, anomalies = reading.extra["points"], reading.extra["anomalies"]
            drawn = charts.verify_chart(result, points, anomalies, log)
        save_chart(drawn, chart, reading.simulated)


@app.command()
@errors
def members(
    *,
    family: FamilyOpt = DEFAULT_FAMILY,
    as_of: AsOfOpt = None,
    unlinked: Annotated[
        bool,
        typer.Option(
            "--unlinked",
            help="Instead, list repos named like the family with no lineage "
            "to it (asks the Hub; never counted).",
        ),
    ] = False,
    dangling: Annotated[
        bool,
        typer.Option(
            "--dangling",
            help="Instead, list the base_model parents the snapshot's crawl could not "
            "resolve, with the repos tagging each (not members).",
        ),
    ] = False,
    families: FamiliesOpt = None,
    fmt: FormatOpt = Format.table,
    wide: WideOpt = False,
    columns: ColumnsOpt = None,
    db: DbOpt = None,
) -> None:
    """Every member of a family with role, relation, depth, parent and counters."""
    _known(families, family)
    if dangling and unlinked:
        raise UsageError("--dangling and --unlinked are two lists: give one")
    if dangling:
        found = api.dangling_data(family, as_of=as_of, db=db)
        notice(found.simulated)
        out(documents.dangling(found.data), fmt, wide, columns)
        return
    reading = api.members_data(family, as_of=as_of, db=db)
    notice(reading.simulated)
    data = reading.data
    if not unlinked:
        out(documents.members(data), fmt, wide, columns)
        return
    from collector.families import get_families
    from collector.snapshot import discovery
    from collector.sources.hub import HubClient
    from collector.sources.items import Problems

    quiet_hub()
    fam = get_families([family], families)[0]
    ids = {r["repo_id"] for r in data["members"]}
    records = discovery.unlinked(fam, HubClient(), ids, Problems())
    out(documents.unlinked(family, fam.search, records, data["as_of"]), fmt, wide, columns)


@app.command()
@errors
def top(
    *,
    family: FamilyOpt = DEFAULT_FAMILY,
    by: Annotated[
        TopBy, typer.Option("--by", help="Rank by this metric.")
    ] = TopBy.downloads_all_time,
    since: Annotated[
        str | None, typer.Option(help="First day of the range (--by new_downloads only).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Last day of the range, or the date to rank at.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many repos.")] = 10,
    fmt: FormatOpt = Format.table,
    wide: WideOpt = False,
    columns: ColumnsOpt = None,
    families: FamiliesOpt = None,
    db: DbOpt = None,
) -> None:
    """A family's repos ranked by downloads, new downloads over a range, downloads_30d or likes."""
    _known(families, family)
    reading = api.top_data(family, by=by, since=since, until=until, limit=limit, db=db)
    notice(reading.simulated)
    out(documents.top(reading.data), fmt, wide, columns)


@app.command(name="compare")
@errors
def compare_cmd(
    names: Annotated[list[str], typer.Argument(help="Two or more families.", metavar="FAMILIES")],
    *,
    metric: Annotated[
        CompareMetric, typer.Option("--metric", "-m", help="What to compare.")
    ] = CompareMetric.downloads_all_time,
    since: SinceOpt = None,
    until: UntilOpt = None,
    align: Annotated[
        Align,
        typer.Option(
            "--align",
            help="Dates every family has a snapshot on (common), or "
            "every date, carrying each family's last value forward.",
        ),
    ] = Align.common,
    fmt: FormatOpt = Format.table,
    wide: WideOpt = False,
    columns: ColumnsOpt = None,
    chart: ChartOpt = None,
    log: LogOpt = False,
    families: FamiliesOpt = None,
    db: DbOpt = None,
) -> None:
    """Families side by side over time, and when one passed another."""
    _known(families, *names)
    if chart:
        from collector.output import charts

        charts.check_path(chart)
    reading = api.compare_data(names, metric=metric, since=since, until=until, align=align, db=db)
    notice(reading.simulated)
    out(documents.compare(reading.data), fmt, wide, columns)
    if chart:
        save_chart(charts.compare_chart(reading.data, log), chart, reading.simulated)


@app.command()
@errors
def why(
    repo_id: Annotated[str, typer.Argument(help="Repo id, e.g. org/name.")],
    *,
    family: FamilyOpt = DEFAULT_FAMILY,
    fmt: FormatOpt = Format.table,
    wide: WideOpt = False,
    columns: ColumnsOpt = None,
    families: FamiliesOpt = None,
    db: DbOpt = None,
) -> None:
    """Why a repo counts in a family: its lineage chain from an official repo."""
    _known(families, family)
    answer = api.why_data(family, repo_id, db=db).data
    if not answer["member"] and fmt is not Format.json:
        typer.echo(answer["reason"])
        raise typer.Exit(1)
    out(documents.why(answer), fmt, wide, columns)
    if not answer["member"]:
        raise typer.Exit(1)
