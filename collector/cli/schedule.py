"""Commands of scheduled collection: daemon, runs, status."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from collector.cli.app import (
    ColumnsOpt,
    DbOpt,
    FamiliesOpt,
    FormatOpt,
    SchedulesOpt,
    WideOpt,
    app,
    errors,
    notice,
    out,
    quiet_hub,
)
from collector.output import documents
from collector.output.render import Format


@app.command()
@errors
def daemon(
    *,
    schedules: SchedulesOpt = None,
    db: DbOpt = None,
    families: FamiliesOpt = None,
    stop_wait: Annotated[
        float, typer.Option("--stop-wait", min=0, help="On SIGTERM, seconds to wait for a run.")
    ] = 60.0,
) -> None:
    """Take the schedules' snapshots until SIGTERM/SIGINT, logging each run on stderr."""
    from collector.scheduling.daemon import Daemon
    from collector.scheduling.schedules import load_schedules

    quiet_hub()
    loaded = load_schedules(schedules, families)
    code = Daemon(
        loaded,
        db=db,
        families_file=families,
        stop_wait=stop_wait,
        log=lambda line: typer.echo(line, err=True),
    ).serve()
    if code:  # a run is stuck in its worker thread, which would hold the interpreter open
        sys.stderr.flush()
        os._exit(code)


@app.command()
@errors
def runs(
    *,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="The newest N runs.")] = 20,
    family: Annotated[str | None, typer.Option("--family", "-f", help="Only this family.")] = None,
    fmt: FormatOpt = Format.table,
    wide: WideOpt = False,
    columns: ColumnsOpt = None,
    db: DbOpt = None,
) -> None:
    """The history of collection runs, newest first, with their outcome."""
    from collector.scheduling import status as history
    from collector.store import warehouse

    with warehouse.reader(db) as con:
        notice(warehouse.is_simulated(con))
        rows = history.run_history(con, limit, family)
    out(documents.runs(rows), fmt, wide, columns)


@app.command()
@errors
def status(
    *,
    schedules: SchedulesOpt = None,
    db: DbOpt = None,
    families: FamiliesOpt = None,
    fmt: FormatOpt = Format.table,
    wide: WideOpt = False,
    columns: ColumnsOpt = None,
) -> None:
    """Per schedule: newest successful snapshot, next run, and whether it is late (exit 1)."""
    from collector.dates import now_utc
    from collector.scheduling import status as history
    from collector.scheduling.schedules import load_schedules

    now = now_utc()
    state = history.schedule_status(load_schedules(schedules, families), db, now)
    out(documents.status(state, now), fmt, wide, columns)
    if state["warnings"]:
        if fmt in (Format.csv, Format.tsv):
            for w in state["warnings"]:
                typer.echo(f"Warning: {w}", err=True)
        raise typer.Exit(1)
