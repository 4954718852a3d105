"""The typer app and what its commands share: options, error handling, output, notices.

Start-up matters (`collector --version` should feel instant), so nothing here imports
duckdb, pandas, pyarrow, huggingface_hub, APScheduler or the chart libraries: commands
import what they need when they run.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from collector import __version__
from collector.errors import CollectorError
from collector.output.render import Document, Format, Layout, parse_columns

app = typer.Typer(
    name="collector",
    help="Download history of Hugging Face model families, in DuckDB.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich's help formatter costs start-up time
)
DEFAULT_FAMILY = "qwen"
F = TypeVar("F", bound=Callable[..., Any])

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db", help="Warehouse file.", envvar="COLLECTOR_DB", show_default="./warehouse.duckdb"
    ),
]
FamiliesOpt = Annotated[
    str | None,
    typer.Option(
        "--families",
        help="Families TOML file.",
        envvar="COLLECTOR_FAMILIES",
        show_default="packaged",
    ),
]
FamilyOpt = Annotated[str, typer.Option("--family", "-f", help="Family name.")]
FormatOpt = Annotated[Format, typer.Option("--format", help="Output format.")]
WideOpt = Annotated[
    bool, typer.Option("--wide", help="Tables: every column in full digits, however wide.")
]
ColumnsOpt = Annotated[
    str | None,
    typer.Option(
        "--columns", help="Only these columns, e.g. date,downloads_all_time (names or headers)."
    ),
]
SchedulesOpt = Annotated[
    str | None,
    typer.Option(
        "--schedules",
        help="Folder of schedule files (*.toml).",
        envvar="COLLECTOR_SCHEDULES",
        show_default="./schedules",
    ),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")]
SinceOpt = Annotated[
    str | None,
    typer.Option(help="First day: YYYY-MM-DD, YYYY-MM, this-month, last-month, Nd (N days ago)."),
]
UntilOpt = Annotated[str | None, typer.Option(help="Last day, same forms as --since.")]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="Date (default: latest).")]
ChartOpt = Annotated[
    Path | None, typer.Option("--chart", help="Also draw the chart to this .png or .svg file.")
]
LogOpt = Annotated[bool, typer.Option("--log", help="Chart on a log scale.")]


def errors(fn: F) -> F:
    """Turn a CollectorError into one line on stderr and its exit code (2 for usage)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CollectorError as exc:
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except Exception as exc:
            if not _storage_failure(exc):
                raise
            from collector.store import warehouse

            # the disk or the file failed: one line too
            typer.echo(f"Error: {warehouse.describe(exc)}", err=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def _storage_failure(exc: Exception) -> bool:
    """An OS or DuckDB error (duckdb is looked up, not imported: it may not be loaded)."""
    duckdb = sys.modules.get("duckdb")
    return isinstance(exc, OSError) or (duckdb is not None and isinstance(exc, duckdb.Error))


def out(doc: Document, fmt: Format, wide: bool = False, columns: str | None = None) -> None:
    """Render a command's document to stdout, tables fitted to the terminal."""
    from collector.output.render import render

    typer.echo(render(doc, fmt, Layout(wide=wide, columns=parse_columns(columns))))


def notice(simulated: bool) -> None:
    """Say on stderr when the warehouse holds simulated data."""
    if simulated:
        typer.echo(
            # short enough for an 80-column terminal, like the tables
            "Notice: simulated data (from `make example`), not real Hub figures.",
            err=True,
        )


def save_chart(chart: Any, path: Path, simulated: bool) -> None:
    """Write a chart file and say where."""
    from collector.output import charts

    if simulated:
        chart.footnote = "Simulated data (make example), not real Hub figures"
    charts.save(charts.figure(chart), path)
    typer.echo(f"Chart written to {path}", err=True)


def quiet_hub() -> None:
    """Silence huggingface_hub's own warnings: we retry and report Hub failures ourselves."""
    from huggingface_hub.utils import logging as hf_logging

    hf_logging.set_verbosity_error()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"collector {__version__}")
        raise typer.Exit()


@app.callback()
def callback(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = None,
) -> None:
    """Snapshot Hugging Face download counts of model families and check claims about them."""
