"""The README cannot drift: every `$ collector ... --db warehouse.duckdb.example` example in a
console block is run, and its output must be what the README shows. Every command and option
of the CLI must be mentioned in the README.

COLLECTOR_UPDATE_README=1 rewrites the README's outputs from real runs.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from collector.cli import app

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BLOCK = re.compile(r"```console\n(.*?)```", re.S)
# Commands whose output depends on the Hub, the clock or a running daemon are shown, not run.
NOT_RUN = ("snapshot", "daemon", "status")
# `COLUMNS=80 collector report ...`: the variables the example sets for its command
ENV_ASSIGNMENT = re.compile(r"^[A-Z_]+=\S*$")


def examples(text: str) -> list[tuple[str, str]]:
    """(command line, shown output) for every runnable example."""
    found = []
    for block in BLOCK.finditer(text):
        lines = block.group(1).splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            i += 1
            if not line.startswith("$ "):
                continue
            output = []
            while i < len(lines) and not lines[i].startswith("$ "):
                output.append(lines[i])
                i += 1
            argv = [a for a in shlex.split(line[2:]) if not ENV_ASSIGNMENT.match(a)]
            if (
                argv[0] == "collector"
                and "warehouse.duckdb.example" in argv
                and argv[1] not in NOT_RUN
            ):
                found.append((line[2:], "\n".join(output)))
    return found


def run_example(command: str, cwd: Path) -> str:
    (cwd / "warehouse.duckdb.example").symlink_to(ROOT / "warehouse.duckdb.example")
    (cwd / "docs").mkdir(exist_ok=True)
    old = Path.cwd()
    os.chdir(cwd)
    try:
        words = shlex.split(command)
        env = {"COLUMNS": "200"} | dict(w.split("=", 1) for w in words if ENV_ASSIGNMENT.match(w))
        argv = [w for w in words if not ENV_ASSIGNMENT.match(w)][1:]
        result = CliRunner().invoke(app, argv, env=env)
    finally:
        os.chdir(old)
    assert result.exit_code in (0, 1), result.output
    return result.stdout.rstrip("\n")


EXAMPLES = examples(README.read_text())


def test_readme_has_runnable_examples() -> None:
    commands = {[w for w in shlex.split(c) if not ENV_ASSIGNMENT.match(w)][1] for c, _ in EXAMPLES}
    assert {"report", "verify", "why", "top", "compare", "badge", "export"} <= commands


@pytest.mark.parametrize(("command", "shown"), EXAMPLES, ids=[c for c, _ in EXAMPLES])
def test_readme_example_output_is_real(command: str, shown: str, tmp_path: Path) -> None:
    actual = run_example(command, tmp_path)
    if os.environ.get("COLLECTOR_UPDATE_README"):
        text = README.read_text()
        block = f"$ {command}\n{shown}\n" if shown else f"$ {command}\n"
        assert block in text, command
        README.write_text(text.replace(block, f"$ {command}\n{actual}\n", 1))
        return
    assert actual == shown


def test_every_command_and_option_is_documented() -> None:
    text = README.read_text()
    group = typer.main.get_command(app)
    missing = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        if f"collector {name}" not in text:
            missing.append(f"collector {name}")
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--") and opt not in ("--help",) and opt not in text:
                    missing.append(f"{name} {opt}")
    assert missing == []
