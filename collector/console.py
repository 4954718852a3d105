"""The console entry point (`collector`, `python -m collector`).

`collector --version` answers here, before the CLI and typer are imported (a tenth of a
second); everything else goes to the CLI.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Run the CLI; `--version` alone is answered without importing it."""
    if sys.argv[1:] == ["--version"]:
        from collector import __version__

        print(f"collector {__version__}")
        return
    from collector.cli import main as cli

    cli()
