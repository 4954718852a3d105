"""Claim sheets: a TOML list of published claims, each checked in every scope.

    title = "Qwen adoption claims"          # optional
    [[claims]]
    text = "700M downloads"                 # the claim as published
    family = "qwen"                         # optional (default: the --family option)
    date = "2026-01"                        # optional: when it was said to hold
    published = "Xinhua, 2026-01-13"        # where it was published
    url = "https://..."                     # optional
    scope_stated = "on Hugging Face"        # optional: the scope in the claim's own words

`date` takes the forms a claim's text does ("2026-01", "December 2025", "early 2026",
"2025-12-12"), read as "as of" that date; a claim whose text carries a date needs none.
A bad file is refused whole, with one line naming the claim and the field.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from collector.errors import UsageError
from collector.reports import claims
from collector.reports.claim_text import Claim, parse_claim, split_date

_FIELDS = {"text", "family", "date", "published", "url", "scope_stated"}


@dataclass(frozen=True)
class SheetClaim:
    """One entry of a claim sheet, parsed."""

    text: str  # as written in the sheet
    claim: Claim  # with the sheet's date, when it gives one
    family: str
    published: str
    url: str | None
    scope_stated: str | None


def load(path: str | Path, default_family: str, today: date) -> tuple[str, list[SheetClaim]]:
    """The sheet's title and its claims; UsageError (one line) for any bad entry."""
    src = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"{src}: cannot read claim sheet ({getattr(exc, 'strerror', exc)})"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{src}: not valid TOML ({exc})") from None
    entries = data.get("claims")
    if not isinstance(entries, list) or not entries:
        raise UsageError(f"{src}: no [[claims]] entries found")
    title = data.get("title", f"Claims in {Path(path).name}")
    if not isinstance(title, str):
        raise UsageError(f"{src}: title must be a string")
    return title, [_entry(src, i, e, default_family, today) for i, e in enumerate(entries, 1)]


def _entry(src: str, i: int, entry: Any, default_family: str, today: date) -> SheetClaim:
    where = f"{src}: claim {i}"
    if not isinstance(entry, dict):
        raise UsageError(f"{where}: must be a table with text = ...")
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise UsageError(
            f"{where}: unknown field {unknown[0]!r} (fields: {', '.join(sorted(_FIELDS))})"
        )
    for key in _FIELDS & set(entry):
        if not isinstance(entry[key], str) or not entry[key].strip():
            raise UsageError(f"{where}: {key} must be a non-empty string")
    if "text" not in entry:
        raise UsageError(f"{where}: text is missing")
    family = entry.get("family", default_family).lower()
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", family):
        raise UsageError(f"{where}: family {family!r} is not a family name")
    text = entry["text"]
    if "date" in entry:
        if split_date(text, today)[1] is not None:
            raise UsageError(f"{where}: the text already has a date; drop date = ...")
        if split_date(f"x as of {entry['date']}", today)[1] is None:
            raise UsageError(
                f"{where}: date {entry['date']!r} is not a date collector reads "
                "(e.g. 2026-01-13, 2026-01, December 2025, early 2026)"
            )
        text = f"{text} as of {entry['date']}"
    try:
        claim = parse_claim(text, today)
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None
    return SheetClaim(
        entry["text"],
        claim,
        claim.subject or family,
        entry.get("published", ""),
        entry.get("url"),
        entry.get("scope_stated"),
    )


def check(
    con: duckdb.DuckDBPyConnection, sheet: list[SheetClaim], scope: str | None = None
) -> list[dict[str, Any]]:
    """Every claim of the sheet verified (claims.verify), with where it was published."""
    return [
        {
            "text": s.text,
            "date": s.claim.when.text if s.claim.when else None,
            "family": s.family,
            "published": s.published,
            "url": s.url,
            "scope_stated": s.scope_stated,
            "result": claims.verify(con, s.claim, s.family, None, scope),
        }
        for s in sheet
    ]
