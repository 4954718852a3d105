"""Charts: files written by `--chart`, and the figures the library builds for them."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

import pytest

from collector.output import charts
from collector.output.render import compact
from collector.reports import claims, compare
from collector.reports import series as reports
from collector.store import warehouse
from tests import report_data
from tests.conftest import Cli

M = report_data.M
NOW = "2026-02-04T00:00:00"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def sample(isolated_env: Path) -> Path:
    return report_data.install(isolated_env)


def svg_ids(path: Path) -> set[str]:
    return {e.get("id", "") for e in ET.parse(path).iter()}


def svg_texts(path: Path) -> str:
    return " ".join("".join(e.itertext()) for e in ET.parse(path).iter(f"{SVG}text"))


@pytest.mark.parametrize(
    "value, text",
    [
        (0, "0"),
        (950, "950"),
        (1500, "1.5K"),
        (700 * M, "700M"),
        (1_234_000_000, "1.2B"),
        (999_960_000, "1B"),
        (12_500, "12.5K"),
        (-3 * M, "-3M"),
        (None, "n/a"),
    ],
)
def test_compact_labels(value: float | None, text: str) -> None:
    assert compact(value) == text


def test_verify_chart_svg_has_threshold_reached_and_anomaly(
    sample: Path, cli: Cli, tmp_path: Path
) -> None:
    out = tmp_path / "verify.svg"
    result = cli("verify", "700M+ downloads", "--chart", str(out), now=NOW)
    assert result.stderr == f"Chart written to {out}\n"
    ids = svg_ids(out)
    assert {"line-qwen (family)", "threshold", "reached", "anomaly-2026-01-08"} <= ids
    assert "projection" not in ids  # met: nothing to project
    texts = svg_texts(out)
    for label in (
        "claim: 700M",
        "reached 2026-01-06",
        "1 decrease",
        "700M",
        "900M",
        "qwen: 700M+ downloads: supported at 2026-02-02",
    ):
        assert label in texts, label
    # same data, same bytes: SVGs can be committed and diffed
    again = tmp_path / "again.svg"
    cli("verify", "700M+ downloads", "--chart", str(again), now=NOW)
    assert out.read_bytes() == again.read_bytes()


def test_verify_chart_projection_figure(sample: Path) -> None:
    with warehouse.reader() as con:
        claim = claims.parse_claim("1B downloads")
        result = claims.verify(con, claim, "qwen", date(2026, 1, 12))
        points = claims.claim_series(con, claim, "qwen", date(2026, 1, 12))
    chart = charts.verify_chart(result, points)
    fig = charts.figure(chart)
    ax = fig.axes[0]
    by_gid = {line.get_gid(): line for line in ax.get_lines()}
    measured = by_gid["line-qwen (family)"]
    assert list(measured.get_ydata()) == [660 * M, 700 * M, 712 * M, 755 * M]
    assert list(by_gid["threshold"].get_ydata()) == [1000 * M, 1000 * M]
    proj = by_gid["projection"]
    assert list(proj.get_xdata()) == [date(2026, 1, 12), date(2026, 2, 2)]
    assert list(proj.get_ydata()) == [755 * M, 1000 * M]
    assert proj.get_label() == "projection: 2026-02-02"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["qwen (family)", "claim: 1B", "projection: 2026-02-02"]
    fig.canvas.draw()
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert "1B" in ticks and "700M" in ticks  # readable labels, not 1e9


def test_compare_chart_png_and_crossing(sample: Path, cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "compare.png"
    cli("compare", "qwen", "llama", "--chart", str(out), "--log", now=NOW)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (900, 500)
    with warehouse.reader() as con:
        result = compare.compare(con, ["qwen", "llama"])
    fig = charts.figure(charts.compare_chart(result, log=True))
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert [line.get_label() for line in ax.get_lines()] == ["qwen", "llama", "_child2"]
    crossing = ax.get_lines()[2]
    assert crossing.get_gid() == "crossing-2026-01-12"
    assert [t.get_text() for t in ax.texts] == ["qwen passed llama 2026-01-12"]


def test_compare_chart_svg(sample: Path, cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "compare.svg"
    cli("compare", "qwen", "llama", "--align", "carry-forward", "--chart", str(out), now=NOW)
    ids = svg_ids(out)
    assert {
        "line-qwen",
        "line-llama",
        "crossing-2026-01-06",
        "crossing-2026-01-07",
        "crossing-2026-01-12",
    } <= ids
    assert "llama passed qwen 2026-01-07" in svg_texts(out)


def test_report_chart_lines_and_anomalies(sample: Path, cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "report.svg"
    cli("report", "--chart", str(out), now=NOW)
    ids = svg_ids(out)
    assert {
        "line-qwen (all members)",
        "line-official repos",
        "line-derivatives",
        "anomaly-2026-01-08",
    } <= ids
    with warehouse.reader() as con:
        series = reports.daily_series(con, "qwen")
    ax = charts.figure(charts.report_chart("qwen", series.rows, series.anomalies)).axes[0]
    lines = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()}
    assert lines["derivatives"] == [60 * M, 65 * M, 65 * M, 75 * M, 90 * M]
    assert lines["anomalies"] == [712 * M]  # on the family line, at the 01-08 decrease


def test_report_by_chart_one_line_per_group(sample: Path, cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "by.svg"
    cli("report", "--by", "relation", "--log", "--chart", str(out), now=NOW)
    assert {"line-official", "line-finetune", "line-quantized", "line-total"} <= svg_ids(out)
    assert "qwen: cumulative downloads by relation" in svg_texts(out)


@pytest.mark.parametrize(
    "name, message",
    [("chart.pdf", "ending in .png or .svg"), ("missing/chart.png", "does not exist")],
)
def test_bad_chart_path_fails_before_output(
    sample: Path, cli: Cli, tmp_path: Path, name: str, message: str
) -> None:
    result = cli("verify", "700M+ downloads", "--chart", str(tmp_path / name), now=NOW, ok=False)
    assert result.exit_code == 2 and message in result.stderr
    assert result.stdout == ""


def test_terminal_chart_text(sample: Path) -> None:
    with warehouse.reader() as con:
        series = reports.daily_series(con, "qwen")
    text = charts.terminal_chart(charts.report_chart("qwen", series.rows))
    assert "qwen: cumulative downloads" in text
    assert "900M" in text and "660M" in text and "2026-01-05" in text
    assert "\x1b[" not in text  # no colour codes
    assert charts.terminal_chart(charts.report_chart("qwen", series.rows[:1])) == ""


def _run_on_tty(args: list[str], db: Path) -> str:
    """Run the CLI with stdout on a pseudo-terminal; return what it printed."""
    controller, child = pty.openpty()
    env = {**os.environ, "COLLECTOR_DB": str(db), "PYTHONPATH": str(Path.cwd()), "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "collector", *args], stdout=child, stderr=subprocess.PIPE, env=env
    )
    os.close(child)
    chunks = []
    while True:
        ready, _, _ = select.select([controller], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=30)
    os.close(controller)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    return b"".join(chunks).decode()


def test_report_on_a_terminal_shows_a_small_chart(sample: Path) -> None:
    shown = _run_on_tty(["report"], sample)
    assert "qwen: cumulative downloads" in shown and "900M" in shown
    hidden = _run_on_tty(["report", "--no-chart"], sample)
    assert "qwen: downloads, daily" in hidden and "cumulative downloads" not in hidden
    assert "cumulative downloads" not in _run_on_tty(["report", "--format", "csv"], sample)


def test_chart_of_simulated_data_says_so(cli: Cli, tmp_path: Path) -> None:
    example = Path(__file__).parent.parent / "warehouse.duckdb.example"
    out = tmp_path / "example.svg"
    cli("compare", "qwen", "llama", "--db", str(example), "--chart", str(out))
    assert "footnote" in svg_ids(out)
    assert "Simulated data (make example), not real Hub figures" in svg_texts(out)


def test_chart_of_real_data_has_no_footnote(sample: Path, cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "real.svg"
    cli("compare", "qwen", "llama", "--chart", str(out), now=NOW)
    assert "footnote" not in svg_ids(out)
