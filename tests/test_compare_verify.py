"""`compare` and `verify`: "Qwen passed Llama" and "700M+ downloads", with dates and projections.

The data (tests/report_data.py): qwen 660, 700, 712, 755, 900 (M) on 01-05, 01-06,
01-08, 01-12, 02-02; llama 695, 705, 713, 725, 800 on 01-05, 01-07, 01-08, 01-12, 02-03.
Common dates: 01-05 (660 < 695), 01-08 (712 < 713), 01-12 (755 > 725).
"""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from collector.reports.compare import COMPARE_SQL
from tests import report_data
from tests.conftest import Cli

M = report_data.M
NOW = "2026-02-04T00:00:00"


@pytest.fixture
def sample(isolated_env: Path) -> Path:
    return report_data.install(isolated_env)


def js(cli: Cli, *args: str) -> dict:
    return json.loads(cli(*args, "--format", "json", now=NOW).stdout)


def test_compare_common_dates_answers_qwen_passed_llama(sample: Path, cli: Cli) -> None:
    out = js(cli, "compare", "qwen", "llama")
    assert out["series"] == [
        {"date": "2026-01-05", "qwen": 660 * M, "llama": 695 * M},
        {"date": "2026-01-08", "qwen": 712 * M, "llama": 713 * M},
        {"date": "2026-01-12", "qwen": 755 * M, "llama": 725 * M},
    ]
    assert [
        (c["date"], c["family"], c["passed"], c["previous_date"]) for c in out["crossings"]
    ] == [("2026-01-12", "qwen", "llama", "2026-01-08")]
    assert out["pairs"] == [
        {
            "family": "qwen",
            "versus": "llama",
            "leader": "qwen",
            "date": "2026-01-12",
            "passed_on": "2026-01-12",
            "covered": True,
        }
    ]
    text = cli("compare", "qwen", "llama", now=NOW).stdout
    assert (
        "qwen passed llama in downloads_all_time on 2026-01-12 (755,000,000 > 725,000,000; "
        "on 2026-01-08: 712,000,000 <= 713,000,000)"
    ) in text


def test_compare_carry_forward_fills_dates_and_sees_every_lead_change(
    sample: Path, cli: Cli
) -> None:
    out = js(cli, "compare", "qwen", "llama", "--align", "carry-forward")
    assert [(r["date"], r["qwen"] // M, r["llama"] // M) for r in out["series"]] == [
        ("2026-01-05", 660, 695),
        ("2026-01-06", 700, 695),
        ("2026-01-07", 700, 705),
        ("2026-01-08", 712, 713),
        ("2026-01-12", 755, 725),
        ("2026-02-02", 900, 725),
        ("2026-02-03", 900, 800),
    ]
    # the stale llama value of 01-05 makes qwen "pass" on 01-06: why common is the default
    assert [(c["date"], c["family"]) for c in out["crossings"]] == [
        ("2026-01-06", "qwen"),
        ("2026-01-07", "llama"),
        ("2026-01-12", "qwen"),
    ]
    assert out["pairs"][0]["passed_on"] == "2026-01-12"


def test_compare_three_families_and_uncovered_lead(sample: Path, cli: Cli) -> None:
    out = js(
        cli,
        "compare",
        "qwen",
        "llama",
        "gemma",
        "--align",
        "carry-forward",
        "--since",
        "2026-01-12",
    )
    assert out["series"][0] == {
        "date": "2026-01-12",
        "qwen": 755 * M,
        "llama": 725 * M,
        "gemma": 320 * M,
    }  # never google/t5-small's 1B
    gemma = [p for p in out["pairs"] if p["versus"] == "gemma"]
    assert [(p["leader"], p["covered"]) for p in gemma] == [("qwen", False), ("llama", False)]
    text = cli("compare", "qwen", "gemma", "--align", "carry-forward", now=NOW).stdout
    assert (
        "qwen led gemma in downloads_all_time on every compared date up to 2026-02-02: "
        "the data does not cover when it passed"
    ) in text


def test_compare_before_a_family_exists_is_blank(sample: Path, cli: Cli) -> None:
    out = js(cli, "compare", "llama", "gemma", "--align", "carry-forward", "--until", "2026-01-08")
    assert all(r["gemma"] is None for r in out["series"])
    assert out["pairs"][0]["date"] is None
    assert js(cli, "compare", "llama", "gemma", "--until", "2026-01-08")["series"] == []


def test_compare_sql_reproduces_the_cli(sample: Path, cli: Cli) -> None:
    con = duckdb.connect(str(sample), read_only=True)
    try:
        rows = con.execute(
            COMPARE_SQL.format(metric="downloads_all_time"),
            {"families": ["qwen", "llama"], "since": None, "until": None, "common": True},
        ).fetchall()
    finally:
        con.close()
    assert [(d.isoformat(), f, v) for d, f, v, _ in rows if f == "llama"] == [
        ("2026-01-05", "llama", 695 * M),
        ("2026-01-08", "llama", 713 * M),
        ("2026-01-12", "llama", 725 * M),
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (["compare", "qwen"], "at least two families"),
        (["compare", "qwen", "qwen"], "a family is named twice"),
        (["compare", "qwen", "mistral"], "no snapshots of family 'mistral'"),
        (["compare", "qwen", "llama", "--chart", "out.pdf"], "ending in .png or .svg"),
        (["verify", "Qwen passed Llama in vibes"], "does not measure 'vibes'"),
        (["verify", "Qwen is popular"], "cannot parse claim"),
        (["verify", "qwen passed mistral"], "no snapshots of family 'mistral'"),
    ],
)
def test_bad_input(sample: Path, cli: Cli, args: list[str], message: str) -> None:
    result = cli(*args, now=NOW, ok=False)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and result.stderr.count("\n") == 1


