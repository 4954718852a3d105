"""Commands that keep the warehouse file: migrate, backup, restore."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from collector.cli.app import DbOpt, app, errors


@app.command()
@errors
def migrate(*, db: DbOpt = None) -> None:
    """Create the warehouse or bring its schema up to date."""
    from collector.store import warehouse

    with warehouse.writer(db):
        pass
    typer.echo(f"{warehouse.db_path(db)}: schema up to date")


@app.command(name="backup")
@errors
def backup_cmd(
    directory: Annotated[Path, typer.Argument(help="Folder to keep backups in.")],
    *,
    keep: Annotated[
        int | None, typer.Option("--keep", min=1, help="Keep only the newest N backups there.")
    ] = None,
    db: DbOpt = None,
) -> None:
    """Copy the warehouse consistently into a new backup folder, even while the daemon runs."""
    from collector.store import backup as backup_mod

    made = backup_mod.backup(db, directory, keep=keep)
    typer.echo(_backup_line("Backed up", made))


@app.command()
@errors
def restore(
    source: Annotated[Path, typer.Argument(help="A backup folder, or a folder of backups.")],
    *,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing warehouse (kept aside).")
    ] = False,
    db: DbOpt = None,
) -> None:
    """Put a backup in place as the warehouse (the newest one in a folder of backups)."""
    from collector.store import backup as backup_mod

    done = backup_mod.restore(source, db, force=force)
    typer.echo(_backup_line(f"Restored {done['restored_to']} from", done))
    for path in done["moved_aside"]:
        typer.echo(f"The warehouse it replaced is kept as {path}", err=True)


def _backup_line(what: str, m: dict[str, Any]) -> str:
    runs = m["tables"].get("runs", 0)
    removed = f"; removed {len(m['removed'])} older" if m.get("removed") else ""
    return (
        f"{what} {m['path']}: {runs:,} runs, {sum(m['tables'].values()):,} rows in "
        f"{len(m['tables'])} tables, taken {m['created_at']}{removed}"
    )
