"""Dates and durations as people write them: the clock (`COLLECTOR_NOW`), date options
(`2026-01-13`, `2026-01`, `last-month`, `this-month`, `30d`, `today`) and durations shown to them."""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime, timedelta

from collector.errors import UsageError

NOW_ENV = "COLLECTOR_NOW"
_DAYS_RE = re.compile(r"^(\d{1,5})d$")
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def _month_end(year: int, month: int) -> date:
    first_next = date(year + (month == 12), month % 12 + 1, 1)
    return first_next - timedelta(days=1)


def parse_range_bound(text: str, *, end: bool, today: date) -> date:
    """One bound of a range; a month means its first day as a start, its last as an end."""
    value = text.strip().lower()
    if value == "today":
        return today
    if value in ("this-month", "last-month"):
        year, month = today.year, today.month
        if value == "last-month":
            year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        return _month_end(year, month) if end else date(year, month, 1)
    m = _DAYS_RE.match(value)
    if m:
        return today - timedelta(days=int(m.group(1)))
    m = _MONTH_RE.match(value)
    if m:
        year, month = int(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12:
            raise UsageError(f"bad date {text!r}: month must be 01-12")
        return _month_end(year, month) if end else date(year, month, 1)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"bad date {text!r}; use YYYY-MM-DD, YYYY-MM, this-month, last-month, today or Nd"
        ) from None


def parse_range(
    since: str | None, until: str | None, *, today: date
) -> tuple[date | None, date | None]:
    """A (since, until) pair; `this-month`/`last-month`/`YYYY-MM` as --since cover the month."""
    start = parse_range_bound(since, end=False, today=today) if since else None
    stop = parse_range_bound(until, end=True, today=today) if until else None
    if since and not until and since.strip().lower() in ("last-month",):
        stop = parse_range_bound(since, end=True, today=today)
    if start and stop and start > stop:
        raise UsageError(f"--since {start.isoformat()} is after --until {stop.isoformat()}")
    return start, stop


def now_utc() -> datetime:
    """The snapshot clock: $COLLECTOR_NOW (ISO 8601, for tests and backfills) or the time."""
    fixed = os.environ.get(NOW_ENV)
    if fixed:
        try:
            value = datetime.fromisoformat(fixed.replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(f"{NOW_ENV}={fixed!r} is not an ISO 8601 date-time") from None
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None)
    return datetime.now(UTC).replace(tzinfo=None)


def today() -> date:
    """Today on the snapshot clock, so that `30d` means the same in tests and backfills."""
    return now_utc().date()


def format_duration(seconds: float, *, about: bool = False) -> str:
    """A duration as configured, `1d`, `6h`, `1h30m`, `90s` (the inverse of
    schedules.parse_duration for whole seconds); with `about`, an estimate rounded for
    reading: `45 s`, `25 min`, `1.5 h`."""
    if about:
        whole = round(seconds)
        if whole < 90:
            return f"{whole} s"
        if whole < 90 * 60:
            return f"{int(whole / 60 + 0.5)} min"
        return f"{whole / 3600:.1f} h"
    if seconds != int(seconds):
        return f"{seconds:g}s"
    rest, parts = int(seconds), []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(parts)
