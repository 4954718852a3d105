"""The command line: parses options, calls the library, renders the result. Nothing else.

`app.py` holds the typer app and the options every command shares; each group of
commands has its module: `collect.py` (snapshot, doctor, backfill, sources), `reading.py` (report, verify,
members, top, compare, why), `files.py` (badge, export, site), `upkeep.py` (migrate,
backup, restore), `schedule.py` (daemon, runs, status). A new command is a short
function in the module of its group.
"""

from __future__ import annotations

import sys

import typer

from collector.cli import collect, files, reading, schedule, upkeep
from collector.cli.app import app

__all__ = ["app", "collect", "files", "main", "reading", "schedule", "upkeep"]


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("Interrupted.", err=True)
        sys.exit(130)
