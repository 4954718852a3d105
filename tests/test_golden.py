"""Golden output: every format of every report command, through the real CLI.

The files live in tests/golden/; their numbers are the hand computation in
tests/report_data.py. Tables are kept at 80, 120 and 200 columns (NAME.wWIDTH.txt): at
each width no line is longer, and every number is whole (never split, never cut). After an intended change of output, regenerate them with
`COLLECTOR_UPDATE_GOLDEN=1 pytest tests/test_golden.py` and review the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests import report_data
from tests.conftest import Cli

GOLDEN = Path(__file__).parent / "golden"
WIDTHS = [80, 120, 200]
TABLES = [f"table-{w}" for w in WIDTHS]
FORMATS = [*TABLES, "json", "csv", "tsv", "markdown"]
HUMAN_AND_JSON = [*TABLES, "json"]
EXT = {"table": "txt", "json": "json", "csv": "csv", "tsv": "tsv", "markdown": "md"}
NOW = "2026-02-04T00:00:00"


@pytest.fixture
def sample(isolated_env: Path) -> Path:
    return report_data.install(isolated_env)


def check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("COLLECTOR_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with COLLECTOR_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"output differs from {path}"


# A number as a table shows it: 1,234,567 or 12.5 or 704.9M or 62.22%; and dates.
NUMBER = re.compile(r"-?\d{1,3}(,\d{3})*(\.\d+)?[KMBT%]?")
NUMBERISH = re.compile(r"-?[\d,.]+[KMBT%]?")
DATE = re.compile(r"\d{4}-(W\d{2}|\d{2}(-\d{2})?)")


def check_fits(text: str, width: int) -> None:
    """No line longer than the terminal; in table rows no number cut (…) or split."""
    in_rows = False
    for line in text.splitlines():
        assert len(line) <= width, f"{len(line)} > {width}: {line!r}"
        assert "…" not in line, line
        if "───" in line:
            in_rows = True
        elif not line.strip():
            in_rows = False
        elif in_rows:
            for token in line.split():
                if NUMBERISH.fullmatch(token) and not DATE.fullmatch(token):
                    assert NUMBER.fullmatch(token), f"split {token!r}: {line!r}"


def run(cli: Cli, name: str, fmt: str, *args: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if fmt.startswith("table-"):
        width = int(fmt.removeprefix("table-"))
        monkeypatch.setenv("COLUMNS", str(width))
        result = cli(*args, "--format", "table", now=NOW)
        check_fits(result.stdout, width)
        check(f"{name}.w{width}.txt", result.stdout)
        return
    result = cli(*args, "--format", fmt, now=NOW)
    check(f"{name}.{EXT[fmt]}", result.stdout)


def cases(first: tuple[str, list[str]], *more: tuple[str, list[str]]) -> list:
    """Every format of a command's main case; table and JSON of its other cases."""
    out = [pytest.param(first[0], first[1], fmt, id=f"{first[0]}-{fmt}") for fmt in FORMATS]
    for name, args in more:
        out += [pytest.param(name, args, fmt, id=f"{name}-{fmt}") for fmt in HUMAN_AND_JSON]
    return out


@pytest.mark.parametrize(
    "name, args, fmt",
    cases(
        ("report", ["report", "--family", "qwen"]),
        ("report-every-week", ["report", "--every", "week"]),
        ("report-every-month", ["report", "--every", "month", "--since", "2026-01"]),
        ("report-by-relation", ["report", "--by", "relation"]),
        ("report-by-depth-month", ["report", "--by", "depth", "--every", "month"]),
    ),
)
def test_report(
    sample: Path, cli: Cli, name: str, args: list[str], fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(cli, name, fmt, *args, monkeypatch=monkeypatch)


@pytest.mark.parametrize(
    "name, args, fmt",
    cases(
        ("top", ["top"]),
        ("top-limit-likes", ["top", "--by", "likes", "--limit", "2", "--until", "2026-01-08"]),
        (
            "top-new",
            ["top", "--by", "new_downloads", "--since", "2026-01-07", "--until", "2026-01-12"],
        ),
    ),
)
def test_top(
    sample: Path, cli: Cli, name: str, args: list[str], fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(cli, name, fmt, *args, monkeypatch=monkeypatch)


@pytest.mark.parametrize(
    "name, args, fmt",
    cases(
        ("compare", ["compare", "qwen", "llama"]),
        ("compare-carry", ["compare", "qwen", "llama", "gemma", "--align", "carry-forward"]),
    ),
)
def test_compare(
    sample: Path, cli: Cli, name: str, args: list[str], fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(cli, name, fmt, *args, monkeypatch=monkeypatch)


@pytest.mark.parametrize(
    "name, args, fmt",
    cases(
        ("verify-700m", ["verify", "700M+ downloads"]),
        ("verify-1b-projection", ["verify", "1B downloads", "--as-of", "2026-01-12"]),
        ("verify-passed", ["verify", "Qwen passed Llama"]),
    ),
)
def test_verify(
    sample: Path, cli: Cli, name: str, args: list[str], fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(cli, name, fmt, *args, monkeypatch=monkeypatch)


@pytest.mark.parametrize("fmt", FORMATS)
def test_members(sample: Path, cli: Cli, fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    run(cli, "members-gemma", fmt, "members", "--family", "gemma", monkeypatch=monkeypatch)


@pytest.mark.parametrize("fmt", FORMATS)
def test_why(sample: Path, cli: Cli, fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    run(cli, "why", fmt, "why", "carol/Qwen2.5-7B-sft-GGUF", monkeypatch=monkeypatch)


@pytest.mark.parametrize("fmt", FORMATS)
def test_export(
    sample: Path, cli: Cli, fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run(cli, "export", fmt, "export", "--out", "out", monkeypatch=monkeypatch)


@pytest.mark.parametrize(
    "name, args",
    [
        ("badge-downloads", ["badge"]),
        ("badge-likes", ["badge", "--family", "llama", "--metric", "likes", "--color", "#4c1"]),
        ("badge-derivatives", ["badge", "--metric", "derivatives", "--label", "Qwen <derived>"]),
    ],
)
def test_badge(sample: Path, cli: Cli, name: str, args: list[str]) -> None:
    # a badge has one format, SVG, on stdout with `-o -` (the default)
    check(f"{name}.svg", cli(*args, now=NOW).stdout)
