"""Schedule files: validation with one clear line naming the file and field, and the run
times their triggers give (crontab weekdays, time zones, interval grid)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from collector.dates import format_duration
from collector.scheduling.schedules import (
    load_schedule,
    load_schedules,
    parse_duration,
)
from tests.conftest import Cli
from tests.daemons import ROOT, write_schedule

OK = 'families = ["qwen"]\ncron = "30 3 * * *"\n'
DURATION_HINT = 'use seconds or text such as "90s", "15m", "6h", "1d"'


def test_the_shipped_schedule() -> None:
    [s] = load_schedules(ROOT / "schedules")
    assert (
        s.name,
        s.families,
        s.cron,
        s.interval,
        s.timezone,
        s.timeout,
        s.db,
        s.misfire_grace,
        s.catch_up,
    ) == ("qwen-daily", ("qwen",), "30 3 * * *", None, "UTC", 7200.0, None, None, True)
    assert s.describe() == "cron 30 3 * * * UTC"
    assert s.next_fire(datetime(2026, 1, 2, 3, 30)) == datetime(2026, 1, 3, 3, 30)
    assert s.next_fire(datetime(2026, 1, 2, 3, 29, 59)) == datetime(2026, 1, 2, 3, 30)


def test_every_field(tmp_path: Path) -> None:
    path = write_schedule(
        tmp_path,
        "all",
        """
