"""`report --every/--by/--since` and `top`, against the hand computation in report_data.

Also: the numbers are reproducible by the documented SQL over the views.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from collector.reports.series import PERIOD_SQL, top_new_sql
from tests import report_data
from tests.conftest import Cli

M = report_data.M
NOW = "2026-02-04T00:00:00"


@pytest.fixture
def sample(isolated_env: Path) -> Path:
    return report_data.install(isolated_env)


def js(cli: Cli, *args: str, now: str = NOW) -> dict:
    return json.loads(cli(*args, "--format", "json", now=now).stdout)


def test_daily_series_and_total_row(sample: Path, cli: Cli) -> None:
    series = js(cli, "report")["series"]
    assert [(r["date"], r["downloads_all_time"], r["new_downloads"]) for r in series] == [
        ("2026-01-05", 660 * M, None),
        ("2026-01-06", 700 * M, 40 * M),
        ("2026-01-08", 712 * M, 13 * M),  # grew by 12M: the 1M decrease is clamped
        ("2026-01-12", 755 * M, 43 * M),  # the new sft-GGUF counts in full (5M)
        ("2026-02-02", 900 * M, 145 * M),
    ]
    table = cli("report", now=NOW).stdout
    total = next(line for line in table.splitlines() if line.strip().startswith("Total"))
    assert total.split() == ["Total", "241,000,000"]  # only new_downloads is summed


@pytest.mark.parametrize(
    "every, expected",
    [
        (
            "week",
            [
                ("2026-W02", "2026-01-08", 3, 712 * M, 53 * M),
                ("2026-W03", "2026-01-12", 1, 755 * M, 43 * M),
                ("2026-W06", "2026-02-02", 1, 900 * M, 145 * M),
            ],
        ),
        (
            "month",
            [
                ("2026-01", "2026-01-12", 4, 755 * M, 96 * M),
                ("2026-02", "2026-02-02", 1, 900 * M, 145 * M),
            ],
        ),
        (
            "day",
            [
                ("2026-01-05", "2026-01-05", 1, 660 * M, None),
                ("2026-01-06", "2026-01-06", 1, 700 * M, 40 * M),
                ("2026-01-08", "2026-01-08", 1, 712 * M, 13 * M),
                ("2026-01-12", "2026-01-12", 1, 755 * M, 43 * M),
                ("2026-02-02", "2026-02-02", 1, 900 * M, 145 * M),
            ],
        ),
    ],
)
def test_every_period(sample: Path, cli: Cli, every: str, expected: list) -> None:
    rows = js(cli, "report", "--every", every)["series"]
    got = [
        (r["period"], r["date"], r["day_runs"], r["downloads_all_time"], r["new_downloads"])
        for r in rows
    ]
    assert got == expected


def test_every_within_a_range_sums_only_the_range(sample: Path, cli: Cli) -> None:
    # --since 2026-01-06 drops the 01-05 day-run: week 2 keeps 01-06 and 01-08
    rows = js(cli, "report", "--every", "week", "--since", "2026-01-06", "--until", "2026-01-12")
    assert [(r["period"], r["day_runs"], r["new_downloads"]) for r in rows["series"]] == [
        ("2026-W02", 2, 53 * M),
        ("2026-W03", 1, 43 * M),
    ]


def test_period_sql_reproduces_the_cli(sample: Path, cli: Cli) -> None:
    con = duckdb.connect(str(sample), read_only=True)
    try:
        cur = con.execute(
            PERIOD_SQL,
            {
                "format": "%Y-%m",
                "family": "qwen",
                "since": None,
                "until": None,
                "platform": "huggingface",
            },
        )
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()
    cli_rows = js(cli, "report", "--every", "month")["series"]
    assert [r["new_downloads"] for r in rows] == [r["new_downloads"] for r in cli_rows]
    assert [r["downloads_all_time"] for r in rows] == [755 * M, 900 * M]


@pytest.mark.parametrize(
    "since, now, dates",
    [
        ("30d", "2026-02-10T00:00:00", ["2026-01-12", "2026-02-02"]),  # since 2026-01-11
        ("2026-01-08", NOW, ["2026-01-08", "2026-01-12", "2026-02-02"]),
        (
            "last-month",
            "2026-02-10T00:00:00",
            ["2026-01-05", "2026-01-06", "2026-01-08", "2026-01-12"],
        ),
        ("this-month", "2026-02-10T00:00:00", ["2026-02-02"]),
    ],
)
def test_since_forms(sample: Path, cli: Cli, since: str, now: str, dates: list[str]) -> None:
    rows = js(cli, "report", "--since", since, now=now)["series"]
    assert [r["date"] for r in rows] == dates


def test_month_as_since_and_until(sample: Path, cli: Cli) -> None:
    rows = js(cli, "report", "--since", "2026-01", "--until", "2026-01")["series"]
    assert [r["date"] for r in rows] == ["2026-01-05", "2026-01-06", "2026-01-08", "2026-01-12"]


def test_by_relation_total_is_the_family_total(sample: Path, cli: Cli) -> None:
    rows = js(cli, "report", "--by", "relation")["series"]
    assert rows[-1] == {
        "date": "2026-02-02",
        "official": 810 * M,
        "finetune": 15 * M,
        "quantized": 75 * M,
    }
    daily = js(cli, "report")["series"]
    csv_rows = cli("report", "--by", "relation", "--format", "csv", now=NOW).stdout.splitlines()
    assert csv_rows[0] == "date,official,finetune,quantized,total"
    assert [int(r.split(",")[-1]) for r in csv_rows[1:]] == [r["downloads_all_time"] for r in daily]
    table = cli("report", "--by", "relation", now=NOW).stdout
    # shares of the row's total: 810/900, 15/900, 75/900
    assert "90.00%" in table and "1.67%" in table and "8.33%" in table


def test_top_by_downloads(sample: Path, cli: Cli) -> None:
    out = js(cli, "top", "--limit", "3")
    assert out["until"] == "2026-02-02" and out["family_total"] == 900 * M
    assert out["repos"] == 5
    assert [
        (r["rank"], r["repo_id"], r["role"], r["relation"], r["downloads_all_time"])
        for r in out["rows"]
    ] == [
        (1, "Qwen/Qwen3-8B", "official", None, 560 * M),
        (2, "Qwen/Qwen2.5-7B", "official", None, 250 * M),
        (3, "unsloth/Qwen3-8B-GGUF", "derivative", "quantized", 65 * M),
    ]
    assert out["rows"][0]["share"] == round(560 / 900, 6)


def test_top_new_downloads_sums_to_report(sample: Path, cli: Cli) -> None:
    out = js(cli, "top", "--by", "new_downloads", "--limit", "50")
    got = {r["repo_id"]: r["new_downloads"] for r in out["rows"]}
    assert got == {
        report_data.QWEN_A: 160 * M,  # 25 + 10 + 25 + 100
        report_data.QWEN_B: 50 * M,  # 10 + 2 + 8 + 30
        report_data.QWEN_U: 16 * M,  # 5 + 0 (decrease clamped) + 4 + 7
        report_data.QWEN_C: 10 * M,  # 5 (new, in full) + 5
        report_data.QWEN_S: 5 * M,  # 0 + 1 + 1 + 3
    }
    assert sum(got.values()) == out["family_total"] == 241 * M
    assert (out["since"], out["until"], out["counted_from"]) == (
        "2026-01-05",
        "2026-02-02",
        "2026-01-05",
    )


def test_top_new_downloads_over_a_range(sample: Path, cli: Cli) -> None:
    out = js(cli, "top", "--by", "new_downloads", "--since", "2026-01-07", "--until", "2026-01-12")
    assert (out["since"], out["until"], out["counted_from"]) == (
        "2026-01-08",
        "2026-01-12",
        "2026-01-06",
    )
    assert out["family_total"] == 56 * M  # 13 + 43
    assert [r["new_downloads"] for r in out["rows"]] == [35 * M, 10 * M, 5 * M, 4 * M, 2 * M]


def test_top_new_downloads_over_a_range_without_day_runs(sample: Path, cli: Cli) -> None:
    out = js(cli, "top", "--by", "new_downloads", "--since", "2026-03-01")
    assert (out["rows"], out["repos"], out["since"], out["until"]) == ([], 0, None, "2026-02-02")
    table = cli("top", "--by", "new_downloads", "--since", "2026-03-01").stdout
    assert table.splitlines()[0] == (
        "qwen: top 0 of 0 repos by new_downloads, no day-run in the range (until 2026-02-02)"
    )


def test_top_new_sql_reproduces_the_cli(sample: Path, cli: Cli) -> None:
    con = duckdb.connect(str(sample), read_only=True)
    try:
        run = {
            date: run_id
            for date, run_id in con.execute(
                "SELECT date::VARCHAR, run_id FROM day_runs WHERE family = 'qwen'"
            ).fetchall()
        }
        params = {
            "family": "qwen",
            "first_run": run["2026-01-08"],
            "end_run": run["2026-01-12"],
            "limit": 10,
        }
        rows = con.execute(top_new_sql("range"), params).fetchall()
    finally:
        con.close()
    assert [(r[0], r[4]) for r in rows][:2] == [
        (report_data.QWEN_A, 35 * M),
        (report_data.QWEN_B, 10 * M),
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (["top", "--since", "2026-01-06"], "--since applies to --by new_downloads only"),
        (["top", "--limit", "0"], "--limit must be at least 1"),
        (["top", "--family", "nope"], "no snapshots of family 'nope'"),
        (["report", "--since", "2026-02-01", "--until", "2026-01-01"], "is after --until"),
        (["report", "--since", "yesterday"], "bad date 'yesterday'"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    sample: Path, cli: Cli, args: list[str], message: str
) -> None:
    result = cli(*args, now=NOW, ok=False)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1 and result.stdout == ""
