"""Schedules: one TOML file per scheduled snapshot job, all validated before the daemon starts.

A schedule file, `schedules/NAME.toml` (NAME is the job's name in logs and `status`):

    families = ["qwen"]        # required: the families to snapshot, in this order
    cron = "30 3 * * *"        # crontab: minute hour day-of-month month day-of-week (0/7 = Sunday)
    # interval = "6h"          # or instead of cron: every N seconds/minutes/hours/days (s, m, h, d)
    timezone = "UTC"           # IANA time zone of the cron fields (default UTC)
    timeout = "2h"             # a run still fetching after this stops and is recorded as failed
    # db = "warehouse.duckdb"  # default: the daemon's --db, $COLLECTOR_DB, ./warehouse.duckdb
                               # (a relative path is relative to the daemon's working directory)
    # misfire_grace = "12h"    # skip a run that would start later than this (default: never skip)
    # catch_up = true          # at start, run at once if a run was missed while the daemon was down
    # site = "site"            # rebuild this static site folder (`collector site`) after each
                               # run that stored a snapshot
    # backup = {dir = "backups", keep = 7}  # after each run, back up the warehouse there and
                               # keep the newest `keep` backups (default 7); see store/backup.py

Interval schedules run on a fixed grid counted from 2000-01-01 00:00 in their time zone
(`interval = "6h"` runs at 00:00, 06:00, 12:00 and 18:00), so the next run is known without
asking the daemon when it started. Durations are a number of seconds or text such as `90s`,
`15m`, `1h30m`, `1d`; sub-minute intervals are allowed.

The file format is a public contract: keys are added, never renamed.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from collector.errors import UsageError
from collector.families import load_families

SCHEDULES_ENV = "COLLECTOR_SCHEDULES"
DEFAULT_SCHEDULES = "schedules"
DEFAULT_TIMEOUT = 6 * 3600.0
GRID_ORIGIN = datetime(2000, 1, 1)
NEVER = datetime.min  # "no successful snapshot yet", where a missed run time is expected
_KNOWN_KEYS = {
    "families",
    "cron",
    "interval",
    "timezone",
    "timeout",
    "db",
    "misfire_grace",
    "catch_up",
    "site",
    "backup",
}
_DURATION_RE = re.compile(
    r"^(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?"
    r"(?:(\d+(?:\.\d+)?)s)?$"
)
_NOT_A_DURATION = "not a duration"
_DOW_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True)
class BackupSpec:
    """Where a schedule backs up its warehouse after each run, and how many to keep."""

    dir: Path
    keep: int = 7


@dataclass(frozen=True)
class Schedule:
    """One scheduled job, as read from its file."""

    name: str
    path: Path
    families: tuple[str, ...]
    cron: str | None
    interval: float | None  # seconds
    timezone: str
    timeout: float  # seconds
    db: Path | None
    misfire_grace: float | None  # seconds; None: a late run always starts
    catch_up: bool
    site: Path | None = None  # the static site to rebuild after a run that stored a snapshot
    backup: BackupSpec | None = None

    def trigger(self) -> BaseTrigger:
        """The APScheduler trigger of this schedule (the daemon and `status` share it)."""
        tz = ZoneInfo(self.timezone)
        if self.cron is not None:
            return _cron_trigger(self.cron, tz)
        assert self.interval is not None
        return IntervalTrigger(seconds=self.interval, start_date=GRID_ORIGIN, timezone=tz)

    def next_fire(self, after: datetime) -> datetime:
        """The first run time strictly after `after` (naive UTC in, naive UTC out)."""
        moment = after.replace(tzinfo=UTC) + timedelta(microseconds=1)
        fire = self.trigger().get_next_fire_time(None, moment)
        assert fire is not None  # our triggers have no end date
        return fire.astimezone(UTC).replace(tzinfo=None)

    def missed(self, newest: list[datetime | None], now: datetime) -> datetime | None:
        """The run time missed by `now`, given each family's newest successful snapshot.

        Naive UTC in and out: the first run time after the oldest of `newest` when it is
        already past, NEVER when a family has no successful snapshot, else None.
        """
        if any(t is None for t in newest):
            return NEVER
        due = self.next_fire(min(t for t in newest if t is not None))
        return due if due <= now else None

    def describe(self) -> str:
        """The trigger in words, e.g. `cron 30 3 * * * UTC` or `every 6h`."""
        if self.cron is not None:
            return f"cron {self.cron} {self.timezone}"
        assert self.interval is not None
        return f"every {format_duration(self.interval)}"


def schedules_dir(path: str | Path | None = None) -> Path:
    """The schedules folder in force: an explicit path, else ./schedules."""
    return Path(path or DEFAULT_SCHEDULES)


def load_schedules(
    directory: str | Path | None = None, families_file: str | Path | None = None
) -> list[Schedule]:
    """Every `*.toml` in the folder, validated (families checked against the families file).

    Any problem raises a UsageError naming the file and the field.
    """
    folder = schedules_dir(directory)
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such schedules folder (pass --schedules DIR)")
    files = sorted(folder.glob("*.toml"))
    if not files:
        raise UsageError(f"{folder}: no schedule files (*.toml)")
    known = load_families(families_file)
    schedules = [load_schedule(f) for f in files]
    for s in schedules:
        for name in s.families:
            if name not in known:
                raise UsageError(
                    f"{s.path}: field 'families': unknown family {_toml(name)}; "
                    f"known: {', '.join(sorted(known))}"
                )
    return schedules


def load_schedule(path: Path) -> Schedule:
    """Read and validate one schedule file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: cannot read schedule ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None

    def bad(key: str, why: str) -> UsageError:
        return UsageError(f"{path}: field {key!r}: {why}")

    unknown = sorted(set(data) - _KNOWN_KEYS)
    if unknown:
        raise UsageError(f"{path}: unknown field {unknown[0]!r}")
    families = data.get("families")
    if families is None:
        raise bad("families", "required: a list of family names")
    if (
        not isinstance(families, list)
        or not families
        or not all(isinstance(f, str) and f.strip() for f in families)
    ):
        raise bad("families", "must be a non-empty list of family names")
    if len(set(families)) != len(families):
        raise bad("families", "lists a family twice")
    timezone = data.get("timezone", "UTC")
    if not isinstance(timezone, str):
        raise bad("timezone", "must be a time zone name such as 'UTC' or 'Europe/Paris'")
    try:
        tz = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise bad("timezone", f"unknown time zone {_toml(timezone)}") from None
    cron, interval = data.get("cron"), data.get("interval")
    if (cron is None) == (interval is None):
        raise bad("cron", "give exactly one of 'cron' or 'interval'")
    if cron is not None:
        if not isinstance(cron, str):
            raise bad("cron", "must be a crontab expression such as '30 3 * * *'")
        try:
            _cron_trigger(cron, tz)
        except ValueError as exc:
            raise bad("cron", f"{_toml(cron)} is not a crontab expression ({exc})") from None
    else:
        interval = _duration(bad, "interval", interval)
    timeout = _duration(bad, "timeout", data.get("timeout", DEFAULT_TIMEOUT))
    grace = data.get("misfire_grace")
    if grace is not None:
        grace = _duration(bad, "misfire_grace", grace)
    db = data.get("db")
    if db is not None and (not isinstance(db, str) or not db.strip()):
        raise bad("db", "must be a file path")
    catch_up = data.get("catch_up", True)
    if not isinstance(catch_up, bool):
        raise bad("catch_up", "must be true or false")
    site = data.get("site")
    if site is not None and (not isinstance(site, str) or not site.strip()):
        raise bad("site", "must be a folder path")
    return Schedule(
        backup=_backup(bad, data.get("backup")),
        name=path.stem,
        path=path,
        families=tuple(f.strip() for f in families),
        cron=" ".join(cron.split()) if cron is not None else None,
        interval=interval,
        timezone=timezone,
        timeout=timeout,
        db=Path(db) if db else None,
        misfire_grace=grace,
        catch_up=catch_up,
        site=Path(site) if site else None,
    )


