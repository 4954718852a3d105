"""Claims as people write them, parsed: a threshold, a lead, or a growth, and its date.

The forms understood are listed in MEASURABLE (and the README); anything else is refused
with a UsageError naming them, never guessed at. A date inside a claim ("by December
2025", "as of 2026-01", "by early 2026", "in October 2025", "since 2025-12-01") becomes a
ClaimDate: the range of days the words cover and the day the claim is checked at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from collector.errors import UsageError

MEASURABLE = (
    "downloads (all-time), monthly downloads (last 30 days), derivatives, models, likes; "
    'e.g. "700M+ downloads", "50M monthly downloads", "180,000 derivatives", "400 models", '
    '"qwen passed llama" (in downloads); dated: "600M downloads by December 2025", '
    '"as of 2026-01", "by early 2026", "in October 2025", "since 2025-12-01"; growth over a '
    'period: "grew 50% in 2025", "doubled since June", "added 150M downloads in February 2026"'
)
_SCALE = {
    "k": 10**3,
    "thousand": 10**3,
    "m": 10**6,
    "mn": 10**6,
    "million": 10**6,
    "millions": 10**6,
    "b": 10**9,
    "bn": 10**9,
    "billion": 10**9,
    "billions": 10**9,
}
_LEAD = (
    r"(?:(?:over|more\s+than|above|at\s+least|passed|surpassed|exceeds?|exceeded|reached|hit"
    r"|>=?|~|about|nearly|almost)\s*)?"
)
_NUMBER = r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
_UNIT = r"\s*(?P<unit>k|m|mn|b|bn|thousand|millions?|billions?)?\b"
_METRICS = [
    (
        r"monthly\s+downloads|downloads\s+(?:per|a|/)\s*month|downloads\s+in\s+the\s+last\s+30"
        r"\s+days|30[- ]day\s+downloads",
        "downloads_30d",
    ),
    (r"(?:total\s+|all[- ]time\s+|cumulative\s+)?(?:model\s+)?downloads", "downloads_all_time"),
    (
        r"derivatives?(?:\s+models?)?|derivative\s+(?:models?|repos?)|derived\s+models?",
        "derivatives",
    ),
    (r"(?:official\s+)?(?:models?|repos?|checkpoints?)", "models"),
    (r"likes?", "likes"),
]
_CLAIM_RE = re.compile(
    rf"^\s*{_LEAD}{_NUMBER}{_UNIT}\s*(?P<plus>\+)?\s*(?P<metric>.+?)\s*$", re.IGNORECASE
)
_FAMILY = r"[a-z0-9][a-z0-9_-]*"
_VERSUS_RE = re.compile(
    rf"^\s*(?:(?P<subject>{_FAMILY})\s+)?(?:has\s+)?"
    r"(?:passed|overtook|overtaken|overtakes|surpassed|surpasses|beats?|outgrew|leads|is\s+ahead\s+of)"
    rf"\s+(?P<versus>{_FAMILY})(?:\s+in\s+(?P<metric>.+?))?\s*$",
    re.IGNORECASE,
)
# Verbs of increase: a claim using one is a growth claim, checked or refused, never read
# as a threshold.
_GROWTH_WORDS = re.compile(
    r"\b(?:grew|grow|grown|grows|growth|rose|risen|increased?|increases|gained|added|doubled"
    r"|tripled|quadrupled|jumped|surged|soared|up\s+\d)",
    re.IGNORECASE,
)
_MULTIPLE = {"doubled": 2.0, "tripled": 3.0, "quadrupled": 4.0}
_GROWTH_RE = re.compile(
    r"^\s*(?:(?P<words>.*?)\s+)?(?:has\s+|have\s+)?"
    r"(?:(?P<times>doubled|tripled|quadrupled)"
    r"|(?:grew|grown|rose|risen|increased|gained|added|jumped|surged|soared)"
    r"(?:\s+by)?\s+(?:(?P<pct>\d+(?:\.\d+)?)\s*%|" + _NUMBER + _UNIT + r"\s*(?P<metric>.*?)))"
    r"\s*$",
    re.IGNORECASE,
)

_MONTHS = {
    name: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for name in names
}
_MONTH = "(?:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
# early/mid/late YEAR are taken to mean these thirds of the year (stated in every answer)
PARTS = {"early": (1, 4), "mid": (5, 8), "late": (9, 12)}
_WHEN = (
    r"(?P<when>\d{4}-\d{2}-\d{2}|\d{4}-\d{2}|(?:early|mid|late)[-\s]+\d{4}"
    rf"|\d{{1,2}}\s+{_MONTH}\s+\d{{4}}|{_MONTH}(?:\s+\d{{1,2}},?)?(?:\s+\d{{4}})?|\d{{4}})"
)
_DATE_RE = re.compile(
    r"^(?P<rest>.*?)[\s,]+(?P<word>by|as\s+of|in|since|on|at|until|through)\s+"
    r"(?:(?:the\s+)?end\s+of\s+)?" + _WHEN + r"\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ClaimDate:
    """The date inside a claim: the days its words cover and the day it is checked at."""

    text: str  # as written: "by December 2025"
    word: str  # by | as of | in | since | on | at | until | through
    start: date
    end: date
    meaning: str | None = None  # how a loose date was read: "early 2026 = 2026-01-01..04-30"

    @property
    def at(self) -> date:
        """`since` checks the start of the range; every other word its end."""
        return self.start if self.word == "since" else self.end


@dataclass(frozen=True)
class Claim:
    """A parsed claim: metric >= threshold, A ahead of B, or growth over a period."""

    text: str
    metric: str
    threshold: int
    versus: str | None = None  # "A passed B": the family B to be ahead of
    subject: str | None = None  # the family A, when the claim names it
    when: ClaimDate | None = None
    factor: float | None = None  # growth: end >= factor x start ("grew 50%": 1.5)
    amount: int | None = None  # growth: end - start >= amount ("added 150M downloads")

    @property
    def kind(self) -> str:
        if self.versus is not None:
            return "versus"
        if self.factor is not None or self.amount is not None:
            return "growth"
        return "threshold"


def _month_end(year: int, month: int) -> date:
    return date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)


def parse_date(word: str, when: str, today: date) -> ClaimDate:
    """The range of days a date phrase covers; a month without a year is the latest one."""
    word = " ".join(word.lower().split())
    raw = " ".join(when.split())
    value = raw.lower().replace(".", "").replace(",", "")
    text = f"{word} {raw}"
    meaning = None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            start = end = date.fromisoformat(value)
        elif re.fullmatch(r"\d{4}-\d{2}", value):
            year, month = int(value[:4]), int(value[5:])
            start, end = date(year, month, 1), _month_end(year, month)
        elif re.fullmatch(r"\d{4}", value):
            start, end = date(int(value), 1, 1), date(int(value), 12, 31)
        elif m := re.fullmatch(r"(early|mid|late)[-\s]+(\d{4})", value):
            first, last = PARTS[m.group(1)]
            year = int(m.group(2))
            start, end = date(year, first, 1), _month_end(year, last)
            meaning = f"{m.group(1)} {year} taken as {start.isoformat()}..{end.isoformat()}"
        else:
            parts = value.split()
            if parts[0].isdigit():  # 12 december 2025
                parts = [parts[1], parts[0], parts[2]]
            month = _MONTHS[parts[0]]
            nums = [int(p) for p in parts[1:]]
            day = next((n for n in nums if n <= 31), None)
            stated = next((n for n in nums if n > 31), None)
            year = stated or (today.year if date(today.year, month, 1) <= today else today.year - 1)
            if stated is None:  # "since June": the latest June that has begun
                meaning = f"{raw} taken as {year}"
            if day is not None:
                start = end = date(year, month, day)
            else:
                start, end = date(year, month, 1), _month_end(year, month)
    except ValueError:
        raise UsageError(f"claim date {text!r} is not a calendar date") from None
    return ClaimDate(text, word, start, end, meaning)


def split_date(text: str, today: date) -> tuple[str, ClaimDate | None]:
    """The claim without its trailing date phrase, and that date (None when undated)."""
    m = _DATE_RE.match(text)
    if not m:
        return text, None
    return m.group("rest").rstrip(" ,"), parse_date(m.group("word"), m.group("when"), today)


def _metric(words: str, text: str) -> str:
    words = " ".join(words.lower().split())
    for pattern, metric in _METRICS:
        if re.fullmatch(pattern, words):
            return metric
    what = (
        f"the Hub does not measure {words!r}"
        if words.strip("+ ")
        else "it names no measure (downloads, derivatives, models, likes)"
    )
    raise UsageError(f"claim {text!r}: {what}; claims that can be verified: {MEASURABLE}")


def _number(num: str, unit: str | None, text: str) -> int:
    value = float(num.replace(",", "")) * _SCALE.get((unit or "").lower(), 1)
    if value != int(value) or value <= 0 or value >= 2**62:
        raise UsageError(f"claim {text!r}: threshold must be a positive whole number")
    return int(value)


def parse_claim(text: str, today: date | None = None) -> Claim:
    """Parse a claim, or raise UsageError saying what can be verified."""
    original = " ".join((text or "").split())
    body, when = split_date(original, today or date.today())
    if _GROWTH_WORDS.search(body):
        return _parse_growth(original, body, when)
    m = _CLAIM_RE.match(body)
    if not m:
        return _parse_versus(original, body, when)
    threshold = _number(m.group("num"), m.group("unit"), original)
    return Claim(original, _metric(m.group("metric"), original), threshold, when=when)


def _parse_versus(text: str, body: str, when: ClaimDate | None) -> Claim:
    m = _VERSUS_RE.match(body)
    if not m:
        raise UsageError(f"cannot parse claim {text!r}; claims that can be verified: {MEASURABLE}")
    metric = _metric(m.group("metric"), text) if m.group("metric") else "downloads_all_time"
    subject = m.group("subject").lower() if m.group("subject") else None
    if subject in ("has", "it"):
        subject = None
    return Claim(text, metric, 0, m.group("versus").lower(), subject, when)


def _parse_growth(text: str, body: str, when: ClaimDate | None) -> Claim:
    refuse = (
        f"claim {text!r}: cannot check this increase; claims that can be verified: {MEASURABLE}"
    )
    m = _GROWTH_RE.match(body)
    if not m:
        raise UsageError(refuse)
    if when is None or when.word not in ("in", "since"):
        raise UsageError(
            f"claim {text!r}: an increase needs its period, e.g. 'in 2025', 'in October 2025' "
            f"or 'since 2025-06-01'; claims that can be verified: {MEASURABLE}"
        )
    words = (m.group("words") or "").strip()
    subject = None
    metric_words = m.group("metric") or ""
    lead = words.split()
    if lead and re.fullmatch(_FAMILY, lead[0], re.IGNORECASE):
        # "qwen downloads grew 50%": the first word is the family unless it is the metric
        try:
            _metric(" ".join(lead), text)
        except UsageError:
            subject, lead = lead[0].lower(), lead[1:]
    if lead:
        if metric_words:
            raise UsageError(refuse)
        metric_words = " ".join(lead)
    metric = _metric(metric_words, text) if metric_words else "downloads_all_time"
    if m.group("times"):
        return Claim(text, metric, 0, None, subject, when, factor=_MULTIPLE[m.group("times")])
    if m.group("pct"):
        pct = float(m.group("pct"))
        if pct <= 0:
            raise UsageError(refuse)
        return Claim(text, metric, 0, None, subject, when, factor=1 + pct / 100)
    amount = _number(m.group("num"), m.group("unit"), text)
    return Claim(text, metric, 0, None, subject, when, amount=amount)
