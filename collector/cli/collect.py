"""Commands that talk to the Hub: snapshot, doctor, and backfill (with `sources`, what it imported)."""

from __future__ import annotations

from typing import Annotated

import typer

from collector.cli.app import (
    DEFAULT_FAMILY,
    DbOpt,
    FamiliesOpt,
    FamilyOpt,
    FormatOpt,
    QuietOpt,
    SinceOpt,
    UntilOpt,
    app,
    errors,
    out,
    quiet_hub,
)
from collector.errors import UsageError
from collector.families import Strategy
from collector.output.render import Format
from collector.reports.vocab import BackfillSource, Source


@app.command()
@errors
def snapshot(
    *,
    family: Annotated[
        list[str] | None, typer.Option("--family", "-f", help="Family to snapshot (repeatable).")
    ] = None,
    db: DbOpt = None,
    families: FamiliesOpt = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume/--fresh",
            help="Continue an unfinished snapshot of the same families where it stopped "
            "(the default; one line says so), or start over with --fresh.",
        ),
    ] = True,
    strategy: Annotated[
        Strategy | None,
        typer.Option(
            "--strategy",
            help="How to find the families' repos (default: each family's `strategy`): "
            "lineage (one listing per parent), hub (one crawl of every model on the Hub, "
            "shared by the families), auto (the cheaper of the two).",
        ),
    ] = None,
    official_only: Annotated[
        bool,
        typer.Option(
            "--official-only",
            help="Official repos only, in seconds; recorded as the family NAME:official.",
        ),
    ] = False,
    source: Annotated[
        list[Source] | None,
        typer.Option(
            "--source",
            help="Where to read the counters (repeatable): hub, or modelscope (the family's "
            "official org there). Default: each family's `sources` (else hub).",
        ),
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Take one snapshot of each family into the warehouse.

    Says first which strategy each family uses and why, how many requests that takes and
    how long under the Hub's rate limit; then shows progress with an ETA.
    """
    from collector.families import get_families
    from collector.output.documents import snapshot_line
    from collector.output.progress import SnapshotProgress
    from collector.snapshot.run import RunResult, take_snapshot
    from collector.store import warehouse

    if official_only and strategy is not None:
        raise UsageError("--official-only lists official repos by author; drop --strategy")
    quiet_hub()
    chosen = get_families(family or [DEFAULT_FAMILY], families)
    wanted = [s.value for s in source] if source else None
    on_hub = [f for f in chosen if "hub" in (wanted or f.sources)]
    on_modelscope = [f for f in chosen if "modelscope" in (wanted or f.sources)]
    if not on_hub and (strategy is not None or official_only):
        raise UsageError("--strategy and --official-only apply to Hub snapshots (--source hub)")
    results: list[RunResult] = []
    with SnapshotProgress(enabled=not quiet) as progress, warehouse.storage_errors("snapshot"):
        if on_hub:
            results += take_snapshot(
                on_hub,
                db=db,
                progress=progress,
                resume=resume,
                strategy=strategy.value if strategy else None,
                official_only=official_only,
            )
        if on_modelscope:
            from collector.snapshot.modelscope import take_modelscope_snapshot

            results += take_modelscope_snapshot(
                on_modelscope, db=db, progress=progress, resume=resume
            )
    for r in results:
        typer.echo(snapshot_line(r))
        if r.status == "partial":
            typer.echo(f"Warning: {r.family}: partial snapshot: {r.error}", err=True)
    if on_modelscope:
        from collector.reports.modelscope_data import WINDOW_NOTE

        typer.echo(f"Note: {WINDOW_NOTE}")


@app.command()
@errors
def doctor(*, fmt: FormatOpt = Format.table) -> None:
    """Check on the Hub, in a few requests, every assumption a snapshot makes (exit 1 if one
    that a snapshot needs is broken)."""
    from collector.output.documents import doctor as doctor_doc
    from collector.sources import doctor as doctor_mod
    from collector.sources.hub import HubClient

    quiet_hub()
    doc, broken = doctor_doc(doctor_mod.diagnose(HubClient()))
    out(doc, fmt)
    if broken:
        raise typer.Exit(1)


@app.command()
@errors
def backfill(
    *,
    family: FamilyOpt = DEFAULT_FAMILY,
    source: Annotated[
        BackfillSource,
        typer.Option(
            "--source",
            help="Dataset to import: modelpulse (modelpulse/model-pulse-data) or hubstats "
            "(the daily revisions of cfahlgren1/hub-stats).",
        ),
    ] = BackfillSource.modelpulse,
    since: SinceOpt = None,
    until: UntilOpt = None,
    revision: Annotated[
        str | None,
        typer.Option(
            "--revision", help="Dataset revision (commit sha) to import; default: newest."
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Compare the dataset with own snapshots on shared days (in --since/--until); "
            "store nothing.",
        ),
    ] = False,
    db: DbOpt = None,
    families: FamiliesOpt = None,
    fmt: FormatOpt = Format.table,
    quiet: QuietOpt = False,
) -> None:
    """Import a family's history before its first snapshot from a public dataset.

    One run per dataset day, recorded with its source, revision and lineage basis; days
    with an own snapshot are never replaced, and a rerun adds nothing.
    """
    from collector.dates import parse_range, today
    from collector.families import get_families
    from collector.output.progress import BackfillProgress
    from collector.snapshot import backfill as backfill_mod

    quiet_hub()
    fam = get_families([family], families)[0]
    lo, hi = parse_range(since, until, today=today())
    with BackfillProgress(enabled=not quiet) as progress:
        if check and source is BackfillSource.hubstats:
            if revision:
                raise UsageError(
                    "--revision: --source hubstats compares each day with that day's revision"
                )
            from collector.snapshot.hubstats_import import check_hubstats

            result = check_hubstats(fam, db=db, since=lo, until=hi, progress=progress)
        elif check:
            result = backfill_mod.check(
                fam, db=db, revision=revision, since=lo, until=hi, progress=progress
            )
        else:
            done = backfill_mod.backfill(
                fam,
                db=db,
                source=source.value,
                since=lo,
                until=hi,
                revision=revision,
                progress=progress,
            )
    if check:
        out(backfill_mod.check_document(result), fmt)
        return
    for line in backfill_mod.summary_lines(done):
        typer.echo(line)


@app.command()
@errors
def sources(*, fmt: FormatOpt = Format.table, db: DbOpt = None) -> None:
    """What was imported from public datasets: per family, source and revision, the days,
    the lineage basis and when."""
    from collector.output.render import Document
    from collector.snapshot import backfill as backfill_mod
    from collector.store import warehouse

    with warehouse.reader(db) as con:
        rows = backfill_mod.imported_sources(con)
    title = "imported history"
    out(Document(backfill_mod.SOURCE_COLUMNS, rows, {"sources": rows}, title=title), fmt)