def test_verify_700m_reached_on_the_first_day_at_or_above(sample: Path, cli: Cli) -> None:
    out = js(cli, "verify", "700M+ downloads")
    assert (out["verdict"], out["measured"], out["first_reached"]) == (
        "supported",
        900 * M,
        "2026-01-06",
    )  # exactly 700,000,000 on 01-06 counts
    assert out["breakdown"] == {"official": 810 * M, "derivative": 90 * M}
    assert out["projection"] is None


def test_verify_projection_linear_fit_over_30_days(sample: Path, cli: Cli) -> None:
    out = js(cli, "verify", "1B downloads", "--as-of", "2026-01-12")
    assert (out["verdict"], out["measured"]) == ("not_supported", 755 * M)
    # least squares over (day, value): x = 0, 1, 3, 7; y = 660, 700, 712, 755 (M)
    xs, ys = [0, 1, 3, 7], [660 * M, 700 * M, 712 * M, 755 * M]
    mx, my = sum(xs) / 4, sum(ys) / 4
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )  # 346.75 / 28.75 M/day
    days = math.ceil((1000 * M - 755 * M) / slope)  # 20.3 -> 21
    assert (days, round(slope, 1)) == (21, 12060869.6)
    p = out["projection"]
    assert p == {
        "method": "linear least-squares fit",
        "window_days": 30,
        "window_start": "2026-01-05",
        "window_end": "2026-01-12",
        "points": 4,
        "per_day": 12060869.6,
        "projected_date": (date(2026, 1, 12) + timedelta(days)).isoformat(),
        "reason": None,
    }
    assert p["projected_date"] == "2026-02-02"
    table = cli("verify", "1B downloads", "--as-of", "2026-01-12", now=NOW).stdout
    assert (
        "2026-02-02 at +12,060,870/day (linear least-squares fit over the 4 day-runs of "
        "the last 30 days to 2026-01-12)"
    ) in table


def test_verify_projection_latest(sample: Path, cli: Cli) -> None:
    # x = 0, 1, 3, 7, 28; y = 660, 700, 712, 755, 900: slope 4250.4 / 538.8 = 7.8886 M/day,
    # 100M to go: 12.7 -> 13 days after 02-02
    p = js(cli, "verify", "1B downloads")["projection"]
    assert (p["points"], p["per_day"], p["projected_date"]) == (
        5,
        round(4250.4 / 538.8 * M, 1),
        "2026-02-15",
    )


def test_verify_projection_null_when_too_short(sample: Path, cli: Cli) -> None:
    out = js(cli, "verify", "700M+ downloads", "--as-of", "2026-01-05")
    assert out["verdict"] == "not_supported"
    assert out["projection"]["projected_date"] is None
    assert out["projection"]["reason"] == "fewer than 2 day-runs in the last 30 days"


def test_verify_qwen_passed_llama(sample: Path, cli: Cli) -> None:
    out = js(cli, "verify", "Qwen passed Llama in cumulative downloads")
    assert (out["family"], out["versus"], out["verdict"]) == ("qwen", "llama", "supported")
    assert (out["measured"], out["versus_value"], out["snapshot_date"]) == (
        755 * M,
        725 * M,
        "2026-01-12",
    )
    assert (out["first_reached"], out["passed_on"]) == ("2026-01-12", "2026-01-12")


def test_verify_passed_before_it_happened_projects_the_gap(sample: Path, cli: Cli) -> None:
    out = js(cli, "verify", "passed llama", "--family", "qwen", "--as-of", "2026-01-08")
    assert (out["verdict"], out["measured"], out["versus_value"]) == (
        "not_supported",
        712 * M,
        713 * M,
    )
    # gap qwen - llama: -35M on 01-05, -1M on 01-08: closes 34M in 3 days; 1M to go -> 1 day
    assert out["projection"]["per_day"] == round(34 * M / 3, 1)
    assert out["projection"]["projected_date"] == "2026-01-09"


def test_verify_lead_not_covered_by_data(sample: Path, cli: Cli) -> None:
    out = js(cli, "verify", "llama passed qwen", "--as-of", "2026-01-08")
    assert (out["verdict"], out["first_reached"]) == ("supported", None)
    assert out["note"] == (
        "llama led qwen in downloads_all_time on every compared date up to "
        "2026-01-08: the data does not cover when it passed"
    )
    later = js(cli, "verify", "llama passed qwen")
    assert later["verdict"] == "not_supported"
    assert later["projection"]["reason"] == "no growth over the last 30 days"


def test_verify_passed_official_scope(sample: Path, cli: Cli) -> None:
    # official only: qwen 680 vs llama 717 on 01-12
    out = js(cli, "verify", "qwen passed llama", "--scope", "official")
    assert (out["measured"], out["versus_value"], out["verdict"]) == (
        680 * M,
        717 * M,
        "not_supported",
    )
