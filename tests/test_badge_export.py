"""`badge` (a local shields-style SVG) and `export` (date-partitioned Parquet/CSV)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pytest

from tests import report_data
from tests.conftest import Cli

M = report_data.M
NOW = "2026-02-04T00:00:00"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def sample(isolated_env: Path) -> Path:
    return report_data.install(isolated_env)


def test_badge_file(sample: Path, cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "badge.svg"
    result = cli(
        "badge", "--family", "qwen", "--metric", "downloads_all_time", "-o", str(out), now=NOW
    )
    assert result.stdout == (
        f"{out}: qwen downloads 900M (downloads_all_time 900,000,000 at 2026-02-02)\n"
    )
    root = ET.parse(out).getroot()
    assert root.get("aria-label") == "qwen downloads: 900M"
    texts = [e.text for e in root.iter(f"{SVG}text")]
    assert texts == ["qwen downloads", "qwen downloads", "900M", "900M"]  # shadow + text
    rects = [(r.get("fill"), int(r.get("width", "0"))) for r in root.iter(f"{SVG}rect")]
    (_, clip), (label_fill, label), (value_fill, value), (_, shade) = rects
    assert (label_fill, value_fill) == ("#555", "#007ec6")
    # the badge is as wide as its two boxes; text widths come from Verdana 11px metrics
    assert int(root.get("width", "0")) == clip == shade == label + value
    assert (label, value) == (102, 41)


def test_badge_as_of_and_options(sample: Path, cli: Cli) -> None:
    svg = cli(
        "badge",
        "--metric",
        "downloads_30d",
        "--as-of",
        "2026-01-08",
        "--label",
        "Qwen & co",
        "--color",
        "#e05d44",
        now=NOW,
    ).stdout
    root = ET.fromstring(svg)
    assert root.get("aria-label") == "Qwen & co: 62M"  # escaped in the file, read back
    assert "Qwen &amp; co" in svg and 'fill="#e05d44"' in svg


@pytest.mark.parametrize(
    "args, message",
    [
        (["badge", "--color", "blue"], "bad colour 'blue'"),
        (["badge", "--family", "mistral"], "no snapshots of family 'mistral'"),
        (["badge", "--as-of", "2025-12-01"], "no snapshot of qwen on or before 2025-12-01"),
        (["badge", "-o", "missing/b.svg"], "does not exist"),
    ],
)
def test_badge_bad_input(sample: Path, cli: Cli, args: list[str], message: str) -> None:
    result = cli(*args, now=NOW, ok=False)
    assert result.exit_code == 2 and message in result.stderr, result.output


def _views(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_export_parquet_reads_back_in_duckdb_and_pyarrow(
    sample: Path, cli: Cli, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    cli("export", "--file-format", "parquet", "--out", str(out), now=NOW)
    dates = sorted(p.name for p in (out / "family_daily").iterdir())
    assert dates == [
        "date=2026-01-05",
        "date=2026-01-06",
        "date=2026-01-07",
        "date=2026-01-08",
        "date=2026-01-12",
        "date=2026-02-02",
        "date=2026-02-03",
    ]
    cols = "family, date, run_id, downloads_all_time, new_downloads"
    exported = duckdb.sql(
        f"SELECT {cols} FROM read_parquet('{out}/family_daily/*/*.parquet', "
        "hive_partitioning = true) ORDER BY family, date"
    ).fetchall()
    assert exported == _views(sample, f"SELECT {cols} FROM family_daily ORDER BY family, date")
    members = duckdb.sql(
        f"SELECT family, date, repo_id, downloads_all_time FROM read_parquet("
        f"'{out}/members_daily/*/*.parquet', hive_partitioning = true) ORDER BY ALL"
    ).fetchall()
    assert len(members) == 36  # qwen 4+4+4+5+5, llama 2x5, gemma 2x2
    assert members == _views(
        sample, "SELECT family, date, repo_id, downloads_all_time FROM members_daily ORDER BY ALL"
    )
    # another engine: pyarrow's dataset reader with hive partitions
    table = ds.dataset(out / "family_daily", format="parquet", partitioning="hive").to_table()
    qwen = sorted(
        (str(d), v)
        for f, d, v in zip(
            table["family"].to_pylist(),
            table["date"].to_pylist(),
            table["downloads_all_time"].to_pylist(),
            strict=True,
        )
        if f == "qwen"
    )
    assert qwen[-1] == ("2026-02-02", 900 * M)


def test_export_csv_filtered(sample: Path, cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "csv"
    cli(
        "export",
        "--file-format",
        "csv",
        "--out",
        str(out),
        "--family",
        "llama",
        "--since",
        "2026-01-07",
        "--until",
        "2026-01-08",
        now=NOW,
    )
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*.csv"))
    assert files == [
        "family_daily/date=2026-01-07/data_0.csv",
        "family_daily/date=2026-01-08/data_0.csv",
        "members_daily/date=2026-01-07/data_0.csv",
        "members_daily/date=2026-01-08/data_0.csv",
    ]
    text = (out / "family_daily" / "date=2026-01-08" / "data_0.csv").read_text()
    header, row = text.splitlines()
    assert header.startswith("family,run_id,started_at,repos,downloads_all_time,")
    assert row.split(",")[0] == "llama" and row.split(",")[4] == str(713 * M)


def test_export_refuses_to_overwrite_and_keeps_what_is_there(
    sample: Path, cli: Cli, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    cli("export", "--out", str(out), "--family", "gemma", now=NOW)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    result = cli("export", "--out", str(out), now=NOW, ok=False)
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {out / 'family_daily'} already exists; pass --overwrite to replace it\n"
    )
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    cli("export", "--out", str(out), "--overwrite", now=NOW)
    assert len(list((out / "family_daily").iterdir())) == 7
    assert not [p for p in out.iterdir() if p.name.startswith(".export-")]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--family", "mistral"], "no snapshots of family 'mistral'"),
        (["--file-format", "xlsx"], "Invalid value for '--file-format'"),
    ],
)
def test_export_bad_input_writes_nothing(
    sample: Path, cli: Cli, tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "out"
    result = cli("export", "--out", str(out), *args, now=NOW, ok=False)
    assert result.exit_code == 2 and message in result.output
    assert not out.exists()


def test_export_out_is_a_file(sample: Path, cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("keep")
    result = cli("export", "--out", str(target), now=NOW, ok=False)
    assert result.exit_code == 2 and "not a directory" in result.stderr
    assert target.read_text() == "keep"
