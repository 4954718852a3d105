"""`collector site`: the static site's figures are the CLI's, its build is atomic and safe, and
the schedule rebuilds it.

The sample warehouse (tests/report_data.py) holds hand-computed values: qwen ends at
2026-02-02 with 900M downloads_all_time (official 560 + 250 = 810M, derivatives 65 + 15 + 10
= 90M, 5 repos, downloads_30d 40 + 15 + 6 + 1 + 2 = 64M, likes 1,586), and its day-runs in
the 30 days to 2026-02-02 added 40 + 13 + 43 + 145 = 241M new downloads (the first
day-run, 2026-01-05, has none). llama: 800M at 2026-02-03, 10 + 8 + 12 + 75 = 105M new
since 2026-01-05; gemma: 375M at 2026-02-02, 55M new.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from pathlib import Path

import pytest

from collector.scheduling.daemon import Daemon
from collector.scheduling.schedules import load_schedules
from collector.site import svg
from collector.site.build import MARKER
from tests import report_data
from tests.conftest import Cli
from tests.daemons import write_schedule
from tests.fakehub import FakeHub

M = 1_000_000


@pytest.fixture
def sample(isolated_env: Path) -> Path:
    return report_data.install(isolated_env)


def build(cli: Cli, out: Path) -> str:
    return cli("site", "--out", str(out)).stdout


def test_the_site_holds_the_hand_computed_figures(cli: Cli, sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    assert build(cli, out) == (
        f"Site written to {out}: 4 pages, 57 files (gemma, llama, qwen); "
        f"open {out / 'index.html'}\n"
    )
    rows = list(csv.DictReader(io.StringIO((out / "data/families.csv").read_text())))
    assert [
        (r["family"], r["date"], r["repos"], r["downloads_all_time"], r["new_downloads_30_days"])
        for r in rows
    ] == [
        ("gemma", "2026-02-02", "2", str(375 * M), str(55 * M)),
        ("llama", "2026-02-03", "2", str(800 * M), str(105 * M)),
        ("qwen", "2026-02-02", "5", str(900 * M), str(241 * M)),
    ]
    page = (out / "qwen/index.html").read_text()
    for metric, value in [
        ("downloads_all_time", 900 * M),
        ("official_downloads_all_time", 810 * M),
        ("derivative_downloads_all_time", 90 * M),
        ("downloads_30d", 64 * M),
        ("repos", 5),
        ("likes", 1586),
        ("growth", 241 * M),
    ]:
        assert f'<data data-metric="{metric}" value="{value}">{value:,}</data>' in page
    assert "New downloads from 2026-01-05 to 2026-02-02" in page
    # the Total row of the report over the same 30 days
    shown = cli("report", "--since", "2026-01-04", "--no-chart").stdout.splitlines()
    assert [line.split() for line in shown if line.strip().startswith("Total")] == [
        ["Total", "241,000,000"]
    ]
    # the runs behind the figures, with their source (collector's own Hub snapshots here)
    assert page.count("<td>complete</td><td>hub</td><td></td><td>lineage</td>") == 6
    # the 2026-01-08 decrease of the GGUF is marked on both scales of the chart
    assert page.count('<g class="mark anomaly" data-date="2026-01-08">') == 2


@pytest.mark.parametrize(
    ("file", "command"),
    [
        ("qwen/data/daily.json", ["report", "--format", "json"]),
        ("qwen/data/daily.csv", ["report", "--format", "csv"]),
        ("qwen/data/top.json", ["top", "--limit", "20", "--format", "json"]),
        ("qwen/data/top.csv", ["top", "--limit", "20", "--format", "csv"]),
        ("qwen/data/by-relation.json", ["report", "--by", "relation", "--format", "json"]),
        ("qwen/data/by-depth.csv", ["report", "--by", "depth", "--format", "csv"]),
        ("qwen/data/compare-llama.json", ["compare", "qwen", "llama", "--format", "json"]),
        ("llama/data/compare-gemma.csv", ["compare", "llama", "gemma", "--format", "csv"]),
        (
            "gemma/data/runs.json",
            ["runs", "--family", "gemma", "--limit", "30", "--format", "json"],
        ),
        ("llama/data/daily.json", ["report", "--family", "llama", "--format", "json"]),
    ],
)
def test_the_data_behind_each_chart_is_what_the_cli_prints(
    cli: Cli, sample: Path, tmp_path: Path, file: str, command: list[str]
) -> None:
    build(cli, tmp_path / "site")
    assert (tmp_path / "site" / file).read_text() == cli(*command).stdout


def test_claims_carry_the_verdicts_of_verify(cli: Cli, sample: Path, tmp_path: Path) -> None:
    build(cli, tmp_path / "site")
    shown = json.loads((tmp_path / "site/qwen/data/claims.json").read_text())["claims"]
    claims = [c["claim"] for c in shown]
    # the packaged claims for qwen, then one "passed" claim per other family
    assert claims == [
        "700M+ downloads",
        "180,000 derivatives",
        "400 models",
        "50M monthly downloads",
        "qwen passed gemma",
        "qwen passed llama",
    ]
    for c in shown:
        verified = json.loads(cli("verify", c["claim"], "--format", "json").stdout)
        assert {k: v for k, v in c.items() if k != "projection_text"} == verified
    verdicts = {c["claim"]: (c["verdict"], c["first_reached"]) for c in shown}
    assert verdicts["700M+ downloads"] == ("supported", "2026-01-06")
    assert verdicts["50M monthly downloads"] == ("supported", "2026-01-05")
    assert verdicts["qwen passed llama"] == ("supported", "2026-01-12")
    assert verdicts["400 models"][0] == "not_supported"
    # 3 derivatives, growing by about one a month: 180,000 lies past any calendar date
    assert shown[1]["projection"]["reason"] == "not before the year 9999 at this rate"


def test_lineage_of_the_biggest_derivatives(cli: Cli, sample: Path, tmp_path: Path) -> None:
    build(cli, tmp_path / "site")
    lineage = json.loads((tmp_path / "site/qwen/data/lineage.json").read_text())["lineage"]
    assert [w["repo_id"] for w in lineage] == [
        report_data.QWEN_U,
        report_data.QWEN_S,
        report_data.QWEN_C,
    ]
    assert lineage[2] == json.loads(cli("why", report_data.QWEN_C, "--format", "json").stdout)
    page = (tmp_path / "site/qwen/index.html").read_text()
    assert "<li><strong>bob/Qwen2.5-7B-sft</strong>" in page


def test_pages_have_no_script_and_only_internal_links(
    cli: Cli, sample: Path, tmp_path: Path
) -> None:
    build(cli, tmp_path / "site")
    for page in (tmp_path / "site").rglob("*.html"):
        text = page.read_text()
        assert "<script" not in text
        assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert "https://" not in text


def test_a_rebuild_replaces_the_whole_site(cli: Cli, sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    build(cli, out)
    (out / "qwen" / "old.html").write_text("left over")
    build(cli, out)
    assert not (out / "qwen" / "old.html").exists()
    assert (out / MARKER).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site", "warehouse.duckdb"]


def test_readers_never_see_half_a_site(cli: Cli, sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    build(cli, out)
    seen: list[str] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            for name in ("index.html", "qwen/index.html", "data/families.csv"):
                try:
                    text = (out / name).read_text()
                except FileNotFoundError:
                    seen.append(f"{name} missing")
                    continue
                if name.endswith(".html") and not text.endswith("</html>\n"):
                    seen.append(f"{name} truncated")

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(3):
            build(cli, out)
    finally:
        done.set()
        reader.join()
    assert seen == []


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("file", "Error: --out {out}: is a file, not a folder\n"),
        (
            "foreign",
            "Error: --out {out}: folder is not empty and was not built by "
            "`collector site`; choose a new or empty folder\n",
        ),
        ("no-parent", "Error: --out {out}: folder {parent} does not exist\n"),
    ],
)
def test_a_bad_out_folder_is_refused_untouched(
    cli: Cli, sample: Path, tmp_path: Path, setup: str, message: str
) -> None:
    out = tmp_path / "target"
    if setup == "file":
        out.write_text("mine")
    elif setup == "foreign":
        out.mkdir()
        (out / "notes.txt").write_text("mine")
    else:
        out = tmp_path / "missing" / "site"
    result = cli("site", "--out", str(out), ok=False)
    assert result.exit_code == 2
    assert result.output == message.format(out=out, parent=out.parent)
    if setup == "file":
        assert out.read_text() == "mine"
    elif setup == "foreign":
        assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_failed_build_keeps_the_previous_site(cli: Cli, sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    build(cli, out)
    before = (out / "index.html").read_text()
    sample.write_bytes(b"not a warehouse")
    result = cli("site", "--out", str(out), ok=False)
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: cannot open warehouse {sample}: ")
    assert (out / "index.html").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site", "warehouse.duckdb"]


def test_line_chart_coordinates() -> None:
    chart = svg.LineChart(
        "t", "d", ["2026-01-01", "2026-01-02", "2026-01-03"], [svg.Series("a", [0, 50, 100])]
    )
    drawn = svg.line_chart(chart, "c")
    # x: 64 + i/2 * (720 - 64 - 16); y: 280 - v/100 * (320 - 14 - 40), axis 0..100 by 20
    assert 'd="M64.0 280.0L384.0 147.0L704.0 14.0"' in drawn
    assert [f">{t}</text>" in drawn for t in ("0", "20", "40", "60", "80", "100")] == [True] * 6
    logged = svg.line_chart(
        svg.LineChart(
            "t", "d", ["2026-01-01", "2026-01-02"], [svg.Series("a", [10, 1000])], log=True
        ),
        "c",
    )
    # decades 10, 100, 1K: log10 10 -> bottom (280), 1000 -> top (14)
    assert 'd="M64.0 280.0L704.0 14.0"' in logged
    assert ">1K</text>" in logged and ">100</text>" in logged


def test_partial_days_and_anomalies_are_marked_on_the_line() -> None:
    chart = svg.LineChart(
        "t",
        "d",
        ["2026-01-01", "2026-01-03"],
        [svg.Series("all", [100, 200])],
        [svg.Mark("partial", "2026-01-03", "partial"), svg.Mark("anomaly", "2026-01-01", "x")],
    )
    drawn = svg.line_chart(chart, "c")
    # axis 0..200 by 50: 200 is the top (y 14), 100 half way (y 147)
    assert '<g class="mark partial" data-date="2026-01-03"><title>partial</title>' in drawn
    assert '<circle cx="704.0" cy="14.0" r="5"/>' in drawn
    assert '<path d="M64.0 140.0l6 10h-12z"/>' in drawn  # a triangle just above (64, 147)


def test_an_empty_warehouse_makes_an_index_that_says_so(cli: Cli, tmp_path: Path) -> None:
    cli("migrate")
    out = tmp_path / "site"
    assert build(cli, out) == (
        f"Site written to {out}: 1 pages, 3 files (no families); open {out / 'index.html'}\n"
    )
    assert "No family has a snapshot yet" in (out / "index.html").read_text()


def test_schedule_site_field(tmp_path: Path, cli: Cli) -> None:
    folder = tmp_path / "schedules"
    write_schedule(folder, "daily", 'families = ["qwen"]\ncron = "30 3 * * *"\nsite = "public"\n')
    [schedule] = load_schedules(folder)
    assert schedule.site == Path("public")
    write_schedule(folder, "daily", 'families = ["qwen"]\ncron = "30 3 * * *"\nsite = 3\n')
    result = cli("daemon", "--schedules", str(folder), ok=False)
    assert result.exit_code == 2
    assert result.output == f"Error: {folder / 'daily.toml'}: field 'site': must be a folder path\n"


def test_the_daemon_rebuilds_the_site_after_a_run(
    tmp_path: Path, hub: FakeHub, isolated_env: Path
) -> None:
    hub.add("Qwen/Qwen3-8B", downloads_all_time=1000, downloads=100, likes=10)
    hub.add_derivative(
        "alice/Qwen3-8B-GGUF", parent="Qwen/Qwen3-8B", relation="quantized", downloads_all_time=70
    )
    site = tmp_path / "public"
    write_schedule(
        tmp_path / "schedules",
        "daily",
        f'families = ["qwen"]\ncron = "30 3 * * *"\nsite = "{site}"\n',
    )
    lines: list[str] = []
    daemon = Daemon(load_schedules(tmp_path / "schedules"), log=lines.append, stop_wait=20)
    daemon.start()  # no snapshot yet: it catches up at once
    try:
        deadline = time.monotonic() + 60
        while not any(" rebuilt, " in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        daemon.request_stop("end of test")
        assert daemon.stop()
    rebuilt = [line for line in lines if line.startswith("daily: site ")]
    assert len(rebuilt) == 1 and rebuilt[0].startswith(f"daily: site {site} rebuilt, 2 pages ("), (
        lines
    )
    page = (site / "qwen/index.html").read_text()
    assert '<data data-metric="downloads_all_time" value="1070">1,070</data>' in page