def _backup(bad: Callable[[str, str], UsageError], value: object) -> BackupSpec | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad("backup", 'must be a table such as {dir = "backups", keep = 7}')
    unknown = sorted(set(value) - {"dir", "keep"})
    if unknown:
        raise bad("backup", f"unknown key {unknown[0]!r} (known: dir, keep)")
    folder, keep = value.get("dir"), value.get("keep", 7)
    if not isinstance(folder, str) or not folder.strip():
        raise bad("backup", "'dir' must be a folder path")
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise bad("backup", f"'keep' must be a whole number of at least 1, not {_toml(keep)}")
    return BackupSpec(Path(folder), keep)


def parse_duration(value: object) -> float:
    """Seconds from a number or text like `90s`, `15m`, `1h30m`, `1d`; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(_NOT_A_DURATION)
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip().lower().replace(" ", "")
        if re.fullmatch(r"\d+(\.\d+)?", text):
            seconds = float(text)
        else:
            m = _DURATION_RE.match(text)
            if not m or not any(m.groups()):
                raise ValueError(_NOT_A_DURATION)
            d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
            seconds = d * 86400 + h * 3600 + mi * 60 + s
    else:
        raise ValueError(_NOT_A_DURATION)
    if not seconds > 0:
        raise ValueError("must be more than 0 seconds")
    return seconds


def format_duration(seconds: float) -> str:
    """`1d`, `6h`, `1h30m`, `90s` ... the inverse of parse_duration for whole seconds."""
    if seconds != int(seconds):
        return f"{seconds:g}s"
    rest, parts = int(seconds), []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(parts)


def _duration(bad: Callable[[str, str], UsageError], key: str, value: object) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        if str(exc) != _NOT_A_DURATION:
            raise bad(key, f"{_toml(value)} {exc}") from None
        raise bad(
            key,
            f"{_toml(value)} is not a duration; use seconds or text such as "
            '"90s", "15m", "6h", "1d"',
        ) from None


def _toml(value: object) -> str:
    """A value as it looks in the TOML file (users read `true`, not Python's `True`)."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except TypeError:
        return repr(value)


def _cron_trigger(expr: str, tz: ZoneInfo) -> CronTrigger:
    """A crontab expression as an APScheduler trigger, with crontab's day-of-week numbers.

    APScheduler 3 numbers weekdays from Monday = 0; crontab from Sunday = 0 (7 too). We
    rewrite the day-of-week field as day names so that `* * * * 1` means Monday, as in cron.
    """
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"{len(fields)} fields, expected 5: minute hour day month day-of-week")
    minute, hour, day, month, dow = fields
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=_crontab_weekdays(dow),
        timezone=tz,
    )


def _crontab_weekdays(field: str) -> str:
    """A crontab day-of-week field as a list of day names (`1-5` -> `mon,tue,wed,thu,fri`)."""
    if field == "*":
        return "*"
    days: set[int] = set()
    for part in field.lower().split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else None
        if step_text and step is None:
            raise ValueError(f"bad step in day-of-week {field!r}")
        if span == "*":
            first, last = 0, 6
        else:
            lo, _, hi = span.partition("-")
            first = _weekday(lo, field)
            last = _weekday(hi, field) if hi else (6 if step else first)
            if hi and last == 0 and first > 0:
                last = 7  # `5-0` / `5-7`: Friday to Sunday
        days.update(d % 7 for d in range(first, last + 1, step or 1))
    if not days:
        raise ValueError(f"day-of-week {field!r} selects no day")
    return ",".join(_DOW_NAMES[d] for d in sorted(days))


def _weekday(token: str, field: str) -> int:
    if token.isdigit() and 0 <= int(token) <= 7:
        return int(token)
    if token[:3] in _DOW_NAMES and len(token) == 3:
        return _DOW_NAMES.index(token)
    raise ValueError(f"bad day of week {token!r} in {field!r}")
