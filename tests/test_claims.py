"""`verify` on claims as people write them: dated, in every scope, growth, and claim sheets.

The data is tests/report_data.py (see its table). qwen family / official repos, in M:
01-05 660/600, 01-06 700/635, 01-08 712/647, 01-12 755/680, 02-02 900/810.
The clock (NOW) is 2026-02-04; the warehouse holds no ModelScope snapshots.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import report_data
from tests.conftest import Cli
from tests.test_golden import check

M = report_data.M
NOW = "2026-02-04T00:00:00"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def sample(isolated_env: Path) -> Path:
    return report_data.install(isolated_env)


def js(cli: Cli, *args: str) -> dict:
    return json.loads(cli(*args, "--format", "json", now=NOW).stdout)


def scopes(out: dict) -> dict[str, tuple]:
    return {
        a["scope"]: (a["verdict"], a.get("measured"), a.get("first_reached"), a.get("relative"))
        for a in out["scopes"]
    }


# one golden per date form, table and JSON
DATED = [
    ("verify-by-month", "700M downloads by January 2026"),
    ("verify-as-of-iso-month", "750M downloads as of 2026-01"),
    ("verify-by-early-year", "over 700 million downloads by early 2026"),
    ("verify-in-month-passed", "Qwen passed Llama in January 2026"),
    ("verify-since-day", "660M downloads since 2026-01-05"),
    ("verify-on-day", "700M downloads on 2026-01-08"),
    ("verify-before-data", "600M downloads by December 2025"),
    ("verify-after-data", "1B downloads by mid 2026"),
    ("verify-growth-since", "added 50M downloads since 2026-01-06"),
]


@pytest.mark.parametrize("fmt", ["table", "json"])
@pytest.mark.parametrize("name, claim", DATED, ids=[d[0] for d in DATED])
def test_dated_claim_golden(sample: Path, cli: Cli, name: str, claim: str, fmt: str) -> None:
    result = cli("verify", claim, "--format", fmt, now=NOW)
    check(f"{name}.{'txt' if fmt == 'table' else 'json'}", result.stdout)


def test_month_means_its_last_day_and_reached_is_relative_to_it(sample: Path, cli: Cli) -> None:
    out = js(cli, "verify", "700M downloads by January 2026")
    assert out["date"] == {
        "text": "by January 2026",
        "start": "2026-01-01",
        "end": "2026-01-31",
        "checked_at": "2026-01-31",
        "meaning": None,
    }
    # checked at 01-31: the last day-run on or before it is 01-12 (755M family, 680M official)
    assert scopes(out) == {
        "official": ("not_supported", 680 * M, "2026-02-02", "2 days after the claimed date"),
        "family": ("supported", 755 * M, "2026-01-06", "25 days before the claimed date"),
        "global": ("not_measured", None, None, None),
    }
    assert out["supported_by"] == ["family"]
    assert out["scopes"][2]["note"] == "no ModelScope snapshots of qwen in this warehouse"


def test_one_scope_supports_and_another_does_not_sentence_first(sample: Path, cli: Cli) -> None:
    text = cli("verify", "750M downloads as of January 2026", now=NOW).stdout
    assert text.splitlines()[0] == (
        "Supported (as of January 2026): the qwen family on Hugging Face (official repos and "
        "all derivatives) reached 750M all-time downloads on 2026-01-12, 19 days before the "
        "claimed date; its own repos alone had 680,000,000 all-time downloads on 2026-01-12, "
        "below 750M (reached on 2026-02-02, 2 days after the claimed date); Hugging Face and "
        "ModelScope together: not measured (no ModelScope snapshots of qwen in this warehouse)."
    )


def test_early_year_is_stated_as_its_range(sample: Path, cli: Cli) -> None:
    out = js(cli, "verify", "700M downloads by early 2026")
    assert (out["date"]["start"], out["date"]["end"]) == ("2026-01-01", "2026-04-30")
    assert out["date"]["meaning"] == "early 2026 taken as 2026-01-01..2026-04-30"
    # data ends 02-02 with 900M >= 700M: reached before the range ends
    assert (out["verdict"], out["measured"], out["relative"]) == (
        "supported",
        900 * M,
        "114 days before the claimed date",
    )
    late = js(cli, "verify", "1B downloads by late 2026")
    # below 1B at the last snapshot, which is before the claimed date: cannot tell yet
    assert late["date"]["end"] == "2026-12-31"
    assert late["verdict"] == "insufficient_data"
    assert late["scopes"][1]["note"] == "the snapshots end on 2026-02-02, before 2026-12-31"


def test_claim_before_the_first_snapshot_is_insufficient(sample: Path, cli: Cli) -> None:
    out = js(cli, "verify", "600M downloads by December 2025")
    family = out["scopes"][1]
    assert (family["verdict"], family["measured"]) == ("insufficient_data", None)
    # 660M already at the first snapshot (01-05): when 600M was passed is unknown
    assert family["reached_at_first_snapshot"] is True
    assert family["relative"] == "already above at the first snapshot, after the claimed date"


def test_since_checks_the_start_and_on_a_day(sample: Path, cli: Cli) -> None:
    out = js(cli, "verify", "700M downloads since 2026-01-06")
    assert (out["as_of"], out["measured"], out["verdict"]) == ("2026-01-06", 700 * M, "supported")
    assert out["relative"] == "on the claimed date"
    day = js(cli, "verify", "720M downloads on 2026-01-08")
    assert (day["measured"], day["verdict"]) == (712 * M, "not_supported")
    assert day["first_reached"] == "2026-01-12"


def test_scope_narrows_to_one(sample: Path, cli: Cli) -> None:
    out = js(cli, "verify", "700M+ downloads", "--scope", "official")
    assert [a["scope"] for a in out["scopes"]] == ["official"]
    assert (out["scope"], out["measured"], out["first_reached"]) == (
        "official",
        810 * M,
        "2026-02-02",
    )
    glob = js(cli, "verify", "700M+ downloads", "--scope", "global")
    assert (glob["scope"], glob["verdict"]) == ("global", "not_measured")


def test_passed_in_a_month_needs_the_crossing_inside_it(sample: Path, cli: Cli) -> None:
    # common dates 01-05, 01-08, 01-12: qwen passed llama in (01-08, 01-12], inside January
    out = js(cli, "verify", "Qwen passed Llama in January 2026")
    assert (out["verdict"], out["passed_on"]) == ("supported", "2026-01-12")
    assert out["note"] == "qwen passed llama between 2026-01-08 and 2026-01-12, inside January 2026"
    official = out["scopes"][0]
    assert (official["scope"], official["verdict"]) == ("official", "not_supported")
    # in February qwen was already ahead: passed before the month, not in it
    feb = js(cli, "verify", "Qwen passed Llama in February 2026")
    assert (feb["verdict"], feb["note"]) == (
        "not_supported",
        "qwen passed llama before 2026-02-01, on 2026-01-12",
    )
    by = js(cli, "verify", "Qwen passed Llama by 2026-01-10")
    assert (by["verdict"], by["measured"], by["versus_value"]) == (
        "not_supported",
        712 * M,
        713 * M,
    )


def test_growth_claims(sample: Path, cli: Cli) -> None:
    out = js(cli, "verify", "grew 30% since 2026-01-05")
    # family 660M -> 900M: +36.36%; official 600M -> 810M: +35%
    assert [(a["scope"], a["gain"], a["growth_pct"], a["verdict"]) for a in out["scopes"][:2]] == [
        ("official", 210 * M, 35.0, "supported"),
        ("family", 240 * M, 36.36, "supported"),
    ]
    doubled = js(cli, "verify", "doubled since 2026-01-05")
    assert doubled["verdict"] == "not_supported"
    # from 01-06 to --as-of 01-12: family 700 -> 755 (+55M), official 635 -> 680 (+45M)
    added = js(cli, "verify", "added 50M downloads since 2026-01-06", "--as-of", "2026-01-12")
    assert scopes(added)["family"][0] == "supported"
    assert scopes(added)["official"][0] == "not_supported"
    assert (added["scopes"][0]["gain"], added["gain"]) == (45 * M, 55 * M)
    january = js(cli, "verify", "added 100M downloads in January 2026")
    assert january["verdict"] == "insufficient_data"
    assert january["scopes"][1]["note"] == (
        "no snapshot on or before 2026-01-01 to measure from (the first is on 2026-01-05)"
    )


REFUSED = [
    ("refused-growth-unknown", "grew fastest in 2025"),
    ("refused-growth-no-period", "doubled"),
    ("refused-metric", "30M MAU by December 2025"),
]


@pytest.mark.parametrize("name, claim", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_claims_exit_2_with_what_can_be_checked(
    sample: Path, cli: Cli, name: str, claim: str
) -> None:
    result = cli("verify", claim, now=NOW, ok=False)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "claims that can be verified:" in result.stderr
    check(f"{name}.txt", result.stderr)


def test_claim_date_and_as_of_together_is_refused(sample: Path, cli: Cli) -> None:
    result = cli("verify", "700M downloads by January 2026", "--as-of", "2026-01-12", ok=False)
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: claim '700M downloads by January 2026' carries its own date "
        "(by January 2026); --as-of is for undated claims\n"
    )


def test_claim_sheet_golden(sample: Path, cli: Cli) -> None:
    for fmt, ext in (("table", "txt"), ("markdown", "md"), ("json", "json"), ("csv", "csv")):
        result = cli(
            "verify", "--claims", str(ROOT / "claims" / "qwen.toml"), "--format", fmt, now=NOW
        )
        check(f"verify-claims-qwen.{ext}", result.stdout)


def test_claim_sheet_values_equal_report_at_each_date(sample: Path, cli: Cli) -> None:
    sheet = js(cli, "verify", "--claims", str(ROOT / "claims" / "qwen.toml"))
    columns = {"family": "downloads_all_time", "official": "official_downloads_all_time"}
    checked = 0
    for entry in sheet["claims"]:
        result = entry["result"]
        for a in result["scopes"]:
            if a.get("measured") is None:
                continue
            if result["metric"] == "downloads_all_time" and a["scope"] in columns:
                checked_at = result["date"]["checked_at"]
                series = js(cli, "report", "--until", checked_at)["series"]
                assert series[-1]["date"] == a["snapshot_date"]
                assert a["measured"] == series[-1][columns[a["scope"]]], entry["text"]
            else:  # repo counts: the members on that day
                members = js(cli, "members", "--as-of", a["snapshot_date"])["members"]
                role = "official" if result["metric"] == "models" else "derivative"
                assert a["measured"] == sum(m["role"] == role for m in members), entry["text"]
            checked += 1
    assert checked == 11


@pytest.mark.parametrize(
    "content, message",
    [
        ("[[claims]\ntext = 'x'", "not valid TOML"),
        ("title = 'x'", "no [[claims]] entries found"),
        ("[[claims]]\ntext = '700M downloads'\nsource = 'x'", "claim 1: unknown field 'source'"),
        ("[[claims]]\npublished = 'x'", "claim 1: text is missing"),
        ("[[claims]]\ntext = 7", "claim 1: text must be a non-empty string"),
        (
            "[[claims]]\ntext = '700M downloads'\n[[claims]]\ntext = '30M MAU'",
            "claim 2: claim '30M MAU': the Hub does not measure 'mau'",
        ),
        (
            "[[claims]]\ntext = '700M downloads by 2026-01'\ndate = '2026-01'",
            "claim 1: the text already has a date",
        ),
        (
            "[[claims]]\ntext = '700M downloads'\ndate = 'soon'",
            "claim 1: date 'soon' is not a date collector reads",
        ),
        ("[[claims]]\ntext = '700M downloads'\ndate = '2026-02-30'", "is not a calendar date"),
    ],
)
def test_bad_claim_sheet_is_one_line_exit_2(
    sample: Path, cli: Cli, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "sheet.toml"
    path.write_text(content, encoding="utf-8")
    result = cli("verify", "--claims", str(path), ok=False)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert result.stdout == ""


def test_claims_and_claim_are_exclusive(sample: Path, cli: Cli, tmp_path: Path) -> None:
    for args in (["verify"], ["verify", "700M downloads", "--claims", "x.toml"]):
        result = cli(*args, ok=False)
        assert result.exit_code == 2
        assert "give one claim" in result.stderr
    missing = cli("verify", "--claims", str(tmp_path / "none.toml"), ok=False)
    assert missing.exit_code == 2 and "cannot read claim sheet" in missing.stderr


def test_claim_sheet_narrowed_to_one_scope(sample: Path, cli: Cli) -> None:
    sheet = js(cli, "verify", "--claims", str(ROOT / "claims" / "qwen.toml"), "--scope", "official")
    scopes = [[a["scope"] for a in e["result"]["scopes"]] for e in sheet["claims"]]
    # derivatives are counted in the derivative scope whatever the --scope
    assert scopes == [["official"]] * 4 + [["derivative"]] + [["official"]] * 4
