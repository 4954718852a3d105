"""Commands that write files from the warehouse: badge and export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from collector.cli.app import (
    DEFAULT_FAMILY,
    AsOfOpt,
    ColumnsOpt,
    DbOpt,
    FamilyOpt,
    FormatOpt,
    SinceOpt,
    UntilOpt,
    WideOpt,
    app,
    errors,
    notice,
    out,
)
from collector.dates import parse_range, parse_range_bound, today
from collector.errors import UsageError
from collector.output import documents
from collector.output.render import Format
from collector.reports.vocab import BADGE_COLOR, BadgeMetric, FileFormat


@app.command()
@errors
def badge(
    *,
    family: FamilyOpt = DEFAULT_FAMILY,
    metric: Annotated[
        BadgeMetric, typer.Option("--metric", "-m", help="The number on the badge.")
    ] = BadgeMetric.downloads_all_time,
    output: Annotated[
        str, typer.Option("--output", "-o", help="SVG file to write, or - for stdout.")
    ] = "-",
    label: Annotated[
        str | None, typer.Option(help='Left text (default: "FAMILY downloads").')
    ] = None,
    color: Annotated[str, typer.Option(help="Colour of the value box, #rgb or #rrggbb.")] = (
        BADGE_COLOR
    ),
    as_of: AsOfOpt = None,
    db: DbOpt = None,
) -> None:
    """A shields-style SVG badge of a family's downloads, made locally."""
    from collector.reports import badge as badge_mod
    from collector.store import warehouse

    day = parse_range_bound(as_of, end=True, today=today()) if as_of else None
    target = None if output == "-" else _writable(Path(output), "--output")
    with warehouse.reader(db) as con:
        notice(warehouse.is_simulated(con))
        made = badge_mod.make_badge(con, family, metric.value, day, label, color)
    if target is None:
        typer.echo(made["svg"], nl=False)
        return
    target.write_text(made["svg"], encoding="utf-8")
    typer.echo(
        f"{target}: {made['label']} {made['text']} "
        f"({made['metric']} {made['value']:,} at {made['date']})"
    )


def _writable(path: Path, option: str) -> Path:
    if path.is_dir():
        raise UsageError(f"{option} {path}: is a directory")
    if not path.parent.is_dir():
        raise UsageError(f"{option} {path}: directory {path.parent} does not exist")
    return path


@app.command(name="export")
@errors
def export_cmd(
    *,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Directory to write into.")],
    file_format: Annotated[
        FileFormat, typer.Option("--file-format", help="Format of the files written.")
    ] = FileFormat.parquet,
    family: Annotated[
        list[str] | None, typer.Option("--family", "-f", help="Only this family (repeatable).")
    ] = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    overwrite: Annotated[bool, typer.Option(help="Replace tables exported before.")] = False,
    fmt: FormatOpt = Format.table,
    wide: WideOpt = False,
    columns: ColumnsOpt = None,
    db: DbOpt = None,
) -> None:
    """Export the daily series and member counters as date-partitioned Parquet or CSV."""
    from collector.reports import export as export_mod
    from collector.store import warehouse

    start, stop = parse_range(since, until, today=today())
    with warehouse.reader(db) as con:
        notice(warehouse.is_simulated(con))
        written = export_mod.export(con, out_dir, file_format.value, family, start, stop, overwrite)
    out(documents.export(written, str(out_dir)), fmt, wide, columns)