families = ["qwen", "llama"]
interval = "1h30m"
timezone = "Europe/Paris"
timeout = 600
db = "other.duckdb"
misfire_grace = "12h"
catch_up = false
""",
    )
    s = load_schedule(path)
    assert (
        s.name,
        s.families,
        s.cron,
        s.interval,
        s.timezone,
        s.timeout,
        s.db,
        s.misfire_grace,
        s.catch_up,
    ) == (
        "all",
        ("qwen", "llama"),
        None,
        5400.0,
        "Europe/Paris",
        600.0,
        Path("other.duckdb"),
        43200.0,
        False,
    )
    assert s.describe() == "every 1h30m"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('cron = "30 3 * * *"\n', "field 'families': required: a list of family names"),
        (
            'families = "qwen"\ncron = "30 3 * * *"\n',
            "field 'families': must be a non-empty list of family names",
        ),
        (
            'families = []\ncron = "30 3 * * *"\n',
            "field 'families': must be a non-empty list of family names",
        ),
        (
            'families = ["qwen", "qwen"]\ncron = "30 3 * * *"\n',
            "field 'families': lists a family twice",
        ),
        (
            'families = ["nope"]\ncron = "30 3 * * *"\n',
            "field 'families': unknown family \"nope\"; "
            "known: deepseek, gemma, llama, mistral, qwen",
        ),
        ('families = ["qwen"]\n', "field 'cron': give exactly one of 'cron' or 'interval'"),
        (
            'families = ["qwen"]\ncron = "30 3 * * *"\ninterval = "1d"\n',
            "field 'cron': give exactly one of 'cron' or 'interval'",
        ),
        (
            'families = ["qwen"]\ncron = 5\n',
            "field 'cron': must be a crontab expression such as '30 3 * * *'",
        ),
        (
            'families = ["qwen"]\ncron = "61 3 * * *"\n',
            "field 'cron': \"61 3 * * *\" is not a crontab expression (Error validating expression "
            "'61': the last value (61) is higher than the maximum value (59))",
        ),
        (
            'families = ["qwen"]\ncron = "30 3 * *"\n',
            "field 'cron': \"30 3 * *\" is not a crontab expression "
            "(4 fields, expected 5: minute hour day month day-of-week)",
        ),
        (
            'families = ["qwen"]\ncron = "30 3 * * 8"\n',
            "field 'cron': \"30 3 * * 8\" is not a crontab expression (bad day of week '8' in '8')",
        ),
        (
            'families = ["qwen"]\ninterval = "soon"\n',
            f"field 'interval': \"soon\" is not a duration; {DURATION_HINT}",
        ),
        ('families = ["qwen"]\ninterval = 0\n', "field 'interval': 0 must be more than 0 seconds"),
        (
            'families = ["qwen"]\ninterval = "-5m"\n',
            f"field 'interval': \"-5m\" is not a duration; {DURATION_HINT}",
        ),
        (OK + "timeout = true\n", f"field 'timeout': true is not a duration; {DURATION_HINT}"),
        (
            OK + 'misfire_grace = "1 week"\n',
            f"field 'misfire_grace': \"1 week\" is not a duration; {DURATION_HINT}",
        ),
        (
            OK + 'timezone = "Mars/Olympus"\n',
            "field 'timezone': unknown time zone \"Mars/Olympus\"",
        ),
        (
            OK + "timezone = 1\n",
            "field 'timezone': must be a time zone name such as 'UTC' or 'Europe/Paris'",
        ),
        (OK + 'db = ""\n', "field 'db': must be a file path"),
        (OK + 'catch_up = "yes"\n', "field 'catch_up': must be true or false"),
        (OK + "famillies = []\n", "unknown field 'famillies'"),
        ('families = ["qwen"\n', "not valid TOML (Unclosed array (at end of document))"),
    ],
)
def test_a_bad_schedule_stops_the_daemon_with_one_line(
    cli: Cli, tmp_path: Path, text: str, error: str
) -> None:
    write_schedule(tmp_path / "schedules", "a-good-one", OK)
    path = write_schedule(tmp_path / "schedules", "daily", text)
    for command in ("daemon", "status"):
        result = cli(command, "--schedules", str(tmp_path / "schedules"), ok=False)
        assert result.exit_code == 2
        assert result.output == f"Error: {path}: {error}\n"
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_a_missing_or_empty_schedules_folder(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = cli("daemon", "--schedules", str(missing), ok=False)
    assert (result.exit_code, result.output) == (
        2,
        f"Error: {missing}: no such schedules folder (pass --schedules DIR)\n",
    )
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "crontab").write_text("# not a schedule\n")
    result = cli("daemon", "--schedules", str(tmp_path / "empty"), ok=False)
    assert (result.exit_code, result.output) == (
        2,
        f"Error: {tmp_path / 'empty'}: no schedule files (*.toml)\n",
    )


@pytest.mark.parametrize(
    ("cron", "after", "expected"),
    [
        # crontab weekdays: 0 and 7 are Sunday, 1 is Monday (APScheduler 3 alone says Tuesday)
        ("0 9 * * 1", "2026-01-01T00:00:00", "2026-01-05T09:00:00"),  # 2026-01-01 is a Thursday
        ("0 9 * * 0", "2026-01-01T00:00:00", "2026-01-04T09:00:00"),
        ("0 9 * * 7", "2026-01-01T00:00:00", "2026-01-04T09:00:00"),
        ("0 9 * * 1-5", "2026-01-02T10:00:00", "2026-01-05T09:00:00"),
        ("0 9 * * 5-0", "2026-01-03T10:00:00", "2026-01-04T09:00:00"),
        ("0 9 * * sat", "2026-01-01T00:00:00", "2026-01-03T09:00:00"),
        ("*/15 * * * *", "2026-01-01T00:07:00", "2026-01-01T00:15:00"),
        ("0 0 1 * *", "2026-01-01T00:00:00", "2026-02-01T00:00:00"),
    ],
)
def test_cron_run_times(tmp_path: Path, cron: str, after: str, expected: str) -> None:
    s = load_schedule(write_schedule(tmp_path, "x", f'families = ["qwen"]\ncron = "{cron}"\n'))
    assert s.next_fire(datetime.fromisoformat(after)) == datetime.fromisoformat(expected)


def test_cron_in_a_time_zone_follows_daylight_saving(tmp_path: Path) -> None:
    s = load_schedule(
        write_schedule(
            tmp_path, "x", 'families = ["qwen"]\ncron = "30 3 * * *"\ntimezone = "Europe/Paris"\n'
        )
    )
    assert s.describe() == "cron 30 3 * * * Europe/Paris"
    assert s.next_fire(datetime(2026, 1, 1)) == datetime(2026, 1, 1, 2, 30)  # UTC+1
    assert s.next_fire(datetime(2026, 7, 1)) == datetime(2026, 7, 1, 1, 30)  # UTC+2


@pytest.mark.parametrize(
    ("interval", "after", "expected"),
    [
        ("6h", "2026-01-01T07:00:00", "2026-01-01T12:00:00"),
        ("6h", "2026-01-01T12:00:00", "2026-01-01T18:00:00"),
        ("1d", "2026-01-01T07:00:00", "2026-01-02T00:00:00"),
        ("1s", "2026-01-01T07:00:00.250000", "2026-01-01T07:00:01"),
        ("0.5s", "2026-01-01T07:00:00.250000", "2026-01-01T07:00:00.500000"),
    ],
)
def test_interval_run_times_are_a_fixed_grid(
    tmp_path: Path, interval: str, after: str, expected: str
) -> None:
    s = load_schedule(
        write_schedule(tmp_path, "x", f'families = ["qwen"]\ninterval = "{interval}"\n')
    )
    assert s.next_fire(datetime.fromisoformat(after)) == datetime.fromisoformat(expected)


@pytest.mark.parametrize(
    ("text", "seconds", "shown"),
    [
        (5, 5.0, "5s"),
        ("90s", 90.0, "1m30s"),
        ("15m", 900.0, "15m"),
        ("1h30m", 5400.0, "1h30m"),
        ("2.5h", 9000.0, "2h30m"),
        ("1d", 86400.0, "1d"),
        ("0.2s", 0.2, "0.2s"),
        (" 6H ", 21600.0, "6h"),
    ],
)
def test_durations(text: object, seconds: float, shown: str) -> None:
    assert parse_duration(text) == seconds
    assert format_duration(seconds) == shown
