"""The Python API (`import collector`) gives the CLI's numbers, and the README's Python
examples run and print what the README shows; `import collector.cli` stays light.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import collector
from tests import report_data
from tests.conftest import Cli

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
EXAMPLE = ROOT / "warehouse.duckdb.example"
NOW = "2026-02-04T00:00:00"
# what a reading command must not import: the snapshot, chart, export and daemon stacks
HEAVY = ("matplotlib", "plotext", "pyarrow", "huggingface_hub", "apscheduler", "httpx2", "pandas")


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A DataFrame as the CLI's JSON rows: ISO dates, None for missing values."""
    frame = frame.copy()
    for name in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[name]):
            frame[name] = frame[name].dt.strftime("%Y-%m-%d")
    plain = frame.astype(object).where(frame.notna(), None)
    return [{k: _py(v) for k, v in row.items()} for row in plain.to_dict("records")]


def _py(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def cli_json(cli: Cli, *args: str, now: str = NOW) -> Any:
    return json.loads(cli(*args, "--format", "json", now=now).stdout)


@pytest.fixture
def sample(isolated_env: Path) -> Path:
    return report_data.install(isolated_env)


@pytest.mark.parametrize(
    "kwargs, args",
    [
        ({}, []),
        ({"since": "2026-01-06", "until": "2026-01-12"}, ["--since", "2026-01-06", "--until", "2026-01-12"]),
        ({"every": "week"}, ["--every", "week"]),
        ({"by": "relation"}, ["--by", "relation"]),
        ({"by": "depth", "every": "month"}, ["--by", "depth", "--every", "month"]),
    ],
)  # fmt: skip
def test_daily_is_the_report(
    sample: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch, kwargs: dict, args: list[str]
) -> None:
    monkeypatch.setenv("COLLECTOR_NOW", NOW)
    frame = collector.daily("qwen", **kwargs)
    shown = cli_json(cli, "report", *args)
    assert records(frame) == shown["series"] and len(frame) >= 1
    if "by" not in kwargs:
        assert frame.attrs["anomalies"] == shown["anomalies"]
    if not kwargs:  # the hand-computed last day (tests/report_data.py)
        assert frame["downloads_all_time"].iloc[-1] == 900 * report_data.M


def test_members_top_compare_verify_are_the_cli(sample: Path, cli: Cli) -> None:
    m = collector.members("gemma")
    assert records(m) == cli_json(cli, "members", "--family", "gemma")["members"]
    assert list(m["repo_id"]) == ["google/gemma-2-2b", "z/gemma-2-2b-GGUF"]
    t = collector.top("qwen", by="new_downloads", since="2026-01-07", until="2026-01-12")
    shown = cli_json(
        cli, "top", "--by", "new_downloads", "--since", "2026-01-07", "--until", "2026-01-12"
    )
    assert records(t) == shown["rows"]
    assert list(t["new_downloads"]) == [
        35 * report_data.M,
        10 * report_data.M,
        5 * report_data.M,
        4 * report_data.M,
        2 * report_data.M,
    ]
    c = collector.compare(["qwen", "llama"], align="carry-forward")
    shown = cli_json(cli, "compare", "qwen", "llama", "--align", "carry-forward")
    assert records(c) == shown["series"] and c.attrs["crossings"] == shown["crossings"]
    v = collector.verify("700M+ downloads")
    assert v == cli_json(cli, "verify", "700M+ downloads")
    assert (v["verdict"], v["measured"], v["partial"]) == ("supported", 900 * report_data.M, False)
    # dates as date objects mean the same as the CLI's forms
    from datetime import date

    assert records(collector.daily("qwen", since=date(2026, 1, 6))) == records(
        collector.daily("qwen", since="2026-01-06")
    )


# fmt: skip


def test_the_api_reads_only(sample: Path) -> None:
    before = sample.read_bytes()
    collector.daily("qwen")
    collector.top("qwen", by="new_downloads")
    assert sample.read_bytes() == before


def test_bad_input_is_the_cli_error(sample: Path) -> None:
    from collector.errors import UsageError

    with pytest.raises(UsageError, match="no snapshots of family 'nope'"):
        collector.daily("nope")
    with pytest.raises(ValueError):
        collector.daily("qwen", every="fortnight")


def readme_python() -> list[tuple[str, str | None]]:
    """(code, printed output shown after it or None) of every python block of the README."""
    text = README.read_text()
    blocks = re.findall(r"```python\n(.*?)```\n(?:\n```text\n(.*?)```)?", text, re.S)
    return [(code, shown if shown else None) for code, shown in blocks]


def test_readme_python_examples_run_and_equal_the_cli(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = readme_python()
    assert len(blocks) >= 2
    (tmp_path / "warehouse.duckdb.example").symlink_to(EXAMPLE)
    monkeypatch.chdir(tmp_path)
    names: dict[str, Any] = {}
    for code, shown in blocks:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(code, names)  # noqa: S102 - the README's own example
        if os.environ.get("COLLECTOR_UPDATE_README") and shown is not None:
            README.write_text(README.read_text().replace(shown, out.getvalue(), 1))
        elif shown is not None:
            assert out.getvalue() == shown
    db = "warehouse.duckdb.example"
    report = cli_json(cli, "report", "--db", db, "--since", "2026-11-25")
    assert records(names["series"]) == report["series"]
    top = cli_json(
        cli, "top", "--db", db, "--by", "new_downloads", "--since", "2026-11-21", "--limit", "3"
    )
    assert records(names["top"]) == top["rows"]
    race = cli_json(cli, "compare", "qwen", "llama", "--db", db, "--since", "2026-11-25")
    assert records(names["race"]) == race["series"]
    assert names["claim"] == cli_json(cli, "verify", "700M+ downloads", "--db", db)
    members = cli_json(cli, "members", "--db", db)
    assert records(names["members"]) == members["members"]


# fmt: skip


def test_import_collector_cli_is_light() -> None:
    code = (
        "import sys, collector.cli, collector; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(sys.argv[1:])))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *HEAVY, "duckdb"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout  # fmt: skip
    assert out.strip() == "[]"


def test_version_answers_before_the_cli_is_imported(cli: Cli) -> None:
    code = (
        "import sys; sys.argv = ['collector', '--version']; "
        "from collector.console import main; main(); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'typer', 'click', 'rich'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert out == f"collector {collector.__version__}\n[]\n"
    # the same line as the CLI's own --version
    assert cli("--version").stdout == f"collector {collector.__version__}\n"
